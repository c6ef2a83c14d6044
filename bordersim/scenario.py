"""The scenario schema: what a scenario file may say, checked with pydantic.

Loading files, ``extends`` and ``--set`` live in :mod:`bordersim.loading`;
cross-references between sections (class, stage and lane names) are checked
in :func:`check_references`, which reports field paths like pydantic does.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    BeforeValidator,
    Field,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from bordersim.distributions import (
    TIME_SCHEMA,
    Distribution,
    NoBool,
    NonNegDuration,
    PositiveDuration,
    Strict,
    did_you_mean,
    parse_time,
    to_datetime,
)

__all__ = ["Scenario", "Appointment", "check_references", "ALL"]

ALL = "all"
Probability = Annotated[float, NoBool, Field(ge=0, le=1, allow_inf_nan=False)]
NonNeg = Annotated[float, NoBool, Field(ge=0, allow_inf_nan=False)]
Positive = Annotated[float, NoBool, Field(gt=0, allow_inf_nan=False)]
Count = Annotated[int, NoBool]
Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.\-]+$")]


_MONEY_FIELDS = ("mean", "value", "low", "high", "mode", "values")


def _money_amount(value: Any, where: str = "") -> float:
    """A plain number: an amount in the scenario's currency (never a duration)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    at = f" in {where}" if where else ""
    raise ValueError(f"expected an amount of money in the scenario's currency, a plain number "
                     f"such as 40000 (not text such as 40k, $40,000 or 2h), got {value!r}{at}")


def _money(value: Any) -> Any:
    """A cargo value is money: a number, or a distribution whose parameters are numbers.
    The distributions' own checks (positive mean, low < high, ...) then apply as usual."""
    if isinstance(value, dict):
        out = dict(value)
        for key in _MONEY_FIELDS:
            if key in out:
                v = out[key]
                out[key] = ([_money_amount(x, key) for x in v] if isinstance(v, list)
                            else _money_amount(v, key))
        return out
    if value is None:
        return value
    return _money_amount(value)


#: a distribution of amounts of money (same laws as durations, numbers only)
MoneyDistribution = Annotated[Distribution, BeforeValidator(_money)]


class ClassSpec(Strict):
    persons: NonNeg = 1.0
    length_m: NonNeg = 0.0
    cargo_value: MoneyDistribution | None = None
    perishable_share: Probability = 0.0


class Secondary(Strict):
    probability: Probability
    booths: Count = Field(ge=1)
    service: Distribution


def _first_repeat(names: list[str]) -> str | None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            return name
        seen.add(name)
    return None


def _no_repeats(names: list[str] | None) -> list[str] | None:
    """A list of names that says each one once (a repeat is a slip, never a meaning)."""
    if names is None or isinstance(names, str):
        return names
    name = _first_repeat(names)
    if name is not None:
        raise ValueError(f"'{name}' is listed twice; list each name once")
    return names


class Lane(Strict):
    name: Name
    serves: list[Name] = Field(min_length=1)
    booths: Count = Field(ge=1)
    service: dict[str, Distribution] = Field(min_length=1)

    @field_validator("serves")
    @classmethod
    def _serves_once(cls, v: list[str]) -> list[str]:
        return _no_repeats(v)

    def service_for(self, cls: str) -> Distribution:
        """The service-time law for a class: its own, else the lane's ``all``."""
        return self.service.get(cls) or self.service[ALL]


class Stage(Strict):
    name: Name
    lanes: list[Lane] = Field(min_length=1)
    secondary: dict[str, Secondary] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _unique_lanes(self) -> Stage:
        name = _first_repeat([lane.name for lane in self.lanes])
        if name is not None:
            raise ValueError(f"lane name '{name}' appears twice in stage '{self.name}'")
        return self


