"""The anchored plan (``optimize --robust anchored``): move from the historical mix toward the
optimum on the point curves only as far as the uplift stays clear of the model's uncertainty.

Where the data cannot tell touchpoints apart, the optimum on the point curves can move a budget a
long way on the strength of a confident misfit, and the true KPI of that plan can fall below what
the historical mix earns. The anchored plan hedges that decision with the model's own joint draws:

* the *anchor* ``h`` is the historical mix (each touchpoint's mean weekly spend in the history,
  ``spend_range.mean`` in model.json) scaled to the point optimum's total spend;
* the *line* runs from ``h`` (step 0) to the certified optimum ``x*`` on the point curves
  (step 1): the plans ``h + t (x* - h)``. Where the historical mix breaks a scenario rule by more
  than a cent (``anchor_breaks`` names the rules) the line starts instead at ``p``, the plan
  nearest ``h`` that holds every rule (``nearest_feasible``: the scenario's own LP, every rule
  kind through the allocator's problem builder, at ``x*``'s total spend, minimising
  ``sum |x_i - h_i| / max(h_i, 1)``; ``anchor_start`` in the JSON): the plans ``p + t (x* - p)``.
  The rules of an LP scenario are convex (linear rows on spend; KPI floors, rows ``>=`` on
  concave curves), so every step from ``p`` to ``x*`` holds them. With S-curves (a MILP) that
  segment need not hold them: there the line stays the one from ``h`` and starts at its first
  step that holds every rule (``first_feasible_step``; a rule binding at ``x*`` too leaves only
  ``x*``);
* of the ``GRID + 1`` evenly spaced steps of that stretch, the plan is the one with the highest
  **uplift over the line's start on the point curves less ``risk`` times the draws' shortfall
  below it** (the start is the historical mix unless it breaks a rule; ``risk = 0.75`` by
  default, ``RISK``). The *shortfall* at a step is the root mean square, over the draws, of how
  far each draw's uplift falls below the point uplift (``shortfall``: a draw at or above the
  point's promise adds nothing): the risk that the plan earns less than the point curves say.
  Where the optimum sits on the point curves' most favourable errors (the optimiser's curse) the
  draws fall below its promise and the plan stops early; where the draws' disagreement is only
  about how much *more* the move earns (``mmm_example``'s x2) it does not hold the plan back.
  Along the line the point uplift rises to ``x*`` while the draws' disagreement grows with the
  distance from the historical mix: where the data tell the touchpoints apart the plan is (near)
  ``x*``, where they do not it stays near ``h``;
* where the fit pooled every touchpoint's marginal ROI onto one value (``full_pooling``: the
  evidence for the pooling weight peaked at the top of its grid, the fit's full-pooling warning)
  the draws' centre says nothing about the touchpoints' differences (the plans' draws are drawn at
  that full pooling: intervals read from them held the truth for 22-32% of touchpoints on
  simulated histories), so the risk there is the draws'
  **standard deviation** of the uplift, either way from the point (``risk_measure`` "sd", the rule
  before the shortfall). Measured on 170 simulated worlds and ``mmm_example`` in
  docs/response-models-measured.md ("The anchored plan's risk: the draws' shortfall").

The plan is exact for the problem it states (enumeration of the steps: ``certificate`` in its
extras, its criterion's bound its own) and is not the optimum on the point curves, whose KPI is
reported beside it: its ``status`` is that optimum's certificate, its ``bound`` the optimum's
bound on the scenario's KPI and its ``gap`` its own KPI below that bound. Line items'
``kpi`` and ``marginal_roi`` are on the point curves. The plan says what it is:
``extras['robust'] == 'anchored'`` with the step, ``risk``, ``risk_measure`` and the criterion's
parts (``robust`` in the JSON output). Measured on the simulated worlds in docs/response-models.md ("A plan anchored to
the historical mix").
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from optimizer.allocate import AllocationProblem, Plan, allocate, make_problem, plan_at
from optimizer.allocate.bank import CurveBank
from optimizer.allocate.breakpoints import HorizonCurve, bank_pieces, refine_around
from optimizer.allocate.build import build_model
from optimizer.allocate.certificate import relative_gap
from optimizer.allocate.engine import initial_points, violation
from optimizer.allocate.plan import round_cents
from optimizer.allocate.problem import LinearConstraint
from optimizer.allocate.solve import solve_prob
from optimizer.errors import BudgetOptError, ModelError, ScenarioError
from optimizer.response.model import CurveSet, ResponseModel, TouchpointResponse
from optimizer.scenario import Scenario
from optimizer.workflow.robust import require_draws, without_draws

#: a plan on the line holds a rule on spend when it breaks it by at most this much money (a
#: cent: the plan is rounded to the cent holding every rule, as every plan is), a rule on a KPI
#: when its relative violation is at most ``FEASIBLE``
CENT = 0.01
FEASIBLE = 1e-9
#: bisection steps of the search for the first step that holds the rules (2^-60 of the line)
STEPS = 60
#: pieces per line item of the LP that finds the plan nearest the historical mix (KPI rules on
#: its chords, which lie under concave curves: a floor it holds, the curve holds)
NEAREST_PIECES = 64
#: a KPI floor is held by the nearest plan with this much of it to spare, so that rounding the
#: plan to the cent cannot take it under
KPI_MARGIN = 1e-7
#: the line's steps compared: GRID + 1 evenly spaced, both ends included
GRID = 1000
#: the default multiple of the step's risk (the draws' shortfall below the point uplift; their
#: standard deviation at full pooling) taken off the point uplift: chosen (0.5 / 0.75 / 1) with
#: the standard deviation on every world, checked on 80 fresh worlds (docs/response-models.md,
#: "A plan anchored to the historical mix"), kept for the shortfall: no world of 170 below the
#: historical mix ("The anchored plan's risk: the draws' shortfall")
RISK = 0.75
#: ``risk_measure``: the draws' shortfall below the point uplift, or (full pooling) their
#: standard deviation
RISK_MEASURES = ("shortfall", "sd")
#: the scenario field of each rule that needs an integer variable (``AllocationProblem.item_rules``)
_ITEM_RULE_FIELDS = {
    "tp_min_if_funded": "touchpoints.{}.min_if_funded",
    "tp_block": "touchpoints.{}.block",
    "min_line_item": "min_line_item",
    "round_to": "round_to",
}


def _mean_spend(model: CurveSet, tid: str) -> float | None:
    """A touchpoint's mean weekly spend in the history (model.json's ``spend_range.mean``), or
    None where the model has none (or a negative or non-finite one)."""
    rng = getattr(model.touchpoints.get(tid), "spend_range", None) or {}
    m = rng.get("mean")
    return float(m) if m is not None and np.isfinite(m) and m >= 0 else None


def _mix_refusal(problem: AllocationProblem, model: CurveSet) -> Refusal | None:
    """Why the history gives no mix to anchor the plan to (a line item without a mean weekly
    spend, or none spent at all), or None."""
    total = 0.0
    for it in problem.items:
        m = _mean_spend(model, it.id)
        if m is None:
            return Refusal(
                f"touchpoint {it.id} has no mean weekly spend in the history (spend_range.mean)",
                ModelError(
                    f"touchpoint {it.id!r} has no mean weekly spend in the history, so the "
                    "historical mix that --robust anchored starts from is unknown: refit the "
                    "model with 'budgetopt fit' (it writes spend_range), or add "
                    "spend_range.mean to the touchpoint in model.json",
                    path=getattr(model, "source", None),
                    field=f"touchpoints.{it.id}.spend_range.mean",
                ),
            )
        total += m
    if total <= 0:
        return Refusal(
            "the history's mean weekly spend is zero on every line item",
            ModelError(
                "the history's mean weekly spend is zero on every line item: no historical mix "
                "to anchor the plan to",
                path=getattr(model, "source", None),
                field="touchpoints.*.spend_range.mean",
            ),
        )
    return None


def historical_mix(problem: AllocationProblem, model: CurveSet) -> np.ndarray:
    """Each line item's share of the history's mean weekly spend (model.json's
    ``spend_range.mean``), as an array over the problem's line items summing to 1 (a
    ``ModelError`` naming the field where the history gives none: ``_mix_refusal``)."""
    refused = _mix_refusal(problem, model)
    if refused is not None:
        raise refused.error
    h = np.array([_mean_spend(model, it.id) for it in problem.items], dtype=float)
    return h / h.sum()


def _breaks(problem: AllocationProblem, con: LinearConstraint, x: np.ndarray) -> bool:
    """Does spend ``x`` break rule ``con`` by more than a cent (a KPI rule by more than
    ``FEASIBLE`` of its size)? A rule the historical mix misses by a fraction of a cent (a floor
    at its spend rounded to the cent, say) is held once the plan is rounded to the rules."""
    if con.on_kpi:
        return violation(dataclasses.replace(problem, constraints=(con,)), x) > FEASIBLE
    over = sum(a * float(x[i]) for i, a in con.coefs.items()) - con.rhs
    return (over if con.sense == "<=" else -over if con.sense == ">=" else abs(over)) > CENT


def broken_by(problem: AllocationProblem, x: np.ndarray) -> list[LinearConstraint]:
    """The rules that spend ``x`` breaks (``_breaks``)."""
    return [con for con in problem.constraints if _breaks(problem, con, x)]


def _first_feasible(problem: AllocationProblem, h: np.ndarray, d: np.ndarray) -> float:
    """The first step ``t`` of the line ``h + t d`` whose plan holds the rules the anchor breaks
    (0 when it breaks none; the rules are convex, so the steps that hold them form one stretch
    ending at 1, and every step holds, to the cent, the rules both ends hold)."""
    broken = broken_by(problem, h)
    if not broken:
        return 0.0
    # spend rules to FEASIBLE (the rounding to the rules then holds them to the cent); KPI rules,
    # which that rounding does not see, on the plan rounded to the cent, exactly
    money = dataclasses.replace(problem, constraints=tuple(c for c in broken if not c.on_kpi))
    kpis = dataclasses.replace(problem, constraints=tuple(c for c in broken if c.on_kpi))

    def holds(x: np.ndarray) -> bool:
        return violation(money, x) <= FEASIBLE and violation(kpis, round_cents(x)) <= 0.0

    lo, hi = 0.0, 1.0
    for _ in range(STEPS):
        mid = 0.5 * (lo + hi)
        if holds(h + mid * d):
            hi = mid
        else:
            lo = mid
    return hi


def nearest_feasible(
    problem: AllocationProblem, h: np.ndarray, total: float, *, solver: str = "highs"
) -> np.ndarray | None:
    """The plan nearest ``h`` that holds every rule of ``problem`` and spends ``total``: the
    scenario's own LP (``build_model``: every rule kind the registry builds) with the objective
    replaced by ``sum |x_i - h_i| / max(h_i, 1)`` (split variables ``x - h = up - down``). KPI
    rules are held on the pieces' chords (under the concave curves) with ``KPI_MARGIN`` of their
    size to spare. None for a MILP (S-curves) or when the LP has no solution."""
    import pulp

    if problem.needs_binaries:
        return None
    bank = CurveBank.of([it.curve for it in problem.items])
    pts = initial_points(problem, NEAREST_PIECES, bank)
    pts = [
        refine_around(p, float(np.clip(v, 0.0, it.hi)), 0.0, it.hi)
        for p, v, it in zip(pts, h, problem.items, strict=True)
    ]
    margin = tuple(
        dataclasses.replace(c, rhs=c.rhs + KPI_MARGIN * max(abs(c.rhs), 1.0))
        if c.on_kpi and c.sense == ">="
        else c
        for c in problem.constraints
    )
    built = build_model(
        dataclasses.replace(problem, constraints=margin), bank_pieces(bank, pts), objective=False
    )
    prob = built.prob
    terms = []
    spend_all = []
    for i, vs in enumerate(built.segment_vars):
        up = prob.add_variable(f"near_up_{i}", 0.0)
        down = prob.add_variable(f"near_down_{i}", 0.0)
        spend = [(v, 1.0) for v in vs]
        spend_all.extend(spend)
        row = pulp.LpAffineExpression([*spend, (up, -1.0), (down, 1.0)])
        prob.addConstraint(pulp.LpConstraint(row, pulp.LpConstraintEQ, rhs=float(h[i])))
        w = 1.0 / max(float(h[i]), 1.0)
        terms += [(up, w), (down, w)]
    prob.addConstraint(
        pulp.LpConstraint(pulp.LpAffineExpression(spend_all), pulp.LpConstraintEQ, rhs=total)
    )
    prob.setObjective(pulp.LpAffineExpression(terms))
    out = solve_prob(prob, {}, solver)
    if out.status != "optimal":
        return None
    return built.spend_values()


def _draw_curve(
    curve: HorizonCurve, responses: list[list[TouchpointResponse]], j: int
) -> HorizonCurve:
    """Draw ``j`` of a line item's curve: each of its terms' responses replaced by its draw
    (a term without draws keeps its point response)."""
    terms = curve._terms()  # noqa: SLF001 - the curve's own (weight, response, share) terms
    parts = tuple((w, rs[j] if rs else r) for (w, r, _), rs in zip(terms, responses, strict=True))
    shares = tuple(k for _, _, k in terms)
    return HorizonCurve(curve.response, curve.weeks, curve.scale, parts, shares)


def uplift_draws(problem: AllocationProblem, n: int, xs: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Each draw's KPI of each plan in ``xs`` (steps x line items) less its KPI of ``h``: an
    array draws x steps."""
    out = np.zeros((n, len(xs)))
    for i, it in enumerate(problem.items):
        responses = [r.draw_responses()[:n] for _, r, _ in it.curve._terms()]  # noqa: SLF001
        for j in range(n):
            c = _draw_curve(it.curve, responses, j)
            out[j] += c.value(xs[:, i]) - c.value(h[i])
    return out


