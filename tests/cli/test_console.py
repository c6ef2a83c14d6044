"""What the commands print for people: run's table, sweep's table, progress outside a terminal.

The numbers printed are the numbers in the files; no scientific notation, no
negative interval ends for quantities that cannot be negative.
"""

from __future__ import annotations

import csv
import io
import re
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from bordersim.cli import cli
from bordersim.console import Progress, sweep_table
from bordersim.loading import ScenarioError
from bordersim.numbers import num, with_interval
from bordersim.sweep import parse_vary, plan_sweep

SCENARIO = {
    "name": "console",
    "start": "2017-10-01",
    "duration": "2d",
    "warmup": "4h",
    "replications": 3,
    "seed": 5,
    "classes": {"car": {"persons": 2, "length_m": 7},
                "truck_loaded": {"persons": 1, "length_m": 20, "cargo_value": 30000}},
    "crossings": {"gate": {"demand": {"car": 150, "truck_loaded": 60}, "stages": [
        {"name": "entry", "lanes": [
            {"name": "cars", "serves": ["car"], "booths": 1,
             "service": {"car": {"dist": "exponential", "mean": "9min"}}},
            {"name": "freight", "serves": ["truck_loaded"], "booths": 1,
             "service": {"truck_loaded": {"dist": "gamma", "mean": "20min", "cv": 0.5}}}]}]}},
    "behaviour": {"balk": {"car": {"queue_over": 5}},
                  "patience": {"truck_loaded": {"dist": "exponential", "mean": "3h"}}},
    "economics": {"currency": "EUR", "value_of_time_per_person_hour": 2.0,
                  "vehicle_cost_per_hour": {"truck_loaded": 8.0}},
}


