"""Allocate: scenario + curves → a certified ``Plan``.

1. Breakpoints by curvature over each line item's feasible range; build; solve.
2. Evaluate the plan on the smooth curves, and bound the exact optimum from the LP's duals by
   Lagrangian duality: for any multipliers of the right signs, ``max_x f(x) + Σ y_r (b_r - g_r(x))``
   over the line items' boxes is at least the optimum, and it separates into one-dimensional
   problems solved exactly for concave curves.
3. While the gap exceeds the tolerance, add breakpoints around the solution and solve again.

An infeasible constraint set is a status, not an exception: the plan carries the names of a small
set of constraints that cannot hold together (an irreducible infeasible subset found by a deletion
filter) and a sentence saying so.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypedDict

import numpy as np

from optimizer.allocate.bank import CurveBank
from optimizer.allocate.breakpoints import (
    Pieces,
    bank_breakpoints,
    bank_pieces,
    refine_around,
)
from optimizer.allocate.build import BuiltModel, build_model
from optimizer.allocate.caps import unpad_cap
from optimizer.allocate.certificate import (
    _dual_bound,
    _marginals,
    credible,
    kkt_residual,
    relative_gap,
)
from optimizer.allocate.diagnose import diagnose as diagnose_rules
from optimizer.allocate.diagnose import positive_spend_row
from optimizer.allocate.kpi_floor import floor_within_rules
from optimizer.allocate.lifted import (
    least_spend_within_budget,
    lifted_bound,
    lifted_plan,
    mip_gap,
    target_within_budget,
    tighter,
)
from optimizer.allocate.plan import (
    ConstraintResult,
    LineItem,
    Plan,
    certified_status,
    funded_word,
    market_kpi,
)
from optimizer.allocate.polish import Polished, kpi_bank, polish
from optimizer.allocate.problem import AllocationProblem, make_problem
from optimizer.allocate.rounding import round_to_rules, said_in_cents
from optimizer.allocate.solve import DEFAULT_SOLVER, DUALS_TRUSTED, SolveOutcome, Status, solve
from optimizer.defaults import DEFAULT_TOLERANCE
from optimizer.response.model import CurveSet, currency_of
from optimizer.scenario import Scenario
from optimizer.scenario.rules import kind_of

DEFAULT_KKT_TOLERANCE = 1e-3  # marginal returns within 0.1% of the price the duals put on a dollar
DEFAULT_PIECES = 8
#: a line item that can take more blocks than this makes the lifted MILP slow (round_to 10,000 on
#: the sample's 9.7M: 35-150 s a solve): refine on the Lagrangian bound first
_MANY_UNITS = 64


@dataclass(frozen=True)
class BestRound:
    """The refinement loop's state: the best plan of the rounds so far (by its objective on the
    smooth curves) and the tightest bound on the exact optimum any round proved."""

    spend: np.ndarray  # per line item, as the LP (polished) left it
    objective: float  # its true objective on the smooth curves
    bound: float  # the tightest bound on the exact optimum seen in any round
    gap: float  # relative gap between objective and bound
    outcome: SolveOutcome  # the solve (status, duals, slacks) the plan came from
    built: BuiltModel  # the LP/MILP it was read from


class SolveOptions(TypedDict, total=False):
    """The solve options that ``allocate`` and ``solve_problem`` share and the workflows (sweep,
    robust plans, economics) pass on to them."""

    solver: str
    tolerance: float
    time_limit: float | None
    kkt_tolerance: float
    diagnose: bool


def allocate(
    scenario: Scenario,
    model: CurveSet,
    *,
    solver: str = DEFAULT_SOLVER,
    extra_models: dict[str, CurveSet] | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    max_rounds: int = 6,
    n_pieces: int = DEFAULT_PIECES,
    time_limit: float | None = None,
    stages: tuple[str, ...] | None = None,
    diagnose: bool = True,
    kkt_tolerance: float = DEFAULT_KKT_TOLERANCE,
    problem: Any = None,
) -> Plan:
    """Optimise a scenario on a model's curves; see the module docstring. A dated, phased
    scenario (contract 7) is planned period by period, week by week (``allocate.phased``).
    ``problem``: the one ``prepare_problem`` makes of them, where the caller built it already
    (``--robust auto`` checks it before solving); None: built here."""
    t0 = time.perf_counter()
    if problem is None:
        problem = prepare_problem(scenario, model, stages=stages, extra_models=extra_models)
    if not isinstance(problem, AllocationProblem):
        from optimizer.allocate.phased import allocate_phased

        plan = allocate_phased(
            scenario,
            model,
            tolerance=tolerance,
            time_limit=time_limit,
            stages=stages,
            extra_models=extra_models,
            diagnose=diagnose,
            problem=problem,
        )
    else:
        opts: dict[str, Any] = {"solver": solver, "tolerance": tolerance, "t0": t0}
        opts |= {"max_rounds": max_rounds, "n_pieces": n_pieces, "time_limit": time_limit}
        plan = plan_problem(problem, diagnose=diagnose, kkt_tolerance=kkt_tolerance, **opts)
    cur = currency_of(model)  # the money's currency travels with the plan, to its renderers
    if cur:
        plan = dataclasses.replace(plan, extras={**plan.extras, "currency": cur})
    return plan


def plan_problem(problem: AllocationProblem, *, diagnose: bool = True, **opts: Any) -> Plan:
    """An undated problem's plan, as every command plans it (``optimize``, ``compare``, the
    re-plan, ``--robust mean``): ``solve_problem``, and where that is infeasible with
    ``diagnose``, a min_spend budget at its least spend (``least_spend_within_budget``) and the
    target a budget reaches (``target_within_budget``), so that one scenario gets one status,
    plan and message in every command. ``opts``: ``solve_problem``'s."""
    plan = solve_problem(problem, diagnose=diagnose, **opts)
    if plan.status == Status.INFEASIBLE and diagnose:  # a min_spend budget at its least spend
        plan = least_spend_within_budget(problem, solve_problem, **opts) or plan
        plan = target_within_budget(problem, plan, solve_problem, **opts)
        plan = floor_within_rules(problem, plan, solve_problem, **opts)
    return plan


