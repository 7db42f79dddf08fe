"""Budgetary control on a calendar (contract 7): actuals matched to a plan's weeks by date, the
run-rate projected week by week and checked against the scenario's rules, and the re-plan of a
dated scenario that continues its calendar from the actuals with their carry-over.

Weeks are counted from an *origin* (a dated plan's ``start``; for an undated plan, the first week
of the actuals): week ``k`` runs from ``origin + 7k`` days for seven days, so a row dated by any
day of a week (its Monday, or the Sunday that ends it) lands in that week, and a row before the
origin has a negative week. Monthly actuals are spread evenly over the weeks whose Monday is in
their month (the rule by which contract 7 gives a week to a month).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from optimizer.allocate import Plan
from optimizer.allocate.caps import pad_cap, unpad_cap
from optimizer.allocate.problem import safe_name
from optimizer.calendar import Calendar, week_of_year
from optimizer.formatting import money
from optimizer.response import curves as C
from optimizer.response.model import TouchpointResponse

if TYPE_CHECKING:
    from optimizer.allocate.phased import PhasedProblem, PhasedRow
    from optimizer.response.model import CurveSet
    from optimizer.scenario import Scenario

#: a row broken by less than this (money, plus a relative part) is not flagged
RULE_TOLERANCE = 0.5


def mondays_of_month(year: int, month: int) -> list[_dt.date]:
    """The Mondays inside a calendar month (the weeks contract 7 gives to it)."""
    d = _dt.date(year, month, 1)
    d += _dt.timedelta(days=(7 - d.weekday()) % 7)
    out = []
    while d.month == month:
        out.append(d)
        d += _dt.timedelta(weeks=1)
    return out


def week_of(d: _dt.date, origin: _dt.date) -> int:
    """The week (0 = the week starting at ``origin``; negative before it) containing date ``d``."""
    return (d - origin).days // 7


def on_weeks(
    rows: Sequence[tuple[_dt.date, str, float]], frequency: str, origin: _dt.date
) -> tuple[dict[str, dict[int, float]], set[int]]:
    """Spend per touchpoint per week counted from ``origin``, and the weeks with at least one
    row (for monthly rows: every week of a month with a row)."""
    spend: dict[str, dict[int, float]] = {}
    reported: set[int] = set()
    for d, tid, v in rows:
        if frequency == "month":
            mondays = mondays_of_month(d.year, d.month)
            ks = [week_of(m, origin) for m in mondays]
            share = float(v) / len(ks)
        else:
            ks = [week_of(d, origin)]
            share = float(v)
        by = spend.setdefault(tid, {})
        for k in ks:
            by[k] = by.get(k, 0.0) + share
            reported.add(k)
    return spend, reported


def plan_weeks(plan: Plan, origin: _dt.date) -> np.ndarray:
    """(line items, horizon weeks) planned spend of each week: a phased plan's period spend
    spread over the period's weeks; otherwise the total spread evenly over the horizon."""
    H = int(plan.horizon_weeks)
    W = np.zeros((len(plan.line_items), H))
    for i, li in enumerate(plan.line_items):
        if li.periods:
            for per in li.periods:
                s = week_of(_dt.date.fromisoformat(per.start), origin)
                n = max(int(per.weeks), 1)
                lo, hi = max(s, 0), min(s + n, H)
                if hi > lo:
                    W[i, lo:hi] = float(per.spend) / n
        else:
            W[i, :] = float(li.spend) / H
    return W


def gain(r: TouchpointResponse) -> float:
    """The weight of a week's own spend in its adstock (as in ``allocate.phased``)."""
    if r.adstock is None or not r.adstock.normalize:
        return 1.0
    return 1.0 / C.geometric_steady_factor(r.adstock.decay, None, False)


def decay(r: TouchpointResponse) -> float:
    return 0.0 if r.adstock is None else float(r.adstock.decay)


