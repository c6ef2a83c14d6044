"""Reading YAML as users mean it, bounded; terminal-safe text; sizes estimated before a run."""

from __future__ import annotations

import os
import threading
from datetime import datetime

import pytest

from bordersim import safe_yaml
from bordersim.distributions import to_datetime
from bordersim.loading import ScenarioError, load_scenario, parse_override
from bordersim.sizing import check_run_fits, check_sweep_fits, run_size
from bordersim.terminal import safe, safe_lines

# ---- YAML ------------------------------------------------------------------------------

@pytest.mark.parametrize("text, value", [
    ("010", 10), ("0o10", 8), ("0x1f", 31), ("0b101", 5), ("1_000", 1000), ("-007", -7),
    ("18:00", "18:00"), ("1:30:00", "1:30:00"), ("190:20:30.15", "190:20:30.15"),
    ("1.5", 1.5), ("1e3", 1000.0), (".5", 0.5), ("-.inf", float("-inf")),
    ("2020-02-30", "2020-02-30"), ("2017-10-10", datetime(2017, 10, 10).date()),
    ("yes", True), ("'010'", "010"),
])
def test_numbers_read_as_yaml_1_2_does(text, value):
    assert safe_yaml.load(f"x: {text}\n") == {"x": value}


def test_a_key_given_twice_names_the_key_and_both_lines():
    with pytest.raises(safe_yaml.YamlProblem) as e:
        safe_yaml.load("a: 1\nb:\n  c: 1\n  d: 2\n  c: 3\n")
    assert "'c' is given twice" in str(e.value) and "first at line 3" in str(e.value)
    assert e.value.where == "line 5, column 3"


def test_merge_keys_are_not_taken_for_repeats():
    assert safe_yaml.load("base: &b {x: 1}\nover:\n  <<: *b\n  y: 2\n")["over"] == \
        {"x": 1, "y": 2}


def test_aliases_are_counted_as_written_out_without_writing_them_out():
    small = "a: &a [1, 2, 3]\nb: [*a, *a, *a]\n"
    assert safe_yaml.load(small)["b"] == [[1, 2, 3]] * 3
    levels = ["&l0 [" + ", ".join(["x"] * 10) + "]"]
    for i in range(1, 8):
        levels.append(f"&l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]")
    with pytest.raises(safe_yaml.YamlProblem, match="aliases"):
        safe_yaml.load("x: [" + ", ".join(levels) + "]\n")      # 10**8 values written out


def test_an_alias_inside_itself_is_refused():
    with pytest.raises(safe_yaml.YamlProblem, match="holds it"):
        safe_yaml.load("a: &a [1, *a]\n")
    with pytest.raises(safe_yaml.YamlProblem, match="holds it"):
        safe_yaml.load("a: &a {b: {c: *a}}\n")


@pytest.mark.parametrize("depth", [safe_yaml.MAX_DEPTH + 1, 20_000])
def test_deep_nesting_is_refused_not_a_recursion_error(depth):
    with pytest.raises(safe_yaml.YamlProblem, match="nested more than"):
        safe_yaml.load("x: " + "[" * depth + "]" * depth + "\n")
    assert safe_yaml.load("x: " + "[" * 30 + "]" * 30)


def test_aliases_nesting_deeper_than_the_file_are_refused():
    chain = ["&n0 [1]"] + [f"&n{i} [*n{i - 1}]" for i in range(1, 200)]
    with pytest.raises(safe_yaml.YamlProblem, match="levels deep"):
        safe_yaml.load("x: [" + ", ".join(chain) + "]\n")


def test_reading_a_pipe_does_not_wait_for_a_writer(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    result = {}

    def read():
        try:
            safe_yaml.read_text(fifo)
        except safe_yaml.YamlProblem as e:
            result["error"] = str(e)
    t = threading.Thread(target=read, daemon=True)
    t.start()
    t.join(30)          # a guard against a hang, not a measure of speed
    assert not t.is_alive() and "is a pipe" in result["error"]


def test_devices_and_huge_files_are_not_read(tmp_path):
    for dev in ("/dev/zero", "/dev/null", "/dev/urandom"):
        with pytest.raises(safe_yaml.YamlProblem, match="a device"):
            safe_yaml.read_text(dev)
    big = tmp_path / "big.yaml"
    with open(big, "wb") as f:
        f.truncate(safe_yaml.MAX_BYTES + 1)
    with pytest.raises(safe_yaml.YamlProblem, match="bytes"):
        safe_yaml.read_text(big)


def test_set_values_are_read_the_same_way():
    assert parse_override("a.b=010") == (["a", "b"], 10)
    assert parse_override("policy.0.at=18:00") == (["policy", 0, "at"], "18:00")
    assert parse_override("a=[unclosed") == (["a"], "[unclosed")      # text, as before
    with pytest.raises(ScenarioError, match="aliases"):
        parse_override("a=[" + ", ".join(["&b0 [" + ", ".join("x" * 10) + "]"]
                                          + [f"&b{i} [" + ", ".join([f"*b{i - 1}"] * 10) + "]"
                                             for i in range(1, 8)]) + "]")


# ---- times --------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["2017-10-01T00:00+06:00", "2017-10-01T00:00Z",
                                  "2017-10-01 12:00-05:00"])
