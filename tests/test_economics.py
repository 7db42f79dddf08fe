"""Break-even economics (optimizer/workflow/economics.py) against closed-form answers.

Exponential curves without adstock: a line item spending x over H weeks spends x/H a week and
earns ``H * beta * (1 - exp(-x / (H * s)))`` over the horizon, so its marginal return is
``(beta / s) * exp(-x / (H * s))``. With a unit of KPI worth ``v`` money, the marginal money return
falls to the threshold ``T = 1 + hurdle_rate`` where ``v * beta / s * exp(-x / (H s)) = T``:

    x_i = H * s_i * ln(v * beta_i / (s_i * T))   (0 when the log is negative; the cap when above it)

and the break-even budget is the sum of the x_i. The allocator certifies marginal returns within
0.1%, which moves each x_i by at most ``H * s_i * ln(1.001)``: that is the tolerance used.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from click.testing import CliRunner

from optimizer.allocate import allocate
from optimizer.cli import cli
from optimizer.response.model import model_from_dict
from optimizer.scenario import scenario_from_dict
from optimizer.workflow.economics import break_even, extrapolation, money_per_kpi
from optimizer.workflow.sweep import sweep

H = 13
CURVES = {  # beta (weekly KPI at saturation), scale (weekly spend)
    "tv": (120_000.0, 40_000.0),  # first-dollar return 3.0
    "search": (60_000.0, 15_000.0),  # 4.0
    "radio": (20_000.0, 25_000.0),  # 0.8: never pays back
}


def model(kpi: str = "revenue", spend_max: float | None = None) -> dict:
    tps = {}
    for tid, (beta, scale) in CURVES.items():
        tps[tid] = {
            "stage": "awareness",
            "curve": {"family": "exponential", "beta": beta, "scale": scale},
        }
        if spend_max is not None:
            tps[tid]["spend_range"] = {"min": 0.0, "max": spend_max, "mean": spend_max / 2}
    return {"kpi": kpi, "period": "week", "touchpoints": tps}


def closed_form(value: float, threshold: float, caps: dict[str, float] | None = None) -> float:
    total = 0.0
    for tid, (beta, s) in CURVES.items():
        x = H * s * math.log(value * beta / (s * threshold))
        x = max(0.0, x)
        if caps and tid in caps:
            x = min(x, caps[tid])
        total += x
    return total


def tolerance() -> float:
    return sum(H * s * math.log(1.001) for _, s in CURVES.values())


def scenario(**over) -> object:
    d = {"name": "s", "model": "m.json", "horizon_weeks": H, "budget": 2_000_000}
    d.update(over)
    return scenario_from_dict(d)


def test_break_even_of_a_revenue_kpi_is_the_closed_form():
    sc, m = scenario(), model_from_dict(model())
    plan = allocate(sc, m)
    be = break_even(sc, m, plan)
    want = closed_form(1.0, 1.0)
    assert be is not None and be.threshold == 1.0 and be.value_source == "the KPI is revenue"
    assert abs(be.budget - want) <= tolerance(), (be.budget, want)
    # the plan spends its 2M; what lies beyond break-even is the rest, to the cent
    assert be.spend_beyond == pytest.approx(plan.total_spend - be.budget, abs=0.01)
    # this plan's last dollar returns less than a dollar, and the dollars beyond do on average
    assert be.marginal_return < 1.0 and 0 < be.return_beyond < 1.0
    assert be.payback_budget == be.budget  # no hurdle: the same point


def test_break_even_with_a_value_per_kpi_a_hurdle_and_a_cap():
    caps = {"tv": 300_000.0}
    sc = scenario(value_per_kpi=0.9, hurdle_rate=0.15, touchpoints={"tv": {"max": caps["tv"]}})
    m = model_from_dict(model(kpi="leads"))
    plan = allocate(sc, m)
    be = break_even(sc, m, plan)
    assert be is not None and be.threshold == pytest.approx(1.15)
    assert be.value_source == "value_per_kpi"
    assert abs(be.budget - closed_form(0.9, 1.15, caps)) <= tolerance()
    assert abs(be.payback_budget - closed_form(0.9, 1.0, caps)) <= tolerance()
    assert be.payback_budget > be.budget  # a hurdle stops the money earlier than break-even


def test_a_sweep_marginal_return_crosses_the_threshold_at_the_break_even_budget():
    """The frontier's own marginal return (the budget's shadow price) is above the threshold
    just below the break-even budget and below it just above (1% either side)."""
    sc, m = scenario(value_per_kpi=2.0, hurdle_rate=0.5), model_from_dict(model(kpi="visits"))
    be = break_even(sc, m, allocate(sc, m))
    front = sweep(sc, m, [0.99 * be.budget, 1.01 * be.budget])
    lo, hi = (2.0 * p["marginal_roi"] for p in front.points())
    assert lo > 1.5 > hi, (lo, hi)


def test_no_break_even_when_the_rules_cap_everything_above_the_threshold():
    caps = {"tv": {"max": 50_000}, "search": {"max": 50_000}, "radio": {"max": 0}}
    sc, m = scenario(touchpoints=caps), model_from_dict(model())
    be = break_even(sc, m, allocate(sc, m))
    assert be is not None and be.budget is None and be.spend_beyond == 0
    assert "cap every funded line item" in be.reason


def test_a_kpi_that_is_not_money_has_no_break_even():
    assert money_per_kpi(scenario(), "leads") is None
    sc, m = scenario(), model_from_dict(model(kpi="leads"))
    assert break_even(sc, m, allocate(sc, m)) is None


def test_extrapolation_lists_spend_beyond_the_history_and_curves_without_data():
    data = model(spend_max=30_000.0)
    data["touchpoints"]["radio"]["spend_range"] = {"min": 0.0, "max": 0.0, "mean": 0.0}
    m = model_from_dict(data)
    sc = scenario(touchpoints={"radio": {"min": 13_000}})
    plan = allocate(sc, m)
    got = {x["id"]: x for x in extrapolation(plan, m)}
    weekly = {li.id: li.spend / H for li in plan.line_items}
    assert got["radio"]["kind"] == "no_data"
    for tid in ("tv", "search"):
        assert (tid in got) == (weekly[tid] > 30_000.0)
        if tid in got:
            assert got[tid]["kind"] == "beyond" and got[tid]["max_seen"] == 30_000.0


def test_optimize_json_and_table_say_where_break_even_is(tmp_path):
    (tmp_path / "m.json").write_text(json.dumps(model(spend_max=30_000.0)))
    (tmp_path / "s.yaml").write_text(
        f"name: s\nmodel: m.json\nhorizon_weeks: {H}\nbudget: 2000000\n"
    )
    res = CliRunner().invoke(
        cli, ["optimize", str(tmp_path / "s.yaml"), "--format", "json", "--no-ledger"]
    )
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout)
    assert set(d["break_even"]) >= {"threshold", "budget", "spend_beyond"}
    assert abs(d["break_even"]["budget"] - closed_form(1.0, 1.0)) <= tolerance()
    assert {x["id"] for x in d["extrapolation"]} <= set(CURVES)
    assert "extrapolation" in res.stderr  # warned on stderr too
    table = CliRunner().invoke(cli, ["optimize", str(tmp_path / "s.yaml"), "--no-ledger"])
    assert table.exit_code == 0 and "Break-even" in table.stdout, table.output
    assert np.isfinite(d["break_even"]["spend_beyond"])
