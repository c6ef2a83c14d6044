"""An electronic queue (appointment system) for one crossing × class.

While a phase gives the class an ``appointment`` at the crossing, an arriving unit
either comes without a booking (its own draw below ``live_share``: it joins the road
queue as every unit does without the system) or books. Booked units wait off the
road in a virtual queue, perishable loads first where ``perishable_first`` is set,
in booking order otherwise. A slot server calls them one at a time, one slot every
1 / rate hours (``slots_per_day``, or ``capacity_share`` of the crossing's bottleneck
capacity at the settings of the moment); a unit called at c has its slot at
c + ``notice``, reaches the site ``arrive_early`` before it (never before it was
called) and joins the first stage's queue at its slot (on reaching the site, with
``serve_early``: a free booth may then take it before its slot), ahead of the units
without a booking. Booked units keep that precedence at every stage.

A booking is refused when the lead time it would get is over ``horizon``: the unit
leaves (counted as balked) or, with ``over_horizon: queue``, joins the road queue.
A booked unit whose ``no_show`` draw is below the share does not turn up: its slot
is lost and it counts as reneged, as does a booked unit whose patience runs out while
it waits off the road (patience counts every hour waited, off the road or on it).

When a phase introduces the system, the units of the class already queuing at the
crossing are served first (they take the booked units' precedence, in their order)
and the first slot comes when the slot rate would have cleared them. When a phase
ends it, every unit still booked is called at once, in the order it would have been
(its slot ``notice`` later): the booked line drives to the site and is served ahead
of new arrivals, which queue on the road as without the system.

The records are one row per booking asked for: the unit, when it booked, when it
left the virtual queue (reached the site, failed to show, gave up, or NaN while still
booked at the end) and how it ended (``BOOKED_*``).
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from bordersim.model.groups import BOOKED, CALLED, GONE, WAITING

__all__ = ["Booking", "BOOKED_SHOWED", "BOOKED_NO_SHOW", "BOOKED_RENEGED", "BOOKED_AT_END",
           "BOOKED_REFUSED"]

BOOKED_SHOWED, BOOKED_NO_SHOW, BOOKED_RENEGED, BOOKED_AT_END, BOOKED_REFUSED = range(5)


class Booking:
    """The virtual queue and slot server of one group (crossing × class)."""

    def __init__(self, eng, g, deterministic: bool):
        self.eng = eng
        self.g = g
        self.deterministic = deterministic
        self.appt = None                  # the Appointment in force (the last one, once ended)
        self.queues = (deque(), deque())  # perishable stream first, then the general one
        self.n_booked = 0                 # units in the virtual queue, not yet called
        self.n_perishable = 0
        self.free_at = -math.inf          # when the slot server may call the next unit
        self.timer = False                # a call is scheduled
        attrs = g.attrs
        self.u_live = attrs.get(("booking",))
        self.u_show = attrs.get(("no-show",))
        self.early = attrs.get(("early",))
        self.u_perish = attrs.get(("perishable",))
        self.row: dict[int, int] = {}     # unit index -> its row
        self.unit: list[int] = []
        self.t_book: list[float] = []
        self.t_end: list[float] = []
        self.code: list[int] = []

    # ---- settings ------------------------------------------------------------------
    def active(self):
        """The appointment now in force at the crossing's first stage, or None."""
        return self.g.route[0].settings.appointment.get(self.g.cls)

    def on_settings(self, old, new) -> None:
        """A phase changed the first stage's settings: introduce, change or end the system."""
        appt = new.appointment.get(self.g.cls)
        if appt is not None:
            if old.appointment.get(self.g.cls) is None:
                self._introduce(appt)
            self.appt = appt
        elif old.appointment.get(self.g.cls) is not None:
            self._call_all()
        self._wake()

    def _introduce(self, appt) -> None:
        """The standing road queue clears first: its units take precedence, in order, and
        the first slot waits for the time the slot rate would need to clear them."""
        now = self.eng.env.now
        self.appt = appt
        standing = 0
        for st in self.g.route:
            for lane in st.all_lanes():
                q = lane.queues.get(self.g.cls)
                if q is None or self.g.cls not in lane.booked:
                    continue
                waiting = [u for u in q if u.state == WAITING]
                standing += len(waiting)
                for u in waiting:
                    u.booked = True
                lane.booked[self.g.cls].extend(waiting)
                q.clear()
        rate = self.rate()
        if standing and rate > 0:
            self.free_at = max(self.free_at, now + standing / rate)

    def rate(self) -> float:
        """Slots per hour: the fixed rate, or a share of the bottleneck capacity now."""
        appt = self.appt
        if appt is None:
            return 0.0
        if appt.slots_per_day is not None:
            return appt.slots_per_day / 24.0
        return appt.share * self.capacity()

    def capacity(self) -> float:
        """Units of the class per hour the crossing could serve now: per stage, its lanes'
        booths ÷ mean service (as if they served this class alone), or its secondary bays ÷
        (referral share × mean service) if fewer; the smallest over the stages."""
        cls = self.g.cls
        best = math.inf
        for st in self.g.route:
            s = st.settings
            if cls in s.closed:
                return 0.0
            f = s.factor(cls)
            cap = sum(ln.booths / (ln.mean_svc[cls] * f) for ln in st.lanes_for[cls])
            sec = st.secondary.get(cls)
            p = s.secondary_probability.get(cls, 0.0) if sec is not None else 0.0
            if p > 0:
                cap = min(cap, sec.booths / (p * sec.mean_svc[cls] * f))
            best = min(best, cap)
        return best

    def expected_lead(self) -> float:
        """Hours a unit booking now would wait off the road (its slot's lead, by the
        current rate), plus the notice; inf while no slots are released."""
        rate = self.rate()
        if rate <= 0:
            return math.inf
        now = self.eng.env.now
        return max(0.0, self.free_at - now) + self.n_booked / rate + self.appt.notice

    # ---- arrivals --------------------------------------------------------------------
    def try_book(self, u, appt) -> bool:
        """Unit u arrives while the system is in force: True if it booked (or was refused
        and left), False if it queues on the road like a unit without the system."""
        i = u.i
        share = appt.live_share
        if share > 0:
            if self.deterministic:
                live = math.floor((i + 1) * share + 1e-9) > math.floor(i * share + 1e-9)
            else:
                live = self.u_live[i] < share
            if live:
                return False
        self.appt = appt
        now = self.eng.env.now
        perishable = appt.perishable_first and self._perishable(i)
        if appt.horizon is not None:
            rate = self.rate()
            ahead = self.n_perishable if perishable else self.n_booked
            lead = (max(0.0, self.free_at - now) + ahead / rate) if rate > 0 else math.inf
            if lead > appt.horizon:
                if appt.over_horizon == "queue":
                    return False
                self._row(u, now, now, BOOKED_REFUSED)
                self.eng.refuse(u)
                return True
        self._row(u, now, math.nan, BOOKED_AT_END)
        u.state = BOOKED
        u.booked = True
        u.perishable = perishable
        self.queues[0 if perishable else 1].append(u)
        self.n_booked += 1
        self.n_perishable += perishable
        g = u.g
        if g.patience is not None:
            left = g.patience[i] - u.wait_h - u.lead_h
            self.eng.later(max(0.0, left), self._impatient, u)
        self._wake()
        return True

    def _perishable(self, i: int) -> bool:
        share = self.eng.perishable_share[self.g.cls]
        return self.u_perish is not None and self.u_perish[i] < share

    def _row(self, u, t_book: float, t_end: float, code: int) -> None:
        self.row[u.i] = len(self.unit)
        self.unit.append(u.i)
        self.t_book.append(t_book)
        self.t_end.append(t_end)
        self.code.append(code)

    def _end_row(self, u, t: float, code: int) -> None:
        r = self.row[u.i]
        self.t_end[r] = t
        self.code[r] = code
        u.lead_h += t - self.t_book[r]

    # ---- the slot server ---------------------------------------------------------------
    def _wake(self) -> None:
        if self.timer or not self.n_booked:
            return
        now = self.eng.env.now
        if self.free_at <= now:
            self._call(None)
        elif self.rate() > 0:
            self.timer = True
            self.eng.later(self.free_at - now, self._call)

    def _call(self, ev) -> None:
        if ev is not None:
            self.timer = False
        rate = self.rate()
        if rate <= 0 or not self.n_booked:
            return      # a phase that releases slots again wakes the server
        now = self.eng.env.now
        self._send(self._next())
        self.free_at = now + 1.0 / rate
        if self.n_booked:
            self.timer = True
            self.eng.later(1.0 / rate, self._call)

    def _next(self):
        """The next unit to call: perishable loads first (where they go first), then in
        booking order."""
        for q in self.queues:
            while q and q[0].state != BOOKED:
                q.popleft()
            if q:
                return q.popleft()
        raise RuntimeError("no booked unit to call")

    def _call_all(self) -> None:
        """The system ends: every unit still booked is called now, in its order."""
        while self.n_booked:
            self._send(self._next())

    def _send(self, u) -> None:
        """Call u now: its slot is ``notice`` later; it reaches the site ``arrive_early``
        before the slot, never before now."""
        now = self.eng.env.now
        self.n_booked -= 1
        self.n_perishable -= u.perishable
        u.state = CALLED
        slot = now + self.appt.notice
        early = float(self.early[u.i]) if self.early is not None else 0.0
        site = max(now, slot - early)
        u.t_slot = slot
        if site > now:
            self.eng.later(site - now, self._reach_site, u)
        else:
            self._at_site(u)

    def _reach_site(self, ev) -> None:
        self._at_site(ev.value)

    def _at_site(self, u) -> None:
        now = self.eng.env.now
        if self.u_show is not None and self.u_show[u.i] < self.appt.no_show:
            self._end_row(u, now, BOOKED_NO_SHOW)
            self.eng.no_show(u)
            return
        self._end_row(u, now, BOOKED_SHOWED)
        u.state = WAITING
        u.t_join = now
        if u.t_slot > now and not self.appt.serve_early:
            self.eng.later(u.t_slot - now, self._slot, u)
        else:
            self.eng.join(u, self.g.route[0], keep_join=True)

    def _slot(self, ev) -> None:
        self.eng.join(ev.value, self.g.route[0], keep_join=True)

    def _impatient(self, ev) -> None:
        u = ev.value
        if u.state != BOOKED:
            return
        now = self.eng.env.now
        u.state = GONE      # its entry in the virtual queue is skipped when reached
        self.n_booked -= 1
        self.n_perishable -= u.perishable
        self._end_row(u, now, BOOKED_RENEGED)
        self.eng.renege_booked(u)

    def records(self) -> dict[str, np.ndarray]:
        return {"unit": np.asarray(self.unit, dtype=np.int64),
                "book": np.asarray(self.t_book, dtype=float),
                "end": np.asarray(self.t_end, dtype=float),
                "code": np.asarray(self.code, dtype=np.int8)}
