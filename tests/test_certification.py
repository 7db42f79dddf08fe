""" "optimal" means certified within the tolerance (issue 14, item 2).

The truth here is computed without the engine's LP, pieces, duals or bound: a dynamic programme
over a fine grid of each line item's spend finds the best grid plan (which line items to fund,
and roughly how much), and SLSQP (scipy) polishes it on the smooth curves with that choice fixed.
Its value is a *feasible* plan's value, so it is at most the exact optimum. A plan the engine calls
optimal must therefore be worth at least ``(1 - tolerance)`` of it, and the engine's bound on the
optimum must be at least it; a plan that is not within the tolerance must not be called optimal.
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize

from optimizer.allocate import allocate
from optimizer.allocate.problem import make_problem
from optimizer.response.model import Adstock, ResponseModel, Saturation, TouchpointResponse
from optimizer.scenario import scenario_from_dict

TOLERANCE = 1e-4
STAGES = ("awareness", "consideration", "purchase", "loyalty")


def reference_value(problem, budget: float, grid: int = 1200) -> float:
    """The best plan's value found by a grid DP plus SLSQP on the DP's choice of funded items."""
    items = problem.items
    h = budget / grid
    xs = np.arange(grid + 1) * h
    vals = []
    for it in items:
        v = np.asarray(it.curve.value(xs), float)
        if it.min_if_funded:
            v = np.where((xs > 0) & (xs < it.min_if_funded - 1e-9), -np.inf, v)
        v = np.where(xs > it.hi / 1.02 + 1e-6, -np.inf, v)
        vals.append(v)
    best, choices = vals[0], []
    k_idx = np.arange(grid + 1)
    for v in vals[1:]:
        # best'[k] = max over j <= k of best[k - j] + v[j]
        diff = k_idx[:, None] - k_idx[None, :]
        m = np.where(diff >= 0, best[np.clip(diff, 0, None)] + v[None, :], -np.inf)
        j = np.argmax(m, axis=1)
        choices.append(j)
        best = m[k_idx, j]
    k = int(np.argmax(best))
    x0 = np.zeros(len(items))
    for i in range(len(items) - 1, 0, -1):
        j = int(choices[i - 1][k])
        x0[i], k = j * h, k - j
    x0[0] = k * h
    funded = x0 > 0
    lo = np.array(
        [(it.min_if_funded or 0.0) if f else 0.0 for it, f in zip(items, funded, strict=True)]
    )
    hi = np.array([it.hi / 1.02 if f else 0.0 for it, f in zip(items, funded, strict=True)])

    def value(x):
        return float(sum(it.curve.value(max(xi, 0.0)) for it, xi in zip(items, x, strict=True)))

    res = minimize(
        lambda x: -value(x) / max(value(x0), 1.0),
        x0,
        method="SLSQP",
        bounds=list(zip(lo, hi, strict=True)),
        constraints=[{"type": "ineq", "fun": lambda x: (budget - x.sum()) / budget}],
        options={"ftol": 1e-15, "maxiter": 1000},
    )
    x = np.clip(res.x, lo, hi)
    polished = value(x) if x.sum() <= budget * (1 + 1e-12) else -np.inf
    return max(polished, value(x0))


@st.composite
def worlds(draw):
    n = draw(st.integers(2, 4))
    tps = {}
    for i in range(n):
        fam = draw(st.sampled_from(["hill", "hill", "exponential", "logistic"]))
        beta = 10 ** draw(st.floats(3, 6))
        if fam == "hill":
            params = {
                "beta": beta,
                "half_saturation": 10 ** draw(st.floats(3, 6)),
                "shape": draw(st.floats(0.3, 3.0)),
            }
        elif fam == "exponential":
            params = {"beta": beta, "scale": 10 ** draw(st.floats(3, 6))}
        else:
            params = {"beta": beta, "lam": 10 ** draw(st.floats(-6, -3))}
        tid = f"t{i}"
        tps[tid] = TouchpointResponse(
            tid, STAGES[i], Saturation(fam, params), Adstock(draw(st.floats(0.0, 0.8)))
        )
    model = ResponseModel(kpi="kpi", touchpoints=tps)
    budget = float(round(10 ** draw(st.floats(4, 7.5)), 2))
    sc: dict = {"name": "c", "model": "m", "horizon_weeks": draw(st.integers(1, 26))}
    sc["budget"] = budget
    if draw(st.booleans()):
        sc["touchpoints"] = {"t0": {"min_if_funded": round(budget * draw(st.floats(0.05, 0.5)))}}
    return model, sc


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(world=worlds())
def test_optimal_means_within_the_tolerance_of_an_independent_optimum(world):
    model, sc = world
    scenario = scenario_from_dict(sc)
    plan = allocate(scenario, model, tolerance=TOLERANCE)
    assert plan.status in ("optimal", "not_certified")
    ref = reference_value(make_problem(scenario, model), float(sc["budget"]))
    slack = 1e-9 * max(abs(ref), 1.0)
    # the bound is a bound whatever the status
    assert plan.bound >= ref - slack, (plan.bound, ref)
    if plan.status == "optimal":
        assert plan.gap <= TOLERANCE
        assert plan.objective_value >= ref - TOLERANCE * max(abs(ref), 1.0) - slack, (
            plan.objective_value,
            ref,
        )
    else:  # not certified: the gap it reports is really above the tolerance
        assert plan.gap > TOLERANCE


def _sample_model() -> ResponseModel:
    from optimizer.response.model import read_model
    from optimizer.sample import true_model_path

    return read_model(true_model_path())


def test_a_budget_no_curve_can_absorb_is_not_called_optimal_unless_certified():
    # audit: budget 1e15 → "optimal" with a gap above the tolerance; exactly 1e17 → 9.3%. Such
    # budgets are now out of range (test_hostile_input); the largest allowed, 1e12, is planned
    # and called optimal only when certified
    model = _sample_model()
    for budget in ({"max": 1e12}, {"exactly": 1e12}):
        sc = scenario_from_dict({"name": "b", "model": "m", "horizon_weeks": 13, "budget": budget})
        plan = allocate(sc, model)
        assert plan.status in ("optimal", "not_certified")
        assert (plan.status == "optimal") == (plan.gap <= 1e-4), (budget, plan.status, plan.gap)


def test_a_near_step_hill_curve_is_not_called_optimal_unless_certified():
    # audit: a hill shape of 1e-9 (a step at zero spend) → "optimal" with a 0.52% gap
    model = _sample_model()
    tv = model.touchpoints["tv"]
    step = Saturation("hill", {**tv.curve.params, "shape": 1e-9})
    tps = dict(model.touchpoints)
    tps["tv"] = TouchpointResponse("tv", tv.stage, step, tv.adstock)
    model = ResponseModel(kpi=model.kpi, touchpoints=tps)
    sc = scenario_from_dict({"name": "h", "model": "m", "horizon_weeks": 13, "budget": 9.7e6})
    plan = allocate(sc, model)
    assert (plan.status == "optimal") == (plan.gap <= 1e-4), (plan.status, plan.gap)


def test_a_line_item_capped_at_zero_does_not_block_the_certificate():
    # a hill curve with shape < 1 has an infinite slope at zero: the LP's 1e-9 of spend past a
    # zero cap looked like a gain no bound could match (gap 0.036% on a 100 budget)
    rng = np.random.default_rng(11)
    tps = {}
    for t, stage in zip(
        "abcd", ("awareness", "awareness", "consideration", "purchase"), strict=True
    ):
        fam = ["hill", "exponential", "logistic"][int(rng.integers(3))]
        beta = float(rng.uniform(5e3, 5e4))
        if fam == "hill":
            p = {"beta": beta, "half_saturation": float(rng.uniform(2e3, 3e4))}
            p["shape"] = float(rng.uniform(0.5, 1.0))
        elif fam == "exponential":
            p = {"beta": beta, "scale": float(rng.uniform(2e3, 3e4))}
        else:
            p = {"beta": beta, "lam": float(rng.uniform(2e-5, 5e-4))}
        tps[t] = TouchpointResponse(
            t, stage, Saturation(fam, p), Adstock(float(rng.uniform(0, 0.6)))
        )
    model = ResponseModel(kpi="kpi", touchpoints=tps)
    sc = {"name": "h", "model": "m", "horizon_weeks": 1, "budget": 100.0}
    for rule in ({"stages": {"awareness": {"max": 0.0}}}, {"touchpoints": {"a": {"max": 0.0}}}):
        plan = allocate(scenario_from_dict({**sc, **rule}), model)
        assert plan.status == "optimal" and plan.gap <= 1e-4, (rule, plan.status, plan.gap)
        assert plan.item("a").spend == 0.0
