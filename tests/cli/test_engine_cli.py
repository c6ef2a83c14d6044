"""``--engine auto|des`` on run, compare and sweep: the folders they write are the same
byte for byte (the manifest says which engine ran, and when)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bordersim.cli import cli

ROOT = Path(__file__).resolve().parents[2]
MMC = ROOT / "scenarios" / "example-mmc.yaml"
HISTORY = ROOT / "scenarios" / "closure-2017.yaml"
SHORT = ["--set", "duration=11d", "-n", "2", "-j", "1", "-q"]


def invoke(*args) -> None:
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output


def same_files(a: Path, b: Path, names) -> None:
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


@pytest.mark.parametrize("scenario", [MMC, HISTORY], ids=["example-mmc", "closure-2017"])
def test_run_writes_the_same_folder_with_either_engine(scenario, tmp_path):
    for engine in ("auto", "des"):
        invoke("run", scenario, *SHORT, "--engine", engine, "-o", tmp_path / engine)
    same_files(tmp_path / "auto", tmp_path / "des",
               ["summary.csv", "replications.csv", "timeseries.csv", "costs.csv",
                "scenario.resolved.yaml"])
    assert json.loads((tmp_path / "des" / "manifest.json").read_text())["engine"] == "des"
    assert json.loads((tmp_path / "auto" / "manifest.json").read_text())["engine"] == "auto"


def test_compare_and_sweep_write_the_same_tables_with_either_engine(tmp_path):
    for engine in ("auto", "des"):
        invoke("compare", HISTORY, ROOT / "scenarios" / "no-agreement-2017.yaml", *SHORT,
               "--engine", engine, "-o", tmp_path / f"compare-{engine}")
        invoke("sweep", MMC, "--vary", "crossings.ak-tilek.stages.0.lanes.0.booths=10,12",
               "-n", "2", "-q", "--set", "duration=5d", "--engine", engine,
               "-o", tmp_path / f"sweep-{engine}")
    same_files(tmp_path / "compare-auto", tmp_path / "compare-des", ["compare.csv"])
    same_files(tmp_path / "sweep-auto", tmp_path / "sweep-des", ["runs.csv", "summary.csv"])


def test_an_unknown_engine_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(cli, ["run", str(MMC), "--engine", "fast", "-o",
                                      str(tmp_path / "x")])
    assert result.exit_code == 2
    assert "'fast' is not one of 'auto', 'des'" in result.output
    assert not (tmp_path / "x").exists()
