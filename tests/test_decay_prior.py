"""The empirical-Bayes centre of the decays' prior (``optimizer.response.decayprior``, a dev knob
``EB_DECAY``, off by default; measured in docs/response-models.md, "Long carry-overs fitted short").

World: tests/test_fit.py's (4 touchpoints, 156 weeks, 2% noise) with every true decay 0.7, far
above the fixed prior's centre 0.3. With the knob on, the centre the fit used is the EM fixed
point: the mean of the fitted decays of the touchpoints with an effect, with two
pseudo-touchpoints at 0.3, to within the EM's stopping step; and it is above 0.3.
"""

from __future__ import annotations

import numpy as np
import pytest

from optimizer.response import decayprior as DPR
from optimizer.response import joint as J
from optimizer.response import mapfit as MF
from optimizer.response.fit import fit_model
from tests.test_fit import TRUTH, make_world


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> list[MF.MapFit]:
    fits: list[MF.MapFit] = []
    orig = MF.map_fit

    def rec(*a, **kw):  # type: ignore[no-untyped-def]
        out = orig(*a, **kw)
        fits.append(out)
        return out

    monkeypatch.setattr(MF, "map_fit", rec)
    return fits


def _world():
    truth = {k: (s, m, 0.7, f, p) for k, (s, m, _, f, p) in TRUTH.items()}
    h, _ = make_world(truth=truth)
    return h


def test_fixed_centre_by_default(recorded: list[MF.MapFit]) -> None:
    fit_model(_world(), seed=0, n_bootstrap=0)
    assert recorded and all(f.decay_centre is None for f in recorded)


def test_empirical_centre_is_the_em_fixed_point(
    recorded: list[MF.MapFit], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(DPR, "EB_DECAY", True)
    model = fit_model(_world(), seed=0, n_bootstrap=0)
    first = recorded[0]  # the training weeks' fit, where the centre is estimated
    assert first.decay_centre is not None and first.decay_centre > J.PRIOR_DECAY + 0.1
    live = [float(t[0]) for t, b in zip(first.theta, first.beta, strict=False) if b > 0]
    expected = (sum(live) + DPR.HYPER_WEIGHT * J.PRIOR_DECAY) / (len(live) + DPR.HYPER_WEIGHT)
    assert abs(first.decay_centre - expected) <= 2 * DPR.TOL  # measured 0.003
    # the all-weeks fit keeps it (and so do its Laplace draws' problem)
    assert recorded[-1].decay_centre == first.decay_centre
    assert np.isfinite([tp.adstock.decay for tp in model.touchpoints.values()]).all()
