"""What the commands print for people: tables of results, and progress while they run.

Tables use :mod:`bordersim.numbers` (no scientific notation, no more digits
than the data carry) and :mod:`bordersim.metrics` (labels with units).
Progress goes to stderr: a bar in a terminal; elsewhere (CI logs, notebooks,
a file) a line with the counts every few seconds and at the end, so a long
run shows that it is moving.
"""

from __future__ import annotations

import math
import sys
import time

from bordersim.numbers import DASH, count, num, with_interval

__all__ = ["Progress", "summary_table", "sweep_table", "render_table"]


def render_table(header: list[str], rows: list[list[str]], left: int = 2,
                 rules: set[int] = frozenset()) -> str:
    """Columns padded to their widest cell: the first ``left`` flush left, the rest right;
    a dashed line under the header (and before each row index in ``rules``)."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(r: list[str]) -> str:
        return "  ".join(v.ljust(w) if i < left else v.rjust(w)
                         for i, (v, w) in enumerate(zip(r, widths, strict=True))).rstrip()

    dash = "  ".join("-" * w for w in widths)
    out = [line(header), dash]
    for j, r in enumerate(rows):
        if j in rules:
            out.append("")
        out.append(line(r))
    return "\n".join(out)


# -- run ---------------------------------------------------------------------------------------

def summary_table(res) -> str:
    """`bordersim run`'s table: one row per crossing × class (totals where they add up more
    than one row), the figures most asked for, with units in the header."""
    from bordersim.results import shown_keys

    cur = res.scenario.economics.currency if res.scenario.economics else None
    cols = [("arrivals", "arrivals", count), ("crossed", "crossed", count),
            ("reneged", "gave up", count), ("balked", "turned back", count),
            ("wait_mean_h", "wait h: mean (95% CI)", None), ("wait_p50_h", "median h", num),
            ("wait_p95_h", "p95 h", num), ("queue_mean", "queue (units)", num),
            ("queue_max", "max (units)", count)]
    if cur is not None:
        cols.append(("cost_total", f"cost {cur}", lambda x: f"{x:,.0f}"))
    header = ["crossing", "class", *(c[1] for c in cols)]
    rows = _rows(res, shown_keys(res.keys()), cols)
    notes = ("wait: hours queued over every stage by units that crossed; queue: units waiting, "
             "mean and largest; gave up: patience ran out; turned back: balked at a long "
             "queue. Means over replications; every metric, with its 95% CI, is in "
             "summary.csv.")
    return render_table(header, rows) + "\n" + _wrap(notes) + _booking_table(res)


def _rows(res, keys, cols) -> list[list[str]]:
    """A row per key: crossing, class, then each (metric, header, format) column's mean
    (format None: the mean with its 95% interval)."""
    rows = []
    for key in keys:
        row = list(key)
        for metric, _, fmt in cols:
            iv = res.interval(key, metric)
            if math.isnan(iv.mean):
                row.append(DASH)
            elif fmt is None:
                row.append(with_interval(iv.mean, iv.ci_low, iv.ci_high))
            else:
                row.append(fmt(iv.mean))
        rows.append(row)
    return rows


def _booking_table(res) -> str:
    """Where units booked slots of an electronic queue: the bookings, the virtual queue's
    wait and the units waiting off the road, beside the wait on site above."""
    from bordersim.results import shown_keys

    keys = [k for k in shown_keys(res.keys()) if res.interval(k, "booked").mean > 0]
    if not keys:
        return ""
    cols = [("booked", "booked", count), ("refused", "refused", count),
            ("no_show", "no-shows", count),
            ("booking_lead_mean_h", "booked to site h: mean (95% CI)", None),
            ("waiting_area_mean", "off the road (units)", num),
            ("waiting_area_max", "max (units)", count),
            ("wait_total_mean_h", "total wait h", num)]
    rows = _rows(res, keys, cols)
    notes = ("electronic queue: booked units wait off the road until their slot; total wait: "
             "off the road plus on site, of the units that crossed.")
    return ("\n\n" + render_table(["crossing", "class", *(c[1] for c in cols)], rows) + "\n"
            + _wrap(notes))


def _wrap(text: str, width: int = 100) -> str:
    import textwrap

    return textwrap.fill(text, width, break_on_hyphens=False)


# -- sweep -------------------------------------------------------------------------------------

def _value_text(value) -> str:
    """A point's value as a reader wants it: 4 significant digits for drawn numbers."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int) or float(value).is_integer():
        return f"{value:,.0f}" if abs(value) >= 10_000 else str(int(value))
    return num(value, 4)


