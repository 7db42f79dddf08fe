"""The interval draws integrate over the pooling weight's uncertainty (``pool_draws``, poolpost.py).

Where the empirical-Bayes evidence peaks at full pooling, draws conditional on that one weight put
every touchpoint's marginal ROI at one value. Measured (benchmarks/interval_coverage.py,
docs/response-models-measured.md): on such low-information worlds the 80% intervals held the truth
for 22-32% of touchpoints. ``random_world(8, seed=22)`` pools fully (``at_edge`` 1): its true
marginal ROIs at the mean weekly spend run 0.115-1.485, and conditional on full pooling every
interval is about 0.12-0.29 (2 of 8 truths inside, seed 0, 40 draws); each draw at its own weight
from the weight's posterior puts 8 of 8 inside.
"""

from __future__ import annotations

import json
import tempfile
from typing import Any

import numpy as np
import pytest

from optimizer.data import read_history, read_journey
from optimizer.response import poolpost as PP
from optimizer.response.fit import fit_model
from optimizer.simulate import random_world, simulate, write_world

N_DRAWS = 40


@pytest.fixture(scope="module")
def edge_world(tmp_path_factory: pytest.TempPathFactory) -> Any:
    sim = simulate(random_world(8, seed=22))
    paths = write_world(sim, tmp_path_factory.mktemp("edge"))
    return sim, read_history(paths["history"], read_journey(paths["journey"]))


@pytest.fixture(scope="module")
def fits(edge_world: Any) -> dict[str, Any]:
    _, h = edge_world
    return {
        pd: fit_model(h, seed=0, n_bootstrap=N_DRAWS, pool_draws=pd) for pd in ("none", "intervals")
    }


def _inside(model: Any, sim: Any, history: Any) -> int:
    """How many true marginal ROIs at the mean weekly spend lie inside the central 80% of the
    interval draws (as benchmarks/_fit_measure.covered reads them)."""
    n = 0
    for tid, tp in model.touchpoints.items():
        x = float(history.spend[tid].mean())
        truth = float(sim.truth.touchpoints[tid].weekly_marginal(x))
        lo, hi = np.percentile([float(r.weekly_marginal(x)) for r in tp.interval_draw_responses()],
                               [10, 90])  # fmt: skip
        n += bool(lo <= truth <= hi)
    return n


def _plans_part(model: Any) -> dict[str, Any]:
    """Each touchpoint's plan draws and its curve (what every plan reads)."""
    d = model.to_dict()
    return {
        tid: {
            k: v for k, v in tp.items() if k not in ("interval_draws", "band_draws", "diagnostics")
        }
        for tid, tp in d["touchpoints"].items()
    }


def test_full_pooling_intervals_widen_to_the_touchpoints_differences(edge_world, fits):
    sim, h = edge_world
    none, post = fits["none"], fits["intervals"]
    assert none.diagnostics["pooling"]["at_edge"] == 1.0
    # conditional on full pooling: 2 of 8 truths inside (<= 3 allowed); over the weight's
    # posterior: 8 of 8 (>= 7 required)
    assert _inside(none, sim, h) <= 3
    assert _inside(post, sim, h) >= 7
    # the intervals spread apart: their upper ends differ between touchpoints by a factor > 3
    # (conditional on full pooling every one is 0.28-0.29)
    highs = [tp.diagnostics["marginal_roi_interval_80"][1] for tp in post.touchpoints.values()]
    assert max(highs) > 3 * min(highs)
    # the plans' draws and curves are unchanged
    assert json.dumps(_plans_part(none)) == json.dumps(_plans_part(post))
    # what the fit records: the option, and the posterior of the pooling weight, which sits
    # below the fit's own (full) pooling
    assert post.fit["options"]["pool_draws"] == "intervals"
    assert "pool_draws" not in none.fit["options"]
    posterior = post.diagnostics["pooling"]["posterior"]
    assert posterior["mass_below_fit"] > 0.9
    assert (
        posterior["pool_marginal_equivalent_p10"]
        <= posterior["pool_marginal_equivalent_median"]
        <= posterior["pool_marginal_equivalent_p90"]
        < none.diagnostics["pooling"]["pool_marginal_equivalent"]
    )
    assert "posterior" not in none.diagnostics["pooling"]
    # the full-pooling warning says which intervals it printed
    warned = [w for w in post.diagnostics["warnings"] if "cannot tell" in w]
    assert warned and "carry the pooling strength's uncertainty" in warned[0]
    assert "too narrow" in next(w for w in none.diagnostics["warnings"] if "cannot tell" in w)


def test_roi_interval_carries_the_pooling_weight_too(edge_world, fits):
    """The printed ROI interval (``roi_interval_80``) under ``pool_draws="intervals"`` reads draws
    in the plans' coordinates each at its own pooling weight (``drawsets.roi_set``): on this
    full-pooling world the true ROI over the history (``simulate``'s ``true_roi``, 0.36-4.26) lies
    inside 1 of 8 intervals at the fit's single weight (0.07-0.91, seed 0, 40 draws) and 7 of 8
    over the weight's posterior (upper ends 1.07-4.81: the level pinned, no interval above 5 x
    the largest true ROI); the plans' draws stay bit for bit."""
    sim, _ = edge_world
    none, post = fits["none"], fits["intervals"]

    def inside(model: Any) -> int:
        return sum(
            lo <= float(sim.true_roi[tid]) <= hi
            for tid, tp in model.touchpoints.items()
            for lo, hi in [tp.diagnostics["roi_interval_80"]]
        )

    assert inside(none) <= 2  # measured 1
    assert inside(post) >= 6  # measured 7
    top = 5.0 * float(sim.true_roi.max())
    for tid, tp in post.touchpoints.items():
        lo, hi = tp.diagnostics["roi_interval_80"]
        assert hi < top, (tid, hi)
        assert tp.diagnostics["roi_interval_draws"] == "pooling_posterior", tid
        assert "roi_interval_draws" not in none.touchpoints[tid].diagnostics, tid
    assert json.dumps(_plans_part(none)) == json.dumps(_plans_part(post))