def prepare_problem(
    scenario: Scenario,
    model: CurveSet,
    *,
    stages: tuple[str, ...] | None = None,
    extra_models: Mapping[str, CurveSet] | None = None,
) -> Any:
    """The problem ``allocate`` solves — an ``AllocationProblem``, or a ``PhasedProblem`` for a
    dated, phased scenario — with every check of the scenario against its model(s) that comes
    before solving (touchpoints, stages, KPIs, markets, rules, the calendar). ``validate`` calls
    this too, so a scenario it passes is one ``optimize`` takes."""
    if getattr(scenario, "is_phased", False):
        from optimizer.allocate.phased import phased_problem

        return phased_problem(scenario, model, stages=stages, extra_models=extra_models)
    return make_problem(scenario, model, stages, extra_models=extra_models)


def initial_points(
    problem: AllocationProblem, n_pieces: int, bank: CurveBank | None = None
) -> list[np.ndarray]:
    # S-curves get twice the pieces: the MILP chooses which S-curves to fund on these pieces, and
    # refinement around the solution never revisits that choice
    bank = bank or CurveBank.of([it.curve for it in problem.items])
    return bank_breakpoints(
        bank,
        np.array([it.lo for it in problem.items]),
        np.array([it.hi for it in problem.items]),
        np.array([n_pieces if it.curve.concave else 2 * n_pieces for it in problem.items]),
        [(it.min_if_funded,) if it.min_if_funded else () for it in problem.items],
    )