def adstock(r: TouchpointResponse, weekly: np.ndarray, a0: float = 0.0) -> np.ndarray:
    """``a_t = k x_t + d a_{t-1}`` from ``a_0``, week by week."""
    d, k = decay(r), gain(r)
    out = np.empty(len(weekly))
    a = float(a0)
    for t, x in enumerate(weekly):
        a = k * float(x) + d * a
        out[t] = a
    return out


def effectiveness(r: TouchpointResponse, origin: _dt.date, weeks: int) -> np.ndarray:
    """The touchpoint's seasonal multiplier of each week from ``origin`` (ones when flat)."""
    if r.effectiveness is None:
        return np.ones(weeks)
    e = np.asarray(r.effectiveness, float)
    return np.array(
        [e[week_of_year(origin + _dt.timedelta(weeks=t)) - 1] for t in range(weeks)], float
    )


def weekly_kpi(
    r: TouchpointResponse, weekly: np.ndarray, origin: _dt.date, a0: float = 0.0
) -> np.ndarray:
    """The KPI of each week of a weekly spend path (carry-over from ``a0``, seasonal
    effectiveness by week of year), as contract 7 defines it (undiscounted)."""
    a = adstock(r, weekly, a0)
    return np.asarray(r.curve(a), float) * effectiveness(r, origin, len(weekly))


def carry_in(r: TouchpointResponse, before: Mapping[int, float]) -> float:
    """a_0 left by the spend of the weeks before the origin (keys < 0; a week without a row
    decays through as no spend)."""
    back = {k: v for k, v in before.items() if k < 0}
    if not back:
        return 0.0
    return float(adstock(r, np.array([back.get(k, 0.0) for k in range(min(back), 0)]))[-1])


# ------------------------------------------------------------------------------------------------
# the scenario's rules at the run-rate
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RuleAtRunRate:
    """One rule of the scenario against the spend projected at the current run-rate."""

    name: str
    label: str
    sense: str
    rhs: float
    projected: float
    breaks: bool
    #: what ``rhs`` and ``projected`` are in: ``money``, or for a share rule the ``share`` (of the
    #: spend it is a share of) and for a ratio rule the ``ratio``, as the scenario states them
    unit: str = "money"

    @property
    def by(self) -> float:
        """How far the projection is past the rule (positive: over a cap; negative: under a
        floor), in ``unit``."""
        return round(self.projected - self.rhs, 2 if self.unit == "money" else 6)

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "by": self.by}


def _check(name: str, label: str, sense: str, rhs: float, lhs: float) -> RuleAtRunRate:
    tol = RULE_TOLERANCE + 1e-6 * abs(rhs)
    if sense == "<=":
        bad = lhs > rhs + tol
    elif sense == ">=":
        bad = lhs < rhs - tol
    else:
        bad = abs(lhs - rhs) > tol
    return RuleAtRunRate(name, label, sense, float(rhs), round(float(lhs), 2), bool(bad))


def _check_number(c: Any, values: np.ndarray) -> RuleAtRunRate | None:
    """A share or ratio rule (``c.value`` of ``c.base``) at per-line-item spend ``values``: the
    share or ratio it would reach, against the one it states (its row, ``members − value ·
    base ≤ 0``, says whether it breaks; its left-hand side in money is no number of the rule's:
    a 55% market share cap read "at run-rate 184,500"). None for other rules, or no base spend."""
    if c.value is None or not c.base:
        return None
    base = c.base_lhs(values)
    if base <= 0.005:
        return None
    lhs = c.lhs(values)
    row = _check(c.name, c.label, c.sense, c.rhs, lhs)
    unit = "ratio" if c.kind.startswith("ratio") else "share"
    reached = (lhs + float(c.value) * base) / base
    return RuleAtRunRate(
        c.name, c.label, c.sense, float(c.value), round(reached, 6), row.breaks, unit
    )


def item_key(it: Any) -> str:
    """A problem line item's key in a plan: its touchpoint; over markets ``touchpoint@market``,
    and ``touchpoint@national`` for a national buy (``Plan.LineItem.key``)."""
    if getattr(it, "market", None) is not None:
        return f"{it.id}@{it.market}"
    return f"{it.id}@national" if getattr(it, "split", None) is not None else str(it.id)


