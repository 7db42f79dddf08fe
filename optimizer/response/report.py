"""Last step of the fit: curves, draws and coefficients -> ``ResponseModel`` with diagnostics.

Whatever produced the curves (the MAP fit or the grid refits), ``build_model`` writes the same
``model.json`` contract: per touchpoint its curve, adstock, spend range, draws and diagnostics
(contribution, ROI, marginal ROI, their 80% intervals over the draws, warnings), and at the top
the fit's quality, the lift tests' agreement and the baseline.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from optimizer.response.design import RECENT_WEEKS, _fmt
from optimizer.response.model import Adstock, ResponseModel, Saturation, TouchpointResponse
from optimizer.response.prepare import Design


def _mape(y: np.ndarray, yhat: np.ndarray) -> float | None:
    mask = np.abs(y) > 1e-12
    if not mask.any():
        return None
    return float(np.mean(np.abs(y[mask] - yhat[mask]) / np.abs(y[mask])))


def _nrmse(y: np.ndarray, yhat: np.ndarray) -> float | None:
    span = float(y.max() - y.min()) if y.size else 0.0
    if span <= 0:
        return None
    return float(np.sqrt(np.mean((y - yhat) ** 2)) / span)


def _interval(values: np.ndarray) -> list[float] | None:
    v = values[np.isfinite(values)]
    if v.size < 2:
        return None
    return [float(np.quantile(v, 0.1)), float(np.quantile(v, 0.9))]


@dataclass
class Fitted:
    """What a fitting method hands to ``build_model``, per searched touchpoint ``i``:
    ``curves[i] = (saturation with beta, adstock, description of the transforms)``, its draws and
    the warnings about its transforms; plus the nuisance groups' coefficients, the baseline, the
    fitted KPI, the holdout errors and the method's own diagnostics and options."""

    curves: dict[int, tuple[Saturation, Adstock, dict[str, Any]]]
    draws: dict[int, list[tuple[Saturation, Adstock]]]
    group_coef: np.ndarray
    base: np.ndarray
    yfit: np.ndarray
    mape: float | None
    nrmse: float | None
    method: str
    cv_rmse: float | None = None
    pooled: float | None = None
    noise_sd: float | None = None
    edge_warnings: dict[int, list[str]] = field(default_factory=dict)
    diagnostics: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    #: the draws the printed intervals are read from where they differ from ``draws`` (which the
    #: plans use; ``drawsets.py``): empty, the intervals come from ``draws``
    interval_draws: dict[int, list[tuple[Saturation, Adstock]]] = field(default_factory=dict)
    #: the draws every band of a KPI level and the printed ROI interval are read from where they
    #: differ from ``draws`` (``drawsets.roi_set``; model.json ``band_draws``): empty, they come
    #: from ``draws``
    band_draws: dict[int, list[tuple[Saturation, Adstock]]] = field(default_factory=dict)


def _response_sum(sat: Saturation, ad: Adstock, x: np.ndarray) -> float:
    return float(np.sum(sat(ad.transform(x))))