def shortfall(ups: np.ndarray, point: np.ndarray) -> np.ndarray:
    """The draws' shortfall below the point uplift at each step: the root mean square over the
    draws (rows of ``ups``) of ``min(draw - point, 0)``; a draw at or above ``point`` adds 0."""
    short = np.minimum(ups - point[None, :], 0.0)
    return np.sqrt(np.mean(short * short, axis=0))


def full_pooling(model: CurveSet) -> bool:
    """Did the fit pool every touchpoint's marginal ROI onto one value? model.json's
    ``diagnostics.pooling`` (the MAP fitter's) with the evidence's peak at the top of its grid
    (``at_edge`` and ``pool_marginal_equivalent >= 1``: the condition of the fit's full-pooling
    warning). False for a model without that diagnostic (another fitter, a hand-written file)."""
    diag = getattr(model, "diagnostics", None)
    pool = diag.get("pooling") if isinstance(diag, Mapping) else None
    if not isinstance(pool, Mapping) or not pool.get("at_edge"):
        return False
    try:
        return float(pool.get("pool_marginal_equivalent") or 0.0) >= 1.0
    except (TypeError, ValueError):
        return False


@dataclass(frozen=True)
class Refusal:
    """Why the anchored plan cannot be made for a scenario and model: ``reason``, one line
    (``--robust auto`` reports it and makes the optimum on the point curves), and ``error``, the
    located error ``--robust anchored`` raises (naming the file and the field)."""

    reason: str
    error: BudgetOptError


