"""Scenario files: ``extends`` chains, relative paths, ``--set`` overrides, load → dump → load."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bordersim.distributions import Deterministic, Exponential
from bordersim.loading import ScenarioError, deep_merge, dump_yaml, load_scenario

BASE = """\
name: base
description: the base case
start: 2017-10-01
duration: 10d
warmup: 1d
replications: 5
seed: 7
classes:
  car: {persons: 2.5, length_m: 7}
  truck: {persons: 1, length_m: 20, cargo_value: 30000, perishable_share: 0.2}
crossings:
  ak-tilek:
    label: "Ak-Tilek"
    demand: {car: 100, truck: 300}
    stages:
      - name: kg-exit
        lanes:
          - name: mixed
            serves: [car, truck]
            booths: 2
            service: {car: 5min, truck: {dist: exponential, mean: 12min}}
      - name: kz-entry
        lanes:
          - name: cars
            serves: [car]
            booths: 3
            service: {car: 4min}
          - name: freight
            serves: [truck]
            booths: 4
            service: {truck: 20min}
policy:
  - at: 2017-10-03
    label: "Strengthened regime"
    closed: [truck]
    service_factor: {all: 2.0}
  - at: 2017-10-08
    reset: true
behaviour:
  patience: {truck: {dist: exponential, mean: 5d}}
economics:
  value_of_time_per_person_hour: 1.3
  vehicle_cost_per_hour: {truck: 8.0}
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# ---- deep merge --------------------------------------------------------------------------------

def test_deep_merge_mappings_merge_lists_and_scalars_replace():
    base = {"a": {"x": 1, "y": {"p": 1, "q": 2}}, "l": [1, 2, 3], "s": "base", "k": {"m": 1}}
    over = {"a": {"y": {"q": 20, "r": 30}}, "l": [9], "s": "over", "k": 5, "new": [1]}
    out = deep_merge(base, over)
    assert out == {"a": {"x": 1, "y": {"p": 1, "q": 20, "r": 30}}, "l": [9], "s": "over",
                   "k": 5, "new": [1]}
    # inputs are untouched and the result shares no mutable parts with them
    assert base["a"]["y"] == {"p": 1, "q": 2} and base["l"] == [1, 2, 3]
    out["l"].append(10)
    assert over["l"] == [9]


def test_deep_merge_scalar_over_mapping_and_mapping_over_scalar_replace():
    assert deep_merge({"a": {"x": 1}}, {"a": None}) == {"a": None}
    assert deep_merge({"a": 3}, {"a": {"x": 1}}) == {"a": {"x": 1}}


# ---- extends -------------------------------------------------------------------------------------

def test_extends_merges_mappings_and_replaces_lists_and_scalars(tmp_path):
    write(tmp_path / "base.yaml", BASE)
    child = write(tmp_path / "child.yaml", """\
extends: base.yaml
name: child
duration: 3d
classes:
  truck: {cargo_value: 50000}
crossings:
  ak-tilek:
    demand: {truck: 200}
    stages:
      - name: only
        lanes:
          - {name: all, serves: [car, truck], booths: 1, service: {car: 1min, truck: 2min}}
policy:
  - {at: 12h, closed: [car]}
economics:
  vehicle_cost_per_hour: {car: 2.0}
""")
    loaded = load_scenario(child)
    s = loaded.scenario
    assert "extends" not in loaded.resolved
    assert s.name == "child" and s.duration == 72.0          # scalars replace
    assert s.warmup == 24.0 and s.seed == 7                  # untouched scalars carry over
    assert s.description == "the base case"
    # mappings merge deeply: the truck keeps persons and perishable share, gets a new cargo value
    truck = s.classes["truck"]
    assert truck.cargo_value.value == 50000 and truck.perishable_share == 0.2
    assert truck.length_m == 20 and set(s.classes) == {"car", "truck"}
    ak = s.crossings["ak-tilek"]
    assert ak.demand == {"car": 100, "truck": 200} and ak.label == "Ak-Tilek"
    # lists replace: one stage, one phase
    assert [st.name for st in ak.stages] == ["only"]
    assert len(s.policy) == 1 and s.policy[0].closed == ["car"]
    assert s.phase_time(0) == 12.0
    assert s.economics.vehicle_cost_per_hour == {"truck": 8.0, "car": 2.0}
    assert s.economics.value_of_time_per_person_hour == 1.3
    assert isinstance(s.behaviour.patience["truck"], Exponential)


