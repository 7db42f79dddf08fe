"""Where the fit's likelihood starts: the adstock's start-up.

The fit computes every touchpoint's adstock from zero carry-over at the history's first week
(``a_t = x_t + decay * a_{t-1}``, ``a_{-1} = 0``). A real history starts mid-stream: the spend
before it left carry-over that the first weeks' KPI shows and the zero start does not, the more
the longer the decay (at decay 0.75 the start-up still understates week 8's adstock by 10% of
the earlier spend's steady state). ``burn_in`` weeks at the start are left out of the
likelihood (the adstock still runs through them, from zero): the fit conditions on them, as a
conditional likelihood conditions on a time series' first values, so carry-in from before the
history cannot bias the decay. Measured in docs/response-models-measured.md ("Long carry-overs fitted
short"): an option, ``fit_model(burn_in_weeks=...)``.

The default instead fits the carry-in as a nuisance (``fit_start``, ``initial_carryover="fitted"``,
below): the first weeks stay in the likelihood, their ramp-up still informs the decay.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

#: Weeks at the start left out of the likelihood (0: none, the default)
BURN_IN_WEEKS = 0


def likelihood_rows(n: int, burn_in: int | None = None) -> np.ndarray:
    """The weeks ``0..n-1`` whose KPI enters the likelihood: all but the first ``burn_in``
    (``BURN_IN_WEEKS`` when None), keeping at least half of them."""
    b = BURN_IN_WEEKS if burn_in is None else int(burn_in)
    b = max(0, min(b, n // 2))
    return np.arange(b, n)


#: The adstock at the history's start (``fit_model(initial_carryover=...)``): ``"zero"``
#: (``a_{-1} = 0``) or ``"fitted"`` (the default: a nuisance of the MAP fit, below)
INITIAL_CARRYOVER = "fitted"
INITIAL_CARRYOVER_CHOICES = ("zero", "fitted")
#: ``"fitted"``: every touchpoint starts at ``a_{-1} = r * m_i / (1 - decay_i)``, ``m_i`` its mean
#: weekly spend over the first ``CARRY_WEEKS`` weeks (``r = 1``: the steady state of that spend,
#: ``r = 0``: the zero start); ``r`` shared by the touchpoints, profiled over ``CARRY_LEVELS`` (a
#: MAP fit at each on the first fit's weeks, the lowest MAP objective kept; the later fits, warm
#: started from it, keep it)
CARRY_WEEKS = 13
CARRY_LEVELS = (0.0, 1.0)
#: a carry-in (``r > 0``) is one more parameter: kept only when it lowers the MAP objective (in
#: units of the noise variance: minus twice the log posterior) by more than ``CARRY_PENALTY`` ln n
#: (the Bayesian information criterion's price of a parameter at 1, as the family choice's)
CARRY_PENALTY = 1.0


def carry_of(xs: Sequence[np.ndarray], level: float) -> tuple[float, ...]:
    """Each touchpoint's weekly spend before the history at level ``r`` (``joint.Tp.carry``)."""
    return tuple(float(level) * float(np.mean(x[:CARRY_WEEKS])) if x.size else 0.0 for x in xs)


def fit_start(
    map_fit: Callable[..., Any],
    data: Any,
    *args: Any,
    mode: str = "zero",
    warm: Any = None,
    **kw: Any,
) -> Any:
    """``map_fit(data, *args, warm=warm, **kw)`` (``data``: a ``mapsetup.MapData``) with the history's start ``mode``: with
    ``"fitted"`` and no ``warm`` fit, one fit per level of ``CARRY_LEVELS``, the lowest MAP
    objective plus ``CARRY_PENALTY`` kept (in ``start``: its level, every level's objective over
    the noise variance); otherwise the warm fit's start (zero without one)."""
    if mode == "zero" or warm is not None:
        f = map_fit(data, *args, warm=warm, **kw)
        f.start = dict(warm.start) if warm is not None else {}
        return f
    best, costs, crit, sigma2 = None, {}, math.inf, 0.0
    for r in CARRY_LEVELS:
        f = map_fit(data, *args, carry=carry_of(data.xs, r), **kw)
        sigma2 = sigma2 or max(float(f.sigma) ** 2, 1e-300)  # the first level's noise, for all
        costs[str(float(r))] = float(f.cost) / sigma2
        c = costs[str(float(r))] + (CARRY_PENALTY * math.log(len(f.rows)) if r else 0.0)
        if c < crit:
            best, crit, f.start = f, c, {"level": float(r)}
    assert best is not None
    best.start["map_objective"] = costs
    return best


def starter(map_fit: Callable[..., Any], mode: str) -> Callable[..., Any]:
    """``fit_start`` with ``map_fit`` and ``mode`` bound."""
    return functools.partial(fit_start, map_fit, mode=mode)


def diagnostics(fit: Any, mode: str) -> dict[str, Any]:
    """``diagnostics.initial_carryover`` of a fit with ``initial_carryover="fitted"``."""
    if mode == "zero":
        return {}
    return {
        "initial_carryover": {
            "method": "steady state of the first weeks' spend times a shared level r, profiled",
            "weeks": CARRY_WEEKS,
            "levels": list(CARRY_LEVELS),
            "penalty_ln_n": CARRY_PENALTY,
            **fit.start,
        }
    }
