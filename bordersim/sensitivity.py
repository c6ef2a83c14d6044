"""What a sweep says: per-point intervals and partial rank correlation coefficients.

PRCC (Marino et al. 2008, J. Theor. Biol. 254:178): rank-transform every
parameter and the output, remove from the ranks of one parameter and of the
output what a linear regression on the other parameters' ranks explains, and
correlate the two residuals. It measures a monotone effect of one parameter
with the others held fixed. Its test is the partial correlation's: t = r·√(df/(1−r²))
with df = n − 2 − k, k the number of other parameters.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats as sps

__all__ = ["prcc"]


def _residuals(y: np.ndarray, others: np.ndarray) -> np.ndarray:
    a = np.column_stack([np.ones(len(y)), others])
    coef, *_ = np.linalg.lstsq(a, y, rcond=None)
    return y - a @ coef


def prcc(x: np.ndarray, y: np.ndarray) -> list[tuple[float, float]]:
    """(coefficient, two-sided p-value) of each column of ``x`` (points × parameters) on
    ``y``; NaN where a parameter or the output does not vary, or there are too few points.
    Rows with a non-finite output are left out."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    keep = np.isfinite(y) & np.all(np.isfinite(x), axis=1)
    x, y = x[keep], y[keep]
    n, k = x.shape
    out = []
    df = n - 2 - (k - 1)
    if df < 1:
        return [(math.nan, math.nan)] * k
    ranks = np.column_stack([sps.rankdata(x[:, j]) for j in range(k)]) if k else x
    ry = sps.rankdata(y)
    for j in range(k):
        others = np.delete(ranks, j, axis=1)
        ex = _residuals(ranks[:, j], others)
        ey = _residuals(ry, others)
        sx, sy = math.sqrt(float(ex @ ex)), math.sqrt(float(ey @ ey))
        scale = max(1.0, float(n))
        if sx < 1e-9 * scale or sy < 1e-9 * scale:
            out.append((math.nan, math.nan))
            continue
        r = float(np.clip((ex @ ey) / (sx * sy), -1.0, 1.0))
        if abs(r) >= 1.0:
            out.append((r, 0.0))
            continue
        t = r * math.sqrt(df / (1.0 - r * r))
        out.append((r, float(2.0 * sps.t.sf(abs(t), df))))
    return out
