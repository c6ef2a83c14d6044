"""The SimPy border model: build a replication from a scenario and run it.

Nothing here reads files, prints or looks at the machine's clock.
"""

from __future__ import annotations

import simpy

from bordersim.model.arrivals import draw_arrivals
from bordersim.model.engine import Engine, Group, LaneRT, Outcome, StageRT
from bordersim.model.timeline import Timeline, compile_timeline
from bordersim.scenario import Scenario

__all__ = ["run_model", "Outcome", "Group", "Engine", "compile_timeline", "Timeline"]


def build(scn: Scenario, replication: int, seed: int,
          timeline: Timeline | None = None) -> Engine:
    """The engine of one replication, its arrivals drawn, ready to run."""
    timeline = timeline or compile_timeline(scn)
    env = simpy.Environment()
    start = scn.start
    day_offset_h = start.hour + start.minute / 60 + start.second / 3600
    eng = Engine(env, scn.duration, day_offset_h)
    for cname, c in scn.crossings.items():
        for si, st in enumerate(c.stages):
            srt = StageRT(cname, st.name, si, timeline.base[(cname, st.name)])
            for ln in st.lanes:
                lrt = LaneRT(ln.name, srt, ln.booths, list(ln.serves), secondary=False)
                srt.lanes.append(lrt)
                for k in ln.serves:
                    srt.lanes_for.setdefault(k, []).append(lrt)
            for k, sec in st.secondary.items():
                srt.secondary[k] = LaneRT(f"secondary/{k}", srt, sec.booths, [k], secondary=True)
            eng.stages[(cname, st.name)] = srt

    groups = []
    for cname, c in scn.crossings.items():
        for k in scn.classes:
            if c.demand.get(k, 0.0) <= 0:
                continue
            arr = draw_arrivals(scn, replication, seed, cname, k,
                                timeline.demand_factor[(cname, k)],
                                timeline.max_demand_factor[(cname, k)])
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
    eng.groups = groups
    eng.schedule_changes(timeline)
    eng.start_arrivals(groups)
    return eng


def run_model(scn: Scenario, replication: int, seed: int | None = None,
              timeline: Timeline | None = None) -> Engine:
    """Run one replication to the end of the scenario; the engine holds what happened."""
    eng = build(scn, replication, scn.seed if seed is None else seed, timeline)
    eng.env.run(until=scn.duration)
    eng.close()
    return eng
