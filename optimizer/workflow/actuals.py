"""Actual spend to date (``ACTUALS_CSV``): columns ``date,touchpoint,spend``, one row per
touchpoint and week (several rows for the same week and touchpoint are added up; ISO dates, whole
weeks apart) or per month (every date the 1st of its month: spread over the weeks whose Monday is in
the month); over a markets index, with a ``market`` column (``read_market_actuals``)."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from optimizer.errors import DataError
from optimizer.io.dialect import CsvSettings
from optimizer.io.spend_tables import ROWS_COLUMNS, read_spend_rows
from optimizer.vocabulary import DATE_COLUMN, SPEND_COLUMN, TOUCHPOINT_COLUMN

if TYPE_CHECKING:
    import pandas as pd

ACTUALS_COLUMNS = ROWS_COLUMNS


# ------------------------------------------------------------------------------------------------
# actuals
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Actuals:
    """Actual spend to date, per touchpoint and week (or month)."""

    source: str
    first: _dt.date  # the first week with actuals (monthly: the first Monday of the first month)
    last: _dt.date  # the last week with actuals (monthly: the last Monday of the last month)
    weekly: pd.DataFrame  # index: week number from 1 (from ``first``); columns: touchpoints
    #: the rows as read (date, touchpoint, spend), for matching to a dated plan by date
    rows: tuple[tuple[_dt.date, str, float], ...] = ()
    frequency: str = "week"  # week | month
    #: how the frequency was guessed, when the dates read either way (one date, the 1st)
    note: str = ""

    @property
    def weeks(self) -> int:
        """Weeks from the first to the last date, both included."""
        return (self.last - self.first).days // 7 + 1

    @property
    def spend(self) -> dict[str, float]:
        """Total spend to date per touchpoint."""
        return {str(k): float(v) for k, v in self.weekly.sum(axis=0).items()}

    @property
    def total(self) -> float:
        return float(round(sum(self.spend.values()), 2))

    def on_weeks(self, origin: _dt.date) -> tuple[dict[str, dict[int, float]], set[int]]:
        """Spend per touchpoint per week counted from ``origin`` (negative: before it), and the
        weeks that have rows (see ``optimizer.workflow.dated``)."""
        from optimizer.workflow.dated import on_weeks

        return on_weeks(self.rows, self.frequency, origin)

    def straddling(self, origin: _dt.date) -> str:
        """Monthly actuals of a month that begins before ``origin`` (a plan from mid-December):
        words saying that its spend is spread over all the month's weeks, some before ``origin``
        (``""`` when none is). A planner reporting the plan's December alone read every line
        item 25% under plan, with nothing but 'dated before the plan's first week' to say why."""
        if self.frequency != "month":
            return ""
        from optimizer.workflow.dated import mondays_of_month

        for d in sorted({d for d, _t, _v in self.rows}):
            mondays = mondays_of_month(d.year, d.month)
            gone = sum(m < origin for m in mondays)
            if 0 < gone < len(mondays):
                return (
                    f"; a monthly row is spread over all its month's weeks: {gone} of "
                    f"{d:%B %Y}'s {len(mondays)} are before {origin.isoformat()} (the spend of "
                    "the weeks from then alone is given as weekly rows)"
                )
        return ""

    @property
    def missing(self) -> list[int]:
        """Weeks (numbered from 1) between the first and the last with no row at all."""
        _spend, reported = self.on_weeks(self.first)
        return [k + 1 for k in range(self.weeks) if k not in reported]


#: a dated plan's (or scenario's) calendar: its first Monday and its weeks
PlanCalendar = tuple[_dt.date, int]


