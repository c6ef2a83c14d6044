"""The fast path and the event engine give the same results folder, byte for byte.

Random small scenarios, most of whose lanes qualify for the exact recursion (one class,
first come first served) while others do not (shared lanes, secondary inspection,
balking, several stages), with phases that change booths, close classes, slow service
or cut demand, and patience. Deterministic arrivals, services and patience on a
quarter-hour grid make many events fall on one instant, where the order of events
decides: the recursion must either get it right or hand the crossing to the events.
"""

from __future__ import annotations

import copy

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bordersim.experiment import run_experiment
from bordersim.loading import scenario_from_dict
from bordersim.model import run_model
from bordersim.results import costs_csv, replications_csv, summary_csv, timeseries_csv

CLASSES = ("car", "bus", "truck")
FIELDS = ("q_join", "q_leave", "q_unit", "q_wait0", "out_unit", "out_wait", "out_exit",
          "out_code", "out_travel")


def _quarters(lo: int, hi: int):
    """A duration on the quarter-hour grid, in hours."""
    return st.integers(lo, hi).map(lambda q: q / 4)


@st.composite
def durations(draw, lo: int, hi: int):
    """Deterministic (on the quarter-hour grid) or random, as written in a scenario."""
    kind = draw(st.sampled_from(["grid", "grid", "exponential", "gamma", "empirical"]))
    if kind == "grid":
        return f"{draw(_quarters(lo, hi))}h"
    if kind == "exponential":
        return {"dist": "exponential", "mean": f"{draw(_quarters(lo, hi))}h"}
    if kind == "gamma":
        return {"dist": "gamma", "mean": f"{draw(_quarters(lo, hi))}h", "cv": 0.5}
    return {"dist": "empirical", "values": [f"{v}h" for v in
                                            draw(st.lists(_quarters(lo, hi), min_size=1,
                                                          max_size=3))]}


