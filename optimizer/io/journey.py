"""Contract 1: the journey file (``journey.yaml``), read and validated into a ``Journey``."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from optimizer.errors import DataError
from optimizer.formatting import did_you_mean
from optimizer.io.dialect import CsvSettings, csv_settings
from optimizer.io.files import load_yaml, short_repr
from optimizer.vocabulary import DATE_COLUMN, STAGES


@dataclass(frozen=True)
class TouchpointSpec:
    id: str
    stage: str
    spend_column: str
    owner: str | None = None
    label: str | None = None
    #: a new touchpoint with no history yet: its prior (``optimizer.response.prior``); ``fit``
    #: writes it to the model instead of fitting a curve, and the history needs no column for it
    prior: Mapping[str, Any] | None = None


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
    csv: CsvSettings = CsvSettings()  # how to read its CSV files (``csv:``; None = detect)
    currency: str | None = None  # ISO 4217 code of its money (``currency: EUR``); None: unnamed

    #: touchpoints planned on a prior (no history): not fitted, written to the model as priors
    untested: tuple[TouchpointSpec, ...] = ()

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


_JOURNEY_KEYS = {
    "kpi",
    "kpis",
    "controls",
    "events",
    "stages",
    "touchpoints",
    "name",
    "currency",
    "csv",
}
_TP_KEYS = {"id", "stage", "spend_column", "owner", "label", "prior"}


def journey_from_dict(data: Any, source: str | None = None) -> Journey:
    path = source
    if not isinstance(data, Mapping):
        raise DataError(
            f"expected a mapping at the top level, got {type(data).__name__}", path=path
        )
    for key in data:
        if key not in _JOURNEY_KEYS:
            raise DataError(
                f"unknown key {short_repr(key)}{did_you_mean(str(key), _JOURNEY_KEYS)}",
                path=path,
                field=str(key),
            )
    kpi = data.get("kpi")
    if not isinstance(kpi, str) or not kpi.strip():
        raise DataError(
            f"expected the name of the KPI column, got {short_repr(kpi)}", path=path, field="kpi"
        )
    stages_raw = data.get("stages", list(STAGES))
    if (
        not isinstance(stages_raw, list)
        or not stages_raw
        or not all(isinstance(s, str) and s for s in stages_raw)
    ):
        raise DataError(
            f"expected a list of stage names, got {short_repr(stages_raw)}",
            path=path,
            field="stages",
        )
    if len(set(stages_raw)) != len(stages_raw):
        dup = next(s for s in stages_raw if stages_raw.count(s) > 1)
        raise DataError(f"stage {short_repr(dup)} is listed twice", path=path, field="stages")
    stages = tuple(stages_raw)
    tps_raw = data.get("touchpoints")
    if not isinstance(tps_raw, list) or not tps_raw:
        raise DataError(
            f"expected a non-empty list of touchpoints, got {short_repr(tps_raw)}",
            path=path,
            field="touchpoints",
        )
    tps: list[TouchpointSpec] = []
    seen: set[str] = set()
    untested: list[TouchpointSpec] = []
    for i, t in enumerate(tps_raw):
        where = f"touchpoints[{i}]"
        if not isinstance(t, Mapping):
            raise DataError(
                f"expected a mapping like {{id: tv, stage: awareness}}, got {short_repr(t)}",
                path=path,
                field=where,
            )
        for key in t:
            if key not in _TP_KEYS:
                raise DataError(
                    f"unknown key {short_repr(key)}{did_you_mean(str(key), _TP_KEYS)}",
                    path=path,
                    field=f"{where}.{key}",
                )
        tid = t.get("id")
        if not isinstance(tid, str) or not tid:
            raise DataError(
                f"expected a touchpoint id, got {short_repr(tid)}", path=path, field=f"{where}.id"
            )
        if tid in seen:
            raise DataError(
                f"touchpoint {short_repr(tid)} is listed twice", path=path, field=f"{where}.id"
            )
        seen.add(tid)
        stage = t.get("stage")
        if not isinstance(stage, str) or stage not in stages:
            raise DataError(
                f"unknown stage {short_repr(stage)}{did_you_mean(str(stage), stages)}",
                path=path,
                field=f"{where}.stage",
            )
        col = t.get("spend_column", tid)
        if not isinstance(col, str) or not col:
            raise DataError(
                f"expected a column name, got {short_repr(col)}",
                path=path,
                field=f"{where}.spend_column",
            )
        prior = t.get("prior")
        if prior is not None:
            if not isinstance(prior, Mapping):
                raise DataError(
                    f"expected a mapping like {{like: search, roi_range: [0.5, 2.0]}}, got "
                    f"{short_repr(prior)}",
                    path=path,
                    field=f"{where}.prior",
                )
            untested.append(
                TouchpointSpec(tid, stage, col, t.get("owner"), t.get("label"), dict(prior))
            )
            continue
        tps.append(TouchpointSpec(tid, stage, col, t.get("owner"), t.get("label")))
    kpis: list[KpiSpec] = []
    for i, k in enumerate(data.get("kpis") or []):
        where = f"kpis[{i}]"
        if not isinstance(k, Mapping) or not isinstance(k.get("id"), str):
            raise DataError(
                f"expected a mapping like {{id: leads, column: leads}}, got {short_repr(k)}",
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
                f"expected a non-negative money value per unit, got {short_repr(value)}",
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
            raise DataError(
                f"expected a list of column names, got {short_repr(lst)}", path=path, field=name
            )
    currency = data.get("currency")
    if currency is not None and not (
        isinstance(currency, str) and re.fullmatch(r"[A-Za-z]{3}", currency)
    ):
        raise DataError(
            f"expected a three-letter currency code (ISO 4217) such as EUR, got "
            f"{short_repr(currency)}",
            path=path,
            field="currency",
        )
    _check_column_roles(kpi, tps_raw, tps, kpis, controls, events, path)
    if untested and not tps:
        raise DataError(
            "every touchpoint has a prior: a model needs at least one touchpoint with history "
            "(a prior's 'like' names one)",
            path=path,
            field="touchpoints",
        )
    return Journey(
        currency=None if currency is None else currency.upper(),
        kpi=kpi,
        untested=tuple(untested),
        touchpoints=tuple(tps),
        stages=stages,
        kpis=tuple(kpis),
        controls=tuple(controls),
        events=tuple(events),
        source=source,
        csv=csv_settings(data.get("csv"), path=path),
    )


def _check_column_roles(
    kpi: str,
    tps_raw: list[Any],
    tps: list[TouchpointSpec],
    kpis: list[KpiSpec],
    controls: list[str],
    events: list[str],
    path: str | None,
) -> None:
    """Each history column plays one part: the dates, one touchpoint's spend, a KPI, a control
    or an event. A KPI that is also a control "explains" itself (a perfect, meaningless fit), and
    two touchpoints on one spend column are one touchpoint counted twice: each is an error naming
    the field that gives the column its second part."""
    roles: dict[str, str] = {DATE_COLUMN: "the date column"}

    def claim(column: str, role: str, field: str) -> None:
        if column in roles:
            raise DataError(
                f"column {short_repr(column)} is already {roles[column]}; a history column "
                "plays one part (the dates, one touchpoint's spend, a KPI, a control or an event)",
                path=path,
                field=field,
            )
        roles[column] = role

    claim(kpi, "the KPI", "kpi")
    index = {t.get("id"): i for i, t in enumerate(tps_raw) if isinstance(t, Mapping)}
    for t in tps:
        where = f"touchpoints[{index.get(t.id, 0)}]"
        field = f"{where}.spend_column" if t.spend_column != t.id else f"{where}.id"
        claim(t.spend_column, f"the spend column of touchpoint {short_repr(t.id)}", field)
    seen_kpis: set[str] = set()
    for i, k in enumerate(kpis):
        if k.id in seen_kpis:
            raise DataError(
                f"KPI {short_repr(k.id)} is listed twice", path=path, field=f"kpis[{i}].id"
            )
        seen_kpis.add(k.id)
        if k.id == kpi and k.column == kpi:
            continue  # the main KPI given a value per unit
        claim(k.column, f"the column of KPI {short_repr(k.id)}", f"kpis[{i}].column")
    for name, lst in (("controls", controls), ("events", events)):
        for i, c in enumerate(lst):
            claim(c, f"a{'n event' if name == 'events' else ' control'}", f"{name}[{i}]")


def read_journey(path: str | Path) -> Journey:
    """Read and validate ``journey.yaml``."""
    data = load_yaml(path, DataError)
    return journey_from_dict(data, source=str(path))
