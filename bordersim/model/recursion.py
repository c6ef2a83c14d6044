"""The exact fast path: a first-come first-served lane of c booths, without events.

For one class in one lane, units start in arrival order, each as soon as a booth is
free (Kiefer–Wolfowitz): with the finish times of the units in service in a heap,
unit n starts at max(arrival, the booth that frees first) and frees it
service × factor later. Policy phases make it a time-varying recursion: booths
staffed, the class closed or open and the service factor change at phase times,
and a change applies to every start from its time on (lowering booths never
interrupts a unit in service). Patience: a unit whose deadline comes before its
start reneges at the deadline.

Every time is computed with the same floating-point operations, in the same order,
as the event engine (:mod:`bordersim.model.engine`) computes it, and the records come
out in the order the event engine writes them, so the results are the same to the
bit. Where the order of two events at one instant would decide something the
recursion cannot see (a deadline falling exactly when a booth frees, a renege at the
instant another unit starts or leaves), it raises :class:`NotExact` and the caller
runs that part in the event engine instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from heapq import heapify, heapreplace

import numpy as np

from bordersim.model.records import Outcome, Records

__all__ = ["NotExact", "LaneSettings", "fifo_lane"]

_INF = math.inf


class NotExact(Exception):
    """Two events at one instant whose order the recursion does not know."""


@dataclass(frozen=True)
class LaneSettings:
    """What a policy phase sets for one class in its lane."""

    booths: int
    closed: bool
    factor: float


def fifo_lane(clock: np.ndarray, times: np.ndarray, service: np.ndarray,
              patience: np.ndarray | None, start: LaneSettings,
              changes: list[tuple[float, LaneSettings]], horizon: float) -> Records:
    """Records of the units of one class through one FIFO lane, as the event engine would
    write them. ``clock``: each unit's arrival on the simulation clock; ``times``: its drawn
    arrival time (which orders the units); ``service``, ``patience``: hours per unit;
    ``start``: the settings at time 0; ``changes``: (time, settings) in the order they apply,
    only those before ``horizon``."""
    order = np.argsort(times, kind="stable")
    a = clock[order]
    come = int(np.searchsorted(a, horizon, side="left"))   # events at the horizon never run
    order, a = order[:come], a[:come]
    s_list, e_list, r_list = _serve(a.tolist(), service[order].tolist(),
                                    None if patience is None else patience[order].tolist(),
                                    start, changes, horizon)
    s = np.asarray(s_list)
    e = np.asarray(e_list)
    r = np.asarray(r_list)
    return _records(order, a, s, e, r, horizon)


def _serve(a: list[float], svc: list[float], pat: list[float] | None, settings: LaneSettings,
           changes: list[tuple[float, LaneSettings]], horizon: float):
    """Start, finish and renege time of each unit (NaN where it has none).

    ``slots`` holds one time per staffed booth: when it is free (a finish time, or the time
    the booth opened). Unit k starts at the earliest of them, or on arrival if later. When
    booths are cut, the booths that free first leave the heap for ``retired`` (their units
    finish, but no one takes their place); when booths are added, those come back first,
    then new booths free from the phase's start."""
    nan = math.nan
    n = len(a)
    s_out, e_out, r_out = [nan] * n, [nan] * n, [nan] * n
    slots: list[float] = [0.0] * max(settings.booths, 0)
    retired: list[float] = []
    shut, f = settings.closed or settings.booths <= 0, settings.factor
    floor = 0.0                   # no start before the last change that applied
    j, n_changes = 0, len(changes)
    nxt = changes[0][0] if changes else _INF
    k = 0
    while k < n:
        if pat is None and not shut:
            # the common case, tightly: open, no patience, until a phase or the horizon
            limit = nxt if nxt < horizon else horizon
            while k < n:
                ak = a[k]
                top = slots[0]
                cand = ak if ak > top else top
                if floor > cand:
                    cand = floor
                if cand >= limit:
                    break
                end = cand + svc[k] * f
                s_out[k], e_out[k] = cand, end
                heapreplace(slots, end)
                k += 1
            if k >= n:
                break
        ak = a[k]
        k += 1
        while True:
            if shut:
                cand = _INF
            else:
                top = slots[0]
                cand = ak if ak > top else top
                if floor > cand:
                    cand = floor
            if nxt <= cand and j < n_changes:   # a phase starts first: it applies
                ch = changes[j][1]
                slots, retired = _restaff(slots, retired, ch.booths, nxt)
                f = ch.factor
                shut = ch.closed or ch.booths <= 0
                floor = nxt
                j += 1
                nxt = changes[j][0] if j < n_changes else _INF
                continue
            break
        i = k - 1
        if pat is not None and cand > ak:
            due = ak + max(0.0, pat[i] - 0.0)
            if due < cand:
                if due < horizon:
                    r_out[i] = due
                continue
            if due == cand < horizon:
                raise NotExact("a deadline falls when a booth frees")
        if cand >= horizon:
            if pat is None:
                break             # first come, first served: nobody after starts either
            continue
        end = cand + svc[i] * f
        s_out[i], e_out[i] = cand, end
        heapreplace(slots, end)
    return s_out, e_out, r_out


