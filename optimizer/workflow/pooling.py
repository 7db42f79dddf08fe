"""Hierarchical fits across markets: each touchpoint's effect and shape pooled towards its
national level.

Every market is first fitted on its own history (``fit_model``: curve, carry-over, posterior
draws). Then, touchpoint by touchpoint, two numbers of each market's curve at the market's own
mean weekly spend are pooled across the markets by empirical Bayes, one level above the fit's own
pooling of touchpoints:

* the effect ``θ_m``: the log of the **marginal** return per dollar there (steady state), what
  the allocation weighs against every other line item. It does not depend on the market's size
  (a market twice as big, with a curve twice as wide and high, has the same marginal return at its
  twice-as-big spend). (The average return, pooled before, moved the marginal return by the
  fitted shape's error as well: measured worse even with the true average returns;
  benchmarks/README.md.)
* the shape ``η_m``: the log of the curve's elasticity there, ``x f'(x) / f(x)`` (1 for a straight
  line, towards 0 as it saturates), also size-free. Pooling the effect alone would scale the
  height of a curve the fit found saturated by the whole factor, and its KPI with it (measured:
  a plan's forecast media KPI up to 9.5 times its true one); with the shape pooled too, the
  average return (marginal over elasticity) is pooled as well.

For each, the standard error ``s_m`` comes from the fit's posterior by the delta method: the
spread of the quantity over the model's draws (the Laplace posterior at the MAP, with the fitter's
calibrated inflation) divided by its value. The markets' values are taken as draws ``N(μ, τ²)``
around the touchpoint's national level ``μ``: the markets' mean **weighted by their mean spend on
the touchpoint** (the log marginal return of the touchpoint's national dollar), and ``τ²`` (how
much markets truly differ) the method-of-moments estimate with the same fixed weights ``a``,
``max(0, (Σ a (x − μ)² − Σ a (1 − a) s²) / (1 − Σ a²))`` (Hedges' ``var − mean(s²)`` when the
weights are equal). The weights are the markets' spend, not their precision: a market's relative
standard error falls as its estimate rises, so precision weights lean towards the overestimated
markets (measured: the precision-weighted DerSimonian–Laird version captured less in both regimes
of ``benchmarks/markets.py`` then, and a precision-weighted national level with a REML τ² less than
the plain mean in base and sparse), while spend does not
depend on the fit's error and a big market's history says more. The plain mean used before let
small markets' overestimates pull the big markets' values (measured: the biggest third's error rose
with pooling; spend weights raised the mean and worst capture in all three regimes and lowered the
biggest and smallest thirds' errors; benchmarks/README.md). Each market's value becomes its
posterior mean ``(τ² x_m + s_m² μ) / (τ² + s_m²)``, with standard error
``sqrt(w s_m² + (1 − w)² Var(μ))``, ``w = τ² / (τ² + s_m²)``, ``Var(μ) = Σ a² (τ² + s²)``: a market
whose own estimate is precise keeps it, a noisy (usually small) market borrows from the others,
and when the markets do not differ beyond their noise (``τ² = 0``) all take ``μ``.

The curve keeps its family and carry-over; its spend axis is stretched to give the pooled
elasticity and its height (``beta``, and every draw's alike) scaled to give the pooled marginal
return. A market whose own fit found no effect takes the shape of the market closest to the
national level, its spend axis rescaled to the market's own spend, at the national marginal
return. Markets with no spend on the touchpoint are left as fitted, and a touchpoint is left alone
when fewer than two markets have an effect with a standard error (a fit without draws has none).
The reported ``national`` and ``pooled`` values are marginal returns per dollar (``exp`` of the
log); ``tau`` is on the log scale (roughly the relative spread across markets).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping

import numpy as np
from scipy.optimize import brentq

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
    each market's mean weekly spend; elasticities ``x f'(x) / f(x)`` there)."""

    id: str
    national: float  # exp(μ)
    tau: float  # how much markets truly differ (sd of log θ across markets)
    separate: Mapping[str, float]  # each market's own marginal return
    se: Mapping[str, float]  # the standard error of its log
    pooled: Mapping[str, float]  # exp(θ̃)
    weight: Mapping[str, float]  # τ² / (τ² + s²): 1 keeps the market's own, 0 takes μ
    elasticity: Mapping[str, float] = dataclasses.field(default_factory=dict)  # own, pooled
    elasticity_pooled: Mapping[str, float] = dataclasses.field(default_factory=dict)
    elasticity_tau: float = 0.0
    se_pooled: Mapping[str, float] = dataclasses.field(default_factory=dict)  # of log(pooled)


def marginal_effect(tp: TouchpointResponse, spend: float) -> float:
    """The marginal return per dollar at a weekly spend (steady state)."""
    return float(tp.weekly_marginal(spend)) if spend > 0 else 0.0


