"""The simulated-world generator and the bundled sample company (``optimizer.simulate``)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from optimizer import sample
from optimizer.data import read_history, read_journey
from optimizer.response.model import read_model, write_model
from optimizer.sample.generate import generate
from optimizer.scenario import check_against_model, load_scenario
from optimizer.simulate import (
    COMPONENTS,
    PRICE_COLUMN,
    TouchpointTruth,
    WorldSpec,
    random_world,
    sample_company,
    simulate,
)
from optimizer.vocabulary import STAGES

REPO = Path(__file__).resolve().parent.parent
SCENARIOS = ("base.yaml", "budget_cut.yaml", "awareness_push.yaml", "commitments.yaml")


@pytest.fixture(scope="module")
def company():
    return simulate(sample_company())


# ------------------------------------------------------------------------------------------------
# determinism
# ------------------------------------------------------------------------------------------------
def test_same_spec_gives_identical_worlds():
    spec = random_world(5, seed=3)
    a, b = simulate(spec), simulate(spec)
    pd.testing.assert_frame_equal(a.history, b.history, check_exact=True)
    pd.testing.assert_frame_equal(a.contributions, b.contributions, check_exact=True)
    assert a.truth.to_dict() == b.truth.to_dict()
    assert a.journey == b.journey
    assert random_world(5, seed=3) == spec


def test_different_seed_gives_different_world():
    spec = random_world(5, seed=3)
    a, b = simulate(spec), simulate(replace(spec, seed=4))
    ids = spec.ids
    assert not np.allclose(a.history[ids].to_numpy(), b.history[ids].to_numpy())
    assert not np.allclose(a.history[spec.kpi].to_numpy(), b.history[spec.kpi].to_numpy())
    assert random_world(5, seed=3) != random_world(5, seed=4)


def test_touchpoints_draw_from_their_own_streams():
    """Adding a touchpoint leaves the other touchpoints' spend unchanged."""
    spec = random_world(4, seed=11)
    extra = TouchpointTruth(
        "extra", "loyalty", "exponential", {"beta": 5000.0, "scale": 8000.0}, mean_spend=4000.0
    )
    bigger = replace(spec, touchpoints=(*spec.touchpoints, extra))
    a, b = simulate(spec), simulate(bigger)
    pd.testing.assert_frame_equal(a.history[spec.ids], b.history[spec.ids], check_exact=True)


# ------------------------------------------------------------------------------------------------
# the truth
# ------------------------------------------------------------------------------------------------
def test_truth_round_trips_through_model_json(company, tmp_path):
    path = write_model(company.truth, tmp_path / "truth.json")
    back = read_model(path)
    assert back.to_dict() == company.truth.to_dict()
    for tid, tp in company.truth.touchpoints.items():
        x = np.array([0.0, 1_000.0, tp.spend_range["mean"], 5 * tp.spend_range["max"]])
        np.testing.assert_array_equal(back.touchpoints[tid].weekly_kpi(x), tp.weekly_kpi(x))


def _steady_cases():
    world_tps = [*sample_company().touchpoints, *random_world(12, seed=5).touchpoints]
    normalised = TouchpointTruth(
        "norm", "awareness", "logistic", {"beta": 9e4, "lam": 2e-5}, decay=0.55, normalize=True
    )
    return [*world_tps, normalised]


@pytest.mark.parametrize("tp", _steady_cases(), ids=lambda t: f"{t.id}-{t.family}")
def test_steady_state_of_the_simulator_is_the_truth_curve(tp):
    """A long steady spend x, through the simulator's own transform, settles at weekly_kpi(x)."""
    truth = tp.response()
    for x in (0.3 * tp.mean_spend, tp.mean_spend, 4.0 * tp.mean_spend):
        settled = tp.contribution(np.full(2_000, x))[-1]
        assert settled == pytest.approx(float(truth.weekly_kpi(x)), rel=1e-9)


def test_contributions_decompose_the_kpi(company):
    spec = company.spec
    c = company.contributions
    assert list(c.columns) == ["date", *spec.ids, *COMPONENTS]
    assert (c["date"] == company.history["date"]).all()
    for tp in spec.touchpoints:
        np.testing.assert_allclose(c[tp.id], tp.contribution(company.history[tp.id]), rtol=1e-12)
    total = c[[*spec.ids, *COMPONENTS]].sum(axis=1)
    np.testing.assert_allclose(total, company.history[spec.kpi], rtol=0, atol=1e-6)