@dataclass(frozen=True)
class Anchorable:
    """``anchorable``'s answer: the problem the line is drawn in (None where a check refused
    before it was built) and the refusal (None: the anchored plan can be made)."""

    problem: AllocationProblem | None
    refusal: Refusal | None


def anchorable(
    scenario: Scenario, model: CurveSet, extra_models: Mapping[str, CurveSet] | None = None
) -> Anchorable:
    """Can the anchored plan be made for this scenario and model? The one list of the cases it
    refuses, in this order: a markets index or a model without draws (no joint draws to weigh
    the plan on), a phased scenario, an objective other than max_kpi (the line keeps the point
    optimum's total spend), rules on whole units of a line item (a step of the line is not a
    whole number of them and may fall in a zero-or-at-least gap), a line item without the
    history's mean weekly spend (no historical mix). ``anchored_plan`` raises the refusal's
    error, ``auto_plan`` reports its reason; the problem, built here once, is passed on to solve
    the point optimum and draw the line in."""
    from optimizer.response.markets import MarketModel

    try:
        require_draws(model)
    except ModelError as e:
        return Anchorable(
            None,
            Refusal(
                "a markets index has no joint draws to weigh the plan on"
                if isinstance(model, MarketModel)
                else "the model has no draws of its curves (fit with --bootstrap N to weigh them)",
                e,
            ),
        )
    if getattr(scenario, "is_phased", False):
        return Anchorable(
            None,
            Refusal(
                "the anchored plan is for undated scenarios; this one is phased",
                ScenarioError(
                    "--robust anchored plans undated scenarios (one amount per line item): this "
                    "one is phased; use --robust mean or none",
                    path=scenario.source,
                    field="phasing",
                ),
            ),
        )
    if scenario.objective != "max_kpi":
        return Anchorable(
            None,
            Refusal(
                f"the anchored plan needs objective max_kpi, not {scenario.objective}",
                ScenarioError(
                    f"--robust anchored needs objective max_kpi (the line from the historical mix "
                    f"keeps the point optimum's total spend), not {scenario.objective!r}",
                    path=scenario.source,
                    field="objective",
                ),
            ),
        )
    problem = make_problem(scenario, model, extra_models=dict(extra_models or {}))
    if problem.item_rules:  # a step of the line is not a whole number of blocks, nor clear of a gap
        rule = problem.item_rules[0]
        return Anchorable(
            problem,
            Refusal(
                f"the scenario has {rule.label}: a step between the historical mix and the "
                "optimum is not a whole number of its units",
                ScenarioError(
                    f"--robust anchored cannot plan with {rule.label}: a plan between the "
                    "historical mix and the optimum is not a whole number of its units and may "
                    "fall in a zero-or-at-least gap; use --robust mean or none",
                    path=scenario.source,
                    field=_ITEM_RULE_FIELDS.get(rule.kind, rule.kind).format(rule.subject),
                ),
            ),
        )
    return Anchorable(problem, _mix_refusal(problem, model))


