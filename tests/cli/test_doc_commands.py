"""The README and docs/ as a newcomer meets them: every command runs as written from a fresh
clone with nothing beside it.

Fast (the default suite): every shell block is valid bash; every `bordersim` command
parses with the real command line, and every file it reads is in the repository or is
written by an earlier command on the same page; the scenarios it runs are valid with its
--set values, and so is every point of a sweep; every other program is one the
installation provides; every example in `--help` passes the same check.

Slow (`pytest -m slow`): each page's shell and Python blocks are run in order, as
written, in a copy of the repository's tracked files and a fresh virtual environment.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import sysconfig
from pathlib import Path

import click
import pytest
import yaml
from click.testing import CliRunner

from bordersim.cli import cli
from bordersim.loading import ScenarioError, load_scenario
from bordersim.sweep import parse_vary, plan_sweep, read_spec

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
SHELLS = ("bash", "sh", "shell", "console")


def tracked() -> set[str]:
    """The files a fresh clone holds (or, outside git, the files of the tree)."""
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True,
                             check=True, timeout=60).stdout.decode()
        files = {f for f in out.split("\0") if f}
        if files:
            return files
    except (OSError, subprocess.SubprocessError):
        pass
    return {str(p.relative_to(ROOT)) for p in ROOT.rglob("*") if p.is_file()
            and not {".git", "results", "__pycache__"} & set(p.relative_to(ROOT).parts)}


TRACKED = tracked()
DIRS = {str(Path(f).parent) for f in TRACKED} | {
    str(p) for f in TRACKED for p in Path(f).parents if str(p) != "."}


def blocks(page: Path) -> list[tuple[str, str]]:
    """(language, text) of every fenced block, in page order."""
    return [(m.group(1), m.group(2)) for m in FENCE.finditer(page.read_text(encoding="utf-8"))]


def commands(block: str) -> list[str]:
    """The shell commands of a block: continuation lines joined, comments and blanks out."""
    out, buf = [], ""
    for line in block.splitlines():
        if line.rstrip().endswith("\\"):
            buf += line.rstrip()[:-1] + " "
            continue
        line = buf + line
        buf = ""
        if line.strip() and not line.strip().startswith("#"):
            out.append(line.strip())
    return out


def simple_commands(line: str) -> list[list[str]]:
    """A command line split at &&, ||, ; and & into argument lists (comments dropped)."""
    lex = shlex.shlex(line, posix=True, punctuation_chars="&|;")
    lex.whitespace_split = True
    lex.commenters = "#"
    out, cur = [], []
    tokens = iter(lex)
    for tok in tokens:
        if tok in ("&&", "||", ";", "&", "|"):
            if cur:
                out.append(cur)
            cur = []
        elif tok in (">", ">>", "<", "2>", "2>>"):
            next(tokens, None)                  # a redirection and its file: not arguments
        elif any(c in tok for c in "*?["):      # a glob: the files it matches in a clone
            matches = sorted(f for f in TRACKED if fnmatch.fnmatch(f, tok))
            cur.extend(matches or [tok])
        else:
            cur.append(tok)
    if cur:
        out.append(cur)
    return out


# -- what a bordersim command reads and writes --------------------------------------------------

def _name(path: Path) -> str | None:
    """A scenario file's name, following extends."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if data.get("name"):
        return data["name"]
    return _name(path.parent / data["extends"]) if data.get("extends") else None


