"""Dated, phased scenarios (contract 7) through the CLI as users run it: the plan by period in
JSON, period rules (caps, dark periods, flighting, change limits, quarterly budgets), and bad input
(labels outside the horizon, a start that is not a date, period rules on an undated plan,
conflicting quarter and month rules, infeasible period rules) refused with a located message."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "optimizer" / "sample" / "true_model.json"
HISTORY = ROOT / "optimizer" / "sample" / "history.csv"


def cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "optimizer", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=600,
    )


def scenario(tmp_path: Path, name: str = "s.yaml", **over) -> Path:
    data = {
        "name": "phased",
        "model": str(MODEL),
        "start": "2026-01-05",
        "horizon_weeks": 17,
        "phasing": "month",
        "budget": 12_000_000,
        "touchpoints": {"search": {"max": 2_000_000}},
    }
    data.update(over)
    p = tmp_path / name
    p.write_text(yaml.safe_dump(data, sort_keys=False))
    return p


def test_phased_plan_json_has_periods_and_rules_hold(tmp_path):
    sc = scenario(
        tmp_path,
        carryover={"before": str(HISTORY), "after": True},
        periods={"2026-03": {"max": 2_000_000}, "2026-Q2": {"max": 1_000_000}},
        touchpoints={
            "tv": {"per_period": {"max": 900_000, "max_change": 0.5}},
            "radio": {"periods": {"2026-02": {"max": 0}}},
        },
        discount_rate=0.08,
    )
    out = tmp_path / "plan.json"
    r = cli("optimize", sc, "--format", "json", "-o", out)
    assert r.returncode == 0, r.stderr
    plan = json.loads(out.read_text())
    assert plan["status"] == "optimal" and plan["start"] == "2026-01-05"
    labels = [p["period"] for p in plan["periods"]]
    # 17 weeks from 5 January: Jan 4, Feb 4, Mar 5, Apr 4 (its Mondays 6..27 April)
    assert labels == ["2026-01", "2026-02", "2026-03", "2026-04"]
    assert [p["weeks"] for p in plan["periods"]] == [4, 4, 5, 4]
    by = {li["id"]: li for li in plan["line_items"]}
    # money reconciles to the cent: periods → line items → total, line items' periods → totals
    for li in plan["line_items"]:
        assert math.isclose(sum(p["spend"] for p in li["periods"]), li["spend"], abs_tol=0.005)
        assert math.isclose(
            sum(p["kpi"] for p in li["periods"]) + li["kpi_after"], li["kpi"], rel_tol=1e-9
        )
    for k, p in enumerate(plan["periods"]):
        assert math.isclose(
            sum(li["periods"][k]["spend"] for li in plan["line_items"]), p["spend"], abs_tol=0.005
        )
    assert plan["total_spend"] <= 12_000_000 + 0.005
    spend = {p["period"]: p["spend"] for p in plan["periods"]}
    assert spend["2026-03"] <= 2_000_000 + 0.005
    assert spend["2026-04"] <= 1_000_000 + 0.005  # April is the only month of Q2 in the horizon
    assert by["radio"]["periods"][1]["spend"] == 0.0  # dark in February
    tv = [p["spend"] for p in by["tv"]["periods"]]
    assert max(tv) <= 900_000 + 0.005
    rates = [p["spend"] / p["weeks"] for p in by["tv"]["periods"]]
    for a, b in zip(rates, rates[1:], strict=False):
        assert b <= 1.5 * a + 0.01 and b >= 0.5 * a - 0.01
    cons = {c["name"]: c for c in plan["constraints"]}
    q2 = cons["period_max__2026_Q2"]
    assert q2["binding"] and q2["shadow_price"] > 0  # a period's budget has a shadow price
    assert plan["kpi_after"] > 0


def test_undated_scenarios_mean_what_they_meant(tmp_path):
    dated = scenario(tmp_path, "d.yaml", phasing="none")
    plain = scenario(tmp_path, "p.yaml", start=None, phasing="none")
    a = json.loads(cli("optimize", plain, "--format", "json").stdout)
    b = json.loads(cli("optimize", dated, "--format", "json").stdout)
    assert "periods" not in a and "start" not in a
    assert [li["spend"] for li in a["line_items"]] == [li["spend"] for li in b["line_items"]]


@pytest.mark.parametrize(
    ("over", "field", "words"),
    [
        ({"periods": {"2026-09": {"max": 1}}}, "periods.2026-09", "not in the plan's horizon"),
        ({"start": "next monday"}, "start", "expected an ISO date"),
        ({"start": "2026-01-06"}, "start", "Monday"),
        (
            {"start": None, "phasing": "none", "periods": {"2026-02": {"max": 1}}},
            "periods",
            "need a dated, phased plan",
        ),
        (
            {"touchpoints": {"tv": {"per_period": {"max": 5}}}, "phasing": "none"},
            "touchpoints.tv.per_period",
            "need a dated, phased plan",
        ),
        (
            {"periods": {"2026-Q1": {"max": 1_000_000}, "2026-02": {"min": 1_500_000}}},
            "periods.2026-02.min",
            "above the cap in 2026-Q1",
        ),
        (
            {
                "periods": {
                    "2026-Q1": {"max": 1_000_000},
                    "2026-01": {"min": 600_000},
                    "2026-02": {"min": 600_000},
                }
            },
            "periods.2026-Q1.max",
            "together",
        ),
        ({"periods": {"2026-3": {"max": 1}}}, "periods.2026-3", "not a period label"),
        ({"phasing": "fortnight"}, "phasing", "unknown phasing"),
    ],
)
def test_bad_calendar_input_is_refused_with_a_located_message(tmp_path, over, field, words):
    sc = scenario(tmp_path, **over)
    out = tmp_path / "plan.json"
    r = cli("optimize", sc, "--format", "json", "-o", out)
    assert r.returncode != 0
    assert "Traceback" not in r.stderr
    assert str(sc.name) in r.stderr and f"'{field}'" in r.stderr and words in r.stderr, r.stderr
    assert not out.exists()


def test_infeasible_period_rules_are_named(tmp_path):
    sc = scenario(
        tmp_path,
        periods={"2026-02": {"max": 500_000}},
        touchpoints={"tv": {"periods": {"2026-02": {"min": 800_000}}}},
    )
    r = cli("optimize", sc, "--format", "json")
    assert r.returncode != 0
    assert "Traceback" not in r.stderr
    assert "2026-02" in r.stderr and "tv floor" in r.stderr and "total spend cap" in r.stderr, (
        r.stderr
    )


def test_compare_and_sweep_plan_phased_scenarios_by_period(tmp_path):
    """compare and sweep plan a phased scenario period by period, as optimize does: the same
    plan at the same budget."""
    a = scenario(tmp_path, "a.yaml", horizon_weeks=13, periods={"2026-02": {"max": 2_500_000}})
    b = scenario(tmp_path, "b.yaml", horizon_weeks=13, budget=9_000_000)
    one = json.loads(cli("optimize", a, "--format", "json", cwd=tmp_path).stdout)
    r = cli("compare", a, b, "--format", "json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    comp = json.loads(r.stdout)
    assert [len(s["periods"]) for s in comp["scenarios"]] == [3, 3]
    assert comp["scenarios"][0]["total_kpi"] == pytest.approx(one["total_kpi"], rel=1e-9)
    r = cli("sweep", a, "--budgets", "12000000:12000000:1", "--format", "json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    (point,) = json.loads(r.stdout)["points"]
    assert point["total_kpi"] == pytest.approx(one["total_kpi"], rel=1e-9)


def test_explain_writes_the_phased_review_pack(tmp_path):
    """The review pack of a plan on a calendar: the chart of spend by period and stage (an
    embedded PNG), the plan by period, the binding rules; JSON too."""
    sc = scenario(tmp_path, horizon_weeks=13, periods={"2026-02": {"max": 2_500_000}})
    out = tmp_path / "review.html"
    r = cli("explain", sc, "--format", "html", "-o", out, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    page = out.read_text()
    assert "data:image/png;base64," in page and "Spend by period and stage" in page
    for label in ("2026-01", "2026-02", "2026-03", "the total spend cap (2,500,000) in 2026-02"):
        assert label in page
    # and as JSON (the plan as optimize writes it, and its justification): tests/test_phased_review
    js = tmp_path / "review.json"
    r = cli("explain", sc, "--format", "json", "-o", js, cwd=tmp_path)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    assert json.loads(js.read_text())["format"] == "budgetopt.phased_explanation"


def test_compare_prices_a_binding_period_cap_like_a_re_solve(tmp_path):
    """``compare --format json`` of phased scenarios lists each one's costly binding rules, period
    rules included. The 2026-03 cap's cost (shadow price × 10% of the cap) against re-solves with
    the cap 10% and 1% higher: the KPI is concave in the cap, so the first-order cost bounds the
    10% re-solve's gain from above (within 10%: the curvature over the step), and the shadow price
    is the 1% re-solve's gain per dollar within 1%."""
    cap = 1_500_000
    paths = [scenario(tmp_path, periods={"2026-03": {"max": cap}})]
    for k, up in (("ten", 1.1), ("one", 1.01)):
        p = scenario(tmp_path, f"{k}.yaml", periods={"2026-03": {"max": up * cap}})
        p.write_text(p.read_text().replace("name: phased", f"name: {k}"))
        paths.append(p)
    r = cli("compare", *paths, "--format", "json", "--no-ledger")
    assert r.returncode == 0, r.stderr
    plans = json.loads(r.stdout)["scenarios"]
    assert all(p["status"] == "optimal" for p in plans)
    costs = {c["kind"]: c for c in plans[0]["costly_constraints"]}
    assert "period_max" in costs, plans[0]["costly_constraints"]
    march = costs["period_max"]
    assert march["relaxed_by"] == pytest.approx(0.1 * cap)
    assert march["gain"] == pytest.approx(abs(march["shadow_price"]) * 0.1 * cap)
    kpi = [sum(li["kpi"] for li in p["line_items"]) for p in plans]
    gain10, gain1 = kpi[1] - kpi[0], kpi[2] - kpi[0]
    print(
        f"first-order cost {march['gain']:,.0f}; re-solve gains {gain10:,.0f} (10%), {gain1:,.0f} (1%)"
    )
    assert 0.9 * march["gain"] <= gain10 <= march["gain"] * (1 + 1e-6)
    assert gain1 / (0.01 * cap) == pytest.approx(march["shadow_price"], rel=0.01)


