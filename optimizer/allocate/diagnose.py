"""Why a scenario is infeasible: a small set of rules that cannot all hold, and fixes that work.

The conflict is an irreducible infeasible subset (drop any one rule and the rest can hold), found
by a deletion filter over every rule the scenario states: the rows of ``problem.constraints`` and
the integer rules of ``problem.item_rules`` (zero-or-at-least, blocks). The filter runs on the
line items' *open* ranges: a cap that ``make_problem`` folded into a line item's range (to place
its pieces) is enforced only by its own row here, so it can be named like any other rule.

The fixes come from an elastic model: every rule outside the conflict holds, each conflicting
rule may be violated at a cost, and the least total violation gives a plan ``x*``. Moving each
conflicting rule (by its kind's ``step_to_hold``, rounded outwards) so that it holds at ``x*``
makes ``x*`` feasible: applying the fixes together always gives a feasible scenario.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from optimizer.allocate.bank import CurveBank
from optimizer.allocate.breakpoints import Pieces, bank_pieces
from optimizer.allocate.build import BuiltModel, build_model
from optimizer.allocate.problem import (
    CAP_MARGIN,
    AllocationProblem,
    LinearConstraint,
    saturation_spend,
)
from optimizer.allocate.solve import DEFAULT_SOLVER, Status, solve
from optimizer.scenario.rules import ITEM_RULE_ROLE, Fix, kind_of

#: the row that asks a plan to spend something: kept in every trial when diagnosing rules that
#: only an empty plan meets (``solve_problem`` adds it when the budget is positive)
POSITIVE_SPEND = "positive_spend"


@dataclass(frozen=True)
class Diagnosis:
    """The conflicting rules (names), fixes that resolve them together, and a sentence saying so."""

    conflicts: tuple[str, ...]
    fixes: tuple[Fix, ...]
    message: str


def positive_spend_row(problem: AllocationProblem) -> LinearConstraint:
    """``Σ spend ≥ 1 cent``: a plan that spends anything at all."""
    return LinearConstraint(
        POSITIVE_SPEND,
        POSITIVE_SPEND,
        "",
        ">=",
        0.01,
        {it.index: 1.0 for it in problem.items},
        "spending anything at all",
    )


def _open_box(
    problem: AllocationProblem, pcs: Sequence[Pieces]
) -> tuple[AllocationProblem, list[Pieces]]:
    """The problem with each line item's range opened to the largest amount any rule names (or,
    with rules on KPI, to where its curves saturate), pieces extended geometrically beyond the
    current ones: no rule is folded into a range any more."""
    money_rhs = max((abs(c.rhs) for c in problem.constraints if not c.on_kpi), default=0.0)
    on_kpi = any(c.on_kpi for c in problem.constraints)
    items, points = [], []
    for it, pc in zip(problem.items, pcs, strict=True):
        top = max(it.hi, money_rhs * CAP_MARGIN, 1.0)
        if on_kpi:
            sat = max(saturation_spend(c) for c in (it.curve, *it.kpis.values()))
            top = max(top, min(sat, 1e12) * CAP_MARGIN)
        last = float(pc.points[-1])
        extra = np.geomspace(max(last, 1.0), top, 9)[1:] if top > last else np.array([])
        points.append(np.unique(np.concatenate([pc.points, extra])))
        items.append(dataclasses.replace(it, hi=float(max(top, last))))
    opened = dataclasses.replace(problem, items=tuple(items))
    bank = CurveBank.of([it.curve for it in opened.items])
    return opened, bank_pieces(bank, points)


def _feasible(
    problem: AllocationProblem, pcs: Sequence[Pieces], names: set[str], solver: str
) -> bool:
    built = build_model(problem, pcs, include=names, objective=False)
    return solve(built, solver).status != Status.INFEASIBLE


def _deletion_filter(
    problem: AllocationProblem,
    pcs: Sequence[Pieces],
    candidates: list[str],
    pinned: set[str],
    solver: str,
) -> list[str]:
    """A subset of ``candidates`` that is infeasible with ``pinned`` and irreducible; chunks are
    removed first, so that thousands of rules need few solves."""
    core = list(candidates)
    i = 0
    chunk = max(1, len(core) // 4)
    while i < len(core):
        trial = core[:i] + core[i + chunk :]
        if not _feasible(problem, pcs, set(trial) | pinned, solver):
            core = trial
        elif chunk > 1:
            chunk = max(1, chunk // 2)
        else:
            i += 1
    return core


def diagnose(
    problem: AllocationProblem,
    pcs: Sequence[Pieces],
    solver: str = DEFAULT_SOLVER,
    *,
    positive_spend: bool = False,
) -> Diagnosis:
    """The conflicting rules of an infeasible ``problem`` (solved on pieces ``pcs``), with fixes.

    ``positive_spend``: the rules hold only for an empty plan although the budget is positive;
    the conflict is then with spending anything at all.
    """
    pinned_rows = [positive_spend_row(problem)] if positive_spend else []
    pinned = {r.name for r in pinned_rows}
    problem = dataclasses.replace(problem, constraints=(*problem.constraints, *pinned_rows))
    opened, open_pcs = _open_box(problem, pcs)
    rows = [c.name for c in problem.constraints if c.name not in pinned]
    integer = [
        r.name
        for r in problem.item_rules
        if (ITEM_RULE_ROLE.get(r.kind) == "funded" and problem.items[r.item].min_if_funded)
        or (ITEM_RULE_ROLE.get(r.kind) == "block" and problem.items[r.item].block)
    ]
    candidates = rows + integer
    if _feasible(opened, open_pcs, set(candidates) | pinned, solver):
        # the open ranges' pieces hold a rule on KPI that the solve's pieces could not: diagnose on
        # those (a cap folded into a range is then part of the box, not named)
        opened, open_pcs = problem, list(pcs)
    if not _feasible(opened, open_pcs, pinned, solver):  # pragma: no cover - the box is feasible
        return Diagnosis((), (), "the constraints cannot all hold")
    core = _deletion_filter(opened, open_pcs, candidates, pinned, solver)
    fixes, also = _fixes(opened, open_pcs, core, pinned, solver)
    return Diagnosis(
        tuple(core),
        fixes,
        _sentence(problem, core, fixes, positive_spend, [_label(problem, n) for n in also]),
    )


def _label(problem: AllocationProblem, name: str) -> str:
    for c in problem.constraints:
        if c.name == name:
            return c.label
    for r in problem.item_rules:
        if r.name == name:
            return r.label
    return name


def _outward(step: float, unit: str, rhs: float = 0.0, direction: str = "lower") -> float:
    """A fix rounded away from the conflict (to cents for money, to 0.01 points for a share, to
    1e-4 for a ratio), with room for the next solve's pieces on a rule on KPI: 1% of the KPI the
    moved rule asks for, and 1 unit. (1% of the step itself would ask to lower a target that no
    spend can reach by more than the whole target: 1e11 by 1.0095e11.)"""
    scale = {"share": 1e4, "ratio": 1e4}.get(unit, 100.0)
    if unit == "kpi":
        moved = rhs - step if direction == "lower" else rhs + step
        step = step + 0.01 * abs(moved) + 1.0
    return math.ceil(round(step * scale, 6)) / scale


def _fixes(
    problem: AllocationProblem,
    pcs: Sequence[Pieces],
    core: list[str],
    pinned: set[str],
    solver: str,
) -> tuple[tuple[Fix, ...], list[str]]:
    """Moves of the conflicting rows that make the least-violation plan ``x*`` feasible (the
    other rules held rigid when they can be, else left out), and the rules outside the conflict
    that the moves must satisfy too (named when a move is larger than the conflict alone asks).

    The least total (relative) violation may spread over several rules where moving one of them
    would do: at a budget of 0 with two floors, the budget is raised for one floor and the other
    floor lowered. When it does, each conflicting row is tried alone (the only one that may
    move); the smallest relative move that resolves the conflict alone is suggested instead."""
    rows = {c.name: c for c in problem.constraints}
    elastic = [n for n in core if n in rows]
    if not elastic:
        return (), []
    every = {c.name for c in problem.constraints} | {r.name for r in problem.item_rules}
    for include, rigid in ((None, every - set(elastic)), (set(core) | pinned, pinned)):
        trial = build_model(problem, pcs, include=include, elastic=True, rigid=rigid)
        if solve(trial, solver).status == Status.OPTIMAL:
            break
    else:
        return (), []
    fixes = _moves(problem, trial, core)
    best: tuple[float, tuple[Fix, ...], BuiltModel, list[str]] | None = None
    if len(fixes) > 1:
        for name in elastic:
            one = build_model(
                problem, pcs, include=include, elastic=True, rigid=rigid | (set(elastic) - {name})
            )
            if solve(one, solver).status != Status.OPTIMAL:
                continue
            moved = _moves(problem, one, core)
            size = _violation(one, [name], rows)
            if len(moved) == 1 and (best is None or size < best[0] - 1e-12):
                best = (size, moved, one, [name])
    if best is None:
        best = (_violation(trial, elastic, rows), fixes, trial, elastic)
    size, fixes, built, moving = best
    if include is not None:  # the other rules are left out: the moves cover nothing else
        return fixes, []
    # the rules outside the conflict that make the moves as large as they are (a non-zero dual
    # is a candidate; it is named if the least violation is smaller without it). Nothing to
    # name when the conflict's rules alone ask for as much (one solve); at most MAX_COVERED
    # candidates are tried (a solve each)
    alone = build_model(
        problem,
        pcs,
        include=set(core) | pinned,
        elastic=True,
        rigid=(set(core) | pinned) - set(moving),
    )
    if solve(alone, solver).status == Status.OPTIMAL:
        if _violation(alone, moving, rows) >= size * (1 - 1e-6) - 1e-9:
            return fixes, []
    candidates = [
        n
        for n, c in built.constraints.items()
        if n not in core and n not in pinned and abs(c.pi or 0.0) > 1e-9
    ]
    also = []
    for n in candidates[:MAX_COVERED]:
        keep = every - {n}
        trial = build_model(problem, pcs, include=keep, elastic=True, rigid=keep - set(moving))
        if solve(trial, solver).status == Status.OPTIMAL:
            if _violation(trial, moving, rows) < size * (1 - 1e-6) - 1e-9:
                also.append(n)
    return fixes, also


#: the most rules outside a conflict tried (a solve each) to name those a suggested move covers
MAX_COVERED = 12


def _violation(built: BuiltModel, names: Sequence[str], rows: dict) -> float:
    """An elastic model's violation of rows ``names``, each relative to its amount (as the
    elastic objective weighs it)."""
    return sum(
        _elastic_value(built.elastic, n, side) / max(abs(rows[n].rhs), 1.0)
        for n in names
        for side in ("__plus", "__minus")
    )


def _moves(problem: AllocationProblem, built: BuiltModel, core: list[str]) -> tuple[Fix, ...]:
    """The moves of the conflicting rows that make an elastic model's plan ``x*`` feasible."""
    rows = {c.name: c for c in problem.constraints}
    x = np.maximum(built.spend_values(), 0.0)
    fixes = []
    for name in core:
        con = rows.get(name)
        if con is None:
            continue
        short = _elastic_value(built.elastic, con.name, "__plus")
        over = _elastic_value(built.elastic, con.name, "__minus")
        fix = move_to_hold(con, x, short, over)
        if fix is not None:
            fixes.append(fix)
    return tuple(fixes)


