"""The continuous joint fit: every touchpoint's transforms at once, betas and baseline inside.

For fixed transforms ``theta`` (per touchpoint: adstock decay, the half-saturation point relative to
the touchpoint's mean adstocked spend, and the hill shape), the model is linear in the media betas,
the pooled marginal ROI and the baseline. *Variable projection*: the baseline is profiled out
exactly (``solve.make_frame``), the betas (>= 0) and the pooled marginal ROI (>= 0) come from one
penalised non-negative least squares, and ``scipy.optimize.least_squares`` moves ``theta`` on the
projected residual with the Kaufman Jacobian (analytic derivatives of every column, pooling row
and lift-test row, projected off the active columns). The objective is a MAP one:

    ||y - baseline - M(theta) beta||^2 + omega^2 ||pooling rows||^2 + sum_t sigma^2 z_t^2
        + sigma^2 * sum (theta - prior centre)^2 / prior sd^2

so the weak prior on the transforms is scaled to the noise variance ``sigma^2`` (with Gaussian
errors that is minus twice the log posterior times ``sigma^2``).

Families are parameterised by the same *relative half-saturation* ``rel`` (the adstocked spend at
which the curve reaches half its beta, over the mean adstocked spend), so one prior serves all:
hill ``K = rel * m``; exponential ``scale = rel * m / ln 2``; logistic ``lam = ln 3 / (rel * m)``.
With ``v = ln(a / half point)`` the unit curves are hill ``sigmoid(s v)``, exponential
``1 - 2^(-u)``, logistic ``tanh(u ln 3 / 2)`` (``u = e^v``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import least_squares
from scipy.signal import lfilter

from optimizer.response.solve import _Frame as Frame
from optimizer.response.solve import _nnls as nnls

#: Prior on the transforms (a MAP fit; the rows are scaled by the noise sd). Centre: a curve half
#: way to saturation at the mean adstocked spend (spread a factor of 3 either way), decay 0.3
#: (+- 0.3), hill shape 1 (+- 0.5 in log shape). A nearly flat decay prior (+- 1.0) was measured
#: (dev runs of fit_recovery's worlds): +1.0 point of pooled capture on 8-touchpoint worlds but
#: -0.8 point and 80%-coverage 70% -> 63% on 15-touchpoint high-information ones: not kept.
PRIOR_DECAY, PRIOR_DECAY_SD = 0.3, 0.3
PRIOR_LOG_REL, PRIOR_LOG_REL_SD = 0.0, math.log(3.0)
PRIOR_LOG_SHAPE, PRIOR_LOG_SHAPE_SD = 0.0, 0.5
DECAY_BOUNDS = (0.0, 0.9)
#: Where the half-saturation prior is centred (``Problem.rel_centre``, ``fit_model``'s
#: ``prior_centre``): "mean" (the touchpoint's mean adstocked spend over all weeks, ``log rel =
#: PRIOR_LOG_REL``) or "operating" (the level it runs at when it runs: ``operating_shift`` higher).
PRIOR_REL_CENTRES = ("mean", "operating")
LOG_REL_BOUNDS = (math.log(0.1), math.log(30.0))
LOG_SHAPE_BOUNDS = (math.log(0.3), 0.0)
LOG_SHAPE_BOUNDS_S = (math.log(0.3), math.log(4.0))
#: Ridge of every media column relative to its root mean square, in the square root: a
#: numerical stabiliser (1e-3 of a week's noise per unit contribution), not a prior that decides.
STABILISER = 1e-3
LN2, LN3 = math.log(2.0), math.log(3.0)
FAMILIES = ("hill", "exponential", "logistic")


def n_params(family: str) -> int:
    return 3 if family == "hill" else 2


def family_params(
    family: str, theta: Sequence[float] | np.ndarray, mean_adstock: float
) -> dict[str, float]:
    """model.json parameters (without beta) of a family for transforms ``theta``."""
    half = math.exp(theta[1]) * mean_adstock
    if family == "hill":
        return {"half_saturation": half, "shape": math.exp(theta[2])}
    if family == "exponential":
        return {"scale": half / LN2}
    return {"lam": LN3 / half}


def _curve(family: str, v: np.ndarray, ls: float) -> tuple[np.ndarray, ...]:
    """Unit curve ``h`` at ``v = ln(a / half point)`` and its derivatives: ``h``, ``h_v``,
    ``h_ls`` (log shape), ``h_vv``, ``h_vls``."""
    if family == "hill":
        s = math.exp(ls)
        sig = 0.5 * (1.0 + np.tanh(0.5 * s * v))
        q = sig * (1.0 - sig)
        h_v = s * q
        h_ls = s * v * q
        h_vv = s * s * q * (1.0 - 2.0 * sig)
        h_vls = s * q * (1.0 + s * v * (1.0 - 2.0 * sig))
        return sig, h_v, h_ls, h_vv, h_vls
    u = np.exp(np.minimum(v, 50.0))
    zero = np.zeros_like(v)
    if family == "exponential":
        e = np.exp(-LN2 * u)
        h = 1.0 - e
        h_v = LN2 * u * e
        h_vv = h_v * (1.0 - LN2 * u)
        return h, h_v, zero, h_vv, zero
    c = 0.5 * LN3
    h = np.tanh(c * u)
    h_v = c * u * (1.0 - h * h)
    h_vv = h_v * (1.0 - 2.0 * c * u * h)
    return h, h_v, zero, h_vv, zero


def _adstock(x: np.ndarray, d: float, carry: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Geometric adstock ``a_t = x_t + d a_{t-1}`` and its derivative in ``d``; ``a_{-1} = c``,
    ``c = carry / (1 - d)``: the steady state of a weekly spend ``carry`` before the history
    (``startup``; 0: the zero start), so ``dc/dd = c / (1 - d)``."""
    if carry == 0.0:
        a = lfilter([1.0], [1.0, -d], x)
        lag = np.concatenate([[0.0], a[:-1]])
        return a, lfilter([1.0], [1.0, -d], lag)
    c = carry / (1.0 - d)
    a = lfilter([1.0], [1.0, -d], x, zi=[d * c])[0]
    lag = np.concatenate([[c], a[:-1]])
    return a, lfilter([1.0], [1.0, -d], lag, zi=[d * c / (1.0 - d)])[0]


