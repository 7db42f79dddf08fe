"""Session 18: the planning-cycle commands' answers, through the CLI.

* ``track`` / ``replan`` of a one-date actuals file dated by a Sunday that is the 1st of a month
  (2027-08-01 ends the week of Monday 2027-07-26): it was read as August, a month.
* ``replan`` printed each warning twice (stderr, and again in the table on stdout).
* a long-layout history (one row per week and touchpoint) named a bad value's week position
  ("row 11") rather than its row in the file.

The world: three touchpoints of the sample's true model, a 13-week plan by month from Monday
2027-07-26 (its July is that one week; August's weeks start 2027-08-02).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest

from optimizer.sample import __file__ as _sample

SAMPLE = Path(_sample).parent
TPS = ("tv", "search", "social")
SUNDAY_1ST = "2027-08-01"  # a Sunday: the last day of the plan's first week


def cli(args, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "optimizer", *args], capture_output=True, text=True, cwd=cwd
    )


def _scenario(path: Path, name: str, extra: str = "", start: str | None = "2027-07-26") -> str:
    dated = f"start: {start}\nphasing: month\n" if start else ""
    (path / f"{name}.yaml").write_text(
        f"name: {name}\nmodel: model.json\n{dated}horizon_weeks: 13\nbudget: 1300000\n"
        f"objective: max_kpi\n{extra}"
    )
    return f"{name}.yaml"


def write_model(path: Path) -> None:
    """``model.json``: the sample's true curves of ``TPS``."""
    model = json.loads((SAMPLE / "true_model.json").read_text())
    model["touchpoints"] = {k: v for k, v in model["touchpoints"].items() if k in TPS}
    (path / "model.json").write_text(json.dumps(model))


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    path = tmp_path_factory.mktemp("s18track")
    write_model(path)
    _scenario(path, "s")
    r = cli(["optimize", "s.yaml", "--format", "json", "-o", "plan.json", "--no-ledger"], path)
    assert r.returncode == 0, r.stderr
    return path, json.loads((path / "plan.json").read_text())


def _actuals(path: Path, name: str, rows) -> str:
    (path / name).write_text(
        "date,touchpoint,spend\n" + "".join(f"{d},{t},{v}\n" for d, t, v in rows)
    )
    return name


def _first_week(plan: dict) -> list[tuple[str, str, float]]:
    """The plan's first week (its July period, one week) as one row per touchpoint, dated by
    the Sunday that ends it."""
    rows = []
    for li in plan["line_items"]:
        july = li["periods"][0]
        assert (july["period"], july["weeks"]) == ("2027-07", 1)
        rows.append((SUNDAY_1ST, li["id"], july["spend"]))
    return rows


def _json(r: subprocess.CompletedProcess) -> dict:
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


# ------------------------------------------------------------------------------------------------
# 1. one week dated by the Sunday that is the 1st
# ------------------------------------------------------------------------------------------------
def test_track_one_week_dated_by_a_sunday_the_1st_is_the_plans_first_week(world):
    """The plan's first week spent exactly as planned, dated 2027-08-01 (the Sunday ending it).
    It was read as August (weeks 2027-08-02..08-30): 5 weeks elapsed, the real week 'missing',
    every line item ~-49..-78% 'under'. Truth: week 2027-07-26 alone, nothing missing, each line
    item on plan (variance within a cent per row), and a note naming --frequency month."""
    path, plan = world
    assert dt.date.fromisoformat(SUNDAY_1ST).weekday() == 6  # a Sunday
    a = _actuals(path, "wk1.csv", _first_week(plan))
    tr = _json(cli(["track", "plan.json", a, "--format", "json"], path))
    assert tr["frequency"] == "week"
    assert tr["weeks_elapsed"] == 1
    assert tr["weeks_compared"] == {"first": "2027-07-26", "last": "2027-07-26"}
    assert tr["missing_weeks"] == []
    for x in tr["line_items"]:
        assert abs(x["variance"]) <= 0.01 and x["status"] == "on plan", x
    assert any("--frequency month" in n and SUNDAY_1ST in n for n in tr["notes"])


def test_track_frequency_option_says_what_the_dates_cannot(world):
    """--frequency month reads the same file as August (its 5 weeks from 2027-08-02, the plan's
    first week missing); --frequency week on an undated plan reads it as one week where the
    dates alone read a month."""
    path, plan = world
    a = _actuals(path, "wk1m.csv", _first_week(plan))
    tr = _json(cli(["track", "plan.json", a, "--frequency", "month", "--format", "json"], path))
    assert tr["frequency"] == "month"
    assert tr["missing_weeks"] == ["2027-07-26"]
    assert tr["weeks_compared"]["last"] == "2027-08-30"
    assert not any("--frequency" in n for n in tr["notes"])  # said, not guessed

    _scenario(path, "u", start=None)
    r = cli(["optimize", "u.yaml", "--format", "json", "-o", "u.json", "--no-ledger"], path)
    assert r.returncode == 0, r.stderr
    guessed = _json(cli(["track", "u.json", a, "--format", "json"], path))
    assert (guessed["frequency"], guessed["weeks_elapsed"]) == ("month", 5)
    assert any("--frequency week" in n for n in guessed["notes"])
    said = _json(cli(["track", "u.json", a, "--frequency", "week", "--format", "json"], path))
    assert (said["frequency"], said["weeks_elapsed"]) == ("week", 1)


