"""Step rules for the anchored plan side by side (``optimize --robust anchored``), on the same fits.

Every world is fitted once (the benchmark's seed and 20 draws); on the line from the historical
mix (step 0) to the optimum on the point curves (step 1), 1,001 steps, it computes the uplift over
the historical mix on the point curves, on each of the model's draws and on the truth. Each rule
picks a step from the point and draws' uplifts alone; the truth only scores it, against the
benchmark's historical mix (``fit_dev.py``'s and ``fit_recovery.py``'s). Per rule it prints
the pooled capture (share of all the uplift over the historical mix the plans capture, each world
scaled by its KPI), the worst world against the historical mix (share of the KPI), the worlds below
it by more than 0.5% of the KPI, and the mean step. The rule ``shortfall 0.75 (sd at full
pooling)`` is ``--robust anchored``'s; ``sd 0.75`` the rule before it. Budget-only scenarios (no
rules), so every line starts at the historical mix.

    nice -n 10 .venv/bin/python benchmarks/anchored_rules.py --regime low --touchpoints 15
    nice -n 10 .venv/bin/python benchmarks/anchored_rules.py --regime mmm_example --detail

``--gates`` scores the candidate defaults of ``optimize`` (the point plan, the anchored plan, and
plans that take the anchored one only where a gate on the fit's diagnostics says the data cannot
tell the touchpoints apart, the point plan otherwise) and prints, world by world, the
diagnostics each gate reads (``diagnostics.pooling``: ``at_edge``, ``pool_marginal_equivalent``,
its posterior's P10 / median / P90; the anchored step; the draws' shortfall and standard deviation
at step 1 over the point uplift there).

``--detail`` prints, world by world, the rules' steps and true uplifts, and for ``mmm_example``
(or ``--world NAME``) the line itself: point, truth, the draws' mean / sd / P10 / share below zero,
and each line item's share of the draws' spread.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _fit_cases import SEED, high_case, mmm_example_case, regime_cases, world_case  # noqa: E402
from _fit_measure import HORIZON_WEEKS, _scenario, plan, true_value  # noqa: E402
from _fit_options import fit_with_options  # noqa: E402
from _regimes import HARM  # noqa: E402

from optimizer.allocate import allocate, make_problem  # noqa: E402
from optimizer.allocate.bank import CurveBank  # noqa: E402
from optimizer.simulate import random_world  # noqa: E402
from optimizer.workflow.anchored import (  # noqa: E402
    GRID,
    full_pooling,
    historical_mix,
    shortfall,
    uplift_draws,
)
from optimizer.workflow.robust import require_draws  # noqa: E402

#: a rule: (point uplift by step, draws x steps uplift, the world's KPI, full pooling?) -> step
Rule = Callable[[np.ndarray, np.ndarray, float, bool], int]


def _best(crit: np.ndarray) -> int:
    return int(np.argmax(crit))  # ties: the step nearer the historical mix


def sd_rule(k: float) -> Rule:
    return lambda p, d, K, e: _best(p - k * d.std(axis=0))


def shortfall_rule(k: float, at_full_pooling: str = "sd") -> Rule:
    """``k`` times the shortfall; at full pooling ``at_full_pooling``: "sd" (``--robust
    anchored``), "mix" (step 0) or "shortfall" (no exception)."""

    def rule(p: np.ndarray, d: np.ndarray, K: float, e: bool) -> int:
        if e and at_full_pooling == "mix":
            return 0
        if e and at_full_pooling == "sd":
            return _best(p - k * d.std(axis=0))
        return _best(p - k * shortfall(d, p))

    return rule


def quantile_rule(q: float) -> Rule:
    return lambda p, d, K, e: _best(np.percentile(d, q, axis=0))


def mean_rule() -> Rule:
    return lambda p, d, K, e: _best(d.mean(axis=0))


def harm_rule(tau: float, alpha: float) -> Rule:
    """The best point uplift among the steps (from 0 on, unbroken) where at most ``alpha`` of the
    draws lose more than ``tau`` of the KPI against the historical mix (a chance constraint)."""

    def rule(p: np.ndarray, d: np.ndarray, K: float, e: bool) -> int:
        ok = (d < -tau * K).mean(axis=0) <= alpha + 1e-12
        ok[0] = True
        bad = np.flatnonzero(~ok)
        last = int(bad[0]) - 1 if bad.size else len(p) - 1
        return int(np.argmax(p[: last + 1]))

    return rule


def lpm_rule(k: float) -> Rule:
    """``k`` times the root mean square of the draws' loss below the historical mix."""
    return lambda p, d, K, e: _best(p - k * np.sqrt(np.mean(np.minimum(d, 0.0) ** 2, axis=0)))