@dataclass(frozen=True)
class Tp:
    """One touchpoint of the joint fit: its weekly spend, family and lift tests."""

    x: np.ndarray
    family: str
    pooled: bool = True
    tests: tuple[tuple[np.ndarray, float, float], ...] = ()  # (spend with the test, lift, se)
    carry: float = 0.0  # weekly spend before the history, in steady state (``_adstock``)

    @property
    def k(self) -> int:
        return n_params(self.family)


@dataclass
class Columns:
    """Everything ``theta`` changes: media columns, pooling coefficients, unit lifts, and their
    derivatives (``dM[i]``: ``(n, k_i)``, ``de[i]``: ``(k_i,)``, ``dL[i]``: ``(n_tests_i, k_i)``)."""

    M: np.ndarray
    dM: list[np.ndarray]
    e: np.ndarray
    de: list[np.ndarray]
    L: list[np.ndarray]
    dL: list[np.ndarray]
    mean_ad: np.ndarray


def _unit(
    tp: Tp, x: np.ndarray, th: np.ndarray, m: float, dm: float
) -> tuple[np.ndarray, np.ndarray]:
    """Unit curve of spend ``x`` and its derivative columns (``(n, k)``), half point relative
    to mean adstock ``m`` (with derivative ``dm`` in the decay)."""
    d, lr = float(th[0]), float(th[1])
    ls = float(th[2]) if tp.k == 3 else 0.0
    a, da = _adstock(x, d, tp.carry)
    half = math.exp(lr) * m
    pos = a > 1e-300 * max(half, 1e-300)
    v = np.where(pos, np.log(np.where(pos, a, 1.0) / half), -700.0)
    h, h_v, h_ls, _, _ = _curve(tp.family, v, ls)
    dv_dd = np.where(pos, da / np.where(pos, a, 1.0), 0.0) - dm / m
    cols = [h_v * dv_dd, -h_v]
    if tp.k == 3:
        cols.append(h_ls)
    return h, np.column_stack(cols)


_Part = tuple[np.ndarray, np.ndarray, float, np.ndarray, np.ndarray, np.ndarray, float]
_CACHE: dict[tuple[bytes, str, bytes, tuple[tuple[bytes, float, float], ...]], _Part] = {}
_CACHE_MAX = 4096


