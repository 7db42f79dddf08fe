"""A plan's amounts as its tables show them: whole units that foot.

A table in whole units adds up on the page: each column (and, in a two-way table, each row)
sums to its total as shown, and that total is the cents total rounded. Each amount shown is its
cents amount rounded down or up (never more than one unit away): the largest-remainder rule of
``formatting.footed`` for a column, the controlled rounding of ``formatting.footed_table`` for a
two-way table (line item x period, period x stage). The same line item, period or stage reads
the same in every table of a plan (the two-way tables keep the one-way amounts as their totals
wherever a rounding that foots allows it, which in practice is always). Machine formats (JSON,
CSV, the workbooks' numbers) keep the cents.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from optimizer.allocate import Plan
from optimizer.explain.types import Explanation, GroupSummary, Ladder, LadderStep
from optimizer.formatting import (
    HALF_CENT,
    footed,
    footed_nested,
    footed_table,
    marked,
    under_one,
)

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class ShownPlan:
    """The whole-unit amounts of one plan's tables (``shown(plan)``)."""

    plan: Plan

    @cached_property
    def spend(self) -> list[float]:
        """Each line item's spend, in the plan's order; they sum to the total spend shown."""
        return footed([li.spend for li in self.plan.line_items], self.plan.total_spend)

    @cached_property
    def kpi(self) -> list[float]:
        """Each line item's KPI; they sum to the total KPI shown."""
        return footed([li.kpi for li in self.plan.line_items], self.plan.total_kpi)

    @property
    def total_spend(self) -> float:
        return float(round(self.plan.total_spend))

    @property
    def total_kpi(self) -> float:
        return float(round(self.plan.total_kpi))

    def breakdown(
        self, totals: dict[str, dict[str, float]], member: str | None = None
    ) -> dict[str, tuple[float, float]]:
        """A breakdown's rows (``plan.stage_totals()``, ``owner_totals()``, ``market_totals()``)
        as shown: ``{name: (spend, kpi)}``, each column footing to the breakdown's own total.
        ``member``: the line items' attribute that names their row (``"stage"``, ``"owner"``);
        a row then reads as the sum of its line items as the line-item table shows them (a row
        of one line item as it), wherever a rounding that foots allows it (``_footed_as``)."""
        spend = [v["spend"] for v in totals.values()]
        kpi = [v["kpi"] for v in totals.values()]
        spends, kpis = footed(spend), footed(kpi)
        if member:
            rows = self._members(totals, member)
            spends = _footed_as(
                spend, spends, {i: sum(self.spend[j] for j in js) for i, js in rows.items()}
            )
            kpis = _footed_as(
                kpi, kpis, {i: sum(self.kpi[j] for j in js) for i, js in rows.items()}
            )
        return {k: (s, p) for k, s, p in zip(totals, spends, kpis, strict=True)}

    def _members(self, totals: Mapping[str, Any], member: str) -> dict[int, list[int]]:
        """Row ``i`` of a breakdown by ``member`` -> the indices of its line items."""
        items = self.plan.line_items
        return {
            i: [j for j, li in enumerate(items) if getattr(li, member, None) == name]
            for i, name in enumerate(totals)
        }

    @cached_property
    def stages(self) -> dict[str, tuple[float, float]]:
        return self.breakdown(self.plan.stage_totals(), "stage")

    @cached_property
    def period_spend(self) -> list[float]:
        """Each period's spend; they sum to the total spend shown."""
        return footed([p.spend for p in self.plan.periods], self.plan.total_spend)

    @cached_property
    def period_kpi(self) -> list[float]:
        """Each period's KPI and, last, the KPI after the horizon (0 without): they sum to the
        total KPI shown."""
        vals = [p.kpi for p in self.plan.periods] + [self.plan.kpi_after or 0.0]
        return footed(vals, self.plan.total_kpi)

    @cached_property
    def _nested(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """One controlled rounding of spend by line item x period with its stage x period
        subtotals (``footed_nested``): (line item cells, stage cells, period totals, stage
        totals). The two tables it feeds are then the same money rounded once: a stage's cell is
        the sum of its line items' cells as shown (a stage of one line item reads as it)."""
        items, periods = self.plan.line_items, self.plan.periods
        stages = list(self.plan.stage_totals())
        cells = np.array([[p.spend for p in li.periods] for li in items], float)
        cells = cells.reshape(len(items), len(periods))
        group = [stages.index(li.stage) for li in items]
        rows, cols = [float(v) for v in self.spend], [float(v) for v in self.period_spend]
        totals = [float(self.stages[st][0]) for st in stages]
        out = footed_nested(
            cells, group, len(stages), self.plan.total_spend, rows=rows, cols=cols, groups=totals
        )
        if (
            out[0].sum(axis=1).tolist() == rows
            and out[2].tolist() == cols
            and out[3].tolist() == totals
        ):
            return out
        # the one-way tables' amounts cannot all be kept with the stages tied to their line
        # items (a stage whose line items all round up: 10.5, 20.5, 30.5 shown 11, 21, 31 but
        # 61.5 as 62): each table rounded on its own, footing both ways, its totals the one-way
        # tables' (a stage's cell may then differ by a unit from its line items' sum)
        by_stage = np.zeros((len(periods), len(stages)))
        np.add.at(by_stage.T, group, cells)
        item_cells = footed_table(cells, self.plan.total_spend, rows=rows, cols=cols)[0]
        stage_cells, p_tot, s_tot, _ = footed_table(
            by_stage, self.plan.total_spend, rows=cols, cols=totals
        )
        return item_cells, stage_cells, p_tot, s_tot

    @cached_property
    def item_period(self) -> list[list[float]]:
        """Spend by line item (rows) and period (columns): each row sums to its line item's
        spend as shown, each column to its period's."""
        cells = np.array([[p.spend for p in li.periods] for li in self.plan.line_items], float)
        return marked(cells.reshape(len(self.plan.line_items), -1), self._nested[0])

    @cached_property
    def period_stage(self) -> tuple[list[list[float]], list[float], list[float]]:
        """Spend by period (rows) and stage (columns, ``plan.stage_totals()``'s order), with the
        row and column totals: each row sums to its period's spend as shown, each column to
        its stage's, each cell to its line items' cells in ``item_period``."""
        stages = list(self.plan.stage_totals())
        cells = np.zeros((len(self.plan.periods), len(stages)))
        for li in self.plan.line_items:
            for k, p in enumerate(li.periods):
                cells[k, stages.index(li.stage)] += p.spend
        _, out, rows, cols = self._nested
        return (
            marked(cells, out),
            marked(cells.sum(axis=1), rows),
            marked(cells.sum(axis=0), cols),
        )


def _footed_as(
    values: Sequence[float], plain: Sequence[float], prefer: Mapping[int, float]
) -> list[float]:
    """``values`` footed (``plain``: ``formatting.footed``'s) keeping the amounts ``prefer``
    gives some of them (another table's, for the same money) wherever a rounding that foots
    allows it: the controlled rounding of the column (``footed_table``), the others as near
    their amounts as that leaves them. ``plain`` itself where it already agrees."""
    if all(float(plain[i]) == float(v) for i, v in prefer.items()):
        return list(plain)
    want = [float(prefer.get(i, np.nan)) for i in range(len(values))]  # the others: nearest
    cells = np.asarray(values, float)[:, None]
    _, rows, _, _ = footed_table(cells, float(sum(values)), rows=want)
    return marked(values, rows)


def shown(plan: Plan) -> ShownPlan:
    """The whole-unit amounts of ``plan``'s tables: the same in the terminal's, the review's and
    every other table of the plan (an amount under 100 too: a column with cents beside whole
    units would not foot)."""
    return ShownPlan(plan)


def shown_ladder(lad: Ladder, spends: Mapping[str, float] | None = None) -> Ladder:
    """The ladder as its tables show it, in whole units that foot: each line item's spend is
    its amount in the line-item table (``formatting.footed`` over the line items, so the
    funded increments sum to the total shown), other edges are rounded; each increment's
    amount is its two edges as shown (to - from), and each cumulative spend the one before
    plus the amount as shown (so the line falls at the total spend shown where the ranking and
    the plan agree; where a rule funds increments below it, at the cumulative spend above it).
    Every edge and amount is within one unit of its cents; a cumulative spend within one unit
    per line item.
    KPI and returns are as they are. ``spends``: the line items' spends as shown elsewhere
    (by ladder name), used when it names every line item of the ladder."""
    ends: dict[str, float] = {}  # each line item's plan spend: its funded increments' top
    for s in lad.steps:
        if s.status in ("funded", "committed"):
            ends[s.item] = max(ends.get(s.item, 0.0), s.spend_to)
        else:
            ends.setdefault(s.item, 0.0)
    for s in lad.blocked:
        ends.setdefault(s.item, s.spend_from)
    at = (
        {k: float(spends[k]) for k in ends}
        if spends is not None and all(k in spends for k in ends)
        else {k: float(v) for k, v in zip(ends, footed(ends.values()), strict=True)}
    )

    def edge(item: str, x: float) -> float:
        # a place of a cent or more shown as 0 is an UnderOne ("<1"), as the line item's spend
        # in the tables: a sub-unit line item's increments read "0–<1", not "0–0"
        return under_one(x, at[item] if abs(x - ends[item]) < HALF_CENT else float(round(x)))

    def step(s: LadderStep, cum: float | None) -> LadderStep:
        a, b = edge(s.item, s.spend_from), edge(s.item, s.spend_to)
        total = s.cumulative_spend if cum is None else cum + b - a
        return replace(
            s,
            spend_from=a,
            spend_to=b,
            amount=under_one(s.spend_to - s.spend_from, b - a),
            cumulative_spend=under_one(s.cumulative_spend, total),
        )

    steps: list[LadderStep] = []
    cum = 0.0
    for s in lad.steps:
        steps.append(step(s, cum))
        cum = steps[-1].cumulative_spend
    line = steps[lad.cutoff - 1].cumulative_spend if 0 < lad.cutoff <= len(steps) else 0.0
    return replace(
        lad,
        steps=tuple(steps),
        blocked=tuple(step(s, None) for s in lad.blocked),
        line_spend=line if lad.cutoff else lad.line_spend,
    )


def _shown_groups(
    groups: tuple[GroupSummary, ...],
    total_last: float | None,
    items: Mapping[str, tuple[float, float, float | None]] | None = None,
) -> tuple[GroupSummary, ...]:
    """A breakdown that covers the plan (stages, markets, owners) as shown: spend, KPI and last
    cycle in whole units that foot, each change the difference of the two amounts shown.
    ``items``: the line items' (spend, KPI, last cycle) as shown, by name: a group reads as the
    sum of its line items as shown (one of one line item as it) wherever a rounding that foots
    allows it."""
    if not groups:
        return groups
    spend = footed([g.spend for g in groups])
    kpi = footed([g.kpi for g in groups])
    lasts = [g.last_cycle for g in groups]
    last = footed(lasts, total_last) if all(v is not None for v in lasts) else lasts
    mine = {
        i: [items[m] for m in g.members]
        for i, g in enumerate(groups)
        if items is not None and g.members and all(m in items for m in g.members)
    }
    if mine:
        spend = _footed_as(
            [g.spend for g in groups], spend, {i: sum(v[0] for v in vs) for i, vs in mine.items()}
        )
        kpi = _footed_as(
            [g.kpi for g in groups], kpi, {i: sum(v[1] for v in vs) for i, vs in mine.items()}
        )
        if all(v is not None for v in lasts) and all(
            v[2] is not None for vs in mine.values() for v in vs
        ):
            pref = {i: sum(float(v[2] or 0.0) for v in vs) for i, vs in mine.items()}
            last = _footed_as(
                [float(v or 0.0) for v in lasts], [float(v or 0.0) for v in last], pref
            )
    return tuple(
        replace(
            g,
            spend=sp,
            kpi=k,
            last_cycle=lc,
            delta=None if g.delta is None or lc is None else sp - lc,
        )
        for g, sp, k, lc in zip(groups, spend, kpi, last, strict=True)
    )


def shown_review(e: Explanation) -> Explanation:
    """A review as its pages show it (``budgetopt explain``'s Markdown and HTML): the line
    items' spend, KPI and last cycle in whole units that foot to the totals shown
    (``formatting.footed``), each change vs last cycle the difference of the two amounts shown;
    the stages, markets and owners likewise over themselves; the ladder as ``shown_ladder``
    with the line items' spends. Totals, returns, shares and sentences are as they are (a
    total is shown rounded, which is what its parts now sum to)."""
    spend = footed([it.spend for it in e.items], e.total_spend)
    kpi = footed([it.kpi for it in e.items], e.total_kpi)
    lasts = [it.last_cycle for it in e.items]
    last = (
        footed(lasts, e.last_cycle_total)
        if e.last_cycle_total is not None and all(v is not None for v in lasts)
        else lasts
    )
    items = tuple(
        replace(
            it,
            spend=sp,
            kpi=k,
            last_cycle=lc,
            delta=None if it.delta is None or lc is None else sp - lc,
        )
        for it, sp, k, lc in zip(e.items, spend, kpi, last, strict=True)
    )
    keys = {
        (it.id if it.market is None else f"{it.id}@{it.market}"): sp
        for it, sp in zip(e.items, spend, strict=True)
    }
    named = {k: (it.spend, it.kpi, it.last_cycle) for k, it in zip(keys, items, strict=True)}
    stages = _shown_groups(e.stages, e.last_cycle_total, named)
    markets = _shown_groups(e.markets, None)
    return replace(
        e,
        items=items,
        stages=stages,
        markets=markets,
        owners=_shown_groups(e.owners, None, named),
        ladder=shown_ladder(e.ladder, keys),
        market_stage=_shown_market_stage(e.market_stage, markets, stages),
    )


def _shown_market_stage(
    cells: Mapping[str, Mapping[str, float]],
    markets: Sequence[GroupSummary],
    stages: Sequence[GroupSummary],
) -> Mapping[str, Mapping[str, float]]:
    """Spend by market x stage as the review shows it: a controlled rounding whose rows sum to
    the markets' spend and whose columns to the stages' as their tables show them (a market's
    row summed to 166,679 beside its 166,680 in the Markets table)."""
    if not cells:
        return cells
    names = list(cells)
    order = list(dict.fromkeys(st for m in names for st in cells[m]))
    a = np.array([[float(cells[m].get(st, 0.0)) for st in order] for m in names])
    by_market = {g.name: g.spend for g in markets}
    by_stage = {g.name: g.spend for g in stages}
    rows = [by_market.get(m, np.nan) for m in names]
    cols = [by_stage.get(st, np.nan) for st in order]
    shown_cells, _, _, _ = footed_table(a, float(a.sum()), rows=rows, cols=cols)
    return {
        m: {st: float(v) for st, v in zip(order, shown_cells[i], strict=True)}
        for i, m in enumerate(names)
    }


def footed_preferring(values: Sequence[float], prefer: Mapping[int, float]) -> list[float]:
    """``values`` as a column shows them (``formatting.footed``: whole units summing to their
    total as shown), keeping the amounts ``prefer`` gives some of them (another table's, for the
    same money) wherever a rounding that foots allows it."""
    return _footed_as(values, footed(values), prefer)


def footed_groups(
    groups: pd.DataFrame, items: pd.DataFrame, member: Mapping[Any, Any]
) -> pd.DataFrame:
    """``groups`` (rows: stages, owners; columns: plans) as a table shows them beside the line
    items as ``items`` shows them (``footed_frame``'s; ``member``: line item -> its row): each
    column footing to its total and each row, wherever a rounding that foots allows it, the sum
    of its line items as shown (a row of one line item reads as it; compare's Brand, the one
    national buy, read 45,603 beside its line item's 45,604)."""
    import pandas as pd

    out = footed_frame(groups, list(groups.columns))
    for c in groups.columns:
        if c not in items.columns:
            continue
        prefer = {}
        for i, name in enumerate(groups.index):
            keys = [k for k, g in member.items() if g == name and k in items.index]
            got = float(sum(float(items.loc[k, c]) for k in keys))
            if keys and abs(got - float(groups[c].iloc[i])) < 1.0:
                prefer[i] = got
        kept = _footed_as(list(groups[c]), list(out[c]), prefer)
        out[c] = pd.Series(kept, index=groups.index, dtype=object)
    return out


def footed_frame(
    df: pd.DataFrame,
    columns: Sequence[Any],
    totals: Mapping[Any, float] | None = None,
) -> pd.DataFrame:
    """``df`` with each of ``columns`` as a table shows it (``formatting.footed``): whole units
    that sum to the column's total as shown (``totals[column]``, else the column's sum); a
    change between two such columns, taken from the amounts shown, then foots too (compare's
    and diff's Δ). Missing values stay missing."""
    import pandas as pd

    out = df.copy()
    for c in columns:
        total = None if totals is None else totals.get(c)
        out[c] = pd.Series(footed(list(df[c]), total), index=df.index, dtype=object)
    return out
