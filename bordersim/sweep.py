"""Sweep designs: which scenario values vary, and the points to run.

``--vary PATH=SPEC`` takes a list ``a,b,c`` (values read as YAML), a grid
range ``lo:hi:step`` (both ends included) or a Latin-hypercube range
``lo..hi``. Numbers, durations (``2h:12h:2h``, in hours) and dates
(``2017-10-15:2017-10-25:2d``) may be ranged. A grid is the full factorial of
the listed values, the last factor changing fastest; a Latin hypercube draws
``--points`` points (scipy.stats.qmc) from a stream derived from the seed, so
the same command gives the same points. Every point's scenario is built and
validated here, before anything runs.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import itertools
import json
import math
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from bordersim.distributions import did_you_mean, parse_duration, to_datetime
from bordersim.loading import (
    LoadedScenario,
    ScenarioError,
    apply_override,
    load_scenario,
    parse_override,
    read_yaml_file,
    scenario_from_dict,
    yaml_value,
)
from bordersim.measure import METRICS
from bordersim.scenario import Scenario
from bordersim.sizing import MAX_SWEEP_POINTS, check_sweep_fits

__all__ = ["Factor", "SweepPlan", "parse_vary", "design_points", "plan_sweep",
           "read_spec", "parse_metrics", "numeric_value"]

DESIGNS = ("grid", "lhs")
_LHS_KEY = 0x4C4853          # spawn key of the design's stream: apart from any replication's
_FIXED_PATHS = {"seed": "the seed is the same at every point (common random numbers); "
                        "use --seed",
                "replications": "use --replications",
                "name": "the name is the sweep's, not a point's"}


@dataclass(frozen=True)
class Factor:
    """One varied path: a list of values, or a continuous range for a Latin hypercube."""

    path: str                   # dotted, as written in runs.csv: policy.2.quota_per_day.car
    parts: tuple                # the path split, list indices as ints
    values: tuple = ()          # a list or an expanded grid range
    low: Any = None             # a lo..hi range (numbers, hours, or datetimes)
    high: Any = None
    spec: str = ""              # what the user wrote after '='

    @property
    def is_range(self) -> bool:
        return self.low is not None


@dataclass(frozen=True)
class SweepPlan:
    loaded: LoadedScenario      # the base scenario, after --set
    factors: tuple[Factor, ...]
    design: str
    points: tuple[tuple, ...]   # one value per factor
    scenarios: tuple[Scenario, ...]
    metrics: tuple[str, ...]
    replications: int
    seed: int
    scenario_bytes: float = 0.0     # memory one point's scenario holds, measured
    # with --posterior: per point, the scenario of each replication (draw r, then the
    # point's own values)
    per_point: tuple | None = None

    @property
    def paths(self) -> list[str]:
        return [f.path for f in self.factors]

    @property
    def n_runs(self) -> int:
        return len(self.points) * self.replications


def _err(source: str, message: str, path: str = "") -> ScenarioError:
    return ScenarioError(source, [(path, message)])


def _plain(value: Any) -> Any:
    """Values as JSON and YAML write them back: dates as ISO text."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    return value


def _read_value(text: str) -> Any:
    text = text.strip()
    if not text:
        return ""
    return _plain(yaml_value(text, "--vary"))


_DATE_RE = re.compile(r"^\s*\d{4}-\d{2}-\d{2}")


def _bound(text: str, source: str) -> tuple[str, Any]:
    """One end of a range: ('number', int|float), ('hours', float) or ('time', datetime)."""
    value = _read_value(text)
    if isinstance(value, bool):
        raise _err(source, f"expected a number, a duration or a date, got {text.strip()!r}")
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            raise _err(source, f"expected a finite number, got {text.strip()!r}")
        return "number", value
    if isinstance(value, str) and _DATE_RE.match(value):
        with contextlib.suppress(ValueError):
            return "time", to_datetime(value)
    try:
        return "hours", parse_duration(value)
    except ValueError:
        raise _err(source, f"expected a number, a duration such as '6h' or a date such as "
                           f"2017-10-19 at each end of the range, got {text.strip()!r}") from None


def _clean_float(x: float) -> float:
    """0.30000000000000004 → 0.3: grid steps as the user would write them."""
    return float(f"{x:.12g}")


def _time_text(t: datetime) -> str:
    if t.hour == t.minute == t.second == 0:
        return t.date().isoformat()
    return t.isoformat(timespec="minutes")


