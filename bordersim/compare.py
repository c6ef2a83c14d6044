"""Scenarios side by side: differences from a base, paired by replication.

Replication ``r`` of every scenario that ``compare`` runs uses the same master
seed and index as replication ``r`` of the base, so it sees the same candidate
units (streams are keyed by replication, crossing and class): the difference
per replication cancels the noise both share (common random numbers), and its
t-interval is much narrower than the unpaired (Welch) one. Results folders
written earlier are paired when their seed and replication count match the
base's; otherwise the comparison falls back to a Welch interval and says so.
"""

from __future__ import annotations

import csv
import json
import math
import shutil
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

from bordersim.loading import LoadedScenario, ScenarioError, load_scenario
from bordersim.results import shown_keys  # also imported from here by the reports
from bordersim.scenario import ALL
from bordersim.stats import Interval, paired_interval, t_interval, welch_interval

__all__ = ["Run", "CompareInput", "Row", "Comparison", "COMPARE_FILE", "COLUMNS",
           "DEFAULT_METRICS", "read_run", "plan_compare", "compare_runs", "compare_csv",
           "write_compare", "comparison_table", "comparison_notes", "headline", "shown_metrics",
           "rows_as_dicts", "shown_keys", "is_results_folder", "is_compare_folder"]

COMPARE_FILE = "compare.csv"
INDEX_FILE = "compare.json"
COLUMNS = ("scenario", "crossing", "class", "metric", "base_mean", "mean", "diff_mean",
           "diff_ci_low", "diff_ci_high", "paired", "diff_p05", "diff_p95", "param_share")
# what the printed table shows unless asked for more; compare.csv has every metric
DEFAULT_METRICS = ("crossed", "wait_mean_h", "wait_p95_h", "queue_mean", "queue_max",
                   "cost_total")
_RESULTS_FILES = ("manifest.json", "replications.csv")

Key = tuple[str, str]


def is_results_folder(path: Path) -> bool:
    return Path(path).is_dir() and all((Path(path) / f).is_file() for f in _RESULTS_FILES)


def is_compare_folder(path: Path) -> bool:
    return Path(path).is_dir() and (Path(path) / COMPARE_FILE).is_file()


@dataclass(frozen=True)
class Run:
    """The replication-level metrics of one results folder."""

    label: str                 # the scenario's folder name inside a compare folder
    name: str                  # the scenario's name
    source: str                # what the user gave: a scenario file or a results folder
    seed: int
    replications: int
    keys: list[Key]            # (crossing, class), scenario order, totals included
    metrics: list[str]
    values: dict               # key -> {metric: array over replications 0..n-1}
    currency: str | None = None
    posterior: str | None = None   # the calibration whose draws the replications ran
    reference: dict | None = None  # the same replications at the scenario's own values

    @property
    def crossings(self) -> set[str]:
        return {c for c, _ in self.keys if c != ALL}


def _num(text: str) -> float:
    return float(text) if text not in ("", None) else math.nan


def _read_replications(path: Path, n: int, shown: str) -> tuple[list, list, dict]:
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        head = reader.fieldnames or []
        if head[:3] != ["replication", "crossing", "class"]:
            raise ScenarioError(shown, [(path.name, "expected the columns "
                                                    "replication,crossing,class,...")])
        metrics = head[3:]
        rows = list(reader)
    keys: list[Key] = []
    table: dict = {}
    for rec in rows:
        key = (rec["crossing"], rec["class"])
        if key not in table:
            keys.append(key)
            table[key] = {m: np.full(n, math.nan) for m in metrics}
        try:
            r = int(rec["replication"])
        except (TypeError, ValueError):
            raise ScenarioError(shown, [(path.name, "a replication number that is not a "
                                                    "whole number")]) from None
        if not 0 <= r < n:
            raise ScenarioError(shown, [(path.name, f"replication {r} outside the "
                                                    f"{n} of manifest.json")])
        for m in metrics:
            table[key][m][r] = _num(rec[m])
    counts = {key: sum(1 for rec in rows if (rec["crossing"], rec["class"]) == key)
              for key in keys}
    short = [key for key, c in counts.items() if c != n]
    if short or not keys:
        raise ScenarioError(shown, [(path.name, f"expected {n} replications of every "
                                                "crossing and class")])
    return keys, metrics, table


