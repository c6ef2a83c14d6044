"""ABC-SMC with pyabc: generations of parameter sets, each closer to the observations.

Generation 0 samples the priors and accepts every simulation (tolerance infinite);
each later generation perturbs the previous population (pyabc's multivariate normal
kernel) and accepts the simulations within a tolerance, the median distance of the
previous population. The run ends when the tolerance reaches 0 (every fitted range
hit), after ``generations`` generations, when a generation's acceptance rate falls
below ``min_acceptance``, or when the next generation is expected to pass ``budget``
simulations (:func:`expected_simulations`; a generation that still runs out of budget
is discarded). The last population is the posterior sample.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyabc

from bordersim.calibrate.problem import CalibrationProblem
from bordersim.calibrate.sampler import CANDIDATE, OrderedSampler, simulation_seed
from bordersim.executors import Executor

__all__ = ["AbcSettings", "Model", "run_abc", "Generation", "expected_simulations",
           "stop_reason"]


@dataclass(frozen=True)
class AbcSettings:
    population: int = 200
    generations: int = 8
    budget: int = 4000
    min_acceptance: float = 0.02
    seed: int = 0

    def as_dict(self) -> dict:
        return {"method": "ABC-SMC (pyabc)", "population": self.population,
                "generations": self.generations, "budget": self.budget,
                "min_acceptance": self.min_acceptance,
                "tolerance": "infinite in generation 0, then the median distance of the "
                             "previous population (pyabc QuantileEpsilon, alpha 0.5)",
                "kernel": "multivariate normal with twice the population's weighted "
                          "covariance (Beaumont et al. 2009)",
                "distance": "weighted mean over fitted observations of the gap to the "
                            "observed range in units of its width; weights R 1, R? 0.5, "
                            "E 0.25"}


@dataclass(frozen=True)
class Generation:
    t: int
    epsilon: float
    accepted: int
    simulations: int
    ess: float

    @property
    def acceptance(self) -> float:
        return self.accepted / self.simulations if self.simulations else math.nan


class Model:
    """The simulator as pyabc calls it: a parameter set -> the observed figures."""

    def __init__(self, problem: CalibrationProblem, seed: int):
        self.problem = problem
        self.seed = seed

    def __call__(self, par) -> dict:
        values = {p.name: float(par[p.name]) for p in self.problem.priors}
        t, i, cached = CANDIDATE.get()
        if cached is not None and cached[0] == values:
            return {"figures": np.asarray(cached[1], dtype=float)}
        figs = self.problem.figures(values, i, simulation_seed(self.seed, t), fitted_only=True)
        return {"figures": figs}


class _Distance:
    def __init__(self, problem: CalibrationProblem):
        self.distance = problem.distance

    def __call__(self, x, x_0) -> float:
        return self.distance(x["figures"])


class Tolerance(pyabc.QuantileEpsilon):
    """Infinite in generation 0, then the weighted median distance of the previous
    population as pyabc's history holds it (also after a resume)."""

    def __init__(self):
        super().__init__(initial_epsilon=math.inf, alpha=0.5)

    def requires_calibration(self) -> bool:
        return False

    def initialize(self, t, get_weighted_distances, get_all_records, max_nr_populations,
                   acceptor_config):
        if t == 0:
            self._look_up = {0: math.inf}
        else:
            self._update(t, get_weighted_distances())


def _quiet_pyabc() -> None:
    for name in ("ABC", "ABC.History", "ABC.Sampler", "ABC.Distance", "ABC.Epsilon",
                 "ABC.Adaptation", "ABC.Population", "ABC.Predictor", "ABC.Transition"):
        logging.getLogger(name).setLevel(logging.WARNING)


def twice_the_covariance(n: int, d: int) -> float:
    """The perturbation kernel's bandwidth factor: a covariance of twice the population's
    weighted covariance (Beaumont et al. 2009), which keeps the importance weights even
    in ten or more dimensions where Silverman's rule makes them degenerate."""
    return math.sqrt(2.0)


