"""Properties that must hold for any scenario, checked on small random ones with Hypothesis.

Waits are never negative; a single queue is first-come first-served; never
more units are in service than booths (even while booths change); a scenario
survives load → dump → load; every distribution samples its own mean.
"""

from __future__ import annotations

import copy
import math
from datetime import date, datetime

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from bordersim.distributions import Distribution
from bordersim.loading import dump_yaml, load_scenario, scenario_from_dict
from bordersim.measure import measure
from bordersim.model import Outcome, run_model
from bordersim.scenario import ALL

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])
EPS = 1e-9
OUTCOMES = ("crossed", "reneged", "balked", "diverted", "waiting_at_end", "in_service_at_end")
CLASSES = ("car", "bus", "truck")

seeds = st.integers(min_value=0, max_value=2**31 - 1)


def _num(lo: float, hi: float):
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False).map(lambda x: round(x, 3))


def _minutes(lo: float, hi: float):
    return _num(lo, hi).map(lambda x: f"{x}min")


@st.composite
def distributions(draw, lo_min: float = 0.5, hi_min: float = 20.0, kind: str | None = None):
    """A distribution as written in a scenario file, with durations in minutes."""
    kind = kind or draw(st.sampled_from(["exponential", "deterministic", "gamma", "lognormal",
                                         "uniform", "triangular", "empirical", "bare"]))
    if kind == "bare":
        return draw(_minutes(lo_min, hi_min))
    if kind == "exponential":
        return {"dist": "exponential", "mean": draw(_minutes(lo_min, hi_min))}
    if kind == "deterministic":
        return {"dist": "deterministic", "value": draw(_minutes(lo_min, hi_min))}
    if kind in ("gamma", "lognormal"):
        return {"dist": kind, "mean": draw(_minutes(lo_min, hi_min)), "cv": draw(_num(0.1, 1.5))}
    if kind == "uniform":
        a, b = sorted(draw(st.lists(_num(lo_min, hi_min), min_size=2, max_size=2, unique=True)))
        return {"dist": "uniform", "low": f"{a}min", "high": f"{b}min"}
    if kind == "triangular":
        a, c, b = sorted(draw(st.lists(_num(lo_min, hi_min), min_size=3, max_size=3, unique=True)))
        return {"dist": "triangular", "low": f"{a}min", "mode": f"{c}min", "high": f"{b}min"}
    values = draw(st.lists(_num(lo_min, hi_min), min_size=1, max_size=6))
    return {"dist": "empirical", "values": [f"{v}min" for v in values]}


def _as_money(dist):
    """A distribution of durations in minutes as one of amounts: a cargo value is money."""
    def amount(v):
        return float(v[:-3]) if isinstance(v, str) and v.endswith("min") else v

    if isinstance(dist, dict):
        return {k: [amount(x) for x in v] if isinstance(v, list) else amount(v)
                for k, v in dist.items()}
    return amount(dist)


