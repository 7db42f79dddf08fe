"""Vectorised evaluation of many line items' curves at once (one spend per line item).

Used where per-object calls would cost too much at 10,000 line items: the dual bound, the
marginal returns of a plan, finite differences.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from optimizer.allocate.breakpoints import HorizonCurve
from optimizer.response import curves as C

#: one saturation family's line items evaluated together: (family, their indices, the curve
#: parameters as arrays, steady-state factors, weeks, scales)
_Group = tuple[str, np.ndarray, dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray]


@dataclass(frozen=True)
class CurveBank:
    curves: tuple[HorizonCurve, ...]
    #: line items whose curve is a weighted sum of parts (evaluated one by one)
    _composite: np.ndarray = field(init=False, repr=False, compare=False)
    _groups: list[_Group] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        composite, groups = self._make_groups()
        object.__setattr__(self, "_composite", composite)
        object.__setattr__(self, "_groups", groups)

    @classmethod
    def of(cls, curves: Sequence[HorizonCurve]) -> CurveBank:
        return cls(tuple(curves))

    def _make_groups(self) -> tuple[np.ndarray, list[_Group]]:
        by: dict[str, list[int]] = {}
        composite = []
        for i, c in enumerate(self.curves):
            if c.parts:
                composite.append(i)
                continue
            by.setdefault(c.response.curve.family, []).append(i)
        groups: list[_Group] = []
        for fam, idx in by.items():
            names = C.SATURATION[fam][3]
            params = {
                n: np.array([float(self.curves[i].response.curve.params[n]) for i in idx])
                for n in names
            }
            k = np.array([self.curves[i].response.steady_factor for i in idx])
            weeks = np.array([self.curves[i].weeks for i in idx])
            scale = np.array([self.curves[i].scale for i in idx])
            groups.append((fam, np.array(idx), params, k, weeks, scale))
        return np.array(composite, dtype=int), groups

    def _eval(self, s: np.ndarray, which: int) -> np.ndarray:
        """Value (0), slope (1) or curvature (2) of line item ``i`` at ``s[i]``; ``s`` may also be
        a matrix whose row ``i`` holds several spends of line item ``i``."""
        s = np.asarray(s, float)
        out = np.empty(s.shape)
        for i in self._composite:
            c = self.curves[i]
            f = (c.value, c.slope, c.curvature)[which]
            out[i] = f(s[i])
        for fam, idx, params, k, weeks, scale in self._groups:
            if s.ndim == 2:
                params = {n: v[:, None] for n, v in params.items()}
                k, weeks, scale = k[:, None], weeks[:, None], scale[:, None]
            a = k * s[idx] / weeks
            f = C.SATURATION[fam][:3][which]
            v = f(a, **params)
            if which == 0:
                out[idx] = scale * weeks * v
            elif which == 1:
                out[idx] = scale * k * v
            else:
                out[idx] = scale * k * k / weeks * v
        return out

    def value(self, s: np.ndarray) -> np.ndarray:
        """KPI (objective units) of each line item at total spend ``s[i]``."""
        return self._eval(s, 0)

    def slope(self, s: np.ndarray) -> np.ndarray:
        """d value / d spend of each line item at ``s[i]``."""
        return self._eval(s, 1)

    def curvature(self, s: np.ndarray) -> np.ndarray:
        """d² value / d spend² of each line item at ``s[i]``."""
        return self._eval(s, 2)


def maximise_separable(
    bank: CurveBank,
    cost: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    concave: np.ndarray,
    extra_points: Sequence[np.ndarray] = (),
    iters: int = 80,
) -> tuple[np.ndarray, np.ndarray]:
    """For each line item, ``max_{x ∈ [lo, hi]} value(x) - cost·x``; returns (argmax, max).

    Concave curves: bisection on ``slope(x) = cost`` (exact to floating point). Others: the best of
    a dense grid, polished by golden-section search around it.
    """
    a = lo.astype(float).copy()
    b = hi.astype(float).copy()
    # bisection for all at once (harmless for non-concave ones, fixed below)
    for _ in range(iters):
        m = 0.5 * (a + b)
        go_right = bank.slope(m) > cost
        a = np.where(go_right, m, a)
        b = np.where(go_right, b, m)
    x = 0.5 * (a + b)
    cand = [x, lo.astype(float), hi.astype(float), *extra_points]
    best_x = x.copy()
    best_v = bank.value(x) - cost * x
    for c in cand[1:]:
        c = np.clip(np.asarray(c, float), lo, hi)
        v = bank.value(c) - cost * c
        better = v > best_v
        best_x = np.where(better, c, best_x)
        best_v = np.where(better, v, best_v)
    nc = np.flatnonzero(~concave)
    for i in nc:
        g = np.unique(
            np.concatenate(
                [
                    np.linspace(lo[i], hi[i], 4001),
                    np.geomspace(max(hi[i] * 1e-7, 1e-9), max(hi[i], 1e-9), 2001),
                ]
            )
        )
        g = g[(g >= lo[i]) & (g <= hi[i])]
        curve = bank.curves[i]
        v = curve.value(g) - cost[i] * g
        j = int(np.argmax(v))
        left, right = g[max(j - 1, 0)], g[min(j + 1, len(g) - 1)]
        phi = (np.sqrt(5) - 1) / 2
        for _ in range(60):
            m1 = right - phi * (right - left)
            m2 = left + phi * (right - left)
            if curve.value(m1) - cost[i] * m1 >= curve.value(m2) - cost[i] * m2:
                right = m2
            else:
                left = m1
        xm = 0.5 * (left + right)
        for xx in (xm, g[j]):
            vv = float(curve.value(xx) - cost[i] * xx)
            if vv > best_v[i]:
                best_v[i], best_x[i] = vv, xx
    return best_x, best_v
