"""Measuring a fit in ``fit_recovery.py``: recovered against true parameters, decision regret on
the true curves, the true-transform reference (oracle), interval coverage, lift tests, and the
harness checks of the public data sets' truth.
"""

from __future__ import annotations

import math
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from _fit_cases import (
    HORIZON_WEEKS,
    LIFT_SE,
    LIFT_SEED,
    LIFT_SHARE,
    LIFT_WEEKS,
    MMM_EXAMPLE,
    MMM_EXAMPLE_README,
    MMM_ROAS_README,
    N_BOOTSTRAP,
    SEED,
    Case,
)
from _fit_options import fit_with_options

from optimizer.allocate import allocate
from optimizer.data import LiftTest
from optimizer.response import curves as C
from optimizer.response.model import (
    ResponseModel,
    TouchpointResponse,
    read_model,
)
from optimizer.scenario import load_scenario, scenario_from_dict
from optimizer.workflow.anchored import anchored_plan
from optimizer.workflow.robust import n_draws, plan_uncertainty, robust_plan


# ================================================================================================
# measuring a fit
# ================================================================================================
@dataclass
class TpRow:
    id: str
    spend_share: float
    true_roi: float
    fit_roi: float
    true_ss_roi: float  # steady-state ROI at the mean weekly spend
    fit_ss_roi: float
    true_mroi: float  # steady-state marginal ROI at the mean weekly spend
    fit_mroi: float
    true_share: float  # share of media contribution over the history
    fit_share: float
    roi_interval: tuple[float, float] | None = None
    warnings: int = 0
    mroi_covered: bool | None = None  # the truth inside the draws' 80% interval (None: no draws)
    ss_roi_covered: bool | None = None


@dataclass
class Regret:
    """One plan against the true optimum and the historical mix, all valued on the true curves.

    ``optimal``, ``fitted`` and ``historical`` are the *media-driven* true KPI over the horizon
    (the part a plan changes); ``kpi_total`` is the whole KPI over the horizon at the historical
    run rate (mean weekly KPI x weeks, baseline included), the denominator of ``uplift``.
    """

    budget: float  # total over the horizon
    optimal: float  # true KPI of the plan optimised on the true curves
    fitted: float  # true KPI of the plan optimised on the fitted curves
    historical: float  # true KPI of the historical mix at the same budget
    plan_true: dict[str, float] = field(default_factory=dict)
    plan_fit: dict[str, float] = field(default_factory=dict)
    plan_hist: dict[str, float] = field(default_factory=dict)
    kpi_total: float = float("nan")  # whole KPI over the horizon at the historical run rate
    observed_max: dict[str, float] = field(default_factory=dict)  # highest weekly spend seen

    def beyond_observed(self, spend: dict[str, float]) -> float:
        """Share of the budget a plan puts above each touchpoint's highest weekly spend in the
        history (steady weekly spend over the horizon): how far the plan extrapolates."""
        over = sum(
            max(0.0, s / HORIZON_WEEKS - self.observed_max.get(t, math.inf))
            for t, s in spend.items()
        )
        return HORIZON_WEEKS * over / self.budget if self.budget > 0 else 0.0

    @property
    def uplift(self) -> float:
        """What the true optimum adds to the historical mix, as a share of the whole KPI."""
        return (self.optimal - self.historical) / self.kpi_total

    @property
    def captured(self) -> float:
        up = self.optimal - self.historical
        return (self.fitted - self.historical) / up if up > 0 else float("nan")

    @property
    def loss(self) -> float:
        return (self.optimal - self.fitted) / self.optimal

    @property
    def hist_loss(self) -> float:
        return (self.optimal - self.historical) / self.optimal


