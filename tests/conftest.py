"""Shared pytest set-up: every test gets its own ledger, so no run writes into the repository;
under pytest-xdist (``-n auto``, as .ci/run runs the suite) every worker sees the terminal
variables the command was started with."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

#: the variables that set the width of the CLI's tables (optimizer/render/terminal.py). An xdist
#: worker starts with COLUMNS=80 and LINES=24 of its own, so tables there were cut to 80 columns
#: where a plain ``pytest`` run prints them at the default 100 (tests/test_ledger.py failed).
_TERMINAL = ("COLUMNS", "LINES")


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):  # an xdist hook (the controller): pass the variables on
    node.workerinput["terminal_env"] = {k: os.environ.get(k) for k in _TERMINAL}


def pytest_configure(config):
    sent = getattr(config, "workerinput", {}).get("terminal_env")
    if sent is None:  # not an xdist worker
        return
    for k, v in sent.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(autouse=True)
def _private_ledger(tmp_path, monkeypatch):
    monkeypatch.setenv("BUDGETOPT_LEDGER", str(tmp_path / "ledger.sqlite"))


@pytest.fixture(scope="session")
def demo_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder ``budgetopt demo --out FOLDER`` writes (a subprocess, as a user runs it), made
    once per test run: under pytest-xdist the first worker to ask makes it under a lock in the
    run's shared temporary folder and the others wait and read it (each demo fits the sample
    company, several seconds). Read it only: a test that writes next to its files copies it."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the run's folder, above each worker's
    out = root / "shared-demo"
    with open(root / "shared-demo.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (root / "shared-demo.ok").exists():
            shutil.rmtree(out, ignore_errors=True)
            r = subprocess.run(
                [sys.executable, "-m", "optimizer", "demo", "--out", str(out)],
                capture_output=True,
                text=True,
                env={**os.environ, "BUDGETOPT_LEDGER": str(root / "shared-demo.sqlite")},
            )
            assert r.returncode == 0, r.stderr
            (root / "shared-demo.ok").write_text("made\n")
    return out
