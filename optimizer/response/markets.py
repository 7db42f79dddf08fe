"""Several markets' curves (contract 8): the ``markets.json`` index that ``fit --by-market`` writes.

```json
{"kpi": "revenue", "touchpoints": ["tv", "search"],
 "markets": {"north": {"model": "north.json", "models": {"revenue": "north.json"},
                       "weeks": 156, "keys": {"population": 5200000}}}}
```

``model`` is the market's model file for the main KPI (relative to the index), ``models`` every
KPI's, ``keys`` optional numbers a national buy may split its spend by (e.g. population).
``touchpoints`` (optional; written by ``fit``) is the journey's touchpoints: every market's model
must have exactly these. A ``MarketModel`` is what the allocator plans on: one ``ResponseModel``
per market, all on the same touchpoints and stages.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from optimizer.errors import ModelError
from optimizer.response.model import ResponseModel, TouchpointResponse, reject_unknown_keys

INDEX_NAME = "markets.json"
_INDEX_KEYS = {"format_version", "kpi", "touchpoints", "markets", "meta"}
_MARKET_KEYS = {"model", "models", "weeks", "keys", "meta"}


@dataclass(frozen=True)
class MarketModel:
    """Response curves per market, for one main KPI (and, per market, other KPIs' curves)."""

    kpi: str
    markets: Mapping[str, ResponseModel]  # market → the main KPI's model, in index order
    kpi_models: Mapping[str, Mapping[str, ResponseModel]] = field(default_factory=dict)
    keys: Mapping[str, Mapping[str, float]] = field(default_factory=dict)  # market → key → value
    source: str | None = None

    @property
    def names(self) -> list[str]:
        return list(self.markets)

    @property
    def touchpoints(self) -> Mapping[str, TouchpointResponse]:
        """The touchpoints every market shares (the first market's curves: for ids, stages and
        owners; each line item plans on its own market's curve)."""
        return next(iter(self.markets.values())).touchpoints

    @property
    def ids(self) -> list[str]:
        return list(self.touchpoints)

    def key(self, name: str) -> dict[str, float]:
        """Every market's value of a key (e.g. population); a market without it is an error."""
        out = {}
        for m in self.markets:
            v = (self.keys.get(m) or {}).get(name)
            if v is None:
                raise KeyError(m)
            out[m] = float(v)
        return out


def is_market_index(data: Any) -> bool:
    return (
        isinstance(data, Mapping)
        and isinstance(data.get("markets"), Mapping)
        and not isinstance(data.get("touchpoints"), Mapping)
    )


#: the indexes being read (resolved paths), so that an index naming another index that names it
#: back is an error, not an endless recursion
_READING: ContextVar[frozenset[Path]] = ContextVar("_READING", default=frozenset())


def market_model_from_dict(data: Mapping[str, Any], source: str | Path) -> MarketModel:
    """Validate a decoded ``markets.json`` and read every market's model beside it."""
    path = Path(source)
    here = path.resolve()
    if here in _READING.get():
        raise ModelError(
            "an index's market model names this index again (a market's model must be a model "
            "file, not another index)",
            path=path,
        )
    token = _READING.set(_READING.get() | {here})
    try:
        return _market_model_from_dict(data, path)
    finally:
        _READING.reset(token)


def _market_model_from_dict(data: Mapping[str, Any], path: Path) -> MarketModel:
    from optimizer.response.model import read_model

    reject_unknown_keys(data, _INDEX_KEYS, path)
    kpi = data.get("kpi")
    if not isinstance(kpi, str) or not kpi:
        raise ModelError(f"expected the KPI's name, got {kpi!r}", path=path, field="kpi")
    markets = data["markets"]
    if not markets:
        raise ModelError("the index lists no markets", path=path, field="markets")
    journey_ids = data.get("touchpoints")
    if journey_ids is not None and (
        not isinstance(journey_ids, list) or not all(isinstance(t, str) for t in journey_ids)
    ):
        raise ModelError(
            f"expected a list of touchpoint ids, got {journey_ids!r}",
            path=path,
            field="touchpoints",
        )
    models: dict[str, ResponseModel] = {}
    others: dict[str, dict[str, ResponseModel]] = {}
    keys: dict[str, dict[str, float]] = {}
    first: tuple[str, ResponseModel] | None = None
    for name, entry in markets.items():
        where = f"markets.{name}"
        if not isinstance(name, str) or not name.strip():
            raise ModelError(f"a market needs a name, got {name!r}", path=path, field="markets")
        if not isinstance(entry, Mapping):
            raise ModelError(f"expected a mapping, got {entry!r}", path=path, field=where)
        reject_unknown_keys(entry, _MARKET_KEYS, path, where)
        file = entry.get("model")
        if not isinstance(file, str) or not file:
            raise ModelError(
                f"expected the market's model file, got {file!r}", path=path, field=f"{where}.model"
            )
        model_path = path.parent / file
        if model_path.resolve() == path.resolve():
            raise ModelError(
                "a market's model cannot be the index itself", path=path, field=f"{where}.model"
            )
        try:
            m = read_model(model_path)
        except ModelError as e:
            raise ModelError(f"market {name!r}: {e}", path=path, field=f"{where}.model") from None
        if not isinstance(m, ResponseModel):
            raise ModelError(
                "a market's model must be a model file, not another index",
                path=path,
                field=f"{where}.model",
            )
        if m.kpi != kpi:
            raise ModelError(
                f"the model of market {name!r} is for '{m.kpi}', the index for '{kpi}'",
                path=path,
                field=f"{where}.model",
            )
        _same_touchpoints(path, name, m, journey_ids, first)
        if first is None:
            first = (name, m)
        models[name] = m
        by_kpi = entry.get("models") or {}
        if not isinstance(by_kpi, Mapping):
            raise ModelError(
                f"expected a mapping of KPI ids to model files, got {by_kpi!r}",
                path=path,
                field=f"{where}.models",
            )
        for k, f in by_kpi.items():
            if k == kpi:
                _same_main_model(path, where, kpi, file, f)
                continue
            if not isinstance(f, str) or not f:
                raise ModelError(
                    f"expected a model file, got {f!r}", path=path, field=f"{where}.models.{k}"
                )
            if (path.parent / f).resolve() == path.resolve():
                raise ModelError(
                    "a market's model cannot be the index itself",
                    path=path,
                    field=f"{where}.models.{k}",
                )
            try:
                other = read_model(path.parent / f)
            except ModelError as e:
                raise ModelError(
                    f"market {name!r}: {e}", path=path, field=f"{where}.models.{k}"
                ) from None
            if not isinstance(other, ResponseModel):
                raise ModelError(
                    "a market's model must be a model file, not another index",
                    path=path,
                    field=f"{where}.models.{k}",
                )
            others.setdefault(k, {})[name] = other
        kv = entry.get("keys") or {}
        if not isinstance(kv, Mapping):
            raise ModelError(f"expected a mapping, got {kv!r}", path=path, field=f"{where}.keys")
        keys[name] = {}
        for k, v in kv.items():
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise ModelError(
                    f"expected a number, got {v!r}", path=path, field=f"{where}.keys.{k}"
                )
            if v < 0:
                raise ModelError(
                    f"must not be negative, got {v!r}", path=path, field=f"{where}.keys.{k}"
                )
            keys[name][str(k)] = float(v)
    return MarketModel(kpi, models, others, keys, str(path))


def _same_main_model(path: Path, where: str, kpi: str, file: str, other: object) -> None:
    """``models.<main KPI>`` repeats ``model`` (``fit`` writes both, naming one file); naming
    another file would leave one of the two unread, so it is refused naming both."""
    if (
        isinstance(other, str)
        and other
        and (path.parent / other).resolve() == (path.parent / file).resolve()
    ):
        return
    raise ModelError(
        f"names {other!r} for the main KPI '{kpi}', but '{where}.model' names {file!r}: the "
        f"market's {kpi} curves are given twice, differently (keep '{where}.model' and drop "
        f"'{kpi}' from '{where}.models', or make them the same file)",
        path=path,
        field=f"{where}.models.{kpi}",
    )


def _same_touchpoints(
    path: Path,
    name: str,
    m: ResponseModel,
    journey_ids: list[str] | None,
    first: tuple[str, ResponseModel] | None,
) -> None:
    """A market's model must have the journey's touchpoints (or the first market's), on the same
    stages: a plan adds touchpoints up across markets."""
    ref_name, ref = ("the journey", journey_ids) if journey_ids is not None else (None, None)
    if ref is None and first is not None:
        ref_name, ref = f"market {first[0]!r}", list(first[1].touchpoints)
    if ref is not None:
        missing = [t for t in ref if t not in m.touchpoints]
        extra = [t for t in m.touchpoints if t not in ref]
        if missing or extra:
            what = []
            if missing:
                what.append(f"lacks {', '.join(repr(t) for t in missing[:5])}")
            if extra:
                what.append(f"has {', '.join(repr(t) for t in extra[:5])} that {ref_name} lacks")
            raise ModelError(
                f"the model of market {name!r} ({m.source}) has other touchpoints than "
                f"{ref_name}: " + " and ".join(what),
                path=path,
                field=f"markets.{name}.model",
            )
    if first is not None:
        for tid, tp in m.touchpoints.items():
            other = first[1].touchpoints.get(tid)
            if other is not None and other.stage != tp.stage:
                raise ModelError(
                    f"touchpoint '{tid}' is in stage '{tp.stage}' in market {name!r} but "
                    f"'{other.stage}' in market {first[0]!r}",
                    path=path,
                    field=f"markets.{name}.model",
                )
            # a plan's totals by owner count each touchpoint under one owner in every market
            if other is not None and tp.owner and other.owner and tp.owner != other.owner:
                raise ModelError(
                    f"touchpoint '{tid}' is owned by '{tp.owner}' in market {name!r} but by "
                    f"'{other.owner}' in market {first[0]!r}",
                    path=path,
                    field=f"markets.{name}.model",
                )


def read_index(path: str | Path) -> MarketModel:
    """Read ``markets.json`` and every market's model; problems are ``ModelError``s naming the
    file and the field."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8", errors="replace"))
    except (OSError, json.JSONDecodeError) as e:
        raise ModelError(f"cannot be read as a markets index: {e}", path=path) from None
    if not is_market_index(data):
        raise ModelError("expected a markets index (a 'markets' mapping)", path=path)
    return market_model_from_dict(data, path)


def refuse_markets(model: object, what: str) -> None:
    """A ``ModelError`` for a job that does not yet plan over markets, when ``model`` is an index
    (rather than silently running it on one market's curves)."""
    if isinstance(model, MarketModel):
        raise ModelError(
            f"{what} does not work on a markets index yet: run it on one market's model "
            "(models/<market>.json), or plan the markets together without it",
            path=model.source,
        )