def sweep_table(rows: list[dict], paths: list[str], metrics: list[str],
                currency: str | None = None, most: int = 30) -> str:
    """One line per point: its values and the mean (95% CI) over every crossing and class of
    the total cost and the metrics the sweep kept (at most four), cost first."""
    from bordersim.measure import METRICS
    from bordersim.metrics import label

    if set(metrics) >= set(METRICS):          # every metric kept: the headline ones
        shown = [m for m in ("cost_total", "wait_mean_h", "queue_max") if m in metrics]
    else:                                     # the user chose: theirs, cost first
        shown = (["cost_total"] if "cost_total" in metrics else []) + \
            [m for m in metrics if m != "cost_total"]
    if currency is None and len(shown) > 1:       # no economics: no cost to show
        shown = [m for m in shown if m != "cost_total"]
    shown = shown[:4]
    cells: dict[str, dict[str, str]] = {}
    for r in rows:
        if r["crossing"] != "all" or r["class"] != "all" or r["metric"] not in shown:
            continue
        line = cells.setdefault(r["point"], {"point": r["point"],
                                             **{p: _value_text(_number(r[p])) for p in paths}})
        if r["mean"] == "":
            line[r["metric"]] = DASH
            continue
        mean, lo, hi = (float(r[k]) if r[k] != "" else math.nan
                        for k in ("mean", "ci_low", "ci_high"))
        money = r["metric"] == "cost_total"
        text = with_interval(mean, lo, hi, money_value=money)
        line[r["metric"]] = text.replace("95% CI ", "")
    names = [f"p{i + 1}" for i in range(len(paths))]
    heads = [label(m, currency) for m in shown]
    header = ["point", *names, *heads]
    table_rows = [[c.get(h, DASH) for h in ["point", *paths, *shown]]
                  for c in list(cells.values())[:most]]
    legend = "\n".join(f"  {n} = {p}" for n, p in zip(names, paths, strict=True))
    out = [f"varied:\n{legend}", "",
           "over every crossing and class: mean (95% CI) over replications", "",
           render_table(header, table_rows, left=1)]
    if len(cells) > most:
        out.append(f"... {len(cells) - most} more points in summary.csv")
    return "\n".join(out)


def _number(text: str):
    """A value of runs.csv/summary.csv back as a number where it is one."""
    try:
        v = float(text)
    except (TypeError, ValueError):
        return text
    return int(v) if v.is_integer() and "." not in text and "e" not in text.lower() else v


# -- progress ----------------------------------------------------------------------------------

class Progress:
    """Counts of finished replications or runs on stderr while a command works.

    In a terminal, a bar with the count, the rate and the time left. Elsewhere (a CI log,
    a notebook, a file) a line ``label: 8/20 replications (40%), 35s elapsed, about 50s
    left`` every ``every_s`` seconds from a timer, whether or not a run finished, and one
    when all are done. Nothing when not enabled. ``start`` begins the clock (with the number
    done before, for a resumed sweep); calling the object with k counts k more finished.
    """

    def __init__(self, total: int, label: str, enabled: bool = True, unit: str = "runs",
                 every_s: float = 10.0, stream=None, tty: bool | None = None):
        import threading

        self.total, self.label, self.enabled, self.unit = total, label, enabled, unit
        self.every_s = every_s
        self.stream = stream if stream is not None else sys.stderr
        isatty = getattr(self.stream, "isatty", None)
        self.tty = (bool(isatty and isatty())) if tty is None else tty
        self.done, self.bar, self.started = 0, None, False
        self.t0 = time.monotonic()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._timer: threading.Thread | None = None

    def start(self, done_before: int = 0, to_run: int | None = None) -> None:
        import threading

        import click

        if to_run is not None:
            self.total = to_run
        self.t0 = time.monotonic()
        self.started = True
        if not self.enabled:
            return
        if done_before:
            click.echo(f"{done_before} {self.unit} already in the folder; {self.total} to go",
                       file=self.stream)
        if not self.total:
            return
        if self.tty:
            self.bar = click.progressbar(length=self.total, label=self.label, file=self.stream,
                                         show_eta=True, show_pos=True,
                                         item_show_func=lambda s: s)
            self.bar.__enter__()
            return
        self.tick()
        self._timer = threading.Thread(target=self._beat, name="bordersim-progress",
                                       daemon=True)
        self._timer.start()

    def _beat(self) -> None:
        while not self._stop.wait(self.every_s):
            self.tick()

    def __call__(self, k: int) -> None:
        if not self.started:
            self.start()
        with self._lock:
            self.done += k
            done = self.done
        if not self.enabled:
            return
        if self.bar is not None:
            rate = done / max(time.monotonic() - self.t0, 1e-9)
            self.bar.update(k, f"{rate:.2f} {self.unit}/s")
        elif done >= self.total:
            self._stop.set()
            self.tick()

    def line(self) -> str:
        """What a line of progress says now."""
        with self._lock:
            done = self.done
        elapsed = time.monotonic() - self.t0
        share = f" ({done / self.total:.0%})" if self.total else ""
        text = f"{self.label}: {done}/{self.total} {self.unit}{share}, " \
               f"{_seconds(elapsed)} elapsed"
        if 0 < done < self.total:
            text += f", about {_seconds(elapsed / done * (self.total - done))} left"
        return text

    def tick(self) -> None:
        import click

        click.echo(self.line(), file=self.stream)

    def close(self) -> None:
        self._stop.set()
        if self._timer is not None:
            self._timer.join()
            self._timer = None
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


def _seconds(s: float) -> str:
    if s < 60:
        return f"{s:.0f}s"
    if s < 3600:
        return f"{s // 60:.0f}m{s % 60:02.0f}s"
    return f"{s // 3600:.0f}h{s % 3600 // 60:02.0f}m"
