"""Read and validate the journey (contract 1) and history (contract 2) files."""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from optimizer.errors import DataError
from optimizer.formatting import did_you_mean
from optimizer.vocabulary import DATE_COLUMN, MARKET_COLUMN, SPEND_COLUMN, STAGES, TOUCHPOINT_COLUMN

# ------------------------------------------------------------------------------------------------
# YAML
# ------------------------------------------------------------------------------------------------


def load_yaml(path: str | Path, error: type[Exception] = DataError) -> Any:
    """Parse a YAML file, turning every failure into ``error`` naming the file and position."""
    path = Path(path)
    if not path.exists():
        raise error("the file does not exist", path=path)  # type: ignore[call-arg]
    if path.is_dir():
        raise error("expected a file, got a folder", path=path)  # type: ignore[call-arg]
    text = path.read_text(encoding="utf-8", errors="replace")
    if not text.strip():
        raise error("the file is empty", path=path)  # type: ignore[call-arg]
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise error(f"YAML syntax error{where}: {problem}", path=path) from None  # type: ignore[call-arg]


# ------------------------------------------------------------------------------------------------
# journey
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TouchpointSpec:
    id: str
    stage: str
    spend_column: str
    owner: str | None = None
    label: str | None = None


@dataclass(frozen=True)
class KpiSpec:
    id: str
    column: str
    value: float | None = None  # money per unit, when KPIs are combined


@dataclass(frozen=True)
class Journey:
    kpi: str
    touchpoints: tuple[TouchpointSpec, ...]
    stages: tuple[str, ...] = STAGES
    kpis: tuple[KpiSpec, ...] = ()
    controls: tuple[str, ...] = ()
    events: tuple[str, ...] = ()
    source: str | None = None

    @property
    def ids(self) -> list[str]:
        return [t.id for t in self.touchpoints]

    def touchpoint(self, tid: str) -> TouchpointSpec:
        for t in self.touchpoints:
            if t.id == tid:
                return t
        raise KeyError(tid)

    @property
    def all_kpis(self) -> tuple[KpiSpec, ...]:
        """The main KPI first, then the others listed under ``kpis``."""
        main = KpiSpec(self.kpi, self.kpi)
        rest = tuple(k for k in self.kpis if k.id != self.kpi)
        return (main, *rest)


_JOURNEY_KEYS = {"kpi", "kpis", "controls", "events", "stages", "touchpoints", "name", "currency"}
_TP_KEYS = {"id", "stage", "spend_column", "owner", "label"}


def journey_from_dict(data: Any, source: str | None = None) -> Journey:
    path = source
    if not isinstance(data, Mapping):
        raise DataError(
            f"expected a mapping at the top level, got {type(data).__name__}", path=path
        )
    for key in data:
        if key not in _JOURNEY_KEYS:
            raise DataError(
                f"unknown key {key!r}{did_you_mean(str(key), _JOURNEY_KEYS)}",
                path=path,
                field=str(key),
            )
    kpi = data.get("kpi")
    if not isinstance(kpi, str) or not kpi.strip():
        raise DataError(f"expected the name of the KPI column, got {kpi!r}", path=path, field="kpi")
    stages_raw = data.get("stages", list(STAGES))
    if (
        not isinstance(stages_raw, list)
        or not stages_raw
        or not all(isinstance(s, str) and s for s in stages_raw)
    ):
        raise DataError(
            f"expected a list of stage names, got {stages_raw!r}", path=path, field="stages"
        )
    if len(set(stages_raw)) != len(stages_raw):
        dup = next(s for s in stages_raw if stages_raw.count(s) > 1)
        raise DataError(f"stage {dup!r} is listed twice", path=path, field="stages")
    stages = tuple(stages_raw)
    tps_raw = data.get("touchpoints")
    if not isinstance(tps_raw, list) or not tps_raw:
        raise DataError(
            f"expected a non-empty list of touchpoints, got {tps_raw!r}",
            path=path,
            field="touchpoints",
        )
    tps: list[TouchpointSpec] = []
    seen: set[str] = set()
    for i, t in enumerate(tps_raw):
        where = f"touchpoints[{i}]"
        if not isinstance(t, Mapping):
            raise DataError(
                f"expected a mapping like {{id: tv, stage: awareness}}, got {t!r}",
                path=path,
                field=where,
            )
        for key in t:
            if key not in _TP_KEYS:
                raise DataError(
                    f"unknown key {key!r}{did_you_mean(str(key), _TP_KEYS)}",
                    path=path,
                    field=f"{where}.{key}",
                )
        tid = t.get("id")
        if not isinstance(tid, str) or not tid:
            raise DataError(
                f"expected a touchpoint id, got {tid!r}", path=path, field=f"{where}.id"
            )
        if tid in seen:
            raise DataError(f"touchpoint {tid!r} is listed twice", path=path, field=f"{where}.id")
        seen.add(tid)
        stage = t.get("stage")
        if stage not in stages:
            raise DataError(
                f"unknown stage {stage!r}{did_you_mean(str(stage), stages)}",
                path=path,
                field=f"{where}.stage",
            )
        col = t.get("spend_column", tid)
        if not isinstance(col, str) or not col:
            raise DataError(
                f"expected a column name, got {col!r}", path=path, field=f"{where}.spend_column"
            )
        tps.append(TouchpointSpec(tid, stage, col, t.get("owner"), t.get("label")))
    kpis: list[KpiSpec] = []
    for i, k in enumerate(data.get("kpis") or []):
        where = f"kpis[{i}]"
        if not isinstance(k, Mapping) or not isinstance(k.get("id"), str):
            raise DataError(
                f"expected a mapping like {{id: leads, column: leads}}, got {k!r}",
                path=path,
                field=where,
            )
        value = k.get("value")
        if value is not None and (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
            or value < 0
        ):
            raise DataError(
                f"expected a non-negative money value per unit, got {value!r}",
                path=path,
                field=f"{where}.value",
            )
        kpis.append(
            KpiSpec(k["id"], str(k.get("column", k["id"])), None if value is None else float(value))
        )
    controls = data.get("controls") or []
    events = data.get("events") or []
    for name, lst in (("controls", controls), ("events", events)):
        if not isinstance(lst, list) or not all(isinstance(c, str) for c in lst):
            raise DataError(f"expected a list of column names, got {lst!r}", path=path, field=name)
    return Journey(
        kpi=kpi,
        touchpoints=tuple(tps),
        stages=stages,
        kpis=tuple(kpis),
        controls=tuple(controls),
        events=tuple(events),
        source=source,
    )


