"""Reports: ``report.html`` and its figures inside a results, compare or sweep folder.

One package, one idea a module; each imports only those above it in this list,
so the graph has no cycle:

- ``html``     the page shell every report shares: style, figures, numbers as text
- ``data``     a results folder read back (no plotting)
- ``figures``  the figures of one results folder
- ``results``  the page of one results folder (html, data, figures)
- ``compare``  the page of a compare folder (html, data, figures, results)
- ``sweep``    the page of a sweep folder (html, data)

:func:`write_report` looks at the folder and writes the right one.
"""

from __future__ import annotations

from pathlib import Path

from bordersim.loading import ScenarioError
from bordersim.report.compare import write_compare_report
from bordersim.report.html import FORMATS, Output
from bordersim.report.results import write_results_report
from bordersim.report.sweep import write_sweep_report

__all__ = ["write_report", "write_results_report", "write_compare_report",
           "write_sweep_report", "is_sweep_folder", "Output", "FORMATS"]


def is_sweep_folder(path: Path) -> bool:
    from bordersim.sweep_folder import RUNS

    return Path(path).is_dir() and (Path(path) / RUNS).is_file()


def write_report(folder: Path, observations: Path | None = None,
                 output: Output | None = None, crossings: list[str] | None = None,
                 metrics: list[str] | None = None) -> Path:
    """Write report.html and figures/ into a results, compare or sweep folder; ``output``
    says which figure formats (PNG, SVG or both) and whether the page embeds them;
    ``crossings`` chooses the panels of a sweep report, ``metrics`` what a compare or sweep
    report draws (after the total cost)."""
    from bordersim.compare import is_compare_folder
    from bordersim.measure import METRICS

    for m in metrics or []:
        if m not in METRICS:
            from bordersim.distributions import did_you_mean

            raise ScenarioError("--metric", [("", f"unknown metric '{m}'"
                                                  f"{did_you_mean(m, METRICS)} (known: "
                                                  f"{', '.join(METRICS)})")])
    folder = Path(folder)
    if not folder.exists():
        raise ScenarioError(str(folder), [("", "folder not found")])
    if not folder.is_dir():
        raise ScenarioError(str(folder), [("", "expected a results folder, got a file")])
    from bordersim.readback import verify_folder

    if is_sweep_folder(folder):
        if observations is not None:
            raise ScenarioError("--observations", [("", "applies to results and compare "
                                                         "folders, not to sweeps")])
        verify_folder(folder)       # a damaged folder is refused, naming the file
        return write_sweep_report(folder, crossings=crossings, output=output,
                                  metrics=metrics)
    if crossings:
        raise ScenarioError("--crossing", [("", "chooses the panels of a sweep report; "
                                                "results and compare reports draw every "
                                                "crossing")])
    verify_folder(folder)
    if is_compare_folder(folder):
        return write_compare_report(folder, observations, output, metrics)
    if metrics:
        raise ScenarioError("--metric", [("", "chooses what compare and sweep reports draw; "
                                              "a results report shows every metric")])
    return write_results_report(folder, observations, output)
