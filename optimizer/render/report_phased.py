"""The review pack of a phased plan (contract 7), as one self-contained HTML page: the plan by
period and stage (chart and table), each line item by period, the binding rules with their shadow
prices, the certificate. The line-item justifications of the undated review (ladder, moves, role
ranges) are not computed for phased plans yet; the page says so."""

from __future__ import annotations

import html
from pathlib import Path

from optimizer.allocate import Plan
from optimizer.formatting import money
from optimizer.io.files import atomic_write_text
from optimizer.render import charts
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


def _gap(gap: float | None) -> str:
    if gap is None:
        return "an unknown gap"
    return "< 0.0001%" if gap < 1e-6 else f"{100 * gap:.4f}%"


def phased_review_html(plan: Plan) -> str:
    periods = list(plan.periods)
    stages = list(plan.stage_totals())
    png = charts.figure_png(charts.period_stage_figure(plan))
    head = (
        f"<h1>{_e(plan.scenario)}: the plan by {_e(plan.phasing)}</h1>"
        f"<p>{_e(money(plan.total_spend))} over {plan.horizon_weeks} weeks from "
        f"{_e(plan.start)} buys {_e(money(plan.total_kpi))} {_e(plan.kpi)} (carry-over included"
        + (f"; {_e(money(plan.kpi_after))} of it after the horizon" if plan.kpi_after else "")
        + f"). Status {_e(plan.status)}, certified within {_gap(plan.gap)} of the exact "
        "optimum on the model's curves.</p>"
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
        "<p class='note'>The line-item justifications of the undated review (the zero-based "
        "ladder, the price of moving each line item, the budgets over which it keeps its role) "
        "are not computed for plans on a calendar yet.</p></body></html>"
    )


def write_phased_html(plan: Plan, path: str | Path) -> Path:
    return atomic_write_text(path, phased_review_html(plan))
