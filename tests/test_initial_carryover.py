"""The MAP fit's adstock at the history's start fitted as a nuisance
(``fit_model(initial_carryover="fitted")``, the default; ``optimizer.response.startup``).

Mid-stream world: ``tests/test_burn_in.py``'s (tests/test_fit.py's 4 touchpoints with tv's true
decay 0.75, simulated over 208 weeks from zero carry-over, the history its last 156). Measured
(seeds 13, 14): the default fit's tv decay 0.664 / 0.655, the fitted start's 0.722 / 0.743, its
level r = 1 (the steady state of the first weeks' spend). On the same world simulated from the
history's first week (no carry-in) both give 0.75 (seed 13).
"""

from __future__ import annotations

import numpy as np
import pytest

from optimizer.response.fit import fit_model
from optimizer.response.joint import _adstock
from optimizer.response.model import ResponseModel
from tests.test_burn_in import TRUE_DECAY, _midstream
from tests.test_fit import TRUTH, make_world

SHORT_BY = 0.06  # the default fit's tv decay is at least this much short of the truth
TOLERANCE = 0.04  # the fitted start's tv decay is within this of the truth


def _tv_decay(model: ResponseModel) -> float:
    adstock = model.touchpoints["tv"].adstock
    assert adstock is not None
    return float(adstock.decay)


@pytest.mark.parametrize("seed", [13, 14])
def test_fitted_carryover_recovers_a_long_decay_of_a_midstream_history(seed: int) -> None:
    h = _midstream(seed)
    plain = fit_model(h, seed=0, n_bootstrap=0, initial_carryover="zero")
    fitted = fit_model(h, seed=0, n_bootstrap=0)  # the default
    d_plain, d_fitted = _tv_decay(plain), _tv_decay(fitted)
    assert d_plain <= TRUE_DECAY - SHORT_BY, d_plain
    assert abs(d_fitted - TRUE_DECAY) <= TOLERANCE, d_fitted
    assert plain.fit["options"]["initial_carryover"] == "zero"  # recorded: not the default
    assert "initial_carryover" not in fitted.fit["options"]
    diag = fitted.diagnostics["initial_carryover"]
    assert diag["level"] == 1.0  # the carry-in is there: the steady state wins
    assert set(diag["map_objective"]) == {"0.0", "1.0"}
    assert "initial_carryover" not in plain.diagnostics


def test_fitted_carryover_keeps_a_zero_start_history() -> None:
    truth = dict(TRUTH)
    stage, mean, _, family, params = truth["tv"]
    truth["tv"] = (stage, mean, TRUE_DECAY, family, params)
    h, _ = make_world(n_weeks=156, seed=13, truth=truth)
    fitted = fit_model(h, seed=0, n_bootstrap=0)
    assert fitted.diagnostics["initial_carryover"]["level"] == 0.0  # no carry-in: none kept
    assert abs(_tv_decay(fitted) - TRUE_DECAY) <= TOLERANCE


def test_adstock_with_carry_is_the_recursion_and_its_derivative() -> None:
    rng = np.random.default_rng(0)
    x, d, carry = rng.random(30), 0.6, 0.7
    a, da = _adstock(x, d, carry)
    prev, ref = carry / (1.0 - d), []  # a_{-1}: the steady state of spend `carry`
    for v in x:
        prev = v + d * prev
        ref.append(prev)
    assert np.allclose(a, ref, rtol=1e-12)
    h = 1e-7
    fd = (_adstock(x, d + h, carry)[0] - _adstock(x, d - h, carry)[0]) / (2 * h)
    assert np.allclose(da, fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("bad", ["steady", None, 1])
def test_initial_carryover_must_be_a_choice(bad: object) -> None:
    h = _midstream(13)
    with pytest.raises(ValueError, match="initial_carryover"):
        fit_model(h, seed=0, n_bootstrap=0, initial_carryover=bad)  # type: ignore[arg-type]
