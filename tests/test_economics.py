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


def write_case(tmp_path, spend_max: float | None = 30_000.0) -> tuple[str, str]:
    (tmp_path / "m.json").write_text(json.dumps(model(spend_max=spend_max)))
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text(f"name: a\nmodel: m.json\nhorizon_weeks: {H}\nbudget: 2000000\n")
    b.write_text(f"name: b\nmodel: m.json\nhorizon_weeks: {H}\nbudget: 600000\nhurdle_rate: 0.2\n")
    return str(a), str(b)


def test_compare_gives_each_scenario_its_break_even(tmp_path):
    a, b = write_case(tmp_path)
    res = CliRunner().invoke(cli, ["compare", a, b, "--format", "json", "--no-ledger"])
    assert res.exit_code == 0, res.output
    got = {s["scenario"]: s["break_even"] for s in json.loads(res.stdout)["scenarios"]}
    assert abs(got["a"]["budget"] - closed_form(1.0, 1.0)) <= tolerance()
    assert abs(got["b"]["budget"] - closed_form(1.0, 1.2)) <= tolerance()
    assert got["b"]["threshold"] == pytest.approx(1.2)
    # b's 600k lies below its break-even budget: nothing beyond it
    assert got["b"]["spend_beyond"] == 0 and got["a"]["spend_beyond"] > 0
    assert "a: extrapolation:" in res.stderr  # a's 2M plan goes past the 30k a week seen
    table = CliRunner().invoke(cli, ["compare", a, b, "--no-ledger"], env={"COLUMNS": "200"})
    assert table.exit_code == 0 and "break-even" in table.stdout and "beyond it" in table.stdout
    import openpyxl

    xlsx = tmp_path / "c.xlsx"
    res = CliRunner().invoke(
        cli, ["compare", a, b, "--format", "xlsx", "-o", str(xlsx), "--no-ledger"]
    )
    assert res.exit_code == 0, res.output
    rows = list(openpyxl.load_workbook(xlsx)["Summary"].iter_rows(max_row=3, values_only=True))
    assert rows[0][-3:] == ("break-even threshold", "break-even budget", "spend beyond it")
    assert rows[1][-2] == pytest.approx(got["a"]["budget"])
    assert rows[2][-1] == pytest.approx(got["b"]["spend_beyond"])


def test_the_sweep_break_even_points_do_not_move_with_its_range(tmp_path):
    """The knee ('diminishing returns') moved with the sweep's range; break-even must not."""
    a, b = write_case(tmp_path)
    outs = []
    for budgets in ("100000:1500000:8", "500000:4000000:5"):
        res = CliRunner().invoke(
            cli, ["sweep", b, "--budgets", budgets, "--format", "json", "--no-ledger"]
        )
        assert res.exit_code == 0, res.output
        outs.append(json.loads(res.stdout))
    first, second = (o["break_even"] for o in outs)
    assert first == second
    assert abs(first["budget"] - closed_form(1.0, 1.2)) <= tolerance()
    assert abs(first["payback_budget"] - closed_form(1.0, 1.0)) <= tolerance()
    assert "diminishing_returns_at" not in outs[0]
    for p in outs[0]["points"]:  # each point's spend beyond the hurdle's budget
        assert p["spend_beyond"] == pytest.approx(
            max(0.0, p["total_spend"] - first["budget"]), abs=0.01
        )
        assert p["marginal_return"] == pytest.approx(p["marginal_roi"])  # revenue: 1 per unit


def test_sweep_warns_once_per_extrapolated_line_item_from_the_first_budget(tmp_path):
    a, _ = write_case(tmp_path)
    res = CliRunner().invoke(
        cli, ["sweep", a, "--budgets", "100000:2000000:5", "--format", "json", "--no-ledger"]
    )
    assert res.exit_code == 0, res.output
    ex = json.loads(res.stdout)["extrapolation"]
    ids = [x["id"] for x in ex]
    assert len(ids) == len(set(ids)) and ids  # once each
    warned = [ln for ln in res.stderr.splitlines() if "extrapolation: from a budget of" in ln]
    assert len(warned) == len(ids)


