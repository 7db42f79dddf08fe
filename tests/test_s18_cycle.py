"""Session 18: the planning cycle as a planner runs it, through the CLI, on unusual but valid
inputs: a plan from mid-December across the year end, with a month of no spend (January 2028,
``periods: {2028-01: {max: 0}}``), weekly actuals dated by their Sundays (the last one
2028-01-02), optimize -> track -> replan -> diff, recorded in a ledger.

``diff PLAN REPLAN`` takes the plan over the re-plan's weeks; of January, partly gone by, it took
the KPI pro rata (4/5 of January's 380,256, all of it carry-over of December's spend, which
decays: most of it falls in January's first week, gone by): 1,578,408 for the plan against the
re-plan's 1,491,806, a Δ KPI of -86,602 for 1,000 less spend. Truth: the plan's KPI in weeks
5..13, week by week on the model (contract 7), 1,491,964; Δ KPI -158.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest

from optimizer.response.model import read_model
from optimizer.workflow.dated import weekly_kpi
from tests.test_s18_track import cli, write_model

START = dt.date(2027, 12, 13)


@pytest.fixture(scope="module")
def cycle(tmp_path_factory):
    path = tmp_path_factory.mktemp("s18cycle")
    write_model(path)
    (path / "ye.yaml").write_text(
        "name: YE\nmodel: model.json\nstart: 2027-12-13\nhorizon_weeks: 13\nphasing: month\n"
        "budget: 1300000\nobjective: max_kpi\nperiods:\n  2028-01: {max: 0}\n"
        "touchpoints:\n  tv: {per_period: {max: 400000}}\n"
    )
    led = ["--ledger", "led.db"]
    r = cli(["optimize", "ye.yaml", "--format", "json", "-o", "plan.json", *led], path)
    assert r.returncode == 0, r.stderr
    plan = json.loads((path / "plan.json").read_text())
    rows = []
    for li in plan["line_items"]:
        dec = li["periods"][0]
        assert (dec["period"], dec["weeks"]) == ("2027-12", 3)
        for k in range(3):  # Sundays 2027-12-19, 12-26, 2028-01-02
            rows.append((START + dt.timedelta(days=6, weeks=k), li["id"], dec["spend"] / 3))
    rows.append((dt.date(2028, 1, 9), "tv", 1000.0))  # stray spend in the dark month
    (path / "act.csv").write_text(
        "date,touchpoint,spend\n" + "".join(f"{d},{t},{v:.2f}\n" for d, t, v in rows)
    )
    r = cli(["replan", "ye.yaml", "--actuals", "act.csv", "--format", "json", *led], path)
    assert r.returncode == 0, r.stderr
    return path, plan, json.loads(r.stdout)


def _plan_kpi_in_weeks(path: Path, plan: dict, first: int) -> dict[str, float]:
    """Each line item's KPI of ``plan`` in its weeks ``first``.. (0-based), week by week with
    carry-over (no carry-over before the start, none after the horizon), as contract 7 says."""
    model = read_model(path / "model.json")
    out = {}
    for li in plan["line_items"]:
        weekly = np.concatenate(
            [np.full(p["weeks"], p["spend"] / p["weeks"]) for p in li["periods"]]
        )
        k = weekly_kpi(model.touchpoints[li["id"]], weekly, START)
        out[li["id"]] = float(k[first:].sum())
    return out


def test_the_replan_continues_the_calendar_across_the_year_end(cycle):
    _path, plan, re = cycle
    rp = re["replan"]
    assert rp["weeks_elapsed"] == 4 and rp["replan_start"] == "2028-01-10"
    spent = sum(p["spend"] for li in plan["line_items"] for p in li["periods"][:1]) + 1000
    assert rp["spent_to_date"] == pytest.approx(spent, abs=0.05)
    assert any("2028-01" in w and "already exceeded" in w for w in rp["warnings"])
    jan = next(p for p in re["periods"] if p["period"] == "2028-01")
    assert jan["spend"] == 0.0 and jan["weeks"] == 4


def test_diff_of_plan_and_replan_counts_the_plans_kpi_in_the_replans_weeks(cycle):
    path, plan, re = cycle
    r = cli(["diff", "last~1", "last", "--ledger", "led.db", "--format", "json"], path)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    a, b = d["scenarios"]
    truth = _plan_kpi_in_weeks(path, plan, 4)
    for li in a["line_items"]:
        assert li["kpi"] == pytest.approx(truth[li["id"]], rel=1e-6), li["id"]
    assert a["total_kpi"] == pytest.approx(sum(truth.values()), rel=1e-6)
    assert b["total_kpi"] == pytest.approx(re["total_kpi"], rel=1e-9)
    # the re-plan moves 1,000 of spend: its KPI in the same weeks is within 0.1% of the plan's
    # (it read -86,602, 5.8%, with January's carry-over taken pro rata)
    assert abs(b["total_kpi"] - a["total_kpi"]) < 1e-3 * a["total_kpi"]
    assert "carry-over included" in d["same_weeks"]
    for li in a["line_items"]:  # its average week over the 9 weeks (it was the cycle's, / 13)
        assert li["weekly_spend"] == pytest.approx(li["spend"] / 9, rel=1e-12), li["id"]


def test_monthly_actuals_of_a_month_begun_before_the_plan_say_where_their_spend_went(cycle):
    """December's spend as one monthly row (dated 2027-12-01) on the plan from 2027-12-13: the
    row is spread over December's 4 Mondays (contract 7's months), one of them, 2027-12-06,
    before the plan, so a quarter of it is not compared and each line item reads 25% under.
    That stands (documented); the note only said 'dated before the plan's first week'. Truth:
    spend_before_plan is a quarter of the row to the cent, and the note says that a monthly row
    is spread over all its month's weeks, 1 of December's 4 before the plan's start."""
    path, plan, _re = cycle
    dec = {li["id"]: li["periods"][0]["spend"] for li in plan["line_items"]}
    (path / "mon.csv").write_text(
        "date,touchpoint,spend\n" + "".join(f"2027-12-01,{t},{v}\n" for t, v in dec.items())
    )
    r = cli(["track", "plan.json", "mon.csv", "--format", "json"], path)
    assert r.returncode == 0, r.stderr
    tr = json.loads(r.stdout)
    assert tr["frequency"] == "month"
    assert tr["spend_before_plan"] == pytest.approx(sum(dec.values()) / 4, abs=0.01)
    for x in tr["line_items"]:
        assert x["variance_pct"] == pytest.approx(-0.25, abs=1e-6)
    assert any("1 of December 2027's 4 are before 2027-12-13" in n for n in tr["notes"])


