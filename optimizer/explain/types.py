"""The review's result types: plain frozen data that the renderers lay out and tests check claim
by claim; the line items' roles and their words."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from optimizer.explain.formatting import fmt_ratio
from optimizer.formatting import HALF_CENT as HALF_CENT  # a spend within half a cent of zero
from optimizer.response.model import TouchpointResponse

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

#: the role word of a line item whose next dollar returns its own bar where that bar is not the
#: plan's hurdle (a binding share rule moves it): "at the hurdle" would name another number
AT_ITS_BAR = "at its bar"


def is_off_hurdle(hurdle: float | None, bar: float | None) -> bool:
    """True when a line item's bar differs from the plan's hurdle as printed (3 decimals)."""
    if hurdle is None or bar is None or not (math.isfinite(hurdle) and math.isfinite(bar)):
        return False
    return fmt_ratio(hurdle) != fmt_ratio(bar)


def role_words(role: str, hurdle: float | None = None, bar: float | None = None) -> str:
    """The words of a role: ``ROLE_WORDS``, but an interior line item whose bar is not the
    plan's hurdle is "at its bar" (its ``role`` value stays ``interior``)."""
    if role == INTERIOR and is_off_hurdle(hurdle, bar):
        return AT_ITS_BAR
    return ROLE_WORDS.get(role, role)


#: Default re-solve tolerance: tight, so that second-order effects (a few hundred KPI on millions)
#: are not swamped by the certified gap of the plans being compared.
EXPLAIN_TOLERANCE = 1e-6
ROLE_TOL = 5e-3  # marginal within 0.5% of the hurdle counts as "at the hurdle"


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
    hurdle: float  # the plan's hurdle: what its last dollar returns, in KPI per unit of money
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
    market: str | None = None  # with markets: where it is bought (None: national buy / none)
    owner: str | None = None  # who holds its budget
    #: what its next (or first) dollar must return to win money, in KPI per unit of money: the
    #: hurdle with the binding share rules counted (its stage's floor lowers a member's bar, a
    #: floor it is outside of raises it); the hurdle when none binds; None: not computed
    bar: float | None = None


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
    line_spend: float  # cumulative spend at the line (the plan's total spend where consistent)
    budget: float | None
    hurdle: float
    consistent: bool  # every step above the line is funded and every one below is not

    def above(self, n: int = 3) -> tuple[LadderStep, ...]:
        """The last ``n`` increments in (just above the line)."""
        return self.steps[max(0, self.cutoff - n) : self.cutoff]

    def below(self, n: int = 3) -> tuple[LadderStep, ...]:
        """The first ``n`` increments out (just below the line)."""
        return self.steps[self.cutoff : self.cutoff + n]

    def out_of_order(self) -> tuple[tuple[LadderStep, ...], tuple[LadderStep, ...]]:
        """The increments a rule takes out of return order: those below the line the plan funds
        (or commits) and those above it the plan does not fund (both empty where consistent)."""
        funded = ("funded", "committed")
        above, below = self.steps[: self.cutoff], self.steps[self.cutoff :]
        return (
            tuple(s for s in below if s.status in funded),
            tuple(s for s in above if s.status not in funded),
        )

    def above_spend(self) -> float:
        """The cumulative spend of the increments above the line (the line's place in return
        order; the plan's total spend where the ranking and the plan agree)."""
        return self.steps[self.cutoff - 1].cumulative_spend if self.cutoff else 0.0

    def funded_spend(self) -> float:
        """The plan's total spend as the ladder shows it: the funded and committed increments."""
        return sum(s.amount for s in self.steps if s.status in ("funded", "committed"))


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
class DefaultPlanItem:
    """A line item in the plan ``optimize``'s default makes beside this pack's plan."""

    id: str
    spend: float  # in optimize's default plan (the anchored plan)
    point_spend: float  # in this pack's plan (the optimum on the point curves)
    difference: float  # spend - point_spend
    kpi: float  # the default plan's, on the point curves
    point_kpi: float


@dataclass(frozen=True)
class DefaultPlan:
    """Which plan ``budgetopt optimize``'s default (``--robust auto``) makes for the scenario and
    model of this pack (``optimizer.workflow.anchored.auto_choice``). This pack justifies the
    optimum on the point curves (``--robust none``); where the default makes the anchored plan
    instead (``chosen`` "anchored") the pack says so near its top, with that plan's step, total
    KPI and line items beside this plan's; where it makes this same plan (``chosen`` "none")
    ``same_plan`` is true and ``items`` empty."""

    chosen: str  # "anchored" | "none" (the optimum on the point curves: this pack's plan)
    same_plan: bool
    reason: str  # optimize's own reason (its JSON's robust.auto.reason)
    sentence: str  # what the pack says, in words
    step: float | None = None  # the anchored plan's step on the line (0 its start, 1 this plan)
    total_spend: float | None = None
    total_kpi: float | None = None  # the default plan's KPI on the point curves
    kpi_difference: float | None = None  # total_kpi - this plan's
    items: tuple[DefaultPlanItem, ...] = ()
    #: optimize's JSON ``robust.auto`` block as it writes it (chosen, reason, rule, weighed, …)
    auto: Mapping[str, Any] = field(default_factory=dict)


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
    #: with a money KPI: the plan's break-even economics (``BreakEven.to_dict()`` of
    #: optimizer.workflow.economics: threshold, budget, spend_beyond, …), else None
    break_even: Mapping[str, Any] | None = None
    responses: Mapping[str, TouchpointResponse] = field(
        default_factory=dict, repr=False, compare=False
    )
    markets: tuple[GroupSummary, ...] = ()  # with a markets index: per market
    owners: tuple[GroupSummary, ...] = ()  # per budget owner (the journey's owner)
    #: the plan's own status (``optimal`` only when certified within ``plan_tolerance``;
    #: ``not_certified`` when its gap stayed above it) and the tolerance it was solved to
    status: str = "optimal"
    plan_tolerance: float | None = None
    #: with markets: spend per market and stage, ``{market: {stage: spend}}``
    market_stage: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    stage_order: tuple[str, ...] = ()
    #: the ISO 4217 code of the plan's money (the model's ``currency``); None: unnamed
    currency: str | None = None
    #: why the plan has no hurdle, in words (a min_spend plan whose KPI target does not bind:
    #: ``hurdle`` is then NaN, null in the JSON); None: it has one
    no_hurdle: str | None = None
    #: the unit of every return of the review: the KPI per unit of money, or ``"value"`` when the
    #: objective is a weighted sum of several KPIs (``kpi_values``)
    returns_in: str = ""
    #: which plan ``optimize``'s default (``--robust auto``) makes for this scenario and model
    #: (``DefaultPlan``); None where it was not asked (``explain`` called from Python)
    optimize_default: DefaultPlan | None = None

    def owner_items(self, owner: str) -> tuple[LineItemExplanation, ...]:
        """The line items a budget owner holds, in plan order."""
        return tuple(it for it in self.items if it.owner == owner)

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
