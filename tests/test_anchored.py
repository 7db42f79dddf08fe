"""``optimize --robust anchored``: the plan on the line from the historical mix to the optimum on
the point curves whose uplift over the historical mix, less ``risk`` times the draws' shortfall
below it (their standard deviation where the fit pooled every touchpoint), is highest."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from rich.console import Console

from optimizer.allocate import allocate
from optimizer.errors import ModelError, ScenarioError
from optimizer.response.model import model_from_dict
from optimizer.scenario import scenario_from_dict
from optimizer.workflow.anchored import RISK, anchored_plan
from optimizer.workflow.robust import draw_models
from tests.factories import TINY_MODEL, tiny_model_with_draws, write_tiny_world

MEANS = {"tv": 30_000.0, "search": 15_000.0, "email": 4_000.0}  # the history's mean weekly spend
BUDGET = 1_300_000.0
SCENARIO = {"name": "base", "model": "m", "horizon_weeks": 13, "budget": BUDGET}


def with_history(m: dict) -> dict:
    """The model with each touchpoint's observed weekly spend (``spend_range``), as fit writes."""
    m = json.loads(json.dumps(m))
    for tid, tp in m["touchpoints"].items():
        mu = MEANS[tid]
        tp["spend_range"] = {"min": 0.2 * mu, "max": 3.0 * mu, "mean": mu, "recent": mu}
    return m


def anchor() -> dict[str, float]:
    total = sum(MEANS.values())
    return {t: BUDGET * v / total for t, v in MEANS.items()}


def kpi(model, spend: dict[str, float]) -> float:
    return float(sum(model.touchpoints[t].horizon_kpi(s, 13) for t, s in spend.items()))


def criterion(
    model,
    spend: dict[str, float],
    h: dict[str, float],
    risk: float = RISK,
    measure: str = "shortfall",
) -> float:
    """Point uplift over ``h`` less ``risk`` times the draws' shortfall below it (the root mean
    square of ``min(draw uplift - point uplift, 0)``; ``measure="sd"``: their standard
    deviation), computed draw by draw here (``draw_models``), apart from the planner's own
    curves."""
    point = kpi(model, spend) - kpi(model, h)
    ups = np.array([kpi(m, spend) - kpi(m, h) for m in draw_models(model)])
    if measure == "sd":
        spread = float(np.std(ups))
    else:
        spread = float(np.sqrt(np.mean(np.minimum(ups - point, 0.0) ** 2)))
    return point - risk * spread


def on_line(plan, x1: dict[str, float], h: dict[str, float]) -> float:
    """The step ``t`` with ``plan = h + t (x1 - h)``, checked for every line item (cents)."""
    t = float(plan.extras["step"])
    for li in plan.line_items:
        assert li.spend == pytest.approx(h[li.id] + t * (x1[li.id] - h[li.id]), abs=0.05), li.id
    return t


@pytest.mark.parametrize("risk", [0.5, 1.0, 2.0])
def test_the_best_step_for_the_criterion(risk):
    """The draws of ``tiny_model_with_draws`` disagree about tv against search: the plan sits on
    the line, no step of it (101 checked) scores higher, and more risk never moves it further
    from the historical mix."""
    sc = scenario_from_dict(SCENARIO)
    model = model_from_dict(with_history(tiny_model_with_draws(7)))
    point = allocate(sc, model)
    x1 = {li.id: li.spend for li in point.line_items}
    h = anchor()
    plan = anchored_plan(sc, model, risk=risk)
    # its status is the certified optimum's (the line's end), its bound that optimum's bound on
    # the KPI and its gap its own KPI below that bound (not 0 against its own value)
    assert plan.status == "optimal" and plan.bound == point.bound
    assert plan.gap == pytest.approx((point.bound - plan.objective_value) / point.bound, rel=1e-9)
    assert sum(li.spend for li in plan.line_items) == pytest.approx(BUDGET, abs=0.05)
    t = on_line(plan, x1, h)
    assert 0.0 <= t <= 1.0
    spend = {li.id: li.spend for li in plan.line_items}
    best = criterion(model, spend, h, risk)
    line = [{k: h[k] + s * (x1[k] - h[k]) for k in h} for s in np.linspace(0, 1, 101)]
    assert best >= max(criterion(model, x, h, risk) for x in line) - 1e-6 * kpi(model, h)
    # its parts as reported; line items' KPI on the point curves
    assert plan.extras["uplift"] == pytest.approx(kpi(model, spend) - kpi(model, h), rel=1e-6)
    assert sum(li.kpi for li in plan.line_items) == pytest.approx(kpi(model, spend), rel=1e-9)
    assert plan.extras["robust"] == "anchored" and plan.extras["draws"] == 7
    assert plan.extras["risk"] == risk and plan.extras["risk_measure"] == "shortfall"
    assert plan.extras["uplift"] - risk * plan.extras["uplift_shortfall"] == pytest.approx(
        best, rel=1e-6
    )
    assert t <= anchored_plan(sc, model, risk=risk / 2).extras["step"]


