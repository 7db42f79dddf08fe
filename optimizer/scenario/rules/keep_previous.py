"""At least last cycle's amount: ``touchpoints: {email: {keep_previous: true}}``.

The touchpoint keeps at least what it had last cycle (its spend in ``previous``), or at least a
fraction of it (``keep_previous: 0.9``; ``true`` means 1). A row ``keep_previous``:
``Σ touchpoint's line items ≥ fraction × previous``. It needs ``previous`` with the touchpoint.

This kind is the worked example of docs/rules.md: its schema, rows, relaxation and words are all
here; ``rules/__init__.py`` lists it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import field_validator

from optimizer.formatting import share_exact
from optimizer.io.files import short_repr
from optimizer.scenario.fields import Strict
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


class KeepPreviousFields(Strict):
    """``touchpoints.ID.keep_previous``: ``true`` (= 1) or a fraction of last cycle's spend."""

    keep_previous: float | None = None

    @field_validator("keep_previous", mode="before")
    @classmethod
    def _fraction(cls, v: Any) -> Any:
        if v is None or v is False:
            return None
        if v is True:
            return 1.0
        if not isinstance(v, (int, float)) or not 0 <= v <= 10:
            raise ValueError(
                f"'keep_previous' must be true or a fraction of last cycle's spend (0 to 10), "
                f"got {short_repr(v)}"
            )
        return float(v)


class KeepPrevious(RuleKind):
    row_kinds = ("keep_previous",)
    binding_words: ClassVar[dict[str, str]] = {"keep_previous": "keep_previous"}

    def check(self, sc: Scenario, model: ModelNames | None) -> list[str]:
        if model is not None:
            return []
        problems = []
        for tid, rule in sc.touchpoints.items():
            if rule.keep_previous is None:
                continue
            if sc.previous is None:
                problems.append(
                    f"field 'touchpoints.{tid}.keep_previous': needs last cycle's spend: give "
                    "'previous'"
                )
            elif tid not in sc.previous:
                problems.append(
                    f"field 'touchpoints.{tid}.keep_previous': 'previous' has no spend for '{tid}'"
                )
        return problems

    def add_rows(self, sc: Scenario, items: LineItems, out: RowSink) -> None:
        prev = sc.previous or {}
        for tid, rule in sc.touchpoints.items():
            frac = rule.keep_previous
            if frac is None or tid not in prev or prev[tid] * frac <= 0:
                continue
            floor = prev[tid] * frac
            of = (
                "last cycle's spend"
                if frac == 1.0
                else f"{share_exact(frac)} of last cycle's spend"
            )
            out.row(
                "keep_previous",
                tid,
                ">=",
                floor,
                {i: 1.0 for i in items.touchpoint(tid)},
                f"the {tid} floor at {of} ({money(floor)})",
                item_floor=True,
            )

    def relax(
        self, sc: Scenario, row: LinearConstraint, step: float, direction: str
    ) -> Scenario | None:
        prev = (sc.previous or {}).get(row.subject)
        if not prev:
            return None
        sign = 1.0 if direction == "raise" else -1.0
        floor = max(row.rhs + sign * step, 0.0)
        data = sc.touchpoints[row.subject].model_dump()
        data["keep_previous"] = floor / prev
        return sc.with_touchpoint_rule(row.subject, data)
