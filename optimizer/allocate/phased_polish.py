"""Polish: the smooth phased problem's exact optimum for the LP's active set (Newton's method on
the KKT conditions, with an active-set loop)."""

from __future__ import annotations

import time
from collections.abc import Mapping

import numpy as np
import scipy.sparse as sp

from optimizer.allocate.phased_model import PhasedProblem, _boxes, _Cells, _jacobians, adstock_path

# ------------------------------------------------------------------------------------------------
# polish: the smooth problem's exact optimum for the LP's active set
# ------------------------------------------------------------------------------------------------


def polish_phased(
    problem: PhasedProblem,
    X0: np.ndarray,
    duals: Mapping[str, float],
    *,
    max_changes: int = 12,
    max_newton: int = 30,
    deadline: float | None = None,
) -> tuple[np.ndarray, dict[str, float]] | None:
    """Newton's method on the smooth problem's KKT conditions for the active set the LP suggests
    (decisions at zero stay there; binding rules hold as equalities), with an active-set loop
    (a violated rule joins, a rule whose multiplier has the wrong sign leaves, a decision at zero
    whose marginal return beats its price is freed). For concave curves without binaries; the
    Hessian is block-diagonal by touchpoint (the adstock couples a touchpoint's periods).
    Returns (X, rule multipliers) or None; the caller checks feasibility and value."""
    if problem.needs_binaries:
        return None
    with np.errstate(all="ignore"):
        return _polish(problem, X0, duals, max_changes, max_newton, deadline)