class Page:
    """What the commands of one page have written so far (results folders); a command
    that would write a folder an earlier one wrote (and so be refused, or replace it) is a
    problem unless it says --force or --resume."""

    def __init__(self, root: Path, strict: bool = True):
        self.root, self.strict = root, strict
        self.produced: set[str] = set()
        self.problems: list[str] = []

    def exists(self, p: Path | str) -> bool:
        text = os.path.normpath(str(p))
        if text in TRACKED or text in DIRS:
            return True
        return any(text == q or text.startswith(q + os.sep) for q in self.produced)

    def need(self, p, what: str) -> None:
        text = os.path.normpath(str(p))
        if not self.strict and text.startswith("results" + os.sep):
            return                       # --help examples: results come from other commands
        if not self.exists(text):
            self.problems.append(f"{what}: {p} is neither in the repository nor written by "
                                 "an earlier command")

    def bordersim(self, args: list[str]) -> None:
        if not args or args[0].startswith("-"):
            return                                           # --help, --version
        name, rest = args[0], list(args[1:])
        cmd = cli.commands.get(name)
        if cmd is None:
            self.problems.append(f"bordersim {name}: no such command")
            return
        try:
            parent = cli.make_context("bordersim", [name], resilient_parsing=True)
            sub = cmd.make_context(name, rest, parent=parent)
        except click.exceptions.Exit:
            return                                           # --help, --version
        except click.ClickException as e:
            self.problems.append(f"bordersim {' '.join(args)}: {e.format_message()}")
            return
        p = sub.params
        before = set(self.produced)
        getattr(self, f"_{name}", lambda _p: None)(p)
        writes = self.strict and name in ("run", "compare", "sweep", "calibrate")
        if writes and self.produced == before and not (p.get("force") or p.get("resume")):
            self.problems.append(f"bordersim {' '.join(args)}: writes a folder an earlier "
                                 "command wrote")

    def _scenario(self, path, what: str) -> str | None:
        self.need(path, what)
        f = self.root / path
        return _name(f) if f.is_file() else None

    def _load(self, path, overrides, what: str) -> None:
        """A scenario file, with the command's --set values, must be valid."""
        f = self.root / path
        if f.is_file():
            try:
                load_scenario(f, list(overrides))
            except ScenarioError as e:
                self.problems.append(f"{what}: {e.message()}")

    def _run(self, p) -> None:
        name = self._scenario(p["scenario"], "run")
        self._load(p["scenario"], p["overrides"], "run")
        self.produced.add(os.path.normpath(str(p["out"] or f"results/{name}")))

    def _validate(self, p) -> None:
        for s in p["scenarios"]:
            self.need(s, "validate")

    def _compare(self, p) -> None:
        names = []
        for s in [p["base"], *p["others"]]:
            self.need(s, "compare")
            f = self.root / s
            names.append(_name(f) if f.is_file() else Path(s).name)
            self._load(s, p["overrides"], "compare")
        self.produced.add(os.path.normpath(str(p["out"] or f"results/compare-{names[0]}")))

    def _spec(self, p, what: str) -> dict:
        """A --spec file's scenario, observations and out, relative to the repository."""
        if not p.get("spec_file"):
            return {}
        self.need(p["spec_file"], f"{what} --spec")
        f = self.root / p["spec_file"]
        if not f.is_file():
            return {}
        spec = yaml.safe_load(f.read_text(encoding="utf-8"))
        return {k: os.path.relpath(os.path.normpath(f.parent / v), self.root)
                if k in ("scenario", "out", "observations") and isinstance(v, str) else v
                for k, v in spec.items()}

    def _sweep(self, p) -> None:
        spec = self._spec(p, "sweep")
        scenario = p["scenario"] or spec.get("scenario")
        name = self._scenario(scenario, "sweep") if scenario else None
        out = p["out"] or spec.get("out") or f"results/{name}-sweep"
        self.produced.add(os.path.normpath(str(out)))
        if scenario and (self.root / scenario).is_file():     # every point must be valid
            try:
                full = read_spec(self.root / p["spec_file"]) if p["spec_file"] else {}
                given = [parse_vary(t) for t in p["varies"]]
                factors = [f for f in full.get("vary", [])
                           if f.path not in {g.path for g in given}] + given
                plan_sweep(self.root / scenario, factors,
                           design=p["design"] or full.get("design"),
                           points=p["points"] or full.get("points"),
                           overrides=[*full.get("set", []), *p["overrides"]])
            except ScenarioError as e:
                self.problems.append(f"sweep: {e.message()}")

    def _report(self, p) -> None:
        self.need(p["results_dir"], "report")
        if p["observations"]:
            self.need(p["observations"], "report --observations")

    def _check(self, p) -> None:
        self.need(p["results_dir"], "check")
        self.need(p["observations"], "check")

    def _calibrate(self, p) -> None:
        spec = self._spec(p, "calibrate")
        scenario = p.get("scenario") or spec.get("scenario")
        name = self._scenario(scenario, "calibrate") if scenario else None
        out = p.get("out") or spec.get("out") or f"results/{name}-calibration"
        self.produced.add(os.path.normpath(str(out)))
        observations = p.get("observations") or spec.get("observations")
        if observations:
            self.need(observations, "calibrate")

    def other(self, args: list[str]) -> None:
        prog = args[0]
        if prog == "bordersim":
            self.bordersim(args[1:])
        elif prog in ("python", "python3"):
            if args[1:2] == ["-m"]:
                if args[2] not in ("bordersim", "bordersim.docgen", "pytest"):
                    self.problems.append(f"python -m {args[2]}: not a module of bordersim")
            else:
                self.need(args[1], "python")
        elif prog == "pip":
            target = next((a for a in args[2:] if not a.startswith("-") or a == "-e"), "")
            spec = args[-1]
            m = re.match(r"^(\.|bordersim)(\[([\w,]+)\])?$", spec)
            if args[1] != "install" or not m:
                self.problems.append(f"pip {' '.join(args[1:])}: expected pip install . or "
                                     f".[extra] (got {target!r})")
            elif m.group(3):
                extras = (ROOT / "setup.cfg").read_text()
                for extra in m.group(3).split(","):
                    if not re.search(rf"^{extra} =", extras, re.M):
                        self.problems.append(f"pip install: no extra [{extra}] in setup.cfg")
        elif prog == "pytest":
            pass
        elif prog == "dask":
            if args[1:2] not in (["scheduler"], ["worker"]):
                self.problems.append(f"dask {' '.join(args[1:])}: expected scheduler or worker")
        elif prog in ("kill", "wait"):
            pass
        else:
            self.problems.append(f"{prog}: a program the installation does not provide")