def _grid_range(lo_t: str, hi_t: str, step_t: str, source: str) -> tuple:
    (lk, lo), (hk, hi), (sk, step) = (_bound(x, source) for x in (lo_t, hi_t, step_t))
    if lk == "time" and hk == "time":
        if sk == "number":
            sk, step = "hours", float(step)
        if sk != "hours" or step <= 0:
            raise _err(source, f"expected a positive duration as the step between dates, "
                               f"such as 1d, got {step_t.strip()!r}")
        if hi < lo:
            raise _err(source, f"the range ends ({hi_t.strip()}) before it starts "
                               f"({lo_t.strip()})")
        n = int(math.floor((hi - lo) / timedelta(hours=step) + 1e-9)) + 1
        return tuple(_time_text(lo + timedelta(hours=step * i)) for i in range(n))
    if lk == "time" or hk == "time" or sk == "time":
        raise _err(source, "expected both ends of the range to be dates, or neither")
    if step <= 0:
        raise _err(source, f"expected a positive step, got {step_t.strip()!r}")
    if hi < lo:
        raise _err(source, f"the range ends ({hi_t.strip()}) before it starts ({lo_t.strip()})")
    n = int(math.floor((hi - lo) / step + 1e-9)) + 1
    if n > 100_000:
        raise _err(source, f"the range holds {n} values; expected at most 100000")
    if all(isinstance(v, int) for v in (lo, hi, step)) and lk == hk == sk == "number":
        return tuple(lo + step * i for i in range(n))
    return tuple(_clean_float(lo + step * i) for i in range(n))


def parse_vary(text: str) -> Factor:
    """``PATH=a,b,c``, ``PATH=lo:hi:step`` or ``PATH=lo..hi`` → a Factor."""
    source = f"--vary {text}"
    if "=" not in text:
        raise _err(source, "expected PATH=VALUES, such as "
                           "crossings.ak-tilek.stages.0.lanes.0.booths=2,4,6")
    path_text, spec = text.split("=", 1)
    try:
        parts, _ = parse_override(f"{path_text}=0")
    except ScenarioError as e:
        raise _err(source, e.problems[0][1]) from None
    path = ".".join(str(p) for p in parts)
    if path in _FIXED_PATHS:
        raise _err(source, f"'{path}' cannot be varied: {_FIXED_PATHS[path]}")
    if "\n" in spec or not spec.strip():
        raise _err(source, "expected values after '=': a,b,c or lo:hi:step or lo..hi")
    stripped = spec.strip()
    if "," in stripped:
        items = [s for s in stripped.split(",")]
        if any(not s.strip() for s in items):
            raise _err(source, "an empty value in the list (two commas, or one at an end)")
        values = tuple(_read_value(s) for s in items)
        return Factor(path, tuple(parts), values=values, spec=stripped)
    if ".." in stripped:
        lo_t, _, hi_t = stripped.partition("..")
        (lk, lo), (hk, hi) = _bound(lo_t, source), _bound(hi_t, source)
        if lk != hk:
            raise _err(source, "expected both ends of the range to be of one kind "
                               "(numbers, durations or dates)")
        if not hi > lo:
            raise _err(source, f"expected lo..hi with lo below hi, got {stripped!r}")
        return Factor(path, tuple(parts), low=lo, high=hi, spec=stripped)
    pieces = stripped.split(":")
    if len(pieces) == 3:
        try:
            values = _grid_range(*pieces, source)
        except ScenarioError:
            if not _DATE_RE.match(stripped):   # an ISO datetime has colons but is one value
                raise
        else:
            return Factor(path, tuple(parts), values=values, spec=stripped)
    elif len(pieces) == 2 and not _DATE_RE.match(stripped):
        raise _err(source, f"a grid range needs a step: lo:hi:step, got {stripped!r}")
    return Factor(path, tuple(parts), values=(_read_value(stripped),), spec=stripped)


def _factor_from_spec(path: str, spec: Any, source: str) -> Factor:
    """One entry of a spec file's ``vary``: a SPEC string, or a list of values."""
    if isinstance(spec, list):
        if not spec:
            raise _err(source, "expected at least one value", f"vary.{path}")
        f = parse_vary(f"{path}=0")
        return Factor(f.path, f.parts, values=tuple(_plain(v) for v in spec),
                      spec=", ".join(str(_plain(v)) for v in spec))
    if isinstance(spec, (dict, type(None))):
        raise _err(source, "expected a SPEC (a,b,c or lo:hi:step or lo..hi) or a list of "
                           f"values, got {'nothing' if spec is None else 'a mapping'}",
                   f"vary.{path}")
    text = spec if isinstance(spec, str) else str(_plain(spec))
    return parse_vary(f"{path}={text}")


def _lhs_unit(n: int, d: int, seed: int) -> np.ndarray:
    from scipy.stats import qmc

    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(_LHS_KEY,)))
    try:
        sampler = qmc.LatinHypercube(d, rng=rng)
    except TypeError:  # scipy < 1.15 names it seed
        sampler = qmc.LatinHypercube(d, seed=rng)
    return sampler.random(n)


