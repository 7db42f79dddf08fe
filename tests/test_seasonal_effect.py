"""Seasonal effectiveness in ``fit`` (issue 15, step 5): on a simulated world whose media effect
really varies by week of the year, ``budgetopt fit`` writes contract 7's ``effectiveness`` and
recovers the season; a world without one comes out flat; and the phased plan on the fitted model
beats the plan that ignores the season, both valued on the TRUE curves and season."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from optimizer.allocate import allocate
from optimizer.allocate.phased import phased_problem, plan_kpi
from optimizer.io.history import read_history
from optimizer.io.journey import read_journey
from optimizer.response.fit import fit_model
from optimizer.response.model import read_model, write_model
from optimizer.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
import _seasonal_world  # noqa: E402
from _seasonal_world import season  # noqa: E402

AMPLITUDE = 0.4  # the media effect is up to 40% stronger (weaker) at the peak (trough)


def true_season(amplitude: float) -> np.ndarray:
    return season(amplitude)


def seasonal_world(root: Path, amplitude: float, seed: int = 2) -> dict[str, Path]:
    """A 4-touchpoint, 4-year world whose media contributions are multiplied by the season of
    their week (spend that varies: CV 0.8 and dark spells; noise 2% of the KPI; see
    ``benchmarks/_seasonal_world.py``)."""
    return _seasonal_world.seasonal_world(root, amplitude, seed)[0]


def _fit(files: dict, out: Path, *extra: str) -> subprocess.CompletedProcess:
    """``budgetopt fit`` of a simulated world's journey and history, as a user runs it."""
    cmd = [sys.executable, "-m", "optimizer", "fit", "--journey", files["journey"]]
    cmd += ["--history", files["history"], "-o", out, "--bootstrap", "0", *extra]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=900)


def test_fit_recovers_the_season_and_the_phased_plan_uses_it(tmp_path):
    files = seasonal_world(tmp_path / "w", AMPLITUDE)
    out = tmp_path / "model.json"
    r = _fit(files, out)
    assert r.returncode == 0, r.stderr
    raw = json.loads(out.read_text())
    diag = raw["diagnostics"]["seasonal_effectiveness"]
    assert diag["chosen"] != "flat", diag
    assert diag["bic"][diag["chosen"]] <= diag["bic"]["flat"] - 10
    truth = true_season(AMPLITUDE)
    fitted = {
        tid: np.array(t["effectiveness"]["by_week_of_year"])
        for tid, t in raw["touchpoints"].items()
        if "effectiveness" in t
    }
    assert len(fitted) >= 3
    for tid, e in fitted.items():
        # the shape (correlation of the fitted multipliers with the true ones) and the size
        assert np.corrcoef(e, truth)[0, 1] >= 0.9, tid
        assert abs((e.max() - e.min()) - (truth.max() - truth.min())) <= 0.25, tid
        assert e.mean() == pytest.approx(1.0, abs=1e-3)

    # the phased plan on the fitted model against the plan on the same model without its season,
    # both valued on the true curves with the true season (monthly, 52 weeks, same budget)
    model = read_model(out)
    flat = dataclasses.replace(
        model,
        touchpoints={
            k: dataclasses.replace(v, effectiveness=None) for k, v in model.touchpoints.items()
        },
    )
    tm = read_model(files["true_model"])
    true_model = dataclasses.replace(
        tm,
        touchpoints={
            k: dataclasses.replace(v, effectiveness=tuple(float(x) for x in truth))
            for k, v in tm.touchpoints.items()
        },
    )
    write_model(flat, tmp_path / "flat.json")
    budget = 52 * sum(float(v.spend_range["mean"]) for v in tm.touchpoints.values())
    sc_file = tmp_path / "year.yaml"
    sc_file.write_text(
        yaml.safe_dump(
            {
                "name": "year",
                "model": str(out),
                "start": "2026-01-05",
                "horizon_weeks": 52,
                "phasing": "month",
                "budget": round(budget, 2),
            }
        )
    )
    sc = load_scenario(sc_file)
    seasonal_plan = allocate(sc, model)
    flat_plan = allocate(sc, flat)
    assert seasonal_plan.ok and flat_plan.ok
    judge = phased_problem(sc, true_model)

    def true_kpi(plan) -> float:
        X = np.array([[p.spend for p in li.periods] for li in plan.line_items])
        weekly, after = plan_kpi(judge, X)
        return float((weekly.sum() + after.sum()) / 1.0)

    gain = true_kpi(seasonal_plan) - true_kpi(flat_plan)
    print(
        f"true KPI: seasonal plan {true_kpi(seasonal_plan):,.0f}, flat plan {true_kpi(flat_plan):,.0f}"
    )
    print(
        f"fitted vs true season: {diag} corr {[round(np.corrcoef(e, truth)[0, 1], 3) for e in fitted.values()]}"
    )
    assert gain > 0.002 * true_kpi(flat_plan), gain


def test_a_world_without_a_season_comes_out_flat(tmp_path):
    files = seasonal_world(tmp_path / "w", 0.0)
    j = read_journey(files["journey"])
    model = fit_model(read_history(files["history"], j), seed=0, n_bootstrap=0)
    diag = model.diagnostics["seasonal_effectiveness"]
    assert diag["chosen"] == "flat", diag
    assert "no seasonal variant beats flat" in diag["reason"]
    assert all(t.effectiveness is None for t in model.touchpoints.values())


def test_a_short_history_is_not_tried(tmp_path):
    files = seasonal_world(tmp_path / "w", AMPLITUDE)
    j = read_journey(files["journey"])
    h = read_history(files["history"], j)
    short = dataclasses.replace(h, frame=h.frame.iloc[:80])
    model = fit_model(short, seed=0, n_bootstrap=0, holdout_weeks=0)
    diag = model.diagnostics["seasonal_effectiveness"]
    assert diag["chosen"] == "flat" and "80 weeks" in diag["reason"]


def test_fit_can_switch_the_season_off(tmp_path):
    """``fit --no-seasonal-effectiveness`` on a world whose media effect really varies by season
    (the one the test above recovers): model.json is flat (no touchpoint has 'effectiveness') and
    its diagnostics and the fit's summary say the season was not tested."""
    files = seasonal_world(tmp_path / "w", AMPLITUDE)
    out = tmp_path / "model.json"
    r = _fit(files, out, "--no-seasonal-effectiveness")
    assert r.returncode == 0, r.stderr
    raw = json.loads(out.read_text())
    assert not any("effectiveness" in t for t in raw["touchpoints"].values())
    diag = raw["diagnostics"]["seasonal_effectiveness"]
    assert diag["chosen"] == "flat" and "not tested" in diag["reason"]
    assert "seasonal effectiveness of the media effect: flat (not tested" in r.stderr
