"""Replications of a scenario, on local processes or a Dask cluster, gathered in order.

Replication ``r`` draws from ``SeedSequence(seed, spawn_key=(r, ...))`` whichever
process runs it, and results are combined in replication order, so the output
is identical for any number of workers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np

from bordersim.executors import default_workers, make_executor, replication_batches
from bordersim.measure import METRICS, ReplicationResult, measure
from bordersim.metrics import clip_metric
from bordersim.model import ENGINES, run_model
from bordersim.scenario import ALL, Scenario
from bordersim.stats import Interval, t_interval

__all__ = ["simulate", "run_experiment", "ExperimentResult", "default_workers"]


def simulate(scn: Scenario, replication: int, seed: int | None = None,
             engine: str = "auto") -> ReplicationResult:
    """One replication, start to end: a pure function of scenario, seed and index.
    ``engine``: ``auto`` computes the lanes that qualify by the exact recursion and the
    rest by events; ``des`` runs everything as events. The results are the same."""
    seed = scn.seed if seed is None else seed
    eng = run_model(scn, replication, seed, engine)
    return measure(eng, scn, replication)


def _batch(scn: Scenario, seed: int, engine: str, per_replication, reps: list[int]
           ) -> list[ReplicationResult]:
    if per_replication is None:
        return [simulate(scn, r, seed, engine) for r in reps]
    return [simulate(per_replication.scenario(r), r, seed, engine) for r in reps]


@dataclass
class ExperimentResult:
    scenario: Scenario
    seed: int
    replications: list[ReplicationResult]
    # with a posterior: the draw each replication ran, and the same replications at the
    # scenario's own values (the Monte Carlo reference that splits the variance)
    engine: str = "auto"
    posterior: object = None
    draws: list[int] | None = None
    reference: ExperimentResult | None = None

    def keys(self) -> list[tuple[str, str]]:
        """(crossing, class) rows in scenario order, totals last."""
        crossings = [*self.scenario.crossings, ALL]
        classes = [*self.scenario.classes, ALL]
        present = set(self.replications[0].metrics)
        return [(c, k) for c in crossings for k in classes if (c, k) in present]

    def values(self, key: tuple[str, str], metric: str) -> np.ndarray:
        return np.array([r.metrics[key][metric] for r in self.replications], dtype=float)

    def interval(self, key: tuple[str, str], metric: str) -> Interval:
        """Mean and 95% t-interval over replications, cut to the metric's range."""
        return clip_metric(t_interval(self.values(key, metric)), metric)

    def cost_values(self, key: tuple[str, str], component: str) -> np.ndarray:
        return np.array([r.costs[key][component] for r in self.replications], dtype=float)

    def summary_rows(self):
        for key in self.keys():
            for metric in METRICS:
                yield key, metric, self.interval(key, metric)

    def spread(self, key: tuple[str, str], metric: str) -> tuple[float, float]:
        """The 5th and 95th percentiles over replications (with a posterior, the interval
        that carries parameter and Monte Carlo uncertainty)."""
        return percentiles(self.values(key, metric))

    def parameter_share(self, key: tuple[str, str], metric: str) -> float:
        """The share of the replications' variance that the parameters account for:
        1 - var(at the scenario's own values) / var(over posterior draws), in [0, 1]; NaN
        without a posterior reference."""
        if self.reference is None:
            return float("nan")
        return variance_share(self.values(key, metric),
                              self.reference.values(key, metric))


def percentiles(x: np.ndarray) -> tuple[float, float]:
    x = x[np.isfinite(x)]
    if len(x) < 2:
        return float("nan"), float("nan")
    lo, hi = np.percentile(x, [5, 95])
    return float(lo), float(hi)


def variance_share(with_parameters: np.ndarray, fixed: np.ndarray) -> float:
    a = with_parameters[np.isfinite(with_parameters)]
    b = fixed[np.isfinite(fixed)]
    if len(a) < 2 or len(b) < 2:
        return float("nan")
    va, vb = float(a.var(ddof=1)), float(b.var(ddof=1))
    if va == 0:
        return 0.0 if vb == 0 else float("nan")
    return min(1.0, max(0.0, 1.0 - vb / va))


def run_experiment(scn: Scenario, *, workers: int | None = None,
                   progress: Callable[[int], None] | None = None,
                   scheduler: str | None = None, engine: str = "auto", posterior=None,
                   reference: bool = True) -> ExperimentResult:
    """Run the scenario's replications, with its seed, on local processes (``workers``) or
    on the Dask cluster at ``scheduler``; ``progress(k)`` is called as each batch of k
    finishes. With ``posterior`` (a :class:`bordersim.calibrate.PosteriorScenarios`),
    replication r runs posterior draw r, and with ``reference`` the same replications are
    run again at the scenario's own values, to split the spread into parameter and Monte
    Carlo uncertainty (``progress`` then counts both). ``engine``: see :func:`simulate`."""
    if engine not in ENGINES:
        raise ValueError(f"engine: expected one of {', '.join(ENGINES)}, got {engine!r}")
    n, seed = scn.replications, scn.seed
    if posterior is not None:
        posterior.check(n)
    done: dict[tuple[bool, int], ReplicationResult] = {}
    jobs = [(False, posterior)]
    if posterior is not None and reference:
        jobs.append((True, None))
    with make_executor(None if scheduler else max(1, min(workers or default_workers(),
                                                         n * len(jobs))),
                       scheduler) as executor:
        tasks = [(ref, per, reps) for ref, per in jobs
                 for reps in replication_batches(n, executor.workers)]
        for ref, results in executor.map_unordered(partial(_job, scn, seed, engine), tasks):
            for res in results:
                done[(ref, res.replication)] = res
            if progress:
                progress(len(results))
    res = ExperimentResult(scn, seed, [done[(False, r)] for r in range(n)], engine)
    if posterior is not None:
        res.posterior = posterior.posterior
        res.draws = [posterior.draw(r) for r in range(n)]
        if reference:
            res.reference = ExperimentResult(scn, seed, [done[(True, r)] for r in range(n)],
                                             engine)
    return res


def _job(scn: Scenario, seed: int, engine: str, task) -> tuple[bool, list[ReplicationResult]]:
    ref, per_replication, reps = task
    return ref, _batch(scn, seed, engine, per_replication, reps)
