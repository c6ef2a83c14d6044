"""Durations, calendar times and the seven distributions of a scenario file.

The clock is in hours. Every distribution knows its analytic mean and
variance, so one generic test checks sampling for all of them.
"""

from __future__ import annotations

import difflib
import math
import re
import reprlib
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

__all__ = [
    "brief",
    "Strict",
    "NoBool",
    "parse_duration",
    "parse_time",
    "to_datetime",
    "did_you_mean",
    "Distribution",
    "Exponential",
    "Deterministic",
    "Gamma",
    "Lognormal",
    "Uniform",
    "Triangular",
    "Empirical",
]

_UNITS_H = {
    "s": 1 / 3600, "sec": 1 / 3600, "second": 1 / 3600, "seconds": 1 / 3600,
    "min": 1 / 60, "minute": 1 / 60, "minutes": 1 / 60, "m": 1 / 60,
    "h": 1.0, "hr": 1.0, "hour": 1.0, "hours": 1.0,
    "d": 24.0, "day": 24.0, "days": 24.0,
    "w": 168.0, "week": 168.0, "weeks": 168.0,
}
_DURATION_RE = re.compile(r"^\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*([a-zA-Z]*)\s*$")


_BRIEF = reprlib.Repr()
_BRIEF.maxstring = _BRIEF.maxother = 60
_BRIEF.maxlist = _BRIEF.maxdict = _BRIEF.maxtuple = _BRIEF.maxset = 4
_BRIEF.maxlevel = 2


def brief(value: Any) -> str:
    """A value as a message shows it: its repr, cut short (never a whole expanded document)."""
    return _BRIEF.repr(value)


def parse_duration(value: Any) -> float:
    """Hours from "45s", "15min", "2h", "3d", "1w", or a bare number of hours."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration such as '15min' or '2h', got {brief(value)}")
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            raise ValueError(f"expected a finite duration, got {brief(value)}")
        return float(value)
    if isinstance(value, str):
        m = _DURATION_RE.match(value)
        if m:
            number, unit = m.groups()
            factor = 1.0 if unit == "" else _UNITS_H.get(unit.lower())
            if factor is not None and math.isfinite(float(number) * factor):
                return float(number) * factor
        raise ValueError(
            f"expected a duration such as '45s', '15min', '2h', '3d' or '1w' "
            f"(a bare number means hours), got {brief(value)}{_clock_hint(value)}"
        )
    raise ValueError(f"expected a duration such as '15min' or '2h', got {brief(value)}")


def _clock_hint(value: Any) -> str:
    if isinstance(value, str) and re.match(r"^\s*\d{1,2}:\d{2}(:\d{2})?\s*$", value):
        return (" (a time of day needs its date, as in 2017-10-10T18:00; 18 hours is "
                "written 18h)")
    return ""


def to_datetime(value: Any) -> datetime:
    """A calendar time from an ISO date or datetime (a date means midnight).

    Times are local to the border, as written: an offset from UTC (``+06:00``, ``Z``) is
    refused rather than dropped or converted."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            raise ValueError(_OFFSET.format(value.isoformat()))
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    if isinstance(value, str):
        text = value.strip()
        try:
            t = datetime.fromisoformat(text)
        except ValueError as e:
            if _ISO_SHAPE.match(text):     # the shape of a date, but no such day or hour
                raise ValueError(f"{brief(text)} is not a date of the calendar ({e}); expected "
                                 "an ISO date or datetime such as 2017-10-10T18:00") from None
        else:
            if t.tzinfo is not None:
                raise ValueError(_OFFSET.format(text))
            return t
    raise ValueError(
        "expected an ISO date or datetime such as 2017-10-10 or 2017-10-10T18:00, got "
        f"{brief(value)}"
    )


_ISO_SHAPE = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$")
_OFFSET = ("{} has an offset from UTC; bordersim's times are the local time at the border, "
           "written without an offset (such as 2017-10-10T18:00)")


def parse_time(value: Any, start: datetime) -> float:
    """Hours since ``start`` from an ISO date/datetime, or from a duration read as an offset."""
    if isinstance(value, (date, datetime)):
        return (to_datetime(value) - start) / timedelta(hours=1)
    if isinstance(value, str) and re.match(r"^\s*\d{4}-\d{2}-\d{2}", value):
        return (to_datetime(value) - start) / timedelta(hours=1)
    try:
        return parse_duration(value)
    except ValueError:
        raise ValueError(
            "expected an ISO date/datetime (2017-10-10T18:00) or an offset from start "
            f"such as '9d' or '36h', got {brief(value)}{_clock_hint(value)}"
        ) from None


