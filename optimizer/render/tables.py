"""Terminal tables (rich) for plans and comparisons."""

from __future__ import annotations

import math
import re

from rich import box
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from optimizer.allocate import Plan
from optimizer.allocate.rounding import BROKEN_IN_CENTS
from optimizer.explain.sentences import no_crossing
from optimizer.formatting import (
    MISSING,
    delta,
    delta_shown,
    finite,
    money,
    ratio,
    share,
    with_currency,
)
from optimizer.formatting import step as fmt_step
from optimizer.render.footing import footed_frame, footed_groups, shown
from optimizer.render.terminal import prepared
from optimizer.workflow.compare import Comparison
from optimizer.workflow.sweep import shown_infeasible


def period_table(plan: Plan) -> Table:
    """A phased plan by period (contract 7): spend by stage, total spend and KPI per period.
    Whole units that foot both ways (``render.footing``): each period's stages sum to its
    spend, each stage's periods to the stage's total as the "by stage" table shows it."""
    stages = list(plan.stage_totals())
    see = shown(plan)
    by_stage, spends, stage_totals = see.period_stage
    kpis = see.period_kpi
    t = Table(
        box=box.SIMPLE_HEAD,
        title=f"by {plan.phasing} (from {plan.start})",
        title_justify="left",
        show_footer=True,
    )
    t.add_column("period", footer="total")
    t.add_column("weeks", justify="right", footer=str(sum(p.weeks for p in plan.periods)))
    for j, st in enumerate(stages):
        t.add_column(st, justify="right", footer=money(stage_totals[j]))
    t.add_column(
        with_currency("spend", currency(plan)), justify="right", footer=money(see.total_spend)
    )
    t.add_column(plan.kpi, justify="right", footer=money(see.total_kpi))
    for k, p in enumerate(plan.periods):
        t.add_row(
            p.period,
            str(p.weeks),
            *(money(v) for v in by_stage[k]),
            money(spends[k]),
            money(kpis[k]),
        )
    if plan.kpi_after:
        t.add_row("after", "", *("" for _ in stages), "", money(kpis[-1]), style="dim")
    return t


def currency(plan: Plan) -> str | None:
    """The plan's currency (its model's ``currency``), for money headers; None: unnamed."""
    cur = plan.extras.get("currency")
    return str(cur) if cur else None


def held_by_words(plan: Plan, li) -> list[str]:
    """A line item's binding rules in words: ``max``, ``lock`` as they are; a rule named by its
    row (``tp_period_change_up__2026_12__tv``) by its label, short: ``change limit in 2026-12``
    (the label less "the", the line item's name and the limit in brackets, which the binding
    constraints table gives in full)."""
    labels = {c.name: c.label for c in plan.constraints}
    out = []
    for b in li.binding:
        label = labels.get(b)
        if label is None:
            out.append(b)
            continue
        words = re.sub(r"\s*\([^()]*\)", "", label)
        words = re.sub(r"^the ", "", words)
        words = re.sub(rf"^{re.escape(li.id)}(@\S+)? ", "", words)
        out.append(words)
    return out


def anchored_status(plan: Plan) -> str | None:
    """An anchored plan's status in words (``optimize --robust anchored``): it is certified
    only as the best step of its line, so it is never called optimal; None for any other."""
    if plan.extras.get("robust") != "anchored" or not plan.ok:
        return None
    return f"anchored, step {_step(plan)}"


def _step(plan: Plan) -> str:
    step = plan.extras.get("step")
    return fmt_step(step) if isinstance(step, int | float) else "?"


def _line_start(plan: Plan) -> str:
    """Where an anchored plan's line starts: the historical mix, or the plan nearest it that
    holds every rule when the historical mix breaks one."""
    start = plan.extras.get("anchor_start")
    if isinstance(start, dict) and start:
        return "the plan nearest the historical mix that holds every rule"
    return "the historical mix"


def _how(plan: Plan) -> str:
    """How a plan was solved, as its certificate line says it: its pieces, rounds and solver; a
    solve on the curves themselves (a phased plan's interior point) has no pieces to count (it
    read '0 pieces')."""
    pieces = f"{plan.pieces} pieces" if plan.pieces else "on the curves themselves"
    return f"{pieces}, {plan.rounds} round(s), {plan.solver}"


