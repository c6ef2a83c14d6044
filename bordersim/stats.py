"""Statistics over replications: means, Student-t intervals, paired differences."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

__all__ = ["Interval", "t_interval", "t_half_width", "paired_interval", "welch_interval"]


@lru_cache(maxsize=1024)
def _t_quantile(p: float, df: float) -> float:
    """Student-t quantile: scipy.special's inverse of the t distribution function, which is
    what scipy.stats.t.ppf computes, without importing scipy.stats (0.6 s). Imported here,
    on first use, so that importing bordersim (and ``bordersim --help``) pays for neither."""
    from scipy.special import stdtrit

    return float(stdtrit(df, p))


@dataclass(frozen=True)
class Interval:
    mean: float
    ci_low: float
    ci_high: float
    std: float
    n: int

    @property
    def half_width(self) -> float:
        return (self.ci_high - self.ci_low) / 2

    def contains(self, value: float) -> bool:
        return self.ci_low <= value <= self.ci_high


def t_half_width(values: np.ndarray, axis: int = 0, level: float = 0.95) -> np.ndarray:
    """Half-width t(1-(1-level)/2, n-1)·s/√n over ``axis`` (n replications); NaN when n < 2."""
    n = values.shape[axis]
    if n < 2:
        return np.full(np.delete(values.shape, axis), math.nan)
    t = _t_quantile(0.5 + level / 2, n - 1)
    return t * values.std(axis=axis, ddof=1) / math.sqrt(n)


def t_interval(values, level: float = 0.95) -> Interval:
    """mean ± t(1-(1-level)/2, n-1)·s/√n over the finite values; NaN bounds when n < 2."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    n = len(x)
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, math.nan, 0)
    mean = float(x.mean())
    if n == 1:
        return Interval(mean, math.nan, math.nan, math.nan, 1)
    half = float(t_half_width(x, level=level))
    return Interval(mean, mean - half, mean + half, float(x.std(ddof=1)), n)


def paired_interval(base, other, level: float = 0.95) -> Interval:
    """Interval of other − base, replication by replication (same seeds)."""
    b = np.asarray(base, dtype=float)
    o = np.asarray(other, dtype=float)
    return t_interval(o - b, level)


def welch_interval(base, other, level: float = 0.95) -> Interval:
    """Interval of mean(other) − mean(base) for independent samples (Welch)."""
    b = np.asarray(base, dtype=float)
    o = np.asarray(other, dtype=float)
    b, o = b[np.isfinite(b)], o[np.isfinite(o)]
    nb, no = len(b), len(o)
    if nb < 2 or no < 2:
        d = float(o.mean() - b.mean()) if nb and no else math.nan
        return Interval(d, math.nan, math.nan, math.nan, min(nb, no))
    vb, vo = b.var(ddof=1) / nb, o.var(ddof=1) / no
    se = math.sqrt(vb + vo)
    d = float(o.mean() - b.mean())
    if se == 0:
        return Interval(d, d, d, 0.0, min(nb, no))
    df = (vb + vo) ** 2 / (vb**2 / (nb - 1) + vo**2 / (no - 1))
    half = _t_quantile(0.5 + level / 2, df) * se
    return Interval(d, d - half, d + half, se, min(nb, no))
