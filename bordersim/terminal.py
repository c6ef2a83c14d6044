"""Text that is safe to print on a terminal.

Names, paths and values in messages come from files and command lines that
anyone may have written. A control character echoed raw can set the
terminal's title, move the cursor or forge a line (``\\n error: ...``), and a
bidirectional override can reorder what the reader sees. :func:`safe` writes
every such character as a visible escape (``\\x1b``, ``\\n``, ``\\u202e``).
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["safe", "safe_lines"]

# C0 and C1 controls, DEL, and the format characters that change how text is shown
# (bidirectional embeddings, overrides and isolates; line and paragraph separators)
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")


def _escape(m: re.Match) -> str:
    ch = m.group()
    named = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
    if ch in named:
        return named[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def safe(text: object, limit: int | None = None) -> str:
    """``text`` with every control or reordering character escaped, on one line; cut to
    ``limit`` characters (with a note of how much was left out) when given."""
    s = str(text)
    if limit is not None and len(s) > limit:
        s = f"{s[:limit]}... ({len(s) - limit:,} more characters)"
    s = _UNSAFE.sub(_escape, s)
    if any(unicodedata.category(c) == "Cf" for c in s):
        s = "".join(f"\\u{ord(c):04x}" if unicodedata.category(c) == "Cf" else c for c in s)
    return s


def safe_lines(text: object, limit: int | None = None) -> str:
    """Several lines, each made safe: line breaks are kept, nothing else."""
    return "\n".join(safe(line, limit) for line in str(text).split("\n"))
