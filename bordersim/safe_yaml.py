"""Reading YAML as a user means it, in bounded time and memory.

- Only regular files are read (never a device, a pipe or a socket, which could
  block or never end), and at most :data:`MAX_BYTES` of them.
- A document may nest :data:`MAX_DEPTH` levels at most and, counting every
  use of an alias (``*name``) in full, hold :data:`MAX_VALUES` values at
  most: a ten-line "billion laughs" is refused, not expanded.
- A key given twice in one mapping is an error naming the key and both lines.
- Numbers read as YAML 1.2 does: ``010`` is ten (not eight), ``0o10`` is eight,
  ``18:00`` is the text "18:00" (not 1080). ``yes``/``no`` stay booleans so
  that a count written as ``no`` is refused, not read as text.
- An impossible date (``2020-02-30``) stays text, for the field's own check to
  refuse with its path.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.resolver import Resolver

__all__ = ["MAX_BYTES", "MAX_DEPTH", "MAX_VALUES", "YamlProblem", "read_text", "load"]

MAX_BYTES = 16 * 1024 * 1024
MAX_DEPTH = 64
MAX_VALUES = 1_000_000


class YamlProblem(ValueError):
    """What is wrong with a file or its YAML, with where (``line 3, column 5``) if known."""

    def __init__(self, message: str, where: str = ""):
        self.where = where
        super().__init__(message)


def read_text(path: str | Path, max_bytes: int = MAX_BYTES, what: str = "a scenario file"
              ) -> str:
    """The text of a regular file of at most ``max_bytes``; YamlProblem otherwise.

    Opened without blocking, so a FIFO is refused at once instead of waiting for a writer.
    FileNotFoundError and IsADirectoryError pass through for the caller to word."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as e:
        if isinstance(e, (FileNotFoundError, IsADirectoryError)):
            raise
        if e.errno == 40:   # ELOOP
            raise YamlProblem("is a looping symbolic link") from None
        raise YamlProblem(f"cannot read the file: {e.strerror or e}") from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(str(path))
        if not stat.S_ISREG(st.st_mode):
            kind = ("a pipe" if stat.S_ISFIFO(st.st_mode) else
                    "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) else
                    "a socket" if stat.S_ISSOCK(st.st_mode) else "not a regular file")
            raise YamlProblem(f"is {kind}, not a file; expected {what}")
        if st.st_size > max_bytes:
            raise YamlProblem(f"is {st.st_size:,} bytes; expected {what} of at most "
                              f"{max_bytes:,} bytes")
        chunks, total = [], 0
        while total <= max_bytes:
            chunk = os.read(fd, min(1 << 20, max_bytes + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > max_bytes:   # it grew while being read
            raise YamlProblem(f"is more than {max_bytes:,} bytes; expected {what}")
    except OSError as e:
        if isinstance(e, IsADirectoryError):
            raise
        raise YamlProblem(f"cannot read the file: {e.strerror or e}") from None
    finally:
        os.close(fd)
    try:
        return b"".join(chunks).decode("utf-8")
    except UnicodeDecodeError as e:
        raise YamlProblem(f"cannot read the file: not UTF-8 text (byte {e.start})") from None


# --- the loader ------------------------------------------------------------------------

class _Resolver(Resolver):
    """YAML 1.1's implicit types, with YAML 1.2's integers and floats."""


_Resolver.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v
        if tag not in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")]
    for k, v in Resolver.yaml_implicit_resolvers.items()}
_Resolver.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?[0-9][0-9_]*|0o[0-7_]+|0x[0-9a-fA-F_]+|0b[01_]+)$"),
    list("-+0123456789"))