class Crossing(Strict):
    label: str | None = None
    demand: dict[str, NonNeg] = Field(default_factory=dict)
    profile: list[NonNeg] | None = None
    arrival_process: Literal["poisson", "deterministic"] = "poisson"
    stages: list[Stage] = Field(min_length=1)

    @field_validator("profile")
    @classmethod
    def _profile(cls, v: list[float] | None) -> list[float] | None:
        if v is None:
            return v
        if len(v) != 24:
            raise ValueError(f"profile needs 24 hourly weights, got {len(v)}")
        try:
            total = math.fsum(v)
        except OverflowError:
            total = math.inf
        if total <= 0:
            raise ValueError("profile weights must not all be zero")
        if not (math.isfinite(total) and math.isfinite(24.0 / total)
                and math.isfinite(24.0 * max(v) / total)):
            raise ValueError(f"profile weights are relative; their sum ({total:g}) is too small "
                             "or too large to scale: write them as ordinary numbers, such as "
                             "shares of a day's arrivals")
        return v

    @model_validator(mode="after")
    def _unique_stages(self) -> Crossing:
        name = _first_repeat([s.name for s in self.stages])
        if name is not None:
            raise ValueError(f"stage name '{name}' appears twice")
        return self


Scope = Literal["all"] | list[Name]


class Appointment(Strict):
    """An electronic queue for one class at a crossing: units book a slot instead of
    joining the road queue, wait off the road, and reach the site for their slot."""

    slots_per_day: Positive | None = None
    capacity_share: Annotated[float, NoBool, Field(gt=0, le=1, allow_inf_nan=False)] | None = None
    live_share: Probability = 0.0
    notice: NonNegDuration = 0.0
    arrive_early: Distribution | None = None
    no_show: Probability = 0.0
    horizon: PositiveDuration | None = None
    over_horizon: Literal["refuse", "queue"] = "refuse"
    perishable_first: bool = False
    serve_early: bool = False

    @model_validator(mode="after")
    def _one_rate(self) -> Appointment:
        if self.slots_per_day is not None and self.capacity_share is not None:
            raise ValueError("give slots_per_day or capacity_share, not both")
        return self

    @property
    def share(self) -> float:
        """Share of the capacity released as slots, when no fixed rate is set."""
        return 0.9 if self.capacity_share is None else self.capacity_share


def _time_text(value: Any) -> Any:
    """Calendar times as ISO text, whether YAML read them as dates or as strings."""
    if isinstance(value, date):   # a datetime too: it is a date
        return value.isoformat()
    return value


class Phase(Strict):
    at: Annotated[Any, BeforeValidator(_time_text), WithJsonSchema(TIME_SCHEMA)]
    label: str | None = None
    crossings: Scope = ALL
    stages: Scope = ALL
    reset: bool = False
    closed: list[Name] | None = None
    service_factor: dict[str, Positive] | None = None
    secondary_probability: dict[str, Probability] | None = None
    booths: dict[str, Annotated[Count, Field(ge=0)]] | None = None
    quota_per_day: dict[str, Annotated[Count, Field(ge=0)]] | None = None
    priority: list[Name] | None = None
    demand_factor: dict[str, NonNeg] | None = None
    appointment: dict[str, Appointment] | None = None

    @field_validator("closed", "priority", "crossings", "stages")
    @classmethod
    def _each_once(cls, v):
        return _no_repeats(v)


class Balk(Strict):
    queue_over: Count = Field(ge=0)


class Divert(Strict):
    """Go elsewhere when the queue ahead is over a threshold on arrival at ``from``."""

    from_: Name = Field(alias="from")
    to: Name | list[Name]
    queue_over: Count = Field(ge=0)
    travel: NonNegDuration | dict[Name, NonNegDuration]

    @field_validator("to")
    @classmethod
    def _to_once(cls, v: str | list[str]) -> str | list[str]:
        return _no_repeats(v)

    def targets(self) -> list[str]:
        return [self.to] if isinstance(self.to, str) else list(self.to)

    def travel_h(self, target: str) -> float:
        return self.travel if isinstance(self.travel, float) else self.travel[target]


