"""Which lanes the exact recursion may compute instead of the event engine.

:func:`fast_path_lanes` is the one place that decides. It asks every rule in
:data:`RULES` about every lane; a rule names, in a few words, what makes the lane
depend on something the recursion does not model, or says nothing. A lane
qualifies when no rule objects. A crossing × class is computed by the recursion
when every lane it uses qualifies; all others stay in the event engine.

A new feature that the recursion does not model adds one rule here: a function
``rule(scn, lane) -> str | None`` appended to :data:`RULES`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bordersim.scenario import ALL, Lane, Scenario, Stage

__all__ = ["LaneRef", "Verdict", "fast_path_lanes", "RULES"]


@dataclass(frozen=True)
class LaneRef:
    """One lane of one stage of one crossing, with what the rules need to look at."""

    crossing: str
    stage_index: int
    stage: Stage
    lane: Lane

    @property
    def key(self) -> tuple[str, str, str]:
        return self.crossing, self.stage.name, self.lane.name

    @property
    def cls(self) -> str:
        """The class of a one-class lane (the first served, otherwise)."""
        return self.lane.serves[0]


@dataclass(frozen=True)
class Verdict:
    why_not: tuple[str, ...]

    @property
    def qualifies(self) -> bool:
        return not self.why_not


def _phases_on(scn: Scenario, ref: LaneRef):
    """The policy phases whose scope includes the lane's stage, with their times."""
    for i, ph in enumerate(scn.policy):
        if ph.crossings != ALL and ref.crossing not in ph.crossings:
            continue
        if ph.stages != ALL and ref.stage.name not in ph.stages:
            continue
        yield scn.phase_time(i), ph


# ---- the rules: each returns why the lane does not qualify, or None ---------------------

def _one_class(scn: Scenario, ref: LaneRef) -> str | None:
    if len(ref.lane.serves) > 1:
        return f"serves {len(ref.lane.serves)} classes (priority and sharing need events)"
    return None


def _only_lane(scn: Scenario, ref: LaneRef) -> str | None:
    others = [ln.name for ln in ref.stage.lanes if ref.cls in ln.serves and ln is not ref.lane]
    if others:
        return f"its class chooses between it and lane {', '.join(others)}"
    return None


def _one_stage(scn: Scenario, ref: LaneRef) -> str | None:
    n = len(scn.crossings[ref.crossing].stages)
    if n > 1:
        return f"its crossing has {n} stages (tandem queues run in the event engine)"
    return None


def _no_secondary(scn: Scenario, ref: LaneRef) -> str | None:
    sec = ref.stage.secondary.get(ref.cls)
    if sec is None:
        return None
    ever = sec.probability > 0 or any(
        (ph.secondary_probability or {}).get(ref.cls, 0.0) > 0
        for _, ph in _phases_on(scn, ref))
    return "secondary inspection follows it" if ever else None


def _no_quota(scn: Scenario, ref: LaneRef) -> str | None:
    if any(ref.cls in (ph.quota_per_day or {}) for _, ph in _phases_on(scn, ref)):
        return "a daily quota applies to its class"
    return None


def _no_balking(scn: Scenario, ref: LaneRef) -> str | None:
    if ref.cls in scn.behaviour.balk:
        return "its class balks (looks at the queue on arrival)"
    return None


def _no_diversion(scn: Scenario, ref: LaneRef) -> str | None:
    for rule in scn.behaviour.divert_rules(ref.cls):
        if rule.from_ == ref.crossing:
            return "its class diverts from this crossing (looks at queues on arrival)"
        if ref.crossing in rule.targets():
            return "units of its class are diverted to this crossing during the run"
    return None


def _one_change_at_a_time(scn: Scenario, ref: LaneRef) -> str | None:
    times = [t for t, _ in _phases_on(scn, ref) if t > 0]   # those at 0 apply before units
    if len(times) != len(set(times)):
        return "two policy phases change its stage at the same instant"
    return None


def _no_response(scn: Scenario, ref: LaneRef) -> str | None:
    for k in ref.lane.serves:
        if scn.behaviour.response(k, ref.crossing) is not None:
            return (f"its {k} trips answer the delay reported at the border "
                    "(behaviour.respond): arrivals depend on the queue")
    return None


def _no_appointment(scn: Scenario, ref: LaneRef) -> str | None:
    for ph in scn.policy:
        if ph.crossings != ALL and ref.crossing not in ph.crossings:
            continue
        for k in ref.lane.serves:
            if k in (ph.appointment or {}):
                return (f"its {k} units may book slots (policy appointment): they reach "
                        "the lane when called, not when they arrive")
    return None


RULES: list[Callable[[Scenario, LaneRef], str | None]] = [
    _one_class,
    _only_lane,
    _one_stage,
    _no_secondary,
    _no_quota,
    _no_balking,
    _no_diversion,
    _one_change_at_a_time,
    _no_response,
    _no_appointment,
]


def fast_path_lanes(scn: Scenario) -> dict[tuple[str, str, str], Verdict]:
    """(crossing, stage, lane) → whether the exact recursion may compute the lane, and if
    not, why. Patience, demand factors, deferred trips, arrival profiles and phases that
    change the lane's booths, service factor or closure of its class all qualify."""
    out = {}
    for cname, c in scn.crossings.items():
        for si, st in enumerate(c.stages):
            for ln in st.lanes:
                ref = LaneRef(cname, si, st, ln)
                out[ref.key] = Verdict(tuple(why for rule in RULES
                                             if (why := rule(scn, ref)) is not None))
    return out
