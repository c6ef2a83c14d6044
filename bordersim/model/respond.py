"""Demand that answers the queue: trips set off, or wait, from the delay they can see.

Every ``report_every`` hours (from the start) the expected delay of a crossing × class
is published: what :meth:`Engine.expected_delay` says a unit arriving then would queue
(infinite while the class is refused). Before the run the border is normal (delay 0).

A trip due at the border at t is decided at ``d = t - lead`` (its own draw of
``lead``: loading and the drive; 0 when not given). It sets off if its own uniform
``u`` is below ``share(D)``, D the report that was the latest at ``d - lag``; it then
arrives when due. Otherwise it is held: at each later report τ it sets off if ``u``
is below the share of the delay visible then (the most eager first), arriving at
``τ + lead``; at ``d + hold_max`` at the latest it sets off, arriving ``lead`` later,
or, if its second draw is below ``give_up``, it is given up. Every held trip is made,
given up, or still held when the run ends.

A trip's fate up to its due time is settled when it falls due (the reports before
then are known); from then on it waits for reports like every other held trip. The
draws are the trip's own (keyed like every attribute), so two scenarios that differ
only in policy see the same travellers.
"""

from __future__ import annotations

import heapq
import math

import numpy as np

__all__ = ["Responder", "HELD_MADE", "HELD_FORGONE", "HELD_AT_END"]

HELD_MADE, HELD_FORGONE, HELD_AT_END = 0, 1, 2


def _floats(values) -> list[float]:
    return values.tolist() if isinstance(values, np.ndarray) else [float(v) for v in values]


