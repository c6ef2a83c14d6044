"""``bordersim verify``: simulated waits beside exact queueing theory.

Each check is a one-crossing, one-lane scenario whose mean wait in queue is
known exactly. The simulated mean over replications gets a Student-t
interval; a check fails when the exact value lies outside it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from bordersim.experiment import ExperimentResult, run_experiment
from bordersim.loading import scenario_from_dict
from bordersim.scenario import Scenario
from bordersim.stats import Interval, t_interval
from bordersim.theory import mg1_wq, mmc_wq

__all__ = ["Check", "CheckResult", "checks", "queue_scenario", "run_checks"]


def queue_scenario(name: str, lam_per_h: float, service: dict, booths: int, days: float,
                   warmup_days: float, cooldown_days: float, seed: int = 7,
                   replications: int = 20) -> Scenario:
    """A single-lane queue: Poisson arrivals at ``lam_per_h``, ``booths`` parallel servers."""
    data = {
        "name": name,
        "start": "2020-01-01",
        "duration": f"{days}d",
        "warmup": f"{warmup_days}d",
        "cooldown": f"{cooldown_days}d",
        "replications": replications,
        "seed": seed,
        "classes": {"unit": {"persons": 1}},
        "crossings": {"x": {
            "demand": {"unit": lam_per_h * 24},
            "stages": [{"name": "s", "lanes": [{
                "name": "l", "serves": ["unit"], "booths": booths,
                "service": {"unit": service}}]}],
        }},
    }
    return scenario_from_dict(data, f"<verify {name}>").scenario


@dataclass(frozen=True)
class Check:
    name: str
    what: str
    scenario: Scenario
    exact: float
    statistic: Callable[[ExperimentResult], np.ndarray]


@dataclass(frozen=True)
class CheckResult:
    check: Check
    interval: Interval

    @property
    def passed(self) -> bool:
        return self.interval.contains(self.check.exact)

    @property
    def z(self) -> float:
        se = self.interval.std / math.sqrt(self.interval.n)
        return (self.interval.mean - self.check.exact) / se if se > 0 else math.nan


KEY = ("x", "unit")


def _wait(res: ExperimentResult) -> np.ndarray:
    return res.values(KEY, "wait_mean_h")


def _little_gap(res: ExperimentResult) -> np.ndarray:
    """Time-average queue minus (sum of waits)/window: zero by Little's law."""
    scn = res.scenario
    span = scn.duration - scn.cooldown - scn.warmup
    q = res.values(KEY, "queue_mean")
    w = res.values(KEY, "wait_mean_h") * res.values(KEY, "crossed")
    return q - w / span


def checks(seed: int = 7, replications: int = 20) -> list[Check]:
    out = []
    lam, mu = 2.0, 2.5
    out.append(Check("M/M/1", "λ=2/h, μ=2.5/h, mean wait in queue (h)",
                     queue_scenario("mm1", lam, {"dist": "exponential", "mean": 1 / mu}, 1,
                                    120, 10, 3, seed, replications),
                     mmc_wq(lam, mu, 1), _wait))
    lam, mu, c = 7.0, 1.0, 9
    out.append(Check("M/M/9", "λ=7/h, μ=1/h, Erlang C mean wait (h)",
                     queue_scenario("mmc", lam, {"dist": "exponential", "mean": 1 / mu}, c,
                                    60, 5, 3, seed, replications),
                     mmc_wq(lam, mu, c), _wait))
    lam, d = 1.5, 0.5
    out.append(Check("M/D/1", "λ=1.5/h, D=30min, Pollaczek–Khinchine mean wait (h)",
                     queue_scenario("md1", lam, "30min", 1, 90, 5, 3, seed, replications),
                     mg1_wq(lam, d, 0.0), _wait))
    lam, m, cv = 3.0, 0.25, 0.6
    out.append(Check("M/G/1", "λ=3/h, gamma service mean 15min cv 0.6, P–K mean wait (h)",
                     queue_scenario("mg1", lam, {"dist": "gamma", "mean": "15min", "cv": cv},
                                    1, 90, 5, 3, seed, replications),
                     mg1_wq(lam, m, (cv * m) ** 2), _wait))
    out.append(Check("Little", "M/M/9 above: queue mean − Σwaits/window (units)",
                     out[1].scenario, 0.0, _little_gap))
    return out



def run_checks(seed: int = 7, replications: int = 20, workers: int | None = None,
               level: float = 0.99,
               progress: Callable[[int], None] | None = None) -> list[CheckResult]:
    results = []
    cache: dict[str, ExperimentResult] = {}
    for chk in checks(seed, replications):
        key = chk.scenario.name
        if key not in cache:
            cache[key] = run_experiment(chk.scenario, workers=workers, progress=progress)
        results.append(CheckResult(chk, t_interval(chk.statistic(cache[key]), level)))
    return results