def solve_problem(
    problem: AllocationProblem,
    *,
    solver: str = DEFAULT_SOLVER,
    tolerance: float = DEFAULT_TOLERANCE,
    max_rounds: int = 6,
    kkt_tolerance: float = DEFAULT_KKT_TOLERANCE,
    n_pieces: int = DEFAULT_PIECES,
    time_limit: float | None = None,
    diagnose: bool = True,
    t0: float | None = None,
    points: list[np.ndarray] | None = None,
    polish_plan: bool = True,
) -> Plan:
    t0 = time.perf_counter() if t0 is None else t0

    def time_left() -> float | None:
        """What is left of the time limit, which is for the whole allocation, not each solve."""
        if time_limit is None:
            return None
        return max(0.01, time_limit - (time.perf_counter() - t0))

    bank = CurveBank.of([it.curve for it in problem.items])
    pts = points if points is not None else initial_points(problem, n_pieces, bank)
    build_s = solve_s = 0.0
    best: BestRound | None = None
    prev_gap: float | None = None
    prev_lagrangian: float | None = None
    rounds = 0
    for rounds in range(1, max_rounds + 1):  # noqa: B007 - the count is reported on the plan
        tb = time.perf_counter()
        pcs = bank_pieces(bank, pts)
        built = build_model(problem, pcs)
        build_s += time.perf_counter() - tb
        out = solve(
            built, solver, time_limit=time_left(), gap=mip_gap(tolerance) if built.is_mip else None
        )
        solve_s += out.seconds
        if out.status == Status.INFEASIBLE and rounds < max_rounds:
            # a KPI rule on pieces under its curve can be infeasible where the curves are not:
            # refine around the plan of its lifted relaxation, when there is one
            up = lifted_plan(problem, bank, pcs, time_left(), tolerance)
            if up is not None:
                pts = [
                    refine_around(p, float(xi), 0.0, it.hi)
                    for p, xi, it in zip(pts, up, problem.items, strict=True)
                ]
                continue
        if out.status == Status.INFEASIBLE:
            conflicts: tuple[str, ...] = ()
            message = "the constraints cannot all hold"
            if diagnose:
                conflicts, message = diagnose_infeasible(problem, pcs, solver)
            return _empty_plan(
                problem, Status.INFEASIBLE, conflicts, message, solver, build_s, solve_s
            )
        if out.status not in (Status.OPTIMAL, Status.TIME_LIMIT):
            return _empty_plan(
                problem,
                out.status,
                (),
                f"the solver stopped: {out.status.value}",
                solver,
                build_s,
                solve_s,
            )
        x = built.spend_values()
        block_duals: dict[str, float] | None = None
        if built.is_mip or not DUALS_TRUSTED.get(solver, True):
            # duals come from the LP at the solution: binaries fixed, and solved by a solver whose
            # duals are trustworthy (the cbc build of pulp[cbc] reports inconsistent row duals)
            fixed = {v.name: float(round(v.varValue or 0.0)) for v in built.binaries}
            tb = time.perf_counter()
            lp = (
                build_model(problem, pcs, fix_binaries=fixed)
                if fixed
                else build_model(problem, pcs)
            )
            build_s += time.perf_counter() - tb
            dual_solver = solver if DUALS_TRUSTED.get(solver, True) else "highs"
            out_lp = solve(lp, dual_solver, time_limit=time_left())
            solve_s += out_lp.seconds
            if out_lp.status == Status.OPTIMAL:
                out = SolveOutcome(
                    out.status, out.objective, out_lp.duals, out_lp.slacks, out.seconds, solver
                )
                if built.is_mip:
                    x = lp.spend_values()
            if any(it.block for it in problem.items):
                # with the blocks fixed every such line item is pinned and the rules' duals say
                # little; the LP with the blocks relaxed prices the rules for the bound
                relaxed = build_model(
                    problem,
                    pcs,
                    fix_binaries={k: v for k, v in fixed.items() if not k.startswith("n_")},
                    relax_blocks=True,
                )
                out_rx = solve(relaxed, dual_solver, time_limit=time_left())
                solve_s += out_rx.seconds
                if out_rx.status == Status.OPTIMAL:
                    # polished to the smooth relaxation's exact prices: its Lagrangian bound is
                    # then the relaxation's optimum, and the gap left is the blocks' own cost
                    free = dataclasses.replace(
                        problem,
                        items=tuple(dataclasses.replace(it, block=None) for it in problem.items),
                    )
                    xr = np.minimum(np.maximum(relaxed.spend_values(), 0.0), _caps(problem))
                    pol = _feasible_polish(free, bank, xr, out_rx.duals)
                    block_duals = out_rx.duals if pol is None else pol.duals
        # the LP's plan can break a line item's own cap by the solver's feasibility tolerance
        # (1e-9 of spend on a line item capped at zero is worth a lot on a curve with an infinite
        # slope there, and no bound could then close): each line item is held to its caps
        x = _unfunded_at_zero(problem, np.minimum(np.maximum(x, 0.0), _caps(problem)))
        if out.status == Status.TIME_LIMIT and violation(problem, x) > 1e-6:
            # the time ran out before the solver had a plan that holds every rule: no plan
            return _empty_plan(
                problem,
                Status.TIME_LIMIT,
                (),
                "the time limit ran out before a plan that holds every rule was found",
                solver,
                build_s,
                solve_s,
            )
        if polish_plan:
            x, out = _polished(problem, bank, x, out)
        if block_duals is not None and all(it.block for it in problem.items):
            # a plan whose every line item is in whole units (round_to) reports the prices of the
            # rules with the units relaxed: what a dollar more of a rule is worth (with the units
            # fixed every line item is pinned and the budget's price would be 0, as if money were
            # worth nothing). With some line items free, theirs are the prices (the fixed LP's)
            out = dataclasses.replace(out, duals=block_duals)
        true_obj = _true_objective(problem, bank, x)
        bound, responses = _dual_bound(problem, bank, out.duals, x)
        if block_duals is not None:
            other, other_responses = _dual_bound(problem, bank, block_duals, x)
            if tighter(problem, other, bound) == other:
                bound, responses = other, other_responses
        lagrangian_gap = relative_gap(problem, true_obj, bound)
        # with many blocks (whole numbers of a unit: ``block``, ``round_to``) the lifted MILP is
        # slow (an integer per line item with hundreds of values) and rarely needed: the Lagrangian
        # bound of the continuous relaxation bounds the integer optimum too, and what holds it
        # open is mostly the pieces. Refine first, while that gap keeps halving; lift after
        refining_first = (
            any(it.block and it.hi > _MANY_UNITS * it.block for it in problem.items)
            and rounds < max_rounds
            and (prev_lagrangian is None or lagrangian_gap < 0.5 * prev_lagrangian)
        )
        prev_lagrangian = lagrangian_gap
        if problem.needs_binaries and lagrangian_gap > tolerance and not refining_first:
            # the Lagrangian bound need not close with binaries (S-curves): also bound the optimum
            # by the MILP over pieces lifted onto or above the curves, and refine where it peaks
            lifted_found = lifted_bound(problem, bank, pcs, time_left(), tolerance, true_obj)
            if lifted_found is not None:
                ub, x_up, secs = lifted_found
                solve_s += secs
                # a MILP bound better than this round's plan is the solver's error
                if credible(problem, ub, true_obj) and tighter(problem, ub, bound) == ub:
                    bound, responses = ub, x_up
        if best is not None and credible(problem, best.bound, true_obj):
            # every round's bound bounds the same optimum (one this round's plan beats is none)
            bound = tighter(problem, bound, best.bound)
        gap = relative_gap(problem, true_obj, bound)
        if best is None or _better(problem, true_obj, best.objective):
            best = BestRound(x, true_obj, bound, gap, out, built)
        elif credible(problem, bound, best.objective):  # keep the tightest bound seen
            tightest = tighter(problem, bound, best.bound)
            best = dataclasses.replace(
                best, bound=tightest, gap=relative_gap(problem, best.objective, tightest)
            )
        residual = kkt_residual(problem, bank, out.duals, x)
        if (best.gap <= tolerance and residual <= kkt_tolerance) or out.status == Status.TIME_LIMIT:
            break
        if time_limit is not None and time.perf_counter() - t0 >= time_limit:
            # out of time with the gap still open: the best plan so far, said to be so
            best = dataclasses.replace(
                best, outcome=dataclasses.replace(best.outcome, status=Status.TIME_LIMIT)
            )
            break
        # with binaries (zero-or-at-least, S-curves, blocks) the Lagrangian bound can keep a duality
        # gap that finer pieces cannot close: stop once a round no longer halves it
        if (
            problem.needs_binaries
            and prev_gap is not None
            and best.gap > 0.9 * prev_gap
            and residual <= kkt_tolerance
        ):
            break
        prev_gap = best.gap
        # refine around the solution and around each line item's best response to the duals
        # (where its slope meets the price of its dollars): a line item stuck on a coarse piece far
        # from its optimum gets breakpoints where it should be, not only ±40% around where it is
        pts = [
            refine_around(
                refine_around(p, float(xi), 0.0, it.hi, rel=(1e-3, 1e-2)), float(ri), 0.0, it.hi
            )
            if abs(ri - xi) > 1e-3 * max(xi, 1.0)
            else refine_around(p, float(xi), 0.0, it.hi)
            for p, xi, ri, it in zip(pts, x, responses, problem.items, strict=True)
        ]
    assert best is not None
    x, true_obj, bound, gap, out, built = (
        best.spend,
        best.objective,
        best.bound,
        best.gap,
        best.outcome,
        best.built,
    )
    budget = problem.scenario.budget
    if (
        budget is not None
        and budget.amount > 0.005
        and float(np.sum(x)) <= 0.005
        and _only_empty_plan(problem, pcs, solver)
    ):
        # not an optimum but a contradiction: the rules admit no plan that spends anything
        message = "the rules hold only if nothing is spent, and the budget is positive"
        conflicts = ()
        if diagnose:
            found = diagnose_rules(problem, pcs, solver, positive_spend=True)
            conflicts, message = found.conflicts, found.message
        return _empty_plan(problem, Status.INFEASIBLE, conflicts, message, solver, build_s, solve_s)
    return _make_plan(
        problem,
        bank,
        x,
        out,
        built,
        true_obj,
        bound,
        gap,
        solver,
        build_s,
        solve_s,
        rounds,
        t0,
        tolerance=tolerance,
    )


