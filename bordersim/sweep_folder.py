"""Running a sweep plan into its folder: append, resume, sort, summarise.

``runs.csv`` is appended, one whole run at a time, with an unbuffered write
as each batch of runs comes back, so a killed sweep keeps every finished run.
A run's rows are complete when the last one is the ``all,all`` total of the
last metric; ``--resume`` keeps complete runs, drops a torn one and runs what
is missing. At the end runs.csv is rewritten in (point, replication) order and
summary.csv and sensitivity.csv are computed from it, each through a temporary
file and ``os.replace``: the finished folder is byte-identical whatever the
executor, the number of workers or the interruptions.

A forced sweep over an existing folder runs in a hidden sibling
(``.<name>.partial``) and replaces the old folder only once it is complete,
so an interrupted one leaves the earlier results intact.
"""

from __future__ import annotations

import csv
import io
import json
import os
import platform
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
from bordersim.loading import ScenarioError, dump_yaml
from bordersim.metrics import clip_metric
from bordersim.results import fmt
from bordersim.scenario import ALL, Scenario
from bordersim.sensitivity import prcc
from bordersim.stats import t_interval
from bordersim.sweep import SweepPlan, numeric_value

__all__ = ["run_sweep", "SweepOutcome", "run_batch", "read_runs", "read_summary",
           "RunsTable", "partial_folder"]

MANIFEST, RUNS, SUMMARY, SENSITIVITY = ("manifest.json", "runs.csv", "summary.csv",
                                        "sensitivity.csv")


@dataclass(frozen=True)
class SweepOutcome:
    folder: Path
    n_runs: int
    done_before: int    # runs found finished in the folder (--resume)
    ran: int
    wall_s: float


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
    torn: int               # runs found incomplete (dropped)


def read_runs(path: Path, last_metric: str | None = None) -> RunsTable:
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
        row = next(csv.reader([line]))
        if len(row) != len(header):
            groups.append(((-1, -1), [], []))   # a torn line ends its run
            continue
        key = (int(row[0]), int(row[1 + n_paths]))
        if not groups or groups[-1][0] != key:
            groups.append((key, [], []))
        groups[-1][1].append(line)
        groups[-1][2].append(row)
    blocks, rows, order, torn = {}, {}, [], 0
    for key, glines, grows in groups:
        last = grows[-1] if grows else None
        complete = (last is not None and key[0] >= 0 and last[-4] == ALL and last[-3] == ALL
                    and (last_metric is None or last[-2] == last_metric)
                    and key not in blocks)
        if not complete:
            torn += key[0] >= 0
            continue
        blocks[key] = "".join(glines)
        rows[key] = [(r[-4], r[-3], r[-2], float(r[-1]) if r[-1] != "" else np.nan)
                     for r in grows]
        order.append(key)
    return RunsTable(header, n_paths, blocks, rows, order, torn)


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
        _write_manifest(tmp, manifest)
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
    :func:`bordersim.experiment.simulate` (the runs are the same either way)."""
    out = Path(out)
    t0 = time.perf_counter()
    started = datetime.now()
    command = command or []
    work, old = _prepare(plan, out, resume, force)
    last_metric = plan.metrics[-1]
    if old is not None:
        table = read_runs(work / RUNS, last_metric)
        if table.header != next(csv.reader([_header(plan)])):
            raise ScenarioError(f"--resume {work}", [("", "runs.csv has other columns than "
                                                          "this sweep; use --force")])
        _replace_text(work / RUNS, _header(plan) + "".join(table.blocks[k] for k in table.order))
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
        try:
            tasks = _tasks(plan, missing, executor.workers, batch_runs, engine)
            for results in executor.map_unordered(run_batch, tasks):
                _append(fd, "".join(_block(plan, p, r, rows) for p, r, rows in results))
                if progress:
                    progress(len(results))
        finally:
            os.close(fd)

    table = read_runs(work / RUNS, last_metric)
    expected = {(p, r) for p in range(len(plan.points)) for r in range(plan.replications)}
    lost = expected - set(table.blocks)
    if lost:  # pragma: no cover - every run was written above
        raise RuntimeError(f"{len(lost)} runs missing from {work / RUNS}")
    _replace_text(work / RUNS, _header(plan) + "".join(table.blocks[k]
                                                        for k in sorted(table.blocks)))
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
        old_dir = out.parent / f".{out.name}.old-{os.getpid()}"
        if out.exists():
            os.replace(out, old_dir)
        os.replace(work, out)
        shutil.rmtree(old_dir, ignore_errors=True)
    return SweepOutcome(out, plan.n_runs, len(done), len(missing), wall)


def read_summary(folder: Path) -> list[dict]:
    """summary.csv as dicts of text, in file order."""
    with open(Path(folder) / SUMMARY, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))
