"""An empirical-Bayes centre for the decays' prior (``fit_model(decay_prior="empirical")``).

The MAP fit's prior on each touchpoint's adstock decay is centred at 0.3 (sd 0.3). Where the weeks
barely inform a decay (``benchmarks/decay_bias.py``: for most touchpoints fitted short by more than
0.15 the data prefer the fit to the truth by less than one unit of minus twice the log likelihood)
the centre decides it, and a brand's carry-overs may sit elsewhere. Here the centre is the
touchpoints' own: an EM iteration on the prior's mean (sd held) -- the new centre is the mean of
the touchpoints' posterior decays (the MAP's, Laplace), with ``HYPER_WEIGHT`` pseudo-touchpoints
at ``joint.PRIOR_DECAY`` (a hyperprior, so two or three touchpoints cannot move it far), and the
transforms are refitted at it -- until it moves less than ``TOL``. Touchpoints with a zero beta
carry no information on their decay (their posterior is the prior) and are left out, which leaves
the fixed point unchanged. Measured in docs/response-models.md ("Long carry-overs fitted short").
"""

from __future__ import annotations

from optimizer.response import joint as J

#: estimate the centre (the fit's default when ``fit_model`` is not told)
EB_DECAY = False
#: pseudo-touchpoints at the fixed centre (the hyperprior's weight)
HYPER_WEIGHT = 2.0
#: most EM steps, and the change of the centre at which they stop
ITERATIONS = 6
TOL = 0.005
#: the centre stays inside these
CENTRE_BOUNDS = (0.05, 0.7)


def empirical_centre(p: J.Problem, sol: J.Solution) -> tuple[J.Solution, int]:
    """EM on the decays' prior centre from the MAP ``sol`` of ``p`` (``p.decay_centre`` is set);
    the refitted solution and the function evaluations spent."""
    nfev = 0
    c = J.PRIOR_DECAY if p.decay_centre is None else float(p.decay_centre)
    for _ in range(ITERATIONS):
        live = [float(sol.theta[j][0]) for j in range(len(p.tps)) if float(sol.inner.w[j]) > 0]
        if not live:
            break
        new = (sum(live) + HYPER_WEIGHT * J.PRIOR_DECAY) / (len(live) + HYPER_WEIGHT)
        new = min(max(new, CENTRE_BOUNDS[0]), CENTRE_BOUNDS[1])
        if abs(new - c) < TOL:
            break
        c = new
        p.decay_centre = c
        sol = J.fit(p, sol.theta)
        nfev += sol.nfev
    p.decay_centre = c
    return sol, nfev
