"""S18 adversarial pass: the review pack over markets and owners foots on the page (docs/cli.md:
a table's amounts foot; a stage's and an owner's amount is the sum of its line items as shown),
through ``budgetopt explain`` as users run it, on tests.test_markets' small world."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import yaml

from tests.test_markets import make_world


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("s18review")
    make_world(tmp, n_markets=3, n_tp=4)
    return tmp


def _explain(tmp, name, **data) -> str:
    sc = {"name": name, "model": "markets.json", "horizon_weeks": 13, **data}
    (tmp / f"{name}.yaml").write_text(yaml.safe_dump(sc, sort_keys=False))
    r = subprocess.run(
        [sys.executable, "-m", "optimizer", "explain", f"{name}.yaml", "-o", f"{name}.md"],
        capture_output=True,
        text=True,
        cwd=tmp,
    )
    assert r.returncode == 0, r.stderr
    return (tmp / f"{name}.md").read_text()


def _num(cell: str) -> int:
    return int(cell.strip().strip("*").replace(",", ""))


def _table_after(md: str, heading: str) -> list[list[str]]:
    """The rows (cells) of the first Markdown table after ``heading``, header and rule left out."""
    rest = md.split(heading, 1)[1]
    block = []
    started = False
    for ln in rest.splitlines():
        if ln.startswith("|"):
            started = True
            block.append([c.strip() for c in ln.strip("|").split("|")])
        elif started:
            break
    assert block
    return block[2:]


def test_the_market_by_stage_table_foots_to_the_markets_and_stages_tables(world):
    """An undated plan over 3 markets with two national buys (t0 in thirds, t3 by population)
    and binding market rules. Truth: each market's row of 'Spend by market and stage' sums to
    its spend in the Markets table, and each stage's column to the Stages table, as shown.
    Before: each cell was its own amount rounded: m2's row summed to 166,679 beside 166,680,
    the decision column to 168,932 beside 168,933."""
    md = _explain(
        world,
        "mkt_stage",
        budget=400000,
        national={"t0": {"m0": 1, "m1": 1, "m2": 1}, "t3": "population"},
        markets={
            "m0": {"max": 100000.01},
            "m1": {"max_share": 0.3333},
            "m2": {"min": 150000.03, "touchpoints": {"t1": {"max": 1000.07}}},
        },
    )
    markets = {r[0]: _num(r[1]) for r in _table_after(md, "## Markets")}
    stages = {r[0]: _num(r[2]) for r in _table_after(md, "## Stages")}
    head = md.split("Spend by market and stage:", 1)[1]
    header = next(ln for ln in head.splitlines() if ln.startswith("|"))
    order = [c.strip() for c in header.strip("|").split("|")][1:]
    cells = {r[0]: [_num(c) for c in r[1:]] for r in _table_after(md, "Spend by market and stage:")}
    assert set(cells) == set(markets)
    for m, row in cells.items():
        assert sum(row) == markets[m], m
    for j, st in enumerate(order):
        assert sum(row[j] for row in cells.values()) == stages[st], st


def test_a_phased_reviews_owners_foot_with_their_line_items(world):
    """By week over 8 weeks, the review's Budget owners: each owner's 'holds X' is the sum of its
    line items as its table shows them, and the owners sum to the plan's total as shown. Before:
    E-commerce 'holds 67,156' (its 67,155.79 rounded) beside its line items' 30,058 + 37,097, the
    owners summing to 250,001 of 250,000."""
    md = _explain(
        world,
        "owners_weekly",
        horizon_weeks=8,
        start="2027-01-04",
        phasing="week",
        budget=250000,
        national={"t0": "population"},
        per_period={"max": 40000},
        touchpoints={
            "t0": {"per_period": {"max": 9000, "max_change": 0.3}},
            "t2": {"per_period": {"max_change": 0.5}},
        },
        markets={"m0": {"min": 90000.05}, "m1": {"max_share": 0.35}},
        periods={"2027-01-18": {"max": 20000}},
    )
    section = md.split("## Budget owners", 1)[1].split("\n## ", 1)[0]
    held = dict(re.findall(r"\n(\S+) holds ([\d,]+) ", section))
    assert held, section[:500]
    total = 0
    for owner, amount in held.items():
        own = section.split(f"\n{owner} holds", 1)[1]
        rows = _table_after(own, "\n")
        assert sum(_num(r[2]) for r in rows) == _num(amount), owner
        total += _num(amount)
    assert total == 250000