def plan_renderable(plan: Plan) -> Group:
    parts: list[RenderableType] = []
    anchored = anchored_status(plan)
    head = (
        Text.assemble(
            (f"{plan.scenario}", "bold"),
            f"  ·  {plan.objective}  ·  anchored plan (step {_step(plan)} of the line "
            f"from {_line_start(plan)}, 0, to the optimum on the point curves, 1)",
            *(() if plan.status == "optimal" else ("  ·  status ", (str(plan.status), "red"))),
        )
        if anchored
        else Text.assemble(
            (f"{plan.scenario}", "bold"),
            f"  ·  {plan.objective}  ·  status ",
            (plan.status, "green" if plan.status == "optimal" else "red"),
        )
    )
    parts.append(head)
    if not plan.ok:
        parts.append(Text(plan.message))
        return Group(*parts)
    # whole units that foot to the totals shown, as in every table of the plan (render.footing)
    see = shown(plan)
    t = Table(box=box.SIMPLE_HEAD, show_footer=True)
    total = plan.total_spend
    markets = plan.has_markets
    owners = any(li.owner for li in plan.line_items)
    t.add_column("line item", footer="total")
    if markets:
        t.add_column("market")
    t.add_column("stage")
    if owners:
        t.add_column("owner")
    t.add_column(
        with_currency("spend", currency(plan)), justify="right", footer=money(see.total_spend)
    )
    t.add_column("share", justify="right", footer=share(1.0) if total > 0 else MISSING)
    t.add_column(plan.kpi, justify="right", footer=money(see.total_kpi))
    t.add_column("ROI", justify="right", footer=ratio(plan.roi, 2))
    t.add_column("marginal ROI", justify="right")
    t.add_column("held by")
    for li, spend, kpi in zip(plan.line_items, see.spend, see.kpi, strict=True):
        t.add_row(
            li.id,
            *([li.market or "national"] if markets else []),
            li.stage,
            *([li.owner or ""] if owners else []),
            money(spend),
            share(li.spend / total) if total > 0 else MISSING,
            money(kpi),
            ratio(li.roi, 2),
            ratio(li.marginal_roi, 3),
            ", ".join(held_by_words(plan, li)),
        )
    parts.append(t)
    st = Table(box=box.SIMPLE_HEAD, title="by stage", title_justify="left")
    st.add_column("stage")
    st.add_column(with_currency("spend", currency(plan)), justify="right")
    st.add_column("share", justify="right")
    st.add_column(plan.kpi, justify="right")
    for (name, v), (spend, kpi) in zip(
        plan.stage_totals().items(), see.stages.values(), strict=True
    ):
        st.add_row(
            name,
            money(spend),
            share(v["spend"] / total) if total > 0 else MISSING,
            money(kpi),
        )
    parts.append(st)
    if plan.periods:
        parts.append(period_table(plan))
    for title, totals in (("by owner", plan.owner_totals()), ("by market", plan.market_totals())):
        if not totals:
            continue
        ot = Table(box=box.SIMPLE_HEAD, title=title, title_justify="left")
        ot.add_column(title.split()[-1])
        ot.add_column(with_currency("spend", currency(plan)), justify="right")
        ot.add_column("share", justify="right")
        ot.add_column(plan.kpi, justify="right")
        for (name, v), (spend, kpi) in zip(
            totals.items(),
            see.breakdown(totals, "owner" if title == "by owner" else None).values(),
            strict=True,
        ):
            ot.add_row(
                name,
                money(spend),
                share(v["spend"] / total) if total > 0 else MISSING,
                money(kpi),
            )
        parts.append(ot)
    binding = [c for c in plan.constraints if c.binding]
    if binding:
        ct = Table(box=box.SIMPLE_HEAD, title="binding constraints", title_justify="left")
        ct.add_column("constraint")
        ct.add_column("shadow price", justify="right")
        for c in binding:
            ct.add_row(c.label, ratio(c.shadow_price, 4))
        parts.append(ct)
    point = plan.extras.get("point_optimum") if plan.extras.get("robust") == "anchored" else None
    if isinstance(point, dict) and plan.status == "optimal":  # optimize --robust anchored
        g = point.get("gap")
        gap = "–" if g is None else "< 0.0001%" if g < 1e-6 else f"{g:.4%}"
        parts.append(
            Text(
                f"the optimum on the model's curves (step 1) earns "
                f"{money(point.get('kpi'), 'small')}, certified within {gap} ({_how(plan)}); "
                f"this plan is the best of "
                f"{point.get('steps')} steps on the line from the historical mix to it"
                + (
                    " (from the plan nearest the historical mix that holds every rule)"
                    if plan.extras.get("anchor_start")
                    else ", from its first step that holds every rule"
                    if plan.extras.get("first_feasible_step")
                    else ""
                )
                + ", every step compared",
                style="dim",
            )
        )
    elif plan.gap is not None and plan.status == "optimal":
        gap = "< 0.0001%" if plan.gap < 1e-6 else f"{plan.gap:.4%}"
        parts.append(
            Text(
                f"certified within {gap} of the exact optimum on the model's curves ({_how(plan)})",
                style="dim",
            )
        )
    elif plan.status == "not_certified":
        gap = "unknown" if plan.gap is None else f"{plan.gap:.4%}"
        cents = plan.message.find(BROKEN_IN_CENTS) if plan.message else -1
        why = (  # the rule its cents break (allocate.rounding.said_in_cents), else the gap
            plan.message[cents:]
            if cents >= 0
            else f"the plan holds every rule, but its gap to the bound on the exact optimum is "
            f"{gap}, above the tolerance"
        )
        parts.append(
            Text(
                f"NOT certified: {why} ({_how(plan)})",
                style="red",
            )
        )
    note = break_even_text(plan)
    if note:
        be = plan.break_even
        beyond = be is not None and be.spend_beyond > 0.005
        parts.append(Text(note, style="yellow" if beyond else ""))
    for u in plan.extras.get("untested") or ():  # type: ignore[attr-defined]
        from optimizer.workflow.untested import untested_sentence

        parts.append(Text(untested_sentence(u, money, plan.kpi), style="yellow"))
    units = plan.extras.get("planning_units")
    if units is not None:
        from optimizer.explain.sentences import planning_units_sentence

        parts.append(Text(planning_units_sentence(units, plan.kpi, plan.objective)))
    return Group(*parts)


