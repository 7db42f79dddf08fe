"""A dated, phased plan with a KPI floor on curves whose slope is infinite at 0 (hill, shape < 1):
the rounding repair that keeps a floor after rounding to cents must not divide by that slope.

The CLI runs as a subprocess, as the user runs it.
"""

from __future__ import annotations

import json

from tests.test_adv_core import run_cli, write_world

#: a hill of shape 0.3 (with adstock), an exponential and a hill of shape 0.6
from tests.test_s17_alloc_phased_bound import MODEL

BASE = {"name": "t", "model": "model.json", "horizon_weeks": 13, "start": "2027-01-04"}
BASE |= {"phasing": "month", "budget": 0}


def test_budget_zero_under_a_sub_cent_floor_is_no_internal_error(tmp_path):
    """Budget 0, revenue floor 0.001 (found by the S17 helper alloc17): exit 70, "internal error:
    cannot convert float NaN to integer" - the repair's gain per dollar at 0 was 0 x inf. Truth:
    a budget of 0 admits one plan, spend 0, revenue 0, so the floor cannot hold: infeasible, exit 3
    (it read "not certified", exit 4, until review S17 R1 D4), never an internal error."""
    path = write_world(tmp_path, MODEL, BASE | {"kpi_floors": {"revenue": 0.001}})
    r = run_cli("optimize", str(path), "--no-ledger", cwd=tmp_path)
    assert r.returncode == 3, r.stderr
    assert "internal error" not in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert "the budget (0) and the revenue floor" in r.stderr, r.stderr


def test_budget_zero_under_a_floor_names_both_and_the_raise_plans(tmp_path):
    """Budget 0, revenue floor 1,000: infeasible, the budget and the floor named; the budget
    raised as suggested plans (on a's curve a cent over 13 weeks earns thousands: its slope is
    infinite at 0)."""
    path = write_world(tmp_path, MODEL, BASE | {"kpi_floors": {"revenue": 1000}})
    r = run_cli("optimize", str(path), "--no-ledger", cwd=tmp_path)
    assert r.returncode == 3, r.stderr
    assert "the budget (0) and the revenue floor (1,000) cannot both hold" in r.stderr, r.stderr
    step = r.stderr.split("raise the budget (0) by ")[1].split()[0].rstrip(".")
    path = write_world(
        tmp_path, MODEL, BASE | {"budget": float(step)} | {"kpi_floors": {"revenue": 1000}}
    )
    r = run_cli("optimize", str(path), "--no-ledger", "--format", "json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["status"] == "optimal" and out["total_kpi"] >= 1000
