"""What every ``budgetopt`` command shares: error handling, the common options, the executor,
the ledger record, the progress bar and where output goes. No business logic here."""

from __future__ import annotations

import contextlib
import contextvars
import functools
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import click

from optimizer.defaults import DEFAULT_SOLVER, DEFAULT_TOLERANCE, FREQUENCIES, SOLVERS
from optimizer.errors import BudgetOptError, InfeasibleError

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class Number(click.ParamType):
    """A finite number within a documented range (docs/cli.md): ``nan``, ``inf`` and absurd
    magnitudes are refused with the option's name, as click's own errors are."""

    name = "number"

    def __init__(
        self, low: float, high: float, *, low_open: bool = False, integer: bool = False
    ) -> None:
        self.low, self.high, self.low_open, self.integer = low, high, low_open, integer
        self.name = "integer" if integer else "number"

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        import math

        if isinstance(value, (int, float)) and not isinstance(value, bool):
            v = value
        else:
            try:
                v = int(str(value)) if self.integer else float(str(value))
            except ValueError:
                self.fail(f"{value!r} is not a{'n integer' if self.integer else ' number'}")
        if not math.isfinite(float(v)):
            self.fail(f"{value!r} is not a finite number")
        if v < self.low or (self.low_open and v == self.low) or v > self.high:
            op = ">" if self.low_open else ">="
            self.fail(f"{value!r} is out of range: expected {op} {self.low:g} and <= {self.high:g}")
        return v


def _stderr(msg: str) -> None:
    click.echo(msg, err=True)


def _note(msg: str) -> None:
    """A ``note:`` on stderr, wrapped at words to the terminal's width (``--wide``: one line)."""
    import textwrap

    from optimizer.render.terminal import is_wide, terminal_width

    text = f"note: {msg}"
    if not is_wide():
        text = textwrap.fill(text, terminal_width(), subsequent_indent="  ", break_long_words=False)
    click.echo(text, err=True)


def _quiet_numpy() -> None:
    """numpy's warnings (overflow, invalid values in extreme curves) never reach the terminal:
    every result they touch is checked, and a user sees a message or a plan, not a warning."""
    import warnings

    import numpy as np

    np.seterr(all="ignore")
    warnings.filterwarnings("ignore", category=RuntimeWarning)


def handle_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn our exceptions into a clean message and exit code; unexpected ones into one line too.
    The command's numpy warnings are silenced first (``_quiet_numpy``)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        _quiet_numpy()
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
    from optimizer.allocate.rounding import BROKEN_IN_CENTS

    for p in bad:
        gap = "unknown" if p.gap is None else f"{p.gap:.4%}"
        why = (
            p.message[p.message.index(BROKEN_IN_CENTS) :]
            if BROKEN_IN_CENTS in (p.message or "")
            else f"it holds every rule, but its gap to the bound on the exact optimum is {gap}, "
            "above the tolerance"
        )
        _stderr(
            f"warning: the plan of '{p.scenario}' is not certified optimal: {why} "
            "(status not_certified, exit 4)"
        )
    if bad:
        sys.exit(EXIT_NOT_CERTIFIED)


Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def output_option(
    *, required: bool = False, help: str | None = None, default: Path | None = None
) -> Decorator:
    """``-o``/``--output`` PATH into the parameter ``out``; ``--out`` (``demo``'s spelling in
    contract 5) is accepted by every command too."""
    # (no ``default=None`` when there is none: click 8.3 counts an explicit None as a value, so a
    # required -o would go missing unreported)
    extra: dict[str, Any] = {} if default is None else {"default": default}
    return click.option(
        "-o",
        "--output",
        "--out",
        "out",
        type=click.Path(path_type=Path),
        required=required,
        show_default=default is not None,
        help=help,
        **extra,
    )


def format_option(
    choices: Sequence[str], *, default: str | None = "table", help: str | None = None
) -> Decorator:
    """``--format`` into the parameter ``fmt``, one of ``choices`` (the render layer's lists).

    With a ``default`` and no ``--format``, a command that writes ``-o FILE`` takes the format
    from the file's extension when it is one of ``choices`` (``-o plan.json`` writes JSON, not a
    text table into a file named .json); an extension naming a format the command cannot write
    (``.xlsx``, ``.json``, ``.csv``, ``.html``, ``.md``) is a usage error; any other extension
    (``.txt``) gets ``default``."""
    if default is None:
        return click.option(
            "--format", "fmt", type=click.Choice(list(choices)), default=None, help=help
        )
    note = f"[default: from -o FILE's extension ({', '.join(choices)}), else {default}]"

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def wrapper(*args: Any, fmt: str | None = None, **kwargs: Any) -> Any:
            if fmt is None:
                fmt = format_from_output(kwargs.get("out"), choices, default)
            refuse_unwritable_output(kwargs.get("out"))
            refuse_overwriting_inputs(kwargs.get("out"), kwargs)
            return fn(*args, fmt=fmt, **kwargs)

        return click.option(
            "--format",
            "fmt",
            type=click.Choice(list(choices)),
            default=None,
            help=f"{help} {note}" if help else note,
        )(wrapper)

    return decorate


