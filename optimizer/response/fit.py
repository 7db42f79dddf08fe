"""Fit response curves to weekly history: ``History`` -> ``ResponseModel`` (contract 3).

The model of a KPI ``y`` in week ``t`` is

    y_t = sum_i beta_i * sat_i(adstock_i(x_i)_t) + baseline_t + noise,

with, per touchpoint ``i``, a geometric adstock and a unit-beta saturation curve (hill, exponential
or logistic), and a baseline of intercept, trend, yearly Fourier seasonality (scaled by the trend
when the data prefer it) and the journey's control and event columns.

``fit_model`` is ``estimator.ResponseFitter(...).fit(history).model_``; the steps (checks and
design matrix, grid search, the continuous joint MAP fit with empirical-Bayes pooling, draws,
report) live in modules of their own, described in ``estimator`` and docs/response-models.md.
This module also reproduces a fitted model's decomposition (``contributions``, ``predict``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed, effective_n_jobs

from optimizer.data import History, LiftTest
from optimizer.defaults import SEASONAL_EFFECTIVENESS
from optimizer.errors import ModelError
from optimizer.response import curves as C
from optimizer.response.design import _PARALLEL_MIN_FIT, _baseline_matrix, _baseline_names, _grid
from optimizer.response.estimator import (
    AVERAGE_FAMILIES,
    BURN_IN_WEEKS,
    DECAY_PRIOR,
    INITIAL_CARRYOVER,
    INTERVAL_SCALE,
    INTERVAL_SPACE,
    LAPLACE_SPACE,
    N_INTERVAL_DRAWS,
    PLAN_INFLATE,
    PLAN_SPACE,
    POOL_DRAWS,
    POOL_EVIDENCE,
    POOL_SPACE,
    PRIOR_CENTRE,
    REL_PRIOR,
    UNCERTAINTY_INFLATE,
    FitDiagnostics,
    ResponseFitter,
)
from optimizer.response.model import ResponseModel

__all__ = [
    "FitDiagnostics",
    "Progress",
    "ResponseFitter",
    "contributions",
    "fit_all_kpis",
    "fit_model",
    "predict",
]

Progress = Callable[[str, int, int], None]


def fit_model(
    history: History,
    kpi: str | None = None,
    *,
    seed: int = 0,
    n_jobs: int = 1,
    n_bootstrap: int = 20,
    holdout_weeks: int = 13,
    progress: Progress | None = None,
    families: Sequence[str] | None = None,
    allow_s_curves: bool = False,
    fourier_pairs: int = 3,
    ridge: float = 0.003,
    baseline_ridge: float = 0.001,
    cv_splits: int | None = None,
    cv_test_weeks: int = 13,
    sweeps: int | None = None,
    block_weeks: int = 8,
    bootstrap_search: bool = True,
    bootstrap_perturb: bool = True,
    shape_prior: float = 3.0,
    pool_marginal: float = 0.1,
    record_time: bool = False,
    executor: Any = None,
    calibration: Sequence[LiftTest] | str | Path | None = None,
    method: str = "map",
    prior_weight: float = 1.0,
    seasonal_trend: bool | None = None,
    uncertainty_inflate: float = UNCERTAINTY_INFLATE,
    uncertainty: str = "auto",
    point: str = "mean",
    average_families: bool = AVERAGE_FAMILIES,
    seasonal_effectiveness: bool = SEASONAL_EFFECTIVENESS,
    pool_evidence: str = POOL_EVIDENCE,
    decay_posterior: str = "laplace",
    laplace_space: str = LAPLACE_SPACE,
    interval_scale: str = INTERVAL_SCALE,
    interval_space: str | None = INTERVAL_SPACE,
    plan_space: str | None = PLAN_SPACE,
    n_interval_draws: int | None = N_INTERVAL_DRAWS,
    plan_inflate: float | None = PLAN_INFLATE,
    pool_space: str = POOL_SPACE,
    burn_in_weeks: int = BURN_IN_WEEKS,
    initial_carryover: str = INITIAL_CARRYOVER,
    prior_centre: str = PRIOR_CENTRE,
    pool_draws: str = POOL_DRAWS,
    decay_prior: str = DECAY_PRIOR,
    decay_priors: Mapping[str, tuple[float, float]] | None = None,
    decay_profile: bool = False,
    rel_prior: str = REL_PRIOR,
) -> ResponseModel:
    """Fit one KPI's response curves to weekly history.

    Parameters
    ----------
    history : History
        Weekly spend per touchpoint, the KPI column(s), controls and events (``read_history``).
    kpi : str, optional
        The KPI to model (its id or column); default the journey's main ``kpi``.
    seed : int, default=0
        Seeds the bootstrap (refit ``b`` draws its weeks from ``SeedSequence(seed,
        spawn_key=(b,))``); the same inputs and seed give a bit-identical model.
    n_jobs : int, default=1
        Worker processes scoring candidates (joblib; ``-1`` for all cores), used only when a
        search step is big enough to pay for them (weekly histories rarely are: a 15-touchpoint,
        3-year fit takes ~2 s in-process). Never changes the results.
    n_bootstrap : int, default=20
        Moving-block bootstrap refits stored as ``draws`` (0 for none).
    holdout_weeks : int, default=13
        Final weeks held out to measure forecast error (``mape_holdout``, ``nrmse_holdout``); cut to
        a quarter of the history when that is shorter; 0 for none.
    progress : callable, optional
        Called as ``progress(stage, done, total)``; stages ``search``, ``refit``, ``bootstrap``.
    families : sequence of str, optional
        Saturation families to consider (any of ``hill``, ``exponential``, ``logistic``);
        default all three (``method="grid"``: hill and exponential).
    allow_s_curves : bool, default=False
        Also try hill shapes above 1 (S-curves, which need a MILP to allocate).
    fourier_pairs : int, default=3
        Sine/cosine pairs of yearly seasonality in the baseline.
    ridge, baseline_ridge : float
        Ridge penalty per week on standardised media / baseline coefficients.
    cv_splits : int, optional
        ``TimeSeriesSplit`` folds in the search; default: as many as make every training week
        after the first year (or after half the training weeks) a test week once.
    cv_test_weeks : int, default=13
        Test weeks per fold.
    sweeps : int, optional
        Coordinate-descent sweeps of the grid search over touchpoints (stops early when nothing
        changes); default 1 for ``method="map"`` (the grid only starts the MAP fit), 3 for
        ``method="grid"``.
    block_weeks : int, default=8
        Block length of the moving-block bootstrap.
    bootstrap_search : bool, default=True
        In each bootstrap refit, let every touchpoint's decay and curve scale move one grid step
        if the resample prefers it, so the draws carry shape uncertainty too (else betas only).
    bootstrap_perturb : bool, default=True
        In each bootstrap refit, also perturb the priors (the shape prior's centre, the media
        ridge, the pooling) and the lift tests by their own standard deviations ("randomise then
        optimise"), so that what the history barely informs, held by a prior or a test, is as
        uncertain in the draws as it is known. Measured on the 30 benchmark worlds
        (``benchmarks/fit_recovery.py``, docs/response-models.md): how often the truth's marginal
        ROI lies inside the draws' 80% interval.
    shape_prior : float, default=3.0
        Weight of the weak prior on curve shapes in the search (0 for plain cross-validated
        error): a candidate is scored ``CV SSE / sigma^2 + shape_prior * penalty``, the penalty
        being the squared distance, in prior standard deviations, from a curve half way to
        saturation at the mean adstocked spend (relative scale 1, spread x/÷ 3), decay 0.3
        (+- 0.3) and hill shape 1 (+- 0.5). A shape far from that must earn its place by a
        clearly lower cross-validated error.
    pool_marginal : float, default=0.1
        Partial pooling of the touchpoints' marginal ROIs at their mean weekly spend towards a
        common value (0 for none), in the holdout, final and bootstrap fits: the penalty per
        week is ``pool_marginal * sum_j (mean spend_j * (marginal ROI_j - common))^2``. Where the
        data cannot tell touchpoints' marginal returns apart, they are taken as similar (the
        historical mix as a reasonable starting point) rather than as different by noise.
    record_time : bool, default=False
        Record ``fit_seconds`` in the diagnostics (which makes ``model.json`` differ run to run).
    executor : optional
        Where the bootstrap refits run: an ``optimizer.workflow.executor.Executor`` (local
        processes, a Dask cluster); default in this process. Each refit draws its weeks from a
        generator seeded by ``(seed, its index)`` alone, so the draws do not depend on it.
    calibration : sequence of LiftTest, or path, optional
        Lift tests (``optimizer.data.read_calibration``; a path is read with it). Those of this
        KPI (a test without ``kpi`` measures the main KPI) enter the fit as pseudo-observations:
        a test's model lift is ``beta * sum_t [g(adstock(x + delta))_t - g(adstock(x))_t]`` for
        the touchpoint's curve ``g`` and the test's extra spend ``delta``, linear in beta, and its
        residual ``(kpi_lift - model lift) / kpi_lift_se`` is weighted by the data's weekly noise
        sd, in the holdout, final and every bootstrap fit; in the shape search each candidate's
        cross-validated score adds the tests' chi-square. Per-test results go to
        ``diagnostics["calibration"]``. A tested touchpoint is exempt from the ridge and the
        pooling; one the history cannot identify (no variation, lock-step) is kept for its tests
        (beta from the tests, shape from the prior and search); tests on a touchpoint without
        any spend are reported but not used.

    method : {"map", "grid"}, default="map"
        ``map``: the continuous joint MAP fit of every touchpoint's decay, half saturation and
        shape started from the grid search, betas and baseline solved inside (variable
        projection), the family of each touchpoint by Laplace marginal likelihood, the pooling
        of marginal ROIs by empirical Bayes (``pool_marginal`` and ``ridge`` then play no part in the answer) and
        Laplace draws around the MAP (``n_bootstrap`` of them). ``grid``: the fitter before it
        (grid shapes, fixed pooling, bootstrap refits).
    prior_weight : float, default=1.0
        Weight of the weak Gaussian prior on the transforms in the MAP fit (1: the prior as
        stated, scaled to the noise variance; 0: none).
    seasonal_trend : bool, optional
        Add seasonality scaled by the trend to the baseline (``True``), never (``False``), or
        when the Bayesian information criterion prefers it (default; ``method="map"`` only).
    uncertainty_inflate : float, default=2.0
        Scale of the Laplace draws' spread (1: the posterior's own; the default is measured so
        that 80% intervals hold the truth about 80% of the time on simulated worlds).
    uncertainty : {"auto", "laplace", "bootstrap"}, default="auto"
        Draws of the MAP fit: Laplace around the MAP, or a moving-block bootstrap of the MAP fit
        (priors and lift tests perturbed; runs on ``executor``); ``auto``: bootstrap with lift
        tests, Laplace without.
    point : {"mean", "map"}, default="mean"
        The point curves: each the curve of its family closest to the mean over 60 posterior
        draws of its steady-state weekly response (the plan on them approaches the Bayes
        decision; touchpoints with lift tests keep the MAP), or the MAP itself.
    average_families : bool, default=False
        Bayesian model averaging over the saturation families (``method="map"``): each
        touchpoint's families get posterior weights from their Laplace marginal likelihoods
        (``diagnostics.family_weights``); the point curves' and the intervals' draws come from the
        mixture, and the point curve's family is the one closest to the mean over the draws.
    decay_posterior : {"laplace", "grid"}, default="laplace"
        The posterior of each touchpoint's adstock decay in the Laplace draws: Gaussian around
        the MAP (``laplace``), or on a grid of decays (``grid``: the MAP objective profiled over
        the decay, the touchpoint's other transforms refitted at each grid point, weighted with
        the Laplace volume of those transforms), which can be skewed or bimodal.
    seasonal_effectiveness : bool, default=True
        After the fit, test whether the media effect varies by week of the year and, when the
        history supports it, give the touchpoints contract 7's ``effectiveness``
        (``optimizer.response.seasonal_effect``; the diagnostics say which and why).
    pool_evidence : {"argmax", "shrinkage"}
        How the empirical-Bayes pooling weight comes from its marginal likelihood: the weight
        that maximises it (``argmax``), or the one at the posterior mean of the shrinkage factor
        under a uniform prior on it (``shrinkage``: where the evidence cannot tell moderate
        from full pooling apart, the pooling is stronger; ``joint.pooling_weight``).
    laplace_space : {"beta", "marginal"}
        The coordinates in which the Laplace draws are Gaussian: the transforms and the betas
        (``beta``), or the transforms and each touchpoint's marginal response at its mean
        weekly spend (``marginal``: what the pooling pools; a draw's beta follows from its
        transforms, so the draws' mean marginal ROI is the MAP's; ``mapfit.laplace_draws``), for
        the point curves' draws and, unless ``plan_space`` or ``interval_space`` says otherwise,
        the plans' and the intervals'.
    interval_scale : {"linear", "log"}, default="linear"
        The intervals' Laplace draws: Gaussian in the coordinates of ``interval_space``
        (``linear``, betas cut at zero), or log-normal in each touchpoint's marginal response at
        its mean spend (``log``: the Gaussian step of that response read in its log, as wide
        upward as downward in ratio; ``joint.in_marginal_space``; written as ``interval_draws``,
        the plans keep ``plan_space``). Measured in docs/response-models.md; not the default.
    interval_space : {"beta", "marginal", "conditional"} or None, default="marginal"
        The coordinates of the draws the printed marginal-ROI interval is read from (model.json
        diagnostics ``marginal_roi_interval_80``, the fit table; every band of a KPI level reads
        the plan draws); None: as ``plan_space``. Where they differ from the plan draws'
        coordinates they are written apart, as each touchpoint's ``interval_draws`` (from the
        same seed: the same Gaussian steps read in other coordinates; ``drawsets.py``), and the
        plans and ``draws`` are unchanged bit for bit. ``"marginal"``: Gaussian in the
        transforms and each touchpoint's marginal response at its mean spend, centred on the
        point curves (measured: 80% coverage 83-89%, from 69-74% in the betas).
        ``"conditional"``: the transforms drawn as in the betas, the betas re-solved at each
        draw's transforms plus the draw's conditional noise (``joint.in_conditional``; measured:
        coverage 71-81%). ``"beta"`` (or None): one set in the betas for both, the default before
        the two sets. Before two draw sets existed this option set the one set, ``draws``: that
        is ``plan_space`` now.
    plan_space : {"beta", "marginal", "conditional", "fixed"} or None, default=None
        The coordinates of the plans' draws (model.json ``draws``: ``--robust mean``, ``--robust
        anchored``, ``optimize --uncertainty``, the review's plan over the draws); None: as
        ``laplace_space``. ``plan_space="marginal"`` (with ``interval_space`` None) is the one
        draw set in the marginal response that ``interval_space="marginal"`` used to give
        (measured: the robust plans 1-19 points worse than on draws in the betas).
        ``"fixed"``: the transforms held at the point curves' and the coefficients drawn from
        their conditional law given them (what the benchmark's Bayes oracle does with the true
        transforms).
    n_interval_draws : int or None, default=None
        How many interval draws, where there are any (None: ``n_bootstrap``).
    plan_inflate : float or None, default=None
        The plan draws' spread factor (None: ``uncertainty_inflate``, the interval draws' too).
        Where it differs the interval draws are written apart even in the plan draws'
        coordinates (they keep ``uncertainty_inflate``); recorded in ``fit.options``.
    pool_space : {"linear", "log"}, default="linear"
        Where the point curves' marginal ROIs at the mean weekly spend are pooled: by the joint
        fit's linear pooling alone (``linear``), or then by a hierarchical prior in their log
        (``log``: each point curve rescaled to its posterior mean marginal ROI under ``log m_i ~
        N(lambda, tau^2)``, ``lambda`` and ``tau`` integrated over; ``optimizer.response.logpool``;
        ``diagnostics.pooling.log_pooling``). Measured in docs/response-models.md.
    burn_in_weeks : int, default=0
        ``method="map"``: the first weeks left out of the fit's likelihood (their spend still
        builds the adstock, from zero): a history that starts mid-stream carries adstock from
        spend before it that a zero start understates, the more the longer the decay
        (``optimizer.response.startup``). Measured in docs/response-models.md ("Long
        carry-overs fitted short"): an option, not the default.
    initial_carryover : {"zero", "fitted"}, default="fitted"
        ``method="map"``: every touchpoint's adstock before the history's first week: zero, or
        fitted as a nuisance (``r`` times the steady state of its first 13 weeks' mean spend,
        ``r`` shared and profiled over 0 and 1 by the MAP objective;
        ``optimizer.response.startup``; ``diagnostics.initial_carryover``). Measured in
        docs/response-models.md ("Long carry-overs fitted short"): the default (identical fits
        on every benchmark world, which start from zero; long decays of mid-stream histories
        fitted less short; plans on mid-stream histories better on the high-information worlds,
        pooled capture +2.0 to +3.5 points, and about even on the low, ``fit_dev.py
        --midstream 52``).
    prior_centre : {"mean", "operating"}, default="operating"
        ``method="map"``: where each touchpoint's weak prior on its half-saturation point is
        centred: at its mean adstocked spend over all weeks ("mean"), or at the level it runs at
        in the weeks it runs ("operating": ``n / n_on`` times higher, ``n_on`` the weeks with
        spend; the same for an always-on touchpoint; ``joint.prior_of``). Recorded in
        ``fit.options`` (a model.json without it was fitted with "mean"). Measured in
        docs/response-models.md ("Where the half-saturation prior is centred"): the default,
        as mmm_example's error falls from 10.9% to 3.5% and the flighted worlds' ROI errors fall,
        for 0-0.7 point of capture on the two generators whose truth sits at "mean".
    pool_draws : {"none", "intervals", "all"}, default="intervals"
        ``method="map"``: which draw sets carry the uncertainty of the empirical-Bayes pooling
        weight. "none": every draw at the evidence's best weight (the default before
        2026-12-07). "intervals": each interval draw (model.json ``interval_draws``, the printed
        marginal-ROI interval) at its own weight drawn from the weight's posterior (the evidence
        on a grid under a uniform prior on the shrinkage factor; ``optimizer.response.poolpost``;
        ``diagnostics.pooling.posterior``), and every band of a KPI level (``roi_interval_80``,
        the curve bands, the review's P10-P90) from a set drawn as the plans' draws but each at
        its own weight (``drawsets.roi_set``, model.json ``band_draws``; with lift tests, a
        bootstrap: each refit's betas re-solved at its own weight, ``mapboot.py``, which the
        marginal-ROI interval reads too); the plans' draws unchanged bit for bit. "all": the plans' draws too. Where the evidence peaks at
        full pooling the draws conditional on it put every touchpoint's marginal ROI at one
        value (measured: 80% intervals holding the truth for 22-32% of such worlds'
        touchpoints; with "intervals" 82-96%). Recorded in ``fit.options`` unless "none".
        Measured in docs/response-models.md.
    decay_prior : {"fixed", "shared", "touchpoint", "informed"}, default="fixed"
        ``method="map"``: the sd of each touchpoint's weak prior on its adstock decay (centre
        0.3): fixed at 0.3, or chosen by the Laplace marginal likelihood of the data on a grid
        of sds from 0.1 to 1 (``optimizer.response.decayprior``), one sd for all touchpoints
        ("shared") or one each ("touchpoint"), or from the weeks' own precision of the decay
        ("informed": the prior never outweighs them, sd up to 1 where they say nothing); on
        the training weeks' fit and kept after it.
        Recorded in ``fit.options`` and ``diagnostics.decay_prior``. Measured in
        docs/response-models-measured.md ("The decay prior's width from the evidence"): an
        option, not the default.
    decay_priors : mapping of str to (float, float), optional
        ``method="map"``: per touchpoint id, the (centre, sd) of its decay prior in place of
        0.3 +- 0.3 (touchpoints not named keep it): ``fit --by-market --share-decay`` gives each
        market the carry-over pooled from the other markets' histories
        (``optimizer.response.shared_decay``). Recorded in ``fit.options``.
    decay_profile : bool, default=False
        ``method="map"``: record each touchpoint's profile log likelihood of its decay (the MAP
        objective profiled over a grid of decays, the decay prior taken out) in
        ``diagnostics.decay_profile`` (what ``shared_decay`` pools across markets).
    rel_prior : {"fixed", "shared"}, default="fixed"
        ``method="map"``: the sd of the weak prior on each touchpoint's log relative
        half-saturation: fixed at ln 3, or one sd for all touchpoints chosen by the joint Laplace
        marginal likelihood of the data on a grid from ln 1.25 to ln 10
        (``optimizer.response.relprior``), on the training weeks' fit and kept after it.
        Recorded in ``fit.options`` and ``diagnostics.rel_prior``. Measured in
        docs/response-models-measured.md ("The half-saturation prior's width from the
        evidence").

    Returns
    -------
    ResponseModel
        Curves in KPI units per touchpoint (``weekly_kpi(x) = curve(steady_factor * x)``), with
        diagnostics, bootstrap draws and the baseline coefficients in ``fit``.

    Raises
    ------
    ModelError
        Too few weeks, a KPI that never varies, an unknown KPI or family, missing values.
    """
    fitter = ResponseFitter(
        kpi=kpi,
        random_state=seed,
        method=method,
        n_bootstrap=n_bootstrap,
        holdout_weeks=holdout_weeks,
        families=families,
        allow_s_curves=allow_s_curves,
        fourier_pairs=fourier_pairs,
        seasonal_trend=seasonal_trend,
        prior_weight=prior_weight,
        uncertainty_inflate=uncertainty_inflate,
        uncertainty=uncertainty,
        point=point,
        average_families=average_families,
        decay_posterior=decay_posterior,
        ridge=ridge,
        baseline_ridge=baseline_ridge,
        cv_splits=cv_splits,
        cv_test_weeks=cv_test_weeks,
        sweeps=sweeps,
        block_weeks=block_weeks,
        bootstrap_search=bootstrap_search,
        bootstrap_perturb=bootstrap_perturb,
        shape_prior=shape_prior,
        pool_marginal=pool_marginal,
        n_jobs=n_jobs,
        record_time=record_time,
        executor=executor,
        calibration=calibration,
        progress=progress,
        seasonal_effectiveness=seasonal_effectiveness,
        pool_evidence=pool_evidence,
        laplace_space=laplace_space,
        interval_scale=interval_scale,
        interval_space=interval_space,
        plan_space=plan_space,
        n_interval_draws=n_interval_draws,
        plan_inflate=plan_inflate,
        pool_space=pool_space,
        burn_in_weeks=burn_in_weeks,
        initial_carryover=initial_carryover,
        prior_centre=prior_centre,
        pool_draws=pool_draws,
        decay_prior=decay_prior,
        decay_priors=decay_priors,
        decay_profile=decay_profile,
        rel_prior=rel_prior,
    )
    model: ResponseModel = fitter.fit(history).model_
    return model


def fit_all_kpis(history: History, **kwargs: Any) -> dict[str, ResponseModel]:
    """One model per KPI the journey lists (``journey.all_kpis``, main KPI first).

    Keyword arguments go to :func:`fit_model`. With several KPIs the progress stages are
    prefixed with the KPI id (``"leads: search"``). With ``n_jobs != 1`` and fits big enough to
    pay for starting workers, the KPIs are fitted in parallel joblib workers (each fit
    in-process) and progress reports stage ``fit`` once all are done. The models are the same
    either way.
    """
    specs = history.journey.all_kpis
    progress: Progress | None = kwargs.pop("progress", None)
    n_jobs = kwargs.get("n_jobs", 1)
    grid = _grid(
        kwargs.get("families") or ("hill", "exponential", "logistic"),
        kwargs.get("allow_s_curves", False),
    )
    cost = len(history.journey.touchpoints) * history.n_weeks**2 * len(grid)
    workers = min(effective_n_jobs(n_jobs), len(specs)) if cost >= _PARALLEL_MIN_FIT else 1
    if workers > 1:
        inner = {**kwargs, "n_jobs": 1}
        models = Parallel(n_jobs=workers)(delayed(fit_model)(history, k.id, **inner) for k in specs)
        if progress is not None:
            progress("fit", len(specs), len(specs))
        return {k.id: m for k, m in zip(specs, models, strict=True)}
    out: dict[str, ResponseModel] = {}
    for k in specs:
        cb = progress
        if progress is not None and len(specs) > 1:

            def cb(stage: str, done: int, total: int, _k: str = k.id) -> None:
                progress(f"{_k}: {stage}", done, total)

        out[k.id] = fit_model(history, k.id, progress=cb, **kwargs)
    return out


# ------------------------------------------------------------------------------------------------
# reproducing the fitted decomposition
# ------------------------------------------------------------------------------------------------
def contributions(model: ResponseModel, history: History) -> pd.DataFrame:
    """Weekly KPI contribution of each touchpoint (and of the baseline, for a fitted model).

    Columns: one per touchpoint id, one per lock-step group kept as unattributed
    (``group:a+b``), and ``baseline`` when the model carries its fitted baseline; the row sum is
    :func:`predict`. The carry-over before the history's first week is taken as zero.
    """
    frame = history.frame
    data: dict[str, np.ndarray] = {}
    for tid, tp in model.touchpoints.items():
        if tid not in frame.columns:
            raise ModelError(
                f"the history has no spend column for touchpoint {tid!r}",
                path=history.source,
                field=tid,
            )
        x = frame[tid].to_numpy(dtype=float)
        a = x if tp.adstock is None else tp.adstock.transform(x)
        data[tid] = np.asarray(tp.curve(a), dtype=float)
    fit = model.fit or {}
    for u in fit.get("unattributed", ()):
        missing = [m for m in u["members"] if m not in frame.columns]
        if missing:
            raise ModelError(
                f"the history has no spend column for touchpoint {missing[0]!r}",
                path=history.source,
                field=missing[0],
            )
        x = frame[list(u["members"])].to_numpy(dtype=float).sum(axis=1)
        data[u["name"]] = (
            float(u["coef"]) * C.geometric_adstock(x, float(u["decay"])) / float(u["scale"])
        )
    if "baseline" in fit and "baseline_terms" in fit:
        terms = dict(fit["baseline_terms"])
        Z = _baseline_matrix(frame, terms, history.source)
        names = _baseline_names(
            int(terms["fourier_pairs"]),
            terms.get("controls", ()),
            terms.get("events", ()),
            bool(terms.get("seasonal_trend", False)),
        )
        coefs = np.array([float(fit["baseline"].get(k, 0.0)) for k in names])
        data["baseline"] = Z @ coefs
    return pd.DataFrame(data, index=frame.index)


def predict(model: ResponseModel, history: History) -> np.ndarray:
    """The fitted KPI for each week of ``history`` (media contributions plus baseline).

    Raises ``ModelError`` for a model without a fitted baseline (e.g. written by hand).
    """
    fit = model.fit or {}
    if "baseline" not in fit or "baseline_terms" not in fit:
        raise ModelError(
            "the model has no fitted baseline ('fit.baseline'), so it cannot predict "
            "the KPI; only touchpoint contributions are available",
            path=model.source,
            field="fit",
        )
    return contributions(model, history).sum(axis=1).to_numpy()
