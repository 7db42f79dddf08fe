"""The joint problem at a MAP fit, as the Laplace draws, the family mixture and the decay
profiles all set it up (one place, so that the three start from the same problem)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from optimizer.response import joint as J
from optimizer.response.solve import _make_frame

if TYPE_CHECKING:
    from optimizer.response.mapfit import MapFit


def _media(p: J.Problem, theta: Sequence[np.ndarray]) -> np.ndarray:
    return np.hstack([J.columns(p.tps, theta).M, p.G])


def problem_at_map(
    fit: MapFit,
    xs: Sequence[np.ndarray],
    pooled: Sequence[bool],
    tests: Sequence[Sequence[tuple[np.ndarray, float, float]]],
    y: np.ndarray,
    Z: np.ndarray,
    G: np.ndarray,
    baseline_ridge: float,
    prior_weight: float,
    s_curves: bool,
) -> tuple[J.Problem, Any]:
    """The joint problem at the MAP ``fit`` on the weeks of its likelihood (all weeks but a
    burn-in, ``startup``; its families, noise and pooling weight; columns scaled by their RMS at
    the MAP), and its baseline frame: what the Laplace draws, the family mixture and the decay
    profiles all start from."""
    rows = fit.rows if fit.rows is not None else np.arange(y.size)
    fr = _make_frame(Z[rows], y[rows], 0.0, baseline_ridge)
    carry = fit.carry or (0.0,) * len(xs)
    tps = [
        J.Tp(x, f, bool(pl), tuple(ts), c)
        for x, f, pl, ts, c in zip(xs, fit.families, pooled, tests, carry, strict=True)
    ]
    p = J.Problem(tps, rows, fr, G, fit.sigma, fit.omega, prior_weight, s_curves)
    p.rel_centre = fit.prior_centre
    p.scale = np.sqrt(np.mean(fr.residual(_media(p, fit.theta)[rows])[: rows.size] ** 2, axis=0))
    return p, fr