def plan_without_lp(
    problem: AllocationProblem,
    bank: CurveBank,
    x0: np.ndarray,
    duals: dict[str, float],
    *,
    solver: str = DEFAULT_SOLVER,
    tolerance: float = DEFAULT_TOLERANCE,
    kkt_tolerance: float = DEFAULT_KKT_TOLERANCE,
) -> Plan | None:
    """A certified plan from a guess of the plan and its shadow prices, with no LP at all: the
    polish step from ``(x0, duals)``, then the same certificate as ``solve_problem`` (the
    Lagrangian bound at the polished multipliers). None when the guess does not lead to a
    certified plan within the tolerances (the caller then solves the LP). For concave problems
    only; a budget sweep uses it with the previous budget's plan as the guess."""
    if problem.needs_binaries:
        return None
    t0 = time.perf_counter()
    pol = _feasible_polish(problem, bank, np.maximum(np.asarray(x0, float), 0.0), duals)
    if pol is None:
        return None
    x = pol.x
    value = _true_objective(problem, bank, x)
    bound, _ = _dual_bound(problem, bank, pol.duals, x)
    gap = relative_gap(problem, value, bound)
    if gap > tolerance or kkt_residual(problem, bank, pol.duals, x) > kkt_tolerance:
        return None
    out = SolveOutcome(Status.OPTIMAL, value, pol.duals, {}, 0.0, solver)
    return _make_plan(
        problem,
        bank,
        x,
        out,
        None,
        value,
        bound,
        gap,
        solver,
        0.0,
        time.perf_counter() - t0,
        0,
        t0,
        tolerance=tolerance,
    )


