"""What a scenario's planning units cost: ``min_line_item`` and ``round_to`` (rules/units.py).

The solver honours both (integer rules); their cost is measured by re-solving: the scenario
without ``min_line_item``, and without ``round_to``, each certified like the plan itself. The
cost of a rule is the objective the plan gives up against the plan without it (in the
objective's units: KPI for ``max_kpi``, net value for ``max_net``, spend for ``min_spend``),
with the KPI given up beside it. Each is measured alone (the other rule kept), so the two need
not add up to the cost of both.

``unallocated`` is the budget the plan leaves unspent because of ``round_to`` (a budget that is
not a multiple of the unit leaves its remainder; a rule that caps spend may leave more).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Unpack

from optimizer.allocate import Plan, allocate
from optimizer.allocate.engine import SolveOptions
from optimizer.errors import BudgetOptError
from optimizer.response.model import CurveSet
from optimizer.scenario import Scenario

RULES = ("min_line_item", "round_to")


@dataclass(frozen=True)
class RuleCost:
    """What one planning unit costs: the objective and KPI the plan gives up against the same
    scenario without it (None when that re-solve found no certified plan)."""

    rule: str
    amount: float
    objective_lost: float | None
    kpi_lost: float | None
    status: str  # the re-solve's status

    def to_dict(self) -> dict[str, Any]:
        return {
            "amount": self.amount,
            "objective_lost": self.objective_lost,
            "kpi_lost": self.kpi_lost,
            "status": self.status,
        }


@dataclass(frozen=True)
class PlanningUnits:
    min_line_item: float | None
    round_to: float | None
    unallocated: float | None  # budget left unspent with round_to (None: no budget, no unit)
    costs: tuple[RuleCost, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {
            "min_line_item": self.min_line_item,
            "round_to": self.round_to,
            "unallocated": self.unallocated,
            "cost": {c.rule: c.to_dict() for c in self.costs},
        }


def planning_units(
    scenario: Scenario,
    model: CurveSet,
    plan: Plan,
    *,
    extra_models: Mapping[str, CurveSet] | None = None,
    **solve_options: Unpack[SolveOptions],
) -> PlanningUnits | None:
    """The planning units of ``plan``'s scenario and what each costs, or None without any."""
    if not plan.ok or not (scenario.min_line_item or scenario.round_to):
        return None
    costs = []
    for rule in RULES:
        amount = getattr(scenario, rule)
        if not amount:
            continue
        without = scenario.model_copy(update={rule: None})
        try:
            other = allocate(without, model, extra_models=dict(extra_models or {}), **solve_options)
        except BudgetOptError:
            other = None
        if other is None or not other.ok or other.objective_value is None:
            costs.append(
                RuleCost(rule, float(amount), None, None, getattr(other, "status", "error"))
            )
            continue
        mine = float(plan.objective_value or 0.0)
        lost = (
            mine - other.objective_value
            if plan.objective == "min_spend"
            else other.objective_value - mine
        )
        costs.append(
            RuleCost(
                rule,
                float(amount),
                float(round(lost, 2)),
                float(round(other.total_kpi - plan.total_kpi, 2)),
                other.status,
            )
        )
    unallocated = None
    if scenario.round_to and scenario.budget is not None:
        unallocated = float(round(max(0.0, scenario.budget.amount - plan.total_spend), 2))
    return PlanningUnits(scenario.min_line_item, scenario.round_to, unallocated, tuple(costs))
