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
from bordersim.helptext import Group
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
        # imported here, so that --help loads no scenario code
        from bordersim.loading import ScenarioError

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


def scheduler_option(fn):
    """--scheduler ADDR and Dask's TLS files; the command gets ``scheduler`` as None, or a
    Cluster (address and TLS files) that the executors take wherever an address goes."""
    @functools.wraps(fn)
    def wrapper(*args, scheduler=None, tls_ca_file=None, tls_cert=None, tls_key=None,
                **kwargs):
        return fn(*args, scheduler=_cluster(scheduler, tls_ca_file, tls_cert, tls_key),
                  **kwargs)

    options = [
        click.option("--scheduler", metavar="ADDR",
                     help="Run on a Dask distributed cluster, e.g. tcp://host:8786 (or "
                          "tls://host:8786 with the --tls options), instead of local "
                          "processes. Use only a cluster you trust: its results are "
                          "unpickled here."),
        click.option("--tls-ca-file", type=click.Path(dir_okay=False, path_type=Path),
                     help="With a tls:// --scheduler: the certificate authority that signed "
                          "the cluster's certificates (PEM)."),
        click.option("--tls-cert", type=click.Path(dir_okay=False, path_type=Path),
                     help="With a tls:// --scheduler: this client's certificate (PEM)."),
        click.option("--tls-key", type=click.Path(dir_okay=False, path_type=Path),
                     help="With a tls:// --scheduler: this client's private key (PEM; may be "
                          "in the --tls-cert file)."),
    ]
    for opt in reversed(options):
        wrapper = opt(wrapper)
    return wrapper


def _cluster(address, ca_file, cert, key):
    """The Dask cluster to use, checked before anything runs; None for local processes."""
    from bordersim.executors import Cluster

    tls = {"--tls-ca-file": ca_file, "--tls-cert": cert, "--tls-key": key}
    given = [name for name, value in tls.items() if value is not None]
    if address is None:
        if given:
            _fail(f"{given[0]}: applies to a Dask cluster; give its tls:// --scheduler")
        return None
    scheme = address.split("://", 1)[0] if "://" in address else "tcp"
    if given and scheme != "tls":
        _fail(f"--scheduler: the TLS options need a tls:// address, got {address}")
    if scheme == "tls" and given:
        if ca_file is None or cert is None:
            _fail("--tls-ca-file and --tls-cert: both are needed for a tls:// cluster "
                  "(--tls-key too unless the key is in the certificate file)")
        for name, value in tls.items():
            if value is not None and not Path(value).is_file():
                _fail(f"{name}: {value}: file not found")
    return Cluster(address, *(str(v) if v is not None else None for v in (ca_file, cert, key)))

engine_option = click.option(
    "--engine", type=click.Choice(["auto", "des"]), default="auto", show_default=True,
    help="auto: lanes that qualify (one class, first come first served, no secondary, "
         "quota, balking or diversion) are computed exactly without events, the rest by "
         "the event engine; des: the event engine everywhere. The results are the same.")


def posterior_options(fn):
    """--posterior CAL_DIR and --no-reference, for the commands that run replications."""
    fn = click.option("--no-reference", is_flag=True,
                      help="With --posterior: skip the second set of replications at the "
                           "scenario's own values that splits each interval into parameter "
                           "and Monte Carlo uncertainty (half the runs).")(fn)
    return click.option("--posterior", metavar="CAL_DIR", type=click.Path(path_type=Path),
                        help="A calibration folder: replication r runs posterior draw r "
                             "(the same draw for every scenario and point), so intervals "
                             "carry parameter uncertainty.")(fn)


def _posterior(folder: Path | None, loaded):
    """The per-replication scenarios of a posterior run, checked before anything runs."""
    if folder is None:
        return None
    from bordersim.calibrate.posterior import PosteriorScenarios, load_posterior

    return PosteriorScenarios(loaded, load_posterior(folder), loaded.scenario.seed)


