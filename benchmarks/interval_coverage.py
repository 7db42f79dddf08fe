"""How often the printed 80% marginal-ROI intervals hold the truth, at several spreads of the
interval draws, on the benchmark's simulated worlds and on fresh ones (a hold-out), with the
plans' draws held fixed.

Each world is fitted once per ``--inflate k`` with ``uncertainty_inflate=k`` and ``plan_inflate``
fixed (``--plan-inflate``, default 2.0): only the interval draws (model.json ``interval_draws``)
and the intervals read from them change. The script checks that: every fit's model.json, its
``interval_draws``, ``marginal_roi_interval_80``, ``roi_interval_80`` and the options that name the spreads left out, must equal the first spread's to the bit (else it stops with the
world and the first differing key), so every plan made from the model (point, robust, anchored)
is the same. Coverage is read as ``fit_dev.py`` and ``fit_recovery.py`` read it
(``_fit_measure.covered``: the true marginal ROI at the mean weekly spend inside the central 80%
of the interval draws); beside each figure, its binomial standard error at 80% over the set's
``n`` touchpoints, ``sqrt(0.8 * 0.2 / n)`` (touchpoints as independent), and the standard error
of the mean over the worlds' own coverages (a world's touchpoints miss together when its fit
does). Under each, the ROI's coverage: the steady-state ROI at the mean weekly spend inside the central
80% of the bands' draws (``covered``'s second flag: model.json ``band_draws``, else the plans'
draws), of the plans' draws (what the bands read before ``band_draws``) and of the interval draws,
and how often the printed ``roi_interval_80`` (the bands' draws) holds the true ROI over the
history; and the curve band's (``fit --plots``, the review's P10-P90 of a line item's KPI): the
true weekly KPI at half, once and twice the mean weekly spend inside the central 80% of the bands'
draws and of the plans' draws, each set fitted once (before and after in the same run).

    nice -n 10 .venv/bin/python benchmarks/interval_coverage.py --regime low --touchpoints 8 \\
        --inflate 2.0 2.5 3.0            # the benchmark's worlds
    nice -n 10 .venv/bin/python benchmarks/interval_coverage.py --regime low --touchpoints 8 \\
        --inflate 2.0 2.5 3.0 --seeds 40:60   # fresh ones

``--pool-draws none intervals`` fits each world at each spread with each ``pool_draws`` setting
(``optimizer.response.poolpost``: the interval draws at the evidence's best pooling weight, or
each at its own weight from the weight's posterior); the plans' part of model.json is checked the
same across all of them (``pool_draws="all"``, which moves the plans' draws, is ``fit_dev.py``'s):

    nice -n 10 .venv/bin/python benchmarks/interval_coverage.py --regime low --touchpoints 15 \
        --seeds 40:60 --inflate 2.0 --pool-draws none intervals

``--lift-tests K`` fits each world calibrated to one simulated lift test on each of its first
``K`` touchpoints (``_fit_measure.simulate_lift_tests``: from the true curves; the others stay
pooled), which makes the fit a bootstrap of the MAP (``uncertainty="auto"``); coverage is then
reported for the untested touchpoints apart. ``--pool-draws none intervals`` then compares the
bootstrap's draws at the fit's pooling weight with band draws over its posterior
(``mapboot.py``); ``--band-refit betas refit`` how each band draw takes its weight:

    nice -n 10 .venv/bin/python benchmarks/interval_coverage.py --regime low --touchpoints 8 \
        --inflate 2.0 --pool-draws none intervals --lift-tests 3

``--band-spread none inflate laplace`` (``mapboot.BAND_SPREAD``, default the code's) how far a
bootstrap fit's band draws lie from the point curves: each refit's own step, that step times
``uncertainty_inflate`` (as the Laplace draws' sd), or a Laplace set at the MAP instead of the
refits; "split", "split_own" and "split_log" the Laplace sets for the untested touchpoints and,
for the tested, the refits as drawn or with their marginal response at the mean spend spread
(linearly, in the log) and their transforms kept. With more than one setting, each setting's
median width (of the untested touchpoints' 80% marginal-ROI interval and steady-state-ROI band,
and of the tested touchpoints') is printed as a ratio to the first's; the tested touchpoints'
coverage is printed apart (marginal ROI and steady-state ROI at the mean spend, the printed
``roi_interval_80`` against the true ROI over the history, the curve band):

    nice -n 10 .venv/bin/python benchmarks/interval_coverage.py --regime low --touchpoints 8 \
        --seeds 40:60 --inflate 2.0 --pool-draws intervals --lift-tests 3 \
        --band-spread split split_own split_log

No plans are computed (coverage needs the fit alone).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _fit_cases import N_BOOTSTRAP, SEED, high_case, regime_cases, world_case  # noqa: E402
from _fit_measure import COVERAGE_LEVEL, covered, simulate_lift_tests  # noqa: E402
from _fit_options import fit_with_options  # noqa: E402

from optimizer.response.mapboot import BAND_SPREAD as DEFAULT_SPREAD  # noqa: E402
from optimizer.simulate import random_world  # noqa: E402

#: fit.options keys that name the spreads and the interval draws' pooling weight (the only options
#: allowed to differ between settings)
SPREAD_KEYS = ("uncertainty_inflate", "plan_inflate", "pool_draws")


def plan_part(model: Any) -> dict[str, Any]:
    """model.json without what only the intervals and bands read: each touchpoint's
    ``interval_draws``, ``band_draws`` and ``diagnostics.marginal_roi_interval_80`` (read from them;
    the fit table's column), the spreads' options, and what the interval draws say of themselves
    (``diagnostics.uncertainty.interval_draws``, the pooling weight's posterior
    ``diagnostics.pooling.posterior``)."""
    d = json.loads(json.dumps(model.to_dict()))
    diag = (d.get("fit") or {}).get("diagnostics") or d.get("diagnostics") or {}
    (diag.get("pooling") or {}).pop("posterior", None)
    (diag.get("uncertainty") or {}).pop("interval_draws", None)
    # the full-pooling warning says what the printed intervals carry (report.py)
    if "warnings" in diag:
        diag["warnings"] = [w for w in diag["warnings"] if "printed intervals" not in w]
    for t in (diag.get("calibration") or {}).get("tests") or []:
        t.pop("model_lift_interval_80", None)  # a band of a KPI level (band_draws)
    for tp in (d.get("touchpoints") or {}).values():
        tp.pop("interval_draws", None)
        tp.pop("band_draws", None)
        for k in ("marginal_roi_interval_80", "roi_interval_80", "roi_interval_draws"):
            (tp.get("diagnostics") or {}).pop(k, None)
    opts = (d.get("fit") or {}).get("options") or {}
    for k in SPREAD_KEYS:
        opts.pop(k, None)
    return d


def first_difference(a: Any, b: Any, where: str = "") -> str | None:
    if type(a) is not type(b):
        return where or "/"
    if isinstance(a, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                return f"{where}/{k}"
            hit = first_difference(a[k], b[k], f"{where}/{k}")
            if hit:
                return hit
        return None
    if isinstance(a, list):
        if len(a) != len(b):
            return where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            hit = first_difference(x, y, f"{where}[{i}]")
            if hit:
                return hit
        return None
    return None if a == b else where


def cases_of(regime: str, n: int, seeds: str | None, tmp: Path) -> list[Any]:
    if seeds:
        a, b = (int(v) for v in seeds.split(":"))
        return [
            high_case(n, s, tmp, 0, regime)
            if regime in ("high", "flighted")
            else world_case(f"rw{n}-s{s}", random_world(n, seed=s), tmp, "holdout", n, 0)
            for s in range(a, b)
        ]
    return regime_cases(regime, n, False, tmp)


#: (uncertainty_inflate, pool_draws, mapboot.BAND_REFIT, mapboot.BAND_SPREAD)
Setting = tuple[float, str, str, str]


def label(setting: Setting) -> str:
    k, pool, how, spread = setting
    return (
        f"x{k:g}"
        + ("" if pool == "none" else f" pool_draws={pool}")
        + ("" if how == "betas" else f" band_refit={how}")
        + ("" if spread == DEFAULT_SPREAD else f" band_spread={spread}")
    )


def widths(ftp: Any, x: float) -> tuple[float, float]:
    """The central 80% interval's width of the marginal ROI (the interval draws, as ``covered``
    reads it) and of the steady-state ROI (the bands' draws) at weekly spend ``x``."""
    q = [50.0 - COVERAGE_LEVEL / 2, 50.0 + COVERAGE_LEVEL / 2]
    m = np.percentile([float(r.weekly_marginal(x)) for r in ftp.interval_draw_responses()], q)
    r = np.percentile([float(r.weekly_kpi(x)) / x for r in ftp.band_responses()], q)
    return float(m[1] - m[0]), float(r[1] - r[0])


#: the curve band's spends, as multiples of the mean weekly spend
BAND_AT = (0.5, 1.0, 2.0)


def band_covered(ftp: Any, ttp: Any, x: float) -> tuple[list[bool], list[bool]]:
    """Whether the true weekly KPI at ``BAND_AT`` x the mean weekly spend ``x`` lies inside the
    central 80% of the bands' draws (``band_responses``) and of the plans' draws: the curve band of
    ``fit --plots`` and the review, after and before ``band_draws``."""
    q = [50.0 - COVERAGE_LEVEL / 2, 50.0 + COVERAGE_LEVEL / 2]
    out: list[list[bool]] = []
    for rs in (ftp.band_responses(), ftp.draw_responses()):
        got = []
        for k in BAND_AT:
            lo, hi = np.percentile([float(r.weekly_kpi(k * x)) for r in rs], q)
            got.append(bool(lo <= float(ttp.weekly_kpi(k * x)) <= hi))
        out.append(got)
    return out[0], out[1]


def roi_covered(ftp: Any, ttp: Any, x: float) -> tuple[bool | None, bool | None]:
    """Whether the true steady-state ROI at weekly spend ``x`` lies inside the central 80% of the
    plans' draws and of the interval draws (``covered`` reads the bands', as the printed interval
    does): both, so a setting's effect on either is seen."""
    q = [50.0 - COVERAGE_LEVEL / 2, 50.0 + COVERAGE_LEVEL / 2]
    tr = float(ttp.weekly_kpi(x)) / x
    out: list[bool | None] = []
    for rs in (ftp.draw_responses(), ftp.interval_draw_responses()):
        if not rs or x <= 0:
            out.append(None)
            continue
        lo, hi = np.percentile([float(r.weekly_kpi(x)) / x for r in rs], q)
        out.append(bool(lo <= tr <= hi))
    return out[0], out[1]


def run(
    cases: Sequence[Any],
    inflates: Sequence[float],
    plan_inflate: float,
    pool_draws: Sequence[str] = ("none",),
    lift_tests: int = 0,
    band_refit: Sequence[str] = ("betas",),
    band_spread: Sequence[str] | None = None,
) -> tuple[dict[Setting, list[list[bool]]], list[bool], dict[Setting, list[tuple[bool, ...]]]]:
    """Per setting (spread, ``pool_draws``, ``band_refit``), per world, whether each touchpoint's
    interval holds the truth (with ``lift_tests``, the untested touchpoints' only); and per world
    whether the fit's pooling strength sat at its grid's top (diagnostics ``pooling.at_edge``:
    every touchpoint pooled onto one marginal ROI)."""
    from optimizer.response import mapboot as MB

    spreads = list(band_spread or [MB.BAND_SPREAD])
    default_spread = MB.BAND_SPREAD
    settings = [
        (k, pd, how, sp)
        for pd in pool_draws
        for how in (band_refit if pd != "none" else band_refit[:1])
        for sp in (spreads if lift_tests else spreads[:1])
        for k in inflates
    ]
    flags: dict[Setting, list[list[bool]]] = {st: [] for st in settings}
    roi: dict[Setting, list[tuple[bool, ...]]] = {st: [] for st in settings}
    # with lift tests: the tested touchpoints' mROI, steady-state ROI, roi_interval_80 and curve
    # band (BAND_AT) flags
    tested_flags: dict[Setting, list[tuple[bool, ...]]] = {st: [] for st in settings}
    # the untested touchpoints' interval widths (marginal ROI, steady-state ROI), and the tested'
    width: dict[Setting, list[tuple[float, float]]] = {st: [] for st in settings}
    width_t: dict[Setting, list[tuple[float, float]]] = {st: [] for st in settings}
    edge: list[bool] = []
    for c in cases:
        ref: dict[str, Any] | None = None
        line = [f"{c.name:<16}"]
        tests = simulate_lift_tests(c, 1)[:lift_tests] if lift_tests else []
        tested = {t.touchpoint for t in tests}
        for st in settings:
            k, pd, how, sp = st
            t0 = time.perf_counter()
            MB.BAND_REFIT = how
            MB.BAND_SPREAD = sp
            opts: dict[str, Any] = {
                "seed": SEED,
                "n_bootstrap": N_BOOTSTRAP,
                "uncertainty_inflate": k,
                "plan_inflate": plan_inflate,
                "pool_draws": pd,
            }
            if tests:
                opts["calibration"] = tests
            model = fit_with_options(c.history, opts)
            sec = time.perf_counter() - t0
            part = plan_part(model)
            if ref is None:
                ref = part
            else:
                diff = first_difference(ref, part)
                if diff is not None:
                    raise SystemExit(
                        f"{c.name}: the plans' part of model.json differs at {label(st)} from "
                        f"{label(settings[0])} at {diff}"
                    )
            spend = c.history.spend
            got = []
            at_edge = float((model.diagnostics.get("pooling") or {}).get("at_edge") or 0.0) >= 1.0
            for tid, ttp in c.truth.touchpoints.items():
                mean = float(spend[tid].mean())
                iv = model.touchpoints[tid].diagnostics.get("roi_interval_80")
                x_all = spend[tid].to_numpy(dtype=float)
                true_roi = float(c.true_contrib[tid].sum()) / float(x_all.sum())
                r_hist = bool(iv and iv[0] <= true_roi <= iv[1])
                b_band, b_plan = band_covered(model.touchpoints[tid], ttp, mean) if iv else ([], [])
                if tid in tested:
                    tm, tr = covered(model.touchpoints[tid], ttp, mean)
                    if tm is not None and tr is not None and iv:
                        tested_flags[st].append((tm, tr, r_hist, *b_band))
                        width_t[st].append(widths(model.touchpoints[tid], mean))
                    continue
                m_in, r_in = covered(model.touchpoints[tid], ttp, mean)
                if m_in is not None:
                    got.append(m_in)
                    width[st].append(widths(model.touchpoints[tid], mean))
                r_plan, r_shown = roi_covered(model.touchpoints[tid], ttp, mean)
                if r_in is not None and r_plan is not None and r_shown is not None and iv:
                    roi[st].append((r_in, r_plan, r_shown, r_hist, *b_band, *b_plan, at_edge))
            flags[st].append(got)
            if st == settings[0]:
                at = float((model.diagnostics.get("pooling") or {}).get("at_edge") or 0.0)
                edge.append(at >= 1.0)
                line.append("pooled at edge" if at >= 1.0 else "")
            line.append(f"{label(st)} {sum(got):2d}/{len(got):<2d} ({sec:4.1f}s)")
        print("  ".join(line).rstrip(), flush=True)
    MB.BAND_SPREAD = default_spread
    for st, tf in tested_flags.items():
        if tf:
            cov = [sum(t[j] for t in tf) / len(tf) for j in range(len(tf[0]))]
            print(
                f"{label(st)}: the {len(tf)} tested touchpoints: 80% mROI coverage "
                f"{cov[0]:.1%}, steady-state ROI (bands' draws) {cov[1]:.1%}, roi_interval_80 "
                f"{cov[2]:.1%}, curve band at {'/'.join(f'{k:g}x' for k in BAND_AT)} "
                + "/".join(f"{v:.1%}" for v in cov[3:])
                + _ratio(width_t[st], width_t[settings[0]], st != settings[0])
            )
    if len(spreads) > 1 and lift_tests:
        for st in settings[1:]:
            print(
                f"{label(st)} against {label(settings[0])}: the untested touchpoints'"
                + _ratio(width[st], width[settings[0]], True)
            )
    return flags, edge, roi


def _ratio(
    new: Sequence[tuple[float, float]], old: Sequence[tuple[float, float]], show: bool
) -> str:
    """The median, over touchpoints, of each interval's width ratio ``new / old`` (marginal ROI,
    steady-state ROI)."""
    if not show or not new or len(new) != len(old):
        return ""
    r = [
        statistics.median(a[j] / b[j] for a, b in zip(new, old, strict=True) if b[j] > 0)
        for j in (0, 1)
    ]
    return f"; median width ratio mROI x{r[0]:.2f}, steady-state ROI x{r[1]:.2f}"


def main(argv: Sequence[str] | None = None) -> int:
    from optimizer.response import mapboot as MB

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--regime", choices=("low", "high", "flighted"), default="low")
    ap.add_argument("--touchpoints", type=int, default=8)
    ap.add_argument("--inflate", type=float, nargs="+", default=[2.0, 2.5, 3.0])
    ap.add_argument("--plan-inflate", type=float, default=2.0)
    ap.add_argument(
        "--pool-draws",
        nargs="+",
        default=["none"],
        choices=("none", "intervals"),
        help="fit_model's pool_draws settings, each at every --inflate (the plans' draws must "
        "stay the same: 'all' moves them)",
    )
    ap.add_argument(
        "--seeds",
        metavar="START:STOP",
        help="fresh worlds with these generator seeds (fit_dev.py --seeds) instead of the "
        "benchmark's",
    )
    ap.add_argument("--worlds", type=int, default=0, help="first N worlds only (0: all)")
    ap.add_argument(
        "--lift-tests",
        type=int,
        default=0,
        metavar="K",
        help="one simulated lift test on each of the first K touchpoints (a bootstrap fit); "
        "coverage of the others",
    )
    ap.add_argument(
        "--band-refit",
        nargs="+",
        default=["betas"],
        choices=("betas", "refit"),
        help="how a bootstrap refit's band draw takes its own pooling weight (mapboot.BAND_REFIT)",
    )
    ap.add_argument(
        "--band-spread",
        nargs="+",
        default=None,
        choices=MB.BAND_SPREADS,
        help="how far a bootstrap fit's band draws lie from the point curves "
        "(mapboot.BAND_SPREAD; default the code's): with --lift-tests",
    )
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        cases = cases_of(args.regime, args.touchpoints, args.seeds, Path(tmp))
        if args.worlds:
            cases = cases[: args.worlds]
        where = f"seeds {args.seeds}" if args.seeds else "the benchmark's worlds"
        print(
            f"{args.regime}, {args.touchpoints} tp, {where}: {len(cases)} worlds; plan draws "
            f"x{args.plan_inflate:g} (the plans' part of model.json checked identical)",
            flush=True,
        )
        flags, edge, roi = run(
            cases,
            args.inflate,
            args.plan_inflate,
            args.pool_draws,
            args.lift_tests,
            args.band_refit,
            args.band_spread,
        )
    for st, per_world in flags.items():
        split = [
            (sum(sum(w) for w, e in zip(per_world, edge, strict=True) if e == at),
             sum(len(w) for w, e in zip(per_world, edge, strict=True) if e == at))
            for at in (True, False)
        ]  # fmt: skip
        f = [v for w in per_world for v in w]
        n = len(f)
        sd = math.sqrt(0.8 * 0.2 / n) if n else float("nan")
        fr = [sum(w) / len(w) for w in per_world if w]
        sd_w = statistics.stdev(fr) / math.sqrt(len(fr)) if len(fr) > 1 else float("nan")
        print(
            f"interval draws {label(st)}: 80% mROI coverage {sum(f) / n:.1%} (n={n}, binomial sd "
            f"{sd:.1%}; over {len(fr)} worlds: sd {sd_w:.1%}, {sum(v < 0.5 for v in fr)} worlds "
            "below 50%)"
        )
        print(
            f"  {sum(edge)} worlds pooled at the edge: {split[0][0]}/{split[0][1]}; the other "
            f"{len(edge) - sum(edge)}: {split[1][0]}/{split[1][1]}"
        )
        r = roi[st]
        if r:
            cov = [sum(t[j] for t in r) / len(r) for j in range(len(r[0]) - 1)]
            nb = len(BAND_AT)
            at = "/".join(f"{k:g}x" for k in BAND_AT)
            print(
                f"  80% ROI coverage (n={len(r)}): steady-state ROI at the mean weekly spend from "
                f"the bands' draws (covered(): band_draws, else draws) {cov[0]:.1%}, from the "
                f"plans' draws (the bands before band_draws) {cov[1]:.1%}, from the interval "
                f"draws {cov[2]:.1%}; roi_interval_80 (the printed ROI interval) holds the true "
                f"ROI over the history {cov[3]:.1%}"
            )
            band = "/".join(f"{v:.1%}" for v in cov[4 : 4 + nb])
            plan = "/".join(f"{v:.1%}" for v in cov[4 + nb : 4 + 2 * nb])
            print(
                f"  80% curve band (weekly KPI at {at} the mean weekly spend): bands' draws "
                f"{band}; plans' draws {plan}"
            )
            e = [t for t in r if t[-1]]
            if e:
                print(
                    f"  the {len(e)} touchpoints of worlds pooled at the edge: steady-state ROI "
                    f"from the bands' draws {sum(t[0] for t in e)}/{len(e)}, from the plans' "
                    f"draws {sum(t[1] for t in e)}/{len(e)}"
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
