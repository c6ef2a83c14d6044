"""A generated corpus of bad input: files, values and folders a hostile or tired user writes.

Each case is a command line with the files it needs, the kind of bad input it
is (the figures count kinds), and what a clean answer must say: the field
path (or the file) the message names and words it must hold. Cases are built
from one small valid scenario (``test_bad_input.BASE``) by breaking one thing.
"""

from __future__ import annotations

import copy
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml
from test_bad_input import BASE

RAW = "@@RAW{}@@"


@dataclass
class Case:
    kind: str                       # what sort of bad input (counted in the figures)
    args: list[str]
    where: str = ""                 # the field path (or file part) the message must name
    words: tuple[str, ...] = ()     # what the message must also say
    ok: bool = False                # valid after all: exit 0 (with a warning, say)
    lines: int | None = 1           # lines of the message (None: any up to 8)
    out: str | None = None          # a folder that must not exist afterwards
    stderr_has: tuple[str, ...] = ()   # for ok cases: what stderr says (a warning)
    maybe: bool = False             # may be valid after all (exit 0), else a bad case


@dataclass
class Corpus:
    root: Path
    cases: list[Case] = field(default_factory=list)
    n: int = 0

    def path(self, name: str) -> Path:
        self.n += 1
        p = self.root / f"{self.n:04d}-{name}"
        return p

    def scenario(self, name: str, data: dict | None = None, raw: dict | None = None,
                 text: str | None = None) -> Path:
        """A scenario file: BASE (or ``data``) with the values at ``raw``'s paths written as
        raw YAML text (unquoted dates, anchors, deep brackets), or ``text`` as it is."""
        p = self.path(name).with_suffix(".yaml")
        if text is None:
            data = copy.deepcopy(BASE if data is None else data)
            marks = {}
            for i, (path, value) in enumerate((raw or {}).items()):
                node = data
                for part in path[:-1]:
                    node = node[part]
                node[path[-1]] = RAW.format(i)
                marks[RAW.format(i)] = value
            text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=10_000)
            for mark, value in marks.items():
                text = text.replace(f"'{mark}'", value).replace(mark, value)
        p.write_text(text, encoding="utf-8")
        return p

    def validate_and_run(self, kind: str, scenario: Path, where: str, *words: str,
                         extra: tuple[str, ...] = (), **kw) -> None:
        self.cases.append(Case(kind, ["validate", str(scenario), *extra], where, words, **kw))
        out = self.path("out")
        quiet = [] if kw.get("ok") else ["-q"]     # warnings are not shown with --quiet
        self.cases.append(Case(kind, ["run", str(scenario), *quiet, "-j", "1", "--out",
                                      str(out), *extra], where, words,
                               out=None if kw.get("ok") else str(out), **kw))


def bomb(levels: int = 9, width: int = 9) -> str:
    """A billion laughs in one flow value: the last list holds width**levels items."""
    parts = ["&a0 [" + ", ".join(["lol"] * width) + "]"]
    for i in range(1, levels):
        parts.append(f"&a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]")
    return "[" + ", ".join(parts) + "]"


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


AK = ("crossings", "ak-tilek")
CARS = (*AK, "stages", 1, "lanes", 0)
PHASE0 = ("policy", 0)
FIELDS_DATE = {"start": ("start",), "policy[0].at": (*PHASE0, "at"),
               "policy[1].at": ("policy", 1, "at")}
FIELDS_ANY = {**FIELDS_DATE, "duration": ("duration",), "warmup": ("warmup",),
              "policy[0].label": (*PHASE0, "label"),
              "crossings.ak-tilek.stages[1].lanes[0].service.car.mean":
                  (*CARS, "service", "car", "mean"),
              "crossings.ak-tilek.stages[0].lanes[0].booths":
                  (*AK, "stages", 0, "lanes", 0, "booths"),
              "description": ("description",)}


