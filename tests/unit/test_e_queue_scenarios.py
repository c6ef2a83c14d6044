"""The shipped electronic-queue scenarios: what they change, and the GoSwift-like case.

e-queue-2017 repeats the history's timeline (a list replaces the parent's whole), so
the two are held in step here: the same phases, plus one. The GoSwift-like case must
show, from its documented inputs, what GoSwift reported: days of waiting in a road
line without bookings, 1–2 h on site with them, at the same capacity.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bordersim.experiment import run_experiment
from bordersim.loading import load_scenario

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"


def _policy(name: str) -> list[dict]:
    return load_scenario(SCENARIOS / name).resolved["policy"]


def _without_labels(phases: list[dict]) -> list[dict]:
    return [{k: v for k, v in ph.items() if k != "label"} for ph in phases]


def test_e_queue_2017_is_the_history_plus_one_phase():
    history, e_queue = _policy("closure-2017.yaml"), _policy("e-queue-2017.yaml")
    added = [ph for ph in e_queue if "appointment" in ph]
    assert len(added) == 1
    (phase,) = added
    assert _without_labels([ph for ph in e_queue if ph is not phase]) == \
        _without_labels(history)
    assert phase["at"] == history[2]["at"]                  # 19 October
    assert e_queue.index(phase) == 3                        # right after the history's
    assert phase["crossings"] == ["ak-tilek", "chon-kapka"]
    appt = phase["appointment"]["truck_loaded"]
    assert appt["capacity_share"] == 1.0                    # the history's capacity
    assert not appt.get("perishable_first", False)
    assert "reset" in e_queue[-1] and e_queue[-1]["reset"]  # ended on 4 December


def test_the_perishable_variant_differs_only_by_its_priority_stream():
    plain, perishable = _policy("e-queue-2017.yaml"), _policy("e-queue-perishable-2017.yaml")
    assert len(plain) == len(perishable)
    for a, b in zip(plain, perishable, strict=True):
        if "appointment" in a:
            appt_b = dict(b["appointment"]["truck_loaded"])
            assert appt_b.pop("perishable_first") is True
            assert appt_b == a["appointment"]["truck_loaded"]
        else:
            assert a == b


@pytest.fixture(scope="module")
def goswift():
    run = {name: run_experiment(load_scenario(SCENARIOS / f"{name}.yaml").scenario, workers=2)
           for name in ("goswift-like", "goswift-like-no-booking")}
    return run


def _mean(res, metric: str) -> float:
    values = [rep.metrics[("checkpoint", "truck")][metric] for rep in res.replications]
    return sum(values) / len(values)


def test_goswift_like_waits_hours_on_site_where_the_road_line_waits_days(goswift):
    booked, road = goswift["goswift-like"], goswift["goswift-like-no-booking"]
    # the same checkpoint and capacity: only the policy differs
    assert booked.scenario.crossings == road.scenario.crossings
    assert not road.scenario.policy
    # without bookings: days in a road line kilometres long
    assert _mean(road, "wait_mean_h") > 24
    assert _mean(road, "queue_max_km") > 2
    # with them: 1–2 h on site, the backlog off the road, no line to speak of
    assert 1.0 <= _mean(booked, "wait_mean_h") <= 2.0
    assert _mean(booked, "booking_lead_mean_h") > 24
    assert _mean(booked, "queue_max_km") < 0.5
    # the same capacity: the backlog moved, it did not vanish
    assert _mean(booked, "wait_total_mean_h") > 0.8 * _mean(road, "wait_mean_h")
    assert _mean(booked, "crossed_per_day") == pytest.approx(_mean(road, "crossed_per_day"),
                                                            rel=0.05)
