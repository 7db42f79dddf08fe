"""Numbers for people and values for machines: the one place each format is decided.

Layer 1 (vocabulary): no import from any other budgetopt module. Renderers, error messages,
constraint labels and the explanation's sentences all format through these functions, so the
same amount reads the same everywhere:

- ``money``: thousands separators, whole units by default; ``cents="small"`` (an amount that
  stands alone in the terminal; a column that foots is whole units: ``footed``) shows the
  cents of an amount under 100 that has any (``0.04``, never ``8,491.90``), ``cents="any"`` (the words of a rule,
  which must state it exactly) whenever it has any. ``–`` for no value, ``∞`` for no limit; never
  ``-0``.
- ``delta``: a signed change in whole units (``+1,234``, ``-1,234``, ``0``); ``minus="−"`` for
  typeset reports. ``delta_shown``: the change between two amounts as ``money`` shows them,
  with cents where either is shown with cents (a row foots on the page); ``shown``: an amount
  as ``money`` shows it.
- ``ratio``: a return (KPI per unit of money) to ``digits`` decimals.
- ``share``: a fraction as a percentage, optionally signed; never ``-0.0%``. ``share_exact``: a
  rule's own fraction with the decimals it has (``41.111%``).
- ``compact``: an axis label (``1.25M``, ``40k``).
- ``number``: a modelled quantity of any size (whole units from 100 up, else 4 significant digits).
- ``did_you_mean``: the close match (or the valid choices) for an unknown name.
- ``currency_mark``, ``with_currency``, ``excel_money``: the journey's ``currency`` (an ISO 4217
  code such as ``EUR``) on money headers and in workbook number formats: the symbol where it is
  unambiguous (``€``, ``£``, ``$`` for USD, ``¥`` for JPY), else the code; no currency (the
  default) shows none, as before.

And the one serialiser: ``jsonable`` (plain JSON types from dataclasses, mappings, sequences,
numpy values and paths; non-finite floats become ``None``), ``finite``, ``to_json``,
``csv_text`` and ``excel_csv`` (the same CSV as Excel opens it: ``--excel``).
"""

from __future__ import annotations

import dataclasses
import difflib
import io
import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

if TYPE_CHECKING:  # pandas is imported where a table is written, not by every error message
    import pandas as pd

#: what is shown for a value that is not there (None, NaN)
MISSING = "–"
#: what is shown for an amount without limit (+inf)
UNLIMITED = "∞"
#: terminal tables show cents only below this amount: a line item of 0.04 is not 0, but cents
#: beside thousands are noise (``8,491.90`` in a column of millions)
CENTS_SHOWN_BELOW = 100.0
#: the smallest amount of money a plan moves (spend is rounded to it)
CENT = 0.01
#: an amount within half a cent of a whole unit is shown as the whole unit; a spend within half a
#: cent of zero is nothing
HALF_CENT = CENT / 2

Cents = Literal["never", "small", "any"]


def _missing(v: float | None) -> str | None:
    """The text for a value that is not a finite number, else None."""
    if v is None:
        return MISSING
    v = float(v)
    if math.isnan(v):
        return MISSING
    if math.isinf(v):
        return UNLIMITED if v > 0 else MISSING
    return None


def _whole(v: float) -> str:
    r = round(v)
    return "0" if r == 0 else f"{r:,.0f}"


class UnderOne(float):
    """A part of a footed column (``footed``, ``footed_table``) that shows as 0 in whole units
    though its amount is not nothing (a line item funded with 0.40): it counts as 0 in every sum,
    so the column still foots, and ``money`` prints it ``<1``, not ``0``."""

    def __new__(cls) -> UnderOne:
        return super().__new__(cls, 0.0)


#: what ``money`` prints for an ``UnderOne``: an amount under one unit that is not nothing
UNDER_ONE = "<1"


def under_one(exact: float, part: float) -> float:
    """``part`` (a footed amount in whole units) as an ``UnderOne`` where it is 0 and its exact
    amount is a cent or more; else as it is."""
    return UnderOne() if part == 0 and exact >= HALF_CENT else part


