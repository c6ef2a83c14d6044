"""The generated corpus of bad input (``corpus.py``) through validate, run, sweep, check
and report, in one child process with a memory limit and a hang guard per case.

Every case must get a clean answer: exit status 2, one line of message (per problem)
naming the file and the field path, nothing on stdout, nothing written, no traceback,
no raw control character, no value of a file reached through ``extends``; within the
guard's time and the child's memory. A Hypothesis fuzzer mutating the scenario's text
runs beside it with a fixed budget.
"""

from __future__ import annotations

import collections
import json
import os
import re
import resource
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from corpus import (
    Corpus,
    bomb,
    damaged_cases,
    file_cases,
    leaf_cases,
    nested,
    option_cases,
    scenario_cases,
    secret_cases,
    size_cases,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_bad_input import BASE

from bordersim.cli import cli

GUARD_S = 60                       # a case still running after this has hung
MEMORY_LIMIT = 4 * 1024 ** 3       # address space of the child: a blow-up fails, not swaps
PEAK_RSS_BOUND = 1024 ** 3         # what the whole corpus may use at its peak
CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

OBSERVATIONS = ("date,crossing,class,metric,value_low,value_high,source,confidence,note\n"
                "2017-10-01T18:00,ak-tilek,car,waiting_units,0,50,test,R,\n"
                "2017-10-02,all,all,crossed_per_day,10,100,test,R,\n")


def _limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    c = Corpus(root)
    good = c.scenario("good", BASE)
    scenario_cases(c)
    leaf_cases(c)
    file_cases(c)
    secrets = secret_cases(c)
    option_cases(c, good)
    size_cases(c)
    results = root / "results-good"
    assert CliRunner().invoke(cli, ["run", str(good), "-q", "-j", "1", "--out",
                                    str(results)]).exit_code == 0
    observations = root / "observations.csv"
    observations.write_text(OBSERVATIONS)
    damaged_cases(c, results, observations)
    cases_file, results_file = root / "cases.json", root / "results.json"
    cases_file.write_text(json.dumps([{"args": case.args} for case in c.cases]))
    runner = Path(__file__).with_name("child_runner.py")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent),
                                                        os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, str(runner), str(cases_file), str(results_file),
                             str(GUARD_S)], cwd=root, env=env, preexec_fn=_limit_memory,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    stderr = proc.stderr.read().decode(errors="replace")
    proc.stdout.close()
    proc.stderr.close()
    assert os.waitstatus_to_exitcode(status) == 0, stderr
    answers = json.loads(results_file.read_text())
    assert len(answers) == len(c.cases)
    return c, answers, usage.ru_maxrss * 1024, secrets


def _shown(case, answer) -> str:
    return f"{case.kind}: bordersim {' '.join(case.args)[:300]}\n{json.dumps(answer)[:3000]}"


def _clean(case, a) -> bool:
    """The answer the contract asks for."""
    if a["hung"] or a["exception"] not in (None, "SystemExit") or "Traceback" in a["stderr"]:
        return False
    if CONTROL.search(a["stderr"]):
        return False
    if case.ok is True:
        return a["exit"] == 0 and all(w in a["stderr"] for w in case.stderr_has)
    if (case.ok is None or case.maybe) and a["exit"] == 0:
        return True              # a damaged file the command does not need, a valid value
    if a["exit"] != 2 or a["stdout"] != "" or a["stderr_len"] > 8 * 800:
        return False
    lines = a["stderr"].strip().splitlines()
    if not lines or sum(line.startswith("error:") for line in lines) != 1 \
            or not lines[0].startswith("error: "):
        return False
    if case.ok is None:          # a damaged folder: refused, naming it
        return len(lines) == 1
    if case.lines is not None and len(lines) != case.lines:
        return False
    if case.maybe and case.where:     # that field, or the section holding it
        return any(f": {case.where[:n]}" in lines[0] for n in range(1, len(case.where) + 1)
                   if case.where[n:n + 1] in ("", ".", "["))
    if case.where and case.where not in a["stderr"]:
        return False
    if case.out is not None and os.path.lexists(case.out):
        return False
    return all(w in a["stderr"] for w in case.words)


def test_every_case_gets_a_clean_answer(corpus):
    c, answers, _, _ = corpus
    bad = [_shown(case, a) for case, a in zip(c.cases, answers, strict=True)
           if not _clean(case, a)]
    assert not bad, f"{len(bad)} of {len(c.cases)} cases:\n\n" + "\n\n".join(bad[:10])


