"""Budgetary control: actuals against the plan (track) and the mid-cycle re-plan (replan)."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from optimizer.allocate import allocate
from optimizer.cli import cli
from optimizer.errors import DataError, ScenarioError
from optimizer.response.model import read_model
from optimizer.scenario import load_scenario
from optimizer.workflow.control import read_actuals, replan, track
from tests.factories import write_actuals, write_tiny_world

WEEKLY = {"tv": 60_000.0, "search": 35_000.0, "email": 1_000.0}  # 4 weeks: 384,000


@pytest.fixture
def world(tmp_path):
    w = write_tiny_world(tmp_path / "w")
    w["actuals"] = write_actuals(tmp_path / "actuals.csv", WEEKLY, 4)
    sc = load_scenario(w["scenario"])
    model = read_model(sc.model)
    w["sc"], w["m"], w["plan"] = sc, model, allocate(sc, model)
    return w


def run(*args):
    r = CliRunner().invoke(cli, [str(a) for a in args])
    assert "Traceback" not in (r.output or "") + (r.stderr or "")
    return r


# ------------------------------------------------------------------------------------------------
# actuals
# ------------------------------------------------------------------------------------------------
def test_read_actuals(world, tmp_path):
    a = read_actuals(world["actuals"], ids=["tv", "search", "email"])
    assert a.weeks == 4 and a.total == 384_000
    assert a.spend == {"tv": 240_000.0, "search": 140_000.0, "email": 4_000.0}
    # two rows for one week add up; a week with no row is reported missing
    p = write_actuals(tmp_path / "gap.csv", {"tv": 10.0}, 3, skip=((1, "tv"),))
    with open(p, "a") as fh:
        fh.write("2025-01-06,tv,5\n")
    a = read_actuals(p)
    assert a.weeks == 3 and list(a.weekly["tv"]) == [15.0, 0.0, 10.0] and a.missing == [2]


@pytest.mark.parametrize(
    "text, needle",
    [
        ("date,channel,spend\n2025-01-06,tv,1\n", "needs columns date, touchpoint, spend"),
        (
            "date,touchpoint,spend\n06/01/2025,tv,1\n",
            "'06/01/2025' (row 2) is day-first or month-first",
        ),
        ("date,touchpoint,spend\n2025-01-06,tv,-5\n", "non-negative number, got '-5' in row 2"),
        ("date,touchpoint,spend\n2025-01-06,tv,12k\n", "got '12k' in row 2"),
        (
            "date,touchpoint,spend\n2025-01-06,tvv,1\n",
            "unknown touchpoint 'tvv' in row 2 (did you mean 'tv'?)",
        ),
        (
            "date,touchpoint,spend\n2025-01-06,tv,1\n2025-01-10,tv,1\n",
            "not a whole number of weeks",
        ),
        ("date,touchpoint,spend\n", "has no rows"),
    ],
)
def test_bad_actuals_are_located(tmp_path, text, needle):
    p = tmp_path / "a.csv"
    p.write_text(text)
    with pytest.raises(DataError) as e:
        read_actuals(p, ids=["tv", "search", "email"])
    assert needle in str(e.value) and "a.csv" in str(e.value)


# ------------------------------------------------------------------------------------------------
# track
# ------------------------------------------------------------------------------------------------
def test_track_against_the_plan_to_date(world):
    plan = world["plan"]
    t = track(plan, read_actuals(world["actuals"]), world["m"])
    assert t.weeks_elapsed == 4 and t.horizon_weeks == 13
    by = {x.id: x for x in t.lines}
    tv = by["tv"]
    planned = world["plan"].item("tv").spend
    assert tv.planned_to_date == pytest.approx(planned * 4 / 13, abs=0.01)
    assert tv.actual == 240_000 and tv.variance == pytest.approx(
        240_000 - planned * 4 / 13, abs=0.01
    )
    assert tv.variance_pct == pytest.approx(tv.variance / tv.planned_to_date)
    assert tv.status == "over" and by["email"].status == "under"
    assert tv.projected_spend == pytest.approx(240_000 / 4 * 13)
    assert tv.projected_kpi == pytest.approx(
        float(world["m"].touchpoints["tv"].horizon_kpi(780_000, 13))
    )
    assert tv.planned_kpi == pytest.approx(world["plan"].item("tv").kpi, rel=1e-9)
    assert t.total.planned_to_date == pytest.approx(400_000, abs=0.05)
    assert t.total.actual == 384_000 and t.total.status == "on plan"  # -4%, inside the 10% band
    assert sum(s.actual for s in t.stages) == pytest.approx(384_000)
    assert [s.id for s in t.stages] == ["awareness", "consideration", "post_purchase"]
    assert t.total.projected_kpi == pytest.approx(sum(x.projected_kpi for x in t.lines))
    with pytest.raises(DataError, match="cover 4 weeks .* but --weeks-elapsed is 3"):
        track(plan, read_actuals(world["actuals"]), world["m"], weeks_elapsed=3)
    # 8 weeks gone by, actuals for 4: weeks 5-8 are missing, not compared (never taken as zero)
    later = track(plan, read_actuals(world["actuals"]), None, weeks_elapsed=8)
    assert later.lines[0].planned_to_date == pytest.approx(planned * 4 / 13, abs=0.01)
    assert later.missing_weeks == ("2025-02-03", "2025-02-10", "2025-02-17", "2025-02-24")
    assert later.lines[0].projected_spend == pytest.approx(240_000 / 4 * 13)
    assert not later.has_model and later.lines[0].projected_kpi is None


def test_cli_track_from_a_file_and_from_the_ledger(world, tmp_path):
    led = tmp_path / "ledger.sqlite"
    plan_file = tmp_path / "plan.json"
    r = run(
        "optimize", world["scenario"], "--format", "json", "-o", plan_file, "--ledger", led, "-q"
    )
    assert r.exit_code == 0, r.stderr
    r = run(
        "track", plan_file, world["actuals"], "--scenario", world["scenario"], "--format", "json"
    )
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["weeks_elapsed"] == 4 and d["total"]["actual"] == 384_000
    assert d["total"]["projected_kpi"] is not None
    r = run("track", "last", world["actuals"], "--ledger", led, "--format", "csv")
    assert r.exit_code == 0, r.stderr
    df = pd.read_csv(io.StringIO(r.stdout))
    assert list(df["level"]) == ["line_item"] * 3 + ["stage"] * 3 + ["total"]
    assert df["projected_kpi"].notna().all()  # the model came from the recorded run
    r = run("track", plan_file, world["actuals"])
    assert r.exit_code == 0 and "over" in r.stdout and "KPI projections are left out" in r.stdout
    r = run("track", tmp_path / "nope.json", world["actuals"])
    assert r.exit_code == 2 and "the plan file does not exist" in r.stderr
    r = run(
        "compare",
        world["scenario"],
        world["scenario"],
        "--format",
        "json",
        "-o",
        tmp_path / "c.json",
        "--no-ledger",
    )
    r = run("track", tmp_path / "c.json", world["actuals"])
    assert r.exit_code == 2 and "expected one plan" in r.stderr


# ------------------------------------------------------------------------------------------------
# replan
# ------------------------------------------------------------------------------------------------
def test_replan_reduces_every_rule_by_the_spend_to_date(world):
    r = replan(world["sc"], world["m"], read_actuals(world["actuals"]), 4)
    p = r.plan
    assert p.ok and p.horizon_weeks == 9 and p.budget == pytest.approx(916_000)
    assert r.remaining_budget == pytest.approx(916_000)
    assert p.total_spend == pytest.approx(916_000, abs=0.01)
    assert p.item("tv").spend <= 600_000 - 240_000 + 0.01  # tv max 600,000 less 240,000 spent
    cyc = {x["id"]: x for x in r.full_cycle()}
    assert sum(x["total"] for x in cyc.values()) == pytest.approx(1_300_000, abs=0.05)
    assert cyc["tv"]["total"] <= 600_000 + 0.01
    tot_aw = cyc["tv"]["total"]
    assert tot_aw >= 0.1 * 1_300_000 - 0.05  # the awareness share floor, over the whole cycle
    assert r.kpi_to_date == pytest.approx(
        sum(float(world["m"].touchpoints[t].horizon_kpi(s, 4)) for t, s in r.spent.items())
    )
    assert "less 240,000 already spent" in p.constraint("tp_max__tv").label


def test_replan_on_track_reproduces_the_original_plan(world, tmp_path):
    """Spending exactly the plan's pro-rata share leaves the rest of the plan optimal."""
    plan = world["plan"]
    weekly = {li.id: round(li.spend / 13, 2) for li in plan.line_items}
    a = write_actuals(tmp_path / "on_track.csv", weekly, 5)
    r = replan(world["sc"], world["m"], read_actuals(a), 5)
    for x in r.full_cycle():
        assert x["total"] == pytest.approx(plan.item(x["id"]).spend, rel=2e-3)
    assert r.kpi_to_date + r.plan.total_kpi == pytest.approx(plan.total_kpi, rel=1e-4)


