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
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from optimizer.allocate import AllocationProblem, Plan, allocate, make_problem, solve_problem
from optimizer.allocate.breakpoints import HorizonCurve
from optimizer.errors import ModelError
from optimizer.response.model import CurveSet, ResponseModel, TouchpointResponse
from optimizer.scenario import Scenario
from optimizer.workflow.executor import Executor, using

ROBUST_MODES = ("none", "mean")
PERCENTILES = (10.0, 50.0, 90.0)
#: each draw's re-optimised plan is certified to this tolerance: the spread across draws is far
#: wider than 0.1%, and it keeps 20 re-optimisations quick
SPREAD_TOLERANCE = 1e-3
SPREAD_KKT_TOLERANCE = 1e-2

Progress = Callable[[int, int], None]


# ------------------------------------------------------------------------------------------------
# draws
# ------------------------------------------------------------------------------------------------
def n_draws(model: CurveSet) -> int:
    """How many joint draws the model has: the fewest any touchpoint with draws has (0: none)."""
    counts = [len(tp.draws) for tp in model.touchpoints.values() if getattr(tp, "draws", ())]
    return min(counts) if counts else 0


def require_draws(model: CurveSet) -> int:
    """The number of draws, or a ``ModelError`` saying clearly that there are none."""
    d = n_draws(model)
    if d == 0:
        raise ModelError(
            "the model has no bootstrap draws, so its uncertainty is unknown: fit it with "
            "'budgetopt fit … --bootstrap N' (N of 20 or more), or add 'draws' to each touchpoint "
            "of model.json (docs/file-formats.md)", path=getattr(model, "source", None),
            field="touchpoints.*.draws")
    return d


def without_draws(model: CurveSet) -> list[str]:
    """Touchpoints that have no draws (their point curve stands in for every draw)."""
    return [tid for tid, tp in model.touchpoints.items() if not getattr(tp, "draws", ())]


def draw_models(model: ResponseModel) -> list[ResponseModel]:
    """One ``ResponseModel`` per joint draw (touchpoints without draws keep their point curve)."""
    d = require_draws(model)
    per_tp: dict[str, list[TouchpointResponse]] = {
        tid: (tp.draw_responses() or [tp] * d) for tid, tp in model.touchpoints.items()}
    return [ResponseModel(kpi=model.kpi, touchpoints={tid: rs[k] for tid, rs in per_tp.items()},
                          source=model.source) for k in range(d)]


# ------------------------------------------------------------------------------------------------
# the robust (expected-KPI) plan
# ------------------------------------------------------------------------------------------------
def _mean_curve(curve: HorizonCurve, d: int) -> HorizonCurve:
    """The average of a curve's draws, as a composite curve (each draw weighted 1/D)."""
    parts = []
    for w, r in curve._terms():  # noqa: SLF001 - the curve's own (weight, response) terms
        rs = r.draw_responses()[:d] or [r]
        parts.extend((w / len(rs), x) for x in rs)
    return HorizonCurve(curve.response, curve.weeks, curve.scale, tuple(parts))


def mean_problem(problem: AllocationProblem, d: int) -> AllocationProblem:
    """The same problem with every line item's curves averaged over the model's draws."""
    items = tuple(dataclasses.replace(
        it, curve=_mean_curve(it.curve, d),
        kpis={k: _mean_curve(c, d) for k, c in it.kpis.items()}) for it in problem.items)
    return dataclasses.replace(problem, items=items)


def robust_plan(scenario: Scenario, model: ResponseModel, *, solver: str = "highs",
                tolerance: float = 1e-4, time_limit: float | None = None,
                extra_models: Mapping[str, CurveSet] | None = None) -> Plan:
    """The plan that maximises the expected KPI over the model's bootstrap draws.

    Line items' ``kpi`` and ``marginal_roi`` are expectations over the draws; the certificate
    (``gap``) is against the exact optimum of the expected KPI.
    """
    d = require_draws(model)
    problem = mean_problem(make_problem(scenario, model, extra_models=dict(extra_models or {})), d)
    plan = solve_problem(problem, solver=solver, tolerance=tolerance, time_limit=time_limit)
    return dataclasses.replace(plan, extras={**dict(plan.extras), "robust": "mean", "draws": d,
                                             "without_draws": without_draws(model)})


