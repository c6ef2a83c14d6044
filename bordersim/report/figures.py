"""Figures of one results folder: each function returns a matplotlib Figure.

Conventions every figure keeps: a title saying what is drawn and over how many
replications, axis labels with units, calendar dates on time axes, policy
phases shaded and numbered (the numbers are explained in each figure's legend,
so labels never collide), the warm-up hatched.
"""

from __future__ import annotations

import functools
import math
import textwrap
from datetime import datetime, timedelta

import matplotlib
import matplotlib.dates as mdates
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter

from bordersim.report.data import (
    ResultsData,
    band,
    crossing_label,
    daily,
    date_text,
    hourly_demand,
)

__all__ = ["literal_text", "subplots", "timeline", "queue", "flow", "waits", "costs",
           "observed", "date_axis",
           "shade_phases", "hatch_warmup", "km_axis", "phase_handles", "class_color",
           "legend_below", "human"]


def literal_text(fn):
    """Draw every figure made inside ``fn`` with labels taken as plain text: a '$' in a
    crossing or phase label is a dollar sign, never the start of mathtext that fails."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with matplotlib.rc_context({"text.parse_math": False}):
            return fn(*args, **kwargs)
    return wrapper


_PHASE_COLORS = ["#fbb4ae", "#b3cde3", "#ccebc5", "#decbe4", "#fed9a6", "#ffffcc", "#e5d8bd",
                 "#fddaec", "#f2f2f2"]
_CLASS_COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2",
                 "#17becf", "#7f7f7f", "#bcbd22"]
WAIT_TICKS = [(1 / 60, "1 min"), (10 / 60, "10 min"), (1, "1 h"), (6, "6 h"), (24, "1 day"),
              (168, "1 week"), (672, "4 weeks")]


def subplots(nrows: int = 1, ncols: int = 1, *, figsize=None, **kw):
    """A Figure drawn by Agg and its axes, as ``pyplot.subplots`` gives, without pyplot's
    global state: nothing to close, no backend to choose at import."""
    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)
    return fig, fig.subplots(nrows, ncols, **kw)


def class_color(data_or_classes, cls: str) -> str:
    classes = list(getattr(getattr(data_or_classes, "scenario", None), "classes", None)
                   or data_or_classes)
    i = classes.index(cls) if cls in classes else len(classes)
    return _CLASS_COLORS[i % len(_CLASS_COLORS)]


def phase_color(number: int) -> str:
    return _PHASE_COLORS[(number - 1) % len(_PHASE_COLORS)]


def human(x: float, _pos=None) -> str:
    """1234567 -> 1.23 M: axis ticks of money and counts."""
    a = abs(x)
    for div, suffix in ((1e9, " bn"), (1e6, " M"), (1e3, " k")):
        if a >= div:
            return f"{x / div:.3g}{suffix}"
    return f"{x:.3g}"


def date_axis(ax, start: datetime, end: datetime) -> None:
    """Calendar dates as '8 Oct'; the year goes in the axis label."""
    locator = mdates.AutoDateLocator(minticks=4, maxticks=9)
    ax.xaxis.set_major_locator(locator)
    years = {start.year, (end - timedelta(seconds=1)).year}
    fmt = "%-d %b" if len(years) == 1 else "%-d %b %Y"
    ax.xaxis.set_major_formatter(mdates.DateFormatter(fmt))
    ax.set_xlim(start, end)
    label = f"date ({years.pop()})" if len(years) == 1 else "date"
    ax.set_xlabel(label)


def hatch_warmup(ax, scn) -> None:
    """The warm-up of a scenario hatched on a time axis (nothing when it has none)."""
    if scn.warmup > 0:
        ax.axvspan(scn.start, scn.start + timedelta(hours=scn.warmup), facecolor="none",
                   edgecolor="#bbbbbb", hatch="///", lw=0, zorder=0)


def km_axis(ax, length_m: float) -> None:
    """A right axis reading units waiting as km of queue, when a unit in line takes
    length_m metres (nothing when it takes none)."""
    if length_m > 0:
        sec = ax.secondary_yaxis("right", functions=(lambda u, m=length_m: u * m / 1000,
                                                     lambda km, m=length_m: km * 1000 / m))
        sec.set_ylabel("km of queue")


def shade_phases(ax, data: ResultsData, numbers: bool = True) -> None:
    """Each policy phase a pale band with its number at the top; the warm-up hatched."""
    scn = data.scenario
    hatch_warmup(ax, scn)
    last_x = -np.inf
    span = scn.duration
    for ph in data.phases:
        if ph.end_h <= ph.start_h:
            continue
        t0, t1 = data.when([ph.start_h, ph.end_h])
        ax.axvspan(t0, t1, color=phase_color(ph.number), alpha=0.45, lw=0, zorder=0)
        if numbers:
            x = ph.start_h + min(0.5 * (ph.end_h - ph.start_h), 0.02 * span)
            row = 1 if x - last_x < 0.025 * span else 0    # too close to the last: lower
            ax.text(data.when(x)[0], 0.97 - 0.1 * row, str(ph.number), fontsize=8,
                    ha="left" if ph.end_h - ph.start_h > 0.04 * span else "center",
                    va="top", transform=ax.get_xaxis_transform(), color="#333333",
                    bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none",
                          "alpha": 0.8})
            last_x = x if row == 0 else last_x


def phase_handles(data: ResultsData) -> list:
    out = []
    if data.scenario.warmup > 0:
        out.append(Patch(facecolor="white", edgecolor="#bbbbbb", hatch="///",
                         label=f"warm-up ({data.scenario.warmup / 24:g} d, not in statistics)"))
    for ph in data.phases:
        when = date_text(data.when(ph.start_h)[0], year=False)
        scope = f" [{ph.scope}]" if ph.scope else ""
        out.append(Patch(color=phase_color(ph.number), alpha=0.6,
                         label=f"{ph.number}  {ph.label} (from {when}){scope}"))
    return out


def legend_below(fig: Figure, handles: list, top_handles: list | None = None,
                 top: float = 0.97) -> Figure:
    """One legend under the panels, in as many columns as the labels allow; the panels are
    then laid out above it (its height is measured, so nothing overlaps)."""
    handles = [*(top_handles or []), *handles]
    if not handles:
        fig.tight_layout(rect=(0, 0, 1, top))
        return fig
    renderer = fig.canvas.get_renderer()
    for ncol in (3, 2, 1):                        # the most columns that fit the width
        leg = fig.legend(handles=handles, loc="lower center", ncol=ncol,
                         bbox_to_anchor=(0.5, 0.005), handlelength=1.8, columnspacing=1.5)
        if ncol == 1 or leg.get_window_extent(renderer).width <= 0.98 * fig.bbox.width:
            break
        leg.remove()
    height = leg.get_window_extent().height / fig.dpi      # inches
    bottom = min(0.6, (height + 0.1) / fig.get_figheight())
    fig.tight_layout(rect=(0, bottom, 1, top))
    return fig


def timeline(data: ResultsData) -> Figure:
    """The policy timeline as one band per phase, on the calendar of the run."""
    scn = data.scenario
    phases = data.phases
    rows = ["base configuration", *[f"{p.number}  {p.label}" for p in phases]]
    fig, ax = subplots(figsize=(10, 0.9 + 0.38 * len(rows)))
    end = scn.start + timedelta(hours=scn.duration)
    first = phases[0].start_h if phases else scn.duration
    ax.barh(0, timedelta(hours=first), left=scn.start, height=0.6, color="#e0e0e0")
    for i, p in enumerate(phases, start=1):
        t0 = data.when(p.start_h)[0]
        ax.barh(i, timedelta(hours=max(p.end_h - p.start_h, 0.0)), left=t0, height=0.6,
                color=phase_color(p.number), edgecolor="#888888", lw=0.5)
        ax.text(t0, i, " " + date_text(t0, year=False), va="center",
                ha="right" if p.start_h > 0.85 * scn.duration else "left", fontsize=8,
                color="#333333")
    hatch_warmup(ax, scn)
    ax.set_yticks(range(len(rows)), rows)
    ax.invert_yaxis()
    date_axis(ax, scn.start, end)
    fig.suptitle(f"Policy timeline of {scn.name}: each phase lasts until the next begins"
                 + (" (hatched: warm-up)" if scn.warmup > 0 else ""), x=0.01, ha="left")
    fig.tight_layout()
    return fig


def _panels(n: int, height: float = 2.3, width: float = 10):
    height = max(height, 4.5 / n) if n < 3 else height
    fig, axes = subplots(n, 1, figsize=(width, 1.6 + height * n), sharex=True,
                             squeeze=False)
    return fig, [a[0] for a in axes]


def _obs_marks(ax, obs: list, data: ResultsData, x_of=None) -> bool:
    drawn = False
    for o in obs:
        mid = (o.low + o.high) / 2
        x = x_of(o) if x_of else o.when
        if not data.scenario.start <= x <= data.when(data.n_hours)[0]:
            continue
        if math.isinf(o.high):   # "at least": a mark at the bound with an arrow up
            ax.errorbar([x], [o.low], yerr=[[0], [o.low * 0.3 + 1]], fmt="D", ms=4,
                        color="black", capsize=0, lw=1.2, zorder=5, uplims=True)
        else:
            ax.errorbar([x], [mid], yerr=[[mid - o.low], [o.high - mid]], fmt="D", ms=4,
                        color="black", capsize=3, lw=1.2, zorder=5)
        drawn = True
    return drawn


def _finish_panels(fig: Figure, axes: list, data: ResultsData, title: str, top: list,
                   any_obs: bool) -> Figure:
    """The end of a figure of stacked time panels: the date label on the bottom panel only,
    the title over 'mean of N replications with 95% band', and the legend below (the top
    handles, the observed marker when any was drawn, then the phases)."""
    for ax in axes[:-1]:
        ax.set_xlabel("")
    fig.suptitle(f"{title}\nmean of {data.n_reps} replications with 95% band", x=0.01,
                 ha="left")
    if any_obs:
        top = [*top, Line2D([], [], color="black", marker="D", ms=4, lw=1.2,
                            label="observed (reported range)")]
    return legend_below(fig, phase_handles(data), top)


def queue(data: ResultsData, crossing: str, observations: list | None = None) -> Figure:
    """Units waiting over time, one panel per class, km of queue on the right axis."""
    scn = data.scenario
    classes = data.classes_at(crossing)
    fig, axes = _panels(len(classes))
    t = data.when(np.arange(data.n_hours))
    end = data.when(data.n_hours)[0]
    any_obs = False
    for i, (ax, k) in enumerate(zip(axes, classes, strict=True)):
        j = data.groups.index((crossing, k))
        b = band(data.queue[:, j, :])
        color = class_color(data, k)
        shade_phases(ax, data, numbers=(i == 0))
        ax.fill_between(t, b.low, b.high, color=color, alpha=0.25, lw=0)
        ax.plot(t, b.mean, color=color, lw=1.1)
        obs = [o for o in (observations or []) if o.metric == "waiting_units"
               and o.crossing == crossing and o.cls == k]
        any_obs |= _obs_marks(ax, obs, data)
        marks = [o.high if o.high < math.inf else o.low for o in obs]
        ax.set_ylim(bottom=0, top=max(1.0, float(b.high.max()), *marks) * 1.1)
        ax.set_ylabel("units waiting")
        length = scn.classes[k].length_m
        km_axis(ax, length)
        ax.set_title(f"{k}" + (f" ({length:g} m a unit in line)" if length > 0 else ""),
                     loc="left")
        date_axis(ax, scn.start, end)
    top = [Line2D([], [], color="#555555", lw=1.1, label="mean units waiting"),
           Patch(color="#555555", alpha=0.25, label="95% confidence band")]
    return _finish_panels(fig, axes, data, f"Units waiting at {crossing_label(scn, crossing)}",
                          top, any_obs)


def flow(data: ResultsData, crossing: str, observations: list | None = None) -> Figure:
    """Units crossed per calendar day against the demand of the scenario, one panel a class."""
    scn = data.scenario
    classes = data.classes_at(crossing)
    fig, axes = _panels(len(classes), height=2.0)
    n_days = data.n_hours // 24
    edges = data.when(np.arange(n_days + 1) * 24)
    end = data.when(data.n_hours)[0]
    any_obs = False
    for i, (ax, k) in enumerate(zip(axes, classes, strict=True)):
        j = data.groups.index((crossing, k))
        per_day = daily(data.crossed[:, j, :])
        b = band(per_day)
        dem = daily(hourly_demand(data, crossing, k))
        color = class_color(data, k)
        shade_phases(ax, data, numbers=(i == 0))
        ax.stairs(b.high, edges, baseline=b.low, fill=True, color=color, alpha=0.25, lw=0)
        ax.stairs(b.mean, edges, color=color, lw=1.3, baseline=None)
        ax.stairs(dem, edges, color="black", lw=1.0, ls="--", baseline=None)
        obs = [o for o in (observations or []) if o.metric == "crossed_per_day"
               and o.crossing == crossing and o.cls == k]
        any_obs |= _obs_marks(ax, obs, data,
                              lambda o: datetime(o.when.year, o.when.month, o.when.day, 12))
        top_y = max(1.0, float(b.high.max()), float(dem.max()),
                    *[o.high if o.high < math.inf else o.low for o in obs])
        ax.set_ylim(0, top_y * 1.12)
        ax.set_ylabel("units per day")
        ax.yaxis.set_major_formatter(FuncFormatter(human))
        ax.set_title(k, loc="left")
        date_axis(ax, scn.start, end)
    top = [Line2D([], [], color="#555555", lw=1.3, label="crossed per day (mean)"),
           Patch(color="#555555", alpha=0.25, label="95% confidence band"),
           Line2D([], [], color="black", lw=1.0, ls="--",
                  label="demand x policy demand factor (no deferred or diverted trips)")]
    return _finish_panels(fig, axes, data,
                          f"Crossed per day against demand at {crossing_label(scn, crossing)}",
                          top, any_obs)


def waits(data: ResultsData) -> Figure | None:
    """Share of crossed units that waited longer than x, per crossing, one line per class."""
    if data.waits is None:
        return None
    scn = data.scenario
    crossings = [c for c in scn.crossings if any(g[0] == c for g in data.wait_groups)]
    ncol = 2 if len(crossings) > 1 else 1
    nrow = -(-len(crossings) // ncol)
    fig, axes = subplots(nrow, ncol, figsize=(10, 1.4 + 2.8 * nrow), squeeze=False,
                             sharex=True, sharey=True)
    edges = data.wait_edges_h
    top_edge = 1
    for ax, c in zip(axes.flat, crossings, strict=False):   # spare panels
        for k in scn.classes:
            if (c, k) not in data.wait_groups:
                continue
            counts = data.waits[:, data.wait_groups.index((c, k)), :]
            total = counts.sum(axis=1)
            ok = total > 0
            if not ok.any():
                continue
            # share waiting at least edge i, i = 1.. (the first bin is [0, 1 min))
            longer = 1.0 - np.cumsum(counts[ok], axis=1)[:, :-1] / total[ok, None]
            b = band(100.0 * longer)
            color = class_color(data, k)
            ax.fill_between(edges[1:], b.low, np.minimum(b.high, 100), color=color, alpha=0.2,
                            lw=0, step="post")
            ax.step(edges[1:], b.mean, where="post", color=color, lw=1.4,
                    label=f"{k} ({int(total[ok].mean()):,} crossed per replication)")
            nz = np.flatnonzero(b.high > 0.05)
            top_edge = max(top_edge, int(nz[-1]) + 2 if len(nz) else 1)
        ax.set_title(crossing_label(scn, c), loc="left")
        ax.legend(loc="upper right")
    for ax in axes.flat[len(crossings):]:
        ax.set_visible(False)
    hi = edges[min(top_edge, len(edges) - 1)]
    for ax in axes.flat:
        ax.set_xscale("log")
        ticks = [(v, s) for v, s in WAIT_TICKS if v <= hi * 1.01] or WAIT_TICKS[:2]
        ax.set_xticks([v for v, _ in ticks], [s for _, s in ticks])
        ax.minorticks_off()
        ax.set_xlim(1 / 60, max(hi, 1.0))
        ax.set_ylim(0, 100)
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:.0f}%"))
    for ax in axes[:, 0]:
        ax.set_ylabel("% of crossed units\nwaiting longer")
    for ax in axes[-1, :]:
        ax.set_xlabel("wait before crossing (all stages; log scale)")
    fig.suptitle("How long units waited: share of the units that crossed (arrived after "
                 f"the warm-up) whose wait exceeded x\nmean of {data.n_reps} replications "
                 "with 95% band", x=0.01, ha="left")
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    return fig


def costs(data: ResultsData) -> Figure | None:
    """Cost per crossing and class, stacked by component, with the total and its 95% CI
    written beside each bar."""
    from bordersim.metrics import COMPONENT_LABELS
    from bordersim.numbers import with_interval

    scn = data.scenario
    if scn.economics is None or not data.costs:
        return None
    rows = [r for r in data.costs if r["crossing"] != "all" and r["class"] != "all"]
    table: dict = {}
    for r in rows:
        table.setdefault((r["crossing"], r["class"]), {})[r["component"]] = r
    keys = [k for k, v in table.items()
            if "total" in v and v["total"]["mean"] and float(v["total"]["mean"]) > 0]
    if not keys:
        return None
    keys.sort(key=lambda k: float(table[k]["total"]["mean"]))
    comps = [c for c in COMPONENT_LABELS if c != "total" and any(
        table[k].get(c, {}).get("mean") and float(table[k][c]["mean"]) > 0 for k in keys)]
    cur = scn.economics.currency
    what = textwrap.fill(f"Cost by crossing and class, {cur}: "
                         + ", ".join(COMPONENT_LABELS[c] for c in comps), 95)
    lines = what.count("\n") + 2                   # the title's lines, with the note
    fig, ax = subplots(figsize=(10, 2.4 + 0.3 * lines + 0.4 * max(len(keys), 2)))
    left = np.zeros(len(keys))
    colors = {"time": "#4c72b0", "cargo_time": "#dd8452", "spoilage": "#55a868",
              "lost": "#c44e52", "diversion": "#8172b3"}
    for c in comps:
        vals = np.array([float(table[k].get(c, {}).get("mean") or 0) for k in keys])
        ax.barh(range(len(keys)), vals, left=left, color=colors.get(c, "#937860"),
                label=COMPONENT_LABELS[c], height=0.65)
        left += vals
    tot = [table[k]["total"] for k in keys]
    mean = np.array([float(r["mean"]) for r in tot])
    lo = np.array([float(r["ci_low"]) if r["ci_low"] else m
                   for r, m in zip(tot, mean, strict=True)])
    hi = np.array([float(r["ci_high"]) if r["ci_high"] else m
                   for r, m in zip(tot, mean, strict=True)])
    ax.errorbar(mean, range(len(keys)), xerr=[mean - lo, hi - mean], fmt="none",
                ecolor="black", capsize=3, lw=1)
    for y, r in enumerate(tot):
        text = with_interval(float(r["mean"]), float(r["ci_low"]) if r["ci_low"] else np.nan,
                             float(r["ci_high"]) if r["ci_high"] else np.nan,
                             money_value=True).replace("95% CI ", "")
        ax.text(hi[y], y, f"  {text}", va="center", fontsize=8)
    ax.set_yticks(range(len(keys)), [f"{c} · {k}" for c, k in keys])
    ax.set_xlim(0, hi.max() * 1.45)           # room for the totals written after the bars
    ax.xaxis.set_major_formatter(FuncFormatter(human))
    ax.set_xlabel(f"{cur}, units arriving after the warm-up (mean over {data.n_reps} "
                  "replications)")
    fig.suptitle(f"{what}\nbars: mean by component; whiskers and numbers: total with its "
                 "95% CI", x=0.01, ha="left")
    handles, _ = ax.get_legend_handles_labels()     # under the chart: never over a number
    return legend_below(fig, handles)


def observed(data: ResultsData, verdicts: list) -> Figure | None:
    """Every observed figure beside the simulated mean and 95% CI at the same time."""
    verdicts = [v for v in verdicts if v.simulated is not None]
    if not verdicts:
        return None
    metrics = list(dict.fromkeys(v.obs.metric for v in verdicts))
    sizes = [sum(v.obs.metric == m for v in verdicts) for m in metrics]
    fig, axes = subplots(len(metrics), 1, figsize=(10, 1.6 + 0.34 * sum(sizes)
                                                       + 0.7 * len(metrics)),
                             gridspec_kw={"height_ratios": [s + 1.5 for s in sizes]},
                             squeeze=False)
    units = {"waiting_units": "units waiting at that time",
             "crossed_per_day": "units crossed that day",
             "crossed_per_hour": "units crossed that hour",
             "wait_h": "mean hours queued by units crossing that day",
             "time_in_system_h": "mean hours at the crossing of units crossing that day"}
    for ax, m in zip(axes[:, 0], metrics, strict=True):
        vs = [v for v in verdicts if v.obs.metric == m]
        finite = [x for v in vs for x in (v.obs.low, v.obs.high, v.simulated.mean)
                  if math.isfinite(x)]
        right = max(finite, default=1.0) * 1.5
        for y, v in enumerate(vs):
            o, s = v.obs, v.simulated
            # an open range ("at least") runs to the right edge
            ax.plot([o.low, min(o.high, right)], [y, y], color="#999999", lw=7,
                    solid_capstyle="butt", alpha=0.7)
            color = "#2ca02c" if v.inside else "#d62728"
            lo = s.mean - s.ci_low if s.ci_low == s.ci_low else 0
            hi = s.ci_high - s.mean if s.ci_high == s.ci_high else 0
            ax.errorbar([s.mean], [y], xerr=[[lo], [hi]], fmt="o", color=color, ms=5,
                        capsize=3)
        when = "%-d %b" if m == "crossed_per_day" else "%-d %b %H:%M"
        labels = [f"{v.obs.when.strftime(when)} · {v.obs.crossing} · {v.obs.cls}"
                  for v in vs]
        ax.set_yticks(range(len(vs)), labels)
        ax.set_ylim(len(vs) - 0.5, -0.5)
        vals = [x for x in finite if not math.isnan(x)] or [1.0]
        pos = [x for x in vals if x > 0]
        if pos and max(pos) / min(pos) > 50:
            # counts from 0 to thousands: linear below 1, logarithmic above
            ax.set_xscale("symlog", linthresh=1.0, linscale=0.4)
            top = max(vals) * 1.6
            ax.set_xticks([t for t in (0, 1, 10, 100, 1000, 10000, 100000) if t <= top])
            ax.set_xlim(0, top)
        else:
            ax.set_xlim(0, max(vals) * 1.1)
        ax.xaxis.set_major_formatter(FuncFormatter(human))
        ax.set_xlabel(units.get(m, m))
        ax.set_title(m.replace("_", " "), loc="left")
    handles = [Line2D([], [], color="#999999", lw=7, alpha=0.7, label="observed range"),
               Line2D([], [], color="#2ca02c", marker="o", label="simulated mean, 95% CI: "
                      "inside the observed range"),
               Line2D([], [], color="#d62728", marker="o", label="outside")]
    fig.suptitle(f"Observed figures against the simulation ({data.n_reps} replications)",
                 x=0.01, ha="left")
    return legend_below(fig, handles)
