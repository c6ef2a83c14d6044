"""bordersim sweep: designs, common random numbers, determinism, resume, PRCC, bad input.

SPEC "Results folder" (sweep folder) and issue 6: every point uses the same
seeds per replication index; the finished folder is byte-identical whatever the
number of workers and however often the sweep was interrupted and resumed; a
bad --vary gives one message naming the file, the field path and the point's
value, with exit status 2, and writes nothing.
"""

from __future__ import annotations

import copy
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
import yaml
from click.testing import CliRunner
from scipy import stats as sps

from bordersim.cli import cli
from bordersim.experiment import simulate
from bordersim.loading import ScenarioError, scenario_from_dict
from bordersim.sensitivity import prcc
from bordersim.sweep import design_points, parse_metrics, parse_vary, plan_sweep
from bordersim.sweep_folder import partial_folder, read_runs

# One crossing, two classes, three days: a run takes a few hundredths of a second.
TINY = {
    "name": "tiny-sweep",
    "start": "2017-10-01",
    "duration": "3d",
    "warmup": "6h",
    "replications": 2,
    "seed": 11,
    "classes": {
        "car": {"persons": 2, "length_m": 7},
        "truck_loaded": {"persons": 1, "length_m": 20, "cargo_value": 30000,
                         "perishable_share": 0.2},
    },
    "crossings": {
        "ak-tilek": {
            "demand": {"car": 120, "truck_loaded": 150},
            "stages": [{"name": "kz-entry", "lanes": [
                {"name": "cars", "serves": ["car"], "booths": 1,
                 "service": {"car": {"dist": "exponential", "mean": "8min"}}},
                {"name": "freight", "serves": ["truck_loaded"], "booths": 2,
                 "service": {"truck_loaded": {"dist": "gamma", "mean": "15min", "cv": 0.5}}},
            ]}],
        },
    },
    "policy": [{"at": "2017-10-02", "label": "quota", "quota_per_day": {"truck_loaded": 200}}],
    "economics": {"value_of_time_per_person_hour": 1.3,
                  "vehicle_cost_per_hour": {"truck_loaded": 7.0}},
}
BOOTHS = "crossings.ak-tilek.stages.0.lanes.1.booths"
QUOTA = "policy.0.quota_per_day.truck_loaded"
GRID = ["--vary", f"{BOOTHS}=2,3", "--vary", f"{QUOTA}=60:140:40"]
METRICS = ["--metrics", "arrivals,wait_mean_h,queue_max,cost_total"]


def write_scenario(folder: Path, data: dict = TINY, name: str = "tiny.yaml") -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def sweep(*args, expect: int = 0):
    result = CliRunner().invoke(cli, ["sweep", *map(str, args)], catch_exceptions=False)
    assert result.exit_code == expect, result.output
    return result


def files(folder: Path) -> dict[str, bytes]:
    return {n: (folder / n).read_bytes() for n in ("runs.csv", "summary.csv", "sensitivity.csv",
                                                    "scenario.resolved.yaml")
            if (folder / n).exists()}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return write_scenario(tmp_path_factory.mktemp("scenario"))