def break_even_text(plan: Plan) -> str | None:
    """Where the plan stands against break-even (``extras['break_even']``), in one sentence."""
    be = plan.break_even
    if be is None:
        return None
    t = ratio(be.threshold, 2)
    at = f"the hurdle (1 + {be.hurdle_rate:g})" if be.hurdle_rate > 0 else "break-even"
    last = ratio(be.marginal_return, 2)
    if be.budget is None:
        return f"Break-even: the last dollar returns {last}; {no_crossing(be, t)}, {at}."
    head = f"Break-even: the marginal return falls to {t}, {at}, at a budget of {money(be.budget)}"
    if be.hurdle_rate > 0 and be.payback_budget is not None:
        head += f" (to 1.00 at {money(be.payback_budget)})"
    # no last dollar to quote where none is spent for the objective (a min_spend plan whose
    # target does not bind)
    finite = be.marginal_return is not None and math.isfinite(be.marginal_return)
    last_txt = f" (its last dollar returns {last})" if finite else ""
    if be.budget_unspent > 0:  # the budget's price is 0, no dollar of the plan returns that
        last_txt = f" (its rules hold it {money(be.budget_unspent)} below its budget)"
    if be.spend_beyond <= 0.005:
        return head + f"; this plan stays within it{last_txt}."
    rb = be.return_beyond
    buys = f", returning {ratio(rb, 2)} per dollar" if rb is not None else ""
    return (
        f"{head}: {money(be.spend_beyond)} of this plan lies beyond it{buys}{last_txt}; "
        f"max_net would spend {money(be.budget)}."
    )


def extrapolation_lines(plan: Plan) -> list[str]:
    """One phrase per line item whose curve is used beyond its data (``extras['extrapolation']``)."""
    out = []
    for x in plan.extrapolation:
        name = x["id"] + (f"@{x['market']}" if x.get("market") else "")
        if x["kind"] == "no_data":
            out.append(
                f"{name}'s curve has no data (no spend seen), so its "
                f"{money(x['weekly_spend'])} a week rests on the curve alone"
            )
        else:
            when = f" in {x['period']}" if x.get("period") else ""
            out.append(
                f"{name} plans {money(x['weekly_spend'])} a week{when}, beyond the most spent in "
                f"a week of its history ({money(x['max_seen'])})"
            )
    return out


