"""Frontier benchmark: a 50-point budget sweep over 100 line items, against the 5-second target
and against the naive loop (``allocate`` from scratch at every budget).

Run from the project root::

    .venv/bin/python benchmarks/frontier.py            # full run (the naive loop takes minutes)
    .venv/bin/python benchmarks/frontier.py --quick    # the naive loop on 10 of the 50 points,
                                                       # its time for 50 extrapolated (and said so)

Worlds (fixed seeds, from ``benchmarks/_worlds.py``): 100 concave line items over the seven
stages, 13 weeks, (a) under the budget alone and (b) under the budget, three stage caps, two stage
floors and two group rules (set against the budget-only optimum so that they bind). Budgets: 50
evenly spaced from a quarter of the world's budget to twice it.

For each world: the warm sweep (``optimizer.workflow.sweep.sweep``, the default of
``budgetopt sweep``) on one core and on two (``jobs=2``: two stretches of 25 budgets walked in
parallel processes, the same plans), and the naive loop on one core, timed in wall-clock and CPU
seconds (the machine may be shared with other work: the load average is printed, and CPU time is
the fairer measure of one process); all certify every point to the same tolerance, and the
frontiers are compared point by point, and for the budget-only world with the exact optimum (KKT
conditions solved by bisection). The end-to-end command line (``budgetopt sweep --jobs 2`` on the
world written as files, process start and imports included) is timed too.

Exit code 0 whatever the verdicts: this is a measurement.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _worlds import World, concave_world, with_eight_rules  # noqa: E402
from allocation import exact_optimum  # noqa: E402  (the exact optimum by KKT bisection)

from optimizer.allocate import allocate  # noqa: E402
from optimizer.response.model import write_model  # noqa: E402
from optimizer.workflow.sweep import Frontier, sweep  # noqa: E402

TARGET_SECONDS = 5.0
N_ITEMS = 100
N_POINTS = 50
SEED = 11


@dataclass(frozen=True)
class Timed:
    frontier: Frontier
    wall: float
    cpu: float


def timed(fn: Callable[[], Frontier]) -> Timed:
    w0, c0 = time.perf_counter(), time.process_time()
    f = fn()
    return Timed(f, time.perf_counter() - w0, time.process_time() - c0)


def worlds() -> dict[str, World]:
    base = concave_world(N_ITEMS, SEED)
    opt = allocate(base.scenario("budget only"), base.model())
    x = np.array([li.spend for li in opt.line_items])
    return {"budget only": base, "budget + 7 rules": with_eight_rules(base, x, SEED)}


def budgets(world: World) -> np.ndarray:
    return np.linspace(0.25 * world.budget, 2.0 * world.budget, N_POINTS)


def compare(
    warm: Frontier, naive: Frontier, idx: list[int]
) -> tuple[float, float, float, float, int, float]:
    """Worst certified gap of the warm sweep and of the naive loop, worst relative objective
    difference between them, worst relative difference of the marginal ROI, status mismatches,
    and the most the naive loop's objective is above the warm sweep's (negative: never)."""
    gap = ngap = short = dmarg = 0.0
    above = -np.inf
    mismatch = 0
    for k, b in zip(idx, naive.plans, strict=True):
        a = warm.plans[k]
        if a.status != b.status:
            mismatch += 1
            continue
        if not a.ok:
            continue
        gap = max(gap, a.gap or 0.0)
        ngap = max(ngap, b.gap or 0.0)
        rel = (b.objective_value - a.objective_value) / max(abs(b.objective_value), 1)
        short = max(short, abs(rel))
        above = max(above, rel)
        ma, mb = Frontier.marginal(a), Frontier.marginal(b)
        if ma and mb and np.isfinite(ma) and np.isfinite(mb):
            dmarg = max(dmarg, abs(ma - mb) / max(abs(mb), 1e-12))
    return gap, ngap, short, dmarg, mismatch, above


def against_exact(world: World, f: Frontier) -> tuple[float, float]:
    """Worst relative shortfall of the plans' smooth-curve objective below the exact optimum (KKT
    conditions solved by bisection, budget-only worlds), and worst relative error of the budget's
    shadow price against the exact multiplier."""
    short = dlam = 0.0
    for p in f.plans:
        if not p.ok:
            continue
        ex = exact_optimum(dataclasses.replace(world, budget=float(p.budget)))
        short = max(short, (ex.objective - p.objective_value) / abs(ex.objective))
        if ex.budget_price > 0 and p.budget_shadow_price is not None:
            dlam = max(dlam, abs(p.budget_shadow_price - ex.budget_price) / ex.budget_price)
    return short, dlam


def cli_seconds(world: World, name: str, grid: np.ndarray) -> float:
    """``budgetopt sweep`` end to end on the world written as files (one process)."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_model(world.model(), root / "model.json")
        sc = world.scenario(name).model_dump(
            exclude={"source", "variants", "grid", "sweep"}, exclude_none=True
        )
        sc["model"] = "model.json"
        (root / "scenario.yaml").write_text(yaml.safe_dump(sc, sort_keys=False))
        exe = Path(sys.executable).parent / "budgetopt"
        spec = f"{grid[0]}:{grid[-1]}:{len(grid)}"
        t0 = time.perf_counter()
        out = subprocess.run(
            [
                str(exe),
                "sweep",
                str(root / "scenario.yaml"),
                "--budgets",
                spec,
                "--format",
                "json",
                "--no-ledger",
                "-q",
                "--jobs",
                "2",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        secs = time.perf_counter() - t0
        if out.returncode != 0:
            print(f"  (the command failed: {out.stderr.strip()})")
            return float("nan")
        assert len(json.loads(out.stdout)["points"]) == len(grid)
        return secs


def print_frontier(f: Frontier) -> None:
    be = f.economics.hurdle.budget if f.economics is not None else None
    cross = None
    if be is not None:  # the first point at or past the break-even budget
        cross = next((k for k, p in enumerate(f.plans) if p.budget >= be), None)
    print(f"  {'budget':>12} {'status':>10} {'KPI':>14} {'marginal ROI':>13}")
    for k, p in enumerate(f.plans):
        if k % 5 and k != cross and k != len(f.plans) - 1:
            continue
        m = Frontier.marginal(p)
        mark = f"  <- past break-even ({be:,.0f})" if k == cross else ""
        kpi = f"{p.total_kpi:>14,.0f}" if p.ok else f"{'-':>14}"
        marg = f"{m:>13.4f}" if m is not None else f"{'-':>13}"
        print(f"  {p.budget:>12,.0f} {p.status:>10} {kpi} {marg}{mark}")
    print(f"  (every 5th of the {len(f.plans)} points, the last and the first past break-even)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--quick",
        action="store_true",
        help="time the naive loop on 10 of the 50 points and extrapolate",
    )
    args = ap.parse_args(argv)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    print(
        f"frontier benchmark: {N_POINTS} budgets x {N_ITEMS} line items; {cores} cores "
        f"(load average {load[0]:.2f} at start), Python {platform.python_version()}, "
        f"{platform.machine()}; the sweep uses one core"
    )
    verdicts = []
    for name, world in worlds().items():
        grid = budgets(world)
        sc, model = world.scenario(name), world.model()
        print(f"\n== {name}: {N_ITEMS} line items, budgets {grid[0]:,.0f} to {grid[-1]:,.0f} ==")
        warm = timed(lambda sc=sc, model=model, grid=grid: sweep(sc, model, grid))
        par = timed(lambda sc=sc, model=model, grid=grid: sweep(sc, model, grid, jobs=2))
        same = all(
            a.line_items == b.line_items
            for a, b in zip(warm.frontier.plans, par.frontier.plans, strict=True)
        )
        idx = (
            list(range(N_POINTS))
            if not args.quick
            else [int(i) for i in np.linspace(0, N_POINTS - 1, 10)]
        )
        naive = timed(
            lambda sc=sc, model=model, grid=grid, idx=idx: sweep(sc, model, grid[idx], warm=False)
        )
        scale = N_POINTS / len(idx)
        n_wall, n_cpu = naive.wall * scale, naive.cpu * scale
        gap, ngap, short, dmarg, mismatch, above = compare(warm.frontier, naive.frontier, idx)
        rounds = [p.rounds for p in warm.frontier.plans]
        cli = cli_seconds(world, name, grid)
        print_frontier(warm.frontier)
        est = " (extrapolated from 10 points)" if args.quick else ""
        print(
            f"  warm sweep : {warm.wall:6.2f} s wall, {warm.cpu:6.2f} s CPU on one core; LP solves "
            f"per point: mean {np.mean(rounds):.2f}, max {max(rounds)}"
        )
        print(
            f"  on 2 cores : {par.wall:6.2f} s wall (jobs=2; "
            f"{'the same plans' if same else 'DIFFERENT PLANS'})"
        )
        print(
            f"  naive loop : {n_wall:6.2f} s wall, {n_cpu:6.2f} s CPU{est}; LP solves per point: "
            f"mean {np.mean([p.rounds for p in naive.frontier.plans]):.2f}"
        )
        print(f"  speed-up   : {n_wall / warm.wall:5.1f}x wall, {n_cpu / warm.cpu:5.1f}x CPU")
        print(
            f"  command    : budgetopt sweep --jobs 2 end to end {cli:6.2f} s wall (process start, "
            "imports, reading the files and the JSON included)"
        )
        print(
            f"  agreement  : worst certified gap {gap:.1e} (naive loop: {ngap:.1e}); objectives "
            f"within {short:.1e} of the naive loop's, which is never more than {max(above, 0):.1e} "
            f"above; marginal ROI within {dmarg:.1e}; {mismatch} status mismatches"
        )
        if not world.stage_rules and not world.groups:
            for label, fr in (("warm sweep", warm.frontier), ("naive loop", naive.frontier)):
                s_ex, l_ex = against_exact(world, fr)
                print(
                    f"  vs exact   : {label}: at worst {s_ex:.1e} below the exact optimum; budget "
                    f"shadow price within {l_ex:.1e} of the exact multiplier"
                )
        verdicts.append((name, warm.cpu, par.wall, n_cpu / warm.cpu, load))
    end = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\n== verdicts (load average {end:.2f} at the end) ==")
    for name, cpu, wall2, ratio, _ in verdicts:
        print(
            f"  {name:<18} 50 points in <= {TARGET_SECONDS:.0f} s: one core {cpu:.2f} s CPU "
            f"{'PASS' if cpu <= TARGET_SECONDS else 'FAIL'}; 2 cores {wall2:.2f} s wall "
            f"{'PASS' if wall2 <= TARGET_SECONDS else 'FAIL'}; {ratio:.1f}x less CPU than the "
            "naive loop"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
