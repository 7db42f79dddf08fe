"""The phased problem (contract 7) and its response week by week: the problem's data, the
adstock path of a plan, each cell's curve, the plan's KPI and its marginal returns by the adjoint of
the adstock recursion. The model of the problem is in ``optimizer.allocate.phased``'s docstring."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import scipy.sparse as sp

from optimizer.allocate.problem import AllocationProblem
from optimizer.allocate.solve import Status
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
class PhasedKpiRow:
    """A rule on the plan's KPI: ``Σ coefs[i] · KPI_i(x)  sense  rhs``, with ``KPI_i`` line item
    i's KPI as the plan reports it (its weeks, carry-over, seasonal effectiveness and discount
    included, plus what it earns after the horizon with ``after``): linear in the cells' pieces."""

    name: str
    kind: str  # kpi_floor, kpi_target
    subject: str
    sense: str
    rhs: float
    coefs: Mapping[int, float]  # line item → coefficient
    label: str


@dataclass(frozen=True)
class PhasedProblem:
    """A scenario's allocation problem on its calendar; see the module docstring."""

    base: AllocationProblem  # line items, rules on horizon totals, objective
    calendar: Calendar
    #: per adstock stream (see ``streams``; one per line item unless there are national buys)
    responses: tuple[TouchpointResponse, ...]
    carry_in: np.ndarray  # (ns,) adstock a[j,0] before the first week, per stream
    effectiveness: np.ndarray  # (ns, T) seasonal multipliers of each week
    discount: np.ndarray  # (T,) weight of each week's KPI
    after: np.ndarray  # (ns, S) weights of the weeks after the horizon (S = 0: not counted)
    rules: tuple[PhasedRow, ...] = ()
    min_if_funded: Mapping[tuple[int, int], float] = field(default_factory=dict)
    #: the rules are every row (built by the registry over touchpoint × period line items);
    #: otherwise the base problem's rules on totals are spread over the periods first
    rules_complete: bool = False
    #: rules on the KPI (a KPI floor, min_spend's target)
    kpi_rows: tuple[PhasedKpiRow, ...] = ()
    #: the registry's rows the rules came from, over line items touchpoint × period (index
    #: ``i * P + p``): what prices a binding rule in a comparison (empty when built by hand)
    sources: tuple[Any, ...] = ()
    #: the adstock streams, as (line item, share of its spend, market) per stream: a national buy
    #: (contract 8) is one decision per period whose spend feeds one stream per market (its share,
    #: that market's curve, decay and carry-over); empty: one stream per line item, share 1
    streams: tuple[tuple[int, float, str | None], ...] = ()

    @property
    def objective_weight(self) -> float:
        """The KPI's weight in the objective: 1 when maximising, 0 for ``min_spend`` (solved as
        maximising ``-spend`` under its KPI target)."""
        return 1.0 if self.base.sense == "max" else 0.0

    @property
    def n(self) -> int:
        return len(self.base.items)

    @property
    def ns(self) -> int:
        """The number of adstock streams (``n`` without national buys)."""
        return len(self.responses)

    @cached_property
    def stream_item(self) -> np.ndarray:
        """(ns,) the line item (decision row) feeding each stream."""
        if not self.streams:
            return _frozen(np.arange(self.n))
        return _frozen(np.array([i for i, _s, _m in self.streams], dtype=int))

    @cached_property
    def stream_share(self) -> np.ndarray:
        """(ns,) the share of its line item's spend each stream receives."""
        if not self.streams:
            return _frozen(np.ones(self.n))
        return _frozen(np.array([float(s) for _i, s, _m in self.streams]))

    @property
    def one_stream_each(self) -> bool:
        """One stream per line item, in order, share 1 (no national buy)."""
        return not self.streams

    def to_items(self, a: np.ndarray) -> np.ndarray:
        """Per-stream values (first axis) summed per line item."""
        if self.one_stream_each:
            return a
        out = np.zeros((self.n, *a.shape[1:]))
        np.add.at(out, self.stream_item, a)
        return out

    @property
    def T(self) -> int:  # noqa: N802 - the horizon in weeks, as in the docs
        return self.calendar.weeks

    @property
    def P(self) -> int:  # noqa: N802
        return len(self.calendar.periods)

    @cached_property
    def decay(self) -> np.ndarray:
        return _frozen(
            np.array([0.0 if r.adstock is None else r.adstock.decay for r in self.responses])
        )

    @cached_property
    def gain(self) -> np.ndarray:
        """k_i: the weight of a week's own spend in its adstock (1, or 1/Σweights when normalised)."""
        return _frozen(
            np.array(
                [
                    1.0
                    if r.adstock is None or not r.adstock.normalize
                    else 1.0 / C.geometric_steady_factor(r.adstock.decay, None, False)
                    for r in self.responses
                ]
            )
        )

    @cached_property
    def scale(self) -> np.ndarray:
        """(n,) objective units per KPI unit of each line item."""
        return _frozen(np.array([it.curve.scale for it in self.base.items]))

    @cached_property
    def stream_scale(self) -> np.ndarray:
        """(ns,) objective units per KPI unit of each stream (its line item's)."""
        return self.scale if self.one_stream_each else _frozen(self.scale[self.stream_item])

    @cached_property
    def weights(self) -> np.ndarray:
        """c[j,t]: objective units per unit of ``F`` in each cell (scale × effectiveness × discount)."""
        return _frozen(self.stream_scale[:, None] * self.effectiveness * self.discount[None, :])

    @cached_property
    def needs_binaries(self) -> bool:
        return (
            any(not r.concave for r in self.responses)
            or bool(self.min_if_funded)
            or any(it.min_if_funded or it.block for it in self.base.items)
        )

    @cached_property
    def weeks_per_period(self) -> np.ndarray:
        return _frozen(np.array([p.n_weeks for p in self.calendar.periods], float))

    @cached_property
    def row_matrix(self) -> RowMatrix:
        """The rules as one sparse matrix (built once; ``rows`` stay the named rules)."""
        rows = self.rows
        P = self.P
        ri: list[np.ndarray] = []
        ci: list[np.ndarray] = []
        vv: list[np.ndarray] = []
        for q, r in enumerate(rows):
            keys = list(r.coefs.keys())
            ri.append(np.full(len(keys), q, dtype=int))
            ci.append(np.array([i * P + p for i, p in keys], dtype=int))
            vv.append(np.fromiter(r.coefs.values(), float, len(keys)))
        G = sp.csr_matrix(
            (
                np.concatenate(vv) if vv else np.zeros(0),
                (
                    np.concatenate(ri) if ri else np.zeros(0, int),
                    np.concatenate(ci) if ci else np.zeros(0, int),
                ),
            ),
            shape=(len(rows), self.n * P),
        )
        G.eliminate_zeros()
        rhs = _frozen(np.array([float(r.rhs) for r in rows]))
        sense = _frozen(np.array([r.sense for r in rows], dtype=object))
        return RowMatrix(G, rhs, sense)

    @cached_property
    def period_of_week(self) -> np.ndarray:
        """(T,) the period of each week."""
        return _frozen(np.array(self.calendar.period_of_week, dtype=int))

    @cached_property
    def rows(self) -> tuple[PhasedRow, ...]:
        """Every rule as a row on period spend: the horizon-total rules spread over the periods,
        then the period rules."""
        if self.rules_complete:
            return self.rules
        out = []
        for c in self.base.constraints:
            if c.on_kpi:
                continue
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