def optimize_scenario(scenario: Scenario, model: ResponseModel, *, robust: str = "none",
                      solver: str = "highs", tolerance: float = 1e-4,
                      time_limit: float | None = None,
                      extra_models: Mapping[str, CurveSet] | None = None) -> Plan:
    """The plan ``budgetopt optimize`` makes: on the model's curves, or (``robust='mean'``) for the
    expected KPI over its draws."""
    if extra_models is None:
        from optimizer.workflow.compare import extra_models_for

        extra_models = extra_models_for(scenario)
    if robust == "mean":
        return robust_plan(scenario, model, solver=solver, tolerance=tolerance,
                           time_limit=time_limit, extra_models=extra_models)
    if robust != "none":
        raise ModelError(f"unknown robust objective {robust!r}; choose one of: "
                         f"{', '.join(ROBUST_MODES)}", field="--robust")
    return allocate(scenario, model, solver=solver, tolerance=tolerance, time_limit=time_limit,
                    extra_models=dict(extra_models))


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
class Uncertainty:
    """How a plan and its scenario's optimum move across the model's bootstrap draws."""

    plan: Plan  # the plan described (nominal or robust)
    draws: int  # draws used
    solved: int  # draws whose re-optimisation gave a plan
    items: tuple[ItemSpread, ...]
    optimum_kpi: Spread  # total KPI of the re-optimised plan, across draws
    plan_kpi: Spread  # total KPI of *this* plan on each draw's curves
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {
            "draws": self.draws, "solved": self.solved,
            "percentiles": list(PERCENTILES),
            "total_kpi": self.optimum_kpi.to_dict(),
            "plan_kpi": self.plan_kpi.to_dict(),
            "line_items": [{"id": it.id, "stage": it.stage, "spend": it.spend,
                            "spend_p10": it.spend_spread.p10, "spend_p50": it.spend_spread.p50,
                            "spend_p90": it.spend_spread.p90, "kpi_p10": it.kpi_spread.p10,
                            "kpi_p50": it.kpi_spread.p50, "kpi_p90": it.kpi_spread.p90}
                           for it in self.items],
            "notes": list(self.notes),
        }


def _draw_plan(task: tuple[Scenario, ResponseModel, list[str], dict[str, Any]]
               ) -> tuple[list[float], float] | None:
    """One draw's optimum (an executor task): spend per line item and total KPI, or None."""
    scenario, m, ids, kw = task
    p = allocate(scenario, m, tolerance=SPREAD_TOLERANCE, kkt_tolerance=SPREAD_KKT_TOLERANCE,
                 diagnose=False, **kw)
    if not p.ok:
        return None
    by_id = {li.id: li.spend for li in p.line_items}
    return [by_id.get(i, 0.0) for i in ids], float(p.total_kpi)


def plan_uncertainty(scenario: Scenario, model: ResponseModel, plan: Plan, *,
                     solver: str = "highs", time_limit: float | None = None,
                     extra_models: Mapping[str, CurveSet] | None = None,
                     progress: Progress | None = None, executor: Executor | None = None
                     ) -> Uncertainty:
    """Re-optimise ``scenario`` on each of the model's draws; the spread of the plans, and of
    ``plan``'s own KPI on each draw's curves.

    Each draw's plan is certified within ``SPREAD_TOLERANCE`` (0.1%). The draws are independent
    tasks of ``executor`` (in-process by default; a Dask cluster with ``--workers``/``--scheduler``),
    with the same results wherever they run. Raises ``ModelError`` when the model has no draws.
    """
    models = draw_models(model)
    ids = [li.id for li in plan.line_items]
    weeks = float(plan.horizon_weeks)
    spends = np.full((len(models), len(ids)), np.nan)
    optimum = np.full(len(models), np.nan)
    own = np.zeros((len(models), len(ids)))
    kw = {"solver": solver, "time_limit": time_limit, "extra_models": dict(extra_models or {})}
    tasks = [(scenario, m, ids, kw) for m in models]
    step = None if progress is None else (lambda done, total, _k: progress(done, total))
    with using(executor) as ex:
        results = ex.map(_draw_plan, tasks, progress=step)
    solved = 0
    for k, (m, res) in enumerate(zip(models, results, strict=True)):
        if res is not None:
            solved += 1
            spends[k], optimum[k] = res
        for j, li in enumerate(plan.line_items):
            own[k, j] = float(m.touchpoints[li.id].horizon_kpi(li.spend, weeks))
    items = tuple(ItemSpread(li.id, li.stage, li.spend, Spread.of(spends[:, j]), Spread.of(own[:, j]))
                  for j, li in enumerate(plan.line_items))
    notes = []
    missing = without_draws(model)
    if missing:
        notes.append(f"no draws for {', '.join(missing)}: their point curve stands in for every draw")
    counts = {len(tp.draws) for tp in model.touchpoints.values() if tp.draws}
    if len(counts) > 1:
        notes.append(f"touchpoints have {min(counts)} to {max(counts)} draws; the first "
                     f"{min(counts)} of each are used")
    if solved < len(models):
        notes.append(f"{len(models) - solved} of {len(models)} draws gave no plan (infeasible or "
                     "stopped) and are left out of the spend and KPI spread")
    return Uncertainty(plan, len(models), solved, items, Spread.of(optimum),
                       Spread.of(own.sum(axis=1)), tuple(notes))
