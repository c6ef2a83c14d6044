"""Reading bordersim's folders back, and refusing a damaged one with a clear message.

``check`` and ``report`` read folders that may have been cut short by a full
disk, edited by hand or copied in part. Before they use one, every file they
need is checked here — it parses, has the columns and keys bordersim writes,
and agrees with the manifest and the scenario — so that damage gives one
message naming the file and what is wrong (exit status 2), never a traceback
from deep inside a figure.
"""

from __future__ import annotations

import csv
import json
import math
import zipfile
from pathlib import Path

import numpy as np

from bordersim.distributions import brief
from bordersim.loading import ScenarioError, read_yaml_file, scenario_from_dict
from bordersim.scenario import Scenario

__all__ = ["SERIES_ARRAYS", "SERIES_OPTIONAL", "read_manifest", "read_resolved", "read_npz",
           "check_csv", "verify_results_folder", "verify_compare_folder", "verify_sweep_folder",
           "verify_folder"]

SERIES_FILE = "timeseries_replications.npz"
WAITS_FILE = "waits_replications.npz"
_SUMMARY = ["crossing", "class", "metric", "mean", "ci_low", "ci_high", "std", "n"]
_COSTS = ["crossing", "class", "component", "mean", "ci_low", "ci_high", "std", "n"]
_COMPARE = ["scenario", "crossing", "class", "metric", "base_mean", "mean", "diff_mean",
            "diff_ci_low", "diff_ci_high", "paired"]
_MAX_JSON = 64 * 1024 * 1024


def _bad(folder: Path | str, name: str, what: str) -> ScenarioError:
    return ScenarioError(str(folder), [(name, f"{what}: the folder looks damaged (bordersim "
                                              "writes it whole; run it again to rewrite it)")])


def _need(folder: Path, name: str, what: str = "results folder") -> Path:
    p = folder / name
    if not p.is_file():
        raise ScenarioError(str(folder), [(name, f"missing: this is not a complete {what} "
                                                 "written by bordersim")])
    return p


def read_manifest(folder: Path, name: str = "manifest.json",
                  keys: dict[str, type | tuple] | None = None, what: str = "results folder"
                  ) -> dict:
    """A JSON object, with each of ``keys`` present and of its type."""
    p = _need(folder, name, what)
    try:
        if p.stat().st_size > _MAX_JSON:
            raise _bad(folder, name, "far too large for a manifest")
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        raise _bad(folder, name, "not readable JSON") from None
    if not isinstance(data, dict):
        raise _bad(folder, name, "not a JSON object")
    for key, kind in (keys or {}).items():
        if key not in data:
            raise _bad(folder, name, f"has no '{key}'")
        value = data[key]
        if not isinstance(value, kind) or (isinstance(value, bool) and kind in (int, float)):
            raise _bad(folder, name, f"its '{key}' is not what bordersim writes there")
    return data


def read_resolved(folder: Path) -> Scenario:
    p = _need(folder, "scenario.resolved.yaml")
    data = read_yaml_file(p, str(p))
    if not isinstance(data, dict):
        raise _bad(folder, "scenario.resolved.yaml", "not a scenario")
    return scenario_from_dict(data, str(p)).scenario


SERIES_ARRAYS = {"queue": (3, "i"), "crossed": (3, "i"), "crossing": (1, "U"),
                 "cls": (1, "U")}
SERIES_OPTIONAL = {"wait_sum": (3, "f"), "tis_sum": (3, "f"), "held": (3, "i"),
                   "off_road": (3, "i"), "start": (0, "U")}


def read_npz(folder: Path, name: str, arrays: dict[str, tuple[int, str]],
             optional: dict[str, tuple[int, str]] | None = None) -> dict:
    """The arrays of a .npz file, each with its number of dimensions and kind of values
    ('i' whole numbers, 'f' numbers, 'F' finite numbers, 'U' text), and those of
    ``optional`` that it holds; no pickled objects are ever loaded."""
    p = _need(folder, name)
    out = {}
    wanted = {**{k: (v, True) for k, v in arrays.items()},
              **{k: (v, False) for k, v in (optional or {}).items()}}
    try:
        with np.load(p, allow_pickle=False) as z:
            for key, ((ndim, kind), required) in wanted.items():
                if key not in z.files:
                    if not required:
                        continue
                    raise _bad(folder, name, f"has no array '{key}'")
                a = z[key]
                ok_kind = {"i": a.dtype.kind in "iu", "f": a.dtype.kind in "iuf",
                           "F": a.dtype.kind in "iuf", "U": a.dtype.kind == "U"}[kind]
                if a.ndim != ndim or not ok_kind:
                    raise _bad(folder, name, f"its array '{key}' is not what bordersim writes")
                if kind == "F" and a.size and not np.all(np.isfinite(a)):
                    raise _bad(folder, name, f"its array '{key}' holds a value that is not "
                                             "a finite number")
                out[key] = a
    except ScenarioError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as e:
        raise _bad(folder, name, f"not a readable .npz file ({type(e).__name__})") from None
    return out


