"""The report of a sweep folder: response curves per crossing and class, and a tornado chart.

Response curves show a metric's mean against one varied parameter with its 95%
interval over replications. In a grid, each line is one value of a second
parameter; any further parameters are averaged point by point within each
replication first (the points share their seeds, so the average is paired and
its interval is a plain t-interval over replications). A Latin hypercube has
no two points alike: each point is drawn with its own interval, and the
tornado chart ranks the parameters by partial rank correlation (PRCC).

Every crossing and class is drawn (or those asked for), each in its own panel;
a panel where the metric does not move across the points says nothing and is
left out, and the page lists what was left out. The total cost leads, then
the metrics the sweep kept.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import textwrap
from datetime import datetime
from pathlib import Path

import numpy as np
import yaml

from bordersim.labels import key_label, path_label
from bordersim.metrics import clip_metric
from bordersim.metrics import label as metric_label
from bordersim.numbers import num, with_interval
from bordersim.report.data import read_csv
from bordersim.report.figures import literal_text
from bordersim.report.html import Figures, Output, esc, page, table, write_page
from bordersim.results import shown_keys
from bordersim.scenario import ALL
from bordersim.stats import t_interval
from bordersim.sweep import numeric_value
from bordersim.sweep_folder import MANIFEST, RUNS, SENSITIVITY, read_runs

__all__ = ["write_sweep_report", "HEADLINE"]

# what the report shows when the sweep kept every metric; cost leads
HEADLINE = ("cost_total", "waiting_hours_total", "wait_mean_h", "queue_max", "reneged",
            "crossed_per_day")


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-")


class _Sweep:
    """The sweep folder read back: points, values per (crossing, class, metric)."""

    def __init__(self, folder: Path):
        from bordersim.loading import ScenarioError, scenario_from_dict

        self.folder = folder
        self.manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        table_ = read_runs(folder / RUNS)
        self.paths = table_.header[1:1 + table_.n_paths]
        self.points = [list(p) for p in self.manifest["points"]]
        n_p, n_r = len(self.points), int(self.manifest["replications"])
        self.values: dict[tuple, np.ndarray] = {}
        for (p, r) in sorted(table_.rows):
            for c, k, m, v in table_.rows[(p, r)]:
                arr = self.values.get((c, k, m))
                if arr is None:
                    arr = self.values[(c, k, m)] = np.full((n_p, n_r), np.nan)
                arr[p, r] = v
        self.currency = self.manifest.get("currency")
        self.start = self.manifest.get("start")
        self.scenario = None       # the base scenario, to name lanes, stages and phases
        with contextlib.suppress(OSError, ScenarioError, yaml.YAMLError, TypeError):
            data = yaml.safe_load((folder / "scenario.resolved.yaml").read_text("utf-8"))
            self.scenario = scenario_from_dict(data, str(folder)).scenario
        self.factor_values = []   # the distinct values of each factor, in design order
        for j in range(len(self.manifest["factors"])):
            seen: dict[str, object] = {}
            for pt in self.points:
                seen.setdefault(json.dumps(pt[j]), pt[j])
            self.factor_values.append(list(seen.values()))

    @property
    def grid(self) -> bool:
        return self.manifest["design"] == "grid"

    def x(self, j: int) -> tuple[np.ndarray, list | None]:
        """Parameter j as numbers, and tick labels when it is not a quantity."""
        start = datetime.fromisoformat(self.start) if self.start else None
        col = np.array([numeric_value(pt[j], start) for pt in self.points], dtype=float)
        if np.all(np.isfinite(col)):
            return col, None
        order = [json.dumps(v) for v in self.factor_values[j]]
        return (np.array([order.index(json.dumps(pt[j])) for pt in self.points], float),
                [str(v) for v in self.factor_values[j]])

    def varied(self) -> list[int]:
        return [j for j, vals in enumerate(self.factor_values) if len(vals) > 1]

    def label(self, j: int, unit: bool = True) -> str:
        """What parameter j is, in words, with its unit (dates as days after the start)."""
        path = self.paths[j]
        text = path_label(path, self.scenario, self.currency, unit=unit)
        if unit and path.split(".")[-1] == "at" and self.start:
            text += f" (days after {datetime.fromisoformat(self.start):%-d %b %Y})"
        return text

    def key_label(self, key: tuple[str, str]) -> str:
        return key_label(self.scenario, *key)


FLAT = 0.01      # a panel whose point means span less than 1% of the largest says nothing


def _flat(arr: np.ndarray) -> bool:
    """True when the point means hardly move (or there are none): their range is under
    FLAT of the largest |mean|, too little to see on an axis that starts at zero."""
    with np.errstate(all="ignore"):
        means = np.nanmean(arr, axis=1)
    means = means[np.isfinite(means)]
    if len(means) < 2:
        return True
    scale = float(np.max(np.abs(means)))
    return scale == 0 or float(np.ptp(means)) < FLAT * scale


def _panels(sw: _Sweep, metric: str, keys, crossings) -> tuple[list, list]:
    """The (crossing, class) panels to draw for a metric, and those left out as flat."""
    present = [(c, k) for (c, k, m) in sw.values if m == metric]
    if keys is not None:
        wanted = [tuple(k) for k in keys if tuple(k) in present]
    else:
        ordered = shown_keys(present)
        wanted = ([(ALL, ALL)] if (ALL, ALL) in ordered else []) + \
            [k for k in ordered if k != (ALL, ALL)]
        if crossings is not None:
            wanted = [k for k in wanted if k[0] in crossings]
    drawn = [k for k in wanted if not _flat(sw.values[(*k, metric)])]
    return drawn, [k for k in wanted if k not in drawn]


def _tick(value) -> str:
    """A varied value as text: drawn numbers to four significant digits."""
    if isinstance(value, float):
        return num(value, 4)
    return str(value)


def _grid_of(n: int) -> tuple[int, int]:
    cols = min(3, n)
    return math.ceil(n / cols), cols


def _new_figure(figsize):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _wrap(text: str, width: int = 48) -> str:
    return "\n".join(textwrap.wrap(text, width)) or text


def _response_figure(sw: _Sweep, metric: str, j: int, panels):
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    from bordersim.report.figures import human

    rows, cols = _grid_of(len(panels))
    fig = _new_figure((max(6.4, 4.6 * cols), 3.6 * rows + 1.2))
    axes = fig.subplots(rows, cols, squeeze=False)
    xj, ticks = sw.x(j)
    varied = [i for i in sw.varied() if i != j]
    second = varied[0] if varied and sw.grid else None
    for ax, key in zip(axes.flat, panels, strict=False):
        arr = sw.values[(*key, metric)]
        if sw.grid:
            levels = sw.factor_values[second] if second is not None else [None]
            for level in levels:
                xs, means, lows, highs = [], [], [], []
                for v in sw.factor_values[j]:
                    sel = [p for p, pt in enumerate(sw.points) if json.dumps(pt[j]) == json.dumps(v)
                           and (second is None or json.dumps(pt[second]) == json.dumps(level))]
                    with np.errstate(all="ignore"):
                        per_rep = np.nanmean(arr[sel], axis=0) if sel else np.array([])
                    iv = clip_metric(t_interval(per_rep), metric)
                    xs.append(xj[sel[0]])
                    means.append(iv.mean)
                    lows.append(iv.ci_low if math.isfinite(iv.ci_low) else iv.mean)
                    highs.append(iv.ci_high if math.isfinite(iv.ci_high) else iv.mean)
                label = None if second is None else f"{_tick(level)}"
                line, = ax.plot(xs, means, marker="o", label=label)
                ax.fill_between(xs, lows, highs, alpha=0.2, color=line.get_color())
            if ticks is None and len(xs) <= 12:
                ax.set_xticks(xs, [_tick(v) for v in sw.factor_values[j]], fontsize=8)
        else:
            ivs = [clip_metric(t_interval(arr[p]), metric) for p in range(len(sw.points))]
            means = np.array([iv.mean for iv in ivs])
            err = np.array([[iv.mean - iv.ci_low if math.isfinite(iv.ci_low) else 0.0
                             for iv in ivs],
                            [iv.ci_high - iv.mean if math.isfinite(iv.ci_high) else 0.0
                             for iv in ivs]])
            ax.errorbar(xj, means, yerr=err, fmt="o", ms=3, alpha=0.7, elinewidth=0.8)
        if ticks is not None:
            ax.set_xticks(range(len(ticks)), ticks, rotation=30, fontsize=7)
        ax.set_title(_wrap(sw.key_label(key), 60), fontsize=9)
        ax.set_xlabel(_wrap(sw.label(j), 60), fontsize=8)
        ax.set_ylabel(metric_label(metric, sw.currency), fontsize=8)
        ax.yaxis.set_major_formatter(FuncFormatter(human))
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    if second is not None:       # one legend for every panel: the lines are the same values
        handles, labels = axes.flat[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncol=min(len(labels), 8),
                   title=sw.label(second), fontsize=8, title_fontsize=8)
    band = "95% band over replications" if sw.grid else \
        "points of the Latin hypercube, 95% intervals over replications"
    if ticks is None and np.all(np.isfinite(xj)) and np.all(xj == np.round(xj)):
        for ax in axes.flat:                   # booths, quotas: whole numbers on the axis
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    title = f"{sw.manifest['scenario']}: {metric_label(metric, sw.currency)} against " \
            f"{sw.label(j, unit=False)}"
    fig.suptitle(f"{_wrap(title, int(fig.get_figwidth() * 11))}\n({band})", fontsize=10)
    return fig


def _tornado_figure(sw: _Sweep, metric: str, rows: list[dict], panels):
    by_key: dict = {}
    for r in rows:
        if r["metric"] == metric:
            by_key.setdefault((r["crossing"], r["class"]), []).append(r)
    panels = [k for k in panels if k in by_key]
    if not panels:
        return None
    n_par = len(by_key[panels[0]])
    rows_, cols = _grid_of(len(panels))
    fig = _new_figure((max(7.0, 5.2 * cols), (0.55 * n_par + 1.4) * rows_ + 0.9))
    axes = fig.subplots(rows_, cols, squeeze=False)
    index = {p: j for j, p in enumerate(sw.paths)}
    for ax, key in zip(axes.flat, panels, strict=False):
        entries = [(r["parameter"], float(r["prcc"]) if r["prcc"] else math.nan,
                    float(r["p_value"]) if r["p_value"] else math.nan) for r in by_key[key]]
        entries.sort(key=lambda e: -abs(e[1]) if math.isfinite(e[1]) else 0.0)
        entries.reverse()                   # the largest effect on top
        names = [_wrap(sw.label(index[e[0]], unit=False), 34) if e[0] in index else e[0]
                 for e in entries]
        vals = [e[1] if math.isfinite(e[1]) else 0.0 for e in entries]
        colors = ["tab:red" if v > 0 else "tab:blue" for v in vals]
        bars = ax.barh(range(len(vals)), vals, color=colors)
        for bar, (_, v, p) in zip(bars, entries, strict=True):
            if not (p < 0.05):
                bar.set_alpha(0.35)
                bar.set_hatch("//")
            if math.isfinite(v):
                ax.text(v, bar.get_y() + bar.get_height() / 2, f" {v:+.2f} ",
                        va="center", ha="left" if v >= 0 else "right", fontsize=7)
        ax.set_yticks(range(len(names)), names, fontsize=7)
        ax.axvline(0, color="black", lw=0.8)
        ax.set_xlim(-1.15, 1.15)
        ax.set_xlabel("partial rank correlation coefficient (PRCC)", fontsize=8)
        ax.set_title(_wrap(sw.key_label(key), 60), fontsize=9)
        ax.grid(axis="x", alpha=0.3)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    title = f"{sw.manifest['scenario']}: sensitivity of {metric_label(metric, sw.currency)}"
    fig.suptitle(f"{_wrap(title, int(fig.get_figwidth() * 11))}\n(red: rises with the "
                 "parameter; blue: falls; hatched: p >= 0.05)", fontsize=10)
    return fig


MOST_METRICS = 8     # a sweep that kept more draws the headline ones (or those asked for)


def _metrics(sw: _Sweep, metrics: list[str] | None) -> list[str]:
    """The metrics to draw: those asked for; else those the sweep kept, or the headline
    ones when it kept more than MOST_METRICS; the total cost first where there is one."""
    kept = list(sw.manifest["metrics"])
    if metrics:
        chosen = [m for m in metrics if m in kept]
    elif len(kept) > MOST_METRICS:
        chosen = [m for m in HEADLINE if m in kept] or kept[:4]
    else:
        chosen = kept
    if "cost_total" in chosen and not sw.currency:
        chosen = [m for m in chosen if m != "cost_total"] or chosen
    lead = ["cost_total"] if "cost_total" in chosen else []
    return lead + [m for m in chosen if m != "cost_total"]


def _summary(sw: _Sweep, chosen: list[str]) -> str:
    """The design, the parameters in words, and where the leading metric is lowest and
    highest."""
    man = sw.manifest
    design = ("grid: every combination" if sw.grid else
              "Latin hypercube")
    lines = [f"<p>{len(sw.points)} points ({design}) × {man['replications']} replications, "
             f"seed {esc(man['seed'])}; every point uses the same seeds per replication "
             "(common random numbers). Bands and bars are 95% t-intervals over replications, "
             "cut at zero for quantities that cannot be negative.</p>"]
    rows = [[f"<code>{esc(f['path'])}</code>", esc(sw.label(j)), esc(f["spec"])]
            for j, f in enumerate(man["factors"])]
    lines.append(table(["varied path", "what it is", "values"], rows))
    lead = chosen[0] if chosen else None
    arr = sw.values.get((ALL, ALL, lead)) if lead else None
    if arr is not None and not _flat(arr):
        ivs = [clip_metric(t_interval(arr[p]), lead) for p in range(len(sw.points))]
        order = sorted(range(len(ivs)), key=lambda p: ivs[p].mean)
        money = lead == "cost_total"

        def point(p: int) -> str:
            iv = ivs[p]
            where = ", ".join(f"<code>{esc(sw.paths[j])}</code> = {esc(_tick(sw.points[p][j]))}"
                              for j in sw.varied())
            value = with_interval(iv.mean, iv.ci_low, iv.ci_high, sw.currency,
                                  money_value=money)
            return f"{esc(value)} at point {p} ({where})"

        lines.append(f"<p>{esc(metric_label(lead, sw.currency, with_unit=not money))} over "
                     f"all crossings and classes: lowest {point(order[0])}; highest "
                     f"{point(order[-1])}.</p>")
    return "<section id='summary'><h2>Summary</h2>" + "".join(lines) + "</section>"


@literal_text
def write_sweep_report(sweep_dir: Path, *, metrics: list[str] | None = None,
                       keys: list[tuple[str, str]] | None = None,
                       crossings: list[str] | None = None,
                       output: Output | None = None) -> Path:
    """Write ``report.html`` and ``figures/`` into the sweep folder; return the page.

    ``metrics`` defaults to those the sweep kept (the headline ones when it kept all),
    total cost first; ``keys`` (crossing, class) or ``crossings`` choose the panels, by
    default every crossing and class and their totals. Panels where the metric does not
    move are left out."""
    folder = Path(sweep_dir)
    sw = _Sweep(folder)
    chosen = _metrics(sw, metrics)
    figs = Figures(output or Output())
    sens = read_csv(folder / SENSITIVITY, encoding="utf-8")
    sections: list[list] = []      # text and figures, placed once the figures are saved
    for metric in chosen:
        panels, flat = _panels(sw, metric, keys, crossings)
        parts = [f"<h2 id='{_slug(metric)}'>{esc(metric_label(metric, sw.currency))}</h2>"]
        if not panels:
            parts.append("<p class='note'>Does not change across the points at any crossing "
                         "or class drawn.</p>")
            sections.append(parts)
            continue
        for j in sw.varied():
            f = figs.add(f"sweep-response-{_slug(metric)}-{_slug(sw.paths[j])}",
                         _response_figure(sw, metric, j, panels),
                         f"{metric_label(metric, sw.currency)} against "
                         f"{sw.label(j, unit=False)}",
                         f"{esc(metric_label(metric, sw.currency))} against "
                         f"{esc(sw.label(j))}, one panel per crossing and class.")
            parts.append(f)
        if sens:
            f = figs.add(f"sweep-tornado-{_slug(metric)}",
                         _tornado_figure(sw, metric, sens, panels),
                         f"PRCC of {metric_label(metric, sw.currency)} with each parameter",
                         "Partial rank correlation of each parameter with "
                         f"{esc(metric_label(metric, sw.currency))}.")
            if f is not None:
                parts.append(f)
                index = {p: j for j, p in enumerate(sw.paths)}
                rows = [[esc(sw.key_label((r["crossing"], r["class"]))),
                         esc(sw.label(index[r["parameter"]], unit=False))
                         if r["parameter"] in index else esc(r["parameter"]),
                         f"{float(r['prcc']):+.3f}" if r["prcc"] else "–",
                         num(float(r["p_value"])) if r["p_value"] else "–"]
                        for r in sens if r["metric"] == metric
                        and (r["crossing"], r["class"]) in panels]
                parts.append(table(["crossing · class", "parameter", "PRCC", "p"], rows,
                                   numeric={2, 3}, cls="numbers"))
        if flat:
            parts.append("<p class='note'>Left out, as they change by less than 1% across "
                         "the points: "
                         + esc("; ".join(sw.key_label(k) for k in flat)) + ".</p>")
        sections.append(parts)
    figs.save(folder)
    body = "\n".join([f"<h1>Sweep of {esc(sw.manifest['scenario'])}</h1>",
                      _summary(sw, chosen),
                      *("".join(x if isinstance(x, str) else figs.html(x) for x in parts)
                        for parts in sections)])
    return write_page(folder, page(f"Sweep: {sw.manifest['scenario']}", body))

