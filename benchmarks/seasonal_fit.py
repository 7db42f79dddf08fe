"""Seasonal effectiveness in ``fit`` (issue 15, step 5): how often the season of the media effect
is found, how well, and what it is worth to a plan on a calendar, on simulated worlds with a known
season (``_seasonal_world.py``).

Run from the project root::

    .venv/bin/python benchmarks/seasonal_fit.py            # 6 seeds per regime
    .venv/bin/python benchmarks/seasonal_fit.py --seeds 2  # quicker

Regimes: no season (amplitude 0: a season found is a false positive), a shared season of ±20% and
of ±40%, and ±40% with each touchpoint's season peaking elsewhere. Each world: 4 touchpoints, 4
years, spend CV 0.8 with dark spells, noise 2% of the KPI. Per world: the fit (no draws), the
variant chosen, the correlation of each touchpoint's fitted multipliers with its true ones
(touchpoints the model gives a season), and three plans of the next 52 weeks by month at the
history's mean spend rate, all valued on the TRUE curves with the TRUE season: on the fitted model
with its season, on the fitted model without it (the baseline, run in the same process), and on
the truth itself (the oracle). Printed: the gain of the first over the baseline, and the share of
the oracle's timing gain (oracle − baseline) it captures. The exit code is 0 whatever the verdicts.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _seasonal_world import seasonal_world  # noqa: E402

from optimizer.allocate import allocate  # noqa: E402
from optimizer.allocate.phased import phased_problem, plan_kpi  # noqa: E402
from optimizer.io.history import read_history  # noqa: E402
from optimizer.io.journey import read_journey  # noqa: E402
from optimizer.response.fit import fit_model  # noqa: E402
from optimizer.response.model import read_model  # noqa: E402
from optimizer.scenario import load_scenario  # noqa: E402

REGIMES = (
    ("none", 0.0, False),
    ("shared ±20%", 0.2, False),
    ("shared ±40%", 0.4, False),
    ("per touchpoint ±40%", 0.4, True),
)


def with_season(model, season: dict[str, np.ndarray] | None):
    tps = {
        k: dataclasses.replace(
            v,
            effectiveness=None
            if season is None
            else tuple(float(x) for x in season.get(k, np.ones(52))),
        )
        for k, v in model.touchpoints.items()
    }
    return dataclasses.replace(model, touchpoints=tps)


def one(root: Path, amplitude: float, per_tp: bool, seed: int) -> dict:
    files, truth = seasonal_world(root, amplitude, seed, per_touchpoint=per_tp)
    h = read_history(files["history"], read_journey(files["journey"]))
    t0 = time.perf_counter()
    model = fit_model(h, seed=0, n_bootstrap=0)
    fit_s = time.perf_counter() - t0
    diag = model.diagnostics["seasonal_effectiveness"]
    corr = [
        float(np.corrcoef(np.array(tp.effectiveness), truth[tid])[0, 1])
        for tid, tp in model.touchpoints.items()
        if tp.effectiveness is not None and amplitude > 0
    ]
    tm = read_model(files["true_model"])
    true_seasonal = with_season(tm, truth)
    budget = 52 * sum(float(v.spend_range["mean"]) for v in tm.touchpoints.values())
    sc_file = root / "year.yaml"
    sc_file.write_text(
        yaml.safe_dump(
            {
                "name": "year",
                "model": str(files["true_model"]),
                "start": "2026-01-05",
                "horizon_weeks": 52,
                "phasing": "month",
                "budget": round(budget, 2),
            }
        )
    )
    sc = load_scenario(sc_file)
    judge = phased_problem(sc, true_seasonal)

    def value(plan) -> float:
        X = np.array([[p.spend for p in li.periods] for li in plan.line_items])
        weekly, after = plan_kpi(judge, X)
        return float(weekly.sum() + after.sum())

    fitted = value(allocate(sc, model))
    base = value(allocate(sc, with_season(model, None)))
    oracle = value(allocate(sc, true_seasonal))
    return {
        "chosen": diag["chosen"],
        "corr": corr,
        "gain": fitted / base - 1.0,
        "captured": (fitted - base) / (oracle - base) if oracle - base > 1e-9 * base else None,
        "oracle_gain": oracle / base - 1.0,
        "fit_s": fit_s,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=6)
    args = ap.parse_args()
    print("# seasonal effectiveness in fit: found, how well, and its worth to a monthly plan")
    print(
        "| regime | worlds | seasonal chosen | variants | corr. fitted/true (min, median) "
        "| plan gain over the plan without the season (mean, min) | oracle's gain (mean) "
        "| share of the oracle's gain captured (median) | fit s (mean) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for name, amp, per_tp in REGIMES:
            rows = [
                one(Path(tmp) / f"{name}-{s}".replace(" ", "_"), amp, per_tp, s)
                for s in range(args.seeds)
            ]
            chosen = [r["chosen"] for r in rows]
            seasonal = sum(c != "flat" for c in chosen)
            corr = [c for r in rows for c in r["corr"]]
            gains = [r["gain"] for r in rows]
            cap = [r["captured"] for r in rows if r["captured"] is not None]
            kinds = ", ".join(f"{k} {chosen.count(k)}" for k in sorted(set(chosen)))
            print(
                f"| {name} | {len(rows)} | {seasonal} | {kinds} | "
                + (f"{min(corr):.3f}, {float(np.median(corr)):.3f}" if corr else "–")
                + f" | {100 * np.mean(gains):+.2f}%, {100 * min(gains):+.2f}% | "
                f"{100 * np.mean([r['oracle_gain'] for r in rows]):+.2f}% | "
                + (f"{100 * float(np.median(cap)):.0f}%" if cap else "–")
                + f" | {np.mean([r['fit_s'] for r in rows]):.1f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
