"""Scenario + a markets index → an allocation problem over touchpoint × market (contract 8).

The allocation stays separable over line items, so the engine carries it unchanged: a line item is
a touchpoint bought in one market, on that market's curve, or a *national buy* (a touchpoint bought
once and delivered in every market by a fixed split ``w_m``: one decision ``x`` whose response is
``Σ_m F_m(w_m x)``, a sum of concave curves and so one concave curve). Every rule is a linear row
over member sets, written by the rules registry (``optimizer.scenario.rules``) over the line items'
``LineItemRef``s (touchpoint, stage, owner, market, split):

* the budget, and touchpoint, stage, group, owner, ratio and change rules, on national totals (a
  touchpoint's spend summed over its markets);
* ``markets.M`` money and shares (``rules/markets.py``): market M's spend (a national buy counts
  ``w_M x``) against money, or against a share of the national total;
* ``markets.M.touchpoints / stages / groups``: the same kinds over market M's own line items (a
  stage's or group's share is of market M's spend; a national buy's rules are national only).

Each line item's own bounds (a cap that holds it, a floor, a lock) are read off the rows.
"""

from __future__ import annotations

from collections.abc import Mapping

from optimizer.allocate.breakpoints import HorizonCurve
from optimizer.allocate.problem import (
    AllocationProblem,
    Item,
    item_top,
    objective_weights,
    rules_and_bounds,
    stage_order_of,
)
from optimizer.errors import ScenarioError
from optimizer.formatting import did_you_mean
from optimizer.response.markets import MarketModel
from optimizer.response.model import ResponseModel
from optimizer.scenario import Scenario, check_against_markets, check_against_model
from optimizer.scenario.rules import LineItemRef, LineItems


def national_split(scenario: Scenario, model: MarketModel, tid: str) -> dict[str, float]:
    """Each market's share of a national buy's spend (sums to 1, market order)."""
    spec = scenario.national[tid]
    raw = model.key(spec) if isinstance(spec, str) else {m: spec.get(m, 0.0) for m in model.names}
    total = sum(raw.values())
    return {m: raw[m] / total for m in model.names}


