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
from bordersim.model.arrivals import appointments
from bordersim.model.booking import BOOKED_NO_SHOW, BOOKED_REFUSED, BOOKED_SHOWED
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
    "booked", "refused", "no_show", "booking_lead_mean_h", "booking_lead_max_h",
    "wait_total_mean_h", "waiting_area_mean", "waiting_area_max", "off_road_hours_total",
    "queue_mean_km",
    *(f"cost_{c}" for c in COMPONENTS),
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
    off_road: dict = None   # (crossing, class) -> units booked, off the road, at each hour mark


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
    hours: float           # unit-hours waiting inside the window
    events: np.ndarray     # queue joins and leaves as sorted keys (see _event_keys)
    held_due: np.ndarray   # trips held back by the visible delay: when they were due,
    held_end: np.ndarray   # when they arrived or were given up (inf: still held at the end;
    held_code: np.ndarray  # never before due), and how it ended (model.respond HELD_*)
    lead: np.ndarray       # hours each unit of the window waited off the road, booked
    bk_book: np.ndarray    # bookings asked for (electronic queue): when,
    bk_end: np.ndarray     # when they left the virtual queue (the run's end if still in it),
    bk_code: np.ndarray    # and how (model.booking BOOKED_*)


def _group_data(eng: Engine, scn: Scenario, w0: float, w1: float) -> list[_GroupData]:
    out = []
    n_hours = int(math.ceil(scn.duration))
    for g in eng.groups:
        spec = scn.classes[g.cls]
        rec = g.rec
        code_all, unit_all = rec.out_code, rec.out_unit
        wait_all, exit_all, travel_all = rec.out_wait, rec.out_exit, rec.out_travel
        times = g.arrival_times
        arr_all = times[unit_all]
        cargo_list = g.attrs.get(("cargo",))
        cargo_arr = np.asarray(cargo_list, dtype=float) if cargo_list is not None else None
        cargo_all = cargo_arr[unit_all] if cargo_arr is not None else None
        gave_up_all = (code_all == Outcome.RENEGED) | (code_all == Outcome.BALKED)
        bk, lead_of, share_of = _bookings(g, scn, len(times))
        off_all = lead_of[unit_all] if lead_of is not None else None
        share_all = share_of[unit_all] if share_of is not None else None
        costs_all = unit_costs(scn.economics, g.cls, spec, wait_all, cargo_all, gave_up_all,
                               travel_all, off_all, share_all)
        inwin = (arr_all >= w0) & (arr_all < w1)
        code = code_all[inwin]
        wait = wait_all[inwin]
        cargo = cargo_all[inwin] if cargo_all is not None else np.zeros(int(inwin.sum()))
        n_arr = int(np.count_nonzero((times >= w0) & (times < w1) & (times < scn.duration)))
        q_join, q_leave = rec.q_join, rec.q_leave
        diverted = code_all == Outcome.DIVERTED
        crossed_all = code_all == Outcome.CROSSED
        wait0, off_road = rec.q_wait0, None
        if lead_of is not None:     # a visit on site follows the unit's wait off the road
            wait0 = wait0 + lead_of[rec.q_unit]
            kept = bk["code"] != BOOKED_REFUSED
            unit_b = bk["unit"][kept]
            off_road = (bk["book"][kept], bk["end"][kept],
                        cargo_arr[unit_b] if cargo_arr is not None else None,
                        share_of[unit_b] if share_of is not None else None)
        cost_hourly = hourly_costs(
            scn.economics, g.cls, spec, n_hours, q_join, q_leave, wait0,
            cargo_arr[rec.q_unit] if cargo_arr is not None else None,
            exit_all[gave_up_all], costs_all["lost"][gave_up_all],
            arr_all[diverted], costs_all["diversion"][diverted],
            share_of[rec.q_unit] if share_of is not None else None, off_road)
        costs = {c: float(v[inwin].sum()) for c, v in costs_all.items()}
        held_due, held_end, held_code = _EMPTY, _EMPTY, _EMPTY_CODE
        if g.responder is not None:
            hr = g.responder.records()
            held_due, held_code = hr["due"], hr["code"]
            # a trip given up before it was due was never late: its hold ends when due
            held_end = np.maximum(np.where(np.isnan(hr["end"]), math.inf, hr["end"]),
                                  held_due)
            hcargo = cargo_arr[hr["unit"]] if cargo_arr is not None else None
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
            cost_hourly,
            float((np.clip(q_leave, w0, w1) - np.clip(q_join, w0, w1)).sum()),
            _event_keys(q_join, q_leave),
            held_due, held_end, held_code,
            off_all[inwin] if off_all is not None else np.zeros(int(inwin.sum())),
            bk["book"], bk["end"], bk["code"],
        ))
    return out


