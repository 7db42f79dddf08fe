"""Shared pytest set-up: every test gets its own ledger, so no run writes into the repository."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _private_ledger(tmp_path, monkeypatch):
    monkeypatch.setenv("BUDGETOPT_LEDGER", str(tmp_path / "ledger.sqlite"))
