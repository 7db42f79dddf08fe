"""The anchored plan (``optimize --robust anchored``): move from the historical mix toward the
optimum on the point curves only as far as the model's draws expect it to pay.

Where the data cannot tell touchpoints apart, the optimum on the point curves can move a budget a
long way on the strength of a confident misfit, and the true KPI of that plan can fall below what
the historical mix earns. The anchored plan hedges that decision with the model's own joint draws:

* the *anchor* ``h`` is the historical mix (each touchpoint's mean weekly spend in the history,
  ``spend_range.mean`` in model.json) scaled to the point optimum's total spend;
* the *line* runs from ``h`` (step 0) to the certified optimum ``x*`` on the point curves
  (step 1): the plans ``h + t (x* - h)``; where the historical mix breaks a scenario rule the line
  starts at its first step that holds every rule (the rules are linear, so the plans that hold
  them form one stretch of the line ending at ``x*``);
* the plan is the step ``t`` that maximises the **expected KPI over the draws** on that line, a
  one-dimensional concave problem solved to the allocator's tolerance and certified like any
  plan: its ``bound`` is the tangent bound of the concave expected KPI at the chosen step, and its
  ``gap`` is to that bound. Line items' ``kpi`` and ``marginal_roi`` are expectations over the
  draws, as with ``--robust mean``.

It is a different problem from both the plan on the point curves (step 1) and ``--robust mean``
(the expected KPI's optimum over every plan, which chases the draws' noise in every direction at
once): the direction comes from the point curves, the distance from the draws. The plan says so:
``extras['robust'] == 'anchored'`` with the step, the anchor and what the draws expect of the
anchor, the point optimum and the plan (``robust`` in the JSON output). Measured on the simulated
worlds in docs/response-models.md ("A plan anchored to the historical mix").
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np

from optimizer.allocate import AllocationProblem, Plan, allocate, make_problem, plan_at
from optimizer.allocate.bank import CurveBank
from optimizer.allocate.engine import violation
from optimizer.errors import ModelError, ScenarioError
from optimizer.response.model import CurveSet, ResponseModel
from optimizer.scenario import Scenario
from optimizer.workflow.robust import mean_problem, require_draws, without_draws

#: a plan on the line holds the rules when its largest relative violation is at most this
FEASIBLE = 1e-9
#: bisection steps of the line search (2^-60 of the line: far below a cent)
STEPS = 60


def historical_mix(problem: AllocationProblem, model: CurveSet) -> np.ndarray:
    """Each line item's share of the history's mean weekly spend (model.json's
    ``spend_range.mean``), as an array over the problem's line items summing to 1."""
    means = []
    for it in problem.items:
        tp = model.touchpoints.get(it.id)
        rng = getattr(tp, "spend_range", None) or {}
        m = rng.get("mean")
        if m is None or not np.isfinite(m) or m < 0:
            raise ModelError(
                f"touchpoint {it.id!r} has no mean weekly spend in the history, so the historical "
                "mix that --robust anchored starts from is unknown: refit the model with "
                "'budgetopt fit' (it writes spend_range), or add spend_range.mean to the "
                "touchpoint in model.json",
                path=getattr(model, "source", None),
                field=f"touchpoints.{it.id}.spend_range.mean",
            )
        means.append(float(m))
    h = np.array(means)
    if h.sum() <= 0:
        raise ModelError(
            "the history's mean weekly spend is zero on every line item: no historical mix "
            "to anchor the plan to",
            path=getattr(model, "source", None),
            field="touchpoints.*.spend_range.mean",
        )
    return h / h.sum()


def _first_feasible(problem: AllocationProblem, h: np.ndarray, d: np.ndarray) -> float:
    """The first step ``t`` of the line ``h + t d`` whose plan holds every rule (0 when the
    anchor does; the rules are linear, so the feasible steps form one stretch ending at 1)."""
    if violation(problem, h) <= FEASIBLE:
        return 0.0
    lo, hi = 0.0, 1.0
    for _ in range(STEPS):
        mid = 0.5 * (lo + hi)
        if violation(problem, h + mid * d) <= FEASIBLE:
            hi = mid
        else:
            lo = mid
    return hi


