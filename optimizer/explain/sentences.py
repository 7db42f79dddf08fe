"""The review's sentences about one line item: why it stops where it stops, and where its plan
point sits on its response curve."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from optimizer.allocate.problem import money
from optimizer.explain.formatting import fmt_about, fmt_amount, fmt_delta, fmt_ratio
from optimizer.explain.roles import ReviewContext
from optimizer.explain.types import (
    CAPPED,
    HALF_CENT,
    HELD_UP,
    INTERIOR,
    NOT_WORTH_MINIMUM,
    ROLE_TOL,
    UNFUNDED,
    CurvePosition,
    Move,
)
from optimizer.response.model import TouchpointResponse


def reason_sentence(
    ctx: ReviewContext,
    role: str,
    names: Sequence[str],
    li_spend: float,
    marginal: float,
    hurdle: float,
    first: float,
    first_inc: float | None,
    first_amt: float,
    mif: float | None,
    gain: float | None,
    step: float,
    nxt: Move | None,
    slack: str | None = None,
    bar: float | None = None,
    bar_rules: Sequence[str] = (),
    first_cent: float | None = None,
) -> str:
    """Why a line item stops where it stops, in words (``gain``: the holding rule relaxed by
    ``step``, from a re-solve; ``slack``: a min_spend plan's target that does not bind, in
    words, when there is no hurdle). ``hurdle`` is the plan's, what its last dollar returns;
    ``bar`` the return the line item's next (or first) dollar needs to win money, where the
    binding share rules ``bar_rules`` (names) move it off the hurdle: stated apart.
    ``first_cent``: the average return of its first cent, said of an unfunded line item whose
    curve starts vertical (``first`` infinite: a hill of shape < 1), where its first dollar's
    return, the slope at zero, is no number a cent of money earns."""
    kpi_word = ctx.kpi_word
    labels = [ctx.labels.get(n, n) for n in names]
    rules = " and ".join(labels)
    if slack is not None:
        return _slack_reason(ctx, role, rules, marginal, first, first_inc, first_amt, slack, nxt)
    bar = hurdle if bar is None or not math.isfinite(bar) else bar
    moved = abs(bar - hurdle) > ROLE_TOL * max(abs(hurdle), 1e-12)
    # the share rules counted in its bar (those that hold it are named as its rules already)
    counted = " and ".join(ctx.labels.get(n, n) for n in bar_rules) or "the share rules"
    note = (
        f" (its bar, with {counted} counted: {fmt_ratio(bar)})"
        if moved and not set(bar_rules) & set(names)
        else ""
    )
    if role == INTERIOR and moved:
        return (
            f"Interior: its marginal return fell to its bar. At {fmt_amount(li_spend)} the next "
            f"dollar returns {fmt_ratio(marginal)} {kpi_word}, its bar with {counted} counted, not "
            f"the hurdle itself ({fmt_ratio(hurdle)}, what the plan's last dollar returns): a "
            "share rule ties its dollars to the spend of the line items it names; beyond this "
            "point the money does more elsewhere."
        )
    if role == INTERIOR:
        if hurdle <= 1e-12:
            return (
                f"Interior: it is funded until its curve is flat. Its next dollar returns "
                f"{fmt_ratio(marginal)} {kpi_word}, and no rule or budget limit is binding, so "
                "more money would buy nothing."
            )
        return (
            f"Interior: its marginal return fell to the hurdle. At {fmt_amount(li_spend)} "
            f"the next dollar returns {fmt_ratio(marginal)} {kpi_word}, the same as the last dollar "
            f"anywhere else in the plan (the hurdle, {fmt_ratio(hurdle)}); beyond this point "
            "the money does more elsewhere."
        )
    # a rule of its own holds it against its bar, which a share rule it is a member of moves:
    # the comparison with the hurdle need not hold (tv capped at its maximum inside a floor)
    vs_bar = f"its bar of {fmt_ratio(bar)} (with {counted} counted; the hurdle {fmt_ratio(hurdle)})"
    if role == CAPPED:
        than = (
            f"the hurdle of {fmt_ratio(hurdle)}{note}" if marginal > hurdle or not moved else vs_bar
        )
        txt = (
            f"Capped by {rules}. Its next dollar would still return {fmt_ratio(marginal)} {kpi_word}, "
            f"above {than}, so the plan would give it more if the rule allowed"
        )
        if gain is not None and gain >= 0:
            txt += (
                f"; raising {labels[0]} by {fmt_amount(step)} would add "
                f"{fmt_about(gain)} {ctx.obj_word}"
            )
        elif gain is not None:
            txt += _overshoot("raising", labels[0], step, gain, ctx)
        return txt + "."
    if role == HELD_UP:
        than = (
            f"the hurdle of {fmt_ratio(hurdle)}{note}" if marginal < hurdle or not moved else vs_bar
        )
        txt = (
            f"Held up by {rules}. Its next dollar returns only {fmt_ratio(marginal)} {kpi_word}, below "
            f"{than}: left to the optimiser it would get less"
        )
        if gain is not None and gain >= 0:
            txt += (
                f"; {labels[0]} costs {fmt_about(gain)} {ctx.obj_word} per "
                f"{fmt_amount(step)} it holds in"
            )
        elif gain is not None:
            txt += _overshoot("lowering", labels[0], step, gain, ctx)
        return txt + "."
    # a curve that starts vertical: the plan's amounts are in cents, and no cent earns the slope
    # at zero (radio at 0.15 of its scale on the awareness push: ∞ at zero, 0.432 over its
    # first cent against a bar of 0.565); its first cent's average return is what it offers
    unit = "dollar"
    if role == UNFUNDED and not math.isfinite(first) and first_cent is not None:
        first, unit = first_cent, "cent"
    if role == UNFUNDED and names and math.isfinite(first) and first > hurdle:
        # not the hurdle: a cap over it binds (it said "0.655, less than the hurdle of 0.588")
        return (
            f"Not funded: its first {unit} would return {fmt_ratio(first)} {kpi_word}"
            f"{'' if unit == 'dollar' else ' per unit of money on average'}, above "
            f"the plan's hurdle of {fmt_ratio(hurdle)}, but {rules} binds: the money it allows "
            f"earns more on the other line items it covers than this one's first {unit} would."
            + _forced_in(nxt, ctx)
        )
    if role == UNFUNDED:
        inc = (
            f"; its first {fmt_amount(first_amt)} would return {fmt_ratio(first_inc)} per unit "
            "of money"
            if first_inc is not None
            else ""
        )
        ratio = (
            f" ({bar / first:.1f} times what it has)" if first > 0 and math.isfinite(first) else ""
        )
        # a binding share rule (its stage's floor or cap, or one it is outside of) moves its bar
        why = f", with {counted} counted" if moved else ""
        # "its curve starts vertical, but even its first cent returns only 0.432 … on average"
        lead = "Not funded: " if unit == "dollar" else "Not funded: its curve starts vertical, but "
        avg = "" if unit == "dollar" else " per unit of money on average"
        opening = (
            f"{lead}even its first {unit} returns {'' if unit == 'dollar' else 'only '}"
            f"{fmt_ratio(first)} {kpi_word}{avg}, less than the hurdle of {fmt_ratio(hurdle)}, "
            f"what the plan's last dollar returns{inc}."
            if first < hurdle or not moved
            else f"{lead}its first {unit} returns {fmt_ratio(first)} {kpi_word}{avg}{inc}."
        )
        return (
            f"{opening} To win money it would need a first-{unit} return of at least "
            f"{fmt_ratio(bar)}{why}{ratio}." + _forced_in(nxt, ctx)
        )
    if role == NOT_WORTH_MINIMUM:
        avg = fmt_ratio(first_inc) if first_inc is not None else "–"
        opening = (
            f"its first dollar would return {fmt_ratio(first)} {kpi_word}, above the hurdle of "
            f"{fmt_ratio(hurdle)}"
            if math.isfinite(first)
            else f"its first dollars would return far more than the hurdle of "
            f"{fmt_ratio(hurdle)} (its curve starts vertical)"
        )
        return (
            f"Not funded: {opening}, but it can only be funded at "
            f"{money(mif or 0.0)} or more, and that whole block returns {avg} per unit of "
            f"money on average: less than the same money earns elsewhere in the plan "
            f"(the hurdle, {fmt_ratio(hurdle)}, and more once the rest is cut back)."
            + _forced_in(nxt, ctx)
        )
    return "The scenario is infeasible at this budget."


def target_slack_sentence(target: float, kpi_total: float, kpi_word: str) -> str:
    """A min_spend plan whose KPI target does not bind: why there is no hurdle."""
    return (
        f"the KPI target ({fmt_amount(target)} {kpi_word}) does not bind: the spend the rules "
        f"require already buys {fmt_amount(kpi_total)} {kpi_word}, so no dollar is spent to "
        "reach it and no dollar has a price elsewhere in the plan"
    )


def _slack_reason(
    ctx: ReviewContext,
    role: str,
    rules: str,
    marginal: float,
    first: float,
    first_inc: float | None,
    first_amt: float,
    slack: str,
    nxt: Move | None,
) -> str:
    """Why a line item of a min_spend plan whose target does not bind is where it is: the rules
    hold it there, or it gets nothing; either way its dollars are spend the target does not
    need."""
    kpi_word = ctx.kpi_word
    if role == UNFUNDED or role == NOT_WORTH_MINIMUM:
        if first_inc is not None:
            buys = (
                f"its first {fmt_amount(first_amt)} would return {fmt_ratio(first_inc)} "
                f"{kpi_word} per unit of money"
            )
        elif math.isfinite(first):
            buys = f"its first dollar would return {fmt_ratio(first)} {kpi_word}"
        else:
            buys = "its curve starts vertical"
        return (
            f"Not funded: {slack}. A plan that meets the target at least cost spends nothing "
            f"beyond its rules, so {buys}, but those dollars would not be needed: they would "
            "only add spend, unless the target rose above what the plan already buys."
            + _forced_in(nxt, ctx)
        )
    held = f"Held at its spend by {rules}" if rules else "Held at its spend by the rules"
    return (
        f"{held}: {slack}. Its next dollar returns {fmt_ratio(marginal)} {kpi_word}, but the "
        "target does not need it: left to the optimiser it would get only what the rules "
        "require."
    )


def _overshoot(verb: str, label: str, step: float, gain: float, ctx: ReviewContext) -> str:
    """A rule sitting just short of where the optimiser would stop: a whole step moving it
    overshoots, and the re-solve says the step loses (``gain`` < 0)."""
    return (
        f", but only a little: {verb} {label} by a whole {fmt_amount(step)} would overshoot "
        f"and lose {fmt_about(-gain)} {ctx.obj_word}"
    )


def _forced_in(nxt: Move | None, ctx: ReviewContext) -> str:
    """What forcing the line item in does to what the objective counts: the KPI (max_kpi), the
    plan's spend (min_spend: the target is held) or its (net) value."""
    if nxt is None or nxt.total_kpi is None:
        return ""
    if ctx.problem.scenario.objective != "max_kpi" and nxt.objective is not None:
        word, d = ctx.obj_word, nxt.objective
    else:
        word, d = ctx.problem.kpi, nxt.total_kpi
    return (
        f" Forcing in {fmt_amount(nxt.amount)} would change the plan's {word} by "
        f"{fmt_delta(d)} once the rest is re-allocated."
    )


