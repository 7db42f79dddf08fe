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

Concave curves without binaries skip the LP: the smooth problem is solved directly by a primal-dual
interior point (``phased_ipm``; its Newton steps cost n small P × P solves and one rules × rules
solve) and certified by the same Lagrangian bound, with the adstock rows' multipliers from the
adjoint at the plan and the rules' from the method. The LP is the fallback when it does not apply
(a rule forcing a decision to zero), does not converge or does not certify.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from optimizer.allocate.breakpoints import (
    bank_breakpoints,
)
from optimizer.allocate.caps import unpad_cap
from optimizer.allocate.certificate import credible_max as _credible
from optimizer.allocate.phased_certificate import kkt_residual, lagrangian_bound, plan_bound
from optimizer.allocate.phased_dual import by_multiplier, scaled_to_kpi
from optimizer.allocate.phased_ipm import interior_point
from optimizer.allocate.phased_lp import (
    _build,
    _cell_pieces,
    _initial_points,
    _refined,
    diagnose_phased,
    lifted_refined,
    refined_on_lifted,
)
from optimizer.allocate.phased_model import (
    DEFAULT_KKT_TOLERANCE,
    DEFAULT_PIECES,
    DEFAULT_TOLERANCE,
    MAX_AFTER_WEEKS,
    PhasedKpiRow,
    PhasedProblem,
    PhasedRow,
    PhasedSolution,
    _boxes,
    _Cells,
    _prices,
    _violation,
    adjoint,
    adstock_path,
    carryover,
    item_kpi,
    make_phased_problem,
    marginal_kpi,
    objective_value,
    period_rule,
    plan_kpi,
    week_discount,
    weekly_spend,
)
from optimizer.allocate.phased_plan import phased_plan
from optimizer.allocate.phased_polish import polish_phased
from optimizer.allocate.phased_target import kpi_rule_suggested
from optimizer.allocate.plan import Plan
from optimizer.allocate.solve import Status, solve_arrays
from optimizer.errors import ScenarioError
from optimizer.response import curves as C
from optimizer.response.model import TouchpointResponse

__all__ = [
    "DEFAULT_KKT_TOLERANCE",
    "DEFAULT_PIECES",
    "DEFAULT_TOLERANCE",
    "MAX_AFTER_WEEKS",
    "PhasedKpiRow",
    "PhasedProblem",
    "PhasedRow",
    "PhasedSolution",
    "adjoint",
    "adstock_path",
    "allocate_phased",
    "carry_in_from_spend",
    "carryover",
    "diagnose_phased",
    "item_kpi",
    "kkt_residual",
    "lagrangian_bound",
    "make_phased_problem",
    "marginal_kpi",
    "objective_value",
    "period_rule",
    "phased_plan",
    "phased_problem",
    "plan_kpi",
    "polish_phased",
    "solve_phased",
    "week_discount",
    "weekly_spend",
]


