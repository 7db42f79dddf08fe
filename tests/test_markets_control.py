"""Budgetary control of a dated, phased plan over markets (contracts 7 and 8 composed): ``track``
matches actuals by market to the plan's line items (touchpoint × market, a national buy by its
``national`` rows) and periods by date; ``replan`` continues the calendar with the carry-over of
the actual spend per line item. Through the CLI as a subprocess, on the markets world of
``tests/test_phased_national.py`` (3 markets × 4 touchpoints, t0 a national buy, 13 weeks by
month, a national floor, a market floor, a period cap and a market-scoped cap)."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_markets import make_world
from tests.test_phased_national import _scenario

START = dt.date(2027, 1, 4)
FEB = dt.date(2027, 2, 1)


def cli(args, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "optimizer", *args], capture_output=True, text=True, cwd=cwd
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    path = tmp_path_factory.mktemp("mkctl")
    w = make_world(path, n_markets=3, n_tp=4)
    _scenario(path)
    r = cli(["optimize", "s.yaml", "--format", "json", "-o", "plan.json", "--no-ledger"], path)
    assert r.returncode == 0, r.stderr
    return w, path, json.loads((path / "plan.json").read_text())


def planned_rows(plan: dict, until: dt.date, factor=None, skip=()) -> list[tuple]:
    """(date, market, touchpoint, spend) of every week before ``until``: the plan's period spend
    spread over its weeks (a national buy's as ``national`` rows), times ``factor[key]``."""
    rows = []
    for li in plan["line_items"]:
        m = li["market"] or "national"
        key = f"{li['id']}@{m}"
        for per in li["periods"]:
            s = dt.date.fromisoformat(per["start"])
            for k in range(per["weeks"]):
                d = s + dt.timedelta(weeks=k)
                if d < until and d not in skip:
                    v = per["spend"] / per["weeks"] * (factor or {}).get(key, 1.0)
                    rows.append((d.isoformat(), m, li["id"], v))
    return rows


def write(path: Path, rows, name="actuals.csv") -> Path:
    text = "date,market,touchpoint,spend\n" + "".join(f"{d},{m},{t},{v}\n" for d, m, t, v in rows)
    (path / name).write_text(text)
    return path / name


def track(path: Path, actuals: str, *extra, plan: str = "plan.json") -> dict:
    r = cli(["track", plan, actuals, "--scenario", "s.yaml", "--format", "json", *extra], path)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_actuals_on_plan_have_no_variance_per_line_item_market_and_owner(world):
    _w, path, plan = world
    write(path, planned_rows(plan, FEB), "on_plan.csv")
    tr = track(path, "on_plan.csv")
    assert tr["dated"] and tr["start"] == START.isoformat() and tr["weeks_elapsed"] == 4
    keys = {x["id"] for x in tr["line_items"]}
    assert keys == {f"{li['id']}@{li['market'] or 'national'}" for li in plan["line_items"]}
    for x in tr["line_items"] + tr["markets"] + tr["owners"] + [tr["total"]]:
        assert abs(x["variance"]) <= 0.02, x  # cents of rounding
        assert x["projected_spend"] == pytest.approx(x["planned"], abs=0.05)
    assert {m["id"] for m in tr["markets"]} == set(plan_markets(plan))
    # every market's money includes its share of the national buy: they add up to the total
    assert sum(m["planned"] for m in tr["markets"]) == pytest.approx(
        tr["total"]["planned"], abs=0.1
    )
    assert tr["total"]["projected_kpi"] == pytest.approx(plan["total_kpi"], rel=1e-9)
    assert tr["rules_broken_at_run_rate"] == [] and tr["missing_weeks"] == []


def plan_markets(plan: dict) -> list[str]:
    return [m["market"] for m in plan["markets"]]


def test_actuals_off_plan_flag_the_right_line_items_and_market_rules(world):
    _w, path, plan = world
    factor = {"t2@m1": 1.6, "t3@m0": 0.5}
    write(path, planned_rows(plan, FEB, factor), "off_plan.csv")
    tr = track(path, "off_plan.csv")
    status = {x["id"]: x["status"] for x in tr["line_items"]}
    assert status["t2@m1"] == "over" and status["t3@m0"] == "under"
    others = {k: v for k, v in status.items() if k not in factor}
    assert set(others.values()) <= {"on plan", "–"}, others
    by = {x["id"]: x for x in tr["line_items"]}
    assert by["t2@m1"]["variance_pct"] == pytest.approx(0.6, abs=1e-3)
    # t2 in m1 is capped at its plan (40,000, a market-scoped rule): its run-rate breaks it
    assert any("m1" in n and "t2" in n for n in tr["rules_broken_at_run_rate"]), tr[
        "rules_broken_at_run_rate"
    ]
    # the market-scoped cap once, by its own name (not again as a national t2 cap)
    assert "tp_max__m1__t2" in tr["rules_broken_at_run_rate"]
    assert "tp_max__t2" not in tr["rules_broken_at_run_rate"]
    # m0's floor (150,000, counting its share of the national buy): t3 at half pace breaks it
    assert "market_min__m0" in tr["rules_broken_at_run_rate"]
    assert {m["id"]: m["status"] for m in tr["markets"]} == {
        "m0": "under",
        "m1": "over",
        "m2": "on plan",
    }


def test_a_missing_week_is_reported_and_the_wide_layout_reads_the_same(world):
    _w, path, plan = world
    skip = {dt.date(2027, 1, 18)}
    rows = planned_rows(plan, FEB, skip=skip)
    write(path, rows, "gap.csv")
    tr = track(path, "gap.csv")
    assert tr["missing_weeks"] == ["2027-01-18"]
    # the wide history layout: date, market, one spend column per touchpoint
    cell: dict[tuple[str, str], dict[str, float]] = {}
    for d, m, t, v in rows:
        cell.setdefault((d, m), {})[t] = cell.get((d, m), {}).get(t, 0.0) + v
    tps = ["t0", "t1", "t2", "t3"]
    text = (
        "date,market,"
        + ",".join(tps)
        + ",revenue\n"
        + "".join(
            f"{d},{m}," + ",".join(str(c.get(t, 0.0)) for t in tps) + ",1\n"
            for (d, m), c in sorted(cell.items())
        )
    )
    (path / "gap_wide.csv").write_text(text)
    wide = track(path, "gap_wide.csv")
    assert wide["line_items"] == tr["line_items"] and wide["missing_weeks"] == ["2027-01-18"]


@pytest.mark.parametrize(
    ("text", "field", "words"),
    [
        ("date,market,touchpoint,spend\n2027-01-04,m9,t1,5\n", "market", "unknown market 'm9'"),
        ("date,touchpoint,spend\n2027-01-04,t1,5\n", "market", "needs a 'market' column"),
        ("date,market,touchpoint,spend\n2027-01-04,m0,t9,5\n", "touchpoint", "'t9'"),
        (
            "date,market,touchpoint,spend\n2027-01-04,national,t1,5\n",
            "touchpoint",
            "bought per market",
        ),
        ("date,market,touchpoint,spend\n2027-01-04,m0,t1,x\n", "spend", "'x'"),
    ],
)
def test_bad_actuals_over_markets_are_located_and_write_nothing(world, text, field, words):
    _w, path, _plan = world
    (path / "bad.csv").write_text(text)
    out = path / "track_out.json"
    r = cli(["track", "plan.json", "bad.csv", "--scenario", "s.yaml", "-o", str(out)], path)
    assert r.returncode == 2, r.stderr
    assert "bad.csv" in r.stderr and f"field '{field}'" in r.stderr and words in r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not out.exists()


# ------------------------------------------------------------------------------------------------
# replan over markets
# ------------------------------------------------------------------------------------------------
def replan(path: Path, actuals: str, out: str) -> dict:
    r = cli(
        ["replan", "s.yaml", "--actuals", actuals, "--no-ledger", "--format", "json", "-o", out],
        path,
    )
    assert r.returncode == 0, r.stderr
    return json.loads((path / out).read_text())


def _split_of(plan: dict) -> dict[str, float]:
    t0 = next(li for li in plan["line_items"] if li["market"] is None)
    return {m: float(w) for m, w in t0["split"].items()}


def test_replan_on_plan_continues_the_calendar_and_keeps_the_plan(world):
    """Spent exactly as planned through January: the rest of the original plan is still optimal
    (the re-plan's carry-over is the plan's own), so every line item's total is unchanged (to the
    solver's tolerance, 1e-4 of the budget)."""
    _w, path, plan = world
    write(path, planned_rows(plan, FEB), "jan.csv")
    rp = replan(path, "jan.csv", "rp_on.json")
    assert rp["status"] == "optimal" and rp["start"] == FEB.isoformat()
    assert rp["horizon_weeks"] == 9 and [p["period"] for p in rp["periods"]] == [
        "2027-02",
        "2027-03",
    ]
    for x in rp["replan"]["line_items"]:
        assert abs(x["change"]) <= 30.0, x  # 1e-4 of the 300,000 budget
    assert rp["replan"]["full_cycle_kpi"] == pytest.approx(plan["total_kpi"], rel=1e-4)


def test_replan_off_plan_keeps_every_rule_over_the_cycle(world):
    _w, path, plan = world
    factor = {"t2@m1": 1.6, "t3@m0": 0.5, "t0@national": 1.3}
    rows = planned_rows(plan, FEB, factor)
    write(path, rows, "jan_off.csv")
    rp = replan(path, "jan_off.csv", "rp_off.json")
    assert rp["status"] == "optimal"
    spent: dict[str, float] = {}
    for _d, m, t, v in rows:
        spent[f"{t}@{m}"] = spent.get(f"{t}@{m}", 0.0) + v
    total = {x["id"]: x["total"] for x in rp["replan"]["line_items"]}
    got = {x["id"]: x["spent"] for x in rp["replan"]["line_items"]}
    for k, v in spent.items():  # the actuals by line item (a national buy's national rows)
        assert got[k] == pytest.approx(v, abs=0.01), k
    split = _split_of(plan)
    cent = 0.02
    assert sum(total.values()) <= 300_000 + cent  # the budget
    assert total["t0@national"] >= 40_000 - cent  # the national buy's floor
    m0 = sum(v for k, v in total.items() if k.endswith("@m0")) + split["m0"] * total["t0@national"]
    assert m0 >= 150_000 - cent  # m0's floor counts its share of the national buy
    assert total["t2@m1"] <= 40_000 + cent  # t2's cap in m1 (it ran 60% fast in January)
    feb = sum(
        p["spend"] for li in rp["line_items"] for p in li["periods"] if p["period"] == "2027-02"
    )
    assert feb <= 60_000 + cent  # February's cap (no February week had actuals)


def test_replan_carries_the_adstock_of_the_actual_spend_by_market(world):
    """The re-plan's carry-in per adstock stream equals a_n by hand: a_t = k x_t + d a_{t-1} over
    the actual weeks, x the line item's spend (a national buy's: its market's share), k, d that
    market's curve's (within 1e-6 relative)."""
    from optimizer.allocate.phased import phased_problem
    from optimizer.response.model import read_model
    from optimizer.scenario.schema import load_scenario
    from optimizer.workflow.control import read_market_actuals
    from optimizer.workflow.dated import item_key, rest_of_phased

    _w, path, plan = world
    rows = planned_rows(plan, FEB, {"t2@m1": 1.6, "t0@national": 0.7})
    write(path, rows, "jan_carry.csv")
    sc = load_scenario(path / "s.yaml")
    model = read_model(path / "markets.json")
    full = phased_problem(sc, model)
    act = read_market_actuals(path / "jan_carry.csv", list(model.touchpoints), model.names, ["t0"])
    by, _rep = act.on_weeks(START)
    weekly = __import__("numpy").array(
        [[by.get(item_key(it), {}).get(k, 0.0) for k in range(4)] for it in full.base.items]
    )
    rest, _warn, _done = rest_of_phased(full, weekly, 4, None)
    assert rest.streams == full.streams and len(rest.carry_in) == full.ns
    checked = 0
    for j, r in enumerate(full.responses):
        i, share = int(full.stream_item[j]), float(full.stream_share[j])
        d = 0.0 if r.adstock is None else r.adstock.decay
        k = 1.0 if r.adstock is None or not r.adstock.normalize else 1 - d
        a = 0.0
        for t in range(4):
            a = k * share * weekly[i, t] + d * a
        assert rest.carry_in[j] == pytest.approx(a, rel=1e-6)
        checked += a > 0
    assert checked >= 6  # not all nothing: every funded stream carries into February


def test_track_after_replan_compares_the_replans_own_weeks(world):
    _w, path, plan = world
    jan = planned_rows(plan, FEB)
    write(path, jan, "jan2.csv")
    rp = replan(path, "jan2.csv", "rp_track.json")
    feb2 = dt.date(2027, 2, 15)
    rows = jan + planned_rows(rp, feb2)  # February's first two weeks as re-planned
    write(path, rows, "jan_feb.csv")
    tr = track(path, "jan_feb.csv", plan="rp_track.json")
    assert tr["start"] == FEB.isoformat() and tr["weeks_elapsed"] == 2
    assert tr["weeks_compared"] == {"first": "2027-02-01", "last": "2027-02-08"}
    assert tr["spend_before_plan"] == pytest.approx(sum(v for *_x, v in jan), abs=0.1)
    for x in tr["line_items"]:
        assert abs(x["variance"]) <= 0.02, x


def test_replan_with_bad_actuals_over_markets_is_located_and_writes_nothing(world):
    _w, path, _plan = world
    (path / "bad_rp.csv").write_text("date,market,touchpoint,spend\n2027-01-04,nort,t1,5\n")
    r = cli(["replan", "s.yaml", "--actuals", "bad_rp.csv", "--no-ledger", "-o", "x.json"], path)
    assert r.returncode == 2 and "bad_rp.csv" in r.stderr and "field 'market'" in r.stderr
    assert "Traceback" not in r.stderr and not (path / "x.json").exists()
