"""Numbers as people read them: no scientific notation, no more digits than the data carry.

The console tables and the reports print through these functions, so a value
reads the same everywhere: ``num`` for any quantity, ``money`` for amounts in a
currency (``USD 14.5 million``), ``with_interval`` for a mean and its 95%
interval written on one scale (``14.5 (14.0–14.9) million``).
"""

from __future__ import annotations

import math

__all__ = ["num", "decimals_for", "count", "money", "money_scale", "money_difference",
           "with_interval", "hours", "share", "DASH"]

DASH = "–"
_SCALES = ((1e9, "billion"), (1e6, "million"))


def _nan(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def decimals_for(x: float, digits: int = 3) -> int:
    """Decimals that give ``x`` about ``digits`` significant digits (none from 10^(digits-1))."""
    a = abs(float(x))
    if a == 0 or not math.isfinite(a) or a >= 10 ** (digits - 1):
        return 0
    return min(8, digits - 1 - math.floor(math.log10(a)))


def num(x: float | None, digits: int = 3, dash: str = DASH) -> str:
    """About ``digits`` significant digits in fixed notation: 1,234,567 · 120 · 13.6 · 2.24 ·
    0.0036. Whole numbers stay whole."""
    if _nan(x):
        return dash
    x = float(x)
    a = abs(x)
    if a == 0 or (x.is_integer() and a < 1e15):
        return f"{x:,.0f}"
    if a < 1e-8:           # below a hundred-millionth: nothing a table of waits needs
        return "0"
    text = f"{x:,.{decimals_for(x, digits)}f}"
    return text.rstrip("0").rstrip(".") if a < 1 else text


def count(x: float | None, dash: str = DASH) -> str:
    """A mean number of units: whole above 100, one decimal below (3.5 units a run)."""
    if _nan(x):
        return dash
    a = abs(float(x))
    return f"{x:,.0f}" if a >= 100 or float(x).is_integer() else f"{x:,.1f}"


def money_scale(x: float) -> tuple[float, str]:
    """The divisor and word for an amount: (1e6, 'million') for 14.5 million."""
    a = abs(x) if not _nan(x) else 0.0
    for div, word in _SCALES:
        if a >= div:
            return div, word
    return 1.0, ""


def _scaled(x: float, div: float, decimals: int | None = None) -> str:
    if _nan(x):
        return DASH
    if div == 1.0:
        return f"{x:,.0f}"
    d = decimals_for(x / div) if decimals is None else decimals
    return f"{x / div:,.{d}f}"


def money(x: float | None, currency: str | None = None, div: float | None = None) -> str:
    """'USD 14.5 million', 'USD 58,200'; ``div`` forces a scale (to match another number)."""
    if _nan(x):
        return DASH
    if div is None:
        div, word = money_scale(x)
    else:
        word = dict(_SCALES).get(div, "")
    text = _scaled(x, div) + (f" {word}" if word else "")
    return f"{currency} {text}" if currency else text


def with_interval(mean: float, low: float, high: float, currency: str | None = None,
                  money_value: bool = False, fmt=None) -> str:
    """A mean and its interval on one scale, with the mean's decimals:
    'USD 14.5 million (95% CI 14.0–14.9 million)', '13.6 (13.2–14.0)'. ``fmt`` formats the
    three numbers instead (``count`` for units). Without an interval (one replication), only
    the mean."""
    no_ci = _nan(low) or _nan(high)
    if money_value:
        div, word = money_scale(mean)
        head = money(mean, currency, div)
        if no_ci:
            return head
        d = decimals_for(mean / div) if div != 1.0 else 0
        tail = f"{_scaled(low, div, d)}–{_scaled(high, div, d)}" + (f" {word}" if word else "")
        return f"{head} (95% CI {tail})"
    if fmt is None:
        if _nan(mean):
            return DASH
        d = decimals_for(mean)

        def fmt(v: float) -> str:
            return "0" if v == 0 else f"{v:,.{d}f}"
    if no_ci:
        return fmt(mean)
    return f"{fmt(mean)} ({fmt(low)}–{fmt(high)})"


def money_difference(diff: float, low: float, high: float, currency: str | None = None) -> str:
    """A signed amount and its interval on one scale: '+14.4 million (95% CI +14.0 to +14.9
    million)'; intervals of differences may straddle zero, so 'to' rather than a dash."""
    if _nan(diff):
        return DASH
    ref = max(abs(diff), 0.0 if _nan(low) else abs(low), 0.0 if _nan(high) else abs(high))
    div, word = money_scale(ref if abs(diff) < 1.0 else abs(diff))
    d = decimals_for(diff / div) if div != 1.0 else 0

    def signed(v: float) -> str:
        text = _scaled(v, div, d)
        return f"+{text}" if v > 0 else text

    unit = f" {word}" if word else ""
    head = (f"{currency} " if currency else "") + signed(diff) + unit
    if _nan(low) or _nan(high):
        return head
    return f"{head} (95% CI {signed(low)} to {signed(high)}{unit})"


def hours(h: float | None) -> str:
    """A wait in words: '0 min', 'under a minute', '40 min', '13.6 h', '166 h (6.9 days)'."""
    if _nan(h):
        return DASH
    if h <= 0:
        return "0 min"
    if h < 1 / 60:
        return "under a minute"
    if h < 1:
        return f"{round(h * 60):.0f} min"
    if h < 48:
        return f"{num(h)} h"
    return f"{num(h)} h ({num(h / 24, 2)} days)"


def share(part: float, whole: float) -> str:
    """'96%' of a whole; '<1%' for a sliver, '>99%' for all but a sliver (so that a
    part is never shown as all or nothing when it is not); '' when the whole is zero."""
    if _nan(part) or _nan(whole) or whole == 0:
        return ""
    p = 100 * part / whole
    if 0 < p < 1:
        return "<1%"
    if 99 < p < 100:
        return ">99%"
    return f"{p:.0f}%"
