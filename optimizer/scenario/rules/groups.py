"""Group rules: ``groups: {digital: {members: [search, social], max_share: 0.6}}`` over the
members' line items (rows ``group_min``, ``group_max``, ``group_min_share``, ``group_max_share``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from optimizer.scenario.fields import suggest
from optimizer.scenario.rules.base import LineItems, ModelNames, RowSink
from optimizer.scenario.rules.shares import ShareRule, ShareRules

if TYPE_CHECKING:
    from optimizer.scenario.schema import Scenario


class GroupRule(ShareRule):
    members: tuple[str, ...] = Field(min_length=1)


class GroupRules(ShareRules):
    prefix = "group"
    section = "groups"
    row_kinds = ("group_min", "group_max", "group_min_share", "group_max_share")

    def check(self, sc: Scenario, model: ModelNames | None) -> list[str]:
        if model is None:
            return []
        ids = model.touchpoints
        return [
            f"field 'groups.{g}.members': unknown touchpoint '{m}'{suggest(m, ids)}"
            for g, rule in sc.groups.items()
            for m in rule.members
            if m not in model.touchpoint_stages
        ]

    def add_rows(self, sc: Scenario, items: LineItems, out: RowSink) -> None:
        for g, rule in sc.groups.items():
            members = items.touchpoints(rule.members)
            self.share_rows(out, g, members, items.all, rule, f"'{g}' group", items.weights)
