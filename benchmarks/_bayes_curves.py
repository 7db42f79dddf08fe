"""The curves-unknown Bayes plans of ``bayes_bound.py``: ``full`` (every transform unknown, under
the generators' own priors: the exact Bayes fitter, a bound) and ``generic`` (the same sampler
and plan under priors a fitter may hold: a candidate design, not a bound).

Each touchpoint's transform is (family, decay, ratio, shape) on a grid: the family among hill,
exponential, logistic; the decay on a grid every 0.001; ``ratio`` the mean adstocked spend
(reference weekly spend ``s`` over ``1 - decay``) over the curve's half-way point ``k`` (hill's
half saturation, exponential's scale, logistic's ``1 / lam``), as the generators draw it; the
hill shape. With the ROI the steady-state ROI at ``s``, a touchpoint's weekly contribution is
``roi x s x f(adstock x (1 - decay) ratio / s) / f(ratio)``, ``f`` the family's unit curve, and
its steady-state curve ``roi x s x f(ratio x / s) / f(ratio)`` does not depend on the decay.

Sampler (``sample``): ``chains`` independent chains from prior draws; per sweep and touchpoint
three joint Metropolis moves of its grid cell and its ROI (the cell: the decay by a reflected
normal step of its index; ratio and shape together by reflected normal steps; the family: one of
the other two, uniformly: all symmetric; the ROI proposed from its conditional Gaussian under
the new cell, cut to the prior's support: exact, and it follows the ROI's strong correlation
with the transform, which moves with the ROI held did not), then the ROI's own draw (``full``:
exact Gibbs from its cut Gaussian x 1 / roi, as ``bayes_bound.gibbs``; ``generic``: two exact
Metropolis steps, an independence proposal from the Gaussian conditional cut at zero and a
random walk in log roi), and for ``generic`` the hierarchy's scale (Metropolis on log tau,
lambda integrated out; then lambda exactly) and the noise sd (exactly: an inverse gamma).
``full`` samples at a fixed noise sd and is importance-reweighted to the exact likelihood and the
baseline-level factor, as ``bayes_bound.posterior``.

The plan (``mixture``): with the curves unknown the posterior expected KPI of a plan is the
mean over the draws of each draw's steady-state curve; the draws are grouped by grid cell
(family, ratio, shape: the decay does not move that curve) into a mixture of at most one curve
per cell, weighted by the cell's share of ``w x roi`` (``w`` the importance weights), and the
package's allocator plans on the mixture (``budgetopt optimize --robust mean``'s machinery: the
expected KPI over a model's draws). Cells below ``PRUNE`` of a touchpoint's total are dropped.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
from scipy.special import log_ndtr

from optimizer.response import curves as C
from optimizer.response.model import ResponseModel, Saturation, TouchpointResponse

FAMILIES = ("hill", "exponential", "logistic")
#: a cell of the mixture below this share of its touchpoint's total is dropped from the plan
PRUNE = 1e-4
#: ``generic``: the fitter's bounds (``optimizer.response.joint``: DECAY_BOUNDS, LOG_REL_BOUNDS,
#: LOG_SHAPE_BOUNDS for concave fits) and its half-way-point ratio per family: ``rel`` (the
#: adstocked spend at half the curve's beta over the mean adstocked spend) is hill's ``k / a``,
#: exponential's ``ln 2 k / a``, logistic's ``ln 3 k / a``
GENERIC_DECAY_MAX = 0.9
GENERIC_REL = (0.1, 30.0)
GENERIC_SHAPE = (0.3, 1.0)
HALF_POINT = (1.0, math.log(2.0), math.log(3.0))


@dataclass
class CurvePrior:
    """The grid prior of one touchpoint's transform (the same for every touchpoint)."""

    fam_logp: np.ndarray  # (3,) log prior of hill, exponential, logistic
    decay_grid: np.ndarray  # (D,)
    decay_logp: np.ndarray  # (D,)
    ratio: np.ndarray  # (3, R): the generators' ratio (mean adstocked spend / k) per family
    ratio_logp: np.ndarray  # (R,)
    shape_grid: np.ndarray  # (S,) hill's shape (the other families ignore it)
    shape_logp: np.ndarray  # (S,)
    describe: str = ""
    step_decay: float = 100.0  # the decay move's sd, in grid points
    step_ratio: float = 1.5
    step_shape: float = 1.0


