"""Machine formats: JSON (contract 6) and CSV for plans, comparisons and sweeps.

The one place each machine text is built: the CLI and the demo write these same functions'
output (``comparison_json`` always carries each scenario's ``costly_constraints``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from optimizer.allocate import Plan
from optimizer.allocate.plan_json import plan_to_dict
from optimizer.formatting import csv_text, finite, to_json
from optimizer.workflow.compare import Comparison, ConstraintCost

if TYPE_CHECKING:
    import pandas as pd

    from optimizer.workflow.robust import Uncertainty

# re-exported: the one serialiser (formatting) and plan JSON (allocate.plan_json)
__all__ = ["csv_text", "finite", "plan_to_dict", "to_json"]


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
    import pandas as pd

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
    """One row per line item; a phased plan (contract 7): one row per line item and period."""
    import pandas as pd

    if plan.periods:
        return plan_period_frame(plan)
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


def plan_period_frame(plan: Plan) -> pd.DataFrame:
    """A phased plan by line item and period: its spend, KPI (carry-over included) and the
    marginal return of the period's next dollar; the horizon's KPI after it as period ``after``."""
    import pandas as pd

    rows = []
    markets = plan.has_markets
    owners = markets and any(x.owner for x in plan.line_items)
    for li in plan.line_items:
        # with markets (contract 8) each row names its market and owner, as undated rows do
        where = {
            **({"market": li.market if li.market is not None else "national"} if markets else {}),
            **({"owner": li.owner or ""} if owners else {}),
        }
        for p in li.periods:
            rows.append(
                {
                    "scenario": plan.scenario,
                    "id": li.id,
                    **where,
                    "stage": li.stage,
                    "period": p.period,
                    "period_start": p.start,
                    "weeks": p.weeks,
                    "spend": p.spend,
                    "kpi": p.kpi,
                    "marginal_roi": finite(p.marginal_roi),
                    "binding": ";".join(li.binding),
                }
            )
        if plan.kpi_after:
            rows.append(
                {
                    "scenario": plan.scenario,
                    "id": li.id,
                    **where,
                    "stage": li.stage,
                    "period": "after",
                    "period_start": "",
                    "weeks": 0,
                    "spend": 0.0,
                    "kpi": li.kpi_after,
                    "marginal_roi": None,
                    "binding": ";".join(li.binding),
                }
            )
    return pd.DataFrame(rows)


def comparison_csv(comp: Comparison) -> str:
    """One row per line item: ``line_item,stage``, each scenario's spend and its delta against
    the reference, then (when the plans have them) the line item's ``market`` (empty for a
    national buy) and ``owner``: the columns added last, so that the first ones stay put."""
    df = comp.by_line_item().reset_index()
    for col, values in comp.line_item_labels().items():
        df[col] = [values.get(k, "") for k in df["line_item"]]
    return csv_text(df)


def frontier_json(frontier) -> str:
    """Contract 6 for ``sweep``; with a money KPI, ``break_even`` (the scenario's points, which do
    not depend on the sweep's range) and, per point, ``marginal_return`` and ``spend_beyond``."""
    d: dict[str, Any] = {
        "scenario": frontier.scenario,
        "points": [
            {k: finite(v) if not isinstance(v, str) else v for k, v in p.items()}
            for p in frontier.points()
        ],
    }
    if frontier.economics is not None:
        d["break_even"] = {
            k: finite(v) if isinstance(v, float) else v
            for k, v in frontier.economics.to_dict().items()
        }
    if frontier.extrapolation:
        d["extrapolation"] = [dict(x) for x in frontier.extrapolation]
    return to_json(d)


def frontier_csv(frontier) -> str:
    import pandas as pd

    return csv_text(pd.DataFrame(frontier.points()))
