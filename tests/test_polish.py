"""The polish step: from the LP's active set to the smooth problem's exact optimum.

Same hand-solvable world as tests/test_allocate.py (three exponential curves, KKT in closed form),
but the tolerances here are those of floating point, not of a piecewise-linear approximation:
a polished plan is the exact optimum and its shadow prices are the exact multipliers.
"""

from __future__ import annotations

import numpy as np
import pytest

from optimizer.allocate import allocate
from optimizer.allocate.bank import CurveBank
from optimizer.allocate.engine import solve_problem, violation
from optimizer.allocate.polish import polish
from optimizer.allocate.problem import make_problem
from optimizer.response.model import ResponseModel, Saturation, TouchpointResponse
from tests.test_allocate import BETAS, B, F, dF, kkt, model, scenario

# spend is reported to the cent; everything else to ~1e-9
CENT = 0.01


def test_budget_only_is_exact():
    x, lam = kkt(list(BETAS), B)
    plan = allocate(scenario(), model())
    assert plan.rounds == 1  # one LP, then Newton: no refinement rounds needed
    for t in BETAS:
        assert plan.item(t).spend == pytest.approx(x[t], abs=CENT)
    assert plan.budget_shadow_price == pytest.approx(lam, rel=1e-9)
    assert plan.gap <= 1e-9


def test_binding_cap_dual_is_exact():
    cap = 12000.0
    plan = allocate(scenario(touchpoints={"email": {"max": cap}}), model())
    x, lam = kkt(["tv", "search"], B - cap)
    assert plan.item("tv").spend == pytest.approx(x["tv"], abs=CENT)
    assert plan.budget_shadow_price == pytest.approx(lam, rel=1e-9)
    # d objective / d cap = email's marginal return less the λ the dollar earned elsewhere
    assert plan.constraint("tp_max__email").shadow_price == pytest.approx(
        dF("email", cap) - lam, rel=1e-8
    )


def test_stage_floor_dual_is_exact():
    plan = allocate(scenario(stages={"awareness": {"min": 9000}}), model())
    x, lam = kkt(["search", "email"], B - 9000)
    assert plan.item("search").spend == pytest.approx(x["search"], abs=CENT)
    assert plan.constraint("stage_min__awareness").shadow_price == pytest.approx(
        dF("tv", 9000) - lam, rel=1e-8
    )


def test_min_spend_target_dual_is_exact():
    target = 0.9 * sum(F(t, v) for t, v in kkt(list(BETAS), B)[0].items())
    sc = scenario(objective="min_spend", kpi_target=target, budget=None)
    plan = allocate(sc, model())
    lo, hi = 0.0, B
    for _ in range(200):  # the least budget whose KKT plan reaches the target
        mid = (lo + hi) / 2
        xs, _ = kkt(list(BETAS), mid)
        lo, hi = (mid, hi) if sum(F(t, xs[t]) for t in BETAS) < target else (lo, mid)
    xs, lam = kkt(list(BETAS), hi)
    assert plan.total_spend == pytest.approx(hi, abs=3 * CENT)
    assert plan.constraint("kpi_target").shadow_price == pytest.approx(1 / lam, rel=1e-8)


def test_polish_never_worse_than_the_lp_and_feasible():
    """Against the unpolished engine on a world with caps, floors and a share rule."""
    sc = scenario(stages={"awareness": {"min_share": 0.35}, "post_purchase": {"max": 9000}})
    problem = make_problem(sc, model())
    raw = solve_problem(problem, polish_plan=False, max_rounds=1)
    fine = solve_problem(problem)
    assert fine.objective_value >= raw.objective_value
    assert fine.item("tv").spend >= 0.35 * fine.total_spend - CENT
    assert fine.item("email").spend <= 9000 + CENT
    assert fine.gap <= 1e-9


def test_infinite_slope_at_zero_does_not_cycle():
    """Hill curves of shape just under 1 have an infinite slope at zero but are worth less than
    the price of a dollar a cent later: they stay at zero, and the polish still converges."""
    tps = {
        "a": TouchpointResponse(
            "a",
            "awareness",
            Saturation("hill", {"beta": 10.0, "half_saturation": 5000.0, "shape": 0.999}),
        ),
        "b": TouchpointResponse(
            "b", "awareness", Saturation("exponential", {"beta": 400.0, "scale": 1000.0})
        ),
    }
    m = ResponseModel(kpi="revenue", touchpoints=tps)
    plan = allocate(scenario(budget=20000), m)
    assert plan.rounds == 1
    assert plan.item("a").spend == 0.0
    assert plan.gap <= 1e-9


def test_polish_from_a_poor_guess_of_the_price_lands_on_the_optimum():
    problem = make_problem(scenario(), model())
    bank = CurveBank.of([it.curve for it in problem.items])
    x = np.array([1e4, 1e4, 1e4])
    got = polish(problem, bank, x, {"budget": 0.01})
    assert got is not None and violation(problem, got.x) <= 1e-12
    assert abs(got.x.sum() - B) <= 1e-6


# ---- regressions found in review (each checked against finite differences of re-solves) --------
def _with_rhs(problem, name, rhs):
    import dataclasses

    cons = tuple(
        dataclasses.replace(c, rhs=rhs) if c.name == name else c for c in problem.constraints
    )
    return dataclasses.replace(problem, constraints=cons)


