"""Observed figures read from the simulation, worked out by hand on an exact case.

One booth of 1.5 h; truck k arrives at k hours (k = 1, 2, ...), so truck k starts at
1 + 1.5(k-1) h, waits 0.5(k-1) h and crosses at 2.5 + 1.5(k-1) h. In a 24 h run the
trucks 1-15 cross (truck 15 at 23.5 h); truck 16 would cross at 25 h.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from bordersim.experiment import simulate
from bordersim.loading import ScenarioError, scenario_from_dict
from bordersim.observations import SeriesSet, figures, read_observations

HEADER = "date,crossing,class,metric,value_low,value_high,source,confidence,note"


DATA = {
    "name": "obs", "start": "2017-10-01", "duration": "48h",
    "classes": {"truck": {"persons": 2}, "pedestrian": {}},
    "crossings": {"x": {"demand": {"truck": 24, "pedestrian": 0},
                        "arrival_process": "deterministic",
                        "stages": [{"name": "s", "lanes": [
                            {"name": "l", "serves": ["truck"], "booths": 1,
                             "service": {"truck": "1.5h"}},
                            {"name": "f", "serves": ["pedestrian"], "booths": 1,
                             "service": {"pedestrian": "1min"}}]}]}},
}


@pytest.fixture(scope="module")
def series():
    scn = scenario_from_dict(DATA).scenario
    return SeriesSet.from_results(scn, [simulate(scn, 0, 1)])


def _obs(tmp_path, *rows, header=HEADER):
    p = tmp_path / "obs.csv"
    p.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return read_observations(p)


def _figure(series, tmp_path, row):
    (o,) = _obs(tmp_path, row)
    return figures(series, o)


def test_waiting_units_at_an_hour_mark_and_over_a_window(series, tmp_path):
    """At 10 h trucks 1-10 have arrived and 1-7 have started (truck 7 at exactly 10 h):
    3 waiting. At 11 h: 11 arrived, 7 started: 4. The window 10:00-11:00 averages 3.5."""
    assert _figure(series, tmp_path, "2017-10-01T10:00,x,truck,waiting_units,0,9,s,R,") \
        .tolist() == [3.0]
    (o,) = _obs(tmp_path, "2017-10-01T10:00,x,truck,waiting_units,0,9,s,R,,2017-10-01T11:00",
                header=HEADER + ",until")
    assert o.until is not None
    assert figures(series, o).tolist() == [3.5]


def test_crossed_and_mean_waits_over_the_first_day(series, tmp_path):
    """Trucks 1-15 cross on day 1: waits 0.5(k-1) h sum to 52.5 h (mean 3.5 h); times in
    the system are 1.5 h longer (mean 5 h). In the hour from 04:00 only truck 2 crosses
    (at 4.0 h; truck 3 at 5.5 h)."""
    row = "2017-10-01,x,truck,{},0,99,s,R,"
    assert _figure(series, tmp_path, row.format("crossed_per_day")).tolist() == [15.0]
    assert _figure(series, tmp_path, row.format("wait_h")).tolist() == [3.5]
    assert _figure(series, tmp_path, row.format("time_in_system_h")).tolist() == [5.0]
    assert _figure(series, tmp_path, "2017-10-01T04:00,x,truck,crossed_per_hour,0,9,s,R,") \
        .tolist() == [1.0]


def test_persons_weigh_by_persons_per_unit(series, tmp_path):
    """Two persons a truck: 30 persons cross on day 1."""
    assert _figure(series, tmp_path, "2017-10-01,x,persons,crossed_per_day,0,99,s,R,") \
        .tolist() == [30.0]


def test_a_window_of_days_averages_per_day(series, tmp_path):
    """Day 2 (24-48 h): trucks cross at 25, 26.5, ..., 47.5 h: 16 of them; with day 1 the
    two days average 15.5 a day."""
    (o,) = _obs(tmp_path, "2017-10-01,x,truck,crossed_per_day,0,99,s,R,,2017-10-02",
                header=HEADER + ",until")
    assert figures(series, o).tolist() == [15.5]


def test_a_mean_wait_on_a_day_with_nothing_crossed_is_undefined(series, tmp_path):
    value = _figure(series, tmp_path, "2017-10-01,x,pedestrian,wait_h,0,1,s,R,")
    assert math.isnan(value[0])


def test_outside_the_run_is_none(series, tmp_path):
    assert _figure(series, tmp_path, "2017-10-03,x,truck,crossed_per_day,0,1,s,R,") is None


def test_empty_high_is_no_upper_bound_and_a_bom_is_read(tmp_path):
    p = tmp_path / "obs.csv"
    p.write_bytes(("\ufeff" + HEADER + "\n2017-10-01,x,truck,wait_h,2,,s,R?,still slow\n")
                  .encode("utf-8"))
    (o,) = read_observations(p)
    assert o.low == 2 and math.isinf(o.high) and o.confidence == "R?" and o.weight == 0.5
    assert o.contains(1e9) and not o.contains(1.9)
    assert o.range_text() == ">= 2"


def test_columns_in_another_order_are_read(tmp_path):
    p = tmp_path / "obs.csv"
    p.write_text("metric,value_high,value_low,date,class,crossing\n"
                 "waiting_units,9,1,2017-10-01,truck,x\n")
    (o,) = read_observations(p)
    assert (o.metric, o.low, o.high, o.crossing, o.cls) == ("waiting_units", 1, 9, "x", "truck")


@pytest.mark.parametrize("cells,where", [
    ("2017-10-01,x,truck,waiting_units,nan,5,s,R,", "line 2, value_low/value_high"),
    ("2017-10-01,x,truck,waiting_units,1,inf,s,R,", "line 2, value_low/value_high"),
    ("2017-10-01,x,truck,waiting_units,1,5,s,maybe,", "line 2, confidence"),
    ("2017-10-01,x,truck,queue,1,5,s,R,", "line 2, metric"),
    ("2017-02-30,x,truck,waiting_units,1,5,s,R,", "line 2, date"),
    ("2017-10-01,x,truck,waiting_units,,5,s,R,", "line 2, value_low"),
])
def test_bad_rows_name_line_and_column(tmp_path, cells, where):
    p = tmp_path / "obs.csv"
    p.write_text(HEADER + "\n" + cells + "\n")
    with pytest.raises(ScenarioError) as e:
        read_observations(p)
    assert e.value.problems[0][0] == where


def test_a_window_that_ends_before_it_starts_is_refused(tmp_path):
    p = tmp_path / "obs.csv"
    p.write_text(HEADER + ",until\n2017-10-05,x,truck,wait_h,1,5,s,R,,2017-10-04\n")
    with pytest.raises(ScenarioError, match="ends before it starts"):
        read_observations(p)


def test_figures_agree_with_the_results_folder(series, tmp_path):
    """The same figure read in memory and from the folder `run` writes."""
    from bordersim.check import load_series
    from bordersim.experiment import ExperimentResult
    from bordersim.loading import LoadedScenario
    from bordersim.results import write_results

    scn = series.scenario
    res = ExperimentResult(scn, 1, [simulate(scn, 0, 1)])
    folder = write_results(tmp_path / "r", res, LoadedScenario(scn, DATA, "x"))
    from_disk = load_series(folder)
    for row in ("2017-10-01,x,truck,wait_h,0,9,s,R,", "2017-10-01,x,all,crossed_per_day,0,9,s,R,",
                "2017-10-01T13:00,x,truck,waiting_units,0,9,s,R,"):
        (o,) = _obs(tmp_path, row)
        assert np.array_equal(figures(from_disk, o), figures(series, o))
