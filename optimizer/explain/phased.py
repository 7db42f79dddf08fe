"""Every line item of a plan on a calendar (contract 7) justified, as ``explain`` justifies an
undated plan, with the meaning a calendar gives each claim.

A phased plan decides a line item's spend in every period, and its KPI is earned week by week with
carry-over, so:

* **its next dollar** is priced per period: ``d KPI / d x[i, p]`` (the plan's ``marginal_roi`` of
  each period, by the adjoint of the adstock: what a dollar more in that period earns over the rest
  of the horizon, carry-over and seasonal effectiveness included);
* **the hurdle** of a period is the price of a dollar elsewhere in that period: the budget's shadow
  price plus the shadow prices of the rules on every line item's spend in that period (a quarter's
  cap, a month's budget). KKT stationarity says a funded period's next dollar returns exactly its
  hurdle unless a rule on the line item binds there; the difference is that rule's price;
* **its role** follows from that, period by period: at the hurdle, capped (its next dollar returns
  more than the hurdle and a cap on it binds there: its maximum, a per-period cap, a change limit,
  a stage or group cap), held up (less, and a floor holds it), not funded (even the first dollar
  there returns no more), or off the hurdle (more or less beyond ``ROLE_TOL`` with no rule on it
  binding there: the solver's tolerance, cent rounding or the curve's slope at zero; said with both
  numbers). Each status is decided by the numbers it states. Under min_spend the hurdle is
  ``(1 − y·a) / t``, ``t`` the target's dual; the line item's role is capped if any period is, else held up if any is,
  else at the hurdle (not funded: nothing in any period). The sentence names the periods;
* **the price of moving it** is a re-solve (``resolve.move``), as undated: the line item's total
  forced up and down by an increment (10% of its spend) and to zero for the whole horizon (the
  cost of dropping it), its rules by period kept, the rest of the plan re-optimised on the same
  certified path (``allocate``, the interior point or the LP over pieces); the "curve alone"
  number is the line item's own KPI with its plan's phasing scaled to the new total;
* **the ladder** cuts each line item's plan into ten equal increments *of its phasing* (each a
  tenth of its plan in every period), prices each by its KPI over the horizon, carry-over
  included, and ranks them across the plan (``ladder.build_ladder``), with the line where the
  budget runs out and, when the KPI is money, the break-even return: the funded increments under
  it are the dollars that do not pay back.

* **over which budgets it keeps its role** (``ranges.role_ranges``): one sweep of budgets from 0 to
  twice the budget shared by all line items, each plan classified as above, the edges narrowed by
  bisection.

* **where it sits on its curve** (``phased_position``): each funded period's weekly spend against
  the history's and the curve's saturation level, and its KPI over the model's joint draws with
  the plan's spend by period held (and the plan's total's).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from optimizer.allocate import DEFAULT_TOLERANCE, Plan
from optimizer.explain.formatting import nice_step
from optimizer.explain.ladder import build_ladder
from optimizer.explain.phased_moves import (
    drop_sentence,
    lost_as_shown,
    max_net_sentence,
    min_spend_sentence,
)
from optimizer.explain.phased_position import positions
from optimizer.explain.phased_reason import (
    AT_HURDLE,
    PERIOD_CAPPED,
    PERIOD_HELD_UP,
    PERIOD_OFF,
    PERIOD_UNFUNDED,
    PeriodRole,
    period_reason,
)
from optimizer.explain.ranges import AT_BAR_KEY, role_ranges
from optimizer.explain.resolve import Resolver, move
from optimizer.explain.review import DEFAULT_SWEEP_POINTS, require_solved
from optimizer.explain.roles import review_context
from optimizer.explain.sentences import break_even_sentence, target_slack_sentence
from optimizer.explain.types import (
    CAPPED,
    EXPLAIN_TOLERANCE,
    HALF_CENT,
    HELD_UP,
    INFEASIBLE,
    INTERIOR,
    ROLE_TOL,
    ROLE_WORDS,
    UNFUNDED,
    CurvePosition,
    Ladder,
    Move,
    RoleRange,
    is_off_hurdle,
)
from optimizer.formatting import CENT, footed
from optimizer.response.model import CurveSet, ResponseModel
from optimizer.scenario import Scenario

#: what a phased review may not compute (said in every format): the sweep of budgets, on
#: request (the CLI's default for a plan on a calendar is none) ...
NOT_SWEPT = (
    "the budgets over which each line item keeps its role ('--sweep-points 21' computes them: a "
    "sweep of budgets, about as many re-solves again)"
)
#: ... and with no budget to sweep (objective min_spend or max_net): ``{objective}`` filled in
NOT_SWEPT_NO_BUDGET = (
    "the budgets over which each line item keeps its role (no budget to sweep: the objective is "
    "{objective})"
)
#: where each line item sits on its curve and its KPI over the draws, on a markets index
NOT_ON_MARKETS = (
    "where each line item sits on its curve and its KPI over the model's draws (not on a "
    "markets index yet)"
)
#: its KPI over the draws, when the model has no joint draws
NO_DRAWS = "each line item's KPI over the model's draws (the model has none to read)"


def not_computed_note(parts: Sequence[str]) -> str:
    """``Not computed: a, and b.``, or nothing when everything was computed."""
    return f"Not computed: {', and '.join(parts)}." if parts else ""


#: added when the scenario has a ``previous`` (the undated review compares the plan with it)
NOT_COMPARED_PREVIOUS = (
    " The change from the last cycle (the scenario's previous) is not compared on a calendar."
)


@dataclass(frozen=True)
class PhasedItemExplanation:
    """One line item of a plan on a calendar, justified."""

    id: str  # as the plan names it: the touchpoint, or touchpoint@market
    stage: str
    spend: float
    share: float
    kpi: float  # over the horizon, carry-over included (and after it, with ``after``)
    roi: float | None
    marginal_min: float | None  # the next dollar's return over its funded periods
    marginal_max: float | None
    hurdle: float  # the budget's price of a dollar, in KPI per unit of money
    role: str
    rules: tuple[str, ...]  # labels of the rules that hold it
    reason: str
    periods: tuple[PeriodRole, ...]
    next: Move | None
    last: Move | None
    drop: Move | None  # the line item at zero for the whole horizon, re-solved
    owner: str | None = None
    market: str | None = None
    #: money KPIs: its funded ladder increments that return less than break-even (the dollars
    #: that do not pay back); None when the KPI is not money
    below_break_even: float | None = None
    #: the budgets over which it keeps its role and rules (None: not swept)
    role_range: RoleRange | None = None
    #: where its periods' weekly spend sits on its curve, and its KPI over the model's draws
    position: CurvePosition | None = None


@dataclass(frozen=True)
class PhasedExplanation:
    """The justification of every line item of a plan on a calendar."""

    scenario: str
    kpi: str
    phasing: str
    hurdle: float  # the budget's price of a dollar, in KPI per unit of money
    items: tuple[PhasedItemExplanation, ...]
    objective: str  # the scenario's objective (max_kpi, max_net, min_spend)
    ladder: Ladder
    break_even: float | None  # the break-even return (money KPIs), for the ladder
    break_even_sentence: str | None  # the plan against break-even, as the undated headline says
    n_solves: int
    seconds: float
    tolerance: float
    not_computed: str
    #: re-solves certified only at the plan's own tolerance (``fallback``), not at ``tolerance``
    loose: int = 0
    fallback: float = DEFAULT_TOLERANCE
    #: why the plan has no hurdle, in words (a min_spend plan whose KPI target does not bind:
    #: ``hurdle`` is then NaN, null in the JSON); None: it has one
    no_hurdle: str | None = None
    #: the plan's KPI over the model's joint draws (P10, P90), the plan's spend by period held
    total_kpi_p10: float | None = None
    total_kpi_p90: float | None = None
    #: the scenario's budget: "binds" (its shadow price is part of the hurdle), "slack" (the
    #: plan stops short of it), None (no budget)
    budget_state: str | None = None

    def item(self, tid: str) -> PhasedItemExplanation:
        for it in self.items:
            if it.id == tid:
                return it
        raise KeyError(tid)

    def to_dict(self) -> dict[str, Any]:
        """Every field as JSON types, infinite and NaN numbers as None."""
        from optimizer.formatting import jsonable

        return dict(jsonable(self))


def explain_phased(
    plan: Plan,
    scenario: Scenario,
    model: CurveSet,
    *,
    increment: float | None = None,
    solver: str = "highs",
    tolerance: float = EXPLAIN_TOLERANCE,
    plan_tolerance: float = DEFAULT_TOLERANCE,
    ladder_steps: int = 10,
    sweep_points: int = DEFAULT_SWEEP_POINTS,
    refine_steps: int = 3,
    extra_models: Mapping[str, CurveSet] | None = None,
    break_even: float | None = None,
    progress: Callable[[str], None] | None = None,
) -> PhasedExplanation:
    """Justify every line item of a plan on a calendar (see the module docstring).

    ``plan`` is the solved plan of the dated, phased ``scenario`` on ``model``; ``increment`` the
    money each line item is moved by (default 10% of its spend; an unfunded one: 1% of the
    budget); ``tolerance`` the certified gap of the re-solves (a re-solve the LP over pieces
    cannot certify that tightly is solved again at ``plan_tolerance``, the plan's own, and
    counted in ``loose``); ``break_even`` the break-even
    return when the KPI is money (drawn on the ladder); ``sweep_points`` budgets from 0 to twice
    the budget (0: none) find the budgets over which each line item keeps its role and rules,
    each edge narrowed by ``refine_steps`` bisections.
    """
    from optimizer.allocate.phased import item_kpi, phased_problem

    require_solved(plan, scenario)
    t0 = time.perf_counter()
    say = progress or (lambda _m: None)
    problem = phased_problem(scenario, model, extra_models=extra_models)
    base = problem.base
    ctx = review_context(scenario, base)
    # the rules over touchpoint × period by name too (the ladder and the moves name them)
    ctx = dataclasses.replace(ctx, labels={**{r.name: r.label for r in problem.rows}, **ctx.labels})
    resolver = _Resolver(scenario, model, solver, tolerance, extra_models)
    resolver.fallback = max(float(plan_tolerance), tolerance)
    # the page justifies the plan it shows, and every move is priced against it: a re-solve at
    # the explain tolerance had been justified instead, and on a flat optimum (min_spend by
    # month) its line items differed from the plan's within the gap, so one page quoted b at
    # 195,364 in its tables and 195,303 in its justification (review S15 R1, D2)
    ref = plan
    keys = [it.key for it in base.items]
    labels = [p.period for p in ref.periods]
    word = ref.phasing or "period"
    kpi_word = base.kpi

    y = {c.name: float(c.shadow_price or 0.0) for c in ref.constraints}
    classified, budget_price = phased_roles(problem, ref)
    # a min_spend plan whose KPI target does not bind has no hurdle: said so, never NaN
    slack = (
        target_slack_sentence(float(scenario.kpi_target or 0.0), ref.total_kpi, kpi_word)
        if base.sense != "max" and not math.isfinite(budget_price)
        else None
    )

    X = np.array([[pa.spend for pa in ref.item(k).periods] for k in keys])

    def kpi_at(it: Any, totals: np.ndarray) -> np.ndarray:
        """Line item ``it``'s KPI at each total spend, phased as the plan phases it (evenly by
        weeks when the plan gives it nothing), the rest of the plan held."""
        i = it.index
        s = X[i].sum()
        shape = X[i] / s if s > HALF_CENT else problem.weeks_per_period / problem.T
        out = []
        for v in np.atleast_1d(totals):
            Z = X.copy()
            Z[i] = float(v) * shape
            out.append(float(item_kpi(problem, Z)[i]))
        return np.array(out)

    step_money = nice_step(0.01 * (ref.budget if ref.budget else max(ref.total_spend, 1.0)))
    # a line item's spend and KPI as the pack's tables show them (whole units that foot)
    # (each column footed over the line items, as ``render.report_phased_why`` foots its table)
    shown_spend = dict(zip(keys, footed([ref.item(k).spend for k in keys]), strict=True))
    shown_kpi = dict(zip(keys, footed([ref.item(k).kpi for k in keys]), strict=True))
    items = []
    roles: dict[str, tuple[str, tuple[str, ...]]] = {}
    say("pricing the next and the last increment of every line item, and dropping each")
    for it in base.items:
        key = it.key
        li = ref.item(key)
        role, per = classified[key]
        rule_labels = tuple(dict.fromkeys(lab for pr in per for lab in pr.rules))
        roles[key] = (role, tuple(dict.fromkeys(nm for pr in per for nm in pr.rule_names)))
        reason = period_reason(
            role, per, labels, word, kpi_word, y, ctx.labels, step_money, base.sense == "min", slack
        )
        lst: Move | None
        drop_move: Move | None

        def own(v: float, it: Any = it) -> float:
            return float(kpi_at(it, np.array([v]))[0])

        if li.spend > HALF_CENT:
            inc = float(increment) if increment else 0.10 * li.spend
            # the curve alone values the money at the price of a dollar to it: its bar in each
            # period (the binding share rules counted), weighted by its spend there
            h_item, bar_item = _spend_weighted(per), _spend_weighted(per, bar=True)
            nxt = move(ctx, resolver, ref, key, "up", inc, bar_item, own, h_item)
            lst = move(ctx, resolver, ref, key, "down", min(inc, li.spend), bar_item, own, h_item)
            dropped = move(ctx, resolver, ref, key, "down", li.spend, bar_item, own, h_item)
            # the drop's sentence quotes its spend and KPI as the tables show them (they foot)
            as_shown = dataclasses.replace(
                dropped,
                amount=shown_spend[key],
                own_kpi=lost_as_shown(dropped.own_kpi, li.kpi, shown_kpi[key]),
            )
            drop_move = dataclasses.replace(
                dropped, sentence=drop_sentence(as_shown, key, kpi_word, ref, shown_kpi[key])
            )
            if base.sense == "min":  # the KPI is held at the target: the moves cost spend
                nxt, lst, drop_move = (
                    min_spend_sentence(m, key, kpi_word, ref, kpi_item, kind)
                    for m, kpi_item, kind in (
                        (nxt, li.kpi, "next"),
                        (lst, li.kpi, "last"),
                        (as_shown, shown_kpi[key], "drop"),
                    )
                )
            elif scenario.objective == "max_net":  # no budget: the moves change the net value
                nxt, lst, drop_move = (
                    max_net_sentence(m, key, kpi_word, kpi_item, kind)
                    for m, kpi_item, kind in (
                        (nxt, li.kpi, "next"),
                        (lst, li.kpi, "last"),
                        (as_shown, shown_kpi[key], "drop"),
                    )
                )
            drop_move = dataclasses.replace(dropped, sentence=drop_move.sentence)
        else:
            inc = (
                it.min_if_funded
                or (float(increment) if increment else 0.0)
                or 0.01 * (ref.budget if ref.budget else max(ref.total_spend, 1.0))
            )
            bar_item = budget_price
            if any(_is_off(pr) for pr in per):  # a share rule moves its bar: value at it
                w = problem.weeks_per_period / problem.T
                bar_item = float(np.dot(w, [pr.hurdle if pr.bar is None else pr.bar for pr in per]))
            nxt = move(ctx, resolver, ref, key, "up", inc, bar_item, own, budget_price)
            if base.sense == "min":
                nxt = min_spend_sentence(nxt, key, kpi_word, ref, li.kpi, "next")
            elif scenario.objective == "max_net":
                nxt = max_net_sentence(nxt, key, kpi_word, li.kpi, "next")
            lst = drop_move = None
        ms = [pr.marginal for pr in per if pr.spend > HALF_CENT]
        items.append(
            PhasedItemExplanation(
                id=key,
                stage=it.stage,
                spend=li.spend,
                share=li.spend / ref.total_spend if ref.total_spend > 0 else 0.0,
                kpi=li.kpi,
                roi=li.roi,
                marginal_min=min(ms) if ms else None,
                marginal_max=max(ms) if ms else None,
                hurdle=budget_price,
                role=role,
                rules=rule_labels,
                reason=reason,
                periods=tuple(per),
                next=nxt,
                last=lst,
                drop=drop_move,
                owner=it.owner,
                market=it.market,
            )
        )
    say("ranking the ladder")
    # each line item's increments are its phasing scaled: their price is its hurdle weighted by
    # its spend in each period (a quarter's cap raises the hurdle of the money in that quarter)
    # ... and ranked by KPI per unit of the money's price in the budget's terms (a period under a
    # binding rule on its total spend costs its hurdle over the budget's), so that the ranking
    # agrees with the plan whatever the period rules
    price = {
        x.id: (
            _spend_weighted(x.periods)
            if x.spend > HALF_CENT
            else float(
                np.dot(problem.weeks_per_period / problem.T, [pr.hurdle for pr in x.periods])
            )
        )
        / budget_price
        for x in items
        if budget_price > 0 and math.isfinite(budget_price)  # a budget that binds: it prices
    }
    # a line item held up in some periods and capped in others (a change limit between two
    # months holds up the first and caps the second; a floor's member capped in one month) is
    # *capped*, but its money below the hurdle is held in by its floors: on the ladder it is
    # committed as a held-up line item's, by the rules that hold it up
    held_in = {
        k: (
            HELD_UP,
            tuple(
                dict.fromkeys(
                    n
                    for pr in classified[k][1]
                    if pr.status == PERIOD_HELD_UP and pr.spend > HALF_CENT
                    for n in pr.rule_names
                )
            ),
        )
        for k in keys
        if roles[k][0] == CAPPED
        and any(pr.status == PERIOD_HELD_UP and pr.spend > HALF_CENT for pr in classified[k][1])
    }
    ladder = build_ladder(
        ctx,
        ref,
        {**roles, **held_in},
        np.full(len(items), budget_price),
        ladder_steps,
        None,
        ref.budget,
        budget_price,
        kpi_at=kpi_at,
        price_of=price or None,
    )
    ranges: dict[str, RoleRange] = {}
    if sweep_points and ref.budget is not None and base.sense == "max":
        say(f"sweeping {sweep_points} budgets for the role ranges")
        seen: dict[int, dict[str, tuple[str, list[PeriodRole]]]] = {}

        def key_of(p: Plan, tid: str) -> tuple[str, tuple[str, ...]]:
            if not p.ok:
                return INFEASIBLE, ()
            if id(p) not in seen:
                seen[id(p)] = phased_roles(problem, p)[0]
            role, per = seen[id(p)][tid]
            if role == INTERIOR and any(pr.spend > HALF_CENT and _is_off(pr) for pr in per):
                role = AT_BAR_KEY  # "at its bar", as the pack labels it
            return role, tuple(dict.fromkeys(nm for pr in per for nm in pr.rule_names))

        ranges = role_ranges(
            ctx, resolver, ref, float(ref.budget), sweep_points, refine_steps, key_of
        )[0]
        items = [dataclasses.replace(x, role_range=ranges.get(x.id)) for x in items]
    say("the line items on their curves and over the model's draws")
    items, band = positions(scenario, model, problem, ref, X, keys, items, word, extra_models)
    be = plan.break_even
    if break_even is None and be is not None:
        break_even = be.threshold
    if break_even is not None:
        items = [
            dataclasses.replace(
                x,
                below_break_even=float(
                    round(
                        sum(
                            st.amount
                            for st in ladder.steps[: ladder.cutoff]
                            if st.item == x.id and st.return_ < break_even
                        ),
                        2,
                    )
                ),
            )
            for x in items
        ]
    missing = []
    if not ranges:
        missing.append(
            NOT_SWEPT
            if ref.budget is not None and base.sense == "max"
            else NOT_SWEPT_NO_BUDGET.format(objective=scenario.objective)
        )
    if not isinstance(model, ResponseModel):
        missing.append(NOT_ON_MARKETS)
    elif band is None:
        missing.append(NO_DRAWS)
    return PhasedExplanation(
        scenario=ref.scenario,
        kpi=kpi_word,
        phasing=word,
        hurdle=budget_price,
        items=tuple(items),
        objective=str(plan.objective),
        ladder=ladder,
        break_even=break_even,
        break_even_sentence=None if be is None else break_even_sentence(be),
        n_solves=resolver.count,
        seconds=time.perf_counter() - t0,
        tolerance=tolerance,
        not_computed=not_computed_note(missing)
        + (NOT_COMPARED_PREVIOUS if scenario.previous else ""),
        loose=resolver.loose,
        fallback=resolver.fallback,
        no_hurdle=slack,
        budget_state=(
            None if scenario.budget is None else "binds" if y.get("budget", 0.0) > 1e-9 else "slack"
        ),
        total_kpi_p10=None if band is None else band[0],
        total_kpi_p90=None if band is None else band[1],
    )


def phased_roles(problem: Any, plan: Plan) -> tuple[dict[str, tuple[str, list[PeriodRole]]], float]:
    """Each line item's role in ``plan`` (a plan of ``problem``, at any budget) and its periods'
    (see the module docstring), and the budget's price of a dollar in KPI per unit of money."""
    base = problem.base
    n, P = problem.n, problem.P
    labels = [p.period for p in plan.periods]
    # the shadow prices split: rules on every line item's spend (the budget, a period's total) make
    # the hurdle of a period; the rest belong to the line items they name
    y = {c.name: float(c.shadow_price or 0.0) for c in plan.constraints}
    binding = {c.name for c in plan.constraints if c.binding}
    wide = np.zeros((n, P))
    # a binding share rule counts every line item's spend: its members' part (a > 0) is a rule
    # on them (a cap or a floor); the others' (a < 0) moves the price of their dollar, as
    # ``roles.prices_of`` splits it undated: never "capped by the awareness floor" for search
    others = np.zeros((n, P))
    member = np.zeros((n, P))
    share_rules: dict[tuple[int, int], list[str]] = {}
    cell_rules: dict[tuple[int, int], list[tuple[str, str, bool, bool]]] = {}
    for r in problem.rows:
        plan_wide = r.kind == "budget" or r.kind.startswith("period_")
        share = r.kind.endswith("_share")
        for (i, p), a in r.coefs.items():
            if a == 0.0:
                continue
            if plan_wide:
                wide[i, p] += y.get(r.name, 0.0) * a
                continue
            if share and y.get(r.name, 0.0):
                (member if a > 0 else others)[i, p] += y[r.name] * a
                share_rules.setdefault((i, p), []).append(r.label)
            if r.name in binding and not (share and a < 0):
                # a lock (==) is a cap where its price says the plan wants less, a floor where
                # it wants more: "d lock (50,000)" at -0.567 held d up, not "at the hurdle"
                ya = y.get(r.name, 0.0) * a
                is_cap = (
                    (ya >= 0) == (base.sense == "max")
                    if r.sense == "=="
                    else ((r.sense == "<=") == (a > 0))
                )
                cell_rules.setdefault((i, p), []).append((r.name, r.label, is_cap, share))
    scale = problem.scale
    if base.sense == "max":
        unit = np.where(scale != 0, scale, 1.0)[:, None]
        hurdle = (base.spend_weight + wide) / unit
        price, bar = hurdle + others / unit, hurdle + (others + member) / unit
        budget_price = (base.spend_weight + y.get("budget", 0.0)) / max(float(scale.max()), 1e-300)
    slack = False
    if base.sense != "max":  # min_spend: the return at which the target is met at least cost
        # stationarity of min Σx s.t. KPI >= target (dual t), rules y·a: 1 − t·m − y·a = 0, so a
        # period whose total is capped (y < 0) has the higher hurdle (1 − y·a) / t
        t = next((abs(y[r.name]) for r in problem.kpi_rows if y.get(r.name)), 0.0)
        # a target that does not bind (t = 0): no hurdle; what the plan funds, its rules hold
        slack = not t > 0
        h0 = 1.0 / t if t > 0 else math.nan
        hurdle = (1.0 - wide) / t if t > 0 else np.full((n, P), math.nan)
        price = (1.0 - wide - others) / t if t > 0 else hurdle
        bar = (1.0 - wide - others - member) / t if t > 0 else hurdle
        budget_price = h0
    out: dict[str, tuple[str, list[PeriodRole]]] = {}
    first_cent = _FirstCent(problem, plan)
    for it in base.items:
        i, key = it.index, it.key
        try:
            periods = plan.item(key).periods
        except KeyError:  # held at zero and left out of the plan
            periods = ()
        X = [pa.spend for pa in periods] or [0.0] * P
        M = [float(pa.marginal_roi or 0.0) for pa in periods] or [0.0] * P
        per: list[PeriodRole] = []
        for p in range(P):
            # the status by the price of a dollar to it (the hurdle with the share rules it is
            # not a member of counted); the period's hurdle is stated
            m, h, x = float(M[p]), float(price[i, p]), float(X[p])
            m0 = m  # the slope at its spend, as the JSON's ``marginal``
            b = float(bar[i, p]) if math.isfinite(float(bar[i, p])) else h
            tol = ROLE_TOL * max(abs(h), 1e-12) + 1e-12
            btol = ROLE_TOL * max(abs(b), 1e-12) + 1e-12
            rules = cell_rules.get((i, p), [])
            caps = tuple(name for name, _lab, c, _sh in rules if c)
            floors = tuple(name for name, _lab, c, _sh in rules if not c)
            # its own rules (not a share rule) hold it against its bar, the share rules it is a
            # member of counted there: a floor's member capped by a change limit in a month
            # returns more than its bar there, if less than the hurdle (FY26 by month's tv in
            # December, under a 35% awareness floor: 0.584 against its bar 0.546 and the
            # hurdle 0.788), so that month is capped by the change limit, not held up by the floor
            own_caps = tuple(name for name, _lab, c, sh in rules if c and not sh)
            own_floors = tuple(name for name, _lab, c, sh in rules if not c and not sh)
            status: str
            names: tuple[str, ...]
            cent: float | None = None
            # an unfunded period wins money above its bar where a share floor it is a member of
            # lowers that below the hurdle (the price), else above the price
            win = min(h, b)
            wtol = ROLE_TOL * max(abs(win), 1e-12) + 1e-12
            if x <= HALF_CENT and m > win + wtol:
                # its first dollar beats that, yet it gets nothing: a curve that starts vertical
                # (a hill of shape < 1 with little carry-over left) has a slope at zero no cent
                # earns; what its first cent earns there says whether it wins (and whether a
                # cap, a dark period, is what keeps it out)
                cent = first_cent(i, p)
                if cent <= win + wtol:
                    m = cent
            # by the numbers: each status's sentence states the comparison of m with h it implies
            if x > HALF_CENT and slack:
                kept = tuple(name for name, _lab, _c, _sh in rules)
                status, names = (PERIOD_HELD_UP, kept) if kept else (PERIOD_OFF, ())
            elif x <= HALF_CENT:
                if m > win + wtol:
                    status, names = (PERIOD_CAPPED, caps) if caps else (PERIOD_OFF, ())
                else:
                    status, names = PERIOD_UNFUNDED, ()
            elif abs(m - h) <= tol:
                status, names = AT_HURDLE, ()
            elif m > b + btol and own_caps:
                status, names = PERIOD_CAPPED, own_caps
            elif m < b - btol and own_floors:
                under = m < h - tol  # the share floors it is a member of hold it up too
                status = PERIOD_HELD_UP
                names = tuple(n for n in floors if under or n in own_floors)
            elif m > h + tol and caps:
                status, names = PERIOD_CAPPED, caps
            elif m < h - tol and floors:
                status, names = PERIOD_HELD_UP, floors
            else:
                status, names = PERIOD_OFF, ()
            lab = {name: label for name, label, _c, _sh in rules}
            per.append(
                PeriodRole(
                    labels[p],
                    x,
                    m0,
                    float(hurdle[i, p]),
                    status,
                    tuple(lab[nm] for nm in names),
                    names,
                    float(bar[i, p]),
                    tuple(dict.fromkeys(share_rules.get((i, p), ()))),
                    cent,
                )
            )
        held = {pr.status for pr in per}
        if not any(pr.spend > HALF_CENT for pr in per):
            role = UNFUNDED
        elif PERIOD_CAPPED in held:
            role = CAPPED
        elif PERIOD_HELD_UP in held:
            role = HELD_UP
        else:
            role = INTERIOR
        out[key] = (role, per)
    return out, budget_price


