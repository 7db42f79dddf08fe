"""The point curves for planning (``fit_model(point="mean")``, the default): each touchpoint's
curve of its family closest to the posterior mean of its steady-state response over Laplace draws
around the MAP (``posterior_mean_point``), rather than the MAP's own curve."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from optimizer.response import joint as J
from optimizer.response.mapsetup import MapData, base_coefs

if TYPE_CHECKING:
    from optimizer.response.mapfit import MapFit

#: Draws (from a fixed seed, so the curves never depend on ``seed``) averaged into the point
#: curves of ``point="mean"``, and the spend grid (multiples of the highest weekly spend) they are
#: matched on.
POINT_DRAWS = 60
POINT_SPEND_GRID = np.linspace(0.02, 2.0, 30)
#: A touchpoint whose MAP beta is zero gets its posterior mean curve too: the mean of a posterior
#: cut at zero is positive where the draws leave room for an effect, and a zero point defunds it
#: (dev runs of fit_recovery's worlds: low-information 8 tp pooled capture 41.5% -> 46.8%, worst
#: world -3.5% -> -3.1% of the KPI; high 82.4% -> 82.7%).
POINT_ZERO_BETAS = True


def posterior_mean_point(
    fit: MapFit,
    draws: Sequence[tuple[list[np.ndarray], np.ndarray]],
    data: MapData,
    keep: Sequence[bool] = (),
    draw_families: Sequence[Sequence[str]] | None = None,
    candidates: Sequence[dict[str, np.ndarray]] | None = None,
    choose_observed: bool = False,
) -> MapFit:
    """Point curves for planning: each touchpoint's curve of its family (the MAP's decay kept)
    closest, in least squares over spend from 0 to twice the highest weekly spend, to the mean
    over the posterior ``draws`` of its steady-state weekly response. A plan on these curves is
    the plan on the posterior mean response (the Bayes decision) to the extent that one curve of
    the family can carry it: where the draws disagree, the mean flattens and the plan moves less.
    The baseline is refitted with the new media columns. Touchpoints ``keep`` (those with lift
    tests: the experiment pins their effect) keep the MAP curve.

    With a family mixture (``draw_families``: each draw's families; ``candidates``: per
    touchpoint, each family's transforms), each draw's curve is of its own family, and the point
    curve is, of the candidate families (each with its own decay), the one closest to the mean
    (``choose_observed``: closest on the grid's spends up to the highest weekly spend, each
    candidate still matched on the whole grid).
    ``data``: the fit's (its spends, KPI, baseline and nuisance columns, and whether S-curves
    are allowed)."""
    from scipy.optimize import least_squares

    from optimizer.response import curves as CC

    xs, y, Z, G, s_curves = data.xs, data.y, data.Z, data.G, data.s_curves
    theta = [t.copy() for t in fit.theta]
    beta = fit.beta.copy()
    families = list(fit.families)
    for k, x in enumerate(xs):
        fam = fit.families[k]
        if (
            (beta[k] <= 0 and not POINT_ZERO_BETAS)
            or not draws
            or float(x.max()) <= 0
            or (keep and keep[k])
        ):
            continue
        grid = POINT_SPEND_GRID * float(x.max())
        target = np.zeros(grid.size)
        for b, (th_b, b_b) in enumerate(draws):
            f_b = draw_families[b][k] if draw_families is not None else fam
            d_b = float(th_b[k][0])
            m_b = float(CC.geometric_adstock(x, d_b).mean()) or 1.0
            target += float(b_b[k]) * CC.saturation(
                f_b, grid / (1.0 - d_b), {"beta": 1.0, **J.family_params(f_b, th_b[k], m_b)}
            )
        target /= len(draws)
        if not float(np.abs(target).max()) > 0:  # every draw flat: the mean curve is flat
            beta[k] = 0.0
            continue
        scale = max(float(np.abs(target).max()), 1e-300)
        cands = (
            candidates[k]
            if candidates is not None and candidates[k]
            else {fam: np.asarray(theta[k])}
        )
        best: tuple[float, str, float, np.ndarray] | None = None
        for cf in sorted(cands):
            th_c = np.asarray(cands[cf])
            d0 = float(th_c[0])
            if cf == fam and np.array_equal(th_c, fit.theta[k]):
                m0 = float(fit.mean_ad[k])
            else:
                m0 = float(J.columns([J.Tp(x, cf)], [th_c]).mean_ad[0])
            lo, hi = J.LOG_REL_BOUNDS, (J.LOG_SHAPE_BOUNDS_S if s_curves else J.LOG_SHAPE_BOUNDS)

            def resid(
                v: np.ndarray,
                fam: str = cf,
                d0: float = d0,
                m0: float = m0,
                grid: np.ndarray = grid,
                target: np.ndarray = target,
                scale: float = scale,
            ) -> np.ndarray:
                th = np.concatenate([[d0], v[1:]])
                p_ = {"beta": 1.0, **J.family_params(fam, th, m0)}
                g = CC.saturation(fam, grid / (1.0 - d0), p_)
                return np.asarray((v[0] * g - target) / scale)

            b0 = beta[k] if beta[k] > 0 else float(np.mean([float(b_b[k]) for _, b_b in draws]))
            v0 = np.concatenate([[b0], th_c[1:]])
            lb = [0.0, lo[0]] + ([hi[0]] if cf == "hill" else [])
            ub = [np.inf, lo[1]] + ([hi[1]] if cf == "hill" else [])
            v0 = np.clip(v0, lb, ub)
            res = least_squares(resid, v0, bounds=(lb, ub), method="trf", xtol=1e-8)
            cost = float(res.cost)
            if choose_observed:
                cost = 0.5 * float(np.sum(res.fun[POINT_SPEND_GRID <= 1.0] ** 2))
            if best is None or cost < best[0]:
                best = (cost, cf, float(res.x[0]), np.concatenate([[d0], res.x[1:]]))
        assert best is not None
        _, families[k], beta[k], theta[k] = best
    carry = fit.carry or (0.0,) * len(xs)  # the baseline is refitted beside the fitted carry-in
    tps = [J.Tp(x, f, carry=c) for x, f, c in zip(xs, families, carry, strict=True)]
    cols = J.columns(tps, theta)
    Mfull = np.hstack([cols.M, G])
    rows = fit.rows if fit.rows is not None else np.arange(y.size)
    base = base_coefs(data.frame(rows), Mfull[rows], beta)
    return replace(
        fit,
        families=families,
        theta=theta,
        beta=beta,
        base=base,
        yhat_rows=Z @ base + Mfull @ beta,
        mean_ad=cols.mean_ad,
    )
