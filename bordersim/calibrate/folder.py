"""The calibration folder: what was fitted, how, the posterior sample and its predictions.

``results/<name>-calibration/`` holds

- ``manifest.json``: the priors with their sources, the method and its settings, the
  simulations used, the seed, versions, and which observations were fitted;
- ``posterior.csv``: ``draw,weight,<one column per parameter path>`` (the last
  generation; values as the scenario takes them: hours for durations);
- ``parameters.csv``: per parameter, its prior and the posterior's mean, median and 90%
  interval;
- ``generations.csv``: per generation, the tolerance, the accepted parameter sets, the
  simulations counted, the acceptance rate and the effective sample size;
- ``predictive.csv``: per observation, its own columns, ``fitted``, and the posterior
  predictive figure (mean and 5/25/50/75/95th percentiles over simulations at
  parameter sets drawn from the posterior), ``inside_range`` (the mean inside the
  observed range) and ``inside_90`` (the range meeting the 5-95% interval);
- ``scenario.resolved.yaml``; and, to resume or extend the run, ``abc.db`` (pyabc's
  history) and ``candidates.jsonl`` (figures of candidates already simulated).

The folder is written in place as generations finish; ``--resume`` carries on after
a kill from the last stored generation, reusing candidates already simulated.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import platform
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path

import numpy as np

from bordersim import __version__
from bordersim.calibrate.driver import (
    AbcSettings,
    Generation,
    generations,
    run_abc,
    stop_reason,
)
from bordersim.calibrate.problem import CalibrationProblem, observations_sha
from bordersim.executors import Executor
from bordersim.folders import folder_kind, mark_folder, swap_into
from bordersim.loading import ScenarioError, dump_yaml
from bordersim.model.arrivals import stream

__all__ = ["run_calibration", "CalibrationOutcome", "KIND", "PREDICTIVE_KEY"]

KIND = "calibration"
PREDICTIVE_KEY = 0x505244


@dataclass(frozen=True)
class CalibrationOutcome:
    folder: Path
    generations: list[Generation]
    simulations: int            # counted: the candidates up to each n-th accepted
    simulations_run: int        # run this time (batches run a little beyond)
    predictive_runs: int
    wall_s: float
    resumed: bool


def _fmt(x) -> str:
    if isinstance(x, bool):
        return str(x).lower()
    if isinstance(x, (float, np.floating)):
        x = float(x)
        if math.isnan(x):
            return ""
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
        return str(int(x)) if x.is_integer() and abs(x) < 1e15 else repr(x)
    return "" if x is None else str(x)


def _csv_text(rows: list[list]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    for row in rows:
        w.writerow([_fmt(v) for v in row])
    return buf.getvalue()


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)


@contextlib.contextmanager
def _locked(folder: Path):
    import fcntl

    # a POSIX record lock: held by this process only, not by the worker processes it
    # forks, so it is gone the moment this process dies, however it dies
    f = open(folder / ".lock", "a+")
    try:
        try:
            fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise ScenarioError(str(folder), [("", "another bordersim calibrate is writing "
                                                   "this folder; wait for it to finish")]) \
                from None
        yield
    finally:
        f.close()


def _versions() -> dict:
    import pyabc
    import simpy

    return {"bordersim": __version__, "pyabc": pyabc.__version__, "simpy": simpy.__version__,
            "numpy": np.__version__, "python": platform.python_version()}


def _manifest(problem: CalibrationProblem, settings: AbcSettings, predictive: int,
              command: list[str], status: str, extra: dict | None = None) -> dict:
    scn = problem.scenario
    return {
        "kind": KIND,
        "status": status,
        "scenario": scn.name,
        "source": problem.loaded.source,
        "scenario_sha256": problem.loaded.sha256,
        "observations": problem.observations_source,
        "observations_sha256": observations_sha(Path(problem.observations_source)),
        "fit_until": problem.fit_until.isoformat(timespec="minutes")
        if problem.fit_until else None,
        "fitted_rows": [o.row for o, f in zip(problem.used, problem.fitted, strict=True) if f],
        "not_fitted_rows": [o.row for o, f in zip(problem.used, problem.fitted, strict=True)
                            if not f],
        "priors": [p.as_dict() for p in problem.priors],
        "uncertain": [p.as_dict() for p in problem.passengers],
        "settings": settings.as_dict(),
        "seed": settings.seed,
        "predictive_draws": predictive,
        "engine": problem.engine,
        "problem_key": problem.key(),
        "versions": _versions(),
        "command": command,
        **(extra or {}),
    }


class _Candidates:
    """candidates.jsonl: (generation, index, parameters, figures) of simulated candidates,
    so that a resumed run does not simulate them again."""

    def __init__(self, path: Path):
        self.path = path
        self.known: dict[int, dict] = {}
        if path.exists():
            with open(path) as f:
                for line in f:
                    try:
                        r = json.loads(line)
                        self.known.setdefault(int(r["g"]), {})[int(r["i"])] = (
                            {k: float(v) for k, v in r["p"].items()},
                            [math.nan if v is None else float(v) for v in r["f"]])
                    except (ValueError, KeyError, TypeError):
                        continue      # a line cut by a kill
        self.f = open(path, "a")

    def cache(self, t: int) -> dict:
        return self.known.get(t, {})

    def record(self, t: int, rows) -> None:
        for i, params, figs in rows:
            self.f.write(json.dumps({"g": t, "i": i, "p": {k: float(v) for k, v in
                                                          params.items()},
                                     "f": [None if v != v else float(v) for v in figs]})
                         + "\n")
        self.f.flush()

    def close(self) -> None:
        self.f.close()


def _predict(problem: CalibrationProblem, seed: int, items: list[tuple[int, dict]]):
    return [(k, problem.figures(values, k, seed)) for k, values in items]


def _posterior(history, problem: CalibrationProblem) -> tuple[list[dict], np.ndarray]:
    df, w = history.get_distribution(m=0, t=history.max_t)
    rows = [{p.name: float(df[p.name].iloc[j]) for p in problem.priors} for j in range(len(df))]
    w = np.asarray(w, dtype=float)
    return rows, w / w.sum()


def _predictive(problem: CalibrationProblem, rows, weights, n: int, seed: int,
                executor: Executor, progress=None) -> np.ndarray:
    """Figures of n simulations at parameter sets drawn from the posterior by weight."""
    cum = np.cumsum(weights)
    items = []
    for k in range(n):
        u = float(stream(seed, k, "posterior-predictive").random())
        j = min(int(np.searchsorted(cum, u * cum[-1], side="right")), len(rows) - 1)
        items.append((k, rows[j]))
    sim_seed = int(np.random.SeedSequence(seed, spawn_key=(PREDICTIVE_KEY,))
                   .generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))
    chunks = [items[a:a + 2] for a in range(0, n, 2)]
    out = np.full((n, len(problem.used)), np.nan)
    done = 0
    for batch in executor.map_unordered(partial(_predict, problem, sim_seed), chunks):
        for k, figs in batch:
            out[k] = figs
        done += len(batch)
        if progress:
            progress(done, n)
    return out


def _posterior_csv(problem: CalibrationProblem, rows, weights) -> str:
    scn = problem.scenario
    out = [["draw", "weight", *(p.path for p in problem.priors)]]
    for j, (r, w) in enumerate(zip(rows, weights, strict=True)):
        out.append([j, float(w), *(p.value(r[p.name], scn.start) for p in problem.priors)])
    return _csv_text(out)


def weighted_quantiles(x: np.ndarray, w: np.ndarray, qs) -> list[float]:
    """Quantiles of a weighted sample: the smallest value whose cumulative weight reaches
    each q."""
    order = np.argsort(x, kind="stable")
    cum = np.cumsum(w[order]) / w.sum()
    return [float(x[order][min(int(np.searchsorted(cum, q)), len(x) - 1)]) for q in qs]


def _parameters_csv(problem: CalibrationProblem, rows, weights) -> str:
    """Per parameter: its prior range, and the posterior's weighted mean, median and 90%
    interval (in the sampler's units: hours for durations and dates)."""
    out = [["path", "kind", "prior_low", "prior_high", "scale", "mean", "p05", "median",
            "p95", "fitted", "source"]]
    for p in problem.priors:
        x = np.array([r[p.name] for r in rows])
        q = weighted_quantiles(x, weights, (0.05, 0.5, 0.95))
        out.append([p.path, p.kind, p.low, p.high, p.scale, float((x * weights).sum()), q[0],
                    q[1], q[2], True, p.source])
    for p in problem.passengers:   # not fitted: the posterior is the prior
        q = [p.quantile(a) for a in (0.05, 0.5, 0.95)]
        out.append([p.path, p.kind, p.low, p.high, p.scale, p.prior_mean(), *q, False,
                    p.source])
    return _csv_text(out)


def _generations_csv(gens: list[Generation]) -> str:
    out = [["generation", "epsilon", "accepted", "simulations", "acceptance", "ess"]]
    for g in gens:
        out.append([g.t, g.epsilon, g.accepted, g.simulations, g.acceptance, g.ess])
    return _csv_text(out)


def _predictive_csv(problem: CalibrationProblem, figs: np.ndarray) -> str:
    head = ["date", "until", "crossing", "class", "metric", "value_low", "value_high",
            "source", "confidence", "note", "fitted", "sim_mean", "sim_p05", "sim_p25",
            "sim_p50", "sim_p75", "sim_p95", "inside_range", "inside_90"]
    out = [head]
    for j, (o, fitted) in enumerate(zip(problem.used, problem.fitted, strict=True)):
        x = figs[:, j]
        x = x[np.isfinite(x)]
        if len(x):
            mean = float(x.mean())
            q = [float(v) for v in np.percentile(x, [5, 25, 50, 75, 95])]
            inside = o.contains(mean)
            inside90 = q[0] <= o.high and o.low <= q[4]
        else:
            mean, q, inside, inside90 = math.nan, [math.nan] * 5, None, None
        out.append([o.when.isoformat(timespec="minutes"),
                    o.until.isoformat(timespec="minutes") if o.until else "",
                    o.crossing, o.cls, o.metric, o.low, "" if math.isinf(o.high) else o.high,
                    o.source, o.confidence, o.note, fitted, mean, *q, inside, inside90])
    return _csv_text(out)


def _prepare(out: Path, problem: CalibrationProblem, resume: bool, force: bool) -> Path:
    """The folder to write into: a new one, the folder to resume, or a hidden one beside
    it that replaces it when complete (--force)."""
    manifest = out / "manifest.json"
    if out.exists():
        if not out.is_dir():
            raise ScenarioError(str(out), [("", "is a file; expected a calibration folder")])
        try:
            old = json.loads(manifest.read_text())
        except (OSError, ValueError):
            old = None
        if not isinstance(old, dict):
            old = {}
        kind = folder_kind(out)
        if kind != KIND:
            if any(out.iterdir()):
                raise ScenarioError(str(out), [("", "exists and is not a calibration folder: "
                                                    "bordersim will not write into it; give "
                                                    "--out a new folder")])
            mark_folder(out, KIND)
            return out
        if resume:
            if old.get("problem_key") != problem.key():
                raise ScenarioError(str(out), [("", "this folder calibrated another scenario, "
                                                    "priors or observations; --resume needs "
                                                    "the same command (or use --force to "
                                                    "start again)")])
            return out
        if not force:
            raise ScenarioError(str(out), [("", "a calibration folder is already there: "
                                                "--resume carries it on, --force replaces it")])
        partial_dir = out.parent / f".{out.name}.partial"
        if partial_dir.exists():
            shutil.rmtree(partial_dir)
        partial_dir.mkdir()
        mark_folder(partial_dir, KIND)
        return partial_dir
    if resume:
        raise ScenarioError(str(out), [("", "nothing to resume: the folder does not exist")])
    out.mkdir(parents=True)
    mark_folder(out, KIND)
    return out


def run_calibration(problem: CalibrationProblem, settings: AbcSettings, out: Path,
                    executor: Executor, *, predictive: int = 100, resume: bool = False,
                    force: bool = False, command: list[str] | None = None,
                    progress: Callable | None = None,
                    on_generation: Callable[[Generation], None] | None = None,
                    on_predictive: Callable[[int, int], None] | None = None
                    ) -> CalibrationOutcome:
    out = Path(out)
    command = command or []
    t0 = time.monotonic()
    started = datetime.now()
    work = _prepare(out, problem, resume, force)
    resumed = resume and (work / "abc.db").exists()
    with _locked(work):
        (work / "scenario.resolved.yaml").write_text(dump_yaml(problem.loaded.resolved))
        _write(work / "manifest.json", json.dumps(
            _manifest(problem, settings, predictive, command, "running",
                      {"started": started.isoformat(timespec="seconds")}), indent=2) + "\n")
        cands = _Candidates(work / "candidates.jsonl")
        before = sum(len(v) for v in cands.known.values())
        try:
            history = run_abc(problem, settings, str(work / "abc.db"), executor,
                              resume=resumed, progress=progress, cache=_cache_of(cands),
                              record=cands.record, on_generation=on_generation)
        finally:
            cands.close()
        ran = sum(1 for _ in open(work / "candidates.jsonl")) - before
        gens = generations(history)
        if not gens:
            raise ScenarioError("--budget", [("", "the budget ran out before the first "
                                                  "generation was complete")])
        rows, weights = _posterior(history, problem)
        figs = _predictive(problem, rows, weights, predictive, settings.seed, executor,
                           on_predictive)
        _write(work / "posterior.csv", _posterior_csv(problem, rows, weights))
        _write(work / "parameters.csv", _parameters_csv(problem, rows, weights))
        _write(work / "generations.csv", _generations_csv(gens))
        _write(work / "predictive.csv", _predictive_csv(problem, figs))
        finished = datetime.now()
        counted = int(history.total_nr_simulations)
        last = gens[-1]
        stopped = stop_reason(gens, settings) or (
            f"the budget of {settings.budget:,} simulations ran out within generation "
            f"{len(gens)}, which was discarded")
        _write(work / "manifest.json", json.dumps(_manifest(
            problem, settings, predictive, command, "complete",
            {"started": started.isoformat(timespec="seconds"),
             "finished": finished.isoformat(timespec="seconds"),
             "wall_seconds": round(time.monotonic() - t0, 3),
             "simulations": counted, "simulations_run_this_time": ran,
             "generations": len(gens), "stopped": stopped,
             "final_epsilon": last.epsilon,
             "final_acceptance": last.acceptance, "posterior_size": len(rows),
             "posterior_ess": last.ess}), indent=2) + "\n")
    if work != out:
        swap_into(work, out)     # one atomic exchange where the system has it
    return CalibrationOutcome(out, gens, counted, ran, predictive,
                              time.monotonic() - t0, resumed)


def _cache_of(cands: _Candidates):
    def cache(t: int) -> dict:
        return cands.cache(t)
    return cache