def read_journey(path: str | Path) -> Journey:
    """Read and validate ``journey.yaml``."""
    data = load_yaml(path, DataError)
    return journey_from_dict(data, source=str(path))


# ------------------------------------------------------------------------------------------------
# history
# ------------------------------------------------------------------------------------------------


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


def _read_csv_text(path: Path, what: str) -> pd.DataFrame:
    """A CSV file as strings (nothing parsed yet), with clear errors for a missing, empty or
    unreadable ``what`` file (``"history"``, ``"calibration"``)."""
    if not path.exists():
        raise DataError(f"the {what} file does not exist", path=path)
    if path.is_dir():
        raise DataError("expected a CSV file, got a folder", path=path)
    raw = path.read_bytes()
    if not raw.strip():
        raise DataError(f"the {what} file is empty", path=path)
    try:
        df = pd.read_csv(io.BytesIO(raw), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise DataError(f"cannot be read as CSV: {str(e).splitlines()[0]}", path=path) from None
    df.columns = [str(c).strip() for c in df.columns]
    return df


def _read_table(path: Path) -> pd.DataFrame:
    df = _read_csv_text(path, "history")
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
) -> pd.Series:
    raw = df[col].astype(str).str.strip()
    values = pd.to_numeric(raw.replace({"": None}), errors="coerce")
    bad = values.isna() | ~np.isfinite(values.fillna(0.0))
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        shown = raw.iloc[i]
        desc = "missing" if shown == "" else f"not a number: {shown!r}"
        raise DataError(
            f"{what} is {desc} in row {_line(lines, i)} (week {dates.iloc[i]})",
            path=path,
            field=col,
        )
    if non_negative and (values < 0).any():
        i = int(np.flatnonzero((values < 0).to_numpy())[0])
        raise DataError(
            f"{what} must not be negative, got {raw.iloc[i]} in row {_line(lines, i)} "
            f"(week {dates.iloc[i]})",
            path=path,
            field=col,
        )
    return values.astype(float)


def _line(lines: np.ndarray | None, i: int) -> int:
    """The file's row number (the header is row 1) of the frame's ``i``-th row."""
    return int(lines[i]) if lines is not None else i + 2


def read_history(path: str | Path, journey: Journey, *, min_weeks: int = 1) -> History:
    """Read ``history.csv`` (wide: one spend column per touchpoint; or long: date,touchpoint,spend).

    Checks: a ``date`` column of ISO dates, one per week, no duplicates or gaps; every spend
    column the journey names, numeric and non-negative; the KPI column(s) numeric and complete;
    at least ``min_weeks`` rows. A ``market`` column holding a single market is ignored; with
    several markets, use ``read_market_histories`` (one history per market).
    """
    path = Path(path)
    df = _read_table(path)
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
    return _history_from_table(df, path, journey, min_weeks=min_weeks)