@st.composite
def fast_scenarios(draw) -> dict:
    classes = draw(st.lists(st.sampled_from(CLASSES), min_size=1, max_size=3, unique=True))
    days = draw(st.sampled_from([0.5, 1, 2]))
    crossings = {}
    for ci in range(draw(st.integers(1, 3))):
        shared = len(classes) > 1 and draw(st.integers(0, 3)) == 0
        lanes = ([{"name": "shared", "serves": list(classes), "booths": draw(st.integers(1, 3)),
                   "service": {"all": draw(durations(1, 4))}}] if shared else
                 [{"name": f"l-{k}", "serves": [k], "booths": draw(st.integers(1, 3)),
                   "service": {k: draw(durations(1, 6))}} for k in classes])
        stage = {"name": "s", "lanes": lanes}
        if draw(st.integers(0, 4)) == 0:
            k = draw(st.sampled_from(classes))
            stage["secondary"] = {k: {"probability": draw(st.sampled_from([0.0, 0.0, 0.5])),
                                      "booths": 1, "service": "1h"}}
        stages = [stage]
        if draw(st.integers(0, 5)) == 0:
            stages.append({"name": "t", "lanes": [
                {"name": "t", "serves": list(classes), "booths": 2,
                 "service": {"all": draw(durations(1, 2))}}]})
        crossing = {"demand": {k: draw(st.sampled_from([6, 12, 24, 48, 30.5, 70]))
                               for k in classes},
                    "arrival_process": draw(st.sampled_from(["deterministic", "poisson"])),
                    "stages": stages}
        if draw(st.booleans()):
            crossing["profile"] = draw(st.lists(st.sampled_from([0.5, 1, 2]), min_size=24,
                                                max_size=24))
        crossings[f"c{ci}"] = crossing
    policy = []
    for q in sorted(draw(st.lists(st.integers(0, int(days * 96) - 1), max_size=4))):
        ph: dict = {"at": f"{q / 4}h"}
        if draw(st.booleans()):
            cname = draw(st.sampled_from(sorted(crossings)))
            lane = draw(st.sampled_from([ln["name"] for ln in crossings[cname]["stages"][0]
                                         ["lanes"]]))
            ph["crossings"] = [cname]
            ph["booths"] = {f"s/{lane}": draw(st.integers(0, 4))}
        if draw(st.booleans()):
            ph["closed"] = draw(st.lists(st.sampled_from(classes), unique=True))
        if draw(st.booleans()):
            ph["service_factor"] = {draw(st.sampled_from(["all", *classes])):
                                    draw(st.sampled_from([0.5, 1.5, 2, 3]))}
        if draw(st.booleans()):
            ph["demand_factor"] = {draw(st.sampled_from(["all", *classes])):
                                   draw(st.sampled_from([0, 0.5, 1.5]))}
        if draw(st.integers(0, 5)) == 0:
            ph["reset"] = True
        policy.append(ph)
    behaviour: dict = {}
    if draw(st.booleans()):
        behaviour["patience"] = {k: draw(durations(1, 12)) for k in
                                 draw(st.lists(st.sampled_from(classes), min_size=1,
                                               unique=True))}
    if draw(st.integers(0, 4)) == 0:
        behaviour["balk"] = {draw(st.sampled_from(classes)): {"queue_over": 2}}
    if draw(st.integers(0, 4)) == 0:
        behaviour["defer"] = {draw(st.sampled_from(classes)): {"share": 0.5, "over": "2h"}}
    data = {
        "name": "engines", "start": draw(st.sampled_from(["2020-01-01", "2020-01-01T05:30"])),
        "duration": f"{days}d",
        "warmup": draw(st.sampled_from([0, "1h", "3h"])),
        "cooldown": draw(st.sampled_from([0, "1h"])),
        "replications": draw(st.integers(1, 3)),
        "seed": draw(st.integers(0, 10**6)),
        "classes": {k: {"persons": 2, "length_m": draw(st.sampled_from([0, 5, 12]))}
                    for k in classes},
        "crossings": crossings, "policy": policy, "behaviour": behaviour,
    }
    if "truck" in classes:
        data["classes"]["truck"].update(
            cargo_value={"dist": "lognormal", "mean": 20000, "cv": 0.5}, perishable_share=0.3)
        data["economics"] = {"value_of_time_per_person_hour": 1.5,
                             "vehicle_cost_per_hour": {"truck": 7},
                             "cargo_time_cost_per_day": 0.01,
                             "spoilage": {"rate_per_day": 0.1, "after": "2h"},
                             "lost_unit_value": {"truck": "cargo"}}
    return data


def folder(res) -> tuple:
    """What the results folder says: its tables, and the arrays of the .npz files."""
    arrays = [np.concatenate([np.ravel(d[k]) for k in sorted(d)]) if d else np.empty(0)
              for r in res.replications for d in (r.queue, r.crossed, r.cost, r.wait_hist)]
    return (summary_csv(res), replications_csv(res), timeseries_csv(res), costs_csv(res),
            arrays)


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(data=fast_scenarios())
def test_fast_path_and_event_engine_write_the_same_results(data):
    scn = scenario_from_dict(copy.deepcopy(data), "<hypothesis>").scenario
    fast = folder(run_experiment(scn, workers=1, engine="auto"))
    events = folder(run_experiment(scn, workers=1, engine="des"))
    assert fast[:4] == events[:4]
    for a, b in zip(fast[4], events[4], strict=True):
        np.testing.assert_array_equal(a, b)
    # and underneath, every group's records, in the same order
    for r in range(scn.replications):
        a, b = run_model(scn, r, engine="auto"), run_model(scn, r, engine="des")
        for ga, gb in zip(a.groups, b.groups, strict=True):
            for f in FIELDS:
                np.testing.assert_array_equal(getattr(ga, f), getattr(gb, f),
                                              err_msg=f"r{r} {ga.crossing}/{ga.cls} {f}")
