"""An upper bound on the uplift any fitter's plan can capture on the simulated worlds (issue 13's
capture targets): the Bayes plan of a decision maker who knows more than the data.

For each world of a regime (``fit_recovery.py``'s worlds, seeds and decision metric), the bound's
decision maker knows the history (as every fitter does) and also everything the generator drew
except the touchpoints' effect sizes: the true transforms (decay, family, half saturation, shape),
the true baseline series (level, trend, seasonality, price effect) and the noise's relative size;
and it knows the generator's own prior for the effect sizes. Both generators
(``optimizer.simulate.random_world``, ``_high_worlds.high_world``) draw each touchpoint's
steady-state ROI at its mean weekly spend log-uniform on [0.3, 5], independently of every other
draw, and set its beta from it: with the transforms known, ``beta = c * roi`` with ``c`` known
(mean spend over the saturation at the mean adstocked spend with beta 1). So the prior is
log-uniform on ``roi`` in [0.3, 5] per touchpoint; the likelihood is the Gaussian of the weekly
KPI less the known baseline, linear in the ROIs, with noise sd = the known relative noise x the
mean noiseless KPI (which moves with the ROIs); and the baseline's level carries the ROIs' sum
(low: ``baseline = round(M (1 - s) / s, -3)``, ``M = sum(roi x mean spend)``, media share ``s``
~ U(0.2, 0.4); high: ``baseline.sum() = T (1 - s) / s``, ``T`` the media's true contribution over
the history, ``s`` ~ U(0.35, 0.45)), a factor of the exact posterior too.

The posterior is sampled by Gibbs (``--chains`` independent chains from prior draws; each ROI's
conditional, a Gaussian cut to [0.3, 5] times 1 / roi, drawn exactly by rejection) on the
Gaussian at a fixed noise sd, then importance-reweighted to the exact posterior (the noise sd's
dependence on the ROIs and the baseline-level factor); the Monte-Carlo error of each posterior
mean comes from the spread between chains. The plan is the package's allocator's on the curves
with each beta at its posterior mean: the KPI a plan gets is linear in the betas (the transforms
known), so that plan maximises the posterior expected KPI, and a decision maker who knows more
than the data does at least as well in expectation over the generator as any fitter does.

``decay``, a tighter bound: the same with the decays unknown too, on the generators' own decay
prior (``round(U(0, max), 3)``: a grid every 0.001, half-weight ends), each curve's half-way point
known relative to the mean adstocked spend (the generators' ``ratio``) instead of in money; the
steady-state curve is then the same at every decay, so the Bayes plan is again the plan on the
ROIs' posterior mean (sampled by Metropolis on each decay's grid index and exact Gibbs on its ROI,
then the same reweighting). Its information lies between the bound's and any fitter's.

``full``, tighter still (``_bayes_curves``): every transform unknown (family, decay, ratio,
shape) under the generators' own priors, the rest as ``decay`` knows it: the exact Bayes fitter
under the generators' priors; its plan is on the posterior mixture of the draws' curves.
``generic``: the same sampler and plan under a fitter's priors (not a bound: a candidate design).
Between them, one piece of knowledge at a time (``--plans``, none run by default): ``full-X`` is
``full`` with ``generic``'s part X and ``generic+X`` is ``generic`` with ``full``'s, X among
``KNOCKOUT_PARTS`` (the transforms' prior ``tp`` and its parts ``fam``, ``decay``, ``rel``,
``shape``; the ROIs' prior ``roi``; the baseline ``base``; the noise sd ``noise``; the
baseline-level factor ``link``); ``learn-X``, ``generic`` with transform prior X learnt across the
touchpoints (a hierarchy, ``_bayes_curves.LEARNABLE``); ``mapprior``, ``generic`` under the MAP
fitter's own transform priors (the exact Bayes plan of the default fit's model, but for its
baseline and ROI pooling), and ``mapfourier``, that with the fitter's own baseline columns.

Beside it, on the same worlds in the same process: ``fit_recovery.py``'s true-transform reference
(least-squares betas, ``ls``) and its Bayes oracle (flat prior, 50 draws, ``flat``), and
``looser``: the same prior with only the transforms and the baseline's *form* known (low: level,
trend, the seasonal shape at its true peak day, the price; high: those and their products, as the
baseline there multiplies them), their coefficients fitted (flat prior, integrated out), the noise
sd estimated: an achievable plan with less information, not a bound.

    nice -n 10 .venv/bin/python benchmarks/bayes_bound.py --regime low --touchpoints 8
    nice -n 10 .venv/bin/python benchmarks/bayes_bound.py --regime low --touchpoints 15 --seeds 40:60

The benchmark's low 8-touchpoint set holds three variations of the fixed sample company, which no
generator draws (there the prior is a stand-in: log-uniform ROI on [0.1, 10], no baseline
factor), and ``rw6-s2-slow``, whose decays were set beyond ``random_world``'s range: those worlds
are reported apart ("stand-in"); the bound is read on the others.
Results and their reading: docs/response-models-measured.md.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _bayes_curves as BC  # noqa: E402
import _fit_cases  # noqa: E402  (the benchmarks folder is not a package)
from _fit_cases import SEED, Case, high_case, regime_cases, world_case  # noqa: E402
from _fit_measure import ORACLE_DRAWS, Regret, decision_regret, oracle_model  # noqa: E402
from _high_worlds import DECAY_MAX, MEDIA_SHARE, NOISE_SD  # noqa: E402
from _readme import git_commit  # noqa: E402
from _regimes import HARM, POOLED_TARGET, pooled_capture  # noqa: E402

from optimizer.response import curves as C  # noqa: E402
from optimizer.response.design import PERIOD_WEEKS, _baseline_matrix  # noqa: E402
from optimizer.response.model import ResponseModel  # noqa: E402
from optimizer.simulate import (
    random_world,  # noqa: E402
    seasonal_shape,  # noqa: E402
)

#: both generators' prior of each touchpoint's steady-state ROI at its mean weekly spend
#: (log-uniform; ``random_world`` and ``_high_worlds._world`` draw it so)
ROI_PRIOR = (0.3, 5.0)
#: ``random_world``'s media share of the KPI (its baseline is set from it and the ROIs)
LOW_SHARE = (0.2, 0.4)
#: ``random_world``'s decay prior (uniform on [0, 0.7], rounded to 3 decimals; ``high_world``:
#: ``_high_worlds.DECAY_MAX``)
LOW_DECAY_MAX = 0.7
#: the stand-in prior of the sample company's worlds (a fixed truth, no generator draws it)
STANDIN_PRIOR = (0.1, 10.0)
#: the plans compared, in print order
PLANS = ("bound", "decay", "full", "generic", "flat", "ls", "looser")
#: ``full`` less one piece of its knowledge, or ``generic`` with one piece of ``full``'s: the
#: prior-by-prior decomposition of the gap between them (``knockout``); not run by default
KNOCKOUT_PARTS = {
    "tp": "the transforms' prior (family, decay, half-way point, shape)",
    "roi": "the ROIs' prior (full: the generators' log-uniform box; generic: a learnt hierarchy)",
    "base": "the baseline (full: its true series and the level factor; generic: its form)",
    "noise": "the noise sd (full: its relative size known; generic: unknown)",
    "link": "the baseline-level factor alone (full only)",
    "fam": "the family prior alone (full: the generators' shares; generic: 1/3 each)",
    "decay": "the decay prior alone (full: U(0, 0.7 or 0.8); generic: U(0, 0.9))",
    "rel": "the half-way point prior alone (full: the generators' ratio range; generic: "
    "log-U(0.1, 30) relative to the mean adstocked spend)",
    "shape": "the hill shape prior alone (full: U(0.6, 1); generic: log-U(0.3, 1))",
}
KNOCKOUTS = tuple(f"full-{k}" for k in KNOCKOUT_PARTS) + tuple(
    f"generic+{k}" for k in KNOCKOUT_PARTS if k != "link"
)
#: ``generic`` with one transform prior (or all) learnt across the touchpoints
#: (``_bayes_curves.LEARNABLE``): what a fitter can do in place of ``full``'s knowledge
LEARNT = tuple(f"learn-{k}" for k in (*BC.LEARNABLE, "all"))
CURVE_PLANS = ("full", "generic", "mapprior", "mapfourier", *KNOCKOUTS, *LEARNT)
PLAN_NAMES = {
    "bound": "Bayes bound (transforms + baseline + noise known, generator's ROI prior)",
    "decay": "Bayes bound with the decays unknown too (generator's decay prior)",
    "full": "Bayes bound with every transform unknown (generators' priors; plan on the mixture)",
    "generic": "Bayes plan with a fitter's priors (every transform unknown, ROI hierarchy, "
    "baseline form known, noise sd unknown; plan on the mixture)",
    "flat": "Bayes oracle, flat prior (fit_recovery.py: true transforms, 50 draws)",
    "ls": "least squares on the true transforms (fit_recovery.py's reference)",
    "looser": "generator's ROI prior, transforms + baseline form known, coefficients fitted",
    **{f"full-{k}": f"full, {v} generic's" for k, v in KNOCKOUT_PARTS.items()},
    **{f"generic+{k}": f"generic, {v} full's" for k, v in KNOCKOUT_PARTS.items() if k != "link"},
    **{
        f"learn-{k}": f"generic, the {k} prior learnt across the touchpoints (a hierarchy)"
        for k in BC.LEARNABLE
    },
    "learn-all": "generic, every transform prior learnt across the touchpoints (hierarchies)",
    "mapprior": "generic with the MAP fitter's own transform priors (the exact Bayes plan of the "
    "default fit's model; half-way points relative to the operating level)",
    "mapfourier": "mapprior with the fitter's own baseline columns (intercept, trend, 3 Fourier "
    "pairs and their products with the trend, the price control) in place of the true form",
}
#: every plan a run may ask for, in print order
ALL_PLANS = (*PLANS, "mapprior", "mapfourier", *KNOCKOUTS, *LEARNT)


# ================================================================================================
# the posterior of the ROIs: Gibbs on a Gaussian x log-uniform box, reweighted to the exact law
# ================================================================================================
def truncated_normal(
    m: np.ndarray, sd: float | np.ndarray, lo: float, hi: float, rng: np.random.Generator
) -> np.ndarray:
    """Draws of N(m, sd^2) cut to [lo, hi] (vectorised over ``m``) by the inverse CDF, on the
    side of the mean where the tail probabilities keep their precision; where even they underflow
    (the interval more than ~37 sd from the mean) the exponential tail of the nearer bound."""
    a, b = (lo - m) / sd, (hi - m) / sd
    flip = a > 0  # the interval lies above the mean: draw its mirror image below it
    a2, b2 = np.where(flip, -b, a), np.where(flip, -a, b)
    pa, pb = ndtr(a2), ndtr(b2)
    u = rng.random(m.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = ndtri(pa + u * (pb - pa))
        tail = b2 + np.log(np.maximum(u, 1e-300)) / np.maximum(-b2, 1e-12)  # b2 < 0 far out
    z = np.where((pb - pa > 0) & np.isfinite(z), z, tail)
    z = np.clip(z, a2, b2)
    return m + sd * np.where(flip, -z, z)


def _conditional(
    m: np.ndarray,
    sd: float | np.ndarray,
    lo: float,
    hi: float,
    rng: np.random.Generator,
    batch: int = 16,
) -> np.ndarray:
    """Draws of the density proportional to N(x; m, sd^2) / x on [lo, hi] (vectorised over
    ``m`` and ``sd``), by exact rejection sampling: ``1 / x`` lies under ``exp(a + b x)``, the
    secant of ``-log x`` over [lo, hi] (convex), so proposals from N(m + b sd^2, sd^2) cut to
    [lo, hi] are accepted with probability ``exp(-log x - a - b x)`` (at least 0.41 on
    [0.3, 5]); ``batch`` proposals per draw at a time, the first accepted kept."""
    b = -math.log(hi / lo) / (hi - lo)
    a = -math.log(lo) - b * lo
    sds = np.broadcast_to(np.asarray(sd, dtype=float), m.shape)
    out = np.empty_like(m)
    todo = np.arange(len(m))
    while todo.size:
        s = sds[todo]
        mm = np.broadcast_to(m[todo] + b * s * s, (batch, todo.size))
        x = truncated_normal(mm, s, lo, hi, rng)
        ok = rng.random(x.shape) < np.exp(-np.log(x) - a - b * x)
        first = np.argmax(ok, axis=0)
        got = ok[first, np.arange(todo.size)]
        out[todo[got]] = x[first[got], np.flatnonzero(got)]
        todo = todo[~got]
    return out


def gibbs(
    mu: np.ndarray,
    prec: np.ndarray,
    lo: float,
    hi: float,
    rng: np.random.Generator,
    chains: int,
    sweeps: int,
    burn: int,
) -> np.ndarray:
    """Draws (kept sweeps, chains, k) of the density proportional to
    ``prod(1 / x_i) exp(-(x - mu)' prec (x - mu) / 2)`` on the box [lo, hi]^k: ``chains``
    independent Gibbs chains started from draws of the log-uniform prior, ``burn`` sweeps
    dropped."""
    k = len(mu)
    x = np.exp(rng.uniform(math.log(lo), math.log(hi), size=(chains, k)))
    d = np.diag(prec).copy()
    sd = 1.0 / np.sqrt(d)
    out = np.empty((sweeps - burn, chains, k))
    for s in range(sweeps):
        for i in range(k):
            dev = x - mu
            m = mu[i] - (dev @ prec[i] - d[i] * dev[:, i]) / d[i]
            x[:, i] = _conditional(m, float(sd[i]), lo, hi, rng)
        if s >= burn:
            out[s - burn] = x
    return out


@dataclass
class PosteriorMean:
    mean: np.ndarray  # posterior mean of each ROI
    se: np.ndarray  # its Monte-Carlo standard error (spread between chains)
    sd: np.ndarray  # posterior standard deviation
    ess: float  # the importance weights' effective share of the draws (Kish), in (0, 1]
    accept: float = float("nan")  # ``posterior_decays``: the decay steps' acceptance rate
    decays: PosteriorMean | None = None  # ``posterior_decays``: the decays' posterior mean


def weighted_mean(draws: np.ndarray, logw: np.ndarray) -> PosteriorMean:
    """The self-normalised importance-weighted mean of ``draws`` (kept, chains, k) with log
    weights ``logw`` (kept, chains), and its Monte-Carlo error from the chains' spread (each
    chain a batch; they are independent)."""
    w = np.exp(logw - logw.max())
    total = float(w.sum())
    mean = np.einsum("sc,sck->k", w, draws) / total
    var = np.einsum("sc,sck->k", w, (draws - mean) ** 2) / total
    num_c = np.einsum("sc,sck->ck", w, draws)
    den_c = w.sum(axis=0)
    resid = num_c - den_c[:, None] * mean
    chains = draws.shape[1]
    se = np.sqrt(chains * resid.var(axis=0, ddof=1)) / total
    ess = total**2 / float((w * w).sum()) / w.size
    return PosteriorMean(mean, se, np.sqrt(var), ess)


@dataclass
class Knowns:
    """One world's ROI problem: ``resid`` (the weekly KPI less what the decision maker knows of
    it) = ``G @ roi`` + noise; ``G``'s columns are each touchpoint's true weekly contribution per
    unit of ROI (true transforms; ``beta = c * roi``)."""

    name: str
    G: np.ndarray  # (weeks, k)
    resid: np.ndarray  # (weeks,)
    c: np.ndarray  # beta per unit of ROI
    prior: tuple[float, float]  # log-uniform support of each ROI
    true_roi: np.ndarray
    #: noise sd = ``noise_frac`` x (``base_mean`` + mean of ``G @ roi``); None: unknown (estimated)
    noise_frac: float | None = None
    base_mean: float = 0.0
    #: the log density of the baseline's level given the ROIs (vectorised over rows of ROIs)
    link: Callable[[np.ndarray], np.ndarray] | None = None
    #: nuisance columns fitted with a flat prior (``looser``): integrated out of the likelihood
    Z: np.ndarray | None = None
    #: ``decay``: the decays unknown, on the generator's grid ``decay_grid`` (its draws are
    #: ``round(U(0, max), 3)``: every 0.001, the two ends at half weight, ``decay_weight``), and
    #: each touchpoint's column of ``G`` at every grid decay (grid, weeks); None: known (``G``)
    decay_tables: list[np.ndarray] | None = None
    decay_grid: np.ndarray | None = None
    decay_weight: np.ndarray | None = None
    #: the prior is not the generator's for this world (the sample company's; a decay set by
    #: hand beyond the generator's range): reported apart, not part of the bound
    standin: bool = False


def posterior(
    kn: Knowns, rng: np.random.Generator, chains: int, sweeps: int, burn: int
) -> PosteriorMean:
    """The posterior mean of the ROIs under ``kn``'s prior and likelihood."""
    if kn.decay_tables is not None:
        return posterior_decays(kn, rng, chains, sweeps, burn)
    G, r = kn.G, kn.resid
    n, k = G.shape
    if kn.Z is not None:  # a flat prior on the nuisance: project it out (exact for Gaussians)
        q, _ = np.linalg.qr(kn.Z)
        G, r = G - q @ (q.T @ G), r - q @ (q.T @ r)
    gtg = G.T @ G
    mu = np.linalg.solve(gtg, G.T @ r)
    rss_min = float(np.sum((r - G @ mu) ** 2))
    lo, hi = kn.prior
    gbar = kn.G.mean(axis=0)
    if kn.noise_frac is None:
        dof = n - k - (0 if kn.Z is None else kn.Z.shape[1])
        sigma0 = math.sqrt(rss_min / dof)
    else:
        sigma0 = kn.noise_frac * (kn.base_mean + float(gbar @ np.clip(mu, lo, hi)))
    draws = gibbs(mu, gtg / sigma0**2, lo, hi, rng, chains, sweeps, burn)
    flat = draws.reshape(-1, k)
    dev = flat - mu
    rss = rss_min + np.einsum("ij,jk,ik->i", dev, gtg, dev)
    logw = _exact_over_fixed(kn, flat, rss, flat @ gbar, sigma0)
    return weighted_mean(draws, logw.reshape(draws.shape[:2]))


