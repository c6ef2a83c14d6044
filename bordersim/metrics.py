"""What each metric and cost component means, in which unit, and which values it can take.

One place for the words: the console tables, the reports and docs/results.md
use these labels and units, and every interval of a metric is clipped to the
metric's range (:func:`clip`): a count or a wait is never negative, so a
t-interval ``mean ± half-width`` that reaches below zero is cut at zero. The
true value lies in the range, so the clipped interval covers it whenever the
unclipped one does: its coverage is at least the nominal 95%.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from bordersim.stats import Interval

__all__ = ["MetricInfo", "CATALOGUE", "COMPONENT_LABELS", "info", "label", "unit", "clip",
           "clip_metric"]


@dataclass(frozen=True)
class MetricInfo:
    name: str
    label: str            # a few words for a column or an axis
    unit: str             # "{cur}" stands for the scenario's currency
    what: str             # one sentence for docs/results.md
    low: float = 0.0      # the metric's range: every one of them is at least zero
    high: float = math.inf
    count: bool = False   # a number of units: shown without decimals


def _m(name, label, unit, what, **kw) -> MetricInfo:
    return MetricInfo(name, label, unit, what, **kw)


CATALOGUE: dict[str, MetricInfo] = {m.name: m for m in (
    _m("arrivals", "arrivals", "units", "units arriving in the statistics window (a diverted "
       "unit counts again where it arrives)", count=True),
    _m("crossed", "crossed", "units", "units of those arrivals that crossed", count=True),
    _m("reneged", "gave up waiting", "units", "units whose patience ran out in a queue "
       "(reneged)", count=True),
    _m("balked", "turned back", "units", "units that left at once on finding the queue "
       "over their class's balking threshold", count=True),
    _m("diverted", "diverted", "units", "units that left for another crossing", count=True),
    _m("waiting_at_end", "still waiting at the end", "units", "units still queuing when the "
       "run ends (or still booked in an electronic queue, off the road)", count=True),
    _m("in_service_at_end", "in service at the end", "units", "units being served when the "
       "run ends", count=True),
    _m("wait_mean_h", "mean wait", "h", "mean time queued, over every stage, of the units "
       "that crossed"),
    _m("wait_p50_h", "median wait", "h", "median wait of the units that crossed"),
    _m("wait_p90_h", "90th percentile wait", "h", "90th percentile of the waits of the units "
       "that crossed"),
    _m("wait_p95_h", "95th percentile wait", "h", "95th percentile of the waits of the units "
       "that crossed"),
    _m("wait_max_h", "longest wait", "h", "longest wait of a unit that crossed"),
    _m("time_in_system_mean_h", "mean time at the crossing", "h", "mean time from arrival to "
       "leaving the last stage (waits plus service) of the units that crossed"),
    _m("queue_mean", "mean queue", "units", "units waiting, averaged over the statistics "
       "window"),
    _m("queue_max", "longest queue", "units", "most units waiting at any instant of the "
       "statistics window", count=True),
    _m("queue_max_km", "longest queue", "km", "longest line of vehicles at any instant "
       "(units waiting × the class's length_m)"),
    _m("waiting_hours_total", "hours waited", "unit-hours", "time integral of the units "
       "waiting inside the statistics window; waits cut off by the end of the run count"),
    _m("person_hours_waiting", "person-hours waited", "person-hours", "hours waited × persons "
       "per unit"),
    _m("crossed_per_day", "crossed per day", "units/day", "units leaving the last stage "
       "inside the statistics window, per day of it (whenever they arrived)"),
    _m("cost_total", "total cost", "{cur}", "every cost component of the units arriving in "
       "the statistics window: waiting time, cargo held up, spoilage, trips given up, "
       "diversions, loads held back before setting off, waits off the road when booked"),
    _m("cargo_value_days_delayed", "cargo held up", "{cur} × days", "cargo value × days "
       "waited, summed over units: the exports held up"),
    _m("cargo_value_lost", "cargo turned back", "{cur}", "cargo value of the units that gave "
       "up or turned back"),
    _m("held", "trips held back", "trips", "trips due in the statistics window that did not "
       "set off when due because of the delay reported at the border (behaviour.respond)",
       count=True),
    _m("forgone", "trips given up before setting off", "trips", "held trips given up after "
       "the longest hold", count=True),
    _m("held_at_end", "trips still held at the end", "trips", "held trips neither made nor "
       "given up when the run ends", count=True),
    _m("hold_mean_h", "mean hold", "h", "mean hours a held trip that was made arrived later "
       "than due"),
    _m("booked", "booked", "units", "units of the arrivals that booked a slot in an "
       "electronic queue (policy appointment) instead of joining the road queue", count=True),
    _m("refused", "booking refused", "units", "units refused a booking because their slot "
       "would have been beyond the booking horizon (they leave, and count as balked)",
       count=True),
    _m("no_show", "no-shows", "units", "booked units that did not turn up for their slot "
       "(they count as reneged)", count=True),
    _m("booking_lead_mean_h", "mean booking lead time", "h", "mean hours from booking to "
       "reaching the site, of the booked units that turned up: the virtual queue's wait, "
       "spent off the road"),
    _m("booking_lead_max_h", "longest booking lead time", "h", "longest booking lead time of "
       "a booked unit that turned up"),
    _m("wait_total_mean_h", "mean total wait", "h", "mean hours queued on site plus hours "
       "waited booked off the road, of the units that crossed (wait_mean_h is the wait on "
       "site alone)"),
    _m("waiting_area_mean", "mean booked, off the road", "units", "units booked and waiting "
       "off the road (waiting area or home), averaged over the statistics window"),
    _m("waiting_area_max", "most booked, off the road", "units", "most units waiting off the "
       "road at any instant of the statistics window", count=True),
    _m("off_road_hours_total", "hours waited off the road", "unit-hours", "time integral of "
       "the units booked and waiting off the road inside the statistics window"),
    _m("queue_mean_km", "mean road queue", "km", "km of road queue (units waiting on site × "
       "the class's length_m), averaged over the statistics window"),
)}

# cost components of costs.csv, as the reports name them
COMPONENT_LABELS = {
    "time": "waiting time (people and vehicles)",
    "cargo_time": "cargo held up",
    "spoilage": "spoiled perishables",
    "lost": "trips given up",
    "diversion": "diversions",
    "held": "loads held back",
    "off_road": "waiting off the road (booked)",
    "total": "total",
}


# each component of the total cost is also a metric, cost_<component>, so that compare
# pairs it replication by replication like any other (measure.METRICS lists them)
CATALOGUE.update({f"cost_{c}": _m(f"cost_{c}", f"cost: {text}", "{cur}",
                                  f"the part of cost_total that is {text} (costs.csv "
                                  f"component {c})")
                  for c, text in COMPONENT_LABELS.items() if c != "total"})


def info(metric: str) -> MetricInfo | None:
    return CATALOGUE.get(metric)


def unit(metric: str, currency: str | None = None) -> str:
    m = CATALOGUE.get(metric)
    return m.unit.replace("{cur}", currency or "money") if m else ""


def label(metric: str, currency: str | None = None, with_unit: bool = True) -> str:
    """'mean wait (h)' for wait_mean_h; the name itself for an unknown metric."""
    m = CATALOGUE.get(metric)
    if m is None:
        return metric
    u = unit(metric, currency)
    return f"{m.label} ({u})" if with_unit and u else m.label


def clip(iv: Interval, low: float = 0.0, high: float = math.inf) -> Interval:
    """The interval cut to [low, high] (the mean is left alone; NaN bounds stay NaN)."""
    lo, hi = iv.ci_low, iv.ci_high
    if not math.isnan(lo):
        lo = min(max(lo, low), high)
    if not math.isnan(hi):
        hi = max(min(hi, high), low)
    if lo == iv.ci_low and hi == iv.ci_high:
        return iv
    return replace(iv, ci_low=lo, ci_high=hi)


def clip_metric(iv: Interval, metric: str) -> Interval:
    """The interval of a metric (or a cost component) cut to the values it can take."""
    m = CATALOGUE.get(metric)
    if m is None:
        return clip(iv) if metric in COMPONENT_LABELS else iv
    return clip(iv, m.low, m.high)


def metrics_markdown() -> str:
    """The table of metrics in docs/results.md (a test keeps the page and this in step)."""
    rows = ["| metric | unit | what it is |", "|---|---|---|"]
    for m in CATALOGUE.values():
        unit = m.unit.replace("{cur}", "currency")
        rows.append(f"| `{m.name}` | {unit} | {m.what} |")
    return "\n".join(rows) + "\n"
