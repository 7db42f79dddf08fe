"""Fitting as a job: read, validate, fit with progress, write model.json, report diagnostics."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import unicodedata
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from optimizer.data import (
    History,
    Journey,
    LiftTest,
    read_calibration,
    read_history,
    read_journey,
    read_market_histories,
)
from optimizer.defaults import (
    DEFAULT_BOOTSTRAP,
    DEFAULT_HOLDOUT_WEEKS,
    DEFAULT_JOBS,
    DEFAULT_POOL,
    DEFAULT_SEED,
    DEFAULT_SHARE_DECAY,
    SEASONAL_EFFECTIVENESS,
    SHARE_DECAY_CHOICES,
)
from optimizer.errors import DataError, ModelError
from optimizer.formatting import number, share
from optimizer.io.dialect import CsvSettings
from optimizer.io.files import (
    atomic_write_text,
    check_can_write,
    check_set_folder,
    folder_as_a_set,
)
from optimizer.render import terminal
from optimizer.render.progress import progress_bar
from optimizer.response.markets import INDEX_NAME
from optimizer.response.model import ResponseModel, with_owners, write_model
from optimizer.vocabulary import MIN_WEEKS_TO_FIT

if TYPE_CHECKING:
    from optimizer.workflow.executor import Executor


def fit_history(
    history: History,
    *,
    seed: int = DEFAULT_SEED,
    jobs: int = DEFAULT_JOBS,
    bootstrap: int = DEFAULT_BOOTSTRAP,
    holdout: int = DEFAULT_HOLDOUT_WEEKS,
    quiet: bool = False,
    kpi: str | None = None,
    executor: Executor | None = None,
    calibration: Sequence[LiftTest] | None = None,
    seasonal_effectiveness: bool = SEASONAL_EFFECTIVENESS,
    prior_centre: str | None = None,
) -> ResponseModel:
    """Fit one KPI's model, with a progress bar on stderr unless ``quiet``; the bootstrap refits
    run on ``executor`` (default in-process). ``seasonal_effectiveness``: test whether the media
    effect varies by week of the year (contract 7); False keeps every touchpoint flat.
    ``prior_centre``: where the half-saturation prior sits (``fit_model``'s; None: its default)."""
    from optimizer.response.estimator import PRIOR_CENTRE
    from optimizer.response.fit import fit_model

    with progress_bar(quiet=quiet, bar_per_label=True) as bar:
        return fit_model(
            history,
            kpi,
            seed=seed,
            n_jobs=jobs,
            n_bootstrap=bootstrap,
            holdout_weeks=holdout,
            # the fit reports (stage, done, total): one bar per stage
            progress=None if bar is None else (lambda stage, done, total: bar(done, total, stage)),
            executor=executor,
            calibration=calibration,
            seasonal_effectiveness=seasonal_effectiveness,
            prior_centre=PRIOR_CENTRE if prior_centre is None else prior_centre,
        )


def calibration_lines(model: ResponseModel) -> list[str]:
    """The fit summary's lift-test lines: per test, measured against model lift and the z-score
    (empty when the model was not calibrated)."""
    cal = (model.diagnostics or {}).get("calibration")
    if not cal:
        return []
    chi2 = cal.get("chi2")
    out = [
        f"calibration: {cal['n_used']} of {cal['n_tests']} lift test(s) used"
        + (f", chi-square {chi2:.2f}" if chi2 is not None else "")
    ]
    out.append(
        f"  {'row':>4}  {'touchpoint':<20}{'weeks':<25}{'measured':>12}{'± se':>10}"
        f"{'model':>12}{'z':>7}"
    )
    for t in cal["tests"]:
        note = "" if t["used"] else "  (not used: touchpoint not identifiable)"
        out.append(
            f"  {t['row']:>4}  {t['touchpoint']:<20}{t['start'] + ' to ' + t['end']:<25}"
            f"{number(t['kpi_lift']):>12}{number(t['kpi_lift_se']):>10}"
            f"{number(t['model_lift']):>12}{t['z']:>+7.2f}{note}"
        )
    if any(tp.draws for tp in model.touchpoints.values()):
        out.append(
            "plan on this model with 'budgetopt optimize … --robust mean': with lift tests, "
            "the plan for the expected KPI over the draws captured more of the achievable "
            "uplift on simulated worlds than the plan on the point estimate "
            "(docs/response-models.md)"
        )
    return out


def kpi_model_path(out: Path, kpi_id: str, main: bool) -> Path:
    return out if main else out.with_name(f"{out.stem}.{kpi_id}{out.suffix or '.json'}")


def fit_and_write(
    journey_path: Path,
    history_path: Path,
    out: Path,
    *,
    seed: int = DEFAULT_SEED,
    jobs: int = DEFAULT_JOBS,
    bootstrap: int = DEFAULT_BOOTSTRAP,
    holdout: int = DEFAULT_HOLDOUT_WEEKS,
    plots: Path | None = None,
    quiet: bool = False,
    echo: Callable[[str], None] | None = None,
    executor: Executor | None = None,
    by_market: bool = False,
    calibration: Path | None = None,
    pool: bool = DEFAULT_POOL,
    share_decay: str = DEFAULT_SHARE_DECAY,
    csv: CsvSettings | None = None,
    seasonal_effectiveness: bool = SEASONAL_EFFECTIVENESS,
    prior_centre: str | None = None,
) -> dict[str, ResponseModel]:
    """Fit every KPI the journey lists; the main KPI's model goes to ``out``, others beside it.

    With ``by_market`` the history's ``market`` column splits it into one history per market,
    each fitted as one task of ``executor`` (see ``fit_markets``); ``out`` is then a folder and the
    result is keyed ``MARKET`` (main KPI) and ``MARKET.KPI`` (others). Otherwise the bootstrap
    refits run on ``executor``. ``calibration`` is a file of lift tests
    (``optimizer.data.read_calibration``) each KPI's fit must agree with (not with
    ``by_market``: a test belongs to one market's history).
    """
    from optimizer.render.diagnostics import diagnostics_renderable

    journey = read_journey(journey_path)
    # the outputs are checked before the fit (minutes, with draws): never a fit thrown away
    # for a path that could not be written, nor a model written beside plots that fail
    if not by_market:
        check_can_write(out, folder=False, field="-o")
    if plots is not None:
        check_can_write(plots, folder=True, field="--plots")
        try:  # made now: a folder the system refuses (whoever asks) is said before the fit too
            plots.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise DataError(
                f"cannot make the folder: {e.strerror or e}", path=plots, field="--plots"
            ) from None
    if csv is not None:  # the command line's settings over the journey's
        journey = dataclasses.replace(journey, csv=journey.csv.merged(csv))
    if by_market and calibration is not None:
        raise DataError(
            "--calibration cannot be combined with --by-market yet: fit each market "
            "with its own lift tests",
            path=calibration,
        )
    if share_decay != "off" and not by_market:
        raise DataError(
            f"--share-decay {share_decay} pools each touchpoint's carry-over across markets: "
            "it needs --by-market (a history with a 'market' column)",
            path=history_path,
        )
    if by_market and journey.untested:
        raise DataError(
            "touchpoints with a 'prior' cannot be fitted by market yet: add them to each "
            "market's model.json as priors (docs/file-formats.md)",
            path=journey_path,
            field="touchpoints",
        )
    if by_market:
        if (executor is None or executor.in_process) and jobs > 1:
            from optimizer.workflow.executor import LocalProcesses

            executor = LocalProcesses(jobs)  # the markets, in parallel on this machine
        return fit_markets(
            journey,
            history_path,
            out,
            seed=seed,
            bootstrap=bootstrap,
            holdout=holdout,
            plots=plots,
            quiet=quiet,
            executor=executor,
            pool=pool,
            seasonal_effectiveness=seasonal_effectiveness,
            prior_centre=prior_centre,
            share_decay=share_decay,
        )
    history = read_fit_history(journey, history_path)
    if not quiet:
        for note in history.meta.get("notes", ()):
            (echo or _stderr)(note)
    tests = read_calibration(calibration, history) if calibration is not None else None
    console = terminal.console(stderr=True)
    models: dict[str, ResponseModel] = {}
    for k in journey.all_kpis:
        model = fit_history(
            history,
            seed=seed,
            jobs=jobs,
            bootstrap=bootstrap,
            holdout=holdout,
            quiet=quiet,
            kpi=k.column,
            executor=executor,
            calibration=tests,
            seasonal_effectiveness=seasonal_effectiveness,
            prior_centre=prior_centre,
        )
        model = with_owners(model, {t.id: t.owner for t in journey.touchpoints})
        model = dataclasses.replace(model, currency=journey.currency)
        if journey.untested:  # new touchpoints: their priors, not fitted (response/prior.py)
            from optimizer.response.prior import with_priors

            try:
                model = with_priors(model, journey.untested)
            except ModelError as e:  # the prior is the journey's: say so, with its field
                raise DataError(str(e), path=journey_path) from e
        path = kpi_model_path(out, k.id, k.id == journey.kpi)
        write_model(model, path)
        models[k.id] = model
        if not quiet:
            terminal.print_fitted(console, diagnostics_renderable(model))
            for line in calibration_lines(model):
                console.print(line, markup=False, highlight=False)
            se = (model.diagnostics or {}).get("seasonal_effectiveness")
            if se:
                console.print(
                    f"seasonal effectiveness of the media effect: {se['chosen']} ({se['reason']})",
                    markup=False,
                    highlight=False,
                )
            console.print(f"wrote {path}")
        else:  # -q leaves the table out, not the warnings (as every other command)
            for w in (model.diagnostics or {}).get("warnings") or []:
                console.print(f"warning: {w}", markup=False, highlight=False)
        if plots is not None:
            from optimizer.render.charts import plot_response_curves

            written = plot_response_curves(
                model, plots if len(journey.all_kpis) == 1 else plots / k.id
            )
            if not quiet:
                console.print(f"wrote {len(written)} curve plots to {plots}")
    return models


def read_fit_history(journey: Journey, history_path: Path) -> History:
    """A history as ``fit`` reads it, with every check ``fit`` applies to it before fitting
    (``validate`` calls this too)."""
    history = read_history(history_path, journey)
    _check_weeks(history, history_path)
    return history


def read_fit_markets(
    journey: Journey, history_path: Path, out_dir: Path | None = None
) -> tuple[dict[str, History], dict[str, Path]]:
    """A history with a ``market`` column as ``fit --by-market`` reads it — one history per
    market, each with enough weeks — and the file each market's model is written to (names that
    would clash are an error), with every check ``fit --by-market`` applies before fitting
    (``validate`` calls this too; without ``out_dir`` the files are named in ``.``)."""
    histories = read_market_histories(history_path, journey)
    for market, h in histories.items():
        _check_weeks(h, history_path, market)
    if out_dir is not None and out_dir.exists() and not out_dir.is_dir():
        raise DataError(
            "with --by-market the output is a folder (one model per market), but this is a file",
            path=out_dir,
        )
    if out_dir is not None:  # before the fits, not after them
        check_set_folder(out_dir)
    try:
        paths = market_model_paths(
            out_dir or Path("."),
            list(histories),
            [k.id for k in journey.all_kpis if k.id != journey.kpi],
        )
    except DataError as e:
        raise DataError(
            str(e).removeprefix(f"field '{e.field}': "), path=history_path, field=e.field
        ) from None
    return histories, paths


def _check_weeks(history: History, path: Path, market: str | None = None) -> None:
    if history.n_weeks < MIN_WEEKS_TO_FIT:
        where = f"market {market!r} " if market is not None else ""
        raise ModelError(
            f"{where}has {history.n_weeks} weeks of history; fitting needs at least "
            f"{MIN_WEEKS_TO_FIT} (a year, so seasonality can be told apart from media)",
            path=path,
            field="date",
        )


#: names Windows keeps for devices, whatever the extension (``con.json`` cannot be a file there)
_RESERVED_STEMS = {
    "con",
    "prn",
    "aux",
    "nul",
    *(f"{d}{i}" for d in ("com", "lpt") for i in range(1, 10)),
}
#: the longest stem written (in UTF-8 bytes): file systems allow 255 bytes a name, and
#: ``<stem>.<kpi>.json`` and the staging folder's prefix need room
_MAX_STEM_BYTES = 96


def market_file_stem(market: str) -> str:
    """A market's name as a file name: letters (any script, in Unicode's composed form), digits,
    ``-``, ``_`` and ``.`` kept, anything else (spaces, slashes) an underscore; leading and
    trailing dots and underscores dropped (so no name is ``.`` or ``..``, or hidden); a name left
    empty is ``market``, a device name of Windows (``con``, ``nul``…) gets ``market_`` before it,
    and a name longer than ``_MAX_STEM_BYTES`` is cut, with a short hash of the whole name so
    that two long names stay apart."""
    name = unicodedata.normalize("NFC", market.strip())
    stem = re.sub(r"[^\w.-]+", "_", name).strip("._") or "market"
    if stem.split(".")[0].casefold() in _RESERVED_STEMS:
        stem = f"market_{stem}"
    if len(stem.encode("utf-8")) > _MAX_STEM_BYTES:
        digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:10]
        cut = stem.encode("utf-8")[: _MAX_STEM_BYTES - 11].decode("utf-8", errors="ignore")
        stem = f"{cut.rstrip('._')}-{digest}"
    return stem


