"""The journey (contract 1), history (contract 2) and calibration files: the names their readers
have always been imported by. The readers live in ``optimizer.io`` (one module per file contract);
this module re-exports them so ``from optimizer.data import read_history`` keeps working."""

from __future__ import annotations

from optimizer.io.calibration import CALIBRATION_COLUMNS, LiftTest, read_calibration
from optimizer.io.files import load_yaml
from optimizer.io.history import History, has_markets, read_history, read_market_histories
from optimizer.io.journey import Journey, KpiSpec, TouchpointSpec, journey_from_dict, read_journey

__all__ = [
    "CALIBRATION_COLUMNS",
    "History",
    "Journey",
    "KpiSpec",
    "LiftTest",
    "TouchpointSpec",
    "has_markets",
    "journey_from_dict",
    "load_yaml",
    "read_calibration",
    "read_history",
    "read_journey",
    "read_market_histories",
]
