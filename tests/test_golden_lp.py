"""Golden LPs with hand-computed optima and duals, run against every solver we support.

A sign flip in one solver's duals shows here (CBC and HiGHS report opposite signs when maximising).
"""

from __future__ import annotations

import math

import pulp
import pytest

from optimizer.allocate.solve import DUALS_TRUSTED, SOLVERS, Status, solve_prob


def _add(prob, cons):
    out = {}
    senses = {"<=": pulp.LpConstraintLE, ">=": pulp.LpConstraintGE}
    for name, (expr, sense, rhs) in cons.items():
        con = pulp.LpConstraint(expr, senses[sense], name=name, rhs=rhs)
        prob.addConstraint(con, name)
        out[name] = con
    return out


def _max_lp():
    # max 3x + 2y + 4z  s.t.  x + y + z <= 10 (c1),  x + z <= 6 (c2),  x + y <= 3 (c3),  x, y, z >= 0.
    # z beats x on c2 and y is limited by c3, so x = 0, z = 6, y = 3 and c1 has slack 1: objective 30.
    # Duals: c1 is slack, 0; y is basic on c3, so c3's dual is y's return, 2; z basic on c2: 4.
    # Check by moving: c2 = 7 gives z = 7 (+4); c3 = 4 gives y = 4 (+2).
    # Every row has two or more variables: the cbc build of pulp[cbc] turns single-variable rows into
    # column bounds and reports their duals wrongly, so the allocator never emits one.
    prob = pulp.LpProblem("golden_max", pulp.LpMaximize)
    x = prob.add_variable("x", 0)
    y = prob.add_variable("y", 0)
    z = prob.add_variable("z", 0)
    prob += 3 * x + 2 * y + 4 * z
    cons = _add(prob, {"c1": (x + y + z, "<=", 10), "c2": (x + z, "<=", 6), "c3": (x + y, "<=", 3)})
    return prob, cons, (x, y, z)


def _min_lp():
    # min 5x + 4y  s.t.  x + y >= 6 (d1),  y - x <= -2 (d2).  Optimum x = 4, y = 2, objective 28.
    # Duals solve x: p1 - p2 = 5, y: p1 + p2 = 4, so p1 = 4.5, p2 = -0.5.
    # Check by moving: d1 = 7 gives x = 4.5, y = 2.5, objective 32.5 (+4.5); d2 = -1 gives 27.5 (-0.5).
    prob = pulp.LpProblem("golden_min", pulp.LpMinimize)
    x = prob.add_variable("x", 0)
    y = prob.add_variable("y", 0)
    prob += 5 * x + 4 * y
    cons = _add(prob, {"d1": (x + y, ">=", 6), "d2": (y - x, "<=", -2)})
    return prob, cons, (x, y)


def _duals_trusted(solver):
    if DUALS_TRUSTED[solver]:
        return solver
    return pytest.param(
        solver,
        marks=pytest.mark.xfail(
            strict=False,
            reason=f"{solver}'s row duals are not a dual solution; the engine takes shadow "
            "prices from HiGHS for its plans (solve.DUALS_TRUSTED).",
        ),
    )


@pytest.mark.parametrize("solver", SOLVERS)
def test_max_lp_primal_optimum(solver):
    prob, cons, (x, y, z) = _max_lp()
    out = solve_prob(prob, cons, solver)
    assert out.status == Status.OPTIMAL
    assert out.objective == pytest.approx(30.0, abs=1e-7)
    assert (x.varValue, y.varValue, z.varValue) == pytest.approx((0.0, 3.0, 6.0), abs=1e-7)


@pytest.mark.parametrize("solver", [_duals_trusted(s) for s in SOLVERS])
def test_max_lp_duals_are_gains_per_unit_of_rhs(solver):
    prob, cons, (x, y, z) = _max_lp()
    out = solve_prob(prob, cons, solver)
    assert out.status == Status.OPTIMAL
    assert out.objective == pytest.approx(30.0, abs=1e-7)
    assert (x.varValue, y.varValue, z.varValue) == pytest.approx((0.0, 3.0, 6.0), abs=1e-7)
    assert out.duals == pytest.approx({"c1": 0.0, "c2": 4.0, "c3": 2.0}, abs=1e-7)
    assert out.slacks == pytest.approx({"c1": 1.0, "c2": 0.0, "c3": 0.0}, abs=1e-7)


@pytest.mark.parametrize("solver", [_duals_trusted(s) for s in SOLVERS])
def test_min_lp_duals_are_cost_per_unit_of_rhs(solver):
    prob, cons, (x, y) = _min_lp()
    out = solve_prob(prob, cons, solver)
    assert out.status == Status.OPTIMAL
    assert out.objective == pytest.approx(28.0, abs=1e-7)
    assert out.duals == pytest.approx({"d1": 4.5, "d2": -0.5}, abs=1e-7)


@pytest.mark.parametrize("solver", SOLVERS)
def test_infeasible_is_a_status_not_an_optimum(solver):
    prob = pulp.LpProblem("infeasible", pulp.LpMaximize)
    x = prob.add_variable("x", 0)
    y = prob.add_variable("y", 0)
    prob += x + y
    cons = _add(prob, {"cap": (x + y, "<=", 1), "floor": (x + y, ">=", 2)})
    out = solve_prob(prob, cons, solver)
    assert out.status == Status.INFEASIBLE
    assert out.objective is None


@pytest.mark.parametrize("solver", [_duals_trusted(s) for s in SOLVERS])
def test_dual_matches_resolve_with_rhs_moved(solver):
    """The normalised dual predicts the objective change when the right-hand side moves."""
    base = solve_prob(*_max_lp()[:2], solver)
    prob, cons, _ = _max_lp()
    cons["c2"].changeRHS(7)
    moved = solve_prob(prob, cons, solver)
    assert moved.objective - base.objective == pytest.approx(base.duals["c2"], abs=1e-7)
    assert math.isfinite(base.seconds)
