"""Adversarial pass (session 17): ``diff`` of a re-plan against a plan of another cycle. Through
the CLI, on the markets world of ``tests/test_markets_control.py`` (13 weeks by month from
2027-01-04), its ledger in the world's folder."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import yaml

from tests import test_markets_control as control
from tests.test_markets_control import cli

world = control.world  # that module's fixture: the world, planned (--format json) once


def test_a_replan_against_another_cycle_is_not_cut_to_its_weeks(world):
    """The same scenario planned from 2027-02-01 ('later', 300,000 over 13 weeks to 2027-05-02)
    diffed against the re-plan after 6 weeks of the cycle from 2027-01-04 (its 7 weeks from
    2027-02-15): the later plan was cut to 'weeks 7 to 13 of its cycle' (270,000 of it, 11 of its
    weeks) and called the same weeks. Truth: they are not the same weeks; each plan as it is."""
    _w, path, plan = world
    data = yaml.safe_load((path / "s.yaml").read_text())
    data.update(name="later", start="2027-02-01")
    (path / "later.yaml").write_text(yaml.safe_dump(data))
    cut = dt.date(2027, 2, 15)
    rows = control.planned_rows(plan, cut)
    control.write(path, rows, "six.csv")
    for args in (["optimize", "later.yaml", "-q"], ["replan", "s.yaml", "--actuals", "six.csv"]):
        r = cli(args, path)
        assert r.returncode == 0, r.stderr
    r = cli(["diff", "last~1", "last", "--format", "json"], path)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    later, re_plan = d["scenarios"]
    assert later["total_spend"] == pytest.approx(300_000, abs=0.05)
    assert re_plan["scenario"].endswith("(from 2027-02-15)")
    assert d["same_weeks"].startswith("not the same weeks"), d["same_weeks"]
    assert "not the same weeks" in r.stderr
