"""Contract 2: the history file (``history.csv``, wide or long; one market or several)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from optimizer.errors import DataError
from optimizer.formatting import did_you_mean
from optimizer.io.dialect import CsvSettings
from optimizer.io.files import read_csv_strings, short_repr
from optimizer.io.journey import Journey
from optimizer.io.spend_tables import amounts
from optimizer.vocabulary import (
    DATE_COLUMN,
    MARKET_COLUMN,
    MAX_KPI,
    MAX_MONEY,
    SPEND_COLUMN,
    TOUCHPOINT_COLUMN,
)

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class History:
    """Weekly history: a DataFrame indexed by week (``date``), spend per touchpoint id, KPIs, controls."""

    frame: pd.DataFrame
    journey: Journey
    source: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)

    @property
    def spend(self) -> pd.DataFrame:
        return self.frame[[t.id for t in self.journey.touchpoints]]

    def kpi(self, column: str | None = None) -> pd.Series:
        return self.frame[column or self.journey.kpi]

    @property
    def n_weeks(self) -> int:
        return len(self.frame)


def _read_table(path: Path, csv: CsvSettings | None = None) -> pd.DataFrame:
    df = read_csv_strings(path, "history", csv=csv)
    if df.empty:
        raise DataError("the history file has a header but no rows of data", path=path)
    return df


def _numeric(
    df: pd.DataFrame,
    col: str,
    path: Path,
    dates: pd.Series,
    *,
    non_negative: bool,
    what: str,
    lines: np.ndarray | None = None,
    event: bool = False,
) -> pd.Series:
    """A column's numbers, checked: present and finite, not negative (spend), within the range
    of money (spend) or of a KPI, and 0 or 1 (an ``event``). Each error names the first row."""
    import pandas as pd

    raw = df[col].astype(str).str.strip()
    values = pd.to_numeric(raw, errors="coerce")  # an empty cell is NaN like any non-number

    def refuse(mask: pd.Series, words: str, show: Callable[[str], str] = short_repr) -> None:
        if mask.any():
            i = int(np.flatnonzero(mask.to_numpy())[0])
            raise DataError(
                f"{what} {words}{show(raw.iloc[i])} in row {_line(lines, i)} "
                f"(week {dates.iloc[i]})",
                path=path,
                field=col,
            )

    refuse(
        values.isna() | ~np.isfinite(values.fillna(0.0)),
        "is ",
        lambda v: "missing" if v == "" else f"not a number: {short_repr(v)}",
    )
    if non_negative:
        refuse(values < 0, "must not be negative, got ", str)
    limit = MAX_MONEY if non_negative else MAX_KPI  # spend is money; a KPI or control is not
    refuse(values.abs() > limit, f"must be at most {limit:,.0f} in size, got ")
    if event:  # a 0/1 indicator (docs/file-formats.md), not a regressor on a scale nobody meant
        refuse(~values.isin([0.0, 1.0]), "is 0 or 1 (1 in the weeks it happens), got ")
    return values.astype(float)


def _line(lines: np.ndarray | None, i: int) -> int:
    """The file's row number (the header is row 1) of the frame's ``i``-th row."""
    return int(lines[i]) if lines is not None else i + 2


def read_history(
    path: str | Path, journey: Journey, *, min_weeks: int = 1, csv: CsvSettings | None = None
) -> History:
    """Read ``history.csv`` (wide: one spend column per touchpoint; or long: date,touchpoint,spend).

    Checks: a ``date`` column of ISO dates, one per week, no duplicates or gaps; every spend
    column the journey names, numeric and non-negative; the KPI column(s) numeric and complete;
    at least ``min_weeks`` rows. A ``market`` column holding a single market is ignored; with
    several markets, use ``read_market_histories`` (one history per market).

    Excel exports are read as they come (``optimizer.io.dialect``; ``csv`` overrides the journey's
    ``csv:`` settings). Daily and monthly dates are turned into weeks (``_to_weeks``). What was
    detected or converted is in ``meta["notes"]``.
    """
    path = Path(path)
    df = _read_table(path, journey.csv.merged(csv))
    note = df.attrs.get("csv_note")
    if MARKET_COLUMN in df.columns:
        markets = _market_names(df)
        if len(markets) > 1:
            shown = ", ".join(markets[:5]) + (", …" if len(markets) > 5 else "")
            raise DataError(
                f"holds {len(markets)} markets ({shown}): fit one model per market with "
                "'budgetopt fit --by-market', or keep one market's rows",
                path=path,
                field=MARKET_COLUMN,
            )
        df = df.drop(columns=[MARKET_COLUMN])
    h = _history_from_table(df, path, journey, min_weeks=min_weeks)
    notes = tuple(n for n in (note, *h.meta.get("notes", ())) if n)
    return History(h.frame, journey, h.source, {**h.meta, "notes": notes})


def has_markets(path: str | Path) -> bool:
    """Whether a history CSV's header has a ``market`` column (False when it cannot be read)."""
    import re

    try:
        with open(path, encoding="utf-8-sig", errors="replace") as fh:
            header = fh.readline()
    except OSError:
        return False
    return MARKET_COLUMN in [c.strip().strip('"') for c in re.split(r"[,;\t|]", header.strip())]