def elasticity(tp: TouchpointResponse, spend: float) -> float:
    """``x f'(x) / f(x)`` at a weekly spend: the curve's shape there (1 linear, towards 0 as it
    saturates), whatever its height; 0 without a response."""
    kpi = float(tp.weekly_kpi(spend)) if spend > 0 else 0.0
    return spend * float(tp.weekly_marginal(spend)) / kpi if kpi > 0 else 0.0


def _log_se(point: float, draws: list[float]) -> float:
    """The delta-method standard error of ``log(point)`` from the values of its draws (``inf``
    without two draws or without a positive point)."""
    if point <= 0 or len(draws) < 2:
        return math.inf
    return max(float(np.std(draws, ddof=1)) / point, MIN_SE)


def log_effect_se(tp: TouchpointResponse, spend: float) -> float:
    """The standard error of the log marginal return at ``spend``, by the delta method over the
    model's draws (``inf`` without two draws or without an effect)."""
    return _log_se(
        marginal_effect(tp, spend), [marginal_effect(d, spend) for d in tp.draw_responses()]
    )


def moment_estimates(
    theta: np.ndarray, se: np.ndarray, weights: np.ndarray | None = None
) -> tuple[float, float]:
    """(μ, τ²) of a normal-normal model ``θ_m ~ N(μ, τ² + s_m²)`` by the method of moments with
    fixed weights ``a_m`` (summing to 1; default equal): ``μ = Σ a θ`` and, since
    ``E[Σ a (θ − μ)²] = (1 − Σ a²) τ² + Σ a (1 − a) s²``,
    ``τ² = max(0, (Σ a (θ − μ)² − Σ a (1 − a) s²) / (1 − Σ a²))``. With equal weights this is
    Hedges' ``var(θ) − mean(s²)``."""
    a = np.full(len(theta), 1.0 / len(theta)) if weights is None else weights / np.sum(weights)
    mu = float(np.sum(a * theta))
    if len(theta) < 2:
        return mu, 0.0
    q = float(np.sum(a * (theta - mu) ** 2))
    noise = float(np.sum(a * (1 - a) * se**2))
    return mu, max(0.0, (q - noise) / (1.0 - float(np.sum(a**2))))


def _shrink(
    x: np.ndarray, se: np.ndarray, ok: np.ndarray, spend: np.ndarray
) -> tuple[np.ndarray, np.ndarray, float, float, np.ndarray]:
    """Posterior means of ``x`` (markets ``ok`` only; the others take μ), the weights kept of
    their own, μ (weighted by the markets' ``spend``), τ², and each posterior mean's standard
    error: ``w s²`` (the market's own share) plus ``(1 − w)²`` times the variance of μ."""
    a = np.where(ok, spend, 0.0)
    a = a / a.sum()
    mu, tau2 = moment_estimates(x[ok], se[ok], a[ok])
    s2 = np.where(ok, se, 1.0) ** 2
    w = np.where(ok, tau2 / (tau2 + s2), 0.0)
    var_mu = float(np.sum(a[ok] ** 2 * (tau2 + s2[ok])))
    post_se = np.sqrt(np.where(ok, w * s2, 0.0) + (1 - w) ** 2 * var_mu)
    return np.where(ok, w * x + (1 - w) * mu, mu), w, mu, tau2, post_se


def _scaled(sat: Saturation, height: float, spend_axis: float = 1.0) -> Saturation:
    """The curve times ``height``, its spend axis stretched by ``spend_axis``."""
    p = dict(sat.params)
    p["beta"] = float(p["beta"]) * height
    if spend_axis != 1.0:
        name, power = _SPEND_PARAMS[sat.family]
        p[name] = float(p[name]) * spend_axis**power
    return Saturation(sat.family, p)


def _stretch_to(tp: TouchpointResponse, spend: float, target: float) -> float:
    """The stretch of the curve's spend axis that gives elasticity ``target`` at ``spend`` (1 when
    none in a factor e^±8 does: an S-curve's elasticity need not be monotone)."""

    def gap(log_axis: float) -> float:
        t = dataclasses.replace(tp, curve=_scaled(tp.curve, 1.0, math.exp(log_axis)))
        return math.log(max(elasticity(t, spend), 1e-300)) - math.log(target)

    lo, hi = gap(-8.0), gap(8.0)
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo * hi > 0:
        return 1.0
    return math.exp(float(brentq(gap, -8.0, 8.0, xtol=1e-12)))