def _from_unit(f: Factor, u: float) -> Any:
    """A point of [0, 1) placed in the factor's range (or picking one of its values)."""
    if not f.is_range:
        return f.values[min(int(u * len(f.values)), len(f.values) - 1)]
    lo, hi = f.low, f.high
    if isinstance(lo, datetime):
        t = lo + (hi - lo) * u
        return t.replace(minute=0, second=0, microsecond=0).isoformat(timespec="minutes")
    if isinstance(lo, int) and isinstance(hi, int):   # every whole number equally likely
        return min(lo + int(u * (hi - lo + 1)), hi)
    return float(lo + (hi - lo) * u)


def design_points(factors: list[Factor], design: str, n_points: int | None,
                  seed: int) -> list[tuple]:
    """Points in run order, one value per factor."""
    if design == "grid":
        return [tuple(p) for p in itertools.product(*(f.values for f in factors))]
    varied = [i for i, f in enumerate(factors) if f.is_range or len(f.values) > 1]
    unit = _lhs_unit(n_points, len(varied), seed) if varied else np.zeros((n_points, 0))
    points = []
    for row in unit:
        values = [f.values[0] if not f.is_range else None for f in factors]
        for j, i in enumerate(varied):
            values[i] = _from_unit(factors[i], float(row[j]))
        points.append(tuple(values))
    return points


def _refuse_repeated_points(factors: list[Factor], points: list[tuple]) -> None:
    """A Latin hypercube picks from a list's values; with no range to spread over, points
    repeat, and repeated points would only rerun the same runs under another number."""
    distinct = len({json.dumps([_plain(v) for v in p], default=str) for p in points})
    if distinct == len(points):
        return
    lists = [f for f in factors if not f.is_range and len(f.values) > 1]
    combos = math.prod(len(f.values) for f in lists) if lists else 1
    names = ", ".join(f"{f.path}={f.spec}" for f in lists)
    raise _err("--design lhs", (
        f"only {distinct} of the {len(points)} points are distinct: a Latin hypercube picks "
        f"from the listed values of {names}, and no range lo..hi spreads the points apart. "
        f"Use --design grid for every combination ({combos} points), write the values as a "
        "range lo..hi, or ask for fewer --points"))


def parse_metrics(items: list[str] | tuple[str, ...] | None, source: str = "--metrics"
                  ) -> tuple[str, ...]:
    """Metric names, comma-separated or repeated, in METRICS order; all when none given."""
    names = [m.strip() for item in (items or ()) for m in str(item).split(",") if m.strip()]
    if not names:
        return METRICS
    for m in names:
        if m not in METRICS:
            raise _err(source, f"unknown metric '{m}'{did_you_mean(m, METRICS)} "
                               f"(known: {', '.join(METRICS)})")
    return tuple(m for m in METRICS if m in names)


def _point_label(factors, point) -> str:
    return ", ".join(f"{f.path}={v}" for f, v in zip(factors, point, strict=True))


def plan_sweep(scenario: str | Path, vary: list[Factor], *, design: str | None = None,
               points: int | None = None, overrides: list[str] = (),
               metrics: tuple[str, ...] = METRICS) -> SweepPlan:
    """The base scenario, the points, and every point's validated scenario."""
    loaded = load_scenario(scenario, list(overrides))
    shown = str(scenario)
    if not vary:
        raise _err("--vary", "expected at least one PATH=SPEC to vary")
    seen = set()
    for f in vary:
        if f.path in seen:
            raise _err(f"--vary {f.path}={f.spec}", f"'{f.path}' is varied twice")
        seen.add(f.path)
    ranged = [f for f in vary if f.is_range]
    if design is None:
        design = "lhs" if ranged else "grid"
    if design not in DESIGNS:
        raise _err("--design", f"expected grid or lhs, got {design!r}")
    if design == "grid":
        if ranged:
            f = ranged[0]
            raise _err(f"--vary {f.path}={f.spec}", "a range lo..hi is for a Latin hypercube "
                       "(--design lhs); a grid takes a,b,c or lo:hi:step")
        if points is not None:
            raise _err("--points", "a grid runs every combination of the listed values; "
                                   "--points is for --design lhs")
    elif points is None:
        points = max(10, 10 * sum(f.is_range or len(f.values) > 1 for f in vary))
    elif points < 2:
        raise _err("--points", f"expected at least 2 points, got {points}")
    scn = loaded.scenario
    n_points = math.prod(len(f.values) for f in vary) if design == "grid" else points
    if n_points > MAX_SWEEP_POINTS:
        raise _err("--points" if design == "lhs" else "--vary",
                   f"the design has {n_points:,} points; expected at most "
                   f"{MAX_SWEEP_POINTS:,} (each point is a scenario, built and checked "
                   "before anything runs)")
    values = design_points(list(vary), design, points, scn.seed)
    if design == "lhs":
        _refuse_repeated_points(vary, values)
    scenarios = []
    point_bytes = 0.0
    for k, point in enumerate(values):
        data = copy.deepcopy(loaded.resolved)
        where = f"{shown}: point {k} ({_point_label(vary, point)})"
        for f, v in zip(vary, point, strict=True):
            try:
                apply_override(data, list(f.parts), v, f"{f.path}={v}")
            except ScenarioError as e:
                raise ScenarioError(where, e.problems) from None
        if k == 0:
            point_bytes = _measured(functools.partial(scenario_from_dict, data, where))
            check_sweep_fits([scn] * len(values), shown, scn.replications, len(metrics),
                             scenario_bytes=point_bytes)
        scenarios.append(scenario_from_dict(data, where).scenario)
    return SweepPlan(loaded, tuple(vary), design, tuple(values), tuple(scenarios),
                     tuple(metrics), scn.replications, scn.seed, point_bytes)


