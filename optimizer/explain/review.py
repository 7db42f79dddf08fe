"""``explain(plan, scenario, model)``: every line item of a plan justified (see the package)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from optimizer.allocate import Plan, make_problem
from optimizer.defaults import DEFAULT_SWEEP_POINTS
from optimizer.errors import InfeasibleError, SolverError
from optimizer.explain.constraints import (
    constraint_notes,
    market_and_owner_summaries,
    summaries,
)
from optimizer.explain.formatting import fmt_amount, fmt_delta, fmt_ratio, nice_step
from optimizer.explain.ladder import build_ladder
from optimizer.explain.last_cycle import check_last_cycle
from optimizer.explain.phased_moves import min_spend_sentence, value_sentence
from optimizer.explain.ranges import role_ranges
from optimizer.explain.resolve import Resolver, move
from optimizer.explain.roles import (
    ReviewContext,
    classify,
    first_dollar,
    prices_of,
    review_context,
    rule_value,
    sides,
)
from optimizer.explain.sentences import (
    break_even_sentence,
    curve_position,
    planning_units_sentence,
    reason_sentence,
    target_slack_sentence,
)
from optimizer.explain.types import (
    AT_ITS_BAR,
    CAPPED,
    EXPLAIN_TOLERANCE,
    HALF_CENT,
    HELD_UP,
    INTERIOR,
    ROLE_TOL,
    Explanation,
    FrontierPoint,
    LineItemExplanation,
    Move,
    RoleRange,
    role_words,
)
from optimizer.formatting import footed
from optimizer.response.model import CurveSet
from optimizer.scenario import Scenario

#: a budget shadow price above this (KPI per unit of money) counts as binding
BINDING_PRICE = 1e-9


def _first_cent(it: Any, weeks: float, composite: bool) -> float:
    """The average return of a line item's first cent (its value per unit of money where the
    objective is a value): what a curve that starts vertical offers at the plan's precision."""
    cent = 2 * HALF_CENT
    if composite:
        return float(it.curve.value(cent)) / cent
    return float(it.curve.response.horizon_kpi(cent, weeks)) / cent


def require_solved(plan: Plan, scenario: Scenario) -> None:
    """Raise ``InfeasibleError`` (naming the conflicts) for an infeasible plan and ``SolverError``
    for a plan with no solution: there is nothing to explain."""
    if plan.status == "infeasible":
        raise InfeasibleError(
            f"scenario '{plan.scenario}' is infeasible: {plan.message}",
            conflicts=plan.conflicts,
            path=scenario.source,
        )
    if not plan.ok:
        raise SolverError(
            f"the plan has no solution to explain ({plan.status}): {plan.message}",
            path=scenario.source,
        )


def _in_objective(
    ctx: ReviewContext, ref: Plan, m: Move, it: Any, spend: float, price: float
) -> Move:
    """A move worded in what the objective counts: max_kpi as ``move`` words it (the KPI, the
    money re-spent on the rest of the plan); min_spend in spend (the target is held); max_net and
    max_value in the objective's value (``price``: what a dollar costs in it), the curve-only
    number from the line item's objective curve."""
    obj = ctx.problem.scenario.objective
    if obj == "min_spend":
        return min_spend_sentence(m, it.key, ctx.kpi_word, ref, 0.0, "next")
    if obj in ("max_net", "max_value"):
        d = m.target - spend
        naive = float(it.curve.value(m.target)) - float(it.curve.value(spend)) - price * d
        return value_sentence(m, it.key, ctx.kpi_word, ctx.obj_word, naive, price)
    return m


