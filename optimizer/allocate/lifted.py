"""The lifted-MILP bound on the exact optimum, for problems with binaries (S-curves,
zero-or-at-least, blocks) where the Lagrangian bound need not close: pieces raised onto or above the
curves make a relaxation whose MILP dual bound bounds the smooth optimum."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from optimizer.allocate.bank import CurveBank
from optimizer.allocate.breakpoints import Pieces, bank_pieces, lifted, piece_errors
from optimizer.allocate.build import build_model
from optimizer.allocate.certificate import relative_gap
from optimizer.allocate.plan import Plan
from optimizer.allocate.polish import kpi_bank
from optimizer.allocate.problem import AllocationProblem
from optimizer.allocate.solve import Status, solve
from optimizer.formatting import HALF_CENT, money
from optimizer.scenario.rules import Fix

#: how many sub-pieces each concave piece is split into for the lifted-MILP bound (binaries and S-curves)
_BOUND_SPLIT = 16
#: the finer lifted bound splits no line item's pieces beyond this many breakpoints
_MAX_BOUND_POINTS = 96


def mip_gap(tolerance: float) -> float:
    """The MILP's own relative gap: a tenth of the plan's tolerance, so that it does not use it up."""
    return max(1e-9, 0.1 * tolerance)


def tighter(problem: AllocationProblem, a: float, b: float) -> float:
    return min(a, b) if problem.sense == "max" else max(a, b)


def lifted_bound(
    problem: AllocationProblem,
    bank: CurveBank,
    pcs: Sequence[Pieces],
    time_limit: float | None,
    tolerance: float,
    scale: float = 1.0,
) -> tuple[float, np.ndarray, float] | None:
    """A bound on the smooth optimum from the MILP over lifted pieces: each breakpoint raised by
    the interpolation error of the pieces beside it, so the pieces lie on or above the curve
    everywhere. Lifting the objective's curves (when maximising) and the curves of KPI floors and
    targets (rows ``Σ a F_k ≥ b`` with ``a ≥ 0``) only makes every plan worth more and every floor
    easier, so the MILP over them is a relaxation: its dual bound bounds the true optimum (from
    above when maximising, from below for ``min_spend``). Returns (bound, the lifted MILP's plan,
    seconds), or None where it does not apply (a row capping a KPI, or a negative coefficient on
    one, would need its pieces lowered instead)."""
    kpi_rows = [c for c in problem.constraints if c.on_kpi]
    if any(c.sense != ">=" or any(a < 0 for a in c.coefs.values()) for c in kpi_rows):
        return None
    kbanks = {k: kpi_bank(problem, k) for k in sorted({c.kpi or problem.kpi for c in kpi_rows})}
    banks = ([bank] if problem.sense == "max" else []) + list(kbanks.values())
    if not banks:
        return None
    # the bound is only as tight as the pieces' errors: split every piece a curve bulges above
    # (the concave ones: no binaries needed, so the MILP stays as hard as it was) into
    # _BOUND_SPLIT, which divides its error by about _BOUND_SPLIT²
    points = [p.points for p in pcs]
    bulges = [np.zeros(len(p.widths), bool) for p in pcs]
    for b in banks:
        for i, e in enumerate(piece_errors(b, bank_pieces(b, points))):
            bulges[i] |= e > 0
    t = np.linspace(0.0, 1.0, _BOUND_SPLIT + 1)[1:-1]
    pts = []
    for p, bulge in zip(pcs, bulges, strict=True):
        idx = np.flatnonzero(bulge)
        inner = (p.points[idx, None] + p.widths[idx, None] * t).ravel()
        pts.append(np.unique(np.concatenate([p.points, inner])))
    found = _lifted_milp(problem, bank, kbanks, pts, time_limit, tolerance)
    if found is None or relative_gap(problem, scale, found[0]) <= tolerance:
        return found
    # still loose: split the pieces the curves bulge above by more than a share of the tolerance
    # and solve again (only now: the finer MILP can be far slower, and most bounds close without it)
    finer = _split_where_loose(banks, pts, 0.05 * tolerance * max(abs(scale), 1e-9) / len(pcs))
    # a time-limited MILP still proves a bound (its dual bound): worth a few times the first solve
    budget_s = max(2.0, 5.0 * found[2])
    limit = budget_s if time_limit is None else min(time_limit, budget_s)
    again = _lifted_milp(problem, bank, kbanks, finer, limit, tolerance)
    if again is None:
        return found
    return tighter(problem, again[0], found[0]), again[1], found[2] + again[2]


def lifted_plan(
    problem: AllocationProblem,
    bank: CurveBank,
    pcs: Sequence[Pieces],
    time_limit: float | None,
    tolerance: float,
) -> np.ndarray | None:
    """A plan of the MILP whose KPI rules are on pieces lifted onto or above the curves (a
    relaxation), or None when it is infeasible too (then the rules cannot hold on the curves
    either) or does not apply. The pieces of a KPI target or floor lie under a concave curve, so
    the plan's own LP can be infeasible where the curves are not: a min_spend target of 900,000
    under a budget of 311,613.74, which buys 900,000.03, was called infeasible."""
    kpi_rows = [c for c in problem.constraints if c.on_kpi]
    if not kpi_rows or any(
        c.sense != ">=" or any(a < 0 for a in c.coefs.values()) for c in kpi_rows
    ):
        return None
    kbanks = {k: kpi_bank(problem, k) for k in sorted({c.kpi or problem.kpi for c in kpi_rows})}
    found = _lifted_milp(problem, bank, kbanks, [p.points for p in pcs], time_limit, tolerance)
    return None if found is None else found[1]


def _lifted_milp(
    problem: AllocationProblem,
    bank: CurveBank,
    kbanks: dict[str, CurveBank],
    pts: list[np.ndarray],
    time_limit: float | None,
    tolerance: float,
) -> tuple[float, np.ndarray, float] | None:
    """The MILP over pieces at ``pts`` lifted onto or above the curves: (bound, plan, seconds)."""
    fine = bank_pieces(bank, pts)
    up = lifted(fine, piece_errors(bank, fine)) if problem.sense == "max" else fine
    kpi_pieces: dict[tuple[str, int], Pieces] = {}
    for k, kb in kbanks.items():
        kp = bank_pieces(kb, pts)
        for i, piece in enumerate(lifted(kp, piece_errors(kb, kp))):
            kpi_pieces[(k, i)] = piece
    built = build_model(problem, up, tiebreak=False, kpi_pieces=kpi_pieces)
    out = solve(
        built, "highs", time_limit=time_limit, gap=mip_gap(tolerance) if built.is_mip else None
    )
    if out.status not in (Status.OPTIMAL, Status.TIME_LIMIT) or out.bound is None:
        return None
    return out.bound, np.maximum(built.spend_values(), 0.0), out.seconds


def _split_where_loose(
    banks: Sequence[CurveBank], pts: list[np.ndarray], eps: float, rounds: int = 3
) -> list[np.ndarray]:
    """Split the pieces a curve still bulges above by more than ``eps`` (in objective units): the
    lifted bound is loose by about the largest lift. A piece starting at zero is split
    geometrically (a curve with an infinite slope at zero, hill shape < 1, bulges most there and
    uniform splits barely help), the others uniformly. At most ``rounds`` passes."""
    t = np.linspace(0.0, 1.0, 9)[1:-1]
    geo = 0.5 ** np.arange(1, 41)
    for _ in range(rounds):
        loose = [np.zeros(len(p) - 1, bool) for p in pts]
        for b in banks:
            for i, e in enumerate(piece_errors(b, bank_pieces(b, pts))):
                loose[i] |= e > eps
        if not any(m.any() for m in loose):
            break
        out = []
        for p, m in zip(pts, loose, strict=True):
            idx = np.flatnonzero(m)
            if (
                not len(idx) or len(p) >= _MAX_BOUND_POINTS
            ):  # a bigger MILP costs more than it gains
                out.append(p)
                continue
            lo, w = p[idx], np.diff(p)[idx]
            add = [(lo[:, None] + w[:, None] * t).ravel()]
            at0 = idx[lo <= 0.0]
            if len(at0):
                g = (p[at0 + 1][:, None] * geo).ravel()
                add.append(g[g > 1e-3])  # a tenth of a cent is fine enough
            out.append(np.unique(np.concatenate([p, *add])))
        pts = out
    return pts


def least_spend_within_budget(
    problem: AllocationProblem, solve_problem: Callable[..., Plan], **options: Any
) -> Plan | None:
    """A min_spend plan whose budget equals its least spend (to the cent), or None.

    The KPI target's pieces lie under the concave curves, so the plan's LP needs a little more
    spend than the curves do: a target of 900,000 whose least spend is 311,613.74 was called
    infeasible under a budget of exactly 311,613.74 (and planned at 311,613.74 under 311,614).
    The budget does not price a min_spend plan (spending less is the objective), so the plan is
    the least-spend plan of the scenario with the budget's row given room (0.1% of it), kept
    when it spends no more than the budget (to half a cent); its ``budget`` row is then reported
    against the budget's own amount (shadow price 0: more budget would not lower the spend).
    ``solve_problem``: the engine's, with ``options`` (solver, tolerance …)."""
    if problem.sense != "min":
        return None
    con = next((c for c in problem.constraints if c.name == "budget"), None)
    if con is None or con.sense != "<=" or con.on_kpi:
        return None
    room = max(1.0, 1e-3 * abs(con.rhs))
    relaxed = dataclasses.replace(
        problem,
        constraints=tuple(
            dataclasses.replace(c, rhs=c.rhs + room) if c is con else c for c in problem.constraints
        ),
    )
    return within_budget(solve_problem(relaxed, diagnose=False, **options), float(con.rhs))