def pool_markets(
    models: Mapping[str, ResponseModel], *, weights: str = "spend"
) -> tuple[dict[str, ResponseModel], list[TouchpointPooling]]:
    """Pool every touchpoint's effect and shape across the markets' fitted models (see the
    module docstring). Returns the pooled models (same keys) and what the pooling did per
    touchpoint. ``weights``: ``"spend"`` (the national level weighted by each market's mean spend
    on the touchpoint) or ``"equal"`` (the plain mean: the version before, kept for
    ``benchmarks/markets.py`` to measure against)."""
    if weights not in ("spend", "equal"):
        raise ValueError(f"weights must be 'spend' or 'equal', got {weights!r}")
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
        elast = np.array([elasticity(tps[m], spend[m]) for m in live])
        se, se_e = np.full(len(live), math.inf), np.full(len(live), math.inf)
        for k, m in enumerate(live):
            own = tps[m].draw_responses()  # the plans' draws (the Laplace posterior's spread)
            se[k] = _log_se(theta[k], [marginal_effect(d, spend[m]) for d in own])
            se_e[k] = _log_se(elast[k], [elasticity(d, spend[m]) for d in own])
        ok = (theta > 0) & np.isfinite(se)
        if ok.sum() < 2:
            continue
        ok_e = ok & (elast > 0) & np.isfinite(se_e)
        log_theta = np.log(np.where(ok, theta, 1.0))
        size = np.array([spend[m] if weights == "spend" else 1.0 for m in live])
        pooled_l, wt, mu_l, tau2, post_se = _shrink(log_theta, se, ok, size)
        log_e = np.log(np.where(ok_e, elast, 1.0))
        if ok_e.sum() >= 2:
            pooled_e, wt_e, _, tau2_e, _ = _shrink(log_e, se_e, ok_e, size)
            pooled_e = np.where(ok_e, pooled_e, log_e)
        else:
            pooled_e, wt_e, tau2_e = log_e, np.ones(len(live)), 0.0
        pooled = np.exp(pooled_l)
        mu = math.exp(mu_l)
        donor = live[int(np.argmin(np.where(ok, np.abs(log_theta - mu_l), np.inf)))]
        for k, m in enumerate(live):
            tp, th, tt = tps[m], float(theta[k]), float(pooled[k])
            if ok[k]:
                axis = _stretch_to(tp, spend[m], math.exp(pooled_e[k])) if ok_e[k] else 1.0
                stretched = dataclasses.replace(tp, curve=_scaled(tp.curve, 1.0, axis))
                h = tt / marginal_effect(stretched, spend[m])
                curve = _scaled(tp.curve, h, axis)
                draws = tuple((_scaled(s, h, axis), a) for s, a in tp.draws)
                shown = tuple((_scaled(s, h, axis), a) for s, a in tp.interval_draws)
                band = tuple((_scaled(s, h, axis), a) for s, a in tp.band_draws)
                adstock = tp.adstock
            elif th <= 0:  # no effect found: the donor's shape at the national level
                donor_tp = tps[donor]
                axis = spend[m] / spend[donor]
                h = axis * tt / float(theta[live.index(donor)])  # (h / axis) θ_donor = tt
                curve = _scaled(donor_tp.curve, h, axis)
                draws = tuple((_scaled(s, h, axis), a) for s, a in donor_tp.draws)
                shown = tuple((_scaled(s, h, axis), a) for s, a in donor_tp.interval_draws)
                band = tuple((_scaled(s, h, axis), a) for s, a in donor_tp.band_draws)
                adstock = donor_tp.adstock
            else:  # an effect without a standard error (no draws): kept as fitted
                wt[k], pooled[k], post_se[k] = 1.0, th, math.inf
                continue
            new = dataclasses.replace(
                tp, curve=curve, draws=draws, interval_draws=shown, band_draws=band, adstock=adstock
            )
            diag = dict(tp.diagnostics)
            diag["pooling"] = {
                "marginal_roi_separate": round(th, 6),
                "marginal_roi_pooled": round(tt, 6),
                "national_marginal_roi": round(mu, 6),
                "se_log": round(float(se[k]), 6) if math.isfinite(se[k]) else None,
                "se_log_pooled": round(float(post_se[k]), 6),
                "tau": round(math.sqrt(tau2), 6),
                "weight": round(float(wt[k]), 6),
                "elasticity_separate": round(float(elast[k]), 6),
                "elasticity_pooled": round(elasticity(new, spend[m]), 6),
                "elasticity_tau": round(math.sqrt(tau2_e), 6),
                "elasticity_weight": round(float(wt_e[k]), 6),
            }
            out_tps[m][tid] = dataclasses.replace(new, diagnostics=diag)
        report.append(
            TouchpointPooling(
                tid,
                mu,
                math.sqrt(tau2),
                dict(zip(live, theta.tolist(), strict=True)),
                dict(zip(live, se.tolist(), strict=True)),
                dict(zip(live, pooled.tolist(), strict=True)),
                dict(zip(live, wt.tolist(), strict=True)),
                dict(zip(live, elast.tolist(), strict=True)),
                {m: elasticity(out_tps[m][tid], spend[m]) for m in live},
                math.sqrt(tau2_e),
                dict(zip(live, post_se.tolist(), strict=True)),
            )
        )
    pooled_models = {m: dataclasses.replace(models[m], touchpoints=out_tps[m]) for m in names}
    return pooled_models, report