def _exact_over_fixed(
    kn: Knowns, roi: np.ndarray, rss: np.ndarray, media_mean: np.ndarray, sigma0: float
) -> np.ndarray:
    """Log importance weights of draws ``roi`` (rows) of the fixed-sd target: the exact
    likelihood (noise sd = ``noise_frac`` x the mean noiseless KPI, ``base_mean + media_mean``)
    over the fixed-sd one, times the baseline-level factor; ``rss``: each draw's residual sum of
    squares. Zero where ``kn`` has neither (the fixed-sd target is then the posterior)."""
    n = len(kn.resid)
    lw = np.zeros(len(roi))
    if kn.noise_frac is not None:
        sig = kn.noise_frac * (kn.base_mean + media_mean)
        lw += -n * np.log(sig / sigma0) - rss / (2 * sig**2)
        lw += rss / (2 * sigma0**2)
    if kn.link is not None:
        lw += kn.link(roi)
    return lw


def posterior_decays(
    kn: Knowns,
    rng: np.random.Generator,
    chains: int,
    sweeps: int,
    burn: int,
    step: int = 100,
) -> PosteriorMean:
    """The posterior mean of the ROIs with the decays unknown too (``kn.decay_tables``, the
    generator's grid prior): per sweep and touchpoint, a random-walk Metropolis step of its
    decay's grid index (normal steps of sd ``step`` grid points, rounded, reflected about the
    half-points beyond the ends: a symmetric proposal) and an exact Gibbs draw of its ROI, on the
    fixed-sd Gaussian target, ``chains`` chains; then importance-reweighted to the exact
    posterior as in ``posterior``."""
    tables, grid, weight = kn.decay_tables, kn.decay_grid, kn.decay_weight
    assert tables is not None and grid is not None and weight is not None
    assert kn.noise_frac is not None
    n, k = kn.G.shape
    lo, hi = kn.prior
    r, top = kn.resid, len(grid) - 1
    log_weight = np.log(weight)
    mu = np.linalg.solve(kn.G.T @ kn.G, kn.G.T @ r)
    sigma0 = kn.noise_frac * (kn.base_mean + float(kn.G.mean(axis=0) @ np.clip(mu, lo, hi)))
    roi = np.exp(rng.uniform(math.log(lo), math.log(hi), size=(chains, k)))
    idx = rng.integers(0, top + 1, size=(chains, k))
    G = np.stack([tables[i][idx[:, i]] for i in range(k)], axis=2)  # (chains, n, k)
    kept = sweeps - burn
    out = np.empty((kept, chains, k))
    out_dec = np.empty((kept, chains, k))
    rss = np.empty((kept, chains))
    media = np.empty((kept, chains))
    accepted = 0
    for s in range(sweeps):
        e = r[None, :] - np.einsum("cnk,ck->cn", G, roi)  # afresh each sweep: no drift
        for i in range(k):
            prop = idx[:, i] + np.rint(step * rng.standard_normal(chains)).astype(int)
            prop = np.where(prop < 0, -prop - 1, prop)
            prop = np.where(prop > top, 2 * top + 1 - prop, prop)
            prop = np.clip(prop, 0, top)  # (a step beyond a whole grid's width: none at sd 100)
            g_new = tables[i][prop]
            e_new = e + (G[:, :, i] - g_new) * roi[:, i, None]
            log_a = (np.einsum("cn,cn->c", e, e) - np.einsum("cn,cn->c", e_new, e_new)) / (
                2.0 * sigma0**2
            )
            log_a += log_weight[prop] - log_weight[idx[:, i]]
            ok = np.log(rng.random(chains)) < log_a
            idx[ok, i], G[ok, :, i], e[ok] = prop[ok], g_new[ok], e_new[ok]
            accepted += int(ok.sum())
            g = G[:, :, i]
            gg = np.einsum("cn,cn->c", g, g)
            new = _conditional(
                roi[:, i] + np.einsum("cn,cn->c", g, e) / gg, sigma0 / np.sqrt(gg), lo, hi, rng
            )
            e += g * (roi[:, i] - new)[:, None]
            roi[:, i] = new
        if s >= burn:
            out[s - burn], out_dec[s - burn] = roi, grid[idx]
            rss[s - burn] = np.einsum("cn,cn->c", e, e)
            media[s - burn] = np.einsum("cnk,ck->c", G, roi) / n
    logw = _exact_over_fixed(kn, out.reshape(-1, k), rss.ravel(), media.ravel(), sigma0)
    post = weighted_mean(out, logw.reshape(kept, chains))
    post.accept = accepted / (sweeps * k * chains)
    post.decays = weighted_mean(out_dec, logw.reshape(kept, chains))
    return post


