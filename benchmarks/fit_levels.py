"""How much do better marginal ROIs at the mean spend buy, and which estimate of them? An offline
look at the effect sizes behind the plans (a dev tool for ``logpool.py``; ``fit_recovery.py`` is
the benchmark of record).

Per world of a regime (the benchmark's worlds and seed) the default fit is made once, with the
history's Laplace likelihood of each pooled touchpoint's marginal response at its mean spend
(``logpool.gamma_likelihood``: centre and covariance, at the MAP transforms, without the pooling
rows) kept. Then, for each *estimator* of the marginal ROIs, every point curve of that fit is
rescaled to the estimate at its mean spend (its shape kept) and the 13-week plan on them is valued
on the true curves (``decision_regret``). Estimators:

- ``base``: the fit's own point curves (the linear pooling);
- ``true``: the true marginal ROIs (the ceiling of this lever);
- ``log``: the log-normal hierarchy of ``pool_space="log"`` (``logpool.posterior_marginal_roi``),
  with ``log:tau_scale=V`` another half-normal scale for ``tau``;
- ``log:oracle=lam|tau|both``: the hierarchy told the true level (``lambda``: the mean of the true
  log marginal ROIs) and/or spread (``tau``: their sd) of the world;
- ``cut``: no pooling, each touchpoint's mean of its likelihood cut at zero.

It also prints how well the likelihood is calibrated: ``z = (estimate - truth) / sd``.

    .venv/bin/python benchmarks/fit_levels.py --regime low --touchpoints 8 \\
        --estimator base --estimator true --estimator log --estimator log:oracle=both
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
from scipy.stats import norm

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _fit_cases import SEED, regime_cases  # noqa: E402
from _fit_measure import decision_regret  # noqa: E402
from _regimes import HARM, pooled_capture  # noqa: E402

from optimizer.response import logpool as LP  # noqa: E402
from optimizer.response.fit import fit_model  # noqa: E402


def collect(case: Any) -> dict[str, Any]:
    """The default fit of ``case`` and the likelihood ``logpool`` sees (captured, not applied)."""
    seen: dict[str, Any] = {}

    def capture(point: Any, at_map: Any, data: Any, draws: Any = None) -> Any:
        seen["lik"] = LP.gamma_likelihood(at_map, data)
        seen["xs"] = data.xs
        return point, [], {}

    orig = LP.rescale_points
    LP.rescale_points = capture  # type: ignore[assignment]
    try:
        model = fit_model(case.history, seed=SEED, n_bootstrap=0, pool_space="log")
    finally:
        LP.rescale_points = orig  # type: ignore[assignment]
    spend = case.history.spend
    idx, g, S = seen["lik"]
    ids = [
        next(t for t in spend.columns if np.array_equal(spend[t].to_numpy(float), seen["xs"][j]))
        for j in idx
    ]
    xbar = np.array([float(spend[t].mean()) for t in ids])
    true = np.array(
        [
            float(case.truth.touchpoints[t].weekly_marginal(x))
            for t, x in zip(ids, xbar, strict=True)
        ]
    )
    fitted = np.array(
        [float(model.touchpoints[t].weekly_marginal(x)) for t, x in zip(ids, xbar, strict=True)]
    )
    return {
        "ids": ids,
        "g": g,
        "S": S,
        "xbar": xbar,
        "true": true,
        "fitted": fitted,
        "model": model,
    }


def estimate(spec: str, d: dict[str, Any]) -> np.ndarray:
    name, _, rest = spec.partition(":")
    opts = dict(item.split("=") for item in filter(None, rest.split(",")))
    if name == "base":
        return np.asarray(d["fitted"])
    if name == "true":
        return np.asarray(d["true"])
    g, S, xbar = d["g"], d["S"], d["xbar"]
    if name == "cut":
        sd = np.sqrt(np.diag(S))
        return np.asarray((g * norm.cdf(g / sd) + sd * norm.pdf(g / sd)) / xbar)
    saved = (LP.TAU_SCALE, LP.LAMBDA_GRID, LP.TAU_GRID)
    try:
        LP.TAU_SCALE = float(opts.get("tau_scale", LP.TAU_SCALE))
        oracle = opts.get("oracle", "")
        lt = np.log(d["true"])
        if oracle in ("lam", "both"):
            pos = g > 0
            c0 = float(np.median(np.log(g[pos] / xbar[pos]))) if pos.any() else 0.0
            LP.LAMBDA_GRID = np.array([float(lt.mean()) - c0])
        if oracle in ("tau", "both"):
            LP.TAU_GRID = np.array([max(float(lt.std()), 0.01)])
        return LP.posterior_marginal_roi(g, S, xbar)[0]
    finally:
        LP.TAU_SCALE, LP.LAMBDA_GRID, LP.TAU_GRID = saved


def rescaled(d: dict[str, Any], m: np.ndarray) -> Any:
    model = d["model"]
    tps = dict(model.touchpoints)
    for t, f, v in zip(d["ids"], d["fitted"], m, strict=True):
        tp = tps[t]
        if f > 0 and math.isfinite(float(v)):
            params = {**tp.curve.params, "beta": tp.curve.beta * float(v) / f}
            tps[t] = replace(tp, curve=replace(tp.curve, params=params), draws=())
    return replace(model, touchpoints=tps)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--regime", choices=("low", "high"), default="low")
    ap.add_argument("--touchpoints", type=int, default=8)
    ap.add_argument("--worlds", type=int, default=0, help="first N worlds only (0: all)")
    ap.add_argument("--estimator", action="append", default=[], help="name[:opt=v,...]")
    args = ap.parse_args(argv)
    specs = args.estimator or ["base", "true", "log"]
    with tempfile.TemporaryDirectory() as tmp:
        cases = regime_cases(args.regime, args.touchpoints, False, Path(tmp))
        if args.worlds:
            cases = cases[: args.worlds]
        print(f"{args.regime}, {args.touchpoints} tp: {len(cases)} worlds", flush=True)
        res: dict[str, list[tuple[Any, float]]] = {s: [] for s in specs}
        z: list[float] = []
        rel: list[float] = []
        spread: list[float] = []
        for c in cases:
            d = collect(c)
            sd = np.sqrt(np.diag(d["S"])) / d["xbar"]
            z += list((d["g"] / d["xbar"] - d["true"]) / sd)
            rel += list(sd / d["true"])
            spread.append(float(np.std(np.log(d["true"]))))
            line = [f"{c.name:24s}"]
            for s in specs:
                m = estimate(s, d)
                g = decision_regret(c, rescaled(d, m))
                err = float(np.mean(np.abs(np.log(np.maximum(m, 1e-9) / d["true"]))))
                res[s].append((g, err))
                line.append(f"{s} {g.captured:7.1%}")
            print("  ".join(line), flush=True)
    za = np.array(z)
    print(
        f"\nlikelihood: {za.size} touchpoints, z mean {za.mean():+.2f} sd {za.std():.2f}, "
        f"|z| < 1.28 for {np.mean(np.abs(za) < 1.2816):.0%}; median sd / true marginal ROI "
        f"{np.median(rel):.2f}; true log marginal ROI sd within a world {np.mean(spread):.2f}"
    )
    print(
        f"\n{'estimator':<24} {'pooled':>7} {'below':>5} {'worst vs hist':>13} {'mean |log err|':>14}"
    )
    for s in specs:
        rs = res[s]
        vs = [(g.fitted - g.historical) / g.kpi_total for g, _ in rs]
        print(
            f"{s:<24} {pooled_capture([g for g, _ in rs], lambda g: g):7.1%} "
            f"{sum(v < -HARM for v in vs):5d} {min(vs):+13.2%} {np.mean([e for _, e in rs]):14.3f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
