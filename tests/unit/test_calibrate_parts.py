"""Pieces of the calibration: priors, the distance, and simulating only what is observed."""

from __future__ import annotations

import math
from datetime import datetime

import numpy as np
import pytest

from bordersim.calibrate.distance import Distance, observation_distance
from bordersim.calibrate.priors import apply_parameters, prior_from_spec, prior_from_vary
from bordersim.calibrate.problem import CalibrationProblem, prune_for_observations
from bordersim.experiment import simulate
from bordersim.loading import ScenarioError, load_scenario, scenario_from_dict
from bordersim.observations import Observation, SeriesSet, figures, read_observations

START = datetime(2017, 10, 1)


def _obs(low, high, confidence="R", metric="waiting_units", crossing="x", cls="truck",
         when=datetime(2017, 10, 1, 12)):
    return Observation(2, when, None, crossing, cls, metric, low, high, "s", confidence, "")


@pytest.mark.parametrize("value,low,high,expected", [
    (5, 0, 10, 0.0), (0, 0, 10, 0.0), (10, 0, 10, 0.0),
    (15, 0, 10, 0.5), (-5, 0, 10, 0.5), (130, 70, 100, 1.0),
    (1, 2, math.inf, 0.5), (100, 2, math.inf, 0.0),   # open range: in units of lo
    (0.5, 0, math.inf, 0.0), (3, 1, 1, 2.0),          # zero width: in units of lo (>= 1)
    (math.nan, 0, 10, 1.0),                           # undefined: one width out
])
def test_observation_distance(value, low, high, expected):
    assert observation_distance(value, _obs(low, high)) == pytest.approx(expected)


def test_distance_weighs_by_confidence_and_leaves_out_unfitted():
    obs = [_obs(0, 10, "R"), _obs(0, 10, "R?"), _obs(0, 10, "E"), _obs(0, 10, "R")]
    d = Distance(obs, [True, True, True, False])
    # gaps of 1, 2, 4 widths; the unfitted one is far out and counts for nothing
    assert d(np.array([20, 30, 50, 1e6])) == pytest.approx((1 * 1 + 0.5 * 2 + 0.25 * 4) / 1.75)
    assert d(np.array([5, 5, 5, 1e6])) == 0.0


def test_priors_from_the_command_line_and_a_spec():
    p = prior_from_vary("crossings.x.demand.truck=100..300", START)
    assert (p.low, p.high, p.kind, p.scale) == (100, 300, "integer", "linear")
    assert p.value(149.6, START) == 150
    q = prior_from_vary("crossings.x.stages.0.lanes.0.service.truck.mean=30min..2h", START)
    assert (q.low, q.high, q.kind) == (0.5, 2.0, "number")
    r = prior_from_spec("policy.0.at", {"range": "2017-10-10..2017-10-12", "source": "[u]"},
                        START, "spec.yaml")
    assert (r.low, r.high, r.kind, r.source) == (216.0, 264.0, "time", "[u]")
    assert r.value(222.0, START) == "2017-10-10T06:00"
    s = prior_from_spec("a.b", {"range": [0.1, 10], "scale": "log"}, START, "spec.yaml")
    assert s.scale == "log"


@pytest.mark.parametrize("entry,message", [
    ({"range": "0..10", "scale": "log"}, "lo > 0"),
    ({"range": "1..2", "scale": "cubic"}, "expected one of linear, log"),
    ({"range": "1..2", "mean": 3}, "unknown key"),
    ("1,2,3", "expected a range lo..hi"),
    ({"source": "x"}, "expected lo..hi or [lo, hi]"),
])
def test_bad_priors_are_named(entry, message):
    with pytest.raises(ScenarioError) as e:
        prior_from_spec("a.b", entry, START, "spec.yaml")
    assert message in e.value.message() and "priors.a.b" in e.value.message()


SCENARIO = {
    "name": "p", "start": "2017-10-01", "duration": "3d", "seed": 3,
    "classes": {"truck": {"persons": 1}, "car": {"persons": 2}},
    "crossings": {
        name: {"demand": {"truck": 120, "car": 60},
               "stages": [{"name": "s", "lanes": [
                   {"name": "l", "serves": ["truck", "car"], "booths": 1,
                    "service": {"truck": "10min", "car": "4min"}}]}]}
        for name in ("x", "y", "z")},
    "policy": [{"at": "2017-10-01T12:00", "crossings": ["z"], "service_factor": {"all": 3}},
               {"at": "2017-10-02", "service_factor": {"truck": 2}}],
    "behaviour": {"divert": {"truck": {"from": "x", "to": "y", "queue_over": 3,
                                       "travel": "1h"}}},
}