def decay_prior(decay_max: float) -> tuple[np.ndarray, np.ndarray]:
    """The generators' decay prior: ``round(U(0, decay_max), 3)``, a grid every 0.001 with the
    two ends at half weight (the grid and its weights, summing to 1)."""
    m = int(round(decay_max * 1000))
    grid = np.round(np.arange(m + 1) / 1000.0, 3)
    weight = np.full(m + 1, 1.0 / m)
    weight[[0, -1]] = 0.5 / m
    return grid, weight


#: the saturation of each family as a function of adstock over its half-way point
_UNIT: dict[str, Callable[[np.ndarray, dict[str, float]], np.ndarray]] = {
    "hill": lambda z, p: z ** p["shape"] / (1.0 + z ** p["shape"]),
    "exponential": lambda z, p: -np.expm1(-z),
    "logistic": lambda z, p: np.tanh(0.5 * z),
}


def decay_columns(case: Case, mean_spend: np.ndarray) -> list[Callable[[np.ndarray], np.ndarray]]:
    """Each touchpoint's column of ``G`` as a function of its decay, with what the generators
    draw besides it known: the family, the shape and ``ratio``, the mean adstocked spend
    (``mean spend / (1 - decay)``) over the curve's half-way point. (The steady-state curve is
    then the same at every decay, ``roi x mean spend x f(ratio x / mean spend) / f(ratio)``, so
    the plan reads only the ROIs' posterior mean.)"""
    frame = case.history.frame
    cols: list[Callable[[np.ndarray], np.ndarray]] = []
    for (tid, tp), s in zip(case.truth.touchpoints.items(), mean_spend, strict=True):
        p, fam = dict(tp.curve.params), tp.curve.family
        half = p["half_saturation"] if fam == "hill" else p.get("scale") or 1.0 / p["lam"]
        assert tp.adstock is not None
        ratio = s / (1.0 - tp.adstock.decay) / half
        x = frame[tid].to_numpy(dtype=float)
        f = _UNIT[fam]
        cols.append(partial(_decay_column, x, float(s), float(ratio), f, p))
    return cols


