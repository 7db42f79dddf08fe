"""The review prices a rule on money by a move it can make (session 18).

A floor or lock is lowered by the review's step (1% of the budget, 50,000 on the sample's base
quarter) at most to zero: a radio lock of 5,000 read "costs about 182 revenue per 50,000 locked:
lowering it by 50,000 would add that much" while the 182 was measured by a re-solve with the
lock at 0, a move of 5,000. Now the step is what the rule can move (5,000), so the sentence and
the JSON's ``step`` say what was measured. Truth: the plan with the lock at 0 less the plan with
it at 5,000, solved apart here (to 1e-6 relative).

An amount under one unit read "costs about <1 revenue": now "costs less than 1 revenue"."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from optimizer.allocate import allocate
from optimizer.response.model import read_model
from optimizer.scenario import load_scenario

REPO = Path(__file__).resolve().parent.parent


def _scenario(tmp: Path, radio: dict) -> Path:
    sc = yaml.safe_load((REPO / "scenarios" / "base.yaml").read_text())
    sc["model"] = str(REPO / "optimizer" / "sample" / "true_model.json")
    sc["touchpoints"]["radio"] = radio
    path = tmp / "s.yaml"
    path.write_text(yaml.safe_dump(sc, sort_keys=False))
    return path


def _explain(path: Path, out: Path) -> str:
    r = subprocess.run(
        [sys.executable, "-m", "optimizer", "explain", "-q", "--no-ledger", "-o", str(out)]
        + [str(path)],
        capture_output=True,
        text=True,
        cwd=path.parent,
    )
    assert r.returncode == 0, r.stderr
    return out.read_text()


def test_a_lock_under_the_step_is_priced_by_lowering_it_to_zero(tmp_path):
    path = _scenario(tmp_path, {"lock": 5000})
    doc = json.loads(_explain(path, tmp_path / "r.json"))
    note = next(c for c in doc["constraints"] if c["name"] == "tp_lock__radio")
    assert note["binding"] and note["direction"] == "lower"
    assert note["step"] == 5000.0  # not the review's 50,000: the lock cannot go below zero
    sc = load_scenario(path)
    model = read_model(sc.model)
    at_zero = allocate(
        sc.with_touchpoint_rule("radio", type(sc.touchpoints["radio"])(lock=0)), model
    )
    truth = at_zero.objective_value - allocate(sc, model).objective_value
    assert truth > 0
    assert note["resolved"] == pytest.approx(truth, rel=1e-6)
    assert "per 5,000 locked: lowering it by 5,000 would add that much" in note["sentence"]
    md = _explain(path, tmp_path / "r.md")
    assert "the radio lock (5,000) costs about 182 revenue per 5,000 it holds in" in md
    assert "50,000 it holds in" not in md and "lowering it by 50,000" not in md


def test_a_cost_under_one_unit_reads_less_than_1(tmp_path):
    """radio's minimum of 1,200 sits 81 above its optimum (1,119): lowering it costs the plan
    less than one unit of revenue (the JSON's resolved gain, checked under 0.5 here)."""
    path = _scenario(tmp_path, {"min": 1200})
    doc = json.loads(_explain(path, tmp_path / "r.json"))
    note = next(c for c in doc["constraints"] if c["name"] == "tp_min__radio")
    assert 0 < note["resolved"] < 0.5 and note["step"] == 1200.0
    md = _explain(path, tmp_path / "r.md")
    assert "the radio minimum (1,200) costs less than 1 revenue per 1,200 it holds in" in md
    assert "about <1" not in md
