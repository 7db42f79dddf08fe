"""Rules on KPI rather than spend: the ``kpi_target`` of ``objective: min_spend`` (row
``kpi_target``: the plan's KPI at least the target) and ``kpi_floors: {leads: 5000}`` (rows
``kpi_floor``: another KPI's total at least this, on that KPI's model from ``models:``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from optimizer.scenario.rules.base import LinearConstraint, LineItems, RowSink, RuleKind, money

if TYPE_CHECKING:
    from optimizer.scenario.schema import Scenario


class KpiTarget(RuleKind):
    row_kinds = ("kpi_target",)
    unit = "kpi"
    costed = False  # it defines the min_spend objective: its price is the marginal cost of KPI

    def add_rows(self, sc: Scenario, items: LineItems, out: RowSink) -> None:
        if sc.objective != "min_spend":
            return
        target = float(sc.kpi_target or 0.0)
        out.row(
            "kpi_target",
            items.kpi,
            ">=",
            target,
            {i: 1.0 for i in items.all},
            f"the {items.kpi} target ({money(target)})",
            on_kpi=True,
            kpi=items.kpi,
            bare=True,
        )

    def relax(
        self, sc: Scenario, row: LinearConstraint, step: float, direction: str
    ) -> Scenario | None:
        sign = 1.0 if direction == "raise" else -1.0
        return sc.model_copy(update={"kpi_target": max(float(sc.kpi_target or 0) + sign * step, 0)})


class KpiFloors(RuleKind):
    row_kinds = ("kpi_floor",)
    unit = "kpi"

    def add_rows(self, sc: Scenario, items: LineItems, out: RowSink) -> None:
        for k, floor in sc.kpi_floors.items():
            out.row(
                "kpi_floor",
                k,
                ">=",
                float(floor),
                {i: 1.0 for i in items.with_kpi(k)},
                f"the {k} floor ({money(float(floor))})",
                on_kpi=True,
                kpi=k,
            )

    def relax(
        self, sc: Scenario, row: LinearConstraint, step: float, direction: str
    ) -> Scenario | None:
        sign = 1.0 if direction == "raise" else -1.0
        floors = dict(sc.kpi_floors)
        floors[row.subject] = max(float(floors[row.subject]) + sign * step, 0.0)
        return sc.model_copy(update={"kpi_floors": floors})
