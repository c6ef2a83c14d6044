"""Runs that carry parameter uncertainty: --posterior CAL_DIR on run, compare and sweep."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from bordersim.calibrate.posterior import PosteriorScenarios, load_posterior
from bordersim.cli import cli
from bordersim.loading import load_scenario

SERVICE = "crossings.x.stages.0.lanes.0.service.truck.mean"
DEMAND = "crossings.x.demand.truck"
OBS = ("date,crossing,class,metric,value_low,value_high,source,confidence,note\n"
       "2017-10-01T18:00,x,truck,waiting_units,0,30,s,R,\n"
       "2017-10-02T18:00,x,truck,waiting_units,0,60,s,R,\n")


def _scenario(name="toy", factor=1.5) -> dict:
    return {
        "name": name, "start": "2017-10-01", "duration": "3d", "seed": 11,
        "replications": 6,
        "classes": {"truck": {"persons": 1}},
        "crossings": {"x": {"demand": {"truck": 160}, "stages": [{"name": "s", "lanes": [
            {"name": "l", "serves": ["truck"], "booths": 2,
             "service": {"truck": {"dist": "exponential", "mean": 0.25}}}]}]}},
        "policy": [{"at": "2017-10-02", "service_factor": {"truck": factor}}],
    }


def _calibration(folder: Path, rows: list[tuple], obs: Path, fitted=(2,)) -> Path:
    """A calibration folder as `bordersim calibrate` writes it (its parts that runs read)."""
    folder.mkdir()
    with open(folder / "posterior.csv", "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["draw", "weight", SERVICE, DEMAND])
        for j, (weight, service, demand) in enumerate(rows):
            w.writerow([j, weight, service, demand])
    (folder / "manifest.json").write_text(json.dumps({
        "kind": "calibration", "status": "complete", "scenario": "toy", "seed": 11,
        "fitted_rows": list(fitted), "fit_until": None, "observations": str(obs),
        "observations_sha256": hashlib.sha256(obs.read_bytes()).hexdigest()}))
    return folder


@pytest.fixture()
def case(tmp_path):
    (tmp_path / "toy.yaml").write_text(yaml.safe_dump(_scenario()))
    (tmp_path / "toy2.yaml").write_text(yaml.safe_dump(_scenario("toy2", 1.2)))
    obs = tmp_path / "obs.csv"
    obs.write_text(OBS)
    rows = [(1.0, 0.20, 140), (2.0, 0.25, 160), (1.0, 0.30, 180), (0.5, 0.22, 150)]
    cal = _calibration(tmp_path / "cal", rows, obs)
    return tmp_path, cal, obs


def _invoke(*args):
    return CliRunner().invoke(cli, [*map(str, args)], catch_exceptions=False)


def _draws(folder: Path) -> list[dict]:
    with open(folder / "posterior_draws.csv") as f:
        return list(csv.DictReader(f))


def test_replication_r_runs_draw_r_whatever_the_number_of_replications(case):
    d, cal, _ = case
    for n in (3, 6):
        r = _invoke("run", d / "toy.yaml", "--posterior", cal, "-n", n, "-q", "--out",
                    d / f"r{n}", "--no-reference")
        assert r.exit_code == 0, r.output
    short, long = _draws(d / "r3"), _draws(d / "r6")
    assert short == long[:3]
    post = load_posterior(cal)
    for row in long:
        j = int(row["draw"])
        assert (float(row[SERVICE]), int(row[DEMAND])) == post.values[j]
    m = json.loads((d / "r6" / "manifest.json").read_text())
    assert m["posterior"]["posterior_sha256"] == post.sha256
    assert not (d / "r6" / "reference_replications.csv").exists()


def test_draws_follow_the_weights():
    """Draw r is picked by weight: over 4,000 replications each of three draws comes up in
    its weight's share, within 4 binomial standard errors."""
    from bordersim.calibrate.posterior import Posterior

    post = Posterior("x", ("a",), ((1,), (2,), (3,)), np.array([0.2, 0.5, 0.3]), {})
    picks = np.bincount([post.draw_index(7, r) for r in range(4000)], minlength=3) / 4000
    se = np.sqrt(np.array([0.2, 0.5, 0.3]) * np.array([0.8, 0.5, 0.7]) / 4000)
    assert (np.abs(picks - [0.2, 0.5, 0.3]) < 4 * se).all()


def test_the_replications_run_their_draws_values(case):
    d, cal, _ = case
    loaded = load_scenario(d / "toy.yaml")
    per = PosteriorScenarios(loaded, load_posterior(cal), 11)
    for r in range(5):
        scn = per.scenario(r)
        j = per.draw(r)
        service, demand = load_posterior(cal).values[j]
        assert scn.crossings["x"].demand["truck"] == demand
        assert scn.crossings["x"].stages[0].lanes[0].service["truck"].mean == service


