"""Planning units (issue 17 item 3): ``min_line_item`` and ``round_to``, scenario-wide, honoured by
the solver (integer rules in the MILP), certified against brute-force enumeration on a tiny
instance, the budget's remainder left unallocated and said so, the cost of each by re-solve in
the JSON, the table and the review pack, and bad combinations named."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from optimizer.allocate import allocate
from optimizer.allocate.breakpoints import HorizonCurve
from optimizer.errors import ScenarioError
from optimizer.response.model import model_from_dict
from optimizer.scenario import scenario_from_dict
from optimizer.workflow.economics import with_economics
from tests.factories import TINY_MODEL

MODEL = model_from_dict(TINY_MODEL)
REPO = Path(__file__).resolve().parents[1]


def scenario(**kw):
    return scenario_from_dict({"name": "units", "model": "m.json", "horizon_weeks": 13, **kw})


def is_multiple(x: float, unit: float) -> bool:
    return abs(x - unit * round(x / unit)) <= 0.005


def brute_force(budget: float, unit: float, least: float) -> tuple[float, tuple[float, ...]]:
    """The best plan by enumeration: every line item 0 or >= least, a multiple of unit, the total
    within budget; KPI on the model's smooth horizon curves."""
    tps = list(MODEL.touchpoints)
    curves = [HorizonCurve(MODEL.touchpoints[t], 13.0) for t in tps]
    steps = [0.0] + [k * unit for k in range(1, int(budget // unit) + 1) if k * unit >= least]
    values = [np.array([float(c.value(x)) for x in steps]) for c in curves]
    best, arg = -np.inf, ()
    for combo in itertools.product(range(len(steps)), repeat=len(tps)):
        spend = sum(steps[j] for j in combo)
        if spend > budget + 1e-9:
            continue
        v = sum(values[i][j] for i, j in enumerate(combo))
        if v > best:
            best, arg = v, tuple(steps[j] for j in combo)
    return float(best), arg


@pytest.mark.parametrize(
    ("budget", "unit", "least"),
    [(265_000.0, 10_000.0, 40_000.0), (130_000.0, 5_000.0, 60_000.0), (90_000.0, 20_000.0, 0.0)],
)
def test_plan_is_certified_against_brute_force_enumeration(budget, unit, least):
    # truth: the enumeration over every multiple of the unit (hundreds to thousands of plans); the
    # plan's KPI is within the certified tolerance (1e-4 relative) of the best one, never above it
    rules = {"round_to": unit} | ({"min_line_item": least} if least else {})
    plan = allocate(scenario(budget=budget, **rules), MODEL)
    assert plan.status == "optimal", plan.message
    assert plan.gap is not None and plan.gap <= 1e-4
    best, arg = brute_force(budget, unit, least)
    for li in plan.line_items:
        assert is_multiple(li.spend, unit), (li.id, li.spend)
        assert li.spend <= 0.005 or li.spend >= least - 0.005, (li.id, li.spend)
    assert plan.total_spend <= budget + 0.005
    assert plan.total_kpi <= best * (1 + 1e-9)
    assert plan.total_kpi >= best * (1 - 1e-4), (plan.total_kpi, best, arg)


def test_without_round_to_the_same_scenario_is_not_in_units():
    # the rule must be what makes the plan round: without it the tiny plan has odd amounts
    plan = allocate(scenario(budget=265_000.0), MODEL)
    assert not all(is_multiple(li.spend, 10_000.0) for li in plan.line_items)


def test_remainder_of_a_budget_that_is_not_a_multiple_is_left_unallocated_and_said():
    s = scenario(budget=265_000.0, round_to=10_000.0, min_line_item=40_000.0)
    plan = with_economics(s, MODEL, allocate(s, MODEL))
    units = plan.extras["planning_units"]
    assert plan.total_spend == pytest.approx(260_000.0, abs=0.005)
    assert units.unallocated == pytest.approx(5_000.0, abs=0.005)
    costs = {c.rule: c for c in units.costs}
    assert set(costs) == {"min_line_item", "round_to"}
    for c in costs.values():
        # the plan without a rule can only be as good or better (certified to 1e-4 each)
        assert c.status == "optimal"
        assert c.objective_lost >= -1e-4 * plan.total_kpi
    # round_to's cost here includes the 5,000 it cannot spend: measurably positive
    assert costs["round_to"].objective_lost > 0


def test_exact_budget_must_be_a_multiple():
    with pytest.raises(ScenarioError) as e:
        scenario(budget={"exactly": 265_000}, round_to=10_000)
    msg = str(e.value)
    assert "budget.exactly" in msg and "round_to" in msg and "260,000" in msg and "270,000" in msg


def test_block_must_be_a_multiple_of_round_to_and_units_are_money():
    with pytest.raises(ScenarioError, match=r"touchpoints\.tv\.block"):
        scenario(budget=265_000, round_to=10_000, touchpoints={"tv": {"block": 15_000}})
    with pytest.raises(ScenarioError, match="min_line_item"):
        scenario(budget=265_000, min_line_item=-5)


def test_phased_scenario_refuses_units_by_name():
    with pytest.raises(ScenarioError, match="round_to"):
        scenario(budget=265_000, round_to=1000, start="2027-01-04", phasing="month")


def test_touchpoint_min_if_funded_and_scenario_minimum_combine_to_the_larger():
    s = scenario(
        budget=265_000.0, min_line_item=40_000.0, touchpoints={"email": {"min_if_funded": 90_000}}
    )
    plan = allocate(s, MODEL)
    assert plan.status == "optimal"
    email = plan.item("email").spend
    assert email <= 0.005 or email >= 90_000 - 0.005
    for li in plan.line_items:
        assert li.spend <= 0.005 or li.spend >= 40_000 - 0.005


def test_cli_json_table_and_review_show_the_units_and_their_cost(tmp_path):
    model = tmp_path / "model.json"
    model.write_text(json.dumps(TINY_MODEL))
    path = tmp_path / "units.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "name": "units",
                "model": "model.json",
                "horizon_weeks": 13,
                "budget": 265_000,
                "min_line_item": 40_000,
                "round_to": 10_000,
            }
        )
    )
    cmd = [sys.executable, "-m", "optimizer"]
    out = subprocess.run(
        [*cmd, "optimize", str(path), "--format", "json"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    d = json.loads(out.stdout)
    pu = d["planning_units"]
    assert pu["min_line_item"] == 40_000 and pu["round_to"] == 10_000
    assert pu["unallocated"] == pytest.approx(5_000.0)
    assert set(pu["cost"]) == {"min_line_item", "round_to"}
    for li in d["line_items"]:
        assert is_multiple(li["spend"], 10_000)
    table = subprocess.run(
        [*cmd, "optimize", str(path)], capture_output=True, text=True, cwd=tmp_path, check=False
    )
    assert table.returncode == 0, table.stderr
    flat = " ".join(table.stdout.split())
    assert (
        "Planning units: every line item is 0 or at least 40,000 and a multiple of 10,000" in flat
    )
    assert "5,000 of the budget is left unallocated" in flat
    plain = tmp_path / "plain.yaml"
    plain.write_text(yaml.safe_dump({"extends": "units.yaml", "name": "plain", "round_to": None}))
    comp = subprocess.run(
        [*cmd, "compare", str(plain), str(path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert comp.returncode == 0, comp.stderr
    flat = " ".join(comp.stdout.split())
    assert "units: Planning units: every line item is 0 or at least 40,000 and a multiple" in flat
    assert "plain: Planning units: every line item is 0 or at least 40,000 (held" in flat
    review = tmp_path / "review.md"
    # --sweep-points 3: the planning-units lines do not depend on how many budgets the review
    # sweeps; at the default 21 the sweep of this MILP was 30 of its 37 re-solves (34 CPU-s),
    # at 3 the whole explain takes ~10 CPU-s and still sweeps a MILP
    ex = subprocess.run(
        [*cmd, "explain", str(path), "--format", "md", "-o", str(review), "--sweep-points", "3"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert ex.returncode == 0, ex.stderr
    text = " ".join(review.read_text().split())
    assert "Planning units:" in text and "round_to costs" in text


def test_infeasible_lock_is_named_on_the_command_line(tmp_path):
    model = tmp_path / "model.json"
    model.write_text(json.dumps(TINY_MODEL))
    path = tmp_path / "bad.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "name": "bad",
                "model": "model.json",
                "budget": 265_000,
                "round_to": 10_000,
                "touchpoints": {"tv": {"lock": 45_000}},
            }
        )
    )
    out = subprocess.run(
        [sys.executable, "-m", "optimizer", "optimize", str(path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert out.returncode != 0
    assert "the tv lock (45,000)" in out.stderr and "the planning unit (10,000) on tv" in out.stderr
    assert "Traceback" not in out.stderr


def test_units_hold_on_every_market_line_item(tmp_path):
    """With a markets index each line item is touchpoint × market: each is 0 or at least the
    minimum, and a whole number of units (the rule is per line item, not per national total)."""
    from tests.test_markets import make_world
    from tests.test_markets import scenario as market_scenario

    make_world(tmp_path, n_markets=2, n_tp=3)
    s = market_scenario(tmp_path, budget=400_000, min_line_item=20_000, round_to=5_000)
    from optimizer.response.model import read_model

    model = read_model(s.model)
    plan = with_economics(s, model, allocate(s, model))
    assert plan.status == "optimal", plan.message
    assert len({li.market for li in plan.line_items}) == 2
    for li in plan.line_items:
        assert is_multiple(li.spend, 5_000.0), (li.key, li.spend)
        assert li.spend <= 0.005 or li.spend >= 20_000 - 0.005, (li.key, li.spend)
    assert {c.rule for c in plan.extras["planning_units"].costs} == {"min_line_item", "round_to"}
