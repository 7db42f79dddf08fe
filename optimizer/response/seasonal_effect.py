"""Seasonal effectiveness of the media effect (contract 7's ``effectiveness``), after the fit.

Does a dollar of media work better in some weeks of the year than in others? With the fitted
transforms held fixed (each touchpoint's adstock and saturation, so its weekly media term
``m_i(t) = curve_i(adstock_i(x_i))_t``), the KPI is regressed by least squares on the fitted
baseline's columns (intercept, trend, yearly Fourier seasonality, controls, events) and

* ``flat``: ``Σ_i b_i m_i(t)``: the media effect the same all year;
* ``shared`` (K = 1, 2 sine/cosine pairs): ``(1 + g(t)) Σ_i b_i m_i(t)`` with
  ``g(t) = Σ_k a_k sin(2πk w_t/52) + c_k cos(2πk w_t/52)`` (``w_t`` the ISO week), one season for
  all touchpoints, fitted by alternating least squares (given ``g``, the ``b_i``; given the
  ``b_i``, ``g``);
* ``per_touchpoint`` (K = 1): ``Σ_i m_i(t) (b_i + a_i sin + c_i cos)``, each its own season.

The baseline keeps its own seasonality in every variant: a season of the media effect is told
apart from a season of demand only because it scales with the spend. The variant with the lowest
Bayesian information criterion ``T ln(RSS/T) + p ln T`` is kept when it beats ``flat`` by at
least ``BIC_MARGIN`` (strong evidence on the usual scale); otherwise the model stays flat. A
history shorter than two years (each week of the year seen twice) is not tried. The multipliers,
``1 + g`` by week of the year, are floored at ``MIN_MULTIPLIER`` and scaled to average 1 (the
curve's beta keeps the level); the choice, the criteria and the reason go to the model's
``diagnostics["seasonal_effectiveness"]``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd

from optimizer.data import History
from optimizer.response.design import _baseline_matrix
from optimizer.response.model import ResponseModel

#: a seasonal variant is kept only when its BIC is at least this much below the flat model's
BIC_MARGIN = 10.0
#: two years: every week of the year seen at least twice
MIN_WEEKS = 104
MIN_MULTIPLIER = 0.05
WEEKS = 52


def _iso_weeks(index: pd.Index) -> np.ndarray:
    idx = pd.DatetimeIndex(index)
    return np.minimum(np.asarray(idx.isocalendar().week, dtype=int), WEEKS)


def _fourier(w: np.ndarray, pairs: int) -> np.ndarray:
    """(len(w), 2·pairs) sine, cosine of week of year ``w`` (1..52)."""
    ang = 2.0 * np.pi * (np.asarray(w, float) - 1.0) / WEEKS
    return np.column_stack(
        [f(k * ang) for k in range(1, pairs + 1) for f in (np.sin, np.cos)]
    ).reshape(len(w), 2 * pairs)


def _rss(X: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    r = y - X @ coef
    return float(r @ r), coef


def _bic(rss: float, T: int, p: int) -> float:
    return float(T * np.log(max(rss, 1e-300) / T) + p * np.log(T))


def _profile(coefs: np.ndarray, scale: float, pairs: int) -> np.ndarray:
    """1 + g(w) for w = 1..52, floored and scaled to average 1."""
    g = _fourier(np.arange(1, WEEKS + 1), pairs) @ np.asarray(coefs, float) / scale
    m = np.maximum(1.0 + g, MIN_MULTIPLIER)
    return np.round(m / m.mean(), 6)


def _media(model: ResponseModel, frame: pd.DataFrame) -> tuple[list[str], np.ndarray]:
    ids, cols = [], []
    for tid, tp in model.touchpoints.items():
        if tid not in frame.columns:
            continue
        x = frame[tid].to_numpy(dtype=float)
        a = x if tp.adstock is None else tp.adstock.transform(x)
        m = np.asarray(tp.curve(a), dtype=float)
        if np.ptp(m) > 0:
            ids.append(tid)
            cols.append(m)
    return ids, np.column_stack(cols) if cols else np.zeros((len(frame), 0))


def compare_variants(
    model: ResponseModel, history: History, kpi_column: str, *, sweeps: int = 10
) -> dict[str, Any]:
    """The flat and seasonal variants on ``history`` with the model's transforms: for each its
    BIC and parameters, and the multipliers (touchpoint → 52) of the seasonal ones."""
    frame = history.frame
    y = frame[kpi_column].to_numpy(dtype=float)
    T = len(y)
    fit = model.fit or {}
    if "baseline_terms" in fit:
        Z = _baseline_matrix(frame, dict(fit["baseline_terms"]), history.source)
    else:
        Z = np.ones((T, 1))
    for u in fit.get("unattributed", ()):  # lock-step groups the fit kept as one column
        if all(m in frame.columns for m in u["members"]):
            x = frame[list(u["members"])].to_numpy(dtype=float).sum(axis=1)
            Z = np.column_stack([Z, x])
    ids, M = _media(model, frame)
    n = len(ids)
    w = _iso_weeks(frame.index)
    out: dict[str, Any] = {"ids": ids, "T": T, "variants": {}}
    if n == 0:
        return out
    rss0, coef0 = _rss(np.column_stack([Z, M]), y)
    p0 = Z.shape[1] + n
    out["variants"]["flat"] = {"bic": _bic(rss0, T, p0), "params": p0}
    b0 = coef0[Z.shape[1] :]
    for K in (1, 2):
        F = _fourier(w, K)
        b = b0.copy()
        g = np.zeros(T)
        ak = np.zeros(2 * K)
        rss = rss0
        for _ in range(sweeps):
            mb = M @ b
            rs, c = _rss(np.column_stack([Z, mb, mb[:, None] * F]), y)
            s0 = float(c[Z.shape[1]])
            if abs(s0) < 1e-12:
                break
            ak = c[Z.shape[1] + 1 :] / s0
            g = F @ ak
            rss, cb = _rss(np.column_stack([Z, M * (1.0 + g)[:, None]]), y)
            b = cb[Z.shape[1] :]
        p = p0 + 2 * K
        prof = _profile(ak, 1.0, K)
        out["variants"][f"shared_{K}"] = {
            "bic": _bic(rss, T, p),
            "params": p,
            "multipliers": {tid: prof for tid in ids},
        }
    F1 = _fourier(w, 1)
    X = np.column_stack([Z, M, *(M[:, [i]] * F1 for i in range(n))])
    rss1, c1 = _rss(X, y)
    p1 = p0 + 2 * n
    bs = c1[Z.shape[1] : Z.shape[1] + n]
    ac = c1[Z.shape[1] + n :].reshape(n, 2)
    mult = {}
    for i, tid in enumerate(ids):
        if bs[i] > 1e-12:
            mult[tid] = _profile(ac[i], float(bs[i]), 1)
    out["variants"]["per_touchpoint_1"] = {
        "bic": _bic(rss1, T, p1),
        "params": p1,
        "multipliers": mult,
    }
    return out


def with_seasonal_effectiveness(
    model: ResponseModel, history: History, kpi_column: str
) -> ResponseModel:
    """``model`` with each touchpoint's seasonal ``effectiveness`` when the history supports it
    (see the module docstring), flat otherwise; the diagnostics say which and why."""
    T = len(history.frame)
    diag: dict[str, Any] = {"margin": BIC_MARGIN}
    chosen, why = "flat", ""
    res: dict[str, Any] = {"variants": {}}
    if T < MIN_WEEKS:
        why = f"the history has {T} weeks; at least {MIN_WEEKS} (two years) are needed to tell a season of the media effect"
    else:
        res = compare_variants(model, history, kpi_column)
        v = res["variants"]
        if "flat" not in v:
            why = "no touchpoint's spend varies"
        else:
            best = min(v, key=lambda k: v[k]["bic"])
            d = v[best]["bic"] - v["flat"]["bic"]
            if best != "flat" and d <= -BIC_MARGIN:
                chosen = best
                why = (
                    f"BIC {v[best]['bic']:.1f} against {v['flat']['bic']:.1f} flat "
                    f"({d:+.1f}, at least -{BIC_MARGIN:g} needed)"
                )
            else:
                why = (
                    f"no seasonal variant beats flat by {BIC_MARGIN:g} in BIC (best: {best}, "
                    f"{d:+.1f})"
                )
    diag.update(
        {
            "chosen": chosen,
            "reason": why,
            "bic": {k: round(float(x["bic"]), 3) for k, x in res["variants"].items()},
        }
    )
    tps = dict(model.touchpoints)
    if chosen != "flat":
        for tid, prof in res["variants"][chosen]["multipliers"].items():
            tps[tid] = dataclasses.replace(tps[tid], effectiveness=tuple(float(x) for x in prof))
    diagnostics = {**dict(model.diagnostics or {}), "seasonal_effectiveness": diag}
    return dataclasses.replace(model, touchpoints=tps, diagnostics=diagnostics)


def not_tested(model: ResponseModel) -> ResponseModel:
    """``model`` flat, with diagnostics saying the season was not tested (``fit
    --no-seasonal-effectiveness``)."""
    tps = {k: dataclasses.replace(v, effectiveness=None) for k, v in model.touchpoints.items()}
    diag = {"chosen": "flat", "reason": "not tested: switched off (--no-seasonal-effectiveness)"}
    diagnostics = {**dict(model.diagnostics or {}), "seasonal_effectiveness": diag}
    return dataclasses.replace(model, touchpoints=tps, diagnostics=diagnostics)
