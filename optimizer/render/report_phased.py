"""The review pack of a phased plan (contract 7): one self-contained HTML page, a Markdown page
and an Excel workbook, each with the plan by period and stage (the page with its chart), each line
item by period, the binding rules with their shadow prices and the certificate; and, given the
plan's ``PhasedExplanation`` (``optimizer.explain.phased``), every line item justified (its role
period by period, the next and the last increment and dropping it, re-solved) and the zero-based
ladder. What is not computed on a calendar (role ranges over budgets) each format says."""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from optimizer.allocate import Plan
from optimizer.explain.phased import PhasedExplanation
from optimizer.formatting import money
from optimizer.io.files import atomic_write_text
from optimizer.render import charts
from optimizer.render.footing import ShownPlan, shown
from optimizer.render.report_common import certificate_text
from optimizer.render.report_html import _img
from optimizer.render.report_phased_why import (
    _html_justification,
    _md_justification,
    _why_sheets,
    headline_hurdle,
)

_CSS = (
    "body{font-family:system-ui,sans-serif;color:#1f2d3d;max-width:1100px;margin:2em auto;"
    "padding:0 1em;font-size:14px}table{border-collapse:collapse;margin:0.6em 0}"
    "td,th{padding:2px 8px;border-bottom:1px solid #e3e8ee;text-align:left}td.num,th.num{"
    "text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}h1{font-size:1.5em}"
    "h2{font-size:1.15em;margin-top:1.6em}.note{color:#5b6b7b}.t{font-size:12px;overflow-x:auto}"
    "img{max-width:100%;height:auto}tr.cut td{background:#1f2d3d;color:#fff;font-weight:600;"
    "text-align:center}tr.out td{color:#8795a1}section.why h3{margin-bottom:0.2em}"
    "section.why p{margin:0.3em 0;max-width:900px}"
)

#: at most this many period columns in one table, by phasing: a plan's periods are shown in
#: consecutive blocks (a year of months as two half-years, of weeks seven at a time) so that every
#: table fits a 1024-px-wide window at the page's 12-px type, whatever the horizon's length
_PERIODS_PER_TABLE = {"week": 7, "month": 6, "quarter": 4}


