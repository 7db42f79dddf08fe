"""What the review pack's renderers share: number formats, and the rows of each table.

The Markdown, HTML and XLSX reports lay out the same tables; the rows are built here once, as
plain values (numbers stay numbers for the workbook; ``optimizer.formatting`` turns them into text
for the others).
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from typing import Any

from optimizer.explain import (
    ROLE_WORDS,
    Explanation,
    Ladder,
    LadderStep,
    LineItemExplanation,
)
from optimizer.explain.types import role_words
from optimizer.formatting import compact, delta, excel_money, money, ratio, share, with_currency
from optimizer.formatting import shown as shown_amount
from optimizer.formatting import step as fmt_step
from optimizer.scenario.rules import kind_words

__all__ = ["delta", "money", "ratio", "share"]


#: headers of the review's (and the compare workbook's) columns that hold spend: they carry the
#: currency's mark (``spend (€)``); a KPI column does not, even a revenue one
SPEND_HEADERS = frozenset(
    {
        "spend",
        "total spend",
        "next +",
        "last −",
        "weekly spend",
        "max weekly seen",
        "last cycle",
        "Δ vs last cycle",
        "amount",
        "cumulative spend",
        "Δ spend",
        "break-even budget",
        "spend beyond it",
        "relaxed by",
    }
)
#: the summary's rows that hold spend
SPEND_ROWS = frozenset(
    {
        "Budget",
        "Total spend",
        "Break-even budget (max_net's spend)",
        "Spend beyond break-even",
        "Last cycle spend",
        "Change vs last cycle",
    }
)


_CURRENCY: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "budgetopt_review_currency", default=None
)


@contextlib.contextmanager
def currency_of_review(currency: str | None) -> Iterator[None]:
    """While a review is rendered: its tables' spend headers carry ``currency``'s mark."""
    token = _CURRENCY.set(currency)
    try:
        yield
    finally:
        _CURRENCY.reset(token)


def current_headers(cols: Any) -> tuple[str, ...]:
    """``headers`` in the currency of the review being rendered."""
    return headers(cols, _CURRENCY.get())


def is_spend_header(h: str) -> bool:
    """A spend column's header (``spend``, or a comparison's ``spend: base``)."""
    return h in SPEND_HEADERS or h.split(": ", 1)[0] in SPEND_HEADERS


def headers(cols: Any, currency: str | None) -> tuple[str, ...]:
    """Column headers with the currency's mark on the spend columns (``spend (€)``)."""
    return tuple(with_currency(c, currency) if is_spend_header(c) else c for c in cols)


def mark_currency(wb: Any, currency: str | None) -> None:
    """A workbook's spend in its currency: every spend column's header marked (``spend (€)``)
    and its numbers formatted with the mark (``"€"#,##0``); the summary's spend rows too. KPI
    columns keep plain numbers. Nothing changes without a currency."""
    if not currency:
        return
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                v = cell.value
                if not isinstance(v, str):
                    continue
                if v in SPEND_ROWS:  # a summary row: its value sits to the right
                    right = ws.cell(row=cell.row, column=cell.column + 1)
                    if isinstance(right.value, (int, float)):
                        right.number_format = excel_money(right.number_format, currency)
                    cell.value = with_currency(v, currency)
                elif is_spend_header(v):
                    head = v.split(": ", 1)
                    cell.value = with_currency(head[0], currency) + (
                        f": {head[1]}" if len(head) > 1 else ""
                    )
                    for below in ws.iter_rows(
                        min_row=cell.row + 1, min_col=cell.column, max_col=cell.column
                    ):
                        c = below[0]
                        if isinstance(c.value, (int, float)) and not isinstance(c.value, bool):
                            c.number_format = excel_money(c.number_format, currency)


def role_word(role: str, it: Any = None) -> str:
    """A role's words; with its line item, "at its bar" where that bar is not the hurdle."""
    if it is None:
        return ROLE_WORDS.get(role, role)
    return role_words(role, getattr(it, "hurdle", None), getattr(it, "bar", None))


def held_by(it: LineItemExplanation) -> str:
    return "; ".join(it.rule_labels)


