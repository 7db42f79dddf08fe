"""Plan JSON (contract 6), both ways: ``plan_to_dict`` writes a ``Plan`` as the object
``optimize --format json`` prints, ``plan_from_dict`` reads one back (the ledger's recorded plans,
``diff``), ``read_plan`` reads a plan file with located errors (``track``). The renderers and the
ledger import these; nothing else builds or parses the object.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from optimizer.allocate.plan import (
    ConstraintResult,
    LineItem,
    PeriodAmount,
    Plan,
    Status,
    clean_price,
)
from optimizer.calendar import PHASINGS
from optimizer.errors import DataError
from optimizer.formatting import finite
from optimizer.io.files import ParseProblem, parse_json, read_input_text, short_repr
from optimizer.vocabulary import MAX_MONEY


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    """A plan as contract 6: scenario, status, objective, totals, line items, constraints."""
    total = plan.total_spend
    d: dict[str, Any] = {
        "scenario": plan.scenario,
        "status": plan.status,
        "objective": plan.objective,
        "kpi_name": plan.kpi,
        "horizon_weeks": plan.horizon_weeks,
        "budget": finite(plan.budget),
        "total_spend": total,
        "total_kpi": finite(plan.total_kpi),
        "roi": finite(plan.roi),
        "objective_value": finite(plan.objective_value),
        "bound": finite(plan.bound),
        "gap": finite(plan.gap),
        "solver": plan.solver,
        "line_items": [
            {
                "id": li.id,
                **_where(plan, li),
                "stage": li.stage,
                "spend": li.spend,
                "kpi": finite(li.kpi),
                "roi": finite(li.roi),
                "marginal_roi": finite(li.marginal_roi),
                "binding": list(li.binding),
                "share": (li.spend / total) if total > 0 else 0.0,
                "weekly_spend": finite(li.weekly_spend),
                "reduced_cost": finite(li.reduced_cost),
                **(
                    {"other_kpis": {k: finite(v) for k, v in li.other_kpis.items()}}
                    if li.other_kpis
                    else {}
                ),
                **({"periods": [_period(p) for p in li.periods]} if plan.periods else {}),
                **({"kpi_after": finite(li.kpi_after)} if plan.kpi_after else {}),
            }
            for li in plan.line_items
        ],
        "stages": [
            {"stage": st, "spend": v["spend"], "kpi": finite(v["kpi"])}
            for st, v in plan.stage_totals().items()
        ],
        **_by_market_and_owner(plan),
        **_calendar(plan),
        "constraints": [
            {
                "name": c.name,
                "kind": c.kind,
                "label": c.label,
                "binding": c.binding,
                "shadow_price": finite(clean_price(c.shadow_price)),
                "slack": finite(c.slack),
                "rhs": finite(c.rhs),
            }
            for c in plan.constraints
        ],
    }
    # with a money KPI: where the marginal return crosses 1 + hurdle_rate (a BreakEven from
    # optimizer.workflow.economics, put in extras by the workflow); line items past their data
    be = plan.break_even
    if be is not None:
        d["break_even"] = {
            k: finite(v) if isinstance(v, float) else v for k, v in be.to_dict().items()
        }
    if plan.extras.get("currency"):  # the ISO 4217 code of the money (the model's currency)
        d["currency"] = str(plan.extras["currency"])
    ex = plan.extrapolation
    if ex:
        d["extrapolation"] = [dict(x) for x in ex]
    # line items planned on a prior curve, not on data (optimizer.workflow.untested)
    untested = plan.extras.get("untested")
    if isinstance(untested, list) and untested:
        d["untested"] = [dict(u) for u in untested]
        ids = {u["id"] for u in untested}
        for li in d["line_items"]:
            if li.get("id") in ids:
                li["untested"] = True
    # a PlanningUnits (optimizer.workflow.planning_units): min_line_item, round_to, their costs
    units_dict = getattr(plan.extras.get("planning_units"), "to_dict", None)
    if callable(units_dict):
        d["planning_units"] = units_dict()
    anchored = anchored_dict(plan)
    if anchored is not None:  # recorded with the plan: the ledger, history show and diff say so
        d["robust"] = anchored
    auto = plan.extras.get("auto")
    if isinstance(auto, Mapping):  # optimize --robust auto (the default): which plan, and why
        d.setdefault("robust", {"mode": "none", "objective": "KPI on the model's point curves"})
        d["robust"]["auto"] = {k: finite(v) if isinstance(v, float) else v for k, v in auto.items()}
    if plan.status != "optimal" or plan.conflicts:
        d["conflicts"] = list(plan.conflicts)
        d["message"] = plan.message
    return d


#: the keys of an anchored plan's ``robust`` block (``optimize --robust anchored``) taken from the
#: plan's extras, as ``optimizer.workflow.anchored`` puts them there
ANCHORED_KEYS = (
    "draws",
    "without_draws",
    "anchor",
    "risk",
    "step",
    "first_feasible_step",
    "anchor_breaks",
    "anchor_mix",
    "anchor_start",
    "anchor_moved",
    "risk_measure",
    "full_pooling",
    "uplift",
    "uplift_sd",
    "uplift_shortfall",
    "certificate",
    "point_optimum",
)


def anchored_dict(plan: Plan) -> dict[str, Any] | None:
    """The JSON's ``robust`` block of an anchored plan (None for any other plan)."""
    ex = plan.extras
    if ex.get("robust") != "anchored":
        return None
    d: dict[str, Any] = {
        "objective": "uplift over the historical mix on the point curves less risk times "
        "its risk_measure across the model's draws (shortfall: the root mean square of how "
        "far the draws' uplift falls below it; sd: their standard deviation, where the fit "
        "pooled every touchpoint), on the line from the historical mix to the optimum on the "
        "point curves (from anchor_start, the plan nearest the historical mix that holds "
        "every rule, when the historical mix breaks one)",
        "mode": "anchored",
    }
    d.update({k: ex.get(k) for k in ANCHORED_KEYS})
    ids = d["without_draws"]
    d["without_draws"] = [str(t) for t in ids] if isinstance(ids, list | tuple) else []
    return d


