"""``budgetopt validate``: recognise each file's kind and validate it fully."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from optimizer.data import has_markets, load_yaml, read_history, read_journey, read_market_histories
from optimizer.errors import BudgetOptError, DataError
from optimizer.response.markets import MarketModel
from optimizer.response.model import read_model
from optimizer.scenario import check_against_markets, check_against_model, load_scenario


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
                sc = load_scenario(f)
                m = read_model(sc.model)
                stages = {k: v.stage for k, v in m.touchpoints.items()}
                check_against_model(
                    sc, stages, owners_of={k: v.owner for k, v in m.touchpoints.items()}
                )
                if isinstance(m, MarketModel):
                    check_against_markets(sc, m.names, stages, keys=m.keys)
                echo(f"ok: {f} (scenario '{sc.name}', objective {sc.objective})")
            elif kind == "history":
                if journey is None:
                    raise DataError(
                        "a history file is validated against a journey: add --journey FILE", path=f
                    )
                if has_markets(f):
                    hs = read_market_histories(f, journey)
                    weeks = sorted({h.n_weeks for h in hs.values()})
                    span = f"{weeks[0]}" if len(weeks) == 1 else f"{weeks[0]} to {weeks[-1]}"
                    echo(f"ok: {f} (history: {len(hs)} markets, {span} weeks each)")
                else:
                    h = read_history(f, journey)
                    echo(f"ok: {f} (history: {h.n_weeks} weeks)")
            else:
                raise DataError("unknown kind of file: expected .yaml, .yml, .json or .csv", path=f)
        except BudgetOptError as e:
            problems.append(str(e))
    return problems