def _frozen(a: np.ndarray) -> np.ndarray:
    """``a``, read-only: the problem's cached arrays are shared by every caller."""
    a.flags.writeable = False
    return a


@dataclass(frozen=True)
class RowMatrix:
    """Every rule as a sparse row on the decisions (column ``i·P + p``)."""

    G: sp.csr_matrix  # (rules, n·P)
    rhs: np.ndarray
    sense: np.ndarray  # "<=", ">=" or "==" per rule

    def lhs(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self.G @ np.asarray(X, float).ravel())


def week_discount(weeks: int, rate: float, offset: int = 0) -> np.ndarray:
    """``(1 + r)^(-t/52)`` for weeks t = offset+1 .. offset+weeks."""
    t = np.arange(offset + 1, offset + weeks + 1, dtype=float)
    return (1.0 + float(rate)) ** (-t / 52.0)


def make_phased_problem(
    base: AllocationProblem,
    responses: Sequence[TouchpointResponse],
    calendar: Calendar,
    *,
    carry_in: Sequence[float] | np.ndarray | None = None,
    effectiveness: np.ndarray | None = None,
    discount_rate: float = 0.0,
    after: bool = False,
    rules: Sequence[PhasedRow] = (),
    min_if_funded: Mapping[tuple[int, int], float] | None = None,
    rules_complete: bool = False,
    kpi_rows: Sequence[PhasedKpiRow] = (),
    sources: Sequence[Any] = (),
    streams: Sequence[tuple[int, float, str | None]] = (),
) -> PhasedProblem:
    """A phased problem from a (calendar-free) allocation problem and the calendar's inputs.

    ``responses``, ``carry_in`` and ``effectiveness`` are per adstock stream: one per line item
    (``streams`` empty), or, with national buys, one per ``streams`` entry (line item, share of
    its spend, market). ``effectiveness`` is ``(ns, 52)`` multipliers by week of year (or
    ``(ns, T)`` by horizon week); None means flat."""
    other = next((c for c in base.constraints if c.on_kpi and c.kpi not in (None, base.kpi)), None)
    if other is not None:
        raise ScenarioError(
            f"{other.label}: floors on another KPI ({other.kpi}) are not supported on phased plans "
            f"yet (its model's adstock differs); plan without 'phasing', or floor {base.kpi}",
            path=base.scenario.source,
            field="kpi_floors",
        )
    composite = base.scenario.objective in ("max_value", "max_net") and bool(
        base.scenario.kpi_values
    )
    for it in base.items:
        if composite or (it.curve.parts and it.split is None):
            raise ScenarioError(
                "kpi_values (several KPIs' worth) are not supported on phased plans yet",
                path=base.scenario.source,
                field="kpi_values",
            )
    if not rules_complete:
        kpi_rows = (
            *kpi_rows,
            *(
                PhasedKpiRow(c.name, c.kind, c.subject, c.sense, c.rhs, dict(c.coefs), c.label)
                for c in base.constraints
                if c.on_kpi
            ),
        )
    n, T = len(responses), calendar.weeks  # n: streams here
    if streams:
        if len(streams) != n:
            raise ValueError(f"{len(streams)} streams but {n} responses")
    elif n != len(base.items):
        raise ValueError(f"{n} responses for {len(base.items)} line items")
    woy = np.array(calendar.woy()) - 1
    eff_year: np.ndarray | None
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
            eff_year = None
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
        tuple(kpi_rows),
        tuple(sources),
        tuple((int(i), float(sh), m) for i, sh, m in streams),
    )