def _with_run_sets(sets: list[str], replications: int | None, seed: int | None) -> list[str]:
    """``--set`` values, then --replications and --seed as ``--set`` values (so they win)."""
    sets = list(sets)
    if replications is not None:
        sets.append(f"replications={replications}")
    if seed is not None:
        sets.append(f"seed={seed}")
    return sets


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


@click.group(cls=Group, context_settings=CONTEXT)
@click.version_option(__version__, prog_name="bordersim")
def cli() -> None:
    """Simulate what a land-border closure does to queues, waits and money.

    Examples:

    \b
      bordersim run scenarios/closure-2017.yaml
      bordersim report results/closure-2017
      bordersim compare scenarios/baseline-2017.yaml scenarios/closure-2017.yaml -n 4

    Run `bordersim COMMAND --help` for a command's options and examples; docs/ in the
    repository describes the scenario format, the results files and the Python API.
    """
    _exit_cleanly_on_termination(click.get_current_context())


class Terminated(SystemExit):
    """SIGTERM or SIGHUP: unwinds like an exit, so that worker pools are stopped and
    half-written folders removed, then leaves with status 128 + the signal's number."""


def _exit_cleanly_on_termination(ctx: click.Context) -> None:
    """While a command runs (in the main thread), SIGTERM and SIGHUP raise Terminated
    instead of killing the process where it stands; the earlier handlers come back after."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return

    def handler(signum, frame):
        raise Terminated(128 + signum)

    for name in ("SIGTERM", "SIGHUP"):
        sig = getattr(signal, name, None)
        if sig is None:
            continue
        previous = signal.signal(sig, handler)
        ctx.call_on_close(lambda sig=sig, previous=previous: signal.signal(sig, previous))


@cli.command()
@click.argument("scenario", type=click.Path(dir_okay=True, path_type=Path))
@run_options()
@click.option("--out", "-o", type=click.Path(path_type=Path),
              help="Results folder (default: results/<scenario name>).")
@force_option
@scheduler_option
@posterior_options
@engine_option
@scenario_errors
def run(scenario, replications, seed, overrides, workers, as_json, quiet, out, force,
        scheduler, posterior, no_reference, engine):
    """Run a scenario's replications, print a table and write its results folder.

    Examples:

    \b
      bordersim run scenarios/closure-2017.yaml
      bordersim run scenarios/closure-2017.yaml -n 5 --seed 1 --out results/try
      bordersim run scenarios/example-mmc.yaml --set crossings.ak-tilek.stages.0.lanes.0.booths=12
      bordersim run scenarios/closure-2017.yaml --posterior calibration/closure-2017
    """
    from bordersim.console import Progress, summary_table
    from bordersim.experiment import run_experiment
    from bordersim.loading import load_scenario
    from bordersim.results import write_results

    if scheduler and workers:
        _fail("--workers sets local processes; with --scheduler the cluster's workers run")
    loaded = load_scenario(scenario, _with_run_sets(overrides, replications, seed))
    _warn(loaded, quiet or as_json)
    scn = loaded.scenario
    out = out or Path("results") / scn.name
    _check_out(out, "results", force)
    _check_fits(loaded, workers, scheduler)
    started = datetime.now()
    post = _posterior(posterior, loaded)
    runs = scn.replications * (2 if post is not None and not no_reference else 1)
    progress = Progress(runs, scn.name, enabled=not (quiet or as_json), unit="replications")
    progress.start()
    try:
        res = run_experiment(scn, workers=workers, progress=progress, scheduler=scheduler,
                             posterior=post, reference=not no_reference, engine=engine)
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
    """Load and check scenario files; exit 2 on the first that is wrong.

    Examples:

    \b
      bordersim validate scenarios/*.yaml
      bordersim validate scenarios/closure-2017.yaml --show
    """
    from bordersim.loading import dump_yaml, load_scenario

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

    Writes check.csv into RESULTS_DIR, replacing any earlier one. The observations format
    is described in docs/observations.md.

    Examples:

    \b
      bordersim run scenarios/closure-2017.yaml
      bordersim check results/closure-2017 data/observations-2017.csv
    """
    from bordersim.check import check, fitted_rows, write_check

    verdicts = check(results_dir, observations, fitted_rows(results_dir, observations))
    write_check(results_dir / "check.csv", verdicts)
    if as_json:
        click.echo(json.dumps([v.as_dict() for v in verdicts], indent=1))
        return
    click.echo(format_check(verdicts))


def format_check(verdicts) -> str:
    from bordersim.numbers import num

    posterior = any(v.fitted is not None for v in verdicts)
    rows = [("date", "crossing", "class", "metric", "observed", "simulated (95% CI)",
             "90% of runs", "", *(("fitted",) if posterior else ()))]
    for v in verdicts:
        o = v.obs
        sim, spread = "outside the run", ""
        if v.simulated is not None:
            iv = v.simulated
            if math.isnan(iv.mean):
                sim = "undefined"
            else:
                ci = "" if math.isnan(iv.ci_low) else f" ({num(iv.ci_low)}-{num(iv.ci_high)})"
                sim = f"{num(iv.mean)}{ci}"
            if not math.isnan(v.p05):
                spread = f"{num(v.p05)}-{num(v.p95)}"
        mark = {True: "inside", False: "OUTSIDE", None: "-"}[v.inside]
        when = o.when.strftime("%Y-%m-%d %H:%M")
        if o.until is not None:
            when += o.until.strftime("..%m-%d")
        rows.append((when, o.crossing, o.cls, o.metric, o.range_text(), sim, spread, mark,
                     *((("yes" if v.fitted else "no"),) if posterior else ())))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append("")
    lines += check_counts(verdicts)
    return "\n".join(lines)


def check_counts(verdicts) -> list[str]:
    """How many observed figures the simulation reproduced: the simulated mean inside the
    observed range, and the observed range meeting the 90% interval of the runs (5th to
    95th percentile); fitted and out of sample apart when a calibration says which."""
    def counts(vs, what):
        judged = [v for v in vs if v.inside is not None]
        if not judged:
            return []
        inside = sum(v.inside for v in judged)
        line = f"{inside} of {len(judged)} {what} inside their range ({inside / len(judged):.0%})"
        spread = [v for v in judged if v.inside_90 is not None]
        if spread:
            k = sum(v.inside_90 for v in spread)
            line += (f"; {k} of {len(spread)} meet the 90% interval of the runs "
                     f"({k / len(spread):.0%})")
        return [line]

    if any(v.fitted is not None for v in verdicts):
        return (counts([v for v in verdicts if v.fitted], "fitted figures")
                + counts([v for v in verdicts if v.fitted is False],
                         "figures not fitted (out of sample)")
                + counts(verdicts, "observed figures"))
    return counts(verdicts, "observed figures")


@cli.command()
@click.option("--markdown", is_flag=True,
              help="Print the reference page of the scenario format (docs/reference.md) "
                   "instead of the schema.")
def schema(markdown):
    """Print the JSON Schema of a scenario file, for editors and validators.

    Every field has a description with its unit; limits are standard JSON Schema keywords.

    Examples:

    \b
      bordersim schema > scenario.schema.json
      bordersim schema --markdown > docs/reference.md
    """
    from bordersim.schema import reference_markdown, scenario_json_schema

    if markdown:
        click.echo(reference_markdown(), nl=False)
    else:
        click.echo(json.dumps(scenario_json_schema(), indent=2, ensure_ascii=False))


@cli.command()
@click.option("--replications", "-n", type=click.IntRange(min=2), default=20, show_default=True)
@click.option("--seed", type=click.IntRange(min=0), default=7, show_default=True)
@click.option("--workers", "-j", type=click.IntRange(min=1),
              help="Parallel processes (default: the number of CPUs).")
@click.option("--level", type=click.FloatRange(0.5, 0.9999), default=0.99, show_default=True,
              help="Confidence level of the intervals the exact values must fall in.")
def verify(replications, seed, workers, level):
    """Check simulated waits against exact queueing theory; exit 1 if one falls outside.

    Examples:

    \b
      bordersim verify
      bordersim verify -n 40 --level 0.95
    """
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
@posterior_options
@engine_option
@scenario_errors
def compare(base, others, replications, seed, overrides, workers, as_json, quiet, out,
            metrics, force, scheduler, posterior, no_reference, engine):
    """Differences of each OTHER from BASE, paired by replication (common random numbers).

    BASE and OTHER are scenario files (run with one seed and replication count: the
    options', else BASE's) or results folders (paired when seeds and replications match,
    otherwise a Welch interval). The table leads with the total cost.

    Examples:

    \b
      bordersim compare scenarios/baseline-2017.yaml scenarios/closure-2017.yaml -n 4
      bordersim compare scenarios/closure-2017.yaml scenarios/more-bays-2017.yaml \\
        -m wait_mean_h -m reneged
      bordersim compare results/baseline-2017 results/closure-2017
    """
    from bordersim.compare import (
        comparison_notes,
        comparison_table,
        plan_compare,
        rows_as_dicts,
        write_compare,
    )
    from bordersim.console import Progress
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
        post = _posterior(posterior, inp.loaded)
        runs = scn.replications * (2 if post is not None and not no_reference else 1)
        progress = Progress(runs, inp.label, enabled=not (quiet or as_json),
                            unit="replications")
        progress.start()
        try:
            results[inp.label] = run_experiment(scn, workers=workers, progress=progress,
                                                scheduler=scheduler, posterior=post,
                                                reference=not no_reference, engine=engine)
        finally:
            progress.close()
    finished = datetime.now()
    folder, comparisons = write_compare(out, inputs, results, ["bordersim", *sys.argv[1:]],
                                        started, finished, list(metrics) or None,
                                        force=force)
    if as_json:
        click.echo(json.dumps(rows_as_dicts(comparisons), indent=1))
        return
    if quiet:
        return
    for comp in comparisons:
        click.echo(f"\n{comp.scenario} - {comp.base}: {comp.why}")
        click.echo(comparison_table(comp, list(metrics) or None, inputs[0].currency))
        for note in comparison_notes(comp):
            click.echo(note)
    click.echo(f"\ncompare folder: {safe(folder)}")


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
@click.option("--posterior", metavar="CAL_DIR", type=click.Path(path_type=Path),
              help="A calibration folder: replication r of every point runs posterior draw "
                   "r, with the point's values on top.")
@engine_option
@scenario_errors
def sweep(scenario, varies, design, points, spec_file, metric_names, replications, seed,
          overrides, workers, as_json, quiet, scheduler, resume, force, out, posterior, engine):
    """Run a scenario at every point of a parameter sweep, with common random numbers.

    Examples:

    \b
      bordersim sweep scenarios/example-mmc.yaml -n 4 \\
        --vary crossings.ak-tilek.stages.0.lanes.0.booths=10:12:1
      bordersim sweep scenarios/example-mmc.yaml --points 12 \\
        --vary crossings.ak-tilek.stages.0.lanes.0.booths=9..12 \\
        --vary crossings.ak-tilek.demand.truck_loaded=380..460
      bordersim sweep --spec docs/examples/sweep-mmc.yaml
    """
    from bordersim.console import Progress, sweep_table
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
    if posterior is not None:
        from bordersim.calibrate.posterior import load_posterior, sweep_with_posterior

        plan = sweep_with_posterior(plan, load_posterior(posterior))
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
    progress = Progress(plan.n_runs, name, enabled=not (quiet or as_json), unit="runs")
    try:
        with executor:
            outcome = run_sweep(plan, out, executor, resume=resume, force=force,
                                progress=progress, on_start=progress.start,
                                command=["bordersim", *sys.argv[1:]], engine=engine)
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
        econ = plan.loaded.scenario.economics
        click.echo(sweep_table(read_summary(outcome.folder), plan.paths, list(plan.metrics),
                               econ.currency if econ else None))
        click.echo(f"\nsweep folder: {safe(outcome.folder)}")


class _CalibrationProgress:
    """Generations and candidates on stderr: a line that updates on a terminal, a line
    every few seconds elsewhere; nothing when quiet."""

    def __init__(self, enabled: bool):
        import time

        self.enabled = enabled
        self.tty = sys.stderr.isatty()
        self.clock = time.monotonic
        self.t0 = self.last = self.clock()
        self.pending = False

    def _line(self, text: str, final: bool = False) -> None:
        if not self.enabled:
            return
        now = self.clock()
        if self.tty:
            sys.stderr.write("\r" + text.ljust(79)[:120] + ("\n" if final else ""))
            sys.stderr.flush()
            self.pending = not final
        elif final or now - self.last >= 5:
            click.echo(text, err=True)
            self.last = now

    def candidates(self, t: int, evaluated: int, accepted: int, wanted: int) -> None:
        if t != getattr(self, "t_gen", None):
            self.t_gen, self.gen_start = t, self.clock()
        rate = evaluated / max(self.clock() - self.gen_start, 1e-9)
        self._line(f"generation {t}: {accepted}/{wanted} accepted of {evaluated} simulated "
                   f"({rate:.2f} simulations/s)")

    def generation(self, g) -> None:
        self._line(f"generation {g.t}: tolerance {g.epsilon:.4g}, {g.accepted} accepted of "
                   f"{g.simulations} simulated ({g.acceptance:.0%}), ESS {g.ess:.0f}",
                   final=True)

    def predictive(self, done: int, n: int) -> None:
        self._line(f"posterior predictive: {done}/{n} simulations", final=done == n)


@cli.command()
@click.argument("scenario", required=False, type=click.Path(dir_okay=True, path_type=Path))
@click.argument("observations", required=False, type=click.Path(path_type=Path))
@click.option("--vary", "varies", multiple=True, metavar="PATH=lo..hi",
              help="An estimated parameter and its prior range (uniform), e.g. "
                   "crossings.ak-tilek.demand.truck_loaded=250..400. Repeatable.")
@click.option("--spec", "spec_file", type=click.Path(path_type=Path),
              help="A calibration file with scenario, observations, priors (with sources "
                   "and scales) and settings; options given here override it.")
@click.option("--fit-until", metavar="DATE",
              help="Fit only the observations up to DATE; the later ones are predicted.")
@click.option("--population", type=click.IntRange(min=2),
              help="Parameter sets per generation (default 200).")
@click.option("--generations", type=click.IntRange(min=1),
              help="Generations at most (default 8).")
@click.option("--budget", type=click.IntRange(min=1),
              help="Simulations at most (default 4000); a generation expected to pass it "
                   "is not started.")
@click.option("--predictive", type=click.IntRange(min=0),
              help="Posterior predictive simulations (default 100).")
@click.option("--seed", type=click.IntRange(min=0), help="Seed (default: the scenario's).")
@click.option("--set", "overrides", multiple=True, metavar="PATH=VALUE",
              help="Override one scenario value by dotted path. Repeatable.")
@click.option("--workers", "-j", type=click.IntRange(min=1),
              help="Parallel processes (default: the number of CPUs).")
@scheduler_option
@click.option("--resume", is_flag=True, help="Carry on an interrupted calibration.")
@click.option("--force", is_flag=True,
              help="Replace an existing calibration folder (kept until the new one is done).")
@click.option("--out", "-o", type=click.Path(path_type=Path),
              help="Calibration folder (default: results/<scenario name>-calibration).")
@click.option("--json", "as_json", is_flag=True, help="Print what ran as JSON.")
@click.option("--quiet", "-q", is_flag=True, help="Print nothing but errors.")
@engine_option
@scenario_errors
def calibrate(scenario, observations, varies, spec_file, fit_until, population, generations,
              budget, predictive, seed, overrides, workers, scheduler, resume, force, out,
              as_json, quiet, engine):
    """Fit estimated parameters to observed ranges (ABC-SMC) and write a calibration folder.

    The posterior sample it writes is used by `run`, `compare` and `sweep` through
    --posterior, so that their intervals carry parameter uncertainty.

    Examples:

    \b
      bordersim calibrate scenarios/closure-2017.yaml data/observations-2017.csv \\
        --vary crossings.ak-tilek.demand.truck_loaded=250..400 --budget 400
    """
    try:
        import pyabc  # noqa: F401
    except ImportError:
        _fail("calibrate needs the pyabc library: pip install 'bordersim[calibrate]'")
    from bordersim.calibrate.driver import AbcSettings
    from bordersim.calibrate.folder import run_calibration
    from bordersim.calibrate.priors import prior_from_spec, prior_from_vary
    from bordersim.calibrate.problem import CalibrationProblem
    from bordersim.calibrate.spec import read_calibration_spec
    from bordersim.distributions import to_datetime
    from bordersim.executors import make_executor
    from bordersim.loading import load_scenario
    from bordersim.observations import read_observations

    spec = read_calibration_spec(spec_file) if spec_file else {}
    if spec_file and scenario is not None and "scenario" in spec:
        _fail("give the scenario in the --spec file or as an argument, not both")
    if scheduler and workers:
        _fail("--workers sets local processes; with --scheduler the cluster's workers run")
    scenario = scenario or spec.get("scenario")
    observations = observations or spec.get("observations")
    if scenario is None or observations is None:
        _fail("expected a SCENARIO file and an OBSERVATIONS file (or --spec calibration.yaml)")
    seed = seed if seed is not None else spec.get("seed")
    sets = _with_run_sets([*spec.get("set", []), *overrides], None, seed)
    loaded = load_scenario(scenario, sets)
    scn = loaded.scenario
    priors = {}
    for path, entry in spec.get("priors", {}).items():
        pr = prior_from_spec(path, entry, scn.start, spec["source"])
        priors[pr.path] = pr
    for text in varies:
        pr = prior_from_vary(text, scn.start)
        priors[pr.path] = pr
    until_text = fit_until or spec.get("fit_until")
    until = None
    if until_text:
        try:
            until = to_datetime(until_text)
        except ValueError as e:
            _fail(f"--fit-until: {e}")
        if "T" not in str(until_text):
            until = until.replace(hour=23, minute=59)
    obs = read_observations(observations)
    passengers = [prior_from_spec(path, entry, scn.start, spec["source"])
                  for path, entry in spec.get("uncertain", {}).items()
                  if path not in priors]
    problem = CalibrationProblem(loaded, list(priors.values()), obs, str(observations), until,
                                 engine, passengers)
    settings = AbcSettings(
        population=population or spec.get("population", 200),
        generations=generations or spec.get("generations", 8),
        budget=budget or spec.get("budget", 4000),
        min_acceptance=spec.get("min_acceptance", 0.02),
        seed=scn.seed)
    n_pred = predictive if predictive is not None else spec.get("predictive", 100)
    out = out or spec.get("out") or Path("results") / f"{scn.name}-calibration"
    _check_out(out, "calibration", force=True)   # run_calibration decides resume or force
    progress = _CalibrationProgress(enabled=not (quiet or as_json))
    executor = make_executor(workers, scheduler)
    if not (quiet or as_json):
        fitted = sum(problem.fitted)
        click.echo(f"{scn.name}: {len(problem.priors)} parameters, {fitted} of "
                   f"{len(problem.used)} observations fitted, population "
                   f"{settings.population}, at most {settings.generations} generations and "
                   f"{settings.budget} simulations, seed {settings.seed}, {executor.name}",
                   err=True)
    with executor:
        outcome = run_calibration(problem, settings, Path(out), executor, predictive=n_pred,
                                  resume=resume, force=force,
                                  command=["bordersim", *sys.argv[1:]],
                                  progress=progress.candidates,
                                  on_generation=progress.generation,
                                  on_predictive=progress.predictive)
    if as_json:
        last = outcome.generations[-1]
        click.echo(json.dumps({"folder": str(outcome.folder),
                               "generations": len(outcome.generations),
                               "simulations": outcome.simulations,
                               "final_epsilon": last.epsilon,
                               "final_acceptance": last.acceptance,
                               "wall_seconds": round(outcome.wall_s, 3)}, indent=1))
    elif not quiet:
        click.echo(format_calibration(outcome.folder))


def format_calibration(folder: Path) -> str:
    """The posterior of each parameter (median and 90% interval) and the predictive check."""
    import csv as _csv

    manifest = json.loads((folder / "manifest.json").read_text())
    with open(folder / "parameters.csv", newline="") as f:
        params = list(_csv.DictReader(f))
    lines = [f"\n{manifest['generations']} generations, {manifest['simulations']} simulations, "
             f"final tolerance {manifest['final_epsilon']:.4g}, "
             f"{manifest['wall_seconds']:.0f}s"]
    if manifest.get("stopped"):
        lines.append(f"stopped: {manifest['stopped']}")
    lines.append("")
    rows = [("parameter", "prior", "posterior median", "90% interval")]
    for p in params:
        g = {k: f"{float(p[k]):.4g}" for k in ("prior_low", "prior_high", "median", "p05",
                                               "p95")}
        rows.append((p["path"], f"{g['prior_low']}..{g['prior_high']}", g["median"],
                     f"{g['p05']}-{g['p95']}"))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
              for r in rows]
    with open(folder / "predictive.csv", newline="") as f:
        pred = list(_csv.DictReader(f))
    lines.append("")
    for label, keep in (("fitted", "true"), ("not fitted (out of sample)", "false")):
        vs = [r for r in pred if r["fitted"] == keep]
        if vs:
            k = sum(r["inside_range"] == "true" for r in vs)
            k90 = sum(r["inside_90"] == "true" for r in vs)
            lines.append(f"{label}: {k} of {len(vs)} predictive means inside the observed "
                         f"range, {k90} of {len(vs)} ranges meet the 90% predictive interval")
    lines.append(f"\ncalibration folder: {folder}")
    return "\n".join(lines)


@cli.command()
@click.argument("results_dir", type=click.Path(path_type=Path))
@click.option("--observations", type=click.Path(path_type=Path),
              help="Observations CSV (as for `check`): drawn on the queue and flow plots, and "
                   "set against the simulation in a figure of their own.")
@click.option("--format", "fmt", type=click.Choice(["png", "svg", "both"]), default="png",
              show_default=True,
              help="Figure files to write: PNG, SVG (scalable, text stays text) or both (the "
                   "page shows the PNG and links the SVG).")
@click.option("--self-contained", "embed", is_flag=True,
              help="Embed the figures in report.html, so the page is one file that can be "
                   "mailed on its own (the figure files are written too).")
@click.option("--crossing", "crossings", multiple=True, metavar="NAME",
              help="Sweep folders: draw only this crossing (repeatable; 'all' for the totals). "
                   "Default: every crossing and class.")
@click.option("--metric", "-m", "metrics", multiple=True, metavar="NAME",
              help="Compare and sweep folders: the metrics to draw after the total cost "
                   "(repeatable). Default: those asked for when the folder was written.")
@scenario_errors
def report(results_dir, observations, fmt, embed, crossings, metrics):
    """Write report.html and figures/ into a results, compare or sweep folder.

    Examples:

    \b
      bordersim report results/closure-2017
      bordersim report results/closure-2017 --observations data/observations-2017.csv
      bordersim report results/compare-baseline-2017 --format both --self-contained
    """
    from bordersim.report import Output, write_report

    path = write_report(results_dir, observations, Output(fmt, embed),
                        crossings=list(crossings) or None, metrics=list(metrics) or None)
    click.echo(f"report: {safe(path)}")


def main() -> None:
    cli(prog_name="bordersim")
