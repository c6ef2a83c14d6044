"""A calibration's posterior sample, for runs that carry parameter uncertainty.

``--posterior CAL_DIR``: replication r of a run takes posterior draw d_r, picked by
weight with a uniform from the stream of (seed, r, "posterior"), so draw r does not
depend on the number of replications and is the same for replication r of every
scenario run with that seed (comparisons stay paired). Reading the folder needs no
inference library.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bordersim.loading import ScenarioError
from bordersim.model.arrivals import stream

__all__ = ["Posterior", "load_posterior", "PosteriorScenarios", "sweep_with_posterior"]


@dataclass(frozen=True)
class Posterior:
    folder: str
    paths: tuple[str, ...]
    values: tuple[tuple, ...]     # one row per draw, values as the scenario takes them
    weights: np.ndarray
    manifest: dict
    sha256: str = ""              # of posterior.csv

    def draw_index(self, seed: int, replication: int) -> int:
        cum = np.cumsum(self.weights)
        u = float(stream(seed, replication, "posterior").random())
        return min(int(np.searchsorted(cum, u * cum[-1], side="right")), len(cum) - 1)

    def overrides(self, seed: int, replication: int) -> tuple[int, list[str]]:
        """Posterior draw of replication r and its values as --set overrides."""
        j = self.draw_index(seed, replication)
        return j, [f"{p}={_text(v)}" for p, v in zip(self.paths, self.values[j], strict=True)]

    @property
    def fitted_rows(self) -> set[int]:
        return set(self.manifest.get("fitted_rows") or [])

    def describe(self) -> dict:
        """What a results folder records of the posterior its replications ran: enough
        to know it again (its hash) and which observations it was fitted to."""
        m = self.manifest
        return {"folder": self.folder, "posterior_sha256": self.sha256,
                "draws": len(self.values), "parameters": list(self.paths),
                "scenario": m.get("scenario"), "seed": m.get("seed"),
                "fit_until": m.get("fit_until"), "observations": m.get("observations"),
                "observations_sha256": m.get("observations_sha256"),
                "fitted_rows": m.get("fitted_rows")}


def _text(v) -> str:
    if isinstance(v, float):
        return repr(v)
    return str(v)


def _cell(text: str):
    try:
        x = float(text)
    except ValueError:
        return text          # a date
    if x.is_integer() and "." not in text and "e" not in text.lower():
        return int(x)
    return x


def load_posterior(folder: Path) -> Posterior:
    d = Path(folder)
    shown = str(folder)
    if not d.is_dir():
        raise ScenarioError(shown, [("", "calibration folder not found")])
    try:
        manifest = json.loads((d / "manifest.json").read_text())
    except (OSError, ValueError):
        raise ScenarioError(shown, [("manifest.json", "missing or not JSON: is this a folder "
                                                      "written by `bordersim calibrate`?")]) \
            from None
    if not isinstance(manifest, dict) or manifest.get("kind") != "calibration":
        raise ScenarioError(shown, [("manifest.json", "not a calibration folder")])
    if manifest.get("status") != "complete":
        raise ScenarioError(shown, [("", "this calibration has not finished: `bordersim "
                                         "calibrate ... --resume` completes it")])
    try:
        raw = (d / "posterior.csv").read_bytes()
    except OSError:
        raise ScenarioError(shown, [("posterior.csv", "missing")]) from None
    try:
        rows = list(csv.reader(raw.decode("utf-8").splitlines()))
    except UnicodeDecodeError:
        raise ScenarioError(shown, [("posterior.csv", "not UTF-8 text")]) from None
    if len(rows) < 2 or rows[0][:2] != ["draw", "weight"] or len(rows[0]) < 3:
        raise ScenarioError(shown, [("posterior.csv", "expected draw,weight and a column per "
                                                      "parameter, and at least one draw")])
    paths = tuple(rows[0][2:])
    values, weights = [], []
    for n, r in enumerate(rows[1:], start=2):
        if len(r) != len(rows[0]):
            raise ScenarioError(shown, [(f"posterior.csv line {n}", "wrong number of cells")])
        try:
            w = float(r[1])
        except ValueError:
            w = math.nan
        if not (math.isfinite(w) and w >= 0):
            raise ScenarioError(shown, [(f"posterior.csv line {n}", "expected a weight >= 0")])
        weights.append(w)
        values.append(tuple(_cell(c) for c in r[2:]))
    w = np.array(weights)
    if not w.sum() > 0:
        raise ScenarioError(shown, [("posterior.csv", "the weights sum to zero")])
    import hashlib

    return Posterior(shown, paths, tuple(values), w / w.sum(), manifest,
                     hashlib.sha256(raw).hexdigest())


class PosteriorScenarios:
    """Replication r's scenario: the base scenario with posterior draw r's values put at
    their paths (after extends and --set; a sweep point's own values go on top). Picklable,
    so that it travels with the tasks."""

    def __init__(self, loaded, posterior: Posterior, seed: int, extra: tuple = ()):
        self.resolved = loaded.resolved
        self.source = loaded.source
        self.posterior = posterior
        self.seed = seed
        self.extra = tuple(extra)           # (parts, value) applied after the draw

    def draw(self, replication: int) -> int:
        return self.posterior.draw_index(self.seed, replication)

    def data(self, replication: int) -> dict:
        import copy

        from bordersim.loading import apply_override, parse_override

        data = copy.deepcopy(self.resolved)
        _, sets = self.posterior.overrides(self.seed, replication)
        for text in sets:
            parts, value = parse_override(text)
            try:
                apply_override(data, parts, value, text)
            except ScenarioError as e:
                raise ScenarioError(f"{self.source}: --posterior {self.posterior.folder}",
                                    e.problems) from None
        for parts, value in self.extra:
            apply_override(data, list(parts), value, ".".join(map(str, parts)))
        return data

    def scenario(self, replication: int):
        from bordersim.loading import scenario_from_dict

        where = f"{self.source} with posterior draw {self.draw(replication)} of " \
                f"{self.posterior.folder}"
        return scenario_from_dict(self.data(replication), where).scenario

    def check(self, n: int) -> None:
        """Build every replication's scenario now, so that a path the scenario lacks or a
        value it refuses is an error before anything runs."""
        seen = set()
        for r in range(n):
            j = self.draw(r)
            if j not in seen:
                seen.add(j)
                self.scenario(r)

    def with_extra(self, extra: tuple) -> PosteriorScenarios:
        out = PosteriorScenarios.__new__(PosteriorScenarios)
        out.__dict__.update(self.__dict__)
        out.extra = tuple(extra)
        return out


def sweep_with_posterior(plan, posterior: Posterior):
    """A sweep plan (:class:`bordersim.sweep.SweepPlan`) whose replication r runs
    posterior draw r at every point, with the point's own values on top."""
    import dataclasses

    base = PosteriorScenarios(plan.loaded, posterior, plan.seed)
    per_point = []
    for point in plan.points:
        extra = tuple((f.parts, v) for f, v in zip(plan.factors, point, strict=True))
        per = base.with_extra(extra)
        per.check(plan.replications)
        per_point.append(per)
    return dataclasses.replace(plan, per_point=tuple(per_point))