def test_no_case_hangs_or_gives_a_traceback(corpus):
    c, answers, _, _ = corpus
    for case, a in zip(c.cases, answers, strict=True):
        assert not a["hung"], _shown(case, a)
        assert a["exception"] in (None, "SystemExit"), _shown(case, a)
        assert a["exit"] in (0, 2), _shown(case, a)


def test_memory_stays_bounded(corpus):
    """One child ran every case: its peak is what the worst case needed (a ten-line alias
    bomb expanded in full took 2.6 GB)."""
    _, _, peak, _ = corpus
    assert peak < PEAK_RSS_BOUND, f"peak {peak / 1e6:.0f} MB"


def test_no_message_repeats_what_a_file_reached_through_extends_holds(corpus):
    c, answers, _, secrets = corpus
    for case, a in zip(c.cases, answers, strict=True):
        for s in secrets:
            assert s not in a["stderr"] and s not in a["stdout"], _shown(case, a)


def test_figures(corpus, capsys):
    """Kinds of bad input tried and how many cases of each get a clean answer (printed)."""
    c, answers, peak, _ = corpus
    tried = collections.Counter(case.kind for case in c.cases)
    clean = collections.Counter(case.kind for case, a in zip(c.cases, answers, strict=True)
                                if _clean(case, a))
    with capsys.disabled():
        print(f"\nbad-input corpus: {len(tried)} kinds, {len(c.cases)} cases, "
              f"{sum(clean.values())} clean; peak memory {peak / 1e6:.0f} MB; slowest "
              f"{max(a['seconds'] for a in answers):.1f} s")
        for kind in sorted(tried):
            print(f"  {clean[kind]:4d} / {tried[kind]:4d}  {kind}")
    assert len(tried) >= 30
    assert sum(clean.values()) == len(c.cases)


# ---- a fuzzer over the text of a scenario file -------------------------------------------

TOKENS = ["2020-02-30", "2017-10-01T00:00+06:00", "18:00", "010", "0o17", "0x1f", "1_000",
          ".nan", ".inf", "-.inf", "1e309", "~", "[]", "{}", "'\x1b]0;x\x07'", "\"\\u202e\"",
          "&a [1, *a]", bomb(5, 6), nested(300), "yes", "all", "!!binary aGk=",
          "!!python/object:os.system", "*undefined", "&x 1", "|\n  text", "\t", "- - -",
          "{dist: [gamma]}", "{dist: gamma, mean: 1h, cv: 1e-300}", "9999-12-31",
          "[5e-324, 5e-324]", "'" + "x" * 5000 + "'"]
LINES = yaml.safe_dump(BASE, sort_keys=False, width=10_000).splitlines()


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(edits=st.lists(st.tuples(st.integers(0, len(LINES) - 1), st.sampled_from(TOKENS),
                                st.sampled_from(["value", "key", "line"])),
                      min_size=1, max_size=3))
def test_fuzzed_scenario_text_gets_a_clean_answer(tmp_path, edits):
    lines = list(LINES)
    for i, token, where in edits:
        head, sep, _ = lines[i].partition(":")
        indent = len(lines[i]) - len(lines[i].lstrip())
        if where == "value" and sep:
            lines[i] = f"{head}: {token}"
        elif where == "key" and sep:
            lines[i] = f"{' ' * indent}{token}:{lines[i].partition(':')[2]}"
        else:
            lines.insert(i, f"{' ' * indent}{token}")
    scenario = tmp_path / "fuzzed.yaml"
    scenario.write_text("\n".join(lines) + "\n", encoding="utf-8")
    res = CliRunner().invoke(cli, ["validate", str(scenario)])
    shown = f"{scenario.read_text()[:2000]}\n---\n{res.output[:2000]}"
    assert res.exit_code in (0, 2), shown + repr(res.exception)
    assert res.exception is None or isinstance(res.exception, SystemExit), shown
    assert "Traceback" not in res.output, shown
    assert not CONTROL.search(res.stderr), shown
    if res.exit_code == 2:
        lines_out = res.stderr.strip().splitlines()
        assert 1 <= len(lines_out) <= 9, shown
        assert lines_out[0].startswith(f"error: {scenario}"), shown
        assert all(line.startswith(str(scenario)) for line in lines_out[1:]), shown
        assert len(res.stderr) < 9 * 800, shown