def marked(exact: Any, parts: Any) -> list[Any]:
    """``footed_table``'s amounts (an array, any shape) as lists of the same shape to print,
    each 0 whose exact amount is a cent or more an ``UnderOne`` (``<1``)."""
    ex, pa = np.asarray(exact, float), np.asarray(parts, float)
    if pa.ndim > 1:
        return [marked(e, p) for e, p in zip(ex, pa, strict=True)]
    return [under_one(float(e), float(p)) for e, p in zip(ex, pa, strict=True)]


def money(v: float | None, cents: Cents = "never") -> str:
    """An amount of money: ``1,234,567``; see the module docstring for ``cents``. A footed part
    that is not nothing but shows as 0 (``UnderOne``) is ``<1``."""
    if isinstance(v, UnderOne):
        return UNDER_ONE
    gone = _missing(v)
    if gone is not None:
        return gone
    assert v is not None
    v = float(v)
    show = cents == "any" or (cents == "small" and abs(v) < CENTS_SHOWN_BELOW)
    if show and abs(v - round(v)) >= HALF_CENT:
        return f"{v:,.2f}"
    return _whole(v)


def delta(v: float | None, minus: str = "-") -> str:
    """A signed change in whole units: ``+1,234`` / ``-1,234`` / ``0`` (``–`` for none)."""
    if v is None or not math.isfinite(v):
        return MISSING
    r = round(v)
    if r == 0:
        return "0"
    return f"+{r:,.0f}" if r > 0 else f"{minus}{-r:,.0f}"


def shown(v: float, cents: Cents = "never") -> float:
    """The amount as ``money(v, cents)`` prints it (whole units, or cents where it shows them)."""
    v = float(v)
    show = cents == "any" or (cents == "small" and abs(v) < CENTS_SHOWN_BELOW)
    if show and abs(v - round(v)) >= HALF_CENT:
        return round(v, 2)
    return float(round(v))


def delta_shown(
    new: float | None, old: float | None, cents: Cents = "never", minus: str = "-"
) -> str:
    """The change from ``old`` to ``new`` as the difference of the two amounts as ``money``
    prints them, so that a row foots on the page: 909,810.36 -> 763,969.51 is printed -145,840
    (909,810 - 763,970), not the -145,841 of the cents; where either is shown with cents (under
    ``CENTS_SHOWN_BELOW`` with ``"small"``) the change is too: 12.40 -> 13.10 is +0.70, not +1.
    ``–`` when either is missing."""
    if _missing(new) is not None or _missing(old) is not None:
        return MISSING
    assert new is not None and old is not None
    a, b = shown(new, cents), shown(old, cents)
    if a == round(a) and b == round(b):
        return delta(a - b, minus)
    d = round(a - b, 2)
    if d == 0:
        return "0"
    return f"+{d:,.2f}" if d > 0 else f"{minus}{-d:,.2f}"


def largest_remainder(
    x: Any, target: int, *, eps: float = 0.0, nonnegative: bool = False
) -> np.ndarray:
    """Whole numbers near ``x`` (each rounded down or up) that sum to ``target``: each is
    rounded down (``floor(x + eps)``; ``eps`` absorbs float noise such as 399999.99999997),
    then the units still short go one each to the largest remainders (ties: the first). When
    the rounded-down parts already exceed ``target`` the smallest remainders give one back (not
    below zero when ``nonnegative``). ``round_cents`` rounds a plan's spend to cents with it;
    ``footed`` and ``footed_table`` the amounts a table shows in whole units."""
    v = np.asarray(x, float)
    base = np.floor(v + eps)
    short = int(target) - int(base.sum())
    frac = v - base
    if short > 0:
        order = np.lexsort((np.arange(len(v)), -frac))
        base[order[:short]] += 1
    elif short < 0:
        order = np.lexsort((np.arange(len(v)), frac))
        for j in order:
            if short == 0:
                break
            if not nonnegative or base[j] > 0:
                base[j] -= 1
                short += 1
    return base