def check_page(page: Path) -> list[str]:
    state = Page(ROOT)
    for lang, text in blocks(page):
        if lang not in SHELLS:
            continue
        res = subprocess.run(["bash", "-n", "-c", text], capture_output=True, text=True,
                             timeout=30)
        if res.returncode:
            state.problems.append(f"not valid bash: {res.stderr.strip()}")
        for line in commands(text):
            for args in simple_commands(line):
                state.other(args)
    return state.problems


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_command_parses_and_reads_files_that_exist(page):
    assert check_page(page) == []


def test_the_pages_have_commands_to_check():
    counted = {p.name: sum(len(commands(t)) for lang, t in blocks(p) if lang in SHELLS)
               for p in PAGES}
    assert counted["README.md"] >= 5
    for name in ("tutorial.md", "howto-compare.md", "howto-sweep.md", "howto-cluster.md"):
        assert counted[name] >= 2, name


def test_the_checker_catches_what_it_is_for():
    state = Page(ROOT)
    for line in ["bordersim run scenarios/nowhere.yaml", "bordersim report results/never-run",
                 "bordersim run scenarios/example-mmc.yaml --replications zero",
                 "bordersim frobnicate x", "curl http://example.com", "pip install .[nope]",
                 "python benchmarks/missing.py"]:
        for args in simple_commands(line):
            state.other(args)
    assert len(state.problems) == 7, state.problems
    twice = Page(ROOT)
    for line in ["bordersim run scenarios/example-mmc.yaml", "bordersim run "
                 "scenarios/example-mmc.yaml -n 3", "bordersim run scenarios/example-mmc.yaml "
                 "--out results/other"]:
        for args in simple_commands(line):
            twice.other(args)
    assert len(twice.problems) == 1 and "earlier command" in twice.problems[0]
    ok = Page(ROOT)
    for line in ["bordersim run scenarios/example-mmc.yaml -n 2 && bordersim report "
                 "results/example-mmc"]:
        for args in simple_commands(line):
            ok.other(args)
    assert ok.problems == []


@pytest.mark.parametrize("command", sorted(cli.commands))
def test_help_examples_parse_and_name_files_that_exist(command):
    res = CliRunner().invoke(cli, [command, "--help"], catch_exceptions=False)
    text = res.output.split("Examples:", 1)[1].split("Options:", 1)[0]
    state = Page(ROOT, strict=False)
    for line in commands("\n".join(x.strip() for x in text.splitlines())):
        for args in simple_commands(line):
            if args[0] == "bordersim":
                state.other(args)
    assert state.problems == []


# -- slow: run every page as written ------------------------------------------------------------

def fresh_clone(dest: Path) -> Path:
    """The repository's tracked files, as a clone would hold them, and nothing else."""
    for f in sorted(TRACKED):
        src = ROOT / f
        if src.is_file():
            (dest / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / f)
    return dest


def fresh_venv(dest: Path) -> Path:
    """A virtual environment that finds the test environment's libraries (no downloads),
    but not its bordersim: the commands install the clone's."""
    subprocess.run([sys.executable, "-m", "venv", str(dest)], check=True, timeout=300)
    site = subprocess.run([str(dest / "bin" / "python"), "-c",
                           "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    Path(site, "test-environment.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    # pip finds pytest already there and installs no script for it, which a fresh machine
    # would have: without one, `pytest` would be whatever else the PATH holds
    script = dest / "bin" / "pytest"
    script.write_text(f"#!{dest / 'bin' / 'python'}\nimport sys\nfrom pytest import "
                      "console_main\nif __name__ == '__main__':\n    sys.exit(console_main())\n")
    script.chmod(0o755)
    return dest


def run_block(lang: str, text: str, cwd: Path, env: dict, timeout: float) -> None:
    cmd = ["bash", "-e", "-c", text] if lang in SHELLS else [env["VENV_PYTHON"], "-c", text]
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    finally:
        try:                       # whatever the block left running in the background
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, f"{lang} block failed:\n{text}\n--- output ---\n{out[-4000:]}"


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_page_runs_as_written_from_a_fresh_clone(page, tmp_path):
    todo = [(lang, text) for lang, text in blocks(page) if lang in (*SHELLS, "python")]
    if not todo:
        return                                  # a page without commands (the reference)
    clone = fresh_clone(tmp_path / "bordersim")
    venv = fresh_venv(tmp_path / "venv")
    env = {**os.environ, "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}",
           "VIRTUAL_ENV": str(venv), "VENV_PYTHON": str(venv / "bin" / "python"),
           "MPLBACKEND": "Agg"}
    env.pop("PYTHONPATH", None)
    first = todo[0][1] if todo[0][0] in SHELLS else ""
    if not first.lstrip().startswith("pip install"):      # the page assumes an installation
        run_block("bash", "pip install -q .", clone, env, 600)
    for lang, text in todo:
        run_block(lang, text, clone, env, 1800)
