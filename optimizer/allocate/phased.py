"""Plans on a calendar (contract 7): spend per touchpoint per period, response week by week.

The problem, for touchpoints ``i``, periods ``p`` and weeks ``t = 1..T``::

    x[i,p] >= 0                     the spend of touchpoint i in period p (the decisions)
    w[i,t] = x[i,p(t)] / n[p(t)]    a period's spend spread evenly over its weeks
    a[i,t] = k_i w[i,t] + d_i a[i,t-1],   a[i,0] = the carry-over of the spend before ``start``
    KPI    = Σ_i Σ_t c[i,t] F_i(a[i,t])   (+ what a[i,T] still earns after the horizon)

with ``d_i`` the adstock decay, ``k_i = 1`` (or ``1 - d_i`` for normalised adstock), ``F_i`` the
saturation curve and ``c[i,t]`` the touchpoint's seasonal effectiveness in week t times the
discount ``(1 + r)^(-t/52)``. The adstock is linear in spend, so every rule stays a linear row
and the only non-linearity is ``F_i`` of each *cell* ``(i, t)``.

As an LP: each cell's ``F`` is cut into pieces over the range its adstock can take
(``a = Σ_j s_j``, KPI ``= F(0) + Σ_j slope_j s_j``); concave curves fill their pieces in order,
so the LP is exact for the pieces with no binaries. S-curves get the incremental formulation's
binaries per cell (a MILP), so bursts and dark weeks — pulsing — come out of the solver.

Certificate: for the smooth problem, any multipliers ``μ`` of the adstock rows and ``y`` of the
rules (of valid signs) give the Lagrangian bound ``max over the box of Σ F(a) - cost·x +
μ·(b - E[x; a]) + y·(b - G x)``, which separates into one-dimensional problems per cell and per
decision, solved exactly (bisection on ``F'`` for concave cells). With the LP's duals it bounds
the exact optimum from above; with binaries (S-curves, zero-or-at-least) the MILP over pieces
lifted onto or above the curves bounds it too. While the gap exceeds the tolerance, pieces are
refined around each cell's solution and its best response to the duals, and the LP is solved again.

Built as arrays and solved by HiGHS through ``solve.solve_arrays``: at 100 touchpoints × 52 weeks
there are 5,200 cells and ~80,000 pieces, where making PuLP objects would cost more than solving.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from optimizer.allocate.breakpoints import (
    Pieces,
    bank_breakpoints,
    lifted,
    piece_errors,
)
from optimizer.allocate.caps import unpad_cap
from optimizer.allocate.plan import ConstraintResult, LineItem, PeriodAmount, Plan, round_cents
from optimizer.allocate.problem import AllocationProblem
from optimizer.allocate.solve import Status, solve_arrays
from optimizer.calendar import Calendar
from optimizer.errors import ScenarioError
from optimizer.response import curves as C
from optimizer.response.model import TouchpointResponse

DEFAULT_TOLERANCE = 1e-4
DEFAULT_KKT_TOLERANCE = 1e-3
DEFAULT_PIECES = 4
#: the horizon after the plan that ``after: true`` counts, at most (weeks)
MAX_AFTER_WEEKS = 520


@dataclass(frozen=True)
class PhasedRow:
    """A linear rule on period spend: ``Σ coefs[(i, p)] · x[i, p]  sense  rhs``."""

    name: str
    kind: str  # period_max, period_min, tp_period_max, change_up, ...
    subject: str
    sense: str
    rhs: float
    coefs: Mapping[tuple[int, int], float]
    label: str


@dataclass(frozen=True)
class PhasedProblem:
    """A scenario's allocation problem on its calendar; see the module docstring."""

    base: AllocationProblem  # line items, rules on horizon totals, objective
    calendar: Calendar
    responses: tuple[TouchpointResponse, ...]  # per line item
    carry_in: np.ndarray  # (n,) adstock a[i,0] before the first week
    effectiveness: np.ndarray  # (n, T) seasonal multipliers of each week
    discount: np.ndarray  # (T,) weight of each week's KPI
    after: np.ndarray  # (n, S) weights of the weeks after the horizon (S = 0: not counted)
    rules: tuple[PhasedRow, ...] = ()
    min_if_funded: Mapping[tuple[int, int], float] = field(default_factory=dict)
    #: the rules are every row (built by the registry over touchpoint × period line items);
    #: otherwise the base problem's rules on totals are spread over the periods first
    rules_complete: bool = False

    @property
    def n(self) -> int:
        return len(self.base.items)

    @property
    def T(self) -> int:  # noqa: N802 - the horizon in weeks, as in the docs
        return self.calendar.weeks

    @property
    def P(self) -> int:  # noqa: N802
        return len(self.calendar.periods)

    @property
    def decay(self) -> np.ndarray:
        return np.array([0.0 if r.adstock is None else r.adstock.decay for r in self.responses])

    @property
    def gain(self) -> np.ndarray:
        """k_i: the weight of a week's own spend in its adstock (1, or 1/Σweights when normalised)."""
        return np.array(
            [
                1.0
                if r.adstock is None or not r.adstock.normalize
                else 1.0 / C.geometric_steady_factor(r.adstock.decay, None, False)
                for r in self.responses
            ]
        )

    @property
    def scale(self) -> np.ndarray:
        return np.array([it.curve.scale for it in self.base.items])

    @property
    def weights(self) -> np.ndarray:
        """c[i,t]: objective units per unit of ``F`` in each cell (scale × effectiveness × discount)."""
        return self.scale[:, None] * self.effectiveness * self.discount[None, :]

    @property
    def needs_binaries(self) -> bool:
        return (
            any(not r.concave for r in self.responses)
            or bool(self.min_if_funded)
            or any(it.min_if_funded or it.block for it in self.base.items)
        )

    @property
    def weeks_per_period(self) -> np.ndarray:
        return np.array([p.n_weeks for p in self.calendar.periods], float)

    @property
    def rows(self) -> tuple[PhasedRow, ...]:
        """Every rule as a row on period spend: the horizon-total rules spread over the periods,
        then the period rules."""
        if self.rules_complete:
            return self.rules
        out = []
        for c in self.base.constraints:
            out.append(
                PhasedRow(
                    c.name,
                    c.kind,
                    c.subject,
                    c.sense,
                    c.rhs,
                    {(i, p): a for i, a in c.coefs.items() for p in range(self.P)},
                    c.label,
                )
            )
        return (*out, *self.rules)


def week_discount(weeks: int, rate: float, offset: int = 0) -> np.ndarray:
    """``(1 + r)^(-t/52)`` for weeks t = offset+1 .. offset+weeks."""
    t = np.arange(offset + 1, offset + weeks + 1, dtype=float)
    return (1.0 + float(rate)) ** (-t / 52.0)