def test_extends_is_relative_to_the_extending_file(tmp_path, monkeypatch):
    write(tmp_path / "common" / "defaults.yaml", BASE)
    write(tmp_path / "base.yaml", "extends: common/defaults.yaml\nname: mid\nseed: 11\n")
    child = write(tmp_path / "cases" / "sub" / "child.yaml",
                  "extends: ../../base.yaml\nname: deep-child\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)             # the working directory must not matter
    s = load_scenario(child).scenario
    assert s.name == "deep-child" and s.seed == 11 and s.duration == 240.0


def test_extends_from_a_subfolder_to_the_parent(tmp_path, monkeypatch):
    write(tmp_path / "base.yaml", BASE)
    write(tmp_path / "counterfactuals" / "early.yaml",
                  "extends: ../base.yaml\nname: early\npolicy: []\n")
    monkeypatch.chdir(tmp_path / "counterfactuals")
    s = load_scenario(Path("early.yaml")).scenario
    assert s.name == "early" and s.policy == []
    assert s.crossings["ak-tilek"].stages[1].lanes[1].booths == 4


def test_chain_of_three(tmp_path):
    write(tmp_path / "a.yaml", BASE)
    write(tmp_path / "b.yaml", """\
extends: a.yaml
name: b
seed: 1
crossings:
  ak-tilek:
    demand: {car: 50}
""")
    c = write(tmp_path / "c.yaml", """\
extends: b.yaml
name: c
crossings:
  ak-tilek:
    demand: {truck: 10}
behaviour:
  balk: {car: {queue_over: 40}}
""")
    s = load_scenario(c).scenario
    assert s.name == "c" and s.seed == 1 and s.replications == 5
    assert s.crossings["ak-tilek"].demand == {"car": 50, "truck": 10}
    assert s.behaviour.balk["car"].queue_over == 40
    assert "truck" in s.behaviour.patience             # from a, through b


def test_cyclic_extends_is_an_error(tmp_path):
    write(tmp_path / "a.yaml", "extends: b.yaml\nname: a\n")
    write(tmp_path / "b.yaml", "extends: a.yaml\nname: b\n")
    with pytest.raises(ScenarioError, match="cyclic"):
        load_scenario(tmp_path / "a.yaml")


def test_missing_parent_names_the_file(tmp_path):
    child = write(tmp_path / "child.yaml", "extends: nowhere.yaml\nname: c\n")
    with pytest.raises(ScenarioError) as err:
        load_scenario(child)
    assert "nowhere.yaml" in str(err.value) and "extends" in str(err.value)


# ---- --set overrides ----------------------------------------------------------------------------

def test_set_with_list_indices_and_yaml_typed_values(tmp_path):
    base = write(tmp_path / "base.yaml", BASE)
    loaded = load_scenario(base, [
        "crossings.ak-tilek.stages.1.lanes.1.booths=6",       # int, through two list indices
        "duration=5d",                                        # duration string
        "warmup=0.5",                                         # float (hours)
        "policy.0.closed=[car, truck]",                       # YAML list
        "policy.1.reset=false",                               # YAML bool
        "crossings.ak-tilek.stages.0.lanes.0.service.car=10min",
        "behaviour.balk.car.queue_over=30",                   # new keys are created
        "description=Tightened",
        "crossings.ak-tilek.stages.0.lanes.0.service.truck={dist: gamma, mean: 1h, cv: 0.5}",
    ])
    s = loaded.scenario
    r = loaded.resolved
    assert r["crossings"]["ak-tilek"]["stages"][1]["lanes"][1]["booths"] == 6
    assert isinstance(r["crossings"]["ak-tilek"]["stages"][1]["lanes"][1]["booths"], int)
    assert s.crossings["ak-tilek"].stages[1].lanes[1].booths == 6
    assert s.crossings["ak-tilek"].stages[1].lanes[0].booths == 3    # its neighbour unchanged
    assert s.duration == 120.0
    assert s.warmup == 0.5 and isinstance(r["warmup"], float)
    assert s.policy[0].closed == ["car", "truck"]
    assert r["policy"][1]["reset"] is False and s.policy[1].reset is False
    svc = s.crossings["ak-tilek"].stages[0].lanes[0].service
    assert isinstance(svc["car"], Deterministic) and svc["car"].value == pytest.approx(1 / 6)
    assert svc["truck"].dist == "gamma" and svc["truck"].cv == 0.5
    assert s.behaviour.balk["car"].queue_over == 30
    assert s.description == "Tightened"


def test_set_applies_after_extends(tmp_path):
    write(tmp_path / "base.yaml", BASE)
    child = write(tmp_path / "sub" / "child.yaml", "extends: ../base.yaml\nname: child\n")
    s = load_scenario(child, ["seed=99", "crossings.ak-tilek.demand.car=0"]).scenario
    assert s.seed == 99 and s.crossings["ak-tilek"].demand == {"car": 0, "truck": 300}


@pytest.mark.parametrize(
    "bad",
    [
        "crossings.ak-tilek.stages.5.lanes.0.booths=6",       # index out of range
        "crossings.ak-tilek.stages.first.booths=6",           # not an index
        "name.sub=3",                                          # into a scalar
        "no-equals-sign",
        "=3",
        "crossings..booths=1",
    ],
)
def test_bad_set_is_a_scenario_error(tmp_path, bad):
    base = write(tmp_path / "base.yaml", BASE)
    with pytest.raises(ScenarioError):
        load_scenario(base, [bad])


def test_set_value_failing_validation_names_the_field(tmp_path):
    base = write(tmp_path / "base.yaml", BASE)
    with pytest.raises(ScenarioError) as err:
        load_scenario(base, ["crossings.ak-tilek.stages.1.lanes.0.booths=0"])
    assert "crossings.ak-tilek.stages[1].lanes[0].booths" in str(err.value)


# ---- load → dump → load --------------------------------------------------------------------------

def _round_trip(tmp_path: Path, loaded):
    again_path = write(tmp_path / "again" / "resolved.yaml", dump_yaml(loaded.resolved))
    return load_scenario(again_path)


def test_load_dump_round_trip(tmp_path):
    write(tmp_path / "base.yaml", BASE)
    child = write(tmp_path / "sub" / "child.yaml", """\
extends: ../base.yaml
name: child
policy:
  - {at: "2017-10-02T06:30", closed: [truck], booths: {kz-entry/freight: 1}}
  - {at: 3d, quota_per_day: {truck: 80}, priority: [car]}
""")
    loaded = load_scenario(child, ["crossings.ak-tilek.stages.0.lanes.0.booths=3"])
    again = _round_trip(tmp_path, loaded)
    assert again.scenario.model_dump(mode="json") == loaded.scenario.model_dump(mode="json")
    assert yaml.safe_load(dump_yaml(again.resolved)) == yaml.safe_load(dump_yaml(loaded.resolved))
    assert [again.scenario.phase_time(i) for i in range(2)] == [30.5, 72.0]
    # dumping is a fixed point after one round
    assert dump_yaml(again.resolved) == dump_yaml(_round_trip(tmp_path, again).resolved)


def test_round_trip_keeps_the_scenario_hash(tmp_path):
    """manifest.json records the hash of the resolved scenario, and scenario.resolved.yaml
    is written beside it: running that file must give the same hash."""
    base = write(tmp_path / "base.yaml", BASE)
    loaded = load_scenario(base)
    again = _round_trip(tmp_path, loaded)
    assert again.sha256 == loaded.sha256


def test_round_trip_keeps_the_hash_with_datetimes(tmp_path):
    text = BASE.replace("start: 2017-10-01", "start: 2017-10-01 06:00:00")
    base = write(tmp_path / "base.yaml", text)
    loaded = load_scenario(base)
    again = _round_trip(tmp_path, loaded)
    assert again.scenario.start == loaded.scenario.start
    assert again.sha256 == loaded.sha256