def _abc(problem: CalibrationProblem, settings: AbcSettings, sampler: OrderedSampler):
    prior = pyabc.Distribution(**{
        p.name: (pyabc.RV("loguniform", p.low, p.high) if p.scale == "log"
                 else pyabc.RV("uniform", p.low, p.high - p.low))
        for p in problem.priors})
    return pyabc.ABCSMC(
        Model(problem, settings.seed), prior, _Distance(problem),
        population_size=settings.population, sampler=sampler,
        transitions=pyabc.MultivariateNormalTransition(
            bandwidth_selector=twice_the_covariance),
        eps=Tolerance(),
        stop_if_only_single_model_alive=False)


def run_abc(problem: CalibrationProblem, settings: AbcSettings, db_path: str,
            executor: Executor, *, resume: bool,
            progress: Callable | None = None, cache=None, record=None,
            on_generation: Callable[[Generation], None] | None = None):
    """Run (or continue) the ABC-SMC; returns the pyabc History.

    Each generation starts from pyabc's stored history, whether or not the run was
    interrupted before it, so that a resumed run takes exactly the same path."""
    _quiet_pyabc()
    sampler = OrderedSampler(executor, settings.seed, budget=settings.budget,
                             progress=progress, cache=cache, record=record)
    db = f"sqlite:///{db_path}"
    if not resume:
        _abc(problem, settings, sampler).new(db, {"figures": np.zeros(len(problem.used))})
    while True:
        abc = _abc(problem, settings, sampler)
        history = abc.load(db, 1)
        gens = generations(history)
        if gens:
            last = gens[-1]
            sampler.used = sum(g.simulations for g in gens)
            sampler.rate = last.acceptance
            if stop_reason(gens, settings) is not None:
                return history
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)   # pyabc's inf - inf
            abc.run(minimum_epsilon=0.0, max_nr_populations=1,
                    min_acceptance_rate=settings.min_acceptance)
        after = generations(abc.history)
        if len(after) == len(gens):       # the budget ran out within the generation
            return abc.history
        if on_generation:
            on_generation(after[-1])


def expected_simulations(gens: list[Generation], population: int) -> float:
    """Simulations the next generation is expected to take: the population over the
    acceptance expected, the last generation's times its ratio to the one before (the
    acceptance falls as the tolerance tightens), never more than the last's."""
    rate = gens[-1].acceptance
    if len(gens) >= 2 and gens[-2].acceptance > 0:
        rate *= min(1.0, rate / gens[-2].acceptance)
    return population / rate if rate > 0 else math.inf


def stop_reason(gens: list[Generation], settings: AbcSettings) -> str | None:
    """Why the calibration stops after these generations, or None to go on."""
    last = gens[-1]
    used = sum(g.simulations for g in gens)
    if len(gens) >= settings.generations:
        return f"{settings.generations} generations, the most asked for"
    if last.epsilon <= 0.0:
        return "tolerance 0: every fitted figure inside its range"
    if last.acceptance < settings.min_acceptance:
        return (f"acceptance {last.acceptance:.1%}, below the least asked for "
                f"({settings.min_acceptance:.0%})")
    need = expected_simulations(gens, settings.population)
    if used + need > settings.budget:
        return (f"the next generation would take about {need:,.0f} simulations, "
                f"{settings.budget - used:,} were left of the budget of {settings.budget:,}")
    return None


def generations(history) -> list[Generation]:
    """Every stored generation, from pyabc's history."""
    out = []
    pops = history.get_all_populations()
    for _, row in pops[pops["t"] >= 0].iterrows():
        t = int(row["t"])
        _, w = history.get_distribution(m=0, t=t)
        w = np.asarray(w, dtype=float)
        out.append(Generation(t, float(row["epsilon"]), int(row["particles"]),
                              int(row["samples"]), float(w.sum() ** 2 / (w ** 2).sum())))
    return out
