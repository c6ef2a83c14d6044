"""Running a sweep plan into its folder: append, resume, sort, summarise.

``runs.csv`` is appended, one whole run at a time, with an unbuffered write
as each batch of runs comes back, so a killed sweep keeps every finished run.
Each run's block is followed by its line in ``runs-index.csv`` (its number of
lines and sha256): ``--resume`` keeps only the runs whose block matches its
index line, so a run cut short, a line deleted or changed anywhere in a block,
or a run written but not yet indexed is run again. One process at a time
writes a sweep folder (a kernel lock, released however the process ends).
At the end runs.csv is rewritten in (point, replication) order and
summary.csv and sensitivity.csv are computed from it, each through a temporary
file and ``os.replace``: the finished folder is byte-identical whatever the
executor, the number of workers or the interruptions.

A forced sweep over an existing folder runs in a hidden sibling
(``.<name>.partial``) and replaces the old folder only once it is complete,
so an interrupted one leaves the earlier results intact.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import os
import platform
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from bordersim import __version__
from bordersim.executors import Executor, batch_size
from bordersim.experiment import simulate
from bordersim.folders import (
    MARKER,
    check_out,
    clean_stale,
    folder_kind,
    folder_lock,
    mark_folder,
    swap_into,
)
from bordersim.loading import ScenarioError, dump_yaml
from bordersim.metrics import clip_metric
from bordersim.results import fmt
from bordersim.scenario import ALL, Scenario
from bordersim.sensitivity import prcc
from bordersim.stats import t_interval
from bordersim.sweep import SweepPlan, numeric_value

__all__ = ["run_sweep", "SweepOutcome", "run_batch", "read_runs", "read_index",
           "read_summary", "RunsTable", "partial_folder"]

MANIFEST, RUNS, SUMMARY, SENSITIVITY = ("manifest.json", "runs.csv", "summary.csv",
                                        "sensitivity.csv")
INDEX = "runs-index.csv"      # point,replication,lines,sha256 of each run's block of runs.csv
INDEX_HEADER = "point,replication,lines,sha256\n"


@dataclass(frozen=True)
class SweepOutcome:
    folder: Path
    n_runs: int
    done_before: int    # runs found finished in the folder (--resume)
    ran: int
    wall_s: float
    dropped: int = 0    # runs found cut short or damaged in the folder, and run again


def partial_folder(out: Path) -> Path:
    return out.parent / f".{out.name}.partial"


# --- the runs, wherever they happen -------------------------------------------------------

def run_batch(task: tuple) -> list[tuple]:
    """``(seed, metrics, [(point, scenario, [replications])], engine)`` → one
    ``(point, replication, [(crossing, class, [values])])`` per run. Only the chosen
    metrics come back: a run's hourly series stay where it ran."""
    seed, metrics, items, engine = task
    out = []
    for point, scn, reps in items:
        per_replication = None
        if not isinstance(scn, Scenario):      # posterior draws: a scenario per replication
            per_replication, scn = scn, scn.scenario(reps[0])
        crossings = [*scn.crossings, ALL]
        classes = [*scn.classes, ALL]
        for r in reps:
            res = simulate(per_replication.scenario(r) if per_replication else scn, r, seed,
                           engine)
            present = res.metrics
            rows = [(c, k, [present[(c, k)][m] for m in metrics])
                    for c in crossings for k in classes if (c, k) in present]
            out.append((point, r, rows))
    return out


def _tasks(plan: SweepPlan, missing: list[tuple[int, int]], workers: int,
           size: int | None = None, engine: str = "auto") -> list[tuple]:
    size = size or batch_size(len(missing), workers)
    tasks = []
    for i in range(0, len(missing), size):
        chunk = missing[i:i + size]
        items: list[tuple] = []
        for p, r in chunk:
            if items and items[-1][0] == p:
                items[-1][2].append(r)
            else:
                items.append((p, plan.per_point[p] if plan.per_point else plan.scenarios[p],
                              [r]))
        tasks.append((plan.seed, plan.metrics, items, engine))
    return tasks


# --- runs.csv ------------------------------------------------------------------------------

def _csv_line(values: list) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow([fmt(v) for v in values])
    return buf.getvalue()


