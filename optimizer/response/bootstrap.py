"""Moving-block bootstrap refits on the grid (each an independent, seeded task)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from optimizer.response.calibration import (
    _Calibration,
)
from optimizer.response.design import (
    _Cand,
    _prior_penalty,
)
from optimizer.response.search import (
    _research,
)
from optimizer.response.solve import (
    _make_frame,
    _Pool,
    _pool_for,
    _solve,
)
from optimizer.threads import one_blas_thread


def _block_bootstrap(n: int, block: int, rng: np.random.Generator) -> np.ndarray:
    block = max(1, min(block, n))
    n_blocks = -(-n // block)
    starts = rng.integers(0, n - block + 1, size=n_blocks)
    return (starts[:, None] + np.arange(block)[None, :]).ravel()[:n]


@dataclass(frozen=True)
class _Bootstrap:
    """Everything one bootstrap refit needs (shipped once to an executor's workers)."""

    seed: int
    n: int
    block_weeks: int
    ridge: float
    baseline_ridge: float
    Z: np.ndarray
    y: np.ndarray
    M: np.ndarray
    G: np.ndarray
    order: tuple[int, ...]
    searched: tuple[int, ...]
    choice: dict[int, int]
    cand_cols: dict[int, np.ndarray]
    grid: tuple[_Cand, ...]
    index_of: dict[tuple[str | float, ...], int]
    penalty: np.ndarray
    shape_prior: float
    search: bool
    perturb: bool
    sigma: float
    mean_ads: dict[tuple[int, float], float]
    mean_spend: np.ndarray
    pool_marginal: float
    pool: _Pool
    cal: _Calibration | None = None
    ridge_w: np.ndarray | None = None
    unpooled: tuple[int, ...] = ()


def _bootstrap_draw(ctx: _Bootstrap, b: int) -> tuple[np.ndarray, dict[int, int]]:
    """Bootstrap refit ``b``: betas and shapes on a moving-block resample of the weeks drawn from
    ``SeedSequence(seed, spawn_key=(b,))``, a pure function of ``ctx`` and ``b``."""
    rng = np.random.default_rng(np.random.SeedSequence(ctx.seed, spawn_key=(b,)))
    rows = _block_bootstrap(ctx.n, ctx.block_weeks, rng)
    Z, y, M = ctx.Z, ctx.y, ctx.M
    frb = _make_frame(Z[rows], y[rows], ctx.ridge, ctx.baseline_ridge)
    bchoice = dict(ctx.choice)
    if ctx.search and ctx.order:
        oob = np.setdiff1d(np.arange(ctx.n), rows)
        bchoice = _research(
            frb,
            rows,
            oob,
            Z,
            y,
            M,
            list(ctx.order),
            {i: k for k, i in enumerate(ctx.searched)},
            ctx.choice,
            ctx.cand_cols,
            list(ctx.grid),
            ctx.index_of,
            # randomise then optimise, for the shape prior too: its centre moves by one draw of
            # its own sds (log relative scale, decay, hill shape)
            (_prior_penalty(ctx.grid, rng.standard_normal(3)) if ctx.perturb else ctx.penalty),
            ctx.shape_prior,
            ctx.cal,
            ctx.ridge_w,
        )
        Mb = np.hstack(
            [np.column_stack([ctx.cand_cols[i][:, bchoice[i]] for i in ctx.searched]), ctx.G]
        )
    else:
        Mb = M
    bpool = (
        _pool_for(
            bchoice,
            ctx.searched,
            ctx.grid,
            ctx.mean_ads,
            ctx.mean_spend,
            ctx.pool_marginal,
            M.shape[1],
            ctx.unpooled,
        )
        if bchoice != ctx.choice
        else ctx.pool
    )
    # the lift tests are independent evidence: every draw keeps them all
    bcal = (
        (ctx.cal.matrix(bchoice, {i: k for k, i in enumerate(ctx.searched)}, M.shape[1]), ctx.cal.r)
        if ctx.cal is not None and ctx.cal.n
        else None
    )
    jitter = (rng, ctx.sigma) if ctx.perturb and ctx.sigma > 0 else None
    return _solve(frb, Mb[rows], Z[rows], bpool, bcal, ctx.ridge_w, jitter).beta, bchoice


def _bootstrap_draws(
    ctx: _Bootstrap, draws: Sequence[int]
) -> list[tuple[int, tuple[np.ndarray, dict[int, int]]]]:
    """Several refits in one task (fewer, bigger tasks for a cluster), each still seeded by its
    own index."""
    with one_blas_thread():
        return [(b, _bootstrap_draw(ctx, b)) for b in draws]


def _run_draws(
    ctx: _Bootstrap, n_bootstrap: int, executor: Any, report: Callable[[str, int, int], None]
) -> list[tuple[int, tuple[np.ndarray, dict[int, int]]]]:
    """The ``n_bootstrap`` refits, in this process or as tasks of ``executor`` (a few refits per
    task on a cluster, so the context is shipped fewer times), in index order."""
    if n_bootstrap == 0:
        return []
    if executor is None or getattr(executor, "in_process", False):
        out = []
        for b in range(n_bootstrap):
            out.extend(_bootstrap_draws(ctx, [b]))
            report("bootstrap", b + 1, n_bootstrap)
        return out
    n_tasks = max(1, min(n_bootstrap, 4 * max(1, int(getattr(executor, "workers", 1) or 1))))
    bounds = np.linspace(0, n_bootstrap, n_tasks + 1).astype(int)
    groups = [list(range(a, b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]
    finished = [0]

    def step(done: int, total: int, k: int) -> None:
        finished[0] += len(groups[k])
        report("bootstrap", finished[0], n_bootstrap)

    parts = executor.map(functools.partial(_bootstrap_draws, ctx), groups, progress=step)
    return [r for part in parts for r in part]
