"""Demand that answers the visible delay (behaviour.respond): exact cases, the fluid fixed
point, and conservation of held trips.

Truck k is due at k hours (deterministic demand of 24 a day) unless said otherwise.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from bordersim.experiment import simulate
from bordersim.loading import ScenarioError, scenario_from_dict
from bordersim.model import Outcome, run_model
from bordersim.model.respond import HELD_AT_END, HELD_FORGONE, HELD_MADE
from bordersim.scenario import Respond


def _scenario(respond: dict, policy=(), duration="10h", service="30min", demand=24,
              process="deterministic", booths=1, behaviour=None, **extra) -> dict:
    return {
        "name": "respond", "start": "2017-10-01", "duration": duration,
        "classes": {"truck": {"persons": 1, "cargo_value": 10000}},
        "crossings": {"x": {"demand": {"truck": demand}, "arrival_process": process,
                            "stages": [{"name": "s", "lanes": [
                                {"name": "l", "serves": ["truck"], "booths": booths,
                                 "service": {"truck": service}}]}]}},
        "policy": list(policy),
        "behaviour": {"respond": {"truck": respond}, **(behaviour or {})},
        **extra,
    }


def _engine(data, seed=1):
    return run_model(scenario_from_dict(data).scenario, 0, seed)


def _group(eng):
    (g,) = eng.groups
    return g


def test_the_share_of_trips_made_at_once():
    r = Respond(reference_delay="4h", steepness=2, floor=0.2)
    assert r.share(0) == 1.0
    assert r.share(4.0) == pytest.approx(0.2 + 0.8 / 2)
    assert r.share(8.0) == pytest.approx(0.2 + 0.8 / 5)
    assert r.share(math.inf) == 0.2
    assert r.share(1e300) == 0.2


def test_trips_held_while_closed_are_made_when_the_reopened_border_is_reported():
    """Closed until 3.5h; reports every hour, acted on 30 min late (lag). Trucks 1-4 (due
    1-4h) see reports 0-3, taken while closed (delay infinite): all held (share 0 with no
    floor). Report 4 (at 4h) finds the border open and empty: delay 0. At the 5h report
    trips see report 4, share 1: trucks 1-4 are made at 5h, and truck 5 (due 5h, sees
    report 4) goes at once. The five are served 5.0-7.5h, 30 min each. (Truck 7 then
    sees the line of 6h, about 2h long, and may be held too: not asserted here.)"""
    data = _scenario({"reference_delay": "2h", "steepness": 50, "lag": "30min",
                      "hold_max": "4.2h"},
                     policy=[{"at": 0, "closed": ["truck"]}, {"at": "3.5h", "closed": []}])
    eng = _engine(data)
    g = _group(eng)
    rec = {k: v[g.responder.records()["due"] <= 6] for k, v in g.responder.records().items()}
    assert rec["unit"].tolist() == [0, 1, 2, 3]
    assert rec["due"].tolist() == [1.0, 2.0, 3.0, 4.0]
    assert rec["end"].tolist() == [5.0] * 4 and rec["code"].tolist() == [HELD_MADE] * 4
    rows = sorted(zip(g.out_arr, g.out_exit, g.out_code, strict=True))
    assert [a for a, _, _ in rows[:5]] == [5.0] * 5
    assert sorted(e for _, e, _ in rows[:5]) == [5.5, 6.0, 6.5, 7.0, 7.5]
    assert all(c == Outcome.CROSSED for _, _, c in rows[:5])


@pytest.mark.parametrize("give_up", [0.0, 1.0])
def test_the_longest_hold_makes_or_gives_up_the_trip(give_up):
    """Closed all run: every trip is held (share 0). After the longest hold (2h) a trip is
    made (and queues, closed) with give_up 0, or given up with give_up 1. Trucks 8 and 9
    (due 8h, 9h) would reach it at 10h and 11h: still held when the run ends at 10h."""
    data = _scenario({"reference_delay": "1h", "hold_max": "2h", "give_up": give_up},
                     policy=[{"at": 0, "closed": ["truck"]}])
    eng = _engine(data)
    g = _group(eng)
    rec = g.responder.records()
    assert rec["due"].tolist() == [float(k) for k in range(1, 10)]
    end = rec["end"]
    assert end[:7].tolist() == [float(k + 2) for k in range(1, 8)]
    assert np.isnan(end[7:]).all()
    done = HELD_FORGONE if give_up else HELD_MADE
    assert rec["code"].tolist() == [done] * 7 + [HELD_AT_END] * 2
    arrived = sorted(g.out_arr)
    assert arrived == ([] if give_up else [float(k + 2) for k in range(1, 8)])
    assert all(c == Outcome.WAITING_AT_END for c in g.out_code)


def test_a_share_gives_up_by_each_trips_own_draw():
    data = _scenario({"reference_delay": "1h", "hold_max": "1h", "give_up": 0.5},
                     policy=[{"at": 0, "closed": ["truck"]}], duration="200h")
    eng = _engine(data)
    g = _group(eng)
    rec = g.responder.records()
    draws = np.asarray(g.attrs[("give-up",)])[rec["unit"]]
    ended = rec["code"] != HELD_AT_END
    assert ((rec["code"] == HELD_FORGONE) == (draws < 0.5))[ended].all()


def test_with_a_floor_that_share_sets_off_whatever_the_delay():
    """Closed: share = floor = 0.3 exactly, so each trip goes by its own draw u < 0.3;
    over 2,400 trips the share made at once is 0.3 within 4 binomial standard errors."""
    data = _scenario({"reference_delay": "1h", "floor": 0.3, "hold_max": "1000d"},
                     policy=[{"at": 0, "closed": ["truck"]}], duration="100d")
    eng = _engine(data)
    g = _group(eng)
    u = np.asarray(g.attrs[("respond",)])
    due = int((g.arrivals.times < 2400).sum())        # a trip due at the very end is not
    held = set(g.responder.records()["unit"].tolist())
    assert held == {i for i in range(due) if u[i] >= 0.3}
    share = 1 - len(held) / due
    assert abs(share - 0.3) < 4 * math.sqrt(0.3 * 0.7 / due)


def test_the_queue_settles_where_responded_demand_meets_capacity():
    """Trucks due every 30 min (48 a day), one booth of exactly 1 h (24 a day); a trip not
    made at once is given up a minute later, so only fresh trips come. With no floor the
    share made is 1/2 at the reference delay of 10 h, so the fluid fixed point has a
    visible delay of 10 h: the truck in service plus 9 waiting (delay = units ahead x 1 h).
    With a steep response (8) a delay one hour off the fixed point moves the share by a
    fifth, so the queue stays within a few units of 9; over days 3-20 its time average is
    9 within 2, and the booth passes 24 a day."""
    data = _scenario({"reference_delay": "10h", "steepness": 8, "hold_max": "1min",
                      "give_up": 1.0}, duration="20d", service="1h", demand=48)
    scn = scenario_from_dict(data).scenario
    res = simulate(scn, 0, 3)
    q = res.queue[("x", "truck")][72:]
    assert abs(q.mean() - 9) <= 2, q.mean()
    crossed = res.crossed[("x", "truck")][72:]
    assert crossed.sum() / (len(crossed) / 24) == pytest.approx(24, abs=0.5)


def test_held_trips_that_come_back_keep_the_booth_busy():
    """As above, but held trips wait (no longest hold) and come back when the delay
    visible lets them: the booth is never idle after the first day, so it passes its
    capacity of 24 a day, and the trips held back pile up at half the surplus or more:
    of the 48 due a day, 24 cross and the rest are held."""
    data = _scenario({"reference_delay": "10h", "steepness": 8, "hold_max": "1000d"},
                     duration="20d", service="1h", demand=48)
    scn = scenario_from_dict(data).scenario
    res = simulate(scn, 0, 3)
    crossed = res.crossed[("x", "truck")][24:]
    assert crossed.sum() / (len(crossed) / 24) == pytest.approx(24, abs=0.1)
    held = res.held[("x", "truck")]
    assert held[-1] == pytest.approx(24 * 19, rel=0.05)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_held_trips_are_conserved_and_arrivals_still_add_up(seed):
    """Poisson trucks over capacity, a closure, a demand factor with deferral, patience
    and a response with a floor, a lag and a longest hold: every trip due is made at once
    or held, and every held trip is made, given up or still held at the end; the units
    that reach the crossing are exactly the trips made, and the SPEC's conservation of
    arrivals holds in the statistics window."""
    data = _scenario(
        {"reference_delay": "3h", "floor": 0.1, "lag": "2h", "hold_max": "12h",
         "give_up": 0.3},
        policy=[{"at": "1d", "closed": ["truck"], "demand_factor": {"truck": 0.5}},
                {"at": "2d", "closed": [], "demand_factor": {"truck": 1.0}}],
        duration="5d", service="40min", demand=50, process="poisson", booths=1,
        behaviour={"defer": {"truck": {"share": 0.5, "over": "1d"}},
                   "patience": {"truck": {"dist": "exponential", "mean": "10h"}}},
        warmup="12h")
    scn = scenario_from_dict(data).scenario
    eng = run_model(scn, 0, seed)
    g = _group(eng)
    rec = g.responder.records()
    due = len(g.arrivals.times)
    made_late = int((rec["code"] == HELD_MADE).sum())
    gone = int((rec["code"] != HELD_MADE).sum())
    assert len(rec["unit"]) > 20 and gone > 0 and made_late > 0
    assert len(g.out_code) == due - gone        # every trip made reached the crossing
    res = simulate(scn, 0, seed)
    m = res.metrics[("x", "truck")]
    assert m["arrivals"] == sum(m[k] for k in ("crossed", "reneged", "balked", "diverted",
                                               "waiting_at_end", "in_service_at_end"))
    assert m["held"] == m["forgone"] + m["held_at_end"] + sum(
        1 for d, c in zip(rec["due"], rec["code"], strict=True)
        if c == HELD_MADE and scn.warmup <= d < scn.duration)
    assert m["hold_mean_h"] > 0


def test_held_trips_cost_their_cargo_time_and_forgone_trips_their_value():
    """Closed all run, trucks of $10,000 held 2h each, then given up and valued at their
    cargo: trucks 1-7 are given up (7 x $10,000 lost); trucks 8 and 9 are still held at
    the end of the 10h run, after 2h and 1h. Held hours 7 x 2 + 2 + 1 = 17, each costing
    $10,000 x 1%/day / 24; nobody queues."""
    data = _scenario({"reference_delay": "1h", "hold_max": "2h", "give_up": 1.0},
                     policy=[{"at": 0, "closed": ["truck"]}],
                     economics={"cargo_time_cost_per_day": 0.01,
                                "value_of_time_per_person_hour": 5,
                                "lost_unit_value": {"truck": "cargo"}})
    scn = scenario_from_dict(data).scenario
    res = simulate(scn, 0, 1)
    c = res.costs[("x", "truck")]
    n = 7                                    # trucks 1-7 given up before the end
    assert c["held"] == pytest.approx(17 * 10000 * 0.01 / 24)
    assert c["lost"] == pytest.approx(n * 10000)
    assert c["time"] == 0 and c["cargo_time"] == 0
    assert res.cost[("x", "truck")].sum() == pytest.approx(c["held"] + c["lost"])


def test_a_response_at_an_unknown_crossing_is_an_error():
    data = _scenario({"reference_delay": "1h", "crossings": ["y"]})
    with pytest.raises(ScenarioError) as e:
        scenario_from_dict(data)
    assert "behaviour.respond.truck.crossings[0]" in e.value.message()


@pytest.mark.parametrize("field,value", [("reference_delay", "0h"), ("floor", 1.5),
                                         ("steepness", 0), ("report_every", "1s"),
                                         ("give_up", -0.1)])
def test_bad_response_settings_name_the_field(field, value):
    data = _scenario({"reference_delay": "1h", field: value})
    with pytest.raises(ScenarioError) as e:
        scenario_from_dict(data)
    assert f"behaviour.respond.truck.{field}" in e.value.message()


def test_a_trip_decided_before_the_closure_comes_and_held_trips_arrive_a_lead_after():
    """Trips are decided 2h before they are due (lead). Closed until 3.5h. Truck 1 (due 1h)
    was decided at -1h, before the run (a normal border): it comes. Trucks 2-5 are decided
    at 0-3h, when the reports say closed: held. The report of 4h finds the border open
    (truck 1 served 3.5-4h): the held trucks set off at 4h and arrive 2h later, at 6h, as
    truck 6, decided at 4h, does. Each held truck is late by 6h minus its due time."""
    data = _scenario({"reference_delay": "2h", "steepness": 50, "lead": "2h",
                      "hold_max": "100h"},
                     policy=[{"at": 0, "closed": ["truck"]}, {"at": "3.5h", "closed": []}])
    eng = _engine(data)
    g = _group(eng)
    rec = g.responder.records()
    first = rec["due"] <= 6
    assert rec["unit"][first].tolist() == [1, 2, 3, 4]
    assert rec["end"][first].tolist() == [6.0] * 4
    assert rec["code"][first].tolist() == [HELD_MADE] * 4
    arrived = sorted(g.out_arr)
    assert arrived[:6] == [1.0, 6.0, 6.0, 6.0, 6.0, 6.0]
    res = simulate(scenario_from_dict(data).scenario, 0, 1)
    assert res.metrics[("x", "truck")]["held"] >= 4
    late = [6.0 - d for d in (2, 3, 4, 5)]
    made = rec["code"] == HELD_MADE
    assert res.metrics[("x", "truck")]["hold_mean_h"] == pytest.approx(
        np.mean((rec["end"] - rec["due"])[made]))
    assert (rec["end"] - rec["due"])[first].tolist() == late


def test_a_held_trip_given_up_before_it_was_due_is_never_late():
    """Decided 5h ahead, closed all run, longest hold 2h, all given up: truck k (due k h) is
    given up at k-3h, before it was due. It counts as held and given up, with no hold
    cost and no trip held at any hour."""
    data = _scenario({"reference_delay": "1h", "lead": "5h", "hold_max": "2h",
                      "give_up": 1.0}, policy=[{"at": 0, "closed": ["truck"]}],
                     economics={"cargo_time_cost_per_day": 0.01})
    scn = scenario_from_dict(data).scenario
    res = simulate(scn, 0, 1)
    m = res.metrics[("x", "truck")]
    # trucks due 1-4h were decided before the run (they come); 5-9 are held and given up
    assert (m["held"], m["forgone"], m["held_at_end"]) == (5, 5, 0)
    assert res.costs[("x", "truck")]["held"] == 0.0
    assert res.held[("x", "truck")].max() == 0


def test_a_load_given_up_before_setting_off_costs_its_forgone_value_when_given():
    """As above, with a forgone-unit value of a tenth of the cargo: 7 x $1,000 lost."""
    data = _scenario({"reference_delay": "1h", "hold_max": "2h", "give_up": 1.0},
                     policy=[{"at": 0, "closed": ["truck"]}],
                     economics={"lost_unit_value": {"truck": "cargo"},
                                "forgone_unit_value": {"truck": {"cargo_share": 0.1}}})
    res = simulate(scenario_from_dict(data).scenario, 0, 1)
    assert res.costs[("x", "truck")]["lost"] == pytest.approx(7 * 1000)


@pytest.mark.parametrize("floor,steepness", [(0.0, 2.0), (0.3, 1.0), (0.1, 8.0)])
def test_the_threshold_delay_is_where_the_share_passes_a_trips_draw(floor, steepness):
    r = Respond(reference_delay="5h", steepness=steepness, floor=floor)
    for u in (0.05, 0.2, 0.35, 0.5, 0.77, 0.99):
        d = r.threshold(u)
        if u < floor:
            assert d == math.inf and r.share(1e12) > u
            continue
        assert r.share(d * 0.999) > u > r.share(d * 1.001)


@pytest.mark.parametrize("lag, every", [(0.0, 1.0), (5.0, 1.0), (2.5, 6.0), (7.0, 0.5),
                                        (0.3, 1.0 / 3.0)])
def test_the_first_release_is_the_first_report_time_whose_visible_delay_lets_the_trip_go(
        lag, every):
    """The responder's lookup of precomputed report indices gives what reading each
    report time's visible delay one by one gives: the first time in (after, until]."""
    from bordersim.model.respond import Responder

    data = _scenario({"reference_delay": "2h", "lag": f"{lag}h", "report_every": f"{every}h",
                      "lead": "3h"}, duration="60h")
    eng = _engine(data)
    resp = Responder(eng, _group(eng), eng.groups[0].responder.spec)
    rng = np.random.default_rng(7)
    resp.reports[:] = rng.choice([0.0, 0.5, 3.0, 40.0, math.inf], size=len(resp.reports))
    resp.n_reports = len(resp.reports)
    for _ in range(400):
        after = float(rng.uniform(0.0, 58.0))
        until = after + float(rng.uniform(0.0, 20.0))
        u = float(rng.random())
        thr = resp.spec.threshold(u)
        want = None
        for k in range(math.floor(after / every + 1e-9) + 1,
                       math.floor(until / every + 1e-9) + 1):
            if resp.visible(k * every) < thr:
                want = k * every
                break
        assert resp._first_release(u, after, until) == want


