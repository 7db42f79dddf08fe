"""PyMC-Marketing's ``mmm_example``: steady-state ROAS and marginal ROAS at each channel's mean
weekly spend, fitted against the truth, with the 90% band (5th-95th percentile) of the fit's draws.

Run from the project root::

    .venv/bin/python benchmarks/mmm_example_bands.py             # the default fitter, 200 draws
    .venv/bin/python benchmarks/mmm_example_bands.py --method grid

Issue 13's target: mean absolute error of the four (two channels x steady-state ROAS and marginal
ROAS) at most 10%, the truth inside the 90% band for both channels. The data set is read exactly as
``fit_recovery.py`` reads it (only the columns a user would have); the truth is its
``true_model.json``. Seeded; the exit code is 0 whatever the verdict (a measurement).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fit_recovery as fr  # noqa: E402  (the benchmarks folder is not a package)

from optimizer.response.fit import fit_model  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--method", default="map", choices=("map", "grid"))
    ap.add_argument("--draws", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    case = fr.mmm_example_case(Path(tempfile.mkdtemp()))
    t0 = time.perf_counter()
    model = fit_model(case.history, seed=args.seed, n_bootstrap=args.draws, method=args.method)
    seconds = time.perf_counter() - t0
    print(
        f"mmm_example, fit_model(method={args.method!r}, n_bootstrap={args.draws}, "
        f"seed={args.seed}): {seconds:.1f} s"
    )
    print(
        f"{'channel':8} {'quantity':22} {'true':>8} {'fitted':>8} {'error':>8}   90% band of the draws   inside"
    )
    errors: list[float] = []
    inside: list[bool] = []
    for tid, truth in case.truth.touchpoints.items():
        tp = model.touchpoints[tid]
        x = float(case.history.spend[tid].mean())
        draws = tp.draw_responses()
        for name, f in (
            ("steady-state ROAS", lambda r, x=x: float(r.weekly_kpi(x)) / x),
            ("marginal ROAS", lambda r, x=x: float(r.weekly_marginal(x))),
        ):
            true, fit = f(truth), f(tp)
            lo, hi = np.percentile([f(r) for r in draws], [5.0, 95.0])
            errors.append(abs(fit / true - 1.0))
            inside.append(bool(lo <= true <= hi))
            print(
                f"{tid:8} {name:22} {true:8,.0f} {fit:8,.0f} {fit / true - 1:+8.1%}   "
                f"{lo:8,.0f} to {hi:8,.0f}   {'yes' if inside[-1] else 'NO'}"
            )
    mae = float(np.mean(errors))
    print(
        f"mean absolute error {mae:.1%} (target <= 10%: {'met' if mae <= 0.10 else 'missed'}); "
        f"truth inside the 90% band {sum(inside)} of {len(inside)} "
        f"({'met' if all(inside) else 'missed'})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
