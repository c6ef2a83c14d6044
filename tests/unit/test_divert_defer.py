"""Diversion between crossings and deferred demand, with exact times."""

from __future__ import annotations

import numpy as np
import pytest

from bordersim.loading import scenario_from_dict
from bordersim.model import Outcome, run_model


def _lane(booths=1, service="1h"):
    return {"name": "l", "serves": ["truck"], "booths": booths, "service": {"truck": service}}


def _scenario(**over) -> dict:
    d = {
        "name": "dd", "start": "2017-10-01", "duration": "12h",
        "classes": {"truck": {"persons": 1}},
        "crossings": {
            "a": {"demand": {"truck": 24}, "arrival_process": "deterministic",
                  "stages": [{"name": "s", "lanes": [_lane(service="3h")]}]},
            "b": {"demand": {}, "stages": [{"name": "s", "lanes": [_lane()]}]},
            "c": {"demand": {}, "stages": [{"name": "s", "lanes": [_lane()]}]},
        },
    }
    d.update(over)
    return d


def _records(eng, crossing):
    g = next(g for g in eng.groups if g.crossing == crossing)
    return sorted(zip(g.out_arr, g.out_wait, g.out_exit, g.out_code, strict=True))


def test_divert_picks_the_alternative_with_least_delay_plus_travel():
    """a: 1 booth of 3h; trucks at 1,2,3,...h. Truck 1 served 1-4h, truck 2 waits;
    truck 3 (3h) finds 1 waiting > 0: a's expected delay = (1 waiting + 1 busy) × 3h = 6h;
    b is 4h away, c 2h away, both empty → goes to c, arriving at 5h. At 4h truck 1 leaves
    before truck 4 arrives (scheduled earlier), truck 2 starts: truck 4 finds nobody
    waiting and stays; truck 5 finds truck 4 waiting and diverts."""
    d = _scenario(behaviour={"divert": {"truck": {
        "from": "a", "to": ["b", "c"], "queue_over": 0, "travel": {"b": "4h", "c": "2h"}}}})
    eng = run_model(scenario_from_dict(d).scenario, 0, 1)
    a = _records(eng, "a")
    diverted = [r for r in a if r[3] == Outcome.DIVERTED]
    assert [r[0] for r in diverted][:2] == [3.0, 5.0]
    c = _records(eng, "c")
    assert c[0][:3] == pytest.approx((5.0, 0.0, 6.0))   # arrives 5h, served at once, 1h
    assert c[0][3] == Outcome.CROSSED
    assert not _records(eng, "b")


def test_no_diversion_when_staying_is_quicker():
    """Travel of 20h is longer than a's expected delay (at most 12h before 8h): all stay."""
    d = _scenario(duration="8h", behaviour={"divert": {"truck": {
        "from": "a", "to": "b", "queue_over": 0, "travel": "20h"}}})
    eng = run_model(scenario_from_dict(d).scenario, 0, 1)
    assert all(r[3] != Outcome.DIVERTED for r in _records(eng, "a"))


def test_a_unit_diverts_at_most_once():
    """b is also crowded and diverts back to a; a unit that came from a stays at b."""
    d = _scenario(behaviour={"divert": {"truck": [
        {"from": "a", "to": "b", "queue_over": 0, "travel": "1h"},
        {"from": "b", "to": "a", "queue_over": 0, "travel": "1h"}]}})
    d["crossings"]["b"]["stages"][0]["lanes"][0]["service"] = {"truck": "10h"}
    eng = run_model(scenario_from_dict(d).scenario, 0, 1)
    b = _records(eng, "b")
    assert b and all(r[3] != Outcome.DIVERTED for r in b)


def test_deferred_deterministic_demand_returns_after_the_phase():
    """24/day; demand factor 0 from 2h to 6h: the expected count stands still, so the
    next units arrive at 7h, 8h, ...; the 4 trips of that phase are lost and half come
    back spread evenly over the 2h after 6h: at 6.5h and 7.5h."""
    d = _scenario(policy=[{"at": "2h", "crossings": ["a"], "demand_factor": {"truck": 0}},
                          {"at": "6h", "crossings": ["a"], "reset": True}],
                  behaviour={"defer": {"truck": {"share": 0.5, "over": "2h"}}})
    d["crossings"]["a"]["stages"][0]["lanes"][0]["service"] = {"truck": "1min"}
    eng = run_model(scenario_from_dict(d).scenario, 0, 1)
    times = sorted(r[0] for r in _records(eng, "a"))
    assert times == pytest.approx([1, 2, 6.5, 7, 7.5, 8, 9, 10, 11])


def test_deferred_poisson_units_are_the_same_units_later():
    """A deferred unit is a candidate the demand factor dropped: it keeps its service
    draws, and without defer those candidates are simply absent."""
    base = {
        "name": "p", "start": "2017-10-01", "duration": "20d", "seed": 4,
        "classes": {"truck": {"persons": 1}},
        "crossings": {"a": {"demand": {"truck": 100}, "stages": [
            {"name": "s", "lanes": [_lane(booths=5, service={"dist": "exponential",
                                                            "mean": "30min"})]}]}},
        "policy": [{"at": "5d", "demand_factor": {"truck": 0.2}},
                   {"at": "10d", "reset": True}],
    }
    with_defer = dict(base, behaviour={"defer": {"truck": {"share": 0.5, "over": "3d"}}})
    g0 = run_model(scenario_from_dict(base).scenario, 0).groups[0]
    g1 = run_model(scenario_from_dict(with_defer).scenario, 0).groups[0]
    t0, t1 = np.asarray(g0.arrivals.times), np.asarray(g1.arrivals.times)
    svc0 = np.asarray(g0.attrs[("service", "s", "l")])
    svc1 = np.asarray(g1.attrs[("service", "s", "l")])
    n = len(t0)
    assert np.array_equal(t1[:n], t0) and np.array_equal(svc1[:n], svc0)
    back = t1[n:]
    # about 0.5 × 0.8 × 100/day × 5 days = 200 come back, all within 3 days after 10d
    assert 140 < len(back) < 260
    assert back.min() >= 240 and back.max() <= 240 + 72
    # a deferred unit's service draw is one the base run never used
    assert not np.isin(svc1[n:], svc0).any()
