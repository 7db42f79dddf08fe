"""The pooling weight's posterior, for draws that carry its uncertainty (``pool_draws``).

The MAP fit takes one pooling weight ``omega`` of the marginal ROIs, the evidence's maximum
(``joint.pooling_weight``), and its Laplace draws are conditional on it. Where the evidence peaks
at full pooling (``diagnostics.pooling.at_edge``; a low-information history that cannot tell the
touchpoints' marginal returns apart) every draw squeezes them onto one value, and the 80%
intervals held the truth for 22-32% of such worlds' touchpoints (docs/response-models-measured.md,
"The intervals' spread on fresh worlds"): a history that cannot tell the touchpoints apart cannot
show that they are alike either.

Here the same evidence (``joint.log_evidence``: the betas and the pooled value integrated out, the
transforms at the fit without pooling) on a grid of ``omega`` becomes a posterior, under a uniform
prior on the shrinkage factor ``B = (omega v)^2 / (1 + (omega v)^2)`` (``v``: the typical unpooled
posterior sd of ``mean spend * marginal ROI`` over the noise sd, ``joint.unpooled_spread``; the
prior of ``pool_evidence="shrinkage"``: proper, so no grid edge decides how much mass full pooling
gets). ``draw_omegas`` gives each Laplace draw its own ``omega`` from it (stratified: the inverse
of the posterior's distribution function at ``(b + 1/2) / n``, in an order drawn from the seed),
and ``mapfit.laplace_draws`` centres and spreads each draw by the Gaussian at its ``omega`` (the
transforms at the point curves', the betas re-solved): a mixture over the pooling weight.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from optimizer.response import joint as J

#: Which Laplace draw sets integrate over the pooling weight (``fit_model``'s ``pool_draws``):
#: none (each draw at the MAP's ``omega``), the intervals' draws only (model.json
#: ``interval_draws``; the plans' ``draws`` unchanged), or both sets.
POOL_DRAWS = ("none", "intervals", "all")
#: The grid: ``10^-3 .. 10^3`` over ``v`` (shrinkage 1e-6 .. 1 - 1e-6), 61 points.
GRID_DECADES, GRID_POINTS = 3.0, 61
#: Grid points whose posterior weight is below this share of the largest are dropped.
MIN_WEIGHT = 1e-6


def omega_posterior(
    p: J.Problem, theta: Sequence[np.ndarray]
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The pooling weight's posterior on a grid at transforms ``theta`` (``p`` without pooling,
    as ``joint.pooling_weight`` sees it): the grid and its normalised weights (empty where
    nothing is pooled or the evidence is flat)."""
    v = J.unpooled_spread(p, theta)
    if not v > 0 or not math.isfinite(v):
        return (), ()
    grid = np.logspace(-GRID_DECADES, GRID_DECADES, GRID_POINTS) / v
    ev = J.log_evidence(p, theta, grid)
    ok = np.isfinite(ev)
    if not ok.any() or np.ptp(ev[ok]) == 0:
        return (), ()
    B = (grid * v) ** 2 / (1.0 + (grid * v) ** 2)
    # uniform prior on B expressed per log omega (the grid's spacing): dB / d log omega = 2 B (1 - B)
    logw = np.where(ok, ev + np.log(np.maximum(B * (1.0 - B), 1e-300)), -np.inf)
    w = np.exp(logw - logw[ok].max())
    keep = w >= MIN_WEIGHT
    w = w[keep] / w[keep].sum()
    return tuple(float(g) for g in grid[keep]), tuple(float(x) for x in w)


def draw_omegas(
    grid: Sequence[float], weights: Sequence[float], n_draws: int, seed: int
) -> np.ndarray:
    """Each of ``n_draws`` draws' pooling weight from the posterior ``(grid, weights)``:
    stratified (the inverse distribution function at ``(b + 1/2) / n``), in an order drawn from
    ``seed`` (so any subset of the draws is a sample of the posterior): a pure function."""
    cum = np.cumsum(np.asarray(weights, dtype=float))
    cum /= cum[-1]
    u = (np.arange(n_draws) + 0.5) / n_draws
    idx = np.minimum(np.searchsorted(cum, u), len(cum) - 1)
    order = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(12,))).permutation(
        n_draws
    )
    return np.asarray(grid, dtype=float)[idx][order]


def summary(
    grid: Sequence[float], weights: Sequence[float], omega: float, n: int
) -> dict[str, float]:
    """model.json ``diagnostics.pooling.posterior``: the posterior's median and 10th / 90th
    percentiles of ``pool_marginal_equivalent`` (``omega^2 / n``, ``n`` the likelihood's weeks),
    and the posterior mass below the fit's own weight ``omega`` (how much of it pools less than
    the point curves do)."""
    g = np.asarray(grid, dtype=float)
    w = np.asarray(weights, dtype=float)
    cum = np.cumsum(w) / w.sum()

    def q(level: float) -> float:
        om = float(g[min(int(np.searchsorted(cum, level)), g.size - 1)])
        return om * om / n

    return {
        "pool_marginal_equivalent_p10": q(0.1),
        "pool_marginal_equivalent_median": q(0.5),
        "pool_marginal_equivalent_p90": q(0.9),
        "mass_below_fit": float(w[g < omega * (1.0 - 1e-9)].sum()),
    }
