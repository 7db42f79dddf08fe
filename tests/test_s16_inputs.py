"""Session 16's adversarial pass over what users feed budgetopt, run as users run it (the CLI as a
subprocess, from a clean folder, on files they could plausibly write).

Each test names the input that was answered wrongly and checks the answer: the exit code, the
file, field and value in the message, no traceback, and nothing written on failure.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from tests.factories import write_actuals, write_tiny_world

BIN = [sys.executable, "-m", "optimizer"]


def run(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "BUDGETOPT_LEDGER": str(cwd / "ledger.sqlite"), "COLUMNS": "200"}
    return subprocess.run(
        [*BIN, *args], capture_output=True, text=True, cwd=cwd, timeout=timeout, env=env
    )


def clean(r: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in r.stderr + r.stdout, r.stderr


def scenario(path: Path, **fields: object) -> Path:
    body = {"name": path.stem, "model": "model.json", "horizon_weeks": 13, "budget": 1000000}
    path.write_text(yaml.safe_dump({**body, **fields}, sort_keys=False))
    return path


def fit(history: str, out: str, cwd: Path, *extra: str) -> subprocess.CompletedProcess:
    """``budgetopt fit`` of the tiny world's journey on ``history``, quickly (no draws)."""
    quick = ("--bootstrap", "0", "--no-seasonal-effectiveness", "-q")
    return run("fit", "--journey", "journey.yaml", "--history", history, "-o", out, *quick,
               *extra, cwd=cwd)  # fmt: skip


# ---- a CSV row with more cells than its header -----------------------------------------------
def test_a_separator_ending_every_data_row_is_read_as_the_file_means(tmp_path):
    """Some exports end every data row (not the header) with a separator. pandas then took the
    first column for the index and shifted every cell left: `fit` answered "the date in row 2 is
    not an ISO date: '<tv's spend>'". The blank cell past the header is now dropped, and the fit is
    the clean file's, byte for byte."""
    w = write_tiny_world(tmp_path)
    lines = w["history"].read_text().splitlines()
    trailing = tmp_path / "trailing.csv"
    trailing.write_text("\n".join([lines[0], *(line + "," for line in lines[1:])]) + "\n")
    a = fit("history.csv", "a.json", tmp_path)
    b = fit("trailing.csv", "b.json", tmp_path)
    clean(b)
    assert a.returncode == 0, a.stderr
    assert b.returncode == 0, b.stderr
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()


def test_a_value_past_the_header_is_refused_naming_the_row_and_the_value(tmp_path):
    """A value with no column (one row longer than the header) is an error naming the file, the
    row (the header is row 1) and the value; before, one such row was pandas' tokenizer message,
    and every row so was read shifted one column (the wrong column named)."""
    w = write_tiny_world(tmp_path)
    lines = w["history"].read_text().splitlines()
    lines[4] += ",99"  # row 5
    (tmp_path / "h1.csv").write_text("\n".join(lines) + "\n")
    r = fit("h1.csv", "m.json", tmp_path)
    clean(r)
    assert r.returncode == 2, r.stderr
    assert "h1.csv" in r.stderr and "row 5" in r.stderr and "'99'" in r.stderr, r.stderr
    assert "header names 5 columns" in r.stderr, r.stderr
    assert not (tmp_path / "m.json").exists()
    everyone = [lines[0], *(line + ",7" for line in lines[1:])]
    (tmp_path / "h2.csv").write_text("\n".join(everyone) + "\n")
    r = fit("h2.csv", "m.json", tmp_path)
    clean(r)
    assert r.returncode == 2, r.stderr
    assert "h2.csv" in r.stderr and "row 2" in r.stderr and "'7'" in r.stderr, r.stderr
    assert "not an ISO date" not in r.stderr
    assert not (tmp_path / "m.json").exists()


def test_a_lift_test_row_longer_than_its_header_names_the_row_not_a_shifted_touchpoint(tmp_path):
    write_tiny_world(tmp_path)
    lifts = tmp_path / "lifts.csv"
    lifts.write_text(
        "touchpoint,start,end,spend_delta,kpi_lift,kpi_lift_se\n"
        "tv,2024-03-04,2024-03-25,40000,50000,5000,geo test north\n"
    )
    r = fit("history.csv", "m.json", tmp_path, "--calibration", "lifts.csv")
    clean(r)
    assert r.returncode == 2, r.stderr
    assert "lifts.csv" in r.stderr and "row 2" in r.stderr, r.stderr
    assert "'geo test north'" in r.stderr, r.stderr
    assert "not a touchpoint" not in r.stderr  # was: "the touchpoint is '2024-03-04'"
    assert not (tmp_path / "m.json").exists()


