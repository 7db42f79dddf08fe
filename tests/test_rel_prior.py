"""The half-saturation prior's sd chosen from the data (``fit_model(rel_prior="shared")``,
``optimizer.response.relprior``): the evidence widens the prior where the weeks place a
half-saturation far from the prior's centre and narrows it where the truth sits at the centre or
the weeks cannot place it; the sd reaches the prior rows; the choice is recorded in model.json,
kept by the all-weeks fit, validated, and deterministic.

The measurements behind the option (not the default) are in docs/response-models-measured.md,
"The half-saturation prior's width from the evidence".
"""

from __future__ import annotations

import math
from unittest import mock

import numpy as np
import pytest

from optimizer.response import joint as J
from optimizer.response import mapfit as M
from optimizer.response import relprior as R
from optimizer.response.fit import fit_model
from tests.test_decay_prior import recorded_and_repeatable
from tests.test_decay_profile import _make_frame
from tests.test_fit import make_world

N_WEEKS = 156


def _fixed(rel: float, seed: int, noise: float) -> tuple[J.Problem, J.Solution]:
    """One hill touchpoint (decay 0.3, shape 1, half saturation ``rel`` times its mean adstocked
    spend, beta 400: the effect moves the KPI by about 100 a week) on an intercept and a trend,
    156 weeks of flighted log-normal spend, noise sd ``noise``; and its MAP fit at the fixed
    prior (centre: the mean adstocked spend)."""
    rng = np.random.default_rng(seed)
    x = rng.lognormal(9.0, 0.8, N_WEEKS) * (rng.random(N_WEEKS) > 0.25)
    a, _ = J._adstock(x, 0.3)
    y = 1000.0 + 400.0 * a / (a + rel * a.mean()) + rng.normal(0.0, noise, N_WEEKS)
    Z = np.column_stack([np.ones(N_WEEKS), np.arange(N_WEEKS) / 52.0])
    fr = _make_frame(Z, y, 0.0, 1e-3)
    p = J.Problem([J.Tp(x, "hill")], np.arange(N_WEEKS), fr, np.zeros((N_WEEKS, 0)), noise, 0.0)
    return p, J.fit(p, [M.default_theta("hill")])


@pytest.mark.parametrize("rel", [0.2, 6.0])
def test_evidence_widens_the_prior_for_a_half_saturation_the_weeks_place_far_away(rel):
    """Truth 5 or 6 times off the centre (ln 5 = 1.6 to ln 6 = 1.8 in log rel, 1.5-1.6 fixed prior
    sds), noise sd 5 (the weeks pin it): the evidence picks a factor of at least 5 (sd ln 5,
    wider than the fixed ln 3) and the MAP half-saturation stays within 15% of the truth."""
    for seed in (0, 1):
        p, sol = _fixed(rel, seed, 5.0)
        q, new, info = R.choose(p, sol, "shared")
        assert q.rel_sd >= math.log(5.0) - 1e-12
        assert info["factor"] == pytest.approx(math.exp(q.rel_sd))
        assert math.exp(float(new.theta[0][1])) == pytest.approx(rel, rel=0.15)
        assert min(info["log_ml"].values()) == 0.0 and len(info["log_ml"]) == len(R.SD_GRID)


def test_evidence_tightens_the_prior_at_the_centre_or_where_the_weeks_cannot_place_it():
    """Truth at the centre (rel 1, noise 5 / 200), or far off (rel 6) under noise sd 200 (the
    weeks barely see the curve's bend): the evidence picks the narrowest sd of the grid (ln 1.25),
    and the MAP half-saturation is no farther from the centre than under the fixed prior."""
    for rel, noise in ((1.0, 5.0), (1.0, 200.0), (6.0, 200.0)):
        for seed in (0, 1):
            p, sol = _fixed(rel, seed, noise)
            q, new, _ = R.choose(p, sol, "shared")
            assert q.rel_sd == pytest.approx(math.log(1.25))
            assert abs(float(new.theta[0][1])) <= abs(float(sol.theta[0][1])) + 1e-3


def test_fixed_is_the_prior_of_before_and_the_sd_reaches_the_prior_rows():
    """ "fixed" returns the same problem and solution and no diagnostics; a problem's ``rel_sd``
    is the sd of its log half-saturation's prior row, ``sigma (log rel - centre) / sd``."""
    p, sol = _fixed(2.0, 0, 20.0)
    q, s, info = R.choose(p, sol, "fixed")
    assert q is p and s is sol and info == {}
    rows0, _ = J._prior(p, sol.theta)
    lr = float(sol.theta[0][1])
    assert rows0[1] == pytest.approx(p.sigma * lr / J.PRIOR_LOG_REL_SD)
    q = J.Problem(**{**p.__dict__, "rel_sd": math.log(5.0)})
    rows, ders = J._prior(q, sol.theta)
    assert rows[1] == pytest.approx(p.sigma * lr / math.log(5.0))
    assert ders[1] == pytest.approx(p.sigma / math.log(5.0))
    assert rows[0] == pytest.approx(rows0[0]) and rows[2] == pytest.approx(rows0[2])


@pytest.fixture(scope="module")
def world():
    return make_world()


def test_fit_records_the_choice_and_keeps_it_after_the_training_fit(world, monkeypatch):
    """``fit_model(rel_prior="shared")``: ``fit.options.rel_prior`` and ``diagnostics.rel_prior``
    (its sd, on the grid) are written; the sd is chosen on the training weeks' fits only (one per
    carry-in level tried) and the all-weeks fit keeps it; two fits give the same model.json,
    which reads back (contract 3); the default records nothing new; an unknown choice is a
    clear error."""
    history, _ = world
    counting = mock.Mock(wraps=R.choose)
    monkeypatch.setattr(R, "choose", counting)
    seen: list[tuple[float, float]] = []
    real_fit = M.map_fit

    def spy(*a, **kw):
        out = real_fit(*a, **kw)
        if kw.get("warm") is not None:
            seen.append((kw["warm"].rel_sd, out.rel_sd))
        return out

    monkeypatch.setattr(M, "map_fit", spy)
    m1 = recorded_and_repeatable(history, "rel_prior", "shared", R.SD_GRID)
    n_training_fits = len(m1.diagnostics["initial_carryover"]["map_objective"])
    assert counting.call_count == 2 * n_training_fits
    assert seen and seen[0][0] > 0 and seen[0][0] == seen[0][1]  # seen[-1]: the default fit
    assert m1.diagnostics["rel_prior"]["sd"] == seen[0][1]
    with pytest.raises(ValueError, match="'rel_prior' parameter of fit_model must be one of"):
        fit_model(history, rel_prior="wide")
