"""Spend tables: the one reader of the two id/spend shapes, with one rule for an amount.

- **totals**: ``id,spend``, one row per line item, horizon totals (a scenario's ``previous:``,
  ``explain --last-cycle``): ``read_spend_totals``.
- **rows**: ``date,touchpoint,spend``, one row per touchpoint and week (actuals for ``track`` and
  ``replan``; the long layout of a history): ``read_spend_rows``, and ``amounts`` for a column of
  a table already read.

The rules, the same for every file of these shapes: the file exists, is not empty and parses as
CSV (a UTF-8 byte-order mark is allowed); column names are trimmed; the named columns are present
(else a "did you mean"); an id is not empty and, when the caller knows the valid ids, is one of
them (else a "did you mean"); an amount is a finite, non-negative number (thousands separators
allowed: ``"1,250,000"``) of at most ``MAX_MONEY`` (1e12), never empty; a totals table names each id once. Every error names the
file, the field, the row (the header is row 1) and the value.

Excel exports (``;`` or tab separators, decimal commas, day-first dates, a BOM) are read as
``optimizer.io.dialect`` says, by ``csv`` settings or detected; what was detected is printed as
one line on stderr, an ambiguous file stops with a message naming the setting.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import hashlib
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from optimizer.errors import BudgetOptError, DataError
from optimizer.formatting import did_you_mean
from optimizer.io.dialect import CsvSettings
from optimizer.io.files import read_csv_strings, short_repr
from optimizer.vocabulary import (
    DATE_COLUMN,
    MARKET_COLUMN,
    MAX_MONEY,
    SPEND_COLUMN,
    TOUCHPOINT_COLUMN,
)

if TYPE_CHECKING:
    import pandas as pd

ID_COLUMN = "id"
TOTALS_COLUMNS = (ID_COLUMN, SPEND_COLUMN)
ROWS_COLUMNS = (DATE_COLUMN, TOUCHPOINT_COLUMN, SPEND_COLUMN)


def amounts(
    raw: pd.Series,
    *,
    path: str | Path,
    field: str = SPEND_COLUMN,
    rows: Sequence[int] | np.ndarray | None = None,
    error: type[BudgetOptError] = DataError,
) -> np.ndarray:
    """A column of money cells (strings) as floats, by the one rule for an amount.

    ``rows`` are the file's row numbers of the cells (default: in order after the header)."""
    import pandas as pd

    text = raw.astype(str).str.strip()
    values = pd.to_numeric(text.str.replace(",", "", regex=False), errors="coerce").to_numpy(
        dtype=float
    )
    bad = ~np.isfinite(values) | (values < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        row = int(rows[i]) if rows is not None else i + 2
        shown = text.iloc[i]
        if shown == "":
            msg = f"{field} is missing in row {row}"
        else:
            msg = f"{field} must be a non-negative number, got {short_repr(shown)} in row {row}"
        raise error(msg, path=path, field=field)
    big = values > MAX_MONEY  # the documented range of money (docs/cli.md): a slip of the keyboard
    if big.any():
        i = int(np.flatnonzero(big)[0])
        row = int(rows[i]) if rows is not None else i + 2
        raise error(
            f"{field} must be at most {MAX_MONEY:,.0f}, got {short_repr(text.iloc[i])} in row {row}",
            path=path,
            field=field,
        )
    return values


def _table(
    path: str | Path,
    what: str,
    columns: Sequence[str],
    error: type[BudgetOptError],
    csv: CsvSettings | None = None,
) -> pd.DataFrame:
    df = read_csv_strings(path, what, error, csv=csv)
    _say(df)
    for col in columns:
        if col not in df.columns:
            raise error(
                f"expected a column '{col}'{did_you_mean(col, df.columns, list_choices=False)}; "
                f"the {what} file needs columns {', '.join(columns)} "
                f"(it has {', '.join(df.columns) or 'none'})",
                path=path,
                field=col,
            )
    return df


def _say(df: pd.DataFrame) -> None:
    """What was detected in an Excel export (``dialect``), one line on stderr."""
    note = df.attrs.get("csv_note")
    if note:
        print(note, file=sys.stderr)


def _ids(
    raw: pd.Series,
    *,
    path: str | Path,
    field: str,
    word: str,
    known: Sequence[str] | None,
    error: type[BudgetOptError],
) -> list[str]:
    ids = [str(v).strip() for v in raw]
    for i, tid in enumerate(ids):
        if not tid:
            raise error(f"the {word} is missing in row {i + 2}", path=path, field=field)
        if known is not None and tid not in known:
            raise error(
                f"unknown {word} {short_repr(tid)} in row {i + 2}{did_you_mean(tid, known)}",
                path=path,
                field=field,
            )
    return ids


def read_spend_totals(
    path: str | Path,
    *,
    what: str = "spend",
    ids: Sequence[str] | None = None,
    error: type[BudgetOptError] = DataError,
    csv: CsvSettings | None = None,
) -> dict[str, float]:
    """Spend per line item from an ``id,spend`` table (see the module docstring for the rules).

    ``what`` names the file in messages (``"last-cycle"``, ``"previous-cycle"``); ``ids`` are the
    valid line items, when known."""
    df = _table(path, what, TOTALS_COLUMNS, error, csv)
    known = list(ids) if ids is not None else None
    names = _ids(
        df[ID_COLUMN], path=path, field=ID_COLUMN, word="line item", known=known, error=error
    )
    values = amounts(df[SPEND_COLUMN], path=path, error=error)
    out: dict[str, float] = {}
    first: dict[str, int] = {}
    for i, (tid, v) in enumerate(zip(names, values, strict=True)):
        if tid in out:
            raise error(
                f"{short_repr(tid)} appears twice (rows {first[tid]} and {i + 2})",
                path=path,
                field=ID_COLUMN,
            )
        out[tid] = float(v)
        first[tid] = i + 2
    return out


def read_spend_rows(
    path: str | Path,
    *,
    what: str = "spend",
    ids: Sequence[str] | None = None,
    error: type[BudgetOptError] = DataError,
    csv: CsvSettings | None = None,
) -> pd.DataFrame:
    """The rows of a ``date,touchpoint,spend`` table as a frame with columns ``date``
    (``datetime.date``), ``touchpoint``, ``spend`` (float) and ``row`` (the file's row number).

    Several rows for one touchpoint and date are kept (the caller sums or refuses them); a file
    with a header and no rows gives an empty frame."""
    import pandas as pd

    df = _table(path, what, ROWS_COLUMNS, error, csv)
    known = list(ids) if ids is not None else None
    dates: list[_dt.date] = []
    for i, raw in enumerate(df[DATE_COLUMN]):
        d = str(raw).strip()
        try:
            dates.append(_dt.date.fromisoformat(d))
        except ValueError:
            raise error(
                f"expected an ISO date (YYYY-MM-DD), got {short_repr(d)} in row {i + 2}",
                path=path,
                field=DATE_COLUMN,
            ) from None
    values = amounts(df[SPEND_COLUMN], path=path, error=error)
    tps = _ids(
        df[TOUCHPOINT_COLUMN],
        path=path,
        field=TOUCHPOINT_COLUMN,
        word="touchpoint",
        known=known,
        error=error,
    )
    return pd.DataFrame(
        {
            DATE_COLUMN: dates,
            TOUCHPOINT_COLUMN: tps,
            SPEND_COLUMN: values,
            "row": np.arange(len(df), dtype=int) + 2,
        }
    )


class MisnamedTouchpoint(DataError):
    """A spend file that names one of the plan's touchpoints wrongly (``known`` given to a weekly
    reader): ``detail`` says what and where, without the file (a caller may locate it itself)."""

    def __init__(self, detail: str, *, path: str | Path, field: str):
        self.detail = detail
        super().__init__(detail, path=path, field=field)


#: how close an unused column of a wide file must be to a touchpoint with no column to be taken
#: for it misspelt (``difflib`` ratio; ``serach`` for ``search`` is 0.83, ``special`` for
#: ``social`` 0.77); the same name in another case or with other separators always is
COLUMN_CUTOFF = 0.8


def _fold(name: str) -> str:
    return "".join(ch for ch in name.casefold() if ch.isalnum())


def _check_named(
    named: Mapping[str, int] | Sequence[str],
    ids: Sequence[str],
    known: Sequence[str],
    path: str | Path,
    *,
    long: bool,
) -> None:
    """Refuse a file that names some of the plan's touchpoints and misnames another, whose spend
    would otherwise be dropped without a word. ``named``: a long file's touchpoint values (value
    -> its first row), or a wide file's columns. ``known``: the touchpoints a file may name (the
    journey's: a touchpoint the plan does not have is ignored). A file naming none of ``ids`` is
    the caller's to refuse (it can list them all).

    Long: a value not in ``known`` is refused, naming the row (did you mean). Wide (a history has
    KPI and control columns too): a touchpoint of ``ids`` with no column is refused when an unused
    column is the same name in another case or spelling (``TV`` for ``tv``, ``serach``)."""
    if not any(t in named for t in ids):
        return
    if long:
        assert isinstance(named, Mapping)
        for value, row in named.items():
            if value not in known:
                raise MisnamedTouchpoint(
                    f"unknown touchpoint {short_repr(value)} in row {row}"
                    f"{_suggest(value, known, 0.6)}: its spend would carry into nothing",
                    path=path,
                    field=TOUCHPOINT_COLUMN,
                )
        return
    unused = [c for c in named if c not in known and c not in (DATE_COLUMN, MARKET_COLUMN)]
    missing = [tid for tid in ids if tid not in named]
    # exact names first: a column that is a touchpoint's name in another case or with other
    # separators is that touchpoint's, never a misspelling of another ('Ratio' is ratio's, not a
    # typo of radio, however close difflib finds them); only the columns no touchpoint's name
    # folds to are taken for misspellings
    names = {_fold(k): k for k in known}
    exact = {names[_fold(c)]: c for c in unused if _fold(c) in names}
    loose = [c for c in unused if _fold(c) not in names]
    for tid in [t for t in missing if t in exact] + [t for t in missing if t not in exact]:
        close = exact.get(tid) or _close(tid, loose, COLUMN_CUTOFF)
        if close is not None:
            raise MisnamedTouchpoint(
                f"no column for the plan's touchpoint '{tid}', but a column {short_repr(close)} "
                f"(did you mean '{tid}'?): name it by the touchpoint's id, or the carry-over of "
                f"'{tid}' would be dropped",
                path=path,
                field=close,
            )


def columns_missing(path: str | Path, ids: Sequence[str]) -> list[str]:
    """The touchpoints of ``ids`` a wide spend file (a history: ``date`` and a column per
    touchpoint) has no column for, in order: each starts a plan with no carry-over. None for a
    long file (``date,touchpoint,spend``: a touchpoint with no row had no spend) or one that
    cannot be read (its reader says why)."""
    try:
        df = read_csv_strings(path, "carry-over", DataError)
    except BudgetOptError:
        return []
    if TOUCHPOINT_COLUMN in df.columns:
        return []
    return [t for t in dict.fromkeys(ids) if t not in df.columns]


def _close(word: str, choices: Sequence[str], cutoff: float) -> str | None:
    """The choice that is ``word`` in another case or with other separators, else the closest
    by ``difflib`` at ``cutoff`` (case-insensitive), else None."""
    for c in choices:
        if _fold(c) == _fold(word):
            return c
    folded = {c.casefold(): c for c in choices}
    got = difflib.get_close_matches(word.casefold(), list(folded), n=1, cutoff=cutoff)
    return folded[got[0]] if got else None


def _suggest(word: str, choices: Sequence[str], cutoff: float) -> str:
    close = _close(word, choices, cutoff)
    return f" (did you mean '{close}'?)" if close is not None else did_you_mean(word, choices)


def _first_rows(rows: pd.DataFrame) -> dict[str, int]:
    """A long table's touchpoint values, each with the file's row it first appears in."""
    out: dict[str, int] = {}
    for tid, row in zip(rows[TOUCHPOINT_COLUMN], rows["row"], strict=True):
        out.setdefault(str(tid), int(row))
    return out


def read_weekly_spend(
    path: str | Path,
    ids: Sequence[str],
    *,
    what: str = "spend",
    error: type[BudgetOptError] = DataError,
    known: Sequence[str] | None = None,
) -> dict[str, dict[_dt.date, float]]:
    """Weekly spend per touchpoint by date, from either layout: long (``date,touchpoint,spend``,
    e.g. recorded actuals) or wide (a history file: ``date`` and one spend column per touchpoint,
    named by its id). Touchpoints the file does not mention are left out; several rows for one
    touchpoint and date are summed. Used for the carry-over of spend before a plan's ``start``.

    ``known`` (the journey's touchpoints, a superset of ``ids``): a file that names some of
    ``ids`` and misnames another is refused (``MisnamedTouchpoint``, ``_check_named``).

    A file is parsed once per process for its contents (its bytes, hashed): ``explain`` of a
    phased scenario re-solves its plan some forty times, and each re-parsed the whole history (a
    third of the review's time); each caller gets its own copy."""
    ks = tuple(known) if known is not None else None
    digest = _digest(path)
    if digest is None:  # missing or unreadable: the reader says so, by name
        return _read_weekly_spend(path, tuple(ids), what, error, ks)
    key = (str(Path(path).resolve()), digest, tuple(ids), what, error, ks)
    got = _WEEKLY_SPEND.get(key)
    if got is None:
        got = _read_weekly_spend(path, tuple(ids), what, error, ks)
        # kept only if the file did not change while it was parsed: what was parsed is then
        # what was hashed (a file rewritten in between would be kept under its old bytes' hash)
        if _digest(path) == digest:
            if len(_WEEKLY_SPEND) >= 8:
                _WEEKLY_SPEND.pop(next(iter(_WEEKLY_SPEND)))
            _WEEKLY_SPEND[key] = got
    return {tid: dict(by_date) for tid, by_date in got.items()}


def _digest(path: str | Path) -> bytes | None:
    """A hash of the file's bytes, or None where it cannot be read."""
    try:
        return hashlib.blake2b(Path(path).read_bytes(), digest_size=16).digest()
    except OSError:
        return None


#: ``read_weekly_spend``'s files as parsed: (path, hash of its bytes, ids, what, error, known)
#: -> spend
_WEEKLY_SPEND: dict[tuple, dict[str, dict[_dt.date, float]]] = {}


def _read_weekly_spend(
    path: str | Path,
    ids: Sequence[str],
    what: str,
    error: type[BudgetOptError],
    known: Sequence[str] | None = None,
) -> dict[str, dict[_dt.date, float]]:
    df = read_csv_strings(path, what, error)
    if TOUCHPOINT_COLUMN in df.columns:
        rows = read_spend_rows(path, what=what, error=error)
        if known is not None:
            _check_named(_first_rows(rows), ids, known, path, long=True)
        out: dict[str, dict[_dt.date, float]] = {}
        for d, tid, v in zip(
            rows[DATE_COLUMN], rows[TOUCHPOINT_COLUMN], rows[SPEND_COLUMN], strict=True
        ):
            if tid in ids:
                out.setdefault(tid, {})
                out[tid][d] = out[tid].get(d, 0.0) + float(v)
        return out
    if known is not None:
        _check_named(list(df.columns), ids, known, path, long=False)
    dates = _dates(df, path, what, error)
    out = {}
    for tid in ids:
        if tid in df.columns:
            vals = amounts(df[tid], path=path, field=tid, error=error)
            out[tid] = {d: float(v) for d, v in zip(dates, vals, strict=True)}
    return out


#: the ``market`` of a row of spend bought nationally (a national buy's, split by its key)
NATIONAL_MARKET = "national"


def read_weekly_spend_by_market(
    path: str | Path,
    ids: Sequence[str],
    markets: Sequence[str],
    national: Sequence[str] = (),
    *,
    what: str = "spend",
    error: type[BudgetOptError] = DataError,
    known: Sequence[str] | None = None,
) -> dict[tuple[str, str], dict[_dt.date, float]]:
    """Weekly spend per (touchpoint, market) by date, from a file with a ``market`` column (the
    history file's convention with several markets): long (``date,market,touchpoint,spend``) or
    wide (``date,market`` and one spend column per touchpoint, named by its id).

    A row's market is one of ``markets``, or ``national`` for spend bought nationally, which only
    a national buy (``national``: their ids) can have (the caller splits it by the buy's key). A
    missing or unknown market, or national spend of a touchpoint bought per market, is an error
    naming the file, the field, the row and the value. Touchpoints the file does not name are left
    out; several rows for one touchpoint, market and date are summed. ``known``: as for
    ``read_weekly_spend``."""
    df = read_csv_strings(path, what, error)
    _say(df)
    if MARKET_COLUMN not in df.columns:
        raise error(
            f"with a markets index the {what} file needs a '{MARKET_COLUMN}' column (which "
            f"market each row's spend was in, or '{NATIONAL_MARKET}' for a national buy's); "
            f"it has {', '.join(df.columns) or 'none'}",
            path=path,
            field=MARKET_COLUMN,
        )
    allowed = list(dict.fromkeys([*markets, NATIONAL_MARKET]))
    # (a market of the index named "national" is that market: its rows are its own)
    by_key = NATIONAL_MARKET not in markets
    where = _ids(
        df[MARKET_COLUMN], path=path, field=MARKET_COLUMN, word="market", known=allowed, error=error
    )
    nat = set(national)
    out: dict[tuple[str, str], dict[_dt.date, float]] = {}

    def add(tid: str, market: str, d: _dt.date, v: float, field: str, row: int) -> None:
        if by_key and market == NATIONAL_MARKET and tid not in nat:
            if v == 0.0:
                return
            raise error(
                f"{short_repr(tid)} is bought per market, not nationally: give its spend by "
                f"market, not as '{NATIONAL_MARKET}' (row {row}, spend {v:g})",
                path=path,
                field=field,
            )
        by = out.setdefault((tid, market), {})
        by[d] = by.get(d, 0.0) + float(v)

    if TOUCHPOINT_COLUMN in df.columns:
        rows = read_spend_rows(path, what=what, error=error)
        if known is not None:
            _check_named(_first_rows(rows), ids, known, path, long=True)
        for d, tid, v, row, m in zip(
            rows[DATE_COLUMN],
            rows[TOUCHPOINT_COLUMN],
            rows[SPEND_COLUMN],
            rows["row"],
            where,
            strict=True,
        ):
            if tid in ids:
                add(tid, m, d, float(v), TOUCHPOINT_COLUMN, int(row))
        return out
    if known is not None:
        _check_named(list(df.columns), ids, known, path, long=False)
    dates = _dates(df, path, what, error)
    for tid in ids:
        if tid in df.columns:
            vals = amounts(df[tid], path=path, field=tid, error=error)
            for k, (d, v) in enumerate(zip(dates, vals, strict=True)):
                add(tid, where[k], d, float(v), tid, k + 2)
    return out


def _dates(df: pd.DataFrame, path: str | Path, what: str, error: type[BudgetOptError]):
    if DATE_COLUMN not in df.columns:
        raise error(
            f"expected a column '{DATE_COLUMN}'; the {what} file needs a date column and one "
            f"spend column per touchpoint, or columns {', '.join(ROWS_COLUMNS)}",
            path=path,
            field=DATE_COLUMN,
        )
    dates: list[_dt.date] = []
    for i, raw in enumerate(df[DATE_COLUMN]):
        d = str(raw).strip()
        try:
            dates.append(_dt.date.fromisoformat(d))
        except ValueError:
            raise error(
                f"expected an ISO date (YYYY-MM-DD), got {short_repr(d)} in row {i + 2}",
                path=path,
                field=DATE_COLUMN,
            ) from None
    return dates
