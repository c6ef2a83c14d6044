"""Where runs happen: local processes, or a Dask distributed cluster.

An executor takes a picklable function and a list of tasks and yields each
task's result as it finishes, in whatever order they finish. Callers put
results back in a fixed order themselves, so what they write does not depend
on the executor or the number of workers. A task is a batch of runs, so that
the cost of shipping one task (a few milliseconds on Dask) is shared.
"""

from __future__ import annotations

import math
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any

from bordersim.distributions import brief
from bordersim.loading import ScenarioError

__all__ = ["Executor", "LocalExecutor", "DaskExecutor", "make_executor", "batch_size",
           "replication_batches", "default_workers"]


def default_workers() -> int:
    """The CPUs this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def batch_size(n_runs: int, workers: int, most: int = 16) -> int:
    """Runs per task: about four tasks per worker, so that the last ones balance, and no
    more than ``most``, so that a killed sweep loses little and progress moves."""
    return max(1, min(most, math.ceil(n_runs / (4 * max(1, workers)))))


def replication_batches(n: int, workers: int) -> list[list[int]]:
    """Replications 0..n-1 as tasks for ``workers``: one replication per task, so that no
    worker waits for another's last batch (replications take seconds, shipping a task
    milliseconds); batches only when there are over 16 tasks per worker, and then
    shrinking towards the end (a batch is 1/(4·workers) of what is left, at most 16)."""
    if n <= 16 * max(1, workers):
        return [[r] for r in range(n)]
    out, r = [], 0
    while r < n:
        size = max(1, min(16, (n - r) // (4 * max(1, workers))))
        out.append(list(range(r, min(n, r + size))))
        r += size
    return out


class Executor(ABC):
    """Runs tasks somewhere; ``workers`` is how many run at once."""

    workers: int = 1
    name: str = "executor"

    @abstractmethod
    def map_unordered(self, fn: Callable[[Any], Any], tasks: Sequence) -> Iterator[Any]:
        """Yield fn(task) for every task, in the order they finish."""

    def close(self) -> None:  # noqa: B027 - optional hook: most executors hold nothing
        """Release what the executor holds (local processes hold nothing between maps)."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class LocalExecutor(Executor):
    """Processes on this machine; one worker runs in this process, without a pool."""

    def __init__(self, workers: int | None = None):
        self.workers = default_workers() if workers is None else max(1, int(workers))
        self.name = f"local, {self.workers} worker{'s' * (self.workers != 1)}"

    def map_unordered(self, fn, tasks):
        if self.workers == 1 or len(tasks) <= 1:
            for task in tasks:
                yield fn(task)
            return
        pool = ProcessPoolExecutor(max_workers=min(self.workers, len(tasks)))
        try:
            futures = [pool.submit(fn, t) for t in tasks]
            for fut in as_completed(futures):
                yield fut.result()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


class DaskExecutor(Executor):
    """A Dask distributed cluster at ``address`` (tcp://host:8786). Every worker needs
    bordersim installed, at the same version."""

    def __init__(self, address: str, timeout_s: float = 20.0):
        try:
            from distributed import Client
        except ImportError:
            raise ScenarioError("--scheduler", [("", "Dask is not installed; install it with "
                                                     "pip install 'bordersim[dask]'")]) from None
        _reachable(address)
        try:
            self.client = Client(address, timeout=timeout_s, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as e:
            raise ScenarioError("--scheduler", [("", f"cannot reach a Dask scheduler at "
                                                     f"{address!r}: {e}")]) from None
        threads = sum(self.client.nthreads().values())
        if threads == 0:   # workers may still be starting: wait a little for one
            try:
                self.client.wait_for_workers(1, timeout=timeout_s)
            except (OSError, TimeoutError) as e:
                self.client.close()
                raise ScenarioError("--scheduler", [("", f"the Dask scheduler at {address!r} "
                                                         f"has no workers: {e}")]) from None
            threads = sum(self.client.nthreads().values())
        self.workers = max(1, threads)
        self.name = f"Dask at {address}, {self.workers} worker thread" \
                    f"{'s' * (self.workers != 1)}"

    def map_unordered(self, fn, tasks):
        from distributed import as_completed as dask_completed

        futures = [self.client.submit(fn, t, pure=False) for t in tasks]
        try:
            for fut in dask_completed(futures, loop=self.client.loop):
                yield fut.result()
        finally:
            self.client.cancel([f for f in futures if not f.done()])

    def close(self) -> None:
        self.client.close()


def _reachable(address: str) -> None:
    """Fail at once on a refused tcp:// address, where Dask would retry until its timeout."""
    import socket
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(address if "://" in address else f"tcp://{address}")
    except ValueError as e:
        raise ScenarioError("--scheduler", [("", f"not an address: {brief(address)} "
                                                 f"({e})")]) from None
    if parts.scheme not in ("tcp", "tls"):
        raise ScenarioError("--scheduler", [("", f"expected the address of a Dask scheduler "
                                                 f"on the network, tcp://HOST:PORT or "
                                                 f"tls://HOST:PORT, got {brief(address)}")])
    try:
        if not parts.hostname:
            raise ValueError("no host name")
        port = parts.port or 8786
        socket.create_connection((parts.hostname, port), timeout=5).close()
    except (OSError, ValueError) as e:
        raise ScenarioError("--scheduler", [("", f"cannot reach a Dask scheduler at "
                                                 f"{address!r}: {e}")]) from None


def make_executor(workers: int | None = None, scheduler: str | None = None) -> Executor:
    if scheduler:
        return DaskExecutor(scheduler)
    return LocalExecutor(workers)
