"""The scenario schema (contract 4), ``extends:`` inheritance and validation with located errors.

A scenario is a what-if constraint set. Every money amount is a total over the plan's horizon.
Validation reports every problem at once, each with its location and, for a misspelt key, a
"did you mean …?".
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from optimizer.calendar import PHASINGS, Calendar, parse_date
from optimizer.errors import ScenarioError
from optimizer.io.files import load_yaml, short_repr
from optimizer.scenario.fields import Strict, check_money, suggest
from optimizer.scenario.rules import (
    Budget,
    CarryOver,
    ChangeLimit,
    GroupRule,
    MarketRule,
    ModelNames,
    PeriodRule,
    RatioRule,
    ShareRule,
    TouchpointRule,
    scenario_problems,
)
from optimizer.scenario.rules.periods import period_labels
from optimizer.vocabulary import MAX_BUDGETS, MAX_KPI, MAX_MONEY, OBJECTIVES

Money = float


def _check_split(v: Any) -> Any:
    """A national buy's split: the name of a key of the markets index (e.g. population), or a
    mapping market → weight (normalised to sum to 1)."""
    if isinstance(v, str):
        if not v.strip():
            raise ValueError("expected a key of the markets index (e.g. population) or weights")
        return v
    if not isinstance(v, Mapping) or not v:
        raise ValueError(
            f"expected a key of the markets index (e.g. population) or a mapping market → weight, "
            f"got {short_repr(v)}"
        )
    out = {}
    for m, w in v.items():
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not math.isfinite(w) or w < 0:
            raise ValueError(
                f"the weight of market '{m}' must be a number >= 0, got {short_repr(w)}"
            )
        out[str(m)] = float(w)
    if sum(out.values()) <= 0:
        raise ValueError("the weights must not all be zero")
    return out


def budget_grid(spec: Any) -> list[float]:
    """Budgets from ``"START:STOP:N"`` (N evenly spaced, both ends included) or a list of amounts.

    Raises ``ValueError`` with a message for a person on anything else.
    """
    if isinstance(spec, (list, tuple)):
        if not spec:
            raise ValueError("expected at least one budget, got an empty list")
        return [float(check_money(v, "a budget")) for v in spec]
    parts = str(spec).split(":") if isinstance(spec, str) else []
    try:
        if len(parts) != 3:
            raise ValueError
        start, stop, n = float(parts[0]), float(parts[1]), int(parts[2])
    except ValueError:
        raise ValueError(
            f"expected START:STOP:N (e.g. 500000:2000000:16) or a list of budgets, got {short_repr(spec)}"
        ) from None
    if not (math.isfinite(start) and math.isfinite(stop)) or n < 1 or start < 0 or stop < start:
        raise ValueError(f"need finite 0 <= START <= STOP and N >= 1, got {short_repr(spec)}")
    if stop > MAX_MONEY or n > MAX_BUDGETS:
        raise ValueError(
            f"need STOP <= {MAX_MONEY:,.0f} and N <= {MAX_BUDGETS:,}, got {short_repr(spec)}"
        )
    if n == 1:
        return [start]
    return [start + (stop - start) * k / (n - 1) for k in range(n)]


class SweepSpec(Strict):
    """A budget sweep declared in the scenario: ``budgets: "START:STOP:N"`` or a list."""

    budgets: str | list[float]

    @field_validator("budgets", mode="before")
    @classmethod
    def _grid(cls, v: Any) -> Any:
        budget_grid(v)
        return v

    @property
    def amounts(self) -> list[float]:
        return budget_grid(self.budgets)


#: keys a variant or a grid may not set: they describe the file, not a plan
NOT_IN_VARIANTS = ("extends", "variants", "grid", "sweep", "source")
MAX_GRID = 1000


class Scenario(Strict):
    """A validated scenario. ``model`` is an absolute path once loaded from a file."""

    name: str
    description: str | None = None
    model: str
    horizon_weeks: int = Field(default=13, gt=0, le=520)
    budget: Budget | None = None
    objective: Literal["max_kpi", "min_spend", "max_net", "max_value"] = "max_kpi"
    kpi_target: float | None = Field(default=None, ge=0, le=MAX_KPI)
    value_per_kpi: float | None = Field(default=None, ge=0, le=MAX_KPI)
    hurdle_rate: float = Field(default=0.0, ge=0, le=100)
    touchpoints: dict[str, TouchpointRule] = Field(default_factory=dict)
    stages: dict[str, ShareRule] = Field(default_factory=dict)
    groups: dict[str, GroupRule] = Field(default_factory=dict)
    ratios: dict[str, RatioRule] = Field(default_factory=dict)
    markets: dict[str, MarketRule] = Field(
        default_factory=dict
    )  # with a markets index (contract 8)
    #: touchpoints bought once nationally, delivered in every market by a fixed split
    national: dict[str, str | dict[str, float]] = Field(default_factory=dict)
    owners: dict[str, ShareRule] = Field(default_factory=dict)  # the journey's budget owners
    models: dict[str, str] = Field(default_factory=dict)  # other KPIs' model files, by KPI id
    kpi_floors: dict[str, float] = Field(
        default_factory=dict
    )  # KPI id → least total over the horizon
    kpi_values: dict[str, float] = Field(default_factory=dict)  # KPI id → money per unit
    previous: dict[str, float] | None = None  # last cycle's spend per line item (horizon totals)
    change_limit: ChangeLimit | None = None  # applies to every line item with a previous spend
    sweep: SweepSpec | None = None  # budgets to sweep (budgetopt sweep FILE, compare FILE)
    variants: dict[str, dict[str, Any]] = Field(default_factory=dict)  # name → overrides
    grid: dict[str, list[Any]] = Field(
        default_factory=dict
    )  # dotted key → values (all combinations)
    #: contract 7, plans on a calendar: the first Monday, decisions per period, carry-over in and
    #: out, rules on a period's spend, and the annual rate that discounts later weeks' KPI
    start: dt.date | None = None
    phasing: Literal["none", "week", "month", "quarter"] = "none"
    carryover: CarryOver | None = None
    periods: dict[str, PeriodRule] = Field(default_factory=dict)
    per_period: PeriodRule | None = None
    discount_rate: float = 0.0  # a year's rate, a fraction in [0, 1): _discount_rate
    #: planning units (rules/units.py): every line item zero or at least ``min_line_item``, and a
    #: whole multiple of ``round_to``; honoured by the solver
    min_line_item: float | None = None
    round_to: float | None = None
    source: str | None = None
    extends: str | None = None

    @field_validator("start", mode="before")
    @classmethod
    def _start(cls, v: Any) -> Any:
        if v is None:
            return v
        d = parse_date(v)  # ValueError with the reason: the field's located message
        if d.weekday() != 0:
            raise ValueError(
                f"the plan starts on a Monday (weeks run Monday..Sunday); {d.isoformat()} is a "
                f"{d.strftime('%A')}"
            )
        return d

    @field_validator("discount_rate", mode="before")
    @classmethod
    def _discount_rate(cls, v: Any) -> Any:
        """A year's rate as a fraction: 0.08 is 8%. One of 1 or more (100% a year) is far more
        likely a percentage written as a number (8 for 8%) than a rate that halves next year's
        KPI, so it is refused rather than planned on."""
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ValueError(f"expected an annual rate (0.08 for 8%), got {short_repr(v)}")
        if not 0 <= v < 1:
            said = f"{v * 100:g}% a year; {v:g}% is {v / 100:g}" if v >= 1 else "0.08 for 8%"
            raise ValueError(
                "must be an annual rate as a fraction, at least 0 and below 1, got "
                f"{short_repr(v)} ({said})"
            )
        return float(v)

    @field_validator("phasing", mode="before")
    @classmethod
    def _phasing(cls, v: Any) -> Any:
        if v not in PHASINGS:
            raise ValueError(
                f"unknown phasing {short_repr(v)}{suggest(str(v), PHASINGS)}; choose one of "
                f"{', '.join(PHASINGS)}"
            )
        return v

    @property
    def calendar(self) -> Calendar | None:
        """The plan's calendar when it is dated (``start``), else None."""
        if self.start is None:
            return None
        return Calendar(self.start, self.horizon_weeks, self.phasing)

    @property
    def is_phased(self) -> bool:
        """Dated and decided per period (contract 7): the response runs week by week."""
        return self.start is not None and self.phasing != "none"

    @field_validator("periods", mode="before")
    @classmethod
    def _period_labels(cls, v: Any) -> Any:
        return period_labels(v)

    @field_validator("min_line_item", "round_to", mode="before")
    @classmethod
    def _units(cls, v: Any) -> Any:
        return check_money(v, "a planning unit")

    @field_validator("budget", mode="before")
    @classmethod
    def _budget(cls, v: Any) -> Any:
        if v is None or isinstance(v, Mapping) or isinstance(v, Budget):
            return v
        # a bare amount is checked here, so that its error names the field the user wrote
        # ('budget', not 'budget.max')
        return {"max": check_money(v, "the budget")}

    @field_validator("national", mode="before")
    @classmethod
    def _national(cls, v: Any) -> Any:
        if not isinstance(v, Mapping):
            raise ValueError(f"expected a mapping of touchpoints to splits, got {short_repr(v)}")
        out = {}
        for k, x in v.items():
            try:
                out[k] = _check_split(x)
            except ValueError as e:  # the field is 'national': say which touchpoint's split
                raise ValueError(f"the split of '{k}': {e}") from None
        return out

    @field_validator("previous", mode="before")
    @classmethod
    def _previous(cls, v: Any) -> Any:
        if isinstance(v, Mapping):
            return {k: check_money(x, f"the previous spend of '{k}'") for k, x in v.items()}
        return v

    @field_validator("objective", mode="before")
    @classmethod
    def _objective(cls, v: Any) -> Any:
        if v not in OBJECTIVES:
            raise ValueError(f"unknown objective {short_repr(v)}{suggest(str(v), OBJECTIVES)}")
        return v

    @model_validator(mode="after")
    def _objective_needs(self) -> Scenario:
        if self.objective == "max_kpi" and self.budget is None:
            raise ValueError("objective max_kpi needs a 'budget'")
        if self.objective == "min_spend" and self.kpi_target is None:
            raise ValueError("objective min_spend needs a 'kpi_target'")
        if self.objective == "max_net" and self.value_per_kpi is None and not self.kpi_values:
            raise ValueError(
                "objective max_net needs a 'value_per_kpi' (money per unit of KPI) or 'kpi_values'"
            )
        if self.objective == "max_value" and (self.budget is None or not self.kpi_values):
            raise ValueError(
                "objective max_value needs a 'budget' and 'kpi_values' (money per unit of each KPI)"
            )
        for k, v in {**self.kpi_floors, **self.kpi_values}.items():
            if isinstance(v, bool) or not math.isfinite(float(v)) or v < 0 or v > MAX_KPI:
                raise ValueError(
                    f"the value for KPI '{k}' must be a non-negative number, got {short_repr(v)}"
                )
        return self

    @field_validator("variants", mode="before")
    @classmethod
    def _variants(cls, v: Any) -> Any:
        if not isinstance(v, Mapping):
            raise ValueError(
                f"expected a mapping of variant names to overrides, got {short_repr(v)}"
            )
        for name, over in v.items():
            if not isinstance(name, str) or not name.strip():
                raise ValueError(f"a variant needs a name, got {short_repr(name)}")
            if not isinstance(over, Mapping):
                raise ValueError(
                    f"variant '{name}': expected a mapping of overrides, got {short_repr(over)}"
                )
            bad = [k for k in over if k in NOT_IN_VARIANTS]
            if bad:
                raise ValueError(f"variant '{name}': '{bad[0]}' cannot be set in a variant")
        return v

    @field_validator("grid", mode="before")
    @classmethod
    def _grid(cls, v: Any) -> Any:
        if not isinstance(v, Mapping):
            raise ValueError(f"expected a mapping of keys to lists of values, got {short_repr(v)}")
        size = 1
        for key, values in v.items():
            head = str(key).split(".")[0]
            if head in NOT_IN_VARIANTS or head == "name":
                raise ValueError(f"'{key}' cannot be varied in a grid")
            if head not in cls.model_fields:
                raise ValueError(f"unknown key '{head}'{suggest(head, cls.model_fields)}")
            if not isinstance(values, list) or not values:
                raise ValueError(
                    f"'{key}': expected a non-empty list of values, got {short_repr(values)}"
                )
            size *= len(values)
        if size > MAX_GRID:
            raise ValueError(
                f"the grid has {size:,} combinations; at most {MAX_GRID:,} are allowed"
            )
        return v

    def with_budget(self, amount: float) -> Scenario:
        """The same scenario with another total budget (same kind: at most / exactly)."""
        kind = "exactly" if self.budget is not None and self.budget.is_exact else "max"
        # an exact budget is a whole number of cents (a sweep's START:STOP:N need not be)
        amount = float(round(amount, 2)) if kind == "exactly" else float(amount)
        return self.model_copy(update={"budget": Budget(**{kind: amount})})

    def with_touchpoint_rule(self, tid: str, rule: TouchpointRule | Mapping[str, Any]) -> Scenario:
        """The same scenario with touchpoint ``tid``'s rule replaced (a rule or its fields)."""
        tps = dict(self.touchpoints)
        tps[tid] = rule if isinstance(rule, TouchpointRule) else TouchpointRule(**rule)
        return self.model_copy(update={"touchpoints": tps})

    def with_overrides(self, overrides: Mapping[str, Any], name: str) -> Scenario:
        """A variant: this scenario with ``overrides`` merged in (as ``extends:`` merges), named
        ``name`` unless the overrides name it; declared variants, grid and sweep are not carried.

        Raises ``ScenarioError`` naming the variant and the field for an invalid result.
        """
        raw = self.model_dump(exclude={"source", "variants", "grid", "sweep"}, exclude_none=True)
        over = dict(overrides)
        here = Path(self.source).parent if self.source else Path(".")
        if isinstance(over.get("model"), str):
            over["model"] = str(_resolve(here / over["model"]))
        if isinstance(over.get("previous"), str):
            over["previous"] = read_previous(here / over["previous"], Path(self.source or "."))
        merged = _merge(raw, {"name": name, **over})
        try:
            sc = Scenario(**{**merged, "source": self.source})
            problems = scenario_problems(sc)
        except ValidationError as e:
            problems = _format_errors(e)
        if problems:
            problems = [p.replace("field '", f"field 'variants.{name}.", 1) for p in problems]
            raise ScenarioError(_problems(problems), path=self.source) from None
        return sc

    def grid_overrides(self) -> list[tuple[str, dict[str, Any]]]:
        """Every combination of the declared grid as (name, overrides), in declaration order."""
        import itertools

        keys = list(self.grid)
        if not keys:
            return []
        out = []
        for combo in itertools.product(*(self.grid[k] for k in keys)):
            over: dict[str, Any] = {}
            for key, value in zip(keys, combo, strict=True):
                node = over
                parts = key.split(".")
                for part in parts[:-1]:
                    node = node.setdefault(part, {})
                node[parts[-1]] = value
            label = ", ".join(f"{k}={_short(v)}" for k, v in zip(keys, combo, strict=True))
            out.append((label, over))
        return out