def _risk(risk: float | None) -> float:
    """The anchored plan's risk (None: ``RISK``), or a ``ScenarioError`` naming ``--risk``."""
    risk = RISK if risk is None else float(risk)
    if not (np.isfinite(risk) and risk >= 0):
        raise ScenarioError(
            f"the risk of an anchored plan is a multiple >= 0 of the draws' shortfall (standard "
            f"deviations at full pooling), not {risk!r}",
            field="--risk",
        )
    return risk


def _point_optimum(
    scenario: Scenario,
    model: CurveSet,
    problem: AllocationProblem | None,
    extras: dict[str, CurveSet],
    *,
    solver: str,
    tolerance: float,
    time_limit: float | None,
) -> Plan:
    """The optimum on the point curves, the plan ``allocate`` makes, solved in ``problem`` where
    ``anchorable`` built it (None: ``allocate`` builds its own, a phased one included)."""
    return allocate(
        scenario,
        model,
        solver=solver,
        tolerance=tolerance,
        time_limit=time_limit,
        extra_models=extras,
        problem=problem,
    )


def anchored_plan(
    scenario: Scenario,
    model: ResponseModel,
    *,
    risk: float | None = None,
    solver: str = "highs",
    tolerance: float = 1e-4,
    time_limit: float | None = None,
    extra_models: Mapping[str, CurveSet] | None = None,
    risk_measure: str | None = None,
) -> Plan:
    """The step on the line from the historical mix to the point optimum with the highest point
    uplift less ``risk`` times the draws' shortfall below it (their standard deviation where the
    fit pooled every touchpoint: ``full_pooling``; see the module docstring; ``risk`` None:
    ``RISK``). ``risk_measure`` "shortfall" or "sd" prices that one whatever the pooling (the
    benchmarks compare the two; None: as the pooling says). Where it cannot be made
    (``anchorable``) the located error says why."""
    if risk_measure is not None and risk_measure not in RISK_MEASURES:
        raise ScenarioError(
            f"unknown risk measure {risk_measure!r}; choose one of: {', '.join(RISK_MEASURES)}",
            field="risk_measure",
        )
    risk = _risk(risk)
    extras = dict(extra_models or {})
    can = anchorable(scenario, model, extras)
    if can.refusal is not None:
        raise can.refusal.error
    assert can.problem is not None  # noqa: S101 - anchorable builds it where it does not refuse
    point = _point_optimum(
        scenario, model, can.problem, extras, solver=solver, tolerance=tolerance,
        time_limit=time_limit,
    )  # fmt: skip
    return _weigh(
        can.problem, model, extras, point, risk=risk, risk_measure=risk_measure, solver=solver,
        tolerance=tolerance,
    )  # fmt: skip


