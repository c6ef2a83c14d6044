"""Run many bordersim commands in one child process, each with a hang guard, and report.

Used by the bad-input corpus: the parent writes the cases (command-line arguments) as
JSON, runs this file in a fresh interpreter under an address-space limit, and reads back
each case's exit status, output and kind of exception, plus the child's peak memory
(``os.wait4``). A case still running after its guard is stopped and reported as hung.

    python child_runner.py CASES.json RESULTS.json GUARD_SECONDS
"""

from __future__ import annotations

import json
import signal
import sys
import time


class Hung(BaseException):
    """Raised by the alarm: not an Exception, so that nothing under test can swallow it."""


def _alarm(signum, frame):
    raise Hung()


def main() -> None:
    cases_path, results_path, guard = sys.argv[1], sys.argv[2], float(sys.argv[3])
    from click.testing import CliRunner

    from bordersim.cli import cli

    cases = json.loads(open(cases_path, encoding="utf-8").read())
    signal.signal(signal.SIGALRM, _alarm)
    out = []
    for case in cases:
        runner = CliRunner()
        t0 = time.monotonic()
        signal.setitimer(signal.ITIMER_REAL, guard)
        try:
            res = runner.invoke(cli, case["args"], catch_exceptions=True)
            hung = isinstance(res.exception, Hung)
            record = {"exit": res.exit_code, "stdout": res.stdout[-4000:],
                      "stderr": res.stderr[-4000:], "stderr_len": len(res.stderr),
                      "exception": type(res.exception).__name__ if res.exception else None,
                      "hung": hung}
        except Hung:
            record = {"exit": None, "stdout": "", "stderr": "", "stderr_len": 0,
                      "exception": "Hung", "hung": True}
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        record["seconds"] = time.monotonic() - t0
        out.append(record)
    with open(results_path, "w", encoding="utf-8") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
