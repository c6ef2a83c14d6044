"""The JSON Schema of a scenario file, with a description for every field, and the reference
page generated from it (docs/reference.md), so that the two cannot drift.

pydantic (:mod:`bordersim.scenario`) describes what the models hold after
parsing; the schema here describes what a file may say, in standard JSON Schema
(draft 2020-12) an editor or a validator understands:

- limits as ``minimum``/``exclusiveMinimum``/``maximum`` (pydantic writes some
  as ``ge``/``gt``/``le``, which no validator knows);
- a bare duration where a distribution is expected; a cargo value as money (a
  number, or a distribution of numbers), never a duration;
- a file with ``extends`` holds only what it changes: mappings merge deeply
  into the parent's, so below them nothing is required; list items replace the
  parent's whole, so inside a list everything is (``Partial*`` definitions).

The words are in :data:`DESCRIPTIONS`, next to nothing else, so a field added to
the models without a description fails the test that checks every field has one.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from bordersim.scenario import Scenario

__all__ = ["scenario_json_schema", "reference_markdown", "DESCRIPTIONS", "MODELS"]

# what each model is, as the reference and an editor's hover show it
MODELS: dict[str, str] = {
    "Scenario": "A scenario file: a calendar window, traffic classes, crossings, a policy "
                "timeline, behaviour, economics and run settings. Every field is described "
                "below; `bordersim validate FILE` checks a file and says what is wrong.",
    "ClassSpec": "A kind of arrival unit (pedestrian, car, bus, truck, or any name).",
    "Crossing": "A border crossing point in one direction; units pass its stages in order.",
    "Stage": "An inspection stage of a crossing (e.g. exit control, then entry control).",
    "Lane": "A lane of a stage: some classes, served by its booths (parallel servers).",
    "Secondary": "Secondary inspection after the lane: a share of the units go to a separate "
                 "pool of bays.",
    "Phase": "A policy phase: from `at` until the next phase, the settings it names apply "
             "in its scope. Each named setting replaces that setting as a whole; what it "
             "leaves out takes its base value (factor 1, open, no quota, no priority, the "
             "stage's own booths and referral share), and settings it does not name carry "
             "over from the phase before.",
    "Appointment": "An electronic queue (appointment system, as GoSwift or eCherha) for one "
                   "class at the crossings of the phase: an arriving unit books a slot "
                   "instead of joining the road queue (unless it is one of the `live_share` "
                   "that come without a booking), waits off the road until a slot server "
                   "calls it, one slot every 1/rate hours, perishable loads first where "
                   "`perishable_first`, and reaches the site for its slot; booked units are "
                   "served before units without a booking at every stage. It adds no "
                   "capacity: the backlog moves from the road to the booking list. When a "
                   "phase introduces it, the units already queuing are served first and the "
                   "first slot comes when the slot rate would have cleared them; when a "
                   "phase ends it, bookings made are honoured and new arrivals queue. "
                   "docs/howto-appointments.md explains it with examples.",
    "Behaviour": "How travellers react to queues and policy, by class.",
    "Balk": "Turning back on arrival at a long queue.",
    "Divert": "Driving to another crossing when the queue on arrival is long. A unit diverts "
              "at most once and keeps its cargo and patience.",
    "Defer": "Trips suppressed by a `demand_factor` below 1 that are made later.",
    "Respond": "Demand that answers the delay travellers can see: a trip due at the border "
               "at time t is decided `lead` before (loading and the drive), and sets off then "
               "with probability share(D) = floor + (1 − floor) / (1 + (D / "
               "reference_delay)^steepness), D the delay reported `lag` before the decision; "
               "the others are held and set off at a later report that would let them go, or "
               "at `hold_max`, when a `give_up` share of them is given up instead. A trip "
               "that sets off late arrives `lead` after it sets off.",
    "Economics": "What waiting costs. Per unit that waited w hours in all: waiting time "
                 "w × (persons × value_of_time_per_person_hour + vehicle_cost_per_hour); "
                 "cargo held up w/24 × cargo value × cargo_time_cost_per_day; spoilage "
                 "perishable_share × cargo value × (1 − exp(−rate_per_day × max(0, w/24 − "
                 "after in days))); and lost_unit_value for a unit that gives up or turns "
                 "back. docs/results.md lists every cost component.",
    "Spoilage": "Perishable cargo lost with waiting.",
    "CargoShare": "A share of the unit's cargo value, e.g. a load sold at home at a discount.",
    "Exponential": "Exponential law with the given mean (cv 1).",
    "Deterministic": "Every draw is the same value. A bare duration means this.",
    "Gamma": "Gamma law by mean and coefficient of variation: shape 1/cv², scale mean·cv².",
    "Lognormal": "Lognormal law by the mean and coefficient of variation of the variable "
                 "itself (not of its logarithm).",
    "Uniform": "Uniform between low and high.",
    "Triangular": "Triangular law with the given low, mode and high.",
    "Empirical": "Resamples the listed values with equal weight.",
}

DESCRIPTIONS: dict[str, dict[str, str]] = {
    "Scenario": {
        "name": "Names the scenario and its results folder (results/<name>/); lowercase "
                "letters, digits, '-' and '_'.",
        "description": "What the scenario is and what it answers, in a few sentences; the "
                       "report shows it under the title.",
        "extends": "A scenario file this one builds on, relative to this file. Mappings "
                   "merge deeply (this file adds or replaces keys); lists and single values "
                   "replace the parent's whole. A file that extends another need only say "
                   "what differs.",
        "start": "Calendar time of clock 0: an ISO date (2017-10-01, meaning midnight) or "
                 "datetime (2017-10-10T18:00).",
        "duration": "Length of the run, e.g. 92d. Events at exactly the end are not "
                    "processed.",
        "warmup": "Units arriving before start + warmup are left out of the statistics (not "
                  "of the time series), so that queues start from their usual state. Less "
                  "than duration.",
        "cooldown": "Units arriving in the last `cooldown` are left out of the per-unit "
                    "statistics, so that no wait is cut short by the end of the run (for "
                    "steady-state checks). warmup + cooldown < duration.",
        "replications": "Runs with their own random streams; every interval is over them. "
                        "`--replications` overrides it.",
        "seed": "Master seed: replication r draws from streams derived from (seed, r), so "
                "the same scenario and seed give the same results. `--seed` overrides it.",
        "classes": "Kinds of arrival unit by name, e.g. pedestrian, car, bus, truck_empty, "
                   "truck_loaded (any name).",
        "crossings": "Border crossing points by name, each in one direction.",
        "policy": "The policy timeline: phases in time order, each in force from its `at` "
                  "until the next one.",
        "behaviour": "Patience, balking, diversion, deferred trips and demand response, by "
                     "class.",
        "economics": "What waiting costs. Without it no costs are computed.",
    },
    "ClassSpec": {
        "persons": "Persons a unit carries (car occupants, bus passengers; 1 for a "
                   "pedestrian or a truck's driver): multiplies the value of time, and counts "
                   "for the `persons` group of observations.",
        "length_m": "Metres of road a unit takes in a queue: turns units waiting into km of "
                    "queue (queue_max_km).",
        "cargo_value": "Value of a unit's cargo in the economics currency: an amount (a plain "
                       "number such as 30000), or a distribution of amounts drawn once per "
                       "unit. Gives the class cargo costs and puts it in the `cargo` group "
                       "of observations.",
        "perishable_share": "Share (0–1) of the cargo value that spoils with waiting, at the "
                            "rate of economics.spoilage.",
    },
    "Crossing": {
        "label": "A name for people, e.g. \"Ak-Tilek (KG) → Karasu (KZ)\"; the reports use "
                 "it.",
        "demand": "Mean arrivals per day by class (before any policy's demand_factor).",
        "profile": "24 relative hourly weights, midnight–1:00 first: how each day's demand "
                   "spreads over its hours. Only their proportions count ([2, 2, ...] is "
                   "flat too). Default: flat.",
        "arrival_process": "poisson: arrivals at random at the demand rate (thinned exactly "
                           "for the profile and demand factors); deterministic: evenly "
                           "spaced, unit k arriving when the expected count reaches k (for "
                           "checks).",
        "stages": "Inspection stages in the order units pass them.",
    },
    "Stage": {
        "name": "Name of the stage, unique at its crossing; phases name it in `stages` and "
                "in `booths` (stage/lane).",
        "lanes": "Lanes of the stage. A unit joins the lane serving its class with the fewest "
                 "waiting (then the most free booths, then lane order).",
        "secondary": "Secondary inspection after the lane, by class.",
    },
    "Lane": {
        "name": "Name of the lane, unique in its stage.",
        "serves": "Classes the lane serves.",
        "booths": "Booths (parallel servers); a phase may change it with booths: "
                  "{stage/lane: n}.",
        "service": "Service time at a booth by class, or `all` for every class the lane "
                   "serves without its own: a duration or a distribution of durations.",
    },
    "Secondary": {
        "probability": "Share (0–1) of the class's units referred after the lane; a phase may "
                       "change it (secondary_probability).",
        "booths": "Bays of the secondary pool (parallel servers).",
        "service": "Secondary inspection time: a duration or a distribution of durations.",
    },
    "Phase": {
        "at": "When the phase starts: an ISO date or datetime, or a duration meaning an "
              "offset from start (9d).",
        "label": "A name for people; the report's timeline shows it.",
        "crossings": "Where the phase applies: all, or a list of crossing names.",
        "stages": "Which stages it applies to: all, or a list of stage names.",
        "reset": "First restore the base configuration of the phase's scope, then apply what "
                 "the phase names.",
        "closed": "Classes refused: they keep arriving (× demand_factor) and queuing; units in "
                  "service finish, and units of a closed class waiting for secondary "
                  "inspection wait until it reopens. An empty list opens every class.",
        "service_factor": "Service-time multipliers by class (`all` for every class): 2 makes "
                          "inspection twice as slow.",
        "secondary_probability": "Share (0–1) referred to secondary inspection, by class; "
                                 "classes not named take their stage's own share. Units "
                                 "already waiting whom a lower share would not have referred "
                                 "are waved on.",
        "booths": "Booths staffed, by stage/lane (e.g. kz-entry/freight: 2); 0 closes a lane. "
                  "Cutting booths never interrupts a unit in service.",
        "quota_per_day": "Most services started per calendar day by class, counted per "
                         "crossing in the stage's lanes (not its secondary bays).",
        "priority": "Classes served first where lanes are shared, highest first.",
        "demand_factor": "Demand multipliers by class (`all` for every class): 0.5 halves "
                         "arrivals.",
        "appointment": "An electronic queue by class at the phase's crossings (each must "
                       "serve the class; bookings start at a crossing's first stage, which "
                       "the phase's stages must include); an empty mapping ends every one.",
    },
    "Appointment": {
        "slots_per_day": "Slots the border releases per day (> 0). Give this or "
                         "capacity_share; neither means capacity_share 0.9.",
        "capacity_share": "Slots as a share (0–1] of the crossing's capacity for the class "
                          "at the settings of the moment: per stage, the booths of its lanes "
                          "÷ mean service × service_factor (as if they served this class "
                          "alone), or its secondary bays ÷ (referral share × mean service) if "
                          "fewer; the smallest stage. Below 1 leaves room for units without "
                          "a booking and for random service times.",
        "live_share": "Share (0–1) of the class's units that come without a booking and join "
                      "the road (live) queue as without the system, served after booked "
                      "units (each unit's own draw; evenly spread for deterministic "
                      "arrivals).",
        "notice": "A unit called by the slot server has its slot this long after the call.",
        "arrive_early": "How long before its slot a booked unit reaches the site (never "
                        "before it is called): a duration or a distribution, drawn per unit "
                        "(from the first phase that gives one). Its time on site before the "
                        "slot counts as waiting on site. Default: none (on time).",
        "no_show": "Share (0–1) of booked units that do not turn up: their slot is lost and "
                   "they count as reneged (cost: lost_unit_value).",
        "horizon": "The longest booking lead time offered: a unit whose slot would come "
                   "later is refused a booking. Default: none (every unit may book).",
        "over_horizon": "What a unit refused a booking does: refuse (it leaves, counted as "
                        "balked) or queue (it joins the road queue, where balking and "
                        "diversion apply as without the system).",
        "perishable_first": "A priority stream: units whose load is perishable (each unit's "
                            "own draw, with probability its class's perishable_share) are "
                            "called before the others. Their spoilage then counts their own "
                            "load (perishable share 1 or 0 per unit).",
        "serve_early": "A booked unit on site joins the queue at once and a free booth may "
                       "serve it before its slot (false: it waits for its slot), so that "
                       "booths left idle by quick inspections take the next truck.",
    },
    "Behaviour": {
        "patience": "By class: a unit leaves (reneged) once it has waited this long in all, "
                    "over every queue it joins; a duration or a distribution of durations.",
        "balk": "By class: turning back on arrival at a long queue.",
        "divert": "By class: one rule, or a list of rules (one per crossing diverted from).",
        "defer": "By class: trips put off by a demand_factor that are made later.",
        "respond": "By class: demand that answers the visible delay.",
    },
    "Balk": {
        "queue_over": "The unit leaves at once (balked) when more than this many units wait on "
                      "its way: the shortest lane of each stage, plus secondary inspection "
                      "where its class is referred.",
    },
    "Divert": {
        "from": "The crossing the rule applies at.",
        "to": "The alternative crossing, or a list of them; the unit goes to the one with the "
              "least expected delay plus travel, if that beats staying.",
        "queue_over": "Units waiting on arrival above which a unit considers going elsewhere.",
        "travel": "Travel time to the alternative: one duration, or one per crossing in `to`. "
                  "Valued like waiting (cost component diversion).",
    },
    "Defer": {
        "share": "Share (0–1) of the suppressed trips that come back (the rest are not made).",
        "over": "They come back spread evenly over this time, from the end of the phase: the "
                "next phase at that crossing that sets demand_factor or reset.",
    },
    "Respond": {
        "reference_delay": "The visible delay at which half of the trips above the floor set "
                           "off at once.",
        "steepness": "How sharply the share falls around reference_delay (the exponent in "
                     "share(D)).",
        "floor": "Share (0–1) of trips made at once however long the delay.",
        "lead": "Time from deciding a trip to reaching the border (loading and the drive): "
                "a duration or a distribution, drawn per trip. Default: none (decided on "
                "arrival).",
        "lag": "How old the reported delay is when travellers see it.",
        "report_every": "How often the delay is reported (at least 1min).",
        "hold_max": "A held trip sets off, or is given up, at the latest this long after it "
                    "was to set off.",
        "give_up": "Share (0–1) of the trips still held at hold_max that are given up (cost: "
                   "their lost_unit_value) instead of made.",
        "crossings": "Where the response applies: all, or a list of crossing names.",
    },
    "Economics": {
        "currency": "The currency of every amount (cargo values, costs), e.g. USD; a label "
                    "only, nothing is converted.",
        "value_of_time_per_person_hour": "What an hour of one person's waiting costs.",
        "vehicle_cost_per_hour": "What an hour of a vehicle's waiting costs by class (driver, "
                                 "fuel, the vehicle's own time), on top of its persons' time.",
        "cargo_time_cost_per_day": "Share of the cargo value lost per day of delay (0.008 is "
                                   "0.8% a day; Hummels & Schaur estimate 0.6–2.1%).",
        "spoilage": "Perishable cargo lost with waiting; none when absent.",
        "lost_unit_value": "What a unit that gives up (reneges or balks) loses, by class: an "
                           "amount, `cargo` (its cargo value) or {cargo_share: s}.",
        "forgone_unit_value": "What a trip held back and then given up before setting off "
                              "(behaviour.respond) loses, by class: an amount, `cargo` or "
                              "{cargo_share: s}. Default: its lost_unit_value.",
        "off_road_cost_per_hour": "What an hour of a vehicle's waiting off the road costs "
                                  "by class, while booked in an electronic queue (parked in "
                                  "a waiting area or at home), in place of "
                                  "vehicle_cost_per_hour; its persons' time and its cargo's "
                                  "time still count (cost component off_road). Default: "
                                  "the class's vehicle_cost_per_hour.",
    },
    "Spoilage": {
        "rate_per_day": "Spoilage rate per day of waiting beyond `after`: the share of the "
                        "perishable cargo lost is 1 − exp(−rate × days).",
        "after": "Waiting before spoilage starts.",
    },
    "CargoShare": {
        "cargo_share": "Share (0–1) of the unit's cargo value.",
    },
    "Exponential": {"dist": "exponential", "mean": "The mean."},
    "Deterministic": {"dist": "deterministic", "value": "The value of every draw."},
    "Gamma": {"dist": "gamma", "mean": "The mean.",
              "cv": "Coefficient of variation: standard deviation / mean (1 is exponential)."},
    "Lognormal": {"dist": "lognormal", "mean": "The mean of the variable.",
                  "cv": "Coefficient of variation of the variable: standard deviation / mean."},
    "Uniform": {"dist": "uniform", "low": "Lower end.", "high": "Upper end (above low)."},
    "Triangular": {"dist": "triangular", "low": "Lower end.", "mode": "Most likely value.",
                   "high": "Upper end (low <= mode <= high, low < high)."},
    "Empirical": {"dist": "empirical", "values": "The values to resample (at least one)."},
}

_LIMITS = {"ge": "minimum", "gt": "exclusiveMinimum", "le": "maximum", "lt": "exclusiveMaximum"}
_DISTS = ("Exponential", "Deterministic", "Gamma", "Lognormal", "Uniform", "Triangular",
          "Empirical")


def _is_duration(node: Any) -> bool:
    return (isinstance(node, dict) and isinstance(node.get("anyOf"), list)
            and len(node["anyOf"]) == 2 and node["anyOf"][0].get("description") == "hours")


def _standard(node: Any) -> None:
    """pydantic's ge/gt/le/lt as JSON Schema keywords; a mapping with name patterns refuses
    other keys; titles pydantic made from field names go (the descriptions say more)."""
    if isinstance(node, dict):
        for ours, theirs in _LIMITS.items():
            if ours in node:
                node[theirs] = node.pop(ours)
        if "patternProperties" in node and "additionalProperties" not in node:
            node["additionalProperties"] = False
        props = node.get("properties")
        if isinstance(props, dict):
            for p in props.values():
                if isinstance(p, dict):
                    p.pop("title", None)
        for v in list(node.values()):
            _standard(v)
    elif isinstance(node, list):
        for v in node:
            _standard(v)


def _bare_durations(node: Any, duration: dict) -> None:
    """Where pydantic has a discriminated union of distributions, a file may also write a
    bare duration (deterministic)."""
    if isinstance(node, dict):
        if "discriminator" in node and "oneOf" in node:
            inner = {"oneOf": node.pop("oneOf")}
            node.pop("discriminator")
            node["anyOf"] = [copy.deepcopy(duration), inner]
            node.setdefault("description", "a duration, or a distribution of durations")
            return
        for v in node.values():
            _bare_durations(v, duration)
    elif isinstance(node, list):
        for v in node:
            _bare_durations(v, duration)


def _money(node: Any) -> Any:
    """A copy of a distribution's schema with durations turned into amounts of money."""
    if _is_duration(node):
        number = {k: v for k, v in node["anyOf"][0].items() if k != "description"}
        number["description"] = "an amount in the economics currency"
        return number
    if isinstance(node, dict):
        out = {k: _money(v) for k, v in node.items()}
        if isinstance(out.get("$ref"), str) and out["$ref"].split("/")[-1] in _DISTS:
            out["$ref"] = "#/$defs/Money" + out["$ref"].split("/")[-1]
        return out
    if isinstance(node, list):
        return [_money(v) for v in node]
    return node


