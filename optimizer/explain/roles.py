"""Why a line item stops where it stops: its role (interior, capped, held up, unfunded, minimum
not worth it) and the rules that hold it, from the plan's shadow prices (KKT stationarity)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from optimizer.allocate import AllocationProblem, Plan
from optimizer.allocate.problem import LinearConstraint
from optimizer.explain.types import (
    CAPPED,
    HALF_CENT,
    HELD_UP,
    INFEASIBLE,
    INTERIOR,
    NOT_WORTH_MINIMUM,
    ROLE_TOL,
    UNFUNDED,
)
from optimizer.response.model import TouchpointResponse
from optimizer.scenario import Scenario
from optimizer.scenario.rules import ITEM_RULE_ROLE, kind_of


@dataclass(frozen=True)
class ReviewContext:
    """What the review needs to know about the problem's rules, looked up by name."""

    problem: AllocationProblem
    index: dict[str, int]
    labels: dict[str, str]  # rule name → label (rows and integer rules)
    kinds: dict[str, str]  # rule name → kind
    by_name: dict[str, LinearConstraint]
    member_rules: dict[int, tuple[str, ...]]  # constraints in which an item is a named member
    kpi_word: str
    obj_word: str  # what the objective counts: the KPI, "net value", "value" or "spend"
    #: (line item, the word its ``binding`` list uses) → the names of the rules it may stand for
    word_rules: dict[tuple[int, str], tuple[str, ...]] = field(default_factory=dict)
    #: (kind, subject) → rule name
    named: dict[tuple[str, str], str] = field(default_factory=dict)

    def rule(self, kind: str, subject: str) -> str | None:
        """The name of the rule of ``kind`` about ``subject``, if the scenario states one (a
        national buy ``tv@national``'s own rules are the touchpoint's national rules)."""
        if subject.endswith("@national") and (kind, subject) not in self.named:
            subject = subject[: -len("@national")]
        return self.named.get((kind, subject))

    def binding_rules(self, i: int, words: Sequence[str], plan: Plan) -> list[str]:
        """The rule names behind line item ``i``'s ``binding`` words (a word two rules share,
        such as ``change_limit``, stands for the one that binds)."""
        out: list[str] = []
        for w in words:
            names = self.word_rules.get((i, w), (w,))
            if len(names) > 1:
                binding = [n for n in names if _binds(plan, n)]
                names = tuple(binding[:1]) or names[:1]
            out.extend(names)
        return out


def _binds(plan: Plan, name: str) -> bool:
    try:
        return plan.constraint(name).binding
    except KeyError:
        return False


def review_context(scenario: Scenario, problem: AllocationProblem) -> ReviewContext:
    index = {it.key: it.index for it in problem.items}
    labels = {c.name: c.label for c in problem.constraints}
    kinds = {c.name: c.kind for c in problem.constraints}
    member: dict[int, list[str]] = {it.index: [] for it in problem.items}
    words: dict[tuple[int, str], list[str]] = {}
    named: dict[tuple[str, str], str] = {}
    for c in problem.constraints:
        named.setdefault((c.kind, c.subject), c.name)
        kind = kind_of(c.kind)
        for i, a in c.coefs.items():
            w = kind.binding_word(c, a) if a != 0.0 else None
            if w is not None and w != c.name:
                words.setdefault((i, w), []).append(c.name)
            if a > 0 and c.kind != "budget" and not c.on_kpi:
                member[i].append(c.name)
    for r in problem.item_rules:
        labels[r.name] = r.label
        kinds[r.name] = r.kind
        named.setdefault((r.kind, r.subject), r.name)
        w = kind_of(r.kind).binding_words.get(r.kind)
        if w is not None:
            words.setdefault((r.item, w), []).append(r.name)
    obj_word = {"max_kpi": problem.kpi, "max_net": "net value", "min_spend": "spend"}.get(
        scenario.objective, "value"
    )
    return ReviewContext(
        problem,
        index,
        labels,
        kinds,
        {c.name: c for c in problem.constraints},
        {k: tuple(v) for k, v in member.items()},
        problem.kpi,
        obj_word,
        {k: tuple(v) for k, v in words.items()},
        named,
    )


