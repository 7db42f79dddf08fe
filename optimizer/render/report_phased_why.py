"""The justifications of a plan on a calendar in the review pack (``report_phased``): every line
item's role, returns and priced moves (``optimizer.explain.phased``) and the zero-based ladder, as
Markdown, HTML and workbook sheets."""

from __future__ import annotations

import math
from typing import Any

from optimizer.allocate import Plan
from optimizer.explain.phased import PhasedExplanation
from optimizer.explain.types import AT_ITS_BAR, HALF_CENT, INTERIOR, ROLE_WORDS, is_off_hurdle
from optimizer.formatting import delta, footed, money, ratio
from optimizer.render import charts
from optimizer.render.footing import shown_ladder
from optimizer.render.report_common import ladder_cut_words, ladder_line_sentence
from optimizer.render.report_html import _img


def _e(s: object) -> str:
    import html

    return html.escape(str(s))


def _r(v: float | None, digits: int = 2) -> str:
    return "–" if v is None else ratio(v, digits)


def fmt_delta(v: float) -> str:
    return delta(v, "−")


#: the justification table's hurdle column: not one hurdle but the mean of its periods' hurdles,
#: weighted by its spend in each (the JSON's per-period ``hurdle`` gives each period's own)
HURDLE_COLUMN = "hurdle (spend-weighted)"
#: ... and what it is, in words
HURDLE_WORDS = (
    "the hurdle of each period it is funded (the price of a dollar elsewhere in that period), "
    "averaged with its spend there as the weights: not one period's hurdle"
)

JUSTIFICATION_COLUMNS = (
    "line item",
    "stage",
    "role",
    "spend",
    "KPI",
    "ROI",
    "next dollar (min)",
    "next dollar (max)",
    HURDLE_COLUMN,
    "held by",
    "dropping it",
    "below break-even",
)


def _role_word(it: Any) -> str:
    """Its role's words; an interior one "at its bar" where, in a funded period, a binding share
    rule sets that bar apart from the period's hurdle."""
    if it.role == INTERIOR and any(
        pr.spend > HALF_CENT and pr.bar is not None and is_off_hurdle(pr.hurdle, pr.bar)
        for pr in it.periods
    ):
        return AT_ITS_BAR
    return ROLE_WORDS.get(it.role, it.role)


def justification_rows(exp: PhasedExplanation, shown: bool = False) -> list[list[Any]]:
    """Per line item: ``JUSTIFICATION_COLUMNS`` (the next dollar's return over its funded
    periods, carry-over included; its hurdle (spend-weighted): the hurdles of its funded
    periods averaged, weighted by its spend in each; dropping it: the change in the plan's KPI, re-solved, None when it is
    not funded or the drop is infeasible; below break-even: its funded ladder increments that
    return less than break-even, None when the KPI is not money). ``shown``: spend and KPI as a
    page shows them, whole units that foot over the line items (the amounts the sentences quote,
    ``explain.phased``), else the cents."""
    spend = [it.spend for it in exp.items]
    kpi = [it.kpi for it in exp.items]
    if shown:
        spend, kpi = footed(spend), footed(kpi)
    return [
        [
            it.id,
            it.stage,
            _role_word(it),
            sp,
            k,
            it.roi,
            it.marginal_min,
            it.marginal_max,
            _item_hurdle(it),
            "; ".join(it.rules) or "–",
            _net(exp, it.drop),
            it.below_break_even,
        ]
        for it, sp, k in zip(exp.items, spend, kpi, strict=True)
    ]


def _net(exp: PhasedExplanation, m: Any) -> float | None:
    """What a move does to the plan: its KPI, or under min_spend (the KPI held at the target)
    its spend."""
    if m is None:
        return None
    return m.objective if exp.objective in ("min_spend", "max_net") else m.total_kpi


def _item_hurdle(it: Any) -> float | None:
    """Its hurdle weighted by its spend in each period; None where there is none (a min_spend
    plan whose target does not bind)."""
    w = sum(p.spend for p in it.periods)
    h = float(it.hurdle) if w <= 0 else float(sum(p.spend * p.hurdle for p in it.periods) / w)
    return h if math.isfinite(h) else None


def _moves(it: Any) -> list[tuple[str, str]]:
    """A line item's priced moves: (title, sentence)."""
    out = []
    for title, m in (
        ("Next increment", it.next),
        ("Last increment", it.last),
        ("Dropping it", it.drop),
    ):
        if m is not None and m.sentence:
            out.append((title, m.sentence))
    if it.role_range is not None:
        out.append(("Over budgets", it.role_range.sentence))
    if it.position is not None:
        out.append(("On its curve", it.position.sentence))
    return out


