"""Over which budgets each line item keeps its role: one shared sweep of budgets, refined by
bisection at the edges."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from optimizer.allocate import Plan
from optimizer.explain.formatting import fmt_amount
from optimizer.explain.resolve import Resolver
from optimizer.explain.roles import ReviewContext, classify, prices_of
from optimizer.explain.types import (
    AT_ITS_BAR,
    INFEASIBLE,
    INTERIOR,
    ROLE_WORDS,
    RoleRange,
    is_off_hurdle,
)

#: how many more halvings the lower edge's bisection tries when it never left a budget of 0
_HALVINGS = 10


#: the role key of an interior line item whose bar is not the plan's hurdle (a binding share
#: rule moves it): "at its bar" in the sentences, ``interior`` in ``RoleRange``'s fields
AT_BAR_KEY = "interior at its bar"


def _role_key(ctx: ReviewContext, plan: Plan, tid: str) -> tuple[str, tuple[str, ...]]:
    if not plan.ok:
        return INFEASIBLE, ()
    pr = prices_of(ctx, plan)
    role, names = classify(ctx, plan, pr, tid)
    i = ctx.index[tid]
    if (
        role == INTERIOR
        and pr.plan_kpi is not None
        and pr.win_kpi is not None
        and is_off_hurdle(float(pr.plan_kpi[i]), float(pr.win_kpi[i]))
    ):
        return AT_BAR_KEY, names
    return role, names


def _role(key: str | None) -> str | None:
    """A role key's role (``RoleRange``'s fields): ``AT_BAR_KEY`` is interior."""
    return INTERIOR if key == AT_BAR_KEY else key


def _words(key: str | None) -> str:
    """A role key's words: the role's, "at its bar" for ``AT_BAR_KEY``."""
    return AT_ITS_BAR if key == AT_BAR_KEY else ROLE_WORDS.get(key or "", str(key))


def role_ranges(
    ctx: ReviewContext,
    resolver: Resolver,
    ref: Plan,
    budget: float,
    points: int,
    refine: int,
    key_of: Callable[[Plan, str], tuple[str, tuple[str, ...]]] | None = None,
) -> tuple[dict[str, RoleRange], list[Plan], np.ndarray]:
    """Each line item's range of budgets with the same role and rules (``key_of(plan, item)``;
    default ``role_key``: a plan on a calendar passes its own), the sweep's plans and budgets."""

    def role_key(plan: Plan, tid: str) -> tuple[str, tuple[str, ...]]:
        return key_of(plan, tid) if key_of is not None else _role_key(ctx, plan, tid)

    top = 2.0 * budget
    grid = np.linspace(0.0, top, max(points, 3))
    k0 = int(np.argmin(np.abs(grid - budget)))
    grid[k0] = budget
    resolver.remember(budget, ref)
    plans = [resolver.at_budget(b) for b in grid]
    keys_by_item = {it.key: [role_key(p, it.key) for p in plans] for it in ctx.problem.items}
    out: dict[str, RoleRange] = {}
    for it in ctx.problem.items:
        tid = it.key
        keys = keys_by_item[tid]
        cur = keys[k0]
        lo = k0
        while lo > 0 and keys[lo - 1] == cur:
            lo -= 1
        hi = k0
        while hi < len(grid) - 1 and keys[hi + 1] == cur:
            hi += 1
        low, low_edge, role_below = float(grid[lo]), None, None
        rules_below: tuple[str, ...] = ()
        rules_above: tuple[str, ...] = ()
        if lo > 0:
            a, b = float(grid[lo - 1]), float(grid[lo])  # a: other role, b: same role
            role_below = keys[lo - 1][0]
            for _ in range(refine):
                m = 0.5 * (a + b)
                if role_key(resolver.at_budget(m), tid) == cur:
                    b = m
                else:
                    a = m
            if a == 0.0:
                # the bisection never left 0, where nothing is funded: a line item funded at
                # every positive budget (a hill of shape < 1 is vertical at zero) was said to be
                # "not funded below about 60,625" (half the bisection's last budget). Halve on
                # while it keeps its role, to where it loses it (or to the last halving)
                for _ in range(_HALVINGS):
                    if role_key(resolver.at_budget(0.5 * b), tid) != cur:
                        a = 0.5 * b
                        break
                    b = 0.5 * b
            low, low_edge = b, a
            # the role just below the edge (the bisection's last other point, not the grid's)
            role_below, rules_below = role_key(resolver.at_budget(a), tid)
        high, high_edge, role_above = float(grid[hi]), None, None
        if hi < len(grid) - 1:
            a, b = float(grid[hi]), float(grid[hi + 1])  # a: same role, b: other role
            role_above = keys[hi + 1][0]
            for _ in range(refine):
                m = 0.5 * (a + b)
                if role_key(resolver.at_budget(m), tid) == cur:
                    a = m
                else:
                    b = m
            high, high_edge = a, b
            role_above, rules_above = role_key(resolver.at_budget(b), tid)
        out[tid] = RoleRange(
            low,
            high,
            low_edge,
            high_edge,
            float(top),
            _role(role_below),
            _role(role_above),
            _range_sentence(
                tid,
                cur[0],
                [ctx.labels.get(n, n) for n in cur[1]],
                low,
                high,
                low_edge,
                high_edge,
                float(top),
                role_below,
                role_above,
                # what changed outside when the role word is the same: the rules that hold it
                [ctx.labels.get(n, n) for n in rules_below],
                [ctx.labels.get(n, n) for n in rules_above],
            ),
        )
    return out, plans, grid


def _range_sentence(
    tid: str,
    role: str,
    labels: list[str],
    low: float,
    high: float,
    low_edge: float | None,
    high_edge: float | None,
    top: float,
    role_below: str | None,
    role_above: str | None,
    labels_below: list[str] | None = None,
    labels_above: list[str] | None = None,
) -> str:
    what = _words(role) + (f" ({' and '.join(labels)})" if labels else "")

    def other(r: str | None, rules: list[str] | None = None) -> str:
        if r == INFEASIBLE:
            return "the scenario is infeasible"
        word = _words(r)
        if r == role and rules is not None:  # the same role, other rules: name them
            return f"{word} by {' and '.join(rules)}" if rules else f"{word}, by no rule"
        return word

    if low_edge is None:
        start = "at every budget from 0"
    elif low_edge == 0.0:
        start = f"at every budget above 0 tried (down to {fmt_amount(low)})"
    else:
        start = (
            f"for budgets from about {fmt_amount(0.5 * (low + low_edge))} "
            f"(below that: {other(role_below, labels_below)})"
        )
    if high_edge is None:
        end = f"up to at least {fmt_amount(top)} (the top of the sweep)"
    else:
        end = f"up to about {fmt_amount(0.5 * (high + high_edge))} (above that: {other(role_above, labels_above)})"
    return f"{tid} stays {what} {start} {end}."
