"""The border as SimPy events: crossings → stages → lanes → booths.

Units move by callbacks on SimPy timeouts rather than one generator process
each: a unit's path is fixed by the model, so a process per unit would only
add a generator resume and a resource request per stage. Equal-time events
keep SimPy's insertion order; nothing random decides ties.

Each part of the border whose units can meet (share a lane, or divert to one
another) has its own chain of arrivals, landing on the clock computed by
:func:`bordersim.model.clock.arrival_clock`: what happens in one part never moves
an event of another, so a part may as well be computed without events.

Patience costs nothing once a unit has left its queue: the queue keeps its
deadlines in its own heap of times (with the seq of the units due at each), the
units that still wait by seq in a dict they leave with the queue, and SimPy
holds one timeout per queue, for the earliest. Nothing keeps a unit alive after
it has gone, a deadline allocates nothing the garbage collector tracks, and the
deadlines of units gone are forgotten once they outnumber those still waiting, so
that a queue's deadlines grow with the queue, not with every unit that ever waited.
"""

from __future__ import annotations

from collections import deque
from heapq import heapify, heappop, heappush

import simpy
from simpy.events import NORMAL, Timeout

from bordersim.model.clock import hops
from bordersim.model.groups import BOOKED, CALLED, GONE, IN_SERVICE, WAITING, Group, Unit
from bordersim.model.records import Outcome
from bordersim.model.timeline import StageSettings

__all__ = ["Outcome", "Group", "Engine", "ArrivalChain"]


def _seqs(value) -> list | tuple:
    return value if isinstance(value, list) else (value,)


class _Call:
    """A timeout cut down to what SimPy's step and the engine's callbacks read: its
    callbacks, its value, and that it succeeded."""

    __slots__ = ("callbacks", "value")
    _ok = True


#: deadlines a queue may hold beyond twice its waiting units before it forgets those of units
#: that have left
COMPACT_SLACK = 4096


def _compact(lane: LaneRT) -> None:
    """Forget the deadlines of units that have left the queue (they would be skipped when
    they came up): the heap and its index then grow with the queue, not with every unit
    that ever waited. Nothing else changes: the earliest deadline still due is the same."""
    patient = lane.patient
    due = {}
    for t, seqs in lane.due.items():
        if isinstance(seqs, list):
            keep = [q for q in seqs if q in patient]
            if keep:
                due[t] = keep[0] if len(keep) == 1 else keep
        elif seqs in patient:
            due[t] = seqs
    lane.due = due
    lane.deadlines = list(due)
    heapify(lane.deadlines)


class LaneRT:
    __slots__ = ("name", "stage", "booths", "busy", "queues", "booked", "items", "single",
                 "n_waiting", "svc", "secondary", "mean_svc", "deadlines", "due", "patient",
                 "timers")

    def __init__(self, name: str, stage: StageRT, booths: int, classes: list[str],
                 secondary: bool, booked: tuple = ()):
        self.name = name
        self.stage = stage
        self.booths = booths
        self.busy = 0
        self.queues = {k: deque() for k in classes}
        # units with a booking (electronic queue) of these classes, served before the others
        self.booked = {k: deque() for k in classes if k in booked}
        # (class, queue, rank): booked queues rank 0, ahead of the same class's others
        self.items = [(k, q, 0) for k, q in self.booked.items()] + \
            [(k, q, 1) for k, q in self.queues.items()]
        self.single = self.items[0][:2] if len(self.items) == 1 else None
        self.n_waiting = 0
        self.svc: dict[str, list] = {}
        self.secondary = secondary
        self.mean_svc: dict[str, float] = {}
        self.deadlines: list = []   # heap of the times units' patience runs out
        self.due: dict = {}         # such a time -> seq of the unit due then (a list: several)
        self.patient: dict = {}     # seq -> unit, for those still waiting here
        self.timers: list = []      # heap of times SimPy will wake this queue at


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


