"""Bad input: every wrong scenario, option or path gives one message, exit 2, no traceback.

SPEC "Bad input": the message names the file (or the option), the field path
(``crossings.ak-tilek.stages[0].lanes[0].booths``) and what is expected, and
nothing already written is damaged. Each case below starts from one small
valid scenario and breaks exactly one thing, so each must give exactly one
line of error: a second line would be a cascade of the first.
"""

from __future__ import annotations

import copy
import math
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bordersim.cli import cli

# Two days, one replication, a few dozen units: a good run takes a few hundredths of a second.
BASE = {
    "name": "tiny",
    "start": "2017-10-01",
    "duration": "2d",
    "warmup": "6h",
    "replications": 1,
    "seed": 1,
    "classes": {
        "car": {"persons": 2},
        "truck_loaded": {"persons": 1, "length_m": 20, "cargo_value": 30000,
                         "perishable_share": 0.2},
    },
    "crossings": {
        "ak-tilek": {
            "demand": {"car": 24, "truck_loaded": 24},
            "stages": [
                {"name": "kg-exit", "lanes": [
                    {"name": "all", "serves": ["car", "truck_loaded"], "booths": 2,
                     "service": {"all": "10min"}}]},
                {"name": "kz-entry", "lanes": [
                    {"name": "cars", "serves": ["car"], "booths": 1,
                     "service": {"car": {"dist": "gamma", "mean": "5min", "cv": 0.5}}},
                    {"name": "freight", "serves": ["truck_loaded"], "booths": 2,
                     "service": {"truck_loaded": {"dist": "lognormal", "mean": "20min",
                                                  "cv": 0.5}}}],
                 "secondary": {"truck_loaded": {"probability": 0.1, "booths": 1,
                                                "service": {"dist": "exponential",
                                                            "mean": "1h"}}}},
            ],
        },
        "chon-kapka": {
            "demand": {"car": 6},
            "stages": [{"name": "kz-entry", "lanes": [
                {"name": "mixed", "serves": ["car", "truck_loaded"], "booths": 1,
                 "service": {"all": "15min"}}]}],
        },
    },
    "policy": [
        {"at": "2017-10-01T12:00", "label": "closure", "closed": ["truck_loaded"],
         "service_factor": {"all": 2.0}, "secondary_probability": {"truck_loaded": 0.5},
         "booths": {"kz-entry/freight": 1}, "priority": ["car"],
         "quota_per_day": {"truck_loaded": 10}, "demand_factor": {"car": 0.5}},
        {"at": "1d", "label": "lifted", "reset": True},
    ],
    "behaviour": {"patience": {"car": {"dist": "exponential", "mean": "1d"}},
                  "balk": {"car": {"queue_over": 100}}},
    "economics": {"value_of_time_per_person_hour": 1.3,
                  "vehicle_cost_per_hour": {"truck_loaded": 8.0},
                  "lost_unit_value": {"truck_loaded": "cargo"}},
}

DELETE = object()
AK = ("crossings", "ak-tilek")
LANE0 = (*AK, "stages", 0, "lanes", 0)           # kg-exit/all
ENTRY = (*AK, "stages", 1)                       # kz-entry
CARS = (*ENTRY, "lanes", 0)                      # kz-entry/cars, gamma service
FREIGHT = (*ENTRY, "lanes", 1)                   # kz-entry/freight, lognormal service
PHASE = ("policy", 0)


def mutated(*changes: tuple[tuple, object]) -> dict:
    """BASE with each (path, value) set; DELETE removes the key."""
    data = copy.deepcopy(BASE)
    for path, value in changes:
        node = data
        for part in path[:-1]:
            node = node[part]
        if value is DELETE:
            del node[path[-1]]
        else:
            node[path[-1]] = value
    return data


def case(id_: str, changes: list, field: str, *expected: str):
    return pytest.param(changes, field, expected, id=id_)


