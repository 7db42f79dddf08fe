"""The machinery of ``benchmarks/bayes_bound.py`` (the Bayes bound on the capture targets): its
samplers draw the laws they claim, its posterior mean matches quadrature of the exact posterior,
and the generators still draw the prior it assumes. (Its numbers are measurements, not tested.)"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCH))

import bayes_bound as bb  # noqa: E402


def _grid_moments(logpdf, lo: float, hi: float, n: int = 400_001) -> tuple[float, float]:
    x = np.linspace(lo, hi, n)
    lw = logpdf(x)
    w = np.exp(lw - lw.max())
    mean = float((x * w).sum() / w.sum())
    return mean, float(np.sqrt(((x - mean) ** 2 * w).sum() / w.sum()))


@pytest.mark.parametrize(
    ("m", "sd"), [(1.0, 0.5), (-3.0, 0.2), (8.0, 0.1), (2.0, 50.0), (0.31, 0.002)]
)
def test_conditional_draws_the_cut_gaussian_over_x(m, sd):
    """The Gibbs conditional, N(m, sd^2) / x on [0.3, 5]: the mean of 100,000 draws is within 5
    standard errors of the quadrature mean (inside the interval, the mean below it, far above
    it, nearly flat, sharp at the lower bound)."""
    rng = np.random.default_rng(3)
    x = bb._conditional(np.full(100_000, m), sd, 0.3, 5.0, rng)
    assert x.min() >= 0.3 and x.max() <= 5.0
    mean, spread = _grid_moments(lambda t: -0.5 * ((t - m) / sd) ** 2 - np.log(t), 0.3, 5.0)
    assert abs(x.mean() - mean) < 5 * spread / np.sqrt(len(x)), (x.mean(), mean)


def _toy() -> bb.Knowns:
    """Two touchpoints, 60 weeks, noise 5% of the mean noiseless KPI, a baseline-level factor of
    the high-information generator's form: a posterior neither Gaussian nor inside the box."""
    rng = np.random.default_rng(7)
    n = 60
    G = np.column_stack([rng.gamma(2.0, 2.0, n), rng.gamma(2.0, 2.0, n) + 3.0])
    base = 100.0
    roi = np.array([0.5, 1.4])
    sigma = 0.05 * (base + float(G.mean(axis=0) @ roi))
    resid = G @ roi + sigma * rng.standard_normal(n)
    t = float(G.sum(axis=0) @ roi)
    base_sum = t * 0.6 / 0.4  # media share 0.4, inside MEDIA_SHARE = (0.35, 0.45)
    return bb.Knowns(
        "toy", G, resid, np.ones(2), bb.ROI_PRIOR, roi, 0.05, base,
        bb._high_link(base_sum, G.sum(axis=0)),
    )  # fmt: skip


def test_posterior_mean_matches_quadrature_of_the_exact_posterior():
    """Gibbs on the fixed-sd Gaussian x log-uniform prior, reweighted to the exact posterior
    (noise sd moving with the ROIs, the baseline-level factor): its posterior mean is within 4
    of its own Monte-Carlo standard errors (+0.002) of a 1,201 x 1,201 grid quadrature of the
    exact posterior, and the standard error it reports is below 2% of the posterior sd."""
    kn = _toy()
    post = bb.posterior(kn, np.random.default_rng(11), chains=400, sweeps=300, burn=100)
    lo, hi = kn.prior
    g = np.linspace(lo, hi, 1201)
    r1, r2 = np.meshgrid(g, g, indexing="ij")
    pts = np.column_stack([r1.ravel(), r2.ravel()])
    sig = kn.noise_frac * (kn.base_mean + pts @ kn.G.mean(axis=0))
    rss = ((kn.resid[None, :] - pts @ kn.G.T) ** 2).sum(axis=1)
    lp = -np.log(pts).sum(axis=1) - len(kn.resid) * np.log(sig) - rss / (2 * sig**2)
    lp = lp + kn.link(pts)
    w = np.exp(lp - lp[np.isfinite(lp)].max())
    exact = (pts * w[:, None]).sum(axis=0) / w.sum()
    sd = np.sqrt((((pts - exact) ** 2) * w[:, None]).sum(axis=0) / w.sum())
    assert np.all(np.abs(post.mean - exact) < 4 * post.se + 0.002), (post.mean, exact, post.se)
    assert np.allclose(post.sd, sd, rtol=0.05), (post.sd, sd)
    assert np.all(post.se < 0.02 * post.sd)
    assert 0.5 < post.ess <= 1.0


