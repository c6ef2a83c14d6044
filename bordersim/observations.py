"""Observed figures, and the simulated figure at the same time and place.

An observations file is a CSV with the columns
``date,crossing,class,metric,value_low,value_high,source,confidence,note`` and,
optionally, ``until``. A row names

- a time: ``date`` (noon when no time is given); with ``until``, the figure is
  an average over the window from ``date`` to ``until`` (see each metric);
- where: a crossing, names joined with ``+``, or ``all``;
- who: a class, ``all``, ``all_vehicles`` (every class but pedestrians),
  ``cargo`` (classes with a cargo value) or ``persons`` (persons, not units);
- a metric (units in brackets):

  ``waiting_units``     units waiting at that instant [units]; with ``until``,
                        the mean over the hour marks of the window
  ``waiting_km``        the same, as km of queue (units x their ``length_m``) [km]
  ``crossed_per_day``   units crossed during that calendar day [units/day];
                        with ``until``, per day over the calendar days from
                        ``date``'s to ``until``'s, both included
  ``crossed_per_hour``  units crossed during the hour from that time [units/h];
                        with ``until``, per hour over the window
  ``wait_h``            mean hours queued by the units that crossed during that
                        calendar day (or those days) [h]
  ``time_in_system_h``  mean hours from arrival to crossing of those units [h]

- an observed range ``value_low``–``value_high``; an empty ``value_high``
  means no upper bound (a statement such as "still slow": at least so much);
- its ``source``, and a ``confidence`` tag: ``R`` as reported, ``R?`` reported
  with an unclear date or scope, ``E`` an estimate. Calibration weighs an
  observation by its tag (:data:`CONFIDENCE_WEIGHT`).

Figures are computed per replication from the hourly series of every
crossing × class: units waiting at each hour mark, units crossed in each hour,
and the sums of their hours queued and in the system.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from bordersim.distributions import to_datetime
from bordersim.loading import ScenarioError
from bordersim.scenario import ALL, Scenario

__all__ = ["Observation", "read_observations", "METRICS", "GROUPS", "COLUMNS",
           "CONFIDENCE_WEIGHT", "SeriesSet", "figures", "observation_weights",
           "crossings_needed", "last_hour_needed"]

COLUMNS = ("date", "crossing", "class", "metric", "value_low", "value_high", "source",
           "confidence", "note")
OPTIONAL = ("until",)
METRICS = ("waiting_units", "waiting_km", "crossed_per_day", "crossed_per_hour", "wait_h",
           "time_in_system_h")
GROUPS = ("all", "all_vehicles", "cargo", "persons")
#: weight of an observation in a calibration distance, by its confidence tag
CONFIDENCE_WEIGHT = {"R": 1.0, "R?": 0.5, "E": 0.25}
_MOST_ROWS = 10_000


@dataclass(frozen=True)
class Observation:
    row: int                  # line in the file (the header is line 1)
    when: datetime
    until: datetime | None
    crossing: str
    cls: str
    metric: str
    low: float
    high: float               # inf when the file gives no upper bound
    source: str
    confidence: str
    note: str

    @property
    def weight(self) -> float:
        return CONFIDENCE_WEIGHT[self.confidence]

    @property
    def label(self) -> str:
        """A short name: date, crossing, class and metric."""
        when = self.when.strftime("%Y-%m-%d %H:%M").replace(" 12:00", "")
        span = f"..{self.until.strftime('%Y-%m-%d')}" if self.until else ""
        return f"{when}{span} {self.crossing} {self.cls} {self.metric}"

    def range_text(self) -> str:
        if math.isinf(self.high):
            return f">= {self.low:g}"
        return f"{self.low:g}-{self.high:g}"

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high


def _time(raw: str) -> datetime:
    when = to_datetime(raw)
    if "T" not in raw and " " not in raw:
        when += timedelta(hours=12)
    return when


def _number(text: str | None, what: str) -> float | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        x = float(text)
    except ValueError:
        raise ValueError(f"expected a number for {what}, got {text!r}") from None
    if not math.isfinite(x):
        raise ValueError(f"expected a finite number for {what}, got {text!r} (leave "
                         "value_high empty for no upper bound)")
    return x


def read_observations(path: Path) -> list[Observation]:
    """Every row of an observations file, checked; one ScenarioError lists the problems."""
    shown = str(path)
    try:
        with open(path, "rb") as f:
            raw = f.read(4_000_001)
    except FileNotFoundError:
        raise ScenarioError(shown, [("", "observations file not found")]) from None
    except IsADirectoryError:
        raise ScenarioError(shown, [("", "is a folder; expected an observations CSV file")]) \
            from None
    except OSError as e:
        raise ScenarioError(shown, [("", f"cannot read the file: {e.strerror or e}")]) \
            from None
    if len(raw) > 4_000_000:
        raise ScenarioError(shown, [("", "the file is over 4 MB; an observations file holds "
                                         "a row per observed figure")])
    try:
        text = raw.decode("utf-8-sig")     # a spreadsheet's UTF-8 export starts with a BOM
    except UnicodeDecodeError:
        raise ScenarioError(shown, [("", "expected a UTF-8 text file")]) from None
    reader = csv.DictReader(text.splitlines())
    fields = [f.strip() for f in (reader.fieldnames or [])]
    reader.fieldnames = fields
    missing = [c for c in COLUMNS[:6] if c not in fields]
    if missing:
        raise ScenarioError(shown, [("header", f"missing column(s) {', '.join(missing)}; "
                                               f"expected {','.join(COLUMNS)} (and optionally "
                                               f"{','.join(OPTIONAL)})")])
    out, problems = [], []
    for n, rec in enumerate(reader, start=2):
        if n > _MOST_ROWS:
            problems.append(("", f"more than {_MOST_ROWS} rows"))
            break
        where = f"line {n}"
        if None in rec:
            problems.append((where, f"more cells than the {len(fields)} columns of the header"))
            continue
        try:
            when = _time((rec["date"] or "").strip())
        except (ValueError, AttributeError) as e:
            problems.append((f"{where}, date", str(e)))
            continue
        until = None
        if (rec.get("until") or "").strip():
            try:
                until = _time(rec["until"].strip())
            except ValueError as e:
                problems.append((f"{where}, until", str(e)))
                continue
            if until < when:
                problems.append((f"{where}, until", "the window ends before it starts"))
                continue
        metric = (rec["metric"] or "").strip()
        if metric not in METRICS:
            problems.append((f"{where}, metric", f"expected one of {', '.join(METRICS)}, "
                                                 f"got {metric!r}"))
            continue
        try:
            low = _number(rec["value_low"], "value_low")
            high = _number(rec["value_high"], "value_high")
        except ValueError as e:
            problems.append((f"{where}, value_low/value_high", str(e)))
            continue
        if low is None:
            problems.append((f"{where}, value_low", "expected a number"))
            continue
        high = math.inf if high is None else high
        if low > high:
            problems.append((f"{where}, value_low", f"low {low:g} is above high {high:g}"))
            continue
        conf = (rec.get("confidence") or "R").strip() or "R"
        if conf not in CONFIDENCE_WEIGHT:
            problems.append((f"{where}, confidence", f"expected one of "
                                                     f"{', '.join(CONFIDENCE_WEIGHT)}, "
                                                     f"got {conf!r}"))
            continue
        crossing = (rec["crossing"] or "").strip()
        cls = (rec["class"] or "").strip()
        if not crossing or not cls:
            problems.append((f"{where}, {'crossing' if not crossing else 'class'}",
                             "expected a name"))
            continue
        out.append(Observation(n, when, until, crossing, cls, metric, low, high,
                               (rec.get("source") or "").strip(), conf,
                               (rec.get("note") or "").strip()))
    if problems:
        raise ScenarioError(shown, problems)
    return out


@dataclass(frozen=True)
class SeriesSet:
    """Hourly series of each crossing × class over replications: arrays
    [replication, group, hour] named ``queue``, ``crossed``, ``wait_sum``, ``tis_sum``
    (the last two may be absent in folders written by older versions)."""

    scenario: Scenario
    crossings: list[str]
    classes: list[str]
    arrays: dict

    @property
    def n_hours(self) -> int:
        return self.arrays["queue"].shape[2]

    @classmethod
    def from_results(cls, scn: Scenario, results: Sequence) -> SeriesSet:
        """From ReplicationResults in memory (one crossing × class per group, no totals)."""
        keys = [k for k in results[0].queue if ALL not in k]
        arrays = {}
        for name in ("queue", "crossed", "wait_sum", "tis_sum", "held"):
            if all(getattr(r, name) for r in results):
                arrays[name] = np.array([[getattr(r, name)[k] for k in keys] for r in results],
                                        dtype=float)
        return cls(scn, [k[0] for k in keys], [k[1] for k in keys], arrays)


def _where(obs: Observation, shown: str, field: str) -> str:
    return f"line {obs.row}, {field}" if shown else field


def observation_weights(scn: Scenario, crossings: list[str], classes: list[str],
                        obs: Observation, shown: str = "") -> np.ndarray:
    """How much each crossing × class counts toward the observed figure: 1 per unit (km per
    unit for ``waiting_km``), or persons per unit for ``persons``, 0 where it is not part
    of it."""
    names = list(scn.crossings) if obs.crossing == ALL else obs.crossing.split("+")
    for c in names:
        if c not in scn.crossings:
            raise ScenarioError(shown or "observations", [(
                _where(obs, shown, "crossing"),
                f"unknown crossing '{c}' (the scenario has {', '.join(scn.crossings)})")])
    if obs.cls not in scn.classes and obs.cls not in GROUPS:
        raise ScenarioError(shown or "observations", [(
            _where(obs, shown, "class"),
            f"unknown class '{obs.cls}' (expected a class of the scenario or one of "
            f"{', '.join(GROUPS)})")])
    w = np.zeros(len(crossings))
    for j, (c, k) in enumerate(zip(crossings, classes, strict=True)):
        if c not in names:
            continue
        spec = scn.classes[k]
        if obs.cls == k or obs.cls == ALL:
            w[j] = 1.0
        elif obs.cls == "all_vehicles":
            w[j] = 0.0 if k == "pedestrian" else 1.0
        elif obs.cls == "cargo":
            w[j] = 1.0 if spec.cargo_value is not None else 0.0
        elif obs.cls == "persons":
            w[j] = spec.persons
        if obs.metric == "waiting_km":
            w[j] *= spec.length_m / 1000.0
    return w


def _hours(scn: Scenario, t: datetime) -> float:
    return (t - scn.start) / timedelta(hours=1)


def _day_start(scn: Scenario, t: datetime) -> int:
    return int(round(_hours(scn, datetime(t.year, t.month, t.day))))


def hour_window(scn: Scenario, obs: Observation) -> tuple[int, int]:
    """The hours [lo, hi) the figure is read from (hour marks for ``waiting_units``)."""
    if obs.metric in ("waiting_units", "waiting_km"):
        lo = int(math.floor(_hours(scn, obs.when)))
        hi = int(math.floor(_hours(scn, obs.until))) + 1 if obs.until else lo + 1
    elif obs.metric == "crossed_per_hour":
        lo = int(math.floor(_hours(scn, obs.when)))
        hi = int(math.floor(_hours(scn, obs.until))) if obs.until else lo + 1
        hi = max(hi, lo + 1)
    else:   # per calendar day
        lo = _day_start(scn, obs.when)
        hi = _day_start(scn, obs.until or obs.when) + 24
    return lo, hi


def last_hour_needed(scn: Scenario, observations: Sequence[Observation]) -> int:
    """The end of the latest window any observation reads, in hours since start."""
    return max((hour_window(scn, o)[1] for o in observations), default=0)


def crossings_needed(scn: Scenario, observations: Sequence[Observation]) -> set[str]:
    """Crossings some observation reads."""
    out: set[str] = set()
    for o in observations:
        out.update(scn.crossings if o.crossing == ALL else o.crossing.split("+"))
    return out & set(scn.crossings)


def figures(series: SeriesSet, obs: Observation, shown: str = "") -> np.ndarray | None:
    """The simulated figure of every replication, or None when the window is outside the
    run. NaN where it is undefined (a mean wait on a day when nothing crossed)."""
    w = observation_weights(series.scenario, series.crossings, series.classes, obs, shown)
    lo, hi = hour_window(series.scenario, obs)
    if lo < 0 or hi > series.n_hours:
        return None
    a = series.arrays

    def summed(name: str) -> np.ndarray:
        if name not in a:
            raise ScenarioError(shown or "observations", [(
                _where(obs, shown, "metric"),
                f"{obs.metric} needs the hourly sums of waits, which this results folder "
                "does not have (it was written by an older bordersim): run it again")])
        return np.tensordot(a[name][:, :, lo:hi], w, axes=([1], [0]))  # [rep, hour]

    if obs.metric in ("waiting_units", "waiting_km"):
        return summed("queue").mean(axis=1)
    if obs.metric == "crossed_per_day":
        return summed("crossed").sum(axis=1) / ((hi - lo) / 24.0)
    if obs.metric == "crossed_per_hour":
        return summed("crossed").sum(axis=1) / (hi - lo)
    total = summed("wait_sum" if obs.metric == "wait_h" else "tis_sum").sum(axis=1)
    count = summed("crossed").sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.where(count > 0, count, 1.0), math.nan)
