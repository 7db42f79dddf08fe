"""The MAP bootstrap's refits keep the fitted carry-in from before the history
(``optimizer.response.mapboot``; ``initial_carryover="fitted"``, the default).

Mid-stream world of tests/test_burn_in.py (tv's true decay 0.75, the history starting 52 weeks
into the spend): the default fit keeps a carry-in (level 1). A refit of the bootstrap on the very
weeks of the MAP fit, in order and unperturbed, must keep the MAP's decays (its weakly identified
half-saturation and shape may wander within the refit's 60 evaluations): before the fix the refits
started every adstock from zero, so this refit moved tv's decay from 0.740 to 0.655, and the
bootstrap draws of seed 14 centred at 0.714 instead of 0.749 (12 draws, median).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from optimizer.response import mapboot
from optimizer.response.fit import fit_model
from tests.test_burn_in import _midstream

TOL = 0.01  # the unperturbed refit's decays against the MAP's (before the fix tv's moved 0.086)


def test_bootstrap_refit_on_the_same_weeks_stays_at_a_map_with_carry_in(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[mapboot.MapBootstrap] = []
    real = mapboot.run_map_bootstrap

    def spy(ctx: mapboot.MapBootstrap, *args: Any) -> Any:
        seen.append(ctx)
        return real(ctx, *args)

    monkeypatch.setattr(mapboot, "run_map_bootstrap", spy)
    model = fit_model(_midstream(14), seed=0, n_bootstrap=2, uncertainty="bootstrap")
    assert model.diagnostics["initial_carryover"]["level"] == 1.0  # a carry-in was kept
    (ctx,) = seen
    assert max(ctx.fit.carry) > 0
    n = ctx.data.y.size
    same_weeks = replace(ctx, block_weeks=n, perturb=False)  # one block: every week, in order
    theta, _ = mapboot.map_bootstrap_draw(same_weeks, 0)
    decays = np.array([t[0] for t in theta])  # each touchpoint's transforms start with its decay
    at_map = np.array([t[0] for t in ctx.fit.theta])
    assert np.allclose(decays, at_map, atol=TOL), (decays, at_map)
