"""Km of units waiting over time: the running sum of ±length over every queue join and
leave of a set of groups, leaves before joins at one instant and, among events at one
instant, in order of the signed length. Checked against sorting every event by (key,
signed length) one by one, with many events at the same instants."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from bordersim.measure import _event_keys, _km_running, _Queues


@dataclass
class _Group:
    events: np.ndarray
    length_km: float


def _reference(groups: list[_Group], end: int) -> np.ndarray:
    """Every event as (key, signed length), sorted by both, summed in that order."""
    rows = []
    for g in groups:
        for k in g.events.tolist():
            rows.append((k, g.length_km if k & 1 else -g.length_km))
    rows.sort()
    total, out = 0.0, []
    for _, step in rows[:end]:
        total += step
        out.append(total)
    return np.asarray(out)


_visit = st.tuples(st.integers(0, 12), st.integers(0, 6))      # join hour, hours waited
_group = st.tuples(st.sampled_from([0.0006, 0.007, 0.012, 0.014]),
                   st.lists(_visit, min_size=0, max_size=30))


@settings(max_examples=300, deadline=None)
@given(st.lists(_group, min_size=1, max_size=5), st.data())
def test_running_km_is_the_sum_in_time_then_length_order(spec, data):
    groups = []
    for length, visits in spec:
        join = np.asarray([float(a) for a, _ in visits])
        leave = np.asarray([float(a + w) for a, w in visits])
        groups.append(_Group(_event_keys(join, leave), length))
    # as measure asks: the events before a window's end, w1 hours
    times = np.sort(np.concatenate([g.events >> np.uint64(1) for g in groups]).view(float))
    end = int(np.searchsorted(times, data.draw(st.integers(0, 20)), side="left"))
    got = _km_running(groups, _Queues(), end)
    assert np.array_equal(got, _reference(groups, end))
    # the same number whatever order the groups come in
    again = _km_running(groups[::-1], _Queues(), end)
    assert np.array_equal(again, got)
