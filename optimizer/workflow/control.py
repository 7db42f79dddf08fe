"""Budgetary control: actual spend against the plan, and re-planning what is left mid-cycle.

* ``track``: the plan's spend is spread evenly over its horizon, so after ``N`` of ``H`` weeks a
  line item should have spent ``N / H`` of its plan. Actual spend to date against that, per line
  item, stage and in total, in money and per cent; and, on the model, the KPI the cycle will buy
  if every line item keeps its current weekly run-rate to the end, against the KPI the plan buys.
* ``replan``: re-optimise the rest of the cycle. Every rule of the scenario is a linear rule on a
  line item's (or a set's) total spend over the cycle, and that total is what was spent plus what
  is still to be spent; so each rule's right-hand side is reduced by what its line items have
  already spent (money caps and locks that are already overspent are clipped at 0, with a
  warning; floors already met fall away), the budget becomes what is left of it, and the curves
  cover the remaining weeks. A KPI target is reduced by the KPI the spend to date has bought.

Actuals (``ACTUALS_CSV``): columns ``date,touchpoint,spend``, one row per touchpoint and week
(several rows for the same week and touchpoint are added up); dates are ISO (``YYYY-MM-DD``) and
whole weeks apart; the first date is the first week of the plan.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from optimizer.allocate import AllocationProblem, Plan, allocate, make_problem, solve_problem
from optimizer.allocate.breakpoints import HorizonCurve
from optimizer.allocate.caps import pad_cap, unpad_cap
from optimizer.allocate.problem import LinearConstraint, safe_name
from optimizer.errors import DataError, ScenarioError
from optimizer.formatting import did_you_mean, money
from optimizer.io.dialect import CsvSettings
from optimizer.io.spend_tables import ROWS_COLUMNS, read_spend_rows
from optimizer.response.model import CurveSet
from optimizer.scenario import Scenario
from optimizer.vocabulary import DATE_COLUMN, SPEND_COLUMN, TOUCHPOINT_COLUMN

ACTUALS_COLUMNS = ROWS_COLUMNS
#: a line item more than this far from its plan to date is flagged over / under
DEFAULT_BAND = 0.10


# ------------------------------------------------------------------------------------------------
# actuals
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Actuals:
    """Actual spend to date, per touchpoint and week."""

    source: str
    first: _dt.date  # the first week of the plan
    last: _dt.date  # the last week with actuals
    weekly: pd.DataFrame  # index: week number from 1; columns: touchpoints; spend

    @property
    def weeks(self) -> int:
        """Weeks from the first to the last date, both included."""
        return (self.last - self.first).days // 7 + 1

    @property
    def spend(self) -> dict[str, float]:
        """Total spend to date per touchpoint."""
        return {str(k): float(v) for k, v in self.weekly.sum(axis=0).items()}

    @property
    def total(self) -> float:
        return float(round(sum(self.spend.values()), 2))


def read_actuals(
    path: str | Path, ids: Sequence[str] | None = None, csv: CsvSettings | None = None
) -> Actuals:
    """Read and validate an actuals CSV (see the module docstring): the rows by the one reader of
    spend tables (``optimizer.io.spend_tables``), then whole weeks from the first date.

    ``ids`` are the touchpoints the plan or model knows; any other is an error with a "did you
    mean …?". Every problem raises ``DataError`` naming the file, the row and the value.
    """
    path = Path(path)
    rows = read_spend_rows(path, what="actuals", ids=ids, csv=csv)
    if rows.empty:
        raise DataError("has no rows: expected one row per touchpoint and week", path=path)
    known = list(ids) if ids is not None else None
    dates = list(rows[DATE_COLUMN])
    tps = list(rows[TOUCHPOINT_COLUMN])
    spends = list(rows[SPEND_COLUMN])
    first, last = min(dates), max(dates)
    for k, d in enumerate(dates, start=2):
        if (d - first).days % 7:
            raise DataError(
                f"{d.isoformat()} in row {k} is not a whole number of weeks after the "
                f"first date ({first.isoformat()}): actuals are weekly",
                path=path,
                field="date",
            )
    week = [(d - first).days // 7 + 1 for d in dates]
    long = pd.DataFrame({"week": week, "touchpoint": tps, "spend": spends})
    weekly = long.pivot_table(
        index="week", columns="touchpoint", values="spend", aggfunc="sum", fill_value=0.0
    )
    n = (last - first).days // 7 + 1
    weekly = weekly.reindex(range(1, n + 1), fill_value=0.0)
    if known is not None:
        weekly = weekly.reindex(columns=known, fill_value=0.0)
    return Actuals(str(path), first, last, weekly.astype(float))


# ------------------------------------------------------------------------------------------------
# tracking
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TrackLine:
    """One line item (or stage, or the total) against the plan to date."""

    id: str
    stage: str
    planned: float  # over the whole horizon
    planned_to_date: float
    actual: float
    variance: float  # actual - planned to date
    variance_pct: float | None  # variance / planned to date (None when nothing was planned)
    status: str  # on plan | over | under | unplanned | not started | –
    projected_spend: float  # at the current run-rate, over the whole horizon
    planned_kpi: float | None  # on the model, the plan's spend
    projected_kpi: float | None  # on the model, the projected spend

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Tracking:
    """A plan against actual spend to date."""

    scenario: str
    kpi: str
    horizon_weeks: int
    weeks_elapsed: int
    lines: tuple[TrackLine, ...]
    stages: tuple[TrackLine, ...]
    total: TrackLine
    band: float
    has_model: bool
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "kpi_name": self.kpi,
            "horizon_weeks": self.horizon_weeks,
            "weeks_elapsed": self.weeks_elapsed,
            "band": self.band,
            "total": self.total.to_dict(),
            "stages": [s.to_dict() for s in self.stages],
            "line_items": [x.to_dict() for x in self.lines],
            "notes": list(self.notes),
        }


def _status(planned_to_date: float, actual: float, band: float) -> tuple[float | None, str]:
    if planned_to_date <= 0.005:
        return None, ("unplanned" if actual > 0.005 else "–")
    pct = (actual - planned_to_date) / planned_to_date
    if actual <= 0.005:
        return pct, "not started"
    if pct > band:
        return pct, "over"
    if pct < -band:
        return pct, "under"
    return pct, "on plan"


def _line(
    id_: str,
    stage: str,
    planned: float,
    actual: float,
    weeks: int,
    horizon: int,
    band: float,
    planned_kpi: float | None,
    projected_kpi: float | None,
) -> TrackLine:
    to_date = planned * weeks / horizon
    pct, status = _status(to_date, actual, band)
    return TrackLine(
        id_,
        stage,
        round(planned, 2),
        round(to_date, 2),
        round(actual, 2),
        round(actual - to_date, 2),
        pct,
        status,
        round(actual / weeks * horizon, 2),
        planned_kpi,
        projected_kpi,
    )


def _sum(
    id_: str,
    stage: str,
    lines: Sequence[TrackLine],
    weeks: int,
    horizon: int,
    band: float,
    has_model: bool,
) -> TrackLine:
    planned = sum(x.planned for x in lines)
    actual = sum(x.actual for x in lines)
    pk = sum(x.planned_kpi or 0.0 for x in lines) if has_model else None
    qk = sum(x.projected_kpi or 0.0 for x in lines) if has_model else None
    return _line(id_, stage, planned, actual, weeks, horizon, band, pk, qk)


def track(
    plan: Plan,
    actuals: Actuals,
    model: CurveSet | None = None,
    *,
    weeks_elapsed: int | None = None,
    band: float = DEFAULT_BAND,
) -> Tracking:
    """Actual spend to date against a plan, with projections on ``model``.

    Parameters
    ----------
    plan : the plan (one read back from ``budgetopt optimize --format json`` with
        ``optimizer.allocate.plan_json.read_plan``, or from the ledger).
    weeks_elapsed : weeks of the plan gone by (default: the weeks the actuals span).
    band : a line item further than this fraction from its plan to date is over / under.
    """
    from optimizer.response.markets import refuse_markets

    refuse_markets(model, "track")
    if plan.has_markets:
        raise ScenarioError(
            "track does not work on a plan over markets yet (actuals are by touchpoint, not by "
            "market)",
            field="plan",
        )
    horizon = int(plan.horizon_weeks)
    if horizon < 1:
        raise DataError(
            f"the plan's horizon is {horizon} weeks: expected at least one", field="horizon_weeks"
        )
    weeks = int(weeks_elapsed) if weeks_elapsed is not None else actuals.weeks
    if weeks < actuals.weeks:
        raise DataError(
            f"the actuals cover {actuals.weeks} weeks ({actuals.first} to "
            f"{actuals.last}) but --weeks-elapsed is {weeks}",
            path=actuals.source,
            field="date",
        )
    if weeks < 1 or weeks > horizon:
        raise DataError(
            f"weeks elapsed must be between 1 and the plan's horizon ({horizon}), got {weeks}",
            path=actuals.source,
            field="date",
        )
    items = plan.line_items
    ids = [li.id for li in items]
    unknown = [t for t in actuals.spend if t not in ids and actuals.spend[t] > 0]
    if unknown:
        raise DataError(
            f"touchpoint {unknown[0]!r} is not in the plan{did_you_mean(unknown[0], ids)}",
            path=actuals.source,
            field="touchpoint",
        )
    spent = actuals.spend
    notes = []
    if model is not None:
        missing = [t for t in ids if t not in model.touchpoints]
        if missing:
            raise DataError(
                f"the model has no curve for {', '.join(missing)}: is it the model the "
                "plan was made with?",
                path=getattr(model, "source", None),
            )
    else:
        notes.append("no model given (--model or --scenario): KPI projections are left out")
    lines = []
    for li in items:
        tid = li.id
        planned = float(li.spend)
        actual = float(spent.get(tid, 0.0))
        pk = qk = None
        if model is not None:
            tp = model.touchpoints[tid]
            pk = float(tp.horizon_kpi(planned, horizon))
            qk = float(tp.horizon_kpi(actual / weeks * horizon, horizon))
        lines.append(_line(tid, li.stage, planned, actual, weeks, horizon, band, pk, qk))
    order: list[str] = list(plan.stages)
    order += [x.stage for x in lines if x.stage not in order]
    stages = tuple(
        _sum(st, st, [x for x in lines if x.stage == st], weeks, horizon, band, model is not None)
        for st in dict.fromkeys(order)
        if any(x.stage == st for x in lines)
    )
    total = _sum("total", "", lines, weeks, horizon, band, model is not None)
    return Tracking(
        plan.scenario,
        plan.kpi,
        horizon,
        weeks,
        tuple(lines),
        stages,
        total,
        band,
        model is not None,
        tuple(notes),
    )


# ------------------------------------------------------------------------------------------------
# re-planning
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Replan:
    """The rest of a cycle re-optimised, given what has been spent."""

    plan: Plan  # for the remaining weeks
    original: Plan  # the whole cycle as planned from scratch
    spent: Mapping[str, float]
    weeks_elapsed: int
    horizon_weeks: int
    budget: float | None  # the cycle's budget
    kpi_to_date: float  # modelled KPI bought by the spend to date
    warnings: tuple[str, ...] = ()

    @property
    def remaining_weeks(self) -> int:
        return self.horizon_weeks - self.weeks_elapsed

    @property
    def spent_total(self) -> float:
        return float(round(sum(self.spent.values()), 2))

    @property
    def remaining_budget(self) -> float | None:
        return None if self.budget is None else max(0.0, round(self.budget - self.spent_total, 2))

    def full_cycle(self) -> list[dict[str, Any]]:
        """Per line item: spent, still to spend, their total, the original plan and the change."""
        orig = {li.id: li.spend for li in self.original.line_items} if self.original.ok else {}
        out = []
        for li in self.plan.line_items:
            s = float(self.spent.get(li.id, 0.0))
            total = round(s + li.spend, 2)
            o = orig.get(li.id)
            out.append(
                {
                    "id": li.id,
                    "stage": li.stage,
                    "spent": round(s, 2),
                    "remaining": li.spend,
                    "total": total,
                    "original": o,
                    "change": None if o is None else round(total - o, 2),
                }
            )
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "weeks_elapsed": self.weeks_elapsed,
            "remaining_weeks": self.remaining_weeks,
            "horizon_weeks": self.horizon_weeks,
            "budget": self.budget,
            "spent_to_date": self.spent_total,
            "remaining_budget": self.remaining_budget,
            "kpi_to_date": self.kpi_to_date,
            "original_total_kpi": self.original.total_kpi if self.original.ok else None,
            "full_cycle_kpi": self.kpi_to_date + self.plan.total_kpi if self.plan.ok else None,
            "line_items": self.full_cycle(),
            "warnings": list(self.warnings),
        }


def remaining_problem(
    problem: AllocationProblem,
    spent: np.ndarray,
    kpi_to_date: Mapping[str, np.ndarray],
) -> tuple[AllocationProblem, list[str]]:
    """``problem`` (built for the remaining weeks, with the cycle's rules) with every rule's
    right-hand side reduced by what its line items have spent (see the module docstring)."""
    warnings: list[str] = []
    cons: list[LinearConstraint] = []
    main = problem.kpi
    for c in problem.constraints:
        if c.on_kpi:
            k = getattr(c, "kpi", None) or main
            done = kpi_to_date.get(k, np.zeros(len(spent)))
            shift = float(sum(a * done[i] for i, a in c.coefs.items()))
            what = f"{money(shift, 'any')} of {k} already bought"
        else:
            shift = float(sum(a * spent[i] for i, a in c.coefs.items()))
            what = f"{money(shift, 'any')} already spent"
        if abs(shift) < 0.005:
            cons.append(c)
            continue
        rhs = c.rhs - shift
        positive = all(a >= 0 for a in c.coefs.values())
        if not positive:  # a share or ratio rule: the shift is not money of its own
            what = "counting the spend to date"
        if rhs < -0.005 and positive and c.sense in ("<=", "=="):
            warnings.append(f"{c.label} is already exceeded ({what}): nothing more can go to it")
            rhs = 0.0
        elif rhs < 0 and positive and c.sense == ">=":
            rhs = 0.0  # a floor already met
        label = f"{c.label}, {what}" if not positive else f"{c.label}, less {what}"
        cons.append(dataclasses.replace(c, rhs=float(rhs), label=label))
    items = []
    extra: list[LinearConstraint] = []
    for it in problem.items:
        s = float(spent[it.index])
        lo = max(0.0, it.lo - s)
        mif = it.min_if_funded
        if mif and s > 0:  # already funded: the rest of its "at least" is a floor
            if mif - s > 0.005:
                extra.append(
                    LinearConstraint(
                        f"tp_min_if_funded_rest__{safe_name(it.id)}",
                        "tp_min",
                        it.id,
                        ">=",
                        mif - s,
                        {it.index: 1.0},
                        f"the {it.id} minimum once funded ({money(mif, 'any')}), less "
                        f"{money(s, 'any')} already spent",
                    )
                )
                lo = max(lo, mif - s)
            mif = None
        top = max(max(0.0, unpad_cap(it.hi)) - s, lo)
        items.append(dataclasses.replace(it, lo=lo, hi=pad_cap(top), min_if_funded=mif))
    return dataclasses.replace(problem, items=tuple(items), constraints=(*cons, *extra)), warnings


def replan(
    scenario: Scenario,
    model: CurveSet,
    actuals: Actuals,
    weeks_elapsed: int | None = None,
    *,
    solver: str = "highs",
    tolerance: float = 1e-4,
    time_limit: float | None = None,
    extra_models: Mapping[str, CurveSet] | None = None,
) -> Replan:
    """Re-optimise the weeks left of ``scenario``'s cycle given the spend to date.

    Raises ``ScenarioError`` when no weeks are left or the actuals cover more weeks than have
    elapsed.
    """
    from optimizer.response.markets import refuse_markets

    refuse_markets(model, "replan")
    if extra_models is None:
        from optimizer.workflow.compare import extra_models_for

        extra_models = extra_models_for(scenario)
    horizon = scenario.horizon_weeks
    n = int(weeks_elapsed) if weeks_elapsed is not None else actuals.weeks
    if n < actuals.weeks:
        raise DataError(
            f"the actuals cover {actuals.weeks} weeks ({actuals.first} to "
            f"{actuals.last}) but --weeks-elapsed is {n}",
            path=actuals.source,
            field="date",
        )
    if not 1 <= n < horizon:
        raise ScenarioError(
            f"weeks elapsed must be at least 1 and less than the horizon "
            f"({horizon} weeks) to leave something to re-plan, got {n}",
            path=scenario.source,
            field="horizon_weeks",
        )
    ids = list(model.touchpoints)
    unknown = [t for t, v in actuals.spend.items() if t not in ids and v > 0]
    if unknown:
        raise DataError(
            f"touchpoint {unknown[0]!r} is not in the model{did_you_mean(unknown[0], ids)}",
            path=actuals.source,
            field="touchpoint",
        )
    spent_by_id = {t: float(actuals.spend.get(t, 0.0)) for t in ids}
    rest = horizon - n
    name = f"{scenario.name} (weeks {n + 1}-{horizon})"
    sc_rest = scenario.model_copy(update={"horizon_weeks": rest, "name": name})
    problem = make_problem(sc_rest, model, extra_models=dict(extra_models))
    index = {it.id: it.index for it in problem.items}
    spent = np.zeros(len(problem.items))
    for t, v in spent_by_id.items():
        spent[index[t]] = v
    done: dict[str, np.ndarray] = {}
    for it in problem.items:
        for k, curve in it.kpis.items():
            done.setdefault(k, np.zeros(len(problem.items)))
            done[k][it.index] = float(HorizonCurve(curve.response, float(n)).value(spent[it.index]))
    problem, warnings = remaining_problem(problem, spent, done)
    budget = scenario.budget.amount if scenario.budget is not None else None
    if budget is not None:
        left = budget - float(spent.sum())
        problem = dataclasses.replace(
            problem, scenario=sc_rest.with_budget(max(0.0, round(left, 2)))
        )
    plan = solve_problem(problem, solver=solver, tolerance=tolerance, time_limit=time_limit)
    original = allocate(
        scenario,
        model,
        solver=solver,
        tolerance=tolerance,
        time_limit=time_limit,
        extra_models=dict(extra_models),
        diagnose=False,
    )
    kpi_to_date = float(done.get(problem.kpi, np.zeros(1)).sum())
    return Replan(plan, original, spent_by_id, n, horizon, budget, kpi_to_date, tuple(warnings))
