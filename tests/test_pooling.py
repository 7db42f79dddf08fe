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


def test_weighted_moment_estimates_match_the_formula():
    """With fixed weights a (summing to 1): μ = Σ a θ and τ² = (Σ a (θ − μ)² − Σ a (1 − a) s²)
    / (1 − Σ a²), the moment equation E[Σ a (θ − μ)²] = (1 − Σ a²) τ² + Σ a (1 − a) s² solved;
    checked on hand numbers and by simulation (before its truncation at 0, the estimate's mean
    over 20,000 draws of the model is τ² = 0.09, within 5%)."""
    theta = np.array([1.0, 2.0, 4.0])
    se = np.array([0.5, 0.5, 1.0])
    a = np.array([0.5, 0.25, 0.25])
    mu, tau2 = moment_estimates(theta, se, np.array([2.0, 1.0, 1.0]))  # normalised to a
    assert mu == pytest.approx(0.5 + 0.5 + 1.0, rel=1e-12)
    q = 0.5 * 1.0**2 + 0.25 * 0.0**2 + 0.25 * 2.0**2
    noise = 0.5 * 0.5 * 0.25 + 0.25 * 0.75 * 0.25 + 0.25 * 0.75 * 1.0
    assert tau2 == pytest.approx((q - noise) / (1 - np.sum(a**2)), rel=1e-12)
    rng = np.random.default_rng(5)
    se = np.array([0.1, 0.2, 0.4, 0.8, 0.3, 0.5])
    a = np.array([10.0, 5.0, 2.0, 1.0, 4.0, 3.0])
    a /= a.sum()
    x = 1.0 + rng.normal(0, np.sqrt(0.09 + se**2), size=(20_000, 6))
    m = x @ a
    # the moment equation before truncation at 0 (which moment_estimates applies): unbiased
    raw = (((x - m[:, None]) ** 2) @ a - np.sum(a * (1 - a) * se**2)) / (1 - np.sum(a**2))
    assert np.mean(raw) == pytest.approx(0.09, rel=0.05)
    assert moment_estimates(x[0], se, a)[1] == pytest.approx(max(0.0, raw[0]), rel=1e-9)


def test_the_national_level_leans_on_the_markets_where_the_money_is():
    """The national level is the spend-weighted mean of the log marginal returns: one big market
    (spend 100,000, marginal return 1.0) and six small ones (5,000 each) whose fits overestimate
    (about 2.0) give a national level near the big market's, exp((100 log 1 + 30 log 2) / 130)
    = 1.17, where the plain mean was 1.81; the big, precise market keeps its own estimate."""
    rng = np.random.default_rng(3)

    def tp(beta_per_dollar: float, spend: float, rel_sd: float) -> TouchpointResponse:
        # exponential curve of scale 10 x spend: marginal return at the spend = beta/scale e^-0.1
        scale = 10 * spend
        beta = beta_per_dollar * scale / math.exp(-0.1)
        draws = beta * (1 + rel_sd * rng.standard_normal(20))
        return _tp(beta, spend, draws, scale=scale)

    models = {"big": _model(tp(1.0, 100_000.0, 0.02))}
    models |= {f"s{j}": _model(tp(2.0 * (1 + 0.05 * j), 5_000.0, 0.5)) for j in range(6)}
    pooled, (r,) = pool_markets(models)
    spend = {m: 100_000.0 if m == "big" else 5_000.0 for m in models}
    logs = {m: math.log(r.separate[m]) for m in models}
    expected = math.exp(sum(spend[m] * logs[m] for m in models) / sum(spend.values()))
    assert r.national == pytest.approx(expected, rel=1e-9)
    assert r.national < 1.25 < math.exp(np.mean(list(logs.values())))
    assert r.pooled["big"] == pytest.approx(r.separate["big"], rel=0.02)
    # the version before, kept for the benchmark: the plain mean
    _, (plain,) = pool_markets(models, weights="equal")
    assert plain.national == pytest.approx(math.exp(np.mean(list(logs.values()))), rel=1e-9)
    with pytest.raises(ValueError, match="weights"):
        pool_markets(models, weights="precision")


def test_the_posterior_standard_error_adds_the_national_levels_own():
    """se_log_pooled = sqrt(w s² + (1 − w)² Var(μ)), Var(μ) = Σ a² (τ² + s²) with a the spend
    shares: below the market's own SE when it borrows, never below the national level's."""
    rng = np.random.default_rng(0)
    models = {
        f"m{j}": _model(_tp(b, sp, b * (1 + rel * rng.standard_normal(20))))
        for j, (b, sp, rel) in enumerate(
            [(30_000.0, 10_000.0, 0.05), (45_000.0, 20_000.0, 0.1), (90_000.0, 5_000.0, 0.8)]
        )
    }
    pooled, (r,) = pool_markets(models)
    a = np.array([10_000.0, 20_000.0, 5_000.0])
    a /= a.sum()
    s = np.array([r.se[m] for m in models])
    tau2 = r.tau**2
    var_mu = float(np.sum(a**2 * (tau2 + s**2)))
    for k, m in enumerate(models):
        w = r.weight[m]
        want = math.sqrt(w * s[k] ** 2 + (1 - w) ** 2 * var_mu)
        assert r.se_pooled[m] == pytest.approx(want, rel=1e-9)
        diag = pooled[m].touchpoints["tv"].diagnostics["pooling"]
        assert diag["se_log_pooled"] == pytest.approx(want, abs=1e-6)
    assert r.se_pooled["m2"] < r.se["m2"]  # the noisy market borrows precision


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
    # every market spends the same: the national level is the plain geometric mean
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
