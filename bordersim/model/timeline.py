"""The policy timeline, compiled into the settings of every stage over time.

Phases apply in order. A phase changes only the settings it names (each named
setting replaces that setting's whole mapping or list) for the crossings and
stages in its scope; the others carry over from the previous phase.
``reset: true`` first restores the base configuration of its scope.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from types import MappingProxyType

from bordersim.scenario import ALL, Phase, Scenario

__all__ = ["StageSettings", "StageChange", "Timeline", "compile_timeline"]


@dataclass(frozen=True)
class StageSettings:
    """What one stage of one crossing does while a phase lasts."""

    closed: frozenset = frozenset()
    service_factor: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    secondary_probability: MappingProxyType = field(
        default_factory=lambda: MappingProxyType({}))
    booths: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    quota_per_day: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    priority: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    appointment: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    label: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "_factors", {})   # cls -> factor, as asked for

    def factor(self, cls: str) -> float:
        f = self._factors.get(cls)
        if f is None:
            sf = self.service_factor
            f = self._factors[cls] = sf.get(cls, sf.get(ALL, 1.0))
        return f

    def level(self, cls: str) -> int:
        """Priority level of a class: listed classes first, in list order; others last."""
        return self.priority.get(cls, len(self.priority))


@dataclass(frozen=True)
class StageChange:
    time_h: float
    crossing: str
    stage: str
    settings: StageSettings


@dataclass(frozen=True)
class Timeline:
    base: dict          # (crossing, stage) -> StageSettings at time 0
    changes: list       # StageChange in time order
    demand_factor: dict  # (crossing, class) -> [(time_h, factor)] step function from 0
    has_quota: bool
    phase_times: list   # (time_h, label) of every phase
    max_demand_factor: dict  # (crossing, class) -> largest factor ever applied


def _base_settings(scn: Scenario, crossing: str, stage_index: int) -> StageSettings:
    st = scn.crossings[crossing].stages[stage_index]
    return StageSettings(
        secondary_probability=MappingProxyType({k: v.probability for k, v in st.secondary.items()}),
        booths=MappingProxyType({ln.name: ln.booths for ln in st.lanes}),
    )


def _apply(cur: StageSettings, base: StageSettings, ph: Phase, stage: str) -> StageSettings:
    s = base if ph.reset else cur
    kw: dict = {"label": ph.label or s.label}
    if ph.closed is not None:
        kw["closed"] = frozenset(ph.closed)
    if ph.service_factor is not None:
        kw["service_factor"] = MappingProxyType(dict(ph.service_factor))
    if ph.secondary_probability is not None:
        merged = dict(base.secondary_probability)
        merged.update(ph.secondary_probability)
        kw["secondary_probability"] = MappingProxyType(merged)
    if ph.booths is not None:   # keys are stage/lane; this stage's lanes, the rest as base
        merged = dict(base.booths)
        for key, n in ph.booths.items():
            name, lane = key.split("/", 1)
            if name == stage:
                merged[lane] = n
        kw["booths"] = MappingProxyType(merged)
    if ph.quota_per_day is not None:
        kw["quota_per_day"] = MappingProxyType(dict(ph.quota_per_day))
    if ph.priority is not None:
        kw["priority"] = MappingProxyType({c: i for i, c in enumerate(ph.priority)})
    if ph.appointment is not None:   # class -> scenario.Appointment; read at the first stage
        kw["appointment"] = MappingProxyType(dict(ph.appointment))
    return replace(s, **kw)


def compile_timeline(scn: Scenario) -> Timeline:
    base = {}
    for cname, c in scn.crossings.items():
        for i, st in enumerate(c.stages):
            base[(cname, st.name)] = _base_settings(scn, cname, i)
    cur = dict(base)
    changes: list[StageChange] = []
    dfactor_now: dict[str, dict] = {c: {} for c in scn.crossings}
    steps: dict = {(c, k): [(0.0, 1.0)] for c in scn.crossings for k in scn.classes}
    phase_times = []
    has_quota = False
    for i, ph in enumerate(scn.policy):
        t = scn.phase_time(i)
        phase_times.append((t, ph.label or f"phase {i}"))
        crossings = list(scn.crossings) if ph.crossings == ALL else list(ph.crossings)
        for cname in crossings:
            c = scn.crossings[cname]
            for st in c.stages:
                if ph.stages != ALL and st.name not in ph.stages:
                    continue
                key = (cname, st.name)
                new = _apply(cur[key], base[key], ph, st.name)
                cur[key] = new
                has_quota = has_quota or bool(new.quota_per_day)
                changes.append(StageChange(t, cname, st.name, new))
            if ph.reset:
                dfactor_now[cname] = {}
            if ph.demand_factor is not None:
                dfactor_now[cname] = dict(ph.demand_factor)
            if ph.reset or ph.demand_factor is not None:
                d = dfactor_now[cname]
                for k in scn.classes:
                    f = d.get(k, d.get(ALL, 1.0))
                    steps[(cname, k)].append((t, f))
    max_f = {key: max(f for _, f in s) for key, s in steps.items()}
    return Timeline(base, changes, steps, has_quota, phase_times, max_f)
