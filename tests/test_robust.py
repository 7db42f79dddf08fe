"""Plan uncertainty over the model's bootstrap draws, and the robust (expected-KPI) plan."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from optimizer.allocate import allocate
from optimizer.cli import cli
from optimizer.errors import ModelError
from optimizer.response.model import model_from_dict
from optimizer.scenario import scenario_from_dict
from optimizer.workflow.robust import (
    draw_models,
    n_draws,
    optimize_scenario,
    plan_uncertainty,
    robust_plan,
)
from tests.factories import TINY_MODEL, tiny_model_with_draws, write_tiny_world

SCENARIO = {
    "name": "base",
    "model": "m",
    "horizon_weeks": 13,
    "budget": 1_300_000,
    "touchpoints": {"tv": {"max": 900_000}},
}


@pytest.fixture(scope="module")
def setup():
    sc = scenario_from_dict(SCENARIO)
    model = model_from_dict(tiny_model_with_draws(7))
    return sc, model, allocate(sc, model)


def expected_kpi(model, plan) -> float:
    """The plan's KPI averaged over the model's draws: what the robust plan maximises."""
    return float(
        np.mean(
            [
                sum(
                    m.touchpoints[li.id].horizon_kpi(li.spend, plan.horizon_weeks)
                    for li in plan.line_items
                )
                for m in draw_models(model)
            ]
        )
    )


def test_draw_models_are_the_joint_draws(setup):
    _, model, _ = setup
    ms = draw_models(model)
    assert n_draws(model) == 7 and len(ms) == 7
    assert [m.touchpoints["tv"].curve.beta for m in ms] == pytest.approx(
        [120000.0 * (0.7 + 0.1 * k) for k in range(7)]
    )
    assert [m.touchpoints["tv"].curve.params["half_saturation"] for m in ms] == pytest.approx(
        [40000.0 * (0.5 + 0.25 * k) for k in range(7)]
    )
    assert all(not tp.draws for m in ms for tp in m.touchpoints.values())


def test_no_draws_is_said_clearly():
    model = model_from_dict(TINY_MODEL, source="model.json")
    with pytest.raises(ModelError, match="has no draws of its curves") as e:
        robust_plan(scenario_from_dict(SCENARIO), model)
    assert "model.json" in str(e.value) and "--bootstrap" in str(e.value)


def test_robust_plan_maximises_the_expected_kpi(setup):
    sc, model, nominal = setup
    robust = robust_plan(sc, model)
    assert robust.ok and robust.gap <= 1e-4
    assert robust.extras["robust"] == "mean" and robust.extras["draws"] == 7
    # its line items' KPI is the expectation over the draws
    assert robust.total_kpi == pytest.approx(expected_kpi(model, robust), rel=1e-9)
    # it beats the point-estimate plan on the expected KPI (which is what it maximises) …
    assert expected_kpi(model, robust) >= expected_kpi(model, nominal) * (1 - 1e-4)
    # … and it is a different plan: averaged over the draws, tv saturates later than its point curve
    spend = {li.id: li.spend for li in robust.line_items}
    base = {li.id: li.spend for li in nominal.line_items}
    assert abs(spend["tv"] - base["tv"]) > 1_000
    assert robust.total_spend == pytest.approx(1_300_000, abs=0.01)
    assert optimize_scenario(sc, model, robust="mean").line_items == robust.line_items


def test_uncertainty_spreads(setup):
    sc, model, plan = setup
    u = plan_uncertainty(sc, model, plan)
    assert u.draws == 7 and u.solved == 7
    for it in u.items:
        s = it.spend_spread
        assert s.p10 <= s.p50 <= s.p90
    tv = next(it for it in u.items if it.id == "tv")
    assert tv.spend_spread.p90 - tv.spend_spread.p10 > 50_000  # the draws disagree about tv
    assert u.optimum_kpi.p10 < u.optimum_kpi.p90
    # the re-optimised plan of each draw does at least as well on it as this plan does
    assert u.optimum_kpi.p50 >= u.plan_kpi.p50 * (1 - 1e-3)
    d = u.to_dict()
    assert d["percentiles"] == [10.0, 50.0, 90.0] and len(d["line_items"]) == 3


@pytest.fixture
def world(tmp_path):
    w = write_tiny_world(tmp_path / "w")
    w["model"].write_text(json.dumps(tiny_model_with_draws(5)))
    return w


def run(*args):
    r = CliRunner().invoke(cli, [str(a) for a in (*args, "--no-ledger")])
    assert "Traceback" not in (r.output or "") + (r.stderr or "")
    return r


def test_cli_robust_and_uncertainty(world):
    r = run("optimize", world["scenario"], "--robust", "mean", "--format", "json")
    assert r.exit_code == 0, r.stderr
    plan = json.loads(r.stdout)
    assert plan["robust"]["draws"] == 5 and "uncertainty" not in plan
    r = run("optimize", world["scenario"], "--uncertainty", "--format", "json")
    assert r.exit_code == 0, r.stderr
    u = json.loads(r.stdout)["uncertainty"]
    assert u["draws"] == 5 and [li["id"] for li in u["line_items"]] == ["tv", "search", "email"]
    assert u["total_kpi"]["p10"] <= u["total_kpi"]["p50"] <= u["total_kpi"]["p90"]
    r = run("optimize", world["scenario"], "--uncertainty", "--format", "csv")
    df = pd.read_csv(io.StringIO(r.stdout))
    assert {"spend_p10", "spend_p50", "spend_p90", "kpi_p50"} <= set(df.columns)
    r = run("optimize", world["scenario"], "--robust", "mean", "--uncertainty")
    assert r.exit_code == 0
    assert "robust plan" in r.stdout and "plan uncertainty over 5 draws of the model" in r.stdout


def test_cli_without_draws_says_so(tmp_path):
    w = write_tiny_world(tmp_path / "w")
    for flags in (["--uncertainty"], ["--robust", "mean"]):
        r = run("optimize", w["scenario"], *flags)
        assert r.exit_code == 2
        assert "has no draws of its curves" in r.stderr and "model.json" in r.stderr