@dataclass
class Result:
    case: Case
    rows: list[TpRow]
    mape: float | None
    r2: float
    seconds: float
    regret: Regret
    model: ResponseModel
    oracle: Regret  # plan on the true shapes with least-squares betas (see oracle_model)
    robust: Regret | None = None  # plan on the mean over the fitted model's draws
    ceiling: Regret | None = None  # with PLAN_LIMITS: the plan on the true curves under them
    calibrated: Regret | None = None  # --lift-tests: the plan on a fit calibrated to lift tests
    cal_mroi_err: float | None = None  # its spend-weighted |marginal ROI error|
    cal_coverage: list[tuple[bool, bool]] = field(default_factory=list)  # its 80% intervals
    targeted: dict[str, Regret] = field(default_factory=dict)  # --targeted-tests: per design
    test_counts: dict[str, dict[str, int]] = field(default_factory=dict)  # tests per touchpoint
    bayes_oracle: Regret | None = None  # true shapes; the plan on the mean over the betas' law
    calibrated_robust: Regret | None = None  # --lift-tests: robust plan on the calibrated fit
    #: ``--robust anchored``: the best plan for the draws' mean KPI on the line from the
    #: historical mix to the optimum on the fitted curves
    anchored: Regret | None = None
    #: ``budgetopt optimize``'s default plan (``--robust auto``, ``auto_plan``) and which plan it
    #: made ("anchored", or "none": the point plan); set by ``fit_recovery.py`` (``fit_dev.auto_regret``)
    auto: Regret | None = None
    auto_chosen: str | None = None
    #: the truth inside the oracle's 80% interval (its betas' least-squares law), per touchpoint
    oracle_mroi_covered: list[bool | None] = field(default_factory=list)

    def _rel(self, attr: str) -> np.ndarray:
        t = np.array([getattr(r, f"true_{attr}") for r in self.rows])
        f = np.array([getattr(r, f"fit_{attr}") for r in self.rows])
        return np.abs(f - t) / np.maximum(np.abs(t), 1e-12)

    def median_err(self, attr: str) -> float:
        return float(np.median(self._rel(attr)))

    def weighted_err(self, attr: str) -> float:
        """Relative error weighted by spend share: what it means for most of the money."""
        w = np.array([r.spend_share for r in self.rows])
        return float(np.sum(w * self._rel(attr)) / w.sum())

    @property
    def share_error(self) -> float:
        """Half the summed absolute error of the contribution shares (0 = right, 1 = disjoint)."""
        return 0.5 * float(sum(abs(r.fit_share - r.true_share) for r in self.rows))


@dataclass(frozen=True)
class PlanLimits:
    """Limits on the plans made on estimated curves (fitted, robust, oracle; never the true
    optimum, against which every plan is measured): ``cap`` keeps each touchpoint's weekly spend
    at most ``cap`` times the highest weekly spend in its history (curves are extrapolated beyond
    it); ``change`` keeps it within +- ``change`` of the historical mix (a trust region)."""

    cap: float | None = None
    change: float | None = None

    def rules(self, case: Case | None, budget: float) -> dict[str, Any]:
        if case is None:
            return {}
        spend = case.history.spend
        out: dict[str, Any] = {}
        if self.cap is not None:
            out["touchpoints"] = {
                t: {"max": round(HORIZON_WEEKS * self.cap * float(spend[t].max()), 2)}
                for t in spend.columns
            }
        if self.change is not None:
            means = spend.mean()
            out["previous"] = {
                t: budget * float(means[t]) / float(means.sum()) for t in spend.columns
            }
            out["change_limit"] = {"pct": self.change}
        return out

    def describe(self) -> str:
        parts = []
        if self.cap is not None:
            parts.append(f"weekly spend at most {self.cap:g}x the highest in the history")
        if self.change is not None:
            parts.append(f"each touchpoint within +-{self.change:.0%} of the historical mix")
        return "; ".join(parts) or "none"


#: set by ``--cap-at-observed`` / ``--change-limit``
PLAN_LIMITS = PlanLimits()


def _scenario(budget: float, name: str, case: Case | None) -> Any:
    return scenario_from_dict(
        {
            "name": name,
            "model": "in-memory",
            "horizon_weeks": HORIZON_WEEKS,
            "budget": float(budget),
            **PLAN_LIMITS.rules(case, budget),
        }
    )


