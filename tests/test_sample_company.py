"""The whole job on the bundled sample company: recovery of the truth, and the demo end to end.

Truth: ``optimizer/sample/true_model.json`` (the curves the history was generated from, seed 2065,
noise 3% of mean revenue). Its two best touchpoints by ROI are onboarding_email (5.99) and
referral_programme (4.61); its two worst are retargeting (0.44) and radio (0.30).
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from optimizer.cli import cli
from optimizer.data import read_history, read_journey
from optimizer.response.model import read_model
from optimizer.sample import history_path, journey_path, true_model_path


@pytest.fixture(scope="module")
def fitted():
    from optimizer.response.fit import fit_model

    journey = read_journey(journey_path())
    return fit_model(read_history(history_path(), journey), seed=0, n_bootstrap=0)


def test_fit_ranks_true_roi_at_top_and_bottom(fitted):
    truth = read_model(true_model_path())
    true_roi = {t: tp.diagnostics["roi"] for t, tp in truth.touchpoints.items()}
    fit_roi = {t: tp.diagnostics["roi"] for t, tp in fitted.touchpoints.items()}
    by_truth = sorted(true_roi, key=true_roi.get)
    by_fit = sorted(fit_roi, key=fit_roi.get)
    assert set(by_fit[-2:]) == set(by_truth[-2:]) == {"onboarding_email", "referral_programme"}
    assert set(by_fit[:2]) == set(by_truth[:2]) == {"retargeting", "radio"}
    # the fit explains the weeks it did not see: holdout MAPE within 2x the 3% noise
    assert fitted.diagnostics["mape_holdout"] < 0.06


def test_demo_writes_everything_and_prints_the_comparison(tmp_path):
    out = tmp_path / "demo"
    r = CliRunner().invoke(cli, ["demo", "--out", str(out)])
    assert r.exit_code == 0, r.stderr
    assert "of the true optimum" in r.stderr  # the demo scores itself on the true curves
    for name in (
        "FY27-Q1 base",
        "FY27-Q1 budget cut 15%",
        "FY27-Q1 awareness push",
        "FY27-Q1 with commitments",
    ):
        assert name in r.stdout
    for f in (
        "model.json",
        "comparison.json",
        "comparison.csv",
        "comparison.txt",
        "plans/base.json",
        "plans/commitments.csv",
        "scenarios/base.yaml",
    ):
        assert (out / f).exists(), f
    comp = json.loads((out / "comparison.json").read_text())
    assert all(s["status"] == "optimal" for s in comp["scenarios"])
    base, cut = comp["scenarios"][0], comp["scenarios"][1]
    assert cut["total_spend"] == pytest.approx(0.85 * base["total_spend"], abs=0.01)
    # the demo's scenarios re-run from its folder on the fitted model
    r = CliRunner().invoke(
        cli, ["optimize", str(out / "scenarios" / "base.yaml"), "--format", "json"]
    )
    assert r.exit_code == 0
    assert json.loads(r.stdout)["total_kpi"] == pytest.approx(base["total_kpi"], rel=1e-12)
    # the demo's comparison.json is the one `compare --format json` writes, costs and all (it
    # once wrote a second serialiser's output, without each scenario's costly_constraints)
    scen = [str(out / "scenarios" / n) for n in ("base.yaml", "budget_cut.yaml")]
    scen += [str(out / "scenarios" / n) for n in ("awareness_push.yaml", "commitments.yaml")]
    r = CliRunner().invoke(cli, ["compare", *scen, "--format", "json", "--no-ledger"])
    assert r.exit_code == 0, r.stderr
    assert r.stdout == (out / "comparison.json").read_text()
    assert any(s["costly_constraints"] for s in comp["scenarios"])
