"""Re-solves: the scenario edited to force one line item up or down (making room among the rules
that name it), priced against the plan."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from optimizer.allocate import Plan, allocate
from optimizer.allocate.problem import money
from optimizer.explain.formatting import fmt_amount, fmt_delta, fmt_ratio
from optimizer.explain.roles import ReviewContext
from optimizer.explain.types import HALF_CENT, Move, is_off_hurdle
from optimizer.formatting import shown
from optimizer.response.model import CurveSet
from optimizer.scenario import Scenario, TouchpointRule
from optimizer.scenario.rules import kind_of, relax


class Resolver:
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
        return self.solve_at(sc, self.tolerance)

    def solve_at(self, sc: Scenario, tolerance: float) -> Plan:
        """One re-solve at ``tolerance``, counted."""
        self.count += 1
        return allocate(
            sc,
            self.model,
            solver=self.solver,
            tolerance=tolerance,
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


def forced(sc: Scenario, tid: str, target: float, markets: bool = False) -> Scenario:
    """The scenario with one line item fixed at ``target`` (its own rules replaced by a lock, its
    rules by period on a calendar kept: ``per_period`` and ``periods``); with markets ``tid`` is ``touchpoint@market`` (a lock scoped to that market) or
    ``touchpoint@national`` (a national buy: the touchpoint's national lock)."""

    def lock_of(own: TouchpointRule | None) -> TouchpointRule:
        return TouchpointRule(
            lock=float(round(target, 2)),
            per_period=None if own is None else own.per_period,
            periods={} if own is None else dict(own.periods),
        )

    if markets and "@" in tid:
        tp, market = tid.split("@", 1)
        if market == "national":
            return sc.with_touchpoint_rule(tp, lock_of(sc.touchpoints.get(tp)))
        from optimizer.scenario.rules import MarketRule

        by_market = dict(sc.markets)
        rules = by_market.get(market) or MarketRule()
        lock = lock_of(rules.touchpoints.get(tp))
        by_market[market] = rules.model_copy(
            update={"touchpoints": {**rules.touchpoints, tp: lock}}
        )
        return sc.model_copy(update={"markets": by_market})
    return sc.with_touchpoint_rule(tid, lock_of(sc.touchpoints.get(tid)))


def make_room(
    sc: Scenario, ctx: ReviewContext, tid: str, amount: float, up: bool
) -> tuple[Scenario, tuple[str, ...]]:
    """Make room for a forced move of ``tid``: move the money caps (up) or floors (down) of the
    rules over several line items that name it (stages, groups), and set aside its rules
    against last cycle (its change limit)."""
    i = ctx.index[tid]
    moved: list[str] = []
    if sc.previous and tid in sc.previous:
        own = ctx.rule("change_up", tid) or ctx.rule("change_down", tid)
        if own is not None:
            moved.append(ctx.labels[own])
        sc = sc.model_copy(update={"previous": {k: v for k, v in sc.previous.items() if k != tid}})
    for name in ctx.member_rules[i]:
        con = ctx.by_name[name]
        if len(con.coefs) < 2 or kind_of(con.kind).unit_of(con) != "money":
            continue
        if con.sense == "<=" and up:
            roomy = relax(sc, con, amount, "raise")
        elif con.sense == ">=" and not up:
            roomy = relax(sc, con, amount, "lower")
        else:
            continue
        if roomy is not None:
            sc = roomy
            moved.append(ctx.labels[name])
    return sc, tuple(moved)


#: the rules of a touchpoint's own entry, which ``forced`` replaces
_OWN_KINDS = ("tp_lock", "tp_max", "tp_min", "keep_previous")


def _own_rules_lifted(ctx: ReviewContext, tid: str, target: float) -> list[str]:
    """Labels of the line item's own rules that fixing it at ``target`` sets aside."""
    out = []
    for kind in _OWN_KINDS:
        name = ctx.rule(kind, tid)
        if name is None:
            continue
        con = ctx.by_name[name]
        held = (
            abs(target - con.rhs) <= HALF_CENT
            if con.sense == "=="
            else (
                target <= con.rhs + HALF_CENT
                if con.sense == "<="
                else target >= con.rhs - HALF_CENT
            )
        )
        if not held:
            out.append(con.label)
    return out


def move(
    ctx: ReviewContext,
    resolver: Resolver,
    ref: Plan,
    tid: str,
    direction: str,
    requested: float,
    hurdle: float,
    own_kpi: Callable[[float], float] | None = None,
    plan_hurdle: float | None = None,
) -> Move:
    """Force ``tid`` ``direction`` by ``requested`` and re-solve the rest of the plan; priced
    against ``ref``. ``own_kpi``: the line item's own KPI at a spend, the rest of the plan held
    (the "curve alone" number; default its curve at an even weekly spread over the horizon).
    ``hurdle``: the price of a dollar to ``tid`` (its bar, the binding share rules counted) that
    the curve alone values the money at; named "its bar" where it is not ``plan_hurdle``."""
    sc = resolver.scenario
    weeks = float(sc.horizon_weeks)
    tp = ctx.problem.items[ctx.index[tid]].curve.response
    s = ref.item(tid).spend
    target = s + requested if direction == "up" else max(s - requested, 0.0)
    target = float(round(target, 2))
    if own_kpi is None:

        def own_kpi(x: float) -> float:
            return float(tp.horizon_kpi(x, weeks))

    naive = own_kpi(target) - own_kpi(s)
    amount = abs(target - s)
    naive_net = naive - hurdle * (target - s)
    trial = forced(sc, tid, target, bool(ctx.problem.markets))
    plan = resolver.solve(trial)
    relaxed: tuple[str, ...] = tuple(_own_rules_lifted(ctx, tid, target))
    if plan.status == "infeasible":
        roomy, more = make_room(trial, ctx, tid, amount, direction == "up")
        if more:
            relaxed += more
            plan = resolver.solve(roomy)
    kpi_word = ctx.kpi_word
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
    try:
        moved_kpi = plan.item(tid).kpi
    except KeyError:  # a line item locked at zero may leave the plan: it earns what zero earns
        moved_kpi = own_kpi(target)
    own = moved_kpi - ref.item(tid).kpi
    total = plan.total_kpi - ref.total_kpi
    objd = None
    if plan.objective_value is not None and ref.objective_value is not None:
        objd = plan.objective_value - ref.objective_value
    # the others' change as the difference of the two amounts the sentence shows, so that it
    # foots on the page (-139,386 and +131,479 make -7,907, not the -7,908 of the unrounded)
    rest = shown(total) - shown(own)
    room = f" (setting aside {' and '.join(relaxed)})" if relaxed else ""
    naive_txt = (
        f"the curve alone, with the money valued at "
        f"{'its bar' if is_off_hurdle(plan_hurdle, hurdle) else 'the hurdle'} of "
        f"{fmt_ratio(hurdle)}, "
        f"would say {fmt_delta(naive_net)}"
    )
    if direction == "up":
        sentence = (
            f"Adding {fmt_amount(amount)} to {tid}{room} would buy {fmt_amount(own)} {kpi_word} "
            f"on {tid}; paying for it from the rest of the plan (re-solved) changes the "
            f"others by {fmt_delta(rest)}: net {fmt_delta(total)} ({naive_txt})."
        )
    else:
        sentence = (
            f"Cutting {fmt_amount(amount)} from {tid}{room} would lose {fmt_amount(-own)} "
            f"{kpi_word} on {tid}; re-spending the money on the rest of the plan (re-solved) "
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