def plan(
    model: ResponseModel, budget: float, name: str, case: Case | None = None
) -> dict[str, float]:
    """Spend per touchpoint over the horizon of the budget-only plan optimised on ``model``
    (with ``case``: under ``PLAN_LIMITS``)."""
    p = allocate(_scenario(budget, name, case), model)
    if not p.ok:
        raise RuntimeError(f"allocation of {name} failed: {p.status} {p.message}")
    return {li.id: float(li.spend) for li in p.line_items}


def true_value(spend: dict[str, float], truth: ResponseModel) -> float:
    """True KPI over the horizon of steady spend ``spend`` (totals), on the true curves."""
    return float(sum(truth.touchpoints[t].horizon_kpi(s, HORIZON_WEEKS) for t, s in spend.items()))


def robust_plan_of(
    model: ResponseModel, budget: float, name: str, case: Case | None = None
) -> dict[str, float]:
    """Spend per touchpoint of the plan that maximises the mean KPI over the model's bootstrap
    draws (``budgetopt optimize --robust mean``; with ``case``: under ``PLAN_LIMITS``)."""
    p = robust_plan(_scenario(budget, name, case), model)
    if not p.ok:
        raise RuntimeError(f"robust allocation of {name} failed: {p.status} {p.message}")
    return {li.id: float(li.spend) for li in p.line_items}


def anchored_plan_of(
    model: ResponseModel,
    budget: float,
    name: str,
    case: Case | None = None,
    risk: float | None = None,
    measure: str | None = None,
) -> dict[str, float]:
    """Spend per touchpoint of the plan on the line from the historical mix to the optimum on the
    point curves with the highest point uplift less ``risk`` times the draws' shortfall below it
    (their standard deviation at full pooling; ``measure`` "sd" / "shortfall": that one always)
    (``budgetopt optimize --robust anchored``; ``risk`` None: its default; with ``case``: under
    ``PLAN_LIMITS``)."""
    p = anchored_plan(_scenario(budget, name, case), model, risk=risk, risk_measure=measure)
    if not p.ok:
        raise RuntimeError(f"anchored allocation of {name} failed: {p.status} {p.message}")
    return {li.id: float(li.spend) for li in p.line_items}


def decision_regret(
    case: Case,
    model: ResponseModel,
    robust: bool | str = False,
    risk: float | None = None,
    measure: str | None = None,
) -> Regret:
    """The plan on ``model`` (``robust``: True or "mean", on the mean over its draws;
    "anchored", ``--robust anchored`` with ``risk`` and ``measure``) against the true optimum and
    the historical mix at the historical mean weekly budget."""
    means = case.history.spend.mean()
    budget = HORIZON_WEEKS * float(means.sum())
    p_true = plan(case.truth, budget, f"{case.name} truth")
    if robust == "anchored":
        p_fit = anchored_plan_of(model, budget, f"{case.name} anchored", case, risk, measure)
    elif robust:
        p_fit = robust_plan_of(model, budget, f"{case.name} robust", case)
    else:
        p_fit = plan(model, budget, f"{case.name} fitted", case)
    p_hist = {t: budget * float(means[t]) / float(means.sum()) for t in means.index}
    kpi = case.history.frame[case.history.journey.kpi]
    weekly = float(kpi.mean()) if case.kpi_weekly is None else case.kpi_weekly
    return Regret(
        budget,
        true_value(p_true, case.truth),
        true_value(p_fit, case.truth),
        true_value(p_hist, case.truth),
        p_true,
        p_fit,
        p_hist,
        kpi_total=HORIZON_WEEKS * weekly,
        observed_max={t: float(v) for t, v in case.history.spend.max().items()},
    )


ORACLE_DRAWS = 50  # draws of the oracle's betas for its Bayes plan