def _market_names(df: pd.DataFrame) -> list[str]:
    return sorted(set(df[MARKET_COLUMN].astype(str).str.strip()))


def read_market_histories(
    path: str | Path, journey: Journey, *, min_weeks: int = 1, csv: CsvSettings | None = None
) -> dict[str, History]:
    """One weekly history per market of a history file with a ``market`` column (wide or long
    layout, the rows of the markets in any order), sorted by market name. Each market's rows are
    checked as ``read_history`` checks a file; errors name the market and the file's row."""
    path = Path(path)
    df = _read_table(path, journey.csv.merged(csv))
    note = df.attrs.get("csv_note")
    if MARKET_COLUMN not in df.columns:
        raise DataError(
            f"there is no '{MARKET_COLUMN}' column to split the history by market"
            f"{did_you_mean(MARKET_COLUMN, df.columns)}; columns are: "
            f"{', '.join(df.columns)}",
            path=path,
            field=MARKET_COLUMN,
        )
    names = df[MARKET_COLUMN].astype(str).str.strip()
    if (names == "").any():
        i = int(np.flatnonzero((names == "").to_numpy())[0])
        raise DataError(f"the market is missing in row {i + 2}", path=path, field=MARKET_COLUMN)
    out: dict[str, History] = {}
    # each market's rows found in one pass over the file (a mask per market made this quadratic
    # in the number of markets: benchmarks/validate_markets.py)
    rows_of = {str(k): v for k, v in names.groupby(names.to_numpy(), sort=False).indices.items()}
    body = df.drop(columns=[MARKET_COLUMN])
    for market in sorted(rows_of):
        at = np.asarray(rows_of[market])  # ascending: the market's rows in file order
        sub = body.iloc[at].reset_index(drop=True)
        lines = at + 2
        try:
            h = _history_from_table(sub, path, journey, min_weeks=min_weeks, lines=lines)
        except DataError as e:
            raise DataError(
                f"market {short_repr(market)}: {_strip_path(str(e), path)}", path=path
            ) from None
        notes = tuple(n for n in (note, *h.meta.get("notes", ())) if n)
        out[market] = History(
            frame=h.frame,
            journey=journey,
            source=str(path),
            meta={"market": market, "notes": notes, "frequency": h.meta.get("frequency")},
        )
    return out


def _strip_path(message: str, path: Path) -> str:
    prefix = f"{path}: "
    return message[len(prefix) :] if message.startswith(prefix) else message


