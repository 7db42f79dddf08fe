"""Response curves → piecewise-linear breakpoints. Pure numpy; no PuLP here.

A line item's horizon response is ``F(S) = H * weekly_kpi(S / H)`` for total spend ``S`` over
``H`` weeks. Breakpoints are placed where ``F`` bends: for a curve interpolated linearly on a piece
of width ``h`` the largest error is about ``h² |F''| / 8``, so spacing pieces with density
``∝ sqrt(|F''|)`` equalises the error across pieces. They are placed only over the range the
line item's spend can actually take, and refined around a solution afterwards.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from optimizer.response.model import TouchpointResponse


@dataclass(frozen=True)
class HorizonCurve:
    """A line item's response over the horizon: total spend → KPI, and its derivatives."""

    response: TouchpointResponse
    weeks: float
    scale: float = 1.0  # multiplies the KPI (e.g. money per KPI unit)
    #: a weighted sum of several KPIs' curves (value per unit, curve); when given, it replaces
    #: ``scale × response`` (``response`` stays the main KPI's, for spend ranges and labels)
    parts: tuple[tuple[float, TouchpointResponse], ...] = ()

    def _terms(self) -> tuple[tuple[float, TouchpointResponse], ...]:
        return self.parts or ((self.scale, self.response),)

    def value(self, s: np.ndarray | float) -> np.ndarray:
        x = np.asarray(s, float) / self.weeks
        return sum(w * self.weeks * r.weekly_kpi(x) for w, r in self._terms())

    def slope(self, s: np.ndarray | float) -> np.ndarray:
        x = np.asarray(s, float) / self.weeks
        return sum(w * r.weekly_marginal(x) for w, r in self._terms())

    def curvature(self, s: np.ndarray | float) -> np.ndarray:
        x = np.asarray(s, float) / self.weeks
        return sum((w / self.weeks) * r.weekly_second_derivative(x) for w, r in self._terms())

    @property
    def concave(self) -> bool:
        return all(r.concave for w, r in self._terms() if w != 0)

    @property
    def inflection(self) -> float:
        return max(r.inflection_spend for _, r in self._terms()) * self.weeks

    @property
    def saturation_value(self) -> float:
        """The KPI (objective units) this line item approaches as spend grows without bound."""
        return sum(w * self.weeks * r.saturation_level for w, r in self._terms())


def _probe_grid(lo: float, hi: float, n: int = 300) -> np.ndarray:
    """Linear and geometric points over [lo, hi], so both ends of wide ranges are resolved."""
    if hi <= lo:
        return np.array([lo])
    lin = np.linspace(lo, hi, n)
    start = max(lo, hi * 1e-7) if lo <= 0 else lo
    geo = np.geomspace(start, hi, n) if start > 0 else lin
    return np.unique(np.concatenate([[lo], lin, geo, [hi]]))


def curvature_breakpoints(curve: HorizonCurve, lo: float, hi: float, n_pieces: int = 12,
                          extra: tuple[float, ...] = ()) -> np.ndarray:
    """Breakpoints over ``[lo, hi]`` with density ∝ sqrt(|F''|), plus ``0``, ``lo``, ``hi`` and ``extra``.

    For an S-curve the inflection point is always a breakpoint, so convex and concave pieces
    never share a piece.
    """
    lo, hi = float(lo), float(hi)
    pts = [0.0, lo, hi, *[e for e in extra if 0.0 <= e <= hi]]
    if hi > lo and n_pieces > 1:
        g = _probe_grid(lo, hi)
        with np.errstate(invalid="ignore", over="ignore"):
            c = np.sqrt(np.abs(curve.curvature(g)))
        c = np.where(np.isfinite(c), c, 0.0)
        # cap the singular density at the origin (hill shape < 1) so it cannot swallow every piece
        if c.max() > 0:
            c = np.minimum(c, np.quantile(c, 0.995) * 4 + 1e-300)
        seg = 0.5 * (c[1:] + c[:-1]) * np.diff(g)
        total = seg.sum()
        # 15% uniform share keeps flat stretches from going without pieces
        uni = np.diff(g) / (hi - lo) * (total if total > 0 else 1.0)
        w = 0.85 * seg + 0.15 * uni
        cum = np.concatenate([[0.0], np.cumsum(w)])
        targets = np.linspace(0.0, cum[-1], n_pieces + 1)[1:-1]
        pts.extend(np.interp(targets, cum, g).tolist())
    if not curve.concave and 0 < curve.inflection < hi:
        pts.append(curve.inflection)
    return _clean(np.array(pts), hi)


def refine_around(points: np.ndarray, x: float, lo: float, hi: float,
                  rel: tuple[float, ...] = (1e-4, 1e-3, 4e-3, 1.5e-2, 5e-2, 0.15, 0.4)) -> np.ndarray:
    """Add breakpoints at ``x`` and at ``x·(1 ± r)`` so the pieces next to the solution are short."""
    scale = max(abs(x), (hi - lo) * 1e-3, 1e-9)
    new = [x] + [x + s * r * scale for r in rel for s in (-1.0, 1.0)]
    new = [p for p in new if lo <= p <= hi]
    return _clean(np.concatenate([points, new]), hi)


def _clean(pts: np.ndarray, hi: float) -> np.ndarray:
    pts = np.unique(np.clip(pts[np.isfinite(pts)], 0.0, hi))
    if len(pts) > 1:
        # merge points closer than a relative tolerance: pieces of (near) zero width are noise
        tol = max(hi, 1.0) * 1e-12
        keep = np.concatenate([[True], np.diff(pts) > tol])
        pts = pts[keep]
        pts[-1] = hi
    return pts


@dataclass(frozen=True)
class Pieces:
    """Piecewise-linear interpolation of a curve: widths and slopes of consecutive pieces from 0."""

    points: np.ndarray  # breakpoints, starting at 0
    values: np.ndarray  # F at the breakpoints
    widths: np.ndarray
    slopes: np.ndarray

    @property
    def convex_pieces(self) -> int:
        """Number of leading pieces whose slope rises (the convex part of an S-curve)."""
        d = np.diff(self.slopes)
        k = 0
        while k < len(d) and d[k] > 1e-12 * max(1.0, abs(self.slopes[k])):
            k += 1
        return k


def pieces(curve: HorizonCurve | Callable[[np.ndarray], np.ndarray], points: np.ndarray) -> Pieces:
    f = curve.value if isinstance(curve, HorizonCurve) else curve
    pts = np.asarray(points, float)
    if pts[0] != 0.0:
        pts = np.concatenate([[0.0], pts])
    vals = np.asarray(f(pts), float)
    widths = np.diff(pts)
    with np.errstate(divide="ignore", invalid="ignore"):
        slopes = np.where(widths > 0, np.diff(vals) / widths, 0.0)
    # slopes of fully saturated pieces (1e-22) only make solvers' tolerances misbehave
    top = float(np.max(np.abs(slopes))) if len(slopes) else 0.0
    slopes = np.where(np.abs(slopes) < 1e-13 * top, 0.0, slopes)
    return Pieces(pts, vals, widths, slopes)