def _part(tp: Tp, th: np.ndarray) -> _Part:
    """One touchpoint's column, derivatives, pooling coefficient and unit lifts (cached: a local
    fit moves one touchpoint, the others' columns are reused)."""
    key = (
        tp.x.tobytes(),
        tp.family + f"|{tp.carry!r}",
        np.asarray(th, dtype=float).tobytes(),
        tuple((x1.tobytes(), lift, se) for x1, lift, se in tp.tests),
    )
    hit = _CACHE.get(key)
    if hit is not None:
        return hit
    d, lr = float(th[0]), float(th[1])
    ls = float(th[2]) if tp.k == 3 else 0.0
    a, da = _adstock(tp.x, d)
    # the half point stays relative to the zero start's mean adstock (model.json's, the draws')
    m = float(a.mean()) or 1.0
    dm = float(da.mean())
    h, dh = _unit(tp, tp.x, th, m, dm)
    # pooling coefficient: the elasticity of the steady-state weekly response at the mean
    # weekly spend, x * g'(x) per unit beta = h_v at v_ss (so x * marginal ROI = beta * e)
    xbar = float(tp.x.mean())
    e = 0.0
    de = np.zeros(tp.k)
    if xbar > 0:
        v_ss = math.log(xbar / (1.0 - d)) - lr - math.log(m)
        _, hv, _, hvv, hvls = _curve(tp.family, np.array([v_ss]), ls)
        e = float(hv[0])
        g = [float(hvv[0]) * (1.0 / (1.0 - d) - dm / m), -float(hvv[0])]
        if tp.k == 3:
            g.append(float(hvls[0]))
        de = np.array(g)
    if tp.tests:
        rows = [_unit(tp, x1, th, m, dm) for x1, _, _ in tp.tests]
        L = np.array([float((h1 - h).sum()) for h1, _ in rows])
        dL = np.array([(d1 - dh).sum(axis=0) for _, d1 in rows])
    else:
        L, dL = np.zeros(0), np.zeros((0, tp.k))
    if len(_CACHE) >= _CACHE_MAX:
        _CACHE.clear()
    out = (h, dh, e, de, L, dL, m)
    _CACHE[key] = out
    return out


def columns(tps: Sequence[Tp], theta: Sequence[np.ndarray]) -> Columns:
    n = tps[0].x.size if tps else 0
    M = np.zeros((n, len(tps)))
    parts = [_part(tp, th) for tp, th in zip(tps, theta, strict=True)]
    for j, pt in enumerate(parts):
        M[:, j] = pt[0]
    return Columns(
        M,
        [pt[1] for pt in parts],
        np.array([pt[2] for pt in parts]),
        [pt[3] for pt in parts],
        [pt[4] for pt in parts],
        [pt[5] for pt in parts],
        np.array([pt[6] for pt in parts]),
    )


@dataclass
class Problem:
    """The joint fit on the rows ``rows`` of the history (all weeks, the training weeks, or a
    bootstrap resample): the profiled baseline ``frame``, fixed nuisance columns ``G``, the noise
    sd ``sigma`` (weights of the priors and tests), the pooling weight ``omega`` (in the square
    root, per pooling row), and the prior weight."""

    tps: list[Tp]
    rows: np.ndarray
    frame: Frame
    G: np.ndarray  # (n, g) fixed non-negative nuisance columns (lock-step groups)
    sigma: float
    omega: float
    prior_weight: float = 1.0
    s_curves: bool = False
    scale: np.ndarray = field(default_factory=lambda: np.zeros(0))  # column rms for stabiliser
    #: shift of the prior's centre, in prior sds, per transform (a bootstrap draw's "randomise
    #: then optimise"); empty for none
    prior_shift: np.ndarray = field(default_factory=lambda: np.zeros(0))
    rel_centre: str = "mean"  # where the half-saturation prior sits (``prior_of``)
    #: each touchpoint's decay prior sd (``decayprior``: chosen by the evidence); empty: every
    #: touchpoint ``PRIOR_DECAY_SD``
    decay_sd: np.ndarray = field(default_factory=lambda: np.zeros(0))
    #: each touchpoint's decay prior centre (``fit_model(decay_priors=...)``: e.g. the markets'
    #: shared carry-over, ``response.shared_decay``); empty: every touchpoint ``PRIOR_DECAY``
    decay_mu: np.ndarray = field(default_factory=lambda: np.zeros(0))
    #: the log half-saturation prior's sd (``relprior``: chosen by the evidence); 0:
    #: ``PRIOR_LOG_REL_SD``
    rel_sd: float = 0.0

    @property
    def width(self) -> int:
        return len(self.tps) + self.G.shape[1]

    def test_rows(self) -> list[tuple[int, float, float]]:
        return [(j, lift, se) for j, tp in enumerate(self.tps) for _, lift, se in tp.tests]