def _frequency(
    path: Path,
    dates: Sequence[_dt.date],
    frequency: str | None = None,
    calendar: PlanCalendar | None = None,
) -> tuple[str, str]:
    """The actuals' frequency, and a note when it was a guess.

    ``frequency`` (``--frequency``) is what the user said: ``month`` needs every date the 1st.
    Told from the dates, it is ``month`` when every date is the 1st of a month (two or more dates,
    all the 1st, are months even when each is a Monday, as February and March 2027 start: as
    weeks they would be weeks apart with every week between them missing), ``week`` otherwise.
    One date that is the 1st reads either way (a week dated by the Sunday that ends it, or a
    month): on a dated plan's ``calendar`` the reading that falls in the plan's weeks where the
    other does not, or that is the plan's first week (the 1st is then the Sunday that ends it,
    and as a month that week would be missing); without one, or where both fit, a month unless
    the date is a Monday. The reading is said in the note, with the ``--frequency`` that reads
    the other way (a re-plan tracked with the week before its start read it as a month, with no
    word)."""
    if frequency == "month":
        for k, d in enumerate(dates, start=2):
            if d.day != 1:
                raise DataError(
                    f"{d.isoformat()} in row {k} is not the 1st of its month: with --frequency "
                    "month each row is a month's spend, dated the 1st",
                    path=path,
                    field="date",
                )
        return "month", ""
    if frequency == "week" or not all(d.day == 1 for d in dates):
        return "week", ""
    if len(set(dates)) > 1:
        return "month", ""
    from optimizer.workflow.dated import mondays_of_month, week_of

    d = dates[0]
    guess, why = ("week", "a Monday") if d.weekday() == 0 else ("month", "not a Monday")
    week = f"one week's spend (from {d.isoformat()})"
    if calendar is not None:
        origin, horizon = calendar
        k = week_of(d, origin)
        ks = [week_of(m, origin) for m in mondays_of_month(d.year, d.month)]
        fits = {"week": 0 <= k < horizon, "month": ks[-1] >= 0 and ks[-1] < horizon}
        monday = origin + _dt.timedelta(weeks=k)
        week = f"the week {monday.isoformat()} to {monday + _dt.timedelta(days=6)}"
        if fits["week"] != fits["month"]:  # the other reading falls outside the plan's weeks
            guess = "week" if fits["week"] else "month"
            why = f"only as a {guess} does it fall in the plan's weeks"
        elif fits["week"] and k == 0 and ks[0] > 0 and d == monday + _dt.timedelta(days=6):
            # the Sunday that ends the plan's first week (a 1st on another weekday of that week,
            # July's monthly row dated 2027-07-01 on a plan from 2027-06-28, is the month: read
            # as the first week it was "+142% over" and the re-plan spent July again)
            guess, why = "week", "the plan's first week; as a month that week would be missing"
    month = f"{d:%B %Y} (spread over the weeks whose Monday is in it)"
    other = "month" if guess == "week" else "week"
    return guess, (
        f"{d.isoformat()}, the actuals' one date, is the 1st of its month: read as "
        f"{week if guess == 'week' else month} ({why}); --frequency {other} reads it as "
        f"{week if other == 'week' else month}"
    )


def read_actuals(
    path: str | Path,
    ids: Sequence[str] | None = None,
    csv: CsvSettings | None = None,
    *,
    frequency: str | None = None,
    calendar: PlanCalendar | None = None,
) -> Actuals:
    """Read and validate an actuals CSV (see the module docstring): the rows by the one reader of
    spend tables (``optimizer.io.spend_tables``), then whole weeks from the first date, or
    months (every date the 1st of its month).

    ``ids`` are the touchpoints the plan or model knows; any other is an error with a "did you
    mean …?". ``frequency`` (week | month; None: told from the dates) and ``calendar`` (a dated
    plan's first Monday and weeks) as ``_frequency`` takes them. Every problem raises
    ``DataError`` naming the file, the row and the value.
    """

    path = Path(path)
    rows = read_spend_rows(path, what="actuals", ids=ids, csv=csv)
    if rows.empty:
        raise DataError("has no rows: expected one row per touchpoint and week", path=path)
    known = list(ids) if ids is not None else None
    triples = tuple(
        (d, str(t), float(v))
        for d, t, v in zip(
            rows[DATE_COLUMN], rows[TOUCHPOINT_COLUMN], rows[SPEND_COLUMN], strict=True
        )
    )
    return _actuals(path, triples, known, frequency, calendar)


