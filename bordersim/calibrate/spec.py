"""A calibration described in a file: ``bordersim calibrate --spec FILE``.

::

    scenario: ../scenarios/closure-2017.yaml    # paths relative to this file
    observations: ../data/observations-2017.csv
    fit_until: 2017-10-31        # optional: fit only observations up to this date
    seed: 2017
    population: 200              # parameter sets per generation
    generations: 8               # at most
    budget: 4000                 # simulations at most
    predictive: 100              # posterior predictive simulations
    set: [PATH=VALUE, ...]       # optional overrides, as --set
    out: ../results/closure-2017-calibration
    priors:
      PATH: {range: lo..hi, scale: linear, source: "[g] 4-6 trucks/h ..."}
    uncertain:                   # figures no observation informs: drawn from these
      PATH: {range: lo..hi, source: "..."}   # ranges, apart from the fit

Options given on the command line override the file's, ``--vary`` path by path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from bordersim.loading import ScenarioError

__all__ = ["read_calibration_spec", "SPEC_KEYS"]

SPEC_KEYS = ("scenario", "observations", "fit_until", "seed", "population", "generations",
             "budget", "predictive", "set", "out", "priors", "uncertain", "min_acceptance")


def _int(data: dict, key: str, shown: str, least: int) -> int | None:
    v = data.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int) or v < least:
        raise ScenarioError(shown, [(key, f"expected a whole number of at least {least}, "
                                          f"got {v!r}")])
    return v


def read_calibration_spec(path: Path) -> dict[str, Any]:
    shown = str(path)
    p = Path(path)
    try:
        if not p.is_file():
            raise ScenarioError(shown, [("", "calibration spec not found (expected a YAML "
                                             "file)")])
        if p.stat().st_size > 1_000_000:
            raise ScenarioError(shown, [("", "the file is over 1 MB; a calibration spec is "
                                             "a short YAML file")])
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else ""
        raise ScenarioError(shown, [(where, f"not valid YAML: {getattr(e, 'problem', e)}")]) \
            from None
    except (OSError, UnicodeDecodeError) as e:
        raise ScenarioError(shown, [("", f"cannot read the file: {e}")]) from None
    if not isinstance(data, dict):
        raise ScenarioError(shown, [("", "expected a mapping with scenario, observations "
                                         "and priors")])
    unknown = [k for k in data if k not in SPEC_KEYS]
    if unknown:
        from bordersim.distributions import did_you_mean

        k = unknown[0]
        raise ScenarioError(shown, [(str(k), f"unknown key{did_you_mean(str(k), SPEC_KEYS)} "
                                             f"(known: {', '.join(SPEC_KEYS)})")])
    out: dict[str, Any] = {}
    for key in ("scenario", "observations", "out"):
        v = data.get(key)
        if v is None:
            continue
        if not isinstance(v, str):
            raise ScenarioError(shown, [(key, "expected a path")])
        out[key] = p.parent / v
    for key, least in (("seed", 0), ("population", 2), ("generations", 1), ("budget", 1),
                       ("predictive", 0)):
        v = _int(data, key, shown, least)
        if v is not None:
            out[key] = v
    if "min_acceptance" in data:
        v = data["min_acceptance"]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v < 1:
            raise ScenarioError(shown, [("min_acceptance", "expected a number in [0, 1)")])
        out["min_acceptance"] = float(v)
    if data.get("fit_until") is not None:
        out["fit_until"] = str(data["fit_until"])
    sets = data.get("set") or []
    if not isinstance(sets, list) or not all(isinstance(s, str) for s in sets):
        raise ScenarioError(shown, [("set", "expected a list of PATH=VALUE")])
    out["set"] = sets
    priors = data.get("priors") or {}
    if not isinstance(priors, dict):
        raise ScenarioError(shown, [("priors", "expected a mapping of PATH: {range, scale, "
                                               "source}")])
    out["priors"] = {str(k): v for k, v in priors.items()}
    uncertain = data.get("uncertain") or {}
    if not isinstance(uncertain, dict):
        raise ScenarioError(shown, [("uncertain", "expected a mapping of PATH: {range, scale, "
                                                  "source}")])
    out["uncertain"] = {str(k): v for k, v in uncertain.items()}
    out["source"] = shown
    return out