def _decay_column(
    x: np.ndarray,
    s: float,
    ratio: float,
    f: Callable[[np.ndarray, dict[str, float]], np.ndarray],
    p: dict[str, float],
    d: np.ndarray,
) -> np.ndarray:
    """One touchpoint's contribution per unit of ROI at each of the decays ``d`` (one row
    each): its mean spend x f(adstock / half-way point) / f(ratio), the half-way point
    ``mean spend / ((1 - d) ratio)``."""
    a = C.geometric_adstock(np.repeat(x[:, None], len(d), axis=1), d).T  # type: ignore[arg-type]
    return s * f(a * ((1.0 - d)[:, None] * ratio / s), p) / f(np.asarray(ratio), p)


# ================================================================================================
# what the decision maker knows, per generator
# ================================================================================================
def _units(case: Case) -> np.ndarray:
    """Each touchpoint's true weekly contribution with beta 1 (true transforms, zero start)."""
    frame = case.history.frame
    cols = []
    for tid, tp in case.truth.touchpoints.items():
        x = frame[tid].to_numpy(dtype=float)
        a = x if tp.adstock is None else tp.adstock.transform(x)
        cols.append(C.saturation(tp.curve.family, a, {**tp.curve.params, "beta": 1.0}))
    return np.column_stack(cols)


def _per_roi(case: Case, mean_spend: np.ndarray) -> np.ndarray:
    """``c``: beta per unit of steady-state ROI at the generator's mean weekly spend."""
    out = []
    for (_tid, tp), s in zip(case.truth.touchpoints.items(), mean_spend, strict=True):
        assert tp.adstock is not None and not tp.adstock.normalize
        a = s / (1.0 - tp.adstock.decay)
        unit = float(C.saturation(tp.curve.family, a, {**tp.curve.params, "beta": 1.0}))
        out.append(s / unit)
    return np.array(out)