def test_pool_draws_are_deterministic_and_follow_the_seed(edge_world, fits):
    _, h = edge_world
    again = fit_model(h, seed=0, n_bootstrap=N_DRAWS, pool_draws="intervals")
    assert json.dumps(again.to_dict(), sort_keys=True) == json.dumps(
        fits["intervals"].to_dict(), sort_keys=True
    )
    other = fit_model(h, seed=1, n_bootstrap=N_DRAWS, pool_draws="intervals")
    tid = next(iter(other.touchpoints))
    a = other.to_dict()["touchpoints"][tid]["interval_draws"]
    b = fits["intervals"].to_dict()["touchpoints"][tid]["interval_draws"]
    assert a != b


def test_all_moves_the_plans_draws_too(edge_world, fits):
    _, h = edge_world
    every = fit_model(h, seed=0, n_bootstrap=N_DRAWS, pool_draws="all")
    assert json.dumps(_plans_part(every)) != json.dumps(_plans_part(fits["none"]))
    assert every.fit["options"]["pool_draws"] == "all"


def test_draw_omegas_is_stratified_and_seeded():
    grid, w = (1.0, 2.0, 4.0, 8.0), (0.1, 0.4, 0.3, 0.2)
    om = PP.draw_omegas(grid, w, 50, seed=3)
    counts = [int((om == g).sum()) for g in grid]
    assert counts == [5, 20, 15, 10]  # exactly the weights' shares of 50 (stratified)
    assert np.array_equal(om, PP.draw_omegas(grid, w, 50, seed=3))
    other = PP.draw_omegas(grid, w, 50, seed=4)
    assert sorted(other) == sorted(om) and not np.array_equal(other, om)


def test_pool_draws_is_checked(edge_world):
    _, h = edge_world
    with pytest.raises(ValueError, match="'pool_draws' parameter of fit_model must be one of"):
        fit_model(h, seed=0, n_bootstrap=4, pool_draws="plans")


def test_default_is_intervals(edge_world, fits):
    """The default fit is ``pool_draws="intervals"`` (bit for bit)."""
    _, h = edge_world
    default = fit_model(h, seed=0, n_bootstrap=N_DRAWS)
    assert json.dumps(default.to_dict(), sort_keys=True) == json.dumps(
        fits["intervals"].to_dict(), sort_keys=True
    )


def test_with_the_decay_grid_posterior(edge_world):
    """``decay_posterior="grid"`` draws each weight's group with the decay profiles: the
    intervals still widen at full pooling, the same seed gives the same model bit for bit."""
    sim, h = edge_world
    a = fit_model(h, seed=0, n_bootstrap=N_DRAWS, decay_posterior="grid")
    b = fit_model(h, seed=0, n_bootstrap=N_DRAWS, decay_posterior="grid")
    assert json.dumps(a.to_dict(), sort_keys=True) == json.dumps(b.to_dict(), sort_keys=True)
    assert a.fit["options"]["pool_draws"] == "intervals"
    assert _inside(a, sim, h) >= 7


def test_fit_table_note_names_the_coverage_of_its_intervals(fits):
    """The note under the fit's table: 82-95% for intervals drawn over the pooling weight's
    posterior (interval_coverage.py's eight sets), the old 64-91% where they are not."""
    from rich.console import Console

    from optimizer.render.diagnostics import diagnostics_renderable

    def text(model: Any) -> str:
        console = Console(width=400, record=True)
        console.print(diagnostics_renderable(model))
        return " ".join(console.export_text().split())

    post, none = text(fits["intervals"]), text(fits["none"])
    assert "82–95% (80% promised)" in post and "drawn from its posterior" in post
    assert "64–91% (80% promised)" in none and "drawn from its posterior" not in none


def test_fit_table_note_without_a_posterior_does_not_claim_one():
    """A fit with nothing to pool (one touchpoint: pooling weight 0, no posterior in
    ``diagnostics.pooling``) records ``pool_draws`` but draws plain Laplace draws: the note must not
    say they were drawn at pooling strengths from a posterior (the reviewer's reproduction)."""
    from rich.console import Console

    from optimizer.render.diagnostics import diagnostics_renderable

    sim = simulate(random_world(1, seed=3))

    paths = write_world(sim, tempfile.mkdtemp())
    h = read_history(paths["history"], read_journey(paths["journey"]))
    model = fit_model(h, seed=0, n_bootstrap=10)
    assert model.fit["options"]["pool_draws"] == "intervals"
    assert not (model.diagnostics.get("pooling") or {}).get("posterior")
    console = Console(width=400, record=True)
    console.print(diagnostics_renderable(model))
    text = " ".join(console.export_text().split())
    assert "drawn from its posterior" not in text and "82–95%" not in text
