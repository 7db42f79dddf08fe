"""Two draw sets (``optimizer.response.drawsets``): the plans' draws (model.json ``draws``,
coordinates ``plan_space``, default the transforms and the betas) and the intervals' draws
(model.json ``interval_draws``, coordinates ``interval_space``), written apart when their
coordinates differ. The marginal ROI's printed interval (``marginal_roi_interval_80``, the fit
table's column) is read from the interval draws; the bands of a KPI level (``roi_interval_80``,
the charts' bands, the review's P10-P90) and the plans from ``draws``, which stay the default
fit's bit for bit.

Checked on ``tests.test_fit.make_world``'s three-touchpoint world (120 weeks, 3% noise, truth
known), default point curves (posterior mean).
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from optimizer.response.fit import fit_model
from optimizer.response.model import model_from_dict, model_to_json, read_model
from tests.test_fit import TRUTH, make_world


@pytest.fixture(scope="module")
def world():
    return make_world(n_weeks=120, truth={k: TRUTH[k] for k in ("tv", "search", "social")}, seed=3)


@pytest.fixture(scope="module")
def fits(world):
    """model.json (as dicts) of the one-set fit in the betas (the default before the two sets),
    the two-set fit (intervals in the marginal response), the one-set fit in the marginal response
    and the default fit, 20 draws each; each draw at the fit's own pooling weight
    (``pool_draws="none"``) but the default's (tests/test_pool_draws.py tests the weight's
    posterior)."""
    history, _ = world
    one = {"interval_space": "beta", "plan_space": "beta", "pool_draws": "none"}
    two = {"interval_space": "marginal", "plan_space": "beta", "pool_draws": "none"}
    old = {"plan_space": "marginal", "interval_space": "marginal", "pool_draws": "none"}
    return {
        name: json.loads(model_to_json(fit_model(history, n_bootstrap=20, **kw)))
        for name, kw in (("one", one), ("two", two), ("old", old), ("default", {}))
    }


def _without_draws(doc: dict) -> dict:
    """model.json without what the draws make: both sets, the intervals, the warnings (their
    count of draws), the options' and the uncertainty diagnostics' record of the sets."""
    doc = json.loads(json.dumps(doc))
    for tp in doc["touchpoints"].values():
        tp.pop("draws")
        tp.pop("interval_draws", None)
        for k in ("roi_interval_80", "marginal_roi_interval_80", "warnings"):
            tp["diagnostics"].pop(k, None)
    for k in ("interval_space", "plan_space", "n_interval_draws"):
        doc["fit"]["options"].pop(k, None)
    doc["diagnostics"]["uncertainty"].pop("interval_draws", None)
    return doc


def test_plan_draws_are_the_beta_draws_bit_for_bit(fits):
    """The default fit is the two-set fit; its ``draws`` are the one-set fit's in the betas (the
    plans' input unchanged), its ``interval_draws`` are the one-set fit's in the marginal response (the same
    seed, the same Gaussian steps); everything else in model.json equal; the sets recorded."""
    one, two, old = fits["one"], fits["two"], fits["old"]
    # the default fit: two sets, plans in the betas, its interval draws over the pooling weight
    default = fits["default"]
    assert default["fit"]["options"]["pool_draws"] == "intervals"
    for tid, tp in default["touchpoints"].items():
        assert tp["draws"] == two["touchpoints"][tid]["draws"], tid
        # its ROI interval from the plans' draws where nothing is pooled, else from draws like
        # them each at its own pooling weight (drawsets.roi_set; tests/test_pool_draws.py)
        if tp["diagnostics"].get("roi_interval_draws") != "pooling_posterior":
            assert (
                tp["diagnostics"]["roi_interval_80"]
                == two["touchpoints"][tid]["diagnostics"]["roi_interval_80"]
            ), tid
        assert len(tp["interval_draws"]) == 20, tid
    assert json.dumps(_without_draws(one), sort_keys=True) == json.dumps(
        _without_draws(two), sort_keys=True
    )
    for tid in one["touchpoints"]:
        t1, t2, t3 = one["touchpoints"][tid], two["touchpoints"][tid], old["touchpoints"][tid]
        assert t2["draws"] == t1["draws"], tid
        assert t2["interval_draws"] == t3["draws"], tid
        assert t2["interval_draws"] != t2["draws"], tid
        assert "interval_draws" not in t1 and "interval_draws" not in t3, tid
        # the marginal ROI's interval from the interval draws; the ROI's (a level) from the
        # plans' draws, as before the split
        k = "marginal_roi_interval_80"
        assert t2["diagnostics"][k] == t3["diagnostics"][k], (tid, k)
        assert t2["diagnostics"][k] != t1["diagnostics"][k], (tid, k)
        assert t2["diagnostics"]["roi_interval_80"] == t1["diagnostics"]["roi_interval_80"], tid
    assert two["fit"]["options"]["interval_space"] == "marginal"
    assert "plan_space" not in two["fit"]["options"]
    assert old["fit"]["options"]["plan_space"] == "marginal"
    assert "interval_space" not in old["fit"]["options"]
    assert two["diagnostics"]["uncertainty"]["interval_draws"] == {
        "n_draws": 20,
        "space": "marginal",
        "scale": "linear",
    }
    assert "interval_draws" not in one["diagnostics"]["uncertainty"]


def _mroi_quantiles(tp, x: float, responses) -> list[float]:
    return [
        float(v) for v in np.quantile([float(r.weekly_marginal(x)) for r in responses], [0.1, 0.9])
    ]


def test_printed_interval_comes_from_the_interval_draws(fits):
    """The printed ``marginal_roi_interval_80`` is the 10th-90th percentile of the interval
    draws' marginal ROI at the recent spend (to 1e-12), not the plan draws'; on this world the
    beta draws' 90th percentile sits below the marginal ones' for every touchpoint (the
    second-order bias of ``beta * e(theta)``: measured +0.23 / +0.14 / +0.24 over the point curve
    against +0.39 / +0.41 / +0.77 with 200 draws; ``test_marginal_intervals_...`` below)."""
    model = model_from_dict(fits["two"])
    for tid, tp in model.touchpoints.items():
        recent = float(tp.spend_range["recent"])
        shown = _mroi_quantiles(tp, recent, tp.interval_draw_responses())
        plan = _mroi_quantiles(tp, recent, tp.draw_responses())
        printed = tp.diagnostics["marginal_roi_interval_80"]
        assert printed == pytest.approx(shown, rel=1e-12), tid
        assert printed[1] > plan[1], (tid, printed, plan)


def test_old_model_json_without_interval_draws_reads_as_before(fits, tmp_path):
    """A model.json written before the field (no ``interval_draws``) loads, and its intervals
    come from ``draws`` (the same responses as the plans'); with the field it round-trips bit for
    bit; a malformed field is a ModelError naming it."""
    from optimizer.errors import ModelError

    doc = json.loads(json.dumps(fits["two"]))
    assert model_to_json(model_from_dict(doc)) == model_to_json(model_from_dict(fits["two"]))
    text = model_to_json(model_from_dict(doc))
    assert json.loads(text) == fits["two"]
    for tp in doc["touchpoints"].values():
        tp.pop("interval_draws")
    old = model_from_dict(doc)
    for tp in old.touchpoints.values():
        assert tp.interval_draws == ()
        assert tp.shown_draws == tp.draws
        x = float(tp.spend_range["recent"])
        assert _mroi_quantiles(tp, x, tp.interval_draw_responses()) == _mroi_quantiles(
            tp, x, tp.draw_responses()
        )
    assert "interval_draws" not in json.loads(model_to_json(old))["touchpoints"]["tv"]
    bad = json.loads(json.dumps(fits["two"]))
    bad["touchpoints"]["tv"]["interval_draws"] = {"curve": 1}
    with pytest.raises(ModelError, match=r"touchpoints\.tv\.interval_draws"):
        model_from_dict(bad)


def test_robust_plan_reads_the_plan_draws(fits):
    """``--robust mean`` plans on ``draws`` alone: the two-set model's robust plan is the
    one-set (beta) model's to the cent."""
    from optimizer.scenario import scenario_from_dict
    from optimizer.workflow.robust import robust_plan

    def plan(doc):
        model = model_from_dict(doc)
        total = sum(float(tp.spend_range["mean"]) for tp in model.touchpoints.values()) * 13
        sc = {"name": "q", "model": "m", "horizon_weeks": 13, "budget": round(total)}
        p = robust_plan(scenario_from_dict(sc), model)
        assert p.ok
        return {li.id: round(li.spend, 2) for li in p.line_items}

    assert plan(fits["two"]) == plan(fits["one"])


def _quantiles(model, history, truth) -> dict[str, tuple[float, float, float, float]]:
    """Per touchpoint: the interval draws' 10th, 50th and 90th percentile of the marginal ROI at
    the mean weekly spend, and the truth's, each over the point curve's, minus 1."""
    out = {}
    for tid, tp in model.touchpoints.items():
        x = float(history.spend[tid].mean())
        pt = float(tp.weekly_marginal(x))
        d = np.array([float(r.weekly_marginal(x)) for r in tp.interval_draw_responses()])
        q = np.percentile(d, [10.0, 50.0, 90.0]) / pt - 1.0
        out[tid] = (*(float(v) for v in q), float(truth[tid].weekly_marginal(x)) / pt - 1.0)
    return out


def test_marginal_intervals_are_centred_on_the_point_curve(world):
    """Marginal space: every touchpoint's median marginal ROI over the draws within 10% of the
    point curve's, and the truth inside all three 80% intervals; beta space: every median more
    than 8% below the point curve's (the second-order bias of ``beta * e(theta)``) and one truth
    above its interval. Measured (10th/50th/90th percentile and truth over the point, - 1):
    marginal tv -0.22/+0.07/+0.39 (truth +0.16), search -0.26/+0.03/+0.41 (+0.38), social
    -0.55/+0.07/+0.77 (+0.37); beta tv -0.54/-0.09/+0.23, search -0.46/-0.15/+0.14 (truth
    +0.38: missed), social -0.79/-0.21/+0.24."""
    history, truth = world
    marginal = _quantiles(
        fit_model(history, n_bootstrap=200, interval_space="marginal"), history, truth
    )
    beta = _quantiles(fit_model(history, n_bootstrap=200, interval_space="beta"), history, truth)
    for tid, (lo, mid, hi, t) in marginal.items():
        assert abs(mid) < 0.10, (tid, marginal[tid])
        assert lo <= t <= hi, (tid, marginal[tid])
    assert all(mid < -0.08 for _, mid, _, _ in beta.values()), beta
    assert sum(not lo <= t <= hi for lo, _, hi, t in beta.values()) >= 1, beta


def _level_p95(model, history) -> dict[str, float]:
    """Per touchpoint: the interval draws' 95th percentile of the weekly response at the mean
    weekly spend over the point curve's."""
    out = {}
    for tid, tp in model.touchpoints.items():
        x = float(history.spend[tid].mean())
        d = [float(r.weekly_kpi(x)) for r in tp.interval_draw_responses()]
        out[tid] = float(np.percentile(d, 95.0)) / float(tp.weekly_kpi(x))
    return out


def test_conditional_draws_reach_up_without_inflating_the_level(world):
    """Conditional draws (the betas re-solved at each draw's transforms, ``joint.in_conditional``):
    every touchpoint's 90th percentile of marginal ROI above the beta-space draws' (measured, over
    the point curve's - 1: +0.41 / +0.20 / +0.64 against +0.23 / +0.14 / +0.24), and the level of
    the response at the mean spend not inflated as in the marginal space: every 95th percentile
    below the marginal draws' (measured, over the point curve's: 2.00 / 1.26 / 2.28 against 2.14 /
    2.25 / 2.89)."""
    history, truth = world
    fits = {
        s: fit_model(history, n_bootstrap=200, interval_space=s)
        for s in ("beta", "marginal", "conditional")
    }
    cond = _quantiles(fits["conditional"], history, truth)
    beta = _quantiles(fits["beta"], history, truth)
    for tid in cond:
        assert cond[tid][2] > beta[tid][2], (tid, cond[tid], beta[tid])
    lv_c = _level_p95(fits["conditional"], history)
    lv_m = _level_p95(fits["marginal"], history)
    for tid in lv_c:
        assert lv_c[tid] < lv_m[tid], (tid, lv_c, lv_m)


def test_interval_draws_are_deterministic_counted_and_validated(world):
    """Same inputs, same model.json bit for bit; ``n_interval_draws`` sets how many interval
    draws (the plan draws unchanged), recorded; ``laplace_space="marginal"`` still means one set
    (no ``interval_draws``); bad values are ValueErrors naming the parameter."""
    history, _ = world
    kw = {"interval_space": "marginal", "pool_draws": "none"}
    a = fit_model(history, n_bootstrap=5, **kw)
    b = fit_model(history, n_bootstrap=5, **kw)
    assert model_to_json(a) == model_to_json(b)
    c = fit_model(history, n_bootstrap=5, **kw, n_interval_draws=12)
    for tid, tp in c.touchpoints.items():
        assert len(tp.interval_draws) == 12
        assert tp.draws == a.touchpoints[tid].draws
        assert tp.interval_draws[:5] == a.touchpoints[tid].interval_draws  # same steps, more
    assert c.fit["options"]["n_interval_draws"] == 12
    both = fit_model(history, n_bootstrap=5, laplace_space="marginal", pool_draws="none")
    assert both.fit["options"]["laplace_space"] == "marginal"
    assert "interval_space" not in both.fit["options"]
    assert all(not tp.interval_draws for tp in both.touchpoints.values())
    # drawn over the pooling weight (the default) the interval draws are a set of their own even
    # in the plans' coordinates; the plans' draws are the same
    pooled = fit_model(history, n_bootstrap=5, laplace_space="marginal")
    for tid, tp in pooled.touchpoints.items():
        assert len(tp.interval_draws) == 5 and tp.draws == both.touchpoints[tid].draws, tid
    with pytest.raises(ValueError, match="'interval_space' parameter of fit_model must be one of"):
        fit_model(history, interval_space="log")
    with pytest.raises(ValueError, match="'plan_space' parameter of fit_model must be one of"):
        fit_model(history, plan_space="log")
    with pytest.raises(ValueError, match="'n_interval_draws' parameter of fit_model must be"):
        fit_model(history, n_interval_draws=1)


def test_log_pooling_keeps_the_plan_draws(world):
    """With ``pool_space="log"`` (the point curves and the draws moved by the log-hierarchical
    pooling) the plan draws are still the one-set fit's, bit for bit, and the interval draws are
    written beside them."""
    history, _ = world
    one = fit_model(history, n_bootstrap=5, pool_space="log", interval_space="beta")
    two = fit_model(history, n_bootstrap=5, pool_space="log", interval_space="marginal")
    for tid, tp in two.touchpoints.items():
        assert tp.draws == one.touchpoints[tid].draws, tid
        assert len(tp.interval_draws) == 5 and tp.interval_draws != tp.draws, tid
        assert tp.curve == one.touchpoints[tid].curve, tid


def _write_inputs(history, tmp_path):
    import yaml

    journey = tmp_path / "journey.yaml"
    tps = [{"id": t.id, "stage": t.stage} for t in history.journey.touchpoints]
    journey.write_text(yaml.safe_dump({"kpi": "revenue", "touchpoints": tps}, sort_keys=False))
    hist = tmp_path / "history.csv"
    frame = history.frame.reset_index()
    frame.assign(date=frame["date"].dt.strftime("%Y-%m-%d")).to_csv(hist, index=False)
    return journey, hist


def test_cli_fit_prints_the_interval_from_the_interval_draws(world, tmp_path):
    """The path users take: ``budgetopt fit`` as a subprocess, defaults. model.json carries both
    sets (20 draws each); the table printed under the fit shows, for every touchpoint, the 80%
    interval of marginal ROI that model.json records, which is the interval draws' 10th-90th
    percentile at the recent spend, wider upward than the plan draws' for every touchpoint, and
    says where it comes from; a second run writes the same model.json bit for bit."""
    history, _ = world
    journey, hist = _write_inputs(history, tmp_path)
    outs = []
    for k in range(2):
        out = tmp_path / f"model{k}.json"
        r = subprocess.run(
            [sys.executable, "-m", "optimizer", "fit", "--journey", str(journey), "--history",
             str(hist), "--bootstrap", "20", "-o", str(out)],
            capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        assert r.returncode == 0, r.stderr
        outs.append(out)
    assert outs[0].read_bytes() == outs[1].read_bytes()
    text = " ".join((r.stdout + r.stderr).split())
    assert "interval_draws" in text and "82–95% (80% promised)" in text, text
    assert "each at a pooling strength drawn from its posterior" in text, text
    model = read_model(outs[0])
    assert model.fit["options"]["interval_space"] == "marginal"
    assert model.fit["options"]["pool_draws"] == "intervals"
    for tid, tp in model.touchpoints.items():
        assert len(tp.draws) == 20 and len(tp.interval_draws) == 20, tid
        lo, hi = tp.diagnostics["marginal_roi_interval_80"]
        assert f"{lo:.2f}–{hi:.2f}" in text, tid
        recent = float(tp.spend_range["recent"])
        assert [lo, hi] == pytest.approx(
            _mroi_quantiles(tp, recent, tp.interval_draw_responses()), rel=1e-12
        )
        assert hi > _mroi_quantiles(tp, recent, tp.draw_responses())[1], tid


def test_explain_and_charts_band_the_level_with_the_plan_draws(fits):
    """A KPI level's band (``explain``'s P10-P90 of a line item, the curve chart's band) is read
    from the plans' draws (to 1e-9), not the interval draws: those are Gaussian in the marginal
    return at the mean spend and do not pin the curve's level (a curve saturated at every spend
    seen is a near-constant column the baseline absorbs; on the sample company the interval
    draws put radio's ROI interval at 0-673 and retargeting's band at 14M a week)."""
    from optimizer.explain.sentences import curve_position
    from optimizer.render.charts import curve_figure

    model = model_from_dict(fits["two"])
    for tid, tp in model.touchpoints.items():
        spend = 13 * float(tp.spend_range["mean"])
        pos = curve_position(tp, spend, 13, "revenue")
        shown = [float(d.horizon_kpi(spend, 13)) for d in tp.interval_draw_responses()]
        plan = [float(d.horizon_kpi(spend, 13)) for d in tp.draw_responses()]
        assert (pos.kpi_p10, pos.kpi_p90) == pytest.approx(
            tuple(np.percentile(plan, [10, 90])), rel=1e-9
        )
        assert pos.kpi_p90 != pytest.approx(float(np.percentile(shown, 90)), rel=1e-3), tid
        assert "(P10–P90)" in pos.sentence, pos.sentence
        fig = curve_figure(tp, "revenue")
        band = fig.axes[0].collections[0].get_paths()[0].vertices[:, 1]
        x = np.linspace(0.0, fig.axes[0].get_xlim()[1], 300)
        top = np.percentile([d.weekly_kpi(x) for d in tp.draw_responses()], 90, axis=0)
        assert float(band.max()) == pytest.approx(float(top.max()), rel=1e-9), tid
        import matplotlib.pyplot as plt

        plt.close(fig)


def test_market_pooling_scales_both_draw_sets(fits):
    """``fit --by-market``'s pooling rescales each market's curve towards the national level: the
    interval draws move with it exactly as the plan draws do (each draw's beta times the same
    factor as the curve's, to 1e-12), so the printed intervals stay those of the pooled curve."""
    from optimizer.workflow.pooling import pool_markets

    def scaled(doc, f):
        doc = json.loads(json.dumps(doc))
        for tp in doc["touchpoints"].values():
            for c in [tp["curve"]] + [d["curve"] for d in tp["draws"] + tp["interval_draws"]]:
                c["beta"] *= f
        return model_from_dict(doc)

    models = {"north": scaled(fits["two"], 1.0), "south": scaled(fits["two"], 1.6)}
    pooled, _ = pool_markets(models)
    moved = 0
    for m, model in models.items():
        for tid, tp in model.touchpoints.items():
            new = pooled[m].touchpoints[tid]
            h = new.curve.beta / tp.curve.beta
            moved += abs(h - 1.0) > 1e-6
            assert len(new.interval_draws) == len(tp.interval_draws) == 20
            for old_set, new_set in (
                (tp.draws, new.draws),
                (tp.interval_draws, new.interval_draws),
            ):
                for (s0, _), (s1, _) in zip(old_set, new_set, strict=True):
                    assert s1.beta == pytest.approx(h * s0.beta, rel=1e-12, abs=1e-12), (m, tid)
    assert moved >= 2  # the pooling did move curves


def test_plan_inflate_narrows_the_plan_draws_only(world):
    """``plan_inflate`` scales the plan draws' spread alone: with the plan draws at x 1 (the
    posterior's own) and the default x 2 for the intervals, the interval draws and the printed
    marginal-ROI interval are the default fit's bit for bit, the plan draws' betas spread about
    half as wide (the same Gaussian steps, so the ratio is 1/2 up to the cut at zero and the
    transforms' bounds: checked within 0.35-0.65), and ``fit.options`` records it. In the plan
    draws' own coordinates (``interval_space="beta"``) the interval draws are written apart."""
    history, _ = world
    base = json.loads(model_to_json(fit_model(history, n_bootstrap=20)))
    narrow = json.loads(model_to_json(fit_model(history, n_bootstrap=20, plan_inflate=1.0)))
    assert narrow["fit"]["options"]["plan_inflate"] == 1.0
    assert "plan_inflate" not in base["fit"]["options"]
    for tid, t0 in base["touchpoints"].items():
        t1 = narrow["touchpoints"][tid]
        assert t1["interval_draws"] == t0["interval_draws"], tid
        k = "marginal_roi_interval_80"
        assert t1["diagnostics"][k] == t0["diagnostics"][k], tid
        b0 = np.array([d["curve"]["beta"] for d in t0["draws"]])
        b1 = np.array([d["curve"]["beta"] for d in t1["draws"]])
        ratio = float(np.std(b1) / np.std(b0))
        assert 0.35 < ratio < 0.65, (tid, ratio)
    same = fit_model(history, n_bootstrap=20, interval_space="beta", plan_inflate=1.0)
    for tid, tp in same.touchpoints.items():
        assert tp.interval_draws and tp.interval_draws != tp.draws, tid
    with pytest.raises(ValueError, match="plan_inflate"):
        fit_model(history, n_bootstrap=20, plan_inflate=-1.0)


def test_fixed_plan_draws_hold_the_point_transforms(world):
    """``plan_space="fixed"``: every plan draw has the point curve's decay and shape parameters
    (the transforms held), only the betas vary; the interval draws are the default's."""
    history, _ = world
    base = fit_model(history, n_bootstrap=20)
    fixed = fit_model(history, n_bootstrap=20, plan_space="fixed")
    for tid, tp in fixed.touchpoints.items():
        assert tp.interval_draws == base.touchpoints[tid].interval_draws, tid
        decays = {round(a.decay, 12) for _, a in tp.draws}
        assert decays == {round(tp.adstock.decay, 12)}, tid
        betas = [s.params["beta"] for s, _ in tp.draws]
        assert np.std(betas) > 0, tid
        for s, _ in tp.draws:
            assert s.family == tp.curve.family
            for k, v in s.params.items():
                if k != "beta":
                    assert v == pytest.approx(tp.curve.params[k], rel=1e-9), (tid, k)


def test_log_pooling_keeps_the_plan_draws_spread_apart(monkeypatch):
    """With ``pool_space="log"`` and its draws re-drawn from the hierarchy (``logpool.DRAWS =
    "hierarchy"``: each moved touchpoint's log marginal ROI drawn with the draws' own spread) the
    plan draws must keep ``plan_inflate``'s spread: with it fixed at 2, a wider interval spread
    (``uncertainty_inflate=3``) leaves the plan draws and the point curves the x 2 fit's bit for
    bit and moves only the interval draws. (Four touchpoints: the pooling needs ``MIN_POOLED``.)"""
    from optimizer.response import logpool

    monkeypatch.setattr(logpool, "DRAWS", "hierarchy")
    history, _ = make_world()
    kw = {"n_bootstrap": 20, "pool_space": "log", "plan_inflate": 2.0}
    two = json.loads(model_to_json(fit_model(history, uncertainty_inflate=2.0, **kw)))
    three = json.loads(model_to_json(fit_model(history, uncertainty_inflate=3.0, **kw)))
    assert two["diagnostics"]["pooling"]["log_pooling"]["n_pooled"] >= 4
    for tid, t2 in two["touchpoints"].items():
        t3 = three["touchpoints"][tid]
        assert t3["draws"] == t2["draws"], tid
        assert t3["curve"] == t2["curve"] and t3.get("adstock") == t2.get("adstock"), tid
    assert any(
        three["touchpoints"][t]["interval_draws"] != two["touchpoints"][t]["interval_draws"]
        for t in two["touchpoints"]
    )


def test_fixed_plan_draws_stay_fixed_under_the_decay_grid_posterior(world):
    """``plan_space="fixed"`` with ``decay_posterior="grid"``: the grid posterior draws each
    touchpoint's decay, but fixed plan draws must still hold the point curve's (before the fix
    every one of the 20 draws had its own decay while ``fit.options`` said ``fixed``)."""
    history, _ = world
    fixed = fit_model(history, n_bootstrap=20, plan_space="fixed", decay_posterior="grid")
    assert fixed.fit["options"]["plan_space"] == "fixed"
    for tid, tp in fixed.touchpoints.items():
        assert {round(a.decay, 12) for _, a in tp.draws} == {round(tp.adstock.decay, 12)}, tid


@pytest.mark.parametrize("space", ["plan_space", "interval_space"])
def test_fixed_draws_refuse_the_family_mixture(world, space):
    history, _ = world
    with pytest.raises(ValueError, match="average_families"):
        fit_model(history, n_bootstrap=4, average_families=True, **{space: "fixed"})


def test_plan_inflate_is_not_recorded_for_bootstrap_draws(world):
    """A bootstrap's refits have no spread to scale: ``plan_inflate`` does not apply to them, so
    model.json must not say it did (it did, while the draws were the same as without it)."""
    history, _ = world
    a = fit_model(history, n_bootstrap=2, uncertainty="bootstrap")
    b = fit_model(history, n_bootstrap=2, uncertainty="bootstrap", plan_inflate=1.0)
    assert "plan_inflate" not in b.fit["options"]
    assert model_to_json(a) == model_to_json(b)
