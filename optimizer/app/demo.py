"""``budgetopt demo``: the whole job on the bundled sample company, in-process."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import yaml

from optimizer.allocate import allocate
from optimizer.data import read_history, read_journey
from optimizer.defaults import DEFAULT_DEMO_DIR  # noqa: F401 (re-exported)
from optimizer.errors import BudgetOptError
from optimizer.formatting import money, share
from optimizer.io.files import atomic_write_text
from optimizer.render import machine, tables
from optimizer.response.model import ResponseModel, read_model, write_model
from optimizer.scenario import load_scenario
from optimizer.workflow.compare import Comparison, compare_scenarios

SAMPLE = Path(__file__).resolve().parent.parent / "sample"
DEMO_SCENARIOS = ("base.yaml", "budget_cut.yaml", "awareness_push.yaml", "commitments.yaml")
#: the year planned month by month (contract 7)
PHASED_SCENARIO = "fy26_monthly.yaml"


def true_value(plan_spend: dict[str, float], truth: ResponseModel, weeks: float) -> float:
    """The KPI a plan would really buy, on the true curves."""
    return float(sum(truth.touchpoints[t].horizon_kpi(s, weeks) for t, s in plan_spend.items()))


def run_demo(
    out_dir: Path,
    *,
    seed: int = 0,
    quiet: bool = False,
    echo: Callable[[str], None] = print,
    bootstrap: int = 10,
) -> Comparison:
    from optimizer.app.fitting import fit_history

    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise BudgetOptError("expected a folder here, but this is a file", path=out_dir)
    try:  # before the fit: a folder that cannot be made is said at once, by name
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise BudgetOptError(
            f"cannot make the folder: {e.strerror or e}", path=out_dir, field="--out"
        ) from None
    written: list[Path] = []
    say = (lambda s: None) if quiet else echo

    journey = read_journey(SAMPLE / "journey.yaml")
    history = read_history(SAMPLE / "history.csv", journey)
    say(
        f"sample company: {len(journey.touchpoints)} touchpoints over "
        f"{len({t.stage for t in journey.touchpoints})} journey stages, {history.n_weeks} weeks of history"
    )
    say("fitting response curves (adstock + saturation per touchpoint) …")
    model = fit_history(history, seed=seed, bootstrap=bootstrap, quiet=quiet)
    model_path = write_model(model, out_dir / "model.json")
    written.append(model_path)
    d = dict(model.diagnostics)
    r2, mape = d.get("r2"), d.get("mape_holdout")
    say(
        "fit: R² "
        + ("–" if r2 is None else f"{r2:.3f}")
        + ", holdout MAPE "
        + ("–" if mape is None else f"{100 * mape:.1f}%")
    )

    # the example scenarios, pointed at the fitted model
    scen_dir = out_dir / "scenarios"
    for name in DEMO_SCENARIOS:
        raw = yaml.safe_load((SAMPLE / "scenarios" / name).read_text())
        if "model" in raw:
            raw["model"] = "../model.json"
        p = atomic_write_text(scen_dir / name, yaml.safe_dump(raw, sort_keys=False))
        written.append(p)
    # as `budgetopt compare` does: each plan with its costliest binding rules
    comp = compare_scenarios(
        [load_scenario(scen_dir / name) for name in DEMO_SCENARIOS], model_override=model
    )
    plans = list(comp.plans)
    for name, plan in zip(DEMO_SCENARIOS, plans, strict=True):
        stem = Path(name).stem
        written.append(
            atomic_write_text(out_dir / "plans" / f"{stem}.json", machine.plan_json(plan))
        )
        written.append(atomic_write_text(out_dir / "plans" / f"{stem}.csv", machine.plan_csv(plan)))
    written.append(atomic_write_text(out_dir / "comparison.json", machine.comparison_json(comp)))
    written.append(atomic_write_text(out_dir / "comparison.csv", machine.comparison_csv(comp)))
    text = tables.render_text(tables.comparison_renderable(comp))
    written.append(atomic_write_text(out_dir / "comparison.txt", text))
    tables.print_renderable(tables.comparison_renderable(comp))

    # a year on a calendar (contract 7): the same company planned month by month, with the
    # carry-over of last year's spend and what the year's spend earns after it
    raw = yaml.safe_load((SAMPLE / "scenarios" / PHASED_SCENARIO).read_text())
    raw["model"] = "../model.json"
    raw["carryover"] = {**raw.get("carryover", {}), "before": str(SAMPLE / "history.csv")}
    p = atomic_write_text(scen_dir / PHASED_SCENARIO, yaml.safe_dump(raw, sort_keys=False))
    written.append(p)
    say(f"planning {raw['name']!r}: {raw['horizon_weeks']} weeks from {raw['start']}, by month …")
    year = allocate(load_scenario(p), model)
    stem = Path(PHASED_SCENARIO).stem
    written.append(atomic_write_text(out_dir / "plans" / f"{stem}.json", machine.plan_json(year)))
    written.append(atomic_write_text(out_dir / "plans" / f"{stem}.csv", machine.plan_csv(year)))
    if year.ok and year.periods:
        from optimizer.render.charts import save_period_plot

        written.append(save_period_plot(year, out_dir / "plans" / f"{stem}.png"))
        tables.print_renderable(tables.period_table(year))
        say(
            f"{year.scenario}: {money(year.total_spend)} buys {money(year.total_kpi)} "
            f"{model.kpi} ({money(year.kpi_after)} of it after the year ends), status "
            f"{year.status}, gap {year.gap:.1e}"
        )
    else:
        say(f"{year.scenario}: {year.status}: {year.message}")

    # honesty: how much of the true optimum's uplift does planning on fitted curves capture?
    truth_path = SAMPLE / "true_model.json"
    if truth_path.exists() and plans[0].ok:
        truth = read_model(truth_path)
        base = load_scenario(scen_dir / DEMO_SCENARIOS[0])
        ideal = allocate(base, truth)
        weeks = float(base.horizon_weeks)
        got = true_value({li.id: li.spend for li in plans[0].line_items}, truth, weeks)
        best = ideal.total_kpi
        recent = {
            t: float((tp.spend_range or {}).get("recent", 0.0))
            for t, tp in truth.touchpoints.items()
        }
        tot = sum(recent.values())
        budget = plans[0].total_spend
        hist = {t: budget * v / tot for t, v in recent.items()} if tot > 0 else {}
        hist_value = true_value(hist, truth, weeks) if hist else float("nan")
        uplift = best - hist_value
        captured = (got - hist_value) / uplift if uplift > 0 else float("nan")
        say(
            f"on the true curves, the base plan buys {money(got)} {model.kpi}: "
            f"{share(got / best, 2)} of the true optimum ({money(best)}); the historical mix at "
            f"the same budget buys {money(hist_value)}, so the plan captures "
            f"{share(captured, 0)} of the achievable uplift"
        )
    say("wrote:")
    for p in written:
        say(f"  {p}")
    return comp
