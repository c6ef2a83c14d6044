"""The border model: build a replication from a scenario and run it.

Nothing here reads files, prints or looks at the machine's clock.
"""

from __future__ import annotations

import contextlib

import numpy as np
import simpy

from bordersim.model.arrivals import (
    ArrivalStream,
    booked_classes,
    day_offset_h,
    draw_arrivals,
    purposes,
    stream,
)
from bordersim.model.booking import Booking
from bordersim.model.clock import arrival_clock, chain_delays, hops
from bordersim.model.engine import ArrivalChain, Engine, Group, LaneRT, StageRT
from bordersim.model.parts import parts
from bordersim.model.qualify import Verdict, fast_path_lanes
from bordersim.model.records import Outcome, Records
from bordersim.model.recursion import LaneSettings, NotExact, fifo_lane
from bordersim.model.respond import Responder
from bordersim.model.timeline import StageSettings, Timeline, compile_timeline
from bordersim.scenario import Scenario

__all__ = ["run_model", "Outcome", "Records", "Group", "Engine", "compile_timeline",
           "Timeline", "ENGINES", "fast_path_lanes", "Verdict"]

# auto: the exact recursion for every crossing × class whose lanes qualify
# (model/qualify.py), the event engine for the rest; des: the event engine for all
ENGINES = ("auto", "des")


def _groups(scn: Scenario, replication: int, seed: int, timeline: Timeline) -> list[Group]:
    """Every crossing × class with demand (or diverted to), its arrivals drawn."""
    destinations = {(t, k) for k in scn.classes for rule in scn.behaviour.divert_rules(k)
                    for t in rule.targets()}
    groups = []
    for cname, c in scn.crossings.items():
        for k in scn.classes:
            if c.demand.get(k, 0.0) > 0:
                arr = draw_arrivals(scn, replication, seed, cname, k,
                                    timeline.demand_factor[(cname, k)],
                                    timeline.max_demand_factor[(cname, k)])
            elif (cname, k) in destinations:
                arr = ArrivalStream(cname, k, np.empty(0),
                                    {p: [] for p, _ in purposes(scn, cname, k)})
            else:
                continue
            groups.append(Group(cname, k, arr))
    return groups


def _chain(eng: Engine, groups: list[Group], clocks: list[np.ndarray]) -> ArrivalChain:
    """One chain of timeouts over the arrivals of a part, in time order (ties: group
    order, then unit order), landing exactly on each arrival's clock."""
    times = np.concatenate([g.arrivals.times for g in groups])
    clock = np.concatenate(clocks)
    gi = np.concatenate([np.full(len(g.arrivals.times), n) for n, g in enumerate(groups)])
    ui = np.concatenate([np.arange(len(g.arrivals.times)) for g in groups])
    order = np.argsort(times, kind="stable")
    clock = clock[order]
    delays, split = chain_delays(clock)
    steps_g = [groups[n] for n in gi[order].tolist()]
    steps_u, steps_t, steps_d = ui[order].tolist(), times[order].tolist(), delays.tolist()
    for k in reversed(split):       # where one delay cannot land on the clock: two hops
        first, second = hops(float(clock[k - 1]), float(clock[k]))
        steps_d[k:k + 1] = [first, second]
        steps_g.insert(k, None)
        steps_u.insert(k, -1)
        steps_t.insert(k, float("nan"))
    return ArrivalChain(eng, steps_d, steps_g, steps_u, steps_t)


def build(scn: Scenario, replication: int, seed: int, engine: str = "auto") -> Engine:
    """The engine of one replication, its arrivals drawn, ready to run: the groups the
    exact recursion computes already hold their records; the others wait for the run."""
    if engine not in ENGINES:
        raise ValueError(f"engine: expected one of {', '.join(ENGINES)}, got {engine!r}")
    timeline = compile_timeline(scn)
    groups = _groups(scn, replication, seed, timeline)
    by_key = {(g.crossing, g.cls): g for g in groups}
    clocks = dict(zip(by_key, arrival_clock([g.arrivals.times for g in groups]),
                      strict=True))
    eng = Engine(simpy.Environment(), scn.duration, day_offset_h(scn))
    eng.groups = groups
    verdicts = fast_path_lanes(scn) if engine == "auto" else {}
    des = []
    for part in parts(scn):
        if verdicts and _qualifies(scn, part, verdicts):
            g = by_key[part[0]]
            # NotExact: an instant the recursion cannot order; the events can
            with contextlib.suppress(NotExact):
                g.rec = _recursion(scn, timeline, g, clocks[part[0]])
                g.engine = "recursion"
                continue
        des.append(part)
    _build_des(eng, scn, replication, seed, timeline, [by_key[k] for p in des for k in p])
    eng.chains = [_chain(eng, [by_key[k] for k in p], [clocks[k] for k in p]) for p in des]
    eng.start_arrivals()
    return eng


def _qualifies(scn: Scenario, part: list[tuple[str, str]], verdicts: dict) -> bool:
    """One crossing × class whose every lane qualifies (a part of several groups shares a
    lane, and a shared lane does not)."""
    if len(part) != 1:
        return False
    cname, k = part[0]
    return all(verdicts[(cname, st.name, ln.name)].qualifies
               for st in scn.crossings[cname].stages for ln in st.lanes if k in ln.serves)