def comparison_renderable(comp: Comparison) -> Group:
    parts: list[RenderableType] = []
    s = comp.summary()
    t = Table(box=box.SIMPLE_HEAD, title="scenarios", title_justify="left")
    bes = [p.break_even for p in comp.plans]
    money_kpi = any(b is not None for b in bes)
    cur = next((currency(p) for p in comp.plans if currency(p)), None)
    cols = [
        "scenario",
        "status",
        with_currency("spend", cur),
        "KPI",
        "ROI",
        "marginal ROI",
        with_currency("Δ spend", cur),
        "Δ KPI",
    ]
    if money_kpi:  # where the marginal return falls to 1 + hurdle_rate, and the spend past it
        cols += [with_currency("break-even", cur), with_currency("beyond it", cur)]
    for col in cols:
        t.add_column(col, justify="left" if col in ("scenario", "status") else "right")
    # each Δ is the difference of the amounts as shown: the row foots on the page
    ref_row = s.iloc[comp.reference] if comp.reference < len(s) else s.iloc[0]
    for k, (_, r) in enumerate(s.iterrows()):
        be = bes[k] if k < len(bes) else None
        more = []
        if money_kpi:
            more = [
                "–" if be is None else ("none" if be.budget is None else money(be.budget)),
                "–" if be is None else money(be.spend_beyond),
            ]
        plan = comp.plans[k] if k < len(comp.plans) else None
        t.add_row(
            r["scenario"],
            (plan and anchored_status(plan)) or r["status"],
            money(r["total_spend"], "small"),
            money(r["total_kpi"], "small"),
            ratio(r["roi"], 2),
            ratio(r["marginal_roi"], 3),
            *[
                MISSING
                if finite(r[f"delta_{c}"]) is None
                else delta_shown(r[f"total_{c}"], ref_row[f"total_{c}"], "small")
                for c in ("spend", "kpi")
            ],
            *more,
        )
    parts.append(t)
    if money_kpi:
        parts.append(
            Text(
                "break-even: the budget at which each scenario's marginal return falls to "
                "1 + its hurdle_rate (what max_net would spend); beyond it: the plan's spend past "
                "that budget",
                style="dim",
            )
        )

    li = comp.by_line_item()
    plan_cols = [j for j, c in enumerate(li.columns) if j > 0 and not str(c).startswith("Δ")]
    # each plan's column foots to its total as shown, the Δ columns taken from the amounts shown
    li = footed_frame(li, [li.columns[j] for j in plan_cols])
    member = {"stage": dict(li["stage"]), **comp.line_item_labels()}
    for what, bs in (
        ("stage", comp.by_stage()),
        ("owner", comp.by_total("owner")),
        ("market", comp.by_total("market")),
    ):
        if not len(bs):
            continue
        # a stage or owner is the sum of its line items as shown (a market: its share of a
        # national buy too, so its own rounding)
        shown_bs = (
            footed_groups(bs, li, member[what])
            if what != "market" and what in member
            else footed_frame(bs, list(bs.columns))
        )
        st = Table(
            box=box.SIMPLE_HEAD, title=with_currency(f"spend by {what}", cur), title_justify="left"
        )
        st.add_column(what)
        for c in bs.columns:
            st.add_column(str(c), justify="right")
        for name, row in shown_bs.iterrows():  # they foot
            st.add_row(str(name), *[money(v, "small") for v in row])
        parts.append(st)
    lt = Table(
        box=box.SIMPLE_HEAD,
        title=with_currency(f"spend by line item (Δ against {comp.reference_plan.scenario})", cur),
        title_justify="left",
    )
    lt.add_column("line item")
    lt.add_column("stage")
    for c in li.columns[1:]:
        lt.add_column(str(c), justify="right")
    # the reference plan's column: the plans' columns in order, each but the reference's followed
    # by its Δ column
    ref_col = plan_cols[comp.reference] if comp.reference < len(plan_cols) else None
    for tid, row in li.iterrows():
        values = list(row.iloc[1:])
        cells = []
        for j, (c, v) in enumerate(zip(li.columns[1:], values, strict=True), start=1):
            if not str(c).startswith("Δ"):
                cells.append(money(v, "small"))
            elif ref_col is None:
                cells.append(delta(v))
            else:  # the difference of the two amounts as shown, so that the row foots on the
                # page (1,894,775 -> 1,547,707 is -347,068, not the -347,069 of the cents)
                cells.append(delta_shown(values[j - 2], values[ref_col - 1], "small"))
        lt.add_row(str(tid), row["stage"], *cells)
    parts.append(lt)
    for p in comp.plans:
        if not p.ok:
            parts.append(Text(f"{p.scenario}: {p.status}: {p.message}", style="red"))
    for p in comp.plans:  # planning units (min_line_item, round_to) and what each costs
        units = p.extras.get("planning_units")
        if units is not None:
            from optimizer.explain.sentences import planning_units_sentence

            parts.append(
                Text(f"{p.scenario}: {planning_units_sentence(units, p.kpi, p.objective)}")
            )
    return Group(*parts)