def _min_report(value: Any) -> float:
    """How often the delay is reported: a duration of at least a minute."""
    from bordersim.distributions import parse_duration

    h = parse_duration(value)
    if not h >= 1 / 60:
        raise ValueError(f"expected a duration of at least 1min, got {value!r}")
    return h


class Defer(Strict):
    """Trips suppressed by ``demand_factor`` come back, in this share, after the phase ends."""

    share: Probability
    over: PositiveDuration


class Respond(Strict):
    """Trips that set off, or wait, from the delay travellers can see at the border.

    A trip due at the border at time t is decided ``lead`` before (its own draw: loading
    and the drive). It sets off then with probability ``share(D)``, where D is the
    expected delay on arrival as reported ``lag`` before the decision (reports every
    ``report_every``; 0 before the run, a normal border):
    ``share(D) = floor + (1 - floor) / (1 + (D / reference_delay) ** steepness)``.
    A trip that does not set off is held; at each report it sets off if the delay then
    visible would let it go, and at the latest ``hold_max`` after it was to set off,
    when a ``give_up`` share of such trips is given up instead. A trip that sets off
    late arrives ``lead`` after it sets off.
    """

    reference_delay: PositiveDuration
    steepness: Annotated[float, NoBool, Field(gt=0, le=50, allow_inf_nan=False)] = 2.0
    floor: Probability = 0.0
    lead: Distribution | None = None
    lag: NonNegDuration = 0.0
    report_every: Annotated[float, BeforeValidator(_min_report)] = 1.0
    hold_max: PositiveDuration = 720.0
    give_up: Probability = 0.0
    crossings: Literal["all"] | list[Name] = ALL

    def applies_at(self, crossing: str) -> bool:
        return self.crossings == ALL or crossing in self.crossings

    def share(self, delay_h: float) -> float:
        """The share of trips made at once when the visible delay is ``delay_h`` hours."""
        if delay_h <= 0:
            return 1.0
        if delay_h == float("inf"):
            return self.floor
        x = delay_h / self.reference_delay
        if x > 1e6:
            return self.floor
        return self.floor + (1.0 - self.floor) / (1.0 + x ** self.steepness)

    def threshold(self, u: float) -> float:
        """The delay below which a trip of eagerness u (its uniform draw) sets off:
        share(D) > u exactly when D < threshold(u) (inf when u is below the floor)."""
        if u < self.floor:
            return float("inf")
        gap = u - self.floor
        if gap <= 0:
            return float("inf")
        ratio = (1.0 - self.floor) / gap - 1.0
        if ratio <= 0:
            return 0.0
        return self.reference_delay * ratio ** (1.0 / self.steepness)

    def shares(self, delay_h: np.ndarray) -> np.ndarray:
        """:meth:`share` of an array of delays."""
        with np.errstate(over="ignore", invalid="ignore"):
            x = np.minimum(np.asarray(delay_h, dtype=float) / self.reference_delay, 1e6)
            out = self.floor + (1.0 - self.floor) / (1.0 + x ** self.steepness)
        return np.where(np.asarray(delay_h) <= 0, 1.0, out)


class Behaviour(Strict):
    patience: dict[str, Distribution] = Field(default_factory=dict)
    balk: dict[str, Balk] = Field(default_factory=dict)
    divert: dict[str, Divert | list[Divert]] = Field(default_factory=dict)
    defer: dict[str, Defer] = Field(default_factory=dict)
    respond: dict[str, Respond] = Field(default_factory=dict)

    def response(self, cls: str, crossing: str) -> Respond | None:
        r = self.respond.get(cls)
        return r if r is not None and r.applies_at(crossing) else None

    def divert_rules(self, cls: str) -> list[Divert]:
        rules = self.divert.get(cls, [])
        return [rules] if isinstance(rules, Divert) else list(rules)


class Spoilage(Strict):
    rate_per_day: Positive
    after: NonNegDuration = 0.0


class CargoShare(Strict):
    """A share of the unit's cargo value, e.g. a load sold at home at a discount."""

    cargo_share: Probability


