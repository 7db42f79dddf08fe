"""track's run-rate for a line item with nothing planned so far (docs/cli.md, track): its later
plan stands whatever stray spend it had so far (review S17 R1 D5 of b4fecd1).

The CLI runs as a subprocess; the world is tests/test_markets_control.py's (3 markets, t0 a
national buy, 13 weeks by month)."""

from __future__ import annotations

import json

import pytest

from tests.test_markets_control import cli, world  # noqa: F401 (the fixture)
from tests.test_s17_adv_track import _csv, _weekly


def test_stray_spend_before_a_later_plan_keeps_that_plan(world):  # noqa: F811
    """Re-planned on plan after January, t0 has nothing in February and 13,565.31 in March.
    February's actuals as re-planned plus 5.00 of t0 on 2027-02-01: t0 was projected at 11.25
    (its weekly average, its March plan dropped), its minimum and m0's minimum 'broken'. Truth:
    the 5.00 spent plus its plan for the rest, 13,570.31 (to a cent), and no rule but February's
    cap (which the 5.00 really breaks) broken."""
    _w, path, plan = world
    jan = _csv(path, "jan.csv", _weekly(plan, {1}))
    r = cli(["replan", "s.yaml", "--actuals", jan, "--format", "json", "-o", "re.json"], path)
    assert r.returncode == 0, r.stderr
    re_plan = json.loads((path / "re.json").read_text())
    t0 = next(li for li in re_plan["line_items"] if li["id"] == "t0")
    assert t0["periods"][0]["spend"] < 0.01 < t0["periods"][1]["spend"]  # the premise
    rows = _weekly(plan, {1}) + _weekly(re_plan, {2}) + [("2027-02-01", "national", "t0", 5.0)]
    both = _csv(path, "janfeb5.csv", rows)
    r = cli(["track", "re.json", both, "--scenario", "s.yaml", "--format", "json"], path)
    assert r.returncode == 0, r.stderr
    tr = json.loads(r.stdout)
    got = next(x for x in tr["line_items"] if str(x["id"]).split("@")[0] == "t0")
    assert got["projected_spend"] == pytest.approx(t0["spend"] + 5.0, abs=0.015), got
    broken = tr["rules_broken_at_run_rate"]
    assert not any("t0" in b or "m0" in b for b in broken), broken