def test_actuals_with_a_separator_ending_each_row_are_tracked_as_without(tmp_path):
    w = write_tiny_world(tmp_path)
    run("optimize", str(w["scenario"]), "--no-ledger", "-o", "plan.json", "-q", cwd=tmp_path)
    plain = write_actuals(tmp_path / "a.csv", {"tv": 40000, "search": 20000, "email": 5000}, 3)
    lines = plain.read_text().splitlines()
    (tmp_path / "b.csv").write_text("\n".join([lines[0], *(x + "," for x in lines[1:])]) + "\n")
    a = run("track", "plan.json", "a.csv", "--format", "json", cwd=tmp_path)
    b = run("track", "plan.json", "b.csv", "--format", "json", cwd=tmp_path)
    clean(b)
    assert a.returncode == 0 and b.returncode == 0, b.stderr
    assert json.loads(a.stdout) == json.loads(b.stdout)


# ---- spend beyond the documented range in actuals and carry-over files ------------------------
def test_actuals_beyond_the_money_range_are_refused_naming_file_row_and_value(tmp_path):
    """docs/cli.md: spend per week is 0 to 1e12. A history refused 1e13; actuals took 1e20 (a
    slip of the keyboard) and tracked it, or re-planned into 'the constraints cannot all hold'."""
    w = write_tiny_world(tmp_path)
    run("optimize", str(w["scenario"]), "--no-ledger", "-o", "plan.json", "-q", cwd=tmp_path)
    (tmp_path / "a.csv").write_text(
        "date,touchpoint,spend\n2025-01-06,tv,40000\n2025-01-06,search,2e13\n"
    )
    r = run("track", "plan.json", "a.csv", "-o", "t.json", cwd=tmp_path)
    clean(r)
    assert r.returncode == 2, r.stderr
    assert "a.csv" in r.stderr and "field 'spend'" in r.stderr, r.stderr
    assert "'2e13'" in r.stderr and "row 3" in r.stderr and "1,000,000,000,000" in r.stderr
    assert not (tmp_path / "t.json").exists()
    r = run("replan", str(w["scenario"]), "--actuals", "a.csv", "-o", "r.json", cwd=tmp_path)
    clean(r)
    assert r.returncode == 2, r.stderr
    assert "a.csv" in r.stderr and "'2e13'" in r.stderr, r.stderr
    assert not (tmp_path / "r.json").exists()
    assert not (tmp_path / "ledger.sqlite").exists()  # no run recorded


def test_a_carry_over_file_beyond_the_money_range_is_refused(tmp_path):
    write_tiny_world(tmp_path)
    (tmp_path / "before.csv").write_text("date,touchpoint,spend\n2024-12-30,tv,1e20\n")
    sc = scenario(tmp_path / "dated.yaml", start="2025-01-06", phasing="month",
                  carryover={"before": "before.csv"})  # fmt: skip
    r = run("optimize", sc.name, "-o", "p.json", cwd=tmp_path)
    clean(r)
    assert r.returncode == 2, r.stderr
    assert "before.csv" in r.stderr and "field 'spend'" in r.stderr and "'1e20'" in r.stderr
    assert not (tmp_path / "p.json").exists()
    assert not (tmp_path / "ledger.sqlite").exists()


# ---- compare: an infeasible scenario says why on stderr ---------------------------------------
def test_compare_to_json_names_the_infeasible_scenario_and_its_conflict_on_stderr(tmp_path):
    """`compare a.yaml b.yaml -o set.json` with b infeasible exited 3 saying only "wrote
    set.json": the conflict was inside the JSON, nothing on stderr named the scenario or the
    rules. Now stderr says it in optimize's words (the table on stdout already did)."""
    write_tiny_world(tmp_path)
    scenario(tmp_path / "good.yaml")
    scenario(tmp_path / "tight.yaml", budget=1000, touchpoints={"tv": {"min": 5000}})
    for extra in (["-o", "set.json"], ["--format", "csv"]):
        r = run("compare", "good.yaml", "tight.yaml", "--no-ledger", *extra, cwd=tmp_path)
        clean(r)
        assert r.returncode == 3, r.stderr
        line = next(x for x in r.stderr.splitlines() if x.startswith("infeasible:"))
        assert "tight.yaml" in line and "scenario 'tight' is infeasible" in line, r.stderr
        assert "the budget (1,000)" in line and "the tv minimum (5,000)" in line, r.stderr
        assert "good" not in line
    table = run("compare", "good.yaml", "tight.yaml", "--no-ledger", cwd=tmp_path)
    assert table.returncode == 3
    assert "tv minimum (5,000)" in table.stdout and "infeasible:" not in table.stderr


