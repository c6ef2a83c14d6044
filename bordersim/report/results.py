"""The report of one results folder, message first.

The page opens with the executive summary (:mod:`bordersim.report.summary`),
then the costs with their numbers, the queues and flows crossing by crossing,
the waits and, when given, the observations; the policy timeline, the table of
key numbers and the facts of the run close it.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from bordersim.metrics import COMPONENT_LABELS
from bordersim.metrics import label as metric_label
from bordersim.numbers import money, with_interval
from bordersim.report.data import ResultsData, crossing_label, date_text, load_results
from bordersim.report.figures import literal_text
from bordersim.report.html import Figure, Figures, Output, esc, num, page, table, write_page
from bordersim.report.summary import Value, summary_html
from bordersim.results import shown_keys
from bordersim.scenario import ALL

__all__ = ["write_results_report", "results_figures", "results_body", "cost_table"]

SECTIONS = ("costs", "queues", "waits", "observed", "timeline")


def _facts(data: ResultsData) -> str:
    scn, man = data.scenario, data.manifest
    end = scn.start + timedelta(hours=scn.duration)
    window_end = end - timedelta(hours=scn.cooldown)
    crossings = "".join(
        f"<li>{esc(crossing_label(scn, c))}: demand "
        + (", ".join(f"{esc(k)} {num(v)}" for k, v in spec.demand.items() if v > 0)
           or "none") + " a day</li>"
        for c, spec in scn.crossings.items())
    return f"""<ul>
