"""The command line: parse, call the library, print. No model logic here."""

from __future__ import annotations

import functools
import json
import math
import sys
from datetime import datetime
from pathlib import Path

import click

from bordersim import __version__
from bordersim.loading import ScenarioError, dump_yaml, load_scenario

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


def scenario_errors(fn):
    """Turn a ScenarioError into one message on stderr and exit status 2."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except ScenarioError as e:
            _fail(e.message())
    return wrapper


def run_options(fn):
    """Options shared by the commands that run replications."""
    options = [
        click.option("--replications", "-n", type=click.IntRange(min=1),
                     help="Replications (default: the scenario's)."),
        click.option("--seed", type=click.IntRange(min=0), help="Master seed (default: the "
                                                                "scenario's)."),
        click.option("--set", "overrides", multiple=True, metavar="PATH=VALUE",
                     help="Override one scenario value by dotted path, e.g. "
                          "crossings.ak-tilek.stages.0.lanes.0.booths=6. Repeatable."),
        click.option("--workers", "-j", type=click.IntRange(min=1),
                     help="Parallel processes (default: the number of CPUs)."),
        click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON."),
        click.option("--quiet", "-q", is_flag=True, help="Print nothing but errors."),
    ]
    for opt in reversed(options):
        fn = opt(fn)
    return fn


class _Progress:
    """A progress bar on stderr, or nothing when quiet."""

    def __init__(self, total: int, label: str, enabled: bool):
        self.bar = None
        if enabled:
            self.bar = click.progressbar(length=total, label=label, file=sys.stderr,
                                         show_eta=True, show_pos=True)
            self.bar.__enter__()

    def __call__(self, k: int) -> None:
        if self.bar is not None:
            self.bar.update(k)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


def _json_summary(res) -> str:
    rows = []
    for (c, k), metric, iv in res.summary_rows():
        rows.append({"crossing": c, "class": k, "metric": metric,
                     **{f: (None if isinstance(v, float) and math.isnan(v) else v)
                        for f, v in (("mean", iv.mean), ("ci_low", iv.ci_low),
                                     ("ci_high", iv.ci_high), ("std", iv.std), ("n", iv.n))}})
    return json.dumps(rows, indent=1)


def _check_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        _fail(f"--out: {out} is a file; expected a folder to write results into")
    parent = out.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        _fail(f"--out: {parent} is not a folder")


@click.group(context_settings=CONTEXT)
@click.version_option(__version__, prog_name="bordersim")
def cli() -> None:
    """Simulate what a land-border closure does to queues, waits and money."""


@cli.command()
@click.argument("scenario", type=click.Path(dir_okay=True, path_type=Path))
@run_options
@click.option("--out", "-o", type=click.Path(path_type=Path),
              help="Results folder (default: results/<scenario name>).")
@scenario_errors
def run(scenario, replications, seed, overrides, workers, as_json, quiet, out):
    """Run a scenario's replications and write its results folder."""
    from bordersim.experiment import run_experiment
    from bordersim.results import summary_table, write_results

    sets = list(overrides)
    if replications is not None:
        sets.append(f"replications={replications}")
    if seed is not None:
        sets.append(f"seed={seed}")
    loaded = load_scenario(scenario, sets)
    scn = loaded.scenario
    out = out or Path("results") / scn.name
    _check_out(out)
    started = datetime.now()
    progress = _Progress(scn.replications, f"{scn.name}: replications",
                         enabled=not (quiet or as_json))
    try:
        res = run_experiment(scn, workers=workers, progress=progress)
    finally:
        progress.close()
    finished = datetime.now()
    folder = write_results(out, res, loaded, ["bordersim", *sys.argv[1:]], started, finished)
    if as_json:
        click.echo(_json_summary(res))
    elif not quiet:
        click.echo(f"\n{scn.name}: {scn.replications} replications, seed {scn.seed}, "
                   f"{(finished - started).total_seconds():.1f}s")
        click.echo(summary_table(res))
        click.echo(f"\nresults: {folder}")


@cli.command()
@click.argument("scenarios", nargs=-1, required=True,
                type=click.Path(dir_okay=True, path_type=Path))
@click.option("--set", "overrides", multiple=True, metavar="PATH=VALUE",
              help="Override one value by dotted path. Repeatable.")
@click.option("--show", is_flag=True, help="Print each resolved scenario as YAML.")
@scenario_errors
def validate(scenarios, overrides, show):
    """Load and check scenario files; exit 2 on the first that is wrong."""
    for path in scenarios:
        loaded = load_scenario(path, list(overrides))
        s = loaded.scenario
        if show:
            click.echo(f"# {path}")
            click.echo(dump_yaml(loaded.resolved))
        else:
            click.echo(f"ok  {path}  ({s.name}: {len(s.crossings)} crossings, "
                       f"{len(s.classes)} classes, {len(s.policy)} policy phases, "
                       f"{s.duration / 24:g} days)")


