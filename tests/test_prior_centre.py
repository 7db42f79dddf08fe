"""Where the MAP fit's half-saturation prior is centred (``fit_model(prior_centre=...)``,
``joint.prior_of``): at the touchpoint's mean adstocked spend ("mean", the default) or at the
level it runs at in the weeks it runs ("operating": ``ln(n / n_on)`` higher in log relative half
saturation). Worlds come from ``tests.test_fit.make_world`` (known truth, 2% noise)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from optimizer.response import joint as J
from optimizer.response.fit import fit_model
from optimizer.response.solve import _make_frame
from tests.test_fit import TRUTH, make_world

N = 120


def _always_on(seed: int, mean: float) -> np.ndarray:
    x = np.random.default_rng(seed).lognormal(0.0, 0.5, N)
    return x * mean / x.mean()


def test_centre_of_an_always_on_touchpoint_is_unchanged():
    """Spend in every week: "operating" is "mean", exactly (centre and sd, every family)."""
    x = _always_on(1, 5000.0)
    for fam in J.FAMILIES:
        tp = J.Tp(x, fam)
        assert J.prior_of(tp, "operating") == J.prior_of(tp, "mean")
        assert J.prior_of(tp, "mean")[0][1] == J.PRIOR_LOG_REL == 0.0


def test_centre_of_a_flighted_touchpoint_is_its_operating_level():
    """Spend in 30 of 120 weeks (any amounts): the log-rel centre moves up by ln(120 / 30) =
    ln 4 (the mean spend over the weeks with spend over the mean over all weeks), to 1e-15; the
    decay and shape centres and every sd stay."""
    x = np.zeros(N)
    x[5:35] = np.linspace(100.0, 900.0, 30)
    tp = J.Tp(x, "hill")
    op, mean = J.prior_of(tp, "operating"), J.prior_of(tp, "mean")
    assert op[0][1] == pytest.approx(math.log(4.0), abs=1e-15)
    assert math.exp(op[0][1]) == pytest.approx(x[x > 0].mean() / x.mean(), rel=1e-12)
    assert (op[0][0], op[0][2]) == (mean[0][0], mean[0][2]) == (J.PRIOR_DECAY, J.PRIOR_LOG_SHAPE)
    assert op[1] == mean[1] == [J.PRIOR_DECAY_SD, J.PRIOR_LOG_REL_SD, J.PRIOR_LOG_SHAPE_SD]
    assert J.operating_shift(np.zeros(N)) == 0.0  # never on: no shift (and no log of zero)
    with pytest.raises(ValueError, match="prior centre 'median'"):
        J.prior_of(tp, "median")


@pytest.mark.parametrize("family", ["hill", "logistic"])
def test_prior_rows_jacobian_matches_finite_differences(family):
    """The prior rows of the MAP objective with the operating centre and their analytic
    derivatives (``joint._prior``), and the prior block of the solver's Jacobian
    (``joint.fit``'s ``sol.jac``), against central differences of the rows (step 1e-6,
    absolute error < 1e-6 of the row scale sigma / sd: the rows are linear in theta). The rows
    vanish at the operating centre."""
    rng = np.random.default_rng(4)
    x1 = np.where(rng.random(N) < 0.25, rng.lognormal(8.0, 0.3, N), 0.0)
    x2 = _always_on(2, 3000.0)
    tps = [J.Tp(x1, family), J.Tp(x2, "exponential")]
    y = 1000.0 + 0.05 * x1 + 0.1 * x2 + rng.normal(0.0, 10.0, N)
    Z = np.ones((N, 1))
    fr = _make_frame(Z, y, 0.0, 1e-3)
    p = J.Problem(tps, np.arange(N), fr, np.zeros((N, 0)), 10.0, 0.0, rel_centre="operating")
    theta = [np.array([0.4, 0.7, -0.2][: tps[0].k]), np.array([0.2, -0.3])]
    vals, ders = J._prior(p, theta)
    flat = np.concatenate(theta)
    h = 1e-6
    for q in range(flat.size):
        up, dn = flat.copy(), flat.copy()
        up[q] += h
        dn[q] -= h
        num = (J._prior(p, J.split(p, up, [0, 1]))[0] - J._prior(p, J.split(p, dn, [0, 1]))[0]) / (
            2 * h
        )
        expect = np.zeros(flat.size)
        expect[q] = ders[q]
        np.testing.assert_allclose(num, expect, atol=1e-6 * ders.max())
    centre = [np.array(J.prior_of(tp, "operating")[0]) for tp in tps]
    np.testing.assert_allclose(J._prior(p, centre)[0], 0.0, atol=1e-12)
    assert J._prior(p, centre)[0][1] == 0.0 and J.operating_shift(x1) > 1.0
    sol = J.fit(p, theta, max_nfev=5)
    assert sol.jac is not None
    nr = sol.jac.shape[0] - flat.size
    v, d = J._prior(p, sol.theta)
    np.testing.assert_allclose(sol.jac[nr:], np.diag(d), atol=1e-12)
    np.testing.assert_allclose(v, J._prior(p, sol.theta)[0])


def test_operating_centre_leaves_an_always_on_fit_alone_and_moves_a_flighted_one():
    """Always-on spend: the "operating" fit's curves and draws are the default's, bit for bit.
    A touchpoint on in about a quarter of the weeks: its fitted half-saturation point moves up
    (the prior sits ln(n / n_on) ~ 1.4 higher), and the option is recorded in fit.options."""
    truth = {k: TRUTH[k] for k in ("tv", "search")}
    on = {k: _always_on(i, TRUTH[k][1]) for i, k in enumerate(truth)}
    history, _ = make_world(n_weeks=N, truth=truth, seed=5, extra=on)
    a = fit_model(history, seed=1, n_bootstrap=4, prior_centre="mean")
    b = fit_model(history, seed=1, n_bootstrap=4)  # the default: "operating"
    for t in truth:
        assert a.touchpoints[t].curve == b.touchpoints[t].curve
        assert a.touchpoints[t].draws == b.touchpoints[t].draws
    assert a.fit["options"]["prior_centre"] == "mean"
    assert b.fit["options"]["prior_centre"] == "operating"

    rng = np.random.default_rng(9)
    flight = np.where(rng.random(N) < 0.25, rng.lognormal(0.0, 0.1, N), 0.0)
    flight = flight * TRUTH["search"][1] / flight.mean()
    history, _ = make_world(
        n_weeks=N, truth=truth, seed=5, extra={"tv": on["tv"], "search": flight}
    )
    a = fit_model(history, seed=1, n_bootstrap=0, prior_centre="mean")
    b = fit_model(history, seed=1, n_bootstrap=0)
    ra = a.touchpoints["search"].diagnostics["search"]["relative_half_saturation"]
    rb = b.touchpoints["search"].diagnostics["search"]["relative_half_saturation"]
    assert rb > 1.05 * ra
    with pytest.raises(ValueError, match="'prior_centre' parameter of fit_model"):
        fit_model(history, prior_centre="max")


def test_laplace_and_bootstrap_problems_keep_the_fits_prior_centre():
    """The problem the Laplace draws, family mixture and decay profiles start from
    (``problem_at_map``) and a bootstrap refit (``map_bootstrap_draw``) use the MAP fit's prior
    centre: the prior rows vanish at the operating centre of a flighted touchpoint (to 1e-12),
    and a bootstrap refit of a touchpoint the data barely inform (no effect in a flat KPI with
    noise) lands at a log relative half-saturation higher by more than half the shift ln 4."""
    from dataclasses import replace

    from optimizer.response import mapfit as MF
    from optimizer.response.mapboot import MapBootstrap, map_bootstrap_draw
    from optimizer.response.mapsetup import MapData, problem_at_map

    rng = np.random.default_rng(3)
    x = np.where(np.arange(N) % 4 == 0, rng.lognormal(8.0, 0.2, N), 0.0)  # on 1 week in 4
    Z = np.ones((N, 1))
    y = 1000.0 + rng.normal(0.0, 20.0, N)
    G = np.zeros((N, 0))
    theta = [np.array([0.3, 0.0])]
    m = float(J.columns([J.Tp(x, "exponential")], theta).mean_ad[0])
    fit = MF.MapFit(
        ["exponential"], theta, np.zeros(1), np.zeros(1), 0.0, 0.0, 20.0, np.array([m]), {},
        0.0, y.copy(), prior_centre="operating",
    )  # fmt: skip
    data = MapData((x,), (True,), ((),), y, Z, G, 0.001, 1.0, False)
    p, _ = problem_at_map(fit, data)
    assert p.rel_centre == "operating"
    op = np.array(J.prior_of(J.Tp(x, "exponential"), "operating")[0])
    assert op[1] == pytest.approx(math.log(4.0), abs=1e-12)
    np.testing.assert_allclose(J._prior(p, [op])[0], 0.0, atol=1e-12)
    lr = {}
    for centre in ("mean", "operating"):
        ctx = MapBootstrap(replace(fit, prior_centre=centre), data, 0, 8, perturb=False)
        lr[centre] = float(map_bootstrap_draw(ctx, 0)[0][0][1])
    assert lr["operating"] - lr["mean"] > 0.5 * math.log(4.0)
