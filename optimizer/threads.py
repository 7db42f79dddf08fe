"""One BLAS thread, wherever a task runs.

A BLAS library splits its sums differently over different numbers of threads, so the same refit
or solve can differ in its last bits between this process and a Dask worker (which runs one thread
by default). Tasks that must give the same bits everywhere run inside ``one_blas_thread()``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """Limit BLAS to one thread inside the block."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - scikit-learn brings threadpoolctl
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield
