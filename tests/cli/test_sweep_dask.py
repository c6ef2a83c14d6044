"""A sweep on a Dask cluster on loopback gives exactly the local executor's folder.

Dask is a test dependency (setup.cfg ``test`` extra), so this test runs with the
README's test command rather than being skipped.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml
from click.testing import CliRunner
from distributed import Client, LocalCluster

from bordersim.cli import cli

SCENARIO = {
    "name": "dask-sweep",
    "start": "2017-10-01",
    "duration": "2d",
    "warmup": "4h",
    "replications": 2,
    "seed": 5,
    "classes": {"car": {"persons": 2}, "truck_loaded": {"persons": 1, "cargo_value": 20000}},
    "crossings": {"east": {
        "demand": {"car": 100, "truck_loaded": 120},
        "stages": [{"name": "entry", "lanes": [
            {"name": "all", "serves": ["car", "truck_loaded"], "booths": 2,
             "service": {"car": "6min", "truck_loaded": {"dist": "exponential",
                                                         "mean": "15min"}}}]}]}},
    "economics": {"value_of_time_per_person_hour": 2.0},
}
VARY = ["--vary", "crossings.east.stages.0.lanes.0.booths=2,3,4",
        "--vary", "economics.value_of_time_per_person_hour=1.0,2.5",
        "--metrics", "wait_mean_h,queue_max,cost_total"]


def _sweep(*args) -> None:
    result = CliRunner().invoke(cli, ["sweep", *map(str, args)], catch_exceptions=False)
    assert result.exit_code == 0, result.output


def _files(folder: Path) -> dict[str, bytes]:
    return {n: (folder / n).read_bytes() for n in ("runs.csv", "summary.csv",
                                                    "scenario.resolved.yaml")}


def test_dask_cluster_on_loopback_gives_the_local_results(tmp_path):
    scenario = tmp_path / "s.yaml"
    scenario.write_text(yaml.safe_dump(SCENARIO))
    local = tmp_path / "local"
    _sweep(scenario, *VARY, "-j", "1", "-q", "--out", local)
    with LocalCluster(n_workers=2, processes=True, threads_per_worker=1, host="127.0.0.1",
                      dashboard_address=None, silence_logs=50) as cluster:
        on_dask = tmp_path / "dask"
        _sweep(scenario, *VARY, "--scheduler", cluster.scheduler_address, "-q",
               "--out", on_dask)
        with Client(cluster) as client:   # the runs happened in the worker processes
            ran_there = client.run(lambda: "bordersim.sweep_folder" in sys.modules)
        assert any(ran_there.values()), ran_there
    assert _files(on_dask) == _files(local)
    manifest = (on_dask / "manifest.json").read_text()
    assert "Dask at tcp://127.0.0.1" in manifest


def test_run_on_a_dask_cluster_gives_the_local_results(tmp_path):
    """`bordersim run --scheduler` writes the same summary and replications as local
    processes: replication r draws the same streams wherever it runs."""
    scenario = tmp_path / "s.yaml"
    scenario.write_text(yaml.safe_dump(dict(SCENARIO, replications=3)))
    local, on_dask = tmp_path / "local", tmp_path / "dask"
    r = CliRunner().invoke(cli, ["run", str(scenario), "-q", "-j", "2", "--out", str(local)],
                           catch_exceptions=False)
    assert r.exit_code == 0, r.output
    with LocalCluster(n_workers=2, processes=True, threads_per_worker=1, host="127.0.0.1",
                      dashboard_address=None, silence_logs=50) as cluster:
        r = CliRunner().invoke(cli, ["run", str(scenario), "-q", "--scheduler",
                                     cluster.scheduler_address, "--out", str(on_dask)],
                               catch_exceptions=False)
        assert r.exit_code == 0, r.output
    for name in ("summary.csv", "replications.csv", "timeseries.csv", "costs.csv"):
        assert (on_dask / name).read_bytes() == (local / name).read_bytes(), name


def test_run_refuses_workers_with_a_scheduler(tmp_path):
    scenario = tmp_path / "s.yaml"
    scenario.write_text(yaml.safe_dump(SCENARIO))
    r = CliRunner().invoke(cli, ["run", str(scenario), "-j", "2", "--scheduler",
                                 "tcp://127.0.0.1:8786", "--out", str(tmp_path / "o")])
    assert r.exit_code == 2 and "--scheduler" in r.output
    assert not (tmp_path / "o").exists()
