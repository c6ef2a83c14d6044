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

from bordersim.scenario import Scenario

__all__ = ["stream", "ArrivalStream", "draw_arrivals", "purposes", "expected_rate",
           "day_offset_h", "booked_classes", "appointments"]


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
    times: np.ndarray           # hours: drawn arrivals in time order, then deferred trips
    attrs: dict                 # purpose tuple -> array of floats, one per unit


def day_offset_h(scn: Scenario) -> float:
    """Hours from the calendar midnight before ``start`` to ``start``."""
    return scn.start.hour + scn.start.minute / 60 + scn.start.second / 3600


def expected_rate(scn: Scenario, crossing: str, cls: str, t: np.ndarray,
                  steps: list) -> np.ndarray:
    """Arrivals per hour the scenario sends at times t (hours since start): demand ×
    hourly profile × the demand-factor step function ``steps``."""
    rate0 = scn.crossings[crossing].demand.get(cls, 0.0) / 24.0
    return _rate_at(t, rate0, _profile_weights(scn, crossing), day_offset_h(scn), steps)


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


def appointments(scn: Scenario, crossing: str, cls: str) -> list:
    """The appointments any policy phase gives the class at the crossing."""
    return [ph.appointment[cls] for ph in scn.policy
            if ph.appointment and cls in ph.appointment
            and (ph.crossings == "all" or crossing in ph.crossings)]


def booked_classes(scn: Scenario, crossing: str) -> frozenset:
    """Classes some phase may put in an electronic queue at the crossing."""
    return frozenset(k for k in scn.classes if appointments(scn, crossing, k))


def purposes(scn: Scenario, crossing: str, cls: str) -> list[tuple]:
    """The random attributes a unit of this class needs at this crossing, with their laws."""
    out = []
    for st in scn.crossings[crossing].stages:
        for ln in st.lanes:
            if cls in ln.serves:
                dist = ln.service_for(cls)
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
    resp = scn.behaviour.response(cls, crossing)
    if resp is not None:
        out.append((("respond",), None))     # how readily the trip sets off
        out.append((("give-up",), None))     # whether it is given up after the longest hold
        if resp.lead is not None:
            out.append((("lead",), resp.lead))   # how long before its due time it sets off
    appts = appointments(scn, crossing, cls)
    if appts:                                    # an electronic queue
        out.append((("booking",), None))         # whether it comes without a booking
        out.append((("no-show",), None))         # whether it fails to turn up for its slot
        out.append((("perishable",), None))      # whether its load is perishable
        early = next((a.arrive_early for a in appts if a.arrive_early is not None), None)
        if early is not None:
            out.append((("early",), early))      # how long before its slot it reaches the site
    return out


def _phase_end(t: np.ndarray, steps: list) -> np.ndarray:
    """For each time, when the demand-factor phase holding it ends (inf if it never does)."""
    st = np.array([s for s, _ in steps] + [math.inf])
    return st[np.searchsorted(st, t, side="right")]


def _deferred_poisson(scn: Scenario, seed: int, replication: int, crossing: str, cls: str,
                      cand: np.ndarray, u: np.ndarray, lam: float, base_rate: np.ndarray,
                      keep: np.ndarray, steps: list) -> tuple[np.ndarray, np.ndarray]:
    """Candidates dropped only because of a demand factor below 1, a share of whom come back
    spread evenly over ``over`` after their phase ends: (indices, return times)."""
    spec = scn.behaviour.defer.get(cls)
    if spec is None or len(cand) == 0:
        return np.empty(0, dtype=np.int64), np.empty(0)
    suppressed = (u * lam < base_rate) & ~keep
    back = stream(seed, replication, crossing, cls, "defer").random(len(cand)) < spec.share
    spread = stream(seed, replication, crossing, cls, "defer-time").random(len(cand))
    when = _phase_end(cand, steps) + spread * spec.over
    chosen = np.flatnonzero(suppressed & back & (when < scn.duration))
    return chosen, when[chosen]