def test_flat_nuisance_is_integrated_out():
    """``looser``'s nuisance columns with a flat prior: the posterior equals the one on the
    data with the nuisance's least-squares fit removed (the Gaussian's profile), so adding a
    column of the nuisance's span to the data leaves the posterior mean unchanged (to the
    sampler's error: same seed, same draws, to 1e-9)."""
    kn = _toy()
    Z = np.column_stack([np.ones(len(kn.resid)), np.arange(len(kn.resid), dtype=float)])
    a = bb.Knowns("a", kn.G, kn.resid, kn.c, kn.prior, kn.true_roi, Z=Z)
    b = bb.Knowns("b", kn.G, kn.resid + Z @ [50.0, -2.0], kn.c, kn.prior, kn.true_roi, Z=Z)
    pa = bb.posterior(a, np.random.default_rng(5), 100, 120, 20)
    pb = bb.posterior(b, np.random.default_rng(5), 100, 120, 20)
    assert np.allclose(pa.mean, pb.mean, atol=1e-9)


@pytest.mark.parametrize(("regime", "n", "seeds"), [("low", 8, "40:52"), ("high", 8, "20:26")])
def test_the_generators_draw_the_assumed_prior(regime, n, seeds):
    """Each world's true ROI (beta / c) lies in the prior's [0.3, 5] (to 1e-5 relative), its
    decays in the decay prior's range, and the baseline-level factor is finite at the truth: the
    bound's prior is the generator's (the unit columns reproduce the true contributions, and the
    decay columns at the true decays the unit columns: checked inside ``*_knowns``)."""
    with tempfile.TemporaryDirectory() as tmp:
        for case, world in bb.worlds(regime, n, seeds, Path(tmp)):
            kn, _, kd = (bb.high_knowns if regime == "high" else bb.low_knowns)(case, world)
            assert kn.prior == bb.ROI_PRIOR and not kd.standin
            decays = [tp.adstock.decay for tp in case.truth.touchpoints.values()]
            assert max(decays) <= kd.decay_grid[-1]
            lo, hi = bb.ROI_PRIOR
            assert np.all(kn.true_roi >= lo * (1 - 1e-5)), (case.name, kn.true_roi)
            assert np.all(kn.true_roi <= hi * (1 + 1e-5)), (case.name, kn.true_roi)
            assert kn.link is not None and np.isfinite(kn.link(kn.true_roi[None, :]))[0]


