"""Transform search on the grid: rolling-origin cross-validated scores of every candidate of
one touchpoint (the hot loop), and the one-step re-search of the bootstrap."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from joblib import Parallel, delayed, effective_n_jobs
from sklearn.model_selection import TimeSeriesSplit

from optimizer.response import design as _design
from optimizer.response.calibration import (
    _Calibration,
)
from optimizer.response.design import (
    DECAY_GRID,
    RELATIVE_GRID,
    CurveShape,
)
from optimizer.response.solve import (
    _Frame,
    _make_frame,
    _media_scale,
    _nnls,
)


def _criterion(sse: np.ndarray, n_test: int, penalty: np.ndarray, weight: float) -> np.ndarray:
    """Search criterion: cross-validated SSE in units of the best candidate's error variance,
    plus ``weight`` times the prior penalty (a MAP-style score: with Gaussian errors,
    ``SSE / sigma^2`` is minus twice the log likelihood). ``weight`` 0 is plain SSE."""
    if weight <= 0:
        return sse
    sigma2 = max(float(sse.min()) / max(n_test, 1), 1e-300)
    return sse / sigma2 + weight * penalty


def _criterion_cal(
    scores: np.ndarray,
    n_test: int,
    penalty: np.ndarray,
    weight: float,
    cal: _Calibration | None,
    n_folds: int,
) -> np.ndarray:
    """``_criterion`` on ``scores[:, 0]`` plus, with lift tests, their chi-square ``sum z^2``
    (the weighted misfit ``scores[:, 1]`` over ``sigma^2``, averaged over the folds): the
    experiments' minus twice log likelihood next to the data's, so a shape that contradicts the
    experiments loses."""
    if cal is None or not cal.n:
        return _criterion(scores[:, 0], n_test, penalty, weight)
    sse = scores[:, 0]
    sigma2 = max(float(sse.min()) / max(n_test, 1), 1e-300)
    return sse / sigma2 + weight * penalty + scores[:, 1] / (cal.sigma**2 * max(n_folds, 1))


# ------------------------------------------------------------------------------------------------
# cross-validated scoring of one touchpoint's candidates (the hot loop)
# ------------------------------------------------------------------------------------------------
@dataclass
class _FoldTp:
    """One touchpoint's candidate columns in one fold, residualised and scaled."""

    R: np.ndarray  # (n_rows + n_base, n_cand) residualised train columns / scale
    E: np.ndarray  # (n_test, n_cand) test-row effect of a unit scaled beta (net of baseline)
    s: np.ndarray  # (n_cand,) the scale each column was divided by

    def with_cal(self, L: np.ndarray | None) -> _FoldTp:
        """The columns with one row per lift test appended (``L``: weighted unit lifts of these
        columns, ``(n_cal, n_cand)``, scaled like the columns)."""
        if L is None or not L.shape[0]:
            return self
        return _FoldTp(np.vstack([self.R, L / self.s]), self.E, self.s)


@dataclass
class _Fold:
    y_res: np.ndarray
    base_test: np.ndarray  # baseline prediction on the test rows when media betas are 0
    y_test: np.ndarray
    sqrt_alpha: float


def _fold_tp(
    fr: _Frame, Zte: np.ndarray, cols: np.ndarray, tr: np.ndarray, te: np.ndarray
) -> _FoldTp:
    Mtr = cols[tr]
    s = _media_scale(Mtr)
    s = np.where(s > 1e-12, s, 1.0)
    R = fr.residual(Mtr) / s
    aug = np.vstack([Mtr, np.zeros((fr.pinv.shape[1] - fr.n_rows, Mtr.shape[1]))])
    E = (cols[te] - Zte @ (fr.pinv @ aug)) / s
    return _FoldTp(R, E, s)