def test_truth_carries_observed_spend_range(company):
    for tid, tp in company.truth.touchpoints.items():
        s = company.history[tid]
        sr = tp.spend_range
        assert sr["min"] == pytest.approx(s.min(), abs=0.005)
        assert sr["max"] == pytest.approx(s.max(), abs=0.005)
        assert sr["mean"] == pytest.approx(s.mean(), abs=0.005)
        assert sr["recent"] == pytest.approx(s.iloc[-13:].mean(), abs=0.005)
        assert tp.diagnostics["roi"] == pytest.approx(company.true_roi[tid], rel=1e-5)


# ------------------------------------------------------------------------------------------------
# worlds
# ------------------------------------------------------------------------------------------------
def test_random_worlds_vary_and_take_overrides():
    specs = [random_world(8, seed=s) for s in range(6)]
    families = {t.family for sp in specs for t in sp.touchpoints}
    assert families == {"hill", "exponential", "logistic"}
    decays = [t.decay for sp in specs for t in sp.touchpoints]
    assert 0.0 <= min(decays) < 0.2 and 0.5 < max(decays) <= 0.7
    shapes = [t.params["shape"] for sp in specs for t in sp.touchpoints if t.family == "hill"]
    assert all(0.6 <= s <= 1.0 for s in shapes)
    assert len({sp.noise_sd for sp in specs}) == len(specs)
    short = random_world(3, seed=1, n_weeks=60, noise_sd=0.0)
    world = simulate(short)
    assert len(world.history) == 60
    assert world.contributions["noise"].abs().max() <= 0.005 + 1e-9  # cent rounding only


def test_random_world_can_have_s_curves():
    plain = random_world(12, seed=4)
    spec = random_world(12, seed=4, s_curves=1.0)
    shapes = [t.params["shape"] for t in spec.touchpoints if t.family == "hill"]
    assert shapes and all(1.5 <= s <= 2.5 for s in shapes)
    # everything else is drawn from the same stream
    assert [t.family for t in spec.touchpoints] == [t.family for t in plain.touchpoints]
    assert [t.decay for t in spec.touchpoints] == [t.decay for t in plain.touchpoints]
    world = simulate(spec)
    assert all(
        not tp.concave for tp in world.truth.touchpoints.values() if tp.curve.family == "hill"
    )


def test_spend_is_positive_and_varied():
    world = simulate(random_world(6, seed=2))
    for tp in world.spec.touchpoints:
        s = world.history[tp.id]
        assert (s >= 0).all() and s.mean() == pytest.approx(tp.mean_spend, rel=1e-3)
        assert s.max() > 1.5 * s.mean() and s.quantile(0.1) < 0.75 * s.mean()
        assert (s.round(2) == s).all()


def test_flighting_gives_dark_weeks():
    tp = TouchpointTruth(
        "tv",
        "awareness",
        "hill",
        {"beta": 1e5, "half_saturation": 5e4, "shape": 0.8},
        mean_spend=5e4,
        flighting=0.3,
    )
    world = simulate(WorldSpec((tp,), n_weeks=520, seed=1))
    dark = (world.history["tv"] == 0).mean()
    assert 0.2 < dark < 0.4


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"family": "gompertz"}, "family"),
        ({"params": {"beta": 1.0, "scale": 1.0}}, "parameters"),
        ({"decay": 1.0}, "decay"),
        ({"flighting": -0.1}, "flighting"),
        ({"mean_spend": 0.0}, "mean_spend"),
    ],
)
def test_touchpoint_truth_checks_its_arguments(kwargs, match):
    base = {
        "id": "tv",
        "stage": "awareness",
        "family": "hill",
        "params": {"beta": 1.0, "half_saturation": 1.0, "shape": 0.8},
    }
    with pytest.raises(ValueError, match=match):
        TouchpointTruth(**{**base, **kwargs})


def test_world_spec_checks_its_arguments():
    tp = TouchpointTruth("tv", "awareness", "exponential", {"beta": 1.0, "scale": 1.0})
    with pytest.raises(ValueError, match="unique"):
        WorldSpec((tp, tp))
    with pytest.raises(ValueError, match="stage"):
        WorldSpec((replace(tp, stage="awarenes"),))
    with pytest.raises(ValueError, match="reserved"):
        WorldSpec((replace(tp, id="revenue"),))


