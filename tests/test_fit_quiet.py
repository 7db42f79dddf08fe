"""``fit -q`` leaves out the diagnostics table and the progress, not the warnings: every other
command keeps its warnings under -q, and ``fit -q`` printed nothing at all, so a touchpoint
with no spend in any week was set flat (beta 0) without a word (reviewer S16 R1, doubt)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

import optimizer
from tests.test_adv_core import run_cli

SAMPLE = Path(optimizer.__file__).resolve().parent / "sample"


def test_fit_quiet_keeps_the_warnings_and_drops_the_table(tmp_path):
    """The sample history with radio's spend zeroed. Truth: with and without -q the warning
    that radio is not identifiable (curve set flat) is on stderr, and the model is the same
    file; only without -q is the diagnostics table (radio's row, "wrote ...") there."""
    h = pd.read_csv(SAMPLE / "history.csv")
    h["radio"] = 0.0
    h.to_csv(tmp_path / "h.csv", index=False)
    args = ("fit", "--journey", str(SAMPLE / "journey.yaml"), "--history", "h.csv")
    loud = run_cli(*args, "-o", "a.json", cwd=tmp_path)
    quiet = run_cli(*args, "-o", "b.json", "-q", cwd=tmp_path)
    assert loud.returncode == 0 and quiet.returncode == 0, (loud.stderr, quiet.stderr)
    warning = "warning: not identifiable, curve set flat (beta 0): radio"
    assert warning in loud.stderr and warning in quiet.stderr, quiet.stderr
    assert "wrote" in loud.stderr and "wrote" not in quiet.stderr
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
