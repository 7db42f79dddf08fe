"""Step 1 of the fit: checks of the history and the design matrix.

``prepare`` validates the history and the options, finds what the history cannot identify
(no spend, too few weeks with spend, spend that barely varies, lock-step touchpoints, which are
kept as one nuisance column), builds the baseline (intercept, trend, Fourier seasonality, with
seasonality scaled by the trend when the data prefer it, controls, events), the grid candidates'
media columns and the lift tests' unit lifts. The result, a ``Design``, is what every later step
reads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from optimizer.data import History, KpiSpec, LiftTest, read_calibration
from optimizer.errors import ModelError
from optimizer.fileio import did_you_mean
from optimizer.response import curves as C
from optimizer.response.calibration import _Calibration
from optimizer.response.design import (
    DECAY_GRID,
    GROUP_DECAY,
    MAX_SPEND_CORRELATION,
    PERIOD_WEEKS,
    TESTED_RIDGE,
    CurveShape,
    _baseline_matrix,
    _baseline_names,
    _check_options,
    _components,
    _default_index,
    _fmt,
    _grid,
    _prior_penalty,
    _resolve_kpi,
    _spend_problem,
)
from optimizer.response.solve import _make_frame, _solve
from optimizer.vocabulary import CURVE_FAMILIES, DATE_COLUMN, MIN_WEEKS_TO_FIT


@dataclass
class Design:
    """The checked history and everything the fitting steps share."""

    history: History
    spec: KpiSpec
    X: np.ndarray  # (n, touchpoints) weekly spend
    y: np.ndarray
    n: int
    n_train: int
    holdout: int
    fams: tuple[str, ...] = ()
    warnings: list[str] = field(default_factory=list)
    tests: list[LiftTest] = field(default_factory=list)
    used: list[LiftTest] = field(default_factory=list)
    tp_index: dict[str, int] = field(default_factory=dict)
    n_tests_of: dict[int, int] = field(default_factory=dict)
    reasons: list[str | None] = field(default_factory=list)
    ident: list[bool] = field(default_factory=list)
    by_tests: list[bool] = field(default_factory=list)
    unattributed: list[dict[str, Any]] = field(default_factory=list)
    G: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    searched: list[int] = field(default_factory=list)
    grid: list[CurveShape] = field(default_factory=list)
    start: int = 0
    penalty: np.ndarray = field(default_factory=lambda: np.zeros(0))
    cand_cols: dict[int, np.ndarray] = field(default_factory=dict)
    terms: dict[str, Any] = field(default_factory=dict)
    Z: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    base_names: list[str] = field(default_factory=list)
    cal: _Calibration | None = None
    tested: tuple[int, ...] = ()
    ridge_w: np.ndarray | None = None
    ridge: float = 0.003
    baseline_ridge: float = 0.001
    baseline_choice: dict[str, Any] = field(default_factory=dict)
    _ad: dict[tuple[int, float], np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def tps(self) -> list[Any]:
        return list(self.history.journey.touchpoints)

    @property
    def slots(self) -> dict[int, int]:
        return {i: k for k, i in enumerate(self.searched)}

    def adstocked(self, i: int, d: float) -> np.ndarray:
        key = (i, d)
        if key not in self._ad:
            self._ad[key] = C.geometric_adstock(self.X[:, i], d)
        return self._ad[key]

    def mean_ad(self, i: int, d: float) -> float:
        m = float(self.adstocked(i, d).mean())
        return m if m > 0 else 1.0

    def column(self, i: int, c: CurveShape) -> np.ndarray:
        return C.saturation(
            c.family,
            self.adstocked(i, c.decay),
            {"beta": 1.0, **c.params(self.mean_ad(i, c.decay))},
        )

    def media(self, ch: dict[int, int]) -> np.ndarray:
        """Media design (searched touchpoints' columns for the shapes ``ch``, then the nuisance
        groups)."""
        M_tp = (
            np.column_stack([self.cand_cols[i][:, ch[i]] for i in self.searched])
            if self.searched
            else np.zeros((self.n, 0))
        )
        return np.hstack([M_tp, self.G])

    def noise_sd(self, ch: dict[int, int], rows: np.ndarray) -> float:
        """Weekly noise sd of a fit without the tests, for the shapes ``ch``, on ``rows``."""
        Mx = self.media(ch)
        Z, y = self.Z, self.y
        frx = _make_frame(Z[rows], y[rows], self.ridge, self.baseline_ridge)
        solx = _solve(frx, Mx[rows], Z[rows])
        res = y[rows] - Z[rows] @ solx.base - Mx[rows] @ solx.beta
        dof = max(len(rows) - Z.shape[1] - Mx.shape[1], 1)
        return max(math.sqrt(float(res @ res) / dof), 1e-12 * max(1.0, float(np.abs(y).mean())))


def _bic_of(
    Z: np.ndarray, M: np.ndarray, y: np.ndarray, ridge: float, baseline_ridge: float
) -> float:
    fr = _make_frame(Z, y, ridge, baseline_ridge)
    sol = _solve(fr, M, Z)
    res = y - Z @ sol.base - M @ sol.beta
    n = y.size
    k = Z.shape[1] + int((sol.beta > 0).sum())
    return n * math.log(max(float(res @ res) / n, 1e-300)) + k * math.log(n)


def prepare(
    history: History,
    kpi: str | None,
    *,
    families: Any,
    allow_s_curves: bool,
    fourier_pairs: int,
    ridge: float,
    baseline_ridge: float,
    holdout_weeks: int,
    calibration: Any,
    seasonal_trend: bool | None,
    shape_prior: float,
    pool_marginal: float,
    n_bootstrap: int,
    cv_test_weeks: int,
    sweeps: int,
    block_weeks: int,
) -> Design:
    """Checks and design matrix (see the module docstring)."""
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
    for col in (*journey.controls, *journey.events):  # explains nothing: say so, not a silent 0
        v = frame[col].to_numpy(dtype=float) if col in frame.columns else np.zeros(0)
        if v.size and np.all(v == v[0]):
            kind = "control" if col in journey.controls else "event"
            warnings.append(
                f"the {kind} {col!r} is the same ({_fmt(float(v[0]))}) in every week: it cannot "
                "explain the KPI (its coefficient is 0)"
            )

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
    d = Design(history=history, spec=spec, X=X, y=y, n=n, n_train=n_train, holdout=holdout)
    mean_ad, column = d.mean_ad, d.column
    cand_cols = {i: np.column_stack([column(i, c) for c in grid]) for i in searched}

    terms: dict[str, Any] = {
        "origin": pd.Timestamp(frame.index[0]).date().isoformat(),
        "period_weeks": PERIOD_WEEKS,
        "fourier_pairs": int(fourier_pairs),
        "controls": list(journey.controls),
        "events": list(journey.events),
    }
    G = np.column_stack(group_cols) if group_cols else np.zeros((n, 0))
    # seasonality scaled by the level (trend x Fourier terms) when the data prefer it: the
    # Bayesian information criterion of a fit with the starting shapes, with and without them
    Z = _baseline_matrix(frame, terms, path)
    if int(fourier_pairs) > 0 and seasonal_trend is not False:
        terms_st = {**terms, "seasonal_trend": True}
        Z_st = _baseline_matrix(frame, terms_st, path)
        M0 = np.hstack(
            [
                np.column_stack([cand_cols[i][:, start] for i in searched])
                if searched
                else np.zeros((n, 0)),
                G,
            ]
        )
        tr = np.arange(n_train)
        bic0 = _bic_of(Z[tr], M0[tr], y[tr], ridge, baseline_ridge)
        bic1 = _bic_of(Z_st[tr], M0[tr], y[tr], ridge, baseline_ridge)
        d.baseline_choice = {"bic_additive": bic0, "bic_seasonal_trend": bic1}
        if seasonal_trend or bic1 < bic0:
            terms, Z = terms_st, Z_st
    base_names = _baseline_names(
        int(fourier_pairs), journey.controls, journey.events, bool(terms.get("seasonal_trend"))
    )

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

    d.fams = fams
    d.warnings = warnings
    d.tests = tests
    d.used = used
    d.tp_index = tp_index
    d.n_tests_of = n_tests_of
    d.reasons = reasons
    d.ident = ident
    d.by_tests = by_tests
    d.unattributed = unattributed
    d.G = G
    d.searched = searched
    d.grid = grid
    d.start = start
    d.penalty = penalty
    d.cand_cols = cand_cols
    d.terms = terms
    d.Z = Z
    d.base_names = base_names
    d.cal = cal
    d.tested = tested
    d.ridge_w = ridge_w
    d.ridge = float(ridge)
    d.baseline_ridge = baseline_ridge
    return d
