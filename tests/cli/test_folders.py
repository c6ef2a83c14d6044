"""Only bordersim's own folders are ever replaced, and then only on request.

``--out`` at a folder of the user's (a project, its scenarios), at the
current folder, at a folder of another kind, or at one that cannot be
written is refused before anything runs, with exit status 2 and nothing
touched. Hidden siblings left by a killed write are cleaned, and a folder
left between the two renames of a swap is put back.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from test_bad_input import BASE, assert_bad_input, invoke, snapshot, write

from bordersim.folders import (
    MARKER,
    atomic_folder,
    check_out,
    clean_stale,
    folder_kind,
    folder_lock,
    mark_folder,
    recover_folder,
    swap_into,
)
from bordersim.loading import ScenarioError

RUN = ["--quiet", "--workers", "1"]


@pytest.fixture
def good(tmp_path) -> Path:
    return write(tmp_path / "good.yaml", BASE)


@pytest.fixture
def project(tmp_path) -> Path:
    """A user's project: scenarios and notes that bordersim must never delete."""
    proj = tmp_path / "proj"
    (proj / "scenarios").mkdir(parents=True)
    write(proj / "scenarios" / "mine.yaml", BASE)
    (proj / "notes.txt").write_text("three weeks of work\n")
    return proj


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def never_simulate(monkeypatch):
    """The refusals below must come before the simulation, not after it."""
    import bordersim.experiment

    def fail(*args, **kwargs):
        raise AssertionError("simulated although --out cannot be written")
    monkeypatch.setattr(bordersim.experiment, "run_experiment", fail)


def sweep_args(scenario: Path, out: Path, *extra) -> list:
    return ["sweep", scenario, "--vary", "crossings.ak-tilek.stages.0.lanes.0.booths=2,3",
            "--metrics", "crossed", "-q", "-j", "1", "--out", out, *extra]


# ---- folders of the user's --------------------------------------------------------------

@pytest.mark.parametrize("force", [[], ["--force"]], ids=["plain", "forced"])
@pytest.mark.parametrize("where", ["proj", "proj/scenarios"])
def test_run_never_replaces_a_folder_of_the_users(tmp_path, good, project, monkeypatch,
                                                  where, force):
    never_simulate(monkeypatch)
    before = snapshot(project)
    target = tmp_path / where
    err = assert_bad_input(invoke("run", good, *RUN, "--out", target, *force),
                           "--out", str(target), "did not write", "not a results folder")
    assert "give a new folder" in err
    assert snapshot(project) == before


def test_compare_and_sweep_never_replace_a_folder_of_the_users(tmp_path, good, project,
                                                               monkeypatch):
    never_simulate(monkeypatch)
    before = snapshot(project)
    assert_bad_input(invoke("compare", good, good, *RUN, "--out", project, "--force"),
                     "--out", "did not write", "not a compare folder")
    assert_bad_input(invoke(*sweep_args(good, project, "--force")), "--out",
                     "did not write", "not a sweep folder")
    assert_bad_input(invoke(*sweep_args(good, project, "--resume")), "--out",
                     "did not write")
    assert snapshot(project) == before


def test_an_empty_folder_may_be_written_into(tmp_path, good):
    out = tmp_path / "made-for-it"
    out.mkdir()
    result = invoke("run", good, *RUN, "--out", out)
    assert result.exit_code == 0, result.output
    assert (out / "summary.csv").is_file() and folder_kind(out) == "results"


# ---- bordersim's own folders: only on request, only of the same kind --------------------

def test_run_replaces_its_own_results_only_with_force(tmp_path, good):
    out = tmp_path / "results" / "tiny"
    assert invoke("run", good, *RUN, "--out", out).exit_code == 0
    (out / "check.csv").write_text("date\n")
    before = snapshot(out)
    assert_bad_input(invoke("run", good, *RUN, "--out", out, "--seed", "5"),
                     "--out", "a results folder is already there", "--force replaces it")
    assert snapshot(out) == before
    result = invoke("run", good, *RUN, "--out", out, "--seed", "5", "--force")
    assert result.exit_code == 0, result.output
    assert not (out / "check.csv").exists()
    assert '"seed": 5' in (out / "manifest.json").read_text()
    assert sorted(p.name for p in out.parent.iterdir()) == ["tiny"]    # nothing left beside


