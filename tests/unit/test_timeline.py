"""compile_timeline: cumulative phases, reset, scoping by crossing and stage, demand steps."""

from __future__ import annotations

import pytest

from bordersim.loading import scenario_from_dict
from bordersim.model.timeline import StageSettings, compile_timeline


def _stage(name: str, secondary: bool = False) -> dict:
    st = {
        "name": name,
        "lanes": [
            {"name": "cars", "serves": ["car", "bus"], "booths": 3,
             "service": {"all": "5min"}},
            {"name": "freight", "serves": ["truck"], "booths": 4, "service": {"truck": "20min"}},
        ],
    }
    if secondary:
        st["secondary"] = {"truck": {"probability": 0.05, "booths": 2, "service": "2h"},
                           "car": {"probability": 0.0, "booths": 1, "service": "1h"}}
    return st


def scenario(policy: list[dict]):
    data = {
        "name": "timeline",
        "start": "2017-10-01",
        "duration": "20d",
        "classes": {"car": {}, "bus": {}, "truck": {}},
        "crossings": {
            "a": {"demand": {"car": 10, "bus": 2, "truck": 30},
                  "stages": [_stage("exit"), _stage("entry", secondary=True)]},
            "b": {"demand": {"car": 10, "truck": 30},
                  "stages": [_stage("exit"), _stage("entry")]},
        },
        "policy": policy,
    }
    return scenario_from_dict(data).scenario


def settings_at(tl, crossing: str, stage: str, t: float) -> StageSettings:
    """The settings in force at time t (the last change at or before t)."""
    s = tl.base[(crossing, stage)]
    for ch in tl.changes:
        if ch.crossing == crossing and ch.stage == stage and ch.time_h <= t:
            s = ch.settings
    return s


def changed_at(tl, t: float) -> set:
    return {(ch.crossing, ch.stage) for ch in tl.changes if ch.time_h == t}


ALL_STAGES = {("a", "exit"), ("a", "entry"), ("b", "exit"), ("b", "entry")}


def test_base_settings_come_from_the_scenario():
    tl = compile_timeline(scenario([]))
    assert tl.changes == [] and not tl.has_quota and tl.phase_times == []
    a_entry = tl.base[("a", "entry")]
    assert dict(a_entry.booths) == {"cars": 3, "freight": 4}
    assert dict(a_entry.secondary_probability) == {"truck": 0.05, "car": 0.0}
    assert a_entry.closed == frozenset() and a_entry.factor("truck") == 1.0
    assert dict(tl.base[("b", "entry")].secondary_probability) == {}
    assert tl.demand_factor[("a", "car")] == [(0.0, 1.0)]


def test_phases_are_cumulative_each_replaces_only_what_it_names():
    tl = compile_timeline(scenario([
        {"at": "1d", "label": "closure", "closed": ["truck"],
         "service_factor": {"all": 2.0, "truck": 6.0}},
        {"at": "2017-10-03", "label": "priority", "priority": ["bus", "car"]},
        {"at": "3d", "service_factor": {"car": 1.5}},
    ]))
    assert tl.phase_times == [(24.0, "closure"), (48.0, "priority"), (72.0, "phase 2")]
    assert changed_at(tl, 24.0) == changed_at(tl, 48.0) == changed_at(tl, 72.0) == ALL_STAGES
    s1 = settings_at(tl, "a", "exit", 24.0)
    assert s1.closed == {"truck"} and s1.factor("truck") == 6.0 and s1.factor("bus") == 2.0
    assert dict(s1.priority) == {} and s1.label == "closure"
    s2 = settings_at(tl, "a", "exit", 48.0)
    assert s2.closed == {"truck"}                     # carried over
    assert s2.factor("truck") == 6.0 and s2.factor("car") == 2.0
    assert s2.level("bus") == 0 and s2.level("car") == 1 and s2.level("truck") == 2
    assert s2.label == "priority"
    s3 = settings_at(tl, "a", "exit", 72.0)
    # service_factor is named again: its whole mapping is replaced (no 'all' any more)
    assert s3.factor("car") == 1.5 and s3.factor("truck") == 1.0 and s3.factor("bus") == 1.0
    assert s3.closed == {"truck"} and s3.level("bus") == 0   # the rest carries over
    assert s3.label == "priority"                             # an unlabelled phase keeps the label
    assert dict(s3.booths) == {"cars": 3, "freight": 4}


