"""What happened to the units of one crossing × class, as arrays.

Both engines produce these arrays, in the same order, so that everything computed
from them (metrics, costs, time series) is the same number whichever engine ran:

- one *visit* per stay in a queue, recorded when the unit leaves that queue (service
  starts, it reneges, or the run ends): ``q_join``, ``q_leave`` (hours), ``q_unit`` (the
  unit's index in its group's attributes), ``q_wait0`` (hours it had waited before);
- one *outcome* per unit, recorded when it leaves the crossing (or the run ends):
  ``out_unit``, ``out_wait`` (hours queued in all), ``out_exit`` (hours; NaN when still
  there at the end), ``out_code`` (:class:`Outcome`), ``out_travel`` (hours driven to
  another crossing, 0 for units that stayed).

The event engine appends to ``array.array`` buffers as events happen and hands them
over without copying (:meth:`Recorder.records`).
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass
from enum import IntEnum

import numpy as np

__all__ = ["Outcome", "Records", "Recorder"]


class Outcome(IntEnum):
    CROSSED = 0
    RENEGED = 1
    BALKED = 2
    DIVERTED = 3
    WAITING_AT_END = 4
    IN_SERVICE_AT_END = 5


@dataclass(frozen=True)
class Records:
    q_join: np.ndarray
    q_leave: np.ndarray
    q_unit: np.ndarray
    q_wait0: np.ndarray
    out_unit: np.ndarray
    out_wait: np.ndarray
    out_exit: np.ndarray
    out_code: np.ndarray
    out_travel: np.ndarray


def _view(buf: array, dtype) -> np.ndarray:
    return np.frombuffer(buf, dtype=dtype) if len(buf) else np.empty(0, dtype=dtype)


class Recorder:
    """Buffers the event engine appends to; ``records()`` views them as numpy arrays."""

    __slots__ = ("q_join", "q_leave", "q_unit", "q_wait0", "out_unit", "out_wait",
                 "out_exit", "out_code", "travel_at", "travel_h")

    def __init__(self):
        self.q_join, self.q_leave = array("d"), array("d")
        self.q_unit, self.q_wait0 = array("q"), array("d")
        self.out_unit, self.out_wait = array("q"), array("d")
        self.out_exit, self.out_code = array("d"), array("b")
        self.travel_at: list[int] = []    # outcome positions of diverted units ...
        self.travel_h: list[float] = []   # ... and the hours they drove

    def records(self) -> Records:
        travel = np.zeros(len(self.out_code))
        if self.travel_at:
            travel[np.asarray(self.travel_at, dtype=np.int64)] = self.travel_h
        return Records(_view(self.q_join, float), _view(self.q_leave, float),
                       _view(self.q_unit, np.int64), _view(self.q_wait0, float),
                       _view(self.out_unit, np.int64), _view(self.out_wait, float),
                       _view(self.out_exit, float), _view(self.out_code, np.int8), travel)
