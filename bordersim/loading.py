"""Reading scenario files: YAML, ``extends`` chains, ``--set`` overrides, validation.

Every problem becomes one :class:`ScenarioError` naming the file, the field
path and what was expected; the CLI turns it into exit status 2.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from bordersim.scenario import Scenario, check_references, format_path

__all__ = ["ScenarioError", "LoadedScenario", "load_scenario", "scenario_from_dict",
           "apply_override", "parse_override", "deep_merge", "dump_yaml"]


class ScenarioError(Exception):
    """A scenario, option or path that cannot be used, described for the user."""

    def __init__(self, source: str, problems: list[tuple[str, str]]):
        self.source = source
        self.problems = problems
        super().__init__(self.message())

    def __reduce__(self):
        """Raised in a worker process, it reaches the command intact."""
        return (ScenarioError, (self.source, self.problems))

    def message(self) -> str:
        lines = []
        for path, msg in self.problems[:8]:
            lines.append(f"{self.source}: {path}: {msg}" if path else f"{self.source}: {msg}")
        if len(self.problems) > 8:
            lines.append(f"{self.source}: ... and {len(self.problems) - 8} more problems")
        return "\n".join(lines)


@dataclass(frozen=True)
class LoadedScenario:
    scenario: Scenario
    resolved: dict[str, Any]
    source: str

    @property
    def sha256(self) -> str:
        text = json.dumps(_plain(self.resolved), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()


def deep_merge(base: dict, over: dict) -> dict:
    """Mappings merge deeply; lists and scalars in ``over`` replace those in ``base``."""
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _read_yaml(path: Path, shown: str) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(shown, [("", "file not found")]) from None
    except IsADirectoryError:
        raise ScenarioError(shown, [("", "is a folder, expected a scenario file (.yaml)")]) \
            from None
    except (OSError, UnicodeDecodeError) as e:
        raise ScenarioError(shown, [("", f"cannot read the file: {e}")]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e)
        raise ScenarioError(shown, [(where, f"not valid YAML: {problem}")]) from None
    if not isinstance(data, dict):
        kind = "empty" if data is None else type(data).__name__
        raise ScenarioError(shown, [("", f"the top level must be a mapping of keys "
                                         f"(name, start, crossings, ...), got {kind}")])
    return data


def _resolve(path: Path, shown: str, chain: tuple[Path, ...]) -> dict:
    real = path.resolve()
    if real in chain:
        cycle = " -> ".join(p.name for p in (*chain, real))
        raise ScenarioError(shown, [("extends", f"cyclic extends: {cycle}")])
    data = _read_yaml(path, shown)
    parent = data.pop("extends", None)
    if parent is None:
        return data
    if not isinstance(parent, str):
        raise ScenarioError(shown, [("extends", "expected the path of a scenario file")])
    ppath = (path.parent / parent)
    if not ppath.exists():
        raise ScenarioError(shown, [("extends", f"the scenario it extends, '{parent}', "
                                                f"was not found (looked at {ppath})")])
    if ppath.is_dir():
        raise ScenarioError(shown, [("extends", f"'{parent}' is a folder; expected the path "
                                                "of a scenario file")])
    base = _resolve(ppath, str(ppath), (*chain, real))
    return deep_merge(base, data)


def parse_override(text: str) -> tuple[list[str | int], Any]:
    """``a.b.0.c=VALUE`` (or ``a.b[0].c=VALUE``) → (['a','b',0,'c'], VALUE read as YAML)."""
    if "=" not in text:
        raise ScenarioError("--set", [("", f"expected PATH=VALUE, got {text!r}")])
    path_text, value_text = text.split("=", 1)
    path_text = re.sub(r"\[(\d+)\]", r".\1", path_text.strip())  # as error messages write it
    if not path_text or any(p == "" for p in path_text.split(".")):
        raise ScenarioError("--set", [("", "expected a dotted path before '=', such as "
                                           "crossings.NAME.stages.0.lanes.0.booths, "
                                           f"got {text!r}")])
    parts: list[str | int] = [int(p) if p.isdigit() else p for p in path_text.split(".")]
    try:
        value = yaml.safe_load(value_text) if value_text.strip() else ""
    except yaml.YAMLError:
        value = value_text
    return parts, value


def apply_override(data: dict, parts: list[str | int], value: Any, text: str) -> None:
    node: Any = data
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(node, list):
            if not isinstance(part, int) or part >= len(node):
                where = format_path(tuple(parts[:i]))
                raise ScenarioError(f"--set {text}", [(where, _not_an_index(part, len(node)))])
        elif isinstance(node, dict):
            if isinstance(part, int) and part not in node:
                part = str(part)
        else:
            where = format_path(tuple(parts[:i]))
            raise ScenarioError(f"--set {text}", [(where, f"holds the value {node!r}, which has no "
                                                         f"'{part}' inside; expected a path that "
                                                         "ends here or goes into a section")])
        if last:
            node[part] = value
        else:
            if isinstance(node, dict) and part not in node:
                node[part] = {}
            node = node[part]


def _not_an_index(part: Any, n: int) -> str:
    if n == 0:
        return f"the list is empty, so it has no item '{part}'"
    return f"expected an index from 0 to {n - 1} (the list has {n} items), got '{part}'"


def _pydantic_problems(err: ValidationError, data: Any) -> list[tuple[str, str]]:
    """One (path, message) per bad value; a union's alternatives become one 'expected A or B'."""
    grouped: dict[str, list[dict]] = {}
    for e in err.errors(include_url=False):
        grouped.setdefault(format_path(_user_path(e, data)), []).append(e)
    return [(path, _message(errs)) for path, errs in grouped.items()]


