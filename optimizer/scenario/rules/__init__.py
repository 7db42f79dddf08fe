"""The rules registry: every kind of rule a scenario can state, in one ordered list.

Each kind is one module (its schema, its rows in the allocation problem, how the infeasibility
diagnosis relaxes it, what it costs, its words in a review); the problem builder, the diagnosis,
the review and the comparison iterate ``RULE_KINDS`` and ask ``kind_of(row.kind)``. The order of
the list is the order of the rows (and of the constraints in every output).

To add a kind (docs/rules.md): write ``rules/my_kind.py`` with a ``RuleKind`` subclass (and, for
a per-touchpoint option, a fields mixin), then list it here: the mixin among ``TouchpointRule``'s
bases, the kind in ``RULE_KINDS``.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from pydantic import model_validator

from optimizer.scenario.rules.base import (
    Fix,
    ItemRule,
    LinearConstraint,
    LineItemRef,
    LineItems,
    ModelNames,
    Names,
    RowSink,
    RuleKind,
    money,
    safe_name,
)
from optimizer.scenario.rules.blocks import BlockFields, Blocks
from optimizer.scenario.rules.budget import Budget, BudgetKind
from optimizer.scenario.rules.change import ChangeFields, ChangeLimit, ChangeLimits
from optimizer.scenario.rules.funded import MinIfFunded, MinIfFundedFields
from optimizer.scenario.rules.groups import GroupRule, GroupRules
from optimizer.scenario.rules.keep_previous import KeepPrevious, KeepPreviousFields
from optimizer.scenario.rules.kpi import KpiFloors, KpiTarget
from optimizer.scenario.rules.markets import MarketRule, MarketRules
from optimizer.scenario.rules.owners import OwnerRules
from optimizer.scenario.rules.periods import CarryOver, PeriodFields, PeriodRule, PeriodRules
from optimizer.scenario.rules.ratios import RatioRule, RatioRules
from optimizer.scenario.rules.shares import ShareRule
from optimizer.scenario.rules.stages import StageRules
from optimizer.scenario.rules.touchpoint import BoundsFields, TouchpointBounds
from optimizer.scenario.rules.units import ITEM_RULE_ROLE, PlanningUnits

if TYPE_CHECKING:
    from optimizer.scenario.schema import Scenario


class TouchpointRule(
    PeriodFields, KeepPreviousFields, ChangeFields, BlockFields, MinIfFundedFields, BoundsFields
):
    """``touchpoints.ID``: every per-touchpoint option, one fields mixin per rule kind (pydantic
    orders the fields from the last base to the first: min, max, lock, min_if_funded, …)."""

    @model_validator(mode="after")
    def _funded_within_max(self) -> TouchpointRule:
        if (
            self.min_if_funded is not None
            and self.max is not None
            and self.min_if_funded > self.max
        ):
            raise ValueError(
                f"min_if_funded ({self.min_if_funded:,.0f}) is above max ({self.max:,.0f})"
            )
        return self


MarketRule.model_rebuild()

#: every rule kind, in the order their rows are made
RULE_KINDS: tuple[RuleKind, ...] = (
    BudgetKind(),
    TouchpointBounds(),
    MinIfFunded(),
    Blocks(),
    PlanningUnits(),
    StageRules(),
    GroupRules(),
    OwnerRules(),
    RatioRules(),
    ChangeLimits(),
    KpiTarget(),
    KpiFloors(),
    KeepPrevious(),
    MarketRules(),
    PeriodRules(),
)

_BY_ROW_KIND: dict[str, RuleKind] = {k: kind for kind in RULE_KINDS for k in kind.row_kinds}


def kind_of(row_kind: str) -> RuleKind:
    """The rule kind that writes rows (or integer rules) of ``row_kind``; a plain money rule for a
    row some other layer made (e.g. the re-plan's "rest of a minimum")."""
    return _BY_ROW_KIND.get(row_kind, _PLAIN)


_PLAIN = RuleKind()


def kind_words(row_kind: str) -> str:
    """A row kind (part of the JSON contract) in words for tables and workbooks."""
    return kind_of(row_kind).kind_words(row_kind)


def item_rule_amounts(rules: list[ItemRule] | tuple[ItemRule, ...]) -> dict[str, dict[int, float]]:
    """Per role ("funded", "block") and line item, the amount its integer rules set: the larger
    minimum, the larger unit (a touchpoint's ``block`` is a multiple of ``round_to``)."""
    out: dict[str, dict[int, float]] = {"funded": {}, "block": {}}
    for r in rules:
        role = ITEM_RULE_ROLE.get(r.kind)
        if role is not None:
            out[role][r.item] = max(out[role].get(r.item, 0.0), r.amount)
    return out


def build_rows(sc: Scenario, items: LineItems) -> RowSink:
    """Every kind's rows for ``sc`` over ``items``, uniquely named, in registry order."""
    out = RowSink()
    for kind in RULE_KINDS:
        kind.add_rows(sc, items, out)
    return out


def scenario_problems(sc: Scenario, model: ModelNames | None = None) -> list[str]:
    """Every kind's problems with ``sc`` (``model``: against the model's names; None: the
    checks that need no model)."""
    return [p for kind in RULE_KINDS for p in kind.check(sc, model)]


def relax(sc: Scenario, row: LinearConstraint, step: float, direction: str) -> Scenario | None:
    """``sc`` with the rule behind ``row`` moved by ``step`` (in its own unit) in ``direction``.

    A rule scoped to a market (subject ``subject@market``) is moved inside ``markets.M``: its kind
    relaxes the market's own touchpoints, stages and groups as if they were the scenario's."""
    kind = kind_of(row.kind)
    inner, at, scope = row.subject.rpartition("@")
    market = sc.markets.get(scope) if at else None
    if market is None:
        return kind.relax(sc, row, step, direction)
    sections = ("touchpoints", "stages", "groups")
    view = sc.model_copy(update={k: getattr(market, k) for k in sections})
    moved = kind.relax(view, dataclasses.replace(row, subject=inner), step, direction)
    if moved is None:
        return None
    rule = market.model_copy(update={k: getattr(moved, k) for k in sections})
    return sc.model_copy(update={"markets": {**sc.markets, scope: rule}})


__all__ = [
    "ITEM_RULE_ROLE",
    "RULE_KINDS",
    "kind_words",
    "Budget",
    "CarryOver",
    "ChangeLimit",
    "Fix",
    "GroupRule",
    "ItemRule",
    "LineItemRef",
    "LineItems",
    "LinearConstraint",
    "MarketRule",
    "ModelNames",
    "PeriodRule",
    "Names",
    "RatioRule",
    "RowSink",
    "RuleKind",
    "ShareRule",
    "TouchpointRule",
    "build_rows",
    "item_rule_amounts",
    "kind_of",
    "money",
    "relax",
    "safe_name",
    "scenario_problems",
]
