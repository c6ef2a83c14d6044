"""Durations, calendar times, and sampling of the seven distributions against their moments."""

from __future__ import annotations

import math
from datetime import date, datetime

import numpy as np
import pytest
from pydantic import TypeAdapter, ValidationError

from bordersim.distributions import (
    Deterministic,
    Distribution,
    Empirical,
    Exponential,
    Gamma,
    Lognormal,
    Triangular,
    Uniform,
    parse_duration,
    parse_time,
)
from bordersim.loading import scenario_from_dict

DIST = TypeAdapter(Distribution)


# ---- durations ---------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "hours"),
    [
        ("45s", 45 / 3600),
        ("15min", 0.25),
        ("2h", 2.0),
        ("3d", 72.0),
        ("1w", 168.0),
        ("1.5h", 1.5),
        ("90 min", 1.5),
        ("0.5d", 12.0),
        ("2", 2.0),          # a bare number in a string means hours
        ("2.25", 2.25),
        (3, 3.0),            # bare numbers mean hours
        (0.75, 0.75),
        (0, 0.0),
    ],
)
def test_parse_duration_units(text, hours):
    assert parse_duration(text) == pytest.approx(hours, abs=1e-12)


@pytest.mark.parametrize(
    "bad",
    ["", "h", "abc", "2 parsecs", "1h30min", "2hh", "--2h", "1,5h", "inf", "nan",
     float("nan"), float("inf"), True, None, [], {}],
)
def test_parse_duration_rejects_bad_values(bad):
    with pytest.raises(ValueError):
        parse_duration(bad)


# ---- calendar times ------------------------------------------------------------------------

START = datetime(2017, 10, 1)


@pytest.mark.parametrize(
    ("value", "hours"),
    [
        ("2017-10-01", 0.0),
        ("2017-10-10", 216.0),
        ("2017-10-10T18:00", 234.0),
        ("2017-10-10T18:00:00", 234.0),
        ("2017-10-10 06:30", 222.5),
        (date(2017, 10, 10), 216.0),                # YAML reads bare dates as date objects
        (datetime(2017, 10, 10, 18, 0), 234.0),
        ("2017-09-30", -24.0),                     # before start: negative, checked elsewhere
        ("9d", 216.0),                             # durations are offsets from start
        ("36h", 36.0),
        ("90min", 1.5),
        (5, 5.0),
        (2.5, 2.5),
    ],
)
def test_parse_time(value, hours):
    assert parse_time(value, START) == pytest.approx(hours, abs=1e-12)


def test_parse_time_relative_to_a_start_with_a_time_of_day():
    start = datetime(2017, 10, 1, 18, 0)
    assert parse_time("2017-10-02", start) == pytest.approx(6.0)
    assert parse_time("2017-10-02T00:00", start) == pytest.approx(6.0)
    assert parse_time("6h", start) == pytest.approx(6.0)


@pytest.mark.parametrize("bad", ["tomorrow", "2017-13-45", "10/10/2017", "", None, True])
def test_parse_time_rejects_bad_values(bad):
    with pytest.raises(ValueError):
        parse_time(bad, START)


# ---- distributions: one generic test over all seven ------------------------------------------

def _lognormal_mu4(sd: float, cv: float) -> float:
    s2 = math.log1p(cv * cv)
    excess = math.exp(4 * s2) + 2 * math.exp(3 * s2) + 3 * math.exp(2 * s2) - 6
    return (3 + excess) * sd**4


# (spec as written in a scenario file, class, analytic fourth central moment from (dist, sd))
CASES = [
    ({"dist": "exponential", "mean": "30min"}, Exponential,
     lambda d, sd: 9 * sd**4),                                  # excess kurtosis 6
    ({"dist": "deterministic", "value": "12min"}, Deterministic,
     lambda d, sd: 0.0),
    ({"dist": "gamma", "mean": "12min", "cv": 0.5}, Gamma,
     lambda d, sd: (3 + 6 * d.cv**2) * sd**4),                  # excess 6/shape = 6 cv²
    ({"dist": "lognormal", "mean": "2h", "cv": 0.6}, Lognormal,
     lambda d, sd: _lognormal_mu4(sd, d.cv)),
    ({"dist": "uniform", "low": "10min", "high": "1h"}, Uniform,
     lambda d, sd: 1.8 * sd**4),                                # excess -6/5
    ({"dist": "triangular", "low": 1, "mode": "2h", "high": "6h"}, Triangular,
     lambda d, sd: 2.4 * sd**4),                                # excess -3/5
    ({"dist": "empirical", "values": ["5min", "10min", "10min", "1h", 2]}, Empirical,
     lambda d, sd: float(np.mean((np.asarray(d.values) - d.mean) ** 4))),
]