def oracle_model(
    case: Case, draws: int = 0, inflate: float = 1.0, mean_beta: str = ""
) -> ResponseModel:
    """The truth's curve shapes (adstock, family, half saturation / scale, shape) with betas
    estimated from the history by least squares (betas >= 0; intercept, linear trend, three
    yearly Fourier pairs -- in the high-information and flighted regimes also times the trend, as
    their seasonality scales with the level -- controls and events free). What a fitter that knew every shape could do
    with this much data and noise: the information limit for the betas.

    ``inflate`` scales the draws' spread (the fit's ``uncertainty_inflate``; 1: the sampling law
    itself). ``mean_beta`` replaces the point betas by their mean under the law cut at zero,
    ``E[max(b, 0)]`` of each beta's Gaussian marginal (exact, no draws): "all" every beta,
    "zero" only the betas the bounded least squares holds at zero. With the transforms known,
    a curve is linear in its beta, so the plan on the mean over the draws is the plan on these
    betas up to the draws' sampling noise."""
    from scipy.optimize import lsq_linear

    frame, journey = case.history.frame, case.history.journey
    weeks = np.arange(len(frame), dtype=float)
    base = [np.ones(len(frame)), weeks / 52.18]
    for k in (1, 2, 3):
        ang = 2.0 * np.pi * k * weeks / 52.18
        base += [np.sin(ang), np.cos(ang)]
        if case.regime in ("high", "flighted"):  # seasonality scales with the level: x trend
            base += [np.sin(ang) * weeks / 52.18, np.cos(ang) * weeks / 52.18]
    base += [frame[c].to_numpy(dtype=float) for c in (*journey.controls, *journey.events)]
    units = {}
    for tid, tp in case.truth.touchpoints.items():
        params = {**tp.curve.params, "beta": 1.0}
        x = frame[tid].to_numpy(dtype=float)
        a = x if tp.adstock is None else tp.adstock.transform(x)
        units[tid] = C.saturation(tp.curve.family, a, params)
    media = np.column_stack(list(units.values()))
    A = np.column_stack([*base, media])
    scale = np.maximum(np.abs(A).max(axis=0), 1e-12)
    lo = np.r_[np.full(len(base), -np.inf), np.zeros(media.shape[1])]
    y = frame[journey.kpi].to_numpy(dtype=float)
    As = A / scale
    coef_s = lsq_linear(As, y, bounds=(lo, np.inf)).x
    coef = coef_s / scale
    betas = coef[len(base) :]
    # with ``draws``: the betas' sampling distribution (Gaussian, least-squares covariance
    # sigma^2 (A'A)^-1, cut at zero), as draws of each curve: the oracle's posterior under a flat
    # prior, for the plan that maximises the expected KPI over it (the "Bayes oracle")
    beta_draws = np.zeros((0, len(betas)))
    if draws or mean_beta:
        res = y - As @ coef_s
        sigma2 = float(res @ res) / max(len(y) - As.shape[1], 1)
        cov = sigma2 * np.linalg.pinv(As.T @ As) * inflate**2
    if draws:
        rng = np.random.default_rng([SEED, zlib.crc32(case.name.encode())])
        z = rng.multivariate_normal(coef_s, cov, size=draws, method="eigh")
        beta_draws = np.maximum(z[:, len(base) :] / scale[len(base) :], 0.0)
    if mean_beta:
        from scipy.stats import norm

        mu = coef_s[len(base) :]
        sd = np.sqrt(np.maximum(np.diag(cov)[len(base) :], 1e-300))
        pos = (mu * norm.cdf(mu / sd) + sd * norm.pdf(mu / sd)) / scale[len(base) :]
        betas = np.where((betas <= 0) if mean_beta == "zero" else True, pos, betas)
    tps = {}
    for j, (tid, tp) in enumerate(case.truth.touchpoints.items()):
        tps[tid] = replace(
            tp,
            curve=replace(tp.curve, params={**tp.curve.params, "beta": float(betas[j])}),
            draws=tuple(
                (replace(tp.curve, params={**tp.curve.params, "beta": float(b)}), tp.adstock)
                for b in beta_draws[:, j]
            ),
        )
    return ResponseModel(case.truth.kpi, tps)