def _period(p: PeriodAmount) -> dict[str, Any]:
    d: dict[str, Any] = {
        "period": p.period,
        "start": p.start,
        "weeks": p.weeks,
        "spend": p.spend,
        "kpi": finite(p.kpi),
    }
    if p.marginal_roi is not None:
        d["marginal_roi"] = finite(p.marginal_roi)
    return d


def _calendar(plan: Plan) -> dict[str, Any]:
    """Contract 7: a dated plan's start and phasing, its totals by period, the KPI after it."""
    d: dict[str, Any] = {}
    if plan.start is not None:
        d["start"] = plan.start
        d["phasing"] = plan.phasing
    if plan.periods:
        d["periods"] = [_period(p) for p in plan.periods]
    if plan.kpi_after:
        d["kpi_after"] = finite(plan.kpi_after)
    return d


def _periods_from(raw: Any) -> tuple[PeriodAmount, ...]:
    out = []
    for p in raw or ():
        out.append(
            PeriodAmount(
                period=str(p["period"]),
                start=str(p.get("start", "")),
                weeks=int(p.get("weeks") or 0),
                spend=float(p.get("spend") or 0.0),
                kpi=float(p.get("kpi") or 0.0),
                marginal_roi=None if p.get("marginal_roi") is None else float(p["marginal_roi"]),
            )
        )
    return tuple(out)


def _where(plan: Plan, li: Any) -> dict[str, Any]:
    """A line item's market (contract 8; None for a national buy, with its ``split``) and owner."""
    d: dict[str, Any] = {}
    if plan.has_markets:
        d["market"] = li.market
        if li.market is None:
            d["split"] = {m: finite(w) for m, w in li.shares.items()}
            d["kpi_by_market"] = {m: finite(v) for m, v in li.market_kpi.items()}
    if li.owner:
        d["owner"] = li.owner
    return d


def _by_market_and_owner(plan: Plan) -> dict[str, Any]:
    d: dict[str, Any] = {}
    if plan.has_markets:
        d["markets"] = [
            {"market": m, "spend": v["spend"], "kpi": finite(v["kpi"])}
            for m, v in plan.market_totals().items()
        ]
    owners = plan.owner_totals()
    if owners:
        d["owners"] = [
            {"owner": o, "spend": v["spend"], "kpi": finite(v["kpi"])} for o, v in owners.items()
        ]
    return d