@dataclass
class Inner:
    """The inner solution for given transforms: coefficients (betas, then the pooled marginal
    ROI), the augmented design ``A``, right-hand side and the residual."""

    w: np.ndarray
    A: np.ndarray
    rhs: np.ndarray
    r: np.ndarray
    cols: Columns
    pool_rows: np.ndarray  # indices of pooled media columns (rows of the pooling block)
    n_data: int

    @property
    def beta(self) -> np.ndarray:
        return self.w[:-1]

    @property
    def pooled(self) -> float:
        return float(self.w[-1])


def assemble(p: Problem, cols: Columns) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """The augmented linear system ``A w ~ rhs`` for the columns ``cols``."""
    k = len(p.tps)
    width = p.width
    Mx = np.hstack([cols.M, p.G])[p.rows]
    R = p.frame.residual(Mx)
    n_data = R.shape[0]
    blocks = [np.hstack([R, np.zeros((n_data, 1))])]
    rhs = [p.frame.y_res]
    xbar = np.array([float(tp.x.mean()) for tp in p.tps])
    pool = np.array(
        [j for j, tp in enumerate(p.tps) if tp.pooled and cols.e[j] > 0 and xbar[j] > 0], dtype=int
    )
    if pool.size >= 2 and p.omega > 0:
        P = np.zeros((pool.size, width + 1))
        P[np.arange(pool.size), pool] = p.omega * cols.e[pool]
        P[:, width] = -p.omega * xbar[pool]
        blocks.append(P)
        rhs.append(np.zeros(pool.size))
    else:
        pool = np.zeros(0, dtype=int)
    for j, tp in enumerate(p.tps):
        for t, (_, lift, se) in enumerate(tp.tests):
            row = np.zeros(width + 1)
            row[j] = p.sigma / se * cols.L[j][t]
            blocks.append(row[None, :])
            rhs.append(np.array([p.sigma / se * lift]))
    scale = p.scale if p.scale.size == width else np.sqrt(np.mean(R[: len(p.rows)] ** 2, axis=0))
    stab = np.zeros((width, width + 1))
    stab[np.arange(width), np.arange(width)] = STABILISER * math.sqrt(len(p.rows)) * scale
    blocks.append(stab)
    rhs.append(np.zeros(width))
    if pool.size == 0:  # the pooled value is not in the problem: pin it to zero
        pin = np.zeros((1, width + 1))
        pin[0, width] = 1.0
        blocks.append(pin)
        rhs.append(np.zeros(1))
    del k
    return np.vstack(blocks), np.concatenate(rhs), pool, n_data


def solve_inner(p: Problem, theta: Sequence[np.ndarray], cols: Columns | None = None) -> Inner:
    cols = cols if cols is not None else columns(p.tps, theta)
    A, rhs, pool, n_data = assemble(p, cols)
    cs = np.sqrt((A * A).sum(axis=0))
    cs = np.where(cs > 0, cs, 1.0)
    w = nnls(A / cs, rhs) / cs
    return Inner(w, A, rhs, A @ w - rhs, cols, pool, n_data)


def _dA_w(p: Problem, inner: Inner, j: int) -> np.ndarray:
    """Derivative of ``A w`` in touchpoint ``j``'s transforms: ``(rows of A, k_j)``."""
    cols = inner.cols
    beta = float(inner.w[j])
    out = np.zeros((inner.A.shape[0], p.tps[j].k))
    if beta == 0.0:
        return out
    dM = cols.dM[j][p.rows]
    out[: inner.n_data] = p.frame.residual(dM) * beta
    r0 = inner.n_data
    if inner.pool_rows.size:
        hit = np.flatnonzero(inner.pool_rows == j)
        if hit.size:
            out[r0 + int(hit[0])] = p.omega * cols.de[j] * beta
        r0 += inner.pool_rows.size
    for jj, tp in enumerate(p.tps):
        for t, (_, _, se) in enumerate(tp.tests):
            if jj == j:
                out[r0] = p.sigma / se * cols.dL[j][t] * beta
            r0 += 1
    return out


def operating_shift(x: np.ndarray) -> float:
    """``ln(n / n_on)``: the log of the mean weekly spend over the weeks with spend over the mean
    over all weeks (0 for an always-on touchpoint, or one never on)."""
    on = int(np.count_nonzero(np.asarray(x) > 0))
    return math.log(x.size / on) if 0 < on < x.size else 0.0


