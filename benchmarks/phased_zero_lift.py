"""A plan on a calendar that leaves a vertical-at-zero curve unfunded: its plan and its review with
the interior point's certificate as it is (``plan_bound``: the Lagrangian bound at the plan's
adstock multipliers, or at those of the plan with its zeros that earn more than their price
lifted) against the certificate before session 18 (the bound at the plan's own multipliers only),
in the same run.

Run from the project root::

    .venv/bin/python benchmarks/phased_zero_lift.py
    .venv/bin/python benchmarks/phased_zero_lift.py --update-readme   # and write README.md's table

The scenarios: ``scenarios/fy26_monthly.yaml`` (14 × 12; radio, a hill curve of shape 0.9, is
funded: nothing to lift, so the two certificates should cost the same) and the same year with an
awareness share floor of 35% and radio's effect cut to 15% (radio unfunded from May on, where its
slope at zero adstock is infinite: the bound at the plan's own multipliers is off by more than the
plan, and the engine fell back to the LP over pieces). Printed per scenario and certificate: the
plan's time (median of 5, after one untimed), the method that certified it, its gap and KPI, and the review's time
(``explain_phased``, no sweep, the CLI's default) with its number of re-solves; then the ratios of
the old certificate's times to the new one's. The exit code is 0 whatever the numbers.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _readme import git_commit, update_block  # noqa: E402

import optimizer.allocate.phased as phased  # noqa: E402
from optimizer.allocate import allocate  # noqa: E402
from optimizer.allocate.phased_certificate import lagrangian_bound, plan_bound  # noqa: E402
from optimizer.allocate.phased_model import adjoint  # noqa: E402
from optimizer.explain.phased import explain_phased  # noqa: E402
from optimizer.scenario import load_scenario  # noqa: E402
from optimizer.workflow.compare import load_model_for  # noqa: E402


def at_plan_only(problem, cells, X, duals, xhi, ahi) -> float:
    """The certificate before session 18: the bound at the plan's own adstock multipliers."""
    return lagrangian_bound(problem, cells, adjoint(problem, X), duals, xhi, ahi)[0]


def weak_radio(tmp: Path) -> Path:
    model = json.loads((ROOT / "optimizer" / "sample" / "true_model.json").read_text())
    model["touchpoints"]["radio"]["curve"]["beta"] *= 0.15
    (tmp / "weak_radio.json").write_text(json.dumps(model))
    sc = yaml.safe_load((ROOT / "scenarios" / "fy26_monthly.yaml").read_text())
    sc["name"] = "FY26 by month, awareness share >= 35%, radio's effect x 0.15"
    sc["model"] = str(tmp / "weak_radio.json")
    sc["carryover"]["before"] = str(ROOT / "optimizer" / "sample" / "history.csv")
    sc["stages"] = {"awareness": {"min_share": 0.35}}
    path = tmp / "weak_radio.yaml"
    path.write_text(yaml.safe_dump(sc, sort_keys=False))
    return path


def measure(path: Path, bound) -> dict:
    phased.plan_bound = bound
    sc = load_scenario(path)
    model = load_model_for(sc)
    allocate(sc, model)  # warm-up, not timed
    times = []
    for _ in range(5):
        t = time.perf_counter()
        plan = allocate(sc, model)
        times.append(time.perf_counter() - t)
    t = time.perf_counter()
    e = explain_phased(plan, sc, model, sweep_points=0)
    review = time.perf_counter() - t
    out = {
        "plan": statistics.median(times),
        "solver": plan.solver,
        "gap": plan.gap,
        "kpi": plan.total_kpi,
        "review": review,
        "solves": e.n_solves,
    }
    print(
        f"  {bound.__name__:>12}: plan {out['plan']:.2f} s ({plan.solver}, gap {plan.gap:.1e}, "
        f"KPI {plan.total_kpi:,.2f}); review {review:.1f} s, {e.n_solves} re-solves",
        flush=True,
    )
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--update-readme", action="store_true", help="write README.md's table")
    args = sys.argv[1:] if argv is None else argv
    a = ap.parse_args(args)
    commit, load0 = git_commit(), os.getloadavg()[0]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for path in (ROOT / "scenarios" / "fy26_monthly.yaml", weak_radio(Path(tmp))):
            print(load_scenario(path).name, flush=True)
            new = measure(path, plan_bound)
            old = measure(path, at_plan_only)
            phased.plan_bound = plan_bound
            rows.append((load_scenario(path).name, new, old))
    lines = [
        f"Measured {_dt.datetime.now(_dt.UTC).strftime('%Y-%m-%d %H:%M UTC')} at commit `{commit}` "
        f"with `nice -n 10 .venv/bin/python benchmarks/phased_zero_lift.py` ({os.cpu_count()} "
        f"cores shared with other jobs: load average {load0:.1f} at the start, "
        f"{os.getloadavg()[0]:.1f} at the end; the ratios, measured in the same run, are the "
        "numbers to keep):",
        "",
        "| scenario | certificate | plan | certified by, gap | KPI | review (re-solves) |",
        "|---|---|---:|---|---:|---:|",
    ]
    for name, new, old in rows:
        for label, m in (("now (`plan_bound`)", new), ("at the plan's multipliers only", old)):
            lines.append(
                f"| {name} | {label} | {m['plan']:.2f} s | {m['solver']}, {m['gap']:.1e} | "
                f"{m['kpi']:,.2f} | {m['review']:.1f} s ({m['solves']}) |"
            )
        lines.append(
            f"| | old / now | {old['plan'] / new['plan']:.1f}× | | "
            f"{new['kpi'] - old['kpi']:+,.2f} now | {old['review'] / new['review']:.1f}× |"
        )
    text = "\n".join(lines) + "\n"
    print("\n" + text)
    if a.update_readme:
        update_block("phased_zero_lift", text)


if __name__ == "__main__":
    main()
