"""The inner solve: penalised non-negative least squares of the media betas with the baseline
profiled out exactly (and the fixed-strength pooling of the grid-based refits)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import lsq_linear, nnls

from optimizer.response import curves as C
from optimizer.response.design import (
    CurveShape,
)


# ------------------------------------------------------------------------------------------------
# the linear core: non-negative ridge for media, free ridge-stabilised baseline
# ------------------------------------------------------------------------------------------------
@dataclass
class _Frame:
    """The baseline of a set of training rows, profiled out once and reused for every candidate."""

    q: np.ndarray  # orthonormal basis of the ridge-augmented, standardised baseline
    pinv: np.ndarray  # (n_base, n_rows + n_base): baseline coefficients from [target; 0]
    mu: np.ndarray
    sd: np.ndarray
    n_rows: int
    y_res: np.ndarray  # residual of [y; 0] after the baseline
    gy: np.ndarray  # baseline coefficients (standardised) of y alone
    sqrt_alpha: float

    def standardise(self, Z: np.ndarray) -> np.ndarray:
        return (Z - self.mu) / self.sd

    def residual(self, M: np.ndarray) -> np.ndarray:
        """``(I - QQ')[M; 0]``: media columns with the (ridge) baseline profiled out."""
        aug = np.vstack([M, np.zeros((self.q.shape[0] - self.n_rows, M.shape[1]))])
        return aug - self.q @ (self.q.T @ aug)


def _make_frame(Z: np.ndarray, y: np.ndarray, ridge: float, baseline_ridge: float) -> _Frame:
    n, p = Z.shape
    mu = Z.mean(axis=0)
    sd = Z.std(axis=0)
    mu[0], sd[0] = 0.0, 1.0  # the intercept stays a column of ones
    sd = np.where(sd > 1e-12, sd, 1.0)
    Zs = (Z - mu) / sd
    pen = np.full(p, math.sqrt(baseline_ridge * n))
    pen[0] = 0.0  # intercept not penalised
    Za = np.vstack([Zs, np.diag(pen)])
    q, r = np.linalg.qr(Za)
    # a rank-deficient baseline (an all-zero event column) is kept solvable by its ridge row;
    # only the intercept has none, and it is never all zero
    pinv = np.linalg.solve(r, q.T)
    ya = np.concatenate([y, np.zeros(p)])
    y_res = ya - q @ (q.T @ ya)
    gy = pinv @ ya
    return _Frame(q, pinv, mu, sd, n, y_res, gy, math.sqrt(ridge * n))


def _media_scale(M: np.ndarray) -> np.ndarray:
    """Scale of each media column for the ridge penalty: its root mean square.

    The penalty then falls on each touchpoint's typical weekly contribution, so a column that
    barely varies (a saturated or very slow curve, nearly a copy of the intercept) cannot carry a
    large contribution that the data do not support.
    """
    return np.sqrt(np.mean(M * M, axis=0))


def _nnls(A: np.ndarray, b: np.ndarray) -> np.ndarray:
    try:
        return nnls(A, b)[0]
    except RuntimeError:  # iteration limit: fall back to a bounded least-squares solver
        return lsq_linear(A, b, bounds=(0.0, np.inf), method="bvls").x


@dataclass
class _Solved:
    beta: np.ndarray  # media coefficients, original units, >= 0
    base: np.ndarray  # baseline coefficients, original units (intercept first)
    pooled: float | None = None  # the common marginal ROI the pooling shrinks towards


@dataclass(frozen=True)
class _Pool:
    """Partial pooling of the touchpoints' marginal ROIs at their mean weekly spend.

    ``marginal[j]`` is the steady-state marginal KPI per unit of spend of media column ``j`` with
    beta 1, at the touchpoint's mean weekly spend ``spend[j]`` (``0`` for columns not pooled,
    such as a lock-step group's nuisance column); ``strength`` is the penalty per week.
    """

    marginal: np.ndarray
    spend: np.ndarray
    strength: float


def _solve(
    fr: _Frame,
    M: np.ndarray,
    Z_rows: np.ndarray,
    pool: _Pool | None = None,
    cal: tuple[np.ndarray, np.ndarray] | None = None,
    ridge_w: np.ndarray | None = None,
    jitter: tuple[np.random.Generator, float] | None = None,
) -> _Solved:
    """Fit media betas (>= 0) and baseline on the frame's rows; ``M`` holds those rows' media.

    With ``cal = (L, r)``, each lift test is one more row of the least squares: ``L[t, j]`` is
    the weighted model lift of test ``t`` per unit beta of media column ``j``, ``r[t]`` its
    weighted measured lift (weights ``sigma / se``: see ``_Calibration``). The baseline has no
    part in a test's lift, so profiling it out is unchanged.

    With ``pool``, each pooled touchpoint's marginal ROI at its mean spend, ``m_j beta_j``, is
    shrunk towards a common value ``mu >= 0`` fitted with them: the penalty
    ``strength * n * sum_j (spend_j (m_j beta_j - mu))^2`` is in KPI units squared per week, like
    the squared errors, so the data override it where they are informative.

    With ``jitter = (rng, sigma)`` (a bootstrap draw), the priors and the lift tests are perturbed
    as well as the data ("randomise then optimise"): the zero right-hand side of every media ridge
    and pooling row, and each test's weighted lift, get Gaussian noise of sd ``sigma``, the weekly
    noise sd in which all these rows are weighted (``_Calibration``), so a test's measured lift
    moves by one of its standard errors. Without it a draw refits the
    same priors and tests to resampled weeks, and a touchpoint the data barely inform, held by
    its prior or by a test, comes out with draws far narrower than what is known about it.
    """
    k = M.shape[1]
    pooled = None
    if k == 0:
        beta = np.zeros(0)
    else:
        s = _media_scale(M)
        s = np.where(s > 1e-12, s, 1.0)
        R = fr.residual(M) / s
        pen = fr.sqrt_alpha * (np.ones(k) if ridge_w is None else ridge_w)
        A = np.vstack([R, np.diag(pen)])
        rng, sig = jitter if jitter is not None else (None, 0.0)
        rhs = np.concatenate([fr.y_res, sig * rng.standard_normal(k) if rng else np.zeros(k)])
        if cal is not None and cal[1].size:
            A = np.vstack([A, cal[0] / s])
            rhs = np.concatenate(
                [rhs, cal[1] + (sig * rng.standard_normal(cal[1].size) if rng else 0.0)]
            )
        on = (
            np.flatnonzero((pool.marginal > 0) & (pool.spend > 0))
            if pool is not None and pool.strength > 0
            else np.zeros(0, dtype=int)
        )
        if pool is not None and on.size >= 2:
            w = math.sqrt(pool.strength * fr.n_rows) * pool.spend[on]
            ref = float(pool.spend[on].mean())  # mu is solved for in KPI per ref spend
            P = np.zeros((on.size, k + 1))
            P[np.arange(on.size), on] = w * pool.marginal[on] / s[on]
            P[:, k] = -w / ref
            A = np.vstack([np.hstack([A, np.zeros((A.shape[0], 1))]), P])
            rhs = np.concatenate(
                [rhs, sig * rng.standard_normal(on.size) if rng else np.zeros(on.size)]
            )
            sol = _nnls(A, rhs)
            beta = sol[:k] / s
            pooled = float(sol[k]) / ref
        else:
            beta = _nnls(A, rhs) / s
    target = np.concatenate([(M @ beta) if k else np.zeros(fr.n_rows), np.zeros(fr.pinv.shape[0])])
    cs = fr.gy - fr.pinv @ target  # standardised baseline coefficients
    c = cs / fr.sd
    c[0] = cs[0] - float(np.sum(c[1:] * fr.mu[1:]))
    return _Solved(beta, c, pooled)


def _pool_for(
    ch: dict[int, int],
    searched: Sequence[int],
    grid: Sequence[CurveShape],
    mean_ads: dict[tuple[int, float], float],
    mean_spend: np.ndarray,
    strength: float,
    width: int,
    unpooled: Sequence[int] = (),
) -> _Pool:
    """Marginal ROI per unit beta at each searched touchpoint's mean weekly spend (steady
    state), for the shapes ``ch``; lock-step groups' columns and the columns ``unpooled``
    (touchpoints measured by lift tests) are not pooled."""
    marg = np.zeros(width)
    spend = np.zeros(width)
    for k_, i in enumerate(searched):
        if k_ in unpooled:
            continue
        c = grid[ch[i]]
        f = 1.0 / (1.0 - c.decay)
        params = {"beta": 1.0, **c.params(mean_ads[(i, c.decay)])}
        marg[k_] = f * float(C.saturation_derivative(c.family, f * mean_spend[i], params))
        spend[k_] = mean_spend[i]
    return _Pool(marg, spend, strength)
