"""S18 adversarial pass: ``budgetopt diff`` of two recorded plans over markets shows spend by
stage, by owner and by market and one table of line items (docs/planning-cycle.md: "compare and
diff ... show spend by market and by owner beside spend by stage"), through the CLI."""

from __future__ import annotations

import os
import subprocess
import sys

import yaml

from tests.test_markets import make_world


def test_diff_over_markets_keeps_the_owner_table_and_shows_line_items_once(tmp_path):
    """Two plans (t3 bought by market, then nationally) recorded in a ledger, then diffed.
    Truth: the table has spend by stage, by owner and by market, and the line items once (the
    per-line-item spend and KPI deltas, t3@national among them). Before: diff put its line-item
    table in place of the comparison's third table, which over markets is spend by owner: the
    owners were dropped and the comparison's own line-item table was shown as well."""
    make_world(tmp_path, n_markets=3, n_tp=4)
    env = {**os.environ, "BUDGETOPT_LEDGER": str(tmp_path / "ledger.sqlite"), "COLUMNS": "200"}
    for name, over in (("by_market", {}), ("national", {"national": {"t3": "population"}})):
        sc = {"name": name, "model": "markets.json", "horizon_weeks": 13, "budget": 300000, **over}
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(sc))
        r = subprocess.run(
            [sys.executable, "-m", "optimizer", "optimize", f"{name}.yaml", "-q"],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=env,
        )
        assert r.returncode == 0, r.stderr
    r = subprocess.run(
        [sys.executable, "-m", "optimizer", "diff", "last~1", "last"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "spend by stage" in out and "spend by owner" in out and "spend by market" in out
    assert "per line item:" in out
    assert "spend by line item" not in out
    assert out.count("t3@national") == 1