def plan_at(
    problem: AllocationProblem,
    x: np.ndarray,
    bound: float,
    *,
    solver: str = DEFAULT_SOLVER,
    tolerance: float = DEFAULT_TOLERANCE,
) -> Plan:
    """The plan of spend ``x`` on ``problem`` (rounded to the rules as every plan is), certified
    against ``bound``, a bound on the optimum of the problem the caller states (for a decision
    that is not this problem's own optimum, e.g. ``workflow.anchored``'s best point on a line of
    plans): its status is "optimal" when the gap to the bound is within ``tolerance``. No shadow
    prices: no LP was solved."""
    t0 = time.perf_counter()
    bank = CurveBank.of([it.curve for it in problem.items])
    x = np.asarray(x, float)
    value = _true_objective(problem, bank, x)
    gap = relative_gap(problem, value, bound)
    out = SolveOutcome(Status.OPTIMAL, value, {}, {}, 0.0, solver)
    return _make_plan(
        problem, bank, x, out, None, value, bound, gap, solver, 0.0, 0.0, 0, t0, tolerance=tolerance
    )


def _caps(problem: AllocationProblem) -> np.ndarray:
    """Each line item's own cap: the least of its single-item rules ``a x <= b`` (a > 0)."""
    cap = np.full(len(problem.items), np.inf)
    for con in problem.constraints:
        if con.on_kpi or len(con.coefs) != 1 or con.sense not in ("<=", "=="):
            continue
        ((i, a),) = con.coefs.items()
        if a > 0:
            cap[i] = min(cap[i], max(con.rhs / a, 0.0))
    # a line item whose range is empty (a stage or group cap of zero, folded into its range)
    hi = np.array([it.hi for it in problem.items])
    return np.where(hi <= 2e-9, 0.0, cap)


