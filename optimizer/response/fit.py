"""Fit response curves to weekly history: ``History`` -> ``ResponseModel`` (contract 3).

The model of a KPI ``y`` in week ``t`` is

    y_t = sum_i beta_i * sat_i(adstock_i(x_i)_t) + baseline_t + noise,

with, per touchpoint ``i``, a geometric adstock (decay in ``[0, 0.8]``) and a unit-beta saturation
curve (hill with shape in ``[0.5, 1]`` -- concave -- or exponential; optionally logistic and
S-shaped hill curves), and a baseline of intercept, linear trend, yearly Fourier seasonality and the
journey's control and event columns.

How it is fitted (honest, fast, reproducible):

1. *Checks.* At least ``MIN_WEEKS_TO_FIT`` weeks; a KPI that varies; touchpoints whose spend never
   varies, or moves in lock-step with another touchpoint's (|correlation| > 0.98), are reported as
   not identifiable and get ``beta = 0`` -- their effect is not invented. The joint effect of a
   lock-step group is kept as one non-negative linear nuisance column (``fit.unattributed``) so it
   does not leak into the other touchpoints. A touchpoint that a lift test measures is kept
   (see 6).
2. *Coefficients* for given curve shapes: media betas are non-negative, baseline terms free; a
   ridge penalty of ``ridge * n`` falls on each media column scaled by its root mean square (so on
   its typical weekly contribution: a near-constant column cannot carry a large contribution
   the data do not support) and ``baseline_ridge * n`` on the standardised baseline terms but
   the intercept. The baseline is profiled out exactly (QR of the ridge-augmented baseline), so a
   candidate costs one small NNLS; the candidates of one touchpoint are solved together on the
   normal equations by a batched active-set method, checked against the KKT conditions (the
   ridge makes the optimum unique), falling back to ``scipy.optimize.nnls``. Once the shapes are
   chosen, the holdout, final and bootstrap fits also *pool* the touchpoints' marginal ROIs at
   their mean weekly spend towards a common value fitted with them (``pool_marginal``): where
   the data cannot tell two touchpoints' marginal returns apart, they come out similar rather
   than different by noise, which is what an optimiser would otherwise chase.
3. *Curve shapes* per touchpoint by coordinate descent over touchpoints (biggest spender first): for
   one touchpoint, every grid candidate (decay x family x relative scale x shape) is scored by
   rolling-origin cross-validation (``TimeSeriesSplit``, never shuffled: every training week
   after the first year is a test week once, in blocks of ``cv_test_weeks``) while the others are
   held fixed; repeat up to ``sweeps`` times or until nothing changes. The half saturation /
   scale is searched relative to the touchpoint's mean adstocked spend. The score is the CV
   error in units of the best candidate's error variance plus a weak prior (``shape_prior``)
   centred on a curve half way to saturation at the mean adstocked spend, decay 0.3 and hill
   shape 1, so that a shape far from that (a near-linear curve whose extrapolation would pull a
   plan's money far beyond the observed spend, say) must earn its place by a clearly lower error.
   With ``n_jobs != 1`` the candidates of a big step are scored in joblib workers; results never
   depend on ``n_jobs``.
4. *Holdout.* The search and a fit use all weeks but the last ``holdout_weeks``; MAPE and NRMSE
   (RMSE divided by the range of the KPI over those weeks) are measured on those. The
   final coefficients are refitted on all weeks with the chosen shapes.
5. *Uncertainty.* ``n_bootstrap`` refits on moving-block bootstrap resamples of weeks (blocks of
   ``block_weeks``; refit ``k`` draws its weeks from ``SeedSequence(seed, spawn_key=(k,))``). In
   each, every touchpoint's decay and scale may move one grid step, or its family or hill shape
   change, if the out-of-bag weeks prefer it (``bootstrap_search``), then the betas are refit.
   With ``bootstrap_perturb`` the shape prior's centre, the media ridge and pooling priors and
   the lift tests are perturbed by their own standard deviations in each refit ("randomise then
   optimise", see ``_research`` and ``_solve``): without it a touchpoint held by a prior or a
   test gets draws far narrower than what is known. Draw ``k`` of every touchpoint comes from
   the same refit, so draws are joint. Each refit is an independent task, run in-process or
   through an ``executor`` (local processes, a Dask cluster) with the same result.

6. *Calibration* (optional, ``calibration``): lift tests enter the holdout, final and bootstrap
   fits as weighted pseudo-observations, ``sigma * (kpi_lift - beta * unit lift) / kpi_lift_se``
   (``sigma`` the data's weekly noise sd; the unit lift is the candidate's adstock + saturation over
   the history with the test's extra spend added, minus without, carry-over included), and the
   search adds the tests' chi-square to each candidate's score (``_Calibration``). A touchpoint
   with tests has neither the ridge nor the pooling of marginal ROIs: the experiments, not the
   shrinkage, set its effect size. A touchpoint the history cannot identify (step 1) is kept
   when it has tests and some spend: its beta then comes from the tests, its shape from the
   prior and the search (``diagnostics["identified_by"] == "lift tests"``); a lock-step
   partner without tests stays in the nuisance column. Without lift tests the fit is unchanged.

Same inputs and ``seed`` give a bit-identical ``model.json``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed, effective_n_jobs
from sklearn.model_selection import TimeSeriesSplit

from optimizer.data import History, LiftTest, read_calibration
from optimizer.errors import ModelError
from optimizer.fileio import did_you_mean
from optimizer.response import curves as C
from optimizer.response.model import Adstock, ResponseModel, Saturation, TouchpointResponse
from optimizer.vocabulary import CURVE_FAMILIES, DATE_COLUMN, MIN_WEEKS_TO_FIT

__all__ = ["fit_model", "fit_all_kpis", "predict", "contributions", "Progress"]

from optimizer.response.bootstrap import (  # noqa: F401
    _block_bootstrap,
    _Bootstrap,
    _bootstrap_draw,
    _bootstrap_draws,
    _run_draws,
)
from optimizer.response.calibration import (  # noqa: F401
    _Calibration,
)
from optimizer.response.design import (  # noqa: F401
    _PARALLEL_MIN_FIT,
    _PARALLEL_MIN_WORK,
    DECAY_GRID,
    GROUP_DECAY,
    HILL_SHAPES,
    MAX_SPEND_CORRELATION,
    MIN_SPEND_CV,
    PERIOD_WEEKS,
    PRIOR_DECAY,
    PRIOR_DECAY_SD,
    PRIOR_LOG_RELATIVE_SD,
    PRIOR_RELATIVE_SCALE,
    PRIOR_SHAPE_SD,
    RECENT_WEEKS,
    RELATIVE_GRID,
    S_CURVE_SHAPES,
    TESTED_RIDGE,
    _baseline_matrix,
    _baseline_names,
    _Cand,
    _check_options,
    _components,
    _default_index,
    _grid,
    _prior_penalty,
    _resolve_kpi,
    _spend_problem,
)
from optimizer.response.search import (  # noqa: F401
    _criterion,
    _criterion_cal,
    _Fold,
    _fold_tp,
    _FoldTp,
    _group_by_support,
    _neighbours,
    _research,
    _score_chunk,
)
from optimizer.response.solve import (  # noqa: F401
    _Frame,
    _make_frame,
    _media_scale,
    _nnls,
    _Pool,
    _pool_for,
    _solve,
    _Solved,
)

Progress = Callable[[str, int, int], None]


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


def _fmt(x: float) -> str:
    return f"{x:,.4g}" if abs(x) < 1e4 else f"{x:,.0f}"


# ------------------------------------------------------------------------------------------------
# the fit
# ------------------------------------------------------------------------------------------------
def fit_model(
    history: History,
    kpi: str | None = None,
    *,
    seed: int = 0,
    n_jobs: int = 1,
    n_bootstrap: int = 20,
    holdout_weeks: int = 13,
    progress: Progress | None = None,
    families: Sequence[str] = ("hill", "exponential"),
    allow_s_curves: bool = False,
    fourier_pairs: int = 3,
    ridge: float = 0.003,
    baseline_ridge: float = 0.001,
    cv_splits: int | None = None,
    cv_test_weeks: int = 13,
    sweeps: int = 3,
    block_weeks: int = 8,
    bootstrap_search: bool = True,
    bootstrap_perturb: bool = True,
    shape_prior: float = 3.0,
    pool_marginal: float = 0.1,
    record_time: bool = False,
    executor: Any = None,
    calibration: Sequence[LiftTest] | str | Path | None = None,
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
    families : sequence of str, default=("hill", "exponential")
        Saturation families to consider (any of ``hill``, ``exponential``, ``logistic``).
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
    sweeps : int, default=3
        Coordinate-descent sweeps over touchpoints (stops early when nothing changes).
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
    t0 = time.perf_counter()
    journey = history.journey
    path = history.source
    spec = _resolve_kpi(history, kpi)
    frame = history.frame
    n = len(frame)
    fams = tuple(families)
    for fam in fams:
        if fam not in CURVE_FAMILIES:
            raise ModelError(
                f"unknown curve family {fam!r}{did_you_mean(str(fam), CURVE_FAMILIES)}",
                field="families",
            )
    if not fams:
        raise ModelError("no curve families to fit", field="families")
    fams = tuple(dict.fromkeys(fams))
    if n < MIN_WEEKS_TO_FIT:
        raise ModelError(
            f"the history has {n} week{'s' if n != 1 else ''} of data; fitting a response model "
            f"needs at least {MIN_WEEKS_TO_FIT} weeks (one row per week in '{DATE_COLUMN}')",
            path=path,
            field=DATE_COLUMN,
        )
    if spec.column not in frame.columns:
        raise ModelError(
            f"the history has no KPI column {spec.column!r}", path=path, field=spec.column
        )
    y = frame[spec.column].to_numpy(dtype=float)
    if not np.all(np.isfinite(y)):
        raise ModelError("the KPI has missing or non-finite values", path=path, field=spec.column)
    if np.all(y == 0):
        raise ModelError(
            f"the KPI {spec.column!r} is zero in every week: there is nothing to explain",
            path=path,
            field=spec.column,
        )
    if float(np.std(y)) <= 1e-9 * max(1.0, float(np.abs(y).mean())):
        raise ModelError(
            f"the KPI {spec.column!r} is the same ({_fmt(float(y[0]))}) in every "
            "week: spend cannot explain it",
            path=path,
            field=spec.column,
        )
    tps = list(journey.touchpoints)
    X = np.column_stack([frame[t.id].to_numpy(dtype=float) for t in tps])
    for i, t in enumerate(tps):
        if not np.all(np.isfinite(X[:, i])) or (X[:, i] < 0).any():
            raise ModelError(
                "spend must be finite and non-negative in every week",
                path=path,
                field=t.spend_column,
            )

    _check_options(
        shape_prior=shape_prior,
        pool_marginal=pool_marginal,
        n_bootstrap=n_bootstrap,
        holdout_weeks=holdout_weeks,
        fourier_pairs=fourier_pairs,
        ridge=ridge,
        baseline_ridge=baseline_ridge,
        cv_test_weeks=cv_test_weeks,
        sweeps=sweeps,
        block_weeks=block_weeks,
    )
    baseline_ridge = max(float(baseline_ridge), 1e-9)  # keeps the baseline solvable
    warnings: list[str] = []
    holdout = int(holdout_weeks)
    if holdout > n // 4:
        warnings.append(f"holdout cut from {holdout} to {n // 4} weeks (a quarter of the history)")
        holdout = n // 4
    n_train = n - holdout

    # ---- lift tests of this KPI (they can keep a touchpoint the history cannot identify) ------
    if isinstance(calibration, (str, Path)):
        calibration = read_calibration(calibration, history)
    tests = [t for t in (calibration or ()) if (t.kpi or journey.kpi) == spec.id]
    tp_index = {t.id: k for k, t in enumerate(tps)}
    for t in tests:
        if t.touchpoint not in tp_index:
            raise ModelError(
                f"lift test in row {t.row} is on touchpoint {t.touchpoint!r}, which the journey "
                "lacks",
                field="calibration",
            )
    n_tests_of = {i: sum(tp_index[t.touchpoint] == i for t in tests) for i in range(len(tps))}

    # ---- identifiability ------------------------------------------------------------------
    reasons: list[str | None] = [_spend_problem(X[:, i], n_train, holdout) for i in range(len(tps))]
    ident = [r is None for r in reasons]
    live = [i for i in range(len(tps)) if ident[i]]
    edges: list[tuple[int, int]] = []
    corr_of: dict[tuple[int, int], float] = {}
    if len(live) > 1:
        cm = np.corrcoef(X[:, live], rowvar=False)
        for a in range(len(live)):
            for b in range(a + 1, len(live)):
                if abs(cm[a, b]) > MAX_SPEND_CORRELATION:
                    edges.append((a, b))
                    corr_of[(live[a], live[b])] = corr_of[(live[b], live[a])] = float(cm[a, b])
    groups = [[live[k] for k in g] for g in _components([str(i) for i in live], edges)]
    # a touchpoint the history cannot identify but a lift test measures is kept: the tests fix
    # its beta, the shape prior (and whatever the search finds) its curve. Lock-step members
    # with tests leave their group; the untested rest stay a nuisance column, so their effect
    # neither leaks into the tested ones nor is invented.
    by_tests = [
        n_tests_of[i] > 0
        and float(X[:, i].max()) > 0
        and (not ident[i] or any(i in g for g in groups))
        for i in range(len(tps))
    ]
    group_cols: list[np.ndarray] = []
    unattributed: list[dict[str, Any]] = []
    for g_all in groups:
        g = [i for i in g_all if not by_tests[i]]
        names = [tps[i].id for i in g]
        gname = "group:" + "+".join(names)
        for i in g_all:
            partners = [(tps[j].id, corr_of[(i, j)]) for j in g_all if (i, j) in corr_of]
            desc = ", ".join(f"{pid!r} (correlation {c:.3f})" for pid, c in partners)
            ident[i] = False
            reasons[i] = (
                f"weekly spend moves in lock-step with {desc}: their effects cannot be told "
                "apart"
                + (
                    f"; their joint effect is kept as {gname!r} in the model's fit"
                    if not by_tests[i]
                    else ""
                )
            )
        if not g:
            continue
        gx = C.geometric_adstock(X[:, g].sum(axis=1), GROUP_DECAY)
        scale = float(gx.mean()) or 1.0
        group_cols.append(gx / scale)
        unattributed.append({"name": gname, "members": names, "decay": GROUP_DECAY, "scale": scale})
    searched = [i for i in range(len(tps)) if ident[i] or by_tests[i]]
    dropped = [tps[i].id for i in range(len(tps)) if not ident[i] and not by_tests[i]]
    if dropped:
        warnings.append(f"not identifiable, curve set flat (beta 0): {', '.join(dropped)}")
    kept = [tps[i].id for i in range(len(tps)) if by_tests[i]]
    if kept:
        warnings.append(
            "not identifiable from the history, kept for their lift tests (beta from the "
            f"tests, curve shape from the prior): {', '.join(kept)}"
        )

    # ---- candidate columns per searched touchpoint ---------------------------------------
    grid = _grid(fams, allow_s_curves)
    start = _default_index(grid)
    penalty = _prior_penalty(grid)
    ad_cache: dict[tuple[int, float], np.ndarray] = {}

    def adstocked(i: int, d: float) -> np.ndarray:
        key = (i, d)
        if key not in ad_cache:
            ad_cache[key] = C.geometric_adstock(X[:, i], d)
        return ad_cache[key]

    def mean_ad(i: int, d: float) -> float:
        m = float(adstocked(i, d).mean())
        return m if m > 0 else 1.0

    def column(i: int, c: _Cand) -> np.ndarray:
        return C.saturation(
            c.family, adstocked(i, c.decay), {"beta": 1.0, **c.params(mean_ad(i, c.decay))}
        )

    cand_cols = {i: np.column_stack([column(i, c) for c in grid]) for i in searched}

    terms: dict[str, Any] = {
        "origin": pd.Timestamp(frame.index[0]).date().isoformat(),
        "period_weeks": PERIOD_WEEKS,
        "fourier_pairs": int(fourier_pairs),
        "controls": list(journey.controls),
        "events": list(journey.events),
    }
    Z = _baseline_matrix(frame, terms, path)
    base_names = _baseline_names(int(fourier_pairs), journey.controls, journey.events)
    G = np.column_stack(group_cols) if group_cols else np.zeros((n, 0))

    # ---- lift tests: model lift per unit beta of every candidate ------------------------------
    slots_all = {i: k for k, i in enumerate(searched)}
    used = [t for t in tests if tp_index.get(t.touchpoint) in slots_all]
    cal: _Calibration | None = None
    if used:
        unit = {i: np.zeros((len(used), len(grid))) for i in searched}
        for r_, t in enumerate(used):
            i = tp_index[t.touchpoint]
            x1 = X[:, i] + t.delta(n)
            ad1 = {d: C.geometric_adstock(x1, d) for d in DECAY_GRID}
            for k_, c in enumerate(grid):
                p_ = {"beta": 1.0, **c.params(mean_ad(i, c.decay))}
                g1 = C.saturation(c.family, ad1[c.decay], p_)
                unit[i][r_, k_] = float(np.sum(g1 - cand_cols[i][:, k_]))
        cal = _Calibration(
            unit,
            np.array([t.kpi_lift for t in used]),
            np.array([t.kpi_lift_se for t in used]),
            1.0,
        )

    # ridge of each media column relative to ``ridge``: a touchpoint a lift test measures has
    # its contribution supported by the experiment (the ridge guards against contributions the
    # data do not support, and would shrink the measured effect); a trace of it is kept so the
    # search's normal equations stay positive definite
    tested = tuple(k_ for k_, i in enumerate(searched) if cal is not None and n_tests_of[i])
    ridge_w: np.ndarray | None = None
    if tested:
        ridge_w = np.ones(len(searched) + G.shape[1])
        ridge_w[list(tested)] = TESTED_RIDGE

    def noise_sd(ch: dict[int, int], rows: np.ndarray) -> float:
        """Weekly noise sd of a fit without the tests, for the shapes ``ch``, on ``rows``."""
        Mx = np.hstack(
            [
                np.column_stack([cand_cols[i][:, ch[i]] for i in searched])
                if searched
                else np.zeros((n, 0)),
                G,
            ]
        )
        frx = _make_frame(Z[rows], y[rows], ridge, baseline_ridge)
        solx = _solve(frx, Mx[rows], Z[rows])
        res = y[rows] - Z[rows] @ solx.base - Mx[rows] @ solx.beta
        dof = max(len(rows) - Z.shape[1] - Mx.shape[1], 1)
        return max(math.sqrt(float(res @ res) / dof), 1e-12 * max(1.0, float(np.abs(y).mean())))

    # ---- coordinate-descent search with time-series CV on the training weeks ---------------
    choice = {i: start for i in searched}
    # rolling origin: every week after the first year (or half the training weeks) is a test
    # week once, in blocks of ``cv_test_weeks``
    min_train = min(52, n_train // 2)
    test_size = max(4, min(int(cv_test_weeks), (n_train - min_train) // 2))
    n_splits = cv_splits or max(2, (n_train - min_train) // test_size)
    splits = list(TimeSeriesSplit(n_splits=n_splits, test_size=test_size).split(np.arange(n_train)))
    n_test_weeks = len(splits) * test_size
    order = sorted(searched, key=lambda i: (-float(X[:n_train, i].sum()), i))
    n_sweeps_run = 0
    cv_sse = float("nan")
    report = progress or (lambda stage, done, total: None)
    total_steps = sweeps * len(order)
    n_cal = cal.n if cal is not None else 0
    if cal is not None:
        # weights of the tests in the search: the noise of a fit with the starting shapes
        cal = cal.with_sigma(noise_sd({i: start for i in searched}, np.arange(n_train)))
    if order:
        folds: list[_Fold] = []
        fold_tp: list[dict[int, _FoldTp]] = []
        fold_grp: list[_FoldTp | None] = []
        for tr, te in splits:
            fr = _make_frame(Z[tr], y[tr], ridge, baseline_ridge)
            Zte = fr.standardise(Z[te])
            if cal is not None:  # the lift tests are rows of every fold's fit
                folds.append(
                    _Fold(np.concatenate([fr.y_res, cal.r]), Zte @ fr.gy, y[te], fr.sqrt_alpha)
                )
                fold_tp.append(
                    {
                        i: _fold_tp(fr, Zte, cand_cols[i], tr, te).with_cal(cal.L(i, slice(None)))
                        for i in searched
                    }
                )
                fold_grp.append(
                    _fold_tp(fr, Zte, G, tr, te).with_cal(np.zeros((n_cal, G.shape[1])))
                    if G.shape[1]
                    else None
                )
            else:
                folds.append(_Fold(fr.y_res, Zte @ fr.gy, y[te], fr.sqrt_alpha))
                fold_tp.append({i: _fold_tp(fr, Zte, cand_cols[i], tr, te) for i in searched})
                fold_grp.append(_fold_tp(fr, Zte, G, tr, te) if G.shape[1] else None)
        slots = {i: k for k, i in enumerate(searched)}
        k_media = len(searched) + G.shape[1]

        def current_mats() -> tuple[list[np.ndarray], list[np.ndarray]]:
            As, Es = [], []
            for f, fold in enumerate(folds):
                nr = fold.y_res.shape[0]
                A = np.zeros((nr + k_media, k_media))
                E = np.zeros((fold.y_test.shape[0], k_media))
                for i in searched:
                    A[:nr, slots[i]] = fold_tp[f][i].R[:, choice[i]]
                    E[:, slots[i]] = fold_tp[f][i].E[:, choice[i]]
                fg = fold_grp[f]
                if fg is not None:
                    A[:nr, len(searched) :] = fg.R
                    E[:, len(searched) :] = fg.E
                A[nr:, :] = np.diag(
                    fold.sqrt_alpha * (ridge_w if ridge_w is not None else np.ones(k_media))
                )
                As.append(A)
                Es.append(E)
            return As, Es

        # workers pay only when a step is big: starting them and shipping the candidate columns
        # costs more than a whole weekly fit of a few hundred candidates (measured: 15
        # touchpoints x 156 weeks fit in ~2 s serially, ~15 s with 2 process workers)
        work = len(grid) * sum(len(tr) for tr, _ in splits)
        n_chunks = effective_n_jobs(n_jobs) if work >= _PARALLEL_MIN_WORK else 1
        parallel = Parallel(n_jobs=n_chunks, max_nbytes=None) if n_chunks > 1 else None
        step = 0
        for _sweep in range(sweeps):
            n_sweeps_run += 1
            changed = False
            for i in order:
                As, Es = current_mats()
                cR = [fold_tp[f][i].R for f in range(len(folds))]
                cE = [fold_tp[f][i].E for f in range(len(folds))]
                if parallel is None:
                    scores = _score_chunk(folds, As, Es, slots[i], cR, cE, n_cal)
                else:
                    bounds = np.linspace(0, len(grid), n_chunks + 1).astype(int)
                    parts = parallel(
                        delayed(_score_chunk)(
                            folds,
                            As,
                            Es,
                            slots[i],
                            [r[:, a:b] for r in cR],
                            [e[:, a:b] for e in cE],
                            n_cal,
                        )
                        for a, b in zip(bounds[:-1], bounds[1:], strict=True)
                        if b > a
                    )
                    scores = np.concatenate(parts)
                crit = _criterion_cal(scores, n_test_weeks, penalty, shape_prior, cal, len(folds))
                best = int(np.argmin(crit))
                if crit[best] < crit[choice[i]] - 1e-9 * abs(crit[choice[i]]):
                    choice[i] = best
                    changed = True
                cv_sse = float(scores[choice[i], 0])
                step += 1
                report("search", step, total_steps)
            if not changed:
                break
        report("search", total_steps, total_steps)

    # ---- media design with the chosen shapes ---------------------------------------------
    M_tp = (
        np.column_stack([cand_cols[i][:, choice[i]] for i in searched])
        if searched
        else np.zeros((n, 0))
    )
    M = np.hstack([M_tp, G])
    mean_spend = X.mean(axis=0)

    mean_ads = {(i, d): mean_ad(i, d) for i in searched for d in DECAY_GRID}

    def pool_for(ch: dict[int, int]) -> _Pool:
        return _pool_for(
            ch, searched, grid, mean_ads, mean_spend, float(pool_marginal), M.shape[1], tested
        )

    pool = pool_for(choice)
    cal_rows = None
    if cal is not None:
        # weights of the tests in the refits: the noise of the chosen shapes' fit on all weeks
        cal = cal.with_sigma(noise_sd(choice, np.arange(n)))
        cal_rows = (cal.matrix(choice, slots_all, M.shape[1]), cal.r)

    # ---- holdout: fit on the training weeks, forecast the rest -----------------------------
    report("refit", 0, 2)
    mape_ho = nrmse_ho = None
    if holdout > 0:
        tr = np.arange(n_train)
        fr = _make_frame(Z[tr], y[tr], ridge, baseline_ridge)
        sol = _solve(fr, M[tr], Z[tr], pool, cal_rows, ridge_w)
        yhat = Z[n_train:] @ sol.base + M[n_train:] @ sol.beta
        mape_ho = _mape(y[n_train:], yhat)
        nrmse_ho = _nrmse(y[n_train:], yhat)
    report("refit", 1, 2)

    # ---- final fit on all weeks --------------------------------------------------------------
    fr_all = _make_frame(Z, y, ridge, baseline_ridge)
    final = _solve(fr_all, M, Z, pool, cal_rows, ridge_w)
    report("refit", 2, 2)

    # ---- bootstrap: refit on resampled weeks, with a light re-search of the shapes -------------
    # each draw is a task whose randomness comes from its index alone, so the draws are the same
    # whatever runs them (in-process, or an executor's workers) and in whatever order
    boot = _Bootstrap(
        seed=int(seed),
        n=n,
        block_weeks=int(block_weeks),
        ridge=float(ridge),
        baseline_ridge=float(baseline_ridge),
        Z=Z,
        y=y,
        M=M,
        G=G,
        order=tuple(order),
        searched=tuple(searched),
        choice=dict(choice),
        cand_cols=cand_cols,
        grid=tuple(grid),
        index_of={(c.decay, c.family, c.rel, c.shape): k for k, c in enumerate(grid)},
        penalty=penalty,
        shape_prior=float(shape_prior),
        search=bool(bootstrap_search),
        perturb=bool(bootstrap_perturb),
        # the weekly noise sd the priors' and the tests' perturbations are scaled by (the tests'
        # weights already use it)
        sigma=cal.sigma if cal is not None else noise_sd(choice, np.arange(n)),
        mean_ads=mean_ads,
        mean_spend=mean_spend,
        pool_marginal=float(pool_marginal),
        pool=pool,
        cal=cal,
        ridge_w=ridge_w,
        unpooled=tested,
    )
    draws_beta = np.zeros((n_bootstrap, M.shape[1]))
    draws_choice: list[dict[int, int]] = [{} for _ in range(n_bootstrap)]
    for b, (beta_b, choice_b) in _run_draws(boot, n_bootstrap, executor, report):
        draws_beta[b] = beta_b
        draws_choice[b] = choice_b

    # ---- assemble the model --------------------------------------------------------------------
    slot = {i: k for k, i in enumerate(searched)}
    curves_out: dict[int, tuple[Saturation, Adstock, _Cand, float]] = {}
    for i in range(len(tps)):
        cand = grid[choice[i]] if i in slot else grid[start]
        mean_a = mean_ad(i, cand.decay)
        beta = float(final.beta[slot[i]]) if i in slot else 0.0
        sat = Saturation(cand.family, {"beta": beta, **cand.params(mean_a)})
        curves_out[i] = (sat, Adstock(decay=cand.decay), cand, mean_a)

    unit = {i: column(i, curves_out[i][2]) for i in range(len(tps))}
    contrib = {i: curves_out[i][0].beta * unit[i] for i in range(len(tps))}
    for g, u in enumerate(unattributed):
        u["coef"] = float(final.beta[len(searched) + g])
    group_contrib = [u["coef"] * G[:, g] for g, u in enumerate(unattributed)]
    media_total = float(
        sum(c.sum() for c in contrib.values()) + sum(c.sum() for c in group_contrib)
    )
    for g, u in enumerate(unattributed):
        members = [tps.index(journey.touchpoint(m)) for m in u["members"]]
        spend = float(X[:, members].sum())
        u["contribution"] = float(group_contrib[g].sum())
        u["contribution_share"] = u["contribution"] / media_total if media_total > 0 else 0.0
        u["roi"] = u["contribution"] / spend if spend > 0 else None

    yfit = Z @ final.base + M @ final.beta
    sst = float(((y - y.mean()) ** 2).sum())
    r2 = 1.0 - float(((y - yfit) ** 2).sum()) / sst

    out: dict[str, TouchpointResponse] = {}
    for i, t in enumerate(tps):
        sat, ad, cand, mean_a = curves_out[i]
        x = X[:, i]
        recent = float(x[-RECENT_WEEKS:].mean())
        lo, hi = float(x.min()), float(x.max())
        spend_range = {"min": lo, "max": hi, "mean": float(x.mean()), "recent": recent}
        draws: list[tuple[Saturation, Adstock]] = []
        draw_contrib = np.zeros(n_bootstrap)
        for b in range(n_bootstrap):
            if i in slot:
                bc = grid[draws_choice[b][i]]
                bb = float(draws_beta[b, slot[i]])
                draws.append(
                    (
                        Saturation(bc.family, {"beta": bb, **bc.params(mean_ad(i, bc.decay))}),
                        Adstock(decay=bc.decay),
                    )
                )
                draw_contrib[b] = bb * float(column(i, bc).sum())
            else:
                draws.append((Saturation(sat.family, {**sat.params, "beta": 0.0}), ad))
        tr_ = TouchpointResponse(t.id, t.stage, sat, ad, spend_range, tuple(draws))
        total_spend = float(x.sum())
        total_c = float(contrib[i].sum())
        roi = total_c / total_spend if total_spend > 0 else None
        mroi = float(tr_.weekly_marginal(recent)) if sat.beta > 0 else 0.0
        mean_x = float(x.mean())
        steady = float(tr_.weekly_kpi(mean_x)) / mean_x if mean_x > 0 else None
        w: list[str] = []
        diag: dict[str, Any] = {
            "identifiable": ident[i],
            "reason": reasons[i],
            "contribution": total_c,
            "contribution_share": total_c / media_total if media_total > 0 else 0.0,
            "roi": roi,
            "marginal_roi": mroi,
            "steady_state_roi": steady,
            "weeks_with_spend": int((x > 0).sum()),
        }
        if by_tests[i]:
            diag["identified_by"] = "lift tests"
            w.append(
                f"not identifiable from the history ({reasons[i]}); kept because "
                f"{n_tests_of[i]} lift test(s) measure it: its beta comes from the tests, its "
                "curve shape from the prior"
            )
        if i in slot:
            diag["search"] = {**cand.describe(), "mean_adstock": mean_a}
            if n_bootstrap:
                bd = draws_beta[:, slot[i]]
                if total_spend > 0:
                    diag["roi_interval_80"] = _interval(draw_contrib / total_spend)
                if recent > 0:
                    dm = np.array([float(r.weekly_marginal(recent)) for r in tr_.draw_responses()])
                    diag["marginal_roi_interval_80"] = _interval(dm)
                zero_share = float(np.mean(bd <= 0))
                if sat.beta > 0 and zero_share >= 0.25:
                    w.append(
                        f"effect uncertain: beta is zero in {zero_share:.0%} of the "
                        f"{n_bootstrap} bootstrap refits"
                    )
            if sat.beta <= 0:
                w.append(
                    f"beta collapsed to zero: no detectable effect on {spec.id!r}; "
                    "the curve is flat"
                )
            if cand.decay == DECAY_GRID[-1]:
                w.append(f"adstock decay at the top of the searched range ({DECAY_GRID[-1]})")
            if cand.rel in (RELATIVE_GRID[0], RELATIVE_GRID[-1]) and sat.beta > 0:
                w.append(
                    "curve scale at the edge of the searched range "
                    f"({cand.rel:g} x the mean adstocked spend)"
                )
            if diag["weeks_with_spend"] < 8:
                w.append(
                    f"spend in only {diag['weeks_with_spend']} weeks: the curve rests on few points"
                )
        else:
            w.append(f"not identifiable: {reasons[i]}")
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
        out[t.id] = TouchpointResponse(t.id, t.stage, sat, ad, spend_range, tuple(draws), diag)

    cal_diag: dict[str, Any] | None = None
    if tests:
        cal_tests: list[dict[str, Any]] = []
        for t in tests:
            i = tp_index[t.touchpoint]
            row: dict[str, Any] = {k: v for k, v in t.to_dict().items() if k != "kpi"}
            if cal is not None and i in slot and t in used:
                r_ = used.index(t)
                model_lift = float(final.beta[slot[i]]) * float(cal.unit[i][r_, choice[i]])
                row["used"] = True
                if n_bootstrap:
                    dl = np.array(
                        [
                            float(draws_beta[b, slot[i]])
                            * float(cal.unit[i][r_, draws_choice[b][i]])
                            for b in range(n_bootstrap)
                        ]
                    )
                    row["model_lift_interval_80"] = _interval(dl)
            else:
                model_lift = 0.0
                row["used"] = False
                row["reason"] = f"touchpoint not identifiable: {reasons[i]}"
            z = (t.kpi_lift - model_lift) / t.kpi_lift_se
            row["model_lift"] = model_lift
            row["z"] = z
            cal_tests.append(row)
            if row["used"] and abs(z) > 2:
                warnings.append(
                    f"lift test in row {t.row} ({t.touchpoint}, {t.start} to {t.end}): the model's "
                    f"lift {_fmt(model_lift)} is {abs(z):.1f} standard errors from the measured "
                    f"{_fmt(t.kpi_lift)}"
                )
            elif not row["used"]:
                warnings.append(
                    f"lift test in row {t.row} on {t.touchpoint!r} not used: the touchpoint is "
                    "not identifiable"
                )
        zs = np.array([r["z"] for r in cal_tests if r["used"]])
        cal_diag = {
            "n_tests": len(cal_tests),
            "n_used": int(zs.size),
            "chi2": float(zs @ zs) if zs.size else None,
            "noise_sd": cal.sigma if cal is not None else None,
            "tests": cal_tests,
        }

    if r2 < 0.5:
        warnings.append(f"the model explains little of the KPI's variation (R² {r2:.2f})")
    if mape_ho is not None and mape_ho > 0.25:
        warnings.append(f"holdout MAPE is {mape_ho:.0%}: forecasts are unreliable")

    diagnostics: dict[str, Any] = {
        "r2": r2,
        "mape_holdout": mape_ho,
        "nrmse_holdout": nrmse_ho,
        "cv_rmse": math.sqrt(cv_sse / (len(splits) * test_size)) if order else None,
        "n_weeks": n,
        "holdout_weeks": holdout,
        "n_bootstrap": int(n_bootstrap),
        "seed": int(seed),
        "warnings": warnings,
    }
    if cal_diag is not None:
        diagnostics["calibration"] = cal_diag
    if record_time:
        diagnostics["fit_seconds"] = round(time.perf_counter() - t0, 3)
    fit_info: dict[str, Any] = {
        "method": (
            "nnls-ridge with pooled marginal ROIs; coordinate-descent search with "
            "TimeSeriesSplit and a weak shape prior; block bootstrap"
        ),
        "kpi_column": spec.column,
        "pooled_marginal_roi": final.pooled,
        "baseline": dict(zip(base_names, (float(v) for v in final.base), strict=True)),
        "baseline_terms": terms,
        "unattributed": unattributed,
        "options": {
            "families": list(fams),
            "allow_s_curves": bool(allow_s_curves),
            "ridge": ridge,
            "baseline_ridge": baseline_ridge,
            "cv_splits": n_splits,
            "cv_test_weeks": test_size,
            "sweeps": sweeps,
            "sweeps_run": n_sweeps_run,
            "block_weeks": block_weeks,
            "bootstrap_search": bool(bootstrap_search),
            "bootstrap_perturb": bool(bootstrap_perturb),
            "shape_prior": float(shape_prior),
            "pool_marginal": float(pool_marginal),
            "grid_size": len(grid),
        },
    }
    if cal_diag is not None:
        fit_info["method"] += "; calibrated to lift tests (weighted pseudo-observations)"
        fit_info["options"]["calibration_tests"] = cal_diag["n_used"]
    return ResponseModel(kpi=spec.id, touchpoints=out, diagnostics=diagnostics, fit=fit_info)


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
        kwargs.get("families", ("hill", "exponential")), kwargs.get("allow_s_curves", False)
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
            int(terms["fourier_pairs"]), terms.get("controls", ()), terms.get("events", ())
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
