"""The ``budgetopt`` command line: parse → call → render. No business logic here.

Machine formats (``--format json|csv``) go to stdout alone or to ``-o FILE``; progress, warnings and
messages go to stderr. Bad input exits 2 with one paragraph naming the file, field and value; an
infeasible scenario exits 3 naming the constraints that conflict; never a traceback.
"""

from __future__ import annotations

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
            _stderr(f"internal error: {type(e).__name__}: {e} (set BUDGETOPT_DEBUG=1 to see the "
                    "traceback, and please report it)")
            sys.exit(70)

    return wrapper


def _write_or_print(text: str, out: Path | None) -> None:
    from optimizer.fileio import atomic_write_text

    if out is None:
        click.echo(text, nl=False)
    else:
        atomic_write_text(out, text)
        _stderr(f"wrote {out}")


def _solver_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn = click.option("--time-limit", type=float, default=None, metavar="SECONDS",
                      help="Stop the solver after this many seconds (status time_limit).")(fn)
    fn = click.option("--tolerance", type=float, default=1e-4, show_default=True,
                      help="Certified gap to the exact optimum on the model's curves (0.0001 = 0.01%).")(fn)
    fn = click.option("--solver", type=click.Choice(["highs", "cbc"]), default="highs",
                      show_default=True, help="LP/MILP solver.")(fn)
    return fn


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
@click.option("--journey", "journey_path", required=True, type=click.Path(path_type=Path),
              help="The journey file (touchpoints, stages, KPI).")
@click.option("--history", "history_path", required=True, type=click.Path(path_type=Path),
              help="Weekly spend and KPI history (CSV).")
@click.option("-o", "--output", "out", required=True, type=click.Path(path_type=Path),
              help="Where to write model.json.")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed (search, bootstrap).")
@click.option("--jobs", type=int, default=1, show_default=True, help="Local parallel jobs.")
@click.option("--bootstrap", type=int, default=20, show_default=True,
              help="Block-bootstrap refits for the uncertainty of each curve (0 for none).")
@click.option("--holdout", type=int, default=13, show_default=True,
              help="Final weeks held out to measure out-of-sample error.")
@click.option("--plots", type=click.Path(path_type=Path), default=None,
              help="Folder for one PNG per response curve, with its band and the spend seen.")
@click.option("-q", "--quiet", is_flag=True, help="No progress or diagnostics on stderr.")
@handle_errors
def fit(journey_path: Path, history_path: Path, out: Path, seed: int, jobs: int, bootstrap: int,
        holdout: int, plots: Path | None, quiet: bool) -> None:
    """Fit response curves (adstock + saturation per touchpoint) and write model.json.

    \b
    Example:
      budgetopt fit --journey journey.yaml --history history.csv -o model.json --seed 7
    """
    from optimizer.workflow.jobs import fit_and_write

    fit_and_write(journey_path, history_path, out, seed=seed, jobs=jobs, bootstrap=bootstrap,
                  holdout=holdout, plots=plots, quiet=quiet)


# ------------------------------------------------------------------------------------------------
@cli.command(context_settings=CONTEXT)
@click.argument("scenario", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table",
              show_default=True)
@click.option("-o", "--output", "out", type=click.Path(path_type=Path), default=None,
              help="Write to this file instead of stdout.")
@click.option("--model", "model_path", type=click.Path(path_type=Path), default=None,
              help="Use this model instead of the one the scenario names.")
@_solver_options
@handle_errors
def optimize(scenario: Path, fmt: str, out: Path | None, model_path: Path | None, solver: str,
             tolerance: float, time_limit: float | None) -> None:
    """Allocate the budget of a scenario: the certified-optimal plan per line item.

    \b
    Example:
      budgetopt optimize scenarios/base.yaml
      budgetopt optimize scenarios/base.yaml --format json -o plan.json
    """
    from optimizer.allocate import allocate
    from optimizer.render import machine, tables
    from optimizer.response.model import read_model
    from optimizer.scenario import load_scenario

    sc = load_scenario(scenario)
    model = read_model(model_path or sc.model)
    plan = allocate(sc, model, solver=solver, tolerance=tolerance, time_limit=time_limit)
    if plan.status == "infeasible":
        raise InfeasibleError(f"scenario '{plan.scenario}' is infeasible: {plan.message}",
                              conflicts=plan.conflicts, path=scenario)
    if not plan.ok:
        raise BudgetOptError(f"the solver stopped without a plan ({plan.status}): {plan.message}",
                             path=scenario)
    if fmt == "json":
        _write_or_print(machine.plan_json(plan), out)
    elif fmt == "csv":
        _write_or_print(machine.plan_csv(plan), out)
    else:
        if out is not None:
            _write_or_print(tables.render_text(tables.plan_renderable(plan)), out)
        else:
            tables.print_renderable(tables.plan_renderable(plan))


