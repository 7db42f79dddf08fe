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
   value gives a Gaussian posterior; draws are cut to the bounds (betas >= 0).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from optimizer.response import joint as J
from optimizer.response import logpool as LP
from optimizer.response import startup as ST
from optimizer.response.design import CurveShape
from optimizer.response.mapsetup import _media, problem_at_map
from optimizer.response.solve import _Frame, _make_frame

if TYPE_CHECKING:
    from optimizer.response.decay_profile import DecayProfile


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


def _base_coefs(fr: _Frame, M_rows: np.ndarray, beta: np.ndarray) -> np.ndarray:
    target = np.concatenate([M_rows @ beta, np.zeros(fr.pinv.shape[0])])
    cs = fr.gy - fr.pinv @ target
    c = cs / fr.sd
    c[0] = cs[0] - float(np.sum(c[1:] * fr.mu[1:]))
    return np.asarray(c)


def map_fit(
    xs: Sequence[np.ndarray],
    starts: Sequence[CurveShape],
    families: Sequence[str],
    pooled: Sequence[bool],
    tests: Sequence[Sequence[tuple[np.ndarray, float, float]]],
    y: np.ndarray,
    Z: np.ndarray,
    G: np.ndarray,
    rows: np.ndarray,
    sigma: float,
    baseline_ridge: float,
    *,
    s_curves: bool = False,
    prior_weight: float = 1.0,
    warm: MapFit | None = None,
    choose_family: bool = True,
    pool: bool = True,
    report: Callable[[str, int, int], None] | None = None,
    pool_evidence: str = "argmax",
    carry: Sequence[float] = (),
    prior_centre: str = "mean",
) -> MapFit:
    """The MAP fit on the weeks ``rows`` (see the module docstring); ``warm``: start from a
    previous fit (the training weeks' fit for the all-weeks one) and keep its families."""
    fr = _make_frame(Z[rows], y[rows], 0.0, baseline_ridge)
    fams = list(warm.families) if warm is not None else [theta_of(c)[0] for c in starts]
    carry = tuple(warm.carry if warm is not None else carry) or (0.0,) * len(xs)
    tps = [
        J.Tp(x, f, bool(pl), tuple(ts), c)
        for x, f, pl, ts, c in zip(xs, fams, pooled, tests, carry, strict=True)
    ]
    p = J.Problem(tps, rows, fr, G, sigma, 0.0, prior_weight, s_curves, rel_centre=prior_centre)
    theta0 = (
        [t.copy() for t in warm.theta] if warm is not None else [theta_of(c)[1] for c in starts]
    )
    nfev = 0
    # scale of each column for the stabiliser, fixed for the fit (the starting shapes')
    p.scale = np.sqrt(np.mean(p.frame.residual(_media(p, theta0)[rows])[: len(rows)] ** 2, axis=0))
    eb: dict[str, float] = {}
    if warm is not None and pool:
        p.omega = warm.omega
    sol = J.fit(p, theta0)
    nfev += sol.nfev
    if warm is None and tps:
        alt = J.fit(p, [np.array(J.prior_of(tp, prior_centre)[0]) for tp in tps])
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
    if pool and p.tps:
        # the pooling strength from the evidence at the transforms fitted without pooling (at
        # pooled transforms the curves have already bent to agree, and the evidence would
        # always ask for more pooling)
        free = replace(p, omega=0.0)
        unpooled = J.fit(free, sol.theta) if p.omega > 0 else sol
        nfev += unpooled.nfev if p.omega > 0 else 0
        p.omega, eb = J.pooling_weight(free, unpooled.theta, pool_evidence)
        sol = J.fit(p, unpooled.theta)
        nfev += sol.nfev
    cols = sol.inner.cols
    width = p.width
    beta = sol.inner.w[:width]
    Mfull = np.hstack([cols.M, G])
    base = _base_coefs(fr, Mfull[rows], beta)
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
    )


