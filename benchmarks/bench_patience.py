"""What patience costs the event engine at a standing queue of 100,000 units.

One lane of 4 booths serving 1,000 trucks an hour, closed for the first 100 hours
while 1,000 an hour arrive, then open with arrivals and service in balance: about
100,000 trucks stand in line for the last 200 hours. The same units run with a
patience of 30 days (longer than the run: nobody reneges, so both runs do the same
work but for the timers) and without patience, in the event engine
(``--engine des``), alternately in this one process; best of ``--rounds``; the ratio
of the costs per unit, in wall time and in this process's CPU time (steadier when other
processes share the machine).

    python benchmarks/bench_patience.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import time

from bordersim.loading import scenario_from_dict
from bordersim.model import Outcome, run_model


def scenario(patience: bool):
    data = {
        "name": "standing", "start": "2020-01-01", "duration": "300h", "seed": 3,
        "classes": {"truck": {}},
        "crossings": {"x": {"demand": {"truck": 24000}, "stages": [{"name": "s", "lanes": [
            {"name": "l", "serves": ["truck"], "booths": 4,
             "service": {"truck": {"dist": "exponential", "mean": "14.4s"}}}]}]}},
        "policy": [{"at": "0h", "closed": ["truck"]}, {"at": "100h", "closed": []}],
    }
    if patience:
        data["behaviour"] = {"patience": {"truck": "30d"}}
    return scenario_from_dict(data).scenario


def once(scn) -> tuple[float, float, int, int]:
    t, c = time.perf_counter(), time.process_time()
    eng = run_model(scn, 0, engine="des")
    dt, dc = time.perf_counter() - t, time.process_time() - c
    (g,) = eng.groups
    return dt, dc, len(g.out_code), int((g.out_code == Outcome.WAITING_AT_END).sum())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    scns = {False: scenario(False), True: scenario(True)}
    best: dict[bool, tuple] = {}
    load0 = os.getloadavg()[0]
    cpu: dict[bool, float] = {}
    for _ in range(args.rounds):
        for pat in (False, True):
            dt, dc, n, waiting = once(scns[pat])
            if pat not in best or dt < best[pat][0]:
                best[pat] = (dt, n, waiting)
            cpu[pat] = min(cpu.get(pat, dc), dc)
    print(f"standing queue, event engine, best of {args.rounds} (load average {load0:.1f} -> "
          f"{os.getloadavg()[0]:.1f}):")
    for pat, label in ((False, "without patience"), (True, "patience 30 days")):
        dt, n, waiting = best[pat]
        print(f"  {label}  {n:,} units, {waiting:,} waiting at the end: "
              f"{dt / n * 1e6:5.2f} µs per unit ({cpu[pat] / n * 1e6:5.2f} µs CPU)")
    ratio = (best[True][0] / best[True][1]) / (best[False][0] / best[False][1])
    print(f"  with / without patience = {ratio:.2f} (CPU time: {cpu[True] / cpu[False]:.2f})")


if __name__ == "__main__":
    main()
