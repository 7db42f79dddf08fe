"""``optimize``'s default plan, ``--robust auto``: the anchored plan where the fit pooled every
touchpoint or the model's draws expect less from the point optimum than its curves promise, the
optimum on the point curves otherwise, and the point optimum with a note wherever the anchored
plan cannot be made. Through the CLI, as a planner runs it (no ``--robust``: the default)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from optimizer.allocate import allocate
from optimizer.response.model import model_from_dict
from optimizer.scenario import scenario_from_dict
from optimizer.workflow.robust import DEFAULT_ROBUST, draw_models
from tests.factories import TINY_MODEL, write_tiny_world
from tests.test_anchored import (
    FULL_POOLING,
    SCENARIO,
    anchor,
    kpi,
    misfit_model,
    run,
    upside_model,
    with_history,
)


def world(tmp_path, model: dict, **scenario) -> dict:
    w = write_tiny_world(tmp_path / "w")
    w["model"].write_text(json.dumps(model))
    # the budget alone (SCENARIO): the tiny world's own rules would move the line's start
    w["scenario"].write_text(json.dumps({**SCENARIO, "model": "../model.json", **scenario}))
    return w


def plan_json(w: dict, *args: str) -> dict:
    r = run("optimize", w["scenario"], "--format", "json", *args)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def spends(plan: dict) -> dict[str, float]:
    return {li["id"]: li["spend"] for li in plan["line_items"]}


def draws_mean_uplift(m: dict) -> tuple[float, float]:
    """The point optimum's uplift over the historical mix on the point curves and its mean over
    the model's draws, computed here draw by draw (``draw_models``), apart from the planner."""
    model = model_from_dict(m)
    point = allocate(scenario_from_dict(SCENARIO), model)
    x1 = {li.id: li.spend for li in point.line_items}
    h = anchor()
    ups = [kpi(d, x1) - kpi(d, h) for d in draw_models(model)]
    return kpi(model, x1) - kpi(model, h), float(np.mean(ups))


def test_the_default_is_auto():
    assert DEFAULT_ROBUST == "auto"


def test_draws_that_expect_the_promise_keep_the_point_optimum(tmp_path):
    """Draws that only see more upside (their mean uplift at the point optimum above the point
    curves'): the default makes the point optimum, the very plan of ``--robust none`` (to the
    cent, same status), and its JSON and table say so and why."""
    m = upside_model()
    promise, expect = draws_mean_uplift(m)
    assert expect > promise  # the premise
    w = world(tmp_path, m)
    auto = plan_json(w)
    none = plan_json(w, "--robust", "none")
    assert spends(auto) == spends(none) and auto["status"] == none["status"] == "optimal"
    assert auto["total_kpi"] == none["total_kpi"]
    assert "robust" not in none
    rob = auto["robust"]
    assert rob["mode"] == "none" and rob["auto"]["chosen"] == "none"
    assert rob["auto"]["full_pooling"] is False and rob["auto"]["weighed"] is True
    assert rob["auto"]["point_uplift"] == pytest.approx(promise, rel=1e-6)
    assert rob["auto"]["draws_mean_uplift"] == pytest.approx(expect, rel=1e-6)
    r = run("optimize", w["scenario"])
    out = " ".join(r.stdout.split())
    assert r.returncode == 0, r.stderr
    assert (
        "--robust auto made the optimum on the point curves: the model's 5 draws expect at least"
        in out
    )


def test_at_full_pooling_the_default_is_the_anchored_plan(tmp_path):
    """The same draws, the fit marked as having pooled every touchpoint (model.json's
    ``diagnostics.pooling`` as ``budgetopt fit`` writes it): the history cannot tell the
    touchpoints apart, so the default is the anchored plan (the plan of ``--robust anchored``,
    to the cent), short of the point optimum, and it says why."""
    m = {**upside_model(), "diagnostics": FULL_POOLING}
    w = world(tmp_path, m)
    auto = plan_json(w)
    anchored = plan_json(w, "--robust", "anchored")
    none = plan_json(w, "--robust", "none")
    assert spends(auto) == spends(anchored) != spends(none)
    rob = auto["robust"]
    assert rob["mode"] == "anchored" and rob["step"] < 0.95 and rob["risk_measure"] == "sd"
    assert rob["auto"]["chosen"] == "anchored" and rob["auto"]["full_pooling"] is True
    assert "pooled every touchpoint" in rob["auto"]["reason"]
    r = run("optimize", w["scenario"])
    out = " ".join(r.stdout.split())
    assert "--robust auto made the anchored plan (below): the fit pooled every touchpoint" in out
    assert "anchored plan: step" in out