def _polished(
    problem: AllocationProblem, bank: CurveBank, x: np.ndarray, out: SolveOutcome
) -> tuple[np.ndarray, SolveOutcome]:
    """The LP's plan moved to the smooth problem's exact optimum for its active set, when that
    succeeds, holds every constraint and is at least as good; else the LP's plan unchanged."""
    pol = _feasible_polish(problem, bank, x, out.duals)
    if pol is None:
        return x, out
    if not _better(
        problem, _true_objective(problem, bank, pol.x), _true_objective(problem, bank, x)
    ):
        return x, out
    return pol.x, SolveOutcome(
        out.status, out.objective, pol.duals, out.slacks, out.seconds, out.solver
    )


def _feasible_polish(
    problem: AllocationProblem, bank: CurveBank, x: np.ndarray, duals: dict[str, float]
) -> Polished | None:
    """The polish step from ``(x, duals)``, kept only if its plan holds every rule to 1e-9."""
    pol = polish(problem, bank, x, duals)
    if pol is None or violation(problem, pol.x) > 1e-9:
        return None
    return pol


def _unfunded_at_zero(problem: AllocationProblem, x: np.ndarray) -> np.ndarray:
    """A zero-or-at-least line item the MILP left unfunded spends nothing. Its binary may sit
    within the solver's integrality tolerance of 0 (1e-6) and still let through cap × that
    (0.23 of a 15.5M cap on a curve worth 1e15 a unit: fuzz seed 3058), far below the
    minimum: such spend, under half the minimum, is the solver's noise and is set to 0."""
    out = x
    for i, it in enumerate(problem.items):
        m = it.min_if_funded
        if m and 0.0 < x[i] < 0.5 * m:
            if out is x:
                out = x.copy()
            out[i] = 0.0
    return out


