"""Market rules (contract 8): ``markets: {north: {min: 1000000, max_share: 0.5, touchpoints: …}}``.

A market's own money floor and cap on its spend, and its share of the national total (rows
``market_min``, ``market_max``, ``market_min_share``, ``market_max_share``); and the touchpoint,
stage and group rules scoped to the market (the same kinds' rows over the market's line items,
named ``kind__subject__in__market``). The rows over touchpoint × market line items are built by
``optimizer.allocate.markets`` (a scenario on one market's model cannot state them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from optimizer.scenario.rules.base import LineItems, RowSink
from optimizer.scenario.rules.groups import GroupRule
from optimizer.scenario.rules.shares import ShareRule, ShareRules

if TYPE_CHECKING:
    from optimizer.scenario.rules import TouchpointRule
    from optimizer.scenario.schema import Scenario


class MarketRule(ShareRule):
    """A market's own rules: its total spend (money, and shares of the national total), and rules
    scoped to it: its touchpoints, stages and groups (stage and group shares are of the market's
    total)."""

    touchpoints: dict[str, TouchpointRule] = Field(default_factory=dict)
    stages: dict[str, ShareRule] = Field(default_factory=dict)
    groups: dict[str, GroupRule] = Field(default_factory=dict)


class MarketRules(ShareRules):
    prefix = "market"
    section = "markets"
    row_kinds = ("market_min", "market_max", "market_min_share", "market_max_share")

    def add_rows(self, sc: Scenario, items: LineItems, out: RowSink) -> None:
        return  # built with the line items over markets, in optimizer.allocate.markets
