"""Why a line item of a plan on a calendar is where it is, period by period, in words
(``explain.phased``): the statuses of its periods against their hurdle and its bar there, and the
sentences that state them."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from optimizer.calendar import span
from optimizer.explain.formatting import fmt_about, fmt_amount, fmt_ratio
from optimizer.explain.types import HALF_CENT, INTERIOR, ROLE_TOL, UNFUNDED

#: the period statuses of a line item
AT_HURDLE = "at the hurdle"
PERIOD_CAPPED = "capped"
PERIOD_HELD_UP = "held up"
PERIOD_UNFUNDED = "not funded"
#: its next (or first) dollar there returns more or less than the hurdle, beyond ``ROLE_TOL``, and
#: no rule on the line item binds there to explain it: the solver's tolerance, cent rounding, or a
#: curve whose slope at zero the solver does not price (the sentence gives both numbers)
PERIOD_OFF = "off the hurdle: no rule binds"


@dataclass(frozen=True)
class PeriodRole:
    """One period of one line item: its spend, the return of its next dollar there (carry-over
    included), the hurdle of the period and what holds it."""

    period: str
    spend: float
    marginal: float  # KPI per unit of money of the next dollar in this period
    hurdle: float  # the price of a dollar elsewhere in this period, in KPI per unit of money
    status: str  # AT_HURDLE, PERIOD_CAPPED, PERIOD_HELD_UP, PERIOD_UNFUNDED, PERIOD_OFF
    rules: tuple[str, ...] = ()  # labels of the rules on this line item that bind here
    rule_names: tuple[str, ...] = ()  # and their names (two rules may share a label)
    #: the return its next dollar must reach to win money there: the hurdle with the binding
    #: share rules that count its spend (its stage's, group's, market's share floor or cap, member
    #: or not) counted, as ``bar_rules`` (their labels) say; the hurdle when none binds
    bar: float | None = None
    bar_rules: tuple[str, ...] = ()
    #: an unfunded period whose first dollar's return (the slope at zero, ``marginal``) beats the
    #: hurdle with no rule keeping it out: what its first cent there earns per unit of money on
    #: average (a curve that starts vertical earns far less than its slope); None elsewhere
    first_cent: float | None = None


def _returns(values: Sequence[float]) -> str:
    """One return, or the range of several (within 0.5%: one)."""
    lo, hi = min(values), max(values)
    if hi - lo <= ROLE_TOL * max(abs(hi), 1e-12):
        return fmt_ratio(hi)
    return f"{fmt_ratio(lo)} to {fmt_ratio(hi)}"


def _hurdle_text(per: Sequence[PeriodRole], idx: Sequence[int], labels: Sequence[str]) -> str:
    """The hurdle of the periods ``idx``: one number, or the number of each group of periods."""
    groups: dict[str, list[int]] = {}
    for k in idx:
        groups.setdefault(fmt_ratio(per[k].hurdle), []).append(k)
    if len(groups) == 1:
        return f"the hurdle, {next(iter(groups))}"
    main = max(groups, key=lambda g: len(groups[g]))
    rest = "; ".join(f"{g} in {span(labels, ks)}" for g, ks in groups.items() if g != main)
    return f"the hurdle: {main}, or {rest}, where a rule on that {{word}}'s total spend binds"


def _moved(pr: PeriodRole) -> bool:
    """Whether binding share rules move its bar off the hurdle there, other than the rules that
    hold it (a member held up by its stage's floor is at its bar by that floor)."""
    return (
        pr.bar is not None
        and math.isfinite(pr.bar)
        and abs(float(pr.bar) - pr.hurdle) > ROLE_TOL * max(abs(pr.hurdle), 1e-12)
        and not set(pr.rules) & set(pr.bar_rules)
    )


def _bar_note(per: Sequence[PeriodRole], ks: Sequence[int], say: str = "") -> str:
    """``{say} B, with R counted``: the bar of the periods ``ks`` where binding share rules R move
    it off the hurdle (not where R is what holds it: a member held up by its stage's floor is
    at its bar by that floor, said already); "" where none does."""
    moved = [k for k in ks if _moved(per[k])]
    if not moved:
        return ""
    rules = " and ".join(dict.fromkeys(r for k in moved for r in per[k].bar_rules))
    return f"{say} {_returns([float(per[k].bar or 0.0) for k in moved])}, with {rules} counted"


def _first(pr: PeriodRole) -> float:
    """What its first money in the period returns: its first dollar's (the slope at zero), or
    its first cent's on average where its curve starts vertical there (``first_cent``)."""
    return pr.first_cent if pr.first_cent is not None else pr.marginal


def _need(pr: PeriodRole) -> float:
    """What its first money in the period must return to win money there: its bar."""
    return pr.hurdle if pr.bar is None or not math.isfinite(pr.bar) else pr.bar


def _unit(per: Sequence[PeriodRole], ks: Sequence[int]) -> str:
    """ "dollar", or "cent" where a period of ``ks`` is judged by its first cent (a curve that
    starts vertical: its slope at zero is no return a cent earns)."""
    if any(per[k].first_cent is not None for k in ks):
        return "cent" if all(per[k].first_cent is not None for k in ks) else "dollar (or cent)"
    return "dollar"


def _avg(per: Sequence[PeriodRole], ks: Sequence[int]) -> str:
    return " per unit of money on average" if _unit(per, ks) != "dollar" else ""


def _versus(per: Sequence[PeriodRole], ks: Sequence[int], more: bool) -> str:
    """``more than the hurdle (H)`` for the first money of the unfunded periods ``ks``, or, where
    that is not so and a share rule moves its bar there, ``more than its bar there (B, with R
    counted; the hurdle H)``: the comparison that holds ("not more than" with ``more`` False)."""
    word = "more than" if more else "not more than"
    hurdles = _returns([per[k].hurdle for k in ks])
    holds = all((_first(per[k]) > per[k].hurdle) == more for k in ks)
    bars = _bar_note(per, ks).strip()
    if holds or not bars:
        return f"{word} the hurdle ({hurdles})"
    return f"{word} its bar there ({bars}; the hurdle {hurdles})"


#: what leaves a period off its hurdle when no rule binds there
_OFF_CAUSE = (
    "the difference is the solver's tolerance, the plan's cent rounding, or the slope of the "
    "curve at zero, not a rule"
)


def period_reason(
    role: str,
    per: Sequence[PeriodRole],
    labels: Sequence[str],
    word: str,
    kpi: str,
    y: Mapping[str, float],
    names: Mapping[str, str],
    step: float,
    min_spend: bool = False,
    slack: str | None = None,
) -> str:
    """Why a line item of a plan on a calendar is where it is, period by period, in words
    (``slack``: a min_spend plan's target that does not bind, in words: no hurdle)."""
    by: dict[str, list[int]] = {}
    for k, pr in enumerate(per):
        by.setdefault(pr.status, []).append(k)
    if slack is not None:
        return _slack_reason(role, per, labels, kpi, names, slack)
    words = f"{word}s"
    out: list[str] = []
    priced_already: set[str] = set()
    if role == UNFUNDED:
        best = max(
            range(len(per)),
            key=lambda k: _first(per[k]) - _need(per[k]),
        )
        pr = per[best]
        if pr.status == PERIOD_CAPPED:
            out.append(
                f"Not funded: its first dollar would beat the hurdle in "
                f"{span(labels, by[PERIOD_CAPPED])}, but {' and '.join(pr.rules)} "
                f"{'keeps' if len(pr.rules) == 1 else 'keep'} it out."
            )
        elif pr.status == PERIOD_OFF:
            ks = by[PERIOD_OFF]
            out.append(
                f"Not funded, though its first {_unit(per, ks)} in {span(labels, ks)} would "
                f"return {_returns([_first(per[k]) for k in ks])} {kpi}{_avg(per, ks)} "
                f"(carry-over included), {_versus(per, ks, True)}, and no rule on it binds "
                f"there: {_OFF_CAUSE}."
            )
        else:
            bars = _bar_note(per, [best], "; to win money it would need at least")
            cents = [k for k, q in enumerate(per) if q.first_cent is not None]
            if not cents:
                out.append(
                    f"Not funded: even its first dollar returns at most {fmt_ratio(pr.marginal)} "
                    f"{kpi} (in {pr.period}, carry-over included), no more than the hurdle there "
                    f"({fmt_ratio(pr.hurdle)}{bars}): every {word}'s money does more elsewhere."
                )
            else:
                # a curve that starts vertical where little carry-over is left: its slope at
                # zero there (radio at 0.15 of its scale on FY26 by month: 0.705 to 28.150) is
                # no return a cent earns (0.367 to 0.388 on its first cent)
                out.append(
                    f"Not funded: its first money comes closest to winning in {pr.period}, where "
                    f"its first {_unit(per, [best])} returns {fmt_ratio(_first(pr))} {kpi}"
                    f"{_avg(per, [best])} (carry-over included), no more than the hurdle there "
                    f"({fmt_ratio(pr.hurdle)}{bars}); its curve starts vertical in "
                    f"{span(labels, cents)}, where little carry-over is left, but its first cent "
                    f"there returns only {_returns([per[k].first_cent or 0.0 for k in cents])} "
                    f"{kpi} per unit of money on average: every {word}'s money does more "
                    "elsewhere."
                )
        return " ".join(out)
    at = by.get(AT_HURDLE, [])
    off_funded = [k for k in by.get(PERIOD_OFF, []) if per[k].spend > HALF_CENT]
    if at:
        bars = _bar_note(per, at)
        # its next dollar returns its bar: "the hurdle" only where that is the hurdle
        at_word = "At its bar" if bars else "At the hurdle"
        lead = (
            at_word if role == INTERIOR and not off_funded else f"{at_word} in {span(labels, at)}"
        )
        same = (
            f"the same as the last dollar anywhere else in that {word} "
            f"({_hurdle_text(per, at, labels).replace('{word}', word)})"
            if not bars
            else f"its bar there{bars}, not the hurdle itself ("
            f"{_returns([per[k].hurdle for k in at])}, what the {word}'s last dollar returns): a "
            "share rule ties its dollars to the spend of the line items it names"
        )
        out.append(
            f"{lead}: in {'each ' + word if role == INTERIOR else 'those ' + words} it is funded "
            f"its next dollar returns {_returns([per[k].marginal for k in at])} {kpi} "
            f"(carry-over included), {same}; beyond this the money does more elsewhere."
        )
    for status, verb in ((PERIOD_CAPPED, "Capped"), (PERIOD_HELD_UP, "Held up")):
        ks = [k for k in by.get(status, []) if per[k].spend > HALF_CENT]
        if not ks:
            continue
        rules = tuple(dict.fromkeys(nm for k in ks for nm in per[k].rule_names))
        comp = "more" if status == PERIOD_CAPPED else "less"
        where = f" in {span(labels, ks)}" if len(ks) < len(per) else ""
        hurdles = _returns([per[k].hurdle for k in ks])
        # a rule of its own holds it against its bar where a share rule moves that bar (the
        # comparison with the hurdle may not hold: a floor's member capped below the hurdle)
        than = (
            f"its bar there ({_bar_note(per, ks).strip()}; the hurdle {hurdles})"
            if all(_moved(per[k]) for k in ks)
            else f"the hurdle ({hurdles}{_bar_note(per, ks, '; its bar')})"
        )
        out.append(
            f"{verb} by {' and '.join(names.get(nm, nm) for nm in rules)}: its next dollar"
            f"{where} {'would return' if status == PERIOD_CAPPED else 'returns only'} "
            f"{_returns([per[k].marginal for k in ks])} {kpi}, {comp} than {than}"
            + (
                "; left to the optimiser it would get more."
                if status == PERIOD_CAPPED
                else "; left to the optimiser it would get less."
            )
        )
        priced = []
        for nm in rules:
            v = y.get(nm, 0.0)
            if v and nm not in priced_already:
                priced_already.add(nm)
                priced.append(
                    f"moving {names.get(nm, nm)} by {fmt_amount(step)} is worth "
                    f"{fmt_about(abs(v) * step)} "
                    + ("of spend to meet the target" if min_spend else kpi)
                    + f" (its shadow price, {abs(v):.4f})"
                )
        if priced:
            out.append("By the shadow prices: " + "; ".join(priced) + ".")
    for ks, verb in (
        (off_funded, "its next dollar there returns"),
        (
            [k for k in by.get(PERIOD_OFF, []) if per[k].spend <= HALF_CENT],
            "it gets nothing there, though its first dollar would return",
        ),
    ):
        if not ks or role == UNFUNDED:
            continue
        if ks is not off_funded:  # unfunded: its first money beats what it needs to win there
            out.append(
                f"Off the hurdle in {span(labels, ks)}: it gets nothing there, though its "
                f"first {_unit(per, ks)} would return {_returns([_first(per[k]) for k in ks])} "
                f"{kpi}{_avg(per, ks)} (carry-over included), {_versus(per, ks, True)}, and no "
                f"rule on it binds there: {_OFF_CAUSE}."
            )
            continue
        for above in (True, False):
            kk = [k for k in ks if (per[k].marginal > per[k].hurdle) == above]
            if kk:
                out.append(
                    f"Off the hurdle in {span(labels, kk)}: {verb} "
                    f"{_returns([per[k].marginal for k in kk])} {kpi} (carry-over included), "
                    f"{'more' if above else 'less'} than the hurdle "
                    f"({_returns([per[k].hurdle for k in kk])}), and no rule on it binds there: "
                    f"{_OFF_CAUSE}."
                )
    off = by.get(PERIOD_UNFUNDED, [])
    if off:
        out.append(
            f"It gets nothing in {span(labels, off)}: its first {_unit(per, off)} there returns "
            f"at most {fmt_ratio(max(_first(per[k]) for k in off))} {kpi}{_avg(per, off)}, "
            f"{_versus(per, off, False)}."
        )
    kept = [k for k in by.get(PERIOD_CAPPED, []) if per[k].spend <= HALF_CENT]
    if kept:
        rules = tuple(dict.fromkeys(lab for k in kept for lab in per[k].rules))
        out.append(
            f"In {span(labels, kept)} {' and '.join(rules)} "
            f"{'keeps' if len(rules) == 1 else 'keep'} it out: its first dollar there would "
            f"return {_returns([per[k].marginal for k in kept])} {kpi}, more than the hurdle "
            f"({_returns([per[k].hurdle for k in kept])})."
        )
    return " ".join(out)


def _slack_reason(
    role: str,
    per: Sequence[PeriodRole],
    labels: Sequence[str],
    kpi: str,
    names: Mapping[str, str],
    slack: str,
) -> str:
    """Why a line item of a min_spend plan whose target does not bind is where it is: the rules
    hold what it gets; any other dollar is spend the target does not need."""
    if role == UNFUNDED:
        best = max(per, key=lambda pr: pr.marginal)
        return (
            f"Not funded: {slack}. A plan that meets the target at least cost spends nothing "
            f"beyond its rules: its first dollar would return at most {fmt_ratio(best.marginal)} "
            f"{kpi} (in {best.period}, carry-over included), but the target does not need it."
        )
    ks = [k for k, pr in enumerate(per) if pr.spend > HALF_CENT]
    rules = tuple(dict.fromkeys(nm for k in ks for nm in per[k].rule_names))
    by = " and ".join(names.get(nm, nm) for nm in rules) or "the rules"
    return (
        f"Held at its spend by {by}: {slack}. Its next dollar returns "
        f"{_returns([per[k].marginal for k in ks])} {kpi} (carry-over included), but the target "
        "does not need it: left to the optimiser it would get only what the rules require."
    )