def laplace_draws(
    fit: MapFit,
    xs: Sequence[np.ndarray],
    pooled: Sequence[bool],
    tests: Sequence[Sequence[tuple[np.ndarray, float, float]]],
    y: np.ndarray,
    Z: np.ndarray,
    G: np.ndarray,
    baseline_ridge: float,
    n_draws: int,
    seed: int,
    *,
    s_curves: bool = False,
    prior_weight: float = 1.0,
    inflate: float = 1.0,
    unbounded_zeros: bool = False,
    profiles: Sequence[DecayProfile] = (),
    temperature: float = 1.0,
    marginal_space: bool = False,
    log_marginal: bool = False,
    conditional: bool = False,
) -> tuple[list[tuple[list[np.ndarray], np.ndarray]], dict[str, Any]]:
    """Draws of (transforms, betas) from the Laplace approximation of the posterior at the MAP
    ``fit`` (all weeks): Gaussian with covariance ``sigma^2 (J'J)^-1``, ``J`` the Jacobian of
    every residual row (weeks, pooling, lift tests, prior) in the transforms, betas and pooled
    value; cut to the transforms' bounds and betas >= 0. ``inflate`` scales the sd.

    ``marginal_space``: Gaussian in the transforms and each touchpoint's marginal response at
    its mean spend instead of the betas (``joint.in_marginal_space``); ``log_marginal``: the
    same step read in the log of that marginal response (log-normal around the MAP's);
    ``conditional``: the betas re-solved at each draw's transforms (``joint.in_conditional``)."""
    p, fr = problem_at_map(fit, xs, pooled, tests, y, Z, G, baseline_ridge, prior_weight, s_curves)
    tps = p.tps
    inner = J.solve_inner(p, fit.theta)
    A = inner.A
    nt = sum(tp.k for tp in tps)
    _, dpr = J._prior(p, fit.theta)
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
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(7,)))
    z = rng.standard_normal((n_draws, H.shape[0]))
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
    phis = centre + steps
    if profiles:
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
    sd = np.sqrt(np.diag(np.linalg.inv(H))) * fit.sigma
    return out, {"posterior_sd_transforms": [float(v) for v in sd[:nt]]}


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
    pool_space: str = "linear",
    burn_in: int | None = None,
    initial_carryover: str = "fitted",
    prior_centre: str = "mean",
) -> Any:
    """The MAP method (default): ``map_fit`` on the training weeks (holdout errors), then on all
    weeks from there, and Laplace draws around it (``d``: a ``prepare.Design``, ``sr``: the grid
    search's result, the first start)."""
    from optimizer.response.families import (
        MIN_FAMILY_WEIGHT,
        Mixture,
        family_mixture,
        mixture_draws,
    )
    from optimizer.response.model import Adstock, Saturation
    from optimizer.response.report import Fitted, _mape, _nrmse

    X, Z, y, n, n_train, G = d.X, d.Z, d.y, d.n, d.n_train, d.G
    searched = d.searched
    xs = [X[:, i] for i in searched]
    starts = [d.grid[sr.choice[i]] for i in searched]
    pooled = [k not in d.tested for k in range(len(searched))]
    tests: list[list[tuple[np.ndarray, float, float]]] = [[] for _ in searched]
    slot = d.slots
    for lt in d.used:
        i = d.tp_index[lt.touchpoint]
        tests[slot[i]].append((X[:, i] + lt.delta(n), float(lt.kpi_lift), float(lt.kpi_lift_se)))
    sigma0 = d.noise_sd(sr.choice, np.arange(n_train))
    fams = tuple(families) if families is not None else d.fams
    s_curves, pw = bool(allow_s_curves), float(prior_weight)
    report("refit", 0, 2)
    mape_ho = nrmse_ho = None
    problem = (xs, starts, fams, pooled, tests, y, Z, G)
    map_kw: dict[str, Any] = {"s_curves": s_curves, "prior_weight": pw}
    map_kw.update(pool_evidence=pool_evidence, prior_centre=prior_centre)
    start = ST.starter(map_fit, initial_carryover)  # the history's start: zero, or profiled
    warm = None
    if d.holdout > 0:
        tr = ST.likelihood_rows(n_train, burn_in)
        warm = start(*problem, tr, sigma0, d.baseline_ridge, **map_kw)
        mape_ho = _mape(y[n_train:], warm.yhat_rows[n_train:])
        nrmse_ho = _nrmse(y[n_train:], warm.yhat_rows[n_train:])
    report("refit", 1, 2)
    rows = ST.likelihood_rows(n, burn_in)
    sigma = warm.sigma if warm is not None else sigma0
    fit = start(*problem, rows, sigma, d.baseline_ridge, warm=warm, **map_kw)
    report("refit", 2, 2)
    if uncertainty == "auto":
        # Laplace draws, but a bootstrap of the fit with the tests' lifts perturbed when lift
        # tests are used: a tested touchpoint the history barely informs sits where the
        # Gaussian approximation is poor (measured: the Laplace draws' spread of a tested
        # touchpoint's lift was 3.9 times the test's standard error, the bootstrap's about 1)
        uncertainty = "bootstrap" if d.used else "laplace"
    lap_kw: dict[str, Any] = {"s_curves": s_curves, "prior_weight": pw}
    space_kw = {"marginal_space": laplace_space == "marginal"}
    args = (xs, pooled, tests, y, Z, G, d.baseline_ridge)
    mix: Mixture | None = None
    if average_families and searched:
        mix, _ = family_mixture(fit, *args, **lap_kw)
    from optimizer.response import decay_profile as DP
    from optimizer.response import drawsets as DS

    profiles: list[DecayProfile] = []
    if decay_posterior == "grid" and searched and uncertainty == "laplace" and not average_families:
        profiles = DP.fit_profiles(fit, xs, pooled, tests, y, Z, G, d.baseline_ridge, s_curves, pw)
    at_map = fit
    if point == "mean" and searched:
        point_kw = {**lap_kw, **space_kw, "inflate": 1.0, "unbounded_zeros": True}
        # inflate 1: the posterior itself (the draws' inflation is for honest intervals)
        if mix is not None:
            avg, avg_fams, _ = mixture_draws(fit, mix, *args, POINT_DRAWS, 0, **point_kw)
        else:
            avg, _ = laplace_draws(
                fit,
                *args,
                POINT_DRAWS,
                0,
                **point_kw,
                profiles=profiles if DP.PROFILE_USE in ("both", "point") else (),
            )
            avg_fams = None
        fit = posterior_mean_point(
            fit,
            avg,
            xs,
            y,
            Z,
            G,
            d.baseline_ridge,
            keep=[bool(t) for t in tests],
            draw_families=avg_fams,
            candidates=None if mix is None else [{f: c[0] for f, c in m.items()} for m in mix],
            s_curves=s_curves,
        )
    draws_raw: list[tuple[list[np.ndarray], np.ndarray]] = []
    draw_fams: list[list[str]] | None = None
    lap: dict[str, Any] = {}
    shown_raw: tuple[Any, ...] = ()  # the intervals' own draws, their families, coordinates
    if n_bootstrap and searched and uncertainty == "laplace":
        temp = inflate**2 if DP.PROFILE_TEMPERATURE == "inflate" else float(DP.PROFILE_TEMPERATURE)
        set_kw: dict[str, Any] = {"lap_kw": lap_kw, "inflate": inflate, "temperature": temp}
        set_kw["profiles"] = profiles if DP.PROFILE_USE in ("both", "intervals") else ()
        plan_c, shown_c = DS.coordinates(laplace_space, plan_space, interval_space, interval_scale)
        draws_raw, draw_fams, lap = DS.laplace_set(
            fit, at_map, mix, args, n_bootstrap, seed, plan_c, **set_kw
        )
        if shown_c is not None:  # the same seed: the same Gaussian steps, read in other coordinates
            n_shown = int(n_interval_draws or n_bootstrap)
            s_raw, s_fams, _ = DS.laplace_set(
                fit, at_map, mix, args, n_shown, seed, shown_c, **set_kw
            )
            shown_raw = (s_raw, s_fams, shown_c)
        report("bootstrap", n_bootstrap, n_bootstrap)
    elif n_bootstrap and searched:
        ctx = MapBootstrap(
            fit,
            tuple(xs),
            tuple(pooled),
            tuple(tuple(t) for t in tests),
            y,
            Z,
            G,
            d.baseline_ridge,
            int(seed),
            int(block_weeks),
            bool(allow_s_curves),
            float(prior_weight),
            bool(perturb),
        )
        draws_raw = run_map_bootstrap(ctx, n_bootstrap, executor, report)
    log_pool: dict[str, Any] = {}
    if pool_space == "log" and searched:  # logpool.py: the point curves' marginal ROIs
        lp_draws = (draws_raw, draw_fams, seed, inflate)
        if shown_raw:  # the intervals' draws moved with the point curves as the plans' are
            s_draws = (shown_raw[0], shown_raw[1], seed, inflate)
            _, s_raw, _ = LP.rescale_points(fit, at_map, *args, **lap_kw, draws=s_draws)
            shown_raw = (s_raw, *shown_raw[1:])
        fit, draws_raw, log_pool = LP.rescale_points(fit, at_map, *args, **lap_kw, draws=lp_draws)
    curves: dict[int, tuple[Saturation, Adstock, dict[str, Any]]] = {}
    draws = DS.as_curves(draws_raw, draw_fams, fit, searched, X)
    shown = DS.as_curves(shown_raw[0], shown_raw[1], fit, searched, X) if shown_raw else {}
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
    return Fitted(
        curves=curves,
        draws=draws,
        interval_draws=shown,
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
            **({"pool_space": pool_space} if pool_space != "linear" else {}),
            **({"burn_in_weeks": int(burn_in)} if burn_in else {}),
            **({"initial_carryover": initial_carryover} if initial_carryover == "zero" else {}),
            # always: model.json written before the option has none and meant "mean"
            "prior_centre": prior_centre,
        },
    )