@st.composite
def scenarios(draw, max_crossings: int = 2, max_stages: int = 2, max_phases: int = 3) -> dict:
    """A small scenario using most of the schema: stages, lanes, secondary, policy, behaviour."""
    classes = draw(st.lists(st.sampled_from(CLASSES), min_size=1, max_size=3, unique=True))
    days = draw(st.sampled_from([1, 1.5, 2, 3]))
    crossings = {}
    for ci in range(draw(st.integers(1, max_crossings))):
        stages = []
        for si in range(draw(st.integers(1, max_stages))):
            lanes = []
            for li in range(draw(st.integers(1, 2))):
                serves = list(classes) if li == 0 else draw(
                    st.lists(st.sampled_from(classes), min_size=1, unique=True))
                lanes.append({"name": f"l{li}", "serves": serves,
                              "booths": draw(st.integers(1, 3)),
                              "service": {ALL: draw(distributions(0.5, 12))}})
            stage = {"name": f"s{si}", "lanes": lanes}
            if draw(st.booleans()):
                k = draw(st.sampled_from(classes))
                stage["secondary"] = {k: {"probability": draw(_num(0, 1)),
                                          "booths": draw(st.integers(1, 2)),
                                          "service": draw(distributions(5, 60))}}
            stages.append(stage)
        crossing = {"demand": {k: draw(_num(5, 120)) for k in classes}, "stages": stages}
        if draw(st.booleans()):
            crossing["arrival_process"] = "deterministic"
        if draw(st.booleans()):
            crossing["profile"] = draw(st.lists(_num(0.1, 3), min_size=24, max_size=24))
        crossings[f"c{ci}"] = crossing
    lanes_c0 = [f"{s['name']}/{ln['name']}" for s in crossings["c0"]["stages"]
                for ln in s["lanes"]]
    policy = []
    times = sorted(draw(st.lists(_num(0, days * 24 - 0.1), max_size=max_phases)))
    for t in times:
        ph: dict = {"at": draw(st.sampled_from([f"{t}h", t]))}
        if draw(st.booleans()):
            ph["closed"] = draw(st.lists(st.sampled_from(classes), unique=True))
        if draw(st.booleans()):
            ph["service_factor"] = {draw(st.sampled_from([ALL, *classes])): draw(_num(0.5, 3))}
        if draw(st.booleans()):
            ph["booths"] = {draw(st.sampled_from(lanes_c0)): draw(st.integers(0, 4))}
        if draw(st.booleans()):
            ph["quota_per_day"] = {draw(st.sampled_from(classes)): draw(st.integers(0, 50))}
        if draw(st.booleans()):
            ph["priority"] = draw(st.permutations(classes))
        if draw(st.booleans()):
            ph["demand_factor"] = {draw(st.sampled_from([ALL, *classes])): draw(_num(0, 1))}
        if draw(st.booleans()):
            ph["reset"] = True
        policy.append(ph)
    behaviour: dict = {}
    if draw(st.booleans()):
        behaviour["patience"] = {draw(st.sampled_from(classes)): draw(distributions(30, 600))}
    if draw(st.booleans()):
        behaviour["balk"] = {draw(st.sampled_from(classes)):
                             {"queue_over": draw(st.integers(0, 20))}}
    warmup = draw(st.sampled_from([0, "2h", "6h"]))
    cooldown = draw(st.sampled_from([0, "1h", "4h"]))
    data = {
        "name": "prop",
        # a date, a datetime and a string: YAML writes the first two unquoted
        "start": draw(st.sampled_from([date(2020, 2, 28), datetime(2021, 7, 1, 6, 15),
                                       "2020-02-28T13:30"])),
        "duration": f"{days}d",
        "warmup": warmup,
        "cooldown": cooldown,
        "replications": draw(st.integers(1, 5)),
        "seed": draw(st.integers(0, 10**6)),
        "classes": {k: {"persons": draw(_num(1, 40)), "length_m": draw(_num(0, 20))}
                    for k in classes},
        "crossings": crossings,
        "policy": policy,
        "behaviour": behaviour,
    }
    if "truck" in classes and draw(st.booleans()):
        data["classes"]["truck"].update(cargo_value=_as_money(draw(distributions(1000, 5000))),
                                        perishable_share=draw(_num(0, 1)))
        data["economics"] = {"value_of_time_per_person_hour": draw(_num(0, 5)),
                             "vehicle_cost_per_hour": {"truck": draw(_num(0, 20))},
                             "cargo_time_cost_per_day": draw(_num(0, 0.05)),
                             "spoilage": {"rate_per_day": draw(_num(0.01, 0.2)), "after": "1d"},
                             "lost_unit_value": {"truck": "cargo"}}
    return data


def _scenario(data: dict):
    return scenario_from_dict(copy.deepcopy(data), "<hypothesis>").scenario


# ---- waits are never negative (and nothing is lost) -------------------------------------

@SETTINGS
@given(data=scenarios(), seed=seeds)
def test_waits_are_never_negative(data, seed):
    scn = _scenario(data)
    eng = run_model(scn, 0, seed)
    for g in eng.groups:
        wait = np.asarray(g.out_wait)
        assert np.all(wait >= 0), (g.crossing, g.cls, wait.min())
        qj, ql = np.asarray(g.q_join), np.asarray(g.q_leave)
        assert np.all(ql - qj >= 0) and np.all(qj >= 0) and np.all(ql <= scn.duration)
        code = np.asarray(g.out_code)
        crossed = code == Outcome.CROSSED
        arr, ex = np.asarray(g.out_arr), np.asarray(g.out_exit)
        assert np.all(ex[crossed] - arr[crossed] >= wait[crossed] - EPS)
        assert np.all(wait[code == Outcome.BALKED] == 0)
    res = measure(eng, scn, 0)
    for key, m in res.metrics.items():
        for metric in ("wait_mean_h", "wait_p50_h", "wait_p90_h", "wait_p95_h", "wait_max_h",
                       "time_in_system_mean_h", "queue_mean", "queue_max", "waiting_hours_total",
                       "person_hours_waiting", "cost_total"):
            assert math.isnan(m[metric]) or m[metric] >= 0, (key, metric, m[metric])
        if not math.isnan(m["wait_mean_h"]):
            assert m["wait_p50_h"] <= m["wait_p90_h"] <= m["wait_p95_h"] <= m["wait_max_h"]
            assert m["time_in_system_mean_h"] >= m["wait_mean_h"] - EPS
        assert m["arrivals"] == sum(m[o] for o in OUTCOMES), (key, m)
        assert np.all(res.queue[key] >= 0)


# ---- first come, first served ------------------------------------------------------------

