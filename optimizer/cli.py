"""The ``budgetopt`` command line: parse → call → render. No business logic here.

Machine formats (``--format json|csv``) go to stdout alone or to ``-o FILE``; progress, warnings and
messages go to stderr. Bad input exits 2 with one paragraph naming the file, field and value; an
infeasible scenario exits 3 naming the constraints that conflict; never a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from optimizer import __version__
from optimizer.cli_common import (
    CONTEXT,
    Number,
    _emit,
    _emit_csv,
    _excel_option,
    _executor,
    _executor_options,
    _exit_if_not_certified,
    _ledger_options,
    _output,
    _progress,
    _record,
    _record_review,
    _show,
    _solver_options,
    _spec,
    _stderr,
    _warn_carryover,
    _warn_extrapolation,
    _warn_extrapolation_from,
    _wide_option,
    format_option,
    handle_errors,
    model_option,
    output_option,
    refuse_foreign_output,
    refuse_overwriting_inputs,
    refuse_unwritable_output,
)
from optimizer.cli_cycle import diff, history, replan, rerun, track
from optimizer.cli_data import aggregate, demo, fit, validate
from optimizer.defaults import (
    DEFAULT_ROBUST,
    DEFAULT_SWEEP_JOBS,
    DEFAULT_SWEEP_POINTS,
    ROBUST_MODES,
)
from optimizer.render import COMPARE_FORMATS, REVIEW_FORMATS, TABLE_FORMATS


@click.group(context_settings=CONTEXT)
@click.version_option(__version__, "--version", prog_name="budgetopt")
def cli() -> None:
    """budgetopt: learn how each touchpoint's KPI responds to spend, then allocate a zero-based
    budget that is certified optimal, and justify every line item.

    \b
    Example:
      budgetopt demo --out demo-output
      budgetopt fit --journey journey.yaml --history history.csv -o model.json
      budgetopt optimize scenarios/base.yaml
    """
    # numpy's warnings are silenced by each command as it starts (``handle_errors``), so that
    # ``--help`` of a command does not import numpy


# ------------------------------------------------------------------------------------------------
@cli.command(context_settings=CONTEXT)
@click.argument("scenario", type=click.Path(path_type=Path))
@format_option(TABLE_FORMATS)
@output_option(help="Write to this file instead of stdout.")
@model_option()
@click.option(
    "--robust",
    type=click.Choice(ROBUST_MODES),
    default=DEFAULT_ROBUST,
    show_default=True,
    help="none: the optimum on the model's point curves. mean: maximise the expected KPI over "
    "the model's draws of its curves. anchored: the "
    "plan on the line from the historical mix to the optimum on the point curves whose uplift "
    "over the historical mix, less --risk times the draws' shortfall below it (their standard "
    "deviation where the fit pooled every touchpoint), is highest (it stays near the "
    "historical mix where the draws fall short of the point curves; not the optimum). auto: "
    "the anchored plan where the fit pooled every touchpoint or the draws expect less from "
    "the point optimum than its curves promise, else the optimum on the point curves (also "
    "where the anchored plan cannot be made: no draws, a markets index, a phased scenario, an "
    "objective other than max_kpi, whole-unit rules, no historical mean spend); "
    "the output says which and why.",
)
@click.option(
    "--risk",
    type=float,
    default=None,
    metavar="R",
    help="With --robust anchored (or auto, when it makes the anchored plan): how many times "
    "the draws' shortfall below the point uplift "
    "(root mean square; their standard deviation at full pooling) is taken off the point "
    "uplift (default 0.75; 0: the optimum on the point curves).",
)
@click.option(
    "--uncertainty",
    is_flag=True,
    help="Re-optimise on each of the model's draws of its curves and show the P10/P50/P90 of "
    "every line item's spend and of total KPI (the draws run on --workers or "
    "--scheduler when given), and where an experiment pays: the value of "
    "knowing each touchpoint's curve exactly (EVPPI).",
)
@click.option(
    "--no-value-of-information",
    "no_voi",
    is_flag=True,
    help="With --uncertainty: skip the value of information (it re-optimises the "
    "scenario touchpoints × draws more times).",
)
@_solver_options
@_executor_options
@_ledger_options
@_excel_option
@_wide_option
@handle_errors
def optimize(
    scenario: Path,
    fmt: str,
    out: Path | None,
    model_path: Path | None,
    robust: str,
    risk: float | None,
    uncertainty: bool,
    no_voi: bool,
    solver: str,
    tolerance: float,
    time_limit: float | None,
    workers: int | None,
    scheduler: str | None,
    ledger_file: Path | None,
    no_ledger: bool,
    quiet: bool,
) -> None:
    """Allocate the budget of a scenario: the certified-optimal plan per line item.

    Every run is recorded in the ledger (see budgetopt history).

    \b
    Example:
      budgetopt optimize scenarios/base.yaml
      budgetopt optimize scenarios/base.yaml --format json -o plan.json
      budgetopt optimize scenarios/base.yaml --robust mean --uncertainty
      budgetopt optimize scenarios/base.yaml --robust anchored [--risk 1]
      budgetopt optimize scenarios/base.yaml --uncertainty --no-value-of-information
    """
    from optimizer.app.run import execute, load_inputs, plan_uncertainty, require_plan
    from optimizer.render import machine, planning, tables
    from optimizer.workflow.variants import count_variants

    spec = _spec(
        "optimize", [scenario], model_path, solver, tolerance, time_limit, robust=robust, risk=risk
    )
    if (workers is not None or scheduler is not None) and not uncertainty:
        _stderr(
            "warning: --workers and --scheduler run the draws of --uncertainty on a Dask "
            "cluster; without --uncertainty the plan is one solve, made here (the option is "
            "not used)"
        )
    inputs = load_inputs(spec)  # the scenario and its models, read once for everything below
    if uncertainty:  # say so before optimising when the model has no draws to spread over
        from optimizer.workflow.robust import require_draws

        require_draws(inputs.model)
    plan = execute(spec, inputs=inputs)
    _warn_extrapolation([plan])
    if plan.status == "infeasible" or not plan.ok:
        _record(spec, plan, ledger_file, no_ledger, True)
    require_plan(plan, scenario)
    unc = None
    if uncertainty:
        with (
            _executor(workers, scheduler, quiet) as ex,
            _progress("re-optimising on each draw", quiet) as bar,
        ):
            unc = plan_uncertainty(
                spec, inputs, plan, value_of_information=not no_voi, progress=bar, executor=ex
            )
    extra = {"uncertainty": unc.to_dict()} if unc is not None else None
    _record(spec, plan, ledger_file, no_ledger, quiet, extra)
    n = 0 if quiet else count_variants(inputs.scenario)
    if n:
        _stderr(
            f"note: {scenario} declares {n} variant(s): compare them with "
            f"budgetopt compare {scenario}"
        )
    if fmt == "json":
        _emit(machine.to_json(planning.plan_dict(plan, unc)), out, quiet)
    elif fmt == "csv":
        _emit_csv(machine.plan_csv(plan, unc), out, quiet)
    else:
        from rich.console import Group

        parts = [tables.plan_renderable(plan), planning.robust_note(plan)]
        if unc is not None:
            parts.append(planning.uncertainty_renderable(unc))
        _show(Group(*[p for p in parts if p is not None]), out, quiet)
    _exit_if_not_certified([plan])


# ------------------------------------------------------------------------------------------------
@cli.command(context_settings=CONTEXT)
@click.argument("scenarios", nargs=-1, required=True, type=click.Path(path_type=Path))
@format_option(COMPARE_FORMATS, help="xlsx needs -o FILE.")
@output_option()
@model_option("Use this model for every scenario instead of the ones they name.")
@click.option(
    "--reference",
    default=None,
    metavar="NAME",
    help="The scenario the deltas are taken against [default: the first].",
)
@_solver_options
@_ledger_options
@_executor_options
@_excel_option
@_wide_option
@handle_errors
def compare(
    scenarios: tuple[Path, ...],
    fmt: str,
    out: Path | None,
    model_path: Path | None,
    reference: str | None,
    solver: str,
    tolerance: float,
    time_limit: float | None,
    ledger_file: Path | None,
    no_ledger: bool,
    quiet: bool,
    workers: int | None,
    scheduler: str | None,
) -> None:
    """Compare scenarios side by side: totals, spend by stage, spend per line item with deltas
    against the reference, and in each scenario the rules that cost the most KPI.

    A single file that declares variants, a grid or a sweep is compared with its variants.

    \b
    Example:
      budgetopt compare scenarios/base.yaml scenarios/budget_cut.yaml scenarios/awareness_push.yaml
      budgetopt compare scenarios/plan.yaml --reference cut --format xlsx -o comparison.xlsx
      budgetopt compare scenarios/grid.yaml --scheduler tcp://scheduler:8786 --format json -o set.json
    """
    from optimizer.app.run import execute
    from optimizer.render import machine, planning
    from optimizer.scenario import load_scenario
    from optimizer.workflow.variants import declares_variants

    if fmt == "xlsx" and out is None:
        raise click.UsageError("--format xlsx writes a workbook: give -o FILE.xlsx")
    if len(scenarios) < 2 and not declares_variants(load_scenario(scenarios[0])):
        raise click.UsageError(
            "compare needs at least two scenarios, or one file that declares "
            "variants, a grid or a sweep"
        )
    spec = _spec(
        "compare", scenarios, model_path, solver, tolerance, time_limit, reference=reference
    )
    with (
        _executor(workers, scheduler, quiet) as ex,
        _progress("optimising", quiet, at_least=3) as bar,
    ):
        comp = execute(spec, progress=bar, executor=ex)
    _warn_extrapolation(comp.plans, named=True)
    _record(spec, comp, ledger_file, no_ledger, quiet)
    if fmt == "json":
        _emit(machine.comparison_json(comp), out, quiet)
    elif fmt == "csv":
        _emit_csv(machine.comparison_csv(comp), out, quiet)
    elif fmt == "xlsx":
        from optimizer.render.xlsx_compare import write_comparison_xlsx

        assert out is not None  # refused above: xlsx needs -o FILE
        write_comparison_xlsx(comp, out)
        if not quiet:
            _stderr(f"wrote {out}")
    else:
        _show(planning.comparison_with_costs(comp), out, quiet)
    bad = [p for p in comp.plans if not p.ok]
    if bad:
        if fmt != "table" or (out is not None and str(out) != "-"):
            _say_no_plan(
                bad
            )  # the table on stdout says it under the plans; JSON, CSV, files do not
        sys.exit(3)
    _exit_if_not_certified(comp.plans)


def _say_no_plan(plans: Any) -> None:
    """On stderr, each plan that is none (an infeasible scenario, naming the rules that conflict;
    a solver that stopped without one) in ``optimize``'s words: the exit code alone would not say
    which scenario failed, nor why."""
    from optimizer.app.run import require_plan
    from optimizer.errors import BudgetOptError, InfeasibleError

    for p in plans:
        try:
            require_plan(p, p.source)
        except BudgetOptError as e:
            _stderr(f"{'infeasible' if isinstance(e, InfeasibleError) else 'error'}: {e}")


# ------------------------------------------------------------------------------------------------
@cli.command(context_settings=CONTEXT)
@click.argument("scenario", type=click.Path(path_type=Path))
@click.option(
    "--budgets",
    default=None,
    metavar="START:STOP:N",
    help="N evenly spaced budgets from START to STOP, both included [default: the "
    "scenario's declared sweep].",
)
@format_option(TABLE_FORMATS)
@output_option()
@click.option(
    "--plot", type=click.Path(path_type=Path), default=None, help="Write the frontier chart (PNG)."
)
@model_option(None)
@click.option(
    "--cold",
    is_flag=True,
    help="Optimise each budget from scratch instead of warm from the previous point "
    "(slower; the same certificate).",
)
@click.option(
    "--jobs",
    type=Number(1, 256, integer=True),
    default=DEFAULT_SWEEP_JOBS,
    show_default=True,
    help="Local processes: stretches of 25 budgets are walked in parallel (the plans "
    "do not depend on it).",
)
@_solver_options
@_ledger_options
@_executor_options
@_excel_option
@_wide_option
@handle_errors
def sweep(
    scenario: Path,
    budgets: str | None,
    fmt: str,
    out: Path | None,
    plot: Path | None,
    model_path: Path | None,
    cold: bool,
    jobs: int,
    solver: str,
    tolerance: float,
    time_limit: float | None,
    ledger_file: Path | None,
    no_ledger: bool,
    quiet: bool,
    workers: int | None,
    scheduler: str | None,
) -> None:
    """The budget frontier: KPI and marginal ROI against total budget, with the point of
    diminishing returns marked.

    \b
    Example:
      budgetopt sweep scenarios/base.yaml --budgets 500000:3000000:11 --plot frontier.png
      budgetopt sweep scenarios/base.yaml --budgets 1000000:20000000:50 --jobs 2 -q
      budgetopt sweep scenarios/base.yaml --budgets 1000000:20000000:500 --workers 2
    """
    from optimizer.app.run import execute
    from optimizer.render import machine, tables
    from optimizer.workflow.sweep import parse_budgets

    grid = None if budgets is None else tuple(float(b) for b in parse_budgets(budgets))
    if plot is not None:  # said before the sweep (minutes on a big plan), not after it
        from optimizer.errors import DataError
        from optimizer.io.files import check_can_write

        if plot.suffix.lower() != ".png":
            raise DataError(
                f"the frontier chart is a PNG: give a file name ending in .png (got {plot.name!r})",
                path=plot,
                field="--plot",
            )
        check_can_write(plot, folder=False, field="--plot")
    spec = _spec(
        "sweep",
        [scenario],
        model_path,
        solver,
        tolerance,
        time_limit,
        budgets=grid,
        warm=not cold,
        jobs=jobs,
    )
    with (
        _executor(workers, scheduler, quiet, jobs=jobs) as ex,
        _progress("sweeping budgets", quiet) as bar,
    ):
        frontier = execute(spec, progress=bar, executor=ex)
    _warn_extrapolation_from(frontier)
    _warn_carryover(next((p for p in frontier.plans if p.line_items), frontier.plans[0]), scenario)
    _record(spec, frontier, ledger_file, no_ledger, quiet)
    if plot is not None:
        from optimizer.render.charts import save_frontier_plot

        save_frontier_plot(frontier, plot)
        if not quiet:
            _stderr(f"wrote {plot}")
    _output(
        fmt,
        out,
        quiet,
        json=lambda: machine.frontier_json(frontier),
        csv=lambda: machine.frontier_csv(frontier),
        table=lambda: tables.frontier_renderable(frontier),
    )
    _exit_if_not_certified(frontier.plans)


# ------------------------------------------------------------------------------------------------
@cli.command(context_settings=CONTEXT)
@click.argument("scenario", type=click.Path(path_type=Path))
@format_option(
    REVIEW_FORMATS,
    default=None,
    help="Report format (default: from the file's extension, else md).",
)
@output_option(required=True, help="Where to write the review pack.")
@model_option()
@click.option(
    "--last-cycle",
    "last_cycle",
    type=click.Path(path_type=Path),
    default=None,
    help="Last cycle's spend per line item (CSV with columns id,spend).",
)
@click.option(
    "--increment",
    type=Number(0.0, 1e12, low_open=True),
    default=None,
    metavar="MONEY",
    help="Move each line item up and down by this much [default: 10% of its spend].",
)
@click.option(
    "--sweep-points",
    type=click.IntRange(min=0),
    default=None,
    help="Budgets from 0 to twice the budget, to find where each line item's role "
    "changes (0 skips the sweep and the frontier: faster on big MILPs) "
    f"[default: {DEFAULT_SWEEP_POINTS}; 0 for a plan on a calendar, whose sweep costs more "
    "re-solves than the rest of its review].",
)
@_solver_options
@_ledger_options
@_wide_option
@handle_errors
def explain(
    scenario: Path,
    fmt: str | None,
    out: Path,
    model_path: Path | None,
    last_cycle: Path | None,
    increment: float | None,
    sweep_points: int | None,
    solver: str,
    tolerance: float,
    time_limit: float | None,
    ledger_file: Path | None,
    no_ledger: bool,
    quiet: bool,
) -> None:
    """The budget review pack: every line item justified. Why it stops where it stops, what
    the next increment buys and the last one lost (re-solving the plan), the zero-based ladder
    with its cut-off line, stages, groups and every constraint's price in words.

    \b
    Example:
      budgetopt explain scenarios/base.yaml -o review.html
      budgetopt explain scenarios/base.yaml --format xlsx -o review.xlsx --last-cycle last.csv
      budgetopt explain scenarios/base.yaml --format md -o review.md --increment 25000
    """
    from optimizer.app.review import write_review

    refuse_foreign_output(out, ("md", "html", "xlsx", "json"))
    refuse_unwritable_output(out)
    refuse_overwriting_inputs(out, {"scenario": scenario})
    pack = write_review(
        scenario,
        out,
        fmt=fmt,
        model_path=model_path,
        last_cycle=last_cycle,
        increment=increment,
        sweep_points=sweep_points,
        solver=solver,
        tolerance=tolerance,
        time_limit=time_limit,
        progress=None if quiet else _stderr,
    )
    _warn_carryover(pack.plan)
    if pack.items is not None and not quiet:
        _stderr(
            f"explained {pack.items} line items with {pack.n_solves} re-solves in "
            f"{pack.seconds:.1f} s"
        )
    if not quiet:
        _stderr(f"wrote {out}")
    _record_review(
        _spec("explain", [scenario], model_path, solver, tolerance, time_limit),
        pack,
        ledger_file,
        no_ledger,
        quiet,
        last_cycle=last_cycle,
        review={
            "format": pack.path.suffix.lstrip(".") if fmt is None else fmt,
            "output": str(Path(out).resolve()),
            "increment": increment,
            # the number the review used (None is 21 undated, 0 on a calendar): a ledger entry
            # says what was done, as it did before the calendar's default existed
            "sweep_points": (
                sweep_points
                if sweep_points is not None
                else (0 if pack.plan.periods else DEFAULT_SWEEP_POINTS)
            ),
            "last_cycle": None if last_cycle is None else str(Path(last_cycle).resolve()),
        },
    )
    _exit_if_not_certified([pack.plan])


# the other commands live in their own modules (cli_data, cli_cycle); registered here
for _command in (fit, validate, aggregate, demo, history, diff, rerun, track, replan):
    cli.add_command(_command)


def main() -> None:  # pragma: no cover - entry point
    cli(prog_name="budgetopt")