<li><b>Run</b>: {date_text(scn.start)} to {date_text(end)} ({scn.duration / 24:g} days);
statistics cover units arriving from {date_text(scn.start + timedelta(hours=scn.warmup))} (after a
{scn.warmup / 24:g}-day warm-up) until {date_text(window_end)}.</li>
<li><b>Replications</b>: {data.n_reps}, master seed {esc(man.get('seed'))}; every interval is a
95% Student-t interval over replications, cut at zero for quantities that cannot be
negative.</li>
<li><b>Crossings</b> (demand as units a day before any policy):<ul>{crossings}</ul></li>
</ul>"""


def _phase_table(data: ResultsData) -> str:
    if not data.phases:
        return "<p>No policy phases: the base configuration throughout.</p>"
    rows = [[str(p.number), date_text(data.when(p.start_h)[0]), esc(p.label),
             esc(p.scope or "all crossings"), esc(p.changes)] for p in data.phases]
    return table(["#", "from", "phase", "where", "what changes"], rows, numeric={0})


KEY_COLUMNS = ("arrivals", "crossed", "reneged", "balked", "wait_mean_h", "wait_p50_h",
               "wait_p95_h", "queue_max", "cost_total")


def _key_table(data: ResultsData) -> str:
    keys = shown_keys(list(dict.fromkeys((c, k) for c, k, _ in data.summary)))
    cur = data.scenario.economics.currency if data.scenario.economics else None
    cols = [m for m in KEY_COLUMNS if m != "cost_total" or data.scenario.economics]
    rows = []
    for c, k in keys:
        cells = [esc(c), esc(k)]
        for m in cols:
            v = Value(data.summary.get((c, k, m)), m)
            if not v:
                cells.append("–")
                continue
            ci = (f"<br><span class='note'>{num(v.low)}–{num(v.high)}</span>"
                  if v.low == v.low else "")
            cells.append(f"{num(v.mean)}{ci}")
        rows.append(cells)
    header = ["crossing", "class", *(esc(metric_label(m, cur)) for m in cols)]
    totals = {i for i, (c, k) in enumerate(keys) if ALL in (c, k)}
    return ("<div class='wide'>" + table(header, rows, numeric=set(range(2, 2 + len(cols))),
                                         cls="numbers", total_rows=totals) + "</div>"
            "<p class='note'>Mean over replications, 95% interval below it, for units "
            "arriving after the warm-up: waits of units that crossed, over every stage; "
            "longest queue in units; units that gave up waiting "
            "(reneged) or turned back at the queue (balked). Every metric is in summary.csv; "
            "docs/results.md says what each one means.</p>")


def cost_table(data: ResultsData) -> str:
    """The numbers of the cost chart: each component and the total with its interval."""
    cur = data.scenario.economics.currency if data.scenario.economics else None
    by = {(r["crossing"], r["class"], r["component"]): Value(r, r["component"])
          for r in data.costs}
    comps = [c for c in COMPONENT_LABELS if c != "total"
             and any(v.mean > 0 for (_, _, cc), v in by.items() if cc == c)]
    own = sorted(((by[(c, k, "total")].mean, c, k) for c in data.scenario.crossings
                  for k in data.scenario.classes if (c, k, "total") in by
                  and by[(c, k, "total")].mean > 0), reverse=True)
    keys = [(c, k) for _, c, k in own]
    classes = [k for k in data.scenario.classes if (ALL, k, "total") in by
               and by[(ALL, k, "total")].mean > 0]
    if len(keys) > 1:
        keys += [(ALL, k) for k in classes if sum(1 for _, kk in keys if kk == k) > 1]
        keys.append((ALL, ALL))
    rows = []
    for c, k in keys:
        t = by[(c, k, "total")]
        rows.append([esc(c), esc(k),
                     *(esc(money(by[(c, k, comp)].mean)) if (c, k, comp) in by else "–"
                       for comp in comps),
                     esc(with_interval(t.mean, t.low, t.high, money_value=True)
                         .replace("95% CI ", ""))])
    header = ["crossing", "class", *(esc(COMPONENT_LABELS[c]) for c in comps),
              f"total, {esc(cur)} (95% CI)"]
    totals = {i for i, (c, k) in enumerate(keys) if ALL in (c, k)}
    return ("<div class='wide'>" + table(header, rows, numeric=set(range(2, 3 + len(comps))),
                                         cls="numbers", total_rows=totals) + "</div>"
            f"<p class='note'>Mean cost in {esc(cur)} of the units arriving after the warm-up "
            "(costs.csv); rows with no cost are left out. docs/results.md says how each "
            "component is computed.</p>")


def results_figures(data: ResultsData, verdicts: list | None, observations: list | None,
                    output: Output | None = None) -> tuple[Figures, dict[str, list[Figure]]]:
    """The figures of the page, drawn (not yet saved), and where each one goes."""
    from bordersim.report import figures as rf

    scn = data.scenario
    figs = Figures(output or Output())
    sections: dict[str, list[Figure]] = {s: [] for s in SECTIONS}

    def add(section: str, name: str, fig, alt: str, caption: str) -> None:
        f = figs.add(name, fig, alt, caption)
        if f is not None:
            sections[section].append(f)

    if scn.economics is not None:
        add("costs", "costs", rf.costs(data),
            "Cost by crossing and class, stacked by component, with the 95% interval of each "
            "total", "Bars: mean cost of the units arriving after the warm-up, by component; "
            "whiskers and numbers: the total and its 95% interval. The table below has every "
            "number (costs.csv).")
    for c in scn.crossings:
        if not data.classes_at(c):
            continue
        label = crossing_label(scn, c)
        add("queues", f"queue_{c}", rf.queue(data, c, observations),
            f"Units waiting at {label} over time, per class, with 95% band and policy phases",
            f"<b>{esc(label)}</b>: units waiting at each hour (left axis) and the length of "
            "that line in km (right axis), mean over replications with its 95% band."
            + (" Diamonds: observed figures for this crossing and class." if observations
               else ""))
        add("queues", f"flow_{c}", rf.flow(data, c, observations),
            f"Units crossed per day at {label} against demand, per class",
            f"<b>{esc(label)}</b>: units crossed per calendar day against the demand the "
            "scenario sends (dashed). A gap between the two is traffic queuing, giving up "
            "or diverting.")
    add("waits", "waits", rf.waits(data),
        "Distribution of waits of crossed units, per crossing and class",
        "Read across: the share of units that waited longer than the time on the x axis "
        "(log scale), e.g. where a line crosses 50% is the median wait.")
    if verdicts:
        add("observed", "observed", rf.observed(data, verdicts),
            "Observed figures against simulated means with 95% intervals",
            "Grey: the range reported by the source; dot: simulated mean and 95% CI at the "
            "same time, summed over the crossings and classes the source names (check.csv).")
    if data.phases:
        add("timeline", "timeline", rf.timeline(data),
            f"Policy timeline of {scn.name}: {len(data.phases)} phases as bands on the calendar",
            "Each phase is a band from its start to the next phase's start; the numbers are "
            "the ones shading the time plots above.")
    return figs, sections


def results_body(data: ResultsData, figs: Figures, sections: dict, heading: str = "h1",
                 nav: bool = True) -> str:
    scn = data.scenario
    parts = [f"<{heading}>{esc(scn.name)}</{heading}>"]
    if scn.description:
        parts.append(f'<p class="lede">{esc(" ".join(scn.description.split()))}</p>')
    parts.append(summary_html(data))
    if nav:
        links = [("costs", "Costs"), ("queues", "Queues"), ("waits", "Waits"),
                 ("observed", "Observations"), ("policy", "Policy"),
                 ("numbers", "Key numbers"), ("run", "About the run")]
        parts.append("<nav>" + "".join(
            f"<a href='#{a}'>{t}</a>" for a, t in links
            if a in ("policy", "numbers", "run") or sections.get(a)) + "</nav>")
    if sections["costs"]:
        parts.append("<h2 id='costs'>Costs</h2>")
        parts += [figs.html(f) for f in sections["costs"]]
        parts.append(cost_table(data))
    parts.append("<h2 id='queues'>Queues and flows, crossing by crossing</h2>"
                 "<p class='note'>Shaded bands are the policy phases (numbers as in the "
                 "policy timeline below); the hatched start is the warm-up.</p>")
    parts += [figs.html(f) for f in sections["queues"]]
    if sections["waits"]:
        parts.append("<h2 id='waits'>Waits</h2>")
        parts += [figs.html(f) for f in sections["waits"]]
    if sections["observed"]:
        parts.append("<h2 id='observed'>Against observations</h2>")
        parts += [figs.html(f) for f in sections["observed"]]
    parts.append("<h2 id='policy'>Policy timeline</h2>" + _phase_table(data))
    parts += [figs.html(f) for f in sections["timeline"]]
    parts.append("<h2 id='numbers'>Key numbers</h2>" + _key_table(data))
    parts.append("<h2 id='run'>About the run</h2>" + _facts(data))
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


@literal_text
def write_results_report(folder: Path, observations: Path | None = None,
                         output: Output | None = None) -> Path:
    data = load_results(folder)
    verdicts, obs = _verdicts(folder, observations)
    figs, sections = results_figures(data, verdicts, obs, output)
    figs.save(folder)
    body = results_body(data, figs, sections)
    return write_page(folder, page(f"bordersim report: {data.scenario.name}", body))