def _polish(problem, X0, duals, max_changes, max_newton, deadline=None):
    n, P = problem.n, problem.P
    N = n * P
    rows = problem.rows
    m_all = len(rows)
    A = sp.lil_matrix((m_all, N))
    for q, r in enumerate(rows):
        for (i, p), a in r.coefs.items():
            A[q, i * P + p] += a
    A = A.tocsr()
    b = np.array([r.rhs for r in rows])
    sense = np.array([r.sense for r in rows])
    x = np.maximum(np.asarray(X0, float).ravel(), 0.0)
    scale_x = max(float(x.max(initial=0.0)), 1.0)
    y = np.array([float(duals.get(r.name, 0.0)) for r in rows])
    lhs = A @ x
    rscale = np.maximum(1.0, np.abs(b))
    active = (np.abs(lhs - b) <= 1e-6 * rscale) & ((y != 0) | (sense == "=="))
    active |= sense == "=="
    free = x > 1e-7 * scale_x
    freed = np.zeros(N, int)
    J = _jacobians(problem)
    cells = _Cells(problem)
    sw = problem.base.spend_weight
    xhi, _ = _boxes(problem)
    xcap = xhi.ravel()

    def grad_hess(x):
        X = x.reshape(n, P)
        Aa = adstock_path(problem, X)
        f1 = cells.slope(Aa.ravel()).reshape(problem.ns, problem.T)
        f2 = cells.curvature(Aa.ravel()).reshape(problem.ns, problem.T)
        # a cell at zero adstock is fed by no free decision (those are positive): its infinite
        # slope (hill shape < 1) only says that its decisions want freeing
        f1 = np.where(np.isfinite(f1), f1, 1e300)
        f2 = np.where(np.isfinite(f2), f2, 0.0)
        # per stream, then summed per line item (a national buy's markets)
        g = problem.to_items(np.einsum("itp,it->ip", J, f1)).ravel() - sw
        Hs = np.stack([J[j].T @ (f2[j][:, None] * J[j]) for j in range(problem.ns)])
        H = list(problem.to_items(Hs))
        return g, H

    for _change in range(max_changes):
        for _it in range(max_newton):
            if deadline is not None and time.perf_counter() > deadline:
                return None
            g, Hb = grad_hess(x)
            F = np.flatnonzero(free)
            R = np.flatnonzero(active)
            if len(F) == 0:
                break
            AF = A[R][:, F]
            touches = np.asarray(abs(AF).sum(axis=1)).ravel() > 0
            if not touches.all():  # a rule on fixed decisions only: it holds as it is
                R = R[touches]
                AF = AF[touches]
            # Newton step by the Schur complement: H is block-diagonal by touchpoint (the adstock
            # couples a touchpoint's periods only), so H⁻¹ is n small solves and the rows' system
            # is m × m. H dx - Aᵀ dy = -(g - Aᵀ y);  A dx = b - A x.
            AFd = AF.toarray()
            resid = -(g[F] - AFd.T @ y[R])
            Hinv_r = np.empty(len(F))
            Hinv_At = np.empty((len(F), len(R)))
            owner = F // P
            try:
                for i in np.unique(owner):
                    loc = np.flatnonzero(owner == i)
                    cols = F[loc] - i * P
                    Hi = Hb[i][np.ix_(cols, cols)]
                    Hi = Hi - 1e-12 * max(1.0, float(np.max(np.abs(np.diag(Hi))))) * np.eye(
                        len(cols)
                    )
                    rhs_i = np.column_stack([resid[loc], AFd[:, loc].T])
                    sol_i = np.linalg.solve(Hi, rhs_i)
                    Hinv_r[loc] = sol_i[:, 0]
                    Hinv_At[loc] = sol_i[:, 1:]
                if len(R):
                    S = AFd @ Hinv_At
                    dy = np.linalg.solve(S, (b[R] - A[R] @ x) - AFd @ Hinv_r)
                else:
                    dy = np.zeros(0)
            except np.linalg.LinAlgError:  # a singular system: no polish
                return None
            dx = Hinv_r + Hinv_At @ dy
            if not (np.all(np.isfinite(dx)) and np.all(np.isfinite(dy))):
                return None
            step = 1.0
            neg = dx < 0
            hit = -1
            if neg.any():
                ratio = x[F][neg] / -dx[neg]
                if ratio.min() < 1.0:
                    step = float(ratio.min())
                    hit = int(F[neg][np.argmin(ratio)])
            x[F] = x[F] + step * dx
            y[R] = y[R] + step * dy
            if hit >= 0:  # the step stops where a decision reaches zero, which is held there
                x[hit] = 0.0
                free[hit] = False
                continue
            done = np.max(np.abs(dx), initial=0.0) <= 1e-10 * scale_x
            if done:
                break
        else:
            return None
        # active-set checks
        x = np.maximum(x, 0.0)
        y[~active] = 0.0
        lhs = A @ x
        viol = np.where(sense == "<=", lhs - b, np.where(sense == ">=", b - lhs, np.abs(lhs - b)))
        bad = np.flatnonzero((viol > 1e-9 * rscale) & ~active)
        if len(bad):
            active[bad[np.argmax(viol[bad] / rscale[bad])]] = True
            continue
        wrong = np.where(sense == "<=", -y, np.where(sense == ">=", y, 0.0))
        wrong = np.where(active, wrong, 0.0)
        if wrong.max(initial=0.0) > 1e-12 * max(1.0, float(np.abs(y).max(initial=0.0))):
            active[int(np.argmax(wrong))] = False
            y[int(np.argmax(wrong))] = 0.0
            continue
        g, _ = grad_hess(x)
        price = A.T @ y
        want = np.where(~free & (x < xcap), g - price, -np.inf)
        scale_g = max(
            float(np.max(np.abs(price), initial=0.0)),
            float(np.max(np.abs(g[free]), initial=0.0)),
            1e-300,
        )
        want = np.where(freed < 2, want, -np.inf)  # no decision is freed a third time (cycling)
        j = int(np.argmax(want))
        if want[j] > 1e-9 * scale_g:
            freed[j] += 1
            # free every decision that wants to move, each started where its own marginal return
            # meets its price with the others held (Newton's model is poor at an infinite slope)
            for jj in (j,):
                free[jj] = True
                x[jj] = _one_dim(
                    problem, cells, x.reshape(n, P), int(jj), float(price[jj]), xcap[jj]
                )
            continue
        X = x.reshape(n, P)
        return X, {r.name: float(y[q]) for q, r in enumerate(rows)}
    return None


def _one_dim(problem, cells, X, j, price, cap) -> float:
    """The spend of decision ``j`` (others held) at which its marginal return equals ``price``."""
    i, p = divmod(j, problem.P)
    pw = np.array(problem.calendar.period_of_week)
    npw = problem.weeks_per_period
    streams = np.flatnonzero(problem.stream_item == i)  # one, or a national buy's markets

    def marginal(v: float) -> float:
        xi = X[i].copy()
        xi[p] = v
        total = 0.0
        for s in streams:
            d, k = float(problem.decay[s]), float(problem.gain[s] * problem.stream_share[s])
            w = xi[pw] / npw[pw]
            a = np.empty(problem.T)
            prev = float(problem.carry_in[s])
            for t in range(problem.T):
                prev = k * w[t] + d * prev
                a[t] = prev
            g = cells.slope(a, rows=s * problem.T + np.arange(problem.T))
            lam = 0.0
            out = 0.0
            for t in range(problem.T - 1, -1, -1):
                lam = g[t] + d * lam
                if pw[t] == p:
                    out += lam
            total += k * out / npw[p]
        return total - problem.base.spend_weight

    lo, hi = 0.0, float(cap)
    if marginal(hi) >= price:
        return hi
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if marginal(mid) > price:
            lo = mid
        else:
            hi = mid
    return max(0.5 * (lo + hi), 1e-12 * max(1.0, float(cap)))