def did_you_mean(word: Any, known: Sequence[str]) -> str:
    """The hint "; did you mean 'x'?" for the closest of ``known`` to ``word``, else ""."""
    close = difflib.get_close_matches(str(word), known, n=1)
    return f"; did you mean '{close[0]}'?" if close else ""


def _duration(value: Any) -> float:
    return parse_duration(value)


def _unit_pattern() -> str:
    """The units of _UNITS_H as a case-insensitive regular expression (JSON Schema patterns
    have no flags): longest first, so 'min' is not read as 'm'."""
    def anycase(word: str) -> str:
        return "".join(f"[{c.lower()}{c.upper()}]" for c in word)

    return "(" + "|".join(anycase(u) for u in sorted(_UNITS_H, key=len, reverse=True)) + ")"


def duration_schema(positive: bool) -> dict:
    """JSON Schema of a duration: hours as a number, or text with a unit; ``positive``
    excludes zero, else any non-negative duration."""
    mantissa = (r"(0*[1-9][0-9]*(\.[0-9]*)?|0*\.0*[1-9][0-9]*)" if positive
                else r"([0-9]+\.?[0-9]*|\.[0-9]+)")
    pattern = rf"^\s*\+?{mantissa}([eE][+-]?[0-9]+)?\s*{_unit_pattern()}?\s*$"
    number = {"type": "number", "description": "hours"}
    number["exclusiveMinimum" if positive else "minimum"] = 0
    return {"anyOf": [number, {
        "type": "string", "pattern": pattern,
        "description": "a duration such as '45s', '15min', '2h', '3d' or '1w' (a bare number "
                       "means hours)"}]}


DURATION_SCHEMA = duration_schema(positive=False)
POSITIVE_DURATION_SCHEMA = duration_schema(positive=True)
TIME_SCHEMA = {
    "anyOf": [
        {"type": "string", "pattern": r"^\s*[0-9]{4}-[0-9]{2}-[0-9]{2}",
         "description": "ISO date or datetime, e.g. 2017-10-10T18:00"},
        DURATION_SCHEMA,
    ],
    "description": "calendar time, or a duration meaning an offset from start",
}

PositiveDuration = Annotated[float, BeforeValidator(_duration), Field(gt=0),
                             WithJsonSchema(POSITIVE_DURATION_SCHEMA)]
NonNegDuration = Annotated[float, BeforeValidator(_duration), Field(ge=0),
                           WithJsonSchema(DURATION_SCHEMA)]


def _no_bool(value: Any) -> Any:
    # YAML reads yes/no/on/off as booleans; a count or rate must not silently become 1 or 0
    if isinstance(value, bool):
        raise PydanticCustomError("bool_not_number", "expected a number, got {value}",
                                  {"value": value})
    return value


NoBool = BeforeValidator(_no_bool)
"""Put in ``Annotated[int | float, NoBool]``: numbers in a scenario are never booleans."""


class Strict(BaseModel):
    """Unknown keys are errors, with a suggestion when a known key is close."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _unknown_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            known = set()
            for name, field in cls.model_fields.items():
                known.add(field.alias or name)
            for key in data:
                if key not in known:
                    raise PydanticCustomError(
                        "unknown_key",
                        "unknown key '{key}'{hint} (expected one of: {known})",
                        {"key": key, "hint": did_you_mean(key, sorted(known)),
                         "known": ", ".join(sorted(known))},
                    )
        return data


class _Dist(Strict):
    """Each law gives ``mean`` and ``variance`` (analytic, in hours) and
    ``sample(rng, size)``; the generic moment test covers every one."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Exponential(_Dist):
    dist: Literal["exponential"]
    mean_: PositiveDuration = Field(alias="mean")

    @property
    def mean(self) -> float:
        return self.mean_

    @property
    def variance(self) -> float:
        return self.mean_ * self.mean_

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.exponential(self.mean_, size)


class Deterministic(_Dist):
    dist: Literal["deterministic"]
    value: NonNegDuration

    @property
    def mean(self) -> float:
        return self.value

    @property
    def variance(self) -> float:
        return 0.0

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return np.full(size, self.value)


