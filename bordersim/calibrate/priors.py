"""Priors of the estimated parameters: which scenario value, over what range, and why.

A prior is uniform over ``lo..hi`` (``--vary PATH=lo..hi``, as for a Latin-hypercube
sweep), or log-uniform when a spec file says ``scale: log``. Durations are in
hours and dates become hours since the scenario's start while sampling; whole-number
ends mean a whole-number parameter (booths), which the sampler treats as continuous
and which is rounded when it is put into the scenario.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bordersim.loading import ScenarioError, apply_override, scenario_from_dict
from bordersim.sweep import Factor, parse_vary

__all__ = ["Prior", "prior_from_vary", "prior_from_spec", "apply_parameters", "SCALES"]

SCALES = ("linear", "log")


@dataclass(frozen=True)
class Prior:
    path: str                 # dotted scenario path, as in --set
    parts: tuple              # the path split (list indices as ints)
    low: float                # in the sampler's units: numbers, hours, hours since start
    high: float
    scale: str = "linear"
    kind: str = "number"      # number (durations in hours) | integer | time
    source: str = ""          # where the range comes from (a source tag and a sentence)

    @property
    def name(self) -> str:
        """The parameter's name in the inference library: the path, with dots kept."""
        return self.path

    def value(self, x: float, start: datetime) -> Any:
        """The sampled number as the scenario file would write it."""
        if self.kind == "integer":
            return int(round(x))
        if self.kind == "time":
            t = start + timedelta(hours=float(x))
            return t.isoformat(timespec="minutes")
        return float(x)

    def quantile(self, q: float) -> float:
        """The prior's q-quantile (uniform, or uniform in the logarithm)."""
        if self.scale == "log":
            return math.exp(math.log(self.low) + q * (math.log(self.high) - math.log(self.low)))
        return self.low + q * (self.high - self.low)

    def prior_mean(self) -> float:
        if self.scale == "log":
            return (self.high - self.low) / (math.log(self.high) - math.log(self.low))
        return (self.low + self.high) / 2

    def as_dict(self) -> dict:
        return {"path": self.path, "low": self.low, "high": self.high, "scale": self.scale,
                "kind": self.kind, "source": self.source}


def _from_factor(f: Factor, start: datetime, scale: str, source: str, where: str) -> Prior:
    if not f.is_range:
        raise ScenarioError(where, [("", "expected a range lo..hi for a prior, such as "
                                         f"{f.path}=0.5..0.9")])
    lo, hi = f.low, f.high
    if isinstance(lo, datetime):
        kind = "time"
        lo, hi = ((x - start) / timedelta(hours=1) for x in (lo, hi))
    elif isinstance(lo, int) and isinstance(hi, int):
        kind = "integer"
    else:       # numbers, and durations in hours (a bare number is hours in a scenario)
        kind = "number"
    if scale not in SCALES:
        raise ScenarioError(where, [("scale", f"expected one of {', '.join(SCALES)}, "
                                              f"got {scale!r}")])
    if scale == "log" and lo <= 0:
        raise ScenarioError(where, [("", f"a log-uniform prior needs lo > 0, got {lo:g}")])
    return Prior(f.path, f.parts, float(lo), float(hi), scale, kind, source)


def prior_from_vary(text: str, start: datetime) -> Prior:
    """``PATH=lo..hi`` from the command line: a uniform prior."""
    return _from_factor(parse_vary(text), start, "linear", "", f"--vary {text}")


def prior_from_spec(path: str, entry: Any, start: datetime, source: str) -> Prior:
    """One entry of a calibration spec's ``priors``: ``lo..hi`` text, or a mapping with
    ``range`` (text or [lo, hi]), optional ``scale`` and ``source``."""
    where = f"{source}: priors.{path}"
    if isinstance(entry, str):
        return _from_factor(parse_vary(f"{path}={entry}"), start, "linear", "", where)
    if not isinstance(entry, dict):
        raise ScenarioError(where, [("", "expected lo..hi or a mapping with range, scale "
                                         "and source")])
    unknown = set(entry) - {"range", "scale", "source"}
    if unknown:
        raise ScenarioError(where, [(sorted(unknown)[0], "unknown key (expected range, "
                                                          "scale, source)")])
    rng = entry.get("range")
    if isinstance(rng, list) and len(rng) == 2:
        rng = f"{rng[0]}..{rng[1]}"
    if not isinstance(rng, str):
        raise ScenarioError(where, [("range", "expected lo..hi or [lo, hi]")])
    text = entry.get("source", "")
    if not isinstance(text, str):
        raise ScenarioError(where, [("source", "expected text")])
    return _from_factor(parse_vary(f"{path}={rng}"), start, str(entry.get("scale", "linear")),
                        " ".join(text.split()), where)


def apply_parameters(resolved: dict, priors: list[Prior], values: dict[str, float],
                     start: datetime, source: str = "<calibration>") -> dict:
    """A copy of the resolved scenario with each given parameter's value put at its path."""
    data = copy.deepcopy(resolved)
    for p in priors:
        if p.name not in values:
            continue
        x = values[p.name]
        if not math.isfinite(x):
            raise ScenarioError(source, [(p.path, f"the sampled value {x!r} is not a number")])
        apply_override(data, list(p.parts), p.value(x, start), f"{p.path}={x}")
    return data


def check_priors(resolved: dict, priors: list[Prior], start: datetime, source: str) -> None:
    """Every parameter at each end of its range (the others at their midpoints) gives a
    valid scenario, so that a bad range is caught before anything runs."""
    seen = set()
    for p in priors:
        if p.path in seen:
            raise ScenarioError(source, [(p.path, "this path has two priors")])
        seen.add(p.path)
    mid = {p.name: (math.sqrt(p.low * p.high) if p.scale == "log" else (p.low + p.high) / 2)
           for p in priors}
    for p in priors:
        for end in (p.low, p.high):
            values = {**mid, p.name: end}
            try:
                scenario_from_dict(apply_parameters(resolved, priors, values, start, source),
                                   source)
            except ScenarioError as e:
                path, msg = e.problems[0]
                raise ScenarioError(source, [(
                    p.path, f"at the end {p.value(end, start)} of its prior the scenario "
                            f"is not valid: {path}: {msg}")]) from None