def _group_by_support(supp: np.ndarray, rows: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Split ``rows`` into groups sharing a support mask: (rows of the group, support indices)."""
    masks = supp[rows]
    if masks.shape[1] <= 62:
        keys = masks.astype(np.int64) @ (np.int64(1) << np.arange(masks.shape[1], dtype=np.int64))
        uniq, inv = np.unique(keys, return_inverse=True)
        first = [int(np.flatnonzero(inv == u)[0]) for u in range(uniq.size)]
    else:
        _, first_idx, inv = np.unique(masks, axis=0, return_index=True, return_inverse=True)
        first = [int(i) for i in first_idx]
    inv = inv.ravel()
    return [(rows[inv == u], np.flatnonzero(masks[f])) for u, f in enumerate(first)]


def _score_chunk(
    folds: list[_Fold],
    A_cur: list[np.ndarray],
    E_cur: list[np.ndarray],
    j: int,
    cand_R: list[np.ndarray],
    cand_E: list[np.ndarray],
    n_cal: int = 0,
) -> np.ndarray:
    """Cross-validated SSE of each candidate column (``cand_*``) put in media slot ``j``, and
    the misfit of the lift tests: an array ``(n_cand, 2)``, column 0 the SSE on the test weeks,
    column 1 the weighted squared misfit of the ``n_cal`` lift-test rows (the last rows of each
    fold's ``y_res``, of ``A``'s top and of ``cand_R``), summed over folds.

    Each candidate's NNLS is first solved on the normal equations, all candidates at once, with
    the active set of the current solution (plus slot ``j``) as a warm start; candidates whose
    warm start fails the KKT conditions fall back to ``scipy.optimize.nnls``. The answers are the
    same NNLS solutions, found several times faster.
    """
    n_cand = cand_R[0].shape[1]
    out = np.zeros((n_cand, 2))
    for f, fold in enumerate(folds):
        A, E, R, Ec = A_cur[f], E_cur[f], cand_R[f], cand_E[f]
        nr = fold.y_res.shape[0]
        k = A.shape[1]
        rhs = np.concatenate([fold.y_res, np.zeros(k)])
        alpha = np.diag(A[nr : nr + k]) ** 2  # the ridge of each column (its penalty row)
        top = A[:nr]
        # Gram matrix and gradient of every candidate: only row/column j differ
        H0 = top.T @ top + np.diag(alpha)
        g0 = top.T @ fold.y_res
        cross = R.T @ top  # (n_cand, k): candidate column against the others
        cross[:, j] = np.einsum("ij,ij->j", R, R) + alpha[j]
        gj = R.T @ fold.y_res
        H = np.broadcast_to(H0, (n_cand, k, k)).copy()
        H[:, j, :] = cross
        H[:, :, j] = cross
        g = np.broadcast_to(g0, (n_cand, k)).copy()
        g[:, j] = gj
        # batched active-set iterations on the normal equations, warm-started from the support
        # of the current solution plus slot j; a candidate is done when its KKT conditions hold
        # (the ridge makes the problem strictly convex, so that is the unique NNLS optimum)
        start = _nnls(A, rhs) > 0
        start[j] = True
        supp = np.broadcast_to(start, (n_cand, k)).copy()
        b = np.zeros((n_cand, k))
        tol = 1e-10 * (np.abs(g).max(axis=1) + 1.0)
        pending = np.arange(n_cand)
        for _ in range(6):
            for idx, S in _group_by_support(supp, pending):
                b[idx] = 0.0
                if S.size:
                    b[np.ix_(idx, S)] = np.linalg.solve(
                        H[np.ix_(idx, S, S)], g[np.ix_(idx, S)][:, :, None]
                    )[:, :, 0]
            bp = b[pending]
            grad = g[pending] - np.einsum("cij,cj->ci", H[pending], bp)  # minus the gradient
            on = supp[pending]
            violate = ~on & (grad > tol[pending, None])
            done = ~((on & (bp < 0)).any(axis=1) | violate.any(axis=1))
            supp[pending] = (on & (bp > 0)) | violate
            pending = pending[~done]
            if not pending.size:
                break
        for c in pending:  # rare: fall back to Lawson-Hanson
            Ac = A.copy()
            Ac[:nr, j] = R[:, c]
            b[c] = _nnls(Ac, rhs)
        pred = E @ b.T  # (n_test, n_cand) with the current column j ...
        pred += np.outer(E[:, j], -b[:, j]) + Ec * b[:, j]  # ... swapped for the candidate's
        err = (fold.y_test - fold.base_test)[:, None] - pred
        out[:, 0] += np.einsum("ij,ij->j", err, err)
        if n_cal:
            Lc, Lcur = R[nr - n_cal : nr], top[nr - n_cal :]
            pc = Lcur @ b.T
            pc += np.outer(Lcur[:, j], -b[:, j]) + Lc * b[:, j]
            ec = fold.y_res[nr - n_cal :, None] - pc
            out[:, 1] += np.einsum("ij,ij->j", ec, ec)
    return out


def _neighbours(
    grid: list[CurveShape], index_of: dict[tuple[str | float, ...], int], k: int
) -> list[int]:
    """Grid candidates one step of decay and/or relative scale away (same family and shape), and
    every other family and hill shape at the same decay and scale; the candidate itself first."""
    c = grid[k]
    di, ri = DECAY_GRID.index(c.decay), RELATIVE_GRID.index(c.rel)
    out = [k]
    for dd in (di - 1, di, di + 1):
        for rr in (ri - 1, ri, ri + 1):
            if 0 <= dd < len(DECAY_GRID) and 0 <= rr < len(RELATIVE_GRID) and (dd, rr) != (di, ri):
                out.append(index_of[(DECAY_GRID[dd], c.family, RELATIVE_GRID[rr], c.shape)])
    for key, k2 in index_of.items():  # the other families and shapes at the same decay and scale
        if key[0] == c.decay and key[2] == c.rel and k2 != k:
            out.append(k2)
    return out


def _research(
    fr: _Frame,
    rows: np.ndarray,
    oob: np.ndarray,
    Z: np.ndarray,
    y: np.ndarray,
    M: np.ndarray,
    order: list[int],
    slots: dict[int, int],
    choice: dict[int, int],
    cand_cols: dict[int, np.ndarray],
    grid: list[CurveShape],
    index_of: dict[tuple[str | float, ...], int],
    penalty: np.ndarray,
    prior_weight: float,
    cal: _Calibration | None = None,
    ridge_w: np.ndarray | None = None,
) -> dict[int, int]:
    """One coordinate pass over the touchpoints on a bootstrap resample: each may move one grid
    step in decay and/or scale, or to another family or hill shape, if that lowers the error on
    the out-of-bag weeks (those the resample left out) under the prior ``penalty`` (the search's,
    or with ``bootstrap_perturb`` one whose centre is moved by a standard normal draw of its own
    sds). It carries the uncertainty of the curve shapes into the draws: where neither the data
    nor the tests tell shapes apart, the prior decides, and a perturbed prior spreads the draws
    over the shapes it allows."""
    Zoob = fr.standardise(Z[oob])
    n_cal = cal.n if cal is not None else 0
    y_res = np.concatenate([fr.y_res, cal.r]) if cal is not None and n_cal else fr.y_res
    fold = _Fold(y_res, Zoob @ fr.gy, y[oob], fr.sqrt_alpha)
    k = M.shape[1]
    nr = y_res.shape[0]
    cur = _fold_tp(fr, Zoob, M, rows, oob)
    if cal is not None and n_cal:
        cur = cur.with_cal(cal.matrix(choice, slots, k))
    A = np.vstack([cur.R, np.diag(fr.sqrt_alpha * (np.ones(k) if ridge_w is None else ridge_w))])
    E = cur.E.copy()
    out = dict(choice)
    for i in order:
        j = slots[i]
        nb = _neighbours(grid, index_of, choice[i])
        ft = _fold_tp(fr, Zoob, cand_cols[i][:, nb], rows, oob)
        if cal is not None and n_cal:
            ft = ft.with_cal(cal.L(i, nb))
        scores = _score_chunk([fold], [A], [E], j, [ft.R], [ft.E], n_cal)
        crit = _criterion_cal(scores, oob.size, penalty[nb], prior_weight, cal, 1)
        best = int(np.argmin(crit))  # ties keep the chosen shape (listed first)
        A[:nr, j] = ft.R[:, best]
        E[:, j] = ft.E[:, best]
        out[i] = nb[best]
    return out


@dataclass
class SearchResult:
    """The grid search's answer: the chosen candidate per searched touchpoint and the CV set-up."""

    choice: dict[int, int]
    order: list[int]
    n_splits: int
    test_size: int
    sweeps_run: int
    cv_sse: float


def grid_search(
    d: Any,
    *,
    sweeps: int,
    cv_splits: int | None,
    cv_test_weeks: int,
    shape_prior: float,
    n_jobs: int,
    report: Callable[[str, int, int], None],
) -> SearchResult:
    """Coordinate descent over touchpoints (biggest spender first) on the grid: every candidate of
    one touchpoint scored by rolling-origin cross-validation while the others stay fixed, up to
    ``sweeps`` sweeps or until nothing moves (``d``: a ``prepare.Design``). With lift tests their
    weights use the noise of a fit with the starting shapes (``d.cal`` is updated)."""
    X, Z, y, n_train = d.X, d.Z, d.y, d.n_train
    searched, grid, start, cand_cols, G = d.searched, d.grid, d.start, d.cand_cols, d.G
    penalty, ridge, baseline_ridge, ridge_w = d.penalty, d.ridge, d.baseline_ridge, d.ridge_w
    cal = d.cal
    noise_sd = d.noise_sd
    choice = {i: start for i in searched}
    min_train = min(52, n_train // 2)
    test_size = max(4, min(int(cv_test_weeks), (n_train - min_train) // 2))
    n_splits = cv_splits or max(2, (n_train - min_train) // test_size)
    splits = list(TimeSeriesSplit(n_splits=n_splits, test_size=test_size).split(np.arange(n_train)))
    n_test_weeks = len(splits) * test_size
    order = sorted(searched, key=lambda i: (-float(X[:n_train, i].sum()), i))
    n_sweeps_run = 0
    cv_sse = float("nan")
    total_steps = sweeps * len(order)
    n_cal = cal.n if cal is not None else 0
    if cal is not None:
        # weights of the tests in the search: the noise of a fit with the starting shapes
        cal = cal.with_sigma(noise_sd({i: start for i in searched}, np.arange(n_train)))
        d.cal = cal
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
        n_chunks = effective_n_jobs(n_jobs) if work >= _design._PARALLEL_MIN_WORK else 1
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

    return SearchResult(choice, order, n_splits, test_size, n_sweeps_run, cv_sse)
