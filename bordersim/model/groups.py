"""A crossing × class and its units, as the event engine moves them.

A :class:`Group` holds the class's route through its crossing, its units' drawn
attributes and, once the run is over, what happened to them (:class:`Records`),
whichever engine computed it.
"""

from __future__ import annotations

import numpy as np

from bordersim.model.arrivals import ArrivalStream
from bordersim.model.records import Recorder, Records

__all__ = ["Group", "Unit"]

# a unit's state; BOOKED: in an electronic queue's virtual queue, off the road; CALLED: its
# slot given, on its way to the site
WAITING, IN_SERVICE, GONE, BOOKED, CALLED = 0, 1, 2, 3, 4


class Unit:
    __slots__ = ("g", "i", "t_arr", "stage", "wait_h", "t_join", "state", "seq", "lane",
                 "booked", "perishable", "lead_h", "t_slot")

    def __init__(self, g: Group, i: int, t_arr: float):
        self.g = g
        self.i = i
        self.t_arr = t_arr
        self.stage = 0
        self.wait_h = 0.0
        self.t_join = t_arr
        self.state = WAITING
        self.seq = 0
        self.lane = None
        self.booked = False     # served ahead of units without a booking
        self.perishable = False
        self.lead_h = 0.0       # hours waited off the road, booked
        self.t_slot = 0.0


class Group:
    """One crossing × class: its route, its units' attributes and what happened to them
    (``rec``, and the record arrays as attributes, once the run is over)."""

    def __init__(self, crossing: str, cls: str, arrivals: ArrivalStream,
                 balk_over: int | None = None):
        self.crossing = crossing
        self.cls = cls
        self.arrivals = arrivals
        self.attrs = arrivals.attrs
        self.patience = None            # hours per unit (a list), where the class has it
        self.balk_over = balk_over
        self.route: list = []           # the engine's stage of each stage of the crossing
        self.divert = None              # (queue_over, [(group, travel_h)]) or None
        self.responder = None           # a Responder when trips answer the visible delay
        self.booking = None             # a Booking where an electronic queue may apply
        self.draw_for_diverted = None   # callable(group) -> index of fresh attributes
        self.extra_arrivals: list[float] = []   # arrival times of units diverted here
        self.engine = "des"             # or "recursion": which engine ran this group
        self.rec: Records | None = None
        self._log: Recorder | None = None

    def start_log(self) -> None:
        """Buffers for the event engine; visits and outcomes are appended as they happen."""
        log = self._log = Recorder()
        self._qj, self._ql = log.q_join.append, log.q_leave.append
        self._qu, self._qw = log.q_unit.append, log.q_wait0.append
        self._ou, self._ow = log.out_unit.append, log.out_wait.append
        self._oe, self._oc = log.out_exit.append, log.out_code.append

    def end_log(self) -> None:
        self.rec = self._log.records()
        self._log = None

    def waited(self, u: Unit, t_leave: float) -> None:
        """Close the unit's current queue visit at t_leave and add it to its waiting."""
        self._qj(u.t_join)
        self._ql(t_leave)
        self._qu(u.i)
        self._qw(u.wait_h)
        u.wait_h += t_leave - u.t_join

    def record(self, u: Unit, code: int, t_exit: float, travel_h: float = 0.0) -> None:
        if travel_h:
            self._log.travel_at.append(len(self._log.out_code))
            self._log.travel_h.append(travel_h)
        self._ou(u.i)
        self._ow(u.wait_h)
        self._oe(t_exit)
        self._oc(code)

    # the records, as numpy arrays
    q_join = property(lambda self: self.rec.q_join)
    q_leave = property(lambda self: self.rec.q_leave)
    q_unit = property(lambda self: self.rec.q_unit)
    q_wait0 = property(lambda self: self.rec.q_wait0)
    out_unit = property(lambda self: self.rec.out_unit)
    out_wait = property(lambda self: self.rec.out_wait)
    out_exit = property(lambda self: self.rec.out_exit)
    out_code = property(lambda self: self.rec.out_code)
    out_travel = property(lambda self: self.rec.out_travel)

    @property
    def arrival_times(self) -> np.ndarray:
        """Arrival time of every unit index: drawn arrivals (a trip held back arrives when
        it is made, and never when it is given up or still held: NaN), then units diverted
        here."""
        times = self.arrivals.times
        if self.responder is not None:
            held = self.responder.records()
            if len(held["unit"]):
                times = times.copy()
                made = held["code"] == 0
                times[held["unit"]] = np.where(made, held["end"], np.nan)
        if not self.extra_arrivals:
            return times
        return np.concatenate([times, np.asarray(self.extra_arrivals)])

    @property
    def out_arr(self) -> np.ndarray:
        return self.arrival_times[self.rec.out_unit]
