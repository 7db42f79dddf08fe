"""The budget review pack as a job (``budgetopt explain``): plan the scenario, add its
break-even economics, explain every line item, and write the pack in the format asked for."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from optimizer.allocate import DEFAULT_SOLVER, DEFAULT_TOLERANCE, Plan, allocate
from optimizer.allocate.engine import SolveOptions
from optimizer.app.run import require_plan
from optimizer.errors import BudgetOptError
from optimizer.explain import explain, read_last_cycle
from optimizer.explain.review import DEFAULT_SWEEP_POINTS
from optimizer.render import review_format_for
from optimizer.response.model import read_model
from optimizer.scenario import load_scenario
from optimizer.workflow.compare import extra_models_for, load_model_for
from optimizer.workflow.economics import with_economics


@dataclass(frozen=True)
class ReviewPack:
    """What ``write_review`` wrote: the plan reviewed, the file, and how many line items were
    explained with how many re-solves, in how many seconds (a plan on a calendar too)."""

    plan: Plan
    path: Path
    items: int | None = None
    n_solves: int | None = None
    seconds: float = 0.0


def write_review(
    scenario_path: Path,
    out: Path,
    *,
    fmt: str | None = None,
    model_path: Path | None = None,
    last_cycle: Path | None = None,
    increment: float | None = None,
    sweep_points: int | None = None,
    solver: str = DEFAULT_SOLVER,
    tolerance: float = DEFAULT_TOLERANCE,
    time_limit: float | None = None,
    progress: Callable[[str], None] | None = None,
) -> ReviewPack:
    """Plan ``scenario_path`` and write its review pack to ``out`` (format ``fmt``, or from the
    file's extension). An infeasible scenario or no plan is the located error ``require_plan``
    raises; a plan on a calendar (contract 7) is reviewed by ``explain.phased``. ``sweep_points``
    None: ``DEFAULT_SWEEP_POINTS``, and 0 for a plan on a calendar (its sweep of budgets re-solves
    more than the rest of its review, and slowly at small budgets: ask for it by number)."""
    fmt = fmt or review_format_for(out)
    if increment is not None and not increment > 0:
        raise BudgetOptError(
            f"expected a positive amount of money, got {increment!r}", field="--increment"
        )
    sc = load_scenario(scenario_path)
    if last_cycle is not None and sc.is_phased:
        raise BudgetOptError(
            f"--last-cycle is not used for a plan on a calendar (scenario {scenario_path})",
            field="--last-cycle",
        )
    model = read_model(model_path) if model_path else load_model_for(sc)
    last = read_last_cycle(last_cycle, ids=list(model.touchpoints)) if last_cycle else None
    extra: dict[str, Any] = dict(extra_models_for(sc))
    solve_options: SolveOptions = {
        "solver": solver,
        "tolerance": tolerance,
        "time_limit": time_limit,
    }
    plan = allocate(sc, model, extra_models=extra, **solve_options)
    require_plan(plan, scenario_path)
    # the pack justifies this plan, the optimum on the point curves; optimize's default may make
    # the anchored plan instead: which one, weighed on the model's draws from this very optimum
    default = None
    if not plan.periods:
        from optimizer.explain.default_plan import default_plan
        from optimizer.workflow.anchored import auto_choice

        chosen = auto_choice(
            sc, model, plan, extra_models=extra, solver=solver, tolerance=tolerance
        )
        default = default_plan(plan, chosen)
    # break-even for the review's headline (when the KPI is money)
    plan = with_economics(sc, model, plan, extra_models=extra, **solve_options)
    if plan.periods:
        # a plan on a calendar (contract 7): the plan by period, every line item justified on
        # its calendar (explain.phased), the ladder
        from optimizer.explain.phased import explain_phased
        from optimizer.render import report_phased

        writers = {
            "html": report_phased.write_phased_html,
            "md": report_phased.write_phased_md,
            "xlsx": report_phased.write_phased_xlsx,
            "json": report_phased.write_phased_json,
        }
        if fmt not in writers:  # pragma: no cover - review_format_for knows these four
            raise BudgetOptError(
                f"the review of a plan on a calendar is written as HTML, Markdown, XLSX or JSON "
                f"(got --format {fmt})",
                path=scenario_path,
                field="format",
            )
        be = plan.break_even
        t0 = time.perf_counter()
        pexp = explain_phased(
            plan,
            sc,
            model,
            increment=increment,
            solver=solver,
            plan_tolerance=tolerance,
            sweep_points=0 if sweep_points is None else sweep_points,
            extra_models=extra,
            break_even=None if be is None else be.threshold,
            progress=progress,
        )
        writers[fmt](plan, out, pexp)
        return ReviewPack(plan, out, len(pexp.items), pexp.n_solves, time.perf_counter() - t0)
    t0 = time.perf_counter()
    exp = explain(
        plan,
        sc,
        model,
        last_cycle=last,
        increment=increment,
        solver=solver,
        plan_tolerance=tolerance,
        sweep_points=DEFAULT_SWEEP_POINTS if sweep_points is None else sweep_points,
        extra_models=extra,
        progress=progress,
    )
    exp = dataclasses.replace(exp, optimize_default=default)
    if fmt == "html":
        from optimizer.render.report_html import write_html as write
    elif fmt == "xlsx":
        from optimizer.render.report_xlsx import write_xlsx as write
    elif fmt == "json":
        from optimizer.render.report_json import write_json as write
    else:
        from optimizer.render.report_md import write_markdown as write
    write(exp, out)
    return ReviewPack(plan, out, len(exp.items), exp.n_solves, time.perf_counter() - t0)
