"""Where the Bayes oracle's gain over the least-squares oracle comes from (a dev measurement for
issue 13; ``fit_recovery.py`` reports both oracles).

Both know every world's true transforms and estimate the betas by least squares
(``_fit_measure.oracle_model``); the Bayes oracle plans on the mean KPI over 50 draws of the betas'
sampling law, cut at zero. Here, on one regime's worlds, side by side: the least-squares plan
(``ls``), the Bayes plan with 50 and 20 draws and with the law's spread x 2 (the fit's
``uncertainty_inflate``), and the plans on the point curves with each beta replaced by its exact
mean under the cut law (``mean-all``; ``mean-zero``: only the betas held at zero). With the
transforms known a curve is linear in its beta, so the mean over the draws *is* one curve per
touchpoint: what averaging adds is the cut at zero (a beta whose law reaches below zero gets
``E[max(b, 0)]``, above its least-squares value) and the draws' sampling noise.

    .venv/bin/python benchmarks/oracle_draws.py --regime low --touchpoints 8
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _fit_cases import high_case, regime_cases, world_case  # noqa: E402
from _fit_measure import decision_regret, oracle_model  # noqa: E402
from _regimes import HARM, pooled_capture  # noqa: E402

from optimizer.simulate import random_world  # noqa: E402

#: name -> (draws, inflate, mean_beta, robust)
VARIANTS: dict[str, tuple[int, float, str, bool]] = {
    "ls": (0, 1.0, "", False),
    "bayes50": (50, 1.0, "", True),
    "bayes20": (20, 1.0, "", True),
    "bayes50x2": (50, 2.0, "", True),
    "bayes20x2": (20, 2.0, "", True),
    "mean-all": (0, 1.0, "all", False),
    "mean-zero": (0, 1.0, "zero", False),
    "mean-all-x2": (0, 2.0, "all", False),
}


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--regime", choices=("low", "high", "flighted"), default="low")
    ap.add_argument("--touchpoints", type=int, default=8)
    ap.add_argument("--seeds", default="", metavar="START:STOP", help="as fit_dev.py's")
    args = ap.parse_args(argv)
    res: dict[str, list[Any]] = {v: [] for v in VARIANTS}
    with tempfile.TemporaryDirectory() as tmp:
        t, n = Path(tmp), args.touchpoints
        if args.seeds:
            a, b = (int(v) for v in args.seeds.split(":"))
            cases = [
                high_case(n, s, t, 0, args.regime)
                if args.regime in ("high", "flighted")
                else world_case(f"rw{n}-s{s}", random_world(n, seed=s), t, "holdout", n, 0)
                for s in range(a, b)
            ]
        else:
            cases = regime_cases(args.regime, n, False, t)
        print(f"{args.regime}, {n} tp: {len(cases)} worlds", flush=True)
        for c in cases:
            line = [c.name]
            for name, (d, k, mb, rob) in VARIANTS.items():
                m = oracle_model(c, d, inflate=k, mean_beta=mb)
                r = decision_regret(c, m, robust=rob)
                res[name].append(r)
                line.append(f"{name} {r.captured:7.1%}")
            print("  ".join(line), flush=True)
    print(f"\n{'plan':<12} {'pooled':>7} {'worst':>7} {'below':>5}")
    for name, rs in res.items():
        v = [(r.fitted - r.historical) / r.kpi_total for r in rs]
        print(
            f"{name:<12} {pooled_capture(rs, lambda r: r):7.1%} {min(v):+7.2%} "
            f"{sum(x < -HARM for x in v):5d}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
