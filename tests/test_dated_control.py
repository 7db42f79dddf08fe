"""Dated budgetary control (issue 15, step 6): ``track`` matches weekly or monthly actuals to a
dated plan's weeks by date, reports missing weeks, flags the scenario's rules the run-rate would
break; ``replan`` continues the calendar from the actuals with their carry-over, and a ``track``
after a ``replan`` compares the re-plan's own weeks. Through the CLI as a subprocess, as users run
it; the carry-over and the on-track re-plan in process."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from optimizer.allocate import allocate
from optimizer.allocate.phased import phased_problem
from optimizer.response.model import read_model
from optimizer.scenario import load_scenario
from optimizer.workflow.control import read_actuals, replan
from optimizer.workflow.dated import rest_of_phased
from tests.factories import write_actuals, write_tiny_world

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "optimizer" / "sample" / "true_model.json"
START = dt.date(2026, 1, 5)  # 13 weeks: January 4 weeks, February 4, March 5


def cli(*args, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    r = subprocess.run(
        [sys.executable, "-m", "optimizer", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=600,
    )
    assert "Traceback" not in r.stderr, r.stderr
    return r


@pytest.fixture(scope="module")
def dated(tmp_path_factory):
    """A dated quarter planned by month (TV capped at 700,000 a month), optimised once."""
    root = tmp_path_factory.mktemp("dated")
    sc = root / "q1.yaml"
    sc.write_text(
        yaml.safe_dump(
            {
                "name": "Q1 by month",
                "model": str(MODEL),
                "start": START.isoformat(),
                "horizon_weeks": 13,
                "phasing": "month",
                "budget": 9_700_000,
                "touchpoints": {
                    "search": {"max": 2_000_000},
                    "tv": {"per_period": {"max": 700_000}},
                },
            },
            sort_keys=False,
        )
    )
    plan = root / "plan.json"
    r = cli("optimize", sc, "--format", "json", "-o", plan, "--ledger", root / "l.sqlite")
    assert r.returncode == 0, r.stderr
    return {"root": root, "scenario": sc, "plan": plan, "json": json.loads(plan.read_text())}


def planned_weeks(plan: dict) -> dict[str, dict[dt.date, float]]:
    """Each line item's planned spend by week (its Monday), from the plan's periods."""
    out: dict[str, dict[dt.date, float]] = {}
    for li in plan["line_items"]:
        by = out.setdefault(li["id"], {})
        for per in li["periods"]:
            s = dt.date.fromisoformat(per["start"])
            for w in range(per["weeks"]):
                by[s + dt.timedelta(weeks=w)] = per["spend"] / per["weeks"]
    return out


def write_rows(path: Path, rows) -> Path:
    path.write_text("date,touchpoint,spend\n" + "".join(f"{d},{t},{v:.2f}\n" for d, t, v in rows))
    return path


def weekly_rows(plan: dict, weeks: range, factor=None, skip=()):
    factor = factor or {}
    rows = []
    for tid, by in planned_weeks(plan).items():
        for d in sorted(by):
            k = (d - START).days // 7
            if k in weeks and k not in skip:
                rows.append((d, tid, round(by[d] * factor.get(tid, 1.0), 2)))
    return rows


def track_json(*args) -> dict:
    r = cli("track", *args, "--format", "json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_weekly_actuals_are_matched_to_the_dated_plan_by_date(dated, tmp_path):
    plan = dated["json"]
    # weeks 1-6 (to 2026-02-09), dated by the Sunday that ends each week: TV 10% fast
    rows = [
        (d + dt.timedelta(days=6), t, v) for d, t, v in weekly_rows(plan, range(6), {"tv": 1.1})
    ]
    out = track_json(dated["plan"], write_rows(tmp_path / "a.csv", rows))
    assert out["weeks_elapsed"] == 6 and out["dated"] and out["missing_weeks"] == []
    assert out["weeks_compared"] == {"first": "2026-01-05", "last": "2026-02-09"}
    truth = planned_weeks(plan)["tv"]
    tv = next(x for x in out["line_items"] if x["id"] == "tv")
    # the plan to date is January (4 weeks) plus two of February's four weeks, from the periods
    to_date = sum(v for d, v in truth.items() if d < START + dt.timedelta(weeks=6))
    assert tv["planned_to_date"] == pytest.approx(to_date, abs=0.02)
    assert tv["actual"] == pytest.approx(1.1 * to_date, abs=0.1)
    assert tv["variance_pct"] == pytest.approx(0.10, abs=1e-6)


def test_monthly_actuals_are_spread_over_their_months_weeks(dated, tmp_path):
    plan = dated["json"]
    jan = {li["id"]: li["periods"][0]["spend"] for li in plan["line_items"]}
    feb = {li["id"]: li["periods"][1]["spend"] for li in plan["line_items"]}
    rows = [("2026-01-01", t, v) for t, v in jan.items()]
    rows += [("2026-02-01", t, 0.8 * v) for t, v in feb.items()]
    out = track_json(dated["plan"], write_rows(tmp_path / "m.csv", rows))
    # January's 4 Mondays and February's 4: 8 weeks, not "week 1"
    assert out["frequency"] == "month" and out["weeks_elapsed"] == 8
    assert out["weeks_compared"] == {"first": "2026-01-05", "last": "2026-02-23"}
    total = out["total"]
    assert total["planned_to_date"] == pytest.approx(sum(jan.values()) + sum(feb.values()), abs=1)
    assert total["actual"] == pytest.approx(sum(jan.values()) + 0.8 * sum(feb.values()), abs=1)


def test_a_missing_week_is_reported_not_counted_as_zero(dated, tmp_path):
    plan = dated["json"]
    rows = weekly_rows(plan, range(6), skip=(2,))
    out = track_json(dated["plan"], write_rows(tmp_path / "gap.csv", rows))
    assert out["missing_weeks"] == ["2026-01-19"]
    # on plan in every week that was reported: no variance (a zero week would show -1/6)
    assert abs(out["total"]["variance"]) < 1.0 and out["total"]["status"] == "on plan"
    assert out["total"]["projected_spend"] == pytest.approx(9_700_000, abs=1)
    r = cli("track", dated["plan"], tmp_path / "gap.csv")
    assert "no actuals for 1 elapsed week(s) (the weeks of 2026-01-19)" in r.stdout.replace(
        "\n", " "
    )


def test_a_run_rate_that_breaks_a_period_cap_is_flagged(dated, tmp_path):
    plan = dated["json"]
    jan_tv = next(li for li in plan["line_items"] if li["id"] == "tv")["periods"][0]["spend"]
    assert 1.5 * jan_tv > 700_000 > jan_tv  # the plan keeps the cap; 50% faster breaks it
    rows = weekly_rows(plan, range(3), {"tv": 1.5})
    out = track_json(
        dated["plan"], write_rows(tmp_path / "fast.csv", rows), "--scenario", dated["scenario"]
    )
    broken = {r["name"]: r for r in out["rules_at_run_rate"] if r["breaks"]}
    assert set(out["rules_broken_at_run_rate"]) == set(broken)
    cap = broken["tp_period_max__2026_01__tv"]
    assert cap["projected"] == pytest.approx(1.5 * jan_tv, abs=1) and cap["rhs"] == 700_000
    assert "budget" in broken  # 50% faster on TV overspends the quarter too
    held = {r["name"] for r in out["rules_at_run_rate"] if not r["breaks"]}
    assert "tp_period_max__2026_02__tv" in held or "tp_period_max__2026_03__tv" in held
    table = cli("track", dated["plan"], tmp_path / "fast.csv", "--scenario", dated["scenario"])
    assert "rules the run-rate would break" in table.stdout
    assert "the tv cap (700,000) in 2026-01" in table.stdout


def test_optimize_track_replan_track_compares_the_right_weeks(dated, tmp_path):
    led = dated["root"] / "l.sqlite"
    plan = dated["json"]
    six = write_rows(tmp_path / "six.csv", weekly_rows(plan, range(6), {"tv": 1.2}))
    first = track_json("last", six, "--ledger", led)
    assert first["weeks_compared"] == {"first": "2026-01-05", "last": "2026-02-09"}
    # the recorded run's scenario (unchanged) gives the rules: TV 20% fast holds its caps here
    assert first["rules_at_run_rate"] and "budget" in first["rules_broken_at_run_rate"]
    out = tmp_path / "replan.json"
    r = cli(
        "replan",
        dated["scenario"],
        "--actuals",
        six,
        "--ledger",
        led,
        "--format",
        "json",
        "-o",
        out,
    )
    assert r.returncode == 0, r.stderr
    rp = json.loads(out.read_text())
    # the re-plan continues the calendar: from week 7 (2026-02-16), the rest of February first
    assert rp["start"] == "2026-02-16" and rp["horizon_weeks"] == 7
    assert [(p["period"], p["start"], p["weeks"]) for p in rp["periods"]] == [
        ("2026-02", "2026-02-16", 2),
        ("2026-03", "2026-03-02", 5),
    ]
    assert rp["replan"]["replan_start"] == "2026-02-16"
    spent = sum(v for _d, _t, v in weekly_rows(plan, range(6), {"tv": 1.2}))
    assert rp["total_spend"] == pytest.approx(9_700_000 - spent, abs=0.05)
    # weeks 7-8 spent at half the re-plan: the track of the re-plan compares those two weeks only
    again = weekly_rows(plan, range(6), {"tv": 1.2})
    rest = planned_weeks(rp)
    for tid, by in rest.items():
        for d in sorted(by)[:2]:
            again.append((d, tid, 0.5 * by[d]))
    eight = write_rows(tmp_path / "eight.csv", again)
    second = track_json("last", eight, "--ledger", led)
    assert second["weeks_elapsed"] == 2 and second["horizon_weeks"] == 7
    assert second["weeks_compared"] == {"first": "2026-02-16", "last": "2026-02-23"}
    assert second["missing_weeks"] == []
    weeks78 = sum(sorted(by.items())[k][1] for by in rest.values() for k in (0, 1))
    assert second["total"]["planned_to_date"] == pytest.approx(weeks78, abs=0.1)
    assert second["total"]["actual"] == pytest.approx(0.5 * weeks78, abs=0.1)
    assert second["spend_before_plan"] == pytest.approx(spent, abs=0.1)
    # the rules are the cycle's: weeks 1-6 as spent, the re-plan at half its pace after week 8
    budget = next(r for r in second["rules_at_run_rate"] if r["name"] == "budget")
    rest_total = sum(sum(by.values()) for by in rest.values())
    assert budget["projected"] == pytest.approx(spent + 0.5 * rest_total, abs=1)
    assert not budget["breaks"]


def test_undated_replan_then_track_compares_the_weeks_after_it(tmp_path):
    w = write_tiny_world(tmp_path / "w")
    weekly = {"tv": 40_000.0, "search": 30_000.0, "email": 2_000.0}
    four = write_actuals(tmp_path / "four.csv", weekly, 4)
    out = tmp_path / "rp.json"
    r = cli(
        "replan", w["scenario"], "--actuals", four, "--no-ledger", "--format", "json", "-o", out
    )
    assert r.returncode == 0, r.stderr
    rp = json.loads(out.read_text())
    assert rp["start"] == "2025-02-03" and rp["horizon_weeks"] == 9  # week 5 of 13
    six = write_actuals(tmp_path / "six.csv", weekly, 6)
    t = track_json(out, six)
    assert t["weeks_elapsed"] == 2 and t["weeks_compared"]["first"] == "2025-02-03"
    assert t["total"]["actual"] == pytest.approx(2 * sum(weekly.values()))
    assert t["spend_before_plan"] == pytest.approx(4 * sum(weekly.values()))


def test_replan_carries_the_adstock_of_the_actuals_into_its_first_week():
    sc = load_scenario(ROOT / "scenarios" / "fy26_monthly.yaml")
    model = read_model(sc.model)
    full = phased_problem(sc, model)
    rng = np.random.default_rng(3)
    n = 6
    weekly = rng.uniform(0, 50_000, size=(full.n, n))
    rest, _warn, _done = rest_of_phased(full, weekly, n, None)
    for i, r in enumerate(full.responses):
        d = 0.0 if r.adstock is None else r.adstock.decay
        k = 1.0 if r.adstock is None or not r.adstock.normalize else 1 - d
        a = full.carry_in[i]
        for t in range(n):  # by hand: a_t = k x_t + d a_{t-1}
            a = k * weekly[i, t] + d * a
        assert rest.carry_in[i] == pytest.approx(a, rel=1e-12)
    assert rest.calendar.start == dt.date(2026, 2, 16) and rest.T == 46
    # the carry-over is not nothing: tv's first re-planned week still has most of it
    tv = [it.id for it in full.base.items].index("tv")
    assert rest.carry_in[tv] > 0.3 * weekly[tv, -1]


def test_a_replan_on_plan_at_a_month_boundary_keeps_the_cycles_kpi(dated, tmp_path):
    """Spend exactly as planned through January, then re-plan: the re-plan's KPI plus the KPI
    bought to date equals the original plan's (within the certified gaps): only so if January's
    carry-over reaches February (without it, the cycle would lose it)."""
    sc = load_scenario(dated["scenario"])
    model = read_model(sc.model)
    original = allocate(sc, model)
    a = write_rows(tmp_path / "jan.csv", weekly_rows(dated["json"], range(4)))
    rp = replan(sc, model, read_actuals(a, ids=list(model.touchpoints)))
    assert rp.plan.start == "2026-02-02" and rp.plan.ok
    cycle = rp.kpi_to_date + rp.plan.total_kpi
    assert cycle == pytest.approx(original.total_kpi, rel=3e-4)
    # the rest of the plan is the rest of the original: February and March as planned
    orig = {li.id: li.periods for li in original.line_items}
    for li in rp.plan.line_items:
        for p_new, p_old in zip(li.periods, orig[li.id][1:], strict=True):
            assert p_new.period == p_old.period
            assert p_new.spend == pytest.approx(p_old.spend, abs=0.01 * 9_700_000 / 42)


def test_actuals_outside_the_plan_are_refused_with_the_dates(dated, tmp_path):
    late = write_rows(tmp_path / "late.csv", [("2026-04-06", "tv", 1.0)])  # week 14 of 13
    r = cli("track", dated["plan"], late)
    assert r.returncode != 0 and "late.csv" in r.stderr
    assert "run past the plan's last week" in r.stderr and "2026-04-06" in r.stderr
    early = write_rows(tmp_path / "early.csv", [("2025-12-29", "tv", 1.0)])
    r = cli("track", dated["plan"], early)
    assert r.returncode != 0 and "no actuals fall in the plan's weeks" in r.stderr


def test_monthly_actuals_are_read_as_months(tmp_path):
    p = write_rows(tmp_path / "m.csv", [("2026-01-01", "tv", 400.0), ("2026-03-01", "tv", 500.0)])
    a = read_actuals(p)
    # January 2026 has 4 Mondays (5th to 26th), February 4, March 5 (2nd to 30th)
    assert a.frequency == "month" and a.first == dt.date(2026, 1, 5)
    assert a.last == dt.date(2026, 3, 30) and a.weeks == 13
    assert list(a.weekly["tv"])[:4] == [100.0] * 4 and list(a.weekly["tv"])[-5:] == [100.0] * 5
    assert a.missing == [5, 6, 7, 8]  # February: no row
    # a weekly file dated by Mondays that happen to be the 1st stays weekly
    w = write_rows(tmp_path / "w.csv", [("2026-06-01", "tv", 1.0), ("2026-06-08", "tv", 1.0)])
    assert read_actuals(w).frequency == "week"