def _history_from_table(
    df: pd.DataFrame,
    path: Path,
    journey: Journey,
    *,
    min_weeks: int = 1,
    lines: np.ndarray | None = None,
) -> History:
    """``read_history`` on a table already read (every cell a string); ``lines`` are the file's
    row numbers of its rows (default: the rows in order after the header)."""
    import pandas as pd

    if DATE_COLUMN not in df.columns:
        raise DataError(
            f"there is no '{DATE_COLUMN}' column{did_you_mean(DATE_COLUMN, df.columns)}; "
            f"columns are: {', '.join(df.columns)}",
            path=path,
            field=DATE_COLUMN,
        )
    # the file's row of each cell (the header is row 1); in the long layout a week's own
    at: dict[str, np.ndarray] = {}
    if TOUCHPOINT_COLUMN in df.columns and SPEND_COLUMN in df.columns:
        df, at = _long_to_wide(df, path, journey, lines)
        lines = at.pop("")  # a week's first row in the file
    raw_dates = df[DATE_COLUMN].astype(str).str.strip()
    dates = pd.to_datetime(raw_dates, format="ISO8601", errors="coerce")
    if dates.isna().any():
        i = int(np.flatnonzero(dates.isna().to_numpy())[0])
        shown = raw_dates.iloc[i]
        desc = "missing" if shown == "" else f"not an ISO date (YYYY-MM-DD): {short_repr(shown)}"
        raise DataError(
            f"the date in row {_line(lines, i)} is {desc}", path=path, field=DATE_COLUMN
        )
    dup = dates.duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise DataError(
            f"week {raw_dates.iloc[i]} appears twice (row {_line(lines, i)})",
            path=path,
            field=DATE_COLUMN,
        )
    order = np.argsort(dates.to_numpy(), kind="stable")
    lines = (np.arange(len(df)) + 2 if lines is None else np.asarray(lines))[order]
    at = {c: v[order] for c, v in at.items()}
    df = df.iloc[order].reset_index(drop=True)
    dates = dates.iloc[order].reset_index(drop=True)
    raw_dates = raw_dates.iloc[order].reset_index(drop=True)
    frequency = _frequency(dates, raw_dates, path)
    if frequency == "week" and len(df) < min_weeks:
        raise DataError(
            f"has {len(df)} weeks of history; at least {min_weeks} are needed",
            path=path,
            field=DATE_COLUMN,
        )
    out = pd.DataFrame(index=pd.DatetimeIndex(dates, name=DATE_COLUMN))
    shown_dates = raw_dates
    for t in journey.touchpoints:
        if t.spend_column not in df.columns:
            raise DataError(
                f"the journey's touchpoint {short_repr(t.id)} needs spend column {short_repr(t.spend_column)}, which "
                f"the history lacks{did_you_mean(t.spend_column, df.columns)}",
                path=path,
                field=t.spend_column,
            )
        out[t.id] = _numeric(
            df, t.spend_column, path, shown_dates, non_negative=True, what="spend", lines=lines
        ).to_numpy()
    for k in journey.all_kpis:
        if k.column not in df.columns:
            raise DataError(
                f"there is no KPI column {short_repr(k.column)}{did_you_mean(k.column, df.columns)}",
                path=path,
                field=k.column,
            )
        out[k.column] = _numeric(
            df,
            k.column,
            path,
            shown_dates,
            non_negative=False,
            what="the KPI",
            lines=at.get(k.column, lines),
        ).to_numpy()
    for c in (*journey.controls, *journey.events):
        event = c in journey.events
        if c not in df.columns:
            raise DataError(
                f"there is no {'event' if event else 'control'} column {short_repr(c)}"
                f"{did_you_mean(c, df.columns)}",
                path=path,
                field=c,
            )
        what = "an event" if event else "the control"
        out[c] = _numeric(
            df,
            c,
            path,
            shown_dates,
            non_negative=False,
            what=what,
            lines=at.get(c, lines),
            event=event,
        ).to_numpy()
    notes: tuple[str, ...] = ()
    if frequency != "week":
        out, note = _to_weeks(out, frequency, journey)
        notes = (f"{path.name}: {note}",)
        if len(out) < min_weeks:
            raise DataError(
                f"has {len(out)} whole weeks of history once its {frequency}s are turned into "
                f"weeks; at least {min_weeks} are needed",
                path=path,
                field=DATE_COLUMN,
            )
    return History(
        frame=out,
        journey=journey,
        source=str(path),
        meta={"frequency": frequency, "notes": notes},
    )


