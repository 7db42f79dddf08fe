"""Ratio rules: ``ratios: {brand_vs_perf: {numerator: tv, denominator: search, min: 0.5}}``.

``numerator`` spend between ``min`` and ``max`` times ``denominator`` spend; each side names a
touchpoint, a stage or a group. Rows ``ratio_min`` / ``ratio_max``: ``Σ num - r · Σ den ≥/≤ 0``
(``value`` is r).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from pydantic import Field, model_validator

from optimizer.scenario.fields import Strict, suggest
from optimizer.scenario.rules.base import LinearConstraint, LineItems, ModelNames, RowSink, RuleKind

if TYPE_CHECKING:
    from optimizer.scenario.schema import Scenario


class RatioRule(Strict):
    """``numerator`` spend between ``min`` and ``max`` times ``denominator`` spend; each side names a
    touchpoint, a stage or a group."""

    numerator: str
    denominator: str
    min: float | None = Field(default=None, ge=0, le=1e6)
    max: float | None = Field(default=None, ge=0, le=1e6)

    @model_validator(mode="after")
    def _consistent(self) -> RatioRule:
        if self.min is None and self.max is None:
            raise ValueError("give a 'min' and/or a 'max' ratio")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is above max ({self.max})")
        return self


def _denominator_spend(row: LinearConstraint, spend: Sequence[float]) -> float:
    """The denominator's spend in a ratio row (its ``base``; in a row without one, its members
    have coefficient ``-r`` or ``1 - r``)."""
    if row.base is not None:
        return row.base_lhs(spend)
    return float(sum(float(spend[i]) for i, a in row.coefs.items() if abs(a - 1.0) > 1e-12))


class RatioRules(RuleKind):
    row_kinds = ("ratio_min", "ratio_max")
    unit = "ratio"

    def check(self, sc: Scenario, model: ModelNames | None) -> list[str]:
        if model is None:
            return []
        stages = model.stages or tuple(set(model.touchpoint_stages.values()))
        names = set(model.touchpoints) | set(stages) | set(sc.groups)
        return [
            f"field 'ratios.{r}.{side}': '{getattr(rule, side)}' is not a touchpoint, stage or "
            f"group{suggest(getattr(rule, side), names)}"
            for r, rule in sc.ratios.items()
            for side in ("numerator", "denominator")
            if getattr(rule, side) not in names
        ]

    @staticmethod
    def members(sc: Scenario, items: LineItems, name: str) -> tuple[int, ...]:
        """A ratio side's line items: a touchpoint's, a group's members' or a stage's."""
        own = items.touchpoint(name)
        if own:
            return own
        if name in sc.groups:
            return items.touchpoints(sc.groups[name].members)
        return items.stage(name)

    def add_rows(self, sc: Scenario, items: LineItems, out: RowSink) -> None:
        for r, rule in sc.ratios.items():
            num = self.members(sc, items, rule.numerator)
            den = self.members(sc, items, rule.denominator)
            for bound, sense, tag in ((rule.min, ">=", "min"), (rule.max, "<=", "max")):
                if bound is None:
                    continue
                c: dict[int, float] = {}
                for i in num:
                    c[i] = c.get(i, 0.0) + 1.0
                for i in den:
                    c[i] = c.get(i, 0.0) - bound
                word = "at least" if sense == ">=" else "at most"
                out.row(
                    f"ratio_{tag}",
                    r,
                    sense,
                    0.0,
                    c,
                    f"the ratio rule '{r}' ({rule.numerator} {word} {bound:g} × "
                    f"{rule.denominator})",
                    value=bound,
                    base=dict.fromkeys(den, 1.0),
                )

    def relax(
        self, sc: Scenario, row: LinearConstraint, step: float, direction: str
    ) -> Scenario | None:
        sign = 1.0 if direction == "raise" else -1.0
        ratios = dict(sc.ratios)
        data = ratios[row.subject].model_dump()
        key = row.kind[len("ratio_") :]
        data[key] = max(float(data[key]) + sign * step, 0.0)
        if (
            data.get("min") is not None
            and data.get("max") is not None
            and data["min"] > data["max"]
        ):
            return None
        ratios[row.subject] = type(sc.ratios[row.subject])(**data)
        return sc.model_copy(update={"ratios": ratios})

    def per_unit(self, row: LinearConstraint, shadow: float, spend: Sequence[float]) -> float:
        # num - r den (sense) 0: moving r by d moves the right-hand side by d × den spend
        return shadow * _denominator_spend(row, spend)

    def amount(self, row: LinearConstraint, spend: Sequence[float]) -> float:
        return float(row.value or 0.0) * _denominator_spend(row, spend)

    def step_to_hold(
        self, row: LinearConstraint, spend: Sequence[float], lhs: float
    ) -> tuple[str, float] | None:
        den = _denominator_spend(row, spend)
        r = float(row.value or 0.0)
        if den <= 0:
            return None if lhs >= 0 or row.sense == ">=" else None
        held = (lhs + r * den) / den  # numerator / denominator at spend
        if row.sense == ">=" and held < r:
            return "lower", r - held
        if row.sense == "<=" and held > r:
            return "raise", held - r
        return None
