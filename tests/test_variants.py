"""Scenario-declared variants, grids and sweeps; compare with a reference, the costliest rules and
an Excel workbook; the warm budget sweep against the naive loop."""

from __future__ import annotations

import json

import numpy as np
import openpyxl
import pytest
import yaml
from click.testing import CliRunner

from optimizer.allocate import allocate, make_problem
from optimizer.cli import cli
from optimizer.errors import ScenarioError
from optimizer.response.model import model_from_dict, read_model
from optimizer.scenario import load_scenario, scenario_from_dict
from optimizer.workflow.compare import compare_scenarios, constraint_costs
from optimizer.workflow.sweep import sweep
from optimizer.workflow.variants import count_variants, expand
from tests.factories import review_model, review_scenario, write_tiny_world

PLAN = {
    "name": "plan",
    "extends": "base.yaml",
    "variants": {
        "cut": {"budget": 1_000_000},
        "tv_free": {"name": "no tv cap", "touchpoints": {"tv": {"max": 1_300_000}}},
    },
    "grid": {"budget": [1_100_000, 1_200_000], "touchpoints.tv.max": [300_000, 400_000]},
    "sweep": {"budgets": "500000:1500000:3"},
}


def run(*args):
    records = args[0] in ("compare", "sweep", "optimize")
    r = CliRunner().invoke(cli, [str(a) for a in (*args, *(["--no-ledger"] if records else []))])
    assert "Traceback" not in (r.output or "") + (r.stderr or "")
    return r


@pytest.fixture
def world(tmp_path):
    w = write_tiny_world(tmp_path / "w")
    plan = w["root"] / "scenarios" / "plan.yaml"
    plan.write_text(yaml.safe_dump(PLAN, sort_keys=False))
    w["plan"] = plan
    return w


# ------------------------------------------------------------------------------------------------
# schema and expansion
# ------------------------------------------------------------------------------------------------
def test_declared_variants_load_and_expand_in_order(world):
    sc = load_scenario(world["plan"])
    assert sc.sweep is not None and sc.sweep.amounts == [500_000, 1_000_000, 1_500_000]
    assert count_variants(sc) == 2 + 4  # compare takes the sweep only from a file without variants
    scs = expand(sc)
    assert [s.name for s in scs] == [
        "plan",
        "cut",
        "no tv cap",
        "plan [budget=1.1M, touchpoints.tv.max=300k]",
        "plan [budget=1.1M, touchpoints.tv.max=400k]",
        "plan [budget=1.2M, touchpoints.tv.max=300k]",
        "plan [budget=1.2M, touchpoints.tv.max=400k]",
        "plan [budget=500,000]",
        "plan [budget=1,000,000]",
        "plan [budget=1,500,000]",
    ]
    assert scs[1].budget.amount == 1_000_000 and scs[1].touchpoints["tv"].max == 600_000
    assert scs[2].touchpoints["tv"].max == 1_300_000 and scs[2].budget.amount == 1_300_000
    assert scs[3].budget.amount == 1_100_000 and scs[3].touchpoints["tv"].max == 300_000
    assert scs[-1].budget.amount == 1_500_000
    assert all(not s.variants and not s.grid and s.sweep is None for s in scs)
    assert scs[0].stages["awareness"].min_share == 0.1  # from base.yaml, through extends


def test_variants_are_not_inherited_through_extends(world):
    child = world["root"] / "scenarios" / "child.yaml"
    child.write_text(yaml.safe_dump({"name": "child", "extends": "plan.yaml"}))
    sc = load_scenario(child)
    assert not sc.variants and not sc.grid and sc.sweep is None


@pytest.mark.parametrize(
    "bad, needle",
    [
        (
            {"variants": {"x": {"budgte": 5}}},
            "field 'variants.x.budgte': unknown key 'budgte' (did you mean 'budget'?)",
        ),
        ({"variants": {"x": {"touchpoints": {"tv": {"mx": 5}}}}}, "variants.x.touchpoints.tv.mx"),
        ({"variants": {"x": {"extends": "a.yaml"}}}, "'extends' cannot be set in a variant"),
        ({"variants": {"x": 5}}, "expected a mapping of overrides"),
        ({"grid": {"budgt": [1]}}, "unknown key 'budgt' (did you mean 'budget'?)"),
        ({"grid": {"budget": [-1, 5]}}, "must not be negative, got -1 (grid: budget=-1)"),
        ({"grid": {"budget": []}}, "expected a non-empty list"),
        ({"sweep": {"budgets": "1:2"}}, "expected START:STOP:N"),
        ({"sweep": {"budget": "1:2:3"}}, "unknown key 'budget' (did you mean 'budgets'?)"),
    ],
)
def test_bad_declarations_are_located(world, bad, needle):
    world["plan"].write_text(yaml.safe_dump({"name": "plan", "extends": "base.yaml", **bad}))
    with pytest.raises(ScenarioError) as e:
        load_scenario(world["plan"])
    assert needle in str(e.value)
    assert str(world["plan"]) in str(e.value)