class Economics(Strict):
    currency: str = "USD"
    value_of_time_per_person_hour: NonNeg = 0.0
    vehicle_cost_per_hour: dict[str, NonNeg] = Field(default_factory=dict)
    cargo_time_cost_per_day: Annotated[float, Field(ge=0, le=1)] = 0.0
    spoilage: Spoilage | None = None
    lost_unit_value: dict[str, NonNeg | Literal["cargo"] | CargoShare] = Field(
        default_factory=dict)
    # what a trip held back and then given up before it set off loses (behaviour.respond);
    # a class not named here loses its lost_unit_value
    forgone_unit_value: dict[str, NonNeg | Literal["cargo"] | CargoShare] = Field(
        default_factory=dict)
    # an hour waited off the road (booked, in a waiting area or at home): replaces the
    # class's vehicle_cost_per_hour for those hours; a class not named here keeps it
    off_road_cost_per_hour: dict[str, NonNeg] = Field(default_factory=dict)


def _start(value: Any) -> datetime:
    return to_datetime(value)


class Scenario(Strict):
    name: Annotated[str, Field(pattern=r"^[a-z0-9_\-]+$", max_length=100)]
    description: str = ""
    extends: str | None = None
    start: Annotated[datetime, BeforeValidator(_start),
                     WithJsonSchema({"type": "string", "description": "ISO date or datetime"})]
    duration: PositiveDuration
    warmup: NonNegDuration = 0.0
    cooldown: NonNegDuration = 0.0
    replications: Count = Field(default=10, ge=1)
    seed: Count = Field(default=0, ge=0)
    classes: dict[Name, ClassSpec] = Field(min_length=1)
    crossings: dict[Name, Crossing] = Field(min_length=1)
    policy: list[Phase] = Field(default_factory=list)
    behaviour: Behaviour = Field(default_factory=Behaviour)
    economics: Economics | None = None

    # field validators, not a model validator, so that the message names the field
    @field_validator("duration")
    @classmethod
    def _ends_in_the_calendar(cls, duration: float, info: ValidationInfo) -> float:
        start = info.data.get("start")
        if start is not None:
            left = (datetime.max - start) / timedelta(hours=1)
            if duration >= left:
                raise ValueError(f"the run would end after the last date of the calendar "
                                 f"(start {start.isoformat()}, duration {duration:g}h)")
        return duration

    @field_validator("classes", "crossings")
    @classmethod
    def _not_all(cls, names: dict, info: ValidationInfo) -> dict:
        if ALL in names:
            what = "class" if info.field_name == "classes" else "crossing"
            raise ValueError(f"'{ALL}' cannot name a {what}: it names the totals over every "
                             f"{what} in the results")
        return names

    @field_validator("warmup")
    @classmethod
    def _warmup(cls, warmup: float, info: ValidationInfo) -> float:
        duration = info.data.get("duration")
        if duration is not None and warmup >= duration:
            raise ValueError(f"expected less than the duration ({duration:g}h), got {warmup:g}h")
        return warmup

    @field_validator("cooldown")
    @classmethod
    def _cooldown(cls, cooldown: float, info: ValidationInfo) -> float:
        duration, warmup = info.data.get("duration"), info.data.get("warmup")
        if duration is not None and warmup is not None and warmup + cooldown >= duration:
            raise ValueError(f"expected warmup ({warmup:g}h) plus cooldown ({cooldown:g}h) to be "
                             f"less than the duration ({duration:g}h)")
        return cooldown

    def phase_time(self, index: int) -> float:
        """Hours since start of policy phase ``index``."""
        return parse_time(self.policy[index].at, self.start)


def _fmt(path: tuple) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _names(found: str, known: list[str], what: str) -> str:
    hint = did_you_mean(found, known)
    return f"unknown {what} '{found}'{hint} (known: {', '.join(known) or 'none'})"