def _frequency(dates: pd.Series, raw_dates: pd.Series, path: Path) -> str:
    """``week``, ``day`` or ``month``: the history's own frequency, told from its sorted dates
    (every gap 7 days; every gap 1 day; consecutive calendar months). Anything else is an error
    naming the first gap that breaks the frequency most gaps show."""
    if len(dates) < 2:
        return "week"
    gaps = dates.diff().dt.days.iloc[1:].to_numpy()
    months = (dates.dt.year * 12 + dates.dt.month).diff().iloc[1:].to_numpy()
    if (gaps == 7).all():
        return "week"
    if (gaps == 1).all():
        return "day"
    monthly = (months == 1) & (gaps >= 28) & (gaps <= 31)
    if monthly.all():
        return "month"
    median = float(np.median(gaps))
    if 27 <= median <= 32:
        j = int(np.flatnonzero(~monthly)[0]) + 1
        raise DataError(
            f"monthly dates must be one calendar month apart; between {raw_dates.iloc[j - 1]} "
            f"and {raw_dates.iloc[j]} there are {int(gaps[j - 1])} days",
            path=path,
            field=DATE_COLUMN,
        )
    if median < 4:
        j = int(np.flatnonzero(gaps != 1)[0]) + 1
        raise DataError(
            f"daily dates must be one day apart; between {raw_dates.iloc[j - 1]} and "
            f"{raw_dates.iloc[j]} there are {int(gaps[j - 1])} days (record a day without "
            "spend as zero spend)",
            path=path,
            field=DATE_COLUMN,
        )
    j = int(np.flatnonzero(gaps != 7)[0]) + 1
    g = int(gaps[j - 1])
    what = "a missing week" if g > 7 and g % 7 == 0 else f"{g} days, not one week"
    raise DataError(
        f"dates must be one week apart (or one day, or one month); between "
        f"{raw_dates.iloc[j - 1]} and {raw_dates.iloc[j]} there are {g} days ({what})",
        path=path,
        field=DATE_COLUMN,
    )


def _to_weeks(frame: pd.DataFrame, frequency: str, journey: Journey) -> tuple[pd.DataFrame, str]:
    """A daily or monthly history as weeks running Monday to Sunday, dated by the Monday (what
    ``budgetopt aggregate`` writes). Spend and KPIs are flows: a week's is the sum of its days; a
    month's is spread evenly over its days first. Controls are levels (a week's is the mean of its
    days) and events the maximum. Weeks at either end with fewer than 7 days are left out."""
    import pandas as pd

    flows = [t.id for t in journey.touchpoints] + [k.column for k in journey.all_kpis]
    if frequency == "month":
        days: list[pd.DataFrame] = []
        for d, (_, row) in zip(pd.DatetimeIndex(frame.index), frame.iterrows(), strict=True):
            start = d.to_period("M").start_time
            n_days = int(start.days_in_month)
            idx = pd.date_range(start, periods=n_days, freq="D")
            block = pd.DataFrame({c: float(row[c]) for c in frame.columns}, index=idx)
            block[flows] = block[flows] / n_days
            days.append(block)
        daily = pd.concat(days)
    else:
        daily = frame
    index = pd.DatetimeIndex(daily.index)
    monday = index - pd.to_timedelta(index.day_of_week, unit="D")
    grouped = daily.groupby(monday)
    how = {c: "sum" for c in flows}
    how.update({c: "mean" for c in journey.controls})
    how.update({c: "max" for c in journey.events})
    weeks = grouped.agg({c: how.get(c, "mean") for c in daily.columns})
    whole = (grouped.size() == 7).to_numpy()
    dropped = int((~whole).sum())
    weeks = weeks.loc[whole]
    weeks.index = pd.DatetimeIndex(weeks.index, name=DATE_COLUMN)
    n = len(frame)
    if frequency == "month":
        note = (
            f"{n} monthly rows spread evenly over their days and summed into {len(weeks)} weeks "
            "(Monday to Sunday): spend and KPI are taken as flat within a month, so carry-over "
            "and seasonality inside a month are not seen"
        )
    else:
        note = f"{n} daily rows summed into {len(weeks)} weeks (Monday to Sunday)"
    if dropped:
        note += f"; {dropped} incomplete week(s) at the ends left out"
    return weeks, note