def _ladder_lead(exp: PhasedExplanation) -> str:
    lad = shown_ladder(exp.ladder)  # as its tables show it (render.footing)
    be = exp.break_even
    funded = ("funded", "committed")
    below = (
        sum(s.amount for s in lad.steps if s.status in funded and s.return_ < be)
        if be is not None
        else None
    )
    return (
        f"Every line item's plan is cut into ten increments of its phasing (each a tenth of its "
        f"spend in every {exp.phasing}), each priced by the {exp.kpi} it buys over the horizon, "
        f"carry-over included, and ranked across the plan by {exp.kpi} per unit of money, a "
        f"{exp.phasing} under a binding rule on its total spend priced at its hurdle (so the "
        "return per plain unit of money need not fall down the ranking where such a rule binds); "
        "committed increments (locks and floors) come first. "
        + ladder_line_sentence(
            lad, "The target is met" if exp.objective == "min_spend" else "The budget runs out"
        )
        + (
            f" {money(below)} of the funded increments return less than break-even ({be:.2f}): "
            "those dollars do not pay back."
            if below is not None
            else ""
        )
        + (
            ""
            if lad.consistent
            else " The ranking and the plan disagree somewhere: a rule funds or blocks an "
            "increment out of its return order."
        )
    )


def headline_hurdle(exp: PhasedExplanation) -> str:
    moves = [m for it in exp.items for m in (it.next, it.last, it.drop) if m is not None]
    odd = [m for m in moves if m.status not in ("optimal", "infeasible")]
    return (
        (exp.break_even_sentence + " " if exp.break_even_sentence else "")
        + (
            f"There is no hurdle: {exp.no_hurdle}."
            if exp.no_hurdle
            else f"The last dollar in returns {exp.hurdle:.3f} {exp.kpi} ("
            + (
                "the return at which the target is met at least cost, there being no budget"
                if exp.objective == "min_spend"
                else "the return at which a dollar pays its cost plus the budget's shadow price, "
                "the budget binding"
                if exp.objective == "max_net" and exp.budget_state == "binds"
                else "the return at which a dollar pays its cost, the budget not binding"
                if exp.objective == "max_net" and exp.budget_state == "slack"
                else "the return at which a dollar pays its cost, there being no budget"
                if exp.objective == "max_net"
                else "the budget's shadow price"
            )
            + f": the hurdle; a {exp.phasing} under a binding rule on its total spend adds that "
            "rule's price)."
        )
        + (
            f" Over the model's draws the plan's {exp.kpi} is between "
            f"{money(exp.total_kpi_p10)} and {money(exp.total_kpi_p90)} (P10–P90; its spend "
            f"by {exp.phasing} held)."
            if exp.total_kpi_p10 is not None and exp.total_kpi_p90 is not None
            else ""
        )
        + f" The line items are justified below by {exp.n_solves} re-solves of the plan "
        + (
            f"(certified within {exp.tolerance:g}"
            + (
                f"; {exp.loose} of them within {exp.fallback:g}, as tight as the LP over pieces "
                "certifies them"
                if exp.loose
                else ""
            )
            + ")."
            if not odd
            else f"({len(odd)} of them not certified within the plan's tolerance either: their "
            f"numbers are the best plans found, status {', '.join(sorted({m.status for m in odd}))})."
        )
    )


def _md_justification(plan: Plan, exp: PhasedExplanation) -> str:
    """The line items justified and the ladder, as Markdown."""
    from optimizer.render.report_md import _LADDER_HEAD, _ladder_rows, _table, ladder_tables

    rows = [
        [
            r[0],
            r[2],
            money(r[3]),
            money(r[4]),
            _r(r[5]),
            "–"
            if r[6] is None
            else f"{_r(r[6], 3)}–{_r(r[7], 3)}"
            if r[7] != r[6]
            else _r(r[6], 3),
            _r(r[8], 3),
            "–" if r[10] is None else fmt_delta(r[10]),
            *([] if exp.break_even is None else [money(r[11] or 0.0)]),
        ]
        for r in justification_rows(exp, shown=True)
    ]
    table = _table(
        ["line item", "role", "spend", plan.kpi, "ROI", "next dollar returns", HURDLE_COLUMN,
         "dropping it", *([] if exp.break_even is None else ["below break-even"])],
        rows,
        right=range(2, 9),
    )  # fmt: skip
    parts = [
        "## Why each line item is where it is",
        "",
        headline_hurdle(exp),
        "",
        "The next dollar of a line item is priced in each period it is funded (what a dollar more "
        f"in that {exp.phasing} earns over the rest of the horizon, carry-over included); "
        "*dropping it* is the change in the plan's "
        + (
            "spend to still meet the target"
            if exp.objective == "min_spend"
            else "net value"
            if exp.objective == "max_net"
            else plan.kpi
        )
        + " when the line item gets nothing for the whole horizon and the rest of the "
        f"plan is re-optimised; *{HURDLE_COLUMN}* is {HURDLE_WORDS}"
        + (
            f"; *below break-even*: its funded increments on the ladder that return less than "
            f"{exp.break_even:.2f}, the dollars that do not pay back"
            if exp.break_even is not None
            else ""
        )
        + ".",
        "",
        table,
        "",
    ]
    for it in exp.items:
        parts += [f"### {it.id}", "", it.reason, ""]
        parts += [f"**{title}:** {text}\n" for title, text in _moves(it)]
    lad = shown_ladder(exp.ladder)  # whole units that foot (render.footing)
    parts += [
        "## The zero-based ladder",
        "",
        _ladder_lead(exp),
        "",
        *ladder_tables(lad, "the target is met here" if exp.objective == "min_spend" else None),
    ]
    parts += [
        "### The full ladder",
        "",
        _table(_LADDER_HEAD, _ladder_rows(lad.steps), right=(0, 3, 4, 5, 7)),
        "",
    ]
    return "\n".join(parts)


