"""Solve a built model: the one place that picks a solver, maps its status to ours and normalises
the sign of its duals.

Sign convention (contract 6): a constraint's ``shadow_price`` is the change in the objective per
unit increase of its right-hand side, in the objective's own units and sense. PuLP passes the
solvers' raw duals through: CBC reports them for the problem as stated; HiGHS (through PuLP) for the
minimisation it actually solves, so when maximising its signs are flipped. ``normalise_dual`` is
the only code that knows this, and ``tests/test_golden_lp.py`` checks it for every solver.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pulp

from optimizer.allocate.build import BuiltModel
from optimizer.allocate.plan import Status
from optimizer.defaults import DEFAULT_SOLVER, SOLVERS
from optimizer.errors import SolverError

#: Whether a solver's row duals can be used as shadow prices. The cbc binary that pulp[cbc]
#: installs (cbcbox 2.935) reports row duals that are not a dual solution (basic columns with
#: non-zero reduced costs; tests/test_golden_lp.py shows it), so with --solver cbc the plan is
#: CBC's and the shadow prices come from HiGHS on the same LP at that plan.
DUALS_TRUSTED = {"highs": True, "cbc": False}


@dataclass(frozen=True)
class SolveOutcome:
    status: Status
    objective: float | None
    duals: dict[str, float]  # our constraint name → normalised shadow price
    slacks: dict[str, float]
    seconds: float
    solver: str
    #: the best bound on the model's optimum the solver proved (a MILP's dual bound; an LP's
    #: optimum), in the objective's own sense; None when the solver does not say
    bound: float | None = None


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


#: the largest objective coefficient HiGHS's simplex is handed as is: past it, a run that stops on
#: a solve error (its dual ratio test fails on "excessive dual values", as with a curve whose KPI
#: is 1e15 per unit) is run again with the objective scaled by a power of two down to about this
_COST_SCALE_TARGET = 1e6


def _run_highs(h, cost) -> None:
    """Run HiGHS; when it stops on a solve error and the objective is badly scaled, run it again
    with the objective scaled (HiGHS's ``user_objective_scale``, a power of two, so the solution,
    objective and duals it reports are those of the model as given)."""
    import math

    import highspy
    import numpy as np

    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kSolveError:
        return
    big = float(np.max(np.abs(cost))) if len(cost) else 0.0
    if not (math.isfinite(big) and big > _COST_SCALE_TARGET):
        return
    h.setOptionValue("user_objective_scale", -math.ceil(math.log2(big / _COST_SCALE_TARGET)))
    h.clearSolver()
    h.run()


#: HiGHS refuses a model whose matrix holds a value above its ``large_matrix_value`` (1e15): its
#: addRows returns an error and the rows are missing from the model it then solves. That happens
#: with a zero-or-at-least rule whose big-M (a line item's cap) reaches 1e15 when nothing else
#: bounds it (a max_net scenario's break-even runs). Raising the limit let such models in, and
#: HiGHS 1.16's MILP then crashed the process (a segfault, fuzz seed 1020): so the limit stays,
#: and a model HiGHS does not take whole is a SolverError, never solved in part


def _checked(status, what: str) -> None:
    import highspy

    if status == highspy.HighsStatus.kError:
        raise SolverError(f"the HiGHS solver refused the model's {what}", field="solver")


class _BulkHiGHS(pulp.HiGHS):
    """PuLP's HiGHS interface, loading the model into HiGHS in bulk.

    PuLP's own ``HiGHS`` adds one column per call and re-scans every constraint for its variables
    (``LpProblem.variables()``, then a sort by name) three times per solve: at 120,000 columns
    that is most of the solve. Every variable of ours is made by ``prob.add_variable`` and so is
    registered with the problem; this loads those columns and the rows as arrays in two calls and
    reads the solution back the same way. The PuLP model, its statuses, values, duals (``pi``)
    and slacks are exactly what ``pulp.HiGHS`` would give.
    """

    def _columns(self, lp: pulp.LpProblem) -> list:
        cols = list(lp._variables)
        known = lp._variable_ids
        for v in lp.objective.keys():  # e.g. PuLP's dummy variable for a constant objective
            if v.hash not in known:
                cols.append(v)
        return cols

    def buildSolverModel(self, lp: pulp.LpProblem) -> None:  # noqa: N802 - PuLP's name
        import highspy
        import numpy as np

        inf = highspy.kHighsInf
        cols = self._columns(lp)
        lp._bulk_columns = cols
        n = len(cols)
        for i, v in enumerate(cols):
            v.index = i
        mult = -1.0 if lp.sense == pulp.LpMaximize else 1.0
        cost = np.zeros(n)
        for v, c in lp.objective.items():
            cost[v.index] = mult * c
        lower = np.array([-inf if v.lowBound is None else v.lowBound for v in cols], dtype=float)
        upper = np.array([inf if v.upBound is None else v.upBound for v in cols], dtype=float)
        h = lp.solverModel
        lp._bulk_cost = cost
        _checked(
            h.addCols(
                n, cost, lower, upper, 0, np.zeros(n, np.int32), np.zeros(0, np.int32), np.zeros(0)
            ),
            "columns",
        )
        if self.mip:
            ints = np.array([v.index for v in cols if v.cat == pulp.LpInteger], dtype=np.int32)
            if len(ints):
                h.changeColsIntegrality(
                    len(ints),
                    ints,
                    np.full(len(ints), int(highspy.HighsVarType.kInteger), np.uint8),
                )
        rows = list(lp._constraints.values())
        starts = np.zeros(len(rows), np.int32)
        idx: list[int] = []
        val: list[float] = []
        lo = np.empty(len(rows))
        up = np.empty(len(rows))
        for r, con in enumerate(rows):
            starts[r] = len(idx)
            for v, a in con.items():
                if a != 0:
                    idx.append(v.index)
                    val.append(a)
            con.index = r
            lb, ub = con.getLb(), con.getUb()
            lo[r] = -inf if lb is None else lb
            up[r] = inf if ub is None else ub
        if rows:
            _checked(
                h.addRows(
                    len(rows),
                    lo,
                    up,
                    len(idx),
                    starts,
                    np.array(idx, np.int32),
                    np.array(val, float),
                ),
                "rules (rows)",
            )

    def actualSolve(self, lp: pulp.LpProblem) -> int:  # noqa: N802 - PuLP's name
        import highspy

        self.createAndConfigureSolver(lp)
        self.buildSolverModel(lp)
        _run_highs(lp.solverModel, lp._bulk_cost)
        h = lp.solverModel
        st = h.getModelStatus()
        M = highspy.HighsModelStatus
        obj = h.getObjectiveValue()
        if st == M.kOptimal:
            status = (pulp.LpStatusOptimal, pulp.LpSolutionOptimal)
        elif st in (M.kInfeasible, M.kUnboundedOrInfeasible):
            status = (pulp.LpStatusInfeasible, pulp.LpSolutionInfeasible)
        elif st == M.kUnbounded:
            status = (pulp.LpStatusUnbounded, pulp.LpSolutionUnbounded)
        elif st in (
            M.kTimeLimit,
            M.kIterationLimit,
            M.kInterrupt,
            M.kObjectiveBound,
            M.kObjectiveTarget,
        ) and obj != float("inf"):
            status = (pulp.LpStatusOptimal, pulp.LpSolutionIntegerFeasible)
        elif st in (M.kTimeLimit, M.kIterationLimit, M.kInterrupt):
            status = (pulp.LpStatusNotSolved, pulp.LpSolutionNoSolutionFound)
        else:  # a solve error is not a time limit, whatever limit was set
            status = (pulp.LpStatusUndefined, pulp.LpSolutionNoSolutionFound)
        sol = h.getSolution()
        values, djs = list(sol.col_value), list(sol.col_dual)
        for v in lp._bulk_columns:
            v.varValue = values[v.index]
            v.dj = djs[v.index] if djs else None
        row_values, row_duals = list(sol.row_value), list(sol.row_dual)
        for con in lp._constraints.values():
            con.slack = con.constant + row_values[con.index]
            if con.sense == pulp.LpConstraintLE:
                con.slack *= -1.0
            con.pi = row_duals[con.index] if row_duals else None
        lp.assignStatus(*status)
        return status[0]


def make_solver(
    name: str,
    *,
    mip: bool,
    time_limit: float | None = None,
    msg: bool = False,
    gap: float | None = None,
    columns: int = 0,
) -> pulp.LpSolver:
    name = name.lower()
    if name == "highs":
        _silence_highs_banner()
        # presolve is pathologically slow on our shape (few rows, many bounded columns), for our
        # MILPs too (benchmarks/allocation.py's S-curve section, benchmarks/README.md)
        opts: dict[str, object] = {"presolve": "off"}
        if not mip and columns > IPM_COLUMNS:
            opts["solver"] = "ipm"
        return _BulkHiGHS(msg=msg, timeLimit=time_limit, mip=mip, gapRel=gap, threads=1, **opts)
    if name == "cbc":
        path = cbc_path()
        if path is None:
            raise SolverError(
                "the CBC solver binary 'cbc' was not found; install it with "
                "pip install 'pulp[cbc]' or choose --solver highs",
                field="solver",
            )
        return pulp.COIN_CMD(path=path, msg=msg, timeLimit=time_limit, mip=mip, gapRel=gap)
    raise SolverError(
        f"unknown solver {name!r}; choose one of: {', '.join(SOLVERS)}", field="solver"
    )


def normalise_dual(raw: float, solver: str, maximise: bool) -> float:
    """Raw solver dual → d(objective)/d(rhs) in the objective's own sense."""
    if raw is None:
        return 0.0
    v = float(raw)
    if solver == "highs" and maximise:
        v = -v
    return v + 0.0  # no negative zero