@pytest.fixture(scope="module")
def misfit(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The confident misfit's world (``misfit_model``) and its default plan (``optimize S
    --format json``, the stdout as printed) and ``--robust none`` plan, each run once for the
    tests that read them."""
    w = world(tmp_path_factory.mktemp("misfit"), misfit_model()[0])
    r = run("optimize", w["scenario"], "--format", "json")
    assert r.returncode == 0, r.stderr
    return {"w": w, "auto_stdout": r.stdout, "none": plan_json(w, "--robust", "none")}


def test_draws_below_the_promise_make_the_anchored_plan(misfit):
    """A confident misfit (half the draws the truth): the draws' mean uplift at the point
    optimum is below the point curves' promise, so the default hedges it; on the truth the
    point optimum loses against the historical mix and the default's plan does not."""
    m, truth_d = misfit_model()
    promise, expect = draws_mean_uplift(m)
    assert expect < promise  # the premise
    auto = json.loads(misfit["auto_stdout"])
    rob = auto["robust"]
    assert rob["mode"] == "anchored" and 0.0 < rob["step"] < 0.95
    assert rob["auto"]["chosen"] == "anchored" and rob["auto"]["full_pooling"] is False
    assert rob["auto"]["draws_mean_uplift"] == pytest.approx(expect, rel=1e-6)
    truth = model_from_dict(truth_d)
    x1 = spends(misfit["none"])
    h = anchor()
    assert kpi(truth, x1) < kpi(truth, h) <= kpi(truth, spends(auto))


@pytest.mark.parametrize(
    ("model", "scenario", "why"),
    [
        ("draws", {"start": "2027-01-04", "phasing": "month"}, "this one is phased"),
        ("draws", {"round_to": 1000}, "not a whole number of its units"),
        ("draws", {"objective": "max_net", "value_per_kpi": 1.0}, "needs objective max_kpi"),
        ("none", {}, "has no draws of its curves"),
        ("no history", {}, "no mean weekly spend in the history"),
    ],
)
def test_where_the_anchored_plan_cannot_be_made_the_default_is_the_point_optimum(
    tmp_path, model, scenario, why
):
    """A phased scenario, whole-unit rules, another objective, a model without draws or without
    the history's spend: ``--robust anchored`` refuses each (exit 2); the default never does. It
    makes the plan of ``--robust none`` (to the cent) and says in one line why."""
    m = {**misfit_model()[0], "diagnostics": FULL_POOLING}  # the anchored plan where it can be
    if model == "none":
        m = with_history(TINY_MODEL)
    if model == "no history":
        for tp in m["touchpoints"].values():
            del tp["spend_range"]
    w = world(tmp_path, m, **scenario)
    r = run("optimize", w["scenario"], "--robust", "anchored")
    assert r.returncode == 2, r.stdout
    auto = plan_json(w)
    none = plan_json(w, "--robust", "none")
    assert spends(auto) == spends(none) and auto["status"] == none["status"]
    assert auto["robust"]["mode"] == "none" and auto["robust"]["auto"]["chosen"] == "none"
    assert auto["robust"]["auto"]["weighed"] is False and why in auto["robust"]["auto"]["reason"]
    r = run("optimize", w["scenario"])
    assert r.returncode == 0, r.stderr
    lines = [ln for ln in r.stdout.splitlines() if "--robust auto" in ln]
    assert len(lines) == 1 and lines[0].startswith("--robust auto made the optimum on the point")


def test_the_default_is_deterministic(misfit):
    """Same inputs, same output, bit for bit (the anchored plan's draws and steps included): a
    second process's plan is the module's first run's, byte for byte."""
    b = run("optimize", misfit["w"]["scenario"], "--format", "json")
    assert b.returncode == 0 and b.stdout == misfit["auto_stdout"]
    assert json.loads(b.stdout)["robust"]["auto"]["chosen"] == "anchored"


