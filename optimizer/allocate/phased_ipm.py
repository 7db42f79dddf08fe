"""The smooth phased problem solved directly, by a primal-dual interior point method.

For concave curves and no binaries, the phased problem (``optimizer.allocate.phased``) is a concave
maximisation over the decisions ``x[i,p]`` under linear rules and the box ``0 <= x <= xhi``::

    max  f(x) = Σ_i Σ_t c[i,t] F_i(a[i,t](x)) - spend_weight · Σ x      (a linear in x)

Its Hessian is block-diagonal by touchpoint (the adstock couples a touchpoint's periods only):
``H_i = J_iᵀ diag(c F_i'') J_i`` with ``J_i = d a[i,·] / d x[i,·]`` (T × P) — for a national buy
the sum of that over its markets' adstock streams, still one P × P block. A Newton step of the
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

from optimizer.allocate.phased_certificate import decision_gain
from optimizer.allocate.phased_model import (
    PhasedProblem,
    _boxes,
    _Cells,
    _jacobians,
    adjoint,
    adstock_path,
)

#: an unconverged run hands its best iterate to the caller's certificate when its relative
#: residual got this low (else the LP takes over)
STALLED_OK = 1e-6
#: this many steps in a row cut by the line search to a thousandth of the longest: stalled
STALL_STEPS = 5

#: the Schur complement is dense (rules × rules) and so is K⁻¹Gᵀ (decisions × rules): above this
#: many entries the LP is used instead
MAX_DENSE = 6_000_000


def _fixed_at_zero(
    G: sp.csr_matrix, b: np.ndarray, sense: np.ndarray, u: np.ndarray
) -> np.ndarray | None:
    """The decisions that can only be zero (a dark period, a zero cap: the barrier problem has no
    interior there, so they are held at zero); None when a cap below zero makes the rules
    infeasible (the LP diagnoses it)."""
    fixed = u <= 1e-3
    nonneg = np.asarray((G < 0).sum(axis=1)).ravel() == 0
    cap = np.array([s in ("<=", "==") for s in sense], bool)
    forcing = cap & nonneg & (b <= 0) & (G.getnnz(axis=1) > 0)
    if np.any(forcing & (b < 0)):
        return None
    for q in np.flatnonzero(forcing):
        lo, hi = G.indptr[q], G.indptr[q + 1]
        fixed[G.indices[lo:hi][G.data[lo:hi] > 0]] = True
    return fixed


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
    xhi, _ = _boxes(problem)
    u_raw = xhi.ravel().copy()
    # a cap on one decision (per_period: {max: …}) is that decision's upper bound, not a row of
    # the Schur complement; its multiplier is the bound's (the tightest such cap on a decision)
    bound_row = np.full(N, -1)
    single = np.flatnonzero((G.getnnz(axis=1) == 1) & (sense == "<="))
    for q in single:
        j, a = int(G.indices[G.indptr[q]]), float(G.data[G.indptr[q]])
        if a > 0 and b[q] / a < u_raw[j]:
            u_raw[j] = max(b[q] / a, 0.0)
            bound_row[j] = q
    as_bound = np.zeros(m, bool)
    as_bound[single] = True
    if N * max(int(m - as_bound.sum()), 1) > MAX_DENSE:
        return None
    fixed = _fixed_at_zero(G, b, sense, u_raw)
    if fixed is None or fixed.all():
        return None
    free = ~fixed
    Gf = sp.csr_matrix(G @ sp.diags(free.astype(float)))
    Gf.eliminate_zeros()
    live = (Gf.getnnz(axis=1) > 0) & ~as_bound
    # a rule on held decisions only must hold at zero; the method works on the others
    lhs0 = np.zeros(m)
    gone = (
        ~live
        & ~as_bound
        & np.where(
            sense == "<=",
            lhs0 > b + 1e-9,
            np.where(sense == ">=", lhs0 < b - 1e-9, np.abs(b) > 1e-9),
        )
    )
    if gone.any():
        return None
    budget = next(
        (float(b[q]) for q, r in enumerate(problem.rows) if r.kind == "budget" and b[q] > 0), None
    )
    with np.errstate(all="ignore"):
        out = _solve(
            problem, Gf[live], b[live], sense[live], u_raw, free, budget, deadline, max_iter, tol
        )
    if out is None:
        return None
    X, y_live, iterations, zu = out
    y = np.zeros(m)
    y[live] = y_live
    for col in np.flatnonzero((bound_row >= 0) & free):
        row = int(bound_row[col])
        y[row] = zu[col] / float(G.data[G.indptr[row]])
    if (~live & ~as_bound).any():
        y = _held_duals(problem, G, sense, live | as_bound, X, y)
    return X, {r.name: float(y[q]) for q, r in enumerate(problem.rows)}, iterations


def _held_duals(
    problem: PhasedProblem,
    G: sp.csr_matrix,
    sense: np.ndarray,
    live: np.ndarray,
    X: np.ndarray,
    y: np.ndarray,
) -> np.ndarray:
    """Multipliers of the rules that hold decisions at zero (left out of the barrier problem):
    the least that prices every member's marginal return out, so each held decision's reduced
    cost is at most zero (a rule on one decision keeps 0: the box holds it, as in the LP)."""
    y = y.copy()
    # the marginal return by the adjoint the certificate uses (``adjoint``: an infinite first-dollar
    # slope, a hill curve of shape < 1 at zero adstock, capped as there), so that the bound prices
    # each held decision out exactly; an infinite multiplier made the bound NaN, and a line item
    # locked at zero never certified by this method
    g = decision_gain(problem, adjoint(problem, X), 0.0).ravel()
    price = np.asarray(G.T @ y)
    for q in np.flatnonzero(~live):
        lo, hi = G.indptr[q], G.indptr[q + 1]
        cols, a = G.indices[lo:hi], G.data[lo:hi]
        pos = a > 0
        if len(cols) < 2 or sense[q] == ">=" or not pos.any():
            continue
        yq = max(0.0, float(np.max((g[cols][pos] - price[cols][pos]) / a[pos])))
        if yq > 0:
            y[q] = yq
            price[cols] += yq * a
    return y


def _solve(problem, G, b, sense, u_raw, free, budget, deadline, max_iter, tol):
    n, P = problem.n, problem.P
    N = n * P
    Nf = int(free.sum())
    pair = free.reshape(n, P)[:, :, None] & free.reshape(n, P)[:, None, :]
    m = G.shape[0]
    sw = float(problem.base.spend_weight)
    J = _jacobians(problem)  # (ns, T, P): each stream's adstock in its line item's decisions
    JT = np.ascontiguousarray(J.transpose(0, 2, 1))
    cells = _Cells(problem)
    T, ns = problem.T, problem.ns
    to_items = problem.to_items  # a national buy's streams add up in its decisions

    # ---- a start inside the box, and the scales -------------------------------------------------
    typical = budget / Nf if budget else float(np.median(u_raw[free])) / max(P, 1) / max(n, 1)
    x0 = np.where(free, np.minimum(0.5 * u_raw, max(typical, 1e-6)), 0.0)
    sx = max(float(np.mean(x0[free])), 1e-6)

    def derivs(xs: np.ndarray, hess: bool):
        X = (sx * xs).reshape(n, P)
        A = adstock_path(problem, X)
        # a cell at zero adstock is fed by no free decision (those are positive): its slope
        # (infinite on a hill curve of shape < 1) is nobody's
        fed = A > 0
        f1 = np.where(fed, cells.slope(A.ravel()).reshape(ns, T), 0.0)
        g = to_items(np.matmul(JT, f1[:, :, None])).ravel() - sw
        if not hess:
            return g, None
        f2 = np.where(fed, cells.curvature(A.ravel()).reshape(ns, T), 0.0)
        H = to_items(np.matmul(JT, f2[:, :, None] * J))
        return g, H

    def fval(xs: np.ndarray) -> float:
        X = (sx * xs).reshape(n, P)
        A = adstock_path(problem, X)
        v = cells.value(A.ravel())
        return float(v.sum() - sw * X.sum())

    g0, _ = derivs(x0 / sx, False)
    if not np.all(np.isfinite(g0)):
        return None
    sf = sx * max(float(np.median(np.abs(g0[free]))), 1e-300)
    # rows scaled to unit largest coefficient in the scaled decisions
    amax = np.asarray(abs(G).max(axis=1).todense()).ravel() if m else np.zeros(0)
    rs = np.maximum(sx * amax, 1e-300)
    Gs = sp.diags(sx / rs) @ G if m else G
    Gs = sp.csr_matrix(Gs)
    hs = b / rs
    u = np.where(free, u_raw / sx, 1.0)
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
    zl = free.astype(float)  # held decisions: x = 0, no multipliers, no barrier
    zu = free.astype(float)
    ncomp = 2 * Nf + mI
    tau_min = 0.99

    def residuals(x, w, lam, y, zl, zu, gphi):
        rd = gphi + (GI.T @ lam if mI else 0.0) + (GE.T @ y if mE else 0.0) - zl + zu
        rd = np.where(free, rd, 0.0)
        rI = GI @ x + w - hI if mI else np.zeros(0)
        rE = GE @ x - hE if mE else np.zeros(0)
        return rd, rI, rE

    def merit(x, w, mu, rho, phi):
        bar = (
            np.sum(np.log(x[free]))
            + np.sum(np.log((u - x)[free]))
            + (np.sum(np.log(w)) if mI else 0.0)
        )
        rI = GI @ x + w - hI if mI else np.zeros(0)
        rE = GE @ x - hE if mE else np.zeros(0)
        return phi - mu * bar + rho * (np.abs(rI).sum() + np.abs(rE).sum())

    phi = -fval(x) / sf
    g, H = derivs(x, True)
    mu = float((x @ zl + (u - x) @ zu + w @ lam) / ncomp)
    iterations = 0
    history: list[float] = []
    err = comp = np.inf
    best: tuple | None = None  # the iterate with the least residual so far
    stalled = 0
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
        if best is None or err < best[0]:
            best = (err, comp, x.copy(), lam.copy(), y.copy(), zu.copy())
        history.append(err)
        if comp <= 1e-12 and len(history) > 6 and err > 0.5 * min(history[-6:-1]):
            break  # stalled in floating point with the complementarity at zero: as good as it gets
        # the barrier parameter: a tenth of the complementarity, less once the residuals are small;
        # held at the complementarity (a centring step) while the residuals lag it by 1e3: cut
        # further, the iterates pinned decisions to zero before the rules and the marginal
        # returns agreed and stalled there (fy26 at 1% to 30% of its budget: the residual stuck
        # at 5e-2 for 60 iterations with the complementarity at 1e-10, then the LP, 2 s a plan)
        if err > 1e3 * comp:
            mu = comp
        else:
            mu = min(mu, 0.1 * comp) if err > 10 * comp else min(mu, 0.02 * comp)
        mu = max(mu, 1e-16)
        # Newton step on the barrier problem's KKT conditions
        xs = np.where(free, x, 1.0)
        s1 = np.where(free, zl / xs + zu / (u - x), 1.0)
        K = np.where(pair, Hphi, 0.0)
        K[:, np.arange(P), np.arange(P)] += s1.reshape(n, P)
        r1 = np.where(free, -rd + (mu / xs - zl) - (mu / (u - x) - zu), 0.0)
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
        dzl = np.where(free, (mu - x * zl - zl * dx) / xs, 0.0)
        dzu = np.where(free, (mu - (u - x) * zu + zu * dx) / (u - x), 0.0)
        if not (
            np.all(np.isfinite(dx))
            and np.all(np.isfinite(dzl))
            and np.all(np.isfinite(dv if m else dx))
        ):
            return None
        tau = max(tau_min, 1.0 - mu)
        xf, dxf = x[free], dx[free]
        ap = min(_most(xf, dxf, tau), _most((u - x)[free], -dxf, tau))
        ad = min(_most(zl[free], dzl[free], tau), _most(zu[free], dzu[free], tau))
        if mI:
            ap, ad = min(ap, _most(w, dw, tau)), min(ad, _most(lam, dlam, tau))
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
                float(np.sum(dxf / xf))
                - float(np.sum(dxf / (u - x)[free]))
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
        # steps the line search cuts to a thousandth, five in a row, with a close iterate in
        # hand: stalled (the best iterate goes to the certificate below, not 80 iterations on)
        stalled = stalled + 1 if a < 1e-3 * ap else 0
        if stalled >= STALL_STEPS and best is not None and best[0] <= STALLED_OK:
            break
        x, w, phi = xn, wn, phin
        lam = lam + ad * dlam if mI else lam
        y = y + ad * dy if mE else y
        zl = zl + ad * dzl
        zu = zu + ad * dzu
        g, H = derivs(x, True)
        if not (np.all(np.isfinite(g)) and np.all(np.isfinite(H))):
            return None
    if not (err <= 1e-7 and comp <= 1e-10) and best is not None and best[0] <= STALLED_OK:
        # not converged to the test, but an iterate came close before the steps stalled (seen
        # near the optimum of 50 markets × 20 touchpoints × 12 months with a national buy: the
        # residual fell to 7e-8, then line-search-cut steps left it at 1e-4): that iterate goes
        # to the caller, whose certificate (gap and KKT residual) decides, as for any plan
        err, comp, x, lam, y, zu = best
    elif not (err <= 1e-7 and comp <= 1e-10):
        return None  # not converged (the caller would not certify it: the LP takes over)
    X = (sx * x).reshape(n, P)
    # decisions the barrier held a hair above zero are at zero (as the LP's would be)
    X = np.where(X <= 1e-9 * max(1.0, float(X.max(initial=0.0))), 0.0, X)
    # multipliers back in the LP's convention: the objective's gain per unit of a rule's rhs
    lam_full = np.zeros(m)
    lam_full[np.flatnonzero(ineq)] = sig[ineq] * lam
    lam_full[np.flatnonzero(~ineq)] = y
    # the upper bounds' multipliers in objective units per dollar of the decision
    return X, sf * lam_full / rs, iterations, np.where(free, zu * sf / sx, 0.0)


def _most(v: np.ndarray, dv: np.ndarray, tau: float) -> float:
    """The longest step (at most 1) that keeps ``v + step·dv`` at least ``(1 - tau)·v``."""
    neg = dv < 0
    if not neg.any():
        return 1.0
    return float(min(1.0, tau * np.min(-v[neg] / dv[neg])))