def solve(
    built: BuiltModel,
    solver: str = DEFAULT_SOLVER,
    *,
    time_limit: float | None = None,
    gap: float | None = None,
) -> SolveOutcome:
    return solve_prob(
        built.prob, built.constraints, solver, mip=built.is_mip, time_limit=time_limit, gap=gap
    )


def solve_prob(
    prob: pulp.LpProblem,
    constraints: dict[str, pulp.LpConstraint],
    solver: str = DEFAULT_SOLVER,
    *,
    mip: bool = False,
    time_limit: float | None = None,
    gap: float | None = None,
) -> SolveOutcome:
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
    bound = None
    if obj is not None:
        bound = float(obj) if not mip else _mip_bound(prob, maximise)
    return SolveOutcome(
        status, None if obj is None else float(obj), duals, slacks, secs, solver, bound
    )


def _mip_bound(prob: pulp.LpProblem, maximise: bool) -> float | None:
    """HiGHS's MILP dual bound in the problem's own sense (it minimises, and never sees PuLP's
    objective constant); None for other solvers."""
    model = getattr(prob, "solverModel", None)
    if model is None or not hasattr(model, "getInfo"):
        return None
    raw = float(model.getInfo().mip_dual_bound)
    if raw != raw or abs(raw) == float("inf"):
        return None
    const = float(prob.objective.constant) if prob.objective is not None else 0.0
    return (-raw if maximise else raw) + const


