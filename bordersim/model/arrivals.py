"""Arrival times and each unit's random attributes, drawn before the run.

Every stream is keyed by replication, crossing, class and purpose, so two
scenarios that differ only in policy see the same candidate units with the
same attributes (common random numbers), and adding a crossing or a booth
leaves every other draw alone. Poisson arrivals are non-homogeneous (hourly
profile × demand factor) and drawn exactly by thinning: candidate ``i`` has
the same time and attributes whatever the policy; a lower demand factor only
drops candidates.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np

from bordersim.scenario import ALL, Scenario

__all__ = ["stream", "ArrivalStream", "draw_arrivals"]


def _name_key(name: str) -> int:
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=4).digest(), "little")


def stream(seed: int, replication: int, *names: str) -> np.random.Generator:
    """An independent generator for (replication, names...), stable across scenario edits."""
    key = (replication, *(_name_key(n) for n in names))
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=key)))


@dataclass
class ArrivalStream:
    crossing: str
    cls: str
    times: np.ndarray           # hours, sorted
    attrs: dict                 # purpose tuple -> list of floats, one per unit


def _profile_weights(scn: Scenario, crossing: str) -> np.ndarray:
    prof = scn.crossings[crossing].profile
    if prof is None:
        return np.ones(24)
    w = np.asarray(prof, dtype=float)
    return w * (24.0 / w.sum())


def _rate_at(t: np.ndarray, rate0: float, pw: np.ndarray, offset_h: float,
             steps: list) -> np.ndarray:
    hours = np.floor(np.mod(t + offset_h, 24.0)).astype(int) % 24
    st = np.array([s for s, _ in steps])
    fs = np.array([f for _, f in steps])
    idx = np.searchsorted(st, t, side="right") - 1
    return rate0 * pw[hours] * fs[np.maximum(idx, 0)]


def _poisson_candidates(rng: np.random.Generator, lam: float, horizon: float) -> np.ndarray:
    if lam <= 0:
        return np.empty(0)
    expected = lam * horizon
    n = int(expected + 6 * math.sqrt(expected) + 16)
    times = np.cumsum(rng.exponential(1.0 / lam, n))
    while times[-1] <= horizon:
        more = np.cumsum(rng.exponential(1.0 / lam, n)) + times[-1]
        times = np.concatenate([times, more])
    return times[times <= horizon]


def _breakpoints(horizon: float, offset_h: float, has_profile: bool, steps: list) -> np.ndarray:
    pts = {0.0, horizon}
    if has_profile:
        first = math.ceil(offset_h) - offset_h
        pts.update(np.arange(first, horizon, 1.0).tolist())
    pts.update(t for t, _ in steps if 0 < t < horizon)
    return np.array(sorted(p for p in pts if 0 <= p <= horizon))


def _deterministic_times(rate0: float, pw: np.ndarray, offset_h: float, steps: list,
                         horizon: float, has_profile: bool) -> np.ndarray:
    """Unit k arrives when the expected count reaches k (k = 1, 2, ...): evenly spaced."""
    bp = _breakpoints(horizon, offset_h, has_profile, steps)
    seg_start, seg_end = bp[:-1], bp[1:]
    rates = _rate_at(seg_start, rate0, pw, offset_h, steps)
    cum_end = np.cumsum(rates * (seg_end - seg_start))
    total = cum_end[-1] if len(cum_end) else 0.0
    ks = np.arange(1, int(math.floor(total + 1e-9)) + 1, dtype=float)
    if len(ks) == 0:
        return np.empty(0)
    seg = np.searchsorted(cum_end, ks - 1e-9, side="left")
    cum_start = cum_end - rates * (seg_end - seg_start)
    return seg_start[seg] + (ks - cum_start[seg]) / rates[seg]


def _purposes(scn: Scenario, crossing: str, cls: str) -> list[tuple]:
    """The random attributes a unit of this class needs at this crossing, with their laws."""
    out = []
    for st in scn.crossings[crossing].stages:
        for ln in st.lanes:
            if cls in ln.serves:
                dist = ln.service.get(cls) or ln.service[ALL]
                out.append((("service", st.name, ln.name), dist))
        sec = st.secondary.get(cls)
        if sec is not None:
            out.append((("secondary", st.name), sec.service))
            out.append((("referral", st.name), None))
    pat = scn.behaviour.patience.get(cls)
    if pat is not None:
        out.append((("patience",), pat))
    cv = scn.classes[cls].cargo_value
    if cv is not None:
        out.append((("cargo",), cv))
    return out


def draw_arrivals(scn: Scenario, replication: int, seed: int, crossing: str, cls: str,
                  steps: list, max_factor: float) -> ArrivalStream:
    c = scn.crossings[crossing]
    rate0 = c.demand.get(cls, 0.0) / 24.0
    horizon = scn.duration
    pw = _profile_weights(scn, crossing)
    offset_h = scn.start.hour + scn.start.minute / 60 + scn.start.second / 3600
    if c.arrival_process == "deterministic":
        times = _deterministic_times(rate0, pw, offset_h, steps, horizon, c.profile is not None)
        keep = None
        n_cand = len(times)
    else:
        lam = rate0 * float(pw.max()) * max(1.0, max_factor)
        cand = _poisson_candidates(stream(seed, replication, crossing, cls, "arrivals"),
                                   lam, horizon)
        u = stream(seed, replication, crossing, cls, "thinning").random(len(cand))
        keep = u * lam < _rate_at(cand, rate0, pw, offset_h, steps) if len(cand) else None
        times = cand[keep] if keep is not None else cand
        n_cand = len(cand)
    attrs = {}
    for purpose, dist in _purposes(scn, crossing, cls):
        rng = stream(seed, replication, crossing, cls, *purpose)
        values = rng.random(n_cand) if dist is None else dist.sample(rng, n_cand)
        if keep is not None:
            values = values[keep]
        attrs[purpose] = values.tolist()
    return ArrivalStream(crossing, cls, times, attrs)
