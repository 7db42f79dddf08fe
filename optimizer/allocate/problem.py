"""Scenario + curves → an allocation problem over line-item spend: items, linear constraints,
objective. Solver-free: the PuLP model is built from this in ``build.py``.

Every constraint is linear in the line items' total spend ``x`` (``coefs · x  sense  rhs``) except
the KPI target, which is linear in the line items' KPI. Each has a stable name of
``[A-Za-z0-9_]`` only (``stage_max__awareness``) and a label a planner reads
("the awareness cap (500,000)").
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from optimizer.allocate.breakpoints import HorizonCurve
from optimizer.errors import ScenarioError
from optimizer.formatting import did_you_mean
from optimizer.formatting import money as format_money
from optimizer.response.model import CurveSet
from optimizer.scenario import Scenario, check_against_model


def money(v: float) -> str:
    """Money as a rule states it: 1,234,567 (cents shown only when there are any)."""
    return format_money(v, "any")


def safe_name(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", s)


@dataclass(frozen=True)
class LinearConstraint:
    name: str
    kind: str  # budget, tp_min, tp_max, tp_lock, stage_min, stage_max, stage_min_share, ...
    subject: str  # the touchpoint, stage or group it is about ("" for the budget)
    sense: str  # "<=", ">=", "=="
    rhs: float
    coefs: Mapping[int, float]  # item index → coefficient on its spend
    label: str
    on_kpi: bool = False  # coefficients apply to line items' KPI instead of spend
    kpi: str | None = None  # which KPI, when on_kpi (None: the main KPI)


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

    @property
    def needs_binaries(self) -> bool:
        return any((not it.curve.concave) or it.min_if_funded or it.block for it in self.items)

    def constraint(self, name: str) -> LinearConstraint:
        for c in self.constraints:
            if c.name == name:
                return c
        raise KeyError(name)


def _saturation_spend(curve: HorizonCurve) -> float:
    """Total spend at which a line item has reached 99.99% of its saturation level."""
    _lo, hi = 0.0, 1.0
    top = curve.saturation_value
    if top <= 0:
        return 0.0
    while curve.value(hi) < 0.9999 * top and hi < 1e15:
        hi *= 4.0
    return float(min(hi, 1e15))


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
    kpi_models: dict[str, CurveSet] = {model.kpi: model, **dict(extra_models or {})}
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
    kpi_weight = 1.0
    spend_weight = 0.0
    if obj == "max_net":
        kpi_weight = float(scenario.value_per_kpi or 1.0)
        spend_weight = 1.0 + float(scenario.hurdle_rate)
    elif obj == "min_spend":
        spend_weight = 1.0
    if stages:
        stage_order = tuple(stages)
    else:
        from optimizer.vocabulary import STAGES

        used = list(dict.fromkeys(t.stage for t in tps.values()))
        stage_order = tuple(
            sorted(
                used, key=lambda s: (STAGES.index(s) if s in STAGES else len(STAGES), used.index(s))
            )
        )

    cons: list[LinearConstraint] = []
    budget = scenario.budget
    all_ones = {i: 1.0 for i in range(len(ids))}
    if budget is not None:
        sense = "==" if budget.is_exact else "<="
        cons.append(
            LinearConstraint(
                "budget",
                "budget",
                "",
                sense,
                budget.amount,
                all_ones,
                f"the budget ({money(budget.amount)})",
            )
        )

    lo = np.zeros(len(ids))
    hi = np.full(len(ids), np.inf)
    mif: dict[int, float] = {}
    for tid, rule in scenario.touchpoints.items():
        i = index[tid]
        nm = safe_name(tid)
        if rule.lock is not None:
            cons.append(
                LinearConstraint(
                    f"tp_lock__{nm}",
                    "tp_lock",
                    tid,
                    "==",
                    rule.lock,
                    {i: 1.0},
                    f"the {tid} lock ({money(rule.lock)})",
                )
            )
            lo[i] = max(lo[i], rule.lock)
            hi[i] = min(hi[i], rule.lock)
        if rule.min is not None:
            cons.append(
                LinearConstraint(
                    f"tp_min__{nm}",
                    "tp_min",
                    tid,
                    ">=",
                    rule.min,
                    {i: 1.0},
                    f"the {tid} minimum ({money(rule.min)})",
                )
            )
            lo[i] = max(lo[i], rule.min)
        if rule.max is not None:
            cons.append(
                LinearConstraint(
                    f"tp_max__{nm}",
                    "tp_max",
                    tid,
                    "<=",
                    rule.max,
                    {i: 1.0},
                    f"the {tid} maximum ({money(rule.max)})",
                )
            )
            hi[i] = min(hi[i], rule.max)
        if rule.min_if_funded is not None and rule.min_if_funded > 0 and rule.lock is None:
            mif[i] = rule.min_if_funded

    def share_rules(kind: str, subject: str, members: list[int], rule, what: str) -> None:
        nm = safe_name(subject)
        coefs = {i: 1.0 for i in members}
        if rule.min is not None:
            cons.append(
                LinearConstraint(
                    f"{kind}_min__{nm}",
                    f"{kind}_min",
                    subject,
                    ">=",
                    rule.min,
                    coefs,
                    f"the {what} floor ({money(rule.min)})",
                )
            )
        if rule.max is not None:
            cons.append(
                LinearConstraint(
                    f"{kind}_max__{nm}",
                    f"{kind}_max",
                    subject,
                    "<=",
                    rule.max,
                    coefs,
                    f"the {what} cap ({money(rule.max)})",
                )
            )
            for i in members:
                hi[i] = min(hi[i], rule.max)
        for share, sense, word in ((rule.min_share, ">=", "floor"), (rule.max_share, "<=", "cap")):
            if share is None:
                continue
            c = {i: -share for i in range(len(ids))}
            for i in members:
                c[i] = c[i] + 1.0
            tag = "min_share" if sense == ">=" else "max_share"
            cons.append(
                LinearConstraint(
                    f"{kind}_{tag}__{nm}",
                    f"{kind}_{tag}",
                    subject,
                    sense,
                    0.0,
                    c,
                    f"the {what} share {word} ({share:.0%} of total spend)",
                )
            )

    for st, rule in scenario.stages.items():
        members = [index[t] for t in ids if tps[t].stage == st]
        share_rules("stage", st, members, rule, f"{st} stage")
    for g, rule in scenario.groups.items():
        members = [index[m] for m in rule.members]
        share_rules("group", g, members, rule, f"'{g}' group")

    for o, rule in scenario.owners.items():
        members = [index[t] for t in ids if tps[t].owner == o]
        share_rules("owner", o, members, rule, f"{o} budget")

    def members_of(name: str) -> list[int]:
        if name in index:
            return [index[name]]
        if name in scenario.groups:
            return [index[m] for m in scenario.groups[name].members]
        return [index[t] for t in ids if tps[t].stage == name]

    for r, rule in scenario.ratios.items():
        num, den = members_of(rule.numerator), members_of(rule.denominator)
        nm = safe_name(r)
        for bound, sense, tag in ((rule.min, ">=", "min"), (rule.max, "<=", "max")):
            if bound is None:
                continue
            c: dict[int, float] = {}
            for i in num:
                c[i] = c.get(i, 0.0) + 1.0
            for i in den:
                c[i] = c.get(i, 0.0) - bound
            word = "at least" if sense == ">=" else "at most"
            cons.append(
                LinearConstraint(
                    f"ratio_{tag}__{nm}",
                    f"ratio_{tag}",
                    r,
                    sense,
                    0.0,
                    c,
                    f"the ratio rule '{r}' ({rule.numerator} {word} {bound:g} × {rule.denominator})",
                )
            )

    prev = scenario.previous or {}
    default = scenario.change_limit
    for tid, p in prev.items():
        i = index[tid]
        rule = scenario.touchpoints.get(tid)
        pct = (
            rule.change_pct
            if rule is not None and rule.change_pct is not None
            else (default.pct if default is not None else None)
        )
        mon = (
            rule.change_money
            if rule is not None and rule.change_money is not None
            else (default.money if default is not None else None)
        )
        ups, downs, why = [], [], []
        if pct is not None:
            ups.append(p * (1 + pct))
            downs.append(p * (1 - pct))
            why.append(f"±{pct:.0%}")
        if mon is not None:
            ups.append(p + mon)
            downs.append(p - mon)
            why.append(f"±{money(mon)}")
        if not ups:
            continue
        nm = safe_name(tid)
        text = f"{' and '.join(why)} on {money(p)} last cycle"
        up, down = min(ups), max(0.0, max(downs))
        cons.append(
            LinearConstraint(
                f"change_up__{nm}",
                "change_up",
                tid,
                "<=",
                up,
                {i: 1.0},
                f"the {tid} change limit ({text})",
            )
        )
        hi[i] = min(hi[i], up)
        if down > 0:
            cons.append(
                LinearConstraint(
                    f"change_down__{nm}",
                    "change_down",
                    tid,
                    ">=",
                    down,
                    {i: 1.0},
                    f"the {tid} change limit ({text})",
                )
            )
            lo[i] = max(lo[i], down)

    blocks = {index[t]: r.block for t, r in scenario.touchpoints.items() if r.block}

    if obj == "min_spend":
        target = float(scenario.kpi_target or 0.0)
        cons.append(
            LinearConstraint(
                "kpi_target",
                "kpi_target",
                model.kpi,
                ">=",
                target,
                all_ones,
                f"the {model.kpi} target ({money(target)})",
                on_kpi=True,
                kpi=model.kpi,
            )
        )
    for k, floor in scenario.kpi_floors.items():
        has = {index[t]: 1.0 for t in ids if t in kpi_models[k].touchpoints}
        cons.append(
            LinearConstraint(
                f"kpi_floor__{safe_name(k)}",
                "kpi_floor",
                k,
                ">=",
                float(floor),
                has,
                f"the {k} floor ({money(float(floor))})",
                on_kpi=True,
                kpi=k,
            )
        )

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
        top = hi[i]
        if budget is not None:
            top = min(top, budget.amount)
        if not math.isfinite(top):
            top = _saturation_spend(curve)
        if obj == "max_net":
            # beyond the spend where the curve's slope falls below the cost of a dollar, no dollar earns its keep
            top = min(top, max(_saturation_spend(curve), lo[i]))
        top = max(top, lo[i])
        # pieces reach a little past the caps, so that a binding cap is a binding row (with its
        # shadow price) rather than a binding variable bound the solver reports no dual for
        top = top * 1.02 + 1e-9 * (1.0 + top)
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
    )