def read_run(folder: Path, label: str | None = None, source: str | None = None) -> Run:
    """Read a results folder written by ``bordersim run``; ScenarioError names what is wrong."""
    folder = Path(folder)
    shown = source or str(folder)
    if not folder.exists():
        raise ScenarioError(shown, [("", "results folder not found")])
    if not folder.is_dir():
        raise ScenarioError(shown, [("", "expected a results folder")])
    missing = [f for f in _RESULTS_FILES if not (folder / f).is_file()]
    if missing:
        raise ScenarioError(shown, [("", f"not a results folder: no {' or '.join(missing)} "
                                         "(expected a folder written by `bordersim run`, "
                                         "or a scenario file)")])
    from bordersim.readback import read_manifest, verify_results_folder

    # a damaged folder is refused whole, naming the file; the scenario's own name (a name
    # of [a-z0-9_-], checked) labels it, since it becomes a folder inside the compare folder
    name = verify_results_folder(folder, shown).name
    man = read_manifest(folder)
    seed, n = man["seed"], man["replications"]
    keys, metrics, table = _read_replications(folder / "replications.csv", n, shown)
    reference = None
    if (folder / "reference_replications.csv").is_file():
        reference = _read_replications(folder / "reference_replications.csv", n, shown)[2]
    post = man.get("posterior") if isinstance(man.get("posterior"), dict) else None
    return Run(label or folder.name, name, shown, seed, n, keys, metrics, table,
               man.get("currency"), post.get("posterior_sha256") if post else None, reference)


@dataclass(frozen=True)
class CompareInput:
    """One scenario of a comparison: a scenario file to run, or a results folder to read."""

    path: Path
    label: str
    loaded: LoadedScenario | None = None
    run: Run | None = None          # read from a results folder given by the user

    @property
    def crossings(self) -> set[str]:
        if self.loaded is not None:
            return set(self.loaded.scenario.crossings)
        return self.run.crossings

    @property
    def currency(self) -> str | None:
        if self.loaded is not None:
            econ = self.loaded.scenario.economics
            return econ.currency if econ else None
        return self.run.currency


def _unique(name: str, taken: set[str]) -> str:
    label, k = name, 2
    while label in taken:
        label, k = f"{name}-{k}", k + 1
    taken.add(label)
    return label


def plan_compare(paths: list[Path], seed: int | None = None,
                 replications: int | None = None,
                 overrides: list[str] | None = None) -> list[CompareInput]:
    """Load scenario files (all with one seed and replication count: the options', else
    BASE's) and read results folders. The first input is BASE."""
    overrides = list(overrides or [])
    given: list[tuple[Path, Run | None]] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            given.append((p, read_run(p, source=str(p))))
        elif not p.exists():
            raise ScenarioError(str(p), [("", "not found: expected a scenario file (.yaml) "
                                              "or a results folder")])
        else:
            given.append((p, None))
    files = [p for p, run in given if run is None]
    if not files and (overrides or seed is not None or replications is not None):
        raise ScenarioError("--set/--seed/--replications", [
            ("", "apply to scenario files only, and every input is a results folder")])
    base_path, base_run = given[0]
    if base_run is None:
        base = load_scenario(base_path, overrides).scenario
        seed = base.seed if seed is None else seed
        replications = base.replications if replications is None else replications
    else:
        seed = base_run.seed if seed is None else seed
        replications = base_run.replications if replications is None else replications
    forced = [*overrides, f"seed={seed}", f"replications={replications}"]
    taken: set[str] = set()
    out = []
    for p, run in given:
        if run is None:
            loaded = load_scenario(p, forced)
            out.append(CompareInput(p, _unique(loaded.scenario.name, taken), loaded=loaded))
        else:
            out.append(CompareInput(p, _unique(run.name, taken), run=run))
    base_crossings = out[0].crossings
    for inp in out[1:]:
        if not inp.crossings & base_crossings:
            raise ScenarioError(str(inp.path), [("crossings", (
                f"no crossing in common with BASE {out[0].path} "
                f"({', '.join(sorted(inp.crossings))} vs. {', '.join(sorted(base_crossings))})"))])
    return out


