"""The page shell every report shares: style, figures in PNG and/or SVG, numbers as text.

A report folder stays self-contained: the page links its figures by relative
paths (or, with ``embed``, carries them inside as ``data:`` URIs, so the one
file can be mailed on its own) and has no scripts and no external resources.
The figures are replaced as a whole (written to a temporary folder first),
then the page.
"""

from __future__ import annotations

import base64
import html
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from bordersim.numbers import num as _num
from bordersim.results import atomic_folder

__all__ = ["REPORT_FILE", "FIGURES_DIR", "FORMATS", "CSS", "Output", "Figure", "Figures",
           "esc", "num", "page", "write_page", "table"]

REPORT_FILE = "report.html"
FIGURES_DIR = "figures"
FORMATS = ("png", "svg", "both")
DPI = 150

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; color: #222;
       max-width: 1120px; margin: 2em auto; padding: 0 1em; line-height: 1.45; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { margin-top: 2em; border-bottom:
  1px solid #ddd; padding-bottom: 0.2em; } h3 { margin-top: 1.5em; }
.lede { color: #444; max-width: 60em; }
#summary { background: #f6f8fa; border-left: 4px solid #4c72b0; padding: 0.3em 1.2em 0.6em;
           margin: 1.2em 0 1.5em; }
#summary h2 { margin-top: 0.6em; border-bottom: none; }
#summary p { max-width: 62em; margin: 0.6em 0; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.9em; }
th, td { padding: 0.25em 0.7em; border-bottom: 1px solid #e5e5e5; text-align: left;
         vertical-align: top; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
th.n { white-space: normal; min-width: 4.5em; }
figure { margin: 1.2em 0 2em 0; } figure img { max-width: 100%; height: auto;
  border: 1px solid #eee; } figcaption { color: #555; font-size: 0.9em; max-width: 60em; }
.note { color: #666; font-size: 0.9em; } nav a { margin-right: 1em; }
td.d { white-space: nowrap; } .wide { overflow-x: auto; }
table.numbers { font-size: 0.8em; } table.numbers td, table.numbers th { padding: 0.2em 0.45em; }
table.numbers td:first-child { white-space: nowrap; }
table.wrap td.n { white-space: normal; }
tr.total td { font-weight: 600; border-top: 1px solid #bbb; }
.yes { color: #1a7f37; font-weight: 600; } .no { color: #666; }
"""


@dataclass(frozen=True)
class Output:
    """How a report's figures are written: which formats, and whether the page embeds them."""

    format: str = "png"        # png, svg or both
    embed: bool = False

    def __post_init__(self):
        if self.format not in FORMATS:
            raise ValueError(f"format: expected one of {', '.join(FORMATS)}, "
                             f"got {self.format!r}")

    @property
    def formats(self) -> tuple[str, ...]:
        return ("png", "svg") if self.format == "both" else (self.format,)

    @property
    def shown(self) -> str:
        """The format the page shows (PNG when there are both: every browser, small)."""
        return self.formats[0]


@dataclass(frozen=True)
class Figure:
    """A figure of the report: its file name without extension, alt text and a caption."""

    name: str
    alt: str
    caption: str

    def html(self, src: str, others: dict[str, str] | None = None) -> str:
        links = "".join(f' <a href="{esc(href)}">{fmt.upper()}</a>'
                        for fmt, href in (others or {}).items())
        return (f'<figure><img src="{esc(src)}" alt="{esc(self.alt)}">'
                f"<figcaption>{self.caption}{links}</figcaption></figure>")


@dataclass
class Figures:
    """The figures of one page: drawn, then saved together, then placed in the page."""

    output: Output = field(default_factory=Output)
    items: list[tuple[Figure, object]] = field(default_factory=list)
    _src: dict[str, tuple[str, dict]] = field(default_factory=dict)

    def add(self, name: str, fig, alt: str, caption: str) -> Figure | None:
        """Keep a matplotlib figure (none when ``fig`` is None) under ``name``."""
        if fig is None:
            return None
        f = Figure(name, alt, caption)
        self.items.append((f, fig))
        return f

    def save(self, folder: Path) -> None:
        """Write folder/figures/<name>.<format> for every figure and format, replacing the
        old set as a whole."""
        import matplotlib

        out = self.output
        blobs: dict[tuple[str, str], bytes] = {}

        def write(tmp: Path) -> None:
            # text stays text in SVG; no dates or random ids, so the same run gives the
            # same bytes
            with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "bordersim"}):
                for f, fig in self.items:
                    for fmt in out.formats:
                        path = tmp / f"{f.name}.{fmt}"
                        meta = {"Date": None} if fmt == "svg" else {}
                        fig.savefig(path, dpi=DPI, format=fmt, metadata=meta)
                        if out.embed and fmt == out.shown:
                            blobs[(f.name, fmt)] = path.read_bytes()

        atomic_folder(Path(folder) / FIGURES_DIR, write)
        for f, _ in self.items:
            if out.embed:      # one file on its own: no links to files beside it
                mime = "image/svg+xml" if out.shown == "svg" else "image/png"
                data = base64.b64encode(blobs[(f.name, out.shown)]).decode("ascii")
                self._src[f.name] = (f"data:{mime};base64,{data}", {})
            else:
                others = {fmt: f"{FIGURES_DIR}/{f.name}.{fmt}" for fmt in out.formats
                          if fmt != out.shown}
                self._src[f.name] = (f"{FIGURES_DIR}/{f.name}.{out.shown}", others)

    def html(self, f: Figure | None) -> str:
        """The figure's place in the page (nothing for a figure that was not drawn)."""
        if f is None:
            return ""
        src, others = self._src[f.name]
        return f.html(src, others)


def esc(x) -> str:
    return html.escape(str(x))


def num(x: float, digits: int = 3) -> str:
    """A number for a table cell (see :mod:`bordersim.numbers`)."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return _num(x, digits)


def table(header: list[str], rows: list[list[str]], numeric: set[int] = frozenset(),
          cls: str = "", total_rows: set[int] = frozenset()) -> str:
    """An HTML table of cells already escaped; ``numeric`` columns align right."""
    def cell(tag: str, i: int, text: str) -> str:
        return f"<{tag} class='n'>{text}</{tag}>" if i in numeric else f"<{tag}>{text}</{tag}>"

    head = "".join(cell("th", i, h) for i, h in enumerate(header))
    body = "".join(
        ("<tr class='total'>" if j in total_rows else "<tr>")
        + "".join(cell("td", i, c) for i, c in enumerate(r)) + "</tr>"
        for j, r in enumerate(rows))
    attr = f" class='{cls}'" if cls else ""
    return f"<table{attr}><tr>{head}</tr>{body}</table>"


def page(title: str, body: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<link rel="icon" href="data:,">'
            f"<title>{esc(title)}</title><style>{CSS}</style></head>\n<body>\n{body}\n"
            f"</body></html>\n")


def write_page(folder: Path, text: str) -> Path:
    out = Path(folder) / REPORT_FILE
    tmp = out.with_name(f".{REPORT_FILE}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, out)
    return out
