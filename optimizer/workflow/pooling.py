"""Hierarchical fits across markets: each touchpoint's effect pooled towards its national level.

Every market is first fitted on its own history (``fit_model``: curve, carry-over, posterior
draws). Then, touchpoint by touchpoint, the markets' effects are pooled by empirical Bayes, one
level above the fit's own pooling of touchpoints:

* the effect ``θ_m`` is the logarithm of the touchpoint's **marginal** return per dollar at the
  market's own mean weekly spend (steady state): what the allocation weighs against every other
  line item. It does not depend on the market's size (a market twice as big, with curves twice as
  wide and high, has the same marginal return at its twice-as-big spend), and markets differ by
  factors, hence the log. (The average return at the mean spend, pooled before, moved the
  marginal return by the fitted shape's error as well: measured worse, even with the true
  average returns; benchmarks/README.md.)
* its standard error ``s_m`` comes from the fit's posterior by the delta method: the spread of the
  marginal return over the model's draws (the Laplace posterior at the MAP, with the fitter's
  calibrated inflation) divided by the marginal return itself. Measured on simulated worlds
  (``benchmarks/markets.py``): the z-scores ``(θ_m − θ_true) / s_m`` spread about 1;
* the markets' effects are taken as draws ``θ_m ~ N(μ, τ²)`` around the touchpoint's national level
  ``μ``, ``μ`` the markets' plain mean and ``τ²`` (how much markets truly differ) the
  method-of-moments estimate ``max(0, var(θ) − mean(s²))`` (Hedges): both with equal weights,
  because a market's relative standard error falls as its estimate rises, and precision weights
  then lean towards the overestimated markets (measured: the precision-weighted DerSimonian–Laird
  version captured less in both regimes of the benchmark);
* each market's effect becomes its posterior mean ``θ̃_m = (τ² θ_m + s_m² μ) / (τ² + s_m²)``:
  a market whose own estimate is precise keeps it, a noisy (usually small) market borrows from the
  others, and when the markets do not differ beyond their noise (``τ² = 0``) all take ``μ``.

The reported ``national`` and ``pooled`` values are marginal returns per dollar (``exp`` of the
log); ``tau`` is on the log scale (roughly the relative spread across markets).

The curve keeps its fitted shape and carry-over; its height (``beta``, and every draw's) is scaled
by ``exp(θ̃_m − θ_m)``. A market whose own fit found no effect (``θ_m`` zero) takes the shape of the
market closest to the national level, its spend axis rescaled to the market's own spend, at the
height that gives ``θ̃_m = μ``. Markets with no spend on the touchpoint are left as fitted, and a
touchpoint is left alone when fewer than two markets have an effect with a standard error (a fit
without draws has none).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping

import numpy as np

from optimizer.response.model import ResponseModel, Saturation, TouchpointResponse

#: a market's standard error (log scale) is at least this: a fit with near-identical draws is not
#: infinitely precise
MIN_SE = 0.02
#: the spend axis of each family: the parameters that scale with spend (and how)
_SPEND_PARAMS = {
    "hill": ("half_saturation", 1.0),
    "exponential": ("scale", 1.0),
    "logistic": ("lam", -1.0),
}


@dataclasses.dataclass(frozen=True)
class TouchpointPooling:
    """The pooling of one touchpoint across markets (returns are marginal returns per dollar at
    each market's mean weekly spend)."""

    id: str
    national: float  # exp(μ)
    tau: float  # how much markets truly differ (sd of log θ across markets)
    separate: Mapping[str, float]  # each market's own marginal return
    se: Mapping[str, float]  # the standard error of its log
    pooled: Mapping[str, float]  # exp(θ̃)
    weight: Mapping[str, float]  # τ² / (τ² + s²): 1 keeps the market's own, 0 takes μ


def marginal_effect(tp: TouchpointResponse, spend: float) -> float:
    """The marginal return per dollar at a weekly spend (steady state)."""
    return float(tp.weekly_marginal(spend)) if spend > 0 else 0.0


def log_effect_se(tp: TouchpointResponse, spend: float) -> float:
    """The standard error of the log marginal return at ``spend``, by the delta method over the
    model's draws (``inf`` without two draws or without an effect)."""
    theta = marginal_effect(tp, spend)
    draws = tp.draw_responses()
    if theta <= 0 or len(draws) < 2:
        return math.inf
    d = np.array([marginal_effect(x, spend) for x in draws])
    return max(float(np.std(d, ddof=1)) / theta, MIN_SE)


def moment_estimates(theta: np.ndarray, se: np.ndarray) -> tuple[float, float]:
    """(μ, τ²) of a normal-normal model ``θ_m ~ N(μ, τ² + s_m²)`` by the method of moments with
    equal weights (Hedges): ``μ`` the mean, ``τ² = max(0, var(θ) − mean(s²))``."""
    mu = float(np.mean(theta))
    if len(theta) < 2:
        return mu, 0.0
    return mu, max(0.0, float(np.var(theta, ddof=1)) - float(np.mean(se**2)))


def _scaled(sat: Saturation, height: float, spend_axis: float = 1.0) -> Saturation:
    """The curve times ``height``, its spend axis stretched by ``spend_axis``."""
    p = dict(sat.params)
    p["beta"] = float(p["beta"]) * height
    if spend_axis != 1.0:
        name, power = _SPEND_PARAMS[sat.family]
        p[name] = float(p[name]) * spend_axis**power
    return Saturation(sat.family, p)


def pool_markets(
    models: Mapping[str, ResponseModel],
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
        tps = {m: models[m].touchpoints[tid] for m in live}
        theta = np.array([marginal_effect(tps[m], spend[m]) for m in live])
        se = np.array([log_effect_se(tps[m], spend[m]) for m in live])
        ok = (theta > 0) & np.isfinite(se)
        if ok.sum() < 2:
            continue
        log_theta = np.log(np.where(ok, theta, 1.0))
        mu_l, tau2 = moment_estimates(log_theta[ok], se[ok])
        wt = np.where(ok, tau2 / (tau2 + np.where(ok, se, 1.0) ** 2), 0.0)
        pooled = np.exp(np.where(ok, wt * log_theta + (1 - wt) * mu_l, mu_l))
        mu = math.exp(mu_l)
        donor = live[int(np.argmin(np.where(ok, np.abs(log_theta - mu_l), np.inf)))]
        for k, m in enumerate(live):
            tp, th, tt = tps[m], float(theta[k]), float(pooled[k])
            if ok[k]:
                f = tt / th
                curve = _scaled(tp.curve, f)
                draws = tuple((_scaled(s, f), a) for s, a in tp.draws)
                adstock = tp.adstock
            elif th <= 0:  # no effect found: the donor's shape at the national level
                donor_tp = tps[donor]
                axis = spend[m] / spend[donor]
                h = axis * tt / float(theta[live.index(donor)])  # (h / axis) θ_donor = tt
                curve = _scaled(donor_tp.curve, h, axis)
                draws = tuple((_scaled(s, h, axis), a) for s, a in donor_tp.draws)
                adstock = donor_tp.adstock
            else:  # an effect without a standard error (no draws): kept as fitted
                wt[k], pooled[k] = 1.0, th
                continue
            diag = dict(tp.diagnostics)
            diag["pooling"] = {
                "marginal_roi_separate": round(th, 6),
                "marginal_roi_pooled": round(tt, 6),
                "national_marginal_roi": round(mu, 6),
                "se_log": round(float(se[k]), 6) if math.isfinite(se[k]) else None,
                "tau": round(math.sqrt(tau2), 6),
                "weight": round(float(wt[k]), 6),
            }
            out_tps[m][tid] = dataclasses.replace(
                tp, curve=curve, draws=draws, adstock=adstock, diagnostics=diag
            )
        report.append(
            TouchpointPooling(
                tid,
                mu,
                math.sqrt(tau2),
                dict(zip(live, theta.tolist(), strict=True)),
                dict(zip(live, se.tolist(), strict=True)),
                dict(zip(live, pooled.tolist(), strict=True)),
                dict(zip(live, wt.tolist(), strict=True)),
            )
        )
    pooled_models = {m: dataclasses.replace(models[m], touchpoints=out_tps[m]) for m in names}
    return pooled_models, report