def _deferred_deterministic(scn: Scenario, cls: str, rate0: float, pw: np.ndarray,
                            offset_h: float, steps: list, has_profile: bool) -> np.ndarray:
    """Deterministic demand suppressed in each phase comes back evenly after it ends."""
    spec = scn.behaviour.defer.get(cls)
    if spec is None:
        return np.empty(0)
    out = []
    horizon = scn.duration
    bp = _breakpoints(horizon, offset_h, has_profile, steps)
    ends = [t for t, _ in steps[1:]] + [math.inf]
    for (t0, f), t1 in zip(steps, ends, strict=True):
        if f >= 1 or t1 >= horizon:
            continue
        seg = bp[(bp >= t0) & (bp <= min(t1, horizon))]
        if len(seg) < 2:
            continue
        base = _rate_at(seg[:-1], rate0, pw, offset_h, [(0.0, 1.0)])
        lost = float(np.sum(base * (1 - f) * np.diff(seg)))
        n = int(math.floor(spec.share * lost + 1e-9))
        back = t1 + (np.arange(n) + 0.5) * spec.over / max(n, 1)
        out.append(back[back < horizon])
    return np.concatenate(out) if out else np.empty(0)


def _attributes(scn: Scenario, seed: int, replication: int, crossing: str, cls: str,
                n: int, index: np.ndarray | None, prefix: tuple = ()) -> dict:
    attrs = {}
    for purpose, dist in purposes(scn, crossing, cls):
        rng = stream(seed, replication, crossing, cls, *prefix, *purpose)
        values = rng.random(n) if dist is None else dist.sample(rng, n)
        if index is not None:
            values = values[index]
        attrs[purpose] = values
    return attrs


def draw_arrivals(scn: Scenario, replication: int, seed: int, crossing: str, cls: str,
                  steps: list, max_factor: float) -> ArrivalStream:
    """Arrival times and attributes of one crossing × class over the whole run.

    Poisson: candidates at the peak hourly rate, thinned to profile × min(factor, 1);
    where a demand factor exceeds 1, the surplus comes from a second candidate stream,
    so raising demand in one phase leaves every other unit as it was.
    """
    c = scn.crossings[crossing]
    rate0 = c.demand.get(cls, 0.0) / 24.0
    horizon = scn.duration
    pw = _profile_weights(scn, crossing)
    offset_h = day_offset_h(scn)
    if c.arrival_process == "deterministic":
        times = _deterministic_times(rate0, pw, offset_h, steps, horizon, c.profile is not None)
        times = np.concatenate([times, _deferred_deterministic(
            scn, cls, rate0, pw, offset_h, steps, c.profile is not None)])
        attrs = _attributes(scn, seed, replication, crossing, cls, len(times), None)
        return ArrivalStream(crossing, cls, times, attrs)

    lam = rate0 * float(pw.max())
    cand = _poisson_candidates(stream(seed, replication, crossing, cls, "arrivals"),
                               lam, horizon)
    u = stream(seed, replication, crossing, cls, "thinning").random(len(cand))
    base_rate = _rate_at(cand, rate0, pw, offset_h, [(0.0, 1.0)])
    capped = [(t, min(f, 1.0)) for t, f in steps]
    keep = u * lam < _rate_at(cand, rate0, pw, offset_h, capped)
    back_idx, back_t = _deferred_poisson(scn, seed, replication, crossing, cls, cand, u,
                                         lam, base_rate, keep, steps)
    index = np.concatenate([np.flatnonzero(keep), back_idx])
    times = np.concatenate([cand[keep], back_t])
    attrs = _attributes(scn, seed, replication, crossing, cls, len(cand), index)
    if max_factor > 1.0:
        surplus = [(t, max(f - 1.0, 0.0)) for t, f in steps]
        lam2 = lam * (max_factor - 1.0)
        cand2 = _poisson_candidates(stream(seed, replication, crossing, cls, "surge"),
                                    lam2, horizon)
        u2 = stream(seed, replication, crossing, cls, "surge-thinning").random(len(cand2))
        keep2 = np.flatnonzero(u2 * lam2 < _rate_at(cand2, rate0, pw, offset_h, surplus))
        more = _attributes(scn, seed, replication, crossing, cls, len(cand2), keep2,
                           ("surge",))
        times = np.concatenate([times, cand2[keep2]])
        for purpose, values in more.items():
            attrs[purpose] = np.concatenate([attrs[purpose], values])
    return ArrivalStream(crossing, cls, times, attrs)