def _describe(defs: dict) -> None:
    for name, fields in DESCRIPTIONS.items():
        d = defs.get(name)
        if d is None:
            continue
        if name in MODELS:
            d["description"] = MODELS[name]
        for field, text in fields.items():
            if field in d.get("properties", {}):
                d["properties"][field]["description"] = text


def _partial(node: Any, in_list: bool) -> Any:
    """A copy where models reached through mappings are Partial (nothing required) and
    models inside list items stay whole."""
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            if k == "$ref" and not in_list:
                out[k] = "#/$defs/Partial" + v.split("/")[-1]
            elif k == "items":
                out[k] = _partial(v, True)
            elif k == "oneOf" and not in_list:       # partial laws may match several
                out["anyOf"] = _partial(v, in_list)
            else:
                out[k] = _partial(v, in_list)
        return out
    if isinstance(node, list):
        return [_partial(v, in_list) for v in node]
    return node


def scenario_json_schema() -> dict:
    """The JSON Schema of a scenario file (draft 2020-12), every field described."""
    from bordersim.distributions import DURATION_SCHEMA, duration_schema

    doc = Scenario.model_json_schema(by_alias=True)
    defs = doc.pop("$defs")
    defs["Scenario"] = doc
    _standard(defs)
    _bare_durations(defs, DURATION_SCHEMA)
    _describe(defs)
    defs["Scenario"]["properties"]["start"] = {
        "type": "string", "pattern": r"^\s*[0-9]{4}-[0-9]{2}-[0-9]{2}",
        "description": DESCRIPTIONS["Scenario"]["start"]}
    profile = defs["Crossing"]["properties"]["profile"]["anyOf"][0]
    profile.update(minItems=24, maxItems=24,
                   contains={"type": "number", "exclusiveMinimum": 0})   # not all zero
    # the delay report: a duration of at least a minute
    every = duration_schema(positive=True)
    every["anyOf"][0] = {"type": "number", "minimum": 1 / 60, "description": "hours"}
    defs["Respond"]["properties"]["report_every"] = {
        **every, "default": 1.0, "description": DESCRIPTIONS["Respond"]["report_every"]}
    # money: a cargo value is an amount, or a distribution of amounts
    for name in _DISTS:
        money = _money(defs[name])
        money["title"] = "Money" + name
        defs["Money" + name] = money
    cargo = defs["ClassSpec"]["properties"]["cargo_value"]
    money_number = {"type": "number", "minimum": 0,
                    "description": "an amount in the economics currency"}
    defs["ClassSpec"]["properties"]["cargo_value"] = {
        "anyOf": [money_number,
                  {"oneOf": [{"$ref": f"#/$defs/Money{n}"} for n in _DISTS]},
                  {"type": "null"}],
        "default": None, "description": cargo["description"]}
    # the same definitions with nothing required, for files that extend another
    for name in list(defs):
        part = _partial(defs[name], in_list=False)
        part.pop("required", None)
        part["title"] = "Partial" + name
        defs["Partial" + name] = part
    root = copy.deepcopy(defs["PartialScenario"])
    root.pop("title", None)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "bordersim scenario",
        **root,
        "description": MODELS["Scenario"],
        # a file without `extends` must be complete; one with it holds only what it changes
        "if": {"required": ["extends"]},
        "else": {"$ref": "#/$defs/Scenario"},
        "$defs": defs,
    }