def make_market_problem(
    scenario: Scenario,
    model: MarketModel,
    stages: tuple[str, ...] | None = None,
    extra_models: Mapping[str, object] | None = None,
) -> AllocationProblem:
    """The allocation problem of ``scenario`` over ``model``'s markets (see the module docstring)."""
    tps = model.touchpoints
    names = model.names
    stage_of = {k: v.stage for k, v in tps.items()}
    owner_of = {k: v.owner for k, v in tps.items()}
    if extra_models:
        raise ScenarioError(
            "with a markets index, other KPIs' curves come from the index (each market's "
            "'models'), not from 'models:'",
            path=scenario.source,
            field="models",
        )
    kpi_models: dict[str, Mapping[str, ResponseModel]] = {
        model.kpi: model.markets,
        **model.kpi_models,
    }
    for k in (*scenario.kpi_floors, *scenario.kpi_values):
        if k not in kpi_models:
            raise ScenarioError(
                f"unknown KPI '{k}': the markets index is for '{model.kpi}' and lists no models "
                f"of '{k}'{did_you_mean(k, list(kpi_models))}",
                path=scenario.source,
                field="kpi_floors" if k in scenario.kpi_floors else "kpi_values",
            )
    check_against_model(scenario, stage_of, stages, owners_of=owner_of)
    check_against_markets(scenario, names, stage_of, stages, model.keys)

    H = float(scenario.horizon_weeks)
    obj = scenario.objective
    kpi_weight, spend_weight = objective_weights(scenario)
    stage_order = stage_order_of(stages, stage_of.values())

    # ---- the line items: touchpoint × market, or one national buy -------------------------------
    layout: list[tuple[str, str | None, dict[str, float]]] = []  # (touchpoint, market, shares)
    for tid in tps:
        if tid in scenario.national:
            layout.append((tid, None, national_split(scenario, model, tid)))
        else:
            layout.extend((tid, m, {m: 1.0}) for m in names)
    n = len(layout)
    for tid, rule in scenario.touchpoints.items():  # integer rules need one line item
        for attr in ("min_if_funded", "block"):
            if getattr(rule, attr) and sum(1 for t, _m, _s in layout if t == tid) > 1:
                raise ScenarioError(
                    f"'{attr}' applies to one line item, but with markets '{tid}' is bought in "
                    f"{len(names)} markets: give it per market under "
                    f"'markets.<market>.touchpoints.{tid}', or make '{tid}' a national buy",
                    path=scenario.source,
                    field=f"touchpoints.{tid}.{attr}",
                )
    for m, mr in scenario.markets.items():
        for tid, rule in mr.touchpoints.items():
            bad = [
                a
                for a in ("change_pct", "change_money", "keep_previous")
                if getattr(rule, a, None) is not None
            ]
            if bad:
                raise ScenarioError(
                    "rules against last cycle apply to national totals (with 'previous'), not "
                    "within a market",
                    path=scenario.source,
                    field=f"markets.{m}.touchpoints.{tid}.{bad[0]}",
                )
            if tid in scenario.national:
                raise ScenarioError(
                    f"'{tid}' is a national buy: it is bought once for every market, so its "
                    "rules are national ('touchpoints:'), not a market's",
                    path=scenario.source,
                    field=f"markets.{m}.touchpoints.{tid}",
                )

    # ---- every rule from the registry: national rules over all line items (a touchpoint's
    # total is summed over its markets), then each market's own rules (MarketRules) -----------
    refs = [
        LineItemRef(i, tid, stage_of[tid], market=m, owner=owner_of[tid], split=None if m else s)
        for i, (tid, m, s) in enumerate(layout)
    ]
    kpi_touchpoints = {k: frozenset(tps) for k in kpi_models}
    items_view = LineItems(refs, kpi=model.kpi, kpi_touchpoints=kpi_touchpoints)
    cons, item_rules, lo, hi, mif, blocks = rules_and_bounds(scenario, items_view, n)

    values = dict(scenario.kpi_values)
    composite = obj in ("max_value", "max_net") and bool(values)
    items = []
    for i, (tid, market, shares) in enumerate(layout):
        parts_by_kpi = {
            k: [
                (per[mk].touchpoints[tid], w)
                for mk, w in shares.items()
                if tid in per[mk].touchpoints
            ]
            for k, per in kpi_models.items()
        }

        def curve_of(terms, scale: float = 1.0) -> HorizonCurve:
            if len(terms) == 1 and terms[0][1] == 1.0:
                return HorizonCurve(terms[0][0], H, scale)
            return HorizonCurve(
                terms[0][0],
                H,
                scale,
                tuple((scale, r) for r, _ in terms),
                tuple(w for _, w in terms),
            )

        kcurves = {k: curve_of(terms) for k, terms in parts_by_kpi.items() if terms}
        main_terms = parts_by_kpi[model.kpi]
        if composite:
            parts = [
                (float(v), r, w) for k, v in values.items() if v for r, w in parts_by_kpi.get(k, [])
            ] or [(0.0, main_terms[0][0], 1.0)]
            curve = HorizonCurve(
                main_terms[0][0],
                H,
                1.0,
                tuple((v, r) for v, r, _ in parts),
                tuple(w for _, _, w in parts),
            )
        else:
            curve = curve_of(main_terms, kpi_weight if obj == "max_net" else 1.0)
        top = item_top(curve, float(lo[i]), float(hi[i]), obj)
        items.append(
            Item(
                i,
                tid,
                stage_of[tid],
                curve,
                float(lo[i]),
                float(top),
                mif.get(i),
                blocks.get(i),
                kcurves,
                market=market,
                owner=owner_of[tid],
                split=shares if market is None else None,
            )
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
        markets=tuple(names),
        item_rules=tuple(item_rules),
    )
