"""Tables that fit the terminal: the one place a terminal width is chosen and a table is fitted.

The width is ``COLUMNS`` when set, else the terminal's, else 100 (:func:`terminal_width`). A
table wider than that is fitted (:func:`fit`), never cut:

1. its text columns and its headers wrap at word boundaries, down to their longest word, widest
   first; a number is never wrapped (a right-aligned column keeps its widest value on one line);
2. when even that is too wide, its columns are split into blocks printed one under the other,
   each repeating the first column (the row's name), as pandas prints a wide frame.

Paragraphs (rich ``Text``) wrap at the width by words. ``--wide`` (:func:`set_wide`) prints every
table at its natural width instead, each column on one line.
"""

from __future__ import annotations

import copy
import io
import os
import shutil
import sys
from collections.abc import Iterator
from contextvars import ContextVar
from typing import IO, Any

from rich.console import Console, Group
from rich.measure import Measurement
from rich.table import Table

#: the width when neither ``COLUMNS`` nor a terminal says otherwise
DEFAULT_WIDTH = 100
#: no table is fitted narrower than this (a cell needs some room)
MIN_WIDTH = 40
#: --wide never prints wider than this
MAX_WIDE = 2000

_WIDE: ContextVar[bool] = ContextVar("budgetopt_wide", default=False)


def set_wide(wide: bool) -> None:
    """Print tables at their natural width (``--wide``) for the rest of this context."""
    _WIDE.set(bool(wide))


def is_wide() -> bool:
    return _WIDE.get()


def terminal_width() -> int:
    """``COLUMNS`` when it is a number, else the terminal's width, else :data:`DEFAULT_WIDTH`
    (output to a pipe or a file); never below :data:`MIN_WIDTH`."""
    raw = os.environ.get("COLUMNS", "").strip()
    if raw.isdigit() and int(raw) > 0:
        return max(MIN_WIDTH, int(raw))
    cols = DEFAULT_WIDTH
    try:
        if sys.__stdout__ is not None and sys.__stdout__.isatty():
            cols = shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns
    except (OSError, ValueError):
        cols = DEFAULT_WIDTH
    return max(MIN_WIDTH, cols)


# ------------------------------------------------------------------------------------------------
# measuring
# ------------------------------------------------------------------------------------------------
_PROBE = Console(width=MAX_WIDE, file=io.StringIO())


def _measure(cell: Any) -> Measurement:
    if cell is None or cell == "":
        return Measurement(0, 0)
    return Measurement.get(_PROBE, _PROBE.options, cell)


def _tables(obj: Any) -> Iterator[Table]:
    if isinstance(obj, Table):
        yield obj
    elif isinstance(obj, Group):
        for r in obj.renderables:
            yield from _tables(r)


def natural_width(obj: Any) -> int:
    """The width a renderable takes with no wrapping at all."""
    return int(_measure(obj).maximum)


def _overhead(table: Table, n: int) -> int:
    """Borders and padding of a table with ``n`` columns."""
    extra = (2 if table.box and table.show_edge else 0) + (max(n - 1, 0) if table.box else 0)
    _, right, _, left = table.padding
    pad = (left + right) * n
    if not table.pad_edge and n:
        pad -= left + right
    return extra + pad


def _column_widths(table: Table) -> tuple[list[int], list[int]]:
    """Each column's natural width and the least it can take: a right-aligned (number) column
    its widest value and its header's longest word, a text column its longest word."""
    nat, low = [], []
    for col in table.columns:
        data = [_measure(c) for c in col._cells]
        if table.show_footer:
            data.append(_measure(col.footer))
        head = _measure(col.header) if table.show_header else Measurement(0, 0)
        n = max([m.maximum for m in data] + [head.maximum, 1])
        if col.justify == "right" or col.no_wrap:
            least = max([m.maximum for m in data] + [head.minimum, 1])
        else:
            least = max([m.minimum for m in data] + [head.minimum, 1])
        if col.width is not None:
            n = least = col.width
        nat.append(n)
        low.append(min(least, n))
    return nat, low


def _with_columns(table: Table, idx: list[int], title: Any) -> Table:
    t = copy.copy(table)
    cols = []
    for k, i in enumerate(idx):
        c = copy.copy(table.columns[i])
        c._index = k
        cols.append(c)
    t.columns = cols
    t.title = title
    return t