def move_to_hold(
    con: LinearConstraint, x: Sequence[float], short: float, over: float
) -> Fix | None:
    """The move of rule ``con`` that makes it hold at the elastic plan ``x`` (spend by decision,
    indexed as its coefficients): a rule on money or KPI by its violation there (``short``: what
    its left-hand side lacked; ``over``: what it had too much), a share or ratio by its kind's
    ``step_to_hold``; rounded outwards (``_outward``). None when it holds. The undated
    diagnosis' and the phased one's (``phased_lp.phased_fixes``)."""
    kind = kind_of(con.kind)
    unit = kind.unit_of(con)
    if unit in ("money", "kpi"):
        move = ("raise", over) if over > short else ("lower", short)
        if move[1] <= 1e-9 * (1.0 + abs(con.rhs)):
            return None
    else:
        held = kind.step_to_hold(con, x, con.lhs(x))
        if held is None:
            return None
        move = held
    step = _outward(move[1], unit, con.rhs, move[0])
    if (
        move[0] == "lower"
        and con.sense == ">="
        and con.rhs > 0
        and all(a >= 0 for a in con.coefs.values())
    ):
        # a floor on a sum of spends or KPIs (never negative) holds once lowered to 0: it
        # is never lowered past it (a KPI floor of 100,000 "lowered by 100,001")
        step = min(step, con.rhs)
    return Fix(con.name, con.label, move[0], step, unit)