@st.composite
def single_queues(draw, booths: int | None = None) -> dict:
    """One crossing, one stage, one lane, one class, no policy, no behaviour."""
    days = draw(st.sampled_from([1, 2, 3]))
    return {
        "name": "fifo",
        "start": "2020-01-01",
        "duration": f"{days}d",
        "classes": {"car": {}},
        "crossings": {"x": {
            "demand": {"car": draw(_num(10, 200))},
            "arrival_process": draw(st.sampled_from(["poisson", "deterministic"])),
            "stages": [{"name": "s", "lanes": [{
                "name": "l", "serves": ["car"],
                "booths": booths if booths is not None else draw(st.integers(1, 4)),
                "service": {"car": draw(distributions(0.5, 30))}}]}],
        }},
    }


@SETTINGS
@given(data=single_queues(booths=1), seed=seeds)
def test_one_booth_serves_in_arrival_order(data, seed):
    scn = _scenario(data)
    eng = run_model(scn, 0, seed)
    (g,) = eng.groups
    # a queue visit is recorded when service starts (or at the end, for those still waiting)
    starts_arrivals = np.asarray(g.q_join)
    assert np.all(np.diff(starts_arrivals) >= 0), "service started out of arrival order"
    assert np.all(np.diff(np.asarray(g.q_leave)) >= 0)
    code = np.asarray(g.out_code)
    crossed = code == Outcome.CROSSED
    # units leave in the order they came, each after the previous one left
    arr = np.asarray(g.out_arr)[crossed]
    assert np.all(np.diff(arr) > 0)
    assert np.all(np.diff(np.asarray(g.out_unit)[crossed]) == 1)
    ex = np.asarray(g.out_exit)[crossed]
    start = arr + np.asarray(g.out_wait)[crossed]
    assert np.all(start[1:] >= ex[:-1] - EPS)


@SETTINGS
@given(data=single_queues(), seed=seeds)
def test_several_booths_start_service_in_arrival_order(data, seed):
    scn = _scenario(data)
    eng = run_model(scn, 0, seed)
    (g,) = eng.groups
    assert np.all(np.diff(np.asarray(g.q_join)) >= 0), "service started out of arrival order"


# ---- never more units in service than booths -------------------------------------------------

@st.composite
def booth_scenarios(draw) -> dict:
    """One lane shared by one or two classes, with phases that change booths or close a class."""
    classes = draw(st.lists(st.sampled_from(CLASSES), min_size=1, max_size=2, unique=True))
    days = draw(st.sampled_from([1, 2]))
    deterministic = draw(st.booleans())
    service = {k: (draw(_minutes(2, 40)) if deterministic else draw(distributions(1, 40)))
               for k in classes}
    phases = []
    for t in sorted(draw(st.lists(_num(0.5, days * 24 - 0.5), max_size=4, unique=True))):
        ph: dict = {"at": f"{t}h", "booths": {"s/l": draw(st.integers(0, 5))}}
        if draw(st.booleans()):
            ph["closed"] = draw(st.lists(st.sampled_from(classes), unique=True))
        phases.append(ph)
    return {
        "name": "booths",
        "start": "2020-01-01",
        "duration": f"{days}d",
        "classes": {k: {} for k in classes},
        "crossings": {"x": {
            "demand": {k: draw(_num(20, 150)) for k in classes},
            "stages": [{"name": "s", "lanes": [{
                "name": "l", "serves": classes, "booths": draw(st.integers(1, 4)),
                "service": service}]}],
        }},
        "policy": phases,
        "behaviour": ({"patience": {classes[0]: {"dist": "exponential", "mean": "2h"}}}
                      if draw(st.booleans()) else {}),
    }


def _booths_at(scn, t: float) -> int:
    """Booths staffed at time t; within EPS of a change, the larger of the two counts."""
    steps = [(0.0, scn.crossings["x"].stages[0].lanes[0].booths)]
    steps += [(scn.phase_time(i), ph.booths["s/l"]) for i, ph in enumerate(scn.policy)]
    allowed = 0
    for i, (since, n) in enumerate(steps):
        until = steps[i + 1][0] if i + 1 < len(steps) else math.inf
        if since <= t + EPS and until > t - EPS:
            allowed = max(allowed, n)
    return allowed