COVERAGE_LEVEL = 80.0  # central interval of the draws checked against the truth


def covered(
    ftp: TouchpointResponse, ttp: TouchpointResponse, x: float
) -> tuple[bool | None, bool | None]:
    """Whether the true marginal ROI and steady-state ROI at weekly spend ``x`` lie inside the
    central ``COVERAGE_LEVEL``% interval of the fitted touchpoint's draws (None, None without
    draws), read from the draws each printed interval is read from: the marginal ROI's from the
    interval draws where the model has them (else the plans' draws), the ROI's from the bands'
    draws (``band_draws`` where the model has them, else the plans' draws: what the curve bands
    and ``roi_interval_80`` read). Honest uncertainty covers the truth about that often."""
    shown, draws = ftp.interval_draw_responses(), ftp.band_responses()
    if not draws or x <= 0:
        return None, None
    q = [50.0 - COVERAGE_LEVEL / 2, 50.0 + COVERAGE_LEVEL / 2]
    m_lo, m_hi = np.percentile([float(r.weekly_marginal(x)) for r in shown], q)
    r_lo, r_hi = np.percentile([float(r.weekly_kpi(x)) / x for r in draws], q)
    tm, tr = float(ttp.weekly_marginal(x)), float(ttp.weekly_kpi(x)) / x
    return bool(m_lo <= tm <= m_hi), bool(r_lo <= tr <= r_hi)


def coverage_of(flags: Sequence[bool | None]) -> float:
    v = [f for f in flags if f is not None]
    return float(np.mean(v)) if v else float("nan")


def measure(case: Case, fit_options: dict[str, Any]) -> Result:
    opts = {"seed": SEED, "n_bootstrap": N_BOOTSTRAP, **fit_options}
    t0 = time.perf_counter()
    model = fit_with_options(case.history, opts)
    seconds = time.perf_counter() - t0
    spend = case.history.spend
    total_spend = float(spend.to_numpy().sum())
    true_c = case.true_contrib
    true_media = float(true_c.to_numpy().sum())
    rows = []
    for tid, ttp in case.truth.touchpoints.items():
        ftp = model.touchpoints[tid]
        x = spend[tid].to_numpy(dtype=float)
        mean = float(x.mean())
        d = ftp.diagnostics
        cov_m, cov_r = covered(ftp, ttp, mean)
        rows.append(
            TpRow(
                id=tid,
                spend_share=float(x.sum()) / total_spend,
                true_roi=float(true_c[tid].sum()) / float(x.sum()),
                fit_roi=float(d.get("roi") or 0.0),
                true_ss_roi=float(ttp.weekly_kpi(mean)) / mean,
                fit_ss_roi=float(ftp.weekly_kpi(mean)) / mean,
                true_mroi=float(ttp.weekly_marginal(mean)),
                fit_mroi=float(ftp.weekly_marginal(mean)),
                true_share=float(true_c[tid].sum()) / true_media,
                fit_share=float(d.get("contribution_share") or 0.0),
                roi_interval=tuple(d["roi_interval_80"]) if d.get("roi_interval_80") else None,
                warnings=len(d.get("warnings") or ()),
                mroi_covered=cov_m,
                ss_roi_covered=cov_r,
            )
        )
    diag = model.diagnostics
    robust = decision_regret(case, model, robust=True) if n_draws(model) else None
    anchored = decision_regret(case, model, robust="anchored") if n_draws(model) else None
    ceiling = (
        decision_regret(case, case.truth)
        if PLAN_LIMITS != PlanLimits() and case.kind == "simulated"
        else None
    )
    oracle = oracle_model(case, ORACLE_DRAWS if case.kind == "simulated" else 0)
    return Result(
        case,
        rows,
        diag.get("mape_holdout"),
        float(diag["r2"]),
        seconds,
        decision_regret(case, model),
        model,
        decision_regret(case, oracle),
        robust,
        ceiling,
        bayes_oracle=decision_regret(case, oracle, robust=True) if n_draws(oracle) else None,
        anchored=anchored,
        oracle_mroi_covered=[
            covered(oracle.touchpoints[t], ttp, float(spend[t].mean()))[0]
            for t, ttp in case.truth.touchpoints.items()
        ],
    )