def test_leaving_out_what_no_observation_reads_changes_no_figure(tmp_path):
    """z is read by nothing and takes no diverted trucks: left out, with its phase; x
    diverts to y, so both stay. The run ends after the last window read (day 2). Every
    observed figure is the same as in the whole scenario."""
    p = tmp_path / "obs.csv"
    p.write_text("date,crossing,class,metric,value_low,value_high,source,confidence,note\n"
                 "2017-10-01T18:00,x,truck,waiting_units,0,9,s,R,\n"
                 "2017-10-02,x+y,all,crossed_per_day,0,9,s,R,\n"
                 "2017-10-02,y,truck,wait_h,0,9,s,R,\n")
    obs = read_observations(p)
    whole = scenario_from_dict(SCENARIO).scenario
    data = prune_for_observations(SCENARIO, whole, obs)
    assert set(data["crossings"]) == {"x", "y"}
    assert len(data["policy"]) == 1 and data["duration"] == 49.0
    small = scenario_from_dict(data).scenario
    for r in range(3):
        a = SeriesSet.from_results(whole, [simulate(whole, r, 5)])
        b = SeriesSet.from_results(small, [simulate(small, r, 5)])
        for o in obs:
            assert np.array_equal(figures(a, o), figures(b, o)), o.label


def test_the_shipped_history_read_on_its_observations_is_unchanged_when_cut_short():
    """closure-2017 cut after the last observation gives the same observed figures as the
    whole run (one replication)."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    loaded = load_scenario(root / "scenarios/closure-2017.yaml")
    obs = read_observations(root / "data/observations-2017.csv")
    whole = loaded.scenario
    small = scenario_from_dict(prune_for_observations(loaded.resolved, whole, obs)).scenario
    assert small.duration < whole.duration
    a = SeriesSet.from_results(whole, [simulate(whole, 0, 17)])
    b = SeriesSet.from_results(small, [simulate(small, 0, 17)])
    for o in obs:
        x, y = figures(a, o), figures(b, o)
        assert (x is None and y is None) or np.array_equal(x, y, equal_nan=True), o.label


def test_a_prior_end_that_breaks_the_scenario_is_refused_before_running(tmp_path):
    from bordersim.loading import LoadedScenario

    p = tmp_path / "obs.csv"
    p.write_text("date,crossing,class,metric,value_low,value_high\n"
                 "2017-10-01T18:00,x,truck,waiting_units,0,9\n")
    loaded = LoadedScenario(scenario_from_dict(SCENARIO).scenario, SCENARIO, "s.yaml")
    bad = prior_from_vary("crossings.x.stages.0.lanes.0.booths=0..3", START)
    with pytest.raises(ScenarioError) as e:
        CalibrationProblem(loaded, [bad], read_observations(p), str(p))
    assert "crossings.x.stages.0.lanes.0.booths" in e.value.message()
    assert "at the end 0 of its prior" in e.value.message()


def test_parameters_land_at_their_paths():
    prior = prior_from_vary("crossings.y.demand.car=10..90", START)
    data = apply_parameters(SCENARIO, [prior], {prior.name: 41.7}, START)
    assert data["crossings"]["y"]["demand"]["car"] == 42
    assert SCENARIO["crossings"]["y"]["demand"]["car"] == 60     # a copy


def _gens(*rates, population=100):
    from bordersim.calibrate.driver import Generation

    return [Generation(t, 1.0 / (t + 1), population, round(population / r), 50.0)
            for t, r in enumerate(rates)]


def test_the_next_generation_is_expected_to_take_the_population_over_falling_acceptance():
    from bordersim.calibrate.driver import expected_simulations

    assert expected_simulations(_gens(1.0), 100) == pytest.approx(100)
    # 50% then 25%: the acceptance halves again, to 12.5%
    assert expected_simulations(_gens(1.0, 0.5, 0.25), 100) == pytest.approx(800)
    # a rising acceptance is not extrapolated upwards
    assert expected_simulations(_gens(0.2, 0.4), 100) == pytest.approx(250)


def test_a_generation_expected_to_pass_the_budget_is_not_started():
    from bordersim.calibrate.driver import AbcSettings, stop_reason

    gens = _gens(1.0, 0.5, 0.25)               # 100 + 200 + 400 simulations so far
    assert stop_reason(gens, AbcSettings(population=100, generations=10,
                                         budget=1500)) is None          # 700 + 800
    why = stop_reason(gens, AbcSettings(population=100, generations=10, budget=1499))
    assert why is not None and "800" in why and "799" in why
    assert "generations" in stop_reason(gens, AbcSettings(population=100, generations=3))
    low = AbcSettings(population=100, generations=10, budget=10**6, min_acceptance=0.3)
    assert "acceptance 25.0%" in stop_reason(gens, low)
