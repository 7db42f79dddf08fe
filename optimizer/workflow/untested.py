"""Untested touchpoints: line items planned on a prior curve (``optimizer.response.prior``), not on
data, and the lift test the value of information recommends for each.

Every plan that funds one lists it (``untested`` in the plan JSON, a line under the table, a
warning in the review pack). With ``optimize --uncertainty`` the prior's draws span its ROI range,
so the value of information prices the test: the touchpoint's one-at-a-time EVPPI is what knowing
its curve would be worth to the plan (in KPI over the horizon), and the **test budget** is the
median spend the plans re-optimised on each draw give it (P50: what the plan would spend if it
knew the curve, the spend a lift test should run at to read the ROI where it matters). A test
that costs less than the EVPPI pays.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from optimizer.allocate import Plan
from optimizer.response.model import CurveSet


def untested_items(plan: Plan, model: CurveSet) -> list[dict[str, Any]]:
    """The plan's line items whose touchpoint is planned on a prior, with the prior's terms."""
    out = []
    for li in plan.line_items:
        tp = model.touchpoints.get(li.id)
        prior = getattr(tp, "prior", None)
        if prior is None:
            continue
        out.append(
            {
                "id": li.id,
                "spend": li.spend,
                "roi_range": list(prior.get("roi_range", ())),
                "reference_spend": prior.get("reference_spend"),
                **({"like": prior["like"]} if prior.get("like") else {}),
            }
        )
    return out


def lift_tests(uncertainty: Any, model: CurveSet) -> list[dict[str, Any]]:
    """Per untested line item, the value-of-information's recommendation: its EVPPI and the test
    budget (the P50 of its re-optimised spend across the draws)."""
    plan = uncertainty.plan
    evppi: Mapping[str, float] = {}
    voi = uncertainty.value_of_information
    if voi is not None:
        evppi = {t.id: t.evppi for t in voi.touchpoints}
    spread = {it.id: it for it in uncertainty.items}
    out = []
    for u in untested_items(plan, model):
        s = spread.get(u["id"])
        v = evppi.get(u["id"])
        out.append(
            {
                **u,
                "evppi": None if v is None or not math.isfinite(v) else float(v),
                "test_budget": None if s is None else float(s.spend_spread.p50),
                "spend_p10": None if s is None else float(s.spend_spread.p10),
                "spend_p90": None if s is None else float(s.spend_spread.p90),
            }
        )
    return out


def untested_sentence(u: Mapping[str, Any], money: Any, kpi: str) -> str:
    """One line about an untested line item (``money`` formats an amount)."""
    lo, hi = (u.get("roi_range") or [math.nan, math.nan])[:2]
    like = f"like {u['like']}, " if u.get("like") else ""
    text = (
        f"{u['id']} is untested: planned on a prior ({like}ROI {lo:g} to {hi:g} at "
        f"{money(u.get('reference_spend') or 0.0)} a week), not on data"
    )
    if "evppi" in u:
        if u.get("evppi") is not None:
            text += (
                f"; a lift test is worth up to {money(u['evppi'])} {kpi} (EVPPI); test budget "
                f"{money(u.get('test_budget') or 0.0)} over the horizon (P50 of its spend "
                f"across the draws, P10 {money(u.get('spend_p10') or 0.0)} to P90 "
                f"{money(u.get('spend_p90') or 0.0)})"
            )
        else:
            text += f"; a lift test at {money(u.get('test_budget') or 0.0)} reads its ROI"
    else:
        text += "; optimize --uncertainty prices a lift test on it (its EVPPI and test budget)"
    return text + "."