def test_validate_accepts_declared_variants_and_reports_bad_ones(world):
    r = run("validate", world["plan"])
    assert r.exit_code == 0, r.stderr
    world["plan"].write_text(
        yaml.safe_dump({"name": "p", "extends": "base.yaml", "variants": {"x": {"budget": -3}}})
    )
    r = run("validate", world["plan"])
    assert r.exit_code == 2 and "variants.x.budget" in r.stderr


# ------------------------------------------------------------------------------------------------
# compare
# ------------------------------------------------------------------------------------------------
def test_compare_one_file_expands_its_variants(world):
    world["plan"].write_text(
        yaml.safe_dump({"name": "plan", "extends": "base.yaml", "variants": PLAN["variants"]})
    )
    r = run("compare", world["plan"], "--format", "json")
    assert r.exit_code == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["reference"] == "plan"
    assert [s["scenario"] for s in data["scenarios"]] == ["plan", "cut", "no tv cap"]
    assert data["scenarios"][1]["total_spend"] == pytest.approx(1_000_000, abs=0.01)
    for s in data["scenarios"]:
        assert "costly_constraints" in s


def test_compare_takes_a_declared_sweep_only_from_a_file_that_declares_nothing_else(world):
    r = run("compare", world["plan"], "--format", "json")
    names = [s["scenario"] for s in json.loads(r.stdout)["scenarios"]]
    assert len(names) == 1 + 2 + 4 and not any("budget=5" in n for n in names)
    world["plan"].write_text(
        yaml.safe_dump(
            {"name": "plan", "extends": "base.yaml", "sweep": {"budgets": [900_000, 1_100_000]}}
        )
    )
    r = run("compare", world["plan"], "--format", "json")
    names = [s["scenario"] for s in json.loads(r.stdout)["scenarios"]]
    assert names == ["plan", "plan [budget=900,000]", "plan [budget=1,100,000]"]


def test_compare_one_plain_file_is_a_usage_error(world):
    r = run("compare", world["scenario"])
    assert r.exit_code == 2 and "at least two scenarios" in r.stderr


def test_compare_reference(world):
    cut = world["root"] / "scenarios" / "cut.yaml"
    cut.write_text(yaml.safe_dump({"name": "cut", "extends": "base.yaml", "budget": 1_000_000}))
    r = run("compare", world["scenario"], cut, "--reference", "cut", "--format", "json")
    data = json.loads(r.stdout)
    assert data["reference"] == "cut"
    r = run("compare", world["scenario"], cut, "--reference", "cut")
    assert "Δ base" in r.stdout and "Δ against cut" in r.stdout
    r = run("compare", world["scenario"], cut, "--reference", "ctu")
    assert r.exit_code == 2 and "did you mean 'cut'" in r.stderr


@pytest.fixture
def review():
    return scenario_from_dict(review_scenario()), model_from_dict(review_model(0))


def test_costly_constraints_price_a_binding_cap_at_ten_percent(review):
    sc, model = review
    problem = make_problem(sc, model)
    plan = allocate(sc, model)
    costs = constraint_costs(plan, problem)
    assert 1 <= len(costs) <= 3
    assert [c.gain for c in costs] == sorted((c.gain for c in costs), reverse=True)
    by_name = {c.name: c for c in costs}
    assert "budget" not in by_name
    group = by_name["group_max__digital"]  # the 'digital' cap (350,000) binds
    sp = plan.constraint("group_max__digital").shadow_price
    assert group.relaxed_by == pytest.approx(35_000)
    assert group.gain == pytest.approx(abs(sp) * 35_000)
    assert group.unit == "revenue"

    # the shadow price is the first-order gain: a cap 1% higher gains about a tenth as much
    # (10% higher gains less than the estimate: the curves are concave)
    def gain_at(cap):
        looser = sc.model_copy(
            update={"groups": {"digital": sc.groups["digital"].model_copy(update={"max": cap})}}
        )
        return allocate(looser, model).total_kpi - plan.total_kpi

    assert gain_at(353_500) == pytest.approx(group.gain / 10, rel=0.1)
    assert 0 < gain_at(385_000) <= group.gain
    comp = compare_scenarios(
        [sc, sc.with_budget(1_000_000).model_copy(update={"name": "cut"})], model_override=model
    )
    assert comp.costs_of(0) == costs