def _weigh(
    problem: AllocationProblem,
    model: ResponseModel,
    extras: dict[str, CurveSet],
    point: Plan,
    *,
    risk: float,
    risk_measure: str | None,
    solver: str,
    tolerance: float,
) -> Plan:
    """The anchored plan on the line from the historical mix to ``point``, the optimum on the
    point curves of ``problem`` (returned as it is where it has no plan)."""
    n = require_draws(model)
    if not point.ok:
        return point
    spend = {li.id: li.spend for li in point.line_items}
    x1 = np.array([spend[it.id] for it in problem.items])
    h = historical_mix(problem, model) * float(x1.sum())
    if float(np.max(np.abs(x1 - h), initial=0.0)) < CENT:  # the optimum is the historical mix
        h = x1
    breaks = broken_by(problem, h)
    # the line's start: h, or the plan nearest h that holds every rule (an LP scenario's rules
    # are convex: every step from there to x* holds them); with S-curves, h
    start = nearest_feasible(problem, h, float(x1.sum()), solver=solver) if breaks else None
    if start is not None and broken_by(problem, start):  # not expected: the LP holds the rules
        start = None
    if start is None:
        start = h
        t0 = _first_feasible(problem, h, x1 - h)
    else:
        t0 = 0.0
    d = x1 - start
    steps = t0 + (1.0 - t0) * np.arange(GRID + 1) / GRID
    xs = start[None, :] + steps[:, None] * d[None, :]
    bank = CurveBank.of([it.curve for it in problem.items])
    base = float(bank.value(start).sum())
    uplift = np.array([float(bank.value(x).sum()) for x in xs]) - base
    ups = uplift_draws(problem, n, xs, start)
    spread = ups.std(axis=0)
    short = shortfall(ups, uplift)
    pooled = any(full_pooling(m) for m in (model, *extras.values()))
    measure = risk_measure or ("sd" if pooled else "shortfall")
    crit = uplift - risk * (spread if measure == "sd" else short)
    # the first best: ties go to the step nearer the historical mix (all steps the same plan
    # when the optimum is the historical mix: then it is step 1, the optimum)
    k = int(np.argmax(crit)) if d.any() else GRID
    moved = start is not h
    value = float(bank.value(xs[k]).sum())
    if k == GRID:  # step 1 is the point optimum itself: its certificate and shadow prices kept
        plan, extra_seconds = point, 0.0
    else:
        # exact for the problem it states (every step compared); its status is the line's end's
        # certificate, its bound the bound on the scenario's KPI (the point optimum's) and its
        # gap how far its KPI falls below that bound, not 0 against its own value
        plan = plan_at(problem, xs[k], value, solver=solver, tolerance=tolerance)
        gap = relative_gap(problem, value, point.bound) if point.bound is not None else None
        status = plan.status if point.status == "optimal" else point.status
        plan = dataclasses.replace(plan, status=status, gap=gap, bound=point.bound)
        extra_seconds = plan.solve_seconds
    return dataclasses.replace(
        plan,
        pieces=point.pieces,  # of the LP that certified the point optimum (step 1)
        rounds=point.rounds,
        build_seconds=point.build_seconds,
        solve_seconds=point.solve_seconds + extra_seconds,
        extras={
            **dict(point.extras),
            **dict(plan.extras),
            "robust": "anchored",
            "draws": n,
            "without_draws": without_draws(model),
            "anchor": "historical mix",
            "risk": risk,
            "step": float(steps[k]),
            "first_feasible_step": t0,
            "anchor_breaks": [con.label for con in breaks] if (t0 > 0 or moved) else [],
            "anchor_start": (
                {it.key: round(float(v), 2) for it, v in zip(problem.items, start, strict=True)}
                if moved
                else None
            ),
            "anchor_moved": round(float(np.abs(start - h).sum()), 2) if moved else 0.0,
            "anchor_mix": {
                it.key: round(float(v), 2) for it, v in zip(problem.items, h, strict=True)
            },
            "risk_measure": measure,
            "full_pooling": pooled,
            "uplift": float(uplift[k]),
            "uplift_sd": float(spread[k]),
            "uplift_shortfall": float(short[k]),
            "certificate": {
                "problem": CERTIFIED_PROBLEM,
                "steps": GRID + 1,
                "criterion": float(crit[k]),
                "criterion_bound": float(crit.max()),  # every step compared: the plan's own
                "criterion_gap": 0.0,
                "kpi_bound": point.bound,
                "kpi_gap": plan.gap,
                "point_status": str(point.status),
            },
            "point_optimum": {
                "kpi": point.objective_value,
                "gap": point.gap,
                "steps": GRID + 1,
                "uplift": float(uplift[-1]),
                "uplift_sd": float(spread[-1]),
                "uplift_shortfall": float(short[-1]),
                "uplift_draws_mean": float(ups[:, -1].mean()),
            },
        },
    )