def shadow_prices(plan: Plan) -> dict[str, float]:
    return {c.name: float(c.shadow_price) for c in plan.constraints if c.shadow_price is not None}


@dataclass(frozen=True)
class Prices:
    """Per line item: the marginal return of its next dollar and the price of a dollar elsewhere
    in the plan, in the same (objective) units, and that price in the line item's KPI units."""

    marginal: np.ndarray
    price: np.ndarray
    hurdle_kpi: np.ndarray
    #: the first-dollar return (objective units) a line item needs to win money: the price with
    #: the binding share rules that name it counted too (a stage's share floor that holds its
    #: members up lowers what a member needs: on the demo's awareness push radio needs 0.590, the
    #: held-up tv's return, not the budget's 0.713). None: the price
    win: np.ndarray | None = None
    win_kpi: np.ndarray | None = None  # the same in the line item's KPI units
    #: the plan's hurdle, what its last dollar returns: the budget's price of a dollar, no share
    #: rule counted (the same number for every line item in its units); None: the price
    plan: np.ndarray | None = None
    plan_kpi: np.ndarray | None = None  # the same in the line item's KPI units
    #: the names of the binding share rules counted in each line item's price or bar
    shares: tuple[tuple[str, ...], ...] = ()


def prices_of(ctx: ReviewContext, plan: Plan) -> Prices:
    """KKT stationarity, split: ``alpha F_i'(x) = spend_weight + Σ_r y_r a_ri``.

    The plan-wide part of the right-hand side (the budget, and share rules the line item is not a
    member of) is the price of a dollar elsewhere: its hurdle. The rest belongs to rules that name
    the line item (its own bounds, its stage's and groups' caps and floors, ratios, change limits).
    """
    prob = ctx.problem
    n = len(prob.items)
    x = np.array([plan.item(it.key).spend for it in prob.items])
    kpi_m = np.array([plan.item(it.key).marginal_roi for it in prob.items])
    maximise = prob.sense == "max"
    if maximise:
        m = np.array([float(it.curve.slope(xi)) for it, xi in zip(prob.items, x, strict=True)])
    else:
        m = kpi_m
    finite = np.isfinite(m) & (m > 0)
    conv = np.where(finite, kpi_m / np.where(finite, m, 1.0), 1.0 / max(prob.kpi_weight, 1e-300))
    if maximise and plan.total_spend <= HALF_CENT and n:
        # at zero spend the duals are degenerate: the next dollar goes to the best first dollar
        best = float(np.max(m))
        h = np.full(n, best)
        return Prices(m, h, h * conv, plan=h, plan_kpi=h * conv)
    y = shadow_prices(plan)
    c = np.zeros(n)
    member = np.zeros(n)  # the share rules' part for their members
    budget = np.zeros(n)  # the budget's part alone: the plan's hurdle
    shares: list[list[str]] = [[] for _ in range(n)]
    t = 0.0
    for con in prob.constraints:
        v = y.get(con.name, 0.0)
        if v == 0.0:
            continue
        if con.on_kpi:
            if con.kind == "kpi_target":
                t = v
            continue
        share = kind_of(con.kind).unit_of(con) == "share"
        for i, a in con.coefs.items():
            if con.kind == "budget":
                budget[i] += v * a
            if con.kind == "budget" or (a < 0 and share):
                c[i] += v * a
            elif share:
                member[i] += v * a
            if share and a != 0.0:
                shares[i].append(con.name)
    if maximise:
        h = prob.spend_weight + c
        win = h + member
        base = prob.spend_weight + budget
    else:  # min Σx s.t. Σ F >= T: t F'(x) = 1 - Σ y a
        h = (1.0 - c) / t if t > 0 else np.full(n, math.nan)
        win = (1.0 - c - member) / t if t > 0 else np.full(n, math.nan)
        base = (1.0 - budget) / t if t > 0 else np.full(n, math.nan)
    return Prices(m, h, h * conv, win, win * conv, base, base * conv, tuple(map(tuple, shares)))


