"""The data commands of ``budgetopt``: fit, validate, aggregate, demo (parse → call → render)."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import click

from optimizer.cli_common import (
    CONTEXT,
    Number,
    _csv_options,
    _csv_settings,
    _executor,
    _executor_options,
    _stderr,
    _wide_option,
    handle_errors,
    output_option,
)
from optimizer.defaults import (
    DEFAULT_BLOCKSIZE,
    DEFAULT_BOOTSTRAP,
    DEFAULT_DEMO_DIR,
    DEFAULT_HOLDOUT_WEEKS,
    DEFAULT_JOBS,
    DEFAULT_POOL,
    DEFAULT_SEED,
    DEFAULT_SHARE_DECAY,
    SEASONAL_EFFECTIVENESS,
    SHARE_DECAY_CHOICES,
)


# ------------------------------------------------------------------------------------------------
@click.command(context_settings=CONTEXT)
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
@output_option(
    required=True,
    help="Where to write model.json (with --by-market: the folder for one model per market).",
)
@click.option(
    "--by-market",
    is_flag=True,
    help="The history has a 'market' column: fit one model per market, written to "
    "OUTPUT/<market>.json with OUTPUT/markets.json listing them.",
)
@click.option(
    "--seed",
    type=Number(0, 2**32 - 1, integer=True),
    default=DEFAULT_SEED,
    show_default=True,
    help="Random seed (search, draws).",
)
@click.option(
    "--jobs",
    type=Number(1, 256, integer=True),
    default=DEFAULT_JOBS,
    show_default=True,
    help="Local parallel jobs.",
)
@click.option(
    "--bootstrap",
    type=Number(0, 10_000, integer=True),
    default=DEFAULT_BOOTSTRAP,
    show_default=True,
    help="Draws of each curve stored for its uncertainty (0 for none): Laplace draws "
    "around the fit, or block-bootstrap refits when lift tests calibrate it.",
)
@click.option(
    "--holdout",
    type=Number(0, 520, integer=True),
    default=DEFAULT_HOLDOUT_WEEKS,
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
    default=DEFAULT_POOL,
    show_default=True,
    help="With --by-market: pool each touchpoint's marginal return across markets towards its "
    "national level (empirical Bayes, strength estimated from the data), so that small, noisy "
    "markets borrow from the others; --no-pool keeps each market's own fit "
    "(docs/scale-out.md).",
)
@click.option(
    "--share-decay",
    "share_decay",
    type=click.Choice(list(SHARE_DECAY_CHOICES)),
    default=DEFAULT_SHARE_DECAY,
    show_default=True,
    help="With --by-market: each touchpoint's carry-over (adstock decay) from every market's "
    "history, inside the fit: 'pooled' (the markets' spread of the decay estimated from the "
    "data), 'shared' (one decay for all markets) or 'off' (each market's own). Every market is "
    "fitted twice. Measured on simulated markets: better plans where each market's history is "
    "informative, none on noisy, short ones (docs/scale-out.md).",
)
@click.option(
    "--seasonal-effectiveness/--no-seasonal-effectiveness",
    default=SEASONAL_EFFECTIVENESS,
    show_default=True,
    help="Test whether each touchpoint's media effect varies by week of the year and, when the "
    "history supports it, write that season to model.json (contract 7's 'effectiveness'); "
    "--no-seasonal-effectiveness keeps every touchpoint flat.",
)
@click.option(
    "--prior-centre",
    "prior_centre",
    type=click.Choice(["operating", "mean"]),
    default=None,
    help="Where each curve's weak prior puts its half-saturation point: at the spend the "
    "touchpoint runs at in the weeks it runs ('operating', the default) or at its mean over all "
    "weeks ('mean', the fit before 2026-12-06). Only flighted touchpoints differ "
    "(docs/response-models.md).",
)
@click.option(
    "-q", "--quiet", is_flag=True, help="No progress or diagnostics on stderr (warnings still)."
)
@click.option(
    "--performance-report",
    "performance_report",
    type=click.Path(path_type=Path),
    default=None,
    metavar="HTML",
    help="With --workers or --scheduler: write Dask's performance report of the run (task "
    "stream, the workers' profiles) to this HTML file. Needs bokeh.",
)
@_csv_options
@_executor_options
@_wide_option
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
    share_decay: str,
    seasonal_effectiveness: bool,
    prior_centre: str | None,
    quiet: bool,
    performance_report: Path | None,
    separator: str | None,
    decimal: str | None,
    thousands: str | None,
    date_format: str | None,
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
    import contextlib

    from optimizer.app.fitting import fit_and_write

    with _executor(workers, scheduler, quiet, profile=performance_report is not None) as ex:
        report: Any = contextlib.nullcontext()
        if performance_report is not None:
            report = _performance_report(ex, performance_report)
        with report:
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
                share_decay=share_decay,
                csv=_csv_settings(separator, decimal, thousands, date_format),
                seasonal_effectiveness=seasonal_effectiveness,
                prior_centre=prior_centre,
            )


def _performance_report(ex: Any, path: Path) -> Any:
    """Dask's performance report of the run into ``path``, checked before anything runs: the run
    must be on Dask, and the report's folder must exist."""
    from optimizer.errors import DataError
    from optimizer.workflow.executor import ClusterError, DaskExecutor

    if not isinstance(ex, DaskExecutor):
        raise ClusterError(
            "a performance report is Dask's: give --workers N or --scheduler ADDRESS with it",
            field="--performance-report",
        )
    if not path.parent.is_dir() or path.is_dir():
        what = "is a folder" if path.is_dir() else "is in a folder that does not exist"
        raise DataError(f"the report file {what}", path=path, field="--performance-report")
    return ex.performance_report(path)


# ------------------------------------------------------------------------------------------------
@click.command(context_settings=CONTEXT)
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
    from optimizer.app.checks import validate_paths

    problems = validate_paths(files, journey_path, echo=_stderr)
    if problems:
        for p in problems:
            _stderr(f"error: {p}")
        sys.exit(2)


# ------------------------------------------------------------------------------------------------
@click.command(context_settings=CONTEXT)
@click.argument("daily", type=str)
@click.option(
    "--journey",
    "journey_path",
    required=True,
    type=click.Path(path_type=Path),
    help="The journey: which columns are spend, KPIs, controls and events.",
)
@output_option(required=True, help="Where to write the weekly history (CSV).")
@click.option(
    "--by-market",
    is_flag=True,
    help="Keep the markets apart: one weekly series per market, with a 'market' column "
    "(for budgetopt fit --by-market) [default: add the markets up].",
)
@click.option(
    "--blocksize",
    default=DEFAULT_BLOCKSIZE,
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
@click.command(context_settings=CONTEXT)
@output_option(default=DEFAULT_DEMO_DIR, help="Folder for the demo's outputs.")
@click.option(
    "--seed", type=Number(0, 2**32 - 1, integer=True), default=DEFAULT_SEED, show_default=True
)
@click.option("-q", "--quiet", is_flag=True, help="Print only the comparison.")
@_wide_option
@handle_errors
def demo(out: Path, seed: int, quiet: bool) -> None:
    """The whole job on the bundled sample company: fit its history, optimise the example
    scenarios on the fitted curves, compare them, and write everything to a folder.

    \b
    Example:
      budgetopt demo --out demo-output
    """
    from optimizer.app.demo import run_demo

    t0 = time.perf_counter()
    run_demo(out, seed=seed, quiet=quiet, echo=_stderr)
    if not quiet:
        _stderr(f"demo finished in {time.perf_counter() - t0:.1f} s")
