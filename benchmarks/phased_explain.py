"""How long the review of a plan on a calendar takes (``explain_phased``: every line item's role,
three re-solves per funded line item, the ladder), against one ``optimize`` of the same scenario in
the same run.

Run from the project root::

    .venv/bin/python benchmarks/phased_explain.py            # the sample's year by month and by week
    .venv/bin/python benchmarks/phased_explain.py --quick    # by month only
    .venv/bin/python benchmarks/phased_explain.py --update-readme  # and write README.md's table

The scenarios: ``scenarios/fy26_monthly.yaml`` (14 touchpoints × 12 months over 52 weeks, carry-over
in and after, a quarter's cap, TV's change limits, radio dark in August) and the same year decided
week by week (14 × 52 decisions; its month-labelled rules left out). Printed per scenario: the
plan's time (the median of 3 solves), and with the sweep of budgets for the role ranges (21
points) and without (``--sweep-points 0``, the CLI's default for a plan on a calendar) the
review's time, its ratio to the plan's, the number of re-solves and the time per re-solve.
``--update-readme`` writes the table, with the date, commit, command and machine load, between
benchmarks/README.md's ``<!-- phased_explain:begin -->`` / ``end`` markers (the README's table is
written this way, not by hand). The exit code is 0 whatever the numbers.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _readme import git_commit, update_block  # noqa: E402

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


@dataclass
class Review:
    """One review's measurement: its time, re-solves and those left at the plan's tolerance."""

    seconds: float
    solves: int
    loose: int


@dataclass
class Row:
    """One scenario: the plan's time and the review with each ``--sweep-points``."""

    name: str
    shape: str  # "14 × 12": line items × periods
    plan_seconds: float
    reviews: dict[int, Review]


def measure(sc: Scenario) -> Row:
    model = load_model_for(sc)
    times = []
    for _ in range(3):
        t = time.perf_counter()
        plan = allocate(sc, model)
        times.append(time.perf_counter() - t)
    t_plan = statistics.median(times)
    print(
        f"{sc.name}: {len(plan.line_items)} line items × {len(plan.periods)} periods, plan "
        f"{t_plan:.2f} s ({plan.solver}, gap {plan.gap:.1e})",
        flush=True,
    )
    reviews = {}
    for points in (21, 0):
        t = time.perf_counter()
        e = explain_phased(plan, sc, model, sweep_points=points)
        t_exp = time.perf_counter() - t
        reviews[points] = Review(t_exp, e.n_solves, e.loose)
        print(
            f"  review, --sweep-points {points:>2}: {t_exp:6.2f} s  ratio {t_exp / t_plan:5.1f}×  "
            f"re-solves {e.n_solves} ({e.loose} at the plan's tolerance)  "
            f"{t_exp / e.n_solves:5.2f} s per re-solve",
            flush=True,
        )
    return Row(sc.name, f"{len(plan.line_items)} × {len(plan.periods)}", t_plan, reviews)


def _cell(r: Review, plan_seconds: float) -> str:
    loose = f", {r.loose} at the plan's tolerance" if r.loose else ""
    return (
        f"{r.seconds:.1f} s ({r.seconds / plan_seconds:.0f}×), {r.solves} re-solves{loose}, "
        f"{r.seconds / r.solves:.2f} s each"
    )


def table(rows: list[Row]) -> list[str]:
    """The markdown table of ``rows``: the plan, the review without the sweep (the default) and
    with ``--sweep-points 21``, each with its ratio to the plan, re-solves and time per re-solve."""
    out = [
        "| scenario | plan | review, no sweep (default) | review, `--sweep-points 21` |",
        "|---|---:|---:|---:|",
    ]
    for r in rows:
        out.append(
            f"| {r.name}, {r.shape} | {r.plan_seconds:.2f} s | {_cell(r.reviews[0], r.plan_seconds)}"
            f" | {_cell(r.reviews[21], r.plan_seconds)} |"
        )
    return out


def block(rows: list[Row], argv: list[str], commit: str, load0: float, load1: float) -> str:
    """The README block: when, at which commit, with which command and machine load, the table."""
    cmd = " ".join(["benchmarks/phased_explain.py", *argv])
    head = (
        f"Measured {_dt.datetime.now(_dt.UTC).strftime('%Y-%m-%d %H:%M UTC')} at commit "
        f"`{commit}` with `nice -n 10 .venv/bin/python {cmd}` ({os.cpu_count()} cores shared "
        f"with other jobs: load average {load0:.1f} at the start, {load1:.1f} at the end, so the "
        "seconds are inflated; the ratios to the plan, measured in the same run, are the numbers "
        "to keep):"
    )
    return "\n".join([head, "", *table(rows)]) + "\n"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="the year by month only")
    ap.add_argument(
        "--update-readme",
        action="store_true",
        help="write the table into benchmarks/README.md between its phased_explain markers",
    )
    args = sys.argv[1:] if argv is None else argv
    a = ap.parse_args(args)
    commit, load0 = git_commit(), os.getloadavg()[0]
    sc = load_scenario(ROOT / "scenarios" / "fy26_monthly.yaml")
    rows = [measure(sc)]
    if not a.quick:
        rows.append(measure(weekly(sc)))
    text = block(rows, args, commit, load0, os.getloadavg()[0])
    print("\n" + text)
    if a.update_readme:
        update_block("phased_explain", text)


if __name__ == "__main__":
    main()
