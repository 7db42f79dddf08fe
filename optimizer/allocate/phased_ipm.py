"""The smooth phased problem solved directly, by a primal-dual interior point method.

For concave curves and no binaries, the phased problem (``optimizer.allocate.phased``) is a concave
maximisation over the decisions ``x[i,p]`` under linear rules and the box ``0 <= x <= xhi``::

    max  f(x) = Σ_i Σ_t c[i,t] F_i(a[i,t](x)) - spend_weight · Σ x      (a linear in x)

Its Hessian is block-diagonal by touchpoint (the adstock couples a touchpoint's periods only):
``H_i = J_iᵀ diag(c F_i'') J_i`` with ``J_i = d a[i,·] / d x[i,·]`` (T × P). A Newton step of the
barrier problem then costs ``n`` small (P × P) solves and one ``m × m`` solve on the rules (the
Schur complement), where the LP over pieces of every cell's curve has tens of thousands of
columns. The method: infeasible-start primal-dual steps on the perturbed KKT conditions (slacks
for the inequality rules, the bounds' multipliers), the barrier parameter cut as the
complementarity falls, fraction-to-the-boundary steps and a backtracking line search on the barrier
merit function with an exact penalty on the rules' residuals. Deterministic: same inputs, same
iterates, bit for bit.

It returns the plan and the rules' multipliers in the LP's sign convention (the gain in the
objective per unit of a rule's right-hand side); the caller certifies them with the same
Lagrangian bound as the LP's solution (``phased_certificate.lagrangian_bound``) and falls back to
the LP when this fails or does not certify.
"""

from __future__ import annotations

import time

import numpy as np
import scipy.linalg
import scipy.sparse as sp

from optimizer.allocate.phased_model import PhasedProblem, _boxes, _Cells, _jacobians, adstock_path

#: the Schur complement is dense (rules × rules) and so is K⁻¹Gᵀ (decisions × rules): above this
#: many entries the LP is used instead
MAX_DENSE = 6_000_000


def _forces_zero(G: sp.csr_matrix, b: np.ndarray, sense: np.ndarray, u: np.ndarray) -> bool:
    """Whether some decision can only be zero (a dark period, a zero cap): the barrier problem
    then has no interior, and the LP is the better tool."""
    if np.any(u <= 1e-3):
        return True
    pos = np.asarray((G < 0).sum(axis=1)).ravel() == 0
    cap = np.array([s in ("<=", "==") for s in sense], bool)
    return bool(np.any(cap & pos & (b <= 0) & (G.getnnz(axis=1) > 0)))


def interior_point(
    problem: PhasedProblem,
    *,
    deadline: float | None = None,
    max_iter: int = 80,
    tol: float = 1e-9,
) -> tuple[np.ndarray, dict[str, float], int] | None:
    """The smooth problem's optimum ``X`` (n, P), the rules' multipliers by name and the number
    of iterations; None when the method does not apply (binaries, rules forcing a decision to
    zero, too many rules for the dense Schur complement) or does not converge."""
    if problem.needs_binaries or problem.n == 0 or problem.P == 0:
        return None
    n, P = problem.n, problem.P
    N = n * P
    rm = problem.row_matrix
    G, b, sense = rm.G, rm.rhs, rm.sense
    m = G.shape[0]
    if N * max(m, 1) > MAX_DENSE:
        return None
    xhi, _ = _boxes(problem)
    u_raw = xhi.ravel()
    if _forces_zero(G, b, sense, u_raw):
        return None
    with np.errstate(all="ignore"):
        return _solve(problem, G, b, sense, u_raw, deadline, max_iter, tol)