def midpoints(lo: float, hi: float, n: int) -> np.ndarray:
    """``n`` equal cells' midpoints on [lo, hi]: the midpoint rule of a uniform prior."""
    return lo + (hi - lo) * (np.arange(n) + 0.5) / n


def _decay_grid(decay_max: float) -> tuple[np.ndarray, np.ndarray]:
    """``round(U(0, decay_max), 3)``: every 0.001, the ends at half weight."""
    m = int(round(decay_max * 1000))
    grid = np.round(np.arange(m + 1) / 1000.0, 3)
    w = np.full(m + 1, 1.0 / m)
    w[[0, -1]] = 0.5 / m
    return grid, np.log(w)


def full_prior(regime: str, ratio_points: int = 15, shape_points: int = 4) -> CurvePrior:
    """The generators' own prior: ``random_world`` (low): hill 2/3, exponential 1/6, logistic
    1/6; decay ``round(U(0, 0.7), 3)``; ratio U(0.5, 2); hill shape ``round(U(0.6, 1), 3)``.
    ``high_world``: hill 1/2, exponential 1/4, logistic 1/4; decay ``round(U(0, 0.8), 3)``;
    ratio U(0.3, 2); the same shape. Ratio and shape on midpoint grids (``ratio_points``,
    ``shape_points`` cells), the decay on the generators' exact grid."""
    fam = (2 / 3, 1 / 6, 1 / 6) if regime == "low" else (0.5, 0.25, 0.25)
    r_lo, r_hi = (0.5, 2.0) if regime == "low" else (0.3, 2.0)
    grid, dlogp = _decay_grid(0.7 if regime == "low" else 0.8)
    ratio = midpoints(r_lo, r_hi, ratio_points)
    shape = midpoints(0.6, 1.0, shape_points)
    return CurvePrior(
        np.log(np.array(fam)),
        grid,
        dlogp,
        np.tile(ratio, (3, 1)),
        np.full(ratio_points, -math.log(ratio_points)),
        shape,
        np.full(shape_points, -math.log(shape_points)),
        f"families {'/'.join(f'{p:.3g}' for p in fam)}, decay round(U(0, {grid[-1]:g}), 3), "
        f"ratio U({r_lo:g}, {r_hi:g}) ({ratio_points} cells), shape U(0.6, 1) ({shape_points})",
    )


def generic_prior(rel_points: int = 24, shape_points: int = 6) -> CurvePrior:
    """A fitter's prior: each family 1/3; decay uniform on [0, 0.9] (every 0.001); ``rel``, the
    half-way point over the mean adstocked spend, log-uniform on [0.1, 30]; hill shape
    log-uniform on [0.3, 1] (the fitter's bounds; midpoint grids in the logs)."""
    grid, dlogp = _decay_grid(GENERIC_DECAY_MAX)
    rel = np.exp(midpoints(math.log(GENERIC_REL[0]), math.log(GENERIC_REL[1]), rel_points))
    shape = np.exp(midpoints(math.log(GENERIC_SHAPE[0]), math.log(GENERIC_SHAPE[1]), shape_points))
    return CurvePrior(
        np.full(3, -math.log(3.0)),
        grid,
        dlogp,
        np.array([h / rel for h in HALF_POINT]),
        np.full(rel_points, -math.log(rel_points)),
        shape,
        np.full(shape_points, -math.log(shape_points)),
        f"families 1/3 each, decay U(0, 0.9), rel log-U(0.1, 30) ({rel_points} cells), shape "
        f"log-U(0.3, 1) ({shape_points})",
    )


def on_share(x: np.ndarray) -> float:
    """The share of the weeks with spend (1 for a touchpoint never on: its prior is unmoved)."""
    on = int(np.count_nonzero(np.asarray(x) > 0))
    return on / x.size if on else 1.0