def summary_rows(e: Explanation) -> list[tuple[str, Any, str]]:
    """(label, value, kind) for the summary; kind is money, ratio, pct, text or int."""
    rows: list[tuple[str, Any, str]] = [
        ("Scenario", e.scenario, "text"),
        ("Objective", e.objective, "text"),
        ("Horizon (weeks)", e.horizon_weeks, "int"),
        ("Budget", e.budget, "money"),
        ("Total spend", e.total_spend, "money"),
        (f"Modelled {e.kpi}", e.total_kpi, "money"),
        ("ROI", e.roi, "ratio"),
        (
            ("Hurdle", "none: the KPI target does not bind", "text")
            if e.no_hurdle
            else ("Hurdle (budget shadow price)", e.hurdle, "ratio")
        ),
    ]
    be = e.break_even
    if be is not None:
        rows.append(("Break-even threshold (1 + hurdle_rate)", be["threshold"], "ratio"))
        rows.append(("Break-even budget (max_net's spend)", be["budget"], "money"))
        rows.append(("Spend beyond break-even", be["spend_beyond"], "money"))
    if e.total_kpi_p10 is not None:
        rows.append((f"{e.kpi} P10 (model's draws)", e.total_kpi_p10, "money"))
        rows.append((f"{e.kpi} P90 (model's draws)", e.total_kpi_p90, "money"))
    if e.last_cycle_total is not None:
        rows.append(("Last cycle spend", e.last_cycle_total, "money"))
        rows.append(("Change vs last cycle", e.total_spend - e.last_cycle_total, "money"))
    rows.append(("Certificate gap", e.gap, "pct"))
    rows.append(("Solver", e.solver, "text"))
    rows.append(("Re-solves behind this report", e.n_solves, "int"))
    if e.optimize_default is not None:
        rows.append((DEFAULT_ROW, default_plan_cell(e), "text"))
    return rows


#: the summary's row that says which plan ``optimize``'s default makes
DEFAULT_ROW = "optimize's default (--robust auto)"


def default_plan_cell(e: Explanation) -> str:
    """The summary's word on the plan ``optimize``'s default makes: this plan, or the anchored
    plan at its step with its KPI against this plan's ('' without ``optimize_default``)."""
    d = e.optimize_default
    if d is None:
        return ""
    if d.same_plan:
        return "this plan (the optimum on the point curves)"
    return (
        f"the anchored plan, step {fmt_step(d.step)}: {e.kpi} {money(d.total_kpi)} "
        f"({delta(d.kpi_difference, '−')}), not this plan"
    )


def default_plan_table(e: Explanation) -> tuple[list[str], list[list[Any]]] | None:
    """Where ``optimize``'s default makes the anchored plan: the head and rows (plain values) of
    the table that sets its line items beside this plan's, with the total spend and the KPI on
    the point curves as its last two rows, each difference that of the amounts as shown (whole
    units); None where it makes this plan."""
    d = e.optimize_default
    if d is None or d.same_plan or d.step is None:
        return None
    head = [
        "line item",
        "this pack's plan (optimum on the point curves)",
        f"optimize's default (anchored plan, step {fmt_step(d.step)})",
        "difference",
    ]

    def shown(a: float, b: float | None) -> float:
        # the difference of the two amounts as the pack shows them (whole units), so that each
        # row foots on the page: 594,988 - 566,283 is +28,705, not the +28,704 of the cents
        return shown_amount(b or 0.0) - shown_amount(a)

    rows: list[list[Any]] = [
        [it.id, it.point_spend, it.spend, shown(it.point_spend, it.spend)] for it in d.items
    ]
    rows.append(["total spend", e.total_spend, d.total_spend, shown(e.total_spend, d.total_spend)])
    rows.append(
        [f"{e.kpi} (point curves)", e.total_kpi, d.total_kpi, shown(e.total_kpi, d.total_kpi)]
    )
    return head, rows


