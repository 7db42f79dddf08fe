"""The plan's calendar (contract 7): weeks from ``start``, and the periods they fall in.

Pure date arithmetic, no other layer: the scenario validates period labels with it, the allocator
phases spend with it, ``track`` matches dated actuals to it.

Weeks run Monday..Sunday from ``start`` (a Monday). A week belongs to the month, and so the
quarter, of its Monday. Period labels: ``2027-01-04`` (the week of that Monday), ``2027-03``
(a month), ``2027-Q2`` (a quarter).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

PHASINGS = ("none", "week", "month", "quarter")
_WEEK = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")


def parse_date(value: object) -> dt.date:
    """An ISO date (a ``date``, or text ``YYYY-MM-DD``); ``ValueError`` with a reason otherwise."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and _WEEK.match(value.strip()):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError(f"expected an ISO date such as 2027-01-04, got {value!r}")


def month_label(d: dt.date) -> str:
    return f"{d.year:04d}-{d.month:02d}"


def quarter_label(d: dt.date) -> str:
    return f"{d.year:04d}-Q{(d.month - 1) // 3 + 1}"


def label_kind(label: str) -> str | None:
    """``week``, ``month`` or ``quarter`` for a well-formed period label; None otherwise."""
    s = str(label)
    if _WEEK.match(s):
        return "week"
    if _MONTH.match(s):
        return "month"
    if _QUARTER.match(s):
        return "quarter"
    return None


def week_of_year(d: dt.date) -> int:
    """The ISO week number of a Monday, 1..52 (week 53 counts as 52), for seasonal multipliers."""
    return min(d.isocalendar()[1], 52)


@dataclass(frozen=True)
class Period:
    label: str
    start: dt.date  # its first week's Monday
    weeks: tuple[int, ...]  # indices (0-based) of its weeks in the horizon

    @property
    def n_weeks(self) -> int:
        return len(self.weeks)


@dataclass(frozen=True)
class Calendar:
    """``weeks`` Mondays from ``start``, grouped into periods by ``phasing``."""

    start: dt.date
    weeks: int
    phasing: str = "none"

    def __post_init__(self) -> None:
        if self.start.weekday() != 0:
            raise ValueError(
                f"the plan starts on a Monday; {self.start.isoformat()} is a "
                f"{self.start.strftime('%A')}"
            )
        if self.phasing not in PHASINGS:
            raise ValueError(f"unknown phasing {self.phasing!r}; choose one of {PHASINGS}")

    @cached_property
    def mondays(self) -> tuple[dt.date, ...]:
        return tuple(self.start + dt.timedelta(weeks=t) for t in range(self.weeks))

    @property
    def end(self) -> dt.date:
        """The last day (a Sunday) of the horizon."""
        return self.start + dt.timedelta(weeks=self.weeks, days=-1)

    def label_of(self, t: int, kind: str) -> str:
        d = self.start + dt.timedelta(weeks=t)
        if kind == "week":
            return d.isoformat()
        if kind == "month":
            return month_label(d)
        if kind == "quarter":
            return quarter_label(d)
        return "horizon"

    def groups(self, kind: str) -> tuple[Period, ...]:
        """The horizon's weeks grouped by ``kind`` (week, month, quarter; none: one period)."""
        out: dict[str, list[int]] = {}
        for t in range(self.weeks):
            out.setdefault(self.label_of(t, kind), []).append(t)
        return tuple(Period(lab, self.mondays[ws[0]], tuple(ws)) for lab, ws in out.items())

    @cached_property
    def periods(self) -> tuple[Period, ...]:
        """The decision periods of the plan (one per week, month or quarter; one for none)."""
        return self.groups(self.phasing)

    @cached_property
    def period_of_week(self) -> tuple[int, ...]:
        idx = [0] * self.weeks
        for p, per in enumerate(self.periods):
            for t in per.weeks:
                idx[t] = p
        return tuple(idx)

    def weeks_of(self, label: str) -> tuple[int, ...]:
        """The horizon weeks a period label covers (empty when none: outside the horizon)."""
        kind = label_kind(label)
        if kind is None:
            return ()
        return tuple(t for t in range(self.weeks) if self.label_of(t, kind) == label)

    def labels(self, kind: str) -> list[str]:
        return [p.label for p in self.groups(kind)]

    def week_index(self, d: dt.date) -> int | None:
        """Index of the horizon week containing date ``d`` (None outside the horizon)."""
        days = (d - self.start).days
        if days < 0 or days >= 7 * self.weeks:
            return None
        return days // 7

    def woy(self) -> list[int]:
        """Week-of-year (1..52) of each week's Monday."""
        return [week_of_year(m) for m in self.mondays]

    def describe_label(self, label: str) -> str:
        kind = label_kind(label)
        ws = self.weeks_of(label)
        if not ws:
            return label
        return f"{label} ({kind}, {len(ws)} week{'s' if len(ws) != 1 else ''})"


def horizon_range_text(cal: Calendar) -> str:
    return f"{cal.start.isoformat()} to {cal.end.isoformat()}"


def nested_pairs(labels: Sequence[str]) -> list[tuple[str, str]]:
    """(coarse, fine) pairs of labels where the fine period lies inside the coarse one."""
    out = []
    for a in labels:
        for b in labels:
            if a == b:
                continue
            ka, kb = label_kind(a), label_kind(b)
            rank = {"quarter": 2, "month": 1, "week": 0}
            if ka is None or kb is None or rank[ka] <= rank[kb]:
                continue
            d = parse_date(b) if kb == "week" else None
            if kb == "month":
                y, m = (int(v) for v in b.split("-"))
                inside = quarter_label(dt.date(y, m, 1)) == a
            elif ka == "month":
                inside = month_label(d) == a  # type: ignore[arg-type]
            else:
                inside = quarter_label(d) == a  # type: ignore[arg-type]
            if inside:
                out.append((a, b))
    return out


def span(labels: Sequence[str], idx: Sequence[int]) -> str:
    """Periods by label, consecutive ones as a range: ``2026-01 to 2026-06, 2026-10`` (two in a
    row are listed: ``2026-01, 2026-02``)."""
    runs: list[list[int]] = []
    for k in sorted(idx):
        if runs and k == runs[-1][-1] + 1:
            runs[-1].append(k)
        else:
            runs.append([k])
    out = []
    for r in runs:
        if len(r) == 1:
            out.append(labels[r[0]])
        elif len(r) == 2:
            out.append(f"{labels[r[0]]}, {labels[r[1]]}")
        else:
            out.append(f"{labels[r[0]]} to {labels[r[-1]]}")
    return ", ".join(out)