def make_phased_problem(
    base: AllocationProblem,
    responses: Sequence[TouchpointResponse],
    calendar: Calendar,
    *,
    carry_in: Sequence[float] | None = None,
    effectiveness: np.ndarray | None = None,
    discount_rate: float = 0.0,
    after: bool = False,
    rules: Sequence[PhasedRow] = (),
    min_if_funded: Mapping[tuple[int, int], float] | None = None,
    rules_complete: bool = False,
) -> PhasedProblem:
    """A phased problem from a (calendar-free) allocation problem and the calendar's inputs.

    ``effectiveness`` is ``(n, 52)`` multipliers by week of year (or ``(n, T)`` by horizon week);
    None means flat."""
    if any(c.on_kpi for c in base.constraints):
        bad = next(c for c in base.constraints if c.on_kpi)
        raise ScenarioError(
            f"{bad.label}: KPI floors and targets are not supported on phased plans yet; "
            "plan without 'phasing', or drop the rule",
            path=base.scenario.source,
            field=bad.kind,
        )
    if base.sense != "max":
        raise ScenarioError(
            "objective min_spend is not supported on phased plans yet; use max_kpi or max_net",
            path=base.scenario.source,
            field="objective",
        )
    for it in base.items:
        if it.curve.parts:
            raise ScenarioError(
                "kpi_values (several KPIs' worth) are not supported on phased plans yet",
                path=base.scenario.source,
                field="kpi_values",
            )
    n, T = len(base.items), calendar.weeks
    woy = np.array(calendar.woy()) - 1
    if effectiveness is None:
        eff = np.ones((n, T))
        eff_year = np.ones((n, 52))
    else:
        e = np.asarray(effectiveness, float)
        if e.shape == (n, 52):
            eff_year = e
            eff = e[:, woy]
        else:
            eff = e.reshape(n, T)
            eff_year = None  # type: ignore[assignment]
    disc = week_discount(T, discount_rate)
    decay = np.array([0.0 if r.adstock is None else r.adstock.decay for r in responses])
    S = 0
    if after:
        dmax = float(decay.max(initial=0.0))
        S = (
            0
            if dmax <= 0
            else min(MAX_AFTER_WEEKS, int(math.ceil(math.log(1e-10) / math.log(dmax))))
        )
    tail = np.zeros((n, S))
    if S:
        import datetime as dt

        from optimizer.calendar import week_of_year

        last = calendar.mondays[-1]
        wk = np.array([week_of_year(last + dt.timedelta(weeks=s)) - 1 for s in range(1, S + 1)])
        d_after = week_discount(S, discount_rate, offset=T)
        e_after = eff_year[:, wk] if eff_year is not None else np.ones((n, S))
        tail = e_after * d_after[None, :]
    a0 = np.zeros(n) if carry_in is None else np.asarray(carry_in, float)
    return PhasedProblem(
        base,
        calendar,
        tuple(responses),
        a0,
        eff,
        disc,
        tail,
        tuple(rules),
        dict(min_if_funded or {}),
        rules_complete,
    )


# ------------------------------------------------------------------------------------------------
# the response of a plan, week by week
# ------------------------------------------------------------------------------------------------
def weekly_spend(problem: PhasedProblem, X: np.ndarray) -> np.ndarray:
    """(n, T) weekly spend of period spend ``X`` (n, P)."""
    pw = np.array(problem.calendar.period_of_week)
    return X[:, pw] / problem.weeks_per_period[pw][None, :]


def adstock_path(problem: PhasedProblem, X: np.ndarray) -> np.ndarray:
    """(n, T) adstock ``a[i,t]`` of period spend ``X`` with the carry-over in."""
    W = weekly_spend(problem, X)
    d, k = problem.decay, problem.gain
    A = np.empty_like(W)
    prev = problem.carry_in.astype(float)
    for t in range(W.shape[1]):
        prev = k * W[:, t] + d * prev
        A[:, t] = prev
    return A


class _Cells:
    """Vectorised value / slope / curvature of every cell's function ``c[i,t] F_i(a)`` (and, in
    the last week with ``after``, plus the tail ``Σ_s τ[i,s] F_i(d_i^s a)``). Rows are cells
    ``i*T + t``; the breakpoint helpers take it as a curve bank."""

    def __init__(self, problem: PhasedProblem):
        self.p = problem
        n, T = problem.n, problem.T
        self.n, self.T = n, T
        self.w = problem.weights  # (n, T)
        self.sat = [r.curve for r in problem.responses]
        d = problem.decay
        S = problem.after.shape[1]
        # tail weight of F(d^s a) per s, scaled like the objective
        self.tail = problem.after * problem.scale[:, None] if S else np.zeros((n, 0))
        self.dpow = d[:, None] ** np.arange(1, S + 1)[None, :] if S else np.zeros((n, 0))

        class _C:
            def __init__(self, concave: bool, inflection: float):
                self.concave, self.inflection = concave, inflection

        self.curves = [
            _C(s.concave, C.inflection_point(s.family, dict(s.params)))
            for s in self.sat
            for _ in range(T)
        ]

    def _families(self) -> list[tuple[str, np.ndarray, dict[str, np.ndarray]]]:
        fams = getattr(self, "_fams", None)
        if fams is None:
            by: dict[str, list[int]] = {}
            for i, s in enumerate(self.sat):
                by.setdefault(s.family, []).append(i)
            fams = []
            for fam, idx in by.items():
                names = C.SATURATION[fam][3]
                full = {
                    nm: np.array(
                        [float(self.sat[i].params[nm]) if i in idx else 1.0 for i in range(self.n)]
                    )
                    for nm in names
                }
                member = np.zeros(self.n, bool)
                member[idx] = True
                fams.append((fam, member, full))
            self._fams = fams
        return fams

    def _eval(self, A: np.ndarray, which: int, rows: np.ndarray | None = None) -> np.ndarray:
        """``A``: (cells, m) points, or (cells,) one per cell; rows: the cells (default all)."""
        A = np.asarray(A, float)
        vec = A.ndim == 1
        M = A[:, None] if vec else A
        rows = np.arange(self.n * self.T) if rows is None else np.asarray(rows)
        out = np.zeros(M.shape)
        tp = rows // self.T
        t = rows % self.T
        S = self.tail.shape[1]
        for fam, member, params in self._families():
            sel = np.flatnonzero(member[tp])
            if not len(sel):
                continue
            f = C.SATURATION[fam][which]
            ti = tp[sel]
            out[sel] = self.w[ti, t[sel]][:, None] * f(
                M[sel], **{k: v[ti][:, None] for k, v in params.items()}
            )
            if S:
                last = sel[t[sel] == self.T - 1]
                if len(last):
                    # tail: Σ_s τ_s F(d^s a); each derivative picks up a factor d^s
                    tl = tp[last]
                    Al = M[last][:, :, None] * self.dpow[tl][:, None, :]
                    g = f(Al, **{k: v[tl][:, None, None] for k, v in params.items()})
                    wt = (self.tail[tl] * self.dpow[tl] ** which)[:, None, :]
                    out[last] += np.sum(wt * g, axis=2)
        return out[:, 0] if vec else out

    def value(self, A, rows=None):
        return self._eval(A, 0, rows)

    def slope(self, A, rows=None):
        return self._eval(A, 1, rows)

    def curvature(self, A, rows=None):
        return self._eval(A, 2, rows)


