"""Spoilage accrued per hour in closed form equals the piecewise sum it replaces.

The reference below is the formula bordersim used before: split every queue visit at the
hour marks and take the rise of the spoilage curve over each piece. It needs memory for
visits × hours (4.6 GB for a 20-day closure of 10,000 trucks a day); the closed form needs
memory for visits plus hours. On small random cases both must agree to rounding.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bordersim.economics import _accrued_spoilage
from bordersim.scenario import ClassSpec, Economics


def reference(econ, spec, join, leave, wait0, cargo, n_hours):
    out = np.zeros(n_hours)
    after = econ.spoilage.after
    start_late = np.maximum(join, join + (after - wait0))
    keep = leave > start_late
    if not keep.any():
        return out
    j, lv, w0, c = join[keep], leave[keep], wait0[keep], cargo[keep]
    s = start_late[keep]
    first = np.floor(s).astype(np.int64)
    last = np.minimum(np.ceil(lv).astype(np.int64), n_hours)
    counts = np.maximum(last - first, 0)
    idx = np.repeat(np.arange(len(j)), counts)
    hour = np.repeat(first, counts) + (np.arange(counts.sum())
                                       - np.repeat(np.cumsum(counts) - counts, counts))
    a = np.maximum(s[idx], hour)
    b = np.minimum(lv[idx], hour + 1.0)
    wa = w0[idx] + (a - j[idx])
    wb = w0[idx] + (b - j[idx])
    value = spec.perishable_share * c[idx]
    rate = econ.spoilage.rate_per_day
    late_a = np.maximum(0.0, (wa - after) / 24.0)
    late_b = np.maximum(0.0, (wb - after) / 24.0)
    np.add.at(out, hour, value * (np.exp(-rate * late_a) - np.exp(-rate * late_b)))
    return out


def econ(rate: float, after: float) -> Economics:
    return Economics.model_validate({"spoilage": {"rate_per_day": rate, "after": after}})


SPEC = ClassSpec.model_validate({"cargo_value": 30000, "perishable_share": 0.2})


def visits(rng, n, n_hours, whole_hours=False):
    join = rng.uniform(0, n_hours * 1.1, n)
    length = rng.exponential(rng.choice([0.3, 5.0, 50.0]), n)
    if whole_hours:
        join, length = np.floor(join), np.ceil(length)
    leave = join + length
    wait0 = rng.choice([0.0, 1.0, 30.0], n) * rng.random(n)
    cargo = rng.uniform(1000, 50000, n)
    return join, leave, wait0, cargo


@settings(max_examples=60, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 60), n_hours=st.integers(1, 200),
       rate=st.sampled_from([1e-4, 0.05, 0.5, 5.0, 80.0]),
       after=st.sampled_from([0.0, 0.5, 7.0, 48.0]), whole=st.booleans())
def test_closed_form_equals_the_piecewise_sum(seed, n, n_hours, rate, after, whole):
    rng = np.random.default_rng(seed)
    join, leave, wait0, cargo = visits(rng, n, n_hours, whole)
    e = econ(rate, after)
    want = reference(e, SPEC, join, leave, wait0, cargo, n_hours)
    got = _accrued_spoilage(e, SPEC, join, leave, wait0, cargo, n_hours)
    scale = max(1.0, float(np.abs(want).sum()))
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12 * scale)
    assert abs(got.sum() - want.sum()) <= 1e-12 * scale


def test_a_visit_by_hand():
    """One truck, cargo 30,000 (20% perishable), joins at 0.5 h having waited 47 h before:
    spoilage starts at 1.5 h (48 h in all) and the visit ends at 4.25 h."""
    e = econ(2.4, 48.0)          # 0.1 of the remainder an hour
    got = _accrued_spoilage(e, SPEC, np.array([0.5]), np.array([4.25]), np.array([47.0]),
                            np.array([30000.0]), 6)
    value = 0.2 * 30000

    def E(t):
        return np.exp(-2.4 * max(0.0, (47.0 + t - 0.5 - 48.0) / 24))
    want = [0.0, value * (E(1.5) - E(2)), value * (E(2) - E(3)), value * (E(3) - E(4)),
            value * (E(4) - E(4.25)), 0.0]
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_memory_grows_with_visits_plus_hours_not_their_product():
    """200,000 visits of ten days on average over a 40-day run: the piecewise sum would
    hold ~48 million pieces (several GB); the closed form holds a few arrays of visits."""
    rng = np.random.default_rng(7)
    n, n_hours = 200_000, 960
    join = rng.uniform(0, n_hours, n)
    leave = join + rng.exponential(240.0, n)
    wait0 = np.zeros(n)
    cargo = np.full(n, 30000.0)
    tracemalloc.start()
    try:
        got = _accrued_spoilage(econ(0.05, 48.0), SPEC, join, leave, wait0, cargo, n_hours)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 40 * 8 * n, f"peak {peak / 1e6:.0f} MB"        # tens of arrays of visits
    assert np.all(np.isfinite(got)) and got.sum() > 0


@pytest.mark.parametrize("n_hours", [0, 1])
def test_tiny_runs(n_hours):
    got = _accrued_spoilage(econ(0.05, 0.0), SPEC, np.array([0.2]), np.array([0.9]),
                            np.array([0.0]), np.array([1000.0]), n_hours)
    assert got.shape == (n_hours,)


@given(st.lists(st.floats(-1e6, 1e6), min_size=0, max_size=300),
       st.floats(0.0, 1.0, exclude_max=True))
@settings(max_examples=200, deadline=None)
def test_the_hourly_recurrence_is_a_first_order_filter_term_for_term(x, q):
    """y[h] = x[h] + q·y[h-1] as scipy's IIR filter computes it, to the last bit (the
    recurrence replaced scipy.signal, whose import cost every worker half a second)."""
    from scipy.signal import lfilter

    from bordersim.economics import _geometric_running

    x = np.asarray(x, dtype=float)
    want = lfilter([1.0], [1.0, -q], x) if len(x) else np.empty(0)
    assert np.array_equal(_geometric_running(x, q), want)
