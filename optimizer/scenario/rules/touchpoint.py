"""A touchpoint's own minimum, maximum and lock (committed spend): rows ``tp_min``, ``tp_max``,
``tp_lock`` over the touchpoint's line items (every period or market of it)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import field_validator, model_validator

from optimizer.scenario.fields import Money, Strict, check_cents, check_money, suggest
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


class BoundsFields(Strict):
    """``touchpoints.ID``: ``min``, ``max``, ``lock`` (totals over the horizon)."""

    min: Money | None = None
    max: Money | None = None
    lock: Money | None = None

    @field_validator("min", "max", "lock", mode="before")
    @classmethod
    def _bounds_money(cls, v: Any, info: Any) -> Any:
        if info.field_name == "lock":
            return check_cents(v, "a lock")
        return check_money(v, f"'{info.field_name}'")

    @model_validator(mode="after")
    def _bounds_consistent(self) -> BoundsFields:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min:,.0f}) is above max ({self.max:,.0f})")
        if self.lock is not None and (self.min is not None or self.max is not None):
            raise ValueError("a locked touchpoint cannot also have min or max")
        return self


_WORDS = {"tp_min": "minimum", "tp_max": "maximum", "tp_lock": "lock"}
_SENSE = {"tp_min": ">=", "tp_max": "<=", "tp_lock": "=="}


class TouchpointBounds(RuleKind):
    row_kinds = ("tp_lock", "tp_min", "tp_max")
    binding_words: ClassVar[dict[str, str]] = {"tp_min": "min", "tp_max": "max", "tp_lock": "lock"}

    def check(self, sc: Scenario, model: ModelNames | None) -> list[str]:
        if model is None:
            return []
        ids = model.touchpoints
        return [
            f"field 'touchpoints.{tid}': unknown touchpoint '{tid}'{suggest(tid, ids)}"
            for tid in sc.touchpoints
            if tid not in model.touchpoint_stages
        ]

    def add_rows(self, sc: Scenario, items: LineItems, out: RowSink) -> None:
        for tid, rule in sc.touchpoints.items():
            members = items.touchpoint(tid)
            for kind in self.row_kinds:  # lock, min, max: the order of the names today
                v = getattr(rule, kind[3:])
                if v is None:
                    continue
                out.row(
                    kind,
                    tid,
                    _SENSE[kind],
                    v,
                    {i: 1.0 for i in members},
                    f"the {tid} {_WORDS[kind]} ({money(v)})",
                    item_floor=kind != "tp_max",
                )

    def relax(
        self, sc: Scenario, row: LinearConstraint, step: float, direction: str
    ) -> Scenario | None:
        sign = 1.0 if direction == "raise" else -1.0
        rule = sc.touchpoints.get(row.subject)
        if rule is None:  # a rule scoped to a market (subject "tv@north")
            return None
        key = row.kind[3:]
        data = rule.model_dump()
        data[key] = max(float(data[key]) + sign * step, 0.0)
        if key == "min" and data.get("max") is not None and data["max"] < data["min"]:
            data["max"] = data["min"]
        if key == "max" and data.get("min") is not None and data["min"] > data["max"]:
            data["min"] = data["max"]
        if key == "max" and data.get("min_if_funded") is not None:
            data["min_if_funded"] = min(data["min_if_funded"], data["max"])
        return sc.with_touchpoint_rule(row.subject, type(rule)(**data))