# ------------------------------------------------------------------------------------------------
# the sample company
# ------------------------------------------------------------------------------------------------
def test_sample_company_shape(company):
    spec = company.spec
    assert len(spec.touchpoints) == 14
    assert {t.stage for t in spec.touchpoints} == set(STAGES)
    assert len(company.history) == 156
    assert company.history["date"].iloc[0] == "2023-01-02"
    assert company.history["date"].iloc[-1] == "2025-12-22"
    assert list(company.history.columns) == ["date", *spec.ids, "revenue", PRICE_COLUMN]
    weekly_spend = company.spend.sum(axis=1).mean()
    assert 600_000 <= weekly_spend <= 900_000
    assert company.spend.mean().idxmax() == "tv"
    assert 1e6 <= company.history["revenue"].mean() <= 5e6
    assert 0.25 <= company.media_share <= 0.40
    noise = company.contributions["noise"].std() / company.history["revenue"].mean()
    assert 0.025 <= noise <= 0.05


def test_sample_company_truth_is_spread(company):
    """True ROIs run from about 0.3 to about 6 with a clear top two and bottom two."""
    roi = company.true_roi.sort_values()
    assert roi.max() / roi.min() > 5
    assert 0.2 <= roi.min() and roi.max() <= 7
    assert roi.iloc[2] - roi.iloc[1] > 0.4  # clear bottom two
    assert roi.iloc[-2] - roi.iloc[-3] > 2.0  # clear top two
    decay = {t.id: t.decay for t in company.spec.touchpoints}
    assert decay["checkout_offers"] == 0.0 and max(decay, key=decay.get) == "tv"
    families = [t.family for t in company.spec.touchpoints]
    assert families.count("exponential") == 2
    assert all(t.params["shape"] <= 1.0 for t in company.spec.touchpoints if t.family == "hill")


def test_sample_spend_varies_independently(company):
    spend = company.spend
    corr = spend.corr().to_numpy()
    off = corr[~np.eye(len(corr), dtype=bool)]
    assert np.abs(off).max() < 0.5
    for tid in spend:
        s = spend[tid]
        assert s.max() > 2 * s.mean() and s.quantile(0.1) < 0.6 * s.mean()


# ------------------------------------------------------------------------------------------------
# bundled files
# ------------------------------------------------------------------------------------------------
def _approx_equal(a, b):
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys()
        for k in a:
            _approx_equal(a[k], b[k])
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _approx_equal(x, y)
    elif isinstance(a, float):
        assert a == pytest.approx(b, rel=1e-9, abs=1e-9)
    else:
        assert a == b


def test_bundled_files_match_the_generator(tmp_path):
    """The files in optimizer/sample are what `python -m optimizer.sample.generate` writes now.

    Regenerate them with that command when this fails after an intended change.
    """
    _, written = generate(tmp_path)
    bundled = sample.sample_dir()
    assert written["journey"].read_text() == (bundled / "journey.yaml").read_text()
    for name in ("history.csv", "true_contributions.csv"):
        # cents, with a cent of slack for floating-point differences between platforms
        pd.testing.assert_frame_equal(
            pd.read_csv(tmp_path / name),
            pd.read_csv(bundled / name),
            check_exact=False,
            rtol=0,
            atol=0.011,
        )
    _approx_equal(
        json.loads(written["true_model"].read_text()),
        json.loads((bundled / "true_model.json").read_text()),
    )


def test_bundled_files_are_valid_inputs():
    journey = read_journey(sample.journey_path())
    assert journey.kpi == "revenue" and journey.controls == (PRICE_COLUMN,)
    assert len(journey.touchpoints) == 14
    history = read_history(sample.history_path(), journey, min_weeks=156)
    assert history.n_weeks == 156
    truth = read_model(sample.true_model_path())
    assert truth.ids == journey.ids
    assert {tid: tp.stage for tid, tp in truth.touchpoints.items()} == {
        t.id: t.stage for t in journey.touchpoints
    }
    contributions = pd.read_csv(sample.true_contributions_path())
    assert len(contributions) == 156


@pytest.mark.parametrize(
    "folder", [sample.scenarios_dir(), REPO / "scenarios"], ids=["packaged", "top-level"]
)
@pytest.mark.parametrize("name", SCENARIOS)
def test_example_scenarios_load_against_the_true_model(folder, name):
    sc = load_scenario(folder / name)
    assert Path(sc.model).resolve() == sample.true_model_path().resolve()
    truth = read_model(sc.model)
    check_against_model(sc, {t: tp.stage for t, tp in truth.touchpoints.items()}, STAGES)
    assert sc.horizon_weeks == 13 and sc.objective == "max_kpi"
    first = (folder / name).read_text().splitlines()[0]
    assert first.startswith("# ")


@pytest.mark.parametrize("name", SCENARIOS)
def test_packaged_and_top_level_scenarios_agree(name):
    packaged = yaml.safe_load((sample.scenarios_dir() / name).read_text())
    top = yaml.safe_load((REPO / "scenarios" / name).read_text())
    packaged.pop("model", None)
    top.pop("model", None)
    assert packaged == top