#: what an anchored plan's certificate certifies (its JSON's ``robust.certificate.problem``)
CERTIFIED_PROBLEM = (
    "the best step of the line by the criterion (robust.objective), every step compared "
    "(criterion_bound is its own criterion; criterion_gap 0); the line ends at the optimum on "
    "the point curves, whose certificate is the plan's status and bound (kpi_bound: a bound on "
    "the most KPI any plan of the scenario's rules earns on the point curves); gap and kpi_gap: "
    "how far this plan's KPI falls below it"
)

#: ``optimize --robust auto`` calls for the hedge where the draws' mean uplift at the point
#: optimum falls below the point curves' promise by more than this share of it: a difference of
#: floating-point rounding (draws that average to the point curves along the line, as draws
#: scaling each curve's beta symmetrically do where a cap holds the rest) decides nothing
GATE_RTOL = 1e-9
#: ``optimize --robust auto``'s rule, in words (the JSON's ``robust.auto.rule``)
AUTO_RULE = (
    "the anchored plan where the fit pooled every touchpoint's marginal ROI onto one value or "
    "the model's draws expect less uplift over the historical mix from the optimum on the point "
    "curves than those curves promise; the optimum on the point curves otherwise"
)


def auto_plan(
    scenario: Scenario,
    model: ResponseModel,
    *,
    risk: float | None = None,
    solver: str = "highs",
    tolerance: float = 1e-4,
    time_limit: float | None = None,
    extra_models: Mapping[str, CurveSet] | None = None,
) -> Plan:
    """``optimize --robust auto`` (the default): the anchored plan (``anchored_plan``) where
    the data cannot tell the touchpoints apart or the point optimum rests on the curves'
    favourable errors, the optimum on the point curves otherwise (``AUTO_RULE``):

    * the fit pooled every touchpoint's marginal ROI onto one value (``full_pooling``): the
      history cannot tell the touchpoints apart, and a move between them is a guess;
    * the mean over the model's joint draws of the point optimum's uplift over the historical
      mix (the line's start) is below the point curves' own uplift there: the optimum was chosen
      on the point curves' most favourable errors (the optimiser's curse), and the draws expect
      less than it promises.

    Otherwise (the draws expect at least the promise: they disagree only about how much more the
    move earns) the plan is the optimum on the point curves, the same plan as ``--robust none``.
    Where the anchored plan cannot be made (``anchorable``: no draws, a phased scenario, another
    objective, whole-unit rules, no historical mix) the plan is the point optimum too. Either way
    ``extras['auto']`` says which plan was made and why. Measured in
    docs/response-models-measured.md ("The default plan: --robust auto")."""
    risk = _risk(risk)  # whichever plan is made: --risk -1 is an error where no line is weighed
    extras = dict(extra_models or {})
    can = anchorable(scenario, model, extras)
    point = _point_optimum(
        scenario, model, can.problem, extras, solver=solver, tolerance=tolerance,
        time_limit=time_limit,
    )  # fmt: skip
    return _auto(can, model, extras, point, risk=risk, solver=solver, tolerance=tolerance)


