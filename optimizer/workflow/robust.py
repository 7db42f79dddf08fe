"""Plan uncertainty: what the model's own uncertainty (its bootstrap draws) does to a plan.

A fitted model carries, per touchpoint, bootstrap draws of its curve (``draws`` in model.json).
Draw ``d`` of every touchpoint together is one plausible model (the draws come from the same
resample of the history), so

* **the spread**: re-optimising the scenario on each draw's model gives a plan per draw; the
  P10 / P50 / P90 of each line item's spend and of the total KPI say how firmly the data pin the
  plan down. The chosen plan's own KPI on each draw's curves says what it may really buy.
* **the robust plan** (``--robust mean``): maximise the *expected* KPI over the draws. The average
  of concave curves is concave, so this is still an exact LP: each line item's curve is the
  average of its draws (a composite curve, ``HorizonCurve.parts``, with weight 1/D per draw), and
  the allocator certifies the plan against that average as it does against a single curve.
* **the value of information**: what learning the true curves would be worth, in KPI. The EVPI
  (expected value of perfect information) is the mean over draws of (the draw's optimum − the KPI
  on that draw's curves of the best plan *without* the information, the plan for the expected KPI
  over the draws); a touchpoint's one-at-a-time EVPPI (expected value of partial perfect
  information) is the same with only that touchpoint's curve drawn, every other touchpoint at its
  point curve, against the plan for the expected KPI over that touchpoint's draws alone. Both are
  >= 0 and do not depend on which plan is being described. A lift test pays where the EVPPI is
  large. The one-at-a-time values need not add up to the EVPI: the uncertainties interact. The
  plan's own expected regret, the mean of (the draw's optimum − this plan's KPI on it), is
  reported beside them: for the point-estimate plan it also holds what ``--robust mean`` gains
  without any experiment.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from optimizer.allocate import AllocationProblem, Plan, allocate, make_problem, plan_problem
from optimizer.allocate.breakpoints import HorizonCurve
from optimizer.allocate.engine import SolveOptions
from optimizer.defaults import DEFAULT_ROBUST, ROBUST_MODES
from optimizer.errors import ModelError, ScenarioError
from optimizer.progress import Progress
from optimizer.response.model import CurveSet, ResponseModel, TouchpointResponse
from optimizer.scenario import Scenario
from optimizer.workflow.executor import Executor, using

PERCENTILES = (10.0, 50.0, 90.0)
#: each draw's re-optimised plan is certified to this tolerance: the spread across draws is far
#: wider than 0.1%, and it keeps 20 re-optimisations quick
SPREAD_TOLERANCE = 1e-3
SPREAD_KKT_TOLERANCE = 1e-2


# ------------------------------------------------------------------------------------------------
# draws
# ------------------------------------------------------------------------------------------------
def n_draws(model: CurveSet) -> int:
    """How many joint draws the model has: the fewest any touchpoint with draws has (0: none)."""
    counts = [len(tp.draws) for tp in model.touchpoints.values() if getattr(tp, "draws", ())]
    return min(counts) if counts else 0


def require_draws(model: CurveSet) -> int:
    """The number of draws, or a ``ModelError`` saying clearly that there are none."""
    from optimizer.response.markets import refuse_markets

    refuse_markets(model, "planning over the model's draws (--uncertainty, --robust)")
    d = n_draws(model)
    if d == 0:
        raise ModelError(
            "the model has no draws of its curves, so its uncertainty is unknown: fit it with "
            "'budgetopt fit … --bootstrap N' (N of 20 or more), or add 'draws' to each touchpoint "
            "of model.json (docs/file-formats.md)",
            path=getattr(model, "source", None),
            field="touchpoints.*.draws",
        )
    return d


def without_draws(model: CurveSet) -> list[str]:
    """Touchpoints that have no draws (their point curve stands in for every draw)."""
    return [tid for tid, tp in model.touchpoints.items() if not getattr(tp, "draws", ())]


def draw_models(model: ResponseModel) -> list[ResponseModel]:
    """One ``ResponseModel`` per joint draw (touchpoints without draws keep their point curve)."""
    d = require_draws(model)
    per_tp: dict[str, list[TouchpointResponse]] = {
        tid: (tp.draw_responses() or [tp] * d) for tid, tp in model.touchpoints.items()
    }
    return [
        ResponseModel(
            kpi=model.kpi,
            touchpoints={tid: rs[k] for tid, rs in per_tp.items()},
            source=model.source,
        )
        for k in range(d)
    ]


# ------------------------------------------------------------------------------------------------
# the robust (expected-KPI) plan
# ------------------------------------------------------------------------------------------------
def _mean_curve(curve: HorizonCurve, d: int) -> HorizonCurve:
    """The average of a curve's draws, as a composite curve (each draw weighted 1/D)."""
    parts: list[tuple[float, TouchpointResponse]] = []
    shares: list[float] = []
    for w, r, k in curve._terms():  # noqa: SLF001 - the curve's own (weight, response, share) terms
        rs = r.draw_responses()[:d] or [r]
        parts.extend((w / len(rs), x) for x in rs)
        shares.extend([k] * len(rs))
    return HorizonCurve(curve.response, curve.weeks, curve.scale, tuple(parts), tuple(shares))


