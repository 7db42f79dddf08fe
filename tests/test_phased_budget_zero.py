"""A dated, phased scenario with a budget of 0 is planned optimal at zero (found by the S16
adversarial pass): every decision is held at zero, but the Lagrangian bound over the boxes'
1e-9 padding on a hill of shape < 1 (infinite slope at zero) sat 0.00028 above the zero plan's
KPI, and the plan read "not certified ... gap 27,674,797,479%", exit 4."""

from __future__ import annotations

import json

import yaml

from tests.test_adv_core import run_cli

MODEL = {
    "kpi": "revenue",
    "period": "week",
    "touchpoints": {
        "a": {
            "stage": "awareness",
            "curve": {"family": "hill", "beta": 50000.0, "half_saturation": 30000.0, "shape": 0.7},
        },
        "b": {
            "stage": "awareness",
            "curve": {"family": "exponential", "beta": 40000.0, "scale": 20000.0},
        },
    },
}


def _scenario(tmp_path, name: str, **extra) -> str:
    sc = {"name": "b0", "model": "model.json", "horizon_weeks": 13, "start": "2027-01-04"}
    sc |= {"phasing": "month", "budget": 0, **extra}
    (tmp_path / name).write_text(yaml.safe_dump(sc, sort_keys=False))
    return name


def test_a_phased_budget_of_zero_is_the_zero_plan_certified(tmp_path):
    """Truth: the only plan is zero spend, so it is optimal with gap 0 and KPI 0 (no carry-over
    in), exit 0. A minimum on a line item under that budget stays a conflict of both rules."""
    (tmp_path / "model.json").write_text(json.dumps(MODEL))
    r = run_cli("optimize", _scenario(tmp_path, "s.yaml"), "--no-ledger", "--format", "json",
                cwd=tmp_path)  # fmt: skip
    assert r.returncode == 0, r.stderr
    plan = json.loads(r.stdout)
    assert plan["status"] == "optimal" and plan["gap"] == 0.0, (plan["status"], plan["gap"])
    assert plan["total_spend"] == 0.0 and plan["total_kpi"] == 0.0
    bad = _scenario(tmp_path, "m.yaml", touchpoints={"a": {"min": 100}})
    r = run_cli("optimize", bad, "--no-ledger", cwd=tmp_path)
    assert r.returncode == 3, r.stderr
    assert "the budget (0) and the a minimum (100) cannot both hold" in r.stderr, r.stderr
