"""Which plan ``budgetopt optimize``'s default makes, beside the plan a review pack justifies.

``explain`` justifies the optimum on the point curves (the plan of ``optimize --robust none``):
its duals are what say why each line item stops where it stops. ``optimize``'s default,
``--robust auto`` (``optimizer.workflow.anchored.auto_plan``), makes the anchored plan instead
where the fit pooled every touchpoint or the model's draws expect less from that optimum than its
curves promise. A reviewer holding the pack and a planner holding ``optimize``'s output must not
be looking at two plans without knowing it: ``default_plan`` says which plan the default makes
and, where it is the anchored plan, its step, its KPI on the same curves and its line items
beside this plan's (``DefaultPlan``; the pack's renderers lay it out near the top)."""

from __future__ import annotations

from typing import Any

from optimizer.allocate import Plan
from optimizer.explain.formatting import fmt_amount, fmt_delta
from optimizer.explain.types import DefaultPlan, DefaultPlanItem
from optimizer.formatting import step as fmt_step

#: the short line of a pack whose plan is the one the default makes
SAME_PLAN = (
    "optimize's default (--robust auto) makes this same plan: the optimum on the point curves"
)


def default_plan(point: Plan, chosen: Plan) -> DefaultPlan:
    """``chosen``, the plan ``optimize``'s default makes (``auto_choice``: its
    ``extras['auto']`` says which and why), against ``point``, the plan the pack justifies (the
    optimum on the point curves)."""
    ex: dict[str, Any] = dict(chosen.extras)
    auto: dict[str, Any] = dict(ex.get("auto") or {})
    reason = str(auto.get("reason", ""))
    if auto.get("chosen") != "anchored" or ex.get("robust") != "anchored":
        return DefaultPlan("none", True, reason, SAME_PLAN, auto=auto)
    step = float(ex["step"])
    by_key = {li.key: li for li in point.line_items}
    items = tuple(
        DefaultPlanItem(
            li.key,
            li.spend,
            by_key[li.key].spend,
            round(li.spend - by_key[li.key].spend, 2),  # money: cents, no float noise
            li.kpi,
            by_key[li.key].kpi,
        )
        for li in chosen.line_items
    )
    kpi, here = float(chosen.total_kpi), float(point.total_kpi)
    start = (
        "the plan nearest the historical mix that holds every rule"
        if ex.get("anchor_start")
        else "the historical mix"
    )
    sentence = (
        f"optimize's default (--robust auto) makes the anchored plan for this scenario, not the "
        f"plan this pack justifies: step {fmt_step(step)} of the line from {start} (step 0) to the "
        f"optimum on the point curves (step 1, this plan), {chosen.kpi} {fmt_amount(kpi)} on the "
        f"point curves ({fmt_delta(kpi - here)} against this plan's {fmt_amount(here)}), because "
        f"{reason}. This pack justifies the optimum on the point curves (what --robust none "
        "makes); the two plans' line items are set side by side with this note."
    )
    return DefaultPlan(
        "anchored",
        False,
        reason,
        sentence,
        step=step,
        total_spend=float(chosen.total_spend),
        total_kpi=kpi,
        kpi_difference=kpi - here,
        items=items,
        auto=auto,
    )
