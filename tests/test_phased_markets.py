"""Contracts 7 and 8 compose: a dated, phased scenario whose model is a markets index, through
the CLI as users run it (line items touchpoint × market, each with its periods)."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import pytest
import yaml

from optimizer.allocate.phased import make_phased_problem, phased_plan, solve_phased
from optimizer.allocate.phased_model import PhasedRow
from optimizer.allocate.problem import make_problem
from optimizer.calendar import Calendar, parse_date
from optimizer.response.model import read_model
from optimizer.scenario.schema import load_scenario
from tests.test_markets import make_world

BUDGET = 300_000.0
M0_MIN = 150_000.0  # binds: above m0's share of the free plan
FEB_MAX = 60_000.0  # binds: below February's share of the free plan


def _scenario(path, **over) -> dict:
    data = {
        "name": "phased by market",
        "model": "markets.json",
        "start": "2027-01-04",
        "horizon_weeks": 13,
        "phasing": "month",
        "budget": BUDGET,
        "markets": {"m0": {"min": M0_MIN}},
        "periods": {"2027-02": {"max": FEB_MAX}},
        **over,
    }
    (path / "s.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return data


def _run(args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "optimizer", *args], capture_output=True, text=True, cwd=cwd
    )


def test_phased_plan_over_markets_through_the_cli_matches_the_engine(tmp_path):
    w = make_world(tmp_path, n_markets=3, n_tp=3)
    _scenario(tmp_path)
    r = _run(["optimize", "s.yaml", "--format", "json", "--no-ledger"], tmp_path)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["status"] == "optimal" and out["gap"] <= 1e-4
    assert out["total_spend"] == pytest.approx(BUDGET, abs=0.01)
    # line items touchpoint × market, each with its three months
    assert {(li["id"], li["market"]) for li in out["line_items"]} == {
        (t, m) for t in w["tps"] for m in w["markets"]
    }
    assert all(
        [p["period"] for p in li["periods"]] == ["2027-01", "2027-02", "2027-03"]
        for li in out["line_items"]
    )
    # the market rule and the period cap hold (to the cent), and both bind
    m0 = sum(li["spend"] for li in out["line_items"] if li["market"] == "m0")
    assert m0 >= M0_MIN - 0.01 and m0 == pytest.approx(M0_MIN, abs=1.0)
    feb = sum(
        p["spend"] for li in out["line_items"] for p in li["periods"] if p["period"] == "2027-02"
    )
    assert feb <= FEB_MAX + 0.01 and feb == pytest.approx(FEB_MAX, abs=1.0)
    by_market = {m["market"]: m["spend"] for m in out["markets"]}
    assert by_market["m0"] == pytest.approx(m0, abs=0.05)
    assert sum(by_market.values()) == pytest.approx(out["total_spend"], abs=0.05)

    # the CSV: one row per line item × market × period, naming its market
    r = _run(["optimize", "s.yaml", "--format", "csv", "--no-ledger"], tmp_path)
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert len(rows) == 3 * 3 * 3
    csv_m0 = sum(float(x["spend"]) for x in rows if x["market"] == "m0")
    assert csv_m0 == pytest.approx(m0, abs=0.05)

    # the same problem built by hand as benchmarks/markets.py does: the undated markets problem,
    # its line items' curves, the calendar, and the February cap written out as a row
    sc = load_scenario(tmp_path / "s.yaml")
    base = make_problem(sc, read_model(tmp_path / "markets.json"))
    cal = Calendar(parse_date("2027-01-04"), 13, "month")
    feb_row = PhasedRow(
        "feb",
        "period_max",
        "2027-02",
        "<=",
        FEB_MAX,
        {(i, 1): 1.0 for i in range(len(base.items))},
        "February cap",
    )
    prob = make_phased_problem(base, [it.curve.response for it in base.items], cal, rules=[feb_row])
    direct = phased_plan(prob, solve_phased(prob))
    assert direct.status == "optimal"
    assert direct.total_kpi == pytest.approx(out["total_kpi"], rel=1e-6)
    assert direct.total_spend == pytest.approx(out["total_spend"], abs=0.01)


def test_a_carryover_file_without_markets_is_refused_located(tmp_path):
    """With a markets index the carry-over file needs a market column (tests/test_phased_national
    has the carry-over by market that works)."""
    make_world(tmp_path, n_markets=3, n_tp=3)
    (tmp_path / "before.csv").write_text("date,t0,t1,t2\n2026-12-28,1,1,1\n")
    _scenario(tmp_path, carryover={"before": "before.csv"})
    r = _run(["optimize", "s.yaml", "-o", "plan.json", "--format", "json", "--no-ledger"], tmp_path)
    assert r.returncode != 0
    assert "before.csv" in r.stderr and "field 'market'" in r.stderr
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "plan.json").exists()
