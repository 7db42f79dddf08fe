"""The phased plan's certificate: the Lagrangian bound on the smooth optimum from any
multipliers of the adstock rows and the rules, and the KKT residual of a plan."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from optimizer.allocate.caps import unpad_cap
from optimizer.allocate.phased_model import (
    PhasedProblem,
    _boxes,
    _Cells,
    adjoint,
    adstock_path,
    kpi_theta,
    marginal_kpi,
)
from optimizer.formatting import HALF_CENT


# ------------------------------------------------------------------------------------------------
# the certificate
# ------------------------------------------------------------------------------------------------
def lagrangian_bound(
    problem: PhasedProblem,
    cells: _Cells,
    mu: np.ndarray,
    duals: Mapping[str, float],
    xhi: np.ndarray,
    ahi: np.ndarray,
) -> tuple[float, np.ndarray]:
    """Upper bound on the smooth optimum from multipliers ``mu`` (n, T) of the adstock rows and
    ``duals`` of the rules (clipped to their valid signs, so any values give a valid bound), and
    each cell's best response (where refinement looks next).

    Rules on the KPI (``problem.kpi_rows``) enter through their duals too: ``y (b - KPI(x))`` is
    separable over the cells like the objective, so each cell's function is weighted by
    ``kpi_theta`` (the objective's weight less the floors' duals over the line item's scale)."""
    T, ns = problem.T, problem.ns
    # the boxes of the plans the rules allow, not the LP's: a decision a rule holds at zero (a
    # budget of 0, a lock or maximum of 0, a dark period) is 0, not the pad's nanounit, and each
    # adstock no more than the decisions' boxes reach (without the LP's +1e-9). On a hill of shape
    # < 1, whose slope is infinite at zero, no finite multiplier prices that padding away: it
    # was worth f(2e-9) a cell, 0.00028 over a plan of 0 ("gap 27,674,797,479%" at a budget of
    # 0, until session 16) and more on steeper curves (shape 0.3: ~5 a week)
    xhi = np.where(unpad_cap(xhi) <= 0.0, 0.0, xhi)
    ahi = np.minimum(ahi, adstock_path(problem, xhi))
    d = problem.decay
    const = float(np.sum(mu[:, 0] * d * problem.carry_in))
    theta_items = kpi_theta(problem, duals)
    theta = np.repeat(
        theta_items if problem.one_stream_each else theta_items[problem.stream_item], T
    )
    for kr in problem.kpi_rows:
        y = float(duals.get(kr.name, 0.0))
        y = max(y, 0.0) if kr.sense == "<=" else min(y, 0.0) if kr.sense == ">=" else y
        const += y * kr.rhs
    rule_const, price = _rule_prices(problem, duals)
    const += rule_const
    nxt = np.concatenate([mu[:, 1:], np.zeros((ns, 1))], axis=1)
    ga = (mu - d[:, None] * nxt).ravel()
    na = ns * T
    hi_a = ahi.ravel()
    concave = np.array([c.concave for c in cells.curves])
    lo_b, hi_b = np.zeros(na), hi_a.copy()
    for _ in range(64):
        mid = 0.5 * (lo_b + hi_b)
        right = theta * cells.slope(mid) > ga
        lo_b = np.where(right, mid, lo_b)
        hi_b = np.where(right, hi_b, mid)
    best = 0.5 * (lo_b + hi_b)
    best_v = theta * cells.value(best) - ga * best
    for cand in (np.zeros(na), hi_a):
        v = theta * cells.value(cand) - ga * cand
        better = v > best_v
        best = np.where(better, cand, best)
        best_v = np.where(better, v, best_v)
    for c in np.flatnonzero(~concave):  # S-curves: a dense grid, plus the bend over one step
        grid = np.unique(
            np.concatenate(
                [np.linspace(0, hi_a[c], 2001), np.geomspace(hi_a[c] * 1e-6, hi_a[c], 401)]
            )
        )
        v = theta[c] * cells.value(grid[None, :], rows=np.array([c]))[0] - ga[c] * grid
        j = int(np.argmax(v))
        step = grid[min(j + 1, len(grid) - 1)] - grid[max(j - 1, 0)]
        curv = theta[c] * float(
            np.max(np.abs(cells.curvature(grid[None, :], rows=np.array([c]))[0]))
        )
        vv = v[j] + 0.125 * curv * step * step
        if vv > best_v[c]:
            best_v[c], best[c] = vv, grid[j]
    total = float(best_v.sum())
    # decisions: linear in x over its box (zero-or-at-least and blocks only shrink the box)
    total += float(np.maximum(0.0, decision_gain(problem, mu, price) * xhi).sum())
    bound = const + total
    return (bound if math.isfinite(bound) else math.inf), best.reshape(ns, T)


def _rule_prices(problem: PhasedProblem, duals: Mapping[str, float]) -> tuple[float, np.ndarray]:
    """Σ y·rhs over the rules and (n, P) Σ y·coef, each dual clipped to its valid sign."""
    const, price = 0.0, np.zeros((problem.n, problem.P))
    for r in problem.rows:
        y = float(duals.get(r.name, 0.0))
        y = max(y, 0.0) if r.sense == "<=" else min(y, 0.0) if r.sense == ">=" else y
        if y == 0.0:
            continue
        const += y * r.rhs
        for (i, p), a in r.coefs.items():
            price[i, p] += y * a
    return const, price


def decision_gain(problem: PhasedProblem, mu: np.ndarray, price: np.ndarray | float) -> np.ndarray:
    """(n, P) what a dollar of each decision is worth at adstock multipliers ``mu`` (ns, T), less
    its cost and ``price`` (what the rules charge for it): the Lagrangian's slope in x[i,p]."""
    k = problem.gain if problem.one_stream_each else problem.gain * problem.stream_share
    gain = np.zeros((problem.ns, problem.P))
    for p, per in enumerate(problem.calendar.periods):
        gain[:, p] = k * mu[:, list(per.weeks)].sum(axis=1) / problem.weeks_per_period[p]
    return problem.to_items(gain) - problem.base.spend_weight - price


def plan_bound(
    problem: PhasedProblem,
    cells: _Cells,
    X: np.ndarray,
    duals: Mapping[str, float],
    xhi: np.ndarray,
    ahi: np.ndarray,
) -> float:
    """The Lagrangian bound at plan ``X``'s own adstock multipliers (``adjoint``), or the
    tighter one at those of ``X`` with its zeros that earn more than their price lifted.

    A decision at zero on a hill curve of shape < 1 (its slope infinite at zero adstock) has a
    first dollar worth more than any price, so the bound at ``X`` charged its whole box at that
    slope: a plan certified at 5e-11 by its KKT residual read a gap of 3,426% (a weak radio
    left unfunded for months), and fell to the LP over pieces (benchmarks/phased_zero_lift.py). The optimum
    funds such a decision with the few thousandths of a cent where its slope falls to its
    price; lifting the zeros there (bisection on the amount, then doubling any still short:
    more of any decision lowers every slope) gives multipliers at which no zero is worth
    funding, and their bound is as tight as the plan is optimal. Any multipliers give a valid
    bound, so the least of the two is one."""
    mu = adjoint(problem, X)
    bound, _ = lagrangian_bound(problem, cells, mu, duals, xhi, ahi)
    _const, price = _rule_prices(problem, duals)
    cap = unpad_cap(xhi)
    lift = (X <= 0.0) & (cap > 0.0) & (decision_gain(problem, mu, price) > 0.0)
    if not lift.any():
        return bound
    lo, hi = np.full(int(lift.sum()), -30.0), np.log10(cap[lift])
    Xl = np.array(X, float)
    for _ in range(50):
        mid = 0.5 * (lo + hi)
        Xl[lift] = 10.0**mid
        short = decision_gain(problem, adjoint(problem, Xl), price)[lift] > 0.0
        lo, hi = np.where(short, mid, lo), np.where(short, hi, mid)
    Xl[lift] = 10.0**hi
    for _ in range(60):
        short = lift & (decision_gain(problem, adjoint(problem, Xl), price) > 0.0)
        if not short.any():
            break
        Xl[short] *= 2.0
    lifted, _ = lagrangian_bound(problem, cells, adjoint(problem, Xl), duals, xhi, ahi)
    return min(bound, lifted)


def kkt_residual(
    problem: PhasedProblem,
    X: np.ndarray,
    prices: np.ndarray,
    duals: Mapping[str, float] | None = None,
) -> float:
    """Largest relative gap between a decision's marginal return and the price the rule duals put
    on it (its cost included), over decisions strictly inside their range (exact optimum: 0), and
    by how much a decision under half a cent, which the plan rounds to zero, would return more
    than its price (at its lower bound it may return less). The marginal return weighs the KPI by
    ``kpi_theta`` of the KPI rows' ``duals``.

    (An interior point leaves a decision the optimum holds at zero at a few hundredths of a cent:
    radio at 0.00084 in one month of FY26 by month under ``max_net``, returning 0.967 against a
    price of 1, read a residual of 3.3% and sent a plan certified at 1.4e-10 to the LP.)"""
    theta = kpi_theta(problem, duals or {})
    m = theta[:, None] * marginal_kpi(problem, X)
    prices = prices + problem.base.spend_weight
    xhi, _ = _boxes(problem)
    free = X < unpad_cap(xhi) * (1 - 1e-7)
    for (i, p), mm in problem.min_if_funded.items():
        if abs(X[i, p] - mm) <= 1e-6 * (1 + mm):
            free[i, p] = False
    for it in problem.base.items:
        if it.block or it.min_if_funded:
            free[it.index] = False
    for j, r in enumerate(problem.responses):
        if not r.concave:
            free[int(problem.stream_item[j])] = False
    inside = free & (X >= HALF_CENT) & (X > 1e-6 * (1 + X))
    under = free & (X > 0.0) & ~inside
    size = np.maximum(np.abs(prices), 1e-12)
    gap = np.where(inside, np.abs(m - prices), np.where(under, np.maximum(m - prices, 0.0), 0.0))
    return float(np.max(gap / size, initial=0.0))