def test_frequency_month_with_a_date_not_the_1st_is_a_located_error(world):
    path, _plan = world
    a = _actuals(path, "mid.csv", [("2027-08-01", "tv", 10.0), ("2027-08-08", "tv", 10.0)])
    r = cli(["track", "plan.json", a, "--frequency", "month"], path)
    assert r.returncode == 2
    assert "mid.csv" in r.stderr and "'date'" in r.stderr and "2027-08-08 in row 3" in r.stderr
    assert "Traceback" not in r.stderr


def test_replan_one_week_dated_by_a_sunday_the_1st_replans_from_the_second_week(world):
    """The re-plan of the same file re-planned from September (6 weeks 'elapsed', the first
    missing and counted as no spend). Truth: 1 week elapsed, the re-plan starts 2027-08-02, the
    spend to date is the week's 172,595-odd, to the cent."""
    path, plan = world
    rows = _first_week(plan)
    a = _actuals(path, "wk1r.csv", rows)
    out = _json(cli(["replan", "s.yaml", "--actuals", a, "--format", "json", "--no-ledger"], path))
    rp = out["replan"]
    assert rp["weeks_elapsed"] == 1 and rp["replan_start"] == "2027-08-02"
    assert rp["spent_to_date"] == pytest.approx(sum(v for _d, _t, v in rows), abs=0.01)


def test_replan_frequency_is_recorded_and_rerun_alike(world):
    """replan --frequency month is recorded with the run: its rerun reads the file as a month
    again (6 weeks elapsed, the plan's first week missing) and is bit for bit the same."""
    path, plan = world
    a = _actuals(path, "wk1rr.csv", _first_week(plan))
    led = ["--ledger", "rr.db"]
    r = cli(
        ["replan", "s.yaml", "--actuals", a, "--frequency", "month", "--format", "json", *led], path
    )
    assert _json(r)["replan"]["weeks_elapsed"] == 6
    shown = _json(cli(["history", "show", "last", "--format", "json", *led], path))
    assert shown["options"]["frequency"] == "month"
    r = cli(["rerun", "last", "--check", *led], path)
    assert r.returncode == 0, r.stderr + r.stdout
    assert "identical" in r.stdout


# ------------------------------------------------------------------------------------------------
# 2. replan's warnings, once
# ------------------------------------------------------------------------------------------------
def test_replan_prints_each_warning_once(world):
    """tv's cap (300,000) overspent and the week of 2027-08-02 missing: two warnings. Each was on
    stderr and again in the table on stdout. Truth: once each, on stderr (contract 5); a table
    written with -o keeps them, once."""
    path, _plan = world
    sc = _scenario(path, "capped", "touchpoints:\n  tv: {max: 300000}\n")
    a = _actuals(
        path,
        "over.csv",
        [
            ("2027-07-26", "tv", 400000),
            ("2027-07-26", "search", 50000),
            ("2027-08-09", "social", 9),
        ],
    )
    r = cli(["replan", sc, "--actuals", a, "--no-ledger"], path)
    assert r.returncode == 0, r.stderr
    warnings = [ln for ln in r.stderr.splitlines() if ln.startswith("warning: ")]
    assert any("tv maximum" in w and "already exceeded" in w for w in warnings)
    assert any("no actuals for 1 elapsed week" in w for w in warnings)
    assert len(warnings) == len(set(warnings)) == 2
    assert "warning" not in r.stdout
    r = cli(["replan", sc, "--actuals", a, "--no-ledger", "-o", "re.txt"], path)
    assert r.returncode == 0, r.stderr
    assert r.stderr.count("warning: ") == 2
    assert (path / "re.txt").read_text().count("warning: ") == 2


# ------------------------------------------------------------------------------------------------
# 3. long-layout history: the file's row
# ------------------------------------------------------------------------------------------------
def _long_history(path: Path, weeks: int = 60, market: bool = False) -> list[str]:
    """The sample's first ``weeks`` weeks of tv and search, one row per week and touchpoint
    (and market: two markets, each with the same rows)."""
    src = list(csv.DictReader((SAMPLE / "history.csv").open()))[:weeks]
    (path / "j.yaml").write_text(
        "kpi: revenue\ncontrols: [price_index]\ntouchpoints:\n"
        "- {id: tv, stage: awareness}\n- {id: search, stage: consideration}\n"
    )
    head = ("market," if market else "") + "date,touchpoint,spend,revenue,price_index"
    lines = [head]
    for m in ("a", "b") if market else ("",):
        for r in src:
            for t in ("tv", "search"):
                pre = f"{m}," if market else ""
                lines.append(f"{pre}{r['date']},{t},{r[t]},{r['revenue']},{r['price_index']}")
    return lines


