"""How far a simulation is from the observed ranges.

Each observed figure is a range. Inside it the distance is zero; outside, it is
the gap to the nearer end in units of the range's width (for an open range
``>= lo``, or a range of zero width, in units of ``lo``, at least 1). A figure the
simulation leaves undefined (a mean wait on a day when nothing crossed) counts
as one width outside. The distance of a simulation is the mean of the fitted
observations' distances weighted by their confidence tag (R 1, R? 0.5, E 0.25),
so a simulation inside every fitted range is at distance zero.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from bordersim.observations import Observation

__all__ = ["observation_distance", "Distance"]


def observation_distance(value: float, obs: Observation) -> float:
    if value != value:                      # NaN: undefined in this simulation
        return 1.0
    if obs.low <= value <= obs.high:
        return 0.0
    gap = obs.low - value if value < obs.low else value - obs.high
    width = obs.high - obs.low
    scale = width if math.isfinite(width) and width > 0 else max(abs(obs.low), 1.0)
    return gap / scale


class Distance:
    """The weighted distance over the fitted observations (a picklable callable)."""

    def __init__(self, observations: Sequence[Observation], fitted: Sequence[bool]):
        self.observations = list(observations)
        self.fitted = np.asarray(fitted, dtype=bool)
        self.weights = np.array([o.weight for o in observations]) * self.fitted
        if not self.weights.sum() > 0:
            raise ValueError("no observation is fitted")

    def parts(self, figures: np.ndarray) -> np.ndarray:
        return np.array([observation_distance(float(x), o)
                         for x, o in zip(figures, self.observations, strict=True)])

    def __call__(self, figures: np.ndarray) -> float:
        return float((self.parts(figures) * self.weights).sum() / self.weights.sum())
