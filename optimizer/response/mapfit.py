"""The MAP fit of every touchpoint's transforms (``joint``), its family choice, the empirical-Bayes
pooling strength, and Laplace draws around it.

Steps (``map_fit``):

1. Start from the grid search's winner (converted to the continuous parameters) and from the
   prior's centre; keep the better MAP (multi-start).
2. Family choice: for each touchpoint, biggest spender first, every other family is fitted with
   that touchpoint's transforms free (the others held) and kept when it lowers the Bayesian
   information criterion ``cost / sigma^2 + k ln n`` (``k`` the transform count: hill 3, others 2).
3. Empirical Bayes: the pooling weight of the marginal ROIs maximises the marginal likelihood
   (``joint.pooling_weight``) at the current transforms; the transforms are refitted with it
   (twice: start, after the family pass).
4. Laplace: the Gauss-Newton Hessian of the MAP objective in every transform, beta and the pooled
   value gives a Gaussian posterior; draws are cut to the bounds (betas >= 0). A draw may take a
   pooling weight of its own (``omegas``: from the weight's posterior, ``poolpost``), its centre and
   Hessian then the Gaussian's at that weight.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from optimizer.response import decayprior as DPR
from optimizer.response import joint as J
from optimizer.response import logpool as LP
from optimizer.response import poolpost as PP
from optimizer.response import relprior as RPR
from optimizer.response import startup as ST
from optimizer.response.design import CurveShape
from optimizer.response.mapsetup import (
    MapData,
    base_coefs,
    column_scale,
    design_data,
    problem_at_map,
)

if TYPE_CHECKING:
    from optimizer.response.decay_profile import DecayProfile


#: Where the intervals' Laplace draws are centred: the point curves ("point") or the MAP before
#: ``posterior_mean_point`` ("map"; a dev switch of ``fit_dev.py``, measured in
#: docs/response-models.md: a little more coverage, a worse robust plan).
INTERVAL_CENTRE = "point"
#: The bootstrap (lift tests) draws its bands' draws over the pooling weight's posterior too
#: (``mapboot.py``; model.json ``band_draws``) under ``pool_draws`` "intervals" or "all": a dev
#: switch of the measurement (docs/response-models-measured.md, "The bands' draws")
BOOT_BANDS = True


def theta_of(c: CurveShape) -> tuple[str, np.ndarray]:
    """Continuous transforms of a grid candidate (the half point relative to mean adstock)."""
    if c.family == "hill":
        return "hill", np.array([c.decay, math.log(c.rel), math.log(c.shape)])
    if c.family == "exponential":
        return "exponential", np.array([c.decay, math.log(c.rel * J.LN2)])
    return "logistic", np.array([c.decay, math.log(c.rel * J.LN3)])


def convert(theta: np.ndarray, old: str, new: str) -> np.ndarray:
    """Transforms of family ``old`` as a start for family ``new`` (same decay and half point)."""
    if new == "hill":
        ls = float(theta[2]) if old == "hill" else 0.0
        return np.array([theta[0], theta[1], ls])
    return np.array([theta[0], theta[1]])


def default_theta(family: str) -> np.ndarray:
    return np.array([J.PRIOR_DECAY, J.PRIOR_LOG_REL, J.PRIOR_LOG_SHAPE][: J.n_params(family)])


@dataclass
class MapFit:
    """The result: per touchpoint family and transforms, the coefficients and what decided them."""

    families: list[str]
    theta: list[np.ndarray]
    beta: np.ndarray  # media columns then nuisance groups
    base: np.ndarray  # baseline coefficients, original units
    pooled: float
    omega: float
    sigma: float
    mean_ad: np.ndarray
    eb: dict[str, float]
    cost: float
    yhat_rows: np.ndarray
    draws: list[tuple[list[np.ndarray], np.ndarray]] = field(default_factory=list)
    family_switches: int = 0
    nfev: int = 0
    #: per touchpoint, minus twice the log marginal likelihood of each family tried (the family
    #: choice's; empty where it did not run)
    family_lml: list[dict[str, float]] = field(default_factory=list)
    rows: np.ndarray | None = None  # the weeks of the likelihood (None: all)
    carry: tuple[float, ...] = ()  # weekly spend before the history (``startup``; (): none)
    start: dict[str, Any] = field(default_factory=dict)  # ``startup.fit_start``'s choice
    prior_centre: str = "mean"  # where the half-saturation prior sits (``joint.prior_of``)
    #: the pooling weight's posterior (``poolpost.omega_posterior``: grid, weights; empty: not
    #: computed, or nothing pooled)
    omega_grid: tuple[float, ...] = ()
    omega_weights: tuple[float, ...] = ()
    #: each touchpoint's decay prior sd (``decayprior``; (): ``joint.PRIOR_DECAY_SD`` for all)
    decay_sd: tuple[float, ...] = ()
    decay_prior: dict[str, Any] = field(default_factory=dict)  # what chose it (diagnostics)
    #: each touchpoint's decay prior centre (``map_fit(decay_priors=...)``; (): ``PRIOR_DECAY``)
    decay_mu: tuple[float, ...] = ()
    rel_sd: float = 0.0  # the half-saturation prior's sd (``relprior``; 0: ``PRIOR_LOG_REL_SD``)
    rel_prior: dict[str, Any] = field(default_factory=dict)  # what chose it (diagnostics)


def map_fit(
    data: MapData,
    starts: Sequence[CurveShape],
    families: Sequence[str],
    rows: np.ndarray,
    sigma: float,
    *,
    warm: MapFit | None = None,
    choose_family: bool = True,
    pool: bool = True,
    report: Callable[[str, int, int], None] | None = None,
    pool_evidence: str = "argmax",
    carry: Sequence[float] = (),
    prior_centre: str = "mean",
    omega_posterior: bool = False,
    decay_prior: str = "fixed",
    decay_priors: Sequence[tuple[float, float] | None] = (),
    rel_prior: str = "fixed",
) -> MapFit:
    """The MAP fit on the weeks ``rows`` (see the module docstring); ``warm``: start from a
    previous fit (the training weeks' fit for the all-weeks one) and keep its families and decay
    priors; ``omega_posterior``: keep the pooling weight's posterior too (``poolpost``);
    ``decay_prior``: how the decay prior's sd is chosen (``decayprior.choose``);
    ``decay_priors``: per touchpoint, its decay prior's (centre, sd), None for the default
    (``shared_decay``: the markets' pooled carry-over); ``rel_prior``: how the half-saturation
    prior's sd is chosen (``relprior.choose``)."""
    fr = data.frame(rows)
    Z, y, G = data.Z, data.y, data.G
    fams = list(warm.families) if warm is not None else [theta_of(c)[0] for c in starts]
    carry = tuple(warm.carry if warm is not None else carry) or (0.0,) * len(data.xs)
    tps = data.tps(fams, carry)
    pw, s_curves = data.prior_weight, data.s_curves
    p = J.Problem(tps, rows, fr, G, sigma, 0.0, pw, s_curves, rel_centre=prior_centre)
    theta0 = (
        [t.copy() for t in warm.theta] if warm is not None else [theta_of(c)[1] for c in starts]
    )
    nfev = 0
    # scale of each column for the stabiliser, fixed for the fit (the starting shapes')
    p.scale = column_scale(p, theta0)
    eb: dict[str, float] = {}
    post: tuple[tuple[float, ...], tuple[float, ...]] = ((), ())
    if warm is not None and pool:
        p.omega = warm.omega
    if warm is not None and warm.decay_sd:
        p.decay_sd = np.array(warm.decay_sd, dtype=float)
    if warm is not None and warm.decay_mu:
        p.decay_mu = np.array(warm.decay_mu, dtype=float)
    p.rel_sd = warm.rel_sd if warm is not None else 0.0
    if warm is None and any(dp is not None for dp in decay_priors):
        dflt = (J.PRIOR_DECAY, J.PRIOR_DECAY_SD)
        pri = [dflt if dp is None else dp for dp in decay_priors]
        p.decay_mu = np.array([float(c) for c, _ in pri])
        p.decay_sd = np.array([float(sd) for _, sd in pri])
    sol = J.fit(p, theta0)
    nfev += sol.nfev
    if warm is None and tps:
        alt = J.fit(p, [np.array(J.prior_at(p, j)[0]) for j in range(len(tps))])
        nfev += alt.nfev
        if alt.cost < sol.cost:
            sol = alt
    switches = 0
    lml: list[dict[str, float]] = [{} for _ in tps]
    if choose_family and warm is None and len(families) > 1 and tps:
        order = sorted(range(len(tps)), key=lambda j: -float(tps[j].x.sum()))
        for j in order:
            if float(sol.inner.w[j]) <= 0:
                continue
            best = J.log_ml_local(p, sol, j)
            lml[j][p.tps[j].family] = best
            for fam in families:
                if fam == p.tps[j].family:
                    continue
                trial_tps = list(p.tps)
                trial_tps[j] = replace(p.tps[j], family=fam)
                q = replace(p, tps=trial_tps)
                th = list(sol.theta)
                th[j] = convert(sol.theta[j], p.tps[j].family, fam)
                cand = J.fit(q, th, free=[j], max_nfev=50)
                nfev += cand.nfev
                b = J.log_ml_local(q, cand, j)
                lml[j][fam] = b
                if b < best - 1e-9:
                    best, sol, p = b, cand, q
                    switches += 1
        if switches:
            sol = J.fit(p, sol.theta)
            nfev += sol.nfev
    d_info: dict[str, Any] = dict(warm.decay_prior) if warm is not None else {}
    if warm is None and decay_prior != "fixed":
        p, sol, d_info = DPR.choose(p, sol, decay_prior)
    r_info: dict[str, Any] = dict(warm.rel_prior) if warm is not None else {}
    if warm is None and rel_prior != "fixed":
        p, sol, r_info = RPR.choose(p, sol, rel_prior)
    if pool and p.tps:
        # the pooling strength from the evidence at the transforms fitted without pooling (at
        # pooled transforms the curves have already bent to agree, and the evidence would
        # always ask for more pooling)
        free = replace(p, omega=0.0)
        unpooled = J.fit(free, sol.theta) if p.omega > 0 else sol
        nfev += unpooled.nfev if p.omega > 0 else 0
        p.omega, eb = J.pooling_weight(free, unpooled.theta, pool_evidence)
        if omega_posterior:
            post = PP.omega_posterior(free, unpooled.theta)
        sol = J.fit(p, unpooled.theta)
        nfev += sol.nfev
    cols = sol.inner.cols
    width = p.width
    beta = sol.inner.w[:width]
    Mfull = np.hstack([cols.M, G])
    base = base_coefs(fr, Mfull[rows], beta)
    yhat = Z @ base + Mfull @ beta
    res = y[rows] - yhat[rows]
    dof = max(len(rows) - Z.shape[1] - int((beta > 0).sum()) - sum(tp.k for tp in p.tps), 1)
    sigma_hat = math.sqrt(float(res @ res) / dof)
    return MapFit(
        [tp.family for tp in p.tps],
        [np.asarray(t) for t in sol.theta],
        beta,
        base,
        sol.inner.pooled,
        p.omega,
        sigma_hat,
        cols.mean_ad,
        eb,
        sol.cost,
        yhat,
        family_switches=switches,
        nfev=nfev,
        family_lml=lml if warm is None else list(warm.family_lml),
        rows=rows,
        carry=carry,
        prior_centre=prior_centre,
        omega_grid=post[0],
        omega_weights=post[1],
        decay_sd=tuple(float(v) for v in p.decay_sd),
        decay_prior=d_info,
        decay_mu=tuple(float(v) for v in p.decay_mu),
        rel_sd=p.rel_sd,
        rel_prior=r_info,
    )


def _gaussian(
    p: J.Problem, theta: Sequence[np.ndarray]
) -> tuple[J.Inner, np.ndarray, np.ndarray, int]:
    """The Laplace approximation's pieces at transforms ``theta`` and ``p``'s pooling weight: the
    inner solution, the Gauss-Newton Hessian ``J'J`` of every residual row (weeks, pooling, lift
    tests, prior) in the transforms, betas and pooled value, its Cholesky factor, and the number
    of transforms."""
    tps = p.tps
    inner = J.solve_inner(p, theta)
    A = inner.A
    nt = sum(tp.k for tp in tps)
    _, dpr = J._prior(p, theta)
    Jm = np.zeros((A.shape[0] + nt, nt + A.shape[1]))
    at = 0
    for j, tp in enumerate(tps):
        D = J._dA_w(p, inner, j)  # zero at beta 0: the prior alone holds the transforms
        Jm[: A.shape[0], at : at + tp.k] = D
        Jm[A.shape[0] + at + np.arange(tp.k), at + np.arange(tp.k)] = dpr[at : at + tp.k]
        at += tp.k
    Jm[: A.shape[0], nt:] = A
    H = Jm.T @ Jm
    H[np.diag_indices_from(H)] += 1e-12 * max(float(np.trace(H)) / H.shape[0], 1e-300)
    try:
        Lc = np.linalg.cholesky(H)
    except np.linalg.LinAlgError:
        evals, evecs = np.linalg.eigh(H)
        H = evecs @ np.diag(np.maximum(evals, 1e-9 * evals.max())) @ evecs.T
        Lc = np.linalg.cholesky(H)
    return inner, H, Lc, nt


def laplace_draws(
    fit: MapFit,
    data: MapData,
    n_draws: int,
    seed: int,
    *,
    inflate: float = 1.0,
    unbounded_zeros: bool = False,
    profiles: Sequence[DecayProfile] = (),
    temperature: float = 1.0,
    marginal_space: bool = False,
    log_marginal: bool = False,
    conditional: bool = False,
    fixed_transforms: bool = False,
    omegas: np.ndarray | None = None,
) -> tuple[list[tuple[list[np.ndarray], np.ndarray]], dict[str, Any]]:
    """Draws of (transforms, betas) from the Laplace approximation of the posterior at the MAP
    ``fit`` (all weeks): Gaussian with covariance ``sigma^2 (J'J)^-1``, ``J`` the Jacobian of
    every residual row (weeks, pooling, lift tests, prior) in the transforms, betas and pooled
    value; cut to the transforms' bounds and betas >= 0. ``inflate`` scales the sd.

    ``marginal_space``: Gaussian in the transforms and each touchpoint's marginal response at
    its mean spend instead of the betas (``joint.in_marginal_space``); ``log_marginal``: the
    same step read in the log of that marginal response (log-normal around the MAP's);
    ``conditional``: the betas re-solved at each draw's transforms (``joint.in_conditional``);
    ``fixed_transforms``: the transforms held at the centre and the coefficients drawn from their
    conditional law given them, ``N(w_hat, sigma^2 H_ww^-1)``. ``omegas``: each draw's own
    pooling weight (``poolpost.draw_omegas``; None: every draw at ``fit.omega``): a draw's
    centre (the betas re-solved at the fit's transforms) and spread are the Gaussian's at its
    weight, its standard normals the same as without (``profiles``: each weight's group of draws
    takes the profiles' decays from a seed of its own)."""
    p, _ = problem_at_map(fit, data)
    inner, H, Lc, nt = _gaussian(p, fit.theta)
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(7,)))
    z = rng.standard_normal((n_draws, H.shape[0]))
    sd = np.sqrt(np.diag(np.linalg.inv(H))) * fit.sigma
    summary = {"posterior_sd_transforms": [float(v) for v in sd[:nt]]}
    if omegas is None:
        return _draws_at(p, fit, inner, H, Lc, nt, z, seed, inflate, unbounded_zeros, profiles,
                         temperature, marginal_space, log_marginal, conditional,
                         fixed_transforms), summary  # fmt: skip
    om = np.asarray(omegas, dtype=float)
    out: list[Any] = [None] * n_draws
    for gi, w in enumerate(np.unique(om)):
        idx = np.flatnonzero(om == w)
        q = replace(p, omega=float(w))
        g = (inner, H, Lc) if float(w) == fit.omega else _gaussian(q, fit.theta)[:3]
        # the decay profiles' own draws: a seed of each weight's group, from ``seed``
        g_seed = int(np.random.SeedSequence([seed, 13, gi]).generate_state(1)[0])
        got = _draws_at(q, fit, *g, nt, z[idx], g_seed, inflate, unbounded_zeros, profiles,
                        temperature, marginal_space, log_marginal, conditional,
                        fixed_transforms)  # fmt: skip
        for b, d in zip(idx, got, strict=True):
            out[int(b)] = d
    return out, summary


