"""The report of a compare folder: differences from BASE as forest plots, queues side by side,
and each scenario's own report one link away."""

from __future__ import annotations

import csv
import json
import math
from datetime import timedelta
from pathlib import Path

import numpy as np

from bordersim.compare import COMPARE_FILE, INDEX_FILE, shown_keys
from bordersim.loading import ScenarioError
from bordersim.report import (
    REPORT_FILE,
    Figure,
    esc,
    num,
    page,
    save_figures,
    write_page,
    write_results_report,
)
from bordersim.report_data import ResultsData, band, crossing_label, load_results
from bordersim.report_figures import literal_text

__all__ = ["write_compare_report", "FOREST_METRICS"]

# metric -> what its axis says
FOREST_METRICS = {
    "wait_mean_h": "difference in mean wait of crossed units, hours",
    "queue_mean": "difference in mean units waiting",
    "queue_max_km": "difference in longest queue, km",
    "crossed": "difference in units crossed (after the warm-up)",
    "cost_total": "difference in cost of waiting, {cur}",
}
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
           currency: str):
    """Differences from BASE with their 95% intervals, one row per crossing × class."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FuncFormatter

    from bordersim.report_figures import human, legend_below

    sel = [r for r in rows if r["metric"] == metric and not math.isnan(_f(r["diff_mean"]))]
    keys = shown_keys(list(dict.fromkeys((r["crossing"], r["class"]) for r in sel)))
    if not keys:
        return None
    by = {(r["scenario"], r["crossing"], r["class"]): r for r in sel}
    n = len(others)
    fig, ax = plt.subplots(figsize=(10, 1.5 + 0.32 * len(keys) * max(1, 0.75 * n)))
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
    ax.set_yticks(range(len(keys)), [f"{c} · {k}" for c, k in keys])
    ax.set_ylim(len(keys) - 0.5, -0.5)
    for yy, text, color in texts:
        ax.text(1.01, yy, text, transform=ax.get_yaxis_transform(), va="center", fontsize=7.5,
                color=color)
    ax.xaxis.set_major_formatter(FuncFormatter(human))
    ax.set_xlabel(FOREST_METRICS[metric].format(cur=currency or "money") + f" (vs. {base})")
    ax.set_title(f"{metric}: difference from {base}, 95% interval (filled: excludes zero)",
                 loc="left")
    handles = [Line2D([], [], color=_SCEN_COLORS[i % len(_SCEN_COLORS)], marker="o", lw=1.2,
                      label=f"{s} − {base} ({'paired t' if how.get(s) else 'Welch'} interval)")
               for i, s in enumerate(others)]
    return legend_below(fig, handles, top=1.0)


def queues_side_by_side(runs: dict[str, ResultsData], crossing: str):
    """Units waiting at one crossing in every scenario: one panel per class, a line each."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    from bordersim.report_figures import date_axis, hatch_warmup, km_axis, legend_below

    present = {lab: d for lab, d in runs.items() if crossing in d.scenario.crossings}
    classes = list(dict.fromkeys(k for d in present.values() for k in d.classes_at(crossing)))
    if not classes:
        return None
    first = next(iter(present.values()))
    start = min(d.scenario.start for d in present.values())
    end = max(d.scenario.start + timedelta(hours=d.scenario.duration) for d in present.values())
    fig, axes = plt.subplots(len(classes), 1, figsize=(10, 1.8 + 2.2 * len(classes)),
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
        rows.append(f"<tr><td><a href='{esc(lab)}/{REPORT_FILE}'>{esc(lab)}</a></td>"
                    f"<td>{desc}</td><td class='n'>{len(scn.policy)}</td>"
                    f"<td class='n'>{d.n_reps}</td><td class='n'>{esc(d.manifest.get('seed'))}"
                    f"</td><td>{role}</td></tr>")
    return ("<table><tr><th>scenario (its own report)</th><th>what it is</th>"
            "<th class='n'>phases</th><th class='n'>replications</th><th class='n'>seed</th>"
            f"<th>compared how</th></tr>{''.join(rows)}</table>")


def _diff_table(rows: list[dict], base: str) -> str:
    keys = shown_keys(list(dict.fromkeys((r["crossing"], r["class"]) for r in rows)))
    show = [m for m in FOREST_METRICS if any(r["metric"] == m for r in rows)]
    by = {(r["scenario"], r["crossing"], r["class"], r["metric"]): r for r in rows}
    out = []
    for s in dict.fromkeys(r["scenario"] for r in rows):
        for c, k in keys:
            for m in show:
                r = by.get((s, c, k, m))
                if r is None:
                    continue
                lo, hi = _f(r["diff_ci_low"]), _f(r["diff_ci_high"])
                excl = "–" if math.isnan(lo) else (
                    "<span class='yes'>yes</span>" if not lo <= 0 <= hi else
                    "<span class='no'>no</span>")
                out.append(f"<tr><td>{esc(s)}</td><td>{esc(c)}</td><td>{esc(k)}</td>"
                           f"<td>{esc(m)}</td><td class='n'>{num(_f(r['base_mean']))}</td>"
                           f"<td class='n'>{num(_f(r['mean']))}</td>"
                           f"<td class='n'>{num(_f(r['diff_mean']))}</td>"
                           f"<td class='n'>{num(lo)} to {num(hi)}</td><td>{excl}</td>"
                           f"<td>{'paired' if r['paired'] == 'true' else 'Welch'}</td></tr>")
    return (f"<details><summary>The numbers behind the plots (all metrics: "
            f"{COMPARE_FILE})</summary><table><tr><th>scenario</th><th>crossing</th>"
            f"<th>class</th><th>metric</th><th class='n'>{esc(base)}</th>"
            "<th class='n'>scenario</th><th class='n'>difference</th>"
            "<th class='n'>95% interval</th><th>excludes 0</th><th>interval</th></tr>"
            f"{''.join(out)}</table></details>")


@literal_text
def write_compare_report(folder: Path, observations: Path | None = None) -> Path:
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
        write_results_report(sub, observations)
    base = index["base"]
    others = [s["label"] for s in index["scenarios"] if s["label"] != base]
    how = {c["scenario"]: c.get("paired") for c in index.get("comparisons", [])}
    econ = runs[base].scenario.economics
    cur = econ.currency if econ else ""
    made, figs = [], []
    for m in FOREST_METRICS:
        fig = forest(rows, m, base, others, how, cur)
        if fig is not None:
            made.append((f"diff_{m}.png", fig))
            figs.append(Figure(f"diff_{m}.png", f"Forest plot of the difference in {m} from "
                               f"{base}, per crossing and class, with 95% intervals",
                               f"Difference from {esc(base)} in <b>{esc(m)}</b>, per "
                               "crossing and class; bar: 95% interval; numbers on the right: "
                               "difference [interval]."))
    crossings = list(dict.fromkeys(c for d in runs.values() for c in d.scenario.crossings))
    qfigs = []
    for c in crossings:
        fig = queues_side_by_side(runs, c)
        if fig is not None:
            made.append((f"queues_{c}.png", fig))
            qfigs.append(Figure(f"queues_{c}.png", f"Units waiting at {c} over time in each "
                                "scenario, per class", f"Units waiting at <b>{esc(c)}</b>, "
                                "each scenario a line (mean with 95% band); km on the right."))
    save_figures(folder, made)
    notes = []
    for c in index.get("comparisons", []):
        skipped = [f"{a}/{b}" for a, b in c.get("only_in_base", []) + c.get("only_in_scenario",
                                                                             [])]
        notes.append(f"<li><b>{esc(c['scenario'])}</b>: {esc(c.get('how', ''))}"
                     + (f"; skipped (in one scenario only): {esc(', '.join(skipped))}"
                        if skipped else "") + "</li>")
    body = "\n".join([
        f"<h1>{esc(', '.join(others))} compared with {esc(base)}</h1>",
        "<p class='lede'>Each difference is scenario minus base. Where the runs share seeds "
        "and replication counts, replication <i>r</i> of each scenario saw the same "
        "arriving units as replication <i>r</i> of the base (common random numbers), and the "
        "interval is a paired t-interval of the per-replication differences; otherwise a "
        "Welch interval.</p>",
        f"<ul>{''.join(notes)}</ul>",
        "<h2>Scenarios</h2>", _scenario_table(index, runs),
        "<h2>Differences from the base</h2>", *[f.html() for f in figs],
        _diff_table(rows, base),
        "<h2>Queues side by side</h2>", *[f.html() for f in qfigs],
        "<p class='note'>Each scenario's own report (policy timeline, flows, waits, costs) is "
        "linked from the table above.</p>",
    ])
    return write_page(folder, page(f"bordersim comparison: {', '.join(others)} vs. {base}",
                                   body))
