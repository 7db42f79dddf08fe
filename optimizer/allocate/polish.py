"""Polish a piecewise-linear plan to the exact optimum of the smooth problem.

The LP over pieces finds which constraints bind and which line items sit at a bound; within a
piece it cannot place a line item exactly where its marginal return meets the price of its
dollars. Given that *active set*, the smooth problem's optimality (KKT) conditions are a small
nonlinear system: for every free line item ``φ_i'(x_i) = Σ_r y_r J_ri(x_i)`` and for every binding
row ``g_r(x) = b_r``. Newton's method solves it fast because the objective is separable: its
Hessian is diagonal, so each step is one ``m × m`` solve, ``m`` the number of binding rows
that touch several line items (single-item rules — minimums, maximums, locks, change limits —
are bounds on their item and never enter the system).

An active-set loop then checks the result: an inactive row now violated joins the active set,
a binding row whose multiplier has the wrong sign leaves it, a line item held at a bound whose
marginal return says it wants to move is freed. When nothing changes, the point satisfies the
KKT conditions of the smooth problem: for concave curves it is the exact optimum, and its
multipliers are the exact shadow prices (the Lagrangian bound at them equals the plan's value).

With binaries (S-curves, zero-or-at-least, blocks) the LP's integer choices are kept: which
line items are funded, on which side of an S-curve's inflection, how many blocks. The polish
then finds the best plan for that choice; whether the choice is right stays the MILP's job.

Everything here works in the *maximising* form: ``φ`` is the objective to maximise (minus the
spend for ``min_spend``) and multipliers are converted back to the caller's sense at the end.
Nothing is returned unless it passes; the caller still checks feasibility and value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optimizer.allocate.bank import CurveBank
from optimizer.allocate.problem import AllocationProblem
from optimizer.formatting import CENT

#: relative tolerances: stationarity (of a marginal return against its price) and feasibility
_STATIONARY = 1e-11
_FEASIBLE = 1e-10


@dataclass
class _Rows:
    """The rows that touch several line items (or are on a KPI), as dense arrays."""

    names: list[str]
    sense: np.ndarray  # "<=", ">=", "=="
    rhs: np.ndarray
    A: np.ndarray  # m × n coefficients
    kpi: list[str | None]  # None: a spend row; else the KPI whose curve the row is on


@dataclass
class Polished:
    x: np.ndarray
    duals: dict[str, float]  # our constraint name → shadow price in the problem's own sense
    iterations: int


def _scale(d1: np.ndarray, mask: np.ndarray) -> float:
    """The size of a marginal return among ``mask`` (finite ones only): stationarity is relative to it."""
    v = np.abs(d1[mask])
    v = v[np.isfinite(v)]
    return max(float(np.max(v)), 1e-300) if len(v) else 1.0


def kpi_bank(problem: AllocationProblem, k: str) -> CurveBank:
    """Every line item's (unscaled) curve for KPI ``k``; a line item without one contributes zero."""
    from optimizer.allocate.breakpoints import HorizonCurve
    from optimizer.response.model import Saturation, TouchpointResponse

    curves = []
    for it in problem.items:
        c = it.kpis.get(k)
        if c is None:  # contributes nothing to this KPI: a curve that is 0 with every derivative
            zero = TouchpointResponse(
                it.id, it.stage, Saturation("exponential", {"beta": 0.0, "scale": 1.0})
            )
            c = HorizonCurve(zero, it.curve.weeks)
        curves.append(c)
    return CurveBank.of(curves)


def polish(
    problem: AllocationProblem,
    bank: CurveBank,
    x0: np.ndarray,
    duals: dict[str, float],
    *,
    max_changes: int = 40,
    max_newton: int = 40,
) -> Polished | None:
    """The exact optimum for the active set ``(x0, duals)`` suggests, or None when it cannot be had."""
    with np.errstate(all="ignore"):  # infinite slopes at zero are expected; results are checked
        return _polish(problem, bank, x0, duals, max_changes=max_changes, max_newton=max_newton)


