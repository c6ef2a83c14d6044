"""The report of a compare folder, cost first: what each scenario costs against BASE, then
the differences asked for as forest plots with their numbers, queues side by side, and each
scenario's own report one link away."""

from __future__ import annotations

import csv
import json
import math
from datetime import timedelta
from pathlib import Path

import numpy as np

from bordersim.compare import COMPARE_FILE, INDEX_FILE, shown_keys, shown_metrics
from bordersim.labels import crossing_name
from bordersim.loading import ScenarioError
from bordersim.metrics import label as metric_label
from bordersim.metrics import unit as metric_unit
from bordersim.numbers import money, money_difference, with_interval
from bordersim.report.data import ResultsData, band, crossing_label, load_results
from bordersim.report.figures import (
    date_axis,
    hatch_warmup,
    human,
    km_axis,
    legend_below,
    literal_text,
    subplots,
)
from bordersim.report.html import REPORT_FILE, Figures, Output, esc, num, page, table, write_page
from bordersim.report.results import write_results_report
from bordersim.report.summary import Value
from bordersim.scenario import ALL

__all__ = ["write_compare_report", "forest"]

_SCEN_COLORS = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]


def _read_rows(folder: Path) -> list[dict]:
    with open(folder / COMPARE_FILE, newline="") as f:
        return list(csv.DictReader(f))


def _f(x: str) -> float:
    return float(x) if x not in ("", None) else math.nan


def _index(folder: Path) -> dict:
    p = folder / INDEX_FILE
    if p.is_file():
        return json.loads(p.read_text())
    # a compare folder without its index: the scenarios are its results folders
    rows = _read_rows(folder)
    others = list(dict.fromkeys(r["scenario"] for r in rows))
    subs = [d.name for d in sorted(folder.iterdir()) if (d / "manifest.json").is_file()]
    base = next((s for s in subs if s not in others), subs[0] if subs else "")
    return {"base": base, "scenarios": [{"label": s} for s in [base, *others]],
            "comparisons": [{"scenario": s, "paired": None, "how": ""} for s in others]}


def forest(rows: list[dict], metric: str, base: str, others: list[str], how: dict,
           currency: str | None, scenario=None):
    """Differences from BASE with their 95% intervals, one row per crossing × class (named
    by the crossings' labels when ``scenario`` is given); the numbers written beside."""
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FuncFormatter


    sel = [r for r in rows if r["metric"] == metric and not math.isnan(_f(r["diff_mean"]))]
    keys = shown_keys(list(dict.fromkeys((r["crossing"], r["class"]) for r in sel)))
    if not keys:
        return None
    by = {(r["scenario"], r["crossing"], r["class"]): r for r in sel}
    n = len(others)
    fig, ax = subplots(figsize=(10, 1.5 + 0.32 * len(keys) * max(1, 0.75 * n)))
    step = 0.7 / max(n, 1)
    texts = []
    for i, s in enumerate(others):
        color = _SCEN_COLORS[i % len(_SCEN_COLORS)]
        for y, key in enumerate(keys):
            r = by.get((s, *key))
            if r is None:
                continue
            yy = y + (i - (n - 1) / 2) * step
            m, lo, hi = _f(r["diff_mean"]), _f(r["diff_ci_low"]), _f(r["diff_ci_high"])
            has_ci = not math.isnan(lo)
            excl = has_ci and not lo <= 0 <= hi
            ax.errorbar([m], [yy], xerr=[[m - lo], [hi - m]] if has_ci else None, fmt="o",
                        color=color, mfc=color if excl else "white", ms=5, capsize=2.5,
                        lw=1.2)
            ci = f" [{human(lo)}, {human(hi)}]" if has_ci else ""
            texts.append((yy, f"{'+' if m > 0 else ''}{human(m)}{ci}", color))
    ax.axvline(0, color="black", lw=0.8)
    for y in range(1, len(keys)):
        if keys[y][0] != keys[y - 1][0]:         # a rule between crossings
            ax.axhline(y - 0.5, color="#cccccc", lw=0.8)
    ax.set_yticks(range(len(keys)), [f"{crossing_name(scenario, c)} · "
                                     f"{'all classes' if k == ALL else k}" for c, k in keys])
    ax.set_ylim(len(keys) - 0.5, -0.5)
    for yy, text, color in texts:
        ax.text(1.01, yy, text, transform=ax.get_yaxis_transform(), va="center", fontsize=7.5,
                color=color)
    ax.xaxis.set_major_formatter(FuncFormatter(human))
    unit = metric_unit(metric, currency)
    ax.set_xlabel(f"difference in {metric_label(metric, currency, with_unit=False)}"
                  + (f", {unit}" if unit else "") + f" (scenario − {base})")
    fig.suptitle(f"{metric_label(metric, currency)}: difference from {base}, 95% interval "
                 "(filled: excludes zero)", x=0.01, ha="left", fontsize=11)
    handles = [Line2D([], [], color=_SCEN_COLORS[i % len(_SCEN_COLORS)], marker="o", lw=1.2,
                      label=f"{s} − {base} ({'paired t' if how.get(s) else 'Welch'} interval)")
               for i, s in enumerate(others)]
    return legend_below(fig, handles, top=1 - 0.45 / fig.get_figheight())