def map_prior(
    rel_points: int = 24, shape_points: int = 6, rel_sd: float | None = None
) -> CurvePrior:
    """The MAP fitter's own prior (``optimizer.response.joint``) on ``generic_prior``'s grids:
    families 1/3 each; decay N(``PRIOR_DECAY``, ``PRIOR_DECAY_SD``) on [0, 0.9]; log rel
    N(``PRIOR_LOG_REL``, ``PRIOR_LOG_REL_SD``) (relative to the operating level when the problem's
    reference spend is the mean over the weeks with spend, as ``prior_centre="operating"``); log
    shape N(``PRIOR_LOG_SHAPE``, ``PRIOR_LOG_SHAPE_SD``) on [0.3, 1]. ``rel_sd``: the log rel's
    sd in place of ``PRIOR_LOG_REL_SD``."""
    from optimizer.response import joint as J

    g = generic_prior(rel_points, shape_points)
    sd_rel = J.PRIOR_LOG_REL_SD if rel_sd is None else rel_sd

    def normal(values: np.ndarray, mu: float, sd: float, base: np.ndarray) -> np.ndarray:
        t = base - 0.5 * ((values - mu) / sd) ** 2
        return t - np.logaddexp.reduce(t)

    return replace(
        g,
        decay_logp=normal(g.decay_grid, J.PRIOR_DECAY, J.PRIOR_DECAY_SD, g.decay_logp),
        ratio_logp=normal(-np.log(g.ratio[0]), J.PRIOR_LOG_REL, sd_rel, g.ratio_logp),
        shape_logp=normal(
            np.log(g.shape_grid), J.PRIOR_LOG_SHAPE, J.PRIOR_LOG_SHAPE_SD, g.shape_logp
        ),
        describe=f"the MAP fitter's priors on generic's grids ({rel_points} rel cells, "
        f"{shape_points} shape; log rel sd {sd_rel:.3g})",
    )


def unit(z: np.ndarray, fam: np.ndarray, shape: np.ndarray) -> np.ndarray:
    """Each family's saturation at ``z`` = adstock / k (rows: one family and shape each)."""
    out = np.empty_like(z)
    for f in range(3):
        m = fam == f
        if not m.any():
            continue
        zf = z[m]
        if f == 0:
            with np.errstate(divide="ignore"):
                p = np.exp(shape[m][:, None] * np.log(zf))
            out[m] = p / (1.0 + p)
        elif f == 1:
            out[m] = -np.expm1(-zf)
        else:
            out[m] = np.tanh(0.5 * zf)
    return out


@dataclass
class CurvesProblem:
    """One world's problem with the transforms unknown: ``y`` (the KPI less what is known of
    it) = sum of each touchpoint's contribution + noise."""

    name: str
    y: np.ndarray  # (n,)
    adstock: list[np.ndarray]  # per touchpoint: its spend's adstock at every grid decay, (D, n)
    ref: np.ndarray  # (k,) the reference weekly spend each ROI is defined at
    prior: CurvePrior
    #: ``full``: the ROIs' log-uniform box; None: ``generic``'s hierarchy, log roi ~ N(lambda,
    #: tau^2), lambda flat, tau half-normal(1)
    roi_box: tuple[float, float] | None
    #: noise sd = ``noise_frac`` x (``base_mean`` + the media's mean); None: unknown, sampled
    #: (Jeffreys prior)
    noise_frac: float | None = None
    base_mean: float = 0.0
    #: log density of the baseline's level given (ROIs, the media's total over the history)
    link: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None
    #: nuisance columns with a flat prior (integrated out: the data projected off their span)
    Z: np.ndarray | None = None
    true_roi: np.ndarray = field(default_factory=lambda: np.zeros(0))
    standin: bool = False
    #: the transform priors learnt across the touchpoints (``LEARNABLE``): each a hierarchy over
    #: the prior's grid instead of the prior itself (``_Hier``, ``_family_dlp``)
    learn: frozenset[str] = frozenset()

    def column(
        self, i: int, fam: np.ndarray, di: np.ndarray, ri: np.ndarray, si: np.ndarray
    ) -> np.ndarray:
        """Touchpoint ``i``'s contribution per unit of ROI at the cells (one row each)."""
        p = self.prior
        d, r, sh = p.decay_grid[di], p.ratio[fam, ri], p.shape_grid[si]
        s = float(self.ref[i])
        z = self.adstock[i][di] * ((1.0 - d) * r / s)[:, None]
        return s * unit(z, fam, sh) / unit(r[:, None], fam, sh)


