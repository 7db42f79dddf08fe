"""The decay prior's sd chosen from the data (``fit_model(decay_prior=...)``,
``optimizer.response.decayprior``): the evidence widens the prior where the weeks place a decay
far from the prior's centre and narrows it where they cannot place it; "informed" flattens it
where the weeks carry little information on the decay; the choice is recorded in model.json,
kept by the all-weeks fit, validated, and deterministic.

The measurements behind the option (not the default) are in docs/response-models-measured.md,
"The decay prior's width from the evidence".
"""

from __future__ import annotations

import json
from unittest import mock

import numpy as np
import pytest

from optimizer.response import decayprior as D
from optimizer.response import joint as J
from optimizer.response import mapfit as M
from optimizer.response.fit import fit_model
from optimizer.response.model import ResponseModel, model_from_dict, model_to_json
from tests.test_decay_profile import _problem
from tests.test_fit import make_world


def _fixed(decay: float, seed: int, noise: float) -> tuple[J.Problem, J.Solution]:
    p, _ = _problem(decay, seed, noise)
    return p, J.fit(p, [M.default_theta("hill")])


def test_joint_evidence_is_the_family_choices_for_one_touchpoint():
    """With one touchpoint the joint Laplace evidence is ``joint.log_ml_local``'s (the family
    choice's), to 1e-9 relative: the same formula over every transform."""
    p, sol = _fixed(0.7, 2, 10.0)
    assert D.log_ml_joint(p, sol) == pytest.approx(J.log_ml_local(p, sol, 0), rel=1e-9)


@pytest.mark.parametrize("mode", ["shared", "touchpoint"])
def test_evidence_widens_the_prior_for_a_long_decay_the_weeks_place(mode):
    """True decay 0.85, noise sd 10 against an effect of about 100 a week (the weeks pin the
    decay): the evidence picks an sd of at least 0.45 (the fixed prior's 0.3 is narrower than
    the distance of the decay from the centre 0.3)."""
    for seed in (0, 1):
        p, sol = _fixed(0.85, seed, 10.0)
        q, _, info = D.choose(p, sol, mode)
        assert float(q.decay_sd[0]) >= 0.45
        assert info["grid"] == list(D.SD_GRID)


@pytest.mark.parametrize("mode", ["shared", "touchpoint"])
def test_evidence_keeps_or_tightens_the_pull_where_the_weeks_cannot_place_the_decay(mode):
    """The failure mode the measurements found (docs): true decay 0.6 under noise sd 200 / 400
    (an effect of about 100 a week: the weeks barely place the decay) and a short decay 0.1: the
    evidence picks an sd of at most 0.3, so the MAP decay stays at or nearer the centre 0.3 than
    under the fixed prior (the long decay is not moved towards its truth)."""
    for decay, seed, noise in ((0.6, 0, 200.0), (0.6, 1, 400.0), (0.1, 0, 10.0)):
        p, sol = _fixed(decay, seed, noise)
        q, new, _ = D.choose(p, sol, mode)
        assert float(q.decay_sd[0]) <= 0.3
        d_fix, d_new = float(sol.theta[0][0]), float(new.theta[0][0])
        assert abs(d_new - J.PRIOR_DECAY) <= abs(d_fix - J.PRIOR_DECAY) + 1e-3  # refit: 1e-3


def test_informed_flattens_the_prior_only_where_the_weeks_say_little():
    """ "informed": a decay the weeks pin (0.85, noise 10) keeps the fixed sd 0.3; one they
    barely inform (0.6, noise 400) gets the widest sd (``INFORMED_MAX_SD``) and its MAP decay
    moves away from the centre (to a bound here: the measured reason the option loses)."""
    p, sol = _fixed(0.85, 0, 10.0)
    q, _, info = D.choose(p, sol, "informed")
    assert float(q.decay_sd[0]) == pytest.approx(J.PRIOR_DECAY_SD)
    assert info["data_sd"][0] < J.PRIOR_DECAY_SD
    p, sol = _fixed(0.6, 1, 400.0)
    q, new, _ = D.choose(p, sol, "informed")
    assert float(q.decay_sd[0]) == pytest.approx(D.INFORMED_MAX_SD)
    assert abs(float(new.theta[0][0]) - J.PRIOR_DECAY) > abs(float(sol.theta[0][0]) - J.PRIOR_DECAY)


def test_fixed_is_the_prior_of_before():
    """ "fixed" changes nothing: the same problem and solution back, no diagnostics."""
    p, sol = _fixed(0.7, 2, 10.0)
    q, s, info = D.choose(p, sol, "fixed")
    assert q is p and s is sol and info == {}