def within_budget(plan: Plan, budget: float) -> Plan | None:
    """``plan`` (a min_spend plan solved with the budget's row given room) when it spends no more
    than ``budget`` (to half a cent), its ``budget`` row reported against the budget's own
    amount (shadow price 0: more budget would not lower the spend); else None. The undated
    plan's (``least_spend_within_budget``) and the phased plan's."""
    if not plan.ok or plan.total_spend > budget + HALF_CENT:
        return None
    rows = []
    for r in plan.constraints:
        if r.kind == "budget":
            slack = budget - r.lhs
            binding = abs(slack) <= 0.015 + 1e-7 * abs(budget)
            r = dataclasses.replace(r, rhs=budget, slack=slack, binding=binding, shadow_price=0.0)
        rows.append(r)
    return dataclasses.replace(plan, constraints=tuple(rows))


def target_within_budget(
    problem: AllocationProblem, plan: Plan, solve_problem: Callable[..., Plan], **options: Any
) -> Plan:
    """An infeasible ``min_spend`` plan whose KPI target is among the rules that conflict, its
    message suggesting the target's real relaxation (``target_reached``), from a ``max_kpi``
    plan of the other rules on the curves; else ``plan`` as it is. The diagnosis moves rules on
    its pieces, which lie under the curves, and pads a move on KPI by 1% of what the rule asks
    (room for the next solve's pieces): a budget one cent under the least spend of a target of
    900,000 was told to lower the target by 9,001.04, where 0.01 does. ``solve_problem``: the
    engine's, with ``options``."""
    if problem.sense != "min" or "kpi_target" not in plan.conflicts:
        return plan
    target = problem.constraint("kpi_target")
    reach = dataclasses.replace(
        problem,
        scenario=reaching(problem.scenario),
        constraints=tuple(c for c in problem.constraints if c.name != target.name),
        sense="max",
        spend_weight=0.0,
    )
    best = solve_problem(reach, diagnose=False, **options)
    return target_reached(plan, target.label, target.rhs, problem.kpi, best)


