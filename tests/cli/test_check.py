"""`bordersim check`: observations beside the simulation, and bad observation files."""

from __future__ import annotations

import csv

import pytest
import yaml
from click.testing import CliRunner

from bordersim.cli import cli

SCENARIO = {
    "name": "chk", "start": "2017-10-01", "duration": "3d", "replications": 3, "seed": 9,
    "classes": {"pedestrian": {"persons": 1}, "car": {"persons": 2},
                "truck": {"persons": 1, "cargo_value": 100}},
    "crossings": {
        "x": {"demand": {"pedestrian": 48, "car": 24}, "arrival_process": "deterministic",
              "stages": [{"name": "s", "lanes": [
                  {"name": "l", "serves": ["pedestrian", "car"], "booths": 1,
                   "service": {"all": "1min"}}]}]},
        "y": {"demand": {"truck": 24}, "arrival_process": "deterministic",
              "stages": [{"name": "s", "lanes": [
                  {"name": "l", "serves": ["truck"], "booths": 1,
                   "service": {"truck": "1min"}}]}]},
    },
    # y is closed from the start of day 2: trucks pile up one an hour
    "policy": [{"at": "1d", "crossings": ["y"], "closed": ["truck"]}],
}
HEADER = "date,crossing,class,metric,value_low,value_high,source,confidence,note\n"


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    d = tmp_path_factory.mktemp("chk")
    f = d / "s.yaml"
    f.write_text(yaml.safe_dump(SCENARIO))
    out = d / "out"
    r = CliRunner().invoke(cli, ["run", str(f), "-q", "-j", "1", "--out", str(out)],
                           catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return out


def _check(results, tmp_path, rows):
    obs = tmp_path / "obs.csv"
    obs.write_text(HEADER + "".join(r + "\n" for r in rows))
    return CliRunner().invoke(cli, ["check", str(results), str(obs)], catch_exceptions=False)


def test_figures_at_their_times(results, tmp_path):
    rows = [
        # trucks at y are refused from 24h; at 2017-10-02T12:00 (36h) the ones that
        # arrived at 24h..36h wait: 13 (the one arriving exactly at 36h is counted at the
        # hour mark only once it has arrived: arrivals at 24..36 inclusive → 13)
        "2017-10-02T12:00,y,truck,waiting_units,13,13,test,R,closed",
        # x on day 1: 48 pedestrians and 24 cars a day cross (arrivals at k/48 d, k/24 d)
        "2017-10-01,x,all,crossed_per_day,70,72,test,R,day 1",
        "2017-10-01,x,persons,crossed_per_day,93,96,test,R,persons",
        "2017-10-01,x+y,cargo,crossed_per_day,22,24,test,R,trucks on day 1",
        "2017-10-01T12:00,x,all_vehicles,crossed_per_hour,1,1,test,R,one car an hour",
        "2017-10-02,y,truck,crossed_per_day,5,9,test,R,outside: none cross on day 2",
        "2018-01-01,y,truck,waiting_units,0,1,test,R,after the run",
    ]
    r = _check(results, tmp_path, rows)
    assert r.exit_code == 0, r.output
    assert "5 of 6 observed figures inside their range" in r.output
    assert "outside the run" in r.output
    with open(results / "check.csv") as f:
        got = list(csv.DictReader(f))
    assert [g["inside"] for g in got] == ["true", "true", "true", "true", "true", "false", ""]
    assert float(got[0]["sim_mean"]) == 13
    assert float(got[5]["sim_mean"]) == 0


@pytest.mark.parametrize("row,where", [
    ("2017-10-02,nowhere,truck,waiting_units,1,2,s,R,n", "crossing"),
    ("2017-10-02,y,lorry,waiting_units,1,2,s,R,n", "class"),
    ("2017-10-02,y,truck,queue,1,2,s,R,n", "metric"),
    ("yesterday,y,truck,waiting_units,1,2,s,R,n", "date"),
    ("2017-10-02,y,truck,waiting_units,5,2,s,R,n", "value_low"),
    ("2017-10-02,y,truck,waiting_units,a,b,s,R,n", "value_low/value_high"),
])
def test_bad_observations_exit_2_naming_line_and_column(results, tmp_path, row, where):
    r = _check(results, tmp_path, [row])
    assert r.exit_code == 2
    assert "obs.csv" in r.output and "line 2" in r.output and where in r.output
    assert "Traceback" not in r.output


def test_missing_files_exit_2(results, tmp_path):
    runner = CliRunner()
    r = runner.invoke(cli, ["check", str(tmp_path / "none"), str(tmp_path / "o.csv")])
    assert r.exit_code == 2 and "results folder not found" in r.output
    r = runner.invoke(cli, ["check", str(results), str(tmp_path / "o.csv")])
    assert r.exit_code == 2 and "observations file not found" in r.output
    (tmp_path / "bad.csv").write_text("when,where\n1,2\n")
    r = runner.invoke(cli, ["check", str(results), str(tmp_path / "bad.csv")])
    assert r.exit_code == 2 and "missing column" in r.output
    r = runner.invoke(cli, ["check", str(tmp_path), str(tmp_path / "bad.csv")])
    assert r.exit_code == 2 and "results folder" in r.output


def test_large_figures_read_in_fixed_notation(tmp_path):
    """Thousands of persons a day read as 3,125, never as 3.12e+03."""
    from bordersim.check import Verdict
    from bordersim.cli import format_check
    from bordersim.observations import read_observations
    from bordersim.stats import Interval

    obs = tmp_path / "obs.csv"
    obs.write_text(HEADER + "2017-10-11,x,persons,crossed_per_day,3000,3900,test,R,\n")
    (o,) = read_observations(obs)
    text = format_check([Verdict(o, Interval(3124.6, 3110.9, 3138.2, 20.0, 40), 3050.2,
                                 1041.4 * 3)])
    assert "3,125 (3,111-3,138)" in text and "3,050-3,124" in text
    assert "e+" not in text
