"""The allocator against optima and duals computed by hand from the KKT conditions.

World: three exponential curves with the same scale, no adstock, weekly KPI ``b_i (1 - exp(-x / s))``.
Over a horizon of ``H`` weeks a total ``S`` buys ``F_i(S) = H b_i (1 - exp(-S / (H s)))``, so
``F_i'(S) = (b_i / s) exp(-S / (H s))``. Equal marginal returns ``F_i'(S_i) = λ`` with ``Σ S_i = B``
give ``ln(s λ) = (Σ ln b_i - B / (H s)) / n`` and ``S_i = H s (ln b_i - ln(s λ))``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from optimizer.allocate import allocate
from optimizer.response.model import ResponseModel, Saturation, TouchpointResponse
from optimizer.scenario import scenario_from_dict

BETAS = {"tv": 100.0, "search": 200.0, "email": 400.0}
STAGES = {"tv": "awareness", "search": "consideration", "email": "post_purchase"}
S = 1000.0
H = 10
B = 30000.0


def model() -> ResponseModel:
    return ResponseModel(
        kpi="revenue",
        touchpoints={
            t: TouchpointResponse(t, STAGES[t], Saturation("exponential", {"beta": b, "scale": S}))
            for t, b in BETAS.items()
        },
    )


def F(t: str, x: float) -> float:
    return H * BETAS[t] * (1 - math.exp(-x / (H * S)))


def dF(t: str, x: float) -> float:
    return BETAS[t] / S * math.exp(-x / (H * S))


def kkt(ids: list[str], budget: float) -> tuple[dict[str, float], float]:
    log_sl = (sum(math.log(BETAS[t]) for t in ids) - budget / (H * S)) / len(ids)
    return {t: H * S * (math.log(BETAS[t]) - log_sl) for t in ids}, math.exp(log_sl) / S


def scenario(**kw):
    base = {"name": "t", "model": "m.json", "horizon_weeks": H, "budget": B}
    base.update(kw)
    return scenario_from_dict(base)


@pytest.mark.parametrize("solver", ["highs", "cbc"])
def test_budget_only_matches_kkt(solver):
    x, lam = kkt(list(BETAS), B)
    plan = allocate(scenario(), model(), solver=solver)
    assert plan.status == "optimal"
    for t in BETAS:
        # spend within 0.1% of the budget of the KKT optimum
        assert plan.item(t).spend == pytest.approx(x[t], abs=1e-3 * B)
        assert plan.item(t).marginal_roi == pytest.approx(dF(t, plan.item(t).spend), rel=1e-9)
    exact = sum(F(t, x[t]) for t in BETAS)
    assert plan.total_kpi == pytest.approx(exact, rel=1e-4)
    assert plan.total_spend == pytest.approx(B, abs=0.01)
    # shadow price of the budget = the common marginal return λ, within 0.5%
    assert plan.budget_shadow_price == pytest.approx(lam, rel=5e-3)
    # certified: bound >= exact optimum >= plan's value, gap within tolerance
    assert plan.bound >= exact - 1e-6 * exact
    assert plan.objective_value <= exact + 1e-6 * exact
    assert plan.gap <= 1e-4


def test_binding_cap_has_its_hand_computed_dual():
    cap = 12000.0
    plan = allocate(scenario(touchpoints={"email": {"max": cap}}), model())
    x, lam = kkt(["tv", "search"], B - cap)
    assert plan.item("email").spend == pytest.approx(cap, abs=0.01)
    assert plan.item("email").binding == ("max",)
    assert plan.item("tv").spend == pytest.approx(x["tv"], abs=1e-3 * B)
    assert plan.budget_shadow_price == pytest.approx(lam, rel=5e-3)
    # raising the cap by one buys email's marginal return, less the λ the dollar earned elsewhere
    assert plan.constraint("tp_max__email").shadow_price == pytest.approx(
        dF("email", cap) - lam, rel=1e-2
    )
    assert plan.constraint("tp_max__email").binding


def test_lock_and_stage_floor():
    plan = allocate(
        scenario(touchpoints={"search": {"lock": 5000}}, stages={"awareness": {"min": 9000}}),
        model(),
    )
    assert plan.item("search").spend == 5000.0
    assert "lock" in plan.item("search").binding
    assert plan.item("tv").spend == pytest.approx(9000.0, abs=0.01)
    assert "stage_min__awareness" in plan.item("tv").binding
    # floor's shadow price: one more dollar forced into tv costs λ - tv's marginal return (< 0)
    lam = dF("email", plan.item("email").spend)
    assert plan.constraint("stage_min__awareness").shadow_price == pytest.approx(
        dF("tv", 9000) - lam, rel=2e-2
    )
    assert plan.constraint("stage_min__awareness").shadow_price < 0
    assert plan.total_spend == pytest.approx(B, abs=0.01)


def test_share_floor_holds():
    plan = allocate(scenario(stages={"awareness": {"min_share": 0.4}}), model())
    assert plan.item("tv").spend >= 0.4 * plan.total_spend - 0.01


def test_min_spend_reaches_target_at_least_cost():
    target = 0.9 * sum(F(t, v) for t, v in kkt(list(BETAS), B)[0].items())
    sc = scenario_from_dict(
        {
            "name": "m",
            "model": "m",
            "horizon_weeks": H,
            "objective": "min_spend",
            "kpi_target": target,
        }
    )
    plan = allocate(sc, model())
    assert plan.status == "optimal"
    # spend is reported to the cent (rounded down), which may cost the KPI of a cent per line item
    assert plan.total_kpi >= target - 3 * 0.01 * max(BETAS.values()) / S
    # the cheapest way to the target equalises marginal returns too: invert the KKT solution
    lo, hi = 0.0, B
    for _ in range(100):
        mid = (lo + hi) / 2
        x, _ = kkt(list(BETAS), mid)
        if sum(F(t, x[t]) for t in BETAS) < target:
            lo = mid
        else:
            hi = mid
    assert plan.total_spend == pytest.approx(hi, rel=1e-3)
    # d spend / d target = 1 / λ
    lam = dF("tv", plan.item("tv").spend)
    assert plan.constraint("kpi_target").shadow_price == pytest.approx(1 / lam, rel=1e-2)


def test_max_net_funds_dollars_that_beat_the_hurdle():
    value, hurdle = 2.0, 0.1
    sc = scenario_from_dict(
        {
            "name": "n",
            "model": "m",
            "horizon_weeks": H,
            "objective": "max_net",
            "value_per_kpi": value,
            "hurdle_rate": hurdle,
        }
    )
    plan = allocate(sc, model())
    # every funded line item stops where value × marginal return = 1 + hurdle
    for t in BETAS:
        expect = max(0.0, H * S * math.log(BETAS[t] * value / (S * (1 + hurdle))))
        assert plan.item(t).spend == pytest.approx(expect, abs=1e-3 * B)


def test_min_if_funded_is_zero_or_at_least():
    # with a small budget, 'zero or at least 20,000' for email cannot be met partially
    plan = allocate(
        scenario(budget=15000, touchpoints={"email": {"min_if_funded": 20000}}), model()
    )
    assert plan.item("email").spend == 0.0
    plan = allocate(
        scenario(budget=40000, touchpoints={"email": {"min_if_funded": 20000}}), model()
    )
    assert plan.item("email").spend >= 20000 - 0.01


def test_s_curve_global_optimum_against_grid():
    tps = {
        "a": TouchpointResponse(
            "a",
            "awareness",
            Saturation("hill", {"beta": 1000.0, "half_saturation": 3000.0, "shape": 2.5}),
        ),
        "b": TouchpointResponse(
            "b", "consideration", Saturation("exponential", {"beta": 400.0, "scale": 2000.0})
        ),
    }
    m = ResponseModel(kpi="k", touchpoints=tps)
    budget = 40000.0
    plan = allocate(
        scenario_from_dict({"name": "s", "model": "m", "horizon_weeks": 10, "budget": budget}), m
    )
    grid = np.linspace(0, budget, 40001)
    fa = 10 * tps["a"].weekly_kpi(grid / 10)
    fb = 10 * tps["b"].weekly_kpi((budget - grid) / 10)
    best = float(np.max(fa + fb))
    assert plan.total_kpi >= best * (1 - 1e-4)


def test_zero_and_huge_budgets():
    zero = allocate(scenario(budget=0), model())
    assert zero.status == "optimal" and zero.total_spend == 0.0 and zero.total_kpi == 0.0
    huge = allocate(scenario(budget=1e12), model())
    assert huge.status == "optimal"
    # every curve is saturated: the plan buys (almost) every unit of KPI there is
    assert huge.total_kpi == pytest.approx(H * sum(BETAS.values()), rel=1e-3)
    assert huge.total_spend <= 1e12


def test_totals_reconcile_to_the_cent():
    plan = allocate(scenario(budget=123456.78, stages={"awareness": {"max": 20000.01}}), model())
    cents = round(sum(li.spend * 100 for li in plan.line_items))
    assert cents == round(plan.total_spend * 100)
    assert plan.total_spend <= 123456.78 + 1e-9
    stages = plan.stage_totals()
    assert round(sum(v["spend"] for v in stages.values()), 2) == plan.total_spend
    for li in plan.line_items:
        assert round(li.spend, 2) == li.spend


def test_infeasible_names_exactly_the_conflicting_constraints():
    sc = scenario(
        budget=20000,
        touchpoints={"email": {"lock": 12000}, "search": {"max": 50000}},
        stages={"awareness": {"min": 10000}, "consideration": {"max": 40000}},
    )
    plan = allocate(sc, model())
    assert plan.status == "infeasible"
    assert set(plan.conflicts) == {"budget", "tp_lock__email", "stage_min__awareness"}
    assert "the budget (20,000)" in plan.message
    assert "the email lock (12,000)" in plan.message
    assert "the awareness stage floor (10,000)" in plan.message


def test_same_inputs_same_plan_bit_for_bit():
    a = allocate(scenario(stages={"awareness": {"min_share": 0.2}}), model())
    b = allocate(scenario(stages={"awareness": {"min_share": 0.2}}), model())
    assert [li.spend for li in a.line_items] == [li.spend for li in b.line_items]
    assert a.total_kpi == b.total_kpi


def test_ratio_rule_binds_with_kkt_dual():
    # tv >= 0.5 × email; unconstrained tv/email is 0.18, so it binds
    sc = scenario(ratios={"tv_vs_email": {"numerator": "tv", "denominator": "email", "min": 0.5}})
    plan = allocate(sc, model())
    tv, email, search = (plan.item(t).spend for t in ("tv", "email", "search"))
    assert tv == pytest.approx(0.5 * email, abs=0.02)
    c = plan.constraint("ratio_min__tv_vs_email")
    assert c.binding and c.shadow_price < 0
    # stationarity: d/d tv of F + λ(B - Σx) + y(0 - (tv - 0.5 email)) = 0  ⇒  y = F'_tv - λ, λ = F'_search
    assert c.shadow_price == pytest.approx(dF("tv", tv) - dF("search", search), rel=2e-2)
    assert "tv at least 0.5 × email" in c.label


def test_change_limits_against_last_cycle():
    sc = scenario(
        previous={"tv": 10000, "search": 10000, "email": 10000}, change_limit={"pct": 0.2}
    )
    plan = allocate(sc, model())
    # email wants more than +20%, tv less than -20%: both held at the limit, search takes the rest
    assert plan.item("email").spend == pytest.approx(12000, abs=0.01)
    assert plan.item("tv").spend == pytest.approx(8000, abs=0.01)
    assert plan.item("search").spend == pytest.approx(10000, abs=0.02)
    assert plan.item("email").binding == ("change_limit",)
    up = plan.constraint("change_up__email")
    assert up.shadow_price == pytest.approx(dF("email", 12000) - dF("search", 10000), rel=2e-2)
    down = plan.constraint("change_down__tv")
    assert down.shadow_price == pytest.approx(dF("tv", 8000) - dF("search", 10000), rel=2e-2)
    assert down.shadow_price < 0 < up.shadow_price
    # a money limit tighter than the share wins
    sc = scenario(
        previous={"email": 10000},
        change_limit={"pct": 0.5},
        touchpoints={"email": {"change_money": 1000}},
    )
    assert allocate(sc, model()).item("email").spend == pytest.approx(11000, abs=0.01)


def test_blocks_buy_whole_units_at_the_best_count():
    block = 5000.0
    plan = allocate(scenario(touchpoints={"email": {"block": block}}), model())
    email = plan.item("email").spend
    assert email / block == pytest.approx(round(email / block), abs=1e-9)
    # brute force over the number of blocks; the rest split by KKT between tv and search
    best = 0.0
    for n in range(int(B // block) + 1):
        rest = B - n * block
        x, _ = kkt(["tv", "search"], rest)
        if min(x.values()) < 0:
            continue
        best = max(best, F("email", n * block) + sum(F(t, v) for t, v in x.items()))
    assert plan.total_kpi >= best * (1 - 1e-4)


LEADS = {"tv": 300.0, "search": 50.0, "email": 10.0}  # weekly leads at saturation, same scale S


def leads_model() -> ResponseModel:
    return ResponseModel(
        kpi="leads",
        touchpoints={
            t: TouchpointResponse(t, STAGES[t], Saturation("exponential", {"beta": b, "scale": S}))
            for t, b in LEADS.items()
        },
    )


def kkt_floor(floor: float) -> tuple[dict[str, float], float, float]:
    """max Σ F_rev s.t. Σx = B, Σ F_leads >= floor: x_i = H s ln((b_i + μ l_i) / (s λ)), by nested bisection."""

    def alloc(mu):
        w = {t: BETAS[t] + mu * LEADS[t] for t in BETAS}
        log_sl = (sum(math.log(w[t]) for t in w) - B / (H * S)) / len(w)
        return {t: H * S * (math.log(w[t]) - log_sl) for t in w}, math.exp(log_sl) / S

    def leads(x):
        return sum(H * LEADS[t] * (1 - math.exp(-x[t] / (H * S))) for t in x)

    lo, hi = 0.0, 100.0
    for _ in range(200):
        mu = (lo + hi) / 2
        if leads(alloc(mu)[0]) < floor:
            lo = mu
        else:
            hi = mu
    x, lam = alloc(hi)
    return x, lam, hi


def test_kpi_floor_on_another_kpi_binds_with_kkt_dual():
    free = allocate(scenario(), model(), extra_models={"leads": leads_model()})
    free_leads = sum(li.other_kpis["leads"] for li in free.line_items)
    floor = round(free_leads * 1.25)
    plan = allocate(
        scenario(kpi_floors={"leads": floor}), model(), extra_models={"leads": leads_model()}
    )
    assert plan.status == "optimal"
    got = sum(li.other_kpis["leads"] for li in plan.line_items)
    assert got >= floor - 1e-3
    x, lam, mu = kkt_floor(floor)
    for t in BETAS:
        assert plan.item(t).spend == pytest.approx(x[t], abs=2e-3 * B)
    c = plan.constraint("kpi_floor__leads")
    assert c.binding
    # d revenue / d floor = -μ (each extra lead costs μ revenue)
    assert c.shadow_price == pytest.approx(-mu, rel=2e-2)
    assert plan.budget_shadow_price == pytest.approx(lam, rel=1e-2)


def test_weighted_value_over_two_kpis():
    values = {"revenue": 1.0, "leads": 2.0}
    sc = scenario(objective="max_value", kpi_values=values)
    plan = allocate(sc, model(), extra_models={"leads": leads_model()})
    # the combined curve of each line item is an exponential with beta b_i + 2 l_i: KKT in closed form
    w = {t: BETAS[t] + 2.0 * LEADS[t] for t in BETAS}
    log_sl = (sum(math.log(v) for v in w.values()) - B / (H * S)) / 3
    for t in BETAS:
        assert plan.item(t).spend == pytest.approx(H * S * (math.log(w[t]) - log_sl), abs=2e-3 * B)
    assert plan.budget_shadow_price == pytest.approx(math.exp(log_sl) / S, rel=1e-2)
    assert plan.gap <= 1e-4


def test_unknown_kpi_is_a_located_error():
    from optimizer.errors import ScenarioError

    with pytest.raises(ScenarioError, match="unknown KPI 'leeds'.*did you mean 'leads'"):
        allocate(scenario(kpi_floors={"leeds": 10}), model(), extra_models={"leads": leads_model()})