def rows_of(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def scenario(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("console")
    (d / "s.yaml").write_text(yaml.safe_dump(SCENARIO))
    return d / "s.yaml"


def test_run_table_has_balked_median_and_units_and_matches_summary_csv(scenario, tmp_path):
    res = invoke("run", scenario, "--workers", "1", "--out", tmp_path / "out")
    assert res.exit_code == 0, res.output
    header = next(x for x in res.stdout.splitlines() if x.startswith("crossing"))
    for col in ("gave up", "turned back", "wait h: mean (95% CI)", "median h", "p95 h",
                "queue (units)", "max (units)", "cost EUR"):
        assert col in header
    rows = {(r["crossing"], r["class"], r["metric"]): r
            for r in rows_of(tmp_path / "out" / "summary.csv")}
    line = next(x for x in res.stdout.splitlines() if x.startswith("gate") and " car " in x)
    balked = float(rows[("gate", "car", "balked")]["mean"])
    assert balked > 0                       # the case the column is for
    w = rows[("gate", "car", "wait_mean_h")]
    assert with_interval(float(w["mean"]), float(w["ci_low"]), float(w["ci_high"])) in line
    assert num(float(rows[("gate", "car", "wait_p50_h")]["mean"])) in line
    assert not re.search(r"\de[+-]\d", res.stdout)
    # outside a terminal, progress is a line with the counts, not only a label
    assert "console: 3/3 replications (100%)" in res.stderr


def test_progress_outside_a_terminal_prints_counts_on_a_timer():
    out = io.StringIO()
    p = Progress(4, "demo", unit="replications", every_s=0.02, stream=out, tty=False)
    p.start()
    p(1)
    deadline = time.monotonic() + 5
    while out.getvalue().count("1/4") < 2 and time.monotonic() < deadline:
        time.sleep(0.02)          # the timer prints again although nothing else finished
    p(3)
    p.close()
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("demo: 0/4 replications (0%)")
    assert sum("1/4 replications (25%)" in x for x in lines) >= 2
    assert any("about" in x and "left" in x for x in lines if "1/4" in x)
    assert lines[-1].startswith("demo: 4/4 replications (100%)")
    n = len(lines)
    time.sleep(0.1)
    assert len(out.getvalue().splitlines()) == n          # closed: the timer has stopped


def test_progress_disabled_prints_nothing():
    out = io.StringIO()
    p = Progress(2, "demo", enabled=False, every_s=0.01, stream=out, tty=False)
    p.start()
    p(2)
    p.close()
    assert out.getvalue() == ""


def test_sweep_table_has_no_scientific_notation_and_rounds_drawn_values():
    rows = [{"point": "0", "a.b": "0.123456789012", "crossing": "all", "class": "all",
             "metric": "cost_total", "mean": "38630000.5", "ci_low": "0",
             "ci_high": "55440000.1"},
            {"point": "0", "a.b": "0.123456789012", "crossing": "all", "class": "all",
             "metric": "wait_mean_h", "mean": "0.0000123", "ci_low": "0.00001",
             "ci_high": "0.0000146"}]
    text = sweep_table(rows, ["a.b"], ["wait_mean_h", "cost_total"], "USD")
    assert "e+" not in text and "e-" not in text
    assert "0.1235" in text and "0.123456789" not in text
    assert "p1 = a.b" in text
    assert "38.6 million (0.0–55.4 million)" in text
    header = next(x for x in text.splitlines() if x.startswith("point"))
    assert header.index("total cost (USD)") < header.index("mean wait (h)")


def test_lhs_refuses_a_design_of_lists_that_repeats_points(scenario):
    booths = parse_vary("crossings.gate.stages.0.lanes.0.booths=1:3:1")
    with pytest.raises(ScenarioError) as e:
        plan_sweep(scenario, [booths], design="lhs", points=6)
    msg = e.value.message()
    assert "only 3 of the 6 points are distinct" in msg and "--design grid" in msg
    # a range beside the list spreads the points apart: accepted
    demand = parse_vary("crossings.gate.demand.car=100.0..200.0")
    plan = plan_sweep(scenario, [booths, demand], design="lhs", points=6)
    assert len(set(plan.points)) == 6
    res = invoke("sweep", scenario, "--vary", "crossings.gate.stages.0.lanes.0.booths=1,2",
                 "--design", "lhs", "--points", "5", "-q", "--out", scenario.parent / "never")
    assert res.exit_code == 2 and "distinct" in res.output
    assert not (scenario.parent / "never").exists()


def test_check_never_gives_a_count_a_negative_interval_end(scenario, tmp_path):
    """Queues of a few units in 3 replications: raw t-intervals reach below zero; check cuts
    them at zero, in check.csv and on the console."""
    import numpy as np

    from bordersim.check import load_series
    from bordersim.stats import t_interval

    res = invoke("run", scenario, "--workers", "1", "-q", "--out", tmp_path / "out")
    assert res.exit_code == 0, res.output
    times = [f"2017-10-0{1 + h // 24}T{h % 24:02d}:00" for h in range(5, 47, 2)]
    lines = ["date,crossing,class,metric,value_low,value_high,source,confidence,note"]
    lines += [f"{t},gate,truck_loaded,waiting_units,0,50,test,R," for t in times]
    (tmp_path / "obs.csv").write_text("\n".join(lines) + "\n")
    res = invoke("check", tmp_path / "out", tmp_path / "obs.csv")
    assert res.exit_code == 0, res.output
    assert not re.search(r"\(-\d", res.output)
    rows = rows_of(tmp_path / "out" / "check.csv")
    assert all(float(r["sim_ci_low"]) >= 0 for r in rows if r["sim_ci_low"])
    series = load_series(tmp_path / "out")
    j = list(zip(series.crossings, series.classes, strict=True)).index(("gate", "truck_loaded"))
    queue = series.arrays["queue"].astype(float)
    raw = [t_interval(queue[:, j, h]).ci_low for h in range(5, 47, 2)]
    assert min(raw) < 0 and np.isfinite(raw).all()      # the case the cut is for did occur


def test_a_share_is_never_shown_as_all_or_nothing_when_it_is_not():
    from bordersim.numbers import share

    assert share(0.999, 1.0) == ">99%"
    assert share(0.004, 1.0) == "<1%"
    assert share(1.0, 1.0) == "100%"
    assert share(0.0, 1.0) == "0%"
    assert share(0.5, 1.0) == "50%"
    assert share(1.0, 0.0) == ""


def test_an_electronic_queue_gets_its_own_table_matching_summary_csv(tmp_path):
    data = {**SCENARIO, "policy": [{"at": "6h", "appointment": {
        "truck_loaded": {"slots_per_day": 60, "notice": "1h"}}}]}
    f = tmp_path / "booked.yaml"
    f.write_text(yaml.safe_dump(data))
    res = invoke("run", f, "--workers", "1", "--out", tmp_path / "out")
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    header = next(x for x in lines if x.startswith("crossing") and "booked" in x)
    for col in ("refused", "no-shows", "booked to site h: mean (95% CI)",
                "off the road (units)", "total wait h"):
        assert col in header
    rows = {(r["crossing"], r["class"], r["metric"]): r
            for r in rows_of(tmp_path / "out" / "summary.csv")}
    line = lines[lines.index(header) + 2]
    assert line.startswith("gate") and "truck_loaded" in line
    lead = rows[("gate", "truck_loaded", "booking_lead_mean_h")]
    assert with_interval(float(lead["mean"]), float(lead["ci_low"]),
                         float(lead["ci_high"])) in line
    assert num(float(rows[("gate", "truck_loaded", "waiting_area_mean")]["mean"])) in line
    # and a run without bookings has no such table
    plain = invoke("run", tmp_path / "booked.yaml", "--set", "policy=[]", "--workers", "1",
                   "--out", tmp_path / "plain")
    assert plain.exit_code == 0, plain.output
    assert "booked to site" not in plain.stdout