def has_markets(path: str | Path) -> bool:
    """Whether a history CSV's header has a ``market`` column (False when it cannot be read)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            header = fh.readline()
    except OSError:
        return False
    return MARKET_COLUMN in [c.strip().strip('"') for c in header.strip().split(",")]


def _market_names(df: pd.DataFrame) -> list[str]:
    return sorted(set(df[MARKET_COLUMN].astype(str).str.strip()))


def read_market_histories(
    path: str | Path, journey: Journey, *, min_weeks: int = 1
) -> dict[str, History]:
    """One weekly history per market of a history file with a ``market`` column (wide or long
    layout, the rows of the markets in any order), sorted by market name. Each market's rows are
    checked as ``read_history`` checks a file; errors name the market and the file's row."""
    path = Path(path)
    df = _read_table(path)
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
    for market in sorted(set(names)):
        mask = (names == market).to_numpy()
        sub = df.loc[mask].drop(columns=[MARKET_COLUMN]).reset_index(drop=True)
        lines = np.flatnonzero(mask) + 2
        try:
            h = _history_from_table(sub, path, journey, min_weeks=min_weeks, lines=lines)
        except DataError as e:
            raise DataError(f"market {market!r}: {_strip_path(str(e), path)}", path=path) from None
        out[market] = History(
            frame=h.frame, journey=journey, source=str(path), meta={"market": market}
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
    if DATE_COLUMN not in df.columns:
        raise DataError(
            f"there is no '{DATE_COLUMN}' column{did_you_mean(DATE_COLUMN, df.columns)}; "
            f"columns are: {', '.join(df.columns)}",
            path=path,
            field=DATE_COLUMN,
        )
    if TOUCHPOINT_COLUMN in df.columns and SPEND_COLUMN in df.columns:
        df = _long_to_wide(df, path, journey, lines)
        lines = None  # one row per week now, not the file's rows
    raw_dates = df[DATE_COLUMN].astype(str).str.strip()
    dates = pd.to_datetime(raw_dates, format="ISO8601", errors="coerce")
    if dates.isna().any():
        i = int(np.flatnonzero(dates.isna().to_numpy())[0])
        shown = raw_dates.iloc[i]
        desc = "missing" if shown == "" else f"not an ISO date (YYYY-MM-DD): {shown!r}"
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
    df = df.iloc[order].reset_index(drop=True)
    dates = dates.iloc[order].reset_index(drop=True)
    raw_dates = raw_dates.iloc[order].reset_index(drop=True)
    if len(dates) > 1:
        gaps = dates.diff().dt.days.iloc[1:]
        off = gaps != 7
        if off.any():
            j = int(np.flatnonzero(off.to_numpy())[0]) + 1
            g = int(gaps.iloc[j - 1])
            what = "a missing week" if g > 7 and g % 7 == 0 else f"{g} days, not one week"
            raise DataError(
                f"dates must be one week apart; between {raw_dates.iloc[j - 1]} and "
                f"{raw_dates.iloc[j]} there are {g} days ({what})",
                path=path,
                field=DATE_COLUMN,
            )
    if len(df) < min_weeks:
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
                f"the journey's touchpoint {t.id!r} needs spend column {t.spend_column!r}, which "
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
                f"there is no KPI column {k.column!r}{did_you_mean(k.column, df.columns)}",
                path=path,
                field=k.column,
            )
        out[k.column] = _numeric(
            df, k.column, path, shown_dates, non_negative=False, what="the KPI", lines=lines
        ).to_numpy()
    for c in (*journey.controls, *journey.events):
        if c not in df.columns:
            raise DataError(
                f"there is no control column {c!r}{did_you_mean(c, df.columns)}", path=path, field=c
            )
        out[c] = _numeric(
            df, c, path, shown_dates, non_negative=False, what="the control", lines=lines
        ).to_numpy()
    return History(frame=out, journey=journey, source=str(path))


