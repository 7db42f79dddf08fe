"""The phased review reads a lock (an equality) by its price: a floor where it holds the line
item up, a cap where it holds it down (reviewer S16 R1, D5). Every lock counted as a cap, so a
line item a lock held up read "at the hurdle ... no rule on it binds there", while the same
page listed the lock as binding at -0.567 and dropping the line item gained 27,444."""

from __future__ import annotations

import json

import yaml

from tests.test_adv_core import run_cli
from tests.test_s14_numbers import EDGE_MODEL


def test_a_lock_that_holds_a_line_item_up_is_said_to_hold_it_up(tmp_path):
    """EDGE_MODEL by month, budget 1,000,000: d's curve (beta 1,000, scale 90,000) returns 0.011
    a dollar, far below the hurdle (0.578), so its lock at 50,000 holds it up (shadow price
    < 0); e's lock at 1.60 holds it down (e's next dollar returns 1.33 > the hurdle: shadow
    price > 0). Truth: d's justification row says "held up" and its section "Held up by the d
    lock (50,000)", nothing there says no rule binds; e's row says "capped"."""
    (tmp_path / "model.json").write_text(json.dumps(EDGE_MODEL))
    sc = {"name": "s", "model": "model.json", "start": "2027-01-04", "phasing": "month"}
    sc |= {"horizon_weeks": 13, "budget": 1000000}
    sc["touchpoints"] = {"d": {"lock": 50000}, "e": {"lock": 1.6}}
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(sc, sort_keys=False))
    r = run_cli("optimize", "s.yaml", "--no-ledger", "--format", "json", cwd=tmp_path)
    prices = {c["name"]: c["shadow_price"] for c in json.loads(r.stdout)["constraints"]}
    assert prices["tp_lock__d"] < 0 < prices["tp_lock__e"], prices
    r = run_cli("explain", "s.yaml", "-o", "s.md", "--no-ledger", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    md = (tmp_path / "s.md").read_text()
    rows = {ln.split("|")[1].strip(): ln.split("|")[2].strip() for ln in md.splitlines()
            if ln.startswith("| d | ") or ln.startswith("| e | ")}  # fmt: skip
    assert rows.get("d") == "held up" and rows.get("e") == "capped", rows
    d_section = md.split("Held up by the d lock (50,000)", 1)
    assert len(d_section) == 2, "d's section does not say the lock holds it up"
    assert "no rule on it binds" not in d_section[1].split("\n## ")[0].split("\n### ")[0]