def test_decays_unknown_posterior_matches_the_exact_sum():
    """The decays-unknown sampler (Metropolis on the decay's grid index, exact Gibbs on the ROI,
    reweighted to the exact likelihood) on one exponential touchpoint, 80 weeks, the generator's
    grid prior on the decay (every 0.001 on [0, 0.7], half-weight ends): its ROI posterior mean
    is within 4 of its Monte-Carlo standard errors (+0.003) of the exact posterior's (a 600-point
    quadrature in the ROI, summed over the 701 decays), and so is its decays' posterior mean (sd
    to 5%); the decay steps are accepted 10-90% of the time."""
    rng = np.random.default_rng(2)
    n, s, ratio, d_true = 80, 100.0, 1.0, 0.5
    x = s * rng.lognormal(0.0, 0.8, n)
    x *= s / x.mean()
    col = bb.partial(bb._decay_column, x, s, ratio, bb._UNIT["exponential"], {})
    grid, weight = bb.decay_prior(0.7)
    assert len(grid) == 701 and abs(weight.sum() - 1.0) < 1e-12
    roi_true, base, frac = 1.5, 400.0, 0.04
    g_true = col(np.array([d_true]))[0]
    sigma = frac * (base + roi_true * g_true.mean())
    resid = roi_true * g_true + sigma * rng.standard_normal(n)
    kn = bb.Knowns(
        "toy", g_true[:, None], resid, np.ones(1), bb.ROI_PRIOR, np.array([roi_true]), frac, base,
        decay_tables=[col(grid)], decay_grid=grid, decay_weight=weight,
    )  # fmt: skip
    post = bb.posterior(kn, np.random.default_rng(4), chains=400, sweeps=400, burn=100)
    rois = np.linspace(0.3, 5.0, 600)
    G = col(grid)  # (decays, n)
    media = rois[:, None, None] * G[None, :, :]  # (rois, decays, n)
    sig = frac * (base + media.mean(axis=2))
    rss = ((resid - media) ** 2).sum(axis=2)
    lp = -np.log(rois)[:, None] + np.log(weight)[None, :] - n * np.log(sig) - rss / (2 * sig**2)
    w = np.exp(lp - lp.max())
    exact = float((rois[:, None] * w).sum() / w.sum())
    assert abs(post.mean[0] - exact) < 4 * post.se[0] + 0.003, (post.mean, exact, post.se)
    d_exact = float((grid[None, :] * w).sum() / w.sum())
    d_sd = float(np.sqrt((((grid - d_exact) ** 2)[None, :] * w).sum() / w.sum()))
    assert post.decays is not None
    assert abs(post.decays.sd[0] / d_sd - 1.0) < 0.05, (post.decays.sd, d_sd)
    assert abs(post.decays.mean[0] - d_exact) < 4 * post.decays.se[0] + 0.003, (
        post.decays.mean,
        d_exact,
    )
    assert 0.1 < post.accept < 0.9


def _small_prior(fam_p: tuple[float, float, float]) -> bb.BC.CurvePrior:
    """A coarse grid prior (3 decays, 2 ratios, 2 shapes) whose posterior can be enumerated."""
    return bb.BC.CurvePrior(
        np.log(np.array(fam_p)),
        np.array([0.0, 0.3, 0.6]),
        np.log(np.array([0.25, 0.5, 0.25])),
        np.array([[0.6, 1.5]] * 3),
        np.log(np.array([0.5, 0.5])),
        np.array([0.6, 1.0]),
        np.log(np.array([0.5, 0.5])),
        step_decay=1.0,
        step_ratio=1.0,
        step_shape=1.0,
    )


def _curves_toy(k: int, n: int, seed: int, prior: bb.BC.CurvePrior) -> bb.BC.CurvesProblem:
    rng = np.random.default_rng(seed)
    xs = [100.0 * rng.lognormal(0.0, 0.9, n) for _ in range(k)]
    ref = np.array([x.mean() for x in xs])
    pb = bb.BC.CurvesProblem(
        "toy", np.zeros(n), [bb.BC.adstock_table(x, prior.decay_grid) for x in xs], ref, prior,
        None,
    )  # fmt: skip
    truth = [(0, 2, 1, 0, 1.2), (1, 1, 0, 1, 0.7)][:k]  # family, decay, ratio, shape, roi
    mu = sum(
        r * pb.column(i, np.array([f]), np.array([d]), np.array([q]), np.array([s]))[0]
        for i, (f, d, q, s, r) in enumerate(truth)
    )
    pb.y = 50.0 + mu + 0.08 * float(np.mean(mu)) * rng.standard_normal(n)
    return pb


def _cells(pb: bb.BC.CurvesProblem, i: int) -> list[tuple[int, int, int, int, float]]:
    """Touchpoint ``i``'s (family, decay, ratio, shape) grid cells with their log prior."""
    p = pb.prior
    out = []
    for f in range(3):
        for d in range(len(p.decay_grid)):
            for r in range(len(p.ratio_logp)):
                for s in range(len(p.shape_logp)):
                    lp = p.fam_logp[f] + p.decay_logp[d] + p.ratio_logp[r] + p.shape_logp[s]
                    out.append((f, d, r, s, float(lp)))
    return out