def plan_kpi(problem: PhasedProblem, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(n, T) objective-scale KPI of each week (its weight included) and (n,) KPI after the horizon."""
    A = adstock_path(problem, X)
    cells = _Cells(problem)
    n = problem.n
    F = np.array([problem.responses[i].curve(A[i]) for i in range(n)])  # (n, T)
    weekly = problem.weights * F
    after = np.zeros(n)
    if problem.after.shape[1]:
        for i in range(n):
            after[i] = float(
                np.sum(cells.tail[i] * problem.responses[i].curve(A[i, -1] * cells.dpow[i]))
            )
    return weekly, after


def objective_value(problem: PhasedProblem, X: np.ndarray) -> float:
    weekly, after = plan_kpi(problem, X)
    return float(weekly.sum() + after.sum() - problem.base.spend_weight * X.sum())


def marginal_kpi(problem: PhasedProblem, X: np.ndarray) -> np.ndarray:
    """(n, P) d(objective-scale KPI)/d x[i,p] by the adjoint of the adstock recursion."""
    A = adstock_path(problem, X)
    cells = _Cells(problem)
    G = cells.slope(A.ravel()).reshape(problem.n, problem.T)  # f'_{it}(a_it)
    d, k = problem.decay, problem.gain
    lam = np.zeros_like(G)
    nxt = np.zeros(problem.n)
    for t in range(problem.T - 1, -1, -1):
        nxt = G[:, t] + d * nxt
        lam[:, t] = nxt
    out = np.zeros((problem.n, problem.P))
    npw = problem.weeks_per_period
    for p, per in enumerate(problem.calendar.periods):
        out[:, p] = k * lam[:, list(per.weeks)].sum(axis=1) / npw[p]
    return out


# ------------------------------------------------------------------------------------------------
# the LP / MILP as arrays
# ------------------------------------------------------------------------------------------------
@dataclass
class _Model:
    c: np.ndarray
    A: sp.csr_matrix
    lo: np.ndarray
    hi: np.ndarray
    clo: np.ndarray
    chi: np.ndarray
    ints: np.ndarray
    const: float
    rule_rows: np.ndarray  # row index of each rule in problem.rows (-1: left out)
    n_x: int
    n_a: int


def _boxes(problem: PhasedProblem) -> tuple[np.ndarray, np.ndarray]:
    """Upper bounds on x[i,p] and on a[i,t] that every feasible plan keeps (padded 2%, so a
    binding cap is a binding row with a shadow price, not a variable bound)."""
    P = problem.P
    hi_tot = np.array([it.hi for it in problem.base.items])  # already padded by make_problem
    xhi = np.repeat(hi_tot[:, None], P, axis=1)
    for r in problem.rules:
        if r.sense in ("<=", "==") and len(r.coefs) == 1:
            (i, p), a = next(iter(r.coefs.items()))
            if a > 0:
                xhi[i, p] = min(xhi[i, p], 1.02 * r.rhs / a + 1e-9 * (1 + r.rhs))
    xhi = np.maximum(xhi, 0.0)
    ahi = adstock_path(problem, xhi) * 1.0 + 1e-9
    return xhi, np.maximum(ahi, 1e-9)


def _initial_points(problem: PhasedProblem, cells: _Cells, ahi: np.ndarray, n_pieces: int):
    """Breakpoints by curvature over each cell's range, plus a cluster around the adstock of the
    undated plan spread evenly (the steady-state optimum, from the engine: usually within a few
    tens of percent of where the phased optimum puts each cell)."""
    concave = np.array([c.concave for c in cells.curves])
    guess = adstock_path(problem, _undated_plan(problem)).ravel()
    rel = np.array([0.35, 0.6, 0.8, 0.9, 0.97, 1.03, 1.1, 1.25, 1.5, 2.0])
    extra = [tuple(float(v) * rel) if v > 0 else () for v in guess]
    return bank_breakpoints(
        cells,
        np.zeros(len(concave)),
        ahi.ravel(),
        np.where(concave, n_pieces, 2 * n_pieces),
        extra,
    )


_LOCAL = np.array([1e-3, 4e-3, 1.5e-2, 5e-2, 0.15, 0.4])
_AWAY = np.array([1e-2, 0.1, 0.3])


def _refined(coarse, a, r, hi, previous) -> list[np.ndarray]:
    """Per cell: its coarse points, ``a·(1 ± _LOCAL)``, ``r·(1 ± _AWAY)`` when ``r`` is away from
    ``a``, and the previous round's points within ±50% of ``a`` — sorted, clipped to the cell's
    range, near-duplicates merged. One array operation for all cells."""
    N = len(coarse)
    k = max(len(c) for c in coarse)
    kp = max(len(c) for c in previous)
    C0 = np.full((N, k), np.nan)
    Pv = np.full((N, kp), np.nan)
    for c in range(N):
        C0[c, : len(coarse[c])] = coarse[c]
        Pv[c, : len(previous[c])] = previous[c]
    Pv = np.where((Pv >= 0.5 * a[:, None]) & (Pv <= 1.5 * a[:, None]), Pv, np.nan)
    scale = np.maximum(np.abs(a), hi * 1e-3)[:, None]
    loc = a[:, None] + scale * np.concatenate([-_LOCAL, [0.0], _LOCAL])[None, :]
    away = np.abs(r - a) > 1e-3 * np.maximum(a, 1.0)
    rs = np.maximum(np.abs(r), hi * 1e-3)[:, None]
    far = r[:, None] + rs * np.concatenate([-_AWAY, [0.0], _AWAY])[None, :]
    far = np.where(away[:, None], far, np.nan)
    M = np.concatenate([np.zeros((N, 1)), hi[:, None], C0, loc, far], axis=1)
    M = np.where((M >= 0) & (M <= hi[:, None]), M, np.nan)
    M = np.sort(M, axis=1)
    tol = np.maximum(hi, 1.0) * 1e-12
    keep = np.isfinite(M) & np.concatenate(
        [np.ones((N, 1), bool), np.diff(M, axis=1) > tol[:, None]], axis=1
    )
    out = []
    for c in range(N):
        p = M[c, keep[c]]
        p[-1] = hi[c]
        out.append(p)
    return out


def _undated_plan(problem: PhasedProblem) -> np.ndarray:
    """The engine's undated plan (one total per line item) spread evenly over the periods: a
    guess for breakpoints only; each line item's budget share when the engine cannot say."""
    n = problem.n
    share = problem.weeks_per_period / problem.T
    try:
        from optimizer.allocate.engine import solve_problem

        plan = solve_problem(problem.base, tolerance=1e-3, max_rounds=2, diagnose=False)
        if plan.ok:
            per = np.array([li.spend for li in plan.line_items])
            return per[:, None] * share[None, :]
    except Exception:  # noqa: BLE001 - a guess; the even split below will do
        pass
    budget = problem.base.scenario.budget
    tot = budget.amount if budget is not None else float(sum(it.hi for it in problem.base.items))
    per = np.minimum(np.array([unpad_cap(it.hi) for it in problem.base.items]), tot / max(n, 1))
    return per[:, None] * share[None, :]


def _cell_pieces(cells: _Cells, pts: list[np.ndarray], lift: bool = False) -> list[Pieces]:
    k = max(len(p) for p in pts)
    N = len(pts)
    Pm = np.empty((N, k))
    for c, p in enumerate(pts):
        Pm[c, : len(p)] = p
        Pm[c, len(p) :] = p[-1]
    V = cells.value(Pm)
    W = np.diff(Pm, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        S = np.where(W > 0, np.diff(V, axis=1) / np.where(W > 0, W, 1.0), 0.0)
    top = np.max(np.abs(S), axis=1, initial=0.0)
    S = np.where(np.abs(S) < 1e-13 * top[:, None], 0.0, S)
    out = [
        Pieces(pts[c], V[c, : len(pts[c])], W[c, : len(pts[c]) - 1], S[c, : len(pts[c]) - 1])
        for c in range(N)
    ]
    if lift:
        out = lifted(out, piece_errors(cells, out))
    return out


def _gated(pc: Pieces) -> int:
    """How many leading pieces need binaries: up to the last piece whose slope rises."""
    d = np.diff(pc.slopes)
    up = np.flatnonzero(d > 1e-12 * np.maximum(1.0, np.abs(pc.slopes[:-1])))
    return int(up[-1] + 1) if len(up) else 0


def _build(
    problem: PhasedProblem,
    pcs: Sequence[Pieces],
    xhi: np.ndarray,
    *,
    include: set[str] | None = None,
    objective: bool = True,
    tiebreak: bool = True,
    fix: Mapping[int, float] | None = None,
) -> _Model:
    n, T, P = problem.n, problem.T, problem.P
    nx, na = n * P, n * T
    d, k = problem.decay, problem.gain
    npw = problem.weeks_per_period
    pw = np.array(problem.calendar.period_of_week)
    rows_i: list[np.ndarray] = []
    cols_i: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    lo: list[float] = []
    hi: list[float] = []
    r0 = 0
    # adstock rows: a_it - d a_i,t-1 - k/n_p x_ip = d a0 [t = 0]
    cell = np.arange(na)
    i_of, t_of = cell // T, cell % T
    rows_i += [cell, cell[t_of > 0], cell]
    cols_i += [nx + cell, nx + cell[t_of > 0] - 1, i_of * P + pw[t_of]]
    vals += [np.ones(na), -d[i_of[t_of > 0]], -k[i_of] / npw[pw[t_of]]]
    rhs = np.where(t_of == 0, d[i_of] * problem.carry_in[i_of], 0.0)
    lo += rhs.tolist()
    hi += rhs.tolist()
    r0 += na
    # link rows: a_it - Σ_j s_itj = 0
    widths = [pc.widths for pc in pcs]
    counts = np.array([len(w) for w in widths])
    s0 = nx + na
    s_start = s0 + np.concatenate([[0], np.cumsum(counts)[:-1]])
    n_s = int(counts.sum())
    rows_i += [r0 + cell, r0 + np.repeat(cell, counts)]
    cols_i += [nx + cell, s0 + np.arange(n_s)]
    vals += [np.ones(na), -np.ones(n_s)]
    lo += [0.0] * na
    hi += [0.0] * na
    r0 += na
    # rules
    rule_rows = np.full(len(problem.rows), -1)
    for q, r in enumerate(problem.rows):
        if include is not None and r.name not in include:
            continue
        keys = [(i, p) for (i, p), a in r.coefs.items() if a != 0.0]
        rows_i.append(np.full(len(keys), r0))
        cols_i.append(np.array([i * P + p for i, p in keys], dtype=int))
        vals.append(np.array([r.coefs[key] for key in keys], float))
        lo.append(r.rhs if r.sense in (">=", "==") else -np.inf)
        hi.append(r.rhs if r.sense in ("<=", "==") else np.inf)
        rule_rows[q] = r0
        r0 += 1
    # binaries
    nb = 0
    b0 = s0 + n_s
    extra_r: list[tuple[list[int], list[float], float, float]] = []
    width_all = np.concatenate(widths) if n_s else np.zeros(0)
    for c, pc in enumerate(pcs):
        # concave curves (and their tails) need no binaries: even pieces lifted above the curve,
        # whose slopes may no longer fall, give an LP that is a relaxation (a valid bound)
        g = _gated(pc) if not problem.responses[c // T].concave else 0
        if g <= 0 or len(pc.widths) < 2:
            continue
        g = min(g, len(pc.widths) - 1)
        base_col = int(s_start[c])
        for j in range(1, g + 1):
            y = b0 + nb
            nb += 1
            # piece j-1 full before y_j; pieces j.. (all the rest for the last y) gated by y_j
            extra_r.append(([base_col + j - 1, y], [1.0, -float(pc.widths[j - 1])], 0.0, np.inf))
            gated = range(j, len(pc.widths)) if j == g else (j,)
            for jj in gated:
                extra_r.append(([base_col + jj, y], [1.0, -float(pc.widths[jj])], -np.inf, 0.0))
    funded = []
    for (i, p), m in sorted(problem.min_if_funded.items()):
        u = b0 + nb
        nb += 1
        top = float(xhi[i, p])
        extra_r.append(([i * P + p, u], [1.0, -top], -np.inf, 0.0))
        extra_r.append(([i * P + p, u], [1.0, -min(m, top)], 0.0, np.inf))
        funded.append(u)
    for it in problem.base.items:
        i = it.index
        cols = [i * P + p for p in range(P)]
        if it.min_if_funded:
            u = b0 + nb
            nb += 1
            top = float(xhi[i].sum())
            extra_r.append((cols + [u], [1.0] * P + [-top], -np.inf, 0.0))
            extra_r.append((cols + [u], [1.0] * P + [-min(it.min_if_funded, top)], 0.0, np.inf))
        if it.block:
            u = b0 + nb
            nb += 1
            extra_r.append((cols + [u], [1.0] * P + [-float(it.block)], 0.0, 0.0))
    for cs, vs, l_, h_ in extra_r:
        rows_i.append(np.full(len(cs), r0))
        cols_i.append(np.array(cs, dtype=int))
        vals.append(np.array(vs, float))
        lo.append(l_)
        hi.append(h_)
        r0 += 1
    ncol = b0 + nb
    A = sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows_i), np.concatenate(cols_i))), shape=(r0, ncol)
    )
    # columns
    clo = np.zeros(ncol)
    chi = np.concatenate([xhi.ravel() * 1.0, np.full(na, np.inf), width_all, np.ones(nb)])
    ints = np.arange(b0, ncol)
    block_cols = []
    q = b0
    # count binaries again to find block integers (their upper bound is not 1)
    q = b0 + (nb - sum(1 for it in problem.base.items if it.block))
    for it in problem.base.items:
        if it.block:
            block_cols.append(q)
            chi[q] = math.floor(float(xhi[it.index].sum()) / it.block + 1e-9)
            q += 1
    for col, v in (fix or {}).items():
        clo[col] = chi[col] = v
    if fix:
        ints = np.array([], dtype=int)
    c = np.zeros(ncol)
    const = 0.0
    if objective:
        slopes = np.concatenate([pc.slopes for pc in pcs]) if n_s else np.zeros(0)
        c[s0 : s0 + n_s] = slopes
        const = float(sum(pc.values[0] for pc in pcs))
        topslope = float(np.max(np.abs(slopes), initial=0.0))
        eps = 1e-9 * topslope if tiebreak and not problem.base.spend_weight else 0.0
        c[:nx] = -problem.base.spend_weight - eps
    return _Model(c, A, np.array(lo), np.array(hi), clo, chi, ints, const, rule_rows, nx, na)


