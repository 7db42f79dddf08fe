"""Each touchpoint's carry-over pooled across markets (``fit --by-market --share-decay``).

A touchpoint's adstock decay is a property of the medium and its audience, and the weeks of one
history barely place it (docs/response-models-measured.md, "Long carry-overs fitted short": with
everything else known the likelihood's own best decay is off by 0.21 on average, so the prior
0.3 +- 0.3 decides and long carry-overs come out short). Several markets' histories of the same
touchpoint carry several times the information. Here, per touchpoint:

1. each market's fit records the *profile log likelihood* of the decay (``profile_likelihoods``:
   the MAP objective profiled over a grid of decays, the touchpoint's other transforms, every beta
   and the baseline refitted at each, with the Laplace volume of the remaining transforms; the
   decay's own prior taken out), read on a mesh of step ``MESH``;
2. the markets' decays are taken as ``d_m ~ N(mu, tau^2)`` (truncated to the decay's bounds),
   ``mu`` under the fit's own prior ``N(PRIOR_DECAY, PRIOR_DECAY_SD^2)``; the spread ``tau`` is
   chosen by the marginal likelihood of every market's profile on ``TAU_GRID`` (empirical Bayes,
   type-II maximum likelihood: ``tau = 0`` is one decay shared by all markets; where the markets'
   profiles disagree ``tau`` grows and each market keeps more of its own);
3. each market is refitted with the decay prior the *other* markets give it (the predictive of
   ``d_m`` given their profiles at that ``tau``, summarised by its mean and sd; its own history
   then enters through its own likelihood, so nothing is counted twice); where that prior is no
   narrower than the fixed one (``PRIOR_DECAY_SD``) the market keeps the fixed prior.

Every other parameter stays each market's own. Deterministic: grids, no random draws.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from optimizer.response import joint as J

#: the spreads of the markets' decays tried (type-II maximum likelihood over them)
TAU_GRID = (0.0, 0.05, 0.1, 0.15, 0.2, 0.3)
#: ``fit --by-market --share-decay``: "pooled" (``tau`` from ``TAU_GRID`` by the evidence) or
#: "shared" (``tau = 0``: one decay for every market)
MODES = ("pooled", "shared")
#: step of the mesh the profiles are read on
MESH = 0.01
#: the narrowest decay prior a market is given (a floor on the predictive's sd)
MIN_SD = 0.02
#: how the predictive of a market's decay becomes its Gaussian prior (``_summary``): "message"
#: or "moments"
PRIOR_SUMMARY = "message"
METHODS = {
    "pooled": "each touchpoint's adstock decay pooled across markets: every market's profile "
    "likelihood of the decay, the markets' decays N(mu, tau^2) with tau by marginal likelihood, "
    "each market refitted with the prior the other markets give it",
    "shared": "each touchpoint's adstock decay shared by the markets: every market's profile "
    "likelihood of the decay, one decay for all (tau = 0), each market refitted with the prior "
    "the other markets give it",
}


def profile_likelihoods(fit: Any, data: Any, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Each touchpoint's profile log likelihood of its decay at the MAP ``fit`` (a
    ``mapfit.MapFit``; ``ids``: the searched touchpoints' ids, in its order), the decay's prior
    taken out: ``{id: {"grid": [...], "log_lik": [...]}}`` (max 0; model.json's
    ``diagnostics.decay_profile``)."""
    from optimizer.response import decay_profile as DP
    from optimizer.response.mapsetup import problem_at_map

    p, _ = problem_at_map(fit, data)
    out: dict[str, dict[str, Any]] = {}
    for pr in DP.fit_profiles(fit, data):
        centre, sd = J.prior_at(p, pr.j)
        lp = -0.5 * (pr.cost / pr.sigma**2 + pr.logdet)
        lp = lp + p.prior_weight * (pr.grid - centre[0]) ** 2 / (2.0 * sd[0] ** 2)
        lp = lp - lp.max()
        out[ids[pr.j]] = {
            "grid": [round(float(g), 6) for g in pr.grid],
            "log_lik": [round(float(v), 6) for v in lp],
        }
    return out


