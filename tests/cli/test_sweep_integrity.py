"""``sweep --resume`` trusts no damaged block of runs.csv, and one process writes a folder.

Each run's block of runs.csv has a line in runs-index.csv (its line count and sha256),
so a line cut, deleted or changed in the middle of a block, a block deleted, or a run
written but never indexed is found and run again: the resumed folder is byte-identical
to an uninterrupted sweep. A second sweep on a folder being written is refused at once.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_sweep import GRID, METRICS, TINY, files, sweep, write_scenario

from bordersim.sweep_folder import INDEX, read_index, read_runs

ARGS = [*GRID, *METRICS, "-n", 3, "-j", 1]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return write_scenario(tmp_path_factory.mktemp("scenario"))


@pytest.fixture(scope="module")
def whole(tiny, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("whole") / "sweep"
    sweep(tiny, *ARGS, "-q", "--out", out)
    return out


def block_lines(runs: Path, point: int, rep: int) -> list[int]:
    """Line numbers (0-based, header 0) of one run's block."""
    lines = runs.read_text().splitlines()
    return [i for i, line in enumerate(lines[1:], start=1)
            if line.split(",")[0] == str(point) and line.split(",")[3] == str(rep)]


def damaged_copy(whole: Path, tmp_path: Path, damage) -> Path:
    out = tmp_path / "sweep"
    shutil.copytree(whole, out)
    lines = (out / "runs.csv").read_text().splitlines(keepends=True)
    lines = damage(lines, block_lines(out / "runs.csv", 2, 1))
    (out / "runs.csv").write_text("".join(lines))
    for name in ("summary.csv",):
        (out / name).unlink()
    manifest = json.loads((out / "manifest.json").read_text())
    (out / "manifest.json").write_text(json.dumps({**manifest, "status": "running"}))
    return out


def _delete_middle(lines, block):
    del lines[block[len(block) // 2]]
    return lines


def _cut_middle(lines, block):
    i = block[len(block) // 2]
    lines[i] = lines[i][: len(lines[i]) // 2] + "\n"
    return lines


def _change_value(lines, block):
    i = block[len(block) // 2]
    head, _, value = lines[i].rstrip("\n").rpartition(",")
    lines[i] = f"{head},{value}1\n"
    return lines


def _delete_block(lines, block):
    return [line for i, line in enumerate(lines) if i not in set(block)]


def _swap_lines(lines, block):
    a, b = block[1], block[2]
    lines[a], lines[b] = lines[b], lines[a]
    return lines


@pytest.mark.parametrize("damage", [_delete_middle, _cut_middle, _change_value, _delete_block,
                                    _swap_lines],
                         ids=["line-deleted", "line-cut", "value-changed", "block-deleted",
                              "lines-swapped"])
def test_resume_finds_a_damaged_block_and_runs_it_again(whole, tiny, tmp_path, damage):
    out = damaged_copy(whole, tmp_path, damage)
    table = read_runs(out / "runs.csv", "cost_total", read_index(out / INDEX))
    assert (2, 1) not in table.blocks and len(table.blocks) == 17
    # the old rule (a run is complete when it ends with the last total) was fooled by all but
    # a cut at the end: that is what the index is for
    result = sweep(tiny, *ARGS, "--resume", "--json", "--out", out)
    record = json.loads(result.output)
    assert record["done_before"] == 17 and record["ran"] == 1
    assert record["dropped"] == (0 if damage is _delete_block else 1)
    assert files(out) == files(whole)
    assert (out / INDEX).read_bytes() == (whole / INDEX).read_bytes()


def test_a_run_written_but_not_indexed_runs_again(whole, tiny, tmp_path):
    """A kill between the append to runs.csv and the append to runs-index.csv."""
    out = damaged_copy(whole, tmp_path, lambda lines, block: lines)
    index = (out / INDEX).read_text().splitlines(keepends=True)
    (out / INDEX).write_text("".join(line for line in index if not line.startswith("2,1,")))
    record = json.loads(sweep(tiny, *ARGS, "--resume", "--json", "--out", out).output)
    assert record["ran"] == 1 and files(out) == files(whole)


def test_a_folder_without_an_index_is_checked_by_its_line_counts(whole, tiny, tmp_path):
    """A sweep folder of an earlier version: a block shorter than its point's others is cut."""
    out = damaged_copy(whole, tmp_path, _delete_middle)
    (out / INDEX).unlink()
    record = json.loads(sweep(tiny, *ARGS, "--resume", "--json", "--out", out).output)
    assert record["ran"] == 1 and files(out) == files(whole)
    assert (out / INDEX).read_bytes() == (whole / INDEX).read_bytes()


def test_report_refuses_a_finished_sweep_with_a_damaged_block(whole, tmp_path):
    from test_bad_input import assert_bad_input, invoke

    out = tmp_path / "sweep"
    shutil.copytree(whole, out)
    lines = (out / "runs.csv").read_text().splitlines(keepends=True)
    del lines[block_lines(out / "runs.csv", 1, 0)[2]]
    (out / "runs.csv").write_text("".join(lines))
    assert_bad_input(invoke("report", out), "runs.csv", "1 runs are cut short, damaged",
                     "--resume")


def _slow(tmp_path: Path) -> tuple[Path, list[str]]:
    slow = json.loads(json.dumps(TINY))
    slow["duration"] = "8d"
    slow["crossings"]["ak-tilek"]["demand"] = {"car": 400, "truck_loaded": 400}
    scenario = write_scenario(tmp_path, slow, "slow.yaml")
    booths = "crossings.ak-tilek.stages.0.lanes.1.booths"
    return scenario, ["sweep", str(scenario), "--vary", f"{booths}=4,5,6", "-n", "4", "-j",
                      "1", "-q", "--metrics", "wait_mean_h,queue_max"]


def test_two_sweeps_on_one_folder_at_once_the_second_is_refused(tmp_path):
    from test_bad_input import assert_bad_input, invoke

    scenario, args = _slow(tmp_path)
    out = tmp_path / "busy"
    proc = subprocess.Popen([sys.executable, "-m", "bordersim", *args, "--out", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if (out / "runs.csv").exists() and (out / "runs.csv").read_text().count("\n") > 1:
                break
            time.sleep(0.02)
        assert proc.poll() is None, "the first sweep finished before the second started"
        for extra in (["--resume"], ["--force"]):
            assert_bad_input(invoke(*args, *extra, "--out", out), str(out),
                             f"another bordersim sweep (process {proc.pid}) is writing")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    sweep(*args[1:], "--resume", "--out", out)         # the kernel dropped the killed lock
    whole = tmp_path / "whole"
    sweep(*args[1:], "--out", whole)
    assert files(out) == files(whole)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert os.listdir(out)