def review_draws(tp: TouchpointResponse) -> list[TouchpointResponse]:
    """The draws a review reads a line item's KPI band from: the bands' draws (a KPI level: not
    the interval draws'), undated and on a calendar alike."""
    return tp.band_responses()


def curve_position(
    tp: TouchpointResponse, spend: float, weeks: float, kpi_word: str
) -> CurvePosition:
    weekly = spend / weeks
    sr = dict(tp.spend_range or {})
    lo, hi = sr.get("min"), sr.get("max")
    if spend <= HALF_CENT:
        where = "unfunded"
    elif hi is None:
        where = "unknown"
    elif weekly > hi * (1 + 1e-9):
        where = "beyond"
    elif lo is not None and weekly < lo * (1 - 1e-9):
        where = "below"
    else:
        where = "inside"
    extrap = where == "beyond"
    level = tp.saturation_level
    sat = float(tp.weekly_kpi(weekly)) / level if level > 0 else 0.0
    draws = review_draws(tp)
    p10 = p90 = None
    if draws and spend > HALF_CENT:
        ks = np.array([float(d.horizon_kpi(spend, weeks)) for d in draws])
        p10, p90 = (float(v) for v in np.percentile(ks, [10, 90]))
    if where == "unfunded":
        s = "Not funded, so no point on the curve."
    elif where == "unknown":
        s = (
            f"Plans {fmt_amount(weekly)} a week; the model does not record the spend it was "
            "fitted on, so whether this is extrapolation is unknown."
        )
    elif where == "beyond":
        s = (
            f"Extrapolation: {fmt_amount(weekly)} a week is beyond the most ever spent in a week "
            f"({fmt_amount(hi)}); the curve there is the model's guess, not evidence."
        )
    elif where == "below":
        s = (
            f"Plans {fmt_amount(weekly)} a week, below the least seen ({fmt_amount(lo)}); the "
            "curve there is interpolated towards zero."
        )
    else:
        s = (
            f"Plans {fmt_amount(weekly)} a week, inside the weekly spend seen "
            f"({fmt_amount(lo)} to {fmt_amount(hi)})."
        )
    if where not in ("unfunded",):
        s += f" It sits at {sat:.0%} of the curve's saturation level."
    if p10 is not None:
        s += (
            f" Over {len(draws)} draws of the model its {kpi_word} is between {fmt_amount(p10)} "
            f"and {fmt_amount(p90)} (P10–P90)."
        )
    return CurvePosition(
        weekly,
        lo,
        hi,
        sr.get("mean"),
        sr.get("recent"),
        where,
        extrap,
        sat,
        p10,
        p90,
        len(draws),
        s,
    )