def test_diff_of_two_replans_of_different_weeks_says_so(cycle):
    """The re-plan after 4 weeks against one after 9 (January's 4 weeks left at no spend and
    170,000 spent in February's first): compared as they are, -170,000 of spend and -482,803 of
    KPI with no word that the first covers 9 weeks and the second 4. Truth: the JSON's
    same_weeks (and stderr) say that the two cover different weeks, naming both."""
    import shutil

    path, _plan, _re = cycle
    shutil.copy(path / "led.db", path / "led2.db")
    more = "".join(
        f"{d},{t},{v}\n"
        for d, t, v in [
            ("2028-01-16", "tv", 0),
            ("2028-01-23", "search", 0),
            ("2028-01-30", "social", 0),
            ("2028-02-06", "tv", 0),
            ("2028-02-13", "tv", 50000),
            ("2028-02-13", "search", 90000),
            ("2028-02-13", "social", 30000),
        ]
    )
    (path / "act9.csv").write_text((path / "act.csv").read_text() + more)
    led = ["--ledger", "led2.db"]
    r = cli(["replan", "ye.yaml", "--actuals", "act9.csv", "--format", "json", *led], path)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["replan"]["replan_start"] == "2028-02-14"
    r = cli(["diff", "last~1", "last", "--format", "json", *led], path)
    assert r.returncode == 0, r.stderr
    note = json.loads(r.stdout).get("same_weeks", "")
    assert "not the same weeks" in note, note
    assert "9 weeks from 2028-01-10" in note and "4 weeks from 2028-02-14" in note
    assert "not the same weeks" in r.stderr


def test_a_phased_plan_solved_on_the_curves_does_not_count_0_pieces(cycle):
    """The dated plan is solved by the interior point on the curves themselves: its certificate
    line read '(0 pieces, 1 round(s), interior point)'. Truth: no pieces to count, said so."""
    path, plan, _re = cycle
    assert plan["solver"] == "interior point"
    r = cli(["optimize", "ye.yaml", "--no-ledger"], path)
    assert r.returncode == 0, r.stderr
    text = " ".join(r.stdout.split())
    assert "certified within" in text and "interior point" in text
    assert "0 pieces" not in text
    assert "(on the curves themselves, 1 round(s), interior point)" in text
