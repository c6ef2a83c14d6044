"""The electronic queue's virtual queue against exact queueing theory.

With Poisson bookings at λ an hour and one slot every 1/r hours while units wait (no
notice, on time), the slot server is an M/D/1 queue: a booking's lead time has the
Pollaczek–Khinchine mean ρ / (2r(1 − ρ)), ρ = λ/r, and units then reach a booth of
deterministic service shorter than 1/r at least 1/r apart, so they never wait on site.
Little's law ties the units off the road to the lead time. R replications from a fixed
seed, with a warm-up and a cool-down; the mean over replications must lie within ``K``
standard errors of the exact value.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from bordersim.experiment import run_experiment
from bordersim.loading import scenario_from_dict
from bordersim.theory import mg1_wq

K = 3.0
KEY = ("x", "truck")


def _scenario(lam_per_day: float, slots_per_day: float):
    return scenario_from_dict({
        "name": "md1-booking", "start": "2024-01-01", "duration": "40d", "warmup": "4d",
        "cooldown": "2d", "replications": 12, "seed": 913,
        "classes": {"truck": {}},
        "crossings": {"x": {"demand": {"truck": lam_per_day}, "stages": [{
            "name": "gate", "lanes": [{"name": "l", "serves": ["truck"], "booths": 1,
                                       "service": {"truck": "30min"}}]}]}},
        "policy": [{"at": "0h", "appointment": {"truck": {"slots_per_day": slots_per_day}}}],
    }, "<md1>").scenario


def _within(values: np.ndarray, exact: float) -> None:
    mean = float(values.mean())
    se = float(values.std(ddof=1)) / math.sqrt(len(values))
    assert abs(mean - exact) <= K * se, f"mean {mean:.4f} vs exact {exact:.4f} (se {se:.4f})"


@pytest.mark.parametrize("rho", [0.6, 0.85])
def test_booking_lead_time_is_the_md1_wait(rho):
    r = 1.0                                   # one slot an hour
    lam = rho * r
    res = run_experiment(_scenario(lam * 24, r * 24), workers=2)
    m = [rep.metrics[KEY] for rep in res.replications]
    lead = np.array([x["booking_lead_mean_h"] for x in m])
    _within(lead, mg1_wq(lam, 1.0 / r, 0.0))
    # nobody waits on site: slots come at least an hour apart, service takes 30 minutes
    assert all(x["wait_max_h"] == 0 for x in m)
    assert all(x["queue_max"] == 0 for x in m)
    # Little's law off the road: units booked = booking rate × mean lead time
    area = np.array([x["waiting_area_mean"] for x in m])
    _within(area, lam * mg1_wq(lam, 1.0 / r, 0.0))
