"""The executive summary of one results folder: the message in a few sentences, with numbers.

What a policy brief needs first: the total cost with its interval and currency,
what it is made of and who bore it; the worst queues and the longest waits;
the cargo held up and turned back; the units that gave up. Every number is a
mean over replications with its 95% interval, read from summary.csv and
costs.csv, so the page says nothing the files do not.
"""

from __future__ import annotations

import math
from datetime import timedelta

from bordersim.labels import crossing_name
from bordersim.metrics import COMPONENT_LABELS, clip_metric
from bordersim.numbers import count, hours, money, num, share, with_interval
from bordersim.report.data import ResultsData, date_text
from bordersim.report.html import esc
from bordersim.scenario import ALL
from bordersim.stats import Interval

__all__ = ["summary_html", "summary_sentences", "Value"]


class Value:
    """A mean and its 95% interval as read from a summary or costs row (NaN when absent),
    the interval cut to the metric's range (folders written before intervals were cut)."""

    def __init__(self, row: dict | None, metric: str | None = None):
        def f(key: str) -> float:
            return float(row[key]) if row and row.get(key) not in (None, "") else math.nan

        iv = Interval(f("mean"), f("ci_low"), f("ci_high"), math.nan, 0)
        metric = metric or (row or {}).get("metric") or (row or {}).get("component")
        if metric:
            iv = clip_metric(iv, metric)
        self.mean, self.low, self.high = iv.mean, iv.ci_low, iv.ci_high

    def __bool__(self) -> bool:
        return not math.isnan(self.mean)


def _value(data: ResultsData, crossing: str, cls: str, metric: str) -> Value:
    return Value(data.summary.get((crossing, cls, metric)), metric)


def _costs(data: ResultsData) -> dict[tuple[str, str, str], Value]:
    return {(r["crossing"], r["class"], r["component"]): Value(r) for r in data.costs}


def _own_keys(data: ResultsData) -> list[tuple[str, str]]:
    """(crossing, class) pairs with traffic, in scenario order."""
    return [(c, k) for c in data.scenario.crossings for k in data.scenario.classes
            if _value(data, c, k, "arrivals").mean > 0]


def _where(data: ResultsData, crossing: str) -> str:
    return esc(crossing_name(data.scenario, crossing))


def _window(data: ResultsData) -> str:
    scn = data.scenario
    w0 = scn.start + timedelta(hours=scn.warmup)
    w1 = scn.start + timedelta(hours=scn.duration - scn.cooldown)
    return f"from {date_text(w0)} to {date_text(w1)}"


def _cost_sentences(data: ResultsData) -> list[str]:
    scn = data.scenario
    if scn.economics is None:
        return ["The scenario has no <code>economics</code> section, so no costs are "
                "computed; add one to put a price on the waiting (see docs/reference.md)."]
    cur = scn.economics.currency
    costs = _costs(data)
    total = costs.get((ALL, ALL, "total")) or _value(data, ALL, ALL, "cost_total")
    if not total:
        return []
    out = [f"The units arriving {_window(data)} cost <b>"
           f"{esc(with_interval(total.mean, total.low, total.high, cur, money_value=True))}"
           "</b>."]
    out += _uncertainty_sentences(data, cur)
    if total.mean <= 0:
        return out
    parts = sorted(((costs[(ALL, ALL, c)].mean, c) for c in COMPONENT_LABELS
                    if c != "total" and (ALL, ALL, c) in costs
                    and costs[(ALL, ALL, c)].mean > 0), reverse=True)
    if parts:
        out.append("It is made of " + _join([f"{COMPONENT_LABELS[c]} {esc(money(v, cur))} "
                                             f"({share(v, total.mean)})" for v, c in parts])
                   + ".")
    by_class = sorted(((costs[(ALL, k, "total")].mean, k) for k in scn.classes
                       if (ALL, k, "total") in costs and costs[(ALL, k, "total")].mean > 0),
                      reverse=True)
    if by_class:
        top_v, top_k = by_class[0]
        where = sorted(((costs[(c, top_k, "total")].mean, c) for c in scn.crossings
                        if (c, top_k, "total") in costs), reverse=True)
        at = ""
        if len([w for w in where if w[0] > 0]) > 1:
            at = (f", {esc(money(where[0][0], cur))} of it at "
                  f"{_where(data, where[0][1])}")
        elif where:
            at = f", at {_where(data, where[0][1])}"
        sentence = (f"<b>{esc(top_k)}</b> bore {share(top_v, total.mean)} of it "
                    f"({esc(money(top_v, cur))}{at})")
        rest = [f"{esc(k)} {esc(money(v, cur))} ({share(v, total.mean)})"
                for v, k in by_class[1:4]]
        if len(by_class) > 4:
            rest.append(f"the other classes {esc(money(sum(v for v, _ in by_class[4:]), cur))}")
        out.append(sentence + ("; " + _join(rest) if rest else "") + ".")
    return out


