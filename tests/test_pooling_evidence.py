"""How the MAP fit's pooling weight comes from its evidence (``joint.pooling_weight``): the
maximum of the marginal likelihood (``pool_evidence="argmax"``) or the posterior mean of the
shrinkage factor under a uniform prior on it (``"shrinkage"``).

The decision rule is checked on evidence curves of known shape (the evidence and the unpooled
spread replaced), against an independent numerical integral; the fit is checked end to end on
``tests.test_fit.make_world``'s two-touchpoint world.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import quad

from optimizer.response import joint as J
from optimizer.response.fit import fit_model
from optimizer.response.model import model_to_json
from tests.test_fit import TRUTH, make_world

V = 0.5  # the unpooled spread the synthetic cases use: B = 1/2 at omega = 2


class _P:
    """The part of a ``joint.Problem`` ``pooling_weight`` reads beyond the replaced functions."""

    rows = np.arange(100)


def _weight(monkeypatch, evidence, mode: str = "shrinkage") -> tuple[float, dict[str, float]]:
    monkeypatch.setattr(J, "log_evidence", lambda p, th, om: evidence(np.log(om)))
    monkeypatch.setattr(J, "unpooled_spread", lambda p, th: V)
    return J.pooling_weight(_P(), [], mode)  # type: ignore[arg-type]


def _posterior_mean_b(evidence) -> float:
    """E[B] under evidence(log omega) x the uniform prior on B (density 2B(1-B) per log omega),
    by adaptive quadrature over log omega (independent of the fitter's grid)."""

    def b(t: float) -> float:
        return (math.exp(t) * V) ** 2 / (1.0 + (math.exp(t) * V) ** 2)

    def w(t: float) -> float:
        return math.exp(float(evidence(np.array([t]))[0])) * b(t) * (1.0 - b(t))

    lo, hi = math.log(1e-3 / V), math.log(1e3 / V)
    num = quad(lambda t: w(t) * b(t), lo, hi, limit=200, points=[math.log(2.0)])[0]
    den = quad(w, lo, hi, limit=200, points=[math.log(2.0)])[0]
    return num / den


def test_peaked_evidence_gives_about_its_maximum(monkeypatch):
    """Evidence sharply peaked at omega = 10 (sd 0.05 in log omega): the posterior mean of B sits
    at the peak, so both rules give omega = 10 within 10%."""
    peak = math.log(10.0)

    def ev(t):
        return -0.5 * ((t - peak) / 0.05) ** 2

    om_s, info = _weight(monkeypatch, ev)
    om_a, _ = _weight(monkeypatch, ev, "argmax")
    assert om_s == pytest.approx(10.0, rel=0.10)
    assert om_a == pytest.approx(10.0, rel=0.10)
    assert info["omega_argmax"] == pytest.approx(10.0, rel=0.10)  # its own grid


def test_flat_evidence_from_moderate_to_full_pooling_pools_more(monkeypatch):
    """Evidence rising steeply to omega = 2 and nearly flat beyond (within 0.5 of its top up to
    omega = 9: the data can hardly tell moderate from strong pooling): the maximum takes omega = 2 (B = 1/2), the posterior mean of B
    is the integral's to 0.01, and its omega at least 1.4 times the maximum's."""

    def ev(t):
        u = t - math.log(2.0)
        return np.where(u < 0, 8.0 * u, -0.5 * (u / 1.5) ** 2)

    om_s, info = _weight(monkeypatch, ev)
    om_a, _ = _weight(monkeypatch, ev, "argmax")
    assert om_a == pytest.approx(2.0, rel=0.2)  # within the grid's step (a factor 1.33)
    assert info["shrinkage"] == pytest.approx(_posterior_mean_b(ev), abs=0.01)
    assert om_s >= 1.4 * 2.0
    assert om_s == pytest.approx(math.sqrt(info["shrinkage"] / (1 - info["shrinkage"])) / V)


def test_without_an_unpooled_spread_the_rule_is_the_maximum(monkeypatch):
    """Nothing to pool (spread 0): ``shrinkage`` falls back to the maximum of the evidence."""
    monkeypatch.setattr(J, "log_evidence", lambda p, th, om: -((np.log(om) - 1.0) ** 2))
    monkeypatch.setattr(J, "unpooled_spread", lambda p, th: 0.0)
    om, info = J.pooling_weight(_P(), [], "shrinkage")  # type: ignore[arg-type]
    assert "shrinkage" not in info
    assert om == pytest.approx(math.e, rel=0.15)


@pytest.fixture(scope="module")
def small():
    history, _ = make_world(
        n_weeks=120, truth={k: TRUTH[k] for k in ("tv", "search", "social")}, seed=3
    )
    return history


def test_fit_reports_the_rule_and_is_deterministic(small):
    """Through ``fit_model``: the diagnostics name the rule, the shrinkage is a share in (0, 1),
    the weight follows from it and the unpooled spread, and the same inputs give the same
    model.json bit for bit."""
    a = fit_model(small, n_bootstrap=3, pool_evidence="shrinkage")
    pooling = a.diagnostics["pooling"]
    assert pooling["evidence"] == "shrinkage"
    b_mean, v = pooling["shrinkage"], pooling["unpooled_spread"]
    assert 0.0 < b_mean < 1.0 and v > 0
    assert pooling["omega"] == pytest.approx(math.sqrt(b_mean / (1 - b_mean)) / v)
    assert model_to_json(a) == model_to_json(
        fit_model(small, n_bootstrap=3, pool_evidence="shrinkage")
    )
    assert fit_model(small, n_bootstrap=0).diagnostics["pooling"]["evidence"] == "argmax"


def test_bad_pool_evidence_is_a_value_error(small):
    with pytest.raises(ValueError, match="'pool_evidence' parameter of fit_model must be one of"):
        fit_model(small, pool_evidence="mean")