def test_draws_that_agree_keep_the_point_optimum():
    """Every draw equal to the point curve: nothing to hedge, the plan is the point optimum."""
    m = with_history(TINY_MODEL)
    for tp in m["touchpoints"].values():
        tp["draws"] = [
            {"curve": tp["curve"], **({"adstock": tp["adstock"]} if "adstock" in tp else {})}
        ] * 5
    model = model_from_dict(m)
    sc = scenario_from_dict(SCENARIO)
    point = allocate(sc, model)
    plan = anchored_plan(sc, model)
    assert plan.extras["step"] == 1.0
    for a, b in zip(plan.line_items, point.line_items, strict=True):
        assert a.spend == pytest.approx(b.spend, abs=0.05)


def misfit_model() -> tuple[dict, dict]:
    """A confident misfit: the point curves say tv is half as good as the truth says (so their
    optimum takes money from tv); half the draws agree with the point curves, half with the
    truth. Returns (model, truth)."""
    m = with_history(TINY_MODEL)
    truth = json.loads(json.dumps(m))
    truth["touchpoints"]["tv"]["curve"]["beta"] *= 2.0
    for tid, tp in m["touchpoints"].items():
        other = truth["touchpoints"][tid]
        ad = {"adstock": tp["adstock"]} if "adstock" in tp else {}
        tp["draws"] = [{"curve": (tp if k % 2 else other)["curve"], **ad} for k in range(6)]
    return m, truth


def test_draws_that_disagree_fall_back_toward_the_historical_mix():
    """Where the draws cannot tell whether tv is worth money taken from it, the plan stops part
    of the way: on the truth the point optimum is below the historical mix, the plan is not."""
    m, truth_d = misfit_model()
    model, truth = model_from_dict(m), model_from_dict(truth_d)
    sc = scenario_from_dict(SCENARIO)
    point = allocate(sc, model)
    x1 = {li.id: li.spend for li in point.line_items}
    h = anchor()
    plan = anchored_plan(sc, model)
    t = on_line(plan, x1, h)
    assert 0.0 < t < 0.95
    spend = {li.id: li.spend for li in plan.line_items}
    assert criterion(model, spend, h) > max(criterion(model, x1, h), 0.0)
    assert kpi(truth, x1) < kpi(truth, h) <= kpi(truth, spend)


#: model.json's diagnostics of a fit whose pooling evidence peaked at full pooling (the MAP
#: fitter's ``diagnostics.pooling``; the condition of its full-pooling warning)
FULL_POOLING = {"pooling": {"at_edge": 1.0, "pool_marginal_equivalent": 1e5, "omega": 3.9e3}}


def upside_model() -> dict:
    """Draws that disagree only about how much MORE the point optimum's move earns: the line
    item the optimum gives the most money gets draws with its beta 1.0-2.0 times the point
    curve's, every other line item's draws are its point curve. Each draw's uplift over the
    historical mix is then at least the point curves' at every step of the line."""
    m = with_history(TINY_MODEL)
    point = allocate(scenario_from_dict(SCENARIO), model_from_dict(m))
    h = anchor()
    gainer = max(point.line_items, key=lambda li: li.spend - h[li.id]).id
    assert point.line_items and gainer  # the optimum moves money to it
    for tid, tp in m["touchpoints"].items():
        ad = {"adstock": tp["adstock"]} if "adstock" in tp else {}
        factors = [1.0, 1.25, 1.5, 2.0, 1.1] if tid == gainer else [1.0] * 5
        tp["draws"] = [
            {"curve": {**tp["curve"], "beta": tp["curve"]["beta"] * f}, **ad} for f in factors
        ]
    return m