def first_dollar(tp: TouchpointResponse, weeks: float) -> float:
    return float(tp.horizon_marginal(0.0, weeks))


def sides(ctx: ReviewContext, name: str, i: int) -> tuple[bool, bool]:
    """Does binding rule ``name`` cap line item ``i`` (first), hold it up (second), or both?"""
    if ITEM_RULE_ROLE.get(ctx.kinds.get(name, "")) == "funded":
        return False, True
    con = ctx.by_name.get(name)
    if con is None:
        return False, False
    a = con.coefs.get(i, 0.0)
    if con.sense == "==":
        return True, True
    caps = (con.sense == "<=" and a > 0) or (con.sense == ">=" and a < 0)
    return caps, not caps and a != 0.0


def classify(ctx: ReviewContext, plan: Plan, pr: Prices, tid: str) -> tuple[str, tuple[str, ...]]:
    """The role of one line item in ``plan`` and the names of the rules that hold it."""
    if not plan.ok:
        return INFEASIBLE, ()
    i = ctx.index[tid]
    it = ctx.problem.items[i]
    li = plan.item(tid)
    m, h = float(pr.marginal[i]), float(pr.price[i])
    tol = ROLE_TOL * max(abs(h), 1e-12) + 1e-12
    if li.spend <= HALF_CENT:
        first = float(it.curve.slope(0.0)) if ctx.problem.sense == "max" else m
        if it.min_if_funded and first > h + tol:
            funded_rule = ctx.rule("tp_min_if_funded", tid) or ctx.rule("min_line_item", tid)
            return NOT_WORTH_MINIMUM, (funded_rule,) if funded_rule else ()
        if first > h + tol:
            # its first dollar beats the plan's hurdle, yet it gets nothing: a binding cap over
            # it (an owner's or a group's) gives its money to the line items it covers
            names = ctx.binding_rules(i, li.binding, plan)
            return UNFUNDED, tuple(n for n in names if sides(ctx, n, i)[0])
        return UNFUNDED, ()
    names = ctx.binding_rules(i, li.binding, plan)
    caps = [n for n in names if sides(ctx, n, i)[0]]
    floors = [n for n in names if sides(ctx, n, i)[1]]
    # its own rules (not a share rule it is a member of) hold it against its bar: on the
    # awareness push with tv's maximum at 2,150,000, tv's next dollar (0.610) is below the
    # hurdle (0.812) but above its bar (0.508, the floor counted): its maximum caps it, it is
    # not "held up" by the floor
    b = float(pr.win[i]) if pr.win is not None and math.isfinite(pr.win[i]) else h
    btol = ROLE_TOL * max(abs(b), 1e-12) + 1e-12
    own_caps = [n for n in caps if not _is_share(ctx, n)]
    own_floors = [n for n in floors if not _is_share(ctx, n)]
    if m > b + btol and own_caps:
        return CAPPED, tuple(own_caps)
    if m < b - btol and own_floors:
        return HELD_UP, tuple(n for n in floors if m < h - tol or n in own_floors)
    if m > h + tol and caps:
        return CAPPED, tuple(caps)
    if m < h - tol and floors:
        return HELD_UP, tuple(floors)
    return INTERIOR, ()


def _is_share(ctx: ReviewContext, name: str) -> bool:
    """Whether the rule ``name`` is a share rule (a stage's, group's or market's share)."""
    con = ctx.by_name.get(name)
    return con is not None and kind_of(con.kind).unit_of(con) == "share"


def rule_value(ctx: ReviewContext, plan: Plan, names: Sequence[str]) -> float | None:
    """Objective gained per unit of money the first holding money rule is relaxed."""
    y = shadow_prices(plan)
    for n in names:
        con = ctx.by_name.get(n)
        if n in y and con is not None and kind_of(con.kind).unit_of(con) == "money":
            return abs(y[n])
    return None