def _polish(
    problem: AllocationProblem,
    bank: CurveBank,
    x0: np.ndarray,
    duals: dict[str, float],
    *,
    max_changes: int = 40,
    max_newton: int = 40,
) -> Polished | None:
    """The exact optimum for the active set ``(x0, duals)`` suggests, or None when it cannot be had."""
    n = len(problem.items)
    if n == 0:
        return None
    maximise = problem.sense == "max"
    sign = 1.0 if maximise else -1.0  # caller's duals → maximising form

    # ---- bounds: the box, single-item rows, and the LP's integer choices ----------------------
    L = np.zeros(n)
    U = np.array([it.hi for it in problem.items], float)
    lname: list[str | None] = [None] * n
    uname: list[str | None] = [None] * n
    lcoef = np.ones(n)
    ucoef = np.ones(n)
    general = []
    for con in problem.constraints:
        nz = {i: a for i, a in con.coefs.items() if a != 0.0}
        if not con.on_kpi and len(nz) == 1:
            ((i, a),) = nz.items()
            v = con.rhs / a
            up = (con.sense == "<=") == (a > 0)
            if con.sense in ("==",) or up:
                if v < U[i] or (con.sense == "==" and uname[i] is None):
                    U[i], uname[i], ucoef[i] = v, con.name, a
            if con.sense == "==" or not up:
                if v > L[i] or (con.sense == "==" and lname[i] is None):
                    L[i], lname[i], lcoef[i] = v, con.name, a
        elif nz:
            general.append(con)
    U = np.where(U <= 2e-9, 0.0, U)  # capped at zero: the pieces' reach past the cap is no room
    x0 = np.asarray(x0, float)
    scale = max(float(np.max(np.abs(U[np.isfinite(U)]), initial=1.0)), 1.0)
    # the rules' own bounds, before the LP's integer choices pin some line items: a pinned line
    # item sitting on one of its rules still prices that rule
    L0, U0, lname0, uname0 = L.copy(), U.copy(), list(lname), list(uname)
    for it in problem.items:
        i = it.index
        if it.block:
            L[i] = U[i] = x0[i]
            lname[i] = uname[i] = None
        elif it.min_if_funded:
            if x0[i] <= 1e-9 * scale:
                L[i] = U[i] = 0.0
                lname[i] = uname[i] = None
            elif it.min_if_funded > L[i]:
                L[i], lname[i] = min(it.min_if_funded, U[i]), None
        if not it.curve.concave:
            infl = it.curve.inflection
            if x0[i] < infl * (1 - 1e-9):
                tol = 1e-9 * (1.0 + abs(x0[i]))
                if x0[i] > tol and abs(x0[i] - L0[i]) > tol and abs(x0[i] - U0[i]) > tol:
                    # on the rising part of its S-curve and held there by no rule of its own: a
                    # stationary point whose curvature the other line items balance, which this
                    # diagonal Newton cannot steer; the LP's plan and duals stand
                    return None
                L[i] = U[i] = x0[i]
                lname[i] = uname[i] = None
            elif infl > L[i]:
                L[i], lname[i] = min(infl, U[i]), None
    if np.any(L > U + 1e-9 * (1.0 + np.abs(U))):
        return None
    U = np.maximum(U, L)
    x = np.clip(x0, L, U)

    m = len(general)
    rows = _Rows(
        [c.name for c in general],
        np.array([c.sense for c in general], dtype=object),
        np.array([c.rhs for c in general], float),
        np.zeros((m, n)),
        [(c.kpi or problem.kpi) if c.on_kpi else None for c in general],
    )
    for r, c in enumerate(general):
        for i, a in c.coefs.items():
            rows.A[r, i] = a
    kbanks = {k: kpi_bank(problem, k) for k in set(rows.kpi) if k is not None}
    y = np.array([sign * float(duals.get(c.name, 0.0)) for c in general])
    rscale = np.maximum(1.0, np.abs(rows.rhs)) + scale * 1e-3 * (rows.rhs == 0)

    def phi(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if maximise:
            return bank.slope(x) - problem.spend_weight, bank.curvature(x)
        return -np.ones(n), np.zeros(n)

    def row_terms(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """g(x), Jacobian, and the per-(row, item) second derivative of each row."""
        g = np.empty(m)
        J = rows.A.copy()
        D2 = np.zeros((m, n))
        cache: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        for r in range(m):
            k = rows.kpi[r]
            if k is None:
                g[r] = rows.A[r] @ x
                continue
            if k not in cache:
                kb = kbanks[k]
                cache[k] = (kb.value(x), kb.slope(x), kb.curvature(x))
            v, s, c2 = cache[k]
            g[r] = rows.A[r] @ v
            J[r] = rows.A[r] * s
            D2[r] = rows.A[r] * c2
        return g, J, D2

    def violation(g: np.ndarray) -> np.ndarray:
        """How far each row is from holding (positive: violated)."""
        over = g - rows.rhs
        return np.where(rows.sense == "<=", over, np.where(rows.sense == ">=", -over, np.abs(over)))

    def best_response(mask: np.ndarray, x: np.ndarray) -> np.ndarray:
        a, b = L.copy(), U.copy()
        for _ in range(64):
            mid = np.where(mask, 0.5 * (a + b), x)
            d1, _ = phi(mid)
            _, J, _ = row_terms(mid)
            up = (d1 - J.T @ y) > 0
            a = np.where(mask & up, mid, a)
            b = np.where(mask & ~up, mid, b)
        return np.where(mask, 0.5 * (a + b), x)

    active = (rows.sense == "==") | (np.abs(y) > 0)
    y = np.where(active, y, 0.0)
    # at a bound within 1e-9 of that bound (not of the range: a line item with no cap ranges up
    # to where its curve saturates, 1e15 for a hill of shape 0.4, and 1e-9 of that is 1e6)
    tol_lo = 1e-9 * (1.0 + np.abs(L))
    tol_x = 1e-9 * (1.0 + np.abs(U))
    free = (x > L + tol_lo) & (x < U - tol_x)
    changes = 0
    iters = 0
    while True:
        # ---- Newton on the KKT system of the current active set ------------------------------
        ok = False
        for _ in range(max_newton):
            iters += 1
            d1, d2 = phi(x)
            g, J, D2 = row_terms(x)
            A_idx = np.flatnonzero(active)
            grad = d1 - J[A_idx].T @ y[A_idx]
            h = d2 - D2[A_idx].T @ y[A_idx]
            F = free & (h < 0)
            rd = grad[F]
            rp = (g - rows.rhs)[A_idx]
            pscale = _scale(np.abs(d1) + np.abs(J[A_idx].T @ y[A_idx]) + problem.spend_weight, F)
            if np.all(np.abs(rd) <= _STATIONARY * pscale) and np.all(
                np.abs(rp) <= _FEASIBLE * rscale[A_idx]
            ):
                ok = True
                break
            Hinv = 1.0 / h[F]
            JF = J[np.ix_(A_idx, np.flatnonzero(F))]
            if len(A_idx):
                S = (JF * Hinv) @ JF.T
                rhs = JF @ (Hinv * rd) - rp
                try:
                    dy = np.linalg.solve(S, rhs)
                except np.linalg.LinAlgError:
                    dy = np.linalg.lstsq(S, rhs, rcond=None)[0]
                dx = Hinv * (JF.T @ dy - rd)
            else:
                dy = np.zeros(0)
                dx = -Hinv * rd
            if not np.all(np.isfinite(dx)) or not np.all(np.isfinite(dy)):
                return None
            # projected step: a line item the step would carry past a bound stops at it and is
            # held there (the KKT check frees it again if its marginal return disagrees); the
            # rows' residual this leaves is taken up by the next step
            fi = np.flatnonzero(F)
            target = x[fi] + dx
            over = (target > U[fi]) | (target < L[fi])
            x[fi] = np.clip(target, L[fi], U[fi])
            y[A_idx] += dy
            free[fi[over]] = False
        if not ok:
            return None
        # ---- active-set check -------------------------------------------------------------------
        d1, _ = phi(x)
        g, J, _ = row_terms(x)
        grad = d1 - J.T @ y
        pscale = _scale(np.abs(d1) + np.abs(J.T @ y) + problem.spend_weight, free)
        # a line item held at a bound is judged by its marginal return one cent inside it: a
        # curve with an infinite slope at zero (hill shape < 1) would otherwise always want its
        # first fraction of a cent
        inside = np.where(
            x <= L + tol_lo,
            np.minimum(L + CENT, U),
            np.where(x >= U - tol_x, np.maximum(U - CENT, L), x),
        )
        e1, _ = phi(inside)
        _, Je, _ = row_terms(inside)
        grad_in = e1 - Je.T @ y
        viol = violation(g)
        add = (~active) & (viol > _FEASIBLE * rscale)
        wrong = active & (
            ((rows.sense == "<=") & (y < -_STATIONARY * pscale))
            | ((rows.sense == ">=") & (y > _STATIONARY * pscale))
        )
        at_lo = ~free & (x <= L + tol_lo) & (L < U)
        at_hi = ~free & (x >= U - tol_x) & (L < U)
        # the curvature just off the bound (a logistic curve is flat to second order at zero)
        step = np.where(at_lo, L + 1e-4 * (U - L), np.where(at_hi, U - 1e-4 * (U - L), x))
        _, d2 = phi(step)
        _, _, D2 = row_terms(step)
        h = d2 - D2.T @ y
        release = (at_lo & (grad_in > _STATIONARY * pscale)) | (
            at_hi & (grad_in < -_STATIONARY * pscale)
        )
        release &= h < 0
        # a line item that can move but Newton cannot steer (flat or convex there) and that is
        # not where its marginal return says it should be: no certificate from here
        loose = (L < U) & ~at_lo & ~at_hi & ~(free & (h < 0))
        stuck = loose & (np.abs(grad) > _STATIONARY * pscale)
        if stuck.any():
            return None
        if not (add.any() or wrong.any() or release.any()):
            break
        changes += 1
        if changes > max_changes:
            return None
        if add.any():
            active |= add
        elif wrong.any():
            worst = int(np.argmax(np.where(wrong, np.abs(y), -1.0)))
            active[worst] = False
            y[worst] = 0.0
        if release.any():
            # move each freed line item to its best response to the current multipliers (where
            # its marginal return meets its price): a fixed step off the bound can overshoot a
            # nearby optimum and send Newton straight back to the bound
            x = best_response(release, x)
            free |= release

    # ---- multipliers back to the caller's sense, with single-item rows from their items --------
    out: dict[str, float] = {c.name: 0.0 for c in problem.constraints}
    for r, name in enumerate(rows.names):
        out[name] = sign * float(y[r]) + 0.0
    d1, _ = phi(x)
    g, J, _ = row_terms(x)
    grad = d1 - J.T @ y
    # a curve whose slope is infinite at zero (hill shape < 1) held at zero by a rule: its rule's
    # price is that of the first cent, not infinity
    odd = ~np.isfinite(grad)
    if odd.any():
        nudged = np.where(odd, x + 0.5 * CENT, x)
        e1, _ = phi(nudged)
        _, Je, _ = row_terms(nudged)
        grad = np.where(odd, e1 - Je.T @ y, grad)
    for i in range(n):
        if free[i]:
            continue
        lo_name, up_name = lname0[i], uname0[i]
        at_u = up_name is not None and x[i] >= U0[i] - tol_x[i]
        if (
            lo_name is not None
            and x[i] <= L0[i] + 1e-9 * (1.0 + abs(L0[i]))
            and (grad[i] <= 0 or not at_u)
        ):
            out[lo_name] = sign * float(grad[i] / lcoef[i]) + 0.0
        elif up_name is not None and at_u:
            out[up_name] = sign * float(grad[i] / ucoef[i]) + 0.0
    return Polished(x, out, iters)
