"""The border as SimPy events: crossings → stages → lanes → booths.

Units move by callbacks on SimPy timeouts rather than one generator process
each: a unit's path is fixed by the model, so a process per unit would only
add a generator resume and a resource request per stage. Equal-time events
keep SimPy's insertion order; nothing random decides ties.
"""

from __future__ import annotations

from collections import deque
from enum import IntEnum

import simpy
from simpy.events import Timeout

from bordersim.model.arrivals import ArrivalStream
from bordersim.model.timeline import StageSettings, Timeline

__all__ = ["Outcome", "Group", "Engine"]

_WAITING, _IN_SERVICE, _GONE = 0, 1, 2


class Outcome(IntEnum):
    CROSSED = 0
    RENEGED = 1
    BALKED = 2
    DIVERTED = 3
    WAITING_AT_END = 4
    IN_SERVICE_AT_END = 5


class Unit:
    __slots__ = ("g", "i", "t_arr", "stage", "wait_h", "t_join", "state", "seq", "joins",
                 "lane", "diverted")

    def __init__(self, g: Group, i: int, t_arr: float, diverted: bool = False):
        self.g = g
        self.i = i
        self.t_arr = t_arr
        self.stage = 0
        self.wait_h = 0.0
        self.t_join = t_arr
        self.state = _WAITING
        self.seq = 0
        self.joins = 0
        self.lane = None
        self.diverted = diverted


class Group:
    """One crossing × class: its route, its units' attributes and what happened to them."""

    def __init__(self, crossing: str, cls: str, arrivals: ArrivalStream,
                 balk_over: int | None):
        self.crossing = crossing
        self.cls = cls
        self.arrivals = arrivals
        self.attrs = arrivals.attrs
        self.patience = arrivals.attrs.get(("patience",))
        self.balk_over = balk_over
        self.route: list[StageRT] = []
        self.divert = None              # (queue_over, [(group, travel_h)]) or None
        self.responder = None           # a Responder when trips answer the visible delay
        self.draw_for_diverted = None   # callable(group) -> index of fresh attributes
        self.extra_arrivals: list[float] = []   # arrival times of units diverted here
        # waiting intervals (one per queue visit) and outcomes, appended as they happen
        self.q_join: list[float] = []
        self.q_leave: list[float] = []
        self.q_unit: list[int] = []       # the unit's index in this group's attributes
        self.q_wait0: list[float] = []    # its waiting so far when this visit began
        self.out_travel: list[float] = []   # hours driven away (diverted units), else 0
        self.out_unit: list[int] = []
        self.out_arr: list[float] = []
        self.out_wait: list[float] = []
        self.out_exit: list[float] = []
        self.out_code: list[int] = []

    def waited(self, u: Unit, t_leave: float) -> None:
        """Close the unit's current queue visit at t_leave and add it to its waiting."""
        self.q_join.append(u.t_join)
        self.q_leave.append(t_leave)
        self.q_unit.append(u.i)
        self.q_wait0.append(u.wait_h)
        u.wait_h += t_leave - u.t_join

    def record(self, u: Unit, code: int, t_exit: float, travel_h: float = 0.0) -> None:
        self.out_travel.append(travel_h)
        self.out_unit.append(u.i)
        self.out_arr.append(u.t_arr)
        self.out_wait.append(u.wait_h)
        self.out_exit.append(t_exit)
        self.out_code.append(code)


class LaneRT:
    __slots__ = ("name", "stage", "booths", "busy", "queues", "items", "single", "n_waiting",
                 "svc", "secondary", "mean_svc")

    def __init__(self, name: str, stage: StageRT, booths: int, classes: list[str],
                 secondary: bool):
        self.name = name
        self.stage = stage
        self.booths = booths
        self.busy = 0
        self.queues = {k: deque() for k in classes}
        self.items = list(self.queues.items())
        self.single = self.items[0] if len(self.items) == 1 else None
        self.n_waiting = 0
        self.svc: dict[str, list] = {}
        self.secondary = secondary
        self.mean_svc: dict[str, float] = {}


