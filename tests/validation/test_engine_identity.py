"""Every shipped scenario and every `verify` case gives the same results folder, byte for
byte, with the exact fast path (``--engine auto``) as with the event engine everywhere
(``--engine des``): summary, replications, hourly time series, costs, and the arrays
behind the report.

The default suite runs the shipped scenarios shortened (two replications, the first
twelve days: the 2017 phases of 10, 13 and 19 October); ``pytest -m slow`` runs them
whole, with all their replications.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bordersim.experiment import run_experiment
from bordersim.loading import load_scenario
from bordersim.results import costs_csv, replications_csv, summary_csv, timeseries_csv
from bordersim.verify import checks

SCENARIOS = sorted((Path(__file__).resolve().parents[2] / "scenarios").glob("*.yaml"))


def folder(res) -> tuple:
    arrays = [np.concatenate([np.ravel(d[k]) for k in sorted(d)]) if d else np.empty(0)
              for r in res.replications for d in (r.queue, r.crossed, r.cost, r.wait_hist)]
    return (summary_csv(res), replications_csv(res), timeseries_csv(res), costs_csv(res),
            arrays)


def assert_same(scn, workers: int = 1) -> None:
    fast = run_experiment(scn, workers=workers, engine="auto")
    events = run_experiment(scn, workers=workers, engine="des")
    a, b = folder(fast), folder(events)
    for name, x, y in zip(("summary", "replications", "timeseries", "costs"), a, b,
                          strict=False):
        assert x == y, f"{scn.name}: {name}.csv differs between engines"
    for x, y in zip(a[4], b[4], strict=True):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_shipped_scenario_shortened(path):
    scn = load_scenario(path, ["replications=2"]).scenario
    if scn.duration > 12 * 24:
        scn = load_scenario(path, ["replications=2", "duration=12d"]).scenario
    assert_same(scn)


@pytest.mark.slow
@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_shipped_scenario_whole(path):
    assert_same(load_scenario(path).scenario, workers=2)


@pytest.mark.parametrize("check", checks(seed=7, replications=3), ids=lambda c: c.name)
def test_verify_case(check):
    assert_same(check.scenario)


@pytest.mark.parametrize("name", ["closure-2017", "e-queue-2017", "goswift-like"])
def test_events_put_on_simpys_queue_keep_the_order_of_timeouts(name, monkeypatch):
    """The engine schedules its events on SimPy's queue itself, with the priority and
    sequence number a Timeout would take; with real Timeouts instead every result is the
    same (arrivals, services, patience, diversion, held trips, bookings, policy changes)."""
    from bordersim.model.engine import Engine

    path = next(p for p in SCENARIOS if p.stem == name)
    scn = load_scenario(path, ["replications=1", "duration=12d"]).scenario
    lean = folder(run_experiment(scn, workers=1, engine="des"))
    monkeypatch.setattr(Engine, "later", Engine._later_timeout)
    plain = folder(run_experiment(scn, workers=1, engine="des"))
    assert lean[:4] == plain[:4]
    for x, y in zip(lean[4], plain[4], strict=True):
        np.testing.assert_array_equal(x, y)
