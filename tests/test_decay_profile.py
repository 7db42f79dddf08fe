"""The posterior over a touchpoint's adstock decay on a grid (``decay_posterior="grid"``,
``optimizer.response.decay_profile.decay_profiles``): on a simulated touchpoint with a known long
carry-over it agrees with the Gaussian (Laplace) posterior where the data pin the decay; its
intervals hold decays drawn from the prior about as often as they say; draws take their decays
from it; a fit with it is deterministic.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from optimizer.response import decay_profile as DP
from optimizer.response import joint as J
from optimizer.response import mapfit as M
from optimizer.response.fit import fit_model
from optimizer.response.model import model_to_json
from optimizer.response.solve import _make_frame
from tests.test_fit import TRUTH, make_world

N_WEEKS = 156
NOISE_SD = 40.0


def _problem(decay: float, seed: int, noise: float = NOISE_SD) -> tuple[J.Problem, float]:
    """One hill touchpoint (half saturation at its mean adstocked spend, shape 1, beta 400) on
    an intercept and a trend, 156 weeks, flighted log-normal spend, noise sd ``noise`` (the
    effect moves the KPI by about 100 a week)."""
    rng = np.random.default_rng(seed)
    x = rng.lognormal(9.0, 0.8, N_WEEKS) * (rng.random(N_WEEKS) > 0.25)
    a, _ = J._adstock(x, decay)
    y = 1000.0 + 400.0 * a / (a + a.mean()) + rng.normal(0.0, noise, N_WEEKS)
    t = np.arange(N_WEEKS) / 52.0
    Z = np.column_stack([np.ones(N_WEEKS), t])
    fr = _make_frame(Z, y, 0.0, 1e-3)
    p = J.Problem([J.Tp(x, "hill")], np.arange(N_WEEKS), fr, np.zeros((N_WEEKS, 0)), noise, 0.0)
    return p, decay


def test_profile_agrees_with_laplace_where_the_data_pin_the_decay():
    """A well-informed long carry-over (true decay 0.7, noise sd 10 against an effect of about
    100 a week): the posterior is nearly Gaussian, so the profile's median is the MAP's decay
    (within 0.01) and its 10-90% interval is the Laplace one, MAP +- 1.28 sd, within 30%."""
    p, _ = _problem(0.7, 0, noise=10.0)
    sol = J.fit(p, [M.default_theta("hill")])
    (prof,) = DP.decay_profiles(p, sol.theta, [0])
    q10, q50, q90 = prof.quantiles([0.1, 0.5, 0.9])
    assert sol.jac is not None
    sd = math.sqrt(float(np.linalg.inv(sol.jac.T @ sol.jac / p.sigma**2)[0, 0]))
    assert q50 == pytest.approx(float(sol.theta[0][0]), abs=0.01)
    assert q90 - q10 == pytest.approx(2 * 1.2816 * sd, rel=0.3)
    assert q10 <= 0.7 <= q90


def test_profile_intervals_hold_decays_drawn_from_the_prior():
    """Calibration: 40 touchpoints whose true decay is drawn from the fit's own prior (0.3 +-
    0.3, cut to [0, 0.9]), noise sd 40 (the decay known to about +- 0.04 to +- 0.15): the
    profile's 80% interval holds the truth in at least 24 of 40 (measured 26 of 40; the Gaussian
    (Laplace) interval at the MAP 27 of 40: the profile does not fix the undercoverage)."""
    rng = np.random.default_rng(99)
    hits = 0
    for seed in range(40):
        truth = -1.0
        while not 0.0 <= truth <= 0.9:
            truth = float(rng.normal(J.PRIOR_DECAY, J.PRIOR_DECAY_SD))
        p, _ = _problem(truth, seed)
        sol = J.fit(p, [M.default_theta("hill")])
        (prof,) = DP.decay_profiles(p, sol.theta, [0])
        q10, q90 = prof.quantiles([0.1, 0.9])
        hits += bool(q10 <= truth <= q90)
    assert hits >= 24


def test_profile_draws_follow_the_grid_posterior():
    """The mixture draws' decays have the profile's quantiles (2,000 draws: within 0.03), and the
    touchpoint's beta moves with the drawn decay as the profile's conditional MAP does (rank
    correlation of the draws' beta with their decay has the sign of the profile's)."""
    p, _ = _problem(0.6, 0)
    sol = J.fit(p, [M.default_theta("hill")])
    (prof,) = DP.decay_profiles(p, sol.theta, [0])
    nt = p.tps[0].k
    centre = np.concatenate([sol.theta[0], sol.inner.w])
    H = np.eye(centre.size) * 1e4
    steps = np.zeros((2000, centre.size))
    phis = DP.profile_mix(centre + steps, centre, steps, H, p.tps, nt, [prof], 0, 1.0)
    d = phis[:, 0]
    np.testing.assert_allclose(
        np.percentile(d, [10, 50, 90]), prof.quantiles([0.1, 0.5, 0.9]), atol=0.03
    )
    q = np.argsort(np.argsort(d))
    rb = np.argsort(np.argsort(phis[:, nt]))
    trend = np.sign(np.polyfit(prof.grid, prof.beta, 1)[0])
    assert np.sign(np.corrcoef(q, rb)[0, 1]) == trend


def test_grid_decay_posterior_fit_is_deterministic():
    """Same inputs and seed: the same model.json, bit for bit; the draws' decays differ from the
    Gaussian (Laplace) ones."""
    history, _ = make_world(n_weeks=120, truth={k: TRUTH[k] for k in ("tv", "search")}, seed=3)
    a = fit_model(history, n_bootstrap=8, decay_posterior="grid")
    b = fit_model(history, n_bootstrap=8, decay_posterior="grid")
    assert model_to_json(a) == model_to_json(b)
    lap = fit_model(history, n_bootstrap=8)
    assert any(a.touchpoints[t].draws != lap.touchpoints[t].draws for t in a.touchpoints)


def test_bad_decay_posterior_is_a_value_error():
    history, _ = make_world(n_weeks=80, truth={k: TRUTH[k] for k in ("tv",)}, seed=1)
    with pytest.raises(ValueError, match="decay_posterior"):
        fit_model(history, n_bootstrap=0, decay_posterior="bimodal")
