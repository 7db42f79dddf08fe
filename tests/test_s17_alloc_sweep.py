"""``sweep``'s warm walk searches for a KPI floor's exact fix (``floor_within_rules``, ~24 solves)
at the one infeasible budget whose message its table says, not at every infeasible budget
(session 17): since commit 1bf3b03 each infeasible point was planned with that search, and a
sweep of 26 infeasible budgets under a revenue floor went from 1.9 s to 12.9 s. The other
infeasible points name the rules that conflict, as optimize does, without a step."""

from __future__ import annotations

import json

import yaml

import optimizer.allocate.engine as engine
from optimizer.allocate.diagnose import RESOLVE
from optimizer.response.model import read_model
from optimizer.scenario import load_scenario
from optimizer.workflow.sweep import sweep
from tests.test_adv_core import run_cli
from tests.test_s14_numbers import EDGE_MODEL

#: EDGE_MODEL over 13 weeks under a revenue floor of 900,000: its least spend is 634,970.06
#: (tests/test_sweep_floor.py), so 600,000..630,000 are infeasible and 640,000, 650,000 plan
SCENARIO = {"name": "f", "model": "model.json", "horizon_weeks": 13, "budget": 500000}
SCENARIO["kpi_floors"] = {"revenue": 900000}
GRID = "600000:650000:6"
INFEASIBLE = [600000, 610000, 620000, 630000]


def _world(tmp_path, budget=500000):
    (tmp_path / "model.json").write_text(json.dumps(EDGE_MODEL))
    path = tmp_path / f"f{budget}.yaml"
    path.write_text(yaml.safe_dump({**SCENARIO, "budget": budget}, sort_keys=False))
    return path


def test_the_floor_fix_is_searched_once_in_a_sweep(tmp_path, monkeypatch):
    """Truth: of the four infeasible budgets only the highest (630,000, the one the table
    explains) gets the KPI floor's fix search: one call of floor_within_rules in the sweep
    (four before the fix); the plans' statuses are the same as before."""
    path = _world(tmp_path)
    calls = []
    search = engine.floor_within_rules

    def counted(problem, plan, *args, **kwargs):
        calls.append(problem.scenario.budget.amount)
        return search(problem, plan, *args, **kwargs)

    monkeypatch.setattr(engine, "floor_within_rules", counted)
    front = sweep(
        load_scenario(path),
        read_model(tmp_path / "model.json"),
        [600000.0 + 10000.0 * k for k in range(6)],
        economics=False,
    )
    status = {round(p.budget): p.status for p in front.plans}
    assert [b for b, s in status.items() if s == "infeasible"] == INFEASIBLE
    assert status[640000] == status[650000] == "optimal"
    assert calls == [630000.0], calls


def test_sweep_messages_agree_with_optimize(tmp_path):
    """Through the CLI. Truth: optimize's message at each infeasible budget. The table's
    sentence about the infeasible budgets quotes optimize's message at 630,000 word for word,
    and so does the JSON's point there; the JSON's other infeasible points carry the head of
    optimize's message (the rules that conflict) and no step (optimize's step is searched for,
    the diagnosis' own is padded)."""
    _world(tmp_path)
    said = {}
    for b in INFEASIBLE:
        r = run_cli("optimize", _world(tmp_path, b).name, "--no-ledger", cwd=tmp_path)
        assert r.returncode == 3, r.stderr
        said[b] = " ".join(r.stderr.split("is infeasible: ", 1)[1].split())
        assert RESOLVE in said[b] and "which is planned" in said[b], said[b]
    args = ("sweep", "f500000.yaml", "--budgets", GRID, "--no-ledger")
    r = run_cli(*args, "--wide", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    table = " ".join(r.stdout.split())
    assert f"Infeasible at 4 budgets (600,000 to 630,000); at 630,000: {said[630000]}." in table
    r = run_cli(*args, "--format", "json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    messages = {round(p["budget"]): p.get("message") for p in json.loads(r.stdout)["points"]}
    assert messages[630000] == said[630000]
    for b in INFEASIBLE[:-1]:
        assert messages[b] == said[b].split(RESOLVE)[0], (b, messages[b], said[b])
        assert "revenue floor (900,000)" in messages[b]
    assert messages[640000] is None and messages[650000] is None