def _why_sheets(wb: Any, exp: PhasedExplanation) -> None:
    """Why, Why by period and Ladder sheets of a phased review."""
    from optimizer.render.report_xlsx import (
        MONEY,
        MONEY_DELTA,
        RATIO,
        _header,
        _total_row,
        _widths,
        _write_rows,
        ladder_sheet,
    )

    ws = wb.create_sheet("Why")
    moves = ("next: amount", "next: net", "last: amount", "last: net", "drop: own")
    cols = [*JUSTIFICATION_COLUMNS, *moves, "reason", "next increment", "last increment",
            "dropping it (why)", "over budgets", "on its curve"]  # fmt: skip
    _header(ws, 1, cols)
    rows = []
    for r, it in zip(justification_rows(exp), exp.items, strict=True):

        def pair(m: Any) -> list[Any]:
            return [None, None] if m is None else [m.amount, _net(exp, m)]

        rows.append(
            [
                *r,
                *pair(it.next),
                *pair(it.last),
                None if it.drop is None else it.drop.own_kpi,
                it.reason,
                *(m.sentence if m is not None else None for m in (it.next, it.last, it.drop)),
                None if it.role_range is None else it.role_range.sentence,
                None if it.position is None else it.position.sentence,
            ]
        )
    fmts = {4: MONEY, 5: MONEY, 6: RATIO, 7: RATIO, 8: RATIO, 9: RATIO, 11: MONEY_DELTA}
    fmts.update({12: MONEY, 13: MONEY, 14: MONEY_DELTA, 15: MONEY, 16: MONEY_DELTA})
    fmts[17] = MONEY_DELTA
    end = _write_rows(ws, 2, rows, fmts)
    _total_row(
        ws,
        end,
        len(cols),
        {
            1: "total",
            4: float(round(sum(it.spend for it in exp.items), 2)),
            5: float(sum(it.kpi for it in exp.items)),
        },
        fmts,
    )
    ws.freeze_panes = "B2"
    _widths(
        ws, {1: 20, 2: 14, 3: 12, 10: 40, 18: 80, 19: 60, 20: 60, 21: 60, 22: 60}, ncols=len(cols)
    )

    ws = wb.create_sheet("Why by period")
    _header(ws, 1, ("line item", "period", "spend", "next dollar", "hurdle", "status", "held by"))
    _write_rows(
        ws,
        2,
        [
            [
                it.id,
                p.period,
                p.spend,
                p.marginal,
                p.hurdle if math.isfinite(p.hurdle) else None,
                p.status,
                "; ".join(p.rules) or None,
            ]
            for it in exp.items
            for p in it.periods
        ],
        {3: MONEY, 4: RATIO, 5: RATIO},
    )
    ws.freeze_panes = "C2"
    _widths(ws, {1: 20, 2: 12, 3: 14, 4: 11, 5: 9, 6: 13, 7: 60})

    ladder_sheet(wb, exp.ladder)