def test_risk_applies_to_auto_and_anchored_only(misfit):
    """``--risk`` sets the anchored plan's risk under the default too; with ``--robust none``
    or ``mean`` it is an error naming the option."""
    w = misfit["w"]
    zero = plan_json(w, "--risk", "0")
    # risk 0: the anchored plan's best step is the optimum itself, so the plan is the point
    # optimum (with its certificate and shadow prices), said in the auto block
    assert zero["robust"]["mode"] == "none" and zero["robust"]["auto"]["anchored_step"] == 1.0
    assert zero["robust"]["auto"]["chosen"] == "none"
    r = run("optimize", w["scenario"], "--robust", "none", "--risk", "0.5")
    assert r.returncode == 2 and "--risk 0.5 applies to --robust anchored" in r.stderr


def test_a_run_recorded_before_auto_reruns_as_it_was():
    """A ledger's optimize run without a ``robust`` option was recorded when the point optimum
    was the default: it re-runs as ``--robust none``; a recorded mode is kept, and a new run's
    spec records ``auto``."""
    from optimizer.app.run import RunSpec

    assert RunSpec.from_options("optimize", {"scenarios": ["a.yaml"]}).robust == "none"
    for mode in ("auto", "anchored", "none", "mean"):
        opts = {"scenarios": ["a.yaml"], "robust": mode}
        assert RunSpec.from_options("optimize", opts).robust == mode
    assert RunSpec("optimize", ("a.yaml",)).options()["robust"] == "auto"
    # and the history reads it as it re-runs (it read "optimize", the default's label: R2)
    from optimizer.workflow.ledger import Run

    def run_with(options: dict) -> Run:
        return Run("x", "2026-01-01T00:00:00.000Z", "optimize", ("a.yaml",), (), None, "0", None,
                   options, ())  # fmt: skip

    assert run_with({"scenarios": ["a.yaml"]}).label == "optimize --robust none"
    assert run_with({"scenarios": ["a.yaml"], "robust": "auto"}).label == "optimize"


def test_history_labels_the_default_as_optimize_and_the_point_plan_as_robust_none(tmp_path):
    """The ledger's command column: a default run reads ``optimize``, a point-optimum run
    ``optimize --robust none`` (as it re-runs), each run with the block of the plan it made."""
    import os
    import subprocess
    import sys

    w = world(tmp_path, misfit_model()[0])
    env = {**os.environ, "BUDGETOPT_LEDGER": str(tmp_path / "ledger.sqlite")}

    def cli(*args: object) -> str:
        r = subprocess.run(
            [sys.executable, "-m", "optimizer", *map(str, args)],
            capture_output=True,
            text=True,
            check=False,
            env=env,
        )
        assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
        return r.stdout

    cli("optimize", w["scenario"])
    cli("optimize", w["scenario"], "--robust", "none")
    runs = json.loads(cli("history", "--format", "json"))
    assert [r["label"] for r in runs] == ["optimize --robust none", "optimize"]
    assert [r["options"]["robust"] for r in runs] == ["none", "auto"]
    shown = json.loads(cli("history", "show", "last~1", "--format", "json"))
    assert shown["plans"][0]["robust"]["auto"]["chosen"] == "anchored"


def test_where_the_anchored_plans_best_step_is_the_optimum_the_default_keeps_its_shadow_prices(
    demo_folder,
):
    """The demo's base scenario, as a planner runs it: the draws expect less than the point
    optimum promises, but weighed on the line the anchored plan's best step is 1, the optimum
    itself. The default then makes the point optimum with its certificate: the same line items,
    KPI and shadow prices as --robust none (it printed every shadow price as null and called it
    an 'anchored plan (step 1.00)', reviewer R1), and says why."""
    base = demo_folder / "scenarios" / "base.yaml"  # `budgetopt demo`'s folder (conftest.py)

    def opt(*args: str) -> dict:
        r = run("optimize", base, "--format", "json", *args)
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)

    auto, none = opt(), opt("--robust", "none")
    block = auto["robust"]["auto"]
    assert block["weighed"] and block["anchored_step"] == 1.0  # the premise
    assert block["draws_mean_uplift"] < block["point_uplift"]  # the gate asked for the hedge
    assert block["chosen"] == "none" and "best step is the optimum itself" in block["reason"]
    assert auto["status"] == "optimal" and auto["total_kpi"] == none["total_kpi"]
    assert spends(auto) == spends(none)
    prices = [c["shadow_price"] for c in auto["constraints"]]
    assert prices == [c["shadow_price"] for c in none["constraints"]]
    assert any(p is not None and p > 0 for p in prices)
    text = run("optimize", base)
    assert "anchored plan (step" not in text.stdout
    assert "hedges it toward the historical mix anyway" not in text.stdout


