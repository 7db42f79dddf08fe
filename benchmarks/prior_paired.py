"""fit_dev.py's side-by-side with the variants paired world by world against the first one: for
the plan of ``optimize --robust auto`` (the default; fit_dev's ``--auto`` is implied), each
variant's pooled capture, the mean and standard error over the worlds of its difference from the
first variant (each world's share of the pooled capture, so the mean is the pooled difference
exactly), the worlds where it wins and loses, the worlds below the historical mix by more than
0.5% of the KPI and the 80%-interval coverage of the true marginal ROI; and, for
``rel_prior="shared"``, how often each half-saturation prior factor was chosen. Every fit_dev.py
option works here (``--variant``, ``--regime``, ``--seeds``, ``--worlds``...).

    .venv/bin/python benchmarks/prior_paired.py --regime low --touchpoints 8 \\
        --variant base: --variant r2:@joint.PRIOR_LOG_REL_SD=0.6931
"""

from __future__ import annotations

import math
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fit_dev  # noqa: E402
from _regimes import HARM  # noqa: E402

from optimizer.response import relprior  # noqa: E402


def shares(rs: Sequence[dict[str, Any]]) -> np.ndarray:
    """Each world's auto plan uplift over the historical mix (share of its KPI), scaled so the
    mean over the worlds is the pooled capture."""
    den = sum((r["auto"][0].optimal - r["auto"][0].historical) / r["auto"][0].kpi_total for r in rs)
    return np.array(
        [
            len(rs) * (r["auto"][0].fitted - r["auto"][0].historical) / r["auto"][0].kpi_total / den
            for r in rs
        ]
    )


def paired(res: dict[str, list[dict[str, Any]]]) -> None:
    """Print every variant against the first, world by world (module docstring)."""
    names = list(res)
    base = shares(res[names[0]])
    print(
        f"\npaired against {names[0]} (--robust auto): {'variant':<10} {'pooled':>7} "
        f"{'diff':>7} {'+-se':>6} {'wins':>4} {'losses':>6} {'below':>5} {'mROI cov':>8}"
    )
    for v in names:
        rs = res[v]
        s = shares(rs)
        d = s - base
        se = float(np.std(d, ddof=1) / math.sqrt(len(d))) if len(d) > 1 else float("nan")
        below = sum(
            (r["auto"][0].fitted - r["auto"][0].historical) / r["auto"][0].kpi_total < -HARM
            for r in rs
        )
        cov = [f for r in rs for f in r["cov"] if f is not None]
        print(
            f"{'':<36}{v:<10} {float(np.mean(s)):7.1%} {float(np.mean(d)):+7.1%} {se:6.1%} "
            f"{int(np.sum(d > 1e-4)):4d} {int(np.sum(d < -1e-4)):6d} {below:5d} "
            f"{float(np.mean(cov)) if cov else float('nan'):8.1%}"
        )
    print("per world (auto capture): " + " ".join(f"{r['name']}" for r in res[names[0]]))
    for v in names:
        print(f"  {v:<10} " + " ".join(f"{r['auto'][0].captured:6.1%}" for r in res[v]))


def main(argv: Sequence[str] | None = None) -> int:
    out: dict[str, list[dict[str, Any]]] = {}
    run = fit_dev.run
    chosen: Counter[str] = Counter()  # rel_prior="shared": the factor exp(sd) each choice took
    choose = relprior.choose

    def counted(*a: Any, **k: Any) -> Any:
        q, sol, info = choose(*a, **k)
        if info:
            chosen[f"{info['factor']:g}"] += 1
        return q, sol, info

    def keep(*a: Any, **k: Any) -> dict[str, list[dict[str, Any]]]:
        out.update(run(*a, **k))
        return out

    fit_dev.run = keep
    relprior.choose = counted
    argv = list(sys.argv[1:] if argv is None else argv)
    rc = fit_dev.main([*argv, "--auto"] if "--auto" not in argv else argv)
    paired(out)
    if chosen:  # one choice per training fit (per carry-in level tried)
        print(
            "rel_prior='shared', the half-saturation prior's factor chosen (training fits): "
            + ", ".join(f"{k}: {v}" for k, v in sorted(chosen.items(), key=lambda t: float(t[0])))
        )
    return rc


if __name__ == "__main__":
    raise SystemExit(main())
