"""A pyabc sampler whose populations do not depend on the executor or the workers.

pyabc draws its proposals from numpy's global random state. Here every candidate of a
generation has a number; candidate i of generation t seeds that state from
``SeedSequence(seed, spawn_key=(t, i))`` just for its own proposal, and its simulation
draws from bordersim's streams for replication i of a seed derived from (seed, t).
Candidates are evaluated in batches on any executor, in any order, and the
population is the first n accepted in candidate order; the simulations counted are
the candidates up to the n-th accepted. So the same seed gives the same posterior on
one process, on two, or on a Dask cluster, and a resumed run repeats exactly what a
killed run would have done.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import math
from collections.abc import Callable
from functools import partial

import cloudpickle
import numpy as np
from pyabc.sampler import Sampler

from bordersim.executors import Executor

__all__ = ["OrderedSampler", "CANDIDATE", "simulation_seed", "PROPOSAL_KEY"]

PROPOSAL_KEY = 0x50524F      # spawn keys: apart from any replication's streams
SIMULATION_KEY = 0x53494D

#: (generation, candidate index, cached figures or None) of the candidate being evaluated
CANDIDATE: contextvars.ContextVar = contextvars.ContextVar("bordersim_candidate")


def simulation_seed(seed: int, generation: int) -> int:
    """The seed of generation t's simulations (replication i is candidate i)."""
    ss = np.random.SeedSequence(seed, spawn_key=(SIMULATION_KEY, generation + 1))
    return int(ss.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


@contextlib.contextmanager
def _proposal_state(seed: int, generation: int, index: int):
    """numpy's global state, which pyabc samples from, set for one candidate only and put
    back after it: the only place bordersim touches the global state, because the
    inference library reads it."""
    saved = np.random.get_state()  # noqa: NPY002
    ss = np.random.SeedSequence(seed, spawn_key=(PROPOSAL_KEY, generation + 1, index))
    np.random.set_state(  # noqa: NPY002
        np.random.RandomState(np.random.MT19937(ss)).get_state())
    try:
        yield
    finally:
        np.random.set_state(saved)  # noqa: NPY002


_LOADED: dict[bytes, Callable] = {}


def _evaluate(payload: bytes, seed: int, generation: int, cached: dict, indices: list[int]):
    """Evaluate candidates ``indices`` of a generation: [(index, particle)]."""
    key = hashlib.sha256(payload).digest()
    fn = _LOADED.get(key)
    if fn is None:
        _LOADED.clear()
        fn = _LOADED[key] = cloudpickle.loads(payload)
    out = []
    for i in indices:
        token = CANDIDATE.set((generation, i, cached.get(i)))
        try:
            with _proposal_state(seed, generation, i):
                out.append((i, fn()))
        finally:
            CANDIDATE.reset(token)
    return out


class OrderedSampler(Sampler):
    """Evaluates numbered candidates on a bordersim executor; see the module docstring.

    ``budget`` caps the simulations counted over the whole run: a generation that would
    pass it is not completed. ``progress(generation, evaluated, accepted, wanted)`` is
    called as batches come back; ``cache(generation)`` returns figures already computed
    for candidates of that generation (after a kill), and ``record(generation, rows)``
    is given each batch's (index, parameters, figures) to keep."""

    def __init__(self, executor: Executor, seed: int, *, budget: float = math.inf,
                 used: int = 0, progress=None, cache=None, record=None, chunk: int = 2):
        super().__init__()
        self.executor = executor
        self.seed = seed
        self.budget = budget
        self.used = used            # simulations counted in earlier generations
        self.progress = progress
        self.cache = cache
        self.record = record
        self.chunk = max(1, chunk)
        self.rate = 1.0             # acceptance rate of the last generation
        self.evaluated = 0          # simulations actually run (batches overshoot)

    def sample_until_n_accepted(self, n, simulate_one, t, *, max_eval=np.inf,
                                all_accepted=False, ana_vars=None):
        payload = cloudpickle.dumps(simulate_one)
        cached = self.cache(t) if self.cache else {}
        limit = min(max_eval, self.budget - self.used)
        results: dict = {}
        next_i = 0
        count, n_acc = 0, 0
        while True:
            # the contiguous prefix decides, whatever the batches were
            while count in results and n_acc < n:
                n_acc += results[count].accepted
                count += 1
            if n_acc >= n or count >= limit:
                break
            rate = 1.0 if all_accepted else max(self.rate, 0.01)
            want = math.ceil((n - n_acc) / rate * 1.15) + self.executor.workers * self.chunk
            stop = int(min(next_i + max(want, self.chunk), limit, next_i + 50 * n))
            tasks = [list(range(a, min(a + self.chunk, stop)))
                     for a in range(next_i, stop, self.chunk)]
            job = partial(_evaluate, payload, self.seed, t,
                          {i: cached[i] for i in range(next_i, stop) if i in cached})
            for batch in self.executor.map_unordered(job, tasks):
                for i, particle in batch:
                    results[i] = particle
                self.evaluated += len(batch)
                if self.record:
                    self.record(t, [(i, dict(p.parameter), p.sum_stat["figures"])
                                    for i, p in batch if i not in cached])
                if self.progress:
                    done = sum(p.accepted for p in results.values())
                    self.progress(t, len(results), min(done, n), n)
            next_i = stop
        sample = self._create_empty_sample()
        for i in range(count):
            sample.append(results[i])
        self.nr_evaluations_ = count
        if n_acc < n:
            sample.ok = False
        else:
            self.rate = n / count
            self.used += count
        return sample