def test_compare_table_lists_costly_rules_and_xlsx_workbook(tmp_path):
    from tests.factories import write_review_world

    w = write_review_world(tmp_path / "r", draws=0)
    cut = w["root"] / "scenarios" / "cut.yaml"
    cut.write_text(yaml.safe_dump({"name": "cut", "extends": "review.yaml", "budget": 1_000_000}))
    r = run("compare", w["scenario"], cut)
    assert r.exit_code == 0, r.stderr
    assert "which rules cost the most" in r.stdout and "'digital' group cap" in r.stdout
    r = run("compare", w["scenario"], cut, "--format", "xlsx")
    assert r.exit_code == 2 and "-o FILE" in r.stderr
    out = tmp_path / "comparison.xlsx"
    r = run("compare", w["scenario"], cut, "--format", "xlsx", "-o", out)
    assert r.exit_code == 0, r.stderr
    first = out.read_bytes()
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == ["Summary", "Stages", "Line items", "Costly rules"]
    summary = wb["Summary"]
    assert [summary.cell(row=r, column=1).value for r in (2, 3)] == ["review", "cut"]
    assert summary.freeze_panes == "B2" and summary["C2"].number_format.startswith("#,##0")
    items = wb["Line items"]
    assert items.freeze_panes == "C2"
    head = [c.value for c in items[1]]
    assert head[:4] == ["line item", "stage", "spend: review", "revenue: review"]
    total_row = items.max_row
    assert items.cell(row=total_row, column=1).value == "total"
    assert items.cell(row=total_row, column=3).value == pytest.approx(1_300_000, abs=0.01)
    assert wb["Stages"].freeze_panes == "B2"
    assert wb["Costly rules"]["B2"].value
    run("compare", w["scenario"], cut, "--format", "xlsx", "-o", out)
    assert out.read_bytes() == first  # deterministic


# ------------------------------------------------------------------------------------------------
# sweep: declared budgets, and the warm walk against the naive loop
# ------------------------------------------------------------------------------------------------
def test_sweep_uses_the_declared_budgets(world):
    r = run("sweep", world["plan"], "--format", "json")
    assert r.exit_code == 0, r.stderr
    assert [p["budget"] for p in json.loads(r.stdout)["points"]] == [500_000, 1_000_000, 1_500_000]
    r = run("sweep", world["scenario"])
    assert r.exit_code == 2 and "give --budgets" in r.stderr


def _same_frontier(warm, cold, tolerance=1e-4, certified=True):
    for a, b in zip(warm.plans, cold.plans, strict=True):
        assert a.status == b.status
        if not a.ok:
            continue
        if certified:  # (an S-curve's bound need not close: weak duality)
            assert a.gap <= tolerance
        # both certified within the tolerance of the same optimum
        assert a.objective_value == pytest.approx(b.objective_value, rel=2 * tolerance, abs=1e-6)
        assert a.total_spend <= (a.budget or 0) + 0.01


def test_warm_sweep_matches_the_naive_loop_on_the_tiny_world(world):
    sc = load_scenario(world["scenario"])
    model = read_model(sc.model)
    grid = np.linspace(0, 2_500_000, 9)
    warm = sweep(sc, model, grid)
    cold = sweep(sc, model, grid, warm=False)
    _same_frontier(warm, cold)
    # the warm walk certifies most budgets from the previous one's plan with no LP at all
    assert sum(p.rounds for p in warm.plans) < sum(p.rounds for p in cold.plans)
    assert [p.budget for p in warm.plans] == list(grid)
    steps = [Frontierish.marginal(p) for p in warm.plans]
    assert steps == sorted(steps, reverse=True)  # diminishing returns


def test_warm_sweep_in_parallel_gives_the_same_plans(world):
    from optimizer.render.machine import plan_to_dict
    from optimizer.workflow.sweep import CHUNK

    sc = load_scenario(world["scenario"])
    model = read_model(sc.model)
    grid = np.linspace(100_000, 2_500_000, CHUNK + 5)  # two stretches
    one = sweep(sc, model, grid)
    two = sweep(sc, model, grid, jobs=2)
    assert [plan_to_dict(p) for p in one.plans] == [plan_to_dict(p) for p in two.plans]
    assert max(p.gap for p in two.plans) <= 1e-4


class Frontierish:
    @staticmethod
    def marginal(p):
        from optimizer.workflow.sweep import Frontier

        return Frontier.marginal(p)


def test_warm_sweep_matches_the_naive_loop_with_caps_locks_and_groups(review):
    sc, model = review
    grid = np.linspace(200_000, 2_000_000, 6)  # below the email lock (250,000) at first: infeasible
    warm = sweep(sc, model, grid)
    cold = sweep(sc, model, grid, warm=False)
    _same_frontier(warm, cold)
    assert warm.plans[0].status == "infeasible" and warm.plans[0].conflicts


def test_warm_sweep_with_an_s_curve_and_zero_or_at_least():
    m = review_model(0)
    m["touchpoints"]["print"]["curve"] = {
        "family": "hill",
        "beta": 30000.0,
        "half_saturation": 20000.0,
        "shape": 2.5,
    }
    sc = scenario_from_dict(review_scenario(min_if_funded=True))
    model = model_from_dict(m)
    grid = np.linspace(800_000, 2_400_000, 3)
    _same_frontier(sweep(sc, model, grid), sweep(sc, model, grid, warm=False), certified=False)