def _low_link(b_obs: float, spend: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """``random_world``: log P(baseline = b_obs | ROIs) with baseline = round(M (1 - s) / s, -3),
    ``M = roi @ mean spend``, ``s`` ~ U(LOW_SHARE): the share of s's range that rounds to b_obs."""
    s_lo, s_hi = LOW_SHARE

    def link(roi: np.ndarray) -> np.ndarray:
        m = roi @ spend
        a = np.maximum(m / (b_obs + 500.0 + m), s_lo)
        b = np.minimum(m / (b_obs - 500.0 + m), s_hi)
        with np.errstate(divide="ignore"):
            return np.log(np.maximum(b - a, 0.0) / (s_hi - s_lo))

    return link


def _high_link(base_sum: float, g_sum: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """``high_world``: log p(baseline level | ROIs), ``baseline.sum() = T (1 - s) / s`` with
    ``T = roi @ g_sum`` the media's contribution over the history, ``s`` ~ U(MEDIA_SHARE):
    density ``T / (B + T)^2`` (up to a constant) where ``T / (B + T)`` is in the range."""
    s_lo, s_hi = MEDIA_SHARE

    def link(roi: np.ndarray) -> np.ndarray:
        t = roi @ g_sum
        s = t / (base_sum + t)
        inside = (s >= s_lo) & (s <= s_hi)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(inside, np.log(t) - 2.0 * np.log(base_sum + t), -np.inf)

    return link


def _check_units(case: Case, G: np.ndarray, c: np.ndarray, true_roi: np.ndarray) -> None:
    """The harness's own check: the unit columns at the true ROIs give the true contributions."""
    err = np.abs(G @ true_roi - case.true_contrib.to_numpy().sum(axis=1)).max()
    scale = float(np.abs(case.true_contrib.to_numpy()).sum(axis=1).max())
    assert err <= 1e-6 * scale, (case.name, err, scale)


def _true_roi(case: Case, c: np.ndarray) -> np.ndarray:
    return np.array([tp.curve.params["beta"] for tp in case.truth.touchpoints.values()]) / c


def _with_decays(
    bound: Knowns, case: Case, spend: np.ndarray, decay_max: float, standin: bool
) -> Knowns:
    """``bound`` with the decays unknown (the generator's grid prior on [0, ``decay_max``]);
    checks that the decay columns at the true decays are ``bound.G``."""
    grid, weight = decay_prior(decay_max)
    tables = [col(grid) for col in decay_columns(case, spend)]
    true = [tp.adstock.decay for tp in case.truth.touchpoints.values() if tp.adstock]
    if max(true) <= decay_max:
        at = np.rint(np.array(true) * 1000).astype(int)
        again = np.column_stack([t[j] for t, j in zip(tables, at, strict=True)])
        assert np.allclose(again, bound.G, rtol=1e-6, atol=1e-9 * np.abs(bound.G).max()), case.name
    return replace(
        bound,
        decay_tables=tables,
        decay_grid=grid,
        decay_weight=weight,
        standin=standin or max(true) > decay_max,
    )


def low_knowns(case: Case, world: Any) -> tuple[Knowns, Knowns, Knowns]:
    """The bound's, the looser variant's and the decays-unknown bound's problems for a
    ``random_world`` world (or, with the stand-in prior, the sample company's)."""
    spec = world.spec
    spend = np.array([t.mean_spend for t in spec.touchpoints])
    c = _per_roi(case, spend)
    units = _units(case)
    G = units * c
    roi = _true_roi(case, c)
    _check_units(case, G, c, roi)
    parts = world.contributions
    base = parts[["baseline", "trend", "seasonality", "control"]].sum(axis=1).to_numpy()
    y = case.history.frame[case.history.journey.kpi].to_numpy(dtype=float)
    generated = spec.name.startswith("Random world")
    if generated:
        assert spec.baseline > 1000.0, case.name  # not at random_world's floor
    prior = ROI_PRIOR if generated else STANDIN_PRIOR
    bound = Knowns(
        case.name,
        G,
        y - base,
        c,
        prior,
        roi,
        spec.noise_sd,
        float(base.mean()),
        _low_link(spec.baseline, spend) if generated else None,
        standin=not generated,
    )
    weeks = np.arange(len(y), dtype=float)
    dates = pd.DatetimeIndex(case.history.frame.index)
    price = case.history.frame["price_index"].to_numpy(dtype=float) - 1.0
    Z = np.column_stack(
        [np.ones_like(weeks), weeks, seasonal_shape(dates, spec.season_peak_day), price]
    )
    return (
        bound,
        replace(bound, resid=y, noise_frac=None, link=None, Z=Z),
        _with_decays(bound, case, spend, LOW_DECAY_MAX, not generated),
    )


def high_knowns(case: Case, world: Any) -> tuple[Knowns, Knowns, Knowns]:
    """The bound's, the looser variant's and the decays-unknown bound's problems for a
    ``high_world`` world."""
    spend = np.array([t.mean_spend for t in world.touchpoints])
    c = _per_roi(case, spend)
    G = _units(case) * c
    roi = _true_roi(case, c)
    _check_units(case, G, c, roi)
    base = world.contributions["baseline"].to_numpy(dtype=float)
    y = case.history.frame[case.history.journey.kpi].to_numpy(dtype=float)
    bound = Knowns(
        case.name,
        G,
        y - base,
        c,
        ROI_PRIOR,
        roi,
        NOISE_SD,
        float(base.mean()),
        _high_link(float(base.sum()), G.sum(axis=0)),
    )
    t = np.arange(len(y), dtype=float)
    s = seasonal_shape(pd.DatetimeIndex(case.history.frame.index), _peak_day(world))
    p = case.history.frame["price_index"].to_numpy(dtype=float) - 1.0
    Z = np.column_stack([np.ones_like(t), t, s, p, t * s, t * p, s * p, t * s * p])
    return (
        bound,
        replace(bound, resid=y, noise_frac=None, link=None, Z=Z),
        _with_decays(bound, case, spend, DECAY_MAX, False),
    )


def curve_problems(
    case: Case, world: Any, regime: str, args: argparse.Namespace
) -> tuple[BC.CurvesProblem, BC.CurvesProblem]:
    """``full``'s and ``generic``'s problems (``_bayes_curves``): ``full`` knows what ``decay``
    knows except the transforms (the history, the true baseline series, the noise's relative size,
    the baseline-level factor, the ROI box prior, the generators' transform priors); ``generic``
    knows the history, ``looser``'s baseline form (coefficients integrated out under a flat prior),
    and a fitter's priors, the ROIs at the history's mean spend."""
    bound, looser, _ = (high_knowns if regime == "high" else low_knowns)(case, world)
    frame = case.history.frame
    tps = case.truth.touchpoints
    if regime == "high":
        ref = np.array([t.mean_spend for t in world.touchpoints])
        base_sum = float(world.contributions["baseline"].sum())
        link = _high_link_total(base_sum)
    else:
        ref = np.array([t.mean_spend for t in world.spec.touchpoints])
        low = bound.link
        link = None if low is None else _roi_only(low)
    prior = BC.full_prior(regime, args.ratio_points, args.shape_points)
    xs = [frame[tid].to_numpy(dtype=float) for tid in tps]
    full = BC.CurvesProblem(
        case.name,
        bound.resid,
        [BC.adstock_table(x, prior.decay_grid) for x in xs],
        ref,
        prior,
        bound.prior,
        bound.noise_frac,
        bound.base_mean,
        link,
        true_roi=bound.true_roi,
        standin=bound.standin or not _in_prior(case, ref, prior, bound.G),
    )
    gp = BC.generic_prior(args.rel_points, args.generic_shape_points)
    generic = BC.CurvesProblem(
        case.name,
        looser.resid,
        [BC.adstock_table(x, gp.decay_grid) for x in xs],
        np.array([x.mean() for x in xs]),
        gp,
        None,
        Z=looser.Z,
    )
    return full, generic


#: ``mapfourier``'s nuisance columns: the fitter's baseline of the world in hand (``fitter_z``)
FITTER_Z: list[np.ndarray | None] = [None]


def fitter_z(case: Case) -> np.ndarray:
    """The MAP fitter's default baseline columns for ``case``'s history
    (``optimizer.response.design._baseline_matrix``: intercept, trend, ``fourier_pairs`` = 3
    pairs of the yearly season and their products with the trend, the price control)."""
    frame = case.history.frame
    terms = {
        "origin": pd.Timestamp(frame.index[0]).date().isoformat(),
        "period_weeks": PERIOD_WEEKS,
        "fourier_pairs": 3,
        "seasonal_trend": True,
        "controls": ("price_index",),
    }
    return _baseline_matrix(frame, terms, None)


#: ``mapprior``'s log rel sd (``--map-rel-sd``; None: the fitter's ``PRIOR_LOG_REL_SD``)
MAP_REL_SD: list[float | None] = [None]


def knockout(full: BC.CurvesProblem, generic: BC.CurvesProblem, plan: str) -> BC.CurvesProblem:
    """``full``, ``generic``, or one of ``KNOCKOUTS``: ``full-X``, ``full`` with ``generic``'s
    part X; ``generic+X``, ``generic`` with ``full``'s part X (``KNOCKOUT_PARTS``). The ROIs are
    read at the generators' mean spend wherever the box or the level factor needs them (a
    hierarchy does not care); the baseline part moves the KPI less what is known of it and the
    nuisance columns, never the level factor (``full-link`` measures that alone)."""
    if plan in ("full", "generic"):
        return full if plan == "full" else generic
    if plan == "mapfourier":
        return replace(knockout(full, generic, "mapprior"), Z=FITTER_Z[0])
    if plan == "mapprior":  # the reference spend: the mean over the weeks with spend
        prior = BC.map_prior(
            len(generic.prior.ratio_logp), len(generic.prior.shape_logp), MAP_REL_SD[0]
        )
        ref = generic.ref * np.array([BC.on_share(a[0]) for a in generic.adstock]) ** -1.0
        return replace(generic, prior=prior, ref=ref)
    if plan.startswith("learn-"):
        part = plan[6:]
        return replace(generic, learn=frozenset(BC.LEARNABLE if part == "all" else (part,)))
    base, part = (full, plan[5:]) if plan.startswith("full-") else (generic, plan[8:])
    other = generic if base is full else full
    if part == "tp":
        return replace(base, adstock=other.adstock, prior=other.prior)
    if part in ("fam", "decay", "rel", "shape"):
        fields = {
            "fam": ("fam_logp",),
            "decay": ("decay_grid", "decay_logp"),
            "rel": ("ratio", "ratio_logp"),
            "shape": ("shape_grid", "shape_logp"),
        }[part]
        prior = replace(base.prior, **{f: getattr(other.prior, f) for f in fields})
        adstock = other.adstock if part == "decay" else base.adstock
        return replace(base, prior=prior, adstock=adstock)
    if part == "roi":
        return replace(base, roi_box=other.roi_box, ref=full.ref)
    if part == "noise":
        return replace(base, noise_frac=other.noise_frac, base_mean=full.base_mean)
    if part == "link":
        return replace(base, link=None)
    assert part == "base", plan
    return replace(base, y=other.y, Z=other.Z, link=None)


def _in_prior(case: Case, ref: np.ndarray, prior: BC.CurvePrior, G: np.ndarray) -> bool:
    """Whether every true transform lies in ``prior``'s support (family, decay, ratio and shape
    ranges); checks that the curves' formula at the true transforms gives ``G`` (the bound's
    per-ROI columns)."""
    inside = True
    r_grid = prior.ratio[0]
    h = (r_grid[1] - r_grid[0]) / 2 if len(r_grid) > 1 else 0.0
    s_grid = prior.shape_grid
    hs = (s_grid[1] - s_grid[0]) / 2 if len(s_grid) > 1 else 0.0
    for i, ((tid, tp), s) in enumerate(zip(case.truth.touchpoints.items(), ref, strict=True)):
        p, fam = dict(tp.curve.params), tp.curve.family
        f = BC.FAMILIES.index(fam)
        half = p["half_saturation"] if fam == "hill" else p.get("scale") or 1.0 / p["lam"]
        assert tp.adstock is not None
        d = tp.adstock.decay
        ratio = s / (1.0 - d) / half
        sh = p.get("shape", 1.0)
        x = case.history.frame[tid].to_numpy(dtype=float)
        a = BC.adstock_table(x, np.array([d]))
        z = a * ((1.0 - d) * ratio / s)
        g = (
            s
            * BC.unit(z, np.array([f]), np.array([sh]))
            / BC.unit(np.array([[ratio]]), np.array([f]), np.array([sh]))
        )
        assert np.allclose(g[0], G[:, i], rtol=1e-6, atol=1e-9 * np.abs(G).max()), case.name
        inside &= bool(
            np.isfinite(prior.fam_logp[f])
            and d <= prior.decay_grid[-1] + 1e-12
            and (r_grid[0] - h) * (1 - 1e-5) <= ratio <= (r_grid[-1] + h) * (1 + 1e-5)
            and (fam != "hill" or (s_grid[0] - hs) * (1 - 1e-5) <= sh <= s_grid[-1] + hs)
        )
    return inside


def _roi_only(
    link: Callable[[np.ndarray], np.ndarray],
) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """``_low_link`` with the media's total as a second, unused argument."""
    return lambda roi, total: link(roi)


def _high_link_total(base_sum: float) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """``_high_link`` as a function of the media's total over the history ``T`` (with the
    transforms unknown it is each draw's own)."""
    s_lo, s_hi = MEDIA_SHARE

    def link(roi: np.ndarray, t: np.ndarray) -> np.ndarray:
        s = t / (base_sum + t)
        inside = (s >= s_lo) & (s <= s_hi)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(inside, np.log(t) - 2.0 * np.log(base_sum + t), -np.inf)

    return link


def _peak_day(world: Any) -> int:
    """The high world's seasonal peak day, recovered from its baseline: the day whose seasonal
    shape, with the level, trend and price as regressors, fits the baseline series best (the
    generator keeps no field for it; exact, the baseline being noiseless)."""
    base = world.contributions["baseline"].to_numpy(dtype=float)
    dates = world.history["date"]
    t = np.arange(len(base), dtype=float)
    p = world.history["price_index"].to_numpy(dtype=float) - 1.0
    best, best_day = math.inf, 1
    for day in range(1, 366):
        s = seasonal_shape(dates, day)
        Z = np.column_stack([np.ones_like(t), t, s, p, t * s, t * p, s * p, t * s * p])
        res = base - Z @ np.linalg.lstsq(Z, base, rcond=None)[0]
        v = float(res @ res)
        if v < best:
            best, best_day = v, day
    return best_day


# ================================================================================================
# the worlds, with what their generator drew
# ================================================================================================
@contextmanager
def recording() -> Iterator[list[Any]]:
    """The generated worlds (``simulate``'s and ``high_world``'s objects) behind the cases
    ``_fit_cases`` builds inside the block, in order: their baseline series and draws."""
    seen: list[Any] = []
    real_sim, real_high = _fit_cases.simulate, _fit_cases.high_world

    def sim(spec: Any) -> Any:
        seen.append(real_sim(spec))
        return seen[-1]

    def high(n: int, seed: int) -> Any:
        seen.append(real_high(n, seed))
        return seen[-1]

    _fit_cases.simulate, _fit_cases.high_world = sim, high  # type: ignore[assignment]
    try:
        yield seen
    finally:
        _fit_cases.simulate, _fit_cases.high_world = real_sim, real_high


def worlds(regime: str, n: int, seeds: str, tmp: Path) -> list[tuple[Case, Any]]:
    """``fit_recovery.py``'s worlds of a regime (``seeds`` "A:B": ``fit_dev.py --seeds``'s fresh
    worlds instead), each with its generator's object."""
    with recording() as seen:
        if seeds:
            a, b = (int(v) for v in seeds.split(":"))
            cases = [
                high_case(n, s, tmp, 0, regime)
                if regime == "high"
                else world_case(f"rw{n}-s{s}", random_world(n, seed=s), tmp, "holdout", n, 0)
                for s in range(a, b)
            ]
        else:
            cases = regime_cases(regime, n, False, tmp)
    assert len(seen) == len(cases)
    return list(zip(cases, seen, strict=True))


# ================================================================================================
# plans and summaries
# ================================================================================================
def with_betas(truth: ResponseModel, betas: np.ndarray) -> ResponseModel:
    """The true model with its betas replaced (the transforms kept)."""
    tps = {
        tid: replace(tp, curve=replace(tp.curve, params={**tp.curve.params, "beta": float(b)}))
        for (tid, tp), b in zip(truth.touchpoints.items(), betas, strict=True)
    }
    return ResponseModel(truth.kpi, tps)


@dataclass
class WorldResult:
    name: str
    standin: bool
    regrets: dict[str, Regret]
    ess: float  # the bounds' importance weights' smallest effective share
    se_sd: float  # the bounds' largest Monte-Carlo error of a posterior mean, in posterior sds
    se_rel: float  # ... relative to the posterior mean
    accept: float  # the decays-unknown sampler's decay steps' acceptance rate
    #: ``full``'s prior misses a true transform (a ratio or shape outside the generator's range)
    full_standin: bool = False
    #: ``full`` / ``generic``: (the sampler's posterior, its seconds, the plan's seconds)
    curves: dict[str, Any] = field(default_factory=dict)


def vs_hist(r: Regret) -> float:
    return (r.fitted - r.historical) / r.kpi_total


def bootstrap(rows: Sequence[WorldResult], plan: str, n: int = 4000) -> tuple[float, float, float]:
    """Pooled capture's bootstrap over worlds (``n`` resamples, seeded): sd, 5% and 95%."""
    rng = np.random.default_rng(SEED)
    num = np.array([vs_hist(r.regrets[plan]) for r in rows])
    den = np.array([r.regrets[plan].uplift for r in rows])
    idx = rng.integers(0, len(rows), size=(n, len(rows)))
    v = num[idx].sum(axis=1) / den[idx].sum(axis=1)
    return float(v.std(ddof=1)), float(np.quantile(v, 0.05)), float(np.quantile(v, 0.95))


def summary(rows: Sequence[WorldResult], title: str, target: float | None) -> None:
    print(f"\n{title}: {len(rows)} worlds" + (f"; target {target:.0%}" if target else ""))
    print(
        f"| plan | pooled | bootstrap sd | 5-95% | worst world vs hist. (% KPI) | "
        f"below by > {HARM:.1%} |"
    )
    print("|---|---|---|---|---|---|")
    for plan in [p for p in ALL_PLANS if all(p in r.regrets for r in rows)]:
        pooled = pooled_capture(rows, lambda r, p=plan: r.regrets[p])  # type: ignore[misc]
        sd, q5, q95 = bootstrap(rows, plan)
        v = [vs_hist(r.regrets[plan]) for r in rows]
        worst = int(np.argmin(v))
        print(
            f"| {plan} | {pooled:.1%} | {sd:.1%} | {q5:.1%}-{q95:.1%} | {v[worst]:+.2%} "
            f"({rows[worst].name}) | {sum(x < -HARM for x in v)} |"
        )


def _standin_world(case: Case, world: Any) -> bool:
    """A low world no generator draws: the sample company's, or decays beyond ``random_world``'s."""
    spec = getattr(world, "spec", None)
    if spec is None:
        return False
    decays = [tp.adstock.decay for tp in case.truth.touchpoints.values() if tp.adstock]
    return not spec.name.startswith("Random world") or max(decays) > LOW_DECAY_MAX


def summaries(rows: Sequence[WorldResult], target: float | None, all_worlds: bool = False) -> None:
    """The summary tables: the generators' worlds, those inside ``full``'s prior (where some are
    not), and every world (``all_worlds``, where some are stand-ins)."""
    generated = [r for r in rows if not r.standin]
    summary(generated, "Generator worlds", target)
    inside = [r for r in generated if not r.full_standin]
    if len(inside) < len(generated):
        summary(inside, "Generator worlds inside full's prior", target)
    if all_worlds and len(generated) < len(rows):
        summary(rows, "All worlds (the stand-in worlds' priors are not their generator's)", target)


def run_world(
    case: Case, world: Any, regime: str, args: argparse.Namespace, rng: np.random.Generator
) -> WorldResult:
    plans = args.plans
    bound_kn, looser_kn, decay_kn = (high_knowns if regime == "high" else low_knowns)(case, world)
    regrets: dict[str, Regret] = {}
    ess, se_sd, se_rel, accept = [1.0], [0.0], [0.0], float("nan")
    curves: dict[str, Any] = {}

    def note(pm: PosteriorMean) -> None:
        ess.append(pm.ess)
        se_sd.append(float(np.max(pm.se / pm.sd)))
        se_rel.append(float(np.max(pm.se / pm.mean)))

    if "bound" in plans:
        post = posterior(bound_kn, rng, args.chains, args.sweeps, args.burn)
        note(post)
        regrets["bound"] = decision_regret(case, with_betas(case.truth, post.mean * bound_kn.c))
    if "decay" in plans:
        dpost = posterior(decay_kn, rng, args.chains, args.decay_sweeps, args.burn)
        note(dpost)
        accept = dpost.accept
        # the steady-state curves at the ratio known are the same at every decay: the true
        # decay's parametrisation with the ROIs' posterior mean is the expected curve
        regrets["decay"] = decision_regret(case, with_betas(case.truth, dpost.mean * decay_kn.c))
    full_standin = False
    if any(p in plans for p in CURVE_PLANS):
        full_pb, generic_pb = curve_problems(case, world, regime, args)
        FITTER_Z[0] = fitter_z(case)
        full_standin = full_pb.standin
        for name in [p for p in CURVE_PLANS if p in plans]:
            pb = knockout(full_pb, generic_pb, name)
            t0 = time.perf_counter()
            cp = BC.sample(
                pb, rng, args.curve_chains, args.curve_sweeps, args.curve_burn,
                weighted_mean, _conditional, truncated_normal,
            )  # fmt: skip
            t1 = time.perf_counter()
            model = BC.mixture(case.truth, pb.ref, cp.cells)
            regrets[name] = decision_regret(case, model, robust=True)
            curves[name] = (cp, t1 - t0, time.perf_counter() - t1)
    if "flat" in plans or "ls" in plans:
        oracle = oracle_model(case, ORACLE_DRAWS)
        regrets["flat"] = decision_regret(case, oracle, robust=True)
        regrets["ls"] = decision_regret(case, oracle)
    if "looser" in plans:
        loose = posterior(looser_kn, rng, args.chains, args.sweeps, args.burn)
        regrets["looser"] = decision_regret(case, with_betas(case.truth, loose.mean * looser_kn.c))
    return WorldResult(
        case.name,
        decay_kn.standin,
        regrets,
        min(ess),
        max(se_sd),
        max(se_rel),
        accept,
        full_standin,
        curves,
    )


@dataclass
class _Logged:
    """A plan's result read back from a run's per-world line (``--from-log``)."""

    optimal: float  # the world's uplift (share of the KPI), the historical mix at 0
    fitted: float  # the plan's gain over the historical mix (share of the KPI)
    historical: float = 0.0
    kpi_total: float = 1.0

    @property
    def uplift(self) -> float:
        return self.optimal


def from_log(path: Path, target: float | None) -> None:
    """The summary tables of a run's per-world lines (a run stopped before its end included):
    each plan's gain over the historical mix and the world's uplift as printed (to 0.01% of the
    KPI)."""
    rows: list[WorldResult] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if " vs hist: " not in line or line.startswith(" "):
            continue
        name = line.split()[0]
        up = float(line.split("uplift")[1].split("%")[0]) / 100.0
        vs = line.split(" vs hist: ")[1].split("  ESS")[0].split("  ")
        regrets = {}
        for item in vs:
            plan, value = item.split()
            regrets[plan] = _Logged(up, float(value.rstrip("%")) / 100.0)
        rows.append(
            WorldResult(
                name, "(stand-in prior)" in line, regrets, 1.0, 0.0, 0.0, float("nan"),  # type: ignore[arg-type]
                "(outside full prior)" in line,
            )
        )  # fmt: skip
    print(f"# {path}: {len(rows)} worlds read")
    summaries(rows, target)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--regime", choices=("low", "high"), default="low")
    ap.add_argument("--touchpoints", type=int, choices=(8, 15), default=8)
    ap.add_argument("--seeds", default="", metavar="START:STOP", help="as fit_dev.py's")
    ap.add_argument("--worlds", type=int, default=0, metavar="N", help="the first N worlds only")
    ap.add_argument("--chains", type=int, default=400)
    ap.add_argument("--sweeps", type=int, default=350)
    ap.add_argument("--burn", type=int, default=100)
    ap.add_argument(
        "--decay-sweeps", type=int, default=450, help="the decays-unknown bound's sweeps"
    )
    ap.add_argument("--sampler-seed", type=int, default=SEED)
    ap.add_argument(
        "--plans",
        default=",".join(PLANS),
        help=f"comma-separated, of {', '.join(ALL_PLANS)} (default: {', '.join(PLANS)})",
    )
    ap.add_argument(
        "--from-log",
        type=Path,
        metavar="FILE",
        help="only print the summary tables of a run's output (its per-world lines)",
    )
    ap.add_argument(
        "--skip-standin",
        action="store_true",
        help="leave out the worlds no generator draws (the sample company's, rw6-s2-slow)",
    )
    ap.add_argument("--curve-chains", type=int, default=200, help="full / generic: chains")
    ap.add_argument("--curve-sweeps", type=int, default=300, help="full / generic: sweeps")
    ap.add_argument("--curve-burn", type=int, default=100, help="full / generic: burn-in")
    ap.add_argument("--ratio-points", type=int, default=15, help="full: ratio grid cells")
    ap.add_argument("--shape-points", type=int, default=4, help="full: shape grid cells")
    ap.add_argument("--rel-points", type=int, default=24, help="generic: rel grid cells")
    ap.add_argument("--generic-shape-points", type=int, default=6, help="generic: shape grid cells")
    ap.add_argument(
        "--map-rel-sd",
        type=float,
        default=None,
        help="mapprior: the log half-way point's prior sd (default: the fitter's, ln 3)",
    )
    args = ap.parse_args(argv)
    MAP_REL_SD[0] = args.map_rel_sd
    args.plans = tuple(p for p in args.plans.split(",") if p)
    unknown = sorted(set(args.plans) - set(ALL_PLANS))
    if unknown:
        ap.error(f"--plans: unknown plan(s) {', '.join(unknown)} (known: {', '.join(ALL_PLANS)})")
    t0 = time.perf_counter()
    target = POOLED_TARGET.get((args.regime, args.touchpoints))
    if args.from_log:
        from_log(args.from_log, target)
        return 0
    print(
        f"# Bayes bound: {args.regime}, {args.touchpoints} tp, "
        f"{'seeds ' + args.seeds if args.seeds else 'the benchmark worlds'}; commit "
        f"{git_commit()}; Gibbs {args.chains} chains x {args.sweeps} sweeps ({args.decay_sweeps} "
        f"with the decays unknown; burn {args.burn}), "
        f"sampler seed {args.sampler_seed}; plans {','.join(args.plans)}; full / generic: "
        f"{args.curve_chains} chains x {args.curve_sweeps} sweeps (burn {args.curve_burn}), "
        f"full: {BC.full_prior(args.regime, args.ratio_points, args.shape_points).describe}; "
        f"generic: {BC.generic_prior(args.rel_points, args.generic_shape_points).describe}",
        flush=True,
    )
    rng = np.random.default_rng(args.sampler_seed)
    rows: list[WorldResult] = []
    with tempfile.TemporaryDirectory() as tmp:
        pairs = worlds(args.regime, args.touchpoints, args.seeds, Path(tmp))
        if args.skip_standin:
            pairs = [(c, w) for c, w in pairs if not _standin_world(c, w)]
        if args.worlds:
            pairs = pairs[: args.worlds]
        for case, world in pairs:
            w = run_world(case, world, args.regime, args, rng)
            rows.append(w)
            caps = "  ".join(
                f"{p} {w.regrets[p].captured:7.1%}" for p in ALL_PLANS if p in w.regrets
            )
            first = next(iter(w.regrets.values()))
            vs = "  ".join(f"{p} {vs_hist(w.regrets[p]):+.2%}" for p in ALL_PLANS if p in w.regrets)
            print(
                f"{w.name:<24} uplift {first.uplift:6.2%}  {caps}  vs hist: {vs}  "
                f"ESS {w.ess:.2f}  MC se/sd {w.se_sd:.3f}  decay acc. {w.accept:.2f}"
                f"{'  (stand-in prior)' if w.standin else ''}"
                f"{'  (outside full prior)' if w.full_standin and not w.standin else ''}",
                flush=True,
            )
            for name, (cp, t_s, t_p) in w.curves.items():
                acc = " ".join(f"{k} {v:.2f}" for k, v in cp.accept.items())
                print(
                    f"    {name}: accept {acc}; ESS {cp.ess:.2f}; MC se/sd ROI "
                    f"{np.max(cp.roi.se / cp.roi.sd):.3f}, decay "
                    f"{np.max(cp.decays.se / np.maximum(cp.decays.sd, 1e-12)):.3f}; cells "
                    f"{max(len(c) for c in cp.cells)}; sampler {t_s:.1f} s, plan {t_p:.1f} s",
                    flush=True,
                )
    for name, p in PLAN_NAMES.items():
        print(f"{name}: {p}")
    summaries(rows, target, all_worlds=True)
    print(
        f"\nsampler: importance ESS share min {min(r.ess for r in rows):.2f}, largest MC se of a "
        f"posterior mean {max(r.se_sd for r in rows):.3f} posterior sd "
        f"({max(r.se_rel for r in rows):.2%} of the mean); run time "
        f"{time.perf_counter() - t0:.0f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
