"""Dask's log lines kept off the terminal (the CLI's): what they mean for a run is reported as one
``ClusterError`` (``optimizer.workflow.executor``)."""

from __future__ import annotations

import logging
import os
from typing import Any


def quiet_dask_logs() -> None:
    """Keep Dask's own log lines (a lost connection, a worker restarting) off the terminal unless
    ``BUDGETOPT_DEBUG`` is set: what they mean for the run is reported as one ``ClusterError``.
    For the CLI; a library user keeps Dask's logging as configured."""
    if os.environ.get("BUDGETOPT_DEBUG"):
        return
    # Dask's config sets some loggers' levels itself (distributed.client among them): each one
    names = [n for n in logging.root.manager.loggerDict if n.split(".")[0] == "distributed"]
    for name in ["distributed", *names]:
        logging.getLogger(name).setLevel(logging.CRITICAL)
    # a fetch cut short by a lost worker leaves Dask's own task failed with ``AllExit``, which
    # asyncio logs as "Task exception was never retrieved" with a traceback when the task is
    # collected (after the ClusterError that says what it meant): Dask's exceptions are dropped
    # from asyncio's log, anything else it logs stays
    asyncio_log = logging.getLogger("asyncio")
    if not any(isinstance(f, _DaskTaskFilter) for f in asyncio_log.filters):
        asyncio_log.addFilter(_DaskTaskFilter())


class _DaskTaskFilter:
    """Drops asyncio's log records about an exception raised by Dask (``distributed``)."""

    def filter(self, record: Any) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is None:  # asyncio may pass it in the record's message arguments instead
            exc = next((a for a in (record.args or ()) if isinstance(a, BaseException)), None)
        return exc is None or not type(exc).__module__.startswith("distributed")
