"""Readable names for crossings, classes and scenario paths, for tables, axes and sentences.

A dotted path such as ``policy.2.quota_per_day.truck_loaded`` is what the user
typed; a reader of a figure needs "daily quota of truck_loaded, phase 3
'Priority to persons' (from 19 Oct), units per day". :func:`path_label` reads
the scenario (when it has one) to name lanes, stages and policy phases.
"""

from __future__ import annotations

from datetime import timedelta

from bordersim.scenario import ALL, Scenario

__all__ = ["crossing_name", "key_label", "path_label", "path_unit"]


def crossing_name(scn: Scenario | None, crossing: str) -> str:
    """The crossing's label when the scenario gives one, else its name; 'all crossings'."""
    if crossing == ALL:
        return "all crossings"
    spec = scn.crossings.get(crossing) if scn is not None else None
    return spec.label if spec is not None and spec.label else crossing


def key_label(scn: Scenario | None, crossing: str, cls: str) -> str:
    """'Ak-Tilek (KG) → Karasu (KZ) · truck_loaded', 'all crossings · all classes'."""
    return f"{crossing_name(scn, crossing)} · {'all classes' if cls == ALL else cls}"


_PHASE_FIELDS = {
    "quota_per_day": ("daily quota of {k}", "units per day"),
    "service_factor": ("service-time factor of {k}", "× base"),
    "demand_factor": ("demand factor of {k}", "× base"),
    "secondary_probability": ("share of {k} sent to secondary inspection", "share"),
    "booths": ("booths of lane {k}", "booths"),
}
_DURATION_KEYS = {"mean", "value", "low", "high", "mode", "travel", "over", "after",
                  "duration", "warmup", "cooldown"}


def _phase_name(scn: Scenario | None, i: int) -> str:
    if scn is None or not 0 <= i < len(scn.policy):
        return f"phase {i + 1}"
    ph = scn.policy[i]
    when = scn.start + timedelta(hours=scn.phase_time(i))
    label = f" '{ph.label}'" if ph.label else ""
    return f"phase {i + 1}{label} (from {when:%-d %b})"


def _stage(scn: Scenario | None, crossing: str, i: str) -> tuple[str, object]:
    spec = scn.crossings.get(crossing) if scn is not None else None
    if spec is not None and i.isdigit() and int(i) < len(spec.stages):
        st = spec.stages[int(i)]
        return st.name, st
    return f"stage {i}", None


def path_unit(path: str, currency: str | None = None) -> str:
    """The unit a value at this path is in ('' when it has none)."""
    parts = path.split(".")
    last, parent = parts[-1], (parts[-2] if len(parts) > 1 else "")
    cur = currency or "money"
    if parts[0] == "policy" and len(parts) >= 3 and parts[2] in _PHASE_FIELDS:
        return _PHASE_FIELDS[parts[2]][1]
    if last == "at":
        return "date"
    if last == "booths":
        return "booths"
    if parent == "demand":
        return "units per day"
    if last in ("probability", "perishable_share", "share", "cargo_share") or \
            last == "cargo_time_cost_per_day":
        return "share" if last != "cargo_time_cost_per_day" else "share of cargo value a day"
    if last == "value_of_time_per_person_hour":
        return f"{cur} per person-hour"
    if parent == "vehicle_cost_per_hour":
        return f"{cur} per hour"
    if "cargo_value" in parts or parent == "lost_unit_value":
        return cur
    if last in ("queue_over",):
        return "units waiting"
    if last == "rate_per_day":
        return "per day"
    if last in ("persons",):
        return "persons per unit"
    if last == "length_m":
        return "m"
    if last == "cv":
        return "coefficient of variation"
    if last in _DURATION_KEYS:
        return "hours"
    return ""


def _describe(parts: list[str], scn: Scenario | None) -> str:
    head = parts[0]
    if head == "policy" and len(parts) >= 3 and parts[1].isdigit():
        phase = _phase_name(scn, int(parts[1]))
        field = parts[2]
        if field == "at":
            return f"start of {phase}"
        if field in _PHASE_FIELDS and len(parts) >= 4:
            return f"{_PHASE_FIELDS[field][0].format(k='/'.join(parts[3:]))}, {phase}"
        return f"{' '.join(parts[2:]).replace('_', ' ')}, {phase}"
    if head == "crossings" and len(parts) >= 3:
        crossing = parts[1]
        where = crossing_name(scn, crossing)
        rest = parts[2:]
        if rest[0] == "demand" and len(rest) == 2:
            return f"demand of {rest[1]} at {where}"
        if rest[0] == "stages" and len(rest) >= 3:
            stage, st = _stage(scn, crossing, rest[1])
            tail = rest[2:]
            if tail[0] == "lanes" and len(tail) >= 3:
                lane = tail[1]
                if st is not None and lane.isdigit() and int(lane) < len(st.lanes):
                    lane = st.lanes[int(lane)].name
                what = tail[2:]
                if what == ["booths"]:
                    return f"booths of lane {lane}, {stage} at {where}"
                if what[0] == "service" and len(what) >= 3:
                    return f"service time ({what[2]}) of {what[1]}, lane {lane}, {stage} at " \
                           f"{where}"
                return f"{' '.join(what)} of lane {lane}, {stage} at {where}"
            if tail[0] == "secondary" and len(tail) >= 3:
                cls, what = tail[1], tail[2:]
                if what == ["booths"]:
                    return f"secondary-inspection bays for {cls}, {stage} at {where}"
                if what == ["probability"]:
                    return f"share of {cls} sent to secondary inspection, {stage} at {where}"
                if what[0] == "service":
                    return f"secondary inspection time ({what[-1]}) of {cls}, {stage} at " \
                           f"{where}"
            return f"{' '.join(tail)}, {stage} at {where}"
        return f"{' '.join(rest)} at {where}"
    if head == "economics" and len(parts) >= 2:
        words = {"value_of_time_per_person_hour": "value of time",
                 "cargo_time_cost_per_day": "cargo time cost",
                 "vehicle_cost_per_hour": "vehicle cost per hour",
                 "lost_unit_value": "value lost per unit that gives up",
                 "spoilage": "spoilage"}
        first = words.get(parts[1], parts[1].replace("_", " "))
        rest = parts[2:]
        if parts[1] in ("vehicle_cost_per_hour", "lost_unit_value") and rest:
            return f"{first} of {'/'.join(rest)}"
        return " ".join([first, *(r.replace("_", " ") for r in rest)])
    if head == "classes" and len(parts) >= 3:
        return f"{' '.join(parts[2:]).replace('_', ' ')} of {parts[1]}"
    if head == "behaviour" and len(parts) >= 3:
        kind = {"patience": "patience", "balk": "balking", "divert": "diversion",
                "defer": "deferred trips"}.get(parts[1], parts[1])
        rest = [p for p in parts[3:] if not p.isdigit()]
        return f"{kind} of {parts[2]}" + (f": {' '.join(rest).replace('_', ' ')}" if rest
                                           else "")
    return " ".join(parts).replace("_", " ")


def path_label(path: str, scn: Scenario | None = None, currency: str | None = None,
               unit: bool = True) -> str:
    """'daily quota of truck_loaded, phase 3 'Priority' (from 19 Oct) (units per day)'."""
    text = _describe(path.split("."), scn)
    u = path_unit(path, currency)
    return f"{text} ({u})" if unit and u and u != "date" else text