def semi_median_rule(k: float) -> Rule:
    """``k`` times the draws' semideviation below their own median."""

    def rule(p: np.ndarray, d: np.ndarray, K: float, e: bool) -> int:
        below = np.minimum(d - np.median(d, axis=0), 0.0)
        return _best(p - k * np.sqrt(np.mean(below * below, axis=0)))

    return rule


RULES: dict[str, Rule] = {
    "point optimum (step 1)": lambda p, d, K, e: len(p) - 1,
    "sd 0.75 (the rule before)": sd_rule(0.75),
    "sd 0.5": sd_rule(0.5),
    "shortfall 0.75 (sd at full pooling)": shortfall_rule(0.75),
    "shortfall 0.5 (sd at full pooling)": shortfall_rule(0.5),
    "shortfall 1 (sd at full pooling)": shortfall_rule(1.0),
    "shortfall 0.75, mix at full pooling": shortfall_rule(0.75, "mix"),
    "shortfall 0.75 everywhere": shortfall_rule(0.75, "shortfall"),
    "draws' mean": mean_rule(),
    "draws' P10": quantile_rule(10.0),
    "draws' P20": quantile_rule(20.0),
    "<= 10% of draws lose > 0.5% KPI": harm_rule(0.005, 0.10),
    "<= 15% of draws lose": harm_rule(0.0, 0.15),
    "loss below the mix (rms), 1": lpm_rule(1.0),
    "semideviation below median, 0.75": semi_median_rule(0.75),
}


def _pool(model: Any) -> dict[str, Any]:
    """model.json's ``diagnostics.pooling`` (empty for a fit without it)."""
    diag = getattr(model, "diagnostics", None) or {}
    pool = diag.get("pooling") if isinstance(diag, dict) else None
    return dict(pool) if isinstance(pool, dict) else {}


def _post(ln: dict[str, Any], key: str) -> float:
    """A figure of the pooling weight's posterior (``diagnostics.pooling.posterior``; nan: none)."""
    post = ln["pool"].get("posterior") or {}
    v = post.get(key)
    return float(v) if v is not None else float("nan")


def anchored_step(ln: dict[str, Any]) -> int:
    """``--robust anchored``'s step (the shortfall, the standard deviation at full pooling)."""
    return int(
        RULES["shortfall 0.75 (sd at full pooling)"](
            ln["p"], ln["d"], ln["kpi"], ln["full_pooling"]
        )
    )


#: a gate: the fit's line (``line_of``) -> take the anchored plan (True) or the point plan
Gate = Callable[[dict[str, Any]], bool]
GATES: dict[str, Gate] = {
    "point (no gate)": lambda ln: False,
    "anchored (every fit)": lambda ln: True,
    "anchored at full pooling (at_edge, pme >= 1)": lambda ln: bool(ln["full_pooling"]),
    "anchored where pooling posterior median pme >= 1": lambda ln: (
        _post(ln, "pool_marginal_equivalent_median") >= 1.0
    ),
    "anchored where pooling posterior P90 pme >= 1": lambda ln: (
        _post(ln, "pool_marginal_equivalent_p90") >= 1.0
    ),
    "anchored where pooling posterior P10 pme >= 1": lambda ln: (
        _post(ln, "pool_marginal_equivalent_p10") >= 1.0
    ),
    "--robust auto: anchored at full pooling or draws' mean < point (step 1)": lambda ln: bool(
        ln["full_pooling"] or float(ln["d"][:, -1].mean()) < float(ln["p"][-1])
    ),
    "anchored where point's uplift < 0.75 shortfall (step 1)": lambda ln: (
        ln["p"][-1] - 0.75 * float(shortfall(ln["d"][:, [-1]], ln["p"][[-1]])[0]) <= 0.0
    ),
    "anchored where point's uplift < 0.75 sd (step 1)": lambda ln: (
        ln["p"][-1] - 0.75 * float(ln["d"][:, -1].std()) <= 0.0
    ),
}


