"""Numbers in the review's sentences (renderers format their tables themselves)."""

from __future__ import annotations

import math


def fmt_amount(v: float | None) -> str:
    """Whole units with thousands separators (``-1,234``); ``–`` for None."""
    if v is None or not math.isfinite(v):
        return "∞" if v is not None and v > 0 else "–"
    r = round(v)
    return f"{r:,.0f}" if r != 0 else "0"


def fmt_delta(v: float | None) -> str:
    """A signed change in whole units: ``+1,234`` / ``−1,234`` / ``0``."""
    if v is None or not math.isfinite(v):
        return "–"
    r = round(v)
    if r == 0:
        return "0"
    return f"+{r:,.0f}" if r > 0 else f"−{-r:,.0f}"


def fmt_ratio(v: float | None, digits: int = 3) -> str:
    """A return (KPI per unit of money) to ``digits`` decimals; ``∞`` and ``–`` as needed."""
    if v is None:
        return "–"
    if math.isinf(v):
        return "∞"
    if not math.isfinite(v):
        return "–"
    return f"{v:,.{digits}f}"


def nice_step(x: float) -> float:
    """A round amount near ``x`` (1, 2 or 5 times a power of ten, not above ``x``)."""
    if not math.isfinite(x) or x <= 0:
        return 1.0
    p = 10 ** math.floor(math.log10(x))
    for m in (5, 2, 1):
        if m * p <= x * (1 + 1e-12):
            return float(m * p)
    return float(p)