# ---- replan when the budget is already spent ----------------------------------------------------
def test_a_replan_whose_budget_is_already_spent_is_the_certified_empty_plan(tmp_path):
    """An undated re-plan with the budget already exceeded: nothing more can be spent, and the
    empty plan is the optimum. It was reported 'not certified' (gap 100%, exit 4): the line
    items kept their old ranges, over which the certificate's bound stayed positive (tv, a Hill
    curve of shape 0.8 with little spent, has an infinite first slope)."""
    w = write_tiny_world(tmp_path)
    sc = scenario(tmp_path / "und.yaml")
    write_actuals(tmp_path / "a.csv", {"tv": 1000, "search": 600000, "email": 1000}, 2)
    r = run("replan", sc.name, "--actuals", "a.csv", "--no-ledger", "--format", "json",
            cwd=tmp_path)  # fmt: skip
    clean(r)
    assert r.returncode == 0, r.stderr
    assert "the budget (1,000,000) is already exceeded" in r.stderr
    plan = json.loads(r.stdout)
    assert plan["status"] == "optimal" and plan["gap"] == 0.0
    assert plan["total_spend"] == 0.0 and all(li["spend"] == 0.0 for li in plan["line_items"])
    assert w["model"].exists()


# ---- track --scenario with another scenario's plan --------------------------------------------
def test_tracking_a_plan_against_another_scenario_warns_naming_both(tmp_path):
    write_tiny_world(tmp_path)
    scenario(tmp_path / "plan_a.yaml")
    scenario(tmp_path / "plan_b.yaml", horizon_weeks=26, touchpoints={"tv": {"max": 10000}})
    run("optimize", "plan_a.yaml", "--no-ledger", "-o", "a.json", "-q", cwd=tmp_path)
    write_actuals(tmp_path / "act.csv", {"tv": 40000, "search": 20000, "email": 5000}, 2)
    r = run("track", "a.json", "act.csv", "--scenario", "plan_b.yaml", "-q", cwd=tmp_path)
    clean(r)
    assert r.returncode == 0, r.stderr
    assert "warning: a.json is a plan of scenario 'plan_a'" in r.stderr, r.stderr
    assert "plan_b.yaml is scenario 'plan_b'" in r.stderr
    own = run("track", "a.json", "act.csv", "--scenario", "plan_a.yaml", "-q", cwd=tmp_path)
    assert own.returncode == 0 and "warning" not in own.stderr, own.stderr


# ---- -o FILE that cannot be written: said before the run, nothing recorded -------------------
def test_an_output_that_cannot_be_written_is_refused_before_the_run_is_recorded(tmp_path):
    """`optimize`, `compare`, `sweep`, `replan`, `explain` and `track` with `-o` under a file (or
    `-o` a folder) ran, recorded the run in the ledger ("recorded run …"), then failed to write:
    exit 2 with a ledger row for a run whose output never existed. The path is now checked
    first, as `fit` and `sweep --plot` check theirs."""
    w = write_tiny_world(tmp_path)
    scenario(tmp_path / "other.yaml", budget=900000)
    (tmp_path / "afile").write_text("not a folder\n")
    (tmp_path / "adir").mkdir()
    run("optimize", "other.yaml", "--no-ledger", "-o", "plan.json", "-q", cwd=tmp_path)
    write_actuals(tmp_path / "act.csv", {"tv": 40000, "search": 20000, "email": 5000}, 2)
    sc = str(w["scenario"])
    commands = [
        ("optimize", sc),
        ("compare", sc, "other.yaml"),
        ("sweep", sc, "--budgets", "0:1000000:3"),
        ("replan", sc, "--actuals", "act.csv"),
        ("explain", sc),
        ("track", "plan.json", "act.csv"),
    ]
    for args in commands:
        for target, words in (("afile/out.json", "is a file, not a folder"),
                              ("adir", "expected a file here, but this is a folder")):  # fmt: skip
            r = run(*args, "-o", target, cwd=tmp_path)
            clean(r)
            assert r.returncode == 2, (args, r.stderr)
            assert f"{target}: field '-o'" in r.stderr and words in r.stderr, (args, r.stderr)
            assert "recorded run" not in r.stderr, (args, r.stderr)
            assert not (tmp_path / "ledger.sqlite").exists(), args
    assert list((tmp_path / "adir").iterdir()) == []


