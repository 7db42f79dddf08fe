"""A dated, phased ``min_spend`` plan whose budget and KPI target conflict (contract 7): the
least-spend plan when the budget is within the solve's precision of it, else the target's real
relaxation, named so that the target suggested is then planned."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from optimizer.allocate.lifted import reaching, target_reached, within_budget
from optimizer.allocate.plan import Plan
from optimizer.allocate.solve import Status

#: targets tried for the suggestion, each lower than the last by what its plan overspent
TRIES = 5


def least_spend_or_target(
    scenario: Any, plan: Plan, label: str, target: float, kpi: str, again: Callable[[Any], Plan]
) -> Plan:
    """``plan`` (infeasible: the budget and the KPI target ``target`` among its conflicts) as
    the least-spend plan when the budget covers it to the cent (``within``), else with its
    message suggesting the target less the most KPI a ``max_kpi`` plan of the other rules
    reaches (``lifted.target_reached``), lowered further where needed so that the target
    suggested is one this scenario then plans (``planned_target``). ``again``: the scenario's
    phased plan, without diagnosis."""
    found, _ = within(scenario, plan, again)
    if found is not None:
        return found
    best = again(reaching(scenario))
    if not best.ok:
        return plan
    to = planned_target(scenario, target, best, again)
    return target_reached(plan, label, target, kpi, best, to=to)


def within(scenario: Any, first: Plan, again: Callable[[Any], Plan]) -> tuple[Plan | None, float]:
    """The scenario's plan (``first``: its plan as solved) when it meets its KPI target within
    its budget, and the spend it needs beyond the budget (0 when planned). A budget that is a
    maximum is also met by the least-spend plan of the scenario with the budget given 0.1% of
    room, kept when it spends no more than the budget (``lifted.within_budget``): the target's
    pieces lie under the concave curves, so a budget within the solve's precision of the least
    spend is infeasible on them. (None, inf) when neither plans."""
    if first.ok:
        return first, 0.0
    budget = scenario.budget
    if first.status != Status.INFEASIBLE or budget.is_exact:
        return None, math.inf
    near = again(scenario.with_budget(budget.amount + max(1.0, 1e-3 * budget.amount)))
    found = within_budget(near, budget.amount)
    if found is not None:
        return found, 0.0
    return None, (near.total_spend - budget.amount) if near.ok else math.inf


def planned_target(
    scenario: Any, target: float, best: Plan, again: Callable[[Any], Plan]
) -> float | None:
    """The highest target, in cents, that this scenario plans (``within``) among: the most KPI
    the other rules allow (``best``: their ``max_kpi`` plan, in cents) and below the target,
    then lower, each time by the spend the last try's plan needed beyond the budget (at
    ``best``'s marginal KPI per unit of spend, and a cent more). The solve meets a target on
    its pieces and in cents, so a target within its precision of what the budget buys is not
    planned (by month under 634,960 the curves reach 899,990.50008; a target of 899,990.50 was
    refused, 899,990.45 planned). None when no try plans (``TRIES``)."""
    rate = best.budget_shadow_price or 0.0
    if not rate > 0.0 and best.total_spend > 0:
        rate = best.total_kpi / best.total_spend
    t = math.floor(round(min(best.total_kpi, target - 0.01) * 100.0, 6)) / 100.0
    step = max(0.01, 1e-4 * t)  # where the budget's room does not plan either: 0.01%, doubling
    for _ in range(2 * TRIES):
        if t <= 0:
            return None
        sc = scenario.model_copy(update={"kpi_target": t})
        found, over = within(sc, again(sc), again)
        if found is not None:
            return t
        if math.isfinite(over):
            down = rate * (max(over, 0.0) + 0.01)
        else:  # (a target run into caps: 636,328.91 refused with 0.1% more budget too)
            down, step = step, 2.0 * step
        t = math.floor(round((t - down) * 100.0, 6)) / 100.0
    return None