LINE_ITEM_COLUMNS = (
    "line item",
    "stage",
    "spend",
    "share",
    "KPI",
    "ROI",
    "marginal ROI",
    "hurdle",
    "role",
    "held by",
    "next +",
    "next: plan Δ KPI",
    "last −",
    "last: plan Δ KPI",
    "weekly spend",
    "max weekly seen",
    "KPI P10",
    "KPI P90",
    "last cycle",
    "Δ vs last cycle",
)


def line_item_rows(e: Explanation) -> list[list[Any]]:
    rows = []
    for it in e.items:
        rows.append(
            [
                it.id,
                it.stage,
                it.spend,
                it.share,
                it.kpi,
                it.roi,
                it.marginal_roi,
                it.hurdle,
                role_word(it.role, it),
                held_by(it),
                None if it.next is None else it.next.amount,
                None if it.next is None else it.next.total_kpi,
                None if it.last is None else it.last.amount,
                None if it.last is None else it.last.total_kpi,
                it.position.weekly_spend,
                it.position.seen_max,
                it.position.kpi_p10,
                it.position.kpi_p90,
                it.last_cycle,
                it.delta,
            ]
        )
    return rows


LADDER_COLUMNS = (
    "rank",
    "line item",
    "stage",
    "increment",
    "from",
    "to",
    "amount",
    "KPI gain",
    "return",
    "ranking return",
    "status",
    "cumulative spend",
    "cumulative KPI",
    "note",
)


def ladder_row(s: LadderStep) -> list[Any]:
    return [
        s.rank or None,
        s.item,
        s.stage,
        s.index,
        s.spend_from,
        s.spend_to,
        s.amount,
        s.kpi_gain,
        s.return_,
        s.rank_return,
        s.status,
        s.cumulative_spend if s.rank else None,
        s.cumulative_kpi if s.rank else None,
        s.reason,
    ]


STAGE_COLUMNS = (
    "stage",
    "members",
    "spend",
    "share",
    "KPI",
    "ROI",
    "marginal ROI (min)",
    "marginal ROI (max)",
    "binding rules",
    "last cycle",
    "Δ vs last cycle",
)


def group_rows(groups: Any) -> list[list[Any]]:
    return [
        [
            g.name,
            ", ".join(g.members),
            g.spend,
            g.share,
            g.kpi,
            g.roi,
            g.marginal_min,
            g.marginal_max,
            "; ".join(g.binding),
            g.last_cycle,
            g.delta,
        ]
        for g in groups
    ]


CONSTRAINT_COLUMNS = (
    "constraint",
    "kind",
    "sense",
    "limit",
    "value",
    "slack",
    "binding",
    "shadow price",
    "step",
    "gain (shadow price)",
    "gain (re-solve)",
    "in words",
)


def constraint_rows(e: Explanation) -> list[list[Any]]:
    return [
        [
            c.label,
            kind_words(c.kind),
            c.sense,
            c.rhs,
            c.lhs,
            c.slack,
            "yes" if c.binding else "no",
            c.shadow_price,
            c.step,
            c.estimate,
            c.resolved,
            c.sentence,
        ]
        for c in e.constraints
    ]


def last_in_first_out(lad: Ladder, n: int) -> tuple[list[LadderStep], list[LadderStep]]:
    """The plan's last ``n`` increments in and first ``n`` out, in ladder order: the steps just
    above and below the line where the ranking and the plan agree; where a rule funds or blocks
    increments out of return order, the last funded (or committed) steps and the first unfunded
    ones, so that every increment called "in" is in the plan and every one called "out" is not."""
    if lad.consistent:
        return list(lad.above(n)), list(lad.below(n))
    funded = [s for s in lad.steps if s.status in ("funded", "committed")]
    unfunded = [s for s in lad.steps if s.status not in ("funded", "committed")]
    return funded[-n:] if n else [], unfunded[:n]