def _long_to_wide(
    df: pd.DataFrame, path: Path, journey: Journey, lines: np.ndarray | None = None
) -> pd.DataFrame:
    """Pivot a long history (``date,touchpoint,spend`` plus per-week KPI columns) to wide."""
    known = {t.spend_column for t in journey.touchpoints} | {t.id for t in journey.touchpoints}
    unknown = sorted(set(df[TOUCHPOINT_COLUMN]) - known)
    if unknown:
        raise DataError(
            f"unknown touchpoint {unknown[0]!r}{did_you_mean(unknown[0], sorted(known))}",
            path=path,
            field=TOUCHPOINT_COLUMN,
        )
    spend = pd.to_numeric(df[SPEND_COLUMN], errors="coerce")
    if spend.isna().any():
        i = int(np.flatnonzero(spend.isna().to_numpy())[0])
        raise DataError(
            f"spend is not a number: {df[SPEND_COLUMN].iloc[i]!r} in row {_line(lines, i)}",
            path=path,
            field=SPEND_COLUMN,
        )
    if df.duplicated([DATE_COLUMN, TOUCHPOINT_COLUMN]).any():
        i = int(np.flatnonzero(df.duplicated([DATE_COLUMN, TOUCHPOINT_COLUMN]).to_numpy())[0])
        raise DataError(
            f"week {df[DATE_COLUMN].iloc[i]} has touchpoint {df[TOUCHPOINT_COLUMN].iloc[i]!r} twice",
            path=path,
            field=TOUCHPOINT_COLUMN,
        )
    wide = (
        df.assign(**{SPEND_COLUMN: spend})
        .pivot(index=DATE_COLUMN, columns=TOUCHPOINT_COLUMN, values=SPEND_COLUMN)
        .fillna(0.0)
    )
    others = [c for c in df.columns if c not in (TOUCHPOINT_COLUMN, SPEND_COLUMN, DATE_COLUMN)]
    per_week = df.groupby(DATE_COLUMN)[others].first() if others else None
    out = wide.astype(str)
    if per_week is not None:
        out = out.join(per_week)
    return out.reset_index()


# ------------------------------------------------------------------------------------------------
# calibration: lift tests
# ------------------------------------------------------------------------------------------------

#: Columns of a calibration file (``kpi`` may be left out).
CALIBRATION_COLUMNS = ("touchpoint", "start", "end", "spend_delta", "kpi_lift", "kpi_lift_se")


@dataclass(frozen=True)
class LiftTest:
    """One experiment: over the weeks ``start``..``end`` (indices ``first``..``last`` of the
    history) the touchpoint's spend was raised by ``spend_delta`` in total, spread evenly over
    those weeks, and the measured incremental KPI was ``kpi_lift`` (standard error
    ``kpi_lift_se``). ``kpi`` (a journey KPI id) is None when the test measured the main KPI."""

    touchpoint: str
    start: str
    end: str
    first: int
    last: int
    spend_delta: float
    kpi_lift: float
    kpi_lift_se: float
    kpi: str | None = None
    row: int = 0

    @property
    def weeks(self) -> int:
        return self.last - self.first + 1

    def delta(self, n_weeks: int) -> np.ndarray:
        """Extra spend per week of a history of ``n_weeks`` weeks."""
        d = np.zeros(n_weeks)
        d[self.first : self.last + 1] = self.spend_delta / self.weeks
        return d

    def to_dict(self) -> dict[str, Any]:
        return {
            "touchpoint": self.touchpoint,
            "start": self.start,
            "end": self.end,
            "spend_delta": self.spend_delta,
            "kpi_lift": self.kpi_lift,
            "kpi_lift_se": self.kpi_lift_se,
            "kpi": self.kpi,
            "row": self.row,
        }