class StageRT:
    __slots__ = ("settings", "lanes", "lanes_for", "secondary", "referral", "quota_used",
                 "quota_day")

    def __init__(self, settings: StageSettings):
        self.settings = settings
        self.lanes: list[LaneRT] = []
        self.lanes_for: dict[str, list[LaneRT]] = {}
        self.secondary: dict[str, LaneRT] = {}
        self.referral: dict[str, list] = {}
        self.quota_used: dict[str, int] = {}
        self.quota_day = -1

    def all_lanes(self) -> list[LaneRT]:
        return self.lanes + list(self.secondary.values())


class Engine:
    def __init__(self, env: simpy.Environment, horizon_h: float, day_offset_h: float):
        self.env = env
        self.horizon_h = horizon_h
        self.day_offset_h = day_offset_h
        self.alive: dict[Unit, None] = {}   # units at a crossing, in arrival order
        self._seq = 0
        self.stages: dict[tuple[str, str], StageRT] = {}
        self.groups: list[Group] = []

    # ---- arrivals -------------------------------------------------------------------
    def start_arrivals(self, groups: list[Group]) -> None:
        """One chain of timeouts over all groups' arrivals, merged in time order."""
        merged = []
        for gi, g in enumerate(groups):
            merged.extend((t, gi, i) for i, t in enumerate(g.arrivals.times.tolist()))
        merged.sort()
        self._arrivals = merged
        self._next_arrival = 0
        if merged:
            ev = Timeout(self.env, merged[0][0])
            ev.callbacks.append(self._on_arrival)

    def _on_arrival(self, _ev) -> None:
        arrivals = self._arrivals
        k = self._next_arrival
        t, gi, i = arrivals[k]
        self._next_arrival = k + 1
        if k + 1 < len(arrivals):
            ev = Timeout(self.env, arrivals[k + 1][0] - t)
            ev.callbacks.append(self._on_arrival)
        self.arrive(self.groups[gi], i, t)

    def arrive(self, g: Group, i: int, t: float, diverted: bool = False,
               released: bool = False) -> None:
        """Unit i of g reaches the crossing at t (a trip due then, unless it is held; or a
        held trip ``released`` now; or a unit ``diverted`` here from elsewhere)."""
        if g.responder is not None and not (diverted or released) and g.responder.holds(i, t):
            return
        u = Unit(g, i, t, diverted)
        self.alive[u] = None
        can_divert = g.divert is not None and not diverted
        if can_divert or g.balk_over is not None:
            ahead = self.queue_ahead(g)
            if can_divert and self._divert(u, ahead):
                return
            if g.balk_over is not None and ahead > g.balk_over:
                self._finish(u, Outcome.BALKED, t)
                return
        self.join(u, g.route[0])

    def _finish(self, u: Unit, code: int, t: float, travel_h: float = 0.0) -> None:
        """The unit leaves the crossing for good."""
        u.state = _GONE
        del self.alive[u]
        u.g.record(u, code, t, travel_h)

    def _unqueue(self, u: Unit, now: float) -> None:
        """The unit leaves the queue it waits in; its waiting so far is recorded."""
        u.lane.n_waiting -= 1
        u.g.waited(u, now)

    def expected_delay(self, g: Group) -> float:
        """Hours a unit of this class arriving now would expect to queue at g's crossing:
        per stage, the best lane's units ahead × mean service ÷ booths, plus the same for
        secondary inspection times the referral probability; inf where closed."""
        total = 0.0
        for st in g.route:
            settings = st.settings
            if g.cls in settings.closed:
                return float("inf")
            best = float("inf")
            for ln in st.lanes_for[g.cls]:
                if ln.booths <= 0:
                    continue
                ahead = max(0, ln.n_waiting + ln.busy - ln.booths + 1)
                best = min(best, ahead * ln.mean_svc[g.cls] * settings.factor(g.cls) / ln.booths)
            total += best
            sec = st.secondary.get(g.cls)
            p = settings.secondary_probability.get(g.cls, 0.0) if sec is not None else 0.0
            if p > 0:
                if sec.booths <= 0:
                    return float("inf")
                ahead = max(0, sec.n_waiting + sec.busy - sec.booths + 1)
                total += p * ahead * sec.mean_svc[g.cls] * settings.factor(g.cls) / sec.booths
        return total

    def _divert(self, u: Unit, ahead: int) -> bool:
        g = u.g
        queue_over, targets = g.divert
        if ahead <= queue_over:
            return False
        stay = self.expected_delay(g)
        best, best_cost = None, stay
        for dest, travel in targets:
            cost = self.expected_delay(dest) + travel
            if cost < best_cost:
                best, best_cost = (dest, travel), cost
        if best is None:
            return False
        dest, travel = best
        self._finish(u, Outcome.DIVERTED, u.t_arr, travel)
        ev = Timeout(self.env, travel, (u, dest))
        ev.callbacks.append(self._arrive_diverted)
        return True

    def _arrive_diverted(self, ev) -> None:
        origin, dest = ev.value
        now = self.env.now
        i = dest.draw_for_diverted(origin)
        dest.extra_arrivals.append(now)
        self.arrive(dest, i, now, diverted=True)

    def queue_ahead(self, g: Group) -> int:
        """Units waiting on this class's way through the crossing: the shortest lane of each
        stage, and the secondary inspection queue where units of this class are referred."""
        total = 0
        cls = g.cls
        for st in g.route:
            total += min(ln.n_waiting for ln in st.lanes_for[cls])
            sec = st.secondary.get(cls)
            if sec is not None and st.settings.secondary_probability.get(cls, 0.0) > 0:
                total += sec.n_waiting
        return total

    # ---- queues and booths ------------------------------------------------------------
    def join(self, u: Unit, st: StageRT) -> None:
        lanes = st.lanes_for[u.g.cls]
        if len(lanes) == 1:
            lane = lanes[0]
        else:
            lane = min(lanes, key=lambda ln: (ln.n_waiting, ln.busy - ln.booths))
        self._enqueue(u, lane)

    def _enqueue(self, u: Unit, lane: LaneRT) -> None:
        """Join a lane (or a secondary pool); patience runs while the unit waits in any queue."""
        u.t_join = self.env.now
        u.state = _WAITING
        u.lane = lane
        u.joins += 1
        self._seq += 1
        u.seq = self._seq
        lane.queues[u.g.cls].append(u)
        lane.n_waiting += 1
        self.dispatch(lane)
        if u.state == _WAITING and u.g.patience is not None:
            remaining = u.g.patience[u.i] - u.wait_h
            ev = Timeout(self.env, max(0.0, remaining), (u, u.joins))
            ev.callbacks.append(self._on_patience)

    def _on_patience(self, ev) -> None:
        """Patience runs out: the unit reneges if it still waits in the queue it was
        waiting in when the timer was set."""
        u, joins = ev.value
        if u.state == _WAITING and u.joins == joins:
            now = self.env.now
            self._unqueue(u, now)
            self._finish(u, Outcome.RENEGED, now)

    def _pick(self, lane: LaneRT, st: StageSettings) -> Unit | None:
        if lane.secondary:
            cls, q = lane.single
            while q and q[0].state != _WAITING:
                q.popleft()
            return q.popleft() if q and cls not in st.closed else None
        best_q = None
        best_key = None
        for cls, q in lane.items:
            while q and q[0].state != _WAITING:
                q.popleft()
            if not q or cls in st.closed:
                continue
            if st.quota_per_day and cls in st.quota_per_day and not self._quota_ok(lane.stage, st,
                                                                                  cls):
                continue
            key = (st.level(cls), q[0].seq)
            if best_key is None or key < best_key:
                best_key, best_q = key, q
        return best_q.popleft() if best_q is not None else None

    def _quota_ok(self, stage: StageRT, st: StageSettings, cls: str) -> bool:
        day = int((self.env.now + self.day_offset_h) // 24)
        if day != stage.quota_day:
            stage.quota_day = day
            stage.quota_used = {}
        return stage.quota_used.get(cls, 0) < st.quota_per_day[cls]

    def dispatch(self, lane: LaneRT) -> None:
        st = lane.stage.settings
        while lane.busy < lane.booths:
            u = self._pick(lane, st)
            if u is None:
                return
            self._start(u, lane, st)

    def _start(self, u: Unit, lane: LaneRT, st: StageSettings) -> None:
        now = self.env.now
        g = u.g
        self._unqueue(u, now)
        lane.busy += 1
        u.state = _IN_SERVICE
        cls = g.cls
        if st.quota_per_day and cls in st.quota_per_day and not lane.secondary:
            used = lane.stage.quota_used
            used[cls] = used.get(cls, 0) + 1
        ev = Timeout(self.env, lane.svc[cls][u.i] * st.factor(cls), u)
        ev.callbacks.append(self._done)

    def _done(self, ev) -> None:
        u: Unit = ev.value
        lane: LaneRT = u.lane
        lane.busy -= 1
        self.dispatch(lane)
        stage = lane.stage
        g = u.g
        if not lane.secondary:
            sec = stage.secondary.get(g.cls)
            if sec is not None:
                p = stage.settings.secondary_probability.get(g.cls, 0.0)
                if stage.referral[g.cls][u.i] < p:
                    self._enqueue(u, sec)
                    return
        self._next_stage(u)

    def _next_stage(self, u: Unit) -> None:
        g = u.g
        u.stage += 1
        if u.stage < len(g.route):
            self.join(u, g.route[u.stage])
        else:
            self._finish(u, Outcome.CROSSED, self.env.now)

    # ---- policy -------------------------------------------------------------------------
    def apply_settings(self, stage: StageRT, settings: StageSettings) -> None:
        old = stage.settings
        stage.settings = settings
        for lane in stage.lanes:
            lane.booths = settings.booths.get(lane.name, lane.booths)
        for cls, sec in stage.secondary.items():
            if cls in settings.closed:
                continue    # a refused class stays where it waits
            p = settings.secondary_probability.get(cls, 0.0)
            if p < old.secondary_probability.get(cls, 0.0) or cls in old.closed:
                self._release(stage, sec, cls, p)
        for lane in stage.all_lanes():
            self.dispatch(lane)

    def _release(self, stage: StageRT, sec: LaneRT, cls: str, p: float) -> None:
        """Referral is now rarer: units waiting for secondary inspection that the new
        policy would not have sent there (referral draw >= p) go on, in queue order."""
        now = self.env.now
        draws = stage.referral[cls]
        q = sec.queues[cls]
        waiting = [u for u in q if u.state == _WAITING]
        go = [u for u in waiting if draws[u.i] >= p]
        q.clear()   # in place: the lane's items/single views keep pointing at it
        q.extend(u for u in waiting if draws[u.i] < p)
        for u in go:
            self._unqueue(u, now)
            self._next_stage(u)   # a new join (or crossing) voids this visit's patience check

    def schedule_changes(self, timeline: Timeline) -> None:
        for ch in timeline.changes:
            stage = self.stages[(ch.crossing, ch.stage)]
            if ch.time_h <= 0:
                self.apply_settings(stage, ch.settings)
                continue
            ev = Timeout(self.env, ch.time_h, (stage, ch.settings))
            ev.callbacks.append(lambda e: self.apply_settings(*e.value))
        if timeline.has_quota:
            self.env.process(self._midnights())

    def _midnights(self):
        """Quotas restart at calendar midnight: wake every lane then."""
        first = 24 - (self.day_offset_h % 24)
        yield self.env.timeout(first)
        while True:
            for stage in self.stages.values():
                if stage.settings.quota_per_day:
                    for lane in stage.lanes:
                        self.dispatch(lane)
            yield self.env.timeout(24)

    # ---- the end --------------------------------------------------------------------------
    def close(self) -> None:
        """Record every unit still at a crossing when the run ends (waits censored at the end)."""
        end = self.horizon_h
        for u in self.alive:
            g = u.g
            if u.state == _WAITING:
                g.waited(u, end)
                g.record(u, Outcome.WAITING_AT_END, float("nan"))
            else:
                g.record(u, Outcome.IN_SERVICE_AT_END, float("nan"))
        self.alive = {}