def _col(pb: bb.BC.CurvesProblem, i: int, c: tuple[int, int, int, int, float]) -> np.ndarray:
    f, d, r, s, _ = c
    return pb.column(i, np.array([f]), np.array([d]), np.array([r]), np.array([s]))[0]


def _sample(pb: bb.BC.CurvesProblem, seed: int, chains: int, sweeps: int, burn: int):
    return bb.BC.sample(
        pb, np.random.default_rng(seed), chains, sweeps, burn, bb.weighted_mean,
        bb._conditional, bb.truncated_normal,
    )  # fmt: skip


def _expected_curve(pb: bb.BC.CurvesProblem, cells, i: int, x: np.ndarray) -> np.ndarray:
    """The mixture's expected steady-state curve of touchpoint ``i`` at weekly spends ``x``."""
    s = float(pb.ref[i])
    out = np.zeros_like(x)
    for f, r, sh, a in cells[i]:
        f_, sh_ = np.array([f]), np.array([sh])
        out += (
            a
            * s
            * bb.BC.unit((r * x / s)[None, :], f_, sh_)[0]
            / bb.BC.unit(np.array([[r]]), f_, sh_)[0, 0]
        )
    return out


def test_full_sampler_matches_exact_enumeration():
    """``full``'s sampler (Metropolis on the grid indices of family, decay, ratio and shape, exact
    Gibbs on the ROI, reweighted to the noise sd moving with the ROI) on one touchpoint, 50
    weeks, a 3 x 3 x 2 x 2 grid prior: its ROI posterior mean is within 4 of its Monte-Carlo
    standard errors (+0.003) of the exact posterior's (every cell summed, a 2,000-point
    quadrature in the ROI); each family's posterior probability within 0.02 of the exact; and
    the plan's expected curve (the mixture of the draws' curves) within 2% of the exact
    posterior expected curve at 0.5, 1 and 2 times the mean spend."""
    pb = _curves_toy(1, 50, 3, _small_prior((2 / 3, 1 / 6, 1 / 6)))
    pb.roi_box, pb.noise_frac, pb.base_mean = (0.3, 5.0), 0.08, 50.0
    pb.y = pb.y - 50.0
    post = _sample(pb, 5, 400, 400, 100)
    rois = np.linspace(0.3, 5.0, 2000)
    x = np.array([0.5, 1.0, 2.0]) * pb.ref[0]
    lps, curves = [], []
    for c in _cells(pb, 0):
        g = _col(pb, 0, c)
        media = rois[:, None] * g[None, :]
        sig = 0.08 * (50.0 + media.mean(axis=1))
        rss = ((pb.y - media) ** 2).sum(axis=1)
        lps.append(c[4] - np.log(rois) - len(pb.y) * np.log(sig) - rss / (2 * sig**2))
        u = bb.BC.unit
        f_, sh_ = np.array([c[0]]), np.array([pb.prior.shape_grid[c[3]]])
        r = pb.prior.ratio[c[0], c[2]]
        curves.append(
            pb.ref[0]
            * u((r * x / pb.ref[0])[None, :], f_, sh_)[0]
            / u(np.array([[r]]), f_, sh_)[0, 0]
        )
    lp = np.array(lps)
    w = np.exp(lp - lp.max())
    exact = float((w * rois).sum() / w.sum())
    assert abs(post.roi.mean[0] - exact) < 4 * post.roi.se[0] + 0.003, (post.roi.mean, exact)
    fam = np.array([c[0] for c in _cells(pb, 0)])
    for f in range(3):
        share = w[fam == f].sum() / w.sum()
        assert abs(post.fam_share[0, f] - share) < 0.02, (f, post.fam_share, share)
    want = sum(float((wi * rois).sum()) * cv for wi, cv in zip(w, curves, strict=True)) / w.sum()
    got = _expected_curve(pb, post.cells, 0, x)
    assert np.allclose(got, want, rtol=0.02), (got, want)


