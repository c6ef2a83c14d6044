"""The electronic queue (policy ``appointment``) in small cases worked out by hand.

Deterministic arrivals and service times make every call, slot, arrival on site and
service start exact. Unit k (0-based) of demand D per day arrives at (k + 1)·24/D hours.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from test_exact_cases import group, lane, outcomes, run, scenario, stage

from bordersim.experiment import simulate
from bordersim.model import Outcome
from bordersim.model.booking import (
    BOOKED_AT_END,
    BOOKED_NO_SHOW,
    BOOKED_REFUSED,
    BOOKED_RENEGED,
    BOOKED_SHOWED,
)

C, R, B, W, S = (Outcome.CROSSED, Outcome.RENEGED, Outcome.BALKED, Outcome.WAITING_AT_END,
                 Outcome.IN_SERVICE_AT_END)


def booked(**appt) -> list[dict]:
    return [{"at": "0h", "appointment": {"truck": appt}}]


def bookings(eng, cls="truck"):
    """(unit, booked at, left the virtual queue at, how) of every booking, by unit."""
    rec = group(eng, cls).booking.records()
    rows = zip(rec["unit"].tolist(), rec["book"].tolist(), rec["end"].tolist(),
               rec["code"].tolist(), strict=True)
    return sorted(rows)


def starts(eng, cls="truck"):
    """unit -> when its (only) service began: the end of its queue visit."""
    g = group(eng, cls)
    return dict(zip(g.q_unit.tolist(), g.q_leave.tolist(), strict=True))


def test_every_unit_booked_waits_on_site_only_the_slot_slack():
    """Two trucks an hour (T_k at 0.5(k+1)), one slot an hour, one booth of 30 min.
    The slot server calls T_k at c_k = 0.5 + k (T_0 books at 0.5 and is called at once;
    then one call an hour); its slot is 1 h after the call (notice), it reaches the site
    15 min before it and is served at its slot: on site exactly 15 min, crossing at slot +
    30 min; its lead time c_k + 0.75 − 0.5(k+1) = 0.75 + 0.5k grows as the fluid backlog
    (one more booked unit ahead every hour) ÷ the slot rate."""
    scn = scenario(demand={"truck": 48}, duration="12h", stages=[stage(lanes=[lane(
        truck="30min")])], policy=booked(slots_per_day=24, notice="1h", arrive_early="15min"))
    eng = run(scn)
    rows = bookings(eng)
    assert len(rows) == 23     # arrivals at 0.5, 1.0, ..., 11.5
    first_start = starts(eng)
    for k, book, end, code in rows:
        assert book == 0.5 * (k + 1)
        call = 0.5 + k
        slot = call + 1.0
        if slot - 0.25 < 12.0:
            assert (end, code) == (slot - 0.25, BOOKED_SHOWED), k
            assert end - book == pytest.approx(0.75 + 0.5 * k, abs=1e-12)
        else:
            assert (math.isnan(end), code) == (True, BOOKED_AT_END), k
        if slot < 12.0:
            assert first_start[k] == slot, k
    out = outcomes(eng)
    for k, (arr, wait, exit_, code) in enumerate(out):
        slot = 1.5 + k
        if slot + 0.5 < 12.0:
            assert (arr, wait, exit_, code) == (0.5 * (k + 1), 0.25, slot + 0.5, C), k
    res = simulate(scn, 0)
    m = res.metrics[("x", "truck")]
    # off the road at hour mark h: booked by h (two an hour) less those gone to the site by
    # h (at k + 1.25): h + 1 from h = 1
    assert res.off_road[("x", "truck")].tolist() == [0.0, *(h + 1.0 for h in range(1, 12))]
    crossed = [k for k in range(23) if 1.5 + k + 0.5 < 12.0]
    assert m["wait_mean_h"] == pytest.approx(0.25)
    assert m["wait_max_h"] == pytest.approx(0.25)
    assert m["wait_total_mean_h"] == pytest.approx(np.mean([1.0 + 0.5 * k for k in crossed]))
    showed = [k for k in range(23) if 1.5 + k - 0.25 < 12.0]
    assert m["booking_lead_mean_h"] == pytest.approx(np.mean([0.75 + 0.5 * k for k in showed]))
    assert m["booked"] == 23 and m["refused"] == 0 and m["no_show"] == 0
    assert m["queue_max"] == 1      # the one truck in its 15 minutes of slack


def test_lead_time_is_backlog_over_slot_rate_with_slots_tied_to_capacity():
    """Slots at the lane's capacity (booth of 20 min: 3 an hour, capacity_share 1), six
    trucks an hour (T_k at (k + 1)/6): T_k is called at 1/6 + k/3 and served at once, so
    it waits nothing on site, and its lead (k/6) is the backlog ahead of it, k/2 units,
    ÷ 3 slots an hour."""
    scn = scenario(demand={"truck": 144}, duration="6h", stages=[stage(lanes=[lane(
        truck="20min")])], policy=booked(capacity_share=1.0))
    eng = run(scn)
    start = starts(eng)
    for k, book, end, code in bookings(eng):
        call = 1 / 6 + k / 3
        if call < 6.0:
            assert code == BOOKED_SHOWED
            assert end == pytest.approx(call, abs=1e-9)
            assert end - book == pytest.approx((k / 2) / 3, abs=1e-9)
            assert start[k] == pytest.approx(call, abs=1e-9)
    g = group(eng)
    assert np.all(g.q_leave - g.q_join == 0)


def test_a_live_share_splits_the_backlog_as_worked_out_by_hand():
    """Ten trucks an hour, 3 in 10 without a booking (evenly spread); 5 slots an hour;
    one booth of 10 min (6 an hour). Booked trucks (7 an hour) outrun the slots by 2 an
    hour: the virtual queue grows by 2 an hour. Booked trucks take 5 of the booth's 6
    services an hour, leaving 1 for the 3 live trucks: the road queue grows by 2 an hour.
    After 50 h: about 100 in each, and each has held about 2t units at time t (a mean of 50)."""
    scn = scenario(demand={"truck": 240}, duration="50h", stages=[stage(lanes=[lane(
        truck="10min")])], policy=booked(slots_per_day=120, live_share=0.3))
    eng = run(scn)
    rows = bookings(eng)
    assert len(rows) == 350          # 7 of every 10 of the 499 arrivals before 50 h (+1)
    live = sorted(set(range(499)) - {k for k, *_ in rows})
    assert live[:6] == [3, 6, 9, 13, 16, 19]
    still_booked = sum(1 for *_, code in rows if code == BOOKED_AT_END)
    waiting = [o for o in outcomes(eng) if o[3] == W]    # off the road or on it
    road = len(waiting) - still_booked
    assert abs(still_booked - 100) <= 2, still_booked
    assert abs(road - 100) <= 2, road
    m = simulate(scn, 0).metrics[("x", "truck")]
    assert m["waiting_area_max"] == pytest.approx(100, abs=2)
    assert m["waiting_area_mean"] == pytest.approx(50, abs=1.5)
    assert m["queue_mean"] == pytest.approx(50, abs=1.5)
    assert m["booked"] == 350


def test_the_standing_queue_clears_before_booked_units_are_served():
    """Four trucks an hour at a 30 min booth: T_j starts at 0.25 + 0.5j, so by 5.1 h, 20
    have arrived, T_9 is in service (until 5.25 h) and T_10..T_19 stand in the queue. The
    electronic queue starts at 5.1 h with slots at capacity (2 an hour): the first slot
    comes when 2 an hour would have cleared those 10, at 10.1 h; the standing queue is
    served back to back until T_19 leaves the booth at 10.25 h, when the first booked
    truck (T_20, booked at 5.25 h) starts."""
    scn = scenario(demand={"truck": 96}, duration="20h", stages=[stage(lanes=[lane(
        truck="30min")])],
        policy=[{"at": "5.1h", "appointment": {"truck": {"capacity_share": 1.0}}}])
    eng = run(scn)
    start = starts(eng)
    standing = [k for k in range(20) if start.get(k, math.inf) > 5.1]
    assert standing == list(range(10, 20))
    rows = bookings(eng)
    assert rows[0][:2] == (20, 5.25)
    first_call = rows[0][2]
    assert first_call == pytest.approx(5.1 + 10 / 2)
    booked_starts = [start[k] for k, *_ in rows if k in start]
    assert max(start[k] for k in standing) < min(booked_starts)
    assert [start[k] for k in standing] == [5.25 + 0.5 * j for j in range(10)]
    assert min(booked_starts) == 10.25


def test_perishable_loads_are_called_first():
    """Perishable loads (each unit's own draw, half of them) go ahead of the others in the
    virtual queue: no general unit is ever called while a perishable one booked before the
    call is still waiting, and perishable loads wait far less."""
    classes = {"truck": {"cargo_value": 1000, "perishable_share": 0.5}}
    scn = scenario(demand={"truck": 48}, duration="48h", classes=classes,
                   stages=[stage(lanes=[lane(truck="30min")])],
                   policy=booked(slots_per_day=36, perishable_first=True))
    eng = run(scn)
    g = group(eng)
    perishable = np.asarray(g.attrs[("perishable",)]) < 0.5
    rows = [r for r in bookings(eng) if r[3] == BOOKED_SHOWED]
    for k, _book, call, _ in rows:
        if not perishable[k]:
            overtaken = [j for j, b, c, _ in rows if perishable[j] and b < call and c > call]
            assert not overtaken, (k, overtaken)
    lead_p = [c - b for k, b, c, _ in rows if perishable[k]]
    lead_g = [c - b for k, b, c, _ in rows if not perishable[k]]
    assert max(lead_p) < 1.0 < np.mean(lead_g)


def test_a_booking_beyond_the_horizon_is_refused_or_queues_on_the_road():
    """Two trucks an hour, one slot an hour, horizon 3 h: T_k's lead would be 0.5k, so
    T_0..T_6 book (lead 0 to 3 h) and later trucks are refused while the lead stays over
    3 h. Refused trucks leave (balked); with over_horizon: queue they join the road queue
    instead, behind booked trucks."""
    base = dict(demand={"truck": 48}, duration="12h",
                stages=[stage(lanes=[lane(truck="30min")])])
    eng = run(scenario(**base, policy=booked(slots_per_day=24, horizon="3h")))
    rows = bookings(eng)
    assert [k for k, *_, code in rows if code != BOOKED_REFUSED][:7] == list(range(7))
    assert rows[7][3] == BOOKED_REFUSED
    for _k, book, end, code in rows:
        if code == BOOKED_SHOWED:
            assert end - book <= 3.0 + 1e-12
    codes = {k: c for k, _, _, c in rows}
    out = group(eng)
    for i, code in zip(out.out_unit.tolist(), out.out_code.tolist(), strict=True):
        if codes[i] == BOOKED_REFUSED:
            assert code == B
    eng = run(scenario(**base, policy=booked(slots_per_day=24, horizon="3h",
                                             over_horizon="queue")))
    rows = bookings(eng)
    refused = [k for k, *_, code in rows if code == BOOKED_REFUSED]
    assert refused == []     # they did not book: no booking row, a road queue visit instead
    g = group(eng)
    assert 7 in g.q_unit.tolist() and 7 not in {k for k, *_ in rows}


def test_no_shows_lose_their_slot_and_give_up():
    """Every booked truck fails to show (no_show 1): each leaves at its call (reneged),
    nobody is ever served."""
    scn = scenario(demand={"truck": 24}, duration="6h",
                   stages=[stage(lanes=[lane(truck="30min")])],
                   policy=booked(slots_per_day=24, no_show=1.0))
    eng = run(scn)
    rows = bookings(eng)
    assert [(b, e, c) for _, b, e, c in rows] == [(float(t), float(t), BOOKED_NO_SHOW)
                                                  for t in range(1, 6)]
    assert [o[3] for o in outcomes(eng)] == [R] * 5
    assert len(group(eng).q_join) == 0


def test_patience_runs_off_the_road_too():
    """Patience 2.2 h: T_k's lead would be 0.5k, so T_0..T_4 are called in time (at
    0.5 + k); T_5 (booked at 3 h, due a call at 5.5 h) gives up off the road at 5.2 h
    (reneged), so T_6 (booked at 3.5 h) gets the 5.5 h call, T_7 gives up, and so on:
    every odd T_k from T_5 gives up 2.2 h after booking, every even one is called at
    2.5 + k/2."""
    scn = scenario(demand={"truck": 48}, duration="12h",
                   stages=[stage(lanes=[lane(truck="30min")])],
                   behaviour={"patience": {"truck": "2.2h"}},
                   policy=booked(slots_per_day=24))
    eng = run(scn)
    rows = bookings(eng)
    for k, book, end, code in rows:
        if k < 5:
            assert (end, code) == (0.5 + k, BOOKED_SHOWED), k
        elif k % 2 and book + 2.2 < 12:
            assert (end, code) == (pytest.approx(book + 2.2), BOOKED_RENEGED), k
        elif 2.5 + k / 2 < 12:
            assert (end, code) == (2.5 + k / 2, BOOKED_SHOWED), k
    out = {o[0]: o for o in outcomes(eng)}
    assert out[3.0][2:] == (pytest.approx(5.2), R)


def test_off_road_hours_cost_their_own_rate():
    """The first case's trucks, with costs: on site 15 min at the road rate (1 person ×
    2/h + 10/h vehicle); off the road their lead at 2/h + 3/h (parked) + cargo 24,000 ×
    0.01/day = 10/h; spoilage counts both waits."""
    classes = {"truck": {"cargo_value": 24000, "perishable_share": 0.5}}
    scn = scenario(demand={"truck": 48}, duration="12h", classes=classes,
                   stages=[stage(lanes=[lane(truck="30min")])],
                   policy=booked(slots_per_day=24, notice="1h", arrive_early="15min"),
                   economics={"value_of_time_per_person_hour": 2.0,
                              "vehicle_cost_per_hour": {"truck": 10.0},
                              "off_road_cost_per_hour": {"truck": 3.0},
                              "cargo_time_cost_per_day": 0.01,
                              "spoilage": {"rate_per_day": 0.1, "after": "1h"}})
    res = simulate(scn, 0)
    costs = res.costs[("x", "truck")]
    m = res.metrics[("x", "truck")]
    leads = [0.75 + 0.5 * k for k in range(23) if 1.5 + k - 0.25 < 12.0]
    at_end = [12.0 - 0.5 * (k + 1) for k in range(23) if 1.5 + k - 0.25 >= 12.0]
    off = sum(leads) + sum(at_end)
    assert m["off_road_hours_total"] == pytest.approx(off)
    assert costs["off_road"] == pytest.approx(off * (2.0 + 3.0 + 10.0))
    on_site = 0.25 * len(leads)     # T_0..T_10, each on site from slot − 15 min to its slot
    assert costs["time"] == pytest.approx(m["waiting_hours_total"] * 12.0)
    assert m["waiting_hours_total"] == pytest.approx(on_site)
    assert costs["cargo_time"] == pytest.approx(on_site * 10.0)
    # spoilage: 0.5 × 24,000 × (1 − exp(−0.1 × max(0, (lead + on site − 1 h) / 24)))
    waits = [lead + 0.25 for lead in leads] + at_end
    expect = sum(12000 * -math.expm1(-0.1 * max(0.0, (w - 1.0) / 24)) for w in waits)
    assert costs["spoilage"] == pytest.approx(expect)
    hourly = res.cost[("x", "truck")]
    assert hourly.sum() == pytest.approx(sum(costs.values()))


def test_serve_early_lets_a_free_booth_take_a_booked_unit_before_its_slot():
    """The first case with serve_early: T_k reaches the site 15 min before its slot and the
    booth, free since 30 min before the slot, takes it at once: no wait on site, crossing
    15 min earlier (at slot + 15 min)."""
    scn = scenario(demand={"truck": 48}, duration="12h", stages=[stage(lanes=[lane(
        truck="30min")])], policy=booked(slots_per_day=24, notice="1h", arrive_early="15min",
                                         serve_early=True))
    out = outcomes(run(scn))
    for k, (arr, wait, exit_, code) in enumerate(out):
        slot = 1.5 + k
        if slot + 0.25 < 12.0:
            assert (arr, wait, exit_, code) == (0.5 * (k + 1), 0.0, slot + 0.25, C), k