def test_diff_of_a_robust_mean_run_says_the_kpis_are_measured_differently(tmp_path):
    """``diff`` between a default run (KPI on the point curves) and a ``--robust mean`` run
    (the expected KPI over the draws) printed a Δ KPI that mixes the two without a word
    (reviewer R2): it now says so on stderr and in the JSON's ``kpi_basis``; two runs measured
    alike get no such note."""
    import os
    import subprocess
    import sys

    w = world(tmp_path, misfit_model()[0])
    env = {**os.environ, "BUDGETOPT_LEDGER": str(tmp_path / "ledger.sqlite")}

    def cli(*args: str) -> subprocess.CompletedProcess:
        r = subprocess.run([sys.executable, "-m", "optimizer", *args], capture_output=True,
                           text=True, env=env)  # fmt: skip
        assert r.returncode == 0, r.stderr
        return r

    for mode in ("none", "mean", "auto"):
        cli("optimize", str(w["scenario"]), "--robust", mode, "-q")
    r = cli("diff", "last~2", "last~1", "--format", "json")
    assert "measured differently" in r.stderr
    basis = json.loads(r.stdout)["kpi_basis"]
    assert "point curves" in basis["a"] and "expected KPI over the model's draws" in basis["b"]
    r = cli("diff", "last~2", "last", "--format", "json")
    assert "measured differently" not in r.stderr
    assert "kpi_basis" not in json.loads(r.stdout)


REFUSALS = [  # (model, scenario, auto's reason, anchored's field): every case the line refuses
    ("draws", {"start": "2027-01-04", "phasing": "month"}, "this one is phased", "phasing"),
    ("draws", {"round_to": 1000}, "not a whole number of its units", "round_to"),
    ("draws", {"objective": "max_net", "value_per_kpi": 1.0}, "needs objective", "objective"),
    ("none", {}, "has no draws of its curves", "touchpoints.*.draws"),
    ("no history", {}, "no mean weekly spend", "touchpoints.tv.spend_range.mean"),
]


def refusal_case(model: str, scenario: dict):
    m = {**misfit_model()[0], "diagnostics": FULL_POOLING}
    if model == "none":
        m = with_history(TINY_MODEL)
    if model == "no history":
        for tp in m["touchpoints"].values():
            del tp["spend_range"]
    return scenario_from_dict({**SCENARIO, **scenario}), model_from_dict(m)


@pytest.mark.parametrize(("model", "scenario", "why", "field"), REFUSALS)
def test_auto_and_anchored_refuse_from_one_list(model, scenario, why, field):
    """One list of the cases the anchored plan refuses (``anchorable``): ``--robust anchored``
    raises its located error (the field as before), ``--robust auto`` reports its reason and
    makes the point optimum; a case both can plan gets no refusal. (Before, auto kept its own
    copy of the list, ``auto_unplannable``, which could drift from the errors.)"""
    from optimizer.errors import BudgetOptError
    from optimizer.workflow.anchored import anchorable, anchored_plan, auto_plan

    sc, m = refusal_case(model, scenario)
    refused = anchorable(sc, m).refusal
    assert refused is not None and why in refused.reason and refused.error.field == field
    with pytest.raises(BudgetOptError) as e:
        anchored_plan(sc, m)
    assert e.value is refused.error or str(e.value) == str(refused.error)
    auto = auto_plan(sc, m).extras["auto"]
    assert (
        auto["chosen"] == "none" and auto["weighed"] is False and auto["reason"] == refused.reason
    )
    assert anchorable(*refusal_case("draws", {})).refusal is None


