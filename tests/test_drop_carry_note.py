"""A phased review's "Dropping it ... loses X (carry-over included)" reads as the line item's
revenue in the justification table: X plus the carry-over it keeps, said in the sentence
whenever that rounds to a unit (reviewer S16 R1, D3: the note showed only above 0.1% of the
line item's revenue, so on FY26 by month onboarding_email's "loses 11,542,039" stood beside
11,543,653 in the table with nothing said of the 1,614)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

import optimizer
from tests.test_adv_core import run_cli

SAMPLE = Path(optimizer.__file__).resolve().parent / "sample"


def test_every_drop_sentence_adds_up_to_the_tables_revenue(tmp_path):
    """The sample company's true curves, a quarter by month from 5 January 2026 with last
    year's spend carried in (its history). Truth: for every line item with a drop sentence,
    the revenue it loses plus "the other Y" it keeps is its revenue in the justification table,
    and its spend freed is the table's spend, to the unit."""
    sc = {
        "name": "q1", "model": str(SAMPLE / "true_model.json"), "start": "2026-01-05",
        "horizon_weeks": 13, "phasing": "month", "budget": 9700000,
        "carryover": {"before": str(SAMPLE / "history.csv")},
    }  # fmt: skip
    (tmp_path / "q1.yaml").write_text(yaml.safe_dump(sc, sort_keys=False))
    r = run_cli("explain", "q1.yaml", "-o", "q1.md", "--no-ledger", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    md = " ".join((tmp_path / "q1.md").read_text().split("\n"))
    rows = dict(
        (m[1], (m[2], m[3]))
        for m in re.finditer(r"\| (\w+) \| [\w ]+ \| ([\d,]+) \| ([\d,]+) \| [\d.]+ \|", md)
    )
    drops = list(
        re.finditer(
            r"Dropping (\w+) for the whole horizon frees ([\d,]+); it loses ([\d,]+) \w+ on \w+ "
            r"\(carry-over included(?:; the other ([\d,]+) of its ([\d,]+))?",
            md,
        )
    )
    assert len(drops) >= 5, len(drops)
    kept = 0
    for m in drops:
        spend, revenue = rows[m[1]]
        other = int(m[4].replace(",", "")) if m[4] else 0
        kept += bool(other)
        assert m[2] == spend, (m[1], m[2], spend)
        assert f"{int(m[3].replace(',', '')) + other:,}" == revenue, (m[1], m[0], revenue)
    assert kept, "no line item keeps carry-over: the check saw no note"
