"""The metric catalogue covers every metric and cost component; clipping keeps intervals in
range and never moves a mean."""

from __future__ import annotations

import math

from bordersim.economics import COMPONENTS
from bordersim.measure import METRICS
from bordersim.metrics import CATALOGUE, COMPONENT_LABELS, clip, clip_metric, label
from bordersim.stats import Interval


def test_every_metric_and_component_has_words_and_a_unit():
    assert list(CATALOGUE) == list(METRICS)
    assert set(COMPONENT_LABELS) == {*COMPONENTS, "total"}
    for m in CATALOGUE.values():
        assert m.label and m.unit and m.what and m.low == 0


def test_label_names_the_unit_and_the_currency():
    assert label("wait_mean_h") == "mean wait (h)"
    assert label("cost_total", "KGS") == "total cost (KGS)"
    assert label("not_a_metric") == "not_a_metric"


def test_clip_cuts_at_the_range_and_leaves_the_rest():
    iv = Interval(1.5, -2.0, 5.0, 1.0, 3)
    cut = clip(iv)
    assert (cut.mean, cut.ci_low, cut.ci_high, cut.std, cut.n) == (1.5, 0.0, 5.0, 1.0, 3)
    assert clip(Interval(0.4, 0.1, 0.9, 0.1, 3), 0, 1) == Interval(0.4, 0.1, 0.9, 0.1, 3)
    assert clip(Interval(0.9, 0.5, 1.3, 0.1, 3), 0, 1).ci_high == 1
    nan = clip(Interval(2.0, math.nan, math.nan, math.nan, 1))
    assert math.isnan(nan.ci_low) and math.isnan(nan.ci_high)
    assert clip_metric(iv, "reneged").ci_low == 0
    assert clip_metric(iv, "spoilage").ci_low == 0          # a cost component
    assert clip_metric(iv, "diff_of_something") == iv      # unknown: left alone
