"""``bordersim check``: observed figures beside the simulation at the same time.

What an observation says and how its simulated figure is read is in
:mod:`bordersim.observations`. The observation counts as reproduced when the
mean over replications lies inside the observed range; it lies inside the 90%
predictive interval when the observed range meets the interval between the 5th
and 95th percentiles of the replications' figures (with posterior runs, that
interval carries parameter and Monte Carlo uncertainty).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bordersim.loading import ScenarioError
from bordersim.metrics import clip
from bordersim.observations import (
    COLUMNS,
    GROUPS,
    METRICS,
    Observation,
    SeriesSet,
    figures,
    read_observations,
)
from bordersim.results import SERIES_FILE
from bordersim.stats import Interval, t_interval

__all__ = ["Observation", "Verdict", "read_observations", "load_series", "check",
           "write_check", "COLUMNS", "METRICS", "GROUPS"]


@dataclass(frozen=True)
class Verdict:
    obs: Observation
    simulated: Interval | None     # None when the time is outside the run
    p05: float = math.nan          # 5th and 95th percentiles over replications
    p95: float = math.nan
    fitted: bool | None = None     # whether a calibration fitted it (posterior runs)

    def as_dict(self) -> dict:
        iv = self.simulated
        def num(x):
            return (None if x is None or math.isnan(x) or math.isinf(x) else x)
        return {"date": self.obs.when.isoformat(timespec="minutes"),
                "until": self.obs.until.isoformat(timespec="minutes") if self.obs.until
                else None,
                "crossing": self.obs.crossing, "class": self.obs.cls,
                "metric": self.obs.metric, "value_low": self.obs.low,
                "value_high": num(self.obs.high),
                "sim_mean": num(iv.mean) if iv else None,
                "sim_ci_low": num(iv.ci_low) if iv else None,
                "sim_ci_high": num(iv.ci_high) if iv else None,
                "sim_p05": num(self.p05), "sim_p95": num(self.p95),
                "inside": self.inside, "inside_90": self.inside_90,
                "fitted": self.fitted, "confidence": self.obs.confidence,
                "source": self.obs.source}

    @property
    def inside(self) -> bool | None:
        if self.simulated is None or math.isnan(self.simulated.mean):
            return None
        return self.obs.contains(self.simulated.mean)

    @property
    def inside_90(self) -> bool | None:
        if self.simulated is None or math.isnan(self.p05) or self.simulated.n < 2:
            return None
        return self.p05 <= self.obs.high and self.obs.low <= self.p95


def load_series(results_dir: Path) -> SeriesSet:
    """The hourly series of every replication; a missing or damaged folder is refused with a
    message naming the file (see :mod:`bordersim.readback`)."""
    from bordersim.readback import (
        SERIES_ARRAYS,
        SERIES_OPTIONAL,
        read_npz,
        verify_results_folder,
    )

    d = Path(results_dir)
    if not d.is_dir():
        raise ScenarioError(str(results_dir), [("", "results folder not found")])
    scn = verify_results_folder(d, str(results_dir))
    z = read_npz(d, SERIES_FILE, SERIES_ARRAYS, SERIES_OPTIONAL)
    arrays = {name: z[name] for name in ("queue", "crossed", "wait_sum", "tis_sum", "held")
              if name in z}
    return SeriesSet(scn, [str(x) for x in z["crossing"]], [str(x) for x in z["cls"]], arrays)


def fitted_rows(results_dir: Path, observations: Path) -> set[int] | None:
    """The lines of the observations file that the calibration behind a posterior run
    fitted; None when the run used no posterior, or its calibration fitted another file."""
    import hashlib
    import json

    try:
        man = json.loads((Path(results_dir) / "manifest.json").read_text())
        post = man.get("posterior") or {}
        same = post["observations_sha256"] == hashlib.sha256(
            Path(observations).read_bytes()).hexdigest()
        rows = set(post["fitted_rows"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return rows if same else None


def check(results_dir: Path, observations: Path, fitted: set[int] | None = None
          ) -> list[Verdict]:
    """Every observation beside the results' figure; ``fitted`` holds the file lines a
    calibration fitted (for posterior runs), to mark which figures were out of sample."""
    series = load_series(results_dir)
    out = []
    for obs in read_observations(observations):
        per_rep = figures(series, obs, str(observations))
        fit = None if fitted is None else obs.row in fitted
        if per_rep is None:
            out.append(Verdict(obs, None, fitted=fit))
            continue
        finite = per_rep[np.isfinite(per_rep)]
        p05, p95 = (np.percentile(finite, [5, 95]) if len(finite) else (math.nan, math.nan))
        # every observed figure is a count, a rate or a wait: its interval is cut at zero
        out.append(Verdict(obs, clip(t_interval(per_rep)), float(p05), float(p95), fit))
    return out


def write_check(path: Path, verdicts: list[Verdict]) -> None:
    """check.csv beside the results, replaced whole (written to a temporary file first)."""
    from bordersim.results import fmt

    tmp = path.with_name(f".{path.name}.tmp")
    fields = ["date", "crossing", "class", "metric", "value_low", "value_high", "sim_mean",
              "sim_ci_low", "sim_ci_high", "inside", "source", "until", "sim_p05", "sim_p95",
              "inside_90", "fitted", "confidence"]
    with open(tmp, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(fields)
        for v in verdicts:
            d = v.as_dict()
            w.writerow(["" if d[k] is None else fmt(d[k]) if isinstance(d[k], float)
                        else str(d[k]).lower() if isinstance(d[k], bool) else d[k]
                        for k in fields])
    tmp.replace(path)