def check_references(s: Scenario) -> list[tuple[str, str]]:
    """Every name used in one section must exist in another; returns (path, message) pairs."""
    errors: list[tuple[str, str]] = []
    classes = list(s.classes)
    crossings = list(s.crossings)

    def cls_ok(path: tuple, name: str, allow_all: bool = False) -> None:
        if allow_all and name == ALL:
            return
        if name not in s.classes:
            errors.append((_fmt(path), _names(name, classes, "class")))

    for cname, c in s.crossings.items():
        base = ("crossings", cname)
        for k in c.demand:
            cls_ok((*base, "demand", k), k)
        for si, stage in enumerate(c.stages):
            sp = (*base, "stages", si)
            for li, lane in enumerate(stage.lanes):
                lp = (*sp, "lanes", li)
                for j, k in enumerate(lane.serves):
                    cls_ok((*lp, "serves", j), k)
                for k in lane.service:
                    if k != ALL:
                        cls_ok((*lp, "service", k), k)
                        if k in s.classes and k not in lane.serves:
                            errors.append((_fmt((*lp, "service", k)),
                                           f"class '{k}' has a service time but is not in serves"))
                if ALL not in lane.service:
                    for k in lane.serves:
                        if k in s.classes and k not in lane.service:
                            errors.append((_fmt((*lp, "service")),
                                           f"no service time for served class '{k}' "
                                           "(give one per class, or an 'all' entry)"))
            for k in stage.secondary:
                cls_ok((*sp, "secondary", k), k)
            served = {k for lane in stage.lanes for k in lane.serves}
            if not served <= set(s.classes):
                continue  # an unknown name in serves is reported; do not also report its echo
            for k, rate in c.demand.items():
                if rate > 0 and k in s.classes and k not in served:
                    errors.append((_fmt((*sp, "lanes")),
                                   f"class '{k}' has demand at '{cname}' but no lane of stage "
                                   f"'{stage.name}' serves it"))

    prev = None
    for pi, ph in enumerate(s.policy):
        pp = ("policy", pi)
        try:
            t = s.phase_time(pi)
        except ValueError as e:
            errors.append((_fmt((*pp, "at")), str(e)))
            continue
        if t < 0:
            errors.append((_fmt((*pp, "at")), f"expected a time at or after the scenario start "
                                              f"({s.start.isoformat()}), got {-t:g}h before it"))
        elif prev is not None and t < prev:
            errors.append((_fmt((*pp, "at")), "policy phases must be in time order "
                                              "(this one starts before the previous one)"))
        prev = t
        scope_c = crossings if ph.crossings == ALL else ph.crossings
        known_before_scope = len(errors)
        if ph.crossings != ALL:
            for j, k in enumerate(ph.crossings):
                if k not in s.crossings:
                    errors.append((_fmt((*pp, "crossings", j)), _names(k, crossings, "crossing")))
        stage_names = sorted({st.name for k in scope_c if k in s.crossings
                              for st in s.crossings[k].stages})
        if ph.stages != ALL:
            for j, k in enumerate(ph.stages):
                if k not in stage_names:
                    errors.append((_fmt((*pp, "stages", j)), _names(k, stage_names, "stage")))
        scope_ok = len(errors) == known_before_scope  # else lanes and stages are unknowable
        for key in ("closed", "priority"):
            for j, k in enumerate(getattr(ph, key) or []):
                cls_ok((*pp, key, j), k)
        for key in ("service_factor", "demand_factor"):
            for k in getattr(ph, key) or {}:
                cls_ok((*pp, key, k), k, allow_all=True)
        for key in ("secondary_probability", "quota_per_day"):
            for k in getattr(ph, key) or {}:
                cls_ok((*pp, key, k), k)
        for k in ph.secondary_probability or {}:
            has = any(k in st.secondary for c in scope_c if c in s.crossings
                      for st in s.crossings[c].stages
                      if ph.stages == ALL or st.name in ph.stages)
            if k in s.classes and scope_ok and not has:
                errors.append((_fmt((*pp, "secondary_probability", k)),
                               f"no stage in this phase's scope has secondary inspection for "
                               f"'{k}' (add a 'secondary' entry to the stage)"))
        for k in ph.appointment or {}:
            cls_ok((*pp, "appointment", k), k)
            if k not in s.classes or not scope_ok:
                continue
            for c in scope_c:
                first = s.crossings[c].stages[0]
                if ph.stages != ALL and first.name not in ph.stages:
                    errors.append((_fmt((*pp, "appointment", k)),
                                   f"bookings start at a crossing's first stage: add "
                                   f"'{first.name}' of '{c}' to this phase's stages"))
                elif not any(k in ln.serves for ln in first.lanes):
                    errors.append((_fmt((*pp, "appointment", k)),
                                   f"crossing '{c}' does not serve class '{k}' (no lane of "
                                   f"its first stage '{first.name}' serves it): book a class "
                                   "only where it crosses, or name the crossings"))
        lanes = sorted({f"{st.name}/{ln.name}" for k in scope_c if k in s.crossings
                        for st in s.crossings[k].stages for ln in st.lanes})
        for k in ph.booths or {}:
            if scope_ok and k not in lanes:
                errors.append((_fmt((*pp, "booths", k)),
                               _names(k, lanes, "lane (written stage/lane)")))

    b = s.behaviour
    for k in b.patience:
        cls_ok(("behaviour", "patience", k), k)
    for k in b.balk:
        cls_ok(("behaviour", "balk", k), k)
    for k in b.defer:
        cls_ok(("behaviour", "defer", k), k)
    for k, r in b.respond.items():
        cls_ok(("behaviour", "respond", k), k)
        if r.crossings != ALL:
            for j, c in enumerate(r.crossings):
                if c not in s.crossings:
                    errors.append((_fmt(("behaviour", "respond", k, "crossings", j)),
                                   _names(c, crossings, "crossing")))
    for k in b.divert:
        cls_ok(("behaviour", "divert", k), k)
        if k not in s.classes:
            continue
        rules = b.divert[k]
        many = isinstance(rules, list)
        origins = set()
        for j, rule in enumerate(b.divert_rules(k)):
            rp = ("behaviour", "divert", k, j) if many else ("behaviour", "divert", k)
            if rule.from_ not in s.crossings:
                errors.append((_fmt((*rp, "from")), _names(rule.from_, crossings, "crossing")))
            elif rule.from_ in origins:
                errors.append((_fmt((*rp, "from")), f"a second rule for '{rule.from_}': give "
                                                    "one rule per crossing, with a list in 'to'"))
            origins.add(rule.from_)
            for t in rule.targets():
                if t not in s.crossings:
                    errors.append((_fmt((*rp, "to")), _names(t, crossings, "crossing")))
                elif t == rule.from_:
                    errors.append((_fmt((*rp, "to")), f"'{t}' is the crossing diverted from"))
                elif not all(any(k in ln.serves for ln in st.lanes)
                             for st in s.crossings[t].stages):
                    errors.append((_fmt((*rp, "to")), f"no lane at every stage of '{t}' "
                                                      f"serves class '{k}'"))
            if isinstance(rule.travel, dict):
                for t in rule.targets():
                    if t not in rule.travel:
                        errors.append((_fmt((*rp, "travel")), f"no travel time to '{t}'"))
                for t in rule.travel:
                    if t not in rule.targets():
                        errors.append((_fmt((*rp, "travel", t)), f"'{t}' is not in 'to'"))
    if s.economics is not None:
        e = s.economics
        for k in e.vehicle_cost_per_hour:
            cls_ok(("economics", "vehicle_cost_per_hour", k), k)
        for k in e.lost_unit_value:
            cls_ok(("economics", "lost_unit_value", k), k)
        for k in e.forgone_unit_value:
            cls_ok(("economics", "forgone_unit_value", k), k)
        for k in e.off_road_cost_per_hour:
            cls_ok(("economics", "off_road_cost_per_hour", k), k)
    return errors


def format_path(path: tuple) -> str:
    return _fmt(path)