# ------------------------------------------------------------------------------------------------
# solve
# ------------------------------------------------------------------------------------------------
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
    method: str = "auto",
) -> PhasedSolution:
    """The certified plan of a phased problem. ``method``: "auto" (the interior point on the
    smooth problem when the curves are concave and there are no binaries, the LP over pieces
    otherwise or when it does not certify) or "lp" (the LP over pieces only)."""
    if method not in ("auto", "lp"):
        raise ValueError(f"method must be 'auto' or 'lp', not {method!r}")
    t0 = time.perf_counter()
    cells = _Cells(problem)
    xhi, ahi = _boxes(problem)
    # the interior point knows no rule on the KPI: where its plan meets them all the same (a
    # floor that does not bind) it is the optimum under them too, else the LP over pieces, which
    # has their rows (min_spend, whose target always binds, goes there at once)
    ipm_bound = math.inf
    if method == "auto" and not problem.needs_binaries and problem.objective_weight:
        # concave curves, no binaries: the smooth problem by interior point, certified by the
        # same Lagrangian bound; the LP over pieces below when that fails or does not certify
        direct, ipm_bound = _interior(
            problem, cells, xhi, ahi, tolerance, kkt_tolerance, t0, time_limit
        )
        if direct is not None:
            return direct
    coarse = bank_breakpoints(
        cells,
        np.zeros(problem.ns * problem.T),
        ahi.ravel(),
        np.where([c.concave for c in cells.curves], n_pieces, 2 * n_pieces),
    )
    pts = _initial_points(problem, cells, ahi, n_pieces)
    # every round's bound on the exact optimum, and the interior point's where it ran: the least
    # holds (the best plan's own round's can be looser: 3.7% where the first round proved 0.3%)
    bounds = [ipm_bound] if math.isfinite(ipm_bound) else []
    build_s = solve_s = 0.0
    best: PhasedSolution | None = None
    best_meets = False
    n, P = problem.n, problem.P
    rows = problem.rows

    def time_left() -> float | None:
        if time_limit is None:
            return None
        return max(0.01, time_limit - (time.perf_counter() - t0))

    rounds = 0
    # decisions a rule holds at zero: their box is the pad's nanounit, which the LP may fill (a
    # 1e-9 breach); cleared, or a min_spend plan never "meets" its rules (a 1.77% gap, tv at 0)
    held_at_zero = unpad_cap(xhi) <= 0.0
    # the polish's Newton step knows rules on spend only: with rules on the KPI, refinement alone
    polish_ok = not problem.needs_binaries and not problem.kpi_rows
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
            time_limit=time_left(),
            gap=max(1e-9, 0.1 * tolerance),
            constant=m.const,
        )
        solve_s += sol.seconds
        conflicts: tuple[str, ...] = ()
        if sol.status == Status.INFEASIBLE and problem.kpi_rows and rounds < min(max_rounds, 4):
            finer = refined_on_lifted(problem, cells, pts, coarse, xhi, ahi, time_left())
            if finer is not None:  # a rule on the KPI short on the pieces only: finer pieces
                pts = finer
                continue
        if sol.status == Status.ERROR and diagnose:
            # HiGHS can stop with an error rather than "infeasible" on rules that cannot all
            # hold (bounds it tightens past each other): if the deletion filter finds such
            # rules, they are the answer, named as for any infeasible plan
            conflicts, message = diagnose_phased(problem, pcs, xhi)
            if conflicts:
                sol = dataclasses.replace(sol, status=Status.INFEASIBLE)
        if sol.status == Status.INFEASIBLE:
            if not conflicts:
                message = "the constraints cannot all hold"
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
        z = np.asarray(sol.x)
        duals = np.asarray(sol.duals)
        if len(m.ints):
            # duals from the LP with the integer choices fixed
            fixed = {int(c): float(round(z[c])) for c in m.ints}
            tb = time.perf_counter()
            lp = _build(problem, pcs, xhi, fix=fixed)
            build_s += time.perf_counter() - tb
            lsol = solve_arrays(
                lp.c, lp.A, lp.lo, lp.hi, lp.clo, lp.chi, time_limit=time_left(), constant=lp.const
            )
            solve_s += lsol.seconds
            if lsol.status == Status.OPTIMAL:
                z, duals = np.asarray(lsol.x), np.asarray(lsol.duals)
        X = np.where(held_at_zero, 0.0, np.maximum(z[: n * P].reshape(n, P), 0.0))
        if problem.kpi_rows:
            X = scaled_to_kpi(problem, X)
        value = objective_value(problem, X)
        rule_duals = {
            r.name: float(duals[m.rule_rows[q]]) for q, r in enumerate(rows) if m.rule_rows[q] >= 0
        }
        if m.kpi_rule_rows is not None:  # rules on the KPI: their duals too
            rule_duals.update(
                (r.name, float(duals[m.kpi_rule_rows[q]]))
                for q, r in enumerate(problem.kpi_rows)
                if m.kpi_rule_rows[q] >= 0
            )
        mu = duals[: problem.ns * problem.T].reshape(problem.ns, problem.T)
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
                bound = min(bound, plan_bound(problem, cells, X, rule_duals, xhi, ahi))
        steer = None
        if problem.needs_binaries and (bound - value) / max(abs(value), 1e-12) > tolerance:
            bound, x_up, secs = lifted_refined(
                problem, cells, pts, xhi, value, bound, tolerance, time_left
            )
            solve_s += secs
            # the relaxation's plan holds the spend rules: worth more on the curves than this
            # round's (it funds other periods), the next round's pieces are refined around it too
            if x_up is not None and _violation(problem, x_up) <= 1e-9:
                if objective_value(problem, x_up) > value + 1e-12 * abs(value):
                    steer = x_up
        prices = _prices(problem, rule_duals)
        kkt = kkt_residual(problem, X, prices, rule_duals)
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
        # an S-curve's pieces may overstate its KPI: a plan short of a KPI floor on the curves
        # is not the best plan while one that meets it exists
        meets = not problem.kpi_rows or _violation(problem, X) <= 1e-9
        if best is None or (value > best.value and meets) or (meets and not best_meets):
            best, best_meets = cand, meets
        # the tightest of the rounds' bounds that the best plan does not beat (one it beats was
        # the solver's error, not a bound: the gap is then read from the others, or stays open)
        bounds.append(bound)
        best.bound = min((b for b in bounds if _credible(b, best.value)), default=math.inf)
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
        if not problem.objective_weight and meets:
            xhi, ahi, coarse = _min_spend_box(problem, cells, X, xhi, ahi, coarse, n_pieces)
        # next round: the coarse pieces, short pieces around each cell's solution, and some
        # around its best response to the duals when that is elsewhere (earlier rounds' local
        # points are dropped: the LP stays the same size from round to round)
        toward = responses if steer is None else adstock_path(problem, steer)
        pts = _refined(coarse, adstock_path(problem, X).ravel(), toward.ravel(), ahi.ravel(), pts)
    assert best is not None
    if best.status == Status.OPTIMAL and not best.gap <= tolerance and method == "auto":
        dual = by_multiplier(problem, solve_phased, tolerance)  # one rule on the KPI, binding
        if dual is not None and _credible(dual.bound, max(best.value, dual.value)):
            best, other = (dual, best) if dual.value > best.value else (best, dual)
            best.bound = min(best.bound, other.bound)
            best.gap = max(0.0, (best.bound - best.value) / max(abs(best.value), 1e-12))
    if best.status == Status.OPTIMAL and not best.gap <= tolerance:
        # out of rounds, the gap still open: the best plan so far, said to be so (issue 14)
        best.status = Status.NOT_CERTIFIED
        best.message = (
            f"stopped after {rounds} rounds with the gap at {best.gap:.2e} "
            f"(tolerance {tolerance:.0e}): the plan holds every rule but is not certified optimal"
        )
    best.rounds = rounds
    best.seconds = time.perf_counter() - t0
    best.build_seconds, best.solve_seconds = build_s, solve_s
    return best


