"""What waiting costs, per unit, from its waiting time (SPEC, Scenario file: costs).

All amounts are in the scenario's currency. Costs are computed inside each
replication, so they get intervals like every other metric. For a unit that
waited ``w`` hours in all (censored at the end of the run):

- ``time``       = w × (persons × value of time + vehicle cost per hour)
- ``cargo_time`` = w/24 × cargo value × cargo time cost per day
- ``spoilage``   = perishable share × cargo value × (1 − exp(−rate × max(0, w/24 − after)))
- ``lost``       = the lost-unit value of a unit that reneged or balked
- ``diversion``  = the drive to another crossing, valued like waiting (time and
  cargo time over the travel hours)
- ``held``       = for a trip held back by the visible delay (``behaviour.respond``),
  the hours it was held × cargo value × cargo time cost per day / 24: the load
  reaches its buyer that much later; no time cost (nobody queues). A held trip that
  is given up counts its forgone-unit value (else its lost-unit value) in ``lost``.
- ``off_road``   = for a unit booked in an electronic queue (policy ``appointment``), the
  hours it waited off the road × (persons × value of time + off-road cost per hour +
  cargo value × cargo time cost per day / 24): the driver's and the cargo's time pass,
  the vehicle stands parked (``off_road_cost_per_hour``, by default its
  vehicle_cost_per_hour). Spoilage counts those hours too: ``w`` above is then the
  wait on site plus the wait off the road.

Where a phase gives a class a perishable stream (``perishable_first``), each unit's
load is perishable or not by its own draw (probability perishable_share), so its
spoilage uses a perishable share of 1 or 0: the same expectation, per unit.

:func:`hourly_costs` spreads the same amounts over the hours in which they
accrue, for the time series.
"""

from __future__ import annotations

import math

import numpy as np

from bordersim.scenario import CargoShare, ClassSpec, Economics

__all__ = ["COMPONENTS", "unit_costs", "hourly_costs", "lost_value", "held_costs",
           "hourly_held_costs"]

COMPONENTS = ("time", "cargo_time", "spoilage", "lost", "diversion", "held", "off_road")


def _per_hour(econ: Economics, cls: str, spec: ClassSpec) -> float:
    """Cost of one hour of a unit's waiting, cargo aside."""
    return (spec.persons * econ.value_of_time_per_person_hour
            + econ.vehicle_cost_per_hour.get(cls, 0.0))


def _cargo_per_hour(econ: Economics, cargo: np.ndarray) -> np.ndarray:
    """Cost of one hour's delay to each cargo value (Hummels–Schaur rate)."""
    return cargo * econ.cargo_time_cost_per_day / 24.0


def _spoils(econ: Economics, spec: ClassSpec) -> bool:
    return econ.spoilage is not None and spec.perishable_share > 0


def _off_road_per_hour(econ: Economics, cls: str, spec: ClassSpec) -> float:
    """Cost of one hour waited off the road, cargo aside."""
    vehicle = econ.off_road_cost_per_hour.get(cls, econ.vehicle_cost_per_hour.get(cls, 0.0))
    return spec.persons * econ.value_of_time_per_person_hour + vehicle


def _spoiled(econ: Economics, spec: ClassSpec, cargo: np.ndarray,
             wait_h: np.ndarray, share: np.ndarray | None = None) -> np.ndarray:
    if not _spoils(econ, spec):
        return np.zeros(len(wait_h))
    late_days = np.maximum(0.0, wait_h / 24.0 - econ.spoilage.after / 24.0)
    share = spec.perishable_share if share is None else share
    return share * cargo * -np.expm1(-econ.spoilage.rate_per_day * late_days)


def lost_value(econ: Economics, cls: str, cargo: np.ndarray | None, n: int,
               forgone: bool = False) -> np.ndarray:
    """What each unit of the class loses if it gives up its trip (``forgone``: before
    setting off, when the class has a forgone_unit_value)."""
    value = econ.lost_unit_value.get(cls)
    if forgone and cls in econ.forgone_unit_value:
        value = econ.forgone_unit_value[cls]
    if value is None:
        return np.zeros(n)
    if value == "cargo":
        return cargo.copy() if cargo is not None else np.zeros(n)
    if isinstance(value, CargoShare):
        return value.cargo_share * cargo if cargo is not None else np.zeros(n)
    return np.full(n, float(value))


