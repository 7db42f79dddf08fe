"""Lift tests: the calibration file (CSV, one experiment per row) read against a history."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from optimizer.errors import DataError
from optimizer.formatting import did_you_mean
from optimizer.io.files import read_csv_strings, short_repr
from optimizer.io.history import History

if TYPE_CHECKING:
    pass

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
    import pandas as pd

    path = Path(path)
    df = read_csv_strings(path, "calibration", csv=history.journey.csv)
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
                f"unknown column {short_repr(c)}{did_you_mean(c, allowed)}; columns are "
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
            shown = "missing" if tp == "" else f"{short_repr(tp)}, not a touchpoint of the journey"
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
                desc = "missing" if v == "" else f"not an ISO date (YYYY-MM-DD): {short_repr(v)}"
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
                desc = "missing" if v == "" else f"not a finite number: {short_repr(v)}"
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
            weekly = history.frame[tid].to_numpy(dtype=float)[idx["start"] : idx["end"] + 1]
            lowest = float(weekly.min())
            if lowest + nums["spend_delta"] / n_w < -1e-9 * max(1.0, float(weekly.max())):
                raise DataError(
                    f"row {row}: spend_delta {cell['spend_delta']} spread over {n_w} week(s) "
                    f"takes {short_repr(tid)}'s spend below zero (its lowest weekly spend in those weeks "
                    f"is {lowest:g})",
                    path=path,
                    field="spend_delta",
                )
        kpi = cell.get("kpi", "")
        if kpi and kpi not in kpi_ids:
            raise DataError(
                f"row {row}: unknown KPI {short_repr(kpi)}{did_you_mean(kpi, kpi_ids)}; KPIs "
                f"are: {', '.join(k.id for k in journey.all_kpis)}",
                path=path,
                field="kpi",
            )
        test = LiftTest(
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

        # a row pasted twice would count one experiment twice: the same test (weeks by index,
        # however their dates are written), whatever its row
        def key(t: LiftTest) -> LiftTest:
            return replace(t, start="", end="", row=0)

        same = next((t for t in out if key(t) == key(test)), None)
        if same is not None:
            raise DataError(
                f"row {row}: the same lift test as row {same.row} (touchpoint {tid!r}, "
                f"{cell['start']} to {cell['end']}, the same numbers): give each test once",
                path=path,
                field="touchpoint",
            )
        out.append(test)
    return tuple(out)