@dataclass(frozen=True)
class Row:
    scenario: str
    crossing: str
    cls: str
    metric: str
    base_mean: float
    mean: float
    diff: Interval
    paired: bool
    unpaired_half: float        # Welch half-width of the same difference, for comparison
    p05: float = math.nan       # percentiles of the per-replication differences (paired)
    p95: float = math.nan
    param_share: float = math.nan   # of their variance, what the parameters account for

    @property
    def excludes_zero(self) -> bool | None:
        if math.isnan(self.diff.ci_low):
            return None
        return not self.diff.contains(0.0)

    @property
    def narrowing(self) -> float:
        """Paired half-width over unpaired half-width (NaN when undefined)."""
        if not self.paired or not self.unpaired_half > 0 or math.isnan(self.diff.ci_low):
            return math.nan
        return self.diff.half_width / self.unpaired_half


@dataclass(frozen=True)
class Comparison:
    base: str
    scenario: str
    paired: bool
    why: str                    # how the replications were matched, in words
    rows: list[Row]
    only_base: list[Key] = field(default_factory=list)
    only_other: list[Key] = field(default_factory=list)

    def narrowings(self) -> list[float]:
        """Paired/unpaired half-width ratios of the rows whose values differ at all (rows
        identical in every replication would pull the median to zero)."""
        return [r.narrowing for r in self.rows
                if not math.isnan(r.narrowing) and r.diff.half_width > 0]

    @property
    def median_narrowing(self) -> float:
        if self.rows and all(r.paired and r.diff.half_width == 0 and r.diff.mean == 0
                             for r in self.rows if not math.isnan(r.diff.mean)):
            return 0.0
        r = self.narrowings()
        return float(np.median(r)) if r else math.nan


def compare_runs(base: Run, other: Run) -> Comparison:
    from bordersim.experiment import percentiles, variance_share

    paired = (base.seed == other.seed and base.replications == other.replications
              and base.posterior == other.posterior)
    if paired:
        why = (f"paired: same seed {base.seed} and {base.replications} replications, "
               "interval of the per-replication differences")
        if base.posterior:
            why += "; replication r of both ran the same posterior draw"
    else:
        what = []
        if base.seed != other.seed:
            what.append(f"seed {other.seed} vs. {base.seed}")
        if base.replications != other.replications:
            what.append(f"{other.replications} vs. {base.replications} replications")
        if base.posterior != other.posterior:
            what.append("different posteriors" if base.posterior and other.posterior
                        else "a posterior run against one without")
        why = f"unpaired ({', '.join(what)}): Welch interval"
    common = [k for k in base.keys if k in other.values]
    metrics = [m for m in base.metrics if m in other.metrics]
    rows = []
    for key in common:
        for m in metrics:
            b, o = base.values[key][m], other.values[key][m]
            welch = welch_interval(b, o)
            diff = paired_interval(b, o) if paired else welch
            p05, p95, share = math.nan, math.nan, math.nan
            if paired:
                p05, p95 = percentiles(o - b)
                if base.reference is not None and other.reference is not None and \
                        key in base.reference and key in other.reference:
                    share = variance_share(o - b, other.reference[key][m]
                                           - base.reference[key][m])
            rows.append(Row(other.label, *key, m, t_interval(b).mean, t_interval(o).mean,
                            diff, paired, welch.half_width, p05, p95, share))
    return Comparison(base.label, other.label, paired, why, rows,
                      [k for k in base.keys if k not in other.values],
                      [k for k in other.keys if k not in base.values])


