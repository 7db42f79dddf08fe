"""Scenario + curves → an allocation problem over line-item spend: items, linear constraints,
objective. Solver-free: the PuLP model is built from this in ``build.py``.

Every constraint is linear in the line items' total spend ``x`` (``coefs · x  sense  rhs``) except
the KPI target, which is linear in the line items' KPI. Each has a stable name of
``[A-Za-z0-9_]`` only (``stage_max__awareness``) and a label a planner reads
("the awareness cap (500,000)").
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from optimizer.allocate.breakpoints import HorizonCurve
from optimizer.allocate.caps import CAP_MARGIN, pad_cap
from optimizer.errors import ScenarioError
from optimizer.formatting import did_you_mean
from optimizer.response.model import CurveSet
from optimizer.scenario import Scenario, check_against_model
from optimizer.scenario.rules import (
    ItemRule,
    LinearConstraint,
    LineItemRef,
    LineItems,
    build_rows,
    item_rule_amounts,
    money,
    safe_name,
)

__all__ = [
    "CAP_MARGIN",
    "AllocationProblem",
    "Item",
    "ItemRule",
    "LinearConstraint",
    "make_problem",
    "money",
    "safe_name",
]


@dataclass(frozen=True)
class Item:
    index: int
    id: str
    stage: str
    curve: HorizonCurve  # total spend over the horizon → objective units of KPI
    lo: float  # spend can never be below this (min / lock)
    hi: float  # nor above this (caps, budget): the range the pieces cover
    min_if_funded: float | None = None
    block: float | None = None  # spend is a whole number of these
    kpis: Mapping[str, HorizonCurve] = field(default_factory=dict)  # unscaled curve per KPI id
    market: str | None = None  # with a markets index: the market it is bought in
    owner: str | None = None  # who holds its budget (the journey's owner)
    #: a national buy: bought once, delivered in every market by these shares of its spend
    split: Mapping[str, float] | None = None

    @property
    def key(self) -> str:
        """The line item's name: its touchpoint, or ``touchpoint@market`` with markets
        (``touchpoint@national`` for a national buy); as ``LineItem.key``."""
        if self.market is not None:
            return f"{self.id}@{self.market}"
        return f"{self.id}@national" if self.split is not None else self.id

    def market_shares(self) -> dict[str, float]:
        """Which market gets which share of its spend (empty without markets)."""
        if self.split is not None:
            return dict(self.split)
        return {} if self.market is None else {self.market: 1.0}


@dataclass(frozen=True)
class AllocationProblem:
    scenario: Scenario
    items: tuple[Item, ...]
    constraints: tuple[LinearConstraint, ...]
    sense: str  # "max" or "min"
    kpi: str
    kpi_weight: float = 1.0  # objective units per KPI unit (value_per_kpi for max_net)
    spend_weight: float = (
        0.0  # objective cost per unit of spend (1 + hurdle for max_net; 1 for min_spend)
    )
    stages: tuple[str, ...] = field(default_factory=tuple)
    markets: tuple[str, ...] = field(default_factory=tuple)  # with a markets index, in its order
    #: rules on one line item that need an integer variable (zero-or-at-least, blocks), by name
    item_rules: tuple[ItemRule, ...] = ()

    @property
    def needs_binaries(self) -> bool:
        return any((not it.curve.concave) or it.min_if_funded or it.block for it in self.items)

    def constraint(self, name: str) -> LinearConstraint:
        for c in self.constraints:
            if c.name == name:
                return c
        raise KeyError(name)


def saturation_spend(curve: HorizonCurve) -> float:
    """Total spend at which a line item has reached 99.99% of its saturation level."""
    _lo, hi = 0.0, 1.0
    top = curve.saturation_value
    if top <= 0:
        return 0.0
    while curve.value(hi) < 0.9999 * top and hi < 1e15:
        hi *= 4.0
    return float(min(hi, 1e15))


def _refuse_second_main_model(
    scenario: Scenario, model: CurveSet, extra_models: Mapping[str, CurveSet] | None
) -> None:
    """``models:`` naming the main KPI another file than ``model:`` gives its curves twice: the
    plan was made on one and its KPI reported from the other. The same file is harmless."""
    other = (extra_models or {}).get(model.kpi)
    if other is None or other is model:
        return
    mine, theirs = getattr(model, "source", None), getattr(other, "source", None)
    if mine and theirs and Path(mine).resolve() == Path(theirs).resolve():
        return
    raise ScenarioError(
        f"names {theirs!r} for the main KPI '{model.kpi}', but the model "
        f"({mine!r}) already gives its curves: the main KPI's curves come from "
        f"'model:' alone (drop '{model.kpi}' from 'models:', or point 'model:' at that file)",
        path=scenario.source,
        field=f"models.{model.kpi}",
    )


def make_problem(
    scenario: Scenario,
    model: CurveSet,
    stages: tuple[str, ...] | None = None,
    ids: list[str] | None = None,
    extra_models: Mapping[str, CurveSet] | None = None,
) -> AllocationProblem:
    """Turn a validated scenario and a model into an ``AllocationProblem``.

    ``extra_models`` are other KPIs' models (KPI id → model), for KPI floors and weighted values;
    a touchpoint missing from one of them contributes nothing to that KPI. A ``MarketModel``
    (contract 8) makes line items touchpoint × market (``allocate.markets``).
    """
    from optimizer.response.markets import MarketModel

    if isinstance(model, MarketModel):
        from optimizer.allocate.markets import make_market_problem

        return make_market_problem(scenario, model, stages, extra_models=extra_models)
    tps = model.touchpoints
    kpi_models: dict[str, CurveSet] = {**dict(extra_models or {}), model.kpi: model}
    _refuse_second_main_model(scenario, model, extra_models)
    for k in (*scenario.kpi_floors, *scenario.kpi_values):
        if k not in kpi_models:
            raise ScenarioError(
                f"unknown KPI '{k}': the model is for '{model.kpi}'; give other KPIs' models under "
                f"'models:'{did_you_mean(k, list(kpi_models))}",
                path=scenario.source,
                field="kpi_floors" if k in scenario.kpi_floors else "kpi_values",
            )
    if scenario.markets or scenario.national:
        raise ScenarioError(
            "rules for markets need a markets index as the model (the markets.json that "
            "'budgetopt fit --by-market' writes), but this model is one market's",
            path=scenario.source,
            field="markets" if scenario.markets else "national",
        )
    check_against_model(
        scenario,
        {k: v.stage for k, v in tps.items()},
        stages,
        owners_of={k: v.owner for k, v in tps.items()},
    )
    ids = list(ids) if ids is not None else list(tps)
    index = {tid: i for i, tid in enumerate(ids)}
    H = float(scenario.horizon_weeks)
    obj = scenario.objective
    kpi_weight, spend_weight = objective_weights(scenario)
    stage_order = stage_order_of(stages, (t.stage for t in tps.values()))

    refs = [LineItemRef(index[tid], tid, tps[tid].stage, owner=tps[tid].owner) for tid in ids]
    kpi_touchpoints = {k: frozenset(m.touchpoints) for k, m in kpi_models.items()}
    items_view = LineItems(refs, kpi=model.kpi, kpi_touchpoints=kpi_touchpoints)
    cons, item_rules, lo, hi, mif, blocks = rules_and_bounds(scenario, items_view, len(ids))
    budget = scenario.budget

    values = dict(scenario.kpi_values)
    composite = obj in ("max_value", "max_net") and bool(values)
    items = []
    for tid in ids:
        i = index[tid]
        kcurves = {
            k: HorizonCurve(m.touchpoints[tid], H)
            for k, m in kpi_models.items()
            if tid in m.touchpoints
        }
        if composite:
            parts = tuple(
                (float(v), kpi_models[k].touchpoints[tid])
                for k, v in values.items()
                if tid in kpi_models[k].touchpoints and v
            )
            curve = HorizonCurve(tps[tid], H, 1.0, parts or ((0.0, tps[tid]),))
        else:
            curve = HorizonCurve(tps[tid], H, kpi_weight if obj == "max_net" else 1.0)
        top = item_top(curve, float(lo[i]), float(hi[i]), obj)
        items.append(
            Item(
                i,
                tid,
                tps[tid].stage,
                curve,
                float(lo[i]),
                float(top),
                mif.get(i),
                blocks.get(i),
                kcurves,
                owner=tps[tid].owner,
            )
        )
    if budget is None and obj == "max_kpi":  # pragma: no cover - guarded by the schema
        raise ScenarioError(
            "objective max_kpi needs a budget", path=scenario.source, field="budget"
        )
    return AllocationProblem(
        scenario,
        tuple(items),
        tuple(cons),
        "min" if obj == "min_spend" else "max",
        model.kpi,
        kpi_weight,
        spend_weight,
        stage_order,
        item_rules=tuple(item_rules),
    )


def objective_weights(scenario: Scenario) -> tuple[float, float]:
    """(weight of the KPI, weight of a dollar) in the objective: ``max_net`` values the KPI at
    ``value_per_kpi`` and a dollar at 1 + the hurdle rate; ``min_spend`` counts dollars only."""
    if scenario.objective == "max_net":
        return float(scenario.value_per_kpi or 1.0), 1.0 + float(scenario.hurdle_rate)
    return 1.0, 1.0 if scenario.objective == "min_spend" else 0.0


def stage_order_of(stages: Sequence[str] | None, used: Iterable[str]) -> tuple[str, ...]:
    """The journey's stages in order, or (without a journey) the stages ``used`` in the
    vocabulary's order, unknown ones last in the order first seen."""
    if stages:
        return tuple(stages)
    from optimizer.vocabulary import STAGES

    seen = list(dict.fromkeys(used))
    return tuple(
        sorted(seen, key=lambda s: (STAGES.index(s) if s in STAGES else len(STAGES), seen.index(s)))
    )