@dataclass(frozen=True)
class SharedDecay:
    """One touchpoint's decay pooled across markets: the spread ``tau`` chosen, the pooled
    decay (the posterior mean of ``mu`` given every market), the evidence of each ``tau``
    (minus twice the log marginal likelihood, lowest 0), and per market its own profile's best
    decay and the prior it is refitted with ((centre, sd), or None: the fixed prior kept)."""

    id: str
    tau: float
    decay: float
    decay_sd: float
    evidence: dict[str, float]
    own: dict[str, float]
    prior: dict[str, tuple[float, float] | None]
    own_fit: dict[str, float] = field(default_factory=dict)  # each market's own fit's decay

    def to_dict(self) -> dict[str, Any]:
        return {
            "tau": self.tau,
            "pooled_decay": round(self.decay, 4),
            "pooled_decay_sd": round(self.decay_sd, 4),
            "evidence": {k: round(v, 3) for k, v in self.evidence.items()},
            "markets": len(self.own),
        }


def _mesh() -> np.ndarray:
    lo, hi = J.DECAY_BOUNDS
    return np.linspace(lo, hi, int(round((hi - lo) / MESH)) + 1)


def _on_mesh(profile: Mapping[str, Any], mesh: np.ndarray) -> np.ndarray:
    from scipy.interpolate import PchipInterpolator

    g = np.asarray(profile["grid"], dtype=float)
    ll = np.asarray(profile["log_lik"], dtype=float)
    if g.size < 2:
        return np.zeros(mesh.size)
    return np.asarray(PchipInterpolator(g, ll, extrapolate=True)(np.clip(mesh, g[0], g[-1])))


def _kernel(mesh: np.ndarray, tau: float) -> np.ndarray:
    """``K[d, mu]``: the density of a market's decay ``d`` given ``mu`` (truncated normal on the
    mesh, each column summing to 1); the identity at ``tau = 0``."""
    if tau <= 0:
        return np.eye(mesh.size)
    k = np.exp(-0.5 * ((mesh[:, None] - mesh[None, :]) / tau) ** 2)
    return np.asarray(k / k.sum(axis=0, keepdims=True))


def _summary(q: np.ndarray, mesh: np.ndarray, log_prior: np.ndarray) -> tuple[float, float] | None:
    """The Gaussian decay prior a market is refitted with, from ``q``, the predictive of its decay
    given the other markets (on ``mesh``), or None (the fixed prior kept).

    ``"message"``: what the other markets add to the fixed prior, ``q / p0`` (``p0`` the fixed
    prior on the mesh, ``log_prior``), read as a Gaussian (a quadratic in the decay fitted to its
    log, weighted by ``q``) and multiplied into the fixed prior ``N(PRIOR_DECAY, PRIOR_DECAY_SD^2)``:
    where the others carry nothing the fixed prior stays as it is (``q``'s own moments would be
    narrower, as the fixed prior cut at the decay's bounds is). ``"moments"``: ``q``'s mean and
    sd. None where the sd is not below ``PRIOR_DECAY_SD``."""
    if PRIOR_SUMMARY == "moments":
        mu = float(q @ mesh)
        sd = max(float(math.sqrt(max(float(q @ (mesh - mu) ** 2), 0.0))), MIN_SD)
    else:
        keep = q > 1e-12 * q.max()
        if keep.sum() < 3:
            return None
        x = mesh[keep]
        msg = np.log(q[keep]) - log_prior[keep]
        c2, c1, _ = np.polyfit(x, msg, 2, w=np.sqrt(q[keep]))
        h = -2.0 * float(c2)  # the message's precision
        if h <= 0:
            return None
        prec = 1.0 / J.PRIOR_DECAY_SD**2 + h
        mu = float(
            np.clip((J.PRIOR_DECAY / J.PRIOR_DECAY_SD**2 + float(c1)) / prec, *J.DECAY_BOUNDS)
        )
        sd = max(1.0 / math.sqrt(prec), MIN_SD)
    if sd >= J.PRIOR_DECAY_SD - 1e-3:
        return None
    return round(mu, 4), round(sd, 4)


def _lse(a: np.ndarray, axis: int | None = None) -> np.ndarray:
    m = np.max(a, axis=axis, keepdims=True)
    out = m + np.log(np.sum(np.exp(a - m), axis=axis, keepdims=True))
    return np.asarray(np.squeeze(out, axis=axis) if axis is not None else out.reshape(()))


