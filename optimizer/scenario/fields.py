"""Schema building blocks shared by the scenario and its rule kinds: a strict pydantic base and the
checks of an amount of money and of a share."""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, ConfigDict

from optimizer.formatting import did_you_mean
from optimizer.io.files import short_repr
from optimizer.vocabulary import MAX_MONEY

Money = float


class Strict(BaseModel):
    """A frozen pydantic model that rejects unknown keys (answered with a "did you mean …?")."""

    # inf and nan are never a valid value of any field (issue 14: every number finite)
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def check_money(v: Any, what: str) -> Any:
    """``v`` as a float when it is a finite, non-negative amount of money (None passes through).

    Raises ``ValueError`` naming ``what`` otherwise."""
    if v is None:
        return v
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ValueError(f"{what} must be an amount of money, got {short_repr(v)}")
    if not math.isfinite(float(v)):
        raise ValueError(f"{what} must be finite, got {short_repr(v)}")
    if v < 0:
        raise ValueError(f"{what} must not be negative, got {short_repr(v)}")
    if v > MAX_MONEY:
        raise ValueError(f"{what} must be at most {MAX_MONEY:,.0f}, got {short_repr(v)}")
    return float(v)


def check_cents(v: Any, what: str) -> Any:
    """``check_money``, and a whole number of cents: an amount a plan must spend *exactly* (a
    lock, an exact budget), since every plan is rounded to the cent (a lock of 100,000.005
    could only be missed by half a cent). Float noise (``0.1 + 0.2``) is not a fraction."""
    v = check_money(v, what)
    if v is not None and abs(v - round(v, 2)) > max(1e-9, abs(v) * 1e-15):
        raise ValueError(
            f"{what} must be a whole number of cents (a plan spends it exactly, and every plan "
            f"is rounded to the cent): {short_repr(v)} has a fraction of a cent; give {v:,.2f}"
        )
    return v


def check_share(v: Any) -> Any:
    """``v`` as a float when it is a fraction in [0, 1] (None passes through)."""
    if v is None:
        return v
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 1:
        raise ValueError(f"a share must be a fraction between 0 and 1, got {short_repr(v)}")
    return float(v)


def suggest(word: str, choices: Any) -> str:
    """`` (did you mean 'x'?)`` for a close match among ``choices``, else ""."""
    return did_you_mean(word, choices, list_choices=False)
