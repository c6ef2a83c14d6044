"""What a calibration fits: a scenario, its priors, the observations, and the simulation
that turns a parameter set into the observed figures.

Only what the observations need is simulated. Crossings that no observation reads
are left out, unless units divert between them and one that is read (every random
stream is keyed by crossing name, so leaving a crossing out changes no draw of the
others), and the run ends at the end of the latest window an observation reads (no
event before the end depends on where it is). The figures of the observations are
then those of the whole scenario.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

from bordersim.calibrate.distance import Distance
from bordersim.calibrate.priors import Prior, apply_parameters, check_priors
from bordersim.loading import LoadedScenario, ScenarioError, scenario_from_dict
from bordersim.observations import (
    Observation,
    SeriesSet,
    crossings_needed,
    figures,
    last_hour_needed,
    observation_weights,
)
from bordersim.scenario import ALL, Scenario

__all__ = ["CalibrationProblem", "prune_for_observations"]


def _diversion_links(data: dict) -> list[tuple[str, str]]:
    links = []
    for rules in (data.get("behaviour") or {}).get("divert", {}).values():
        for rule in rules if isinstance(rules, list) else [rules]:
            to = rule.get("to")
            for t in [to] if isinstance(to, str) else list(to or []):
                links.append((rule.get("from"), t))
    return links


def prune_for_observations(data: dict, scn: Scenario, observations: list[Observation]
                           ) -> dict:
    """The resolved scenario with only the crossings the observations need, run to the end
    of the latest window they read. Falls back to the whole scenario when leaving a
    crossing out would make it invalid (a policy naming a lane only it has)."""
    keep = crossings_needed(scn, observations)
    links = _diversion_links(data)
    grew = True
    while grew:       # units diverting to or from a kept crossing keep its partner
        grew = False
        for a, b in links:
            if (a in keep) != (b in keep) and a in scn.crossings and b in scn.crossings:
                keep |= {a, b}
                grew = True
    out = copy.deepcopy(data)
    end_h = float(last_hour_needed(scn, observations)) + 1.0
    if end_h < scn.duration:
        out["duration"] = end_h
        out["warmup"] = 0.0
        out["cooldown"] = 0.0
    if keep != set(scn.crossings):
        out["crossings"] = {k: v for k, v in out["crossings"].items() if k in keep}
        policy = []
        for ph in out.get("policy") or []:
            scope = ph.get("crossings", ALL)
            if scope != ALL:
                scope = [c for c in scope if c in keep]
                if not scope:
                    continue      # the phase applies only to crossings left out
                ph = {**ph, "crossings": scope}
            policy.append(ph)
        out["policy"] = policy
        divert = (out.get("behaviour") or {}).get("divert")
        if divert:
            for k, rules in list(divert.items()):
                kept = [r for r in (rules if isinstance(rules, list) else [rules])
                        if r.get("from") in keep]
                if kept:
                    divert[k] = kept if isinstance(rules, list) else kept[0]
                else:
                    del divert[k]
    try:
        scenario_from_dict(out)
    except ScenarioError:
        out = copy.deepcopy(data)
        if end_h < scn.duration:
            out.update(duration=end_h, warmup=0.0, cooldown=0.0)
    return out


def _sha(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


@dataclass
class CalibrationProblem:
    loaded: LoadedScenario              # the scenario after --set
    priors: list[Prior]
    observations: list[Observation]
    observations_source: str
    fit_until: datetime | None = None
    engine: str = "auto"
    # estimated figures no observation informs: not fitted, drawn from their priors for
    # every posterior draw, so that runs carry their uncertainty (costs, say)
    passengers: list[Prior] = field(default_factory=list)
    fitted: list[bool] = field(init=False)
    distance: Distance = field(init=False)

    def __post_init__(self):
        scn = self.loaded.scenario
        if not self.priors:
            raise ScenarioError("--vary", [("", "expected at least one PATH=lo..hi to "
                                                "calibrate")])
        check_priors(self.loaded.resolved, [*self.priors, *self.passengers], scn.start,
                     self.loaded.source)
        inside = []
        for o in self.observations:
            _, hi = _window(scn, o)
            inside.append(hi <= scn.duration)
        if not any(inside):
            raise ScenarioError(self.observations_source, [("", "no observation falls inside "
                                                                "the scenario's run")])
        self.fitted = [ok and (self.fit_until is None or o.when <= self.fit_until)
                       for o, ok in zip(self.observations, inside, strict=True)]
        if not any(self.fitted):
            raise ScenarioError("--fit-until", [("", f"no observation at or before "
                                                     f"{self.fit_until} to fit")])
        # observations outside the run are kept out of everything
        self.used = [o for o, ok in zip(self.observations, inside, strict=True) if ok]
        self.fitted = [f for f, ok in zip(self.fitted, inside, strict=True) if ok]
        self.distance = Distance(self.used, self.fitted)
        self.fitted_obs = [o for o, f in zip(self.used, self.fitted, strict=True) if f]
        for o in self.used:      # names the scenario does not have: an error now
            observation_weights(scn, [], [], o, self.observations_source)

    @property
    def scenario(self) -> Scenario:
        return self.loaded.scenario

    def key(self) -> str:
        """What a calibration folder must match to be resumed."""
        return _sha({"scenario": self.loaded.sha256,
                     "priors": [p.as_dict() for p in self.priors],
                     "uncertain": [p.as_dict() for p in self.passengers],
                     "observations": [(o.row, o.label, o.low, o.high, o.confidence)
                                      for o in self.used],
                     "fitted": self.fitted, "engine": self.engine})

    def scenario_for(self, values: dict[str, float], whole: bool = False,
                     fitted_only: bool = False) -> Scenario:
        """The scenario with these parameter values, pruned to what the observations (the
        fitted ones only, with ``fitted_only``) need, unless ``whole``."""
        scn = self.loaded.scenario
        data = apply_parameters(self.loaded.resolved, [*self.priors, *self.passengers],
                                values, scn.start,
                                self.loaded.source)
        if not whole:
            data = prune_for_observations(data, scn,
                                          self.fitted_obs if fitted_only else self.used)
        return scenario_from_dict(data, self.loaded.source).scenario

    def figures(self, values: dict[str, float], replication: int, seed: int,
                fitted_only: bool = False) -> np.ndarray:
        """Every used observation's figure in one simulation with these parameters; with
        ``fitted_only`` the simulation covers only the fitted observations and the others
        are NaN (what the inference needs: the distance reads only fitted figures)."""
        from bordersim.experiment import simulate

        scn = self.scenario_for(values, fitted_only=fitted_only)
        res = simulate(scn, replication, seed, self.engine)
        series = SeriesSet.from_results(scn, [res])
        out = np.full(len(self.used), np.nan)
        for j, (o, fit) in enumerate(zip(self.used, self.fitted, strict=True)):
            if fitted_only and not fit:
                continue
            x = figures(series, o, self.observations_source)
            out[j] = np.nan if x is None else float(x[0])
        return out


def _window(scn: Scenario, o: Observation) -> tuple[int, int]:
    from bordersim.observations import hour_window

    return hour_window(scn, o)


def observations_sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