@dataclass(frozen=True)
class MapBootstrap:
    """What one bootstrap refit of the MAP fit needs (shipped once to an executor's workers)."""

    fit: MapFit
    xs: tuple[np.ndarray, ...]
    pooled: tuple[bool, ...]
    tests: tuple[tuple[tuple[np.ndarray, float, float], ...], ...]
    y: np.ndarray
    Z: np.ndarray
    G: np.ndarray
    baseline_ridge: float
    seed: int
    block_weeks: int
    s_curves: bool
    prior_weight: float
    perturb: bool = True


def map_bootstrap_draw(ctx: MapBootstrap, b: int) -> tuple[list[np.ndarray], np.ndarray]:
    """Refit ``b`` of the MAP fit on a moving-block resample of the weeks drawn from
    ``SeedSequence(seed, spawn_key=(b,))``, from the MAP's transforms and families with its
    pooling weight, the prior's centre and the lift tests' measured lifts perturbed by a draw of
    their own sds ("randomise then optimise"): a pure function of ``ctx`` and ``b``."""
    from optimizer.response.bootstrap import _block_bootstrap

    rng = np.random.default_rng(np.random.SeedSequence(ctx.seed, spawn_key=(b,)))
    n = ctx.y.size
    rows = _block_bootstrap(n, ctx.block_weeks, rng)
    fr = _make_frame(ctx.Z[rows], ctx.y[rows], 0.0, ctx.baseline_ridge)
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
        )
        for x, f, pl, ts in zip(ctx.xs, fit.families, ctx.pooled, ctx.tests, strict=True)
    ]
    nt = sum(tp.k for tp in tps)
    p = J.Problem(
        tps,
        rows,
        fr,
        ctx.G,
        fit.sigma,
        fit.omega,
        ctx.prior_weight,
        ctx.s_curves,
        prior_shift=rng.standard_normal(nt) if ctx.perturb else np.zeros(0),
        rel_centre=fit.prior_centre,
    )
    p.scale = np.sqrt(np.mean(fr.residual(_media(p, fit.theta)[rows])[: len(rows)] ** 2, axis=0))
    sol = J.fit(p, fit.theta, max_nfev=60)
    return [np.asarray(t) for t in sol.theta], sol.inner.w[: p.width]