def mean_problem(problem: AllocationProblem, d: int) -> AllocationProblem:
    """The same problem with every line item's curves averaged over the model's draws."""
    items = tuple(
        dataclasses.replace(
            it,
            curve=_mean_curve(it.curve, d),
            kpis={k: _mean_curve(c, d) for k, c in it.kpis.items()},
        )
        for it in problem.items
    )
    return dataclasses.replace(problem, items=items)


def robust_plan(
    scenario: Scenario,
    model: ResponseModel,
    *,
    solver: str = "highs",
    tolerance: float = 1e-4,
    time_limit: float | None = None,
    extra_models: Mapping[str, CurveSet] | None = None,
) -> Plan:
    """The plan that maximises the expected KPI over the model's bootstrap draws.

    Line items' ``kpi`` and ``marginal_roi`` are expectations over the draws; the certificate
    (``gap``) is against the exact optimum of the expected KPI.
    """
    d = require_draws(model)
    problem = mean_problem(make_problem(scenario, model, extra_models=dict(extra_models or {})), d)
    plan = plan_problem(problem, solver=solver, tolerance=tolerance, time_limit=time_limit)
    return dataclasses.replace(
        plan,
        extras={
            **dict(plan.extras),
            "robust": "mean",
            "draws": d,
            "without_draws": without_draws(model),
        },
    )


def optimize_scenario(
    scenario: Scenario,
    model: ResponseModel,
    *,
    robust: str = DEFAULT_ROBUST,
    risk: float | None = None,
    solver: str = "highs",
    tolerance: float = 1e-4,
    time_limit: float | None = None,
    extra_models: Mapping[str, CurveSet] | None = None,
) -> Plan:
    """The plan ``budgetopt optimize`` makes: on the model's curves, or (``robust='mean'``) for the
    expected KPI over its draws, or (``robust='anchored'``) the plan on the line from the
    historical mix to the optimum on the curves whose point uplift less ``risk`` times the draws'
    shortfall below it is highest (``workflow.anchored``), or (``robust='auto'``) the anchored
    plan where the data call for it and the optimum on the curves otherwise
    (``workflow.anchored.auto_plan``)."""
    if extra_models is None:
        from optimizer.workflow.compare import extra_models_for

        extra_models = extra_models_for(scenario)
    from optimizer.workflow.economics import with_economics

    solve_options: SolveOptions = {
        "solver": solver,
        "tolerance": tolerance,
        "time_limit": time_limit,
    }
    if risk is not None and robust not in ("anchored", "auto"):
        raise ScenarioError(
            f"--risk {risk:g} applies to --robust anchored (or auto, where it makes the anchored "
            f"plan) only (this run: --robust {robust})",
            field="--risk",
        )
    if robust == "mean":
        plan = robust_plan(
            scenario,
            model,
            extra_models=extra_models,
            solver=solver,
            tolerance=tolerance,
            time_limit=time_limit,
        )
    elif robust == "anchored":  # the point optimum, hedged toward the historical mix
        from optimizer.workflow.anchored import anchored_plan

        plan = anchored_plan(
            scenario,
            model,
            risk=risk,
            extra_models=extra_models,
            solver=solver,
            tolerance=tolerance,
            time_limit=time_limit,
        )
    elif robust == "auto":  # the anchored plan where the data call for it, else the point optimum
        from optimizer.workflow.anchored import auto_plan

        plan = auto_plan(
            scenario,
            model,
            risk=risk,
            extra_models=extra_models,
            solver=solver,
            tolerance=tolerance,
            time_limit=time_limit,
        )
    elif robust != "none":
        raise ModelError(
            f"unknown robust objective {robust!r}; choose one of: {', '.join(ROBUST_MODES)}",
            field="--robust",
        )
    else:
        plan = allocate(scenario, model, extra_models=dict(extra_models), **solve_options)
    # break-even (on the model's point curves) and extrapolation
    return with_economics(scenario, model, plan, extra_models=extra_models, **solve_options)


