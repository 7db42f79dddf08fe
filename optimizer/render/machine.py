"""Machine formats: JSON (contract 6) and CSV for plans, comparisons and sweeps.

The one place each machine text is built: the CLI and the demo write these same functions'
output (``comparison_json`` always carries each scenario's ``costly_constraints``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from optimizer.allocate import Plan
from optimizer.formatting import csv_text, finite, to_json
from optimizer.workflow.compare import Comparison, ConstraintCost

if TYPE_CHECKING:
    from optimizer.workflow.robust import Uncertainty

__all__ = ["csv_text", "finite", "to_json"]  # the one serialiser's functions, re-exported


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    """A plan as contract 6: scenario, status, objective, totals, line items, constraints."""
    total = plan.total_spend
    d: dict[str, Any] = {
        "scenario": plan.scenario,
        "status": plan.status,
        "objective": plan.objective,
        "kpi_name": plan.kpi,
        "horizon_weeks": plan.horizon_weeks,
        "budget": finite(plan.budget),
        "total_spend": total,
        "total_kpi": finite(plan.total_kpi),
        "roi": finite(plan.roi),
        "objective_value": finite(plan.objective_value),
        "bound": finite(plan.bound),
        "gap": finite(plan.gap),
        "solver": plan.solver,
        "line_items": [
            {
                "id": li.id,
                **_where(plan, li),
                "stage": li.stage,
                "spend": li.spend,
                "kpi": finite(li.kpi),
                "roi": finite(li.roi),
                "marginal_roi": finite(li.marginal_roi),
                "binding": list(li.binding),
                "share": (li.spend / total) if total > 0 else 0.0,
                "weekly_spend": finite(li.weekly_spend),
                "reduced_cost": finite(li.reduced_cost),
                **(
                    {"other_kpis": {k: finite(v) for k, v in li.other_kpis.items()}}
                    if li.other_kpis
                    else {}
                ),
            }
            for li in plan.line_items
        ],
        "stages": [
            {"stage": st, "spend": v["spend"], "kpi": finite(v["kpi"])}
            for st, v in plan.stage_totals().items()
        ],
        **_by_market_and_owner(plan),
        "constraints": [
            {
                "name": c.name,
                "kind": c.kind,
                "label": c.label,
                "binding": c.binding,
                "shadow_price": finite(c.shadow_price),
                "slack": finite(c.slack),
                "rhs": finite(c.rhs),
            }
            for c in plan.constraints
        ],
    }
    if plan.status != "optimal" or plan.conflicts:
        d["conflicts"] = list(plan.conflicts)
        d["message"] = plan.message
    return d


def _where(plan: Plan, li: Any) -> dict[str, Any]:
    """A line item's market (contract 8; None for a national buy, with its ``split``) and owner."""
    d: dict[str, Any] = {}
    if plan.has_markets:
        d["market"] = li.market
        if li.market is None:
            d["split"] = {m: finite(w) for m, w in li.shares.items()}
            d["kpi_by_market"] = {m: finite(v) for m, v in li.market_kpi.items()}
    if li.owner:
        d["owner"] = li.owner
    return d


def _by_market_and_owner(plan: Plan) -> dict[str, Any]:
    d: dict[str, Any] = {}
    if plan.has_markets:
        d["markets"] = [
            {"market": m, "spend": v["spend"], "kpi": finite(v["kpi"])}
            for m, v in plan.market_totals().items()
        ]
    owners = plan.owner_totals()
    if owners:
        d["owners"] = [
            {"owner": o, "spend": v["spend"], "kpi": finite(v["kpi"])} for o, v in owners.items()
        ]
    return d


def plan_json(plan: Plan) -> str:
    return to_json(plan_to_dict(plan))


def cost_to_dict(c: ConstraintCost) -> dict[str, Any]:
    return {
        "name": c.name,
        "label": c.label,
        "kind": c.kind,
        "shadow_price": finite(c.shadow_price),
        "relaxed_by": finite(c.relaxed_by),
        "gain": finite(c.gain),
        "unit": c.unit,
    }


def comparison_dict(comp: Comparison) -> dict[str, Any]:
    """Contract 6 for ``compare``, each scenario with its ``costly_constraints`` (top 3)."""
    scenarios = []
    for k, p in enumerate(comp.plans):
        d = plan_to_dict(p)
        d["costly_constraints"] = [cost_to_dict(c) for c in comp.costs_of(k)]
        scenarios.append(d)
    return {"reference": comp.reference_plan.scenario, "scenarios": scenarios}


def comparison_json(comp: Comparison) -> str:
    return to_json(comparison_dict(comp))


def plan_csv(plan: Plan, uncertainty: Uncertainty | None = None) -> str:
    """The plan's CSV; with ``uncertainty``, the spread columns added per line item."""
    df = plan_frame(plan)
    if uncertainty is not None:
        spread = pd.DataFrame(
            [
                {
                    "id": it.id,
                    "spend_p10": it.spend_spread.p10,
                    "spend_p50": it.spend_spread.p50,
                    "spend_p90": it.spend_spread.p90,
                    "kpi_p10": it.kpi_spread.p10,
                    "kpi_p50": it.kpi_spread.p50,
                    "kpi_p90": it.kpi_spread.p90,
                }
                for it in uncertainty.items
            ]
        )
        df = df.merge(spread, on="id", how="left")
        voi = uncertainty.value_of_information
        if voi is not None:
            evppi = pd.DataFrame(
                [{"id": t.id, "evppi": t.evppi} for t in voi.touchpoints], columns=["id", "evppi"]
            )
            df = df.merge(evppi, on="id", how="left")
    return csv_text(df)


def plan_frame(plan: Plan) -> pd.DataFrame:
    total = plan.total_spend
    markets = plan.has_markets
    return pd.DataFrame(
        [
            {
                "scenario": plan.scenario,
                "id": li.id,
                **(
                    {"market": li.market if li.market is not None else "national"}
                    if markets
                    else {}
                ),
                **({"owner": li.owner or ""} if any(x.owner for x in plan.line_items) else {}),
                "stage": li.stage,
                "spend": li.spend,
                "share": li.spend / total if total > 0 else 0.0,
                "kpi": li.kpi,
                "roi": li.roi,
                "marginal_roi": finite(li.marginal_roi),
                "binding": ";".join(li.binding),
            }
            for li in plan.line_items
        ]
    )


def comparison_csv(comp: Comparison) -> str:
    df = comp.by_line_item().reset_index()
    return csv_text(df)


def frontier_json(frontier) -> str:
    knee = frontier.knee()
    return to_json(
        {
            "scenario": frontier.scenario,
            "points": [
                {k: finite(v) if not isinstance(v, str) else v for k, v in p.items()}
                for p in frontier.points()
            ],
            "diminishing_returns_at": None if knee is None else finite(frontier.plans[knee].budget),
        }
    )


def frontier_csv(frontier) -> str:
    return csv_text(pd.DataFrame(frontier.points()))