def scenario_cases(c: Corpus) -> None:
    # impossible calendar dates, unquoted (YAML would read them as dates and fail)
    for where, path in FIELDS_DATE.items():
        for text in ("2020-02-30", "2020-13-45", "2017-02-29", "2017-10-01T25:00",
                     "2017-10-01 24:61"):
            c.validate_and_run("impossible date in the file", c.scenario("date", raw={
                path: text}), where, "not a date of the calendar")
    # offsets from UTC
    for where, path in FIELDS_DATE.items():
        for text in ("2017-10-01T00:00+06:00", "2017-10-01T06:00:00Z"):
            c.validate_and_run("time-zone offset", c.scenario("tz", raw={path: text}), where,
                               "offset from UTC")
    # YAML 1.1 sexagesimal numbers: text, refused where a time or a duration is expected
    for where, path in (("policy[0].at", (*PHASE0, "at")), ("duration", ("duration",)),
                        ("warmup", ("warmup",))):
        c.validate_and_run("sexagesimal number", c.scenario("clock", raw={path: "18:00"}),
                           where, "'18:00'", "time of day")
    # alias bombs and self-referring aliases, anywhere
    for path in FIELDS_ANY.values():
        c.validate_and_run("YAML alias bomb", c.scenario("bomb", raw={path: bomb()}), "",
                           "aliases")
        c.validate_and_run("self-referring alias", c.scenario("loop", raw={
            path: "&self [1, *self]"}), "", "refers to a value that holds it")
    # deep nesting
    for path in FIELDS_ANY.values():
        for depth in (100, 20_000):
            c.validate_and_run("deep nesting", c.scenario("deep", raw={path: nested(depth)}),
                               "", "nested more than")
    # keys given twice
    text = yaml.safe_dump(BASE, sort_keys=False)
    dup_cases = {
        "top-level key twice": text + "seed: 3\n",
        "crossing twice": text.replace("  chon-kapka:", "  ak-tilek:\n    demand: {car: 1}\n"
                                       "    stages: []\n  chon-kapka:", 1),
        "class twice": text.replace("  truck_loaded:", "  car: {}\n  truck_loaded:", 1),
    }
    for t in dup_cases.values():
        c.validate_and_run("duplicate key", c.scenario("dup", text=t), "line", "given twice",
                           "first at line")
    # distributions
    for value in ("{dist: [gamma], mean: 5min}", "{dist: {a: 1}, mean: 5min}",
                  "{dist: 5, mean: 5min}", "{dist: null, mean: 5min}", "{dist: GAMMA}",
                  "{dist: gamma, mean: 5min, cv: [1]}"):
        c.validate_and_run("bad distribution", c.scenario("dist", raw={
            (*CARS, "service", "car"): value}),
            "crossings.ak-tilek.stages[1].lanes[0].service.car")
    for cv in ("1e-200", "1e200", ".nan", ".inf", "-.inf", "1e-7", "2000", "-0.0"):
        for lane, cls in (((*CARS,), "car"), ((*AK, "stages", 1, "lanes", 1), "truck_loaded")):
            c.validate_and_run("extreme cv", c.scenario("cv", raw={
                (*lane, "service", cls, "cv"): cv}),
                f"crossings.ak-tilek.stages[1].lanes[{lane[-1]}].service.{cls}.cv")
    # the totals' name
    data = copy.deepcopy(BASE)
    data["classes"]["all"] = {"persons": 1}
    c.validate_and_run("reserved name 'all'", c.scenario("all", data), "classes",
                       "'all' cannot name a class")
    data = copy.deepcopy(BASE)
    data["crossings"]["all"] = data["crossings"].pop("chon-kapka")
    c.validate_and_run("reserved name 'all'", c.scenario("all", data), "crossings",
                       "'all' cannot name a crossing")
    # profiles that cannot be scaled
    for weights in ([5e-324] * 24, [1e-320] * 24, [1e308] * 24, [0.0] * 23 + [5e-324]):
        data = copy.deepcopy(BASE)
        data["crossings"]["ak-tilek"]["profile"] = weights
        c.validate_and_run("profile that cannot be scaled", c.scenario("profile", data),
                           "crossings.ak-tilek.profile")
    # the calendar's end
    for start, duration in (("9999-12-31", "2d"), ("9999-12-30", "3d"), ("2017-10-01", "1e9d"),
                            ("2017-10-01", "1e300")):
        c.validate_and_run("run past the calendar", c.scenario("end", raw={
            ("start",): start, ("duration",): duration}), "duration", "last date")
    # names listed twice
    for where, path, value in (
            ("policy[0].priority", (*PHASE0, "priority"), "[car, car]"),
            ("policy[0].closed", (*PHASE0, "closed"), "[truck_loaded, truck_loaded]"),
            ("crossings.ak-tilek.stages[0].lanes[0].serves",
             (*AK, "stages", 0, "lanes", 0, "serves"), "[car, truck_loaded, car]"),
            ("policy[0].crossings", (*PHASE0, "crossings"), "[ak-tilek, ak-tilek]")):
        c.validate_and_run("name listed twice", c.scenario("twice", raw={path: value}), where,
                           "listed twice")
    # control characters and bidirectional overrides in keys and names
    for name, key in (("escape", "\x1b]0;owned\x07"), ("newline", "x\nerror: forged"),
                      ("bidi", "x\u202egnp.exe"), ("nul", "x\x00y")):
        data = copy.deepcopy(BASE)
        data["classes"][key] = {"persons": 1}
        c.validate_and_run("control characters in a name", c.scenario(name, data),
                           "classes")
        data = copy.deepcopy(BASE)
        data[key] = 1
        c.validate_and_run("control characters in a key", c.scenario(name, data), "",
                           "unknown key")
    # very long values
    c.validate_and_run("very long value", c.scenario("long", raw={
        ("name",): "x" * 200_000 + "!"}), "name", "characters")
    c.validate_and_run("very long value", c.scenario("long", raw={
        ("duration",): "9" * 100_000 + "parsecs"}), "duration", "...")
    # valid, but a phase after the end of the run: a warning, not an error
    c.validate_and_run("phase after the end of the run", c.scenario("late", raw={
        ("policy", 1, "at"): "2017-11-01"}), "", ok=True,
        stderr_has=("warning:", "policy[1].at", "after the end of the run"))


