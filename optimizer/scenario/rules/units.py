"""Planning units, scenario-wide: ``min_line_item`` (every line item is zero or at least this
much) and ``round_to`` (every line item is a whole multiple of this much).

Both are integer rules on every line item, honoured by the solver (one binary per line item for
the minimum, one integer per line item for the unit: the same MILP as a touchpoint's own
``min_if_funded`` and ``block``), never by rounding a plan afterwards. A touchpoint's own rule
and the scenario's combine: the larger minimum applies; a touchpoint's ``block`` must be a
multiple of ``round_to`` (it then implies it).

**The budget's remainder.** With ``budget: N`` (at most N) the plan spends at most the largest
multiple of ``round_to`` within N: the remainder below one unit is left unallocated, and outputs
say how much. ``budget: {exactly: N}`` must then be a multiple of ``round_to`` (checked when the
scenario is loaded: no plan could spend exactly N). A ``lock`` that is not a multiple, or a
touchpoint whose rules leave no room between its minimum line item and its maximum, makes the
scenario infeasible, and the diagnosis names the two rules (``round_to__tv`` and
``tp_lock__tv``).

Integer rules ``min_line_item`` and ``round_to``, one per line item, named by its key
(``round_to__tv``, ``round_to__tv_north`` with markets).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, ClassVar

from optimizer.scenario.rules.base import LineItems, ModelNames, RowSink, RuleKind, money

if TYPE_CHECKING:
    from optimizer.scenario.schema import Scenario

#: integer-rule kind → what it sets on a line item ("funded": zero or at least; "block": a whole
#: number of units); the touchpoint's own kinds and the scenario-wide ones
ITEM_RULE_ROLE: dict[str, str] = {
    "tp_min_if_funded": "funded",
    "min_line_item": "funded",
    "tp_block": "block",
    "round_to": "block",
}


def is_multiple(amount: float, unit: float) -> bool:
    """Is ``amount`` a whole number of ``unit`` (to a cent)?"""
    if unit <= 0:
        return True
    n = round(amount / unit)
    return abs(amount - n * unit) <= 0.005


def unit_floor(amount: float, unit: float) -> float:
    """The largest multiple of ``unit`` within ``amount`` (to a cent)."""
    return float(math.floor(amount / unit + 1e-9) * unit)


class PlanningUnits(RuleKind):
    row_kinds = ("min_line_item", "round_to")
    binding_words: ClassVar[dict[str, str]] = {
        "min_line_item": "min_line_item",
        "round_to": "round_to",
    }

    def check(self, sc: Scenario, model: ModelNames | None) -> list[str]:
        if model is not None:
            return []
        problems = []
        unit = sc.round_to
        if sc.is_phased and (sc.round_to or sc.min_line_item):
            key = "round_to" if sc.round_to else "min_line_item"
            problems.append(
                f"field '{key}': planning units apply to a plan of one amount per line item; a "
                "phased plan (start with phasing) decides per period: use "
                "touchpoints.ID.per_period.min_if_funded there, or phasing: none"
            )
            return problems
        if unit:
            b = sc.budget
            if b is not None and b.is_exact and not is_multiple(b.amount, unit):
                lo = unit_floor(b.amount, unit)
                problems.append(
                    f"field 'budget.exactly': {money(b.amount)} is not a multiple of round_to "
                    f"({money(unit)}), so no plan can spend it exactly: give "
                    f"{money(lo)} or {money(lo + unit)}, or budget: {money(b.amount)} (at most) "
                    f"to leave the remainder ({money(b.amount - lo)}) unallocated"
                )
            for tid, rule in sc.touchpoints.items():
                if rule.block and not is_multiple(rule.block, unit):
                    problems.append(
                        f"field 'touchpoints.{tid}.block': {money(rule.block)} is not a multiple "
                        f"of round_to ({money(unit)}): every line item must be a multiple of both"
                    )
        return problems

    def add_rows(self, sc: Scenario, items: LineItems, out: RowSink) -> None:
        m, unit = sc.min_line_item, sc.round_to
        if not m and not unit:
            return
        for i in items.all:
            ref = items.refs[i]
            key = ref.touchpoint + (f"@{ref.market}" if ref.market else "")
            if ref.market is None and ref.split is not None:
                key = f"{ref.touchpoint}@national"
            if m:
                out.item_rule(
                    "min_line_item", key, i, m, f"the minimum line item ({money(m)}) on {key}"
                )
            if unit:
                out.item_rule(
                    "round_to", key, i, unit, f"the planning unit ({money(unit)}) on {key}"
                )
