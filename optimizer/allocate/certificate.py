"""The certificate's mathematics: how far a plan may be from the exact optimum on the smooth curves.

- ``dual_bound``: a Lagrangian bound on the exact optimum from any constraint multipliers (clipped
  to their valid signs, so valid whatever the solver reports);
- ``kkt_residual``: how far each line item's marginal return is from the price of its dollars;
- ``relative_gap``: the gap between a plan's value and a bound, relative, in the problem's sense.
- ``credible``: whether a solver's bound can be one (not better than a plan that holds the rules).

``engine.solve_problem`` certifies with these; the sweep's warm walk and the re-plan re-use them.
"""

from __future__ import annotations

import numpy as np

from optimizer.allocate.bank import CurveBank, maximise_separable
from optimizer.allocate.caps import unpad_cap
from optimizer.allocate.problem import AllocationProblem


def relative_gap(problem: AllocationProblem, value: float, bound: float) -> float:
    """The certified gap: how far ``value`` may be from the optimum that ``bound`` bounds, relative
    to the larger of the two (at least 1), in the problem's sense; never negative."""
    denom = max(abs(bound), abs(value), 1.0)
    g = (bound - value) / denom if problem.sense == "max" else (value - bound) / denom
    return max(0.0, float(g))


def credible(problem: AllocationProblem, bound: float, value: float) -> bool:
    """Whether ``bound`` can bound the optimum: not better than ``value``, the exact objective of
    a plan that holds every rule, beyond float noise (1e-9 relative). A MILP's bound that is
    (HiGHS returned such "optima" on zero-or-at-least per period) is the solver's error: used, it
    would certify a plan with a gap of zero that ``relative_gap`` clamps from below zero."""
    return credible_max(bound, value) if problem.sense == "max" else credible_max(-bound, -value)


def credible_max(bound: float, value: float) -> bool:
    """``credible`` for a maximisation (the phased planner's sense)."""
    return bound >= value - 1e-9 * max(abs(value), 1.0)


def _lagrangian_terms(
    problem: AllocationProblem, duals: dict[str, float], *, clip: bool
) -> tuple[list[dict[str, float]], np.ndarray, float]:
    """Per line item, the Lagrangian ``Σ_k W[k] F_k(x) - cost x`` (to maximise), and the constant.

    ``W`` weighs each KPI's unscaled curve ("" stands for the objective curve itself); ``clip``
    forces the multipliers to their valid signs, which keeps a bound valid whatever the solver gave.
    """
    n = len(problem.items)
    maximise = problem.sense == "max"
    c_spend = np.zeros(n)
    w: list[dict[str, float]] = [{} for _ in range(n)]
    const = 0.0
    for con in problem.constraints:
        y = float(duals.get(con.name, 0.0))
        if clip:
            # valid signs of d obj / d rhs: max: <= → y >= 0, >= → y <= 0; min: the reverse
            if con.sense == "<=":
                y = max(y, 0.0) if maximise else min(y, 0.0)
            elif con.sense == ">=":
                y = min(y, 0.0) if maximise else max(y, 0.0)
        if y == 0.0:
            continue
        const += y * con.rhs
        for i, a in con.coefs.items():
            if con.on_kpi:
                k = con.kpi or problem.kpi
                # max: F_obj + y (b - a F_k)  → W[k] -= y a ;  min: x + y (b - a F_k) → maximise y a F_k
                w[i][k] = w[i].get(k, 0.0) + (-y * a if maximise else y * a)
            else:
                c_spend[i] += y * a
    if maximise:
        for wi in w:
            wi[""] = 1.0
        cost = problem.spend_weight + c_spend
    else:
        cost = 1.0 - c_spend
    return w, cost, const


def _curve_multiples(problem: AllocationProblem, w: list[dict[str, float]]) -> np.ndarray | None:
    """alpha per item when every W is a multiple of the objective curve (the fast, vectorised case)."""
    alpha = np.zeros(len(problem.items))
    for it, wi in zip(problem.items, w, strict=True):
        a = wi.get("", 0.0)
        for k, v in wi.items():
            if k == "":
                continue
            if it.curve.parts or k != problem.kpi:
                return None
            a += v / it.curve.scale  # the objective curve is scale × the main KPI's curve
        alpha[it.index] = a
    return alpha


def _item_function(it, wi: dict[str, float]):
    """Value and slope of ``Σ_k W[k] F_k`` for one line item."""
    terms = [
        (v, it.curve if k == "" else it.kpis[k])
        for k, v in wi.items()
        if v and (k == "" or k in it.kpis)
    ]

    def value(x):
        return sum(v * c.value(x) for v, c in terms) if terms else 0.0 * np.asarray(x, float)

    def slope(x):
        return sum(v * c.slope(x) for v, c in terms) if terms else 0.0 * np.asarray(x, float)

    concave = all(v >= 0 and c.concave for v, c in terms)
    return value, slope, concave


