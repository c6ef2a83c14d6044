"""Calibration: estimated parameters fitted to observed ranges, with their uncertainty.

- :mod:`~bordersim.calibrate.priors`: which scenario values are estimated, over what
  range, and the source of each range;
- :mod:`~bordersim.calibrate.distance`: how far a simulation is from the observations;
- :mod:`~bordersim.calibrate.problem`: the scenario, priors and observations, and the
  (pruned) simulation that turns a parameter set into observed figures;
- :mod:`~bordersim.calibrate.driver` and :mod:`~bordersim.calibrate.sampler`: ABC-SMC
  with pyabc, on bordersim's executors, reproducible whatever the workers;
- :mod:`~bordersim.calibrate.folder`: the calibration folder;
- :mod:`~bordersim.calibrate.posterior`: reading a posterior for runs (no pyabc needed).

The inference modules import pyabc (``pip install 'bordersim[calibrate]'``); this
package's ``__init__`` imports none of them.
"""

__all__ = ["load_posterior", "Posterior"]

from bordersim.calibrate.posterior import Posterior, load_posterior  # noqa: E402