def _restaff(slots: list[float], retired: list[float], booths: int,
             at: float) -> tuple[list[float], list[float]]:
    """The booths' free times after the number staffed changes to ``booths`` at ``at``: the
    latest-freeing of all booths that are or were staffed keep serving (a cut never
    interrupts a unit in service), plus new booths free from ``at``."""
    times = sorted(slots + retired)
    booths = max(booths, 0)
    if booths <= len(times):
        keep, retired = times[len(times) - booths:], times[:len(times) - booths]
    else:
        keep, retired = times + [at] * (booths - len(times)), []
    heapify(keep)
    return keep, retired


def _records(order: np.ndarray, a: np.ndarray, s: np.ndarray, e: np.ndarray, r: np.ndarray,
             horizon: float) -> Records:
    """Visits and outcomes in the event engine's order: as they happen (a start or a renege
    ends a visit; a finish or a renege ends a unit's stay), then, at the end, every unit
    still there, in arrival order."""
    started = ~np.isnan(s)
    reneged = ~np.isnan(r)
    crossed = started & (e < horizon)
    if reneged.any():
        rt = r[reneged]
        if np.isin(rt, s[started]).any() or np.isin(rt, e[crossed]).any():
            raise NotExact("a renege at the instant another unit starts or leaves")
    # visits closed during the run: starts (in arrival order, so in time order) and reneges
    run_q = np.flatnonzero(started | reneged)
    t_q = np.where(started, s, r)[run_q]
    if reneged.any():
        run_q = run_q[np.argsort(t_q, kind="stable")]
    waiting = ~(started | reneged)
    end_q = np.flatnonzero(waiting)
    q_pos = np.concatenate([run_q, end_q])
    q_join = a[q_pos]
    q_leave = np.concatenate([np.where(started, s, r)[run_q], np.full(len(end_q), horizon)])
    # outcomes during the run: finishes and reneges, in time order (ties: arrival order)
    run_o = np.flatnonzero(crossed | reneged)
    t_o = np.where(crossed, e, r)[run_o]
    run_o = run_o[np.argsort(t_o, kind="stable")]
    end_o = np.flatnonzero(~(crossed | reneged))
    o_pos = np.concatenate([run_o, end_o])
    code = np.empty(len(a), dtype=np.int8)
    code[crossed] = Outcome.CROSSED
    code[reneged] = Outcome.RENEGED
    code[started & ~crossed] = Outcome.IN_SERVICE_AT_END
    code[waiting] = Outcome.WAITING_AT_END
    left = np.where(started, s, np.where(reneged, r, horizon))
    wait = 0.0 + (left - a)
    exit_ = np.where(crossed, e, np.where(reneged, r, np.nan))
    units = order.astype(np.int64)
    return Records(q_join, q_leave, units[q_pos], np.zeros(len(q_pos)), units[o_pos],
                   wait[o_pos], exit_[o_pos], code[o_pos], np.zeros(len(o_pos)))