def _elastic_value(elastic: dict | None, name: str, side: str) -> float:
    v = (elastic or {}).get(name + side)
    return float(v.varValue or 0.0) if v is not None else 0.0


#: where a diagnosis' sentence turns from the rules that conflict to the fixes it suggests
RESOLVE = "; to resolve it, for example "


def _sentence(
    problem: AllocationProblem,
    core: list[str],
    fixes: Sequence[Fix],
    positive_spend: bool,
    also: Sequence[str] = (),
) -> str:
    if not core:
        return "the constraints cannot all hold"
    labels = [_label(problem, n) for n in core]
    if positive_spend:
        verb = "hold" if len(labels) == 1 else ("both hold" if len(labels) == 2 else "all hold")
        text = (
            f"{_and(labels)} cannot {verb} with any spend: only an empty plan meets "
            f"{'it' if len(labels) == 1 else 'them'}, and the budget is positive"
        )
    elif len(labels) == 1:
        text = f"{labels[0]} cannot hold"
    elif len(labels) == 2:
        text = f"{labels[0]} and {labels[1]} cannot both hold"
    else:
        text = f"{_and(labels)} cannot all hold"
    if fixes:
        text += f"{RESOLVE}{' and '.join(f.words for f in fixes)}"
        if also:
            text += f" (enough for {_and(list(also))} too)"
    return text


def _and(words: Sequence[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"