def test_compare_replaces_its_own_folder_only_with_force(tmp_path, good):
    out = tmp_path / "cmp"
    assert invoke("compare", good, good, *RUN, "--out", out).exit_code == 0
    before = snapshot(out)
    assert_bad_input(invoke("compare", good, good, *RUN, "--out", out),
                     "a compare folder is already there", "--force")
    assert snapshot(out) == before
    assert invoke("compare", good, good, *RUN, "--out", out, "--force").exit_code == 0
    assert folder_kind(out) == "compare" and folder_kind(out / "tiny") == "results"


def test_a_folder_of_one_kind_never_replaces_one_of_another(tmp_path, good, monkeypatch):
    results, sweep = tmp_path / "results", tmp_path / "sweep"
    assert invoke("run", good, *RUN, "--out", results).exit_code == 0
    assert invoke(*sweep_args(good, sweep)).exit_code == 0
    calibration = tmp_path / "calibration"
    calibration.mkdir()
    (calibration / "posterior.csv").write_text("draw,weight\n")
    mark_folder(calibration, "calibration")
    kept = {p: snapshot(p) for p in (results, sweep, calibration)}
    never_simulate(monkeypatch)
    for target, kind in ((sweep, "a sweep folder"), (calibration, "a calibration folder")):
        assert_bad_input(invoke("run", good, *RUN, "--out", target, "--force"),
                         f"is {kind}; a results folder cannot replace it")
    assert_bad_input(invoke("compare", good, good, *RUN, "--out", results, "--force"),
                     "is a results folder; a compare folder cannot replace it")
    assert_bad_input(invoke(*sweep_args(good, results, "--force")),
                     "is a results folder; a sweep folder cannot replace it")
    assert {p: snapshot(p) for p in kept} == kept


def test_folders_written_before_the_marker_are_still_known(tmp_path, good):
    results, sweep = tmp_path / "results", tmp_path / "sweep"
    assert invoke("run", good, *RUN, "--out", results).exit_code == 0
    assert invoke(*sweep_args(good, sweep)).exit_code == 0
    for folder in (results, sweep):
        (folder / MARKER).unlink()
    assert folder_kind(results) == "results" and folder_kind(sweep) == "sweep"
    assert invoke("run", good, *RUN, "--out", results, "--force").exit_code == 0
    assert_bad_input(invoke("run", good, *RUN, "--out", sweep, "--force"), "a sweep folder")


def test_the_library_refuses_too(tmp_path, good):
    """write_results and friends, called from Python, keep the same rule."""
    from bordersim.experiment import run_experiment
    from bordersim.loading import load_scenario
    from bordersim.results import write_results

    loaded = load_scenario(good)
    res = run_experiment(loaded.scenario, workers=1)
    out = write_results(tmp_path / "r", res, loaded)
    with pytest.raises(ScenarioError, match="--force replaces it"):
        write_results(out, res, loaded)
    write_results(out, res, loaded, force=True)
    with pytest.raises(ScenarioError, match="did not write"):
        write_results(tmp_path, res, loaded, force=True)
    with pytest.raises(ScenarioError, match="did not write"):
        atomic_folder(tmp_path, lambda tmp: None, "sweep", force=True)


# ---- places that cannot be written: refused before the simulation ------------------------

def test_current_folder_and_root_are_refused_before_simulating(tmp_path, good, monkeypatch):
    never_simulate(monkeypatch)
    monkeypatch.chdir(tmp_path)
    for target in (".", "/", str(tmp_path.parent), "results/.."):
        assert_bad_input(invoke("run", good, *RUN, "--out", target, "--force"),
                         "--out", "the current folder or one that holds it")
        assert_bad_input(invoke(*sweep_args(good, Path(target), "--force")),
                         "the current folder or one that holds it")


@pytest.fixture
def read_only(tmp_path):
    """A folder nobody may write in: immutable for root (who ignores permissions), else
    without write permission."""
    folder = tmp_path / "locked"
    folder.mkdir()
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", str(folder)], check=True)
    else:
        folder.chmod(0o555)
    yield folder
    if os.geteuid() == 0:
        subprocess.run(["chattr", "-i", str(folder)], check=True)
    else:
        folder.chmod(0o755)


def test_a_read_only_folder_is_refused_before_simulating(good, read_only, monkeypatch):
    never_simulate(monkeypatch)
    for target in (read_only / "out", read_only / "deeper" / "out"):
        assert_bad_input(invoke("run", good, *RUN, "--out", target), "--out", "cannot write in",
                         str(read_only))
    assert_bad_input(invoke(*sweep_args(good, read_only / "s")), "cannot write in")


