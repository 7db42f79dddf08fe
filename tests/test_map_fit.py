"""The MAP fitter (``method="map"``, the default): the estimator interface, the joint fit's
analytic Jacobian, the empirical-Bayes pooling, the baseline's seasonality x level, the family
choice, and the draws.

Worlds come from ``tests.test_fit.make_world`` (tv, search, social, display over 156 weeks, 3%
noise, known truth); each assertion states its tolerance.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

from optimizer.response import joint as J
from optimizer.response.estimator import FitDiagnostics, ResponseFitter
from optimizer.response.fit import fit_model
from optimizer.response.model import model_to_json
from tests.test_fit import TRUTH, make_world


@pytest.fixture(scope="module")
def small():
    history, truth = make_world(n_weeks=120, truth={k: TRUTH[k] for k in ("tv", "search")}, seed=3)
    return history, truth


def test_estimator_params_clone_and_fit(small):
    history, _ = small
    est = ResponseFitter(random_state=5, n_bootstrap=4)
    params = est.get_params()
    assert params["random_state"] == 5 and params["method"] == "map"
    twin = clone(est)
    assert twin.get_params() == params and twin is not est
    assert twin.fit(history) is twin
    assert isinstance(twin.diagnostics_, FitDiagnostics)
    assert twin.diagnostics_.n_weeks == 120
    assert twin.diagnostics_.pooling["method"].startswith("empirical Bayes")
    # fit_model is the estimator: the same model, bit for bit
    assert model_to_json(twin.model_) == model_to_json(fit_model(history, seed=5, n_bootstrap=4))


def test_random_state_changes_only_the_draws(small):
    history, _ = small
    a = ResponseFitter(random_state=1, n_bootstrap=5).fit(history).model_
    b = ResponseFitter(random_state=2, n_bootstrap=5).fit(history).model_
    for tid in a.touchpoints:
        assert a.touchpoints[tid].curve == b.touchpoints[tid].curve
        assert a.touchpoints[tid].draws != b.touchpoints[tid].draws


@pytest.mark.parametrize("family", ["hill", "exponential", "logistic"])
def test_analytic_jacobian_matches_finite_differences(family):
    """Each column's derivative in decay, log relative half saturation and log shape, the pooling
    coefficient's and a lift test's, against central differences (relative error < 1e-5)."""
    rng = np.random.default_rng(0)
    x = rng.lognormal(10.0, 0.5, 100) * (rng.random(100) > 0.2)
    x1 = x.copy()
    x1[40:44] += 0.3 * x.mean()
    tp = J.Tp(x, family, True, ((x1, 1000.0, 100.0),))
    th = np.array([0.35, 0.2, -0.3][: tp.k])
    cols = J.columns([tp], [th])
    for q in range(tp.k):
        h = 1e-6
        up, dn = th.copy(), th.copy()
        up[q] += h
        dn[q] -= h
        J._CACHE.clear()
        cu, cd = J.columns([tp], [up]), J.columns([tp], [dn])
        num = (cu.M[:, 0] - cd.M[:, 0]) / (2 * h)
        np.testing.assert_allclose(cols.dM[0][:, q], num, rtol=1e-5, atol=1e-8 * np.abs(num).max())
        num_e = (cu.e[0] - cd.e[0]) / (2 * h)
        assert cols.de[0][q] == pytest.approx(num_e, rel=1e-5, abs=1e-9)
        num_l = (cu.L[0][0] - cd.L[0][0]) / (2 * h)
        assert cols.dL[0][0, q] == pytest.approx(num_l, rel=1e-5, abs=1e-9)


def test_pooling_strength_comes_from_the_data_not_the_fixed_options(small):
    """The MAP fit's pooling of marginal ROIs is set by the marginal likelihood: ``pool_marginal``
    (the grid method's constant) does not change its curves. (``ridge`` shapes only the grid
    search that gives the MAP fit its first start; the inner solve has no ridge but a 1e-3
    numerical stabiliser.)"""
    history, _ = small
    a = fit_model(history, n_bootstrap=0)
    b = fit_model(history, n_bootstrap=0, pool_marginal=5.0)
    for tid in a.touchpoints:
        assert a.touchpoints[tid].curve == b.touchpoints[tid].curve
    pooling = a.diagnostics["pooling"]
    assert pooling["omega"] >= 0 and pooling["pool_marginal_equivalent"] >= 0
    assert "log_evidence_gain" in pooling


def test_seasonality_scaled_by_the_level_is_chosen_when_the_data_have_it():
    """Multiplicative seasonality (a swing that grows with the trend) selects the trend x Fourier
    terms; the same world with additive seasonality does not."""
    history, _ = make_world(n_weeks=156, seed=4)
    frame = history.frame.copy()
    t = np.arange(len(frame)) / 52.0
    season = np.sin(2 * np.pi * np.arange(len(frame)) / 52.18)
    base = float(frame["revenue"].mean())
    add = frame.copy()
    add["revenue"] = frame["revenue"] + 0.15 * base * season
    mult = frame.copy()
    mult["revenue"] = frame["revenue"] + 0.15 * base * season * (1 + 1.5 * t)
    from dataclasses import replace

    m_add = fit_model(replace(history, frame=add), n_bootstrap=0)
    m_mult = fit_model(replace(history, frame=mult), n_bootstrap=0)
    assert m_add.diagnostics["baseline"]["seasonal_trend"] is False
    assert m_mult.diagnostics["baseline"]["seasonal_trend"] is True
    assert "trend*sin1" in m_mult.fit["baseline"]


def test_families_option_restricts_the_choice(small):
    history, _ = small
    m = fit_model(history, n_bootstrap=0, families=("exponential",))
    assert {tp.curve.family for tp in m.touchpoints.values()} == {"exponential"}


def test_laplace_draws_are_joint_and_within_bounds(small):
    history, _ = small
    m = fit_model(history, n_bootstrap=30)
    for tp in m.touchpoints.values():
        assert len(tp.draws) == 30
        for s, a in tp.draws:
            assert s.beta >= 0 and 0.0 <= a.decay <= J.DECAY_BOUNDS[1]
        lo, hi = tp.diagnostics["marginal_roi_interval_80"]
        assert lo < hi
    assert m.diagnostics["uncertainty"]["method"] == "laplace"  # no lift tests: Laplace


def test_bad_new_options_are_value_errors(small):
    history, _ = small
    with pytest.raises(ValueError, match="'method' parameter of fit_model must be one of"):
        fit_model(history, method="nuts")
    with pytest.raises(ValueError, match="'uncertainty' parameter of fit_model must be one of"):
        fit_model(history, uncertainty="mcmc")
    with pytest.raises(ValueError, match="'prior_weight' parameter of fit_model must be"):
        fit_model(history, prior_weight=-1)


def test_estimator_predicts_through_the_package_transformers(small):
    """``ResponseFitter.transform`` runs each touchpoint's fitted GeometricAdstock + saturation
    pipeline; ``predict`` (betas times it, plus the baseline) equals ``fit.predict`` to 1e-9
    relative and reproduces the fit's R²."""
    from sklearn.pipeline import Pipeline

    from optimizer.response.fit import predict

    history, _ = small
    est = ResponseFitter(n_bootstrap=0).fit(history)
    pipes = est.pipelines()
    assert set(pipes) == set(est.model_.touchpoints)
    assert all(isinstance(p, Pipeline) for p in pipes.values())
    media = est.transform(history)
    assert list(media.columns) == list(est.model_.touchpoints)
    yhat = est.predict(history)
    np.testing.assert_allclose(yhat, predict(est.model_, history), rtol=1e-9)
    y = history.frame["revenue"].to_numpy()
    r2 = 1 - ((y - yhat) ** 2).sum() / ((y - y.mean()) ** 2).sum()
    assert r2 == pytest.approx(est.model_.diagnostics["r2"], abs=1e-9)