def check_csv(folder: Path, name: str, header: list[str] | None = None,
              prefix: list[str] | None = None, numbers: set[str] = frozenset(),
              whole: set[str] = frozenset(), what: str = "results folder") -> list[dict]:
    """Every row of a CSV file bordersim wrote: the header it writes (exactly, or starting
    with ``prefix``), every row as long as the header, numbers where numbers go."""
    p = _need(folder, name, what)
    try:
        with open(p, encoding="utf-8", newline="") as f:
            reader = csv.reader(f)
            head = next(reader, None)
            if head is None or (header is not None and head != header) \
                    or (prefix is not None and head[:len(prefix)] != prefix):
                want = ",".join(header or [*(prefix or []), "..."])
                raise _bad(folder, name, f"its header is not {want}")
            rows = []
            for line, row in enumerate(reader, start=2):
                if len(row) != len(head):
                    raise _bad(folder, name, f"line {line} has {len(row)} fields, the header "
                                             f"{len(head)}")
                rec = dict(zip(head, row, strict=True))
                for col in numbers & set(head):
                    text = rec[col]
                    try:
                        value = float(text) if text != "" else math.nan
                    except ValueError:
                        raise _bad(folder, name, f"line {line}, {col}: not a number") from None
                    if col in whole and text != "" and not float(value).is_integer():
                        raise _bad(folder, name, f"line {line}, {col}: not a whole number")
                rows.append(rec)
    except ScenarioError:
        raise
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise _bad(folder, name, f"not readable CSV ({type(e).__name__})") from None
    return rows


def verify_results_folder(folder: Path, shown: str | None = None) -> Scenario:
    """A results folder whole and consistent; its scenario. ScenarioError names the file."""
    d = Path(folder)
    if not d.is_dir():
        raise ScenarioError(shown or str(d), [("", "results folder not found")])
    man = read_manifest(d, keys={"scenario": str, "seed": int, "replications": int,
                                 "start": str})
    n = man["replications"]
    if n < 1:
        raise _bad(d, "manifest.json", "its 'replications' is below 1")
    scn = read_resolved(d)
    hours = int(math.ceil(scn.duration))
    series = read_npz(d, SERIES_FILE, SERIES_ARRAYS, SERIES_OPTIONAL)
    groups = list(zip(series["crossing"].tolist(), series["cls"].tolist(), strict=False))
    for key in ("queue", "crossed", *(k for k in ("wait_sum", "tis_sum", "held", "off_road")
                                      if k in series)):
        if series[key].shape != (n, len(series["crossing"]), hours) \
                or len(series["cls"]) != len(series["crossing"]):
            raise _bad(d, SERIES_FILE, f"its '{key}' does not have {n} replications × "
                                       f"{len(groups)} series × {hours} hours")
    for c, k in groups:
        if c not in scn.crossings or k not in scn.classes:
            raise _bad(d, SERIES_FILE, "it names a crossing or class the scenario lacks")
    if (d / WAITS_FILE).exists():
        waits = read_npz(d, WAITS_FILE, {"counts": (3, "i"), "edges_h": (1, "F"),
                                         "crossing": (1, "U"), "cls": (1, "U")})
        g = len(waits["crossing"])
        if waits["counts"].shape != (n, g, len(waits["edges_h"])) or len(waits["cls"]) != g:
            raise _bad(d, WAITS_FILE, "its arrays do not agree with each other")
        for c, k in zip(waits["crossing"].tolist(), waits["cls"].tolist(), strict=True):
            if c not in scn.crossings or k not in scn.classes:
                raise _bad(d, WAITS_FILE, "it names a crossing or class the scenario lacks")
    # columns bordersim adds later (percentiles, shares) are read as numbers too
    stats = {"mean", "ci_low", "ci_high", "std", "n", "p05", "p95", "param_share"}
    check_csv(d, "summary.csv", prefix=_SUMMARY, numbers=stats, whole={"n"})
    if (d / "costs.csv").exists():
        check_csv(d, "costs.csv", prefix=_COSTS, numbers=stats, whole={"n"})
    if (d / "replications.csv").exists():
        rows = check_csv(d, "replications.csv", prefix=["replication", "crossing", "class"])
        for line, rec in enumerate(rows, start=2):
            try:
                r = int(rec["replication"])
                bad = not 0 <= r < n or any(v != "" and not math.isfinite(float(v))
                                            for k, v in rec.items()
                                            if k not in ("replication", "crossing", "class"))
            except ValueError:
                bad = True
            if bad:
                raise _bad(d, "replications.csv", f"line {line}: not the numbers bordersim "
                                                  f"writes for {n} replications")
    return scn