def _bookings(g, scn: Scenario, n_units: int):
    """The group's bookings (electronic queue; the end of the run for those still booked),
    each unit's hours off the road (None without bookings) and, where the class has a
    perishable stream, each unit's own perishable share (1 or 0; else None)."""
    if g.booking is None:
        return {"unit": _EMPTY.astype(np.int64), "book": _EMPTY, "end": _EMPTY,
                "code": _EMPTY_CODE}, None, None
    bk = g.booking.records()
    bk["end"] = np.where(np.isnan(bk["end"]), scn.duration, bk["end"])
    lead = np.zeros(n_units)
    lead[bk["unit"]] = bk["end"] - bk["book"]
    share = None
    if any(a.perishable_first for a in appointments(scn, g.crossing, g.cls)):
        draws = np.asarray(g.attrs[("perishable",)], dtype=float)
        share = (draws < scn.classes[g.cls].perishable_share).astype(float)
    return bk, lead, share


_EMPTY = np.empty(0)
_EMPTY_CODE = np.empty(0, dtype=np.int8)


def _event_keys(q_join: np.ndarray, q_leave: np.ndarray) -> np.ndarray:
    """Queue joins and leaves in time order, leaves first at equal times, as one sorted
    array of integers: the bits of the (non-negative) time, shifted left, with a last bit of
    1 for a join. One value sort, no argsort; times come back with :func:`_times`."""
    keys = np.empty(len(q_join) + len(q_leave), dtype=np.uint64)
    n = len(q_join)
    # + 0.0 turns -0.0 into 0.0, whose bits sort first
    keys[:n] = ((q_join + 0.0).view(np.uint64) << np.uint64(1)) | np.uint64(1)
    keys[n:] = (q_leave + 0.0).view(np.uint64) << np.uint64(1)
    keys.sort()
    return keys


def _times(keys: np.ndarray) -> np.ndarray:
    return (keys >> np.uint64(1)).view(np.float64)


def _joins(keys: np.ndarray) -> np.ndarray:
    return (keys & np.uint64(1)).astype(bool)


class _Queue:
    """Units waiting over time in a set of groups: the merged, sorted join/leave keys
    and the running count after each of them."""

    def __init__(self, groups: list[_GroupData]):
        keys = groups[0].events if len(groups) == 1 else np.sort(
            np.concatenate([gd.events for gd in groups]))
        self.keys = keys
        self.t = _times(keys)
        self.join = _joins(keys)
        self.count = np.cumsum(np.where(self.join, 1, -1))

    def window(self, w0: float, w1: float) -> tuple[int, int]:
        """Index range of the events inside (w0, w1), and so [first-1] is the state at w0."""
        end = int(np.searchsorted(self.t, w1, side="left"))
        first = int(np.searchsorted(self.t[:end], w0, side="right"))
        return first, end


def _window_max(running: np.ndarray, first: int, end: int) -> float:
    """Largest of the value at w0 (after event first-1) and the values after events
    first..end-1, and 0."""
    at_w0 = float(running[first - 1]) if first > 0 else 0.0
    later = running[first:end]
    best = max(at_w0, float(later.max())) if len(later) else at_w0
    return float(max(best, 0.0))


class _Queues:
    """The _Queue of each set of groups asked for, built once; a set's own can be let go
    of when it is done with (those of single groups serve their hourly series too)."""

    def __init__(self):
        self._made: dict[tuple[int, ...], _Queue] = {}

    def of(self, groups: list[_GroupData]) -> _Queue:
        key = tuple(id(gd) for gd in groups)
        if key not in self._made:
            self._made[key] = _Queue(groups)
        return self._made[key]

    def done_with(self, groups: list[_GroupData]) -> None:
        if len(groups) > 1:
            self._made.pop(tuple(id(gd) for gd in groups), None)


def _queue_max(groups: list[_GroupData], queues: _Queues, w0: float, w1: float,
               weighted: bool) -> float:
    """Largest number (or km) of units waiting at any instant of [w0, w1)."""
    if not groups:
        return 0.0
    q = queues.of(groups)
    first, end = q.window(w0, w1)
    if not weighted:
        return _window_max(q.count, first, end)
    return _window_max(_km_running(groups, queues, end), first, end)