@pytest.mark.parametrize("seed", [3, 4])
def test_a_replaced_deadline_timer_does_nothing_and_changes_no_event(seed, monkeypatch):
    """A held trip with an earlier deadline replaces the responder's timer; the replaced one
    then does nothing. Letting every timer act instead (as each once did, scheduling
    timers again and again) gives the same records, with twice the events or more."""
    from types import SimpleNamespace

    from bordersim.model.respond import Responder

    data = _scenario({"reference_delay": "3h", "hold_max": "2d", "give_up": 0.3,
                      "lead": {"dist": "exponential", "mean": "20h"}},
                     policy=[{"at": "1d", "service_factor": {"truck": 3.0}},
                             {"at": "4d", "service_factor": {"truck": 1.0}}],
                     duration="8d", service="50min", demand=30, process="poisson")
    acted = []
    original = Responder._on_deadline

    def counted(self, ev):
        acted.append(ev.value == self.timer_id)
        original(self, ev)

    def every_timer_acts(self, ev):
        acted.append(True)
        original(self, SimpleNamespace(value=self.timer_id))

    runs = {}
    for name, fn in (("now", counted), ("before", every_timer_acts)):
        acted.clear()
        monkeypatch.setattr(Responder, "_on_deadline", fn)
        g = _group(_engine(data, seed=seed))
        runs[name] = (g, sum(acted))
    (a, n_a), (b, n_b) = runs["now"], runs["before"]
    assert len(a.responder.unit) > 20                       # trips were held
    for k in ("unit", "due", "end", "code"):
        assert np.array_equal(a.responder.records()[k], b.responder.records()[k],
                              equal_nan=True), k
    for name in ("out_unit", "out_wait", "out_exit", "out_code", "q_join", "q_leave"):
        assert np.array_equal(getattr(a, name), getattr(b, name), equal_nan=True), name
    assert n_a <= len(a.responder.unit) + 1 and n_b >= 1.5 * n_a