def rules_at_run_rate(
    scenario: Scenario,
    model: CurveSet,
    projected: Mapping[str, Mapping[_dt.date, float]],
) -> tuple[list[RuleAtRunRate], list[str]]:
    """Every money rule of ``scenario`` evaluated on the projected weekly spend (touchpoint →
    week's Monday → spend): on a phased scenario the period rules by its calendar, otherwise the
    rules on totals over the horizon. KPI rules are not projected (a note says so)."""
    from optimizer.allocate import make_problem

    notes: list[str] = []
    cal = scenario.calendar
    out: list[RuleAtRunRate] = []
    if cal is not None and scenario.phasing != "none":
        from optimizer.allocate.phased import phased_problem

        fp = phased_problem(scenario, model)
        X = np.zeros((fp.n, fp.P))
        outside = 0.0
        for it in fp.base.items:
            for d, v in (projected.get(item_key(it)) or {}).items():
                t = cal.week_index(d)
                if t is None:
                    outside += v
                    continue
                X[it.index, cal.period_of_week[t]] += v
        if outside > 0.005:
            notes.append(
                f"{money(outside, 'any')} of the projected spend falls outside the scenario's "
                f"horizon ({cal.start.isoformat()} to {cal.end.isoformat()}) and is left out of "
                "its rules"
            )
        numbers = {c.name: c for c in fp.base.constraints if c.value is not None and c.base}
        totals = X.sum(axis=1)
        for row in fp.rows:
            lhs = float(sum(a * X[i, p] for (i, p), a in row.coefs.items()))
            got = _check_number(numbers[row.name], totals) if row.name in numbers else None
            out.append(got or _check(row.name, row.label, row.sense, row.rhs, lhs))
    else:
        problem = make_problem(scenario, model)
        totals = np.zeros(len(problem.items))
        for it in problem.items:
            for d, v in (projected.get(item_key(it)) or {}).items():
                if cal is not None and cal.week_index(d) is None:
                    continue
                totals[it.index] += v
        for c in problem.constraints:
            if c.on_kpi:
                notes.append(f"{c.label}: a rule on the KPI is not projected")
                continue
            lhs = float(sum(a * totals[i] for i, a in c.coefs.items()))
            out.append(_check_number(c, totals) or _check(c.name, c.label, c.sense, c.rhs, lhs))
    # every rule the scenario states is a row above (a touchpoint's own minimum or maximum, in a
    # market too); a line item's implied range (a stage, group, owner or market cap caps each
    # member) is no rule of the scenario: it was listed as one ("the search maximum (500,000)"
    # from a consideration stage cap of 500,000, which the run-rate would "break" with it)
    seen: set[str] = set()
    unique: list[RuleAtRunRate] = []
    for chk in out:
        if chk.name not in seen:
            seen.add(chk.name)
            unique.append(chk)
    return unique, notes


# ------------------------------------------------------------------------------------------------
# the re-plan of a dated, phased scenario
# ------------------------------------------------------------------------------------------------
def _room_left(rows: Sequence[Any], n: int, P: int) -> np.ndarray:
    """Each line item's most spend over the periods left that the reduced rows allow: a cap on a
    sum of spend with positive weights (the budget, a stage's or a group's cap) that covers all
    of a line item's periods holds its total to the cap over its least weight. A budget already
    spent (cap 0) thus holds every line item at 0, as ``make_problem`` implies a line item's
    range from the rules (``implied_bounds``); over the old range the certificate's bound stayed
    above the empty plan, the one plan there is ("not certified, gap 828,834,793,740,951%")."""
    room = np.full(n, np.inf)
    for r in rows:
        if r.sense not in ("<=", "==") or not r.coefs or min(r.coefs.values()) <= 0:
            continue
        least: dict[int, float] = {}
        periods: dict[int, int] = {}
        for (i, _p), a in r.coefs.items():
            least[i] = min(least.get(i, np.inf), a)
            periods[i] = periods.get(i, 0) + 1
        for i, a in least.items():
            if periods[i] == P:
                room[i] = min(room[i], max(r.rhs, 0.0) / a)
    return room