def answers(e: Explanation) -> list[tuple[str, str]]:
    """The review's usual questions, answered from the explanation (question, answer)."""
    out: list[tuple[str, str]] = []
    capped = [it for it in e.items if it.role == "capped"]
    if capped:
        it = max(capped, key=lambda x: x.spend)
        out.append((f"Why is {it.id} not higher?", it.reason))
    interior = [it for it in e.items if it.role == "interior" and it.last is not None]
    if interior:
        it = max(interior, key=lambda x: x.spend)
        out.append((f"What do we lose if {it.id} is cut?", it.last.sentence if it.last else ""))
    above, below = last_in_first_out(e.ladder, 3)
    if above:
        txt = "; ".join(
            f"{s.item} {money(s.spend_from)}–{money(s.spend_to)} (returns {ratio(s.return_)})"
            for s in reversed(above)
        )
        nxt = "; ".join(
            f"{s.item} {money(s.spend_from)}–{money(s.spend_to)} (returns {ratio(s.return_)})"
            for s in below
        )
        out.append(
            (
                "Which dollars are the last ones in?",
                (
                    f"The last increments above the line are: {txt}. The first ones out: "
                    f"{nxt or 'none'}."
                    if e.ladder.consistent
                    else f"The last increments in the plan are: {txt}. The first ones out: "
                    f"{nxt or 'none'}. A rule funds or blocks some increments out of return "
                    "order, so these are not the ones at the ladder's line (see the ladder)."
                ),
            )
        )
    unfunded = [it for it in e.items if it.role in ("unfunded", "not_worth_minimum")]
    for it in unfunded[:2]:
        out.append((f"Why is {it.id} not funded?", it.reason))
    return out


def increments(it: LineItemExplanation) -> str:
    """What a line item's next and last increments would gain or lose for the whole plan, each
    re-solved (the rest of the plan re-allocated)."""
    from optimizer.formatting import delta, money

    parts = []
    for mv, sign in ((it.next, "+"), (it.last, "−")):
        if mv is not None and mv.total_kpi is not None and mv.amount > 0:
            parts.append(f"{sign}{money(mv.amount)} → {delta(mv.total_kpi, '−')}")
    return "; ".join(parts) or "–"


def owner_rows(e: Explanation, owner: str) -> list[list[Any]]:
    """One row per line item a budget owner holds: what it costs, what it buys, what binds it,
    and what its next and last increments would gain or lose."""
    from optimizer.formatting import money, ratio

    return [
        [
            it.id,
            it.stage,
            money(it.spend),
            money(it.kpi),
            ratio(it.roi, 2),
            ratio(it.marginal_roi),
            role_word(it.role, it),
            held_by(it),
            increments(it),
        ]
        for it in e.owner_items(owner)
    ]


OWNER_HEAD = (
    "line item",
    "stage",
    "spend",
    "buys",
    "ROI",
    "marginal ROI",
    "role",
    "held by",
    "next / last increment (plan KPI, re-solved)",
)


def owner_sentence(e: Explanation, g: Any) -> str:
    """An owner's budget in one sentence: spend, share, what it buys, the rules on it."""
    from optimizer.formatting import money, ratio, share

    rules = (
        f" Its binding rules: {'; '.join(g.binding)}."
        if g.binding
        else " No rule on its total binds."
    )
    return (
        f"{g.name} holds {money(g.spend)} ({share(g.share)} of the plan) over {len(g.members)} "
        f"line item(s), modelled to buy {money(g.kpi)} {e.kpi} (ROI {ratio(g.roi, 2)}).{rules}"
    )


def certificate_text(status: str, gap: float | None, tolerance: float | None = None) -> str:
    """What a review may say about a plan's optimality: "certified within X" only for a plan whose
    status is ``optimal`` and whose gap is known and within ``tolerance`` (when given); any other
    plan is said to be not certified, with its status and gap."""
    shown = "unknown" if gap is None else "< 0.0001%" if gap < 1e-6 else f"{gap:.4%}"
    certified = status == "optimal" and gap is not None and (tolerance is None or gap <= tolerance)
    if certified:
        assert gap is not None
        if gap < 1e-6:
            return "certified optimal (gap < 0.0001%)"
        return f"certified within {shown} of the optimum"
    # a plan within the tolerance can still be not certified (its cents break a rule)
    above = (
        f", above the tolerance {tolerance:.4%}"
        if tolerance is not None and (gap is None or gap > tolerance)
        else ""
    )
    return f"NOT certified optimal (status {status}; gap {shown}{above})"


