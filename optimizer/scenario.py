"""Scenario files (contract 4): schema, ``extends:`` inheritance and validation with located errors.

A scenario is a what-if constraint set. Every money amount is a total over the plan's horizon.
Validation reports every problem at once, each with its location and, for a misspelt key, a
"did you mean …?".
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from optimizer.data import load_yaml
from optimizer.errors import ScenarioError
from optimizer.vocabulary import OBJECTIVES

Money = float


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_money(v: Any, what: str) -> Any:
    if v is None:
        return v
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ValueError(f"{what} must be an amount of money, got {v!r}")
    if not math.isfinite(float(v)):
        raise ValueError(f"{what} must be finite, got {v!r}")
    if v < 0:
        raise ValueError(f"{what} must not be negative, got {v!r}")
    return float(v)


def _check_share(v: Any) -> Any:
    if v is None:
        return v
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 1:
        raise ValueError(f"a share must be a fraction between 0 and 1, got {v!r}")
    return float(v)


class Budget(_Strict):
    """Total budget for the horizon: at most ``max``, or ``exactly``."""

    max: Money | None = None
    exactly: Money | None = None

    @field_validator("max", "exactly", mode="before")
    @classmethod
    def _money(cls, v: Any) -> Any:
        return _check_money(v, "the budget")

    @model_validator(mode="after")
    def _one(self) -> Budget:
        if (self.max is None) == (self.exactly is None):
            raise ValueError("give the budget as a number, or as exactly one of {max: …} / {exactly: …}")
        return self

    @property
    def amount(self) -> float:
        return float(self.max if self.max is not None else self.exactly)  # type: ignore[arg-type]

    @property
    def is_exact(self) -> bool:
        return self.exactly is not None


class TouchpointRule(_Strict):
    min: Money | None = None
    max: Money | None = None
    lock: Money | None = None
    min_if_funded: Money | None = None
    block: Money | None = None  # sold in units of this much: spend is a whole number of blocks
    change_pct: float | None = Field(default=None, ge=0)  # at most ± this fraction of last cycle
    change_money: Money | None = None  # at most ± this much money against last cycle

    @field_validator("min", "max", "lock", "min_if_funded", "block", "change_money", mode="before")
    @classmethod
    def _money(cls, v: Any, info: Any) -> Any:
        return _check_money(v, f"'{info.field_name}'")

    @model_validator(mode="after")
    def _consistent(self) -> TouchpointRule:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min:,.0f}) is above max ({self.max:,.0f})")
        if self.lock is not None and (self.min is not None or self.max is not None):
            raise ValueError("a locked touchpoint cannot also have min or max")
        if (self.min_if_funded is not None and self.max is not None
                and self.min_if_funded > self.max):
            raise ValueError(
                f"min_if_funded ({self.min_if_funded:,.0f}) is above max ({self.max:,.0f})")
        return self


class ShareRule(_Strict):
    """Floors and caps on a stage or group: money and shares of the plan's total spend."""

    min: Money | None = None
    max: Money | None = None
    min_share: float | None = None
    max_share: float | None = None

    @field_validator("min", "max", mode="before")
    @classmethod
    def _money(cls, v: Any, info: Any) -> Any:
        return _check_money(v, f"'{info.field_name}'")

    @field_validator("min_share", "max_share", mode="before")
    @classmethod
    def _share(cls, v: Any) -> Any:
        return _check_share(v)

    @model_validator(mode="after")
    def _consistent(self) -> ShareRule:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min:,.0f}) is above max ({self.max:,.0f})")
        if (self.min_share is not None and self.max_share is not None
                and self.min_share > self.max_share):
            raise ValueError(f"min_share ({self.min_share}) is above max_share ({self.max_share})")
        return self


class GroupRule(ShareRule):
    members: tuple[str, ...] = Field(min_length=1)


class RatioRule(_Strict):
    """``numerator`` spend between ``min`` and ``max`` times ``denominator`` spend; each side names a
    touchpoint, a stage or a group."""

    numerator: str
    denominator: str
    min: float | None = Field(default=None, ge=0)
    max: float | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _consistent(self) -> RatioRule:
        if self.min is None and self.max is None:
            raise ValueError("give a 'min' and/or a 'max' ratio")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is above max ({self.max})")
        return self


class ChangeLimit(_Strict):
    """How far each line item may move against last cycle: ± a fraction and/or ± money."""

    pct: float | None = Field(default=None, ge=0)
    money: Money | None = None

    @field_validator("money", mode="before")
    @classmethod
    def _money(cls, v: Any) -> Any:
        return _check_money(v, "'money'")


