"""Response curves → piecewise-linear breakpoints. Pure numpy; no PuLP here.

A line item's horizon response is ``F(S) = H * weekly_kpi(S / H)`` for total spend ``S`` over
``H`` weeks. Breakpoints are placed where ``F`` bends: for a curve interpolated linearly on a piece
of width ``h`` the largest error is about ``h² |F''| / 8``, so spacing pieces with density
``∝ sqrt(|F''|)`` equalises the error across pieces. They are placed only over the range the
line item's spend can actually take, and refined around a solution afterwards.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property, reduce

import numpy as np

from optimizer.response.model import TouchpointResponse


def _sum_terms(values: Iterable[np.ndarray]) -> np.ndarray:
    """Σ of a curve's (never empty) terms, added left to right as ``sum`` does (minus its 0 start)."""
    return reduce(operator.add, values)


@dataclass(frozen=True)
class HorizonCurve:
    """A line item's response over the horizon: total spend → KPI, and its derivatives."""

    response: TouchpointResponse
    weeks: float
    scale: float = 1.0  # multiplies the KPI (e.g. money per KPI unit)
    #: a weighted sum of several KPIs' curves (value per unit, curve); when given, it replaces
    #: ``scale × response`` (``response`` stays the main KPI's, for spend ranges and labels)
    parts: tuple[tuple[float, TouchpointResponse], ...] = ()
    #: with ``parts``: the share of the line item's spend each part receives (default all of it);
    #: a national buy delivered in every market is ``Σ_m F_m(share_m × S)``
    spend_shares: tuple[float, ...] = ()

    def _terms(self) -> tuple[tuple[float, TouchpointResponse, float], ...]:
        if not self.parts:
            return ((self.scale, self.response, 1.0),)
        shares = self.spend_shares or (1.0,) * len(self.parts)
        return tuple((w, r, k) for (w, r), k in zip(self.parts, shares, strict=True))

    def value(self, s: np.ndarray | float) -> np.ndarray:
        x = np.asarray(s, float) / self.weeks
        return _sum_terms(w * self.weeks * r.weekly_kpi(k * x) for w, r, k in self._terms())

    def slope(self, s: np.ndarray | float) -> np.ndarray:
        x = np.asarray(s, float) / self.weeks
        return _sum_terms(w * k * r.weekly_marginal(k * x) for w, r, k in self._terms())

    def curvature(self, s: np.ndarray | float) -> np.ndarray:
        x = np.asarray(s, float) / self.weeks
        return _sum_terms(
            (w * k * k / self.weeks) * r.weekly_second_derivative(k * x)
            for w, r, k in self._terms()
        )

    @cached_property
    def concave(self) -> bool:
        return all(r.concave for w, r, k in self._terms() if w != 0 and k != 0)

    @cached_property
    def inflection(self) -> float:
        return (
            max(r.inflection_spend / k for _, r, k in self._terms() if k > 0) * self.weeks
            if any(k > 0 for _, _, k in self._terms())
            else 0.0
        )

    @property
    def saturation_value(self) -> float:
        """The KPI (objective units) this line item approaches as spend grows without bound."""
        return sum(w * self.weeks * r.saturation_level for w, r, k in self._terms() if k > 0)


