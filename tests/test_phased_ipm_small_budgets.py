"""The phased interior point at small budgets of the sample's year by month.

At 2.5% to 20% of fy26_monthly's budget most decisions of the optimum sit at or near zero. The
barrier parameter used to fall with the complementarity while the residuals lagged it by eight
orders of magnitude: the iterates pinned decisions to zero before the rules and the marginal
returns agreed, the residual stalled at 5e-2 for 60 iterations and the method gave up after 80
(0.4 to 0.9 s lost per plan before the LP over pieces took over: the review's sweep of budgets
pays that at every small budget). Held at the complementarity while the residuals lag it by
1e3, it converges. Checked: it returns a plan, that plan holds the rules, and the Lagrangian
bound of the plan (the certificate, computed apart from the method) is within 1e-6 of it; and
its value agrees with the LP over pieces' certified plan to 1e-6 relative.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from optimizer.allocate.phased import (
    _boxes,
    _Cells,
    _violation,
    adjoint,
    lagrangian_bound,
    objective_value,
    phased_problem,
    solve_phased,
)
from optimizer.allocate.phased_ipm import interior_point
from optimizer.response.model import read_model
from optimizer.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("share", [0.025, 0.05, 0.2])
def test_the_interior_point_converges_at_small_budgets(share):
    sc = load_scenario(ROOT / "scenarios" / "fy26_monthly.yaml")
    model = read_model(sc.model)
    prob = phased_problem(sc.with_budget(share * sc.budget.amount), model)
    out = interior_point(prob)
    assert out is not None, "the interior point did not converge"
    X, duals, iterations = out
    X = np.maximum(X, 0.0)
    assert iterations < 80
    assert _violation(prob, X) <= 1e-9
    value = objective_value(prob, X)
    xhi, ahi = _boxes(prob)
    bound, _ = lagrangian_bound(prob, _Cells(prob), adjoint(prob, X), duals, xhi, ahi)
    gap = (bound - value) / abs(value)
    print(f"{share:.1%} of the budget: {iterations} iterations, gap {gap:.1e}")
    assert gap <= 1e-6
    lp = solve_phased(prob, method="lp")
    assert lp.status == "optimal"
    assert value == pytest.approx(lp.value, rel=max(1e-6, lp.gap))
