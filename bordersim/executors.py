"""Where runs happen: local processes, or a Dask distributed cluster.

An executor takes a picklable function and a list of tasks and yields each
task's result as it finishes, in whatever order they finish. Callers put
results back in a fixed order themselves, so what they write does not depend
on the executor or the number of workers. A task is a batch of runs, so that
the cost of shipping one task (a few milliseconds on Dask) is shared.
"""

from __future__ import annotations

import contextlib
import math
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any

from bordersim.distributions import brief
from bordersim.loading import ScenarioError

__all__ = ["Executor", "LocalExecutor", "DaskExecutor", "Cluster", "make_executor",
           "batch_size", "replication_batches", "default_workers"]


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
        pool = ProcessPoolExecutor(max_workers=min(self.workers, len(tasks)),
                                   initializer=_worker_start, initargs=(os.getpid(),))
        try:
            futures = [pool.submit(fn, t) for t in tasks]
            for fut in as_completed(futures):
                yield fut.result()
        except BaseException:
            # an error, Ctrl-C, SIGTERM or a caller that stops reading: stop the workers
            # now rather than wait for the runs they hold, and let nothing the stopped
            # pool raises hide why it stopped
            _terminate(pool)
            with contextlib.suppress(Exception):
                pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown(wait=True)


def _worker_start(parent: int) -> None:
    """Set up a pool worker: the parent alone decides on Ctrl-C and SIGTERM (a worker that
    turned SIGTERM into an exception would carry on with its next task), and the worker
    exits by itself once the process that started it is gone, however that process died
    (kill -9 runs no clean-up): a worker never outlives bordersim."""
    import signal
    import threading
    import time

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, signal.SIG_DFL)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_S)
        os._exit(1)

    threading.Thread(target=watch, name="bordersim-watch-parent", daemon=True).start()


PARENT_POLL_S = 0.25


def _terminate(pool: ProcessPoolExecutor) -> None:
    # the pool offers no way to stop running tasks; its processes are in ``_processes``
    for proc in list((getattr(pool, "_processes", None) or {}).values()):
        with contextlib.suppress(Exception):
            proc.terminate()


@dataclass(frozen=True)
class Cluster:
    """A Dask scheduler's address and, for ``tls://``, the files of Dask's TLS security:
    the certificate authority that signed the cluster's certificates, and this client's
    own certificate and key. Used wherever an address string is (``--scheduler``)."""

    address: str
    tls_ca_file: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None

    def __str__(self) -> str:
        return self.address

    @property
    def uses_tls(self) -> bool:
        return any((self.tls_ca_file, self.tls_cert, self.tls_key))

    def security(self):
        """Dask's Security for this client; None for a plain tcp:// cluster, which then
        takes Dask's own configuration (distributed.comm.tls.*), as Dask does."""
        if not self.uses_tls:
            return None
        from distributed.security import Security

        return Security(tls_ca_file=self.tls_ca_file, tls_client_cert=self.tls_cert,
                        tls_client_key=self.tls_key, require_encryption=True)


class DaskExecutor(Executor):
    """A Dask distributed cluster at ``address`` (tcp://host:8786, or tls://host:8786 with
    a :class:`Cluster`'s TLS files). Every worker needs bordersim installed, at the same
    version. What a worker sends back is unpickled here: use only a cluster you trust."""

    def __init__(self, address: str | Cluster, timeout_s: float = 20.0):
        try:
            from distributed import Client
        except ImportError:
            raise ScenarioError("--scheduler", [("", "Dask is not installed; install it with "
                                                     "pip install 'bordersim[dask]'")]) from None
        cluster = address if isinstance(address, Cluster) else Cluster(str(address))
        address = cluster.address
        security = cluster.security()
        _reachable(address, security)
        try:
            self.client = Client(address, timeout=timeout_s, set_as_default=False,
                                 **({"security": security} if security else {}))
        except (OSError, TimeoutError, ValueError, TypeError) as e:
            raise ScenarioError("--scheduler", [("", f"cannot reach a Dask scheduler at "
                                                     f"{address!r}: {brief(str(e))}")]) \
                from None
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


def _reachable(address: str, security=None) -> None:
    """Fail at once on a refused address or a failed TLS handshake, where Dask would retry
    until its timeout (and a half-made client then hangs on its way out)."""
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
    context = None
    if parts.scheme == "tls":
        context = _tls_context(address, security)
    try:
        if not parts.hostname:
            raise ValueError("no host name")
        port = parts.port or 8786
        sock = socket.create_connection((parts.hostname, port), timeout=5)
    except (OSError, ValueError) as e:
        raise ScenarioError("--scheduler", [("", f"cannot reach a Dask scheduler at "
                                                 f"{address!r}: {e}")]) from None
    with sock:
        if context is None:
            return
        import ssl

        try:
            with context.wrap_socket(sock, server_hostname=parts.hostname) as tls:
                tls.do_handshake()
        except (OSError, ssl.SSLError) as e:
            raise ScenarioError("--scheduler", [("", f"the TLS handshake with {address!r} "
                                                     f"failed: {brief(str(e))}; check "
                                                     "--tls-ca-file, --tls-cert and "
                                                     "--tls-key")]) from None


def _tls_context(address: str, security):
    """The client's TLS context: from the --tls files, else from Dask's configuration."""
    if security is None:
        import dask

        if not dask.config.get("distributed.comm.tls.ca-file", None):
            raise ScenarioError("--scheduler", [("", f"{address} is a TLS cluster: give "
                                                     "--tls-ca-file and --tls-cert (and "
                                                     "--tls-key), or set Dask's TLS "
                                                     "configuration")])
        from distributed.security import Security

        security = Security()
    try:
        return security.get_connection_args("client")["ssl_context"]
    except (OSError, ValueError) as e:
        raise ScenarioError("--scheduler", [("", f"cannot use the TLS files: "
                                                 f"{brief(str(e))}")]) from None


def make_executor(workers: int | None = None, scheduler: str | Cluster | None = None
                  ) -> Executor:
    if scheduler:
        return DaskExecutor(scheduler)
    return LocalExecutor(workers)
