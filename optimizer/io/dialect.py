"""CSV dialects: files as they come out of Excel (``;`` or tab separators, decimal commas,
thousands separators, a byte-order mark, CRLF, day-first dates, blank cells), turned into the
canonical cells every reader checks (numbers ``1234.5``, ISO dates ``YYYY-MM-DD``).

What can be told unambiguously from the file is detected and said (``TableRead.note``); what
cannot (a ``;`` file whose only numbers are ``1.234``, dates that are all ``03/01/2024``-like with
both parts ≤ 12) is an error naming the file, the cell and the setting to give (``separator``,
``decimal``, ``thousands``, ``date_format``: under ``csv:`` in journey.yaml or as ``fit`` options).

The conversion is textual (``"276.645,06"`` → ``"276645.06"``), so a European export parses to
exactly the same floats as the clean file.
"""

from __future__ import annotations

import datetime as _dt
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from optimizer.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

#: columns holding dates, converted to ISO (the history's ``date``, a lift test's ``start``/``end``)
DATE_COLUMNS = ("date", "start", "end")
SEPARATORS = {",": ",", ";": ";", "\t": "\t", "tab": "\t", "\\t": "\t", "|": "|"}
DATE_ALIASES = {"iso": "%Y-%m-%d", "day-first": "day-first", "month-first": "month-first"}
_NUMBER = re.compile(r"^[+-]?[0-9][0-9.,' \u00a0\u202f]*$|^[+-]?[.,][0-9]+$")
_DMY = re.compile(r"^(\d{1,2})([./-])(\d{1,2})\2(\d{4}|\d{2})(?:[ T]0?0:00(?::00)?)?$")
_ISO = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}(?:[ T].*)?$")


@dataclass(frozen=True)
class CsvSettings:
    """How to read a CSV file; ``None`` means detect it from the file."""

    separator: str | None = None  # ",", ";", "\t" ("tab"), "|"
    decimal: str | None = None  # "." or ","
    thousands: str | None = None  # ",", ".", " ", "'" or "" (none)
    date_format: str | None = None  # strftime ("%d/%m/%Y"), "day-first", "month-first", "iso"

    def merged(self, other: CsvSettings | None) -> CsvSettings:
        """These settings, with ``other``'s given ones taking precedence (command line over journey)."""
        if other is None:
            return self
        return CsvSettings(
            *(
                b if b is not None else a
                for a, b in (
                    (self.separator, other.separator),
                    (self.decimal, other.decimal),
                    (self.thousands, other.thousands),
                    (self.date_format, other.date_format),
                )
            )
        )


HOW_TO_SET = "under 'csv:' in journey.yaml or as --{opt} on the command line"


def _setting_hint(name: str) -> str:
    return f"give '{name}' " + HOW_TO_SET.format(opt=name.replace("_", "-"))


def csv_settings(
    data: Any, *, path: str | Path | None = None, field: str = "csv", error=DataError
) -> CsvSettings:
    """Validate a ``csv:`` mapping (journey.yaml) or command-line values into ``CsvSettings``."""
    if data is None:
        return CsvSettings()
    if not isinstance(data, Mapping):
        raise error(
            "expected a mapping like {separator: ';', decimal: ',', date_format: '%d/%m/%Y'}, "
            f"got {data!r}",
            path=path,
            field=field,
        )
    allowed = ("separator", "decimal", "thousands", "date_format")
    for k in data:
        if k not in allowed:
            raise error(
                f"unknown setting {k!r}; settings are {', '.join(allowed)}",
                path=path,
                field=f"{field}.{k}",
            )
    return check_settings(CsvSettings(**{k: data.get(k) for k in allowed}), path, field, error)


def check_settings(
    s: CsvSettings, path: str | Path | None = None, field: str = "csv", error=DataError
) -> CsvSettings:
    sep = s.separator
    if sep is not None:
        if str(sep) not in SEPARATORS:
            raise error(
                f"separator must be one of ',', ';', 'tab', '|', got {sep!r}",
                path=path,
                field=f"{field}.separator",
            )
        sep = SEPARATORS[str(sep)]
    if s.decimal is not None and s.decimal not in (".", ","):
        raise error(
            f"decimal must be '.' or ',', got {s.decimal!r}", path=path, field=f"{field}.decimal"
        )
    th = s.thousands
    if th is not None:
        th = {"none": "", "space": " "}.get(str(th), str(th))
        if th not in ("", ",", ".", " ", "'"):
            raise error(
                f"thousands must be ',', '.', ' ', \"'\" or 'none', got {s.thousands!r}",
                path=path,
                field=f"{field}.thousands",
            )
        if s.decimal is not None and th == s.decimal:
            raise error(
                f"thousands and decimal are both {th!r}", path=path, field=f"{field}.thousands"
            )
    fmt = s.date_format
    if fmt is not None:
        fmt = DATE_ALIASES.get(str(fmt), str(fmt))
        if fmt not in ("day-first", "month-first") and "%" not in fmt:
            raise error(
                "date_format must be a strftime format like '%d/%m/%Y', or day-first, "
                f"month-first, iso; got {s.date_format!r}",
                path=path,
                field=f"{field}.date_format",
            )
    return CsvSettings(sep, s.decimal, th, fmt)


