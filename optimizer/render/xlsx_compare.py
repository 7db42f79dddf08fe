"""A comparison of scenarios as an Excel workbook (``budgetopt compare --format xlsx -o FILE``).

Sheets: **Summary** (one row per scenario: status, spend, KPI, ROI, marginal ROI, deltas against
the reference, the costliest rule; with a money KPI its break-even threshold, budget and the spend
beyond it), **Stages** (spend per stage and scenario; below it, per market and per budget owner),
**Line items** (spend and KPI per line item and scenario, with deltas; its market and owner beside
its stage) and **Costly rules** (per scenario, the
binding rules that cost the most). Money in ``#,##0`` formats, header rows (and the first column
of the wide sheets) frozen, totals rows written as values. Byte-for-byte deterministic: fixed
document dates and zip entry times.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from optimizer.io.files import atomic_write_bytes
from optimizer.render.report_common import mark_currency
from optimizer.scenario.rules import kind_words
from optimizer.workflow.compare import Comparison

MONEY = "#,##0;[Red]-#,##0"
MONEY_DELTA = "+#,##0;[Red]-#,##0;0"
RATIO = "0.00"
MARGINAL = "0.000"
_EPOCH = dt.datetime(2000, 1, 1)

_HEAD_FONT = Font(bold=True, color="FFFFFF")
_HEAD_FILL = PatternFill("solid", fgColor="1F2D3D")
_REF_FILL = PatternFill("solid", fgColor="E8EEF4")
_TOTAL_FONT = Font(bold=True)
_TOTAL_BORDER = Border(
    top=Side(style="thin", color="1F2D3D"), bottom=Side(style="medium", color="1F2D3D")
)


def _value(v: Any) -> Any:
    """Cells hold numbers or text; NaN, infinities and None become empty cells."""
    if v is None:
        return None
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if hasattr(v, "item") and callable(v.item):  # numpy scalars
        v = v.item()
    return v


def _header(ws: Worksheet, names: Sequence[str], row: int = 1) -> None:
    for j, name in enumerate(names, start=1):
        c = ws.cell(row=row, column=j, value=name)
        c.font = _HEAD_FONT
        c.fill = _HEAD_FILL
        c.alignment = Alignment(wrap_text=True, vertical="bottom")


def _row(
    ws: Worksheet,
    row: int,
    values: Sequence[Any],
    formats: Sequence[str | None],
    total: bool = False,
) -> None:
    for j, (v, f) in enumerate(zip(values, formats, strict=True), start=1):
        c = ws.cell(row=row, column=j, value=_value(v))
        if f:
            c.number_format = f
        if total:
            c.font = _TOTAL_FONT
            c.border = _TOTAL_BORDER


def _widths(ws: Worksheet, widths: Sequence[int]) -> None:
    for j, w in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(j)].width = w


def _summary(wb: Workbook, comp: Comparison) -> None:
    ws = wb.active
    ws.title = "Summary"
    kpi = comp.reference_plan.kpi
    cols = [
        "scenario",
        "status",
        "total spend",
        f"total {kpi}",
        "ROI",
        "marginal ROI",
        "Δ spend",
        f"Δ {kpi}",
        "costliest rule",
        "its gain if relaxed 10%",
    ]
    fmts = [None, None, MONEY, MONEY, RATIO, MARGINAL, MONEY_DELTA, MONEY_DELTA, None, MONEY]
    bes = [p.break_even for p in comp.plans]
    money_kpi = any(b is not None for b in bes)
    if money_kpi:  # where the marginal return falls to 1 + hurdle_rate (workflow.economics)
        cols += ["break-even threshold", "break-even budget", "spend beyond it"]
        fmts += [RATIO, MONEY, MONEY]
    _header(ws, cols)
    s = comp.summary()
    for k, (_, r) in enumerate(s.iterrows()):
        costs = comp.costs_of(k)
        top = costs[0] if costs else None
        be = bes[k] if k < len(bes) else None
        more = []
        if money_kpi:
            more = (
                [None, None, None]
                if be is None
                else [getattr(be, k) for k in ("threshold", "budget", "spend_beyond")]
            )
        _row(
            ws,
            k + 2,
            [
                r["scenario"],
                r["status"],
                r["total_spend"],
                r["total_kpi"],
                r["roi"],
                r["marginal_roi"],
                r["delta_spend"],
                r["delta_kpi"],
                top.label if top else None,
                top.gain if top else None,
                *more,
            ],
            fmts,
        )
        if k == comp.reference:
            for j in range(1, len(cols) + 1):
                ws.cell(row=k + 2, column=j).fill = _REF_FILL
    note = len(s) + 3
    ws.cell(
        row=note,
        column=1,
        value=f"deltas against the reference scenario: {comp.reference_plan.scenario}",
    )
    ws.freeze_panes = "B2"
    _widths(ws, [28, 11, 15, 15, 8, 12, 14, 14, 48, 16] + ([12, 15, 15] if money_kpi else []))


def _stages(wb: Workbook, comp: Comparison) -> None:
    ws = wb.create_sheet("Stages")
    bs = comp.by_stage()
    names = [str(c) for c in bs.columns]
    _header(ws, ["stage", *names])
    fmts = [None, *[MONEY] * len(names)]
    r = 2
    for stage, row in bs.iterrows():
        _row(ws, r, [str(stage), *[float(v) for v in row]], fmts)
        r += 1
    _row(
        ws,
        r,
        ["total", *[p.total_spend for p in comp.plans if p.scenario in names]],
        fmts,
        total=True,
    )
    r += 2
    for title, what in (("Markets", "market"), ("Budget owners", "owner")):
        bt = comp.by_total(what)
        if bt.empty:
            continue
        ws.cell(row=r, column=1, value=title).font = _TOTAL_FONT
        _header(ws, [what, *[str(c) for c in bt.columns]], row=r + 1)
        r += 2
        for name, row in bt.iterrows():
            _row(ws, r, [str(name), *[float(v) for v in row]], fmts)
            r += 1
        r += 1
    ws.freeze_panes = "B2"
    _widths(ws, [18, *[max(14, min(30, len(n) + 2)) for n in names]])


def _periods(wb: Workbook, comp: Comparison) -> None:
    """Phased scenarios (contract 7): spend and KPI of each period (rows, in calendar order over
    all the plans) per scenario (columns); a scenario without that period leaves it empty."""
    plans = [p for p in comp.plans if p.periods]
    labels: list[str] = []
    for p in plans:
        labels += [q.period for q in p.periods if q.period not in labels]
    labels.sort()
    ws = wb.create_sheet("By period")
    names = [f"{what}: {p.scenario}" for p in plans for what in ("spend", p.kpi)]
    _header(ws, ["period", *names])
    fmts = [None, *[MONEY] * len(names)]
    r = 2
    for label in labels:
        vals: list[Any] = [label]
        for p in plans:
            q = next((q for q in p.periods if q.period == label), None)
            vals += [None, None] if q is None else [q.spend, q.kpi]
        _row(ws, r, vals, fmts)
        r += 1
    if any(p.kpi_after for p in plans):  # what the horizon's spend earns after it ends
        after: list[Any] = ["after"]
        for p in plans:
            after += [None, p.kpi_after or None]
        _row(ws, r, after, fmts)
        r += 1
    total: list[Any] = ["total"]
    for p in plans:
        total += [p.total_spend, p.total_kpi]
    _row(ws, r, total, fmts, total=True)
    ws.freeze_panes = "B2"
    _widths(ws, [12, *[max(14, min(30, len(n) + 2)) for n in names]])


def _line_items(wb: Workbook, comp: Comparison) -> None:
    ws = wb.create_sheet("Line items")
    df = comp.line_item_deltas()
    kpi = comp.reference_plan.kpi
    df.columns = [
        str(c).replace("kpi: ", f"{kpi}: ").replace("Δ kpi", f"Δ {kpi}") for c in df.columns
    ]
    labels = comp.line_item_labels()  # market and owner, beside the stage
    cols = ["line item", "stage", *labels, *[str(c) for c in df.columns[1:]]]
    _header(ws, cols)
    fmts: list[str | None] = [None, None, *[None] * len(labels)]
    for c in df.columns[1:]:
        fmts.append(MONEY_DELTA if str(c).startswith("Δ") else MONEY)
    r = 2
    for tid, row in df.iterrows():
        _row(
            ws,
            r,
            [
                str(tid),
                row["stage"],
                *[v.get(str(tid), "") for v in labels.values()],
                *[float(row[c]) for c in df.columns[1:]],
            ],
            fmts,
        )
        r += 1
    totals: list[Any] = ["total", None, *[None] * len(labels)]
    for c in df.columns[1:]:
        totals.append(float(df[c].sum()))
    _row(ws, r, totals, fmts, total=True)
    ws.freeze_panes = "C2"
    _widths(
        ws,
        [18, 15, *[18] * len(labels), *[max(14, min(30, len(str(c)) + 2)) for c in df.columns[1:]]],
    )


def _costs(wb: Workbook, comp: Comparison) -> None:
    ws = wb.create_sheet("Costly rules")
    _header(
        ws, ["scenario", "rule", "kind", "shadow price", "relaxed by", "gain", "unit", "rule id"]
    )
    fmts = [None, None, None, "0.0000", MONEY, MONEY, None, None]
    r = 2
    for k, p in enumerate(comp.plans):
        for c in comp.costs_of(k):
            _row(
                ws,
                r,
                [
                    p.scenario,
                    c.label,
                    kind_words(c.kind),
                    c.shadow_price,
                    c.relaxed_by,
                    c.gain,
                    c.unit,
                    c.name,  # the id the JSON gives the rule, last, for a lookup
                ],
                fmts,
            )
            r += 1
    if r == 2:
        ws.cell(row=2, column=1, value="no binding rule besides the budget holds any scenario back")
    ws.freeze_panes = "A2"
    _widths(ws, [28, 56, 30, 14, 14, 14, 12])


def comparison_workbook(comp: Comparison) -> Workbook:
    """The comparison as a workbook (not yet saved)."""
    wb = Workbook()
    wb.properties.creator = "budgetopt"
    wb.properties.title = "Scenario comparison"
    wb.properties.created = _EPOCH
    _summary(wb, comp)
    _stages(wb, comp)
    if any(p.periods for p in comp.plans):
        _periods(wb, comp)
    _line_items(wb, comp)
    _costs(wb, comp)
    cur = next((p.extras.get("currency") for p in comp.plans if p.extras.get("currency")), None)
    mark_currency(wb, None if cur is None else str(cur))
    return wb


def comparison_xlsx(comp: Comparison) -> bytes:
    """The comparison workbook as ``.xlsx`` bytes (deterministic)."""
    from optimizer.render.report_xlsx import workbook_bytes

    return workbook_bytes(comparison_workbook(comp))


def write_comparison_xlsx(comp: Comparison, path: str | Path) -> Path:
    """Write the comparison workbook atomically."""
    return atomic_write_bytes(path, comparison_xlsx(comp))