def print_renderable(obj, *, file=None, width: int | None = None) -> None:
    """Print to the terminal (or ``file``), fitted to its width (``render.terminal``)."""
    thing, w = prepared(obj, width)
    Console(file=file, width=w, soft_wrap=False).print(thing)


def render_text(obj, width: int | None = None) -> str:
    """The text a terminal shows, fitted to its width (``-o FILE`` of a table)."""
    import io

    thing, w = prepared(obj, width)
    console = Console(width=w, record=True, file=io.StringIO())
    console.print(thing)
    return console.export_text()


def frontier_renderable(frontier) -> Group:
    t = Table(
        box=box.SIMPLE_HEAD, title=f"budget frontier: {frontier.scenario}", title_justify="left"
    )
    eco = frontier.economics
    cur = getattr(frontier, "currency", None)
    cols = [
        with_currency("budget", cur),
        "status",
        with_currency("spend", cur),
        "KPI",
        "ROI",
        "marginal ROI",
    ]
    if eco is not None:
        cols += ["beyond the hurdle" if eco.hurdle_rate > 0 else "beyond break-even", ""]
    for col in cols:
        t.add_column(col, justify="left" if col in ("status", "") else "right")
    marks: dict[int, str] = {}
    if eco is not None:  # the first point at or past each crossing
        points = [("break-even", eco.payback)]
        if eco.hurdle_rate > 0:
            points.insert(0, ("the hurdle", eco.hurdle))
        for name, c in points:
            if c.budget is None:
                continue
            k = next(
                (i for i, p in enumerate(frontier.plans) if p.budget >= c.budget - 0.005), None
            )
            if k is not None:
                marks[k] = (marks[k] + ", " if k in marks else "← past ") + name
    for i, p in enumerate(frontier.points()):
        more = []
        if eco is not None:
            more = [money(p["spend_beyond"]), marks.get(i, "")]
        t.add_row(
            money(p["budget"], "small"),
            str(p["status"]),
            money(p["total_spend"], "small"),
            money(p["total_kpi"], "small"),
            ratio(p["roi"], 2),
            ratio(p["marginal_roi"], 3),
            *more,
        )
    parts: list[RenderableType] = [t]
    for note in (frontier_infeasible_text(frontier), frontier_break_even_text(frontier)):
        if note:
            parts.append(Text(note))
    return Group(*parts)


def frontier_infeasible_text(frontier) -> str | None:
    """Why the sweep's infeasible budgets are infeasible: the diagnosis of the highest of them
    (the closest to a plan, when the rules need a larger budget), naming the rules that
    conflict, as ``optimize`` does."""
    bad = [p for p in frontier.plans if p.status == "infeasible"]
    k = shown_infeasible(frontier.plans)
    if k is None:
        return None
    amounts = [money(p.budget, "small") for p in bad]
    where = (
        amounts[0]
        if len(bad) == 1
        else f"{amounts[0]} and {amounts[1]}"
        if len(bad) == 2
        else f"{len(bad)} budgets ({amounts[0]} to {amounts[-1]})"
    )
    last = frontier.plans[k]
    why = last.message or "the rules cannot all hold"
    if len(bad) == 1:
        return f"Infeasible at {where}: {why}."
    return f"Infeasible at {where}; at {money(last.budget, 'small')}: {why}."


def frontier_break_even_text(frontier) -> str | None:
    eco = frontier.economics
    if eco is None:
        return None
    value = (
        f"a unit of {frontier.plans[0].kpi if frontier.plans else 'KPI'} is worth "
        f"{ratio(eco.value_per_kpi, 2)} (value_per_kpi)"
        if eco.value_source == "value_per_kpi"
        else f"the KPI is {frontier.plans[0].kpi if frontier.plans else 'revenue'}"
    )
    if eco.hurdle.budget is None:
        return f"Break-even ({value}): {no_crossing(eco.hurdle, ratio(eco.hurdle.threshold, 2))}."
    text = (
        f"Break-even ({value}): the marginal return falls to 1.00 at a budget of "
        f"{money(eco.payback.budget)}"
        if eco.payback.budget is not None
        else f"Break-even ({value}): the marginal return stays above 1.00 within the rules"
    )
    if eco.hurdle_rate > 0:
        text += (
            f", and to the hurdle {ratio(eco.hurdle.threshold, 2)} (1 + hurdle_rate) at "
            f"{money(eco.hurdle.budget)}"
        )
    return text + (
        f"; past {money(eco.hurdle.budget)} a dollar returns less than "
        f"{ratio(eco.hurdle.threshold, 2)} (max_net stops there)."
    )
