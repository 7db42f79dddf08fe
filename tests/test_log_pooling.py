"""Pooling of the point curves' marginal ROIs in their log (``fit_model(pool_space="log")``,
``optimizer.response.logpool``).

The posterior mean under ``log m_i ~ N(lambda, tau^2)`` is checked against an independent
adaptive quadrature (scipy) at fixed hyperparameters, and for what it must do at the extremes:
where the likelihoods are sharp it returns the estimates, where they are wide and alike it
returns nearly equal marginal ROIs (the historical mix's optimality condition), and an estimate
at or below zero keeps a positive marginal ROI. The fit is checked end to end on
``tests.test_fit.make_world``'s four-touchpoint world: the point curves' marginal ROIs at the
mean spend are the posterior means, the option and its diagnostics are recorded, the same seed
gives the same model, and the default is untouched.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy.integrate import quad

from optimizer.response import logpool as LP
from optimizer.response.fit import fit_model
from optimizer.response.model import model_to_json
from tests.test_fit import TRUTH, make_world


def _posterior_mean_quad(g: float, s: float, xbar: float, lam: float, tau: float) -> float:
    """E[m | g] for g ~ N(xbar m, s^2), log m ~ N(lam, tau^2), by adaptive quadrature in log m."""

    def dens(u: float) -> float:
        return math.exp(-0.5 * ((g - xbar * math.exp(u)) / s) ** 2 - 0.5 * ((u - lam) / tau) ** 2)

    lo, hi = lam - 10 * tau, lam + 10 * tau
    num = quad(lambda u: dens(u) * math.exp(u), lo, hi, limit=200)[0]
    return num / quad(dens, lo, hi, limit=200)[0]


@pytest.mark.parametrize(
    ("lam", "tau", "rel"),
    [(math.log(0.9), 0.7, 1e-6), (math.log(0.3), 0.05, 1e-6), (0.7, 2.0, 5e-3)],
)
def test_fixed_hyperparameters_match_quadrature(monkeypatch, lam, tau, rel):
    """With lambda and tau each pinned to one grid point, every touchpoint's posterior mean is
    the one-dimensional integral's (scipy.quad) to 1e-6 relative (5e-3 with a prior as wide as
    tau = 2, where the integrand of an estimate at or below zero is skewed): a sharp estimate
    (sd 8% of it), a wide one, one at zero and one below it; a prior much sharper than the
    likelihoods (tau = 0.05) is integrated as well."""
    g = np.array([120.0, 40.0, 0.0, -30.0])
    s = np.array([10.0, 60.0, 50.0, 40.0])
    xbar = np.array([100.0, 50.0, 80.0, 60.0])
    c0 = float(np.median(np.log(g[g > 0] / xbar[g > 0])))
    monkeypatch.setattr(LP, "LAMBDA_GRID", np.array([lam - c0]))
    monkeypatch.setattr(LP, "TAU_GRID", np.array([tau]))
    m, _ = LP.posterior_marginal_roi(g, np.diag(s**2), xbar)
    for i in range(g.size):
        want = _posterior_mean_quad(g[i], s[i], xbar[i], lam, tau)
        assert m[i] == pytest.approx(want, rel=rel)


def test_sharp_estimates_are_kept():
    """Likelihood sds 1% of the estimates, marginal ROIs spread by a factor 8: the posterior
    means are the estimates within 2% (the prior has nothing to add)."""
    m_true = np.array([0.4, 0.8, 1.6, 3.2])
    xbar = np.array([50.0, 80.0, 20.0, 30.0])
    g = xbar * m_true
    m, info = LP.posterior_marginal_roi(g, np.diag((0.01 * g) ** 2), xbar)
    np.testing.assert_allclose(m, m_true, rtol=0.02)
    assert info["tau_posterior_mean"] > 0.5  # the spread is seen (log sd of m_true: 0.77)


def test_wide_alike_estimates_come_out_nearly_equal():
    """Eight touchpoints whose estimates differ by less than their noise (likelihood sd twice
    the mean estimate): the posterior marginal ROIs are within 10% of each other, so a plan on
    them stays near the historical mix; and every one is positive, the zero estimate included."""
    xbar = np.full(8, 100.0)
    g = np.array([90.0, 110.0, 0.0, 130.0, 70.0, 100.0, 120.0, 80.0])
    m, _ = LP.posterior_marginal_roi(g, np.diag(np.full(8, 200.0**2)), xbar)
    assert m.min() > 0
    assert m.max() / m.min() < 1.10


@pytest.fixture(scope="module")
def history():
    h, _ = make_world()
    return h


@pytest.fixture(scope="module")
def fits(history):
    base = fit_model(history, n_bootstrap=5)
    log = fit_model(history, n_bootstrap=5, pool_space="log")
    again = fit_model(history, n_bootstrap=5, pool_space="log")
    return base, log, again


def test_fit_records_the_option_and_is_deterministic(fits):
    """The option is recorded with its diagnostics (the four touchpoints pooled, tau's posterior
    mean finite and positive); the same inputs and seed give the same model.json; the default
    fit carries neither."""
    base, log, again = fits
    assert log.fit["options"]["pool_space"] == "log"
    lp = log.diagnostics["pooling"]["log_pooling"]
    assert lp["n_pooled"] == 4 and 0 < lp["tau_posterior_mean"] < 10
    assert model_to_json(log) == model_to_json(again)
    assert "pool_space" not in base.fit["options"]
    assert "log_pooling" not in base.diagnostics["pooling"]


def test_point_curves_carry_the_posterior_means(history, fits, monkeypatch):
    """Each point curve's marginal ROI at its mean weekly spend is the posterior mean the
    hierarchy gives for the likelihood at the MAP (recomputed here from the recorded inputs, 1e-6
    relative), and the curves' shapes (family, decay) are the linear-pooling fit's."""
    base, log, _ = fits
    seen: dict[str, np.ndarray] = {}
    orig = LP.posterior_marginal_roi

    def spy(g, S, xbar):
        m, info = orig(g, S, xbar)
        seen["xbar"], seen["m"] = xbar, m
        return m, info

    monkeypatch.setattr(LP, "posterior_marginal_roi", spy)
    fit_model(history, n_bootstrap=5, pool_space="log")
    by_spend = {round(float(history.spend[t].mean()), 6): t for t in history.spend.columns}
    for xb, m in zip(seen["xbar"], seen["m"], strict=True):
        tid = by_spend[round(float(xb), 6)]
        tp, tb = log.touchpoints[tid], base.touchpoints[tid]
        assert float(tp.weekly_marginal(xb)) == pytest.approx(float(m), rel=1e-6)
        assert tp.curve.family == tb.curve.family
        assert tp.adstock.decay == pytest.approx(tb.adstock.decay, abs=1e-12)


def test_unknown_pool_space_is_refused(history):
    with pytest.raises(ValueError, match="pool_space"):
        fit_model(history, n_bootstrap=0, pool_space="cubic")


def test_fewer_than_min_pooled_touchpoints_leave_the_fit_unchanged():
    """With three touchpoints (fewer than ``MIN_POOLED``, 4: their spread cannot be estimated)
    the option changes nothing but its record: every curve and draw is the default fit's."""
    h, _ = make_world(truth={k: TRUTH[k] for k in ("tv", "search", "social")}, seed=3)
    base = json.loads(model_to_json(fit_model(h, n_bootstrap=5)))
    log = json.loads(model_to_json(fit_model(h, n_bootstrap=5, pool_space="log")))
    assert log["fit"]["options"].pop("pool_space") == "log"
    log["diagnostics"]["pooling"].pop("log_pooling")
    assert json.dumps(log, sort_keys=True) == json.dumps(base, sort_keys=True)
