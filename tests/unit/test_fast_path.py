"""The exact fast path: which lanes qualify and why not, and hand-worked cases it computes.

Each case below is small and deterministic (unit k arrives at k hours, fixed service
times), states its timeline, asserts every outcome, and checks that the recursion, not
the event engine, computed it and wrote exactly the records the event engine writes.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from bordersim.experiment import run_experiment, simulate
from bordersim.loading import load_scenario, scenario_from_dict
from bordersim.model import Outcome, fast_path_lanes, run_model
from bordersim.model.recursion import LaneSettings, NotExact, fifo_lane

NAN = math.nan
C, R, W, S = Outcome.CROSSED, Outcome.RENEGED, Outcome.WAITING_AT_END, Outcome.IN_SERVICE_AT_END
FIELDS = ("q_join", "q_leave", "q_unit", "q_wait0", "out_unit", "out_wait", "out_exit",
          "out_code", "out_travel")


def scenario(service="2h", booths=1, duration="9h", policy=(), behaviour=None, **crossing):
    data = {
        "name": "fast", "start": "2017-10-01", "duration": duration,
        "classes": {"truck": {}},
        "crossings": {"x": {"demand": {"truck": 24}, "arrival_process": "deterministic",
                            "stages": [{"name": "s", "lanes": [
                                {"name": "l", "serves": ["truck"], "booths": booths,
                                 "service": {"truck": service}}]}], **crossing}},
        "policy": list(policy),
    }
    if behaviour:
        data["behaviour"] = behaviour
    return scenario_from_dict(data).scenario


def outcomes(eng):
    """(arrival, wait, exit, outcome) of every unit, by arrival time."""
    (g,) = eng.groups
    rows = sorted(zip(g.out_arr, g.out_wait, g.out_exit, g.out_code, strict=True))
    return [(a, w, e, Outcome(c)) for a, w, e, c in rows]


def assert_outcomes(eng, expected):
    got = outcomes(eng)
    assert [r[3] for r in got] == [r[3] for r in expected], got
    assert [x for r in got for x in r[:3]] == pytest.approx(
        [float(x) for r in expected for x in r[:3]], abs=1e-9, nan_ok=True), got


def same_records(a, b) -> None:
    for ga, gb in zip(a.groups, b.groups, strict=True):
        for f in FIELDS:
            np.testing.assert_array_equal(getattr(ga, f), getattr(gb, f),
                                          err_msg=f"{ga.crossing}/{ga.cls} {f}")


def run_both(scn, engine_expected="recursion"):
    auto, des = run_model(scn, 0, 1, engine="auto"), run_model(scn, 0, 1, engine="des")
    assert [g.engine for g in auto.groups] == [engine_expected]
    assert [g.engine for g in des.groups] == ["des"]
    same_records(auto, des)
    return auto


# ---- which lanes qualify ------------------------------------------------------------------

def test_each_rule_says_why_a_lane_does_not_qualify():
    data = {
        "name": "rules", "start": "2017-10-01", "duration": "2d",
        "classes": {k: {} for k in ("a", "b", "c", "d", "e", "f", "g")},
        "crossings": {
            "one": {"demand": {k: 10 for k in "abcdef"}, "stages": [{"name": "s", "lanes": [
                {"name": "clean", "serves": ["a"], "booths": 1, "service": {"a": "5min"}},
                {"name": "shared", "serves": ["b", "c"], "booths": 1, "service": {"all": "5min"}},
                {"name": "c-too", "serves": ["c"], "booths": 1, "service": {"c": "5min"}},
                {"name": "inspected", "serves": ["d"], "booths": 1, "service": {"d": "5min"}},
                {"name": "quota", "serves": ["e"], "booths": 1, "service": {"e": "5min"}},
                {"name": "balk", "serves": ["f"], "booths": 1, "service": {"f": "5min"}}],
                "secondary": {"d": {"probability": 0.0, "booths": 1, "service": "1h"},
                              "a": {"probability": 0.0, "booths": 1, "service": "1h"}}}]},
            "two": {"demand": {"g": 10}, "stages": [
                {"name": "s1", "lanes": [{"name": "l", "serves": ["g"], "booths": 1,
                                          "service": {"g": "5min"}}]},
                {"name": "s2", "lanes": [{"name": "l", "serves": ["g"], "booths": 1,
                                          "service": {"g": "5min"}}]}]},
            "from": {"demand": {"a": 10}, "stages": [{"name": "s", "lanes": [
                {"name": "l", "serves": ["a"], "booths": 1, "service": {"a": "5min"}}]}]},
            "to": {"demand": {"b": 10}, "stages": [{"name": "s", "lanes": [
                {"name": "l", "serves": ["a", "b"], "booths": 1, "service": {"all": "5min"}}]}]},
            "twice": {"demand": {"a": 10}, "stages": [{"name": "s", "lanes": [
                {"name": "l", "serves": ["a"], "booths": 1, "service": {"a": "5min"}}]}]},
        },
        "policy": [
            {"at": "0h", "crossings": ["twice"], "booths": {"s/l": 2}},
            {"at": "0h", "crossings": ["twice"], "booths": {"s/l": 3}},
            {"at": "2h", "crossings": ["one"], "secondary_probability": {"d": 0.5},
             "quota_per_day": {"e": 5}, "closed": ["a"], "service_factor": {"all": 2},
             "booths": {"s/clean": 3}},
            {"at": "6h", "crossings": ["twice"], "closed": ["a"]},
            {"at": "6h", "crossings": ["twice"], "reset": True},
        ],
        "behaviour": {"balk": {"f": {"queue_over": 3}},
                      "patience": {"a": "1h"},
                      "divert": {"a": {"from": "from", "to": "to", "queue_over": 5,
                                       "travel": "1h"}}},
    }
    v = fast_path_lanes(scenario_from_dict(data).scenario)
    assert v[("one", "s", "clean")].qualifies      # booths, closure, factor, patience: fine
    assert v[("one", "s", "clean")].why_not == ()

    def why(*key):
        assert not v[key].qualifies
        return " | ".join(v[key].why_not)

    assert "serves 2 classes" in why("one", "s", "shared")
    assert "chooses between it and lane shared" in why("one", "s", "c-too")
    assert "secondary inspection" in why("one", "s", "inspected")
    assert "daily quota" in why("one", "s", "quota")
    assert "balks" in why("one", "s", "balk")
    assert "2 stages" in why("two", "s1", "l") and "2 stages" in why("two", "s2", "l")
    assert "diverts from this crossing" in why("from", "s", "l")
    assert "diverted to this crossing" in why("to", "s", "l")
    assert "same instant" in why("twice", "s", "l")      # two phases at 6h; those at 0h apply
    assert why("twice", "s", "l").count("|") == 0        # before any unit: no objection


def test_the_2017_history_computes_pedestrians_exactly_and_the_rest_by_events():
    scn = load_scenario("scenarios/closure-2017.yaml", ["duration=12d"]).scenario
    v = fast_path_lanes(scn)
    assert {key for key, verdict in v.items() if verdict.qualifies} == {
        ("ak-jol", "kz-entry", "foot"), ("chaldybar", "kz-entry", "foot")}
    eng = run_model(scn, 0, engine="auto")
    assert {(g.crossing, g.cls) for g in eng.groups if g.engine == "recursion"} == {
        ("ak-jol", "pedestrian"), ("chaldybar", "pedestrian")}
    assert all(g.engine == "des" for g in run_model(scn, 0, engine="des").groups)


def test_an_unknown_engine_is_refused():
    scn = scenario()
    with pytest.raises(ValueError, match="engine"):
        run_model(scn, 0, engine="fast")
    with pytest.raises(ValueError, match="engine"):
        run_experiment(scn, workers=1, engine="fast")


# ---- hand-worked cases through the recursion ---------------------------------------------------

def test_fifo_lane_with_two_booths():
    """2 booths, 2.5h service, horizon 9h: T1 1-3.5, T2 2-4.5, T3 waits 3-3.5, 3.5-6, T4 waits
    4-4.5, 4.5-7, T5 waits 5-6, 6-8.5, T6 waits 6-7 and is in service from 7, T7 waits 7-8.5
    and is in service from 8.5, T8 waits from 8 (1h at the end)."""
    eng = run_both(scenario(service="2.5h", booths=2))
    assert_outcomes(eng, [(1, 0, 3.5, C), (2, 0, 4.5, C), (3, 0.5, 6, C), (4, 0.5, 7, C),
                          (5, 1, 8.5, C), (6, 1, NAN, S), (7, 1.5, NAN, S), (8, 1, NAN, W)])


def test_two_booths_freeing_at_one_instant_still_serve_in_arrival_order():
    """2 booths, 2h service, closed until 2.5h. T1 and T2 start together at 2.5 and leave
    together at 4.5; T3 (waiting since 3) and T4 (since 4) take both booths at 4.5 — T4 not
    earlier, though a booth was idle when it came: first come, first served. Then pairs again:
    T5, T6 6.5-8.5; T7, T8 from 8.5 (in service at 9h)."""
    eng = run_both(scenario(booths=2, policy=[{"at": "0h", "closed": ["truck"]},
                                              {"at": "2.5h", "closed": []}]))
    assert_outcomes(eng, [(1, 1.5, 4.5, C), (2, 0.5, 4.5, C), (3, 1.5, 6.5, C),
                          (4, 0.5, 6.5, C), (5, 1.5, 8.5, C), (6, 0.5, 8.5, C),
                          (7, 1.5, NAN, S), (8, 0.5, NAN, S)])


def test_booths_cut_to_none_then_one_waits_for_both_units_in_service():
    """2 booths, 2h service. T1 1-3, T2 2-4. At 2.5h no booth is staffed; at 2.6h one is,
    but two units are still in service: T3 (3h) waits until both have left, 4-6; T4 waits
    4-6, 6-8; T5 waits 5-8, 8-10 (in service at 9h); T6..T8 still waiting."""
    eng = run_both(scenario(booths=2, policy=[{"at": "2.5h", "booths": {"s/l": 0}},
                                              {"at": "2.6h", "booths": {"s/l": 1}}]))
    assert_outcomes(eng, [(1, 0, 3, C), (2, 0, 4, C), (3, 1, 6, C), (4, 2, 8, C),
                          (5, 3, NAN, S), (6, 3, NAN, W), (7, 2, NAN, W), (8, 1, NAN, W)])


def test_more_booths_and_a_slower_inspection_from_a_phase():
    """1 booth, 1.5h service; at 3.25h two booths and service × 2 (3h) for services starting
    from then. T1 1-2.5, T2 waits 2-2.5, 2.5-4, T3 waits 3-3.25 and starts on the new booth
    (3h: leaves at 6.25), T4 (4h) takes the booth T2 leaves at 4h: 4-7; T5 waits 5-6.25, in
    service from 6.25; T6
    waits 6-7, in service from 7; T7 and T8 wait to the end (2h, 1h)."""
    eng = run_both(scenario(service="1.5h", policy=[
        {"at": "3.25h", "booths": {"s/l": 2}, "service_factor": {"truck": 2}}]))
    assert_outcomes(eng, [(1, 0, 2.5, C), (2, 0.5, 4, C), (3, 0.25, 6.25, C), (4, 0, 7, C),
                          (5, 1.25, NAN, S), (6, 1, NAN, S), (7, 2, NAN, W), (8, 1, NAN, W)])


def test_closure_of_the_only_class_with_patience():
    """1 booth, 30min service, patience 2.5h; closed from 2.75h to 6h. T1 and T2 are served at
    once. T3 (3h) reneges at 5.5, before the reopening; T4 (waiting since 4) starts when the
    booth reopens, 6-6.5; T5 6.5-7; T6 (6h, after the reopening) 7-7.5; T7 7.5-8; T8 8-8.5."""
    eng = run_both(scenario(service="30min", behaviour={"patience": {"truck": "2.5h"}},
                            policy=[{"at": "2.75h", "closed": ["truck"]},
                                    {"at": "6h", "closed": []}]))
    assert_outcomes(eng, [(1, 0, 1.5, C), (2, 0, 2.5, C), (3, 2.5, 5.5, R), (4, 2, 6.5, C),
                          (5, 1.5, 7, C), (6, 1, 7.5, C), (7, 0.5, 8, C), (8, 0, 8.5, C)])


def test_a_deadline_at_the_instant_a_booth_frees_is_left_to_the_event_engine():
    """2h service, patience 1h: T2 (2h) would renege at 3h, the instant T1 leaves. Which
    happens first is the order of two events at one instant, which the recursion does not
    know: the event engine runs this crossing. T1's finish was scheduled first, so T2 is
    served, 3-5; T3 (3h) reneges at 4h."""
    eng = run_both(scenario(behaviour={"patience": {"truck": "1h"}}), engine_expected="des")
    got = outcomes(eng)
    assert got[1] == (2, 1, 5, C)
    assert got[2][3] == R and got[2][2] == pytest.approx(4)


def test_results_are_the_same_with_either_engine_for_the_hand_worked_cases():
    for scn in (scenario(service="2.5h", booths=2),
                scenario(service="30min", behaviour={"patience": {"truck": "2.5h"}},
                         policy=[{"at": "2.75h", "closed": ["truck"]},
                                 {"at": "6h", "closed": []}])):
        a, b = simulate(scn, 0, 1, engine="auto"), simulate(scn, 0, 1, engine="des")
        assert a.metrics.keys() == b.metrics.keys()
        for key in a.metrics:
            assert a.metrics[key] == pytest.approx(b.metrics[key], nan_ok=True, rel=0, abs=0)
            np.testing.assert_array_equal(a.queue[key], b.queue[key])


def test_a_renege_at_the_instant_another_unit_starts_is_left_to_the_event_engine():
    """One booth, 1h services from 0.5h: T1 0.5-1.5, T2 1.5-2.5, T3 from 2.5; T4 (2h) has
    0.5h of patience and gives up at 2.5h, the instant T3 starts and T2 leaves: the order of
    those records is the order of events at one instant."""
    t = np.array([0.5, 1.0, 1.5, 2.0])
    start = LaneSettings(booths=1, closed=False, factor=1.0)
    with pytest.raises(NotExact):
        fifo_lane(t, t, np.ones(4), np.array([9.0, 9.0, 9.0, 0.5]), start, [], 10.0)
    # with more patience there is no such instant, and the recursion answers
    rec = fifo_lane(t, t, np.ones(4), np.array([9.0, 9.0, 9.0, 0.75]), start, [], 10.0)
    assert list(rec.out_code) == [C, C, R, C]        # T4 gives up at 2.75h, before T3 ends
    assert list(rec.out_unit) == [0, 1, 3, 2]
    assert list(rec.out_exit) == [1.5, 2.5, 2.75, 3.5]


def test_a_lane_whose_class_books_slots_is_left_to_the_event_engine():
    """An electronic queue makes units reach the lane when called, not when they arrive:
    the rule objects for the class at that crossing (from the phase that introduces it),
    and both engines then run the events, with the same records."""
    phases = [{"at": "3h", "appointment": {"truck": {"slots_per_day": 12}}}]
    scn = scenario(service="1h", duration="20h", policy=phases)
    why = fast_path_lanes(scn)[("x", "s", "l")].why_not
    assert len(why) == 1 and "book slots" in why[0]
    auto = run_both(scn, engine_expected="des")
    assert len(auto.groups[0].booking.records()["unit"]) > 0
    assert fast_path_lanes(scenario(service="1h", duration="20h"))[("x", "s", "l")].qualifies