def _draws_at(
    p: J.Problem,
    fit: MapFit,
    inner: J.Inner,
    H: np.ndarray,
    Lc: np.ndarray,
    nt: int,
    z: np.ndarray,
    seed: int,
    inflate: float,
    unbounded_zeros: bool,
    profiles: Sequence[DecayProfile],
    temperature: float,
    marginal_space: bool,
    log_marginal: bool,
    conditional: bool,
    fixed_transforms: bool,
) -> list[tuple[list[np.ndarray], np.ndarray]]:
    """``laplace_draws``'s draws from the standard normals ``z`` around ``fit``'s transforms and
    ``inner``'s coefficients, Hessian ``H`` (Cholesky ``Lc``), on ``p``."""
    tps = p.tps
    A = inner.A
    n_draws = z.shape[0]
    # phi = phi_hat + sigma * L^-T z has covariance sigma^2 H^-1
    steps = np.linalg.solve(Lc.T, z.T).T * fit.sigma * inflate
    centre = np.concatenate([*fit.theta, inner.w])
    # ``unbounded_zeros``: a beta the non-negative fit holds at zero is centred where the data put
    # it without the bound (a Newton step in those betas alone, the rest held): evidence of no
    # effect leaves its draws at zero, a beta the data barely place keeps mass above it. Used for
    # the point curves' draws; the intervals' draws keep the centre at zero (measured on
    # fit_recovery's high-information worlds, 8 touchpoints: 80%-coverage 73% -> 71% with it)
    zero = np.flatnonzero(inner.w[: p.width] <= 0) if unbounded_zeros else np.zeros(0, int)
    if zero.size:
        g = A[:, zero].T @ inner.r
        centre[nt + zero] -= np.linalg.solve(H[np.ix_(nt + zero, nt + zero)], g)
    if fixed_transforms:  # the coefficients' law given the transforms: H_ww^-1
        Lw = np.linalg.cholesky(H[nt:, nt:])
        steps = np.zeros_like(steps)
        steps[:, nt:] = np.linalg.solve(Lw.T, z[:, nt:].T).T * fit.sigma * inflate
    phis = centre + steps
    if profiles and not fixed_transforms:  # fixed: the transforms stay the point curves'
        from optimizer.response.decay_profile import profile_mix

        phis = profile_mix(phis, centre, steps, H, tps, nt, profiles, seed, temperature)
    out: list[tuple[list[np.ndarray], np.ndarray]] = []
    K = np.linalg.solve(H[nt:, nt:], H[nt:, :nt]) if conditional else None
    for b in range(n_draws):
        phi = phis[b]
        th: list[np.ndarray] = []
        at = 0
        for j, tp in enumerate(tps):
            lo, hi = J.bounds(p, j)
            th.append(np.clip(phi[at : at + tp.k], lo, hi))
            at += tp.k
        if marginal_space or log_marginal:
            phi = J.in_marginal_space(tps, inner, centre, phi, th, log=log_marginal)
        elif K is not None:
            phi = J.in_conditional(p, centre, phi, th, K)
        beta = np.maximum(phi[nt : nt + p.width], 0.0)
        out.append((th, beta))
    return out