class Scenario(_Strict):
    """A validated scenario. ``model`` is an absolute path once loaded from a file."""

    name: str
    description: str | None = None
    model: str
    horizon_weeks: int = Field(default=13, gt=0, le=520)
    budget: Budget | None = None
    objective: Literal["max_kpi", "min_spend", "max_net"] = "max_kpi"
    kpi_target: float | None = Field(default=None, ge=0)
    value_per_kpi: float | None = Field(default=None, ge=0)
    hurdle_rate: float = Field(default=0.0, ge=0)
    touchpoints: dict[str, TouchpointRule] = Field(default_factory=dict)
    stages: dict[str, ShareRule] = Field(default_factory=dict)
    groups: dict[str, GroupRule] = Field(default_factory=dict)
    ratios: dict[str, RatioRule] = Field(default_factory=dict)
    previous: dict[str, float] | None = None  # last cycle's spend per line item (horizon totals)
    change_limit: ChangeLimit | None = None  # applies to every line item with a previous spend
    source: str | None = None
    extends: str | None = None

    @field_validator("budget", mode="before")
    @classmethod
    def _budget(cls, v: Any) -> Any:
        if v is None or isinstance(v, Mapping) or isinstance(v, Budget):
            return v
        return {"max": v}

    @field_validator("objective", mode="before")
    @classmethod
    def _objective(cls, v: Any) -> Any:
        if v not in OBJECTIVES:
            raise ValueError(f"unknown objective {v!r}{_suggest(str(v), OBJECTIVES)}")
        return v

    @model_validator(mode="after")
    def _objective_needs(self) -> Scenario:
        if self.objective == "max_kpi" and self.budget is None:
            raise ValueError("objective max_kpi needs a 'budget'")
        if self.objective == "min_spend" and self.kpi_target is None:
            raise ValueError("objective min_spend needs a 'kpi_target'")
        if self.objective == "max_net" and self.value_per_kpi is None:
            raise ValueError("objective max_net needs a 'value_per_kpi' (money per unit of KPI)")
        return self

    def with_budget(self, amount: float) -> Scenario:
        """The same scenario with another total budget (same kind: at most / exactly)."""
        kind = "exactly" if self.budget is not None and self.budget.is_exact else "max"
        return self.model_copy(update={"budget": Budget(**{kind: float(amount)})})


_FIELDS = {
    "": set(Scenario.model_fields) - {"source"},
    "touchpoints": set(TouchpointRule.model_fields),
    "stages": set(ShareRule.model_fields),
    "groups": set(GroupRule.model_fields),
    "budget": set(Budget.model_fields),
    "ratios": set(RatioRule.model_fields),
    "change_limit": set(ChangeLimit.model_fields),
}


def _suggest(word: str, choices: Any) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _format_errors(err: ValidationError) -> list[str]:
    problems = []
    for e in err.errors():
        loc = [str(p) for p in e["loc"]]
        # drop pydantic's union/type tags from the location
        loc = [p for p in loc if not p.startswith(("function-", "float", "int", "Budget", "none"))]
        where = ".".join(loc) or "(top level)"
        if e["type"] == "extra_forbidden":
            key = loc[-1]
            section = loc[0] if len(loc) > 1 else ""
            if section in ("budget", "change_limit"):
                choices = _FIELDS[section]
            elif len(loc) >= 3:
                choices = _FIELDS.get(section, set())
            else:
                choices = _FIELDS[""]
            msg = f"unknown key '{key}'{_suggest(key, choices)}"
        elif e["type"] == "missing":
            msg = "is required but missing"
        else:
            msg = e["msg"]
            if msg.startswith("Value error, "):
                msg = msg[len("Value error, "):]
            if "input" in e and e["type"] not in ("value_error",) and not isinstance(e["input"], Mapping):
                msg += f", got {e['input']!r}"
        problems.append(f"field '{where}': {msg}")
    return problems


def _merge(base: Mapping[str, Any], child: Mapping[str, Any]) -> dict[str, Any]:
    """Child overrides base; mappings merge key by key (a rule replaces the base rule's keys it names)."""
    out = dict(base)
    for k, v in child.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping) and k != "budget":
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


