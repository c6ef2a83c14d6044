"""The shipped 2017 history is the calibration's, not a hand-tuned one.

Every parameter the shipped calibration fitted (``calibration/closure-2017/``) stands
in ``closure-2017`` (and so in every counterfactual that extends it) at its posterior
median, to three significant figures (integers rounded); every fitted path has a prior
in the shipped spec with a source; the folder records how it was made.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest
import yaml

from bordersim.distributions import parse_duration
from bordersim.loading import load_scenario

ROOT = Path(__file__).resolve().parents[2]
CAL = ROOT / "calibration" / "closure-2017"
SPEC = ROOT / "calibration" / "closure-2017.yaml"


def _rows() -> list[dict]:
    with open(CAL / "parameters.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _at(data, path: str):
    for part in path.split("."):
        data = data[int(part)] if isinstance(data, list) else data[part]
    return data


def _number(value) -> float:
    if isinstance(value, (int, float)):
        return float(value)
    return parse_duration(value)


def _three_figures(x: float) -> float:
    if x == 0:
        return 0.0
    return round(x, 2 - int(math.floor(math.log10(abs(x)))))


FITTED = [r for r in _rows() if r["fitted"] == "true"] if (CAL / "parameters.csv").exists() else []


def test_the_calibration_is_shipped():
    for name in ("manifest.json", "posterior.csv", "parameters.csv", "generations.csv",
                 "predictive.csv", ".bordersim-folder"):
        assert (CAL / name).stat().st_size > 0, name
    assert FITTED, "no fitted parameter in calibration/closure-2017/parameters.csv"


def test_every_fitted_parameter_has_a_sourced_prior_in_the_spec():
    spec = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    assert {r["path"] for r in FITTED} == set(spec["priors"])
    for path, entry in spec["priors"].items():
        assert entry.get("source"), path


@pytest.mark.parametrize("row", FITTED, ids=lambda r: r["path"])
def test_the_history_holds_the_posterior_median(row):
    resolved = load_scenario(ROOT / "scenarios" / "closure-2017.yaml").resolved
    shipped = _number(_at(resolved, row["path"]))
    median = float(row["median"])
    if row["kind"] == "integer":
        assert shipped == round(median), (row["path"], shipped, median)
    else:
        assert shipped == pytest.approx(_three_figures(median), rel=1e-9), (
            row["path"], shipped, median)
    assert float(row["prior_low"]) <= shipped <= float(row["prior_high"])


def test_the_manifest_records_the_fit():
    manifest = json.loads((CAL / "manifest.json").read_text(encoding="utf-8"))
    text = json.dumps(manifest)
    assert "closure-2017" in text
    with open(CAL / "generations.csv", newline="", encoding="utf-8") as f:
        gens = list(csv.DictReader(f))
    assert len(gens) >= 2
