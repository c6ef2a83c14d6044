"""The SimPy border model: build a replication from a scenario and run it.

Nothing here reads files, prints or looks at the machine's clock.
"""

from __future__ import annotations

import numpy as np
import simpy

from bordersim.model.arrivals import (
    ArrivalStream,
    day_offset_h,
    draw_arrivals,
    purposes,
    stream,
)
from bordersim.model.engine import Engine, Group, LaneRT, Outcome, StageRT
from bordersim.model.respond import Responder
from bordersim.model.timeline import Timeline, compile_timeline
from bordersim.scenario import Scenario

__all__ = ["run_model", "Outcome", "Group", "Engine", "compile_timeline", "Timeline"]


def build(scn: Scenario, replication: int, seed: int) -> Engine:
    """The engine of one replication, its arrivals drawn, ready to run."""
    timeline = compile_timeline(scn)
    env = simpy.Environment()
    eng = Engine(env, scn.duration, day_offset_h(scn))
    for cname, c in scn.crossings.items():
        for st in c.stages:
            srt = StageRT(timeline.base[(cname, st.name)])
            for ln in st.lanes:
                lrt = LaneRT(ln.name, srt, ln.booths, list(ln.serves), secondary=False)
                lrt.mean_svc = {k: ln.service_for(k).mean
                                for k in ln.serves}
                srt.lanes.append(lrt)
                for k in ln.serves:
                    srt.lanes_for.setdefault(k, []).append(lrt)
            for k, sec in st.secondary.items():
                srt.secondary[k] = LaneRT(f"secondary/{k}", srt, sec.booths, [k], secondary=True)
                srt.secondary[k].mean_svc = {k: sec.service.mean}
            eng.stages[(cname, st.name)] = srt

    destinations = {(t, k) for k in scn.classes for rule in scn.behaviour.divert_rules(k)
                    for t in rule.targets()}
    groups = []
    by_key: dict[tuple[str, str], Group] = {}
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
            balk = scn.behaviour.balk.get(k)
            g = Group(cname, k, arr, balk.queue_over if balk else None)
            for st in c.stages:
                srt = eng.stages[(cname, st.name)]
                g.route.append(srt)
                for lrt in srt.lanes_for.get(k, []):
                    lrt.svc[k] = arr.attrs[("service", st.name, lrt.name)]
                if k in srt.secondary:
                    srt.secondary[k].svc[k] = arr.attrs[("secondary", st.name)]
                    srt.referral[k] = arr.attrs[("referral", st.name)]
            groups.append(g)
            by_key[(cname, k)] = g
    for g in groups:
        rule = next((r for r in scn.behaviour.divert_rules(g.cls) if r.from_ == g.crossing),
                    None)
        if rule is not None:
            g.divert = (rule.queue_over,
                        [(by_key[(t, g.cls)], rule.travel_h(t)) for t in rule.targets()])
        if (g.crossing, g.cls) in destinations:
            g.draw_for_diverted = _diverted_attributes(scn, replication, seed, g)
    eng.groups = groups
    eng.schedule_changes(timeline)
    eng.start_arrivals(groups)
    for g in groups:
        spec = scn.behaviour.response(g.cls, g.crossing)
        if spec is not None and ("respond",) in g.attrs:
            g.responder = Responder(eng, g, spec)
            g.responder.start()
    return eng


def _diverted_attributes(scn: Scenario, replication: int, seed: int, g: Group):
    """Attributes for units diverted into g: their own patience and cargo, and fresh
    service draws from streams of g's crossing kept for diverted units."""
    laws = purposes(scn, g.crossing, g.cls)
    rngs = {p: stream(seed, replication, g.crossing, g.cls, "diverted", *p) for p, _ in laws}

    def draw(origin) -> int:
        for p, dist in laws:
            if p in (("patience",), ("cargo",)) and p in origin.g.attrs:
                value = origin.g.attrs[p][origin.i]
            elif dist is None:
                value = float(rngs[p].random())
            else:
                value = float(dist.sample(rngs[p], 1)[0])
            g.attrs[p].append(value)
        return len(g.attrs[laws[0][0]]) - 1 if laws else 0

    return draw


def run_model(scn: Scenario, replication: int, seed: int | None = None) -> Engine:
    """Run one replication to the end of the scenario; the engine holds what happened."""
    eng = build(scn, replication, scn.seed if seed is None else seed)
    eng.env.run(until=scn.duration)
    eng.close()
    return eng
