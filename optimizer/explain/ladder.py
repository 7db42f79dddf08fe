"""The zero-based ladder (decision packages): every line item's spend cut into increments,
ranked across the plan by KPI per unit of money, with the line where the budget runs out."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from optimizer.allocate import Plan
from optimizer.explain.roles import ReviewContext
from optimizer.explain.types import (
    CAPPED,
    HALF_CENT,
    HELD_UP,
    NOT_WORTH_MINIMUM,
    ROLE_TOL,
    Ladder,
    LadderStep,
)


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


def build_ladder(
    ctx: ReviewContext,
    plan: Plan,
    items: Mapping[str, tuple[str, tuple[str, ...]]],
    hurdles: np.ndarray,
    n_steps: int,
    step_money: float | None,
    budget: float | None,
    hurdle: float,
    kpi_at: Callable[[Any, np.ndarray], np.ndarray] | None = None,
    price_of: Mapping[str, float] | None = None,
) -> Ladder:
    """Cut each line item's spend into increments, price them, rank them and draw the line.

    Funded increments below a line item's own floor or lock, or forced in by a floor rule that
    holds it up, are committed (ranked first). Two candidate increments beyond each line item's
    plan spend are priced too: those that would clear the hurdle are blocked by a rule (listed
    apart), the rest rank below the line. Within a line item, ranking returns are pooled so that
    they never rise along it (an S-curve's poor first increments go with the ones they unlock).
    ``kpi_at(item, spends)``: the line item's KPI at each total spend (default: its curve at an
    even weekly spread over the horizon; a plan on a calendar passes its own phasing);
    ``price_of[item]``: what a unit of its money costs in budget money (default 1; on a calendar, a
    period under a binding rule on its total costs its hurdle over the budget's): increments are
    ranked by KPI per unit of that cost, and ``hurdles`` are then in the budget's terms.
    """
    weeks = float(ctx.problem.scenario.horizon_weeks)
    total = plan.total_spend
    ref_size = budget if budget else total
    raw: list[dict] = []
    for it in ctx.problem.items:
        li = plan.item(it.key)
        role, names = items[it.key]
        s = li.spend
        i = it.index
        h = float(hurdles[i])
        labels = " and ".join(ctx.labels.get(n, n) for n in names)
        floor_ = min(it.lo, s)
        mif = it.min_if_funded
        if s > HALF_CENT:
            step = step_money if step_money else s / n_steps
            b = list(np.arange(0.0, s, step))
            if b and s - b[-1] < 1e-6 * s:
                b.pop()
            bounds = sorted(set(b) | {s} | ({floor_} if 0 < floor_ < s else set()))
            if mif and mif <= s + HALF_CENT:
                bounds = [0.0] + [x for x in bounds if x >= mif - HALF_CENT]
                if abs(bounds[1] - mif) > HALF_CENT and mif < s:
                    bounds.insert(1, mif)
            bounds[-1] = s
            cand_size = step
        else:
            bounds = [0.0]
            cand_size = mif or (step_money or 0.01 * ref_size)
        cands = (
            [bounds[-1] + cand_size, bounds[-1] + 2 * cand_size]
            if s > HALF_CENT
            else [cand_size, cand_size + (step_money or 0.01 * ref_size)]
        )
        edges = np.array([*bounds, *cands], float)
        f = (
            it.curve.response.horizon_kpi(edges, weeks)
            if kpi_at is None
            else np.asarray(kpi_at(it, edges), float)
        )
        amounts, gains = np.diff(edges), np.diff(f)
        n_funded = len(bounds) - 1
        committed = np.array([edges[k + 1] <= floor_ + HALF_CENT for k in range(len(amounts))])
        disc = ~committed
        rank = amounts * 0.0
        rank[committed] = gains[committed] / np.maximum(amounts[committed], 1e-300)
        if disc.any():
            rank[disc] = _pav(amounts[disc], gains[disc])
        if price_of is not None:
            rank = rank / max(float(price_of.get(it.key, 1.0)), 1e-300)
        tol = ROLE_TOL * max(abs(h), 1e-12)
        for k in range(len(amounts)):
            funded = k < n_funded
            reason = ""
            if funded and committed[k]:
                status = "committed"
                own = ctx.rule("tp_lock", it.key) or ctx.rule("tp_min", it.key)
                reason = ctx.labels[own] if own else "its floor"
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
                    item=it.key,
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
