"""An infeasible undated plan whose conflict holds a KPI floor (``kpi_floors``): its suggestion
states the exact step, the floor less the most of that KPI the other rules allow (found by
solving for it), as the ``min_spend`` target's does (``lifted.target_reached``).

The diagnosis moves rules on its pieces, which lie under the curves, and pads a move on KPI by
1% of what the rule asks (``diagnose._outward``): under a budget of 500,000 a revenue floor of
900,000 was told "lower ... by 147,449.54", where the most revenue the budget buys is
763,407.37 (a step of 136,592.63)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

from optimizer.allocate.lifted import target_reached
from optimizer.allocate.lowered import highest_planned
from optimizer.allocate.plan import Plan
from optimizer.allocate.problem import AllocationProblem, LinearConstraint

#: floors tried below the most the other rules allow (a cent lower, then twice as far each
#: time) until one is planned
TRIES = 24


def floor_within_rules(
    problem: AllocationProblem, plan: Plan, solve_problem: Callable[..., Plan], **options: Any
) -> Plan:
    """``plan`` (infeasible) with its message suggesting the KPI floor among its conflicts
    lowered to the most of its KPI the other rules allow (a ``max`` of that KPI without the
    floor, on the curves, in cents), checked by planning the scenario with the floor lowered so
    (a cent lower while that is refused: the solve meets a rule on KPI on its pieces and in
    cents: a floor of 763,407.37 is refused where the curves reach 763,407.3707 and 763,407.30
    planned). ``plan`` as it is when no one floor conflicts, when the most cannot be found or when
    no floor tried plans. ``solve_problem``: the engine's, with ``options``."""
    floor = conflicting_floor(problem, plan)
    if floor is None:
        return plan
    reach = _most_of(problem, floor)
    if reach is None:
        return plan
    best = solve_problem(reach, diagnose=False, **options)
    if not best.ok:
        return plan
    most = math.floor(round(best.total_kpi * 100.0, 6)) / 100.0
    # a floor the curves reach but the solve refuses (within its precision of the most): a cent
    # under the floor at most (763,407.31 was told "by 7,635.08", the diagnosis' padded step)
    most = min(most, (math.ceil(round(floor.rhs * 100.0, 6)) - 1) / 100.0)
    t = _highest_planned(problem, floor, most, solve_problem, **options)
    if t is None:
        return plan
    return target_reached(plan, floor.label, floor.rhs, floor.subject, best, to=t, name=floor.name)


def conflicting_floor(problem: AllocationProblem, plan: Plan) -> LinearConstraint | None:
    """The KPI floor whose suggestion ``floor_within_rules`` searches for: the one floor among
    the conflicts of ``plan`` (infeasible), or None (none, or more than one)."""
    floors = [
        c
        for c in problem.constraints
        if c.kind == "kpi_floor" and c.name in plan.conflicts and c.sense == ">="
    ]
    return floors[0] if len(floors) == 1 else None


def _most_of(problem: AllocationProblem, floor: LinearConstraint) -> AllocationProblem | None:
    """The problem that maximises the floor's KPI under every other rule: the floor's row out,
    each line item valued on that KPI's curve (a line item without it on a curve worth
    nothing), no cost of spend. None where a line item's curve cannot be swapped."""
    main = floor.kpi in (None, problem.kpi) and not problem.scenario.kpi_values
    items = []
    for it in problem.items:
        if main:
            curve = it.curve
        elif floor.kpi is not None and floor.kpi in it.kpis:
            curve = it.kpis[floor.kpi]
        elif it.index not in floor.coefs:
            curve = dataclasses.replace(it.curve, scale=0.0, parts=(), spend_shares=())
        else:
            return None
        items.append(dataclasses.replace(it, curve=curve))
    return dataclasses.replace(
        problem,
        scenario=problem.scenario.model_copy(update={"objective": "max_kpi", "kpi_values": {}}),
        items=tuple(items),
        constraints=tuple(c for c in problem.constraints if c.name != floor.name),
        sense="max",
        kpi=floor.subject,
        kpi_weight=1.0,
        spend_weight=0.0,
    )


def _highest_planned(
    problem: AllocationProblem,
    floor: LinearConstraint,
    most: float,
    solve_problem: Callable[..., Plan],
    **options: Any,
) -> float | None:
    """The highest floor in cents, at most ``most``, that the problem plans with ``floor``'s row
    moved to it: ``most``, else a cent lower, then twice as far each time until one plans, then
    halving the cents between the last refused and the first planned (``lowered``). None when
    none plans."""
    options = {**options, "diagnose": False}

    def attempt(t: float) -> float:
        rows = tuple(
            dataclasses.replace(c, rhs=t) if c is floor else c for c in problem.constraints
        )
        ok = solve_problem(dataclasses.replace(problem, constraints=rows), **options).ok
        return 0.0 if ok else math.inf

    return highest_planned(most, attempt, first_step=0.01, tries=TRIES + 1, refine=True)
