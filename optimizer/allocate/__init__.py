"""Allocation: curves → breakpoints → PuLP model → solve → certified ``Plan``."""

from optimizer.allocate.certificate import dual_bound
from optimizer.allocate.engine import (
    DEFAULT_TOLERANCE,
    allocate,
    diagnose_infeasible,
    plan_at,
    plan_problem,
    prepare_problem,
    solve_problem,
)
from optimizer.allocate.plan import ConstraintResult, LineItem, Plan
from optimizer.allocate.problem import AllocationProblem, make_problem
from optimizer.allocate.solve import DEFAULT_SOLVER, SOLVERS, Status

__all__ = [
    "DEFAULT_SOLVER",
    "DEFAULT_TOLERANCE",
    "SOLVERS",
    "AllocationProblem",
    "ConstraintResult",
    "LineItem",
    "Plan",
    "Status",
    "allocate",
    "diagnose_infeasible",
    "dual_bound",
    "make_problem",
    "plan_at",
    "plan_problem",
    "prepare_problem",
    "solve_problem",
]