def auto_choice(
    scenario: Scenario,
    model: ResponseModel,
    point: Plan,
    *,
    extra_models: Mapping[str, CurveSet] | None = None,
    solver: str = "highs",
    tolerance: float = 1e-4,
) -> Plan:
    """The plan ``optimize``'s default (``--robust auto``, its default risk) makes for
    ``scenario`` and ``model``, given ``point``, the optimum on the point curves as ``allocate``
    made it (``explain``'s plan): the optimum is not solved again; the draws weigh the line and,
    where the anchored plan is chosen, one LP prices its step. ``extras['auto']`` says which
    plan and why, as in ``optimize``'s JSON."""
    extras = dict(extra_models or {})
    can = anchorable(scenario, model, extras)
    return _auto(can, model, extras, point, risk=RISK, solver=solver, tolerance=tolerance)


def _auto(
    can: Anchorable,
    model: ResponseModel,
    extras: dict[str, CurveSet],
    point: Plan,
    *,
    risk: float,
    solver: str,
    tolerance: float,
) -> Plan:
    """``auto_plan``'s choice between ``point`` (the optimum on the point curves) and the
    anchored plan on the line to it, with ``extras['auto']``."""
    if can.refusal is not None or can.problem is None:
        why = can.refusal.reason if can.refusal is not None else "no line to weigh"
        auto = {"chosen": "none", "reason": why, "rule": AUTO_RULE, "weighed": False}
        return dataclasses.replace(point, extras={**dict(point.extras), "auto": auto})
    plan = _weigh(
        can.problem, model, extras, point, risk=risk, risk_measure=None, solver=solver,
        tolerance=tolerance,
    )  # fmt: skip
    if plan.extras.get("robust") != "anchored":  # no point optimum: its status says why
        return point
    ex: dict[str, Any] = dict(plan.extras)
    promise = float(ex["point_optimum"]["uplift"])
    expect = float(ex["point_optimum"]["uplift_draws_mean"])
    pooled = bool(ex["full_pooling"])
    n = int(ex["draws"])
    gate = {
        "rule": AUTO_RULE,
        "weighed": True,
        "full_pooling": pooled,
        "point_uplift": promise,
        "draws_mean_uplift": expect,
        "anchored_step": float(ex["step"]),
    }
    reason = None
    if pooled:
        reason = (
            "the fit pooled every touchpoint's marginal ROI onto one value: the history cannot "
            "tell the touchpoints apart"
        )
    elif expect < promise - GATE_RTOL * abs(promise):
        reason = (
            f"the model's {n} draws expect less uplift over the historical mix from the optimum "
            f"on the point curves than those curves promise ({expect:,.0f} against {promise:,.0f} "
            f"in {plan.kpi}): it rests on their favourable errors"
        )
    if reason is not None and float(ex["step"]) < 1.0:
        return dataclasses.replace(
            plan,
            extras={**dict(plan.extras), "auto": {"chosen": "anchored", "reason": reason, **gate}},
        )
    if reason is not None:  # weighed, and the anchored plan's best step is the optimum itself
        reason += (
            "; weighed on the line from the historical mix, the anchored plan's best step is the "
            "optimum itself (step 1)"
        )
        return dataclasses.replace(
            point,
            extras={**dict(point.extras), "auto": {"chosen": "none", "reason": reason, **gate}},
        )
    reason = (
        f"the model's {n} draws expect at least the uplift over the historical mix that the point "
        f"curves promise from their optimum ({expect:,.0f} against {promise:,.0f} in "
        f"{plan.kpi}), and the fit did not pool every touchpoint"
    )
    return dataclasses.replace(
        point, extras={**dict(point.extras), "auto": {"chosen": "none", "reason": reason, **gate}}
    )
