"""``Plan.status`` is the ``Status`` enum, a ``str`` enum: comparisons, formatting and every file
a plan is written to keep the words ("optimal", "not_certified", …) they always had."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from optimizer.allocate import Status, allocate
from optimizer.allocate.plan import certified_status
from optimizer.allocate.plan_json import plan_to_dict, read_plan
from optimizer.errors import DataError
from optimizer.response.model import read_model
from optimizer.scenario import load_scenario
from tests.factories import write_tiny_world


def test_a_solved_plan_carries_the_enum_and_writes_its_word(tmp_path):
    w = write_tiny_world(tmp_path / "w")
    plan = allocate(load_scenario(w["scenario"]), read_model(w["model"]))
    assert type(plan.status) is Status and plan.status is Status.OPTIMAL
    assert plan.status == "optimal" and f"{plan.status}" == "optimal"
    text = json.dumps(plan_to_dict(plan))
    assert '"status": "optimal"' in text
    path = tmp_path / "plan.json"
    path.write_text(text)
    back = read_plan(path)
    assert type(back.status) is Status and back.status is Status.OPTIMAL


def test_the_cli_writes_the_status_word_in_json(tmp_path):
    w = write_tiny_world(tmp_path / "w")
    out = tmp_path / "plan.json"
    r = subprocess.run(
        [sys.executable, "-m", "optimizer", "optimize", str(w["scenario"]), "--no-ledger"]
        + ["-q", "--format", "json", "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(out.read_text())["status"] == "optimal"


def test_certified_status_only_says_optimal_within_the_tolerance():
    assert certified_status(Status.OPTIMAL, 1e-5, 1e-4) is Status.OPTIMAL
    assert certified_status(Status.OPTIMAL, 2e-4, 1e-4) is Status.NOT_CERTIFIED
    assert certified_status(Status.OPTIMAL, None, 1e-4) is Status.NOT_CERTIFIED
    assert certified_status(Status.INFEASIBLE, None, 1e-4) is Status.INFEASIBLE
    assert Status.NOT_CERTIFIED == "not_certified"


@pytest.mark.parametrize("bad", ['"solved"', "3", "[]"])
def test_a_plan_file_with_an_unknown_status_is_a_located_error(tmp_path, bad):
    path = tmp_path / "plan.json"
    items = '[{"id": "tv", "spend": 1.0}]'
    path.write_text(f'{{"status": {bad}, "horizon_weeks": 13, "line_items": {items}}}')
    with pytest.raises(DataError) as e:
        read_plan(path)
    assert e.value.field == "status" and "plan.json" in str(e.value)
    assert "not_certified" in str(e.value)