class _FirstCent:
    """``(i, p)``: what line item ``i``'s first cent in period ``p`` earns per unit of money,
    carry-over included (its KPI with a cent more there, the rest of ``plan`` held, less its
    KPI in ``plan``, over the cent); the plan's KPI made once, on first use."""

    def __init__(self, problem: Any, plan: Plan) -> None:
        self.problem, self.plan = problem, plan
        self.X: np.ndarray | None = None
        self.kpi: np.ndarray | None = None

    def __call__(self, i: int, p: int) -> float:
        from optimizer.allocate.phased import item_kpi

        if self.X is None or self.kpi is None:
            rows = []
            for it in self.problem.base.items:
                try:
                    rows.append([pa.spend for pa in self.plan.item(it.key).periods])
                except KeyError:  # held at zero and left out of the plan
                    rows.append([0.0] * self.problem.P)
            self.X = np.array(rows, float).reshape(len(rows), self.problem.P)
            self.kpi = item_kpi(self.problem, self.X)
        Z = self.X.copy()
        Z[i, p] += CENT
        return float(item_kpi(self.problem, Z)[i] - self.kpi[i]) / CENT


class _Resolver(Resolver):
    """``Resolver`` whose re-solve, when not certified at the explain tolerance (the LP over
    pieces, where the interior point does not apply, may stop short of 1e-6), is solved again at
    the plan's own tolerance, and counted."""

    fallback: float = DEFAULT_TOLERANCE
    loose: int = 0

    def solve(self, sc: Scenario) -> Plan:
        p = super().solve(sc)
        if p.status == "not_certified" and self.fallback > self.tolerance:
            self.loose += 1
            p = self.solve_at(sc, self.fallback)
        return p


def _is_off(pr: PeriodRole) -> bool:
    return pr.bar is not None and is_off_hurdle(pr.hurdle, pr.bar)


def _spend_weighted(per: Sequence[PeriodRole], bar: bool = False) -> float:
    """A line item's hurdle (``bar``: its bar, the hurdle where it has none) over its periods,
    weighted by its spend in each."""
    w = np.array([pr.spend for pr in per])
    h = np.array([pr.bar if bar and pr.bar is not None else pr.hurdle for pr in per])
    return float((w * h).sum() / w.sum()) if w.sum() > 0 else float(h.mean())


__all__ = [
    "AT_HURDLE",
    "NOT_SWEPT",
    "PERIOD_CAPPED",
    "PERIOD_HELD_UP",
    "PERIOD_OFF",
    "PERIOD_UNFUNDED",
    "PeriodRole",
    "PhasedExplanation",
    "PhasedItemExplanation",
    "ROLE_WORDS",
    "explain_phased",
]
