"""A conflict among one rule's copies in many periods is said once (session 18).

A weekly plan's cap of 100,000 a week on tv against a yearly minimum of 9,000,000 was diagnosed
with 53 labels: "the tv minimum (9,000,000), the tv cap (100,000) in 2026-01-05, the tv cap
(100,000) in 2026-01-12, …" 52 times. The copies are now said once, with their periods: runs of
consecutive periods as "each week from A to B", others listed. The JSON's conflicts still name
every rule (contract 6). Truth: the 52 caps and the minimum conflict (52 × 100,000 < 9,000,000);
lowering the minimum by 9,000,000 - 5,200,000 = 3,800,000 plans."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from optimizer.allocate.phased_lp import grouped_by_period

REPO = Path(__file__).resolve().parent.parent


def _optimize(tmp: Path, sc: dict) -> subprocess.CompletedProcess:
    path = tmp / "wk.yaml"
    path.write_text(yaml.safe_dump(sc, sort_keys=False))
    return subprocess.run(
        [sys.executable, "-m", "optimizer", "optimize", "--no-ledger", "--format", "json"]
        + [str(path)],
        capture_output=True,
        text=True,
        cwd=tmp,
    )


def test_a_weekly_cap_against_a_yearly_minimum_is_said_once(tmp_path):
    sc = {
        "name": "weekly",
        "model": str(REPO / "optimizer" / "sample" / "true_model.json"),
        "start": "2026-01-05",
        "horizon_weeks": 52,
        "phasing": "week",
        "budget": 38_800_000,
        "touchpoints": {"tv": {"min": 9_000_000, "per_period": {"max": 100_000}}},
    }
    r = _optimize(tmp_path, sc)
    assert r.returncode == 3, r.stderr
    assert (
        "the tv minimum (9,000,000) and the tv cap (100,000) in each week from 2026-01-05 to "
        "2026-12-28 cannot both hold; to resolve it, for example lower the tv minimum "
        "(9,000,000) by 3,800,000"
    ) in r.stderr, r.stderr
    assert r.stderr.count("the tv cap") == 1
    assert "Traceback" not in r.stderr
    sc["touchpoints"]["tv"]["min"] = 5_200_000  # the suggested move, applied: it plans
    r = _optimize(tmp_path, sc)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["status"] == "optimal"


def test_runs_and_single_periods_and_other_labels():
    order = ["2027-01", "2027-02", "2027-03", "2027-04", "2027-05", "2027-06"]
    labels = [
        "the budget (1,000)",
        "the a cap (10) in 2027-02",
        "the a cap (10) in 2027-01",
        "the b floor (5) in 2027-04",
        "the a cap (10) in 2027-03",
        "the a cap (10) in 2027-05",
        "the spend in 2027-Q1 cap (7)",
        "the c cap (3) in 2027-Q2",
    ]
    assert grouped_by_period(labels, order, "month") == [
        "the budget (1,000)",
        "the a cap (10) in each of 2027-01 to 2027-03, 2027-05",
        "the b floor (5) in 2027-04",
        "the spend in 2027-Q1 cap (7)",
        "the c cap (3) in 2027-Q2",  # a quarter's rule under monthly phasing: as it was
    ]
    assert grouped_by_period(
        ["the a cap (10) in 2027-02", "the a cap (10) in 2027-03"], order, "month"
    ) == ["the a cap (10) in each of 2027-02, 2027-03"]