CV_RANGE = (1e-6, 1000.0)


class _MeanCV(_Dist):
    """A positive law given by its mean and coefficient of variation."""

    mean_: PositiveDuration = Field(alias="mean")
    cv: Annotated[float, NoBool] = Field(gt=0, allow_inf_nan=False)

    @field_validator("cv")
    @classmethod
    def _cv_range(cls, cv: float) -> float:
        # beyond these the law's parameters (shape 1/cv², log-variance) under- or overflow
        if not CV_RANGE[0] <= cv <= CV_RANGE[1]:
            raise ValueError(f"expected a coefficient of variation from {CV_RANGE[0]:g} to "
                             f"{CV_RANGE[1]:g} (a bare duration means no variation at all), "
                             f"got {cv:g}")
        return cv

    @property
    def mean(self) -> float:
        return self.mean_

    @property
    def variance(self) -> float:
        sd = self.cv * self.mean_
        return sd * sd


class Gamma(_MeanCV):
    """Gamma by mean and coefficient of variation: shape = 1/cv², scale = mean·cv²."""

    dist: Literal["gamma"]

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        shape = 1.0 / self.cv**2
        return rng.gamma(shape, self.mean_ / shape, size)


class Lognormal(_MeanCV):
    """Lognormal by mean and coefficient of variation of the variable itself."""

    dist: Literal["lognormal"]

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        sigma2 = math.log1p(self.cv**2)
        mu = math.log(self.mean_) - sigma2 / 2
        return rng.lognormal(mu, math.sqrt(sigma2), size)


class Uniform(_Dist):
    dist: Literal["uniform"]
    low: NonNegDuration
    high: NonNegDuration

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if not self.high > self.low:
            raise ValueError(f"uniform needs low < high, got low={self.low:g}h, "
                             f"high={self.high:g}h")
        return self

    @property
    def mean(self) -> float:
        return (self.low + self.high) / 2

    @property
    def variance(self) -> float:
        width = self.high - self.low
        return width * width / 12

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.uniform(self.low, self.high, size)


class Triangular(_Dist):
    dist: Literal["triangular"]
    low: NonNegDuration
    mode: NonNegDuration
    high: NonNegDuration

    @model_validator(mode="after")
    def _ordered(self) -> Triangular:
        if not (self.low <= self.mode <= self.high and self.low < self.high):
            raise ValueError(
                "triangular needs low <= mode <= high and low < high, got "
                f"low={self.low:g}h, mode={self.mode:g}h, high={self.high:g}h"
            )
        return self

    @property
    def mean(self) -> float:
        return (self.low + self.mode + self.high) / 3

    @property
    def variance(self) -> float:
        a, c, b = self.low, self.mode, self.high
        return (a * a + b * b + c * c - a * b - a * c - b * c) / 18

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.triangular(self.low, self.mode, self.high, size)


class Empirical(_Dist):
    """Resamples the listed values with equal weight."""

    dist: Literal["empirical"]
    values: list[NonNegDuration] = Field(min_length=1)

    @property
    def mean(self) -> float:
        return float(np.mean(self.values))

    @property
    def variance(self) -> float:
        return float(np.var(self.values))

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.choice(np.asarray(self.values, dtype=float), size)


_KINDS = {
    "exponential": Exponential,
    "deterministic": Deterministic,
    "gamma": Gamma,
    "lognormal": Lognormal,
    "uniform": Uniform,
    "triangular": Triangular,
    "empirical": Empirical,
}


def _bare_is_deterministic(value: Any) -> Any:
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return {"dist": "deterministic", "value": value}
    if isinstance(value, dict) and "dist" in value and (
            not isinstance(value["dist"], str) or value["dist"] not in _KINDS):
        raise ValueError(
            f"unknown distribution {brief(value['dist'])}; expected one of "
            f"{', '.join(_KINDS)}"
        )
    if isinstance(value, dict) and "dist" not in value:
        raise ValueError(
            "a distribution needs 'dist' (one of " + ", ".join(_KINDS) + "), or a bare duration"
        )
    return value


Distribution = Annotated[
    Exponential | Deterministic | Gamma | Lognormal | Uniform | Triangular | Empirical,
    Field(discriminator="dist"),
    BeforeValidator(_bare_is_deterministic),
]
"""Any of the seven distributions; a bare duration means deterministic."""
