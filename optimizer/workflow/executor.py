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
  or ``$BUDGETOPT_SCHEDULER``); an address that is not one (``http://…``, ``tls://…`` without
  Dask's TLS settings, a missing port) is a ``ClusterError`` at once, and an unreachable
  scheduler is one naming the address within ``connect_timeout`` seconds.

The client of an existing scheduler is never made the process's default Dask client, so nothing
here may rely on one: every Dask call goes through ``self.client`` (or its event loop).

On Dask a task on a worker that dies is given to another worker (the scheduler's
``allowed-failures``, 3 by default); a task that raises is retried ``retries`` times (then its
error is raised here). While tasks are pending the executor watches the cluster: a scheduler
without a single worker for ``worker_timeout`` seconds (all of them lost, or none ever started),
or a scheduler that stops answering, ends the run with a ``ClusterError`` rather than a wait
without end. Dask is imported only when a Dask executor is asked for, so the core package runs
without it (``pip install 'budgetopt[dask]'``).
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
#: the environment variable overriding how long a run waits while the cluster has no worker
WORKER_TIMEOUT_ENV = "BUDGETOPT_WORKER_TIMEOUT"
#: seconds a run waits while its scheduler has no worker (a nanny restarts a lost worker in a few
#: seconds; an adaptive cluster may take longer to start its first), before giving up
DEFAULT_WORKER_TIMEOUT = 60.0
#: seconds between two looks at the cluster while tasks are pending
_WATCH_EVERY = 1.0
#: the client's waits between looks at unfinished tasks (a fixed 0.02 s cost the client
#: 0.03 CPU-s per second of a long fit; the workers never wait on it: all tasks are submitted)
_NAP_MIN, _NAP_MAX = 0.02, 0.25

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

    def preload(self, *modules: str) -> None:
        """Start importing ``modules`` wherever the tasks will run, without waiting, so that the
        imports overlap what this process does before it maps (nothing here or in forked
        processes, which inherit this process's modules)."""

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


def _import_modules(names: list[str]) -> None:
    import importlib

    for name in names:
        importlib.import_module(name)


async def _preload_modules(names: list[str]) -> None:
    """Import ``names`` on a worker ahead of its first task, in a thread of its own: the worker's
    event loop keeps answering meanwhile, and a task that needs a module while it is being
    imported waits for that import (Python's import lock) rather than starting another."""
    import asyncio

    await asyncio.to_thread(_import_modules, names)


def _require_distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise ClusterError(
            "running on a Dask cluster needs Dask's distributed scheduler: "
            "install budgetopt[dask] (pip install 'budgetopt[dask]')"
        ) from None
    return distributed


class _Watch:
    """Watches a Dask run's cluster while it waits on tasks: ``check`` raises a ``ClusterError``
    when the scheduler has had no worker for ``worker_timeout`` seconds or stopped answering."""

    def __init__(self, ex: DaskExecutor, total: int) -> None:
        self.ex, self.total = ex, total
        self.seen_workers = False
        self.short_since: float | None = None  # when the cluster was last seen without a worker
        self.next_look = 0.0

    def check(self, left: int) -> None:
        """A look at the cluster, at most every ``_WATCH_EVERY`` seconds; ``left``: the tasks
        unfinished, for the message."""
        now = time.monotonic()
        if now < self.next_look:
            return
        n = self.ex._live_workers()
        self.next_look = time.monotonic() + _WATCH_EVERY
        if n:
            self.seen_workers, self.short_since = True, None
        elif self.short_since is None:
            self.short_since = now
        elif now - self.short_since >= self.ex.worker_timeout:
            raise ClusterError(
                self.ex._stalled(n, self.seen_workers, now - self.short_since, left, self.total)
            )


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
        worker_timeout: float = DEFAULT_WORKER_TIMEOUT,
    ) -> None:
        self.client = client
        self.cluster = cluster
        self.retries = int(retries)
        self.name = name
        self.worker_timeout = float(worker_timeout)

    @classmethod
    def local(
        cls, n_workers: int, *, retries: int = DEFAULT_RETRIES, profile: bool = False
    ) -> DaskExecutor:
        """A LocalCluster of ``n_workers`` single-threaded worker processes on 127.0.0.1 (no
        dashboard), closed with the executor.

        The workers' C library keeps its own way of returning memory: Dask's nannies start
        their workers with ``MALLOC_TRIM_THRESHOLD_=65536`` (``distributed.nanny.
        pre-spawn-environ``), which also stops glibc from raising its mmap threshold, so every
        array over 128 KiB is mapped and unmapped afresh; market fits then cost 38–45% more
        CPU (16 times the page faults), measured (docs/scale-out.md). A cluster that lives for one run
        has no use for the trimming. Without ``profile`` the workers' statistical profiler
        (100 stack samples a second on each worker's event loop) is off too; a performance
        report (``performance_report``) needs it on."""
        distributed = _require_distributed()
        import dask

        # Dask's other pre-spawn settings kept (one OpenMP/BLAS thread a worker)
        environ = {
            k: v
            for k, v in (dask.config.get("distributed.nanny.pre-spawn-environ") or {}).items()
            if k != "MALLOC_TRIM_THRESHOLD_"
        }

        n = int(n_workers)
        if n < 1:
            raise ClusterError(f"expected at least one worker, got {n}", field="--workers")
        # the silence_logs level keeps the workers' own log lines off the user's terminal (a
        # restart; a heartbeat that finds the scheduler gone while the cluster closes, which logs
        # an ERROR with a traceback): what they mean for the run is reported as one ClusterError,
        # as dask_logs.quiet_dask_logs does on the client's side; BUDGETOPT_DEBUG keeps the errors
        import logging

        silence = logging.ERROR if os.environ.get("BUDGETOPT_DEBUG") else logging.CRITICAL

        # each worker's nanny copies these settings as they are now (and hands them to a worker
        # it restarts): they hold for the cluster's life and nowhere else
        with dask.config.set(
            {
                "distributed.worker.profile.enabled": bool(profile),
                "distributed.nanny.pre-spawn-environ": environ,
            }
        ):
            # no dashboard; the scheduler's own HTTP routes (health, metrics) on a free port
            # rather than 8787, which another cluster on this machine may hold
            cluster = distributed.LocalCluster(
                n_workers=n,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
                silence_logs=silence,
                scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
            )
        try:
            # not the process's default client either, so that the tests on a local cluster
            # would see anything that relies on one (as an existing scheduler's client is not)
            client = distributed.Client(cluster, set_as_default=False)
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
        cls,
        address: str,
        *,
        timeout: float | None = None,
        retries: int = DEFAULT_RETRIES,
        worker_timeout: float | None = None,
    ) -> DaskExecutor:
        """A client of the existing scheduler at ``address`` (``tcp://host:8786``; ``host:port``
        means ``tcp://host:port``, as for Dask). A ``ClusterError`` naming it, without a
        traceback, when it is not a scheduler address (at once) or cannot be reached within
        ``timeout`` seconds (default ``$BUDGETOPT_SCHEDULER_TIMEOUT`` or 5). The client is not
        made the process's default client."""
        address = scheduler_address(address)  # before anything is imported or contacted
        distributed = _require_distributed()
        if timeout is None:
            timeout = connect_timeout()
        if worker_timeout is None:
            worker_timeout = worker_wait()
        t0 = time.perf_counter()
        _probe(address, timeout)
        try:
            client = distributed.Client(address, timeout=timeout, set_as_default=False)
        except (OSError, TimeoutError) as e:
            waited = time.perf_counter() - t0
            raise ClusterError(
                f"cannot reach the Dask scheduler at {address} (gave up after {waited:.1f} s: "
                f"{_reason(e)}); {_start_hint(address)}",
                field="--scheduler",
            ) from None
        except (ValueError, TypeError) as e:  # an address or TLS setting Dask does not take
            raise ClusterError(
                f"cannot connect to the Dask scheduler at {address}: {_reason(e)}",
                field="--scheduler",
            ) from None
        return cls(
            client,
            None,
            retries=retries,
            name=f"the Dask scheduler at {address}",
            worker_timeout=worker_timeout,
        )

    @property
    def workers(self) -> int:
        """The number of workers the scheduler has now."""
        return int(self.client.scheduler_info(n_workers=0).get("n_workers", 0))

    @property
    def address(self) -> str:
        return str(self.client.scheduler.address)

    def preload(self, *modules: str) -> None:
        """Start importing ``modules`` on every worker now (a worker otherwise imports what a
        task needs when its first task arrives: seconds for the fitter), without waiting: the
        imports run while this process reads its inputs. A failure is left to the tasks."""
        if modules:
            with contextlib.suppress(Exception):
                self.client.run(_preload_modules, list(modules), wait=False)

    @contextlib.contextmanager
    def performance_report(self, path: Any) -> Iterator[None]:
        """Dask's performance report of what runs inside the block (task stream, the workers'
        and the scheduler's profiles), written to the HTML file ``path``; needs ``bokeh``, and
        workers whose profiler is on (``local(..., profile=True)``; ``dask worker`` has it on
        by default)."""
        distributed = _require_distributed()
        try:
            import bokeh  # noqa: F401
        except ImportError:
            raise ClusterError(
                "a Dask performance report needs bokeh: pip install 'dask[diagnostics]'",
                field="--performance-report",
            ) from None
        with self.client.as_current(), distributed.performance_report(filename=str(path)):
            yield

    def _live_workers(self) -> int | None:
        """The scheduler's number of workers, or None when it does not answer within a few
        seconds (or the client has lost it)."""
        if self.client.status not in ("running", "connecting"):
            return None
        try:
            info = self.client.sync(self.client.scheduler.identity, n_workers=0, callback_timeout=5)
        except Exception:
            return None
        return int(info.get("n_workers", 0))

    def _completed(self, futures: list[Any], watch: _Watch) -> Iterator[Any]:
        """``futures`` as they complete (through this executor's client, never a default one),
        watching the cluster meanwhile (``watch``)."""
        distributed = _require_distributed()
        pending = distributed.as_completed(futures, loop=self.client.loop)
        nap = _NAP_MIN  # the wait between looks: doubles while nothing finishes, up to _NAP_MAX
        while not pending.is_empty():
            batch = pending.next_batch(block=False)
            if batch:
                nap = _NAP_MIN
                yield from batch
                continue
            watch.check(pending.count())
            time.sleep(nap)
            nap = min(2.0 * nap, _NAP_MAX)

    def _result(self, future: Any, watch: _Watch, left: int) -> Any:
        """A finished future's result (or a collection of futures' results, as ``gather``
        returns them), fetched while the cluster is watched: a worker lost after it finished the
        task and before its result was fetched takes the result with it, the scheduler gives the
        task back to be run again, and a plain fetch would then wait without end on a cluster
        with no worker (a sweep hung after its worker was killed).

        The fetch is started once and polled: a timeout on the fetch itself
        (``future.result(timeout=...)``) cancels it, so a result that takes longer than a look
        at the cluster to move was fetched again and again, and could never arrive."""
        import asyncio
        import concurrent.futures

        fetch = asyncio.run_coroutine_threadsafe(
            self.client.gather(future, asynchronous=True), self.client.loop.asyncio_loop
        )
        try:
            while True:
                try:
                    return fetch.result(timeout=_WATCH_EVERY)
                except concurrent.futures.TimeoutError:
                    watch.check(left)
        except BaseException:
            fetch.cancel()
            raise

    def _stalled(self, n: int | None, seen: bool, waited: float, left: int, total: int) -> str:
        address = self.describe()
        where = f"{left} of {total} task{'s' if total != 1 else ''} unfinished"
        if n is None:
            return (
                f"lost {address}: it has not answered for {waited:.0f} s ({where}); "
                "check that the scheduler is still running"
            )
        hint = (
            f"set {WORKER_TIMEOUT_ENV} to wait longer (now {self.worker_timeout:g} s)"
            if self.cluster is not None
            else f"{_worker_hint(self.address)}, or set {WORKER_TIMEOUT_ENV} to wait longer "
            f"(now {self.worker_timeout:g} s)"
        )
        if seen:
            return (
                f"{address} lost all its workers and none came back within {waited:.0f} s "
                f"({where}); {hint}"
            )
        return f"{address} has no workers (waited {waited:.0f} s, {where}); {hint}"

    def get(self, dsk: Any, keys: Any, **kwargs: Any) -> Any:
        """A Dask scheduler function (``dask.compute(..., scheduler=ex.get)``): the graph runs on
        this executor's cluster, watched as ``map``'s tasks are."""
        distributed = _require_distributed()
        futures = self.client.get(dsk, keys, sync=False, **kwargs)
        flat = distributed.client.futures_of(futures)
        watch = _Watch(self, len(flat))
        try:
            for _ in self._completed(flat, watch):
                pass
            # fetched once, watched (``_result``), in the graph's own structure
            return self._result(futures, watch, len(flat))
        except BaseException:
            self.client.cancel(flat)
            raise

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
        watch = _Watch(self, len(futures))
        try:
            for fetched, fut in enumerate(self._completed(futures, watch)):
                ks = index[fut.key]
                try:
                    results = self._result(fut, watch, len(futures) - fetched)
                except BudgetOptError:
                    raise
                except distributed.client.FutureCancelledError as e:
                    left = len(items) - done
                    if "connection-lost" in str(e) or self.client.status != "running":
                        raise ClusterError(
                            f"lost the connection to {self.describe()} ({left} of {len(items)} "
                            "tasks unfinished); check that the scheduler is still running"
                        ) from None
                    raise ClusterError(
                        f"the cluster dropped task {ks[0] + 1} of {len(items)} ({_reason(e)})"
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
            self.client.close(timeout=5)
        if self.cluster is not None:
            with contextlib.suppress(Exception):
                self.cluster.close()


def _start_hint(address: str) -> str:
    return (
        f"start one with 'dask scheduler' and workers with 'dask worker {address}', "
        "or check the address"
    )


def _worker_hint(address: str) -> str:
    return f"start workers with 'dask worker {address}'"


#: the schemes a scheduler address may have here
_SCHEMES = ("tcp", "tls")


def scheduler_address(raw: str) -> str:
    """``raw`` as a scheduler address Dask can connect to (``host:port`` → ``tcp://host:port``),
    or a ``ClusterError`` saying why it is not one, without contacting anything.

    ``tcp://`` is what ``dask scheduler`` listens on. ``tls://`` needs Dask's own TLS settings
    (a CA file and the client's certificate in the Dask config); any other scheme (an
    ``http://`` dashboard address, ``inproc://``, ``ucx://``, ``ws://``) is refused here.
    """
    from urllib.parse import urlsplit

    address = str(raw).strip()
    example = "like tcp://host:8786"
    if not address:
        raise ClusterError(f"expected a scheduler address {example}, got ''", field="--scheduler")
    if "://" not in address:
        address = f"tcp://{address}"
    scheme = address.split("://", 1)[0].lower()
    if scheme not in _SCHEMES:
        dashboard = (
            " (an http:// address is the Dask dashboard's; the scheduler's own address is "
            "printed by 'dask scheduler' as 'Scheduler at: tcp://…')"
            if scheme in ("http", "https")
            else ""
        )
        raise ClusterError(
            f"{raw.strip()!r} is not a Dask scheduler address: expected one {example} "
            f"(or tls:// with Dask's TLS settings){dashboard}",
            field="--scheduler",
        )
    try:
        parts = urlsplit(address)
        host, port = parts.hostname, parts.port
        rest = parts.path or parts.query or parts.fragment
    except ValueError:
        host = port = None
        rest = ""
    if not host or not port or rest:
        raise ClusterError(
            f"{raw.strip()!r} is not a scheduler address {example} (a host and a port)",
            field="--scheduler",
        )
    if scheme == "tls":
        _require_tls_settings(raw.strip())
    return address


def _require_tls_settings(address: str) -> None:
    """A ``tls://`` scheduler needs Dask's TLS settings; without them Dask would fail inside."""
    import dask

    ca = dask.config.get("distributed.comm.tls.ca-file", None)
    cert = dask.config.get("distributed.comm.tls.client.cert", None)
    if not ca or not cert:
        raise ClusterError(
            f"{address!r} is a TLS scheduler, and Dask's TLS settings are not set: give the "
            "CA file and the client's certificate (and key) in the Dask config "
            "(distributed.comm.tls.ca-file, distributed.comm.tls.client.cert and .key, e.g. "
            "DASK_DISTRIBUTED__COMM__TLS__CA_FILE=…), or use the scheduler's tcp:// address",
            field="--scheduler",
        )


def _reason(e: BaseException) -> str:
    text = str(e).strip() or type(e).__name__
    return text.splitlines()[0]


def _probe(address: str, timeout: float) -> None:
    """Check that a Dask scheduler answers at a ``tcp://`` address before a ``Client`` is made.

    A Dask server speaks first: on accepting a connection it sends its handshake, a frame whose
    first 8 bytes are a small count. Anything else that accepts TCP connections (a proxy, a web
    server) stays silent or answers with text, and a ``Client`` would read that text as frame
    sizes (asking for exabytes). At a ``tls://`` address only the connection is checked (there
    the client speaks first), the handshake being left to Dask.
    """
    import socket
    import struct
    from urllib.parse import urlsplit

    parts = urlsplit(address)  # checked by scheduler_address
    host, port = parts.hostname, parts.port
    t0 = time.perf_counter()
    hint = _start_hint(address)
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
    if address.startswith("tls://"):  # the client speaks first in TLS: reachable is all we know
        sock.close()
        return
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
    if not (value > 0 and value < float("inf")):
        raise ClusterError(f"expected a positive number of seconds, got {raw!r}", field=TIMEOUT_ENV)
    return value


def worker_wait() -> float:
    """Seconds a run waits while its cluster has no worker (``$BUDGETOPT_WORKER_TIMEOUT``)."""
    raw = os.environ.get(WORKER_TIMEOUT_ENV)
    if not raw:
        return DEFAULT_WORKER_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        raise ClusterError(
            f"expected a number of seconds, got {raw!r}", field=WORKER_TIMEOUT_ENV
        ) from None
    if not (value > 0 and value < float("inf")):
        raise ClusterError(
            f"expected a positive number of seconds, got {raw!r}", field=WORKER_TIMEOUT_ENV
        )
    return value


def executor_from(
    workers: int | None = None,
    scheduler: str | None = None,
    *,
    jobs: int = 1,
    timeout: float | None = None,
    profile: bool = False,
) -> Executor:
    """The executor the options ask for: ``scheduler`` (or ``$BUDGETOPT_SCHEDULER`` when none of
    ``scheduler``, ``workers`` and ``jobs`` > 1 is given) → the existing cluster; ``workers`` → a
    local cluster of that many workers; ``jobs`` > 1 → local processes; else in-process."""
    if scheduler is not None and workers is not None:
        raise ClusterError(
            "give either --workers (a local cluster) or --scheduler (an existing one), not both",
            field="--workers",
        )
    from_env = False
    if scheduler is None and workers is None and not (jobs and jobs > 1):
        scheduler = os.environ.get(SCHEDULER_ENV, "").strip() or None
        from_env = scheduler is not None
    if scheduler is not None:
        try:
            return DaskExecutor.connect(scheduler, timeout=timeout)
        except ClusterError as e:
            if not (from_env and e.field == "--scheduler"):
                raise
            raise ClusterError(
                str(e).removeprefix("field '--scheduler': "), field=SCHEDULER_ENV
            ) from None
    if workers is not None:
        return DaskExecutor.local(workers, profile=profile)
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