def test_the_review_pack_says_where_break_even_is(tmp_path):
    a, _ = write_case(tmp_path)
    out = tmp_path / "review.md"
    res = CliRunner().invoke(cli, ["explain", a, "-o", str(out), "--sweep-points", "0"])
    assert res.exit_code == 0, res.output
    text = out.read_text()
    assert "Break-even: the marginal return in money falls to 1.00" in text
    assert "Spend beyond break-even" in text and "every funded dollar clears" not in text


def test_phased_plan_is_judged_at_its_busiest_period(tmp_path):
    """Item 7 on a calendar: a plan that spends all its money in January is beyond the history
    there even when its horizon average is not (truth: January's weekly rate = its spend / 4)."""
    import copy

    from optimizer.allocate import allocate
    from optimizer.response.model import model_from_dict
    from optimizer.scenario import scenario_from_dict
    from tests.factories import TINY_MODEL

    s = scenario_from_dict(
        {
            "name": "january",
            "model": "m.json",
            "start": "2027-01-04",
            "horizon_weeks": 13,
            "phasing": "month",
            "budget": 300000,
            "periods": {"2027-02": {"max": 0}, "2027-03": {"max": 0}},
        }
    )
    plan = allocate(s, model_from_dict(TINY_MODEL))
    assert plan.ok, plan.message
    search = plan.item("search")
    jan = next(p for p in search.periods if p.period == "2027-01")
    assert jan.weeks == 4 and jan.spend == pytest.approx(search.spend, abs=0.01)
    data = copy.deepcopy(TINY_MODEL)
    average = search.spend / 13
    data["touchpoints"]["search"]["spend_range"] = {"min": 0.0, "max": 2 * average}
    got = {x["id"]: x for x in extrapolation(plan, model_from_dict(data))}
    assert got["search"]["kind"] == "beyond" and got["search"]["period"] == "2027-01"
    assert got["search"]["weekly_spend"] == pytest.approx(jan.spend / 4)
    # judged at the horizon average (what it was before), the same plan was within the history
    assert average < 2 * average < jan.spend / 4


def test_max_net_with_every_line_item_held_has_no_last_dollar_at_the_threshold():
    """max_net's last-dollar return is (1 + hurdle_rate) / value_per_kpi only for a line item no
    rule holds (KKT). Here every funded line item is held at its maximum while it still returns
    more than 1 (tv 3.0 and search 4.0 at the first dollar, radio held at 0): no dollar of the plan
    returns 1.00, so the break-even has no marginal return to report (the reviewer's case: it said
    1.00 while the lowest line item returned 1.03)."""
    caps = {"tv": {"max": 50_000}, "search": {"max": 50_000}, "radio": {"max": 0}}
    sc = scenario(objective="max_net", budget=None, value_per_kpi=1.0, touchpoints=caps)
    m = model_from_dict(model())
    plan = allocate(sc, m)
    assert plan.ok and all(li.spend >= li.upper - 0.01 for li in plan.line_items)
    assert min(li.marginal_roi for li in plan.line_items if li.spend > 0) > 1.0
    be = break_even(sc, m, plan)
    assert be is not None and be.marginal_return is None and be.budget is None
    # with room to move (no caps) a funded line item returns the threshold, and so does the plan
    free = scenario(objective="max_net", budget=None, value_per_kpi=1.0)
    plan = allocate(free, m)
    be = break_even(free, m, plan)
    assert be is not None and be.marginal_return == pytest.approx(1.0)


def test_undated_max_net_review_names_no_target(tmp_path):
    """A max_net plan has no budget and no target: the review's hurdle is the return at which a
    dollar pays its cost, not 'the return at which the target is met'."""
    (tmp_path / "m.json").write_text(json.dumps(model()))
    s = {"name": "net", "model": "m.json", "horizon_weeks": H, "objective": "max_net"}
    s.update(hurdle_rate=0.2, value_per_kpi=1.0)
    (tmp_path / "s.json").write_text(json.dumps(s))
    out = tmp_path / "review.md"
    res = CliRunner().invoke(
        cli,
        ["explain", str(tmp_path / "s.json"), "-o", str(out), "--sweep-points", "0", "--no-ledger"],
    )
    assert res.exit_code == 0, res.output
    text = " ".join(out.read_text().split())
    assert "the return at which a dollar pays its cost (there is no budget)" in text
    assert "target is met" not in text