def _marginals(
    problem: AllocationProblem, bank: CurveBank, duals: dict[str, float], x: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Marginal Lagrangian return of each line item's next dollar, and the price of that dollar."""
    w, cost, _ = _lagrangian_terms(problem, duals, clip=False)
    alpha = _curve_multiples(problem, w)
    if alpha is not None:
        return alpha * bank.slope(x), cost
    m = np.array(
        [
            float(_item_function(it, wi)[1](xi))
            for it, wi, xi in zip(problem.items, w, x, strict=True)
        ]
    )
    return m, cost


def kkt_residual(
    problem: AllocationProblem,
    bank: CurveBank,
    duals: dict[str, float],
    x: np.ndarray,
    *,
    within: float = 0.0,
) -> float:
    """Largest relative gap between a line item's marginal return and the price of its dollars.

    At the exact optimum every line item strictly inside its range has ``alpha F'(x) = cost``; a
    coarse piece lets them drift apart, and the shadow prices with them. Items at zero or at one
    of their own bounds are exempt (their bound's dual absorbs the difference). With ``within``,
    a line item's marginal return is the nearest to its price within ``within`` of its spend.
    """
    if within > 0:  # the marginal return anywhere within ``within`` of x: a band, not a point
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            m_left, cost = _marginals(problem, bank, duals, np.maximum(x - within, 1e-12))
            m_right, _ = _marginals(problem, bank, duals, x + within)
    else:
        m_left, cost = _marginals(problem, bank, duals, x)
        m_right = m_left
    lo = np.array([it.lo for it in problem.items])
    hi = unpad_cap(np.array([it.hi for it in problem.items]))
    inside = (x > lo + 1e-6 * (1 + lo)) & (x < hi - 1e-6 * (1 + hi)) & (x > 1e-6)
    for it in problem.items:
        # held by an integer choice, not by its curve: a whole number of blocks, exactly its
        # "zero or at least" minimum, or the rising (convex) part of an S-curve
        i = it.index
        if (
            it.block
            or (it.min_if_funded and abs(x[i] - it.min_if_funded) <= 1e-6 * (1 + x[i]))
            or (not it.curve.concave and x[i] < it.curve.inflection * (1 - 1e-9))
        ):
            inside[i] = False
    for con in problem.constraints:  # items held by a binding single-item rule are not inside
        if len(con.coefs) == 1 and abs(float(duals.get(con.name, 0.0))) > 0:
            inside[next(iter(con.coefs))] = False
    if not inside.any():
        return 0.0
    top, bottom = np.maximum(m_left, m_right), np.minimum(m_left, m_right)
    miss = np.where(cost > top, cost - top, np.where(cost < bottom, bottom - cost, 0.0))
    r = miss / np.maximum(np.abs(cost), 1e-12)
    return float(np.max(r[inside]))


def dual_bound(
    problem: AllocationProblem, bank: CurveBank, duals: dict[str, float], x: np.ndarray
) -> float:
    """Lagrangian bound on the exact (smooth-curve) optimum from constraint multipliers ``duals``.

    Multipliers are clipped to their valid signs, so the bound is valid whatever the solver gave.
    """
    return _dual_bound(problem, bank, duals, x)[0]


def _dual_bound(
    problem: AllocationProblem, bank: CurveBank, duals: dict[str, float], x: np.ndarray
) -> tuple[float, np.ndarray]:
    """The bound, and each line item's best response to the duals (where the refinement goes next)."""
    maximise = problem.sense == "max"
    w, cost, const = _lagrangian_terms(problem, duals, clip=True)
    n = len(problem.items)
    lo = np.zeros(n)
    hi = np.array([it.hi for it in problem.items])
    # a line item capped at zero (a cap, lock or budget of 0) has the box [0, 0]: its pieces'
    # reach past the cap (make_problem's 2% + 1e-9) would let a curve with an infinite slope at
    # zero (hill shape < 1) claim a spurious gain there, and the bound could never close
    hi = np.where(hi <= 2e-9, 0.0, hi)
    alpha = _curve_multiples(problem, w)
    per = np.zeros(n)
    best_x = np.array(x, float)
    if alpha is not None:
        concave = np.array([it.curve.concave for it in problem.items])
        pos = alpha > 1e-15
        if pos.any():
            c_eff = np.where(pos, cost / np.where(pos, alpha, 1.0), 0.0)
            xs, vs = maximise_separable(bank, c_eff, lo, hi, concave, extra_points=(x,))
            per = np.where(pos, alpha * np.maximum(vs, 0.0), 0.0)
            best_x = np.where(pos, xs, best_x)
        neg = ~pos
        if neg.any():  # the curve term cannot help: the best is an end of the box
            v_hi = alpha * bank.value(hi) - cost * hi
            per = np.where(neg, np.maximum(0.0, v_hi), per)
    else:
        for it, wi in zip(problem.items, w, strict=True):
            per[it.index] = _maximise_one(
                it, wi, float(cost[it.index]), float(hi[it.index]), float(x[it.index])
            )
    total = float(per.sum())
    return (const + total if maximise else const - total), best_x


def _maximise_one(it, wi: dict[str, float], cost: float, hi: float, x0: float) -> float:
    """``max_{0 <= x <= hi} Σ_k W[k] F_k(x) - cost x`` for one line item (general case)."""
    value, slope, concave = _item_function(it, wi)
    cands = [0.0, hi, min(max(x0, 0.0), hi)]
    if concave:
        a, b = 0.0, hi
        for _ in range(100):
            m = 0.5 * (a + b)
            if float(slope(m)) > cost:
                a = m
            else:
                b = m
        cands.append(0.5 * (a + b))
    else:
        g = np.unique(
            np.concatenate(
                [
                    np.linspace(0.0, hi, 4001),
                    np.geomspace(max(hi * 1e-7, 1e-9), max(hi, 1e-9), 2001),
                ]
            )
        )
        v = np.asarray(value(g), float) - cost * g
        cands.append(float(g[int(np.argmax(v))]))
    return max(float(value(c)) - cost * c for c in cands)
