"""The ``budgetopt`` command line: parse → call → render. No business logic here.

Machine formats (``--format json|csv``) go to stdout alone or to ``-o FILE``; progress, warnings and
messages go to stderr. Bad input exits 2 with one paragraph naming the file, field and value; an
infeasible scenario exits 3 naming the constraints that conflict; never a traceback.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from optimizer import __version__
from optimizer.errors import BudgetOptError, InfeasibleError

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def _stderr(msg: str) -> None:
    click.echo(msg, err=True)


def handle_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn our exceptions into a clean message and exit code; unexpected ones into one line too."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except BudgetOptError as e:
            kind = "infeasible" if isinstance(e, InfeasibleError) else "error"
            _stderr(f"{kind}: {e}")
            sys.exit(e.exit_code)
        except click.exceptions.Exit:
            raise
        except click.ClickException:
            raise
        except KeyboardInterrupt:
            _stderr("interrupted")
            sys.exit(130)
        except Exception as e:  # noqa: BLE001 - a user never sees a traceback
            if os.environ.get("BUDGETOPT_DEBUG"):
                raise
            _stderr(
                f"internal error: {type(e).__name__}: {e} (set BUDGETOPT_DEBUG=1 to see the "
                "traceback, and please report it)"
            )
            sys.exit(70)

    return wrapper


def _exit_if_not_certified(plans: Any) -> None:
    """A plan whose gap stayed above the tolerance was still written: say so, and exit 4."""
    from optimizer.errors import EXIT_NOT_CERTIFIED

    bad = [p for p in plans if p.status == "not_certified"]
    for p in bad:
        gap = "unknown" if p.gap is None else f"{p.gap:.4%}"
        _stderr(
            f"warning: the plan of '{p.scenario}' is not certified optimal: it holds every "
            f"rule, but its gap to the bound on the exact optimum is {gap}, above the "
            "tolerance (status not_certified, exit 4)"
        )
    if bad:
        sys.exit(EXIT_NOT_CERTIFIED)


def _solver_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn = click.option(
        "--time-limit",
        type=float,
        default=None,
        metavar="SECONDS",
        help="Stop the solver after this many seconds (status time_limit).",
    )(fn)
    fn = click.option(
        "--tolerance",
        type=float,
        default=1e-4,
        show_default=True,
        help="Certified gap to the exact optimum on the model's curves (0.0001 = 0.01%).",
    )(fn)
    fn = click.option(
        "--solver",
        type=click.Choice(["highs", "cbc"]),
        default="highs",
        show_default=True,
        help="LP/MILP solver.",
    )(fn)
    return fn


def _ledger_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--ledger PATH``, ``--no-ledger`` and ``-q/--quiet`` for the commands that record runs."""
    fn = click.option(
        "-q",
        "--quiet",
        is_flag=True,
        help="Nothing on stderr but warnings and errors (for scripts).",
    )(fn)
    fn = click.option("--no-ledger", is_flag=True, help="Do not record this run in the ledger.")(fn)
    fn = _ledger_path_option(fn)
    return fn


def _ledger_path_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--ledger",
        "ledger_file",
        type=click.Path(path_type=Path),
        default=None,
        envvar="BUDGETOPT_LEDGER",
        show_envvar=True,
        metavar="PATH",
        help="The ledger of runs (SQLite) [default: ./.budgetopt/ledger.sqlite].",
    )(fn)