def explain(
    plan: Plan,
    scenario: Scenario,
    model: CurveSet,
    *,
    last_cycle: Mapping[str, float] | None = None,
    increment: float | None = None,
    solver: str = "highs",
    tolerance: float = EXPLAIN_TOLERANCE,
    plan_tolerance: float | None = None,
    ladder_steps: int = 10,
    ladder_step: float | None = None,
    sweep_points: int = DEFAULT_SWEEP_POINTS,
    refine_steps: int = 3,
    extra_models: Mapping[str, CurveSet] | None = None,
    progress: Callable[[str], None] | None = None,
) -> Explanation:
    """Justify every line item of a plan.

    Parameters
    ----------
    plan : Plan
        A solved plan of ``scenario`` on ``model`` (status optimal or time_limit).
    scenario : Scenario
        The scenario the plan solves; re-solved with changes to price moves and rules.
    model : CurveSet
        The response curves the plan was optimised on.
    last_cycle : dict of str to float, optional
        Last cycle's spend per line item (missing line items count as 0); by default the
        scenario's ``previous``, if it has one.
    increment : float, optional
        The money a line item is moved up and down by; default 10% of its plan spend (an unfunded
        line item: its ``min_if_funded``, else 1% of the budget).
    solver : str
        Solver for the re-solves.
    tolerance : float
        Certified gap of the re-solves (tighter than the default, so that the small second-order
        changes they price are not noise).
    plan_tolerance : float, optional
        The tolerance ``plan`` was solved to (what its "certified within" is checked against).
    ladder_steps : int
        Increments per line item in the ladder (equal parts of its plan spend).
    ladder_step : float, optional
        Fixed money per ladder increment instead of ``ladder_steps`` equal parts.
    sweep_points : int
        Budgets in the sweep (0 to twice the budget) that finds the budgets over which each line
        item keeps its role; 0 skips it (and the frontier).
    refine_steps : int
        Bisection steps at each edge of a role range.
    extra_models : dict of str to CurveSet, optional
        Other KPIs' models, for scenarios with KPI floors or values (as ``allocate`` takes them).
    progress : callable, optional
        Receives short progress messages.

    Returns
    -------
    Explanation

    Raises
    ------
    InfeasibleError
        If the plan is infeasible.
    SolverError
        If the plan has no solution for another reason.
    DataError
        If ``last_cycle`` names an unknown line item or a negative amount.
    """
    require_solved(plan, scenario)
    say = progress or (lambda _m: None)
    problem = make_problem(
        scenario, model, None, ids=[li.id for li in plan.line_items], extra_models=extra_models
    )
    ctx = review_context(scenario, problem)
    ids = [it.key for it in problem.items]
    if last_cycle is None and scenario.previous:
        last_cycle = scenario.previous
    last = check_last_cycle(last_cycle, ids)
    weeks = float(scenario.horizon_weeks)
    resolver = Resolver(scenario, model, solver, tolerance, extra_models)
    say("re-solving the plan at the explain tolerance")
    ref = resolver.solve(scenario)
    if not ref.ok:  # pragma: no cover - the plan itself was solved
        raise SolverError(f"re-solving the scenario failed ({ref.status})", path=scenario.source)
    pr = prices_of(ctx, plan)
    # a weighted sum of several KPIs (kpi_values) is the objective: a dollar's return is its
    # value (money per unit of money), not the main KPI's, which leaves out the other KPIs and
    # the main KPI's own weight (its ``marginal_roi`` stays the KPI's, in the tables)
    composite = scenario.objective in ("max_net", "max_value") and bool(scenario.kpi_values)
    hurdles = pr.price if composite else pr.hurdle_kpi
    # the words of a return in the sentences: the KPI per unit of money, or the value
    rctx = dataclasses.replace(ctx, kpi_word="in value") if composite else ctx
    # a min_spend plan whose KPI target does not bind (the rules' spend buys more): the target
    # has no shadow price, so there is no hurdle to price a dollar against
    slack = (
        target_slack_sentence(float(scenario.kpi_target or 0.0), plan.total_kpi, ctx.kpi_word)
        if scenario.objective == "min_spend" and not np.isfinite(hurdles).any()
        else None
    )
    budget = scenario.budget.amount if scenario.budget is not None else None
    total = plan.total_spend
    step_money = nice_step(0.01 * (budget if budget else max(total, 1.0)))
    if scenario.objective in ("max_kpi", "max_net") and plan.total_spend > HALF_CENT:
        # the price of a dollar to a line item no share rule names, in KPI per unit of money
        hurdle = (problem.spend_weight + (plan.budget_shadow_price or 0.0)) / (
            1.0 if composite else max(problem.kpi_weight, 1e-300)
        )
    else:
        # the plan's hurdle (min_spend: 1 / the target's price), every line item's ``hurdle``
        plans = pr.plan if composite else pr.plan_kpi
        finite = (hurdles if plans is None else plans)[np.isfinite(hurdles)]
        hurdle = float(np.median(finite)) if len(finite) else math.nan

    roles: dict[str, tuple[str, tuple[str, ...]]] = {}
    for tid in ids:
        roles[tid] = classify(ctx, plan, pr, tid)
        li = plan.item(tid)
        if slack is not None and li.spend > HALF_CENT:
            # only a rule keeps a dollar in a plan whose target does not bind
            i = ctx.index[tid]
            floors = [n for n in ctx.binding_rules(i, li.binding, plan) if sides(ctx, n, i)[1]]
            roles[tid] = (HELD_UP, tuple(floors))

    ranges: dict[str, RoleRange] = {}
    frontier: list[FrontierPoint] = []
    if sweep_points and budget is not None and problem.sense == "max":
        say(f"sweeping {sweep_points} budgets for the role ranges and the frontier")
        ranges, fplans, grid = role_ranges(ctx, resolver, ref, budget, sweep_points, refine_steps)
        for b, p in zip(grid, fplans, strict=True):
            if p.ok:
                marg = (
                    max(li.marginal_roi for li in p.line_items)
                    if p.total_spend <= HALF_CENT
                    else p.budget_shadow_price
                )
                frontier.append(FrontierPoint(float(b), p.status, p.total_spend, p.total_kpi, marg))
            else:
                frontier.append(FrontierPoint(float(b), p.status, None, None, None))

    say("pricing the constraints")
    notes = constraint_notes(ctx, resolver, ref, plan, step_money, True)
    by_note = {c.name: c for c in notes}

    say("pricing the next and the last increment of every line item")
    # the sentences quote a line item's spend as the pack's tables show it: whole units that foot
    # (``render.footing.shown_review`` foots the same list against the same total)
    shown_spend = dict(zip(ids, footed([plan.item(k).spend for k in ids], total), strict=True))
    items = []
    for it in problem.items:
        tid = it.key
        li = plan.item(tid)
        role, names = roles[tid]
        h = float(hurdles[it.index])
        # the curve alone values the money at the price of a dollar to this line item: its bar,
        # the binding share rules counted (a floor's member's is lower than the plan's hurdle)
        plans = pr.plan if composite else pr.plan_kpi
        wins = pr.win if composite else pr.win_kpi
        h_plan = h if plans is None else float(plans[it.index])
        h_bar = h if wins is None or not math.isfinite(wins[it.index]) else float(wins[it.index])
        tp = it.curve.response
        first = first_dollar(tp, weeks)
        funded = li.spend > HALF_CENT
        if funded:
            inc = float(increment) if increment else 0.10 * li.spend
            nxt = move(ctx, resolver, ref, tid, "up", inc, h_bar, plan_hurdle=h_plan)
            lst = move(
                ctx, resolver, ref, tid, "down", min(inc, li.spend), h_bar, plan_hurdle=h_plan
            )
            first_inc = None
            first_amt = inc
        else:
            inc = it.min_if_funded or (
                float(increment) if increment else 0.01 * (budget if budget else max(total, 1.0))
            )
            nxt = move(ctx, resolver, ref, tid, "up", inc, h_bar, plan_hurdle=h_plan)
            lst = None
            first_amt = inc
            first_inc = float(tp.horizon_kpi(inc, weeks)) / inc if inc > 0 else None
        price = float(pr.price[it.index])
        if pr.win is not None and math.isfinite(pr.win[it.index]):
            price = float(pr.win[it.index])  # its bar in the objective, as the KPI's above
        nxt = _in_objective(ctx, ref, nxt, it, li.spend, price)
        if lst is not None:
            lst = _in_objective(ctx, ref, lst, it, li.spend, price)
        value = rule_value(ctx, plan, names)
        gain, gain_step = None, step_money
        for n in names:
            note = by_note.get(n)
            if note is not None and note.unit == "money":
                gain = note.resolved if note.resolved is not None else note.estimate
                gain_step = note.step
                break
        # the sentence's returns: the KPI's, or a composite objective's value (its fields in
        # the tables stay the KPI's, against its hurdle in the KPI: the same role)
        v_first_inc = (
            float(it.curve.value(first_amt)) / first_amt
            if composite and first_inc is not None
            else first_inc
        )
        # the plan's hurdle (what its last dollar returns), and what this line item's next (or
        # first) dollar must return to win money: its bar, the binding share rules counted (a
        # floor of its stage lowers a member's, raises an outsider's)
        reason = reason_sentence(
            rctx,
            role,
            names,
            shown_spend[tid],
            float(pr.marginal[it.index]) if composite else li.marginal_roi,
            h_plan,
            float(it.curve.slope(0.0)) if composite else first,
            v_first_inc,
            first_amt,
            it.min_if_funded,
            gain,
            gain_step,
            nxt,
            slack,
            bar=None if wins is None else float(wins[it.index]),
            bar_rules=pr.shares[it.index] if pr.shares else (),
            first_cent=None
            if funded or math.isfinite(first)
            else _first_cent(it, weeks, composite),
        )
        pos = curve_position(tp, li.spend, weeks, ctx.kpi_word)
        lc = None if last is None else last[tid]
        items.append(
            LineItemExplanation(
                id=tid,
                stage=it.stage,
                spend=li.spend,
                share=li.spend / total if total > 0 else 0.0,
                kpi=li.kpi,
                roi=li.roi,
                marginal_roi=li.marginal_roi,
                first_dollar_roi=first,
                first_increment_roi=first_inc,
                hurdle=float((pr.hurdle_kpi if pr.plan_kpi is None else pr.plan_kpi)[it.index]),
                bar=None if pr.win_kpi is None else float(pr.win_kpi[it.index]),
                role=role,
                rules=names,
                rule_labels=tuple(ctx.labels.get(n, n) for n in names),
                rule_value=value,
                reason=reason,
                lower=it.lo,
                upper=li.upper,
                min_if_funded=it.min_if_funded,
                next=nxt,
                last=lst,
                role_range=ranges.get(tid),
                position=pos,
                last_cycle=lc,
                delta=None if lc is None else li.spend - lc,
                market=it.market,
                owner=it.owner,
            )
        )

    say("ranking the ladder")
    # a line item capped by a rule of its own below the hurdle (inside a share floor) has its
    # money below the hurdle held in by the floor: on the ladder it is committed, as held up
    ladder_roles = dict(roles)
    for tid, (role, _names) in roles.items():
        i = ctx.index[tid]
        h = float(pr.price[i])
        if role == CAPPED and float(pr.marginal[i]) < h - ROLE_TOL * max(abs(h), 1e-12):
            binding = ctx.binding_rules(i, plan.item(tid).binding, plan)
            held = tuple(n for n in binding if sides(ctx, n, i)[1])
            if held:
                ladder_roles[tid] = (HELD_UP, held)
    ladder = build_ladder(
        ctx,
        plan,
        ladder_roles,
        hurdles,
        ladder_steps,
        ladder_step,
        budget,
        hurdle,
        # a composite objective ranks its increments by what they are worth in it
        kpi_at=(lambda it, xs: it.curve.value(xs)) if composite else None,
    )
    stages, groups = summaries(ctx, plan, last)
    markets, owners = market_and_owner_summaries(ctx, plan)

    warnings = []
    for it in problem.items:
        prior = getattr(it.curve.response, "prior", None)
        if prior is not None and plan.item(it.key).spend > HALF_CENT:
            lo, hi = prior.get("roi_range", [0, 0])
            like = f"like {prior['like']}, " if prior.get("like") else ""
            warnings.append(
                f"{it.key} is untested: planned on a prior ({like}ROI {lo:g} to {hi:g} at "
                f"{fmt_amount(prior.get('reference_spend') or 0.0)} a week), not on data; "
                "its return is a guess. 'optimize --uncertainty' prices a lift test on it "
                "(its EVPPI and test budget)."
            )
    for x in items:
        if x.position.extrapolation:
            warnings.append(f"{x.id}: {x.position.sentence.split(';')[0]}.")
    if not ladder.consistent:
        warnings.append(
            "the ladder's ranking and the plan disagree somewhere (a rule funds or "
            "blocks an increment out of its return order); see the ladder's notes"
        )
    if plan.gap is not None and plan.gap > 1e-3:
        warnings.append(
            f"the plan's certificate gap is {plan.gap:.2%}: with 'zero or at least' rules or "
            "S-curves the dual bound need not close, although the MILP is optimal over the "
            "curves' pieces"
        )

    # total KPI band over joint draws (draw k of every touchpoint is one refit or one Laplace
    # draw): the bands' draws (model.json band_draws, else draws), as every band of a KPI level
    tp10 = tp90 = None
    bands = [it.curve.response.band_responses() for it in problem.items]
    n_draws = {len(b) for b in bands}
    if len(n_draws) == 1 and next(iter(n_draws)) > 0:
        tot = np.zeros(next(iter(n_draws)))
        for it, b in zip(problem.items, bands, strict=True):
            s = plan.item(it.key).spend
            tot += np.array([float(d.horizon_kpi(s, weeks)) for d in b])
        tp10, tp90 = (float(v) for v in np.percentile(tot, [10, 90]))

    counts: dict[str, int] = {}
    for x in items:
        word = role_words(x.role, x.hurdle, x.bar)
        counts[word] = counts.get(word, 0) + 1
    kpi_word = ctx.kpi_word
    # what the last dollar of a line item at the hurdle returns: the hurdle, unless a binding
    # share rule names every line item and splits a dollar more of budget between them
    at_hurdle = sorted(x.marginal_roi for x in items if x.role == INTERIOR)
    h_items = at_hurdle[len(at_hurdle) // 2] if at_hurdle else hurdle
    tail = (
        f"; a binding share rule splits that dollar, so the line items at their bar return "
        f"{fmt_ratio(h_items)} on their last dollar."
        if math.isfinite(hurdle) and abs(h_items - hurdle) > ROLE_TOL * max(abs(hurdle), 1e-12)
        else ", which the last dollar of every line item at the hurdle returns too."
    )
    headline = [
        f"The plan spends {fmt_amount(total)} over {scenario.horizon_weeks} weeks"
        + (f" (budget {fmt_amount(budget)})" if budget is not None else "")
        + f" and is modelled to buy {fmt_amount(plan.total_kpi)} {kpi_word}"
        + (f" (ROI {fmt_ratio(plan.roi, 2)})." if plan.roi is not None else "."),
        f"There is no hurdle: {slack}. A line item's dollars beyond its rules would only add "
        f"spend, unless the target rose above the {fmt_amount(plan.total_kpi)} {kpi_word} the "
        "plan already buys."
        if slack is not None
        else f"The last dollar in returns {fmt_ratio(hurdle)} {rctx.kpi_word}: "
        + (
            "the budget's shadow price"
            if budget is not None and scenario.objective != "max_net"
            else "the return at which a dollar pays its cost plus the budget's shadow price (the "
            "budget binds)"
            if budget is not None and (plan.budget_shadow_price or 0.0) > BINDING_PRICE
            else "the return at which a dollar pays its cost (the budget does not bind: the plan "
            "stops where one more dollar no longer pays back)"
            if budget is not None
            else "the return at which a dollar pays its cost (there is no budget)"
            if scenario.objective == "max_net"
            else "the return at which the target is met at least cost (there is no budget)"
        )
        + tail,
        "Line items: "
        + ", ".join(
            f"{n} {'at their bar' if w == AT_ITS_BAR and n > 1 else w}" for w, n in counts.items()
        )
        + ".",
    ]
    if composite:
        worth = " and ".join(f"{k} at {v:g}" for k, v in scenario.kpi_values.items())
        headline.insert(
            2,
            f"The objective counts the scenario's kpi_values ({worth} a unit): every return "
            "below (next dollar, hurdle, first dollar, the ladder's increments) is in that value "
            "per unit of money, not in the KPI alone.",
        )
    be = plan.break_even
    if be is not None:
        headline.insert(2, break_even_sentence(be))
    units = dict(plan.extras).get("planning_units")
    if units is not None:
        headline.append(planning_units_sentence(units, kpi_word, plan.objective))
    if tp10 is not None:
        headline.append(
            f"Over the model's draws the plan's {kpi_word} is between "
            f"{fmt_amount(tp10)} and {fmt_amount(tp90)} (P10–P90)."
        )
    lct = None
    if last is not None:
        lct = float(round(sum(last.values()), 2))
        headline.append(
            f"Last cycle spent {fmt_amount(lct)}; this plan changes that by "
            f"{fmt_delta(total - lct)}."
        )

    return Explanation(
        scenario=plan.scenario,
        objective=plan.objective,
        kpi=plan.kpi,
        horizon_weeks=plan.horizon_weeks,
        budget=budget,
        total_spend=total,
        total_kpi=plan.total_kpi,
        roi=plan.roi,
        objective_value=plan.objective_value,
        hurdle=hurdle,
        gap=plan.gap,
        status=str(plan.status),
        plan_tolerance=plan_tolerance,
        solver=plan.solver,
        headline=tuple(headline),
        items=tuple(items),
        ladder=ladder,
        stages=stages,
        groups=groups,
        constraints=notes,
        frontier=tuple(frontier),
        warnings=tuple(warnings),
        total_kpi_p10=tp10,
        total_kpi_p90=tp90,
        last_cycle_total=lct,
        increment=increment,
        tolerance=tolerance,
        n_solves=resolver.count,
        break_even=None if be is None else be.to_dict(),
        responses={it.key: it.curve.response for it in problem.items},
        markets=markets,
        owners=owners,
        market_stage=plan.market_stage_totals(),
        currency=str(plan.extras["currency"]) if plan.extras.get("currency") else None,
        stage_order=tuple(problem.stages),
        no_hurdle=slack,
        returns_in="value" if composite else ctx.kpi_word,
    )
