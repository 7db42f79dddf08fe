"""Scale-out benchmark: a set of 400 scenarios solved in-process, on a local Dask cluster of 1
worker and of 2 workers, with the speed-up and a check that every plan is identical.

Run from the project root::

    .venv/bin/python benchmarks/scale_out.py            # 400 scenarios (a few minutes on 2 cores)
    .venv/bin/python benchmarks/scale_out.py --quick    # 40 scenarios

The scenarios are the four example scenarios of the sample company (``scenarios/``: a base plan,
a 15% cut, an awareness push with a stage floor, locked commitments; 14 touchpoints on the true
curves), each at 100 (``--quick``: 10) budgets evenly spaced from 40% to 160% of its own budget:
a scenario set as ``budgetopt compare`` solves it (``compare_scenarios``: one task per scenario,
the plan and its costliest rules). Each configuration solves the same list; the cluster's start
(``LocalCluster``, processes, one thread per worker) is timed apart from the solves. The machine
may be shared with other work: the load average is printed before and after, and so is its
parallel capacity (how much more a pure-Python loop gets done in two processes than in one), the
ceiling of any speed-up from a second worker.

Exit code 0 whatever the verdicts: this is a measurement.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from optimizer.scenario import load_scenario  # noqa: E402
from optimizer.workflow.compare import compare_scenarios  # noqa: E402
from optimizer.workflow.executor import DaskExecutor, InProcess  # noqa: E402


def scenario_set(per_scenario: int) -> list:
    out = []
    for path in sorted((ROOT / "scenarios").glob("*.yaml")):
        sc = load_scenario(path)
        amount = float(sc.budget.amount)  # type: ignore[union-attr]
        for k, b in enumerate(np.linspace(0.4 * amount, 1.6 * amount, per_scenario)):
            out.append(
                sc.with_budget(round(float(b), 2)).model_copy(update={"name": f"{sc.name} @{k}"})
            )
    return out


def bare(plan):
    return dataclasses.replace(plan, build_seconds=0.0, solve_seconds=0.0)


def _spin(_: int) -> float:
    t0 = time.perf_counter()
    s = 0
    for i in range(15_000_000):
        s += i
    return time.perf_counter() - t0


def parallel_capacity() -> float:
    """How much more work two busy processes get done than one, on this machine now (2.0 on two
    free cores): the ceiling of any 2-worker speed-up."""
    import multiprocessing as mp

    one = _spin(0)
    t0 = time.perf_counter()
    with mp.get_context("fork").Pool(2) as pool:
        pool.map(_spin, [0, 1])
    return 2 * one / (time.perf_counter() - t0)


def timed(executor, scenarios):
    t0 = time.perf_counter()
    c0 = time.process_time()
    comp = compare_scenarios(scenarios, executor=executor)
    return comp, time.perf_counter() - t0, time.process_time() - c0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="40 scenarios instead of 400")
    args = ap.parse_args()
    scenarios = scenario_set(10 if args.quick else 100)
    print(
        f"budgetopt scale-out benchmark: {len(scenarios)} scenarios, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(f"load average before: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    capacity = parallel_capacity()
    print(
        f"parallel capacity: two busy processes do {capacity:.2f}x the work of one "
        "(2.00 on two free cores): the ceiling of the 2-worker speed-up"
    )

    rows = []
    ref, wall, cpu = timed(InProcess(), scenarios)
    rows.append(("in-process", 0.0, wall, cpu, True))
    reference = [bare(p) for p in ref.plans]
    for n in (1, 2):
        t0 = time.perf_counter()
        with DaskExecutor.local(n) as ex:
            start = time.perf_counter() - t0
            compare_scenarios(scenarios[:2], executor=ex)  # warm the workers' imports
            comp, wall, cpu = timed(ex, scenarios)
        same = [bare(p) for p in comp.plans] == reference and comp.costs == ref.costs
        rows.append((f"Dask, {n} worker{'s' if n > 1 else ''}", start, wall, cpu, same))

    print()
    print(
        f"{'where':<18} {'cluster start':>14} {'solve (wall)':>13} {'client CPU':>11} "
        f"{'per scenario':>13}  identical"
    )
    for name, start, wall, cpu, same in rows:
        print(
            f"{name:<18} {start:>12.1f} s {wall:>11.1f} s {cpu:>9.1f} s "
            f"{1000 * wall / len(scenarios):>10.0f} ms  {'yes' if same else 'NO'}"
        )
    t_in, t1, t2 = rows[0][2], rows[1][2], rows[2][2]
    print()
    print(f"speed-up, 2 workers vs 1 worker:   {t1 / t2:.2f}x")
    print(f"speed-up, 2 workers vs in-process: {t_in / t2:.2f}x")
    print(f"parallel capacity after: {parallel_capacity():.2f}x")
    print(f"load average after: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    ok = all(r[4] for r in rows)
    print(f"{'PASS' if ok else 'FAIL'}: every plan identical to the in-process run")
    print(
        f"{'PASS' if t1 / t2 >= 1.5 else 'FAIL'}: 2 workers at least 1.5x faster than 1 "
        f"({t1 / t2:.2f}x; this machine's ceiling now {capacity:.2f}x)"
    )


if __name__ == "__main__":
    main()
