"""``--help`` that keeps dotted paths and examples whole.

click wraps help text with :mod:`textwrap`, which breaks words at hyphens:
``crossings.ak-`` on one line and ``tilek.stages.0.lanes.0.booths=6`` on the
next, a path nobody can copy. Here lines break at spaces only, and a paragraph
that starts with click's ``\\b`` marker (used for examples) is kept as written.
"""

from __future__ import annotations

import textwrap

import click
from click.formatting import iter_rows, measure_table, term_len

__all__ = ["Formatter", "Context", "Command", "Group", "wrap"]


def wrap(text: str, width: int, indent: str = "") -> str:
    """Paragraphs (blank-line separated) filled to ``width`` without breaking a word; a
    paragraph whose first line is ``\\b`` is printed as it is, line by line."""
    out = []
    for para in text.strip("\n").split("\n\n"):
        lines = para.split("\n")
        if lines and lines[0].strip() == "\b":
            out.append("\n".join(indent + line for line in lines[1:]))
            continue
        body = " ".join(line.strip() for line in lines if line.strip())
        out.append(textwrap.fill(body, max(width, 20), initial_indent=indent,
                                 subsequent_indent=indent, break_on_hyphens=False,
                                 break_long_words=False))
    return "\n\n".join(out)


class Formatter(click.HelpFormatter):
    def write_text(self, text: str) -> None:
        self.write(wrap(text, self.width, " " * self.current_indent))
        self.write("\n")

    def write_dl(self, rows, col_max: int = 30, col_spacing: int = 2) -> None:
        rows = list(rows)
        widths = measure_table(rows)
        first_col = min(widths[0], col_max) + col_spacing
        for first, second in iter_rows(rows, len(widths)):
            self.write(f"{'':>{self.current_indent}}{first}")
            if not second:
                self.write("\n")
                continue
            if term_len(first) <= first_col - col_spacing:
                self.write(" " * (first_col - term_len(first)))
            else:
                self.write("\n" + " " * (first_col + self.current_indent))
            lines = wrap(second, max(self.width - first_col - 2, 10)).splitlines() or [""]
            self.write(lines[0] + "\n")
            for line in lines[1:]:
                self.write(f"{'':>{first_col + self.current_indent}}{line}\n")


class Context(click.Context):
    formatter_class = Formatter


class Command(click.Command):
    context_class = Context


class Group(click.Group):
    context_class = Context
    command_class = Command