def read_market_actuals(
    path: str | Path,
    ids: Sequence[str],
    markets: Sequence[str],
    national: Sequence[str] = (),
    *,
    frequency: str | None = None,
    calendar: PlanCalendar | None = None,
) -> Actuals:
    """Actuals over a markets index (contract 8): a file with a ``market`` column, in the layouts
    of a ``carryover.before`` file over markets (long ``date,market,touchpoint,spend`` or the wide
    history layout; ``optimizer.io.spend_tables.read_weekly_spend_by_market``), keyed by the plan's
    line items: ``touchpoint@market``, and ``touchpoint@national`` for a national buy (its rows
    marked ``national`` and any it has in one market). A touchpoint the plan lacks, a missing or
    unknown market, national spend of a touchpoint bought per market: ``DataError`` naming the
    file, the field, the row and the value."""
    from optimizer.io.spend_tables import read_weekly_spend_by_market
    from optimizer.vocabulary import MARKET_COLUMN

    path = Path(path)
    head = read_spend_rows(path, what="actuals", ids=ids) if _is_long(path) else None
    if head is not None and head.empty:
        raise DataError("has no rows: expected one row per touchpoint, market and week", path=path)
    spend = read_weekly_spend_by_market(path, ids, markets, national, what="actuals")
    nat = set(national)
    triples = []
    for (tid, m), by in spend.items():
        key = f"{tid}@national" if tid in nat else f"{tid}@{m}"
        triples += [(d, key, float(v)) for d, v in by.items()]
    if not triples:
        raise DataError(
            f"has no spend of the plan's touchpoints ({', '.join(ids)}) by {MARKET_COLUMN}",
            path=path,
        )
    triples.sort()
    return _actuals(path, tuple(triples), None, frequency, calendar)


def _is_long(path: Path) -> bool:
    """The file has a ``touchpoint`` column (rows), rather than one column per touchpoint."""
    from optimizer.io.files import read_csv_strings

    return TOUCHPOINT_COLUMN in read_csv_strings(path, "actuals", DataError).columns


def _actuals(
    path: Path,
    triples: tuple[tuple[_dt.date, str, float], ...],
    known: list[str] | None,
    said: str | None = None,
    calendar: PlanCalendar | None = None,
) -> Actuals:
    """Whole weeks (or months) from the first date of the rows ``triples``."""
    import pandas as pd

    from optimizer.workflow.dated import mondays_of_month

    dates = [d for d, _t, _v in triples]
    frequency, note = _frequency(path, dates, said, calendar)
    if frequency == "month":
        first = mondays_of_month(min(dates).year, min(dates).month)[0]
        last = mondays_of_month(max(dates).year, max(dates).month)[-1]
    else:
        first, last = min(dates), max(dates)
        for k, d in enumerate(dates, start=2):
            if (d - first).days % 7:
                raise DataError(
                    f"{d.isoformat()} in row {k} is not a whole number of weeks after the "
                    f"first date ({first.isoformat()}): actuals are weekly (or monthly, every "
                    "date the 1st of its month)",
                    path=path,
                    field="date",
                )
    from optimizer.workflow.dated import on_weeks

    by_tp, _reported = on_weeks(triples, frequency, first)
    n = (last - first).days // 7 + 1
    weekly = pd.DataFrame(
        {t: [by_tp[t].get(k, 0.0) for k in range(n)] for t in by_tp}, index=range(1, n + 1)
    )
    weekly.index.name = "week"
    if known is not None:
        weekly = weekly.reindex(columns=known, fill_value=0.0)
    return Actuals(str(path), first, last, weekly.astype(float), triples, frequency, note)
