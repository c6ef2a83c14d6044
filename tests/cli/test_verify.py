"""`bordersim verify`: exact queueing values inside the simulated intervals, exit 0;
and the check can fail."""

from __future__ import annotations

from click.testing import CliRunner

from bordersim.cli import cli
from bordersim.stats import Interval
from bordersim.verify import CheckResult, checks


def test_verify_agrees_with_theory_and_says_so():
    result = CliRunner().invoke(cli, ["verify", "-j", "2"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "5 of 5 checks agree with theory" in result.output
    for name in ("M/M/1", "M/M/9", "M/D/1", "M/G/1", "Little"):
        assert name in result.output


def test_a_value_outside_its_interval_fails_the_check():
    chk = checks(replications=2)[0]
    assert CheckResult(chk, Interval(chk.exact, chk.exact - 0.1, chk.exact + 0.1, 0.1, 20)).passed
    assert not CheckResult(chk, Interval(chk.exact + 1, chk.exact + 0.9, chk.exact + 1.1,
                                         0.1, 20)).passed