# ------------------------------------------------------------------------------------------------
# the certificate
# ------------------------------------------------------------------------------------------------
def lagrangian_bound(
    problem: PhasedProblem,
    cells: _Cells,
    mu: np.ndarray,
    duals: Mapping[str, float],
    xhi: np.ndarray,
    ahi: np.ndarray,
) -> tuple[float, np.ndarray]:
    """Upper bound on the smooth optimum from multipliers ``mu`` (n, T) of the adstock rows and
    ``duals`` of the rules (clipped to their valid signs, so any values give a valid bound), and
    each cell's best response (where refinement looks next)."""
    n, T, P = problem.n, problem.T, problem.P
    d, k = problem.decay, problem.gain
    const = float(np.sum(mu[:, 0] * d * problem.carry_in))
    price = np.zeros((n, P))
    for r in problem.rows:
        y = float(duals.get(r.name, 0.0))
        if r.sense == "<=":
            y = max(y, 0.0)
        elif r.sense == ">=":
            y = min(y, 0.0)
        if y == 0.0:
            continue
        const += y * r.rhs
        for (i, p), a in r.coefs.items():
            price[i, p] += y * a
    nxt = np.concatenate([mu[:, 1:], np.zeros((n, 1))], axis=1)
    ga = (mu - d[:, None] * nxt).ravel()
    na = n * T
    hi_a = ahi.ravel()
    concave = np.array([c.concave for c in cells.curves])
    lo_b, hi_b = np.zeros(na), hi_a.copy()
    for _ in range(64):
        mid = 0.5 * (lo_b + hi_b)
        right = cells.slope(mid) > ga
        lo_b = np.where(right, mid, lo_b)
        hi_b = np.where(right, hi_b, mid)
    best = 0.5 * (lo_b + hi_b)
    best_v = cells.value(best) - ga * best
    for cand in (np.zeros(na), hi_a):
        v = cells.value(cand) - ga * cand
        better = v > best_v
        best = np.where(better, cand, best)
        best_v = np.where(better, v, best_v)
    for c in np.flatnonzero(~concave):  # S-curves: a dense grid, plus the bend over one step
        grid = np.unique(
            np.concatenate(
                [np.linspace(0, hi_a[c], 2001), np.geomspace(hi_a[c] * 1e-6, hi_a[c], 401)]
            )
        )
        v = cells.value(grid[None, :], rows=np.array([c]))[0] - ga[c] * grid
        j = int(np.argmax(v))
        step = grid[min(j + 1, len(grid) - 1)] - grid[max(j - 1, 0)]
        curv = float(np.max(np.abs(cells.curvature(grid[None, :], rows=np.array([c]))[0])))
        vv = v[j] + 0.125 * curv * step * step
        if vv > best_v[c]:
            best_v[c], best[c] = vv, grid[j]
    total = float(best_v.sum())
    # decisions: linear in x over its box (zero-or-at-least and blocks only shrink the box)
    gain_x = np.zeros((n, P))
    npw = problem.weeks_per_period
    for p, per in enumerate(problem.calendar.periods):
        gain_x[:, p] = k * mu[:, list(per.weeks)].sum(axis=1) / npw[p]
    gx = gain_x - problem.base.spend_weight - price
    total += float(np.maximum(0.0, gx * xhi).sum())
    bound = const + total
    return (bound if math.isfinite(bound) else math.inf), best.reshape(n, T)


