"""The budget review pack as Markdown: every line item justified, in a report people read."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from optimizer.explain import Explanation, Ladder, LadderStep
from optimizer.formatting import delta, money, ratio, share, with_currency
from optimizer.io.files import atomic_write_text
from optimizer.render.footing import shown_review
from optimizer.render.report_common import (
    DEFAULT_ROW,
    OWNER_HEAD,
    SPEND_ROWS,
    answers,
    currency_of_review,
    current_headers,
    default_plan_cell,
    default_plan_table,
    held_by,
    ladder_cut_words,
    ladder_line_sentence,
    owner_rows,
    owner_sentence,
    role_word,
)


def _table(head: Sequence[str], rows: Sequence[Sequence[Any]], right: Sequence[int] = ()) -> str:
    def cell(v: Any) -> str:
        return str(v).replace("|", "\\|").replace("\n", " ")

    align = ["---:" if i in right else "---" for i in range(len(head))]
    names = current_headers(head)  # spend (€) with the journey's currency
    lines = ["| " + " | ".join(cell(h) for h in names) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows]
    return "\n".join(lines)


def _ladder_rows(steps: Sequence[LadderStep]) -> list[list[str]]:
    return [
        [
            str(s.rank or "–"),
            s.item,
            f"{money(s.spend_from)}–{money(s.spend_to)}",
            money(s.amount),
            money(s.kpi_gain),
            ratio(s.return_),
            s.status,
            money(s.cumulative_spend) if s.rank else "–",
            s.reason,
        ]
        for s in steps
    ]


_LADDER_HEAD = (
    "rank",
    "line item",
    "increment",
    "amount",
    "KPI gain",
    "return",
    "status",
    "cumulative spend",
    "note",
)


def ladder_tables(lad: Ladder, line: str | None = None) -> list[str]:
    """The ladder around its line (five increments either side) and the increments a rule keeps
    out, as Markdown lines (the undated review's and a phased review's)."""
    out = [
        _table(
            _LADDER_HEAD,
            [
                *_ladder_rows(lad.above(5)),
                [
                    "",
                    f"**— {ladder_cut_words(lad, line or 'the budget runs out here', False)} —**",
                    *[""] * 7,
                ],
                *_ladder_rows(lad.below(5)),
            ],
            right=(0, 3, 4, 5, 7),
        ),
        "",
    ]
    if lad.blocked:
        out += [
            "Increments a rule keeps out, whatever they return:",
            "",
            _table(_LADDER_HEAD, _ladder_rows(lad.blocked), right=(3, 4, 5)),
            "",
        ]
    return out


def _default_plan(e: Explanation) -> list[str]:
    """Where ``optimize``'s default makes the anchored plan, not this one: the note and its
    line items beside this plan's, above the summary (nothing where it makes this plan)."""
    table = default_plan_table(e)
    if table is None or e.optimize_default is None:
        return []
    head, rows = table
    body = [[r[0], money(r[1]), money(r[2]), delta(r[3], "−")] for r in rows]
    return [
        f"> **Not the plan optimize makes by default.** {e.optimize_default.sentence}",
        "",
        _table(head, body, right=(1, 2, 3)),
        "",
    ]


def explanation_markdown(e: Explanation, *, full_ladder: bool = True) -> str:
    """Render an explanation as a Markdown review pack.

    Parameters
    ----------
    e : Explanation
    full_ladder : bool
        Append the whole ranked ladder (else only the increments around the line).

    Returns
    -------
    str
    """
    with currency_of_review(e.currency):  # amounts in whole units that foot (render.footing)
        return _explanation_markdown(shown_review(e), full_ladder)