def test_the_reference_splits_the_spread(case):
    """With a posterior the summary says how much of the spread over replications the
    parameters account for; a posterior whose every draw is the scenario's own values
    accounts for none of it, exactly."""
    d, cal, obs = case
    r = _invoke("run", d / "toy.yaml", "--posterior", cal, "-q", "--out", d / "r")
    assert r.exit_code == 0, r.output
    with open(d / "r" / "summary.csv") as f:
        rows = {(x["crossing"], x["class"], x["metric"]): x for x in csv.DictReader(f)}
    share = float(rows[("x", "truck", "arrivals")]["param_share"])
    assert 0.0 <= share <= 1.0
    assert float(rows[("x", "truck", "arrivals")]["p05"]) <= \
        float(rows[("x", "truck", "arrivals")]["p95"])
    same = _calibration(d / "same", [(1.0, 0.25, 160), (3.0, 0.25, 160)], obs)
    r = _invoke("run", d / "toy.yaml", "--posterior", same, "-q", "--out", d / "s")
    assert r.exit_code == 0, r.output
    with open(d / "s" / "summary.csv") as f:
        for x in csv.DictReader(f):
            if x["metric"] in ("arrivals", "crossed", "wait_mean_h") and x["param_share"]:
                assert float(x["param_share"]) == 0.0, x


def test_compare_pairs_replication_r_of_both_on_the_same_draw(case):
    d, cal, _ = case
    r = _invoke("compare", d / "toy.yaml", d / "toy2.yaml", "--posterior", cal, "-q",
                "--out", d / "c")
    assert r.exit_code == 0, r.output
    assert _draws(d / "c" / "toy") == [
        {**row} for row in _draws(d / "c" / "toy2")]
    with open(d / "c" / "compare.csv") as f:
        rows = list(csv.DictReader(f))
    assert all(x["paired"] == "true" for x in rows)
    arrivals = next(x for x in rows if x["metric"] == "arrivals" and x["class"] == "truck")
    # same draws, same seeds, a policy change after the arrivals are drawn: none differ
    assert (arrivals["diff_mean"], arrivals["diff_p05"], arrivals["diff_p95"]) == ("0",) * 3


def test_check_says_which_figures_the_calibration_fitted(case):
    d, cal, obs = case
    assert _invoke("run", d / "toy.yaml", "--posterior", cal, "-q", "--out", d / "r",
                   "--no-reference").exit_code == 0
    r = _invoke("check", d / "r", obs)
    assert r.exit_code == 0, r.output
    assert "fitted figures inside" in r.output and "not fitted (out of sample)" in r.output
    with open(d / "r" / "check.csv") as f:
        fitted = [x["fitted"] for x in csv.DictReader(f)]
    assert fitted == ["true", "false"]


def test_a_sweep_point_value_wins_over_the_draw(case):
    d, cal, _ = case
    r = _invoke("sweep", d / "toy.yaml", "--vary", f"{DEMAND}=100,200", "--posterior", cal,
                "-n", 3, "-q", "--out", d / "sw", "--metrics", "arrivals")
    assert r.exit_code == 0, r.output
    m = json.loads((d / "sw" / "manifest.json").read_text())
    assert m["posterior"]["posterior_sha256"] == load_posterior(cal).sha256
    with open(d / "sw" / "summary.csv") as f:
        rows = [x for x in csv.DictReader(f) if (x["crossing"], x["class"]) == ("x", "truck")]
    means = [float(x["mean"]) for x in rows]
    assert means[0] < 0.7 * means[1]      # 100 a day against 200, whatever the draw


@pytest.mark.parametrize("what,message", [
    ("missing", "calibration folder not found"),
    ("unfinished", "has not finished"),
    ("other-path", "crossings.y"),
])
def test_a_posterior_that_cannot_be_used_is_refused(case, what, message):
    d, cal, obs = case
    if what == "missing":
        folder = d / "nowhere"
    elif what == "unfinished":
        folder = _calibration(d / "u", [(1.0, 0.25, 160)], obs)
        m = json.loads((folder / "manifest.json").read_text())
        (folder / "manifest.json").write_text(json.dumps({**m, "status": "running"}))
    else:
        folder = _calibration(d / "o", [(1.0, 0.25, 160)], obs)
        text = (folder / "posterior.csv").read_text().replace(DEMAND, "crossings.y.demand.truck")
        (folder / "posterior.csv").write_text(text)
    r = _invoke("run", d / "toy.yaml", "--posterior", folder, "--out", d / "bad")
    assert r.exit_code == 2, r.output
    assert message in r.output and "Traceback" not in r.output
    assert not (d / "bad").exists()


def test_the_report_of_a_posterior_run_says_how_sure_the_parameters_let_us_be(case):
    d, cal, _ = case
    scn = _scenario()
    scn["economics"] = {"value_of_time_per_person_hour": 2.0}
    (d / "toy.yaml").write_text(yaml.safe_dump(scn))
    assert _invoke("run", d / "toy.yaml", "--posterior", cal, "-q", "--out",
                   d / "r").exit_code == 0
    r = _invoke("report", d / "r")
    assert r.exit_code == 0, r.output
    page = (d / "r" / "report.html").read_text()
    assert "90% of them lie between" in page and "the parameters account for" in page