def market_model_paths(
    out_dir: Path, markets: Sequence[str], kpis: Sequence[str] = ()
) -> dict[str, Path]:
    """``out_dir/<market>.json`` per market (other KPIs ``<market>.<kpi>.json``). A market whose
    file-safe name is the index's (``markets``) is written as ``market_markets.json``, so that no
    market can overwrite the index, and every file is in ``out_dir`` (``market_file_stem``);
    names whose files clash (case and Unicode normal form aside) are an error."""
    paths: dict[str, Path] = {}
    seen: dict[str, str] = {"markets.json": "(the index)"}
    for m in markets:
        stem = market_file_stem(m)
        if stem.lower() == Path(INDEX_NAME).stem:
            stem = f"market_{stem}"
        files = [f"{stem}.json", *(f"{stem}.{k}.json" for k in kpis)]
        for f in files:
            if f.casefold() in seen:
                raise DataError(
                    f"markets {seen[f.casefold()]!r} and {m!r} would both be written to "
                    f"{f}: rename one of them",
                    field="market",
                )
        for f in files:
            seen[f.casefold()] = m
        paths[m] = out_dir / f"{stem}.json"
    return paths


def _fit_market(task: tuple[Any, ...]) -> dict[str, ResponseModel]:
    """Every KPI of one market's history, in-process on whichever worker runs it; a third item
    of ``task`` gives each KPI's decay priors (KPI id -> touchpoint -> (centre, sd))."""
    from optimizer.response.fit import fit_model

    history, opts = task[0], task[1]
    priors: dict[str, Any] = task[2] if len(task) > 2 else {}
    return {
        k.id: fit_model(
            history,
            k.column,
            **opts,
            **({"decay_priors": priors[k.id]} if priors.get(k.id) else {}),
        )
        for k in history.journey.all_kpis
    }