def file_cases(c: Corpus) -> None:
    fifo = c.path("fifo")
    os.mkfifo(fifo)
    huge = c.path("huge.yaml")
    with open(huge, "wb") as f:
        f.truncate(64 * 1024 * 1024)     # sparse: sixty-four megabytes of nothing
    loop = c.path("loop.yaml")
    loop.symlink_to(loop)
    folder = c.path("folder")
    folder.mkdir()
    targets = {"a device": "/dev/zero", "a pipe": str(fifo), "a huge file": str(huge),
               "a symbolic link loop": str(loop), "a folder": str(folder),
               "an empty device": "/dev/null"}
    for what, target in targets.items():
        words = {"a device": ("a device",), "a pipe": ("a pipe",),
                 "a huge file": ("bytes",), "a symbolic link loop": ("looping",),
                 "a folder": ("folder",), "an empty device": ("a device",)}[what]
        c.validate_and_run(f"scenario is {what}", Path(target), "", *words)
        child = c.scenario("child", text=f"extends: {target}\nname: child\n")
        c.validate_and_run(f"extends {what}", child, "", *words)
    # a long chain of extends, and a cycle through several files
    prev = c.scenario("root", BASE)
    for i in range(40):
        prev = c.scenario(f"chain{i}", text=f"extends: {prev.name}\nseed: {i}\n")
    c.validate_and_run("extends chain too long", prev, "extends", "more than 32 files")
    a, b = c.path("cyc-a.yaml"), c.path("cyc-b.yaml")
    a.write_text(f"extends: {b.name}\nname: a\n")
    b.write_text(f"extends: {a.name}\nname: b\n")
    c.validate_and_run("extends cycle", a, "extends", "cyclic extends")
    # not text
    bad = c.path("binary.yaml")
    bad.write_bytes(b"name: x\n\xff\xfe\x00\x01")
    c.validate_and_run("not UTF-8", bad, "", "not UTF-8")
    nul = c.path("nul.yaml")
    nul.write_bytes(b"name: tiny\x00\n")
    c.validate_and_run("NUL byte", nul, "", "not valid YAML")