@pytest.fixture(scope="module")
def grid_two_workers(tiny, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("grid") / "sweep"
    sweep(tiny, *GRID, *METRICS, "-n", 3, "-j", 2, "-q", "--out", out)
    return out


# --- designs -----------------------------------------------------------------------------

@pytest.mark.parametrize("text, values", [
    ("a.b=1,2,3", (1, 2, 3)),
    ("a.b=1:7:3", (1, 4, 7)),
    ("a.b=0.1:0.3:0.1", (0.1, 0.2, 0.3)),
    ("a.b=2h:6h:2h", (2.0, 4.0, 6.0)),
    ("a.b=15min,1h", ("15min", "1h")),
    ("policy.1.at=2017-10-15:2017-10-19:2d", ("2017-10-15", "2017-10-17", "2017-10-19")),
    ("policy.1.at=2017-10-15,2017-10-19T12:00", ("2017-10-15", "2017-10-19T12:00")),
    ("policy.1.at=2017-10-19T18:00", ("2017-10-19T18:00",)),
    ("a[0].b=yes,off", (True, False)),
    ("a.b=5", (5,)),
])
def test_vary_lists_and_grid_ranges(text, values):
    f = parse_vary(text)
    assert f.values == values and not f.is_range
    assert "[" not in f.path


def test_vary_latin_hypercube_ranges():
    f = parse_vary("crossings.x.demand.car=100..200")
    assert f.is_range and (f.low, f.high) == (100, 200)
    g = parse_vary("policy.0.at=2017-10-10..2017-10-20")
    assert g.is_range and g.low.day == 10 and g.high.day == 20


def test_grid_is_the_full_factorial_last_factor_fastest():
    a, b = parse_vary("a=1,2,3"), parse_vary("b=x,y")
    points = design_points([a, b], "grid", None, 0)
    assert points == [(1, "x"), (1, "y"), (2, "x"), (2, "y"), (3, "x"), (3, "y")]


def test_latin_hypercube_hits_every_stratum_once_and_repeats_with_the_seed():
    a, b, c = parse_vary("a=0.0..1.0"), parse_vary("b=10.0..20.0"), parse_vary("c=7")
    points = design_points([a, b, c], "lhs", 25, seed=3)
    assert len(points) == 25 and {p[2] for p in points} == {7}
    for j, (lo, hi) in enumerate([(0.0, 1.0), (10.0, 20.0)]):
        strata = sorted(int((p[j] - lo) / (hi - lo) * 25) for p in points)
        assert strata == list(range(25))
    assert design_points([a, b, c], "lhs", 25, seed=3) == points
    assert design_points([a, b, c], "lhs", 25, seed=4) != points


def test_latin_hypercube_of_whole_numbers_gives_whole_numbers_in_range():
    points = design_points([parse_vary("booths=2..5")], "lhs", 40, seed=1)
    assert {p[0] for p in points} == {2, 3, 4, 5}
    assert all(isinstance(p[0], int) for p in points)


def test_plan_counts_and_every_point_scenario(tiny):
    plan = plan_sweep(tiny, [parse_vary(f"{BOOTHS}=2,3"), parse_vary(f"{QUOTA}=60:140:40")])
    assert len(plan.points) == 6 and plan.design == "grid"
    assert [s.crossings["ak-tilek"].stages[0].lanes[1].booths for s in plan.scenarios] == \
        [2, 2, 2, 3, 3, 3]
    assert [s.policy[0].quota_per_day["truck_loaded"] for s in plan.scenarios] == \
        [60, 100, 140] * 2
    lhs = plan_sweep(tiny, [parse_vary(f"{BOOTHS}=1..4"),
                            parse_vary("economics.value_of_time_per_person_hour=0.5..3.0")],
                     points=12)
    assert lhs.design == "lhs" and len(lhs.points) == 12


def test_metrics_are_kept_in_canonical_order():
    assert parse_metrics(["queue_max,arrivals"]) == ("arrivals", "queue_max")
    with pytest.raises(ScenarioError, match="did you mean 'wait_mean_h'"):
        parse_metrics(["wait_men"])


# --- the sweep folder ------------------------------------------------------------------

def test_folder_holds_what_the_spec_says(grid_two_workers):
    out = grid_two_workers
    assert {p.name for p in out.iterdir()} == {"manifest.json", "scenario.resolved.yaml",
                                               "runs.csv", "summary.csv", "runs-index.csv",
                                               ".bordersim-folder"}
    runs = list(csv.DictReader(open(out / "runs.csv")))
    assert list(runs[0]) == ["point", BOOTHS, QUOTA, "replication", "crossing", "class",
                             "metric", "value"]
    assert {(r["point"], r["replication"]) for r in runs} == \
        {(str(p), str(r)) for p in range(6) for r in range(3)}
    assert {r["metric"] for r in runs} == {"arrivals", "wait_mean_h", "queue_max", "cost_total"}
    summary = list(csv.DictReader(open(out / "summary.csv")))
    assert list(summary[0]) == ["point", BOOTHS, QUOTA, "crossing", "class", "metric", "mean",
                                "ci_low", "ci_high", "std", "n"]
    row = next(r for r in summary if r["point"] == "4" and r["crossing"] == "all"
               and r["class"] == "all" and r["metric"] == "queue_max")
    vals = [float(r["value"]) for r in runs if r["point"] == "4" and r["crossing"] == "all"
            and r["class"] == "all" and r["metric"] == "queue_max"]
    assert float(row["mean"]) == pytest.approx(np.mean(vals)) and row["n"] == "3"
    assert (row[BOOTHS], row[QUOTA]) == ("3", "100")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["n_runs"] == 18
    assert manifest["points"][4] == [3, 100] and manifest["design"] == "grid"


def test_common_random_numbers_a_point_equal_to_the_base_is_the_base_run(grid_two_workers,
                                                                         tiny):
    base = scenario_from_dict(copy.deepcopy(TINY)).scenario   # booths 2, quota 200
    runs = list(csv.DictReader(open(grid_two_workers / "runs.csv")))
    # point 0 is booths 2, quota 60: make the base the same
    data = copy.deepcopy(TINY)
    data["policy"][0]["quota_per_day"]["truck_loaded"] = 60
    same = scenario_from_dict(data).scenario
    for r in range(3):
        expect = simulate(same, r, base.seed).metrics
        got = {(x["crossing"], x["class"], x["metric"]): x["value"] for x in runs
               if x["point"] == "0" and x["replication"] == str(r)}
        for (c, k, m), v in got.items():
            e = expect[(c, k)][m]
            assert (v == "" and np.isnan(e)) or float(v) == e, (c, k, m)
    # the same units arrive at every point: arrivals per replication do not depend on it
    for r in range(3):
        arrivals = {x["value"] for x in runs if x["replication"] == str(r)
                    and x["metric"] == "arrivals" and x["crossing"] == "all"
                    and x["class"] == "all"}
        assert len(arrivals) == 1


def test_identical_for_one_and_two_workers(grid_two_workers, tiny, tmp_path):
    out = tmp_path / "one"
    sweep(tiny, *GRID, *METRICS, "-n", 3, "-j", 1, "-q", "--out", out)
    assert files(out) == files(grid_two_workers)


def test_resume_after_a_torn_write_equals_an_uninterrupted_sweep(grid_two_workers, tiny,
                                                                 tmp_path):
    out = tmp_path / "torn"
    full = (grid_two_workers / "runs.csv").read_bytes()
    (out).mkdir()
    for name in ("manifest.json", "scenario.resolved.yaml"):
        (out / name).write_bytes((grid_two_workers / name).read_bytes())
    cut = full.index(b"\n2,2,140,1,") + 300      # point 2, replication 1: mid-run, mid-line
    assert full[cut - 1:cut] != b"\n"
    (out / "runs.csv").write_bytes(full[:cut])
    kept = read_runs(out / "runs.csv", "cost_total")
    assert len(kept.blocks) == 7 and kept.torn == 1
    result = sweep(tiny, *GRID, *METRICS, "-n", 3, "-j", 2, "--resume", "--out", out)
    assert f"{len(kept.blocks)} were already done" in result.output
    assert files(out) == files(grid_two_workers)
    assert json.loads((out / "manifest.json").read_text())["resumes"] == 1


def test_killed_sweep_resumed_equals_an_uninterrupted_one(tiny, tmp_path):
    """SIGKILL a sweep in a subprocess once some runs are in runs.csv; --resume finishes it."""
    slow = copy.deepcopy(TINY)
    slow["duration"] = "8d"
    slow["crossings"]["ak-tilek"]["demand"] = {"car": 400, "truck_loaded": 400}
    scenario = write_scenario(tmp_path, slow, "slow.yaml")
    args = ["sweep", str(scenario), "--vary", f"{BOOTHS}=4,5", "--vary", f"{QUOTA}=300,400",
            "-n", "3", "-j", "1", "-q", "--metrics", "wait_mean_h,queue_max"]
    killed = tmp_path / "killed"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "bordersim", *args, "--out", str(killed)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    runs = killed / "runs.csv"
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if runs.exists() and runs.read_text().count("\n") > 1:
                break
            time.sleep(0.02)
        assert proc.poll() is None, "the sweep finished before it could be killed"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    before = read_runs(runs, "queue_max")
    assert 0 < len(before.blocks) < 12, "kill it midway"
    assert json.loads((killed / "manifest.json").read_text())["status"] == "running"
    assert not (killed / "summary.csv").exists()
    sweep(*args[1:], "--resume", "--out", killed)
    whole = tmp_path / "whole"
    sweep(*args[1:], "--out", whole)
    assert files(killed) == files(whole)


def test_an_existing_folder_is_not_overwritten_unless_forced(grid_two_workers, tiny, tmp_path):
    out = tmp_path / "kept"
    sweep(tiny, "--vary", f"{BOOTHS}=2,3", *METRICS, "-q", "--out", out)
    before = files(out)
    result = sweep(tiny, "--vary", f"{BOOTHS}=3,4", *METRICS, "-q", "--out", out, expect=2)
    assert "--resume" in result.output and "--force" in result.output
    assert files(out) == before
    # resuming another design is refused and changes nothing
    result = sweep(tiny, "--vary", f"{BOOTHS}=3,4", *METRICS, "-q", "--resume", "--out", out,
                   expect=2)
    assert "points: point 0 is [2] in the folder, [3] here" in result.output
    assert files(out) == before
    sweep(tiny, "--vary", f"{BOOTHS}=3,4", *METRICS, "-q", "--force", "--out", out)
    assert files(out) != before
    assert not partial_folder(out).exists()
    assert json.loads((out / "manifest.json").read_text())["points"] == [[3], [4]]


def test_resume_of_a_finished_sweep_runs_nothing(grid_two_workers, tiny):
    before = files(grid_two_workers)
    result = sweep(tiny, *GRID, *METRICS, "-n", 3, "--resume", "--json", "--out",
                   grid_two_workers)
    assert json.loads(result.output)["ran"] == 0
    assert files(grid_two_workers) == before


def test_spec_file_gives_the_same_sweep(grid_two_workers, tiny, tmp_path):
    spec = tmp_path / "sweep.yaml"
    rel = os.path.relpath(tiny, tmp_path)
    spec.write_text(yaml.safe_dump({
        "scenario": rel, "vary": {BOOTHS: [2, 3], QUOTA: "60:140:40"}, "design": "grid",
        "replications": 3, "metrics": ["arrivals", "wait_mean_h", "queue_max", "cost_total"],
    }))
    out = tmp_path / "from-spec"
    sweep("--spec", spec, "-q", "--out", out)
    assert files(out) == files(grid_two_workers)
    spec.write_text(yaml.safe_dump({"scenario": rel, "vary": {BOOTHS: [2]}, "desing": "grid"}))
    result = sweep("--spec", spec, "-q", "--out", tmp_path / "never", expect=2)
    assert "did you mean 'design'" in result.output
    assert not (tmp_path / "never").exists()


# --- sensitivity ----------------------------------------------------------------------

def test_prcc_finds_known_monotone_effects():
    rng = np.random.default_rng(5)
    x = rng.uniform(size=(300, 3))
    y = np.exp(2 * x[:, 0]) - 6 * x[:, 1] ** 3 + 0.05 * rng.normal(size=300)   # x2: no effect
    (r0, p0), (r1, p1), (r2, p2) = prcc(x, y)
    assert r0 > 0.85 and p0 < 1e-10
    assert r1 < -0.85 and p1 < 1e-10
    assert abs(r2) < 0.2 and p2 > 0.01
    # a monotone transform of the output changes nothing: only ranks count
    again = [v for pair in prcc(x, np.exp(y)) for v in pair]
    assert again == pytest.approx([r0, p0, r1, p1, r2, p2])


def test_prcc_of_one_parameter_is_spearmans_rho_with_its_p_value():
    rng = np.random.default_rng(6)
    x = rng.uniform(size=40)
    y = x + rng.normal(scale=0.5, size=40)
    (r, p), = prcc(x[:, None], y)
    rho, p_s = sps.spearmanr(x, y)
    assert r == pytest.approx(rho) and p == pytest.approx(p_s)


def test_lhs_sweep_writes_sensitivity_and_its_report(tiny, tmp_path):
    out = tmp_path / "lhs"
    sweep(tiny, "--vary", f"{BOOTHS}=1..4", "--vary", "economics.value_of_time_per_person_hour"
          "=0.5..3.0", "--vary", f"{QUOTA}=60..200", "--points", 12, "-n", 2,
          "--metrics", "wait_mean_h,cost_total", "-q", "--out", out)
    rows = list(csv.DictReader(open(out / "sensitivity.csv")))
    assert list(rows[0]) == ["crossing", "class", "metric", "parameter", "prcc", "p_value"]
    booths = next(r for r in rows if (r["crossing"], r["class"], r["metric"], r["parameter"])
                  == ("ak-tilek", "truck_loaded", "wait_mean_h", BOOTHS))
    assert float(booths["prcc"]) < -0.5        # more booths, shorter waits
    from bordersim.report import write_sweep_report

    page = write_sweep_report(out, metrics=["wait_mean_h"], keys=[("ak-tilek", "truck_loaded")])
    assert page == out / "report.html" and "PRCC" in page.read_text()
    names = {p.name for p in (out / "figures").glob("*.png")}
    assert names == {"sweep-tornado-wait_mean_h.png",
                     *(f"sweep-response-wait_mean_h-{p.replace('.', '-')}.png"
                       for p in (BOOTHS, QUOTA, "economics.value_of_time_per_person_hour"))}


def test_grid_report_draws_response_curves(grid_two_workers):
    from bordersim.report import write_sweep_report

    page = write_sweep_report(grid_two_workers, keys=[("all", "all")])
    text = page.read_text()
    assert "<img" in text and "tornado" not in text
    figs = sorted((grid_two_workers / "figures").glob("sweep-response-*.png"))
    assert len(figs) == 3 * 2     # the headline metrics kept (wait, queue, cost) x 2 parameters
    assert all(f.stat().st_size > 5000 for f in figs)


# --- bad input --------------------------------------------------------------------------

@pytest.mark.parametrize("args, words", [
    (["--vary", f"{BOOTHS}=2,0"], ["tiny.yaml", "point 1", f"{BOOTHS}=0",
                                   "lanes[1].booths", "at least 1"]),
    (["--vary", "crossings.ak-tilek.stages.0.lanez.0.booths=1,2"],
     ["tiny.yaml", "point 0", "did you mean 'lanes'"]),
    (["--vary", "crossings.ak-tilek.stages.4.lanes.0.booths=1,2"],
     ["tiny.yaml", "stages", "index from 0 to 0"]),
    (["--vary", f"{QUOTA}=1:5"], ["--vary", "lo:hi:step"]),
    (["--vary", f"{QUOTA}=5:1:1"], ["--vary", "before it starts"]),
    (["--vary", f"{QUOTA}=1..5", "--design", "grid"], ["--design lhs"]),
    (["--vary", f"{QUOTA}=1,2", "--points", "5"], ["--points", "lhs"]),
    (["--vary", "seed=1,2"], ["cannot be varied", "--seed"]),
    (["--vary", f"{QUOTA}=1,,2"], ["empty value"]),
    (["--vary", f"{QUOTA}=1,2", "--vary", f"{QUOTA}=3"], ["varied twice"]),
    (["--vary", f"{QUOTA}=1,2", "--metrics", "waits"], ["unknown metric 'waits'"]),
    (["--vary", "policy.0.at=2017-09-01,2017-10-02"], ["point 0", "policy[0].at",
                                                       "at or after the scenario start"]),
    ([], ["at least one PATH=SPEC"]),
])
def test_bad_vary_exits_2_with_one_message_and_writes_nothing(tiny, tmp_path, args, words):
    out = tmp_path / "never"
    result = sweep(tiny, *args, "-q", "--out", out, expect=2)
    assert "Traceback" not in result.output
    assert result.output.startswith("error: ")
    for w in words:
        assert w in result.output, result.output
    assert not out.exists() and not partial_folder(out).exists()


def test_sweep_without_scenario_or_unreachable_scheduler(tiny, tmp_path):
    assert "SCENARIO" in sweep("--vary", "a=1", expect=2).output
    result = sweep(tiny, "--vary", f"{BOOTHS}=2", "--scheduler", "tcp://127.0.0.1:9",
                   "--out", tmp_path / "never", expect=2)
    assert "Dask scheduler" in result.output
    assert not (tmp_path / "never").exists()