def no_crossing(crossing: Any, threshold: str) -> str:
    """Why no budget is named where the marginal return falls to ``threshold`` (``crossing``: an
    ``economics.Crossing`` or ``BreakEven`` with its ``reason``): the rules cap every line item
    first, or the scenario without its budget could not be planned (a KPI floor no spend
    reaches: it was said that the rules cap every line item, of a sweep all of whose budgets
    were infeasible)."""
    reason = str(getattr(crossing, "reason", "") or "")
    if not reason or reason.startswith("the rules cap"):
        return f"the rules cap every line item before the marginal return falls to {threshold}"
    if reason.startswith("the rules without the budget: "):
        status = reason.removeprefix("the rules without the budget: ")
        words = {"time_limit": "not solved within its time limit", "error": "not solved"}
        reason = f"the scenario without its budget is {words.get(status, status.replace('_', ' '))}"
    return f"no budget is found where the marginal return falls to {threshold}: {reason}"


def break_even_sentence(be: Any) -> str:
    """The plan against break-even (``plan.extras['break_even']``, put there by
    ``optimizer.workflow.economics``): where the marginal money return falls to 1 + hurdle_rate,
    how much of the plan lies beyond it and what max_net would spend."""
    t = fmt_ratio(be.threshold, 2)
    at = f"the hurdle (1 + {be.hurdle_rate:g})" if be.hurdle_rate > 0 else "break-even"
    finite = be.marginal_return is not None and math.isfinite(be.marginal_return)
    last = fmt_ratio(be.marginal_return, 2) if finite else "n/a"
    if be.budget is None:
        return f"Break-even: the last dollar returns {last} in money; {no_crossing(be, t)}, {at}."
    head = (
        f"Break-even: the marginal return in money falls to {t}, {at}, at a budget of "
        f"{fmt_amount(be.budget)}"
    )
    # no last dollar to quote where none is spent for the objective (a min_spend plan whose
    # target does not bind)
    last_txt = f"its last dollar returns {last}" if finite else ""
    if getattr(be, "budget_unspent", 0.0) > 0:  # the budget's price is 0: no dollar returns it
        last_txt = f"its rules hold it {fmt_amount(be.budget_unspent)} below its budget"
    if be.spend_beyond <= 0.005:
        return head + f"; this plan stays within it{f' ({last_txt})' if last_txt else ''}."
    rb = be.return_beyond
    buys = f", which returns {fmt_ratio(rb, 2)} per dollar" if rb is not None else ""
    return (
        f"{head}: {fmt_amount(be.spend_beyond)} of this plan lies beyond it{buys}"
        f"{f' ({last_txt})' if last_txt else ''}; objective max_net would spend "
        f"{fmt_amount(be.budget)}."
    )