# (changes, field path in the message, words that say what is expected or what was found)
SCENARIO_CASES = [
    # unknown keys, with a suggestion
    case("unknown-top-key", [(("duraton",), "2d")], "", "unknown key 'duraton'",
         "did you mean 'duration'"),
    case("lane-for-lanes", [((*ENTRY, "lane"), []), ((*ENTRY, "lanes"), DELETE)],
         "crossings.ak-tilek.stages[1]", "unknown key 'lane'", "did you mean 'lanes'"),
    case("servce", [((*LANE0, "servce"), {"all": "1min"}), ((*LANE0, "service"), DELETE)],
         "crossings.ak-tilek.stages[0].lanes[0]", "unknown key 'servce'",
         "did you mean 'service'"),
    case("policy-key-typo", [((*PHASE, "closd"), ["car"])], "policy[0]",
         "unknown key 'closd'", "did you mean 'closed'"),
    case("behaviour-key-typo", [(("behaviour", "patiense"), {})], "behaviour",
         "did you mean 'patience'"),
    case("distribution-extra-key", [((*CARS, "service", "car"),
                                     {"dist": "exponential", "mean": "5min", "cv": 1})],
         "crossings.ak-tilek.stages[1].lanes[0].service.car", "unknown key 'cv'"),
    # wrong types and shapes
    case("booths-text", [((*LANE0, "booths"), "two")],
         "crossings.ak-tilek.stages[0].lanes[0].booths", "whole number", "'two'"),
    case("booths-fraction", [((*LANE0, "booths"), 1.5)],
         "crossings.ak-tilek.stages[0].lanes[0].booths", "whole number", "1.5"),
    case("booths-huge", [((*LANE0, "booths"), 1e20)],
         "crossings.ak-tilek.stages[0].lanes[0].booths", "whole number", "1e+20"),
    case("booths-yes", [((*LANE0, "booths"), True)],
         "crossings.ak-tilek.stages[0].lanes[0].booths", "expected a number", "True"),
    case("demand-text", [((*AK, "demand", "car"), "lots")],
         "crossings.ak-tilek.demand.car", "expected a number", "'lots'"),
    case("demand-infinite", [((*AK, "demand", "car"), float("inf"))],
         "crossings.ak-tilek.demand.car", "finite"),
    case("crossings-a-list", [(("crossings",), ["ak-tilek"])], "crossings",
         "expected a mapping", "a list"),
    case("stages-a-number", [((*AK, "stages"), 3)], "crossings.ak-tilek.stages",
         "expected a list", "3"),
    case("stages-empty", [((*AK, "stages"), [])], "crossings.ak-tilek.stages",
         "at least 1", "empty list"),
    case("class-a-number", [(("classes", "car"), 3)], "classes.car", "expected a mapping"),
    case("lane-a-string", [((*ENTRY, "lanes", 0), "cars")],
         "crossings.ak-tilek.stages[1].lanes[0]", "expected a mapping", "'cars'"),
    case("serves-a-string", [((*LANE0, "serves"), "car")],
         "crossings.ak-tilek.stages[0].lanes[0].serves", "expected a list", "'car'"),
    case("policy-a-string", [(("policy",), "closed")], "policy", "expected a list"),
    case("scope-neither-all-nor-list", [((*PHASE, "crossings"), "some")], "policy[0].crossings",
         "'all' or a list", "'some'"),
    case("lost-value-typo", [(("economics", "lost_unit_value", "truck_loaded"), "cargoo")],
         "economics.lost_unit_value.truck_loaded", "a number or 'cargo'", "'cargoo'"),
    case("arrival-process", [((*AK, "arrival_process"), "poison")],
         "crossings.ak-tilek.arrival_process", "'poisson' or 'deterministic'", "'poison'"),
    case("name-with-spaces", [(("name",), "Tiny Scenario")], "name", "lowercase letters",
         "'Tiny Scenario'"),
    case("crossing-name-with-spaces",
         [(("crossings",), {"bad name!": BASE["crossings"]["chon-kapka"]}),
          (("policy",), [])],
         "crossings.bad name!", "letters, digits"),
    case("missing-name", [(("name",), DELETE)], "name", "required"),
    case("missing-crossings", [(("crossings",), DELETE), (("policy",), [])], "crossings",
         "required"),
    case("gamma-without-cv", [((*CARS, "service", "car"), {"dist": "gamma", "mean": "5min"})],
         "crossings.ak-tilek.stages[1].lanes[0].service.car.cv", "required"),
    case("policy-without-at", [((*PHASE, "at"), DELETE)], "policy[0].at", "required"),
    # counts, rates and probabilities out of range
    case("booths-zero", [((*LANE0, "booths"), 0)],
         "crossings.ak-tilek.stages[0].lanes[0].booths", "at least 1", "got 0"),
    case("booths-negative", [((*FREIGHT, "booths"), -2)],
         "crossings.ak-tilek.stages[1].lanes[1].booths", "at least 1", "got -2"),
    case("secondary-booths-zero", [((*ENTRY, "secondary", "truck_loaded", "booths"), 0)],
         "crossings.ak-tilek.stages[1].secondary.truck_loaded.booths", "at least 1"),
    case("demand-negative", [((*AK, "demand", "car"), -5)], "crossings.ak-tilek.demand.car",
         "at least 0", "-5"),
    case("persons-negative", [(("classes", "car", "persons"), -1)], "classes.car.persons",
         "at least 0"),
    case("cargo-value-negative", [(("classes", "truck_loaded", "cargo_value"), -5)],
         "classes.truck_loaded.cargo_value", "at least 0", "-5"),
    case("replications-zero", [(("replications",), 0)], "replications", "at least 1"),
    case("seed-negative", [(("seed",), -1)], "seed", "at least 0"),
    case("gamma-cv-zero", [((*CARS, "service", "car", "cv"), 0)],
         "crossings.ak-tilek.stages[1].lanes[0].service.car.cv", "more than 0", "got 0"),
    case("lognormal-cv-negative", [((*FREIGHT, "service", "truck_loaded", "cv"), -0.2)],
         "crossings.ak-tilek.stages[1].lanes[1].service.truck_loaded.cv", "more than 0",
         "-0.2"),
    case("secondary-probability-over-1",
         [((*ENTRY, "secondary", "truck_loaded", "probability"), 1.5)],
         "crossings.ak-tilek.stages[1].secondary.truck_loaded.probability", "at most 1", "1.5"),
    case("perishable-share-over-1", [(("classes", "truck_loaded", "perishable_share"), 2)],
         "classes.truck_loaded.perishable_share", "at most 1"),
    case("policy-secondary-probability-negative",
         [((*PHASE, "secondary_probability", "truck_loaded"), -0.1)],
         "policy[0].secondary_probability.truck_loaded", "at least 0", "-0.1"),
    case("policy-service-factor-zero", [((*PHASE, "service_factor", "all"), 0)],
         "policy[0].service_factor.all", "more than 0"),
    case("policy-booths-negative", [((*PHASE, "booths", "kz-entry/freight"), -1)],
         "policy[0].booths.kz-entry/freight", "at least 0"),
    case("policy-quota-negative", [((*PHASE, "quota_per_day", "truck_loaded"), -1)],
         "policy[0].quota_per_day.truck_loaded", "at least 0"),
    case("cargo-time-cost-over-1", [(("economics", "cargo_time_cost_per_day"), 3)],
         "economics.cargo_time_cost_per_day", "at most 1"),
    case("spoilage-rate-zero", [(("economics", "spoilage"), {"rate_per_day": 0})],
         "economics.spoilage.rate_per_day", "more than 0"),
    case("balk-negative", [(("behaviour", "balk", "car", "queue_over"), -1)],
         "behaviour.balk.car.queue_over", "at least 0"),
    # the calendar window
    case("duration-zero", [(("duration",), 0)], "duration", "more than 0"),
    case("duration-negative", [(("duration",), "-2d")], "duration", "more than 0", "'-2d'"),
    case("warmup-negative", [(("warmup",), "-1h")], "warmup", "at least 0"),
    case("warmup-longer-than-duration", [(("warmup",), "3d")], "warmup",
         "less than the duration", "48h", "72h"),
    case("warmup-plus-cooldown-too-long", [(("cooldown",), "42h")], "cooldown",
         "less than the duration"),
    case("duration-parsecs", [(("duration",), "5 parsecs")], "duration", "'45s', '15min'",
         "'5 parsecs'"),
    case("warmup-2x", [(("warmup",), "2x")], "warmup", "'2h'", "'2x'"),
    case("duration-overflows", [(("duration",), "1e400h")], "duration", "'1e400h'"),
    case("service-mean-negative", [((*CARS, "service", "car"),
                                    {"dist": "exponential", "mean": "-5min"})],
         "crossings.ak-tilek.stages[1].lanes[0].service.car.mean", "more than 0", "'-5min'"),
    case("bare-service-negative", [((*CARS, "service", "car"), "-5min")],
         "crossings.ak-tilek.stages[1].lanes[0].service.car", "at least 0", "'-5min'"),
    case("start-month-13", [(("start",), "2017-13-45")], "start", "ISO date", "'2017-13-45'"),
    case("start-a-number", [(("start",), 2017)], "start", "ISO date"),
    case("policy-date-month-13", [((*PHASE, "at"), "2017-13-45")], "policy[0].at", "ISO date",
         "'2017-13-45'"),
    case("policy-at-soon", [((*PHASE, "at"), "soon")], "policy[0].at",
         "offset from start", "'soon'"),
    case("policy-before-start", [((*PHASE, "at"), "2017-09-01")], "policy[0].at",
         "at or after the scenario start", "720h before"),
    case("policy-out-of-order", [(("policy", 1, "at"), "2h")], "policy[1].at", "time order"),
    # distributions
    case("unknown-distribution", [((*CARS, "service", "car"),
                                   {"dist": "weibull", "mean": "5min"})],
         "crossings.ak-tilek.stages[1].lanes[0].service.car", "unknown distribution 'weibull'",
         "exponential, deterministic, gamma"),
    case("distribution-without-dist", [((*CARS, "service", "car"), {"mean": "5min"})],
         "crossings.ak-tilek.stages[1].lanes[0].service.car", "needs 'dist'"),
    case("uniform-low-above-high", [((*CARS, "service", "car"),
                                     {"dist": "uniform", "low": "5min", "high": "2min"})],
         "crossings.ak-tilek.stages[1].lanes[0].service.car", "low < high"),
    case("uniform-low-equals-high", [((*CARS, "service", "car"),
                                      {"dist": "uniform", "low": "5min", "high": "5min"})],
         "crossings.ak-tilek.stages[1].lanes[0].service.car", "low < high"),
    case("triangular-mode-outside", [((*CARS, "service", "car"),
                                      {"dist": "triangular", "low": 1, "mode": 3, "high": 2})],
         "crossings.ak-tilek.stages[1].lanes[0].service.car", "low <= mode <= high"),
    case("empirical-no-values", [((*CARS, "service", "car"),
                                  {"dist": "empirical", "values": []})],
         "crossings.ak-tilek.stages[1].lanes[0].service.car.values", "at least 1"),
    case("profile-23-hours", [((*AK, "profile"), [1] * 23)], "crossings.ak-tilek.profile",
         "24 hourly weights", "got 23"),
    case("profile-all-zero", [((*AK, "profile"), [0] * 24)], "crossings.ak-tilek.profile",
         "must not all be zero"),
    # names that refer to nothing
    case("unknown-class-in-serves", [((*LANE0, "serves"), ["car", "truck_loadd"])],
         "crossings.ak-tilek.stages[0].lanes[0].serves[1]", "unknown class 'truck_loadd'",
         "did you mean 'truck_loaded'"),
    case("unknown-class-in-service", [((*LANE0, "service", "bus"), "5min")],
         "crossings.ak-tilek.stages[0].lanes[0].service.bus", "unknown class 'bus'"),
    case("served-class-without-service", [((*LANE0, "service"), {"car": "10min"})],
         "crossings.ak-tilek.stages[0].lanes[0].service",
         "no service time for served class 'truck_loaded'"),
    case("service-for-unserved-class", [((*CARS, "service", "truck_loaded"), "5min")],
         "crossings.ak-tilek.stages[1].lanes[0].service.truck_loaded", "not in serves"),
    case("demand-no-lane-serves", [(("crossings", "chon-kapka", "stages", 0, "lanes", 0,
                                      "serves"), ["truck_loaded"]),
                                    (("crossings", "chon-kapka", "stages", 0, "lanes", 0,
                                      "service"), {"truck_loaded": "15min"})],
         "crossings.chon-kapka.stages[0].lanes", "no lane of stage 'kz-entry' serves it"),
    case("duplicate-lane", [((*FREIGHT, "name"), "cars"),
                            ((*PHASE, "booths"), {"kz-entry/cars": 1})],
         "crossings.ak-tilek.stages[1]", "'cars' appears twice"),
    case("unknown-class-in-demand", [((*AK, "demand", "bus"), 3)],
         "crossings.ak-tilek.demand.bus", "unknown class 'bus'", "known: car, truck_loaded"),
    case("unknown-class-in-secondary", [((*ENTRY, "secondary", "cars"),
                                         {"probability": 0.1, "booths": 1, "service": "1h"})],
         "crossings.ak-tilek.stages[1].secondary.cars", "unknown class 'cars'",
         "did you mean 'car'"),
    case("unknown-class-closed", [((*PHASE, "closed"), ["truk_loaded"])], "policy[0].closed[0]",
         "unknown class 'truk_loaded'", "did you mean 'truck_loaded'"),
    case("unknown-class-priority", [((*PHASE, "priority"), ["car", "cat"])],
         "policy[0].priority[1]", "unknown class 'cat'"),
    case("unknown-class-service-factor", [((*PHASE, "service_factor"), {"cars": 2})],
         "policy[0].service_factor.cars", "unknown class 'cars'", "did you mean 'car'"),
    case("unknown-class-demand-factor", [((*PHASE, "demand_factor"), {"bus": 0.5})],
         "policy[0].demand_factor.bus", "unknown class 'bus'"),
    case("unknown-class-quota", [((*PHASE, "quota_per_day"), {"truck": 5})],
         "policy[0].quota_per_day.truck", "unknown class 'truck'"),
    case("unknown-class-policy-secondary", [((*PHASE, "secondary_probability"), {"bus": 1})],
         "policy[0].secondary_probability.bus", "unknown class 'bus'"),
    case("no-secondary-in-scope", [((*PHASE, "secondary_probability"), {"car": 1})],
         "policy[0].secondary_probability.car", "no stage in this phase's scope"),
    case("unknown-crossing-in-scope", [((*PHASE, "crossings"), ["ak-tilk"])],
         "policy[0].crossings[0]", "unknown crossing 'ak-tilk'", "did you mean 'ak-tilek'"),
    case("unknown-stage-in-scope", [((*PHASE, "stages"), ["kz-entri"])],
         "policy[0].stages[0]", "unknown stage 'kz-entri'", "did you mean 'kz-entry'"),
    case("stage-outside-crossing-scope", [((*PHASE, "crossings"), ["chon-kapka"]),
                                          ((*PHASE, "stages"), ["kg-exit"]),
                                          ((*PHASE, "secondary_probability"), DELETE),
                                          ((*PHASE, "booths"), DELETE)],
         "policy[0].stages[0]", "unknown stage 'kg-exit'", "known: kz-entry"),
    case("unknown-lane-in-booths", [((*PHASE, "booths"), {"kz-entry/freigt": 1})],
         "policy[0].booths.kz-entry/freigt", "unknown lane", "stage/lane",
         "did you mean 'kz-entry/freight'"),
    case("booths-key-without-stage", [((*PHASE, "booths"), {"freight": 1})],
         "policy[0].booths.freight", "stage/lane", "did you mean 'kz-entry/freight'"),
    case("unknown-class-patience", [(("behaviour", "patience", "bus"), "1d")],
         "behaviour.patience.bus", "unknown class 'bus'"),
    case("unknown-class-balk", [(("behaviour", "balk", "bus"), {"queue_over": 3})],
         "behaviour.balk.bus", "unknown class 'bus'"),
    case("unknown-class-defer", [(("behaviour", "defer"), {"bus": {"share": 0.5,
                                                                    "over": "1d"}})],
         "behaviour.defer.bus", "unknown class 'bus'"),
    case("defer-share-over-1", [(("behaviour", "defer"), {"car": {"share": 1.5,
                                                                   "over": "1d"}})],
         "behaviour.defer.car.share", "at most 1"),
    case("divert-from-unknown-crossing",
         [(("behaviour", "divert"), {"car": {"from": "ak-tilk", "to": "chon-kapka",
                                             "queue_over": 10, "travel": "1h"}})],
         "behaviour.divert.car.from", "unknown crossing 'ak-tilk'", "did you mean 'ak-tilek'"),
    case("divert-to-unknown-crossing",
         [(("behaviour", "divert"), {"car": {"from": "ak-tilek", "to": "chon-kapca",
                                             "queue_over": 10, "travel": "1h"}})],
         "behaviour.divert.car.to", "unknown crossing 'chon-kapca'"),
    case("unknown-class-vehicle-cost", [(("economics", "vehicle_cost_per_hour"), {"truck": 3})],
         "economics.vehicle_cost_per_hour.truck", "unknown class 'truck'"),
    case("unknown-class-lost-value", [(("economics", "lost_unit_value"), {"truck": "cargo"})],
         "economics.lost_unit_value.truck", "unknown class 'truck'"),
    case("extends-not-a-path", [(("extends",), 5)], "extends", "path of a scenario file"),
    # electronic queue (policy appointment)
    case("appointment-slot-rate-zero",
         [((*PHASE, "appointment"), {"truck_loaded": {"slots_per_day": 0}})],
         "policy[0].appointment.truck_loaded.slots_per_day", "more than 0", "got 0"),
    case("appointment-slot-rate-negative",
         [((*PHASE, "appointment"), {"truck_loaded": {"slots_per_day": -40}})],
         "policy[0].appointment.truck_loaded.slots_per_day", "more than 0", "-40"),
    case("appointment-capacity-share-zero",
         [((*PHASE, "appointment"), {"truck_loaded": {"capacity_share": 0}})],
         "policy[0].appointment.truck_loaded.capacity_share", "more than 0"),
    case("appointment-capacity-share-over-1",
         [((*PHASE, "appointment"), {"truck_loaded": {"capacity_share": 1.2}})],
         "policy[0].appointment.truck_loaded.capacity_share", "at most 1", "1.2"),
    case("appointment-live-share-over-1",
         [((*PHASE, "appointment"), {"truck_loaded": {"live_share": 1.5}})],
         "policy[0].appointment.truck_loaded.live_share", "at most 1", "1.5"),
    case("appointment-no-show-negative",
         [((*PHASE, "appointment"), {"truck_loaded": {"no_show": -0.1}})],
         "policy[0].appointment.truck_loaded.no_show", "at least 0", "-0.1"),
    case("appointment-two-rates",
         [((*PHASE, "appointment"), {"truck_loaded": {"slots_per_day": 40,
                                                      "capacity_share": 0.9}})],
         "policy[0].appointment.truck_loaded", "slots_per_day or capacity_share, not both"),
    case("appointment-horizon-zero",
         [((*PHASE, "appointment"), {"truck_loaded": {"horizon": "0h"}})],
         "policy[0].appointment.truck_loaded.horizon", "more than 0"),
    case("appointment-over-horizon-typo",
         [((*PHASE, "appointment"), {"truck_loaded": {"over_horizon": "balk"}})],
         "policy[0].appointment.truck_loaded.over_horizon", "'refuse' or 'queue'", "'balk'"),
    case("appointment-key-typo",
         [((*PHASE, "appointment"), {"truck_loaded": {"slot_per_day": 40}})],
         "policy[0].appointment.truck_loaded", "unknown key 'slot_per_day'",
         "did you mean 'slots_per_day'"),
    case("appointment-unknown-class",
         [((*PHASE, "appointment"), {"truck": {"slots_per_day": 40}})],
         "policy[0].appointment.truck", "unknown class 'truck'", "known: car, truck_loaded"),
    case("appointment-class-not-served",
         [(("crossings", "chon-kapka", "stages", 0, "lanes", 0, "serves"), ["car"]),
          ((*PHASE, "appointment"), {"truck_loaded": {"slots_per_day": 40}})],
         "policy[0].appointment.truck_loaded", "crossing 'chon-kapka' does not serve class "
         "'truck_loaded'"),
    case("appointment-first-stage-out-of-scope",
         [((*PHASE, "stages"), ["kz-entry"]), ((*PHASE, "crossings"), ["ak-tilek"]),
          ((*PHASE, "appointment"), {"truck_loaded": {"slots_per_day": 40}})],
         "policy[0].appointment.truck_loaded", "first stage", "'kg-exit'"),
    case("off-road-cost-negative",
         [(("economics", "off_road_cost_per_hour"), {"truck_loaded": -2})],
         "economics.off_road_cost_per_hour.truck_loaded", "at least 0"),
    case("off-road-cost-unknown-class",
         [(("economics", "off_road_cost_per_hour"), {"truk_loaded": 2})],
         "economics.off_road_cost_per_hour.truk_loaded", "unknown class 'truk_loaded'"),
]


