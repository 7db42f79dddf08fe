"""A dated, phased plan that cannot hold its rules (contract 7): the diagnosis names every rule of
the conflict, suggests a move that plans, and a KPI floor gets its exact step, as the undated
plan's diagnosis does (docs/allocation.md, "When the rules cannot all hold").

Each test states its truth; the CLI runs as a subprocess, as the user runs it.
"""

from __future__ import annotations

import json
import re

import pytest

from tests.test_adv_core import run_cli, write_world
from tests.test_s14_numbers import EDGE_MODEL, _most_kpi, _num

#: the edge model by month from 2027-01-04: January 4 weeks, February 4, March 5; no adstock
MONTHLY = {"name": "diag", "model": "model.json", "start": "2027-01-04", "horizon_weeks": 13}
MONTHLY |= {"phasing": "month", "objective": "max_kpi", "budget": 2_000_000}


def _plan(tmp_path, scenario: dict) -> tuple[int, dict | None, str]:
    """Exit code, the JSON plan (None when infeasible) and stderr of ``optimize``."""
    path = write_world(tmp_path, EDGE_MODEL, scenario)
    r = run_cli("optimize", str(path), "--no-ledger", "--format", "json", cwd=tmp_path)
    return r.returncode, (json.loads(r.stdout) if r.returncode == 0 else None), r.stderr


def test_per_period_caps_are_named_with_the_total_minimum(tmp_path):
    """A minimum of 900,000 on a over the quarter against a cap of 200,000 a month: the three
    caps sum to 600,000. The diagnosis named only "the a minimum (900,000) cannot hold": the caps
    were folded into each month's range and could not be named. Truth: all four rules conflict
    (drop any one and the rest hold); the least relative move is lowering the minimum by
    900,000 - 3 x 200,000 = 300,000 (raising the caps asks 50% of each); applied, it plans."""
    sc = MONTHLY | {"touchpoints": {"a": {"min": 900_000, "per_period": {"max": 200_000}}}}
    code, _, err = _plan(tmp_path, sc)
    assert code == 3, err
    # the three caps said once since session 18 (tests/test_s18_period_labels.py)
    assert "the a cap (200,000) in each month from 2027-01 to 2027-03" in err, err
    assert "the a minimum (900,000)" in err and "cannot both hold" in err, err
    assert "lower the a minimum (900,000) by 300,000" in err, err
    sc["touchpoints"]["a"]["min"] = 600_000
    code, plan, err = _plan(tmp_path, sc)
    assert code == 0 and plan is not None and plan["status"] == "optimal", err


def test_a_total_cap_is_named_with_monthly_floors(tmp_path):
    """The converse: a floor of 300,000 a month under a total cap of 600,000 on a. Truth: the cap
    and the three floors conflict; raising the cap by 300,000 (50%) moves less than lowering
    the floors (a third of each); applied, it plans."""
    sc = MONTHLY | {"touchpoints": {"a": {"max": 600_000, "per_period": {"min": 300_000}}}}
    code, _, err = _plan(tmp_path, sc)
    assert code == 3, err
    assert (
        "the a maximum (600,000)" in err
        and "the a floor (300,000) in each month from 2027-01 to 2027-03" in err
    ), err
    assert "raise the a maximum (600,000) by 300,000" in err, err
    sc["touchpoints"]["a"]["max"] = 900_000
    code, plan, err = _plan(tmp_path, sc)
    assert code == 0 and plan is not None and plan["status"] == "optimal", err


def test_change_limit_conflict_names_the_cap_and_moves_the_floor(tmp_path):
    """a at most 10,000 in January (4 weeks: 2,500 a week), its weekly rate moving by at most
    10% a month, and at least 150,000 in March. The diagnosis named the floor and the two change
    limits, not the January cap that starts the chain. Truth: the most March can hold is 5 weeks
    x 2,500 x 1.1 x 1.1 = 15,125, so the floor must be lowered by 134,875 (or the cap raised by
    about 89,173, a far larger relative move); applied, the floor of 15,125 plans."""
    a = {"per_period": {"max_change": 0.1}, "periods": {"2027-01": {"max": 10_000}}}
    a["periods"]["2027-03"] = {"min": 150_000}
    sc = MONTHLY | {"touchpoints": {"a": a}}
    code, _, err = _plan(tmp_path, sc)
    assert code == 3, err
    assert "the a cap (10,000) in 2027-01" in err, err
    m = re.search(r"lower the a floor \(150,000\) in 2027-03 by ([\d,.]+)", err)
    assert m, err
    assert _num(m.group(1)) == pytest.approx(150_000 - 5 * 2_500 * 1.1 * 1.1, abs=1.0)
    a["periods"]["2027-03"]["min"] = 150_000 - _num(m.group(1))
    code, plan, err = _plan(tmp_path, sc)
    assert code == 0 and plan is not None and plan["status"] == "optimal", err


def test_budget_against_minimums_is_raised_by_the_shortfall(tmp_path):
    """A budget of 500,000 against a minimum of 300,000 on a and 100,000 a month on b (300,000).
    Truth: the budget is 100,000 short; raising it by 100,000 plans."""
    sc = MONTHLY | {"budget": 500_000}
    sc["touchpoints"] = {"a": {"min": 300_000}, "b": {"per_period": {"min": 100_000}}}
    code, _, err = _plan(tmp_path, sc)
    assert code == 3, err
    assert "raise the budget (500,000) by 100,000" in err, err
    sc["budget"] = 600_000
    code, plan, err = _plan(tmp_path, sc)
    assert code == 0 and plan is not None and plan["status"] == "optimal", err


def test_phased_kpi_floor_gets_the_step_that_plans(tmp_path):
    """A revenue floor of 900,000 under a budget of 500,000, by month. The phased plan said only
    "the revenue floor (900,000) cannot hold", no step, where the undated plan says "lower ... by
    X, to Y". Truth (``_most_kpi``, the curves' first-order conditions; no adstock, so steady
    weekly spend is the phased optimum too): the budget buys at most 763,407.37. The floor
    suggested is at most that and within 0.05% of it (the solve's precision on its pieces);
    applied, it plans: exit 0, optimal, revenue at least the floor."""
    sc = MONTHLY | {"budget": 500_000, "kpi_floors": {"revenue": 900_000}}
    code, _, err = _plan(tmp_path, sc)
    assert code == 3, err
    m = re.search(r"lower the revenue floor \(900,000\) by ([\d,.]+), to ([\d,.]+)", err)
    assert m, err
    to = _num(m.group(2))
    assert _num(m.group(1)) == pytest.approx(900_000 - to, abs=0.011)
    most = _most_kpi(EDGE_MODEL, 500_000, 13)
    assert most == pytest.approx(763_407.37, abs=0.01)
    assert most - 5e-4 * most <= to <= most + 0.01
    sc["kpi_floors"] = {"revenue": to}
    code, plan, err = _plan(tmp_path, sc)
    assert code == 0 and plan is not None and plan["status"] == "optimal", err
    assert plan["total_kpi"] >= to - 0.005