class ArrivalChain:
    """The arrivals of one part of the border as one chain of timeouts, in time order
    (equal times in group order, then unit order). A step without a group only carries
    the chain on, where one delay could not land exactly on the next arrival's clock."""

    __slots__ = ("eng", "delays", "groups", "units", "times", "k")

    def __init__(self, eng: Engine, delays: list[float], groups: list, units: list[int],
                 times: list[float]):
        self.eng, self.delays, self.groups, self.units, self.times = (eng, delays, groups,
                                                                      units, times)
        self.k = 0

    def start(self) -> None:
        if self.delays:
            self.eng.later(self.delays[0], self.fire)

    def fire(self, ev) -> None:
        k = self.k
        self.k = k + 1
        if k + 1 < len(self.delays):
            self.eng.again(ev, self.delays[k + 1], self.fire)   # it carries the next
        g = self.groups[k]
        if g is not None:
            self.eng.arrive(g, self.units[k], self.times[k])


class Engine:
    def __init__(self, env: simpy.Environment, horizon_h: float, day_offset_h: float):
        self.env = env
        self.horizon_h = horizon_h
        self.day_offset_h = day_offset_h
        self.alive: dict[Unit, None] = {}   # units at a crossing, in arrival order
        self._seq = 0
        self.stages: dict[tuple[str, str], StageRT] = {}
        self.groups: list[Group] = []       # every group, whichever engine computes it
        self.chains: list[ArrivalChain] = []
        self.bookings: list = []            # the Booking of every group that may book
        self.perishable_share: dict[str, float] = {}
        self._done_cb = self._done
        if not all(hasattr(env, a) for a in ("_queue", "_eid", "_now")):
            self.later = self._later_timeout      # a SimPy without those internals

    def later(self, delay: float, callback, value=None) -> None:
        """callback(event) at now + delay, event.value == value: what a SimPy Timeout with
        that callback does, put on SimPy's queue with the priority and sequence number
        the Timeout would take, so that the order of events is the same, without the
        Timeout's bookkeeping (most events of a run are these)."""
        ev = _Call()
        ev.value = value
        self._push(ev, delay, callback)

    def again(self, ev, delay: float, callback) -> None:
        """callback(ev) at now + delay, for an event that has just fired (its value
        kept): the event is used again rather than a new one made."""
        if type(ev) is _Call:
            self._push(ev, delay, callback)
        else:                   # a Timeout of SimPy's, where later makes those
            self.later(delay, callback, ev.value)

    def _push(self, ev: _Call, delay: float, callback) -> None:
        if delay < 0:
            raise ValueError(f"negative delay {delay}")
        ev.callbacks = (callback,)
        env = self.env
        heappush(env._queue, (env._now + delay, NORMAL, next(env._eid), ev))

    def _later_timeout(self, delay: float, callback, value=None) -> None:
        Timeout(self.env, delay, value).callbacks.append(callback)

    # ---- arrivals -------------------------------------------------------------------
    def start_arrivals(self) -> None:
        for chain in self.chains:
            chain.start()

    def arrive(self, g: Group, i: int, t: float, diverted: bool = False,
               released: bool = False) -> None:
        """Unit i of g reaches the crossing at t (a trip due then, unless it is held; or a
        held trip ``released`` now; or a unit ``diverted`` here from elsewhere)."""
        if g.responder is not None and not (diverted or released) and g.responder.holds(i, t):
            return
        u = Unit(g, i, t)
        self.alive[u] = None
        if g.booking is not None:
            appt = g.booking.active()
            if appt is not None and g.booking.try_book(u, appt):
                return
        can_divert = g.divert is not None and not diverted
        if can_divert or g.balk_over is not None:
            ahead = self.queue_ahead(g)
            if can_divert and self._divert(u, ahead):
                return
            if g.balk_over is not None and ahead > g.balk_over:
                self._finish(u, Outcome.BALKED, t)
                return
        self.join(u, g.route[0])

    def refuse(self, u: Unit) -> None:
        """A booking refused beyond the horizon: the unit leaves at once (as balking)."""
        self._finish(u, Outcome.BALKED, self.env.now)

    def no_show(self, u: Unit) -> None:
        """A booked unit that does not turn up for its slot: it gave up its trip."""
        self._finish(u, Outcome.RENEGED, self.env.now)

    def renege_booked(self, u: Unit) -> None:
        self._finish(u, Outcome.RENEGED, self.env.now)

    def _finish(self, u: Unit, code: int, t: float, travel_h: float = 0.0) -> None:
        """The unit leaves the crossing for good."""
        u.state = GONE
        del self.alive[u]
        u.g.record(u, code, t, travel_h)

    def _unqueue(self, u: Unit, now: float) -> None:
        """The unit leaves the queue it waits in; its waiting so far is recorded."""
        lane = u.lane
        lane.n_waiting -= 1
        patient = lane.patient
        if patient:
            patient.pop(u.seq, None)
        u.g.waited(u, now)

    def expected_delay(self, g: Group) -> float:
        """Hours a unit of this class arriving now would expect to queue at g's crossing:
        per stage, the best lane's units ahead × mean service ÷ booths, plus the same for
        secondary inspection times the referral probability; inf where closed."""
        total = 0.0
        if g.booking is not None and g.booking.active() is not None:
            total = g.booking.expected_lead()
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
        self.later(travel, self._arrive_diverted, (u, dest))
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
            lanes = st.lanes_for[cls]
            total += lanes[0].n_waiting if len(lanes) == 1 else min([ln.n_waiting
                                                                     for ln in lanes])
            sec = st.secondary.get(cls)
            if sec is not None and st.settings.secondary_probability.get(cls, 0.0) > 0:
                total += sec.n_waiting
        return total

    # ---- queues and booths ------------------------------------------------------------
    def join(self, u: Unit, st: StageRT, keep_join: bool = False) -> None:
        lanes = st.lanes_for[u.g.cls]
        if len(lanes) == 1:
            lane = lanes[0]
        else:       # the fewest waiting, then the most booths free; the first of equals
            lane = lanes[0]
            best = (lane.n_waiting, lane.busy - lane.booths)
            for ln in lanes[1:]:
                key = (ln.n_waiting, ln.busy - ln.booths)
                if key < best:
                    lane, best = ln, key
        self._enqueue(u, lane, keep_join)

    def _enqueue(self, u: Unit, lane: LaneRT, keep_join: bool = False) -> None:
        """Join a lane (or a secondary pool); patience runs while the unit waits in any queue
        (``keep_join``: the visit began earlier, when a booked unit reached the site)."""
        now = self.env.now
        if not keep_join:
            u.t_join = now
        u.lane = lane
        self._seq += 1
        u.seq = self._seq
        g = u.g
        cls = g.cls
        st = lane.stage.settings
        if (not lane.n_waiting and lane.busy < lane.booths and cls not in st.closed
                and not (st.quota_per_day and cls in st.quota_per_day)):
            # nobody waits and a booth is free: what queueing and dispatching would do
            g.waited(u, now)
            self._serve(u, lane, st)
            return
        u.state = WAITING
        (lane.booked[cls] if u.booked and cls in lane.booked else lane.queues[cls]).append(u)
        lane.n_waiting += 1
        if lane.busy < lane.booths:
            self.dispatch(lane)
        if g.patience is not None and u.state == WAITING:
            delay = g.patience[u.i] - u.wait_h
            if keep_join or u.lead_h:
                delay -= u.lead_h + (now - u.t_join)
            if not delay > 0.0:     # as max(0.0, delay)
                delay = 0.0
            due = now + delay
            seq = u.seq
            if len(lane.deadlines) > 2 * len(lane.patient) + COMPACT_SLACK:
                _compact(lane)
            first = lane.due.setdefault(due, seq)
            if first == seq:
                heappush(lane.deadlines, due)
            else:       # several units due at one time renege in the order they joined
                lane.due[due] = [*first, seq] if isinstance(first, list) else [first, seq]
            lane.patient[seq] = u
            timers = lane.timers
            if not timers or timers[0] > due:
                heappush(timers, due)
                self.later(delay, self._on_patience, lane)

    def _on_patience(self, ev) -> None:
        """The queue's earliest deadline: units whose patience runs out now renege if they
        still wait in the queue they were waiting in when their deadline was set; then
        SimPy is asked to wake the queue at its next deadline (unless it will already)."""
        lane: LaneRT = ev.value
        heappop(lane.timers)
        now = self.env.now
        dl, patient, dues = lane.deadlines, lane.patient, lane.due
        while dl and dl[0] <= now:
            seqs = dues.pop(heappop(dl))
            for seq in _seqs(seqs):
                u = patient.get(seq)
                if u is not None:
                    self._unqueue(u, now)
                    self._finish(u, Outcome.RENEGED, now)
        while dl and not any(seq in patient for seq in _seqs(dues[dl[0]])):
            del dues[heappop(dl)]   # deadlines of units that have left: never scheduled
        if dl and (not lane.timers or lane.timers[0] > dl[0]):
            due = dl[0]
            heappush(lane.timers, due)
            self._call_at(due, self._on_patience, lane)

    def _call_at(self, when: float, callback, value) -> None:
        """Run callback(event) with event.value == value at exactly ``when``."""
        delays = hops(self.env.now, when)
        if len(delays) == 1:
            self.later(delays[0], callback, value)
        else:
            self.later(delays[0], self._hop, (delays[1], callback, value))

    def _hop(self, ev) -> None:
        delay, callback, value = ev.value
        self.later(delay, callback, value)

    def _pick(self, lane: LaneRT, st: StageSettings) -> Unit | None:
        single = lane.single
        if single is not None:      # one class: no priority to weigh
            cls, q = single
            while q and q[0].state != WAITING:
                q.popleft()
            if not q or cls in st.closed:
                return None
            if (st.quota_per_day and not lane.secondary and cls in st.quota_per_day
                    and not self._quota_ok(lane.stage, st, cls)):
                return None
            return q.popleft()
        best_q = None
        best_key = None
        for cls, q, rank in lane.items:
            while q and q[0].state != WAITING:
                q.popleft()
            if not q or cls in st.closed:
                continue
            if st.quota_per_day and cls in st.quota_per_day and not self._quota_ok(lane.stage, st,
                                                                                  cls):
                continue
            key = (st.level(cls), rank, q[0].seq)
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
        """A waiting unit leaves its queue for a booth."""
        self._unqueue(u, self.env.now)
        self._serve(u, lane, st)

    def _serve(self, u: Unit, lane: LaneRT, st: StageSettings) -> None:
        """The unit takes a booth of the lane now (its queue visit is closed)."""
        lane.busy += 1
        u.state = IN_SERVICE
        cls = u.g.cls
        if st.quota_per_day and cls in st.quota_per_day and not lane.secondary:
            used = lane.stage.quota_used
            used[cls] = used.get(cls, 0) + 1
        self.later(lane.svc[cls][u.i] * st.factor(cls), self._done_cb, u)

    def _done(self, ev) -> None:
        u: Unit = ev.value
        lane: LaneRT = u.lane
        lane.busy -= 1
        if lane.n_waiting:
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
        for b in self.bookings:
            if b.g.route[0] is stage:
                b.on_settings(old, settings)
        for lane in stage.all_lanes():
            self.dispatch(lane)

    def _release(self, stage: StageRT, sec: LaneRT, cls: str, p: float) -> None:
        """Referral is now rarer: units waiting for secondary inspection that the new
        policy would not have sent there (referral draw >= p) go on, in queue order."""
        now = self.env.now
        draws = stage.referral[cls]
        go = []
        for q in (sec.booked.get(cls), sec.queues[cls]):
            if q is None:
                continue
            waiting = [u for u in q if u.state == WAITING]
            go += [u for u in waiting if draws[u.i] >= p]
            q.clear()   # in place: the lane's items/single views keep pointing at it
            q.extend(u for u in waiting if draws[u.i] < p)
        go.sort(key=lambda u: (not u.booked, u.seq))
        for u in go:
            self._unqueue(u, now)
            self._next_stage(u)   # a new join (or crossing) voids this visit's patience check

    def schedule_changes(self, changes: list, has_quota: bool) -> None:
        """Policy changes of the stages this engine runs (StageChange, in time order)."""
        for ch in changes:
            stage = self.stages[(ch.crossing, ch.stage)]
            if ch.time_h <= 0:
                self.apply_settings(stage, ch.settings)
                continue
            self.later(ch.time_h, lambda e: self.apply_settings(*e.value), (stage, ch.settings))
        if has_quota:
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
        """Record every unit still at a crossing when the run ends (waits censored at the end)
        and hand the records over as arrays."""
        end = self.horizon_h
        for u in self.alive:
            g = u.g
            if u.state in (BOOKED, CALLED):   # off the road: no queue visit
                g.record(u, Outcome.WAITING_AT_END, float("nan"))
            elif u.state == WAITING:
                g.waited(u, end)
                g.record(u, Outcome.WAITING_AT_END, float("nan"))
            else:
                g.record(u, Outcome.IN_SERVICE_AT_END, float("nan"))
        self.alive = {}
        for g in self.groups:
            if g.engine == "des":
                g.end_log()
