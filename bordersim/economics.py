"""What waiting costs, per unit, from its waiting time (SPEC, Scenario file: costs).

All amounts are in the scenario's currency. Costs are computed inside each
replication, so they get intervals like every other metric.
"""

from __future__ import annotations

import numpy as np

from bordersim.scenario import ClassSpec, Economics

__all__ = ["COMPONENTS", "unit_costs"]

COMPONENTS = ("time", "cargo_time", "spoilage", "lost")


def unit_costs(econ: Economics | None, cls: str, spec: ClassSpec, wait_h: np.ndarray,
               cargo: np.ndarray | None, gave_up: np.ndarray) -> dict[str, np.ndarray]:
    """Cost components of each unit of one class.

    ``wait_h``: hours queued over all stages (censored at the end of the run);
    ``cargo``: each unit's cargo value, or None for classes without cargo;
    ``gave_up``: True for units that reneged or balked.
    """
    n = len(wait_h)
    zero = np.zeros(n)
    if econ is None:
        return {c: zero for c in COMPONENTS}
    per_hour = spec.persons * econ.value_of_time_per_person_hour
    per_hour += econ.vehicle_cost_per_hour.get(cls, 0.0)
    time = wait_h * per_hour
    if cargo is None:
        cargo_time = zero
        spoilage = zero
    else:
        days = wait_h / 24.0
        cargo_time = days * cargo * econ.cargo_time_cost_per_day
        if econ.spoilage is not None and spec.perishable_share > 0:
            late_days = np.maximum(0.0, days - econ.spoilage.after / 24.0)
            spoilage = spec.perishable_share * cargo * -np.expm1(
                -econ.spoilage.rate_per_day * late_days)
        else:
            spoilage = zero
    lost_value = econ.lost_unit_value.get(cls)
    if lost_value is None:
        lost = zero
    elif lost_value == "cargo":
        lost = np.where(gave_up, cargo if cargo is not None else 0.0, 0.0)
    else:
        lost = np.where(gave_up, float(lost_value), 0.0)
    return {"time": time, "cargo_time": cargo_time, "spoilage": spoilage, "lost": lost}