#: extensions that name an output format (``-o FILE`` without ``--format``)
FORMAT_EXTENSIONS = {
    ".json": "json",
    ".csv": "csv",
    ".xlsx": "xlsx",
    ".html": "html",
    ".htm": "html",
    ".md": "md",
}
#: document formats no command writes: a file so named would hold another format under its name
FOREIGN_EXTENSIONS = (".docx", ".doc", ".pdf", ".pptx", ".ppt", ".xls", ".ods", ".odt", ".rtf")


def refuse_foreign_output(out: Path | None, choices: Sequence[str]) -> None:
    """``-o report.docx`` (a document format no command writes) is an error naming the file,
    before anything runs: the file would hold another format under that name."""
    suffix = Path(out).suffix.lower() if out is not None else ""
    if suffix in FOREIGN_EXTENSIONS:
        # the command's own first format that a file extension names (explain: .md, not .json)
        ext = next((e for c in choices for e, f in FORMAT_EXTENSIONS.items() if f == c), ".txt")
        raise click.UsageError(
            f"-o {out}: budgetopt does not write {suffix} files (this command writes "
            f"{', '.join(choices)}); name the file for one of them, e.g. "
            f"{Path(str(out)).with_suffix(ext).name}"
        )


def refuse_unwritable_output(out: Path | None) -> None:
    """``-o FILE`` that cannot be written (a folder, or under a file or a folder that cannot be
    written) is an error naming it, exit 2, before anything runs: after the run it came with the
    run already recorded in the ledger and the work thrown away."""
    if out is None or str(out) == "-":
        return
    from optimizer.io.files import check_can_write

    try:
        check_can_write(out, folder=False, field="-o")
    except BudgetOptError as e:
        _stderr(f"error: {e}")
        sys.exit(e.exit_code)


#: the parameters of a command that name files it reads
_INPUT_PARAMETERS = ("scenario", "scenarios", "scenario_path", "model_path", "actuals", "plan_ref")


def refuse_overwriting_inputs(out: Path | None, params: Mapping[str, Any]) -> None:
    """``-o FILE`` naming a file the run reads (the scenario, its model or a market's model of
    its index, the actuals, the plan tracked) is an error naming both, exit 2, before anything
    runs: the output would replace the input (``optimize s.yaml -o s.yaml`` left the scenario a
    table, ``-o m1.json`` a market's model a plan)."""
    if out is None or str(out) == "-":
        return
    from optimizer.io.files import read_by

    try:
        target = Path(out).resolve()
    except OSError:
        return
    ledger = params.get("ledger_file")
    if ledger is not None and Path(str(ledger)).resolve() == target:  # review S18 R1 D6
        raise click.UsageError(
            f"-o {out}: {ledger} is the ledger of runs (--ledger); writing the output there would "
            "replace every recorded run: give another file"
        )
    for key in _INPUT_PARAMETERS:
        given = params.get(key)
        for arg in given if isinstance(given, (tuple, list)) else [given]:
            if arg is None:
                continue
            for path, what in read_by(Path(str(arg))):
                if path.resolve() == target:
                    shown = "" if what == "an input" else f" ({what}, read by {arg})"
                    raise click.UsageError(
                        f"-o {out}: {path} is an input of this run{shown}; writing the output "
                        "there would replace it: give another file"
                    )


def format_from_output(out: Path | None, choices: Sequence[str], default: str) -> str:
    """The format ``-o out`` asks for by its extension (``default`` when it names none)."""
    if out is None:
        return default
    refuse_foreign_output(out, choices)
    wanted = FORMAT_EXTENSIONS.get(Path(out).suffix.lower())
    if wanted is None:
        return default
    if wanted not in choices:
        raise click.UsageError(
            f"-o {out}: this command cannot write {wanted} (its formats: "
            f"{', '.join(choices)}); give --format, or a file name that fits it"
        )
    return wanted