def test_draws_above_the_point_promise_do_not_hold_the_plan_back():
    """The shortfall counts only the draws that earn less than the point curves promise: with
    every draw at or above the promise the plan is the point optimum (step 1), where the draws'
    standard deviation (the rule before the shortfall) would stop short of it."""
    model = model_from_dict(upside_model())
    sc = scenario_from_dict(SCENARIO)
    plan = anchored_plan(sc, model)
    assert plan.extras["risk_measure"] == "shortfall" and plan.extras["full_pooling"] is False
    assert plan.extras["step"] == 1.0
    assert plan.extras["uplift_shortfall"] == pytest.approx(0.0, abs=1e-9 * plan.objective_value)
    assert plan.extras["uplift_sd"] > 0.0  # they do disagree, upward
    # the standard deviation's best step is short of the optimum (what the shortfall changes)
    point = allocate(sc, model)
    x1 = {li.id: li.spend for li in point.line_items}
    h = anchor()
    line = [{k: h[k] + s * (x1[k] - h[k]) for k in h} for s in np.linspace(0, 1, 101)]
    by_sd = [criterion(model, x, h, RISK, "sd") for x in line]
    assert int(np.argmax(by_sd)) < 95


@pytest.mark.parametrize("equivalent, measure", [(1e5, "sd"), (1e-3, "shortfall")])
def test_at_full_pooling_the_whole_spread_counts(equivalent, measure):
    """A fit that pooled every touchpoint's marginal ROI onto one value (the evidence at the top
    of its grid) has draws whose centre says nothing of the touchpoints' differences: the risk
    is their standard deviation, and the plan the best step for it (101 steps checked). At the
    other edge (no pooling) the shortfall stays."""
    m = upside_model()
    m["diagnostics"] = {
        "pooling": {**FULL_POOLING["pooling"], "pool_marginal_equivalent": equivalent}
    }
    model = model_from_dict(m)
    sc = scenario_from_dict(SCENARIO)
    plan = anchored_plan(sc, model)
    assert plan.extras["risk_measure"] == measure
    assert plan.extras["full_pooling"] is (measure == "sd")
    if measure == "shortfall":
        assert plan.extras["step"] == 1.0
        return
    point = allocate(sc, model)
    x1 = {li.id: li.spend for li in point.line_items}
    h = anchor()
    t = on_line(plan, x1, h)
    assert t < 0.95
    spend = {li.id: li.spend for li in plan.line_items}
    line = [{k: h[k] + s * (x1[k] - h[k]) for k in h} for s in np.linspace(0, 1, 101)]
    best = criterion(model, spend, h, RISK, "sd")
    assert best >= max(criterion(model, x, h, RISK, "sd") for x in line) - 1e-6 * kpi(model, h)
    assert plan.extras["uplift"] - RISK * plan.extras["uplift_sd"] == pytest.approx(best, rel=1e-6)


def test_cli_shortfall_and_full_pooling(tmp_path):
    """The planner's path, in a process: on draws that only see more upside the anchored plan is
    the point optimum and says it priced the shortfall; the same model marked as fully pooled
    (as ``budgetopt fit`` writes it) stops short and says why."""
    w = write_tiny_world(tmp_path / "w")
    m = upside_model()
    w["model"].write_text(json.dumps(m))
    # the budget alone (SCENARIO): the tiny world's own rules would move the line's start
    w["scenario"].write_text(json.dumps({**SCENARIO, "model": "../model.json"}))
    r = run("optimize", w["scenario"], "--robust", "anchored", "--format", "json")
    assert r.returncode == 0, r.stderr
    rob = json.loads(r.stdout)["robust"]
    assert rob["step"] == 1.0 and rob["risk_measure"] == "shortfall"
    assert rob["full_pooling"] is False and rob["point_optimum"]["uplift_shortfall"] < 1e-6
    r = run("optimize", w["scenario"], "--robust", "anchored")
    assert r.returncode == 0, r.stderr
    out = " ".join(r.stdout.split())
    assert "shortfall of the model's 5 draws below it" in out
    m["diagnostics"] = FULL_POOLING
    w["model"].write_text(json.dumps(m))
    r = run("optimize", w["scenario"], "--robust", "anchored", "--format", "json")
    assert r.returncode == 0, r.stderr
    rob = json.loads(r.stdout)["robust"]
    assert rob["risk_measure"] == "sd" and rob["full_pooling"] is True and rob["step"] < 0.95
    r = run("optimize", w["scenario"], "--robust", "anchored")
    out = " ".join(r.stdout.split())
    assert "standard deviation(s) of it across the model's 5 draws" in out
    assert "pooled every touchpoint's marginal ROI onto one value" in out