def _raw_with_extends(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    path = path.resolve()
    if path in seen:
        chain = " → ".join(p.name for p in (*seen, path))
        raise ScenarioError(f"'extends' forms a cycle: {chain}", path=seen[0], field="extends")
    data = load_yaml(path, ScenarioError)
    if not isinstance(data, Mapping):
        raise ScenarioError(f"expected a mapping of scenario keys, got {type(data).__name__}",
                            path=path)
    data = dict(data)
    if "model" in data and isinstance(data["model"], str):
        data["model"] = str((path.parent / data["model"]).resolve())
    if isinstance(data.get("previous"), str):
        data["previous"] = read_previous(path.parent / data["previous"], path)
    parent = data.get("extends")
    if parent is None:
        return data
    if not isinstance(parent, str):
        raise ScenarioError(f"expected a file name, got {parent!r}", path=path, field="extends")
    parent_path = path.parent / parent
    if not parent_path.exists():
        raise ScenarioError(f"the scenario it extends does not exist: {parent!r}", path=path,
                            field="extends")
    base = _raw_with_extends(parent_path, (*seen, path))
    base.pop("name", None)
    base.pop("description", None)
    merged = _merge(base, data)
    merged["extends"] = str(parent_path.resolve())
    return merged


def read_previous(csv_path: Path, scenario_path: Path) -> dict[str, float]:
    """Last cycle's spend per line item from a CSV with columns ``id,spend`` (horizon totals)."""
    import pandas as pd

    if not csv_path.exists():
        raise ScenarioError(f"the previous-cycle file does not exist: {csv_path}", path=scenario_path,
                            field="previous")
    try:
        df = pd.read_csv(csv_path)
    except Exception as e:  # noqa: BLE001 - any parse failure is the user's file
        raise ScenarioError(f"cannot be read as CSV: {str(e).splitlines()[0]}", path=csv_path) from None
    for col in ("id", "spend"):
        if col not in df.columns:
            raise ScenarioError(f"needs columns 'id' and 'spend'; it has {', '.join(map(str, df.columns))}",
                                path=csv_path, field=col)
    out: dict[str, float] = {}
    for i, (tid, v) in enumerate(zip(df["id"], df["spend"], strict=True)):
        try:
            f = float(v)
        except (TypeError, ValueError):
            f = float("nan")
        if not math.isfinite(f) or f < 0:
            raise ScenarioError(f"spend must be a non-negative number, got {v!r} in row {i + 2}",
                                path=csv_path, field="spend")
        out[str(tid)] = f
    return out


def scenario_from_dict(data: Mapping[str, Any], source: str | None = None) -> Scenario:
    try:
        return Scenario(**{**data, "source": source})
    except ValidationError as e:
        problems = _format_errors(e)
        n = len(problems)
        head = "1 problem" if n == 1 else f"{n} problems"
        raise ScenarioError(f"{head}: " + "; ".join(problems), path=source) from None
    except TypeError as e:
        raise ScenarioError(str(e), path=source) from None


def load_scenario(path: str | Path) -> Scenario:
    """Read a scenario file, apply ``extends:`` chains, validate; raise ``ScenarioError`` on problems."""
    path = Path(path)
    raw = _raw_with_extends(path)
    raw.setdefault("name", path.stem)
    return scenario_from_dict(raw, source=str(path))


def check_against_model(scenario: Scenario, touchpoint_stages: Mapping[str, str],
                        stages: Any = None) -> None:
    """Every touchpoint, stage and group member the scenario names must exist in the model."""
    ids = list(touchpoint_stages)
    known_stages = list(stages) if stages is not None else sorted(set(touchpoint_stages.values()))
    problems = []
    for tid in scenario.touchpoints:
        if tid not in touchpoint_stages:
            problems.append(f"field 'touchpoints.{tid}': unknown touchpoint '{tid}'{_suggest(tid, ids)}")
    from optimizer.vocabulary import STAGES

    for st in scenario.stages:
        if st not in known_stages:
            valid = set(known_stages) | set(STAGES)
            problems.append(f"field 'stages.{st}': unknown stage '{st}'{_suggest(st, valid)}")
    for g, rule in scenario.groups.items():
        for m in rule.members:
            if m not in touchpoint_stages:
                problems.append(
                    f"field 'groups.{g}.members': unknown touchpoint '{m}'{_suggest(m, ids)}")
    names = set(ids) | set(known_stages) | set(scenario.groups)
    for r, rule in scenario.ratios.items():
        for side in ("numerator", "denominator"):
            v = getattr(rule, side)
            if v not in names:
                problems.append(f"field 'ratios.{r}.{side}': '{v}' is not a touchpoint, stage or "
                                f"group{_suggest(v, names)}")
    for tid in scenario.previous or {}:
        if tid not in touchpoint_stages:
            problems.append(f"field 'previous.{tid}': unknown touchpoint '{tid}'{_suggest(tid, ids)}")
    if problems:
        n = len(problems)
        head = "1 problem" if n == 1 else f"{n} problems"
        raise ScenarioError(f"{head}: " + "; ".join(problems), path=scenario.source)