def test_generic_sampler_matches_exact_enumeration():
    """``generic``'s sampler (the ROIs' hierarchy, log roi ~ N(lambda, tau^2) with lambda flat
    and tau half-normal(1); the noise sd unknown under a Jeffreys prior; an intercept with a flat
    prior integrated out) on two touchpoints, 40 weeks, the same grid: both ROIs' posterior means
    are within 4 Monte-Carlo standard errors (+0.005) of the exact posterior's (every pair of
    cells summed, a 500 x 500 quadrature in the log ROIs, the hierarchy's tau by quadrature,
    lambda and the noise sd analytically), and the first touchpoint's family probabilities within
    0.03."""
    pb = _curves_toy(2, 40, 8, _small_prior((1 / 3, 1 / 3, 1 / 3)))
    pb.Z = np.ones((40, 1))
    post = _sample(pb, 6, 300, 400, 100)
    cells = [_cells(pb, i) for i in range(2)]
    prior = np.add.outer([c[4] for c in cells[0]], [c[4] for c in cells[1]])
    _check_two_touchpoints(pb, post, cells, prior, 0.005, 0.03)


def _learnt_prior(pb: bb.BC.CurvesProblem, cells) -> np.ndarray:
    """The joint log prior of two touchpoints' cells under every transform prior learnt
    (``_bayes_curves.LEARNABLE``): per grid, the mean over the hyper-grid of the product of the
    two cells' discretised normals; the families' Dirichlet(1, 1, 1) integrated out: 1/6 for
    one family shared, 1/12 for two different."""
    p = pb.prior
    out = np.zeros((len(cells[0]), len(cells[1])))
    grids = (
        (-np.log(p.ratio[0]), p.ratio_logp, 2),
        (p.decay_grid, p.decay_logp, 1),
        (np.log(p.shape_grid), p.shape_logp, 3),
    )
    for values, base, col in grids:
        table = bb.BC._Hier(values, base, 1).table  # (M, T, J)
        ja = np.array([c[col] for c in cells[0]])
        jb = np.array([c[col] for c in cells[1]])
        pair = np.exp(table[:, :, ja][:, :, :, None] + table[:, :, jb][:, :, None, :])
        out += np.log(pair.mean(axis=(0, 1)))
    fa = np.array([c[0] for c in cells[0]])
    fb = np.array([c[0] for c in cells[1]])
    return out + np.where(fa[:, None] == fb[None, :], np.log(1 / 6), np.log(1 / 12))


def test_learnt_priors_sampler_matches_exact_enumeration():
    """``learn-all``'s sampler (generic's, every transform prior a hierarchy learnt across the
    touchpoints: discretised normals over each grid with (mu, tau) on a hyper-grid drawn by
    exact Gibbs, the family shares' Dirichlet collapsed) on generic's two-touchpoint toy: both
    ROIs' posterior means within 4 Monte-Carlo standard errors (+0.005) of the exact posterior's
    (every pair of cells summed under the hierarchies' joint prior of the pair, as
    ``test_generic_sampler_matches_exact_enumeration`` does), the first touchpoint's family
    probabilities within 0.03. Fails if a hierarchy's update or its prior ratio in a move is
    wrong (e.g. the family move's counts not excluding the touchpoint itself)."""
    pb = _curves_toy(2, 40, 8, _small_prior((1 / 3, 1 / 3, 1 / 3)))
    pb.Z = np.ones((40, 1))
    pb.learn = frozenset(bb.BC.LEARNABLE)
    post = _sample(pb, 7, 300, 400, 100)
    cells = [_cells(pb, i) for i in range(2)]
    _check_two_touchpoints(pb, post, cells, _learnt_prior(pb, cells), 0.005, 0.03)


