"""Machine formats: JSON (contract 6) and CSV for plans, comparisons and sweeps."""

from __future__ import annotations

import io
import json
import math
from typing import Any

import pandas as pd

from optimizer.allocate import Plan
from optimizer.workflow.compare import Comparison


def _num(v: Any) -> Any:
    if v is None:
        return None
    f = float(v)
    return f if math.isfinite(f) else None


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    """A plan as contract 6: scenario, status, objective, totals, line items, constraints."""
    total = plan.total_spend
    d: dict[str, Any] = {
        "scenario": plan.scenario,
        "status": plan.status,
        "objective": plan.objective,
        "kpi_name": plan.kpi,
        "horizon_weeks": plan.horizon_weeks,
        "budget": _num(plan.budget),
        "total_spend": total,
        "total_kpi": _num(plan.total_kpi),
        "roi": _num(plan.roi),
        "objective_value": _num(plan.objective_value),
        "bound": _num(plan.bound),
        "gap": _num(plan.gap),
        "solver": plan.solver,
        "line_items": [
            {
                "id": li.id,
                **_where(plan, li),
                "stage": li.stage,
                "spend": li.spend,
                "kpi": _num(li.kpi),
                "roi": _num(li.roi),
                "marginal_roi": _num(li.marginal_roi),
                "binding": list(li.binding),
                "share": (li.spend / total) if total > 0 else 0.0,
                "weekly_spend": _num(li.weekly_spend),
                "reduced_cost": _num(li.reduced_cost),
                **(
                    {"other_kpis": {k: _num(v) for k, v in li.other_kpis.items()}}
                    if li.other_kpis
                    else {}
                ),
            }
            for li in plan.line_items
        ],
        "stages": [
            {"stage": st, "spend": v["spend"], "kpi": _num(v["kpi"])}
            for st, v in plan.stage_totals().items()
        ],
        **_by_market_and_owner(plan),
        "constraints": [
            {
                "name": c.name,
                "kind": c.kind,
                "label": c.label,
                "binding": c.binding,
                "shadow_price": _num(c.shadow_price),
                "slack": _num(c.slack),
                "rhs": _num(c.rhs),
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
            d["split"] = {m: _num(w) for m, w in li.shares.items()}
    if li.owner:
        d["owner"] = li.owner
    return d


def _by_market_and_owner(plan: Plan) -> dict[str, Any]:
    d: dict[str, Any] = {}
    if plan.has_markets:
        d["markets"] = [
            {"market": m, "spend": v["spend"], "kpi": _num(v["kpi"])}
            for m, v in plan.market_totals().items()
        ]
    owners = plan.owner_totals()
    if owners:
        d["owners"] = [
            {"owner": o, "spend": v["spend"], "kpi": _num(v["kpi"])} for o, v in owners.items()
        ]
    return d


def to_json(obj: Any) -> str:
    return json.dumps(obj, indent=2, allow_nan=False) + "\n"


def plan_json(plan: Plan) -> str:
    return to_json(plan_to_dict(plan))


def comparison_json(comp: Comparison) -> str:
    return to_json(
        {
            "reference": comp.reference_plan.scenario,
            "scenarios": [plan_to_dict(p) for p in comp.plans],
        }
    )


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
                "marginal_roi": _num(li.marginal_roi),
                "binding": ";".join(li.binding),
            }
            for li in plan.line_items
        ]
    )


def _csv(df: pd.DataFrame) -> str:
    buf = io.StringIO()
    df.to_csv(buf, index=False, float_format="%.10g", lineterminator="\n")
    return buf.getvalue()


def plan_csv(plan: Plan) -> str:
    return _csv(plan_frame(plan))


def comparison_csv(comp: Comparison) -> str:
    df = comp.by_line_item().reset_index()
    return _csv(df)


def frontier_json(frontier) -> str:
    knee = frontier.knee()
    return to_json(
        {
            "scenario": frontier.scenario,
            "points": [
                {k: _num(v) if not isinstance(v, str) else v for k, v in p.items()}
                for p in frontier.points()
            ],
            "diminishing_returns_at": None if knee is None else _num(frontier.plans[knee].budget),
        }
    )


def frontier_csv(frontier) -> str:
    return _csv(pd.DataFrame(frontier.points()))
