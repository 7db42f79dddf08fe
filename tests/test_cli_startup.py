"""The command line starts without importing what its command does not use: ``budgetopt --help``
(and a command's ``--help``) imports neither numpy nor pandas, PuLP, HiGHS, pydantic, rich nor
any of the scale-out, chart and workbook stacks; ``optimize`` of ``scenarios/base.yaml``, in
JSON and in its default table, imports neither pandas (nor pyarrow through it) nor
scipy (its table's stage column foots without the LP: its optimum is unique), Dask,
matplotlib or openpyxl.

Not timed (benchmarks/cli_startup.py measures the time): each check runs the CLI as a user does,
``python -X importtime -m optimizer ...`` in a fresh process, and reads the modules it imported
from the interpreter's own import log on stderr.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "base.yaml"

#: what no command needs to show its help
NOT_FOR_HELP = (
    "numpy",
    "pandas",
    "pyarrow",
    "scipy",
    "sklearn",
    "pulp",
    "highspy",
    "pydantic",
    "rich",
    "yaml",
    "sqlite3",
    "dask",
    "distributed",
    "matplotlib",
    "openpyxl",
)
#: what ``optimize scenarios/base.yaml`` needs for neither JSON nor its table
NOT_FOR_OPTIMIZE = (
    "pandas",
    "pyarrow",
    "scipy",
    "sklearn",
    "dask",
    "distributed",
    "matplotlib",
    "openpyxl",
)


def imported(args: list[str], cwd: Path) -> set[str]:
    """The top-level packages ``python -m optimizer ARGS`` imports (from ``-X importtime``)."""
    r = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "optimizer", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    names = {
        line.rsplit("|", 1)[1].strip()
        for line in r.stderr.splitlines()
        if line.startswith("import time:") and line.count("|") == 2
    }
    assert "optimizer.cli" in names  # the log was read
    return {n.split(".")[0] for n in names}


@pytest.mark.parametrize("args", [["--help"], ["optimize", "--help"], ["fit", "--help"]])
def test_help_imports_nothing_heavy(args, tmp_path):
    assert sorted(imported(args, tmp_path) & set(NOT_FOR_HELP)) == []


@pytest.mark.parametrize("fmt", ["json", "table"])
def test_optimize_does_not_import_pandas(fmt, tmp_path):
    mods = imported(["optimize", str(SCENARIO), "--no-ledger", "-q", "--format", fmt], tmp_path)
    assert "pulp" in mods and "numpy" in mods  # it did optimise
    assert sorted(mods & set(NOT_FOR_OPTIMIZE)) == []


def test_the_check_can_fail(tmp_path):
    """`--format csv` writes through pandas: the log shows pandas when it is imported."""
    assert "pandas" in imported(
        ["optimize", str(SCENARIO), "--no-ledger", "-q", "--format", "csv"], tmp_path
    )
