"""The half-saturation prior's width chosen by the evidence (``fit_model(rel_prior=...)``).

The MAP fit's weak prior on each touchpoint's log relative half-saturation is centred at the level
it runs at with sd ``PRIOR_LOG_REL_SD`` (ln 3: a factor of 3 either way at one sd, ``joint``), a
number nobody chose from data. Here the sd is a hyperparameter chosen by the Laplace marginal
likelihood of the data (type-II maximum likelihood over ``SD_GRID``), as ``decayprior`` chooses
the decay's:

* ``"shared"``: one sd for every touchpoint of the brand: the joint MAP fit is refitted at each
  sd of the grid and its Laplace evidence ``cost / sigma^2 + log det(posterior precision of every
  transform) - log det(prior precision)`` compared (``decayprior.log_ml_joint``; the betas
  profiled out);
* ``"fixed"`` (the default): ``PRIOR_LOG_REL_SD`` for every touchpoint.

The choice is made on the first MAP fit (the training weeks', after the decay prior's choice);
the all-weeks fit, its Laplace draws and the bootstrap keep it (``MapFit.rel_sd``).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from optimizer.response import joint as J
from optimizer.response.decayprior import shared_sd

#: ``fit_model(rel_prior=...)`` choices
REL_PRIORS = ("fixed", "shared")
#: the log half-saturation prior sds tried: a factor of 1.25 to 10 either way at one sd;
#: ``PRIOR_LOG_REL_SD`` (ln 3) among them
SD_GRID = tuple(math.log(f) for f in (1.25, 1.5, 2.0, 3.0, 5.0, 10.0))


def choose(
    p: J.Problem, sol: J.Solution, mode: str
) -> tuple[J.Problem, J.Solution, dict[str, Any]]:
    """The problem with its half-saturation prior sd chosen by ``mode`` (``REL_PRIORS``), the MAP
    fit at it (from ``sol``, the fit at the fixed sd) and what decided it (model.json's
    ``diagnostics.rel_prior``: the sd, its factor ``exp(sd)`` and each grid sd's minus twice the
    log evidence above the best's)."""
    if mode not in REL_PRIORS:
        raise ValueError(f"rel prior '{mode}': expected one of {', '.join(REL_PRIORS)}")
    if mode == "fixed" or not p.tps:
        return p, sol, {}
    v, sd, q, cand, lml = shared_sd(
        sol, SD_GRID, lambda sd: replace(p, rel_sd=sd), lambda sd: f"{math.exp(sd):g}"
    )
    if not math.isfinite(v):  # no evidence at any sd (a singular posterior): keep the fixed
        return p, sol, {}
    info = {
        "method": "one sd for every touchpoint, by the joint Laplace evidence",
        "sd": sd,
        "factor": math.exp(sd),
        "log_ml": lml,
    }
    return q, cand, info