def period_blocks(n: int, phasing: str) -> list[range]:
    """The periods ``0..n-1`` in consecutive blocks of at most ``_PERIODS_PER_TABLE[phasing]``
    (6 for any other phasing), as even as can be: 12 months are 6 + 6, 13 weeks 7 + 6."""
    size = _PERIODS_PER_TABLE.get(phasing, 6)
    k = max(1, -(-n // size))
    cuts = [-(-i * n // k) for i in range(k + 1)]
    return [range(a, b) for a, b in zip(cuts, cuts[1:], strict=False) if b > a]


def _e(s: object) -> str:
    return html.escape(str(s))


def _certificate(plan: Plan) -> str:
    """ "certified within X of the exact optimum" only for an optimal plan (``certificate_text``)."""
    text = certificate_text(str(plan.status), plan.gap)
    return text + " on the model's curves" if text.startswith("certified") else text


#: without the plan's explanation (``explain_phased``), the pack says so
_NO_JUSTIFICATION = (
    "The line items' justifications (roles, moves re-solved, the ladder) are not in this pack: "
    "'budgetopt explain' computes them."
)


def _note(exp: PhasedExplanation | None) -> str:
    return exp.not_computed if exp is not None else _NO_JUSTIFICATION


def period_stage_rows(
    plan: Plan, see: ShownPlan | None = None
) -> tuple[list[str], list[list[Any]]]:
    """The plan by period and journey stage: the stages, and per period ``[label, start, weeks,
    spend per stage…, spend, KPI]`` (a period's KPI is its weeks', carry-over included); with
    ``see``, the amounts as a page shows them (whole units that foot both ways)."""
    stages = list(plan.stage_totals())
    rows: list[list[Any]] = []
    for k, p in enumerate(plan.periods):
        by = {st: 0.0 for st in stages}
        for li in plan.line_items:
            by[li.stage] = by.get(li.stage, 0.0) + li.periods[k].spend
        rows.append(
            [p.period, p.start, p.weeks, *(round(by[st], 2) for st in stages), p.spend, p.kpi]
        )
    if see is not None:
        cells, spends, _ = see.period_stage
        for k, r in enumerate(rows):
            r[3:] = [*cells[k], spends[k], see.period_kpi[k]]
    return stages, rows


def _binding(plan: Plan) -> list[Any]:
    return [c for c in plan.constraints if c.binding]


def _where(li: Any) -> str:
    """A line item's market: its own, or ``national`` for a national buy."""
    return li.market if li.market is not None else "national"


def _name(plan: Plan, li: Any) -> str:
    """A line item as a review names it: ``touchpoint`` or, over markets, ``touchpoint@market``."""
    return f"{li.id}@{_where(li)}" if plan.has_markets else li.id


def _roi(kpi: float, spend: float) -> float | None:
    return kpi / spend if spend > 0 else None


def _r(v: float | None, digits: int = 2) -> str:
    from optimizer.formatting import ratio

    return "–" if v is None else ratio(v, digits)


def _held_by(plan: Plan, li: Any) -> str:
    """The binding rules that hold a line item, as labels ("its maximum" for its own cap)."""
    labels = {c.name: c.label for c in plan.constraints}
    own = {"min": "its minimum", "max": "its maximum", "lock": "its lock"}
    return "; ".join(own.get(b, labels.get(b, b)) for b in li.binding) or "–"


def market_rows(plan: Plan, see: ShownPlan | None = None) -> list[list[Any]]:
    """Per market: ``[market, spend, share, KPI, ROI]`` (a national buy counted by its split);
    with ``see``, spend and KPI as a page shows them (whole units that foot)."""
    total = plan.total_spend or 1.0
    totals = plan.market_totals()
    rows = [
        [m, v["spend"], v["spend"] / total, v["kpi"], _roi(v["kpi"], v["spend"])]
        for m, v in totals.items()
    ]
    if see is not None:
        for r, (sp, k) in zip(rows, see.breakdown(totals).values(), strict=True):
            r[1], r[3] = sp, k
    return rows


def owner_sections(
    plan: Plan, see: ShownPlan | None = None
) -> list[tuple[str, str, list[list[Any]]]]:
    """Per budget owner: its name, a sentence (spend, share, KPI, the rules on its total that
    bind) and one row per line item it holds: ``[line item, stage, spend per period…, spend,
    KPI, ROI, marginal ROI, held by]``; with ``see``, the amounts as the line-item tables show
    them (whole units)."""
    from optimizer.formatting import share

    total = plan.total_spend or 1.0
    out = []
    totals = plan.owner_totals()
    # the sentence's amounts as the tables show them: an owner's the sum of its line items as
    # shown, the owners footing to the plan's total (E-commerce's 67,155.79 read 67,156 beside
    # its line items' 30,058 + 37,097, the owners summing to 250,001 of 250,000)
    said = see.breakdown(totals, "owner") if see is not None else None
    for o, v in totals.items():
        mine = [li for li in plan.line_items if li.owner == o]
        sp, kp = said[o] if said is not None else (v["spend"], v["kpi"])
        rules = [
            c.label
            for c in plan.constraints
            if c.binding and c.kind.startswith("owner_") and c.subject == o
        ]
        sentence = (
            f"{o} holds {money(sp)} ({share(v['spend'] / total)} of the plan) over "
            f"{len(mine)} line item(s), modelled to buy {money(kp)} {plan.kpi} (ROI "
            f"{_r(_roi(v['kpi'], v['spend']))}). "
            + (
                f"Its binding rules: {'; '.join(rules)}."
                if rules
                else "No rule on its total binds."
            )
        )
        rows = [
            [
                _name(plan, li),
                li.stage,
                *(p.spend for p in li.periods),
                li.spend,
                li.kpi,
                _roi(li.kpi, li.spend),
                li.marginal_roi,
                _held_by(plan, li),
            ]
            for li in mine
        ]
        if see is not None:
            n = len(plan.periods)
            for r, li in zip(rows, mine, strict=True):
                j = plan.line_items.index(li)
                r[2 : 4 + n] = [*see.item_period[j], see.spend[j], see.kpi[j]]
        out.append((o, sentence, rows))
    return out


def _item_rows(plan: Plan, see: ShownPlan) -> list[tuple[str, str, Sequence[float], float | None]]:
    """The "line items by period" table's rows as shown: each line item's spend by period
    with its total, then the periods' totals (whole units that foot both ways)."""
    rows: list[tuple[str, str, Sequence[float], float | None]] = [
        (_name(plan, li), li.stage, list(see.item_period[j]), see.spend[j])
        for j, li in enumerate(plan.line_items)
    ]
    return [*rows, ("total", "", see.period_spend, see.total_spend)]


def _headline(plan: Plan) -> str:
    return (
        f"{money(plan.total_spend)} over {plan.horizon_weeks} weeks from {plan.start} buys "
        f"{money(plan.total_kpi)} {plan.kpi} (carry-over included"
        + (f"; {money(plan.kpi_after)} of it after the horizon" if plan.kpi_after else "")
        + f"). Status {plan.status}: {_certificate(plan)}."
    )


def _md_period_tables(
    plan: Plan, rows: Sequence[tuple[str, str, Sequence[float], float | None]], stage: bool = False
) -> str:
    """``_period_tables`` as Markdown: the periods in blocks of at most ``_PERIODS_PER_TABLE``
    columns, one table under the other (a year by week was one table 55 columns wide)."""
    from optimizer.render.report_md import _table

    periods = list(plan.periods)
    blocks = period_blocks(len(periods), plan.phasing)
    out = []
    for b, block in enumerate(blocks):
        total = b == len(blocks) - 1 and any(r[3] is not None for r in rows)
        first = ["line item", *(["stage"] if stage else [])]
        out.append(
            _table(
                [*first, *(periods[k].period for k in block), *(["total"] if total else [])],
                [
                    [
                        name,
                        *([st] if stage else []),
                        *(money(spend[k]) for k in block),
                        *([money(0.0 if tot is None else tot)] if total else []),
                    ]
                    for name, st, spend, tot in rows
                ],
                right=range(len(first), len(first) + len(block) + int(total)),
            )
        )
    return "\n\n".join(out)


def phased_review_md(plan: Plan, exp: PhasedExplanation | None = None) -> str:
    """The review of a phased plan as Markdown: headline, by period and stage, line items by
    period, binding rules; with ``exp``, every line item justified and the ladder."""
    from optimizer.render.report_md import _table

    see = shown(plan)  # whole units that foot (render.footing)
    stages, rows = period_stage_rows(plan, see)
    ncol = 3 + len(stages) + 2
    by_period = _table(
        ["period", "start", "weeks", *stages, "spend", plan.kpi],
        [
            [
                r[0],
                r[1],
                r[2],
                *(money(v) for v in r[3 : 3 + len(stages)]),
                money(r[-2]),
                money(r[-1]),
            ]
            for r in rows
        ]
        + (
            [["after the horizon", "", "", *([""] * len(stages)), "", money(see.period_kpi[-1])]]
            if plan.kpi_after
            else []
        )
        + [
            [
                "total",
                "",
                sum(r[2] for r in rows),
                *(money(v) for v in see.period_stage[2]),
                money(see.total_spend),
                money(see.total_kpi),
            ]
        ],
        right=range(2, ncol),
    )
    labels = [p.period for p in plan.periods]
    items = _md_period_tables(plan, _item_rows(plan, see), stage=True)
    extra = ""
    if plan.has_markets:
        markets = _table(
            ["market", "spend", "share", plan.kpi, "ROI"],
            [
                [m, money(sp), f"{sh:.1%}", money(k), _r(roi)]
                for m, sp, sh, k, roi in market_rows(plan, see)
            ],
            right=range(1, 5),
        )
        extra += (
            "## Markets\n\nSpend and KPI by market over the horizon (a national buy counted in "
            f"each market by its split, its KPI where it is earned).\n\n{markets}\n\n"
        )
    owners = owner_sections(plan, see)
    if owners:
        extra += (
            "## Budget owners\n\nEach budget holder's line items: what each costs and buys, "
            "what holds it where it is, and its spend by period.\n\n"
        )
        for o, sentence, rows in owners:
            n = len(labels)
            body = _table(
                ["line item", "stage", "spend", plan.kpi, "ROI", "marginal ROI", "held by"],
                [
                    [
                        *r[:2],
                        money(r[2 + n]),
                        money(r[3 + n]),
                        _r(r[4 + n]),
                        _r(r[5 + n], 3),
                        r[6 + n],
                    ]
                    for r in rows
                ],
                right=range(2, 6),
            )
            by = _md_period_tables(plan, [(r[0], r[1], r[2 : 2 + n], None) for r in rows])
            extra += (
                f"### {o}\n\n{sentence}\n\n{body}\n\n{o}'s spend by {plan.phasing}:\n\n{by}\n\n"
            )
    rules = _table(
        ["rule", "shadow price"],
        [
            [c.label, "–" if c.shadow_price is None else f"{c.shadow_price:.4f}"]
            for c in _binding(plan)
        ],
        right=[1],
    )
    return (
        f"# {plan.scenario}: the plan by {plan.phasing}\n\n{_headline(plan)}\n\n"
        f"## Spend by period and stage\n\n{by_period}\n\n"
        f"## Line items by period\n\n{items}\n\n"
        f"{extra}"
        "## Binding rules\n\nThe shadow price is the KPI one more unit of the rule's amount "
        "would buy (a period's cap: a dollar more in that period).\n\n"
        f"{rules}\n\n"
        + (_md_justification(plan, exp) + "\n" if exp is not None else "")
        + f"{_note(exp)}\n"
    )


def phased_review_workbook(plan: Plan, exp: PhasedExplanation | None = None) -> Any:
    """The review of a phased plan as a workbook: Summary, By period (periods × journey stages,
    spend and KPI), Line items by period (line items × periods), Rules (the binding ones); with
    ``exp``, Why (each line item's role, returns, moves re-solved and reason), Why by period (its
    next dollar's return against the hurdle in each period) and Ladder."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    from optimizer.render.report_xlsx import (
        _EPOCH,
        MONEY,
        RATIO,
        _header,
        _total_row,
        _widths,
        _write_rows,
    )

    wb = Workbook()
    wb.properties.creator = "budgetopt"
    wb.properties.title = f"Budget review: {plan.scenario}"
    wb.properties.created = _EPOCH
    ws = wb.active
    ws.title = "Summary"
    ws["A1"] = f"{plan.scenario}: the plan by {plan.phasing}"
    ws["A1"].font = Font(bold=True, size=14)
    _header(ws, 3, ("item", "value"))
    summary = [
        ("status", str(plan.status)),
        ("start", plan.start),
        ("phasing", plan.phasing),
        ("weeks", plan.horizon_weeks),
        ("total spend", plan.total_spend),
        (f"total {plan.kpi}", plan.total_kpi),
        (f"{plan.kpi} after the horizon", plan.kpi_after),
        ("certified gap", plan.gap),
    ]
    _write_rows(ws, 4, [list(r) for r in summary], {2: MONEY})
    ws["B11"].number_format = "0.0000%"
    ws["B7"].number_format = "0"
    ws.cell(row=13, column=1, value=_headline(plan))
    ws.cell(row=14, column=1, value=_note(exp))
    if exp is not None:
        ws.cell(row=15, column=1, value=headline_hurdle(exp))
    _widths(ws, {1: 34, 2: 20})

    stages, rows = period_stage_rows(plan)
    ws = wb.create_sheet("By period")
    cols = ["period", "start", "weeks", *stages, "spend", plan.kpi]
    _header(ws, 1, cols)
    money_cols = {j: MONEY for j in range(4, len(cols) + 1)}
    r = _write_rows(ws, 2, rows, money_cols)
    if plan.kpi_after:
        ws.cell(row=r, column=1, value="after the horizon")
        c = ws.cell(row=r, column=len(cols), value=plan.kpi_after)
        c.number_format = MONEY
        r += 1
    st = plan.stage_totals()
    total = {1: "total", 3: sum(row[2] for row in rows), len(cols) - 1: plan.total_spend}
    total.update({4 + j: st[s]["spend"] for j, s in enumerate(stages)})
    total[len(cols)] = plan.total_kpi
    _total_row(ws, r, len(cols), total, money_cols)
    ws.freeze_panes = "B2"
    _widths(ws, {1: 18, 2: 12, 3: 7}, ncols=len(cols))

    ws = wb.create_sheet("Line items by period")
    labels = [p.period for p in plan.periods]
    cols = ["line item", "stage", *labels, "total"]
    _header(ws, 1, cols)
    money_cols = {j: MONEY for j in range(3, len(cols) + 1)}
    item_rows = [
        [_name(plan, li), li.stage, *(p.spend for p in li.periods), li.spend]
        for li in plan.line_items
    ]
    r = _write_rows(ws, 2, item_rows, money_cols)
    total = {1: "total", len(cols): plan.total_spend}
    total.update({3 + k: p.spend for k, p in enumerate(plan.periods)})
    _total_row(ws, r, len(cols), total, money_cols)
    ws.freeze_panes = "C2"
    _widths(ws, {1: 20, 2: 16}, ncols=len(cols))

    if plan.has_markets:
        ws = wb.create_sheet("Markets")
        _header(ws, 1, ("market", "spend", "share", plan.kpi, "ROI"))
        _write_rows(
            ws,
            2,
            [[m, sp, sh, k, roi] for m, sp, sh, k, roi in market_rows(plan)],
            {2: MONEY, 3: "0.0%", 4: MONEY, 5: RATIO},
        )
        _widths(ws, {1: 20, 2: 14, 3: 9, 4: 14, 5: 8})
    owners = owner_sections(plan)
    if owners:
        ws = wb.create_sheet("Owners")
        cols = ["owner", "line item", "stage", *labels, "spend", plan.kpi, "ROI"]
        cols += ["marginal ROI", "held by"]
        _header(ws, 1, cols)
        flat = [[o, *r] for o, _sentence, rows in owners for r in rows]
        n = len(labels)
        fmts = {j: MONEY for j in range(4, n + 6)}
        fmts.update({n + 6: RATIO, n + 7: RATIO})
        _write_rows(ws, 2, flat, fmts)
        ws.freeze_panes = "D2"
        _widths(ws, {1: 16, 2: 20, 3: 16}, ncols=len(cols))

    ws = wb.create_sheet("Rules")
    _header(ws, 1, ("rule", "kind", "shadow price"))
    _write_rows(
        ws,
        2,
        [[c.label, c.kind, c.shadow_price] for c in _binding(plan)],
        {3: "0.0000"},
    )
    _widths(ws, {1: 60, 2: 16, 3: 14})
    if exp is not None:
        _why_sheets(wb, exp)
    return wb


def write_phased_xlsx(plan: Plan, path: str | Path, exp: PhasedExplanation | None = None) -> Path:
    from optimizer.io.files import atomic_write_bytes
    from optimizer.render.report_xlsx import workbook_bytes

    return atomic_write_bytes(path, workbook_bytes(phased_review_workbook(plan, exp)))


def write_phased_md(plan: Plan, path: str | Path, exp: PhasedExplanation | None = None) -> Path:
    return atomic_write_text(path, phased_review_md(plan, exp))


def write_phased_json(plan: Plan, path: str | Path, exp: PhasedExplanation | None = None) -> Path:
    """The phased review as JSON: ``{"format": "budgetopt.phased_explanation", "format_version":
    1, "plan": the plan as ``optimize --format json`` writes it (contracts 6 and 7),
    "explanation": every field of the ``PhasedExplanation``}``."""
    import json

    from optimizer.render.machine import plan_json

    doc = {
        "format": "budgetopt.phased_explanation",
        "format_version": 1,
        "plan": json.loads(plan_json(plan)),
        "explanation": None if exp is None else exp.to_dict(),
    }
    text = json.dumps(doc, indent=2, allow_nan=False, ensure_ascii=False) + "\n"
    return atomic_write_text(path, text)


def _period_tables(
    plan: Plan, rows: Sequence[tuple[str, str, Sequence[float], float | None]], stage: bool = False
) -> str:
    """Line items' spend by period as HTML tables of at most ``_PERIODS_PER_TABLE`` period columns
    each (``period_blocks``), one after the other, every row ``(line item, stage, spend per
    period, total)`` in each; the stage column with ``stage``, the total (when given) in the last."""
    periods = list(plan.periods)
    blocks = period_blocks(len(periods), plan.phasing)
    out = []
    for b, block in enumerate(blocks):
        total = b == len(blocks) - 1 and any(r[3] is not None for r in rows)
        head = (
            "<tr><th>line item</th>"
            + ("<th>stage</th>" if stage else "")
            + "".join(f'<th class="num">{_e(periods[k].period)}</th>' for k in block)
            + ("<th class='num'>total</th>" if total else "")
            + "</tr>"
        )
        body = "".join(
            f"<tr><td>{_e(name)}</td>"
            + (f"<td>{_e(st)}</td>" if stage else "")
            + "".join(f'<td class="num">{_e(money(spend[k]))}</td>' for k in block)
            + (f'<td class="num">{_e(money(0.0 if tot is None else tot))}</td>' if total else "")
            + "</tr>"
            for name, st, spend, tot in rows
        )
        out.append(f"<div class='t'><table>{head}{body}</table></div>")
    return "".join(out)


def phased_review_html(plan: Plan, exp: PhasedExplanation | None = None) -> str:
    periods = list(plan.periods)
    stages = list(plan.stage_totals())
    png = charts.figure_png(charts.period_stage_figure(plan))
    head = (
        f"<h1>{_e(plan.scenario)}: the plan by {_e(plan.phasing)}</h1>"
        f"<p>{_e(money(plan.total_spend))} over {plan.horizon_weeks} weeks from "
        f"{_e(plan.start)} buys {_e(money(plan.total_kpi))} {_e(plan.kpi)} (carry-over included"
        + (f"; {_e(money(plan.kpi_after))} of it after the horizon" if plan.kpi_after else "")
        + f"). Status {_e(plan.status)}: {_e(_certificate(plan))}.</p>"
    )
    see = shown(plan)  # whole units that foot (render.footing)
    rows = []
    for r in period_stage_rows(plan, see)[1]:
        cells = "".join(f'<td class="num">{_e(money(v))}</td>' for v in r[3:-2])
        rows.append(
            f"<tr><td>{_e(r[0])}</td><td class='num'>{r[2]}</td>{cells}"
            f"<td class='num'>{_e(money(r[-2]))}</td><td class='num'>{_e(money(r[-1]))}</td></tr>"
        )
    th = "".join(f'<th class="num">{_e(st)}</th>' for st in stages)
    by_period = (
        f"<div class='t'><table><tr><th>period</th><th class='num'>weeks</th>{th}"
        f"<th class='num'>spend</th><th class='num'>{_e(plan.kpi)}</th></tr>{''.join(rows)}"
        "</table></div>"
    )
    items_table = _period_tables(plan, _item_rows(plan, see), stage=True)
    extra = ""
    if plan.has_markets:
        ms_png = charts.figure_png(
            charts.market_stage_figure(
                plan.market_stage_totals(),
                stages,
                {m: v["kpi"] for m, v in plan.market_totals().items()},
            )
        )
        mrows = "".join(
            f"<tr><td>{_e(m)}</td><td class='num'>{_e(money(sp))}</td>"
            f"<td class='num'>{sh:.1%}</td><td class='num'>{_e(money(k))}</td>"
            f"<td class='num'>{_e(_r(roi))}</td></tr>"
            for m, sp, sh, k, roi in market_rows(plan, see)
        )
        extra += (
            "<h2>Markets</h2>"
            f"<table><tr><th>market</th><th class='num'>spend</th><th class='num'>share</th>"
            f"<th class='num'>{_e(plan.kpi)}</th><th class='num'>ROI</th></tr>{mrows}</table>"
            f"<figure>{_img(ms_png, 'spend by market and stage')}<figcaption class='note'>Spend "
            "over the horizon by market, split by journey stage (a national buy counted in each "
            "market by its split); the market's ROI beside its total.</figcaption></figure>"
        )
    owners = owner_sections(plan, see)
    if owners:
        n = len(periods)
        ohead = (
            "<tr><th>line item</th><th>stage</th><th class='num'>spend</th>"
            f"<th class='num'>{_e(plan.kpi)}</th><th class='num'>ROI</th>"
            "<th class='num'>marginal ROI</th><th>held by</th></tr>"
        )
        blocks = []
        for o, sentence, orows in owners:
            body = "".join(
                f"<tr><td>{_e(r[0])}</td><td>{_e(r[1])}</td>"
                f"<td class='num'>{_e(money(r[2 + n]))}</td>"
                f"<td class='num'>{_e(money(r[3 + n]))}</td>"
                f"<td class='num'>{_e(_r(r[4 + n]))}</td>"
                f"<td class='num'>{_e(_r(r[5 + n], 3))}</td><td>{_e(r[6 + n])}</td></tr>"
                for r in orows
            )
            spend_by = _period_tables(plan, [(r[0], r[1], r[2 : 2 + n], None) for r in orows])
            blocks.append(
                f"<h3>{_e(o)}</h3><p>{_e(sentence)}</p>"
                f"<div class='t'><table>{ohead}{body}</table></div>"
                f"<p class='note'>{_e(o)}'s spend by {_e(plan.phasing)}:</p>{spend_by}"
            )
        extra += (
            "<h2>Budget owners</h2><p class='note'>Each budget holder's line items: what each "
            "costs and buys, what holds it where it is, and its spend by period.</p>"
            + "".join(blocks)
        )
    binding = "".join(
        f"<tr><td>{_e(c.label)}</td><td class='num'>"
        f"{'–' if c.shadow_price is None else f'{c.shadow_price:.4f}'}</td></tr>"
        for c in plan.constraints
        if c.binding
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{_e(plan.scenario)}</title>"
        f"<style>{_CSS}</style></head><body>{head}"
        f"<h2>Spend by period and stage</h2><figure>{_img(png, 'spend by period and stage')}"
        "<figcaption class='note'>Bars: spend per period by journey stage; line: the KPI per "
        "week in each period, carry-over of earlier spend included.</figcaption></figure>"
        f"{by_period}<h2>Line items by period</h2>{items_table}{extra}"
        "<h2>Binding rules</h2><p class='note'>The shadow price is the KPI one more unit of the "
        "rule's amount would buy (a period's cap: a dollar more in that period).</p>"
        f"<table><tr><th>rule</th><th class='num'>shadow price</th></tr>{binding}</table>"
        + (_html_justification(plan, exp) if exp is not None else "")
        + f"<p class='note'>{_e(_note(exp))}</p></body></html>"
    )


def write_phased_html(plan: Plan, path: str | Path, exp: PhasedExplanation | None = None) -> Path:
    return atomic_write_text(path, phased_review_html(plan, exp))
