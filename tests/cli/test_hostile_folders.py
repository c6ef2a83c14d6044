"""Folders and files given back to bordersim: damaged, hand-edited or exported by Excel.

``check`` and ``report`` refuse a damaged folder with one message naming the file; a
label with mathtext draws as text; an observations file with a byte-order mark reads;
a range of NaN is refused.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from test_bad_input import BASE, assert_bad_input, invoke, write

OBS_HEAD = "date,crossing,class,metric,value_low,value_high,source,confidence,note\n"


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("folders")
    good = write(root / "good.yaml", {**BASE, "replications": 2})
    results, sweep, cmp = root / "results", root / "sweep", root / "cmp"
    assert invoke("run", good, "-q", "-j", "1", "--out", results).exit_code == 0
    assert invoke("sweep", good, "--vary", "crossings.ak-tilek.stages.0.lanes.0.booths=2,3",
                  "--metrics", "crossed,cost_total", "-q", "-j", "1",
                  "--out", sweep).exit_code == 0
    assert invoke("compare", good, good, "-q", "-j", "1", "--out", cmp).exit_code == 0
    return root, good, results, sweep, cmp


def copy_of(folder: Path, tmp_path: Path) -> Path:
    d = tmp_path / folder.name
    shutil.copytree(folder, d)
    return d


def test_mathtext_in_labels_is_drawn_as_text(tmp_path):
    data = {**BASE, "crossings": {**BASE["crossings"], "ak-tilek": {
        **BASE["crossings"]["ak-tilek"], "label": r"$\frac{1}$ & $x"}}}
    data["policy"] = [{**BASE["policy"][0], "label": r"$\sqrt{$ phase"}, BASE["policy"][1]]
    scenario = write(tmp_path / "math.yaml", data)
    out = tmp_path / "out"
    assert invoke("run", scenario, "-q", "-j", "1", "--out", out).exit_code == 0
    res = invoke("report", out)
    assert res.exit_code == 0, res.output
    assert any((out / "figures").glob("queue*.png"))
    assert r"$\frac{1}$" in (out / "report.html").read_text(encoding="utf-8")


@pytest.mark.parametrize("damage, file", [
    (lambda d: (d / "runs.csv").write_text((d / "runs.csv").read_text()
                                           .replace("\n1,", "\nx,", 1)), "runs.csv"),
    (lambda d: (d / "runs.csv").write_text((d / "runs.csv").read_text()
                                           .replace("\n1,", "\n99,", 1)), "runs.csv"),
    (lambda d: (d / "manifest.json").write_text("{"), "manifest.json"),
    (lambda d: (d / "manifest.json").write_text(json.dumps(
        {**json.loads((d / "manifest.json").read_text()), "points": "many"})), "manifest.json"),
    (lambda d: (d / "summary.csv").write_text("point,x\n"), "summary.csv"),
], ids=["runs-point-text", "runs-point-outside", "manifest-garbage", "manifest-points",
        "summary-header"])
def test_a_damaged_sweep_folder_is_refused_by_report(folders, tmp_path, damage, file):
    d = copy_of(folders[3], tmp_path)
    damage(d)
    assert_bad_input(invoke("report", d), str(d), file)


@pytest.mark.parametrize("damage, file", [
    (lambda d: (d / "compare.csv").write_text("a,b\n"), "compare.csv"),
    (lambda d: (d / "compare.json").write_text(json.dumps(
        {"base": "x", "scenarios": [{"label": "../../etc"}]})), "compare.json"),
    (lambda d: (d / "tiny" / "timeseries_replications.npz").write_bytes(b"PK\x03\x04"),
     "timeseries_replications.npz"),
], ids=["compare-header", "label-outside", "scenario-npz"])
def test_a_damaged_compare_folder_is_refused_by_report(folders, tmp_path, damage, file):
    d = copy_of(folders[4], tmp_path)
    damage(d)
    assert_bad_input(invoke("report", d), file)


def test_compare_reads_a_results_folder_only_if_it_is_whole(folders, tmp_path):
    _, good, results, _, _ = folders
    d = copy_of(results, tmp_path)
    (d / "replications.csv").write_text((d / "replications.csv").read_text()
                                        .replace("\n1,", "\nseven,", 1))
    assert_bad_input(invoke("compare", good, d, "-q", "--out", tmp_path / "c"),
                     "replications.csv")
    assert not (tmp_path / "c").exists()


def test_observations_exported_by_excel_with_a_byte_order_mark(folders, tmp_path):
    results = copy_of(folders[2], tmp_path)
    obs = tmp_path / "obs.csv"
    obs.write_bytes(("\ufeff" + OBS_HEAD + "2017-10-01T18:00,ak-tilek,car,waiting_units,"
                     "0,50,test,R,\n").encode("utf-8"))
    res = invoke("check", results, obs)
    assert res.exit_code == 0, res.output
    assert "1 observed figures inside" in res.output or "of 1 observed" in res.output


@pytest.mark.parametrize("low, high", [("nan", "5"), ("0", "nan"), ("-inf", "5"),
                                       ("0", "inf")])
def test_observed_ranges_must_be_finite(folders, tmp_path, low, high):
    results = copy_of(folders[2], tmp_path)
    obs = tmp_path / "obs.csv"
    obs.write_text(OBS_HEAD + f"2017-10-01T18:00,ak-tilek,car,waiting_units,{low},{high},,,\n")
    assert_bad_input(invoke("check", results, obs), "line 2", "finite")


def test_a_short_observation_row_is_named(folders, tmp_path):
    results = copy_of(folders[2], tmp_path)
    obs = tmp_path / "obs.csv"
    obs.write_text(OBS_HEAD + "2017-10-01T18:00,ak-tilek\n")
    assert_bad_input(invoke("check", results, obs), "line 2")