def rest_of_phased(
    full: PhasedProblem,
    spent_weekly: np.ndarray,
    n: int,
    budget_left: float | None,
) -> tuple[PhasedProblem, list[str], np.ndarray]:
    """The phased problem of the weeks ``n..T-1`` of ``full`` given the actual weekly spend of
    weeks ``0..n-1`` (``spent_weekly``: line items × n).

    Every row of ``full`` is linear in its periods' spend, and a period's spend is what was spent
    in its elapsed weeks plus what is still to spend in the rest of it; so each row keeps its
    coefficients on the periods that have weeks left (the first of them may be a part of a
    period) and its right-hand side is reduced by the spend to date: caps already exceeded are
    clipped at 0 with a warning, floors already met fall away. The adstock of the spend to date
    carries into the first week left, and later weeks keep their discount. Returns the problem,
    its warnings, and the KPI bought by the spend to date per line item (weeks 0..n-1)."""
    from optimizer.allocate.phased import PhasedRow, make_phased_problem

    cal = full.calendar
    rest_cal = Calendar(cal.start + _dt.timedelta(weeks=n), cal.weeks - n, cal.phasing)
    label_to_rest = {p.label: k for k, p in enumerate(rest_cal.periods)}
    full_to_rest = {
        p: label_to_rest[per.label]
        for p, per in enumerate(cal.periods)
        if per.label in label_to_rest
    }
    pw = np.array(cal.period_of_week[:n], int)
    spent = np.zeros((full.n, full.P))
    for t in range(n):
        spent[:, pw[t]] += spent_weekly[:, t]
    warnings: list[str] = []
    rows: list[PhasedRow] = []
    for r in full.rows:
        shift = float(sum(a * spent[i, p] for (i, p), a in r.coefs.items()))
        coefs = {(i, full_to_rest[p]): a for (i, p), a in r.coefs.items() if p in full_to_rest}
        positive = all(a >= 0 for a in r.coefs.values())
        if not coefs:
            chk = _check(r.name, r.label, r.sense, r.rhs, shift)
            if chk.breaks:
                warnings.append(f"{r.label} was not kept in the weeks gone by ({money(shift)})")
            continue
        rhs = r.rhs - shift
        label = r.label
        if abs(shift) >= 0.005:
            label = (
                f"{r.label}, less {money(shift, 'any')} already spent"
                if positive
                else f"{r.label}, counting the spend to date"
            )
        if positive and r.sense in ("<=", "==") and rhs < -0.005:
            warnings.append(
                f"{r.label} is already exceeded ({money(shift, 'any')} already spent): nothing "
                "more can go to it"
            )
            rhs = 0.0
        elif positive and r.sense == ">=" and rhs < 0:
            rhs = 0.0
        rows.append(PhasedRow(r.name, r.kind, r.subject, r.sense, float(rhs), coefs, label))
    mif: dict[tuple[int, int], float] = {}
    for (i, p), m in full.min_if_funded.items():
        if p not in full_to_rest:
            continue
        s = float(spent[i, p])
        if s > 0.005:  # already funded in this period: the rest of its "at least" is a floor
            if m - s > 0.005:
                rows.append(
                    PhasedRow(
                        f"tp_period_min_if_funded_rest__{i}_{p}",
                        "tp_period_min",
                        full.base.items[i].id,
                        ">=",
                        m - s,
                        {(i, full_to_rest[p]): 1.0},
                        f"the {full.base.items[i].id} minimum once funded in "
                        f"{cal.periods[p].label}, less {money(s, 'any')} already spent",
                    )
                )
        else:
            mif[(i, full_to_rest[p])] = m
    items = []
    tot = spent.sum(axis=1)
    P_rest = len(rest_cal.periods)
    room = _room_left(rows, full.n, P_rest)
    for it in full.base.items:
        s = float(tot[it.index])
        top = min(max(max(0.0, unpad_cap(it.hi)) - s, 0.0), room[it.index])
        mif_total = it.min_if_funded
        if mif_total and s > 0.005:  # already funded: the rest of its "at least" is a floor
            if mif_total - s > 0.005:
                rows.append(
                    PhasedRow(
                        f"tp_min_if_funded_rest__{safe_name(it.id)}",
                        "tp_min",
                        it.id,
                        ">=",
                        mif_total - s,
                        {(it.index, p): 1.0 for p in range(P_rest)},
                        f"the {it.id} minimum once funded ({money(mif_total, 'any')}), less "
                        f"{money(s, 'any')} already spent",
                    )
                )
            mif_total = None
        if it.block and s > 0.005:
            warnings.append(
                f"{it.id} is bought in blocks of {money(it.block, 'any')}: the re-plan leaves "
                "the blocks out (what was spent need not be a whole number of them)"
            )
        items.append(
            dataclasses.replace(
                it,
                lo=max(0.0, it.lo - s),
                hi=pad_cap(top),
                min_if_funded=mif_total,
                block=it.block if s <= 0.005 else None,
            )
        )
    base_sc = full.base.scenario
    name = f"{base_sc.name} (from {rest_cal.start.isoformat()})"
    sc_rest = base_sc.model_copy(
        update={"name": name, "start": rest_cal.start, "horizon_weeks": rest_cal.weeks}
    )
    if budget_left is not None:
        sc_rest = sc_rest.with_budget(max(0.0, round(budget_left, 2)))
    base = dataclasses.replace(full.base, items=tuple(items), scenario=sc_rest)
    # per adstock stream (a national buy's: its share of the spend, in each market it reaches)
    sitem, sshare = full.stream_item, full.stream_share
    a0 = np.array(
        [
            adstock(r, sshare[j] * spent_weekly[sitem[j]], float(full.carry_in[j]))[-1]
            if n
            else full.carry_in[j]
            for j, r in enumerate(full.responses)
        ]
    )
    eff = None
    if any(r.effectiveness is not None for r in full.responses):
        eff = np.array(
            [
                r.effectiveness if r.effectiveness is not None else (1.0,) * 52
                for r in full.responses
            ]
        )
    done = np.zeros(full.n)  # the KPI bought by the spend to date (its weeks), per line item
    for j, resp in enumerate(full.responses):
        if n:
            A = adstock(resp, sshare[j] * spent_weekly[sitem[j]], float(full.carry_in[j]))
            done[sitem[j]] += float(
                np.sum(np.asarray(resp.curve(A)) * full.effectiveness[j, :n] * full.discount[:n])
            )
    # a rule on the KPI (min_spend's target, a KPI floor) holds over the whole cycle: reduced by
    # the KPI already bought (it was dropped: a min_spend re-plan on plan reached 928,748 of its
    # target of 1,200,000, 'optimal')
    kpi_rows = []
    for kr in full.kpi_rows:
        got = float(sum(a * done[i] for i, a in kr.coefs.items()))
        rhs = kr.rhs - got
        if kr.sense == ">=" and rhs < 0:  # met already: it falls away
            rhs = 0.0
        elif kr.sense != ">=" and rhs < -0.005:
            warnings.append(f"{kr.label} is already exceeded ({money(got, 'any')} bought)")
            rhs = 0.0
        label = kr.label if abs(got) < 0.005 else f"{kr.label}, less {money(got, 'any')} bought"
        kpi_rows.append(dataclasses.replace(kr, rhs=float(rhs), label=label))
    rate = float(base_sc.discount_rate)
    rest = make_phased_problem(
        base,
        full.responses,
        rest_cal,
        carry_in=[float(v) for v in a0],
        effectiveness=eff,
        discount_rate=rate,
        after=full.after.shape[1] > 0,
        rules=rows,
        min_if_funded=mif,
        rules_complete=True,
        streams=full.streams,
        kpi_rows=kpi_rows,
    )
    c = (1.0 + rate) ** (-n / 52.0)  # the rest's weeks keep their place in the cycle's discount
    rest = dataclasses.replace(rest, discount=rest.discount * c, after=rest.after * c)
    return rest, warnings, done