_Resolver.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
                   |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
                   |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
                   |[-+]?\.(?:inf|Inf|INF)
                   |\.(?:nan|NaN|NAN))$""", re.X),
    list("-+0123456789."))


class _Loader(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser,
              yaml.composer.Composer, yaml.constructor.SafeConstructor, _Resolver):
    def __init__(self, stream):
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        yaml.composer.Composer.__init__(self)
        yaml.constructor.SafeConstructor.__init__(self)
        _Resolver.__init__(self)
        self._depth = 0

    def compose_node(self, parent, index):
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise YamlProblem(f"nested more than {MAX_DEPTH} levels deep",
                                  f"line {mark.line + 1}, column {mark.column + 1}")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, Any] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.get(key)
                except TypeError:
                    continue        # an unhashable key: the constructor says so below
                line = key_node.start_mark.line + 1
                if first is not None:
                    raise YamlProblem(f"the key {_brief(key)} is given twice in one mapping "
                                      f"(first at line {first}); give each key once",
                                      f"line {line}, column {key_node.start_mark.column + 1}")
                seen[key] = line
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_int(self, node):
        text = self.construct_scalar(node).replace("_", "")
        sign = -1 if text.startswith("-") else 1
        text = text.lstrip("+-")
        for prefix, base in (("0o", 8), ("0x", 16), ("0b", 2)):
            if text.startswith(prefix):
                return sign * int(text[2:], base)
        return sign * int(text, 10)

    def construct_yaml_timestamp(self, node):
        try:
            return super().construct_yaml_timestamp(node)
        except (ValueError, OverflowError):
            return self.construct_scalar(node)   # 2020-02-30: the field's check words it


_Loader.add_constructor("tag:yaml.org,2002:int", _Loader.construct_yaml_int)
_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_yaml_timestamp)


def _brief(value: Any) -> str:
    from bordersim.distributions import brief

    return brief(value)


def _check_size(data: Any) -> None:
    """Count values and levels as if every alias were written out, without writing them out
    (each shared object is counted once and its total reused)."""
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    stack: list[tuple[Any, bool]] = [(data, False)]
    on_path: set[int] = set()
    while stack:
        node, done = stack.pop()
        if not isinstance(node, (dict, list)):
            continue
        key = id(node)
        children = list(node.values()) + list(node.keys()) if isinstance(node, dict) \
            else node
        if done:
            on_path.discard(key)
            n, d = 1, 1
            for c in children:
                if isinstance(c, (dict, list)):
                    n += size[id(c)]
                    d = max(d, depth[id(c)] + 1)
                else:
                    n += 1
            size[key], depth[key] = n, d
            if n > MAX_VALUES:
                raise YamlProblem(f"holds more than {MAX_VALUES:,} values once its aliases "
                                  "(*name) are written out; a scenario is far smaller")
            if d > MAX_DEPTH:
                raise YamlProblem(f"nests more than {MAX_DEPTH} levels deep once its aliases "
                                  "(*name) are written out")
            continue
        if key in size:
            continue
        if key in on_path:
            raise YamlProblem("an alias (*name) refers to a value that holds it: the "
                              "document would never end")
        on_path.add(key)
        stack.append((node, True))
        for c in children:
            if isinstance(c, (dict, list)):
                if id(c) in on_path:
                    raise YamlProblem("an alias (*name) refers to a value that holds it: the "
                                      "document would never end")
                if id(c) not in size:
                    stack.append((c, False))


def load(text: str) -> Any:
    """One YAML document read as described above; YamlProblem when it cannot be."""
    if len(text) > MAX_BYTES:
        raise YamlProblem(f"is more than {MAX_BYTES:,} characters")
    loader = None
    try:
        loader = _Loader(text)
        data = loader.get_single_data()
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        if isinstance(e, ConstructorError) and getattr(e, "context", None):
            problem = f"{e.context}: {problem}"
        raise YamlProblem(f"not valid YAML: {problem}", where) from None
    except RecursionError:
        raise YamlProblem(f"nested more than {MAX_DEPTH} levels deep") from None
    finally:
        if loader is not None:
            loader.dispose()
    _check_size(data)
    return data
