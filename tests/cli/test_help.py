"""``--help``: every command has examples, and no line break cuts a word at a hyphen.

click's default wrapping breaks ``crossings.ak-tilek...`` after ``ak-``; the help
of bordersim breaks lines at spaces only, at any terminal width.
"""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from bordersim.cli import cli
from bordersim.helptext import wrap

COMMANDS = sorted(cli.commands)


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("width", [60, 80, 100])
def test_help_never_breaks_a_word_at_a_hyphen(command, width):
    res = CliRunner().invoke(cli, [command, "--help"], terminal_width=width,
                             catch_exceptions=False)
    assert res.exit_code == 0
    for line in res.output.splitlines():
        assert not re.search(r"\w-$", line), (command, width, line)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_examples_that_start_with_bordersim(command):
    res = CliRunner().invoke(cli, [command, "--help"], catch_exceptions=False)
    text = res.output
    assert "Examples:" in text, command
    examples = text.split("Examples:", 1)[1].split("Options:", 1)[0]
    lines = [x.strip() for x in examples.splitlines() if x.strip().startswith("bordersim")]
    assert lines and all(x.split()[1] in cli.commands for x in lines), lines
    assert any(x.split()[1] == command for x in lines), command


def test_the_set_example_path_stays_whole_in_run_help():
    res = CliRunner().invoke(cli, ["run", "--help"], terminal_width=70, catch_exceptions=False)
    assert "crossings.ak-tilek.stages.0.lanes.0.booths=6" in res.output


def test_wrap_keeps_marked_paragraphs_and_breaks_at_spaces_only():
    text = ("one two three-four five six-seven eight nine-ten eleven twelve-thirteen"
            "\n\n\b\n  keep   this\n  as is")
    out = wrap(text, 20)
    for word in ("three-four", "six-seven", "nine-ten", "twelve-thirteen"):
        assert word in out
    assert "  keep   this\n  as is" in out
    first = out.split("\n\n")[0].splitlines()
    assert len(first) > 2 and all(len(x) <= 20 for x in first)
