"""What the MAP fit's steps share: its data (``MapData``, one bundle instead of eight arguments),
the joint problem at a MAP fit as the Laplace draws, the family mixture, the decay profiles and
the log pooling all set it up (one place, so that they start from the same problem), and the
baseline's coefficients given the media's."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from optimizer.response import joint as J
from optimizer.response.solve import _Frame, _make_frame

if TYPE_CHECKING:
    from optimizer.response.mapfit import MapFit

#: One lift test of a touchpoint: its spend with the test, the measured lift and its se.
LiftTest = tuple[np.ndarray, float, float]


@dataclass(frozen=True)
class MapData:
    """The data every step of the MAP fit works on, and the settings of its prior.

    Per searched touchpoint (in the fit's order): its weekly spend ``xs``, whether its marginal
    ROI is pooled (``pooled``: no lift test pins it) and its lift tests ``tests``; over every
    week of the history: the KPI ``y``, the baseline design ``Z`` and the non-negative nuisance
    columns ``G`` (lock-step groups); the baseline's ridge, the prior's weight and whether
    S-curves (Hill shape > 1) are allowed."""

    xs: tuple[np.ndarray, ...]
    pooled: tuple[bool, ...]
    tests: tuple[tuple[LiftTest, ...], ...]
    y: np.ndarray
    Z: np.ndarray
    G: np.ndarray
    baseline_ridge: float
    prior_weight: float = 1.0
    s_curves: bool = False

    def tps(self, families: Sequence[str], carry: Sequence[float]) -> list[J.Tp]:
        """The joint fit's touchpoints with ``families`` and carry-in ``carry`` (one each)."""
        return [
            J.Tp(x, f, bool(pl), tuple(ts), c)
            for x, f, pl, ts, c in zip(
                self.xs, families, self.pooled, self.tests, carry, strict=True
            )
        ]

    def frame(self, rows: np.ndarray) -> _Frame:
        """The profiled baseline on the weeks ``rows``."""
        return _make_frame(self.Z[rows], self.y[rows], 0.0, self.baseline_ridge)


def design_data(d: Any, prior_weight: float, s_curves: bool) -> MapData:
    """The MAP fit's data from the design ``d`` (a ``prepare.Design``): its searched touchpoints'
    spends, pooled unless a lift test is used on them, and each used lift test as the spend with
    the test, its measured lift and its se."""
    X, n, searched = d.X, d.n, d.searched
    tests: list[list[LiftTest]] = [[] for _ in searched]
    for lt in d.used:
        i = d.tp_index[lt.touchpoint]
        tests[d.slots[i]].append((X[:, i] + lt.delta(n), float(lt.kpi_lift), float(lt.kpi_lift_se)))
    return MapData(
        tuple(X[:, i] for i in searched),
        tuple(k not in d.tested for k in range(len(searched))),
        tuple(tuple(t) for t in tests),
        d.y,
        d.Z,
        d.G,
        d.baseline_ridge,
        prior_weight,
        s_curves,
    )


def _media(p: J.Problem, theta: Sequence[np.ndarray]) -> np.ndarray:
    return np.hstack([J.columns(p.tps, theta).M, p.G])


def column_scale(p: J.Problem, theta: Sequence[np.ndarray]) -> np.ndarray:
    """Each media column's RMS, the baseline projected out, on ``p``'s weeks at ``theta``: the
    scale of the stabiliser (``Problem.scale``), fixed for a fit."""
    rows = p.rows
    return np.sqrt(np.mean(p.frame.residual(_media(p, theta)[rows])[: len(rows)] ** 2, axis=0))


def base_coefs(fr: _Frame, M_rows: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """The baseline's coefficients (original units) on the frame ``fr``'s weeks, given the media
    and nuisance columns ``M_rows`` (the same weeks) and their coefficients ``beta``."""
    target = np.concatenate([M_rows @ beta, np.zeros(fr.pinv.shape[0])])
    cs = fr.gy - fr.pinv @ target
    c = cs / fr.sd
    c[0] = cs[0] - float(np.sum(c[1:] * fr.mu[1:]))
    return np.asarray(c)


def problem_at_map(fit: MapFit, data: MapData) -> tuple[J.Problem, _Frame]:
    """The joint problem at the MAP ``fit`` on the weeks of its likelihood (all weeks but a
    burn-in, ``startup``; its families, noise and pooling weight; columns scaled by their RMS at
    the MAP), and its baseline frame: what the Laplace draws, the family mixture and the decay
    profiles all start from."""
    rows = fit.rows if fit.rows is not None else np.arange(data.y.size)
    fr = data.frame(rows)
    carry = fit.carry or (0.0,) * len(data.xs)
    tps = data.tps(fit.families, carry)
    p = J.Problem(tps, rows, fr, data.G, fit.sigma, fit.omega, data.prior_weight, data.s_curves)
    p.rel_centre = fit.prior_centre
    if fit.decay_sd:
        p.decay_sd = np.array(fit.decay_sd, dtype=float)
    if fit.decay_mu:
        p.decay_mu = np.array(fit.decay_mu, dtype=float)
    p.rel_sd = fit.rel_sd
    p.scale = column_scale(p, fit.theta)
    return p, fr
