"""Floors and caps on a set of line items (a stage, a group): money (``min``, ``max``) and shares
of the plan's total spend (``min_share``, ``max_share``). Shared by ``stages`` and ``groups``.

Rows ``{prefix}_min``/``{prefix}_max``: ``Σ members ≥/≤ amount``; ``{prefix}_min_share`` /
``{prefix}_max_share``: ``Σ members - share · Σ all ≥/≤ 0`` (``value`` is the share).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import field_validator, model_validator

from optimizer.formatting import share_exact
from optimizer.scenario.fields import Money, check_money, check_share
from optimizer.scenario.rules.base import LinearConstraint, RowSink, RuleKind, money
from optimizer.scenario.rules.periods import PeriodFields

if TYPE_CHECKING:
    from optimizer.scenario.schema import Scenario


class ShareRule(PeriodFields):
    """Floors and caps on a stage or group: money and shares of the plan's total spend (and,
    on a phased plan, rules by period: ``per_period``, ``periods``)."""

    min: Money | None = None
    max: Money | None = None
    min_share: float | None = None
    max_share: float | None = None

    @field_validator("min", "max", mode="before")
    @classmethod
    def _money(cls, v: Any, info: Any) -> Any:
        return check_money(v, f"'{info.field_name}'")

    @field_validator("min_share", "max_share", mode="before")
    @classmethod
    def _share(cls, v: Any) -> Any:
        return check_share(v)

    @model_validator(mode="after")
    def _consistent(self) -> ShareRule:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min:,.0f}) is above max ({self.max:,.0f})")
        if (
            self.min_share is not None
            and self.max_share is not None
            and self.min_share > self.max_share
        ):
            raise ValueError(f"min_share ({self.min_share}) is above max_share ({self.max_share})")
        return self


def replace_rule(rule: ShareRule, key: str, value: float) -> ShareRule:
    """``rule`` with ``key`` set to ``value``; an opposite bound it would cross moves with it."""
    data = rule.model_dump()
    data[key] = float(value)
    if key == "max" and data.get("min") is not None and data["min"] > value:
        data["min"] = float(value)
    if key == "min" and data.get("max") is not None and data["max"] < value:
        data["max"] = float(value)
    if key == "max_share" and data.get("min_share") is not None and data["min_share"] > value:
        data["min_share"] = float(value)
    if key == "min_share" and data.get("max_share") is not None and data["max_share"] < value:
        data["max_share"] = float(value)
    return type(rule)(**data)


def _members_and_total(row: LinearConstraint, spend: Sequence[float]) -> tuple[float, float]:
    """(members' spend, the spend the share is of) of a share row at ``spend``."""
    if row.base is not None:  # members - share · base: weighted rows too (a national buy)
        total = row.base_lhs(spend)
        return row.lhs(spend) + float(row.value or 0.0) * total, total
    share = float(row.value or 0.0)
    members = sum(float(spend[i]) for i, a in row.coefs.items() if a > -share + 0.5)
    total = sum(float(spend[i]) for i in row.coefs)
    return members, total


class ShareRules(RuleKind):
    """The rows and their handling for one table of ``ShareRule``s (``prefix``: stage | group)."""

    prefix: ClassVar[str] = ""
    section: ClassVar[str] = ""  # the scenario's field holding the rules

    def share_rows(
        self,
        out: RowSink,
        subject: str,
        members: Sequence[int],
        all_items: Sequence[int],
        rule: ShareRule,
        what: str,
        weights: Mapping[int, float] | None = None,
    ) -> None:
        """The rows of ``rule`` on ``members`` (shares of ``all_items``' spend); ``weights``: how
        much of a line item's spend counts (a national buy's share in a market; default all)."""
        kind = self.prefix
        w = weights or {}
        # scoped to a market (``out.within``), a share is of the market's spend
        of = "the market's spend" if out.scope else "total spend"
        coefs = {i: w.get(i, 1.0) for i in members}
        if rule.min is not None:
            out.row(
                f"{kind}_min",
                subject,
                ">=",
                rule.min,
                coefs,
                f"the {what} floor ({money(rule.min)})",
            )
        if rule.max is not None:
            out.row(
                f"{kind}_max", subject, "<=", rule.max, coefs, f"the {what} cap ({money(rule.max)})"
            )
        for share, sense, tag, word in (
            (rule.min_share, ">=", "min_share", "floor"),
            (rule.max_share, "<=", "max_share", "cap"),
        ):
            if share is None:
                continue
            c = {i: -share * w.get(i, 1.0) for i in all_items}
            for i in members:
                c[i] = c.get(i, 0.0) + w.get(i, 1.0)
            out.row(
                f"{kind}_{tag}",
                subject,
                sense,
                0.0,
                c,
                f"the {what} share {word} ({share_exact(share)} of {of})",
                value=share,
                base={i: w.get(i, 1.0) for i in all_items},
            )

    def unit_of(self, row: LinearConstraint) -> str:
        return "share" if row.kind.endswith("_share") else "money"

    def relax(
        self, sc: Scenario, row: LinearConstraint, step: float, direction: str
    ) -> Scenario | None:
        sign = 1.0 if direction == "raise" else -1.0
        key = row.kind[len(self.prefix) + 1 :]
        table = dict(getattr(sc, self.section))
        rule = table.get(row.subject)
        if rule is None:  # a rule scoped to a market (subject "awareness@north")
            return None
        new = getattr(rule, key) + sign * step
        new = min(max(new, 0.0), 1.0) if key.endswith("share") else max(new, 0.0)
        table[row.subject] = replace_rule(rule, key, new)
        return sc.model_copy(update={self.section: table})

    def per_unit(self, row: LinearConstraint, shadow: float, spend: Sequence[float]) -> float:
        if self.unit_of(row) == "share":
            if row.base is not None:
                return shadow * row.base_lhs(spend)
            return shadow * float(sum(spend))  # d objective / d share (a fraction)
        return shadow

    def amount(self, row: LinearConstraint, spend: Sequence[float]) -> float:
        if self.unit_of(row) == "share":
            return float(row.value or 0.0) * _members_and_total(row, spend)[1]
        return abs(row.rhs)

    def step_to_hold(
        self, row: LinearConstraint, spend: Sequence[float], lhs: float
    ) -> tuple[str, float] | None:
        if self.unit_of(row) != "share":
            return super().step_to_hold(row, spend, lhs)
        members, total = _members_and_total(row, spend)
        share = float(row.value or 0.0)
        held = members / total if total > 0 else (1.0 if row.sense == "<=" else 0.0)
        if row.sense == ">=" and held < share:
            return "lower", share - held
        if row.sense == "<=" and held > share:
            return "raise", held - share
        return None

    def binding_word(self, row: LinearConstraint, coef: float) -> str | None:
        if self.unit_of(row) == "share" and coef < 0:
            return None  # a share rule touches every line item; name it only on its members
        return row.name