def test_phased_review_as_xlsx_and_markdown(tmp_path):
    """``explain --format xlsx`` of a phased plan: a By period sheet (periods × journey stages,
    spend and KPI, with a total row) and a Line items by period sheet (line items × periods), read
    back with openpyxl: the cells reconcile with the plan's JSON to the cent (rows and columns sum
    to the totals); ``--format md`` has the same tables."""
    from openpyxl import load_workbook

    sc = scenario(
        tmp_path,
        periods={"2026-03": {"max": 1_500_000}},
        touchpoints={"radio": {"periods": {"2026-02": {"max": 0}}}},
    )
    r = cli("optimize", sc, "--format", "json", "--no-ledger")
    assert r.returncode == 0, r.stderr
    plan = json.loads(r.stdout)
    xlsx = tmp_path / "review.xlsx"
    r = cli("explain", sc, "--format", "xlsx", "-o", xlsx, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    wb = load_workbook(xlsx)
    # the sample journey names owners: their sheet too (issue 16: owners in every output)
    assert wb.sheetnames == [
        "Summary",
        "By period",
        "Line items by period",
        "Owners",
        "Rules",
        "Why",
        "Why by period",
        "Ladder",
    ]
    owners = {r[0] for r in wb["Owners"].iter_rows(min_row=2, values_only=True)}
    assert owners == {li["owner"] for li in plan["line_items"]}
    ws = wb["By period"]
    head = [c.value for c in ws[1]]
    stages = list(dict.fromkeys(li["stage"] for li in plan["line_items"]))
    assert head[:3] == ["period", "start", "weeks"] and head[-2] == "spend"
    assert sorted(head[3:-2]) == sorted(stages)
    body = [[c.value for c in row] for row in ws.iter_rows(min_row=2)]
    periods, total = body[:-1], body[-1]
    assert [r[0] for r in periods] == [p["period"] for p in plan["periods"]]
    assert total[0] == "total"
    for row, p in zip(periods, plan["periods"], strict=True):
        assert row[-2] == pytest.approx(p["spend"], abs=0.005)
        assert sum(row[3:-2]) == pytest.approx(p["spend"], abs=0.01)  # stages add up to the period
        assert row[-1] == pytest.approx(p["kpi"], rel=1e-9)
    for j, st in enumerate(head[3:-2], start=3):
        want = sum(li["spend"] for li in plan["line_items"] if li["stage"] == st)
        assert total[j] == pytest.approx(want, abs=0.01)
        assert sum(r[j] for r in periods) == pytest.approx(want, abs=0.02)
    assert total[-2] == pytest.approx(plan["total_spend"], abs=0.005)
    ws = wb["Line items by period"]
    assert [c.value for c in ws[1]][2:-1] == [p["period"] for p in plan["periods"]]
    rows = {row[0].value: [c.value for c in row] for row in ws.iter_rows(min_row=2)}
    for li in plan["line_items"]:
        got = rows[li["id"]]
        assert got[2:-1] == pytest.approx([p["spend"] for p in li["periods"]], abs=0.005)
        assert got[-1] == pytest.approx(li["spend"], abs=0.005)
    assert rows["radio"][2 + 1] == 0  # dark in February
    labels = [c.value for c in wb["Rules"]["A"][1:]]
    assert any("2026-03" in str(v) for v in labels)

    md = tmp_path / "review.md"
    r = cli("explain", sc, "--format", "md", "-o", md, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    text = md.read_text()
    assert "## Spend by period and stage" in text and "## Line items by period" in text
    assert "| 2026-03 |" in text and "| radio |" in text

    # compare --format xlsx of phased scenarios: a By period sheet, periods × scenarios
    other = scenario(tmp_path, "cut.yaml", budget=10_000_000)
    other.write_text(other.read_text().replace("name: phased", "name: cut"))
    cx = tmp_path / "comparison.xlsx"
    r = cli("compare", sc, other, "--format", "xlsx", "-o", cx, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    ws = load_workbook(cx)["By period"]
    assert [c.value for c in ws[1]] == [
        "period",
        "spend: phased",
        "revenue: phased",
        "spend: cut",
        "revenue: cut",
    ]
    got = {row[0].value: [c.value for c in row[1:]] for row in ws.iter_rows(min_row=2)}
    for p in plan["periods"]:
        assert got[p["period"]][0] == pytest.approx(p["spend"], abs=0.005)
        assert got[p["period"]][1] == pytest.approx(p["kpi"], rel=1e-6)
    assert got["total"][0] == pytest.approx(plan["total_spend"], abs=0.005)
    assert got["total"][2] == pytest.approx(10_000_000, abs=0.005)
    assert sum(got[p["period"]][2] for p in plan["periods"]) == pytest.approx(10_000_000, abs=0.05)


def test_a_carry_over_file_is_parsed_once_and_again_when_its_bytes_change(tmp_path, monkeypatch):
    """``explain`` re-solves a phased plan some forty times and each solve parsed the carry-over
    file anew (a third of the review's time on the sample's year). ``read_weekly_spend`` parses a
    file once for its bytes: the same file read again is not parsed (equal values, and each
    caller's own copy: changing one changes nothing read later); rewritten with other bytes of the
    same length, it is parsed again and read as it now is."""
    import datetime as dt

    from optimizer.io import spend_tables as ST

    parsed: list[object] = []
    real = ST._read_weekly_spend
    monkeypatch.setattr(ST, "_read_weekly_spend", lambda *a: parsed.append(a) or real(*a))
    f = tmp_path / "before.csv"
    f.write_text("date,tv,radio\n2025-12-01,100,5\n2025-12-08,200,6\n")
    first = ST.read_weekly_spend(f, ["tv", "radio"])
    first["tv"].clear()
    again = ST.read_weekly_spend(f, ["tv", "radio"])
    assert len(parsed) == 1
    assert again == {
        "tv": {dt.date(2025, 12, 1): 100.0, dt.date(2025, 12, 8): 200.0},
        "radio": {dt.date(2025, 12, 1): 5.0, dt.date(2025, 12, 8): 6.0},
    }
    f.write_text("date,tv,radio\n2025-12-01,300,5\n2025-12-08,200,6\n")  # the same length
    now = ST.read_weekly_spend(f, ["tv", "radio"])
    assert len(parsed) == 2 and now["tv"][dt.date(2025, 12, 1)] == 300.0


def test_a_carry_over_file_rewritten_while_it_is_parsed_is_not_kept_under_its_old_hash(
    tmp_path, monkeypatch
):
    """``read_weekly_spend`` hashes a file's bytes, then parses it: a file rewritten in between
    was kept under its old bytes' hash with the new contents, and read wrongly when those old
    bytes came back (reviewer S12 R1). Now what was parsed is kept only if the file did not
    change meanwhile: the old bytes read again are read as they are (tv 100, not 300)."""
    import datetime as dt

    from optimizer.io import spend_tables as ST

    f = tmp_path / "before.csv"
    old, new = "date,tv\n2025-12-01,100\n", "date,tv\n2025-12-01,300\n"
    real = ST._read_weekly_spend
    calls: list[int] = []

    def rewritten_while_parsed(*a):
        calls.append(1)
        if len(calls) == 1:
            f.write_text(new)  # someone saves the file as it is being read
        return real(*a)

    monkeypatch.setattr(ST, "_read_weekly_spend", rewritten_while_parsed)
    f.write_text(old)
    assert ST.read_weekly_spend(f, ["tv"])["tv"][dt.date(2025, 12, 1)] == 300.0  # as parsed
    f.write_text(old)
    assert ST.read_weekly_spend(f, ["tv"])["tv"][dt.date(2025, 12, 1)] == 100.0
