"""A sweep whose budgets are all infeasible under a KPI floor: the warm walk as it is against the
walk of commit 1bf3b03 (every infeasible point re-planned with the KPI floor's fix search, ~24
solves each), in the same process.

Run from the project root::

    .venv/bin/python benchmarks/sweep_infeasible.py            # 26 budgets, 3 rounds
    .venv/bin/python benchmarks/sweep_infeasible.py --rounds 1 --points 10

World: five exponential curves (tests/test_s14_numbers.py's EDGE_MODEL), 13
weeks, a revenue floor of 900,000 (the least spend that meets it is 634,970.06); budgets from
300,000 to 630,000, every one infeasible. The walk of 1bf3b03 is this one with its ``replan`` made
``plan_problem`` (the fix searched for at every infeasible point); both are timed in turn, each
round, in wall-clock and CPU seconds; the ratio of the best rounds is the number to compare
(the machine may be shared). Both must give the same statuses and the same message at the highest
budget (the one ``budgetopt sweep`` says); the other points' messages differ by design (the rules
that conflict without the step, against the step searched for).

Exit code 0 whatever the verdict: this is a measurement.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from optimizer.allocate.engine import plan_problem  # noqa: E402
from optimizer.response.model import read_model  # noqa: E402
from optimizer.scenario import load_scenario  # noqa: E402
from optimizer.workflow import sweep as sweep_module  # noqa: E402
from tests.test_s14_numbers import EDGE_MODEL as MODEL  # noqa: E402

SCENARIO = {
    "name": "floor",
    "model": "model.json",
    "horizon_weeks": 13,
    "budget": 500000,
    "kpi_floors": {"revenue": 900000},
}


def every_point_searched(self, problem):  # the walk of commit 1bf3b03
    return plan_problem(problem, max_rounds=self.max_rounds, n_pieces=self.n_pieces, **self.opts)


def run(scenario, model, grid, before: bool) -> tuple[float, float, tuple]:
    walk = sweep_module._WarmWalk
    replan = walk.replan
    if before:
        walk.replan = every_point_searched  # type: ignore[method-assign]
    try:
        w0, c0 = time.perf_counter(), time.process_time()
        front = sweep_module.sweep(scenario, model, grid, economics=False)
        return time.perf_counter() - w0, time.process_time() - c0, front.plans
    finally:
        walk.replan = replan  # type: ignore[method-assign]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--points", type=int, default=26, help="budgets (default 26)")
    ap.add_argument("--rounds", type=int, default=3, help="timed rounds of each (default 3)")
    args = ap.parse_args(argv)
    grid = np.linspace(300000.0, 630000.0, args.points)
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        (folder / "model.json").write_text(json.dumps(MODEL))
        (folder / "floor.yaml").write_text(yaml.safe_dump(SCENARIO, sort_keys=False))
        scenario, model = load_scenario(folder / "floor.yaml"), read_model(folder / "model.json")
        print(f"load average {os.getloadavg()[0]:.2f}; {args.points} budgets, all infeasible")
        run(scenario, model, grid[:2], before=False)  # warm-up (imports, first solves)
        now, before = [], []
        for r in range(args.rounds):
            now.append(run(scenario, model, grid, before=False))
            before.append(run(scenario, model, grid, before=True))
            print(
                f"round {r + 1}: now {now[-1][0]:.2f} s wall ({now[-1][1]:.2f} s CPU), "
                f"1bf3b03 {before[-1][0]:.2f} s wall ({before[-1][1]:.2f} s CPU)"
            )
    a, b = now[-1][2], before[-1][2]
    same_status = [p.status for p in a] == [p.status for p in b]
    top = int(np.argmax(grid))
    same_message = a[top].message == b[top].message
    best_now, best_before = min(t[0] for t in now), min(t[0] for t in before)
    cpu_now, cpu_before = min(t[1] for t in now), min(t[1] for t in before)
    print(
        f"statuses the same: {same_status}; message at the highest budget the same: {same_message}"
    )
    print(
        f"best of {args.rounds}: now {best_now:.2f} s, 1bf3b03 {best_before:.2f} s: "
        f"{best_before / best_now:.1f}x faster (CPU {cpu_before / cpu_now:.1f}x)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
