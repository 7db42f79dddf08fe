"""The highest KPI amount a scenario plans, at or below a starting one: the search behind every
suggestion that lowers a rule on KPI to "X, which is planned" (an undated KPI floor,
``kpi_floor``; a dated ``min_spend`` target and KPI floor, ``phased_target``).

The solve meets a rule on KPI on its pieces, which lie under the curves, and in cents: an amount
within its precision of the most the curves reach is refused (a floor of 763,407.37 where the
curves reach 763,407.3707; 763,407.30 is planned). So the search starts at the most the other
rules allow and steps down until a try plans."""

from __future__ import annotations

import math
from collections.abc import Callable


def cents_down(x: float) -> float:
    """``x`` rounded down to the cent (a float's noise in the last digit ignored)."""
    return math.floor(round(x * 100.0, 6)) / 100.0


def highest_planned(
    top: float,
    attempt: Callable[[float], float],
    *,
    first_step: float,
    tries: int,
    rate: float = 0.0,
    refine: bool = False,
) -> float | None:
    """The highest amount, in cents and at most ``top``, that ``attempt`` plans among those
    tried. ``attempt(t)``: 0 when the scenario with its rule moved to ``t`` plans, else the spend
    it needs beyond its budget (``math.inf`` when not known). Each refused try steps down by
    that spend at ``rate`` (KPI per unit of spend) and a cent more where both are known, else
    by ``first_step``, twice as far each time. ``refine``: then halve the cents between the last
    refused try and the first planned (a solve each), for the highest planned to the cent.
    None when none of ``tries`` tries plans."""
    t = cents_down(top)
    refused: float | None = None
    step = first_step
    for _ in range(tries):
        if t <= 0:
            return None
        over = attempt(t)
        if over == 0.0:
            break
        refused = t
        if math.isfinite(over) and rate > 0.0:
            down = rate * (max(over, 0.0) + 0.01)
        else:
            down, step = step, 2.0 * step
        t = cents_down(t - down)
    else:
        return None
    if refine and refused is not None:
        lo, hi = round(t * 100.0), round(refused * 100.0)
        while hi - lo > 1:
            mid = (hi + lo) // 2
            if attempt(mid / 100.0) == 0.0:
                lo = mid
            else:
                hi = mid
        t = lo / 100.0
    return t
