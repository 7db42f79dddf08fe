"""Fit-recovery benchmark: how well ``optimizer.response.fit`` recovers known truth, and what the
errors cost when a plan is made on the fitted curves.

Run from the project root::

    .venv/bin/python benchmarks/fit_recovery.py --regime both --touchpoints 8 15  # every world
    .venv/bin/python benchmarks/fit_recovery.py --regime high --touchpoints 8 --quick  # 3 worlds
    .venv/bin/python benchmarks/fit_recovery.py                 # both regimes, 8 touchpoints
    .venv/bin/python benchmarks/fit_recovery.py --before-after  # and without prior / pooling
    .venv/bin/python benchmarks/fit_recovery.py --quick         # reduced run (~30 s)
    .venv/bin/python benchmarks/fit_recovery.py --noise 0.01 0.02  # and a what-if on the noise
    .venv/bin/python benchmarks/fit_recovery.py --lift-tests 1  # and fits calibrated to lift tests
    .venv/bin/python benchmarks/fit_recovery.py --only mmm_example --no-timing  # issue 13's
        # mmm_example figures: steady-state ROAS and marginal ROAS at mean spend, MAE, 90% bands

Two *regimes* of simulated worlds (``--regime low|high|both``, ``--touchpoints 8|15``), each
reported apart (``_regimes.py``: pooled capture of the uplift available over the historical mix,
worst world, worlds below the historical mix by more than 0.5% of the KPI, 80%-interval coverage
of marginal ROI) beside the true-transform reference (least squares on the betas with the true
transforms) and the historical mix:

- *low information*: ``optimizer.simulate.random_world`` (2-8% noise, media 20-40% of the KPI,
  spend CV 0.3-0.7, additive seasonality); with 8 touchpoints, the worlds this benchmark always
  had (listed below); with 15, ``random_world(15)`` seeds 20-39;
- *high information*: ``_high_worlds.high_world`` (3% noise, media about 40% of the KPI,
  log-normal spend with on/off flighting, multiplicative seasonality, a price control; hill,
  exponential and logistic truths, decay up to 0.8), 20 seeds; 156 weeks;
- *flighted* (``--regime flighted``, not in ``both``): ``_high_worlds.flighted_world``, the same
  worlds with real flighting (dark 30-80% of the weeks, in flights) and each true curve's half-way
  point set against the touchpoint's operating level (mean adstock over the weeks it is on)
  instead of its mean adstocked spend over all weeks: neither of the fitter's half-saturation
  priors is where the truth is centred by construction.

Fit time with uncertainty for 8 and 15 touchpoints x 156 weeks is measured against a yardstick
run in the same process just before and after each fit (``_timing.py``). ``--peers N`` fits
PyMC-Marketing's example model beside ours on mmm_example and the first N worlds of each regime
(``_peers.py``, ``peers/``: its own Python >= 3.12 venv, run by subprocess; skipped with a
message where it is absent). ``--markdown FILE`` / ``--update-readme NAME`` write the tables as
markdown (README.md's results are written this way, not by hand).

The code: ``_fit_cases.py`` (settings and data sets), ``_fit_measure.py`` (measuring a fit, the
oracle, lift tests, harness checks), ``_fit_report.py`` (tables, verdicts, JSON, markdown), this
file (timing, peers, the command line).

Data sets, each with its truth:

1. Simulated worlds (``optimizer.simulate``): the bundled sample company and variations of it, and
   ``random_world`` draws varied in carry-over, saturation, noise, flighted and seasonally
   correlated spend (each world's settings are printed with it). The full run adds twenty more
   default ``random_world`` draws (8 touchpoints, seeds 20-39) so that no conclusion rests on one
   seed.
2. PyMC-Marketing's public simulated data sets (``benchmarks/data/``, Apache-2.0), fitted from the
   columns a real user would have: ``mmm_example`` (``date_week, y, x1, x2, event_1, event_2``:
   trend and seasonality are the fitter's own job) and ``mmm_roas`` (``date, x1, x2, y``; its
   unobserved confounder ``z`` drives both ``x1`` and ``y``, so any regression that cannot see
   ``z`` over-credits ``x1``). Each is turned into a journey (``journey_from_dict``) and a wide
   history CSV read back with ``read_history``, the path a user's files take.

For every data set: recovered against true ROI (contribution / spend over the history),
steady-state ROI and marginal ROI at the mean weekly spend, contribution shares, holdout MAPE,
fit time, and the *decision regret*: a 13-week plan at the historical mean weekly budget optimised
on the fitted curves and on the true curves, both evaluated on the true curves, next to the
historical mix (mean weekly spend shares) at the same budget; *captured* is
``(fitted - historical) / (optimal - historical)``, the share of the achievable uplift the fitted
plan gets. These plans are scored this way in every world: on the fitted curves (the point
plan), *default* (what ``budgetopt optimize`` makes with no options, ``--robust auto``:
``optimizer.workflow.anchored.auto_plan``, measured by ``fit_dev.auto_regret``; which plan it
chose, anchored or point, is counted per regime), *robust* (the mean KPI over the model's 20
draws, ``budgetopt optimize --robust mean``), *anchored* (``--robust anchored``) and *oracle* (the
truth's shapes with betas refitted by least squares: what the data's noise allows a fitter that
knew every shape). The capture and no-harm verdicts read the default plan. Each world also shows its *uplift*: what the true optimum adds to the historical mix, as a
share of the whole KPI over the 13 weeks (baseline included; the loss columns are shares of the
media-driven KPI, the part a plan changes), and how much of each plan's budget lies above a
touchpoint's highest weekly spend in the history (extrapolation).

The 90% target is read on every simulated world (main and robustness sets: the target as the issue
states it) and, apart and labelled as a subset, on the worlds whose uplift is at least 2% of the KPI
(where the historical mix is not already within a whisker of the optimum). ``--noise 0.01 0.02``
adds a what-if: the robustness worlds again with 1% / 2% noise instead of their own 2-8%, reported
apart. ``--cap-at-observed F`` and ``--change-limit P`` limit the plans made on estimated curves
(at most ``F`` times each touchpoint's highest weekly spend in the history; within +-``P`` of the
historical mix) and report the *ceiling*: the plan on the true curves under the same limits.

Checks of the harness itself: the true model of ``mmm_example`` (``data/.../true_model.json``, the
worked conversion in docs/response-models.md) reproduces the published ground-truth contributions,
the README's ROAS and marginal ROAS, and its optimum (x1 0.4414, x2 0.0296 of the weekly budget
0.4709). Then a 15-touchpoint, 156-week fit with search and 20 bootstrap refits is timed, and a
verdict table compares everything with the targets.

``--lift-tests N`` also refits every simulated world calibrated to ``N`` lift tests per touchpoint
simulated from the TRUE curves (``simulate_lift_tests``: +30% of the mean weekly spend for 4 weeks
at a random start, measured with a standard error of 10% of the true lift) and reports the uplift
captured with calibration next to without and the oracle (default 0: no calibration, the output
as before), for the plan on the calibrated fit and the robust plan on it.
``--targeted-tests`` compares designs of lift tests on every simulated world: one or two per
touchpoint, against tests placed by the value of information (the EVPPI of the uncalibrated fit's
plan, as ``budgetopt optimize --uncertainty`` reports it).

Honesty of the uncertainty: for every touchpoint of the simulated worlds, whether the true marginal
ROI and ROI at the mean weekly spend lie inside the 80% interval of the fit's draws
(honest intervals: about 80% of the time). Next to the oracle, a *Bayes oracle*: the truth's shapes,
and the plan that maximises the expected KPI over the betas' least-squares sampling law (50 draws),
the best a planner who knew every shape could do with the history's noise. Captured is also read
*pooled*: all worlds' uplift together, each world scaled by its KPI.

Every world and fit is seeded. The exit code is 0 whatever the verdicts: this is a measurement.
``--fit-option name=json`` passes options to ``fit_model`` (e.g. ``sweeps=1``) to compare variants;
``--fit-option @module.NAME=json`` sets a module constant of ``optimizer.response`` for each of this
fit's calls alone (e.g. ``@decay_profile.PROFILE_SHIFT='"all"'``; ``_fit_options``), and
``--baseline-option`` takes the same two forms for the baseline's fits (which also take
``--fit-option``'s, its own overriding them);
``--before-after`` refits everything with ``shape_prior=0, pool_marginal=0`` (the fitter before
those two options) and prints both. Results and their reading: docs/response-models.md.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _fit_measure  # noqa: E402  (the benchmarks folder is not a package)
import _peers  # noqa: E402
from _fit_cases import (  # noqa: E402
    HORIZON_WEEKS,
    LIFT_SE,
    LIFT_SHARE,
    LIFT_WEEKS,
    N_BOOTSTRAP,
    SEED,
    TARGET_GROUPS,
    high_case,
    mmm_example_case,
    mmm_roas_case,
    regime_cases,
    world_case,
)
from _fit_measure import (  # noqa: E402
    PlanLimits,
    Result,
    _pct,
    check_mmm_example_truth,
    check_mmm_roas_truth,
    decision_regret,
    measure,
    measure_calibrated,
    measure_targeted,
)
from _fit_options import fit_with_options, parse_options  # noqa: E402
from _fit_report import (  # noqa: E402
    _as_json,
    _markdown_block,
    _plain,
    _update_readme,
    capture_table,
    compare_table,
    lift_table,
    mmm_example_table,
    peer_verdicts,
    print_case,
    summary_table,
    targeted_table,
    verdict_rows,
)
from _readme import git_commit  # noqa: E402
from _regimes import (  # noqa: E402
    pooled_capture,
    regime_compare_table,
    regime_groups,
    regime_table,
)
from _timing import Timing, time_fit, timing_compare_table, timing_table  # noqa: E402
from fit_dev import auto_regret  # noqa: E402

from optimizer.simulate import (  # noqa: E402
    random_world,
)


# ================================================================================================
# a data set's fit and plans, with optimize's default plan
# ================================================================================================
def measure_default(case: Any, fit_options: dict[str, Any]) -> Result:
    """``measure`` (the fit, its point / robust / anchored plans, the oracles), plus the plan
    ``budgetopt optimize`` makes with no options (``--robust auto``: ``auto_plan``, by
    ``fit_dev.auto_regret``) and which plan it chose."""
    res = measure(case, fit_options)
    res.auto, res.auto_chosen = auto_regret(case, res.model, res.regret)
    return res


# ================================================================================================
# fit time, 8 and 15 touchpoints x 156 weeks
# ================================================================================================
def time_fits(tmp: Path, fit_options: dict[str, Any], quick: bool) -> list[Timing]:
    """Fit time with uncertainty (``N_BOOTSTRAP`` draws) for 8 and 15 touchpoints x 156 weeks,
    each fit after a yardstick (``_timing``): high-information worlds (seed 99), and (full run)
    ``random_world`` (seed 15) low-information ones; 3 runs each (quick: 1), plus one with
    ``n_jobs=2`` at 15 touchpoints."""
    repeats = 1 if quick else 3
    out = []
    for n_tp in (8, 15):
        worlds = [("high", high_case(n_tp, 99, tmp))]
        if not quick:
            worlds.append(("low", world_case(f"rw{n_tp}-timing", random_world(n_tp, seed=15), tmp)))
        for regime, case in worlds:
            for n_jobs in (1, 2) if n_tp == 15 and regime == "high" else (1,):
                opts = {"seed": SEED, "n_bootstrap": N_BOOTSTRAP, "n_jobs": n_jobs, **fit_options}
                out.append(
                    time_fit(
                        f"{n_tp} tp, {regime} information ({case.name})",
                        lambda c=case, o=opts: fit_with_options(c.history, o),
                        repeats if n_jobs == 1 else 1,
                        n_jobs,
                    )
                )
    return out


# ================================================================================================
# PyMC-Marketing side by side
# ================================================================================================
def peers_part(
    results: Sequence[Result],
    n_worlds: int,
    tmp: Path,
    say: Callable[[str], None],
    progress: Callable[[str], None] = print,
) -> list[_peers.SideBySide]:
    """PyMC-Marketing (its example-notebook model, ``benchmarks/peers/``) on mmm_example and the
    first ``n_worlds`` simulated worlds of each regime group, beside our fits of the same data."""
    progress("\n## PyMC-Marketing side by side (same run)")
    why = _peers.available()
    if why:
        say(why)
        return []
    say("\n**PyMC-Marketing side by side** (same run)")
    chosen = [r for r in results if r.case.name == "mmm_example"]
    for _, sel in regime_groups(results):
        chosen += sel[:n_worlds]
    rows = []
    for r in chosen:
        progress(f"  fitting PyMC-Marketing on {r.case.name} ...")
        try:
            rows.append(
                _peers.side_by_side(
                    r, tmp, lambda c, m, robust: decision_regret(c, m, robust=robust)
                )
            )
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            say(f"\nPyMC-Marketing failed on {r.case.name}: {exc}")
    for s in rows:
        if s.name == "mmm_example":
            say("\n**mmm_example, per channel** (truth from reproduce_dgp.py / true_model.json)\n")
            _peers.channel_table(s, say)
    if rows:
        say("")
        _peers.summary_table(rows, lambda regrets: pooled_capture(regrets, lambda g: g), say)
    return rows


# ================================================================================================
# main
# ================================================================================================
#: The fitter as it was before the shape prior and the pooling of marginal ROIs (``--before-after``).
BEFORE_OPTIONS: dict[str, Any] = {"shape_prior": 0.0, "pool_marginal": 0.0}


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="three worlds and the public data sets")
    ap.add_argument("--only", nargs="*", help="data sets to run (by name)")
    ap.add_argument(
        "--fit-option",
        action="append",
        default=[],
        metavar="NAME=JSON",
        help="extra fit_model option, e.g. sweeps=1, or @module.NAME=JSON: a constant of "
        "optimizer.response set for each fit and restored after it, e.g. "
        "@decay_profile.PROFILE_SHIFT='\"all\"' (repeatable)",
    )
    ap.add_argument(
        "--before-after",
        action="store_true",
        help="also fit everything with "
        + ", ".join(f"{k}={v}" for k, v in BEFORE_OPTIONS.items())
        + " (the fitter before those options) and compare",
    )
    ap.add_argument(
        "--baseline-option",
        action="append",
        default=[],
        metavar="NAME=JSON",
        help="also fit everything with these fit_model options (repeatable; e.g. "
        "method='\"grid\"', the fitter before issue 13; @module.NAME=JSON as in --fit-option, "
        "for the baseline's fits alone; the baseline also takes --fit-option's options, these "
        "override them) and print the regime tables and fit "
        "times of that baseline beside this fit's, measured in the same run (implies "
        "--before-after, with these options instead of its own)",
    )
    ap.add_argument(
        "--baseline-timing-only",
        action="store_true",
        help="use --baseline-option for the fit-time comparison only (no refit of every data "
        "set: a shorter run)",
    )
    ap.add_argument(
        "--noise",
        type=float,
        nargs="*",
        default=[],
        metavar="SD",
        help="what-if: also fit the 20 robustness worlds (seeds 20-39) with this noise "
        "(share of the mean KPI, e.g. 0.01 0.02) instead of their own 2-8%%; reported "
        "apart, not part of the target's worlds",
    )
    ap.add_argument(
        "--cap-at-observed",
        type=float,
        metavar="F",
        help="plans on estimated curves (fitted, robust, oracle) keep each "
        "touchpoint's weekly spend at most F times the highest in its history",
    )
    ap.add_argument(
        "--change-limit",
        type=float,
        metavar="P",
        help="plans on estimated curves keep each touchpoint within +-P (a fraction) "
        "of the historical mix",
    )
    ap.add_argument(
        "--targeted-tests",
        action="store_true",
        help="also compare designs of lift tests on every simulated world: one or two "
        "per touchpoint against tests placed by the value of information (EVPPI)",
    )
    ap.add_argument("--json", type=Path, help="also write the summary as JSON here")
    ap.add_argument(
        "--markdown", type=Path, help="also write the markdown tables (and the command) here"
    )
    ap.add_argument(
        "--update-readme",
        metavar="NAME",
        help="write the markdown tables into benchmarks/README.md between the markers "
        "<!-- fit_recovery:NAME:begin --> and <!-- fit_recovery:NAME:end -->",
    )
    ap.add_argument("--no-timing", action="store_true", help="skip the 8 and 15 x 156 fit timing")
    ap.add_argument(
        "--regime",
        choices=("low", "high", "flighted", "both"),
        default="both",
        help="which simulated worlds: low information (optimizer.simulate.random_world, "
        "today's worlds), high information (_high_worlds.high_world), or both (default); "
        "flighted: the high-information worlds with dark 30-80%% of the weeks and each true "
        "half-way point set against the operating level (_high_worlds.flighted_world)",
    )
    ap.add_argument(
        "--touchpoints",
        type=int,
        nargs="+",
        choices=(8, 15),
        default=[8],
        help="touchpoints per simulated world: 8 (default; the low regime's varied worlds "
        "keep their own 5-14) or 15, or both (--touchpoints 8 15)",
    )
    ap.add_argument(
        "--peers",
        type=int,
        metavar="N",
        help="PyMC-Marketing side by side (benchmarks/peers/.venv) on mmm_example and the "
        "first N simulated worlds of each regime (default 2; 0 skips; --quick: 0)",
    )
    ap.add_argument(
        "--no-public",
        action="store_true",
        help="skip PyMC-Marketing's public data sets (mmm_example, mmm_roas)",
    )
    ap.add_argument(
        "--lift-tests",
        type=int,
        default=0,
        metavar="N",
        help="also refit every simulated world calibrated to N simulated lift tests "
        f"per touchpoint (+{LIFT_SHARE * 100:.0f}%% of mean weekly spend for {LIFT_WEEKS} "
        f"weeks, se {LIFT_SE * 100:.0f}%% of the true lift) and report uplift captured with "
        "calibration next to without and the oracle",
    )
    args = ap.parse_args(argv)
    try:
        fit_options = parse_options(args.fit_option)
        before_opts = (
            parse_options(args.baseline_option) if args.baseline_option else BEFORE_OPTIONS
        )
    except ValueError as exc:
        ap.error(str(exc))
    args.before_after = args.before_after or (
        bool(args.baseline_option) and not args.baseline_timing_only
    )
    base_label = ", ".join(f"{k}={v!r}" for k, v in before_opts.items())
    _fit_measure.PLAN_LIMITS = PlanLimits(args.cap_at_observed, args.change_limit)
    say = print
    t_start = time.perf_counter()
    md: list[str] = []  # the markdown tables, for --markdown / --update-readme

    def md_say(line: str) -> None:
        say(line)
        md.append(line)

    load0 = os.getloadavg()
    commit = git_commit()
    say(f"# Fit recovery benchmark ({'quick' if args.quick else 'full'} run)")
    say(
        f"date {_dt.date.today().isoformat()}; {platform.platform()}; python "
        f"{platform.python_version()}; {os.cpu_count()} cores; {platform.processor() or '?'}"
    )
    say(
        f"fit_model(seed={SEED}, n_bootstrap={N_BOOTSTRAP}"
        + "".join(f", {k}={v!r}" for k, v in fit_options.items())
        + "); plans: "
        f"{HORIZON_WEEKS} weeks, budget-only, at the historical mean weekly budget; limits on "
        f"plans made on estimated curves: {_fit_measure.PLAN_LIMITS.describe()}; optimize's "
        "default plan (--robust auto) is scored beside the point plan and read by the capture and "
        "no-harm verdicts"
    )
    checks: dict[str, bool] = {}
    before: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="fit_recovery_") as tmpdir:
        tmp = Path(tmpdir)
        regimes = ("low", "high") if args.regime == "both" else (args.regime,)
        cases = [
            c
            for n_tp in args.touchpoints
            for regime in regimes
            for c in regime_cases(
                regime, n_tp, args.quick, tmp, args.noise if (regime, n_tp) == ("low", 8) else ()
            )
        ]
        if not args.no_public:
            cases += [mmm_example_case(tmp), mmm_roas_case(tmp)]
        if args.only:
            cases = [c for c in cases if c.name in args.only]
        for c in cases:
            if c.name == "mmm_example":
                say("\n## Harness check: the true model of mmm_example (true_model.json)")
                checks.update(check_mmm_example_truth(c, say))
            if c.name == "mmm_roas":
                say("\n## Harness check: the true model of mmm_roas")
                checks.update(check_mmm_roas_truth(c, say))
        say("\n## Per data set")
        results = []
        for c in cases:
            res = measure_default(c, fit_options)
            if args.lift_tests > 0 and c.kind == "simulated":
                measure_calibrated(c, fit_options, res, args.lift_tests)
            if args.targeted_tests and c.kind == "simulated":
                measure_targeted(c, fit_options, res)
            print_case(res, say)
            if res.calibrated is not None:
                say(
                    f"    calibrated to {args.lift_tests} lift test(s) per touchpoint: captured "
                    f"{_pct(res.calibrated.captured)} (without {_pct(res.regret.captured)}, "
                    f"oracle {_pct(res.oracle.captured)}); spend-weighted |mROI error| "
                    f"{_pct(res.cal_mroi_err)} (without {_pct(res.weighted_err('mroi'))})"
                )
            results.append(res)
        if args.before_after:
            say(f"\n## Baseline fits ({base_label})")
            before = [measure_default(c, {**fit_options, **before_opts}) for c in cases]
        say(
            "\n## Summary (errors are |fitted - true| / true; captured = (fitted - historical) / "
            "(optimal - historical), on the true curves; oracle = true shapes, least-squares "
            "betas)"
        )
        summary_table(results, say)
        ex = next((r for r in results if r.case.name == "mmm_example"), None)
        if ex is not None:
            md_say(
                "\n**mmm_example** (PyMC-Marketing's example data; truth from reproduce_dgp.py / "
                "true_model.json): steady-state ROAS and marginal ROAS at each channel's mean "
                "weekly spend, our point curves and the 5-95% band of our draws\n"
            )
            mmm_example_table(ex, md_say)
        say("\n## Per regime: each plan beside the true-transform reference and the historical mix")
        regime_table(results, md_say)
        n_peer = args.peers if args.peers is not None else (0 if args.quick else 2)
        peers_rows = peers_part(results, n_peer, tmp, md_say, say) if n_peer > 0 else []
        if any(r.case.group in TARGET_GROUPS for r in results):
            say("\n## Low-information worlds: uplift captured against the 90% target")
            capture_table(results, say)
        if args.lift_tests > 0:
            say(
                f"\n## Calibration: {args.lift_tests} simulated lift test(s) per touchpoint "
                f"(+{LIFT_SHARE:.0%} of mean weekly spend for {LIFT_WEEKS} weeks, se "
                f"{LIFT_SE:.0%} of the true lift)"
            )
            lift_table(results, args.lift_tests, say)
        if args.targeted_tests:
            say(
                "\n## Where to put lift tests: one or two per touchpoint against tests placed by "
                "the value of information (EVPPI of the uncalibrated model's plan)"
            )
            targeted_table(results, say)
        if before:
            say(f"\n## Before: the same fits with {base_label}")
            summary_table(before, say)
            say("\n## Before -> after, averaged over the simulated worlds")
            compare_table(before, results, say)
            md_say(f"\n**Baseline ({base_label}) → this fitter, same worlds, same run**\n")
            regime_compare_table(before, results, "baseline", md_say)
        big = None if args.no_timing else time_fits(tmp, fit_options, args.quick)
        big_before = (
            time_fits(tmp, {**fit_options, **before_opts}, args.quick)
            if (before or args.baseline_option) and not args.no_timing
            else None
        )
        if big:
            say("\n## Fit time, 156 weeks, with uncertainty (same run)\n")
            md_say("\n**Fit time, 156 weeks, with uncertainty** (same run)\n")
            timing_table(big, md_say)
        if big and big_before:
            md_say(f"\n**Fit time against the baseline ({base_label}), same run**\n")
            timing_compare_table(big_before, big, "baseline", md_say)
    say("\n## Verdicts")
    verdicts = verdict_rows(results, big, checks) + peer_verdicts(peers_rows)
    old = {v[0]: v[1] for v in verdict_rows(before, big_before, {})} if before else {}
    if old:
        say(f"{'':<62}{'after':>34}  {'before':>34}")
    for name, measured, target, passed in verdicts:
        prev = f"  {old.get(name, ''):>34}" if old else ""
        say(f"{name:<62}{measured:>34}{prev}  {target:<14}{'PASS' if passed else 'MISS'}")
    total = time.perf_counter() - t_start
    say(f"\ntotal run time {total:.0f} s")
    if args.markdown or args.update_readme:
        block = _markdown_block(args, argv, md, verdicts, total, load0, commit)
        if args.markdown:
            args.markdown.write_text(block)
        if args.update_readme:
            _update_readme(args.update_readme, block)
    if args.json:
        data = _as_json(results, big, verdicts)
        data["peers"] = [
            {
                "data_set": p.name,
                "regime": p.regime,
                "channels": [r.__dict__ for r in p.rows],
                "mae": {"pymc_marketing": p.mae("peer"), "budgetopt": p.mae("ours")},
                "coverage_90": {
                    "pymc_marketing": p.coverage("peer"),
                    "budgetopt": p.coverage("ours"),
                },
                "captured": p.captured,
                "fit_seconds": {"pymc_marketing": p.peer.fit_seconds, "budgetopt": p.ours_seconds},
                "versions": p.peer.versions,
                "sampler": p.peer.sampler,
            }
            for p in peers_rows
        ]
        if before:
            data["before"] = _as_json(before, big_before, verdict_rows(before, big_before, {}))
        args.json.write_text(json.dumps(data, indent=2, default=_plain) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
