"""Issue 13's deliverables on the paths users take: the estimator's scikit-learn contract, the CLI
fit as a subprocess (every family a candidate, bit-identical reruns, the API's model), plans on
its draws (``optimize --robust mean``), the fit's steps as modules, and model.json's
compatibility (contract 3) with a file written before the MAP fitter.

The world: ``tests.test_fit.make_world`` with tv (hill), search (logistic, lam 1/8000), social
(hill) and display (exponential) over 104 weeks, 1% noise, seed 3: the default fit picks the
true family for all four (hill, logistic, hill, exponential), so a fit without logistic among its
candidates fails here.
"""

from __future__ import annotations

import ast
import copy
import dataclasses
import inspect
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from sklearn.base import clone
from sklearn.utils import estimator_checks as ec

from optimizer.data import read_history, read_journey
from optimizer.response.estimator import FitDiagnostics, ResponseFitter
from optimizer.response.fit import fit_model
from optimizer.response.model import model_from_dict, model_to_json, read_model
from tests.test_fit import TRUTH, make_world

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = Path(__file__).parent / "fixtures" / "model_fit_at_007706b.json"
SEED, DRAWS = 7, 8
TRUE_FAMILIES = {"tv": "hill", "search": "logistic", "social": "hill", "display": "exponential"}


def _world():
    truth = {
        "tv": TRUTH["tv"],
        "search": ("consideration", 20000.0, 0.1, "logistic", {"beta": 70000.0, "lam": 1 / 8000}),
        "social": TRUTH["social"],
        "display": TRUTH["display"],
    }
    return make_world(n_weeks=104, truth=truth, seed=3, noise=0.01)