def write(path: Path, data) -> Path:
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False),
                    encoding="utf-8")
    return path


def invoke(*args: str):
    return CliRunner().invoke(cli, [str(a) for a in args])


def run_args(scenario: Path, out: Path, *extra: str) -> list:
    # no --replications: BASE has 1, and an option would hide a bad 'replications' in the file
    return ["run", scenario, "--quiet", "--workers", "1", "--out", out, *extra]


def assert_bad_input(result, *fragments: str, lines: int | None = 1) -> str:
    """Exit 2, no traceback, nothing on stdout, and every fragment in the one error message."""
    err = result.stderr
    shown = f"exit {result.exit_code}\nstdout:\n{result.stdout}\nstderr:\n{err}"
    if result.exit_code not in (0, 2) and result.exc_info is not None:
        import traceback
        shown += "".join(traceback.format_exception(*result.exc_info))
    assert result.exit_code == 2, shown
    assert isinstance(result.exception, SystemExit), shown
    assert "Traceback" not in result.output, shown
    assert result.stdout == "", shown
    assert err.lower().count("error:") == 1, shown
    if lines is not None:
        assert len(err.strip().splitlines()) == lines, shown
    for fragment in fragments:
        assert fragment in err, f"{fragment!r} not in the message\n{shown}"
    return err


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def good(tmp_path) -> Path:
    return write(tmp_path / "good.yaml", BASE)


