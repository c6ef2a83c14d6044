"""Same scenario and seed, same results; policies see the same units (common random numbers).

SPEC "Semantics that must hold": results are identical whatever the number of
workers; each unit's random attributes come from streams keyed by crossing
and class, so two scenarios that differ only in policy see the same units and
adding a crossing leaves another crossing's draws alone.
"""

from __future__ import annotations

import copy
import math
import os
import subprocess
import sys

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from bordersim.cli import cli
from bordersim.experiment import simulate
from bordersim.loading import scenario_from_dict
from bordersim.model import run_model

SCENARIO = {
    "name": "determinism",
    "start": "2019-06-01T00:00",
    "duration": "4d",
    "warmup": "12h",
    "cooldown": "6h",
    "replications": 6,
    "seed": 2468,
    "classes": {
        "car": {"persons": 2, "length_m": 7},
        "truck": {"persons": 1, "length_m": 20,
                  "cargo_value": {"dist": "gamma", "mean": 20000, "cv": 0.5},
                  "perishable_share": 0.2},
    },
    "crossings": {
        "east": {
            "demand": {"car": 200, "truck": 120},
            "stages": [
                {"name": "exit", "lanes": [
                    {"name": "all", "serves": ["car", "truck"], "booths": 3,
                     "service": {"car": {"dist": "exponential", "mean": "5min"},
                                 "truck": {"dist": "lognormal", "mean": "12min", "cv": 0.6}}}]},
                {"name": "entry", "lanes": [
                    {"name": "cars", "serves": ["car"], "booths": 1,
                     "service": {"car": {"dist": "uniform", "low": "2min", "high": "8min"}}},
                    {"name": "trucks", "serves": ["truck", "car"], "booths": 2,
                     "service": {"all": {"dist": "gamma", "mean": "14min", "cv": 0.7}}}],
                 "secondary": {"truck": {"probability": 0.1, "booths": 1,
                                         "service": {"dist": "exponential", "mean": "1h"}}}},
            ],
        },
        "west": {
            "demand": {"car": 150},
            "stages": [{"name": "gate", "lanes": [
                {"name": "g", "serves": ["car"], "booths": 2,
                 "service": {"car": {"dist": "triangular", "low": "3min", "mode": "6min",
                                     "high": "15min"}}}]}],
        },
    },
    "policy": [
        {"at": "1d", "crossings": ["east"], "closed": ["truck"], "service_factor": {"all": 1.4}},
        {"at": "2d", "crossings": ["east"], "reset": True},
    ],
    "behaviour": {"patience": {"truck": {"dist": "exponential", "mean": "10h"}},
                  "balk": {"car": {"queue_over": 25}}},
    "economics": {"value_of_time_per_person_hour": 2.0,
                  "vehicle_cost_per_hour": {"truck": 8.0},
                  "cargo_time_cost_per_day": 0.01,
                  "lost_unit_value": {"truck": "cargo"}},
}

FILES = ("summary.csv", "replications.csv", "timeseries.csv", "costs.csv")


def _scn(data: dict):
    return scenario_from_dict(copy.deepcopy(data), "<determinism>").scenario