def _km_running(groups: list[_GroupData], queues: _Queues, end: int) -> np.ndarray:
    """Km of units waiting after each of the first ``end`` events of the merged keys: the
    running sum of ±length in time order, leaves before joins and, at one instant, in order
    of the signed length (so the sum is the same number whatever order the groups come in):
    joins of the shortest units first, leaves of the longest first. One stable sort of the
    keys laid out in that order (joins by length up, then leaves by length down) puts every
    event there; the groups' keys are sorted runs, which the sort merges."""
    q = queues.of(groups)
    lengths = sorted({gd.length_km for gd in groups})
    if len(lengths) == 1:
        return np.cumsum(np.where(q.join[:end], lengths[0], -lengths[0]))
    joins, leaves = [], []
    for gd in sorted(groups, key=lambda gd: gd.length_km):
        j = _joins(gd.events)
        joins.append((gd.events[j], gd.length_km))
        leaves.append((gd.events[~j], -gd.length_km))
    parts = joins + leaves[::-1]
    order = np.argsort(np.concatenate([k for k, _ in parts]), kind="stable")[:end]
    return np.cumsum(np.concatenate([np.full(len(k), step) for k, step in parts])[order])


def _metrics(groups: list[_GroupData], queues: _Queues, w0: float, w1: float) -> dict:
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
        hours += gd.hours
        person_hours += gd.hours * gd.persons
    m["queue_mean"] = hours / span
    m["queue_max"] = _queue_max(groups, queues, w0, w1, weighted=False)
    m["queue_max_km"] = _queue_max(groups, queues, w0, w1, weighted=True)
    queues.done_with(groups)   # a merged set's keys are as large as all its groups'
    m["waiting_hours_total"] = hours
    m["person_hours_waiting"] = person_hours
    n_cross = sum(int(np.count_nonzero((gd.all_exit >= w0) & (gd.all_exit < w1)))
                  for gd in groups)
    m["crossed_per_day"] = n_cross / (span / 24.0)
    m["cost_total"] = float(sum(sum(gd.costs.values()) for gd in groups))
    for c in COMPONENTS:
        m[f"cost_{c}"] = float(sum(gd.costs[c] for gd in groups))
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
    m.update(_booking_metrics(groups, w0, w1, crossed))
    m["queue_mean_km"] = float(sum(gd.hours * gd.length_km for gd in groups)) / span
    return m


def _booking_metrics(groups: list[_GroupData], w0: float, w1: float,
                     crossed: np.ndarray) -> dict:
    """The electronic queue: bookings of the window, their lead times, the wait on site and
    off the road of the units that crossed, and units in the virtual queue over time."""
    m: dict[str, float] = {}
    book = np.concatenate([gd.bk_book for gd in groups]) if groups else _EMPTY
    end = np.concatenate([gd.bk_end for gd in groups]) if groups else _EMPTY
    code = np.concatenate([gd.bk_code for gd in groups]) if groups else _EMPTY_CODE
    win = (book >= w0) & (book < w1)
    m["booked"] = float(np.count_nonzero(win & (code != BOOKED_REFUSED)))
    m["refused"] = float(np.count_nonzero(win & (code == BOOKED_REFUSED)))
    m["no_show"] = float(np.count_nonzero(win & (code == BOOKED_NO_SHOW)))
    lead = (end - book)[win & (code == BOOKED_SHOWED)]
    m["booking_lead_mean_h"] = float(lead.mean()) if len(lead) else math.nan
    m["booking_lead_max_h"] = float(lead.max()) if len(lead) else math.nan
    wait = np.concatenate([gd.wait for gd in groups])[crossed] if groups else _EMPTY
    off = np.concatenate([gd.lead for gd in groups])[crossed] if groups else _EMPTY
    m["wait_total_mean_h"] = float((wait + off).mean()) if len(wait) else math.nan
    kept = code != BOOKED_REFUSED
    b, e = book[kept], end[kept]
    hours = float((np.clip(e, w0, w1) - np.clip(b, w0, w1)).sum())
    m["off_road_hours_total"] = hours
    m["waiting_area_mean"] = hours / (w1 - w0)
    m["waiting_area_max"] = _most_at_once(b, e, w0, w1)
    return m


def _most_at_once(start: np.ndarray, end: np.ndarray, w0: float, w1: float) -> float:
    """Most intervals [start, end) open at once at an instant of [w0, w1) (leaves before
    joins at equal times)."""
    if not len(start):
        return 0.0
    t = np.concatenate([end, start])
    step = np.concatenate([-np.ones(len(end)), np.ones(len(start))])
    order = np.lexsort((step, t))
    t, count = t[order], np.cumsum(step[order])
    at_w0 = np.searchsorted(t, w0, side="right")
    before = float(count[at_w0 - 1]) if at_w0 > 0 else 0.0
    inside = count[at_w0:np.searchsorted(t, w1, side="left")]
    return float(max(before, float(inside.max()) if len(inside) else 0.0, 0.0))


