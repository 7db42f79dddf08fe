"""``ResponseModel``: response curves per touchpoint, and the ``model.json`` format (contract 3).

The allocator depends only on the small ``CurveSet`` protocol, so a hand-written model file and a
fitted one look the same to it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from optimizer.errors import ModelError
from optimizer.fileio import atomic_write_text, did_you_mean, jsonable
from optimizer.io.files import ParseProblem, parse_json, read_input_text, short_repr
from optimizer.response import curves as C
from optimizer.vocabulary import (
    ADSTOCK_FAMILIES,
    CURVE_FAMILIES,
    HILL_SHAPE_RANGE,
    LOGISTIC_LAM_RANGE,
    MAX_CURVE_VALUE,
    MAX_DECAY,
    MAX_LAG_WEEKS,
    MIN_CURVE_SCALE,
)

FORMAT_VERSION = 1


@dataclass(frozen=True)
class Saturation:
    """A saturation curve: ``family`` and its parameters (in KPI and adstocked-spend units)."""

    family: str
    params: Mapping[str, float]

    def __call__(self, a: Any) -> np.ndarray:
        return C.saturation(self.family, a, dict(self.params))

    def derivative(self, a: Any) -> np.ndarray:
        return C.saturation_derivative(self.family, a, dict(self.params))

    def second_derivative(self, a: Any) -> np.ndarray:
        return C.saturation_second_derivative(self.family, a, dict(self.params))

    @property
    def concave(self) -> bool:
        return C.is_concave(self.family, dict(self.params))

    @property
    def beta(self) -> float:
        return float(self.params["beta"])

    def to_dict(self) -> dict[str, Any]:
        return {"family": self.family, **{k: float(v) for k, v in self.params.items()}}


@dataclass(frozen=True)
class Adstock:
    """Geometric carry-over ``a_t = x_t + decay * a_{t-1}`` (optionally normalised / truncated)."""

    decay: float
    normalize: bool = False
    max_lag: int | None = None
    family: str = "geometric"

    @property
    def steady_factor(self) -> float:
        return C.geometric_steady_factor(self.decay, self.max_lag, self.normalize)

    def transform(self, x: Any) -> np.ndarray:
        return C.geometric_adstock(x, self.decay, self.max_lag, self.normalize)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"family": self.family, "decay": float(self.decay)}
        if self.normalize:
            d["normalize"] = True
        if self.max_lag is not None:
            d["max_lag"] = int(self.max_lag)
        return d


@dataclass(frozen=True)
class TouchpointResponse:
    """How one touchpoint's KPI responds to a steady weekly spend.

    ``weekly_kpi(x) = curve(steady_factor * x)``; a plan of total ``S`` over ``H`` weeks buys
    ``H * weekly_kpi(S / H)``.
    """

    id: str
    stage: str
    curve: Saturation
    adstock: Adstock | None = None
    spend_range: Mapping[str, float] | None = None  # observed weekly spend: min, max, mean, recent
    draws: tuple[tuple[Saturation, Adstock | None], ...] = ()
    diagnostics: Mapping[str, Any] = field(default_factory=dict)
    owner: str | None = None  # who holds this touchpoint's budget (the journey's ``owner``)
    #: seasonal effectiveness (contract 7): 52 multipliers of the KPI by ISO week of the year
    #: (mean 1; week 53 takes week 52's); None: flat. Used by phased plans only.
    effectiveness: tuple[float, ...] | None = None
    #: a new touchpoint with no history: the prior its curve and draws were made from
    #: (``optimizer.response.prior``); None for a fitted (or hand-given) curve
    prior: Mapping[str, Any] | None = None
    #: the draws the printed marginal-ROI interval is read from, where the fit drew them in other
    #: coordinates than ``draws`` (which the plans use); empty: that interval comes from
    #: ``draws`` too
    interval_draws: tuple[tuple[Saturation, Adstock | None], ...] = ()
    #: the draws every band of a KPI level (the curve bands, the P10-P90 of a line item's or a
    #: plan's KPI, ``roi_interval_80``) is read from, where the fit drew them apart from ``draws``:
    #: the plans' coordinates and spread, each draw at its own pooling weight from the weight's
    #: posterior (``drawsets.roi_set``); empty: those bands come from ``draws``
    band_draws: tuple[tuple[Saturation, Adstock | None], ...] = ()

    @property
    def untested(self) -> bool:
        """Planned on a prior (no history): flagged "untested" in every output."""
        return self.prior is not None

    @property
    def steady_factor(self) -> float:
        return 1.0 if self.adstock is None else self.adstock.steady_factor

    @property
    def concave(self) -> bool:
        return self.curve.concave

    def weekly_kpi(self, x: Any) -> np.ndarray:
        return self.curve(self.steady_factor * np.asarray(x, dtype=float))

    def weekly_marginal(self, x: Any) -> np.ndarray:
        k = self.steady_factor
        return k * self.curve.derivative(k * np.asarray(x, dtype=float))

    def weekly_second_derivative(self, x: Any) -> np.ndarray:
        k = self.steady_factor
        return k * k * self.curve.second_derivative(k * np.asarray(x, dtype=float))

    @property
    def inflection_spend(self) -> float:
        """Weekly spend at which an S-curve's marginal return peaks (0 for concave curves)."""
        return C.inflection_point(self.curve.family, dict(self.curve.params)) / self.steady_factor

    @property
    def saturation_level(self) -> float:
        """The weekly KPI the curve approaches as spend grows without bound."""
        return self.curve.beta

    def horizon_kpi(self, total_spend: Any, weeks: float) -> np.ndarray:
        return weeks * self.weekly_kpi(np.asarray(total_spend, dtype=float) / weeks)

    def horizon_marginal(self, total_spend: Any, weeks: float) -> np.ndarray:
        return self.weekly_marginal(np.asarray(total_spend, dtype=float) / weeks)

    def _responses(
        self, draws: tuple[tuple[Saturation, Adstock | None], ...]
    ) -> list[TouchpointResponse]:
        """One ``TouchpointResponse`` per draw, with this curve's id, stage and spend range."""
        return [
            TouchpointResponse(
                self.id,
                self.stage,
                s,
                a,
                self.spend_range,
                owner=self.owner,
                effectiveness=self.effectiveness,
            )
            for s, a in draws
        ]

    def draw_responses(self) -> list[TouchpointResponse]:
        """One ``TouchpointResponse`` per draw of ``draws`` (the plans' draws; empty when the
        model has none): what every plan over the draws is made on."""
        return self._responses(self.draws)

    def band_responses(self) -> list[TouchpointResponse]:
        """One ``TouchpointResponse`` per draw of the bands' draws: ``band_draws`` where the model
        has them, else the plans' ``draws`` (a model written before the field, a hand-made one,
        a bootstrap fit): every band of a KPI level (a curve's, a line item's, a plan's) is read
        from these."""
        return self._responses(self.band_draws or self.draws)

    @property
    def shown_draws(self) -> tuple[tuple[Saturation, Adstock | None], ...]:
        """The draws the printed marginal-ROI interval of this curve is read from: the interval
        draws when the model has them, else the bands' (a bootstrap fit's over the pooling
        weight), else the plans' ``draws``."""
        return self.interval_draws or self.band_draws or self.draws

    def interval_draw_responses(self) -> list[TouchpointResponse]:
        """One ``TouchpointResponse`` per draw of ``shown_draws`` (the intervals' draws, or the
        plans' where the model has no separate ones; empty when it has neither)."""
        return self._responses(self.shown_draws)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"stage": self.stage}
        if self.owner:
            d["owner"] = self.owner
        if self.prior is not None:  # its curve and draws are made from the prior when read
            d["prior"] = jsonable(dict(self.prior))
            return d
        d["curve"] = self.curve.to_dict()
        if self.adstock is not None:
            d["adstock"] = self.adstock.to_dict()
        if self.effectiveness is not None:
            d["effectiveness"] = {"by_week_of_year": [float(v) for v in self.effectiveness]}
        if self.spend_range:
            d["spend_range"] = {k: float(v) for k, v in self.spend_range.items()}
        if self.diagnostics:
            d["diagnostics"] = jsonable(dict(self.diagnostics))
        for key, ds in (
            ("draws", self.draws),
            ("interval_draws", self.interval_draws),
            ("band_draws", self.band_draws),
        ):
            if ds:
                d[key] = [
                    {"curve": s.to_dict(), **({"adstock": a.to_dict()} if a is not None else {})}
                    for s, a in ds
                ]
        return d


