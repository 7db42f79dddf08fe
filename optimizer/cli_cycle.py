"""The planning-cycle commands of ``budgetopt``: the ledger (history, diff, rerun), budgetary
control (track, replan). Parse → call → render."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from optimizer.cli_common import (
    CONTEXT,
    Number,
    _csv_options,
    _csv_settings,
    _emit,
    _emit_csv,
    _excel_option,
    _exit_if_not_certified,
    _ledger_options,
    _ledger_path_option,
    _note,
    _open_ledger,
    _output,
    _progress,
    _record,
    _show,
    _solver_options,
    _spec,
    _stderr,
    _warn_carryover,
    _wide_option,
    format_option,
    frequency_option,
    handle_errors,
    model_option,
    output_option,
    weeks_elapsed_option,
)
from optimizer.defaults import DEFAULT_BAND, RECENT_RUNS, RECORDED
from optimizer.render import LEDGER_FORMATS, TABLE_FORMATS

if TYPE_CHECKING:
    from optimizer.workflow.ledger import Run


@click.group(context_settings=CONTEXT, invoke_without_command=True)
@click.option(
    "--limit",
    type=Number(1, 1_000_000, integer=True),
    default=RECENT_RUNS,
    show_default=True,
    help="Show this many runs.",
)
@click.option(
    "--command",
    "command_filter",
    type=click.Choice(RECORDED),
    default=None,
    help="Only runs of this command.",
)
@format_option(LEDGER_FORMATS)
@_ledger_path_option
@click.pass_context
@_wide_option
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
@format_option(LEDGER_FORMATS)
@_ledger_path_option
@_wide_option
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


def _kpi_basis(run: Run) -> str:
    """What a recorded run's KPI is: the expectation over the model's draws (optimize --robust
    mean) or the KPI on the model's point curves (every other plan)."""
    if run.command == "optimize" and run.options.get("robust") == "mean":
        return "the expected KPI over the model's draws (--robust mean)"
    return "the KPI on the model's point curves"


@click.command(context_settings=CONTEXT)
@click.argument("run_a", metavar="RUN_A[:SCENARIO]")
@click.argument("run_b", metavar="RUN_B[:SCENARIO]")
@format_option(TABLE_FORMATS)
@output_option()
@_ledger_path_option
@_excel_option
@_wide_option
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
    from optimizer.workflow.diffing import same_weeks

    pa, pb, note = same_weeks(pa, a, pb, b)
    if note:
        _note(note)
    # an optimize --robust mean plan's KPI is its expectation over the model's draws, every
    # other plan's is on the point curves: a Δ KPI between the two mixes the two measures
    basis = {r.id: _kpi_basis(r) for r in (a, b)}
    mixed = None
    if len(set(basis.values())) > 1:
        mixed = (
            f"the two plans' KPI is measured differently ({a.id}: {basis[a.id]}; {b.id}: "
            f"{basis[b.id]}): the Δ KPI mixes the two, not what the change of plan buys"
        )
        _note(mixed)
    comp = planning.diff_comparison(pa, pb, la, lb)
    if fmt == "json":
        from optimizer.render.machine import to_json

        d = planning.diff_dict(comp, a, b)
        if note:
            d["same_weeks"] = note
        if mixed:
            d["kpi_basis"] = {"a": basis[a.id], "b": basis[b.id], "note": mixed}
        _emit(to_json(d), out, False)
    elif fmt == "csv":
        _emit_csv(planning.diff_csv(comp), out, False)
    else:
        _show(planning.diff_renderable(comp), out, False)


@click.command(context_settings=CONTEXT)
@click.argument("run")
@click.option(
    "--snapshot",
    is_flag=True,
    help="Use the copies of the input files recorded with the run, not the files as they are now.",
)
@click.option("--check", is_flag=True, help="Exit 1 when the plans are not identical.")
@_ledger_options
@_wide_option
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
    _warn_carryover_again(result, r.command, snapshot)
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


def _warn_carryover_again(result: Any, command: str, snapshot: bool) -> None:
    """A re-run plans from its scenario again: it warns of a touchpoint with no carry-over
    column as the command it repeats does (a sweep's or a replan's plan carries no economics:
    read from its scenario, where it is now; a snapshot's copies are gone by then)."""
    from optimizer.app.run import plans_of

    plans = plans_of(result.result)
    src = None
    if command in ("sweep", "replan") and plans:  # one scenario
        plans = [next((p for p in plans if p.line_items), plans[0])]
        src = None if snapshot else Path(result.spec.scenarios[0])
    for p in plans:
        _warn_carryover(p, src, named=command == "compare")