@pytest.fixture
def earlier(tmp_path, good) -> tuple[Path, dict[str, bytes]]:
    """A results folder from an earlier good run, and its bytes."""
    out = tmp_path / "results" / "tiny"
    result = invoke(*run_args(good, out))
    assert result.exit_code == 0, result.output
    files = snapshot(out)
    assert "summary.csv" in files and "manifest.json" in files
    return out, files


def test_the_base_scenario_is_good(tmp_path, good):
    """Otherwise the cases below would fail for the wrong reason."""
    out = tmp_path / "out"
    result = invoke(*run_args(good, out))
    assert result.exit_code == 0, result.output
    assert (out / "summary.csv").is_file()
    assert invoke("validate", good).exit_code == 0


# ---- scenario files ---------------------------------------------------------------------------

@pytest.mark.parametrize("changes, field, expected", SCENARIO_CASES)
def test_bad_scenario_run(tmp_path, changes, field, expected):
    scenario = write(tmp_path / "bad.yaml", mutated(*changes))
    out = tmp_path / "out"
    err = assert_bad_input(invoke(*run_args(scenario, out)), *expected)
    prefix = f"error: {scenario}: {field}: " if field else f"error: {scenario}: "
    assert err.startswith(prefix), err
    assert not out.exists()


@pytest.mark.parametrize("changes, field, expected", SCENARIO_CASES)
def test_bad_scenario_validate(tmp_path, changes, field, expected):
    scenario = write(tmp_path / "bad.yaml", mutated(*changes))
    err = assert_bad_input(invoke("validate", scenario), *expected)
    assert err.startswith(f"error: {scenario}: {field}"), err