def _lifted_bound(problem, cells, pts, xhi, time_limit, tolerance):
    """The MILP over pieces lifted onto or above every cell's curve: a relaxation, so its dual
    bound bounds the smooth optimum (for S-curves, where the Lagrangian bound keeps a gap)."""
    up = _cell_pieces(cells, pts, lift=True)
    m = _build(problem, up, xhi, tiebreak=False)
    sol = solve_arrays(
        m.c,
        m.A,
        m.lo,
        m.hi,
        m.clo,
        m.chi,
        integers=m.ints,
        time_limit=time_limit,
        gap=max(1e-9, 0.1 * tolerance),
        constant=m.const,
    )
    if sol.status != Status.OPTIMAL or sol.bound is None:
        return None
    return sol.bound, sol.seconds


def kkt_residual(problem: PhasedProblem, X: np.ndarray, prices: np.ndarray) -> float:
    """Largest relative gap between a decision's marginal return and the price the rule duals put
    on it, over decisions strictly inside their range (exact optimum: 0)."""
    m = marginal_kpi(problem, X) - problem.base.spend_weight
    xhi, _ = _boxes(problem)
    inside = (X > 1e-6 * (1 + X)) & (X < unpad_cap(xhi) * (1 - 1e-7))
    for (i, p), mm in problem.min_if_funded.items():
        if abs(X[i, p] - mm) <= 1e-6 * (1 + mm):
            inside[i, p] = False
    for it in problem.base.items:
        if it.block or it.min_if_funded or not problem.responses[it.index].concave:
            inside[it.index] = False
    if not inside.any():
        return 0.0
    r = np.abs(m - prices) / np.maximum(np.abs(prices), 1e-12)
    return float(np.max(r[inside]))


# ------------------------------------------------------------------------------------------------
# solve
# ------------------------------------------------------------------------------------------------
@dataclass
class PhasedSolution:
    X: np.ndarray  # (n, P) period spend, unrounded
    value: float
    bound: float
    gap: float
    duals: dict[str, float]
    prices: np.ndarray  # (n, P) the price of a dollar of each decision under the rule duals
    kkt: float
    status: Status
    rounds: int
    seconds: float
    build_seconds: float
    solve_seconds: float
    pieces: int
    conflicts: tuple[str, ...] = ()
    message: str = ""


def solve_phased(
    problem: PhasedProblem,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    kkt_tolerance: float = DEFAULT_KKT_TOLERANCE,
    max_rounds: int = 8,
    n_pieces: int = DEFAULT_PIECES,
    time_limit: float | None = None,
    diagnose: bool = True,
    min_rounds_for_kkt: int = 3,
) -> PhasedSolution:
    t0 = time.perf_counter()
    cells = _Cells(problem)
    xhi, ahi = _boxes(problem)
    coarse = bank_breakpoints(
        cells,
        np.zeros(problem.n * problem.T),
        ahi.ravel(),
        np.where([c.concave for c in cells.curves], n_pieces, 2 * n_pieces),
    )
    pts = _initial_points(problem, cells, ahi, n_pieces)
    build_s = solve_s = 0.0
    best: PhasedSolution | None = None
    n, P = problem.n, problem.P
    rows = problem.rows

    def left():
        if time_limit is None:
            return None
        return max(0.01, time_limit - (time.perf_counter() - t0))

    rounds = 0
    polish_ok = not problem.needs_binaries
    for rounds in range(1, max_rounds + 1):  # noqa: B007
        tb = time.perf_counter()
        pcs = _cell_pieces(cells, pts)
        m = _build(problem, pcs, xhi)
        build_s += time.perf_counter() - tb
        sol = solve_arrays(
            m.c,
            m.A,
            m.lo,
            m.hi,
            m.clo,
            m.chi,
            integers=m.ints,
            time_limit=left(),
            gap=max(1e-9, 0.1 * tolerance),
            constant=m.const,
        )
        solve_s += sol.seconds
        if sol.status == Status.INFEASIBLE:
            conflicts, message = ((), "the constraints cannot all hold")
            if diagnose:
                conflicts, message = diagnose_phased(problem, pcs, xhi)
            return PhasedSolution(
                np.zeros((n, P)),
                0.0,
                0.0,
                math.inf,
                {},
                np.zeros((n, P)),
                0.0,
                Status.INFEASIBLE,
                rounds,
                time.perf_counter() - t0,
                build_s,
                solve_s,
                0,
                conflicts,
                message,
            )
        if sol.status not in (Status.OPTIMAL, Status.TIME_LIMIT):
            return PhasedSolution(
                np.zeros((n, P)),
                0.0,
                0.0,
                math.inf,
                {},
                np.zeros((n, P)),
                0.0,
                sol.status,
                rounds,
                time.perf_counter() - t0,
                build_s,
                solve_s,
                0,
                (),
                f"the solver stopped: {sol.status.value}",
            )
        z = sol.x
        duals = sol.duals
        if len(m.ints):
            # duals from the LP with the integer choices fixed
            fixed = {int(c): float(round(z[c])) for c in m.ints}
            tb = time.perf_counter()
            lp = _build(problem, pcs, xhi, fix=fixed)
            build_s += time.perf_counter() - tb
            lsol = solve_arrays(
                lp.c, lp.A, lp.lo, lp.hi, lp.clo, lp.chi, time_limit=left(), constant=lp.const
            )
            solve_s += lsol.seconds
            if lsol.status == Status.OPTIMAL:
                z, duals = lsol.x, lsol.duals
        X = np.maximum(z[: n * P].reshape(n, P), 0.0)
        value = objective_value(problem, X)
        rule_duals = {
            r.name: float(duals[m.rule_rows[q]]) for q, r in enumerate(rows) if m.rule_rows[q] >= 0
        }
        mu = duals[: n * problem.T].reshape(n, problem.T)
        bound, responses = lagrangian_bound(problem, cells, mu, rule_duals, xhi, ahi)
        pol = None
        if polish_ok:
            tp = time.perf_counter()
            pol = polish_phased(problem, X, rule_duals, deadline=tp + max(2.0, tp - t0))
            # a polish that fails once (typically: hill curves of shape < 1, whose infinite slope
            # at zero defeats Newton's model) is not tried again; refinement carries on
            polish_ok = pol is not None
        if pol is not None and _violation(problem, pol[0]) <= 1e-9:
            v_pol = objective_value(problem, pol[0])
            if v_pol >= value - 1e-12 * abs(value):
                X, rule_duals, value = pol[0], pol[1], v_pol
                b_pol, _ = lagrangian_bound(
                    problem, cells, adjoint(problem, X), rule_duals, xhi, ahi
                )
                bound = min(bound, b_pol)
        if problem.needs_binaries and (bound - value) / max(abs(value), 1e-12) > tolerance:
            lb = _lifted_bound(problem, cells, pts, xhi, left(), tolerance)
            if lb is not None:
                solve_s += lb[1]
                bound = min(bound, lb[0])
        prices = _prices(problem, rule_duals)
        kkt = kkt_residual(problem, X, prices)
        gap = max(0.0, (bound - value) / max(abs(value), 1e-12))
        npieces = int(sum(len(pc.widths) for pc in pcs))
        cand = PhasedSolution(
            X,
            value,
            bound,
            gap,
            rule_duals,
            prices,
            kkt,
            sol.status,
            rounds,
            time.perf_counter() - t0,
            build_s,
            solve_s,
            npieces,
        )
        if best is None or value > best.value:
            best = cand
        if bound < best.bound:
            best.bound = bound
        best.gap = max(0.0, (best.bound - best.value) / max(abs(best.value), 1e-12))
        # certified: the gap is within the tolerance. The KKT residual (how far marginal returns
        # are from the duals' prices) is reported; it is what the shadow prices' accuracy rests
        # on, so refinement continues while it is large and rounds remain
        if sol.status == Status.TIME_LIMIT or (
            best.gap <= tolerance and (kkt <= kkt_tolerance or rounds >= min_rounds_for_kkt)
        ):
            break
        if time_limit is not None and time.perf_counter() - t0 >= time_limit:
            best.status = Status.TIME_LIMIT
            break
        # next round: the coarse pieces, short pieces around each cell's solution, and some
        # around its best response to the duals when that is elsewhere (earlier rounds' local
        # points are dropped: the LP stays the same size from round to round)
        pts = _refined(
            coarse, adstock_path(problem, X).ravel(), responses.ravel(), ahi.ravel(), pts
        )
    assert best is not None
    if best.status == Status.OPTIMAL and not best.gap <= tolerance:
        # out of rounds with the gap still open: the best plan so far, said to be so (issue 14:
        # "optimal" means certified within the tolerance)
        best.status = Status.NOT_CERTIFIED
        best.message = (
            f"stopped after {rounds} rounds with the gap at {best.gap:.2e} "
            f"(tolerance {tolerance:.0e}): the plan holds every rule but is not certified optimal"
        )
    best.rounds = rounds
    best.seconds = time.perf_counter() - t0
    best.build_seconds, best.solve_seconds = build_s, solve_s
    return best


