"""The review's "Which dollars are the last ones in?" names increments in the plan as in and
increments outside it as out, also where a rule takes the plan out of the ladder's return order
(awareness_push: the awareness share floor funds increments below the ranking's line)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FUNDED = ("funded", "committed")


def _explain(scenario: str, fmt: str, out: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "optimizer", "explain", f"scenarios/{scenario}.yaml", "--format",
         fmt, "-o", str(out), "--no-ledger"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr


def _money(text: str) -> float:
    return float(text.replace(",", ""))


@pytest.mark.parametrize("scenario", ["awareness_push", "base"])
def test_last_ones_in_are_in_the_plan_and_first_ones_out_are_not(scenario, tmp_path):
    """Every increment the answer calls "in" is a funded (or committed) ladder step of the
    explanation's JSON, matched by line item and its spend range as printed (within one unit: the page foots its figures), and
    every one it calls "out" is not funded; on awareness_push (ladder and plan disagree) the
    answer says so. Before the fix the answer read the ranking's line: on awareness_push its
    "last ones in" were search, affiliates and review_sites increments the plan does not fund."""
    md, js = tmp_path / "r.md", tmp_path / "r.json"
    _explain(scenario, "md", md)
    _explain(scenario, "json", js)
    ladder = json.loads(js.read_text(encoding="utf-8"))["ladder"]
    line = next(ln for ln in md.read_text(encoding="utf-8").splitlines() if "last ones in?" in ln)
    ins, outs = line.split("The first ones out:")
    pat = re.compile(r"([a-z_]+) ([\d,]+)–([\d,]+) \(returns")

    def status(item: str, lo: str, hi: str) -> str:
        hits = [
            s for s in ladder["steps"]
            if s["item"] == item and abs(s["spend_from"] - _money(lo)) <= 1.0
            and abs(s["spend_to"] - _money(hi)) <= 1.0
        ]  # fmt: skip
        assert len(hits) == 1, (item, lo, hi, hits)
        return str(hits[0]["status"])

    named_in = pat.findall(ins)
    named_out = pat.findall(outs)
    assert named_in and named_out, line
    assert all(status(*m) in FUNDED for m in named_in), (line, [status(*m) for m in named_in])
    assert all(status(*m) not in FUNDED for m in named_out), line
    if not ladder["consistent"]:
        assert "out of return order" in line, line
    else:
        assert "above the line" in line, line