@dataclass(frozen=True)
class ArraySolution:
    """The solution of a model given as arrays (``solve_arrays``)."""

    status: Status
    x: object  # numpy array of column values (empty unless optimal / time limit)
    duals: object  # numpy array: d objective / d rhs per row, in the objective's own sense
    objective: float | None
    bound: float | None  # the solver's proven bound on the optimum (a MILP's dual bound)
    seconds: float


def solve_arrays(
    c,
    A,
    row_lo,
    row_hi,
    col_lo,
    col_hi,
    *,
    maximise: bool = True,
    integers=None,
    time_limit: float | None = None,
    gap: float | None = None,
    constant: float = 0.0,
    presolve: bool = False,
) -> ArraySolution:
    """Solve ``max (or min) c·x + constant`` s.t. ``row_lo <= A x <= row_hi``, ``col_lo <= x <= col_hi``
    (``integers``: indices of integer columns) with HiGHS, loaded as arrays in one call.

    For models built as arrays (the phased plan's tens of thousands of columns), where making PuLP
    objects would cost more than solving. Same options as ``make_solver("highs")``: presolve off,
    one thread, interior point with crossover above ``IPM_COLUMNS`` columns for an LP. Duals follow
    the module's sign convention (``normalise_dual``): HiGHS minimises, so when maximising its
    signs are flipped.
    """
    import highspy
    import numpy as np
    import scipy.sparse as sp

    _silence_highs_banner()
    A = sp.csr_matrix(A)
    n = A.shape[1]
    m = A.shape[0]
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("presolve", "on" if presolve else "off")
    h.setOptionValue("threads", 1)
    if time_limit is not None:
        h.setOptionValue("time_limit", float(time_limit))
    mip = integers is not None and len(integers) > 0
    if mip and gap is not None:
        h.setOptionValue("mip_rel_gap", float(gap))
    if mip:
        # HiGHS 1.16's MIP, presolve off, returned "optimal" values far below the optimum (and
        # dual bounds below a feasible plan's value) on a phased plan's lifted MILP with two
        # zero-or-at-least binaries: 3.07M where fixing the binaries gave 3.35M, 1.33M or 0.50M
        # with the objective scaled by 1e-3 or 1e-5. With the presolve at the root only, the
        # answer was right at every scale
        h.setOptionValue("mip_root_presolve_only", True)
    if not mip and n > IPM_COLUMNS:
        h.setOptionValue("solver", "ipm")
    inf = highspy.kHighsInf
    sign = -1.0 if maximise else 1.0
    lo = np.where(np.isfinite(col_lo), col_lo, -inf).astype(float)
    up = np.where(np.isfinite(col_hi), col_hi, inf).astype(float)
    _checked(
        h.addCols(
            n,
            sign * np.asarray(c, float),
            lo,
            up,
            0,
            np.zeros(n, np.int32),
            np.zeros(0, np.int32),
            np.zeros(0),
        ),
        "columns",
    )
    if mip:
        ints = np.asarray(integers, np.int32)
        h.changeColsIntegrality(
            len(ints), ints, np.full(len(ints), int(highspy.HighsVarType.kInteger), np.uint8)
        )
    if m:
        rl = np.where(np.isfinite(row_lo), row_lo, -inf).astype(float)
        ru = np.where(np.isfinite(row_hi), row_hi, inf).astype(float)
        _checked(
            h.addRows(
                m,
                rl,
                ru,
                A.nnz,
                A.indptr[:-1].astype(np.int32),
                A.indices.astype(np.int32),
                A.data.astype(float),
            ),
            "rules (rows)",
        )
    t0 = time.perf_counter()
    _run_highs(h, sign * np.asarray(c, float))
    secs = time.perf_counter() - t0
    st = h.getModelStatus()
    M = highspy.HighsModelStatus
    info = h.getInfo()
    has_sol = info.primal_solution_status == 2  # feasible
    if st == M.kOptimal:
        status = Status.OPTIMAL
    elif st in (M.kInfeasible, M.kUnboundedOrInfeasible):
        status = Status.INFEASIBLE
    elif st == M.kUnbounded:
        status = Status.UNBOUNDED
    elif st in (M.kTimeLimit, M.kIterationLimit, M.kInterrupt) and has_sol:
        status = Status.TIME_LIMIT
    else:
        status = Status.ERROR
    if status not in (Status.OPTIMAL, Status.TIME_LIMIT):
        return ArraySolution(status, np.zeros(0), np.zeros(0), None, None, secs)
    sol = h.getSolution()
    x = np.array(sol.col_value, float)
    duals = np.zeros(m)
    if not mip and m and sol.dual_valid:
        duals = sign * np.array(sol.row_dual, float) + 0.0
    obj = float(np.dot(c, x)) + constant
    if mip:
        raw = float(info.mip_dual_bound)
        bound = None if (raw != raw or abs(raw) == float("inf")) else sign * raw + constant
    else:
        bound = obj
    return ArraySolution(status, x, duals, obj, bound, secs)
