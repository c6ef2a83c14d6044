"""Simulated waits against exact queueing theory.

Each case is a one-lane queue with Poisson arrivals whose steady-state mean
wait in queue is known exactly (Erlang C for M/M/c, Pollaczek–Khinchine for
M/G/1). R replications from a fixed seed, with a warm-up and a cool-down; the
tolerance is derived from the replications themselves: the mean over
replications must lie within ``K`` standard errors ``s/√R`` of the exact value.
Nothing here is a number pinned from an earlier run.

The parameters deliberately differ from those of ``bordersim.verify`` so the
two check different corners. The fast set runs by default; the ``slow`` set
(``pytest -m slow``) uses more replications and longer runs, with a longer
warm-up so that the start-up bias stays small beside the smaller error.
"""

from __future__ import annotations

import math
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
import pytest

from bordersim.experiment import default_workers
from bordersim.measure import measure
from bordersim.model import Outcome, run_model
from bordersim.scenario import Scenario
from bordersim.theory import erlang_c, mg1_wq, mmc_wq
from bordersim.verify import queue_scenario

K = 3.0                      # standard errors allowed between simulation and theory
KEY = ("x", "unit")


@dataclass(frozen=True)
class Case:
    name: str
    lam_per_h: float
    service: dict | str      # as written in a scenario file
    mean_s_h: float
    var_s_h2: float
    booths: int
    exponential: bool        # M/M/c: Erlang C applies for any number of booths

    @property
    def rho(self) -> float:
        return self.lam_per_h * self.mean_s_h / self.booths

    @property
    def wq(self) -> float:
        if self.exponential:
            return mmc_wq(self.lam_per_h, 1.0 / self.mean_s_h, self.booths)
        assert self.booths == 1, "Pollaczek–Khinchine is for one server"
        return mg1_wq(self.lam_per_h, self.mean_s_h, self.var_s_h2)

    @property
    def p_wait(self) -> float:
        """P(an arrival waits): Erlang C; for M/G/1 the load ρ (PASTA)."""
        if self.exponential:
            return erlang_c(self.lam_per_h, 1.0 / self.mean_s_h, self.booths)
        return self.rho


def _exp(mean_min: float) -> dict:
    return {"dist": "exponential", "mean": f"{mean_min}min"}


CASES = [
    # M/M/3, λ = 8/h, mean service 18 min: ρ = 0.8
    Case("M/M/3", 8.0, _exp(18), 0.3, 0.09, 3, True),
    # M/M/5, λ = 10.5/h, mean service 20 min: ρ = 0.7
    Case("M/M/5", 10.5, _exp(20), 1 / 3, 1 / 9, 5, True),
    # M/D/1, λ = 4/h, D = 12 min: ρ = 0.8
    Case("M/D/1", 4.0, "12min", 0.2, 0.0, 1, False),
    # M/G/1 gamma, λ = 2.4/h, mean 20 min, cv 1.3 (more variable than exponential): ρ = 0.8
    Case("M/G/1-gamma", 2.4, {"dist": "gamma", "mean": "20min", "cv": 1.3},
         1 / 3, (1.3 / 3) ** 2, 1, False),
    # M/G/1 lognormal, λ = 7/h, mean 6 min, cv 0.8: ρ = 0.7
    Case("M/G/1-lognormal", 7.0, {"dist": "lognormal", "mean": "6min", "cv": 0.8},
         0.1, 0.08**2, 1, False),
]
IDS = [c.name for c in CASES]


@dataclass(frozen=True)
class Plan:
    replications: int
    days: float
    warmup_days: float
    cooldown_days: float
    seed: int


FAST = Plan(replications=30, days=50, warmup_days=4, cooldown_days=1, seed=90210)
SLOW = Plan(replications=96, days=160, warmup_days=10, cooldown_days=2, seed=31337)


def _scenario(case: Case, plan: Plan) -> Scenario:
    """The case's queue; each case its own seed, so the checks are independent of each other.

    (With one seed, every case would draw from the same named streams and the cases'
    errors would move together.)
    """
    slug = case.name.lower().replace("/", "").replace("-", "_")
    seed = plan.seed + 1009 * CASES.index(case)
    return queue_scenario(f"theory_{slug}", case.lam_per_h, case.service, case.booths,
                          plan.days, plan.warmup_days, plan.cooldown_days, seed,
                          plan.replications)


def _one_replication(scn: Scenario, r: int) -> dict:
    """Metrics of replication r plus figures only the engine's records give."""
    eng = run_model(scn, r, scn.seed)
    m = measure(eng, scn, r).metrics[KEY]
    (g,) = eng.groups
    w0, w1 = scn.warmup, scn.duration - scn.cooldown
    arr = np.asarray(g.out_arr)
    wait = np.asarray(g.out_wait)
    code = np.asarray(g.out_code)
    inwin = (arr >= w0) & (arr < w1)
    crossed = inwin & (code == Outcome.CROSSED)
    return {
        "wait_mean_h": m["wait_mean_h"],
        "time_in_system_mean_h": m["time_in_system_mean_h"],
        "queue_mean": m["queue_mean"],
        "waiting_hours_total": m["waiting_hours_total"],
        "crossed": m["crossed"],
        "p_wait": float(np.mean(wait[crossed] > 0.0)),
        # waits of every unit arriving in the window, whatever became of it
        "waits_sum_h": float(wait[inwin].sum()),
        "wait_mean_records_h": float(wait[crossed].mean()),
    }