def _violation(problem: PhasedProblem, X: np.ndarray) -> float:
    """Largest violation of any rule (relative to its size) or of x >= 0."""
    worst = float(max(0.0, -X.min(initial=0.0)))
    for r in problem.rows:
        lhs = sum(a * X[i, p] for (i, p), a in r.coefs.items())
        v = lhs - r.rhs if r.sense == "<=" else r.rhs - lhs if r.sense == ">=" else abs(lhs - r.rhs)
        worst = max(worst, v / max(1.0, abs(r.rhs)))
    return worst


def _prices(problem: PhasedProblem, duals: Mapping[str, float]) -> np.ndarray:
    """(n, P): Σ_r y_r · coef of x[i,p] in rule r — the price of a decision's dollar."""
    out = np.zeros((problem.n, problem.P))
    for r in problem.rows:
        y = duals.get(r.name, 0.0)
        if y:
            for (i, p), a in r.coefs.items():
                out[i, p] += y * a
    return out


# ------------------------------------------------------------------------------------------------
# infeasibility: which rules cannot hold together
# ------------------------------------------------------------------------------------------------
def _feasible(problem, pcs, xhi, names: list[str]) -> bool:
    m = _build(problem, pcs, xhi, include=set(names), objective=False)
    sol = solve_arrays(m.c, m.A, m.lo, m.hi, m.clo, m.chi, integers=m.ints)
    return sol.status != Status.INFEASIBLE


