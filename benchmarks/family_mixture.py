"""What the family mixture (``fit_model(average_families=True)``) does on one data set with a known
truth (default: PyMC-Marketing's mmm_example): per touchpoint, each saturation family's refit
(its transforms and beta with the other touchpoints at the MAP, as ``families.family_mixture``
makes them), minus twice its Laplace log marginal likelihood split into its terms (the fit's
chi-square, the prior's, the log determinants of the posterior and prior precisions: the Occam
factor), its weight, and its steady-state ROAS and marginal ROAS at the mean weekly spend against
the truth; then the mean curve over the point curves' draws (the mixture's) and the point curve
matched to it, at the same spend and on the point curves' spend grid.

    .venv/bin/python benchmarks/family_mixture.py
    .venv/bin/python benchmarks/family_mixture.py --fit-option '@families.MIXTURE_POINT="map"'

A diagnosis, not a benchmark of record: it taps ``families.family_mixture`` and
``pointcurves.posterior_mean_point`` while ``fit_model`` runs (their results unchanged) and
refits each family the way ``family_mixture`` does. Results: docs/response-models-measured.md
("Why family averaging hurts mmm_example").
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _fit_cases import N_BOOTSTRAP, SEED, mmm_example_case, regime_cases  # noqa: E402
from _fit_options import fit_with_options, parse_options  # noqa: E402

from optimizer.response import curves as CC  # noqa: E402
from optimizer.response import families as FA  # noqa: E402
from optimizer.response import joint as J  # noqa: E402
from optimizer.response import pointcurves as PC  # noqa: E402
from optimizer.response.mapfit import convert  # noqa: E402
from optimizer.response.mapsetup import problem_at_map  # noqa: E402


def _terms(p: J.Problem, sol: J.Solution, j: int) -> dict[str, float]:
    """``joint.log_ml_local``'s terms for touchpoint ``j`` after a fit with only ``j`` free."""
    assert sol.jac is not None
    s2 = p.sigma**2
    a = sum(p.tps[q].k for q in sol.free[: sol.free.index(j)])
    jac = sol.jac[:, a : a + p.tps[j].k]
    logdet = float(np.linalg.slogdet(jac.T @ jac / s2)[1])
    sds = J.prior_of(p.tps[j], p.rel_centre)[1]
    prior_logdet = sum(math.log(max(p.prior_weight, 1e-12) / sd**2) for sd in sds)
    pr, _ = J._prior(p, sol.theta)
    return {
        "chi2": float(sol.inner.r @ sol.inner.r) / s2,
        "prior": float(pr @ pr) / s2,
        "occam": logdet - prior_logdet,
    }


def _steady(
    fam: str, th: np.ndarray, beta: float, mean_ad: float, x: np.ndarray | float
) -> np.ndarray:
    d = float(th[0])
    return np.asarray(
        beta
        * CC.saturation(
            fam, np.asarray(x) / (1.0 - d), J.family_params(fam, th, mean_ad) | {"beta": 1.0}
        )
    )


def _roas(values: np.ndarray, m: float, h: float) -> tuple[float, float]:
    """(value / spend, slope) from a curve's values at ``m - h, m, m + h``."""
    return float(values[1]) / m, float(values[2] - values[0]) / (2 * h)


