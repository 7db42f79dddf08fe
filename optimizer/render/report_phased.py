"""The review pack of a phased plan (contract 7): one self-contained HTML page, a Markdown page
and an Excel workbook, each with the plan by period and stage (the page with its chart), each line
item by period, the binding rules with their shadow prices and the certificate. The line-item
justifications of the undated review (ladder, moves, role ranges) are not computed for phased
plans yet; each format says so."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from optimizer.allocate import Plan
from optimizer.formatting import money
from optimizer.io.files import atomic_write_text
from optimizer.render import charts
from optimizer.render.report_common import certificate_text
from optimizer.render.report_html import _img

_CSS = (
    "body{font-family:system-ui,sans-serif;color:#1f2d3d;max-width:1100px;margin:2em auto;"
    "font-size:14px}table{border-collapse:collapse;margin:0.6em 0}td,th{padding:2px 8px;"
    "border-bottom:1px solid #e3e8ee;text-align:left}td.num,th.num{text-align:right;"
    "font-variant-numeric:tabular-nums}h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.6em}"
    ".note{color:#5b6b7b}"
)


def _e(s: object) -> str:
    return html.escape(str(s))


def _certificate(plan: Plan) -> str:
    """ "certified within X of the exact optimum" only for an optimal plan (``certificate_text``)."""
    text = certificate_text(str(plan.status), plan.gap)
    return text + " on the model's curves" if text.startswith("certified") else text


_NOT_YET = (
    "The line-item justifications of the undated review (the zero-based ladder, the price of "
    "moving each line item, the budgets over which it keeps its role) are not computed for plans "
    "on a calendar yet."
)


def period_stage_rows(plan: Plan) -> tuple[list[str], list[list[Any]]]:
    """The plan by period and journey stage: the stages, and per period ``[label, start, weeks,
    spend per stage…, spend, KPI]`` (a period's KPI is its weeks', carry-over included)."""
    stages = list(plan.stage_totals())
    rows: list[list[Any]] = []
    for k, p in enumerate(plan.periods):
        by = {st: 0.0 for st in stages}
        for li in plan.line_items:
            by[li.stage] = by.get(li.stage, 0.0) + li.periods[k].spend
        rows.append(
            [p.period, p.start, p.weeks, *(round(by[st], 2) for st in stages), p.spend, p.kpi]
        )
    return stages, rows


def _binding(plan: Plan) -> list[Any]:
    return [c for c in plan.constraints if c.binding]


def _headline(plan: Plan) -> str:
    return (
        f"{money(plan.total_spend)} over {plan.horizon_weeks} weeks from {plan.start} buys "
        f"{money(plan.total_kpi)} {plan.kpi} (carry-over included"
        + (f"; {money(plan.kpi_after)} of it after the horizon" if plan.kpi_after else "")
        + f"). Status {plan.status}: {_certificate(plan)}."
    )


def phased_review_md(plan: Plan) -> str:
    """The review of a phased plan as Markdown: headline, by period and stage, line items by
    period, binding rules."""
    from optimizer.render.report_md import _table

    stages, rows = period_stage_rows(plan)
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
            [["after the horizon", "", "", *([""] * len(stages)), "", money(plan.kpi_after)]]
            if plan.kpi_after
            else []
        )
        + [
            [
                "total",
                "",
                sum(r[2] for r in rows),
                *(money(plan.stage_totals()[st]["spend"]) for st in stages),
                money(plan.total_spend),
                money(plan.total_kpi),
            ]
        ],
        right=range(2, ncol),
    )
    labels = [p.period for p in plan.periods]
    items = _table(
        ["line item", "stage", *labels, "total"],
        [
            [li.id, li.stage, *(money(p.spend) for p in li.periods), money(li.spend)]
            for li in plan.line_items
        ]
        + [["total", "", *(money(p.spend) for p in plan.periods), money(plan.total_spend)]],
        right=range(2, len(labels) + 3),
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
        "## Binding rules\n\nThe shadow price is the KPI one more unit of the rule's amount "
        "would buy (a period's cap: a dollar more in that period).\n\n"
        f"{rules}\n\n{_NOT_YET}\n"
    )


def phased_review_workbook(plan: Plan) -> Any:
    """The review of a phased plan as a workbook: Summary, By period (periods × journey stages,
    spend and KPI), Line items by period (line items × periods), Rules (the binding ones)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    from optimizer.render.report_xlsx import (
        _EPOCH,
        MONEY,
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
    ws.cell(row=14, column=1, value=_NOT_YET)
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
        [li.id, li.stage, *(p.spend for p in li.periods), li.spend] for li in plan.line_items
    ]
    r = _write_rows(ws, 2, item_rows, money_cols)
    total = {1: "total", len(cols): plan.total_spend}
    total.update({3 + k: p.spend for k, p in enumerate(plan.periods)})
    _total_row(ws, r, len(cols), total, money_cols)
    ws.freeze_panes = "C2"
    _widths(ws, {1: 20, 2: 16}, ncols=len(cols))

    ws = wb.create_sheet("Rules")
    _header(ws, 1, ("rule", "kind", "shadow price"))
    _write_rows(
        ws,
        2,
        [[c.label, c.kind, c.shadow_price] for c in _binding(plan)],
        {3: "0.0000"},
    )
    _widths(ws, {1: 60, 2: 16, 3: 14})
    return wb