@cli.command("check")
@click.argument("results_dir", type=click.Path(path_type=Path))
@click.argument("observations", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
@scenario_errors
def check_cmd(results_dir, observations, as_json):
    """Put observed figures beside the simulated mean and 95% CI at the same time."""
    from bordersim.check import check, write_check

    verdicts = check(results_dir, observations)
    write_check(results_dir / "check.csv", verdicts)
    if as_json:
        click.echo(json.dumps([v.as_dict() for v in verdicts], indent=1))
        return
    click.echo(format_check(verdicts))


def format_check(verdicts) -> str:
    rows = [("date", "crossing", "class", "metric", "observed", "simulated (95% CI)", "")]
    for v in verdicts:
        o = v.obs
        sim = "outside the run"
        if v.simulated is not None:
            iv = v.simulated
            ci = "" if math.isnan(iv.ci_low) else f" ({iv.ci_low:.0f}-{iv.ci_high:.0f})"
            sim = f"{iv.mean:.0f}{ci}"
        mark = {True: "inside", False: "OUTSIDE", None: "-"}[v.inside]
        rows.append((o.when.strftime("%Y-%m-%d %H:%M"), o.crossing, o.cls, o.metric,
                     f"{o.low:g}-{o.high:g}", sim, mark))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    judged = [v for v in verdicts if v.inside is not None]
    inside = sum(v.inside for v in judged)
    share = f" ({inside / len(judged):.0%})" if judged else ""
    lines.append(f"\n{inside} of {len(judged)} observed figures inside their range{share}")
    return "\n".join(lines)


@cli.command()
def schema():
    """Print the JSON Schema of a scenario file (for editors)."""
    from bordersim.scenario import scenario_json_schema

    click.echo(json.dumps(scenario_json_schema(), indent=2))


@cli.command()
@click.option("--replications", "-n", type=click.IntRange(min=2), default=20, show_default=True)
@click.option("--seed", type=click.IntRange(min=0), default=7, show_default=True)
@click.option("--workers", "-j", type=click.IntRange(min=1),
              help="Parallel processes (default: the number of CPUs).")
@click.option("--level", type=click.FloatRange(0.5, 0.9999), default=0.99, show_default=True,
              help="Confidence level of the intervals the exact values must fall in.")
def verify(replications, seed, workers, level):
    """Check simulated waits against exact queueing theory; exit 1 if one falls outside."""
    from bordersim.verify import run_checks

    click.echo(f"{replications} replications, seed {seed}, {level:.0%} intervals\n", err=True)
    results = run_checks(seed, replications, workers, level)
    header = f"{'check':<8} {'simulated':>10} {'interval':>21} {'exact':>9} {'z':>6}  verdict"
    click.echo(header)
    click.echo("-" * len(header))
    failed = 0
    for r in results:
        iv = r.interval
        verdict = "ok" if r.passed else "OUTSIDE"
        failed += not r.passed
        click.echo(f"{r.check.name:<8} {iv.mean:>10.4f} [{iv.ci_low:>9.4f}, {iv.ci_high:>9.4f}]"
                   f" {r.check.exact:>9.4f} {r.z:>6.2f}  {verdict}   {r.check.what}")
    click.echo(f"\n{len(results) - failed} of {len(results)} checks agree with theory")
    sys.exit(1 if failed else 0)


@cli.command()
@click.argument("base", type=click.Path(path_type=Path))
@click.argument("others", nargs=-1, required=True, type=click.Path(path_type=Path))
@run_options
@click.option("--out", "-o", type=click.Path(path_type=Path),
              help="Compare folder (default: results/compare-<base name>).")
@click.option("--metric", "-m", "metrics", multiple=True, metavar="NAME",
              help="Metric to print (repeatable; 'all' for every one). Default: crossed, "
                   "waits, queues and cost; compare.csv always has every metric.")
@scenario_errors
def compare(base, others, replications, seed, overrides, workers, as_json, quiet, out,
            metrics):
    """Differences of each OTHER from BASE, paired by replication (common random numbers).

    BASE and OTHER are scenario files (run with one seed and replication count: the
    options', else BASE's) or results folders (paired when seeds and replications match,
    otherwise a Welch interval).
    """
    from bordersim.compare import (
        comparison_notes,
        comparison_table,
        plan_compare,
        rows_as_dicts,
        write_compare,
    )
    from bordersim.experiment import run_experiment
    from bordersim.measure import METRICS

    if "all" in metrics:
        metrics = METRICS
    for m in metrics:
        if m not in METRICS:
            _fail(f"--metric: unknown metric '{m}'; expected one of {', '.join(METRICS)}")
    inputs = plan_compare([base, *others], seed, replications, list(overrides))
    out = out or Path("results") / f"compare-{inputs[0].label}"
    _check_out(out)
    started = datetime.now()
    results = {}
    for inp in inputs:
        if inp.loaded is None:
            continue
        scn = inp.loaded.scenario
        progress = _Progress(scn.replications, f"{inp.label}: replications",
                             enabled=not (quiet or as_json))
        try:
            results[inp.label] = run_experiment(scn, workers=workers, progress=progress)
        finally:
            progress.close()
    finished = datetime.now()
    folder, comparisons = write_compare(out, inputs, results, ["bordersim", *sys.argv[1:]],
                                        started, finished)
    if as_json:
        click.echo(json.dumps(rows_as_dicts(comparisons), indent=1))
        return
    if quiet:
        return
    for comp in comparisons:
        click.echo(f"\n{comp.scenario} - {comp.base}: {comp.why}")
        click.echo(comparison_table(comp, list(metrics) or None))
        for note in comparison_notes(comp):
            click.echo(note)
    click.echo(f"\ncompare folder: {folder}")


def main() -> None:
    cli(prog_name="bordersim")
