"""The bundled sample company (Northwind Outfitters): data, its true curves and example scenarios.

The files here are written by ``python -m optimizer.sample.generate`` from
:func:`optimizer.simulate.sample_company`; a test checks they match what the generator produces.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "history_path",
    "journey_path",
    "sample_dir",
    "scenarios_dir",
    "true_contributions_path",
    "true_model_path",
]


def sample_dir() -> Path:
    """The folder holding the sample company's files."""
    return Path(__file__).resolve().parent


def journey_path() -> Path:
    """``journey.yaml`` (contract 1)."""
    return sample_dir() / "journey.yaml"


def history_path() -> Path:
    """``history.csv`` (contract 2): 156 weeks of spend, revenue and the price index."""
    return sample_dir() / "history.csv"


def true_model_path() -> Path:
    """``true_model.json`` (contract 3): the true response curves the data were simulated from."""
    return sample_dir() / "true_model.json"


def true_contributions_path() -> Path:
    """``true_contributions.csv``: the true weekly contribution of every touchpoint and component."""
    return sample_dir() / "true_contributions.csv"


def scenarios_dir() -> Path:
    """The example scenarios (contract 4), pointing at ``true_model.json``."""
    return sample_dir() / "scenarios"