def verify_compare_folder(folder: Path) -> list[str]:
    """A compare folder whole: compare.csv, its index, and each scenario's results folder.
    Returns the scenarios' folder names."""
    d = Path(folder)
    rows = check_csv(d, "compare.csv", prefix=_COMPARE,
                     numbers={"base_mean", "mean", "diff_mean", "diff_ci_low", "diff_ci_high"},
                     what="compare folder")
    labels: list[str] = []
    if (d / "compare.json").exists():
        index = read_manifest(d, "compare.json", keys={"base": str, "scenarios": list},
                              what="compare folder")
        for s in index["scenarios"]:
            if not isinstance(s, dict) or not isinstance(s.get("label"), str):
                raise _bad(d, "compare.json", "its 'scenarios' are not what bordersim writes")
            labels.append(s["label"])
    else:
        labels = [p.name for p in sorted(d.iterdir()) if (p / "manifest.json").is_file()]
    for label in labels:
        sub = d / label
        if Path(label).name != label or label in ("", ".", ".."):
            raise _bad(d, "compare.json", "it names a scenario folder outside the compare folder")
        verify_results_folder(sub)
    for rec in rows:
        if rec["scenario"] not in labels:
            raise _bad(d, "compare.csv", "it names a scenario with no folder here")
    return labels


def verify_sweep_folder(folder: Path) -> dict:
    """A sweep folder whole: its manifest, runs.csv, summary.csv and sensitivity.csv."""
    from bordersim.sweep_folder import INDEX, read_index, read_runs

    d = Path(folder)
    man = read_manifest(d, keys={"scenario": str, "design": str, "points": list,
                                 "replications": int, "seed": int, "factors": list,
                                 "metrics": list, "paths": list}, what="sweep folder")
    n_f = len(man["factors"])
    if any(not isinstance(f, dict) or not isinstance(f.get("path"), str) for f in man["factors"]) \
            or any(not isinstance(p, list) or len(p) != n_f for p in man["points"]) \
            or man["design"] not in ("grid", "lhs") or man["replications"] < 1:
        raise _bad(d, "manifest.json", "its design is not what bordersim writes")
    if not (d / "runs.csv").is_file():
        _need(d, "runs.csv", "sweep folder")
    if man.get("status") != "complete":
        raise ScenarioError(str(d), [("manifest.json", f"the sweep is not finished (status "
                                                       f"{brief(man.get('status'))}): "
                                                       "--resume finishes it")])
    try:
        table = read_runs(d / "runs.csv", index=read_index(d / INDEX))
    except (ValueError, OSError, UnicodeDecodeError, csv.Error) as e:
        raise _bad(d, "runs.csv", f"not what bordersim writes ({brief(str(e))})") from None
    if table.n_paths != n_f:
        raise _bad(d, "runs.csv", "its columns do not match the manifest's factors")
    n_p, n_r = len(man["points"]), man["replications"]
    for p, r in table.rows:
        if not (0 <= p < n_p and 0 <= r < n_r):
            raise _bad(d, "runs.csv", f"it holds point {p}, replication {r}, outside the "
                                      f"design of {n_p} points × {n_r} replications")
    missing = n_p * n_r - len(table.rows)
    if missing:
        raise ScenarioError(str(d), [("runs.csv", f"{missing} runs are cut short, damaged or "
                                                  "missing: the same sweep command with "
                                                  "--resume runs them again")])
    paths = [f["path"] for f in man["factors"]]
    stats = {"mean", "ci_low", "ci_high", "std", "n", "p05", "p95", "param_share"}
    if (d / "summary.csv").exists():
        check_csv(d, "summary.csv", prefix=["point", *paths, "crossing", "class", "metric",
                                            *_SUMMARY[3:]], numbers=stats | {"point"},
                  whole={"n", "point"}, what="sweep folder")
    if (d / "sensitivity.csv").exists():
        check_csv(d, "sensitivity.csv", prefix=["crossing", "class", "metric", "parameter",
                                                "prcc", "p_value"], numbers={"prcc", "p_value"},
                  what="sweep folder")
    return man


def verify_folder(folder: Path) -> str:
    """Check whichever kind of bordersim folder this is; returns its kind."""
    d = Path(folder)
    if not d.is_dir():
        raise ScenarioError(str(d), [("", "folder not found")])
    if (d / "runs.csv").is_file():
        verify_sweep_folder(d)
        return "sweep"
    if (d / "compare.csv").is_file():
        verify_compare_folder(d)
        return "compare"
    verify_results_folder(d)
    return "results"