# ------------------------------------------------------------------------------------------------
# the spread
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Spread:
    """P10 / P50 / P90 of something across the draws."""

    p10: float
    p50: float
    p90: float

    @classmethod
    def of(cls, values: Sequence[float] | np.ndarray) -> Spread:
        v = np.asarray(values, float)
        v = v[np.isfinite(v)]
        if not len(v):
            return cls(float("nan"), float("nan"), float("nan"))
        p = np.percentile(v, PERCENTILES)
        return cls(float(p[0]), float(p[1]), float(p[2]))

    def to_dict(self) -> dict[str, float]:
        return {"p10": self.p10, "p50": self.p50, "p90": self.p90}


@dataclass(frozen=True)
class ItemSpread:
    id: str
    stage: str
    spend: float  # in the plan
    spend_spread: Spread  # of the re-optimised spend across draws
    kpi_spread: Spread  # of the plan's own KPI for this line item across draws


@dataclass(frozen=True)
class TouchpointValue:
    """A touchpoint's one-at-a-time EVPPI: what knowing its curve exactly is worth to the plan."""

    id: str
    stage: str
    evppi: float  # KPI over the horizon, mean over the solved draws (nan: none solved)
    evppi_share_of_kpi: float  # evppi / the plan's expected KPI over the joint draws
    share_of_evpi: float  # evppi / the overall EVPI (nan when the EVPI is 0)
    solved: int  # draws whose re-optimisation (this touchpoint's curve drawn) gave a plan

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "stage": self.stage,
            "evppi": self.evppi,
            "evppi_share_of_kpi": self.evppi_share_of_kpi,
            "share_of_evpi": self.share_of_evpi,
        }


@dataclass(frozen=True)
class ValueOfInformation:
    """The EVPI of a plan and its touchpoints' one-at-a-time EVPPI (largest first)."""

    evpi: float  # KPI over the horizon: mean over the solved draws of (optimum − robust plan)
    expected_kpi: float  # the plan's KPI averaged over the joint draws
    touchpoints: tuple[TouchpointValue, ...]
    plan_regret: float = float("nan")  # mean over the solved draws of (optimum − this plan)

    def to_dict(self) -> dict[str, object]:
        return {
            "evpi": self.evpi,
            "plan_regret": self.plan_regret,
            "touchpoints": [t.to_dict() for t in self.touchpoints],
        }


