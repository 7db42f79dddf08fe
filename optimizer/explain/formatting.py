"""Numbers in the review's sentences: the review's names for ``optimizer.formatting``'s formats."""

from __future__ import annotations

import math

from optimizer.formatting import delta, money, ratio


def fmt_amount(v: float | None) -> str:
    """Whole units with thousands separators (``-1,234``); ``–`` for None, ``∞`` for no limit."""
    return money(v)


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
