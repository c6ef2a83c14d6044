"""Nothing is lost: every unit that arrives is accounted for exactly once.

SPEC "Statistics": per crossing × class (and totals), among units arriving in
the statistics window, ``arrivals = crossed + reneged + balked + diverted +
waiting_at_end + in_service_at_end`` in every replication. Checked on
scenarios that exercise patience, balking, several stages, two lanes,
secondary inspection, closures, booth changes, quotas and priorities; and a
class refused from the start must pile up exactly its arrivals.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

from bordersim.experiment import run_experiment, simulate
from bordersim.loading import scenario_from_dict
from bordersim.measure import METRICS, measure
from bordersim.model import Outcome, run_model
from bordersim.model.booking import BOOKED_NO_SHOW, BOOKED_REFUSED, BOOKED_RENEGED, BOOKED_SHOWED
from bordersim.scenario import ALL

OUTCOMES = ("crossed", "reneged", "balked", "diverted", "waiting_at_end", "in_service_at_end")

PROFILE = [0.3, 0.2, 0.2, 0.2, 0.3, 0.5, 0.9, 1.3, 1.6, 1.7, 1.6, 1.5,
           1.4, 1.4, 1.5, 1.6, 1.6, 1.5, 1.3, 1.1, 0.9, 0.7, 0.5, 0.4]

BUSY = {
    "name": "conservation",
    "start": "2021-03-01T06:00",
    "duration": "6d",
    "warmup": "1d",
    "cooldown": "12h",
    "replications": 6,
    "seed": 4242,
    "classes": {
        "car": {"persons": 2.2, "length_m": 7},
        "bus": {"persons": 30, "length_m": 14},
        "truck": {"persons": 1, "length_m": 20,
                  "cargo_value": {"dist": "uniform", "low": 1000, "high": 50000},
                  "perishable_share": 0.3},
        "walker": {"persons": 1, "length_m": 0.6},
    },
    "crossings": {
        "north": {
            "demand": {"car": 320, "bus": 24, "truck": 150},
            "profile": PROFILE,
            "stages": [
                {"name": "exit", "lanes": [
                    {"name": "main", "serves": ["car", "bus", "truck"], "booths": 3,
                     "service": {"car": "4min",
                                 "bus": {"dist": "gamma", "mean": "20min", "cv": 0.5},
                                 "truck": {"dist": "exponential", "mean": "9min"}}}]},
                {"name": "entry", "lanes": [
                    {"name": "light", "serves": ["car", "bus"], "booths": 2,
                     "service": {"all": {"dist": "lognormal", "mean": "5min", "cv": 0.7}}},
                    {"name": "mixed", "serves": ["car", "truck"], "booths": 2,
                     "service": {"car": {"dist": "triangular", "low": "2min", "mode": "4min",
                                         "high": "9min"},
                                 "truck": {"dist": "gamma", "mean": "14min", "cv": 0.8}}}],
                 "secondary": {
                     "truck": {"probability": 0.2, "booths": 1,
                               "service": {"dist": "exponential", "mean": "40min"}},
                     "bus": {"probability": 0.3, "booths": 1,
                             "service": {"dist": "empirical", "values": ["30min", "1h", "2h"]}},
                 }},
            ],
        },
        "south": {
            "demand": {"car": 150, "walker": 240},
            "arrival_process": "deterministic",
            "stages": [
                {"name": "gate", "lanes": [
                    {"name": "cars", "serves": ["car"], "booths": 1,
                     "service": {"car": {"dist": "uniform", "low": "3min", "high": "12min"}}},
                    {"name": "people", "serves": ["walker", "car"], "booths": 1,
                     "service": {"walker": {"dist": "exponential", "mean": "5min"},
                                 "car": "8min"}}]},
            ],
        },
        "sealed": {
            "demand": {"walker": 60},
            "stages": [
                {"name": "gate", "lanes": [
                    {"name": "g", "serves": ["walker"], "booths": 2,
                     "service": {"walker": "1min"}}]},
            ],
        },
    },
    "policy": [
        {"at": "0h", "crossings": ["sealed"], "closed": ["walker"], "label": "sealed for good"},
        {"at": "30h", "crossings": ["north"], "label": "strengthened", "closed": ["truck"],
         "service_factor": {"all": 1.5, "bus": 2.0},
         "booths": {"entry/mixed": 1, "exit/main": 2},
         "secondary_probability": {"truck": 0.8}, "priority": ["bus", "car"],
         "demand_factor": {"car": 0.6}},
        {"at": "2021-03-03T18:00", "crossings": ["north"], "label": "partial reopening",
         "closed": [], "quota_per_day": {"truck": 40}, "booths": {"entry/light": 0}},
        {"at": "2021-03-04T09:30", "crossings": ["south"], "stages": ["gate"],
         "booths": {"gate/cars": 3, "gate/people": 0}, "closed": ["walker"]},
        {"at": "4d", "crossings": ["north", "south"], "reset": True, "label": "lifted"},
        {"at": "5d", "crossings": ["south"], "booths": {"gate/people": 2}},
    ],
    "behaviour": {
        "patience": {"car": {"dist": "exponential", "mean": "3h"},
                     "truck": {"dist": "uniform", "low": "5h", "high": "20h"}},
        "balk": {"car": {"queue_over": 30}, "bus": {"queue_over": 6}},
    },
    "economics": {
        "value_of_time_per_person_hour": 1.3,
        "vehicle_cost_per_hour": {"truck": 8.0, "bus": 15.0},
        "cargo_time_cost_per_day": 0.008,
        "spoilage": {"rate_per_day": 0.05, "after": "2d"},
        "lost_unit_value": {"truck": "cargo", "bus": 250},
    },
}


def _variant(**changes) -> dict:
    d = copy.deepcopy(BUSY)
    d.update(changes)
    return d


# the window ends at the run's end (no cool-down, no warm-up): units still at the border count
FULL_WINDOW = _variant(name="conservation-full-window", warmup=0, cooldown=0)
# overloaded everywhere: long queues, many units waiting and in service at the end
OVERLOADED = _variant(name="conservation-overloaded", duration="3d", warmup="6h", cooldown="1h",
                      policy=[{"at": "2h", "booths": {"exit/main": 1, "entry/light": 1,
                                                      "entry/mixed": 1},
                               "service_factor": {"all": 3.0}}])

# an electronic queue at north from 40h (ended by the reset at 4d, bookings honoured):
# trucks book (some live, some no-shows, a horizon, perishable loads first), cars book
# within a short horizon and queue on the road beyond it
E_QUEUE = _variant(name="conservation-e-queue", policy=[
    *BUSY["policy"][:2],
    {"at": "40h", "crossings": ["north"], "label": "electronic queue",
     "appointment": {
         "truck": {"capacity_share": 0.8, "live_share": 0.2, "no_show": 0.05, "notice": "1h",
                   "arrive_early": {"dist": "uniform", "low": "0min", "high": "1h"},
                   "horizon": "10h", "perishable_first": True},
         "car": {"slots_per_day": 150, "horizon": "3h", "over_horizon": "queue"}}},
    *BUSY["policy"][2:]])

SCENARIOS = {"busy": BUSY, "full-window": FULL_WINDOW, "overloaded": OVERLOADED,
             "e-queue": E_QUEUE}


def _scn(data: dict):
    return scenario_from_dict(copy.deepcopy(data), f"<{data['name']}>").scenario


@pytest.fixture(scope="module")
def results():
    return {name: run_experiment(_scn(d), workers=2) for name, d in SCENARIOS.items()}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_every_arrival_is_accounted_for_in_every_replication(results, name):
    res = results[name]
    keys = res.keys()
    scn = res.scenario
    expected = {(c, k) for c in scn.crossings for k in scn.classes
                if scn.crossings[c].demand.get(k, 0) > 0}
    assert expected <= set(keys)
    assert (ALL, ALL) in keys
    for rep in res.replications:
        for key in keys:
            m = rep.metrics[key]
            assert set(METRICS) <= set(m)
            parts = {o: m[o] for o in OUTCOMES}
            assert all(v >= 0 and float(v).is_integer() for v in parts.values()), (key, parts)
            assert m["arrivals"] == sum(parts.values()), (
                f"replication {rep.replication}, {key}: arrivals {m['arrivals']} != "
                f"sum of outcomes {sum(parts.values())} {parts}")


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_totals_are_sums_of_their_parts(results, name):
    res = results[name]
    scn = res.scenario
    for rep in res.replications:
        met = rep.metrics
        rows = [k for k in met if k[0] != ALL and k[1] != ALL]
        for metric in ("arrivals", *OUTCOMES):
            total = met[(ALL, ALL)][metric]
            assert total == sum(met[k][metric] for k in rows)
            for c in scn.crossings:
                if (c, ALL) in met:
                    assert met[(c, ALL)][metric] == sum(met[k][metric] for k in rows if k[0] == c)
            for k in scn.classes:
                if (ALL, k) in met:
                    assert met[(ALL, k)][metric] == sum(met[r][metric] for r in rows
                                                        if r[1] == k)


def test_the_scenarios_exercise_every_outcome(results):
    """Conservation is only worth checking if every way out actually happens."""
    seen = {o: 0.0 for o in OUTCOMES}
    for res in results.values():
        for rep in res.replications:
            for o in OUTCOMES:
                seen[o] += rep.metrics[(ALL, ALL)][o]
    # the schema has no diversion yet, so nothing can be diverted
    assert seen["diverted"] == 0
    for o in ("crossed", "reneged", "balked", "waiting_at_end", "in_service_at_end"):
        assert seen[o] > 0, f"no unit ever ended as {o}: the scenarios do not test it"


@pytest.mark.parametrize("name", ["busy", "overloaded", "e-queue"])
def test_engine_records_one_outcome_per_unit(name):
    """Over the whole run (not only the window): each unit that arrived has exactly one record,
    and a unit's queue visits account for all its waiting."""
    scn = _scn(SCENARIOS[name])
    for r in range(2):
        eng = run_model(scn, r, scn.seed)
        for g in eng.groups:
            n = int(np.count_nonzero(g.arrivals.times < scn.duration))
            units = np.sort(np.asarray(g.out_unit))
            assert np.array_equal(units, np.arange(n)), (g.crossing, g.cls)
            codes = np.asarray(g.out_code)
            waits = np.asarray(g.out_wait)
            assert np.all(waits >= 0)
            visits = np.asarray(g.q_leave) - np.asarray(g.q_join)
            assert np.all(visits >= 0)
            # balked units never queued; everyone else's waits are made of queue visits
            np.testing.assert_allclose(visits.sum(), waits[codes != Outcome.BALKED].sum(),
                                       rtol=1e-9, atol=1e-9)
            # units still waiting at the end are exactly the open queue visits, and the
            # units still booked (off the road, or on their way to the site)
            ended = np.asarray(g.q_leave) == scn.duration
            booked = 0
            if g.booking is not None:
                bk = g.booking.records()
                booked = int(np.count_nonzero(np.isnan(bk["end"])))
            assert ended.sum() + booked == np.count_nonzero(codes == Outcome.WAITING_AT_END)