# Lower edges of the wait histogram bins, hours: [0, 1 min), then 8 log-spaced bins per
# decade of minutes up to 10^5 min (69 days); the last bin is open above.
WAIT_EDGES_H = np.concatenate([[0.0], 10.0 ** (np.arange(41) / 8) / 60.0])


def _wait_hist(gd: _GroupData) -> np.ndarray:
    wait = gd.wait[gd.code == Outcome.CROSSED]
    bins = np.searchsorted(WAIT_EDGES_H, wait, side="right") - 1
    return np.bincount(bins, minlength=len(WAIT_EDGES_H)).astype(np.int32)


def _series(gd: _GroupData, queues: _Queues, n_hours: int) -> tuple[np.ndarray, ...]:
    """Units waiting at each hour mark (joins minus leaves up to it); units crossed in each
    hour, with the sums of their hours queued and in the system; trips held back, and
    units booked off the road (electronic queue), at each hour mark."""
    marks = np.arange(n_hours, dtype=float)
    q = queues.of([gd])
    at = np.searchsorted(q.t, marks, side="right")
    queue = (np.where(at > 0, q.count[np.maximum(at - 1, 0)], 0) if len(q.t)
             else np.zeros(n_hours, dtype=np.int64))
    edges = np.arange(n_hours + 1, dtype=float)
    crossed = np.histogram(gd.all_exit, bins=edges)[0]
    wait_sum = np.histogram(gd.all_exit, bins=edges, weights=gd.all_exit_wait)[0]
    tis_sum = np.histogram(gd.all_exit, bins=edges, weights=gd.all_exit_tis)[0]
    held = _open_at(gd.held_due, gd.held_end, marks)
    kept = gd.bk_code != BOOKED_REFUSED         # a refused booking never leaves the road
    off_road = _open_at(gd.bk_book[kept], gd.bk_end[kept], marks)
    return queue.astype(float), crossed.astype(float), wait_sum, tis_sum, held, off_road


def _open_at(start: np.ndarray, end: np.ndarray, marks: np.ndarray) -> np.ndarray:
    """How many intervals [start, end) have begun and not ended at each mark (one that
    ends at a mark no longer counts)."""
    return (np.searchsorted(np.sort(start), marks, side="right")
            - np.searchsorted(np.sort(end), marks, side="right")).astype(float)


def measure(eng: Engine, scn: Scenario, replication: int) -> ReplicationResult:
    w0 = scn.warmup
    w1 = scn.duration - scn.cooldown
    data = _group_data(eng, scn, w0, w1)
    sets: dict[tuple[str, str], list[_GroupData]] = {}
    for gd in data:
        for key in ((gd.crossing, gd.cls), (gd.crossing, ALL), (ALL, gd.cls), (ALL, ALL)):
            sets.setdefault(key, []).append(gd)
    queues = _Queues()
    metrics = {key: _metrics(gs, queues, w0, w1) for key, gs in sets.items()}
    costs = {key: {c: float(sum(gd.costs[c] for gd in gs)) for c in COMPONENTS}
             for key, gs in sets.items()}
    n_hours = int(math.ceil(scn.duration))
    own = {(gd.crossing, gd.cls): _series(gd, queues, n_hours) for gd in data}
    queue, crossed, cost, held, off_road = {}, {}, {}, {}, {}
    for key, gs in sets.items():
        queue[key] = np.sum([own[(gd.crossing, gd.cls)][0] for gd in gs], axis=0)
        crossed[key] = np.sum([own[(gd.crossing, gd.cls)][1] for gd in gs], axis=0)
        cost[key] = np.sum([gd.cost_hourly for gd in gs], axis=0)
        held[key] = np.sum([own[(gd.crossing, gd.cls)][4] for gd in gs], axis=0)
        off_road[key] = np.sum([own[(gd.crossing, gd.cls)][5] for gd in gs], axis=0)
    wait_hist = {(gd.crossing, gd.cls): _wait_hist(gd) for gd in data}
    wait_sum = {key: own[key][2] for key in own}
    tis_sum = {key: own[key][3] for key in own}
    return ReplicationResult(replication, metrics, costs, queue, crossed, cost, wait_hist,
                             wait_sum, tis_sum, held, off_road)
