"""Calibrating a fit to lift tests (``fit_model(calibration=...)``, ``budgetopt fit --calibration``).

The world: tv, social and search over 156 weeks with 3% noise; social's weekly spend is tv's times
0.75 times lognormal noise (sd 0.15), so the two are nearly collinear (spend correlation 0.973,
below the 0.98 at which the fitter gives up on them) and the history alone cannot split their
effects. Truth (marginal ROI at the mean weekly spend, steady state): tv 0.444, social 0.324.
One lift test per channel is simulated from the TRUE curves: +30% of the mean weekly spend for 4
weeks, the measured lift drawn with a standard error of 10% of the true lift.

Measured (2026-11-23, world seeds 0-9, seed 6 tested): without calibration the marginal ROIs of
tv and social are off by -60% and +73%; with the two lift tests by -22% and +6%. Over seeds 0-9
calibration brings the worse of the two within 25% in 5 of 10 worlds (3 of 10 without; the worse
error with the tests is 7% to 42%, median 24%). Seed 5 crosses the 0.98 correlation: the history
drops both channels (-100%), the tests keep them (+1%, -12%). (Before tested touchpoints were
exempted from the ridge and the pooling, 6 of the 9 worlds other than seed 5 were within 25%,
seed 6 at +3% / -16%: which shape the search picks for social moves with such details; over the
30 benchmark worlds the exemption helps, see docs/response-models.md.) The test asserts each
within ``CAL_TOLERANCE`` = 30% with the tests and the worse error smaller than without.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from optimizer.cli import cli
from optimizer.data import History, LiftTest, read_calibration, read_history, read_journey
from optimizer.errors import DataError
from optimizer.response.fit import fit_model
from optimizer.response.model import TouchpointResponse, model_to_json
from tests.test_fit import _flighted, make_world

TRUTH = {
    "tv": (
        "awareness",
        40000.0,
        0.5,
        "hill",
        {"beta": 90000.0, "half_saturation": 60000.0, "shape": 0.8},
    ),
    "social": (
        "consideration",
        30000.0,
        0.3,
        "hill",
        {"beta": 40000.0, "half_saturation": 40000.0, "shape": 1.0},
    ),
    "search": ("consideration", 20000.0, 0.1, "exponential", {"beta": 70000.0, "scale": 25000.0}),
}
SEED = 6
#: relative error of the marginal ROI at the mean weekly spend, calibrated (the grid fitter
#: measured -22% / +6% here, the MAP fitter -13% / +28%: it splits the two better without the
#: tests, -17% / +41% against -60% / +73%)
CAL_TOLERANCE = 0.30
UNCAL_MISS = 0.50  # without calibration the worse of the two is at least this far off
LOCKSTEP_TOLERANCE = 0.40  # lock-step touchpoints kept for their tests (see the test)
CONSTANT_TOLERANCE = 0.30  # a constant-spend touchpoint kept for its test (see the test)


def collinear_world(seed: int = SEED) -> tuple[History, dict[str, TouchpointResponse]]:
    rng = np.random.default_rng(100 + seed)
    tv = _flighted(rng, 156, 40000.0)
    social = tv * 0.75 * np.exp(rng.normal(0.0, 0.15, 156))
    return make_world(seed=seed, truth=TRUTH, extra={"tv": tv, "social": social}, noise=0.03)


def true_lift(tp: TouchpointResponse, x: np.ndarray, delta: np.ndarray) -> float:
    a0, a1 = tp.adstock.transform(x), tp.adstock.transform(x + delta)
    return float(np.sum(tp.curve(a1) - tp.curve(a0)))


def lift_tests(
    history: History,
    truth: dict[str, TouchpointResponse],
    seed: int = SEED,
    tids: tuple[str, ...] = ("tv", "social"),
) -> list[LiftTest]:
    rng = np.random.default_rng(seed)
    dates = [d.date().isoformat() for d in history.frame.index]
    out = []
    for tid in tids:
        first = int(rng.integers(20, 140))
        last = first + 3
        x = history.frame[tid].to_numpy()
        d = np.zeros_like(x)
        d[first : last + 1] = 0.3 * x.mean()
        lift = true_lift(truth[tid], x, d)
        se = 0.1 * lift
        out.append(
            LiftTest(
                tid,
                dates[first],
                dates[last],
                first,
                last,
                float(d.sum()),
                lift + float(rng.normal(0.0, se)),
                se,
                row=len(out) + 2,
            )
        )
    return out


def marginal_errors(model, history, truth, tids=("tv", "social")) -> dict[str, float]:
    out = {}
    for tid in tids:
        xm = float(history.frame[tid].mean())
        out[tid] = (
            float(model.touchpoints[tid].weekly_marginal(xm))
            / float(truth[tid].weekly_marginal(xm))
            - 1.0
        )
    return out


@pytest.fixture(scope="module")
def world():
    history, truth = collinear_world()
    return history, truth, lift_tests(history, truth)


def test_world_is_nearly_collinear(world):
    history, _, _ = world
    corr = float(np.corrcoef(history.frame["tv"], history.frame["social"])[0, 1])
    assert 0.95 < corr < 0.98


def test_lift_tests_recover_the_marginal_roi_of_collinear_channels(world):
    history, truth, tests = world
    plain = fit_model(history, seed=0, n_bootstrap=0)
    cal = fit_model(history, seed=0, n_bootstrap=0, calibration=tests)
    e_plain = marginal_errors(plain, history, truth)
    e_cal = marginal_errors(cal, history, truth)
    # the history alone splits the two poorly (the grid fitter: worse of the two -60% / +73%,
    # beyond UNCAL_MISS; the MAP fit: -17% / +41%); the tests do better than either
    assert max(abs(v) for v in e_plain.values()) > max(abs(v) for v in e_cal.values()), e_plain
    for tid, e in e_cal.items():
        assert abs(e) <= CAL_TOLERANCE, (tid, e_cal)
    # the calibrated model agrees with the experiments
    for t in cal.diagnostics["calibration"]["tests"]:
        assert t["used"] and abs(t["z"]) < 2.0


def test_calibration_diagnostics_and_determinism(world):
    history, _, tests = world
    a = fit_model(history, seed=3, n_bootstrap=6, calibration=tests)
    b = fit_model(history, seed=3, n_bootstrap=6, calibration=list(tests))
    assert model_to_json(a) == model_to_json(b)
    cal = a.diagnostics["calibration"]
    assert cal["n_tests"] == cal["n_used"] == 2
    assert cal["noise_sd"] > 0 and cal["chi2"] >= 0
    for row, t in zip(cal["tests"], tests, strict=True):
        assert row["touchpoint"] == t.touchpoint and row["kpi_lift"] == t.kpi_lift
        assert row["z"] == pytest.approx((t.kpi_lift - row["model_lift"]) / t.kpi_lift_se)
        lo, hi = row["model_lift_interval_80"]
        assert lo <= hi
    assert a.fit["options"]["calibration_tests"] == 2
    # without calibration nothing about it is recorded
    plain = fit_model(history, seed=3, n_bootstrap=0)
    assert "calibration" not in plain.diagnostics
    assert "calibration_tests" not in plain.fit["options"]


def test_tests_of_another_kpi_are_ignored(world):
    history, _, tests = world
    other = [
        LiftTest(
            t.touchpoint,
            t.start,
            t.end,
            t.first,
            t.last,
            t.spend_delta,
            t.kpi_lift,
            t.kpi_lift_se,
            kpi="leads",
        )
        for t in tests
    ]
    plain = fit_model(history, seed=0, n_bootstrap=0)
    m = fit_model(history, seed=0, n_bootstrap=0, calibration=other)
    assert model_to_json(m) == model_to_json(plain)


# ------------------------------------------------------------------------------------------------
# touchpoints the history cannot identify, kept for their lift tests
# ------------------------------------------------------------------------------------------------
def lockstep_world(seed: int = SEED) -> tuple[History, dict[str, TouchpointResponse]]:
    """``collinear_world`` with social's lognormal noise cut to sd 0.05: spend correlation
    0.997, beyond the 0.98 at which the fitter drops both (history alone: beta 0)."""
    rng = np.random.default_rng(100 + seed)
    tv = _flighted(rng, 156, 40000.0)
    social = tv * 0.75 * np.exp(rng.normal(0.0, 0.05, 156))
    return make_world(seed=seed, truth=TRUTH, extra={"tv": tv, "social": social}, noise=0.03)


def test_lockstep_touchpoints_are_kept_for_their_lift_tests():
    """Truth: marginal ROI at the mean weekly spend tv 0.444, social 0.324 (as above). Without
    tests both are dropped (beta 0, their joint effect a nuisance column); with one test each
    both are kept, their betas from the tests. Measured (2026-11-23, world seeds 0-7): marginal
    ROI errors tv -4% to +13%, social -39% to +36% (seed 6: +9%, -28%): the tests fix the
    betas, the shapes come from the prior and the search, and social's is the less certain.
    Tolerance ``LOCKSTEP_TOLERANCE`` = 40%."""
    history, truth = lockstep_world()
    assert float(np.corrcoef(history.frame["tv"], history.frame["social"])[0, 1]) > 0.98
    tests = lift_tests(history, truth)
    plain = fit_model(history, seed=0, n_bootstrap=0)
    for tid in ("tv", "social"):
        assert plain.touchpoints[tid].curve.params["beta"] == 0.0
        assert not plain.touchpoints[tid].diagnostics["identifiable"]
    cal = fit_model(history, seed=0, n_bootstrap=4, calibration=tests)
    for tid, e in marginal_errors(cal, history, truth).items():
        d = cal.touchpoints[tid].diagnostics
        assert cal.touchpoints[tid].curve.params["beta"] > 0
        assert not d["identifiable"] and d["identified_by"] == "lift tests"
        assert any("kept because 1 lift test(s) measure it" in w for w in d["warnings"])
        assert abs(e) <= LOCKSTEP_TOLERANCE, (tid, e)
    assert cal.fit["unattributed"] == []  # no nuisance column left: both are attributed
    cdiag = cal.diagnostics["calibration"]
    assert cdiag["n_used"] == 2
    for t in cdiag["tests"]:
        assert t["used"] and abs(t["z"]) < 2.0
    assert any("kept for their lift tests" in w for w in cal.diagnostics["warnings"])


def test_untested_lockstep_partner_stays_a_nuisance_column():
    history, truth = lockstep_world()
    cal = fit_model(
        history, seed=0, n_bootstrap=0, calibration=lift_tests(history, truth, tids=("tv",))
    )
    assert cal.touchpoints["tv"].diagnostics["identified_by"] == "lift tests"
    assert cal.touchpoints["tv"].curve.params["beta"] > 0
    assert cal.touchpoints["social"].curve.params["beta"] == 0.0
    assert "identified_by" not in cal.touchpoints["social"].diagnostics
    assert [u["members"] for u in cal.fit["unattributed"]] == [["social"]]
    assert cal.diagnostics["calibration"]["tests"][0]["used"]


def test_constant_spend_touchpoint_gets_its_beta_from_its_test():
    """Search's spend is 20,000 every week (coefficient of variation 0: not identifiable); truth
    exponential, scale 25,000, decay 0.1, beta 70,000 (marginal ROI at the mean 1.27). One test
    (+30% for 4 weeks, se 10%) gives it a beta. Measured (2026-11-23, world seeds 0-7):
    marginal ROI error -25% to +18% (seed 6: +18%); before the tested touchpoint was exempted
    from the ridge and the pooling of marginal ROIs it was -26% to -46%, shrunk towards the
    others. Tolerance ``CONSTANT_TOLERANCE`` = 30%."""
    history, truth = make_world(
        seed=SEED, truth=TRUTH, extra={"search": np.full(156, 20000.0)}, noise=0.03
    )
    plain = fit_model(history, seed=0, n_bootstrap=0)
    assert plain.touchpoints["search"].curve.params["beta"] == 0.0
    tests = lift_tests(history, truth, tids=("search",))
    cal = fit_model(history, seed=0, n_bootstrap=0, calibration=tests)
    d = cal.touchpoints["search"].diagnostics
    assert d["identified_by"] == "lift tests" and "barely varies" in d["reason"]
    row = cal.diagnostics["calibration"]["tests"][0]
    assert row["used"] and abs(row["z"]) < 2.0
    e = marginal_errors(cal, history, truth, ("search",))["search"]
    assert abs(e) <= CONSTANT_TOLERANCE, e


def test_draws_of_a_tested_touchpoint_carry_the_tests_standard_error():
    """Search's spend is constant, so the history says nothing about it and its one lift test is
    all that is known: across the bootstrap draws, the lift the model predicts for that test must
    spread as widely as the test's standard error. Each draw perturbs the measured lift by one
    standard error (and the priors by theirs), so the draws' sd / se is sqrt(chi2_99 / 99): with
    100 draws it lies in [0.78, 1.24] with probability 99.8%; measured 1.00 (2026-11-23; 1.04 with
    200 draws before the shape prior was perturbed too). Without the perturbation every draw refits
    the same test and the ratio is 0.03
    (the test fails): the draws then claim to know search's effect 30 times better than the
    experiment measured it."""
    history, truth = make_world(
        seed=SEED, truth=TRUTH, extra={"search": np.full(156, 20000.0)}, noise=0.03
    )
    tests = lift_tests(history, truth, tids=("search",))
    t = tests[0]
    x = history.frame["search"].to_numpy()
    d = t.delta(len(x))
    ratios = {}
    for perturb in (True, False):
        m = fit_model(
            history, seed=0, n_bootstrap=100, calibration=tests, bootstrap_perturb=perturb
        )
        lifts = [true_lift(r, x, d) for r in m.touchpoints["search"].draw_responses()]
        assert len(lifts) == 100
        ratios[perturb] = float(np.std(lifts, ddof=1)) / t.kpi_lift_se
    assert 0.75 <= ratios[True] <= 1.3, ratios
    assert ratios[False] < 0.2, ratios  # the old, overconfident draws


def test_touchpoint_without_spend_cannot_be_kept():
    """No spend in any week: no curve scale to fit (it is relative to the mean spend), so its
    test is reported, not used."""
    history, truth = make_world(seed=SEED, truth=TRUTH, extra={"search": np.zeros(156)}, noise=0.03)
    x = history.frame["search"].to_numpy()
    t = LiftTest(
        "search",
        str(history.frame.index[40].date()),
        str(history.frame.index[43].date()),
        40,
        43,
        24000.0,
        30000.0,
        3000.0,
        row=2,
    )
    assert x.max() == 0
    cal = fit_model(history, seed=0, n_bootstrap=0, calibration=[t])
    assert cal.touchpoints["search"].curve.params["beta"] == 0.0
    assert not cal.diagnostics["calibration"]["tests"][0]["used"]


# ------------------------------------------------------------------------------------------------
# the calibration file
# ------------------------------------------------------------------------------------------------
HEADER = "touchpoint,start,end,spend_delta,kpi_lift,kpi_lift_se\n"


def _write(tmp_path, text: str):
    p = tmp_path / "lifts.csv"
    p.write_text(text)
    return p


def test_read_calibration_ok(tmp_path, world):
    history, _, _ = world
    p = _write(
        tmp_path,
        HEADER + "tv,2022-03-07,2022-03-28,48000,30000,3000\n"
        "social,2022-06-06,2022-06-06,9000,5000,800\n",
    )
    tests = read_calibration(p, history)
    assert [t.touchpoint for t in tests] == ["tv", "social"]
    assert tests[0].weeks == 4 and tests[0].row == 2
    assert tests[0].delta(history.n_weeks).sum() == pytest.approx(48000)
    assert np.count_nonzero(tests[0].delta(history.n_weeks)) == 4


@pytest.mark.parametrize(
    ("text", "field", "words"),
    [
        (
            HEADER + "radio,2022-03-07,2022-03-28,48000,30000,3000\n",
            "touchpoint",
            ["row 2", "'radio'", "not a touchpoint"],
        ),
        (
            HEADER + "tv,2019-03-04,2019-03-25,48000,30000,3000\n",
            "start",
            ["row 2", "2019-03-04", "outside the history"],
        ),
        (
            HEADER + "tv,2022-03-07,2030-01-07,48000,30000,3000\n",
            "end",
            ["row 2", "2030-01-07", "outside the history"],
        ),
        (
            HEADER + "tv,2022-03-08,2022-03-28,48000,30000,3000\n",
            "start",
            ["2022-03-08", "not one of the history's weeks"],
        ),
        (HEADER + "tv,2022-03-28,2022-03-07,48000,30000,3000\n", "start", ["after"]),
        (
            HEADER + "tv,2022-03-07,2022-03-28,48000,30000,-3000\n",
            "kpi_lift_se",
            ["row 2", "> 0", "-3000"],
        ),
        (HEADER + "tv,2022-03-07,2022-03-28,48000,30000,0\n", "kpi_lift_se", ["> 0"]),
        (
            HEADER + "tv,2022-03-07,2022-03-28,lots,30000,3000\n",
            "spend_delta",
            ["not a finite number", "'lots'"],
        ),
        (HEADER + "tv,2022-03-07,2022-03-28,0,30000,3000\n", "spend_delta", ["is 0"]),
        (HEADER + "tv,2022-03-07,2022-03-28,48000,,3000\n", "kpi_lift", ["missing"]),
        (
            "touchpoint,start,end,spend_delta,kpi_lift\ntv,2022-03-07,2022-03-28,48000,30000\n",
            "kpi_lift_se",
            ["no 'kpi_lift_se' column"],
        ),
        (
            "touchpoint,start,end,spend_delta,kpi_lift,kpi_lift_se,notes\n"
            "tv,2022-03-07,2022-03-28,48000,30000,3000,x\n",
            "notes",
            ["unknown column"],
        ),
        (
            "touchpoint,start,end,spend_delta,kpi_lift,kpi_lift_se,kpi\n"
            "tv,2022-03-07,2022-03-28,48000,30000,3000,profit\n",
            "kpi",
            ["unknown KPI 'profit'"],
        ),
        (HEADER, None, ["no lift tests"]),
        ("", None, ["empty"]),
    ],
)
def test_bad_calibration_files(tmp_path, world, text, field, words):
    history, _, _ = world
    p = _write(tmp_path, text)
    with pytest.raises(DataError) as e:
        read_calibration(p, history)
    msg = str(e.value)
    assert str(p) in msg
    assert e.value.field == field
    for w in words:
        assert w in msg, msg


def test_negative_delta_may_not_take_spend_below_zero(tmp_path, world):
    history, _, _ = world
    x = history.frame["tv"]
    week = x.index[int(np.argmin(x.to_numpy()))].date().isoformat()
    p = _write(tmp_path, HEADER + f"tv,{week},{week},-1,30000,3000\n")
    if float(x.min()) >= 1:
        read_calibration(p, history)  # a cut within the spend is fine
    p = _write(tmp_path, HEADER + f"tv,{week},{week},{-float(x.min()) - 100},30000,3000\n")
    with pytest.raises(DataError, match="below zero"):
        read_calibration(p, history)


def test_missing_calibration_file(tmp_path, world):
    history, _, _ = world
    with pytest.raises(DataError, match="does not exist"):
        read_calibration(tmp_path / "nope.csv", history)


# ------------------------------------------------------------------------------------------------
# the CLI
# ------------------------------------------------------------------------------------------------
def test_cli_fit_calibration_writes_diagnostics(tmp_path, world):
    history, _, tests = world
    journey = tmp_path / "journey.yaml"
    journey.write_text(
        yaml.safe_dump(
            {
                "kpi": "revenue",
                "touchpoints": [
                    {"id": "tv", "stage": "awareness"},
                    {"id": "social", "stage": "consideration"},
                    {"id": "search", "stage": "consideration"},
                ],
            },
            sort_keys=False,
        )
    )
    hist = tmp_path / "history.csv"
    history.frame.reset_index().assign(date=lambda f: f["date"].dt.strftime("%Y-%m-%d")).to_csv(
        hist, index=False
    )
    lifts = tmp_path / "lifts.csv"
    lifts.write_text(
        HEADER
        + "".join(
            f"{t.touchpoint},{t.start},{t.end},{t.spend_delta!r},{t.kpi_lift!r},{t.kpi_lift_se!r}\n"
            for t in tests
        )
    )
    out = tmp_path / "model.json"
    r = CliRunner().invoke(
        cli,
        [
            "fit",
            "--journey",
            str(journey),
            "--history",
            str(hist),
            "--calibration",
            str(lifts),
            "--bootstrap",
            "3",
            "-o",
            str(out),
        ],
    )
    assert r.exit_code == 0, r.output
    assert "calibration: 2 of 2 lift test(s) used" in r.output
    assert "--robust mean" in r.output  # the hint to plan on the draws
    data = json.loads(out.read_text())
    # the printed table shows each touchpoint's marginal-ROI interval from model.json, with the
    # measured coverage of such intervals (a fit with lift tests: Laplace draws for the untested
    # touchpoints, the refits spread x uncertainty_inflate for the tested, since 2026-12-07)
    text = " ".join(r.output.split())
    assert "mROI 80% interval" in text and "three lift tests" in text and "80% promised" in text
    for tid, tp in data["touchpoints"].items():
        lo, hi = tp["diagnostics"]["marginal_roi_interval_80"]
        assert f"{lo:.2f}–{hi:.2f}" in text, tid
    cal = data["diagnostics"]["calibration"]
    assert [t["touchpoint"] for t in cal["tests"]] == ["tv", "social"]
    assert all("z" in t and "model_lift" in t for t in cal["tests"])
    # the same fit through the API gives the same model
    direct = fit_model(
        read_history(hist, read_journey(journey)), seed=0, n_bootstrap=3, calibration=lifts
    )
    assert direct.diagnostics["calibration"]["tests"][0]["model_lift"] == pytest.approx(
        cal["tests"][0]["model_lift"], rel=1e-12
    )

    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "radio,2022-03-07,2022-03-28,48000,30000,3000\n")
    r = CliRunner().invoke(
        cli,
        [
            "fit",
            "--journey",
            str(journey),
            "--history",
            str(hist),
            "--calibration",
            str(bad),
            "-o",
            str(tmp_path / "m2.json"),
        ],
    )
    assert r.exit_code != 0
    assert "radio" in r.output and "Traceback" not in r.output


def _simulated_tests(history: History, truth, n_per_tp: int, seed: int) -> list[LiftTest]:
    """``n_per_tp`` lift tests per touchpoint from the TRUE curves, as the benchmark simulates
    them: +30% of the mean weekly spend for 4 weeks from a random week, the true lift measured
    with a standard error of 10% of it."""
    rng = np.random.default_rng(seed)
    frame = history.frame
    n = len(frame)
    dates = [d.date().isoformat() for d in frame.index]
    out = []
    for tid, tp in truth.touchpoints.items():
        x = frame[tid].to_numpy(dtype=float)
        for _ in range(n_per_tp):
            first = int(rng.integers(0, n - 3))
            d = np.zeros(n)
            d[first : first + 4] = 0.3 * x.mean()
            lift = true_lift(tp, x, d)
            se = 0.1 * abs(lift)
            out.append(
                LiftTest(
                    tid,
                    dates[first],
                    dates[first + 3],
                    first,
                    first + 3,
                    float(d.sum()),
                    lift + float(rng.normal(0.0, se)),
                    se,
                )
            )
    return out


def test_robust_plan_on_a_calibrated_fit_captures_the_uplift(tmp_path):
    """Decision regret with experiments: ``random_world(8, seed=35)`` with 3 simulated lift tests
    per touchpoint (seed 2); a 13-week budget-only plan at the historical mean budget, judged on
    the true curves. Measured (2026-11-23): the plan for the expected KPI over the draws
    (``--robust mean``) captures 97.4% of the uplift the true optimum has over the historical mix,
    the plan on the point estimate 84.7%; with the draws of before (``bootstrap_perturb=False``:
    neither the priors, the shape prior nor the tests perturbed) the robust plan got 79.5%.
    Asserted: the robust plan >= 90%, and >= 10 points above the unperturbed draws' (the benchmark
    measures it on 30 worlds: 21 of 30 >= 90%, 93.6% pooled)."""
    from optimizer.allocate import allocate
    from optimizer.scenario import scenario_from_dict
    from optimizer.simulate import random_world, simulate, write_world
    from optimizer.workflow.robust import robust_plan

    world = simulate(random_world(8, seed=35))
    paths = write_world(world, tmp_path)
    history = read_history(paths["history"], read_journey(paths["journey"]))
    tests = _simulated_tests(history, world.truth, 3, seed=2)
    means = history.spend.mean()
    budget = 13 * float(means.sum())
    sc = scenario_from_dict(
        {"name": "mean budget", "model": "-", "horizon_weeks": 13, "budget": budget}
    )

    def true_kpi(plan_or_spend) -> float:
        spend = (
            plan_or_spend
            if isinstance(plan_or_spend, dict)
            else {li.id: li.spend for li in plan_or_spend.line_items}
        )
        return sum(float(world.truth.touchpoints[t].horizon_kpi(s, 13)) for t, s in spend.items())

    best = true_kpi(allocate(sc, world.truth))
    hist = true_kpi({t: budget * float(means[t]) / float(means.sum()) for t in means.index})
    captured = {}
    for perturb in (True, False):
        model = fit_model(
            history,
            seed=0,
            n_bootstrap=20,
            calibration=tests,
            bootstrap_perturb=perturb,
            method="grid",
        )
        captured[perturb] = (true_kpi(robust_plan(sc, model)) - hist) / (best - hist)
    assert captured[True] >= 0.90, captured
    assert captured[True] >= captured[False] + 0.10, captured
    # the MAP fitter (the default) on the same world and tests, measured 2026-12-06: plan on the
    # point curves 85.4% (grid 84.7%), robust plan 80.2% (grid 97.4%: not matched yet); the same
    # with zero-beta point curves (Laplace draws instead of the bootstrap: robust 72.7%)
    model = fit_model(history, seed=0, n_bootstrap=20, calibration=tests)
    assert (true_kpi(allocate(sc, model)) - hist) / (best - hist) >= 0.80
    assert (true_kpi(robust_plan(sc, model)) - hist) / (best - hist) >= 0.75
