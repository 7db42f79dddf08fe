"""The review ladder's line sentence is true of the ladder it heads (reviewers S14 D3, S15 D6).

On the awareness push the 35% awareness floor funds increments out of their return order. The
page said "The budget runs out after increment 144, at 9,626,888: everything above the line is
in the plan, everything below is not", with a total spend of 9,700,000 and online_video #146,
tv #149 and online_video #156 funded below the line (7 increments above it unfunded).

Truth: the pack's own tables, read back from ``explain``'s Markdown run as a subprocess: the
summary's total spend as shown, and the appendix's full ladder (each row's rank, line item,
amount, status and cumulative spend as shown). Every amount in the sentence must equal the sum
of those rows exactly (whole units), every increment it names must be such a row, and it may
say "everything below is not [in the plan]" only where no row below the line is funded.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FUNDED = ("funded", "committed")


def _num(cell: str) -> float:
    return float(cell.replace(",", "").strip())


def _review(scenario: str, tmp_path: Path) -> str:
    out = tmp_path / f"{scenario}.md"
    r = subprocess.run(
        [sys.executable, "-m", "optimizer", "explain", f"scenarios/{scenario}.yaml"]
        + ["--format", "md", "-o", str(out), "--no-ledger"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert r.returncode == 0, r.stderr
    return out.read_text()


def _ladder(md: str) -> list[dict]:
    """The appendix's full ladder as printed."""
    text = md.split("## Appendix: the full ladder", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 8 and cells[0].isdigit():
            rows.append(
                dict(rank=int(cells[0]), item=cells[1], amount=_num(cells[3]), status=cells[6])
                | dict(cum=_num(cells[7]))
            )
    assert rows and [r["rank"] for r in rows] == list(range(1, len(rows) + 1))
    return rows


def _sentence(md: str) -> str:
    lead = md.split("## The zero-based ladder", 1)[1].strip().split("\n", 1)[0]
    return lead.split("come first. ", 1)[1]


def _total(md: str) -> float:
    return _num(re.search(r"^\| Total spend \| ([\d,]+) \|", md, re.M).group(1))


def _names(steps: list[dict]) -> list[str]:
    return [f"{s['item']} #{s['rank']}" for s in steps]


@pytest.mark.parametrize("scenario", ["awareness_push", "base"])
def test_the_ladder_line_sentence_matches_the_ladder_and_the_total(scenario, tmp_path):
    md = _review(scenario, tmp_path)
    said, rows, total = _sentence(md), _ladder(md), _total(md)
    cutoff = int(re.search(r"runs out after increment (\d+)", said).group(1))
    above, below = rows[:cutoff], rows[cutoff:]
    in_below = [r for r in below if r["status"] in FUNDED]
    out_above = [r for r in above if r["status"] not in FUNDED]
    # the ladder as shown foots to the plan's total spend as shown
    assert sum(r["amount"] for r in rows if r["status"] in FUNDED) == total
    if scenario == "awareness_push":  # the case the reviewers read: a rule funds out of order
        assert _names(in_below) == ["online_video #146", "tv #149", "online_video #156"]
        assert len(out_above) == 7
    if not in_below and not out_above:
        assert f"after increment {cutoff}, at {total:,.0f}: everything above the line is in" in said
        return
    assert "everything below is not" not in said and "everything above" not in said
    # the line: the cumulative spend of the increments above it, against the total shown
    line = above[-1]["cum"]
    assert line != total
    assert (
        f"the increments above the line sum to {line:,.0f}, against the plan's total spend "
        f"of {total:,.0f}" in said
    )
    n, amt = len(in_below), sum(r["amount"] for r in in_below)
    assert f"{n} increments below the line are funded ({', '.join(_names(in_below)[:-1])}" in said
    assert f"and {_names(in_below)[-1]}: {amt:,.0f})" in said
    m, gone = len(out_above), sum(r["amount"] for r in out_above)
    assert f"{m} above it are not ({', '.join(_names(out_above)[:4])} and {m - 4} more: " in said
    assert f"{gone:,.0f})" in said
    assert line - gone + amt == total  # the sentence's amounts reconcile, as shown
