"""Plans on a calendar that the interior point now certifies (session 18).

1. A KPI floor the plan clears. The interior point knows no rule on the KPI, so any KPI floor
   sent the plan to the LP over pieces (FY26 by week with a revenue floor of 60M, which its plan
   clears by 10.8M: certified at 2.0e-6, 8.2 of revenue under the plan without the floor). A
   rule its plan meets leaves that plan the optimum under the rule too: it is now kept, the floor
   reported not binding with a shadow price of 0.
2. max_net by month: the interior point's plan, certified at 1.4e-10, was refused for its KKT
   residual of 3.3%, all of it from radio at 0.00084 (a hundredth of a cent, rounded to zero in
   the plan) returning 0.967 against its price of 1: a decision under half a cent is at its lower
   bound for the check (it may return less than its price, not more).

Truth: the plan without the floor (a different problem, the same optimum) for 1; for 2 the LP
over pieces' certified plan (``method="lp"``): our net value at least its value less its gap."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from optimizer.allocate.phased import phased_problem, solve_phased
from optimizer.response.model import read_model
from optimizer.scenario import load_scenario

REPO = Path(__file__).resolve().parent.parent


def _fy26(tmp: Path, name: str, **over) -> Path:
    sc = yaml.safe_load((REPO / "scenarios" / "fy26_monthly.yaml").read_text())
    sc["model"] = str(REPO / "optimizer" / "sample" / "true_model.json")
    sc["carryover"]["before"] = str(REPO / "optimizer" / "sample" / "history.csv")
    sc.update(over)
    for k in [k for k, v in over.items() if v is None]:
        sc.pop(k)
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(sc, sort_keys=False))
    return path


def _plan(path: Path) -> dict:
    r = subprocess.run(
        [sys.executable, "-m", "optimizer", "optimize", "-q", "--no-ledger", "--format", "json"]
        + [str(path)],
        capture_output=True,
        text=True,
        cwd=path.parent,
    )
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_a_floor_the_plan_clears_keeps_the_interior_points_plan(tmp_path):
    free = _plan(_fy26(tmp_path, "free"))
    floored = _plan(_fy26(tmp_path, "floor", kpi_floors={"revenue": 60_000_000}))
    assert free["total_kpi"] > 60_000_000  # the premise: the plan clears the floor
    assert floored["status"] == "optimal" and floored["gap"] <= 1e-9, floored["gap"]
    assert floored["solver"] == "interior point"
    assert [li["spend"] for li in floored["line_items"]] == [
        li["spend"] for li in free["line_items"]
    ]
    floor = next(c for c in floored["constraints"] if c["kind"] == "kpi_floor")
    assert floor["binding"] is False and floor["shadow_price"] == 0.0


def test_a_floor_the_plan_misses_still_goes_to_the_lp_and_holds(tmp_path):
    """max_net stops where a dollar returns its cost; a revenue floor 0.3% above that plan's revenue
    binds: the interior point's plan breaks it and the LP over pieces plans it (the floor holds
    on the reported, rounded plan)."""
    net = {"budget": None, "objective": "max_net", "value_per_kpi": 1.0}
    free = _plan(_fy26(tmp_path, "net", **net))
    floor = round(free["total_kpi"] * 1.003)
    floored = _plan(_fy26(tmp_path, "netfloor", **net, kpi_floors={"revenue": floor}))
    assert floored["status"] == "optimal" and floored["solver"] != "interior point"
    assert floored["total_kpi"] >= floor - 1e-6 * floor
    row = next(c for c in floored["constraints"] if c["kind"] == "kpi_floor")
    assert row["binding"] is True


def test_max_net_by_month_is_certified_by_the_interior_point(tmp_path):
    path = _fy26(tmp_path, "net", budget=None, objective="max_net", value_per_kpi=1.0)
    plan = _plan(path)
    assert plan["status"] == "optimal" and plan["solver"] == "interior point"
    assert plan["gap"] <= 1e-9, plan["gap"]
    sc = load_scenario(path)
    problem = phased_problem(sc, read_model(sc.model))
    sol, lp = solve_phased(problem), solve_phased(problem, method="lp")
    assert sol.method == "interior_point" and lp.status == "optimal"
    assert sol.value >= lp.value * (1 - 1e-9) and sol.bound >= lp.value * (1 - 1e-12)
    assert sol.kkt <= 1e-3
    assert sol.value == pytest.approx(lp.value, rel=max(lp.gap, 1e-9) * 1.01)


def test_a_binding_floor_under_max_net_is_certified_by_its_multiplier(tmp_path):
    """A revenue floor 1% above the max_net plan's revenue (FY26 by month) binds. The LP over
    pieces stopped at a gap of 0.018% ("not certified", exit 4): its own bounds, with the floor's
    dual read off pieces, sat 3% above, and the least bound it had was the optimum without the
    floor. The floor's multiplier θ turns it into max_net at a lower price of money, the interior
    point's problem, whose bound ``θ·B(θ) - y·F`` bounds the plan under the floor
    (``phased_dual.by_multiplier``). Truth: the optimum under the floor is at most the optimum
    without it (the free plan's value, certified to 1e-9) and at least our plan's value; our
    bound must lie between them and within the tolerance (1e-4) of our plan; the floor holds on
    the reported plan and binds."""
    net = {"budget": None, "objective": "max_net", "value_per_kpi": 1.0}
    free = _plan(_fy26(tmp_path, "net", **net))
    floor = round(free["total_kpi"] * 1.01)
    plan = _plan(_fy26(tmp_path, "netfloor", **net, kpi_floors={"revenue": floor}))
    assert plan["status"] == "optimal", plan["status"]
    assert plan["gap"] <= 1e-4
    assert plan["objective_value"] <= plan["bound"] < free["objective_value"]
    assert plan["total_kpi"] >= floor
    row = next(c for c in plan["constraints"] if c["kind"] == "kpi_floor")
    assert row["binding"] is True