def nearest_by_linprog(h: dict[str, float], caps: dict[str, float]) -> dict[str, float]:
    """The plan nearest ``h`` in sum |x_i - h_i| / h_i with sum x = BUDGET and x_i <= caps,
    solved here by scipy's linprog on x, up, down (x - h = up - down), apart from the planner."""
    from scipy.optimize import linprog

    ids = list(h)
    n = len(ids)
    w = np.array([1.0 / max(h[k], 1.0) for k in ids])
    c = np.concatenate([np.zeros(n), w, w])
    a_eq = np.zeros((n + 1, 3 * n))
    for i in range(n):
        a_eq[i, i], a_eq[i, n + i], a_eq[i, 2 * n + i] = 1.0, -1.0, 1.0
    a_eq[n, :n] = 1.0
    b_eq = np.array([*(h[k] for k in ids), BUDGET])
    bounds = [(0.0, caps.get(k)) for k in ids] + [(0.0, None)] * (2 * n)
    r = linprog(c, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs")
    assert r.status == 0
    return dict(zip(ids, r.x[:n].tolist(), strict=True))


def test_a_historical_mix_that_breaks_a_cap_starts_the_line_at_the_nearest_plan_that_holds_it():
    """tv's historical share (796k of 1.3M) is above a 500k cap that the optimum spends in full
    (as app_push's cap on scenarios/base.yaml): the line starts at p, the plan nearest the historical mix that holds every rule (checked against
    scipy's linprog to a cent), and for the misfit model's disagreeing draws the plan is strictly
    between p and the optimum (before: only the optimum, the one step of the historical line
    that holds the cap, so the plan was not hedged). The cap holds on the plan, in cents, and the money sums to the budget."""
    model = model_from_dict(with_history(tiny_model_with_draws(7)))  # draws: tv against search
    caps = {"tv": 500_000.0}
    sc = scenario_from_dict({**SCENARIO, "touchpoints": {"tv": {"max": caps["tv"]}}})
    point = allocate(sc, model)
    x1 = {li.id: li.spend for li in point.line_items}
    # the cap binds at the optimum too: the historical line held it at x* only (not hedged)
    assert x1["tv"] == pytest.approx(caps["tv"], abs=0.01)
    plan = anchored_plan(sc, model, risk=2.0)
    ex = plan.extras
    assert ex["anchor_breaks"] == ["the tv maximum (500,000)"]
    p = ex["anchor_start"]
    want = nearest_by_linprog(anchor(), caps)
    assert p == pytest.approx(want, abs=0.01)
    assert p["tv"] == pytest.approx(caps["tv"], abs=0.01)
    assert ex["anchor_moved"] == pytest.approx(
        sum(abs(want[k] - v) for k, v in anchor().items()), abs=0.05
    )
    assert ex["first_feasible_step"] == 0.0
    t = on_line(plan, x1, p)  # on the line from p
    assert 0.0 < t < 1.0
    far = max(abs(x1[k] - p[k]) for k in p)
    spend = {li.id: li.spend for li in plan.line_items}
    assert 1_000 < max(abs(spend[k] - x1[k]) for k in p) < far - 1_000  # neither end
    assert all(round(v, 2) == v for v in spend.values())
    assert spend["tv"] <= caps["tv"]
    assert round(sum(spend.values()), 2) == BUDGET
    # more risk stays nearer p, risk 0 is the optimum
    assert anchored_plan(sc, model, risk=5.0).extras["step"] <= t
    assert anchored_plan(sc, model, risk=0.0).extras["step"] == 1.0


def test_what_it_cannot_do_is_said_clearly():
    sc = scenario_from_dict(SCENARIO)
    with pytest.raises(ModelError, match="no mean weekly spend") as e:  # no spend_range
        anchored_plan(sc, model_from_dict(tiny_model_with_draws(5)))
    assert e.value.field == "touchpoints.tv.spend_range.mean"
    model = model_from_dict(with_history(tiny_model_with_draws(5)))
    with pytest.raises(ScenarioError, match="multiple >= 0 of the draws' shortfall"):
        anchored_plan(sc, model, risk=-1.0)
    with pytest.raises(ScenarioError, match="min_if_funded"):
        anchored_plan(
            scenario_from_dict({**SCENARIO, "touchpoints": {"email": {"min_if_funded": 50_000}}}),
            model,
        )
    with pytest.raises(ScenarioError, match="objective max_kpi"):
        anchored_plan(
            scenario_from_dict(
                {**SCENARIO, "objective": "min_spend", "kpi_target": 1e6, "budget": {"max": BUDGET}}
            ),
            model,
        )
    with pytest.raises(ModelError, match="has no draws of its curves"):
        anchored_plan(sc, model_from_dict(with_history(TINY_MODEL)))


def run(*args) -> subprocess.CompletedProcess:
    r = subprocess.run(
        [sys.executable, "-m", "optimizer", *map(str, args), "--no-ledger"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert "Traceback" not in r.stderr
    return r


def test_cli(tmp_path):
    """The path a planner takes: ``budgetopt optimize S --robust anchored`` in a process."""
    w = write_tiny_world(tmp_path / "w")
    w["model"].write_text(json.dumps(with_history(tiny_model_with_draws(5))))
    r = run("optimize", w["scenario"], "--robust", "anchored", "--format", "json")
    assert r.returncode == 0, r.stderr
    plan = json.loads(r.stdout)
    assert plan["status"] == "optimal"
    rob = plan["robust"]
    assert rob["mode"] == "anchored" and rob["draws"] == 5 and 0.0 <= rob["step"] <= 1.0
    assert rob["anchor"] == "historical mix" and "historical mix" in rob["objective"]
    assert rob["risk"] == RISK and rob["uplift_sd"] >= 0.0
    assert rob["risk_measure"] == "shortfall" and rob["full_pooling"] is False
    # the criterion it maximises is at least the point optimum's
    po = rob["point_optimum"]
    crit = rob["uplift"] - RISK * rob["uplift_shortfall"]
    assert crit >= po["uplift"] - RISK * po["uplift_shortfall"] - 1e-6
    assert sum(li["spend"] for li in plan["line_items"]) == pytest.approx(1_300_000, abs=0.05)
    r = run("optimize", w["scenario"], "--robust", "anchored")
    assert r.returncode == 0 and "anchored plan:" in r.stdout
    # the certificate it states is the point optimum's; this plan is the best step on the line
    out = " ".join(r.stdout.split())
    assert "the optimum on the model's curves (step 1) earns" in out
    assert "best of 1001 steps on the line" in out
    assert "of the exact optimum on the model's curves" not in out
    # --risk: recorded with the run's spec, in the JSON; only with --robust anchored; >= 0
    r = run("optimize", w["scenario"], "--robust", "anchored", "--risk", "0", "--format", "json")
    assert r.returncode == 0, r.stderr
    rob = json.loads(r.stdout)["robust"]
    assert rob["risk"] == 0.0 and rob["step"] == 1.0  # no risk: the point optimum
    r = run("optimize", w["scenario"], "--robust", "none", "--risk", "0.5")
    assert r.returncode == 2 and "--risk 0.5 applies to --robust anchored" in r.stderr
    r = run("optimize", w["scenario"], "--robust", "anchored", "--risk", "-1")
    assert r.returncode == 2 and "a multiple >= 0 of the draws' shortfall" in r.stderr
    # no draws: a clear message, exit 2
    w["model"].write_text(json.dumps(with_history(TINY_MODEL)))
    r = run("optimize", w["scenario"], "--robust", "anchored")
    assert r.returncode == 2 and "has no draws of its curves" in r.stderr


def test_risk_is_recorded_only_when_given():
    """The ledger's optimize options keep their keys unless --risk is given; a recorded run
    re-runs with its risk."""
    from optimizer.app.run import RunSpec

    assert "risk" not in RunSpec("optimize", ("a.yaml",)).options()
    spec = RunSpec("optimize", ("a.yaml",), robust="anchored", risk=0.5)
    opts = json.loads(json.dumps(spec.options()))
    assert opts["risk"] == 0.5 and RunSpec.from_options("optimize", opts) == spec


@pytest.mark.parametrize(
    ("rules", "field"),
    [
        ({"round_to": 1000}, "round_to"),
        ({"min_line_item": 200_000}, "min_line_item"),
        ({"touchpoints": {"tv": {"block": 300_000}}}, "touchpoints.tv.block"),
        ({"touchpoints": {"email": {"min_if_funded": 50_000}}}, "touchpoints.email.min_if_funded"),
    ],
)
def test_whole_unit_rules_are_refused_naming_their_field(tmp_path, rules, field):
    """A step of the line is not a whole number of blocks (round_to, block) and may fall in a
    zero-or-at-least gap (min_line_item, min_if_funded): before this was refused, round_to 1000
    and block 300,000 gave an "optimal" plan of 817,478.35 and 1,875,129.73 (the rule broken),
    and min_line_item was refused naming 'min_if_funded', a field the scenario does not have.
    Through the CLI: exit 2, one line naming the scenario file and the field, no -o file."""
    w = write_tiny_world(tmp_path / "w")
    w["model"].write_text(json.dumps(with_history(tiny_model_with_draws(5))))
    sc = w["root"] / "scenarios" / "units.yaml"
    sc.write_text(json.dumps({**SCENARIO, "model": "../model.json", **rules}))
    out = tmp_path / "plan.json"
    r = run("optimize", sc, "--robust", "anchored", "-o", out)
    assert r.returncode == 2, r.stdout
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "units.yaml" in lines[0], r.stderr
    assert f"field '{field}'" in lines[0], r.stderr
    assert not out.exists()


def test_an_anchored_plan_is_never_called_the_optimum(tmp_path):
    """The table's headline, the ledger's recorded plan and ``diff`` of it against the point
    optimum say it is the anchored plan at its step, not "status optimal" (before: the headline
    read "status optimal", the ledger dropped the ``robust`` block and ``diff`` showed both plans
    as "optimal", 8% apart in KPI on the sample). Ledger through the CLI process."""
    w = write_tiny_world(tmp_path / "w")
    w["model"].write_text(json.dumps(with_history(tiny_model_with_draws(7))))
    sc = w["root"] / "scenarios" / "free.yaml"
    sc.write_text(json.dumps({**SCENARIO, "model": "../model.json"}))
    ledger = tmp_path / "ledger.sqlite"

    def cli(*args):
        r = subprocess.run(
            [sys.executable, "-m", "optimizer", *map(str, args)],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "BUDGETOPT_LEDGER": str(ledger), "COLUMNS": "200"},
        )
        assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
        return r.stdout

    out = cli("optimize", sc, "--robust", "anchored", "--risk", "2")
    head = out.splitlines()[0]
    plan = json.loads(
        cli("optimize", sc, "--robust", "anchored", "--risk", "2", "--format", "json")
    )
    step = plan["robust"]["step"]
    assert 0.0 < step < 1.0  # the tiny model's draws disagree: the plan stops short of x*
    assert "anchored plan" in head and f"step {step:.2f}" in head and "optimal" not in head
    cli("optimize", sc, "--robust", "none")  # the point optimum
    shown = json.loads(cli("history", "show", "last~1", "--format", "json"))
    rec = shown["plans"][0]
    assert rec["robust"]["mode"] == "anchored" and rec["robust"]["step"] == step
    assert rec["robust"] == plan["robust"]  # the same block as optimize --format json
    d = cli("diff", "last~1", "last")
    rows = [ln for ln in d.splitlines() if ":base" in ln][:2]
    assert f"anchored, step {step:.2f}" in rows[0] and "optimal" not in rows[0], d
    assert "optimal" in rows[1], d
    listed = [ln for ln in cli("history").splitlines() if "--robust anchored" in ln]
    assert len(listed) == 2 and all(f"anchored, step {step:.2f}" in ln for ln in listed)
    shown = " ".join(cli("history", "show", "last~1").split())
    assert f"anchored plan (step {step:.2f} of the line" in shown and "status optimal" not in shown


@pytest.mark.parametrize(
    "rules",
    [
        # tv's historical 796k above a 700k cap, email's 106k below a 150k floor; the optimum
        # (tv 566k, email 199k) holds both: the line starts between the two
        {"tv": {"max": 700_000}, "email": {"min": 150_000}},
        # a 300k cap on tv binds at the optimum too: no step of the historical line but the
        # optimum holds it
        {"tv": {"max": 300_000}, "email": {"min": 200_000}},
    ],
)
def test_a_historical_mix_that_breaks_a_min_and_a_cap(tmp_path, rules):
    """Through the CLI: the rules hold after rounding to the cent, the money sums to the
    budget, and the note and the JSON name the rules the historical mix breaks (before: "breaks
    a rule: the line starts at 100%", no rule named, and nothing said when the plan is the
    point optimum, unhedged)."""
    w = write_tiny_world(tmp_path / "w")
    w["model"].write_text(json.dumps(with_history(tiny_model_with_draws(7))))
    sc = w["root"] / "scenarios" / "rules.yaml"
    sc.write_text(json.dumps({**SCENARIO, "model": "../model.json", "touchpoints": rules}))
    r = run("optimize", sc, "--robust", "anchored", "--risk", "2", "--format", "json")
    assert r.returncode == 0, r.stderr
    plan = json.loads(r.stdout)
    spend = {li["id"]: li["spend"] for li in plan["line_items"]}
    assert all(round(v, 2) == v for v in spend.values())  # cents
    assert round(sum(spend.values()), 2) == BUDGET
    assert spend["tv"] <= rules["tv"]["max"] and spend["email"] >= rules["email"]["min"]
    rob = plan["robust"]
    assert rob["anchor_breaks"] == [
        f"the tv maximum ({rules['tv']['max']:,})",
        f"the email minimum ({rules['email']['min']:,})",
    ]
    # the line starts at the plan nearest the historical mix that holds both rules (before: at
    # the historical line's first step that holds them, which for the 300k cap was the optimum
    # itself, so the plan was not hedged)
    start = rob["anchor_start"]
    assert (
        start["tv"] <= rules["tv"]["max"] + 0.01 and start["email"] >= rules["email"]["min"] - 0.01
    )
    assert sum(start.values()) == pytest.approx(BUDGET, abs=0.05)
    assert rob["first_feasible_step"] == 0.0 and rob["anchor_moved"] > 0.0
    assert 0.0 < rob["step"] < 1.0, rob["step"]
    r = run("optimize", sc, "--robust", "anchored", "--risk", "2")
    note = " ".join(r.stdout.split())
    assert f"breaks the tv maximum ({rules['tv']['max']:,}), the email minimum" in note
    assert "the line starts at the plan nearest the historical mix that holds every rule" in note
    assert f"tv {start['tv']:,.0f}" in note or f"tv {start['tv']:,.2f}" in note, note
    assert "not hedged" not in note
    # the headline and the note name the line's real start and the same step (before: "of the
    # line from the historical mix, 0, ..." and "96% of the way" beside "step 0.95")
    assert (
        f"step {rob['step']:.2f} of the line from the plan nearest the historical mix that "
        "holds every rule, 0," in note
    ), note
    assert f"anchored plan: step {rob['step']:.2f} on the line from the line's start (0)" in note


def test_a_rule_missed_by_less_than_a_cent_does_not_move_the_line():
    """A floor at tv's historical spend rounded to the cent (795,918.37; the historical mix has
    795,918.367...) is held by the historical mix once rounded: the line starts at 0 and nothing
    is said to be broken (before: the 0.3-cent miss put the line's start at 70% of the way to the
    optimum, and the note said the historical mix breaks the floor). The plan holds the floor."""
    model = model_from_dict(with_history(tiny_model_with_draws(7)))
    h = anchor()
    floor = round(h["tv"], 2)
    assert floor > h["tv"]
    sc = scenario_from_dict({**SCENARIO, "touchpoints": {"tv": {"min": floor}}})
    plan = anchored_plan(sc, model, risk=2.0)
    assert plan.extras["first_feasible_step"] == 0.0 and plan.extras["anchor_breaks"] == []
    assert 0.0 < plan.extras["step"] < 1.0
    assert next(li.spend for li in plan.line_items if li.id == "tv") >= floor


def test_an_optimum_that_is_the_historical_mix_is_called_the_optimum():
    """Every line item locked at its historical spend (to the cent): the optimum is the
    historical mix, and the plan is step 1 with no rule broken (before: step 0.896 "of the way",
    the historical mix said to break all three locks, by fractions of a cent)."""
    model = model_from_dict(with_history(tiny_model_with_draws(7)))
    h = {k: round(v, 2) for k, v in anchor().items()}
    locks = {k: {"lock": v} for k, v in h.items()}
    sc = scenario_from_dict({**SCENARIO, "budget": sum(h.values()), "touchpoints": locks})
    plan = anchored_plan(sc, model, risk=2.0)
    assert plan.extras["step"] == 1.0 and plan.extras["first_feasible_step"] == 0.0
    assert plan.extras["anchor_breaks"] == []
    assert {li.id: li.spend for li in plan.line_items} == h


def test_an_uncertified_optimum_leaves_the_anchored_plan_uncertified(monkeypatch):
    """The line ends at the allocator's optimum: when that one is not certified (its gap above
    the tolerance, or out of time) neither is the anchored plan, whose status and gap are its
    (before: "optimal", gap 0, and the table said the optimum was "certified within" its gap).
    The allocator is made to report 1% here; the table then says NOT certified."""
    import optimizer.workflow.anchored as anchored_module
    from optimizer.allocate.plan import Status
    from optimizer.render.tables import plan_renderable

    real = anchored_module.allocate  # the point optimum (in the problem anchorable built)

    def uncertified(*a, **k):
        return dataclasses.replace(real(*a, **k), status=Status.NOT_CERTIFIED, gap=0.01)

    monkeypatch.setattr(anchored_module, "allocate", uncertified)
    sc = scenario_from_dict(SCENARIO)
    model = model_from_dict(with_history(tiny_model_with_draws(7)))
    plan = anchored_plan(sc, model, risk=2.0)
    point = allocate(sc, model)
    assert plan.status == "not_certified" and plan.ok and plan.bound == point.bound
    assert plan.gap == pytest.approx((point.bound - plan.objective_value) / point.bound, rel=1e-6)
    assert plan.gap > 0.0
    assert plan.extras["robust"] == "anchored" and 0.0 < plan.extras["step"] < 1.0
    console = Console(width=200, record=True)
    console.print(plan_renderable(plan))
    text = " ".join(console.export_text().split())
    assert "NOT certified" in text and "certified within" not in text
    assert "anchored plan (step" in text and "1) · status not_certified" in text


def test_a_kpi_floor_the_historical_mix_misses_holds_on_the_plan():
    """A KPI floor between the historical mix's KPI and the optimum's: the line starts where the
    floor holds, and the plan's KPI (on the point curves, rounded to the cent) is at least the
    floor (before: the start was found to 1e-9 of the floor, and the plan came out 0.033 under
    a 17,000,000 floor on the sample)."""
    model = model_from_dict(with_history(tiny_model_with_draws(7)))
    sc = scenario_from_dict(SCENARIO)
    lo, hi = kpi(model, anchor()), allocate(sc, model).total_kpi
    for floor in np.round(np.linspace(lo, hi, 7)[1:-1]):
        floored = scenario_from_dict({**SCENARIO, "kpi_floors": {"revenue": float(floor)}})
        plan = anchored_plan(floored, model, risk=50.0)  # as near the historical mix as it may
        assert plan.extras["anchor_breaks"] == [f"the revenue floor ({floor:,.0f})"]
        assert kpi(model, {li.id: li.spend for li in plan.line_items}) >= floor, floor


def test_an_s_curve_scenario_keeps_the_historical_line():
    """With an S-curve (a MILP) the segment from the nearest plan to the optimum need not hold
    the rules: the line stays the one from the historical mix, from its first step that holds
    every rule, and no ``anchor_start`` is reported."""
    m = with_history(tiny_model_with_draws(7))
    m["touchpoints"]["tv"]["curve"]["shape"] = 2.0  # a hill of shape > 1: an S-curve
    model = model_from_dict(m)
    sc = scenario_from_dict({**SCENARIO, "touchpoints": {"tv": {"max": 700_000}}})
    plan = anchored_plan(sc, model, risk=2.0)
    ex = plan.extras
    assert ex["anchor_breaks"] == ["the tv maximum (700,000)"]
    assert ex["anchor_start"] is None and ex["anchor_moved"] == 0.0
    assert 0.0 < ex["first_feasible_step"] <= ex["step"] <= 1.0
    assert next(li.spend for li in plan.line_items if li.id == "tv") <= 700_000


def test_a_plan_recorded_before_the_shortfall_reads_as_what_it_was():
    """Contract 6 extended, not broken: an anchored plan's JSON written before the shortfall (no
    risk_measure, full_pooling, uplift_shortfall) reads back, says it priced the standard
    deviation, and is written again with those keys null; a plan of today says shortfall."""
    from optimizer.allocate.plan_json import plan_from_dict, plan_to_dict
    from optimizer.render.planning import robust_note

    model = model_from_dict(with_history(tiny_model_with_draws(5)))
    plan = anchored_plan(scenario_from_dict(SCENARIO), model)
    d = json.loads(json.dumps(plan_to_dict(plan)))
    now = robust_note(plan_from_dict(d))
    assert now is not None and "shortfall of the model's 5 draws" in now.plain
    for key in ("risk_measure", "full_pooling", "uplift_shortfall"):
        d["robust"].pop(key)
    d["robust"]["point_optimum"].pop("uplift_shortfall")
    old = plan_from_dict(d)
    note = robust_note(old)
    assert (
        note is not None and "0.75 standard deviation(s) of it across the model's 5" in note.plain
    )
    assert "shortfall" not in note.plain and "pooled every touchpoint" not in note.plain
    again = plan_to_dict(old)["robust"]
    assert again["risk_measure"] is None and again["uplift_shortfall"] is None
    assert again["step"] == d["robust"]["step"] and again["uplift_sd"] == d["robust"]["uplift_sd"]
