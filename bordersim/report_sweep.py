"""Figures and an HTML page for a sweep folder: response curves and a tornado chart.

Response curves show a metric's mean against one varied parameter with its 95%
interval over replications. In a grid, each line is one value of a second
parameter; any further parameters are averaged point by point within each
replication first (the points share their seeds, so the average is paired and
its interval is a plain t-interval over replications). A Latin hypercube has
no two points alike: each point is drawn with its own interval, and the
tornado chart ranks the parameters by partial rank correlation (PRCC).
"""

from __future__ import annotations

import html
import json
import math
import re
from pathlib import Path

import numpy as np

from bordersim.report_data import read_csv
from bordersim.report_figures import literal_text
from bordersim.stats import t_interval
from bordersim.sweep import numeric_value
from bordersim.sweep_folder import MANIFEST, RUNS, SENSITIVITY, read_runs

__all__ = ["write_sweep_report", "metric_label", "parameter_label"]

HEADLINE = ("wait_mean_h", "waiting_hours_total", "queue_max", "cost_total",
            "crossed_per_day", "reneged")
_COUNTS = {"arrivals", "crossed", "reneged", "balked", "diverted", "waiting_at_end",
           "in_service_at_end"}


def metric_label(metric: str, currency: str | None = "USD") -> str:
    cur = currency or "money"
    if metric.endswith("_h"):
        unit = "hours"
    elif metric in _COUNTS:
        unit = "units"
    else:
        unit = {"queue_mean": "units waiting", "queue_max": "units waiting",
                "queue_max_km": "km of queue", "waiting_hours_total": "unit-hours waiting",
                "person_hours_waiting": "person-hours", "crossed_per_day": "units per day",
                "cost_total": cur, "cargo_value_days_delayed": f"{cur} x days",
                "cargo_value_lost": cur}.get(metric)
    return f"{metric} ({unit})" if unit else metric


def parameter_label(path: str, currency: str | None = "USD", start: str | None = None) -> str:
    parts = path.split(".")
    last, parent = parts[-1], (parts[-2] if len(parts) > 1 else "")
    cur = currency or "money"
    unit = None
    if last == "booths" or parent == "booths":
        unit = "booths"
    elif parent == "quota_per_day":
        unit = f"{last} per day"
    elif parent == "demand":
        unit = f"{last} arrivals per day"
    elif parent in ("service_factor", "demand_factor"):
        unit = "factor"
    elif last == "probability" or parent == "secondary_probability" or last.endswith("share"):
        unit = "share"
    elif last == "at":
        unit = f"days after {start[:10]}" if start else "days after the start"
    elif last in ("duration", "warmup", "cooldown", "travel", "mean", "over", "after",
                  "low", "high", "mode", "value"):
        unit = "hours"
    elif last == "value_of_time_per_person_hour":
        unit = f"{cur} per person-hour"
    elif parent == "vehicle_cost_per_hour":
        unit = f"{cur} per hour"
    elif last == "cargo_time_cost_per_day":
        unit = "share of cargo value per day"
    elif last == "queue_over":
        unit = "units waiting"
    elif last == "rate_per_day":
        unit = "per day"
    return f"{path} ({unit})" if unit else path


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-")


