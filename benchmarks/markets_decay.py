"""Each touchpoint's carry-over pooled across markets inside ``fit --by-market`` (``--share-decay``),
against each market's own decay, on simulated multi-market worlds with known truth.

Run from the project root::

    nice -n 10 .venv/bin/python benchmarks/markets_decay.py --seeds 0:4
    nice -n 10 .venv/bin/python benchmarks/markets_decay.py --regimes sim-differ --seeds 0:4

Every world is fitted by ``fit_and_write(..., by_market=True)`` (the CLI's path, in-process, with
``--pool`` as by default) once per ``--methods`` entry (``off``: each market's own decay, the
baseline; ``pooled``: the markets' spread of the decay by empirical Bayes; ``shared``: one decay).
Regimes (``--regimes``; every touchpoint's true decay uniform in 0-0.8 and the same in every
market unless the regime's name ends in ``differ``):

* ``sim-high`` / ``sim-low``: ``_markets_world.market_world`` (``optimizer.simulate``'s curves,
  always-on spend, additive seasonality), noise 3% / 10% of a market's KPI (more in small
  markets), spend CV 0.8 / 0.4, 156 / 104 weeks;
* ``hi-high`` / ``hi-low``: ``_markets_world.high_market_world`` (``_high_worlds``' generator:
  flighted log-normal spend, multiplicative baseline with a price control), noise 3% / 8%,
  156 / 104 weeks;
* ``sim-differ`` / ``hi-differ``: as ``sim-high`` / ``hi-high`` with each market's decay the
  nation's plus U(-0.3, 0.3) (the markets' carry-overs differ: the sharing must not do harm).

Printed per regime and method, against ``off`` run in the same process: the decay's mean absolute
error (and mean signed error) by bucket of the true decay; each market's marginal ROI at its mean
weekly spend, the median and mean of |log(fitted / true)|; the uplift over the historical split
captured by the markets planner's plan on the fitted curves, valued on the true curves (same
budget, no rules): pooled capture (sum of uplifts over the sum of the achievable), mean and worst
world; and the fit's wall time. Exit code 0 whatever the numbers: a measurement.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _markets_world import high_market_world, market_world  # noqa: E402

from optimizer.allocate import allocate  # noqa: E402
from optimizer.response.markets import MarketModel  # noqa: E402
from optimizer.scenario import scenario_from_dict  # noqa: E402

H = 13
BUCKETS = ((0.0, 0.2), (0.2, 0.4), (0.4, 0.6), (0.6, 0.9))
REGIMES: dict[str, tuple[Any, dict[str, Any]]] = {
    "sim-high": (
        market_world,
        {"decays": (0.0, 0.8), "noise_sd": 0.03, "spend_cv": 0.8, "n_weeks": 156},
    ),
    "sim-low": (
        market_world,
        {"decays": (0.0, 0.8), "noise_sd": 0.10, "spend_cv": 0.4, "n_weeks": 104},
    ),
    "hi-high": (high_market_world, {"noise_sd": 0.03, "n_weeks": 156}),
    "hi-low": (high_market_world, {"noise_sd": 0.08, "n_weeks": 104}),
    "sim-differ": (
        market_world,
        {"decays": (0.0, 0.8), "noise_sd": 0.03, "spend_cv": 0.8, "decay_spread": 0.3},
    ),
    "hi-differ": (high_market_world, {"noise_sd": 0.03, "decay_spread": 0.3}),
}


def _load() -> str:
    try:
        return " / ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:  # pragma: no cover
        return "?"


def _kpi_on_truth(truth: dict, spend: dict[tuple[str, str], float]) -> float:
    return float(
        sum(H * float(truth[m].touchpoints[t].weekly_kpi(s / H)) for (m, t), s in spend.items())
    )


def _plan(models: dict, budget: float, d: Path) -> dict[tuple[str, str], float]:
    sc = scenario_from_dict(
        {"name": "w", "model": "x", "horizon_weeks": H, "budget": budget},
        source=str(d / "s.yaml"),
    )
    plan = allocate(sc, MarketModel("revenue", models))
    assert plan.ok, plan.message
    return {(li.market, li.id): li.spend for li in plan.line_items}


def _fit(d: Path, method: str, bootstrap: int) -> tuple[dict, float]:
    from optimizer.app.fitting import fit_and_write

    t0 = time.perf_counter()
    models = fit_and_write(
        d / "journey.yaml",
        d / "history.csv",
        d / f"models-{method}",
        by_market=True,
        bootstrap=bootstrap,
        quiet=True,
        share_decay=method,
    )
    return models, time.perf_counter() - t0


def measure(regime: str, seeds: range, methods: list[str], n_m: int, n_t: int, boot: int) -> None:
    import yaml

    from optimizer.workflow.pooling import marginal_effect

    gen, params = REGIMES[regime]
    print(
        f"\n## {regime}: {gen.__name__}({n_m} markets, {n_t} touchpoints, {params}), seeds "
        f"{seeds.start}:{seeds.stop}, bootstrap {boot}; load {_load()}",
        flush=True,
    )
    dec: dict[str, list[tuple[float, float]]] = {m: [] for m in methods}
    roi: dict[str, list[float]] = {m: [] for m in methods}
    cap: dict[str, list[tuple[float, float]]] = {m: [] for m in methods}
    secs: dict[str, float] = dict.fromkeys(methods, 0.0)
    for seed in seeds:
        w = gen(n_m, n_t, seed=1000 + seed, **params)
        truth = w.truth_models()
        true_decay = w.decays()
        hist = {k: H * v for k, v in w.mean_spends().items()}
        budget = round(sum(hist.values()), -2)
        with tempfile.TemporaryDirectory() as dd:
            d = Path(dd)
            w.history().to_csv(d / "history.csv", index=False)
            (d / "journey.yaml").write_text(yaml.safe_dump(w.journey(), sort_keys=False))
            k_hist = _kpi_on_truth(truth, hist)
            k_opt = _kpi_on_truth(truth, _plan(truth, budget, d))
            line = [f"world {seed}: decays {sorted({round(v, 2) for v in true_decay.values()})}"]
            for method in methods:
                models, s = _fit(d, method, boot)
                secs[method] += s
                for (m, t), true in true_decay.items():
                    tp = models[m].touchpoints[t]
                    fitted = tp.adstock.decay if tp.adstock is not None else 0.0
                    dec[method].append((true, fitted))
                    ms = float(tp.spend_range["mean"])
                    est = marginal_effect(tp, ms)
                    tr = marginal_effect(truth[m].touchpoints[t], ms)
                    roi[method].append(abs(float(np.log(max(est, 1e-3 * tr) / tr))))
                k = _kpi_on_truth(truth, _plan(models, budget, d))
                cap[method].append((k - k_hist, k_opt - k_hist))
                line.append(f"{method} capture {(k - k_hist) / (k_opt - k_hist):6.1%}")
        print("; ".join(line), flush=True)
    base = methods[0]
    print("decay error by bucket of the true decay (mean |fitted - true|, mean signed; n):")
    for lo, hi in BUCKETS:
        cells = []
        for method in methods:
            e = [(f - t) for t, f in dec[method] if lo <= t < hi]
            if not e:
                continue
            cells.append(f"{method} {np.mean(np.abs(e)):.3f} ({np.mean(e):+.3f})")
        b = [abs(f - t) for t, f in dec[base] if lo <= t < hi]
        ratios = [
            f"{m}/{base} {np.mean([abs(f - t) for t, f in dec[m] if lo <= t < hi]) / np.mean(b):.2f}"
            for m in methods[1:]
            if b and np.mean(b) > 0
        ]
        print(f"  true {lo:.1f}-{hi:.1f} (n {len(b)}): " + ", ".join(cells + ratios))
    for label, fn in (("all", lambda t: True), ("true >= 0.6", lambda t: t >= 0.6)):
        b = np.mean([abs(f - t) for t, f in dec[base] if fn(t)] or [np.nan])
        print(
            f"  {label}: "
            + ", ".join(
                f"{m} {np.mean([abs(f - t) for t, f in dec[m] if fn(t)] or [np.nan]):.3f}"
                + (
                    f" ({np.mean([abs(f - t) for t, f in dec[m] if fn(t)]) / b:.2f}x)"
                    if m != base
                    else ""
                )
                for m in methods
            )
        )
    print("marginal ROI at each market's mean spend, |log(fitted / true)| median / mean:")
    for method in methods:
        r = np.array(roi[method])
        rb = np.array(roi[base])
        print(
            f"  {method}: {np.median(r):.3f} / {np.mean(r):.3f}"
            + (f" (mean ratio to {base} {np.mean(r) / np.mean(rb):.2f})" if method != base else "")
        )
    print("capture of the achievable uplift (plan on the fitted curves, valued on the truth):")
    for method in methods:
        c = cap[method]
        pooled = sum(a for a, _ in c) / sum(b for _, b in c)
        each = [a / b for a, b in c]
        cb = cap[base]
        pb = sum(a for a, _ in cb) / sum(b for _, b in cb)
        print(
            f"  {method}: pooled {pooled:.1%}, mean {np.mean(each):.1%}, worst {min(each):.1%}"
            + (
                f"; pooled - {base} {pooled - pb:+.1%}, better in "
                f"{sum(a / b > x / y for (a, b), (x, y) in zip(c, cb, strict=True))} of {len(c)}"
                if method != base
                else ""
            )
            + f"; fit {secs[method]:.0f} s"
            + (f" ({secs[method] / secs[base]:.2f}x)" if method != base else "")
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--regimes", default="sim-high,sim-low,hi-high,hi-low,sim-differ")
    ap.add_argument("--seeds", default="0:4", help="START:STOP (worlds 1000+START..)")
    ap.add_argument("--methods", default="off,pooled,shared")
    ap.add_argument("--markets", type=int, default=4)
    ap.add_argument("--touchpoints", type=int, default=6)
    ap.add_argument("--bootstrap", type=int, default=4)
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a constant of optimizer.response.shared_decay for this run (e.g. PRIOR_SUMMARY=moments)",
    )
    a = ap.parse_args()
    from optimizer.response import shared_decay as SD

    for kv in a.set:
        name, value = kv.split("=", 1)
        old = getattr(SD, name)
        setattr(SD, name, type(old)(value))
        print(f"shared_decay.{name} = {value!r} (default {old!r})")
    lo, hi = (int(v) for v in a.seeds.split(":"))
    print(f"markets_decay.py: load {_load()}, python {sys.version.split()[0]}")
    for regime in a.regimes.split(","):
        measure(regime, range(lo, hi), a.methods.split(","), a.markets, a.touchpoints, a.bootstrap)


if __name__ == "__main__":
    main()