def _measured(build) -> float:
    """Bytes one point's scenario holds (Python's own allocations while it is built)."""
    import tracemalloc

    was = tracemalloc.is_tracing()
    if not was:
        tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = build()
        size = tracemalloc.get_traced_memory()[0] - before
    finally:
        if not was:
            tracemalloc.stop()
    del kept
    return float(max(size, 0))


SPEC_KEYS = ("scenario", "vary", "design", "points", "replications", "seed", "metrics", "set",
             "out")


def read_spec(path: Path) -> dict:
    """A sweep file: scenario (relative to the file), vary, design, points, replications,
    seed, metrics, set, out. Returns them checked, with paths resolved."""
    shown = str(path)
    data = read_yaml_file(Path(path), shown, what="a sweep file")
    if not isinstance(data, dict):
        raise _err(shown, "expected a mapping with scenario, vary, design, points, "
                          "replications, metrics")
    for key in data:
        if key not in SPEC_KEYS:
            raise _err(shown, f"unknown key '{key}'{did_you_mean(key, SPEC_KEYS)} (expected "
                              f"one of: {', '.join(SPEC_KEYS)})", str(key))
    out: dict[str, Any] = {}
    base = Path(path).parent
    if not isinstance(data.get("scenario"), str):
        raise _err(shown, "expected the path of the scenario file, relative to this file",
                   "scenario")
    out["scenario"] = base / data["scenario"]
    vary = data.get("vary")
    if not isinstance(vary, dict) or not vary:
        raise _err(shown, "expected a mapping of PATH: SPEC, such as "
                          "'crossings.ak-tilek.stages.0.lanes.0.booths: 2,4,6'", "vary")
    factors = []
    for p, spec in vary.items():
        try:
            factors.append(_factor_from_spec(str(p), spec, shown))
        except ScenarioError as e:
            if e.source == shown:
                raise
            raise _err(shown, e.problems[0][1], f"vary.{p}") from None
    out["vary"] = factors
    for key, least in (("points", 2), ("replications", 1), ("seed", 0)):
        v = data.get(key)
        if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < least):
            raise _err(shown, f"expected a whole number of at least {least}, got {v!r}", key)
        out[key] = v
    design = data.get("design")
    if design is not None and design not in DESIGNS:
        raise _err(shown, f"expected grid or lhs, got {design!r}", "design")
    out["design"] = design
    metrics = data.get("metrics")
    if isinstance(metrics, str):
        metrics = [metrics]
    if metrics is not None and not (isinstance(metrics, list)
                                    and all(isinstance(m, str) for m in metrics)):
        raise _err(shown, "expected a list of metric names", "metrics")
    out["metrics"] = parse_metrics(metrics, f"{shown}: metrics") if metrics else None
    sets = data.get("set") or []
    if isinstance(sets, dict):   # JSON text is YAML that reads back to the same value
        sets = [f"{k}={json.dumps(_plain(v))}" for k, v in sets.items()]
    if not isinstance(sets, list):
        raise _err(shown, "expected a mapping of PATH: VALUE or a list of PATH=VALUE", "set")
    out["set"] = [str(s) for s in sets]
    o = data.get("out")
    out["out"] = base / o if isinstance(o, str) else None
    return out


def numeric_value(value: Any, start: datetime | None = None) -> float:
    """A varied value as a number for curves and rank correlations: numbers as they are,
    durations in hours, dates in days after the scenario's start. NaN when not a quantity."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip()
    if text == "":
        return math.nan
    if _DATE_RE.match(text):
        try:
            t = to_datetime(text)
        except ValueError:
            return math.nan
        ref = start or datetime(1970, 1, 1)
        return (t - ref) / timedelta(days=1)
    with contextlib.suppress(ValueError):
        return float(text)
    try:
        return parse_duration(text)
    except ValueError:
        return math.nan