@SETTINGS
@given(data=booth_scenarios(), seed=seeds)
def test_never_more_units_in_service_than_booths(data, seed):
    scn = _scenario(data)
    eng = run_model(scn, 0, seed)
    starts, ends = [], []
    for g in eng.groups:
        code = np.asarray(g.out_code)
        served = (code == Outcome.CROSSED) | (code == Outcome.IN_SERVICE_AT_END)
        arr, wait = np.asarray(g.out_arr), np.asarray(g.out_wait)
        s = (arr + wait)[served]
        e = np.where(code == Outcome.CROSSED, np.asarray(g.out_exit), np.inf)[served]
        starts.append(s)
        ends.append(e)
    starts = np.sort(np.concatenate(starts))
    ends = np.sort(np.concatenate(ends))
    if len(starts) == 0:
        return
    # after the k-th start, k+1 units have started and those ending by then have left
    in_service = np.arange(1, len(starts) + 1) - np.searchsorted(ends, starts + EPS, side="right")
    allowed = np.array([_booths_at(scn, t) for t in starts])
    worst = int(np.argmax(in_service - allowed))
    assert in_service[worst] <= allowed[worst], (
        f"{in_service[worst]} units in service at t={starts[worst]:.6f}h with "
        f"{allowed[worst]} booths")


@SETTINGS
@given(data=booth_scenarios(), seed=seeds)
def test_deterministic_service_lasts_exactly_its_time(data, seed):
    """Deterministic service: every crossed unit is served for exactly its service time."""
    data = copy.deepcopy(data)
    lane = data["crossings"]["x"]["stages"][0]["lanes"][0]
    lane["service"] = {k: "7.5min" for k in lane["service"]}
    scn = _scenario(data)
    eng = run_model(scn, 0, seed)
    for g in eng.groups:
        code = np.asarray(g.out_code)
        crossed = code == Outcome.CROSSED
        start = (np.asarray(g.out_arr) + np.asarray(g.out_wait))[crossed]
        np.testing.assert_allclose(np.asarray(g.out_exit)[crossed] - start, 0.125, atol=1e-8)


# ---- load → dump → load -------------------------------------------------------------------

@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=scenarios(max_crossings=3, max_stages=3, max_phases=4))
def test_load_dump_load_round_trips(tmp_path, data):
    first_file = tmp_path / "first.yaml"
    first_file.write_text(yaml.safe_dump(data, sort_keys=False))
    first = load_scenario(first_file)
    second_file = tmp_path / "second.yaml"
    second_file.write_text(dump_yaml(first.resolved))
    second = load_scenario(second_file)
    assert second.scenario == first.scenario
    assert second.sha256 == first.sha256
    # and a third pass changes nothing in the text
    assert dump_yaml(second.resolved) == dump_yaml(first.resolved)


@pytest.mark.parametrize("at", ["2020-01-02", "2020-01-02T06:00:00", "2020-01-02 06:00:00"])
def test_round_trip_with_calendar_phase_times(tmp_path, at):
    text = f"""
name: dates
start: 2020-01-01
duration: 3d
classes: {{car: {{}}}}
crossings:
  x:
    demand: {{car: 24}}
    stages: [{{name: s, lanes: [{{name: l, serves: [car], booths: 1, service: {{car: 5min}}}}]}}]
policy:
  - at: {at}
    closed: [car]
"""
    (tmp_path / "a.yaml").write_text(text)
    first = load_scenario(tmp_path / "a.yaml")
    (tmp_path / "b.yaml").write_text(dump_yaml(first.resolved))
    second = load_scenario(tmp_path / "b.yaml")
    assert second.scenario.phase_time(0) == first.scenario.phase_time(0)
    assert second.scenario == first.scenario


# ---- distributions sample their analytic mean ------------------------------------------------

DIST = TypeAdapter(Distribution)
KINDS = ["exponential", "deterministic", "gamma", "lognormal", "uniform", "triangular",
         "empirical"]
N_SAMPLES = 40_000
K_SE = 5.0


@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=15, deadline=None, derandomize=True)
@given(data=st.data(), seed=seeds)
def test_distribution_samples_its_analytic_moments(kind, data, seed):
    spec = data.draw(distributions(0.5, 120, kind=kind))
    dist = DIST.validate_python(spec)
    assert dist.dist == kind
    x = dist.sample(np.random.Generator(np.random.PCG64(seed)), N_SAMPLES)
    assert x.shape == (N_SAMPLES,)
    assert np.all(x >= 0) and np.all(np.isfinite(x))
    mean, var = dist.mean, dist.variance
    assert mean > 0 and var >= 0
    if var == 0:
        assert np.all(x == mean)
        return
    se = math.sqrt(var / N_SAMPLES)
    assert abs(x.mean() - mean) <= K_SE * se, (spec, x.mean(), mean, se)
    # the variance too: Var(s²) = (μ4 − (n−3)/(n−1)·σ⁴)/n, μ4 estimated from the sample
    # and floored at its least possible value σ⁴ (a two-point law): 2σ⁴/(n(n−1))
    n = N_SAMPLES
    s2 = x.var(ddof=1)
    m4 = float(np.mean((x - x.mean()) ** 4))
    se_var = math.sqrt(max(m4 - (n - 3) / (n - 1) * var**2, 2 * var**2 / (n - 1)) / n)
    assert abs(s2 - var) <= K_SE * se_var + 1e-12, (spec, s2, var, se_var)
