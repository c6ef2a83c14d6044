"""Reading scenario files: YAML, ``extends`` chains, ``--set`` overrides, validation.

Every problem becomes one :class:`ScenarioError` naming the file, the field
path and what was expected; the CLI turns it into exit status 2.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from bordersim import safe_yaml
from bordersim.distributions import brief
from bordersim.scenario import Scenario, check_references, format_path
from bordersim.terminal import safe

__all__ = ["ScenarioError", "LoadedScenario", "load_scenario", "scenario_from_dict",
           "apply_override", "parse_override", "deep_merge", "dump_yaml", "read_yaml_file",
           "yaml_value", "MAX_EXTENDS"]

MAX_EXTENDS = 32          # files in one extends chain


class ScenarioError(Exception):
    """A scenario, option or path that cannot be used, described for the user.

    ``problems`` are ``(field path, message)`` pairs, or ``(field path, message, file)``
    for a problem in another file than ``source`` (a scenario it extends)."""

    def __init__(self, source: str, problems: list[tuple[str, str]]):
        self.source = source
        self.problems = problems
        super().__init__(self.message())

    def __reduce__(self):
        """Raised in a worker process, it reaches the command intact."""
        return (ScenarioError, (self.source, self.problems))

    def message(self) -> str:
        """One line per problem (at most 8), each cut to a bounded length and with control
        characters escaped, so that no name or value can forge a line or drive the
        terminal."""
        lines = []
        for problem in self.problems[:8]:
            path, msg = problem[0], problem[1]
            source = problem[2] if len(problem) > 2 else self.source
            line = f"{source}: {path}: {msg}" if path else f"{source}: {msg}"
            lines.append(safe(line, MESSAGE_LIMIT))
        if len(self.problems) > 8:
            lines.append(safe(f"{self.source}: ... and {len(self.problems) - 8} more problems",
                              MESSAGE_LIMIT))
        return "\n".join(lines)


MESSAGE_LIMIT = 600      # characters of one line of an error message


@dataclass(frozen=True)
class LoadedScenario:
    scenario: Scenario
    resolved: dict[str, Any]
    source: str
    warnings: tuple[str, ...] = ()     # what is allowed but probably not meant

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


def read_yaml_file(path: Path, shown: str, what: str = "a scenario file",
                   quiet: bool = False) -> object:
    """A YAML file read safely (see :mod:`bordersim.safe_yaml`); ScenarioError naming
    ``shown`` otherwise. ``quiet`` withholds what YAML found at the error (for a file
    reached through ``extends``, whose content is never echoed)."""
    try:
        text = safe_yaml.read_text(path, what=what)
    except FileNotFoundError:
        raise ScenarioError(shown, [("", "file not found")]) from None
    except IsADirectoryError:
        raise ScenarioError(shown, [("", f"is a folder, expected {what}")]) from None
    except safe_yaml.YamlProblem as e:
        raise ScenarioError(shown, [(e.where, str(e))]) from None
    try:
        return safe_yaml.load(text)
    except safe_yaml.YamlProblem as e:
        msg = str(e)
        if quiet and msg.startswith("not valid YAML"):
            msg = "not valid YAML (what was found there is not shown: this file is reached " \
                  "through extends)"
        raise ScenarioError(shown, [(e.where, msg)]) from None


def yaml_value(text: str, source: str) -> object:
    """One value written on the command line (``--set``, ``--vary``), read as a file's
    values are; text that is not valid YAML stays text."""
    try:
        return safe_yaml.load(text)
    except safe_yaml.YamlProblem as e:
        if str(e).startswith("not valid YAML"):
            return text
        raise ScenarioError(source, [("", str(e))]) from None


def _read_yaml(path: Path, shown: str, quiet: bool = False) -> dict:
    data = read_yaml_file(path, shown, quiet=quiet)
    if not isinstance(data, dict):
        kind = "empty" if data is None else type(data).__name__
        raise ScenarioError(shown, [("", f"the top level must be a mapping of keys "
                                         f"(name, start, crossings, ...), got {kind}")])
    return data


@dataclass(frozen=True)
class _Layer:
    shown: str
    data: dict


def _resolve(path: Path, shown: str, chain: tuple[Path, ...]) -> tuple[dict, list[_Layer]]:
    """The merged scenario, and each file's own mapping, the given file first."""
    try:
        real = path.resolve()
    except (OSError, RuntimeError):
        raise ScenarioError(shown, [("", "is a looping symbolic link")]) from None
    if real in chain:
        cycle = " -> ".join(p.name for p in (*chain, real))
        raise ScenarioError(shown, [("extends", f"cyclic extends: {cycle}")])
    if len(chain) >= MAX_EXTENDS:
        raise ScenarioError(shown, [("extends", f"the chain of extends is more than "
                                                f"{MAX_EXTENDS} files long")])
    data = _read_yaml(path, shown, quiet=bool(chain))
    parent = data.pop("extends", None)
    if parent is None:
        return data, [_Layer(shown, data)]
    if not isinstance(parent, str) or not parent.strip():
        raise ScenarioError(shown, [("extends", "expected the path of a scenario file")])
    ppath = (path.parent / parent)
    try:
        exists, is_dir = os.path.lexists(ppath), ppath.is_dir()
    except OSError:
        exists, is_dir = True, False
    if not exists:
        raise ScenarioError(shown, [("extends", f"the scenario it extends, {brief(parent)}, "
                                                f"was not found (looked at {ppath})")])
    if is_dir:
        raise ScenarioError(shown, [("extends", f"{brief(parent)} is a folder; expected the "
                                                "path of a scenario file")])
    base, layers = _resolve(ppath, str(ppath), (*chain, real))
    return deep_merge(base, data), [_Layer(shown, data), *layers]


