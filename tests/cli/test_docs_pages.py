"""The documentation pages hold what the code says: links resolve, the generated pages
(scenario reference, commands, metrics table) match the code, and the tutorial's files and
printed table are the repository's and what bordersim prints."""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from bordersim.cli import cli

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
def _exists(rel: str) -> bool:
    return (ROOT / rel).exists()


LINK = re.compile(r"\]\(([^)\s]+)\)")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_links_between_pages_resolve(page):
    text = page.read_text(encoding="utf-8")
    for target in LINK.findall(text):
        if re.match(r"^[a-z]+://", target):
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        rel = os.path.relpath(dest, ROOT)
        assert _exists(rel), f"{page.name}: link to {target}: no such file"
        if anchor and dest.suffix == ".md":
            body = dest.read_text(encoding="utf-8")
            slugs = {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-")
                     for h in re.findall(r"^#+ (.*)$", body, re.M)}
            ids = set(re.findall(r'id="([^"]+)"', body))
            assert anchor in slugs | ids, f"{page.name}: no anchor #{anchor} in {path}"


def test_generated_pages_match_the_code():
    from bordersim.docgen import generated

    for path, text in generated(ROOT / "docs").items():
        assert path.read_text(encoding="utf-8") == text, (
            f"{path.relative_to(ROOT)} is out of date: run python -m bordersim.docgen")


def test_the_tutorial_shows_its_files_and_their_output(tmp_path):
    page = (ROOT / "docs" / "tutorial.md").read_text(encoding="utf-8")
    files = re.findall(r"<!-- file: (\S+) -->\n```yaml\n(.*?)```", page, re.S)
    assert len(files) == 4
    for name, text in files:
        assert (ROOT / name).read_text(encoding="utf-8") == text, name
    outputs = re.findall(r"<!-- output of: (.+?) -->\n```text\n(.*?)```", page, re.S)
    assert outputs
    for cmd, shown in outputs:
        args = shlex.split(cmd)[1:]
        args[1] = str(ROOT / args[1])
        res = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "out"), "--workers", "1"],
                                 catch_exceptions=False)
        assert res.exit_code == 0, res.output
        printed = [x.rstrip() for x in res.stdout.splitlines()]
        for line in shown.splitlines():
            assert line.rstrip() in printed, f"the tutorial shows a line not printed:\n{line}"
