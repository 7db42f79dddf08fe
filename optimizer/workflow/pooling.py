"""Hierarchical fits across markets: each touchpoint's effect pooled towards its national level.

Every market is first fitted on its own history (``fit_model``: curve, carry-over, bootstrap
draws). Then, touchpoint by touchpoint, the markets' effects are pooled by empirical Bayes, one
level above the fit's own pooling of touchpoints:

* the effect ``θ_m`` is the logarithm of the return per dollar at the market's own mean weekly
  spend (the curve's weekly KPI there over the spend); it does not depend on the market's size, so
  markets of any size measure the same thing, and markets differ by factors, hence the log. Its
  standard error ``s_m`` is the spread of that log-return over the market's bootstrap draws;
* the markets' effects are taken as draws ``θ_m ~ N(μ, τ²)`` around the touchpoint's national level
  ``μ``; ``τ²`` (how much markets truly differ) is estimated from the data by the DerSimonian–Laird
  moment estimator, and ``μ`` as the precision-weighted mean with weights ``1 / (s_m² + τ²)``;
* each market's effect becomes its posterior mean ``θ̃_m = (τ² θ_m + s_m² μ) / (τ² + s_m²)``:
  a market whose own estimate is precise keeps it, a noisy (usually small) market borrows from the
  others, and when the markets do not differ beyond their noise (``τ² = 0``) all take ``μ``.

(``log=False`` pools the return itself rather than its logarithm; measured worse in
``benchmarks/markets.py``.) The reported ``national`` and ``pooled`` values are returns per dollar;
``tau`` is on the scale pooled (log: roughly the relative spread across markets).

The curve keeps its fitted shape and carry-over; its height (``beta``, and every draw's) is scaled
by ``θ̃_m / θ_m``. A market whose own fit found no effect (``θ_m = 0``) takes the shape of the
market closest to the national level, its spend axis rescaled to the market's own spend, at the
height that gives ``θ̃_m``. Markets with no spend on the touchpoint are left as fitted.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from optimizer.response.model import ResponseModel, Saturation, TouchpointResponse

#: a market's standard error is at least this fraction of its effect (a fit with near-identical
#: draws is not infinitely precise)
MIN_RELATIVE_SE = 0.02
#: the spend axis of each family: the parameters that scale with spend (and how)
_SPEND_PARAMS = {
    "hill": ("half_saturation", 1.0),
    "exponential": ("scale", 1.0),
    "logistic": ("lam", -1.0),
}


@dataclasses.dataclass(frozen=True)
class TouchpointPooling:
    """The pooling of one touchpoint across markets."""

    id: str
    national: float  # μ: the national return per dollar at each market's mean spend
    tau: float  # how much markets truly differ (sd of θ across markets)
    separate: Mapping[str, float]  # each market's own θ
    se: Mapping[str, float]  # its standard error
    pooled: Mapping[str, float]  # θ̃
    weight: Mapping[str, float]  # τ² / (τ² + s²): 1 keeps the market's own, 0 takes μ


def _effect(tp: TouchpointResponse, spend: float) -> float:
    return float(tp.weekly_kpi(spend)) / spend if spend > 0 else 0.0


def _draw_effects(tp: TouchpointResponse, spend: float) -> np.ndarray:
    return np.array([_effect(d, spend) for d in tp.draw_responses()])


def dersimonian_laird(theta: np.ndarray, se: np.ndarray) -> tuple[float, float]:
    """(μ, τ²) of a normal-normal model from estimates ``theta`` with standard errors ``se``."""
    w = 1.0 / se**2
    mu_fe = float(np.sum(w * theta) / np.sum(w))
    k = len(theta)
    if k < 2:
        return mu_fe, 0.0
    q = float(np.sum(w * (theta - mu_fe) ** 2))
    c = float(np.sum(w) - np.sum(w**2) / np.sum(w))
    tau2 = max(0.0, (q - (k - 1)) / c) if c > 0 else 0.0
    wr = 1.0 / (se**2 + tau2)
    return float(np.sum(wr * theta) / np.sum(wr)), tau2


def _scaled(sat: Saturation, height: float, spend_axis: float = 1.0) -> Saturation:
    """The curve times ``height``, its spend axis stretched by ``spend_axis``."""
    p = dict(sat.params)
    p["beta"] = float(p["beta"]) * height
    if spend_axis != 1.0:
        name, power = _SPEND_PARAMS[sat.family]
        p[name] = float(p[name]) * spend_axis**power
    return Saturation(sat.family, p)


def pool_markets(
    models: Mapping[str, ResponseModel], *, log: bool = True
) -> tuple[dict[str, ResponseModel], list[TouchpointPooling]]:
    """Pool every touchpoint's effect across the markets' fitted models (see the module
    docstring). Returns the pooled models (same keys) and what the pooling did per touchpoint."""
    names = list(models)
    first = models[names[0]]
    out_tps: dict[str, dict[str, TouchpointResponse]] = {
        m: dict(models[m].touchpoints) for m in names
    }
    report = []
    for tid in first.touchpoints:
        spend = {
            m: float((models[m].touchpoints[tid].spend_range or {}).get("mean", 0.0)) for m in names
        }
        live = [m for m in names if spend[m] > 0]
        if len(live) < 2:
            continue
        theta = np.array([_effect(models[m].touchpoints[tid], spend[m]) for m in live])
        se = []
        for m, th in zip(live, theta, strict=True):
            d = _draw_effects(models[m].touchpoints[tid], spend[m])
            if log:
                d = np.log(d[d > 0]) if th > 0 else d[:0]
                s = float(np.std(d, ddof=1)) if len(d) >= 2 else math.inf
                se.append(max(s, MIN_RELATIVE_SE))
            else:
                s = float(np.std(d, ddof=1)) if len(d) >= 2 else math.inf
                se.append(max(s, MIN_RELATIVE_SE * abs(th), 1e-12))
        se_a = np.array(se)
        if log:
            ok = (theta > 0) & np.isfinite(se_a)
            if ok.sum() < 2:
                continue
            mu_l, tau2 = dersimonian_laird(np.log(theta[ok]), se_a[ok])
            se_l = np.where(ok, se_a, np.inf)
            wt = np.where(ok, tau2 / (tau2 + np.where(ok, se_l, 1.0) ** 2), 0.0)
            phi = np.where(ok, np.log(np.where(theta > 0, theta, 1.0)), mu_l)
            pooled = np.exp(wt * phi + (1 - wt) * mu_l)
            mu = float(np.exp(mu_l))
            se_a = np.where(ok, se_a, np.nan)
        else:
            if not np.all(np.isfinite(se_a)):
                continue  # without bootstrap draws there is no standard error to weigh by
            mu, tau2 = dersimonian_laird(theta, se_a)
            mu = max(mu, 0.0)
            wt = tau2 / (tau2 + se_a**2)
            pooled = np.maximum(wt * theta + (1 - wt) * mu, 0.0)
        donor = live[int(np.argmin(np.where(theta > 0, np.abs(theta - mu), np.inf)))]
        for m, th, tt in zip(live, theta, pooled, strict=True):
            tp = models[m].touchpoints[tid]
            if th > 0:
                f = float(tt / th)
                curve = _scaled(tp.curve, f)
                draws = tuple((_scaled(s, f), a) for s, a in tp.draws)
                adstock = tp.adstock
            elif theta.max() > 0 and tt > 0:
                donor_tp = models[donor].touchpoints[tid]
                axis = spend[m] / spend[donor]
                h = axis * float(tt) / float(theta[live.index(donor)])
                curve = _scaled(donor_tp.curve, h, axis)
                draws = tuple((_scaled(s, h, axis), a) for s, a in donor_tp.draws)
                adstock = donor_tp.adstock
            else:
                continue
            diag = dict(tp.diagnostics)
            diag["pooling"] = {
                "roi_separate": round(float(th), 6),
                "roi_pooled": round(float(tt), 6),
                "national_roi": round(float(mu), 6),
                "tau": round(math.sqrt(tau2), 6),
                "weight": round(float(wt[live.index(m)]), 6),
            }
            out_tps[m][tid] = dataclasses.replace(
                tp, curve=curve, draws=draws, adstock=adstock, diagnostics=diag
            )
        report.append(
            TouchpointPooling(
                tid,
                float(mu),
                math.sqrt(tau2),
                dict(zip(live, theta.tolist(), strict=True)),
                dict(zip(live, se_a.tolist(), strict=True)),
                dict(zip(live, pooled.tolist(), strict=True)),
                dict(zip(live, wt.tolist(), strict=True)),
            )
        )
    pooled_models = {m: dataclasses.replace(models[m], touchpoints=out_tps[m]) for m in names}
    return pooled_models, report


def pooling_summary(report: list[TouchpointPooling]) -> list[dict[str, Any]]:
    """One row per touchpoint: national level, spread across markets, mean weight kept."""
    return [
        {
            "touchpoint": r.id,
            "national_roi": r.national,
            "tau": r.tau,
            "mean_weight": float(np.mean(list(r.weight.values()))) if r.weight else None,
            "markets": len(r.separate),
        }
        for r in report
    ]
