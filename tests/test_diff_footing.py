"""``budgetopt diff``'s per-line-item table foots when a plan's totals are under 100
(reviewer S15 R1, D1): every column's parts, as shown, sum to the total row as shown."""

from __future__ import annotations

import json
import re

import yaml

from tests.test_adv_core import run_cli
from tests.test_s14_numbers import EDGE_MODEL


def _num(cell: str) -> float:
    if cell == "<1":  # an amount of a cent or more shown as 0 (it counts as 0: the column foots)
        return 0.0
    return float(cell.replace(",", "").replace("+", "").replace("−", "-"))


def test_diff_table_foots_under_100(tmp_path):
    """The reviewer's t30 (budget 30.57; a, b, c capped at 10.45) and t50b (budget 50.57; a, b,
    c, e capped at 10.45) recorded in one ledger. b6f00a0 showed the parts in whole units and the
    total row with cents: spend A 10 + 11 + 10 = 31 against "30.57", Δ KPI +16 against "+15.34".
    Truth: in each of the six amount columns the line items' cells sum exactly to the total row's
    cell, and the total row is the JSON's totals rounded to whole units."""
    (tmp_path / "model.json").write_text(json.dumps(EDGE_MODEL))
    caps = {"max": 10.45}
    t30 = {"name": "t30", "model": "model.json", "horizon_weeks": 13, "budget": 30.57}
    t30 |= {"objective": "max_kpi", "touchpoints": {k: caps for k in "abc"}}
    t50 = {"name": "t50b", "model": "model.json", "horizon_weeks": 13, "budget": 50.57}
    t50 |= {"objective": "max_kpi", "touchpoints": {k: caps for k in "abce"}}
    t50["previous"] = {"a": 10.33, "b": 10.33, "c": 10.33, "d": 10.5, "e": 9.08}
    db = str(tmp_path / "d.db")
    for sc in (t30, t50):
        (tmp_path / f"{sc['name']}.yaml").write_text(yaml.safe_dump(sc))
        r = run_cli("optimize", f"{sc['name']}.yaml", "--ledger", db, cwd=tmp_path)
        assert r.returncode == 0, r.stderr
    r = run_cli("diff", "last~1", "last", "--ledger", db, "--wide", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    part = r.stdout[r.stdout.index("per line item:") :]
    rows = {}
    for line in part.splitlines():
        m = re.match(
            r"\s+(a|b|c|d|e|total)\s+(?:[a-z]+\s+)?((?:\s*(?:<1|[+−\-]?[\d,.]+)){6})\s*$", line
        )
        if m:
            rows[m.group(1)] = [_num(c) for c in m.group(2).split()]
    assert set(rows) == {"a", "b", "c", "d", "e", "total"}, r.stdout
    total = rows.pop("total")
    for j in range(6):
        assert sum(v[j] for v in rows.values()) == total[j], (j, rows, total)
    # the totals as shown are the plans' totals rounded (30.57 -> 31, 50.57 -> 51)
    assert total[:3] == [31, 51, 20], total
