"""How long the review of a plan on a calendar takes (``explain_phased``: every line item's role,
three re-solves per funded line item, the ladder), against one ``optimize`` of the same scenario in
the same run.

Run from the project root::

    .venv/bin/python benchmarks/phased_explain.py            # the sample's year by month and by week
    .venv/bin/python benchmarks/phased_explain.py --quick    # by month only

The scenarios: ``scenarios/fy26_monthly.yaml`` (14 touchpoints × 12 months over 52 weeks, carry-over
in and after, a quarter's cap, TV's change limits, radio dark in August) and the same year decided
week by week (14 × 52 decisions; its month-labelled rules left out). Printed per scenario: the
plan's time (the median of 3 solves), and with the sweep of budgets for the role ranges (21
points, the default) and without (``--sweep-points 0``) the review's time, its ratio to the plan's,
the number of re-solves and the time per re-solve. The exit code is 0 whatever the numbers.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from optimizer.allocate import allocate  # noqa: E402
from optimizer.explain.phased import explain_phased  # noqa: E402
from optimizer.scenario import Scenario, load_scenario  # noqa: E402
from optimizer.workflow.compare import load_model_for  # noqa: E402


def weekly(sc: Scenario) -> Scenario:
    """The same year decided week by week, without its month-labelled rules."""
    tps = dict(sc.touchpoints)
    for tid in ("tv", "radio"):
        tps.pop(tid, None)
    return sc.model_copy(
        update={"phasing": "week", "periods": {}, "touchpoints": tps, "name": "FY26 by week"}
    )


def measure(sc: Scenario) -> None:
    model = load_model_for(sc)
    times = []
    for _ in range(3):
        t = time.perf_counter()
        plan = allocate(sc, model)
        times.append(time.perf_counter() - t)
    t_plan = statistics.median(times)
    print(
        f"{sc.name}: {len(plan.line_items)} line items × {len(plan.periods)} periods, plan "
        f"{t_plan:.2f} s ({plan.solver}, gap {plan.gap:.1e})"
    )
    for points in (21, 0):
        t = time.perf_counter()
        e = explain_phased(plan, sc, model, sweep_points=points)
        t_exp = time.perf_counter() - t
        print(
            f"  review, --sweep-points {points:>2}: {t_exp:6.2f} s  ratio {t_exp / t_plan:5.1f}×  "
            f"re-solves {e.n_solves} ({e.loose} at the plan's tolerance)  "
            f"{t_exp / e.n_solves:5.2f} s per re-solve"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="the year by month only")
    a = ap.parse_args()
    sc = load_scenario(ROOT / "scenarios" / "fy26_monthly.yaml")
    measure(sc)
    if not a.quick:
        measure(weekly(sc))


if __name__ == "__main__":
    main()
