"""Demand that answers the queue: trips set off, or wait, from the delay they can see.

Every ``report_every`` hours (from the start) the expected delay of a crossing × class
is published: what :meth:`Engine.expected_delay` says a unit arriving then would
queue (infinite while the class is refused). A trip due at time t sees the report
that was the latest at ``t - lag`` (0 before the run: a normal border), and is made at
once if its own uniform draw ``u`` is below ``share(D)`` (:meth:`Respond.share`);
otherwise it is held. At each report, held trips whose ``u`` is below the share of
the delay then visible are made (they arrive at that report's time), the most eager
first; a trip still held ``hold_max`` after it was due is made then, or, if its second
draw is below ``give_up``, given up. Every held trip is made, given up, or still held
when the run ends. The draws are the unit's own (keyed like every attribute), so two
scenarios that differ only in policy see the same travellers.
"""

from __future__ import annotations

import heapq
import math
from collections import deque

import numpy as np
from simpy.events import Timeout

__all__ = ["Responder", "HELD_MADE", "HELD_FORGONE", "HELD_AT_END"]

HELD_MADE, HELD_FORGONE, HELD_AT_END = 0, 1, 2


class Responder:
    """The response of one crossing × class; its records are per held trip."""

    def __init__(self, eng, g, spec):
        self.eng = eng
        self.g = g
        self.spec = spec
        self.u = g.attrs[("respond",)]
        self.give_up = g.attrs[("give-up",)]
        self.every = spec.report_every
        self.reports: list[float] = []
        self.heap: list[tuple[float, int]] = []       # (u, unit) of held trips
        self.deadlines: deque = deque()               # (deadline, unit), in due order
        self.slot: dict[int, int] = {}                # unit -> its row while held
        self.timer_at = math.inf
        # one row per held trip
        self.unit: list[int] = []
        self.due: list[float] = []
        self.end: list[float] = []                    # made or given up at; NaN at the end
        self.code: list[int] = []

    # ---- reports ---------------------------------------------------------------------
    def start(self) -> None:
        self._report(None)

    def _report(self, _ev) -> None:
        now = self.eng.env.now
        k = int(round(now / self.every))
        while len(self.reports) <= k:      # a trip due at this instant may have asked first
            self.reports.append(self.eng.expected_delay(self.g))
        self._release(now)
        nxt = (k + 1) * self.every
        if nxt < self.eng.horizon_h:
            ev = Timeout(self.eng.env, nxt - now)
            ev.callbacks.append(self._report)

    def visible(self, t: float) -> float:
        """The delay a trip due at t acts on: the latest report at t - lag."""
        x = t - self.spec.lag
        if x < 0:
            return 0.0
        k = int(math.floor(x / self.every + 1e-9))
        while k >= len(self.reports):       # the report of this very instant
            self.reports.append(self.eng.expected_delay(self.g))
        return self.reports[k]

    # ---- trips -------------------------------------------------------------------------
    def holds(self, i: int, t: float) -> bool:
        """Trip i is due at t: True if it is held rather than made now."""
        if self.u[i] < self.spec.share(self.visible(t)):
            return False
        self.slot[i] = len(self.unit)
        self.unit.append(i)
        self.due.append(t)
        self.end.append(math.nan)
        self.code.append(HELD_AT_END)
        heapq.heappush(self.heap, (self.u[i], i))
        deadline = t + self.spec.hold_max
        self.deadlines.append((deadline, i))
        if deadline < self.timer_at:
            self._set_timer(deadline)
        return True

    def _set_timer(self, when: float) -> None:
        if when >= self.eng.horizon_h:
            self.timer_at = math.inf
            return
        self.timer_at = when
        ev = Timeout(self.eng.env, when - self.eng.env.now)
        ev.callbacks.append(self._on_deadline)

    def _made(self, i: int, now: float, code: int) -> None:
        row = self.slot.pop(i)
        self.end[row] = now
        self.code[row] = code

    def _release(self, now: float) -> None:
        share = self.spec.share(self.visible(now))
        go = []
        while self.heap and self.heap[0][0] < share:
            _, i = heapq.heappop(self.heap)
            if i in self.slot:
                self._made(i, now, HELD_MADE)
                go.append(i)
        for i in go:
            self.eng.arrive(self.g, i, now, released=True)

    def _on_deadline(self, _ev) -> None:
        now = self.eng.env.now
        self.timer_at = math.inf
        dq = self.deadlines
        while dq and dq[0][0] <= now:
            _, i = dq.popleft()
            if i not in self.slot:
                continue                    # already made at a report
            if self.give_up[i] < self.spec.give_up:
                self._made(i, now, HELD_FORGONE)
            else:
                self._made(i, now, HELD_MADE)
                self.eng.arrive(self.g, i, now, released=True)
        while dq and dq[0][1] not in self.slot:
            dq.popleft()
        if dq:
            self._set_timer(dq[0][0])

    def records(self) -> dict[str, np.ndarray]:
        return {"unit": np.asarray(self.unit, dtype=np.int64),
                "due": np.asarray(self.due, dtype=float),
                "end": np.asarray(self.end, dtype=float),
                "code": np.asarray(self.code, dtype=np.int8)}
