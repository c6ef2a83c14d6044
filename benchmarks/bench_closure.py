"""One replication of the 2017 history (closure-2017): the exact fast path against the
event engine everywhere, and both against a bare SimPy loop on the same draws.

All in this one process, alternately, best of ``--rounds``:

1. bordersim, ``--engine auto`` (the lanes that qualify by the exact recursion, the rest
   by events) and ``--engine des`` (events everywhere): µs per simulated unit, split into
   building the replication (drawing every unit; the recursion, for auto), running the
   events, and the statistics; the ratio auto / des.
2. A bare SimPy loop on the same units: every crossing × class's units, at the times and
   with the service requirements bordersim drew, through a ``simpy.Resource`` per lane
   (the first lane serving the class, its base booths), one process per unit and stage,
   recording each wait. It ignores policy, secondary inspection and behaviour, so it is a
   yardstick of what SimPy itself costs per unit, not the same model.
3. With ``--parallel``: ``--replications`` replications (default 20) on one local worker
   and on two, wall seconds and the ratio.

    python benchmarks/bench_closure.py [--rounds 3] [--parallel] [--replications 20]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import simpy

from bordersim.experiment import run_experiment
from bordersim.loading import load_scenario
from bordersim.measure import measure
from bordersim.model import build

SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "closure-2017.yaml"


def bordersim_once(scn, engine: str) -> tuple[int, float, float, float, float]:
    """Units, seconds to build, to run the events and for the statistics, and CPU
    seconds in all."""
    c0, t0 = time.process_time(), time.perf_counter()
    eng = build(scn, 0, scn.seed, engine)
    t1 = time.perf_counter()
    eng.env.run(until=scn.duration)
    eng.close()
    t2 = time.perf_counter()
    measure(eng, scn, 0)
    t3 = time.perf_counter()
    return (sum(len(g.out_code) for g in eng.groups), t1 - t0, t2 - t1, t3 - t2,
            time.process_time() - c0)


def bare_draws(scn) -> list[tuple[int, list[float], list[float]]]:
    """Per crossing × class: booths of its first lane, arrival times, service hours."""
    out = []
    for g in build(scn, 0, scn.seed, "des").groups:
        if not len(g.arrivals.times):
            continue
        st = scn.crossings[g.crossing].stages[0]
        ln = next(ln for ln in st.lanes if g.cls in ln.serves)
        order = np.argsort(g.arrivals.times, kind="stable")
        service = np.asarray(g.attrs[("service", st.name, ln.name)])[order]
        out.append((ln.booths, g.arrivals.times[order].tolist(), service.tolist()))
    return out


def bare_simpy(draws, horizon: float) -> int:
    env = simpy.Environment()
    waits: list[float] = []

    def customer(lane: simpy.Resource, work: float):
        arrived = env.now
        with lane.request() as req:
            yield req
            waits.append(env.now - arrived)
            yield env.timeout(work)

    def source(lane: simpy.Resource, times: list[float], service: list[float]):
        last = 0.0
        for t, work in zip(times, service, strict=True):
            yield env.timeout(t - last)
            last = t
            env.process(customer(lane, work))

    for booths, times, service in draws:
        env.process(source(simpy.Resource(env, capacity=booths), times, service))
    env.run(until=horizon)
    return sum(len(t) for _, t, _ in draws if t)


def per_replication(rounds: int) -> None:
    scn = load_scenario(SCENARIO).scenario
    draws = bare_draws(scn)
    n_bare = sum(len(t) for _, t, _ in draws)
    best: dict[str, tuple] = {}
    load0 = os.getloadavg()[0]
    for _ in range(rounds):
        for engine in ("auto", "des"):
            n, b, r, m, c = bordersim_once(scn, engine)
            if engine not in best or b + r + m < sum(best[engine][1:4]):
                best[engine] = (n, b, r, m, min(c, best.get(engine, (0,) * 5)[4] or c))
            else:
                best[engine] = (*best[engine][:4], min(c, best[engine][4]))
        t, c0 = time.perf_counter(), time.process_time()
        bare_simpy(draws, scn.duration)
        dt, dc = time.perf_counter() - t, time.process_time() - c0
        if "bare" not in best or dt < best["bare"][1]:
            best["bare"] = (n_bare, dt, min(dc, best.get("bare", (0, 0, dc))[2]))
    print(f"closure-2017, replication 0, best of {rounds} (load average {load0:.1f} -> "
          f"{os.getloadavg()[0]:.1f}, {os.cpu_count()} CPUs):")
    for engine in ("auto", "des"):
        n, b, r, m, c = best[engine]
        print(f"  bordersim --engine {engine:4s} {n:,} units  build {b:5.2f} s  events "
              f"{r:5.2f} s  statistics {m:5.2f} s  = {(b + r + m) / n * 1e6:5.2f} µs per unit"
              f" ({c / n * 1e6:5.2f} µs CPU)")
    n, dt, dc = best["bare"]
    print(f"  bare SimPy loop         {n:,} units  {dt:5.2f} s"
          f"{'':34s}= {dt / n * 1e6:5.2f} µs per unit ({dc / n * 1e6:5.2f} µs CPU)")
    cost = {e: sum(best[e][1:4]) / best[e][0] for e in ("auto", "des")}
    cpu = {e: best[e][4] / best[e][0] for e in ("auto", "des")}
    bare, bare_cpu = dt / n, dc / n
    print(f"  wall: auto / des = {cost['auto'] / cost['des']:.3f}; des / bare SimPy = "
          f"{cost['des'] / bare:.2f}; auto / bare SimPy = {cost['auto'] / bare:.3f}")
    print(f"  CPU:  auto / des = {cpu['auto'] / cpu['des']:.3f}; des / bare SimPy = "
          f"{cpu['des'] / bare_cpu:.2f}; auto / bare SimPy = {cpu['auto'] / bare_cpu:.3f}")


def _cpu() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def parallel(replications: int) -> None:
    scn = load_scenario(SCENARIO, [f"replications={replications}"]).scenario
    wall, busy = {}, {}
    load0 = os.getloadavg()[0]
    for workers in (1, 2):
        t, c = time.perf_counter(), _cpu()
        run_experiment(scn, workers=workers)
        wall[workers] = time.perf_counter() - t
        busy[workers] = (_cpu() - c) / wall[workers]
    print(f"\nclosure-2017, {replications} replications (--engine auto), load average "
          f"{load0:.1f} -> {os.getloadavg()[0]:.1f}:")
    for w in (1, 2):
        print(f"  {w} worker{'s' * (w > 1)} {wall[w]:6.1f} s wall ({busy[w]:.2f} cores busy)")
    print(f"  2 workers over 1: {wall[1] / wall[2]:.2f}x (CPU seconds / wall seconds show "
          f"the cores the workers actually got)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--parallel", action="store_true")
    ap.add_argument("--replications", type=int, default=20)
    args = ap.parse_args()
    per_replication(args.rounds)
    if args.parallel:
        parallel(args.replications)


if __name__ == "__main__":
    main()