# -- the reference page ------------------------------------------------------------------------

# the reference's sections: model, what a reader calls it, where it sits in a file
_ORDER = [("Scenario", "The file", ""),
          ("ClassSpec", "Class", "classes.NAME"),
          ("Crossing", "Crossing", "crossings.NAME"),
          ("Stage", "Stage", "crossings.NAME.stages[i]"),
          ("Lane", "Lane", "crossings.NAME.stages[i].lanes[j]"),
          ("Secondary", "Secondary inspection", "crossings.NAME.stages[i].secondary.CLASS"),
          ("Phase", "Policy phase", "policy[i]"),
          ("Appointment", "Electronic queue", "policy[i].appointment.CLASS"),
          ("Behaviour", "Behaviour", "behaviour"),
          ("Balk", "Balking", "behaviour.balk.CLASS"),
          ("Divert", "Diversion", "behaviour.divert.CLASS"),
          ("Defer", "Deferred trips", "behaviour.defer.CLASS"),
          ("Respond", "Demand response", "behaviour.respond.CLASS"),
          ("Economics", "Economics", "economics"),
          ("Spoilage", "Spoilage", "economics.spoilage"),
          ("CargoShare", "Cargo share", "economics.lost_unit_value.CLASS")]
_NOUN = {name: title.lower() for name, title, _ in _ORDER}