# ---- a class refused from the start --------------------------------------------------------

SEALED = {
    "name": "sealed",
    "start": "2021-05-01",
    "duration": "3d",
    "warmup": "6h",
    "cooldown": "6h",
    "replications": 5,
    "seed": 77,
    "classes": {"walker": {"persons": 1}, "car": {"persons": 2}},
    "crossings": {
        "sealed": {
            "demand": {"walker": 90},
            "stages": [
                {"name": "out", "lanes": [
                    {"name": "a", "serves": ["walker", "car"], "booths": 2,
                     "service": {"all": {"dist": "exponential", "mean": "3min"}}},
                    {"name": "b", "serves": ["walker"], "booths": 1,
                     "service": {"walker": "2min"}}]},
                {"name": "in", "lanes": [
                    {"name": "c", "serves": ["walker"], "booths": 1,
                     "service": {"walker": "1min"}}]},
            ],
        },
        "open": {
            "demand": {"walker": 40, "car": 40},
            "stages": [{"name": "gate", "lanes": [
                {"name": "g", "serves": ["walker", "car"], "booths": 2,
                 "service": {"all": "5min"}}]}],
        },
    },
    "policy": [
        {"at": "0h", "crossings": ["sealed"], "closed": ["walker"], "label": "sealed"},
        # later phases elsewhere must not reopen it
        {"at": "1d", "crossings": ["open"], "closed": ["car"], "booths": {"gate/g": 1}},
        {"at": "2d", "crossings": ["open"], "reset": True},
    ],
}