def queues_side_by_side(runs: dict[str, ResultsData], crossing: str):
    """Units waiting at one crossing in every scenario: one panel per class, a line each."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch


    present = {lab: d for lab, d in runs.items() if crossing in d.scenario.crossings}
    classes = list(dict.fromkeys(k for d in present.values() for k in d.classes_at(crossing)))
    if not classes:
        return None
    first = next(iter(present.values()))
    start = min(d.scenario.start for d in present.values())
    end = max(d.scenario.start + timedelta(hours=d.scenario.duration) for d in present.values())
    fig, axes = subplots(len(classes), 1, figsize=(10, 1.8 + 2.2 * len(classes)),
                             sharex=True, squeeze=False)
    for ax, k in zip(axes[:, 0], classes, strict=True):
        top = 1.0
        for i, d in enumerate(present.values()):
            if (crossing, k) not in d.groups:
                continue
            j = d.groups.index((crossing, k))
            b = band(d.queue[:, j, :])
            t = d.when(np.arange(d.n_hours))
            color = _SCEN_COLORS[(i - 1) % len(_SCEN_COLORS)] if i else "#444444"
            ax.fill_between(t, b.low, b.high, color=color, alpha=0.2, lw=0)
            ax.plot(t, b.mean, color=color, lw=1.1)
            top = max(top, float(b.high.max()))
        hatch_warmup(ax, first.scenario)
        ax.set_ylim(0, top * 1.1)
        ax.set_ylabel("units waiting")
        km_axis(ax, first.scenario.classes[k].length_m if k in first.scenario.classes else 0)
        ax.set_title(k, loc="left")
        date_axis(ax, start, end)
    for ax in axes[:-1, 0]:
        ax.set_xlabel("")
    fig.suptitle(f"Queue at {crossing_label(first.scenario, crossing)} in each scenario "
                 "(mean with 95% band)", x=0.01, ha="left")
    handles = [Line2D([], [], lw=1.5, label=lab,
                      color=_SCEN_COLORS[(i - 1) % len(_SCEN_COLORS)] if i else "#444444")
               for i, lab in enumerate(present)]
    if first.scenario.warmup > 0:
        handles.append(Patch(facecolor="white", edgecolor="#bbbbbb", hatch="///",
                             label="warm-up (not in statistics)"))
    return legend_below(fig, handles)


def _scenario_table(index: dict, runs: dict[str, ResultsData]) -> str:
    how = {c["scenario"]: c.get("how", "") for c in index.get("comparisons", [])}
    rows = []
    for s in index["scenarios"]:
        lab = s["label"]
        d = runs[lab]
        scn = d.scenario
        role = "BASE" if lab == index["base"] else esc(how.get(lab, ""))
        desc = esc(" ".join(scn.description.split())) or "–"
        rows.append([f"<a href='{esc(lab)}/{REPORT_FILE}'>{esc(lab)}</a>", desc,
                     str(len(scn.policy)), str(d.n_reps), esc(d.manifest.get("seed")), role])
    return table(["scenario (its own report)", "what it is", "phases", "replications", "seed",
                  "compared how"], rows, numeric={2, 3, 4})


def _diff(rows: list[dict]) -> dict:
    return {(r["scenario"], r["crossing"], r["class"], r["metric"]): r for r in rows}


def _summary(index: dict, rows: list[dict], runs: dict[str, ResultsData], metrics: list[str],
             currency: str | None) -> str:
    """What each scenario costs against BASE, and the asked-for metrics over everything, in
    sentences and one table."""
    base = index["base"]
    by = _diff(rows)
    paired = {c["scenario"]: c.get("paired") for c in index.get("comparisons", [])}
    sentences = []
    for s in [x["label"] for x in index["scenarios"] if x["label"] != base]:
        r = by.get((s, ALL, ALL, "cost_total"))
        if r is None or currency is None:
            continue
        d, lo, hi = _f(r["diff_mean"]), _f(r["diff_ci_low"]), _f(r["diff_ci_high"])
        word = "more" if d > 0 else "less"
        how = "paired by replication" if paired.get(s) else "Welch interval"
        ci = "" if math.isnan(lo) else \
            money_difference(d, lo, hi).split("(", 1)[1].rstrip(")") + ", "
        unclear = "" if math.isnan(lo) or not lo <= 0 <= hi else \
            " The interval includes zero: no clear difference at this many replications."
        sentences.append(
            f"<b>{esc(s)}</b> costs <b>{esc(money(abs(d), currency))} {word}</b> than "
            f"{esc(base)} ({esc(ci)}{how}): {esc(money(_f(r['mean']), currency))} against "
            f"{esc(money(_f(r['base_mean']), currency))}.{unclear}")
    shown = [m for m in metrics if any(k[3] == m for k in by)]
    header = ["scenario", *(esc(metric_label(m, currency)) for m in shown)]
    out_rows = []
    for x in index["scenarios"]:
        s = x["label"]
        cells = [esc(s) + (" (BASE)" if s == base else "")]
        for m in shown:
            if s == base:
                v = Value(runs[s].summary.get((ALL, ALL, m)))
                cells.append(esc(with_interval(v.mean, v.low, v.high, currency,
                                               money_value=m == "cost_total")))
                continue
            r = by.get((s, ALL, ALL, m))
            if r is None:
                cells.append("–")
                continue
            d, lo, hi = _f(r["diff_mean"]), _f(r["diff_ci_low"]), _f(r["diff_ci_high"])
            diff = (money_difference(d, lo, hi) if m == "cost_total" else
                    f"{'+' if d > 0 else ''}{num(d)} ({num(lo)} to {num(hi)})")
            mean = money(_f(r["mean"]), currency) if m == "cost_total" else num(_f(r["mean"]))
            cells.append(f"{esc(mean)}<br><span class='note'>{esc(diff)}</span>")
        out_rows.append(cells)
    text = "".join(f"<p>{x}</p>" for x in sentences)
    return ("<section id='summary'><h2>Summary</h2>" + text
            + "<div class='wide'>"
            + table(header, out_rows, numeric=set(range(1, 1 + len(shown))),
                    cls="numbers wrap") + "</div>"
            + "<p class='note'>Over every crossing and class. BASE: mean (95% CI); each other "
            "scenario: mean, and below it the difference from BASE (95% CI). Per crossing and "
            "class in the figures below.</p></section>")


def _diff_table(rows: list[dict], base: str, metrics: list[str], scenario,
                currency: str | None) -> str:
    keys = shown_keys(list(dict.fromkeys((r["crossing"], r["class"]) for r in rows)))
    show = [m for m in metrics if any(r["metric"] == m for r in rows)]
    by = _diff(rows)
    out = []
    for m in show:
        for s in dict.fromkeys(r["scenario"] for r in rows):
            for c, k in keys:
                r = by.get((s, c, k, m))
                if r is None:
                    continue
                lo, hi = _f(r["diff_ci_low"]), _f(r["diff_ci_high"])
                excl = "–" if math.isnan(lo) else (
                    "<span class='yes'>yes</span>" if not lo <= 0 <= hi else
                    "<span class='no'>no</span>")
                out.append([esc(metric_label(m, currency)), esc(s),
                            esc(crossing_name(scenario, c)), esc(k),
                            num(_f(r["base_mean"])), num(_f(r["mean"])),
                            num(_f(r["diff_mean"])), f"{num(lo)} to {num(hi)}", excl,
                            "paired" if r["paired"] == "true" else "Welch"])
    return ("<details open><summary>The numbers behind the plots (every metric: "
            f"{COMPARE_FILE})</summary>"
            + table(["metric", "scenario", "crossing", "class", esc(base), "scenario",
                     "difference", "95% interval", "excludes 0", "interval"], out,
                    numeric={4, 5, 6, 7}, cls="numbers") + "</details>")


@literal_text
def write_compare_report(folder: Path, observations: Path | None = None,
                         output: Output | None = None, metrics: list[str] | None = None
                         ) -> Path:
    folder = Path(folder)
    index = _index(folder)
    rows = _read_rows(folder)
    runs: dict[str, ResultsData] = {}
    for s in index["scenarios"]:
        sub = folder / s["label"]
        if not (sub / "manifest.json").is_file():
            raise ScenarioError(str(folder), [(s["label"], "results folder of this scenario "
                                                          "is missing from the compare folder")])
        runs[s["label"]] = load_results(sub)
        write_results_report(sub, observations, output)
    base = index["base"]
    others = [s["label"] for s in index["scenarios"] if s["label"] != base]
    how = {c["scenario"]: c.get("paired") for c in index.get("comparisons", [])}
    scn = runs[base].scenario
    cur = scn.economics.currency if scn.economics else None
    metrics = (shown_metrics(metrics, costs=cur is not None) if metrics else
               index.get("metrics") or shown_metrics(None, costs=cur is not None))
    figs = Figures(output or Output())
    forests = []
    for m in metrics:
        f = figs.add(f"diff_{m}", forest(rows, m, base, others, how, cur, scn),
                     f"Forest plot of the difference in {metric_label(m, cur)} from {base}, "
                     "per crossing and class, with 95% intervals",
                     f"Difference from {esc(base)} in <b>{esc(metric_label(m, cur))}</b> "
                     f"(<code>{esc(m)}</code>), per crossing and class; bar: 95% interval; "
                     "numbers on the right: difference [interval].")
        if f is not None:
            forests.append(f)
    crossings = list(dict.fromkeys(c for d in runs.values() for c in d.scenario.crossings))
    queues = []
    for c in crossings:
        label = crossing_name(scn, c) if c in scn.crossings else c
        f = figs.add(f"queues_{c}", queues_side_by_side(runs, c),
                     f"Units waiting at {label} over time in each scenario, per class",
                     f"Units waiting at <b>{esc(label)}</b>, each scenario a line (mean with "
                     "95% band); km on the right.")
        if f is not None:
            queues.append(f)
    figs.save(folder)
    notes = []
    for c in index.get("comparisons", []):
        skipped = [f"{a}/{b}" for a, b in c.get("only_in_base", []) + c.get("only_in_scenario",
                                                                             [])]
        notes.append(f"<li><b>{esc(c['scenario'])}</b>: {esc(c.get('how', ''))}"
                     + (f"; skipped (in one scenario only): {esc(', '.join(skipped))}"
                        if skipped else "") + "</li>")
    body = "\n".join([
        f"<h1>{esc(', '.join(others))} compared with {esc(base)}</h1>",
        _summary(index, rows, runs, metrics, cur),
        "<h2 id='differences'>Differences from the base, crossing by crossing</h2>",
        *[figs.html(f) for f in forests],
        _diff_table(rows, base, metrics, scn, cur),
        "<h2 id='queues'>Queues side by side</h2>", *[figs.html(f) for f in queues],
        "<h2 id='scenarios'>Scenarios</h2>", _scenario_table(index, runs),
        "<p class='lede'>Each difference is scenario minus base. Where the runs share seeds "
        "and replication counts, replication <i>r</i> of each scenario saw the same "
        "arriving units as replication <i>r</i> of the base (common random numbers), and the "
        "interval is a paired t-interval of the per-replication differences; otherwise a "
        "Welch interval.</p>",
        f"<ul>{''.join(notes)}</ul>",
        "<p class='note'>Each scenario's own report (summary, costs, queues, waits, policy "
        "timeline) is linked from the table above.</p>",
    ])
    return write_page(folder, page(f"bordersim comparison: {', '.join(others)} vs. {base}",
                                   body))
