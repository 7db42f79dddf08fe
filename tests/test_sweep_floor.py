"""``sweep`` (the warm walk, its default) plans a budget under a KPI floor as ``optimize`` does
(reviewer S16 R1, D2): the walk's pieces, placed at the last budget's prices, lie under the
curves, and a budget within about 1.5% above the floor's least spend read infeasible on them,
"the budget (640,000) and the revenue floor (900,000) cannot both hold", where ``optimize``
plans it optimal."""

from __future__ import annotations

import json

import yaml

from tests.test_adv_core import run_cli
from tests.test_s14_numbers import EDGE_MODEL


def test_warm_sweep_agrees_with_optimize_just_above_a_floors_least_spend(tmp_path):
    """EDGE_MODEL's five exponential curves, 13 weeks, revenue floor 900,000: the least spend
    that buys it is 634,970.06 (tests/test_compare_min_spend.py's world). Truth: the warm sweep
    over 600,000..700,000 calls exactly the budgets below that infeasible, and at each feasible
    budget its status and revenue are optimize's at that budget (revenue to 1 unit: the sweep
    certifies within the same tolerance, on its own pieces)."""
    (tmp_path / "model.json").write_text(json.dumps(EDGE_MODEL))
    sc = {"name": "f", "model": "model.json", "horizon_weeks": 13, "budget": 500000}
    sc["kpi_floors"] = {"revenue": 900000}
    (tmp_path / "f.yaml").write_text(yaml.safe_dump(sc, sort_keys=False))
    r = run_cli(
        "sweep", "f.yaml", "--budgets", "600000:700000:11", "--no-ledger", "--format", "json",
        cwd=tmp_path,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    points = json.loads(r.stdout)["points"]
    status = {round(p["budget"]): p["status"] for p in points}
    assert [b for b, s in status.items() if s == "infeasible"] == [600000, 610000, 620000, 630000]
    for b in (640000, 650000):
        (tmp_path / f"f{b}.yaml").write_text(yaml.safe_dump({**sc, "budget": b}, sort_keys=False))
        r = run_cli("optimize", f"f{b}.yaml", "--no-ledger", "--format", "json", cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        opt = json.loads(r.stdout)
        point = next(p for p in points if round(p["budget"]) == b)
        assert point["status"] == opt["status"] == "optimal", (b, point["status"])
        assert abs(point["total_kpi"] - opt["total_kpi"]) <= 1.0, (b, point, opt["total_kpi"])
