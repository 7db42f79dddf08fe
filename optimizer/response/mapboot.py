"""The bootstrap of the MAP fit (``uncertainty="bootstrap"``, the default with lift tests): each
draw refits the MAP on a moving-block resample of the weeks, from the MAP's transforms and
families, the prior's centre and the lift tests' lifts perturbed ("randomise then optimise"); the
refits run in this process or as tasks of an executor, with the same result.

Each refit keeps the fit's pooling weight (the plans' ``draws``, unchanged). The bands and the
printed intervals read other sets (``BAND_SPREAD``, default "split_interval"): for the untested
touchpoints the Laplace sets at the MAP (lift-test rows included; ``mapfit``, ``drawsets.roi_set``
in the plans' coordinates for ``band_draws``, in the intervals' for ``interval_draws``), each draw
at its own pooling weight from the weight's posterior (``poolpost.draw_omegas``), spread by
``uncertainty_inflate``, as a fit without lift tests draws them; for the tested touchpoints,
where that Gaussian is poor, the refits: each refit's band draw has its betas re-solved at the
same draw's weight ("betas", ``BAND_REFIT``; or the whole refit repeated at it, "refit"). The
bands read them as drawn; the marginal-ROI interval reads them with the steady-state marginal
response at the mean spend moved ``uncertainty_inflate`` (k) times as far from the point curve's
in the log, each refit's own transforms kept and the factor on its beta cut to [1/k, k]
(``tested_sets``, ``spread`` "own_log"). As drawn ("split") they held the true marginal ROI for
73-92% of tested touchpoints on simulated worlds, spread so 87-98%. Moving the level with it
("split_log": the bands read the spread draws too) left the ROI's coverage within noise of the
refits' as drawn, lower on some sets. Moving the transforms too (``spread``, "inflate") covered
more but sent a transform to its bound and the curve's level to 99 times the point's on the
sample's history (reviewer S12 R2): the slope there vanished and the beta was the marginal
response over it; with the refit's transforms kept the beta is never more than k times the
refit's. The refits as drawn for every touchpoint ("none") gave bands that held the
truth for 64-77% of touchpoints on simulated worlds (docs/response-models-measured.md, "Lift-test
fits' bands: the Laplace sets for the untested touchpoints")."""

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

#: What the bands and intervals of a fit with lift tests read: "split_interval" (the Laplace sets
#: for the untested touchpoints; for the tested ones the refits, as drawn in the bands and with
#: their marginal response at the mean spend spread in the log, their transforms kept, in the
#: interval draws), "split_log" (spread so in the bands too), "split_own" (the same, spread
#: linearly), "split" (the tested refits as drawn in both), "inflate" (the refits spread in the transforms and the
#: marginal response, every touchpoint), "inflate_beta" (spread
#: in the betas), "inflate_mean" (spread about the refits' mean, in the betas), "laplace" (the
#: Laplace sets, every touchpoint), "none" (the refits as drawn: the bands before). Dev switches
#: of the measurement (``benchmarks/interval_coverage.py --band-spread``).
BAND_SPREAD = "split_interval"
BAND_SPREADS = (
    "split", "inflate", "inflate_beta", "none", "laplace", "inflate_mean", "split_own",
    "split_log", "split_interval",
)  # fmt: skip

#: Where each spread of the refits moves their step from the point curves x ``uncertainty_inflate``
#: (``spread``'s ``space``); the others do not spread the refits
SPREAD_SPACE = {"inflate": "marginal", "inflate_beta": "beta", "split_own": "own",
                "split_log": "own_log"}  # fmt: skip

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
    #: the band draws' step from the point curves x this (``BAND_SPREAD`` "inflate"; 1: the
    #: refit's own)
    band_inflate: float = 1.0
    #: where the step is moved (``spread``'s ``space``): "marginal" (the transforms and the
    #: marginal response at the mean spend), "beta", "own" / "own_log" (the marginal response
    #: only, the refit's own transforms kept)
    band_space: str = "marginal"


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
        rel_sd=fit.rel_sd,
    )
    p.scale = column_scale(p, fit.theta)
    sol = J.fit(p, fit.theta, max_nfev=60)
    draw = ([np.asarray(t) for t in sol.theta], sol.inner.w[: p.width])
    if not ctx.omegas:
        return draw, None
    q = replace(p, omega=float(ctx.omegas[b]))
    if q.omega == p.omega:
        band = draw
    elif ctx.band_refit == "refit":
        alt = J.fit(q, fit.theta, max_nfev=60)
        band = ([np.asarray(t) for t in alt.theta], alt.inner.w[: q.width])
    else:
        band = (draw[0], J.solve_inner(q, sol.theta).w[: q.width])
    if ctx.band_inflate == 1.0:
        return draw, band
    return draw, spread(fit, data, band, q.omega, ctx.band_inflate, ctx.band_space)


