"""Bought in blocks: ``touchpoints.ID.block`` — spend is a whole number of blocks of this much
(one integer per line item; integer rule ``tp_block``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import field_validator

from optimizer.scenario.fields import Money, Strict, check_money
from optimizer.scenario.rules.base import LineItems, RowSink, RuleKind, money

if TYPE_CHECKING:
    from optimizer.scenario.schema import Scenario


class BlockFields(Strict):
    block: Money | None = None  # sold in units of this much: spend is a whole number of blocks

    @field_validator("block", mode="before")
    @classmethod
    def _block_money(cls, v: Any) -> Any:
        return check_money(v, "'block'")


class Blocks(RuleKind):
    row_kinds = ("tp_block",)

    def add_rows(self, sc: Scenario, items: LineItems, out: RowSink) -> None:
        for tid, rule in sc.touchpoints.items():
            if not rule.block:
                continue
            for i in items.touchpoint(tid):
                out.item_rule(
                    "tp_block", tid, i, rule.block, f"the {tid} blocks of {money(rule.block)}"
                )
