"""Explain a plan: every line item justified, for a budget review.

``explain(plan, scenario, model)`` turns a solved ``Plan`` into an ``Explanation``: plain frozen
data that the report renderers (Markdown, HTML, XLSX, JSON) lay out, and that tests can check claim
by claim.

For every line item it answers the reviewer's questions:

* **what it buys**: spend, share, modelled KPI, average ROI, marginal ROI at the plan point (from
  the smooth curve, not the linear piece);
* **why it stops where it stops**, in words, from the plan's duals and binding constraints
  (``roles``): ``interior`` (its marginal return fell to the hurdle, the price of a dollar
  elsewhere in the plan), ``capped`` (a named cap, lock, stage or group cap stops it while its
  return is still above the hurdle), ``held_up`` (a named floor or lock keeps it above where its
  return meets the hurdle), ``unfunded`` (even its first dollar returns less than the hurdle) or
  ``not_worth_minimum`` (its ``min_if_funded`` block returns less than that money does elsewhere);
* **what the next increment buys and the last one lost**, by re-solving the whole plan with the
  line item forced up or down (``resolve``: so the number includes re-allocating the rest),
  beside the naive curve-only number;
* **over which budgets its role stays the same** (``ranges``), from one sweep of budgets (0 to 2x
  the budget) shared by all line items, refined by bisection at the edges;
* **where the plan point sits on the response curve** (``sentences``): weekly spend against the
  spend ever seen (beyond it is extrapolation), and the P10/P90 of its KPI over the model's
  draws.

The plan as a whole is explained by the zero-based ladder (``ladder``: decision packages): every
line item's spend cut into increments, ranked across the plan by KPI per unit of money, with the
cut-off line where the budget runs out; by stage and group summaries; and by a constraint report
(``constraints``) that puts each constraint's shadow price in words, checked by re-solving with
the constraint moved as its rule kind says (``optimizer.scenario.rules``).

Modules: ``types`` (results), ``formatting``, ``roles``, ``sentences``, ``resolve``, ``ranges``,
``ladder``, ``constraints``, ``review`` (the entry point), ``last_cycle`` (a file reader).
"""

from optimizer.explain.formatting import fmt_amount, fmt_delta, fmt_ratio, nice_step
from optimizer.explain.last_cycle import read_last_cycle
from optimizer.explain.review import explain
from optimizer.explain.types import (
    CAPPED,
    EXPLAIN_TOLERANCE,
    HELD_UP,
    INFEASIBLE,
    INTERIOR,
    NOT_WORTH_MINIMUM,
    ROLE_WORDS,
    UNFUNDED,
    ConstraintNote,
    CurvePosition,
    DefaultPlan,
    DefaultPlanItem,
    Explanation,
    FrontierPoint,
    GroupSummary,
    Ladder,
    LadderStep,
    LineItemExplanation,
    Move,
    RoleRange,
)

__all__ = [
    "CAPPED",
    "EXPLAIN_TOLERANCE",
    "HELD_UP",
    "INFEASIBLE",
    "INTERIOR",
    "NOT_WORTH_MINIMUM",
    "ROLE_WORDS",
    "UNFUNDED",
    "ConstraintNote",
    "CurvePosition",
    "DefaultPlan",
    "DefaultPlanItem",
    "Explanation",
    "FrontierPoint",
    "GroupSummary",
    "Ladder",
    "LadderStep",
    "LineItemExplanation",
    "Move",
    "RoleRange",
    "explain",
    "fmt_amount",
    "fmt_delta",
    "fmt_ratio",
    "nice_step",
    "read_last_cycle",
]
