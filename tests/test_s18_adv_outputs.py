"""S18 adversarial pass: ``-o FILE`` naming a file the run reads is refused before anything runs
(exit 2, both named), through the CLI: over markets a market's model file (``m1.json``) sits
beside scenarios and plans, and ``optimize s.yaml -o m1.json`` replaced the market's curves with
a plan (the next run then failed: 'the model file is empty' / not a model)."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from tests.test_markets import make_world


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("s18out")
    make_world(tmp, n_markets=3, n_tp=3)
    sc = {"name": "s", "model": "markets.json", "horizon_weeks": 13, "budget": 100000}
    (tmp / "s.yaml").write_text(yaml.safe_dump(sc))
    return tmp


def _run(args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "optimizer", *args, "--no-ledger"],
        capture_output=True,
        text=True,
        cwd=cwd,
    )


@pytest.mark.parametrize(
    "command, out, says",
    [
        (["optimize", "s.yaml", "--format", "json"], "m1.json", "a market's model, read by s.yaml"),
        (["optimize", "s.yaml", "--format", "json"], "s.yaml", "s.yaml is an input of this run"),
        (["compare", "s.yaml", "--format", "csv"], "markets.json", "its model, read by s.yaml"),
        (["explain", "s.yaml"], "m0.json", "a market's model, read by s.yaml"),
    ],
)
def test_an_output_onto_an_input_is_refused_and_the_input_kept(world, command, out, says):
    """Truth: exit 2, the message names -o's file and what it is to the run, no traceback, and
    the file is byte for byte as before. Before: exit 0, 'wrote m1.json', the market's model
    replaced by the plan's JSON (the scenario by a plan, the index by a CSV)."""
    before = (world / out).read_bytes()
    r = _run([*command, "-o", out], world)
    assert r.returncode == 2, r.stderr
    assert f"-o {out}:" in r.stderr and says in r.stderr
    assert "Traceback" not in r.stderr
    assert (world / out).read_bytes() == before


def test_an_output_beside_the_inputs_is_written(world):
    r = _run(["optimize", "s.yaml", "-o", "plan.json"], world)
    assert r.returncode == 0, r.stderr
    assert (world / "plan.json").read_text().startswith("{")
