"""bordersim: what a land-border closure does to queues, waits and money."""

__version__ = "0.1.0"

from bordersim.experiment import ExperimentResult, run_experiment, simulate  # noqa: E402
from bordersim.loading import ScenarioError, load_scenario, scenario_from_dict  # noqa: E402
from bordersim.measure import METRICS, ReplicationResult  # noqa: E402

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
