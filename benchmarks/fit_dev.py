"""A quick side-by-side of fit variants on the same simulated worlds, in one process (a dev loop
for the fitter; ``fit_recovery.py`` is the benchmark of record).

Every variant fits every world with the benchmark's seed and draws; per regime it prints the
pooled capture of the plan on the point curves (and of the robust plan), the worst world against
the historical mix, how many worlds fall below it by more than 0.5% of the KPI (and the same three
for the anchored plan, ``--robust anchored``), the 80%-interval
coverage of the true marginal ROI (and steady-state ROI), the point curves' absolute relative
error of both at the mean weekly spend (mean and median over the touchpoints: the measure of
issue 13's mmm_example target), the true decay inside the draws' 80% interval, the mean fit
time, and how many fits kept a carry-in from before the history (``initial_carryover="fitted"``).
No oracles, no public data sets.

``--midstream WEEKS``: every world's history starts mid-stream, as real ones do: the world's own
spend process runs WEEKS more weeks before it, which are then dropped, so spend and carry-over
are already running at week 1 (``_fit_cases.with_carry_in``: same spend, truth, baseline and
noise, the KPI plus the carry-in; the plans are valued as without it).

    .venv/bin/python benchmarks/fit_dev.py --regime high --touchpoints 8 \\
        --variant base: --variant grid:decay_posterior='"grid"'

A variant is ``name:opt=json,opt=json`` (``name:`` alone: the defaults); ``@module.NAME=json``
among them sets a module constant of ``optimizer.response`` for that variant (e.g.
``@mapfit.PROFILE_OCCAM='"none"'``), restored after it.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _fit_cases import (  # noqa: E402
    SEED,
    high_case,
    mmm_example_case,
    regime_cases,
    world_case,
)
from _fit_measure import (  # noqa: E402
    HORIZON_WEEKS,
    ORACLE_DRAWS,
    _scenario,
    covered,
    decision_regret,
    oracle_model,
    true_value,
)
from _fit_options import fit_with_options, parse_variant  # noqa: E402
from _regimes import HARM, pooled_capture  # noqa: E402

from optimizer.simulate import random_world  # noqa: E402
from optimizer.workflow.anchored import RISK, auto_plan  # noqa: E402


def auto_regret(case: Any, model: Any, reg: Any) -> tuple[Any, str]:
    """The plan of ``optimize --robust auto`` (the default) on ``model``, as ``reg`` (the point
    plan's ``decision_regret``) with its plan and true KPI replaced, and which plan it made."""
    means = case.history.spend.mean()
    budget = HORIZON_WEEKS * float(means.sum())
    p = auto_plan(_scenario(budget, f"{case.name} auto", case), model)
    if not p.ok:
        raise RuntimeError(f"auto allocation of {case.name} failed: {p.status} {p.message}")
    spend = {li.id: float(li.spend) for li in p.line_items}
    chosen = str(p.extras["auto"]["chosen"])
    return dataclasses.replace(reg, fitted=true_value(spend, case.truth), plan_fit=spend), chosen


def decay_covered(ftp: Any, ttp: Any) -> bool | None:
    """The true decay inside the central 80% of the interval draws' decays (else the plan
    draws'; None: no draws)."""
    if not ftp.shown_draws or ttp.adstock is None:
        return None
    d = [float(a.decay) if a is not None else 0.0 for _, a in ftp.shown_draws]
    lo, hi = np.percentile(d, [10.0, 90.0])
    return bool(lo - 1e-9 <= float(ttp.adstock.decay) <= hi + 1e-9)


def run(
    cases: Sequence[Any],
    variants: Sequence[tuple[str, dict[str, Any]]],
    risks: Sequence[float] = (RISK,),
    oracle: bool = False,
    anchor_sd: bool = False,
    auto: bool = False,
) -> dict[str, list[dict[str, Any]]]:
    """Fit every case with every variant, print the per-world line and the summary; returns
    each variant's per-world results (``benchmarks/prior_paired.py`` pairs them)."""
    res: dict[str, list[dict[str, Any]]] = {v: [] for v, _ in variants}
    bayes: list[dict[str, Any]] = []
    for c in cases:
        line = [c.name]
        if oracle:  # the Bayes oracle of fit_recovery.py: true transforms, LS betas' law
            om = oracle_model(c, ORACLE_DRAWS)
            bayes.append({"name": c.name, "reg": decision_regret(c, om, robust=True)})
            line.append(f"bayes {bayes[-1]['reg'].captured:7.1%}")
        for vname, opts in variants:
            t0 = time.perf_counter()
            model = fit_with_options(c.history, {"seed": SEED, "n_bootstrap": 20, **opts})
            sec = time.perf_counter() - t0
            reg = decision_regret(c, model)
            rob = decision_regret(c, model, robust=True)
            ancs = [decision_regret(c, model, robust="anchored", risk=k) for k in risks]
            if anchor_sd:  # the rule before the shortfall: the standard deviation everywhere
                ancs += [
                    decision_regret(c, model, robust="anchored", risk=k, measure="sd")
                    for k in risks
                ]
            aut = auto_regret(c, model, reg) if auto else None
            level = model.diagnostics.get("initial_carryover", {}).get("level")
            spend = c.history.spend
            cov = []
            rcov = []
            roi_err: list[float] = []
            mroi_err: list[float] = []
            dcov = []
            derr = []
            for tid, ttp in c.truth.touchpoints.items():
                ftp = model.touchpoints[tid]
                x = float(spend[tid].mean())
                m_in, r_in = covered(ftp, ttp, x)
                roi_err.append(float(ftp.weekly_kpi(x)) / float(ttp.weekly_kpi(x)) - 1.0)
                mroi_err.append(float(ftp.weekly_marginal(x)) / float(ttp.weekly_marginal(x)) - 1.0)
                cov.append(m_in)
                rcov.append(r_in)
                dcov.append(decay_covered(ftp, ttp))
                if ttp.adstock is not None and ftp.adstock is not None:
                    derr.append(float(ftp.adstock.decay) - float(ttp.adstock.decay))
            res[vname].append(
                {
                    "name": c.name,
                    "reg": reg,
                    "rob": rob,
                    "anc": ancs[0],
                    "auto": aut,
                    "ancs": ancs,
                    "cov": cov,
                    "rcov": rcov,
                    "roi_err": roi_err,
                    "mroi_err": mroi_err,
                    "dcov": dcov,
                    "sec": sec,
                    "derr": derr,
                    "carry": level,
                }
            )
            mark = "" if level is None else f" r={level:g}"
            line.append(f"{vname} {reg.captured:7.1%} ({sec:4.1f}s{mark})")
        print("  ".join(line), flush=True)
    print(
        f"\n{'variant':<14} {'pooled':>7} {'robust':>7} {'worst vs hist':>13} {'below':>5} "
        f"{'mROI cov':>8} {'decay cov':>9} {'decay bias':>10} {'mean s':>6} "
        f"{'anchored':>8} {'worst':>7} {'below':>5} {'carry-in':>8}"
    )
    if bayes:
        vb = [(r["reg"].fitted - r["reg"].historical) / r["reg"].kpi_total for r in bayes]
        print(
            f"{'bayes oracle':<14} {pooled_capture(bayes, lambda r: r['reg']):7.1%} "
            f"{'':>7} {min(vb):+13.2%} {sum(v < -HARM for v in vb):5d}"
        )
    for vname, _ in variants:
        rs = res[vname]
        vs = [(r["reg"].fitted - r["reg"].historical) / r["reg"].kpi_total for r in rs]
        va = [(r["anc"].fitted - r["anc"].historical) / r["anc"].kpi_total for r in rs]
        cov = [f for r in rs for f in r["cov"] if f is not None]
        dcov = [f for r in rs for f in r["dcov"] if f is not None]
        derr = [e for r in rs for e in r["derr"]]
        print(
            f"{vname:<14} {pooled_capture(rs, lambda r: r['reg']):7.1%} "
            f"{pooled_capture(rs, lambda r: r['rob']):7.1%} {min(vs):+13.2%} "
            f"{sum(v < -HARM for v in vs):5d} {np.mean(cov):8.1%} "
            f"{np.mean(dcov) if dcov else float('nan'):9.1%} "
            f"{np.mean(derr) if derr else float('nan'):+10.3f} "
            f"{np.mean([r['sec'] for r in rs]):6.2f} "
            f"{pooled_capture(rs, lambda r: r['anc']):8.1%} {min(va):+7.2%} "
            f"{sum(v < -HARM for v in va):5d} "
            f"{sum(bool(r['carry']) for r in rs):>3d}/{sum(r['carry'] is not None for r in rs):<4d}",
            flush=True,
        )
        vr = [(r["rob"].fitted - r["rob"].historical) / r["rob"].kpi_total for r in rs]
        print(f"  robust (--robust mean): worst {min(vr):+.2%}, {sum(v < -HARM for v in vr)} below")
        rcov = [f for r in rs for f in r["rcov"] if f is not None]
        print(f"  steady-state ROI at the mean spend inside the 80% interval: {np.mean(rcov):.1%}")
        e_roi = np.abs([e for r in rs for e in r["roi_err"]])
        e_mroi = np.abs([e for r in rs for e in r["mroi_err"]])
        print(
            "  point curves at the mean spend, absolute error of the steady-state ROI / marginal "
            f"ROI: mean {np.mean(e_roi):.1%} / {np.mean(e_mroi):.1%}, median "
            f"{np.median(e_roi):.1%} / {np.median(e_mroi):.1%}"
        )
        if auto:  # optimize's default: --robust auto
            vt = [
                (r["auto"][0].fitted - r["auto"][0].historical) / r["auto"][0].kpi_total for r in rs
            ]
            print(
                f"  --robust auto (the default): pooled "
                f"{pooled_capture(rs, lambda r: r['auto'][0]):.1%}, worst {min(vt):+.2%}, "
                f"{sum(v < -HARM for v in vt)} below, the anchored plan on "
                f"{sum(r['auto'][1] == 'anchored' for r in rs)} of {len(rs)} ("
                + ", ".join(
                    f"{r['name']} {v:+.2%}" for r, v in zip(rs, vt, strict=True) if v < -HARM
                )
                + ")",
                flush=True,
            )
        labels = [f"risk {k:g}" for k in risks]
        if anchor_sd:
            labels += [f"risk {k:g}, sd everywhere (the rule before)" for k in risks]
        for i, k in enumerate(labels):  # every --anchor-risk, the first again for reference
            va = [
                (r["ancs"][i].fitted - r["ancs"][i].historical) / r["ancs"][i].kpi_total for r in rs
            ]
            print(
                f"  anchored, {k}: pooled "
                f"{pooled_capture(rs, lambda r, i=i: r['ancs'][i]):.1%}, worst {min(va):+.2%}, "
                f"{sum(v < -HARM for v in va)} below ("
                + ", ".join(
                    f"{r['name']} {v:+.2%}" for r, v in zip(rs, va, strict=True) if v < -HARM
                )
                + ")",
                flush=True,
            )

    return res


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--regime",
        choices=("low", "high", "flighted", "mmm_example"),
        default="high",
        help="low information (optimizer.simulate.random_world), high information "
        "(_high_worlds.high_world) or its flighted variant (_high_worlds.flighted_world: dark "
        "30-80%% of the weeks, half-way points against the operating level); mmm_example: "
        "PyMC-Marketing's example data alone (fit_recovery.py's case; --touchpoints ignored)",
    )
    ap.add_argument("--touchpoints", type=int, default=8)
    ap.add_argument("--worlds", type=int, default=0, help="first N worlds only (0: all)")
    ap.add_argument("--skip", type=int, default=0, help="skip the first N worlds")
    ap.add_argument("--variant", action="append", default=[], help="name:opt=json,...")
    ap.add_argument(
        "--anchor-risk",
        type=float,
        nargs="+",
        default=[RISK],
        help="risk (standard deviations) of the anchored plans (--robust anchored); the first "
        "fills the summary's anchored columns",
    )
    ap.add_argument(
        "--anchor-sd",
        action="store_true",
        help="also the anchored plans with the draws' standard deviation as the risk on every "
        "world (risk_measure='sd': the rule before the shortfall), at every --anchor-risk",
    )
    ap.add_argument(
        "--seeds",
        default="",
        metavar="START:STOP",
        help="fresh worlds of the regime's generator with seeds START..STOP-1 instead of the "
        "benchmark's (a hold-out: low, random_world(--touchpoints, seed); high, "
        "high_world(--touchpoints, seed); flighted, flighted_world(--touchpoints, seed)); the "
        "benchmark uses low 20-39, high and flighted 0-19",
    )
    ap.add_argument(
        "--midstream",
        type=int,
        default=0,
        metavar="WEEKS",
        help="histories that start mid-stream: the world's spend runs WEEKS weeks before the "
        "history (dropped), the first weeks' KPI carries their adstock; truth and plan "
        "valuation unchanged",
    )
    ap.add_argument(
        "--oracle",
        action="store_true",
        help="also the Bayes oracle of fit_recovery.py (the true transforms, the least-squares "
        "betas' law, the plan on the mean over its 50 draws) on the same worlds",
    )
    ap.add_argument(
        "--auto",
        action="store_true",
        help="also the plan of optimize's default, --robust auto (the anchored plan where the fit "
        "pooled every touchpoint or the draws expect less than the point optimum promises)",
    )
    args = ap.parse_args(argv)
    try:
        variants = [parse_variant(v) for v in (args.variant or ["default:"])]
    except ValueError as exc:
        ap.error(str(exc))
    with tempfile.TemporaryDirectory() as tmp:
        if args.regime == "mmm_example":  # PyMC-Marketing's example data (fit_recovery.py's)
            cases = [mmm_example_case(Path(tmp))]
        elif args.seeds:
            a, b = (int(v) for v in args.seeds.split(":"))
            n, t = args.touchpoints, Path(tmp)
            m = args.midstream
            cases = [
                high_case(n, s, t, m, args.regime)
                if args.regime in ("high", "flighted")
                else world_case(f"rw{n}-s{s}", random_world(n, seed=s), t, "holdout", n, m)
                for s in range(a, b)
            ]
        else:
            cases = regime_cases(
                args.regime, args.touchpoints, False, Path(tmp), midstream=args.midstream
            )
        cases = cases[args.skip :]
        if args.worlds:
            cases = cases[: args.worlds]
        mid = f", mid-stream after {args.midstream} weeks" if args.midstream else ""
        print(f"{args.regime}, {args.touchpoints} tp{mid}: {len(cases)} worlds", flush=True)
        run(cases, variants, args.anchor_risk, args.oracle, args.anchor_sd, args.auto)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