def _run_cli(tmp_path, out: str, *extra: str) -> dict[str, bytes]:
    path = tmp_path / "determinism.yaml"
    if not path.exists():
        path.write_text(yaml.safe_dump(SCENARIO, sort_keys=False))
    result = CliRunner().invoke(
        cli, ["run", str(path), "--out", str(tmp_path / out), "--quiet", *extra],
        catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return {f: (tmp_path / out / f).read_bytes() for f in FILES}


def _run_subprocess(tmp_path, out: str, hash_seed: str, *extra: str) -> dict[str, bytes]:
    """``python -m bordersim run`` in a fresh interpreter with its own string-hash seed."""
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    proc = subprocess.run(
        [sys.executable, "-m", "bordersim", "run", str(tmp_path / "determinism.yaml"),
         "--out", str(tmp_path / out), "--quiet", *extra],
        env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return {f: (tmp_path / out / f).read_bytes() for f in FILES}


@pytest.fixture(scope="module")
def cli_runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("determinism")
    return {
        "w1": _run_cli(tmp, "w1", "--workers", "1"),
        "w2": _run_cli(tmp, "w2", "--workers", "2"),
        "w2-seed": _run_cli(tmp, "w2-seed", "--workers", "2", "--seed", "13579"),
        "w2-process": _run_subprocess(tmp, "w2-process", "12345", "--workers", "2"),
    }


@pytest.mark.parametrize("name", FILES)
def test_results_files_do_not_depend_on_the_number_of_workers(cli_runs, name):
    assert cli_runs["w1"][name] == cli_runs["w2"][name]
    assert len(cli_runs["w1"][name].splitlines()) > 10


@pytest.mark.parametrize("name", FILES)
def test_results_files_do_not_depend_on_the_interpreter(cli_runs, name):
    """A fresh ``python -m bordersim`` with another string-hash seed writes the same bytes."""
    assert cli_runs["w2-process"][name] == cli_runs["w1"][name]


def test_another_seed_gives_other_results(cli_runs):
    for name in ("summary.csv", "replications.csv", "timeseries.csv"):
        assert cli_runs["w2-seed"][name] != cli_runs["w2"][name]
        # the same rows, other numbers
        first_cols = [line.split(b",")[:3] for line in cli_runs["w2"][name].splitlines()]
        assert first_cols == [line.split(b",")[:3]
                              for line in cli_runs["w2-seed"][name].splitlines()]


def _same_number(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def test_simulate_is_a_pure_function_of_scenario_and_replication():
    scn = _scn(SCENARIO)
    for r in (0, 3):
        a, b = simulate(scn, r), simulate(scn, r)
        assert a.metrics.keys() == b.metrics.keys()
        for key in a.metrics:
            for metric, value in a.metrics[key].items():
                assert _same_number(value, b.metrics[key][metric]), (r, key, metric)
            assert a.costs[key] == b.costs[key]
            np.testing.assert_array_equal(a.queue[key], b.queue[key])
            np.testing.assert_array_equal(a.crossed[key], b.crossed[key])
    # and replications differ from each other
    assert simulate(scn, 0).metrics[("all", "all")] != simulate(scn, 1).metrics[("all", "all")]


def _units(scn, r: int) -> dict:
    """(crossing, class) -> (arrival times, attributes) of replication r."""
    eng = run_model(scn, r, scn.seed)
    return {(g.crossing, g.cls): (g.arrivals.times, g.attrs) for g in eng.groups}


def _assert_same_units(a: dict, b: dict, keys) -> None:
    for key in keys:
        ta, attrs_a = a[key]
        tb, attrs_b = b[key]
        np.testing.assert_array_equal(ta, tb, err_msg=str(key))
        common = attrs_a.keys() & attrs_b.keys()
        assert common, key
        for purpose in common:
            np.testing.assert_array_equal(attrs_a[purpose], attrs_b[purpose],
                                          err_msg=str((key, purpose)))


POLICY_VARIANTS = {
    "more booths": {"at": "6h", "booths": {"exit/all": 5, "entry/cars": 3, "gate/g": 4}},
    "closure and slower inspection": {
        "at": "1d", "closed": ["car"], "service_factor": {"all": 2.5},
        "secondary_probability": {"truck": 0.9}, "priority": ["truck"]},
    "quota": {"at": "0h", "crossings": ["east"], "quota_per_day": {"truck": 30}},
}


@pytest.mark.parametrize("variant", list(POLICY_VARIANTS))
def test_policies_see_the_same_units(variant):
    base = _scn(SCENARIO)
    data = copy.deepcopy(SCENARIO)
    data["policy"] = [POLICY_VARIANTS[variant]]
    other = _scn(data)
    for r in range(3):
        a, b = _units(base, r), _units(other, r)
        assert a.keys() == b.keys()
        _assert_same_units(a, b, a)
        for key in a:
            assert a[key][1].keys() == b[key][1].keys()
    # the policy does change what happens to those units
    assert (simulate(base, 0).metrics[("all", "all")]["wait_mean_h"]
            != simulate(other, 0).metrics[("all", "all")]["wait_mean_h"])


def test_more_booths_in_the_base_configuration_see_the_same_units():
    base = _scn(SCENARIO)
    data = copy.deepcopy(SCENARIO)
    data["crossings"]["east"]["stages"][0]["lanes"][0]["booths"] = 6
    data["crossings"]["west"]["stages"][0]["lanes"][0]["booths"] = 1
    other = _scn(data)
    for r in range(3):
        a, b = _units(base, r), _units(other, r)
        _assert_same_units(a, b, a)


def test_lower_demand_only_drops_units():
    """Thinning: with a demand factor below 1, the units that still come are the same units."""
    base = _scn(SCENARIO)
    data = copy.deepcopy(SCENARIO)
    data["policy"] = [{"at": "1d", "demand_factor": {"car": 0.4, "truck": 0.7}},
                      {"at": "3d", "reset": True}]
    other = _scn(data)
    for r in range(3):
        a, b = _units(base, r), _units(other, r)
        for key in a:
            ta, attrs_a = a[key]
            tb, attrs_b = b[key]
            idx = np.searchsorted(ta, tb)
            assert np.all(idx < len(ta)) and np.array_equal(ta[idx], tb), key
            outside = (ta < 24) | (ta >= 72)
            assert np.array_equal(ta[outside], tb[(tb < 24) | (tb >= 72)]), key
            assert len(tb) < len(ta), key
            for purpose, values in attrs_a.items():
                np.testing.assert_array_equal(np.asarray(values)[idx], attrs_b[purpose],
                                              err_msg=str((key, purpose)))


def test_higher_demand_later_leaves_earlier_units_alone():
    base = _scn(SCENARIO)
    data = copy.deepcopy(SCENARIO)
    data["policy"] = [{"at": "2d", "demand_factor": {"car": 1.5}}]
    other = _scn(data)
    for r in range(2):
        a, b = _units(base, r), _units(other, r)
        for key in a:
            ta, tb = a[key][0], b[key][0]
            np.testing.assert_array_equal(ta[ta < 48], tb[tb < 48], err_msg=str(key))


def test_adding_a_crossing_leaves_the_others_alone():
    base = _scn(SCENARIO)
    data = copy.deepcopy(SCENARIO)
    data["crossings"]["north"] = {
        "demand": {"car": 90, "truck": 60},
        "stages": [{"name": "gate", "lanes": [
            {"name": "g", "serves": ["car", "truck"], "booths": 2,
             "service": {"all": {"dist": "exponential", "mean": "9min"}}}]}],
    }
    other = _scn(data)
    for r in range(3):
        a, b = _units(base, r), _units(other, r)
        assert set(b) - set(a) == {("north", "car"), ("north", "truck")}
        _assert_same_units(a, b, a)
        for key in a:
            assert a[key][1].keys() == b[key][1].keys()


def test_crossings_and_replications_draw_from_different_streams():
    scn = _scn(SCENARIO)
    a0, a1 = _units(scn, 0), _units(scn, 1)
    east, west = a0[("east", "car")][0], a0[("west", "car")][0]
    assert not np.isin(east, west).any()
    assert not np.isin(a0[("east", "car")][0], a1[("east", "car")][0]).any()
