"""Lift tests as weighted pseudo-observations of the least squares (grid candidates)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class _Calibration:
    """The lift tests a fit uses (``fit_model(calibration=...)``).

    ``unit[i]`` is ``(n_cal, n_grid)``: the model lift of each test per unit beta of searched
    touchpoint ``i`` for every grid candidate (its own adstock and saturation over the history
    with the test's extra spend added, carry-over after the test included, minus the same
    without), zero in the rows of tests on other touchpoints. A test is a pseudo-observation of
    weight ``sigma / se``, ``sigma`` the weekly noise sd of the data: its squared weighted misfit
    is ``sigma^2 z^2``, on the scale of one week's squared error, so the data and the tests are
    weighed by their own noise.
    """

    unit: dict[int, np.ndarray]
    lift: np.ndarray
    se: np.ndarray
    sigma: float

    @property
    def n(self) -> int:
        return int(self.lift.size)

    @property
    def w(self) -> np.ndarray:
        return self.sigma / self.se

    @property
    def r(self) -> np.ndarray:
        return self.lift * self.w

    def L(self, i: int, idx: Any) -> np.ndarray:
        """Weighted unit lifts of touchpoint ``i``'s candidates ``idx``: ``(n_cal, len(idx))``."""
        return self.unit[i][:, idx] * self.w[:, None]

    def matrix(self, ch: dict[int, int], slots: dict[int, int], width: int) -> np.ndarray:
        """Weighted unit lifts of the media columns for the shapes ``ch`` (``slots``: touchpoint
        -> column; other columns, such as lock-step groups, get none)."""
        out = np.zeros((self.n, width))
        for i, k in slots.items():
            out[:, k] = self.unit[i][:, ch[i]] * self.w
        return out

    def with_sigma(self, sigma: float) -> _Calibration:
        return _Calibration(self.unit, self.lift, self.se, sigma)