def pool(tid: str, profiles: Mapping[str, Mapping[str, Any]], mode: str = "pooled") -> SharedDecay:
    """``tid``'s decay pooled across the markets of ``profiles`` (market -> its
    ``profile_likelihoods`` entry), as the module docstring says (``mode`` "shared": ``tau``
    held at 0)."""
    if mode not in MODES:
        raise ValueError(f"decay sharing {mode!r}: expected one of {', '.join(MODES)}")
    mesh = _mesh()
    names = list(profiles)
    ll = np.array([_on_mesh(profiles[m], mesh) for m in names])  # (M, mesh)
    log_prior = -0.5 * ((mesh - J.PRIOR_DECAY) / J.PRIOR_DECAY_SD) ** 2
    log_prior = log_prior - float(_lse(log_prior))
    best: tuple[float, float, np.ndarray] | None = None
    evidence: dict[str, float] = {}
    for tau in TAU_GRID if mode == "pooled" else (0.0,):
        K = _kernel(mesh, tau)
        # log f_m(mu) = log sum_d exp(ll_m(d)) K(d, mu)
        lf = np.array([_lse(row[:, None] + np.log(np.maximum(K, 1e-300)), axis=0) for row in ll])
        ev = float(_lse(log_prior + lf.sum(axis=0)))
        evidence[f"{tau:g}"] = -2.0 * ev
        if best is None or ev > best[0] + 1e-9:
            best = (ev, float(tau), lf)
    assert best is not None
    _, tau, lf = best
    lo = min(evidence.values())
    evidence = {k: v - lo for k, v in evidence.items()}
    post = log_prior + lf.sum(axis=0)
    w = np.exp(post - post.max())
    w /= w.sum()
    decay = float(w @ mesh)
    decay_sd = float(math.sqrt(max(float(w @ (mesh - decay) ** 2), 0.0)))
    K = _kernel(mesh, tau)
    own: dict[str, float] = {}
    prior: dict[str, tuple[float, float] | None] = {}
    for i, m in enumerate(names):
        own[m] = float(mesh[int(np.argmax(ll[i]))])
        rest = log_prior + lf.sum(axis=0) - lf[i]  # the others' posterior of mu
        wm = np.exp(rest - rest.max())
        wm /= wm.sum()
        q = K @ wm  # the predictive of this market's decay
        q /= q.sum()
        prior[m] = _summary(q, mesh, log_prior) if len(names) > 1 else None
    return SharedDecay(tid, tau, decay, decay_sd, evidence, own, prior)


def pool_markets(
    profiles: Mapping[str, Mapping[str, Mapping[str, Any]]],
    mode: str = "pooled",
    own_fit: Mapping[str, Mapping[str, float]] | None = None,
) -> dict[str, SharedDecay]:
    """Every touchpoint's ``pool`` over the markets that profiled it (``profiles``: market ->
    touchpoint id -> its ``profile_likelihoods`` entry), in the first market's order;
    ``own_fit``: market -> touchpoint -> its own fit's decay (for the report)."""
    ids: list[str] = []
    for per in profiles.values():
        ids += [t for t in per if t not in ids]
    out = {}
    for t in ids:
        have = {m: per[t] for m, per in profiles.items() if t in per}
        if len(have) > 1:
            s = pool(t, have, mode)
            own = {m: float(v[t]) for m, v in (own_fit or {}).items() if t in v}
            out[t] = replace(s, own_fit=own)
    return out


def market_priors(shared: Mapping[str, SharedDecay], market: str) -> dict[str, tuple[float, float]]:
    """The decay priors ``market`` is refitted with (touchpoint -> (centre, sd))."""
    out = {}
    for t, s in shared.items():
        pr = s.prior.get(market)
        if pr is not None:
            out[t] = pr
    return out


def diagnostics(
    shared: Mapping[str, SharedDecay], market: str, mode: str = "pooled"
) -> dict[str, Any]:
    """model.json's ``diagnostics.shared_decay`` of one market: per touchpoint the markets'
    pooled decay and spread, this market's own fit's decay, its profile likelihood's best decay
    and the prior it was refitted with (None: the fixed 0.3 +- 0.3 kept)."""
    tps = {}
    for t, s in shared.items():
        pr = s.prior.get(market)
        tps[t] = {
            **s.to_dict(),
            "own_fit_decay": s.own_fit.get(market),
            "own_profile_decay": s.own.get(market),
            "prior": None if pr is None else {"centre": pr[0], "sd": pr[1]},
        }
    return {
        "mode": mode,
        "method": METHODS[mode],
        "tau_grid": list(TAU_GRID) if mode == "pooled" else [0.0],
        "touchpoints": tps,
    }