def _recursion(scn: Scenario, timeline: Timeline, g: Group, clock: np.ndarray) -> Records:
    """Records of a qualifying group: its one lane's settings through the run, then the
    exact recursion."""
    (st,) = scn.crossings[g.crossing].stages
    (ln,) = [ln for ln in st.lanes if g.cls in ln.serves]

    def lane(settings: StageSettings, booths: int) -> LaneSettings:
        return LaneSettings(settings.booths.get(ln.name, booths), g.cls in settings.closed,
                            settings.factor(g.cls))

    now = lane(timeline.base[(g.crossing, st.name)], ln.booths)
    changes = []
    last = now
    for ch in timeline.changes:
        if (ch.crossing, ch.stage) != (g.crossing, st.name) or ch.time_h >= scn.duration:
            continue
        last = lane(ch.settings, last.booths)
        if ch.time_h <= 0:      # applied before the run, like the event engine does
            now = last
        else:
            changes.append((ch.time_h, last))
    return fifo_lane(clock, g.arrivals.times, g.attrs[("service", st.name, ln.name)],
                     g.attrs.get(("patience",)), now, changes, scn.duration)


def _build_des(eng: Engine, scn: Scenario, replication: int, seed: int, timeline: Timeline,
               groups: list[Group]) -> None:
    """Lanes, stages and policy events for the groups the event engine runs."""
    keys = {(g.crossing, g.cls) for g in groups}
    eng.perishable_share = {k: spec.perishable_share for k, spec in scn.classes.items()}
    for cname, c in scn.crossings.items():
        booked = booked_classes(scn, cname)
        for st in c.stages:
            srt = StageRT(timeline.base[(cname, st.name)])
            for ln in st.lanes:
                if not any((cname, k) in keys for k in ln.serves):
                    continue
                lrt = LaneRT(ln.name, srt, ln.booths, list(ln.serves), secondary=False,
                             booked=booked)
                lrt.mean_svc = {k: ln.service_for(k).mean for k in ln.serves}
                srt.lanes.append(lrt)
                for k in ln.serves:
                    srt.lanes_for.setdefault(k, []).append(lrt)
            for k, sec in st.secondary.items():
                if (cname, k) not in keys:
                    continue
                srt.secondary[k] = LaneRT(f"secondary/{k}", srt, sec.booths, [k], secondary=True,
                                          booked=booked)
                srt.secondary[k].mean_svc = {k: sec.service.mean}
            if srt.lanes:
                eng.stages[(cname, st.name)] = srt

    destinations = {(t, k) for k in scn.classes for rule in scn.behaviour.divert_rules(k)
                    for t in rule.targets()}
    by_key = {(g.crossing, g.cls): g for g in groups}
    for g in groups:
        g.start_log()
        k = g.cls
        if (g.crossing, k) in destinations:   # diverted units add attributes as they come
            g.attrs = g.arrivals.attrs = {p: list(v) if not isinstance(v, list) else v
                                          for p, v in g.attrs.items()}
        if ("patience",) in g.attrs:
            g.patience = _as_list(g.attrs[("patience",)])
        balk = scn.behaviour.balk.get(k)
        g.balk_over = balk.queue_over if balk else None
        for st in scn.crossings[g.crossing].stages:
            srt = eng.stages[(g.crossing, st.name)]
            g.route.append(srt)
            for lrt in srt.lanes_for.get(k, []):
                lrt.svc[k] = _as_list(g.attrs[("service", st.name, lrt.name)])
            if k in srt.secondary:
                srt.secondary[k].svc[k] = _as_list(g.attrs[("secondary", st.name)])
                srt.referral[k] = _as_list(g.attrs[("referral", st.name)])
    for g in groups:
        rule = next((r for r in scn.behaviour.divert_rules(g.cls) if r.from_ == g.crossing),
                    None)
        if rule is not None:
            g.divert = (rule.queue_over,
                        [(by_key[(t, g.cls)], rule.travel_h(t)) for t in rule.targets()])
        if (g.crossing, g.cls) in destinations:
            g.draw_for_diverted = _diverted_attributes(scn, replication, seed, g)
    for g in groups:            # electronic queues, where a phase may give the class one
        if g.cls in booked_classes(scn, g.crossing):
            g.booking = Booking(eng, g, scn.crossings[g.crossing].arrival_process
                                == "deterministic")
            eng.bookings.append(g.booking)
            base = timeline.base[(g.crossing, scn.crossings[g.crossing].stages[0].name)]
            g.booking.on_settings(base, base)
    changes = [ch for ch in timeline.changes if (ch.crossing, ch.stage) in eng.stages]
    eng.schedule_changes(changes, timeline.has_quota)
    for g in groups:            # trips that answer the delay reported at the border
        spec = scn.behaviour.response(g.cls, g.crossing)
        if spec is not None and ("respond",) in g.attrs:
            g.responder = Responder(eng, g, spec)
            g.responder.start()


def _as_list(values) -> list:
    return values if isinstance(values, list) else values.tolist()



def _diverted_attributes(scn: Scenario, replication: int, seed: int, g: Group):
    """Attributes for units diverted into g: their own patience and cargo, and fresh
    service draws from streams of g's crossing kept for diverted units."""
    laws = purposes(scn, g.crossing, g.cls)
    rngs = {p: stream(seed, replication, g.crossing, g.cls, "diverted", *p) for p, _ in laws}

    def draw(origin) -> int:
        for p, dist in laws:
            if p in (("patience",), ("cargo",)) and p in origin.g.attrs:
                value = float(origin.g.attrs[p][origin.i])
            elif dist is None:
                value = float(rngs[p].random())
            else:
                value = float(dist.sample(rngs[p], 1)[0])
            g.attrs[p].append(value)
        return len(g.attrs[laws[0][0]]) - 1 if laws else 0

    return draw


def run_model(scn: Scenario, replication: int, seed: int | None = None,
              engine: str = "auto") -> Engine:
    """Run one replication to the end of the scenario; the engine holds what happened."""
    eng = build(scn, replication, scn.seed if seed is None else seed, engine)
    eng.env.run(until=scn.duration)
    eng.close()
    return eng