class Responder:
    """The response of one crossing × class; its records are per held trip."""

    def __init__(self, eng, g, spec):
        self.eng = eng
        self.g = g
        self.spec = spec
        # the trips' own draws, as Python floats (read one at a time)
        self.u = _floats(g.attrs[("respond",)])
        self.give_up = _floats(g.attrs[("give-up",)])
        lead = g.attrs.get(("lead",))
        self.lead = None if lead is None else _floats(lead)
        self.every = spec.report_every
        # reports[k] is the delay published at k × every; n_reports of them so far
        self.reports = np.zeros(int(eng.horizon_h / self.every) + 2)
        self.n_reports = 0
        # mins[0][k]: the delay visible at report time k (published lag earlier), for the
        # report times seen so far; mins[j][k]: the least of mins[0][k : k + 2**j] (a
        # sparse table: the least of any range in two look-ups)
        self.mins: list[list[float]] = [[]]
        self._index(len(self.reports))
        self.heap: list[tuple[float, int]] = []       # (u, trip) of trips still held
        self.deadlines: list[tuple[float, int]] = []  # (deadline, trip), a heap
        self.slot: dict[int, int] = {}                # trip -> its row while held
        self.timer_at = math.inf
        self.timer_id = 0                             # of the one deadline timer that acts
        # one row per held trip
        self.unit: list[int] = []
        self.due: list[float] = []
        self.end: list[float] = []     # when it arrives or is given up; NaN: held at the end
        self.code: list[int] = []

    # ---- reports ---------------------------------------------------------------------
    def start(self) -> None:
        self._report(None)

    def _report(self, _ev) -> None:
        now = self.eng.env.now
        k = int(round(now / self.every))
        self._fill(k)
        self._release(now)
        nxt = (k + 1) * self.every
        if nxt < self.eng.horizon_h:
            self.eng.later(nxt - now, self._report)

    def _fill(self, k: int) -> None:
        """Reports up to index k; a trip falling due at a report's instant may ask first."""
        if self.n_reports <= k:
            delay = self.eng.expected_delay(self.g)
            if k >= len(self.reports):
                self.reports = np.concatenate([self.reports, np.zeros(k + 1)])
            self.reports[self.n_reports:k + 1] = delay
            self.n_reports = k + 1

    def visible(self, t: float) -> float:
        """The delay acted on at time t: the latest report at t - lag."""
        x = t - self.spec.lag
        if x < 0:
            return 0.0
        k = int(math.floor(x / self.every + 1e-9))
        self._fill(k)
        return float(self.reports[k])

    # ---- trips -------------------------------------------------------------------------
    def holds(self, i: int, t: float) -> bool:
        """Trip i is due at t: True if it was held (it arrives later, or never)."""
        lead = self._lead(i)
        d = t - lead
        u = self.u[i]
        if u < self.spec.share(self.visible(d)):
            return False
        row = len(self.unit)
        self.unit.append(i)
        self.due.append(t)
        self.end.append(math.nan)
        self.code.append(HELD_AT_END)
        deadline = d + self.spec.hold_max
        if lead > 0:      # reports between its decision and now have been published
            go = self._first_release(u, d, min(t, deadline))
            if go is not None:
                self._set_off(i, row, go, lead)
                return True
            if deadline <= t:
                self._end_of_hold(i, row, deadline, lead)
                return True
        self.slot[i] = row
        heapq.heappush(self.heap, (u, i))
        heapq.heappush(self.deadlines, (deadline, i))
        if deadline < self.timer_at:
            self._set_timer(deadline)
        return True

    def _first_release(self, u: float, after: float, until: float) -> float | None:
        """The first report time in (after, until] whose visible delay lets u go (report
        times from the start: a trip decided before it saw the normal border and went)."""
        k0 = max(0, int(math.floor(after / self.every + 1e-9)) + 1)
        k1 = int(math.floor(until / self.every + 1e-9))
        if k1 < k0:
            return None
        if k1 >= len(self.seen):
            self._index(k1 + 1)
        visible = self.mins[0]
        if k1 >= len(visible):
            self._visible_to(k1)
        threshold = self.spec.threshold(u)
        j = (k1 - k0 + 1).bit_length() - 1
        row = self.mins[j]
        if not (row[k0] < threshold or row[k1 - (1 << j) + 1] < threshold):
            return None         # no report in the range lets it go (most trips)
        k = k0
        while not visible[k] < threshold:
            k += 1
        return float(self.times[k])

    def _visible_to(self, k1: int) -> None:
        """The visible delays up to report time k1, and their sparse table: the reports they
        show are published by then (seen[k] <= seen[k1]) and never change."""
        mins, seen = self.mins, self.seen
        a = len(mins[0])
        self._fill(int(seen[k1]))
        delays = self.reports[seen[a:k1 + 1]]        # a copy
        if a < self.n_blind:
            delays[:self.n_blind - a] = 0.0
        mins[0].extend(delays.tolist())
        n, j = k1 + 1, 1
        while (1 << j) <= n:
            if len(mins) <= j:
                mins.append([])
            row, prev, half = mins[j], mins[j - 1], 1 << (j - 1)
            for k in range(len(row), n - (1 << j) + 1):
                x, y = prev[k], prev[k + half]
                row.append(x if x < y else y)
            j += 1

    def _index(self, n: int) -> None:
        """For report times k × every, k < n: that time, the index of the report visible
        then (lag earlier), and how many come before any report is visible."""
        self.times = np.arange(n) * self.every
        x = self.times - self.spec.lag
        self.seen = np.floor(np.maximum(x, 0) / self.every + 1e-9).astype(np.int64)
        self.n_blind = int(np.count_nonzero(x < 0))

    def _set_off(self, i: int, row: int, at: float, lead: float) -> None:
        """The held trip sets off at ``at`` and arrives ``lead`` later."""
        arrive = at + lead
        self.end[row] = arrive
        self.code[row] = HELD_MADE
        if arrive <= self.eng.env.now:
            self.eng.arrive(self.g, i, arrive, released=True)
        elif arrive < self.eng.horizon_h:
            self.eng.later(arrive - self.eng.env.now, self._arrive, i)
        else:
            self.end[row] = math.nan            # still on its way when the run ends
            self.code[row] = HELD_AT_END

    def _arrive(self, ev) -> None:
        self.eng.arrive(self.g, ev.value, self.eng.env.now, released=True)

    def _end_of_hold(self, i: int, row: int, at: float, lead: float) -> None:
        if self.give_up[i] < self.spec.give_up:
            self.end[row] = at
            self.code[row] = HELD_FORGONE
        else:
            self._set_off(i, row, at, lead)

    def _set_timer(self, when: float) -> None:
        if when >= self.eng.horizon_h:
            self.timer_at = math.inf
            return
        self.timer_at = when
        self.timer_id += 1      # the timer this one replaces, if any, will do nothing
        self.eng.later(when - self.eng.env.now, self._on_deadline, self.timer_id)

    def _lead(self, i: int) -> float:
        return self.lead[i] if self.lead is not None else 0.0

    def _release(self, now: float) -> None:
        share = self.spec.share(self.visible(now))
        go = []
        while self.heap and self.heap[0][0] < share:
            _, i = heapq.heappop(self.heap)
            if i in self.slot:
                go.append(i)
        for i in go:
            self._set_off(i, self.slot.pop(i), now, self._lead(i))

    def _on_deadline(self, ev) -> None:
        if ev.value != self.timer_id:
            return      # a timer that a later one replaced: that one's chain carries on
        now = self.eng.env.now
        self.timer_at = math.inf
        dl = self.deadlines
        while dl and dl[0][0] <= now:
            _, i = heapq.heappop(dl)
            if i in self.slot:
                self._end_of_hold(i, self.slot.pop(i), now, self._lead(i))
        while dl and dl[0][1] not in self.slot:
            heapq.heappop(dl)
        if dl:
            self._set_timer(dl[0][0])

    def records(self) -> dict[str, np.ndarray]:
        return {"unit": np.asarray(self.unit, dtype=np.int64),
                "due": np.asarray(self.due, dtype=float),
                "end": np.asarray(self.end, dtype=float),
                "code": np.asarray(self.code, dtype=np.int8)}
