"""bordersim's cost per simulated unit over a bare SimPy loop, on M/M/10.

Both run in this one process, alternately, on the same load (λ = 18/h,
mean service 30 min, 10 booths: 0.9 per booth); the ratio of the medians is
printed. The bare loop is the textbook one: a generator of arrivals, one
process per customer, a ``simpy.Resource`` of 10.

    python benchmarks/bench_mmc.py [--days 60] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import simpy

from bordersim.experiment import simulate
from bordersim.verify import queue_scenario

LAM, MEAN_S, BOOTHS = 18.0, 0.5, 10


def bare_simpy(days: float, seed: int) -> int:
    rng = np.random.default_rng(seed)
    env = simpy.Environment()
    booths = simpy.Resource(env, capacity=BOOTHS)
    waits = []

    def customer(service: float):
        arrived = env.now
        with booths.request() as req:
            yield req
            waits.append(env.now - arrived)
            yield env.timeout(service)

    def source():
        while True:
            yield env.timeout(rng.exponential(1 / LAM))
            env.process(customer(rng.exponential(MEAN_S)))

    env.process(source())
    env.run(until=days * 24)
    return len(waits)


def bordersim_run(scn) -> int:
    res = simulate(scn, 0)
    return int(res.metrics[("x", "unit")]["arrivals"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=float, default=60)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    scn = queue_scenario("bench-mmc", LAM, {"dist": "exponential", "mean": MEAN_S}, BOOTHS,
                         args.days, 0, 0.5, seed=1, replications=1)
    bare, ours = [], []
    bordersim_run(scn)  # warm imports and caches
    for r in range(args.rounds):
        t = time.perf_counter()
        n = bare_simpy(args.days, r)
        bare.append((time.perf_counter() - t) / n)
        t = time.perf_counter()
        n = bordersim_run(scn)
        ours.append((time.perf_counter() - t) / n)
    b, o = statistics.median(bare), statistics.median(ours)
    print(f"M/M/{BOOTHS}, load {LAM * MEAN_S / BOOTHS:.2f}, {args.days:g} days "
          f"(~{LAM * 24 * args.days:,.0f} units), {args.rounds} rounds, medians:")
    print(f"  bare SimPy loop      {b * 1e6:7.2f} µs per unit")
    print(f"  bordersim (run+stats){o * 1e6:7.2f} µs per unit")
    print(f"  ratio bordersim / bare SimPy = {o / b:.2f}")


if __name__ == "__main__":
    main()
