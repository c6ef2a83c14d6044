"""Every shipped scenario validates, matches the JSON Schema, and runs (shortened)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from bordersim.cli import cli
from bordersim.loading import load_scenario
from bordersim.schema import scenario_json_schema

SCENARIOS = sorted((Path(__file__).resolve().parents[2] / "scenarios").glob("*.yaml"))


def test_there_are_shipped_scenarios():
    assert SCENARIOS, "no scenarios/*.yaml found"


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_validates(path):
    result = CliRunner().invoke(cli, ["validate", str(path)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("ok")


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_matches_json_schema(path):
    data = yaml.safe_load(path.read_text())
    data = json.loads(json.dumps(data, default=str))   # YAML dates → ISO strings
    jsonschema.validate(data, scenario_json_schema())


def test_json_schema_requires_the_core_keys_unless_extending():
    schema = scenario_json_schema()
    with pytest.raises(jsonschema.ValidationError, match="required"):
        jsonschema.validate({"name": "x"}, schema)
    jsonschema.validate({"name": "x", "extends": "base.yaml"}, schema)


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_runs_short(path, tmp_path):
    scn = load_scenario(path).scenario
    short = min(scn.duration, 24 * 4 + scn.warmup + scn.cooldown)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli, ["run", str(path), "--quiet", "--replications", "2", "--workers", "1",
              "--out", str(out), "--set", f"duration={short}"],
        catch_exceptions=False)
    assert result.exit_code == 0, result.output
    for name in ("manifest.json", "scenario.resolved.yaml", "summary.csv",
                 "replications.csv", "timeseries.csv", "costs.csv"):
        assert (out / name).stat().st_size > 0, name
