"""Stage and group summaries, and the constraint report: each rule's shadow price in words,
checked by re-solving with the rule moved (each rule kind says how it moves)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from optimizer.allocate import Plan
from optimizer.explain.formatting import fmt_about, fmt_amount, fmt_ratio, nice_step
from optimizer.explain.resolve import Resolver
from optimizer.explain.roles import ReviewContext
from optimizer.explain.types import HALF_CENT, ConstraintNote, GroupSummary
from optimizer.scenario.rules import kind_of, relax


def summaries(
    ctx: ReviewContext, plan: Plan, last: Mapping[str, float] | None
) -> tuple[tuple[GroupSummary, ...], tuple[GroupSummary, ...]]:
    total = plan.total_spend
    by_name = {c.name: c for c in plan.constraints}

    def one(kind: str, name: str, members: Sequence[str]) -> GroupSummary:
        lis = [plan.item(m) for m in members]
        spend = float(round(sum(li.spend for li in lis), 2))
        kpi = float(sum(li.kpi for li in lis))
        funded = [li.marginal_roi for li in lis if li.spend > HALF_CENT]
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
        members = [it.key for it in ctx.problem.items if it.stage == st]
        if members:
            stages.append(one("stage", st, members))
    groups = [
        one("group", g, [it.key for it in ctx.problem.items if it.id in rule.members])
        for g, rule in ctx.problem.scenario.groups.items()
    ]
    return tuple(stages), tuple(groups)


def market_and_owner_summaries(
    ctx: ReviewContext, plan: Plan
) -> tuple[tuple[GroupSummary, ...], tuple[GroupSummary, ...]]:
    """Spend and KPI per market (a national buy counted in each market by its split) and per
    budget owner, with the rules about each and those that bind."""
    total = plan.total_spend
    by_name = {c.name: c for c in plan.constraints}
    items = ctx.problem.items

    def summary(kind: str, name: str, members: Sequence[str], spend: float, kpi: float):
        lis = [plan.item(m) for m in members]
        funded = [li.marginal_roi for li in lis if li.spend > HALF_CENT]
        rules = tuple(
            c.name
            for c in ctx.problem.constraints
            if c.kind.startswith(kind + "_") and c.subject == name
        )
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
            tuple(by_name[n].label for n in rules if by_name[n].binding),
        )

    markets = tuple(
        summary(
            "market",
            m,
            [it.key for it in items if it.market_shares().get(m, 0.0) > 0],
            v["spend"],
            v["kpi"],
        )
        for m, v in plan.market_totals().items()
    )
    owners = tuple(
        summary("owner", o, [it.key for it in items if it.owner == o], v["spend"], v["kpi"])
        for o, v in plan.owner_totals().items()
    )
    return markets, owners


def constraint_notes(
    ctx: ReviewContext, resolver: Resolver, ref: Plan, plan: Plan, step_money: float, resolve: bool
) -> tuple[ConstraintNote, ...]:
    notes = []
    total = plan.total_spend
    spend = [plan.item(it.key).spend for it in ctx.problem.items]
    obj = ctx.obj_word
    for c, con in zip(plan.constraints, ctx.problem.constraints, strict=True):
        y = c.shadow_price
        kind = kind_of(con.kind)
        unit = kind.unit_of(con)
        share = unit == "share"
        step = {"share": 0.01, "ratio": 0.05, "kpi": nice_step(0.01 * max(c.rhs, 1.0))}.get(
            unit, step_money
        )
        per_unit = None if y is None else kind.per_unit(con, y, spend)
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
        if unit == "money" and direction == "lower" and 0.0 < c.rhs < step:
            # a rule on money moves down to zero at most: a lock of 5,000 read "costs about 182
            # per 50,000 locked: lowering it by 50,000 would add that much", measured at 0
            step = c.rhs
        est = None if per_unit is None else abs(per_unit) * step
        if est is not None and (
            (c.sense == "<=" and (y or 0) < 0) or (c.sense == ">=" and (y or 0) > 0)
        ):
            est = 0.0  # a shadow price of the wrong sign is solver noise on a slack row
        resolved = None
        meaningful = c.binding and est is not None and est > 1e-9 * max(abs(ref.total_kpi), 1.0)
        if resolve and (meaningful or c.kind == "budget"):
            sc2 = relax(resolver.scenario, con, step, direction)
            if sc2 is not None:
                p2 = resolver.solve(sc2)
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
                f"The budget binds: raising it by {step_txt} would {verb} "
                f"{fmt_about(gain)} {obj} ({fmt_ratio(y)} per unit of money: the hurdle)."
            )
        elif gain is None or gain <= 1e-9 * max(abs(ref.total_kpi), 1.0):
            sentence = (
                f"{c.label[0].upper() + c.label[1:]} binds, but costs nothing at the "
                "margin: it sits where the plan would be anyway."
            )
        elif c.kind == "tp_lock" and direction == "lower":
            sentence = (
                f"{c.label[0].upper() + c.label[1:]} costs {fmt_about(gain)} {obj} "
                f"per {step_txt} locked: lowering it by {step_txt} would {verb} that "
                "much."
            )
        elif direction == "raise":
            sentence = f"Raising {c.label} by {step_txt} would {verb} {fmt_about(gain)} {obj}."
        else:
            sentence = (
                f"{c.label[0].upper() + c.label[1:]} costs {fmt_about(gain)} {obj} "
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