def _run_markets(
    ex: Any, tasks: list[tuple[Any, ...]], order: list[int], step: Any
) -> list[dict[str, ResponseModel]]:
    """``_fit_market`` of every task (in ``order``: the longest histories first), on ``ex``; the
    results in market order."""
    from optimizer.workflow.executor import DaskExecutor

    ordered = [tasks[i] for i in order]
    if isinstance(ex, DaskExecutor):
        # one market a task: a fit is seconds of work, so the scheduler's overhead is
        # nothing beside it, and chunks of several markets (the default: about four
        # tasks a worker) leave one worker fitting its last chunk while the other waits
        done = ex.map(_fit_market, ordered, progress=step, chunksize=1)
    else:
        done = ex.map(_fit_market, ordered, progress=step)
    fitted: list[dict[str, ResponseModel]] = [{} for _ in tasks]
    for i, f in zip(order, done, strict=True):
        fitted[i] = f
    return fitted


def fit_markets(
    journey: Journey,
    history_path: Path,
    out_dir: Path,
    *,
    seed: int = 0,
    bootstrap: int = 20,
    holdout: int = 13,
    plots: Path | None = None,
    quiet: bool = False,
    executor: Executor | None = None,
    pool: bool = DEFAULT_POOL,
    seasonal_effectiveness: bool = SEASONAL_EFFECTIVENESS,
    prior_centre: str | None = None,
    share_decay: str = DEFAULT_SHARE_DECAY,
) -> dict[str, ResponseModel]:
    """One model per market (and KPI) of a history with a ``market`` column.

    With ``share_decay`` "pooled" or "shared" each touchpoint's adstock decay is pooled across
    the markets inside the fit (``optimizer.response.shared_decay``): a first pass fits every
    market's MAP and profiles its likelihood over each touchpoint's decay, the profiles are
    combined (the markets' spread of the decay by empirical Bayes, or none: one decay), and
    every market is fitted again with the decay prior the other markets give it; its other
    parameters stay its own (``diagnostics.shared_decay``). Both passes run on ``executor``.

    With ``pool`` (the default) each touchpoint's effect is then pooled across the markets
    towards its national level by empirical Bayes (``workflow.pooling``), so that small, noisy
    markets borrow strength from the others; without it each market keeps its own fit.

    Each market is one task of ``executor`` (default in-process): its whole fit, bootstrap
    included, runs where the task runs, with the same ``seed`` for every market, so each market's
    model is the one ``fit_model`` gives on that market's history alone. The models are written
    here (not by the workers) to ``out_dir/<market>.json``, other KPIs' to
    ``out_dir/<market>.<kpi>.json``, with ``out_dir/markets.json`` listing them.
    """
    from optimizer.workflow.executor import using

    if share_decay not in SHARE_DECAY_CHOICES:
        raise ValueError(f"share_decay {share_decay!r}: expected one of {SHARE_DECAY_CHOICES}")

    # Dask workers start importing the fitter now (seconds each), while this process imports it
    # and reads the history, rather than when their first market arrives
    if executor is not None:
        executor.preload(__name__, "optimizer.response.fit")
    # the fitter (scikit-learn, scipy's optimisers) imported here, before --jobs forks its
    # processes, so that each inherits it instead of importing it again (measured: about 3
    # CPU-seconds per process, a tenth of a 6-market fit)
    import optimizer.response.fit  # noqa: F401

    histories, paths = read_fit_markets(journey, history_path, out_dir)
    if not quiet and histories:  # the same file: its notes are the same for every market
        for note in next(iter(histories.values())).meta.get("notes", ()):
            _stderr(note)
    markets = list(histories)
    opts = {
        "seed": seed,
        "n_bootstrap": bootstrap,
        "holdout_weeks": holdout,
        "seasonal_effectiveness": seasonal_effectiveness,
        **({} if prior_centre is None else {"prior_centre": prior_centre}),
    }
    console = terminal.console(stderr=True)
    with using(executor) as ex:
        if not quiet:
            console.print(
                f"fitting {len(markets)} market(s): {', '.join(markets[:8])}"
                + (", …" if len(markets) > 8 else "")
            )
        # the longest histories first (the fit's time grows with the weeks), so that no
        # worker starts a long market while the others have nothing left; the results go
        # back to market order, and each market's fit is the same whatever runs it when
        order = sorted(range(len(markets)), key=lambda i: -histories[markets[i]].n_weeks)
        shared: dict[str, Any] = {}  # KPI id -> touchpoint -> SharedDecay
        priors: list[dict[str, Any]] = [{} for _ in markets]
        if share_decay != "off" and len(markets) == 1 and not quiet:
            _stderr(
                f"note: --share-decay {share_decay} pools each touchpoint's carry-over across "
                f"markets, and the history has one ({markets[0]}): its fit keeps its own"
            )
        if share_decay != "off" and len(markets) > 1:
            from optimizer.response import shared_decay as SD

            first = {**opts, "n_bootstrap": 0, "decay_profile": True}
            first["seasonal_effectiveness"] = False
            with progress_bar("markets: decay profiles", quiet=quiet, console=console) as bar:
                step = None if bar is None else (lambda done, total, _k: bar(done, total, ""))
                profiled = _run_markets(ex, [(histories[m], first) for m in markets], order, step)
            for k in journey.all_kpis:
                profiles = {
                    m: dict(f[k.id].diagnostics.get("decay_profile") or {})
                    for m, f in zip(markets, profiled, strict=True)
                }
                own = {
                    m: {
                        t: tp.adstock.decay
                        for t, tp in f[k.id].touchpoints.items()
                        if tp.adstock is not None
                    }
                    for m, f in zip(markets, profiled, strict=True)
                }
                shared[k.id] = SD.pool_markets(profiles, mode=share_decay, own_fit=own)
                for i, m in enumerate(markets):
                    priors[i][k.id] = SD.market_priors(shared[k.id], m)
        with progress_bar("markets", quiet=quiet, console=console) as bar:
            step = None if bar is None else (lambda done, total, _k: bar(done, total, ""))
            tasks = [(histories[m], opts, priors[i]) for i, m in enumerate(markets)]
            fitted = _run_markets(ex, tasks, order, step)
    if shared:
        from optimizer.response import shared_decay as SD

        for m, f in zip(markets, fitted, strict=True):
            for k_id, sh in shared.items():
                diag = {**f[k_id].diagnostics, "shared_decay": SD.diagnostics(sh, m, share_decay)}
                f[k_id] = dataclasses.replace(f[k_id], diagnostics=diag)
    pooling: list[Any] = []
    if pool and len(markets) > 1 and bootstrap < 2 and not quiet:
        _stderr(
            "note: pooling across markets needs each fit's draws (--bootstrap 2 or more); "
            "each market keeps its own fit"
        )
    if pool and len(markets) > 1:
        from optimizer.workflow.pooling import pool_markets

        for k in journey.all_kpis:
            pooled, rep = pool_markets({m: f[k.id] for m, f in zip(markets, fitted, strict=True)})
            for f, m in zip(fitted, markets, strict=True):
                f[k.id] = pooled[m]
            if k.id == journey.kpi:
                pooling = rep
    models: dict[str, ResponseModel] = {}
    index: dict[str, Any] = {}
    owners = {t.id: t.owner for t in journey.touchpoints}
    # the set of files is written as a set: into a folder beside out_dir that then replaces it
    # in one rename, so a run killed or failing midway leaves the previous run's set whole
    old_set = _previous_set(out_dir)
    with folder_as_a_set(out_dir, carry=lambda name: name not in old_set) as staged:
        for market, per_kpi in zip(markets, fitted, strict=True):
            per_kpi = {
                k: dataclasses.replace(with_owners(m, owners), currency=journey.currency)
                for k, m in per_kpi.items()
            }
            files = {}
            for k in journey.all_kpis:
                path = kpi_model_path(staged / paths[market].name, k.id, k.id == journey.kpi)
                write_model(per_kpi[k.id], path)
                files[k.id] = path.name
                models[market if k.id == journey.kpi else f"{market}.{k.id}"] = per_kpi[k.id]
            index[market] = {
                "model": paths[market].name,
                "models": files,
                "weeks": histories[market].n_weeks,
            }
        atomic_write_text(
            staged / INDEX_NAME,
            json.dumps({"kpi": journey.kpi, "touchpoints": journey.ids, "markets": index}, indent=2)
            + "\n",
        )
    if plots is not None:
        from optimizer.render.charts import plot_response_curves

        for market in markets:
            plot_response_curves(models[market], plots / paths[market].stem)
    if not quiet:
        terminal.print_fitted(console, _market_table(journey.kpi, markets, models, paths))
        if shared.get(journey.kpi):
            terminal.print_fitted(
                console, _shared_decay_table(shared[journey.kpi], markets, models, share_decay)
            )
        if pooling:
            terminal.print_fitted(console, _pooling_table(pooling))
        console.print(f"wrote {len(markets)} market model(s) and markets.json to {out_dir}")
    return models


