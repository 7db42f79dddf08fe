"""Break-even economics: where the last dollar stops paying back, and where the plan leans on
curves beyond their evidence.

**When the KPI is money.** The marginal return of a plan (KPI per extra unit of budget: the budget's
shadow price) is a money return only when a unit of KPI has a money value. budgetopt knows it has
one when the scenario says so, or when the KPI is revenue:

* the scenario gives ``value_per_kpi`` (money per unit of KPI, e.g. a lead's value): that value;
* otherwise the model's KPI is named ``revenue``: 1 (a unit of revenue is a unit of money).

Any other KPI (leads, sign-ups, a composite of ``kpi_values``) has no break-even here; give the
scenario a ``value_per_kpi`` to get one.

**Break-even.** ``threshold = 1 + hurdle_rate``: a dollar that returns less than that in money
does not pay for itself at the scenario's hurdle (``hurdle_rate`` 0: break-even proper). The
*break-even budget* is the budget at which the scenario's optimal plan's marginal money return
falls to the threshold, under all of the scenario's rules but the budget. On concave curves the
frontier's slope falls as the budget grows, so that budget is exactly the spend of the scenario
made ``max_net`` (value ``value_per_kpi``, the same hurdle) without its budget: one solve, with the
allocator's certificate on the marginal returns (0.1%), rather than a walk along the frontier.
It is ``None`` when the rules cap every line item before its marginal return falls to the
threshold (the budget can grow no further: no dollar of it falls below the hurdle). When the rules
force spend beyond it (locks, floors), it is the least the rules allow.

``spend_beyond`` is how much of a plan's spend lies beyond the break-even budget; what that spend
buys (``value_beyond``, in money) is the plan's KPI less the break-even plan's, times the value.
The break-even plan is what ``max_net`` would spend instead.

**Extrapolation.** A funded line item whose weekly spend is beyond the most ever spent in a week of
the history its curve was fitted on (the model's ``spend_range``), or whose curve has no data at
all (no spend seen: ``spend_range.max`` is 0), is listed: its KPI there is the model's guess. A
phased plan's line item is judged at its busiest period's weekly rate (named by ``period``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Unpack

from optimizer.allocate import Plan, allocate
from optimizer.allocate.engine import SolveOptions
from optimizer.allocate.plan import BreakEven
from optimizer.errors import BudgetOptError
from optimizer.response.model import CurveSet, currency_of
from optimizer.scenario import Scenario

#: the KPI name whose unit is money
MONEY_KPIS = ("revenue",)
#: a line item within this relative distance of the threshold is "at" it
_AT = 1e-2


def money_per_kpi(scenario: Scenario, kpi: str) -> tuple[float, str] | None:
    """Money per unit of the KPI and where that comes from, or None when the KPI is not money
    (nor is it when the objective is a weighted sum of several KPIs' worth, ``kpi_values``:
    the KPI's own break-even is not the plan's, whose dollars buy the other KPIs too)."""
    if scenario.kpi_values and scenario.objective in ("max_net", "max_value"):
        return None
    if scenario.value_per_kpi is not None and scenario.value_per_kpi > 0:
        return float(scenario.value_per_kpi), "value_per_kpi"
    if str(kpi).strip().lower() in MONEY_KPIS:
        return 1.0, f"the KPI is {kpi}"
    return None


@dataclass(frozen=True)
class Crossing:
    """Where the marginal money return falls to ``threshold``."""

    threshold: float
    budget: float | None  # None: the rules stop every line item first
    kpi: float | None  # the KPI of the plan at that budget
    reason: str = ""


def plan_marginal(plan: Plan, scenario: Scenario | None = None) -> float | None:
    """The plan's marginal return in KPI per unit of budget: the budget's shadow price; for
    ``max_net`` (with ``scenario``) the return at which a dollar pays its cost, ``(1 +
    hurdle_rate) / value_per_kpi``, plus the budget's shadow price over ``value_per_kpi`` where
    the budget binds (KKT: every line item no rule holds returns that); for
    ``min_spend`` the return at which the target is met at least cost, ``1 / |target's dual|``;
    else (at zero spend, say) the best marginal return among line items with room to grow (a
    line item's ``marginal_roi`` on a calendar is the most over its periods: not the last dollar)."""
    if not plan.ok:
        return None
    # the KKT values hold for line items no rule holds: where every funded one is held (at its
    # maximum, say) no dollar of the plan returns them, and the old reading below applies
    free = any(0.01 < li.spend < li.upper - 0.01 for li in plan.line_items)
    sp = plan.budget_shadow_price
    if sp is not None and plan.total_spend > 0 and plan.objective in ("max_kpi",):
        return float(sp)
    if free and plan.objective == "max_net" and scenario is not None:
        from optimizer.allocate.problem import objective_weights

        kw, sw = objective_weights(scenario)
        if kw > 0:  # a budget that binds adds its shadow price (objective per dollar) to the cost
            return float((sw + (sp if sp is not None and sp > 1e-9 else 0.0)) / kw)
    if free and plan.objective == "min_spend":
        t = next(
            (
                abs(c.shadow_price)
                for c in plan.constraints
                if c.kind == "kpi_target" and c.shadow_price
            ),
            0.0,
        )
        if t > 0:
            return 1.0 / t
    if plan.objective == "min_spend" and not any(
        c.kind == "kpi_target" and c.shadow_price for c in plan.constraints
    ):
        # a target that does not bind: no dollar is spent to meet it, so no last dollar
        return None
    room = [li.marginal_roi for li in plan.line_items if li.spend < li.upper - 0.01]
    if not room:
        return None
    funded = [
        li.marginal_roi for li in plan.line_items if li.spend > 0.01 and li.spend < li.upper - 0.01
    ]
    return float(max(funded) if funded else max(room))


def crossing(
    scenario: Scenario,
    model: CurveSet,
    value: float,
    threshold: float,
    *,
    extra_models: Mapping[str, CurveSet] | None = None,
    **solve_options: Unpack[SolveOptions],
) -> Crossing:
    """The budget at which the scenario's optimal plan's marginal return, valued at ``value``
    money per KPI, falls to ``threshold``: the spend of the scenario made ``max_net`` without its
    budget (see the module docstring)."""
    data = scenario.model_dump()
    data.update(
        objective="max_net",
        value_per_kpi=float(value),
        hurdle_rate=float(threshold) - 1.0,
        budget=None,
        kpi_target=None,
        kpi_values={},
        sweep=None,
        variants={},
        grid={},
    )
    try:
        net_scenario = Scenario.model_validate(data)
        plan = allocate(net_scenario, model, extra_models=dict(extra_models or {}), **solve_options)
    except (BudgetOptError, ValueError) as e:  # never fail the plan itself over its economics
        return Crossing(threshold, None, None, f"no break-even: {str(e).splitlines()[0]}")
    if not plan.ok:
        return Crossing(threshold, None, None, f"the rules without the budget: {plan.status}")
    # a line item with room to grow whose money return is still above the threshold means the
    # crossing lies past the rules' caps for all others: is any funded one at the threshold?
    at = [
        li
        for li in plan.line_items
        if li.spend > 0.01 and abs(_free_marginal(li) * value / threshold - 1.0) <= _AT
    ]
    above = [
        li
        for li in plan.line_items
        if li.spend > 0.01 and _free_marginal(li) * value > threshold * (1 + _AT)
    ]
    if not at and above and len(above) == sum(1 for li in plan.line_items if li.spend > 0.01):
        return Crossing(
            threshold,
            None,
            None,
            "the rules cap every funded line item while its marginal return is above "
            f"{threshold:.2f}",
        )
    return Crossing(threshold, plan.total_spend, plan.total_kpi)


def _free_marginal(li: Any) -> float:
    """A line item's marginal return where its money is free to move: on a calendar, the least
    over the periods it is funded in (its ``marginal_roi`` is the most over its periods, and a
    binding cap on a period's total lifts that period's, so every line item looked capped above
    the threshold whenever one period was capped); undated, its ``marginal_roi``."""
    funded = [p.marginal_roi for p in li.periods if p.spend > 0.01 and p.marginal_roi is not None]
    return float(min(funded)) if funded else float(li.marginal_roi)


@dataclass(frozen=True)
class Economics:
    """A scenario's break-even points, whatever its budget: where its optimal plan's marginal
    money return falls to the hurdle (``1 + hurdle_rate``) and to 1 (payback)."""

    value_per_kpi: float
    value_source: str
    hurdle_rate: float
    hurdle: Crossing
    payback: Crossing

    def to_dict(self) -> dict[str, Any]:
        return {
            "threshold": self.hurdle.threshold,
            "budget": self.hurdle.budget,
            "payback_budget": self.payback.budget,
            "hurdle_rate": self.hurdle_rate,
            "value_per_kpi": self.value_per_kpi,
            "value_source": self.value_source,
            **({"note": self.hurdle.reason} if self.hurdle.reason else {}),
        }


def scenario_economics(
    scenario: Scenario,
    model: CurveSet,
    kpi: str,
    *,
    extra_models: Mapping[str, CurveSet] | None = None,
    **solve_options: Unpack[SolveOptions],
) -> Economics | None:
    """The scenario's break-even points, or None when its KPI (named ``kpi``) is not money."""
    money = money_per_kpi(scenario, kpi)
    if money is None:
        return None
    value, source = money
    h = float(scenario.hurdle_rate)
    cross = crossing(scenario, model, value, 1.0 + h, extra_models=extra_models, **solve_options)
    payback = (
        cross
        if h == 0
        else crossing(scenario, model, value, 1.0, extra_models=extra_models, **solve_options)
    )
    return Economics(value, source, h, cross, payback)


def break_even(
    scenario: Scenario,
    model: CurveSet,
    plan: Plan,
    *,
    extra_models: Mapping[str, CurveSet] | None = None,
    **solve_options: Unpack[SolveOptions],
) -> BreakEven | None:
    """``plan``'s break-even economics, or None when the KPI is not money or there is no plan."""
    if not plan.ok:
        return None
    eco = scenario_economics(scenario, model, plan.kpi, extra_models=extra_models, **solve_options)
    if eco is None:
        return None
    value, source, h = eco.value_per_kpi, eco.value_source, eco.hurdle_rate
    threshold = 1.0 + h
    cross, payback = eco.hurdle, eco.payback
    m = plan_marginal(plan, scenario)
    beyond = 0.0
    value_beyond = None
    if cross.budget is not None:
        beyond = float(round(max(0.0, plan.total_spend - cross.budget), 2))
        if beyond > 0.005 and cross.kpi is not None:
            value_beyond = value * (plan.total_kpi - cross.kpi)
    return BreakEven(
        threshold=threshold,
        hurdle_rate=h,
        value_per_kpi=value,
        value_source=source,
        budget=cross.budget,
        spend_beyond=beyond,
        value_beyond=value_beyond,
        marginal_return=None if m is None else value * m,
        payback_budget=payback.budget,
        reason=cross.reason,
        budget_unspent=_unspent(plan),
    )


def _unspent(plan: Plan) -> float:
    """The budget a max_kpi plan leaves unspent because its rules hold it below (0 if none)."""
    if plan.objective != "max_kpi" or plan.budget is None:
        return 0.0
    left = float(round(plan.budget - plan.total_spend, 2))
    return left if left > 0.005 else 0.0


def extrapolation(plan: Plan, model: CurveSet) -> list[dict[str, Any]]:
    """The funded line items whose weekly spend is beyond the most seen in the history their curve
    was fitted on, or whose curve has no data (see the module docstring)."""
    out: list[dict[str, Any]] = []
    weeks = float(plan.horizon_weeks) or 1.0
    for li in plan.line_items:
        if li.spend <= 0.01:
            continue
        for market, share, tp in _curves_of(model, li):
            _check_range(out, li, market, share, tp, weeks)
    return out


def _check_range(
    out: list[dict[str, Any]], li: Any, market: str | None, share: float, tp: Any, weeks: float
) -> None:
    """Append the line item (in ``market``, at ``share`` of its spend) when its busiest weekly
    spend there is beyond the most its curve saw, or its curve has no data."""
    sr = dict(getattr(tp, "spend_range", None) or {})
    hi = sr.get("max")
    weekly = share * li.spend / weeks
    where = {"id": li.id, **({"market": market} if market else {})}
    # a phased plan spends at its own rate in each period: the busiest period's weekly spend
    busiest = max(
        (p for p in getattr(li, "periods", ()) or () if p.weeks > 0),
        key=lambda p: p.spend / p.weeks,
        default=None,
    )
    if busiest is not None and share * busiest.spend / busiest.weeks > weekly:
        weekly = share * busiest.spend / busiest.weeks
        where["period"] = busiest.period
    if hi is not None and hi <= 0:
        out.append({**where, "kind": "no_data", "weekly_spend": weekly, "max_seen": 0.0})
    elif hi is not None and weekly > hi * (1 + 1e-9):
        out.append({**where, "kind": "beyond", "weekly_spend": weekly, "max_seen": float(hi)})


def _curves_of(model: CurveSet, li: Any) -> list[tuple[str | None, float, Any]]:
    """(market, share of the line item's spend, curve) of each curve a line item runs on: its
    own, or a national buy's in each market it reaches (its share there against that market's
    history, not its national spend against one market's)."""
    markets = getattr(model, "markets", None)
    if isinstance(markets, Mapping) and li.market is None and li.shares:
        found = [(m, float(w), markets[m].touchpoints.get(li.id)) for m, w in li.shares.items()]
        return [(m, w, tp) for m, w, tp in found if tp is not None and w > 0]
    if isinstance(markets, Mapping) and li.market is not None and li.market in markets:
        tp = markets[li.market].touchpoints.get(li.id)
    else:
        tp = model.touchpoints.get(li.id)
    return [] if tp is None else [(li.market, 1.0, tp)]


def carryover_missing(scenario: Scenario, plan: Plan) -> dict[str, Any] | None:
    """The touchpoints of ``plan`` a wide ``carryover.before`` file of ``scenario`` has no
    column for (they start the plan with no carry-over), as ``{"file", "touchpoints"}``; None
    when there are none (or no such file). Every command that plans from the scenario says so
    (``cli_common._warn_carryover``)."""
    before = scenario.carryover.before if scenario.carryover is not None else None
    if not before:
        return None
    from optimizer.io.spend_tables import columns_missing

    gone = columns_missing(before, [li.id for li in plan.line_items])
    return {"file": str(before), "touchpoints": gone} if gone else None


def with_economics(
    scenario: Scenario,
    model: CurveSet,
    plan: Plan,
    *,
    extra_models: Mapping[str, CurveSet] | None = None,
    **solve_options: Unpack[SolveOptions],
) -> Plan:
    """``plan`` with ``extras['break_even']`` (a ``BreakEven``, when the KPI is money),
    ``extras['extrapolation']`` (a list, when any line item extrapolates),
    ``extras['carryover_missing']`` (``file``, ``touchpoints``: those a wide ``carryover.before``
    file has no column for, which start with no carry-over) and
    ``extras['planning_units']`` (a ``PlanningUnits``, with ``min_line_item`` or ``round_to``)."""
    if not plan.ok:
        return plan
    extras = dict(plan.extras)
    be = break_even(scenario, model, plan, extra_models=extra_models, **solve_options)
    if be is not None:
        extras["break_even"] = be
    ex = extrapolation(plan, model)
    if ex:
        extras["extrapolation"] = ex
    gone = carryover_missing(scenario, plan)
    if gone:
        extras["carryover_missing"] = gone
    cur = currency_of(model)
    if cur:
        extras["currency"] = cur
    from optimizer.workflow.planning_units import planning_units
    from optimizer.workflow.untested import untested_items

    untested = untested_items(plan, model)
    if untested:
        extras["untested"] = untested

    units = planning_units(scenario, model, plan, extra_models=extra_models, **solve_options)
    if units is not None:
        extras["planning_units"] = units
    return dataclasses.replace(plan, extras=extras)
