"""Explain a plan: every line item justified, for a budget review.

``explain(plan, scenario, model)`` turns a solved ``Plan`` into an ``Explanation``: plain frozen
data that the report renderers (Markdown, HTML, XLSX, JSON) lay out, and that tests can check claim
by claim.

For every line item it answers the reviewer's questions:

* **what it buys**: spend, share, modelled KPI, average ROI, marginal ROI at the plan point (from
  the smooth curve, not the linear piece);
* **why it stops where it stops**, in words, from the plan's duals and binding constraints:
  ``interior`` (its marginal return fell to the hurdle, the price of a dollar elsewhere in the
  plan), ``capped`` (a named cap, lock, stage or group cap stops it while its return is still above
  the hurdle), ``held_up`` (a named floor or lock keeps it above where its return meets the
  hurdle), ``unfunded`` (even its first dollar returns less than the hurdle) or
  ``not_worth_minimum`` (its ``min_if_funded`` block returns less than that money does elsewhere);
* **what the next increment buys and the last one lost**, by re-solving the whole plan with the
  line item forced up or down (so the number includes re-allocating the rest), beside the naive
  curve-only number;
* **over which budgets its role stays the same**, from one sweep of budgets (0 to 2x the budget)
  shared by all line items, refined by bisection at the edges;
* **where the plan point sits on the response curve**: weekly spend against the spend ever seen
  (beyond it is extrapolation), and the P10/P90 of its KPI over the model's bootstrap draws.

The plan as a whole is explained by the zero-based ladder (decision packages): every line item's
spend cut into increments, ranked across the plan by KPI per unit of money, with the cut-off line
where the budget runs out; by stage and group summaries; and by a constraint report that puts
each constraint's shadow price in words, checked by re-solving with the constraint moved.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from optimizer.allocate import AllocationProblem, Plan, allocate, make_problem
from optimizer.allocate.problem import LinearConstraint, money, safe_name
from optimizer.errors import DataError, InfeasibleError, SolverError
from optimizer.formatting import did_you_mean
from optimizer.response.model import CurveSet, TouchpointResponse
from optimizer.scenario import GroupRule, Scenario, ShareRule, TouchpointRule

#: Roles: why a line item stops where it stops.
INTERIOR = "interior"
CAPPED = "capped"
HELD_UP = "held_up"
UNFUNDED = "unfunded"
NOT_WORTH_MINIMUM = "not_worth_minimum"
INFEASIBLE = "infeasible"

ROLE_WORDS = {
    INTERIOR: "at the hurdle",
    CAPPED: "capped",
    HELD_UP: "held up",
    UNFUNDED: "not funded",
    NOT_WORTH_MINIMUM: "minimum not worth it",
    INFEASIBLE: "infeasible",
}

#: Default re-solve tolerance: tight, so that second-order effects (a few hundred KPI on millions)
#: are not swamped by the certified gap of the plans being compared.
EXPLAIN_TOLERANCE = 1e-6
_ROLE_TOL = 5e-3  # marginal within 0.5% of the hurdle counts as "at the hurdle"
_CENT = 0.005


# ------------------------------------------------------------------------------------------------
# result types
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Move:
    """What moving one line item's spend by an increment does, re-solving the rest of the plan.

    ``own_kpi`` is the change in the line item's own KPI, ``total_kpi`` the change in the plan's
    total KPI after every other line item is re-allocated (``objective`` in the objective's units),
    both from a re-solve with the line item forced to ``target``. ``naive_kpi`` is the curve-only
    change, ``naive_net`` that less what the money earns elsewhere at the hurdle.
    """

    direction: str  # "up" | "down"
    requested: float  # the increment asked for (money)
    target: float  # the line item's spend in the re-solve
    amount: float  # |target - plan spend|
    own_kpi: float | None
    total_kpi: float | None
    objective: float | None
    naive_kpi: float
    naive_net: float
    status: str  # status of the re-solve
    relaxed: tuple[str, ...] = ()  # labels of rules moved to make room
    sentence: str = ""


@dataclass(frozen=True)
class RoleRange:
    """Budgets over which a line item keeps its role (same role, same named rules)."""

    low: float  # lowest budget verified to give the same role
    high: float  # highest budget verified to give the same role
    low_edge: float | None  # highest budget verified to give another role (None: holds down to 0)
    high_edge: float | None  # lowest budget above that gives another role (None: holds to the top)
    sweep_top: float
    role_below: str | None = None
    role_above: str | None = None
    sentence: str = ""


@dataclass(frozen=True)
class CurvePosition:
    """Where the plan point sits on the line item's response curve."""

    weekly_spend: float
    seen_min: float | None
    seen_max: float | None
    seen_mean: float | None
    recent: float | None
    where: str  # "inside", "below", "beyond", "unknown", "unfunded"
    extrapolation: bool
    saturation: float  # weekly KPI at the plan point as a share of the curve's saturation level
    kpi_p10: float | None
    kpi_p90: float | None
    n_draws: int
    sentence: str = ""


@dataclass(frozen=True)
class LineItemExplanation:
    id: str
    stage: str
    spend: float
    share: float
    kpi: float
    roi: float | None
    marginal_roi: float
    first_dollar_roi: float  # d KPI / d spend at zero spend (may be inf for hill shape < 1)
    first_increment_roi: float | None  # average return of the first candidate increment (unfunded)
    hurdle: float  # the price of a dollar elsewhere in the plan, in KPI per unit of money
    role: str
    rules: tuple[str, ...]  # names of the constraints that hold it (role capped / held_up)
    rule_labels: tuple[str, ...]
    rule_value: float | None  # objective gained per unit of money the holding rule moves
    reason: str  # why it stops where it stops, in words
    lower: float
    upper: float
    min_if_funded: float | None
    next: Move | None
    last: Move | None
    role_range: RoleRange | None
    position: CurvePosition
    last_cycle: float | None = None
    delta: float | None = None


@dataclass(frozen=True)
class LadderStep:
    """One decision package: an increment of one line item's spend."""

    rank: int  # 1-based position in the ranked ladder; 0 for blocked increments
    item: str
    stage: str
    index: int  # 1-based position within the line item
    spend_from: float
    spend_to: float
    amount: float
    kpi_gain: float  # on the smooth curve
    return_: float  # kpi_gain / amount
    rank_return: float  # return used for ranking (concave envelope within the line item)
    status: str  # "committed", "funded", "unfunded", "blocked"
    reason: str = ""
    cumulative_spend: float = 0.0
    cumulative_kpi: float = 0.0


@dataclass(frozen=True)
class Ladder:
    """The zero-based ladder: increments ranked across the plan, and the cut-off line."""

    steps: tuple[LadderStep, ...]  # ranked; committed first
    blocked: tuple[LadderStep, ...]  # increments a rule stops (caps), not ranked
    cutoff: int  # number of steps above the line
    line_spend: float  # cumulative spend at the line (the plan's total spend)
    budget: float | None
    hurdle: float
    consistent: bool  # every step above the line is funded and every one below is not

    def above(self, n: int = 3) -> tuple[LadderStep, ...]:
        """The last ``n`` increments in (just above the line)."""
        return self.steps[max(0, self.cutoff - n) : self.cutoff]

    def below(self, n: int = 3) -> tuple[LadderStep, ...]:
        """The first ``n`` increments out (just below the line)."""
        return self.steps[self.cutoff : self.cutoff + n]


@dataclass(frozen=True)
class GroupSummary:
    kind: str  # "stage" | "group"
    name: str
    members: tuple[str, ...]
    spend: float
    share: float
    kpi: float
    roi: float | None
    marginal_min: float | None  # among funded members
    marginal_max: float | None
    rules: tuple[str, ...]  # constraint names about it
    binding: tuple[str, ...]  # labels of its binding rules
    last_cycle: float | None = None
    delta: float | None = None


@dataclass(frozen=True)
class ConstraintNote:
    name: str
    kind: str
    subject: str
    label: str
    sense: str
    rhs: float
    lhs: float
    slack: float
    binding: bool
    shadow_price: float | None
    step: float  # how far the sentence moves it (money, share points as a fraction, or KPI)
    unit: str  # "money", "share", "kpi"
    direction: str  # "raise" | "lower": the way that relaxes it
    estimate: float | None  # shadow price x step, in objective units (gain from relaxing)
    resolved: float | None  # the same from a re-solve with the constraint moved
    sentence: str


@dataclass(frozen=True)
class FrontierPoint:
    budget: float
    status: str
    total_spend: float | None
    total_kpi: float | None
    marginal: float | None  # KPI per extra unit of budget


@dataclass(frozen=True)
class Explanation:
    """A plan justified line item by line item. Plain data; renderers lay it out."""

    scenario: str
    objective: str
    kpi: str
    horizon_weeks: int
    budget: float | None
    total_spend: float
    total_kpi: float
    roi: float | None
    objective_value: float | None
    hurdle: float
    gap: float | None
    solver: str
    headline: tuple[str, ...]
    items: tuple[LineItemExplanation, ...]
    ladder: Ladder
    stages: tuple[GroupSummary, ...]
    groups: tuple[GroupSummary, ...]
    constraints: tuple[ConstraintNote, ...]
    frontier: tuple[FrontierPoint, ...]
    warnings: tuple[str, ...]
    total_kpi_p10: float | None = None
    total_kpi_p90: float | None = None
    last_cycle_total: float | None = None
    increment: float | None = None
    tolerance: float = EXPLAIN_TOLERANCE
    n_solves: int = 0
    responses: Mapping[str, TouchpointResponse] = field(
        default_factory=dict, repr=False, compare=False
    )

    def item(self, tid: str) -> LineItemExplanation:
        for it in self.items:
            if it.id == tid:
                return it
        raise KeyError(tid)

    def constraint(self, name: str) -> ConstraintNote:
        for c in self.constraints:
            if c.name == name:
                return c
        raise KeyError(name)


# ------------------------------------------------------------------------------------------------
# formatting helpers (words for the sentences; renderers format tables themselves)
# ------------------------------------------------------------------------------------------------
def fmt_amount(v: float | None) -> str:
    """Whole units with thousands separators (``-1,234``); ``–`` for None."""
    if v is None or not math.isfinite(v):
        return "∞" if v is not None and v > 0 else "–"
    r = round(v)
    return f"{r:,.0f}" if r != 0 else "0"


def fmt_delta(v: float | None) -> str:
    """A signed change in whole units: ``+1,234`` / ``−1,234`` / ``0``."""
    if v is None or not math.isfinite(v):
        return "–"
    r = round(v)
    if r == 0:
        return "0"
    return f"+{r:,.0f}" if r > 0 else f"−{-r:,.0f}"


def fmt_ratio(v: float | None, digits: int = 3) -> str:
    """A return (KPI per unit of money) to ``digits`` decimals; ``∞`` and ``–`` as needed."""
    if v is None:
        return "–"
    if math.isinf(v):
        return "∞"
    if not math.isfinite(v):
        return "–"
    return f"{v:,.{digits}f}"


def nice_step(x: float) -> float:
    """A round amount near ``x`` (1, 2 or 5 times a power of ten, not above ``x``)."""
    if not math.isfinite(x) or x <= 0:
        return 1.0
    p = 10 ** math.floor(math.log10(x))
    for m in (5, 2, 1):
        if m * p <= x * (1 + 1e-12):
            return float(m * p)
    return float(p)


# ------------------------------------------------------------------------------------------------
# the pieces of the explanation
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Context:
    problem: AllocationProblem
    index: dict[str, int]
    labels: dict[str, str]
    kinds: dict[str, str]
    by_name: dict[str, LinearConstraint]
    member_rules: dict[int, tuple[str, ...]]  # constraints in which an item is a named member
    kpi_word: str
    obj_word: str  # what the objective counts: the KPI, "net value", "value" or "spend"


def _context(scenario: Scenario, problem: AllocationProblem) -> _Context:
    index = {it.id: it.index for it in problem.items}
    labels = {c.name: c.label for c in problem.constraints}
    kinds = {c.name: c.kind for c in problem.constraints}
    member: dict[int, list[str]] = {it.index: [] for it in problem.items}
    for c in problem.constraints:
        if c.kind == "budget" or c.on_kpi:
            continue
        for i, a in c.coefs.items():
            if a > 0:
                member[i].append(c.name)
    for it in problem.items:
        if it.min_if_funded:
            nm = f"tp_min_if_funded__{safe_name(it.id)}"
            labels[nm] = f"the {it.id} minimum if funded ({money(it.min_if_funded)})"
            kinds[nm] = "tp_min_if_funded"
    obj_word = {"max_kpi": problem.kpi, "max_net": "net value", "min_spend": "spend"}.get(
        scenario.objective, "value"
    )
    return _Context(
        problem,
        index,
        labels,
        kinds,
        {c.name: c for c in problem.constraints},
        {k: tuple(v) for k, v in member.items()},
        problem.kpi,
        obj_word,
    )


def _duals(plan: Plan) -> dict[str, float]:
    return {c.name: float(c.shadow_price) for c in plan.constraints if c.shadow_price is not None}


@dataclass(frozen=True)
class _Prices:
    """Per line item: the marginal return of its next dollar and the price of a dollar elsewhere
    in the plan, in the same (objective) units, and that price in the line item's KPI units."""

    marginal: np.ndarray
    price: np.ndarray
    hurdle_kpi: np.ndarray


def _prices(ctx: _Context, plan: Plan) -> _Prices:
    """KKT stationarity, split: ``alpha F_i'(x) = spend_weight + Σ_r y_r a_ri``.

    The plan-wide part of the right-hand side (the budget, and share rules the line item is not a
    member of) is the price of a dollar elsewhere: its hurdle. The rest belongs to rules that name
    the line item (its own bounds, its stage's and groups' caps and floors, ratios, change limits).
    """
    prob = ctx.problem
    n = len(prob.items)
    x = np.array([plan.item(it.id).spend for it in prob.items])
    kpi_m = np.array([plan.item(it.id).marginal_roi for it in prob.items])
    maximise = prob.sense == "max"
    if maximise:
        m = np.array([float(it.curve.slope(xi)) for it, xi in zip(prob.items, x, strict=True)])
    else:
        m = kpi_m
    finite = np.isfinite(m) & (m > 0)
    conv = np.where(finite, kpi_m / np.where(finite, m, 1.0), 1.0 / max(prob.kpi_weight, 1e-300))
    if maximise and plan.total_spend <= _CENT and n:
        # at zero spend the duals are degenerate: the next dollar goes to the best first dollar
        best = float(np.max(m))
        h = np.full(n, best)
        return _Prices(m, h, h * conv)
    y = _duals(plan)
    c = np.zeros(n)
    t = 0.0
    for con in prob.constraints:
        v = y.get(con.name, 0.0)
        if v == 0.0:
            continue
        if con.on_kpi:
            if con.kind == "kpi_target":
                t = v
            continue
        for i, a in con.coefs.items():
            if con.kind == "budget" or (con.kind.endswith("_share") and a < 0):
                c[i] += v * a
    if maximise:
        h = prob.spend_weight + c
    else:  # min Σx s.t. Σ F >= T: t F'(x) = 1 - Σ y a
        h = (1.0 - c) / t if t > 0 else np.full(n, math.nan)
    return _Prices(m, h, h * conv)


def _first_dollar(tp: TouchpointResponse, weeks: float) -> float:
    return float(tp.horizon_marginal(0.0, weeks))


def _binding_rule_names(tid: str, binding: Sequence[str]) -> list[str]:
    short = {
        "min": "tp_min",
        "max": "tp_max",
        "lock": "tp_lock",
        "min_if_funded": "tp_min_if_funded",
    }
    return [f"{short[b]}__{safe_name(tid)}" if b in short else b for b in binding]


def _sides(ctx: _Context, name: str, i: int) -> tuple[bool, bool]:
    """Does binding rule ``name`` cap line item ``i`` (first), hold it up (second), or both?"""
    if ctx.kinds.get(name) == "tp_min_if_funded":
        return False, True
    con = ctx.by_name.get(name)
    if con is None:
        return False, False
    a = con.coefs.get(i, 0.0)
    if con.sense == "==":
        return True, True
    caps = (con.sense == "<=" and a > 0) or (con.sense == ">=" and a < 0)
    return caps, not caps and a != 0.0


def _classify(ctx: _Context, plan: Plan, pr: _Prices, tid: str) -> tuple[str, tuple[str, ...]]:
    """The role of one line item in ``plan`` and the names of the rules that hold it."""
    if not plan.ok:
        return INFEASIBLE, ()
    i = ctx.index[tid]
    it = ctx.problem.items[i]
    li = plan.item(tid)
    m, h = float(pr.marginal[i]), float(pr.price[i])
    tol = _ROLE_TOL * max(abs(h), 1e-12) + 1e-12
    if li.spend <= _CENT:
        first = float(it.curve.slope(0.0)) if ctx.problem.sense == "max" else m
        if it.min_if_funded and first > h + tol:
            return NOT_WORTH_MINIMUM, (f"tp_min_if_funded__{safe_name(tid)}",)
        return UNFUNDED, ()
    names = _binding_rule_names(tid, li.binding)
    caps = [n for n in names if _sides(ctx, n, i)[0]]
    floors = [n for n in names if _sides(ctx, n, i)[1]]
    if m > h + tol and caps:
        return CAPPED, tuple(caps)
    if m < h - tol and floors:
        return HELD_UP, tuple(floors)
    return INTERIOR, ()


def _rule_value(ctx: _Context, plan: Plan, names: Sequence[str]) -> float | None:
    """Objective gained per unit of money the first holding money rule is relaxed."""
    y = _duals(plan)
    for n in names:
        kind = ctx.kinds.get(n, "")
        con = ctx.by_name.get(n)
        if (
            n in y
            and not kind.endswith("_share")
            and not kind.startswith("ratio_")
            and not (con is not None and con.on_kpi)
        ):
            return abs(y[n])
    return None


def _reason(
    ctx: _Context,
    role: str,
    names: Sequence[str],
    li_spend: float,
    marginal: float,
    hurdle: float,
    first: float,
    first_inc: float | None,
    first_amt: float,
    mif: float | None,
    gain: float | None,
    step: float,
    nxt: Move | None,
) -> str:
    """Why a line item stops where it stops, in words (``gain``: the holding rule relaxed by
    ``step``, from a re-solve)."""
    kw = ctx.kpi_word
    labels = [ctx.labels.get(n, n) for n in names]
    rules = " and ".join(labels)
    if role == INTERIOR:
        if hurdle <= 1e-12:
            return (
                f"Interior: it is funded until its curve is flat. Its next dollar returns "
                f"{fmt_ratio(marginal)} {kw}, and no rule or budget limit is binding, so "
                "more money would buy nothing."
            )
        return (
            f"Interior: its marginal return fell to the hurdle. At {fmt_amount(li_spend)} "
            f"the next dollar returns {fmt_ratio(marginal)} {kw}, the same as the last dollar "
            f"anywhere else in the plan (the hurdle, {fmt_ratio(hurdle)}); beyond this point "
            "the money does more elsewhere."
        )
    if role == CAPPED:
        txt = (
            f"Capped by {rules}. Its next dollar would still return {fmt_ratio(marginal)} {kw}, "
            f"above the hurdle of {fmt_ratio(hurdle)}, so the plan would give it more if the "
            "rule allowed"
        )
        if gain is not None and gain >= 0:
            txt += (
                f"; raising {labels[0]} by {fmt_amount(step)} would add about "
                f"{fmt_amount(gain)} {ctx.obj_word}"
            )
        elif gain is not None:
            txt += _overshoot("raising", labels[0], step, gain, ctx)
        return txt + "."
    if role == HELD_UP:
        txt = (
            f"Held up by {rules}. Its next dollar returns only {fmt_ratio(marginal)} {kw}, below "
            f"the hurdle of {fmt_ratio(hurdle)}: left to the optimiser it would get less"
        )
        if gain is not None and gain >= 0:
            txt += (
                f"; {labels[0]} costs about {fmt_amount(gain)} {ctx.obj_word} per "
                f"{fmt_amount(step)} it holds in"
            )
        elif gain is not None:
            txt += _overshoot("lowering", labels[0], step, gain, ctx)
        return txt + "."
    if role == UNFUNDED:
        inc = (
            f"; its first {fmt_amount(first_amt)} would return {fmt_ratio(first_inc)} per unit "
            "of money"
            if first_inc is not None
            else ""
        )
        ratio = (
            f" ({hurdle / first:.1f} times what it has)"
            if first > 0 and math.isfinite(first)
            else ""
        )
        return (
            f"Not funded: even its first dollar returns {fmt_ratio(first)} {kw}, less than the "
            f"hurdle of {fmt_ratio(hurdle)} that every funded dollar clears{inc}. To win money "
            f"it would need a first-dollar return of at least {fmt_ratio(hurdle)}{ratio}."
            + _forced_in(nxt, ctx)
        )
    if role == NOT_WORTH_MINIMUM:
        avg = fmt_ratio(first_inc) if first_inc is not None else "–"
        opening = (
            f"its first dollar would return {fmt_ratio(first)} {kw}, above the hurdle of "
            f"{fmt_ratio(hurdle)}"
            if math.isfinite(first)
            else f"its first dollars would return far more than the hurdle of "
            f"{fmt_ratio(hurdle)} (its curve starts vertical)"
        )
        return (
            f"Not funded: {opening}, but it can only be funded at "
            f"{money(mif or 0.0)} or more, and that whole block returns {avg} per unit of "
            f"money on average: less than the same money earns elsewhere in the plan "
            f"(the hurdle, {fmt_ratio(hurdle)}, and more once the rest is cut back)."
            + _forced_in(nxt, ctx)
        )
    return "The scenario is infeasible at this budget."


def _overshoot(verb: str, label: str, step: float, gain: float, ctx: _Context) -> str:
    """A rule sitting just short of where the optimiser would stop: a whole step moving it
    overshoots, and the re-solve says the step loses (``gain`` < 0)."""
    return (
        f", but only a little: {verb} {label} by a whole {fmt_amount(step)} would overshoot "
        f"and lose about {fmt_amount(-gain)} {ctx.obj_word}"
    )


def _forced_in(nxt: Move | None, ctx: _Context) -> str:
    if nxt is None or nxt.total_kpi is None:
        return ""
    return (
        f" Forcing in {fmt_amount(nxt.amount)} would change the plan's {ctx.kpi_word} by "
        f"{fmt_delta(nxt.total_kpi)} once the rest is re-allocated."
    )


def _position(tp: TouchpointResponse, spend: float, weeks: float, kpi_word: str) -> CurvePosition:
    weekly = spend / weeks
    sr = dict(tp.spend_range or {})
    lo, hi = sr.get("min"), sr.get("max")
    if spend <= _CENT:
        where = "unfunded"
    elif hi is None:
        where = "unknown"
    elif weekly > hi * (1 + 1e-9):
        where = "beyond"
    elif lo is not None and weekly < lo * (1 - 1e-9):
        where = "below"
    else:
        where = "inside"
    extrap = where == "beyond"
    level = tp.saturation_level
    sat = float(tp.weekly_kpi(weekly)) / level if level > 0 else 0.0
    draws = tp.draw_responses()
    p10 = p90 = None
    if draws and spend > _CENT:
        ks = np.array([float(d.horizon_kpi(spend, weeks)) for d in draws])
        p10, p90 = (float(v) for v in np.percentile(ks, [10, 90]))
    if where == "unfunded":
        s = "Not funded, so no point on the curve."
    elif where == "unknown":
        s = (
            f"Plans {fmt_amount(weekly)} a week; the model does not record the spend it was "
            "fitted on, so whether this is extrapolation is unknown."
        )
    elif where == "beyond":
        s = (
            f"Extrapolation: {fmt_amount(weekly)} a week is beyond the most ever spent in a week "
            f"({fmt_amount(hi)}); the curve there is the model's guess, not evidence."
        )
    elif where == "below":
        s = (
            f"Plans {fmt_amount(weekly)} a week, below the least seen ({fmt_amount(lo)}); the "
            "curve there is interpolated towards zero."
        )
    else:
        s = (
            f"Plans {fmt_amount(weekly)} a week, inside the weekly spend seen "
            f"({fmt_amount(lo)} to {fmt_amount(hi)})."
        )
    if where not in ("unfunded",):
        s += f" It sits at {sat:.0%} of the curve's saturation level."
    if p10 is not None:
        s += (
            f" Over {len(draws)} bootstrap draws its {kpi_word} is between {fmt_amount(p10)} "
            f"and {fmt_amount(p90)} (P10–P90)."
        )
    return CurvePosition(
        weekly,
        lo,
        hi,
        sr.get("mean"),
        sr.get("recent"),
        where,
        extrap,
        sat,
        p10,
        p90,
        len(draws),
        s,
    )


# ------------------------------------------------------------------------------------------------
# re-solves
# ------------------------------------------------------------------------------------------------
class _Solver:
    """Re-solves the scenario with changes; counts and caches the solves by budget."""

    def __init__(
        self,
        scenario: Scenario,
        model: CurveSet,
        solver: str,
        tolerance: float,
        extra_models: Mapping[str, CurveSet] | None = None,
    ):
        self.scenario = scenario
        self.model = model
        self.extra_models = dict(extra_models) if extra_models else None
        self.solver = solver
        self.tolerance = tolerance
        self.count = 0
        self._by_budget: dict[float, Plan] = {}

    def solve(self, sc: Scenario) -> Plan:
        self.count += 1
        return allocate(
            sc,
            self.model,
            solver=self.solver,
            tolerance=self.tolerance,
            diagnose=False,
            extra_models=self.extra_models,
        )

    def at_budget(self, b: float) -> Plan:
        b = float(round(b, 2))
        if b not in self._by_budget:
            self._by_budget[b] = self.solve(self.scenario.with_budget(b))
        return self._by_budget[b]

    def remember(self, b: float, plan: Plan) -> None:
        self._by_budget[float(round(b, 2))] = plan


def _with_rule(sc: Scenario, tid: str, rule: TouchpointRule) -> Scenario:
    tps = dict(sc.touchpoints)
    tps[tid] = rule
    return sc.model_copy(update={"touchpoints": tps})


def _forced(sc: Scenario, tid: str, target: float) -> Scenario:
    """The scenario with one line item fixed at ``target`` (its own min/max/lock replaced)."""
    return _with_rule(sc, tid, TouchpointRule(lock=float(round(target, 2))))


def _room(
    sc: Scenario, ctx: _Context, tid: str, amount: float, up: bool
) -> tuple[Scenario, tuple[str, ...]]:
    """Make room for a forced move of ``tid``: move the money caps (up) or floors (down) of the
    stages and groups that name it, and set aside its change limit against last cycle."""
    i = ctx.index[tid]
    stages = dict(sc.stages)
    groups = dict(sc.groups)
    moved: list[str] = []
    update: dict[str, object] = {}
    if sc.previous and tid in sc.previous:
        for kind in ("change_up", "change_down"):
            name = f"{kind}__{safe_name(tid)}"
            if name in ctx.labels:
                moved.append(ctx.labels[name])
                break
        update["previous"] = {k: v for k, v in sc.previous.items() if k != tid}
    for name in ctx.member_rules[i]:
        kind = ctx.kinds[name]
        con = ctx.problem.constraint(name)
        if kind in ("stage_max", "group_max") and up:
            new = con.rhs + amount
        elif kind in ("stage_min", "group_min") and not up:
            new = max(con.rhs - amount, 0.0)
        else:
            continue
        key = "max" if kind.endswith("max") else "min"
        if kind.startswith("stage"):
            stages[con.subject] = _replace_rule(stages[con.subject], key, new)
        else:
            groups[con.subject] = _replace_rule(groups[con.subject], key, new)
        moved.append(ctx.labels[name])
    if not moved:
        return sc, ()
    update.update(stages=stages, groups=groups)
    return sc.model_copy(update=update), tuple(moved)


def _replace_rule(rule: ShareRule | GroupRule, key: str, value: float) -> ShareRule | GroupRule:
    data = rule.model_dump()
    data[key] = float(value)
    if key == "max" and data.get("min") is not None and data["min"] > value:
        data["min"] = float(value)
    if key == "min" and data.get("max") is not None and data["max"] < value:
        data["max"] = float(value)
    return type(rule)(**data)


def _own_rules_lifted(ctx: _Context, sc: Scenario, tid: str, target: float) -> list[str]:
    """Labels of the line item's own rules that fixing it at ``target`` sets aside."""
    rule = sc.touchpoints.get(tid)
    if rule is None:
        return []
    nm = safe_name(tid)
    out = []
    if rule.lock is not None and abs(rule.lock - target) > _CENT:
        out.append(ctx.labels[f"tp_lock__{nm}"])
    if rule.max is not None and target > rule.max + _CENT:
        out.append(ctx.labels[f"tp_max__{nm}"])
    if rule.min is not None and target < rule.min - _CENT:
        out.append(ctx.labels[f"tp_min__{nm}"])
    return out


def _move(
    ctx: _Context,
    slv: _Solver,
    ref: Plan,
    tid: str,
    direction: str,
    requested: float,
    hurdle: float,
) -> Move:
    sc = slv.scenario
    weeks = float(sc.horizon_weeks)
    tp = ctx.problem.items[ctx.index[tid]].curve.response
    s = ref.item(tid).spend
    target = s + requested if direction == "up" else max(s - requested, 0.0)
    target = float(round(target, 2))
    f0 = float(tp.horizon_kpi(s, weeks))
    naive = float(tp.horizon_kpi(target, weeks)) - f0
    amount = abs(target - s)
    naive_net = naive - hurdle * (target - s)
    trial = _forced(sc, tid, target)
    plan = slv.solve(trial)
    relaxed: tuple[str, ...] = tuple(_own_rules_lifted(ctx, sc, tid, target))
    if plan.status == "infeasible":
        roomy, more = _room(trial, ctx, tid, amount, direction == "up")
        if more:
            relaxed += more
            plan = slv.solve(roomy)
    kw = ctx.kpi_word
    if not plan.ok:
        sentence = (
            f"Forcing {tid} to {money(target)} is infeasible under the other rules, so "
            "there is no such move to price."
        )
        return Move(
            direction,
            requested,
            target,
            amount,
            None,
            None,
            None,
            naive,
            naive_net,
            plan.status,
            relaxed,
            sentence,
        )
    own = plan.item(tid).kpi - ref.item(tid).kpi
    total = plan.total_kpi - ref.total_kpi
    objd = None
    if plan.objective_value is not None and ref.objective_value is not None:
        objd = plan.objective_value - ref.objective_value
    rest = total - own
    room = f" (setting aside {' and '.join(relaxed)})" if relaxed else ""
    naive_txt = (
        f"the curve alone, with the money valued at the hurdle of {fmt_ratio(hurdle)}, "
        f"would say {fmt_delta(naive_net)}"
    )
    if direction == "up":
        sentence = (
            f"Adding {fmt_amount(amount)} to {tid}{room} would buy {fmt_amount(own)} {kw} "
            f"on {tid}; paying for it from the rest of the plan (re-solved) changes the "
            f"others by {fmt_delta(rest)}: net {fmt_delta(total)} ({naive_txt})."
        )
    else:
        sentence = (
            f"Cutting {fmt_amount(amount)} from {tid}{room} would lose {fmt_amount(-own)} "
            f"{kw} on {tid}; re-spending the money on the rest of the plan (re-solved) "
            f"changes the others by {fmt_delta(rest)}: net {fmt_delta(total)} "
            f"({naive_txt})."
        )
    return Move(
        direction,
        requested,
        target,
        amount,
        float(own),
        float(total),
        None if objd is None else float(objd),
        naive,
        naive_net,
        plan.status,
        relaxed,
        sentence,
    )


# ------------------------------------------------------------------------------------------------
# role ranges over budgets (one shared sweep)
# ------------------------------------------------------------------------------------------------
def _role_key(ctx: _Context, plan: Plan, tid: str) -> tuple[str, tuple[str, ...]]:
    if not plan.ok:
        return INFEASIBLE, ()
    return _classify(ctx, plan, _prices(ctx, plan), tid)


def _role_ranges(
    ctx: _Context, slv: _Solver, ref: Plan, budget: float, points: int, refine: int
) -> tuple[dict[str, RoleRange], list[Plan], np.ndarray]:
    top = 2.0 * budget
    grid = np.linspace(0.0, top, max(points, 3))
    k0 = int(np.argmin(np.abs(grid - budget)))
    grid[k0] = budget
    slv.remember(budget, ref)
    plans = [slv.at_budget(b) for b in grid]
    keys_by_item = {it.id: [_role_key(ctx, p, it.id) for p in plans] for it in ctx.problem.items}
    out: dict[str, RoleRange] = {}
    for it in ctx.problem.items:
        tid = it.id
        keys = keys_by_item[tid]
        cur = keys[k0]
        lo = k0
        while lo > 0 and keys[lo - 1] == cur:
            lo -= 1
        hi = k0
        while hi < len(grid) - 1 and keys[hi + 1] == cur:
            hi += 1
        low, low_edge, role_below = float(grid[lo]), None, None
        if lo > 0:
            a, b = float(grid[lo - 1]), float(grid[lo])  # a: other role, b: same role
            role_below = keys[lo - 1][0]
            for _ in range(refine):
                m = 0.5 * (a + b)
                if _role_key(ctx, slv.at_budget(m), tid) == cur:
                    b = m
                else:
                    a = m
            low, low_edge = b, a
        high, high_edge, role_above = float(grid[hi]), None, None
        if hi < len(grid) - 1:
            a, b = float(grid[hi]), float(grid[hi + 1])  # a: same role, b: other role
            role_above = keys[hi + 1][0]
            for _ in range(refine):
                m = 0.5 * (a + b)
                if _role_key(ctx, slv.at_budget(m), tid) == cur:
                    a = m
                else:
                    b = m
            high, high_edge = a, b
        out[tid] = RoleRange(
            low,
            high,
            low_edge,
            high_edge,
            float(top),
            role_below,
            role_above,
            _range_sentence(
                tid,
                cur[0],
                [ctx.labels.get(n, n) for n in cur[1]],
                low,
                high,
                low_edge,
                high_edge,
                float(top),
                role_below,
                role_above,
            ),
        )
    return out, plans, grid


def _range_sentence(
    tid: str,
    role: str,
    labels: list[str],
    low: float,
    high: float,
    low_edge: float | None,
    high_edge: float | None,
    top: float,
    role_below: str | None,
    role_above: str | None,
) -> str:
    what = ROLE_WORDS[role] + (f" ({' and '.join(labels)})" if labels else "")

    def other(r: str | None) -> str:
        return "the scenario is infeasible" if r == INFEASIBLE else ROLE_WORDS.get(r or "", str(r))

    if low_edge is None:
        start = "at every budget from 0"
    else:
        start = (
            f"for budgets from about {fmt_amount(0.5 * (low + low_edge))} "
            f"(below that: {other(role_below)})"
        )
    if high_edge is None:
        end = f"up to at least {fmt_amount(top)} (the top of the sweep)"
    else:
        end = (
            f"up to about {fmt_amount(0.5 * (high + high_edge))} (above that: {other(role_above)})"
        )
    return f"{tid} stays {what} {start} {end}."


# ------------------------------------------------------------------------------------------------
# the ladder
# ------------------------------------------------------------------------------------------------
def _pav(amounts: np.ndarray, gains: np.ndarray) -> np.ndarray:
    """Returns of the least concave majorant: pooled blocks so returns never rise along the item."""
    blocks: list[list[float]] = []  # [amount, gain, count]
    for a, g in zip(amounts, gains, strict=True):
        blocks.append([float(a), float(g), 1.0])
        while len(blocks) > 1 and (
            blocks[-1][1] / max(blocks[-1][0], 1e-300)
            > blocks[-2][1] / max(blocks[-2][0], 1e-300) + 1e-15
        ):
            a2, g2, c2 = blocks.pop()
            blocks[-1][0] += a2
            blocks[-1][1] += g2
            blocks[-1][2] += c2
    out: list[float] = []
    for a, g, c in blocks:
        out.extend([g / a if a > 0 else 0.0] * int(c))
    return np.array(out)


def _ladder(
    ctx: _Context,
    plan: Plan,
    items: Mapping[str, tuple[str, tuple[str, ...]]],
    hurdles: np.ndarray,
    n_steps: int,
    step_money: float | None,
    budget: float | None,
    hurdle: float,
) -> Ladder:
    """Cut each line item's spend into increments, price them, rank them and draw the line.

    Funded increments below a line item's own floor or lock, or forced in by a floor rule that
    holds it up, are committed (ranked first). Two candidate increments beyond each line item's
    plan spend are priced too: those that would clear the hurdle are blocked by a rule (listed
    apart), the rest rank below the line. Within a line item, ranking returns are pooled so that
    they never rise along it (an S-curve's poor first increments go with the ones they unlock).
    """
    weeks = float(ctx.problem.scenario.horizon_weeks)
    total = plan.total_spend
    ref_size = budget if budget else total
    raw: list[dict] = []
    for it in ctx.problem.items:
        li = plan.item(it.id)
        role, names = items[it.id]
        s = li.spend
        i = it.index
        h = float(hurdles[i])
        labels = " and ".join(ctx.labels.get(n, n) for n in names)
        floor_ = min(it.lo, s)
        mif = it.min_if_funded
        if s > _CENT:
            step = step_money if step_money else s / n_steps
            b = list(np.arange(0.0, s, step))
            if b and s - b[-1] < 1e-6 * s:
                b.pop()
            bounds = sorted(set(b) | {s} | ({floor_} if 0 < floor_ < s else set()))
            if mif and mif <= s + _CENT:
                bounds = [0.0] + [x for x in bounds if x >= mif - _CENT]
                if abs(bounds[1] - mif) > _CENT and mif < s:
                    bounds.insert(1, mif)
            bounds[-1] = s
            cand_size = step
        else:
            bounds = [0.0]
            cand_size = mif or (step_money or 0.01 * ref_size)
        cands = (
            [bounds[-1] + cand_size, bounds[-1] + 2 * cand_size]
            if s > _CENT
            else [cand_size, cand_size + (step_money or 0.01 * ref_size)]
        )
        edges = np.array([*bounds, *cands], float)
        f = it.curve.response.horizon_kpi(edges, weeks)
        amounts, gains = np.diff(edges), np.diff(f)
        n_funded = len(bounds) - 1
        committed = np.array([edges[k + 1] <= floor_ + _CENT for k in range(len(amounts))])
        disc = ~committed
        rank = amounts * 0.0
        rank[committed] = gains[committed] / np.maximum(amounts[committed], 1e-300)
        if disc.any():
            rank[disc] = _pav(amounts[disc], gains[disc])
        tol = _ROLE_TOL * max(abs(h), 1e-12)
        for k in range(len(amounts)):
            funded = k < n_funded
            reason = ""
            if funded and committed[k]:
                status = "committed"
                reason = ctx.labels.get(f"tp_lock__{safe_name(it.id)}") or ctx.labels.get(
                    f"tp_min__{safe_name(it.id)}", "its floor"
                )
            elif funded and role == HELD_UP and rank[k] < h - tol:
                status, reason = "committed", labels
            elif funded:
                status = "funded"
            elif rank[k] > h + tol:
                # it would clear the hurdle: only a rule keeps it out
                status = "blocked"
                reason = labels or "a rule of the scenario"
                if role == NOT_WORTH_MINIMUM:
                    reason = (
                        f"{ctx.labels.get(names[0], 'its minimum if funded')}: forcing the "
                        "block in costs more elsewhere than it earns"
                    )
            else:
                status = "unfunded"
                if role == CAPPED:
                    reason = f"below the line anyway (and beyond {labels})"
            raw.append(
                dict(
                    item=it.id,
                    stage=it.stage,
                    index=k + 1,
                    spend_from=float(edges[k]),
                    spend_to=float(edges[k + 1]),
                    amount=float(amounts[k]),
                    kpi_gain=float(gains[k]),
                    return_=float(gains[k] / amounts[k]) if amounts[k] > 0 else 0.0,
                    rank_return=float(rank[k]),
                    status=status,
                    reason=reason,
                    order=i,
                )
            )
    ranked = [r for r in raw if r["status"] != "blocked"]
    ranked.sort(
        key=lambda r: (r["status"] != "committed", -r["rank_return"], r["order"], r["index"])
    )
    steps: list[LadderStep] = []
    cs = ck = 0.0
    cutoff = 0
    for pos, r in enumerate(ranked, start=1):
        cs += r["amount"]
        ck += r["kpi_gain"]
        if cs <= total + 0.01 and cutoff == pos - 1:
            cutoff = pos
        steps.append(
            LadderStep(
                rank=pos,
                cumulative_spend=cs,
                cumulative_kpi=ck,
                **{k: v for k, v in r.items() if k != "order"},
            )
        )
    blocked = tuple(
        LadderStep(rank=0, **{k: v for k, v in r.items() if k != "order"})
        for r in raw
        if r["status"] == "blocked"
    )
    consistent = (
        all(s.status in ("funded", "committed") for s in steps[:cutoff])
        and all(s.status == "unfunded" for s in steps[cutoff:])
        and (cutoff == 0 or abs(steps[cutoff - 1].cumulative_spend - total) <= 0.01)
    )
    return Ladder(tuple(steps), blocked, cutoff, total, budget, hurdle, consistent)


# ------------------------------------------------------------------------------------------------
# stages, groups, constraints
# ------------------------------------------------------------------------------------------------
def _summaries(
    ctx: _Context, plan: Plan, last: Mapping[str, float] | None
) -> tuple[tuple[GroupSummary, ...], tuple[GroupSummary, ...]]:
    total = plan.total_spend
    by_name = {c.name: c for c in plan.constraints}

    def one(kind: str, name: str, members: Sequence[str]) -> GroupSummary:
        lis = [plan.item(m) for m in members]
        spend = float(round(sum(li.spend for li in lis), 2))
        kpi = float(sum(li.kpi for li in lis))
        funded = [li.marginal_roi for li in lis if li.spend > _CENT]
        rules = tuple(
            c.name
            for c in ctx.problem.constraints
            if c.kind.startswith(kind + "_") and c.subject == name
        )
        binding = tuple(by_name[n].label for n in rules if by_name[n].binding)
        lc = None if last is None else float(sum(last.get(m, 0.0) for m in members))
        return GroupSummary(
            kind,
            name,
            tuple(members),
            spend,
            spend / total if total > 0 else 0.0,
            kpi,
            kpi / spend if spend > 0 else None,
            min(funded) if funded else None,
            max(funded) if funded else None,
            rules,
            binding,
            lc,
            None if lc is None else spend - lc,
        )

    stages = []
    for st in ctx.problem.stages:
        members = [it.id for it in ctx.problem.items if it.stage == st]
        if members:
            stages.append(one("stage", st, members))
    groups = [
        one("group", g, list(rule.members)) for g, rule in ctx.problem.scenario.groups.items()
    ]
    return tuple(stages), tuple(groups)


def _relaxed(sc: Scenario, con: LinearConstraint, step: float, direction: str) -> Scenario | None:
    sign = 1.0 if direction == "raise" else -1.0
    kind = con.kind
    if kind == "budget":
        return sc.with_budget(max(con.rhs + sign * step, 0.0))
    if kind in ("tp_min", "tp_max", "tp_lock"):
        rule = sc.touchpoints[con.subject]
        key = kind[3:]
        data = rule.model_dump()
        data[key] = max(float(data[key]) + sign * step, 0.0)
        if key == "min" and data.get("max") is not None and data["max"] < data["min"]:
            data["max"] = data["min"]
        if key == "max" and data.get("min") is not None and data["min"] > data["max"]:
            data["min"] = data["max"]
        return _with_rule(sc, con.subject, TouchpointRule(**data))
    if kind.startswith(("stage_", "group_")):
        where, key = kind.split("_", 1)
        table = dict(sc.stages if where == "stage" else sc.groups)
        rule = table[con.subject]
        cur = getattr(rule, key)
        new = cur + sign * step
        if key.endswith("share"):
            new = min(max(new, 0.0), 1.0)
        else:
            new = max(new, 0.0)
        table[con.subject] = _replace_rule(rule, key, new)
        return sc.model_copy(update={"stages" if where == "stage" else "groups": table})
    if kind == "kpi_target":
        return sc.model_copy(update={"kpi_target": max(float(sc.kpi_target or 0) + sign * step, 0)})
    if kind == "kpi_floor":
        floors = dict(sc.kpi_floors)
        floors[con.subject] = max(float(floors[con.subject]) + sign * step, 0.0)
        return sc.model_copy(update={"kpi_floors": floors})
    if kind in ("ratio_min", "ratio_max"):
        ratios = dict(sc.ratios)
        data = ratios[con.subject].model_dump()
        key = kind[len("ratio_") :]
        data[key] = max(float(data[key]) + sign * step, 0.0)
        if (
            data.get("min") is not None
            and data.get("max") is not None
            and data["min"] > data["max"]
        ):
            return None
        ratios[con.subject] = type(sc.ratios[con.subject])(**data)
        return sc.model_copy(update={"ratios": ratios})
    if kind in ("change_up", "change_down"):
        prev = (sc.previous or {}).get(con.subject)
        if not prev:
            return None
        bound = con.rhs + sign * step
        # the same bound as a fraction and as money, so that whichever applies moves by `step`
        mon = bound - prev if kind == "change_up" else prev - bound
        if mon < 0:
            return None
        rule = sc.touchpoints.get(con.subject) or TouchpointRule()
        data = rule.model_dump()
        data.update(change_pct=mon / prev, change_money=mon)
        return _with_rule(sc, con.subject, TouchpointRule(**data))
    return None


def _constraint_notes(
    ctx: _Context, slv: _Solver, ref: Plan, plan: Plan, step_money: float, resolve: bool
) -> tuple[ConstraintNote, ...]:
    notes = []
    total = plan.total_spend
    obj = ctx.obj_word
    for c, con in zip(plan.constraints, ctx.problem.constraints, strict=True):
        y = c.shadow_price
        share = c.kind.endswith("_share")
        if share:
            step, unit = 0.01, "share"
            per_unit = None if y is None else y * total  # d obj / d share (fraction)
        elif c.kind.startswith("ratio_"):
            # num - r den (sense) 0: moving r by d moves the right-hand side by d x den spend
            den = sum(plan.line_items[i].spend for i, a in con.coefs.items() if a < 0)
            step, unit = 0.05, "ratio"
            per_unit = None if y is None else y * den
        elif con.on_kpi:
            step, unit = nice_step(0.01 * max(c.rhs, 1.0)), "kpi"
            per_unit = y
        else:
            step, unit = step_money, "money"
            per_unit = y
        # the direction that relaxes it: raise a cap, lower a floor; a lock or an exact budget
        # goes the way its shadow price says
        if c.sense == "<=":
            direction = "raise"
        elif c.sense == ">=":
            direction = "lower"
        else:
            direction = "raise" if (y or 0.0) >= 0 else "lower"
        if ctx.problem.sense == "min" and c.sense != "==":
            direction = "raise" if c.sense == "<=" else "lower"
        est = None if per_unit is None else abs(per_unit) * step
        if est is not None and (
            (c.sense == "<=" and (y or 0) < 0) or (c.sense == ">=" and (y or 0) > 0)
        ):
            est = 0.0  # a shadow price of the wrong sign is solver noise on a slack row
        resolved = None
        meaningful = c.binding and est is not None and est > 1e-9 * max(abs(ref.total_kpi), 1.0)
        if resolve and (meaningful or c.kind == "budget"):
            sc2 = _relaxed(slv.scenario, con, step, direction)
            if sc2 is not None:
                p2 = slv.solve(sc2)
                if p2.ok and p2.objective_value is not None and ref.objective_value is not None:
                    d = p2.objective_value - ref.objective_value
                    resolved = -d if ctx.problem.sense == "min" else d
        gain = resolved if resolved is not None else est
        step_txt = {"share": "1 point", "ratio": f"{step:g}"}.get(unit, fmt_amount(step))
        verb = "save" if ctx.problem.sense == "min" else "add"
        if not c.binding:
            room = (
                f"{100 * abs(c.slack) / total:.1f} percentage points"
                if share and total > 0
                else fmt_amount(abs(c.slack))
            )
            sentence = (
                f"{c.label[0].upper() + c.label[1:]} is not binding ({room} of room): "
                "moving it a little changes nothing."
            )
        elif c.kind == "budget":
            sentence = (
                f"The budget binds: raising it by {step_txt} would {verb} about "
                f"{fmt_amount(gain)} {obj} ({fmt_ratio(y)} per unit of money: the hurdle)."
            )
        elif gain is None or gain <= 1e-9 * max(abs(ref.total_kpi), 1.0):
            sentence = (
                f"{c.label[0].upper() + c.label[1:]} binds, but costs nothing at the "
                "margin: it sits where the plan would be anyway."
            )
        elif c.kind == "tp_lock" and direction == "lower":
            sentence = (
                f"{c.label[0].upper() + c.label[1:]} costs about {fmt_amount(gain)} {obj} "
                f"per {step_txt} locked: lowering it by {step_txt} would {verb} that "
                "much."
            )
        elif direction == "raise":
            sentence = (
                f"Raising {c.label} by {step_txt} would {verb} about {fmt_amount(gain)} {obj}."
            )
        else:
            sentence = (
                f"{c.label[0].upper() + c.label[1:]} costs about {fmt_amount(gain)} {obj} "
                f"per {step_txt}: lowering it by {step_txt} would {verb} that much."
            )
        notes.append(
            ConstraintNote(
                c.name,
                c.kind,
                c.subject,
                c.label,
                c.sense,
                c.rhs,
                c.lhs,
                c.slack,
                c.binding,
                y,
                step,
                unit,
                direction,
                est,
                resolved,
                sentence,
            )
        )
    return tuple(notes)


# ------------------------------------------------------------------------------------------------
# the entry point
# ------------------------------------------------------------------------------------------------
def read_last_cycle(path: str | Path, ids: Sequence[str] | None = None) -> dict[str, float]:
    """Read last cycle's spend per line item from a CSV with columns ``id,spend``, by the one
    reader of spend tables (``optimizer.io.spend_tables``).

    Parameters
    ----------
    path : str or Path
    ids : sequence of str, optional
        The model's line items; an id not among them is an error (with a "did you mean").

    Raises
    ------
    DataError
        Naming the file, the column or row and the value, for a missing file, missing columns,
        duplicate ids or amounts that are not non-negative numbers.
    """
    from optimizer.io.spend_tables import read_spend_totals

    return read_spend_totals(path, what="last-cycle", ids=ids)


def _check_last_cycle(
    last: Mapping[str, float] | None, ids: Sequence[str]
) -> dict[str, float] | None:
    if last is None:
        return None
    out = {}
    for k, v in last.items():
        if k not in ids:
            raise DataError(
                f"unknown line item '{k}' in the last cycle{did_you_mean(k, ids)}", field="id"
            )
        fv = float(v)
        if not math.isfinite(fv) or fv < 0:
            raise DataError(
                f"the last cycle's spend of '{k}' must be a non-negative amount, got {v!r}",
                field="spend",
            )
        out[k] = fv
    return {tid: out.get(tid, 0.0) for tid in ids}


def explain(
    plan: Plan,
    scenario: Scenario,
    model: CurveSet,
    *,
    last_cycle: Mapping[str, float] | None = None,
    increment: float | None = None,
    solver: str = "highs",
    tolerance: float = EXPLAIN_TOLERANCE,
    ladder_steps: int = 10,
    ladder_step: float | None = None,
    sweep_points: int = 21,
    refine_steps: int = 3,
    extra_models: Mapping[str, CurveSet] | None = None,
    progress: Callable[[str], None] | None = None,
) -> Explanation:
    """Justify every line item of a plan.

    Parameters
    ----------
    plan : Plan
        A solved plan of ``scenario`` on ``model`` (status optimal or time_limit).
    scenario : Scenario
        The scenario the plan solves; re-solved with changes to price moves and rules.
    model : CurveSet
        The response curves the plan was optimised on.
    last_cycle : dict of str to float, optional
        Last cycle's spend per line item (missing line items count as 0); by default the
        scenario's ``previous``, if it has one.
    increment : float, optional
        The money a line item is moved up and down by; default 10% of its plan spend (an unfunded
        line item: its ``min_if_funded``, else 1% of the budget).
    solver : str
        Solver for the re-solves.
    tolerance : float
        Certified gap of the re-solves (tighter than the default, so that the small second-order
        changes they price are not noise).
    ladder_steps : int
        Increments per line item in the ladder (equal parts of its plan spend).
    ladder_step : float, optional
        Fixed money per ladder increment instead of ``ladder_steps`` equal parts.
    sweep_points : int
        Budgets in the sweep (0 to twice the budget) that finds the budgets over which each line
        item keeps its role; 0 skips it (and the frontier).
    refine_steps : int
        Bisection steps at each edge of a role range.
    extra_models : dict of str to CurveSet, optional
        Other KPIs' models, for scenarios with KPI floors or values (as ``allocate`` takes them).
    progress : callable, optional
        Receives short progress messages.

    Returns
    -------
    Explanation

    Raises
    ------
    InfeasibleError
        If the plan is infeasible.
    SolverError
        If the plan has no solution for another reason.
    DataError
        If ``last_cycle`` names an unknown line item or a negative amount.
    """
    if plan.status == "infeasible":
        raise InfeasibleError(
            f"scenario '{plan.scenario}' is infeasible: {plan.message}",
            conflicts=plan.conflicts,
            path=scenario.source,
        )
    if not plan.ok:
        raise SolverError(
            f"the plan has no solution to explain ({plan.status}): {plan.message}",
            path=scenario.source,
        )
    say = progress or (lambda _m: None)
    problem = make_problem(
        scenario, model, None, ids=[li.id for li in plan.line_items], extra_models=extra_models
    )
    ctx = _context(scenario, problem)
    ids = [it.id for it in problem.items]
    if last_cycle is None and scenario.previous:
        last_cycle = scenario.previous
    last = _check_last_cycle(last_cycle, ids)
    weeks = float(scenario.horizon_weeks)
    slv = _Solver(scenario, model, solver, tolerance, extra_models)
    say("re-solving the plan at the explain tolerance")
    ref = slv.solve(scenario)
    if not ref.ok:  # pragma: no cover - the plan itself was solved
        raise SolverError(f"re-solving the scenario failed ({ref.status})", path=scenario.source)
    pr = _prices(ctx, plan)
    hurdles = pr.hurdle_kpi
    budget = scenario.budget.amount if scenario.budget is not None else None
    total = plan.total_spend
    step_money = nice_step(0.01 * (budget if budget else max(total, 1.0)))
    if scenario.objective in ("max_kpi", "max_net") and plan.total_spend > _CENT:
        # the price of a dollar to a line item no share rule names, in KPI per unit of money
        hurdle = (problem.spend_weight + (plan.budget_shadow_price or 0.0)) / max(
            problem.kpi_weight, 1e-300
        )
    else:
        finite = hurdles[np.isfinite(hurdles)]
        hurdle = float(np.median(finite)) if len(finite) else math.nan

    roles: dict[str, tuple[str, tuple[str, ...]]] = {}
    for tid in ids:
        roles[tid] = _classify(ctx, plan, pr, tid)

    ranges: dict[str, RoleRange] = {}
    frontier: list[FrontierPoint] = []
    if sweep_points and budget is not None and problem.sense == "max":
        say(f"sweeping {sweep_points} budgets for the role ranges and the frontier")
        ranges, fplans, grid = _role_ranges(ctx, slv, ref, budget, sweep_points, refine_steps)
        for b, p in zip(grid, fplans, strict=True):
            if p.ok:
                marg = (
                    max(li.marginal_roi for li in p.line_items)
                    if p.total_spend <= _CENT
                    else p.budget_shadow_price
                )
                frontier.append(FrontierPoint(float(b), p.status, p.total_spend, p.total_kpi, marg))
            else:
                frontier.append(FrontierPoint(float(b), p.status, None, None, None))

    say("pricing the constraints")
    notes = _constraint_notes(ctx, slv, ref, plan, step_money, True)
    by_note = {c.name: c for c in notes}

    say("pricing the next and the last increment of every line item")
    items = []
    for it in problem.items:
        tid = it.id
        li = plan.item(tid)
        role, names = roles[tid]
        h = float(hurdles[it.index])
        tp = it.curve.response
        first = _first_dollar(tp, weeks)
        funded = li.spend > _CENT
        if funded:
            inc = float(increment) if increment else 0.10 * li.spend
            nxt = _move(ctx, slv, ref, tid, "up", inc, h)
            lst = _move(ctx, slv, ref, tid, "down", min(inc, li.spend), h)
            first_inc = None
            first_amt = inc
        else:
            inc = it.min_if_funded or (
                float(increment) if increment else 0.01 * (budget if budget else max(total, 1.0))
            )
            nxt = _move(ctx, slv, ref, tid, "up", inc, h)
            lst = None
            first_amt = inc
            first_inc = float(tp.horizon_kpi(inc, weeks)) / inc if inc > 0 else None
        value = _rule_value(ctx, plan, names)
        gain = None
        for n in names:
            note = by_note.get(n)
            if note is not None and note.unit == "money":
                gain = note.resolved if note.resolved is not None else note.estimate
                break
        reason = _reason(
            ctx,
            role,
            names,
            li.spend,
            li.marginal_roi,
            h,
            first,
            first_inc,
            first_amt,
            it.min_if_funded,
            gain,
            step_money,
            nxt,
        )
        pos = _position(tp, li.spend, weeks, ctx.kpi_word)
        lc = None if last is None else last[tid]
        items.append(
            LineItemExplanation(
                id=tid,
                stage=it.stage,
                spend=li.spend,
                share=li.spend / total if total > 0 else 0.0,
                kpi=li.kpi,
                roi=li.roi,
                marginal_roi=li.marginal_roi,
                first_dollar_roi=first,
                first_increment_roi=first_inc,
                hurdle=h,
                role=role,
                rules=names,
                rule_labels=tuple(ctx.labels.get(n, n) for n in names),
                rule_value=value,
                reason=reason,
                lower=it.lo,
                upper=li.upper,
                min_if_funded=it.min_if_funded,
                next=nxt,
                last=lst,
                role_range=ranges.get(tid),
                position=pos,
                last_cycle=lc,
                delta=None if lc is None else li.spend - lc,
            )
        )

    say("ranking the ladder")
    ladder = _ladder(ctx, plan, roles, hurdles, ladder_steps, ladder_step, budget, hurdle)
    stages, groups = _summaries(ctx, plan, last)

    warnings = []
    for x in items:
        if x.position.extrapolation:
            warnings.append(f"{x.id}: {x.position.sentence.split(';')[0]}.")
    if not ladder.consistent:
        warnings.append(
            "the ladder's ranking and the plan disagree somewhere (a rule funds or "
            "blocks an increment out of its return order); see the ladder's notes"
        )
    if plan.gap is not None and plan.gap > 1e-3:
        warnings.append(
            f"the plan's certificate gap is {plan.gap:.2%}: with 'zero or at least' rules or "
            "S-curves the dual bound need not close, although the MILP is optimal over the "
            "curves' pieces"
        )

    # total KPI band over joint bootstrap draws (draw k of every touchpoint is one refit)
    tp10 = tp90 = None
    n_draws = {len(it.curve.response.draws) for it in problem.items}
    if len(n_draws) == 1 and next(iter(n_draws)) > 0:
        tot = np.zeros(next(iter(n_draws)))
        for it in problem.items:
            s = plan.item(it.id).spend
            tot += np.array(
                [float(d.horizon_kpi(s, weeks)) for d in it.curve.response.draw_responses()]
            )
        tp10, tp90 = (float(v) for v in np.percentile(tot, [10, 90]))

    counts: dict[str, int] = {}
    for x in items:
        counts[x.role] = counts.get(x.role, 0) + 1
    kw = ctx.kpi_word
    headline = [
        f"The plan spends {fmt_amount(total)} over {scenario.horizon_weeks} weeks"
        + (f" (budget {fmt_amount(budget)})" if budget is not None else "")
        + f" and is modelled to buy {fmt_amount(plan.total_kpi)} {kw}"
        + (f" (ROI {fmt_ratio(plan.roi, 2)})." if plan.roi is not None else "."),
        f"The last dollar in returns {fmt_ratio(hurdle)} {kw}: the hurdle every funded dollar "
        "clears, and the budget's shadow price.",
        "Line items: " + ", ".join(f"{n} {ROLE_WORDS[r]}" for r, n in counts.items()) + ".",
    ]
    if tp10 is not None:
        headline.append(
            f"Over the model's bootstrap draws the plan's {kw} is between "
            f"{fmt_amount(tp10)} and {fmt_amount(tp90)} (P10–P90)."
        )
    lct = None
    if last is not None:
        lct = float(round(sum(last.values()), 2))
        headline.append(
            f"Last cycle spent {fmt_amount(lct)}; this plan changes that by "
            f"{fmt_delta(total - lct)}."
        )

    return Explanation(
        scenario=plan.scenario,
        objective=plan.objective,
        kpi=plan.kpi,
        horizon_weeks=plan.horizon_weeks,
        budget=budget,
        total_spend=total,
        total_kpi=plan.total_kpi,
        roi=plan.roi,
        objective_value=plan.objective_value,
        hurdle=hurdle,
        gap=plan.gap,
        solver=plan.solver,
        headline=tuple(headline),
        items=tuple(items),
        ladder=ladder,
        stages=stages,
        groups=groups,
        constraints=notes,
        frontier=tuple(frontier),
        warnings=tuple(warnings),
        total_kpi_p10=tp10,
        total_kpi_p90=tp90,
        last_cycle_total=lct,
        increment=increment,
        tolerance=tolerance,
        n_solves=slv.count,
        responses={it.id: it.curve.response for it in problem.items},
    )
