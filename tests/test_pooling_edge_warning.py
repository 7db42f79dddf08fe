"""A fit whose pooling evidence peaks at full pooling says so (model-level warning).

Where the evidence for the pooling weight is highest at the top of its grid, the fit puts every
pooled touchpoint's marginal ROI at one value: the data cannot tell them apart. Measured
(benchmarks/interval_coverage.py, docs/response-models-measured.md): on such low-information
worlds the printed 80% marginal-ROI intervals held the truth for 22-32% of touchpoints, against
92-94% on the other worlds of the same sets. ``random_world(8, seed=22)`` pools fully
(``pool_marginal_equivalent`` 1e5, the grid's top); ``seed=3`` does not (0.018).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from optimizer.data import read_history, read_journey
from optimizer.response.fit import fit_model
from optimizer.simulate import random_world, simulate, write_world

WARNING = "the data cannot tell the touchpoints' marginal returns apart"


@pytest.mark.parametrize(("seed", "full"), [(22, True), (3, False)])
def test_full_pooling_is_warned_about(tmp_path: Path, seed: int, full: bool) -> None:
    paths = write_world(simulate(random_world(8, seed=seed)), tmp_path)
    history = read_history(paths["history"], read_journey(paths["journey"]))
    model = fit_model(history, seed=0)
    pooling = model.diagnostics["pooling"]
    assert bool(pooling["at_edge"]) is full
    warned = [w for w in model.diagnostics["warnings"] if WARNING in w]
    assert bool(warned) is full, model.diagnostics["warnings"]
    if full:
        assert pooling["pool_marginal_equivalent"] > 1e4  # the top of the grid, not its bottom
        assert "historical mix" in warned[0]