def test_symbolic_links_at_out_are_refused(tmp_path, good, monkeypatch):
    never_simulate(monkeypatch)
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    assert_bad_input(invoke("run", good, *RUN, "--out", loop), "broken or looping")
    assert_bad_input(invoke("run", good, *RUN, "--out", loop / "inside"), "broken or looping")
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real)
    assert_bad_input(invoke("run", good, *RUN, "--out", link), "symbolic link")


# ---- what a killed write leaves behind ---------------------------------------------------

def test_stale_temporary_folders_of_dead_processes_are_cleaned(tmp_path, good):
    out = tmp_path / "results" / "tiny"
    dead, alive = dead_pid(), os.getppid()
    stale = out.parent / f".tiny.tmp-{dead}"
    busy = out.parent / f".tiny.tmp-{alive}"          # another process still writing
    other = out.parent / f".other.tmp-{dead}"         # not this folder's
    for p in (stale, busy, other):
        p.mkdir(parents=True)
        (p / "summary.csv").write_text("half\n")
    assert invoke("run", good, *RUN, "--out", out).exit_code == 0
    assert not stale.exists() and busy.exists() and other.exists()


def test_a_folder_left_between_the_two_renames_is_put_back(tmp_path, good):
    out = tmp_path / "results" / "tiny"
    assert invoke("run", good, *RUN, "--out", out).exit_code == 0
    before = snapshot(out)
    old = out.parent / f".tiny.old-{dead_pid()}"
    out.rename(old)                           # as a kill between the renames leaves it
    result = invoke("run", good, *RUN, "--out", out)
    assert_bad_input(result, "already there", "--force")     # the user's folder came back
    assert snapshot(out) == before and not old.exists()
    out.rename(old)
    assert recover_folder(out) == old and snapshot(out) == before


def test_swap_without_an_atomic_exchange_goes_through_old_and_back(tmp_path):
    out, tmp = tmp_path / "out", tmp_path / ".out.tmp-1"
    for folder, text in ((out, "old"), (tmp, "new")):
        folder.mkdir()
        (folder / "f").write_text(text)
    swap_into(tmp, out, exchange=lambda a, b: False)
    assert (out / "f").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_swap_with_the_atomic_exchange(tmp_path):
    out, tmp = tmp_path / "out", tmp_path / ".out.tmp-1"
    for folder, text in ((out, "old"), (tmp, "new")):
        folder.mkdir()
        (folder / "f").write_text(text)
    swap_into(tmp, out)
    assert (out / "f").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_failed_write_leaves_nothing(tmp_path):
    def boom(tmp: Path) -> None:
        (tmp / "a").write_text("x")
        raise RuntimeError("disk full")
    with pytest.raises(RuntimeError):
        atomic_folder(tmp_path / "out", boom, "results")
    assert list(tmp_path.iterdir()) == []


def test_check_out_accepts_new_empty_and_forced_own(tmp_path):
    check_out(tmp_path / "new" / "deeper", "results")
    (tmp_path / "empty").mkdir()
    check_out(tmp_path / "empty", "sweep")
    own = tmp_path / "own"
    own.mkdir()
    (own / "x").write_text("1")
    mark_folder(own, "results")
    check_out(own, "results", force=True)
    with pytest.raises(ScenarioError):
        check_out(own, "results")


def test_clean_stale_removes_leftovers_only_of_dead_processes(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    dead = dead_pid()
    gone = [tmp_path / f".out.tmp-{dead}", tmp_path / f".out.old-{dead}"]
    for p in gone:
        p.mkdir()
    mine = tmp_path / f".out.tmp-{os.getpid()}"
    mine.mkdir()
    assert sorted(clean_stale(out)) == sorted(gone)
    assert mine.exists() and out.exists()
    shutil.rmtree(mine)


def test_folder_lock_refuses_a_second_holder_and_goes_with_the_process(tmp_path):
    out = tmp_path / "sweep"
    code = ("import sys, time; from pathlib import Path; from bordersim.folders import "
            "folder_lock\nwith folder_lock(Path(sys.argv[1])):\n    print('locked', "
            "flush=True)\n    time.sleep(60)\n")
    holder = subprocess.Popen([sys.executable, "-c", code, str(out)], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(ScenarioError, match=f"another bordersim \\(process {holder.pid}\\)"):
            with folder_lock(out):
                pass
    finally:
        holder.kill()
        holder.wait()
    with folder_lock(out) as path:           # the kernel released the killed holder's lock
        assert path.exists()
    assert not path.exists()