class _Sweep:
    """The sweep folder read back: points, values per (crossing, class, metric)."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        table = read_runs(folder / RUNS)
        self.paths = table.header[1:1 + table.n_paths]
        self.points = [list(p) for p in self.manifest["points"]]
        n_p, n_r = len(self.points), int(self.manifest["replications"])
        self.values: dict[tuple, np.ndarray] = {}
        for (p, r) in sorted(table.rows):
            for c, k, m, v in table.rows[(p, r)]:
                arr = self.values.get((c, k, m))
                if arr is None:
                    arr = self.values[(c, k, m)] = np.full((n_p, n_r), np.nan)
                arr[p, r] = v
        self.currency = self.manifest.get("currency")
        self.start = self.manifest.get("start")
        self.factor_values = []   # the distinct values of each factor, in design order
        for j in range(len(self.manifest["factors"])):
            seen: dict[str, object] = {}
            for pt in self.points:
                seen.setdefault(json.dumps(pt[j]), pt[j])
            self.factor_values.append(list(seen.values()))

    def x(self, j: int) -> tuple[np.ndarray, list | None]:
        """Parameter j as numbers, and tick labels when it is not a quantity."""
        from datetime import datetime

        start = datetime.fromisoformat(self.start) if self.start else None
        col = np.array([numeric_value(pt[j], start) for pt in self.points], dtype=float)
        if np.all(np.isfinite(col)):
            return col, None
        order = [json.dumps(v) for v in self.factor_values[j]]
        return (np.array([order.index(json.dumps(pt[j])) for pt in self.points], float),
                [str(v) for v in self.factor_values[j]])

    def varied(self) -> list[int]:
        return [j for j, vals in enumerate(self.factor_values) if len(vals) > 1]


def _panels(sw: _Sweep, metric: str, keys) -> list[tuple[str, str]]:
    present = [(c, k) for (c, k, m) in sw.values if m == metric]
    if keys is not None:
        return [tuple(k) for k in keys if tuple(k) in present]
    classes = [k for c, k in present if c == "all" and k != "all"]
    return [("all", "all")] + ([("all", k) for k in classes] if len(classes) > 1 else [])


def _tick(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _grid_of(n: int) -> tuple[int, int]:
    cols = min(3, n)
    return math.ceil(n / cols), cols


def _response_figure(sw: _Sweep, metric: str, j: int, panels, path: Path) -> None:
    from matplotlib.figure import Figure

    rows, cols = _grid_of(len(panels))
    fig = Figure(figsize=(max(6.4, 4.6 * cols), 3.5 * rows + 0.8), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    xj, ticks = sw.x(j)
    varied = [i for i in sw.varied() if i != j]
    second = varied[0] if varied and sw.manifest["design"] == "grid" else None
    for ax, key in zip(axes.flat, panels, strict=False):
        arr = sw.values[(*key, metric)]
        nonneg = bool(np.nanmin(arr, initial=0.0) >= 0)
        if sw.manifest["design"] == "grid":
            levels = sw.factor_values[second] if second is not None else [None]
            for level in levels:
                xs, means, lows, highs = [], [], [], []
                for v in sw.factor_values[j]:
                    sel = [p for p, pt in enumerate(sw.points) if json.dumps(pt[j]) == json.dumps(v)
                           and (second is None or json.dumps(pt[second]) == json.dumps(level))]
                    with np.errstate(all="ignore"):
                        per_rep = np.nanmean(arr[sel], axis=0) if sel else np.array([])
                    iv = t_interval(per_rep)
                    xs.append(xj[sel[0]])
                    means.append(iv.mean)
                    lows.append(iv.ci_low if math.isfinite(iv.ci_low) else iv.mean)
                    highs.append(iv.ci_high if math.isfinite(iv.ci_high) else iv.mean)
                short = ".".join(sw.paths[second].split(".")[-2:]) if second is not None else ""
                label = None if second is None else f"{short} = {level}"
                line, = ax.plot(xs, means, marker="o", label=label)
                if nonneg:      # a count or a duration: the band is cut at zero
                    lows = [max(0.0, v) for v in lows]
                ax.fill_between(xs, lows, highs, alpha=0.2, color=line.get_color())
            if ticks is None and len(xs) <= 12:
                ax.set_xticks(xs, [_tick(v) for v in sw.factor_values[j]], fontsize=8)
            if second is not None:
                ax.legend(fontsize=7, title=sw.manifest["factors"][second]["path"],
                          title_fontsize=6)
        else:
            ivs = [t_interval(arr[p]) for p in range(len(sw.points))]
            means = np.array([iv.mean for iv in ivs])
            err = np.array([[iv.mean - iv.ci_low if math.isfinite(iv.ci_low) else 0.0
                             for iv in ivs],
                            [iv.ci_high - iv.mean if math.isfinite(iv.ci_high) else 0.0
                             for iv in ivs]])
            ax.errorbar(xj, means, yerr=err, fmt="o", ms=3, alpha=0.7, elinewidth=0.8)
        if ticks is not None:
            ax.set_xticks(range(len(ticks)), ticks, rotation=30, fontsize=7)
        ax.set_title(f"crossing {key[0]}, class {key[1]}", fontsize=9)
        ax.set_xlabel(parameter_label(sw.paths[j], sw.currency, sw.start), fontsize=8)
        ax.set_ylabel(metric_label(metric, sw.currency), fontsize=8)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    band = "95% band over replications" if sw.manifest["design"] == "grid" else \
        "points of the Latin hypercube, 95% intervals over replications"
    fig.suptitle(f"{sw.manifest['scenario']}: {metric} against {sw.paths[j]}\n({band})",
                 fontsize=10)
    fig.savefig(path, dpi=100)


def _tornado_figure(sw: _Sweep, metric: str, rows: list[dict], panels, path: Path) -> bool:
    from matplotlib.figure import Figure

    by_key = {}
    for r in rows:
        if r["metric"] == metric:
            by_key.setdefault((r["crossing"], r["class"]), []).append(r)
    panels = [k for k in panels if k in by_key]
    if not panels:
        return False
    n_par = len(by_key[panels[0]])
    rows_, cols = _grid_of(len(panels))
    fig = Figure(figsize=(max(6.4, 4.8 * cols), (0.45 * n_par + 1.3) * rows_ + 0.8),
                 layout="constrained")
    axes = fig.subplots(rows_, cols, squeeze=False)
    for ax, key in zip(axes.flat, panels, strict=False):
        entries = [(r["parameter"], float(r["prcc"]) if r["prcc"] else math.nan,
                    float(r["p_value"]) if r["p_value"] else math.nan) for r in by_key[key]]
        entries.sort(key=lambda e: -abs(e[1]) if math.isfinite(e[1]) else 0.0)
        entries.reverse()                   # the largest effect on top
        names = [e[0] for e in entries]
        vals = [e[1] if math.isfinite(e[1]) else 0.0 for e in entries]
        colors = ["tab:red" if v > 0 else "tab:blue" for v in vals]
        bars = ax.barh(range(len(vals)), vals, color=colors)
        for bar, (_, _, p) in zip(bars, entries, strict=True):
            if not (p < 0.05):
                bar.set_alpha(0.35)
                bar.set_hatch("//")
        ax.set_yticks(range(len(names)), names, fontsize=7)
        ax.axvline(0, color="black", lw=0.8)
        ax.set_xlim(-1, 1)
        ax.set_xlabel("partial rank correlation coefficient (PRCC)", fontsize=8)
        ax.set_title(f"crossing {key[0]}, class {key[1]}", fontsize=9)
        ax.grid(axis="x", alpha=0.3)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    fig.suptitle(f"{sw.manifest['scenario']}: sensitivity of {metric_label(metric, sw.currency)}"
                 "\n(red: rises with the parameter; blue: falls; hatched: p >= 0.05)",
                 fontsize=10)
    fig.savefig(path, dpi=100)
    return True


def _table_html(header: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>"
                   for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


@literal_text
def write_sweep_report(sweep_dir: Path, *, metrics: list[str] | None = None,
                       keys: list[tuple[str, str]] | None = None) -> Path:
    """Write ``report.html`` and ``figures/*.png`` into the sweep folder; return the page.

    ``metrics`` defaults to the headline metrics the sweep kept (wait, waiting hours,
    queue, cost, throughput, reneged); ``keys`` (crossing, class) to the total over all
    and, when there are several classes, each class's total over crossings."""
    folder = Path(sweep_dir)
    sw = _Sweep(folder)
    kept = list(sw.manifest["metrics"])
    chosen = [m for m in (metrics or HEADLINE) if m in kept] or kept[:4]
    figdir = folder / "figures"
    figdir.mkdir(exist_ok=True)
    for old in figdir.glob("sweep-*.png"):
        old.unlink()
    sens = read_csv(folder / SENSITIVITY, encoding="utf-8")
    parts = [f"<h1>Sweep of {html.escape(sw.manifest['scenario'])}</h1>",
             f"<p>{html.escape(sw.manifest['design'])} design, {len(sw.points)} points &times; "
             f"{sw.manifest['replications']} replications, seed {sw.manifest['seed']}; every "
             "point uses the same seeds per replication (common random numbers). Bands and "
             "bars are 95% t-intervals over replications.</p>",
             _table_html(["varied path", "values"],
                         [[f["path"], f["spec"]] for f in sw.manifest["factors"]])]
    for metric in chosen:
        panels = _panels(sw, metric, keys)
        if not panels:
            continue
        parts.append(f"<h2>{html.escape(metric_label(metric, sw.currency))}</h2>")
        for j in sw.varied():
            name = f"sweep-response-{_slug(metric)}-{_slug(sw.paths[j])}.png"
            _response_figure(sw, metric, j, panels, figdir / name)
            parts.append(f'<img src="figures/{name}" alt="{html.escape(metric)} against '
                         f'{html.escape(sw.paths[j])}">')
        if sens:
            name = f"sweep-tornado-{_slug(metric)}.png"
            if _tornado_figure(sw, metric, sens, panels, figdir / name):
                parts.append(f'<img src="figures/{name}" alt="PRCC of {html.escape(metric)}">')
                rows = [[r["crossing"], r["class"], r["parameter"], f"{float(r['prcc']):+.3f}"
                         if r["prcc"] else "-", f"{float(r['p_value']):.3g}"
                         if r["p_value"] else "-"]
                        for r in sens if r["metric"] == metric
                        and (r["crossing"], r["class"]) in panels]
                parts.append(_table_html(["crossing", "class", "parameter", "PRCC", "p"], rows))
    style = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto}"
             "img{max-width:100%;display:block;margin:1em 0}"
             "table{border-collapse:collapse;font-size:90%}"
             "td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}")
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>Sweep: "
            f"{html.escape(sw.manifest['scenario'])}</title><style>{style}</style></head>"
            f"<body>{''.join(parts)}</body></html>\n")
    out = folder / "report.html"
    out.write_text(page, encoding="utf-8")
    return out
