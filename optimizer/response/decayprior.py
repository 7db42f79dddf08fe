"""The decay prior's width chosen by the evidence (``fit_model(decay_prior=...)``).

The MAP fit's weak prior on each touchpoint's adstock decay is ``PRIOR_DECAY +- PRIOR_DECAY_SD``
(0.3 +- 0.3, ``joint``). Where the weeks cannot place a decay the prior's centre decides it, and
long carry-overs come out short (docs/response-models-measured.md, "Long carry-overs fitted
short"); a flat prior fixes the long ones and ruins the short ones. Here the prior's sd is a
hyperparameter chosen by the Laplace marginal likelihood of the data (type-II maximum likelihood
over ``SD_GRID``, as the pooling weight is chosen), the centre kept:

* ``"shared"``: one sd for every touchpoint of the brand: the joint MAP fit is refitted at each
  sd of the grid and its Laplace evidence ``cost / sigma^2 + log det(posterior precision of every
  transform) - log det(prior precision)`` compared (the betas profiled out, as in the family
  choice's ``joint.log_ml_local``);
* ``"touchpoint"``: each touchpoint's own sd (biggest spender first, the others held), by the
  local evidence of its transforms (``joint.log_ml_local``) at each sd: where the weeks place the
  decay away from the centre by more than their own uncertainty the prior widens, where they
  cannot place it the prior keeps its pull;
* ``"informed"``: each touchpoint's sd from how much its weeks say about its decay: the prior
  never outweighs the data, ``1 / sd^2 = min(1 / PRIOR_DECAY_SD^2, h)`` (``h`` the data's
  precision of the decay at the fixed prior's MAP, the posterior's marginal precision less the
  prior's, so every other transform's uncertainty is counted), ``sd`` at most ``INFORMED_MAX_SD``:
  flatter where the weeks cannot place the decay, the fixed prior where they can;
* ``"fixed"`` (the default): ``PRIOR_DECAY_SD`` for every touchpoint.

The choice is made on the first MAP fit (the training weeks'); the all-weeks fit, its Laplace
draws, the decay profiles and the bootstrap keep it (``MapFit.decay_sd``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from optimizer.response import joint as J

#: ``fit_model(decay_prior=...)`` choices
DECAY_PRIORS = ("fixed", "shared", "touchpoint", "informed")
#: ``diagnostics.decay_prior.method`` of each choice
METHODS = {
    "shared": "one sd for every touchpoint, by the joint Laplace evidence",
    "touchpoint": "each touchpoint's sd by its local Laplace evidence",
    "informed": "each touchpoint's sd from its data's precision of the decay",
}
#: the decay prior sds tried (the evidence's grid); ``PRIOR_DECAY_SD`` (0.3) among them
SD_GRID = (0.1, 0.2, 0.3, 0.45, 0.7, 1.0)
#: local fits' evaluation budget (one touchpoint free), as the family choice's
LOCAL_NFEV = 50
#: ``"informed"``: the widest decay prior sd (where the weeks carry no information on the decay)
INFORMED_MAX_SD = 1.0


def log_ml_joint(p: J.Problem, sol: J.Solution) -> float:
    """Minus twice the log marginal likelihood (Laplace, up to a constant) of every transform of
    ``p`` after a fit with all of them free: ``cost / sigma^2 + log det(J'J / sigma^2) - log
    det(prior precision)`` (``J`` the Jacobian of every residual and prior row, the betas
    projected out). A touchpoint with a zero beta has only its prior rows: its terms cancel."""
    if sol.jac is None or len(sol.free) != len(p.tps):
        sol = J.fit(p, sol.theta, max_nfev=LOCAL_NFEV)
    assert sol.jac is not None
    s2 = p.sigma**2
    H = sol.jac.T @ sol.jac / s2
    sign, logdet = np.linalg.slogdet(H)
    if sign <= 0:
        return math.inf
    prior_logdet = 0.0
    for j in range(len(p.tps)):
        for sd in J.prior_at(p, j)[1]:
            prior_logdet += math.log(max(p.prior_weight, 1e-12) / sd**2)
    return sol.cost / s2 + float(logdet) - prior_logdet


def shared_sd(
    sol: J.Solution,
    grid: Sequence[float],
    at: Callable[[float], J.Problem],
    label: Callable[[float], str],
) -> tuple[float, float, J.Problem, J.Solution, dict[str, float]]:
    """Type-II maximum likelihood of one prior sd over ``grid``: the problem ``at(sd)`` refitted
    from ``sol`` at each; the best's evidence (``log_ml_joint``), sd, problem and fit, and every
    sd's evidence above the best's, keyed ``label(sd)``."""
    best: tuple[float, float, J.Problem, J.Solution] | None = None
    lml: dict[str, float] = {}
    for sd in grid:
        q = at(float(sd))
        cand = J.fit(q, sol.theta)
        v = log_ml_joint(q, cand)
        lml[label(float(sd))] = v
        if best is None or v < best[0] - 1e-9:
            best = (v, float(sd), q, cand)
    assert best is not None
    lo = min(lml.values())
    return best[0], best[1], best[2], best[3], {k: v - lo for k, v in lml.items()}


def choose(
    p: J.Problem, sol: J.Solution, mode: str
) -> tuple[J.Problem, J.Solution, dict[str, Any]]:
    """The problem with its decay sds chosen by ``mode`` (``DECAY_PRIORS``), the MAP fit at them
    (from ``sol``, the fit at the fixed prior) and what decided them (model.json's
    ``diagnostics.decay_prior``)."""
    if mode not in DECAY_PRIORS:
        raise ValueError(f"decay prior '{mode}': expected one of {', '.join(DECAY_PRIORS)}")
    n = len(p.tps)
    if mode == "fixed" or n == 0:
        return p, sol, {}
    info: dict[str, Any] = {"method": METHODS[mode], "grid": list(SD_GRID)}
    if mode == "shared":
        v, sd, q, cand, lml = shared_sd(
            sol, SD_GRID, lambda sd: replace(p, decay_sd=np.full(n, sd)), lambda sd: f"{sd:g}"
        )
        info.update({"sd": sd, "log_ml": lml})
        return q, cand, info
    if mode == "informed":
        return _informed(p, sol, info)
    # per touchpoint, biggest spender first, the others held
    sds = np.full(n, J.PRIOR_DECAY_SD) if p.decay_sd.size == 0 else p.decay_sd.astype(float)
    cur, q = sol, replace(p, decay_sd=sds.copy())
    order = sorted(range(n), key=lambda j: -float(p.tps[j].x.sum()))
    for j in order:
        if float(cur.inner.w[j]) <= 0:
            continue
        pick: tuple[float, float, J.Problem, J.Solution] | None = None
        for sd in SD_GRID:
            ds = q.decay_sd.copy()
            ds[j] = float(sd)
            qq = replace(q, decay_sd=ds)
            cand = J.fit(qq, cur.theta, free=[j], max_nfev=LOCAL_NFEV)
            v = J.log_ml_local(qq, cand, j)
            if pick is None or v < pick[0] - 1e-9:
                pick = (v, float(sd), qq, cand)
        assert pick is not None
        q, cur = pick[2], pick[3]
    cur = J.fit(q, cur.theta)
    info["sd"] = [float(v) for v in q.decay_sd]
    return q, cur, info


def _informed(
    p: J.Problem, sol: J.Solution, info: dict[str, Any]
) -> tuple[J.Problem, J.Solution, dict[str, Any]]:
    """``"informed"`` (module docstring): each decay's sd from its data precision at ``sol``."""
    if sol.jac is None or len(sol.free) != len(p.tps):
        sol = J.fit(p, sol.theta, max_nfev=LOCAL_NFEV)
    assert sol.jac is not None
    n = len(p.tps)
    s2 = p.sigma**2
    H = sol.jac.T @ sol.jac / s2
    try:
        cov = np.linalg.inv(H)
    except np.linalg.LinAlgError:
        return p, sol, {**info, "sd": [J.PRIOR_DECAY_SD] * n}
    sds = np.full(n, J.PRIOR_DECAY_SD)
    h_data = np.zeros(n)
    at = 0
    for j, tp in enumerate(p.tps):
        d_sd = J.prior_at(p, j)[1][0]
        prior_prec = max(p.prior_weight, 1e-12) / d_sd**2
        h = max(1.0 / max(float(cov[at, at]), 1e-300) - prior_prec, 0.0)
        h_data[j] = h
        # the prior's precision: at most the data's, at least the widest sd's
        prec = min(prior_prec, max(h, max(p.prior_weight, 1e-12) / INFORMED_MAX_SD**2))
        sds[j] = math.sqrt(max(p.prior_weight, 1e-12) / prec)
        at += tp.k
    q = replace(p, decay_sd=sds)
    cur = J.fit(q, sol.theta)
    info.pop("grid", None)
    info["max_sd"] = INFORMED_MAX_SD
    info["sd"] = [float(v) for v in sds]
    # None: the weeks carry no information on the decay (JSON has no infinity)
    info["data_sd"] = [float(1.0 / math.sqrt(h)) if h > 0 else None for h in h_data]
    return q, cur, info