def test_empty_closed_list_reopens():
    tl = compile_timeline(scenario([
        {"at": "1d", "closed": ["truck", "bus"]},
        {"at": "2d", "closed": []},
    ]))
    assert settings_at(tl, "b", "entry", 24.0).closed == {"truck", "bus"}
    assert settings_at(tl, "b", "entry", 48.0).closed == frozenset()


def test_reset_restores_the_base_then_applies_what_it_names():
    tl = compile_timeline(scenario([
        {"at": "1d", "closed": ["truck"], "service_factor": {"all": 3.0},
         "booths": {"entry/freight": 1}, "secondary_probability": {"truck": 1.0},
         "quota_per_day": {"truck": 80}, "priority": ["bus"]},
        {"at": "2d", "reset": True},
        {"at": "3d", "closed": ["car"]},
        {"at": "4d", "reset": True, "service_factor": {"truck": 2.0}},
    ]))
    assert tl.has_quota
    hard = settings_at(tl, "a", "entry", 24.0)
    assert dict(hard.booths) == {"cars": 3, "freight": 1}
    assert dict(hard.secondary_probability) == {"truck": 1.0, "car": 0.0}
    assert dict(hard.quota_per_day) == {"truck": 80}
    base = tl.base[("a", "entry")]
    reset = settings_at(tl, "a", "entry", 48.0)
    for field in ("closed", "service_factor", "secondary_probability", "booths",
                  "quota_per_day", "priority"):
        assert getattr(reset, field) == getattr(base, field), field
    assert settings_at(tl, "a", "entry", 72.0).closed == {"car"}
    last = settings_at(tl, "a", "entry", 96.0)
    assert last.closed == frozenset()                 # reset dropped the car closure
    assert last.factor("truck") == 2.0 and last.factor("car") == 1.0


def test_booths_name_stage_and_lane():
    tl = compile_timeline(scenario([
        {"at": "1d", "booths": {"entry/freight": 2, "exit/cars": 1}},
    ]))
    assert dict(settings_at(tl, "a", "entry", 24.0).booths) == {"cars": 3, "freight": 2}
    assert dict(settings_at(tl, "a", "exit", 24.0).booths) == {"cars": 1, "freight": 4}
    assert dict(settings_at(tl, "b", "entry", 24.0).booths) == {"cars": 3, "freight": 2}


def test_secondary_probability_names_override_the_base_others_keep_it():
    tl = compile_timeline(scenario([
        {"at": "1d", "secondary_probability": {"car": 0.5}},
        {"at": "2d", "secondary_probability": {"truck": 0.25}},
    ]))
    assert dict(settings_at(tl, "a", "entry", 24.0).secondary_probability) == {
        "truck": 0.05, "car": 0.5}
    # named again: unnamed classes go back to the base probability
    assert dict(settings_at(tl, "a", "entry", 48.0).secondary_probability) == {
        "truck": 0.25, "car": 0.0}


def test_scope_by_crossing():
    tl = compile_timeline(scenario([
        {"at": "1d", "crossings": ["a"], "closed": ["truck"]},
        {"at": "2d", "crossings": ["b"], "service_factor": {"all": 2.0}},
    ]))
    assert changed_at(tl, 24.0) == {("a", "exit"), ("a", "entry")}
    assert changed_at(tl, 48.0) == {("b", "exit"), ("b", "entry")}
    assert settings_at(tl, "a", "exit", 100.0).closed == {"truck"}
    assert settings_at(tl, "a", "exit", 100.0).factor("car") == 1.0
    assert settings_at(tl, "b", "exit", 100.0).closed == frozenset()
    assert settings_at(tl, "b", "exit", 100.0).factor("car") == 2.0