def _previous_set(out_dir: Path) -> set[str]:
    """The files of the set a previous ``fit --by-market`` wrote to ``out_dir``: its index and
    the model files the index lists (anything else in the folder is carried over, not replaced)."""
    names = {INDEX_NAME}
    try:
        data = json.loads((out_dir / INDEX_NAME).read_text(encoding="utf-8"))
        for entry in (data.get("markets") or {}).values():
            names.add(str(entry.get("model")))
            names.update(str(f) for f in (entry.get("models") or {}).values())
    except (OSError, ValueError, AttributeError, TypeError):
        pass
    return names


def _market_table(
    kpi: str, markets: Sequence[str], models: dict[str, ResponseModel], paths: dict[str, Path]
) -> Any:
    from rich.table import Table

    table = Table(title=f"One {kpi} model per market")
    for col in ("market", "weeks", "R²", "holdout MAPE", "warnings", "file"):
        table.add_column(col, justify="left" if col in ("market", "file") else "right")
    for m in markets:
        d = models[m].diagnostics
        mape = d.get("mape_holdout")
        n_warn = len(d.get("warnings") or []) + sum(
            len(tp.diagnostics.get("warnings") or []) for tp in models[m].touchpoints.values()
        )
        table.add_row(
            m,
            str(d.get("n_weeks", "")),
            f"{d.get('r2', float('nan')):.3f}",
            "" if mape is None else share(mape),
            str(n_warn),
            paths[m].name,
        )
    return table