def test_cases_cover_every_distribution():
    from bordersim.distributions import _KINDS

    assert {spec["dist"] for spec, _, _ in CASES} == set(_KINDS)


@pytest.mark.parametrize(("spec", "kind", "mu4"), CASES, ids=[c[0]["dist"] for c in CASES])
def test_sample_moments_match_analytic(spec, kind, mu4):
    """Sample mean and variance within 5 standard errors of the analytic values.

    SE(mean) = σ/√n; SE(sample variance) ≈ √((μ4 − σ⁴)/n) with μ4 the analytic
    fourth central moment, so the tolerance is derived, not tuned to a seed.
    """
    d = DIST.validate_python(spec)
    assert isinstance(d, kind)
    n = 200_000
    x = d.sample(np.random.default_rng(20171010), n)
    assert x.shape == (n,)
    assert np.all(x >= 0)
    var = d.variance
    se_mean = math.sqrt(var / n)
    se_var = math.sqrt(max(mu4(d, math.sqrt(var)) - var**2, 0.0) / n)
    assert x.mean() == pytest.approx(d.mean, abs=5 * se_mean + 1e-12)
    assert x.var(ddof=1) == pytest.approx(var, abs=5 * se_var + 1e-12)


def test_moments_are_in_hours():
    assert DIST.validate_python({"dist": "exponential", "mean": "30min"}).mean == 0.5
    g = DIST.validate_python({"dist": "gamma", "mean": "12min", "cv": 0.5})
    assert g.mean == pytest.approx(0.2)
    assert g.variance == pytest.approx((0.5 * 0.2) ** 2)
    ln = DIST.validate_python({"dist": "lognormal", "mean": "2h", "cv": 0.6})
    assert ln.variance == pytest.approx((0.6 * 2) ** 2)
    assert DIST.validate_python({"dist": "uniform", "low": 0, "high": "1d"}).variance == 48.0
    tri = DIST.validate_python({"dist": "triangular", "low": 0, "mode": 0, "high": 3})
    assert tri.mean == 1.0 and tri.variance == pytest.approx(0.5)


@pytest.mark.parametrize(
    "bad",
    [
        {"dist": "weibull", "mean": 1},
        {"mean": 1},
        {"dist": "uniform", "low": 2, "high": 1},
        {"dist": "triangular", "low": 0, "mode": 5, "high": 3},
        {"dist": "gamma", "mean": 1, "cv": 0},
        {"dist": "exponential", "mean": "-1h"},
        {"dist": "empirical", "values": []},
        {"dist": "exponential", "mean": 1, "sd": 2},
        "soon",
    ],
)
def test_bad_distributions_are_rejected(bad):
    with pytest.raises(ValidationError):
        DIST.validate_python(bad)


# ---- a bare duration means deterministic ---------------------------------------------------------

@pytest.mark.parametrize(("bare", "hours"), [("30min", 0.5), ("2h", 2.0), (1.5, 1.5), (2, 2.0)])
def test_bare_duration_is_deterministic(bare, hours):
    d = DIST.validate_python(bare)
    assert isinstance(d, Deterministic)
    assert d.value == hours and d.mean == hours and d.variance == 0.0


def test_bare_duration_in_a_scenario_is_deterministic():
    data = {
        "name": "bare",
        "start": "2017-10-01",
        "duration": "1d",
        "classes": {"truck": {}},
        "crossings": {
            "x": {
                "demand": {"truck": 24},
                "stages": [{
                    "name": "s",
                    "lanes": [{"name": "l", "serves": ["truck"], "booths": 1,
                               "service": {"truck": "30min"}}],
                    "secondary": {"truck": {"probability": 0.5, "booths": 1, "service": "2h"}},
                }],
            }
        },
        "behaviour": {"patience": {"truck": "5d"}},
    }
    scn = scenario_from_dict(data).scenario
    stage = scn.crossings["x"].stages[0]
    svc = stage.lanes[0].service["truck"]
    assert isinstance(svc, Deterministic) and svc.value == 0.5
    assert isinstance(stage.secondary["truck"].service, Deterministic)
    assert stage.secondary["truck"].service.value == 2.0
    pat = scn.behaviour.patience["truck"]
    assert isinstance(pat, Deterministic) and pat.value == 120.0
