"""``bordersim check``: observed queue figures beside the simulation at the same time.

An observation names a date (noon when no time is given), a crossing (a
name, names joined with ``+``, or ``all``), a class (a name, ``all``,
``all_vehicles`` = every class but pedestrians, ``cargo`` = classes with a
cargo value, ``persons`` = persons rather than units), a metric
(``waiting_units`` at that instant, ``crossed_per_day`` over that calendar
day, ``crossed_per_hour`` over the hour from that time) and an observed range.
The simulated figure of each replication is summed over the named crossings
and classes; the observation counts as reproduced when the mean over
replications lies inside the observed range.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from bordersim.distributions import to_datetime
from bordersim.loading import ScenarioError
from bordersim.readback import read_npz
from bordersim.results import SERIES_FILE
from bordersim.scenario import ALL, Scenario
from bordersim.stats import Interval, t_interval

__all__ = ["Observation", "Verdict", "read_observations", "load_series", "check",
           "write_check"]

COLUMNS = ("date", "crossing", "class", "metric", "value_low", "value_high", "source",
           "confidence", "note")
METRICS = ("waiting_units", "crossed_per_day", "crossed_per_hour")
GROUPS = ("all", "all_vehicles", "cargo", "persons")


@dataclass(frozen=True)
class Observation:
    row: int
    when: datetime
    crossing: str
    cls: str
    metric: str
    low: float
    high: float
    source: str
    note: str


@dataclass(frozen=True)
class Verdict:
    obs: Observation
    simulated: Interval | None     # None when the time is outside the run

    def as_dict(self) -> dict:
        iv = self.simulated
        def num(x):
            return (None if x is None or math.isnan(x) else x)
        return {"date": self.obs.when.isoformat(timespec="minutes"),
                "crossing": self.obs.crossing, "class": self.obs.cls,
                "metric": self.obs.metric, "value_low": self.obs.low,
                "value_high": self.obs.high,
                "sim_mean": num(iv.mean) if iv else None,
                "sim_ci_low": num(iv.ci_low) if iv else None,
                "sim_ci_high": num(iv.ci_high) if iv else None,
                "inside": self.inside, "source": self.obs.source}

    @property
    def inside(self) -> bool | None:
        if self.simulated is None or math.isnan(self.simulated.mean):
            return None
        return self.obs.low <= self.simulated.mean <= self.obs.high


def read_observations(path: Path) -> list[Observation]:
    shown = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")    # Excel writes a BOM
    except FileNotFoundError:
        raise ScenarioError(shown, [("", "observations file not found")]) from None
    except (OSError, UnicodeDecodeError) as e:
        raise ScenarioError(shown, [("", f"cannot read the file: {e}")]) from None
    reader = csv.DictReader(text.splitlines())
    missing = [c for c in COLUMNS[:6] if c not in (reader.fieldnames or [])]
    if missing:
        raise ScenarioError(shown, [("header", f"missing column(s) {', '.join(missing)}; "
                                               f"expected {','.join(COLUMNS)}")])
    out, problems = [], []
    for n, rec in enumerate(reader, start=2):
        where = f"line {n}"
        try:
            raw = rec["date"].strip()
            when = to_datetime(raw)
            if "T" not in raw and " " not in raw:
                when += timedelta(hours=12)
        except (ValueError, AttributeError) as e:
            problems.append((f"{where}, date", str(e)))
            continue
        metric = (rec["metric"] or "").strip()
        if metric not in METRICS:
            problems.append((f"{where}, metric", f"expected one of {', '.join(METRICS)}, "
                                                 f"got {metric!r}"))
            continue
        try:
            low, high = float(rec["value_low"]), float(rec["value_high"])
        except (TypeError, ValueError):
            problems.append((f"{where}, value_low/value_high", "expected two numbers"))
            continue
        if not (math.isfinite(low) and math.isfinite(high)):
            problems.append((f"{where}, value_low/value_high", "expected two finite numbers "
                                                                "(write a wide range, not inf "
                                                                "or nan)"))
            continue
        if low > high:
            problems.append((f"{where}, value_low", f"low {low:g} is above high {high:g}"))
            continue
        out.append(Observation(n, when, (rec["crossing"] or "").strip(),
                               (rec["class"] or "").strip(), metric,
                               low, high, (rec.get("source") or "").strip(),
                               (rec.get("note") or "").strip()))
    if problems:
        raise ScenarioError(shown, problems)
    return out


@dataclass(frozen=True)
class Series:
    scenario: Scenario
    queue: np.ndarray      # [replication, group, hour]
    crossed: np.ndarray
    crossings: list[str]
    classes: list[str]


def load_series(results_dir: Path) -> Series:
    """The hourly series of every replication; a missing or damaged folder is refused with a
    message naming the file (see :mod:`bordersim.readback`)."""
    from bordersim.readback import verify_results_folder

    d = Path(results_dir)
    if not d.is_dir():
        raise ScenarioError(str(results_dir), [("", "results folder not found")])
    scn = verify_results_folder(d, str(results_dir))
    z = read_npz(d, SERIES_FILE, {"queue": (3, "i"), "crossed": (3, "i"),
                                  "crossing": (1, "U"), "cls": (1, "U")})
    return Series(scn, z["queue"], z["crossed"], [str(x) for x in z["crossing"]],
                  [str(x) for x in z["cls"]])


def _weights(series: Series, obs: Observation, shown: str) -> np.ndarray:
    scn = series.scenario
    names = list(scn.crossings) if obs.crossing == ALL else obs.crossing.split("+")
    for c in names:
        if c not in scn.crossings:
            raise ScenarioError(shown, [(f"line {obs.row}, crossing",
                                         f"unknown crossing '{c}' (the results know "
                                         f"{', '.join(scn.crossings)})")])
    if obs.cls not in scn.classes and obs.cls not in GROUPS:
        raise ScenarioError(shown, [(f"line {obs.row}, class",
                                     f"unknown class '{obs.cls}' (expected a class of the "
                                     f"scenario or one of {', '.join(GROUPS)})")])
    w = np.zeros(len(series.crossings))
    for j, (c, k) in enumerate(zip(series.crossings, series.classes, strict=True)):
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
    return w


def check(results_dir: Path, observations: Path) -> list[Verdict]:
    series = load_series(results_dir)
    obs_list = read_observations(observations)
    start = series.scenario.start
    n_hours = series.queue.shape[2]
    out = []
    for obs in obs_list:
        w = _weights(series, obs, str(observations))
        h = (obs.when - start) / timedelta(hours=1)
        if obs.metric == "waiting_units":
            lo = hi = int(math.floor(h))
            per_rep = np.tensordot(series.queue[:, :, lo], w, axes=([1], [0])) \
                if 0 <= lo < n_hours else None
        else:
            if obs.metric == "crossed_per_day":
                day0 = datetime(obs.when.year, obs.when.month, obs.when.day)
                lo = int(round((day0 - start) / timedelta(hours=1)))
                hi = lo + 24
            else:
                lo = int(math.floor(h))
                hi = lo + 1
            per_rep = (np.tensordot(series.crossed[:, :, lo:hi].sum(axis=2), w,
                                    axes=([1], [0]))
                       if 0 <= lo and hi <= n_hours else None)
        out.append(Verdict(obs, None if per_rep is None else t_interval(per_rep)))
    return out


def write_check(path: Path, verdicts: list[Verdict]) -> None:
    """check.csv beside the results, replaced whole (written to a temporary file first)."""
    from bordersim.results import fmt

    tmp = path.with_name(f".{path.name}.tmp")
    fields = ["date", "crossing", "class", "metric", "value_low", "value_high", "sim_mean",
              "sim_ci_low", "sim_ci_high", "inside", "source"]
    with open(tmp, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(fields)
        for v in verdicts:
            d = v.as_dict()
            w.writerow(["" if d[k] is None else fmt(d[k]) if isinstance(d[k], float)
                        else str(d[k]).lower() if isinstance(d[k], bool) else d[k]
                        for k in fields])
    tmp.replace(path)