def _replicate(scn: Scenario) -> dict[str, np.ndarray]:
    reps = range(scn.replications)
    workers = max(1, min(default_workers(), 2))
    if workers == 1:
        rows = [_one_replication(scn, r) for r in reps]
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            rows = list(pool.map(_one_replication, [scn] * len(reps), reps))
    return {k: np.array([row[k] for row in rows]) for k in rows[0]}


_CACHE: dict[tuple[str, Plan], tuple[Scenario, dict[str, np.ndarray]]] = {}


def _run(case: Case, plan: Plan) -> tuple[Scenario, dict[str, np.ndarray]]:
    key = (case.name, plan)
    if key not in _CACHE:
        scn = _scenario(case, plan)
        _CACHE[key] = (scn, _replicate(scn))
    return _CACHE[key]


def _se(x: np.ndarray) -> float:
    return float(x.std(ddof=1) / math.sqrt(len(x)))


def _assert_close(what: str, x: np.ndarray, exact: float, max_rel_se: float | None = 0.1):
    """|mean − exact| ≤ K·s/√R; and the test has power: the error is not huge."""
    assert len(x) >= 10 and np.all(np.isfinite(x)), f"{what}: bad replication values {x}"
    mean, se = float(x.mean()), _se(x)
    z = (mean - exact) / se if se > 0 else (0.0 if mean == exact else math.inf)
    assert abs(mean - exact) <= K * se, (
        f"{what}: simulated {mean:.5g} ± {se:.2g} (SE over {len(x)} replications) "
        f"vs exact {exact:.5g}: z = {z:.2f}, allowed |z| <= {K}")
    if max_rel_se is not None and exact != 0:
        assert se <= max_rel_se * abs(exact), (
            f"{what}: standard error {se:.3g} is too large for the check to mean anything "
            f"(exact {exact:.4g}); run longer")


def _check_wait(case: Case, plan: Plan) -> None:
    assert 0.6 <= case.rho <= 0.9
    _, v = _run(case, plan)
    _assert_close(f"{case.name} mean wait in queue (h)", v["wait_mean_h"], case.wq)


def _check_sojourn(case: Case, plan: Plan) -> None:
    _, v = _run(case, plan)
    _assert_close(f"{case.name} mean time in system (h)", v["time_in_system_mean_h"],
                  case.wq + case.mean_s_h)


def _check_p_wait(case: Case, plan: Plan) -> None:
    _, v = _run(case, plan)
    _assert_close(f"{case.name} P(wait > 0)", v["p_wait"], case.p_wait)


def _check_little(case: Case, plan: Plan) -> None:
    scn, v = _run(case, plan)
    span = scn.duration - scn.cooldown - scn.warmup
    q = v["queue_mean"]
    # the metric is the time integral over the window divided by its length
    np.testing.assert_allclose(v["waiting_hours_total"], q * span, rtol=1e-12)
    # the records and the metric agree on the mean wait of crossed units
    np.testing.assert_allclose(v["wait_mean_records_h"], v["wait_mean_h"], rtol=1e-12)
    # time-average queue = Σ waits of the window's arrivals / window: zero in expectation
    # in steady state (what leaks in at the start balances what leaks out at the end)
    _assert_close(f"{case.name} queue_mean − Σwaits/window", q - v["waits_sum_h"] / span,
                  0.0, max_rel_se=None)
    # L = λW with the exact arrival rate, replication by replication
    _assert_close(f"{case.name} queue_mean − λ·wait_mean",
                  q - case.lam_per_h * v["wait_mean_h"], 0.0, max_rel_se=None)
    # and L against the exact λ·Wq
    _assert_close(f"{case.name} time-average queue", q, case.lam_per_h * case.wq)


# ---- fast (default) ----------------------------------------------------------------------

@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_mean_wait_matches_theory(case):
    _check_wait(case, FAST)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_time_in_system_is_wait_plus_service(case):
    _check_sojourn(case, FAST)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_probability_of_waiting(case):
    """Erlang C for M/M/c (c > 1), ρ for M/G/1: fraction of crossed units with a wait > 0."""
    _check_p_wait(case, FAST)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_littles_law(case):
    _check_little(case, FAST)


def test_cases_differ_from_verify_and_span_the_loads():
    from bordersim.verify import checks

    theirs = {(round(c.scenario.crossings["x"].demand["unit"], 9),
               c.scenario.crossings["x"].stages[0].lanes[0].booths) for c in checks()}
    ours = {(round(c.lam_per_h * 24, 9), c.booths) for c in CASES}
    assert not theirs & ours
    assert any(c.exponential and c.booths > 1 for c in CASES)
    assert all(0.6 <= c.rho <= 0.9 for c in CASES)
    assert all(_scenario(c, FAST).cooldown > 0 and _scenario(c, FAST).warmup > 0 for c in CASES)


# ---- slow: more replications, longer runs ------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_mean_wait_matches_theory_long(case):
    _check_wait(case, SLOW)
    _check_sojourn(case, SLOW)


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_probability_of_waiting_long(case):
    _check_p_wait(case, SLOW)


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_littles_law_long(case):
    _check_little(case, SLOW)