def _interior(
    problem: PhasedProblem,
    cells: _Cells,
    xhi: np.ndarray,
    ahi: np.ndarray,
    tolerance: float,
    kkt_tolerance: float,
    t0: float,
    time_limit: float | None,
) -> tuple[PhasedSolution | None, float]:
    """The interior point's plan (``phased_ipm``) with its certificate, or None when it does not
    apply, fails, breaks a rule or does not certify within ``tolerance``; and its Lagrangian
    bound (inf when it does not apply or fails), which bounds the exact optimum whatever its
    plan (any multipliers do), so the LP's plan can be certified by it."""
    deadline = None if time_limit is None else t0 + 0.5 * time_limit  # the LP gets the rest
    ts = time.perf_counter()
    out = interior_point(problem, deadline=deadline)
    solve_s = time.perf_counter() - ts
    if out is None:
        return None, math.inf
    X, duals, _iterations = out
    X = np.maximum(X, 0.0)
    duals = {**duals, **{r.name: 0.0 for r in problem.kpi_rows}}  # not binding, if its plan holds
    bound = plan_bound(problem, cells, X, duals, xhi, ahi)
    if _violation(problem, X, relative_to_terms=True) > 1e-9:
        # (a row's breach relative to its terms: tv's change limit (rhs 0) broken by 2.2e-7 of
        # ~1.6M of terms rejected a plan certified at 1e-14, and the LP's bound stalled at 0.12%)
        return None, bound
    value = objective_value(problem, X)
    gap = max(0.0, (bound - value) / max(abs(value), 1e-12))
    prices = _prices(problem, duals)
    kkt = kkt_residual(problem, X, prices)
    if not (gap <= tolerance and kkt <= kkt_tolerance):
        return None, bound
    solution = PhasedSolution(
        X,
        value,
        bound,
        gap,
        duals,
        prices,
        kkt,
        Status.OPTIMAL,
        1,
        time.perf_counter() - t0,
        0.0,
        solve_s,
        0,
        method="interior_point",
    )
    return solution, bound