@dataclass
class CurvePosterior:
    roi: object  # bayes_bound.PosteriorMean of the ROIs
    decays: object  # ... of the decays
    accept: dict[str, float]  # each move's acceptance rate
    #: per touchpoint: the mixture's cells, (family, ratio, shape, coefficient): the posterior
    #: expected steady-state curve is sum coefficient x s x f(ratio x / s) / f(ratio)
    cells: list[list[tuple[int, float, float, float]]]
    ess: float
    fam_share: np.ndarray  # (k, 3) posterior probability of each family


#: the transform priors ``CurvesProblem.learn`` may learn: ``rel`` (the half-way point, in its
#: log), ``decay``, ``shape`` (hill's, in its log): a discretised normal N(mu, tau^2) over the
#: prior's own grid (times the grid's weights), mu uniform over the grid's range and tau
#: log-uniform from 1/50 of it to all of it, learnt per chain by an exact Gibbs draw on a grid of
#: (mu, tau); ``fam``: the family shares under a Dirichlet(1, 1, 1), collapsed
LEARNABLE = ("rel", "decay", "shape", "fam")
HYPER_MU, HYPER_TAU = 30, 14


class _Hier:
    """A learnt prior over one transform's grid (module constants ``LEARNABLE``)."""

    def __init__(self, values: np.ndarray, base_logp: np.ndarray, chains: int) -> None:
        span = float(values.max() - values.min())
        mu = np.linspace(values.min(), values.max(), HYPER_MU)
        tau = np.geomspace(span / 50.0, span, HYPER_TAU)
        z = (values[None, None, :] - mu[:, None, None]) / tau[None, :, None]
        t = base_logp[None, None, :] - 0.5 * z * z
        self.table = t - np.logaddexp.reduce(t, axis=2, keepdims=True)  # (M, T, J)
        self.state = np.zeros((chains, 2), dtype=int)  # each chain's (mu, tau) cell
        self.state[:, 0] = HYPER_MU // 2
        self.state[:, 1] = HYPER_TAU - 1

    def logp(self, idx: np.ndarray) -> np.ndarray:
        """Each chain's prior log mass of grid index ``idx`` (one per chain)."""
        return self.table[self.state[:, 0], self.state[:, 1], idx]

    def update(self, idx: np.ndarray, rng: np.random.Generator) -> None:
        """Each chain's (mu, tau) from its exact conditional given its touchpoints' indices
        ``idx`` (chains, k): Gumbel-max over the hyper-grid."""
        lp = self.table[:, :, idx].sum(axis=3)  # (M, T, chains)
        flat = lp.reshape(-1, lp.shape[2]).T + rng.gumbel(size=(lp.shape[2], lp[:, :, 0].size))
        cell = flat.argmax(axis=1)
        self.state[:, 0], self.state[:, 1] = np.divmod(cell, HYPER_TAU)


def _family_dlp(fam: np.ndarray, i: int, f2: np.ndarray, f0: np.ndarray) -> np.ndarray:
    """Touchpoint ``i``'s family move's prior log ratio under family shares ~ Dirichlet(1, 1, 1)
    integrated out: (n_f2 + 1) / (n_f0 + 1), n counting the chain's other touchpoints."""
    rows = np.arange(len(fam))
    counts = np.stack([(fam == f).sum(axis=1) for f in range(3)], axis=1)
    counts[rows, fam[:, i]] -= 1
    return np.log(counts[rows, f2] + 1.0) - np.log(counts[rows, f0] + 1.0)