def _header(plan: SweepPlan) -> str:
    return _csv_line(["point", *plan.paths, "replication", "crossing", "class", "metric",
                      "value"])


def _block(plan: SweepPlan, point: int, rep: int, rows: list[tuple]) -> str:
    lead = [point, *plan.points[point], rep]
    return "".join(_csv_line([*lead, c, k, m, v])
                   for c, k, values in rows for m, v in zip(plan.metrics, values, strict=True))


@dataclass
class RunsTable:
    """runs.csv read back: each complete run's lines, and its values."""

    header: list[str]
    n_paths: int
    blocks: dict            # (point, replication) -> text of its lines
    rows: dict              # (point, replication) -> [(crossing, class, metric, value)]
    order: list             # (point, replication) in the order the file holds them
    torn: int               # runs found incomplete or damaged (dropped)
    checked: bool = False   # True when every kept run matched its line of runs-index.csv


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _index_line(point: int, rep: int, block: str) -> str:
    return f"{point},{rep},{block.count(chr(10))},{_digest(block)}\n"


def read_index(path: Path) -> dict | None:
    """runs-index.csv as {(point, replication): (lines, sha256)}; None when there is none.
    A last line cut short by a kill is dropped; so is any line that does not parse."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    out = {}
    for line in text.splitlines(keepends=True)[1:]:
        if not line.endswith("\n"):
            break
        parts = line.strip().split(",")
        if len(parts) == 4 and parts[0].isdigit() and parts[1].isdigit() \
                and parts[2].isdigit() and re.fullmatch(r"[0-9a-f]{64}", parts[3]):
            out[(int(parts[0]), int(parts[1]))] = (int(parts[2]), parts[3])
    return out


def read_runs(path: Path, last_metric: str | None = None,
              index: dict | None = None) -> RunsTable:
    """The complete runs of runs.csv. With ``index`` (see :func:`read_index`), a run is kept
    only if its block has the line count and checksum the index recorded when it was
    written, so a line cut, deleted or changed anywhere in it is found; without one (a
    folder of an earlier version), a run must end with the ``all,all`` total of the last
    metric and have as many lines as the longest run of its point."""
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines.pop()                         # a line cut short by a kill
    if not lines:
        raise ValueError(f"{path}: no header")
    header = next(csv.reader([lines[0]]))
    n_paths = len(header) - 6
    if n_paths < 0 or header[0] != "point":
        raise ValueError(f"{path}: not a sweep's runs.csv")
    groups: list[tuple[tuple[int, int], list[str], list[list[str]]]] = []
    for line in lines[1:]:
        row = next(csv.reader([line]), [])
        try:
            key = (int(row[0]), int(row[1 + n_paths])) if len(row) == len(header) else None
        except ValueError:
            key = None
        if key is None or key[0] < 0 or key[1] < 0:
            groups.append(((-1, -1), [], []))   # a damaged line ends its run
            continue
        if not groups or groups[-1][0] != key:
            groups.append((key, [], []))
        groups[-1][1].append(line)
        groups[-1][2].append(row)
    longest: dict[int, int] = {}
    for key, glines, _ in groups:
        if key[0] >= 0:
            longest[key[0]] = max(longest.get(key[0], 0), len(glines))
    blocks, rows, order, dropped = {}, {}, [], set()
    for key, glines, grows in groups:
        if key[0] < 0:
            continue
        block = "".join(glines)
        last = grows[-1] if grows else None
        if index is not None:
            complete = index.get(key) == (len(glines), _digest(block))
        else:
            complete = (last is not None and last[-4] == ALL and last[-3] == ALL
                        and (last_metric is None or last[-2] == last_metric)
                        and len(glines) == longest[key[0]])
        if not complete or key in blocks:
            dropped.add(key)
            continue
        try:
            values = [(r[-4], r[-3], r[-2], float(r[-1]) if r[-1] != "" else np.nan)
                      for r in grows]
        except ValueError:
            dropped.add(key)
            continue
        blocks[key] = block
        rows[key] = values
        order.append(key)
    torn = len(dropped - blocks.keys())   # a run split by a damaged line counts once
    return RunsTable(header, n_paths, blocks, rows, order, torn, index is not None)


def _replace_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _append(fd: int, text: str) -> None:
    data = text.encode("utf-8")
    while data:
        n = os.write(fd, data)
        data = data[n:]


# --- summary and sensitivity ------------------------------------------------------------

def _values_by_point(plan: SweepPlan, table: RunsTable):
    """(crossing, class, metric) in file order → array points × replications."""
    n_p, n_r = len(plan.points), plan.replications
    out: dict[tuple, np.ndarray] = {}
    seen: dict[tuple, set] = {}     # the points where a row was written at all
    for (p, r) in sorted(table.rows):
        for c, k, m, v in table.rows[(p, r)]:
            arr = out.get((c, k, m))
            if arr is None:
                arr = out[(c, k, m)] = np.full((n_p, n_r), np.nan)
                seen[(c, k, m)] = set()
            arr[p, r] = v
            seen[(c, k, m)].add(p)
    return out, seen


def summary_text(plan: SweepPlan, values: dict, seen: dict) -> str:
    lines = [_csv_line(["point", *plan.paths, "crossing", "class", "metric", "mean",
                        "ci_low", "ci_high", "std", "n"])]
    for p, point in enumerate(plan.points):
        for key, arr in values.items():
            if p not in seen[key]:
                continue
            iv = clip_metric(t_interval(arr[p]), key[2])
            lines.append(_csv_line([p, *point, *key, iv.mean, iv.ci_low, iv.ci_high,
                                    iv.std, iv.n]))
    return "".join(lines)


def parameter_matrix(plan: SweepPlan) -> tuple[list[str], np.ndarray]:
    """The parameters that vary, as numbers (a value that is not a quantity counts as
    its place in the factor's list)."""
    names, cols = [], []
    start = plan.loaded.scenario.start
    for j, f in enumerate(plan.factors):
        raw = [pt[j] for pt in plan.points]
        if len({json.dumps(v) for v in raw}) < 2:
            continue
        col = np.array([numeric_value(v, start) for v in raw], dtype=float)
        if not np.all(np.isfinite(col)):
            listed = [json.dumps(v) for v in f.values]
            col = np.array([listed.index(json.dumps(v)) if json.dumps(v) in listed else np.nan
                            for v in raw], dtype=float)
        names.append(f.path)
        cols.append(col)
    return names, (np.column_stack(cols) if cols else np.zeros((len(plan.points), 0)))


def sensitivity_text(plan: SweepPlan, values: dict) -> str:
    names, x = parameter_matrix(plan)
    lines = [_csv_line(["crossing", "class", "metric", "parameter", "prcc", "p_value"])]
    for (c, k, m), arr in values.items():
        with np.errstate(all="ignore"):
            finite = np.isfinite(arr)
            means = np.where(finite.any(axis=1),
                             np.nansum(arr, axis=1) / np.maximum(finite.sum(axis=1), 1), np.nan)
        for name, (r, pv) in zip(names, prcc(x, means), strict=True):
            lines.append(_csv_line([c, k, m, name, r, pv]))
    return "".join(lines)


# --- the folder -----------------------------------------------------------------------------

def design_record(plan: SweepPlan) -> dict:
    """What a resumed sweep must share with the one it finishes: the points themselves,
    not how they were written (``4,6,8`` on the command line, ``[4, 6, 8]`` in a file)."""
    return json.loads(json.dumps({
        "design": plan.design,
        "paths": plan.paths,
        "points": [list(p) for p in plan.points],
        "replications": plan.replications,
        "seed": plan.seed,
        "metrics": list(plan.metrics),
        "scenario_sha256": plan.loaded.sha256,
        "posterior": (plan.per_point[0].posterior.describe() if plan.per_point else None),
    }))


def _manifest(plan: SweepPlan, command: list[str], started: datetime, status: str,
              executor: str, extra: dict | None = None) -> dict:
    import numpy
    import scipy
    import simpy

    scn = plan.loaded.scenario
    return {
        "kind": "sweep",
        "scenario": scn.name,
        "source": plan.loaded.source,
        "status": status,
        **design_record(plan),
        "factors": [{"path": f.path, "spec": f.spec} for f in plan.factors],
        "n_points": len(plan.points),
        "n_runs": plan.n_runs,
        "start": scn.start.isoformat(),
        "currency": scn.economics.currency if scn.economics else None,
        "versions": {"bordersim": __version__, "simpy": simpy.__version__,
                     "numpy": numpy.__version__, "scipy": scipy.__version__,
                     "python": platform.python_version()},
        "executor": executor,
        "command": command,
        "started": started.isoformat(timespec="seconds"),
        **(extra or {}),
    }


def _write_manifest(folder: Path, data: dict) -> None:
    _replace_text(folder / MANIFEST, json.dumps(data, indent=2) + "\n")


def _difference(key: str, was, now) -> str:
    if key == "points" and isinstance(was, list) and len(was) == len(now):
        k = next(i for i, (a, b) in enumerate(zip(was, now, strict=True)) if a != b)
        return f"point {k} is {json.dumps(was[k])} in the folder, {json.dumps(now[k])} here"
    if key == "points" and isinstance(was, list):
        return f"the folder's sweep has {len(was)} points, this one {len(now)}"
    return f"the folder's sweep has {json.dumps(was)}, this one {json.dumps(now)}"


def _check_resumable(work: Path, plan: SweepPlan) -> dict:
    src = f"--resume {work}"
    try:
        old = json.loads((work / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise ScenarioError(src, [("", "not a sweep folder (no readable manifest.json); "
                                       "use --force to start over")]) from None
    if old.get("kind") != "sweep" or not (work / RUNS).exists():
        raise ScenarioError(src, [("", "not a sweep folder; use --force to start over")])
    new = design_record(plan)
    diffs = []
    for key, value in new.items():
        was = old.get(key)
        if was == value:
            continue
        if key == "scenario_sha256":
            diffs.append(("scenario", "the resolved scenario differs (the file or a --set "
                                      "changed)"))
            continue
        diffs.append((key, _difference(key, was, value)))
    if diffs:
        raise ScenarioError(src, [*diffs, ("", "resume only the same sweep; use --force to "
                                               "start over")])
    return old


def _prepare(plan: SweepPlan, out: Path, resume: bool,
             force: bool) -> tuple[Path, dict | None]:
    """The folder to run in, and the manifest of the earlier part of this sweep it holds
    (None when it holds none)."""
    partial = partial_folder(out)
    if resume and force:
        raise ScenarioError("--resume", [("", "--resume finishes a sweep, --force starts it "
                                              "again: give one")])
    if resume:
        for work in (partial, out):
            if work.exists():
                return work, _check_resumable(work, plan)
        return out, None
    if out.exists() or partial.exists():
        if not force:
            which = out if out.exists() else partial
            raise ScenarioError(str(which), [("", "a sweep folder is already there: --resume "
                                                  "finishes it, --force replaces it (the "
                                                  "old one is kept until the new one is done)")])
        shutil.rmtree(partial, ignore_errors=True)
        return (partial if out.exists() else out), None
    return out, None


def _create(work: Path, plan: SweepPlan, manifest: dict) -> None:
    """The folder with its manifest, scenario and runs.csv header, made in one rename."""
    work.parent.mkdir(parents=True, exist_ok=True)
    tmp = work.parent / f".{work.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        (tmp / "scenario.resolved.yaml").write_text(dump_yaml(plan.loaded.resolved),
                                                    encoding="utf-8")
        (tmp / RUNS).write_text(_header(plan), encoding="utf-8")
        (tmp / INDEX).write_text(INDEX_HEADER, encoding="utf-8")
        _write_manifest(tmp, manifest)
        mark_folder(tmp, "sweep")
        os.replace(tmp, work)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def run_sweep(plan: SweepPlan, out: Path, executor: Executor, *, resume: bool = False,
              force: bool = False, progress: Callable[[int], None] | None = None,
              on_start: Callable[[int, int], None] | None = None,
              command: list[str] | None = None, batch_runs: int | None = None,
              engine: str = "auto") -> SweepOutcome:
    """Run every missing (point, replication) of the plan into ``out``.

    ``on_start(done_before, to_run)`` is called once the folder is ready;
    ``progress(k)`` as each batch of k runs is written. ``batch_runs`` fixes the runs
    per task (default: :func:`bordersim.executors.batch_size`). ``engine``: as for
    :func:`bordersim.experiment.simulate` (the runs are the same either way). One process
    at a time writes a sweep folder: a second one is refused (FolderBusy) while the first
    runs."""
    out = Path(out)
    with folder_lock(out, "bordersim sweep"):
        return _run_sweep(plan, out, executor, resume, force, progress, on_start,
                          command or [], batch_runs, engine)


def _run_sweep(plan, out, executor, resume, force, progress, on_start, command,
               batch_runs, engine) -> SweepOutcome:
    t0 = time.perf_counter()
    started = datetime.now()
    clean_stale(out)
    check_out(out, "sweep", force=True)    # only a sweep folder may be resumed or replaced
    work, old = _prepare(plan, out, resume, force)
    last_metric = plan.metrics[-1]
    dropped = 0
    if old is not None:
        table = read_runs(work / RUNS, last_metric, read_index(work / INDEX))
        if table.header != next(csv.reader([_header(plan)])):
            raise ScenarioError(f"--resume {work}", [("", "runs.csv has other columns than "
                                                          "this sweep; use --force")])
        dropped = table.torn
        for name in os.listdir(work):       # left by a process killed while replacing one
            if name.startswith(".") and ".tmp-" in name:
                with contextlib.suppress(OSError):
                    os.unlink(work / name)
        _replace_text(work / RUNS, _header(plan) + "".join(table.blocks[k] for k in table.order))
        _replace_text(work / INDEX, INDEX_HEADER + "".join(
            _index_line(*k, table.blocks[k]) for k in table.order))
        if folder_kind(work) != "sweep" or not (work / MARKER).exists():
            mark_folder(work, "sweep")
        resumes = int(old.get("resumes", 0)) + 1
        started_first = old.get("started", started.isoformat(timespec="seconds"))
        done = set(table.order)
    else:
        resumes, started_first, done = 0, started.isoformat(timespec="seconds"), set()
        _create(work, plan, _manifest(plan, command, started, "running", executor.name))
    manifest = _manifest(plan, command, started, "running", executor.name,
                         {"resumes": resumes, "engine": engine})
    manifest["started"] = started_first
    _write_manifest(work, manifest)

    missing = [(p, r) for p in range(len(plan.points)) for r in range(plan.replications)
               if (p, r) not in done]
    if on_start:
        on_start(len(done), len(missing))
    if missing:
        fd = os.open(work / RUNS, os.O_WRONLY | os.O_APPEND)
        fdi = os.open(work / INDEX, os.O_WRONLY | os.O_APPEND)
        try:
            tasks = _tasks(plan, missing, executor.workers, batch_runs, engine)
            for results in executor.map_unordered(run_batch, tasks):
                blocks = [(p, r, _block(plan, p, r, rows)) for p, r, rows in results]
                _append(fd, "".join(b for _, _, b in blocks))
                # after the runs: a run in runs.csv without its index line is run again
                _append(fdi, "".join(_index_line(p, r, b) for p, r, b in blocks))
                if progress:
                    progress(len(results))
        finally:
            os.close(fd)
            os.close(fdi)

    table = read_runs(work / RUNS, last_metric, read_index(work / INDEX))
    expected = {(p, r) for p in range(len(plan.points)) for r in range(plan.replications)}
    lost = expected - set(table.blocks)
    if lost:  # pragma: no cover - every run was written above
        raise RuntimeError(f"{len(lost)} runs missing from {work / RUNS}")
    ordered = sorted(table.blocks)
    _replace_text(work / RUNS, _header(plan) + "".join(table.blocks[k] for k in ordered))
    _replace_text(work / INDEX, INDEX_HEADER + "".join(_index_line(*k, table.blocks[k])
                                                       for k in ordered))
    values, seen = _values_by_point(plan, table)
    _replace_text(work / SUMMARY, summary_text(plan, values, seen))
    if plan.design == "lhs":
        _replace_text(work / SENSITIVITY, sensitivity_text(plan, values))
    finished = datetime.now()
    wall = time.perf_counter() - t0
    manifest.update(status="complete", finished=finished.isoformat(timespec="seconds"),
                    wall_seconds=round(wall, 3), ran_last=len(missing))
    _write_manifest(work, manifest)
    if work != out:
        swap_into(work, out)
    return SweepOutcome(out, plan.n_runs, len(done), len(missing), wall, dropped)


def read_summary(folder: Path) -> list[dict]:
    """summary.csv as dicts of text, in file order."""
    with open(Path(folder) / SUMMARY, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))