def _executor_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--workers N`` (a local Dask cluster) and ``--scheduler ADDRESS`` (an existing one)."""
    fn = click.option(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="Run the tasks on the existing Dask cluster of this scheduler "
        "(tcp://host:8786) [env: BUDGETOPT_SCHEDULER]. Needs budgetopt[dask].",
    )(fn)
    fn = click.option(
        "--workers",
        type=click.IntRange(min=1),
        default=None,
        metavar="N",
        help="Run the tasks on a local Dask cluster of N worker processes, started "
        "for this run. Needs budgetopt[dask].",
    )(fn)
    return fn


def _warn_extrapolation(plans: Any, named: bool = False) -> None:
    """A warning per line item whose curve is used beyond its data (shown even with -q)."""
    from optimizer.render.tables import extrapolation_lines

    for p in plans:
        for line in extrapolation_lines(p):
            _stderr(f"warning: {p.scenario + ': ' if named else ''}extrapolation: {line}")


def _warn_extrapolation_from(frontier: Any) -> None:
    from optimizer.formatting import money

    for x in frontier.extrapolation:
        name = x["id"] + (f"@{x['market']}" if x.get("market") else "")
        what = (
            "its curve has no data (no spend seen)"
            if x["kind"] == "no_data"
            else f"it plans beyond the most spent in a week of its history ({money(x['max_seen'])})"
        )
        _stderr(f"warning: extrapolation: from a budget of {money(x['budget'])}, {name}: {what}")


@contextlib.contextmanager
def _executor(workers: int | None, scheduler: str | None, quiet: bool, jobs: int = 1) -> Any:
    """The executor the options ask for (in-process by default), closed on the way out."""
    from optimizer.workflow.executor import executor_from, quiet_dask_logs

    with executor_from(workers, scheduler, jobs=jobs) as ex:
        if not ex.in_process:
            quiet_dask_logs()
        if not quiet and not ex.in_process:
            _stderr(f"running on {ex.describe()}")
        yield ex


def _record(
    spec: Any,
    result: Any,
    ledger_file: Path | None,
    no_ledger: bool,
    quiet: bool,
    extra: dict[str, Any] | None = None,
) -> str | None:
    """Record a run in the ledger; a ledger that cannot take it is a warning, not a failure."""
    if no_ledger:
        return None
    from optimizer.app.run import record
    from optimizer.workflow.ledger import Ledger, ledger_path

    path = ledger_path(ledger_file)
    try:
        with Ledger(path) as led:
            run = record(led, spec.absolute(), result, extra=extra)
    except Exception as e:  # noqa: BLE001 - the plan stands even when the ledger cannot take it
        _stderr(f"warning: the run was not recorded in the ledger {path}: {e}")
        return None
    if not quiet:
        _stderr(f"recorded run {run.id} in {path}")
    return run.id


def _spec(
    command: str,
    scenarios: Any,
    model: Path | None,
    solver: str,
    tolerance: float,
    time_limit: float | None,
    **more: Any,
) -> Any:
    from optimizer.app.run import RunSpec

    return RunSpec(
        command,  # type: ignore[arg-type]
        tuple(str(p) for p in scenarios),
        model=str(model) if model else None,
        solver=solver,
        tolerance=tolerance,
        time_limit=time_limit,
        **more,
    )


@contextlib.contextmanager
def _progress(label: str, quiet: bool, at_least: int = 1) -> Any:
    """A rich progress bar on stderr (when it is a terminal and not ``quiet``), as a callback
    ``update(done, total, name="")``; shown once there are ``at_least`` steps."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    if quiet or not console.is_terminal:
        yield None
        return
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task: list[Any] = []

        def update(done: int, total: int, name: str = "") -> None:
            if total < at_least:
                return
            if not task:
                task.append(bar.add_task(label, total=total))
            bar.update(task[0], completed=done, total=total, description=f"{label} {name}".strip())

        yield update


def _emit(text: str, out: Path | None, quiet: bool) -> None:
    """Machine or table text to stdout, or to ``-o FILE`` (a 'wrote' line unless quiet)."""
    from optimizer.io.files import atomic_write_text

    if out is None:
        click.echo(text, nl=False)
    else:
        atomic_write_text(out, text)
        if not quiet:
            _stderr(f"wrote {out}")


def _output(
    fmt: str,
    out: Path | None,
    quiet: bool,
    *,
    json: Callable[[], str],
    csv: Callable[[], str],
    table: Callable[[], Any],
) -> None:
    """The one place a command's result goes out in the format asked for."""
    if fmt == "json":
        _emit(json(), out, quiet)
    elif fmt == "csv":
        _emit(csv(), out, quiet)
    else:
        _show(table(), out, quiet)


def _show(renderable: Any, out: Path | None, quiet: bool) -> None:
    from optimizer.render import tables

    if out is not None:
        _emit(tables.render_text(renderable), out, quiet)
    else:
        tables.print_renderable(renderable)


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