def gate_diag(ln: dict[str, Any]) -> str:
    """One world's diagnostics that the gates read, and where its plans land."""
    K = ln["kpi"]
    k = anchored_step(ln)
    p1 = float(ln["p"][-1])
    sf = float(shortfall(ln["d"][:, [-1]], ln["p"][[-1]])[0])
    sd = float(ln["d"][:, -1].std())
    pool = ln["pool"]
    return (
        f"  {ln['name']:<22} edge={int(bool(pool.get('at_edge')))} full={int(ln['full_pooling'])} "
        f"pme={float(pool.get('pool_marginal_equivalent', float('nan'))):9.3g} "
        f"post p10/med/p90={_post(ln, 'pool_marginal_equivalent_p10'):8.3g}/"
        f"{_post(ln, 'pool_marginal_equivalent_median'):8.3g}/"
        f"{_post(ln, 'pool_marginal_equivalent_p90'):8.3g} "
        f"below_fit={_post(ln, 'mass_below_fit'):4.2f} "
        f"avail={ln['available'] / K:+6.2%} point={ln['t'][-1] / K:+6.2%} "
        f"anch step={k / GRID:4.2f} {ln['t'][k] / K:+6.2%} "
        f"step1 uplift={p1 / K:+6.3%} shortfall/uplift={sf / p1 if p1 else float('nan'):6.2f} "
        f"sd/uplift={sd / p1 if p1 else float('nan'):6.2f} "
        f"mean/uplift={float(ln['d'][:, -1].mean()) / p1 if p1 else float('nan'):6.2f} "
        f"lose={float(np.mean(ln['d'][:, -1] < 0)):4.2f} "
        f"meanrule={ln['t'][mean_rule()(ln['p'], ln['d'], K, False)] / K:+6.2%}"
    )


def score_gate(lines: Sequence[dict[str, Any]], gate: Gate) -> tuple[float, float, list[str], int]:
    """Pooled capture, worst world, worlds below the mix by more than ``HARM`` and how many
    worlds took the anchored plan, of the plans a gate picks."""
    num = den = 0.0
    worst = np.inf
    below = []
    n_anc = 0
    for ln in lines:
        anc = gate(ln)
        n_anc += int(anc)
        k = anchored_step(ln) if anc else len(ln["p"]) - 1
        v = float(ln["t"][k]) / ln["kpi"]
        num += v
        den += ln["available"] / ln["kpi"]
        worst = min(worst, v)
        if v < -HARM:
            below.append(f"{ln['name']} {v:+.2%}")
    return num / den if den > 0 else float("nan"), worst, below, n_anc