# ------------------------------------------------------------------------------------------------
# the response of a plan, week by week
# ------------------------------------------------------------------------------------------------
def weekly_spend(problem: PhasedProblem, X: np.ndarray) -> np.ndarray:
    """(ns, T) weekly spend into each stream of period spend ``X`` (n, P)."""
    pw = problem.period_of_week
    if problem.one_stream_each:
        return X[:, pw] / problem.weeks_per_period[pw][None, :]
    Xs = problem.stream_share[:, None] * np.asarray(X, float)[problem.stream_item]
    return Xs[:, pw] / problem.weeks_per_period[pw][None, :]


def adstock_path(problem: PhasedProblem, X: np.ndarray) -> np.ndarray:
    """(ns, T) adstock ``a[j,t]`` of each stream under period spend ``X`` with the carry-over in."""
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
        n, T = problem.ns, problem.T  # cells are stream × week
        self.n, self.T = n, T
        self.w = problem.weights  # (n, T)
        self.sat = [r.curve for r in problem.responses]
        d = problem.decay
        S = problem.after.shape[1]
        # tail weight of F(d^s a) per s, scaled like the objective
        self.tail = problem.after * problem.stream_scale[:, None] if S else np.zeros((n, 0))
        self.dpow = d[:, None] ** np.arange(1, S + 1)[None, :] if S else np.zeros((n, 0))

        class _C:
            def __init__(self, concave: bool, inflection: float):
                self.concave, self.inflection = concave, inflection

        # one object per touchpoint, shared by its T cells
        per_tp = [_C(s.concave, C.inflection_point(s.family, dict(s.params))) for s in self.sat]
        self.curves = [c for c in per_tp for _ in range(T)]
        self._full: list[tuple] | None = None

    def _families(self) -> list[tuple[str, np.ndarray, dict[str, np.ndarray]]]:
        fams = getattr(self, "_fams", None)
        if fams is None:
            by: dict[str, list[int]] = {}
            for i, s in enumerate(self.sat):
                by.setdefault(s.family, []).append(i)
            fams = []
            for fam, idx in by.items():
                names = C.SATURATION[fam][3]
                full = {nm: np.ones(self.n) for nm in names}
                for nm in names:
                    full[nm][idx] = [float(self.sat[i].params[nm]) for i in idx]
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
        if rows is None:
            out = self._eval_all(M, which)
            return out[:, 0] if vec else out
        rows = np.asarray(rows)
        out = np.zeros(M.shape)
        tp = rows // self.T
        t = rows % self.T
        S = self.tail.shape[1]
        for fam, member, params in self._families():
            sel = np.flatnonzero(member[tp])
            if not len(sel):
                continue
            f = C.SATURATION[fam][0:3][which]
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

    def _eval_all(self, M: np.ndarray, which: int) -> np.ndarray:
        """``_eval`` on every cell (rows ``0 .. n·T-1``), its index work done once."""
        if self._full is None:
            rows = np.arange(self.n * self.T)
            tp, t = rows // self.T, rows % self.T
            full = []
            for fam, member, params in self._families():
                sel = np.flatnonzero(member[tp])
                if not len(sel):
                    continue
                ti = tp[sel]
                last = sel[t[sel] == self.T - 1]
                tl = tp[last]
                full.append(
                    (
                        fam,
                        sel,
                        self.w[ti, t[sel]][:, None],
                        {k: v[ti][:, None] for k, v in params.items()},
                        last,
                        {k: v[tl][:, None, None] for k, v in params.items()},
                        tl,
                    )
                )
            self._full = full
        out = np.zeros(M.shape)
        S = self.tail.shape[1]
        for fam, sel, w, par, last, par_last, tl in self._full:
            f = C.SATURATION[fam][0:3][which]
            if len(sel) == len(M):  # one family: no gather, no scatter
                out = w * f(M, **par)
            else:
                out[sel] = w * f(M[sel], **par)
            if S and len(last):
                Al = M[last][:, :, None] * self.dpow[tl][:, None, :]
                g = f(Al, **par_last)
                wt = (self.tail[tl] * self.dpow[tl] ** which)[:, None, :]
                out[last] += np.sum(wt * g, axis=2)
        return out

    def value(self, A, rows=None):
        return self._eval(A, 0, rows)

    def slope(self, A, rows=None):
        return self._eval(A, 1, rows)

    def curvature(self, A, rows=None):
        return self._eval(A, 2, rows)