def _explanation_markdown(e: Explanation, full_ladder: bool) -> str:
    k = e.kpi
    out: list[str] = [f"# Budget review: {e.scenario}", ""]
    out += [" ".join(e.headline), ""]
    for w in e.warnings:
        out.append(f"> **Warning:** {w}")
    if e.warnings:
        out.append("")
    out += _default_plan(e)

    out += ["## Summary", ""]
    summary = [
        ("Budget", money(e.budget)),
        ("Total spend", money(e.total_spend)),
        (f"Modelled {k}", money(e.total_kpi)),
        ("ROI", ratio(e.roi, 2)),
        (
            "Hurdle (the last dollar's return)",
            "none: the KPI target does not bind" if e.no_hurdle else ratio(e.hurdle),
        ),
        ("Horizon", f"{e.horizon_weeks} weeks"),
    ]
    if e.break_even is not None:
        be = e.break_even
        summary += [
            ("Break-even threshold (1 + hurdle_rate)", ratio(be["threshold"], 2)),
            ("Break-even budget (max_net's spend)", money(be["budget"])),
            ("Spend beyond break-even", money(be["spend_beyond"])),
        ]
    if e.total_kpi_p10 is not None:
        summary.append(
            (
                f"{k}, P10–P90 over the model's draws",
                f"{money(e.total_kpi_p10)} – {money(e.total_kpi_p90)}",
            )
        )
    if e.last_cycle_total is not None:
        summary.append(("Last cycle spend", money(e.last_cycle_total)))
        summary.append(("Change vs last cycle", delta(e.total_spend - e.last_cycle_total, "−")))
    summary.append(
        (
            "Certificate gap",
            "–" if e.gap is None else "< 0.0001%" if e.gap < 1e-6 else share(e.gap, 4),
        )
    )
    if e.optimize_default is not None:
        summary.append((DEFAULT_ROW, default_plan_cell(e)))
    summary = [(with_currency(a, e.currency) if a in SPEND_ROWS else a, b) for a, b in summary]
    out += [_table(("", "value"), summary, right=(1,)), ""]

    qa = answers(e)
    if qa:
        out += ["## The reviewer's questions", ""]
        for q, a in qa:
            out += [f"**{q}** {a}", ""]

    out += ["## Line items", ""]
    # with kpi_values the roles and hurdle are in value per unit of money, these columns in the KPI
    mroi = f"marginal ROI ({k})" if e.returns_in == "value" else "marginal ROI"
    head = ["line item", "stage", "spend", "share", k, "ROI", mroi, "role", "held by"]
    if e.last_cycle_total is not None:
        head += ["last cycle", "Δ"]
    rows = []
    for it in e.items:
        r = [
            it.id,
            it.stage,
            money(it.spend),
            share(it.share),
            money(it.kpi),
            ratio(it.roi, 2),
            ratio(it.marginal_roi),
            role_word(it.role, it),
            held_by(it),
        ]
        if e.last_cycle_total is not None:
            r += [money(it.last_cycle), delta(it.delta, "−")]
        rows.append(r)
    total = [
        "**total**",
        "",
        f"**{money(e.total_spend)}**",
        "100%",
        f"**{money(e.total_kpi)}**",
        ratio(e.roi, 2),
        "",
        "",
        "",
    ]
    if e.last_cycle_total is not None:
        total += [money(e.last_cycle_total), delta(e.total_spend - e.last_cycle_total, "−")]
    rows.append(total)
    out += [_table(head, rows, right=(2, 3, 4, 5, 6, 9, 10)), ""]

    out += ["## Why each line item stops where it stops", ""]
    for it in e.items:
        out += [f"### {it.id} ({it.stage}): {money(it.spend)}, {role_word(it.role, it)}", ""]
        out += [it.reason, ""]
        if it.next is not None:
            out.append(f"- **Next increment:** {it.next.sentence}")
        if it.last is not None:
            out.append(f"- **Last increment:** {it.last.sentence}")
        if it.role_range is not None:
            out.append(f"- **Over budgets:** {it.role_range.sentence}")
        out.append(f"- **On its curve:** {it.position.sentence}")
        if it.last_cycle is not None:
            out.append(
                f"- **Against last cycle:** {money(it.last_cycle)} last cycle, "
                f"{delta(it.delta, '−')} now."
            )
        out.append("")

    lad = e.ladder
    runs_out = "The target is met" if e.objective == "min_spend" else "The budget runs out"
    out += [
        "## The zero-based ladder",
        "",
        f"Every line item's spend is cut into increments (decision packages), each priced on "
        f"its response curve and ranked across the plan by {e.returns_in or k} per unit of "
        "money; committed "
        f"increments (locks and floors) come first. {ladder_line_sentence(lad, runs_out)}",
        "",
    ]
    out += ladder_tables(lad, runs_out.lower() + " here")
    if not lad.consistent:
        out += [
            "> The ranking and the plan disagree somewhere: a rule funds or blocks an "
            "increment out of its return order.",
            "",
        ]

    out += ["## Stages", ""]
    srows = [
        [
            g.name,
            ", ".join(g.members),
            money(g.spend),
            share(g.share),
            money(g.kpi),
            ratio(g.roi, 2),
            "; ".join(g.binding) or "–",
        ]
        + ([money(g.last_cycle), delta(g.delta, "−")] if e.last_cycle_total is not None else [])
        for g in e.stages
    ]
    shead = ["stage", "line items", "spend", "share", k, "ROI", "binding rules"]
    if e.last_cycle_total is not None:
        shead += ["last cycle", "Δ"]
    out += [_table(shead, srows, right=(2, 3, 4, 5, 7, 8)), ""]
    if e.groups:
        out += ["## Groups", ""]
        grows = [
            [
                g.name,
                ", ".join(g.members),
                money(g.spend),
                share(g.share),
                money(g.kpi),
                ratio(g.roi, 2),
                "; ".join(g.binding) or "–",
            ]
            for g in e.groups
        ]
        out += [
            _table(
                ["group", "line items", "spend", "share", k, "ROI", "binding rules"],
                grows,
                right=(2, 3, 4, 5),
            ),
            "",
        ]

    if e.markets:
        out += ["## Markets", ""]
        out += [
            _table(
                ["market", "spend", "share", k, "ROI", "binding rules"],
                [
                    [
                        g.name,
                        money(g.spend),
                        share(g.share),
                        money(g.kpi),
                        ratio(g.roi, 2),
                        "; ".join(g.binding) or "–",
                    ]
                    for g in e.markets
                ],
                right=(1, 2, 3, 4),
            ),
            "",
        ]
        order = [s for s in e.stage_order if any(e.market_stage[m].get(s) for m in e.market_stage)]
        out += [
            "Spend by market and stage:",
            "",
            _table(
                ["market", *order],
                [
                    [m, *(money(e.market_stage[m].get(s, 0.0)) for s in order)]
                    for m in e.market_stage
                ],
                right=tuple(range(1, len(order) + 1)),
            ),
            "",
        ]
    if e.owners:
        out += ["## Budget owners", ""]
        for g in e.owners:
            out += [f"### {g.name}", "", owner_sentence(e, g), ""]
            out += [_table(OWNER_HEAD, owner_rows(e, g.name), right=(2, 3, 4, 5)), ""]

    out += ["## Constraints", ""]
    crows = [
        [c.label, "yes" if c.binding else "no", ratio(c.shadow_price, 4), c.sentence]
        for c in e.constraints
    ]
    out += [_table(["constraint", "binding", "shadow price", "in words"], crows, right=(2,)), ""]

    if e.frontier:
        out += ["## The budget frontier", ""]
        frows = [
            [
                money(p.budget) + (" ← this plan" if abs(p.budget - (e.budget or 0)) < 0.5 else ""),
                p.status,
                money(p.total_kpi),
                ratio(p.marginal),
            ]
            for p in e.frontier
        ]
        out += [_table(["budget", "status", k, "marginal return"], frows, right=(0, 2, 3)), ""]

    if full_ladder:
        out += [
            "## Appendix: the full ladder",
            "",
            _table(_LADDER_HEAD, _ladder_rows(lad.steps), right=(0, 3, 4, 5, 7)),
            "",
        ]

    out += [
        "## How to read this",
        "",
        f"- *Marginal ROI* is the {k} the next unit of money buys on the line item's smooth "
        "response curve at the plan point; *ROI* is the average over all its money.",
        "- The *hurdle* is the budget's shadow price: what the last unit of money returns "
        "anywhere in the plan. A line item at the hurdle stops because its next dollar does "
        "no better than that.",
        "- *Next/last increment* numbers come from re-solving the whole plan with the line item "
        "forced up or down, so they include what the rest of the plan gives up or gains; "
        "*curve alone* is the line item's own curve only.",
        f"- Re-solves were certified to within {e.tolerance:g} of the optimum; "
        f"{e.n_solves} solves are behind this report.",
        "",
    ]
    return "\n".join(out)


def write_markdown(e: Explanation, path: str | Path) -> Path:
    """Write the Markdown review pack atomically."""
    return atomic_write_text(path, explanation_markdown(e))
