"""`bordersim calibrate`: recovery of known parameters, reproducibility, resume, errors.

The synthetic case: trucks at one crossing with two booths; the true demand is 160 a
day and the true service time 15 min, slowed by half from day 2. Observed ranges are
the 20th-80th percentiles of each figure over 20 replications at the truth. A
calibration from wide priors must put the truth inside its 90% posterior interval.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from bordersim.cli import cli
from bordersim.experiment import simulate
from bordersim.loading import scenario_from_dict
from bordersim.observations import SeriesSet, figures, read_observations

pytest.importorskip("pyabc")

TRUTH = {"demand": 160, "service_h": 0.25}
SERVICE = "crossings.x.stages.0.lanes.0.service.truck.mean"
DEMAND = "crossings.x.demand.truck"
VARY = [f"--vary={SERVICE}=5min..40min", f"--vary={DEMAND}=80..300"]
TIMES = ["2017-10-01T18:00", "2017-10-02T08:00", "2017-10-02T16:00", "2017-10-02T22:00",
         "2017-10-03T06:00"]


def _scenario(demand=TRUTH["demand"], service_h=TRUTH["service_h"]) -> dict:
    return {
        "name": "toy", "start": "2017-10-01", "duration": "3d", "seed": 11,
        "classes": {"truck": {"persons": 1}},
        "crossings": {"x": {"demand": {"truck": demand}, "stages": [{"name": "s", "lanes": [
            {"name": "l", "serves": ["truck"], "booths": 2,
             "service": {"truck": {"dist": "exponential", "mean": service_h}}}]}]}},
        "policy": [{"at": "2017-10-02", "service_factor": {"truck": 1.5}}],
    }


def _write_case(folder: Path, seed: int = 11) -> tuple[Path, Path]:
    import yaml

    data = _scenario()
    data["seed"] = seed
    scn_path = folder / "toy.yaml"
    scn_path.write_text(yaml.safe_dump(data))
    scn = scenario_from_dict(data).scenario
    head = "date,crossing,class,metric,value_low,value_high,source,confidence,note"
    rows = [f"{t},x,truck,waiting_units,0,1,synthetic,R," for t in TIMES]
    rows += ["2017-10-01,x,truck,crossed_per_day,0,1,synthetic,R,",
             "2017-10-02,x,truck,wait_h,0,1,synthetic,R,"]
    draft = folder / "draft.csv"
    draft.write_text("\n".join([head, *rows]) + "\n")
    series = SeriesSet.from_results(scn, [simulate(scn, r, 1000 + seed) for r in range(20)])
    out = [head]
    for o, row in zip(read_observations(draft), rows, strict=True):
        lo, hi = np.percentile(figures(series, o), [20, 80])
        date, c, k, m = row.split(",")[:4]
        out.append(f"{date},{c},{k},{m},{lo:.4g},{hi:.4g},synthetic,R,")
    obs_path = folder / "obs.csv"
    obs_path.write_text("\n".join(out) + "\n")
    return scn_path, obs_path


def _posterior_interval(folder: Path, path: str) -> tuple[float, float]:
    with open(folder / "posterior.csv") as f:
        rows = list(csv.DictReader(f))
    x = np.array([float(r[path]) for r in rows])
    w = np.array([float(r["weight"]) for r in rows])
    order = np.argsort(x)
    cum = np.cumsum(w[order]) / w.sum()
    return float(x[order][np.searchsorted(cum, 0.05)]), float(x[order][np.searchsorted(cum,
                                                                                       0.95)])


def _calibrate(*args, **kw):
    r = CliRunner().invoke(cli, ["calibrate", *map(str, args), "-q"], catch_exceptions=False,
                           **kw)
    return r


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    d = tmp_path_factory.mktemp("cal")
    scn, obs = _write_case(d)
    out = d / "cal"
    r = _calibrate(scn, obs, *VARY, "--population", 60, "--generations", 4, "--predictive",
                   30, "--out", out, "-j", 2)
    assert r.exit_code == 0, r.output
    return scn, obs, out


def test_the_posterior_covers_the_truth(case):
    _, _, out = case
    lo, hi = _posterior_interval(out, SERVICE)
    assert lo <= TRUTH["service_h"] <= hi, (lo, hi)
    lo, hi = _posterior_interval(out, DEMAND)
    assert lo <= TRUTH["demand"] <= hi, (lo, hi)
    # and it learned something: narrower than the prior
    assert hi - lo < 0.8 * (300 - 80)


def test_the_folder_says_what_was_done(case):
    _, obs, out = case
    m = json.loads((out / "manifest.json").read_text())
    assert m["kind"] == "calibration" and m["status"] == "complete"
    assert [p["path"] for p in m["priors"]] == [SERVICE, DEMAND]
    assert m["fitted_rows"] == list(range(2, 9)) and m["not_fitted_rows"] == []
    assert m["simulations"] >= 4 * 60 and m["generations"] == 4
    assert m["stopped"] == "4 generations, the most asked for"
    with open(out / "generations.csv") as f:
        gens = list(csv.DictReader(f))
    assert [g["generation"] for g in gens] == ["0", "1", "2", "3"]
    eps = [float(g["epsilon"]) for g in gens]
    assert eps[0] == float("inf") and eps[1] >= eps[2] >= eps[3]
    with open(out / "predictive.csv") as f:
        pred = list(csv.DictReader(f))
    assert len(pred) == 7 and all(r["fitted"] == "true" for r in pred)
    for r in pred:
        q = [float(r[f"sim_p{p:02d}"]) for p in (5, 25, 50, 75, 95)]
        assert q == sorted(q)


def test_the_same_seed_gives_the_same_posterior_on_one_worker(case, tmp_path):
    scn, obs, out = case
    r = _calibrate(scn, obs, *VARY, "--population", 60, "--generations", 4, "--predictive",
                   30, "--out", tmp_path / "one", "-j", 1)
    assert r.exit_code == 0, r.output
    for name in ("posterior.csv", "generations.csv", "predictive.csv"):
        assert (tmp_path / "one" / name).read_bytes() == (out / name).read_bytes(), name


def test_a_killed_calibration_resumes_to_the_same_folder(case, tmp_path):
    scn, obs, out = case
    args = [sys.executable, "-m", "bordersim", "calibrate", str(scn), str(obs), *VARY,
            "--population", "60", "--generations", "4", "--predictive", "30", "-j", "2",
            "-q", "--out", str(tmp_path / "k")]
    p = subprocess.Popen(args, start_new_session=True)
    deadline = time.monotonic() + 60
    cand = tmp_path / "k" / "candidates.jsonl"
    while time.monotonic() < deadline:   # wait until some generation 1 candidates exist
        if cand.exists() and '"g": 1' in cand.read_text():
            break
        time.sleep(0.05)
    os.killpg(p.pid, signal.SIGKILL)
    p.wait()
    assert not (tmp_path / "k" / "posterior.csv").exists()
    r = subprocess.run([*args, "--resume"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    for name in ("posterior.csv", "generations.csv", "predictive.csv"):
        assert (tmp_path / "k" / name).read_bytes() == (out / name).read_bytes(), name


def test_fit_until_leaves_later_figures_out_of_the_fit(case, tmp_path):
    scn, obs, _ = case
    r = _calibrate(scn, obs, *VARY, "--population", 20, "--generations", 2, "--predictive",
                   10, "--fit-until", "2017-10-01", "--out", tmp_path / "split")
    assert r.exit_code == 0, r.output
    with open(tmp_path / "split" / "predictive.csv") as f:
        fitted = [(r["date"][:10], r["fitted"]) for r in csv.DictReader(f)]
    assert all((d <= "2017-10-01") == (f == "true") for d, f in fitted), fitted
    m = json.loads((tmp_path / "split" / "manifest.json").read_text())
    assert m["fit_until"].startswith("2017-10-01")


@pytest.mark.parametrize("extra,message", [
    (["--vary", f"{SERVICE}=1,2"], "expected a range lo..hi"),
    (["--vary", "crossings.nowhere.demand.truck=1..2"], "crossings"),
    (["--fit-until", "2016-01-01"], "no observation at or before"),
    (["--fit-until", "2017-02-30"], "--fit-until"),
])
def test_bad_calibrations_are_refused_with_exit_2(case, tmp_path, extra, message):
    scn, obs, _ = case
    vary = [] if extra[0] == "--vary" else VARY
    r = _calibrate(scn, obs, *vary, *extra, "--out", tmp_path / "bad")
    assert r.exit_code == 2, r.output
    assert message in r.output and "Traceback" not in r.output
    assert not (tmp_path / "bad").exists()


def test_a_folder_that_is_not_a_calibration_is_never_written(case, tmp_path):
    scn, obs, _ = case
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    r = _calibrate(scn, obs, *VARY, "--out", mine)
    assert r.exit_code == 2 and "not a calibration folder" in r.output
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]


def test_an_existing_calibration_needs_resume_or_force(case, tmp_path):
    scn, obs, out = case
    r = _calibrate(scn, obs, *VARY, "--out", out)
    assert r.exit_code == 2 and "--resume carries it on, --force replaces it" in r.output


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_recovery_over_several_seeds(tmp_path, seed):
    scn, obs = _write_case(tmp_path, seed)
    r = _calibrate(scn, obs, *VARY, "--population", 100, "--generations", 5, "--predictive",
                   20, "--out", tmp_path / "cal")
    assert r.exit_code == 0, r.output
    for path, true in ((SERVICE, TRUTH["service_h"]), (DEMAND, TRUTH["demand"])):
        lo, hi = _posterior_interval(tmp_path / "cal", path)
        assert lo <= true <= hi, (seed, path, lo, hi)


def test_on_a_dask_cluster_the_posterior_is_the_local_one(case, tmp_path):
    """The same calibration on a Dask cluster on loopback writes the same posterior,
    generations and predictions as on local processes."""
    from distributed import LocalCluster

    scn, obs, out = case
    with LocalCluster(n_workers=2, processes=True, threads_per_worker=1, host="127.0.0.1",
                      dashboard_address=None, silence_logs=50) as cluster:
        r = _calibrate(scn, obs, *VARY, "--population", 60, "--generations", 4,
                       "--predictive", 30, "--out", tmp_path / "dask",
                       "--scheduler", cluster.scheduler_address)
    assert r.exit_code == 0, r.output
    for name in ("posterior.csv", "generations.csv", "predictive.csv"):
        assert (tmp_path / "dask" / name).read_bytes() == (out / name).read_bytes(), name