@pytest.mark.parametrize("scenario", [{}, {"round_to": 1000}])
def test_auto_builds_the_scenarios_problem_once(monkeypatch, scenario):
    """``auto_plan`` builds the allocation problem once and solves the point optimum and draws
    the line in it (before: three times where the anchored plan is weighed, the checks, the line
    and the allocator each building their own; twice where a whole-unit rule refuses it)."""
    import optimizer.allocate.engine as engine
    import optimizer.workflow.anchored as anchored_module
    from optimizer.allocate import make_problem

    calls = []

    def counted(*a, **k):
        calls.append(1)
        return make_problem(*a, **k)

    monkeypatch.setattr(anchored_module, "make_problem", counted)
    monkeypatch.setattr(engine, "make_problem", counted)
    sc, m = refusal_case("draws", scenario)
    plan = anchored_module.auto_plan(sc, m)
    assert plan.extras["auto"]["chosen"] == ("none" if scenario else "anchored")
    assert len(calls) == 1


def test_a_negative_risk_is_refused_whichever_plan_the_default_makes(tmp_path):
    """``--risk -1`` is an error naming ``--risk`` under the default even where the anchored
    plan cannot be made and the point optimum is planned (before: a phased scenario or a model
    without draws took it silently, exit 0)."""
    m = with_history(TINY_MODEL)  # no draws: the default makes the point optimum
    w = world(tmp_path, m)
    r = run("optimize", w["scenario"], "--risk", "-1")
    assert r.returncode == 2 and "--risk" in r.stderr and "multiple >= 0" in r.stderr, r.stderr
    assert r.stdout == ""


def test_a_rounding_difference_does_not_decide_the_default(tmp_path):
    """Draws that scale search's and email's betas symmetrically around the point curves, tv
    held at its cap at both ends of the line: the draws' mean uplift at the point optimum is the
    point curves' promise up to floating-point rounding (computed here draw by draw, apart from
    the planner: within 1e-12 of it). The default then makes the point optimum, and its reason
    says the draws expect the promise (before: rounding 2.8e-10 below the promise of 86,550
    made the anchored plan, "86,550 against 86,550 ... it rests on their favourable errors")."""
    from tests.factories import tiny_model_with_draws

    m = with_history(tiny_model_with_draws(5))
    caps = {"touchpoints": {"tv": {"max": 300_000}}, "stages": {"awareness": {"min_share": 0.1}}}
    w = world(tmp_path, m, **caps)
    model = model_from_dict(m)
    none = plan_json(w, "--robust", "none")
    start = plan_json(w, "--robust", "anchored")["robust"]["anchor_start"]  # the line's start
    x1 = spends(none)
    assert x1["tv"] == start["tv"] == 300_000  # the premise: tv capped at both ends
    ups = [kpi(d, x1) - kpi(d, start) for d in draw_models(model)]
    promise = kpi(model, x1) - kpi(model, start)
    assert abs(float(np.mean(ups)) - promise) <= 1e-12 * promise  # the premise
    auto = plan_json(w)
    block = auto["robust"]["auto"]
    assert block["chosen"] == "none" and spends(auto) == x1, block["reason"]
    assert "expect at least the uplift" in block["reason"]


def test_compare_spend_by_line_item_foots_on_the_page(demo_folder):
    """``compare``'s "spend by line item (Δ against …)" table, as ``budgetopt demo`` writes it
    (comparison.txt, the compare renderer's): each Δ is the difference of the two amounts shown
    beside it, in whole units. It printed the rounded difference of the cents instead: tv
    1,894,775 -> 1,547,707 shown as -347,069 (reviewer S12 R2). Every row of the first block
    (the reference and two plans with their Δ columns)."""
    text = (demo_folder / "comparison.txt").read_text()
    block = text[text.index("spend by line item (Δ against") :].split("\n\n\n")[0]
    rows = 0
    for line in block.splitlines():
        cells = line.split()
        if len(cells) != 7 or not cells[2][:1].isdigit():
            continue
        ref, a, da, b, db = (float(c.replace(",", "").replace("+", "")) for c in cells[2:])
        assert (da, db) == (round(a) - round(ref), round(b) - round(ref)), line
        rows += 1
    assert rows >= 10, block  # the sample's line items
