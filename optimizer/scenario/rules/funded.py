"""Zero or at least: ``touchpoints.ID.min_if_funded`` — the line item gets nothing, or at least
this much (one binary per line item; integer rule ``tp_min_if_funded``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import field_validator

from optimizer.scenario.fields import Money, Strict, check_money
from optimizer.scenario.rules.base import LineItems, RowSink, RuleKind, money

if TYPE_CHECKING:
    from optimizer.scenario.schema import Scenario


class MinIfFundedFields(Strict):
    min_if_funded: Money | None = None

    @field_validator("min_if_funded", mode="before")
    @classmethod
    def _mif_money(cls, v: Any) -> Any:
        return check_money(v, "'min_if_funded'")


class MinIfFunded(RuleKind):
    row_kinds = ("tp_min_if_funded",)
    binding_words = {"tp_min_if_funded": "min_if_funded"}  # noqa: RUF012 - read-only

    def add_rows(self, sc: Scenario, items: LineItems, out: RowSink) -> None:
        for tid, rule in sc.touchpoints.items():
            m = rule.min_if_funded
            if m is None or m <= 0 or rule.lock is not None:
                continue
            # one line item per touchpoint today: a touchpoint over periods or markets needs the
            # binary on its total (the calendar and markets decide how their totals are funded)
            for i in items.touchpoint(tid):
                out.item_rule(
                    "tp_min_if_funded", tid, i, m, f"the {tid} minimum if funded ({money(m)})"
                )