def line_of(case: Any, model: Any) -> dict[str, Any]:
    """The anchored line of ``model``'s plan for ``case`` and its uplifts (see the docstring)."""
    means = case.history.spend.mean()
    budget = HORIZON_WEEKS * float(means.sum())
    sc = _scenario(budget, case.name, None)
    problem = make_problem(sc, model)
    n = require_draws(model)
    point = allocate(sc, model)
    spend = {li.id: li.spend for li in point.line_items}
    ids = [it.id for it in problem.items]
    x1 = np.array([spend[i] for i in ids])
    h = historical_mix(problem, model) * float(x1.sum())
    steps = np.arange(GRID + 1) / GRID
    xs = h[None, :] + steps[:, None] * (x1 - h)[None, :]
    bank = CurveBank.of([it.curve for it in problem.items])
    p_items = np.array([bank.value(x) for x in xs]) - bank.value(h)[None, :]
    per_item = []  # each line item's draws' uplift (draws x steps), one at a time
    for i in range(len(ids)):
        only = xs.copy()
        only[:, [j for j in range(len(ids)) if j != i]] = h[[j for j in range(len(ids)) if j != i]]
        per_item.append(uplift_draws(problem, n, only, h))
    d = uplift_draws(problem, n, xs, h)
    truth = case.truth
    t_items = np.stack(
        [
            np.asarray(truth.touchpoints[t].horizon_kpi(xs[:, i], HORIZON_WEEKS), dtype=float)
            for i, t in enumerate(ids)
        ],
        axis=1,
    )
    # against the benchmark's historical mix (the history's mean spend shares; the line starts
    # at model.json's spend_range.mean, which can differ from it by a little)
    hist = {t: budget * float(means[t]) / float(means.sum()) for t in means.index}
    t_items -= np.array(
        [float(truth.touchpoints[t].horizon_kpi(hist[t], HORIZON_WEEKS)) for t in ids]
    )[None, :]
    p_true = plan(truth, budget, f"{case.name} truth")
    kpi = case.history.frame[case.history.journey.kpi]
    weekly = float(kpi.mean()) if case.kpi_weekly is None else case.kpi_weekly
    return {
        "name": case.name,
        "ids": ids,
        "h": h,
        "x1": x1,
        "p": p_items.sum(axis=1),
        "p_items": p_items,
        "d": d,
        "d_items": per_item,
        "t": t_items.sum(axis=1),
        "t_items": t_items,
        "available": true_value(p_true, truth) - true_value(hist, truth),
        "kpi": HORIZON_WEEKS * weekly,
        "full_pooling": full_pooling(model),
        "pool": _pool(model),
        "observed": (case.history.spend.min(), case.history.spend.max()),
    }


def score(lines: Sequence[dict[str, Any]], rule: Rule) -> tuple[float, float, list[str], float]:
    num = den = 0.0
    worst = np.inf
    below = []
    steps = []
    for ln in lines:
        k = rule(ln["p"], ln["d"], ln["kpi"], ln["full_pooling"])
        v = float(ln["t"][k]) / ln["kpi"]
        num += v
        den += ln["available"] / ln["kpi"]
        worst = min(worst, v)
        steps.append(k / GRID)
        if v < -HARM:
            below.append(f"{ln['name']} {v:+.2%}")
    return num / den if den > 0 else float("nan"), worst, below, float(np.mean(steps))


