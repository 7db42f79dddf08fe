"""A new touchpoint with no history (issue 17 item 6): a prior curve from an analogue or an explicit
ROI range, carried as draws into --uncertainty/--robust, flagged untested in the table, the JSON,
the uncertainty report (with the EVPPI and test budget) and the review pack."""

from __future__ import annotations

import copy
import json
import math
import subprocess
import sys

import numpy as np
import pytest
import yaml

from optimizer.errors import ModelError
from optimizer.response.model import model_from_dict
from tests.factories import TINY_MODEL

REF = 15_000.0  # the analogue's mean weekly spend


def model_with_prior(prior: dict) -> dict:
    m = copy.deepcopy(TINY_MODEL)
    m["touchpoints"]["search"]["spend_range"] = {"min": 5000.0, "max": 40000.0, "mean": REF}
    m["touchpoints"]["podcasts"] = {"stage": "consideration", "prior": prior}
    return m


def roi_at(tp, x: float) -> float:
    return float(tp.weekly_kpi(x)) / x


def test_prior_from_an_analogue_spans_the_roi_range():
    m = model_from_dict(model_with_prior({"like": "search", "roi_range": [0.5, 2.0]}))
    tp = m.touchpoints["podcasts"]
    search = m.touchpoints["search"]
    assert tp.untested and not search.untested
    # the point curve: the analogue's shape, its ROI at the reference spend the geometric middle
    assert roi_at(tp, REF) == pytest.approx(1.0, rel=1e-12)
    assert tp.curve.family == search.curve.family
    assert tp.curve.params["scale"] == search.curve.params["scale"]
    # 20 draws (the model has none) evenly spread in log over [0.5, 2]: the extreme quantiles
    rois = sorted(roi_at(r, REF) for r in tp.draw_responses())
    assert len(rois) == 20
    assert rois[0] == pytest.approx(0.5 * 4 ** (0.5 / 20), rel=1e-9)
    assert rois[-1] == pytest.approx(0.5 * 4 ** (19.5 / 20), rel=1e-9)
    # no data: the spend range is all zero (plans that fund it warn)
    assert tp.spend_range["max"] == 0.0
    # the same file, the same draws, bit for bit; and it survives a round trip
    again = model_from_dict(model_with_prior({"like": "search", "roi_range": [0.5, 2.0]}))
    assert [d.curve.params for d in again.touchpoints["podcasts"].draw_responses()] == [
        d.curve.params for d in tp.draw_responses()
    ]
    back = model_from_dict(json.loads(json.dumps(m.to_dict())))
    assert back.touchpoints["podcasts"].draws == tp.draws


def test_explicit_roi_range_without_an_analogue():
    m = model_from_dict(model_with_prior({"roi_range": [1.0, 3.0], "half_saturation": 8000}))
    tp = m.touchpoints["podcasts"]
    assert tp.curve.family == "hill" and tp.curve.params["shape"] == 1.0
    assert roi_at(tp, 8000) == pytest.approx(math.sqrt(3.0), rel=1e-12)


@pytest.mark.parametrize(
    ("prior", "field"),
    [
        ({"like": "podcast_ads", "roi_range": [0.5, 2]}, "touchpoints.podcasts.prior.like"),
        ({"like": "search", "roi_range": [2, 0.5]}, "touchpoints.podcasts.prior.roi_range"),
        ({"like": "search", "roi_range": 1.5}, "touchpoints.podcasts.prior.roi_range"),
        ({"roi_range": [0.5, 2]}, "touchpoints.podcasts.prior"),
        (
            {"like": "search", "roi_range": [0.5, 2], "colour": 1},
            "touchpoints.podcasts.prior.colour",
        ),
        ({"like": "tv", "roi_range": [0.5, 2]}, "touchpoints.podcasts.prior.reference_spend"),
    ],
)
def test_bad_priors_are_named(prior, field):
    with pytest.raises(ModelError) as e:
        model_from_dict(model_with_prior(prior))
    assert e.value.field == field, str(e.value)


@pytest.fixture
def world(tmp_path):
    (tmp_path / "model.json").write_text(
        json.dumps(model_with_prior({"like": "search", "roi_range": [1.5, 6.0]}))
    )
    path = tmp_path / "new.yaml"
    path.write_text(
        yaml.safe_dump(
            {"name": "new", "model": "model.json", "horizon_weeks": 13, "budget": 600000}
        )
    )
    return tmp_path, path


