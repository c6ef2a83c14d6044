"""What a report draws, read back from a results folder (no plotting here).

Per-replication hourly series come from the folder's ``.npz`` files, so every
band is a 95% t-interval over replications, as in ``summary.csv``.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import yaml

from bordersim.loading import ScenarioError, scenario_from_dict
from bordersim.model.arrivals import expected_rate
from bordersim.model.timeline import Timeline, compile_timeline
from bordersim.results import SERIES_FILE, WAITS_FILE
from bordersim.scenario import ALL, Scenario
from bordersim.stats import t_half_width

__all__ = ["ResultsData", "Band", "Phase", "load_results", "band", "hourly_demand",
           "daily", "crossing_label", "date_text", "read_csv"]

_NEEDED = ("manifest.json", "scenario.resolved.yaml", "summary.csv", SERIES_FILE)


@dataclass(frozen=True)
class Band:
    """Mean over replications with its 95% t-interval (cut at zero: counts are never < 0)."""

    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray


@dataclass(frozen=True)
class Phase:
    number: int          # 1, 2, ... in the order of the scenario's policy list
    label: str
    start_h: float
    end_h: float         # the next phase's start, or the end of the run
    scope: str           # "" when it applies to every crossing, else the crossings named
    changes: str         # what it changes, in a few words


@dataclass
class ResultsData:
    folder: Path
    manifest: dict
    scenario: Scenario
    timeline: Timeline
    phases: list[Phase]
    queue: np.ndarray            # [replication, group, hour mark]
    crossed: np.ndarray          # [replication, group, hour]
    groups: list[tuple[str, str]]
    waits: np.ndarray | None     # [replication, group, bin] crossed units per wait bin
    wait_edges_h: np.ndarray | None
    wait_groups: list[tuple[str, str]] = field(default_factory=list)
    summary: dict = field(default_factory=dict)   # (crossing, class, metric) -> row
    costs: list[dict] = field(default_factory=list)

    @property
    def n_reps(self) -> int:
        return self.queue.shape[0]

    @property
    def n_hours(self) -> int:
        return self.queue.shape[2]

    def when(self, hours) -> list[datetime]:
        return [self.scenario.start + timedelta(hours=float(h)) for h in np.atleast_1d(hours)]

    def classes_at(self, crossing: str) -> list[str]:
        """Classes with any traffic at a crossing, in scenario order."""
        out = []
        for k in self.scenario.classes:
            if (crossing, k) not in self.groups:
                continue
            j = self.groups.index((crossing, k))
            if self.crossed[:, j].any() or self.queue[:, j].any():
                out.append(k)
        return out

    def metric(self, crossing: str, cls: str, metric: str) -> float:
        row = self.summary.get((crossing, cls, metric))
        return float(row["mean"]) if row and row["mean"] != "" else math.nan


def read_csv(path: Path, encoding: str | None = None) -> list[dict]:
    """The rows of a CSV file as dicts of text; none when the file is not there."""
    if not path.is_file():
        return []
    with open(path, encoding=encoding, newline="") as f:
        return list(csv.DictReader(f))


def _changes(ph, scn: Scenario) -> str:
    def pairs(d: dict, pct: bool = False) -> str:
        return ", ".join(f"{k} {v:.0%}" if pct else f"{k} {v:g}" for k, v in d.items())

    parts = []
    if ph.reset:
        parts.append("back to the base configuration")
    if ph.closed:
        parts.append("closed to " + ", ".join(ph.closed))
    elif ph.closed is not None:
        parts.append("open to every class")
    if ph.service_factor:
        parts.append("service time x " + pairs(ph.service_factor))
    if ph.secondary_probability:
        parts.append("sent to secondary inspection: " + pairs(ph.secondary_probability, True))
    if ph.booths:
        parts.append("booths: " + pairs(ph.booths))
    if ph.quota_per_day:
        parts.append("daily quota: " + pairs(ph.quota_per_day))
    if ph.priority:
        parts.append("priority: " + " > ".join(ph.priority))
    if ph.demand_factor:
        same = set(ph.demand_factor.values())
        parts.append(f"demand x {same.pop():g}" if len(same) == 1 and
                     set(ph.demand_factor) >= set(scn.classes) else
                     "demand x " + pairs(ph.demand_factor))
    return "; ".join(parts) or "no change"


def _phases(scn: Scenario) -> list[Phase]:
    times = [scn.phase_time(i) for i in range(len(scn.policy))]
    out = []
    for i, ph in enumerate(scn.policy):
        later = [t for t in times[i + 1:] if t > times[i]]
        end = min(later) if later else scn.duration
        scope = "" if ph.crossings == ALL else ", ".join(ph.crossings)
        if ph.stages != ALL:
            scope = (scope + " " if scope else "") + "stages " + ", ".join(ph.stages)
        out.append(Phase(i + 1, ph.label or f"phase {i + 1}", times[i], min(end, scn.duration),
                         scope, _changes(ph, scn)))
    return out


def load_results(folder: Path) -> ResultsData:
    """Everything a report of one results folder needs; ScenarioError names what is wrong."""
    d = Path(folder)
    shown = str(folder)
    if not d.is_dir():
        raise ScenarioError(shown, [("", "results folder not found")])
    for name in _NEEDED:
        if not (d / name).is_file():
            raise ScenarioError(shown, [("", f"not a results folder: no {name} (expected a "
                                             "folder written by `bordersim run` or "
                                             "`bordersim compare`)")])
    manifest = json.loads((d / "manifest.json").read_text())
    data = yaml.safe_load((d / "scenario.resolved.yaml").read_text())
    scn = scenario_from_dict(data, str(d / "scenario.resolved.yaml")).scenario
    with np.load(d / SERIES_FILE) as z:
        queue, crossed = z["queue"].astype(float), z["crossed"].astype(float)
        groups = list(zip(map(str, z["crossing"]), map(str, z["cls"]), strict=True))
    waits = edges = None
    wait_groups: list[tuple[str, str]] = []
    if (d / WAITS_FILE).is_file():
        with np.load(d / WAITS_FILE) as z:
            waits, edges = z["counts"].astype(float), z["edges_h"]
            wait_groups = list(zip(map(str, z["crossing"]), map(str, z["cls"]), strict=True))
    summary = {(r["crossing"], r["class"], r["metric"]): r
               for r in read_csv(d / "summary.csv")}
    return ResultsData(d, manifest, scn, compile_timeline(scn), _phases(scn), queue, crossed,
                       groups, waits, edges, wait_groups, summary, read_csv(d / "costs.csv"))


def band(x: np.ndarray, axis: int = 0) -> Band:
    """Mean and 95% t-interval over replications (axis 0), cut at zero."""
    mean = x.mean(axis=axis)
    if x.shape[axis] < 2:
        return Band(mean, mean, mean)
    half = t_half_width(x, axis)
    return Band(mean, np.maximum(mean - half, 0.0), mean + half)


def hourly_demand(data: ResultsData, crossing: str, cls: str) -> np.ndarray:
    """Expected arrivals in each hour: demand per day x hourly profile x the policy's demand
    factor. Trips deferred to after a phase and units diverted here are not included."""
    steps = data.timeline.demand_factor.get((crossing, cls), [(0.0, 1.0)])
    mid = np.arange(data.n_hours, dtype=float) + 0.5     # the rate in the middle of each hour
    return expected_rate(data.scenario, crossing, cls, mid, steps)


def daily(hourly: np.ndarray) -> np.ndarray:
    """Sums over whole days from the start (last axis, a partial last day dropped)."""
    days = hourly.shape[-1] // 24
    return hourly[..., :days * 24].reshape(*hourly.shape[:-1], days, 24).sum(axis=-1)


def crossing_label(scn: Scenario, crossing: str) -> str:
    label = scn.crossings[crossing].label
    return f"{label} ({crossing})" if label else crossing


def date_text(t: datetime, year: bool = True) -> str:
    """A calendar time as '1 Oct 2017', or '10 Oct 2017 18:00' when not at midnight
    ('1 Oct', '10 Oct 18:00' without the year)."""
    return t.strftime("%-d %b %Y %H:%M" if year else "%-d %b %H:%M").replace(" 00:00", "")
