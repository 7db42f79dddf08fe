"""Moving-block bootstrap refits on the grid (each an independent, seeded task)."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from optimizer.response.calibration import (
    _Calibration,
)
from optimizer.response.design import (
    DECAY_GRID,
    RELATIVE_GRID,
    CurveShape,
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
    grid: tuple[CurveShape, ...]
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


#: One refit's result, with its index (``run_refits``).
_R = TypeVar("_R")


def _bootstrap_draws(
    ctx: _Bootstrap, draws: Sequence[int]
) -> list[tuple[int, tuple[np.ndarray, dict[int, int]]]]:
    """Several refits in one task (fewer, bigger tasks for a cluster), each still seeded by its
    own index."""
    with one_blas_thread():
        return [(b, _bootstrap_draw(ctx, b)) for b in draws]


def run_refits(
    task: Callable[[Sequence[int]], list[_R]],
    n: int,
    executor: Any,
    report: Callable[[str, int, int], None],
) -> list[_R]:
    """``task`` over the refit indices ``0..n-1`` (it takes a few indices and returns their
    results in that order): in this process one index at a time, or as tasks of ``executor`` of
    a few indices each (so a cluster ships the context fewer times); in index order either way,
    with ``report("bootstrap", done, n)`` as refits finish. The grid's and the MAP's bootstraps
    both run on it."""
    if n == 0:
        return []
    if executor is None or getattr(executor, "in_process", False):
        out: list[_R] = []
        for b in range(n):
            out.extend(task([b]))
            report("bootstrap", b + 1, n)
        return out
    n_tasks = max(1, min(n, 4 * max(1, int(getattr(executor, "workers", 1) or 1))))
    bounds = np.linspace(0, n, n_tasks + 1).astype(int)
    groups = [list(range(a, b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]
    finished = [0]

    def step(done: int, total: int, k: int) -> None:
        finished[0] += len(groups[k])
        report("bootstrap", finished[0], n)

    parts = executor.map(task, groups, progress=step)  # in input order (``Executor.map``)
    return [r for part in parts for r in part]


def refit_grid(
    d: Any,
    sr: Any,
    *,
    seed: int,
    n_bootstrap: int,
    block_weeks: int,
    bootstrap_search: bool,
    bootstrap_perturb: bool,
    shape_prior: float,
    pool_marginal: float,
    executor: Any,
    report: Callable[[str, int, int], None],
) -> Any:
    """The grid method's refits (``method="grid"``, the fitter before the MAP fit): with the grid
    search's shapes ``sr.choice``, betas by NNLS with a fixed ridge and a fixed pooling of the
    marginal ROIs (``pool_marginal``), on the training weeks (holdout errors) and on all weeks,
    and ``n_bootstrap`` moving-block bootstrap refits as the draws."""
    from optimizer.response.model import Adstock, Saturation
    from optimizer.response.report import Fitted, _mape, _nrmse

    X, Z, y, n, n_train, G = d.X, d.Z, d.y, d.n, d.n_train, d.G
    searched, grid, choice = d.searched, d.grid, sr.choice
    M = d.media(choice)
    mean_spend = X.mean(axis=0)
    mean_ads = {(i, dc): d.mean_ad(i, dc) for i in searched for dc in DECAY_GRID}
    pool = _pool_for(
        choice, searched, grid, mean_ads, mean_spend, float(pool_marginal), M.shape[1], d.tested
    )
    cal = d.cal
    cal_rows = None
    if cal is not None:
        # weights of the tests in the refits: the noise of the chosen shapes' fit on all weeks
        cal = cal.with_sigma(d.noise_sd(choice, np.arange(n)))
        cal_rows = (cal.matrix(choice, d.slots, M.shape[1]), cal.r)
    report("refit", 0, 2)
    mape_ho = nrmse_ho = None
    if d.holdout > 0:
        tr = np.arange(n_train)
        fr = _make_frame(Z[tr], y[tr], d.ridge, d.baseline_ridge)
        sol = _solve(fr, M[tr], Z[tr], pool, cal_rows, d.ridge_w)
        yhat = Z[n_train:] @ sol.base + M[n_train:] @ sol.beta
        mape_ho = _mape(y[n_train:], yhat)
        nrmse_ho = _nrmse(y[n_train:], yhat)
    report("refit", 1, 2)
    fr_all = _make_frame(Z, y, d.ridge, d.baseline_ridge)
    final = _solve(fr_all, M, Z, pool, cal_rows, d.ridge_w)
    report("refit", 2, 2)
    boot = _Bootstrap(
        seed=int(seed),
        n=n,
        block_weeks=int(block_weeks),
        ridge=float(d.ridge),
        baseline_ridge=float(d.baseline_ridge),
        Z=Z,
        y=y,
        M=M,
        G=G,
        order=tuple(sr.order),
        searched=tuple(searched),
        choice=dict(choice),
        cand_cols=d.cand_cols,
        grid=tuple(grid),
        index_of={(c.decay, c.family, c.rel, c.shape): k for k, c in enumerate(grid)},
        penalty=d.penalty,
        shape_prior=float(shape_prior),
        search=bool(bootstrap_search),
        perturb=bool(bootstrap_perturb),
        sigma=cal.sigma if cal is not None else d.noise_sd(choice, np.arange(n)),
        mean_ads=mean_ads,
        mean_spend=mean_spend,
        pool_marginal=float(pool_marginal),
        pool=pool,
        cal=cal,
        ridge_w=d.ridge_w,
        unpooled=d.tested,
    )
    draws_beta = np.zeros((n_bootstrap, M.shape[1]))
    draws_choice: list[dict[int, int]] = [{} for _ in range(n_bootstrap)]
    task = functools.partial(_bootstrap_draws, boot)
    for b, (beta_b, choice_b) in run_refits(task, n_bootstrap, executor, report):
        draws_beta[b] = beta_b
        draws_choice[b] = choice_b
    slot = d.slots
    curves: dict[int, tuple[Saturation, Adstock, dict[str, Any]]] = {}
    draws: dict[int, list[tuple[Saturation, Adstock]]] = {}
    edge: dict[int, list[str]] = {}
    for i in searched:
        cand = grid[choice[i]]
        mean_a = d.mean_ad(i, cand.decay)
        beta = float(final.beta[slot[i]])
        sat = Saturation(cand.family, {"beta": beta, **cand.params(mean_a)})
        curves[i] = (sat, Adstock(decay=cand.decay), {**cand.describe(), "mean_adstock": mean_a})
        draws[i] = []
        for b in range(n_bootstrap):
            bc = grid[draws_choice[b][i]]
            bb = float(draws_beta[b, slot[i]])
            draws[i].append(
                (
                    Saturation(bc.family, {"beta": bb, **bc.params(d.mean_ad(i, bc.decay))}),
                    Adstock(decay=bc.decay),
                )
            )
        w: list[str] = []
        if cand.decay == DECAY_GRID[-1]:
            w.append(f"adstock decay at the top of the searched range ({DECAY_GRID[-1]})")
        if cand.rel in (RELATIVE_GRID[0], RELATIVE_GRID[-1]) and beta > 0:
            w.append(
                "curve scale at the edge of the searched range "
                f"({cand.rel:g} x the mean adstocked spend)"
            )
        edge[i] = w
    return Fitted(
        curves=curves,
        draws=draws,
        group_coef=final.beta[len(searched) :],
        base=final.base,
        yfit=Z @ final.base + M @ final.beta,
        mape=mape_ho,
        nrmse=nrmse_ho,
        method=(
            "nnls-ridge with pooled marginal ROIs; coordinate-descent search with "
            "TimeSeriesSplit and a weak shape prior; block bootstrap"
        ),
        cv_rmse=math.sqrt(sr.cv_sse / (sr.n_splits * sr.test_size)) if sr.order else None,
        pooled=final.pooled,
        noise_sd=cal.sigma if cal is not None else None,
        edge_warnings=edge,
        options={
            "block_weeks": block_weeks,
            "bootstrap_search": bool(bootstrap_search),
            "bootstrap_perturb": bool(bootstrap_perturb),
            "pool_marginal": float(pool_marginal),
        },
    )