def reaching(scenario: Any) -> Any:
    """A ``min_spend`` scenario as the most KPI its other rules allow: ``max_kpi``, no target."""
    return scenario.model_copy(update={"objective": "max_kpi", "kpi_target": None})


def target_reached(
    plan: Plan,
    label: str,
    target: float,
    kpi: str,
    best: Plan,
    to: float | None = None,
    name: str = "kpi_target",
) -> Plan:
    """``plan`` (infeasible, its KPI target of ``target`` among the rules that conflict) with its
    message suggesting the target less the most KPI the other rules allow (``best``: their
    ``max_kpi`` plan, in cents), up to the cent: the target lowered so is met by ``best``. The
    step needed is at least the target less ``best``'s bound (both said when they differ by a
    cent or more). Where ``best`` meets the target (the target is within the solve's precision
    of what the budget buys: the plan's pieces need a little more spend than the curves) that
    is said, with no step. ``to``: the target the scenario was found to plan (the phased
    path's ``phased_target.planned_target``), suggested instead where it is lower: "less X for
    the solve's precision". ``name``: the rule's row (a KPI floor's, ``kpi_floor.floor_within_rules``).
    ``plan`` as it is when ``best`` is no plan."""
    if not best.ok:
        return plan
    from optimizer.allocate.diagnose import RESOLVE

    head = plan.message.split(RESOLVE)[0]
    most = money(best.total_kpi, "any")
    if to is not None and to < min(target, best.total_kpi) - HALF_CENT:
        step = math.ceil(round((target - to) * 100.0, 6)) / 100.0
        fix = Fix(name, label, "lower", step, "kpi")
        return dataclasses.replace(
            plan,
            message=f"{head}{RESOLVE}{fix.words}, to {money(to, 'any')}, which is planned (the "
            f"most {kpi} the other rules allow is {most}, less "
            f"{money(best.total_kpi - to, 'any')} for the solve's precision: it meets "
            f"{'a target' if name == 'kpi_target' else 'a floor'} on its pieces and in cents)",
        )
    if best.total_kpi >= target:
        return dataclasses.replace(
            plan,
            message=f"{head} on the solve's pieces, though a plan of the other rules reaches "
            f"{most} of {kpi} on the curves: the target is within the solve's precision of what "
            "the budget buys; raise the budget or lower the target a little",
        )
    step = math.ceil(round((target - best.total_kpi) * 100.0, 6)) / 100.0
    bound = best.bound if best.bound is not None else best.total_kpi
    if bound - best.total_kpi >= HALF_CENT:
        most = f"between {most} and {money(bound, 'any')} (certified within its gap)"
    fix = Fix(name, label, "lower", step, "kpi")
    return dataclasses.replace(
        plan,
        message=f"{head}{RESOLVE}{fix.words}, to {money(target - step, 'any')} (the most "
        f"{kpi} the other rules allow is {most})",
    )