def test_independent_problems_are_listed_in_one_message(tmp_path):
    scenario = write(tmp_path / "bad.yaml", mutated(((*LANE0, "booths"), 0),
                                                    (("duration",), "5 parsecs")))
    err = assert_bad_input(invoke("validate", scenario), lines=2)
    assert f"{scenario}: crossings.ak-tilek.stages[0].lanes[0].booths: " in err
    assert f"{scenario}: duration: " in err


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(booths=st.one_of(
    st.integers(max_value=0),
    st.floats().filter(lambda x: not (math.isfinite(x) and x.is_integer() and x >= 1)),
    st.booleans(), st.none(),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz -_", min_size=1),
    st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=2), st.integers(),
                                                         max_size=1)))
def test_any_wrong_booths_names_the_field(tmp_path, booths):
    scenario = write(tmp_path / "bad.yaml", mutated(((*LANE0, "booths"), booths)))
    assert_bad_input(invoke("validate", scenario),
                     f"{scenario}: crossings.ak-tilek.stages[0].lanes[0].booths: expected")


FILE_CASES = {
    "yaml-syntax": ("name: x\nclasses: {car: [1, 2}\n", "not valid YAML", "line 2, column 21"),
    "yaml-tab": ("name: x\n\tstart: 2017-10-01\n", "not valid YAML", "line 2"),
    "top-level-list": ("- name: x\n- start: 2017-10-01\n", "top level must be a mapping",
                       "got list"),
    "top-level-scalar": ("just some words\n", "top level must be a mapping", "got str"),
    "empty-file": ("", "top level must be a mapping", "got empty"),
    "only-comments": ("# nothing here\n", "top level must be a mapping", "got empty"),
}