def unit_costs(econ: Economics | None, cls: str, spec: ClassSpec, wait_h: np.ndarray,
               cargo: np.ndarray | None, gave_up: np.ndarray,
               travel_h: np.ndarray | None = None, off_road_h: np.ndarray | None = None,
               perishable: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Cost components of each unit of one class.

    ``wait_h``: hours queued over all stages (censored at the end of the run);
    ``cargo``: each unit's cargo value, or None for classes without cargo;
    ``gave_up``: True for units that reneged or balked;
    ``travel_h``: hours driven to another crossing (0 for units that stayed);
    ``off_road_h``: hours waited booked, off the road (electronic queue);
    ``perishable``: each unit's own perishable share, where loads are told apart.
    """
    n = len(wait_h)
    zero = np.zeros(n)
    if econ is None:
        return {c: zero for c in COMPONENTS}
    per_hour = _per_hour(econ, cls, spec)
    travel = zero if travel_h is None else travel_h
    cargo_rate = np.zeros(n) if cargo is None else _cargo_per_hour(econ, cargo)
    off = zero if off_road_h is None else off_road_h
    spoil_h = wait_h if off_road_h is None else wait_h + off_road_h
    return {
        "time": wait_h * per_hour,
        "cargo_time": wait_h * cargo_rate,
        "spoilage": zero if cargo is None else _spoiled(econ, spec, cargo, spoil_h,
                                                        perishable),
        "lost": np.where(gave_up, lost_value(econ, cls, cargo, n), 0.0),
        "diversion": travel * (per_hour + cargo_rate),
        "held": zero,
        "off_road": off * (_off_road_per_hour(econ, cls, spec) + cargo_rate),
    }


def held_costs(econ: Economics | None, cls: str, hold_h: np.ndarray,
               cargo: np.ndarray | None, forgone: np.ndarray) -> dict[str, np.ndarray]:
    """Costs of trips held back before setting off: the cargo's time over the hold
    (``held``) and the lost-unit value of those given up (``lost``)."""
    n = len(hold_h)
    if econ is None:
        return {"held": np.zeros(n), "lost": np.zeros(n)}
    rate = np.zeros(n) if cargo is None else _cargo_per_hour(econ, cargo)
    return {"held": hold_h * rate,
            "lost": np.where(forgone, lost_value(econ, cls, cargo, n, forgone=True), 0.0)}


def hourly_held_costs(econ: Economics | None, n_hours: int, due: np.ndarray,
                      end: np.ndarray, cargo: np.ndarray | None, forgone_at: np.ndarray,
                      forgone_value: np.ndarray) -> np.ndarray:
    """Cost of held trips accrued in each hour: cargo time over each hold, and the value
    of a trip given up in the hour it is given up."""
    out = np.zeros(n_hours)
    if econ is None or not len(due):
        return out
    if cargo is not None and econ.cargo_time_cost_per_day > 0:
        out += _accrued_linear(due, np.minimum(end, float(n_hours)),
                               _cargo_per_hour(econ, cargo), n_hours)
    if len(forgone_at):
        out += np.histogram(forgone_at, bins=np.arange(n_hours + 1, dtype=float),
                            weights=forgone_value)[0]
    return out


def _accrued_linear(join: np.ndarray, leave: np.ndarray, rate: np.ndarray,
                    n_hours: int) -> np.ndarray:
    """Per hour, Σ rate × (time each interval overlaps that hour): A(h+1) − A(h) with
    A(t) = Σ rate·clip(t − join, 0, leave − join), evaluated from sorted prefix sums."""
    marks = np.arange(n_hours + 1, dtype=float)
    oj = np.argsort(join, kind="stable")
    ol = np.argsort(leave, kind="stable")
    js, jr = join[oj], rate[oj]
    ls, lr = leave[ol], rate[ol]
    cj_r = np.concatenate([[0.0], np.cumsum(jr)])
    cj_rt = np.concatenate([[0.0], np.cumsum(jr * js)])
    cl_r = np.concatenate([[0.0], np.cumsum(lr)])
    cl_rt = np.concatenate([[0.0], np.cumsum(lr * ls)])
    kj = np.searchsorted(js, marks, side="right")
    kl = np.searchsorted(ls, marks, side="right")
    a = (cj_r[kj] * marks - cj_rt[kj]) - (cl_r[kl] * marks - cl_rt[kl])
    return np.diff(a)


def _accrued_spoilage(econ: Economics, spec: ClassSpec, join: np.ndarray, leave: np.ndarray,
                      wait0: np.ndarray, cargo: np.ndarray, n_hours: int,
                      share: np.ndarray | None = None) -> np.ndarray:
    """Spoilage accrues as a unit's total waiting passes ``after``, in closed form per queue
    visit: memory grows with visits plus hours, never with visits × hours.

    A visit spoils from ``s`` (when its total waiting passes ``after``) until it leaves;
    with ``E(t) = exp(-rate × late days at t)``, hour ``h`` gets ``value × (E(a) - E(b))``
    over the piece ``[a, b)`` of the visit inside it. The first and last hours of a
    visit are pieces of their own; over every whole hour between, ``E`` falls by the same
    factor ``q = exp(-rate/24)``, so those hours form a geometric sequence whose sum over
    all visits is one first-order recurrence, ``y[h] = q·y[h-1] + started[h] - ended[h]``
    (each visit entering at its first whole hour and leaving after its last)."""
    out = np.zeros(n_hours)
    after = econ.spoilage.after
    rate = econ.spoilage.rate_per_day
    start_late = np.maximum(join, join + (after - wait0))   # when this visit passes `after`
    keep = (leave > start_late) & (start_late < n_hours)
    if n_hours == 0 or not keep.any():
        return out
    j, lv, w0 = join[keep], leave[keep], wait0[keep]
    value = (spec.perishable_share if share is None else share[keep]) * cargo[keep]
    s = start_late[keep]

    def curve(t: np.ndarray, k: np.ndarray | slice = slice(None)) -> np.ndarray:
        late_days = np.maximum(0.0, (w0[k] + (t - j[k]) - after) / 24.0)
        return np.exp(-rate * late_days)

    first = np.floor(s)
    last = np.floor(lv)                       # the hour holding the end
    head_end = np.minimum(lv, first + 1.0)    # the first hour's piece: [s, head_end)
    np.add.at(out, first.astype(np.int64), value * (curve(s) - curve(head_end)))
    tail = np.flatnonzero((last > first) & (last < n_hours) & (lv > last))
    np.add.at(out, last[tail].astype(np.int64),
              value[tail] * (curve(last[tail], tail) - curve(lv[tail], tail)))
    m = first + 1.0                           # whole hours m .. g-1, inside the run
    g = np.minimum(last, n_hours)
    whole = np.flatnonzero(g > m)
    if len(whole):
        q, c = math.exp(-rate / 24.0), -math.expm1(-rate / 24.0)
        steps = np.zeros(n_hours + 1)
        np.add.at(steps, m[whole].astype(np.int64),
                  value[whole] * c * curve(m[whole], whole))
        np.add.at(steps, g[whole].astype(np.int64),
                  -value[whole] * c * curve(g[whole], whole))
        out += _geometric_running(steps, q)[:n_hours]
    return out


def _geometric_running(x: np.ndarray, q: float) -> np.ndarray:
    """y[h] = x[h] + q·y[h-1], y[-1] = 0: one pass over the hours (a few thousand), as a
    first-order IIR filter computes it, term for term."""
    y = [0.0] * len(x)
    acc = 0.0
    for h, v in enumerate(x.tolist()):
        acc = v + q * acc
        y[h] = acc
    return np.asarray(y)


def hourly_costs(econ: Economics | None, cls: str, spec: ClassSpec, n_hours: int,
                 join: np.ndarray, leave: np.ndarray, wait0: np.ndarray,
                 visit_cargo: np.ndarray | None, gave_up_at: np.ndarray,
                 gave_up_value: np.ndarray, diverted_at: np.ndarray,
                 diversion_cost: np.ndarray, visit_share: np.ndarray | None = None,
                 off_road: tuple | None = None) -> np.ndarray:
    """Cost accrued in each hour of the run by one crossing × class, all units included.

    ``visit_share``: each visit's unit's own perishable share, where loads are told apart;
    ``off_road``: (booked, left, cargo, share) of the waits off the road, one per booking
    (``wait0`` of the visits on site then includes them)."""
    out = np.zeros(n_hours)
    if econ is None:
        return out
    rate = np.full(len(join), _per_hour(econ, cls, spec))
    if visit_cargo is not None:
        rate = rate + _cargo_per_hour(econ, visit_cargo)
    if len(join):
        out += _accrued_linear(join, leave, rate, n_hours)
        if visit_cargo is not None and _spoils(econ, spec):
            out += _accrued_spoilage(econ, spec, join, leave, wait0, visit_cargo, n_hours,
                                     visit_share)
    if off_road is not None and len(off_road[0]):
        booked, left, cargo, share = off_road
        rate = np.full(len(booked), _off_road_per_hour(econ, cls, spec))
        if cargo is not None:
            rate = rate + _cargo_per_hour(econ, cargo)
        out += _accrued_linear(booked, left, rate, n_hours)
        if cargo is not None and _spoils(econ, spec):
            out += _accrued_spoilage(econ, spec, booked, left, np.zeros(len(booked)), cargo,
                                     n_hours, share)
    bins = np.arange(n_hours + 1, dtype=float)
    if len(gave_up_at):
        out += np.histogram(gave_up_at, bins=bins, weights=gave_up_value)[0]
    if len(diverted_at):
        out += np.histogram(diverted_at, bins=bins, weights=diversion_cost)[0]
    return out