def run(*args: object) -> subprocess.CompletedProcess:
    r = subprocess.run(
        [sys.executable, "-m", "optimizer", *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert "Traceback" not in r.stderr, r.stderr
    return r


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """journey.yaml and history.csv of the world, and two CLI fits of it with the same seed."""
    root = tmp_path_factory.mktemp("audit13")
    history, _ = _world()
    journey = root / "journey.yaml"
    stages = {t.id: t.stage for t in history.journey.touchpoints}
    journey.write_text(
        yaml.safe_dump(
            {"kpi": "revenue", "touchpoints": [{"id": t, "stage": s} for t, s in stages.items()]},
            sort_keys=False,
        )
    )
    hist = root / "history.csv"
    frame = history.frame.reset_index()
    frame["date"] = frame["date"].dt.strftime("%Y-%m-%d")
    frame.to_csv(hist, index=False)
    out = {}
    for name in ("a", "b"):
        path = root / f"{name}.json"
        r = run("fit", "--journey", journey, "--history", hist, "-o", path, "--seed", SEED,
                "--bootstrap", DRAWS, "-q")  # fmt: skip
        assert r.returncode == 0, r.stderr
        out[name] = path
    return {"root": root, "journey": journey, "history": hist, **out}


# ------------------------------------------------------------------------------------------------
# 1. the fitter as a scikit-learn estimator
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "check",
    [
        ec.check_parameters_default_constructible,
        ec.check_no_attributes_set_in_init,
        ec.check_get_params_invariance,
        ec.check_set_params,
        ec.check_estimator_cloneable,
        ec.check_estimator_repr,
    ],
    ids=lambda c: c.__name__,
)
def test_scikit_learn_estimator_checks(check):
    """scikit-learn's own checks that need no array data: __init__ stores its arguments and does
    nothing else, get_params/set_params/clone round-trip them."""
    check("ResponseFitter", ResponseFitter())


def _other_value(default):
    if isinstance(default, bool):
        return not default
    if isinstance(default, int):
        return default + 3
    if isinstance(default, float):
        return default + 0.25
    if isinstance(default, str):
        return default + "-x"
    return ("hill", "logistic")  # None: any value


def test_every_constructor_parameter_round_trips():
    """Each of the constructor's parameters, set to a value other than its default, comes back
    from get_params, survives clone, and set_params changes exactly it."""
    names = [p for p in inspect.signature(ResponseFitter.__init__).parameters if p != "self"]
    defaults = ResponseFitter().get_params()
    assert sorted(names) == sorted(defaults)
    for name in names:
        value = _other_value(defaults[name])
        assert value != defaults[name]
        est = ResponseFitter(**{name: value})
        assert est.get_params()[name] == value, name
        assert clone(est).get_params() == est.get_params(), name
        again = ResponseFitter().set_params(**{name: value})
        assert again.get_params() == est.get_params(), name


def test_fit_changes_no_parameter_and_sets_typed_diagnostics():
    """fit leaves every parameter as given (compared to a deep copy taken before), returns the
    estimator, and its FitDiagnostics hold model.json's own values."""
    history, _ = _world()
    est = ResponseFitter(random_state=SEED, n_bootstrap=2, families=("hill", "exponential"))
    before = copy.deepcopy(est.get_params())
    assert est.fit(history) is est
    assert est.get_params() == before
    d = est.diagnostics_
    assert isinstance(d, FitDiagnostics)
    diag = est.model_.diagnostics
    for f in dataclasses.fields(FitDiagnostics):
        value = getattr(d, f.name)
        if f.name == "pooled_marginal_roi":
            assert value == est.model_.fit["pooled_marginal_roi"]
        elif f.name == "warnings":
            assert value == tuple(diag["warnings"])
        else:
            assert value == diag[f.name], f.name
    assert d.pooling["omega"] >= 0 and d.noise_sd > 0


def test_pipelines_reproduce_the_models_own_curves():
    """Each touchpoint's pipeline (GeometricAdstock then its family's saturation, unit beta),
    fed a steady weekly spend for 400 weeks, times the beta, equals the model's steady-state
    weekly KPI at that spend (relative 1e-9), for hill, logistic and exponential alike."""
    history, _ = _world()
    est = ResponseFitter(random_state=SEED, n_bootstrap=0).fit(history)
    assert {t: tp.curve.family for t, tp in est.model_.touchpoints.items()} == TRUE_FAMILIES
    for tid, pipe in est.pipelines().items():
        tp = est.model_.touchpoints[tid]
        for x in (0.5, 1.0, 2.0):
            spend = x * tp.spend_range["mean"]
            steady = pipe.fit_transform(np.full((400, 1), spend))[-1, 0] * tp.curve.beta
            assert steady == pytest.approx(float(tp.weekly_kpi(spend)), rel=1e-9), (tid, x)


# ------------------------------------------------------------------------------------------------
# 2. the fit's steps are modules of their own
# ------------------------------------------------------------------------------------------------
MAX_FUNCTION_LINES = 300  # the fit_model the issue replaced was 740 lines long


def test_no_function_of_the_fitter_is_a_monolith():
    """Issue 13: the 740-line fit_model becomes named steps in modules of their own (design
    matrix, inner solve, transform search, lift tests, bootstrap, report). Every function in
    optimizer/response/ has at most 300 lines of code below its docstring (measured at 4abdd5d:
    the longest, prepare.prepare, 242; fit_model's parameters are documented in its docstring,
    which is not counted)."""
    pkg = ROOT / "optimizer" / "response"
    for module in ("prepare", "design", "solve", "search", "calibration", "bootstrap", "report"):
        assert (pkg / f"{module}.py").is_file(), module
    longest = []
    for path in sorted(pkg.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                body = node.body
                if ast.get_docstring(node) is not None:
                    body = body[1:]
                if body:
                    n = (body[-1].end_lineno or body[-1].lineno) - body[0].lineno + 1
                    longest.append((n, f"{path.name}:{node.name}"))
    n, where = max(longest)
    assert n <= MAX_FUNCTION_LINES, f"{where} has {n} lines of code: split it into named steps"


# ------------------------------------------------------------------------------------------------
# 3. the CLI fit: every family a candidate, reruns bit-identical, the API's default model
# ------------------------------------------------------------------------------------------------
def test_cli_fit_tries_every_family_and_is_the_api_default(files):
    a = files["a"].read_bytes()
    assert a == files["b"].read_bytes()  # same seed, another process: the same bytes
    data = json.loads(a)
    assert {t: tp["curve"]["family"] for t, tp in data["touchpoints"].items()} == TRUE_FAMILIES
    history = read_history(files["history"], read_journey(files["journey"]))
    api = fit_model(history, seed=SEED, n_bootstrap=DRAWS)
    assert json.loads(model_to_json(api)) == data
    est = ResponseFitter(random_state=SEED, n_bootstrap=DRAWS).fit(history)
    assert json.loads(model_to_json(est.model_)) == data
    # what the issue asks model.json's diagnostics to say
    diag = data["diagnostics"]
    assert diag["pooling"]["method"] == "empirical Bayes (marginal likelihood)"
    assert diag["pooling"]["omega"] >= 0
    assert isinstance(diag["baseline"]["seasonal_trend"], bool)
    assert {"bic_additive", "bic_seasonal_trend"} <= set(diag["baseline"])
    assert diag["uncertainty"]["method"] == "laplace" and diag["uncertainty"]["n_draws"] == DRAWS
    assert all(len(tp["draws"]) == DRAWS for tp in data["touchpoints"].values())


def test_cli_robust_mean_plans_on_the_fits_draws(files):
    """``optimize --robust mean`` on the CLI fit's model.json maximises the mean KPI over its 8
    draws: that mean beats the point plan's by more than 1e-4 relative, and the JSON says so."""
    from optimizer.workflow.robust import draw_models

    scenario = files["root"] / "base.yaml"
    history = read_history(files["history"], read_journey(files["journey"]))
    budget = round(13 * float(history.spend.mean().sum()), 2)
    scenario.write_text(
        yaml.safe_dump(
            {"name": "base", "model": "a.json", "horizon_weeks": 13, "budget": budget},
            sort_keys=False,
        )
    )
    plans = {}
    for robust in ("none", "mean"):
        r = run("optimize", scenario, "--robust", robust, "--format", "json", "--no-ledger")
        assert r.returncode == 0, r.stderr
        plans[robust] = json.loads(r.stdout)
    assert plans["mean"]["robust"]["draws"] == DRAWS
    assert "robust" not in plans["none"]
    draws = draw_models(read_model(files["a"]))
    assert len(draws) == DRAWS

    def mean_kpi(plan) -> float:
        spend = {li["id"]: li["spend"] for li in plan["line_items"]}
        return float(
            np.mean(
                [
                    sum(float(m.touchpoints[t].horizon_kpi(s, 13)) for t, s in spend.items())
                    for m in draws
                ]  # fmt: skip
            )
        )

    # measured: 1,757,337 against 1,755,801 (+0.09%); a robust plan made on the point curves
    # would tie with the point plan
    assert mean_kpi(plans["mean"]) > mean_kpi(plans["none"]) * (1 + 1e-4)
    spend = {li["id"]: li["spend"] for li in plans["mean"]["line_items"]}
    assert sum(spend.values()) == pytest.approx(budget, abs=0.01)


# ------------------------------------------------------------------------------------------------
# 4. model.json stays compatible (contract 3)
# ------------------------------------------------------------------------------------------------
def test_a_model_written_before_the_map_fitter_still_loads_and_plans(tmp_path):
    """tests/fixtures/model_fit_at_007706b.json: ``budgetopt fit --bootstrap 4 --seed 1`` of
    ``tests.factories.write_tiny_world(weeks=104)`` by the fitter at 007706b (the grid fitter,
    the commit before the MAP fit). It validates, plans and plans on its draws through the CLI."""
    model = tmp_path / "model.json"
    model.write_bytes(FIXTURE.read_bytes())
    r = run("validate", model)
    assert r.returncode == 0, r.stderr
    scenario = tmp_path / "base.yaml"
    scenario.write_text(
        yaml.safe_dump(
            {"name": "base", "model": "model.json", "horizon_weeks": 13, "budget": 1300000}
        )  # fmt: skip
    )
    r = run("optimize", scenario, "--robust", "mean", "--format", "json", "--no-ledger")
    assert r.returncode == 0, r.stderr
    plan = json.loads(r.stdout)
    assert plan["status"] == "optimal" and plan["robust"]["draws"] == 4
    assert sum(li["spend"] for li in plan["line_items"]) == pytest.approx(1300000, abs=0.01)


def _key_paths(d: object, prefix: str = "") -> set[str]:
    out: set[str] = set()
    if isinstance(d, dict):
        for k, v in d.items():
            key = f"{prefix}/{'*' if prefix.endswith('touchpoints') else k}"
            out.add(key)
            out |= _key_paths(v, key)
    elif isinstance(d, list) and d and isinstance(d[0], dict):
        out |= _key_paths(d[0], prefix + "[]")
    return out


def test_todays_fit_writes_every_key_the_older_fitter_wrote(tmp_path):
    """Contract 3 is extended, never broken: on the fixture's own history, today's fit writes
    every key path the fitter at 007706b wrote, except the curve parameters of a family neither
    fit chose for that touchpoint and the grid method's own options."""
    from tests.factories import write_tiny_world

    old = json.loads(FIXTURE.read_text())
    paths = write_tiny_world(tmp_path, weeks=104)
    history = read_history(paths["history"], read_journey(paths["journey"]))
    new = json.loads(model_to_json(fit_model(history, seed=1, n_bootstrap=4)))
    missing = _key_paths(old) - _key_paths(new)
    family_params = {"/touchpoints/*/curve/", "/touchpoints/*/draws[]/curve/"}
    grid_options = {"block_weeks", "bootstrap_perturb", "bootstrap_search", "pool_marginal"}
    left = {
        p
        for p in missing
        if not any(p.startswith(f) for f in family_params)
        and not (p.startswith("/fit/options/") and p.rsplit("/", 1)[1] in grid_options)
    }
    assert not left, sorted(left)
    # and today's model round-trips through the reader
    assert json.loads(model_to_json(model_from_dict(new))) == new


# ------------------------------------------------------------------------------------------------
# 5. empirical-Bayes pooling: the data set its strength
# ------------------------------------------------------------------------------------------------
def _pooling_world(informative: bool):
    """tests.test_fit's four touchpoints over 156 weeks, seed 2: flighted spend and 1% noise
    (informative), or spend within about 8% of its mean every week and 5% noise (the data cannot
    tell the touchpoints' marginal returns apart)."""
    rng = np.random.default_rng(2)
    extra = (
        None if informative else {k: TRUTH[k][1] * np.exp(rng.normal(0, 0.08, 156)) for k in TRUTH}
    )
    return make_world(n_weeks=156, seed=2, noise=0.01 if informative else 0.05, extra=extra)


def test_pooling_strength_is_estimated_and_the_plan_falls_back_to_the_historical_mix():
    """Same truth, two histories. Where the spend barely moves the evidence asks for full pooling
    (omega at the top of its grid, model.json says ``at_edge``), the point curves' marginal ROIs
    at the mean spend come out within 20% of each other (measured 0.71-0.83; truth 0.37-1.28)
    and the plan at the historical budget keeps every touchpoint within 3 points of its
    historical share (measured: 1.9 at most). From the informative history the weight is 1,000x
    smaller (measured 0.30 against 3,950) and the plan moves (search 20% -> 45%)."""
    from optimizer.allocate import allocate
    from optimizer.scenario import scenario_from_dict

    out = {}
    for informative in (False, True):
        history, _ = _pooling_world(informative)
        model = fit_model(history, n_bootstrap=0)
        means = history.spend.mean()
        budget = 13 * float(means.sum())
        sc = scenario_from_dict({"name": "b", "model": "-", "horizon_weeks": 13, "budget": budget})
        plan = allocate(sc, model)
        moved = max(
            abs(li.spend / budget - float(means[li.id] / means.sum())) for li in plan.line_items
        )
        mroi = [
            float(tp.weekly_marginal(tp.spend_range["mean"])) for tp in model.touchpoints.values()
        ]
        out[informative] = (model.diagnostics["pooling"], moved, mroi)
    pooled, moved, mroi = out[False]
    assert pooled["at_edge"] == 1.0 and pooled["log_evidence_gain"] > 0
    assert max(mroi) / min(mroi) < 1.2
    assert moved < 0.03
    free, moved_free, _ = out[True]
    assert free["at_edge"] == 0.0
    assert pooled["omega"] > 1000 * free["omega"]
    assert moved_free > 0.15


# ------------------------------------------------------------------------------------------------
# 6. uncertainty: Laplace draws, a bootstrap of the MAP fit with lift tests, as documented
# ------------------------------------------------------------------------------------------------
def test_draws_are_laplace_without_lift_tests_and_a_bootstrap_with_them():
    """docs/response-models.md, step 7: ``uncertainty="auto"`` draws Laplace around the MAP
    without lift tests and bootstraps the MAP fit with them; ``uncertainty=`` forces either. A
    lift test enters the fit (model.json's calibration block reports it used, with its z)."""
    from optimizer.data import LiftTest
    from tests.test_calibration import true_lift

    history, truth = _world()
    x = history.frame["search"].to_numpy(dtype=float)
    delta = np.zeros(len(x))
    delta[40:44] = 0.3 * x.mean()
    lift = true_lift(truth["search"], x, delta)
    dates = [d.date().isoformat() for d in history.frame.index]
    test = LiftTest("search", dates[40], dates[43], 40, 43, float(delta.sum()), lift, 0.1 * lift)
    cases = {
        ("auto", False): "laplace",
        ("auto", True): "bootstrap",
        ("laplace", True): "laplace",
        ("bootstrap", False): "bootstrap",
    }
    for (uncertainty, tested), method in cases.items():
        m = fit_model(
            history,
            n_bootstrap=3,
            uncertainty=uncertainty,
            calibration=[test] if tested else None,
        )
        assert m.diagnostics["uncertainty"]["method"] == method, (uncertainty, tested)
        assert all(len(tp.draws) == 3 for tp in m.touchpoints.values())
        if tested:
            cal = m.diagnostics["calibration"]
            assert cal["n_used"] == 1 and abs(cal["tests"][0]["z"]) < 3


def test_file_formats_contract_3_names_every_key_fit_writes(files):
    """docs/file-formats.md's model.json section names (in backticks) every key ``budgetopt fit``
    writes at the top level, in ``diagnostics``, in ``fit``, per touchpoint and in a touchpoint's
    ``diagnostics``; and the fit writes every field the section requires (kpi, period, each
    touchpoint's stage, curve with its family's parameters, geometric adstock with its decay)."""
    text = (ROOT / "docs" / "file-formats.md").read_text(encoding="utf-8")
    start = text.index("## Model (`model.json`)")
    section = text[start : text.index("\n## ", start + 1)]
    data = json.loads(files["a"].read_text())
    written = {("top level", k) for k in data}
    written |= {("diagnostics", k) for k in data["diagnostics"]}
    written |= {("fit", k) for k in data["fit"]}
    for tp in data["touchpoints"].values():
        written |= {("touchpoint", k) for k in tp}
        written |= {("touchpoint diagnostics", k) for k in tp["diagnostics"]}
    missing = sorted(f"{where}: {k}" for where, k in written if f"`{k}`" not in section)
    assert not missing, f"written by fit, not in docs/file-formats.md: {missing}"
    params = {"hill": {"half_saturation", "shape"}, "exponential": {"scale"}, "logistic": {"lam"}}
    assert {"kpi", "period", "touchpoints"} <= set(data)
    for tp in data["touchpoints"].values():
        assert "stage" in tp
        curve = tp["curve"]
        assert set(curve) == {"family", "beta"} | params[curve["family"]]
        assert tp["adstock"]["family"] == "geometric" and 0 <= tp["adstock"]["decay"] < 1


def test_no_fixed_ridge_or_pool_marginal_decides_the_curves():
    """The MAP fit's answer comes from the data: the grid method's ``pool_marginal`` and
    ``ridge`` (which shapes only the grid search that starts the MAP fit) leave every point
    curve's marginal ROI at the mean spend within 0.1% of the default fit's, from no ridge to
    10x the default (measured: at most 0.02%; at 100x, 0.3, the start moves and so do the curves,
    by 10-18%), and any pool_marginal (bit for bit)."""
    history, _ = make_world(n_weeks=156, seed=11)

    def mroi(model) -> dict[str, float]:
        return {
            t: float(tp.weekly_marginal(tp.spend_range["mean"]))
            for t, tp in model.touchpoints.items()
        }

    base = mroi(fit_model(history, n_bootstrap=0))
    for options in (
        {"ridge": 0.0},
        {"ridge": 0.03},
        {"pool_marginal": 0.0},
        {"pool_marginal": 5.0},
    ):
        other = mroi(fit_model(history, n_bootstrap=0, **options))
        for t, v in base.items():
            assert other[t] == pytest.approx(v, rel=1e-3), (options, t)


def test_anchored_plan_does_no_harm_where_the_pooling_does_not_hold_the_plan():
    """Issue 13 item 3: where the data cannot tell the touchpoints apart, the plan must fall back
    toward the historical mix instead of doing harm. A world like _pooling_world's (spend within
    about 8% of its mean, 5% noise) with seed 1, where the evidence picks weak pooling (omega
    0.30): the plan on the point curves loses 6.6% of the KPI against the historical mix on the
    true curves (measured at 31080cb; a known gap, reported), while ``--robust anchored`` stays
    above it (measured +0.78%). Asserted: anchored no worse than the historical mix by more than
    0.5% of the KPI (the issue's no-harm target)."""
    from optimizer.scenario import scenario_from_dict
    from optimizer.workflow.anchored import anchored_plan

    rng = np.random.default_rng(1)
    extra = {k: TRUTH[k][1] * np.exp(rng.normal(0, 0.08, 156)) for k in TRUTH}
    history, truth = make_world(n_weeks=156, seed=1, noise=0.05, extra=extra)
    model = fit_model(history, n_bootstrap=20)
    means = history.spend.mean()
    budget = 13 * float(means.sum())
    sc = scenario_from_dict({"name": "b", "model": "-", "horizon_weeks": 13, "budget": budget})

    def true_kpi(spend: dict[str, float]) -> float:
        return sum(float(truth[t].horizon_kpi(s, 13)) for t, s in spend.items())

    hist = true_kpi({t: 13 * float(means[t]) for t in means.index})
    anchored = true_kpi({li.id: li.spend for li in anchored_plan(sc, model).line_items})
    kpi = 13 * float(history.frame["revenue"].mean())
    assert (anchored - hist) / kpi > -0.005


def test_the_fit_records_how_it_chose_and_drew():
    """The audit's findings 1, 2 and 4: ``fit.method`` names the family rule the MAP fit uses
    (Laplace marginal likelihood, not BIC) and the draws it really made; ``fit.options.families``
    is every family the MAP fit's choice tried (the grid's start is ``grid_families``); and
    ``diagnostics.baseline`` records the baseline's choice also when it was forced."""
    history, _ = _world()
    lap = fit_model(history, n_bootstrap=3, seed=SEED)
    boot = fit_model(history, n_bootstrap=3, seed=SEED, uncertainty="bootstrap")
    forced = fit_model(history, n_bootstrap=0, seed=SEED, seasonal_trend=False)
    assert "BIC" not in lap.fit["method"]
    assert "Laplace marginal likelihood" in lap.fit["method"]
    assert lap.fit["method"].endswith("Laplace draws")
    assert boot.diagnostics["uncertainty"]["method"] == "bootstrap"
    assert boot.fit["method"].endswith("bootstrap draws of the MAP fit")
    assert lap.fit["options"]["families"] == ["hill", "exponential", "logistic"]
    assert lap.fit["options"]["grid_families"] == ["hill", "exponential"]
    assert forced.diagnostics["baseline"] == {"seasonal_trend": False}
    assert set(lap.diagnostics["baseline"]) == {
        "seasonal_trend",
        "bic_additive",
        "bic_seasonal_trend",
    }


def test_cli_prior_centre_mean_gives_the_api_fit_with_that_centre(files):
    """``budgetopt fit --prior-centre mean`` (a subprocess, as users run it) writes the model
    ``fit_model(prior_centre="mean")`` gives, recorded in ``fit.options``; the default's file
    records "operating"; a value outside the two is one line, exit 2."""
    path = files["root"] / "mean.json"
    r = run("fit", "--journey", files["journey"], "--history", files["history"], "-o", path,
            "--seed", SEED, "--bootstrap", DRAWS, "-q", "--prior-centre", "mean")  # fmt: skip
    assert r.returncode == 0, r.stderr
    data = json.loads(path.read_text())
    assert data["fit"]["options"]["prior_centre"] == "mean"
    assert json.loads(files["a"].read_text())["fit"]["options"]["prior_centre"] == "operating"
    history = read_history(files["history"], read_journey(files["journey"]))
    api = fit_model(history, seed=SEED, n_bootstrap=DRAWS, prior_centre="mean")
    assert json.loads(model_to_json(api)) == data
    bad = run("fit", "--journey", files["journey"], "--history", files["history"], "-o",
              files["root"] / "x.json", "--prior-centre", "max")  # fmt: skip
    assert bad.returncode == 2 and "prior-centre" in bad.stderr, bad.stderr
    assert not (files["root"] / "x.json").exists()
