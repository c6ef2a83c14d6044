"""bordersim's cost per simulated unit over a bare SimPy loop, on M/M/10, same draws.

Both run in this one process, alternately, on the same units: the bare loop is fed
the arrival times and service requirements bordersim drew for replication 0 (λ = 18/h,
mean service 30 min, 10 booths: 0.9 per booth), so both sides simulate exactly the
same customers. The bare loop is the textbook one: a generator of arrivals, one
process per customer, a ``simpy.Resource`` of 10; it records each wait. bordersim is
timed whole (drawing the units, running them, all its statistics), with the event
engine everywhere (``des``) and with the exact fast path this lane qualifies for
(``auto``). Medians over the rounds; ratios of medians.

    python benchmarks/bench_mmc.py [--days 60] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
import simpy

from bordersim.experiment import simulate
from bordersim.model import build
from bordersim.verify import queue_scenario

LAM, MEAN_S, BOOTHS = 18.0, 0.5, 10


def bare_simpy(arrivals: list[float], service: list[float], horizon: float) -> int:
    env = simpy.Environment()
    booths = simpy.Resource(env, capacity=BOOTHS)
    waits = []

    def customer(work: float):
        arrived = env.now
        with booths.request() as req:
            yield req
            waits.append(env.now - arrived)
            yield env.timeout(work)

    def source():
        last = 0.0
        for t, work in zip(arrivals, service, strict=True):
            yield env.timeout(t - last)
            last = t
            env.process(customer(work))

    env.process(source())
    env.run(until=horizon)
    return len(waits)


def draws(scn) -> tuple[list[float], list[float]]:
    """The units bordersim simulates in replication 0: arrival times and service hours."""
    (g,) = build(scn, 0, scn.seed, "des").groups
    order = np.argsort(g.arrivals.times, kind="stable")
    return (g.arrivals.times[order].tolist(),
            np.asarray(g.attrs[("service", "s", "l")])[order].tolist())


def bordersim_run(scn, engine: str) -> int:
    res = simulate(scn, 0, engine=engine)
    return int(res.metrics[("x", "unit")]["arrivals"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=float, default=60)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    scn = queue_scenario("bench-mmc", LAM, {"dist": "exponential", "mean": MEAN_S}, BOOTHS,
                         args.days, 0, 0.5, seed=1, replications=1)
    arrivals, service = draws(scn)
    n = len(arrivals)
    for engine in ("des", "auto"):
        bordersim_run(scn, engine)  # warm imports and caches
    times: dict[str, list[float]] = {"bare": [], "des": [], "auto": []}
    load0 = os.getloadavg()[0]
    for _ in range(args.rounds):
        t = time.perf_counter()
        bare_simpy(arrivals, service, scn.duration)
        times["bare"].append((time.perf_counter() - t) / n)
        for engine in ("des", "auto"):
            t = time.perf_counter()
            m = bordersim_run(scn, engine)
            times[engine].append((time.perf_counter() - t) / m)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"M/M/{BOOTHS}, load {LAM * MEAN_S / BOOTHS:.2f}, {args.days:g} days ({n:,} units, "
          f"the same on both sides), {args.rounds} rounds, medians "
          f"(load average {load0:.1f} -> {os.getloadavg()[0]:.1f}):")
    print(f"  bare SimPy loop (process per customer)   {med['bare'] * 1e6:7.2f} µs per unit")
    print(f"  bordersim, event engine (--engine des)   {med['des'] * 1e6:7.2f} µs per unit")
    print(f"  bordersim, exact fast path (auto)        {med['auto'] * 1e6:7.2f} µs per unit")
    print(f"  ratio bordersim des / bare SimPy  = {med['des'] / med['bare']:.2f}")
    print(f"  ratio bordersim auto / bare SimPy = {med['auto'] / med['bare']:.3f}")


if __name__ == "__main__":
    main()