class CurveSet(Protocol):
    """What the allocator needs: response curves keyed by touchpoint id."""

    # read-only members: a frozen dataclass (ResponseModel) satisfies read-only protocol members
    # only (a settable ``kpi: str`` made every frozen model fail the protocol under mypy)
    @property
    def kpi(self) -> str: ...

    @property
    def touchpoints(self) -> Mapping[str, TouchpointResponse]: ...


@dataclass(frozen=True)
class ResponseModel:
    """Response curves for every touchpoint of a journey, for one KPI."""

    kpi: str
    touchpoints: Mapping[str, TouchpointResponse]
    period: str = "week"
    diagnostics: Mapping[str, Any] = field(default_factory=dict)
    fit: Mapping[str, Any] = field(default_factory=dict)  # baseline terms etc., for fitted models
    source: str | None = None
    #: the ISO 4217 code of the money its spend is in (the journey's ``currency``); None: unnamed
    currency: str | None = None

    def __post_init__(self) -> None:
        if not self.touchpoints:
            raise ModelError("the model has no touchpoints", path=self.source, field="touchpoints")

    @property
    def ids(self) -> list[str]:
        return list(self.touchpoints)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "format_version": FORMAT_VERSION,
            "kpi": self.kpi,
            "period": self.period,
            "touchpoints": {k: v.to_dict() for k, v in self.touchpoints.items()},
        }
        if self.currency:
            d["currency"] = self.currency
        if self.diagnostics:
            d["diagnostics"] = jsonable(dict(self.diagnostics))
        if self.fit:
            d["fit"] = jsonable(dict(self.fit))
        return d


