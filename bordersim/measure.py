"""One replication's metrics, from what the engine recorded.

The statistics window is ``[warmup, duration - cooldown)``: per-unit metrics
cover units arriving in it; time integrals (queue mean, waiting hours) cover
the time inside it. Totals use ``all`` for the crossing and/or the class.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from bordersim.economics import (
    COMPONENTS,
    held_costs,
    hourly_costs,
    hourly_held_costs,
    unit_costs,
)
from bordersim.model import Engine, Outcome
from bordersim.model.respond import HELD_AT_END, HELD_FORGONE, HELD_MADE
from bordersim.scenario import ALL, Scenario

__all__ = ["METRICS", "ReplicationResult", "measure", "WAIT_EDGES_H"]

METRICS = (
    "arrivals", "crossed", "reneged", "balked", "diverted", "waiting_at_end",
    "in_service_at_end", "wait_mean_h", "wait_p50_h", "wait_p90_h", "wait_p95_h",
    "wait_max_h", "time_in_system_mean_h", "queue_mean", "queue_max", "queue_max_km",
    "waiting_hours_total", "person_hours_waiting", "crossed_per_day", "cost_total",
    "cargo_value_days_delayed", "cargo_value_lost",
    "held", "forgone", "held_at_end", "hold_mean_h",
)


@dataclass(frozen=True)
class ReplicationResult:
    replication: int
    metrics: dict        # (crossing, class) -> {metric: value}
    costs: dict          # (crossing, class) -> {component: value}
    queue: dict          # (crossing, class) -> units waiting at each hour mark (array)
    crossed: dict        # (crossing, class) -> units crossed during each hour (array)
    cost: dict = None    # (crossing, class) -> cost accrued during each hour (array)
    wait_hist: dict = None  # (crossing, class) -> crossed units per WAIT_EDGES_H bin (array)
    wait_sum: dict = None   # (crossing, class) -> hours queued by the units crossed in each hour
    tis_sum: dict = None    # (crossing, class) -> hours in system of the units crossed in each hour
    held: dict = None       # (crossing, class) -> trips held back at each hour mark


@dataclass
class _GroupData:
    crossing: str
    cls: str
    length_km: float
    persons: float
    arr: np.ndarray
    wait: np.ndarray
    exit: np.ndarray
    code: np.ndarray
    q_join: np.ndarray
    q_leave: np.ndarray
    n_arrivals: int
    costs: dict
    all_exit: np.ndarray   # exit times of every crossed unit, whatever its arrival
    all_exit_wait: np.ndarray   # their hours queued
    all_exit_tis: np.ndarray    # their hours from arrival to crossing
    cargo_days: float      # Σ cargo value × days waited, units arriving in the window
    cargo_lost: float      # Σ cargo value of units in the window that gave up
    cost_hourly: np.ndarray
    held_due: np.ndarray   # trips held back by the visible delay: when they were due,
    held_end: np.ndarray   # when they were made or given up (inf: still held at the end),
    held_code: np.ndarray  # and how it ended (model.respond HELD_*)


def _group_data(eng: Engine, scn: Scenario, w0: float, w1: float) -> list[_GroupData]:
    out = []
    n_hours = int(math.ceil(scn.duration))
    for g in eng.groups:
        spec = scn.classes[g.cls]
        arr_all = np.asarray(g.out_arr)
        code_all = np.asarray(g.out_code, dtype=np.int64)
        unit_all = np.asarray(g.out_unit, dtype=np.int64)
        wait_all = np.asarray(g.out_wait)
        exit_all = np.asarray(g.out_exit)
        travel_all = np.asarray(g.out_travel, dtype=float)
        cargo_list = g.attrs.get(("cargo",))
        cargo_arr = np.asarray(cargo_list) if cargo_list is not None else None
        cargo_all = cargo_arr[unit_all] if cargo_arr is not None else None
        gave_up_all = (code_all == Outcome.RENEGED) | (code_all == Outcome.BALKED)
        costs_all = unit_costs(scn.economics, g.cls, spec, wait_all, cargo_all, gave_up_all,
                               travel_all)
        inwin = (arr_all >= w0) & (arr_all < w1)
        code = code_all[inwin]
        wait = wait_all[inwin]
        cargo = cargo_all[inwin] if cargo_all is not None else np.zeros(int(inwin.sum()))
        times = np.concatenate([g.arrivals.times, np.asarray(g.extra_arrivals, dtype=float)])
        if g.responder is not None:     # a held trip arrives when it is made, if it is
            rec = g.responder.records()
            keep = np.ones(len(times), dtype=bool)
            keep[rec["unit"]] = False
            times = np.concatenate([times[keep], rec["end"][rec["code"] == HELD_MADE]])
        n_arr = int(np.count_nonzero((times >= w0) & (times < w1) & (times < scn.duration)))
        q_join, q_leave = np.asarray(g.q_join), np.asarray(g.q_leave)
        diverted = code_all == Outcome.DIVERTED
        crossed_all = code_all == Outcome.CROSSED
        cost_hourly = hourly_costs(
            scn.economics, g.cls, spec, n_hours, q_join, q_leave, np.asarray(g.q_wait0),
            cargo_arr[np.asarray(g.q_unit, dtype=np.int64)] if cargo_arr is not None else None,
            exit_all[gave_up_all], costs_all["lost"][gave_up_all],
            arr_all[diverted], costs_all["diversion"][diverted])
        costs = {c: float(v[inwin].sum()) for c, v in costs_all.items()}
        held_due, held_end, held_code = _EMPTY, _EMPTY, _EMPTY_CODE
        if g.responder is not None:
            rec = g.responder.records()
            held_due, held_code = rec["due"], rec["code"]
            # a trip given up before it was due was never late: its hold ends when due
            held_end = np.maximum(np.where(np.isnan(rec["end"]), math.inf, rec["end"]),
                                  held_due)
            hcargo = cargo_arr[rec["unit"]] if cargo_arr is not None else None
            forgone = held_code == HELD_FORGONE
            hold_h = np.minimum(held_end, scn.duration) - held_due
            hc = held_costs(scn.economics, g.cls, hold_h, hcargo, forgone)
            hwin = (held_due >= w0) & (held_due < w1)
            costs["held"] += float(hc["held"][hwin].sum())
            costs["lost"] += float(hc["lost"][hwin].sum())
            cost_hourly = cost_hourly + hourly_held_costs(
                scn.economics, n_hours, held_due, held_end, hcargo, held_end[forgone],
                hc["lost"][forgone])
        out.append(_GroupData(
            g.crossing, g.cls, spec.length_m / 1000.0, spec.persons,
            arr_all[inwin], wait, exit_all[inwin], code, q_join, q_leave, n_arr,
            costs,
            exit_all[crossed_all], wait_all[crossed_all],
            exit_all[crossed_all] - arr_all[crossed_all],
            float((cargo * wait).sum() / 24.0),
            float(cargo[gave_up_all[inwin]].sum()),
            cost_hourly, held_due, held_end, held_code,
        ))
    return out


_EMPTY = np.empty(0)
_EMPTY_CODE = np.empty(0, dtype=np.int8)


def _queue_max(groups: list[_GroupData], w0: float, w1: float, weighted: bool) -> float:
    """Largest number (or km) of units waiting at any instant of [w0, w1)."""
    ts, ds = [], []
    for gd in groups:
        wgt = gd.length_km if weighted else 1.0
        ts.extend((gd.q_join, gd.q_leave))
        ds.extend((np.full(len(gd.q_join), wgt), np.full(len(gd.q_leave), -wgt)))
    if not ts:
        return 0.0
    t = np.concatenate(ts)
    d = np.concatenate(ds)
    keep = t < w1
    t, d = t[keep], d[keep]
    if len(t) == 0:
        return 0.0
    order = np.lexsort((d, t))           # at equal times, leaving before joining
    t, running = t[order], np.cumsum(d[order])
    first = np.searchsorted(t, w0, side="right")
    at_w0 = running[first - 1] if first > 0 else 0.0
    later = running[first:]
    best = max(at_w0, later.max()) if len(later) else at_w0
    return float(max(best, 0.0))


def _metrics(groups: list[_GroupData], w0: float, w1: float) -> dict:
    m: dict[str, float] = {}
    code = np.concatenate([gd.code for gd in groups]) if groups else np.empty(0, int)
    counts = np.bincount(code, minlength=len(Outcome)) if len(code) else np.zeros(len(Outcome))
    m["arrivals"] = float(sum(gd.n_arrivals for gd in groups))
    m["crossed"] = float(counts[Outcome.CROSSED])
    m["reneged"] = float(counts[Outcome.RENEGED])
    m["balked"] = float(counts[Outcome.BALKED])
    m["diverted"] = float(counts[Outcome.DIVERTED])
    m["waiting_at_end"] = float(counts[Outcome.WAITING_AT_END])
    m["in_service_at_end"] = float(counts[Outcome.IN_SERVICE_AT_END])
    crossed = code == Outcome.CROSSED
    wait = np.concatenate([gd.wait for gd in groups])[crossed] if groups else np.empty(0)
    if len(wait):
        m["wait_mean_h"] = float(wait.mean())
        p50, p90, p95 = np.percentile(wait, [50, 90, 95])
        m["wait_p50_h"], m["wait_p90_h"], m["wait_p95_h"] = float(p50), float(p90), float(p95)
        m["wait_max_h"] = float(wait.max())
        tis = (np.concatenate([gd.exit - gd.arr for gd in groups]))[crossed]
        m["time_in_system_mean_h"] = float(tis.mean())
    else:
        for k in ("wait_mean_h", "wait_p50_h", "wait_p90_h", "wait_p95_h", "wait_max_h",
                  "time_in_system_mean_h"):
            m[k] = math.nan
    span = w1 - w0
    hours = 0.0
    person_hours = 0.0
    for gd in groups:
        h = float((np.clip(gd.q_leave, w0, w1) - np.clip(gd.q_join, w0, w1)).sum())
        hours += h
        person_hours += h * gd.persons
    m["queue_mean"] = hours / span
    m["queue_max"] = _queue_max(groups, w0, w1, weighted=False)
    m["queue_max_km"] = _queue_max(groups, w0, w1, weighted=True)
    m["waiting_hours_total"] = hours
    m["person_hours_waiting"] = person_hours
    n_cross = sum(int(np.count_nonzero((gd.all_exit >= w0) & (gd.all_exit < w1)))
                  for gd in groups)
    m["crossed_per_day"] = n_cross / (span / 24.0)
    m["cost_total"] = float(sum(sum(gd.costs.values()) for gd in groups))
    m["cargo_value_days_delayed"] = float(sum(gd.cargo_days for gd in groups))
    m["cargo_value_lost"] = float(sum(gd.cargo_lost for gd in groups))
    held = [(gd.held_end[w] - gd.held_due[w], gd.held_code[w]) for gd in groups
            for w in [(gd.held_due >= w0) & (gd.held_due < w1)]]
    codes = np.concatenate([c for _, c in held]) if held else _EMPTY_CODE
    m["held"] = float(len(codes))
    m["forgone"] = float(np.count_nonzero(codes == HELD_FORGONE))
    m["held_at_end"] = float(np.count_nonzero(codes == HELD_AT_END))
    made = np.concatenate([h[c == HELD_MADE] for h, c in held]) if held else _EMPTY
    m["hold_mean_h"] = float(made.mean()) if len(made) else math.nan
    return m


# Lower edges of the wait histogram bins, hours: [0, 1 min), then 8 log-spaced bins per
# decade of minutes up to 10^5 min (69 days); the last bin is open above.
WAIT_EDGES_H = np.concatenate([[0.0], 10.0 ** (np.arange(41) / 8) / 60.0])


def _wait_hist(gd: _GroupData) -> np.ndarray:
    wait = gd.wait[gd.code == Outcome.CROSSED]
    bins = np.searchsorted(WAIT_EDGES_H, wait, side="right") - 1
    return np.bincount(bins, minlength=len(WAIT_EDGES_H)).astype(np.int32)


def _series(gd: _GroupData, n_hours: int) -> tuple[np.ndarray, ...]:
    """Units waiting at each hour mark; units crossed during each hour, with the sums of
    their hours queued and of their hours in the system."""
    marks = np.arange(n_hours, dtype=float)
    queue = (np.searchsorted(np.sort(gd.q_join), marks, side="right")
             - np.searchsorted(np.sort(gd.q_leave), marks, side="right"))
    edges = np.arange(n_hours + 1, dtype=float)
    crossed = np.histogram(gd.all_exit, bins=edges)[0]
    wait_sum = np.histogram(gd.all_exit, bins=edges, weights=gd.all_exit_wait)[0]
    tis_sum = np.histogram(gd.all_exit, bins=edges, weights=gd.all_exit_tis)[0]
    return queue.astype(float), crossed.astype(float), wait_sum, tis_sum


def measure(eng: Engine, scn: Scenario, replication: int) -> ReplicationResult:
    w0 = scn.warmup
    w1 = scn.duration - scn.cooldown
    data = _group_data(eng, scn, w0, w1)
    sets: dict[tuple[str, str], list[_GroupData]] = {}
    for gd in data:
        for key in ((gd.crossing, gd.cls), (gd.crossing, ALL), (ALL, gd.cls), (ALL, ALL)):
            sets.setdefault(key, []).append(gd)
    metrics = {key: _metrics(gs, w0, w1) for key, gs in sets.items()}
    costs = {key: {c: float(sum(gd.costs[c] for gd in gs)) for c in COMPONENTS}
             for key, gs in sets.items()}
    n_hours = int(math.ceil(scn.duration))
    own = {(gd.crossing, gd.cls): _series(gd, n_hours) for gd in data}
    queue, crossed, cost = {}, {}, {}
    for key, gs in sets.items():
        queue[key] = np.sum([own[(gd.crossing, gd.cls)][0] for gd in gs], axis=0)
        crossed[key] = np.sum([own[(gd.crossing, gd.cls)][1] for gd in gs], axis=0)
        cost[key] = np.sum([gd.cost_hourly for gd in gs], axis=0)
    wait_hist = {(gd.crossing, gd.cls): _wait_hist(gd) for gd in data}
    wait_sum = {key: own[key][2] for key in own}
    tis_sum = {key: own[key][3] for key in own}
    marks = np.arange(n_hours, dtype=float)
    held = {}
    for key, gs in sets.items():
        held[key] = np.sum([np.searchsorted(np.sort(gd.held_due), marks, side="right")
                            - np.searchsorted(np.sort(gd.held_end), marks, side="right")
                            for gd in gs], axis=0).astype(float)
    return ReplicationResult(replication, metrics, costs, queue, crossed, cost, wait_hist,
                             wait_sum, tis_sum, held)