def _map_bootstrap_draws(
    ctx: MapBootstrap, draws: Sequence[int]
) -> list[tuple[int, tuple[list[np.ndarray], np.ndarray]]]:
    from optimizer.threads import one_blas_thread

    with one_blas_thread():
        return [(b, map_bootstrap_draw(ctx, b)) for b in draws]


def run_map_bootstrap(
    ctx: MapBootstrap, n_draws: int, executor: Any, report: Callable[[str, int, int], None]
) -> list[tuple[list[np.ndarray], np.ndarray]]:
    """The ``n_draws`` refits, in this process or as tasks of ``executor`` (same result)."""
    import functools

    if n_draws == 0:
        return []
    if executor is None or getattr(executor, "in_process", False):
        out = []
        for b in range(n_draws):
            out.extend(_map_bootstrap_draws(ctx, [b]))
            report("bootstrap", b + 1, n_draws)
        return [r for _, r in out]
    n_tasks = max(1, min(n_draws, 4 * max(1, int(getattr(executor, "workers", 1) or 1))))
    bounds = np.linspace(0, n_draws, n_tasks + 1).astype(int)
    groups = [list(range(a, b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]
    finished = [0]

    def step(done: int, total: int, k: int) -> None:
        finished[0] += len(groups[k])
        report("bootstrap", finished[0], n_draws)

    parts = executor.map(functools.partial(_map_bootstrap_draws, ctx), groups, progress=step)
    return [r for part in parts for _, r in sorted(part, key=lambda t: t[0])]


#: Draws (from a fixed seed, so the curves never depend on ``seed``) averaged into the point
#: curves of ``point="mean"``, and the spend grid (multiples of the highest weekly spend) they are
#: matched on.
POINT_DRAWS = 60
#: Where the intervals' Laplace draws are centred: the point curves ("point") or the MAP before
#: ``posterior_mean_point`` ("map"; a dev switch of ``fit_dev.py``, measured in
#: docs/response-models.md: a little more coverage, a worse robust plan).
INTERVAL_CENTRE = "point"
POINT_SPEND_GRID = np.linspace(0.02, 2.0, 30)
#: A touchpoint whose MAP beta is zero gets its posterior mean curve too: the mean of a posterior
#: cut at zero is positive where the draws leave room for an effect, and a zero point defunds it
#: (dev runs of fit_recovery's worlds: low-information 8 tp pooled capture 41.5% -> 46.8%, worst
#: world -3.5% -> -3.1% of the KPI; high 82.4% -> 82.7%).
POINT_ZERO_BETAS = True


def posterior_mean_point(
    fit: MapFit,
    draws: Sequence[tuple[list[np.ndarray], np.ndarray]],
    xs: Sequence[np.ndarray],
    y: np.ndarray,
    Z: np.ndarray,
    G: np.ndarray,
    baseline_ridge: float,
    keep: Sequence[bool] = (),
    draw_families: Sequence[Sequence[str]] | None = None,
    candidates: Sequence[dict[str, np.ndarray]] | None = None,
    s_curves: bool = False,
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
    curve is, of the candidate families (each with its own decay), the one closest to the mean."""
    from scipy.optimize import least_squares

    from optimizer.response import curves as CC

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
            if best is None or float(res.cost) < best[0]:
                best = (float(res.cost), cf, float(res.x[0]), np.concatenate([[d0], res.x[1:]]))
        assert best is not None
        _, families[k], beta[k], theta[k] = best
    tps = [J.Tp(x, f) for x, f in zip(xs, families, strict=True)]
    cols = J.columns(tps, theta)
    Mfull = np.hstack([cols.M, G])
    rows = fit.rows if fit.rows is not None else np.arange(y.size)
    fr = _make_frame(Z[rows], y[rows], 0.0, baseline_ridge)
    base = _base_coefs(fr, Mfull[rows], beta)
    return replace(
        fit,
        families=families,
        theta=theta,
        beta=beta,
        base=base,
        yhat_rows=Z @ base + Mfull @ beta,
        mean_ad=cols.mean_ad,
    )
