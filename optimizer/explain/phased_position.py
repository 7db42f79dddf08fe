"""Where each line item of a plan on a calendar sits on its curve, and its KPI over the model's
draws (``explain.phased``), as the undated review says it of a plan spread evenly (``sentences.
curve_position``).

A phased plan spends at its own weekly rate in every period, so its position is a range: each
funded period's weekly spend against the weekly spend in the history (``spend_range``: beyond the
most ever spent is extrapolation) and against the curve's saturation level (the steady-state
weekly KPI at that rate over the level the curve approaches). Its spread is the line item's KPI
over the horizon (carry-over in and out, seasonality, discount: what the plan reports) with the
plan's period spend held, on each of the model's joint draws: draw k of every touchpoint, its
adstock and so its carry-over before the start included; and the plan's total over the same draws.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from optimizer.explain.formatting import fmt_amount
from optimizer.explain.sentences import review_draws
from optimizer.explain.types import HALF_CENT, CurvePosition
from optimizer.response.model import CurveSet, ResponseModel


def _pct(lo: float, hi: float) -> str:
    return f"{lo:.0%}" if round(100 * lo) == round(100 * hi) else f"{lo:.0%} to {hi:.0%}"


def phased_position(
    tp: Any,
    spend: Sequence[float],
    weeks: Sequence[float],
    labels: Sequence[str],
    word: str,
    kpi_word: str,
    band: tuple[float, float] | None,
    n_draws: int,
) -> CurvePosition:
    """A line item's position: its funded periods' weekly spend (``spend`` / ``weeks`` by period
    ``labels``) against the history and the saturation level, and ``band`` (P10, P90) of its KPI
    over ``n_draws`` draws."""
    rates = [(s / w, lab) for s, w, lab in zip(spend, weeks, labels, strict=True) if w > 0]
    funded = [(r, lab) for r, lab in rates if r * 1.0 > HALF_CENT]
    sr = dict(tp.spend_range or {})
    lo, hi = sr.get("min"), sr.get("max")
    if not funded:
        return CurvePosition(
            0.0, lo, hi, sr.get("mean"), sr.get("recent"), "unfunded", False, 0.0, None, None,
            n_draws, "Not funded, so no point on the curve.",
        )  # fmt: skip
    top, top_at = max(funded)
    low = min(r for r, _ in funded)
    level = tp.saturation_level
    sat = [float(tp.weekly_kpi(r)) / level if level > 0 else 0.0 for r, _ in funded]
    span = (
        f"{fmt_amount(low)} to {fmt_amount(top)} a week over its funded {word}s (most in {top_at})"
        if fmt_amount(low) != fmt_amount(top)
        else f"{fmt_amount(top)} a week in each {word} it is funded"
    )
    if hi is None:
        where = "unknown"
        s = (
            f"Plans {span}; the model does not record the spend it was fitted on, so whether "
            "this is extrapolation is unknown."
        )
    elif top > hi * (1 + 1e-9):
        where = "beyond"
        beyond = [lab for r, lab in funded if r > hi * (1 + 1e-9)]
        s = (
            f"Extrapolation: {fmt_amount(top)} a week in {top_at} is beyond the most ever spent "
            f"in a week ({fmt_amount(hi)}; {len(beyond)} of its {len(funded)} funded {word}s "
            f"are); the curve there is the model's guess, not evidence. It plans {span}."
        )
    elif lo is not None and top < lo * (1 - 1e-9):
        where = "below"
        s = (
            f"Plans {span}, below the least seen ({fmt_amount(lo)}); the curve there is "
            "interpolated towards zero."
        )
    else:
        where = "inside"
        s = f"Plans {span}, inside the weekly spend seen ({fmt_amount(lo)} to {fmt_amount(hi)})."
    s += f" It sits at {_pct(min(sat), max(sat))} of the curve's saturation level."
    if band is not None:
        s += (
            f" Over {n_draws} draws of the model its {kpi_word} is between {fmt_amount(band[0])} "
            f"and {fmt_amount(band[1])} (P10–P90; the plan's spend by {word} held, carry-over "
            "and seasonality included)."
        )
    return CurvePosition(
        top, lo, hi, sr.get("mean"), sr.get("recent"), where, where == "beyond", max(sat),
        None if band is None else band[0], None if band is None else band[1], n_draws, s,
    )  # fmt: skip


def draw_kpis(
    scenario: Any,
    model: CurveSet,
    X: np.ndarray,
    keys: Sequence[str],
    extra_models: Mapping[str, CurveSet] | None = None,
) -> np.ndarray | None:
    """(draws, n) each line item's KPI over the horizon at the plan's period spend ``X`` (n, P) on
    each joint draw of the model (draw k of every touchpoint), or None when the model has no
    joint draws (none, unequal counts, or a markets index)."""
    from optimizer.allocate.phased import item_kpi, phased_problem

    if not isinstance(model, ResponseModel):
        return None
    draws = {tid: review_draws(tp) for tid, tp in model.touchpoints.items()}
    counts = {len(d) for d in draws.values()}
    if len(counts) != 1 or not next(iter(counts)):
        return None
    out = []
    for k in range(next(iter(counts))):
        mk = ResponseModel(
            model.kpi,
            {tid: d[k] for tid, d in draws.items()},
            model.period,
            fit=model.fit,
            source=model.source,
            currency=model.currency,
        )
        prob = phased_problem(scenario, mk, extra_models=extra_models)
        order = [it.key for it in prob.base.items]
        if order != list(keys):  # pragma: no cover - the same scenario, the same line items
            return None
        out.append(item_kpi(prob, X))
    return np.array(out)


def positions(
    scenario: Any,
    model: CurveSet,
    problem: Any,
    ref: Any,
    X: np.ndarray,
    keys: Sequence[str],
    items: Sequence[Any],
    word: str,
    extra_models: Mapping[str, CurveSet] | None,
) -> tuple[list[Any], tuple[float, float] | None]:
    """Each line item of ``items`` (``PhasedItemExplanation``) with its position on its curve
    and its KPI band over the draws (``phased_position``), and the plan's total band: on one
    market's model (a markets index: not computed)."""
    if not isinstance(model, ResponseModel):
        return list(items), None
    kpis = draw_kpis(scenario, model, X, keys, extra_models)
    labels = [p.period for p in ref.periods]
    weeks = [float(w) for w in problem.weeks_per_period]
    out = []
    for i, x in enumerate(items):
        band = None
        if kpis is not None and x.spend > HALF_CENT:
            band = (float(np.percentile(kpis[:, i], 10)), float(np.percentile(kpis[:, i], 90)))
        pos = phased_position(
            model.touchpoints[x.id],
            list(X[i]),
            weeks,
            labels,
            word,
            problem.base.kpi,
            band,
            0 if kpis is None else len(kpis),
        )
        out.append(dataclasses.replace(x, position=pos))
    if kpis is None:
        return out, None
    tot = kpis.sum(axis=1)
    return out, (float(np.percentile(tot, 10)), float(np.percentile(tot, 90)))