def _market_fields(li: Mapping[str, Any]) -> dict[str, Any]:
    """A recorded line item's market, split and owner (contract 8), when it has them."""
    out: dict[str, Any] = {}
    if li.get("owner"):
        out["owner"] = str(li["owner"])
    if "market" not in li:
        return out
    m = li.get("market")
    if m is not None:
        kpi = float(li.get("kpi") or 0.0)
        out.update(market=str(m), shares={str(m): 1.0}, market_kpi={str(m): kpi})
    else:
        out["shares"] = {str(k): float(v or 0.0) for k, v in (li.get("split") or {}).items()}
        out["market_kpi"] = {
            str(k): float(v or 0.0) for k, v in (li.get("kpi_by_market") or {}).items()
        }
    return out


def plan_from_dict(d: Mapping[str, Any]) -> Plan:
    """A ``Plan`` from its contract-6 JSON (for tables and comparisons of recorded plans).

    What JSON does not carry (constraint senses and left-hand sides, line items' bounds, timings)
    is left at its default.
    """
    items = tuple(
        LineItem(
            id=str(li["id"]),
            stage=str(li.get("stage", "")),
            spend=float(li["spend"]),
            kpi=float(li.get("kpi") or 0.0),
            roi=None if li.get("roi") is None else float(li["roi"]),
            marginal_roi=float(li.get("marginal_roi") or 0.0),
            binding=tuple(li.get("binding") or ()),
            weekly_spend=float(li.get("weekly_spend") or 0.0),
            **_market_fields(li),
            periods=_periods_from(li.get("periods")),
            kpi_after=float(li.get("kpi_after") or 0.0),
        )
        for li in d.get("line_items", [])
    )
    cons = tuple(
        ConstraintResult(
            name=str(c["name"]),
            kind=str(c.get("kind", "")),
            subject="",
            label=str(c.get("label", c["name"])),
            sense="",
            rhs=float(c.get("rhs") or 0.0),
            lhs=float("nan"),
            slack=float(c.get("slack") or 0.0),
            binding=bool(c.get("binding")),
            shadow_price=None if c.get("shadow_price") is None else float(c["shadow_price"]),
        )
        for c in d.get("constraints", [])
    )
    stages = tuple(str(s["stage"]) for s in d.get("stages", []))
    return Plan(
        scenario=str(d.get("scenario", "")),
        status=Status(str(d.get("status", "optimal"))),
        objective=str(d.get("objective", "max_kpi")),
        kpi=str(d.get("kpi_name", "kpi")),
        horizon_weeks=int(d.get("horizon_weeks") or 13),
        budget=None if d.get("budget") is None else float(d["budget"]),
        line_items=items,
        constraints=cons,
        objective_value=None if d.get("objective_value") is None else float(d["objective_value"]),
        bound=None if d.get("bound") is None else float(d["bound"]),
        gap=None if d.get("gap") is None else float(d["gap"]),
        solver=str(d.get("solver", "")),
        conflicts=tuple(d.get("conflicts") or ()),
        message=str(d.get("message", "")),
        stages=stages,
        markets=tuple(str(m["market"]) for m in d.get("markets") or []),
        start=None if d.get("start") is None else str(d["start"]),
        phasing=str(d.get("phasing", "none")),
        periods=_periods_from(d.get("periods")),
        kpi_after=float(d.get("kpi_after") or 0.0),
        extras=_extras_from(d),
    )


def _extras_from(d: Mapping[str, Any]) -> dict[str, Any]:
    """What the plan's extras carry back from its JSON: the currency, an anchored plan's
    ``robust`` block, what ``--robust auto`` chose (``robust.auto``)."""
    ex: dict[str, Any] = {"currency": str(d["currency"])} if d.get("currency") else {}
    rob = d.get("robust")
    if isinstance(rob, Mapping) and rob.get("mode") == "anchored":
        ex["robust"] = "anchored"
        ex.update({k: rob[k] for k in ANCHORED_KEYS if k in rob})
    if isinstance(rob, Mapping) and isinstance(rob.get("auto"), Mapping):
        ex["auto"] = dict(rob["auto"])
    return ex