def test_point_curve_of_a_zero_map_beta_is_the_posterior_mean():
    """A touchpoint whose MAP beta is zero while half of its posterior draws give it beta 2 (same
    transforms) gets the mean curve, beta 1 (to 1e-6): the posterior mean of an effect cut at
    zero is positive, and a zero point would defund a touchpoint the draws leave room for."""
    from optimizer.response import mapfit as MF
    from optimizer.response.mapsetup import MapData
    from optimizer.response.pointcurves import posterior_mean_point

    rng = np.random.default_rng(0)
    n = 104
    x = rng.lognormal(8.0, 0.5, n)
    Z = np.ones((n, 1))
    y = 1000.0 + rng.normal(0.0, 10.0, n)
    G = np.zeros((n, 0))
    theta = [np.array([0.3, 0.0])]
    fit = MF.MapFit(
        ["exponential"], theta, np.zeros(1), np.zeros(1), 0.0, 0.0, 10.0,
        np.array([float(J.columns([J.Tp(x, "exponential")], theta).mean_ad[0])]),
        {}, 0.0, y.copy(),
    )  # fmt: skip
    draws = [([theta[0].copy()], np.array([b])) for b in (0.0, 2.0) * 5]
    point = posterior_mean_point(fit, draws, MapData((x,), (True,), ((),), y, Z, G, 0.001))
    assert point.beta[0] == pytest.approx(1.0, rel=1e-6)
    assert point.theta[0][0] == 0.3  # the MAP's decay is kept


def test_family_weights_are_posterior_probabilities():
    """exp(-lml / 2) normalised (lml: minus twice the log marginal likelihood): a difference of
    2 ln 3 is odds of 3 to 1; a family below MIN_FAMILY_WEIGHT is left out, the rest renormalised."""
    from optimizer.response.families import MIN_FAMILY_WEIGHT, family_weights

    w = family_weights({"hill": 10.0, "exponential": 10.0 + 2 * np.log(3.0)})
    assert w == pytest.approx({"exponential": 0.25, "hill": 0.75}, abs=1e-12)
    far = 2 * np.log(1 / (0.5 * MIN_FAMILY_WEIGHT))  # weight about MIN/2 against 1
    w = family_weights({"hill": 0.0, "logistic": 0.0, "exponential": far})
    assert w == pytest.approx({"hill": 0.5, "logistic": 0.5}, abs=1e-12)
    assert family_weights({"hill": float("inf")}) == {}