def spread(
    fit: MapFit, data: MapData, draw: Draw, omega: float, k: float, space: str = "marginal"
) -> Draw:
    """``draw`` (a refit at pooling weight ``omega``) moved ``k`` times as far from the point
    curves: ``centre + k (draw - centre)`` in every transform (cut to its bounds) and in each
    touchpoint's steady-state weekly marginal response at its mean spend, ``gamma = beta e(theta)``
    (``space`` "marginal"; the beta then ``gamma / e`` at the moved transforms, which blew up
    where a moved transform reached its bound and ``e`` vanished; "beta": in the beta), cut at
    0; or the draw's own transforms kept and only ``gamma`` moved (``space`` "own", "own_log":
    ``_spread_own``). The centre: the point curves' transforms with the betas solved at them on all weeks at
    ``omega``, where a Laplace draw at that weight is centred (``mapfit.laplace_draws``). Moved in
    the betas, the marginal response, a product of the beta and a slope the transforms set, came
    out biased low (measured: a tested touchpoint's median 2.9 against its point's 3.3)."""
    from optimizer.response.mapsetup import problem_at_map

    p, _ = problem_at_map(fit, data)
    p = replace(p, omega=float(omega))
    w0 = J.solve_inner(p, fit.theta).w[: p.width]
    wb = np.asarray(draw[1], dtype=float)
    if space in ("own", "own_log"):
        return [np.asarray(t) for t in draw[0]], _spread_own(
            p, fit, draw, w0, k, space == "own_log"
        )
    marginal = space == "marginal"
    w = np.maximum(w0 + k * (wb - w0), 0.0)
    th: list[np.ndarray] = []
    for j, (t0, t) in enumerate(zip(fit.theta, draw[0], strict=True)):
        lo, hi = J.bounds(p, j)
        t0 = np.asarray(t0, dtype=float)
        tk = np.clip(t0 + k * (np.asarray(t, dtype=float) - t0), lo, hi)
        th.append(tk)
        if not marginal:
            continue
        tp = p.tps[j]
        e0 = J._part(tp, t0)[2]
        eb = J._part(tp, np.asarray(t, dtype=float))[2]
        ek = J._part(tp, tk)[2]
        if e0 > 0 and eb > 0 and ek > 0:
            g = max(w0[j] * e0 + k * (wb[j] * eb - w0[j] * e0), 0.0)
            w[j] = g / ek
    return th, w


def _spread_own(
    p: J.Problem, fit: MapFit, draw: Draw, w0: np.ndarray, k: float, log: bool
) -> np.ndarray:
    """The betas of ``draw`` with each touchpoint's steady-state weekly marginal response at its
    mean spend, ``gamma = beta e(theta)``, moved ``k`` times as far from the point curves' (``w0``
    at ``fit.theta``), the draw's own transforms kept (so its slope ``e`` is the refit's, never a
    moved transform's): ``gamma0 + k (gamma - gamma0)`` cut at 0, or in the log (``log``),
    ``gamma0 (gamma / gamma0)^k``. The beta is the draw's times ``gamma_k / gamma``: at most
    ``k`` times the draw's (the log's factor cut to [1/k, k]), whatever the transforms."""
    wb = np.asarray(draw[1], dtype=float)
    w = wb.copy()
    for j, (t0, t) in enumerate(zip(fit.theta, draw[0], strict=True)):
        tp = p.tps[j]
        e0 = J._part(tp, np.asarray(t0, dtype=float))[2]
        eb = J._part(tp, np.asarray(t, dtype=float))[2]
        g0, gb = float(w0[j]) * e0, float(wb[j]) * eb
        if g0 <= 0 or gb <= 0:
            continue
        if log:  # the factor on the draw's own level cut to [1/k, k], as the linear one is
            gk = gb * min(max((gb / g0) ** (k - 1.0), 1.0 / k), k)
        else:
            gk = max(g0 + k * (gb - g0), 0.0)
        w[j] = wb[j] * gk / gb
    return w


def tested_sets(
    fit: MapFit, data: MapData, how: str, bands: Sequence[Any], omegas: Sequence[float], k: float
) -> tuple[Sequence[Draw], Sequence[Draw]]:
    """The tested touchpoints' draws for the bands' set and for the intervals' (``merge_tested``'s
    ``boot``): the refits' band draws (``bands``: (draws, families), empty: none; each at its
    pooling weight ``omegas``) for both, but under "split_interval" the intervals' spread x ``k``
    in the log of the marginal response, their transforms kept (``spread``, "own_log"), and the
    bands' as drawn."""
    boot: Sequence[Draw] = bands[0] if bands else []
    if how != "split_interval":
        return boot, boot
    return boot, [
        spread(fit, data, d, om, k, "own_log") for d, om in zip(boot, omegas, strict=True)
    ]


def merge_tested(
    laplace: Sequence[Draw], boot: Sequence[Draw], tested: Sequence[bool]
) -> list[Draw]:
    """Draw ``b`` of the Laplace set with every tested touchpoint's transforms and beta taken from
    the bootstrap's draw ``b`` (``BAND_SPREAD`` "split")."""
    out: list[Draw] = []
    for (th_l, w_l), (th_b, w_b) in zip(laplace, boot, strict=True):
        th = [np.asarray(th_b[j] if t else th_l[j]) for j, t in enumerate(tested)]
        w = np.array(w_l, dtype=float, copy=True)
        for j, t in enumerate(tested):
            if t:
                w[j] = float(w_b[j])
        out.append((th, w))
    return out


def spread_about_mean(fit: MapFit, data: MapData, draws: Sequence[Draw], k: float) -> list[Draw]:
    """``draws`` moved ``k`` times as far from their own mean (every transform and beta; cut to
    the bounds and betas >= 0): the bootstrap's spread inflated, its centre kept
    (``BAND_SPREAD`` "inflate_mean", a dev alternative)."""
    from optimizer.response.mapsetup import problem_at_map

    p, _ = problem_at_map(fit, data)
    n_tp = len(fit.theta)
    th_m = [np.mean([np.asarray(d[0][j], dtype=float) for d in draws], axis=0) for j in range(n_tp)]
    w_m = np.mean([np.asarray(d[1], dtype=float) for d in draws], axis=0)
    out: list[Draw] = []
    for th, w in draws:
        th_k = []
        for j in range(n_tp):
            lo, hi = J.bounds(p, j)
            th_k.append(np.clip(th_m[j] + k * (np.asarray(th[j], dtype=float) - th_m[j]), lo, hi))
        out.append((th_k, np.maximum(w_m + k * (np.asarray(w, dtype=float) - w_m), 0.0)))
    return out


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