@dataclass(frozen=True)
class Uncertainty:
    """How a plan and its scenario's optimum move across the model's bootstrap draws."""

    plan: Plan  # the plan described (nominal or robust)
    draws: int  # draws used
    solved: int  # draws whose re-optimisation gave a plan
    items: tuple[ItemSpread, ...]
    optimum_kpi: Spread  # total KPI of the re-optimised plan, across draws
    plan_kpi: Spread  # total KPI of *this* plan on each draw's curves
    notes: tuple[str, ...] = ()
    #: EVPI and per-touchpoint EVPPI; None when not asked for (or not defined for the objective)
    value_of_information: ValueOfInformation | None = None
    #: line items planned on a prior curve, with their EVPPI and test budget (workflow.untested)
    untested: tuple[Mapping[str, Any], ...] = ()

    def to_dict(self) -> dict[str, object]:
        d: dict[str, object] = {
            "draws": self.draws,
            "solved": self.solved,
            "percentiles": list(PERCENTILES),
            "total_kpi": self.optimum_kpi.to_dict(),
            "plan_kpi": self.plan_kpi.to_dict(),
            "line_items": [
                {
                    "id": it.id,
                    "stage": it.stage,
                    "spend": it.spend,
                    "spend_p10": it.spend_spread.p10,
                    "spend_p50": it.spend_spread.p50,
                    "spend_p90": it.spend_spread.p90,
                    "kpi_p10": it.kpi_spread.p10,
                    "kpi_p50": it.kpi_spread.p50,
                    "kpi_p90": it.kpi_spread.p90,
                }
                for it in self.items
            ],
            "notes": list(self.notes),
        }
        if self.value_of_information is not None:
            d["value_of_information"] = self.value_of_information.to_dict()
        if self.untested:
            d["untested"] = [dict(u) for u in self.untested]
        return d


def _draw_plan(
    task: tuple[Scenario, ResponseModel, list[str], dict[str, Any]],
) -> tuple[list[float], float] | None:
    """One draw's optimum (an executor task): spend per line item and total KPI, or None."""
    scenario, m, ids, solve_options = task
    p = allocate(
        scenario,
        m,
        tolerance=SPREAD_TOLERANCE,
        kkt_tolerance=SPREAD_KKT_TOLERANCE,
        diagnose=False,
        **solve_options,
    )
    if not p.ok:
        return None
    by_id = {li.id: li.spend for li in p.line_items}
    return [by_id.get(i, 0.0) for i in ids], float(p.total_kpi)


def _robust_spends(
    task: tuple[Scenario, ResponseModel, list[str], dict[str, Any]],
) -> list[float] | None:
    """The plan for the expected KPI over a model's draws (an executor task): spend per line
    item, or None when there is none."""
    scenario, m, ids, solve_options = task
    p = robust_plan(scenario, m, **solve_options)
    if not p.ok:
        return None
    by_id = {li.id: li.spend for li in p.line_items}
    return [by_id.get(i, 0.0) for i in ids]


def _point_curves(model: CurveSet) -> CurveSet:
    """The model with every touchpoint's draws dropped (its point curves only)."""
    return _point_model(model) if isinstance(model, ResponseModel) else model


def _point_model(model: ResponseModel) -> ResponseModel:
    """A response model with every touchpoint's draws dropped (its point curves only)."""
    return dataclasses.replace(
        model,
        touchpoints={
            k: dataclasses.replace(tp, draws=()) if tp.draws else tp
            for k, tp in model.touchpoints.items()
        },
    )


def _with_draws_of(model: ResponseModel, tid: str | None, d: int) -> ResponseModel:
    """The model with only ``tid``'s first ``d`` draws kept (every touchpoint's when ``tid`` is
    None): the belief before the information whose value is measured."""
    tps = {
        k: (
            dataclasses.replace(tp, draws=tp.draws[:d])
            if tid in (None, k)
            else dataclasses.replace(tp, draws=())
        )
        for k, tp in model.touchpoints.items()
    }
    return dataclasses.replace(model, touchpoints=tps)


def _kpi_of(m: ResponseModel, ids: Sequence[str], spends: Sequence[float], weeks: float) -> float:
    """Total KPI on model ``m``'s curves of spending ``spends`` on line items ``ids``."""
    return float(
        sum(float(m.touchpoints[i].horizon_kpi(x, weeks)) for i, x in zip(ids, spends, strict=True))
    )


def partial_models(
    model: ResponseModel, tids: Sequence[str], d: int
) -> list[tuple[str, int, ResponseModel]]:
    """``(touchpoint, draw, model)`` for each touchpoint of ``tids`` and each of the first ``d``
    draws: the model with only that touchpoint's curve replaced by its draw, every other
    touchpoint at its point curve (the models of the one-at-a-time EVPPI)."""
    point = _point_model(model)
    return [
        (tid, k, dataclasses.replace(point, touchpoints={**point.touchpoints, tid: r}))
        for tid in tids
        for k, r in enumerate(model.touchpoints[tid].draw_responses()[:d])
    ]


