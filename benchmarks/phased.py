"""Phased-plan benchmark (contract 7): touchpoints × 52 weekly periods, certified, against scipy
SLSQP on the same problem in the same run.

Run from the project root::

    .venv/bin/python benchmarks/phased.py            # 20 × 52 and 100 × 52
    .venv/bin/python benchmarks/phased.py --quick    # 20 × 52 only
    .venv/bin/python benchmarks/phased.py --lp       # and the LP method alone, in the same run

The world (fixed seed): concave hill curves (shape 0.6–1.0, as the sample company's), geometric
adstock with decay 0–0.8, carry-over into the first week, seasonal effectiveness (±30% by week of
year, a random phase per touchpoint), weekly phasing (one decision per touchpoint per week, 1,040
or 5,200 decisions coupled by carry-over), a budget at about a third of saturation spend.

Our plan: ``solve_phased`` (concave curves, no binaries: the interior point on the smooth problem;
otherwise the LP over pieces of the adstocked spend; Lagrangian certificate either way), timed
end to end. SLSQP: the same objective (the week-by-week KPI), its exact gradient by the adjoint of
the adstock recursion, the budget as an inequality, bounds x >= 0, started from the even spread;
stopped after ``SLSQP_LIMIT`` seconds. Printed: times, ratios, each plan's KPI on the same smooth
objective, our certified gap and KKT residual. The exit code is 0 whatever the verdicts.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from optimizer.allocate.phased import (  # noqa: E402
    make_phased_problem,
    marginal_kpi,
    objective_value,
    solve_phased,
)
from optimizer.allocate.problem import make_problem  # noqa: E402
from optimizer.calendar import Calendar  # noqa: E402
from optimizer.response.model import (  # noqa: E402
    Adstock,
    ResponseModel,
    Saturation,
    TouchpointResponse,
)
from optimizer.scenario import scenario_from_dict  # noqa: E402

TARGETS = {20: 2.0, 100: 10.0}  # seconds, certified
SLSQP_LIMIT = 120.0


class _Stop(Exception):
    pass


def world(n: int, seed: int = 1):
    rng = np.random.default_rng(seed)
    tps = {}
    sat_spend = 0.0
    for i in range(n):
        beta = float(rng.uniform(2e4, 8e4))
        K = float(rng.uniform(2e4, 1e5))
        d = float(rng.uniform(0.0, 0.8))
        tps[f"t{i}"] = TouchpointResponse(
            f"t{i}",
            "awareness",
            Saturation(
                "hill", {"beta": beta, "half_saturation": K, "shape": rng.uniform(0.6, 1.0)}
            ),
            Adstock(d),
        )
        sat_spend += K * (1 - d)  # weekly spend whose steady adstock is the half-saturation
    T = 52
    model = ResponseModel("revenue", tps)
    budget = round(sat_spend * T * 0.35, -3)
    sc = scenario_from_dict(
        {"name": f"{n}x52", "model": "m.json", "horizon_weeks": T, "budget": budget}
    )
    base = make_problem(sc, model)
    cal = Calendar(dt.date(2027, 1, 4), T, "week")
    eff = 1 + 0.3 * np.sin(2 * np.pi * (np.arange(52)[None, :] / 52 + rng.uniform(0, 1, (n, 1))))
    carry = rng.uniform(0, 3e4, n)
    prob = make_phased_problem(base, list(tps.values()), cal, carry_in=carry, effectiveness=eff)
    return prob, budget


def slsqp(prob, budget: float) -> tuple[float, float, str]:
    n, P = prob.n, prob.P
    x0 = np.full(n * P, budget / (n * P))
    t0 = time.perf_counter()

    def f(x):
        return -objective_value(prob, np.maximum(x, 0).reshape(n, P))

    def g(x):
        return -marginal_kpi(prob, np.maximum(x, 0).reshape(n, P)).ravel()

    last = [x0]

    def cb(x):
        last[0] = np.array(x)
        if time.perf_counter() - t0 > SLSQP_LIMIT:
            raise _Stop

    best = x0
    state = "converged"
    try:
        res = minimize(
            f,
            x0,
            jac=g,
            method="SLSQP",
            bounds=[(0, budget)] * (n * P),
            constraints=[
                {
                    "type": "ineq",
                    "fun": lambda x: budget - x.sum(),
                    "jac": lambda x: -np.ones_like(x),
                }
            ],
            options={"maxiter": 2000, "ftol": 1e-10},
            callback=cb,
        )
        best = res.x
        if not res.success:
            state = f"stopped: {res.message}"
    except _Stop:
        state = f"stopped after {SLSQP_LIMIT:.0f} s (not converged; its last iterate)"
        best = last[0]
    secs = time.perf_counter() - t0
    x = np.maximum(best, 0)
    if x.sum() > budget:
        x *= budget / x.sum()
    return objective_value(prob, x.reshape(n, P)), secs, state


def value_of_timing() -> None:
    """The sample company's true curves with a seasonal effectiveness (±30% by week of year, its
    peak in a different season per stage), 52 weeks from 2026-01-05 with last year's carry-over:
    the phased plan (weekly and monthly) against the undated optimum spread evenly, at the same
    budget, both valued week by week on the same true curves and season."""
    from optimizer.allocate import allocate
    from optimizer.allocate.phased import phased_problem, plan_kpi
    from optimizer.response.model import read_model
    from optimizer.scenario import load_scenario

    root = Path(__file__).resolve().parent.parent
    sc0 = load_scenario(root / "scenarios" / "fy26_monthly.yaml")
    truth = read_model(sc0.model)
    stages = list(dict.fromkeys(t.stage for t in truth.touchpoints.values()))
    weeks = np.arange(52)
    import dataclasses

    tps = {}
    for tid, t in truth.touchpoints.items():
        phase = stages.index(t.stage) / len(stages)
        eff = 1 + 0.3 * np.cos(2 * np.pi * (weeks / 52 - phase))
        tps[tid] = dataclasses.replace(t, effectiveness=tuple(float(v) for v in eff / eff.mean()))
    seasonal = dataclasses.replace(truth, touchpoints=tps)
    plain = {
        "periods": {},
        "touchpoints": {k: v for k, v in sc0.touchpoints.items() if k not in ("tv", "radio")},
    }
    print("\n## value of timing: the sample company, true curves with a seasonal effectiveness")
    undated = allocate(
        sc0.model_copy(update={**plain, "start": None, "phasing": "none", "carryover": None}),
        truth,
    )
    for phasing in ("month", "week"):
        sc = sc0.model_copy(update={**plain, "phasing": phasing})
        t0 = time.perf_counter()
        plan = allocate(sc, seasonal)
        secs = time.perf_counter() - t0
        prob = phased_problem(sc, seasonal)
        npw = prob.weeks_per_period
        even = (
            np.array([li.spend for li in undated.line_items])[:, None] * (npw / npw.sum())[None, :]
        )
        weekly, after = plan_kpi(prob, even)
        v_even = float(weekly.sum() + after.sum())
        print(
            f"{phasing}: phased plan {plan.total_kpi:,.0f} vs the undated optimum spread evenly "
            f"{v_even:,.0f} at the same budget ({plan.total_spend:,.0f}): "
            f"{100 * (plan.total_kpi / v_even - 1):+.2f}% ({plan.total_kpi - v_even:+,.0f}); "
            f"status {plan.status}, gap {plan.gap:.1e}, {secs:.1f} s"
        )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--timing-only", action="store_true", help="only the value-of-timing section")
    ap.add_argument(
        "--lp",
        action="store_true",
        help="also time the LP method alone (solve_phased(method='lp'), the engine before the "
        "interior point) on the same problem",
    )
    args = ap.parse_args()
    if args.timing_only:
        value_of_timing()
        return
    sizes = (20,) if args.quick else (20, 100)
    print("# phased plans: touchpoints × 52 weekly periods (carry-over, seasonality, budget)")
    for n in sizes:
        prob, budget = world(n)
        t0 = time.perf_counter()
        sol = solve_phased(prob)
        ours = time.perf_counter() - t0
        ok = sol.status == "optimal" and sol.gap <= 1e-4
        verdict = "met" if ok and ours <= TARGETS[n] else "NOT met"
        how = (
            "interior point on the smooth problem"
            if sol.method == "interior_point"
            else f"LP over {sol.pieces:,} pieces, {sol.rounds} round(s)"
        )
        print(
            f"\n## {n} × 52 ({n * 52:,} decisions)\n"
            f"ours: {ours:.2f} s ({how}; solver {sol.solve_seconds:.2f} s), status "
            f"{sol.status.value}, certified gap {sol.gap:.1e}, KKT residual {sol.kkt:.1e} — "
            f"target ≤ {TARGETS[n]:.0f} s certified: {verdict}"
        )
        if args.lp:
            t0 = time.perf_counter()
            lp = solve_phased(prob, method="lp")
            secs_lp = time.perf_counter() - t0
            print(
                f"the LP method alone (the engine before the interior point): {secs_lp:.2f} s, "
                f"status {lp.status.value}, gap {lp.gap:.1e}, {lp.rounds} round(s), "
                f"{lp.pieces:,} pieces; KPI {100 * (lp.value / sol.value - 1):+.2e}% vs ours; "
                f"ratio LP time / ours = {secs_lp / ours:.1f}x"
            )
        v_s, secs_s, state = slsqp(prob, budget)
        print(
            f"SLSQP: {secs_s:.2f} s ({state}); its KPI {v_s:,.0f} vs ours {sol.value:,.0f} "
            f"({100 * (v_s / sol.value - 1):+.4f}%)"
        )
        print(f"ratio: SLSQP time / ours = {secs_s / ours:.1f}x")
    value_of_timing()


if __name__ == "__main__":
    main()