# ---- a long history whose KPI differs between a week's rows ------------------------------------
def test_a_long_history_with_two_kpi_values_in_a_week_is_refused_naming_both(tmp_path):
    """The long layout (date,touchpoint,spend) repeats the week's KPI on each of its rows. A file
    that gives each touchpoint's row its own revenue (channel-attributed revenue: a plausible
    export) was fitted on the first row's value of each week, silently. Now exit 2 naming the
    file, the column, the week, both rows and both values; nothing written."""
    w = write_tiny_world(tmp_path)
    wide = w["history"].read_text().splitlines()
    head = wide[0].split(",")  # date,tv,search,email,revenue
    rows = ["date,touchpoint,spend,revenue"]
    for line in wide[1:]:
        cells = dict(zip(head, line.split(","), strict=True))
        rows += [
            f"{cells['date']},{t},{cells[t]},{cells['revenue']}" for t in ("tv", "search", "email")
        ]
    (tmp_path / "long.csv").write_text("\n".join(rows) + "\n")
    ok = fit("long.csv", "ok.json", tmp_path)
    assert ok.returncode == 0, ok.stderr  # the same week's value on every row: read as before
    date, tp, spend, revenue = rows[5].split(",")  # week 2's second row (file row 6)
    rows[5] = f"{date},{tp},{spend},{float(revenue) / 3:.2f}"
    (tmp_path / "attributed.csv").write_text("\n".join(rows) + "\n")
    r = fit("attributed.csv", "m.json", tmp_path)
    clean(r)
    assert r.returncode == 2, r.stderr
    assert "attributed.csv" in r.stderr and "field 'revenue'" in r.stderr, r.stderr
    assert f"week {date} has two values" in r.stderr and "in row 5" in r.stderr, r.stderr
    assert f"'{float(revenue) / 3:.2f}' in row 6" in r.stderr, r.stderr
    assert not (tmp_path / "m.json").exists()


# ---- a control that never changes ---------------------------------------------------------------
def test_a_control_that_never_changes_is_named_in_a_warning(tmp_path):
    """A control column the same in every week (a price index left at 1, a copy-paste) cannot
    explain anything: the fit gave it a coefficient of 0 and said nothing. It now warns, naming
    the control and its value; a control that varies gets no such warning."""
    w = write_tiny_world(tmp_path)
    journey = yaml.safe_load(w["journey"].read_text())
    (tmp_path / "j.yaml").write_text(yaml.safe_dump({**journey, "controls": ["price"]}))
    lines = w["history"].read_text().splitlines()
    flat = [lines[0] + ",price", *(x + ",1.0" for x in lines[1:])]
    (tmp_path / "flat.csv").write_text("\n".join(flat) + "\n")
    varying = [lines[0] + ",price", *(f"{x},{1 + k % 5 / 100}" for k, x in enumerate(lines[1:]))]
    (tmp_path / "varying.csv").write_text("\n".join(varying) + "\n")
    quick = ("--bootstrap", "0", "--no-seasonal-effectiveness")
    r = run("fit", "--journey", "j.yaml", "--history", "flat.csv", "-o", "m.json", *quick,
            cwd=tmp_path)  # fmt: skip
    clean(r)
    assert r.returncode == 0, r.stderr
    said = " ".join(r.stderr.split())
    assert "warning: the control 'price' is the same (1) in every week" in said, r.stderr
    model = json.loads((tmp_path / "m.json").read_text())
    assert model["fit"]["baseline"]["control:price"] == 0.0
    assert any("'price' is the same" in x for x in model["diagnostics"]["warnings"])
    r = run("fit", "--journey", "j.yaml", "--history", "varying.csv", "-o", "v.json", *quick,
            cwd=tmp_path)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "is the same" not in r.stderr


# ---- aggregate: a week beyond the money range -----------------------------------------------------
def test_aggregate_refuses_a_week_beyond_the_money_range_before_writing(tmp_path):
    """A daily file with a spend of 1e20 (a slip of the keyboard) was aggregated and written, then
    failed `aggregate`'s own read-back: exit 2 with the weekly file left behind and the error
    naming it (row 2 of the output) rather than the daily file. Now the daily file, the column
    and the week are named and nothing is written."""
    write_tiny_world(tmp_path)
    days = [f"2024-01-{d:02d}" for d in range(1, 29)]  # four whole weeks from a Monday
    rows = ["date,tv,search,email,revenue", *(f"{d},1000,500,100,9000" for d in days)]
    rows[10] = f"{days[9]},1e20,500,100,9000"  # in the week of 2024-01-08
    (tmp_path / "daily.csv").write_text("\n".join(rows) + "\n")
    r = run("aggregate", "daily.csv", "--journey", "journey.yaml", "-o", "weekly.csv", "-q",
            cwd=tmp_path)  # fmt: skip
    clean(r)
    assert r.returncode == 2, r.stderr
    assert "daily.csv: field 'tv'" in r.stderr and "week of 2024-01-08" in r.stderr, r.stderr
    assert "1,000,000,000,000" in r.stderr
    assert not (tmp_path / "weekly.csv").exists()