def split_cents(amount: float, shares: Iterable[float]) -> np.ndarray:
    """``amount`` (in cents) split by ``shares`` (summing to 1) into cents that sum to it
    exactly: each part its share rounded down or up (largest remainder). A national buy's money
    in each of its markets (contract 8): the plan's markets and track's reconcile to the cent."""
    w = np.asarray(list(shares), float)
    return largest_remainder(w * amount * 100.0, round(amount * 100.0), eps=1e-6) / 100.0


#: float noise in an amount of money (a cents value carried in binary floating point)
_NOISE = 1e-6


def footed(values: Iterable[float | None], total: float | None = None) -> list[Any]:
    """The amounts a column shows so that it foots: whole units that sum to its total as shown
    (``round(total)``, the cents total rounded; ``total`` defaults to the sum of ``values``),
    each the amount rounded down or up (largest remainder: a part differs from its own rounded
    cents by at most one unit, and only where plain rounding would not foot; an amount already
    in whole units, 0 among them, is shown as it is; one of a cent or more shown as 0 is an
    ``UnderOne``, which counts as 0 and prints ``<1``). Missing values (None, NaN) stay as they
    are and count as nothing. A column foots only in whole units: an amount shown with its
    cents beside whole units would leave the others' cents unshown, so there are none.

    Raises ``ValueError`` when no such rounding exists: ``round(total)`` below the parts rounded
    down or above the parts rounded up (a total that is not the sum of its parts:
    ``footed([10.4, 20.4], total=40)``)."""
    vals = [None if v is None or _missing(v) is not None else float(v) for v in values]
    given = [v for v in vals if v is not None]
    tot = sum(given) if total is None else float(total)
    target = round(tot)
    low = sum(math.floor(v + _NOISE) for v in given)
    high = sum(math.ceil(v - _NOISE) for v in given)
    if not low <= target <= high:
        raise ValueError(
            f"a column of {len(given)} amounts summing to {sum(given):,.2f} cannot foot to a "
            f"total of {tot:,.2f} shown as {target:,}: its parts rounded down or up sum to "
            f"{low:,} to {high:,}"
        )
    out: list[Any] = list(vals)
    if given:
        parts = iter(largest_remainder(given, target, eps=_NOISE))
        out = [None if v is None else under_one(v, float(next(parts))) for v in vals]
    return out


