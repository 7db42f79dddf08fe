"""Shared pytest set-up: every test gets its own ledger, so no run writes into the repository;
under pytest-xdist (``-n auto``, as .ci/run runs the suite) every worker sees the terminal
variables the command was started with."""

from __future__ import annotations

import os

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
