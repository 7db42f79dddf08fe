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
