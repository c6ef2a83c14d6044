"""Event times to the last bit.

SimPy puts an event at ``now + delay``, rounded. A chain of timeouts over the
arrivals in time order (arrival k+1 scheduled ``t[k+1] - t[k]`` after arrival k)
therefore keeps a clock that may differ from the drawn times in the last bit; the
engine's results are defined by that clock. :func:`arrival_clock` computes it for
every unit without running the chain, so that units can be sent through separate
chains (one per part of the border that interacts) or through the exact recursion,
and still see the same clock to the bit. :func:`hops` finds delays that land an
event exactly on a given time.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["arrival_clock", "hops", "chain_delays"]


def arrival_clock(times: list[np.ndarray]) -> list[np.ndarray]:
    """For each array of arrival times, the simulation clock at those arrivals when one
    chain of timeouts visits all arrivals of all arrays in time order."""
    allt = np.concatenate(times) if times else np.empty(0)
    if len(allt) == 0:
        return [np.asarray(t, dtype=float) for t in times]
    s = np.sort(allt)
    steps = np.empty_like(s)
    steps[0] = s[0]
    np.subtract(s[1:], s[:-1], out=steps[1:])
    clock = np.cumsum(steps)            # sequential, as SimPy adds each delay to now
    off = clock != s
    if not off.any():
        return [np.asarray(t, dtype=float) for t in times]
    # equal times get equal clocks (their delays are 0), so the clock is a function of t
    values, at = s[off], clock[off]
    out = []
    for t in times:
        c = t.astype(float, copy=True)
        if len(t):
            idx = np.minimum(np.searchsorted(values, t), len(values) - 1)
            hit = values[idx] == t
            c[hit] = at[idx[hit]]
        out.append(c)
    return out


def hops(now: float, target: float) -> list[float]:
    """Delays of successive timeouts from ``now`` that end exactly at ``target`` (≥ now):
    one delay almost always; two when no single delay rounds to ``target``."""
    d = target - now
    if now + d == target:
        return [d]
    while now + d > target:
        d = math.nextafter(d, -math.inf)
    c = now + d
    if c == target:
        return [d]
    return [d, target - c]    # c ≥ target/2, so target - c is exact and c + it == target


def chain_delays(clock: np.ndarray) -> tuple[np.ndarray, list[int]]:
    """Delays of a chain of timeouts from time 0 through the sorted times ``clock``, and
    the positions where one delay does not land exactly (to be split by :func:`hops`)."""
    delays = np.empty_like(clock)
    if len(clock) == 0:
        return delays, []
    delays[0] = clock[0]
    np.subtract(clock[1:], clock[:-1], out=delays[1:])
    landed = np.empty_like(clock)
    landed[0] = clock[0]
    np.add(clock[:-1], delays[1:], out=landed[1:])
    return delays, np.flatnonzero(landed != clock).tolist()
