"""Simulated marketing worlds with known truth.

A :class:`WorldSpec` describes a company: its touchpoints (each with a true response curve, carry-over
and a spending habit), its baseline demand, trend, yearly seasonality, a price control and the noise.
:func:`simulate` turns a spec into weekly history (what a user would have), the true response model
(contract 3, what a fit should recover) and the true weekly contribution of every component.

The KPI of week ``t`` is::

    kpi_t = baseline + trend_t + seasonality_t + control_t
            + sum_i saturation_i(adstock_i(spend_i)_t) + noise_t

with adstock :func:`optimizer.response.curves.geometric_adstock` (starting from zero carry-over in
the first week of history) and saturation :func:`optimizer.response.curves.saturation`: the very
functions a ``ResponseModel`` uses, so ``world.truth.touchpoints[i].weekly_kpi(x)`` is exactly the
long-run weekly contribution of a steady weekly spend ``x``.

Everything is deterministic: the same spec (seed included) gives bit-identical frames. Each touchpoint
draws from its own random stream, so adding a touchpoint does not change the others' spend.

Examples
--------
>>> from optimizer.simulate import random_world, simulate
>>> world = simulate(random_world(4, seed=1))
>>> world.history.shape[0]
156
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from optimizer.io.files import atomic_write_text, load_yaml
from optimizer.response import curves as C
from optimizer.response.model import (
    Adstock,
    ResponseModel,
    Saturation,
    TouchpointResponse,
    write_model,
)
from optimizer.vocabulary import CURVE_FAMILIES, DATE_COLUMN, STAGES

__all__ = [
    "COMPONENTS",
    "PRICE_COLUMN",
    "RECENT_WEEKS",
    "SimulatedWorld",
    "TouchpointTruth",
    "WorldSpec",
    "journey_dict",
    "random_world",
    "sample_company",
    "seasonal_shape",
    "simulate",
    "spend_range",
    "write_world",
]

#: The control column every simulated history carries.
PRICE_COLUMN = "price_index"
#: ``spend_range["recent"]`` is the mean weekly spend over this many final weeks.
RECENT_WEEKS = 13
#: the sample company's truth, as data (package data; read by ``sample_company``)
SAMPLE_COMPANY = Path(__file__).resolve().parent / "sample" / "company.yaml"
#: Non-media columns of ``SimulatedWorld.contributions``, in order.
COMPONENTS: tuple[str, ...] = ("baseline", "trend", "seasonality", "control", "noise")

_DAYS_PER_YEAR = 365.25
_WEEKS_PER_YEAR = _DAYS_PER_YEAR / 7.0
_DARK_RUN_WEEKS = 3.0  # mean length of a dark (no spend) spell when a touchpoint is flighted
_PRICE_AR = 0.8  # week-to-week persistence of the price index
_SPEND_Z_CLIP = 2.2  # weekly spend noise is clipped at this many standard deviations


# ------------------------------------------------------------------------------------------------
# specs
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TouchpointTruth:
    """The truth about one touchpoint: its response curve, carry-over and spending habit.

    Parameters
    ----------
    id : str
        Touchpoint id; also the name of its spend column.
    stage : str
        Journey stage.
    family : str
        Saturation family: ``"hill"``, ``"exponential"`` or ``"logistic"``.
    params : Mapping[str, float]
        The family's parameters (``beta`` in KPI per week; the others in adstocked weekly spend,
        see :mod:`optimizer.response.curves`).
    decay : float
        Geometric adstock decay in [0, 1).
    normalize : bool
        Normalise the adstock weights to sum to one (steady state ``x`` rather than ``x / (1 - decay)``).
    mean_spend : float
        Mean weekly spend over the history (dark weeks included); the simulated spend is scaled to
        match it exactly.
    spend_cv : float
        Coefficient of variation of the week-to-week log-normal spend noise.
    flighting : float
        Probability that a week is dark (no spend); dark weeks come in spells of about three weeks.
        0 means always on.
    season_corr : float
        How much spend follows the yearly seasonality: spend is multiplied by
        ``exp(season_corr * s_t)`` where ``s_t`` in [-0.6, 1] is :func:`seasonal_shape`.
    owner : str or None
        Team that owns the touchpoint (written to the journey file).
    """

    id: str
    stage: str
    family: str
    params: Mapping[str, float]
    decay: float = 0.0
    normalize: bool = False
    mean_spend: float = 10_000.0
    spend_cv: float = 0.4
    flighting: float = 0.0
    season_corr: float = 0.0
    owner: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise ValueError(
                f"The 'id' of a TouchpointTruth must be a non-empty string. Got {self.id!r}."
            )
        if self.family not in CURVE_FAMILIES:
            raise ValueError(
                f"The 'family' of touchpoint {self.id!r} must be one of {CURVE_FAMILIES}. "
                f"Got {self.family!r} instead."
            )
        names = C.SATURATION[self.family][3]
        if set(self.params) != set(names):
            raise ValueError(
                f"A {self.family} curve (touchpoint {self.id!r}) needs exactly the parameters "
                f"{names}. Got {tuple(self.params)} instead."
            )
        params = {n: float(self.params[n]) for n in names}
        for n, v in params.items():
            if not math.isfinite(v) or v < 0 or (v == 0 and n != "beta"):
                raise ValueError(
                    f"The {n!r} parameter of touchpoint {self.id!r} must be positive. "
                    f"Got {v!r} instead."
                )
        object.__setattr__(self, "params", params)
        _check_range(self.id, "decay", self.decay, 0.0, 1.0, high_open=True)
        _check_range(self.id, "flighting", self.flighting, 0.0, 1.0, high_open=True)
        _check_range(self.id, "season_corr", self.season_corr, -3.0, 3.0)
        _check_range(self.id, "spend_cv", self.spend_cv, 0.0, 5.0)
        if not math.isfinite(self.mean_spend) or self.mean_spend <= 0:
            raise ValueError(
                f"The 'mean_spend' of touchpoint {self.id!r} must be positive. "
                f"Got {self.mean_spend!r} instead."
            )

    @property
    def saturation(self) -> Saturation:
        """The true saturation curve."""
        return Saturation(self.family, dict(self.params))

    @property
    def adstock(self) -> Adstock:
        """The true carry-over (an explicit ``decay`` of 0 when there is none)."""
        return Adstock(decay=float(self.decay), normalize=bool(self.normalize))

    def contribution(self, spend: Any) -> np.ndarray:
        """True weekly contribution of a weekly spend series (time along axis 0).

        Carry-over starts from zero before the first week. This is the simulator's own transform:
        ``saturation(geometric_adstock(spend))``.
        """
        a = C.geometric_adstock(
            np.asarray(spend, dtype=float), self.decay, normalize=self.normalize
        )
        return C.saturation(self.family, a, dict(self.params))

    def response(
        self,
        spend_range: Mapping[str, float] | None = None,
        diagnostics: Mapping[str, Any] | None = None,
    ) -> TouchpointResponse:
        """The true curve as a ``TouchpointResponse`` (contract 3)."""
        return TouchpointResponse(
            id=self.id,
            stage=self.stage,
            curve=self.saturation,
            adstock=self.adstock,
            spend_range=spend_range,
            diagnostics=dict(diagnostics or {}),
            owner=self.owner,
        )


def _check_range(
    tid: str, name: str, v: float, low: float, high: float, *, high_open: bool = False
) -> None:
    ok = math.isfinite(v) and low <= v and (v < high if high_open else v <= high)
    if not ok:
        bracket = ")" if high_open else "]"
        raise ValueError(
            f"The {name!r} of touchpoint {tid!r} must be in [{low:g}, {high:g}{bracket}. "
            f"Got {v!r} instead."
        )


@dataclass(frozen=True)
class WorldSpec:
    """A simulated company: touchpoints plus the non-media drivers of its KPI.

    Parameters
    ----------
    touchpoints : tuple of TouchpointTruth
        The touchpoints, in journey order.
    n_weeks : int
        Weeks of history.
    start : str
        ISO date of the first week (a Monday, by convention).
    kpi : str
        Name of the KPI column.
    baseline : float
        Weekly KPI with no media, at the start, with price index 1 and no seasonality.
    trend : float
        Growth of the baseline per year, as a fraction of ``baseline`` (linear).
    seasonality_amplitude : float
        Size of the yearly seasonality, as a fraction of ``baseline``: the peak week adds
        ``seasonality_amplitude * baseline``.
    season_peak_day : int
        Day of the year at which demand peaks.
    price_coefficient : float
        Effect of the price index: the KPI moves by ``price_coefficient * baseline * (price_index - 1)``
        (negative: higher prices, lower KPI).
    price_sd : float
        Standard deviation of the price index around 1.
    noise_sd : float
        Standard deviation of the Gaussian noise, as a fraction of the mean noiseless KPI.
    spend_drift : float
        Size of the slow (multi-month) drift of every touchpoint's log-spend.
    name : str
        Name of the company (written to the journey file).
    stages : tuple of str
        The journey's stages.
    seed : int
        Seed for ``numpy.random.default_rng``.
    """

    touchpoints: tuple[TouchpointTruth, ...]
    n_weeks: int = 156
    start: str = "2023-01-02"
    kpi: str = "revenue"
    baseline: float = 1_000_000.0
    trend: float = 0.03
    seasonality_amplitude: float = 0.15
    season_peak_day: int = 330
    price_coefficient: float = -1.0
    price_sd: float = 0.03
    noise_sd: float = 0.04
    spend_drift: float = 0.15
    name: str = "Simulated company"
    stages: tuple[str, ...] = STAGES
    seed: int = 0

    def __post_init__(self) -> None:
        tps = tuple(self.touchpoints)
        object.__setattr__(self, "touchpoints", tps)
        object.__setattr__(self, "stages", tuple(self.stages))
        if not tps:
            raise ValueError("A WorldSpec needs at least one touchpoint.")
        ids = [t.id for t in tps]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"Touchpoint ids must be unique. Got {dup[0]!r} twice.")
        reserved = {DATE_COLUMN, self.kpi, PRICE_COLUMN, *COMPONENTS}
        clash = sorted(set(ids) & reserved)
        if clash:
            raise ValueError(f"A touchpoint cannot be called {clash[0]!r}: that name is reserved.")
        for t in tps:
            if t.stage not in self.stages:
                raise ValueError(
                    f"Touchpoint {t.id!r} has stage {t.stage!r}, which is not one of {self.stages}."
                )
        if int(self.n_weeks) != self.n_weeks or self.n_weeks < 2:
            raise ValueError(
                f"The 'n_weeks' of a WorldSpec must be a whole number >= 2. "
                f"Got {self.n_weeks!r} instead."
            )
        pd.Timestamp(self.start)  # raises on a bad date
        for name in ("baseline", "noise_sd", "price_sd", "spend_drift", "seasonality_amplitude"):
            v = getattr(self, name)
            if not math.isfinite(v) or v < 0:
                raise ValueError(f"The {name!r} of a WorldSpec must be >= 0. Got {v!r} instead.")

    @property
    def ids(self) -> list[str]:
        return [t.id for t in self.touchpoints]

    def touchpoint(self, tid: str) -> TouchpointTruth:
        for t in self.touchpoints:
            if t.id == tid:
                return t
        raise KeyError(tid)


@dataclass(frozen=True)
class SimulatedWorld:
    """What :func:`simulate` produces.

    Attributes
    ----------
    spec : WorldSpec
        The spec it was simulated from.
    history : pandas.DataFrame
        Contract 2: ``date`` (ISO strings), one spend column per touchpoint (whole cents), the KPI
        (whole cents) and ``price_index``.
    truth : ResponseModel
        The true curves (contract 3), with each touchpoint's observed ``spend_range`` and its true
        ``roi``, ``marginal_roi`` and ``contribution_share`` in ``diagnostics``.
    contributions : pandas.DataFrame
        ``date``, the true weekly contribution of every touchpoint, then ``baseline``, ``trend``,
        ``seasonality``, ``control`` and ``noise``; each row sums to the week's KPI.
    journey : dict
        Contract 1, the content of ``journey.yaml``.
    """

    spec: WorldSpec
    history: pd.DataFrame
    truth: ResponseModel
    contributions: pd.DataFrame
    journey: dict[str, Any] = field(default_factory=dict)

    @property
    def spend(self) -> pd.DataFrame:
        """Weekly spend per touchpoint."""
        return self.history[self.spec.ids]

    @property
    def true_roi(self) -> pd.Series:
        """True ROI per touchpoint over the history: total contribution / total spend."""
        return (self.contributions[self.spec.ids].sum() / self.spend.sum()).rename("roi")

    @property
    def media_share(self) -> float:
        """Share of the KPI over the history that media contributed."""
        media = float(self.contributions[self.spec.ids].to_numpy().sum())
        return media / float(self.history[self.spec.kpi].sum())


# ------------------------------------------------------------------------------------------------
# simulation
# ------------------------------------------------------------------------------------------------
def seasonal_shape(dates: pd.DatetimeIndex | pd.Series, peak_day: int = 330) -> np.ndarray:
    """Yearly seasonal shape in [-0.6, 1], peaking on day ``peak_day`` of the year.

    ``0.8 cos(theta) + 0.2 cos(2 theta)`` with ``theta = 2 pi (day_of_year - peak_day) / 365.25``:
    one broad yearly cycle sharpened around the peak; its mean over a year is zero.
    """
    doy = pd.DatetimeIndex(dates).day_of_year.to_numpy(dtype=float)
    theta = 2.0 * np.pi * (doy - peak_day) / _DAYS_PER_YEAR
    return 0.8 * np.cos(theta) + 0.2 * np.cos(2.0 * theta)


def _dark_weeks(rng: np.random.Generator, n: int, p_dark: float) -> np.ndarray:
    """A two-state Markov chain of on/dark weeks with stationary dark share ``p_dark``."""
    if p_dark <= 0:
        return np.zeros(n, dtype=bool)
    p_on = 1.0 / _DARK_RUN_WEEKS  # dark -> on
    p_off = min(1.0, p_on * p_dark / (1.0 - p_dark))  # on -> dark
    u = rng.random(n)
    dark = np.empty(n, dtype=bool)
    state = bool(u[0] < p_dark)
    for t in range(n):
        if t > 0:
            state = (u[t] >= p_on) if state else (u[t] < p_off)
        dark[t] = state
    if dark.all():  # keep at least one on-week so the touchpoint is observed at all
        dark[int(np.argmin(u))] = False
    return dark


def _spend(
    tp: TouchpointTruth, rng: np.random.Generator, season: np.ndarray, drift: float
) -> np.ndarray:
    """Weekly spend of one touchpoint, in whole cents, with mean ``tp.mean_spend``."""
    n = season.shape[0]
    t = np.arange(n, dtype=float)
    sigma = math.sqrt(math.log1p(tp.spend_cv**2))
    # log-normal week-to-week variation, clipped so that no week is absurdly large or small
    weekly = sigma * np.clip(rng.standard_normal(n), -_SPEND_Z_CLIP, _SPEND_Z_CLIP)
    period = rng.uniform(0.75, 2.5) * _WEEKS_PER_YEAR
    phase = rng.uniform(0.0, 2.0 * np.pi)
    slow = drift * np.sin(2.0 * np.pi * t / period + phase)
    dark = _dark_weeks(rng, n, tp.flighting)
    x = np.exp(weekly + slow + tp.season_corr * season)
    x[dark] = 0.0
    x *= tp.mean_spend / x.mean()
    return np.round(x, 2)


def _price_index(rng: np.random.Generator, n: int, sd: float) -> np.ndarray:
    """Price index around 1: a persistent AR(1) with standard deviation ``sd``, 4 decimals."""
    e = rng.normal(0.0, sd * math.sqrt(1.0 - _PRICE_AR**2), n)
    p = np.empty(n)
    level = rng.normal(0.0, sd)
    for t in range(n):
        level = _PRICE_AR * level + e[t] if t > 0 else level
        p[t] = level
    return np.round(1.0 + p, 4)


def spend_range(spend: np.ndarray, recent_weeks: int = RECENT_WEEKS) -> dict[str, float]:
    """Observed weekly spend: ``min``, ``max``, ``mean`` and ``recent`` (mean of the last weeks)."""
    s = np.asarray(spend, dtype=float)
    return {
        "min": round(float(s.min()), 2),
        "max": round(float(s.max()), 2),
        "mean": round(float(s.mean()), 2),
        "recent": round(float(s[-recent_weeks:].mean()), 2),
    }


def simulate(spec: WorldSpec) -> SimulatedWorld:
    """Simulate the weekly history of a world, with its truth.

    Parameters
    ----------
    spec : WorldSpec
        The world to simulate.

    Returns
    -------
    SimulatedWorld
        History (contract 2), true model (contract 3), true weekly contributions and the journey
        (contract 1). Spend and KPI are rounded to whole cents; the KPI is computed from the rounded
        spend, and the rounding of the KPI is part of the ``noise`` contribution.
    """
    n = int(spec.n_weeks)
    dates = pd.date_range(spec.start, periods=n, freq="7D")
    iso = [d.strftime("%Y-%m-%d") for d in dates]
    season = seasonal_shape(dates, spec.season_peak_day)
    weeks = np.arange(n, dtype=float)

    # one independent stream per touchpoint, then price, then noise
    streams = np.random.default_rng(spec.seed).spawn(len(spec.touchpoints) + 2)
    spend = {
        tp.id: _spend(tp, streams[i], season, spec.spend_drift)
        for i, tp in enumerate(spec.touchpoints)
    }
    price = _price_index(streams[-2], n, spec.price_sd)
    media = {tp.id: tp.contribution(spend[tp.id]) for tp in spec.touchpoints}

    parts = {
        "baseline": np.full(n, float(spec.baseline)),
        "trend": spec.baseline * spec.trend * weeks / _WEEKS_PER_YEAR,
        "seasonality": spec.baseline * spec.seasonality_amplitude * season,
        "control": spec.baseline * spec.price_coefficient * (price - 1.0),
    }
    noiseless = sum(parts.values()) + sum(media.values())
    noise = spec.noise_sd * float(np.mean(noiseless)) * streams[-1].standard_normal(n)
    kpi = np.round(noiseless + noise, 2)
    parts["noise"] = kpi - noiseless

    history = pd.DataFrame({DATE_COLUMN: iso, **spend, spec.kpi: kpi, PRICE_COLUMN: price})
    contributions = pd.DataFrame({DATE_COLUMN: iso, **media, **parts})

    total_media = float(sum(m.sum() for m in media.values()))
    responses = {}
    for tp in spec.touchpoints:
        s = spend[tp.id]
        observed = spend_range(s)
        roi = float(media[tp.id].sum() / s.sum()) if s.sum() > 0 else 0.0
        share = float(media[tp.id].sum()) / total_media if total_media > 0 else 0.0
        # rounded, so that the written model is the same on every platform
        diag = {
            "roi": round(roi, 6),
            "marginal_roi": round(float(tp.response().weekly_marginal(observed["mean"])), 6),
            "contribution_share": round(share, 6),
        }
        responses[tp.id] = tp.response(observed, diag)
    truth = ResponseModel(
        kpi=spec.kpi,
        touchpoints=responses,
        diagnostics={
            "simulated": True,
            "world": spec.name,
            "seed": int(spec.seed),
            "n_weeks": n,
            "media_share": round(total_media / float(kpi.sum()), 6),
            "noise_sd": round(float(np.std(parts["noise"])), 2),
        },
    )
    return SimulatedWorld(
        spec=spec,
        history=history,
        truth=truth,
        contributions=contributions,
        journey=journey_dict(spec),
    )


def journey_dict(spec: WorldSpec) -> dict[str, Any]:
    """The journey file (contract 1) of a world: KPI, the price control, stages and touchpoints."""
    tps = []
    for t in spec.touchpoints:
        d: dict[str, Any] = {"id": t.id, "stage": t.stage}
        if t.owner:
            d["owner"] = t.owner
        tps.append(d)
    return {
        "name": spec.name,
        "kpi": spec.kpi,
        "controls": [PRICE_COLUMN],
        "stages": list(spec.stages),
        "touchpoints": tps,
    }


def write_world(world: SimulatedWorld, out_dir: str | Path) -> dict[str, Path]:
    """Write a world's files into ``out_dir``.

    Files: ``journey.yaml``, ``history.csv``, ``true_model.json`` (the truth in contract-3 format)
    and ``true_contributions.csv`` (rounded to cents). Returns the paths by kind.
    """
    out = Path(out_dir)
    header = (
        f"# {world.spec.name}: a simulated company (optimizer.simulate, seed {world.spec.seed}).\n"
        f"# The true response curves are in true_model.json.\n"
    )
    journey_text = header + yaml.safe_dump(
        world.journey, sort_keys=False, default_flow_style=None, width=120
    )
    contributions = world.contributions.copy()
    num = contributions.columns.drop(DATE_COLUMN)
    contributions[num] = contributions[num].round(2)
    return {
        "journey": atomic_write_text(out / "journey.yaml", journey_text),
        "history": atomic_write_text(
            out / "history.csv", world.history.to_csv(index=False, lineterminator="\n")
        ),
        "true_model": write_model(world.truth, out / "true_model.json"),
        "true_contributions": atomic_write_text(
            out / "true_contributions.csv", contributions.to_csv(index=False, lineterminator="\n")
        ),
    }


# ------------------------------------------------------------------------------------------------
# worlds
# ------------------------------------------------------------------------------------------------
def _calibrated_params(
    family: str, a_mean: float, saturation_ratio: float, weekly_kpi: float, shape: float
) -> dict[str, float]:
    """Curve parameters whose response at adstocked spend ``a_mean`` is ``weekly_kpi``.

    ``saturation_ratio`` places the mean spend relative to the curve's half-way point
    (half-saturation, scale, or ``1/lam``).
    """
    k = a_mean / saturation_ratio
    if family == "hill":
        unit = float(C.hill(a_mean, 1.0, k, shape))
        return {"beta": weekly_kpi / unit, "half_saturation": k, "shape": shape}
    if family == "exponential":
        unit = float(C.exponential(a_mean, 1.0, k))
        return {"beta": weekly_kpi / unit, "scale": k}
    unit = float(C.logistic(a_mean, 1.0, 1.0 / k))
    return {"beta": weekly_kpi / unit, "lam": 1.0 / k}


def random_world(
    n_touchpoints: int = 6, seed: int = 0, *, s_curves: float = 0.0, **overrides: Any
) -> WorldSpec:
    """A random but plausible world, for benchmarks and tests.

    Touchpoints ``tp01``, ``tp02``, … cycle through the journey stages. Each has a decay in [0, 0.7],
    a response curve (about two in three Hill curves with shape 0.6–1.0, the others exponential or
    logistic: all concave unless ``s_curves`` asks for S-curves), a mean weekly spend between 5k
    and 200k, a true ROI at its mean spend between 0.3 and 5, spend variation (CV 0.3–0.7), and
    sometimes dark weeks or seasonal spend. The baseline is set so that media drives 20–40% of the
    KPI; noise is 2–8% of the mean KPI.

    Parameters
    ----------
    n_touchpoints : int
        How many touchpoints.
    seed : int
        Seed for the world's parameters and (unless overridden) its simulation.
    s_curves : float
        Share of the Hill curves that are S-shaped (shape 1.5–2.5), to exercise the MILP path.
    **overrides
        Any ``WorldSpec`` field, e.g. ``n_weeks=104`` or ``noise_sd=0.02``.

    Returns
    -------
    WorldSpec
    """
    if n_touchpoints < 1:
        raise ValueError(
            f"The 'n_touchpoints' parameter must be >= 1. Got {n_touchpoints!r} instead."
        )
    rng = np.random.default_rng([seed, 20_231_002])  # parameters apart from the simulation stream
    tps = []
    media_kpi = 0.0
    for i in range(n_touchpoints):
        u = rng.random()
        family = "hill" if u < 2 / 3 else ("exponential" if u < 5 / 6 else "logistic")
        decay = round(float(rng.uniform(0.0, 0.7)), 3)
        mean_spend = round(float(np.exp(rng.uniform(np.log(5_000), np.log(200_000)))), -2)
        roi = float(np.exp(rng.uniform(np.log(0.3), np.log(5.0))))
        shape = round(float(rng.uniform(0.6, 1.0)), 3)
        s_shape, u_s = round(float(rng.uniform(1.5, 2.5)), 3), rng.random()  # drawn either way
        if family == "hill" and u_s < s_curves:
            shape = s_shape
        ratio = float(rng.uniform(0.5, 2.0))
        a_mean = mean_spend / (1.0 - decay)
        params = _calibrated_params(family, a_mean, ratio, roi * mean_spend, shape)
        params = {k: float(f"{v:.6g}") for k, v in params.items()}
        media_kpi += roi * mean_spend
        tps.append(
            TouchpointTruth(
                id=f"tp{i + 1:02d}",
                stage=STAGES[i % len(STAGES)],
                family=family,
                params=params,
                decay=decay,
                mean_spend=mean_spend,
                spend_cv=round(float(rng.uniform(0.3, 0.7)), 3),
                flighting=round(float(rng.choice([0.0, 0.0, 0.0, 0.1, 0.2])), 2),
                season_corr=round(float(rng.choice([0.0, 0.0, 0.3, 0.5])), 2),
            )
        )
    media_share = float(rng.uniform(0.2, 0.4))
    baseline = round(media_kpi * (1.0 - media_share) / media_share, -3)
    spec = WorldSpec(
        touchpoints=tuple(tps),
        baseline=max(baseline, 1000.0),
        trend=round(float(rng.uniform(-0.02, 0.08)), 3),
        seasonality_amplitude=round(float(rng.uniform(0.05, 0.25)), 3),
        season_peak_day=int(rng.integers(1, 366)),
        price_coefficient=round(float(rng.uniform(-1.5, -0.3)), 3),
        noise_sd=round(float(rng.uniform(0.02, 0.08)), 3),
        name=f"Random world {seed}",
        seed=seed,
    )
    return replace(spec, **overrides) if overrides else spec


def sample_company() -> WorldSpec:
    """Northwind Outfitters: the bundled fictional outdoor-clothing retailer.

    Fourteen touchpoints over the seven journey stages and three years of weekly revenue (156 weeks
    from 2023-01-02), about 2.9 million a week, of which media drives about 37%. Media spend is
    about 740k a week, TV the biggest line. True ROIs over the history run from 0.3 (radio) and
    0.45 (retargeting) to 4.6 (referral programme) and 6.0 (onboarding email), the others between
    1.0 and 1.8; carry-over runs from none (checkout offers) to 0.6 (TV). Noise is 3% of mean
    revenue. Spend varies a lot and independently across touchpoints (dark weeks for most of
    them), so that a regression can tell the touchpoints apart.

    ``optimizer/sample/company.yaml`` holds its truth (touchpoints, curves, spending habits, the
    world's drivers); ``optimizer/sample/`` its files, written by ``python -m optimizer.sample.generate``.
    """
    return world_spec_from_dict(load_yaml(SAMPLE_COMPANY))


def world_spec_from_dict(d: Mapping[str, Any]) -> WorldSpec:
    """A ``WorldSpec`` from its plain form (``optimizer/sample/company.yaml``): the world's fields,
    and ``touchpoints`` as a list of ``TouchpointTruth`` fields."""
    tps = tuple(TouchpointTruth(**tp) for tp in d["touchpoints"])
    return WorldSpec(touchpoints=tps, **{k: v for k, v in d.items() if k != "touchpoints"})
