"""The page shell every report shares: style, figures, numbers as text, atomic writes.

A report folder stays self-contained: the page links its figures by relative
paths and has no scripts and no external resources, so it can be zipped,
mailed or opened from disk. The figures are replaced as a whole (written to a
temporary folder first), then the page.
"""

from __future__ import annotations

import html
import math
import os
from dataclasses import dataclass
from pathlib import Path

from bordersim.results import atomic_folder

__all__ = ["REPORT_FILE", "FIGURES_DIR", "CSS", "Figure", "esc", "num", "page",
           "save_figures", "write_page"]

REPORT_FILE = "report.html"
FIGURES_DIR = "figures"

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; color: #222;
       max-width: 1120px; margin: 2em auto; padding: 0 1em; line-height: 1.45; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { margin-top: 2em; border-bottom:
  1px solid #ddd; padding-bottom: 0.2em; } h3 { margin-top: 1.5em; }
.lede { color: #444; max-width: 60em; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.9em; }
th, td { padding: 0.25em 0.7em; border-bottom: 1px solid #e5e5e5; text-align: left;
         vertical-align: top; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
figure { margin: 1.2em 0 2em 0; } figure img { max-width: 100%; height: auto;
  border: 1px solid #eee; } figcaption { color: #555; font-size: 0.9em; max-width: 60em; }
.note { color: #666; font-size: 0.9em; } nav a { margin-right: 1em; }
td.d { white-space: nowrap; } .wide { overflow-x: auto; }
table.numbers { font-size: 0.82em; } table.numbers td, table.numbers th { padding: 0.2em 0.45em; }
table.numbers td:first-child { white-space: nowrap; }
.yes { color: #1a7f37; font-weight: 600; } .no { color: #666; }
"""


@dataclass(frozen=True)
class Figure:
    """A figure of the report: its file name, what it shows (alt text) and a caption."""

    name: str
    alt: str
    caption: str

    def html(self) -> str:
        return (f'<figure><img src="{FIGURES_DIR}/{html.escape(self.name)}" '
                f'alt="{html.escape(self.alt)}">'
                f"<figcaption>{self.caption}</figcaption></figure>")


def esc(x) -> str:
    return html.escape(str(x))


def num(x: float, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    a = abs(x)
    if a >= 1e6:
        return f"{x / 1e6:.3g} M"
    if a >= 1000:
        return f"{x:,.0f}"
    if a >= 10 or x == int(x):
        return f"{x:,.1f}".rstrip("0").rstrip(".")
    return f"{x:.{digits}g}"


def page(title: str, body: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<link rel="icon" href="data:,">'
            f"<title>{esc(title)}</title><style>{CSS}</style></head>\n<body>\n{body}\n"
            f"</body></html>\n")


def save_figures(folder: Path, figures: list[tuple[str, object]]) -> None:
    """Save (name, matplotlib Figure) pairs as folder/figures/*.png, replacing the old set."""
    def write(tmp: Path) -> None:
        for name, fig in figures:
            fig.savefig(tmp / name, dpi=110)

    atomic_folder(Path(folder) / FIGURES_DIR, write)


def write_page(folder: Path, text: str) -> Path:
    out = Path(folder) / REPORT_FILE
    tmp = out.with_name(f".{REPORT_FILE}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, out)
    return out


