"""Sweep throughput with 1 and 2 local workers, and what the Dask executor adds per run.

Everything is timed from this one process, around ``run_sweep`` (planning, the
runs, appending runs.csv, sorting it and writing summary.csv):

1. throughput: example-mmc (30 days, ~13,000 trucks a run) over 4 booth counts
   x 12 replications = 48 runs, with one worker (in this process) and with two
   local processes; best of ``--rounds``; prints runs/s and the ratio.
2. Dask overhead: tiny runs (example-mmc cut to 1 day) on a LocalCluster of two
   worker processes on 127.0.0.1 against two local processes, once with the
   default batching and once with one run per task; prints
   (Dask time − local time) / runs. The cluster is started and warmed up
   (bordersim imported on its workers) before timing.

    python benchmarks/bench_sweep.py [--rounds 3] [--tiny-runs 400]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from bordersim.executors import DaskExecutor, LocalExecutor
from bordersim.sweep import parse_vary, plan_sweep
from bordersim.sweep_folder import run_sweep

SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "example-mmc.yaml"
BOOTHS = "crossings.ak-tilek.stages.0.lanes.0.booths"


def timed(plan, executor, out: Path, batch: int | None = None) -> float:
    t0 = time.perf_counter()
    run_sweep(plan, out, executor, force=True, batch_runs=batch)
    return time.perf_counter() - t0


def cpu_s() -> float:
    """CPU seconds of this process and its finished children (the pool's workers)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def throughput(rounds: int, tmp: Path) -> None:
    plan = plan_sweep(SCENARIO, [parse_vary(f"{BOOTHS}=10:13:1")],
                      overrides=["replications=12"], metrics=("wait_mean_h", "queue_max"))
    n = plan.n_runs
    best, cores = {}, {}
    for _ in range(rounds):
        for workers in (1, 2):
            c0 = cpu_s()
            t = timed(plan, LocalExecutor(workers), tmp / f"tp-{workers}")
            if t < best.get(workers, float("inf")):
                best[workers], cores[workers] = t, (cpu_s() - c0) / t
    print(f"sweep throughput, {n} runs of example-mmc (30 days), best of {rounds}:")
    for w in (1, 2):
        print(f"  {w} worker{'s' * (w > 1)}: {best[w]:6.2f} s  {n / best[w]:6.2f} runs/s"
              f"  (CPU seconds / wall seconds = {cores[w]:.2f} cores busy)")
    print(f"  2 workers over 1: {best[1] / best[2]:.2f}x  (os.cpu_count() = {os.cpu_count()}, "
          f"load average {os.getloadavg()[0]:.1f})")


def dask_overhead(rounds: int, n_runs: int, tmp: Path) -> None:
    from distributed import LocalCluster

    reps = max(1, n_runs // 4)
    plan = plan_sweep(SCENARIO, [parse_vary(f"{BOOTHS}=10:13:1")],
                      overrides=["duration=1d", "warmup=2h", f"replications={reps}"],
                      metrics=("wait_mean_h",))
    n = plan.n_runs
    with LocalCluster(n_workers=2, processes=True, threads_per_worker=1, host="127.0.0.1",
                      dashboard_address=None, silence_logs=50) as cluster:
        with DaskExecutor(cluster.scheduler_address) as dask:
            timed(plan, dask, tmp / "warm")                        # import bordersim there
            local = LocalExecutor(2)
            print(f"\nper-run overhead, {n} tiny runs (1 day), 2 workers each, best of "
                  f"{rounds}:")
            for label, batch in (("default batching", None), ("one run per task", 1)):
                t_local = min(timed(plan, local, tmp / "l", batch) for _ in range(rounds))
                t_dask = min(timed(plan, dask, tmp / "d", batch) for _ in range(rounds))
                print(f"  {label:17s} local {t_local:6.2f} s ({1e3 * t_local / n:5.2f} ms/run)"
                      f"  Dask {t_dask:6.2f} s ({1e3 * t_dask / n:5.2f} ms/run)"
                      f"  Dask adds {1e3 * (t_dask - t_local) / n:+6.2f} ms/run")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--tiny-runs", type=int, default=400)
    ap.add_argument("--skip-dask", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        throughput(args.rounds, Path(d))
        if not args.skip_dask:
            dask_overhead(args.rounds, args.tiny_runs, Path(d))


if __name__ == "__main__":
    main()