class _Origin:
    """Which file wrote the value at a field path: the given file (or a --set), or a file
    reached through extends, whose values messages never repeat."""

    def __init__(self, layers: list[_Layer], set_paths: list[list] = ()):
        self.layers = layers
        self.set_paths = [tuple(p) for p in set_paths]

    @staticmethod
    def _holds(data: object, path: tuple) -> bool:
        node = data
        for part in path:
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
                node = node[part]
            else:
                return False
        return True

    def parent_of(self, path: tuple) -> str | None:
        """The file reached through extends that wrote ``path``, or None if the user's."""
        if len(self.layers) < 2:
            return None
        for sp in self.set_paths:
            if tuple(path[:len(sp)]) == sp:     # at or inside what a --set wrote
                return None
        for i, layer in enumerate(self.layers):
            if self._holds(layer.data, path):
                return None if i == 0 else layer.shown
        return None


_WITHHELD = " (in a file reached through extends, whose values are not shown)"


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
    value = yaml_value(value_text, "--set") if value_text.strip() else ""
    return parts, value


def apply_override(data: dict, parts: list[str | int], value: Any, text: str,
                   origin: _Origin | None = None) -> None:
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
            held = "a single value" if origin is not None and origin.parent_of(
                tuple(parts[:i])) else f"the value {brief(node)}"
            raise ScenarioError(f"--set {text}", [(where, f"holds {held}, which has no "
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


def _pydantic_problems(err: ValidationError, data: Any,
                       origin: _Origin | None = None) -> list[tuple]:
    """One (path, message) per bad value; a union's alternatives become one 'expected A or B'.
    A bad value from a file reached through extends is named with that file, not shown."""
    grouped: dict[tuple, list[dict]] = {}
    for e in err.errors(include_url=False):
        grouped.setdefault(_user_path(e, data), []).append(e)
    # a union member of the wrong shape ("expected a list") beside errors inside the value
    # from the member of the right shape says nothing the user needs
    for path in list(grouped):
        deeper = [q for q in grouped if len(q) > len(path) and q[:len(path)] == path]
        if deeper and all(e["type"] in _SHAPE_TYPES for e in grouped[path]):
            del grouped[path]
        elif deeper and all(len(q) == len(path) + 1 and e["type"] == "missing"
                            for q in deeper for e in grouped[q]):
            # a mapping alternative of a union, empty: one message with every alternative
            names = ", ".join(str(q[-1]) for q in deeper)
            for q in deeper:
                del grouped[q]
            grouped[path] = [*grouped[path], {"type": "_mapping_with", "names": names,
                                              "msg": "", "input": None}]
    out = []
    for path, errs in grouped.items():
        parent = origin.parent_of(path) if origin is not None else None
        if parent is None:
            out.append((format_path(path), _message(errs)))
        else:
            out.append((format_path(path), _message(errs, echo=False) + _WITHHELD, parent))
    return out


# errors that only say a union member of another kind did not fit the value
_SHAPE_TYPES = {"list_type", "dict_type", "model_type", "model_attributes_type", "string_type",
                "float_type", "int_type", "bool_type", "literal_error", "float_parsing",
                "int_parsing", "union_tag_invalid"}


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
    if e["type"] == "_mapping_with":
        return f"a mapping with {e['names']}"
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
    return "nothing" if value is None else brief(value)


def _message(errs: list[dict], echo: bool = True) -> str:
    """'expected X, got Y' where pydantic's error kind is known; its own words otherwise.
    Without ``echo``, nothing of the value itself: what is expected, or that it is wrong."""
    first = errs[0]
    if first["type"] == "missing":
        return "missing; this field is required"
    phrases = [_expected(e) for e in errs]
    if all(phrases):
        alternatives = " or ".join(dict.fromkeys(phrases))
        if not echo:
            return f"expected {alternatives}"
        return f"expected {alternatives}, got {_got(first.get('input'))}"
    if not echo:
        return first["msg"] if first["type"] == "unknown_key" else "not a valid value here"
    msg = first["msg"]
    return msg[len("Value error, "):] if msg.startswith("Value error, ") else msg


def scenario_from_dict(data: dict, source: str = "<scenario>",
                       origin: _Origin | None = None) -> LoadedScenario:
    try:
        scn = Scenario.model_validate(data)
    except ValidationError as e:
        raise ScenarioError(source, _pydantic_problems(e, data, origin)) from None
    except RecursionError:
        raise ScenarioError(source, [("", "nested too deeply to be a scenario")]) from None
    problems = check_references(scn)
    if problems and origin is not None:
        problems = [_withheld_reference(p, origin) for p in problems]
    if problems:
        raise ScenarioError(source, problems)
    return LoadedScenario(scn, data, source, tuple(safe(w, MESSAGE_LIMIT)
                                                   for w in scenario_warnings(scn, source)))


def scenario_warnings(scn: Scenario, source: str) -> list[str]:
    """Valid, but probably not what was meant: said on stderr, never an error."""
    out = []
    end = scn.start + timedelta(hours=scn.duration)
    for i in range(len(scn.policy)):
        t = scn.phase_time(i)
        if t >= scn.duration:
            out.append(f"{source}: policy[{i}].at: the phase starts at or after the end of "
                       f"the run ({end.isoformat(timespec='minutes')}), so it changes nothing")
    return out


def _withheld_reference(problem: tuple[str, str], origin: _Origin) -> tuple:
    path_text, msg = problem
    path = tuple(int(p) if p.isdigit() else p
                 for p in re.split(r"\.|\[|\]\.?", path_text) if p != "")
    parent = origin.parent_of(path)
    if parent is None:
        return problem
    return (path_text, "does not fit the rest of the scenario (a name it uses is not "
                       "defined, or is used twice)" + _WITHHELD, parent)


def load_scenario(path: str | Path, overrides: list[str] = ()) -> LoadedScenario:
    """Read, resolve ``extends``, apply ``--set`` overrides and validate a scenario file."""
    p = Path(path)
    shown = str(path)
    data, layers = _resolve(p, shown, ())
    parsed = []
    for text in overrides:
        try:
            parsed.append((text, *parse_override(text)))
        except ScenarioError as e:
            raise ScenarioError(f"{shown}: {e.source}", e.problems) from None
    origin = _Origin(layers, [parts for _, parts, _ in parsed])
    for text, parts, value in parsed:
        try:
            apply_override(data, parts, value, text, origin)
        except ScenarioError as e:
            raise ScenarioError(f"{shown}: {e.source}", e.problems) from None
    return scenario_from_dict(data, shown, origin)


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