def _min_spend_box(problem, cells, X, xhi, ahi, coarse, n_pieces):
    """``min_spend``: the optimum spends no more than plan ``X``, which meets the target, so no
    decision exceeds ``X``'s total — a far smaller box than the curves' saturation spend, which
    sharpens the pieces and the Lagrangian bound (both stay valid: the optimum is inside)."""
    z = float(X.sum()) * (1 + 1e-6) + 1e-6
    if z >= float(xhi.max()):
        return xhi, ahi, coarse
    xhi = np.minimum(xhi, z)
    ahi = np.maximum(adstock_path(problem, xhi) + 1e-9, 1e-9)
    coarse = bank_breakpoints(
        cells,
        np.zeros(problem.ns * problem.T),
        ahi.ravel(),
        np.where([c.concave for c in cells.curves], n_pieces, 2 * n_pieces),
    )
    return xhi, ahi, coarse


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
    return np.array([_carry_one(spend.get(r.id) or {}, r, start) for r in responses])


def _carry_one(by_date: Mapping[dt.date, float], r: TouchpointResponse, start: dt.date) -> float:
    """a_0 of one adstock stream from its weekly spend by date before ``start``."""
    back: dict[int, float] = {}
    for d, v in by_date.items():
        days = (start - d).days
        if days > 0:
            k = (days + 6) // 7  # 1: the week just before start
            back[k] = back.get(k, 0.0) + float(v)
    if not back:
        return 0.0
    K = min(max(back), MAX_AFTER_WEEKS)
    series = [back.get(k, 0.0) for k in range(K, 0, -1)]
    d_ = 0.0 if r.adstock is None else r.adstock.decay
    gain = (
        1.0
        if r.adstock is None or not r.adstock.normalize
        else 1.0 / C.geometric_steady_factor(d_, None, False)
    )
    return carryover(series, d_, gain)


def _carry_file(scenario) -> str:
    """The scenario's ``carryover.before`` path; one that does not exist is the scenario's error,
    naming its file, the field and the path (the file's reader can only name the path)."""
    import os

    path = str(scenario.carryover.before)
    if not os.path.lexists(path):  # a symlink (a loop too) is the reader's to answer
        raise ScenarioError(
            f"the carry-over file it names does not exist: {path}",
            path=scenario.source,
            field="carryover.before",
        )
    return path


@contextmanager
def _carry_named(scenario, path: str) -> Iterator[None]:
    """A carry-over file that names one of the plan's touchpoints wrongly (``TV`` for ``tv`` beside
    a right ``search``) is the scenario's error, at ``carryover.before``, naming the file.

    The readers are given the plan's touchpoints as the ``known`` ones: a phased plan plans every
    touchpoint of its model, which are the journey's (``fit`` needs a spend column for each; every
    market of an index has them; other KPIs' models are refused on phased plans), so a file's
    touchpoint that is not the plan's is one the journey does not have."""
    from optimizer.io.spend_tables import MisnamedTouchpoint

    try:
        yield
    except MisnamedTouchpoint as e:
        raise ScenarioError(
            f"the carry-over file {path}: {e.detail}",
            path=scenario.source,
            field="carryover.before",
        ) from None


