"""Market rules (contract 8): ``markets: {north: {min: 1000000, max_share: 0.5, touchpoints: …}}``.

A market's own money floor and cap on its spend, and its share of the national total (rows
``market_min``, ``market_max``, ``market_min_share``, ``market_max_share``); and the touchpoint,
stage and group rules scoped to the market (the same kinds' rows over the market's line items,
named ``kind__market__subject``, subjects ``subject@market``). The line items over touchpoint ×
market are made by ``optimizer.allocate.markets`` (a scenario on one market's model cannot state
these rules).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from optimizer.formatting import share_exact
from optimizer.scenario.rules.base import LineItems, RowSink, money
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


#: the kinds a market's scoped rules use (its touchpoints, stages and groups)
def _scoped_kinds():
    from optimizer.scenario.rules.blocks import Blocks
    from optimizer.scenario.rules.funded import MinIfFunded
    from optimizer.scenario.rules.groups import GroupRules
    from optimizer.scenario.rules.stages import StageRules
    from optimizer.scenario.rules.touchpoint import TouchpointBounds

    return (TouchpointBounds(), MinIfFunded(), Blocks(), StageRules(), GroupRules())


class MarketRules(ShareRules):
    prefix = "market"
    section = "markets"
    row_kinds = ("market_min", "market_max", "market_min_share", "market_max_share")

    def add_rows(self, sc: Scenario, items: LineItems, out: RowSink) -> None:
        """Per market: its spend (a national buy counts its share) against money and against a
        share of the national total; then its scoped rules, the same kinds as the national ones
        run over the market's own line items (``items.within(market=…)``, rows named
        ``kind__market__subject`` and labelled "… in market", subjects ``subject@market``)."""
        import dataclasses

        for m, rule in sc.markets.items():
            mine = items.in_market(m)
            what = f"{m} market"
            for attr, sense, word in (("min", ">=", "floor"), ("max", "<=", "cap")):
                v = getattr(rule, attr)
                if v is not None:
                    out.row(f"market_{attr}", m, sense, v, mine, f"the {what} {word} ({money(v)})")
            for attr, sense, word in (("min_share", ">=", "floor"), ("max_share", "<=", "cap")):
                share = getattr(rule, attr)
                if share is None:
                    continue
                c = {i: -share for i in items.all}
                for i, a in mine.items():
                    c[i] = c.get(i, 0.0) + a
                out.row(
                    f"market_{attr}",
                    m,
                    sense,
                    0.0,
                    c,
                    f"the {what} share {word} ({share_exact(share)} of total spend)",
                    value=share,
                    base=dict.fromkeys(items.all, 1.0),
                )
            if not (rule.touchpoints or rule.stages or rule.groups):
                continue
            scoped = out.within(m)
            view = sc.model_copy(
                update={
                    "touchpoints": rule.touchpoints,
                    "stages": rule.stages,
                    "groups": rule.groups,
                }
            )
            here = items.within(market=m)
            for kind in _scoped_kinds():
                kind.add_rows(view, here, scoped)
            scoped.rows[:] = [
                dataclasses.replace(r, subject=f"{r.subject}@{m}") for r in scoped.rows
            ]
            scoped.item_rules[:] = [
                dataclasses.replace(r, subject=f"{r.subject}@{m}") for r in scoped.item_rules
            ]
