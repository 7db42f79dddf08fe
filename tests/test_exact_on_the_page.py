"""Numbers on the page as exact as their neighbours (reviewer S13 R1, findings 10 and 12), through
the CLI as a subprocess.

- A period change limit of 0.125 was labelled ``±12%`` beside a share cap of 0.125 labelled
  ``12.5%`` (0e245e5 made shares exact, not this rule).
- diff's and compare's Δ columns are the difference of the amounts as shown (e5b7170), but an
  amount under 100 is shown with cents and its Δ was printed in whole units: social 12.40 ->
  13.10 printed ``+1`` (KPI 33.07 -> 34.93 ``+2``)."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from tests.test_adv_core import run_cli
from tests.test_calendar_markets_adversarial import cli, write_world


def test_a_period_change_limit_states_its_share_exactly(tmp_path):
    """Truth: the scenario's own 0.125 as a percentage, 12.5%, in both rules' words."""
    world = write_world(tmp_path)
    scen = {
        "name": "mc",
        "model": "north.json",
        "start": "2027-01-04",
        "horizon_weeks": 13,
        "phasing": "month",
        "budget": 2000000,
        "touchpoints": {"tv": {"per_period": {"max_change": 0.125}}},
        "stages": {"awareness": {"max_share": 0.125}},
    }
    (world / "mc.yaml").write_text(yaml.safe_dump(scen, sort_keys=False))
    r = cli(["optimize", "mc.yaml", "--format", "json", "--no-ledger"], world)
    assert r.returncode == 0, r.stderr
    labels = [c["label"] for c in json.loads(r.stdout)["constraints"]]
    assert "the awareness stage share cap (12.5% of total spend)" in labels, labels
    change = [lb for lb in labels if "change limit" in lb]
    assert change, labels
    for lb in change:
        assert lb.startswith("the tv change limit (±12.5% of the weekly rate in 2027-"), lb


MODEL = {
    "kpi": "revenue",
    "period": "week",
    "touchpoints": {
        tid: {"stage": stage, "curve": {"family": "exponential", "beta": beta, "scale": scale}}
        for tid, stage, beta, scale in (
            ("tv", "awareness", 90000.0, 60000.0),
            ("search", "consideration", 70000.0, 25000.0),
            ("social", "consideration", 40000.0, 15000.0),
        )
    },
}

#: a line item's row: id, stage, then the amounts (whole, with cents, or signed)
AMOUNT = r"[+\-−]?[\d,]+(?:\.\d\d)?"


def _n(text: str) -> float:
    return float(text.replace(",", "").replace("−", "-"))


def _rows(table: str, tid: str) -> list[list[str]]:
    return [re.findall(AMOUNT, ln) for ln in table.splitlines() if ln.strip().startswith(tid)]


def test_deltas_of_small_amounts_are_the_differences_shown(tmp_path):
    """social capped at 12.40 in plan a and 13.10 in plan b (the caps bind: spend is exactly the
    cap). Truth: since b6f00a0 every table of a plan that foots is in whole units, an amount
    under 100 too (docs/cli.md; the cents are in the JSON), so social reads 12 -> 13, and each Δ
    is B − A of the two amounts as printed (+1, not the +0.70 of the cents; the KPI's as shown),
    as for amounts of 100 and more (search 99,988 -> 99,987: -1)."""
    (tmp_path / "model.json").write_text(json.dumps(MODEL))
    for name, cap in (("a", 12.40), ("b", 13.10)):
        scen = {
            "name": name,
            "model": "model.json",
            "horizon_weeks": 13,
            "budget": 100000,
            "touchpoints": {"social": {"max": cap}},
        }
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(scen, sort_keys=False))
    ledger = str(tmp_path / "l.sqlite")

    def run(*args: str) -> str:
        r = run_cli(*args, "--ledger", ledger, cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        return r.stdout

    run("optimize", "a.yaml", "-o", "a.json")
    run("optimize", "b.yaml", "-o", "b.json")
    diff = _rows(run("diff", "last~1", "last"), "social")
    assert len(diff) == 1, diff
    spend_a, spend_b, d_spend, kpi_a, kpi_b, d_kpi = diff[0]
    assert (spend_a, spend_b, d_spend) == ("12", "13", "+1")
    assert "." not in kpi_a + kpi_b + d_kpi  # KPI under 100, whole units too
    assert _n(d_kpi) == _n(kpi_b) - _n(kpi_a), diff
    plans = [json.loads((tmp_path / f"{n}.json").read_text()) for n in "ab"]
    cents = [li["spend"] for p in plans for li in p["line_items"] if li["id"] == "social"]
    assert cents == pytest.approx([12.40, 13.10], abs=0.005)  # the cents, in the JSON
    compare = _rows(run("compare", "a.yaml", "b.yaml"), "social")
    assert ["12", "13", "+1"] in compare, compare
    search = _rows(run("diff", "last~1", "last"), "search")[0]
    assert _n(search[2]) == _n(search[1]) - _n(search[0]) and "." not in search[2], search