def diagnose_phased(problem: PhasedProblem, pcs, xhi) -> tuple[tuple[str, ...], str]:
    """A small set of rules that cannot all hold (deletion filter, as ``diagnose_infeasible``)."""
    core = [r.name for r in problem.rows]
    if not _feasible(problem, pcs, xhi, []):  # pragma: no cover - the box alone is feasible
        return (), "the constraints cannot all hold"
    i = 0
    chunk = max(1, len(core) // 4)
    while i < len(core):
        trial = core[:i] + core[i + chunk :]
        if not _feasible(problem, pcs, xhi, trial):
            core = trial
        elif chunk > 1:
            chunk = max(1, chunk // 2)
        else:
            i += 1
    by = {r.name: r for r in problem.rows}
    labels = [by[c].label for c in core]
    if not labels:
        return (), "the constraints cannot all hold"
    if len(labels) == 1:
        text = f"{labels[0]} cannot hold"
    elif len(labels) == 2:
        text = f"{labels[0]} and {labels[1]} cannot both hold"
    else:
        text = f"{', '.join(labels[:-1])} and {labels[-1]} cannot all hold"
    return tuple(core), text


# ------------------------------------------------------------------------------------------------
# the plan
# ------------------------------------------------------------------------------------------------
def phased_plan(problem: PhasedProblem, sol: PhasedSolution, solver: str = "highs") -> Plan:
    """The solution as a ``Plan`` whose line items and totals carry their periods."""
    base = problem.base
    sc = base.scenario
    cal = problem.calendar
    common = dict(
        scenario=sc.name,
        objective=sc.objective,
        kpi=base.kpi,
        horizon_weeks=cal.weeks,
        budget=None if sc.budget is None else sc.budget.amount,
        solver=solver,
        build_seconds=sol.build_seconds,
        solve_seconds=sol.solve_seconds,
        source=sc.source,
        stages=base.stages,
        markets=base.markets,
        start=cal.start.isoformat(),
        phasing=cal.phasing,
    )
    if sol.status not in (Status.OPTIMAL, Status.TIME_LIMIT):
        return Plan(status=sol.status.value, conflicts=sol.conflicts, message=sol.message, **common)
    n, P = problem.n, problem.P
    X = _repair_cents(problem, round_cents(sol.X.ravel()).reshape(n, P))
    weekly, after = plan_kpi(problem, X)
    scale = problem.scale
    kpi_weeks = weekly / scale[:, None]  # the KPI itself (weights: effectiveness × discount)
    kpi_after = after / scale
    marg = marginal_kpi(problem, X) / scale[:, None]
    periods = cal.periods
    results = []
    totals = X.sum(axis=1)
    for r in problem.rows:
        lhs = float(sum(a * X[i, p] for (i, p), a in r.coefs.items()))
        if r.sense == "<=":
            slack = r.rhs - lhs
        elif r.sense == ">=":
            slack = lhs - r.rhs
        else:
            slack = -abs(lhs - r.rhs)
        tol = (
            0.015
            + 1e-7 * abs(r.rhs)
            + (1e-7 * float(totals.sum()) if r.kind.endswith("share") else 0.0)
        )
        sp_ = sol.duals.get(r.name)
        results.append(
            ConstraintResult(
                r.name,
                r.kind,
                r.subject,
                r.label,
                r.sense,
                float(r.rhs),
                lhs,
                float(slack),
                bool(abs(slack) <= tol),
                None if sp_ is None else float(sp_),
            )
        )
    by_item: dict[int, list[str]] = {i: [] for i in range(n)}
    short = {
        "tp_min": "min",
        "tp_max": "max",
        "tp_lock": "lock",
        "change_up": "change_limit",
        "change_down": "change_limit",
    }
    for r, res in zip(problem.rows, results, strict=True):
        # rules on all spend (the budget, a period's total) bind every line item: the review
        # names them once, not on each line
        if not res.binding or r.kind == "budget" or r.kind.startswith("period_"):
            continue
        for i in sorted({i for (i, _p), a in r.coefs.items() if a > 0}):
            name = short.get(r.kind, r.name)
            if name not in by_item[i]:
                by_item[i].append(name)
    items = []
    for it in base.items:
        i = it.index
        s = float(round(totals[i], 2))
        k = float(kpi_weeks[i].sum() + kpi_after[i])
        pa = tuple(
            PeriodAmount(
                per.label,
                per.start.isoformat(),
                per.n_weeks,
                float(X[i, p]),
                float(kpi_weeks[i, list(per.weeks)].sum()),
                float(marg[i, p]),
            )
            for p, per in enumerate(periods)
        )
        items.append(
            LineItem(
                id=it.id,
                stage=it.stage,
                spend=s,
                kpi=k,
                roi=k / s if s > 0 else None,
                marginal_roi=float(marg[i].max()) if P else 0.0,
                binding=tuple(by_item[i]),
                weekly_spend=s / cal.weeks,
                lower=it.lo,
                upper=unpad_cap(it.hi),
                reduced_cost=float((marg[i] * scale[i] - sol.prices[i] - base.spend_weight).max()),
                periods=pa,
                kpi_after=float(kpi_after[i]),
                market=it.market,  # contract 8: a phased plan over markets
                owner=it.owner,
                shares=it.market_shares(),
                market_kpi={it.market: k} if it.market is not None else {},
            )
        )
    tot_periods = tuple(
        PeriodAmount(
            per.label,
            per.start.isoformat(),
            per.n_weeks,
            float(round(X[:, p].sum(), 2)),
            float(kpi_weeks[:, list(per.weeks)].sum()),
        )
        for p, per in enumerate(periods)
    )
    status = sol.status.value
    return Plan(
        status=status,
        line_items=tuple(items),
        constraints=tuple(results),
        objective_value=sol.value,
        bound=sol.bound,
        gap=sol.gap,
        rounds=sol.rounds,
        pieces=sol.pieces,
        periods=tot_periods,
        kpi_after=float(kpi_after.sum()),
        extras={"kkt_residual": sol.kkt},
        **common,
    )


def _repair_cents(problem: PhasedProblem, X: np.ndarray) -> np.ndarray:
    """Rules hold after rounding to cents: a row the rounding pushed over (or under) by a cent or
    two gets them moved to (or from) a decision whose rules all have room — the same
    touchpoint's other periods first, then any — so the totals stay as rounded; when no decision
    has room, the cents are left unspent."""
    X = X.copy()
    rows = problem.rows
    of_cell: dict[tuple[int, int], list[int]] = {}
    for k, r in enumerate(rows):
        for ip in r.coefs:
            of_cell.setdefault(ip, []).append(k)

    def slack(k: int) -> tuple[float, float]:
        """(room below the cap, room above the floor) of row k at X."""
        r = rows[k]
        lhs = sum(a * X[ip] for ip, a in r.coefs.items())
        up = r.rhs - lhs if r.sense in ("<=", "==") else math.inf
        down = lhs - r.rhs if r.sense in (">=", "==") else math.inf
        return up, down

    def fits(ip: tuple[int, int], delta: float) -> bool:
        if X[ip] + delta < -1e-6:
            return False
        for k in of_cell.get(ip, []):
            up, down = slack(k)
            change = rows[k].coefs[ip] * delta
            if change > 0 and change > up + 1e-6 or change < 0 and -change > down + 1e-6:
                return False
        return True

    def candidates(i: int):
        same = [(i, q) for q in range(problem.P)]
        rest = [(j, q) for j in range(problem.n) if j != i for q in range(problem.P)]
        return same + rest

    for _ in range(200):
        bad = None
        for k in range(len(rows)):
            up, down = slack(k)
            if up < -1e-6 or down < -1e-6:
                bad = (k, up, down)
                break
        if bad is None:
            return X
        k, up, down = bad
        r = rows[k]
        members = [ip for ip, a in r.coefs.items() if a > 0]
        if not members:
            return X
        if up < -1e-6:  # over a cap: take cents out of its largest member
            ip = max(members, key=lambda c: X[c])
            take = min(math.ceil(-up / r.coefs[ip] * 100 - 1e-6) / 100.0, float(X[ip]))
            X[ip] = round(float(X[ip]) - take, 2)
            for c in candidates(ip[0]):
                if c not in r.coefs and fits(c, take):
                    X[c] = round(float(X[c]) + take, 2)
                    break
        else:  # under a floor: put cents into its smallest member
            ip = min(members, key=lambda c: X[c])
            give = math.ceil(-down / r.coefs[ip] * 100 - 1e-6) / 100.0
            X[ip] = round(float(X[ip]) + give, 2)
            for c in candidates(ip[0]):
                if c not in r.coefs and fits(c, -give):
                    X[c] = round(float(X[c]) - give, 2)
                    break
    return X


def period_rule(
    problem_like: tuple[int, Calendar],
    name: str,
    kind: str,
    subject: str,
    sense: str,
    rhs: float,
    items: Sequence[int],
    label: str,
    period_label: str,
) -> PhasedRow:
    """A rule on the spend of ``items`` in the weeks of ``period_label`` (any week, month or
    quarter label): each decision counts by the share of its weeks that fall in the label."""
    _n, cal = problem_like
    weeks = set(cal.weeks_of(period_label))
    coefs: dict[tuple[int, int], float] = {}
    for p, per in enumerate(cal.periods):
        share = len(weeks.intersection(per.weeks)) / per.n_weeks
        if share > 0:
            for i in items:
                coefs[(i, p)] = coefs.get((i, p), 0.0) + share
    return PhasedRow(name, kind, subject, sense, float(rhs), coefs, label)


# ------------------------------------------------------------------------------------------------
# polish: the smooth problem's exact optimum for the LP's active set
# ------------------------------------------------------------------------------------------------
def _jacobians(problem: PhasedProblem) -> np.ndarray:
    """(n, T, P): d a[i,t] / d x[i,p]."""
    n, T, P = problem.n, problem.T, problem.P
    d, k = problem.decay, problem.gain
    pw = np.array(problem.calendar.period_of_week)
    M = np.zeros((T, P))
    M[np.arange(T), pw] = 1.0 / problem.weeks_per_period[pw]
    lag = np.arange(T)[:, None] - np.arange(T)[None, :]
    J = np.zeros((n, T, P))
    for i in range(n):
        with np.errstate(invalid="ignore"):
            L = np.where(lag >= 0, k[i] * d[i] ** np.maximum(lag, 0), 0.0)
        J[i] = L @ M
    return J


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
        f1 = cells.slope(Aa.ravel()).reshape(n, problem.T)
        f2 = cells.curvature(Aa.ravel()).reshape(n, problem.T)
        # a cell at zero adstock is fed by no free decision (those are positive): its infinite
        # slope (hill shape < 1) only says that its decisions want freeing
        f1 = np.where(np.isfinite(f1), f1, 1e300)
        f2 = np.where(np.isfinite(f2), f2, 0.0)
        g = np.einsum("itp,it->ip", J, f1).ravel() - sw
        H = [J[i].T @ (f2[i][:, None] * J[i]) for i in range(n)]
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
    d, k = float(problem.decay[i]), float(problem.gain[i])
    pw = np.array(problem.calendar.period_of_week)
    npw = problem.weeks_per_period
    rows = i * problem.T + np.arange(problem.T)

    def marginal(v: float) -> float:
        xi = X[i].copy()
        xi[p] = v
        w = xi[pw] / npw[pw]
        a = np.empty(problem.T)
        prev = float(problem.carry_in[i])
        for t in range(problem.T):
            prev = k * w[t] + d * prev
            a[t] = prev
        g = cells.slope(a, rows=rows)
        lam = 0.0
        out = 0.0
        for t in range(problem.T - 1, -1, -1):
            lam = g[t] + d * lam
            if pw[t] == p:
                out += lam
        return k * out / npw[p] - problem.base.spend_weight

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


def adjoint(problem: PhasedProblem, X: np.ndarray) -> np.ndarray:
    """(n, T) μ[i,t] = d(objective)/d(a[i,t] held as a rule): the exact multipliers of the adstock
    rows at plan ``X`` (what the Lagrangian bound uses after the polish). An infinite slope (a
    cell at zero on a hill curve of shape < 1) is capped: any multipliers give a valid bound."""
    A = adstock_path(problem, X)
    G = _Cells(problem).slope(A.ravel()).reshape(problem.n, problem.T)
    G = np.where(np.isfinite(G), G, 1e12 * max(1.0, float(np.max(G[np.isfinite(G)], initial=1.0))))
    d = problem.decay
    mu = np.zeros_like(G)
    nxt = np.zeros(problem.n)
    for t in range(problem.T - 1, -1, -1):
        nxt = G[:, t] + d * nxt
        mu[:, t] = nxt
    return mu


def carryover(spend_before: Sequence[float], decay: float, gain: float = 1.0) -> float:
    """The adstock ``a_0`` left by weekly spend before ``start`` (oldest first, the last entry the
    week just before): ``a_t = gain · x_t + decay · a_{t-1}`` from zero."""
    a = 0.0
    for v in spend_before:
        a = gain * float(v) + decay * a
    return a


# ------------------------------------------------------------------------------------------------
# from a scenario
# ------------------------------------------------------------------------------------------------
def carry_in_from_spend(
    spend: Mapping[str, Mapping[dt.date, float]],
    responses: Sequence[TouchpointResponse],
    start: dt.date,
) -> np.ndarray:
    """a_0 per touchpoint from its weekly spend by date before ``start`` (a week with no row
    counts as no spend: the carry-over of the weeks before it decays through it)."""
    out = np.zeros(len(responses))
    for i, r in enumerate(responses):
        by_date = spend.get(r.id) or {}
        back: dict[int, float] = {}
        for d, v in by_date.items():
            days = (start - d).days
            if days > 0:
                k = (days + 6) // 7  # 1: the week just before start
                back[k] = back.get(k, 0.0) + float(v)
        if not back:
            continue
        K = min(max(back), MAX_AFTER_WEEKS)
        series = [back.get(k, 0.0) for k in range(K, 0, -1)]
        d_ = 0.0 if r.adstock is None else r.adstock.decay
        gain = (
            1.0
            if r.adstock is None or not r.adstock.normalize
            else 1.0 / C.geometric_steady_factor(d_, None, False)
        )
        out[i] = carryover(series, d_, gain)
    return out


def phased_problem(
    scenario,
    model,
    *,
    stages: tuple[str, ...] | None = None,
    extra_models=None,
    carry_in: Mapping[str, float] | None = None,
) -> PhasedProblem:
    """A dated, phased scenario (contract 7) on a model: line items touchpoint × period, every
    rule of the registry over them (totals over the periods, period rules by label), carry-over
    before ``start`` from ``carry_in`` (touchpoint → a_0) or the scenario's ``carryover.before``
    file, seasonal effectiveness from the model."""
    from optimizer.allocate.problem import make_problem
    from optimizer.scenario.rules import LineItemRef, LineItems, build_rows

    cal = scenario.calendar
    if cal is None or scenario.phasing == "none":
        raise ScenarioError(
            "not a phased scenario: give 'start' and 'phasing'", path=scenario.source
        )
    base = make_problem(scenario, model, stages, extra_models=extra_models)
    if base.markets:
        raise ScenarioError(
            "phased plans over markets are not supported yet",
            path=scenario.source,
            field="phasing",
        )
    P = len(cal.periods)
    refs = [
        LineItemRef(i * P + p, it.id, it.stage, period=per.label, owner=it.owner)
        for i, it in enumerate(base.items)
        for p, per in enumerate(cal.periods)
    ]
    view = LineItems(
        refs, kpi=base.kpi, kpi_touchpoints={base.kpi: frozenset(it.id for it in base.items)}
    )
    sink = build_rows(scenario, view)
    rows = [
        PhasedRow(
            c.name,
            c.kind,
            c.subject,
            c.sense,
            c.rhs,
            {divmod(i, P): a for i, a in c.coefs.items()},
            c.label,
        )
        for c in sink.all_rows()
    ]
    mif = {
        divmod(r.item, P): r.amount
        for r in sink.all_item_rules()
        if r.kind == "tp_period_min_if_funded"
    }
    responses = [model.touchpoints[it.id] for it in base.items]
    if carry_in is not None:
        a0 = np.array([float(carry_in.get(r.id, 0.0)) for r in responses])
    elif scenario.carryover is not None and scenario.carryover.before:
        from optimizer.io.spend_tables import read_weekly_spend

        spend = read_weekly_spend(
            scenario.carryover.before, [r.id for r in responses], what="carry-over"
        )
        a0 = carry_in_from_spend(spend, responses, cal.start)
    else:
        a0 = None
    eff = None
    if any(r.effectiveness is not None for r in responses):
        eff = np.array(
            [r.effectiveness if r.effectiveness is not None else (1.0,) * 52 for r in responses]
        )
    return make_phased_problem(
        base,
        responses,
        cal,
        carry_in=a0,
        effectiveness=eff,
        discount_rate=float(scenario.discount_rate),
        after=bool(scenario.carryover is not None and scenario.carryover.after),
        rules=rows,
        min_if_funded=mif,
        rules_complete=True,
    )


def allocate_phased(
    scenario,
    model,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    time_limit: float | None = None,
    stages: tuple[str, ...] | None = None,
    extra_models=None,
    diagnose: bool = True,
    carry_in: Mapping[str, float] | None = None,
    max_rounds: int = 8,
) -> Plan:
    """Optimise a dated, phased scenario: the certified ``Plan`` with its periods."""
    problem = phased_problem(
        scenario, model, stages=stages, extra_models=extra_models, carry_in=carry_in
    )
    sol = solve_phased(
        problem,
        tolerance=tolerance,
        time_limit=time_limit,
        diagnose=diagnose,
        max_rounds=max_rounds,
    )
    return phased_plan(problem, sol)
