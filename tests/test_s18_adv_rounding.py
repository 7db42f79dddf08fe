"""S18 adversarial pass: a diagnosis's suggested fix, applied, plans; on a phased plan over
markets whose market shares sum to exactly 100% (the suggestion's knife edge), with a national
buy split by population, through the CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import yaml

from tests.test_markets import make_world


def _optimize(tmp, data):
    (tmp / "s.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "optimizer",
            "optimize",
            "s.yaml",
            "--format",
            "json",
            "--no-ledger",
        ],
        capture_output=True,
        text=True,
        cwd=tmp,
    )


def _shares_world(tmp, m0_share: float) -> dict:
    """Three markets by month with share floors m0_share / 40% / 30%, t0 bought nationally."""
    make_world(tmp, n_markets=3, n_tp=4)
    return {
        "name": "shares",
        "model": "markets.json",
        "start": "2027-01-04",
        "horizon_weeks": 13,
        "phasing": "month",
        "budget": 300000,
        "national": {"t0": "population"},
        "markets": {
            "m0": {"min_share": m0_share},
            "m1": {"min_share": 0.4},
            "m2": {"min_share": 0.3},
        },
    }


def test_the_suggested_share_floors_plan_by_month(tmp_path):
    """Market share floors 50% / 40% / 30% are infeasible; the diagnosis suggests lowering m0's
    by 20 points. Applied (30% / 40% / 30%), every market must be exactly its share of the
    total, which no plan in cents with t0 (a national buy whose population shares are not whole
    cents) holds exactly. Truth: the plan is the certified optimum (exit 0) whose cents keep every
    market within half a cent of its share (the tolerance the product calls a rule held: nothing
    shows under a cent), its total within a few cents of the budget. Before: the phased cents
    repair found no exact rounding and kept the nearest cents, which broke m1's floor by 1.24
    cents: 'not certified', exit 4, for the scenario the diagnosis had said plans."""
    data = _shares_world(tmp_path, 0.5)
    r = _optimize(tmp_path, data)
    assert r.returncode == 3
    assert "lower the m0 market share floor (50% of total spend) by 20 percentage points" in (
        r.stderr
    )
    data["markets"]["m0"]["min_share"] = 0.3
    r = _optimize(tmp_path, data)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["status"] == "optimal"
    total = out["total_spend"]
    assert 299_999.90 <= total <= 300_000.0
    t0 = next(li for li in out["line_items"] if li["market"] is None)
    assert t0["spend"] > 1000  # the national buy is in the plan
    for m, floor in (("m0", 0.3), ("m1", 0.4), ("m2", 0.3)):
        spend = sum(li["spend"] for li in out["line_items"] if li["market"] == m)
        spend += t0["spend"] * t0["split"][m]
        assert spend >= floor * total - 0.005, (m, spend, floor * total)


def test_the_knife_edge_cents_are_the_same_every_run_and_keep_the_budget(tmp_path):
    """Review S18 R1 D1/D4: the rounding that breaks no rule by half a cent was the incumbent of a
    MILP stopped by a 5 s time limit (PuLP reports it "Optimal"): on a loaded machine the same
    inputs wrote different cents, once even a different total, and it shaved whole cents off the
    budget (299,999.94) to cut breaches already under half a cent. Now each row may break by up
    to 0.49 cent, HiGHS stops after a number of nodes, not seconds, and only a proven optimum is
    used. Truth: two runs write the same JSON byte for byte; the total is the budget to the cent;
    every market within half a cent of its floor (as above)."""
    data = _shares_world(tmp_path, 0.3)
    runs = [_optimize(tmp_path, data) for _ in range(2)]
    assert all(r.returncode == 0 for r in runs), runs[0].stderr
    assert runs[0].stdout == runs[1].stdout
    out = json.loads(runs[0].stdout)
    assert out["status"] == "optimal" and out["total_spend"] == 300_000.0
    t0 = next(li for li in out["line_items"] if li["market"] is None)
    for m, floor in (("m0", 0.3), ("m1", 0.4), ("m2", 0.3)):
        spend = sum(li["spend"] for li in out["line_items"] if li["market"] == m)
        assert spend + t0["spend"] * t0["split"][m] >= floor * 300_000 - 0.005, m