def _fd(problem, name, rel=1e-4):
    c = problem.constraint(name)
    d = rel * max(abs(c.rhs), 1.0)
    up = solve_problem(_with_rhs(problem, name, c.rhs + d)).objective_value
    down = solve_problem(_with_rhs(problem, name, c.rhs - d)).objective_value
    return (up - down) / (2 * d)


def _three(ooh_shape=2.0):
    tps = [
        TouchpointResponse(
            "tv", "awareness", Saturation("exponential", {"beta": 100.0, "scale": 1000.0})
        ),
        TouchpointResponse(
            "search", "consideration", Saturation("exponential", {"beta": 200.0, "scale": 1000.0})
        ),
        TouchpointResponse(
            "ooh",
            "awareness",
            Saturation("hill", {"beta": 300.0, "half_saturation": 3500.0, "shape": ooh_shape}),
        ),
    ]
    return ResponseModel(kpi="revenue", touchpoints={t.id: t for t in tps})


def test_rule_holding_an_s_curve_below_its_inflection_keeps_its_shadow_price():
    """ooh's minimum (4,000) holds it on the rising part of its S-curve (inflection 20,207): the
    polish pins it there, and the minimum's price must still be reported (it was 0)."""
    problem = make_problem(scenario(budget=30000, touchpoints={"ooh": {"min": 4000}}), _three())
    plan = solve_problem(problem)
    sp = plan.constraint("tp_min__ooh").shadow_price
    assert sp < 0
    assert sp == pytest.approx(_fd(problem, "tp_min__ooh"), rel=1e-3)


def test_max_net_with_no_binding_rule_polishes_in_one_round():
    """Stationarity is judged against the size of a marginal return, not of its distance to the
    hurdle (which is 0 at the optimum): max_net with nothing binding converges at once."""
    sc = scenario(objective="max_net", value_per_kpi=20.0, hurdle_rate=0.1, budget=None)
    plan = allocate(sc, model())
    assert plan.rounds == 1 and plan.gap <= 1e-9
    for t in BETAS:  # value × marginal return = 1 + hurdle wherever funded
        assert 20.0 * dF(t, plan.item(t).spend) == pytest.approx(1.1, rel=1e-6)


@pytest.mark.parametrize("rule", [{"block": 3000}, {"min_if_funded": 14000}])
def test_integer_choices_do_not_force_extra_rounds(rule):
    plan = allocate(scenario(touchpoints={"search": rule}), model())
    assert plan.rounds == 1
    assert plan.gap <= 1e-4


def test_lifted_bound_model_has_no_tie_break():
    """The model whose optimum bounds the true one must charge nothing for spending."""
    from optimizer.allocate.breakpoints import bank_pieces
    from optimizer.allocate.build import build_model
    from optimizer.allocate.engine import initial_points

    problem = make_problem(scenario(), model())
    bank = CurveBank.of([it.curve for it in problem.items])
    pcs = bank_pieces(bank, initial_points(problem, 8, bank))
    built = build_model(problem, pcs, tiebreak=False)
    coefs = dict(built.prob.objective.items())
    for vs, pc in zip(built.segment_vars, pcs, strict=True):
        assert [coefs[v] for v in vs] == pc.slopes.tolist()


def test_logistic_slope_is_exact_deep_in_saturation():
    """1 - tanh² cancels to nothing deep in saturation; the polish needs the slope to ~1e-12."""
    from optimizer.response import curves as C

    beta, lam = 3.0, 0.002
    a = np.array([10.0, 5e3, 1.6e4, 3e4])
    exact = beta * lam / 2 / np.cosh(lam * a / 2) ** 2  # fine here: cosh does not overflow
    assert np.allclose(C.logistic_derivative(a, beta, lam), exact, rtol=1e-12, atol=0)


def test_plan_without_lp_from_the_neighbouring_budget():
    """The sweep's step: last budget's plan and prices as the guess at a 5% larger budget. Truth:
    the closed-form KKT optimum at the new budget."""
    from optimizer.allocate.engine import plan_without_lp

    prev = allocate(scenario(), model())
    new_budget = 1.05 * B
    problem = make_problem(scenario(budget=new_budget), model())
    bank = CurveBank.of([it.curve for it in problem.items])
    x0 = np.array([prev.item(t).spend for t in BETAS])
    duals = {c.name: c.shadow_price or 0.0 for c in prev.constraints}
    plan = plan_without_lp(problem, bank, x0, duals)
    assert plan is not None and plan.rounds == 0
    x, lam = kkt(list(BETAS), new_budget)
    for t in BETAS:
        assert plan.item(t).spend == pytest.approx(x[t], abs=CENT)
    assert plan.budget_shadow_price == pytest.approx(lam, rel=1e-9)
    assert plan.gap <= 1e-9
    # binaries are the MILP's job: no LP-free plan for them
    mip = make_problem(
        scenario(budget=new_budget, touchpoints={"tv": {"min_if_funded": 5000}}), model()
    )
    assert plan_without_lp(mip, CurveBank.of([it.curve for it in mip.items]), x0, duals) is None