def _html_justification(plan: Plan, exp: PhasedExplanation) -> str:
    """The line items justified and the ladder, as HTML."""
    from optimizer.render.report_html import _LADDER_HEAD, _ladder_rows, _table

    head = "".join(
        f"<th{' class=num' if num else ''}>{_e(h)}</th>"
        for h, num in (
            ("line item", False),
            ("role", False),
            ("spend", True),
            (plan.kpi, True),
            ("ROI", True),
            ("next dollar returns", True),
            (HURDLE_COLUMN, True),
            ("dropping it", True),
            *([] if exp.break_even is None else [("below break-even", True)]),
        )
    )
    body = "".join(
        f"<tr><td><a href='#why-{_e(r[0])}'>{_e(r[0])}</a></td><td>{_e(r[2])}</td>"
        f"<td class='num'>{_e(money(r[3]))}</td><td class='num'>{_e(money(r[4]))}</td>"
        f"<td class='num'>{_e(_r(r[5]))}</td><td class='num'>"
        + (
            "–"
            if r[6] is None
            else _e(_r(r[6], 3))
            if r[7] == r[6]
            else f"{_e(_r(r[6], 3))}–{_e(_r(r[7], 3))}"
        )
        + f"</td><td class='num'>{_e(_r(r[8], 3))}</td>"
        f"<td class='num'>{'–' if r[10] is None else _e(fmt_delta(r[10]))}</td>"
        + ("" if exp.break_even is None else f"<td class='num'>{_e(money(r[11] or 0.0))}</td>")
        + "</tr>"
        for r in justification_rows(exp, shown=True)
    )
    cards = "".join(
        f"<section class='why' id='why-{_e(it.id)}'><h3>{_e(it.id)} <span class='note'>"
        f"{_e(it.stage)} · {_e(_role_word(it))}</span></h3>"
        f"<p>{_e(it.reason)}</p>"
        + "".join(f"<p><b>{_e(t)}:</b> {_e(x)}</p>" for t, x in _moves(it))
        + "</section>"
        for it in exp.items
    )
    lad = exp.ladder
    png = charts.figure_png(
        charts.ladder_figure(
            lad,
            plan.kpi,
            break_even=exp.break_even,
            currency=str(plan.extras["currency"]) if plan.extras.get("currency") else None,
            runs_out="target is met" if exp.objective == "min_spend" else "budget runs out",
        )
    )
    lad = shown_ladder(lad)  # the tables in whole units that foot (render.footing)
    around = _ladder_rows(lad.above(5), lad.cutoff)
    around.append(
        '<tr class="cut"><td colspan="9">'
        + _e(
            ladder_cut_words(
                lad,
                "the target is met here"
                if exp.objective == "min_spend"
                else "the budget runs out here",
            )
        )
        + "</td></tr>"
    )
    around += _ladder_rows(lad.below(5), lad.cutoff)
    ladder = (
        "<h2 id='ladder'>The zero-based ladder</h2>"
        f"<p>{_e(_ladder_lead(exp))}</p>"
        f"<figure>{_img(png, 'the ladder: increments ranked by return, with the cut-off line')}"
        "<figcaption class='note'>Each bar is one increment of a line item's plan (a tenth of "
        "its spend in every period): its width is the money, its height the return over the "
        "horizon, carry-over included, its colour the line item's journey stage. Faded bars are "
        "not in the plan (below the line, unless a rule takes the plan out of return order); "
        "hatched ones are committed."
        + (
            f" Funded bars under the red break-even line ({exp.break_even:.2f}) buy less than "
            "they cost."
            if exp.break_even is not None
            else ""
        )
        + "</figcaption></figure><h3>Around the line</h3><div class='t'>"
        + _table(_LADDER_HEAD, around)
        + "</div>"
        + (
            "<h3>Kept out by a rule, whatever they return</h3><div class='t'>"
            + _table(_LADDER_HEAD, _ladder_rows(lad.blocked))
            + "</div>"
            if lad.blocked
            else ""
        )
        + f"<details><summary>The full ladder ({len(lad.steps)} increments)</summary>"
        f"<div class='t'>{_table(_LADDER_HEAD, _ladder_rows(lad.steps, lad.cutoff))}</div>"
        "</details>"
    )
    return (
        "<h2 id='why'>Why each line item is where it is</h2>"
        f"<p>{_e(headline_hurdle(exp))}</p><p class='note'>The next dollar of a line item is "
        f"priced in each {_e(exp.phasing)} it is funded (what a dollar more there earns over the "
        "rest of the horizon, carry-over included); <i>dropping it</i> is the change in the "
        f"plan's "
        + (
            "spend to still meet the target"
            if exp.objective == "min_spend"
            else "net value"
            if exp.objective == "max_net"
            else _e(plan.kpi)
        )
        + " when the line item gets nothing for the whole horizon and the "
        f"rest of the plan is re-optimised; <i>{_e(HURDLE_COLUMN)}</i> is {_e(HURDLE_WORDS)}"
        + (
            f"; <i>below break-even</i>: its funded increments on the ladder that return less "
            f"than {exp.break_even:.2f}, the dollars that do not pay back"
            if exp.break_even is not None
            else ""
        )
        + ".</p>"
        f"<div class='t'><table><tr>{head}</tr>{body}</table></div>{cards}{ladder}"
    )