def violation(problem: AllocationProblem, x: np.ndarray) -> float:
    """Largest violation of any constraint or bound by spend ``x``, relative to its size."""
    x = np.asarray(x, float)
    worst = float(np.max(np.maximum(-x, 0.0) / (1.0 + np.abs(x)), initial=0.0))
    for i, it in enumerate(problem.items):  # zero, or at least the minimum
        m = it.min_if_funded
        if m and 0.0 < x[i] < m:
            worst = max(worst, min(x[i], m - x[i]) / (1.0 + m))
    kvals: dict[str, np.ndarray] = {}
    for con in problem.constraints:
        if con.on_kpi:
            k = con.kpi or problem.kpi
            if k not in kvals:
                kvals[k] = kpi_bank(problem, k).value(x)
            v = kvals[k]
        else:
            v = x
        idx = np.fromiter(con.coefs.keys(), dtype=int, count=len(con.coefs))
        a = np.fromiter(con.coefs.values(), dtype=float, count=len(con.coefs))
        lhs = float(a @ v[idx]) if len(idx) else 0.0
        size = 1.0 + max(abs(con.rhs), float(np.abs(a) @ np.abs(v[idx])) if len(idx) else 0.0)
        over = lhs - con.rhs
        d = over if con.sense == "<=" else (-over if con.sense == ">=" else abs(over))
        worst = max(worst, d / size)
    return worst


def _better(problem: AllocationProblem, a: float, b: float) -> bool:
    """Is ``a`` at least as good as ``b``? Ties go to the newer round, whose pieces (and duals) are finer."""
    tie = 1e-12 * max(abs(a), abs(b), 1.0)
    return a >= b - tie if problem.sense == "max" else a <= b + tie


def _true_objective(problem: AllocationProblem, bank: CurveBank, x: np.ndarray) -> float:
    """The plan's objective on the smooth curves."""
    if problem.sense == "min":
        return float(x.sum())
    return float(bank.value(x).sum() - problem.spend_weight * x.sum())


def _binding_names(
    problem: AllocationProblem, results: Sequence[ConstraintResult]
) -> dict[int, list[str]]:
    """Per line item, the words for the binding rules it is in (``min``, a row's name …)."""
    by_item: dict[int, list[str]] = {it.index: [] for it in problem.items}
    for con, res in zip(problem.constraints, results, strict=True):
        if not res.binding:
            continue
        kind = kind_of(con.kind)
        for i, a in con.coefs.items():
            if a == 0.0:
                continue
            word = kind.binding_word(con, a)
            if word is not None:
                by_item[i].append(word)
    return by_item