@pytest.mark.parametrize("text, expected", [(v[0], v[1:]) for v in FILE_CASES.values()],
                         ids=list(FILE_CASES))
def test_bad_file(tmp_path, text, expected):
    scenario = write(tmp_path / "bad.yaml", text)
    out = tmp_path / "out"
    err = assert_bad_input(invoke(*run_args(scenario, out)), *expected)
    assert err.startswith(f"error: {scenario}: "), err
    assert not out.exists()


def test_not_utf8(tmp_path):
    scenario = tmp_path / "bad.yaml"
    scenario.write_bytes(b"\xff\xfename: x\n")
    assert_bad_input(invoke("validate", scenario), str(scenario), "cannot read")


def test_missing_file(tmp_path):
    out = tmp_path / "out"
    assert_bad_input(invoke(*run_args(tmp_path / "nowhere.yaml", out)),
                     f"{tmp_path / 'nowhere.yaml'}: file not found")
    assert not out.exists()


def test_folder_instead_of_file(tmp_path):
    out = tmp_path / "out"
    (tmp_path / "scenarios").mkdir()
    assert_bad_input(invoke(*run_args(tmp_path / "scenarios", out)),
                     str(tmp_path / "scenarios"), "is a folder", "scenario file")
    assert not out.exists()


def test_validate_stops_at_the_first_bad_file(tmp_path, good):
    bad = write(tmp_path / "bad.yaml", mutated(((*LANE0, "booths"), 0)))
    result = invoke("validate", good, bad)
    assert result.exit_code == 2
    assert result.stdout.startswith("ok")
    assert f"{bad}: crossings.ak-tilek.stages[0].lanes[0].booths" in result.stderr
    assert "Traceback" not in result.output