def test_family_averaging_mixes_the_draws_by_the_reported_weights(small):
    """average_families=True: model.json's diagnostics give each touchpoint's family weights
    (summing to 1), each touchpoint's 20 draws are of those families in the weights' shares
    (largest remainder: exact counts), the point curve is of one of them, and the fit is
    deterministic; the default fit has no weights and one family per touchpoint."""
    history, _ = small
    a = fit_model(history, seed=0, n_bootstrap=20, average_families=True)
    b = fit_model(history, seed=0, n_bootstrap=20, average_families=True)
    assert model_to_json(a) == model_to_json(b)
    weights = a.diagnostics["family_weights"]
    assert set(weights) == set(a.touchpoints)
    mixed = 0
    for tid, tp in a.touchpoints.items():
        w = weights[tid]
        assert sum(w.values()) == pytest.approx(1.0, abs=1e-12)
        assert tp.curve.family in w
        assert a.diagnostics["family_averaging"]["point_families"][tid] == tp.curve.family
        counts = {f: sum(s.family == f for s, _ in tp.draws) for f in w}
        exact = {f: 20 * v for f, v in w.items()}
        assert sum(counts.values()) == 20
        assert all(abs(counts[f] - exact[f]) < 1 for f in w), (counts, exact)
        mixed += len([f for f in w if counts[f] > 0]) > 1
    assert mixed >= 1  # this world's families are close: the draws mix (tv 53/39/8%)
    default = fit_model(history, seed=0, n_bootstrap=20)
    assert "family_weights" not in default.diagnostics
    for tp in default.touchpoints.values():
        assert {s.family for s, _ in tp.draws} == {tp.curve.family}


def test_point_curves_stay_concave_without_s_curves(tmp_path):
    """A point curve averaged over families is fitted to the mean over draws of several
    families; a hill point curve keeps its shape within [0.3, 1] (concave, as the MAP's) unless
    allow_s_curves. PyMC-Marketing's mmm_example with average_families=True gave x2 a hill
    point curve of shape 1.22 (an S-curve the planner would need a MILP for) before the bound."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from _fit_cases import mmm_example_case

    history = mmm_example_case(tmp_path).history
    m = fit_model(history, seed=0, n_bootstrap=0, average_families=True)
    for tp in m.touchpoints.values():
        if tp.curve.family == "hill":
            assert 0.3 - 1e-9 <= tp.curve.params["shape"] <= 1.0 + 1e-9


def test_mixture_point_switch_keeps_the_family_or_the_default_point(tmp_path, monkeypatch):
    """``families.MIXTURE_POINT`` (a dev switch of ``average_families=True``) on mmm_example,
    where the default ("closest": the family closest to the mixture's mean curve) moves both
    point curves off the MAP's family (x1 logistic -> exponential, x2 exponential -> hill):
    "map" keeps each point curve in the default fit's family; "unmixed" keeps the default fit's
    point curves to the bit while the draws still mix the families; any other value is a
    ValueError naming it."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from _fit_cases import mmm_example_case

    from optimizer.response import families as FA

    history = mmm_example_case(tmp_path).history
    default = fit_model(history, seed=0, n_bootstrap=20)
    closest = fit_model(history, seed=0, n_bootstrap=20, average_families=True)
    monkeypatch.setattr(FA, "MIXTURE_POINT", "map")
    mapped = fit_model(history, seed=0, n_bootstrap=0, average_families=True)
    monkeypatch.setattr(FA, "MIXTURE_POINT", "unmixed")
    unmixed = fit_model(history, seed=0, n_bootstrap=20, average_families=True)
    fams = {t: tp.curve.family for t, tp in default.touchpoints.items()}
    assert fams == {"x1": "logistic", "x2": "exponential"}
    assert {t: tp.curve.family for t, tp in closest.touchpoints.items()} != fams
    assert {t: tp.curve.family for t, tp in mapped.touchpoints.items()} == fams
    for tid, tp in unmixed.touchpoints.items():
        assert tp.curve.to_dict() == default.touchpoints[tid].curve.to_dict()
        assert tp.adstock == default.touchpoints[tid].adstock
        mixed = {s.family for s, _ in tp.draws}
        assert mixed == {s.family for s, _ in closest.touchpoints[tid].draws} and len(mixed) > 1
    monkeypatch.setattr(FA, "MIXTURE_POINT", "nearest")
    with pytest.raises(ValueError, match="nearest"):
        fit_model(history, seed=0, n_bootstrap=0, average_families=True)