# ------------------------------------------------------------------------------------------------
# reading and writing
# ------------------------------------------------------------------------------------------------
_TOP_KEYS = {
    "format_version",
    "kpi",
    "period",
    "touchpoints",
    "diagnostics",
    "fit",
    "meta",
    "currency",
}
_TP_KEYS = {
    "stage",
    "curve",
    "adstock",
    "spend_range",
    "draws",
    "interval_draws",
    "band_draws",
    "diagnostics",
    "owner",
    "label",
    "effectiveness",
    "prior",
}
_ADSTOCK_KEYS = {"family", "decay", "normalize", "max_lag"}


#: the documented range of each curve parameter (docs/file-formats.md)
_PARAM_RANGES: dict[str, dict[str, Any]] = {
    "beta": {"low": 0.0, "high": MAX_CURVE_VALUE},
    "half_saturation": {"low": MIN_CURVE_SCALE, "high": MAX_CURVE_VALUE},
    "scale": {"low": MIN_CURVE_SCALE, "high": MAX_CURVE_VALUE},
    "shape": {"low": HILL_SHAPE_RANGE[0], "high": HILL_SHAPE_RANGE[1]},
    "lam": {"low": LOGISTIC_LAM_RANGE[0], "high": LOGISTIC_LAM_RANGE[1]},
}