def test_an_offset_from_utc_is_refused_not_dropped(text):
    with pytest.raises(ValueError, match="offset from UTC"):
        to_datetime(text)


@pytest.mark.parametrize("text", ["2020-02-30", "2020-13-45", "2017-10-01T25:00"])
def test_an_impossible_date_says_so(text):
    with pytest.raises(ValueError, match="not a date of the calendar"):
        to_datetime(text)


# ---- terminal ------------------------------------------------------------------------------

def test_control_and_reordering_characters_are_escaped():
    assert safe("a\x1b]0;title\x07b") == "a\\x1b]0;title\\x07b"
    assert safe("x\nerror: forged") == "x\\nerror: forged"
    assert safe("file\u202egnp.exe") == "file\\u202egnp.exe"
    assert safe("\x9b31m") == "\\x9b31m"
    assert safe("Ak-Tilek → Karasu, Қазақстан") == "Ak-Tilek → Karasu, Қазақстан"
    assert safe_lines("one\x1b\ntwo") == "one\\x1b\ntwo"
    assert safe("x" * 50, limit=10) == "x" * 10 + "... (40 more characters)"


def test_error_messages_are_one_escaped_bounded_line_per_problem():
    e = ScenarioError("f.yaml", [("a\nb", "bad \x1b[2J" + "y" * 5000)])
    (line,) = e.message().splitlines()
    assert "\x1b" not in line and "a\\nb" in line and len(line) < 700


# ---- extends: values of other files are never shown ----------------------------------------

def test_a_bad_value_in_a_parent_names_that_file_and_not_the_value(tmp_path):
    (tmp_path / "private").mkdir()
    (tmp_path / "private" / "keys.yaml").write_text("name: Hunter2-Secret\nseed: topsecret\n")
    child = tmp_path / "child.yaml"
    child.write_text("extends: private/keys.yaml\nreplications: many\n")
    with pytest.raises(ScenarioError) as e:
        load_scenario(child)
    text = e.value.message()
    assert "Hunter2" not in text and "topsecret" not in text
    assert f"{tmp_path / 'private' / 'keys.yaml'}: name: expected lowercase" in text
    assert f"{tmp_path / 'private' / 'keys.yaml'}: seed: expected a whole number" in text
    assert f"{child}: replications: expected a whole number, got 'many'" in text   # the user's
    with pytest.raises(ScenarioError) as e:
        load_scenario(child, ["name.x=1"])
    assert "Hunter2" not in e.value.message() and "holds a single value" in e.value.message()


def test_a_parent_that_is_not_yaml_shows_nothing_of_itself(tmp_path):
    (tmp_path / "notes.txt").write_text("password: [hunter2\n")
    child = tmp_path / "child.yaml"
    child.write_text("extends: notes.txt\n")
    with pytest.raises(ScenarioError) as e:
        load_scenario(child)
    assert "hunter2" not in e.value.message() and "not valid YAML" in e.value.message()


# ---- sizes -------------------------------------------------------------------------------

def test_the_estimate_is_the_expected_number_of_units():
    """Exactly the count with evenly spaced arrivals; the Poisson mean within 4 standard
    deviations otherwise (and a profile or a demand factor above 1 only raises it)."""
    from bordersim.experiment import simulate

    sets = ["duration=5d", "warmup=0"]
    det = load_scenario("scenarios/example-mmc.yaml",
                        [*sets, "crossings.ak-tilek.arrival_process=deterministic"])
    size = run_size(det.scenario)
    assert size.hours == 120 and size.units == 2160.0
    # unit k arrives as the expected count reaches k: the last one at the very end, which
    # is not processed
    assert simulate(det.scenario, 0).metrics[("all", "all")]["arrivals"] == 2159
    poisson = load_scenario("scenarios/example-mmc.yaml", sets).scenario
    arrivals = simulate(poisson, 0).metrics[("all", "all")]["arrivals"]
    assert abs(arrivals - run_size(poisson).units) <= 4 * run_size(poisson).units ** 0.5
    surge = load_scenario("scenarios/example-mmc.yaml",
                          [*sets, "policy=[{at: 1d, demand_factor: {all: 3}}]"]).scenario
    assert run_size(surge).units == 3 * 2160.0


def test_a_run_that_cannot_fit_is_refused_with_its_size():
    loaded = load_scenario("scenarios/example-mmc.yaml")
    check_run_fits(loaded.scenario, "x.yaml", available=10 ** 9)
    with pytest.raises(ScenarioError, match=r"about 12,960 units.*needs about .* MB.*10\.0 MB"):
        check_run_fits(loaded.scenario, "x.yaml", available=10 ** 7)
    big = load_scenario("scenarios/example-mmc.yaml",
                        ["crossings.ak-tilek.demand.truck_loaded=1e10"])
    with pytest.raises(ScenarioError, match=r"3e\+11 units"):
        check_run_fits(big.scenario, "x.yaml", at_once=2)


def test_a_sweep_that_cannot_fit_is_refused():
    scn = load_scenario("scenarios/example-mmc.yaml").scenario
    check_sweep_fits([scn] * 10, "x", 10, 22, available=10 ** 9)
    with pytest.raises(ScenarioError, match="runs.csv of about"):
        check_sweep_fits([scn] * 100_000, "x", 10, 22, available=10 ** 10)
