"""How long ``bordersim --help`` and ``import bordersim`` take, in fresh processes.

Each is started ``--rounds`` times; the median wall time is printed, beside that of
``python -c pass`` (the interpreter alone).

    python benchmarks/bench_startup.py [--rounds 9]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time


def wall(cmd: list[str], rounds: int) -> float:
    out = []
    for _ in range(rounds):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        out.append(time.perf_counter() - t)
    return statistics.median(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=9)
    args = ap.parse_args()
    beside = os.path.join(os.path.dirname(sys.executable), "bordersim")
    exe = beside if os.path.exists(beside) else shutil.which("bordersim") or "bordersim"
    load0 = os.getloadavg()[0]
    rows = [("python -c pass", [sys.executable, "-c", "pass"]),
            ("python -c 'import bordersim'", [sys.executable, "-c", "import bordersim"]),
            ("bordersim --help", [exe, "--help"]),
            ("bordersim run --help", [exe, "run", "--help"])]
    print(f"medians of {args.rounds} (load average {load0:.1f}):")
    for label, cmd in rows:
        print(f"  {label:30s} {wall(cmd, args.rounds):6.3f} s")


if __name__ == "__main__":
    main()
