"""Student-t intervals: the quantile bordersim computes is scipy.stats' to the last bit."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bordersim.stats import _t_quantile, t_interval


@given(st.floats(0.5, 1e4), st.sampled_from([0.75, 0.9, 0.95, 0.975, 0.995]))
@settings(max_examples=300, deadline=None)
def test_the_t_quantile_is_scipy_stats_t_ppf(df, p):
    from scipy import stats

    assert _t_quantile(p, df) == float(stats.t.ppf(p, df))


def test_a_95_percent_interval_of_twenty_values_uses_t_19():
    values = np.arange(20, dtype=float)
    iv = t_interval(values)
    se = values.std(ddof=1) / np.sqrt(20)
    assert iv.ci_high - iv.mean == pytest.approx(2.093024054408263 * se, rel=1e-12)