# ------------------------------------------------------------------------------------------------
@cli.command(context_settings=CONTEXT)
@click.argument("scenarios", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table",
              show_default=True)
@click.option("-o", "--output", "out", type=click.Path(path_type=Path), default=None)
@click.option("--model", "model_path", type=click.Path(path_type=Path), default=None,
              help="Use this model for every scenario instead of the ones they name.")
@_solver_options
@handle_errors
def compare(scenarios: tuple[Path, ...], fmt: str, out: Path | None, model_path: Path | None,
            solver: str, tolerance: float, time_limit: float | None) -> None:
    """Compare scenarios side by side: totals, spend by stage, spend per line item with deltas
    against the first.

    \b
    Example:
      budgetopt compare scenarios/base.yaml scenarios/budget_cut.yaml scenarios/awareness_push.yaml
    """
    from optimizer.render import machine, tables
    from optimizer.response.model import read_model
    from optimizer.workflow.compare import run_scenarios

    if len(scenarios) < 2:
        raise click.UsageError("compare needs at least two scenarios")
    override = read_model(model_path) if model_path else None
    comp = run_scenarios(scenarios, solver=solver, tolerance=tolerance, time_limit=time_limit,
                         model_override=override)
    if fmt == "json":
        _write_or_print(machine.comparison_json(comp), out)
    elif fmt == "csv":
        _write_or_print(machine.comparison_csv(comp), out)
    elif out is not None:
        _write_or_print(tables.render_text(tables.comparison_renderable(comp)), out)
    else:
        tables.print_renderable(tables.comparison_renderable(comp))
    bad = [p for p in comp.plans if not p.ok]
    if bad:
        sys.exit(3)


# ------------------------------------------------------------------------------------------------
@cli.command(context_settings=CONTEXT)
@click.argument("scenario", type=click.Path(path_type=Path))
@click.option("--budgets", required=True, metavar="START:STOP:N",
              help="N evenly spaced budgets from START to STOP, both included.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table",
              show_default=True)
@click.option("-o", "--output", "out", type=click.Path(path_type=Path), default=None)
@click.option("--plot", type=click.Path(path_type=Path), default=None, help="Write the frontier chart (PNG).")
@click.option("--model", "model_path", type=click.Path(path_type=Path), default=None)
@_solver_options
@handle_errors
def sweep(scenario: Path, budgets: str, fmt: str, out: Path | None, plot: Path | None,
          model_path: Path | None, solver: str, tolerance: float, time_limit: float | None) -> None:
    """The budget frontier: KPI and marginal ROI against total budget, with the point of
    diminishing returns marked.

    \b
    Example:
      budgetopt sweep scenarios/base.yaml --budgets 500000:3000000:11 --plot frontier.png
    """
    from optimizer.render import machine, tables
    from optimizer.response.model import read_model
    from optimizer.scenario import load_scenario
    from optimizer.workflow.sweep import parse_budgets
    from optimizer.workflow.sweep import sweep as run_sweep

    grid = parse_budgets(budgets)
    sc = load_scenario(scenario)
    model = read_model(model_path or sc.model)
    frontier = run_sweep(sc, model, grid, solver=solver, tolerance=tolerance, time_limit=time_limit)
    if plot is not None:
        from optimizer.render.charts import save_frontier_plot

        save_frontier_plot(frontier, plot)
        _stderr(f"wrote {plot}")
    if fmt == "json":
        _write_or_print(machine.frontier_json(frontier), out)
    elif fmt == "csv":
        _write_or_print(machine.frontier_csv(frontier), out)
    elif out is not None:
        _write_or_print(tables.render_text(tables.frontier_renderable(frontier)), out)
    else:
        tables.print_renderable(tables.frontier_renderable(frontier))


# ------------------------------------------------------------------------------------------------
@cli.command(context_settings=CONTEXT)
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--journey", "journey_path", type=click.Path(path_type=Path), default=None,
              help="The journey, to validate history CSV files against.")
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
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=Path("budgetopt-demo"),
              show_default=True, help="Folder for the demo's outputs.")
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
    from optimizer.workflow.demo import run_demo

    t0 = time.perf_counter()
    run_demo(out_dir, seed=seed, quiet=quiet, echo=_stderr)
    if not quiet:
        _stderr(f"demo finished in {time.perf_counter() - t0:.1f} s")


def main() -> None:  # pragma: no cover - entry point
    cli(prog_name="budgetopt")