def _write(path: Path, name: str, lines: list[str]) -> str:
    (path / name).write_text("\n".join(lines) + "\n")
    return name


def test_long_history_errors_name_the_files_row(tmp_path):
    """A bad control value on both rows of week 2023-03-06 (the file's rows 20 and 21): it was
    'row 11', the week's position. Truth: row 20, the first row of the week, with the file, the
    field and the value; a bad date likewise (it said row 32, the position of the date once
    sorted)."""
    lines = _long_history(tmp_path)
    assert lines[19].startswith("2023-03-06,tv,") and lines[20].startswith("2023-03-06,search,")
    bad = list(lines)
    for k in (19, 20):
        bad[k] = bad[k].rsplit(",", 1)[0] + ",x"
    r = cli(["validate", _write(tmp_path, "ctl.csv", bad), "--journey", "j.yaml"], tmp_path)
    assert r.returncode == 2
    assert "ctl.csv" in r.stderr and "'price_index'" in r.stderr
    assert "'x' in row 20 (week 2023-03-06)" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr

    bad = list(lines)
    bad[19] = bad[19].replace("2023-03-06", "2023-13-06")
    r = cli(["validate", _write(tmp_path, "date.csv", bad), "--journey", "j.yaml"], tmp_path)
    assert r.returncode == 2
    assert "date.csv" in r.stderr and "'date'" in r.stderr
    assert "row 20 is not an ISO date" in r.stderr and "'2023-13-06'" in r.stderr, r.stderr


def test_long_history_a_kpi_blank_beside_the_weeks_value_is_the_weeks_value(tmp_path):
    """The docs (and the two-values check) say a blank KPI cell beside the week's value is no
    second value; but the week took its first row's cell, blank: 'the KPI is missing in row 11'.
    Truth: the history is valid (the week's revenue is its search row's)."""
    lines = _long_history(tmp_path)
    date, tp, spend, _rev, price = lines[19].split(",")
    lines[19] = ",".join([date, tp, spend, "", price])
    r = cli(["validate", _write(tmp_path, "blank.csv", lines), "--journey", "j.yaml"], tmp_path)
    assert r.returncode == 0, r.stderr


def test_long_history_by_market_names_the_files_row(tmp_path):
    """Over markets (validate reads it as fit --by-market does): market b's bad revenue on both
    rows of its week 2023-01-09, the file's rows 124 and 125. Truth: 'row 124'."""
    lines = _long_history(tmp_path, market=True)
    assert lines[123].startswith("b,2023-01-09,tv,") and lines[124].startswith("b,2023-01-09,")
    for k in (123, 124):
        f = lines[k].split(",")
        f[4] = "1e99"
        lines[k] = ",".join(f)
    r = cli(["validate", _write(tmp_path, "mk.csv", lines), "--journey", "j.yaml"], tmp_path)
    assert r.returncode == 2
    assert "market 'b'" in r.stderr and "'revenue'" in r.stderr
    assert "in row 124 (week 2023-01-09)" in r.stderr, r.stderr


def test_long_history_names_a_touchpoint_by_its_id_where_its_spend_column_differs(tmp_path):
    """A journey with tv's spend_column tv_spend, a long history whose rows name tv by its id:
    the id was accepted, then 'needs spend column tv_spend, which the history lacks (expected
    one of: …, tv)'. Truth: the history is valid, tv's rows are tv's spend."""
    lines = _long_history(tmp_path)
    (tmp_path / "j.yaml").write_text(
        (tmp_path / "j.yaml").read_text().replace("{id: tv,", "{id: tv, spend_column: tv_spend,")
    )
    r = cli(["validate", _write(tmp_path, "ids.csv", lines), "--journey", "j.yaml"], tmp_path)
    assert r.returncode == 0, r.stderr
    by_column = [ln.replace(",tv,", ",tv_spend,") for ln in lines]
    r = cli(["validate", _write(tmp_path, "cols.csv", by_column), "--journey", "j.yaml"], tmp_path)
    assert r.returncode == 0, r.stderr


def test_a_one_date_file_read_as_a_month_because_only_that_fits_says_so(world):
    """The re-plan after the first week starts 2027-08-02; tracked with that week's file again
    (2027-08-01, before the re-plan), only the month reading falls in its weeks: the file was
    read as August's spend with no word. Truth: it is still read so (the rule: the reading that
    fits), and the note says it, naming --frequency week."""
    path, plan = world
    a = _actuals(path, "wk1t.csv", _first_week(plan))
    r = cli(
        ["replan", "s.yaml", "--actuals", a, "--format", "json", "-o", "re1.json", "--no-ledger"],
        path,
    )
    assert r.returncode == 0, r.stderr
    tr = _json(cli(["track", "re1.json", a, "--format", "json"], path))
    assert tr["frequency"] == "month" and tr["start"] == "2027-08-02"
    assert any(
        "only as a month" in n and "--frequency week reads it as the week 2027-07-26" in n
        for n in tr["notes"]
    ), tr["notes"]
