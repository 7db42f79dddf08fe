"""Bayesian model averaging over the saturation families of the MAP fit
(``fit_model(average_families=True)``).

Each touchpoint's families get posterior weights from their Laplace marginal likelihoods
(``joint.log_ml_local``: the family choice's on the training weeks decide which families are
refitted on all weeks, where the weights are computed); draws of a touchpoint come from the family
mixture in the weights' shares, each family's from the Laplace approximation around its own MAP
(``mapfit.laplace_draws`` with that touchpoint's family and transforms swapped in).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from optimizer.response import joint as J
from optimizer.response.mapfit import MapFit, convert, laplace_draws
from optimizer.response.mapsetup import MapData, problem_at_map

#: Bayesian model averaging over the saturation families (``average_families=True``): a family
#: whose posterior weight is below this share is left out of the mixture (it would get no draw of
#: 20) and the others' weights renormalised.
MIN_FAMILY_WEIGHT = 0.02

#: The point curves under the family mixture: "closest" (each touchpoint's curve, of the families
#: in its mixture, closest to the mean over the mixture's draws on the point curves' spend grid,
#: up to twice the highest weekly spend), "observed" (the same, closest on the grid's spends up
#: to the highest weekly spend), "map" (the mixture's mean curve matched in the MAP's family) or
#: "unmixed" (the MAP family's own posterior mean, as without the mixture: the mixture then makes
#: the draws alone). A dev switch; measured in docs/response-models-measured.md ("Why family
#: averaging hurts mmm_example").
MIXTURE_POINT = "closest"
MIXTURE_POINTS = ("closest", "observed", "map", "unmixed")

#: One component of a touchpoint's family mixture: its transforms (the centre of its Laplace
#: draws) and its posterior weight.
Mixture = list[dict[str, tuple[np.ndarray, float]]]


def family_weights(lml: dict[str, float]) -> dict[str, float]:
    """Posterior family weights from minus twice their log marginal likelihoods (equal prior
    odds): ``exp(-lml / 2)`` normalised; below ``MIN_FAMILY_WEIGHT`` left out, the rest
    renormalised; sorted by family name."""
    fin = {f: v for f, v in lml.items() if math.isfinite(v)}
    if not fin:
        return {}
    lo = min(fin.values())
    raw = {f: math.exp(-0.5 * (v - lo)) for f, v in fin.items()}
    tot = sum(raw.values())
    keep = {f: v / tot for f, v in raw.items() if v / tot >= MIN_FAMILY_WEIGHT}
    tot = sum(keep.values())
    return {f: keep[f] / tot for f in sorted(keep)}


def family_mixture(fit: MapFit, data: MapData) -> tuple[Mixture, int]:
    """Per touchpoint, the posterior mixture over the saturation families on all weeks (``fit``:
    the MAP on all weeks): each family's MAP (that touchpoint's transforms free, the others held
    at the MAP) and its weight from its Laplace marginal likelihood (``joint.log_ml_local``).
    Only families whose training-weeks weight (``fit.family_lml``, the family choice's) reaches
    ``MIN_FAMILY_WEIGHT`` are refitted; touchpoints with lift tests keep their family. Returns
    the mixture and the count of evaluations."""
    p, _ = problem_at_map(fit, data)
    tps = p.tps
    at_map = J.objective(p, fit.theta)
    out: Mixture = []
    nfev = 0
    for j, tp in enumerate(tps):
        own = {tp.family: (np.asarray(fit.theta[j]), 1.0)}
        prior = family_weights(fit.family_lml[j]) if j < len(fit.family_lml) else {}
        alts = [f for f in prior if f != tp.family]
        if not data.pooled[j] or not alts or float(at_map.inner.w[j]) <= 0:
            out.append(own)
            continue
        own_sol = J.fit(p, fit.theta, free=[j], max_nfev=50)
        nfev += own_sol.nfev
        lml = {tp.family: J.log_ml_local(p, own_sol, j)}
        thetas = {tp.family: np.asarray(fit.theta[j])}
        for fam in alts:
            trial = list(p.tps)
            trial[j] = replace(tp, family=fam)
            q = replace(p, tps=trial)
            th = list(fit.theta)
            th[j] = convert(fit.theta[j], tp.family, fam)
            cand = J.fit(q, th, free=[j], max_nfev=50)
            nfev += cand.nfev
            lml[fam] = J.log_ml_local(q, cand, j)
            thetas[fam] = np.asarray(cand.theta[j])
        w = family_weights(lml)
        out.append({f: (thetas[f], w[f]) for f in w} if w else own)
    return out, nfev


def _quotas(weights: Sequence[float], n: int) -> list[int]:
    """``n`` draws shared by ``weights`` (largest remainder): stratified, not random counts."""
    exact = np.asarray(weights, dtype=float) * n
    counts = np.floor(exact).astype(int)
    rest = n - int(counts.sum())
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[:rest]] += 1
    return [int(c) for c in counts]


def mixture_draws(
    fit: MapFit,
    mix: Mixture,
    data: MapData,
    n_draws: int,
    seed: int,
    **kw: Any,
) -> tuple[list[tuple[list[np.ndarray], np.ndarray]], list[list[str]], dict[str, Any]]:
    """Draws from the family mixture ``mix``: per touchpoint, each family gets its weight's share
    of the ``n_draws`` (largest remainder, in an order drawn from ``seed``), and a draw of
    family ``f`` takes that touchpoint's transforms and beta from the Laplace draws (same
    standard normals) around the fit with that touchpoint's family ``f`` at its centre (the
    others at ``fit``'s). Returns the draws, each draw's families, and ``laplace_draws``'s
    summary of ``fit``'s own draws. ``kw``: ``laplace_draws``'s options."""
    args = (data, n_draws, seed)
    draws, lap = laplace_draws(fit, *args, **kw)
    fams = [list(fit.families) for _ in range(n_draws)]
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(8,)))
    for j, comp in enumerate(mix):
        if len(comp) == 1 and fit.families[j] in comp:
            continue
        names = sorted(comp)
        order = rng.permutation(n_draws)
        at = 0
        for fam, count in zip(names, _quotas([comp[f][1] for f in names], n_draws), strict=True):
            idx = order[at : at + count]
            at += count
            theta = comp[fam][0]
            if not idx.size or (fam == fit.families[j] and np.array_equal(theta, fit.theta[j])):
                continue
            families = list(fit.families)
            families[j] = fam
            th = list(fit.theta)
            th[j] = theta
            alt, _ = laplace_draws(replace(fit, families=families, theta=th), *args, **kw)
            for b in idx:
                draws[b][0][j] = alt[b][0][j]
                draws[b][1][j] = alt[b][1][j]
                fams[b][j] = fam
    return draws, fams, lap
