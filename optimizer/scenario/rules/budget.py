"""The total budget: ``Σ spend <= budget`` (``{exactly: …}``: ``==``). Row kind ``budget``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import field_validator, model_validator

from optimizer.scenario.fields import Money, Strict, check_cents, check_money
from optimizer.scenario.rules.base import LinearConstraint, LineItems, RowSink, RuleKind, money

if TYPE_CHECKING:
    from optimizer.scenario.schema import Scenario


class Budget(Strict):
    """Total budget for the horizon: at most ``max``, or ``exactly``."""

    max: Money | None = None
    exactly: Money | None = None

    @field_validator("max", "exactly", mode="before")
    @classmethod
    def _money(cls, v: Any, info: Any) -> Any:
        if info.field_name == "exactly":
            return check_cents(v, "an exact budget")
        return check_money(v, "the budget")

    @model_validator(mode="after")
    def _one(self) -> Budget:
        if (self.max is None) == (self.exactly is None):
            raise ValueError(
                "give the budget as a number, or as exactly one of {max: …} / {exactly: …}"
            )
        return self

    @property
    def amount(self) -> float:
        amount = self.max if self.max is not None else self.exactly
        assert amount is not None  # _one: exactly one of max / exactly is given
        return float(amount)

    @property
    def is_exact(self) -> bool:
        return self.exactly is not None


class BudgetKind(RuleKind):
    row_kinds = ("budget",)
    costed = False  # its price is the plan's marginal ROI
    binding_words: ClassVar[dict[str, str]] = {}

    def add_rows(self, sc: Scenario, items: LineItems, out: RowSink) -> None:
        b = sc.budget
        if b is None:
            return
        out.row(
            "budget",
            "",
            "==" if b.is_exact else "<=",
            b.amount,
            {i: 1.0 for i in items.all},
            f"the budget ({money(b.amount)})",
            bare=True,
        )

    def relax(
        self, sc: Scenario, row: LinearConstraint, step: float, direction: str
    ) -> Scenario | None:
        sign = 1.0 if direction == "raise" else -1.0
        return sc.with_budget(max(row.rhs + sign * step, 0.0))

    def binding_word(self, row: LinearConstraint, coef: float) -> str | None:
        return None  # the budget binds every line item: the review says so once
