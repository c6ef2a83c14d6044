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
from bordersim.terminal import safe, safe_lines

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def _fail(message: str) -> None:
    """One message on stderr, every control character escaped, and exit status 2."""
    click.echo(f"error: {safe_lines(message)}", err=True)
    sys.exit(2)


def _warn(loaded, quiet: bool = False) -> None:
    """The scenario's warnings on stderr (already terminal-safe), unless quiet."""
    if not quiet:
        for w in loaded.warnings:
            click.echo(f"warning: {w}", err=True)


def scenario_errors(fn):
    """Turn a ScenarioError into one message on stderr and exit status 2."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except ScenarioError as e:
            _fail(e.message())
    return wrapper


def run_options(default: str = "the scenario's", json_help: str = "Print the summary as JSON."):
    """Options shared by the commands that run replications: ``default`` says where -n and
    --seed come from when not given, ``json_help`` what --json prints."""
    options = [
        click.option("--replications", "-n", type=click.IntRange(min=1),
                     help=f"Replications (default: {default})."),
        click.option("--seed", type=click.IntRange(min=0),
                     help=f"Master seed (default: {default})."),
        click.option("--set", "overrides", multiple=True, metavar="PATH=VALUE",
                     help="Override one scenario value by dotted path, e.g. "
                          "crossings.ak-tilek.stages.0.lanes.0.booths=6. Repeatable."),
        click.option("--workers", "-j", type=click.IntRange(min=1),
                     help="Parallel processes (default: the number of CPUs)."),
        click.option("--json", "as_json", is_flag=True, help=json_help),
        click.option("--quiet", "-q", is_flag=True, help="Print nothing but errors."),
    ]

    def decorate(fn):
        for opt in reversed(options):
            fn = opt(fn)
        return fn
    return decorate


scheduler_option = click.option(
    "--scheduler", metavar="ADDR",
    help="Run on a Dask distributed cluster, e.g. tcp://host:8786, instead of local processes.")


def _with_run_sets(sets: list[str], replications: int | None, seed: int | None) -> list[str]:
    """``--set`` values, then --replications and --seed as ``--set`` values (so they win)."""
    sets = list(sets)
    if replications is not None:
        sets.append(f"replications={replications}")
    if seed is not None:
        sets.append(f"seed={seed}")
    return sets


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


def _cpus() -> int:
    from bordersim.executors import default_workers

    return default_workers()


def _check_fits(loaded, workers: int | None, scheduler: str | None) -> None:
    """Refuse, before anything runs, a scenario whose replications cannot fit in memory
    (on a cluster only the gathered results are this machine's)."""
    from bordersim.sizing import check_run_fits

    check_run_fits(loaded.scenario, loaded.source,
                   at_once=1 if scheduler else (workers or _cpus()))


def _check_out(out: Path, kind: str, force: bool = False) -> None:
    """Refuse, before anything runs, an --out that must not or cannot be written."""
    from bordersim.folders import check_out, clean_stale

    clean_stale(out)
    check_out(out, kind, force=force)


force_option = click.option(
    "--force", is_flag=True,
    help="Replace an existing folder of the same kind at --out (kept until the new one is "
         "complete). Other folders are never replaced.")


@click.group(context_settings=CONTEXT)
@click.version_option(__version__, prog_name="bordersim")
def cli() -> None:
    """Simulate what a land-border closure does to queues, waits and money."""


@cli.command()
@click.argument("scenario", type=click.Path(dir_okay=True, path_type=Path))
@run_options()
@click.option("--out", "-o", type=click.Path(path_type=Path),
              help="Results folder (default: results/<scenario name>).")
@force_option
@scheduler_option
@scenario_errors
def run(scenario, replications, seed, overrides, workers, as_json, quiet, out, force,
        scheduler):
    """Run a scenario's replications and write its results folder."""
    from bordersim.experiment import run_experiment
    from bordersim.results import summary_table, write_results

    if scheduler and workers:
        _fail("--workers sets local processes; with --scheduler the cluster's workers run")
    loaded = load_scenario(scenario, _with_run_sets(overrides, replications, seed))
    _warn(loaded, quiet or as_json)
    scn = loaded.scenario
    out = out or Path("results") / scn.name
    _check_out(out, "results", force)
    _check_fits(loaded, workers, scheduler)
    started = datetime.now()
    progress = _Progress(scn.replications, f"{scn.name}: replications",
                         enabled=not (quiet or as_json))
    try:
        res = run_experiment(scn, workers=workers, progress=progress, scheduler=scheduler)
    finally:
        progress.close()
    finished = datetime.now()
    folder = write_results(out, res, loaded, ["bordersim", *sys.argv[1:]], started, finished,
                           force=force)
    if as_json:
        click.echo(_json_summary(res))
    elif not quiet:
        click.echo(f"\n{scn.name}: {scn.replications} replications, seed {scn.seed}, "
                   f"{(finished - started).total_seconds():.1f}s")
        click.echo(summary_table(res))
        click.echo(f"\nresults: {safe(folder)}")


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
        _warn(loaded)
        s = loaded.scenario
        if show:
            click.echo(f"# {safe(path)}")
            click.echo(dump_yaml(loaded.resolved))
        else:
            click.echo(f"ok  {safe(path)}  ({s.name}: {len(s.crossings)} crossings, "
                       f"{len(s.classes)} classes, {len(s.policy)} policy phases, "
                       f"{s.duration / 24:g} days)")


@cli.command("check")
@click.argument("results_dir", type=click.Path(path_type=Path))
@click.argument("observations", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
@scenario_errors
def check_cmd(results_dir, observations, as_json):
    """Put observed figures beside the simulated mean and 95% CI at the same time.

    Writes check.csv into RESULTS_DIR, replacing any earlier one.
    """
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
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
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
@run_options(default="BASE's", json_help="Print the comparison rows (each OTHER against BASE, "
                                         "every metric) as JSON.")
@click.option("--out", "-o", type=click.Path(path_type=Path),
              help="Compare folder (default: results/compare-<base name>).")
@click.option("--metric", "-m", "metrics", multiple=True, metavar="NAME",
              help="Metric to print (repeatable; 'all' for every one). Default: crossed, "
                   "waits, queues and cost; compare.csv always has every metric.")
@force_option
@scheduler_option
@scenario_errors
def compare(base, others, replications, seed, overrides, workers, as_json, quiet, out,
            metrics, force, scheduler):
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
    for inp in inputs:
        if inp.loaded is not None:
            _warn(inp.loaded, quiet or as_json)
            _check_fits(inp.loaded, workers, scheduler)
    out = out or Path("results") / f"compare-{inputs[0].label}"
    _check_out(out, "compare", force)
    started = datetime.now()
    results = {}
    for inp in inputs:
        if inp.loaded is None:
            continue
        scn = inp.loaded.scenario
        progress = _Progress(scn.replications, f"{inp.label}: replications",
                             enabled=not (quiet or as_json))
        try:
            results[inp.label] = run_experiment(scn, workers=workers, progress=progress,
                                                scheduler=scheduler)
        finally:
            progress.close()
    finished = datetime.now()
    folder, comparisons = write_compare(out, inputs, results, ["bordersim", *sys.argv[1:]],
                                        started, finished, force=force)
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
    click.echo(f"\ncompare folder: {safe(folder)}")


class _RunsProgress:
    """Runs done, runs per second and time left, on stderr; nothing when quiet."""

    def __init__(self, label: str, enabled: bool):
        self.label, self.enabled, self.bar = label, enabled, None

    def start(self, done_before: int, to_run: int) -> None:
        import time

        if done_before and self.enabled:
            click.echo(f"{done_before} runs already in the folder; {to_run} to go", err=True)
        if self.enabled and to_run:
            self.bar = click.progressbar(length=to_run, label=self.label, file=sys.stderr,
                                         show_eta=True, show_pos=True,
                                         item_show_func=lambda s: s)
            self.bar.__enter__()
        self.t0, self.n, self.clock = time.monotonic(), 0, time.monotonic

    def __call__(self, k: int) -> None:
        self.n += k
        if self.bar is not None:
            rate = self.n / max(self.clock() - self.t0, 1e-9)
            self.bar.update(k, f"{rate:.2f} runs/s")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


def _sweep_table(rows: list[dict], paths: list[str], metrics: list[str], most: int = 30) -> str:
    """One line per point: its values and the mean (95% CI) of a few metrics over all."""
    headline = [m for m in ("wait_mean_h", "queue_max", "cost_total") if m in metrics]
    shown = headline or metrics[:3]
    cells: dict[str, dict[str, str]] = {}
    for r in rows:
        if r["crossing"] != "all" or r["class"] != "all" or r["metric"] not in shown:
            continue
        ci = f" ({float(r['ci_low']):.4g}-{float(r['ci_high']):.4g})" if r["ci_low"] else ""
        mean = f"{float(r['mean']):.4g}{ci}" if r["mean"] else "-"
        line = cells.setdefault(r["point"], {"point": r["point"], **{p: r[p] for p in paths}})
        line[r["metric"]] = mean
    header = ["point", *paths, *shown]
    lines = [header] + [[c.get(h, "-") for h in header] for c in list(cells.values())[:most]]
    widths = [max(len(x[i]) for x in lines) for i in range(len(header))]
    out = ["  ".join(v.rjust(w) for v, w in zip(x, widths, strict=True)) for x in lines]
    out.insert(1, "  ".join("-" * w for w in widths))
    if len(cells) > most:
        out.append(f"... {len(cells) - most} more points in summary.csv")
    return "\n".join(out)


def _check_sweep_out(out: Path) -> None:
    """A sweep folder may be finished (--resume) or replaced (--force), which run_sweep
    decides; a folder of another kind, or one bordersim did not write, never."""
    from bordersim.folders import check_out, clean_stale

    clean_stale(out)
    check_out(out, "sweep", force=True)


@cli.command()
@click.argument("scenario", required=False, type=click.Path(dir_okay=True, path_type=Path))
@click.option("--vary", "varies", multiple=True, metavar="PATH=SPEC",
              help="A scenario value to vary: a,b,c (a list), lo:hi:step (a grid range, both "
                   "ends included) or lo..hi (a range for --design lhs). Numbers, durations "
                   "(2h:12h:2h) and dates. Repeatable.")
@click.option("--design", type=click.Choice(["grid", "lhs"]),
              help="grid: every combination; lhs: a Latin hypercube of --points points "
                   "(default: lhs when a lo..hi range is given, else grid).")
@click.option("--points", type=click.IntRange(min=2),
              help="Points of a Latin hypercube (default: 10 per varied path).")
@click.option("--spec", "spec_file", type=click.Path(path_type=Path),
              help="A sweep file with scenario, vary, design, points, replications, seed, "
                   "metrics, set, out (paths relative to it); options given here override it.")
@click.option("--metrics", "metric_names", multiple=True, metavar="NAMES",
              help="Metrics to keep, comma-separated (default: all). Keeps runs.csv small.")
@run_options(default="the --spec file's, else the scenario's",
             json_help="Print what ran as JSON (folder, design, points, replications, runs, "
                       "done_before, ran, wall_seconds) instead of the table.")
@scheduler_option
@click.option("--resume", is_flag=True,
              help="Finish an interrupted sweep: run only what its folder lacks.")
@click.option("--force", is_flag=True,
              help="Replace an existing sweep folder (kept until the new one is complete).")
@click.option("--out", "-o", type=click.Path(path_type=Path),
              help="Sweep folder (default: results/<scenario name>-sweep).")
@scenario_errors
def sweep(scenario, varies, design, points, spec_file, metric_names, replications, seed,
          overrides, workers, as_json, quiet, scheduler, resume, force, out):
    """Run a scenario at every point of a parameter sweep, with common random numbers."""
    from bordersim.executors import make_executor
    from bordersim.sweep import parse_metrics, parse_vary, plan_sweep, read_spec
    from bordersim.sweep_folder import read_summary, run_sweep

    spec = read_spec(spec_file) if spec_file else {}
    if spec and scenario is not None:
        _fail("give the scenario in the --spec file or as an argument, not both")
    if not spec and scenario is None:
        _fail("expected a SCENARIO file to sweep (or --spec sweep.yaml)")
    if scheduler and workers:
        _fail("--workers sets local processes; with --scheduler the cluster's workers run")
    given = [parse_vary(text) for text in varies]    # these replace the spec's, path by path
    factors = [f for f in spec.get("vary", []) if f.path not in {g.path for g in given}] + given
    replications = replications or spec.get("replications")
    seed = seed if seed is not None else spec.get("seed")
    sets = _with_run_sets([*spec.get("set", []), *overrides], replications, seed)
    metrics = parse_metrics(metric_names) if metric_names else spec.get("metrics")
    plan = plan_sweep(spec.get("scenario") or scenario, factors,
                      design=design or spec.get("design"),
                      points=points or spec.get("points"), overrides=sets,
                      **({"metrics": metrics} if metrics else {}))
    _warn(plan.loaded, quiet or as_json)
    name = plan.loaded.scenario.name
    out = out or spec.get("out") or Path("results") / f"{name}-sweep"
    _check_sweep_out(Path(out))
    from bordersim.sizing import check_sweep_fits

    check_sweep_fits(plan.scenarios, plan.loaded.source, plan.replications, len(plan.metrics),
                     at_once=1 if scheduler else (workers or _cpus()),
                     scenario_bytes=plan.scenario_bytes)
    executor = make_executor(workers, scheduler)
    if not (quiet or as_json):
        click.echo(f"{name}: {plan.design} of {len(plan.points)} points x {plan.replications} "
                   f"replications = {plan.n_runs} runs, seed {plan.seed}, {executor.name}",
                   err=True)
    progress = _RunsProgress(f"{name}: runs", enabled=not (quiet or as_json))
    try:
        with executor:
            outcome = run_sweep(plan, out, executor, resume=resume, force=force,
                                progress=progress, on_start=progress.start,
                                command=["bordersim", *sys.argv[1:]])
    except KeyboardInterrupt:
        progress.close()
        click.echo("\ninterrupted: finished runs are kept; `--resume` finishes the sweep",
                   err=True)
        raise
    finally:
        progress.close()
    if as_json:
        click.echo(json.dumps({"folder": str(outcome.folder), "design": plan.design,
                               "points": len(plan.points), "replications": plan.replications,
                               "runs": outcome.n_runs, "done_before": outcome.done_before,
                               "ran": outcome.ran, "dropped": outcome.dropped,
                               "wall_seconds": round(outcome.wall_s, 3)},
                              indent=1))
    elif not quiet:
        rate = outcome.ran / outcome.wall_s if outcome.wall_s > 0 else 0.0
        if outcome.dropped:
            click.echo(f"\n{outcome.dropped} runs found cut short or damaged in runs.csv were "
                       "run again", err=True)
        click.echo(f"\n{outcome.ran} runs in {outcome.wall_s:.1f}s ({rate:.2f} runs/s)"
                   + (f"; {outcome.done_before} were already done" if outcome.done_before
                      else ""))
        click.echo(_sweep_table(read_summary(outcome.folder), plan.paths, list(plan.metrics)))
        click.echo(f"\nsweep folder: {safe(outcome.folder)}")


@cli.command()
@click.argument("results_dir", type=click.Path(path_type=Path))
@click.option("--observations", type=click.Path(path_type=Path),
              help="Observations CSV (as for `check`): drawn on the queue and flow plots, and "
                   "set against the simulation in a figure of their own.")
@scenario_errors
def report(results_dir, observations):
    """Write report.html and figures/*.png into a results, compare or sweep folder."""
    from bordersim.readback import verify_folder

    verify_folder(results_dir)     # a damaged folder is refused here, with the file named
    if (results_dir / "runs.csv").is_file():
        try:
            from bordersim.report_sweep import write_sweep_report
        except ImportError:
            _fail(f"{results_dir}: this is a sweep folder (it has runs.csv); sweep reports "
                  "are not available yet in this version of bordersim")
        if observations is not None:
            _fail("--observations: applies to results and compare folders, not to sweeps")
        path = write_sweep_report(results_dir)
    else:
        from bordersim.report import write_report

        path = write_report(results_dir, observations)
    click.echo(f"report: {safe(path)}")


def main() -> None:
    cli(prog_name="bordersim")
