"""Hierarchical fits across markets: each touchpoint's effect pooled by empirical Bayes.

Truths checked: the DerSimonian–Laird estimates against their textbook formulas on hand-made
numbers; the posterior-mean shrinkage (a precise market keeps its own effect, a noisy one moves
to the national level); the pooled curve's return at the market's mean spend equals the pooled
effect; and the CLI path (fit --by-market pools by default, --no-pool keeps each market's fit).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from optimizer.response.model import ResponseModel, Saturation, TouchpointResponse
from optimizer.workflow.pooling import dersimonian_laird, pool_markets


def test_dersimonian_laird_matches_the_formula():
    theta = np.array([1.0, 2.0, 4.0])
    se = np.array([0.5, 0.5, 1.0])
    w = 1 / se**2
    mu_fe = (w * theta).sum() / w.sum()
    q = (w * (theta - mu_fe) ** 2).sum()
    tau2 = (q - 2) / (w.sum() - (w**2).sum() / w.sum())
    wr = 1 / (se**2 + tau2)
    mu, t2 = dersimonian_laird(theta, se)
    assert t2 == pytest.approx(tau2, rel=1e-12) and tau2 > 0
    assert mu == pytest.approx((wr * theta).sum() / wr.sum(), rel=1e-12)
    # markets no more different than their noise: no spread, the fixed-effect mean
    mu0, t0 = dersimonian_laird(np.array([1.0, 1.1, 0.9]), np.array([1.0, 1.0, 1.0]))
    assert t0 == 0.0 and mu0 == pytest.approx(1.0)


def _tp(beta: float, mean: float, draw_betas) -> TouchpointResponse:
    sat = Saturation("exponential", {"beta": beta, "scale": 10_000.0})
    draws = tuple(
        (Saturation("exponential", {"beta": b, "scale": 10_000.0}), None) for b in draw_betas
    )
    return TouchpointResponse("tv", "awareness", sat, None, {"mean": mean}, draws)


def _model(tp: TouchpointResponse) -> ResponseModel:
    return ResponseModel(kpi="revenue", touchpoints={"tv": tp})


def test_noisy_market_borrows_and_precise_market_keeps_its_effect():
    rng = np.random.default_rng(0)
    models = {
        # four precise markets around an effect of ~2 per dollar (beta 50k at 10k: 2 * 10k / (1-e^-1))
        **{
            f"big{j}": _model(_tp(b, 10_000.0, b * (1 + 0.01 * rng.standard_normal(20))))
            for j, b in enumerate([30_000.0, 32_000.0, 34_000.0, 36_000.0])
        },
        # a small market whose own fit is far off and very uncertain
        "small": _model(_tp(80_000.0, 10_000.0, 80_000.0 * (1 + 0.6 * rng.standard_normal(20)))),
    }
    pooled, report = pool_markets(models)
    (r,) = report
    assert r.weight["small"] < 0.2  # moved most of the way to the national level
    assert min(r.weight[m] for m in r.weight if m != "small") > 0.8  # kept their own
    eff = {m: float(pooled[m].touchpoints["tv"].weekly_kpi(10_000.0)) / 10_000.0 for m in pooled}
    for m in models:
        assert eff[m] == pytest.approx(r.pooled[m], rel=1e-9)
    assert abs(eff["small"] - r.national) < 0.3 * abs(r.separate["small"] - r.national)
    assert pooled["small"].touchpoints["tv"].diagnostics["pooling"]["weight"] == pytest.approx(
        r.weight["small"], abs=1e-6
    )


def test_fit_by_market_pools_with_pool_and_not_by_default(tmp_path):
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
                "--bootstrap",
                "4",
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

    r = fit("pooled", "--pool")
    assert "pooled across markets" in r.stderr
    fit("own")
    index = json.loads((tmp_path / "pooled" / "markets.json").read_text())
    assert index["touchpoints"] == ["tp01", "tp02", "tp03", "tp04"]
    m = json.loads((tmp_path / "pooled" / "mk01.json").read_text())
    assert all("pooling" in tp["diagnostics"] for tp in m["touchpoints"].values())
    assert all(tp["owner"] for tp in m["touchpoints"].values())
    own = json.loads((tmp_path / "own" / "mk01.json").read_text())
    assert not any("pooling" in tp.get("diagnostics", {}) for tp in own["touchpoints"].values())