def build_model(
    d: Design, f: Fitted, *, seed: int, n_bootstrap: int, t0: float, record_time: bool
) -> ResponseModel:
    tps = d.tps
    X, y, n = d.X, d.y, d.n
    spec = d.spec
    journey = d.history.journey
    slot = d.slots
    warnings = list(d.warnings)
    curves_out: dict[int, tuple[Saturation, Adstock]] = {}
    for i in range(len(tps)):
        if i in f.curves:
            sat, ad, _ = f.curves[i]
        else:
            c = d.grid[d.start]
            sat = Saturation(c.family, {"beta": 0.0, **c.params(d.mean_ad(i, c.decay))})
            ad = Adstock(decay=c.decay)
        curves_out[i] = (sat, ad)
    contrib = {i: np.asarray(sat(ad.transform(X[:, i]))) for i, (sat, ad) in curves_out.items()}
    group_contrib = [float(f.group_coef[g]) * d.G[:, g] for g in range(d.G.shape[1])]
    unattributed = [dict(u) for u in d.unattributed]
    for g, u in enumerate(unattributed):
        u["coef"] = float(f.group_coef[g])
    media_total = float(
        sum(c.sum() for c in contrib.values()) + sum(c.sum() for c in group_contrib)
    )
    for g, u in enumerate(unattributed):
        members = [tps.index(journey.touchpoint(m)) for m in u["members"]]
        spend = float(X[:, members].sum())
        u["contribution"] = float(group_contrib[g].sum())
        u["contribution_share"] = u["contribution"] / media_total if media_total > 0 else 0.0
        u["roi"] = u["contribution"] / spend if spend > 0 else None

    sst = float(((y - y.mean()) ** 2).sum())
    r2 = 1.0 - float(((y - f.yfit) ** 2).sum()) / sst

    out: dict[str, TouchpointResponse] = {}
    n_shown = max((len(v) for v in f.interval_draws.values()), default=0)
    n_band = max((len(v) for v in f.band_draws.values()), default=0)
    for i, t in enumerate(tps):
        sat, ad = curves_out[i]
        x = X[:, i]
        recent = float(x[-RECENT_WEEKS:].mean())
        lo, hi = float(x.min()), float(x.max())
        spend_range = {"min": lo, "max": hi, "mean": float(x.mean()), "recent": recent}
        draws = list(f.draws.get(i, ()))
        shown = list(f.interval_draws.get(i, ()))
        band = list(f.band_draws.get(i, ()))
        if i not in slot:
            flat = (Saturation(sat.family, {**sat.params, "beta": 0.0}), ad)
            draws = [flat] * n_bootstrap
            shown = [flat] * n_shown if n_shown else []
            band = [flat] * n_band if n_band else []
        tr_ = TouchpointResponse(
            t.id,
            t.stage,
            sat,
            ad,
            spend_range,
            tuple(draws),
            interval_draws=tuple(shown),
            band_draws=tuple(band),
        )
        total_spend = float(x.sum())
        total_c = float(contrib[i].sum())
        roi = total_c / total_spend if total_spend > 0 else None
        mroi = float(tr_.weekly_marginal(recent)) if sat.beta > 0 else 0.0
        mean_x = float(x.mean())
        steady = float(tr_.weekly_kpi(mean_x)) / mean_x if mean_x > 0 else None
        w: list[str] = []
        diag: dict[str, Any] = {
            "identifiable": d.ident[i],
            "reason": d.reasons[i],
            "contribution": total_c,
            "contribution_share": total_c / media_total if media_total > 0 else 0.0,
            "roi": roi,
            "marginal_roi": mroi,
            "steady_state_roi": steady,
            "weeks_with_spend": int((x > 0).sum()),
        }
        if d.by_tests[i]:
            diag["identified_by"] = "lift tests"
            w.append(
                f"not identifiable from the history ({d.reasons[i]}); kept because "
                f"{d.n_tests_of[i]} lift test(s) measure it: its beta comes from the tests, its "
                "curve shape from the prior"
            )
        if i in slot:
            diag["search"] = dict(f.curves[i][2])
            # the marginal ROI's interval from the intervals' draws (drawn in the marginal return
            # at the mean spend, what they are calibrated for); the ROI's from the bands' draws
            # (the interval draws do not pin a curve's level): under pool_draws="intervals" the
            # plans' draws each at its own pooling weight (f.band_draws), else the plans' own;
            # the warning from the plans' draws (docs/response-models.md)
            if draws:
                bd = np.array([s_.beta for s_, _ in draws])
                if total_spend > 0:
                    roi_d = band or draws
                    dc = np.array([_response_sum(s_, a_, x) for s_, a_ in roi_d])
                    diag["roi_interval_80"] = _interval(dc / total_spend)
                    if roi_d is not draws:
                        diag["roi_interval_draws"] = "pooling_posterior"
                if recent > 0:
                    dm = [float(r.weekly_marginal(recent)) for r in tr_.interval_draw_responses()]
                    diag["marginal_roi_interval_80"] = _interval(np.array(dm))
                zero_share = float(np.mean(bd <= 0))
                if sat.beta > 0 and zero_share >= 0.25:
                    w.append(
                        f"effect uncertain: beta is zero in {zero_share:.0%} of the "
                        f"{len(draws)} draws"
                    )
            if sat.beta <= 0:
                w.append(
                    f"beta collapsed to zero: no detectable effect on {spec.id!r}; "
                    "the curve is flat"
                )
            w.extend(f.edge_warnings.get(i, ()))
            if diag["weeks_with_spend"] < 8:
                w.append(
                    f"spend in only {diag['weeks_with_spend']} weeks: the curve rests on few points"
                )
        else:
            w.append(f"not identifiable: {d.reasons[i]}")
        if i in slot and lo > 0.2 * float(x.mean()):
            w.append(
                f"spend never falls below {lo / float(x.mean()):.0%} of its mean: the ROI "
                "extrapolates the curve down to zero spend; the marginal ROI is firmer"
            )
        if hi > lo and recent > lo + 0.9 * (hi - lo):
            w.append(
                f"recent spend ({_fmt(recent)}/week) is beyond 90% of the observed range "
                f"({_fmt(lo)} to {_fmt(hi)}): more spend is extrapolation"
            )
        diag["warnings"] = w
        out[t.id] = replace(tr_, diagnostics=diag)

    cal_diag: dict[str, Any] | None = None
    if d.tests:
        cal_tests: list[dict[str, Any]] = []
        for lt in d.tests:
            i = d.tp_index[lt.touchpoint]
            row: dict[str, Any] = {k: v for k, v in lt.to_dict().items() if k != "kpi"}
            if i in slot and lt in d.used:
                sat, ad = curves_out[i]
                x = X[:, i]
                x1 = x + lt.delta(n)
                model_lift = _response_sum(sat, ad, x1) - _response_sum(sat, ad, x)
                row["used"] = True
                dr = f.band_draws.get(i) or f.draws.get(i, [])  # a band of a KPI level
                if dr:
                    dl = np.array(
                        [_response_sum(s_, a_, x1) - _response_sum(s_, a_, x) for s_, a_ in dr]
                    )
                    row["model_lift_interval_80"] = _interval(dl)
            else:
                model_lift = 0.0
                row["used"] = False
                row["reason"] = f"touchpoint not identifiable: {d.reasons[i]}"
            z = (lt.kpi_lift - model_lift) / lt.kpi_lift_se
            row["model_lift"] = model_lift
            row["z"] = z
            cal_tests.append(row)
            if row["used"] and abs(z) > 2:
                warnings.append(
                    f"lift test in row {lt.row} ({lt.touchpoint}, {lt.start} to {lt.end}): the "
                    f"model's lift {_fmt(model_lift)} is {abs(z):.1f} standard errors from the "
                    f"measured {_fmt(lt.kpi_lift)}"
                )
            elif not row["used"]:
                warnings.append(
                    f"lift test in row {lt.row} on {lt.touchpoint!r} not used: the touchpoint is "
                    "not identifiable"
                )
        zs = np.array([r["z"] for r in cal_tests if r["used"]])
        cal_diag = {
            "n_tests": len(cal_tests),
            "n_used": int(zs.size),
            "chi2": float(zs @ zs) if zs.size else None,
            "noise_sd": f.noise_sd if zs.size else None,
            "tests": cal_tests,
        }

    if r2 < 0.5:
        warnings.append(f"the model explains little of the KPI's variation (R² {r2:.2f})")
    if f.mape is not None and f.mape > 0.25:
        warnings.append(f"holdout MAPE is {f.mape:.0%}: forecasts are unreliable")
    pool = f.diagnostics.get("pooling") or {}
    if pool.get("at_edge") and float(pool.get("pool_marginal_equivalent") or 0.0) >= 1.0:
        # the evidence's maximum at the top of its grid: full pooling (docs/response-models.md)
        if pool.get("posterior"):  # the interval draws carry the weight's uncertainty
            says = "the printed intervals carry the pooling strength's uncertainty and are wide"
        else:
            says = (
                "the printed intervals are too narrow (on simulated histories like this they "
                "held the truth for 22-32% of touchpoints, not 80%)"
            )
        warnings.append(
            "the data cannot tell the touchpoints' marginal returns apart: the fit pooled their "
            "marginal ROIs onto one value, so their differences come from the curves' shapes "
            f"alone and {says}; a plan far from the historical mix rests on the prior, not on "
            "the data"
        )

    diagnostics: dict[str, Any] = {
        "r2": r2,
        "mape_holdout": f.mape,
        "nrmse_holdout": f.nrmse,
        "cv_rmse": f.cv_rmse,
        "n_weeks": n,
        "holdout_weeks": d.holdout,
        "n_bootstrap": int(n_bootstrap),
        "seed": int(seed),
        "warnings": warnings,
        **f.diagnostics,
    }
    # the choice always; the two BICs where the data made it (``seasonal_trend=None``)
    diagnostics["baseline"] = {
        "seasonal_trend": bool(d.terms.get("seasonal_trend", False)),
        **d.baseline_choice,
    }
    if cal_diag is not None:
        diagnostics["calibration"] = cal_diag
    if record_time:
        diagnostics["fit_seconds"] = round(time.perf_counter() - t0, 3)
    fit_info: dict[str, Any] = {
        "method": f.method,
        "kpi_column": spec.column,
        "pooled_marginal_roi": f.pooled,
        "baseline": dict(zip(d.base_names, (float(v) for v in f.base), strict=True)),
        "baseline_terms": d.terms,
        "unattributed": unattributed,
        "options": {
            "families": list(d.fams),
            "ridge": d.ridge,
            "baseline_ridge": d.baseline_ridge,
            "grid_size": len(d.grid),
            **f.options,
        },
    }
    if cal_diag is not None:
        fit_info["method"] += "; calibrated to lift tests (weighted pseudo-observations)"
        fit_info["options"]["calibration_tests"] = cal_diag["n_used"]
    return ResponseModel(kpi=spec.id, touchpoints=out, diagnostics=diagnostics, fit=fit_info)