def test_replan_overspent_cap_is_clipped_with_a_warning(world, tmp_path):
    a = write_actuals(tmp_path / "over.csv", {"tv": 170_000.0, "search": 10_000.0}, 4)  # tv 680k
    r = replan(world["sc"], world["m"], read_actuals(a), 4)
    assert r.plan.ok and r.plan.item("tv").spend == 0.0
    assert any("tv maximum" in w and "already exceeded" in w for w in r.warnings)


def test_replan_errors(world):
    act = read_actuals(world["actuals"])
    with pytest.raises(ScenarioError, match="less than the horizon"):
        replan(world["sc"], world["m"], act, 13)
    with pytest.raises(DataError, match="cover 4 weeks"):
        replan(world["sc"], world["m"], act, 2)


def test_cli_replan(world, tmp_path):
    led = tmp_path / "ledger.sqlite"
    r = run(
        "replan",
        world["scenario"],
        "--actuals",
        world["actuals"],
        "--weeks-elapsed",
        "4",
        "--format",
        "json",
        "--ledger",
        led,
    )
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["horizon_weeks"] == 9 and d["total_spend"] == pytest.approx(916_000, abs=0.01)
    rp = d["replan"]
    assert rp["spent_to_date"] == 384_000 and rp["remaining_budget"] == 916_000
    assert [x["id"] for x in rp["line_items"]] == ["tv", "search", "email"]
    assert "recorded run" in r.stderr
    r = run("history", "--ledger", led, "--format", "json")
    rec = json.loads(r.stdout)[0]
    assert rec["command"] == "replan"
    assert {f["role"] for f in rec["inputs"]} == {"scenario", "model", "actuals"}
    r = run("rerun", "last", "--ledger", led, "--check", "--no-ledger")
    assert r.exit_code == 0 and "identical" in r.stdout
    r = run("replan", world["scenario"], "--actuals", world["actuals"], "--no-ledger")
    assert r.exit_code == 0 and "the whole cycle" in r.stdout and "original plan" in r.stdout
    bad = world["root"] / "scenarios" / "bad.yaml"
    bad.write_text(yaml.safe_dump({"name": "bad", "extends": "base.yaml", "horizon_weeks": 4}))
    r = run("replan", bad, "--actuals", world["actuals"], "--no-ledger")
    assert r.exit_code == 2 and "less than the horizon" in r.stderr