# ---- extends ----------------------------------------------------------------------------------

def test_cyclic_extends(tmp_path):
    write(tmp_path / "a.yaml", {"extends": "b.yaml", "name": "a"})
    write(tmp_path / "b.yaml", {"extends": "a.yaml", "name": "b"})
    out = tmp_path / "out"
    assert_bad_input(invoke(*run_args(tmp_path / "a.yaml", out)),
                     f"{tmp_path / 'a.yaml'}: extends: cyclic extends",
                     "a.yaml -> b.yaml -> a.yaml")
    assert not out.exists()


def test_extends_itself(tmp_path):
    write(tmp_path / "a.yaml", {"extends": "a.yaml", "name": "a"})
    assert_bad_input(invoke("validate", tmp_path / "a.yaml"), "extends: cyclic extends")


def test_missing_extends_target(tmp_path):
    child = write(tmp_path / "child.yaml", {"extends": "baseline.yaml", "name": "child"})
    out = tmp_path / "out"
    assert_bad_input(invoke(*run_args(child, out)), f"{child}: extends: ", "'baseline.yaml'",
                     "not found")
    assert not out.exists()


def test_extends_a_folder(tmp_path):
    (tmp_path / "base").mkdir()
    child = write(tmp_path / "child.yaml", {"extends": "base", "name": "child"})
    assert_bad_input(invoke("validate", child), f"{child}: extends: ", "is a folder")


def test_broken_parent_is_named(tmp_path):
    write(tmp_path / "parent.yaml", "name: [unclosed\n")
    child = write(tmp_path / "child.yaml", {"extends": "parent.yaml", "name": "child"})
    assert_bad_input(invoke("validate", child), f"{tmp_path / 'parent.yaml'}: ",
                     "not valid YAML")


def test_extends_then_a_bad_override_in_the_child(tmp_path):
    write(tmp_path / "base.yaml", BASE)
    child = write(tmp_path / "child.yaml", {
        "extends": "base.yaml", "name": "child",
        "crossings": {"ak-tilek": {"stages": [{"name": "kz-entry", "lanes": [
            {"name": "all", "serves": ["car", "truck_loaded"], "booths": "two",
             "service": {"all": "5min"}}]}]}}})
    assert_bad_input(invoke("validate", child),
                     f"{child}: crossings.ak-tilek.stages[0].lanes[0].booths: ",
                     "whole number")


# ---- --set ------------------------------------------------------------------------------------

SET_CASES = {
    "index-out-of-range": ("crossings.ak-tilek.stages.5.lanes.0.booths=3",
                           "crossings.ak-tilek.stages: ", "index from 0 to 1", "'5'"),
    "negative-index": ("crossings.ak-tilek.stages.-1.name=x", "crossings.ak-tilek.stages: ",
                       "index from 0 to 1"),
    "name-for-index": ("crossings.ak-tilek.stages.kz-entry.lanes.0.booths=3",
                       "crossings.ak-tilek.stages: ", "index", "'kz-entry'"),
    "policy-index-out-of-range": ("policy.3.at=1d", "policy: ", "index from 0 to 1"),
    "into-a-scalar": ("name.first=x", "name: ", "'tiny'", "no 'first' inside"),
    "into-a-number": ("crossings.ak-tilek.stages.0.lanes.0.booths.max=3",
                      "crossings.ak-tilek.stages[0].lanes[0].booths: ", "no 'max' inside"),
    "no-equals": ("replications", "expected PATH=VALUE", "'replications'"),
    "no-path": ("=3", "expected a dotted path"),
    "empty-part": ("crossings..booths=3", "expected a dotted path"),
}


@pytest.mark.parametrize("text, expected", [(v[0], v[1:]) for v in SET_CASES.values()],
                         ids=list(SET_CASES))
def test_bad_set_path(tmp_path, good, text, expected):
    out = tmp_path / "out"
    err = assert_bad_input(invoke(*run_args(good, out, "--set", text)), *expected)
    assert err.startswith(f"error: {good}: --set"), err
    assert not out.exists()


SET_VALUE_CASES = {
    "unknown-key": ("crossings.ak-tilek.stages.0.lanes.0.booth=3",
                    "crossings.ak-tilek.stages[0].lanes[0]: ", "did you mean 'booths'"),
    "bad-value": ("crossings.ak-tilek.stages.0.lanes.0.booths=two",
                  "crossings.ak-tilek.stages[0].lanes[0].booths: ", "whole number", "'two'"),
    "bad-yaml-value": ("crossings.ak-tilek.stages.0.lanes.0.booths=[1",
                       "crossings.ak-tilek.stages[0].lanes[0].booths: ", "whole number"),
    "zero-duration": ("duration=0", "duration: ", "more than 0"),
    "unknown-class": ("policy.0.closed=[bus]", "policy[0].closed[0]: ", "unknown class 'bus'"),
}


