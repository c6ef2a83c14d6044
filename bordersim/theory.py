"""Exact queueing results that bordersim's simulations are checked against."""

from __future__ import annotations

__all__ = ["erlang_c", "mmc_wq", "mg1_wq", "md1_wq", "mm1_wq"]


def erlang_c(lam: float, mu: float, c: int) -> float:
    """Probability that an arrival waits in M/M/c (Erlang C); needs lam < c·mu."""
    a = lam / mu
    rho = a / c
    if not 0 <= rho < 1:
        raise ValueError(f"unstable queue: load per server {rho:.3f} >= 1")
    # terms a^k/k! computed iteratively to stay finite for large c
    term, total = 1.0, 1.0
    for k in range(1, c):
        term *= a / k
        total += term
    last = term * a / c / (1 - rho)
    return last / (total + last)


def mmc_wq(lam: float, mu: float, c: int) -> float:
    """Mean wait in queue of M/M/c, in the time unit of 1/mu."""
    return erlang_c(lam, mu, c) / (c * mu - lam)


def mm1_wq(lam: float, mu: float) -> float:
    return mmc_wq(lam, mu, 1)


def mg1_wq(lam: float, mean_s: float, var_s: float) -> float:
    """Pollaczek–Khinchine: mean wait in queue of M/G/1."""
    rho = lam * mean_s
    if not 0 <= rho < 1:
        raise ValueError(f"unstable queue: load {rho:.3f} >= 1")
    return lam * (var_s + mean_s**2) / (2 * (1 - rho))


def md1_wq(lam: float, d: float) -> float:
    return mg1_wq(lam, d, 0.0)


