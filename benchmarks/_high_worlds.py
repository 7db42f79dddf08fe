"""High-information simulated worlds with known truth, for ``fit_recovery.py --regime high``.

The low-information worlds are ``optimizer.simulate.random_world`` (2-8% noise, media 20-40% of
the KPI, spend CV 0.3-0.7, mostly always on, additive seasonality). These give a fitter more to
work with, and a baseline it must get right:

- noise 3% of the mean KPI (Gaussian, weekly);
- media about 40% of the KPI (35-45%, drawn per world);
- spend per touchpoint varies week to week log-normally (CV 0.6-1.0) with on/off flighting (a
  two-state Markov chain of dark spells of about three weeks; dark 0-35% of the weeks), and a
  slow drift, independently across touchpoints;
- the baseline is *multiplicative*: ``level_t * (1 + amp * season_t) * (1 + c * (price_t - 1))``
  with ``level_t`` growing linearly (a trend), so seasonality scales with the level;
  ``price_index`` is a control column;
- true curves: hill (half the touchpoints, shape 0.6-1.0), exponential or logistic (a quarter
  each); geometric decay 0-0.8; mean adstocked spend at 0.3-2x the curve's half-way point; true
  steady-state ROI at the mean spend 0.3-5 (log-uniform); mean weekly spend 5k-200k.
- 156 weeks from 2023-01-02.

``flighted_world`` (``--regime flighted``, worlds ``fl<n>-s<seed>``) is the same generator with two
changes, and every other draw the same (``fl8-s3`` is ``hi8-s3``'s world: the same families,
decays, shapes, ROIs, mean spends, spend CVs, relative half-way factors, baseline, price and noise
streams), so that neither of the fitter's half-saturation priors is where the truth is centred by
construction:

- real flighting: each touchpoint dark in a share of the weeks drawn from U(0.3, 0.8) (instead of
  U(0, 0.35)), in flights: the same two-state Markov chain, with on-spells (bursts) of
  ``FLIGHT_WEEKS`` weeks on average and dark spells as long as the share asks (1.7 to 16 weeks on
  average; at least 10 weeks on, as in ``high_world``); the mean weekly spend over all weeks is
  the drawn one, so the on-weeks run at mean / (1 - dark share);
- each true curve's half-way point relative to the touchpoint's *operating level*, the mean of its
  true adstock (zero start) over the weeks it is on: that level is U(0.3, 2) times the half-way
  point (in ``high_world`` the mean adstocked spend over all weeks, ``mean spend / (1 - decay)``,
  is). The true steady-state ROI at the mean weekly spend is still the drawn 0.3-5.

Media contributions are additive, so the truth is a plain contract-3 model (``ResponseModel``),
evaluated by the engine's own curve functions (``optimizer.response.curves``), as in
``optimizer.simulate``. Same ``(n_touchpoints, seed)`` gives bit-identical data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from optimizer.response import curves as C
from optimizer.response.model import ResponseModel
from optimizer.simulate import TouchpointTruth, seasonal_shape, spend_range
from optimizer.vocabulary import DATE_COLUMN, STAGES

PRICE_COLUMN = "price_index"
N_WEEKS = 156
START = "2023-01-02"
NOISE_SD = 0.03
MEDIA_SHARE = (0.35, 0.45)
DECAY_MAX = 0.8
_WEEKS_PER_YEAR = 365.25 / 7.0
_DARK_RUN_WEEKS = 3.0
#: ``flighted_world``: the share of dark weeks per touchpoint, and the mean flight (on-spell) length
FLIGHTED_DARK = (0.3, 0.8)
FLIGHT_WEEKS = 4.0
#: ``high_world``'s share of dark weeks per touchpoint
HIGH_DARK = (0.0, 0.35)
#: both: the mean adstocked spend (high) or the operating level (flighted) over the curve's half-way
#: point, per touchpoint
RATIO = (0.3, 2.0)


@dataclass(frozen=True)
class HighWorld:
    """A simulated high-information world: what ``simulate`` in ``optimizer.simulate`` gives."""

    name: str
    settings: str  # the world's settings in a line
    history: pd.DataFrame  # contract 2: date, spend per touchpoint, revenue, price_index
    journey: dict[str, Any]  # contract 1
    truth: ResponseModel  # contract 3
    contributions: pd.DataFrame  # true weekly contribution per touchpoint (and the baseline)
    touchpoints: tuple[TouchpointTruth, ...]
    #: ``FLIGHT_WEEKS`` for a flighted world (its spend process's mean flight length), else None
    flight_weeks: float | None = None
    #: per touchpoint: the adstocked level its curve's half-way point is set against (high: mean
    #: spend / (1 - decay); flighted: the true adstock's mean over the weeks with spend)
    reference: tuple[float, ...] = ()


def _calibrated(
    family: str,
    a_mean: float,
    ratio: float,
    weekly_kpi: float,
    shape: float,
    a_ref: float | None = None,
) -> dict[str, float]:
    """Curve parameters with response ``weekly_kpi`` at adstocked spend ``a_mean``, where
    ``a_ref`` (default ``a_mean``) sits at ``ratio`` times the curve's half-way point (half
    saturation, scale or ``1 / lam``)."""
    k = (a_mean if a_ref is None else a_ref) / ratio
    if family == "hill":
        p = {"beta": 1.0, "half_saturation": k, "shape": shape}
    elif family == "exponential":
        p = {"beta": 1.0, "scale": k}
    else:
        p = {"beta": 1.0, "lam": 1.0 / k}
    p["beta"] = weekly_kpi / float(C.saturation(family, a_mean, p))
    return {key: float(f"{v:.6g}") for key, v in p.items()}


def _dark_weeks(
    rng: np.random.Generator, n: int, p_dark: float, flight_weeks: float | None = None
) -> np.ndarray:
    """On/off flighting: a two-state Markov chain with stationary dark share ``p_dark``; dark
    spells of ``_DARK_RUN_WEEKS`` weeks on average, or (``flight_weeks``) on-spells of that many
    weeks on average and dark spells as long as the share asks."""
    if p_dark <= 0:
        return np.zeros(n, dtype=bool)
    dark_run = _DARK_RUN_WEEKS if flight_weeks is None else flight_weeks * p_dark / (1.0 - p_dark)
    p_on = 1.0 / dark_run
    p_off = min(1.0, p_on * p_dark / (1.0 - p_dark))
    u = rng.random(n)
    dark = np.empty(n, dtype=bool)
    state = bool(u[0] < p_dark)
    for t in range(n):
        if t > 0:
            state = (u[t] >= p_on) if state else (u[t] < p_off)
        dark[t] = state
    if dark.sum() > n - 10:  # keep the touchpoint observed
        dark[np.argsort(u)[:10]] = False
    return dark


def _spend(
    rng: np.random.Generator,
    n: int,
    mean: float,
    cv: float,
    p_dark: float,
    flight_weeks: float | None = None,
) -> np.ndarray:
    """Weekly spend of mean ``mean`` over the ``n`` weeks: log-normal (CV ``cv``) with a slow
    drift, dark in a share ``p_dark`` of the weeks (``_dark_weeks``)."""
    sigma = math.sqrt(math.log1p(cv**2))
    t = np.arange(n, dtype=float)
    period = rng.uniform(0.75, 2.5) * _WEEKS_PER_YEAR
    slow = 0.15 * np.sin(2.0 * np.pi * t / period + rng.uniform(0.0, 2.0 * np.pi))
    x = np.exp(sigma * np.clip(rng.standard_normal(n), -2.5, 2.5) + slow)
    x[_dark_weeks(rng, n, p_dark, flight_weeks)] = 0.0
    return np.round(x * mean / x.mean(), 2)


def operating_level(x: np.ndarray, decay: float) -> float:
    """The mean of the geometric adstock of ``x`` (zero start, the truth's transform) over the
    weeks with spend."""
    x = np.asarray(x, dtype=float)
    a = np.asarray(C.geometric_adstock(x, decay, normalize=False), dtype=float)
    return float(a[x > 0].mean())


def high_world(n_touchpoints: int, seed: int) -> HighWorld:
    """A high-information world of ``n_touchpoints`` touchpoints and 156 weeks (module doc)."""
    return _world(n_touchpoints, seed, flighted=False)


def flighted_world(n_touchpoints: int, seed: int) -> HighWorld:
    """``high_world(n_touchpoints, seed)``'s world with real flighting and each curve's half-way
    point set against the operating level (module doc)."""
    return _world(n_touchpoints, seed, flighted=True)


def _world(n_touchpoints: int, seed: int, flighted: bool) -> HighWorld:
    flight = FLIGHT_WEEKS if flighted else None
    label = "flighted" if flighted else "high-information"
    dark_range = FLIGHTED_DARK if flighted else HIGH_DARK
    rng = np.random.default_rng([seed, n_touchpoints, 13_2026])
    n = N_WEEKS
    dates = pd.date_range(START, periods=n, freq="7D")
    tps: list[TouchpointTruth] = []
    spend: dict[str, np.ndarray] = {}
    habits: list[tuple[float, float]] = []
    refs: list[float] = []
    dark_seen: list[float] = []
    for i in range(n_touchpoints):
        u = rng.random()
        family = "hill" if u < 0.5 else ("exponential" if u < 0.75 else "logistic")
        decay = round(float(rng.uniform(0.0, DECAY_MAX)), 3)
        mean_spend = round(float(np.exp(rng.uniform(np.log(5_000), np.log(200_000)))), -2)
        roi = float(np.exp(rng.uniform(np.log(0.3), np.log(5.0))))
        shape = round(float(rng.uniform(0.6, 1.0)), 3) if family == "hill" else 1.0
        ratio = float(rng.uniform(*RATIO))
        cv = round(float(rng.uniform(0.6, 1.0)), 3)
        p_dark = round(float(rng.uniform(*dark_range)), 3)
        tid = f"tp{i + 1:02d}"
        x = _spend(
            np.random.default_rng([seed, n_touchpoints, i, 7]), n, mean_spend, cv, p_dark, flight
        )
        spend[tid] = x
        habits.append((cv, p_dark))
        dark_seen.append(float(np.mean(x == 0)))
        a_mean = float(x.mean()) / (1.0 - decay)
        refs.append(operating_level(x, decay) if flighted else a_mean)
        tps.append(
            TouchpointTruth(
                id=tid,
                stage=STAGES[i % len(STAGES)],
                family=family,
                params=_calibrated(family, a_mean, ratio, roi * float(x.mean()), shape, refs[-1]),
                decay=decay,
                mean_spend=float(x.mean()),
                spend_cv=cv,
                flighting=p_dark,
            )
        )
    media = {t.id: t.contribution(spend[t.id]) for t in tps}
    media_total = sum(media.values())
    share = float(rng.uniform(*MEDIA_SHARE))
    trend = round(float(rng.uniform(-0.02, 0.08)), 3)
    amp = round(float(rng.uniform(0.1, 0.3)), 3)
    peak = int(rng.integers(1, 366))
    price_coef = round(float(rng.uniform(-1.5, -0.3)), 3)
    # price index: a persistent AR(1) around 1, sd 3%
    e = rng.normal(0.0, 0.03 * math.sqrt(1.0 - 0.8**2), n)
    p = np.empty(n)
    level = rng.normal(0.0, 0.03)
    for t in range(n):
        level = 0.8 * level + e[t] if t > 0 else level
        p[t] = level
    price = np.round(1.0 + p, 4)
    weeks = np.arange(n, dtype=float)
    shape_t = (
        (1.0 + trend * weeks / _WEEKS_PER_YEAR)
        * (1.0 + amp * seasonal_shape(dates, peak))
        * (1.0 + price_coef * (price - 1.0))
    )
    # the baseline's scale makes media `share` of the noiseless KPI over the history
    b0 = float(media_total.sum()) * (1.0 - share) / share / float(shape_t.sum())
    baseline = b0 * shape_t
    noiseless = baseline + media_total
    noise = NOISE_SD * float(noiseless.mean()) * rng.standard_normal(n)
    kpi = np.round(noiseless + noise, 2)
    iso = [d.strftime("%Y-%m-%d") for d in dates]
    history = pd.DataFrame({DATE_COLUMN: iso, **spend, "revenue": kpi, PRICE_COLUMN: price})
    contributions = pd.DataFrame({DATE_COLUMN: iso, **media, "baseline": baseline})
    truth = ResponseModel(
        kpi="revenue",
        touchpoints={t.id: t.response(spend_range(spend[t.id])) for t in tps},
        diagnostics={"simulated": True, "world": f"{label} {seed}", "seed": seed},
    )
    journey = {
        "name": f"{label.capitalize()} world {seed}",
        "kpi": "revenue",
        "controls": [PRICE_COLUMN],
        "touchpoints": [{"id": t.id, "stage": t.stage} for t in tps],
    }
    fams = {f: sum(t.family == f for t in tps) for f in ("hill", "exponential", "logistic")}
    decays = [t.decay for t in tps]
    dark = (
        f"dark {min(dark_seen):.0%}-{max(dark_seen):.0%} of weeks (flights of {flight:g} wk); "
        "half-way points against the operating level"
        if flight
        else f"dark {min(h[1] for h in habits):.0%}-{max(h[1] for h in habits):.0%} of weeks"
    )
    settings = (
        f"{label}: {n_touchpoints} tp, {n} wk; decay {min(decays):.2f}-"
        f"{max(decays):.2f}; curves {'/'.join(f'{k} {f[:3]}' for f, k in fams.items() if k)}; "
        f"media {float(media_total.sum()) / float(kpi.sum()):.0%} of KPI; noise "
        f"{NOISE_SD:.0%}; spend CV {min(h[0] for h in habits):.2f}-"
        f"{max(h[0] for h in habits):.2f}; {dark}; seasonality x{amp:.2f} multiplicative; "
        f"trend {trend:+.1%}/yr; price coef {price_coef}"
    )
    return HighWorld(
        f"{'fl' if flighted else 'hi'}{n_touchpoints}-s{seed}",
        settings,
        history,
        journey,
        truth,
        contributions,
        tuple(tps),
        flight,
        tuple(refs),
    )