def simulate_lift_tests(case: Case, n_per_tp: int) -> list[LiftTest]:
    """``n_per_tp`` lift tests per touchpoint from the TRUE curves: spend raised by
    ``LIFT_SHARE`` of the touchpoint's mean weekly spend in each of ``LIFT_WEEKS`` weeks starting
    at a random week; the true lift (carry-over to the end of the history included) measured with
    Gaussian noise of sd ``LIFT_SE`` x the true lift. Seeded by ``LIFT_SEED`` and the world's
    name, so every run draws the same tests."""
    rng = np.random.default_rng([LIFT_SEED, zlib.crc32(case.name.encode())])
    frame = case.history.frame
    n = len(frame)
    dates = [d.date().isoformat() for d in pd.DatetimeIndex(frame.index)]
    out: list[LiftTest] = []
    for tid, tp in case.truth.touchpoints.items():
        x = frame[tid].to_numpy(dtype=float)
        for _ in range(n_per_tp):
            first = int(rng.integers(0, n - LIFT_WEEKS + 1))
            last = first + LIFT_WEEKS - 1
            d = np.zeros(n)
            d[first : last + 1] = LIFT_SHARE * float(x.mean())
            a0 = x if tp.adstock is None else tp.adstock.transform(x)
            a1 = x + d if tp.adstock is None else tp.adstock.transform(x + d)
            lift = float(np.sum(tp.curve(a1) - tp.curve(a0)))
            se = LIFT_SE * abs(lift) if lift != 0 else 1.0
            out.append(
                LiftTest(
                    tid,
                    dates[first],
                    dates[last],
                    first,
                    last,
                    float(d.sum()),
                    lift + float(rng.normal(0.0, se)),
                    se,
                )
            )
    return out


def measure_calibrated(case: Case, fit_options: dict[str, Any], res: Result, n_per_tp: int) -> None:
    """Refit ``case`` with ``n_per_tp`` simulated lift tests per touchpoint and record the plan's
    regret and the spend-weighted marginal-ROI error in ``res``."""
    tests = simulate_lift_tests(case, n_per_tp)
    model = fit_with_options(
        case.history,
        {"seed": SEED, "n_bootstrap": N_BOOTSTRAP, **fit_options, "calibration": tests},
    )
    res.calibrated = decision_regret(case, model)
    res.calibrated_robust = decision_regret(case, model, robust=True) if n_draws(model) else None
    spend = case.history.spend
    w = errs = 0.0
    for r in res.rows:
        mean = float(spend[r.id].mean())
        fm = float(model.touchpoints[r.id].weekly_marginal(mean))
        errs += r.spend_share * abs(fm - r.true_mroi) / max(abs(r.true_mroi), 1e-12)
        w += r.spend_share
    res.cal_mroi_err = errs / w if w else None
    res.cal_coverage = [
        covered(model.touchpoints[t], ttp, float(spend[t].mean()))
        for t, ttp in case.truth.touchpoints.items()
    ]


