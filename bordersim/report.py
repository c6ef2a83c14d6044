"""``bordersim report``: report.html and figures/*.png inside a results or compare folder.

The folder stays self-contained: the page links its figures by relative paths
and has no scripts and no external resources, so it can be zipped, mailed or
opened from disk. The figures are replaced as a whole (written to a temporary
folder first), then the page.
"""

from __future__ import annotations

import html
import math
import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from bordersim.loading import ScenarioError
from bordersim.report_data import ResultsData, crossing_label, date_text, load_results
from bordersim.report_figures import literal_text
from bordersim.results import atomic_folder

__all__ = ["write_report", "Figure", "page", "save_figures", "REPORT_FILE", "FIGURES_DIR"]

REPORT_FILE = "report.html"
FIGURES_DIR = "figures"

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; color: #222;
       max-width: 1120px; margin: 2em auto; padding: 0 1em; line-height: 1.45; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { margin-top: 2em; border-bottom:
  1px solid #ddd; padding-bottom: 0.2em; } h3 { margin-top: 1.5em; }
.lede { color: #444; max-width: 60em; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.9em; }
th, td { padding: 0.25em 0.7em; border-bottom: 1px solid #e5e5e5; text-align: left;
         vertical-align: top; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
figure { margin: 1.2em 0 2em 0; } figure img { max-width: 100%; height: auto;
  border: 1px solid #eee; } figcaption { color: #555; font-size: 0.9em; max-width: 60em; }
.note { color: #666; font-size: 0.9em; } nav a { margin-right: 1em; }
td.d { white-space: nowrap; } .wide { overflow-x: auto; }
table.numbers { font-size: 0.82em; } table.numbers td, table.numbers th { padding: 0.2em 0.45em; }
table.numbers td:first-child { white-space: nowrap; }
.yes { color: #1a7f37; font-weight: 600; } .no { color: #666; }
"""


@dataclass(frozen=True)
class Figure:
    """A figure of the report: its file name, what it shows (alt text) and a caption."""

    name: str
    alt: str
    caption: str

    def html(self) -> str:
        return (f'<figure><img src="{FIGURES_DIR}/{html.escape(self.name)}" '
                f'alt="{html.escape(self.alt)}">'
                f"<figcaption>{self.caption}</figcaption></figure>")


def esc(x) -> str:
    return html.escape(str(x))


def num(x: float, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    a = abs(x)
    if a >= 1e6:
        return f"{x / 1e6:.3g} M"
    if a >= 1000:
        return f"{x:,.0f}"
    if a >= 10 or x == int(x):
        return f"{x:,.1f}".rstrip("0").rstrip(".")
    return f"{x:.{digits}g}"


def page(title: str, body: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<link rel="icon" href="data:,">'
            f"<title>{esc(title)}</title><style>{CSS}</style></head>\n<body>\n{body}\n"
            f"</body></html>\n")


def save_figures(folder: Path, figures: list[tuple[str, object]]) -> None:
    """Save (name, matplotlib Figure) pairs as folder/figures/*.png, replacing the old set."""
    import matplotlib.pyplot as plt

    def write(tmp: Path) -> None:
        for name, fig in figures:
            fig.savefig(tmp / name, dpi=110)

    try:
        atomic_folder(Path(folder) / FIGURES_DIR, write)
    finally:
        for _, fig in figures:
            plt.close(fig)


def write_page(folder: Path, text: str) -> Path:
    out = Path(folder) / REPORT_FILE
    tmp = out.with_name(f".{REPORT_FILE}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, out)
    return out


@literal_text
def write_report(folder: Path, observations: Path | None = None) -> Path:
    """Write report.html and figures/ into a results folder or a compare folder."""
    from bordersim.compare import is_compare_folder

    folder = Path(folder)
    if not folder.exists():
        raise ScenarioError(str(folder), [("", "folder not found")])
    if not folder.is_dir():
        raise ScenarioError(str(folder), [("", "expected a results folder, got a file")])
    if is_compare_folder(folder):
        from bordersim.report_compare import write_compare_report

        return write_compare_report(folder, observations)
    return write_results_report(folder, observations)


# -- one results folder ----------------------------------------------------------------------

def _facts(data: ResultsData) -> str:
    scn, man = data.scenario, data.manifest
    end = scn.start + timedelta(hours=scn.duration)
    window_end = end - timedelta(hours=scn.cooldown)
    crossings = "".join(
        f"<li>{esc(crossing_label(scn, c))}: demand "
        + (", ".join(f"{esc(k)} {num(v)}" for k, v in spec.demand.items() if v > 0)
           or "none") + " a day</li>"
        for c, spec in scn.crossings.items())
    desc = f'<p class="lede">{esc(scn.description.strip())}</p>' if scn.description else ""
    return f"""{desc}
<ul>
<li><b>Run</b>: {date_text(scn.start)} to {date_text(end)} ({scn.duration / 24:g} days);
statistics cover units arriving from {date_text(scn.start + timedelta(hours=scn.warmup))} (after a
{scn.warmup / 24:g}-day warm-up) until {date_text(window_end)}.</li>
<li><b>Replications</b>: {data.n_reps}, master seed {esc(man.get('seed'))}; every interval is a
95% Student-t interval over replications.</li>
<li><b>Crossings</b> (demand as units a day before any policy):<ul>{crossings}</ul></li>
</ul>"""


def _phase_table(data: ResultsData) -> str:
    if not data.phases:
        return "<p>No policy phases: the base configuration throughout.</p>"
    rows = []
    for p in data.phases:
        t0 = data.when(p.start_h)[0]
        rows.append(f"<tr><td class='n'>{p.number}</td><td class='d'>{date_text(t0)}</td>"
                    f"<td>{esc(p.label)}</td><td>{esc(p.scope or 'all crossings')}</td>"
                    f"<td>{esc(p.changes)}</td></tr>")
    return ("<table><tr><th class='n'>#</th><th>from</th><th>phase</th><th>where</th>"
            f"<th>what changes</th></tr>{''.join(rows)}</table>")


def _key_table(data: ResultsData) -> str:
    from bordersim.compare import shown_keys

    keys = shown_keys(list(dict.fromkeys((c, k) for c, k, _ in data.summary)))
    cur = data.scenario.economics.currency if data.scenario.economics else ""
    cols = [("arrivals", "arrivals"), ("crossed", "crossed"), ("wait_mean_h", "mean wait h"),
            ("wait_p95_h", "p95 wait h"), ("queue_max", "max queue"),
            ("queue_max_km", "max queue km"), ("reneged", "gave up")]
    if data.scenario.economics:
        cols.append(("cost_total", f"cost {cur}"))
    head = "".join(f"<th class='n'>{esc(h)}</th>" for _, h in cols)
    rows = []
    for c, k in keys:
        cells = []
        for m, _ in cols:
            r = data.summary.get((c, k, m))
            if not r or r["mean"] == "":
                cells.append("<td class='n'>–</td>")
                continue
            ci = (f"<br><span class='note'>{num(float(r['ci_low']))}–"
                  f"{num(float(r['ci_high']))}</span>") if r["ci_low"] else ""
            cells.append(f"<td class='n'>{num(float(r['mean']))}{ci}</td>")
        rows.append(f"<tr><td>{esc(c)}</td><td>{esc(k)}</td>{''.join(cells)}</tr>")
    return (f"<div class='wide'><table class='numbers'><tr><th>crossing</th><th>class</th>"
            f"{head}</tr>{''.join(rows)}</table></div>"
            "<p class='note'>Mean over replications, 95% interval below it, for units arriving "
            "after the warm-up: waits of units that crossed (hours), longest queue in units "
            "and in km of road, units that gave up waiting. All metrics are in summary.csv."
            "</p>")


def results_figures(data: ResultsData, verdicts: list | None,
                    observations: list | None) -> tuple[list, dict]:
    """(name, Figure) pairs and their report.Figure descriptions, keyed by section."""
    from bordersim import report_figures as rf

    scn = data.scenario
    made: list = []
    sections: dict[str, list[Figure]] = {"timeline": [], "queues": [], "waits": [],
                                         "costs": [], "observed": []}

    def add(section: str, name: str, fig, alt: str, caption: str) -> None:
        if fig is not None:
            made.append((name, fig))
            sections[section].append(Figure(name, alt, caption))

    if data.phases:
        add("timeline", "timeline.png", rf.timeline(data),
            f"Policy timeline of {scn.name}: {len(data.phases)} phases as bands on the calendar",
            "Each phase is a band from its start to the next phase's start; the numbers are "
            "the ones shading the time plots below.")
    for c in scn.crossings:
        if not data.classes_at(c):
            continue
        label = crossing_label(scn, c)
        add("queues", f"queue_{c}.png", rf.queue(data, c, observations),
            f"Units waiting at {label} over time, per class, with 95% band and policy phases",
            f"<b>{esc(label)}</b>: units waiting at each hour (left axis) and the length of "
            "that line in km (right axis), mean over replications with its 95% band."
            + (" Diamonds: observed figures for this crossing and class." if observations
               else ""))
        add("queues", f"flow_{c}.png", rf.flow(data, c, observations),
            f"Units crossed per day at {label} against demand, per class",
            f"<b>{esc(label)}</b>: units crossed per calendar day against the demand the "
            "scenario sends (dashed). A gap between the two is traffic queuing, giving up "
            "or diverting.")
    add("waits", "waits.png", rf.waits(data),
        "Distribution of waits of crossed units, per crossing and class",
        "Read across: the share of units that waited longer than the time on the x axis "
        "(log scale), e.g. where a line crosses 50% is the median wait.")
    add("costs", "costs.png", rf.costs(data),
        "Cost of waiting by crossing, class and component",
        "Costs of the units arriving after the warm-up, by component (costs.csv).")
    if verdicts:
        add("observed", "observed.png", rf.observed(data, verdicts),
            "Observed figures against simulated means with 95% intervals",
            "Grey: the range reported by the source; dot: simulated mean and 95% CI at the "
            "same time, summed over the crossings and classes the source names (check.csv).")
    return made, sections


def results_body(data: ResultsData, sections: dict, heading: str = "h1",
                 extra: str = "") -> str:
    scn = data.scenario
    parts = [f"<{heading}>{esc(scn.name)}</{heading}>", _facts(data), extra]
    parts.append("<h2 id='policy'>Policy timeline</h2>" + _phase_table(data))
    parts += [f.html() for f in sections["timeline"]]
    parts.append("<h2 id='numbers'>Key numbers</h2>" + _key_table(data))
    parts.append("<h2 id='queues'>Queues and flows, crossing by crossing</h2>"
                 "<p class='note'>Shaded bands are the policy phases (numbers as in the "
                 "timeline); the hatched start is the warm-up.</p>")
    parts += [f.html() for f in sections["queues"]]
    if sections["waits"]:
        parts.append("<h2 id='waits'>Waits</h2>")
        parts += [f.html() for f in sections["waits"]]
    if sections["costs"]:
        parts.append("<h2 id='costs'>Costs</h2>")
        parts += [f.html() for f in sections["costs"]]
    if sections["observed"]:
        parts.append("<h2 id='observed'>Against observations</h2>")
        parts += [f.html() for f in sections["observed"]]
    man = data.manifest
    parts.append(f"<p class='note'>bordersim {esc(man.get('versions', {}).get('bordersim'))}, "
                 f"run {esc(man.get('finished', ''))}, "
                 f"{esc(' '.join(man.get('command', [])))}. "
                 "Data: summary.csv, replications.csv, timeseries.csv, costs.csv.</p>")
    return "\n".join(parts)


def _verdicts(folder: Path, observations: Path | None):
    if observations is None:
        return None, None
    from bordersim.check import check, read_observations

    return check(folder, observations), read_observations(observations)


def write_results_report(folder: Path, observations: Path | None = None) -> Path:
    data = load_results(folder)
    verdicts, obs = _verdicts(folder, observations)
    made, sections = results_figures(data, verdicts, obs)
    save_figures(folder, made)
    nav = "<nav>" + "".join(f"<a href='#{a}'>{t}</a>" for a, t in (
        ("policy", "Policy"), ("numbers", "Key numbers"), ("queues", "Queues"),
        ("waits", "Waits"), ("costs", "Costs"), ("observed", "Observations"))
        if a in ("policy", "numbers", "queues") or sections.get(a)) + "</nav>"
    body = results_body(data, sections, extra=nav)
    return write_page(folder, page(f"bordersim report: {data.scenario.name}", body))