def compare_csv(comparisons: list[Comparison]) -> str:
    from bordersim.results import fmt

    lines = [",".join(COLUMNS)]
    for comp in comparisons:
        for r in comp.rows:
            vals = [r.scenario, r.crossing, r.cls, r.metric, r.base_mean, r.mean, r.diff.mean,
                    r.diff.ci_low, r.diff.ci_high, "true" if r.paired else "false",
                    r.p05, r.p95, r.param_share]
            lines.append(",".join(fmt(v) for v in vals))
    return "\n".join(lines) + "\n"


def write_compare(out: Path, inputs: list[CompareInput], results: dict,
                  command: list[str], started: datetime | None = None,
                  finished: datetime | None = None,
                  metrics: list[str] | None = None, *,
                  force: bool = False) -> tuple[Path, list[Comparison]]:
    """Write the compare folder atomically: one results folder per input (``results`` maps a
    label to the ExperimentResult of a scenario file; results folders are copied), then
    compare.csv and compare.json (which records the ``metrics`` asked for, what the report
    leads with). An earlier compare folder at ``out`` is replaced only with ``force``."""
    from bordersim.results import atomic_folder, mark_folder, write_results

    finished = finished or datetime.now()
    started = started or finished
    comparisons: list[Comparison] = []

    def write(tmp: Path) -> None:
        runs = []
        for inp in inputs:
            dest = tmp / inp.label
            if inp.loaded is not None:
                write_results(dest, results[inp.label], inp.loaded, command, started, finished)
            else:
                shutil.copytree(inp.path, dest,
                                ignore=shutil.ignore_patterns(".*", "report.html", "figures"))
                mark_folder(dest, "results")
            runs.append(read_run(dest, inp.label, str(inp.path)))
        comparisons.extend(compare_runs(runs[0], r) for r in runs[1:])
        (tmp / COMPARE_FILE).write_text(compare_csv(comparisons))
        index = {
            "base": inputs[0].label,
            "scenarios": [{"label": inp.label, "name": run.name, "source": str(inp.path),
                           "seed": run.seed, "replications": run.replications}
                          for inp, run in zip(inputs, runs, strict=True)],
            "comparisons": [{"scenario": c.scenario, "paired": c.paired, "how": c.why,
                             "only_in_base": [list(k) for k in c.only_base],
                             "only_in_scenario": [list(k) for k in c.only_other]}
                            for c in comparisons],
            "metrics": shown_metrics(metrics, costs=inputs[0].currency is not None),
            "command": command,
            "started": started.isoformat(timespec="seconds"),
            "finished": finished.isoformat(timespec="seconds"),
        }
        (tmp / INDEX_FILE).write_text(json.dumps(index, indent=2) + "\n")

    folder = atomic_folder(out, write, "compare", force=force)
    return folder, comparisons


# -- printing -------------------------------------------------------------------------------

def _g(x: float, sign: bool = False) -> str:
    from bordersim.numbers import num

    text = num(x, dash="-")
    return f"+{text}" if sign and x > 0 else text


def shown_metrics(metrics: list[str] | None, costs: bool = True) -> list[str]:
    """The metrics a comparison shows: the total cost first (when the scenarios have costs),
    then those asked for (by default DEFAULT_METRICS)."""
    if metrics:
        metrics = list(metrics)
    else:
        metrics = [m for m in DEFAULT_METRICS if costs or m != "cost_total"]
    lead = ["cost_total"] if costs or "cost_total" in metrics else []
    return [*lead, *[m for m in metrics if m != "cost_total"]]


def headline(comp: Comparison, currency: str | None = None) -> str:
    """One line: the total cost of BASE and of the scenario, and the difference with its CI."""
    from bordersim.numbers import money, money_difference

    r = next((r for r in comp.rows
              if (r.crossing, r.cls, r.metric) == (ALL, ALL, "cost_total")), None)
    if r is None or math.isnan(r.mean):
        return ""
    verdict = {True: ", excludes 0", False: ", includes 0", None: ""}[r.excludes_zero]
    return (f"total cost: {comp.base} {money(r.base_mean, currency)}, {comp.scenario} "
            f"{money(r.mean, currency)}; difference "
            f"{money_difference(r.diff.mean, r.diff.ci_low, r.diff.ci_high, currency)}"
            f"{verdict}")