def _shared_decay_table(
    shared: dict[str, Any], markets: Sequence[str], models: dict[str, ResponseModel], mode: str
) -> Any:
    """Each touchpoint's carry-over across the markets: the pooled decay, the markets' spread
    (empirical Bayes), how many markets took the pooled prior, and the fitted decays' range."""
    from rich.table import Table

    how = "one decay, shared" if mode == "shared" else "spread τ by empirical Bayes"
    table = Table(title=f"Each touchpoint's carry-over (adstock decay) across markets ({how})")
    for col in ("touchpoint", "pooled decay", "spread τ", "markets on it", "own → fitted"):
        table.add_column(col, justify="left" if col == "touchpoint" else "right")
    for t, s in shared.items():
        fitted = [
            models[m].touchpoints[t].adstock.decay  # type: ignore[union-attr]
            for m in markets
            if t in models[m].touchpoints and models[m].touchpoints[t].adstock is not None
        ]
        own = list(s.own_fit.values())
        table.add_row(
            t,
            f"{s.decay:.2f} ± {s.decay_sd:.2f}",
            f"{s.tau:.2f}",
            f"{sum(p is not None for p in s.prior.values())} of {len(s.prior)}",
            f"{min(own):.2f}–{max(own):.2f} → {min(fitted):.2f}–{max(fitted):.2f}"
            if own and fitted
            else "",
        )
    return table


def _pooling_table(report: Sequence[Any]) -> Any:
    from rich.table import Table

    table = Table(
        title="Each touchpoint's effect and shape pooled across markets (marginal return per "
        "dollar and elasticity at each market's mean spend)"
    )
    for col in ("touchpoint", "national", "spread τ", "kept of own fit", "shape τ", "markets"):
        table.add_column(col, justify="left" if col == "touchpoint" else "right")
    for r in report:
        w = list(r.weight.values())
        table.add_row(
            r.id,
            f"{r.national:.3g}",
            f"{r.tau:.3g}",
            f"{sum(w) / len(w):.0%}" if w else "",
            f"{r.elasticity_tau:.3g}",
            str(len(r.separate)),
        )
    return table


def _stderr(text: str) -> None:
    import sys

    print(text, file=sys.stderr)
