"""Diffing two recorded plans over the same weeks.

A re-plan (``budgetopt replan``) covers the weeks left of its cycle; the plan it re-plans covers the
whole cycle. ``same_weeks`` takes the whole-cycle plan over the re-plan's weeks only, so that
``budgetopt diff PLAN REPLAN`` compares like with like: a plan on a calendar keeps its periods
that start on or after the re-plan's first week, and of a period partly gone by its remaining
weeks' share (spend exactly; its KPI in those weeks as the re-plan computed it, when the plan is
the one it started from, else pro rata); an undated plan (spend spread evenly, KPI in a
steady state) keeps ``remaining / horizon`` of each line item's spend and KPI (exact under
contract 4's even spread: each week of it buys the same). A plan of another cycle (another start
or horizon than the re-plan's ``cycle_start`` and ``horizon_weeks``) is left as it is, and said.
Anything else is left as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def replan_block(run: Any, plan: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The ``replan`` block of a recorded re-plan (in the plan, or the run's ``extra``)."""
    block = plan.get("replan")
    if isinstance(block, Mapping):
        return block
    extra = getattr(run, "extra", None) or {}
    block = extra.get("replan") if isinstance(extra, Mapping) else None
    return block if isinstance(block, Mapping) else None


def same_weeks(
    a: dict[str, Any], run_a: Any, b: dict[str, Any], run_b: Any
) -> tuple[dict[str, Any], dict[str, Any], str | None]:
    """``a`` and ``b`` over the same weeks when one is a re-plan of a longer plan; a note saying
    what was done (None when nothing was)."""
    ra, rb = replan_block(run_a, a), replan_block(run_b, b)
    if ra is not None and rb is not None:
        return a, b, _two_replans(ra, rb)
    if (ra is None) == (rb is None):
        return a, b, None
    if rb is not None:
        trimmed, note = _trim(a, rb)
        return trimmed, b, note
    assert ra is not None  # exactly one of ra, rb is None, and rb is
    trimmed, note = _trim(b, ra)
    return a, trimmed, note


def _two_replans(ra: Mapping[str, Any], rb: Mapping[str, Any]) -> str | None:
    """Two re-plans of different weeks (made after 4 and after 9 weeks of one cycle) are
    compared as they are, and said: the Δ holds the weeks between, spent when one was made and
    still to plan in the other (-170,000 of spend and -482,803 of KPI read as a change of plan,
    with no word)."""
    sa, sb = ra.get("replan_start"), rb.get("replan_start")
    wa, wb = ra.get("remaining_weeks"), rb.get("remaining_weeks")
    if sa == sb and wa == wb:
        return None
    return (
        f"not the same weeks: the first re-plan covers {wa} weeks"
        + (f" from {sa}" if sa else "")
        + f", the second {wb} weeks"
        + (f" from {sb}" if sb else "")
        + ": they are compared as they are, and the Δ holds the weeks one covers and the other "
        "does not (spent by the time of the later one)"
    )