def _uncertainty_sentences(data: ResultsData, cur: str) -> list[str]:
    """With a posterior (``--posterior``): how sure the estimated parameters let us be."""
    post = data.manifest.get("posterior")
    row = data.summary.get((ALL, ALL, "cost_total"))
    if not post or not row or row.get("p05") in (None, "") or row.get("p95") in (None, ""):
        return []
    lo, hi = float(row["p05"]), float(row["p95"])
    text = (f"The replications ran parameter sets drawn from the calibration "
            f"<code>{esc(str(post.get('folder', '')))}</code>, so the spread of the cost over "
            f"them carries what the observations leave uncertain: 90% of them lie between "
            f"<b>{esc(money(lo, cur))}</b> and <b>{esc(money(hi, cur))}</b>")
    shr = row.get("param_share")
    if shr not in (None, ""):
        text += (f"; the parameters account for {share(float(shr), 1.0)} of that spread, the "
                 "Monte Carlo noise of a replication for the rest")
    return [text + ". The interval after the mean is the precision of the mean alone."]


def _queue_sentences(data: ResultsData) -> list[str]:
    keys = _own_keys(data)
    ranked = sorted(((_value(data, c, k, "waiting_hours_total").mean, c, k) for c, k in keys),
                    reverse=True)
    ranked = [r for r in ranked if r[0] > 0][:3]
    out = []
    if ranked:
        items = []
        for _, c, k in ranked:
            q = _value(data, c, k, "queue_max")
            km = _value(data, c, k, "queue_max_km")
            length = f", {num(km.mean)} km of road" if km and km.mean > 0 else ""
            items.append(f"<b>{esc(k)}</b> at {_where(data, c)}, up to "
                         f"{esc(with_interval(q.mean, q.low, q.high, fmt=count))} waiting at "
                         f"once{length}")
        out.append("The worst queues (the most hours waited): " + "; ".join(items) + ".")
    waits = sorted(((_value(data, c, k, "wait_mean_h").mean, c, k) for c, k in keys
                    if _value(data, c, k, "crossed").mean > 0), reverse=True)
    waits = [w for w in waits if w[0] > 0][:3]
    if waits:
        items = []
        for _, c, k in waits:
            w = _value(data, c, k, "wait_mean_h")
            p50 = _value(data, c, k, "wait_p50_h")
            p95 = _value(data, c, k, "wait_p95_h")
            items.append(f"<b>{esc(k)}</b> at {_where(data, c)}, "
                         f"{esc(with_interval(w.mean, w.low, w.high))} h on average "
                         f"— median {esc(hours(p50.mean))}, one in twenty over "
                         f"{esc(hours(p95.mean))}")
        out.append("The longest waits of the units that crossed: " + "; ".join(items) + ".")
    return out


def _cargo_and_lost_sentences(data: ResultsData) -> list[str]:
    scn = data.scenario
    out = []
    cur = scn.economics.currency if scn.economics else None
    held = _value(data, ALL, ALL, "cargo_value_days_delayed")
    if held and held.mean > 0:
        days = (scn.duration - scn.warmup - scn.cooldown) / 24
        per_day = f"; on an average day, cargo worth {esc(money(held.mean / days, cur))} " \
                  "stood in line" if days > 0 else ""
        out.append("Cargo held up: "
                   f"{esc(with_interval(held.mean, held.low, held.high, cur, True))} × days "
                   f"of waiting{per_day}.")
    lost = _value(data, ALL, ALL, "cargo_value_lost")
    if lost and lost.mean > 0:
        out.append(f"Cargo turned back with the units that gave up or turned back: "
                   f"{esc(with_interval(lost.mean, lost.low, lost.high, cur, True))}.")
    gone = []
    for metric, words in (("reneged", "gave up waiting"),
                          ("balked", "turned back at the queue"),
                          ("diverted", "drove to another crossing"),
                          ("waiting_at_end", "were still waiting at the end")):
        v = _value(data, ALL, ALL, metric)
        if not v or v.mean <= 0:
            continue
        by = sorted(((_value(data, ALL, k, metric).mean, k) for k in scn.classes), reverse=True)
        by = [(x, k) for x, k in by if x > 0]
        if len(by) == 1:
            detail = f" ({esc(by[0][1])} only)"
        elif by:
            detail = " (" + ", ".join(f"{esc(k)} {count(x)}" for x, k in by[:3]) + ")"
        else:
            detail = ""
        gone.append(f"{esc(with_interval(v.mean, v.low, v.high, fmt=count))} {words}{detail}")
    if gone:
        out.append("Of the units arriving, " + _join(gone) + ".")
    return out


def _join(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def summary_sentences(data: ResultsData) -> list[list[str]]:
    """Paragraphs of sentences (HTML): cost, queues and waits, cargo and lost trips."""
    return [p for p in (_cost_sentences(data), _queue_sentences(data),
                        _cargo_and_lost_sentences(data)) if p]


def summary_html(data: ResultsData) -> str:
    note = (f"<p class='note'>Means over {data.n_reps} replications with 95% intervals, cut "
            "at zero for quantities that cannot be negative; costs and counts are of the "
            f"units arriving {_window(data)} (after the warm-up).</p>")
    paras = "".join(f"<p>{' '.join(p)}</p>" for p in summary_sentences(data))
    return f"<section id='summary'><h2>Summary</h2>{paras}{note}</section>"
