"""The application layer: a run's typed specification is what the ledger records and rerun
replays; the plan ``track`` follows is a file or a run reference, never a guess."""

from __future__ import annotations

import json

import pytest

from optimizer.app.run import COMMANDS, RunSpec, execute, load_inputs, plans_of
from optimizer.app.tracking import plan_to_track
from optimizer.errors import BudgetOptError, DataError
from optimizer.workflow.ledger import LedgerError, is_run_reference
from tests.factories import write_tiny_world


def test_spec_options_round_trip_and_are_what_the_ledger_always_recorded(tmp_path):
    spec = RunSpec("sweep", ("a.yaml",), budgets=(1.0, 2.0), warm=False, jobs=2)
    opts = spec.options()
    # the keys older ledgers hold for a sweep: a recorded run must still re-run
    assert opts == {
        "scenarios": ["a.yaml"],
        "model": None,
        "solver": "highs",
        "tolerance": 1e-4,
        "time_limit": None,
        "budgets": [1.0, 2.0],
        "warm": False,
        "jobs": 2,
    }
    assert RunSpec.from_options("sweep", json.loads(json.dumps(opts))) == spec
    assert set(RunSpec("optimize", ("a.yaml",)).options()) == {
        "scenarios",
        "model",
        "solver",
        "tolerance",
        "time_limit",
        "robust",
    }
    assert RunSpec("replan", ("a",), actuals="x.csv").absolute().actuals == str(
        (tmp_path.cwd() / "x.csv").resolve()
    )
    with pytest.raises(LedgerError, match="cannot run a 'fit' run"):
        RunSpec("fit", ("a.yaml",))  # type: ignore[arg-type]
    assert COMMANDS == ("optimize", "compare", "sweep", "replan")


def test_execute_reads_the_inputs_once_given(tmp_path):
    w = write_tiny_world(tmp_path / "w")
    spec = RunSpec("optimize", (str(w["scenario"]),))
    inputs = load_inputs(spec)
    a = execute(spec, inputs=inputs)
    b = execute(spec)  # reads them itself: the same plan, bit for bit
    from optimizer.allocate.plan_json import plan_to_dict

    assert a.ok and plan_to_dict(plans_of(a)[0]) == plan_to_dict(plans_of(b)[0])


def test_plan_to_track_takes_a_file_or_a_run_reference_and_nothing_else(tmp_path):
    assert is_run_reference("last") and is_run_reference("last~2:cut")
    assert is_run_reference("0mhx3k2q") and not is_run_reference("plan.json")
    assert not is_run_reference("plans/base")
    with pytest.raises(DataError, match="the plan file does not exist"):
        plan_to_track("plan.json", tmp_path / "ledger.sqlite")
    with pytest.raises(BudgetOptError):  # a run reference: looked up in the ledger
        plan_to_track("last", tmp_path / "ledger.sqlite")
    bad = tmp_path / "p.json"
    bad.write_text(json.dumps({"scenario": "x", "line_items": []}))
    with pytest.raises(DataError, match="field 'horizon_weeks'"):
        plan_to_track(str(bad), tmp_path / "ledger.sqlite")