def weeks_elapsed_option(what: str) -> Decorator:
    """``--weeks-elapsed N`` (track, replan): weeks of ``what`` gone by, by default the weeks
    the actuals span."""
    return click.option(
        "--weeks-elapsed",
        type=Number(0, 520, integer=True),
        default=None,
        help=f"Weeks of {what} gone by [default: the weeks the actuals span].",
    )


def frequency_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--frequency week|month`` (track, replan): how the actuals' rows are dated, when the
    dates alone do not say (one date that is the 1st of its month)."""
    return click.option(
        "--frequency",
        type=click.Choice(list(FREQUENCIES)),
        default=None,
        help="The actuals' rows are weeks (dated by any day of the week) or months (dated the "
        "1st) [default: told from the dates; one date that is the 1st, by the plan's weeks].",
    )(fn)


def model_option(
    help: str | None = "Use this model instead of the one the scenario names.",
) -> Decorator:
    """``--model PATH`` into the parameter ``model_path``."""
    return click.option(
        "--model", "model_path", type=click.Path(path_type=Path), default=None, help=help
    )


def _solver_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn = click.option(
        "--time-limit",
        type=Number(0.0, 1e6, low_open=True),
        default=None,
        metavar="SECONDS",
        help="Stop the solver after this many seconds (status time_limit).",
    )(fn)
    fn = click.option(
        "--tolerance",
        type=Number(1e-9, 0.5),
        default=DEFAULT_TOLERANCE,
        show_default=True,
        help="Certified gap to the exact optimum on the model's curves (0.0001 = 0.01%).",
    )(fn)
    fn = click.option(
        "--solver",
        type=click.Choice(list(SOLVERS)),
        default=DEFAULT_SOLVER,
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
        help="The ledger of runs (SQLite) [default: .budgetopt/ledger.sqlite in the nearest "
        "folder up from here that has a .budgetopt folder or .git, else here].",
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


def _wide_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--wide``: tables at their natural width; without it they fit the terminal (``COLUMNS``,
    default 100) by wrapping and splitting their columns (``optimizer.render.terminal``)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, wide: bool = False, **kwargs: Any) -> Any:
        from optimizer.render.terminal import set_wide

        set_wide(wide)
        return fn(*args, **kwargs)

    return click.option(
        "--wide",
        is_flag=True,
        help="Print tables at their full width, every column on one line, instead of fitting "
        "them to the terminal (COLUMNS, default 100).",
    )(wrapper)


_EXCEL: contextvars.ContextVar[bool] = contextvars.ContextVar("budgetopt_excel", default=False)


def _excel_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--excel``: ``--format csv`` as Excel opens it (``formatting.excel_csv``)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, excel: bool = False, **kwargs: Any) -> Any:
        _EXCEL.set(excel)
        return fn(*args, **kwargs)

    return click.option(
        "--excel",
        is_flag=True,
        help="With --format csv: write the CSV for Excel (a UTF-8 byte-order mark, so that "
        "names and 'Δ' show as written, and CRLF line ends). Without it the CSV is plain "
        "UTF-8 for tools.",
    )(wrapper)


def _emit_csv(text: str, out: Path | None, quiet: bool) -> None:
    """A CSV text out, for Excel with ``--excel``."""
    from optimizer.formatting import excel_csv

    _emit(excel_csv(text) if _EXCEL.get() else text, out, quiet)


def _csv_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--separator``, ``--decimal``, ``--thousands``, ``--date-format``: how to read the CSV
    files of the command when the file cannot tell (over the journey's ``csv:``; see
    docs/file-formats.md)."""
    for name, help_ in reversed(
        (
            ("--separator", "CSV separator: ',', ';', 'tab' or '|' (default: detected)."),
            ("--decimal", "Decimal mark of the CSV numbers: '.' or ',' (default: detected)."),
            (
                "--thousands",
                "Thousands separator: ',', '.', ' ', \"'\" or 'none' (default: the "
                "other of ',' and '.').",
            ),
            (
                "--date-format",
                "Dates of the CSV files: a strftime format ('%d/%m/%Y'), "
                "day-first, month-first or iso (default: detected).",
            ),
        )
    ):
        fn = click.option(name, default=None, metavar="TEXT", help=help_)(fn)
    return fn