@click.command(context_settings=CONTEXT)
@click.argument("plan_ref", metavar="PLAN")
@click.argument("actuals", type=click.Path(path_type=Path))
@model_option("The model to project the KPI on [default: the scenario's, or the run's].")
@click.option(
    "--scenario",
    "scenario_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Take the model from this scenario, and check the run-rate against its rules "
    "[default: a recorded optimize or replan run's scenario, when unchanged].",
)
@weeks_elapsed_option("the plan")
@frequency_option
@click.option(
    "--band",
    type=Number(0.0, 10.0),
    default=DEFAULT_BAND,
    show_default=True,
    help="Flag a line item further than this fraction from its plan to date.",
)
@format_option(TABLE_FORMATS)
@output_option()
@_ledger_path_option
@click.option("-q", "--quiet", is_flag=True, help="Nothing on stderr but errors.")
@_csv_options
@_excel_option
@_wide_option
@handle_errors
def track(
    plan_ref: str,
    actuals: Path,
    model_path: Path | None,
    scenario_path: Path | None,
    weeks_elapsed: int | None,
    frequency: str | None,
    band: float,
    fmt: str,
    out: Path | None,
    ledger_file: Path | None,
    quiet: bool,
    separator: str | None,
    decimal: str | None,
    thousands: str | None,
    date_format: str | None,
) -> None:
    """Budgetary control: actual spend to date against the plan to date, per line item and
    stage, in money and per cent; the spend and KPI of the cycle if every line item keeps its
    current run-rate; with --scenario, the scenario's rules that run-rate would break.

    PLAN is a plan JSON file (budgetopt optimize --format json) or a recorded run
    (RUN[:SCENARIO]). ACTUALS is a CSV with columns date,touchpoint,spend: one row per
    touchpoint and week (dated by any day of the week), or per month (dated the 1st). A dated
    plan's weeks are matched by date (a re-plan's start after the weeks it was made from); an
    undated plan starts at the actuals' first week. A week with no rows is reported missing.
    A plan over markets takes actuals with a market column (date,market,touchpoint,spend, or
    the wide history layout; a national buy's rows marked national).

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
    sc = None
    if scenario_path is not None:
        from optimizer.scenario import load_scenario

        sc = load_scenario(scenario_path)
        if model_path is None:
            model_path = Path(sc.model)
        if not plan.scenario.startswith(sc.name):  # its re-plans and variants start with its name
            _stderr(
                f"warning: {plan_ref} is a plan of scenario '{plan.scenario}', but "
                f"{scenario_path} is scenario '{sc.name}': the rules checked at the run-rate "
                "(and the model, unless --model) are that scenario's; give --scenario the "
                "scenario the plan was made from"
            )
    if model_path is None and run_model is not None and Path(run_model).exists():
        model_path = Path(run_model)
    if sc is None and model_path is not None:
        # a recorded run's scenario, unchanged since: the run-rate is checked against its rules
        from optimizer.app.tracking import run_scenario
        from optimizer.scenario import load_scenario

        from_run, why = run_scenario(plan_ref, ledger_path(ledger_file))
        if why and not quiet:
            _note(why)
        if from_run is not None:
            sc = load_scenario(from_run)
    model = read_model(model_path) if model_path is not None else None
    ids = [li.id for li in plan.line_items]
    # a dated plan's weeks tell a one-date file's frequency (a week or a month dated the 1st)
    calendar = None
    if plan.start is not None:
        import datetime as dt

        calendar = (dt.date.fromisoformat(plan.start), int(plan.horizon_weeks))
    if plan.has_markets:  # actuals by market, matched to the line items touchpoint × market
        from optimizer.workflow.control import read_market_actuals

        national = [li.id for li in plan.line_items if li.market is None]
        got = read_market_actuals(
            actuals,
            list(dict.fromkeys(ids)),
            plan.markets,
            national,
            frequency=frequency,
            calendar=calendar,
        )
    else:
        got = read_actuals(
            actuals,
            ids=ids,
            csv=_csv_settings(separator, decimal, thousands, date_format),
            frequency=frequency,
            calendar=calendar,
        )
    tr = run_track(
        plan,
        got,
        model,
        weeks_elapsed=weeks_elapsed,
        band=band,
        scenario=sc,
    )
    _output(
        fmt,
        out,
        quiet,
        json=lambda: planning.tracking_json(tr),
        csv=lambda: planning.tracking_csv(tr),
        table=lambda: planning.tracking_renderable(tr),
    )


@click.command(context_settings=CONTEXT)
@click.argument("scenario", type=click.Path(path_type=Path))
@click.option(
    "--actuals",
    required=True,
    type=click.Path(path_type=Path),
    help="Spend to date: CSV with columns date,touchpoint,spend (weekly, or monthly dated "
    "the 1st); over a markets index with a market column too.",
)
@weeks_elapsed_option("the cycle")
@frequency_option
@format_option(TABLE_FORMATS)
@output_option()
@model_option()
@_solver_options
@_ledger_options
@_excel_option
@_wide_option
@handle_errors
def replan(
    scenario: Path,
    actuals: Path,
    weeks_elapsed: int | None,
    frequency: str | None,
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
        frequency=frequency,
    )
    r = execute(spec)
    from optimizer.app.run import require_plan
    from optimizer.formatting import jsonable

    # the replan block (weeks elapsed, the re-plan's first week) lets diff compare the same weeks
    _record(spec, r, ledger_file, no_ledger, quiet, {"replan": jsonable(r.to_dict())})
    require_plan(r.plan, scenario, what=f"the re-plan of '{r.plan.scenario}'")
    _warn_carryover(r.original, scenario)
    for w in r.warnings:  # once, on stderr; the table keeps them only in a file (-o)
        _stderr(f"warning: {w}")
    _output(
        fmt,
        out,
        quiet,
        json=lambda: planning.replan_json(r),
        csv=lambda: planning.replan_csv(r),
        table=lambda: planning.replan_renderable(r, warnings=out is not None),
    )
    _exit_if_not_certified([r.plan])
