"""Solve a built model: the one place that picks a solver, maps its status to ours and normalises
the sign of its duals.

Sign convention (contract 6): a constraint's ``shadow_price`` is the change in the objective per
unit increase of its right-hand side, in the objective's own units and sense. PuLP passes the
solvers' raw duals through: CBC reports them for the problem as stated; HiGHS (through PuLP) for the
minimisation it actually solves, so when maximising its signs are flipped. ``normalise_dual`` is
the only code that knows this, and ``tests/test_golden_lp.py`` checks it for every solver.
"""

from __future__ import annotations

import enum
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pulp

from optimizer.allocate.build import BuiltModel
from optimizer.errors import SolverError

SOLVERS = ("highs", "cbc")
DEFAULT_SOLVER = "highs"

#: Whether a solver's row duals can be used as shadow prices. The cbc binary that pulp[cbc]
#: installs (cbcbox 2.935) reports row duals that are not a dual solution (basic columns with
#: non-zero reduced costs; tests/test_golden_lp.py shows it), so with --solver cbc the plan is
#: CBC's and the shadow prices come from HiGHS on the same LP at that plan.
DUALS_TRUSTED = {"highs": True, "cbc": False}


class Status(enum.StrEnum):
    OPTIMAL = "optimal"
    INFEASIBLE = "infeasible"
    UNBOUNDED = "unbounded"
    TIME_LIMIT = "time_limit"
    ERROR = "error"


@dataclass(frozen=True)
class SolveOutcome:
    status: Status
    objective: float | None
    duals: dict[str, float]  # our constraint name → normalised shadow price
    slacks: dict[str, float]
    seconds: float
    solver: str


_HIGHS_QUIET = False


def _silence_highs_banner() -> None:
    """HiGHS prints a banner on stdout the first time a solver is made; machine formats own stdout."""
    global _HIGHS_QUIET
    if _HIGHS_QUIET:
        return
    _HIGHS_QUIET = True
    try:
        import highspy
    except ImportError:  # pragma: no cover
        return
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def cbc_path() -> str | None:
    """The ``cbc`` binary that ``pulp[cbc]`` installs beside this Python, or one on PATH."""
    here = Path(sys.executable).parent / ("cbc.exe" if os.name == "nt" else "cbc")
    if here.exists():
        return str(here)
    return shutil.which("cbc")


#: above this many columns an LP goes to HiGHS's interior-point method (with crossover, so the
#: solution and duals stay basic): its simplex was 3x slower at 120k columns (benchmarks/README.md)
IPM_COLUMNS = 20_000


def make_solver(name: str, *, mip: bool, time_limit: float | None = None, msg: bool = False,
                gap: float | None = None, columns: int = 0) -> pulp.LpSolver:
    name = name.lower()
    if name == "highs":
        _silence_highs_banner()
        # presolve is pathologically slow on our shape (few rows, many bounded columns)
        opts: dict[str, object] = {"presolve": "off"} if not mip else {}
        if not mip and columns > IPM_COLUMNS:
            opts["solver"] = "ipm"
        return pulp.HiGHS(msg=msg, timeLimit=time_limit, mip=mip, gapRel=gap, threads=1, **opts)
    if name == "cbc":
        path = cbc_path()
        if path is None:
            raise SolverError("the CBC solver binary 'cbc' was not found; install it with "
                              "pip install 'pulp[cbc]' or choose --solver highs", field="solver")
        return pulp.COIN_CMD(path=path, msg=msg, timeLimit=time_limit, mip=mip, gapRel=gap)
    raise SolverError(f"unknown solver {name!r}; choose one of: {', '.join(SOLVERS)}", field="solver")


def normalise_dual(raw: float, solver: str, maximise: bool) -> float:
    """Raw solver dual → d(objective)/d(rhs) in the objective's own sense."""
    if raw is None:
        return 0.0
    v = float(raw)
    if solver == "highs" and maximise:
        v = -v
    return v + 0.0  # no negative zero


def solve(built: BuiltModel, solver: str = DEFAULT_SOLVER, *, time_limit: float | None = None,
          gap: float | None = None) -> SolveOutcome:
    return solve_prob(built.prob, built.constraints, solver, mip=built.is_mip,
                      time_limit=time_limit, gap=gap)


def solve_prob(prob: pulp.LpProblem, constraints: dict[str, pulp.LpConstraint],
               solver: str = DEFAULT_SOLVER, *, mip: bool = False, time_limit: float | None = None,
               gap: float | None = None) -> SolveOutcome:
    """Solve any PuLP problem; duals and slacks of ``constraints`` (our name → PuLP constraint)."""
    s = make_solver(solver, mip=mip, time_limit=time_limit, gap=gap, columns=prob.numVariables())
    t0 = time.perf_counter()
    try:
        prob.solve(s)
    except pulp.PulpSolverError as e:
        raise SolverError(f"the {solver} solver failed: {e}", field="solver") from None
    secs = time.perf_counter() - t0
    st = prob.status
    sol = prob.sol_status
    if st == pulp.LpStatusOptimal and sol == pulp.LpSolutionOptimal:
        status = Status.OPTIMAL
    elif st == pulp.LpStatusOptimal and sol == pulp.LpSolutionIntegerFeasible:
        status = Status.TIME_LIMIT if time_limit is not None else Status.OPTIMAL
    elif st == pulp.LpStatusInfeasible:
        status = Status.INFEASIBLE
    elif st == pulp.LpStatusUnbounded:
        status = Status.UNBOUNDED
    elif st == pulp.LpStatusNotSolved and time_limit is not None:
        status = Status.TIME_LIMIT
    else:
        status = Status.ERROR
    maximise = prob.sense == pulp.LpMaximize
    duals: dict[str, float] = {}
    slacks: dict[str, float] = {}
    if status in (Status.OPTIMAL, Status.TIME_LIMIT):
        for name, con in constraints.items():
            duals[name] = normalise_dual(con.pi, solver, maximise) if not mip else 0.0
            slacks[name] = float(con.slack) if con.slack is not None else 0.0
    obj = pulp.value(prob.objective) if status in (Status.OPTIMAL, Status.TIME_LIMIT) else None
    return SolveOutcome(status, None if obj is None else float(obj), duals, slacks, secs, solver)