def _log_mass(m: np.ndarray, sd: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """log P(lo < N(m, sd^2) < hi), on the side of the mean where the tails keep precision."""
    a, b = (lo - m) / sd, (hi - m) / sd
    flip = a > 0
    a2, b2 = np.where(flip, -b, a), np.where(flip, -a, b)  # a2 < b2, a2 <= 0
    lb, la = log_ndtr(b2), log_ndtr(a2)
    with np.errstate(divide="ignore"):
        return lb + np.log1p(-np.exp(np.minimum(la - lb, 0.0)))


def _reflect(idx: np.ndarray, top: int) -> np.ndarray:
    idx = np.where(idx < 0, -idx - 1, idx)
    idx = np.where(idx > top, 2 * top + 1 - idx, idx)
    return np.clip(idx, 0, top)


def _logprior_roi(lr: np.ndarray, lam: np.ndarray, tau: np.ndarray) -> np.ndarray:
    """log N(log roi; lambda, tau^2) (the density in log roi; rows: chains)."""
    return -0.5 * ((lr - lam) / tau) ** 2


def sample(
    pb: CurvesProblem,
    rng: np.random.Generator,
    chains: int,
    sweeps: int,
    burn: int,
    weighted_mean: Callable[[np.ndarray, np.ndarray], object],
    conditional: Callable[..., np.ndarray],
    truncated_normal: Callable[..., np.ndarray],
) -> CurvePosterior:
    """The posterior of ``pb`` (module doc); ``weighted_mean``, ``conditional`` and
    ``truncated_normal``: ``bayes_bound``'s."""
    p = pb.prior
    n, k = len(pb.y), len(pb.adstock)
    Q = None if pb.Z is None else np.linalg.qr(pb.Z)[0]

    def proj(g: np.ndarray) -> np.ndarray:
        return g if Q is None else g - (g @ Q) @ Q.T

    y = proj(pb.y[None, :])[0]
    fam = rng.choice(3, size=(chains, k), p=np.exp(p.fam_logp))
    di = rng.choice(len(p.decay_grid), size=(chains, k), p=np.exp(p.decay_logp))
    ri = rng.choice(len(p.ratio_logp), size=(chains, k), p=np.exp(p.ratio_logp))
    si = rng.choice(len(p.shape_logp), size=(chains, k), p=np.exp(p.shape_logp))
    tops = (len(p.decay_grid) - 1, len(p.ratio_logp) - 1, len(p.shape_logp) - 1)
    hier = {
        name: _Hier(values, logp, chains)
        for name, values, logp in (
            ("rel", -np.log(p.ratio[0]), p.ratio_logp),
            ("decay", p.decay_grid, p.decay_logp),
            ("shape", np.log(p.shape_grid), p.shape_logp),
        )
        if name in pb.learn
    }

    def dlp_of(name: str, new: np.ndarray, old: np.ndarray, fixed: np.ndarray) -> np.ndarray:
        h = hier.get(name)
        return fixed[new] - fixed[old] if h is None else h.logp(new) - h.logp(old)

    G = np.empty((chains, n, k))
    gmean = np.empty((chains, k))  # each column's mean (unprojected): the media's mean
    for i in range(k):
        g = pb.column(i, fam[:, i], di[:, i], ri[:, i], si[:, i])
        gmean[:, i] = g.mean(axis=1)
        G[:, :, i] = proj(g)
    if pb.roi_box is not None:
        lo, hi = pb.roi_box
        roi = np.exp(rng.uniform(math.log(lo), math.log(hi), size=(chains, k)))
        lam = tau = np.zeros(chains)
    else:
        roi = np.exp(rng.normal(0.0, 0.5, size=(chains, k)))
        lam, tau = np.zeros(chains), np.ones(chains)
    if pb.noise_frac is not None:  # known: run at this sd, reweighted to the exact one below
        kpi_mean = float(pb.y.mean()) if pb.Z is not None else pb.base_mean + float(pb.y.mean())
        sigma = np.full(chains, float(pb.noise_frac) * max(kpi_mean, pb.base_mean))
    else:  # unknown (Jeffreys prior): a Gibbs step each sweep
        sigma = np.full(chains, float(np.std(y)))
    sigma0 = float(sigma[0])
    dof = n - (0 if Q is None else Q.shape[1])
    kept = sweeps - burn
    rec_roi, rec_dec = np.empty((kept, chains, k)), np.empty((kept, chains, k))
    rec_cell = np.empty((kept, chains, k, 3), dtype=np.int32)  # family, ratio, shape indices
    rss, media = np.empty((kept, chains)), np.empty((kept, chains))
    acc = {"decay": 0, "ratio+shape": 0, "family": 0, "roi": 0}

    box = pb.roi_box

    def log_p_roi(r: np.ndarray) -> np.ndarray:
        """The ROI's prior density (in roi, up to a constant)."""
        if box is not None:
            return -np.log(r)
        return -np.log(r) + _logprior_roi(np.log(r), lam, tau)

    def fit_terms(g: np.ndarray, rp: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The ROI's conditional Gaussian given column ``g`` and partial residual ``rp``: its
        mean, sd, and log of (sqrt(2 pi) sd Z exp(gb^2 / (2 sigma^2 gg))), Z its mass on the
        prior's support: the joint move's ratio of target to proposal, less the ROI's prior."""
        gg = np.einsum("cn,cn->c", g, g)
        gb = np.einsum("cn,cn->c", g, rp)
        m, sd = gb / gg, sigma / np.sqrt(gg)
        if box is None:
            log_z = log_ndtr(m / sd)
        else:
            log_z = _log_mass(m, sd, box[0], box[1])
        return m, sd, gb * gb / (2.0 * sigma**2 * gg) + np.log(sd) + log_z

    def move(i: int, f2: np.ndarray, d2: np.ndarray, r2: np.ndarray, s2: np.ndarray,
             dlp: np.ndarray, e: np.ndarray) -> np.ndarray:  # fmt: skip
        """A joint Metropolis move of touchpoint ``i``'s cell (the proposal given) and its ROI
        (proposed from its conditional Gaussian under the new cell, cut to the prior's support):
        exact, and it follows the ROI's correlation with the transform."""
        g = pb.column(i, f2, d2, r2, s2)
        g_mean, g = g.mean(axis=1), proj(g)
        rp = e + G[:, :, i] * roi[:, i, None]
        _, _, t_old = fit_terms(G[:, :, i], rp)
        m, sd, t_new = fit_terms(g, rp)
        lo_, hi_ = (1e-12, math.inf) if box is None else box
        r_new = np.clip(truncated_normal(m, sd, lo_, hi_, rng), lo_, hi_)
        log_a = dlp + t_new - t_old + log_p_roi(r_new) - log_p_roi(roi[:, i])
        ok = np.log(rng.random(chains)) < log_a
        fam[ok, i], di[ok, i], ri[ok, i], si[ok, i] = f2[ok], d2[ok], r2[ok], s2[ok]
        G[ok, :, i], gmean[ok, i], roi[ok, i] = g[ok], g_mean[ok], r_new[ok]
        e[ok] = rp[ok] - g[ok] * r_new[ok, None]
        return ok

    for sweep in range(sweeps):
        e = y[None, :] - np.einsum("cnk,ck->cn", G, roi)  # afresh each sweep: no drift
        for i in range(k):
            f0, d0, r0, s0 = fam[:, i].copy(), di[:, i].copy(), ri[:, i].copy(), si[:, i].copy()
            d2 = _reflect(
                d0 + np.rint(p.step_decay * rng.standard_normal(chains)).astype(int), tops[0]
            )
            ok = move(i, f0, d2, r0, s0, dlp_of("decay", d2, d0, p.decay_logp), e)
            acc["decay"] += int(ok.sum())
            d0 = di[:, i].copy()
            r2 = _reflect(
                r0 + np.rint(p.step_ratio * rng.standard_normal(chains)).astype(int), tops[1]
            )
            s2 = _reflect(
                s0 + np.rint(p.step_shape * rng.standard_normal(chains)).astype(int), tops[2]
            )
            dlp = dlp_of("rel", r2, r0, p.ratio_logp) + dlp_of("shape", s2, s0, p.shape_logp)
            acc["ratio+shape"] += int(move(i, f0, d0, r2, s2, dlp, e).sum())
            r0, s0 = ri[:, i].copy(), si[:, i].copy()
            f2 = (f0 + 1 + rng.integers(0, 2, size=chains)) % 3
            dlp = (
                _family_dlp(fam, i, f2, f0)
                if "fam" in pb.learn
                else p.fam_logp[f2] - p.fam_logp[f0]
            )
            acc["family"] += int(move(i, f2, d0, r0, s0, dlp, e).sum())
            g = G[:, :, i]
            gg = np.einsum("cn,cn->c", g, g)
            m = roi[:, i] + np.einsum("cn,cn->c", g, e) / gg
            sd = sigma / np.sqrt(gg)
            if pb.roi_box is not None:
                new = conditional(m, sd, pb.roi_box[0], pb.roi_box[1], rng)
                acc["roi"] += chains
            else:
                new = _roi_hier(roi[:, i], m, sd, lam, tau, rng, truncated_normal, acc)
            e += g * (roi[:, i] - new)[:, None]
            roi[:, i] = new
        if pb.roi_box is None:  # the hierarchy
            lam, tau = _hyper(np.log(roi), tau, rng)
        for name, h in hier.items():  # the learnt transform priors
            h.update({"rel": ri, "decay": di, "shape": si}[name], rng)
        if pb.noise_frac is None:  # the noise
            ee = np.einsum("cn,cn->c", e, e)
            sigma = np.sqrt(ee / rng.chisquare(dof, size=chains))
        if sweep >= burn:
            j = sweep - burn
            rec_roi[j], rec_dec[j] = roi, p.decay_grid[di]
            rec_cell[j] = np.stack([fam, ri, si], axis=2)
            rss[j] = np.einsum("cn,cn->c", e, e)
            media[j] = (gmean * roi).sum(axis=1)
    logw = np.zeros((kept, chains))
    if pb.noise_frac is not None:
        sig = pb.noise_frac * (pb.base_mean + media)
        logw += -n * np.log(sig / sigma0) - rss / (2 * sig**2) + rss / (2 * sigma0**2)
    if pb.link is not None:
        logw += pb.link(rec_roi.reshape(-1, k), n * media.ravel()).reshape(kept, chains)
    post = weighted_mean(rec_roi, logw)
    w = np.exp(logw - logw.max()).ravel()
    total = float(w.sum())
    cells, shares = [], np.zeros((k, 3))
    flat_cell = rec_cell.reshape(-1, k, 3)
    flat_roi = rec_roi.reshape(-1, k)
    for i in range(k):
        c = flat_cell[:, i, :].copy()
        c[c[:, 0] != 0, 2] = 0  # the shape is hill's only
        keys, inv = np.unique(c, axis=0, return_inverse=True)
        coef = np.bincount(inv.ravel(), weights=w * flat_roi[:, i], minlength=len(keys)) / total
        mass = np.bincount(inv.ravel(), weights=w, minlength=len(keys)) / total
        for f in range(3):
            shares[i, f] = mass[keys[:, 0] == f].sum()
        keep = coef >= PRUNE * coef.sum()
        cells.append(
            [
                (int(kk[0]), float(p.ratio[kk[0], kk[1]]), float(p.shape_grid[kk[2]]), float(a))
                for kk, a in zip(keys[keep], coef[keep], strict=True)
            ]
        )
    per = sweeps * chains * k
    ess = total**2 / float((w * w).sum()) / w.size
    return CurvePosterior(
        post,
        weighted_mean(rec_dec, logw),
        {name: v / per for name, v in acc.items()},
        cells,
        ess,
        shares,
    )


def _roi_hier(
    roi: np.ndarray,
    m: np.ndarray,
    sd: np.ndarray,
    lam: np.ndarray,
    tau: np.ndarray,
    rng: np.random.Generator,
    truncated_normal: Callable[..., np.ndarray],
    acc: dict[str, int],
) -> np.ndarray:
    """Two exact Metropolis steps of one ROI (rows: chains) under the Gaussian likelihood
    N(roi; m, sd^2) and the prior log roi ~ N(lambda, tau^2): an independence proposal from the
    Gaussian cut to (0, inf) (accepted at the ratio of the prior densities in roi), then a
    random walk in log roi (sd 0.7 min(tau, 1))."""
    lo = 1e-9
    prop = truncated_normal(m, sd, lo, math.inf, rng)
    prop = np.maximum(prop, lo)

    def lprior(r: np.ndarray) -> np.ndarray:  # the density in roi
        return -np.log(r) + _logprior_roi(np.log(r), lam, tau)

    ok = np.log(rng.random(len(roi))) < lprior(prop) - lprior(roi)
    roi = np.where(ok, prop, roi)
    acc["roi"] += int(ok.sum())
    lr = np.log(roi)
    lp = lr + 0.7 * np.minimum(tau, 1.0) * rng.standard_normal(len(roi))

    def ltarget(lx: np.ndarray) -> np.ndarray:  # in log roi: the Jacobian cancels 1 / roi
        r = np.exp(lx)
        return -0.5 * ((r - m) / sd) ** 2 + _logprior_roi(lx, lam, tau)

    ok = np.log(rng.random(len(roi))) < ltarget(lp) - ltarget(lr)
    return np.where(ok, np.exp(lp), roi)


def _hyper(
    lr: np.ndarray, tau: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """The hierarchy's (lambda, tau) given the log ROIs (rows: chains): tau by a Metropolis step
    on log tau of p(tau | log roi), lambda integrated out under its flat prior
    (``tau^-(k-1) exp(-S / (2 tau^2))`` x half-normal(1)), then lambda ~ N(mean, tau^2 / k)."""
    k = lr.shape[1]
    bar = lr.mean(axis=1)
    S = ((lr - bar[:, None]) ** 2).sum(axis=1)

    def lt(t: np.ndarray) -> np.ndarray:  # in log tau (the Jacobian: + log tau)
        return -0.5 * t * t - (k - 2) * np.log(t) - S / (2.0 * t * t)

    prop = tau * np.exp(0.3 * rng.standard_normal(len(tau)))
    ok = np.log(rng.random(len(tau))) < lt(prop) - lt(tau)
    tau = np.where(ok, prop, tau)
    return bar + tau / math.sqrt(k) * rng.standard_normal(len(tau)), tau


def adstock_table(x: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """The geometric adstock (zero start, the truth's transform) of ``x`` at every decay."""
    return np.asarray(C.geometric_adstock(np.repeat(x[:, None], len(grid), axis=1), grid)).T  # type: ignore[arg-type]


def mixture(
    truth: ResponseModel, ref: np.ndarray, cells: list[list[tuple[int, float, float, float]]]
) -> ResponseModel:
    """The model whose mean over its draws is the posterior expected steady-state curve of
    each touchpoint: one draw per cell, ``beta`` = D x the cell's coefficient x s / f(ratio)
    (the allocator averages the D draws with weight 1 / D); touchpoints with fewer cells split
    their heaviest into halves until every touchpoint has D (the same mixture)."""
    d = max(len(c) for c in cells)
    tps = {}
    for (tid, tp), s, cs in zip(truth.touchpoints.items(), ref, cells, strict=True):
        cs = sorted(cs, key=lambda c: c[3])
        while len(cs) < d:
            f, r, sh, a = cs.pop()
            cs = sorted([*cs, (f, r, sh, a / 2), (f, r, sh, a / 2)], key=lambda c: c[3])
        draws = []
        for f, r, sh, a in cs:
            u = float(unit(np.array([[r]]), np.array([f]), np.array([sh]))[0, 0])
            beta = d * a * float(s) / u
            k = float(s) / r
            params = {
                0: {"beta": beta, "half_saturation": k, "shape": sh},
                1: {"beta": beta, "scale": k},
                2: {"beta": beta, "lam": 1.0 / k},
            }[f]
            draws.append((Saturation(FAMILIES[f], params), None))
        point = draws[-1][0]
        tps[tid] = replace(
            TouchpointResponse(tid, tp.stage, point, None, tp.spend_range), draws=tuple(draws)
        )
    return ResponseModel(truth.kpi, tps)
