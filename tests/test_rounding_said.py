"""A plan whose cents break a rule says so (reviewer S13 R1, finding 5).

``round_to_rules`` holds every rule in cents with a small MILP; where that MILP finds nothing (it
failed, timed out, or no rounding holds the rules exactly) the nearest cents are written. A
``min_spend`` target of 900,000 is then planned a fraction of a unit short (899,999.9987, as
before 099adcd), and the plan read "optimal" with an empty message. Truth checked: the message
names the rule the cents break and by how much; a plan whose cents hold every rule says
nothing of the kind."""

from __future__ import annotations

from optimizer.allocate import engine, rounding
from tests.test_adv_core import S_MODEL, write_world

SCENARIO = {"name": "ms", "model": "model.json", "horizon_weeks": 13}
SCENARIO |= {"objective": "min_spend", "kpi_target": 900000}


def _plan(tmp_path):
    from optimizer.scenario.schema import load_scenario
    from optimizer.workflow.compare import load_model_for

    sc = load_scenario(write_world(tmp_path, S_MODEL, SCENARIO))
    return engine.allocate(sc, load_model_for(sc))


def test_cents_that_break_a_kpi_target_are_said(tmp_path, monkeypatch):
    monkeypatch.setattr(rounding, "_repair_cents", lambda *a, **k: None)
    plan = _plan(tmp_path)
    target = next(c for c in plan.constraints if c.slack < 0)  # the premise: the cents break it
    assert target.rhs == 900000 and target.lhs < 900000
    assert "rounded to cents the plan breaks" in plan.message
    assert f"'{target.label or target.name}'" in plan.message and "of KPI" in plan.message


def test_cents_that_hold_every_rule_say_nothing(tmp_path):
    plan = _plan(tmp_path)
    assert all(c.slack >= 0 or c.sense == "==" for c in plan.constraints)
    assert "rounded to cents" not in plan.message