def _number_in_range(
    value: Any,
    path: str | None,
    where: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ModelError(f"expected a number, got {short_repr(value)}", path=path, field=where)
    v = float(value)
    if not math.isfinite(v):
        raise ModelError(
            f"expected a finite number, got {short_repr(value)}", path=path, field=where
        )
    if low is not None and (v < low or (low_open and v == low)):
        op = ">" if low_open else ">="
        raise ModelError(f"must be {op} {low:g}, got {short_repr(value)}", path=path, field=where)
    if high is not None and (v > high or (high_open and v == high)):
        op = "<" if high_open else "<="
        raise ModelError(f"must be {op} {high:g}, got {short_repr(value)}", path=path, field=where)
    return v


def reject_unknown_keys(
    d: Mapping[str, Any], allowed: Any, path: str | Path | None, where: str = ""
) -> None:
    """A ``ModelError`` naming the first key of ``d`` (sorted) not in ``allowed``, with a "did you
    mean" and its field (``where.key``, or the key at the top level)."""
    extra = set(d) - set(allowed)
    if extra:
        bad = sorted(map(str, extra))[0]
        raise ModelError(
            f"unknown key {short_repr(bad)}{did_you_mean(bad, allowed)}",
            path=path,
            field=f"{where}.{bad}" if where else bad,
        )


def parse_saturation(d: Any, path: str | None, where: str) -> Saturation:
    if not isinstance(d, Mapping):
        raise ModelError(
            f"expected a mapping with a 'family', got {short_repr(d)}", path=path, field=where
        )
    family = d.get("family")
    if family not in CURVE_FAMILIES:
        raise ModelError(
            f"unknown curve family {short_repr(family)}{did_you_mean(str(family), CURVE_FAMILIES)}",
            path=path,
            field=f"{where}.family",
        )
    names = C.SATURATION[family][3]
    extra = set(d) - set(names) - {"family"}
    if extra:
        bad = sorted(extra)[0]
        raise ModelError(
            f"unknown parameter {short_repr(bad)} for a {family} curve{did_you_mean(bad, names)}",
            path=path,
            field=f"{where}.{bad}",
        )
    params: dict[str, float] = {}
    for name in names:
        if name not in d:
            raise ModelError(
                f"missing parameter {short_repr(name)} of a {family} curve",
                path=path,
                field=f"{where}.{name}",
            )
        params[name] = _number_in_range(
            d[name], path, f"{where}.{name}", **_PARAM_RANGES.get(name, {})
        )
    return Saturation(family, params)


def parse_adstock(d: Any, path: str | None, where: str) -> Adstock | None:
    if d is None:
        return None
    if not isinstance(d, Mapping):
        raise ModelError(
            f"expected a mapping with a 'family', got {short_repr(d)}", path=path, field=where
        )
    family = d.get("family", "geometric")
    if family not in ADSTOCK_FAMILIES:
        raise ModelError(
            f"unknown adstock family {short_repr(family)}{did_you_mean(str(family), ADSTOCK_FAMILIES)}",
            path=path,
            field=f"{where}.family",
        )
    reject_unknown_keys(d, _ADSTOCK_KEYS, path, where)
    decay = _number_in_range(d.get("decay"), path, f"{where}.decay", low=0.0, high=MAX_DECAY)
    normalize = d.get("normalize", False)
    if not isinstance(normalize, bool):
        raise ModelError(
            f"expected true or false, got {short_repr(normalize)}",
            path=path,
            field=f"{where}.normalize",
        )
    max_lag = d.get("max_lag")
    if max_lag is not None and (
        isinstance(max_lag, bool)
        or not isinstance(max_lag, int)
        or max_lag < 1
        or max_lag > MAX_LAG_WEEKS
    ):
        raise ModelError(
            f"expected a whole number of weeks from 1 to {MAX_LAG_WEEKS}, got "
            f"{short_repr(max_lag)}",
            path=path,
            field=f"{where}.max_lag",
        )
    return Adstock(decay=decay, normalize=normalize, max_lag=max_lag)


def model_from_dict(data: Any, source: str | None = None) -> ResponseModel:
    """Validate a decoded ``model.json`` and build a ``ResponseModel``."""
    path = source
    if not isinstance(data, Mapping):
        raise ModelError(
            f"expected a JSON object at the top level, got {type(data).__name__}", path=path
        )
    reject_unknown_keys(data, _TOP_KEYS, path)
    kpi = data.get("kpi")
    if not isinstance(kpi, str) or not kpi:
        raise ModelError(f"expected the KPI's name, got {short_repr(kpi)}", path=path, field="kpi")
    period = data.get("period", "week")
    if period != "week":
        raise ModelError(
            f"only weekly models are supported, got {short_repr(period)}", path=path, field="period"
        )
    tps = data.get("touchpoints")
    if not isinstance(tps, Mapping) or not tps:
        raise ModelError(
            f"expected a non-empty mapping of touchpoints, got {short_repr(tps)}",
            path=path,
            field="touchpoints",
        )
    out: dict[str, TouchpointResponse] = {}
    priors: dict[str, Mapping[str, Any]] = {}
    for tid, td in tps.items():
        where = f"touchpoints.{tid}"
        if not isinstance(td, Mapping):
            raise ModelError(f"expected a mapping, got {short_repr(td)}", path=path, field=where)
        reject_unknown_keys(td, _TP_KEYS, path, where)
        stage = td.get("stage")
        if not isinstance(stage, str) or not stage:
            raise ModelError(
                f"expected a journey stage, got {short_repr(stage)}",
                path=path,
                field=f"{where}.stage",
            )
        if "curve" not in td and "prior" in td:
            priors[str(tid)] = td  # made once the fitted touchpoints (its analogue) are read
            continue
        if "curve" not in td:
            raise ModelError("missing the response curve", path=path, field=f"{where}.curve")
        curve = parse_saturation(td["curve"], path, f"{where}.curve")
        adstock = parse_adstock(td.get("adstock"), path, f"{where}.adstock")
        spend_range = td.get("spend_range")
        if spend_range is not None:
            if not isinstance(spend_range, Mapping):
                raise ModelError(
                    f"expected a mapping, got {short_repr(spend_range)}",
                    path=path,
                    field=f"{where}.spend_range",
                )
            spend_range = {
                k: _number_in_range(
                    v, path, f"{where}.spend_range.{k}", low=0.0, high=MAX_CURVE_VALUE
                )
                for k, v in spend_range.items()
            }
        draws = _parse_draws(td.get("draws"), path, f"{where}.draws")
        interval_draws = _parse_draws(td.get("interval_draws"), path, f"{where}.interval_draws")
        band_draws = _parse_draws(td.get("band_draws"), path, f"{where}.band_draws")
        out[str(tid)] = TouchpointResponse(
            id=str(tid),
            stage=stage,
            curve=curve,
            adstock=adstock,
            spend_range=spend_range,
            draws=draws,
            interval_draws=interval_draws,
            band_draws=band_draws,
            diagnostics=_mapping(td.get("diagnostics"), path, f"{where}.diagnostics"),
            owner=_owner(td.get("owner"), path, f"{where}.owner"),
            effectiveness=parse_effectiveness(
                td.get("effectiveness"), path, f"{where}.effectiveness"
            ),
        )
    for key in ("draws", "interval_draws", "band_draws"):
        _same_number_of_draws(out, key, path)
    if priors:
        from optimizer.response.prior import prior_touchpoint

        counts = [len(tp.draws) for tp in out.values() if tp.draws]
        fitted = dict(out)
        for tid, td in priors.items():
            out[tid] = prior_touchpoint(tid, td, fitted, min(counts) if counts else 0, path)
        out = {str(t): out[str(t)] for t in tps}
    return ResponseModel(
        kpi=kpi,
        touchpoints=out,
        period=period,
        diagnostics=_mapping(data.get("diagnostics"), path, "diagnostics"),
        fit=_mapping(data.get("fit"), path, "fit"),
        source=source,
        currency=_currency(data.get("currency"), path),
    )


def _same_number_of_draws(
    tps: Mapping[str, TouchpointResponse], key: str, path: str | None
) -> None:
    """Draws are joint across touchpoints (draw k of every touchpoint belongs together), so every
    touchpoint that has them has as many: a hand-edited file with 3 for tv and 20 for the others
    was planned on the first 3 joint draws of every touchpoint (``--robust mean`` said "over the
    model's 3 draws"), the others' 17 dropped without a word. Touchpoints without any are fine
    (their point curve stands in for every draw)."""
    counts = {tid: len(getattr(tp, key)) for tid, tp in tps.items() if getattr(tp, key)}
    if len(set(counts.values())) > 1:
        most = max(counts.values())
        tid, n = min(counts.items(), key=lambda kv: kv[1])
        other = next(t for t, m in counts.items() if m == most)
        raise ModelError(
            f"{n} draws, but {other} has {most}: draw k of every touchpoint is one joint draw, "
            "so every touchpoint with draws needs the same number (docs/file-formats.md)",
            path=path,
            field=f"touchpoints.{tid}.{key}",
        )


def _mapping(v: Any, path: str | None, where: str) -> dict[str, Any]:
    """An optional free-form section (``fit``, ``diagnostics``): a mapping, or absent (empty).
    A string or a list there was an internal error (``dict('yes')``), exit 70."""
    if v is None:
        return {}
    if not isinstance(v, Mapping):
        raise ModelError(f"expected a mapping, got {short_repr(v)}", path=path, field=where)
    return dict(v)


def _parse_draws(
    v: Any, path: str | None, where: str
) -> tuple[tuple[Saturation, Adstock | None], ...]:
    """A touchpoint's ``draws``, ``interval_draws`` or ``band_draws``: a list of ``{"curve", "adstock"}``."""
    if v is not None and not isinstance(v, list):
        raise ModelError(f"expected a list of draws, got {short_repr(v)}", path=path, field=where)
    draws = []
    for i, dd in enumerate(v or []):
        if not isinstance(dd, Mapping):
            raise ModelError(
                f"expected a mapping, got {short_repr(dd)}", path=path, field=f"{where}[{i}]"
            )
        draws.append(
            (
                parse_saturation(dd.get("curve"), path, f"{where}[{i}].curve"),
                parse_adstock(dd.get("adstock"), path, f"{where}[{i}].adstock"),
            )
        )
    return tuple(draws)


def _currency(v: Any, path: str | None) -> str | None:
    """A model's ``currency``: a three-letter ISO 4217 code (upper case), or None."""
    if v is None:
        return None
    if not isinstance(v, str) or len(v) != 3 or not v.isascii() or not v.isalpha():
        raise ModelError(
            f"expected a three-letter currency code (ISO 4217) such as EUR, got {short_repr(v)}",
            path=path,
            field="currency",
        )
    return v.upper()


def currency_of(model: Any) -> str | None:
    """The currency of a model (or of the first market of a set of market models)."""
    cur = getattr(model, "currency", None)
    if cur:
        return str(cur)
    markets = getattr(model, "markets", None)
    if isinstance(markets, Mapping):
        for m in markets.values():
            cur = getattr(m, "currency", None)
            if cur:
                return str(cur)
    return None


def parse_effectiveness(d: Any, path: str | None, where: str) -> tuple[float, ...] | None:
    """``{"by_week_of_year": [52 multipliers]}`` (contract 7): non-negative, averaging 1."""
    if d is None:
        return None
    if not isinstance(d, Mapping) or set(d) != {"by_week_of_year"}:
        raise ModelError(
            f'expected {{"by_week_of_year": [52 multipliers]}}, got {d!r}'[:200],
            path=path,
            field=where,
        )
    v = d["by_week_of_year"]
    if not isinstance(v, list) or len(v) != 52:
        n = len(v) if isinstance(v, list) else type(v).__name__
        raise ModelError(
            f"expected 52 multipliers, one per ISO week of the year, got {n}",
            path=path,
            field=f"{where}.by_week_of_year",
        )
    out = tuple(
        _number_in_range(x, path, f"{where}.by_week_of_year[{k}]", low=0.0) for k, x in enumerate(v)
    )
    mean = sum(out) / 52.0
    if abs(mean - 1.0) > 1e-3:
        raise ModelError(
            f"the multipliers must average 1 (they average {mean:.4g}): the curve's beta carries "
            "the level, the multipliers only the season's shape",
            path=path,
            field=f"{where}.by_week_of_year",
        )
    return out


def _owner(v: Any, path: str | None, where: str) -> str | None:
    if v is None:
        return None
    if not isinstance(v, str) or not v.strip():
        raise ModelError(f"expected the name of a budget owner, got {v!r}", path=path, field=where)
    return v.strip()


def with_owners(model: ResponseModel, owners: Mapping[str, str | None]) -> ResponseModel:
    """The model with each touchpoint's budget owner set from ``owners`` (touchpoint id → owner;
    the journey's ``owner``), so that plans made on it can be accounted for by owner."""
    import dataclasses

    tps = {
        k: dataclasses.replace(v, owner=owners.get(k) or v.owner)
        for k, v in model.touchpoints.items()
    }
    return dataclasses.replace(model, touchpoints=tps)


def read_model(path: str | Path) -> ResponseModel:
    """Read and validate a ``model.json``; every problem is a ``ModelError`` naming file and field.

    A ``markets.json`` index (contract 8) is read as a ``MarketModel`` (one model per market),
    which the allocator plans on as touchpoint × market.
    """
    path = Path(path)
    text = read_input_text(path, ModelError, "model file")
    if not text.strip():
        raise ModelError("the model file is empty", path=path)
    try:
        data = parse_json(text)
    except ParseProblem as e:  # a key given twice (a touchpoint twice), NaN or Infinity
        raise ModelError(str(e), path=path) from None
    except json.JSONDecodeError as e:
        raise ModelError(
            f"not valid JSON (truncated or corrupt?): {e.msg} at line {e.lineno}, column {e.colno}",
            path=path,
        ) from None
    from optimizer.response.markets import is_market_index, market_model_from_dict

    if is_market_index(data):
        return market_model_from_dict(data, path)  # type: ignore[return-value]
    return model_from_dict(data, source=str(path))


def model_to_json(model: ResponseModel) -> str:
    return json.dumps(model.to_dict(), indent=2, sort_keys=False, allow_nan=False) + "\n"


def write_model(model: ResponseModel, path: str | Path) -> Path:
    """Write ``model.json`` atomically."""
    return atomic_write_text(path, model_to_json(model))