def _short(v: Any) -> str:
    """A grid value in a scenario name: 1200000 → 1.2M, 0.15 → 0.15."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return str(v)
    a = abs(float(v))
    for div, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if a >= div:
            return f"{float(v) / div:g}{suffix}"
    return f"{float(v):g}"


_FIELDS = {
    "": set(Scenario.model_fields) - {"source"},
    "touchpoints": set(TouchpointRule.model_fields),
    "stages": set(ShareRule.model_fields),
    "groups": set(GroupRule.model_fields),
    "budget": set(Budget.model_fields),
    "ratios": set(RatioRule.model_fields),
    "markets": set(MarketRule.model_fields),
    "owners": set(ShareRule.model_fields),
    "change_limit": set(ChangeLimit.model_fields),
    "sweep": set(SweepSpec.model_fields),
    "periods": set(PeriodRule.model_fields),
    "per_period": set(PeriodRule.model_fields),
    "carryover": set(CarryOver.model_fields),
}


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
            if len(loc) >= 2 and loc[-2] == "per_period" or len(loc) >= 3 and loc[-3] == "periods":
                choices = _FIELDS["periods"]
            elif section in ("budget", "change_limit", "sweep", "carryover"):
                choices = _FIELDS[section]
            elif section == "markets" and len(loc) >= 5:  # markets.M.touchpoints.T.key
                choices = _FIELDS.get(loc[2], set())
            elif len(loc) >= 3:
                choices = _FIELDS.get(section, set())
            else:
                choices = _FIELDS[""]
            msg = f"unknown key '{key}'{suggest(key, choices)}"
        elif e["type"] == "missing":
            msg = "is required but missing"
        else:
            msg = e["msg"]
            if msg.startswith("Value error, "):
                msg = msg[len("Value error, ") :]
            if (
                "input" in e
                and e["type"] not in ("value_error",)
                and not isinstance(e["input"], Mapping)
            ):
                msg += f", got {short_repr(e['input'])}"
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
    path = _resolve(path)
    if path in seen:
        chain = " → ".join(p.name for p in (*seen, path))
        raise ScenarioError(f"'extends' forms a cycle: {chain}", path=seen[0], field="extends")
    data = load_yaml(path, ScenarioError)
    if not isinstance(data, Mapping):
        raise ScenarioError(
            f"expected a mapping of scenario keys, got {type(data).__name__}", path=path
        )
    data = dict(data)
    if "model" in data and isinstance(data["model"], str):
        data["model"] = str(_resolve(path.parent / data["model"]))
    if isinstance(data.get("models"), Mapping):
        data["models"] = {
            k: str(_resolve(path.parent / v)) if isinstance(v, str) else v
            for k, v in data["models"].items()
        }
    if isinstance(data.get("previous"), str):
        data["previous"] = read_previous(path.parent / data["previous"], path)
    co = data.get("carryover")
    if isinstance(co, Mapping) and isinstance(co.get("before"), str):
        data["carryover"] = {**co, "before": str(_resolve(path.parent / co["before"]))}
    parent = data.get("extends")
    if parent is None:
        return data
    if not isinstance(parent, str):
        raise ScenarioError(
            f"expected a file name, got {short_repr(parent)}", path=path, field="extends"
        )
    parent_path = path.parent / parent
    if not parent_path.exists():
        raise ScenarioError(
            f"the scenario it extends does not exist: {short_repr(parent)}",
            path=path,
            field="extends",
        )
    base = _raw_with_extends(parent_path, (*seen, path))
    base.pop("name", None)
    base.pop("description", None)
    for key in ("variants", "grid", "sweep"):  # declared by a file for itself, not inherited
        base.pop(key, None)
    merged = _merge(base, data)
    merged["extends"] = str(_resolve(parent_path))
    return merged


def _resolve(p: Path) -> Path:
    """``p`` made absolute, symlinks resolved where they can be: a symlink loop stays as written
    (reading it then says so, with its path) instead of raising ``RuntimeError``."""
    import os

    try:
        return p.resolve()
    except (RuntimeError, OSError):
        return Path(os.path.abspath(p))


def read_previous(csv_path: Path, scenario_path: Path) -> dict[str, float]:
    """Last cycle's spend per line item from a CSV with columns ``id,spend`` (horizon totals),
    by the one reader of spend tables (``optimizer.io.spend_tables``)."""
    from optimizer.io.spend_tables import read_spend_totals

    if not csv_path.exists():
        raise ScenarioError(
            f"the previous-cycle file does not exist: {csv_path}",
            path=scenario_path,
            field="previous",
        )
    return read_spend_totals(csv_path, what="previous-cycle", error=ScenarioError)


def _problems(problems: list[str]) -> str:
    n = len(problems)
    head = "1 problem" if n == 1 else f"{n} problems"
    return f"{head}: " + "; ".join(problems)


def scenario_from_dict(data: Mapping[str, Any], source: str | None = None) -> Scenario:
    """Validate a scenario's keys (after ``extends:``); raise ``ScenarioError`` listing every
    problem with its field."""
    try:
        sc = Scenario(**{**data, "source": source})
    except ValidationError as e:
        raise ScenarioError(_problems(_format_errors(e)), path=source) from None
    except TypeError as e:
        raise ScenarioError(str(e), path=source) from None
    problems = scenario_problems(sc)
    if problems:
        raise ScenarioError(_problems(problems), path=source)
    if sc.variants or sc.grid:
        _check_variants(sc)
    return sc


def _check_variants(sc: Scenario) -> None:
    """Every declared variant and grid combination must itself be a valid scenario."""
    problems: list[str] = []
    for name, over in [*sc.variants.items(), *sc.grid_overrides()]:
        try:
            sc.with_overrides(over, str(over.get("name", name)))
        except ScenarioError as e:
            text = str(e)
            if sc.source and text.startswith(f"{sc.source}: "):
                text = text[len(sc.source) + 2 :]
            text = text.split(": ", 1)[1] if text[:1].isdigit() else text
            if name not in sc.variants:  # a grid combination: say which
                text = text.replace(f"variants.{name}.", "") + f" (grid: {name})"
            problems.append(text)
    if problems:
        n = len(problems)
        head = "1 problem" if n == 1 else f"{n} problems"
        raise ScenarioError(f"{head}: " + "; ".join(problems), path=sc.source)


def load_scenario(path: str | Path) -> Scenario:
    """Read a scenario file, apply ``extends:`` chains, validate; raise ``ScenarioError`` on problems."""
    path = Path(path)
    raw = _raw_with_extends(path)
    raw.setdefault("name", path.stem)
    return scenario_from_dict(raw, source=str(path))


def check_against_markets(
    scenario: Scenario,
    markets: Any,
    touchpoint_stages: Mapping[str, str],
    stages: Any = None,
    keys: Mapping[str, Mapping[str, float]] | None = None,
) -> None:
    """Every market a rule names must be in the index; rules scoped to a market name touchpoints,
    stages and group members of the model; a national buy's split names known markets or a key
    every market has."""
    names = list(markets)
    known = set(names)  # a rule per market looked up in a list was quadratic in the markets
    ids = list(touchpoint_stages)
    known_stages = list(stages) if stages is not None else sorted(set(touchpoint_stages.values()))
    problems = []
    for m, rule in scenario.markets.items():
        if m not in known:
            problems.append(f"field 'markets.{m}': unknown market '{m}'{suggest(m, names)}")
            continue
        for tid in rule.touchpoints:
            if tid not in touchpoint_stages:
                problems.append(
                    f"field 'markets.{m}.touchpoints.{tid}': unknown touchpoint '{tid}'"
                    f"{suggest(tid, ids)}"
                )
        for st in rule.stages:
            if st not in known_stages:
                problems.append(
                    f"field 'markets.{m}.stages.{st}': unknown stage '{st}'"
                    f"{suggest(st, known_stages)}"
                )
        for g, gr in rule.groups.items():
            for t in gr.members:
                if t not in touchpoint_stages:
                    problems.append(
                        f"field 'markets.{m}.groups.{g}.members': unknown touchpoint '{t}'"
                        f"{suggest(t, ids)}"
                    )
    for tid, split in scenario.national.items():
        if tid not in touchpoint_stages:
            problems.append(
                f"field 'national.{tid}': unknown touchpoint '{tid}'{suggest(tid, ids)}"
            )
            continue
        if isinstance(split, str):
            lacking = [m for m in names if split not in (keys or {}).get(m, {})]
            if lacking:
                have = sorted({k for m in names for k in (keys or {}).get(m, {})})
                problems.append(
                    f"field 'national.{tid}': the markets index gives no '{split}' for market(s) "
                    f"{', '.join(repr(m) for m in lacking[:5])}{suggest(split, have)}"
                )
        else:
            for m in split:
                if m not in known:
                    problems.append(
                        f"field 'national.{tid}.{m}': unknown market '{m}'{suggest(m, names)}"
                    )
            if not any(split.get(m, 0.0) > 0 for m in names):
                problems.append(f"field 'national.{tid}': no market gets any of it")
    if problems:
        n = len(problems)
        head = "1 problem" if n == 1 else f"{n} problems"
        raise ScenarioError(f"{head}: " + "; ".join(problems), path=scenario.source)


def check_against_model(
    scenario: Scenario,
    touchpoint_stages: Mapping[str, str],
    stages: Any = None,
    owners_of: Mapping[str, str | None] | None = None,
) -> None:
    """Every touchpoint, stage, group member and owner the scenario names must exist in the model,
    and every rule must make sense without one (each rule kind checks its own part)."""
    names = ModelNames(
        dict(touchpoint_stages),
        tuple(stages) if stages is not None else (),
        dict(owners_of or {}),
    )
    problems = scenario_problems(scenario, names) + scenario_problems(scenario)
    if problems:
        raise ScenarioError(_problems(problems), path=scenario.source)