def _shrink(table: Table, width: int) -> Table:
    """The table with fixed column widths that fit ``width``: number columns' headers wrap
    first, then the widest text column, none below its least width."""
    nat, low = _column_widths(table)
    room = width - _overhead(table, len(nat))
    if sum(nat) <= room:
        return table
    w = list(nat)
    excess = sum(w) - room
    numbers = [c.justify == "right" for c in table.columns]
    for first in (True, False):  # a number column's header wraps before any text does
        while excess > 0:
            k = max(
                (i for i in range(len(w)) if w[i] > low[i] and (numbers[i] or not first)),
                key=lambda i: (w[i], i),
                default=None,
            )
            if k is None:
                break
            w[k] -= 1
            excess -= 1
    t = _with_columns(table, list(range(len(w))), table.title)
    for c, x in zip(t.columns, w, strict=True):
        c.width = x
    return t


def fit_table(table: Table, width: int) -> list[Table]:
    """``table`` as one or more tables no wider than ``width`` (see the module docstring)."""
    n = len(table.columns)
    if n == 0:
        return [table]
    nat, low = _column_widths(table)
    if sum(nat) + _overhead(table, n) <= width:
        return [table]
    if sum(low) + _overhead(table, n) <= width or n <= 2:
        return [_shrink(table, width)]
    if table.show_edge or table.pad_edge:  # the edges' spaces go before the columns split
        tight = _with_columns(table, list(range(n)), table.title)
        tight.show_edge = tight.pad_edge = False
        if sum(low) + _overhead(tight, n) <= width:
            return [_shrink(tight, width)]
    # blocks of columns: a text column at its natural width when it fits (no wrapping), a
    # number column at its least (only its header wraps); the row's name starts every block
    nat = [
        lo if c.justify == "right" else na
        for c, na, lo in zip(table.columns, nat, low, strict=True)
    ]
    blocks: list[list[int]] = []
    block: list[int] = []
    used = nat[0] if nat[0] + _overhead(table, 2) + low[1] <= width else low[0]
    for i in range(1, n):
        w = nat[i] if used + nat[i] + _overhead(table, 2) <= width else low[i]
        if block and used + w + _overhead(table, len(block) + 2) > width:
            blocks.append(block)
            block = []
            used = nat[0] if nat[0] + _overhead(table, 2) + low[i] <= width else low[0]
            w = nat[i] if used + nat[i] + _overhead(table, 2) <= width else low[i]
        block.append(i)
        used += w
    blocks.append(block)
    out = []
    for k, b in enumerate(blocks):
        title = table.title
        if k > 0:
            title = f"{table.title} (continued)" if table.title else "(continued)"
        part = _with_columns(table, [0, *b], title)
        if k > 0 and not table.title:
            part.title_justify = "left"
        out.append(_shrink(part, width))
    return out


def fit(obj: Any, width: int) -> Any:
    """A renderable whose tables fit ``width`` (groups are fitted part by part)."""
    if isinstance(obj, Table):
        parts = fit_table(obj, width)
        return parts[0] if len(parts) == 1 else Group(*parts)
    if isinstance(obj, Group):
        return Group(*(fit(r, width) for r in obj.renderables))
    return obj


def prepared(obj: Any, width: int | None = None) -> tuple[Any, int]:
    """The renderable to print and the width to print it at: fitted to ``width`` (default the
    terminal's), or with ``--wide`` at the natural width of its widest table."""
    width = width or terminal_width()
    if is_wide():
        need = max((natural_width(t) for t in _tables(obj)), default=0)
        return obj, max(width, min(need, MAX_WIDE))
    return fit(obj, width), width


def console(file: IO[str] | None = None, *, stderr: bool = False, width: int | None = None):
    """A console at the terminal width (``--wide``: as wide as needed for what it prints is
    decided per renderable by :func:`print_fitted`)."""
    return Console(file=file, stderr=stderr, width=width or terminal_width(), soft_wrap=False)


def print_fitted(con: Console, obj: Any) -> None:
    """Print ``obj`` on ``con`` fitted to its width (``--wide``: at the natural width)."""
    thing, width = prepared(obj, con.width)
    if width != con.width:
        old = con.width
        con.width = width
        try:
            con.print(thing)
        finally:
            con.width = old
    else:
        con.print(thing)
