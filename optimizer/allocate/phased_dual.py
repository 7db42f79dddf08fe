"""A plan on a calendar under one binding rule on its total KPI, by the rule's multiplier.

A floor on the plan's own KPI (``kpi_floors``, or ``min_spend``'s target) is one row ``c · K(x) >=
F`` on the KPI in objective units ``K`` (``c`` the same for every line item: a total). Priced by a
multiplier ``y >= 0``, the objective ``w_K · K(x) - w · spend`` becomes

    w_K · K(x) - w · spend + y (c · K(x) - F)  =  θ (K(x) - (w / θ) · spend) - y F,   θ = w_K + y c

which, for each θ, is the problem without the rule on the KPI at a lower price of money (``w /
θ``): the interior point's case, certified by its own bound ``B_s(θ)``. For every plan meeting the
rules, ``θ B_s(θ) - y F`` bounds the objective (the multiplier term is ``>= 0`` on such a plan), and
the sub-problem's plan meets the floor once θ is large enough (its KPI rises with θ). A bisection
on θ brackets the floor: the plan at the upper end holds every rule, and the bound at the lower
end closes on it as the bracket shrinks (the gap is ``y`` times the KPI the plan has beyond the
floor, plus the sub-problem's own gap).

Used where the LP over pieces, which has the rule's row, stops short of the tolerance: a revenue
floor 1% above the ``max_net`` plan's revenue on FY26 by month left a gap of 0.018% ("not
certified"); the LP's own bounds, with the floor's dual taken from pieces, sat 3% above.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable

import numpy as np

from optimizer.allocate.phased_certificate import kkt_residual
from optimizer.allocate.phased_model import (
    PhasedProblem,
    PhasedSolution,
    _kpi_violation,
    _prices,
    _violation,
    objective_value,
)
from optimizer.allocate.solve import Status

#: bisection steps on θ at most (each an interior point solve)
MAX_STEPS = 60


def total_floor_weight(problem: PhasedProblem) -> float | None:
    """``c`` when the plan's rules on the KPI are one floor on its total (every line item's KPI
    at the same weight per objective unit), else None."""
    if len(problem.kpi_rows) != 1 or problem.needs_binaries:
        return None
    row = problem.kpi_rows[0]
    if row.sense != ">=" or set(row.coefs) != set(range(problem.n)):
        return None
    c = np.array([row.coefs[i] for i in range(problem.n)]) / problem.scale
    if not np.all(np.isfinite(c)) or c.min() <= 0 or c.max() - c.min() > 1e-12 * c.max():
        return None
    return float(c[0])


def by_multiplier(
    problem: PhasedProblem, solve: Callable[..., PhasedSolution], tolerance: float
) -> PhasedSolution | None:
    """The plan and its certificate by bisection on the floor's multiplier (module docstring);
    ``solve`` solves a problem without rules on the KPI (``solve_phased``). None when the problem
    is not of this form, or a sub-problem fails, or no θ up to 1e12 meets the floor."""
    c = total_floor_weight(problem)
    if c is None:
        return None
    t0 = time.perf_counter()
    row = problem.kpi_rows[0]
    w_kpi, w = problem.objective_weight, problem.base.spend_weight
    steps = 0

    def at(theta: float) -> tuple[PhasedSolution, float] | None:
        nonlocal steps
        steps += 1
        base = dataclasses.replace(problem.base, sense="max", spend_weight=w / theta)
        sub = solve(dataclasses.replace(problem, base=base, kpi_rows=()), tolerance=0.1 * tolerance)
        if sub.status != Status.OPTIMAL or not math.isfinite(sub.bound):
            return None
        y = (theta - w_kpi) / c
        return sub, theta * sub.bound - y * row.rhs

    lo = w_kpi if w_kpi > 0 else None
    hi = max(w_kpi, 1.0)
    while True:  # the upper end: a θ whose plan meets the floor
        got = at(hi)
        if got is None:
            return None
        if _kpi_violation(problem, got[0].X) <= 1e-10:
            break
        lo, hi = hi, 2.0 * hi
        if hi > 1e12:
            return None
    best_x, best_sub, bound = got[0].X, got[0], got[1]
    if lo is None:
        lo = hi / 2.0
        while lo > 1e-12 and (g := at(lo)) is not None and _kpi_violation(problem, g[0].X) <= 1e-10:
            hi, best_x, best_sub, bound = lo, g[0].X, g[0], min(bound, g[1])
            lo /= 2.0
    value = objective_value(problem, best_x)
    while steps < MAX_STEPS and (bound - value) > 0.5 * tolerance * max(abs(value), 1e-12):
        mid = math.sqrt(lo * hi) if lo > 0 else 0.5 * hi
        got = at(mid)
        if got is None:
            break
        bound = min(bound, got[1])
        if _kpi_violation(problem, got[0].X) <= 1e-10:
            hi, best_x, best_sub = mid, got[0].X, got[0]
            value = objective_value(problem, best_x)
        else:
            lo = mid
    if _violation(problem, best_x) > 1e-9:
        return None
    y = (hi - w_kpi) / c
    duals = {name: hi * v for name, v in best_sub.duals.items()} | {row.name: -y}
    prices = _prices(problem, duals)
    gap = max(0.0, (bound - value) / max(abs(value), 1e-12))
    status = Status.OPTIMAL if gap <= tolerance else Status.NOT_CERTIFIED
    return PhasedSolution(
        best_x,
        value,
        bound,
        gap,
        duals,
        prices,
        kkt_residual(problem, best_x, prices, duals),
        status,
        steps,
        time.perf_counter() - t0,
        0.0,
        time.perf_counter() - t0,
        0,
        method=best_sub.method,
    )


def scaled_to_kpi(problem: PhasedProblem, X: np.ndarray) -> np.ndarray:
    """``X`` scaled up by the least factor that makes it meet the rules on the KPI on the smooth
    curves (an S-curve's pieces can overstate its KPI, so the LP's plan may fall short); ``X``
    itself when it meets them already or when no factor up to 1,000 does."""
    if _kpi_violation(problem, X) <= 1e-10:
        return X
    lo, hi = 1.0, 2.0
    while _kpi_violation(problem, hi * X) > 1e-10:
        lo, hi = hi, 2.0 * hi
        if hi > 1e3:
            return X
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if _kpi_violation(problem, mid * X) > 1e-10:
            lo = mid
        else:
            hi = mid
    return hi * X
