"""Budgetary control: actual spend against the plan, and re-planning what is left mid-cycle.

* ``track``: actuals are matched to the plan's weeks by date (a dated plan's ``start``; an
  undated plan starts at the actuals' first week). The plan to date is the plan's spend in the
  weeks that have actuals (a phased plan's periods spread over their weeks, an undated plan's
  total spread evenly); a week without any row is reported missing, never taken as no spend.
  Actual against that, per line item, stage and in total, in money and per cent; the spend and,
  on the model, the KPI of the cycle if every line item keeps its pace; with the scenario, the
  rules that run-rate would break (``optimizer.workflow.dated``).
* ``replan``: re-optimise the rest of the cycle. Every rule of the scenario is a linear rule on a
  line item's (or a set's) total spend over the cycle, and that total is what was spent plus what
  is still to be spent; so each rule's right-hand side is reduced by what its line items have
  already spent (money caps and locks that are already overspent are clipped at 0, with a
  warning; floors already met fall away), the budget becomes what is left of it, and the curves
  cover the remaining weeks. A KPI target is reduced by the KPI the spend to date has bought. A
  dated, phased scenario is re-planned on the rest of its calendar, period by period, with the
  carry-over of the actual spend (``dated.rest_of_phased``); the re-plan's plan starts the week
  after the actuals, so that a ``track`` of it compares its own weeks.

Actuals (``ACTUALS_CSV``): columns ``date,touchpoint,spend``, one row per touchpoint and week
(several rows for the same week and touchpoint are added up; ISO dates, whole weeks apart) or per
month (every date the 1st of its month: spread over the weeks whose Monday is in the month). Over a
markets index (contract 8) the actuals have a ``market`` column and a line item is
``touchpoint@market`` (``optimizer.workflow.actuals.read_market_actuals``): ``track`` reports each
line item, market and owner; ``replan`` needs a phased scenario and carries each adstock stream's
actual spend (a national buy's share in each market).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from optimizer.allocate import AllocationProblem, Plan, allocate, make_problem, plan_problem
from optimizer.allocate.breakpoints import HorizonCurve
from optimizer.allocate.caps import pad_cap, unpad_cap
from optimizer.allocate.plan import round_cents
from optimizer.allocate.problem import LinearConstraint, implied_bounds, safe_name
from optimizer.defaults import DEFAULT_BAND
from optimizer.errors import DataError, ScenarioError
from optimizer.formatting import did_you_mean, money, split_cents
from optimizer.response.model import CurveSet
from optimizer.scenario import Scenario
from optimizer.workflow.actuals import (  # noqa: F401  (re-exported: the actuals' readers)
    ACTUALS_COLUMNS,
    Actuals,
    read_actuals,
    read_market_actuals,
)
from optimizer.workflow.dated import RuleAtRunRate
from optimizer.workflow.track_lines import TrackLine, sum_lines, track_line


# ------------------------------------------------------------------------------------------------
# tracking
# ------------------------------------------------------------------------------------------------
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
    start: str | None = None  # the plan's first week (a dated plan's start; else the actuals')
    dated: bool = False  # the plan has a start: actuals were matched to its weeks by date
    missing_weeks: tuple[str, ...] = ()  # elapsed weeks (their first day) with no actuals
    spend_before: float = 0.0  # actuals dated before the plan's first week (not compared)
    frequency: str = "week"  # of the actuals
    #: the scenario's rules on the spend projected at the run-rate (with ``--scenario``)
    rules: tuple[RuleAtRunRate, ...] = ()
    #: over markets: each market's money (a national buy's by its split), and each owner's
    markets: tuple[TrackLine, ...] = ()
    owners: tuple[TrackLine, ...] = ()

    @property
    def week_dates(self) -> tuple[str | None, str | None]:
        """The first days of the first and the last elapsed week."""
        if self.start is None:
            return None, None
        s = _dt.date.fromisoformat(self.start)
        return s.isoformat(), (s + _dt.timedelta(weeks=self.weeks_elapsed - 1)).isoformat()

    @property
    def broken(self) -> tuple[RuleAtRunRate, ...]:
        return tuple(r for r in self.rules if r.breaks)

    def to_dict(self) -> dict[str, Any]:
        first, last = self.week_dates
        return {
            "scenario": self.scenario,
            "kpi_name": self.kpi,
            "horizon_weeks": self.horizon_weeks,
            "weeks_elapsed": self.weeks_elapsed,
            "start": self.start,
            "dated": self.dated,
            "weeks_compared": {"first": first, "last": last},
            "frequency": self.frequency,
            "missing_weeks": list(self.missing_weeks),
            "spend_before_plan": round(self.spend_before, 2),
            "band": self.band,
            "total": self.total.to_dict(),
            "stages": [s.to_dict() for s in self.stages],
            "line_items": [x.to_dict() for x in self.lines],
            "rules_at_run_rate": [r.to_dict() for r in self.rules],
            "rules_broken_at_run_rate": [r.name for r in self.broken],
            "notes": list(self.notes),
            **(
                {
                    "markets": [m.to_dict() for m in self.markets],
                    "owners": [o.to_dict() for o in self.owners],
                }
                if self.markets
                else {}
            ),
        }


def _weeks_text(origin: _dt.date, ks: Sequence[int]) -> str:
    return ", ".join((origin + _dt.timedelta(weeks=k)).isoformat() for k in ks)


def track(
    plan: Plan,
    actuals: Actuals,
    model: CurveSet | None = None,
    *,
    weeks_elapsed: int | None = None,
    band: float = DEFAULT_BAND,
    scenario: Scenario | None = None,
) -> Tracking:
    """Actual spend to date against a plan, with projections on ``model``.

    The actuals are matched to the plan's weeks by date: from a dated plan's ``start`` (a
    re-plan's is the week after the actuals it was made from), else from the actuals' first week.
    The plan to date is the plan's spend in the weeks that have actuals (a phased plan's spend by
    period, spread over each period's weeks); an elapsed week without any row is *missing*: it
    is listed, left out of the plan to date, and projected at the run-rate, never taken as no
    spend. The run-rate is each line item's pace against its plan so far (actual / plan to date)
    applied to the rest of its plan (nothing planned so far: its weekly average, or if nothing
    was spent either, its plan). With ``scenario`` (and ``model``), every money rule of the
    scenario is evaluated on the projected spend, and those it would break are flagged.

    Parameters
    ----------
    plan : the plan (one read back from ``budgetopt optimize --format json`` with
        ``optimizer.allocate.plan_json.read_plan``, or from the ledger).
    weeks_elapsed : weeks of the plan gone by (default: up to the last week with actuals).
    band : a line item further than this fraction from its plan to date is over / under.
    """
    from optimizer.response.markets import MarketModel
    from optimizer.workflow import dated as D

    over_markets = plan.has_markets
    if isinstance(model, MarketModel) != over_markets and model is not None:
        raise ScenarioError(
            "the plan is over markets but the model is one market's: give the markets index it "
            "was made with"
            if over_markets
            else "the model is a markets index but the plan is not over markets: give the model "
            "the plan was made with",
            path=getattr(model, "source", None),
            field="model",
        )
    horizon = int(plan.horizon_weeks)
    if horizon < 1:
        raise DataError(
            f"the plan's horizon is {horizon} weeks: expected at least one", field="horizon_weeks"
        )
    is_dated = plan.start is not None
    origin = _dt.date.fromisoformat(plan.start) if plan.start is not None else actuals.first
    end = origin + _dt.timedelta(weeks=horizon, days=-1)
    by_tp, reported = actuals.on_weeks(origin)
    late = sorted(k for k in reported if k >= horizon)
    if late:
        raise DataError(
            f"the actuals run past the plan's last week (the plan runs {origin.isoformat()} to "
            f"{end.isoformat()}; actuals for the week of "
            f"{_weeks_text(origin, late[:1])})",
            path=actuals.source,
            field="date",
        )
    inside = sorted(k for k in reported if 0 <= k < horizon)
    if not inside:
        raise DataError(
            f"no actuals fall in the plan's weeks ({origin.isoformat()} to {end.isoformat()}): "
            f"they run {actuals.first.isoformat()} to {actuals.last.isoformat()}",
            path=actuals.source,
            field="date",
        )
    covered = inside[-1] + 1
    weeks = int(weeks_elapsed) if weeks_elapsed is not None else covered
    if weeks < covered:
        raise DataError(
            f"the actuals cover {covered} week{'' if covered == 1 else 's'} ({origin.isoformat()} to "
            f"{_weeks_text(origin, [covered - 1])}) but --weeks-elapsed is {weeks}",
            path=actuals.source,
            field="date",
        )
    if weeks < 1 or weeks > horizon:  # the option's value when given, else the actuals' dates
        raise DataError(
            f"weeks elapsed must be between 1 and the plan's horizon ({horizon}), got {weeks}",
            path=actuals.source if weeks_elapsed is None else None,
            field="date" if weeks_elapsed is None else "--weeks-elapsed",
        )
    items = plan.line_items
    ids = [li.key if over_markets else li.id for li in items]
    unknown = [t for t in actuals.spend if t not in ids and actuals.spend[t] > 0]
    if unknown:
        tid, _at, where = unknown[0].partition("@")
        raise DataError(
            (
                f"touchpoint {tid!r} in market {where!r} is not a line item of the plan"
                f"{did_you_mean(unknown[0], ids)}"
            )
            if over_markets
            else f"touchpoint {unknown[0]!r} is not in the plan{did_you_mean(unknown[0], ids)}",
            path=actuals.source,
            field="market" if over_markets else "touchpoint",
        )
    notes = [actuals.note] if actuals.note else []
    if model is not None and over_markets:
        assert isinstance(model, MarketModel)
        missing_curves = [
            f"{li.id} in {m}"
            for li in items
            for m in _item_markets(li)
            if m not in model.markets or li.id not in model.markets[m].touchpoints
        ]
    elif model is not None:
        missing_curves = [t for t in ids if t not in model.touchpoints]
        if missing_curves:
            raise DataError(
                f"the model has no curve for {', '.join(missing_curves)}: is it the model the "
                "plan was made with?",
                path=getattr(model, "source", None),
            )
    else:
        notes.append("no model given (--model or --scenario): KPI projections are left out")
    missing = [k for k in range(weeks) if k not in reported]
    if missing:
        notes.append(
            f"no actuals for {len(missing)} elapsed week(s) (the weeks of "
            f"{_weeks_text(origin, missing)}): they are left out of the plan to date and "
            "projected at the run-rate, not taken as no spend"
        )
    before = sum(v for by in by_tp.values() for k, v in by.items() if k < 0)
    if before > 0.005:
        notes.append(
            f"{money(before, 'any')} of actuals dated before the plan's first week "
            f"({origin.isoformat()}) is not compared with it"
            + (" (its carry-over counts in the projected KPI)" if model is not None else "")
            + actuals.straddling(origin)
        )
    seen = np.zeros(horizon, bool)
    seen[inside] = True
    W = D.plan_weeks(plan, origin)
    lines = []
    projected_by_date: dict[str, dict[_dt.date, float]] = {}
    for i, li in enumerate(items):
        tid = ids[i]
        mine = by_tp.get(tid, {})
        got = np.array([mine.get(k, 0.0) for k in range(horizon)]) * seen
        actual = float(got.sum())
        to_date = float(W[i, seen].sum())
        # nothing planned so far: its later plan stands (S17 R1 D5), else its weekly average
        rest = W[i] * (actual / to_date if to_date > 0.005 else 1.0)
        if to_date <= 0.005 < actual and float(W[i, ~seen].sum()) <= 0.005:
            rest = np.full(horizon, actual / max(int(seen.sum()), 1))
        # the money in cents, so that every total (stages, markets, the rules at run-rate) is the
        # sum of the line items' projections as reported, to the cent; the KPI on the path itself
        # (on plan, the projected KPI is the plan's: cents moved it by 1.5e-8, CI at 273afd0)
        exact = np.where(seen, got, rest)
        path = round_cents(exact)
        projected = float(path.sum())
        projected_by_date[tid] = {
            origin + _dt.timedelta(weeks=k): v for k, v in mine.items() if k < 0 and v
        }
        for t in range(horizon):
            if path[t]:
                projected_by_date[tid][origin + _dt.timedelta(weeks=t)] = float(path[t])
        pk = qk = None
        if model is not None and over_markets:
            pk = float(li.kpi)
            qk = pk
            for m, share in _item_markets(li).items():
                tp = model.markets[m].touchpoints[li.id]  # type: ignore[attr-defined]
                part = {k: share * v for k, v in mine.items()}
                a0 = D.carry_in(tp, part)
                qk += float(
                    D.weekly_kpi(tp, share * exact, origin, a0).sum()
                    - D.weekly_kpi(tp, share * W[i], origin, a0).sum()
                )
        elif model is not None:
            tp = model.touchpoints[li.id]
            if is_dated or li.periods:
                a0 = D.carry_in(tp, mine)
                pk = float(li.kpi)
                qk = pk + float(
                    D.weekly_kpi(tp, exact, origin, a0).sum()
                    - D.weekly_kpi(tp, W[i], origin, a0).sum()
                )
            else:
                pk = float(tp.horizon_kpi(float(li.spend), horizon))
                qk = float(tp.horizon_kpi(projected, horizon))
        x = track_line(tid, li.stage, float(li.spend), to_date, actual, projected, band, pk, qk)
        if over_markets:
            x = dataclasses.replace(x, market=li.market or "national", owner=li.owner)
        lines.append(x)
    order: list[str] = list(plan.stages)
    order += [x.stage for x in lines if x.stage not in order]
    stages = tuple(
        sum_lines(st, st, [x for x in lines if x.stage == st], band, model is not None)
        for st in dict.fromkeys(order)
        if any(x.stage == st for x in lines)
    )
    total = sum_lines("total", "", lines, band, model is not None)
    by_market: tuple[TrackLine, ...] = ()
    by_owner: tuple[TrackLine, ...] = ()
    if over_markets:
        # a market's: its own line items, and its share of each national buy's (money only)
        parts = [_split(x, _item_markets(li)) for x, li in zip(lines, items, strict=True)]
        by_market = tuple(
            sum_lines(m, "", [p[m] for p in parts if m in p], band, False) for m in plan.markets
        )
        owners = list(dict.fromkeys(li.owner for li in items if li.owner))
        by_owner = tuple(
            sum_lines(o, "", [x for x in lines if x.owner == o], band, model is not None)
            for o in owners
        )
    rules: list[RuleAtRunRate] = []
    if scenario is not None and model is not None:
        rules, rule_notes = D.rules_at_run_rate(scenario, model, projected_by_date)
        notes += rule_notes
        if is_dated and scenario.start is not None and plan.start != scenario.start.isoformat():
            notes.append(
                f"the rules are the scenario's over its whole cycle (from "
                f"{scenario.start.isoformat()}): actuals before this plan's first week count"
            )
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
        start=origin.isoformat(),
        dated=is_dated,
        missing_weeks=tuple((origin + _dt.timedelta(weeks=k)).isoformat() for k in missing),
        spend_before=float(before),
        frequency=actuals.frequency,
        rules=tuple(rules),
        markets=by_market,
        owners=by_owner,
    )


def _item_markets(li: Any) -> dict[str, float]:
    """A plan line item's markets and its share in each (one market at 1; a national buy's
    split)."""
    if li.market is not None:
        return {str(li.market): 1.0}
    return {str(m): float(w) for m, w in li.shares.items() if float(w) > 0}


def _split(x: TrackLine, shares: Mapping[str, float]) -> dict[str, TrackLine]:
    """A line's money in each of its markets (a national buy's by its split): cents that sum to
    the line's own (largest remainder), so that the markets reconcile with the total."""
    money_ = {
        f: split_cents(getattr(x, f), shares.values())
        for f in ("planned", "planned_to_date", "actual", "projected_spend")
    }
    out = {}
    for j, m in enumerate(shares):
        part: dict[str, Any] = {f: float(v[j]) for f, v in money_.items()}
        part["variance"] = part["actual"] - part["planned_to_date"]
        out[m] = dataclasses.replace(x, **part, planned_kpi=None, projected_kpi=None)
    return out


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
    start: str | None = None  # the cycle's first week (its start, or the actuals' first week)
    #: a phased cycle: each line item's KPI of the original plan in the re-plan's weeks
    original_rest_kpi: Mapping[str, float] | None = None

    @property
    def rest_start(self) -> str | None:
        """The first week of the re-plan."""
        if self.start is None:
            return None
        return (
            _dt.date.fromisoformat(self.start) + _dt.timedelta(weeks=self.weeks_elapsed)
        ).isoformat()

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
        orig = {li.key: li.spend for li in self.original.line_items} if self.original.ok else {}
        out = []
        for li in self.plan.line_items:
            s = float(self.spent.get(li.key, 0.0))
            total = round(s + li.spend, 2)
            o = orig.get(li.key)
            out.append(
                {
                    "id": li.key,
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
            "cycle_start": self.start,
            "replan_start": self.rest_start,
            "horizon_weeks": self.horizon_weeks,
            "budget": self.budget,
            "spent_to_date": self.spent_total,
            "remaining_budget": self.remaining_budget,
            "kpi_to_date": self.kpi_to_date,
            "original_total_kpi": self.original.total_kpi if self.original.ok else None,
            "full_cycle_kpi": self.kpi_to_date + self.plan.total_kpi if self.plan.ok else None,
            "line_items": self.full_cycle(),
            "warnings": list(self.warnings),
            **(
                {"original_kpi_in_replan_weeks": dict(self.original_rest_kpi)}
                if self.original_rest_kpi is not None
                else {}
            ),
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
    # each line item's range implied by the reduced caps, as make_problem implies it from the
    # rules: a budget already spent leaves no room, and the certificate's bound then knows it (a
    # Lagrangian bound over the old range stayed above the empty plan: "not certified", exit 4)
    cap = np.maximum(implied_bounds(len(problem.items), cons, set())[1], 0.0)
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
        top = max(min(max(0.0, unpad_cap(it.hi)) - s, float(cap[it.index])), lo)
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
    from optimizer.response.markets import MarketModel
    from optimizer.workflow.dated import item_key

    over_markets = isinstance(model, MarketModel)
    if over_markets and not scenario.is_phased:
        raise ScenarioError(
            "replan over a markets index needs a dated, phased scenario ('start' and "
            "'phasing'): the re-plan continues its calendar by market",
            path=scenario.source,
            field="phasing",
        )
    if extra_models is None:
        from optimizer.workflow.compare import extra_models_for

        extra_models = extra_models_for(scenario)
    horizon = scenario.horizon_weeks
    # the cycle's weeks from its start (a dated scenario), else from the actuals' first week
    origin = scenario.start if scenario.start is not None else actuals.first
    by_tp, reported = actuals.on_weeks(origin)
    late = sorted(k for k in reported if k >= horizon)
    if late:
        raise DataError(
            f"the actuals run past the cycle's last week (week of "
            f"{(origin + _dt.timedelta(weeks=late[0])).isoformat()}; the cycle runs "
            f"{origin.isoformat()} to "
            f"{(origin + _dt.timedelta(weeks=horizon, days=-1)).isoformat()})",
            path=actuals.source,
            field="date",
        )
    inside = sorted(k for k in reported if k >= 0)
    covered = inside[-1] + 1 if inside else 0
    n = int(weeks_elapsed) if weeks_elapsed is not None else covered
    if n < covered:
        raise DataError(
            f"the actuals cover {covered} week{'' if covered == 1 else 's'} ({origin.isoformat()} to "
            f"{(origin + _dt.timedelta(weeks=covered - 1)).isoformat()}) but --weeks-elapsed "
            f"is {n}",
            path=actuals.source,
            field="date",
        )
    if weeks_elapsed is None and (not inside or (n >= horizon and scenario.start is not None)):
        end = (origin + _dt.timedelta(weeks=horizon, days=-1)).isoformat()
        raise DataError(
            f"the actuals hold no week of the cycle: their last week ({actuals.last.isoformat()}) "
            f"is before its start ({origin.isoformat()}); a re-plan needs at least one week of "
            "the cycle gone by (or --weeks-elapsed)"
            if not inside
            else f"the actuals cover the whole cycle ({horizon} weeks, {origin.isoformat()} to "
            f"{end}): nothing is left to re-plan",
            path=actuals.source,
            field="date",
        )
    if not 1 <= n < horizon:
        raise ScenarioError(
            f"weeks elapsed must be at least 1 and less than the horizon "
            f"({horizon} weeks) to leave something to re-plan, got {n}",
            path=scenario.source if weeks_elapsed is None else None,
            field="horizon_weeks" if weeks_elapsed is None else "--weeks-elapsed",
        )
    full = None
    if scenario.is_phased:
        from optimizer.allocate.phased import phased_problem

        full = phased_problem(scenario, model, extra_models=dict(extra_models))
    # over markets a line item is touchpoint@market (a national buy's touchpoint@national)
    ids = (
        [item_key(it) for it in full.base.items]
        if over_markets and full
        else list(model.touchpoints)
    )
    unknown = [t for t, v in actuals.spend.items() if t not in ids and v > 0]
    if unknown:
        tid, _at, where = unknown[0].partition("@")
        raise DataError(
            (
                f"touchpoint {tid!r} in market {where!r} is not a line item of the scenario"
                f"{did_you_mean(unknown[0], ids)}"
            )
            if over_markets
            else f"touchpoint {unknown[0]!r} is not in the model{did_you_mean(unknown[0], ids)}",
            path=actuals.source,
            field="market" if over_markets else "touchpoint",
        )
    notes: list[str] = [actuals.note] if actuals.note else []
    missing = [k for k in range(n) if k not in reported]
    if missing:
        notes.append(
            f"no actuals for {len(missing)} elapsed week(s) (the weeks of "
            + ", ".join((origin + _dt.timedelta(weeks=k)).isoformat() for k in missing)
            + "): the re-plan counts them as no spend"
        )
    before = sum(v for by in by_tp.values() for k, v in by.items() if k < 0)
    if before > 0.005:
        notes.append(
            f"{money(before, 'any')} of actuals dated before the cycle's first week "
            f"({origin.isoformat()}) is left out{actuals.straddling(origin)}"
        )
    spent_by_id = {t: float(sum(v for k, v in by_tp.get(t, {}).items() if 0 <= k < n)) for t in ids}
    budget = scenario.budget.amount if scenario.budget is not None else None
    rest = horizon - n
    rest_start = origin + _dt.timedelta(weeks=n)
    if full is not None:
        from optimizer.allocate.phased import phased_plan, solve_phased
        from optimizer.workflow.dated import rest_of_phased

        weekly = np.array(
            [[by_tp.get(item_key(it), {}).get(k, 0.0) for k in range(n)] for it in full.base.items]
        ).reshape(full.n, n)
        left = None if budget is None else budget - float(weekly.sum())
        problem_rest, warnings, done_by_item = rest_of_phased(full, weekly, n, left)
        sol = solve_phased(problem_rest, tolerance=tolerance, time_limit=time_limit)
        plan = phased_plan(problem_rest, sol, solver=solver)
        kpi_to_date = float(done_by_item.sum())
    else:
        name = f"{scenario.name} (weeks {n + 1}-{horizon})"
        update: dict[str, Any] = {"horizon_weeks": rest, "name": name}
        if scenario.start is not None:
            update["start"] = rest_start
        sc_rest = scenario.model_copy(update=update)
        problem = make_problem(sc_rest, model, extra_models=dict(extra_models))
        index = {it.id: it.index for it in problem.items}
        spent = np.zeros(len(problem.items))
        for t, v in spent_by_id.items():
            spent[index[t]] = v
        done: dict[str, np.ndarray] = {}
        for it in problem.items:
            for k, curve in it.kpis.items():
                done.setdefault(k, np.zeros(len(problem.items)))
                done[k][it.index] = float(
                    HorizonCurve(curve.response, float(n)).value(spent[it.index])
                )
        problem, warnings = remaining_problem(problem, spent, done)
        if budget is not None:
            left = budget - float(spent.sum())
            problem = dataclasses.replace(
                problem, scenario=sc_rest.with_budget(max(0.0, round(left, 2)))
            )
        plan = plan_problem(problem, solver=solver, tolerance=tolerance, time_limit=time_limit)
        # the re-plan's weeks on the calendar, so that a later track compares the right ones
        plan = dataclasses.replace(plan, start=rest_start.isoformat())
        kpi_to_date = float(done.get(problem.kpi, np.zeros(1)).sum())
    original = allocate(
        scenario,
        model,
        solver=solver,
        tolerance=tolerance,
        time_limit=time_limit,
        extra_models=dict(extra_models),
        diagnose=False,
    )
    rest_kpi = None if full is None else _kpi_in_rest(full, original, n)
    return Replan(
        plan,
        original,
        spent_by_id,
        n,
        horizon,
        budget,
        kpi_to_date,
        tuple([*notes, *warnings]),
        start=origin.isoformat(),
        original_rest_kpi=rest_kpi,
    )


def _kpi_in_rest(full: Any, original: Plan, n: int) -> dict[str, float] | None:
    """Each line item's KPI of the original plan in the re-plan's weeks (from week ``n + 1``; and
    after the horizon, with ``after``), week by week with its carry-over, as the plan's periods
    count it: ``diff`` compares it with the re-plan's. Pro rata of the period partly gone by it
    was 1,578,408 where the weeks bought 1,491,964 (a month of no spend, all carry-over)."""
    from optimizer.allocate.phased_model import plan_kpi
    from optimizer.workflow.dated import item_key

    if not original.ok:
        return None
    by_key = {li.key: li for li in original.line_items}
    keys = [item_key(it) for it in full.base.items]
    if any(k not in by_key or len(by_key[k].periods) != full.P for k in keys):
        return None
    X = np.array([[float(p.spend) for p in by_key[k].periods] for k in keys]).reshape(
        full.n, full.P
    )
    weekly, after = plan_kpi(full, X)
    kpi = full.to_items(weekly[:, n:].sum(axis=1) / full.stream_scale + after / full.stream_scale)
    return {k: float(v) for k, v in zip(keys, kpi, strict=True)}
