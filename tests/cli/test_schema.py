"""The JSON Schema: described, standard, and in agreement with `bordersim validate`.

A JSON Schema validator (jsonschema, draft 2020-12) and `bordersim validate` see
the same files, shipped and broken, and must reach the same verdict; where they
refuse, they name the same field. docs/reference.md is generated from the
schema, and a test fails when the two drift apart.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml
from click.testing import CliRunner
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bordersim.cli import cli
from bordersim.distributions import DURATION_SCHEMA, POSITIVE_DURATION_SCHEMA, parse_duration
from bordersim.schema import reference_markdown, scenario_json_schema

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "scenarios").glob("*.yaml"))
BASELINE = ROOT / "scenarios" / "baseline-2017.yaml"

GOOD = {
    "name": "schema-case",
    "start": "2017-10-01",
    "duration": "3d",
    "warmup": "90MIN",
    "classes": {"car": {"persons": 2, "length_m": 7},
                "truck_loaded": {"cargo_value": 30000, "perishable_share": 0.2}},
    "crossings": {"gate": {
        "demand": {"car": 100, "truck_loaded": 40},
        "profile": [1] * 12 + [2] * 12,
        "stages": [{"name": "entry", "lanes": [
            {"name": "all", "serves": ["car", "truck_loaded"], "booths": 2,
             "service": {"car": "1.5 minutes", "truck_loaded": {"dist": "gamma",
                                                                "mean": "15min", "cv": 0.5}}}],
            "secondary": {"truck_loaded": {"probability": 0.1, "booths": 1,
                                           "service": "2h"}}}]}},
    "policy": [{"at": "2017-10-02", "label": "slow", "service_factor": {"all": 2.0},
                "quota_per_day": {"truck_loaded": 30}},
               {"at": "60h", "reset": True}],
    "behaviour": {"patience": {"truck_loaded": {"dist": "exponential", "mean": "1d"}},
                  "balk": {"car": {"queue_over": 50}}},
    "economics": {"value_of_time_per_person_hour": 1.3, "cargo_time_cost_per_day": 0.008,
                  "spoilage": {"rate_per_day": 0.05, "after": "2d"},
                  "lost_unit_value": {"truck_loaded": "cargo", "car": 40}},
}


def _set(data: dict, path: str, value) -> dict:
    out = copy.deepcopy(data)
    node = out
    parts = [int(p) if p.isdigit() else p for p in path.split(".")]
    for p in parts[:-1]:
        node = node[p]
    node[parts[-1]] = value
    return out


def _drop(data: dict, path: str) -> dict:
    out = copy.deepcopy(data)
    node = out
    parts = [int(p) if p.isdigit() else p for p in path.split(".")]
    for p in parts[:-1]:
        node = node[p]
    del node[parts[-1]]
    return out


LANE = "crossings.gate.stages.0.lanes.0"
# (id, the file's content, the field both must name)
BAD = [
    ("negative-persons", _set(GOOD, "classes.car.persons", -2), "persons"),
    ("zero-booths", _set(GOOD, f"{LANE}.booths", 0), "booths"),
    ("fractional-booths", _set(GOOD, f"{LANE}.booths", 2.5), "booths"),
    ("cargo-value-duration", _set(GOOD, "classes.truck_loaded.cargo_value", "2h"),
     "cargo_value"),
    ("cargo-value-40k", _set(GOOD, "classes.truck_loaded.cargo_value", "40k"), "cargo_value"),
    ("cargo-value-law-with-duration",
     _set(GOOD, "classes.truck_loaded.cargo_value", {"dist": "uniform", "low": 1, "high": "2h"}),
     "cargo_value"),
    ("unknown-top-key", _set(GOOD, "replicatons", 5), "replicatons"),
    ("unknown-lane-key", _set(GOOD, f"{LANE}.boths", 2), "boths"),
    ("uppercase-name", _set(GOOD, "name", "Closure"), "name"),
    ("no-stages", _drop(GOOD, "crossings.gate.stages"), "stages"),
    ("profile-23", _set(GOOD, "crossings.gate.profile", [1] * 23), "profile"),
    ("profile-all-zero", _set(GOOD, "crossings.gate.profile", [0] * 24), "profile"),
    ("negative-duration", _set(GOOD, "duration", "-5d"), "duration"),
    ("zero-duration", _set(GOOD, "duration", "0h"), "duration"),
    ("unknown-unit", _set(GOOD, "duration", "2 fortnights"), "duration"),
    ("unknown-law", _set(GOOD, f"{LANE}.service.car", {"dist": "weibull", "mean": "1h"}),
     "service"),
    ("gamma-without-cv", _set(GOOD, f"{LANE}.service.car", {"dist": "gamma", "mean": "1h"}),
     "service"),
    ("share-above-one", _set(GOOD, "classes.truck_loaded.perishable_share", 1.5),
     "perishable_share"),
    ("probability-two", _set(GOOD, "crossings.gate.stages.0.secondary.truck_loaded.probability",
                             2), "probability"),
    ("phase-at-banana", _set(GOOD, "policy.0.at", "banana"), "at"),
    ("negative-seed", _set(GOOD, "seed", -1), "seed"),
    ("zero-replications", _set(GOOD, "replications", 0), "replications"),
    ("negative-demand", _set(GOOD, "crossings.gate.demand.car", -3), "demand"),
    ("arrival-process", _set(GOOD, "crossings.gate.arrival_process", "random"),
     "arrival_process"),
    ("cargo-time-cost-two", _set(GOOD, "economics.cargo_time_cost_per_day", 2),
     "cargo_time_cost_per_day"),
    ("reset-maybe", _set(GOOD, "policy.1.reset", "maybe"), "reset"),
    ("negative-patience", _set(GOOD, "behaviour.patience.truck_loaded", "-1h"), "patience"),
    ("currency-number", _set(GOOD, "economics.currency", 5), "currency"),
    ("negative-quota", _set(GOOD, "policy.0.quota_per_day.truck_loaded", -1), "quota_per_day"),
    ("zero-service-factor", _set(GOOD, "policy.0.service_factor.all", 0), "service_factor"),
    ("bad-class-name", _set(GOOD, "classes", {**GOOD["classes"], "car park": {}}), "car park"),
    ("boolean-booths", _set(GOOD, f"{LANE}.booths", True), "booths"),
    ("lost-value-text", _set(GOOD, "economics.lost_unit_value.car", "forty"),
     "lost_unit_value"),
]
# files that extend the shipped baseline: they hold only what they change
EXTENDING_GOOD = {"name": "changes-a-demand", "extends": str(BASELINE),
                  "crossings": {"ak-tilek": {"demand": {"truck_loaded": 100}}},
                  # a distribution merges too: this changes the mean and keeps the law
                  "classes": {"truck_loaded": {"cargo_value": {"mean": 35000}}}}
EXTENDING_BAD = [
    ("extends-negative-persons", {"name": "x", "extends": str(BASELINE),
                                  "classes": {"car": {"persons": -1}}}, "persons"),
    ("extends-incomplete-list-item",
     {"name": "x", "extends": str(BASELINE),
      "crossings": {"ak-tilek": {"stages": [{"name": "kz-entry"}]}}}, "lanes"),
]


def schema_errors(data: dict) -> list:
    data = json.loads(json.dumps(data, default=str))      # YAML dates → ISO text
    validator = jsonschema.Draft202012Validator(scenario_json_schema())
    return list(validator.iter_errors(data))


def validate_cli(path: Path):
    return CliRunner().invoke(cli, ["validate", str(path)], catch_exceptions=False)


def write(tmp_path: Path, name: str, data: dict) -> Path:
    p = tmp_path / f"{name}.yaml"
    p.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    return p


def test_the_schema_is_valid_json_schema_with_standard_limits_only():
    schema = scenario_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    text = json.dumps(schema)
    for key in ("ge", "gt", "le", "lt"):
        assert f'"{key}":' not in text, key


def test_every_field_has_a_description():
    schema = scenario_json_schema()
    missing = [f"{name}.{field}" for name, d in schema["$defs"].items()
               for field, node in d.get("properties", {}).items()
               if not node.get("description")]
    assert missing == []
    assert all(d.get("description") for n, d in schema["$defs"].items()
               if not n.startswith(("Partial", "Money"))), "a model without a description"


def test_descriptions_give_the_units_people_ask_about():
    d = scenario_json_schema()["$defs"]
    assert "per day" in d["Crossing"]["properties"]["demand"]["description"]
    assert "24 relative hourly weights" in d["Crossing"]["properties"]["profile"]["description"]
    econ = d["Economics"]["properties"]
    assert "hour" in econ["value_of_time_per_person_hour"]["description"]
    assert "per day" in econ["cargo_time_cost_per_day"]["description"]
    assert "cargo" in econ["lost_unit_value"]["description"]


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_scenarios_pass_the_schema_and_validate(path):
    assert schema_errors(yaml.safe_load(path.read_text())) == []
    assert validate_cli(path).exit_code == 0


def test_a_complete_file_and_an_extending_one_pass_both(tmp_path):
    for name, data in (("good", GOOD), ("extending", EXTENDING_GOOD)):
        assert schema_errors(data) == [], name
        res = validate_cli(write(tmp_path, name, data))
        assert res.exit_code == 0, res.output


@pytest.mark.parametrize("case,data,field", BAD + EXTENDING_BAD,
                         ids=[c for c, _, _ in BAD + EXTENDING_BAD])
def test_bad_files_are_refused_by_both_naming_the_same_field(case, data, field, tmp_path):
    errors = schema_errors(data)
    assert errors, f"{case}: the JSON Schema accepts it"
    res = validate_cli(write(tmp_path, case, data))
    assert res.exit_code == 2, f"{case}: bordersim validate accepts it"
    assert "Traceback" not in res.output
    assert field in res.output, res.output
    # the validator's errors (or, for a union, their causes) point at the same field
    def places(e) -> set[str]:
        here = {str(p) for p in e.absolute_path} | set(re.findall(r"'([^']+)'", e.message))
        for sub in e.context or []:
            here |= places(sub)
        return here
    assert any(field in places(e) for e in errors), [e.message for e in errors]


def test_money_is_refused_as_money_not_as_a_duration(tmp_path):
    res = validate_cli(write(tmp_path, "k", _set(GOOD, "classes.truck_loaded.cargo_value",
                                                  "40k")))
    assert "amount of money" in res.output and "duration" not in res.output


def test_the_reference_page_is_the_schema_s(tmp_path):
    page = ROOT / "docs" / "reference.md"
    assert page.read_text(encoding="utf-8") == reference_markdown(), (
        "docs/reference.md differs from the schema: run "
        "`bordersim schema --markdown > docs/reference.md`")
    res = CliRunner().invoke(cli, ["schema", "--markdown"], catch_exceptions=False)
    assert res.output == reference_markdown()
    for name in ("name", "demand", "profile", "quota_per_day", "cargo_time_cost_per_day",
                 "lost_unit_value", "reference_delay"):
        assert f"| `{name}` |" in page.read_text(encoding="utf-8"), name


_UNITS = ["", "s", "sec", "min", "m", "h", "hr", "hours", "d", "days", "w", "weeks", "MIN",
          "Hours", "x", "hh", "mins"]


@settings(max_examples=300, deadline=None)
@given(sign=st.sampled_from(["", "+", "-"]), whole=st.sampled_from(["", "0", "1", "12", "007"]),
       frac=st.sampled_from(["", ".", ".0", ".5", ".25"]), exp=st.sampled_from(["", "e2", "E-1"]),
       space=st.sampled_from(["", " "]), unit=st.sampled_from(_UNITS))
def test_duration_patterns_accept_exactly_what_the_parser_accepts(sign, whole, frac, exp, space,
                                                                 unit):
    text = f"{sign}{whole}{frac}{exp}{space}{unit}"
    try:
        hours = parse_duration(text)
    except ValueError:
        hours = None
    assume(not (sign == "-" and hours == 0))     # "-0h": zero, but the schema wants no sign
    for schema, ok in ((DURATION_SCHEMA, hours is not None and hours >= 0),
                       (POSITIVE_DURATION_SCHEMA, hours is not None and hours > 0)):
        pattern = schema["anyOf"][1]["pattern"]
        assert bool(re.match(pattern, text)) == ok, (text, hours, pattern)
