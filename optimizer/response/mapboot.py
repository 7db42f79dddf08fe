"""The bootstrap of the MAP fit (``uncertainty="bootstrap"``, the default with lift tests): each
draw refits the MAP on a moving-block resample of the weeks, from the MAP's transforms and
families, the prior's centre and the lift tests' lifts perturbed ("randomise then optimise"); the
refits run in this process or as tasks of an executor, with the same result.

Each refit keeps the fit's pooling weight (the plans' ``draws``). With ``omegas`` (each refit's
own weight from the weight's posterior, ``poolpost.draw_omegas``) each refit also gives a draw for
the bands and intervals (model.json ``band_draws``): the same resample and perturbations, the
betas re-solved at its own weight ("betas", ``BAND_REFIT``) or the whole refit repeated at it
("refit")."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from optimizer.response import joint as J
from optimizer.response.mapsetup import MapData, column_scale

if TYPE_CHECKING:
    from optimizer.response.mapfit import MapFit


#: How a refit's band draw takes its own pooling weight: the refit's transforms with the betas
#: re-solved at it ("betas"), or the refit repeated at it ("refit")
BAND_REFIT = "betas"

#: One draw: the transforms of every searched touchpoint and the betas.
Draw = tuple[list[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class MapBootstrap:
    """What one bootstrap refit of the MAP fit needs (shipped once to an executor's workers)."""

    fit: MapFit
    data: MapData
    seed: int
    block_weeks: int
    perturb: bool = True
    #: each refit's own pooling weight for its band draw (empty: none)
    omegas: tuple[float, ...] = ()
    band_refit: str = "betas"  # ``BAND_REFIT``


def map_bootstrap_draw(ctx: MapBootstrap, b: int) -> Draw:
    """Refit ``b`` of the MAP fit on a moving-block resample of the weeks drawn from
    ``SeedSequence(seed, spawn_key=(b,))``, from the MAP's transforms and families with its
    pooling weight and carry-in, the prior's centre and the lift tests' measured lifts perturbed
    by a draw of their own sds ("randomise then optimise"): a pure function of ``ctx`` and ``b``."""
    return map_bootstrap_pair(ctx, b)[0]


def map_bootstrap_pair(ctx: MapBootstrap, b: int) -> tuple[Draw, Draw | None]:
    """Refit ``b`` (``map_bootstrap_draw``) and, with ``ctx.omegas``, its band draw at weight
    ``omegas[b]`` (else None): a pure function of ``ctx`` and ``b``."""
    from optimizer.response.bootstrap import _block_bootstrap

    rng = np.random.default_rng(np.random.SeedSequence(ctx.seed, spawn_key=(b,)))
    data = ctx.data
    rows = _block_bootstrap(data.y.size, ctx.block_weeks, rng)
    fr = data.frame(rows)
    fit = ctx.fit
    tps = [
        J.Tp(
            x,
            f,
            bool(pl),
            tuple(
                (x1, lift + (se * float(rng.standard_normal()) if ctx.perturb else 0.0), se)
                for x1, lift, se in ts
            ),
            c,  # the MAP's carry-in from before the history (``startup``): the refits keep it
        )
        for x, f, pl, ts, c in zip(
            data.xs,
            fit.families,
            data.pooled,
            data.tests,
            fit.carry or (0.0,) * len(data.xs),
            strict=True,
        )
    ]
    nt = sum(tp.k for tp in tps)
    p = J.Problem(
        tps,
        rows,
        fr,
        data.G,
        fit.sigma,
        fit.omega,
        data.prior_weight,
        data.s_curves,
        prior_shift=rng.standard_normal(nt) if ctx.perturb else np.zeros(0),
        rel_centre=fit.prior_centre,
        decay_sd=np.array(fit.decay_sd, dtype=float),
        decay_mu=np.array(fit.decay_mu, dtype=float),
    )
    p.scale = column_scale(p, fit.theta)
    sol = J.fit(p, fit.theta, max_nfev=60)
    draw = ([np.asarray(t) for t in sol.theta], sol.inner.w[: p.width])
    if not ctx.omegas:
        return draw, None
    q = replace(p, omega=float(ctx.omegas[b]))
    if q.omega == p.omega:
        return draw, draw
    if ctx.band_refit == "refit":
        alt = J.fit(q, fit.theta, max_nfev=60)
        return draw, ([np.asarray(t) for t in alt.theta], alt.inner.w[: q.width])
    return draw, (draw[0], J.solve_inner(q, sol.theta).w[: q.width])


def _map_bootstrap_draws(
    ctx: MapBootstrap, draws: Sequence[int]
) -> list[tuple[int, tuple[Draw, Draw | None]]]:
    from optimizer.threads import one_blas_thread

    with one_blas_thread():
        return [(b, map_bootstrap_pair(ctx, b)) for b in draws]


def run_map_bootstrap(
    ctx: MapBootstrap, n_draws: int, executor: Any, report: Callable[[str, int, int], None]
) -> list[tuple[Draw, Draw | None]]:
    """The ``n_draws`` refits, in this process or as tasks of ``executor`` (same result): each
    refit's plan draw and its band draw (None without ``ctx.omegas``)."""
    import functools

    from optimizer.response.bootstrap import run_refits

    task = functools.partial(_map_bootstrap_draws, ctx)
    return [r for _, r in run_refits(task, n_draws, executor, report)]
