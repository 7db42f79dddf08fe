"""The MAP fit's burn-in (``fit_model(burn_in_weeks=...)``, ``optimizer.response.startup``) on a
history that starts mid-stream.

The world is ``tests/test_fit.py``'s (4 touchpoints, flighted spend, trend and seasonality, 2%
noise) with tv's true decay 0.75, simulated over 208 weeks from zero carry-over, of which the
history is the last 156: its first weeks carry adstock from spend the history does not show.
Measured (seeds 11-14): the default fit's tv decay 0.71, 0.71, 0.66, 0.65 (short by 0.04-0.10);
with a 13-week burn-in 0.76, 0.78, 0.73, 0.74 (within 0.03); on the same world simulated from
the history's first week (no carry-in) the default fit gives 0.72-0.77.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from optimizer.response.fit import fit_model
from optimizer.response.startup import likelihood_rows
from tests.test_fit import TRUTH, make_world

TRUE_DECAY = 0.75
PRE_WEEKS = 52  # simulated weeks before the history starts
BURN_IN = 13
SHORT_BY = 0.06  # the default fit's tv decay is at least this much short of the truth
TOLERANCE = 0.04  # the burn-in fit's tv decay is within this of the truth


def _midstream(seed: int):
    truth = dict(TRUTH)
    stage, mean, _, family, params = truth["tv"]
    truth["tv"] = (stage, mean, TRUE_DECAY, family, params)
    h, _ = make_world(n_weeks=156 + PRE_WEEKS, seed=seed, truth=truth)
    return replace(h, frame=h.frame.iloc[PRE_WEEKS:])


@pytest.mark.parametrize("seed", [13, 14])
def test_burn_in_recovers_a_long_decay_of_a_midstream_history(seed: int) -> None:
    h = _midstream(seed)
    # both from a zero start (``initial_carryover="zero"``): the burn-in alone
    plain = fit_model(h, seed=0, n_bootstrap=0, initial_carryover="zero")
    burnt = fit_model(h, seed=0, n_bootstrap=0, burn_in_weeks=BURN_IN, initial_carryover="zero")
    d_plain = float(plain.touchpoints["tv"].adstock.decay)
    d_burnt = float(burnt.touchpoints["tv"].adstock.decay)
    assert d_plain <= TRUE_DECAY - SHORT_BY, d_plain
    assert abs(d_burnt - TRUE_DECAY) <= TOLERANCE, d_burnt
    assert burnt.fit["options"]["burn_in_weeks"] == BURN_IN
    assert "burn_in_weeks" not in plain.fit["options"]


def test_likelihood_rows_keep_at_least_half_the_weeks() -> None:
    assert np.array_equal(likelihood_rows(10, 3), np.arange(3, 10))
    assert np.array_equal(likelihood_rows(10, 0), np.arange(10))
    assert np.array_equal(likelihood_rows(10, 8), np.arange(5, 10))


@pytest.mark.parametrize("bad", [-1, 2.5, True, "8"])
def test_burn_in_weeks_must_be_a_non_negative_int(bad: object) -> None:
    h = _midstream(13)
    with pytest.raises(ValueError, match="burn_in_weeks"):
        fit_model(h, seed=0, n_bootstrap=0, burn_in_weeks=bad)  # type: ignore[arg-type]
