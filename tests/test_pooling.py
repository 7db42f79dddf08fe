"""Hierarchical fits across markets: each touchpoint's marginal return pooled by empirical Bayes.

Truths checked: the method-of-moments estimates against their formulas on hand-made numbers; the
delta-method standard error against the draws' spread; the posterior-mean shrinkage (a precise
market keeps its own effect, a noisy one moves to the national level); the pooled curve's marginal
return at the market's mean spend equals the pooled effect; a market whose fit found no effect
takes the national level on the closest market's shape; and the CLI path (fit --by-market pools
by default, --no-pool keeps each market's fit).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from optimizer.response.model import ResponseModel, Saturation, TouchpointResponse
from optimizer.workflow.pooling import (
    elasticity,
    log_effect_se,
    marginal_effect,
    moment_estimates,
    pool_markets,
)


def test_moment_estimates_match_the_formula():
    theta = np.array([1.0, 2.0, 4.0])
    se = np.array([0.5, 0.5, 1.0])
    mu, tau2 = moment_estimates(theta, se)
    assert mu == pytest.approx(7 / 3, rel=1e-12)
    # sample variance (ddof 1) of 1, 2, 4 is 7/3; minus the mean of the squared SEs, 0.5
    assert tau2 == pytest.approx(7 / 3 - 0.5, rel=1e-12)
    # markets no more different than their noise: no spread
    mu0, t0 = moment_estimates(np.array([1.0, 1.1, 0.9]), np.array([1.0, 1.0, 1.0]))
    assert t0 == 0.0 and mu0 == pytest.approx(1.0)


def _tp(beta: float, mean: float, draw_betas, scale: float = 10_000.0) -> TouchpointResponse:
    sat = Saturation("exponential", {"beta": beta, "scale": scale})
    draws = tuple(
        (Saturation("exponential", {"beta": b, "scale": scale}), None) for b in draw_betas
    )
    return TouchpointResponse("tv", "awareness", sat, None, {"mean": mean}, draws)


def _model(tp: TouchpointResponse) -> ResponseModel:
    return ResponseModel(kpi="revenue", touchpoints={"tv": tp})


def test_the_standard_error_is_the_draws_relative_spread():
    # exponential curves of one shape: the marginal return is proportional to beta, so the
    # delta-method SE of its log is the draws' betas' sd over the point's beta
    betas = np.array([90.0, 100.0, 110.0, 120.0])
    tp = _tp(100.0, 5_000.0, betas)
    assert log_effect_se(tp, 5_000.0) == pytest.approx(np.std(betas, ddof=1) / 100.0, rel=1e-9)
    assert math.isinf(log_effect_se(_tp(100.0, 5_000.0, []), 5_000.0))  # no draws, no SE
    assert math.isinf(log_effect_se(_tp(0.0, 5_000.0, betas), 5_000.0))  # no effect


def test_noisy_market_borrows_and_precise_market_keeps_its_effect():
    rng = np.random.default_rng(0)
    models = {
        # eight precise markets whose marginal returns differ by ±10%
        **{
            f"big{j}": _model(_tp(b, 10_000.0, b * (1 + 0.01 * rng.standard_normal(20))))
            for j, b in enumerate(np.linspace(30_000.0, 37_000.0, 8))
        },
        # a small market whose own fit is far off and very uncertain
        "small": _model(_tp(80_000.0, 10_000.0, 80_000.0 * (1 + 0.6 * rng.standard_normal(20)))),
    }
    pooled, report = pool_markets(models)
    (r,) = report
    assert r.weight["small"] < 0.2  # moved most of the way to the national level
    assert min(r.weight[m] for m in r.weight if m != "small") > 0.8  # kept their own
    eff = {m: marginal_effect(pooled[m].touchpoints["tv"], 10_000.0) for m in pooled}
    for m in models:
        assert eff[m] == pytest.approx(r.pooled[m], rel=1e-9)
        assert r.separate[m] == pytest.approx(
            marginal_effect(models[m].touchpoints["tv"], 10_000.0), rel=1e-12
        )
    # the national level is the plain geometric mean of the markets' marginal returns
    assert r.national == pytest.approx(math.exp(np.mean(np.log(list(r.separate.values())))))
    assert abs(math.log(eff["small"] / r.national)) < 0.2 * abs(
        math.log(r.separate["small"] / r.national)
    )
    diag = pooled["small"].touchpoints["tv"].diagnostics["pooling"]
    assert diag["weight"] == pytest.approx(r.weight["small"], abs=1e-6)
    assert diag["marginal_roi_pooled"] == pytest.approx(eff["small"], rel=1e-5)


def test_a_saturated_market_takes_the_national_shape_not_a_taller_curve():
    """A market whose fit found its curve saturated (marginal return far below the others', very
    uncertain) is pooled in effect and shape: its elasticity moves to the others' and its
    average return with it, instead of its height being scaled by the whole factor (which
    multiplied its KPI by the same factor). Truth: exponential curves, elasticity at spend x of
    scale c is (x/c) e^(-x/c) / (1 - e^(-x/c))."""
    rng = np.random.default_rng(2)
    models = {
        f"m{j}": _model(_tp(b, 10_000.0, b * (1 + 0.05 * rng.standard_normal(20))))
        for j, b in enumerate(np.linspace(30_000.0, 37_000.0, 6))
    }
    # saturated: scale 1,000 at spend 10,000 (elasticity 4.5e-4); draws of very uncertain scale
    scales = 1_000.0 * np.exp(1.5 * rng.standard_normal(20))
    sat = Saturation("exponential", {"beta": 35_000.0, "scale": 1_000.0})
    draws = tuple(
        (Saturation("exponential", {"beta": 35_000.0, "scale": float(c)}), None) for c in scales
    )
    models["sat"] = _model(
        TouchpointResponse("tv", "awareness", sat, None, {"mean": 10_000.0}, draws)
    )
    pooled, (r,) = pool_markets(models)
    own = {m: elasticity(models[m].touchpoints["tv"], 10_000.0) for m in models}
    new = pooled["sat"].touchpoints["tv"]
    # the markets do not differ in shape beyond their noise: every one takes the national shape,
    # the plain mean of the log elasticities (the saturated market's own 4.5e-4 among them)
    national = np.mean([np.log(own[m]) for m in own])
    assert np.log(elasticity(new, 10_000.0)) == pytest.approx(national, abs=1e-6)
    assert np.log(elasticity(new, 10_000.0)) > np.log(own["sat"]) + 5
    assert r.elasticity_pooled["sat"] == pytest.approx(elasticity(new, 10_000.0), rel=1e-9)
    assert marginal_effect(new, 10_000.0) == pytest.approx(r.pooled["sat"], rel=1e-9)
    # its average return (marginal / elasticity) a few times the others', not the hundreds of
    # times that scaling its height alone to the pooled marginal return gives
    avg = {m: float(pooled[m].touchpoints["tv"].weekly_kpi(10_000.0)) / 10_000.0 for m in pooled}
    own_avg = float(models["sat"].touchpoints["tv"].weekly_kpi(10_000.0)) / 10_000.0
    height_only = own_avg * r.pooled["sat"] / r.separate["sat"]  # about 1,000 a dollar
    others_max = max(avg[m] for m in avg if m != "sat")  # about 2.3
    assert avg["sat"] < 5 * others_max and height_only > 50 * others_max


def test_a_market_without_an_effect_takes_the_national_level_on_a_donor_shape():
    rng = np.random.default_rng(1)
    models = {
        f"m{j}": _model(_tp(b, 10_000.0, b * (1 + 0.05 * rng.standard_normal(10))))
        for j, b in enumerate([30_000.0, 34_000.0, 38_000.0])
    }
    # a market half the size (spend 5,000) whose fit found nothing
    models["none"] = _model(_tp(0.0, 5_000.0, [0.0] * 10, scale=3_000.0))
    pooled, (r,) = pool_markets(models)
    tp = pooled["none"].touchpoints["tv"]
    assert marginal_effect(tp, 5_000.0) == pytest.approx(r.national, rel=1e-9)
    # the donor's shape (scale 10,000 at spend 10,000) stretched to the market's spend
    assert tp.curve.params["scale"] == pytest.approx(5_000.0, rel=1e-12)
    assert r.weight["none"] == 0.0


def test_fit_by_market_pools_by_default_and_not_with_no_pool(tmp_path):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from _markets_world import market_world

    world = market_world(3, 4, seed=5, n_weeks=104)
    world.history().to_csv(tmp_path / "h.csv", index=False)
    (tmp_path / "j.yaml").write_text(yaml.safe_dump(world.journey()))

    def fit(out, *extra):
        r = subprocess.run(
            [
                sys.executable,
                "-m",
                "optimizer",
                "fit",
                "--journey",
                "j.yaml",
                "--history",
                "h.csv",
                "--by-market",
                "-o",
                out,
                *extra,
            ],
            capture_output=True,
            text=True,
            cwd=tmp_path,
        )
        assert r.returncode == 0, r.stderr
        return r

    r = fit("pooled", "--bootstrap", "4")
    assert "pooled across markets" in r.stderr
    fit("own", "--bootstrap", "4", "--no-pool")
    r0 = fit("nodraws", "--bootstrap", "0")
    assert "--bootstrap 2 or more" in r0.stderr
    index = json.loads((tmp_path / "pooled" / "markets.json").read_text())
    assert index["touchpoints"] == ["tp01", "tp02", "tp03", "tp04"]
    m = json.loads((tmp_path / "pooled" / "mk01.json").read_text())
    pooled = [tp["diagnostics"]["pooling"] for tp in m["touchpoints"].values()]
    assert pooled and all(0.0 <= p["weight"] <= 1.0 and p["tau"] >= 0 for p in pooled)
    assert all(tp["owner"] for tp in m["touchpoints"].values())
    for name in ("own", "nodraws"):
        own = json.loads((tmp_path / name / "mk01.json").read_text())
        assert not any("pooling" in tp.get("diagnostics", {}) for tp in own["touchpoints"].values())
