"""What a run or a sweep will need, estimated before it starts, and refused if it cannot fit.

A scenario of ten valid-looking lines can ask for more than any machine holds
(a demand of 1e10 a day, a duration of a million days, a demand factor of
1e12, a sweep of a million points). Every unit that may arrive is drawn
before the run and followed through it, and every hour of every crossing ×
class is kept for the time series, so the memory is about

    units × bytes per unit + hours × series × bytes per hour

per replication, times the replications running at once, plus the results
the parent process gathers. The constants are measured on bordersim's own
engine (about 650–750 bytes per unit on the shipped scenarios, rounded up)
and err on the large side: what is refused is far beyond what fits, not
close to it.
"""

from __future__ import annotations

import contextlib
import math
import os
from dataclasses import dataclass
from pathlib import Path

from bordersim.loading import ScenarioError
from bordersim.scenario import ALL, Scenario

__all__ = ["RunSize", "run_size", "available_memory", "check_run_fits", "check_sweep_fits",
           "human_bytes", "MAX_SWEEP_POINTS"]

BYTES_PER_UNIT = 1000          # measured 650–750 on the shipped scenarios
BYTES_PER_SERIES_HOUR = 80     # each crossing × class × hour: queue, crossed, cost and work
BYTES_PER_GATHERED_HOUR = 24   # kept per replication by the parent: three float64 series
BYTES_PER_CSV_HOUR = 600       # one row of timeseries.csv while it is built
BYTES_PER_RUNS_LINE = 400      # one line of a sweep's runs.csv, read back to summarise
MAX_SWEEP_POINTS = 1_000_000


@dataclass(frozen=True)
class RunSize:
    units: float          # units that may arrive in one replication (an upper bound)
    hours: int            # hours of the time series
    series: int           # crossing × class series, totals included
    per_replication: float    # bytes one replication needs while it runs
    gathered: float           # bytes the parent keeps per replication

    def total(self, replications: int, at_once: int) -> float:
        return (min(at_once, replications) * self.per_replication
                + replications * self.gathered + self.hours * self.series * BYTES_PER_CSV_HOUR)


def _max_factor(scn: Scenario, cls: str) -> float:
    f = 1.0
    for ph in scn.policy:
        for k, v in (ph.demand_factor or {}).items():
            if k in (cls, ALL):
                f = max(f, v)
    return f


def run_size(scn: Scenario) -> RunSize:
    units = 0.0
    groups = 0
    for c in scn.crossings.values():
        peak = 1.0
        if c.profile is not None:
            total = math.fsum(c.profile)
            peak = 24.0 * max(c.profile) / total
        for k, rate in c.demand.items():
            if rate > 0:
                groups += 1
                # candidates are drawn at the peak hourly rate, surges from a second stream
                units += rate / 24.0 * scn.duration * peak * _max_factor(scn, k)
    crossings = {c for c, crossing in scn.crossings.items() if crossing.demand}
    classes = {k for crossing in scn.crossings.values() for k in crossing.demand}
    series = groups + len(crossings) + len(classes) + 1
    hours = int(math.ceil(scn.duration))
    per_rep = units * BYTES_PER_UNIT + hours * series * BYTES_PER_SERIES_HOUR
    return RunSize(units, hours, series, per_rep, hours * series * BYTES_PER_GATHERED_HOUR)


def available_memory() -> int:
    """Bytes this process may still use: the memory available on the machine, or the
    control group's limit if that is lower."""
    avail = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                avail = int(line.split()[1]) * 1024
    if avail is None:
        try:
            avail = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
        except (ValueError, OSError, AttributeError):
            avail = 1 << 40
    with contextlib.suppress(OSError):
        text = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if text.isdigit():
            avail = min(avail, int(text))
    return avail


def human_bytes(n: float) -> str:
    for unit in ("bytes", "kB", "MB", "GB", "TB", "PB", "EB"):
        if abs(n) < 1000 or unit == "EB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1000
    return f"{n:.3g} EB"   # pragma: no cover - the loop always returns


def _count(x: float) -> str:
    return f"{x:,.0f}" if x < 1e7 else f"{x:.2g}"


def check_run_fits(scn: Scenario, source: str, replications: int | None = None,
                   at_once: int = 1, available: int | None = None) -> RunSize:
    """ScenarioError, before anything runs, if the replications cannot fit in memory."""
    n = scn.replications if replications is None else replications
    size = run_size(scn)
    need = size.total(n, at_once)
    avail = available_memory() if available is None else available
    if need > avail:
        k = min(at_once, n)
        raise ScenarioError(source, [("", (
            f"too large to run: about {_count(size.units)} units may arrive in one "
            f"replication over {_count(size.hours)} hours, which needs about "
            f"{human_bytes(need)} of memory ({k} replication{'s' * (k != 1)} at once), "
            f"and {human_bytes(avail)} is available; lower the demand, the demand factors or "
            f"the duration{', or use fewer workers' if k > 1 else ''}"))])
    return size


def check_sweep_fits(scenarios, source: str, replications: int, n_metrics: int,
                     at_once: int = 1, scenario_bytes: float = 0.0,
                     available: int | None = None) -> None:
    """ScenarioError if a sweep's largest run, its plan or its runs.csv cannot fit."""
    n_points = len(scenarios)
    sizes = [run_size(s) for s in scenarios]
    largest = max(sizes, key=lambda z: z.per_replication)
    series = max(z.series for z in sizes)
    lines = n_points * replications * series * n_metrics
    plan = n_points * scenario_bytes
    need = min(at_once, n_points * replications) * largest.per_replication \
        + lines * BYTES_PER_RUNS_LINE + plan
    avail = available_memory() if available is None else available
    if need > avail:
        raise ScenarioError(source, [("", (
            f"too large to run: {_count(n_points)} points × {replications} replications, "
            f"runs.csv of about {_count(lines)} lines and up to {_count(largest.units)} units "
            f"in one run need about {human_bytes(need)} of memory, and {human_bytes(avail)} "
            "is available; use fewer points or replications, fewer --metrics, or a smaller "
            "scenario"))])