def _regret(optimum: float, plan_kpi: float) -> float:
    """What knowing a model's curves is worth to the plan: its optimum − the plan's KPI on it.

    On every draw the plan is a feasible plan of the scenario, so the exact optimum is at least the
    plan's KPI; but each re-optimised plan is certified only within ``SPREAD_TOLERANCE`` of its
    optimum, so it may fall short of the plan by up to that fraction of the KPI. Such shortfalls
    (and only those) are set to 0; a larger one is kept, to be seen (a plan infeasible on the
    draw, e.g. under a floor on this KPI).
    """
    v = optimum - plan_kpi
    if -SPREAD_TOLERANCE * max(abs(optimum), abs(plan_kpi)) <= v < 0:
        v = 0.0
    return float(v)


def _mean_or_nan(v: Sequence[float]) -> float:
    return float(np.mean(v)) if len(v) else float("nan")


def _share(v: float, of: float) -> float:
    return v / of if math.isfinite(v) and math.isfinite(of) and of > 0 else float("nan")


def plan_uncertainty(
    scenario: Scenario,
    model: ResponseModel,
    plan: Plan,
    *,
    solver: str = "highs",
    time_limit: float | None = None,
    extra_models: Mapping[str, CurveSet] | None = None,
    progress: Progress | None = None,
    executor: Executor | None = None,
    value_of_information: bool = True,
) -> Uncertainty:
    """Re-optimise ``scenario`` on each of the model's draws; the spread of the plans, and of
    ``plan``'s own KPI on each draw's curves.

    Each draw's plan is certified within ``SPREAD_TOLERANCE`` (0.1%). The draws are independent
    tasks of ``executor`` (in-process by default; a Dask cluster with ``--workers``/``--scheduler``),
    with the same results wherever they run. Raises ``ModelError`` when the model has no draws.

    With ``value_of_information`` (and a ``max_kpi`` scenario) also the EVPI and, per touchpoint
    with draws, the one-at-a-time EVPPI: the scenario re-optimised on each draw of that
    touchpoint's curve alone, another ``n_touchpoints × draws`` tasks of the same executor
    (``progress`` counts all tasks).
    """
    models = draw_models(model)
    n = len(models)
    ids = [li.id for li in plan.line_items]
    weeks = float(plan.horizon_weeks)
    spends = np.full((n, len(ids)), np.nan)
    optimum = np.full(n, np.nan)
    own = np.zeros((n, len(ids)))
    solve_options = {
        "solver": solver,
        "time_limit": time_limit,
        "extra_models": dict(extra_models or {}),
    }
    notes = []
    voi = value_of_information and scenario.objective == "max_kpi"
    if value_of_information and not voi:
        notes.append(
            f"the value of information is measured in KPI for objective max_kpi; it is "
            f"left out for objective {scenario.objective}"
        )
    tids = (
        [
            li.id
            for li in plan.line_items
            if li.id in model.touchpoints and model.touchpoints[li.id].draws
        ]
        if voi
        else []
    )
    partial = partial_models(model, tids, n)
    tasks = [(scenario, m, ids, solve_options) for m in models] + [
        (scenario, m, ids, solve_options) for _, _, m in partial
    ]
    # the decisions made before the information: the plans for the expected KPI over all draws
    # (for the EVPI) and over each touchpoint's draws alone (for its EVPPI)
    # other KPIs' models (floors, values) at their point curves, as every re-optimisation sees them
    rkw = {
        "solver": solver,
        "time_limit": time_limit,
        "extra_models": {k: _point_curves(em) for k, em in (extra_models or {}).items()},
    }
    before = [
        (scenario, _with_draws_of(model, t, n), ids, rkw) for t in ([None, *tids] if voi else [])
    ]
    n_all = len(tasks) + len(before)
    step = None if progress is None else (lambda done, total, _k: progress(done, n_all, ""))
    step2 = (
        None
        if progress is None
        else (lambda done, total, _k: progress(len(tasks) + done, n_all, ""))
    )
    with using(executor) as ex:
        results = ex.map(_draw_plan, tasks, progress=step)
        prior_plans = ex.map(_robust_spends, before, progress=step2) if before else []
    solved = 0
    for k, (m, res) in enumerate(zip(models, results[:n], strict=True)):
        if res is not None:
            solved += 1
            spends[k], optimum[k] = res
        for j, li in enumerate(plan.line_items):
            own[k, j] = float(m.touchpoints[li.id].horizon_kpi(li.spend, weeks))
    items = tuple(
        ItemSpread(li.id, li.stage, li.spend, Spread.of(spends[:, j]), Spread.of(own[:, j]))
        for j, li in enumerate(plan.line_items)
    )
    value = None
    if voi:
        plan_kpis = own.sum(axis=1)
        expected = float(np.mean(plan_kpis))
        plan_regret = _mean_or_nan(
            [
                _regret(float(optimum[k]), float(plan_kpis[k]))
                for k in range(n)
                if results[k] is not None
            ]
        )
        ref = prior_plans[0]
        evpi = (
            float("nan")
            if ref is None
            else _mean_or_nan(
                [
                    _regret(float(optimum[k]), _kpi_of(models[k], ids, ref, weeks))
                    for k in range(n)
                    if results[k] is not None
                ]
            )
        )
        ref_of = dict(zip(tids, prior_plans[1:], strict=True))
        per_tp: dict[str, list[float]] = {tid: [] for tid in tids}
        for (tid, _k, m), res in zip(partial, results[n:], strict=True):
            if res is not None and ref_of[tid] is not None:
                per_tp[tid].append(_regret(res[1], _kpi_of(m, ids, ref_of[tid], weeks)))
        stage = {li.id: li.stage for li in plan.line_items}
        values = []
        for tid, rs in per_tp.items():
            e = float(np.mean(rs)) if rs else float("nan")
            values.append(
                TouchpointValue(tid, stage[tid], e, _share(e, expected), _share(e, evpi), len(rs))
            )
        values.sort(
            key=lambda t: (
                not math.isfinite(t.evppi),
                -t.evppi if math.isfinite(t.evppi) else 0.0,
                t.id,
            )
        )
        value = ValueOfInformation(evpi, expected, tuple(values), plan_regret)
        if ref is None:
            notes.append(
                "value of information: the plan for the expected KPI over the draws "
                "could not be made, so the EVPI is unknown"
            )
        no_ref = [tid for tid in tids if ref_of[tid] is None]
        if no_ref:
            notes.append(
                "value of information: the plan for the expected KPI over one "
                "touchpoint's draws could not be made for "
                + ", ".join(no_ref)
                + ": their EVPPI is unknown"
            )
        short = [
            f"{t.id} ({n - t.solved})" for t in values if t.solved < n and ref_of[t.id] is not None
        ]
        if short:
            notes.append(
                "value of information: some re-optimisations with one touchpoint's curve "
                "drawn gave no plan and are left out: " + ", ".join(short)
            )
    missing = without_draws(model)
    if missing:
        notes.append(
            f"no draws for {', '.join(missing)}: their point curve stands in for every draw"
        )
    counts = {len(tp.draws) for tp in model.touchpoints.values() if tp.draws}
    if len(counts) > 1:
        notes.append(
            f"touchpoints have {min(counts)} to {max(counts)} draws; the first "
            f"{min(counts)} of each are used"
        )
    if solved < n:
        notes.append(
            f"{n - solved} of {n} draws gave no plan (infeasible or "
            "stopped) and are left out of the spend and KPI spread"
        )
    out = Uncertainty(
        plan, n, solved, items, Spread.of(optimum), Spread.of(own.sum(axis=1)), tuple(notes), value
    )
    from optimizer.workflow.untested import lift_tests

    # touchpoints planned on a prior: the lift test the value of information recommends
    return dataclasses.replace(out, untested=tuple(lift_tests(out, model)))
