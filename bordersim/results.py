"""The results folder: written to a temporary folder, then swapped into place.

A crash or a bad input never leaves a half-written folder, and an earlier
folder of the same name is replaced only on request (``force``) and only once
the new one is complete. Which folders may be replaced, and how, is
:mod:`bordersim.folders`: its API is offered here too.
"""

from __future__ import annotations

import csv
import io
import json
import math
import platform
import sys
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from bordersim import __version__
from bordersim.economics import COMPONENTS
from bordersim.experiment import ExperimentResult
from bordersim.folders import (
    KINDS,
    MARKER,
    atomic_folder,
    check_out,
    clean_stale,
    folder_kind,
    folder_lock,
    mark_folder,
    recover_folder,
)
from bordersim.loading import LoadedScenario, dump_yaml
from bordersim.measure import METRICS
from bordersim.metrics import clip_metric
from bordersim.scenario import ALL
from bordersim.stats import t_half_width, t_interval

__all__ = ["write_results", "fmt", "shown_keys",
           # which folders are bordersim's, and replacing them (bordersim.folders)
           "KINDS", "MARKER", "atomic_folder", "check_out", "clean_stale", "folder_kind",
           "folder_lock", "mark_folder", "recover_folder"]


def fmt(x) -> str:
    """Numbers as the shortest text that reads back to the same float; NaN as empty."""
    if type(x) is not float and isinstance(x, (float, np.floating)):
        x = float(x)            # numpy's floats; Python's (most values) as they are
    if type(x) is float:
        if math.isnan(x):
            return ""
        if x.is_integer() and abs(x) < 1e15:
            return str(int(x))
        return repr(x)
    return str(x)