def _make_plan(
    problem: AllocationProblem,
    bank: CurveBank,
    x: np.ndarray,
    out: SolveOutcome,
    built: BuiltModel | None,
    true_obj: float,
    bound: float,
    gap: float,
    solver: str,
    build_s: float,
    solve_s: float,
    rounds: int,
    t0: float,
    *,
    tolerance: float,
) -> Plan:
    spend = round_to_rules(problem, x)
    main = kpi_bank(problem, problem.kpi)  # a line item without the KPI's curve contributes 0
    kpi = main.value(spend)
    marg = main.slope(spend)
    others = sorted({k for it in problem.items for k in it.kpis if k != problem.kpi})
    other_values = {k: kpi_bank(problem, k).value(spend) for k in others}
    other_kpis = [
        {k: float(other_values[k][it.index]) for k in others if k in it.kpis}
        for it in problem.items
    ]
    results = []

    def kpi_of(i: int, k: str | None) -> float:
        k = k or problem.kpi
        return float(kpi[i]) if k == problem.kpi else other_kpis[i].get(k, 0.0)

    for con in problem.constraints:
        lhs = float(
            sum(a * (kpi_of(i, con.kpi) if con.on_kpi else spend[i]) for i, a in con.coefs.items())
        )
        if con.sense == "<=":
            slack = con.rhs - lhs
        elif con.sense == ">=":
            slack = lhs - con.rhs
        else:
            slack = -abs(lhs - con.rhs)
        tol = (
            0.015
            + 1e-7 * abs(con.rhs)
            + (1e-7 * float(spend.sum()) if kind_of(con.kind).unit_of(con) == "share" else 0.0)
        )
        binding = abs(slack) <= tol
        sp = out.duals.get(con.name)
        results.append(
            ConstraintResult(
                con.name,
                con.kind,
                con.subject,
                con.label,
                con.sense,
                float(con.rhs),
                lhs,
                float(slack),
                bool(binding),
                None if sp is None else float(sp),
            )
        )
    by_item = _binding_names(problem, results)
    with np.errstate(invalid="ignore"):
        m_l, cost = _marginals(problem, bank, out.duals, spend)
        reduced = m_l - cost
    if problem.sense == "min":
        reduced = -reduced
    items = []
    for it in problem.items:
        i = it.index
        if it.min_if_funded and spend[i] > 0 and abs(spend[i] - it.min_if_funded) <= 0.015:
            by_item[i].append(funded_word(problem, i, it.min_if_funded))
        s = float(spend[i])
        items.append(
            LineItem(
                id=it.id,
                stage=it.stage,
                spend=s,
                kpi=float(kpi[i]),
                roi=float(kpi[i] / s) if s > 0 else None,
                marginal_roi=float(marg[i]),
                binding=tuple(by_item[i]),
                weekly_spend=s / it.curve.weeks,
                lower=it.lo,
                upper=unpad_cap(it.hi),
                reduced_cost=float(reduced[i]),
                other_kpis=other_kpis[i],
                market=it.market,
                owner=it.owner,
                shares=it.market_shares(),
                market_kpi=market_kpi(it, s, problem.kpi),
            )
        )
    sc = problem.scenario
    status = certified_status(out.status, gap, tolerance)
    message = (
        f"the plan's gap to the bound on the exact optimum is {gap:.4%}, above the tolerance "
        f"{tolerance:.4%}: it holds every rule but is not certified optimal"
        if status == "not_certified"
        else ""
    )
    status, message = said_in_cents(
        results, [c.on_kpi for c in problem.constraints], status, message
    )
    return Plan(
        scenario=sc.name,
        # "optimal" means certified: a plan whose gap stayed above the tolerance says so
        status=status,
        message=message,
        objective=sc.objective,
        kpi=problem.kpi,
        horizon_weeks=sc.horizon_weeks,
        budget=None if sc.budget is None else sc.budget.amount,
        line_items=tuple(items),
        constraints=tuple(results),
        objective_value=true_obj,
        bound=bound,
        gap=gap,
        solver=solver,
        build_seconds=build_s,
        solve_seconds=solve_s,
        rounds=rounds,
        pieces=int(sum(len(p.widths) for p in built.pieces)) if built else 0,
        source=sc.source,
        stages=problem.stages,
        markets=problem.markets,
    )


def _empty_plan(
    problem: AllocationProblem,
    status: Status,
    conflicts: tuple[str, ...],
    message: str,
    solver: str,
    build_s: float,
    solve_s: float,
) -> Plan:
    sc = problem.scenario
    return Plan(
        scenario=sc.name,
        status=status,
        objective=sc.objective,
        kpi=problem.kpi,
        horizon_weeks=sc.horizon_weeks,
        budget=None if sc.budget is None else sc.budget.amount,
        conflicts=conflicts,
        message=message,
        solver=solver,
        build_seconds=build_s,
        solve_seconds=solve_s,
        source=sc.source,
        stages=problem.stages,
        markets=problem.markets,
    )


def diagnose_infeasible(
    problem: AllocationProblem, pcs: Sequence[Pieces], solver: str = DEFAULT_SOLVER
) -> tuple[tuple[str, ...], str]:
    """Names of a small set of rules that cannot all hold, and a sentence with fixes (see
    ``optimizer.allocate.diagnose``)."""
    d = diagnose_rules(problem, pcs, solver)
    return d.conflicts, d.message


def _only_empty_plan(problem: AllocationProblem, pcs: Sequence[Pieces], solver: str) -> bool:
    """Do the rules hold only when nothing is spent? (Share floors summing above 100%, say.)"""
    probe = dataclasses.replace(
        problem, constraints=(*problem.constraints, positive_spend_row(problem))
    )
    built = build_model(probe, pcs, objective=False)
    return solve(built, solver).status == Status.INFEASIBLE
