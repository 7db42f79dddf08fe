"""A line of budgetary control (``track``): a line item's, a stage's, a market's, an owner's or
the total's spend against the plan to date, its variance and its status (``workflow.control``
builds them)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TrackLine:
    """One line item (or stage, or the total) against the plan to date."""

    id: str
    stage: str
    planned: float  # over the whole horizon
    planned_to_date: float
    actual: float
    variance: float  # actual - planned to date
    variance_pct: float | None  # variance / planned to date (None when nothing was planned)
    status: str  # on plan | over | under | unplanned | not started | –
    projected_spend: float  # at the current run-rate, over the whole horizon
    planned_kpi: float | None  # on the model, the plan's spend
    projected_kpi: float | None  # on the model, the projected spend
    market: str | None = None  # over markets: a line item's market (``national``: a national buy)
    owner: str | None = None  # over markets: who holds its budget

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        for k in ("market", "owner"):  # only over markets (contract 8)
            if d[k] is None:
                del d[k]
        return d


def _status(planned_to_date: float, actual: float, band: float) -> tuple[float | None, str]:
    if planned_to_date <= 0.005:
        return None, ("unplanned" if actual > 0.005 else "–")
    pct = (actual - planned_to_date) / planned_to_date
    if actual <= 0.005:
        return pct, "not started"
    if pct > band:
        return pct, "over"
    if pct < -band:
        return pct, "under"
    return pct, "on plan"


def track_line(
    id_: str,
    stage: str,
    planned: float,
    to_date: float,
    actual: float,
    projected: float,
    band: float,
    planned_kpi: float | None,
    projected_kpi: float | None,
) -> TrackLine:
    pct, status = _status(to_date, actual, band)
    # the variance of the amounts as written (each in cents), so it reconciles with them and the
    # line items' variances sum to the total's (reviewer S14 R1, D1: -34,287.14 against
    # 247,924.86 - 282,212.01 when taken from the unrounded amounts)
    to_date, actual = round(to_date, 2), round(actual, 2)
    return TrackLine(
        id_,
        stage,
        round(planned, 2),
        to_date,
        actual,
        round(actual - to_date, 2),
        pct,
        status,
        round(projected, 2),
        planned_kpi,
        projected_kpi,
    )


def sum_lines(
    id_: str, stage: str, lines: Sequence[TrackLine], band: float, has_model: bool
) -> TrackLine:
    pk = sum(x.planned_kpi or 0.0 for x in lines) if has_model else None
    qk = sum(x.projected_kpi or 0.0 for x in lines) if has_model else None
    return track_line(
        id_,
        stage,
        sum(x.planned for x in lines),
        sum(x.planned_to_date for x in lines),
        sum(x.actual for x in lines),
        sum(x.projected_spend for x in lines),
        band,
        pk,
        qk,
    )
