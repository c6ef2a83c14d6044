"""Small deterministic cases with every event time worked out by hand.

Deterministic arrivals (demand D per day: unit k arrives at k·24/D hours) and fixed
service times make every start, exit and wait exact; each test states the timeline
it expects in its docstring and asserts all of it. Truck k below is written Tk and
arrives at k hours unless said otherwise.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from bordersim.experiment import simulate
from bordersim.loading import scenario_from_dict
from bordersim.model import Outcome, run_model

NAN = math.nan
C, R, B, W, S = (Outcome.CROSSED, Outcome.RENEGED, Outcome.BALKED, Outcome.WAITING_AT_END,
                 Outcome.IN_SERVICE_AT_END)


# ---- building scenarios ------------------------------------------------------------------

def lane(name="l", serves=("truck",), booths=1, service=None, **svc):
    return {"name": name, "serves": list(serves), "booths": booths,
            "service": service if service is not None else svc}


def stage(name="s", lanes=None, secondary=None):
    out = {"name": name, "lanes": lanes or [lane(truck="30min")]}
    if secondary:
        out["secondary"] = secondary
    return out


def scenario(stages=None, demand=None, policy=(), behaviour=None, start="2017-10-01",
             duration="10h", classes=None, profile=None, more_crossings=None, **extra):
    crossing = {"demand": demand or {"truck": 24}, "arrival_process": "deterministic",
                "stages": stages or [stage()]}
    if profile is not None:
        crossing["profile"] = profile
    data = {
        "name": "exact",
        "start": start,
        "duration": duration,
        "classes": classes or {"truck": {}},
        "crossings": {"x": crossing, **(more_crossings or {})},
        "policy": list(policy),
        **extra,
    }
    if behaviour:
        data["behaviour"] = behaviour
    return scenario_from_dict(data).scenario


def run(scn):
    return run_model(scn, replication=0, seed=1)


def group(eng, cls="truck", crossing="x"):
    (g,) = [g for g in eng.groups if g.cls == cls and g.crossing == crossing]
    return g


def outcomes(eng, cls="truck", crossing="x"):
    """(arrival, wait, exit, outcome) of every unit of a class, by arrival time."""
    g = group(eng, cls, crossing)
    rows = sorted(zip(g.out_arr, g.out_wait, g.out_exit, g.out_code, strict=True),
                  key=lambda r: r[0])
    return [(a, w, e, Outcome(c)) for a, w, e, c in rows]


def intervals(eng, cls="truck"):
    """Every waiting interval (join, leave) of a class, sorted."""
    g = group(eng, cls)
    return sorted(zip(g.q_join, g.q_leave, strict=True))


def assert_outcomes(eng, expected, cls="truck", crossing="x"):
    got = outcomes(eng, cls, crossing)
    assert [r[3] for r in got] == [r[3] for r in expected], got
    flat_got = [x for r in got for x in r[:3]]
    flat_exp = [float(x) for r in expected for x in r[:3]]
    assert flat_got == pytest.approx(flat_exp, abs=1e-9, nan_ok=True), got


def assert_intervals(eng, expected, cls="truck"):
    got = intervals(eng, cls)
    assert len(got) == len(expected), got
    flat_got = [x for r in got for x in r]
    flat_exp = [float(x) for r in expected for x in r]
    assert flat_got == pytest.approx(flat_exp, abs=1e-9), got


def waiting_ids(eng, lane_index=0, stage_key=("x", "s"), cls="truck"):
    """Indices (0-based: Tk is k-1) of the units still queued in a lane at the end."""
    ln = eng.stages[stage_key].lanes[lane_index]
    return [u.i for u in ln.queues[cls]]


# ---- arrivals -------------------------------------------------------------------------------

def test_deterministic_arrivals_and_events_at_the_horizon_are_not_processed():
    """D = 24/day: arrivals at 1, 2, ..., 9h; the one due at exactly 10h never happens."""
    eng = run(scenario(duration="10h", stages=[stage(lanes=[lane(truck="15min")])]))
    assert list(group(eng).arrivals.times[:10]) == pytest.approx(list(range(1, 11)), abs=1e-9)
    assert_outcomes(eng, [(k, 0, k + 0.25, C) for k in range(1, 10)])


def test_demand_factor_halves_the_rate_from_a_given_time():
    """Rate 1/h until 4.5h, then 0.5/h: the expected count reaches 5 at 4.5 + 0.5/0.5 = 5.5h,
    then one every 2h: 7.5, 9.5; 11.5 is past the horizon."""
    scn = scenario(duration="11h", policy=[{"at": "4.5h", "demand_factor": {"truck": 0.5}}],
                   stages=[stage(lanes=[lane(truck="15min")])])
    eng = run(scn)
    arrivals = [1, 2, 3, 4, 5.5, 7.5, 9.5]
    assert list(group(eng).arrivals.times) == pytest.approx(arrivals, abs=1e-9)
    assert_outcomes(eng, [(a, 0, a + 0.25, C) for a in arrivals])
    assert simulate(scn, 0).metrics[("x", "truck")]["arrivals"] == 7


def test_demand_factor_zero_then_reset():
    """Count 2.5 at 2.5h, none until 5h, then 1/h again: units 3, 4, 5 at 5.5, 6.5, 7.5."""
    scn = scenario(duration="8h", policy=[{"at": "2.5h", "demand_factor": {"all": 0}},
                                          {"at": "5h", "reset": True}],
                   stages=[stage(lanes=[lane(truck="15min")])])
    assert list(group(run(scn)).arrivals.times) == pytest.approx([1, 2, 5.5, 6.5, 7.5])


def test_profile_with_a_start_time_of_day():
    """Start 18:00; weight only in calendar hours 12-23, so the hourly rate there is
    2 × 24/24 = 2/h and zero otherwise. Clock 0-6h is 18:00-24:00: arrivals every 0.5h up
    to 6h (12 units); none from midnight to noon (clock 6-18h); from clock 18h every 0.5h."""
    profile = [0] * 12 + [1] * 12
    scn = scenario(start="2017-10-01T18:00", duration="20h", profile=profile,
                   stages=[stage(lanes=[lane(truck="6min")])])
    times = list(group(run(scn)).arrivals.times)
    expected = [0.5 * k for k in range(1, 13)] + [18.5, 19.0, 19.5, 20.0]
    assert times == pytest.approx(expected, abs=1e-9)


def test_profile_hours_follow_the_calendar_when_start_is_not_on_the_hour():
    """Start 18:30, all weight in calendar hour 18 (24 × the mean rate: 24/h). That hour
    holds clock 0-0.5h (12 arrivals, every 2.5min) and clock 23.5-24.5h (24 arrivals)."""
    profile = [0] * 24
    profile[18] = 1
    scn = scenario(start="2017-10-01T18:30", duration="25h", profile=profile,
                   stages=[stage(lanes=[lane(booths=40, truck="1min")])])
    times = list(group(run(scn)).arrivals.times)
    expected = [k / 24 for k in range(1, 13)] + [23.5 + k / 24 for k in range(1, 25)]
    assert times == pytest.approx(expected, abs=1e-9)


# ---- closure -----------------------------------------------------------------------------------

@pytest.mark.parametrize("reopen", [{"closed": []}, {"reset": True}], ids=["closed-empty", "reset"])
def test_closure_and_reopening(reopen):
    """One booth, 30min service; trucks closed at 1.25h, reopened at 3h; horizon 4.25h.

    T1 1.0-1.5: in service at the closure, it finishes.  T2 arrives 2.0, refused, waits
    until the reopening: 3.0-3.5.  T3 arrives 3.0, waits for T2: 3.5-4.0.  T4 arrives 4.0
    and is still in service at the end.
    """
    scn = scenario(duration="4.25h", policy=[
        {"at": "1.25h", "closed": ["truck"]},
        {"at": "3h", **reopen},
    ])
    eng = run(scn)
    assert_outcomes(eng, [
        (1, 0, 1.5, C),
        (2, 1.0, 3.5, C),
        (3, 0.5, 4.0, C),
        (4, 0, NAN, S),
    ])
    assert_intervals(eng, [(1, 1), (2, 3), (3, 3.5), (4, 4)])
    m = simulate(scn, 0).metrics[("x", "truck")]
    assert (m["arrivals"], m["crossed"], m["in_service_at_end"]) == (4, 3, 1)
    assert m["wait_mean_h"] == pytest.approx(0.5)
    assert m["waiting_hours_total"] == pytest.approx(1.5)
    assert m["queue_max"] == 1
    assert m["crossed_per_day"] == pytest.approx(3 / (4.25 / 24))


def test_closed_class_keeps_queuing_while_the_booth_serves_another():
    """A shared lane; trucks (1/h from 1h) closed from the start, a bus every 2.5h (D = 9.6).
    The buses pass at once although trucks wait ahead of them: 2.5-3.5 and 5-6 (ending at
    exactly the horizon, so in service at the end); no truck starts before the end (6h)."""
    scn = scenario(
        duration="6h",
        classes={"truck": {}, "bus": {}},
        demand={"truck": 24, "bus": 9.6},
        stages=[stage(lanes=[lane(serves=["truck", "bus"], truck="30min", bus="1h")])],
        policy=[{"at": 0, "closed": ["truck"]}],
    )
    eng = run(scn)
    assert_outcomes(eng, [(2.5, 0, 3.5, C), (5.0, 0, NAN, S)], cls="bus")
    assert_outcomes(eng, [(k, 6 - k, NAN, W) for k in range(1, 6)])


# ---- booths ------------------------------------------------------------------------------------

def test_booth_cut_never_interrupts_and_then_serves_one_at_a_time():
    """Two booths, service 2.5h; cut to one at 2.5h while both are busy; back to two at 5.75h.

    T1 1-3.5 and T2 2-4.5 both finish.  T3 (3h) does not start when T1 leaves at 3.5 (one
    booth, still busy with T2); it starts at 4.5: 4.5-7.0.  T4 (4h) waits for the reset at
    5.75: 5.75-8.25.  T5 (5h) starts when T3 leaves at 7.0.  T6 (6h), T7 (7h) wait at the end (8h).
    """
    scn = scenario(duration="8h",
                   stages=[stage(lanes=[lane(booths=2, truck="2.5h")])],
                   policy=[{"at": "2.5h", "booths": {"s/l": 1}},
                           {"at": "5.75h", "reset": True}])
    eng = run(scn)
    assert_outcomes(eng, [
        (1, 0, 3.5, C),
        (2, 0, 4.5, C),
        (3, 1.5, 7.0, C),
        (4, 1.75, NAN, S),
        (5, 2.0, NAN, S),
        (6, 2.0, NAN, W),
        (7, 1.0, NAN, W),
    ])
    assert_intervals(eng, [(1, 1), (2, 2), (3, 4.5), (4, 5.75), (5, 7), (6, 8), (7, 8)])


def test_lane_choice_ties_most_free_booths_then_lane_order():
    """Lanes a (1 booth, 3h) and b (2 booths, 2.5h); nobody ever waits, so each choice is a
    tie on queue length broken by free booths, then lane order:
    T1 (1h) b 1-3.5 (2 free vs 1); T2 a 2-5 (1 vs 1: order); T3 b 3-5.5; T4 b 4-6.5;
    T5 a 5-8 (T2 leaves at 5 first); T6 b 6-8.5; T7 b 7-9.5; T8 a 8-11; T9 b 9-11.5."""
    scn = scenario(duration="10h", stages=[stage(lanes=[
        lane("a", booths=1, truck="3h"), lane("b", booths=2, truck="2.5h")])])
    eng = run(scn)
    assert_outcomes(eng, [
        (1, 0, 3.5, C), (2, 0, 5, C), (3, 0, 5.5, C), (4, 0, 6.5, C), (5, 0, 8, C),
        (6, 0, 8.5, C), (7, 0, 9.5, C), (8, 0, NAN, S), (9, 0, NAN, S),
    ])


def test_lane_choice_fewest_waiting():
    """Lanes a and b, one booth each, 2h; D = 48/day (every 0.5h).
    T1 a 0.5-2.5; T2 b 1-3; T3 (1.5) → a (tie, order) waits; T4 (2) → b (a has 1 waiting);
    T3 2.5-4.5; T5 (2.5) → a; T4 3-5; T6 (3) → b; T7 (3.5) → a (1 vs 1); T8 (4) → b (2 vs 1);
    T5 4.5-6.5; T9 (4.5) → a (1 vs 2); T6 5-7; T10 (5) → b (2 vs 1). End 5.25h."""
    scn = scenario(duration="5.25h", demand={"truck": 48},
                   stages=[stage(lanes=[lane("a", truck="2h"), lane("b", truck="2h")])])
    eng = run(scn)
    assert_outcomes(eng, [
        (0.5, 0, 2.5, C), (1.0, 0, 3.0, C), (1.5, 1.0, 4.5, C), (2.0, 1.0, 5.0, C),
        (2.5, 2.0, NAN, S), (3.0, 2.0, NAN, S),
        (3.5, 1.75, NAN, W), (4.0, 1.25, NAN, W), (4.5, 0.75, NAN, W), (5.0, 0.25, NAN, W),
    ])
    assert waiting_ids(eng, 0) == [6, 8]     # T7, T9 in lane a
    assert waiting_ids(eng, 1) == [7, 9]     # T8, T10 in lane b


# ---- priority ------------------------------------------------------------------------------------

def _priority_scenario(policy):
    return scenario(
        duration="5h",
        classes={"truck": {}, "bus": {}},
        demand={"truck": 48, "bus": 8},        # trucks every 0.5h, a bus at 3h
        stages=[stage(lanes=[lane(serves=["truck", "bus"], truck="1h", bus="15min")])],
        policy=policy,
    )


def test_priority_bus_overtakes_waiting_trucks():
    """Trucks every 0.5h, 1h each, queue grows; the bus arrives at 3h behind T4 (2h), T5 (2.5h)
    and with T6 (3h). Priority [bus]: after T3 (2.5-3.5) the bus goes 3.5-3.75, then T4
    3.75-4.75, T5 from 4.75 (in service at the end, 5h)."""
    eng = run(_priority_scenario([{"at": 0, "priority": ["bus"]}]))
    assert_outcomes(eng, [(3.0, 0.5, 3.75, C)], cls="bus")
    assert_outcomes(eng, [
        (0.5, 0, 1.5, C), (1.0, 0.5, 2.5, C), (1.5, 1.0, 3.5, C),
        (2.0, 1.75, 4.75, C), (2.5, 2.25, NAN, S),
        (3.0, 2.0, NAN, W), (3.5, 1.5, NAN, W), (4.0, 1.0, NAN, W), (4.5, 0.5, NAN, W),
    ])


def test_without_priority_the_bus_queues_in_join_order():
    """The same traffic without priority: T4 3.5-4.5, T5 from 4.5; the bus is still waiting."""
    eng = run(_priority_scenario([]))
    assert_outcomes(eng, [(3.0, 2.0, NAN, W)], cls="bus")
    assert_outcomes(eng, [
        (0.5, 0, 1.5, C), (1.0, 0.5, 2.5, C), (1.5, 1.0, 3.5, C),
        (2.0, 1.5, 4.5, C), (2.5, 2.0, NAN, S),
        (3.0, 2.0, NAN, W), (3.5, 1.5, NAN, W), (4.0, 1.0, NAN, W), (4.5, 0.5, NAN, W),
    ])


def test_priority_levels_follow_list_order():
    """Priority [bus, car]; trucks (others) last. Trucks at 1, 2, 3, 4h (2h each), cars every
    1.2h, buses every 2.4h, 15min each, one shared booth. T1 1-3; waiting at 3h: car 1.2,
    T2 (2), bus 2.4, car 2.4 (T3 arrives at 3 too). Order: bus 3-3.25, car(1.2) 3.25-3.5,
    car(2.4) 3.5-3.75, car(3.6) 3.75-4, then T2 4-6 although it joined first; the car and
    the bus arriving at 4.8 wait 0.2h at the end (5h)."""
    scn = scenario(
        duration="5h",
        classes={"truck": {}, "bus": {}, "car": {}},
        demand={"truck": 24, "bus": 10, "car": 20},
        stages=[stage(lanes=[lane(serves=["truck", "bus", "car"],
                                  truck="2h", bus="0.25h", car="0.25h")])],
        policy=[{"at": 0, "priority": ["bus", "car"]}],
    )
    eng = run(scn)
    assert_outcomes(eng, [(2.4, 0.6, 3.25, C), (4.8, 0.2, NAN, W)], cls="bus")
    assert_outcomes(eng, [(1.2, 2.05, 3.5, C), (2.4, 1.1, 3.75, C), (3.6, 0.15, 4.0, C),
                          (4.8, 0.2, NAN, W)], cls="car")
    assert_outcomes(eng, [(1, 0, 3, C), (2, 2.0, NAN, S), (3, 2.0, NAN, W), (4, 1.0, NAN, W)])


# ---- quota ---------------------------------------------------------------------------------------

def test_quota_per_calendar_day_with_a_start_time_of_day():
    """Start 18:00, so midnights fall at clock 6h and 30h. Quota 1 truck a day; D = 6/day:
    arrivals at 4, 8, ..., 32h. T1 (4h) is day 1's truck; T2 (8h) is the first of the next
    calendar day (a quota counted per 24h from clock 0 would hold it until 24h); T3 (12h)
    waits until midnight at 30h; T4-T8 are waiting at the end (36h)."""
    scn = scenario(start="2017-10-01T18:00", duration="36h", demand={"truck": 6},
                   policy=[{"at": 0, "quota_per_day": {"truck": 1}}])
    eng = run(scn)
    assert_outcomes(eng, [
        (4, 0, 4.5, C), (8, 0, 8.5, C), (12, 18, 30.5, C),
        (16, 20, NAN, W), (20, 16, NAN, W), (24, 12, NAN, W), (28, 8, NAN, W), (32, 4, NAN, W),
    ])


def test_quota_two_a_day_rest_wait_until_midnight():
    """Start 18:00 (midnight at 6h), quota 2/day, trucks every 1h, 30min each.
    T1 1-1.5, T2 2-2.5; T3 (3), T4 (4), T5 (5) wait; at midnight T3 6-6.5, then T4 6.5-7;
    T5, T6 (6h), T7 (7h) wait for the next day; end 8h."""
    scn = scenario(start="2017-10-01T18:00", duration="8h",
                   policy=[{"at": 0, "quota_per_day": {"truck": 2}}])
    eng = run(scn)
    assert_outcomes(eng, [
        (1, 0, 1.5, C), (2, 0, 2.5, C), (3, 3, 6.5, C), (4, 2.5, 7.0, C),
        (5, 3, NAN, W), (6, 2, NAN, W), (7, 1, NAN, W),
    ])


def test_quota_limits_one_class_only():
    """Shared lane, quota on trucks only (start 18:00, 1/day): cars keep crossing."""
    scn = scenario(start="2017-10-01T18:00", duration="5.5h",
                   classes={"truck": {}, "car": {}}, demand={"truck": 24, "car": 12},
                   stages=[stage(lanes=[lane(serves=["truck", "car"], truck="30min",
                                             car="30min")])],
                   policy=[{"at": 0, "quota_per_day": {"truck": 1}}])
    eng = run(scn)
    assert_outcomes(eng, [(2, 0, 2.5, C), (4, 0, 4.5, C)], cls="car")
    assert_outcomes(eng, [(1, 0, 1.5, C), (2, 3.5, NAN, W), (3, 2.5, NAN, W), (4, 1.5, NAN, W),
                          (5, 0.5, NAN, W)])


def test_quota_counts_per_stage_over_all_lanes():
    """Start 18:00, quota 1 truck a day at the stage, two lanes. T1 lane a 1-1.5; T2 (2h)
    joins a (tie) and waits; T3 (3h) joins b (fewer waiting) but the stage's quota is used:
    it waits too, until after the end (4h)."""
    scn = scenario(start="2017-10-01T18:00", duration="4h",
                   stages=[stage(lanes=[lane("a", truck="30min"), lane("b", truck="30min")])],
                   policy=[{"at": 0, "quota_per_day": {"truck": 1}}])
    eng = run(scn)
    assert_outcomes(eng, [(1, 0, 1.5, C), (2, 2, NAN, W), (3, 1, NAN, W)])
    assert waiting_ids(eng, 0) == [1] and waiting_ids(eng, 1) == [2]


def test_policy_scoped_to_one_crossing_leaves_the_other_alone():
    """Crossings x and y, the same traffic; trucks closed at x only, from 0.5h to 2.5h."""
    y = {"demand": {"truck": 24}, "arrival_process": "deterministic", "stages": [stage()]}
    scn = scenario(duration="3.25h", more_crossings={"y": y},
                   policy=[{"at": "0.5h", "crossings": ["x"], "closed": ["truck"]},
                           {"at": "2.5h", "crossings": ["x"], "closed": []}])
    eng = run(scn)
    # at x: T1, T2 wait for 2.5h; T1 2.5-3, T2 from 3; T3 (3h) waits behind T2 to the end
    assert_outcomes(eng, [(1, 1.5, 3.0, C), (2, 1.0, NAN, S), (3, 0.25, NAN, W)], crossing="x")
    assert_outcomes(eng, [(1, 0, 1.5, C), (2, 0, 2.5, C), (3, 0, NAN, S)], crossing="y")


# ---- service factor ------------------------------------------------------------------------------

def test_service_factor_applies_to_services_starting_during_the_phase():
    """30min service; factor 2 from 2.25h (T2, in service 2-2.5, keeps 30min) until 4.5h.
    T3 3-4 and T4 4-5 (started in the phase: 1h); T5 5-5.5 (after: 30min again)."""
    scn = scenario(duration="6h", policy=[{"at": "2.25h", "service_factor": {"all": 2.0}},
                                          {"at": "4.5h", "reset": True}])
    eng = run(scn)
    assert_outcomes(eng, [(1, 0, 1.5, C), (2, 0, 2.5, C), (3, 0, 4, C), (4, 0, 5, C),
                          (5, 0, 5.5, C)])


def test_service_factor_per_class_beats_all():
    scn = scenario(duration="3h", classes={"truck": {}, "car": {}},
                   demand={"truck": 24, "car": 24},
                   stages=[stage(lanes=[lane("t", truck="30min"),
                                        lane("c", serves=["car"], car="30min")])],
                   policy=[{"at": 0, "service_factor": {"all": 1.5, "truck": 3.0}}])
    eng = run(scn)
    assert_outcomes(eng, [(1, 0, 2.5, C), (2, 0.5, NAN, S)])
    assert_outcomes(eng, [(1, 0, 1.75, C), (2, 0, 2.75, C)], cls="car")


# ---- secondary inspection ------------------------------------------------------------------------

def test_secondary_inspection_with_probability_one():
    """Lane 30min, then every truck to a secondary pool of 1 booth, 2h. Horizon 6.5h.
    T1 lane 1-1.5, secondary 1.5-3.5; T2 lane 2-2.5, secondary 3.5-5.5 (waits 1h);
    T3 lane 3-3.5, secondary 5.5- (waits 2h, in service at the end); T4 lane 4-4.5, waits
    from 4.5; T5 lane 5-5.5, waits from 5.5; T6 in the lane 6-6.5 at the end."""
    sec = {"truck": {"probability": 1.0, "booths": 1, "service": "2h"}}
    scn = scenario(duration="6.5h", stages=[stage(secondary=sec)])
    eng = run(scn)
    assert_outcomes(eng, [
        (1, 0, 3.5, C), (2, 1.0, 5.5, C), (3, 2.0, NAN, S),
        (4, 2.0, NAN, W), (5, 1.0, NAN, W), (6, 0, NAN, S),
    ])
    assert_intervals(eng, [(1, 1), (1.5, 1.5), (2, 2), (2.5, 3.5), (3, 3), (3.5, 5.5),
                           (4, 4), (4.5, 6.5), (5, 5), (5.5, 6.5), (6, 6)])


def test_secondary_probability_zero_then_one_by_policy():
    """Base probability 0; from 2.25h a phase refers everyone. T1 passes the lane only; T2
    (lane 2-2.5) leaves the lane under the new phase, so is referred: secondary 2.5-3.5;
    T3 lane 3-3.5 then secondary 3.5-4.5; T4 lane 4-4.5, secondary 4.5-5.5; T5 lane 5-5.5,
    secondary from 5.5 (T4 leaves it first), in service at the end (5.75h)."""
    sec = {"truck": {"probability": 0.0, "booths": 1, "service": "1h"}}
    scn = scenario(duration="5.75h", stages=[stage(secondary=sec)],
                   policy=[{"at": "2.25h", "secondary_probability": {"truck": 1.0}}])
    eng = run(scn)
    assert_outcomes(eng, [(1, 0, 1.5, C), (2, 0, 3.5, C), (3, 0, 4.5, C), (4, 0, 5.5, C),
                          (5, 0, NAN, S)])


def test_units_waiting_for_secondary_go_on_when_referral_stops():
    """Lane 30min, secondary 1 booth 2h (probability 1); from 4.75h a phase sets the
    probability to 0. T1 lane 1-1.5, sec 1.5-3.5; T2 lane 2-2.5, waits 2.5-3.5, sec 3.5-5.5
    (in service at the change: finishes); T3 lane 3-3.5, waits in secondary from 3.5 and is
    waved on at 4.75; T4 lane 4-4.5, waits from 4.5, waved on at 4.75; T5 and T6 lane only."""
    sec = {"truck": {"probability": 1.0, "booths": 1, "service": "2h"}}
    scn = scenario(duration="6.75h", stages=[stage(secondary=sec)],
                   policy=[{"at": "4.75h", "secondary_probability": {"truck": 0.0}}])
    eng = run(scn)
    assert_outcomes(eng, [(1, 0, 3.5, C), (2, 1.0, 5.5, C), (3, 1.25, 4.75, C),
                          (4, 0.25, 4.75, C), (5, 0, 5.5, C), (6, 0, 6.5, C)])
    assert_intervals(eng, [(1, 1), (1.5, 1.5), (2, 2), (2.5, 3.5), (3, 3), (3.5, 4.75),
                           (4, 4), (4.5, 4.75), (5, 5), (6, 6)])
    assert eng.stages[("x", "s")].secondary["truck"].n_waiting == 0


def test_units_waved_on_from_secondary_join_the_next_stage_in_queue_order():
    """Stage A: lane 30min, secondary 2h (probability 1, 1 booth); stage B: lane 1h. From
    4.75h nobody is referred. T1 A 1-1.5, sec 1.5-3.5, B 3.5-4.5. T2 A 2-2.5, waits sec
    2.5-3.5, sec 3.5-5.5, waits B 5.5-6.75, B from 6.75 (in service at 7h). T3 A 3-3.5, waits
    sec 3.5-4.75, waved on: B 4.75-5.75. T4 A 4-4.5, waits sec 4.5-4.75, waved on behind T3:
    waits B 4.75-5.75, B 5.75-6.75. T5 A 5-5.5, waits B from 5.5 behind T2 (whose event at
    5.5 was scheduled first). T6 A 6-6.5, waits B from 6.5."""
    sec = {"truck": {"probability": 1.0, "booths": 1, "service": "2h"}}
    scn = scenario(duration="7h",
                   stages=[stage("A", secondary=sec), stage("B", [lane(truck="1h")])],
                   policy=[{"at": "4.75h", "secondary_probability": {"truck": 0.0}}])
    eng = run(scn)
    assert_outcomes(eng, [(1, 0, 4.5, C), (2, 2.25, NAN, S), (3, 1.25, 5.75, C),
                          (4, 1.25, 6.75, C), (5, 1.5, NAN, W), (6, 0.5, NAN, W)])


def test_a_closed_class_is_not_waved_on_until_it_reopens():
    """As above, but the phase at 4.75h also closes trucks, and they reopen at 6h. T2 (in
    inspection 3.5-5.5) finishes. T3 and T4 stay in the pool while trucks are refused (the
    pool does not take T3 when T2 leaves at 5.5) and are waved on at the reopening: T3 waits
    3.5-6, T4 4.5-6. T5 (5h) waits in the lane until 6, lane 6-6.5, not referred. T6 (6h,
    after the reopening) waits for T5: lane 6.5-7.0. T7 is in the lane at the end (7.25h)."""
    sec = {"truck": {"probability": 1.0, "booths": 1, "service": "2h"}}
    scn = scenario(duration="7.25h", stages=[stage(secondary=sec)],
                   policy=[{"at": "4.75h", "closed": ["truck"],
                            "secondary_probability": {"truck": 0.0}},
                           {"at": "6h", "closed": []}])
    eng = run(scn)
    assert_outcomes(eng, [(1, 0, 3.5, C), (2, 1.0, 5.5, C), (3, 2.5, 6.0, C),
                          (4, 1.5, 6.0, C), (5, 1.0, 6.5, C), (6, 0.5, 7.0, C),
                          (7, 0, NAN, S)])


def test_a_lower_referral_waves_on_exactly_the_units_it_would_not_have_sent():
    """Twenty trucks referred (probability 1) to a secondary pool too slow for them; at 30h
    the probability falls to 0.5. The units then waiting whose referral draw is at least 0.5
    leave at 30h; the rest stay in the pool."""
    sec = {"truck": {"probability": 1.0, "booths": 1, "service": "20h"}}
    scn = scenario(duration="31h", demand={"truck": 24},
                   stages=[stage(lanes=[lane(truck="1min")], secondary=sec)],
                   policy=[{"at": "30h", "secondary_probability": {"truck": 0.5}}])
    eng = run(scn)
    g = group(eng)
    draws = g.attrs[("referral", "s")]
    released = {i for i, e, c in zip(g.out_unit, g.out_exit, g.out_code, strict=True)
                if c == C and e == pytest.approx(30.0)}
    # T1 is in service 1-21, T2 from 21; T3..T29 wait in the pool at 30h. T30 arrives at
    # 30h and meets the new probability when it leaves the lane.
    waiting_at_30 = set(range(2, 29))
    assert released == {i for i in waiting_at_30 if draws[i] >= 0.5}
    assert 0 < len(released) < len(waiting_at_30)
    still = {u.i for u in eng.stages[("x", "s")].secondary["truck"].queues["truck"]}
    assert still == {i for i in [*waiting_at_30, 29] if draws[i] < 0.5}


# ---- patience and balking ------------------------------------------------------------------------

def test_patience_reneges_at_the_exact_time():
    """One booth, 2h service, patience 1.5h. T1 1-3; T2 waits 2-3, 3-5; T3 (3h) would start
    at 5: reneges at 4.5; T4 waits 4-5, 5-7 (in service at the end, 6.75h); T5 reneges at 6.5;
    T6 (6h) waits 0.75h at the end."""
    scn = scenario(duration="6.75h", stages=[stage(lanes=[lane(truck="2h")])],
                   behaviour={"patience": {"truck": "1.5h"}})
    eng = run(scn)
    assert_outcomes(eng, [
        (1, 0, 3, C), (2, 1, 5, C), (3, 1.5, 4.5, R), (4, 1, NAN, S), (5, 1.5, 6.5, R),
        (6, 0.75, NAN, W),
    ])
    assert_intervals(eng, [(1, 1), (2, 3), (3, 4.5), (4, 5), (5, 6.5), (6, 6.75)])
    m = simulate(scn, 0).metrics[("x", "truck")]
    assert (m["arrivals"], m["crossed"], m["reneged"], m["waiting_at_end"],
            m["in_service_at_end"]) == (6, 2, 2, 1, 1)


def test_patience_counts_waiting_over_all_stages():
    """Stages A (1.5h) and B (1.75h), one booth each, patience 1.4h.
    T1 A 1-2.5, B 2.5-4.25.  T2 waits A 2-2.5, A 2.5-4, waits B 4-4.25, B 4.25-6 (0.75h).
    T3 waits A 3-4 (1h), A 4-5.5, waits B from 5.5: only 0.4h more, reneges at 5.9.
    T4 waits A from 4 and reneges at 5.4.  T5 waits A 5-5.5, A 5.5-7, B from 7 (idle).
    T6 waits A 6-7, A from 7.  T7 waits from 7.  Horizon 7.5h."""
    scn = scenario(duration="7.5h",
                   stages=[stage("A", [lane(truck="1.5h")]), stage("B", [lane(truck="1.75h")])],
                   behaviour={"patience": {"truck": "1.4h"}})
    eng = run(scn)
    assert_outcomes(eng, [
        (1, 0, 4.25, C), (2, 0.75, 6.0, C), (3, 1.4, 5.9, R), (4, 1.4, 5.4, R),
        (5, 0.5, NAN, S), (6, 1.0, NAN, S), (7, 0.5, NAN, W),
    ])


def test_patience_applies_in_the_secondary_queue():
    """Lane 30min, secondary 2h (probability 1), patience 1.5h. T1 lane 1-1.5, sec 1.5-3.5;
    T2 lane 2-2.5, waits 2.5-3.5, sec 3.5-5.5; T3 lane 3-3.5, waits in secondary from 3.5
    and reneges at 5.0; T4 lane 4-4.5, waits 4.5-5.5, sec from 5.5; T5 lane 5-5.5, waits
    from 5.5 (0.25h at the end, 5.75h)."""
    sec = {"truck": {"probability": 1.0, "booths": 1, "service": "2h"}}
    scn = scenario(duration="5.75h", stages=[stage(secondary=sec)],
                   behaviour={"patience": {"truck": "1.5h"}})
    eng = run(scn)
    assert_outcomes(eng, [
        (1, 0, 3.5, C), (2, 1.0, 5.5, C), (3, 1.5, 5.0, R), (4, 1.0, NAN, S),
        (5, 0.25, NAN, W),
    ])


def test_balk_when_more_than_queue_over_are_waiting():
    """One booth, 2.25h service, balk when more than 1 is waiting. T1 1-3.25; T2 (1 ahead:
    none) waits 2-3.25, 3.25-5.5; T3 (3h, 1 waiting) joins, starts 5.5; T4 (4h, 1 waiting:
    T3) joins; T5 (5h, T3 and T4 waiting) balks; T6 (6h, T4 waiting) joins; T7 (7h) balks."""
    scn = scenario(duration="7.5h", stages=[stage(lanes=[lane(truck="2.25h")])],
                   behaviour={"balk": {"truck": {"queue_over": 1}}})
    eng = run(scn)
    assert_outcomes(eng, [
        (1, 0, 3.25, C), (2, 1.25, 5.5, C), (3, 2.5, NAN, S), (4, 3.5, NAN, W),
        (5, 0, 5, B), (6, 1.5, NAN, W), (7, 0, 7, B),
    ])
    m = simulate(scn, 0).metrics[("x", "truck")]
    assert (m["arrivals"], m["balked"], m["crossed"]) == (7, 2, 2)


def test_balk_counts_the_queues_of_every_stage():
    """Stages A (45min) and B (3h), balk over 1. T1 A 1-1.75, B 1.75-4.75; T2 A 2-2.75,
    waits B from 2.75; T3 A 3-3.75, waits B from 3.75; T4 (4h): nobody waits at A, but T2
    and T3 wait at B → 2 > 1: it balks. Counting the first stage only would let it in."""
    scn = scenario(duration="4.5h",
                   stages=[stage("A", [lane(truck="45min")]), stage("B", [lane(truck="3h")])],
                   behaviour={"balk": {"truck": {"queue_over": 1}}})
    eng = run(scn)
    assert_outcomes(eng, [
        (1, 0, NAN, S), (2, 1.75, NAN, W), (3, 0.75, NAN, W), (4, 0, 4, B),
    ])


# ---- two stages ----------------------------------------------------------------------------------

def test_two_stage_crossing():
    """A 30min, B 1.5h, one booth each, no travel time. T1 A 1-1.5, B 1.5-3; T2 A 2-2.5,
    waits B 2.5-3, B 3-4.5; T3 A 3-3.5, waits 3.5-4.5, B 4.5-6; T4 A 4-4.5, waits 4.5-6,
    B from 6; T5 A 5-5.5, waits from 5.5; T6 A 6-6.5 (ends at the horizon: in service)."""
    scn = scenario(duration="6.5h",
                   stages=[stage("A", [lane(truck="30min")]), stage("B", [lane(truck="1.5h")])])
    eng = run(scn)
    assert_outcomes(eng, [
        (1, 0, 3, C), (2, 0.5, 4.5, C), (3, 1.0, 6.0, C), (4, 1.5, NAN, S), (5, 1.0, NAN, W),
        (6, 0, NAN, S),
    ])
    assert_intervals(eng, [
        (1, 1), (1.5, 1.5), (2, 2), (2.5, 3), (3, 3), (3.5, 4.5), (4, 4), (4.5, 6),
        (5, 5), (5.5, 6.5), (6, 6),
    ])
    m = simulate(scn, 0).metrics[("x", "truck")]
    assert m["time_in_system_mean_h"] == pytest.approx((2 + 2.5 + 3) / 3)
    assert m["waiting_hours_total"] == pytest.approx(0.5 + 1 + 1.5 + 1)


def test_closure_of_one_stage_only():
    """Two stages; trucks closed at stage B only from 0 to 3h: they pass A and queue at B."""
    scn = scenario(duration="4h",
                   stages=[stage("A", [lane(truck="30min")]), stage("B", [lane(truck="30min")])],
                   policy=[{"at": 0, "stages": ["B"], "closed": ["truck"]},
                           {"at": "3h", "reset": True}])
    eng = run(scn)
    # T1 A 1-1.5, waits B 1.5-3, B 3-3.5; T2 A 2-2.5, waits B 2.5-3.5, B 3.5-4 (ends at horizon)
    # T3 A 3-3.5, waits B 3.5-4
    assert_outcomes(eng, [(1, 1.5, 3.5, C), (2, 1.0, NAN, S), (3, 0.5, NAN, W)])


# ---- economics -----------------------------------------------------------------------------------

def test_costs_of_a_one_day_closure_match_the_spec_formulas():
    """Loaded trucks every 6h (D = 4), one booth, 1h service, patience 20h, warm-up 8h.
    Closed from 10h to 34h, and again from 64h to the end (72h).
    T1 (6h) 6-7 is in the warm-up.  T2 (12h) reneges at 32h after 20h.  T3 (18h) 34-35,
    T4 (24h) 35-36, T5 (30h) 36-37, T6 (36h) 37-38; T7..T10 (42..60h) pass at once;
    T11 (66h) waits 6h at the end."""
    econ = {
        "value_of_time_per_person_hour": 1.3,
        "vehicle_cost_per_hour": {"truck": 8.0},
        "cargo_time_cost_per_day": 0.008,
        "spoilage": {"rate_per_day": 0.05, "after": "12h"},
        "lost_unit_value": {"truck": "cargo"},
    }
    scn = scenario(
        duration="3d", warmup="8h", demand={"truck": 4},
        classes={"truck": {"persons": 1, "cargo_value": 30000, "perishable_share": 0.2}},
        stages=[stage(lanes=[lane(truck="1h")])],
        policy=[{"at": "10h", "closed": ["truck"]}, {"at": "34h", "closed": []},
                {"at": "64h", "closed": ["truck"]}],
        behaviour={"patience": {"truck": "20h"}},
        economics=econ,
    )
    eng = run(scn)
    assert_outcomes(eng, [
        (6, 0, 7, C), (12, 20, 32, R), (18, 16, 35, C), (24, 11, 36, C), (30, 6, 37, C),
        (36, 1, 38, C), (42, 0, 43, C), (48, 0, 49, C), (54, 0, 55, C), (60, 0, 61, C),
        (66, 6, NAN, W),
    ])

    # by hand, for the units arriving after the warm-up (T2..T11)
    waits = [20, 16, 11, 6, 1, 0, 0, 0, 0, 6]
    gave_up = [True] + [False] * 9
    persons, vot, vehicle = 1.0, 1.3, 8.0
    cargo, per_day, share, rate, after_days = 30000.0, 0.008, 0.2, 0.05, 0.5
    time = sum(w * (persons * vot + vehicle) for w in waits)
    cargo_time = sum(w / 24 * cargo * per_day for w in waits)
    spoilage = sum(share * cargo * (1 - math.exp(-rate * max(0.0, w / 24 - after_days)))
                   for w in waits)
    lost = sum(cargo for g in gave_up if g)
    assert time == pytest.approx(60 * 9.3) and cargo_time == pytest.approx(60 * 10.0)
    assert lost == 30000.0

    res = simulate(scn, 0)
    costs = res.costs[("x", "truck")]
    assert costs["time"] == pytest.approx(time, abs=1e-9)
    assert costs["cargo_time"] == pytest.approx(cargo_time, abs=1e-9)
    assert costs["spoilage"] == pytest.approx(spoilage, abs=1e-9)
    assert costs["lost"] == pytest.approx(lost, abs=1e-9)
    m = res.metrics[("x", "truck")]
    assert m["cost_total"] == pytest.approx(time + cargo_time + spoilage + lost, abs=1e-9)
    assert m["waiting_hours_total"] == pytest.approx(sum(waits), abs=1e-9)
    assert m["person_hours_waiting"] == pytest.approx(sum(waits), abs=1e-9)
    assert (m["arrivals"], m["crossed"], m["reneged"], m["waiting_at_end"]) == (10, 8, 1, 1)
    assert m["wait_mean_h"] == pytest.approx((16 + 11 + 6 + 1) / 8)
    assert m["wait_max_h"] == pytest.approx(16)
    assert res.metrics[("all", "all")]["cost_total"] == pytest.approx(m["cost_total"])
    # spoilage only starts after 12h of waiting: T2 (20h), T3 (16h) spoil, T4 (11h) does not
    assert spoilage == pytest.approx(
        share * cargo * ((1 - math.exp(-rate * (20 / 24 - 0.5)))
                         + (1 - math.exp(-rate * (16 / 24 - 0.5)))))


def test_numeric_lost_value_for_balking_units():
    """Buses (35 persons) balk when anyone waits; lost value 250 per balking bus."""
    scn = scenario(
        duration="4.5h", demand={"bus": 24}, classes={"bus": {"persons": 35}},
        stages=[stage(lanes=[lane(serves=["bus"], bus="1.5h")])],
        behaviour={"balk": {"bus": {"queue_over": 0}}},
        economics={"value_of_time_per_person_hour": 2.0, "vehicle_cost_per_hour": {"bus": 15},
                   "lost_unit_value": {"bus": 250}},
    )
    # B1 1-2.5; B2 waits 2-2.5, 2.5-4; B3 (3h): B2 in service, nobody waiting → joins,
    # waits 3-4, 4-5.5; B4 (4h): B3 started at 4... B2 leaves at 4 (scheduled before the
    # arrival), B3 starts, nobody waits → B4 joins and waits 0.5h at the end.
    eng = run(scn)
    assert_outcomes(eng, [(1, 0, 2.5, C), (2, 0.5, 4, C), (3, 1, NAN, S), (4, 0.5, NAN, W)],
                    cls="bus")
    costs = simulate(scn, 0).costs[("x", "bus")]
    assert costs["time"] == pytest.approx(2.0 * (35 * 2.0 + 15))
    assert costs["lost"] == 0.0
    assert costs["cargo_time"] == 0.0 and costs["spoilage"] == 0.0


def test_balking_units_cost_their_lost_value():
    scn = scenario(
        duration="3.5h", demand={"bus": 24}, classes={"bus": {"persons": 35}},
        stages=[stage(lanes=[lane(serves=["bus"], bus="2.5h")])],
        behaviour={"balk": {"bus": {"queue_over": 0}}},
        economics={"value_of_time_per_person_hour": 2.0, "lost_unit_value": {"bus": 250}},
    )
    # B1 1-3.5; B2 joins (nobody waiting), waits 2-3.5; B3 (3h): B2 waiting → balks
    eng = run(scn)
    assert_outcomes(eng, [(1, 0, NAN, S), (2, 1.5, NAN, W), (3, 0, 3, B)], cls="bus")
    res = simulate(scn, 0)
    assert res.costs[("x", "bus")]["lost"] == 250.0
    assert res.costs[("x", "bus")]["time"] == pytest.approx(1.5 * 35 * 2.0)
    assert res.metrics[("x", "bus")]["cost_total"] == pytest.approx(250 + 105)


def test_outcomes_conserve_units():
    """Every unit that arrived has exactly one outcome."""
    scn = scenario(duration="6.75h", stages=[stage(lanes=[lane(truck="2h")])],
                   behaviour={"patience": {"truck": "1.5h"}})
    eng = run(scn)
    g = group(eng)
    assert len(g.out_code) == int(np.count_nonzero(g.arrivals.times < scn.duration))


@pytest.mark.parametrize("seed", [1, 2])
def test_forgetting_the_deadlines_of_units_gone_changes_no_event(seed, monkeypatch):
    """A queue forgets the patience deadlines of units that have left once it holds more
    than twice its waiting units (plus a slack): with the slack at 0 (forgetting all the
    time) and at infinity (never), every record is the same, reneges included."""
    import bordersim.model.engine as engine

    data = {
        "name": "patience", "start": "2020-01-01", "duration": "120h", "seed": seed,
        "classes": {"truck": {}},
        "crossings": {"x": {"demand": {"truck": 1200}, "stages": [{"name": "s", "lanes": [
            {"name": "l", "serves": ["truck"], "booths": 2,
             "service": {"truck": {"dist": "exponential", "mean": "2.5min"}}}]}]}},
        "policy": [{"at": "10h", "closed": ["truck"]}, {"at": "30h", "closed": []}],
        "behaviour": {"patience": {"truck": {"dist": "exponential", "mean": "6h"}}},
    }
    scn = scenario_from_dict(data).scenario
    runs = []
    for slack in (0, 10**12):
        monkeypatch.setattr(engine, "COMPACT_SLACK", slack)
        (g,) = run_model(scn, 0, engine="des").groups
        runs.append(g)
    a, b = runs
    assert int((a.out_code == Outcome.RENEGED).sum()) > 100      # patience did act
    for name in ("q_join", "q_leave", "q_unit", "out_unit", "out_wait", "out_exit", "out_code"):
        assert np.array_equal(getattr(a, name), getattr(b, name), equal_nan=True), name