def _named_steps(steps: list[LadderStep], most: int = 4) -> str:
    """``online_video #146, tv #149 and 2 more``: increments by line item and rank."""
    names = [f"{s.item} #{s.rank}" for s in steps[:most]]
    if len(steps) > most:
        names.append(f"{len(steps) - most} more")
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def ladder_line_sentence(lad: Ladder, runs_out: str = "The budget runs out") -> str:
    """Where the ladder's line falls and what is in the plan, true of the ladder as shown
    (``footing.shown_ladder``): the line after increment ``cutoff``, at the plan's total spend
    where the ranking and the plan agree. Where a rule funds increments out of their return
    order, the sentence gives the cumulative spend above the line against the plan's total and
    names the increments below the line that are funded and those above it that are not (their
    amounts as shown: above minus unfunded plus funded below is the total)."""
    total = lad.funded_spend()
    in_below, out_above = (list(x) for x in lad.out_of_order())
    line = lad.above_spend()
    if not out_above and not in_below:
        return (
            f"{runs_out} after increment {lad.cutoff}, at {money(total)}: everything above the "
            "line is in the plan, everything below is not."
        )
    said = (
        f"In return order, {runs_out[0].lower()}{runs_out[1:]} after increment {lad.cutoff}: "
        f"the increments above the line sum to {money(line)}, against the plan's total spend "
        f"of {money(total)}. A rule takes the plan out of that order"
    )
    parts = []
    if in_below:
        parts.append(
            f"{len(in_below)} increment{'s' if len(in_below) > 1 else ''} below the line "
            f"{'are' if len(in_below) > 1 else 'is'} funded ({_named_steps(in_below)}: "
            f"{money(sum(s.amount for s in in_below))})"
        )
    if out_above:
        parts.append(
            f"{len(out_above)} above it {'are' if len(out_above) > 1 else 'is'} not "
            f"({_named_steps(out_above)}: {money(sum(s.amount for s in out_above))})"
        )
    return said + ": " + " and ".join(parts) + "."


def ladder_cut_words(
    lad: Ladder, runs_out: str = "the budget runs out here", amount: bool = True
) -> str:
    """The words on the ladder table's cut row, true of the ladder as shown: where the ranking
    and the plan agree, ``runs_out`` at the plan's total spend; where a rule funds increments
    below the line or leaves some above it out, the cumulative spend above the line, how many
    increments the rule moves each way, and the plan's total spend (the facts of
    ``ladder_line_sentence``). ``amount=False``: the Markdown row's words, without the figure
    where they agree."""
    in_below, out_above = lad.out_of_order()
    if not in_below and not out_above:
        return f"{runs_out}: {money(lad.line_spend)}" if amount else runs_out
    moved = []
    if in_below:
        moved.append(f"funds {len(in_below)} increment{'s' if len(in_below) > 1 else ''} below it")
    if out_above:
        moved.append(f"leaves {len(out_above)} above it out")
    line = lad.above_spend()
    return (
        f"the line in return order: the increments above it sum to {money(line)}; a rule "
        f"{' and '.join(moved)}, and the plan spends {money(lad.funded_spend())}"
    )


def ladder_chart_words(ladder: Ladder, runs_out: str = "budget runs out") -> str:
    """The ladder chart's words at its line: where the budget runs out when the ranking and the
    plan agree; else the spend above the line, what a rule funds or leaves out around it and the
    plan's total (``ladder_cut_words``' facts, in the chart's compact figures)."""
    in_below, out_above = ladder.out_of_order()
    if not in_below and not out_above:
        return f"  {runs_out} ({compact(ladder.line_spend)})"
    moved = [f"{len(in_below)} funded below"] if in_below else []
    moved += [f"{len(out_above)} out above"] if out_above else []
    return (
        f"  line in return order ({compact(ladder.above_spend())} above it)\n"
        f"  a rule moves increments: {', '.join(moved)};\n"
        f"  the plan spends {compact(ladder.funded_spend())}"
    )