def _check_carry_used(
    scenario, path: str, dates: Sequence[dt.date], ids: Sequence[str], start: dt.date
) -> None:
    """A carry-over file that carries nothing into the plan is a mistake, not a plan without
    carry-over: it names none of the plan's touchpoints (``TV`` for ``tv``), or holds no week
    before ``start`` (this year's actuals for last year's). ``dates``: its dates of the plan's
    touchpoints."""
    if not dates:
        from optimizer.io.files import read_csv_strings
        from optimizer.vocabulary import TOUCHPOINT_COLUMN

        df = read_csv_strings(path, "carry-over", ScenarioError)
        if TOUCHPOINT_COLUMN in df.columns:
            named = sorted({str(v).strip() for v in df[TOUCHPOINT_COLUMN]})
            has = f"its touchpoints are {', '.join(named[:8]) or 'none'}"
        else:
            has = f"its columns are {', '.join(map(str, df.columns[:12]))}"
        raise ScenarioError(
            f"the carry-over file {path} names none of the plan's touchpoints "
            f"({', '.join(sorted(set(ids)))}; {has}), so it would carry nothing into the plan",
            path=scenario.source,
            field="carryover.before",
        )
    first = min(dates)
    if first >= start:
        raise ScenarioError(
            f"the carry-over file {path} holds no week before the plan's start ({start}): its "
            f"first date is {first}; the carry-over is the spend of the weeks before start",
            path=scenario.source,
            field="carryover.before",
        )