def _trim(plan: dict[str, Any], block: Mapping[str, Any]) -> tuple[dict[str, Any], str | None]:
    elapsed = int(block.get("weeks_elapsed") or 0)
    horizon = int(plan.get("horizon_weeks") or 0)
    left = horizon - elapsed
    if elapsed <= 0 or left <= 0:
        return plan, None
    cycle, start = block.get("cycle_start"), plan.get("start")
    weeks = int(block.get("horizon_weeks") or horizon)
    if (cycle and start and str(cycle) != str(start)) or weeks != horizon:
        # another cycle: its weeks after the re-plan's elapsed ones are not the re-plan's (a plan
        # from 2027-02-01 was cut to 'weeks 7 to 13', 11 weeks of it beside the re-plan's 7)
        return plan, (
            f"not the same weeks: the re-plan continues a cycle of {weeks} weeks"
            + (f" from {cycle}" if cycle else "")
            + f", the plan is {horizon} weeks"
            + (f" from {start}" if start else "")
            + ": they are compared as they are"
        )
    rest_start = block.get("replan_start")
    items = []
    periods = plan.get("periods")
    if periods and rest_start:
        partly = False
        exact = _exact_kpi(plan, block)
        for li in plan.get("line_items", []):
            kept = []
            for p in li.get("periods") or []:
                part = _rest_of_period(p, str(rest_start))
                if part is not None:
                    kept.append(part)
                    partly = partly or part is not p
            spend = round(sum(float(p.get("spend") or 0.0) for p in kept), 2)
            # what the plan earns after its horizon is in the re-plan's KPI too
            kpi = sum(float(p.get("kpi") or 0.0) for p in kept) + float(li.get("kpi_after") or 0.0)
            if exact is not None:
                kpi = exact[_key(li)]
            items.append({**li, "spend": spend, "kpi": kpi, "periods": kept})
        how = f"its periods from {rest_start}"
        if partly:
            how += (
                ", and of the period partly gone by its remaining weeks' share (spend exactly, "
                "as spread evenly over its weeks; KPI "
                + (
                    "in its remaining weeks, carry-over included, as the re-plan counted it)"
                    if exact is not None
                    else "pro rata)"
                )
            )
    else:
        f = left / horizon
        for li in plan.get("line_items", []):
            items.append(
                {
                    **li,
                    "spend": round(float(li.get("spend") or 0.0) * f, 2),
                    "kpi": float(li.get("kpi") or 0.0) * f,
                }
            )
        how = f"{left} of its {horizon} weeks, spend and KPI spread evenly"
    # its average week over the weeks kept (the whole cycle's read 42,127.44 a week beside
    # 190,031.50 over 9 weeks)
    items = [{**li, "weekly_spend": li["spend"] / left} for li in items]
    out = {
        **plan,
        "horizon_weeks": left,
        "line_items": items,
        "total_spend": round(sum(li["spend"] for li in items), 2),
        "total_kpi": sum(li["kpi"] for li in items),
    }
    out.pop("periods", None)
    return out, (
        f"the same weeks: the plan is taken over the re-plan's {left} weeks "
        f"(weeks {elapsed + 1} to {horizon} of its cycle: {how})"
    )


def _key(li: Mapping[str, Any]) -> str:
    """A plan JSON line item's key: its touchpoint, ``touchpoint@market`` over markets."""
    return f"{li.get('id')}@{li['market']}" if li.get("market") else str(li.get("id"))


def _exact_kpi(plan: Mapping[str, Any], block: Mapping[str, Any]) -> dict[str, float] | None:
    """Each line item's KPI of ``plan`` in the re-plan's weeks as the re-plan computed it on the
    model (``original_kpi_in_replan_weeks``), when ``plan`` is the plan the re-plan started from
    (each line item's spend its ``original``, to the cent); else None."""
    exact = block.get("original_kpi_in_replan_weeks")
    lines = block.get("line_items")
    if not isinstance(exact, Mapping) or not isinstance(lines, list):
        return None
    original = {str(x.get("id")): x.get("original") for x in lines if isinstance(x, Mapping)}
    out = {}
    for li in plan.get("line_items", []):
        k, o = _key(li), original.get(_key(li))
        if k not in exact or o is None or abs(float(o) - float(li.get("spend") or 0.0)) > 0.01:
            return None
        out[k] = float(exact[k])
    return out


def _rest_of_period(p: Mapping[str, Any], rest_start: str) -> Mapping[str, Any] | None:
    """A plan's period over the weeks from ``rest_start`` on: the period itself when it starts
    then or later, None when it ends before, else its remaining weeks' share (a period partly gone
    by: the re-plan's first period is the rest of it, and leaving it out compared February's last
    two weeks of the re-plan with nothing of the plan)."""
    import datetime as dt

    start, weeks = str(p.get("start") or ""), int(p.get("weeks") or 0)
    if start >= rest_start:
        return p
    try:
        first, rest = dt.date.fromisoformat(start), dt.date.fromisoformat(rest_start)
    except ValueError:
        return None
    left = weeks - (rest - first).days // 7
    if weeks <= 0 or left <= 0:
        return None
    f = left / weeks
    return {
        **p,
        "start": rest_start,
        "weeks": left,
        "spend": round(float(p.get("spend") or 0.0) * f, 2),
        "kpi": float(p.get("kpi") or 0.0) * f,
    }