def measure_targeted(case: Case, fit_options: dict[str, Any], res: Result) -> None:
    """Where to put lift tests: ``2 x n_touchpoints`` tests placed two on every touchpoint, or
    one on every touchpoint and the rest where the uncalibrated model's value of information
    (one-at-a-time EVPPI of its plan over the draws, ``optimize --uncertainty``) is
    largest (each next test to the touchpoint with the largest EVPPI / (tests it has), at most
    3); and ``n_touchpoints`` tests, one each or all by EVPPI. The tests come from one pool of 3
    per touchpoint (``simulate_lift_tests``), the first ``k`` of a touchpoint's used."""
    means = case.history.spend.mean()
    budget = HORIZON_WEEKS * float(means.sum())
    sc = _scenario(budget, f"{case.name} voi", None)
    p = allocate(sc, res.model)
    evppi = {
        t.id: t.evppi for t in plan_uncertainty(sc, res.model, p).value_of_information.touchpoints
    }
    pool = simulate_lift_tests(case, 3)
    tids = list(case.truth.touchpoints)

    def by_value(start: int, extra: int) -> dict[str, int]:
        k = dict.fromkeys(tids, start)
        for _ in range(extra):
            # a touchpoint without a value (nan: its re-optimisations failed) counts as 0; ties
            # go to the last touchpoint id in sort order
            best = max(
                tids,
                key=lambda t: (
                    (v if math.isfinite(v := evppi.get(t, 0.0)) else 0.0) / (1 + k[t])
                    if k[t] < 3
                    else -1.0,
                    t,
                ),
            )
            k[best] += 1
        return k

    designs = {
        "1 each": dict.fromkeys(tids, 1),
        "all by EVPPI": by_value(0, len(tids)),
        "2 each": dict.fromkeys(tids, 2),
        "1 each + rest by EVPPI": by_value(1, len(tids)),
    }
    for name, counts in designs.items():
        seen = dict.fromkeys(tids, 0)
        tests = []
        for t in pool:
            if seen[t.touchpoint] < counts[t.touchpoint]:
                tests.append(t)
                seen[t.touchpoint] += 1
        model = fit_with_options(
            case.history,
            {"seed": SEED, "n_bootstrap": N_BOOTSTRAP, **fit_options, "calibration": tests},
        )
        res.targeted[name] = decision_regret(case, model)
        res.test_counts[name] = counts


# ================================================================================================
# harness checks on the public data's truth
# ================================================================================================
def check_mmm_example_truth(case: Case, say: Callable[[str], None]) -> dict[str, bool]:
    """The converted true model reproduces the published truth; returns check -> passed."""
    raw = pd.read_csv(MMM_EXAMPLE / "ground_truth_components.csv")
    truth, frame = case.truth, case.history.frame
    ok: dict[str, bool] = {}
    err = max(
        float(np.abs(case.true_contrib[c].to_numpy() - raw[f"contrib_{c}"].to_numpy()).max())
        for c in ("x1", "x2")
    )
    ok["contributions match ground_truth_components.csv"] = err < 1e-8
    say(f"  true_model.json vs ground_truth_components.csv: max |contribution error| {err:.1e}")
    for c in ("x1", "x2"):
        roas = float(case.true_contrib[c].sum() / frame[c].sum())
        mean = float(frame[c].mean())
        m = float(truth.touchpoints[c].weekly_marginal(mean))
        pub_r, pub_m = MMM_EXAMPLE_README["roas"][c], MMM_EXAMPLE_README["mroas"][c]
        say(
            f"  {c}: ROAS {roas:,.1f} (README {pub_r:,.0f}), steady-state marginal ROAS at mean "
            f"weekly spend {mean:.4f}: {m:,.1f} (README {pub_m:,.0f})"
        )
        ok[f"{c} ROAS and marginal ROAS match the README"] = (
            abs(roas - pub_r) < 1.0 and abs(m - pub_m) < 1.0
        )
    weekly = float(frame[["x1", "x2"]].mean().sum())
    # what `budgetopt optimize data/pymc_marketing_mmm_example/optimum.yaml` does
    scenario = load_scenario(MMM_EXAMPLE / "optimum.yaml")
    on_file = allocate(scenario, read_model(scenario.model))
    p = {li.id: float(li.spend) for li in on_file.line_items}
    split = {t: s / HORIZON_WEEKS for t, s in p.items()}
    resp = true_value(p, truth) / HORIZON_WEEKS
    hist = {t: HORIZON_WEEKS * float(frame[t].mean()) for t in ("x1", "x2")}
    hresp = true_value(hist, truth) / HORIZON_WEEKS
    pub = MMM_EXAMPLE_README
    say(
        f"  optimum of weekly budget {weekly:.4f} (README {pub['weekly_budget']}) by allocate on "
        f"optimum.yaml (budget {scenario.budget.amount:g} over 13 weeks, model "
        f"true_model.json): x1 {split['x1']:.4f}, x2 {split['x2']:.4f} (README "
        f"{pub['optimum']['x1']} / {pub['optimum']['x2']}); weekly media response {resp:,.1f} vs "
        f"{hresp:,.1f} for the historical mix (README {pub['optimum_response']:,.0f} vs "
        f"{pub['historical_response']:,.0f})"
    )
    # an independent check of the split, without the allocator (and its rounding to the cent)
    from scipy.optimize import minimize_scalar

    t1, t2 = truth.touchpoints["x1"], truth.touchpoints["x2"]
    exact = minimize_scalar(
        lambda s1: -float(t1.weekly_kpi(s1) + t2.weekly_kpi(weekly - s1)),
        bounds=(0.0, weekly),
        method="bounded",
        options={"xatol": 1e-10},
    )
    say(
        f"  the same optimum by bounded scalar minimisation (no allocator): x1 {exact.x:.4f}, "
        f"x2 {weekly - exact.x:.4f}, response {-exact.fun:,.2f}; allocate's plan is rounded to "
        "the cent (0.005 over 13 weeks is 0.0004 a week)"
    )
    ok["exact optimum matches the README"] = (
        abs(exact.x - pub["optimum"]["x1"]) < 5e-5
        and abs(weekly - exact.x - pub["optimum"]["x2"]) < 5e-5
    )
    # plans are rounded to the cent: 0.5 cent over 13 weeks is 0.0004 a week
    ok["allocate reproduces the README optimum"] = (
        abs(weekly - pub["weekly_budget"]) < 5e-5
        and all(abs(split[t] - pub["optimum"][t]) < 5e-4 for t in ("x1", "x2"))
        and abs(resp - pub["optimum_response"]) < 1.0
        and abs(hresp - pub["historical_response"]) < 1.0
    )
    return ok


