"""Change limits against last cycle: each line item with a ``previous`` spend may move at most
± a fraction (``change_pct``) and/or ± an amount (``change_money``) from it; per touchpoint under
``touchpoints.ID``, or for every line item under ``change_limit: {pct: …, money: …}``.

Rows ``change_up`` (``≤ previous + allowance``) and ``change_down`` (``≥ previous - allowance``,
left out when that is 0). A limit without a ``previous`` is an error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field, field_validator

from optimizer.formatting import share_exact
from optimizer.scenario.fields import Money, Strict, check_money, suggest
from optimizer.scenario.rules.base import (
    LinearConstraint,
    LineItems,
    ModelNames,
    RowSink,
    RuleKind,
    money,
)

if TYPE_CHECKING:
    from optimizer.scenario.schema import Scenario


class ChangeLimit(Strict):
    """How far each line item may move against last cycle: ± a fraction and/or ± money."""

    pct: float | None = Field(default=None, ge=0, le=100)
    money: Money | None = None

    @field_validator("money", mode="before")
    @classmethod
    def _money(cls, v: Any) -> Any:
        return check_money(v, "'money'")


class ChangeFields(Strict):
    """``touchpoints.ID``: ``change_pct``, ``change_money`` (against ``previous``)."""

    change_pct: float | None = Field(
        default=None, ge=0, le=100
    )  # at most ± this fraction of last cycle
    change_money: Money | None = None  # at most ± this much money against last cycle

    @field_validator("change_money", mode="before")
    @classmethod
    def _change_money(cls, v: Any) -> Any:
        return check_money(v, "'change_money'")


class ChangeLimits(RuleKind):
    row_kinds = ("change_up", "change_down")
    binding_words: ClassVar[dict[str, str]] = {
        "change_up": "change_limit",
        "change_down": "change_limit",
    }

    def check(self, sc: Scenario, model: ModelNames | None) -> list[str]:
        prev = sc.previous
        if model is not None:
            ids = model.touchpoints
            return [
                f"field 'previous.{tid}': unknown touchpoint '{tid}'{suggest(tid, ids)}"
                for tid in prev or {}
                if tid not in model.touchpoint_stages
            ]
        problems = []
        if sc.change_limit is not None and prev is None:
            problems.append(
                "field 'change_limit': a change limit needs last cycle's spend: give 'previous' "
                "(a mapping of touchpoint to spend, or a CSV file with columns id,spend)"
            )
        for tid, rule in sc.touchpoints.items():
            for key in ("change_pct", "change_money"):
                if getattr(rule, key) is None:
                    continue
                if prev is None:
                    problems.append(
                        f"field 'touchpoints.{tid}.{key}': a change limit needs last cycle's "
                        "spend: give 'previous'"
                    )
                elif tid not in prev:
                    problems.append(
                        f"field 'touchpoints.{tid}.{key}': 'previous' has no spend for '{tid}'"
                    )
        return problems

    @staticmethod
    def limits(sc: Scenario, tid: str) -> tuple[float | None, float | None]:
        """(fraction, money) the touchpoint may move, its own limits before ``change_limit``."""
        rule = sc.touchpoints.get(tid)
        default = sc.change_limit
        pct = getattr(rule, "change_pct", None)
        if pct is None and default is not None:
            pct = default.pct
        mon = getattr(rule, "change_money", None)
        if mon is None and default is not None:
            mon = default.money
        return pct, mon

    def add_rows(self, sc: Scenario, items: LineItems, out: RowSink) -> None:
        for tid, p in (sc.previous or {}).items():
            pct, mon = self.limits(sc, tid)
            ups, downs, why = [], [], []
            if pct is not None:
                ups.append(p * (1 + pct))
                downs.append(p * (1 - pct))
                why.append(f"±{share_exact(pct)}")
            if mon is not None:
                ups.append(p + mon)
                downs.append(p - mon)
                why.append(f"±{money(mon)}")
            if not ups:
                continue
            members = {i: 1.0 for i in items.touchpoint(tid)}
            text = f"{' and '.join(why)} on {money(p)} last cycle"
            up, down = min(ups), max(0.0, max(downs))
            label = f"the {tid} change limit ({text})"
            out.row("change_up", tid, "<=", up, members, label)
            if down > 0:
                out.row("change_down", tid, ">=", down, members, label, item_floor=True)

    def relax(
        self, sc: Scenario, row: LinearConstraint, step: float, direction: str
    ) -> Scenario | None:
        prev = (sc.previous or {}).get(row.subject)
        if not prev:
            return None
        sign = 1.0 if direction == "raise" else -1.0
        bound = row.rhs + sign * step
        # the same bound as a fraction and as money, so that whichever applies moves by `step`
        mon = bound - prev if row.kind == "change_up" else prev - bound
        if mon < 0:
            return None
        rule = sc.touchpoints.get(row.subject)
        data = rule.model_dump() if rule is not None else {}
        data.update(change_pct=mon / prev, change_money=mon)
        return sc.with_touchpoint_rule(row.subject, data)