def _user_path(e: dict, data: Any) -> tuple:
    """The error's place in what the user wrote, without pydantic's tags for union members."""
    loc, path, node = e["loc"], [], data
    for i, part in enumerate(loc):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        elif not (e["type"] == "missing" and i == len(loc) - 1):
            continue  # a union member's tag, '[key]', or a field inside a bare value
        path.append(part)
    return tuple(path)


_EXPECTED = {
    "int_type": "a whole number", "int_parsing": "a whole number",
    "int_from_float": "a whole number", "int_parsing_size": "a whole number of sensible size",
    "float_type": "a number", "float_parsing": "a number",
    "bool_not_number": "a number", "finite_number": "a finite number",
    "bool_type": "true or false", "bool_parsing": "true or false", "string_type": "text",
    "dict_type": "a mapping of keys", "model_type": "a mapping of keys",
    "model_attributes_type": "a mapping of keys", "list_type": "a list",
    "greater_than": "more than {gt}", "greater_than_equal": "at least {ge}",
    "less_than": "less than {lt}", "less_than_equal": "at most {le}",
    "too_short": "at least {min_length} item", "too_long": "at most {max_length} items",
    "string_too_long": "at most {max_length} characters", "literal_error": "{expected}",
}
_PATTERNS = {
    r"^[a-z0-9_\-]+$": "lowercase letters, digits, '-' and '_' only (it names the results folder)",
    r"^[A-Za-z0-9_.\-]+$": "a name of letters, digits, '.', '-' and '_' only",
}


def _expected(e: dict) -> str | None:
    ctx = {k: f"{v:g}" if isinstance(v, float) else v for k, v in (e.get("ctx") or {}).items()}
    if e["type"] == "string_pattern_mismatch":
        return _PATTERNS.get(ctx.get("pattern"), f"text matching {ctx.get('pattern')}")
    phrase = _EXPECTED.get(e["type"])
    return phrase.format(**ctx) if phrase else None


def _got(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping" if value else "an empty mapping"
    if isinstance(value, list):
        return "a list" if value else "an empty list"
    return "nothing" if value is None else repr(value)


def _message(errs: list[dict]) -> str:
    """'expected X, got Y' where pydantic's error kind is known; its own words otherwise."""
    first = errs[0]
    if first["type"] == "missing":
        return "missing; this field is required"
    phrases = [_expected(e) for e in errs]
    if all(phrases):
        alternatives = " or ".join(dict.fromkeys(phrases))
        return f"expected {alternatives}, got {_got(first.get('input'))}"
    msg = first["msg"]
    return msg[len("Value error, "):] if msg.startswith("Value error, ") else msg


def scenario_from_dict(data: dict, source: str = "<scenario>") -> LoadedScenario:
    try:
        scn = Scenario.model_validate(data)
    except ValidationError as e:
        raise ScenarioError(source, _pydantic_problems(e, data)) from None
    problems = check_references(scn)
    if problems:
        raise ScenarioError(source, problems)
    return LoadedScenario(scn, data, source)


def load_scenario(path: str | Path, overrides: list[str] = ()) -> LoadedScenario:
    """Read, resolve ``extends``, apply ``--set`` overrides and validate a scenario file."""
    p = Path(path)
    shown = str(path)
    data = _resolve(p, shown, ())
    for text in overrides:
        try:
            parts, value = parse_override(text)
            apply_override(data, parts, value, text)
        except ScenarioError as e:
            raise ScenarioError(f"{shown}: {e.source}", e.problems) from None
    return scenario_from_dict(data, shown)


def dump_yaml(data: dict) -> str:
    return yaml.safe_dump(_plain(data), sort_keys=False, allow_unicode=True)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value