def write_phased_xlsx(plan: Plan, path: str | Path) -> Path:
    from optimizer.io.files import atomic_write_bytes
    from optimizer.render.report_xlsx import workbook_bytes

    return atomic_write_bytes(path, workbook_bytes(phased_review_workbook(plan)))


def write_phased_md(plan: Plan, path: str | Path) -> Path:
    return atomic_write_text(path, phased_review_md(plan))


def phased_review_html(plan: Plan) -> str:
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
    rows = []
    for k, p in enumerate(periods):
        by = {st: 0.0 for st in stages}
        for li in plan.line_items:
            by[li.stage] = by.get(li.stage, 0.0) + li.periods[k].spend
        cells = "".join(f'<td class="num">{_e(money(by[st]))}</td>' for st in stages)
        rows.append(
            f"<tr><td>{_e(p.period)}</td><td class='num'>{p.weeks}</td>{cells}"
            f"<td class='num'>{_e(money(p.spend))}</td><td class='num'>{_e(money(p.kpi))}</td></tr>"
        )
    th = "".join(f'<th class="num">{_e(st)}</th>' for st in stages)
    by_period = (
        f"<table><tr><th>period</th><th class='num'>weeks</th>{th}<th class='num'>spend</th>"
        f"<th class='num'>{_e(plan.kpi)}</th></tr>{''.join(rows)}</table>"
    )
    ph = "".join(f'<th class="num">{_e(p.period)}</th>' for p in periods)
    items = "".join(
        f"<tr><td>{_e(li.id)}</td><td>{_e(li.stage)}</td>"
        + "".join(f'<td class="num">{_e(money(p.spend))}</td>' for p in li.periods)
        + f'<td class="num">{_e(money(li.spend))}</td></tr>'
        for li in plan.line_items
    )
    items_table = (
        "<div style='overflow-x:auto;font-size:12px'>"
        f"<table><tr><th>line item</th><th>stage</th>{ph}<th class='num'>total</th></tr>"
        f"{items}</table></div>"
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
        f"{by_period}<h2>Line items by period</h2>{items_table}"
        "<h2>Binding rules</h2><p class='note'>The shadow price is the KPI one more unit of the "
        "rule's amount would buy (a period's cap: a dollar more in that period).</p>"
        f"<table><tr><th>rule</th><th class='num'>shadow price</th></tr>{binding}</table>"
        f"<p class='note'>{_e(_NOT_YET)}</p></body></html>"
    )


def write_phased_html(plan: Plan, path: str | Path) -> Path:
    return atomic_write_text(path, phased_review_html(plan))
