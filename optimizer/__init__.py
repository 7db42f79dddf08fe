"""budgetopt: zero-based budget optimisation over learned response curves."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