@dataclass(frozen=True)
class TableRead:
    frame: pd.DataFrame  # every cell a string, numbers and dates canonical
    note: str | None  # what was detected, when the file is not a plain ISO/comma/point file


def _decode(raw: bytes) -> tuple[str, str | None]:
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace"), "Windows-1252 text"


def _separator(text: str, s: CsvSettings, path: Path, error) -> str:
    if s.separator:
        return s.separator
    header = text.lstrip("\r\n").splitlines()[0] if text.strip() else ""
    # the header names hold no separators: count each candidate outside quotes
    unquoted = re.sub(r'"[^"]*"', "", header)
    found = [c for c in (",", ";", "\t", "|") if c in unquoted]
    if len(found) > 1:
        shown = " and ".join("tab" if c == "\t" else repr(c) for c in found)
        raise error(
            f"the header holds both {shown}: cannot tell the separator; "
            + _setting_hint("separator"),
            path=path,
            field="separator",
        )
    return found[0] if found else ","


def read_table(
    path: Path, raw: bytes, what: str, settings: CsvSettings | None, error=DataError
) -> TableRead:
    """Parse ``raw`` (a CSV file's bytes) by ``settings`` and what the file shows; see the module."""
    import pandas as pd

    s = settings or CsvSettings()
    text, enc = _decode(raw)
    sep = _separator(text, s, path, error)
    width = _width_of_rows(text, sep, path, error)
    try:
        df = pd.read_csv(
            io.StringIO(text),
            sep=sep,
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=True,
            # rows longer than the header (only by blank cells, checked above) are cut to it:
            # pandas would otherwise take the first column for the index and shift every cell
            usecols=range(width) if width else None,
            index_col=False if width else None,
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        raise error(f"cannot be read as CSV: {str(e).splitlines()[0]}", path=path) from None
    df.columns = [str(c).strip() for c in df.columns]
    _refuse_twice_named_columns(text, sep, path, error)
    # Excel leaves empty trailing columns (";;;") and rows: drop those wholly blank
    blank = df.apply(lambda c: c.astype(str).str.strip() == "")
    drop_cols = [c for c in df.columns if (c == "" or c.startswith("Unnamed:")) and blank[c].all()]
    df = df.drop(columns=drop_cols)
    if len(df.columns):
        keep = ~blank[list(df.columns)].all(axis=1)
        if not keep.all() and keep.any():
            # only trailing blank rows: a blank row inside the data stays (and is reported)
            last = int(keep.to_numpy().nonzero()[0][-1])
            df = df.iloc[: last + 1]
    notes: list[str] = []
    if sep != ",":
        notes.append(f"{'tab' if sep == chr(9) else repr(sep)} separators")
    if enc:
        notes.append(enc)
    number_note = _numbers(df, sep, s, path, error)
    if number_note:
        notes.append(number_note)
    date_note = _dates(df, s, path, error)
    if date_note:
        notes.append(date_note)
    note = f"{path.name}: read with {', '.join(notes)}" if notes else None
    return TableRead(df, note)


def _width_of_rows(text: str, sep: str, path: Path, error) -> int | None:
    """The header's number of columns when some row has more cells than it, else None.

    The cells past the header must be blank: a separator at the end of every data row (some
    exports write one) is read as the file means it; a value there has no column to go to, and is
    an error naming its row (the header is row 1) and the value (pandas would have made the first
    column the index and shifted every cell one column to the left, so the errors named the wrong
    column: "the date in row 2 is not an ISO date: '276645.06'")."""
    import csv

    from optimizer.io.files import short_repr

    rows = csv.reader(io.StringIO(text.lstrip("\r\n")), delimiter=sep)
    header = next(rows, [])
    n = len(header)
    longer = False
    number = 1
    for row in rows:
        if not row or not any(c.strip() for c in row):
            continue  # a blank line: pandas skips it (and its rows are numbered without it)
        number += 1
        if len(row) <= n:
            continue
        extra = [c for c in row[n:] if c.strip()]
        if extra:
            raise error(
                f"row {number} has {len(row)} cells but the header names {n} columns: "
                f"{short_repr(extra[0])} (cell {n + row[n:].index(extra[0]) + 1}) has no column; "
                "remove it, or name its column in the header",
                path=path,
            )
        longer = True
    return n if longer else None


def _refuse_twice_named_columns(text: str, sep: str, path: Path, error) -> None:
    """A header naming a column twice (``tv,…,tv``) is an error naming it: pandas would rename the
    second ``tv.1`` and the file's second column of that name would be silently left out."""
    import csv

    first = next(csv.reader(io.StringIO(text.lstrip("\r\n")), delimiter=sep), [])
    seen: dict[str, int] = {}
    for i, name in enumerate(c.strip() for c in first):
        if not name:
            continue  # an empty trailing column (Excel's ";;;"), dropped when blank
        if name in seen:
            raise error(
                f"column {name!r} appears twice in the header (columns {seen[name] + 1} and "
                f"{i + 1}): each column may be named once",
                path=path,
                field=name,
            )
        seen[name] = i


def _numbers(df: pd.DataFrame, sep: str, s: CsvSettings, path: Path, error) -> str | None:
    cols = [c for c in df.columns if c not in DATE_COLUMNS]
    votes: dict[str, tuple[str, str, int]] = {}  # decimal mark → first cell showing it
    ambiguous: tuple[str, str, int] | None = None
    numeric: list[tuple[str, int, str]] = []
    for c in cols:
        for i, v in enumerate(df[c].astype(str)):
            t = v.strip()
            if not t or not _NUMBER.match(t):
                continue
            body = re.sub(r"[ '\u00a0\u202f]", "", t).lstrip("+-")
            numeric.append((c, i, body))
            mark = _decimal_mark(body)
            if mark == "?":
                ambiguous = ambiguous or (t, c, i + 2)
            elif mark:
                votes.setdefault(mark, (t, c, i + 2))
    if s.decimal:
        dec = s.decimal
    elif len(votes) == 2:
        (ta, ca, ra), (tb, cb, rb) = votes["."], votes[","]
        raise error(
            f"numbers are written both with decimal points ({ta!r} in row {ra}, column {ca!r}) "
            f"and with decimal commas ({tb!r} in row {rb}, column {cb!r}); "
            + _setting_hint("decimal"),
            path=path,
            field="decimal",
        )
    elif votes:
        dec = next(iter(votes))
    elif ambiguous and sep != ",":
        t, c, r = ambiguous
        raise error(
            f"cannot tell whether {t!r} (row {r}, column {c!r}) has a decimal point or a "
            "thousands separator, and no other number tells; " + _setting_hint("decimal"),
            path=path,
            field="decimal",
        )
    else:
        dec = "."  # a comma-separated file: a comma in a (quoted) number groups thousands
    th = s.thousands if s.thousands is not None else ("," if dec == "." else ".")
    grouped = False
    d, t = re.escape(dec), re.escape(th)
    valid = re.compile(
        rf"^(?:\d+|\d{{1,3}}(?:{t}\d{{3}})+)(?:{d}\d*)?$|^{d}\d+$"
        if th
        else rf"^\d+(?:{d}\d*)?$|^{d}\d+$"
    )
    cells = _Cells(df)
    for c, i, body in numeric:
        if not valid.match(body):
            continue  # not a number by these marks: left as it is, the reader reports the cell
        out = body
        if th and th in out:
            grouped = True
            out = out.replace(th, "")
        if dec == ",":
            out = out.replace(",", ".")
        sign = "-" if str(cells.get(c, i)).strip().startswith("-") else ""
        cells.set(c, i, sign + out)
    cells.write()
    parts = []
    if dec == "," and (votes or s.decimal):
        parts.append("decimal commas")
    if grouped and th != ",":
        parts.append(f"{th!r} thousands separators")
    return ", ".join(parts) or None


def _decimal_mark(body: str) -> str | None:
    """The decimal mark a number's text shows: '.', ',', None (an integer or unknowable without
    more) or '?' (``1.234``/``1,234``: a decimal mark or a thousands separator)."""
    has_dot, has_comma = "." in body, "," in body
    if has_dot and has_comma:
        return "." if body.rfind(".") > body.rfind(",") else ","
    if not (has_dot or has_comma):
        return None
    mark = "." if has_dot else ","
    if body.count(mark) > 1:
        return "," if mark == "." else "."  # 1.234.567: the mark groups thousands
    head, tail = body.split(mark)
    if len(tail) != 3 or head in ("", "0") or len(head) > 3:
        return mark
    return "?"


def _dates(df: pd.DataFrame, s: CsvSettings, path: Path, error) -> str | None:
    cols = [c for c in DATE_COLUMNS if c in df.columns]
    if not cols:
        return None
    cells = [(c, i, str(v).strip()) for c in cols for i, v in enumerate(df[c])]
    cells = [x for x in cells if x[2]]
    fmt = s.date_format
    if fmt and fmt not in ("day-first", "month-first"):
        out = _Cells(df)
        for c, i, v in cells:
            try:
                d = _dt.datetime.strptime(v, fmt).date()
            except ValueError:
                raise error(
                    f"the date {v!r} in row {i + 2} does not match date_format {fmt!r}",
                    path=path,
                    field=c,
                ) from None
            out.set(c, i, d.isoformat())
        out.write()
        return f"dates as {fmt!r}" if fmt != "%Y-%m-%d" else None
    if not fmt and all(_ISO.match(v) for _, _, v in cells):
        return None
    parsed = [(c, i, v, _DMY.match(v)) for c, i, v in cells]
    if not fmt:
        dmy = [(c, i, v, m) for c, i, v, m in parsed if m]
        if not dmy:
            return None  # neither ISO nor dd/mm/yyyy: the reader reports the first bad date
        first_big = next(((c, i, v) for c, i, v, m in dmy if int(m.group(1)) > 12), None)
        second_big = next(((c, i, v) for c, i, v, m in dmy if int(m.group(3)) > 12), None)
        if first_big and second_big:
            raise error(
                f"dates are neither all day-first nor all month-first ({first_big[2]!r} in row "
                f"{first_big[1] + 2}, {second_big[2]!r} in row {second_big[1] + 2}); "
                + _setting_hint("date_format"),
                path=path,
                field=first_big[0],
            )
        if not first_big and not second_big:
            c, i, v, _ = dmy[0]
            raise error(
                f"cannot tell whether {v!r} (row {i + 2}) is day-first or month-first: no date "
                "has a day above 12; " + _setting_hint("date_format") + " (e.g. '%d/%m/%Y')",
                path=path,
                field=c,
            )
        fmt = "day-first" if first_big else "month-first"
    dated = _Cells(df)
    for c, i, v, m in parsed:
        if not m:
            continue  # left as it is: the reader reports it
        a, b, y = int(m.group(1)), int(m.group(3)), m.group(4)
        day, month = (a, b) if fmt == "day-first" else (b, a)
        year = int(y) + (2000 if len(y) == 2 else 0)
        try:
            dated.set(c, i, _dt.date(year, month, day).isoformat())
        except ValueError:
            raise error(
                f"the date {v!r} in row {i + 2} is not a {fmt} date", path=path, field=c
            ) from None
    dated.write()
    return f"{fmt} dates"


class _Cells:
    """Cells of ``df`` to rewrite, written back one whole column at a time: a cell written with
    ``df.iat`` costs a copy of its column under pandas' copy-on-write, so a file's worth of cells
    written one by one took time quadratic in its rows (150 markets × 60 weeks: 90 s)."""

    def __init__(self, df: pd.DataFrame) -> None:
        self.df = df
        self.cols: dict[str, list[Any]] = {}

    def _col(self, c: str) -> list[Any]:
        col = self.cols.get(c)
        if col is None:
            _column(self.df, c)  # unique, as every reader requires
            col = self.cols[c] = self.df[c].tolist()
        return col

    def get(self, c: str, i: int) -> Any:
        return self._col(c)[i]

    def set(self, c: str, i: int, value: str) -> None:
        self._col(c)[i] = value

    def write(self) -> None:
        import pandas as pd

        for c, col in self.cols.items():
            self.df[c] = pd.Series(col, index=self.df.index, dtype=self.df[c].dtype)


def _column(df: pd.DataFrame, name: str) -> int:
    """The position of column ``name`` (the readers refuse duplicate column names first)."""
    loc = df.columns.get_loc(name)
    if not isinstance(loc, int):
        raise TypeError(f"column {name!r} is not unique")
    return loc
