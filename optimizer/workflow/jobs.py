"""Fitting as a job: read, validate, fit with progress, write model.json, report diagnostics."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from optimizer.data import History, read_history, read_journey
from optimizer.errors import ModelError
from optimizer.response.model import ResponseModel, write_model
from optimizer.vocabulary import MIN_WEEKS_TO_FIT


def fit_history(history: History, *, seed: int = 0, jobs: int = 1, bootstrap: int = 20,
                holdout: int = 13, quiet: bool = False, kpi: str | None = None) -> ResponseModel:
    """Fit one KPI's model, with a progress bar on stderr unless ``quiet``."""
    from optimizer.response.fit import fit_model

    if quiet:
        return fit_model(history, kpi, seed=seed, n_jobs=jobs, n_bootstrap=bootstrap,
                         holdout_weeks=holdout)
    console = Console(stderr=True)
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), console=console, transient=True) as bar:
        tasks: dict[str, int] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        return fit_model(history, kpi, seed=seed, n_jobs=jobs, n_bootstrap=bootstrap,
                         holdout_weeks=holdout, progress=progress)


def kpi_model_path(out: Path, kpi_id: str, main: bool) -> Path:
    return out if main else out.with_name(f"{out.stem}.{kpi_id}{out.suffix or '.json'}")


def fit_and_write(journey_path: Path, history_path: Path, out: Path, *, seed: int = 0, jobs: int = 1,
                  bootstrap: int = 20, holdout: int = 13, plots: Path | None = None,
                  quiet: bool = False, echo: Callable[[str], None] | None = None) -> dict[str, ResponseModel]:
    """Fit every KPI the journey lists; the main KPI's model goes to ``out``, others beside it."""
    from optimizer.render.diagnostics import diagnostics_renderable

    journey = read_journey(journey_path)
    history = read_history(history_path, journey)
    if history.n_weeks < MIN_WEEKS_TO_FIT:
        raise ModelError(f"has {history.n_weeks} weeks of history; fitting needs at least "
                         f"{MIN_WEEKS_TO_FIT} (a year, so seasonality can be told apart from media)",
                         path=history_path, field="date")
    console = Console(stderr=True, width=140)
    models: dict[str, ResponseModel] = {}
    for k in journey.all_kpis:
        model = fit_history(history, seed=seed, jobs=jobs, bootstrap=bootstrap, holdout=holdout,
                            quiet=quiet, kpi=k.column)
        path = kpi_model_path(out, k.id, k.id == journey.kpi)
        write_model(model, path)
        models[k.id] = model
        if not quiet:
            console.print(diagnostics_renderable(model))
            console.print(f"wrote {path}")
        if plots is not None:
            from optimizer.render.charts import plot_response_curves

            written = plot_response_curves(model, plots if len(journey.all_kpis) == 1 else plots / k.id)
            if not quiet:
                console.print(f"wrote {len(written)} curve plots to {plots}")
    return models
