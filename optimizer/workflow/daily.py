"""Aggregate a large daily history to the weekly history the models need, with dask.dataframe.

The daily file (CSV or Parquet: a file, a folder of files or a glob) is read in blocks
(``blocksize`` for CSV, row groups / files for Parquet), never whole: each block is reduced to
weekly sums, and only those sums (weeks x markets x touchpoints) are brought together. Two
layouts, as for the weekly history (docs/file-formats.md):

* wide: ``date[,market],<spend column per touchpoint>,<KPI columns>[,controls][,events]``;
* long: ``date[,market],touchpoint,spend[,<KPI columns>][,controls][,events]``, one row per day
  (and market) and touchpoint; a KPI, control or event column holds the day's value repeated on
  each of that day's rows (the first is taken).

Rows for the same day (and market, and touchpoint) add up. A week runs Monday to Sunday and is
dated by its Monday, as ``read_history`` expects (one row per week, 7 days apart). Weekly spend
and KPIs are the sums of the days; a control is the mean of its daily values, an event the
maximum. Weeks at either end of a series with fewer than 7 days of data are left out (and
reported); a week inside the series with missing days, or a missing week, is an error. Without
``by_market`` the markets are added up into one series (their controls averaged); with it the
output keeps a ``market`` column, one series per market, which ``budgetopt fit --by-market``
reads.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from optimizer.data import Journey
from optimizer.defaults import DEFAULT_BLOCKSIZE
from optimizer.errors import DataError
from optimizer.formatting import did_you_mean
from optimizer.io.files import atomic_write_text
from optimizer.vocabulary import (
    DATE_COLUMN,
    MARKET_COLUMN,
    MAX_MONEY,
    SPEND_COLUMN,
    TOUCHPOINT_COLUMN,
)


@dataclass(frozen=True)
class Weekly:
    """The weekly history aggregated from a daily file, and what was left out."""

    frame: pd.DataFrame  # date (Monday, ISO), [market], spend columns, KPIs, controls, events
    layout: str  # "wide" or "long"
    days: int  # distinct (market, day) pairs read
    rows: int  # rows of the daily file
    dropped: tuple[str, ...] = field(default=())  # partial edge weeks left out, in words

    @property
    def markets(self) -> list[str]:
        if MARKET_COLUMN in self.frame.columns:
            return sorted(set(self.frame[MARKET_COLUMN]))
        return []

    def to_csv(self) -> str:
        # sums of cents carry binary noise (158679.27999999997): written to 9 decimals, each
        # value is the nearest to what was summed (158679.28), far below any money's precision
        frame = self.frame.copy()
        floats = frame.select_dtypes("float").columns
        frame[floats] = frame[floats].round(9)
        return frame.to_csv(index=False, lineterminator="\n")


def _require_dask() -> Any:
    try:
        import dask
        import dask.dataframe as dd
    except ImportError:
        raise DataError(
            "aggregating a daily history needs dask.dataframe: install "
            "budgetopt[dask] (pip install 'budgetopt[dask]')"
        ) from None
    return dask, dd


def _is_parquet(path: str) -> bool:
    p = Path(path)
    if p.is_dir():
        return any(q.suffix in (".parquet", ".pq") for q in p.rglob("*"))
    return p.suffix.lower() in (".parquet", ".pq")


def _columns(path: str, parquet: bool) -> list[str]:
    if parquet:
        import pyarrow.parquet as pq

        files = (
            [str(q) for q in sorted(Path(path).rglob("*")) if q.suffix in (".parquet", ".pq")]
            if Path(path).is_dir()
            else sorted(glob.glob(path)) or [path]
        )
        return [c for c in pq.read_schema(files[0]).names if not c.startswith("__index")]
    first = sorted(glob.glob(path))[0] if any(ch in path for ch in "*?[") else path
    try:
        head = pd.read_csv(first, nrows=0)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise DataError(f"cannot be read as CSV: {str(e).splitlines()[0]}", path=path) from None
    return [str(c).strip() for c in head.columns]


@dataclass(frozen=True)
class _Spec:
    layout: str
    has_market: bool
    spend: tuple[str, ...]  # wide: the spend columns
    kpis: tuple[str, ...]
    controls: tuple[str, ...]
    events: tuple[str, ...]

    @property
    def numeric(self) -> tuple[str, ...]:
        base = (SPEND_COLUMN,) if self.layout == "long" else self.spend
        return (*base, *self.kpis, *self.controls, *self.events)


def _prepare(pdf: pd.DataFrame, spec: _Spec) -> pd.DataFrame:
    """One block: dates to days and weeks (Monday), numbers to floats (NaN when empty or not a
    number), names to strings."""
    out = pd.DataFrame(index=pdf.index)
    raw = pdf[DATE_COLUMN]
    if pd.api.types.is_datetime64_any_dtype(raw):
        day = pd.to_datetime(raw)
    else:
        day = pd.to_datetime(raw.astype(str).str.strip(), format="ISO8601", errors="coerce")
    if getattr(day.dt, "tz", None) is not None:
        day = day.dt.tz_localize(None)
    day = day.dt.normalize().astype("datetime64[ns]")
    out["day"] = day
    out["week"] = (day - pd.to_timedelta(day.dt.day_of_week, unit="D")).astype("datetime64[ns]")
    if spec.has_market:
        out[MARKET_COLUMN] = pdf[MARKET_COLUMN].astype(str).str.strip()
    if spec.layout == "long":
        out[TOUCHPOINT_COLUMN] = pdf[TOUCHPOINT_COLUMN].astype(str).str.strip()
    for c in spec.numeric:
        col = pdf[c]
        if not pd.api.types.is_numeric_dtype(col):
            # an empty cell coerces to NaN like any other non-number
            col = pd.to_numeric(col.astype(str).str.strip(), errors="coerce")
        out[c] = col.astype("float64")
    return out


def aggregate_daily(
    path: str | Path,
    journey: Journey,
    *,
    by_market: bool = False,
    blocksize: str | int = DEFAULT_BLOCKSIZE,
    scheduler: Any = None,
) -> Weekly:
    """The weekly history of a daily file (see the module docstring).

    ``scheduler`` is passed to ``dask.compute`` (default: dask's threads on this machine; a
    ``distributed.Client``'s ``get`` to read on a cluster, whose workers must see the file).
    """
    dask, dd = _require_dask()
    spath = str(path)
    if not any(ch in spath for ch in "*?[") and not Path(spath).exists():
        raise DataError("the daily history does not exist", path=path)
    parquet = _is_parquet(spath)
    cols = _columns(spath, parquet)
    if DATE_COLUMN not in cols:
        raise DataError(
            f"there is no '{DATE_COLUMN}' column{did_you_mean(DATE_COLUMN, cols)}; "
            f"columns are: {', '.join(cols)}",
            path=path,
            field=DATE_COLUMN,
        )
    long = TOUCHPOINT_COLUMN in cols and SPEND_COLUMN in cols
    has_market = MARKET_COLUMN in cols
    if by_market and not has_market:
        raise DataError(
            f"there is no '{MARKET_COLUMN}' column to keep the markets apart"
            f"{did_you_mean(MARKET_COLUMN, cols)}",
            path=path,
            field=MARKET_COLUMN,
        )
    spend_cols: tuple[str, ...] = ()
    if not long:
        for t in journey.touchpoints:
            if t.spend_column not in cols:
                raise DataError(
                    f"the journey's touchpoint {t.id!r} needs spend column {t.spend_column!r}, "
                    f"which the daily history lacks{did_you_mean(t.spend_column, cols)}",
                    path=path,
                    field=t.spend_column,
                )
        spend_cols = tuple(dict.fromkeys(t.spend_column for t in journey.touchpoints))
    kpis = tuple(dict.fromkeys(k.column for k in journey.all_kpis))
    for c in (*kpis, *journey.controls, *journey.events):
        if c not in cols:
            what = "KPI" if c in kpis else "control"
            raise DataError(
                f"there is no {what} column {c!r}{did_you_mean(c, cols)}", path=path, field=c
            )
    spec = _Spec(
        "long" if long else "wide",
        has_market,
        spend_cols,
        kpis,
        tuple(journey.controls),
        tuple(journey.events),
    )
    needed = [
        DATE_COLUMN,
        *([MARKET_COLUMN] if has_market else []),
        *([TOUCHPOINT_COLUMN] if long else []),
        *spec.numeric,
    ]
    needed = list(dict.fromkeys(needed))
    try:
        if parquet:
            raw = dd.read_parquet(spath, columns=needed)
        else:
            raw = dd.read_csv(
                spath,
                blocksize=blocksize,
                usecols=needed,
                dtype=str,
                keep_default_na=False,
                skipinitialspace=True,
            )
    except (OSError, ValueError) as e:
        raise DataError(f"cannot be read: {str(e).splitlines()[0]}", path=path) from None

    meta = _prepare(raw._meta, spec)
    df = raw.map_partitions(_prepare, spec, meta=meta)
    day_keys = [*([MARKET_COLUMN] if has_market else []), "day"]
    week_keys = [*([MARKET_COLUMN] if by_market else []), "week"]
    per_day_cols = [*kpis, *spec.controls, *spec.events]
    if long:
        spend = df.groupby([*week_keys, TOUCHPOINT_COLUMN])[SPEND_COLUMN].sum()
        daily = (
            df.groupby(day_keys)[per_day_cols].first()
            if per_day_cols
            else df.groupby(day_keys)[SPEND_COLUMN].count().to_frame("_rows")
        )
    else:
        spend = df.groupby(week_keys)[list(spend_cols)].sum()
        how = {
            **dict.fromkeys(kpis, "sum"),
            **dict.fromkeys(spec.controls, "mean"),
            **dict.fromkeys(spec.events, "max"),
        }
        daily = (
            df.groupby(day_keys).agg(how)
            if how
            else df.groupby(day_keys)[list(spend_cols)[:1]].count()
        )
    checks = {
        "rows": df["day"].size,
        "bad_dates": df["day"].isna().sum(),
        "missing": df[list(spec.numeric)].isna().sum(),
        "min_spend": (df[SPEND_COLUMN] if long else df[list(spend_cols)]).min(),
    }
    if spec.events:  # an event is 0/1: a row's other value, counted, and the least and most
        ev = df[list(spec.events)]
        odd = ev.where(~ev.isin([0.0, 1.0]))  # a blank stays blank (counted as missing)
        checks |= {"odd_events": odd.count(), "odd_min": odd.min(), "odd_max": odd.max()}
    try:
        spend_w, daily_d, chk = dask.compute(spend, daily, checks, scheduler=scheduler)
    except (OSError, ValueError, KeyError) as e:
        raise DataError(f"cannot be read: {str(e).splitlines()[0]}", path=path) from None
    return _finish(path, journey, spec, by_market, spend_w, daily_d, chk)


def _finish(
    path: str | Path,
    journey: Journey,
    spec: _Spec,
    by_market: bool,
    spend_w: Any,
    daily_d: pd.DataFrame,
    chk: dict[str, Any],
) -> Weekly:
    if int(chk["rows"]) == 0:
        raise DataError("the daily history has a header but no rows of data", path=path)
    if int(chk["bad_dates"]):
        raise DataError(
            f"{int(chk['bad_dates'])} row(s) have a date that is missing or not an "
            "ISO date (YYYY-MM-DD)",
            path=path,
            field=DATE_COLUMN,
        )
    missing = chk["missing"]
    for c in spec.numeric:
        if int(missing[c]):
            raise DataError(
                f"{int(missing[c])} row(s) have a value that is missing or not a number",
                path=path,
                field=c,
            )
    _refuse_event_values(path, spec, chk)
    mins = chk["min_spend"]
    mins = {SPEND_COLUMN: float(mins)} if spec.layout == "long" else dict(mins)
    for c, v in mins.items():
        if v < 0:
            raise DataError(f"spend must not be negative, got {v:g}", path=path, field=c)
    market_keys = [MARKET_COLUMN] if by_market else []

    # spend per week (and market) per spend column
    if spec.layout == "long":
        by_name = {t.id: t.spend_column for t in journey.touchpoints}
        by_name.update({t.spend_column: t.spend_column for t in journey.touchpoints})
        s = spend_w.reset_index()
        unknown = sorted(set(s[TOUCHPOINT_COLUMN]) - set(by_name))
        if unknown:
            raise DataError(
                f"unknown touchpoint {unknown[0]!r}"
                f"{did_you_mean(unknown[0], sorted(by_name))}"
                + (f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else ""),
                path=path,
                field=TOUCHPOINT_COLUMN,
            )
        s["_col"] = s[TOUCHPOINT_COLUMN].map(by_name)
        wide = s.pivot_table(
            index=[*market_keys, "week"],
            columns="_col",
            values=SPEND_COLUMN,
            aggfunc="sum",
            fill_value=0.0,
        )
        cols = list(dict.fromkeys(t.spend_column for t in journey.touchpoints))
        wide = wide.reindex(columns=cols, fill_value=0.0)
    else:
        wide = spend_w
        cols = list(spec.spend)
    wide.columns.name = None

    # the days' KPIs, controls and events, to weeks
    d = daily_d.reset_index()
    d["week"] = d["day"] - pd.to_timedelta(d["day"].dt.day_of_week, unit="D")
    days = int(len(d))
    coverage = d.groupby([*market_keys, "week"])["day"].nunique().rename("_days")
    how = {
        **dict.fromkeys(spec.kpis, "sum"),
        **dict.fromkeys(spec.controls, "mean"),
        **dict.fromkeys(spec.events, "max"),
    }
    if how:
        per_week = d.groupby([*market_keys, "week"]).agg(how)
        weekly = wide.join(per_week, how="outer")
    else:
        weekly = wide
    weekly = weekly.join(coverage, how="outer")
    weekly[cols] = weekly[cols].fillna(0.0)

    # complete weeks only: partial weeks at the ends are dropped, in the middle an error
    dropped: list[str] = []
    parts = []
    groups = weekly.groupby(level=MARKET_COLUMN, sort=True) if by_market else [(None, weekly)]
    for market, g in groups:
        g = g.droplevel(MARKET_COLUMN) if market is not None else g
        g = g.sort_index()
        where = f"market {market!r}: " if market is not None else ""
        full = g["_days"].fillna(0).to_numpy() >= 7
        if not full.any():
            raise DataError(f"{where}no week has all 7 days of data", path=path, field=DATE_COLUMN)
        first, last = int(np.argmax(full)), len(full) - 1 - int(np.argmax(full[::-1]))
        for k in [*range(first), *range(last + 1, len(full))]:
            dropped.append(
                f"{where}the week of {g.index[k].date().isoformat()} "
                f"({int(g['_days'].iloc[k])} of 7 days)"
            )
        g = g.iloc[first : last + 1]
        short = np.flatnonzero(g["_days"].fillna(0).to_numpy() < 7)
        if short.size:
            k = int(short[0])
            raise DataError(
                f"{where}the week of {g.index[k].date().isoformat()} has data for "
                f"{int(g['_days'].iloc[k])} of its 7 days: fill the missing days "
                "(zero spend where nothing was spent) and aggregate again",
                path=path,
                field=DATE_COLUMN,
            )
        weeks = g.index.to_numpy()
        gaps = np.flatnonzero(np.diff(weeks).astype("timedelta64[D]").astype(int) != 7)
        if gaps.size:
            k = int(gaps[0])
            missing_week = (pd.Timestamp(weeks[k]) + pd.Timedelta(days=7)).date().isoformat()
            raise DataError(
                f"{where}there is no data for the week of {missing_week}",
                path=path,
                field=DATE_COLUMN,
            )
        g = g.reset_index()
        if market is not None:
            g.insert(0, MARKET_COLUMN, market)
        parts.append(g)
    out = pd.concat(parts, ignore_index=True)
    out.insert(0, DATE_COLUMN, out.pop("week").dt.strftime("%Y-%m-%d"))
    if by_market:
        out.insert(1, MARKET_COLUMN, out.pop(MARKET_COLUMN))
    order = [
        DATE_COLUMN,
        *market_keys,
        *cols,
        *[c for c in (*spec.kpis, *spec.controls, *spec.events) if c not in cols],
    ]
    out = out[list(dict.fromkeys(order))]
    _refuse_weeks_beyond_money(out, cols, path, by_market)
    return Weekly(out, spec.layout, days, int(chk["rows"]), tuple(dropped))


def _refuse_event_values(path: str | Path, spec: _Spec, chk: dict[str, Any]) -> None:
    """An event column is 0/1 (as in a weekly history, docs/file-formats.md): another value is
    an error naming the daily file, the column and the value, before anything is written (the
    weekly file's read-back would refuse it, naming the weekly file, left behind)."""
    for c in spec.events:
        n = int(chk["odd_events"][c])
        if n:
            lo, hi = float(chk["odd_min"][c]), float(chk["odd_max"][c])
            shown = f"{lo:g}" if lo == hi else f"{lo:g} to {hi:g}"
            raise DataError(
                f"an event is 0 or 1 (1 on the days it happens), got {shown} in {n:,} row(s)",
                path=path,
                field=c,
            )


def _refuse_weeks_beyond_money(
    out: pd.DataFrame, cols: list[str], path: Any, by_market: bool
) -> None:
    """A week's spend above ``MAX_MONEY`` (docs/cli.md's range of a history's weekly spend) is
    an error naming the daily file, the column and the week, before anything is written: the
    weekly file written first failed its read-back and was left behind, its error naming it."""
    for c in cols:
        v = out[c].to_numpy(dtype=float)
        if not (v > MAX_MONEY).any():
            continue
        k = int(np.flatnonzero(v > MAX_MONEY)[0])
        where = f"market {out[MARKET_COLUMN].iloc[k]!r}: " if by_market else ""
        raise DataError(
            f"{where}the week of {out[DATE_COLUMN].iloc[k]} sums to {v[k]:,.0f} of spend, more "
            f"than a history's weekly spend may be ({MAX_MONEY:,.0f})",
            path=path,
            field=c,
        )


def write_weekly(weekly: Weekly, out: str | Path) -> Path:
    """Write the weekly history CSV atomically (temporary file, then rename)."""
    return atomic_write_text(out, weekly.to_csv())


def check_weekly(path: str | Path, journey: Journey, by_market: bool) -> None:
    """Read the written weekly history back as ``fit`` will (a ``DataError`` if it would not)."""
    from optimizer.data import read_history, read_market_histories

    if by_market:
        read_market_histories(path, journey)
    else:
        read_history(path, journey)