def footed_table(
    cells: Any,
    total: float | None = None,
    rows: Iterable[float] | None = None,
    cols: Iterable[float] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Controlled rounding of a two-way table (rows x columns of amounts, with row totals,
    column totals and a grand total): whole units in which every row sums to its row total and
    every column to its column total, as shown. Returns ``(cells, row totals, column totals,
    grand total)``.

    What it guarantees: every cell and every total shown is its exact amount rounded down or up
    (never further than one unit away; an amount in whole units is shown as it is; ``marked``
    makes one that is not nothing but shows as 0 an ``UnderOne``, printed ``<1``); the grand
    total is ``round(total)`` (default: the sum of the cells); rows and columns foot. Among such
    roundings it keeps the preferred row and column totals (``rows`` / ``cols``: the amounts
    another table shows for them, e.g. ``footed`` line items; NaN: none) wherever they can be
    kept, then errs least in all (sum of the distances to the exact amounts). Such a rounding
    always exists
    (the table is a flow from the grand total through the rows and cells to the columns, and a
    network's bounds in whole units admit a flow in whole units: Cox & Ernst 1982, controlled
    rounding); it is found as that min-cost flow, a linear program whose vertices are whole
    (HiGHS' dual simplex, deterministic)."""
    a = np.asarray(cells, float)
    m, n = a.shape
    grand = float(round(a.sum() if total is None else float(total)))
    if a.size == 0:
        return a.copy(), np.zeros(m), np.zeros(n), grand
    r, c = a.sum(axis=1), a.sum(axis=0)
    lo = np.floor(np.concatenate([a.ravel(), r, c]) + _NOISE)
    frac = np.concatenate([a.ravel(), r, c]) - lo
    whole = frac < 2 * _NOISE  # already whole: shown as it is
    frac = np.where(whole, 0.0, frac)
    ub = np.where(whole, 0.0, 1.0)
    # cost of a unit up: |x - exact| grows by 1 - 2 frac; a preferred total weighs more than
    # every cell together
    cost = 1.0 - 2.0 * frac
    big = float(a.size + m + n + 1)
    for k, pref in ((a.size, rows), (a.size + m, cols)):
        if pref is None:
            continue
        for j, p in enumerate(pref):
            if not np.isfinite(float(p)):
                continue
            want_up = float(p) > lo[k + j] + 0.5
            cost[k + j] += -big if want_up else big
    if n == 1:  # a column (``render.footing._footed_as``): its optimum without the LP when unique
        one = _one_column(lo, ub, cost, grand)
        if one is not None:
            return one[:m].reshape(m, 1), one[m : 2 * m], one[2 * m :], grand
    # rows: sum_j cell_ij - R_i = 0; columns: sum_i cell_ij - C_j = 0; grand: sum_i R_i = G
    from scipy.optimize import linprog
    from scipy.sparse import coo_matrix

    nv = a.size + m + n
    ii, jj, vv = [], [], []
    for i in range(m):
        for j in range(n):
            ii += [i, m + j]
            jj += [i * n + j, i * n + j]
            vv += [1.0, 1.0]
        ii += [i, m + n]  # R_i: -1 in its row's equation, +1 in the grand total's
        jj += [a.size + i, a.size + i]
        vv += [-1.0, 1.0]
    for j in range(n):
        ii += [m + j]
        jj += [a.size + m + j]
        vv += [-1.0]
    A = coo_matrix((vv, (ii, jj)), shape=(m + n + 1, nv)).tocsr()
    b = np.zeros(m + n + 1)
    b[:m] = lo[a.size : a.size + m] - lo[: a.size].reshape(m, n).sum(axis=1)
    b[m : m + n] = lo[a.size + m :] - lo[: a.size].reshape(m, n).sum(axis=0)
    b[m + n] = grand - lo[a.size : a.size + m].sum()
    res = linprog(
        cost, A_eq=A, b_eq=b, bounds=np.column_stack([np.zeros(nv), ub]), method="highs-ds"
    )
    up = np.round(res.x) if res.status == 0 else None
    if up is None or np.abs(A @ up - b).max() > 0.5:  # cannot happen (see above); be plain
        return np.round(a), np.round(r), np.round(c), grand
    x = lo + up
    return x[: a.size].reshape(m, n), x[a.size : a.size + m], x[a.size + m :], grand


def _one_column(lo: np.ndarray, ub: np.ndarray, cost: np.ndarray, grand: float) -> Any:
    """``footed_table``'s rounding of a one-column table (m cells, their m row totals, the
    column total: ``lo``, ``ub``, ``cost`` as its LP has them) found without the LP, or None
    where the LP decides: where the optimum is not unique (so the LP's choice among equals
    stands), or no rounding foots. A cell and its row total are the same amount, so they go up
    together; the units that go up are ``grand`` less the cells rounded down, and the column
    total's own unit follows from them; so the optimum takes that many cells, those whose cell
    and row cost the least together. Unique when the last taken costs less than the first left
    by a margin far above the LP's tolerances; then the LP finds it too (its vertices are whole),
    and this is its answer, without importing scipy.optimize (a third of a second) for a table."""
    m = (len(lo) - 1) // 2
    cell, row, col = slice(0, m), slice(m, 2 * m), 2 * m
    if not (np.array_equal(lo[cell], lo[row]) and np.array_equal(ub[cell], ub[row])):
        return None  # not one column of cells and their own rows
    k = grand - float(lo[cell].sum())  # the units that go up
    col_up = k - (float(lo[col]) - float(lo[cell].sum()))  # the column total's
    free = np.flatnonzero(ub[cell] > 0)
    if k != round(k) or not 0 <= k <= len(free) or col_up not in (0.0, float(ub[col])):
        return None
    k = int(k)
    w = cost[cell][free] + cost[row][free]
    order = free[np.argsort(w, kind="stable")]
    ws = np.sort(w, kind="stable")
    if 0 < k < len(free) and ws[k] - ws[k - 1] <= 1e-6 * (1.0 + float(np.abs(ws).max())):
        return None  # a tie at the margin: the LP's own choice
    up = np.zeros(len(lo))
    up[order[:k]] = 1.0
    up[m + order[:k]] = 1.0
    up[col] = col_up
    return lo + up


def footed_nested(
    cells: Any,
    group: list[int],
    n_groups: int,
    total: float,
    rows: Iterable[float] | None = None,
    cols: Iterable[float] | None = None,
    groups: Iterable[float] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Controlled rounding of a two-way table whose rows fall into groups (line items x periods,
    the line items by stage), with the groups' subtotals by column: whole units in which every
    row, column and group x column subtotal foots. Returns ``(cells, group x column cells,
    column totals, group totals)``; a row's total is its cells' sum.

    As ``footed_table``: every amount shown is its exact amount rounded down or up (one already
    whole as it is), the grand total is ``round(total)``, the preferred row, column and group
    totals (``rows``, ``cols``, ``groups``: other tables' amounts) are kept wherever a rounding
    that foots can keep them, then it errs least in all. Such a rounding exists: the table is a
    flow source -> column -> group x column -> cell -> row -> group -> sink, and a network's
    bounds in whole units admit a flow in whole units; found as that min-cost flow (HiGHS' dual
    simplex, deterministic). So a group of one row reads as that row, cell by cell."""
    from scipy.optimize import linprog
    from scipy.sparse import coo_matrix

    a = np.asarray(cells, float)
    m, n = a.shape
    g = np.asarray(group, int)
    sub = np.zeros((n_groups, n))
    np.add.at(sub, g, a)
    r, c, gt = a.sum(axis=1), a.sum(axis=0), sub.sum(axis=1)
    exact = np.concatenate([a.ravel(), sub.ravel(), r, c, gt])
    lo = np.floor(exact + _NOISE)
    frac = exact - lo
    whole = frac < 2 * _NOISE
    ub = np.where(whole, 0.0, 1.0)
    cost = 1.0 - 2.0 * np.where(whole, 0.0, frac)
    big = float(exact.size + 1)
    o_sub, o_r, o_c, o_g = (
        a.size,
        a.size + sub.size,
        a.size + sub.size + m,
        a.size + sub.size + m + n,
    )
    for k, pref in ((o_r, rows), (o_c, cols), (o_g, groups)):
        for j, p in enumerate(pref if pref is not None else ()):
            cost[k + j] += -big if float(p) > lo[k + j] + 0.5 else big
    eq: list[tuple[list[int], list[float]]] = []
    rows_of = [[i for i in range(m) if g[i] == gi] for gi in range(n_groups)]
    for gi, mine in enumerate(rows_of):  # a group's cell is its rows' cells
        for j in range(n):
            eq.append(
                ([*(i * n + j for i in mine), o_sub + gi * n + j], [1.0] * len(mine) + [-1.0])
            )
    for j in range(n):  # a column is its groups' cells
        eq.append(([o_sub + gi * n + j for gi in range(n_groups)] + [o_c + j],
                   [1.0] * n_groups + [-1.0]))  # fmt: skip
    for i in range(m):  # a row is its cells
        eq.append(([i * n + j for j in range(n)] + [o_r + i], [1.0] * n + [-1.0]))
    for gi, mine in enumerate(rows_of):  # a group's total is its rows'
        eq.append(([*(o_r + i for i in mine), o_g + gi], [1.0] * len(mine) + [-1.0]))
    eq.append(([o_g + gi for gi in range(n_groups)], [1.0] * n_groups))  # the grand total
    ii = [k for k, (idx, _) in enumerate(eq) for _ in idx]
    jj = [j for idx, _ in eq for j in idx]
    vv = [v for _, vals in eq for v in vals]
    A = coo_matrix((vv, (ii, jj)), shape=(len(eq), exact.size)).tocsr()
    b = -(A @ lo)
    b[-1] += float(round(total))
    res = linprog(
        cost, A_eq=A, b_eq=b, bounds=np.column_stack([np.zeros(exact.size), ub]), method="highs-ds"
    )
    up = np.round(res.x) if res.status == 0 else None
    if up is None or np.abs(A @ up - b).max() > 0.5:  # cannot happen (see above); be plain
        x = np.round(exact)
    else:
        x = lo + up
    return (
        x[:o_sub].reshape(m, n),
        x[o_sub:o_r].reshape(n_groups, n).T,
        x[o_c:o_g],
        x[o_g:],
    )


def ratio(v: float | None, digits: int = 3) -> str:
    """A return (KPI per unit of money) to ``digits`` decimals; ``∞`` and ``–`` as needed."""
    if v is None:
        return MISSING
    if math.isinf(v):
        return UNLIMITED
    if not math.isfinite(v):
        return MISSING
    return f"{v:,.{digits}f}"


def share(v: float | None, digits: int = 1, *, signed: bool = False) -> str:
    """A fraction as a percentage to ``digits`` decimals (``12.5%``; ``+1.2%`` when ``signed``);
    a value that rounds to nothing is shown unsigned (``0.0%``)."""
    if v is None or not math.isfinite(v):
        return MISSING
    text = f"{abs(v):.{digits}%}"
    if float(text[:-1]) == 0.0:
        return text
    if v < 0:
        return "-" + text
    return ("+" if signed else "") + text


def share_exact(v: float) -> str:
    """A rule's own fraction as a percentage with the decimals it has (up to 4): ``12.5%``,
    ``41.111%``, ``0.4%``, ``35%``. A rule is stated exactly (as ``money(…, "any")`` states an
    amount): ``{:.0%}`` named a cap of 0.4% "0%" and one of 12.5% "12%"."""
    text = f"{100.0 * float(v):.4f}".rstrip("0").rstrip(".")
    return f"{text}%"


def compact(v: float, extra: int = 0) -> str:
    """An axis label: ``1.25M``, ``40k``, ``900``; ``extra`` more decimals where ticks closer
    together need them (``1.005M``, not ``1M`` twice)."""
    a = abs(v)
    if a >= 1e6:
        return f"{v / 1e6:,.{2 + extra}f}".rstrip("0").rstrip(".") + "M"
    if a >= 1e3:
        return f"{v / 1e3:,.{1 + extra}f}".rstrip("0").rstrip(".") + "k"
    return f"{v:,.{extra}f}".rstrip("0").rstrip(".") if extra else f"{v:,.0f}"


def number(v: float) -> str:
    """A modelled quantity of any size: whole units from 100 up, else 4 significant digits."""
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.4g}"


def step(v: float | None) -> str:
    """A step on a line from 0 to 1 (the anchored plan's): two decimals, more where two would
    read as an end the step is not (0.996 is "0.996", not "1.00": the plan is not the optimum)."""
    gone = _missing(v)
    if gone is not None:
        return gone
    v = float(v)  # type: ignore[arg-type]
    for digits in range(2, 7):
        text = f"{v:.{digits}f}"
        if (0.0 < v < 1.0) and float(text) in (0.0, 1.0):
            continue
        return text
    return ">0.999999" if v > 0.5 else "<0.000001"


def did_you_mean(word: str, choices: Iterable[str], *, list_choices: bool = True) -> str:
    """`` (did you mean 'x'?)`` when a close match exists; else the list of valid choices
    (``list_choices``) or nothing."""
    choices = [str(c) for c in choices]
    close = difflib.get_close_matches(str(word), choices, n=1, cutoff=0.6)
    if close:
        return f" (did you mean '{close[0]}'?)"
    if choices and list_choices:
        return f" (expected one of: {', '.join(sorted(choices))})"
    return ""


#: currencies shown by their symbol; any other code is shown as itself (``CHF``, ``SEK``)
CURRENCY_SYMBOLS = {"EUR": "€", "GBP": "£", "USD": "$", "JPY": "¥", "INR": "₹"}


def currency_mark(code: str | None) -> str:
    """How money of currency ``code`` is marked: its symbol, else the code; ``""`` for none."""
    if not code:
        return ""
    return CURRENCY_SYMBOLS.get(code.upper(), code.upper())


def with_currency(header: str, code: str | None) -> str:
    """A money column's header with its currency: ``spend (€)``; unchanged without one."""
    mark = currency_mark(code)
    return f"{header} ({mark})" if mark else header


def excel_money(fmt: str, code: str | None) -> str:
    """A workbook number format (``#,##0;[Red]-#,##0``) with the currency mark before every
    number section (``"€"#,##0;[Red]-"€"#,##0``); unchanged without a currency."""
    mark = currency_mark(code)
    if not mark:
        return fmt
    out = []
    for sec in fmt.split(";"):
        k = sec.find("#") if "#" in sec else sec.find("0")
        out.append(sec if k < 0 else f'{sec[:k]}"{mark}"{sec[k:]}')
    return ";".join(out)


# ------------------------------------------------------------------------------------------------
# values for machines
# ------------------------------------------------------------------------------------------------
def finite(v: Any) -> float | None:
    """A number as a float, or None when it is missing or not finite (JSON has no NaN)."""
    if v is None:
        return None
    f = float(v)
    return f if math.isfinite(f) else None


def jsonable(obj: Any, skip: frozenset[str] = frozenset()) -> Any:
    """Plain JSON types from dataclasses, mappings, sequences, numpy values and paths; non-finite
    floats become ``None``. Dataclass fields named in ``skip`` are left out."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {
            f.name: jsonable(getattr(obj, f.name), skip)
            for f in dataclasses.fields(obj)
            if f.name not in skip
        }
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v, skip) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, np.ndarray)):
        return [jsonable(v, skip) for v in (obj.tolist() if isinstance(obj, np.ndarray) else obj)]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return finite(obj)
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    return obj


def to_json(obj: Any) -> str:
    """The machine formats' JSON text: indented, no NaN, one trailing newline."""
    return json.dumps(obj, indent=2, allow_nan=False) + "\n"


#: a cell a spreadsheet reads as a formula when it starts with one of these
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def as_text_cell(v: Any) -> Any:
    """A string a spreadsheet would run as a formula (``=cmd|...``, ``+1+1``, ``@SUM(...)``) made
    plain text by a leading apostrophe (OWASP's advice for CSV); anything else unchanged."""
    if isinstance(v, str) and v.startswith(FORMULA_STARTS):
        return "'" + v
    return v


def csv_text(df: pd.DataFrame | Sequence[Mapping[str, Any]]) -> str:
    """The machine formats' CSV text: no index, ten significant digits, ``\\n`` line ends; ids,
    names and notes that a spreadsheet would run as a formula are written as text. ``df``: a
    table, or its rows (a column per key, in the order the keys first appear)."""
    import pandas as pd

    df = df.copy() if isinstance(df, pd.DataFrame) else pd.DataFrame(list(df))
    for c in df.columns:
        if getattr(df[c].dtype, "kind", "O") not in "biufcmM":  # text (object or str dtype)
            df[c] = df[c].map(as_text_cell)
    df.columns = [as_text_cell(c) for c in df.columns]
    buf = io.StringIO()
    df.to_csv(buf, index=False, float_format="%.10g", lineterminator="\n")
    return buf.getvalue()


#: the UTF-8 byte-order mark: Excel reads a CSV that starts with it as UTF-8 (else as the
#: system's code page, and ``Δ`` shows as ``Î”``)
BOM = "\ufeff"


def excel_csv(text: str) -> str:
    """A CSV text (``csv_text``) as Excel opens it cleanly: a UTF-8 byte-order mark first and
    CRLF line ends. Tools get the plain text; this is ``--format csv --excel``."""
    body = text[len(BOM) :] if text.startswith(BOM) else text
    return BOM + body.replace("\r\n", "\n").replace("\n", "\r\n")
