"""Costs by hand: diversion, cargo metrics, cargo-share losses, hourly accrual."""

from __future__ import annotations

import math

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from bordersim.cli import cli
from bordersim.experiment import simulate
from bordersim.loading import scenario_from_dict

VOT, TRUCK_H, CARGO, RATE = 2.0, 8.0, 10_000.0, 0.01


def _two_crossings(**econ) -> dict:
    """Crossing a is closed to trucks from the start; b is open, 1 booth, 1h service.
    Trucks arrive at a at 1, 2, 3, 4 h; the first two queue there, the next ones find
    two waiting (> 1) and drive 2h to b."""
    lane = {"name": "l", "serves": ["truck"], "booths": 1, "service": {"truck": "1h"}}
    return {
        "name": "econ", "start": "2017-10-01", "duration": "4.5h",
        "classes": {"truck": {"persons": 1, "length_m": 20, "cargo_value": CARGO,
                              "perishable_share": 0.5}},
        "crossings": {
            "a": {"demand": {"truck": 24}, "arrival_process": "deterministic",
                  "stages": [{"name": "s", "lanes": [lane]}]},
            "b": {"demand": {}, "stages": [{"name": "s", "lanes": [lane]}]},
        },
        "policy": [{"at": 0, "crossings": ["a"], "closed": ["truck"]}],
        "behaviour": {"divert": {"truck": {"from": "a", "to": "b", "queue_over": 1,
                                           "travel": "2h"}}},
        "economics": {"value_of_time_per_person_hour": VOT,
                      "vehicle_cost_per_hour": {"truck": TRUCK_H},
                      "cargo_time_cost_per_day": RATE, **econ},
    }


def test_diversion_costs_the_drive_where_the_unit_left():
    res = simulate(scenario_from_dict(_two_crossings()).scenario, 0)
    a, b = res.metrics[("a", "truck")], res.metrics[("b", "truck")]
    assert a["arrivals"] == 4 and a["diverted"] == 2 and a["waiting_at_end"] == 2
    # the truck diverted at 3h reaches b at 5h > 4.5h: only the one from... none arrive
    # before the end, so b has no arrivals
    assert b["arrivals"] == 0
    per_hour = VOT + TRUCK_H + CARGO * RATE / 24
    assert res.costs[("a", "truck")]["diversion"] == pytest.approx(2 * 2 * per_hour, abs=1e-9)
    # the two trucks stuck at a wait 3.5h and 2.5h by the end (censored)
    waits = 3.5 + 2.5
    assert res.costs[("a", "truck")]["time"] == pytest.approx(waits * (VOT + TRUCK_H))
    assert res.costs[("a", "truck")]["cargo_time"] == pytest.approx(
        waits / 24 * CARGO * RATE)
    assert a["cargo_value_days_delayed"] == pytest.approx(waits / 24 * CARGO)


def test_diverted_truck_arrives_and_crosses_at_the_other_crossing():
    d = _two_crossings()
    d["duration"] = "8h"
    res = simulate(scenario_from_dict(d).scenario, 0)
    b = res.metrics[("b", "truck")]
    # diverted at 3, 4, 5, 6, 7 h from a (each finds 2 waiting): at b at 5, 6, 7, 8(no), ...
    assert res.metrics[("a", "truck")]["diverted"] == 5
    assert b["arrivals"] == 3 and b["crossed"] == 2 and b["in_service_at_end"] == 1
    assert b["wait_mean_h"] == 0.0


def test_lost_cargo_share_and_cargo_value_lost():
    d = _two_crossings(lost_unit_value={"truck": {"cargo_share": 0.25}})
    d["behaviour"] = {"patience": {"truck": "1.5h"}}
    res = simulate(scenario_from_dict(d).scenario, 0)
    m = res.metrics[("a", "truck")]
    # arrivals at 1, 2, 3, 4h; closed; each reneges after 1.5h: at 2.5, 3.5, 4.5(not run)
    assert m["reneged"] == 2 and m["waiting_at_end"] == 2
    assert res.costs[("a", "truck")]["lost"] == pytest.approx(2 * 0.25 * CARGO)
    assert m["cargo_value_lost"] == pytest.approx(2 * CARGO)


