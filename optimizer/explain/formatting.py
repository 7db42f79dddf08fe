"""Numbers in the review's sentences: the review's names for ``optimizer.formatting``'s formats."""

from __future__ import annotations

import math

from optimizer.formatting import HALF_CENT, UNDER_ONE, delta, money, ratio


def fmt_amount(v: float | None) -> str:
    """Whole units with thousands separators (``-1,234``); ``–`` for None, ``∞`` for no limit.
    An amount of a cent or more that rounds to 0 is ``<1``, as the tables print a line item
    funded under one unit ("Adding <1 to d", not "Adding 0 to d")."""
    if v is not None and math.isfinite(v) and v >= HALF_CENT and round(v) == 0:
        return UNDER_ONE
    return money(v)


def fmt_about(v: float | None) -> str:
    """``about 1,234``; ``less than 1`` for an amount that rounds to under one unit (``about <1``
    read "costs about <1 revenue per 10,000")."""
    s = fmt_amount(v)
    return "less than 1" if s == UNDER_ONE else f"about {s}"


def fmt_delta(v: float | None) -> str:
    """A signed change in whole units, typeset: ``+1,234`` / ``−1,234`` / ``0``."""
    return delta(v, "−")


def fmt_ratio(v: float | None, digits: int = 3) -> str:
    """A return (KPI per unit of money) to ``digits`` decimals; ``∞`` and ``–`` as needed."""
    return ratio(v, digits)


def nice_step(x: float) -> float:
    """A round amount near ``x`` (1, 2 or 5 times a power of ten, not above ``x``)."""
    if not math.isfinite(x) or x <= 0:
        return 1.0
    p = 10 ** math.floor(math.log10(x))
    for m in (5, 2, 1):
        if m * p <= x * (1 + 1e-12):
            return float(m * p)
    return float(p)
