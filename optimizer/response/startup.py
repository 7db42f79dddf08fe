"""Where the fit's likelihood starts: the adstock's start-up.

The fit computes every touchpoint's adstock from zero carry-over at the history's first week
(``a_t = x_t + decay * a_{t-1}``, ``a_{-1} = 0``). A real history starts mid-stream: the spend
before it left carry-over that the first weeks' KPI shows and the zero start does not, the more
the longer the decay (at decay 0.75 the start-up still understates week 8's adstock by 10% of
the earlier spend's steady state). ``burn_in`` weeks at the start are left out of the
likelihood (the adstock still runs through them, from zero): the fit conditions on them, as a
conditional likelihood conditions on a time series' first values, so carry-in from before the
history cannot bias the decay. Measured in docs/response-models.md ("Long carry-overs fitted
short"): an option, ``fit_model(burn_in_weeks=...)``.
"""

from __future__ import annotations

import numpy as np

#: Weeks at the start left out of the likelihood (0: none, the default)
BURN_IN_WEEKS = 0


def likelihood_rows(n: int, burn_in: int | None = None) -> np.ndarray:
    """The weeks ``0..n-1`` whose KPI enters the likelihood: all but the first ``burn_in``
    (``BURN_IN_WEEKS`` when None), keeping at least half of them."""
    b = BURN_IN_WEEKS if burn_in is None else int(burn_in)
    b = max(0, min(b, n // 2))
    return np.arange(b, n)