def test_hourly_costs_add_up_to_the_total():
    """With no warm-up or cool-down every unit is in the window: the hourly accrual of
    every component, spoilage included, sums to the units' costs."""
    d = {
        "name": "sum", "start": "2017-10-01T06:30", "duration": "6d", "seed": 3,
        "classes": {"truck": {"persons": 1, "cargo_value": {"dist": "uniform", "low": 1000,
                                                             "high": 50000},
                              "perishable_share": 0.4},
                    "car": {"persons": 2.5}},
        "crossings": {"x": {"demand": {"truck": 60, "car": 100}, "stages": [
            {"name": "s", "lanes": [{"name": "l", "serves": ["truck", "car"], "booths": 2,
                                     "service": {"truck": "30min", "car": "5min"}}],
             "secondary": {"truck": {"probability": 0.5, "booths": 1, "service": "1h"}}},
            {"name": "t", "lanes": [{"name": "m", "serves": ["truck", "car"], "booths": 3,
                                     "service": {"all": "10min"}}]}]}},
        "policy": [{"at": "1d", "closed": ["truck"]}, {"at": "3d", "reset": True}],
        "behaviour": {"patience": {"truck": {"dist": "exponential", "mean": "2d"}},
                      "balk": {"car": {"queue_over": 30}}},
        "economics": {"value_of_time_per_person_hour": 1.5,
                      "vehicle_cost_per_hour": {"truck": 9},
                      "cargo_time_cost_per_day": 0.02,
                      "spoilage": {"rate_per_day": 0.2, "after": "12h"},
                      "lost_unit_value": {"truck": "cargo", "car": 40}},
    }
    res = simulate(scenario_from_dict(d).scenario, 0)
    for key in (("x", "truck"), ("x", "car"), ("all", "all")):
        total = sum(res.costs[key].values())
        assert total > 0
        assert res.cost[key].sum() == pytest.approx(total, rel=1e-9)
        assert res.metrics[key]["cost_total"] == pytest.approx(total, rel=1e-12)
    assert res.costs[("x", "truck")]["spoilage"] > 0
    assert res.costs[("x", "car")]["lost"] > 0


def test_spoilage_accrues_only_after_the_grace_period():
    """Trucks arrive at 24, 48 and 72 h at a closed crossing and wait to the end (73 h);
    spoilage of each starts one waiting day after it arrived."""
    d = _two_crossings(spoilage={"rate_per_day": 0.1, "after": "1d"})
    d["duration"] = "73h"
    d["crossings"]["a"]["demand"] = {"truck": 1}
    d.pop("behaviour")
    res = simulate(scenario_from_dict(d).scenario, 0)
    hourly = res.cost[("a", "truck")]
    linear = VOT + TRUCK_H + CARGO * RATE / 24
    expected = np.zeros(73)
    for arrive in (24, 48, 72):
        for h in range(arrive, 73):
            expected[h] += linear
            a, b = (h - arrive - 24) / 24, (h + 1 - arrive - 24) / 24
            expected[h] += 0.5 * CARGO * (math.exp(-0.1 * max(0.0, a))
                                          - math.exp(-0.1 * max(0.0, b)))
    assert hourly == pytest.approx(expected, abs=1e-9)
    assert hourly[:24] == pytest.approx(np.zeros(24))
    waits = (49.0, 25.0, 1.0)
    assert res.costs[("a", "truck")]["spoilage"] == pytest.approx(
        sum(0.5 * CARGO * (1 - math.exp(-0.1 * max(0.0, w / 24 - 1))) for w in waits))


@pytest.mark.parametrize("path,value,expect", [
    ("economics.value_of_time_per_person_hour", -1, "economics.value_of_time_per_person_hour"),
    ("economics.cargo_time_cost_per_day", 1.5, "economics.cargo_time_cost_per_day"),
    ("economics.vehicle_cost_per_hour", {"lorry": 5}, "economics.vehicle_cost_per_hour.lorry"),
    ("economics.vehicle_cost_per_hour", {"truck": -5}, "economics.vehicle_cost_per_hour.truck"),
    ("economics.lost_unit_value", {"truck": {"cargo_share": 2}},
     "economics.lost_unit_value.truck"),
    ("economics.spoilage", {"rate_per_day": 0}, "economics.spoilage.rate_per_day"),
])
def test_bad_economics_is_exit_2_with_the_path(tmp_path, path, value, expect):
    d = _two_crossings()
    node = d
    parts = path.split(".")
    for p in parts[:-1]:
        node = node[p]
    node[parts[-1]] = value
    f = tmp_path / "s.yaml"
    f.write_text(yaml.safe_dump(d))
    result = CliRunner().invoke(cli, ["validate", str(f)])
    assert result.exit_code == 2
    assert expect in result.output
    assert "Traceback" not in result.output