def bank_breakpoints(
    bank,
    lo: np.ndarray,
    hi: np.ndarray,
    n_pieces: np.ndarray,
    extra: list[tuple[float, ...]] | None = None,
    probe: int = 64,
) -> list[np.ndarray]:
    """Breakpoints over each line item's ``[lo, hi]`` with density ∝ sqrt(|F''|), plus ``0``,
    ``lo``, ``hi`` and its ``extra`` points; an S-curve's inflection point is always one, so convex
    and concave pieces never share a piece.

    The density is integrated over linear and geometric probes (so both ends of wide ranges are
    resolved), its singularity at the origin (hill shape < 1) capped so that it cannot swallow every
    piece, and 15% of it spread uniformly so that flat stretches keep some pieces. Every line
    item's curvature is evaluated, integrated and inverted in whole-array operations: at 10,000
    line items this is what keeps the first round cheap.
    """
    lo = np.asarray(lo, float)
    hi = np.asarray(hi, float)
    n = len(lo)
    if n == 0:
        return []
    t = np.linspace(0.0, 1.0, probe)
    span = np.maximum(hi - lo, 0.0)
    lin = lo[:, None] + span[:, None] * t
    start = np.where(lo <= 0, np.maximum(hi * 1e-7, 1e-300), np.maximum(lo, 1e-300))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ratio = np.where(hi > start, hi / start, 1.0)
        geo = start[:, None] * ratio[:, None] ** t
    g = np.sort(
        np.clip(
            np.concatenate([lo[:, None], lin, geo, hi[:, None]], axis=1),
            lo[:, None],
            np.maximum(hi, lo)[:, None],
        ),
        axis=1,
    )
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        c = np.sqrt(np.abs(bank.curvature(g)))
    c = np.where(np.isfinite(c), c, 0.0)
    cap = np.quantile(c, 0.995, axis=1) * 4 + 1e-300
    c = np.minimum(c, cap[:, None])
    dg = np.diff(g, axis=1)
    seg = 0.5 * (c[:, 1:] + c[:, :-1]) * dg
    total = seg.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        uni = dg / np.where(span > 0, span, 1.0)[:, None] * np.where(total > 0, total, 1.0)[:, None]
    cum = np.concatenate([np.zeros((n, 1)), np.cumsum(0.85 * seg + 0.15 * uni, axis=1)], axis=1)
    top = cum[:, -1]
    ok = (hi > lo) & (top > 0)
    # invert the cumulative density of all rows in one search: rows normalised to [0, 1] and
    # shifted by 2 per row are one increasing sequence
    P = cum.shape[1]
    norm = (
        np.where(ok[:, None], cum / np.where(top > 0, top, 1.0)[:, None], 0.0)
        + 2.0 * np.arange(n)[:, None]
    )
    flat = norm.ravel()
    k = np.asarray(n_pieces, int)
    kmax = int(k.max())
    frac = np.full((n, max(kmax - 1, 0)), np.nan)
    for kk in np.unique(k):
        if kk > 1:
            rows = np.flatnonzero(k == kk)
            frac[np.ix_(rows, np.arange(kk - 1))] = np.linspace(0.0, 1.0, kk + 1)[1:-1]
    want = frac + 2.0 * np.arange(n)[:, None]
    pos = np.searchsorted(flat, np.where(np.isfinite(want), want, 0.0).ravel()).reshape(want.shape)
    j = np.clip(pos - np.arange(n)[:, None] * P, 1, P - 1)
    r = np.arange(n)[:, None]
    left, right = norm[r, j - 1], norm[r, j]
    with np.errstate(invalid="ignore", divide="ignore"):
        w = np.where(right > left, (want - left) / (right - left), 0.0)
    inner = g[r, j - 1] + np.clip(w, 0.0, 1.0) * (g[r, j] - g[r, j - 1])
    inner = np.where(np.isfinite(frac) & ok[:, None], inner, np.nan)
    ex = max((len(e) for e in (extra or [])), default=0)
    E = np.full((n, ex), np.nan)
    for i, e in enumerate(extra or []):
        E[i, : len(e)] = e
    infl = np.array([c_.inflection if not c_.concave else np.nan for c_ in bank.curves])
    infl = np.where((infl > 0) & (infl < hi), infl, np.nan)
    M = np.concatenate(
        [np.zeros((n, 1)), lo[:, None], hi[:, None], E, inner, infl[:, None]], axis=1
    )
    M = np.where((M >= 0) & (M <= hi[:, None]), M, np.nan)  # extras outside [0, hi] are dropped
    M = np.sort(M, axis=1)  # NaN last
    tol = np.maximum(hi, 1.0) * 1e-12
    keep = np.isfinite(M) & np.concatenate(
        [np.ones((n, 1), bool), np.diff(M, axis=1) > tol[:, None]], axis=1
    )
    out = []
    for i in range(n):
        pts = M[i, keep[i]]
        if len(pts) > 1:
            pts[-1] = hi[i]
        out.append(pts)
    return out


def refine_around(
    points: np.ndarray,
    x: float,
    lo: float,
    hi: float,
    rel: tuple[float, ...] = (1e-4, 1e-3, 4e-3, 1.5e-2, 5e-2, 0.15, 0.4),
) -> np.ndarray:
    """Add breakpoints at ``x`` and at ``x·(1 ± r)`` so the pieces next to the solution are short."""
    # around a point of the range, its own size; at zero, a thousandth of the range
    scale = abs(x) if x > 1e-9 else max((hi - lo) * 1e-3, 1e-9)
    new = [x] + [x + s * r * scale for r in rel for s in (-1.0, 1.0)]
    new = [p for p in new if lo <= p <= hi]
    return _clean(np.concatenate([points, new]), hi)