def _csv_settings(
    separator: str | None, decimal: str | None, thousands: str | None, date_format: str | None
) -> Any:
    """The ``_csv_options`` values as ``CsvSettings`` (checked: a bad value is a usage error)."""
    from optimizer.errors import DataError
    from optimizer.io.dialect import CsvSettings, check_settings

    if separator is decimal is thousands is date_format is None:
        return None
    return check_settings(
        CsvSettings(separator, decimal, thousands, date_format), field="option", error=DataError
    )


def _warn_extrapolation(plans: Any, named: bool = False) -> None:
    """A warning per line item whose curve is used beyond its data, and for the touchpoints a
    wide carry-over file has no column for (shown even with -q)."""
    from optimizer.render.tables import extrapolation_lines

    for p in plans:
        for line in extrapolation_lines(p):
            _stderr(f"warning: {p.scenario + ': ' if named else ''}extrapolation: {line}")
        _warn_carryover(p, named=named)


def _warn_carryover(plan: Any, scenario: Path | None = None, named: bool = False) -> None:
    """The warning every command that plans from a scenario gives (optimize, compare, sweep,
    explain, replan; shown even with -q) for the touchpoints a wide carry-over file has no
    column for: they start the plan with no carry-over. From the plan's
    ``extras['carryover_missing']``, else from ``scenario``'s file (a sweep's, a replan's plan
    carries no economics)."""
    gone = plan.extras.get("carryover_missing")
    if gone is None and scenario is not None and plan.line_items:
        from optimizer.scenario import load_scenario
        from optimizer.workflow.economics import carryover_missing

        gone = carryover_missing(load_scenario(scenario), plan)
    if gone:
        tps = gone["touchpoints"]
        _stderr(
            f"warning: {plan.scenario + ': ' if named else ''}the carry-over file "
            f"{gone['file']} (carryover.before) has no column for {', '.join(tps)}: "
            f"{'it starts' if len(tps) == 1 else 'they start'} the plan with no carry-over"
        )


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
def _executor(
    workers: int | None, scheduler: str | None, quiet: bool, jobs: int = 1, profile: bool = False
) -> Any:
    """The executor the options ask for (in-process by default), closed on the way out;
    ``profile``: a local cluster's workers profile their tasks (for a performance report)."""
    from optimizer.workflow.dask_logs import quiet_dask_logs
    from optimizer.workflow.executor import executor_from

    with executor_from(workers, scheduler, jobs=jobs, profile=profile) as ex:
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
        _stderr(f"recorded run {run.id} in {_shown(path)}")
    return run.id


def _shown(path: Path) -> str:
    """A ledger's path as said on stderr: relative to the current folder when that is shorter."""
    try:
        rel = os.path.relpath(path)
    except ValueError:  # another drive
        return str(path)
    return rel if len(rel) < len(str(path)) else str(path)


def _record_review(
    spec: Any,
    pack: Any,
    ledger_file: Path | None,
    no_ledger: bool,
    quiet: bool,
    *,
    last_cycle: Path | None,
    review: dict[str, Any],
) -> str | None:
    """Record an ``explain`` run (its plan and its review pack) as ``_record`` does a run."""
    if no_ledger:
        return None
    from optimizer.app.run import record_review
    from optimizer.workflow.ledger import Ledger, ledger_path

    path = ledger_path(ledger_file)
    try:
        with Ledger(path) as led:
            run = record_review(
                led,
                spec.absolute(),
                pack.plan,
                review,
                last_cycle=None if last_cycle is None else str(last_cycle),
            )
    except Exception as e:  # noqa: BLE001 - the pack stands even when the ledger cannot take it
        _stderr(f"warning: the run was not recorded in the ledger {path}: {e}")
        return None
    if not quiet:
        _stderr(f"recorded run {run.id} in {_shown(path)}")
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


def _progress(label: str, quiet: bool, at_least: int = 1) -> Any:
    """The one progress bar (``optimizer.render.progress``) for a command's long job."""
    from optimizer.render.progress import progress_bar

    return progress_bar(label, quiet=quiet, at_least=at_least)


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
        _emit_csv(csv(), out, quiet)
    else:
        _show(table(), out, quiet)


def _show(renderable: Any, out: Path | None, quiet: bool) -> None:
    from optimizer.render import tables

    if out is not None:
        _emit(tables.render_text(renderable), out, quiet)
    else:
        tables.print_renderable(renderable)


# ------------------------------------------------------------------------------------------------
# the planning cycle: the ledger of runs, budgetary control
# ------------------------------------------------------------------------------------------------
def _open_ledger(ledger_file: Path | None) -> Any:
    from optimizer.workflow.ledger import Ledger, ledger_path

    return Ledger(ledger_path(ledger_file), create=False)