def check_mmm_roas_truth(case: Case, say: Callable[[str], None]) -> dict[str, bool]:
    frame = case.history.frame
    ok: dict[str, bool] = {}
    for c in ("x1", "x2"):
        roas = float(case.true_contrib[c].sum() / frame[c].sum())
        say(f"  {c}: true ROAS {roas:.2f} (README {MMM_ROAS_README['roas'][c]})")
        ok[f"mmm_roas {c} ROAS matches"] = abs(roas - MMM_ROAS_README["roas"][c]) < 0.01
    weekly = float(frame[["x1", "x2"]].mean().sum())
    p = plan(case.truth, HORIZON_WEEKS * weekly, "mmm_roas true optimum")
    split = {t: s / HORIZON_WEEKS for t, s in p.items()}
    resp = true_value(p, case.truth) / HORIZON_WEEKS
    say(
        f"  optimum of weekly budget {weekly:.3f}: x1 {split['x1']:.3f}, x2 {split['x2']:.3f} "
        f"(README {MMM_ROAS_README['optimum']['x1']} / {MMM_ROAS_README['optimum']['x2']}), "
        f"response {resp:.1f} (README {MMM_ROAS_README['optimum_response']})"
    )
    ok["mmm_roas optimum matches"] = all(
        abs(split[t] - MMM_ROAS_README["optimum"][t]) < 1.5e-3 for t in ("x1", "x2")
    )
    return ok


def _pct(v: float | None, signed: bool = False) -> str:
    if v is None or not math.isfinite(v):
        return "–"
    return f"{100 * v:+.1f}%" if signed else f"{100 * v:.1f}%"


def _num(v: float) -> str:
    a = abs(v)
    if a >= 1000:
        return f"{v:,.0f}"
    if a >= 10:
        return f"{v:.1f}"
    return f"{v:.3f}"