def _check_two_touchpoints(pb, post, cells, prior: np.ndarray, roi_tol: float, fam_tol: float):
    """The sampler's posterior (``post``) of generic's two-touchpoint toy against the exact one
    under the cells' joint log ``prior`` (a matrix over pairs of cells)."""
    y = pb.y - pb.y.mean()
    cols = [np.array([_col(pb, i, c) for c in cells[i]]) for i in range(2)]
    cols = [c - c.mean(axis=1, keepdims=True) for c in cols]  # projected off the intercept
    lr = np.linspace(np.log(0.05), np.log(20.0), 500)
    r = np.exp(lr)
    # the hierarchy's density in (log roi_1, log roi_2), lambda integrated (flat), tau by
    # quadrature: a function of the difference of the logs only
    taus = np.linspace(1e-3, 6.0, 3000)
    diff = np.arange(-(len(lr) - 1), len(lr)) * (lr[1] - lr[0])
    hd = np.log(
        np.trapezoid(
            np.exp(-0.5 * taus**2)[None, :] / taus * np.exp(-0.25 * diff[:, None] ** 2 / taus**2),
            taus,
            axis=1,
        )
    )
    ii = np.arange(len(lr))
    hp = hd[ii[:, None] - ii[None, :] + len(lr) - 1]
    dof = 39
    n_c = [len(c) for c in cells]
    logz = np.empty(n_c)
    m1, m2 = np.empty(n_c), np.empty(n_c)
    yy = float(y @ y)
    for a, ga in enumerate(cols[0]):
        for b, gb in enumerate(cols[1]):
            rss = (
                yy - 2 * r[:, None] * (ga @ y) - 2 * r[None, :] * (gb @ y)
                + r[:, None] ** 2 * (ga @ ga) + 2 * np.outer(r, r) * (ga @ gb)
                + r[None, :] ** 2 * (gb @ gb)
            )  # fmt: skip
            lp = hp - 0.5 * dof * np.log(rss) + prior[a, b]
            mx = lp.max()
            w = np.exp(lp - mx)
            logz[a, b] = mx + np.log(w.sum())
            m1[a, b] = (w * r[:, None]).sum() / w.sum()
            m2[a, b] = (w * r[None, :]).sum() / w.sum()
    W = np.exp(logz - logz.max())
    W /= W.sum()
    e1, e2 = float((W * m1).sum()), float((W * m2).sum())
    assert abs(post.roi.mean[0] - e1) < 4 * post.roi.se[0] + roi_tol, (post.roi.mean, e1, e2)
    assert abs(post.roi.mean[1] - e2) < 4 * post.roi.se[1] + roi_tol, (post.roi.mean, e1, e2)
    fam = np.array([c[0] for c in cells[0]])
    fam1 = [W.sum(axis=1)[fam == f].sum() for f in range(3)]
    assert np.allclose(post.fam_share[0], fam1, atol=fam_tol), (post.fam_share[0], fam1)


def test_mixture_model_is_the_expected_curve():
    """The plan's model (``mixture``): the mean over its draws of each touchpoint's weekly KPI
    is the cells' mixture, sum a x s x f(ratio x / s) / f(ratio), to 1e-9 relative, with every
    touchpoint padded to the same number of draws."""
    from optimizer.response.model import Adstock, ResponseModel, Saturation, TouchpointResponse

    sat = Saturation("hill", {"beta": 1.0, "half_saturation": 10.0, "shape": 0.8})
    truth = ResponseModel(
        "kpi",
        {t: TouchpointResponse(t, "awareness", sat, Adstock(0.3)) for t in ("a", "b")},
    )
    ref = np.array([20.0, 5.0])
    cells = [[(0, 0.7, 0.8, 1.5), (1, 1.2, 0.6, 0.4), (2, 0.5, 0.6, 0.2)], [(2, 1.9, 0.6, 2.0)]]
    m = bb.BC.mixture(truth, ref, cells)
    x = np.array([1.0, 5.0, 20.0, 60.0])
    pb = bb.BC.CurvesProblem("t", np.zeros(1), [], ref, _small_prior((1, 1, 1)), None)
    for i, tid in enumerate(("a", "b")):
        draws = m.touchpoints[tid].draw_responses()
        assert len(draws) == 3
        got = np.mean([d.weekly_kpi(x) for d in draws], axis=0)
        assert np.allclose(got, _expected_curve(pb, cells, i, x), rtol=1e-9)