def rules_and_bounds(
    scenario: Scenario, items: LineItems, n: int
) -> tuple[
    list[LinearConstraint],
    list[ItemRule],
    np.ndarray,
    np.ndarray,
    dict[int, float],
    dict[int, float],
]:
    """Every rule of the registry over the line items ``items``: the rows, the per-line-item
    (integer) rules, each line item's implied spend range, and its "zero or at least" and block
    sizes."""
    rows = build_rows(scenario, items)
    cons = rows.all_rows()
    item_rules = rows.all_item_rules()
    lo, hi = implied_bounds(n, cons, rows.all_floors())
    amounts = item_rule_amounts(item_rules)
    return cons, item_rules, lo, hi, amounts["funded"], amounts["block"]


def item_top(curve: HorizonCurve, lo: float, hi: float, objective: str) -> float:
    """The top of a line item's pieces: its implied cap (the budget caps every line item too),
    else where its curve saturates; for ``max_net`` no further than where a dollar stops earning
    its keep; never below its floor; padded a little past the cap, so that a binding cap is a
    binding row (with its shadow price) rather than a variable bound the solver reports no dual
    for."""
    top = hi if math.isfinite(hi) else saturation_spend(curve)
    if objective == "max_net":
        top = min(top, max(saturation_spend(curve), lo))
    return pad_cap(max(top, lo))


def implied_bounds(
    n: int, rows: list[LinearConstraint], floors: set[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Each line item's spend range implied by the rows: a cap on a sum of spend caps each
    member; a floor on one line item's own spend (``floors``) starts its range."""
    lo = np.zeros(n)
    hi = np.full(n, np.inf)
    for c in rows:
        if c.is_money_cap:
            for i in c.coefs:
                hi[i] = min(hi[i], c.rhs)
        if c.name in floors:
            (i,) = c.coefs
            lo[i] = max(lo[i], c.rhs)
    return lo, hi