def secret_cases(c: Corpus) -> list[str]:
    """A file reached through extends whose content must never be echoed. Returns the
    secrets, which no message may contain."""
    secret = c.path("secret.yaml")
    secrets = ["hunter2-secret-value", "s3cr3t-token-xyz", "private-key-material"]
    secret.write_text(f"name: {secrets[0]}\nstart: {secrets[1]}\nclasses:\n"
                      f"  car: {{persons: {secrets[2]}}}\n")
    child = c.scenario("child", text=f"extends: {os.path.relpath(secret, c.root)}\n"
                                     "description: x\n")
    c.validate_and_run("extends echoes a file's content", child, "", lines=None)
    for sets in (["name.first=1"], ["classes.car.persons.x=1"]):
        c.cases.append(Case("extends echoes a file's content",
                            ["validate", str(child), "--set", sets[0]], "", ()))
    broken = c.path("broken.yaml")
    broken.write_text(f"name: [{secrets[0]}\n")
    child = c.scenario("child", text=f"extends: {broken.name}\nname: child\n")
    c.validate_and_run("extends echoes a file's content", child, "", "not valid YAML")
    return secrets


def option_cases(c: Corpus, good: Path) -> None:
    booths = "crossings.ak-tilek.stages.0.lanes.0.booths"
    for value in ("2020-02-30", "2017-10-01T00:00+06:00", bomb(), nested(20_000),
                  "&s [*s]"):
        c.validate_and_run("bad --set value", good, "", extra=("--set", f"start={value}"),
                           lines=1)
    c.validate_and_run("bad --set value", good, "policy[0].at", "time of day",
                       extra=("--set", "policy.0.at=18:00"))
    sweep = ["sweep", str(good), "-q", "-j", "1", "--metrics", "crossed"]
    for spec in ("policy.0.at=2020-02-30,2017-10-02", "policy.0.at=2020-02-30:2020-03-05:1d",
                 "policy.0.at=2017-10-01..2020-02-30", f"{booths}={bomb()}",
                 f"{booths}={nested(20_000)}", "start=2017-10-01T00:00+06:00,2017-10-02"):
        c.cases.append(Case("bad --vary value", [*sweep, "--vary", spec, "--out",
                                                 str(c.path("s"))], "", (), lines=1))
    for text in ("scenario: good.yaml\nvary: {policy.0.at: [2020-02-30]}\n",
                 "scenario: good.yaml\nvary: {policy.0.at: 2020-02-30}\n",
                 f"scenario: good.yaml\nvary: {{{booths}: {bomb()}}}\n",
                 "scenario: good.yaml\nscenario: good.yaml\nvary: {seed: 1}\n"):
        spec = c.path("spec.yaml")
        spec.write_text(text)
        shutil.copy(good, spec.parent / "good.yaml")
        c.cases.append(Case("bad sweep file", ["sweep", "--spec", str(spec), "-q", "--out",
                                               str(c.path("s"))], "", (), lines=1))
    for addr in ("inproc://x", "ucx://host:1", "tcp://[::1", "tcp://", "tcp://h:99999",
                 "file:///etc/passwd"):
        c.cases.append(Case("bad --scheduler", ["run", str(good), "-q", "--scheduler", addr,
                                                "--out", str(c.path("o"))], "--scheduler", ()))