def read_calibration(path: str | Path, history: History) -> tuple[LiftTest, ...]:
    """Read and validate a calibration file of lift tests (CSV, one row per experiment).

    Columns: ``touchpoint, start, end, spend_delta, kpi_lift, kpi_lift_se`` and optionally
    ``kpi``. Checks: every column present and no unknown ones; a touchpoint of the journey (its id
    or spend column); ``start`` and ``end`` ISO dates that are weeks of the history, ``start`` not
    after ``end``; ``spend_delta`` a non-zero number that leaves the spend non-negative in every
    test week; ``kpi_lift`` a number; ``kpi_lift_se`` a number > 0; ``kpi`` empty or a KPI of the
    journey. Errors name the file, the row (the header is row 1), the field and the value.
    """
    path = Path(path)
    df = _read_csv_text(path, "calibration")
    allowed = (*CALIBRATION_COLUMNS, "kpi")
    for c in CALIBRATION_COLUMNS:
        if c not in df.columns:
            raise DataError(
                f"there is no '{c}' column{did_you_mean(c, df.columns)}; a calibration file "
                f"needs columns {', '.join(CALIBRATION_COLUMNS)} (and optionally kpi)",
                path=path,
                field=c,
            )
    for c in df.columns:
        if c not in allowed:
            raise DataError(
                f"unknown column {c!r}{did_you_mean(c, allowed)}; columns are "
                f"{', '.join(CALIBRATION_COLUMNS)} and optionally kpi",
                path=path,
                field=c,
            )
    if df.empty:
        raise DataError("the calibration file has a header but no lift tests", path=path)
    journey = history.journey
    by_name = {t.id: t.id for t in journey.touchpoints}
    by_name.update(
        {t.spend_column: t.id for t in journey.touchpoints if t.spend_column not in by_name}
    )
    kpi_ids = {k.id: k.id for k in journey.all_kpis}
    kpi_ids.update({k.column: k.id for k in journey.all_kpis if k.column not in kpi_ids})
    weeks = pd.DatetimeIndex(history.frame.index)
    first_week, last_week = weeks[0].date().isoformat(), weeks[-1].date().isoformat()
    pos = {w: i for i, w in enumerate(weeks)}
    out: list[LiftTest] = []
    for r in range(len(df)):
        row = r + 2
        cell = {c: str(df[c].iloc[r]).strip() for c in df.columns}
        tp = cell["touchpoint"]
        if tp not in by_name:
            shown = "missing" if tp == "" else f"{tp!r}, not a touchpoint of the journey"
            raise DataError(
                f"row {row}: the touchpoint is {shown}{did_you_mean(tp, by_name)}; "
                f"touchpoints are: {', '.join(journey.ids)}",
                path=path,
                field="touchpoint",
            )
        tid = by_name[tp]
        idx: dict[str, int] = {}
        for c in ("start", "end"):
            v = cell[c]
            d = pd.to_datetime(v, format="ISO8601", errors="coerce") if v else pd.NaT
            if pd.isna(d):
                desc = "missing" if v == "" else f"not an ISO date (YYYY-MM-DD): {v!r}"
                raise DataError(f"row {row}: the {c} date is {desc}", path=path, field=c)
            if d not in pos:
                where = (
                    "outside the history"
                    if d < weeks[0] or d > weeks[-1]
                    else "not one of the history's weeks"
                )
                raise DataError(
                    f"row {row}: {c} {v} is {where} (weeks {first_week} to "
                    f"{last_week}, every 7 days)",
                    path=path,
                    field=c,
                )
            idx[c] = pos[d]
        if idx["start"] > idx["end"]:
            raise DataError(
                f"row {row}: start {cell['start']} is after end {cell['end']}",
                path=path,
                field="start",
            )
        nums: dict[str, float] = {}
        for c in ("spend_delta", "kpi_lift", "kpi_lift_se"):
            v = cell[c]
            try:
                x = float(v) if v else math.nan
            except ValueError:
                x = math.nan
            if not math.isfinite(x):
                desc = "missing" if v == "" else f"not a finite number: {v!r}"
                raise DataError(f"row {row}: {c} is {desc}", path=path, field=c)
            nums[c] = x
        if nums["kpi_lift_se"] <= 0:
            raise DataError(
                f"row {row}: the standard error must be > 0, got {cell['kpi_lift_se']}",
                path=path,
                field="kpi_lift_se",
            )
        if nums["spend_delta"] == 0:
            raise DataError(
                f"row {row}: spend_delta is 0: a test must change the spend",
                path=path,
                field="spend_delta",
            )
        n_w = idx["end"] - idx["start"] + 1
        if nums["spend_delta"] < 0:
            x = history.frame[tid].to_numpy(dtype=float)[idx["start"] : idx["end"] + 1]
            if float(x.min()) + nums["spend_delta"] / n_w < -1e-9 * max(1.0, float(x.max())):
                raise DataError(
                    f"row {row}: spend_delta {cell['spend_delta']} spread over {n_w} week(s) "
                    f"takes {tid!r}'s spend below zero (its lowest weekly spend in those weeks "
                    f"is {float(x.min()):g})",
                    path=path,
                    field="spend_delta",
                )
        kpi = cell.get("kpi", "")
        if kpi and kpi not in kpi_ids:
            raise DataError(
                f"row {row}: unknown KPI {kpi!r}{did_you_mean(kpi, kpi_ids)}; KPIs "
                f"are: {', '.join(k.id for k in journey.all_kpis)}",
                path=path,
                field="kpi",
            )
        out.append(
            LiftTest(
                tid,
                cell["start"],
                cell["end"],
                idx["start"],
                idx["end"],
                nums["spend_delta"],
                nums["kpi_lift"],
                nums["kpi_lift_se"],
                kpi_ids[kpi] if kpi else None,
                row,
            )
        )
    return tuple(out)