def plan_kpi(problem: PhasedProblem, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(ns, T) objective-scale KPI of each stream's weeks (its weight included) and (ns,) KPI
    after the horizon (per line item without national buys; ``problem.to_items`` sums them)."""
    A = adstock_path(problem, X)
    cells = _Cells(problem)
    n = problem.ns
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
    """The objective to maximise: the KPI in objective units less the cost of spend (``min_spend``:
    minus the spend)."""
    if not problem.objective_weight:
        return float(-problem.base.spend_weight * X.sum())
    weekly, after = plan_kpi(problem, X)
    return float(weekly.sum() + after.sum() - problem.base.spend_weight * X.sum())


def item_kpi(problem: PhasedProblem, X: np.ndarray) -> np.ndarray:
    """(n,) each line item's KPI over the horizon (and after it, with ``after``), as reported."""
    weekly, after = plan_kpi(problem, X)
    scale = problem.scale
    per = problem.to_items(weekly.sum(axis=1) + after)
    return per / np.where(scale != 0, scale, 1.0)


def kpi_lhs(row: PhasedKpiRow, kpis: np.ndarray) -> float:
    return float(sum(a * float(kpis[i]) for i, a in row.coefs.items()))


def kpi_theta(problem: PhasedProblem, duals: Mapping[str, float], clip: bool = True) -> np.ndarray:
    """(n,) the weight of each line item's objective-scale KPI in the Lagrangian: the objective's
    own weight less Σ y · coef / scale over the KPI rows (a floor's dual y <= 0 when maximising,
    so a binding floor makes its KPI worth more)."""
    theta = np.full(problem.n, problem.objective_weight)
    scale = problem.scale
    for r in problem.kpi_rows:
        y = float(duals.get(r.name, 0.0))
        if clip:
            y = max(y, 0.0) if r.sense == "<=" else min(y, 0.0) if r.sense == ">=" else y
        for i, a in r.coefs.items():
            if scale[i] != 0:
                theta[i] -= y * a / scale[i]
    return theta


def marginal_kpi(problem: PhasedProblem, X: np.ndarray) -> np.ndarray:
    """(n, P) d(objective-scale KPI)/d x[i,p] by the adjoint of the adstock recursion."""
    A = adstock_path(problem, X)
    cells = _Cells(problem)
    G = cells.slope(A.ravel()).reshape(problem.ns, problem.T)  # f'_{jt}(a_jt)
    d, k = problem.decay, problem.gain
    if not problem.one_stream_each:
        k = k * problem.stream_share
    lam = np.zeros_like(G)
    nxt = np.zeros(problem.ns)
    for t in range(problem.T - 1, -1, -1):
        nxt = G[:, t] + d * nxt
        lam[:, t] = nxt
    out = np.zeros((problem.ns, problem.P))
    npw = problem.weeks_per_period
    for p, per in enumerate(problem.calendar.periods):
        out[:, p] = k * lam[:, list(per.weeks)].sum(axis=1) / npw[p]
    return problem.to_items(out)


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
    # 1e-9 of room over the path, and 1e-12 of a carry-over beyond a billion: one of 1e12 (a
    # week's actual spend at the top of the range of money, in a re-plan) computes with a float
    # error far above 1e-9, and a pinned adstock then read infeasible. Otherwise the box is as
    # it was: 1e-12 of every path moved the pieces, and a min_spend re-solve on the edge of its
    # target (test_phased_review, tv dropped) read infeasible
    carry = adstock_path(problem, np.zeros_like(xhi))
    ahi = adstock_path(problem, xhi) + 1e-9 + np.where(carry > 1e9, 1e-12 * carry, 0.0)
    return xhi, np.maximum(ahi, 1e-9)


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
    #: "lp": the LP over pieces (and the polish); "interior_point": the smooth problem directly
    method: str = "lp"


def _violation(problem: PhasedProblem, X: np.ndarray, relative_to_terms: bool = False) -> float:
    """Largest violation of any rule (relative to its size: its right-hand side, and with
    ``relative_to_terms`` its terms' size Σ|a·x| too, as a rule whose right-hand side is 0 (a
    change limit) is measured) or of x >= 0."""
    worst = float(max(0.0, -X.min(initial=0.0)))
    rm = problem.row_matrix
    if not len(rm.rhs):
        return max(worst, _kpi_violation(problem, X))
    lhs = rm.lhs(X)
    v = np.where(
        rm.sense == "<=",
        lhs - rm.rhs,
        np.where(rm.sense == ">=", rm.rhs - lhs, np.abs(lhs - rm.rhs)),
    )
    size = np.maximum(1.0, np.abs(rm.rhs))
    if relative_to_terms:
        size = np.maximum(size, np.asarray(abs(rm.G) @ np.abs(X).ravel()).ravel())
    return max(worst, float(np.max(v / size)), _kpi_violation(problem, X))


def _prices(problem: PhasedProblem, duals: Mapping[str, float]) -> np.ndarray:
    """(n, P): Σ_r y_r · coef of x[i,p] in rule r — the price of a decision's dollar."""
    y = np.array([float(duals.get(r.name, 0.0)) for r in problem.rows])
    if not len(y):
        return np.zeros((problem.n, problem.P))
    return np.asarray(problem.row_matrix.G.T @ y).reshape(problem.n, problem.P)


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


def _jacobians(problem: PhasedProblem) -> np.ndarray:
    """(ns, T, P): d a[j,t] / d x[i,p] for stream j of line item i."""
    n, T, P = problem.ns, problem.T, problem.P
    d, k = problem.decay, problem.gain
    if not problem.one_stream_each:
        k = k * problem.stream_share
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


def adjoint(problem: PhasedProblem, X: np.ndarray) -> np.ndarray:
    """(ns, T) μ[j,t] = d(objective)/d(a[j,t] held as a rule): the exact multipliers of the adstock
    rows at plan ``X`` (what the Lagrangian bound uses after the polish). An infinite slope (a
    cell at zero on a hill curve of shape < 1) is capped: any multipliers give a valid bound."""
    A = adstock_path(problem, X)
    G = _Cells(problem).slope(A.ravel()).reshape(problem.ns, problem.T)
    G = np.where(np.isfinite(G), G, 1e12 * max(1.0, float(np.max(G[np.isfinite(G)], initial=1.0))))
    d = problem.decay
    mu = np.zeros_like(G)
    nxt = np.zeros(problem.ns)
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


def _kpi_violation(problem: PhasedProblem, X: np.ndarray) -> float:
    """Largest violation of a rule on the KPI (relative to its size); 0 without any."""
    worst = 0.0
    if problem.kpi_rows:
        kpis = item_kpi(problem, X)
        for kr in problem.kpi_rows:
            lhs = kpi_lhs(kr, kpis)
            v = (
                lhs - kr.rhs
                if kr.sense == "<="
                else kr.rhs - lhs
                if kr.sense == ">="
                else abs(lhs - kr.rhs)
            )
            worst = max(worst, v / max(1.0, abs(kr.rhs)))
    return worst
