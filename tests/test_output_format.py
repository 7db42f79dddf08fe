"""``-o FILE`` without ``--format`` takes the format from the file's extension (docs/cli.md,
conventions): a planner who writes ``-o plan.json`` gets JSON, not a text table in a .json file.
The CLI runs as a subprocess, as users run it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "base.yaml"


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "optimizer", *args, "--no-ledger", "-q"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_extension_picks_the_format(tmp_path: Path) -> None:
    r = _run("optimize", str(SCENARIO), "-o", "plan.json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    plan = json.loads((tmp_path / "plan.json").read_text())  # JSON, not a table
    assert plan["status"] == "optimal"
    r = _run("optimize", str(SCENARIO), "-o", "PLAN.CSV", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "PLAN.CSV").read_text().splitlines()[0].startswith("scenario,id,")
    r = _run("optimize", str(SCENARIO), "-o", "plan.txt", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "status optimal" in (tmp_path / "plan.txt").read_text()  # the table


def test_explicit_format_wins(tmp_path: Path) -> None:
    r = _run("optimize", str(SCENARIO), "--format", "table", "-o", "plan.json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    with pytest.raises(json.JSONDecodeError):
        json.loads((tmp_path / "plan.json").read_text())


def test_compare_workbook_by_extension(tmp_path: Path) -> None:
    r = _run("compare", str(SCENARIO), str(SCENARIO), "-o", "set.xlsx", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "set.xlsx").read_bytes()[:2] == b"PK"  # a zip: a workbook


def test_an_extension_the_command_cannot_write_is_refused(tmp_path: Path) -> None:
    r = _run("optimize", str(SCENARIO), "-o", "plan.xlsx", cwd=tmp_path)
    assert r.returncode == 2
    assert "-o plan.xlsx" in r.stderr and "cannot write xlsx" in r.stderr
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "plan.xlsx").exists()