@pytest.fixture(scope="module")
def world():
    return make_world()


def recorded_and_repeatable(history, option: str, value: str, grid) -> ResponseModel:
    """``fit_model(option=value)`` twice: ``fit.options[option]`` and ``diagnostics[option]``
    (its ``sd``, on ``grid``) are written, read back from model.json (contract 3), the two
    model.json are the same; the default fit records neither. Returns the first model."""
    m1 = fit_model(history, seed=3, n_bootstrap=5, **{option: value})
    assert m1.fit["options"][option] == value
    sd = m1.diagnostics[option]["sd"]
    assert sd in grid
    m2 = fit_model(history, seed=3, n_bootstrap=5, **{option: value})
    assert model_to_json(m1) == model_to_json(m2)
    back = model_from_dict(json.loads(model_to_json(m1)))
    assert back.fit["options"][option] == value
    assert back.diagnostics[option]["sd"] == sd
    base = fit_model(history, seed=3, n_bootstrap=5)
    assert option not in base.fit["options"]
    assert option not in base.diagnostics
    return m1


def test_fit_records_the_choice_and_keeps_it_after_the_training_fit(world, monkeypatch):
    """``fit_model(decay_prior="shared")``: ``fit.options.decay_prior`` and
    ``diagnostics.decay_prior`` (its sd, on the grid) are written; the sd is chosen on the
    training weeks' fits only (one per carry-in level tried, for each of the two fits) and the
    all-weeks fit keeps it (``choose`` is not called again); two fits give the same model.json;
    the default records nothing new."""
    history, _ = world
    counting = mock.Mock(wraps=D.choose)
    monkeypatch.setattr(D, "choose", counting)
    m1 = recorded_and_repeatable(history, "decay_prior", "shared", D.SD_GRID)
    n_training_fits = len(m1.diagnostics["initial_carryover"]["map_objective"])
    assert counting.call_count == 2 * n_training_fits


def test_warm_fit_keeps_the_training_fits_sds(world, monkeypatch):
    """``map_fit(warm=...)`` (the all-weeks fit) keeps the warm (training) fit's per-touchpoint
    decay sds: what the all-weeks fit reports is what the training fit chose."""
    from optimizer.response import estimator as E

    history, _ = world
    seen: list[tuple[float, ...]] = []
    real = M.map_fit

    def spy(*a, **kw):
        out = real(*a, **kw)
        if kw.get("warm") is not None:
            seen.append((tuple(kw["warm"].decay_sd), tuple(out.decay_sd)))
        return out

    monkeypatch.setattr(M, "map_fit", spy)
    E.ResponseFitter(random_state=1, n_bootstrap=0, decay_prior="touchpoint").fit(history)
    assert seen and seen[-1][0] and seen[-1][0] == seen[-1][1]


def test_unknown_decay_prior_is_a_clear_error(world):
    history, _ = world
    with pytest.raises(ValueError, match="'decay_prior' parameter of fit_model must be one of"):
        fit_model(history, decay_prior="wide")


def test_decay_sds_reach_the_prior_rows():
    """A problem's per-touchpoint decay sd is the one its prior rows and the local evidence use:
    the decay's prior row is ``sigma (decay - 0.3) / sd``."""
    p, sol = _fixed(0.7, 2, 10.0)
    q = J.Problem(**{**p.__dict__, "decay_sd": np.array([0.6])})
    rows, ders = J._prior(q, sol.theta)
    d = float(sol.theta[0][0])
    assert rows[0] == pytest.approx(p.sigma * (d - J.PRIOR_DECAY) / 0.6)
    assert ders[0] == pytest.approx(p.sigma / 0.6)
    assert J.log_ml_local(q, sol, 0) != pytest.approx(J.log_ml_local(p, sol, 0))


@pytest.mark.parametrize("mode", ["touchpoint", "informed"])
def test_every_choice_writes_strict_json(world, mode):
    """model.json of a fit with each choice is strict JSON (no Infinity or NaN: a touchpoint
    whose weeks carry no information on its decay has ``data_sd`` null) and records one sd per
    searched touchpoint."""
    history, _ = world

    def refuse(name: str) -> None:
        raise ValueError(f"non-JSON constant {name}")

    m = fit_model(history, seed=3, n_bootstrap=0, decay_prior=mode)
    data = json.loads(model_to_json(m), parse_constant=refuse)
    dp = (
        data["diagnostics"]["decay_prior"]
        if "diagnostics" in data
        else m.diagnostics["decay_prior"]
    )
    assert len(dp["sd"]) == len(history.spend.columns)
    assert all(0.1 - 1e-12 <= v <= 1.0 + 1e-12 for v in dp["sd"])