def test_closed_class_piles_up_exactly_its_arrivals():
    scn = _scn(SEALED)
    key = ("sealed", "walker")
    for r in range(scn.replications):
        res = simulate(scn, r)
        m = res.metrics[key]
        assert m["arrivals"] > 0
        assert m["crossed"] == 0
        assert m["in_service_at_end"] == 0
        assert m["reneged"] == m["balked"] == m["diverted"] == 0
        assert m["waiting_at_end"] + m["in_service_at_end"] == m["arrivals"]
        assert m["crossed_per_day"] == 0

        eng = run_model(scn, r, scn.seed)
        (g,) = [g for g in eng.groups if (g.crossing, g.cls) == key]
        n_all = int(np.count_nonzero(g.arrivals.times < scn.duration))
        # the queue at the end holds every unit that ever arrived, all in the first stage
        first = eng.stages[("sealed", "out")]
        assert sum(ln.n_waiting for ln in first.lanes) == n_all
        assert sum(ln.busy for ln in first.lanes) == 0
        assert eng.stages[("sealed", "in")].lanes[0].n_waiting == 0
        still = np.asarray(g.q_leave) == scn.duration
        assert still.sum() == n_all == len(g.q_join)
        assert np.all(np.asarray(g.out_code) == Outcome.WAITING_AT_END)
        # hour by hour, the queue is everyone who has arrived so far
        hours = np.arange(len(res.queue[key]), dtype=float)
        arrived = np.searchsorted(g.arrivals.times, hours, side="right")
        np.testing.assert_array_equal(res.queue[key], arrived)
        assert not res.crossed[key].any()
        # while the other crossing keeps moving
        assert res.metrics[("open", ALL)]["crossed"] > 0