def _market_carry_in(scenario, base, responses, streams, start: dt.date) -> np.ndarray:
    """a_0 per stream over markets from the scenario's spend file with a ``market`` column
    (``read_weekly_spend_by_market``): a line item's from its market's rows; a national buy's in
    market m from m's rows plus its share of the rows marked ``national``."""
    from optimizer.io.spend_tables import NATIONAL_MARKET, read_weekly_spend_by_market

    path = _carry_file(scenario)
    items = base.items
    ids = list(dict.fromkeys(it.id for it in items))
    national = [it.id for it in items if it.split is not None]
    with _carry_named(scenario, path):
        spend = read_weekly_spend_by_market(
            path, ids, list(base.markets), national, what="carry-over", known=ids
        )
    _check_carry_used(scenario, path, [d for s in spend.values() for d in s], ids, start)
    out = np.zeros(len(responses))
    for j, ((i, share, m), r) in enumerate(zip(streams, responses, strict=True)):
        tid = items[i].id
        here = _carry_one(spend.get((tid, m), {}), r, start)
        if items[i].split is not None and NATIONAL_MARKET not in base.markets:
            here += share * _carry_one(spend.get((tid, NATIONAL_MARKET), {}), r, start)
        out[j] = here
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
    file, seasonal effectiveness from the model.

    On a markets index (contract 8) the line items are touchpoint × market × period, each on its
    market's curve; national rules sum over the markets, ``markets:`` rules select by market and
    period rules by label, as on an undated plan. A national buy is one decision per period whose
    spend feeds each market's adstock by its split (``_market_streams``). ``carry_in`` is then
    keyed ``touchpoint@market`` (a national buy's per market too); a ``carryover.before`` file
    (one series per touchpoint) is refused, located."""
    from optimizer.allocate.problem import make_problem
    from optimizer.scenario.rules import LineItemRef, LineItems, build_rows

    cal = scenario.calendar
    if cal is None or scenario.phasing == "none":
        raise ScenarioError(
            "not a phased scenario: give 'start' and 'phasing'", path=scenario.source
        )
    base = make_problem(scenario, model, stages, extra_models=extra_models)
    P = len(cal.periods)
    refs = [
        LineItemRef(
            i * P + p,
            it.id,
            it.stage,
            period=per.label,
            market=it.market,
            owner=it.owner,
            split=it.split,  # a national buy counts its share in each market's rules
        )
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
        if not c.on_kpi
    ]
    # rules on the KPI (a floor, min_spend's target): on each touchpoint's KPI over the horizon
    kpi_rows = [
        PhasedKpiRow(
            c.name,
            c.kind,
            c.subject,
            c.sense,
            c.rhs,
            {i: a for i, a in ((j // P, a) for j, a in c.coefs.items())},
            c.label,
        )
        for c in sink.all_rows()
        if c.on_kpi
    ]
    mif = {
        divmod(r.item, P): r.amount
        for r in sink.all_item_rules()
        if r.kind == "tp_period_min_if_funded"
    }
    streams: list[tuple[int, float, str | None]] = []
    if base.markets:  # each line item on its market's curve
        responses, streams = _market_streams(base, model)
    else:
        responses = [model.touchpoints[it.id] for it in base.items]
    if carry_in is not None:
        if base.markets:  # a stream's key: touchpoint@market (a national buy's too)
            keys = [f"{base.items[i].id}@{m}" for i, _w, m in streams]
        else:
            keys = [it.id for it in base.items]
        a0 = np.array([float(carry_in.get(k, 0.0)) for k in keys])
    elif scenario.carryover is not None and scenario.carryover.before and base.markets:
        a0 = _market_carry_in(scenario, base, responses, streams, cal.start)
    elif scenario.carryover is not None and scenario.carryover.before:
        from optimizer.io.spend_tables import read_weekly_spend

        path = _carry_file(scenario)
        ids = [r.id for r in responses]
        with _carry_named(scenario, path):
            spend = read_weekly_spend(path, ids, what="carry-over", known=ids)
        _check_carry_used(scenario, path, [d for s in spend.values() for d in s], ids, cal.start)
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
        kpi_rows=kpi_rows,
        sources=tuple(sink.all_rows()),
        streams=streams if any(it.split is not None for it in base.items) else (),
    )


def _market_streams(
    base, model
) -> tuple[list[TouchpointResponse], list[tuple[int, float, str | None]]]:
    """The adstock streams of a problem over markets: a line item bought in one market is one
    stream on that market's curve; a national buy is one stream per market it reaches (its share
    of the spend, that market's curve, decay and seasonality), all fed by its one decision."""
    responses: list[TouchpointResponse] = []
    streams: list[tuple[int, float, str | None]] = []
    for it in base.items:
        if it.split is None:
            responses.append(it.curve.response)
            streams.append((it.index, 1.0, str(it.market)))
            continue
        for m, w in it.split.items():
            r = model.markets[m].touchpoints.get(it.id)
            if r is None or w <= 0:  # no curve there (or no share): that market earns nothing
                continue
            responses.append(r)
            streams.append((it.index, float(w), m))
    return responses, streams


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
    problem: PhasedProblem | None = None,
) -> Plan:
    """Optimise a dated, phased scenario: the certified ``Plan`` with its periods (``problem``:
    the one ``phased_problem`` made of them already)."""
    if problem is None:
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
    budget = problem.base.scenario.budget
    if (
        sol.status in (Status.OPTIMAL, Status.NOT_CERTIFIED, Status.TIME_LIMIT)
        and budget is not None
        and (budget.amount > 0.005 or (problem.kpi_rows and not np.any(problem.carry_in)))
        and float(np.sum(sol.X)) <= 0.005
    ):
        # nothing spent of a positive budget (share floors summing above 100%: "not certified"
        # at a gap of 4.6e12%), or under a rule on the KPI with no carry-over (a floor of 50 met
        # by the LP's nanounit pieces at a budget of 0): the undated engine names the conflict
        from optimizer.allocate.engine import solve_problem

        undated = solve_problem(problem.base, diagnose=diagnose, time_limit=time_limit)
        if undated.status == Status.INFEASIBLE:
            sol.status = Status.INFEASIBLE
            sol.conflicts = tuple(undated.conflicts)
            sol.message = undated.message
    plan = phased_plan(problem, sol)
    if not diagnose or not plan.conflicts or budget is None:
        return plan
    opts: dict[str, Any] = {"tolerance": tolerance, "time_limit": time_limit, "stages": stages}
    opts |= {"extra_models": extra_models, "carry_in": carry_in, "max_rounds": max_rounds}

    def again(sc: Any) -> Plan:
        return allocate_phased(sc, model, diagnose=False, **opts)

    # a target or floor on the KPI among the conflicts: the step that plans
    return kpi_rule_suggested(
        scenario, plan, problem.kpi_rows, problem.base.kpi, again, floors=not problem.needs_binaries
    )