def best_step(bank: CurveBank, h: np.ndarray, d: np.ndarray, t0: float) -> tuple[float, float]:
    """The step ``t`` in ``[t0, 1]`` that maximises the concave ``f(t) = sum bank(h + t d)``
    (bisection on its derivative), and the tangent bound on ``max f`` there."""

    def slope(t: float) -> float:
        return float(bank.slope(h + t * d) @ d)

    if slope(1.0) >= 0.0:
        t = 1.0
    elif slope(t0) <= 0.0:
        t = t0
    else:
        lo, hi = t0, 1.0
        for _ in range(STEPS):
            mid = 0.5 * (lo + hi)
            if slope(mid) > 0.0:
                lo = mid
            else:
                hi = mid
        t = 0.5 * (lo + hi)
    f, g = float(bank.value(h + t * d).sum()), slope(t)
    return t, f + max(g * (1.0 - t), g * (t0 - t), 0.0)


def anchored_plan(
    scenario: Scenario,
    model: ResponseModel,
    *,
    solver: str = "highs",
    tolerance: float = 1e-4,
    time_limit: float | None = None,
    extra_models: Mapping[str, CurveSet] | None = None,
) -> Plan:
    """The plan on the line from the historical mix to the point optimum that maximises the
    expected KPI over the model's draws (see the module docstring)."""
    n = require_draws(model)
    if getattr(scenario, "is_phased", False):
        raise ScenarioError(
            "--robust anchored plans undated scenarios (one amount per line item): this one is "
            "phased; use --robust mean or none",
            path=scenario.source,
            field="phasing",
        )
    if scenario.objective != "max_kpi":
        raise ScenarioError(
            f"--robust anchored needs objective max_kpi (the line from the historical mix keeps "
            f"the point optimum's total spend), not {scenario.objective!r}",
            path=scenario.source,
            field="objective",
        )
    extras = dict(extra_models or {})
    point = allocate(
        scenario,
        model,
        solver=solver,
        tolerance=tolerance,
        time_limit=time_limit,
        extra_models=extras,
    )
    if not point.ok:
        return point
    problem = mean_problem(make_problem(scenario, model, extra_models=extras), n)
    if problem.needs_binaries:
        raise ScenarioError(
            "--robust anchored needs concave curves and no 'min_if_funded' rule (the plans on "
            "the line from the historical mix must hold every rule and the expected KPI must be "
            "concave along it); use --robust mean",
            path=scenario.source,
            field="--robust",
        )
    spend = {li.id: li.spend for li in point.line_items}
    x1 = np.array([spend[it.id] for it in problem.items])
    h = historical_mix(problem, model) * float(x1.sum())
    d = x1 - h
    bank = CurveBank.of([it.curve for it in problem.items])
    t0 = _first_feasible(problem, h, d)
    t, bound = best_step(bank, h, d, t0)
    plan = plan_at(problem, h + t * d, bound, solver=solver, tolerance=tolerance)

    def expected(x: np.ndarray) -> float:
        return float(bank.value(x).sum())

    return dataclasses.replace(
        plan,
        build_seconds=point.build_seconds,
        solve_seconds=point.solve_seconds + plan.solve_seconds,
        extras={
            **dict(point.extras),
            **dict(plan.extras),
            "robust": "anchored",
            "draws": n,
            "without_draws": without_draws(model),
            "anchor": "historical mix",
            "step": t,
            "first_feasible_step": t0,
            "expected_kpi": {
                "anchor": expected(h) if t0 == 0.0 else None,
                "point_optimum": expected(x1),
                "plan": expected(h + t * d),
            },
            "point_optimum_kpi": point.objective_value,
        },
    )