def test_closure_with_units_in_service_lets_them_finish():
    """A closure lands while booths are busy: units in service finish, nothing is lost."""
    data = copy.deepcopy(SEALED)
    data["name"] = "sealed-later"
    data["policy"] = [{"at": "1d", "crossings": ["sealed"], "closed": ["walker"]}]
    scn = _scn(data)
    for r in range(3):
        eng = run_model(scn, r, scn.seed)
        res = measure(eng, scn, r)
        (g,) = [g for g in eng.groups if (g.crossing, g.cls) == ("sealed", "walker")]
        exits = np.asarray(g.out_exit)[np.asarray(g.out_code) == Outcome.CROSSED]
        assert len(exits) > 0
        # the last exit is a unit already in service (or downstream) at the closure
        assert exits.max() <= 24 + 1 / 60 + 1e-9
        m = res.metrics[("sealed", "walker")]
        assert m["arrivals"] == sum(m[o] for o in OUTCOMES)


def test_closed_class_starts_no_service_anywhere_after_the_closure():
    """SPEC: a refused class keeps queuing; only units already in service finish.

    Every truck is referred to secondary inspection; after the closure no truck may start
    a service at any booth of the stage, primary or secondary, and at most those in service
    at the closure (two primary booths, one secondary) may leave.
    """
    data = {
        "name": "closed-secondary", "start": "2020-01-01", "duration": "2d", "seed": 5,
        "classes": {"truck": {}},
        "crossings": {"x": {"demand": {"truck": 48}, "stages": [{
            "name": "s",
            "lanes": [{"name": "l", "serves": ["truck"], "booths": 2,
                       "service": {"truck": "10min"}}],
            "secondary": {"truck": {"probability": 1.0, "booths": 1, "service": "50min"}}}]}},
        "policy": [{"at": "1d", "closed": ["truck"]}],
    }
    scn = _scn(data)
    for r in range(3):
        eng = run_model(scn, r, scn.seed)
        (g,) = eng.groups
        starts = np.asarray(g.q_leave)          # no patience: a visit ends when service starts
        started_after = np.count_nonzero((starts > 24.0) & (starts < scn.duration))
        assert started_after == 0, f"replication {r}: {started_after} services began after closing"
        code = np.asarray(g.out_code)
        exits = np.asarray(g.out_exit)
        assert np.count_nonzero((code == Outcome.CROSSED) & (exits > 24.0)) <= 3


def test_the_e_queue_scenario_exercises_every_way_through_the_booking(results):
    """Bookings, refusals, no-shows and reneging off the road all happen, so conservation
    above covers them."""
    res = results["e-queue"]
    total = {m: sum(rep.metrics[("north", "truck")][m] for rep in res.replications)
             for m in ("booked", "refused", "no_show", "waiting_area_max")}
    assert all(v > 0 for v in total.values()), total
    cars = sum(rep.metrics[("north", "car")]["booked"] for rep in res.replications)
    assert cars > 0
    ends = set()
    for r in range(res.scenario.replications):
        eng = run_model(res.scenario, r, res.scenario.seed)
        for g in eng.groups:
            if g.booking is not None:
                ends |= set(g.booking.records()["code"].tolist())
    assert {BOOKED_SHOWED, BOOKED_NO_SHOW, BOOKED_RENEGED, BOOKED_REFUSED} <= ends, ends
