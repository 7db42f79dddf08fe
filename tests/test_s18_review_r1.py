"""Review S18 R1 D2: a monthly row dated the 1st that falls inside the plan's first week on a
weekday other than its Sunday is the month, not that week.

A monthly plan from Monday 2027-06-28 (its first week ends Sunday 2027-07-04): July's actuals,
exactly as planned, dated 2027-07-01 (a Thursday) were read as the plan's first week (e41d140's
rule for a Sunday-the-1st ending that week had no check of the weekday): `track` said "+142%
over" on a plan followed to the cent. Truth: July, its weeks 2027-07-05 to 2027-07-26 (the weeks
whose Monday is in July), each line item on plan; June's one week (2027-06-28) has no actuals."""

from __future__ import annotations

import datetime as dt

from tests.test_s18_track import _actuals, _json, _scenario, cli, write_model


def test_a_monthly_row_dated_a_thursday_the_1st_in_the_first_week_is_the_month(tmp_path):
    write_model(tmp_path)
    _scenario(tmp_path, "s", start="2027-06-28")
    r = cli(["optimize", "s.yaml", "--format", "json", "-o", "plan.json", "--no-ledger"], tmp_path)
    assert r.returncode == 0, r.stderr
    plan = _json(cli(["optimize", "s.yaml", "--format", "json", "--no-ledger"], tmp_path))
    assert dt.date(2027, 7, 1).weekday() == 3  # a Thursday, inside the week of 2027-06-28
    rows = []
    for li in plan["line_items"]:
        july = next(p for p in li["periods"] if p["period"] == "2027-07")
        rows.append(("2027-07-01", li["id"], july["spend"]))
    a = _actuals(tmp_path, "july.csv", rows)
    tr = _json(cli(["track", "plan.json", a, "--format", "json"], tmp_path))
    assert tr["frequency"] == "month", tr["notes"]
    # July's weeks (Mondays 07-05 to 07-26) compared; June's one week has no actuals
    assert tr["weeks_compared"]["last"] == "2027-07-26" and tr["missing_weeks"] == ["2027-06-28"]
    for x in tr["line_items"]:
        assert x["status"] == "on plan", x


def test_output_onto_the_ledger_is_refused(tmp_path):
    """Review S18 R1 D6: ``optimize … -o l.db --ledger l.db`` wrote the plan over the ledger,
    exit 0, every recorded run lost. Truth: exit 2 naming the ledger, the ledger untouched."""
    write_model(tmp_path)
    _scenario(tmp_path, "s", start=None)
    r = cli(["optimize", "s.yaml", "--ledger", "l.db"], tmp_path)
    assert r.returncode == 0, r.stderr
    before = (tmp_path / "l.db").read_bytes()
    r = cli(["optimize", "s.yaml", "--format", "json", "-o", "l.db", "--ledger", "l.db"], tmp_path)
    assert r.returncode == 2 and "is the ledger of runs" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
    assert (tmp_path / "l.db").read_bytes() == before