def _map_kwargs(
    pool_evidence: str, prior_centre: str, decay_prior: str, rel_prior: str, omega_post: bool
) -> dict[str, Any]:
    """``map_fit``'s options of both of ``refit_map``'s fits (training weeks, all weeks);
    ``omega_post``: the pooling weight's posterior too, for the draws (``poolpost``)."""
    kw: dict[str, Any] = {
        "pool_evidence": pool_evidence,
        "prior_centre": prior_centre,
        "decay_prior": decay_prior,
        "rel_prior": rel_prior,
    }
    if omega_post:
        kw["omega_posterior"] = True
    return kw


def refit_map(
    d: Any,
    sr: Any,
    *,
    seed: int,
    n_bootstrap: int,
    prior_weight: float,
    allow_s_curves: bool,
    report: Callable[[str, int, int], None],
    inflate: float = 1.0,
    families: Sequence[str] | None = None,
    uncertainty: str = "auto",
    block_weeks: int = 8,
    executor: Any = None,
    point: str = "mean",
    perturb: bool = True,
    average_families: bool = False,
    pool_evidence: str = "argmax",
    decay_posterior: str = "laplace",
    laplace_space: str = "beta",
    interval_scale: str = "linear",
    interval_space: str | None = None,
    plan_space: str | None = None,
    n_interval_draws: int | None = None,
    plan_inflate: float | None = None,
    pool_space: str = "linear",
    burn_in: int | None = None,
    initial_carryover: str = "fitted",
    prior_centre: str = "mean",
    pool_draws: str = "none",
    decay_prior: str = "fixed",
    decay_priors: Mapping[str, tuple[float, float]] | None = None,
    decay_profile: bool = False,
    rel_prior: str = "fixed",
) -> Any:
    """The MAP method (default): ``map_fit`` on the training weeks (holdout errors), then on all
    weeks from there, and Laplace draws around it (``d``: a ``prepare.Design``, ``sr``: the grid
    search's result, the first start)."""
    from optimizer.response import families as FA
    from optimizer.response.families import (
        MIN_FAMILY_WEIGHT,
        Mixture,
        family_mixture,
        mixture_draws,
    )
    from optimizer.response.mapboot import MapBootstrap, run_map_bootstrap
    from optimizer.response.model import Adstock, Saturation
    from optimizer.response.pointcurves import POINT_DRAWS, posterior_mean_point
    from optimizer.response.report import Fitted, _mape, _nrmse

    X, y, n, n_train = d.X, d.y, d.n, d.n_train
    searched = d.searched
    data = design_data(d, float(prior_weight), bool(allow_s_curves))
    starts = [d.grid[sr.choice[i]] for i in searched]
    sigma0 = d.noise_sd(sr.choice, np.arange(n_train))
    fams = tuple(families) if families is not None else d.fams
    report("refit", 0, 2)
    mape_ho = nrmse_ho = None
    map_kw = _map_kwargs(pool_evidence, prior_centre, decay_prior, rel_prior, pool_draws != "none")
    if decay_priors:  # each searched touchpoint's (centre, sd), None for the default
        map_kw["decay_priors"] = tuple(decay_priors.get(d.tps[i].id) for i in searched)
    start = ST.starter(map_fit, initial_carryover)  # the history's start: zero, or profiled
    warm = None
    if d.holdout > 0:
        tr = ST.likelihood_rows(n_train, burn_in)
        warm = start(data, starts, fams, tr, sigma0, **map_kw)
        mape_ho = _mape(y[n_train:], warm.yhat_rows[n_train:])
        nrmse_ho = _nrmse(y[n_train:], warm.yhat_rows[n_train:])
    report("refit", 1, 2)
    rows = ST.likelihood_rows(n, burn_in)
    sigma = warm.sigma if warm is not None else sigma0
    fit = start(data, starts, fams, rows, sigma, warm=warm, **map_kw)
    report("refit", 2, 2)
    if uncertainty == "auto":
        # Laplace draws, but a bootstrap of the fit with the tests' lifts perturbed when lift
        # tests are used: a tested touchpoint the history barely informs sits where the
        # Gaussian approximation is poor (measured: the Laplace draws' spread of a tested
        # touchpoint's lift was 3.9 times the test's standard error, the bootstrap's about 1)
        uncertainty = "bootstrap" if d.used else "laplace"
    space_kw = {"marginal_space": laplace_space == "marginal"}
    mix: Mixture | None = None
    if average_families and searched:
        mix, _ = family_mixture(fit, data)
    from optimizer.response import decay_profile as DP
    from optimizer.response import drawsets as DS

    profiles: list[DecayProfile] = []
    if decay_posterior == "grid" and searched and uncertainty == "laplace" and not average_families:
        profiles = DP.fit_profiles(fit, data)
    at_map = fit
    profile_lik: dict[str, Any] = {}
    if decay_profile and searched:  # shared_decay: what the markets' fits pool
        from optimizer.response import shared_decay as SD

        profile_lik = SD.profile_likelihoods(fit, data, [d.tps[i].id for i in searched])
    if point == "mean" and searched:
        point_kw: dict[str, Any] = {**space_kw, "inflate": 1.0, "unbounded_zeros": True}
        # inflate 1: the posterior itself (the draws' inflation is for honest intervals)
        mix_point = FA.MIXTURE_POINT if mix is not None else "closest"
        if mix_point not in FA.MIXTURE_POINTS:
            raise ValueError(f"MIXTURE_POINT {mix_point!r}: expected one of {FA.MIXTURE_POINTS}")
        if mix is not None and mix_point != "unmixed":
            avg, avg_fams, _ = mixture_draws(fit, mix, data, POINT_DRAWS, 0, **point_kw)
        else:
            point_profiles = profiles if DP.PROFILE_USE in ("both", "point") else ()
            avg, _ = laplace_draws(fit, data, POINT_DRAWS, 0, **point_kw, profiles=point_profiles)
            avg_fams = None
        fit = posterior_mean_point(
            fit,
            avg,
            data,
            keep=[bool(t) for t in data.tests],
            draw_families=avg_fams,
            candidates=(
                None
                if mix is None or mix_point not in ("closest", "observed")
                else [{f: c[0] for f, c in m.items()} for m in mix]
            ),
            choose_observed=mix_point == "observed",
        )
    draws_raw: list[tuple[list[np.ndarray], np.ndarray]] = []
    draw_fams: list[list[str]] | None = None
    lap: dict[str, Any] = {}
    shown_raw: tuple[Any, ...] = ()  # the intervals' own draws, their families, coordinates
    roi_raw: tuple[Any, ...] = ()  # the ROI interval's draws (drawsets.roi_set), families
    if n_bootstrap and searched and uncertainty == "laplace":
        coords = DS.coordinates(laplace_space, plan_space, interval_space, interval_scale)
        draws_raw, draw_fams, lap, shown_raw = DS.both_sets(
            fit, at_map, mix, data, n_bootstrap, seed, coords, inflate=inflate,
            plan_inflate=plan_inflate, n_interval_draws=n_interval_draws,
            profiles=profiles if DP.PROFILE_USE in ("both", "intervals") else (),
            pool_draws=pool_draws,
        )  # fmt: skip
        if pool_draws == "intervals" and fit.omega_grid:
            roi_raw = DS.roi_set(
                fit, at_map, mix, data, n_bootstrap, seed, coords[0],
                plan_inflate=inflate if plan_inflate is None else float(plan_inflate),
                profiles=profiles if DP.PROFILE_USE in ("both", "intervals") else (),
            )  # fmt: skip
        report("bootstrap", n_bootstrap, n_bootstrap)
    elif n_bootstrap and searched:
        from optimizer.response import mapboot as MB

        how = MB.BAND_SPREAD
        if how not in MB.BAND_SPREADS:
            raise ValueError(f"BAND_SPREAD {how!r}: expected one of {MB.BAND_SPREADS}")
        bands = pool_draws != "none" and BOOT_BANDS
        # "split_interval": the tested refits' marginal response spread, transforms kept (mapboot)
        split = how.startswith("split")
        k_band = float(inflate) if how in MB.SPREAD_SPACE else 1.0
        tested = [bool(t) for t in data.tests]
        if split and not any(tested):  # ``uncertainty="bootstrap"`` without tests
            how, split = "laplace", False  # every touchpoint untested: the Laplace fit's bands
        # the bands' draws (mapboot.py): each refit's at its own pooling weight from the
        # posterior where the fit pools (else at the fit's), its step from the point curves x
        # uncertainty_inflate
        band_om: tuple[float, ...] = ()
        if bands and how != "laplace" and fit.omega_grid:
            band_om = tuple(float(w) for w in PP.draw_omegas(fit.omega_grid, fit.omega_weights,
                                                             n_bootstrap, seed))  # fmt: skip
        elif bands and how not in ("laplace", "none"):
            band_om = (float(fit.omega),) * int(n_bootstrap)
        ctx = MapBootstrap(fit, data, int(seed), int(block_weeks), bool(perturb), band_om,
                           MB.BAND_REFIT, k_band, MB.SPREAD_SPACE.get(how, "marginal"))  # fmt: skip
        got = run_map_bootstrap(ctx, n_bootstrap, executor, report)
        draws_raw = [d for d, _ in got]
        if band_om:
            roi_raw = ([bd for _, bd in got if bd is not None], None)
            if how == "inflate_mean":  # a dev alternative (measured)
                roi_raw = (MB.spread_about_mean(fit, data, roi_raw[0], float(inflate)), None)
        if bands and (split or how == "laplace"):
            # the Laplace sets at the MAP (lift-test rows included), each draw at the same
            # pooling weight as the refit of its number (poolpost.draw_omegas, same seed), as a
            # fit without lift tests draws them: the bands' (the plans' coordinates) and the
            # intervals' (interval_space, "marginal"); "split" keeps the refits' band draws for
            # the tested touchpoints, where the Gaussian is poor
            coords = DS.coordinates(laplace_space, plan_space, interval_space, interval_scale)
            boot = MB.tested_sets(fit, data, how, roi_raw, band_om, float(inflate))
            sets: list[Any] = []
            for c in (coords[0], coords[1]) if coords[1] is not None else (coords[0],):
                raw_c, fams_c = DS.roi_set(fit, at_map, mix, data, n_bootstrap, seed, c,
                                           plan_inflate=float(inflate), profiles=(),
                                           pooled=bool(fit.omega_grid))  # fmt: skip
                if split:
                    raw_c = MB.merge_tested(raw_c, boot[len(sets)], tested)
                    if fams_c is not None:
                        fams_c = [[fit.families[j] if t else f[j] for j, t in enumerate(tested)]
                                  for f in fams_c]  # fmt: skip
                sets.append((raw_c, fams_c, c))
            roi_raw = sets[0][:2]
            if len(sets) > 1:
                shown_raw = sets[1]
    log_pool: dict[str, Any] = {}
    if pool_space == "log" and searched:  # logpool.py: the point curves' marginal ROIs
        # each set re-drawn (logpool.DRAWS="hierarchy") with its own spread: the plans' x
        # plan_inflate, the intervals' x inflate
        k_plan = inflate if plan_inflate is None else float(plan_inflate)
        lp_draws = (draws_raw, draw_fams, seed, k_plan)
        if shown_raw:  # the intervals' draws moved with the point curves as the plans' are
            s_draws = (shown_raw[0], shown_raw[1], seed, inflate)
            _, s_raw, _ = LP.rescale_points(fit, at_map, data, draws=s_draws)
            shown_raw = (s_raw, *shown_raw[1:])
        if roi_raw:
            _, r_raw, _ = LP.rescale_points(
                fit, at_map, data, draws=(roi_raw[0], roi_raw[1], seed, k_plan)
            )
            roi_raw = (r_raw, roi_raw[1])
        fit, draws_raw, log_pool = LP.rescale_points(fit, at_map, data, draws=lp_draws)
    curves: dict[int, tuple[Saturation, Adstock, dict[str, Any]]] = {}
    draws = DS.as_curves(draws_raw, draw_fams, fit, searched, X)
    shown = DS.as_curves(shown_raw[0], shown_raw[1], fit, searched, X) if shown_raw else {}
    band_draws = DS.as_curves(roi_raw[0], roi_raw[1], fit, searched, X) if roi_raw else {}
    edge: dict[int, list[str]] = {}
    for k, i in enumerate(searched):
        fam, th = fit.families[k], fit.theta[k]
        mean_a = float(fit.mean_ad[k])
        beta = float(fit.beta[k])
        sat = Saturation(fam, {"beta": beta, **J.family_params(fam, th, mean_a)})
        curves[i] = (sat, Adstock(decay=float(th[0])), J.describe(fam, th, mean_a))
        w: list[str] = []
        if float(th[0]) >= J.DECAY_BOUNDS[1] - 1e-6:
            w.append(f"adstock decay at the top of the searched range ({J.DECAY_BOUNDS[1]})")
        if beta > 0 and (
            float(th[1]) <= J.LOG_REL_BOUNDS[0] + 1e-6 or float(th[1]) >= J.LOG_REL_BOUNDS[1] - 1e-6
        ):
            w.append(
                "curve scale at the edge of the searched range "
                f"({math.exp(float(th[1])):.3g} x the mean adstocked spend)"
            )
        edge[i] = w
    pooling = {
        "method": "empirical Bayes (marginal likelihood)",
        "evidence": pool_evidence,
        "pooled_marginal_roi": fit.pooled,
        **fit.eb,
        **({"log_pooling": log_pool} if log_pool else {}),
    }
    if pool_draws != "none" and fit.omega_grid and (uncertainty == "laplace" or roi_raw):
        pooling["posterior"] = PP.summary(
            fit.omega_grid,
            fit.omega_weights,
            fit.omega,
            len(fit.rows if fit.rows is not None else y),
        )
    return Fitted(
        curves=curves,
        draws=draws,
        interval_draws=shown,
        band_draws=band_draws,
        group_coef=fit.beta[len(searched) :],
        base=fit.base,
        yfit=fit.yhat_rows,
        mape=mape_ho,
        nrmse=nrmse_ho,
        method=(
            "MAP joint fit of every touchpoint's transforms (variable projection: betas and "
            "baseline by penalised NNLS inside), grid-search start, family by Laplace marginal "
            "likelihood, empirical-Bayes pooling of marginal ROIs, "
            + ("Laplace draws" if uncertainty == "laplace" else "bootstrap draws of the MAP fit")
        ),
        cv_rmse=math.sqrt(sr.cv_sse / (sr.n_splits * sr.test_size)) if sr.order else None,
        pooled=fit.pooled,
        noise_sd=fit.sigma,
        edge_warnings=edge,
        diagnostics={
            "pooling": pooling,
            "noise_sd": fit.sigma,
            "family_switches": (warm.family_switches if warm is not None else fit.family_switches),
            "uncertainty": {
                "method": uncertainty,
                "n_draws": len(draws_raw),
                **lap,
                **DS.diagnostics(shown_raw),
            },
            **ST.diagnostics(fit, initial_carryover),
            **({"decay_prior": fit.decay_prior} if fit.decay_prior else {}),
            **({"rel_prior": fit.rel_prior} if fit.rel_prior else {}),
            **({"decay_profile": profile_lik} if profile_lik else {}),
            **(
                {
                    "family_weights": {
                        d.tps[i].id: {f: c[1] for f, c in mix[k].items()}
                        for k, i in enumerate(searched)
                    },
                    "family_averaging": {
                        "method": "Bayesian model averaging (Laplace marginal likelihood)",
                        "min_weight": MIN_FAMILY_WEIGHT,
                        "point_families": {
                            d.tps[i].id: fit.families[k] for k, i in enumerate(searched)
                        },
                    },
                }
                if mix is not None
                else {}
            ),
        },
        options={
            "method": "map",
            # the MAP fit's family choice tries these; the grid search that starts it, d.fams
            "families": list(fams),
            "grid_families": list(d.fams),
            "prior_weight": float(prior_weight),
            "uncertainty_inflate": inflate,
            "average_families": bool(average_families),
            **({"decay_posterior": decay_posterior} if decay_posterior != "laplace" else {}),
            **({"pool_evidence": pool_evidence} if pool_evidence != "argmax" else {}),
            **({"laplace_space": laplace_space} if laplace_space != "beta" else {}),
            **({"interval_scale": interval_scale} if interval_scale != "linear" else {}),
            **DS.options(laplace_space, plan_space, interval_space, n_interval_draws),
            # the plans' own spread applies to Laplace draws only (a bootstrap's refits have none)
            **(
                {"plan_inflate": plan_inflate}
                if plan_inflate not in (None, inflate) and uncertainty == "laplace"
                else {}
            ),
            **({"pool_space": pool_space} if pool_space != "linear" else {}),
            **(
                {"pool_draws": pool_draws}
                if pool_draws != "none" and (uncertainty == "laplace" or roi_raw)
                else {}
            ),
            **({"burn_in_weeks": int(burn_in)} if burn_in else {}),
            **({"initial_carryover": initial_carryover} if initial_carryover == "zero" else {}),
            **({"decay_prior": decay_prior} if decay_prior != "fixed" else {}),
            **({"rel_prior": rel_prior} if rel_prior != "fixed" else {}),
            **(
                {"decay_priors": {k: [float(v[0]), float(v[1])] for k, v in decay_priors.items()}}
                if decay_priors
                else {}
            ),
            # always: model.json written before the option has none and meant "mean"
            "prior_centre": prior_centre,
        },
    )