def run(tmp_path, *args):
    out = subprocess.run(
        [sys.executable, "-m", "optimizer", *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    return out


def test_optimize_flags_untested_in_json_table_and_warns(world):
    tmp_path, path = world
    out = run(tmp_path, "optimize", str(path), "--format", "json")
    d = json.loads(out.stdout)
    pod = next(li for li in d["line_items"] if li["id"] == "podcasts")
    assert pod["spend"] > 0 and pod["untested"] is True
    assert all("untested" not in li for li in d["line_items"] if li["id"] != "podcasts")
    assert d["untested"][0]["id"] == "podcasts" and d["untested"][0]["roi_range"] == [1.5, 6.0]
    # item 7: a line item whose curve has no data is warned about and listed
    assert "podcasts's curve has no data" in out.stderr
    assert {"id": "podcasts", "kind": "no_data"}.items() <= d["extrapolation"][0].items()
    table = " ".join(run(tmp_path, "optimize", str(path)).stdout.split())
    assert "podcasts is untested: planned on a prior (like search, ROI 1.5 to 6" in table


def test_uncertainty_carries_the_prior_and_recommends_a_lift_test(world):
    tmp_path, path = world
    out = run(tmp_path, "optimize", str(path), "--uncertainty", "--format", "json")
    d = json.loads(out.stdout)
    u = d["uncertainty"]
    (x,) = u["untested"]
    assert x["id"] == "podcasts"
    # the prior's range is wide uncertainty: the re-optimised spend on it moves across the draws
    assert x["spend_p90"] > 1.5 * x["spend_p10"]
    assert x["evppi"] > 0 and x["test_budget"] == pytest.approx(
        next(li["spend_p50"] for li in u["line_items"] if li["id"] == "podcasts")
    )
    table = " ".join(run(tmp_path, "optimize", str(path), "--uncertainty").stdout.split())
    assert "a lift test is worth up to" in table and "test budget" in table


def test_robust_plan_uses_the_prior_draws(world):
    tmp_path, path = world
    point = json.loads(run(tmp_path, "optimize", str(path), "--format", "json").stdout)
    robust = json.loads(
        run(tmp_path, "optimize", str(path), "--robust", "mean", "--format", "json").stdout
    )
    spend = {li["id"]: li["spend"] for li in point["line_items"]}
    rspend = {li["id"]: li["spend"] for li in robust["line_items"]}
    # the mean of the draws is not the point curve (log-even ROIs average above the middle)
    assert not np.isclose(spend["podcasts"], rspend["podcasts"], rtol=1e-3)
    assert any(li.get("untested") for li in robust["line_items"])


def test_review_pack_flags_untested(world):
    tmp_path, path = world
    review = tmp_path / "review.md"
    run(tmp_path, "explain", str(path), "--format", "md", "-o", str(review))
    text = " ".join(review.read_text().split())
    assert "podcasts is untested: planned on a prior" in text


def test_fit_writes_a_journey_prior_into_the_model(tmp_path):
    """The journey way: a touchpoint with a 'prior' needs no history column; fit writes its prior
    (not a fitted curve) into model.json, which then plans it as above."""
    from tests.factories import write_tiny_world

    w = write_tiny_world(tmp_path)
    journey = yaml.safe_load(w["journey"].read_text())
    journey["touchpoints"].append(
        {
            "id": "podcasts",
            "stage": "consideration",
            "prior": {"like": "search", "roi_range": [1.5, 6]},
        }
    )
    w["journey"].write_text(yaml.safe_dump(journey))
    out = tmp_path / "fitted.json"
    run(
        tmp_path,
        "fit",
        "--journey",
        str(w["journey"]),
        "--history",
        str(w["history"]),
        "-o",
        str(out),
        "--bootstrap",
        "3",
        "-q",
    )
    written = json.loads(out.read_text())["touchpoints"]["podcasts"]
    assert "curve" not in written and written["prior"]["like"] == "search"
    assert written["prior"]["draws"] == 3  # as many draws as the fitted touchpoints
    m = model_from_dict(json.loads(out.read_text()))
    assert m.touchpoints["podcasts"].untested and len(m.touchpoints["podcasts"].draws) == 3
    # a bad prior in the journey is named there
    journey["touchpoints"][-1]["prior"] = "search"
    w["journey"].write_text(yaml.safe_dump(journey))
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "optimizer",
            "fit",
            "--journey",
            str(w["journey"]),
            "--history",
            str(w["history"]),
            "-o",
            str(out),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert bad.returncode != 0 and "touchpoints[3].prior" in bad.stderr
    assert "Traceback" not in bad.stderr
