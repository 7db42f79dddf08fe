"""The budget review pack as an Excel workbook (openpyxl): one sheet per view.

Sheets: Summary, Line items, Why, Ladder, Stages, Constraints and (when swept) Frontier. Money
in ``#,##0`` formats, header rows frozen, totals rows that reconcile with the plan (written as
values, so every reader sees them, not only spreadsheet programs that recalculate). The file is
byte-for-byte deterministic: fixed document dates and zip entry times.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from optimizer.explain import Explanation, Ladder
from optimizer.io.files import atomic_write_bytes
from optimizer.render.report_common import (
    CONSTRAINT_COLUMNS,
    LADDER_COLUMNS,
    LINE_ITEM_COLUMNS,
    STAGE_COLUMNS,
    constraint_rows,
    default_plan_table,
    group_rows,
    held_by,
    ladder_cut_words,
    ladder_row,
    line_item_rows,
    mark_currency,
    role_word,
    summary_rows,
)

MONEY = "#,##0;[Red]-#,##0"
MONEY_DELTA = "+#,##0;[Red]-#,##0;0"
RATIO = "0.000"
PCT = "0.0%"
_EPOCH = dt.datetime(2000, 1, 1)

_HEAD_FONT = Font(bold=True, color="FFFFFF")
_HEAD_FILL = PatternFill("solid", fgColor="1F2D3D")
_TOTAL_FONT = Font(bold=True)
_THIN = Side(style="thin", color="1F2D3D")
_THICK = Side(style="medium", color="1F2D3D")
_TOTAL_BORDER = Border(top=_THIN, bottom=_THICK)
_CUT_BORDER = Border(bottom=Side(style="thick", color="C0504D"))


def _header(ws: Worksheet, row: int, names: Sequence[str]) -> None:
    for j, name in enumerate(names, start=1):
        c = ws.cell(row=row, column=j, value=name)
        c.font = _HEAD_FONT
        c.fill = _HEAD_FILL
        c.alignment = Alignment(wrap_text=True, vertical="bottom")


def _write_rows(
    ws: Worksheet, start: int, rows: Sequence[Sequence[Any]], formats: dict[int, str]
) -> int:
    r = start
    for row in rows:
        for j, v in enumerate(row, start=1):
            c = ws.cell(row=r, column=j, value=v)
            if j in formats and isinstance(v, (int, float)):
                c.number_format = formats[j]
        r += 1
    return r


def _total_row(
    ws: Worksheet, row: int, ncols: int, values: dict[int, Any], formats: dict[int, str]
) -> None:
    for j in range(1, ncols + 1):
        c = ws.cell(row=row, column=j, value=values.get(j))
        c.font = _TOTAL_FONT
        c.border = _TOTAL_BORDER
        if j in formats and isinstance(values.get(j), (int, float)):
            c.number_format = formats[j]


def _widths(ws: Worksheet, widths: dict[int, float], default: float = 14.0, ncols: int = 0) -> None:
    for j in range(1, max(ncols, max(widths, default=0)) + 1):
        ws.column_dimensions[get_column_letter(j)].width = widths.get(j, default)


def _summary(wb: Workbook, e: Explanation) -> None:
    ws = wb.active
    ws.title = "Summary"
    ws["A1"] = f"Budget review: {e.scenario}"
    ws["A1"].font = Font(bold=True, size=14)
    _header(ws, 3, ("item", "value"))
    fmt = {"money": MONEY, "ratio": RATIO, "pct": "0.000%", "int": "0"}
    r = 4
    for label, value, kind in summary_rows(e):
        ws.cell(row=r, column=1, value=label)
        c = ws.cell(row=r, column=2, value=value)
        if kind in fmt and isinstance(value, (int, float)):
            c.number_format = fmt[kind]
        r += 1
    r += 1
    ws.cell(row=r, column=1, value="In words").font = _TOTAL_FONT
    for line in (*e.headline, *(f"Warning: {w}" for w in e.warnings)):
        r += 1
        ws.cell(row=r, column=1, value=line)
    table = default_plan_table(e)
    if table is not None and e.optimize_default is not None:
        # under the title, before anything else: the plan optimize makes by default is not this
        ws["A2"] = "Not the plan optimize makes by default. " + e.optimize_default.sentence
        ws["A2"].font = Font(bold=True, color="C0504D")
        head, rows = table
        r += 2
        ws.cell(row=r, column=1, value="optimize's default plan beside this one").font = _TOTAL_FONT
        _header(ws, r + 1, head)
        r = _write_rows(ws, r + 2, rows, {2: MONEY, 3: MONEY, 4: MONEY_DELTA})
    ws.freeze_panes = "A4"
    _widths(ws, {1: 34, 2: 20} if table is None else {1: 34, 2: 20, 3: 20})


def _line_items(wb: Workbook, e: Explanation) -> None:
    ws = wb.create_sheet("Line items")
    cols = LINE_ITEM_COLUMNS
    _header(ws, 1, cols)
    formats = {
        3: MONEY,
        4: PCT,
        5: MONEY,
        6: RATIO,
        7: RATIO,
        8: RATIO,
        11: MONEY,
        12: MONEY_DELTA,
        13: MONEY,
        14: MONEY_DELTA,
        15: MONEY,
        16: MONEY,
        17: MONEY,
        18: MONEY,
        19: MONEY,
        20: MONEY_DELTA,
    }
    end = _write_rows(ws, 2, line_item_rows(e), formats)
    totals: dict[int, Any] = {
        1: "Total",
        3: e.total_spend,
        4: 1.0 if e.total_spend > 0 else 0.0,
        5: e.total_kpi,
        6: e.roi,
    }
    if e.last_cycle_total is not None:
        totals[19] = e.last_cycle_total
        totals[20] = float(round(e.total_spend - e.last_cycle_total, 2))
    _total_row(ws, end, len(cols), totals, formats)
    ws.freeze_panes = "B2"
    _widths(ws, {1: 16, 2: 16, 9: 18, 10: 34}, ncols=len(cols))


def _why(wb: Workbook, e: Explanation) -> None:
    ws = wb.create_sheet("Why")
    cols = (
        "line item",
        "role",
        "why it stops where it stops",
        "next increment",
        "last increment",
        "over budgets",
        "on its curve",
    )
    _header(ws, 1, cols)
    rows = [
        [
            it.id,
            role_word(it.role, it),
            it.reason,
            it.next.sentence if it.next else None,
            it.last.sentence if it.last else None,
            it.role_range.sentence if it.role_range else None,
            it.position.sentence,
        ]
        for it in e.items
    ]
    _write_rows(ws, 2, rows, {})
    for row in ws.iter_rows(min_row=2):
        for c in row:
            c.alignment = Alignment(wrap_text=True, vertical="top")
    ws.freeze_panes = "B2"
    _widths(ws, {1: 14, 2: 16}, default=48, ncols=len(cols))


def _ladder(wb: Workbook, e: Explanation) -> None:
    ladder_sheet(wb, e.ladder)


def ladder_sheet(wb: Workbook, lad: Ladder) -> None:
    """The Ladder sheet: every increment ranked, the cut-off line drawn under the last one in, a
    total of the increments above it, and the increments a rule keeps out (the undated review's
    and a phased review's)."""
    ws = wb.create_sheet("Ladder")
    cols = (*LADDER_COLUMNS, "above the line")
    _header(ws, 1, cols)
    formats = {5: MONEY, 6: MONEY, 7: MONEY, 8: MONEY, 9: RATIO, 10: RATIO, 12: MONEY, 13: MONEY}
    rows = [[*ladder_row(s), "yes" if s.rank <= lad.cutoff else "no"] for s in lad.steps]
    end = _write_rows(ws, 2, rows, formats)
    if lad.cutoff:
        for j in range(1, len(cols) + 1):
            ws.cell(row=1 + lad.cutoff, column=j).border = _CUT_BORDER
    above = lad.steps[: lad.cutoff]
    _total_row(
        ws,
        end,
        len(cols),
        {
            1: "Above the line",
            7: float(round(sum(s.amount for s in above), 2)),
            8: float(sum(s.kpi_gain for s in above)),
            14: ladder_cut_words(lad)
            if any(lad.out_of_order())
            else f"the budget runs out after rank {lad.cutoff}",
        },
        formats,
    )
    r = end + 2
    if lad.blocked:
        ws.cell(
            row=r, column=1, value="Kept out by a rule, whatever they return"
        ).font = _TOTAL_FONT
        _header(ws, r + 1, cols)
        _write_rows(ws, r + 2, [[*ladder_row(s), "no"] for s in lad.blocked], formats)
    ws.freeze_panes = "C2"
    _widths(ws, {1: 8, 2: 14, 3: 16, 4: 10, 11: 11, 14: 44}, ncols=len(cols))


def _stages(wb: Workbook, e: Explanation) -> None:
    ws = wb.create_sheet("Stages")
    cols = STAGE_COLUMNS
    _header(ws, 1, cols)
    formats = {3: MONEY, 4: PCT, 5: MONEY, 6: RATIO, 7: RATIO, 8: RATIO, 10: MONEY, 11: MONEY_DELTA}
    end = _write_rows(ws, 2, group_rows(e.stages), formats)
    totals: dict[int, Any] = {
        1: "Total",
        3: float(round(sum(g.spend for g in e.stages), 2)),
        4: 1.0 if e.total_spend > 0 else 0.0,
        5: float(sum(g.kpi for g in e.stages)),
        6: e.roi,
    }
    if e.last_cycle_total is not None:
        totals[10] = e.last_cycle_total
        totals[11] = float(round(e.total_spend - e.last_cycle_total, 2))
    _total_row(ws, end, len(cols), totals, formats)
    if e.groups:
        r = end + 2
        ws.cell(row=r, column=1, value="Groups").font = _TOTAL_FONT
        _header(ws, r + 1, ("group", *cols[1:]))
        _write_rows(ws, r + 2, group_rows(e.groups), formats)
    r = (r + 3 + len(e.groups)) if e.groups else end + 2
    for title, rows in (("Markets", e.markets), ("Budget owners", e.owners)):
        if not rows:
            continue
        ws.cell(row=r, column=1, value=title).font = _TOTAL_FONT
        _header(ws, r + 1, (title.split()[-1].rstrip("s").lower(), *cols[1:]))
        r = _write_rows(ws, r + 2, group_rows(rows), formats) + 1
    ws.freeze_panes = "B2"
    _widths(ws, {1: 16, 2: 30, 9: 34}, ncols=len(cols))


_OWNER_COLUMNS = (
    "owner",
    "line item",
    "stage",
    "spend",
    "buys",
    "ROI",
    "marginal ROI",
    "role",
    "held by",
    "next increment",
    "plan KPI change (re-solved)",
    "last increment",
    "plan KPI change (re-solved) ",
)


def _owners(wb: Workbook, e: Explanation) -> None:
    """One block per budget owner: their line items, what each buys, what holds it, and what
    its next and last increment would gain or lose for the whole plan."""
    ws = wb.create_sheet("Owners")
    _header(ws, 1, _OWNER_COLUMNS)
    formats = {4: MONEY, 5: MONEY, 6: RATIO, 7: RATIO, 10: MONEY, 11: MONEY_DELTA, 12: MONEY}
    formats[13] = MONEY_DELTA
    rows = [
        [
            it.owner,
            it.id,
            it.stage,
            it.spend,
            it.kpi,
            it.roi,
            it.marginal_roi,
            role_word(it.role, it),
            held_by(it),
            None if it.next is None else it.next.amount,
            None if it.next is None else it.next.total_kpi,
            None if it.last is None else it.last.amount,
            None if it.last is None else it.last.total_kpi,
        ]
        for g in e.owners
        for it in e.owner_items(g.name)
    ]
    _write_rows(ws, 2, rows, formats)
    ws.freeze_panes = "C2"
    _widths(ws, {1: 18, 2: 24, 9: 34}, ncols=len(_OWNER_COLUMNS))


def _constraints(wb: Workbook, e: Explanation) -> None:
    ws = wb.create_sheet("Constraints")
    cols = CONSTRAINT_COLUMNS
    _header(ws, 1, cols)
    money_like = {4: MONEY, 5: MONEY, 6: MONEY, 8: "0.0000", 10: MONEY, 11: MONEY}
    rows = constraint_rows(e)
    _write_rows(ws, 2, rows, money_like)
    for i, c in enumerate(e.constraints, start=2):  # a share rule's step is a fraction
        ws.cell(row=i, column=9).number_format = "0%" if c.unit == "share" else MONEY
    for row in ws.iter_rows(min_row=2, min_col=12, max_col=12):
        for c in row:
            c.alignment = Alignment(wrap_text=True, vertical="top")
    ws.freeze_panes = "B2"
    _widths(ws, {1: 34, 2: 16, 3: 7, 12: 70}, ncols=len(cols))


def _frontier(wb: Workbook, e: Explanation) -> None:
    ws = wb.create_sheet("Frontier")
    cols = ("budget", "status", "total spend", f"total {e.kpi}", "marginal return", "this plan")
    _header(ws, 1, cols)
    rows = [
        [
            p.budget,
            p.status,
            p.total_spend,
            p.total_kpi,
            p.marginal,
            "yes" if e.budget is not None and abs(p.budget - e.budget) < 0.5 else "",
        ]
        for p in e.frontier
    ]
    _write_rows(ws, 2, rows, {1: MONEY, 3: MONEY, 4: MONEY, 5: RATIO})
    ws.freeze_panes = "A2"
    _widths(ws, {}, ncols=len(cols))


def workbook_bytes(wb: Workbook) -> bytes:
    """A workbook as ``.xlsx`` bytes, deterministic: fixed timestamps inside and on every zip entry,
    so equal content is equal bytes (used by every workbook budgetopt writes)."""
    from openpyxl.writer.excel import ExcelWriter

    wb.properties.created = _EPOCH
    wb.properties.modified = _EPOCH
    # budgetopt writes no formulas: a cell openpyxl took for one is data (an id "=cmd|...") and is
    # written as text, never as a live formula
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if cell.data_type == "f":
                    cell.data_type = "s"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        ExcelWriter(wb, archive).save()
    src = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            zi = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = info.external_attr
            dst.writestr(zi, src.read(info.filename))
    return out.getvalue()


def explanation_workbook(e: Explanation) -> Workbook:
    """Build the review workbook (not yet saved).

    Parameters
    ----------
    e : Explanation

    Returns
    -------
    openpyxl.Workbook
    """
    wb = Workbook()
    wb.properties.creator = "budgetopt"
    wb.properties.title = f"Budget review: {e.scenario}"
    wb.properties.created = _EPOCH
    _summary(wb, e)
    _line_items(wb, e)
    _why(wb, e)
    _ladder(wb, e)
    _stages(wb, e)
    if e.owners:
        _owners(wb, e)
    _constraints(wb, e)
    if e.frontier:
        _frontier(wb, e)
    mark_currency(wb, e.currency)
    return wb


def explanation_xlsx(e: Explanation) -> bytes:
    """The review workbook as ``.xlsx`` bytes (deterministic)."""
    return workbook_bytes(explanation_workbook(e))


def write_xlsx(e: Explanation, path: str | Path) -> Path:
    """Write the review workbook atomically."""
    return atomic_write_bytes(path, explanation_xlsx(e))