def read_plan(path: str | Path) -> Plan:
    """One plan from a file ``budgetopt optimize --format json`` wrote; every problem a
    ``DataError`` naming the file, the field and the value."""

    path = Path(path)
    text = read_input_text(path, DataError, "plan file")
    try:
        data = parse_json(text)
    except (json.JSONDecodeError, ParseProblem) as e:
        raise DataError(
            f"not valid JSON (a plan file is what optimize --format json writes): {e}", path=path
        ) from None
    if isinstance(data, dict) and isinstance(data.get("scenarios"), list):
        raise DataError(
            "expected one plan, as budgetopt optimize --format json writes it (a comparison "
            "holds several: pick one with budgetopt history show, or track RUN:SCENARIO)",
            path=path,
        )
    if not isinstance(data, dict) or not isinstance(data.get("line_items"), list):
        raise DataError(
            "expected one plan, as budgetopt optimize --format json writes it (an object with "
            "'line_items')",
            path=path,
            field="line_items",
        )
    horizon = data.get("horizon_weeks")
    if isinstance(horizon, bool) or not isinstance(horizon, int) or horizon < 1:
        raise DataError(
            f"expected a whole number of weeks of at least 1, got {horizon!r}: a plan written by "
            "budgetopt optimize --format json has it",
            path=path,
            field="horizon_weeks",
        )
    status = data.get("status", "optimal")
    if not isinstance(status, str) or status not in {s.value for s in Status}:
        raise DataError(
            f"expected a plan status ({', '.join(s.value for s in Status)}), got {status!r}",
            path=path,
            field="status",
        )
    for k, li in enumerate(data["line_items"]):
        ok = isinstance(li, dict) and isinstance(li.get("id"), str)
        spend = li.get("spend") if isinstance(li, dict) else None
        if not ok or isinstance(spend, bool) or not isinstance(spend, (int, float)):
            # the values at fault, not the whole line item (its periods run to pages)
            got = (
                f"id {short_repr(li.get('id'))}, spend {short_repr(spend)}"
                if isinstance(li, dict)
                else short_repr(li)
            )
            raise DataError(
                f"line item {k + 1} needs an 'id' (text) and a 'spend' (a number), got {got}",
                path=path,
                field=f"line_items[{k}]",
            )
    start = data.get("start")
    if start is not None:  # contract 7: a dated plan's weeks run Monday to Sunday from it
        try:
            monday = dt.date.fromisoformat(str(start))
        except ValueError:
            monday = None
        if monday is None or monday.weekday() != 0:
            raise DataError(
                f"expected the plan's first Monday as YYYY-MM-DD, got {short_repr(start)}"
                + ("" if monday is None else f" (a {monday.strftime('%A')})"),
                path=path,
                field="start",
            )
    _check_line_items(data, path)
    _check_periods(data, horizon, path)
    return plan_from_dict(data)


def _money(v: Any) -> bool:
    """An amount of money from 0 to ``MAX_MONEY`` (docs/cli.md's range of every spend; JSON
    numbers; NaN never gets this far)."""
    return not isinstance(v, bool) and isinstance(v, (int, float)) and 0 <= v <= MAX_MONEY


#: what ``_money`` takes, in words
_MONEY_RANGE = f"a spend from 0 to {MAX_MONEY:,.0f}"


def _check_line_items(data: Mapping[str, Any], path: Path) -> None:
    """Each line item's spend is at least 0, and no line item (touchpoint, market) is listed
    twice: the actuals of a touchpoint are matched to one line item."""
    seen: dict[tuple[str, Any], int] = {}
    for k, li in enumerate(data["line_items"]):
        if not _money(li["spend"]):
            raise DataError(
                f"line item {li['id']!r}: expected {_MONEY_RANGE}, got {short_repr(li['spend'])}",
                path=path,
                field=f"line_items[{k}].spend",
            )
        key = (li["id"], li.get("market"))
        if key in seen:
            what = li["id"] if li.get("market") is None else f"{li['id']}@{li['market']}"
            raise DataError(
                f"line item {what!r} is listed twice (line items {seen[key] + 1} and {k + 1}): "
                "the actuals of a touchpoint are matched to one line item",
                path=path,
                field=f"line_items[{k}].id",
            )
        seen[key] = k