def planning_units_sentence(units: Any, kpi_word: str, objective: str = "max_kpi") -> str:
    """The plan's planning units (``plan.extras['planning_units']``, put there by
    ``optimizer.workflow.planning_units``): the rule, what each costs against the plan without
    it (a re-solve), and the budget left unallocated below one unit."""
    rules = []
    if units.min_line_item:
        rules.append(f"every line item is 0 or at least {fmt_amount(units.min_line_item)}")
    if units.round_to:
        rules.append(f"a multiple of {fmt_amount(units.round_to)}")
    text = "Planning units: " + (" and ".join(rules) if rules else "none") + " (held by the solver)"
    unit_of = {"max_kpi": kpi_word, "max_net": "net value", "min_spend": "spend"}.get(
        objective, "value"
    )
    parts = []
    for c in units.costs:
        if c.objective_lost is None:
            parts.append(f"{c.rule}: not priced (the plan without it is {c.status})")
            continue
        lost = max(c.objective_lost, 0.0)
        parts.append(
            f"{c.rule} costs {fmt_amount(lost)} {unit_of}"
            + (
                f" ({fmt_amount(max(c.kpi_lost, 0.0))} {kpi_word})"
                if objective != "max_kpi" and c.kpi_lost is not None
                else ""
            )
        )
    if parts:
        text += "; against the plan without it, " + ", ".join(parts)
    if units.unallocated is not None and units.unallocated > 0.005:
        text += (
            f"; {fmt_amount(units.unallocated)} of the budget is left unallocated (less than "
            "a unit, or held back by the rules)"
        )
    return text + "."