def _solve(problem, G, b, sense, u_raw, deadline, max_iter, tol):
    n, P = problem.n, problem.P
    N = n * P
    m = G.shape[0]
    rows = problem.rows
    sw = float(problem.base.spend_weight)
    J = _jacobians(problem)  # (n, T, P)
    cells = _Cells(problem)
    T = problem.T

    # ---- a start inside the box, and the scales -------------------------------------------------
    budget = [float(b[q]) for q, r in enumerate(rows) if r.kind == "budget" and b[q] > 0]
    typical = budget[0] / N if budget else float(np.median(u_raw)) / max(P, 1) / max(n, 1)
    x0 = np.minimum(0.5 * u_raw, max(typical, 1e-6))
    sx = max(float(np.mean(x0)), 1e-6)

    def derivs(xs: np.ndarray, hess: bool):
        X = (sx * xs).reshape(n, P)
        A = adstock_path(problem, X)
        f1 = cells.slope(A.ravel()).reshape(n, T)
        g = np.einsum("itp,it->ip", J, f1).ravel() - sw
        if not hess:
            return g, None
        f2 = cells.curvature(A.ravel()).reshape(n, T)
        H = np.einsum("itp,it,itq->ipq", J, f2, J, optimize=True)
        return g, H

    def fval(xs: np.ndarray) -> float:
        X = (sx * xs).reshape(n, P)
        A = adstock_path(problem, X)
        v = cells.value(A.ravel())
        return float(v.sum() - sw * X.sum())

    g0, _ = derivs(x0 / sx, False)
    if not np.all(np.isfinite(g0)):
        return None
    sf = sx * max(float(np.median(np.abs(g0))), 1e-300)
    # rows scaled to unit largest coefficient in the scaled decisions
    amax = np.asarray(abs(G).max(axis=1).todense()).ravel() if m else np.zeros(0)
    rs = np.maximum(sx * amax, 1e-300)
    Gs = sp.diags(sx / rs) @ G if m else G
    Gs = sp.csr_matrix(Gs)
    hs = b / rs
    u = u_raw / sx
    ineq = np.array([s != "==" for s in sense], bool)
    sig = np.where(sense == ">=", -1.0, 1.0)  # inequality rows as  sig·G x <= sig·h
    GI = sp.diags(sig[ineq]) @ Gs[ineq] if ineq.any() else sp.csr_matrix((0, N))
    hI = sig[ineq] * hs[ineq]
    GE = Gs[~ineq]
    hE = hs[~ineq]
    mI, mE = GI.shape[0], GE.shape[0]
    Gall = sp.csr_matrix(sp.vstack([GI, GE])) if m else sp.csr_matrix((0, N))
    GallT = Gall.T.toarray().reshape(n, P, m) if m else np.zeros((n, P, 0))

    x = x0 / sx
    w = np.maximum(hI - GI @ x, 1.0) if mI else np.zeros(0)
    lam = np.ones(mI)
    y = np.zeros(mE)
    zl = np.ones(N)
    zu = np.ones(N)
    ncomp = 2 * N + mI
    tau_min = 0.99

    def residuals(x, w, lam, y, zl, zu, gphi):
        rd = gphi + (GI.T @ lam if mI else 0.0) + (GE.T @ y if mE else 0.0) - zl + zu
        rI = GI @ x + w - hI if mI else np.zeros(0)
        rE = GE @ x - hE if mE else np.zeros(0)
        return rd, rI, rE

    def merit(x, w, mu, rho, phi):
        bar = np.sum(np.log(x)) + np.sum(np.log(u - x)) + (np.sum(np.log(w)) if mI else 0.0)
        rI = GI @ x + w - hI if mI else np.zeros(0)
        rE = GE @ x - hE if mE else np.zeros(0)
        return phi - mu * bar + rho * (np.abs(rI).sum() + np.abs(rE).sum())

    phi = -fval(x) / sf
    g, H = derivs(x, True)
    mu = float((x @ zl + (u - x) @ zu + w @ lam) / ncomp)
    iterations = 0
    history: list[float] = []
    err = comp = np.inf
    for iterations in range(1, max_iter + 1):  # noqa: B007 - returned
        if deadline is not None and time.perf_counter() > deadline:
            return None
        gphi = -sx * g / sf
        Hphi = -(sx * sx / sf) * H  # (n, P, P), positive semi-definite
        rd, rI, rE = residuals(x, w, lam, y, zl, zu, gphi)
        comp = float((x @ zl + (u - x) @ zu + w @ lam) / ncomp)
        scale_d = max(1.0, float(np.max(np.abs(gphi))))
        err = max(
            float(np.max(np.abs(rd))) / scale_d,
            # each rule's residual against its own size
            float(np.max(np.abs(rI) / (1.0 + np.abs(hI)), initial=0.0)),
            float(np.max(np.abs(rE) / (1.0 + np.abs(hE)), initial=0.0)),
        )
        if err <= tol and comp <= 1e-3 * tol:  # relative residuals; complementarity per pair
            break
        history.append(err)
        if comp <= 1e-12 and len(history) > 6 and err > 0.5 * min(history[-6:-1]):
            break  # stalled in floating point with the complementarity at zero: as good as it gets
        # the barrier parameter: a tenth of the complementarity, less once the residuals are small
        mu = min(mu, 0.1 * comp) if err > 10 * comp else min(mu, 0.02 * comp)
        mu = max(mu, 1e-16)
        # Newton step on the barrier problem's KKT conditions
        s1 = zl / x + zu / (u - x)
        K = Hphi.copy()
        K[:, np.arange(P), np.arange(P)] += s1.reshape(n, P)
        r1 = -rd + (mu / x - zl) - (mu / (u - x) - zu)
        if mI:
            r2 = -rI - (mu / lam - w)
            D = np.concatenate([w / lam, np.zeros(mE)])
        else:
            r2 = np.zeros(0)
            D = np.zeros(mE)
        try:
            Kinv = np.linalg.inv(K)  # (n, P, P): the blocks' inverses
        except np.linalg.LinAlgError:
            return None
        r23 = np.concatenate([r2, -rE])
        if m:
            KGt = np.matmul(Kinv, GallT).reshape(N, m)
            S = Gall @ KGt + np.diag(D)
            S[np.arange(m), np.arange(m)] += 1e-14 * max(1.0, float(np.max(np.abs(S))))
            try:
                S_lu = scipy.linalg.lu_factor(S, check_finite=False)
            except (np.linalg.LinAlgError, ValueError):
                return None

        def kkt_solve(a1: np.ndarray, a2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            """[K Gᵀ; G -D] [dx; dv] = [a1; a2] by the Schur complement on the rules."""
            Ka = np.matmul(Kinv, a1.reshape(n, P, 1)).ravel()  # noqa: B023 - this iteration's
            if not m:
                return Ka, np.zeros(0)
            dv_ = scipy.linalg.lu_solve(S_lu, Gall @ Ka - a2, check_finite=False)  # noqa: B023
            return Ka - KGt @ dv_, dv_  # noqa: B023

        dx, dv = kkt_solve(r1, r23)
        for _ in range(2 if m else 0):  # iterative refinement: the rules' rows hold to rounding
            e1 = r1 - (np.matmul(K, dx.reshape(n, P, 1)).ravel() + Gall.T @ dv)
            e2 = r23 - (Gall @ dx - D * dv)
            ddx, ddv = kkt_solve(e1, e2)
            dx, dv = dx + ddx, dv + ddv
        dlam, dy = dv[:mI], dv[mI:]
        dw = (mu - w * lam - w * dlam) / lam if mI else np.zeros(0)
        dzl = (mu - x * zl - zl * dx) / x
        dzu = (mu - (u - x) * zu + zu * dx) / (u - x)
        if not (
            np.all(np.isfinite(dx))
            and np.all(np.isfinite(dzl))
            and np.all(np.isfinite(dv if m else dx))
        ):
            return None
        tau = max(tau_min, 1.0 - mu)
        ap = min(_most(x, dx, tau), _most(u - x, -dx, tau), _most(w, dw, tau) if mI else 1.0)
        ad = min(_most(zl, dzl, tau), _most(zu, dzu, tau), _most(lam, dlam, tau) if mI else 1.0)
        # line search on the merit (barrier objective + exact penalty on the rules' residuals)
        rho = 2.0 * max(
            1.0,
            float(np.max(np.abs(lam + dlam), initial=0.0)),
            float(np.max(np.abs(y + dy), initial=0.0)),
        )
        m0 = merit(x, w, mu, rho, phi)
        slope = (
            float(gphi @ dx)
            - mu
            * (
                float(np.sum(dx / x))
                - float(np.sum(dx / (u - x)))
                + (float(np.sum(dw / w)) if mI else 0.0)
            )
            - rho * (float(np.abs(rI).sum() + np.abs(rE).sum()))
        )
        a = ap
        for _ in range(40):
            xn = x + a * dx
            wn = w + a * dw if mI else w
            phin = -fval(xn) / sf
            # sufficient decrease, or none to speak of left in floating point
            want = m0 + 1e-4 * a * min(slope, 0.0)
            if np.isfinite(phin) and merit(xn, wn, mu, rho, phin) <= max(
                want, m0 + 1e-13 * abs(m0)
            ):
                break
            a *= 0.5
        else:
            break  # no descent left: the caller judges the iterate by its certificate
        x, w, phi = xn, wn, phin
        lam = lam + ad * dlam if mI else lam
        y = y + ad * dy if mE else y
        zl = zl + ad * dzl
        zu = zu + ad * dzu
        g, H = derivs(x, True)
        if not (np.all(np.isfinite(g)) and np.all(np.isfinite(H))):
            return None
    if not (err <= 1e-7 and comp <= 1e-10):
        return None  # not converged (the caller would not certify it: the LP takes over)
    X = (sx * x).reshape(n, P)
    # decisions the barrier held a hair above zero are at zero (as the LP's would be)
    X = np.where(X <= 1e-9 * max(1.0, float(X.max(initial=0.0))), 0.0, X)
    # multipliers back in the LP's convention: the objective's gain per unit of a rule's rhs
    lam_full = np.zeros(m)
    lam_full[np.flatnonzero(ineq)] = sig[ineq] * lam
    lam_full[np.flatnonzero(~ineq)] = y
    duals = sf * lam_full / rs
    return X, {r.name: float(duals[q]) for q, r in enumerate(rows)}, iterations


def _most(v: np.ndarray, dv: np.ndarray, tau: float) -> float:
    """The longest step (at most 1) that keeps ``v + step·dv`` at least ``(1 - tau)·v``."""
    neg = dv < 0
    if not neg.any():
        return 1.0
    return float(min(1.0, tau * np.min(-v[neg] / dv[neg])))
