"""bordersim: what a land-border closure does to queues, waits and money.

The names below are imported on first use, so that ``import bordersim`` (and the
command line's ``--help``) stays quick.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "load_scenario",
    "scenario_from_dict",
    "ScenarioError",
    "simulate",
    "run_experiment",
    "ExperimentResult",
    "ReplicationResult",
    "METRICS",
]

_HOME = {
    "load_scenario": "bordersim.loading",
    "scenario_from_dict": "bordersim.loading",
    "ScenarioError": "bordersim.loading",
    "simulate": "bordersim.experiment",
    "run_experiment": "bordersim.experiment",
    "ExperimentResult": "bordersim.experiment",
    "ReplicationResult": "bordersim.measure",
    "METRICS": "bordersim.measure",
}


def __getattr__(name: str):
    if name in _HOME:
        value = getattr(importlib.import_module(_HOME[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'bordersim' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
