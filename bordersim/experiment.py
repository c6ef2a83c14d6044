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


def _batch(scn: Scenario, seed: int, engine: str, reps: list[int]) -> list[ReplicationResult]:
    return [simulate(scn, r, seed, engine) for r in reps]


@dataclass
class ExperimentResult:
    scenario: Scenario
    seed: int
    replications: list[ReplicationResult]
    engine: str = "auto"

    def keys(self) -> list[tuple[str, str]]:
        """(crossing, class) rows in scenario order, totals last."""
        crossings = [*self.scenario.crossings, ALL]
        classes = [*self.scenario.classes, ALL]
        present = set(self.replications[0].metrics)
        return [(c, k) for c in crossings for k in classes if (c, k) in present]

    def values(self, key: tuple[str, str], metric: str) -> np.ndarray:
        return np.array([r.metrics[key][metric] for r in self.replications], dtype=float)

    def interval(self, key: tuple[str, str], metric: str) -> Interval:
        return t_interval(self.values(key, metric))

    def cost_values(self, key: tuple[str, str], component: str) -> np.ndarray:
        return np.array([r.costs[key][component] for r in self.replications], dtype=float)

    def summary_rows(self):
        for key in self.keys():
            for metric in METRICS:
                yield key, metric, self.interval(key, metric)


def run_experiment(scn: Scenario, *, workers: int | None = None,
                   progress: Callable[[int], None] | None = None,
                   scheduler: str | None = None, engine: str = "auto") -> ExperimentResult:
    """Run the scenario's replications, with its seed, on local processes (``workers``) or
    on the Dask cluster at ``scheduler``; ``progress(k)`` is called as each batch of k
    finishes. ``engine``: see :func:`simulate`."""
    if engine not in ENGINES:
        raise ValueError(f"engine: expected one of {', '.join(ENGINES)}, got {engine!r}")
    n, seed = scn.replications, scn.seed
    done: dict[int, ReplicationResult] = {}
    with make_executor(None if scheduler else max(1, min(workers or default_workers(), n)),
                       scheduler) as executor:
        batches = replication_batches(n, executor.workers)
        for results in executor.map_unordered(partial(_batch, scn, seed, engine), batches):
            for res in results:
                done[res.replication] = res
            if progress:
                progress(len(results))
    return ExperimentResult(scn, seed, [done[r] for r in range(n)], engine)