def _anchor(name: str) -> str:
    return name.lower()


def _is_duration_text(node: dict) -> bool:
    return node.get("type") == "string" and "duration" in node.get("description", "")


def _limits(node: dict) -> str:
    parts = []
    if "minimum" in node:
        parts.append(f"≥ {_num(node['minimum'])}")
    if "exclusiveMinimum" in node:
        parts.append(f"> {_num(node['exclusiveMinimum'])}")
    if "maximum" in node:
        parts.append(f"≤ {_num(node['maximum'])}")
    if "exclusiveMaximum" in node:
        parts.append(f"< {_num(node['exclusiveMaximum'])}")
    return ", ".join(parts)


def _num(x) -> str:
    if isinstance(x, float) and abs(x - 1 / 60) < 1e-12:
        return "1/60"
    return f"{x:g}" if isinstance(x, float) else str(x)


def _type(node: dict, defs: dict) -> str:
    """A field's type in words: 'number ≥ 0', 'duration > 0', 'mapping class → number'."""
    if _is_duration(node):
        number = node["anyOf"][0]
        if number.get("minimum", 0) > 0:
            return f"duration ≥ {number['minimum'] * 60:g}min"
        return "duration " + ("> 0" if "exclusiveMinimum" in number else "≥ 0")
    if "$ref" in node:
        name = node["$ref"].split("/")[-1]
        return f"[{_NOUN.get(name, name)}](#{_anchor(name)})"
    if "const" in node:
        return f"`{node['const']}`"
    if "enum" in node:
        return " or ".join(f"`{v}`" for v in node["enum"])
    for key in ("anyOf", "oneOf"):
        if key in node:
            options = [o for o in node[key] if o.get("type") != "null"]
            if all("$ref" in o for o in options) and \
                    all(o["$ref"].split("/")[-1].removeprefix("Money") in _DISTS
                        for o in options):
                money = any("Money" in o["$ref"] for o in options)
                return "[distribution](#distributions)" + (" of amounts" if money else "")
            if len(options) == 2 and _is_duration(options[0]) and key == "anyOf" and \
                    "oneOf" in options[1]:
                return "duration ≥ 0 or [distribution](#distributions)"
            # a union pydantic flattened: hours and duration text are one duration
            hours = [o for o in options if o.get("description") == "hours"]
            if hours and any(_is_duration_text(o) for o in options):
                merged = {"anyOf": [hours[0], next(o for o in options
                                                   if _is_duration_text(o))]}
                options = [merged, *(o for o in options
                                     if o is not hours[0] and not _is_duration_text(o))]
            texts = list(dict.fromkeys(_type(o, defs) for o in options))
            return " or ".join(texts)
    t = node.get("type")
    if t == "array":
        inner = _type(node.get("items", {}), defs)
        n = ""
        if node.get("minItems") == node.get("maxItems") and "minItems" in node:
            n = f" of {node['minItems']}"
        elif node.get("minItems"):
            n = f" (at least {node['minItems']})"
        return f"list{n} of {inner}"
    if t == "object":
        value = node.get("additionalProperties")
        if not isinstance(value, dict):
            pats = node.get("patternProperties") or {}
            value = next(iter(pats.values()), None)
        return f"mapping name → {_type(value, defs)}" if isinstance(value, dict) else "mapping"
    if t == "string":
        if "pattern" in node and node["pattern"].startswith(r"^\s*[0-9]{4}"):
            return "date"
        return "name" if node.get("pattern") == r"^[A-Za-z0-9_.\-]+$" else "text"
    if t in ("number", "integer"):
        word = "whole number" if t == "integer" else "number"
        if node.get("minimum") == 0 and node.get("maximum") == 1:
            return f"{word} from 0 to 1"
        return f"{word} {_limits(node)}".strip()
    if t == "boolean":
        return "true or false"
    return "any"


