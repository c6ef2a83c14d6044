"""``bordersim compare``: paired differences with common random numbers (SPEC "compare").

The pairing is the point: replication r of each scenario sees the same units,
so a scenario compared with itself differs by exactly zero, and a change that
leaves a busy lane busy is measured far more precisely than by two
independent samples.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from bordersim.cli import cli
from bordersim.compare import COLUMNS, read_run
from bordersim.stats import paired_interval, welch_interval

# A freight lane of 10 booths, 2 trucks an hour each, facing 24 an hour: over capacity
# with 10 booths and still with 11, so the queue is long in both and the difference
# between them is driven by the same arrivals and service requirements. Cars beside it.
BUSY = {
    "name": "busy",
    "start": "2017-10-01",
    "duration": "6d",
    "warmup": "1d",
    "replications": 6,
    "seed": 5,
    "classes": {"truck_loaded": {"persons": 1, "length_m": 20, "cargo_value": 30000},
                "car": {"persons": 2, "length_m": 7}},
    "crossings": {"ak-tilek": {
        "demand": {"truck_loaded": 576, "car": 100},
        "stages": [{"name": "kz-entry", "lanes": [
            {"name": "freight", "serves": ["truck_loaded"], "booths": 10,
             "service": {"truck_loaded": {"dist": "exponential", "mean": "30min"}}},
            {"name": "cars", "serves": ["car"], "booths": 1,
             "service": {"car": {"dist": "exponential", "mean": "5min"}}}]}]}},
    "economics": {"value_of_time_per_person_hour": 1.3},
}
BOOTHS = "crossings.ak-tilek.stages.0.lanes.0.booths"


def invoke(*args: str):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def read_compare(folder: Path) -> list[dict]:
    with open(folder / "compare.csv", newline="") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames) == COLUMNS
        return list(reader)


@pytest.fixture(scope="module")
def scenarios(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("scenarios")
    (d / "busy.yaml").write_text(yaml.safe_dump(BUSY))
    (d / "busy-plus.yaml").write_text(yaml.safe_dump({
        "extends": "busy.yaml", "name": "busy-plus",
        "crossings": {"ak-tilek": {"stages": [{
            "name": "kz-entry", "lanes": [{**BUSY["crossings"]["ak-tilek"]["stages"][0]
                                           ["lanes"][0], "booths": 11},
                                          BUSY["crossings"]["ak-tilek"]["stages"][0]
                                          ["lanes"][1]]}]}}}))
    other = yaml.safe_load(yaml.safe_dump(BUSY))
    other["name"] = "elsewhere"
    other["crossings"] = {"chon-kapka": other["crossings"].pop("ak-tilek")}
    (d / "elsewhere.yaml").write_text(yaml.safe_dump(other))
    return d


@pytest.fixture(scope="module")
def booth_compare(scenarios, tmp_path_factory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("cmp") / "booth"
    res = invoke("compare", scenarios / "busy.yaml", scenarios / "busy-plus.yaml",
                 "--workers", "1", "--out", out)
    assert res.exit_code == 0, res.output
    return out, res.output


def test_a_scenario_compared_with_itself_differs_by_exactly_zero(scenarios, tmp_path):
    out = tmp_path / "self"
    res = invoke("compare", scenarios / "busy.yaml", scenarios / "busy.yaml",
                 "-n", "2", "--workers", "1", "--out", out, "--quiet")
    assert res.exit_code == 0, res.output
    rows = read_compare(out)
    assert rows and {r["scenario"] for r in rows} == {"busy-2"}
    assert {r["metric"] for r in rows} >= {"wait_mean_h", "queue_mean", "cost_total"}
    for r in rows:
        assert r["paired"] == "true"
        assert r["base_mean"] == r["mean"], r
        if r["base_mean"] == "":      # undefined in both (a mean over no held trip)
            assert (r["diff_mean"], r["diff_ci_low"], r["diff_ci_high"]) == ("", "", ""), r
            continue
        assert (r["diff_mean"], r["diff_ci_low"], r["diff_ci_high"]) == ("0", "0", "0"), r
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["busy", "busy-2"]


def test_one_more_booth_on_a_busy_lane_pairing_halves_the_interval_and_more(booth_compare):
    out, output = booth_compare
    base, plus = read_run(out / "busy"), read_run(out / "busy-plus")
    assert (base.seed, base.replications) == (plus.seed, plus.replications) == (5, 6)
    rows = {(r["crossing"], r["class"], r["metric"]): r for r in read_compare(out)}
    key = ("ak-tilek", "truck_loaded")
    for metric in ("wait_mean_h", "queue_mean"):
        b, o = base.values[key][metric], plus.values[key][metric]
        paired, welch = paired_interval(b, o), welch_interval(b, o)
        assert paired.half_width < 0.5 * welch.half_width, (metric, paired, welch)
        r = rows[(*key, metric)]
        assert r["paired"] == "true"
        assert float(r["diff_mean"]) == pytest.approx(paired.mean)
        assert float(r["diff_ci_high"]) - float(r["diff_ci_low"]) == \
            pytest.approx(2 * paired.half_width)
        assert float(r["diff_ci_high"]) < 0          # one more booth: shorter waits
    assert "paired: same seed 5 and 6 replications" in output
    assert "paired/unpaired (Welch) half-width: median" in output
    assert "excludes 0" in output


def test_json_output_carries_the_unpaired_width(scenarios, tmp_path):
    res = invoke("compare", scenarios / "busy.yaml", scenarios / "busy-plus.yaml", "-n", "2",
                 "--workers", "1", "--out", tmp_path / "j", "--json")
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)
    r = next(r for r in rows if r["metric"] == "queue_mean" and r["class"] == "truck_loaded")
    assert r["paired"] is True and r["excludes_zero"] in (True, False)
    assert r["unpaired_half_width"] > 0


def test_results_folders_are_paired_when_seeds_match_and_welch_otherwise(booth_compare,
                                                                         scenarios, tmp_path):
    out, _ = booth_compare
    res = invoke("compare", out / "busy", out / "busy-plus", "--out", tmp_path / "again")
    assert res.exit_code == 0, res.output
    assert "paired: same seed 5" in res.output
    again = read_compare(tmp_path / "again")
    assert again == read_compare(out)             # the same numbers as the run itself

    other_seed = tmp_path / "seed9"
    res = invoke("run", scenarios / "busy-plus.yaml", "--seed", "9", "--workers", "1",
                 "--quiet", "--out", other_seed)
    assert res.exit_code == 0, res.output
    res = invoke("compare", out / "busy", other_seed, "--out", tmp_path / "welch")
    assert res.exit_code == 0, res.output
    assert "unpaired (seed 9 vs. 5): Welch interval" in res.output
    rows = read_compare(tmp_path / "welch")
    assert {r["paired"] for r in rows} == {"false"}
    base, other = read_run(out / "busy"), read_run(other_seed)
    r = next(r for r in rows if (r["class"], r["metric"]) == ("truck_loaded", "wait_mean_h"))
    w = welch_interval(base.values[("ak-tilek", "truck_loaded")]["wait_mean_h"],
                       other.values[("ak-tilek", "truck_loaded")]["wait_mean_h"])
    assert float(r["diff_ci_low"]) == pytest.approx(w.ci_low)
    # the copies inside the compare folder are complete results folders, named by scenario
    assert (tmp_path / "welch" / "busy-plus" / "summary.csv").is_file()


def test_keys_in_one_scenario_only_are_skipped_and_named(scenarios, tmp_path):
    data = yaml.safe_load((scenarios / "busy.yaml").read_text())
    data["name"] = "with-buses"
    data["classes"]["bus"] = {"persons": 30, "length_m": 14}
    data["crossings"]["ak-tilek"]["demand"]["bus"] = 10
    data["crossings"]["ak-tilek"]["stages"][0]["lanes"][1]["serves"].append("bus")
    data["crossings"]["ak-tilek"]["stages"][0]["lanes"][1]["service"]["bus"] = "10min"
    (tmp_path / "with-buses.yaml").write_text(yaml.safe_dump(data))
    res = invoke("compare", scenarios / "busy.yaml", tmp_path / "with-buses.yaml", "-n", "2",
                 "--workers", "1", "--out", tmp_path / "k")
    assert res.exit_code == 0, res.output
    assert "skipped (only in with-buses): ak-tilek/bus, all/bus" in res.output
    assert not any(r["class"] == "bus" for r in read_compare(tmp_path / "k"))


@pytest.mark.parametrize("case", ["missing", "not-results", "other-crossings", "metric"])
def test_bad_inputs_exit_2_naming_the_path(case, scenarios, tmp_path):
    base = scenarios / "busy.yaml"
    out = tmp_path / "out"
    if case == "missing":
        bad = tmp_path / "no-such-folder"
        args = [base, bad]
        expect = [str(bad), "not found"]
    elif case == "not-results":
        bad = tmp_path / "plain"
        bad.mkdir()
        (bad / "notes.txt").write_text("x")
        args = [base, bad]
        expect = [str(bad), "not a results folder"]
    elif case == "other-crossings":
        bad = scenarios / "elsewhere.yaml"
        args = [base, bad]
        expect = [str(bad), "no crossing in common"]
    else:
        args = [base, base, "--metric", "waits"]
        expect = ["--metric", "unknown metric 'waits'"]
    res = invoke("compare", *args, "--workers", "1", "--out", out)
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    for text in expect:
        assert text in res.output
    assert not out.exists()


def test_compare_help_names_pairing():
    res = invoke("compare", "--help")
    assert res.exit_code == 0
    assert "common random numbers" in " ".join(res.output.split())
