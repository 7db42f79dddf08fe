"""Where many independent tasks run: in this process (the default), in local processes, or on a
Dask cluster (a local one started for the run, or an existing one).

Every fan-out in budgetopt goes through one ``Executor``: the stretches of a budget sweep, the
scenarios of a comparison (scenario sets, variants, grids), the bootstrap refits of a fit and the
per-market fits. ``Executor.map(fn, items)`` returns ``[fn(item) for item in items]`` in input
order, whatever runs them; the tasks are pure functions of their inputs (a bootstrap draw takes
its randomness from its index), so the results are bit-for-bit those of the in-process run on any
number of workers. Each task runs with one BLAS thread wherever it runs (Dask's workers do so by
default), so that no sum is split differently between here and there.

* ``InProcess()``: a plain loop.
* ``LocalProcesses(n)``: a fork pool of ``n`` processes on this machine (``--jobs N``).
* ``DaskExecutor.local(n)``: a ``distributed.LocalCluster`` of ``n`` single-threaded worker
  processes on 127.0.0.1, started for the run and closed after it (``--workers N``).
* ``DaskExecutor.connect(address)``: an existing Dask scheduler (``--scheduler tcp://host:8786``
  or ``$BUDGETOPT_SCHEDULER``); an unreachable scheduler is a ``ClusterError`` naming the address
  within ``connect_timeout`` seconds.

On Dask a task on a worker that dies is given to another worker (the scheduler's
``allowed-failures``, 3 by default); a task that raises is retried ``retries`` times (then its
error is raised here). Dask is imported only when a Dask executor is asked for, so the core
package runs without it (``pip install 'budgetopt[dask]'``).
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from optimizer.errors import BudgetOptError
from optimizer.threads import one_blas_thread

#: the environment variable naming an existing Dask scheduler
SCHEDULER_ENV = "BUDGETOPT_SCHEDULER"
#: the environment variable overriding the connect timeout (seconds)
TIMEOUT_ENV = "BUDGETOPT_SCHEDULER_TIMEOUT"
#: seconds to wait for a scheduler before giving up
DEFAULT_CONNECT_TIMEOUT = 5.0
#: how many times a task that raises is retried on Dask before its error is raised
DEFAULT_RETRIES = 2

#: ``progress(done, total, index)``: ``done`` of ``total`` tasks finished, the last being ``index``
MapProgress = Callable[[int, int, int], None]


class ClusterError(BudgetOptError):
    """The Dask cluster cannot be used: not installed, unreachable, or it lost the run."""


def _one_thread(fn: Callable[[Any], Any], item: Any) -> Any:
    """``fn(item)`` with one BLAS thread."""
    with one_blas_thread():
        return fn(item)


class Executor:
    """Runs ``fn`` over items; results in input order. A context manager: leaving it releases
    what it started (processes, a local cluster, the connection)."""

    name = "executor"
    #: the tasks run in this process (so callers may report finer progress themselves)
    in_process = False

    def map(
        self, fn: Callable[[Any], Any], items: Sequence[Any], *, progress: MapProgress | None = None
    ) -> list[Any]:
        """``[fn(item) for item in items]``, in input order; ``progress(done, total, index)``
        after each item."""
        raise NotImplementedError

    @property
    def workers(self) -> int:
        return 1

    def describe(self) -> str:
        return self.name

    def close(self) -> None:
        pass

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class InProcess(Executor):
    """A plain loop in this process: the default."""

    name = "in-process"
    in_process = True

    def map(
        self, fn: Callable[[Any], Any], items: Sequence[Any], *, progress: MapProgress | None = None
    ) -> list[Any]:
        out = []
        for k, item in enumerate(items):
            out.append(_one_thread(fn, item))
            if progress is not None:
                progress(k + 1, len(items), k)
        return out


def _run_chunk(fn: Callable[[Any], Any], items: list[Any]) -> list[Any]:
    """One task of a cluster: ``fn`` over a few items, with one BLAS thread."""
    with one_blas_thread():
        return [fn(item) for item in items]


class LocalProcesses(Executor):
    """A fork pool of ``n`` processes on this machine (``--jobs N``); in-process where fork is not
    available or there is a single task."""

    def __init__(self, n: int) -> None:
        self.n = max(1, int(n))
        self.name = f"{self.n} local processes"

    @property
    def workers(self) -> int:
        return self.n

    def map(
        self, fn: Callable[[Any], Any], items: Sequence[Any], *, progress: MapProgress | None = None
    ) -> list[Any]:
        items = list(items)
        if self.n < 2 or len(items) < 2 or "fork" not in mp.get_all_start_methods():
            return InProcess().map(fn, items, progress=progress)
        out: list[Any] = [None] * len(items)
        # fork: the workers start at once, with everything already imported
        with mp.get_context("fork").Pool(min(self.n, len(items))) as pool:
            it = pool.imap_unordered(_indexed, [(k, fn, item) for k, item in enumerate(items)])
            for done, (k, result) in enumerate(it, start=1):
                out[k] = result
                if progress is not None:
                    progress(done, len(items), k)
        return out


def _indexed(args: tuple[int, Callable[[Any], Any], Any]) -> tuple[int, Any]:
    k, fn, item = args
    return k, _one_thread(fn, item)


def _require_distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise ClusterError(
            "running on a Dask cluster needs Dask's distributed scheduler: "
            "install budgetopt[dask] (pip install 'budgetopt[dask]')"
        ) from None
    return distributed


class DaskExecutor(Executor):
    """Tasks on a Dask cluster, through a ``distributed.Client``.

    Build it with ``DaskExecutor.local(n)`` (a LocalCluster started for the run) or
    ``DaskExecutor.connect(address)`` (an existing scheduler).
    """

    def __init__(
        self,
        client: Any,
        cluster: Any = None,
        *,
        retries: int = DEFAULT_RETRIES,
        name: str = "dask",
    ) -> None:
        self.client = client
        self.cluster = cluster
        self.retries = int(retries)
        self.name = name

    @classmethod
    def local(cls, n_workers: int, *, retries: int = DEFAULT_RETRIES) -> DaskExecutor:
        """A LocalCluster of ``n_workers`` single-threaded worker processes on 127.0.0.1 (no
        dashboard), closed with the executor."""
        distributed = _require_distributed()
        n = int(n_workers)
        if n < 1:
            raise ClusterError(f"expected at least one worker, got {n}", field="--workers")
        # the silence_logs level keeps the workers' own log lines (e.g. a restart) off the
        # user's terminal unless they are warnings
        import logging

        # no dashboard; the scheduler's own HTTP routes (health, metrics) on a free port rather
        # than 8787, which another cluster on this machine may hold
        cluster = distributed.LocalCluster(
            n_workers=n,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            silence_logs=logging.ERROR,
            scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
        )
        try:
            client = distributed.Client(cluster)
        except Exception:
            cluster.close()
            raise
        return cls(
            client,
            cluster,
            retries=retries,
            name=f"a local Dask cluster of {n} worker{'s' if n != 1 else ''}",
        )

    @classmethod
    def connect(
        cls, address: str, *, timeout: float | None = None, retries: int = DEFAULT_RETRIES
    ) -> DaskExecutor:
        """A client of the existing scheduler at ``address`` (``tcp://host:8786``); a
        ``ClusterError`` naming it when it cannot be reached within ``timeout`` seconds
        (default ``$BUDGETOPT_SCHEDULER_TIMEOUT`` or 5)."""
        distributed = _require_distributed()
        address = address.strip()
        if timeout is None:
            timeout = connect_timeout()
        t0 = time.perf_counter()
        _probe(address, timeout)
        try:
            client = distributed.Client(address, timeout=timeout, set_as_default=False)
        except (OSError, TimeoutError) as e:
            waited = time.perf_counter() - t0
            raise ClusterError(
                f"cannot reach the Dask scheduler at {address} (gave up after {waited:.1f} s: "
                f"{_reason(e)}); start one with 'dask scheduler' and workers with "
                f"'dask worker {address}', or check the address",
                field="--scheduler",
            ) from None
        except ValueError as e:  # a malformed address
            raise ClusterError(
                f"{address!r} is not a scheduler address like tcp://host:8786 ({e})",
                field="--scheduler",
            ) from None
        return cls(client, None, retries=retries, name=f"the Dask scheduler at {address}")

    @property
    def workers(self) -> int:
        return len(self.client.scheduler_info().get("workers", {}))

    def map(
        self,
        fn: Callable[[Any], Any],
        items: Sequence[Any],
        *,
        progress: MapProgress | None = None,
        chunksize: int | None = None,
    ) -> list[Any]:
        """``[fn(item) for item in items]`` on the cluster. Items go in chunks of ``chunksize``
        (default: about four tasks per worker, so that small tasks do not drown in the
        scheduler's overhead); progress is reported per item as its chunk finishes."""
        distributed = _require_distributed()
        items = list(items)
        if not items:
            return []
        if chunksize is None:
            chunksize = -(-len(items) // (4 * max(1, self.workers)))
        chunksize = max(1, int(chunksize))
        chunks = [
            list(range(a, min(a + chunksize, len(items)))) for a in range(0, len(items), chunksize)
        ]
        futures = self.client.map(
            _run_chunk,
            [fn] * len(chunks),
            [[items[k] for k in c] for c in chunks],
            pure=False,
            retries=self.retries,
        )
        index = {f.key: c for f, c in zip(futures, chunks, strict=True)}
        out: list[Any] = [None] * len(items)
        done = 0
        try:
            for fut in distributed.as_completed(futures):
                ks = index[fut.key]
                try:
                    results = fut.result()
                except BudgetOptError:
                    raise
                except distributed.client.FutureCancelledError as e:
                    raise ClusterError(
                        f"the cluster dropped task {ks[0] + 1} of {len(items)} ({e})"
                    ) from None
                except Exception as e:
                    if type(e).__name__ == "KilledWorker":
                        raise ClusterError(
                            f"task {ks[0] + 1} of {len(items)} was running on a worker that died "
                            f"each time it was tried ({e}); the workers may be short of "
                            "memory"
                        ) from None
                    raise
                fut.release()
                for k, r in zip(ks, results, strict=True):
                    out[k] = r
                    done += 1
                    if progress is not None:
                        progress(done, len(items), k)
        except BaseException:
            self.client.cancel(futures)
            raise
        return out

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.close()
        if self.cluster is not None:
            with contextlib.suppress(Exception):
                self.cluster.close()


def _reason(e: BaseException) -> str:
    text = str(e).strip() or type(e).__name__
    return text.splitlines()[0]


def _probe(address: str, timeout: float) -> None:
    """Check that a Dask scheduler answers at a ``tcp://`` address before a ``Client`` is made.

    A Dask server speaks first: on accepting a connection it sends its handshake, a frame whose
    first 8 bytes are a small count. Anything else that accepts TCP connections (a proxy, a web
    server) stays silent or answers with text, and a ``Client`` would read that text as frame
    sizes (asking for exabytes). Other schemes (``tls://``, ``ucx://``) are left to Dask.
    """
    import socket
    import struct
    from urllib.parse import urlsplit

    if not address.startswith("tcp://"):
        return
    try:
        parts = urlsplit(address)
        host, port = parts.hostname, parts.port
    except ValueError:
        host = port = None
    if not host or not port:
        raise ClusterError(
            f"{address!r} is not a scheduler address like tcp://host:8786", field="--scheduler"
        )
    t0 = time.perf_counter()
    hint = (
        f"start one with 'dask scheduler' and workers with 'dask worker {address}', "
        "or check the address"
    )
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except TimeoutError:
        raise ClusterError(
            f"cannot reach the Dask scheduler at {address} (no answer to connect "
            f"within {timeout:.1f} s); {hint}",
            field="--scheduler",
        ) from None
    except OSError as e:
        raise ClusterError(
            f"cannot reach the Dask scheduler at {address} ({_reason(e)}); {hint}",
            field="--scheduler",
        ) from None
    try:
        with sock:
            sock.settimeout(max(0.1, timeout - (time.perf_counter() - t0)))
            head = b""
            while len(head) < 8:
                chunk = sock.recv(8 - len(head))
                if not chunk:
                    break
                head += chunk
    except TimeoutError:
        raise ClusterError(
            f"no Dask scheduler answered at {address} within {timeout:.1f} s (something accepts "
            f"connections there, but it is not a Dask scheduler); {hint}",
            field="--scheduler",
        ) from None
    except OSError as e:
        raise ClusterError(
            f"cannot reach the Dask scheduler at {address} ({_reason(e)}); {hint}",
            field="--scheduler",
        ) from None
    if len(head) < 8 or struct.unpack("<Q", head)[0] > 1 << 20:
        raise ClusterError(
            f"the server at {address} is not a Dask scheduler (it did not answer "
            f"with a Dask handshake); {hint}",
            field="--scheduler",
        )


def connect_timeout() -> float:
    raw = os.environ.get(TIMEOUT_ENV)
    if not raw:
        return DEFAULT_CONNECT_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        raise ClusterError(
            f"expected a number of seconds, got {raw!r}", field=TIMEOUT_ENV
        ) from None
    if not value > 0:
        raise ClusterError(f"expected a positive number of seconds, got {raw!r}", field=TIMEOUT_ENV)
    return value


def executor_from(
    workers: int | None = None,
    scheduler: str | None = None,
    *,
    jobs: int = 1,
    timeout: float | None = None,
) -> Executor:
    """The executor the options ask for: ``scheduler`` (or ``$BUDGETOPT_SCHEDULER`` when none of
    ``scheduler``, ``workers`` and ``jobs`` > 1 is given) → the existing cluster; ``workers`` → a
    local cluster of that many workers; ``jobs`` > 1 → local processes; else in-process."""
    if scheduler is not None and workers is not None:
        raise ClusterError(
            "give either --workers (a local cluster) or --scheduler (an existing one), not both",
            field="--workers",
        )
    if scheduler is None and workers is None and not (jobs and jobs > 1):
        scheduler = os.environ.get(SCHEDULER_ENV, "").strip() or None
    if scheduler:
        return DaskExecutor.connect(scheduler, timeout=timeout)
    if workers is not None:
        return DaskExecutor.local(workers)
    if jobs and jobs > 1:
        return LocalProcesses(jobs)
    return InProcess()


@contextlib.contextmanager
def using(executor: Executor | None) -> Iterator[Executor]:
    """``executor``, or a fresh in-process one; closes only what it made itself."""
    if executor is not None:
        yield executor
        return
    with InProcess() as ex:
        yield ex
