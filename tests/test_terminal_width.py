"""Terminal tables fit the terminal (issue 17 item 8): every command's output, run as a user runs
it (a subprocess with ``COLUMNS`` set), has no line wider than ``COLUMNS``; ``--wide`` prints
each table's columns on one line; nothing is cut (every value of a fitted table is printed).

The truth checked is the width of each printed line in characters (``str.splitlines``), for
stdout and stderr alike, at 100 (the default) and 80 columns.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from rich.table import Table

from optimizer.render import terminal
from optimizer.render.tables import render_text
from tests.factories import write_actuals

ROOT = Path(__file__).resolve().parent.parent
SCEN = ROOT / "scenarios"
SAMPLE = ROOT / "optimizer" / "sample"
FOUR = [SCEN / f"{n}.yaml" for n in ("base", "budget_cut", "awareness_push", "commitments")]


def budgetopt(args, tmp_path: Path, columns: int | None) -> subprocess.CompletedProcess:
    env = {**os.environ, "BUDGETOPT_LEDGER": str(tmp_path / "ledger.sqlite")}
    env.pop("COLUMNS", None)
    if columns is not None:
        env["COLUMNS"] = str(columns)
    return subprocess.run(
        [sys.executable, "-m", "optimizer", *map(str, args)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        cwd=tmp_path,
        timeout=600,
    )


def widest(text: str) -> int:
    return max((len(line.rstrip()) for line in text.splitlines()), default=0)


def assert_fits(r: subprocess.CompletedProcess, columns: int, tmp_path: Path) -> None:
    """No line wider than ``columns``; the test's own temporary folder (a long path, one word
    that nothing can wrap, in messages like 'recorded run … in PATH') counts as 3 characters."""
    assert r.returncode == 0, r.stderr
    for name, text in (("stdout", r.stdout), ("stderr", r.stderr)):
        text = text.replace(str(tmp_path), "TMP")
        wide = [line for line in text.splitlines() if len(line) > columns]
        assert not wide, f"{name} has {len(wide)} line(s) wider than {columns}: {wide[0]!r}"


# ------------------------------------------------------------------------------------------------
# the fitting itself
# ------------------------------------------------------------------------------------------------
def _wide_table(n_cols: int = 12) -> Table:
    t = Table(title="wide")
    t.add_column("line item")
    for k in range(n_cols):
        t.add_column(f"scenario number {k}", justify="right")
    for r in range(3):
        t.add_row(f"item_{r}", *(f"{(r + 1) * 1_000_000 + k:,}" for k in range(n_cols)))
    return t


@pytest.mark.parametrize("width", [40, 80, 100])
def test_a_wide_table_is_split_into_blocks_that_fit_and_keep_every_value(width):
    t = _wide_table()
    text = render_text(t, width=width)
    assert widest(text) <= width
    # every number printed whole (never wrapped or cut), every row's name in every block
    for r in range(3):
        for k in range(12):
            assert f"{(r + 1) * 1_000_000 + k:,}" in text
    blocks = terminal.fit_table(t, width)
    assert len(blocks) > 1
    for b in blocks:
        assert b.columns[0].header == "line item"
    assert sum(len(b.columns) - 1 for b in blocks) == 12


def test_a_table_that_fits_is_left_alone_and_text_columns_wrap_by_words():
    t = Table()
    t.add_column("touchpoint")
    t.add_column("notes")
    t.add_row("search", "spend never falls below 22% of its mean: the ROI extrapolates the curve")
    assert terminal.fit_table(t, 200) == [t]
    text = render_text(t, width=50)
    assert widest(text) <= 50
    # wrapped at word boundaries: every word printed whole
    words = "spend never falls below 22% of its mean: the ROI extrapolates the curve".split()
    printed = text.split()
    for w in words:
        assert w in printed


def test_wide_prints_each_table_at_its_natural_width():
    t = _wide_table()
    terminal.set_wide(True)
    try:
        text = render_text(t, width=80)
    finally:
        terminal.set_wide(False)
    header = next(line for line in text.splitlines() if "scenario number 0" in line)
    assert all(f"scenario number {k}" in header for k in range(12))
    assert widest(text) > 80


def test_the_width_is_columns_else_100(monkeypatch):
    monkeypatch.setenv("COLUMNS", "83")
    assert terminal.terminal_width() == 83
    monkeypatch.delenv("COLUMNS")
    assert terminal.terminal_width() == 100  # pytest's stdout is not a terminal
    monkeypatch.setenv("COLUMNS", "junk")
    assert terminal.terminal_width() == 100


# ------------------------------------------------------------------------------------------------
# every command, as a user runs it
# ------------------------------------------------------------------------------------------------
QUICK = {
    "optimize": ["optimize", SCEN / "base.yaml"],
    "compare": ["compare", *FOUR],
    "sweep": ["sweep", SCEN / "base.yaml", "--budgets", "5000000:15000000:5"],
}
SLOW = {
    "optimize_phased": ["optimize", SCEN / "fy26_monthly.yaml"],
    "uncertainty": [
        "optimize",
        SCEN / "base.yaml",
        "--model",
        "model.json",
        "--uncertainty",
        "--no-value-of-information",
    ],
    "fit": ["fit", "--journey", SAMPLE / "journey.yaml", "--history", SAMPLE / "history.csv"],
}


@pytest.mark.parametrize("columns", [100, 80])
@pytest.mark.parametrize("name", list(QUICK))
def test_command_tables_fit_the_terminal(name, columns, tmp_path):
    assert_fits(budgetopt(QUICK[name], tmp_path, columns), columns, tmp_path)


def test_without_columns_tables_fit_100(tmp_path):
    r = budgetopt(QUICK["compare"], tmp_path, None)
    assert_fits(r, 100, tmp_path)
    assert widest(r.stdout) > 80  # it uses the room it has


def test_compare_wide_shows_every_column_on_one_line(tmp_path):
    r = budgetopt([*QUICK["compare"], "--wide"], tmp_path, 80)
    assert r.returncode == 0, r.stderr
    header = next(line for line in r.stdout.splitlines() if "marginal ROI" in line)
    for col in ("scenario", "status", "spend", "KPI", "ROI", "Δ spend", "Δ KPI", "break-even"):
        assert col in header
    assert "(continued)" not in r.stdout
    narrow = budgetopt(QUICK["compare"], tmp_path, 80)
    assert "(continued)" in narrow.stdout  # the same tables, split to fit 80 columns


@pytest.mark.slow
@pytest.mark.parametrize("columns", [100, 80])
def test_slow_commands_fit_the_terminal(columns, tmp_path):
    fit = budgetopt([*SLOW["fit"], "-o", "model.json"], tmp_path, columns)
    assert_fits(fit, columns, tmp_path)
    # fit's notes are wrapped at words, never cut: the whole note is there
    assert "the marginal ROI is firmer" in " ".join(fit.stderr.split())
    for name in ("optimize_phased", "uncertainty"):
        assert_fits(budgetopt(SLOW[name], tmp_path, columns), columns, tmp_path)
    # the planning cycle: track actuals against a plan, re-plan the rest of the quarter
    plan = budgetopt(["optimize", SCEN / "base.yaml", "--format", "json"], tmp_path, columns)
    weekly = {li["id"]: 1.1 * li["spend"] / 13 for li in json.loads(plan.stdout)["line_items"]}
    write_actuals(tmp_path / "actuals.csv", weekly, 6)
    (tmp_path / "plan.json").write_text(plan.stdout)
    for args in (
        ["track", "plan.json", "actuals.csv", "--scenario", SCEN / "base.yaml"],
        ["replan", SCEN / "base.yaml", "--actuals", "actuals.csv", "--weeks-elapsed", "6"],
    ):
        assert_fits(budgetopt(args, tmp_path, columns), columns, tmp_path)
    runs = budgetopt(["history", "--format", "json"], tmp_path, columns)
    ids = [r["id"] for r in json.loads(runs.stdout)]
    for args in (["history"], ["history", "show", ids[0]], ["diff", ids[1], ids[0]]):
        assert_fits(budgetopt(args, tmp_path, columns), columns, tmp_path)