def _clean(pts: np.ndarray, hi: float) -> np.ndarray:
    pts = np.unique(np.clip(pts[np.isfinite(pts)], 0.0, hi))
    if len(pts) > 1:
        # merge points closer than a relative tolerance: pieces of (near) zero width are noise
        # (relative to the points, not to the range: a line item with no cap has a range up to
        # where its curve saturates, 1e15 for a hill of shape 0.4, and merging by that erased
        # every point under 1,000, where a min_spend optimum on such a curve sits)
        tol = np.maximum(pts[1:], 1.0) * 1e-12
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
        """Number of leading pieces up to the steepest of the convex part of an S-curve: the
        pieces an LP would fill out of order. The slopes rise over them, possibly after a flat
        start (pieces a few cents wide at zero, where a hill curve of shape > 1 is flat to
        rounding: their slopes are equal, and counting stopped there left every rising piece
        after them ungated)."""
        d = np.diff(self.slopes)
        k = last_rise = 0
        while k < len(d):
            tol = 1e-12 * max(1.0, abs(self.slopes[k]))
            if d[k] < -tol:
                break
            if d[k] > tol:
                last_rise = k + 1
            k += 1
        return last_rise


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


def bank_pieces(bank, points: list[np.ndarray]) -> list[Pieces]:
    """``pieces`` for every line item of a ``CurveBank`` at once: one vectorised evaluation."""
    pts = [
        p if p[0] == 0.0 else np.concatenate([[0.0], p])
        for p in (np.asarray(q, float) for q in points)
    ]
    if not pts:
        return []
    k = max(len(p) for p in pts)
    lens = np.array([len(p) for p in pts])
    P = np.empty((len(pts), k))
    for i, p in enumerate(pts):
        P[i, : len(p)] = p
        P[i, len(p) :] = p[-1]
    V = bank.value(P)
    W = np.diff(P, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        S = np.where(W > 0, np.diff(V, axis=1) / np.where(W > 0, W, 1.0), 0.0)
    top = np.max(np.abs(S), axis=1, initial=0.0)
    S = np.where(np.abs(S) < 1e-13 * top[:, None], 0.0, S)
    return [Pieces(pts[i], V[i, :m], W[i, : m - 1], S[i, : m - 1]) for i, m in enumerate(lens)]


def piece_errors(bank, pcs: list[Pieces]) -> list[np.ndarray]:
    """For each piece, how far the curve rises above its chord (0 where it does not).

    On a concave piece the largest gap is where the curve's slope equals the chord's, found by
    bisection (exact to floating point); on a convex piece the chord lies above the curve. S-curves
    have their inflection point as a breakpoint, so no piece is both.
    """
    if not pcs:
        return []
    k = max(len(p.widths) for p in pcs)
    n = len(pcs)
    A = np.zeros((n, k))
    Bm = np.zeros((n, k))
    S = np.zeros((n, k))
    VA = np.zeros((n, k))
    for i, p in enumerate(pcs):
        m = len(p.widths)
        A[i, :m], Bm[i, :m], S[i, :m], VA[i, :m] = (
            p.points[:-1],
            p.points[1:],
            p.slopes,
            p.values[:-1],
        )
        A[i, m:] = Bm[i, m:] = p.points[-1]
        VA[i, m:] = p.values[-1]
    lo, hi = A.copy(), Bm.copy()
    with np.errstate(all="ignore"):
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            up = bank.slope(mid) > S
            lo = np.where(up, mid, lo)
            hi = np.where(up, hi, mid)
        x = 0.5 * (lo + hi)
        err = bank.value(x) - (VA + S * (x - A))
    err = np.where(np.isfinite(err), np.maximum(err, 0.0), 0.0)
    # a margin for rounding in the curve's evaluation, so that a lifted piece never dips below it
    err = np.where(err > 0, err * (1 + 1e-9) + 1e-12 * np.abs(VA), 0.0)
    return [err[i, : len(p.widths)] for i, p in enumerate(pcs)]


def lifted(pcs: list[Pieces], errors: list[np.ndarray]) -> list[Pieces]:
    """Pieces lifted so that they lie on or above the curve everywhere: each breakpoint is raised
    by the larger error of the two pieces it joins. An LP or MILP over them bounds the smooth
    problem's optimum from above."""
    out = []
    for p, e in zip(pcs, errors, strict=True):
        if not len(e):
            out.append(p)
            continue
        lift = np.maximum(np.concatenate([[0.0], e]), np.concatenate([e, [0.0]]))
        v = p.values + lift
        with np.errstate(divide="ignore", invalid="ignore"):
            sl = np.where(p.widths > 0, np.diff(v) / np.where(p.widths > 0, p.widths, 1.0), 0.0)
        out.append(Pieces(p.points, v, p.widths, sl))
    return out