def detail_line(ln: dict[str, Any]) -> None:
    """The line of one world: point, truth and the draws along it, by line item too."""
    K = ln["kpi"]
    print(f"\n{ln['name']}: the line from the historical mix (0) to the point optimum (1)")
    print(
        f"  weekly spend, historical mix: {dict(zip(ln['ids'], np.round(ln['h'] / 13, 4), strict=True))}"
    )
    print(
        f"  weekly spend, point optimum:  {dict(zip(ln['ids'], np.round(ln['x1'] / 13, 4), strict=True))}"
    )
    lo, hi = ln["observed"]
    print(f"  weekly spend seen: min {dict(lo.round(4))}, max {dict(hi.round(4))}")
    print(
        f"  true uplift available {ln['available']:.1f} ({ln['available'] / K:+.2%} of the KPI "
        f"{K:.0f}); full pooling: {ln['full_pooling']}"
    )
    print(
        f"  {'step':>5} {'point':>9} {'truth':>9} {'draws mean':>10} {'sd':>8} {'shortfall':>9} "
        f"{'P10':>9} {'<0':>5}  per line item: point / truth / draws' sd"
    )
    d = ln["d"]
    for s in (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0):
        k = round(s * GRID)
        items = "  ".join(
            f"{t} {ln['p_items'][k, i]:+.0f} / {ln['t_items'][k, i]:+.0f} / "
            f"{ln['d_items'][i][:, k].std():.0f}"
            for i, t in enumerate(ln["ids"][:4])
        )
        print(
            f"  {s:5.2f} {ln['p'][k]:9.1f} {ln['t'][k]:9.1f} {d[:, k].mean():10.1f} "
            f"{d[:, k].std():8.1f} {shortfall(d[:, [k]], ln['p'][[k]])[0]:9.1f} "
            f"{np.percentile(d[:, k], 10):9.1f} {np.mean(d[:, k] < 0):5.0%}  {items}"
        )


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--regime", choices=("low", "high", "flighted", "mmm_example"), default="low")
    ap.add_argument("--touchpoints", type=int, default=8)
    ap.add_argument("--seeds", default="", metavar="START:STOP", help="fresh worlds (fit_dev.py's)")
    ap.add_argument("--worlds", type=int, default=0, help="first N worlds only (0: all)")
    ap.add_argument("--detail", action="store_true", help="world by world, and mmm_example's line")
    ap.add_argument(
        "--gates",
        action="store_true",
        help="the candidate defaults (point, anchored, gated) and each world's diagnostics",
    )
    ap.add_argument("--world", default="", help="print this world's line (with --detail)")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        if args.regime == "mmm_example":
            cases = [mmm_example_case(t)]
        elif args.seeds:
            a, b = (int(v) for v in args.seeds.split(":"))
            n = args.touchpoints
            cases = [
                high_case(n, s, t, 0, args.regime)
                if args.regime in ("high", "flighted")
                else world_case(f"rw{n}-s{s}", random_world(n, seed=s), t, "holdout", n, 0)
                for s in range(a, b)
            ]
        else:
            cases = regime_cases(args.regime, args.touchpoints, False, t)
        if args.worlds:
            cases = cases[: args.worlds]
        lines = []
        for c in cases:
            model = fit_with_options(c.history, {"seed": SEED, "n_bootstrap": 20})
            lines.append(line_of(c, model))
    what = args.regime if args.regime == "mmm_example" else f"{args.regime} {args.touchpoints}"
    print(
        f"{what}: {len(lines)} worlds ({sum(ln['full_pooling'] for ln in lines)} at full pooling)"
    )
    print(f"{'rule':<38} {'pooled':>7} {'worst':>7} {'below':>5} {'step':>5}")
    for name, rule in RULES.items():
        pooled, worst, below, step = score(lines, rule)
        print(
            f"{name:<38} {pooled:7.1%} {worst:+7.2%} {len(below):5d} {step:5.2f}"
            + (f"  ({', '.join(below)})" if below else "")
        )
    if args.gates:
        print(f"\n{'candidate default':<58} {'pooled':>7} {'worst':>7} {'below':>5} {'anch':>4}")
        for name, gate in GATES.items():
            pooled, worst, below, n_anc = score_gate(lines, gate)
            print(
                f"{name:<58} {pooled:7.1%} {worst:+7.2%} {len(below):5d} {n_anc:4d}"
                + (f"  ({', '.join(below)})" if below else "")
            )
        for ln in lines:
            print(gate_diag(ln))
    if args.detail:
        for ln in lines:
            picks = []
            for name in ("sd 0.75 (the rule before)", "shortfall 0.75 (sd at full pooling)"):
                k = RULES[name](ln["p"], ln["d"], ln["kpi"], ln["full_pooling"])
                picks.append(
                    f"{name.split(' (')[0]}: step {k / GRID:.2f} {ln['t'][k] / ln['kpi']:+.2%}"
                )
            print(
                f"  {ln['name']:<24} pooled={int(ln['full_pooling'])} available "
                f"{ln['available'] / ln['kpi']:+.2%}, point {ln['t'][-1] / ln['kpi']:+.2%}; "
                + "; ".join(picks)
            )
        for ln in lines:
            if ln["name"] == "mmm_example" or ln["name"] == args.world:
                detail_line(ln)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