def prior_of(
    tp: Tp,
    mode: str = "mean",
    decay_sd: float | None = None,
    decay_mu: float | None = None,
    rel_sd: float | None = None,
) -> tuple[list[float], list[float]]:
    """The prior's centre and sd of a touchpoint's transforms (decay, log rel[, log shape]);
    ``mode`` (``PRIOR_REL_CENTRES``): the half-saturation centre at ``PRIOR_LOG_REL`` ("mean") or
    ``operating_shift`` above it ("operating"); ``decay_sd``: the decay's sd (None:
    ``PRIOR_DECAY_SD``); ``decay_mu``: the decay's centre (None: ``PRIOR_DECAY``); ``rel_sd``: the
    log half-saturation's sd (None: ``PRIOR_LOG_REL_SD``). Constant in the transforms: the prior
    rows' derivatives stay ``1 / sd``."""
    if mode not in PRIOR_REL_CENTRES:
        raise ValueError(f"prior centre '{mode}': expected one of {', '.join(PRIOR_REL_CENTRES)}")
    lr = PRIOR_LOG_REL + (operating_shift(tp.x) if mode == "operating" else 0.0)
    centre = [PRIOR_DECAY if decay_mu is None else float(decay_mu), lr, PRIOR_LOG_SHAPE][: tp.k]
    d_sd = PRIOR_DECAY_SD if decay_sd is None else float(decay_sd)
    r_sd = PRIOR_LOG_REL_SD if rel_sd is None else float(rel_sd)
    return centre, [d_sd, r_sd, PRIOR_LOG_SHAPE_SD][: tp.k]


def prior_at(p: Problem, j: int) -> tuple[list[float], list[float]]:
    """``prior_of`` touchpoint ``j`` of ``p`` (its centre mode, decay sd and decay centre)."""
    d_sd = float(p.decay_sd[j]) if p.decay_sd.size else None
    d_mu = float(p.decay_mu[j]) if p.decay_mu.size else None
    return prior_of(p.tps[j], p.rel_centre, d_sd, d_mu, p.rel_sd or None)