def switches(regime: str, n_tp: int, n_worlds: int, opts: dict[str, Any]) -> int:
    """Per world of the regime, the touchpoints whose point curve under the family mixture is of
    another family than the default fit's, and how many of them move to / away from the true
    family; summed over the worlds."""
    tally = {"touchpoints": 0, "switched": 0, "to truth": 0, "away from truth": 0, "neither": 0}
    moves: dict[tuple[str, str], int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        cases = regime_cases(regime, n_tp, False, Path(tmp))
        for c in cases[: n_worlds or None]:
            base = fit_with_options(c.history, {"seed": SEED, "n_bootstrap": 0})
            fam = fit_with_options(
                c.history, {"seed": SEED, "n_bootstrap": 0, **opts, "average_families": True}
            )
            for tid, ttp in c.truth.touchpoints.items():
                a, b = base.touchpoints[tid].curve.family, fam.touchpoints[tid].curve.family
                tally["touchpoints"] += 1
                if a == b:
                    continue
                tally["switched"] += 1
                t = ttp.curve.family
                key = "to truth" if b == t else "away from truth" if a == t else "neither"
                tally[key] += 1
                moves[(a, b)] = moves.get((a, b), 0) + 1
            print(f"{c.name}: {tally}", flush=True)
    print(f"\n{regime}, {n_tp} tp, {len(cases[: n_worlds or None])} worlds: {tally}")
    print(
        "moves (default -> mixture): "
        + ", ".join(f"{a} -> {b}: {k}" for (a, b), k in sorted(moves.items()))
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--fit-option",
        action="append",
        default=[],
        metavar="NAME=JSON",
        help="fit_model option or @module.NAME=JSON constant (as fit_recovery.py's); "
        "average_families=true is always set",
    )
    ap.add_argument(
        "--regime",
        choices=("low", "high", "flighted"),
        help="instead of mmm_example: on this regime's simulated worlds (fit_dev.py's), how "
        "often the mixture's point curve leaves the default fit's family, and whether to the "
        "true family",
    )
    ap.add_argument("--touchpoints", type=int, default=8)
    ap.add_argument("--worlds", type=int, default=0, help="first N worlds only (0: all)")
    args = ap.parse_args(argv)
    try:
        opts = parse_options(args.fit_option)
    except ValueError as exc:
        ap.error(str(exc))
    if args.regime:
        return switches(args.regime, args.touchpoints, args.worlds, opts)
    tap: dict[str, Any] = {}
    mixture, point = FA.family_mixture, PC.posterior_mean_point

    def tap_mixture(fit: Any, data: Any) -> Any:
        tap["fit"], tap["data"] = fit, data
        tap["mix"] = mixture(fit, data)
        return tap["mix"]

    def tap_point(fit: Any, draws: Any, data: Any, *a: Any, **kw: Any) -> Any:
        tap["draws"], tap["draw_families"] = draws, kw.get("draw_families")
        tap["point"] = point(fit, draws, data, *a, **kw)
        return tap["point"]

    with tempfile.TemporaryDirectory() as tmp:
        case = mmm_example_case(Path(tmp))
        FA.family_mixture, PC.posterior_mean_point = tap_mixture, tap_point  # type: ignore[assignment]
        try:
            fit_with_options(
                case.history,
                {"seed": SEED, "n_bootstrap": N_BOOTSTRAP, **opts, "average_families": True},
            )
        finally:
            FA.family_mixture, PC.posterior_mean_point = mixture, point  # type: ignore[assignment]
    fit, data, (mix, _) = tap["fit"], tap["data"], tap["mix"]
    draws, dfams, pt = tap["draws"], tap["draw_families"], tap["point"]
    if dfams is None:  # MIXTURE_POINT="unmixed": the point curves' draws are the MAP family's
        dfams = [list(fit.families)] * len(draws)
    p, _ = problem_at_map(fit, data)
    ids = list(case.truth.touchpoints)
    print(
        f"{case.name}: noise sd {p.sigma:.1f}, prior centre {p.rel_centre}; "
        f"{', '.join(f'{k}={v!r}' for k, v in opts.items()) or 'default options'}"
    )
    print("-2 ln ML = chi2 + prior + occam (log det posterior - log det prior precision)")
    for j, tp in enumerate(p.tps):
        tid, x = ids[j], data.xs[j]
        m, h = float(x.mean()), 1e-4 * float(x.mean())
        at = np.array([m - h, m, m + h])
        truth = case.truth.touchpoints[tid]
        tr, tm = float(truth.weekly_kpi(m)) / m, float(truth.weekly_marginal(m))
        on = float(np.mean(x > 0))
        print(
            f"\n{tid}: mean weekly spend {m:.4f} (max {float(x.max()):.4f}, on {on:.0%} of the "
            f"weeks); truth {truth.curve.family}: ROAS {tr:,.0f}, mROAS {tm:,.0f}; MAP "
            f"{fit.families[j]} {np.round(fit.theta[j], 3)} beta {float(fit.beta[j]):,.0f}"
        )
        weights = {f: c[1] for f, c in mix[j].items()}
        lines = []
        for fam in J.FAMILIES:
            trial = list(p.tps)
            trial[j] = replace(tp, family=fam)
            q = replace(p, tps=trial)
            th = list(fit.theta)
            th[j] = np.asarray(convert(fit.theta[j], tp.family, fam))
            sol = J.fit(q, th, free=[j], max_nfev=50)
            lml = J.log_ml_local(q, sol, j)
            t = _terms(q, sol, j)
            mean_ad = float(J.columns(q.tps, sol.theta).mean_ad[j])
            r, mr = _roas(_steady(fam, sol.theta[j], float(sol.inner.w[j]), mean_ad, at), m, h)
            lines.append(
                f"  {fam:<11} weight {weights.get(fam, 0.0):.3f}  -2lnML {lml:7.2f} = "
                f"{t['chi2']:.2f} + {t['prior']:.2f} + {t['occam']:.2f}  transforms "
                f"{np.round(sol.theta[j], 3)} beta {float(sol.inner.w[j]):,.0f}: ROAS {r:,.0f} "
                f"({r / tr - 1:+.1%}), mROAS {mr:,.0f} ({mr / tm - 1:+.1%})"
            )
        print("\n".join(lines))
        counts = {f: sum(1 for b in dfams if b[j] == f) for f in sorted(set(b[j] for b in dfams))}

        def target(g: np.ndarray, j: int = j, x: np.ndarray = x) -> np.ndarray:
            """The mean over the point curves' draws of touchpoint ``j``'s steady state."""
            out = np.zeros_like(g)
            for b, (th_b, b_b) in enumerate(draws):
                f_b = dfams[b][j]
                m_b = float(CC.geometric_adstock(x, float(th_b[j][0])).mean()) or 1.0
                out += _steady(f_b, th_b[j], float(b_b[j]), m_b, g)
            return out / len(draws)

        r, mr = _roas(target(at), m, h)
        print(
            f"  mean over the point curves' {len(draws)} draws ({counts}): ROAS {r:,.0f} "
            f"({r / tr - 1:+.1%}), mROAS {mr:,.0f} ({mr / tm - 1:+.1%})"
        )
        f, th = pt.families[j], pt.theta[j]
        pv = _steady(f, th, float(pt.beta[j]), float(pt.mean_ad[j]), at)
        r, mr = _roas(pv, m, h)
        print(
            f"  point curve ({f}, matched to that mean): ROAS {r:,.0f} ({r / tr - 1:+.1%}), "
            f"mROAS {mr:,.0f} ({mr / tm - 1:+.1%})"
        )
        grid = PC.POINT_SPEND_GRID * float(x.max())
        sel = slice(None, None, 3)
        print("  spend / max " + " ".join(f"{v:6.2f}" for v in PC.POINT_SPEND_GRID[sel]))
        print("  truth       " + " ".join(f"{float(truth.weekly_kpi(v)):6,.0f}" for v in grid[sel]))
        print("  draws' mean " + " ".join(f"{v:6,.0f}" for v in target(grid)[sel]))
        curve = _steady(f, th, float(pt.beta[j]), float(pt.mean_ad[j]), grid)
        print("  point curve " + " ".join(f"{v:6,.0f}" for v in curve[sel]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