# ------------------------------------------------------------------------------------------------
@cli.command(context_settings=CONTEXT)
@click.option(
    "--journey",
    "journey_path",
    required=True,
    type=click.Path(path_type=Path),
    help="The journey file (touchpoints, stages, KPI).",
)
@click.option(
    "--history",
    "history_path",
    required=True,
    type=click.Path(path_type=Path),
    help="Weekly spend and KPI history (CSV).",
)
@click.option(
    "-o",
    "--output",
    "out",
    required=True,
    type=click.Path(path_type=Path),
    help="Where to write model.json (with --by-market: the folder for one model per market).",
)
@click.option(
    "--by-market",
    is_flag=True,
    help="The history has a 'market' column: fit one model per market, written to "
    "OUTPUT/<market>.json with OUTPUT/markets.json listing them.",
)
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Random seed (search, bootstrap)."
)
@click.option("--jobs", type=int, default=1, show_default=True, help="Local parallel jobs.")
@click.option(
    "--bootstrap",
    type=int,
    default=20,
    show_default=True,
    help="Block-bootstrap refits for the uncertainty of each curve (0 for none).",
)
@click.option(
    "--holdout",
    type=int,
    default=13,
    show_default=True,
    help="Final weeks held out to measure out-of-sample error.",
)
@click.option(
    "--plots",
    type=click.Path(path_type=Path),
    default=None,
    help="Folder for one PNG per response curve, with its band and the spend seen.",
)
@click.option(
    "--calibration",
    "calibration_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Lift tests (CSV: touchpoint,start,end,spend_delta,kpi_lift,kpi_lift_se[,kpi]) "
    "the fit must agree with; see docs/file-formats.md.",
)
@click.option(
    "--pool/--no-pool",
    default=True,
    show_default=True,
    help="With --by-market: pool each touchpoint's effect across markets towards its national "
    "level (empirical Bayes, strength estimated from the data), or keep each market's own fit.",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress or diagnostics on stderr.")
@_executor_options
@handle_errors
def fit(
    journey_path: Path,
    history_path: Path,
    out: Path,
    by_market: bool,
    seed: int,
    jobs: int,
    bootstrap: int,
    holdout: int,
    plots: Path | None,
    calibration_path: Path | None,
    pool: bool,
    quiet: bool,
    workers: int | None,
    scheduler: str | None,
) -> None:
    """Fit response curves (adstock + saturation per touchpoint) and write model.json.

    With --workers or --scheduler the bootstrap refits (or, with --by-market, the markets) run
    on a Dask cluster; the models are the same as in-process. With --by-market, --jobs N fits
    N markets at a time on this machine, and each touchpoint's effect is pooled across the
    markets towards its national level (--no-pool: each market's own fit).

    \b
    Example:
      budgetopt fit --journey journey.yaml --history history.csv -o model.json --seed 7
      budgetopt fit --journey journey.yaml --history weekly.csv --by-market -o models/ --workers 2
      budgetopt fit --journey journey.yaml --history history.csv --calibration lifts.csv -o model.json
    """
    from optimizer.app.fitting import fit_and_write

    with _executor(workers, scheduler, quiet) as ex:
        fit_and_write(
            journey_path,
            history_path,
            out,
            seed=seed,
            jobs=jobs,
            bootstrap=bootstrap,
            holdout=holdout,
            plots=plots,
            quiet=quiet,
            executor=ex,
            by_market=by_market,
            calibration=calibration_path,
            pool=pool,
        )


# ------------------------------------------------------------------------------------------------
@cli.command(context_settings=CONTEXT)
@click.argument("scenario", type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
)
@click.option(
    "-o",
    "--output",
    "out",
    type=click.Path(path_type=Path),
    default=None,
    help="Write to this file instead of stdout.",
)
@click.option(
    "--model",
    "model_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Use this model instead of the one the scenario names.",
)
@click.option(
    "--robust",
    type=click.Choice(["none", "mean"]),
    default="none",
    show_default=True,
    help="mean: maximise the expected KPI over the model's bootstrap draws.",
)
@click.option(
    "--uncertainty",
    is_flag=True,
    help="Re-optimise on each bootstrap draw of the model and show the P10/P50/P90 of "
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
@handle_errors
def optimize(
    scenario: Path,
    fmt: str,
    out: Path | None,
    model_path: Path | None,
    robust: str,
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
      budgetopt optimize scenarios/base.yaml --uncertainty --no-value-of-information
    """
    from optimizer.app.run import execute, load_inputs, plan_uncertainty
    from optimizer.render import machine, planning, tables
    from optimizer.workflow.variants import count_variants

    spec = _spec("optimize", [scenario], model_path, solver, tolerance, time_limit, robust=robust)
    inputs = load_inputs(spec)  # the scenario and its models, read once for everything below
    if uncertainty:  # say so before optimising when the model has no draws to spread over
        from optimizer.workflow.robust import require_draws

        require_draws(inputs.model)
    plan = execute(spec, inputs=inputs)
    _warn_extrapolation([plan])
    if plan.status == "infeasible" or not plan.ok:
        _record(spec, plan, ledger_file, no_ledger, True)
    if plan.status == "infeasible":
        raise InfeasibleError(
            f"scenario '{plan.scenario}' is infeasible: {plan.message}",
            conflicts=plan.conflicts,
            path=scenario,
        )
    if not plan.ok:
        raise BudgetOptError(
            f"the solver stopped without a plan ({plan.status}): {plan.message}", path=scenario
        )
    unc = None
    if uncertainty:
        with (
            _executor(workers, scheduler, quiet) as ex,
            _progress("re-optimising on each bootstrap draw", quiet) as bar,
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
        _emit(machine.plan_csv(plan, unc), out, quiet)
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
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv", "xlsx"]),
    default="table",
    show_default=True,
    help="xlsx needs -o FILE.",
)
@click.option("-o", "--output", "out", type=click.Path(path_type=Path), default=None)
@click.option(
    "--model",
    "model_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Use this model for every scenario instead of the ones they name.",
)
@click.option(
    "--reference",
    default=None,
    metavar="NAME",
    help="The scenario the deltas are taken against [default: the first].",
)
@_solver_options
@_ledger_options
@_executor_options
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
        _emit(machine.comparison_csv(comp), out, quiet)
    elif fmt == "xlsx":
        from optimizer.render.xlsx_compare import write_comparison_xlsx

        write_comparison_xlsx(comp, out)  # type: ignore[arg-type]
        if not quiet:
            _stderr(f"wrote {out}")
    else:
        _show(planning.comparison_with_costs(comp), out, quiet)
    bad = [p for p in comp.plans if not p.ok]
    if bad:
        sys.exit(3)
    _exit_if_not_certified(comp.plans)


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
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
)
@click.option("-o", "--output", "out", type=click.Path(path_type=Path), default=None)
@click.option(
    "--plot", type=click.Path(path_type=Path), default=None, help="Write the frontier chart (PNG)."
)
@click.option("--model", "model_path", type=click.Path(path_type=Path), default=None)
@click.option(
    "--cold",
    is_flag=True,
    help="Optimise each budget from scratch instead of warm from the previous point "
    "(slower; the same certificate).",
)
@click.option(
    "--jobs",
    type=int,
    default=1,
    show_default=True,
    help="Local processes: stretches of 25 budgets are walked in parallel (the plans "
    "do not depend on it).",
)
@_solver_options
@_ledger_options
@_executor_options
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
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--journey",
    "journey_path",
    type=click.Path(path_type=Path),
    default=None,
    help="The journey, to validate history CSV files against.",
)
@handle_errors
def validate(files: tuple[Path, ...], journey_path: Path | None) -> None:
    """Validate journey, history, scenario and model files (or folders of them).

    Every problem is reported with its file, field and value; exit 0 when all are valid.

    \b
    Example:
      budgetopt validate scenarios/ journey.yaml model.json
      budgetopt validate history.csv --journey journey.yaml
    """
    from optimizer.workflow.checks import validate_paths

    problems = validate_paths(files, journey_path, echo=_stderr)
    if problems:
        for p in problems:
            _stderr(f"error: {p}")
        sys.exit(2)


# ------------------------------------------------------------------------------------------------
@cli.command(context_settings=CONTEXT)
@click.argument("daily", type=str)
@click.option(
    "--journey",
    "journey_path",
    required=True,
    type=click.Path(path_type=Path),
    help="The journey: which columns are spend, KPIs, controls and events.",
)
@click.option(
    "-o",
    "--out",
    "out",
    required=True,
    type=click.Path(path_type=Path),
    help="Where to write the weekly history (CSV).",
)
@click.option(
    "--by-market",
    is_flag=True,
    help="Keep the markets apart: one weekly series per market, with a 'market' column "
    "(for budgetopt fit --by-market) [default: add the markets up].",
)
@click.option(
    "--blocksize",
    default="64MB",
    show_default=True,
    metavar="SIZE",
    help="CSV block read at a time (e.g. 16MB, 256MB).",
)
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors on stderr.")
@_executor_options
@handle_errors
def aggregate(
    daily: str,
    journey_path: Path,
    out: Path,
    by_market: bool,
    blocksize: str,
    quiet: bool,
    workers: int | None,
    scheduler: str | None,
) -> None:
    """Aggregate a daily history (CSV or Parquet, larger than memory is fine) to the weekly
    history the models need, with dask.dataframe: weeks run Monday to Sunday and are dated by
    their Monday; spend and KPIs are summed, controls averaged. Partial weeks at the ends are
    left out (and listed).

    DAILY is a file, a folder of Parquet files or a glob. With --workers or --scheduler the
    blocks are read on the Dask cluster (whose workers must see the file).

    \b
    Example:
      budgetopt aggregate daily.parquet --journey journey.yaml -o history.csv
      budgetopt aggregate 'daily-*.csv' --journey journey.yaml --by-market -o weekly.csv
    """
    from optimizer.data import read_journey
    from optimizer.workflow.daily import aggregate_daily, check_weekly, write_weekly

    journey = read_journey(journey_path)
    t0 = time.perf_counter()
    with _executor(workers, scheduler, quiet) as ex:
        sched = ex.get if hasattr(ex, "client") else None  # the cluster's, watched
        weekly = aggregate_daily(
            daily, journey, by_market=by_market, blocksize=blocksize, scheduler=sched
        )
    for d in weekly.dropped:
        _stderr(f"warning: left out {d}: not a whole week")
    write_weekly(weekly, out)
    check_weekly(out, journey, by_market)
    if not quiet:
        markets = weekly.markets
        per = f" in {len(markets)} markets" if markets else ""
        weeks = len(weekly.frame) // max(1, len(markets) or 1)
        _stderr(
            f"wrote {out}: {weeks} weeks{per} from {weekly.rows:,} daily rows "
            f"({weekly.layout} layout) in {time.perf_counter() - t0:.1f} s"
        )


# ------------------------------------------------------------------------------------------------
@cli.command(context_settings=CONTEXT)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    default=Path("budgetopt-demo"),
    show_default=True,
    help="Folder for the demo's outputs.",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("-q", "--quiet", is_flag=True, help="Print only the comparison.")
@handle_errors
def demo(out_dir: Path, seed: int, quiet: bool) -> None:
    """The whole job on the bundled sample company: fit its history, optimise the example
    scenarios on the fitted curves, compare them, and write everything to a folder.

    \b
    Example:
      budgetopt demo --out demo-output
    """
    from optimizer.app.demo import run_demo

    t0 = time.perf_counter()
    run_demo(out_dir, seed=seed, quiet=quiet, echo=_stderr)
    if not quiet:
        _stderr(f"demo finished in {time.perf_counter() - t0:.1f} s")


# ------------------------------------------------------------------------------------------------
@cli.command(context_settings=CONTEXT)
@click.argument("scenario", type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["md", "html", "xlsx", "json"]),
    default=None,
    help="Report format (default: from the file's extension, else md).",
)
@click.option(
    "-o",
    "--output",
    "out",
    required=True,
    type=click.Path(path_type=Path),
    help="Where to write the review pack.",
)
@click.option(
    "--model",
    "model_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Use this model instead of the one the scenario names.",
)
@click.option(
    "--last-cycle",
    "last_cycle",
    type=click.Path(path_type=Path),
    default=None,
    help="Last cycle's spend per line item (CSV with columns id,spend).",
)
@click.option(
    "--increment",
    type=float,
    default=None,
    metavar="MONEY",
    help="Move each line item up and down by this much [default: 10% of its spend].",
)
@click.option(
    "--sweep-points",
    type=click.IntRange(min=0),
    default=21,
    show_default=True,
    help="Budgets from 0 to twice the budget, to find where each line item's role "
    "changes (0 skips the sweep and the frontier: faster on big MILPs).",
)
@_solver_options
@handle_errors
def explain(
    scenario: Path,
    fmt: str | None,
    out: Path,
    model_path: Path | None,
    last_cycle: Path | None,
    increment: float | None,
    sweep_points: int,
    solver: str,
    tolerance: float,
    time_limit: float | None,
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
    from optimizer.allocate import allocate
    from optimizer.explain import explain as run_explain
    from optimizer.explain import read_last_cycle
    from optimizer.response.model import read_model
    from optimizer.scenario import load_scenario
    from optimizer.workflow.compare import extra_models_for

    if fmt is None:
        fmt = {".html": "html", ".htm": "html", ".xlsx": "xlsx", ".json": "json"}.get(
            out.suffix.lower(), "md"
        )
    if increment is not None and not increment > 0:
        raise BudgetOptError(
            f"expected a positive amount of money, got {increment!r}", field="--increment"
        )
    sc = load_scenario(scenario)
    model = read_model(model_path or sc.model)
    last = read_last_cycle(last_cycle, ids=list(model.touchpoints)) if last_cycle else None
    extra = extra_models_for(sc)
    plan = allocate(
        sc, model, solver=solver, tolerance=tolerance, time_limit=time_limit, extra_models=extra
    )
    if plan.status == "infeasible":
        raise InfeasibleError(
            f"scenario '{plan.scenario}' is infeasible: {plan.message}",
            conflicts=plan.conflicts,
            path=scenario,
        )
    if not plan.ok:
        raise BudgetOptError(
            f"the solver stopped without a plan ({plan.status}): {plan.message}", path=scenario
        )
    from optimizer.workflow.economics import with_economics

    # break-even for the review's headline (when the KPI is money)
    plan = with_economics(
        sc,
        model,
        plan,
        extra_models=extra,
        solver=solver,
        tolerance=tolerance,
        time_limit=time_limit,
    )
    t0 = time.perf_counter()
    exp = run_explain(
        plan,
        sc,
        model,
        last_cycle=last,
        increment=increment,
        solver=solver,
        sweep_points=sweep_points,
        extra_models=extra,
        progress=_stderr,
    )
    if fmt == "html":
        from optimizer.render.report_html import write_html as write
    elif fmt == "xlsx":
        from optimizer.render.report_xlsx import write_xlsx as write
    elif fmt == "json":
        from optimizer.render.report_json import write_json as write
    else:
        from optimizer.render.report_md import write_markdown as write
    write(exp, out)
    _stderr(
        f"explained {len(exp.items)} line items with {exp.n_solves} re-solves in "
        f"{time.perf_counter() - t0:.1f} s"
    )
    _stderr(f"wrote {out}")
    _exit_if_not_certified([plan])


# ------------------------------------------------------------------------------------------------
# the planning cycle: the ledger of runs, budgetary control
# ------------------------------------------------------------------------------------------------
def _open_ledger(ledger_file: Path | None) -> Any:
    from optimizer.workflow.ledger import Ledger, ledger_path

    return Ledger(ledger_path(ledger_file), create=False)


@cli.group(context_settings=CONTEXT, invoke_without_command=True)
@click.option("--limit", type=int, default=20, show_default=True, help="Show this many runs.")
@click.option(
    "--command",
    "command_filter",
    type=click.Choice(["optimize", "compare", "sweep", "replan"]),
    default=None,
    help="Only runs of this command.",
)
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@_ledger_path_option
@click.pass_context
@handle_errors
def history(
    ctx: click.Context, limit: int, command_filter: str | None, fmt: str, ledger_file: Path | None
) -> None:
    """The ledger: every optimize, compare, sweep and replan run, newest first, with its id.

    A run is named by its id, a unique start of it, or last / last~N (N runs before the last).
    `budgetopt history show RUN` prints one run: its inputs (with their SHA-256) and plans.

    \b
    Example:
      budgetopt history --limit 5
      budgetopt history show last
      budgetopt history show 0mhx3k2q --format json
    """
    if ctx.invoked_subcommand is not None:
        return
    from optimizer.render import planning, tables

    with _open_ledger(ledger_file) as led:
        runs = led.runs(limit=limit, command=command_filter)
        if fmt == "json":
            click.echo(planning.history_json(runs), nl=False)
        else:
            tables.print_renderable(planning.history_renderable(runs, str(led.path)))


@history.command("show", context_settings=CONTEXT)
@click.argument("run")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@_ledger_path_option
@handle_errors
def history_show(run: str, fmt: str, ledger_file: Path | None) -> None:
    """One recorded run: when, what, its input files with their SHA-256, and its plans.

    \b
    Example:
      budgetopt history show last
      budgetopt history show 0mhx3k2q --format json
    """
    from optimizer.render import planning, tables

    with _open_ledger(ledger_file) as led:
        r = led.get(run)
    if fmt == "json":
        click.echo(planning.run_json(r), nl=False)
    else:
        tables.print_renderable(planning.run_renderable(r))


@cli.command(context_settings=CONTEXT)
@click.argument("run_a", metavar="RUN_A[:SCENARIO]")
@click.argument("run_b", metavar="RUN_B[:SCENARIO]")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
)
@click.option("-o", "--output", "out", type=click.Path(path_type=Path), default=None)
@_ledger_path_option
@handle_errors
def diff(run_a: str, run_b: str, fmt: str, out: Path | None, ledger_file: Path | None) -> None:
    """Compare two recorded plans: totals, spend by stage, and per line item the change in
    spend and KPI from the first to the second.

    A run with several plans (compare, sweep) takes the plan's scenario name or position after
    a colon: RUN:NAME or RUN:2.

    \b
    Example:
      budgetopt diff last~1 last
      budgetopt diff 0mhx3k2q 0mhx9f1c:cut --format json
    """
    from optimizer.render import planning
    from optimizer.workflow.ledger import split_run_reference as split

    (ra, wa), (rb, wb) = split(run_a), split(run_b)
    with _open_ledger(ledger_file) as led:
        a, b = led.get(ra), led.get(rb)
    pa, pb = a.plan(wa), b.plan(wb)
    la = f"{a.id}:{pa.get('scenario')}"
    lb = f"{b.id}:{pb.get('scenario')}"
    if la == lb:
        lb += " (again)"
    comp = planning.diff_comparison(pa, pb, la, lb)
    if fmt == "json":
        from optimizer.render.machine import to_json

        _emit(to_json(planning.diff_dict(comp, a, b)), out, False)
    elif fmt == "csv":
        _emit(planning.diff_csv(comp), out, False)
    else:
        _show(planning.diff_renderable(comp), out, False)


@cli.command(context_settings=CONTEXT)
@click.argument("run")
@click.option(
    "--snapshot",
    is_flag=True,
    help="Use the copies of the input files recorded with the run, not the files as they are now.",
)
@click.option("--check", is_flag=True, help="Exit 1 when the plans are not identical.")
@_ledger_options
@handle_errors
def rerun(
    run: str, snapshot: bool, check: bool, ledger_file: Path | None, no_ledger: bool, quiet: bool
) -> None:
    """Re-run a recorded optimize (or compare, sweep, replan) with the same options, and say
    whether the plans are bit-for-bit identical to the recorded ones.

    Input files are read where they are now, with a warning for each one whose SHA-256 has
    changed since the run; --snapshot re-runs from the copies the ledger recorded instead.

    \b
    Example:
      budgetopt rerun last
      budgetopt rerun 0mhx3k2q --snapshot --check
    """
    from optimizer.app.rerun import rerun as run_again
    from optimizer.app.rerun import spec_of
    from optimizer.app.run import record
    from optimizer.render import planning
    from optimizer.workflow.ledger import Ledger, ledger_path

    path = ledger_path(ledger_file)
    with _open_ledger(ledger_file) as led:
        r = led.get(run)
        with _progress(f"re-running {r.command}", quiet) as bar:
            result = run_again(led, r, snapshot=snapshot, progress=bar)
    for msg in result.changed_inputs:
        _stderr(f"warning: {msg}")
    new_id = None
    if not no_ledger:
        with Ledger(path) as led:
            new_id = record(
                led,
                spec_of(r),
                result.result,
                extra={"rerun_of": r.id, "identical": result.identical, "snapshot": snapshot},
                recorded=r.inputs if snapshot else None,
            ).id
    click.echo(planning.rerun_text(result, new_id), nl=False)
    if check and not result.identical:
        sys.exit(1)


@cli.command(context_settings=CONTEXT)
@click.argument("plan_ref", metavar="PLAN")
@click.argument("actuals", type=click.Path(path_type=Path))
@click.option(
    "--model",
    "model_path",
    type=click.Path(path_type=Path),
    default=None,
    help="The model to project the KPI on [default: the scenario's, or the run's].",
)
@click.option(
    "--scenario",
    "scenario_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Take the model from this scenario.",
)
@click.option(
    "--weeks-elapsed",
    type=int,
    default=None,
    help="Weeks of the plan gone by [default: the weeks the actuals span].",
)
@click.option(
    "--band",
    type=float,
    default=0.10,
    show_default=True,
    help="Flag a line item further than this fraction from its plan to date.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
)
@click.option("-o", "--output", "out", type=click.Path(path_type=Path), default=None)
@_ledger_path_option
@click.option("-q", "--quiet", is_flag=True, help="Nothing on stderr but errors.")
@handle_errors
def track(
    plan_ref: str,
    actuals: Path,
    model_path: Path | None,
    scenario_path: Path | None,
    weeks_elapsed: int | None,
    band: float,
    fmt: str,
    out: Path | None,
    ledger_file: Path | None,
    quiet: bool,
) -> None:
    """Budgetary control: actual spend to date against the plan (spread evenly over its
    horizon), per line item and stage, in money and per cent, and the KPI the cycle buys if
    every line item keeps its current run-rate.

    PLAN is a plan JSON file (budgetopt optimize --format json) or a recorded run
    (RUN[:SCENARIO]). ACTUALS is a CSV with columns date,touchpoint,spend, one row per
    touchpoint and week, starting in the plan's first week.

    \b
    Example:
      budgetopt track plan.json actuals.csv --scenario scenarios/base.yaml
      budgetopt track last actuals.csv --format json
    """
    from optimizer.app.tracking import plan_to_track
    from optimizer.render import planning
    from optimizer.response.model import read_model
    from optimizer.workflow.control import read_actuals
    from optimizer.workflow.control import track as run_track
    from optimizer.workflow.ledger import ledger_path

    plan, run_model = plan_to_track(plan_ref, ledger_path(ledger_file))
    if model_path is None and scenario_path is not None:
        from optimizer.scenario import load_scenario

        model_path = Path(load_scenario(scenario_path).model)
    if model_path is None and run_model is not None and Path(run_model).exists():
        model_path = Path(run_model)
    model = read_model(model_path) if model_path is not None else None
    ids = [li.id for li in plan.line_items]
    tr = run_track(
        plan, read_actuals(actuals, ids=ids), model, weeks_elapsed=weeks_elapsed, band=band
    )
    _output(
        fmt,
        out,
        quiet,
        json=lambda: planning.tracking_json(tr),
        csv=lambda: planning.tracking_csv(tr),
        table=lambda: planning.tracking_renderable(tr),
    )


@cli.command(context_settings=CONTEXT)
@click.argument("scenario", type=click.Path(path_type=Path))
@click.option(
    "--actuals",
    required=True,
    type=click.Path(path_type=Path),
    help="Spend to date: CSV with columns date,touchpoint,spend (weekly).",
)
@click.option(
    "--weeks-elapsed",
    type=int,
    default=None,
    help="Weeks of the cycle gone by [default: the weeks the actuals span].",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
)
@click.option("-o", "--output", "out", type=click.Path(path_type=Path), default=None)
@click.option(
    "--model",
    "model_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Use this model instead of the one the scenario names.",
)
@_solver_options
@_ledger_options
@handle_errors
def replan(
    scenario: Path,
    actuals: Path,
    weeks_elapsed: int | None,
    fmt: str,
    out: Path | None,
    model_path: Path | None,
    solver: str,
    tolerance: float,
    time_limit: float | None,
    ledger_file: Path | None,
    no_ledger: bool,
    quiet: bool,
) -> None:
    """Mid-cycle re-plan: re-optimise the remaining budget over the remaining weeks, given what
    each line item has spent. Same rules, with money rules reduced by the spend to date (floors
    already met fall away); the new plan, and the whole cycle against the original plan.

    \b
    Example:
      budgetopt replan scenarios/base.yaml --actuals actuals.csv --weeks-elapsed 6
      budgetopt replan scenarios/base.yaml --actuals actuals.csv --format json -o replan.json
    """
    from optimizer.app.run import execute
    from optimizer.render import planning

    spec = _spec(
        "replan",
        [scenario],
        model_path,
        solver,
        tolerance,
        time_limit,
        actuals=str(actuals),
        weeks_elapsed=weeks_elapsed,
    )
    r = execute(spec)
    _record(spec, r, ledger_file, no_ledger, quiet)
    if r.plan.status == "infeasible":
        raise InfeasibleError(
            f"the re-plan of '{r.plan.scenario}' is infeasible: {r.plan.message}",
            conflicts=r.plan.conflicts,
            path=scenario,
        )
    if not r.plan.ok:
        raise BudgetOptError(
            f"the solver stopped without a plan ({r.plan.status}): {r.plan.message}", path=scenario
        )
    for w in r.warnings:
        _stderr(f"warning: {w}")
    _output(
        fmt,
        out,
        quiet,
        json=lambda: planning.replan_json(r),
        csv=lambda: planning.replan_csv(r),
        table=lambda: planning.replan_renderable(r),
    )
    _exit_if_not_certified([r.plan])


def main() -> None:  # pragma: no cover - entry point
    cli(prog_name="budgetopt")