def _prior(p: Problem, theta: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Prior rows (noise-scaled z scores) and their (diagonal) derivative."""
    c = math.sqrt(p.prior_weight) * p.sigma
    vals, ders = [], []
    at = 0
    for j, (tp, th) in enumerate(zip(p.tps, theta, strict=True)):
        centre, sd = prior_at(p, j)
        for q in range(tp.k):
            shift = float(p.prior_shift[at]) if p.prior_shift.size else 0.0
            vals.append(c * ((float(th[q]) - centre[q]) / sd[q] - shift))
            ders.append(c / sd[q])
            at += 1
    return np.array(vals), np.array(ders)


def bounds(p: Problem, j: int) -> tuple[list[float], list[float]]:
    lo = [DECAY_BOUNDS[0], LOG_REL_BOUNDS[0]]
    hi = [DECAY_BOUNDS[1], LOG_REL_BOUNDS[1]]
    if p.tps[j].k == 3:
        b = LOG_SHAPE_BOUNDS_S if p.s_curves else LOG_SHAPE_BOUNDS
        lo.append(b[0])
        hi.append(b[1])
    return lo, hi


def split(p: Problem, flat: np.ndarray, free: Sequence[int]) -> list[np.ndarray]:
    return [flat[a:b] for a, b in _offsets(p, free)]


def _offsets(p: Problem, free: Sequence[int]) -> list[tuple[int, int]]:
    out, at = [], 0
    for j in free:
        out.append((at, at + p.tps[j].k))
        at += p.tps[j].k
    return out


@dataclass
class Solution:
    theta: list[np.ndarray]
    inner: Inner
    cost: float  # ||residual||^2 + prior rows^2 (sigma^2 times minus twice the log posterior)
    nfev: int = 0
    jac: np.ndarray | None = None  # Jacobian of the residual rows in the free transforms
    free: tuple[int, ...] = ()  # the touchpoints whose transforms were free (columns of jac)


def objective(p: Problem, theta: Sequence[np.ndarray]) -> Solution:
    inner = solve_inner(p, theta)
    pr, _ = _prior(p, theta)
    return Solution(list(theta), inner, float(inner.r @ inner.r + pr @ pr))


def fit(
    p: Problem,
    theta0: Sequence[np.ndarray],
    free: Sequence[int] | None = None,
    max_nfev: int = 200,
) -> Solution:
    """MAP transforms from ``theta0`` (only touchpoints ``free`` move; default all)."""
    free = list(range(len(p.tps))) if free is None else list(free)
    theta = [np.array(t, dtype=float) for t in theta0]
    if not free:
        return objective(p, theta)
    lo: list[float] = []
    hi: list[float] = []
    for j in free:
        a, b = bounds(p, j)
        lo += a
        hi += b
    x0 = np.clip(np.concatenate([theta[j] for j in free]), lo, hi)
    offs = _offsets(p, free)
    cache: dict[bytes, tuple[Inner, list[np.ndarray]]] = {}

    def full(x: np.ndarray) -> list[np.ndarray]:
        out = list(theta)
        for j, (a, b) in zip(free, offs, strict=True):
            out[j] = x[a:b]
        return out

    def inner_at(x: np.ndarray) -> tuple[Inner, list[np.ndarray]]:
        key = x.tobytes()
        if key not in cache:
            cache.clear()
            th = full(x)
            cache[key] = (solve_inner(p, th), th)
        return cache[key]

    def fun(x: np.ndarray) -> np.ndarray:
        inner, th = inner_at(x)
        pr, _ = _prior(p, th)
        return np.concatenate([inner.r, pr])

    def jac(x: np.ndarray) -> np.ndarray:
        inner, th = inner_at(x)
        _, dpr = _prior(p, th)
        nr = inner.A.shape[0]
        J = np.zeros((nr + dpr.size, x.size))
        active = np.flatnonzero(inner.w > 0)
        Qa = np.linalg.qr(inner.A[:, active])[0] if active.size else np.zeros((nr, 0))
        all_offs = _offsets(p, range(len(p.tps)))
        for j, (a, b) in zip(free, offs, strict=True):
            D = _dA_w(p, inner, j)
            J[:nr, a:b] = D - Qa @ (Qa.T @ D)
            pa = all_offs[j][0]
            J[nr + pa + np.arange(b - a), a + np.arange(b - a)] = dpr[pa : pa + b - a]
        return J

    res = least_squares(
        fun, x0, jac=jac, bounds=(lo, hi), method="trf", max_nfev=max_nfev, xtol=1e-6, ftol=1e-8
    )
    sol = objective(p, full(res.x))
    sol.nfev = int(res.nfev)
    sol.jac = jac(res.x)
    sol.free = tuple(free)
    return sol


def log_ml_local(p: Problem, sol: Solution, j: int) -> float:
    """Minus twice the log marginal likelihood (Laplace, up to a constant shared by every family)
    of touchpoint ``j``'s transforms after a fit with only ``j`` free: ``cost / sigma^2 +
    log det(posterior precision) - log det(prior precision)``. The Occam factor penalises a
    family's extra transform (the hill shape) only as much as the data leave it free."""
    if sol.jac is None or j not in sol.free:
        sol = fit(p, sol.theta, free=[j], max_nfev=50)
    assert sol.jac is not None
    s2 = p.sigma**2
    a = sum(p.tps[q].k for q in sol.free[: sol.free.index(j)])
    jac = sol.jac[:, a : a + p.tps[j].k]
    H = jac.T @ jac / s2
    sign, logdet = np.linalg.slogdet(H)
    if sign <= 0:
        logdet = float("inf")
    sds = prior_at(p, j)[1]
    prior_logdet = sum(math.log(max(p.prior_weight, 1e-12) / sd**2) for sd in sds)
    return sol.cost / s2 + float(logdet) - prior_logdet


#: The largest step of a draw's log marginal response (``in_marginal_space(log=True)``).
LOG_STEP_CAP = 3.0


def in_marginal_space(
    tps: Sequence[Tp],
    inner: Inner,
    centre: np.ndarray,
    phi: np.ndarray,
    theta: Sequence[np.ndarray],
    log: bool = False,
) -> np.ndarray:
    """A Laplace draw ``phi`` (transforms then betas, ``centre`` the MAP) read as Gaussian in the
    transforms and each touchpoint's weekly marginal response at its mean spend, ``gamma = beta
    e(theta)`` (mean spend times its marginal ROI: what the pooling pools), instead of the betas:
    ``gamma = gamma_hat + e delta_beta + beta_hat de/dtheta delta_theta`` (the same Gaussian, to
    first order) and the beta ``gamma / e(theta)`` at the draw's (cut) transforms ``theta``.
    Drawn in the betas, the product ``beta e``, whose factors the data tie together (a lower
    beta where the curve is steeper), is biased low at second order, the more the more loosely
    the transforms are known: measured, in a world pooled to equal marginal ROIs, the draws'
    mean marginal ROI of hill touchpoints came out 20-25% below the MAP's (two-parameter
    families 3-10%), and the point curves moved money between families for no reason in the
    data. Touchpoints with a zero MAP beta or no pooling coefficient keep their draw."""
    out = phi.copy()
    nt = sum(tp.k for tp in tps)
    at = 0
    for j, tp in enumerate(tps):
        e, b_hat = float(inner.cols.e[j]), float(inner.w[j])
        if e > 0 and b_hat > 0 and float(tp.x.mean()) > 0:
            d_th = phi[at : at + tp.k] - centre[at : at + tp.k]
            gamma = e * phi[nt + j] + b_hat * float(inner.cols.de[j] @ d_th)
            if log:
                # the same step read in log gamma (delta method): log-symmetric around the MAP
                g_hat = e * b_hat
                gamma = g_hat * math.exp(
                    float(np.clip((gamma - g_hat) / g_hat, -LOG_STEP_CAP, LOG_STEP_CAP))
                )
            e_new = _part(tp, np.asarray(theta[j], dtype=float))[2]
            if e_new > 0:
                out[nt + j] = gamma / e_new
        at += tp.k
    return out


def in_conditional(
    p: Problem, centre: np.ndarray, phi: np.ndarray, theta: Sequence[np.ndarray], K: np.ndarray
) -> np.ndarray:
    """A Laplace draw ``phi`` (transforms then the inner coefficients, ``centre`` its centre) with
    the inner coefficients' conditional mean given the transforms taken exactly instead of
    linearly: the inner solve at the draw's (cut) transforms ``theta``, plus the draw's own
    conditional noise ``w - w_hat + K (theta - theta_hat)`` (``K = H_ww^-1 H_wtheta``, the
    Gaussian's regression of the coefficients on the transforms). Where the data pin a
    touchpoint's marginal response its draws keep it; where they pin the level of its response
    (a touchpoint switched on and off), the level."""
    nt = K.shape[1]
    eps = phi[nt:] - centre[nt:] + K @ (phi[:nt] - centre[:nt])
    return np.concatenate([phi[:nt], solve_inner(p, theta).w + eps])


# ------------------------------------------------------------------------------------------------
# empirical Bayes: the pooling strength from the marginal likelihood
# ------------------------------------------------------------------------------------------------
def _evidence_system(
    p: Problem, theta: Sequence[np.ndarray]
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The linear system of the pooling weight's evidence: ``(A0, b0)`` every row but the
    pooling rows, and ``P`` the pooling rows at weight 1 (None: fewer than two pooled
    touchpoints)."""
    base = Problem(**{**p.__dict__, "omega": 1.0})
    inner = solve_inner(base, theta)
    A, rhs = inner.A, inner.rhs
    npool = inner.pool_rows.size
    if npool < 2:
        return None
    r0 = inner.n_data
    keep = np.ones(A.shape[0], dtype=bool)
    keep[r0 : r0 + npool] = False
    return A[keep], rhs[keep], A[r0 : r0 + npool]


def log_evidence(p: Problem, theta: Sequence[np.ndarray], omegas: np.ndarray) -> np.ndarray:
    """Log marginal likelihood (up to a constant) of the data for each pooling weight ``omega``
    (``omega^2 = sigma^2 / tau^2``, ``tau`` the prior sd of ``mean spend * (marginal ROI - pooled
    marginal ROI)``), the betas and the pooled value integrated out under their Gaussian
    posterior (the non-negativity ignored), the transforms held at ``theta``."""
    system = _evidence_system(p, theta)
    out = np.full(omegas.size, -np.inf)
    if system is None:
        return np.zeros(omegas.size)
    A0, b0, P = system
    npool = P.shape[0]
    H0 = A0.T @ A0
    g0 = A0.T @ b0
    PP = P.T @ P
    s2 = p.sigma**2
    for q, om in enumerate(omegas):
        H = H0 + om * om * PP
        try:
            c = np.linalg.cholesky(H)
        except np.linalg.LinAlgError:
            continue
        w = np.linalg.solve(H, g0)
        fit_ = float(((A0 @ w - b0) ** 2).sum() + om * om * ((P @ w) ** 2).sum())
        out[q] = -0.5 * fit_ / s2 - float(np.log(np.diag(c)).sum()) + npool * math.log(om)
    return out


def unpooled_spread(p: Problem, theta: Sequence[np.ndarray]) -> float:
    """The typical posterior sd, without pooling, of a pooled touchpoint's ``mean spend *
    marginal ROI``, in units of the noise sd ``sigma`` (the median over the pooled touchpoints;
    0 when there is nothing to pool)."""
    system = _evidence_system(p, theta)
    if system is None:
        return 0.0
    A0, _, P = system
    H = (A0.T @ A0)[:-1, :-1]  # the pooled value is not in the problem without pooling
    try:
        Hinv = np.linalg.inv(H)
    except np.linalg.LinAlgError:
        return 0.0
    # each pooling row is e_i beta_i - mean spend_i * pooled: its beta part's variance
    Pb = P[:, :-1]
    v = np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", Pb, Hinv, Pb), 0.0))
    v = v[np.isfinite(v) & (v > 0)]
    return float(np.median(v)) if v.size else 0.0


#: ``pool_evidence`` choices: the pooling weight that maximises the marginal likelihood
#: ("argmax", type-II maximum likelihood), or the one at the posterior mean of the shrinkage
#: factor under a uniform prior on it ("shrinkage", see ``pooling_weight``)
POOL_EVIDENCE = ("argmax", "shrinkage")


def pooling_weight(
    p: Problem, theta: Sequence[np.ndarray], evidence: str = "argmax"
) -> tuple[float, dict[str, float]]:
    """The pooling weight ``omega`` from the evidence (and what the search saw).

    ``argmax``: the evidence-maximising weight on a log grid. ``shrinkage``: the weight at the
    posterior mean of the shrinkage factor ``B = (omega v)^2 / (1 + (omega v)^2)`` (``v``: the
    typical unpooled posterior sd of ``mean spend * marginal ROI`` over the noise sd,
    ``unpooled_spread``; ``B`` is the share of a touchpoint's deviation from the pooled value
    that the pooling removes), under a uniform prior on ``B`` (proper, so no grid edge decides).
    Where the evidence is flat from moderate to full pooling (the data cannot tell the
    touchpoints' marginal returns apart) the posterior keeps the mass of the strong pooling
    that a maximum discards; where it is peaked the two agree."""
    n = len(p.rows)
    grid = np.sqrt(n) * np.logspace(-3.0, 2.5, 45)
    v = unpooled_spread(p, theta) if evidence == "shrinkage" else 0.0
    if v > 0:
        grid = np.logspace(-3.0, 3.0, 61) / v
    ev = log_evidence(p, theta, grid)
    if not np.isfinite(ev).any() or np.ptp(ev[np.isfinite(ev)]) == 0:
        return 0.0, {"omega": 0.0, "pool_marginal_equivalent": 0.0}
    best = int(np.nanargmax(ev))
    om = float(grid[best])
    out = {
        "omega": om,
        "pool_marginal_equivalent": om * om / n,
        "log_evidence_gain": float(ev[best] - ev[0]),
        "at_edge": float(best in (0, grid.size - 1)),
    }
    if v > 0:
        # posterior over the grid (uniform in log omega): evidence x the uniform prior on B
        # expressed per log omega, dB / d log omega = 2 B (1 - B)
        B = (grid * v) ** 2 / (1.0 + (grid * v) ** 2)
        ok = np.isfinite(ev)
        logw = np.where(ok, ev + np.log(np.maximum(B * (1.0 - B), 1e-300)), -np.inf)
        w = np.exp(logw - logw[ok].max())
        b_mean = float((w * B).sum() / w.sum())
        om = math.sqrt(b_mean / (1.0 - b_mean)) / v
        out.update(
            {
                "omega": om,
                "pool_marginal_equivalent": om * om / n,
                "omega_argmax": float(grid[best]),
                "shrinkage": b_mean,
                "unpooled_spread": v,
            }
        )
    return om, out


def describe(family: str, theta: np.ndarray, mean_a: float) -> dict[str, Any]:
    """A fitted curve's transforms as model.json's ``fit`` description of it."""
    rel = math.exp(float(theta[1]))
    own = {"hill": rel, "exponential": rel / LN2, "logistic": rel / LN3}[family]
    out: dict[str, Any] = {
        "family": family,
        "decay": float(theta[0]),
        "relative_scale": own,
        "relative_half_saturation": rel,
    }
    if family == "hill":
        out["shape"] = math.exp(float(theta[2]))
    out["mean_adstock"] = mean_a
    return out
