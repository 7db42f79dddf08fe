"""The margin the pieces of a curve reach past a line item's cap, in one place.

``make_problem`` lets each line item's pieces run a little past its cap (``pad_cap``), so that a
binding cap is a binding row of the LP, with its shadow price, rather than a variable bound the
solver reports no dual for. Whoever needs the cap back from an item's ``hi`` undoes exactly that
(``unpad_cap``).
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np

#: the pieces reach 2% past the cap (plus a nanounit, so a zero cap still has a piece)
CAP_MARGIN = 1.02
_ABS = 1e-9

T = TypeVar("T", float, np.ndarray)


def pad_cap(top: T) -> T:
    """The end of a line item's pieces for a cap (or top) of ``top``."""
    return top * CAP_MARGIN + _ABS * (1.0 + top)


def unpad_cap(hi: T) -> T:
    """The cap ``pad_cap`` was given, from the end of the pieces ``hi`` (its exact inverse)."""
    return (hi - _ABS) / (CAP_MARGIN + _ABS)