def _default(node: dict) -> str:
    if "default" not in node:        # a list or mapping that starts empty
        return "empty"
    d = node["default"]
    if d is None:
        return "none"
    if d in ({}, [], ""):
        return "empty"
    if isinstance(d, float):
        return f"`{_num(d)}`"
    return f"`{json.dumps(d, ensure_ascii=False)}`" if not isinstance(d, str) else f"`{d}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def reference_markdown() -> str:
    """docs/reference.md: every section of a scenario file, every field with its type,
    default and meaning, from :func:`scenario_json_schema`."""
    schema = scenario_json_schema()
    defs = schema["$defs"]
    out = ["# Scenario file reference", "",
           "<!-- Generated by `bordersim schema --markdown > docs/reference.md` from the "
           "JSON Schema; do not edit by hand (a test fails when the two differ). -->", "",
           "A scenario is one YAML file. This page lists every field; "
           "[the tutorial](tutorial.md) builds a scenario step by step, and "
           "`bordersim schema` prints the same information as a JSON Schema for editors.",
           "", "**Durations** are text with a unit — `45s`, `15min`, `2h`, `3d`, `1w` (also "
           "`sec`, `minutes`, `hours`, `days`, `weeks`, any case) — or bare numbers meaning "
           "hours. **Times** (`start`, a phase's `at`) are ISO dates or datetimes "
           "(`2017-10-10`, `2017-10-10T18:00`; a date means midnight), or, for `at`, a "
           "duration meaning an offset from `start`. **Amounts of money** are plain numbers "
           "in the economics currency (`30000`, not `30k`). **Names** (classes, crossings, "
           "stages, lanes) use letters, digits, `.`, `-` and `_`.", "",
           "A field marked *required* must be given unless the file `extends` another, "
           "which then supplies it.", ""]
    for name, title, where in _ORDER:
        d = defs[name]
        place = f"Where: `{where}`." if where else "The top level of the file."
        out += [f"## {title}", "", f"<a id=\"{_anchor(name)}\"></a>{place} "
                f"{d.get('description', '')}", "",
                "| field | type | default | meaning |", "|---|---|---|---|"]
        required = set(d.get("required", []))
        for field, node in d.get("properties", {}).items():
            default = "*required*" if field in required else _default(node)
            out.append(f"| `{field}` | {_cell(_type(node, defs))} | {_cell(default)} | "
                       f"{_cell(node.get('description', ''))} |")
        out.append("")
    out += ["## Distributions", "", "<a id=\"distributions\"></a>Where a duration or an amount "
            "varies from unit to unit, give a distribution: a mapping with `dist` and its "
            "parameters, e.g. `{dist: gamma, mean: 12min, cv: 0.5}`. A bare duration (or, for "
            "cargo_value, a bare amount) means `deterministic`. Each unit draws its values "
            "once, on arrival, from streams keyed by crossing and class (common random "
            "numbers across scenarios). Parameters are durations, or amounts of money for "
            "cargo_value.", ""]
    for name in _DISTS:
        d = defs[name]
        out += [f"### {name.lower()}", "", f"<a id=\"{_anchor(name)}\"></a>"
                f"{d.get('description', '')}", "",
                "| field | type | meaning |", "|---|---|---|"]
        required = set(d.get("required", []))
        for field, node in d.get("properties", {}).items():
            if field == "dist":
                continue
            out.append(f"| `{field}` | {_cell(_type(node, defs))} | "
                       f"{_cell(node.get('description', ''))}"
                       f"{'' if field in required else ' (default ' + _default(node) + ')'} |")
        out.append("")
    return "\n".join(out).rstrip() + "\n"