@pytest.mark.parametrize("text, expected", [(v[0], v[1:]) for v in SET_VALUE_CASES.values()],
                         ids=list(SET_VALUE_CASES))
def test_bad_set_value(tmp_path, good, text, expected):
    out = tmp_path / "out"
    err = assert_bad_input(invoke(*run_args(good, out, "--set", text)), *expected)
    assert err.startswith(f"error: {good}: "), err
    assert not out.exists()


def test_set_accepts_the_path_as_messages_write_it(tmp_path, good):
    out = tmp_path / "out"
    result = invoke(*run_args(good, out, "--set",
                              "crossings.ak-tilek.stages[0].lanes[0].booths=3"))
    assert result.exit_code == 0, result.output
    resolved = yaml.safe_load((out / "scenario.resolved.yaml").read_text())
    assert resolved["crossings"]["ak-tilek"]["stages"][0]["lanes"][0]["booths"] == 3


# ---- options ----------------------------------------------------------------------------------

OPTION_CASES = {
    "replications-0": (["--replications", "0"], "--replications"),
    "replications-text": (["-n", "many"], "--replications"),
    "workers-0": (["--workers", "0"], "--workers"),
    "seed-negative": (["--seed", "-1"], "--seed"),
    "unknown-option": (["--replicatons", "2"], "No such option", "--replications"),
}


@pytest.mark.parametrize("options, expected", [(v[0], v[1:]) for v in OPTION_CASES.values()],
                         ids=list(OPTION_CASES))
def test_bad_option(tmp_path, good, options, expected):
    out = tmp_path / "out"
    result = invoke("run", good, "--quiet", "--out", out, *options)
    assert_bad_input(result, *expected, lines=None)
    assert not out.exists()


def test_out_is_an_existing_file(tmp_path, good):
    target = tmp_path / "results.txt"
    target.write_text("keep me\n")
    assert_bad_input(invoke(*run_args(good, target)), "--out", str(target), "is a file",
                     "expected a folder")
    assert target.read_text() == "keep me\n"


def test_out_inside_a_file(tmp_path, good):
    target = tmp_path / "results.txt"
    target.write_text("keep me\n")
    assert_bad_input(invoke(*run_args(good, target / "tiny")), "--out", str(target),
                     "not a folder")
    assert target.read_text() == "keep me\n"


def test_missing_scenario_argument():
    assert_bad_input(invoke("run"), "Missing argument 'SCENARIO'", lines=None)


# ---- nothing already written is damaged -------------------------------------------------------

@pytest.mark.parametrize("bad", [
    pytest.param(lambda d: (write(d / "bad.yaml", mutated(((*LANE0, "booths"), 0))), []),
                 id="bad-scenario"),
    pytest.param(lambda d: (write(d / "bad.yaml", "name: [x\n"), []), id="yaml-error"),
    pytest.param(lambda d: (d / "nowhere.yaml", []), id="missing-file"),
    pytest.param(lambda d: (d / "good.yaml", ["--set", "policy.9.at=1d"]), id="bad-set"),
    pytest.param(lambda d: (d / "good.yaml", ["--set", "duration=-1d"]), id="bad-set-value"),
])
def test_earlier_results_are_left_intact(tmp_path, earlier, bad):
    out, before = earlier
    scenario, extra = bad(tmp_path)
    assert_bad_input(invoke(*run_args(scenario, out, *extra)))
    assert snapshot(out) == before
    assert sorted(p.name for p in out.parent.iterdir()) == ["tiny"]  # no temporary folders


def test_bad_option_leaves_earlier_results_intact(tmp_path, earlier, good):
    out, before = earlier
    assert_bad_input(invoke("run", good, "--quiet", "--out", out, "--workers", "0"), lines=None)
    assert snapshot(out) == before


def test_default_results_folder_is_not_created(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    scenario = write(tmp_path / "bad.yaml", mutated((("warmup",), "3d")))
    assert_bad_input(invoke("run", scenario, "--quiet", "-n", "1", "-j", "1"), "warmup")
    assert not (tmp_path / "results").exists()


# ---- the real console script ------------------------------------------------------------------

def _python_m(tmp_path: Path, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bordersim", *map(str, args)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)


def test_console_script_bad_scenario(tmp_path):
    scenario = write(tmp_path / "bad.yaml", mutated(((*LANE0, "booths"), "two")))
    proc = _python_m(tmp_path, "run", scenario, "--quiet", "-n", "1", "-j", "1")
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""
    assert proc.stderr.strip() == (f"error: {scenario}: crossings.ak-tilek.stages[0].lanes[0]"
                                   ".booths: expected a whole number, got 'two'")
    assert not (tmp_path / "results").exists()


def test_console_script_bad_set_and_missing_file(tmp_path):
    good = write(tmp_path / "good.yaml", BASE)
    proc = _python_m(tmp_path, "run", good, "-q", "--set", "crossings.ak-tilek.stages.7.name=x")
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert f"{good}: --set" in proc.stderr and "crossings.ak-tilek.stages" in proc.stderr
    proc = _python_m(tmp_path, "validate", tmp_path / "nowhere.yaml")
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "file not found" in proc.stderr
    assert not (tmp_path / "results").exists()
