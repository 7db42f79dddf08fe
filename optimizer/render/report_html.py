"""The budget review pack as ONE self-contained HTML file.

Opens offline and prints cleanly: the CSS is inline and every chart is a PNG embedded as a
``data:`` URI, so the file can be mailed, archived or attached to a board paper as it is. No
scripts, no fonts or images from elsewhere.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from optimizer.explain import Explanation, LadderStep, LineItemExplanation
from optimizer.formatting import delta, money, ratio, share, with_currency
from optimizer.io.files import atomic_write_text
from optimizer.render import charts
from optimizer.render.footing import shown_review
from optimizer.render.report_common import (
    OWNER_HEAD,
    answers,
    certificate_text,
    currency_of_review,
    current_headers,
    default_plan_table,
    held_by,
    ladder_cut_words,
    ladder_line_sentence,
    owner_rows,
    owner_sentence,
    role_word,
)

_CSS = """
:root { --ink:#1f2d3d; --muted:#5b6b7b; --line:#d9dee4; --soft:#f4f6f8; --accent:#1f5f8b; }
* { box-sizing: border-box; }
html { background: #e9edf1; }
body { margin: 0 auto; max-width: 1180px; background: #fff; color: var(--ink);
       font: 14px/1.5 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       box-shadow: 0 0 24px rgba(31,45,61,.08); }
header.cover { background: var(--ink); color: #fff; padding: 28px 40px 22px; }
header.cover .eyebrow { text-transform: uppercase; letter-spacing: .14em; font-size: 11px;
                        color: #9fb3c8; }
header.cover h1 { margin: 4px 0 6px; font-size: 28px; font-weight: 600; }
header.cover .sub { color: #c9d6e2; font-size: 13px; }
nav { background: var(--soft); border-bottom: 1px solid var(--line); padding: 8px 40px;
      font-size: 12.5px; }
nav a { color: var(--accent); text-decoration: none; margin-right: 18px; }
main { padding: 8px 40px 32px; }
section { margin-top: 26px; }
h2 { font-size: 19px; font-weight: 600; border-bottom: 2px solid var(--ink); padding-bottom: 4px;
     margin: 0 0 12px; }
h3 { font-size: 15px; margin: 0 0 6px; }
p.lead { font-size: 15px; max-width: 900px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(160px, 1fr)); gap: 12px;
         margin: 14px 0 6px; }
.card { border: 1px solid var(--line); border-top: 3px solid var(--accent); padding: 10px 14px;
        background: #fff; }
.card .label { font-size: 11px; text-transform: uppercase; letter-spacing: .06em;
               color: var(--muted); }
.card .value { font-size: 22px; font-weight: 600; font-variant-numeric: tabular-nums; }
.card .note { font-size: 11.5px; color: var(--muted); }
.default { border-left: 4px solid #c0504d; background: #fbefee; padding: 10px 14px;
           margin: 14px 0 6px; font-size: 13px; }
.default table { background: #fff; margin-top: 8px; }
.warn { border-left: 4px solid #d9a441; background: #fdf6e7; padding: 8px 12px; margin: 8px 0;
        font-size: 13px; }
table { border-collapse: collapse; width: 100%; margin: 8px 0 4px; font-size: 12.5px; }
th { text-align: left; font-weight: 600; color: var(--muted); font-size: 11px;
     text-transform: uppercase; letter-spacing: .04em; border-bottom: 1.5px solid var(--ink);
     padding: 6px 8px; vertical-align: bottom; }
td { padding: 5px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tbody tr:nth-child(even) td { background: #fafbfc; }
tr.total td { font-weight: 700; border-top: 1.5px solid var(--ink); border-bottom: 2px solid
              var(--ink); background: #fff !important; }
tr.cut td { background: var(--ink) !important; color: #fff; font-weight: 600; text-align: center;
            font-size: 11.5px; letter-spacing: .08em; text-transform: uppercase; padding: 3px; }
tr.out td { color: var(--muted); }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 11px;
         font-weight: 600; color: #fff; white-space: nowrap; }
.qa dt { font-weight: 600; margin-top: 10px; }
.qa dd { margin: 2px 0 0 0; max-width: 950px; }
.item { display: grid; grid-template-columns: 1fr 420px; gap: 18px; border: 1px solid var(--line);
        padding: 14px 16px; margin: 12px 0; page-break-inside: avoid; }
.item .facts { font-size: 12.5px; margin: 8px 0 0; }
.item .facts dt { font-weight: 600; color: var(--muted); font-size: 11px;
                  text-transform: uppercase; letter-spacing: .04em; margin-top: 6px; }
.item .facts dd { margin: 0; }
.item .head { display: flex; justify-content: space-between; align-items: baseline; gap: 8px; }
.item .fig img { width: 100%; height: auto; }
.kv { font-variant-numeric: tabular-nums; color: var(--muted); font-size: 12px; }
figure { margin: 10px 0; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--line); }
figcaption { font-size: 11.5px; color: var(--muted); }
.two { display: grid; grid-template-columns: 1fr 1fr; gap: 18px; align-items: start; }
details summary { cursor: pointer; color: var(--accent); margin: 8px 0; }
footer { border-top: 1px solid var(--line); padding: 14px 40px 28px; color: var(--muted);
         font-size: 12px; }
@media print { html { background: #fff; } body { box-shadow: none; max-width: none; }
  nav { display: none; } section { page-break-inside: auto; } h2 { page-break-after: avoid; } }
"""


def _e(v: Any) -> str:
    return html.escape(str(v), quote=True)


def _img(png: bytes, alt: str, width: int | None = None) -> str:
    w = f' width="{width}"' if width else ""
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{_e(alt)}"{w} src="data:image/png;base64,{data}">'


def _numeric_cell(v: str) -> str:
    return f'<td class="num">{_e(v)}</td>'


def _badge(role: str, it: Any = None) -> str:
    colour = charts.ROLE_COLOURS.get(role, "#404040")
    return f'<span class="badge" style="background:{colour}">{_e(role_word(role, it))}</span>'


def _table(head: Sequence[tuple[str, bool]], body: Sequence[str], cls: str = "") -> str:
    names = current_headers([h for h, _ in head])  # spend (€) with the journey's currency
    th = "".join(
        f'<th class="num">{_e(h)}</th>' if num else f"<th>{_e(h)}</th>"
        for h, (_, num) in zip(names, head, strict=True)
    )
    c = f' class="{cls}"' if cls else ""
    return f"<table{c}><thead><tr>{th}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _cards(e: Explanation) -> str:
    k = e.kpi
    cards = [
        (with_currency("Budget", e.currency), money(e.budget), f"{e.horizon_weeks} weeks"),
        (
            with_currency("Planned spend", e.currency),
            money(e.total_spend),
            ""
            if e.last_cycle_total is None
            else f"{delta(e.total_spend - e.last_cycle_total, '−')} vs last cycle",
        ),
        (
            f"Modelled {k}",
            money(e.total_kpi),
            ""
            if e.total_kpi_p10 is None
            else f"P10–P90 {money(e.total_kpi_p10)} – {money(e.total_kpi_p90)}",
        ),
        ("ROI", ratio(e.roi, 2), f"{k} per unit of money"),
        (
            ("Hurdle", "none", "the KPI target does not bind")
            if e.no_hurdle
            else ("Hurdle", ratio(e.hurdle), "what the last dollar returns")
        ),
    ]
    if e.break_even is not None and e.break_even.get("budget") is not None:
        be = e.break_even
        cards.append(
            (
                with_currency("Beyond break-even", e.currency),
                money(be["spend_beyond"]),
                f"of the spend, past {money(be['budget'])} where the marginal return falls to "
                f"{ratio(be['threshold'], 2)}",
            )
        )
    body = "".join(
        f'<div class="card"><div class="label">{_e(a)}</div>'
        f'<div class="value">{_e(b)}</div><div class="note">{_e(c)}</div></div>'
        for a, b, c in cards
    )
    return f'<div class="cards">{body}</div>'


def _default_plan(e: Explanation) -> str:
    """Where ``optimize``'s default makes the anchored plan, not this one: the note and its line
    items beside this plan's, at the top of the summary ('' where it makes this plan)."""
    table = default_plan_table(e)
    if table is None or e.optimize_default is None:
        return ""
    head, rows = table
    n = len(rows)
    body = [
        ('<tr class="total">' if j >= n - 2 else "<tr>") + f"<td>{_e(r[0])}</td>"
        f"{_numeric_cell(money(r[1]))}{_numeric_cell(money(r[2]))}"
        f"{_numeric_cell(delta(r[3], '−'))}</tr>"
        for j, r in enumerate(rows)
    ]
    return (
        '<div class="default" id="optimize-default"><b>Not the plan optimize makes by '
        f"default.</b> {_e(e.optimize_default.sentence)}"
        + _table([(h, j > 0) for j, h in enumerate(head)], body)
        + "</div>"
    )


def _same_plan(e: Explanation) -> str:
    """One short line where ``optimize``'s default makes this very plan."""
    d = e.optimize_default
    if d is None or not d.same_plan:
        return ""
    return f'<p class="kv" id="optimize-default">{_e(d.sentence)}.</p>'


def _line_items_table(e: Explanation) -> str:
    lc = e.last_cycle_total is not None
    head = [
        ("line item", False),
        ("stage", False),
        ("spend", True),
        ("share", True),
        (e.kpi, True),
        ("ROI", True),
        (f"marginal ROI ({e.kpi})" if e.returns_in == "value" else "marginal ROI", True),
        ("why it stops", False),
        ("held by", False),
    ]
    if lc:
        head += [("last cycle", True), ("Δ", True)]
    rows = []
    for it in e.items:
        r = (
            f"<td>{_e(it.id)}</td><td>{_e(it.stage)}</td>{_numeric_cell(money(it.spend))}"
            f"{_numeric_cell(share(it.share))}{_numeric_cell(money(it.kpi))}{_numeric_cell(ratio(it.roi, 2))}"
            f"{_numeric_cell(ratio(it.marginal_roi))}<td>{_badge(it.role, it)}</td>"
            f"<td>{_e(held_by(it))}</td>"
        )
        if lc:
            r += _numeric_cell(money(it.last_cycle)) + _numeric_cell(delta(it.delta, "−"))
        rows.append(f"<tr>{r}</tr>")
    tot = (
        f"<td>Total</td><td></td>{_numeric_cell(money(e.total_spend))}{_numeric_cell('100.0%')}"
        f"{_numeric_cell(money(e.total_kpi))}{_numeric_cell(ratio(e.roi, 2))}<td></td><td></td><td></td>"
    )
    if lc:
        d = e.total_spend - (e.last_cycle_total or 0.0)
        tot += _numeric_cell(money(e.last_cycle_total)) + _numeric_cell(delta(d, "−"))
    rows.append(f'<tr class="total">{tot}</tr>')
    return _table(head, rows)


def _item_card(e: Explanation, it: LineItemExplanation) -> str:
    tp = e.responses.get(it.id)
    fig = ""
    if tp is not None:
        png = charts.figure_png(
            charts.review_curve_figure(
                tp,
                e.kpi,
                e.horizon_weeks,
                it.spend,
                it.hurdle,
                it.role,
                it.last_cycle,
                it.bar,  # the line drawn: its bar where a share rule moves it off the hurdle
            )
        )
        fig = (
            f'<div class="fig">{_img(png, f"response curve of {it.id} with the plan point")}</div>'
        )
    facts = []
    if it.next is not None:
        facts.append(("Next increment", it.next.sentence))
    if it.last is not None:
        facts.append(("Last increment", it.last.sentence))
    if it.role_range is not None:
        facts.append(("Over budgets", it.role_range.sentence))
    facts.append(("On its curve", it.position.sentence))
    if it.last_cycle is not None:
        facts.append(
            (
                "Against last cycle",
                f"{money(it.last_cycle)} last cycle; {delta(it.delta, '−')} in this plan.",
            )
        )
    dl = "".join(f"<dt>{_e(a)}</dt><dd>{_e(b)}</dd>" for a, b in facts)
    kv = (
        f"spend {money(it.spend)} · {share(it.share)} of plan · {e.kpi} "
        f"{money(it.kpi)} · ROI {ratio(it.roi, 2)} · marginal "
        f"{ratio(it.marginal_roi)} · hurdle {'none' if e.no_hurdle else ratio(it.hurdle)}"
    )
    return (
        f'<div class="item" id="item-{_e(it.id)}"><div><div class="head"><h3>{_e(it.id)} '
        f'<span class="kv">({_e(it.stage)})</span></h3>{_badge(it.role, it)}</div>'
        f'<div class="kv">{_e(kv)}</div><p>{_e(it.reason)}</p>'
        f'<dl class="facts">{dl}</dl></div>{fig}</div>'
    )


def _ladder_rows(steps: Sequence[LadderStep], cutoff: int | None = None) -> list[str]:
    rows = []
    for s in steps:
        # faded: not in the plan (below the line where the ranking and the plan agree)
        out = s.status not in ("funded", "committed")
        cls = ' class="out"' if cutoff is not None and out else ""
        rows.append(
            f"<tr{cls}>{_numeric_cell(str(s.rank or '–'))}<td>{_e(s.item)}</td>"
            f"{_numeric_cell(f'{money(s.spend_from)} – {money(s.spend_to)}')}"
            f"{_numeric_cell(money(s.amount))}{_numeric_cell(money(s.kpi_gain))}{_numeric_cell(ratio(s.return_))}"
            f"<td>{_e(s.status)}</td>"
            f"{_numeric_cell(money(s.cumulative_spend) if s.rank else '–')}<td>{_e(s.reason)}</td></tr>"
        )
    return rows


_LADDER_HEAD = [
    ("rank", True),
    ("line item", False),
    ("increment", True),
    ("amount", True),
    ("KPI gain", True),
    ("return", True),
    ("status", False),
    ("cumulative spend", True),
    ("note", False),
]


def _runs_out(e: Explanation) -> str:
    """Where the ladder's line falls, in words: a min_spend plan has no budget to run out."""
    return "The target is met" if e.objective == "min_spend" else "The budget runs out"


def _ladder_section(e: Explanation) -> str:
    lad = e.ladder
    be = e.break_even.get("threshold") if e.break_even else None
    # a composite objective (kpi_values) ranks its increments by their value, not the KPI's
    unit = e.returns_in or e.kpi
    met = e.objective == "min_spend"  # no budget: the line is where the target is met
    png = charts.figure_png(
        charts.ladder_figure(
            lad,
            unit,
            break_even=be,
            currency=e.currency,
            runs_out="target is met" if met else "budget runs out",
        )
    )
    around = _ladder_rows(lad.above(5), lad.cutoff)
    around.append(
        f'<tr class="cut"><td colspan="9">{_e(ladder_cut_words(lad, _runs_out(e).lower() + " here"))}</td></tr>'
    )
    around += _ladder_rows(lad.below(5), lad.cutoff)
    parts = [
        '<section id="ladder"><h2>The zero-based ladder</h2>',
        f'<p class="lead">Every line item\'s spend is cut into increments (decision packages), '
        f"each priced on its own response curve and ranked across the whole plan by "
        f"{_e(unit)} per unit of money. Committed increments (locks and floors) come first. "
        f"{_e(ladder_line_sentence(lad, _runs_out(e)))}</p>",
        f"<figure>{_img(png, 'the ladder: increments ranked by return, with the cut-off line')}"
        "<figcaption>Each bar is one increment: its width is the money, its height the return "
        "(the steepest first increments are cut off at the top of the chart), its colour the "
        "line item's journey stage. Faded bars are not in the plan (below the line, unless a "
        "rule takes the plan out of return order); hatched ones are committed."
        + (
            f" Funded bars under the red break-even line ({be:.2f}) buy less than they cost."
            if be is not None
            else ""
        )
        + "</figcaption></figure>",
        "<h3>Around the line</h3>",
        _table(_LADDER_HEAD, around),
    ]
    if lad.blocked:
        parts += [
            "<h3>Kept out by a rule, whatever they return</h3>",
            _table(_LADDER_HEAD, _ladder_rows(lad.blocked)),
        ]
    parts += [
        f"<details><summary>The full ladder ({len(lad.steps)} increments)</summary>",
        _table(_LADDER_HEAD, _ladder_rows(lad.steps, lad.cutoff)),
        "</details></section>",
    ]
    return "".join(parts)


def _groups_table(groups: Any, e: Explanation, word: str) -> str:
    lc = e.last_cycle_total is not None
    head = [
        (word, False),
        ("line items", False),
        ("spend", True),
        ("share", True),
        (e.kpi, True),
        ("ROI", True),
        ("binding rules", False),
    ]
    if lc:
        head += [("last cycle", True), ("Δ", True)]
    rows = []
    for g in groups:
        r = (
            f"<td>{_e(g.name)}</td><td>{_e(', '.join(g.members))}</td>{_numeric_cell(money(g.spend))}"
            f"{_numeric_cell(share(g.share))}{_numeric_cell(money(g.kpi))}{_numeric_cell(ratio(g.roi, 2))}"
            f"<td>{_e('; '.join(g.binding) or '–')}</td>"
        )
        if lc:
            r += _numeric_cell(money(g.last_cycle)) + _numeric_cell(delta(g.delta, "−"))
        rows.append(f"<tr>{r}</tr>")
    if word == "stage":
        tot = (
            f"<td>Total</td><td></td>{_numeric_cell(money(sum(g.spend for g in groups)))}"
            f"{_numeric_cell('100.0%')}{_numeric_cell(money(sum(g.kpi for g in groups)))}"
            f"{_numeric_cell(ratio(e.roi, 2))}<td></td>"
        )
        if lc:
            tot += _numeric_cell(money(e.last_cycle_total)) + "<td></td>"
        rows.append(f'<tr class="total">{tot}</tr>')
    return _table(head, rows)


def _certified(e: Explanation) -> str:
    return certificate_text(e.status, e.gap, e.plan_tolerance)


def explanation_html(e: Explanation) -> str:
    """Render an explanation as one self-contained HTML page (inline CSS, embedded PNG charts).

    Parameters
    ----------
    e : Explanation

    Returns
    -------
    str
    """
    with currency_of_review(e.currency):  # amounts in whole units that foot (render.footing)
        return _explanation_html(shown_review(e))


def _explanation_html(e: Explanation) -> str:
    k = e.kpi
    sub = f"{e.objective} · {e.horizon_weeks}-week horizon · {_certified(e)} · solver {e.solver}"
    parts = [
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Budget review: {_e(e.scenario)}</title><style>{_CSS}</style></head><body>",
        f'<header class="cover"><div class="eyebrow">Budget review pack</div>'
        f'<h1>{_e(e.scenario)}</h1><div class="sub">{_e(sub)}</div></header>',
        '<nav><a href="#summary">Summary</a><a href="#questions">Questions</a>'
        '<a href="#line-items">Line items</a><a href="#why">Why each stops</a>'
        '<a href="#ladder">Ladder</a><a href="#stages">Stages</a>'
        '<a href="#constraints">Constraints</a>'
        + ('<a href="#frontier">Frontier</a>' if e.frontier else "")
        + "</nav><main>",
        f'<section id="summary"><h2>Summary</h2>{_default_plan(e)}{_cards(e)}'
        f'<p class="lead">{_e(" ".join(e.headline))}</p>',
        _same_plan(e),
        *[f'<div class="warn"><b>Warning:</b> {_e(w)}</div>' for w in e.warnings],
        "</section>",
    ]
    qa = answers(e)
    if qa:
        dl = "".join(f"<dt>{_e(q)}</dt><dd>{_e(a)}</dd>" for q, a in qa)
        parts.append(
            f'<section id="questions"><h2>The reviewer\'s questions</h2>'
            f'<dl class="qa">{dl}</dl></section>'
        )
    li_png = charts.figure_png(charts.line_item_spend_figure(e.items, currency=e.currency))
    parts.append(
        f'<section id="line-items"><h2>Line items</h2>{_line_items_table(e)}'
        f"<figure>{_img(li_png, 'spend per line item, coloured by why it stops')}"
        "<figcaption>Spend per line item, coloured by why it stops where it stops; "
        "diamonds mark last cycle.</figcaption></figure></section>"
    )
    parts.append(
        '<section id="why"><h2>Why each line item stops where it stops</h2>'
        '<p class="lead">The dashed segment through each plan point has the hurdle\'s '
        "slope: a line item at the hurdle has a curve tangent to it; a capped one is "
        "steeper there (it would earn more than the hurdle), a held-up one flatter.</p>"
        + "".join(_item_card(e, it) for it in e.items)
        + "</section>"
    )
    parts.append(_ladder_section(e))
    st_png = charts.figure_png(charts.stage_spend_figure(e.stages, k, currency=e.currency))
    groups = f"<h3>Groups</h3>{_groups_table(e.groups, e, 'group')}" if e.groups else ""
    parts.append(
        f'<section id="stages"><h2>Stages and groups</h2>'
        f"{_groups_table(e.stages, e, 'stage')}"
        f"<figure>{_img(st_png, 'spend by stage')}<figcaption>Spend by journey stage; "
        f"diamonds mark last cycle.</figcaption></figure>{groups}</section>"
    )
    if e.markets:
        ms_png = charts.figure_png(
            charts.market_stage_figure(
                {m: dict(v) for m, v in e.market_stage.items()},
                e.stage_order,
                {g.name: g.kpi for g in e.markets},
            )
        )
        parts.append(
            f'<section id="markets"><h2>Markets</h2>{_groups_table(e.markets, e, "market")}'
            f"<figure>{_img(ms_png, 'spend by market and stage')}<figcaption>Spend by market, "
            "split by journey stage (a national buy counted in each market by its split); "
            f"the market's ROI beside its total.</figcaption></figure></section>"
        )
    if e.owners:
        blocks = []
        for g in e.owners:
            rows = [
                "<tr>"
                + "".join(
                    _numeric_cell(v) if j in (2, 3, 4, 5) else f"<td>{_e(v)}</td>"
                    for j, v in enumerate(r)
                )
                + "</tr>"
                for r in owner_rows(e, g.name)
            ]
            blocks.append(
                f"<h3>{_e(g.name)}</h3><p>{_e(owner_sentence(e, g))}</p>"
                + _table([(h, j in (2, 3, 4, 5)) for j, h in enumerate(OWNER_HEAD)], rows)
            )
        parts.append(
            '<section id="owners"><h2>Budget owners</h2><p class="lead">Each budget holder\'s '
            "line items: what each costs and buys, what holds it where it is, and what its next "
            "and last increment would gain or lose for the whole plan (re-solved).</p>"
            + "".join(blocks)
            + "</section>"
        )
    crow = [
        f"<tr><td>{_e(c.label)}</td><td>{'yes' if c.binding else 'no'}</td>"
        f"{_numeric_cell(money(c.slack) if c.unit == 'money' else ratio(c.slack, 0))}"
        f"{_numeric_cell(ratio(c.shadow_price, 4))}<td>{_e(c.sentence)}</td></tr>"
        for c in e.constraints
    ]
    parts.append(
        '<section id="constraints"><h2>Constraints</h2>'
        + _table(
            [
                ("constraint", False),
                ("binding", False),
                ("slack", True),
                ("shadow price", True),
                ("in words", False),
            ],
            crow,
        )
        + "</section>"
    )
    if e.frontier:
        fr_png = charts.figure_png(
            charts.review_frontier_figure(
                e.frontier, e.budget, k, break_even=e.break_even, currency=e.currency
            )
        )
        frows = [
            f"<tr>{_numeric_cell(money(p.budget))}<td>{_e(p.status)}"
            f"{' · this plan' if e.budget is not None and abs(p.budget - e.budget) < 0.5 else ''}"
            f"</td>{_numeric_cell(money(p.total_kpi))}{_numeric_cell(ratio(p.marginal))}</tr>"
            for p in e.frontier
        ]
        parts.append(
            f'<section id="frontier"><h2>The budget frontier</h2><div class="two">'
            f"<figure>{_img(fr_png, 'the budget frontier')}</figure><div>"
            + _table(
                [("budget", True), ("status", False), (k, True), ("marginal return", True)], frows
            )
            + "</div></div></section>"
        )
    parts.append(
        "</main><footer><b>How to read this.</b> Marginal ROI is the "
        f"{_e(k)} the next unit of money buys on the line item's smooth response curve at the "
        "plan point; ROI is the average over all its money. The hurdle is the budget's shadow "
        "price: what the last unit of money returns anywhere in the plan. Next/last increment "
        "numbers come from re-solving the whole plan with the line item forced up or down, so "
        "they include what the rest of the plan gives up or gains. "
        f"Re-solves certified within {e.tolerance:g}; {e.n_solves} solves behind this report. "
        "Generated by budgetopt.</footer></body></html>\n"
    )
    return "".join(parts)


def write_html(e: Explanation, path: str | Path) -> Path:
    """Write the HTML review pack atomically."""
    return atomic_write_text(path, explanation_html(e))