def _check_periods(data: Mapping[str, Any], horizon: int, path: Path) -> None:
    """A phased plan's calendar (contract 7) as ``optimize`` writes it: ``phasing`` one of
    week|month|quarter|none; the plan's ``periods`` (or, without them, its first line item's)
    dated Mondays of whole weeks that add up to ``horizon_weeks``; every line item with the same
    periods, each period's spend at least 0, adding up to the line item's spend to the cent (per
    period). A hand-edited spend that its periods no longer add up to would be tracked by the
    periods and totalled by the spend."""
    phasing = data.get("phasing", "none")
    if phasing not in PHASINGS:
        raise DataError(
            f"expected one of {', '.join(PHASINGS)}, got {short_repr(phasing)}",
            path=path,
            field="phasing",
        )
    items = data["line_items"]
    phased = [k for k, li in enumerate(items) if li.get("periods") is not None]
    top = data.get("periods")
    if top is None and not phased:
        return
    where = "periods" if top is not None else f"line_items[{phased[0]}].periods"
    ref = top if top is not None else items[phased[0]]["periods"]
    if not isinstance(ref, list) or not ref:
        raise DataError(
            f"expected a list of periods, got {short_repr(ref)}", path=path, field=where
        )
    for j, p in enumerate(ref):
        at = f"{where}[{j}]"
        if not isinstance(p, Mapping) or not isinstance(p.get("period"), str):
            raise DataError(
                f"expected a period with its 'period' label, 'start', 'weeks' and 'spend', got "
                f"{short_repr(p)}",
                path=path,
                field=at,
            )
        try:
            monday = dt.date.fromisoformat(str(p.get("start")))
        except ValueError:
            monday = None
        if monday is None or monday.weekday() != 0:
            raise DataError(
                f"period {p['period']!r}: expected its first Monday as YYYY-MM-DD, got "
                f"{short_repr(p.get('start'))}",
                path=path,
                field=f"{at}.start",
            )
        w = p.get("weeks")
        if isinstance(w, bool) or not isinstance(w, int) or w < 1:
            raise DataError(
                f"period {p['period']!r}: expected a whole number of weeks of at least 1, got "
                f"{short_repr(w)}",
                path=path,
                field=f"{at}.weeks",
            )
    weeks = sum(int(p["weeks"]) for p in ref)
    if weeks != horizon:
        raise DataError(
            f"the periods cover {weeks} weeks, the plan's horizon_weeks is {horizon}",
            path=path,
            field=where,
        )
    for k, li in enumerate(items):
        at = f"line_items[{k}].periods"
        ps = li.get("periods")
        if not isinstance(ps, list) or len(ps) != len(ref):
            got = f"{len(ps)} periods" if isinstance(ps, list) else short_repr(ps)
            raise DataError(
                f"line item {li['id']!r}: expected its spend in each of the plan's {len(ref)} "
                f"periods, got {got}",
                path=path,
                field=at,
            )
        for j, (p, r) in enumerate(zip(ps, ref, strict=True)):
            same = isinstance(p, Mapping) and all(
                p.get(key) == r.get(key) for key in ("period", "start", "weeks")
            )
            if not same or not _money(p.get("spend")):
                got = (
                    ", ".join(
                        f"{key} {short_repr(p.get(key))}"
                        for key in ("period", "start", "weeks", "spend")
                        if key == "period" or p.get(key) != r.get(key)
                    )
                    if isinstance(p, Mapping)
                    else short_repr(p)
                )
                raise DataError(
                    f"line item {li['id']!r}: expected period {r['period']!r} (from "
                    f"{r['start']}, {r['weeks']} weeks) with {_MONEY_RANGE}, got {got}",
                    path=path,
                    field=f"{at}[{j}]",
                )
        total = sum(float(p["spend"]) for p in ps)
        if abs(total - float(li["spend"])) > 0.005 * len(ps) + 1e-9 * abs(total):
            raise DataError(
                f"line item {li['id']!r}: its periods' spend adds up to {total:,.2f}, its spend "
                f"is {float(li['spend']):,.2f}",
                path=path,
                field=f"line_items[{k}].spend",
            )