def _csv(rows: list[list]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    for row in rows:
        w.writerow([fmt(v) for v in row])
    return buf.getvalue()


def summary_csv(res: ExperimentResult) -> str:
    """The SPEC's columns, then the 5th and 95th percentiles over replications (p05, p95)
    and, for posterior runs, the share of their variance that the parameters explain."""
    rows = [["crossing", "class", "metric", "mean", "ci_low", "ci_high", "std", "n",
             "p05", "p95", "param_share"]]
    for (c, k), metric, iv in res.summary_rows():
        lo, hi = res.spread((c, k), metric)
        rows.append([c, k, metric, iv.mean, iv.ci_low, iv.ci_high, iv.std, iv.n, lo, hi,
                     res.parameter_share((c, k), metric)])
    return _csv(rows)


def posterior_csv(res: ExperimentResult) -> str:
    """The posterior draw each replication ran, and its parameter values."""
    post = res.posterior
    extra = [u["path"] for u in post.uncertain]
    rows = [["replication", "draw", *post.paths, *extra]]
    for r, j in enumerate(res.draws):
        more = post.uncertain_values(res.seed, r)
        rows.append([r, j, *post.values[j], *(more[p] for p in extra)])
    return _csv(rows)


def replications_csv(res: ExperimentResult) -> str:
    rows = [["replication", "crossing", "class", *METRICS]]
    for r in res.replications:
        for key in res.keys():
            rows.append([r.replication, *key, *(r.metrics[key][m] for m in METRICS)])
    return _csv(rows)


def timeseries_csv(res: ExperimentResult) -> str:
    start = res.scenario.start
    rows = [["time", "crossing", "class", "queue_mean", "queue_ci_low", "queue_ci_high",
             "crossed_mean", "cost_mean", "held_mean", "off_road_mean"]]
    keys = res.keys()
    n_hours = len(res.replications[0].queue[keys[0]]) if keys else 0
    stamps = [(start + timedelta(hours=h)).isoformat(timespec="minutes") for h in range(n_hours)]
    for key in keys:
        q = np.array([r.queue[key] for r in res.replications])
        x = np.array([r.crossed[key] for r in res.replications])
        qm = q.mean(axis=0)
        xm = x.mean(axis=0)
        cm = np.array([r.cost[key] for r in res.replications]).mean(axis=0)
        hm, om = (_hourly_mean(res, key, name, n_hours) for name in ("held", "off_road"))
        half = t_half_width(q)
        # a queue is never negative: the interval is cut at zero
        below = qm - half
        low = np.where(below > 0.0, below, 0.0).tolist()     # as max(0.0, x), NaN too
        high = (qm + half).tolist()
        rows.extend([stamp, *key, *v] for stamp, *v in zip(
            stamps, qm.tolist(), low, high, xm.tolist(), cm.tolist(), hm.tolist(),
            om.tolist(), strict=True))
    return _csv(rows)


def _hourly_mean(res: ExperimentResult, key: tuple[str, str], name: str,
                 n_hours: int) -> np.ndarray:
    """The mean over replications of an optional hourly series (zeros where a replication
    has none)."""
    if all(getattr(r, name) for r in res.replications):
        return np.array([getattr(r, name)[key] for r in res.replications]).mean(axis=0)
    return np.zeros(n_hours)


def costs_csv(res: ExperimentResult) -> str:
    rows = [["crossing", "class", "component", "mean", "ci_low", "ci_high", "std", "n"]]
    for key in res.keys():
        for comp in (*COMPONENTS, "total"):
            if comp == "total":
                vals = res.values(key, "cost_total")
            else:
                vals = res.cost_values(key, comp)
            iv = clip_metric(t_interval(vals), comp)
            rows.append([*key, comp, iv.mean, iv.ci_low, iv.ci_high, iv.std, iv.n])
    return _csv(rows)


SERIES_FILE = "timeseries_replications.npz"


def write_series(path: Path, res: ExperimentResult) -> None:
    """Hourly queue and crossings of every replication, per crossing × class (no totals),
    with the hours queued and in the system of the units crossed each hour: what
    `bordersim check` needs to sum any group of crossings and classes."""
    keys = [k for k in res.keys() if "all" not in k]
    queue = np.array([[r.queue[k] for k in keys] for r in res.replications], dtype=np.int32)
    crossed = np.array([[r.crossed[k] for k in keys] for r in res.replications],
                       dtype=np.int32)
    sums = {}
    if all(r.wait_sum for r in res.replications):
        sums = {name: np.array([[getattr(r, name)[k] for k in keys] for r in res.replications],
                               dtype=float).reshape(queue.shape)
                for name in ("wait_sum", "tis_sum")}
    for name in ("held", "off_road"):        # counts at each hour mark, where there are
        if all(getattr(r, name) for r in res.replications):
            sums[name] = np.array([[getattr(r, name)[k] for k in keys]
                                   for r in res.replications],
                                  dtype=np.int32).reshape(queue.shape)
    with open(path, "wb") as f:
        np.savez_compressed(f, queue=queue, crossed=crossed, **sums,
                            crossing=np.array([k[0] for k in keys]),
                            cls=np.array([k[1] for k in keys]),
                            start=np.array(res.scenario.start.isoformat()))


WAITS_FILE = "waits_replications.npz"


def write_waits(path: Path, res: ExperimentResult) -> None:
    """Histogram of the waits of crossed units per replication × crossing × class (no totals),
    bins from ``measure.WAIT_EDGES_H``: what the report needs to draw wait distributions."""
    from bordersim.measure import WAIT_EDGES_H

    keys = [k for k in res.keys() if "all" not in k]
    counts = np.array([[r.wait_hist[k] for k in keys] for r in res.replications],
                      dtype=np.int32).reshape(len(res.replications), len(keys), -1)
    with open(path, "wb") as f:
        np.savez_compressed(f, counts=counts, edges_h=WAIT_EDGES_H,
                            crossing=np.array([k[0] for k in keys], dtype=str),
                            cls=np.array([k[1] for k in keys], dtype=str))


def manifest(res: ExperimentResult, loaded: LoadedScenario, command: list[str],
             started: datetime, finished: datetime) -> dict:
    import simpy

    return {
        "scenario": res.scenario.name,
        "source": loaded.source,
        "scenario_sha256": loaded.sha256,
        "seed": res.seed,
        "replications": len(res.replications),
        "start": res.scenario.start.isoformat(),
        "duration_h": res.scenario.duration,
        "warmup_h": res.scenario.warmup,
        "cooldown_h": res.scenario.cooldown,
        "engine": res.engine,
        "currency": res.scenario.economics.currency if res.scenario.economics else None,
        "versions": {
            "bordersim": __version__,
            "simpy": simpy.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
        "command": command,
        "started": started.isoformat(timespec="seconds"),
        "finished": finished.isoformat(timespec="seconds"),
        "wall_seconds": round((finished - started).total_seconds(), 3),
        "posterior": (None if res.posterior is None else
                      {**res.posterior.describe(), "reference": res.reference is not None}),
    }


def write_results(out: Path, res: ExperimentResult, loaded: LoadedScenario,
                  command: list[str] | None = None, started: datetime | None = None,
                  finished: datetime | None = None, *, force: bool = False) -> Path:
    """Write the results folder at ``out``: a new or empty folder, or with ``force`` an
    earlier results folder (any other folder is refused with ScenarioError)."""
    finished = finished or datetime.now()
    started = started or finished
    command = list(sys.argv) if command is None else command

    def write(tmp: Path) -> None:
        (tmp / "manifest.json").write_text(
            json.dumps(manifest(res, loaded, command, started, finished), indent=2) + "\n")
        (tmp / "scenario.resolved.yaml").write_text(dump_yaml(loaded.resolved))
        (tmp / "summary.csv").write_text(summary_csv(res))
        (tmp / "replications.csv").write_text(replications_csv(res))
        (tmp / "timeseries.csv").write_text(timeseries_csv(res))
        (tmp / "costs.csv").write_text(costs_csv(res))
        write_series(tmp / SERIES_FILE, res)
        if res.posterior is not None:
            (tmp / "posterior_draws.csv").write_text(posterior_csv(res))
        if res.reference is not None:
            (tmp / "reference_replications.csv").write_text(replications_csv(res.reference))
        if all(r.wait_hist for r in res.replications):
            write_waits(tmp / WAITS_FILE, res)

    return atomic_folder(out, write, "results", force=force)


def shown_keys(keys: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Rows worth showing: totals only where they add up more than one row, and never a
    total identical to another shown (one crossing's total is the grand total)."""
    own = [k for k in keys if ALL not in k]
    n_cls = {c: sum(1 for x in own if x[0] == c) for c, _ in own}
    n_crs = {k: sum(1 for x in own if x[1] == k) for _, k in own}
    one_crossing = len({c for c, _ in own}) == 1
    one_class = len({k for _, k in own}) == 1
    out = []
    for c, k in keys:
        if (c != ALL and k != ALL) or (c != ALL and n_cls.get(c, 0) > 1) \
                or (c == ALL and k != ALL and n_crs.get(k, 0) > 1) \
                or (c == ALL and k == ALL and len(own) > 1
                    and not one_crossing and not one_class):
            out.append((c, k))
    return out
