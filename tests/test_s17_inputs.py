"""Session 17's fixes of inputs the last adversarial review found answered wrongly, run as users run
them (the CLI as a subprocess, from a clean folder, on files they could plausibly write).

Each test names the input and checks the answer: the exit code, the file, field and value in the
message, no traceback, and nothing written on failure.
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.factories import TINY_MODEL, write_actuals, write_tiny_world
from tests.test_markets import make_world
from tests.test_s16_review import _model as write_review_curves

BIN = [sys.executable, "-m", "optimizer"]


def run(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "BUDGETOPT_LEDGER": str(cwd / "ledger.sqlite"), "COLUMNS": "200"}
    return subprocess.run(
        [*BIN, *args], capture_output=True, text=True, cwd=cwd, timeout=timeout, env=env
    )


def refused(r: subprocess.CompletedProcess, *words: str) -> None:
    """Exit 2, one located message holding every word, no traceback."""
    assert "Traceback" not in r.stderr + r.stdout, r.stderr
    assert r.returncode == 2, (r.returncode, r.stderr)
    for w in words:
        assert w in r.stderr, (w, r.stderr)


def scenario(path: Path, **fields: object) -> Path:
    body = {"name": path.stem, "model": "model.json", "horizon_weeks": 13, "budget": 600000}
    path.write_text(yaml.safe_dump({**body, **fields}, sort_keys=False))
    return path


# ---- 1. the main KPI's curves given twice ----------------------------------------------------
def test_a_market_naming_two_files_for_the_main_kpi_is_refused(tmp_path):
    """A market of markets.json gives the main KPI's model as ``model`` and again under
    ``models.<kpi>``. Before, a different file under ``models.revenue`` was skipped without a word
    (the plan used ``model``, exit 0). Now it is refused naming the index, both fields and both
    files; the same file under both (what ``fit --by-market`` writes) still plans."""
    make_world(tmp_path)
    index = json.loads((tmp_path / "markets.json").read_text())
    index["markets"]["m0"]["models"] = {"revenue": "./m0.json"}  # the same file: fine
    (tmp_path / "same.json").write_text(json.dumps(index))
    index["markets"]["m0"]["models"] = {"revenue": "m1.json"}
    (tmp_path / "twice.json").write_text(json.dumps(index))
    scenario(tmp_path / "same.yaml", model="same.json")
    scenario(tmp_path / "twice.yaml", model="twice.json")
    ok = run("optimize", "same.yaml", "-q", "--format", "json", "-o", "same_plan.json",
             cwd=tmp_path)  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    r = run("optimize", "twice.yaml", "-q", "--format", "json", "-o", "plan.json", cwd=tmp_path)
    refused(r, "twice.json", "markets.m0.models.revenue", "markets.m0.model", "'m1.json'",
            "'m0.json'")  # fmt: skip
    assert not (tmp_path / "plan.json").exists()
    index["markets"]["m0"]["models"] = ["m1.json"]  # was an internal error (AttributeError)
    (tmp_path / "listed.json").write_text(json.dumps(index))
    scenario(tmp_path / "listed.yaml", model="listed.json")
    r = run("optimize", "listed.yaml", "-q", "-o", "plan.json", cwd=tmp_path)
    refused(r, "listed.json", "markets.m0.models", "['m1.json']")
    assert not (tmp_path / "plan.json").exists()


def test_a_scenario_naming_another_file_for_the_main_kpi_under_models_is_refused(tmp_path):
    """A scenario's ``models: {revenue: other.json}`` beside ``model: model.json`` (revenue's
    model): before, the plan was made on model.json and its revenue reported from other.json (tv
    spent 214,689 for a revenue of 6, exit 0). Now refused naming the scenario, the field and both
    files; ``models.revenue`` naming model.json itself still plans."""
    write_tiny_world(tmp_path)
    other = copy.deepcopy(TINY_MODEL)
    other["touchpoints"]["tv"]["curve"]["beta"] = 1.0
    (tmp_path / "other.json").write_text(json.dumps(other))
    scenario(tmp_path / "same.yaml", models={"revenue": "model.json"})
    scenario(tmp_path / "twice.yaml", models={"revenue": "other.json"})
    ok = run("optimize", "same.yaml", "-q", "--format", "json", cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    for cmd in (["optimize", "twice.yaml", "-q", "-o", "plan.json"], ["validate", "twice.yaml"]):
        r = run(*cmd, cwd=tmp_path)
        refused(r, "twice.yaml", "field 'models.revenue'", "other.json", "model.json")
    assert not (tmp_path / "plan.json").exists()


# ---- 2. an event column is 0/1 ---------------------------------------------------------------
def _events_world(tmp_path: Path) -> None:
    """The tiny world with an event column ``promo`` in its journey."""
    write_tiny_world(tmp_path)
    journey = yaml.safe_load((tmp_path / "journey.yaml").read_text())
    (tmp_path / "journey.yaml").write_text(yaml.safe_dump({**journey, "events": ["promo"]}))


def test_an_event_other_than_0_or_1_is_refused_by_fit_naming_row_and_value(tmp_path):
    """docs/file-formats.md: events are "0/1 event columns". Before, a 7 in one week was fitted as
    a regressor seven times the others (exit 0). Now exit 2 naming the file, the column, the row
    (the header is row 1), the week and the value; no model is written."""
    _events_world(tmp_path)
    lines = (tmp_path / "history.csv").read_text().splitlines()
    rows = [lines[0] + ",promo"] + [line + (",7" if k == 30 else ",0") for k, line in
                                    enumerate(lines[1:], start=2)]  # fmt: skip
    (tmp_path / "bad.csv").write_text("\n".join(rows) + "\n")
    week = lines[29].split(",")[0]  # row 30 of the file
    r = run("fit", "--journey", "journey.yaml", "--history", "bad.csv", "-o", "m.json",
            "--bootstrap", "0", "-q", cwd=tmp_path)  # fmt: skip
    refused(r, "bad.csv", "field 'promo'", "0 or 1", "'7'", "row 30", week)
    assert not (tmp_path / "m.json").exists()


def test_an_event_other_than_0_or_1_in_a_daily_file_is_refused_before_writing(tmp_path):
    """``aggregate`` took a day's 0.5 (a week's maximum) into the weekly file, whose read-back then
    refused it naming the weekly file, left behind. Now the daily file is named, with the column
    and the values, and nothing is written; 0/1 days aggregate as before."""
    _events_world(tmp_path)
    days = 7 * 60
    rng = np.random.default_rng(0)
    daily = {"date": [str(d.date()) for d in pd.date_range("2024-01-01", periods=days)]}
    for t in ("tv", "search", "email"):
        daily[t] = rng.uniform(100, 1000, days).round(2)
    daily["revenue"] = rng.uniform(1e4, 2e4, days).round(2)
    promo = np.zeros(days)
    promo[10] = 1
    daily["promo"] = promo
    pd.DataFrame(daily).to_csv(tmp_path / "ok.csv", index=False)
    promo[100], promo[200] = 0.5, -3
    pd.DataFrame(daily).to_csv(tmp_path / "bad.csv", index=False)
    ok = run("aggregate", "ok.csv", "--journey", "journey.yaml", "-o", "ok_w.csv", cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert pd.read_csv(tmp_path / "ok_w.csv")["promo"].tolist()[:3] == [0, 1, 0]
    r = run("aggregate", "bad.csv", "--journey", "journey.yaml", "-o", "w.csv", cwd=tmp_path)
    refused(r, "bad.csv", "field 'promo'", "0 or 1", "-3 to 0.5", "2 row(s)")
    assert "w.csv" not in r.stderr.replace("bad.csv", "")
    assert not (tmp_path / "w.csv").exists()


# ---- 3. discount_rate is a year's rate as a fraction -----------------------------------------
def test_a_discount_rate_of_1_or_more_is_refused_naming_the_percentage(tmp_path):
    """``discount_rate: 8`` (8% written as a number) was planned on as 800% a year (validate: ok),
    which weights week 52's KPI at 1/9 of week 0's. docs/file-formats.md: an annual rate, week t
    counting (1 + r)^(-t/52); now a fraction in [0, 1), anything else refused by name."""
    write_tiny_world(tmp_path)
    dated = {"start": "2027-01-04", "phasing": "month"}
    scenario(tmp_path / "ok.yaml", **dated, discount_rate=0.99)
    ok = run("validate", "ok.yaml", cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    for name, rate, said in (
        ("eight", 8, "got 8 (800% a year; 8% is 0.08)"),
        ("one", 1, "got 1 (100% a year; 1% is 0.01)"),
        ("negative", -0.05, "got -0.05"),
        ("text", "8%", "got '8%'"),
    ):
        scenario(tmp_path / f"{name}.yaml", **dated, discount_rate=rate)
        for cmd in (["validate"], ["optimize", "-q", "--format", "json", "-o", "plan.json"]):
            r = run(cmd[0], f"{name}.yaml", *cmd[1:], cwd=tmp_path)
            refused(r, f"{name}.yaml", "field 'discount_rate'", said)
        assert not (tmp_path / "plan.json").exists()


# ---- 4. a plan file's spend is within the range of money -------------------------------------
def test_track_refuses_a_hand_edited_plan_spend_beyond_the_range_of_money(tmp_path):
    """Every other input refuses spend above 1e12 (docs/cli.md's ranges); a plan JSON with a line
    item's spend edited to 1e300 was tracked, exit 0, its plan column 300 digits long. Now exit 2
    naming the plan file, the line item's field and the value; 1e12 itself is still tracked."""
    w = write_tiny_world(tmp_path)
    r = run("optimize", str(w["scenario"]), "-q", "--format", "json", "-o", "plan.json",
            cwd=tmp_path)  # fmt: skip
    assert r.returncode == 0, r.stderr
    plan = json.loads((tmp_path / "plan.json").read_text())
    write_actuals(tmp_path / "actuals.csv", {"tv": 40000, "search": 20000, "email": 5000}, 4)
    for name, spend in (("big", 1e300), ("over", 1.000001e12), ("edge", 1e12)):
        edited = copy.deepcopy(plan)
        edited["line_items"][0]["spend"] = spend
        (tmp_path / f"{name}.json").write_text(json.dumps(edited))
    edge = run("track", "edge.json", "actuals.csv", "--format", "json", cwd=tmp_path)
    assert edge.returncode == 0, edge.stderr
    for name, shown in (("big", "1e+300"), ("over", "1000001000000.0")):
        r = run("track", f"{name}.json", "actuals.csv", "-o", "out.csv", "--format", "csv",
                cwd=tmp_path)  # fmt: skip
        refused(r, f"{name}.json", "field 'line_items[0].spend'", "1,000,000,000,000", shown)
        assert not (tmp_path / "out.csv").exists()


# ---- 5. a dated re-plan after a huge overspend -------------------------------------------------
def _replan_json(r: subprocess.CompletedProcess, out: Path) -> dict:
    assert "Traceback" not in r.stderr, r.stderr
    assert r.returncode == 0, (r.returncode, r.stderr[-2000:])
    return json.loads(out.read_text())


def _fy26(tmp_path: Path, budget: float | None = None) -> Path:
    """The sample's FY26 by month (carry-over in and out, discounting, period rules), its paths
    made absolute, optionally with another budget."""
    root = Path(__file__).resolve().parents[1]
    data = yaml.safe_load((root / "scenarios" / "fy26_monthly.yaml").read_text())
    data["model"] = str(root / "optimizer" / "sample" / "true_model.json")
    data["carryover"]["before"] = str(root / "optimizer" / "sample" / "history.csv")
    if budget is not None:
        data["budget"] = budget
    path = tmp_path / f"fy26_{budget or 'base'}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_a_replan_once_the_budget_is_spent_is_the_empty_plan_certified(tmp_path):
    """Actuals over the whole budget leave nothing to spend: the re-plan's one plan is the empty
    one. The re-plan's line items kept the ranges of the full cycle, so the certificate's bound
    sat above the empty plan: by month on the tiny world (search 1e11 in week 1 of a 2,600,000
    budget) 'not certified, gap 856,179,173,787,417%', exit 4; on FY26 by month with search
    1e12 in its first week, not certified too (before session 17's diagnosis work: infeasible,
    naming every rule). Now optimal (exit 0), every line item at 0."""
    write_tiny_world(tmp_path)
    scenario(tmp_path / "dated.yaml", start="2027-01-04", phasing="month", horizon_weeks=26,
             budget=2600000)  # fmt: skip
    (tmp_path / "a.csv").write_text(
        "date,touchpoint,spend\n2027-01-04,search,100000000000\n2027-01-04,tv,0\n"
        "2027-01-04,email,0\n"
    )
    (tmp_path / "b.csv").write_text("date,touchpoint,spend\n2026-01-05,search,1000000000000\n")
    for sc, actuals in (("dated.yaml", "a.csv"), (str(_fy26(tmp_path)), "b.csv")):
        out = tmp_path / "replan.json"
        r = run("replan", sc, "--actuals", actuals, "--format", "json", "-o", str(out),
                "--no-ledger", cwd=tmp_path)  # fmt: skip
        plan = _replan_json(r, out)
        assert plan["status"] == "optimal", (sc, plan["status"], plan.get("gap"))
        assert [li["spend"] for li in plan["line_items"]] == [0.0] * len(plan["line_items"])
        assert "already exceeded" in r.stderr  # the warning that says why


def test_a_replan_with_a_trillion_of_carry_over_in_plans(tmp_path):
    """FY26 by month with a budget of 1e12, search 999,999,000,000 in its first week: 1,000,000
    is left. Before: not certified (exit 4). The LP's box on each week's adstock was padded by
    1e-9 absolute; a carry-over of 1e12 computes with float error far above that, so where the
    adstock is pinned (search's cap already exceeded) the LP over the re-plan's own ranges read
    infeasible: 'the budget (1,000,000,000,000), less 999,999,000,000 already spent, ... cannot
    all hold' (exit 3), with the empty plan feasible. The pad now adds 1e-12 of a carry-over
    above a billion. Now optimal (exit 0) within the rules: at most the 1,000,000 left, search (its
    maximum exceeded) at 0."""
    (tmp_path / "o.csv").write_text("date,touchpoint,spend\n2026-01-05,search,999999000000\n")
    out = tmp_path / "replan.json"
    r = run("replan", str(_fy26(tmp_path, 1e12)), "--actuals", "o.csv", "--format", "json",
            "-o", str(out), "--no-ledger", cwd=tmp_path)  # fmt: skip
    plan = _replan_json(r, out)
    assert plan["status"] == "optimal", (plan["status"], plan.get("gap"))
    spend = {li["id"]: li["spend"] for li in plan["line_items"]}
    assert spend["search"] == 0.0
    assert sum(spend.values()) <= 1_000_000 + 0.005  # the budget left, to the cent


# ---- 6. the review's words for a line item funded under one unit -----------------------------
@pytest.mark.parametrize("dated", [False, True])
def test_the_review_says_under_one_for_a_line_item_funded_under_one_unit(tmp_path, dated):
    """d locked at 0.40 and e at 1.60 (budget 1,000,000): the tables read d '<1' since session 16
    (6fc7df3), but the review's sentences said 'Adding 0 to d', 'Cutting 0 from e', 'Plans 0 a
    week', and the ladder's increments of 0.04 read '0–0' with an amount of 0, as if nothing.
    Now the same convention: an amount of a cent or more that rounds to 0 reads '<1' in the
    sentences and in the ladder's edges, amounts and cumulative spend (an increment from 0 reads
    '0–<1'); an amount under half a cent (d's KPI gain of 0.0004) still reads 0."""
    write_review_curves(tmp_path / "model.json", "revenue", 1.0)  # five exponential curves
    cal = {"start": "2027-01-04", "phasing": "month"} if dated else {}
    scenario(tmp_path / "s.yaml", **cal, budget=1000000,
             touchpoints={"d": {"lock": 0.4}, "e": {"lock": 1.6}})  # fmt: skip
    r = run("explain", "s.yaml", "-o", "r.md", "--no-ledger", "-q", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    md = (tmp_path / "r.md").read_text(encoding="utf-8")
    for item in ("d", "e"):
        assert f"Adding <1 to {item} (setting aside the {item} lock" in md
        assert f"Cutting <1 from {item} (setting aside the {item} lock" in md
        assert f"Adding 0 to {item}" not in md and f"Cutting 0 from {item}" not in md
    assert "would buy <1 revenue on e" in md  # 0.16 at 1.333: 0.21
    assert "would buy 0 revenue on d" in md  # 0.04 at 0.011: 0.0004, under half a cent
    assert "Plans 0 a week" not in md and md.count("Plans <1 a week") == 2
    rows = [
        [c.strip() for c in ln.strip("|").split("|")]
        for ln in md.splitlines()
        if re.match(r"\| (\d+|–) \| [de] \|", ln)
    ]
    assert len(rows) >= 20, rows  # d's and e's increments in the full ladder
    assert not any(row[2] == "0–0" or row[3] == "0" for row in rows), rows
    first = {row[1]: row for row in reversed(rows) if row[0] != "–"}
    assert first["d"][2] == "0–<1" and first["d"][3] == "<1", first["d"]
    assert first["e"][2] == "0–<1" and first["e"][6] == "committed", first["e"]
    assert first["e"][7] == "<1"  # its cumulative spend: 0.16