def comparison_table(comp: Comparison, metrics: list[str] | None = None,
                     currency: str | None = None) -> str:
    """The differences of one scenario from BASE, for people: the total cost first, then one
    block per metric (cost first, then those asked for) with a row per crossing × class: both
    means, the difference, its 95% interval, whether that excludes zero and how much pairing
    narrowed it."""
    from bordersim.metrics import label

    keys = shown_keys(list(dict.fromkeys((r.crossing, r.cls) for r in comp.rows)))
    by = {(r.crossing, r.cls, r.metric): r for r in comp.rows}
    header = ["crossing", "class", comp.base, comp.scenario, "difference", "95% CI",
              "excludes 0"]
    if comp.paired:
        header.append("paired/unpaired width")
    blocks: list[tuple[str, list[list[str]]]] = []
    for m in shown_metrics(metrics, costs=currency is not None):
        lines = []
        for key in keys:
            r = by.get((*key, m))
            if r is None:
                continue
            ci = "-" if math.isnan(r.diff.ci_low) else \
                f"[{_g(r.diff.ci_low, True)}, {_g(r.diff.ci_high, True)}]"
            ex = {True: "yes", False: "no", None: "-"}[r.excludes_zero]
            row = [*key, _g(r.base_mean), _g(r.mean), _g(r.diff.mean, True), ci, ex]
            if comp.paired:
                row.append("-" if math.isnan(r.narrowing) else f"{r.narrowing:.2f}")
            lines.append(row)
        if lines:
            blocks.append((f"{label(m, currency)}, {m}:", lines))
    every = [header] + [row for _, rows in blocks for row in rows]
    widths = [max(len(x[i]) for x in every) for i in range(len(header))]

    def line(row: list[str]) -> str:
        return "  ".join(v.ljust(w) if i < 2 else v.rjust(w)
                         for i, (v, w) in enumerate(zip(row, widths, strict=True))).rstrip()

    text = []
    head = headline(comp, currency)
    if head:
        text += [head, ""]
    text += [line(header), "  ".join("-" * w for w in widths)]
    for i, (title, rows) in enumerate(blocks):
        text += ([] if i == 0 else [""]) + [title] + [line(r) for r in rows]
    return "\n".join(text)


def comparison_notes(comp: Comparison) -> list[str]:
    """What a reader must know besides the table: pairing, its effect, skipped rows."""
    notes = []
    if comp.paired:
        med = comp.median_narrowing
        n = len(comp.narrowings())
        if med == 0:
            notes.append("pairing narrowed the intervals to zero width (identical runs)")
        elif not math.isnan(med):
            gain = (f": pairing made the intervals {1 / med:.1f}x narrower" if med < 0.9 else
                    ": pairing gained little here")
            notes.append(f"paired/unpaired (Welch) half-width: median {med:.2f} over the {n} "
                         f"rows that differ{gain}")
    for side, keys in (("only in " + comp.base, comp.only_base),
                       ("only in " + comp.scenario, comp.only_other)):
        if keys:
            notes.append(f"skipped ({side}): " + ", ".join(f"{c}/{k}" for c, k in keys))
    return notes


def rows_as_dicts(comparisons: list[Comparison]) -> list[dict]:
    def num(x: float):
        return None if math.isnan(x) else x

    return [{"scenario": r.scenario, "crossing": r.crossing, "class": r.cls,
             "metric": r.metric, "base_mean": num(r.base_mean), "mean": num(r.mean),
             "diff_mean": num(r.diff.mean), "diff_ci_low": num(r.diff.ci_low),
             "diff_ci_high": num(r.diff.ci_high), "paired": r.paired,
             "excludes_zero": r.excludes_zero, "unpaired_half_width": num(r.unpaired_half)}
            for c in comparisons for r in c.rows]

