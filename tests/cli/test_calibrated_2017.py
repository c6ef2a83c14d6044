"""The shipped 2017 history is the calibration's, not a hand-tuned one.

Every figure the calibration spec estimates must be written in the scenarios as the
median of the shipped posterior (calibration/closure-2017/parameters.csv), and the
counterfactuals must change only what they say they change.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from bordersim.calibrate.spec import read_calibration_spec
from bordersim.loading import load_scenario

ROOT = Path(__file__).resolve().parents[2]
CAL = ROOT / "calibration" / "closure-2017"
SPEC = ROOT / "calibration" / "closure-2017.yaml"


def _value(data, path: str):
    node = data
    for part in path.split("."):
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def _hours(v) -> float:
    from bordersim.distributions import parse_duration

    return float(parse_duration(v)) if isinstance(v, str) else float(v)


def test_the_shipped_calibration_is_complete_and_matches_its_spec():
    m = json.loads((CAL / "manifest.json").read_text())
    assert m["kind"] == "calibration" and m["status"] == "complete"
    spec = read_calibration_spec(SPEC)
    assert [p["path"] for p in m["priors"]] == list(spec["priors"])
    assert m["observations_sha256"], "the observations the posterior was fitted to"
    with open(CAL / "posterior.csv") as f:
        head = next(csv.reader(f))
    assert head == ["draw", "weight", *spec["priors"]]


def test_the_scenarios_carry_the_posterior_medians():
    """closure-2017 resolved (with baseline-2017) holds, at every estimated path, the
    posterior median, rounded as the scenario writes it (3 significant figures, whole
    numbers for whole-number parameters)."""
    with open(CAL / "parameters.csv") as f:
        params = list(csv.DictReader(f))
    data = load_scenario(ROOT / "scenarios" / "closure-2017.yaml").resolved
    for p in params:
        written = _hours(_value(data, p["path"]))
        median = float(p["median"])
        if p["kind"] == "integer":
            assert written == round(median), p["path"]
        else:
            assert written == pytest.approx(float(f"{median:.3g}"), rel=1e-9), p["path"]


@pytest.mark.parametrize("name", ["no-agreement-2017", "early-settlement-2017",
                                  "full-closure-2017", "more-bays-2017"])
def test_a_counterfactual_keeps_the_calibrated_history(name):
    """Every estimated figure of the history is the same in the counterfactual (they
    differ in policy, or in Karasu's bays), so posterior draws apply to it unchanged."""
    spec = read_calibration_spec(SPEC)
    history = load_scenario(ROOT / "scenarios" / "closure-2017.yaml").resolved
    other = load_scenario(ROOT / "scenarios" / f"{name}.yaml").resolved
    for path in spec["priors"]:
        assert _value(other, path) == _value(history, path), path


def test_more_bays_changes_only_the_bays():
    history = load_scenario(ROOT / "scenarios" / "closure-2017.yaml").resolved
    more = load_scenario(ROOT / "scenarios" / "more-bays-2017.yaml").resolved
    a, b = history["crossings"]["ak-tilek"], more["crossings"]["ak-tilek"]
    assert b["stages"][1]["secondary"]["truck_loaded"]["booths"] == \
        2 * a["stages"][1]["secondary"]["truck_loaded"]["booths"]
    b["stages"][1]["secondary"]["truck_loaded"]["booths"] = \
        a["stages"][1]["secondary"]["truck_loaded"]["booths"]
    assert a == b
    assert {k: v for k, v in history.items() if k not in ("name", "description",
                                                          "crossings")} == \
        {k: v for k, v in more.items() if k not in ("name", "description", "crossings")}
