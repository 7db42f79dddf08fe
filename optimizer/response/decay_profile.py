"""The posterior over each touchpoint's adstock decay on a grid (``decay_posterior="grid"``).

The Laplace draws of the MAP fit (``mapfit.laplace_draws``) are Gaussian in every transform around
the MAP, so they cannot represent a decay posterior that is skewed or has two modes (the decay
trades off against the baseline's trend and seasonality and against the half saturation). Here,
per touchpoint, the MAP objective is profiled over a grid of decays (``DECAY_GRID`` and the MAP's
own): at each, the touchpoint's other transforms are refitted (every beta, the pooled value and the
baseline projected, as in the fit; the other touchpoints held), and the profile's objective and the
Laplace volume of the refitted transforms give the log posterior density of the decay
(``DecayProfile``). The draws then take each touchpoint's decay from it (``profile_mix``), with
the touchpoint's other transforms and beta moved by the profile's conditional MAP at the drawn
decay. Measured in docs/response-models-measured.md ("A grid posterior over each touchpoint's decay"): not
the default.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from optimizer.response import joint as J
from optimizer.response.mapfit import MapFit
from optimizer.response.mapsetup import MapData, problem_at_map

#: Decays at which each touchpoint's profile posterior is evaluated (the bounds' ends included)
DECAY_GRID = np.linspace(J.DECAY_BOUNDS[0], J.DECAY_BOUNDS[1], 7)
#: Occam term of the profile posterior: the Laplace log det of the touchpoint's remaining
#: transforms ("transforms"), also of the linear coefficients ("all"), or none ("none")
PROFILE_OCCAM = "transforms"
#: Temperature of the profile posterior in the intervals' draws: "inflate" (the square of the
#: draws' sd inflation, as the Gaussian part is widened) or a number
PROFILE_TEMPERATURE: str | float = "inflate"
#: Which draws take their decays from the profile posterior: "both", "intervals" or "point"
PROFILE_USE = "both"
#: Which coefficients follow a drawn decay by the profile's conditional MAP: the touchpoint's own
#: transforms and beta ("own"), or also every other beta ("all": the shifts add up)
PROFILE_SHIFT = "own"
#: Step of the mesh the profile's log density is interpolated on
MESH_STEP = 0.005
#: Most function evaluations of each profile point's fit (it starts from its neighbour's)
PROFILE_NFEV = 8


@dataclass(frozen=True)
class DecayProfile:
    """The posterior over touchpoint ``j``'s decay, on a grid (``DECAY_GRID`` and the MAP's
    decay): at each grid decay the MAP of the touchpoint's other transforms (every beta and the
    baseline projected, the other touchpoints held), its objective, and the log posterior density
    ``-cost / (2 sigma^2) - log det / 2`` (Laplace over the touchpoint's remaining transforms).
    Between grid points the log density is interpolated by a monotone cubic (PCHIP) on a mesh
    of step ``MESH_STEP``, so a sharp peak stays sharp and a flat profile stays flat."""

    j: int
    grid: np.ndarray  # (K,) decays, increasing
    theta: np.ndarray  # (K, k_j) the conditional MAP transforms (decay first)
    w: np.ndarray  # (K, width + 1) the conditional MAP linear coefficients (betas, pooled)
    cost: np.ndarray  # (K,) objective (sigma^2 times minus twice the log posterior)
    logdet: np.ndarray  # (K,) log det of the remaining transforms' posterior precision
    sigma: float

    @property
    def beta(self) -> np.ndarray:
        return np.asarray(self.w[:, self.j])

    def log_density(self, temperature: float = 1.0) -> np.ndarray:
        """At the grid points, up to a constant (max 0)."""
        lp = -0.5 * (self.cost / self.sigma**2 + self.logdet) / max(temperature, 1e-12)
        return np.asarray(lp - lp.max())

    def _mesh(self, temperature: float) -> tuple[np.ndarray, np.ndarray]:
        from scipy.interpolate import PchipInterpolator

        g = self.grid
        n = max(int(round((g[-1] - g[0]) / MESH_STEP)), 1) + 1
        mesh = np.linspace(g[0], g[-1], n)
        lp = self.log_density(temperature)
        lm = PchipInterpolator(g, lp)(mesh) if g.size > 1 else np.zeros(1)
        w = np.exp(lm - lm.max())
        w[[0, -1]] *= 0.5  # the end points carry half a step
        return mesh, np.asarray(w / w.sum())

    def sample(self, rng: np.random.Generator, n: int, temperature: float = 1.0) -> np.ndarray:
        """``n`` decays: a mesh point by its mass, then uniform within half a step of it."""
        mesh, m = self._mesh(temperature)
        k = rng.choice(mesh.size, size=n, p=m)
        step = mesh[1] - mesh[0] if mesh.size > 1 else 0.0
        d = mesh[k] + (rng.random(n) - 0.5) * step
        return np.asarray(np.clip(d, mesh[0], mesh[-1]))

    def quantiles(self, qs: Sequence[float], temperature: float = 1.0) -> np.ndarray:
        mesh, m = self._mesh(temperature)
        cdf = np.cumsum(m) - 0.5 * m
        return np.asarray(np.interp(qs, cdf, mesh))

    def mean(self, temperature: float = 1.0) -> float:
        mesh, m = self._mesh(temperature)
        return float(np.sum(mesh * m))

    def masses(self, temperature: float = 1.0) -> np.ndarray:
        """Posterior mass near each grid point (the mesh's mass, nearest grid point)."""
        mesh, m = self._mesh(temperature)
        near = np.abs(mesh[:, None] - self.grid[None, :]).argmin(axis=1)
        return np.asarray(np.bincount(near, weights=m, minlength=self.grid.size))

    def at(self, d: float) -> tuple[np.ndarray, np.ndarray]:
        """The conditional MAP transforms and linear coefficients at decay ``d`` (linear between
        grid points)."""
        th = np.array([np.interp(d, self.grid, col) for col in self.theta.T])
        th[0] = d
        return th, np.array([np.interp(d, self.grid, col) for col in self.w.T])


def fit_profiles(fit: MapFit, data: MapData) -> list[DecayProfile]:
    """The decay profile of every touchpoint of the MAP ``fit`` (all weeks) without lift tests
    (the problem ``laplace_draws`` sets up)."""
    p, _ = problem_at_map(fit, data)
    which = [j for j, tp in enumerate(p.tps) if not tp.tests]
    return decay_profiles(p, fit.theta, which)


def _profile_point(
    p: J.Problem, theta: Sequence[np.ndarray], j: int, d: float, v0: np.ndarray
) -> tuple[np.ndarray, J.Inner, float, float]:
    """Touchpoint ``j``'s other transforms at the MAP with its decay held at ``d`` (the others'
    held at ``theta``): the transforms, the inner solution, the objective and the log det of the
    posterior precision of what remains free (its other transforms and the linear coefficients)."""
    from scipy.optimize import least_squares

    k = p.tps[j].k
    lo, hi = J.bounds(p, j)
    lo, hi = lo[1:], hi[1:]
    at = sum(tp.k for tp in p.tps[:j])
    cache: dict[bytes, tuple[J.Inner, list[np.ndarray]]] = {}

    def full(v: np.ndarray) -> list[np.ndarray]:
        th = list(theta)
        th[j] = np.concatenate([[d], v])
        return th

    def inner_at(v: np.ndarray) -> tuple[J.Inner, list[np.ndarray]]:
        key = v.tobytes()
        if key not in cache:
            cache.clear()
            th = full(v)
            cache[key] = (J.solve_inner(p, th), th)
        return cache[key]

    def fun(v: np.ndarray) -> np.ndarray:
        inner, th = inner_at(v)
        pr, _ = J._prior(p, th)
        return np.concatenate([inner.r, pr])

    def jac_of(inner: J.Inner, th: list[np.ndarray]) -> np.ndarray:
        _, dpr = J._prior(p, th)
        nr = inner.A.shape[0]
        out = np.zeros((nr + dpr.size, k - 1))
        active = np.flatnonzero(inner.w > 0)
        D = J._dA_w(p, inner, j)[:, 1:]
        if active.size:
            Qa = np.linalg.qr(inner.A[:, active])[0]
            D = D - Qa @ (Qa.T @ D)
        out[:nr] = D
        out[nr + at + 1 + np.arange(k - 1), np.arange(k - 1)] = dpr[at + 1 : at + k]
        return out

    def jac(v: np.ndarray) -> np.ndarray:
        return jac_of(*inner_at(v))

    x0 = np.clip(np.asarray(v0, dtype=float), lo, hi)
    res = least_squares(
        fun, x0, jac=jac, bounds=(lo, hi), method="trf", max_nfev=PROFILE_NFEV, xtol=1e-6, ftol=1e-8
    )
    inner, th = inner_at(res.x)
    pr, _ = J._prior(p, th)
    cost = float(inner.r @ inner.r + pr @ pr)
    s2 = p.sigma**2
    Jr = jac_of(inner, th)
    logdet = 0.0
    mats = (
        [Jr.T @ Jr / s2] if PROFILE_OCCAM != "all" else [Jr.T @ Jr / s2, inner.A.T @ inner.A / s2]
    )
    for M in mats if PROFILE_OCCAM != "none" else []:
        if M.size:
            sign, ld = np.linalg.slogdet(M)
            logdet += float(ld) if sign > 0 else 0.0
    return np.asarray(res.x), inner, cost, logdet


def decay_profiles(
    p: J.Problem,
    theta: Sequence[np.ndarray],
    which: Sequence[int],
    grid: np.ndarray = DECAY_GRID,
) -> list[DecayProfile]:
    """The decay profile posterior (``DecayProfile``) of each touchpoint in ``which``, on
    ``grid`` and the touchpoint's MAP decay: the points are fitted outwards from the MAP's,
    each starting from its neighbour's optimum."""
    out = []
    for j in which:
        d0 = float(theta[j][0])
        g = np.asarray(grid, dtype=float)
        if np.abs(g - d0).min() > 1e-3:
            g = np.sort(np.concatenate([g, [d0]]))
        K = g.size
        start = int(np.argmin(np.abs(g - d0)))
        thetas = np.zeros((K, p.tps[j].k))
        ws = np.zeros((K, p.width + 1))
        costs = np.zeros(K)
        logdets = np.zeros(K)
        order = [start] + [q for s in range(1, K) for q in (start - s, start + s) if 0 <= q < K]
        done: dict[int, np.ndarray] = {}
        for q in order:
            nb = q + 1 if q < start else q - 1
            v0 = done.get(nb, np.asarray(theta[j][1:]))
            v, inner, cost, ld = _profile_point(p, theta, j, float(g[q]), v0)
            done[q] = v
            thetas[q] = np.concatenate([[g[q]], v])
            ws[q] = inner.w
            costs[q] = cost
            logdets[q] = ld
        out.append(DecayProfile(j, g, thetas, ws, costs, logdets, p.sigma))
    return out


def profile_mix(
    phis: np.ndarray,
    centre: np.ndarray,
    steps: np.ndarray,
    H: np.ndarray,
    tps: Sequence[J.Tp],
    nt: int,
    profiles: Sequence[DecayProfile],
    seed: int,
    temperature: float,
) -> np.ndarray:
    """The Laplace draws ``phis = centre + steps`` with each profiled touchpoint's decay drawn
    from its grid posterior instead: its other transforms and its beta (``PROFILE_SHIFT="all"``:
    every beta) move by the profile's conditional MAP at the drawn decay less that at the
    centre's decay (the nonlinear dependence), plus their Gaussian step given the decay step (the
    step less its regression on the decay's)."""
    cov = np.linalg.inv(H)
    offs = np.cumsum([0] + [tp.k for tp in tps])
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(8,)))
    out = phis.copy()
    n_lin = centre.size - nt
    for pr in profiles:
        j = pr.j
        a = int(offs[j])
        own = [a + q for q in range(1, tps[j].k)]
        lin = list(range(nt, nt + n_lin)) if PROFILE_SHIFT == "all" else [nt + j]
        rest = own + lin
        c = cov[rest, a] / cov[a, a] if cov[a, a] > 0 else np.zeros(len(rest))
        d = pr.sample(rng, phis.shape[0], temperature)
        th0, w0 = pr.at(float(centre[a]))
        for b in range(phis.shape[0]):
            th, w = pr.at(float(d[b]))
            shift = np.concatenate([th[1:] - th0[1:], (w - w0)[np.asarray(lin) - nt]])
            out[b, a] = d[b]
            out[b, rest] += shift - c * steps[b, a]
    return out
