"""``budgetopt validate``: recognise each file's kind and validate it fully.

One validation path: each kind of file is read and checked by the very functions the commands
that take it call before they compute anything — a scenario by ``app.run.load_inputs`` (the
scenario, its model, its other KPIs' models; what ``optimize``, ``sweep`` and ``replan`` read)
and ``allocate.prepare_problem`` (every check of the scenario against its model(s), the first step
of ``allocate``), a history by ``app.fitting.read_fit_history`` / ``read_fit_markets`` (what
``fit`` and ``fit --by-market`` read). So a file ``validate`` passes is never refused by those
commands on input grounds, and a file they refuse fails here with the same message.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from optimizer.allocate import prepare_problem
from optimizer.app.fitting import read_fit_history, read_fit_markets
from optimizer.app.run import RunSpec, load_inputs
from optimizer.data import has_markets, load_yaml, read_journey
from optimizer.errors import BudgetOptError, DataError
from optimizer.response.markets import MarketModel
from optimizer.response.model import read_model
from optimizer.workflow.variants import check_variants_against_model


def _expand(paths: Iterable[Path]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out.extend(
                sorted(
                    q
                    for q in p.rglob("*")
                    if q.suffix.lower() in (".yaml", ".yml", ".json") and q.is_file()
                )
            )
        else:
            out.append(p)
    return out


def kind_of(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".json":
        return "model"
    if suffix == ".csv":
        return "history"
    if suffix in (".yaml", ".yml"):
        try:
            data = load_yaml(path)
        except BudgetOptError:
            return "scenario"
        if isinstance(data, dict) and isinstance(data.get("touchpoints"), list):
            return "journey"
        return "scenario"
    return "unknown"


def validate_paths(
    paths: Iterable[Path], journey_path: Path | None = None, echo: Callable[[str], None] = print
) -> list[str]:
    """Validate every file; return the problems (empty when all are valid)."""
    problems: list[str] = []
    journey = None
    if journey_path is not None:
        try:
            journey = read_journey(journey_path)
        except BudgetOptError as e:
            return [str(e)]
    files = _expand(paths)
    if not files:
        return [
            f"{', '.join(str(p) for p in paths)}: no journey, scenario, model or history files found"
        ]
    for f in files:
        kind = kind_of(f)
        try:
            if not f.exists():
                raise DataError("the file does not exist", path=f)
            if kind == "model":
                m = read_model(f)
                if isinstance(m, MarketModel):
                    echo(
                        f"ok: {f} (markets index: {len(m.markets)} markets × "
                        f"{len(m.touchpoints)} touchpoints, KPI {m.kpi})"
                    )
                else:
                    echo(f"ok: {f} (model: {len(m.touchpoints)} touchpoints, KPI {m.kpi})")
            elif kind == "journey":
                j = read_journey(f)
                echo(
                    f"ok: {f} (journey: {len(j.touchpoints)} touchpoints over {len(set(t.stage for t in j.touchpoints))} stages)"
                )
            elif kind == "scenario":
                inputs = load_inputs(RunSpec("optimize", (str(f),)))
                prepare_problem(inputs.scenario, inputs.model, extra_models=inputs.extra_models)
                # its variants and grid as compare checks them (the same messages)
                check_variants_against_model(inputs.scenario, inputs.model, inputs.extra_models)
                sc = inputs.scenario
                echo(f"ok: {f} (scenario '{sc.name}', objective {sc.objective})")
            elif kind == "history":
                if journey is None:
                    raise DataError(
                        "a history file is validated against a journey: add --journey FILE", path=f
                    )
                if has_markets(f):
                    hs, _ = read_fit_markets(journey, f)
                    weeks = sorted({h.n_weeks for h in hs.values()})
                    span = f"{weeks[0]}" if len(weeks) == 1 else f"{weeks[0]} to {weeks[-1]}"
                    echo(f"ok: {f} (history: {len(hs)} markets, {span} weeks each)")
                else:
                    h = read_fit_history(journey, f)
                    echo(f"ok: {f} (history: {h.n_weeks} weeks)")
            else:
                raise DataError("unknown kind of file: expected .yaml, .yml, .json or .csv", path=f)
        except BudgetOptError as e:
            problems.append(str(e))
    return problems