def _refuse_two_values_in_a_week(
    df: pd.DataFrame, columns: list[str], path: Path, lines: np.ndarray | None
) -> None:
    """In a long history a week's KPI, controls and events repeat on each of its rows: two
    different values in one week (a KPI attributed to each touchpoint's row, say) are an error
    naming the column, the week, both rows and both values, not the first row's taken silently.
    A blank cell beside the week's value is no second value."""
    import pandas as pd

    rows = lines if lines is not None else np.arange(len(df)) + 2
    dates = df[DATE_COLUMN].astype(str).str.strip().to_numpy()
    for c in columns:
        text = df[c].astype(str).str.strip()
        number = pd.to_numeric(text, errors="coerce").to_numpy(dtype=float)
        seen: dict[str, tuple[str, float | str, int]] = {}
        for k, (d, t, x) in enumerate(zip(dates, text, number, strict=True)):
            if t == "":
                continue
            value: float | str = float(x) if np.isfinite(x) else t
            first = seen.setdefault(d, (t, value, int(rows[k])))
            if first[1] != value:
                raise DataError(
                    f"week {d} has two values: {short_repr(first[0])} in row {first[2]} and "
                    f"{short_repr(t)} in row {int(rows[k])}; in the long layout (date,touchpoint,"
                    f"spend) the week's {c!r} is repeated, the same, on each of its rows (spend "
                    "is per touchpoint, the KPI and controls are the week's)",
                    path=path,
                    field=c,
                )


def _long_to_wide(
    df: pd.DataFrame, path: Path, journey: Journey, lines: np.ndarray | None = None
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Pivot a long history (``date,touchpoint,spend`` plus per-week KPI columns) to wide, with
    the file's row of each week's value of each column (``""``: of its date), so that an error
    in the wide table names the row of the file, as the wide layout's do. A week's KPI, control
    or event is its first non-blank cell."""
    import pandas as pd

    rows = np.asarray(lines if lines is not None else np.arange(len(df)) + 2)
    tps = df[TOUCHPOINT_COLUMN].astype(str).str.strip()
    known = {t.spend_column for t in journey.touchpoints} | {t.id for t in journey.touchpoints}
    bad = ~tps.isin(known).to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"unknown touchpoint {tps.iloc[i]!r} in row {int(rows[i])}"
            f"{did_you_mean(tps.iloc[i], sorted(known))}",
            path=path,
            field=TOUCHPOINT_COLUMN,
        )
    # a row may name a touchpoint by its id or its spend column: its column is the spend column
    # (by its id, 'tv' for spend_column tv_spend, it was accepted here and then 'the history
    # lacks tv_spend')
    columns = {t.spend_column for t in journey.touchpoints}
    to_column = {t.id: t.spend_column for t in journey.touchpoints if t.id not in columns}
    df = df.assign(**{TOUCHPOINT_COLUMN: tps.replace(to_column)})
    # the one rule for an amount in a spend table (io.spend_tables): located by the file's row
    spend = amounts(df[SPEND_COLUMN], path=path, rows=rows)
    twice = df.duplicated([DATE_COLUMN, TOUCHPOINT_COLUMN]).to_numpy()
    if twice.any():
        i = int(np.flatnonzero(twice)[0])
        d, t = df[DATE_COLUMN].iloc[i], df[TOUCHPOINT_COLUMN].iloc[i]
        same = (df[DATE_COLUMN] == d).to_numpy() & (df[TOUCHPOINT_COLUMN] == t).to_numpy()
        first = int(rows[int(np.flatnonzero(same)[0])])
        raise DataError(
            f"week {d} has touchpoint {t!r} twice (rows {first} and {int(rows[i])})",
            path=path,
            field=TOUCHPOINT_COLUMN,
        )
    wide = (
        df.assign(**{SPEND_COLUMN: spend})
        .pivot(index=DATE_COLUMN, columns=TOUCHPOINT_COLUMN, values=SPEND_COLUMN)
        .fillna(0.0)
    )
    others = [c for c in df.columns if c not in (TOUCHPOINT_COLUMN, SPEND_COLUMN, DATE_COLUMN)]
    _refuse_two_values_in_a_week(df, others, path, lines)
    weeks = wide.index
    by_date = df[DATE_COLUMN].to_numpy()
    first_row = pd.Series(rows).groupby(by_date).first().reindex(weeks)
    at: dict[str, np.ndarray] = {"": first_row.to_numpy(dtype=int)}
    out = wide.astype(str)
    for c in others:
        text = df[c].astype(str).str.strip()
        filled = (text != "").to_numpy()
        value = text[filled].groupby(by_date[filled]).first().reindex(weeks).fillna("")
        row = pd.Series(rows[filled]).groupby(by_date[filled]).first().reindex(weeks)
        out[c] = value.to_numpy()
        at[c] = row.fillna(first_row).to_numpy(dtype=int)
    return out.reset_index(), at