def test_scope_by_stage():
    tl = compile_timeline(scenario([
        {"at": "1d", "stages": ["entry"], "closed": ["truck"], "priority": ["bus"]},
        {"at": "2d", "crossings": ["b"], "stages": ["exit"], "service_factor": {"truck": 4.0}},
        {"at": "3d", "crossings": ["a"], "stages": ["entry"], "reset": True},
    ]))
    assert changed_at(tl, 24.0) == {("a", "entry"), ("b", "entry")}
    assert changed_at(tl, 48.0) == {("b", "exit")}
    assert changed_at(tl, 72.0) == {("a", "entry")}
    assert settings_at(tl, "a", "exit", 30.0).closed == frozenset()
    assert settings_at(tl, "b", "entry", 30.0).closed == {"truck"}
    b_exit = settings_at(tl, "b", "exit", 50.0)
    assert b_exit.factor("truck") == 4.0 and b_exit.closed == frozenset()
    assert settings_at(tl, "b", "entry", 50.0).factor("truck") == 1.0
    assert settings_at(tl, "a", "entry", 80.0).closed == frozenset()   # reset, in its scope
    assert settings_at(tl, "b", "entry", 80.0).closed == {"truck"}     # outside it


def test_changes_are_in_time_order():
    tl = compile_timeline(scenario([
        {"at": "1d", "closed": ["truck"]},
        {"at": "2017-10-02T12:00", "crossings": ["b"], "closed": []},
        {"at": "2d", "reset": True},
    ]))
    times = [ch.time_h for ch in tl.changes]
    assert times == sorted(times) and set(times) == {24.0, 36.0, 48.0}


# ---- demand factor step functions ----------------------------------------------------------------

def test_demand_factor_step_functions():
    tl = compile_timeline(scenario([
        {"at": "1d", "demand_factor": {"car": 0.5, "bus": 0.3}},
        {"at": "2d", "closed": ["truck"]},                   # does not touch demand
        {"at": "3d", "demand_factor": {"all": 0.0, "car": 0.8}},
        {"at": "4d", "demand_factor": {"truck": 2.0}},       # replaces the whole mapping
        {"at": "5d", "reset": True},
    ]))
    df = tl.demand_factor
    assert df[("a", "car")] == [(0.0, 1.0), (24.0, 0.5), (72.0, 0.8), (96.0, 1.0), (120.0, 1.0)]
    assert df[("a", "bus")] == [(0.0, 1.0), (24.0, 0.3), (72.0, 0.0), (96.0, 1.0), (120.0, 1.0)]
    assert df[("a", "truck")] == [(0.0, 1.0), (24.0, 1.0), (72.0, 0.0), (96.0, 2.0),
                                  (120.0, 1.0)]
    assert tl.max_demand_factor[("a", "truck")] == 2.0
    assert tl.max_demand_factor[("a", "car")] == 1.0
    assert tl.max_demand_factor[("a", "bus")] == 1.0


def test_demand_factor_scoped_by_crossing():
    tl = compile_timeline(scenario([
        {"at": "1d", "crossings": ["b"], "demand_factor": {"truck": 0.25}},
    ]))
    assert tl.demand_factor[("a", "truck")] == [(0.0, 1.0)]
    assert tl.demand_factor[("b", "truck")] == [(0.0, 1.0), (24.0, 0.25)]
    assert tl.demand_factor[("b", "car")] == [(0.0, 1.0), (24.0, 1.0)]


def step_value(steps, t):
    v = None
    for s, f in steps:
        if s <= t:
            v = f
    return v


@pytest.mark.parametrize(("t", "expected"), [(0, 1.0), (23.9, 1.0), (24, 0.5), (47.9, 0.5),
                                             (48, 1.0), (1000, 1.0)])
def test_demand_factor_reset_ends_a_reduction(t, expected):
    tl = compile_timeline(scenario([
        {"at": "1d", "demand_factor": {"car": 0.5}},
        {"at": "2d", "reset": True},
    ]))
    assert step_value(tl.demand_factor[("a", "car")], t) == expected