def size_cases(c: Corpus) -> None:
    demand = "crossings.ak-tilek.demand.truck_loaded"
    for sets in ([f"{demand}=1e8"], [f"{demand}=1e10"], [f"{demand}=1e12"],
                 ["duration=1e6d", "warmup=0"], ["duration=1e8d", "warmup=0"],
                 ["policy.0.demand_factor={all: 1e12}"],
                 ["policy.0.demand_factor={car: 1e9}"]):
        extra = tuple(x for s in sets for x in ("--set", s))
        good = c.scenario("size", BASE)
        out = c.path("out")
        c.cases.append(Case("size that cannot fit", ["run", str(good), "-q", "-j", "1",
                                                     "--out", str(out), *extra], "",
                            (), out=str(out)))
    good = c.scenario("size", BASE)
    booths = "crossings.ak-tilek.stages.0.lanes.0.booths"
    mean = "crossings.ak-tilek.stages.0.lanes.0.service.all"
    for varies, extra in (([f"{booths}=1:1000:1", f"{mean}=1:1000:1"], []),
                          ([f"{booths}=1:100:1", f"{mean}=1:100:1", "seed=1"][:2]
                           + ["warmup=1:10:1"], ["-n", "20"]),
                          ([f"{mean}=0.1..1.0"], ["--points", "500000", "-n", "50"])):
        args = [x for v in varies for x in ("--vary", v)]
        c.cases.append(Case("sweep that cannot fit", ["sweep", str(good), "-q", "-j", "1",
                                                      "--out", str(c.path("s")), *args,
                                                      *extra], "", ("too large",)))
    c.cases.append(Case("sweep that cannot fit", ["sweep", str(good), "-q", "--vary",
                                                  f"{booths}=1..100", "--points", "100000000",
                                                  "--out", str(c.path("s"))], "--points",
                        ("100,000,000 points",)))


def damaged_cases(c: Corpus, results: Path, observations: Path) -> None:
    """One good results folder, broken one file at a time, read by check and report."""
    files = sorted(p.name for p in results.iterdir() if p.is_file())
    for name in files:
        size = (results / name).stat().st_size
        for how in ("deleted", "empty", "half", "garbage"):
            if name == ".bordersim-folder":
                continue
            d = c.path(f"damaged-{how}")
            shutil.copytree(results, d)
            p = d / name
            if how == "deleted":
                p.unlink()
            elif how == "empty":
                p.write_bytes(b"")
            elif how == "half":
                p.write_bytes(p.read_bytes()[:size // 2])
            else:
                p.write_bytes(b"\x00garbage{[\n" * 3)
            for cmd in (["check", str(d), str(observations)], ["report", str(d)]):
                c.cases.append(Case("damaged results folder", cmd, "", (), ok=None))
    # arrays of the wrong shape or kind, and missing keys
    for change in ("missing queue", "queue of floats", "queue too short", "pickled object"):
        d = c.path("damaged-npz")
        shutil.copytree(results, d)
        p = d / "timeseries_replications.npz"
        with np.load(p) as z:
            arrays = dict(z)
        if change == "missing queue":
            del arrays["queue"]
        elif change == "queue of floats":
            arrays["queue"] = arrays["queue"].astype(float) + 0.5
        elif change == "queue too short":
            arrays["queue"] = arrays["queue"][:, :, :3]
        else:
            arrays["queue"] = np.array([{"a": 1}], dtype=object)
        with open(p, "wb") as f:
            np.savez(f, **arrays)
        for cmd in (["check", str(d), str(observations)], ["report", str(d)]):
            c.cases.append(Case("damaged results folder", cmd, "timeseries_replications.npz",
                                ()))


WRONG_VALUES = {"nothing": None, "an empty mapping": {}, "an empty list": [],
                "words": "two words", "a negative number": -1, "a boolean": True,
                "not a number": float("nan"), "infinity": float("inf"),
                "a huge number": 1e300, "a list of mappings": [{"a": 1}]}


def leaves(node, path=()):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from leaves(v, (*path, k))
    elif isinstance(node, list) and node and isinstance(node[0], (dict, list)):
        for i, v in enumerate(node):
            yield from leaves(v, (*path, i))
    else:
        yield path


def format_path(path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else ("." if out else "") + str(part)
    return out


def leaf_cases(c: Corpus) -> None:
    """Every value of the scenario replaced by each wrong kind of value: the answer is
    exit 0 (where that value is allowed) or one message naming that field or its section."""
    for path in leaves(BASE):
        for what, value in WRONG_VALUES.items():
            data = copy.deepcopy(BASE)
            node = data
            for part in path[:-1]:
                node = node[part]
            node[path[-1]] = value
            scenario = c.scenario("leaf", data)
            c.cases.append(Case(f"{what} in place of a value", ["validate", str(scenario)],
                                format_path(path), (), ok=False, lines=1, maybe=True))
