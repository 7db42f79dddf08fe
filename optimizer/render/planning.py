"""Renderers for the planning cycle: the ledger (history, a run, a diff, a re-run), the costliest
rules of a comparison, plan uncertainty, tracking actuals and re-planning.

Tables are rich renderables (printed by ``tables.print_renderable``); machine formats are JSON
texts and CSV texts built from ``machine``'s contract-6 objects, extended, never changed.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from optimizer.allocate import Plan
from optimizer.allocate.plan_json import plan_from_dict
from optimizer.formatting import (
    csv_text,
    delta,
    delta_shown,
    finite,
    jsonable,
    money,
    ratio,
    share,
)
from optimizer.formatting import step as fmt_step
from optimizer.render import machine
from optimizer.render.footing import footed_frame, footed_preferring, shown
from optimizer.render.tables import anchored_status, comparison_renderable, plan_renderable
from optimizer.workflow.compare import Comparison
from optimizer.workflow.control import Replan, Tracking, TrackLine
from optimizer.workflow.ledger import Run
from optimizer.workflow.robust import Uncertainty

if TYPE_CHECKING:
    import pandas as pd


def _when(iso: str) -> str:
    """An ISO UTC timestamp as local time, to the minute."""
    try:
        t = _dt.datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return iso
    return t.astimezone().strftime("%Y-%m-%d %H:%M")


# ------------------------------------------------------------------------------------------------
# compare: the costliest rules
# ------------------------------------------------------------------------------------------------
def costly_renderable(comp: Comparison) -> Table | Text:
    """Per scenario, the binding rules that cost the most (gain if relaxed by 10%)."""
    rows = [(p.scenario, c) for k, p in enumerate(comp.plans) for c in comp.costs_of(k)]
    if not rows:
        return Text("no binding rule besides the budget holds any scenario back", style="dim")
    t = Table(
        box=box.SIMPLE_HEAD,
        title="which rules cost the most (gain if relaxed by 10%)",
        title_justify="left",
    )
    for col in ("scenario", "rule", "shadow price", "relaxed by", "gain"):
        t.add_column(col, justify="left" if col in ("scenario", "rule") else "right")
    last = None
    for name, c in rows:
        t.add_row(
            name if name != last else "",
            c.label,
            ratio(c.shadow_price, 4),
            money(c.relaxed_by),
            f"{money(c.gain)} {c.unit}",
        )
        last = name
    return t


def comparison_with_costs(comp: Comparison) -> Group:
    return Group(comparison_renderable(comp), costly_renderable(comp))


# ------------------------------------------------------------------------------------------------
# optimize: robust plans and uncertainty
# ------------------------------------------------------------------------------------------------
def auto_line(plan: Plan) -> str | None:
    """Which plan ``--robust auto`` (optimize's default) made and why (None for another mode)."""
    auto = plan.extras.get("auto")
    if not isinstance(auto, Mapping):
        return None
    reason = auto.get("reason")
    if auto.get("chosen") == "anchored":
        return f"--robust auto made the anchored plan (below): {reason}"
    text = f"--robust auto made the optimum on the point curves: {reason}"
    step = auto.get("anchored_step")
    if auto.get("weighed") and not (isinstance(step, int | float) and step >= 1.0):
        text += " (--robust anchored hedges it toward the historical mix anyway)"
    return text


def robust_note(plan: Plan) -> Text | None:
    out = _robust_note(plan)
    auto = auto_line(plan)
    if auto is None:
        return out
    line = Text(auto)
    return line if out is None else Text.assemble(line, "\n", out)


def _robust_note(plan: Plan) -> Text | None:
    ex = dict(plan.extras)
    if ex.get("robust") == "anchored":
        step = float(ex.get("step") or 0.0)  # type: ignore[arg-type]
        # plans recorded before the shortfall (no risk_measure) priced the standard deviation
        if ex.get("risk_measure") == "shortfall":
            measure = (
                f"{ex.get('risk')} × the shortfall of the model's {ex.get('draws')} draws below "
                "it (the root mean square of how far each draw's uplift falls below the point "
                "curves')"
            )
        else:
            measure = (
                f"{ex.get('risk')} standard deviation(s) of it across the model's "
                f"{ex.get('draws')} draws"
            )
            if ex.get("full_pooling"):
                measure += (
                    " (the fit pooled every touchpoint's marginal ROI onto one value: the draws' "
                    "centre says nothing of their differences, so their whole spread counts)"
                )
        text = (
            f"anchored plan: step {fmt_step(step)} on the line from the historical mix (0) to the optimum on "
            f"the point curves (1), the step whose {plan.kpi} uplift over the historical mix less "
            f"{measure} is highest"
        )
        first = float(ex.get("first_feasible_step") or 0.0)  # type: ignore[arg-type]
        breaks = ex.get("anchor_breaks")
        rules = ", ".join(map(str, breaks)) if isinstance(breaks, list) and breaks else "a rule"
        start = ex.get("anchor_start")
        if isinstance(start, dict) and start:
            text = text.replace(
                "from the historical mix (0)",
                "from the line's start (0)",
            ).replace("uplift over the historical mix", "uplift over the line's start")
            mix = ex.get("anchor_mix")
            mix = mix if isinstance(mix, dict) else {}
            changed = [
                (k, float(v), mix.get(k))
                for k, v in start.items()
                if not isinstance(mix.get(k), int | float) or abs(float(v) - mix[k]) >= 0.01
            ]
            where = ", ".join(
                f"{k} {money(v)}" + ("" if h is None else f" (historical mix {money(h)})")
                for k, v, h in changed
            )
            moved = money(float(ex.get("anchor_moved") or 0.0))  # type: ignore[arg-type]
            text += (
                f" (the historical mix breaks {rules}: the line starts at the plan nearest the "
                f"historical mix that holds every rule: {where}, the others as in the historical "
                f"mix; moved from it by {moved} in all)"
            )
        elif first >= 1.0 - 1e-6:  # no step but the optimum holds every rule
            text += (
                f"; the historical mix breaks {rules}, and no step of the line before the "
                "optimum holds every rule: this plan is the optimum on the point curves, not "
                "hedged toward the historical mix"
            )
        elif first > 0:
            text += (
                f" (the historical mix breaks {rules}: the line starts at {first:.1%}, its "
                "first step that holds every rule)"
            )
    elif ex.get("robust") == "mean":
        text = (
            f"robust plan: the expected {plan.kpi} over the model's {ex.get('draws')} draws is "
            "maximised; KPI and marginal ROI are expectations"
        )
    else:
        return None
    missing = _without_draws(plan)
    if missing:
        text += f" (no draws for {', '.join(missing)}: their point curve is used)"
    return Text(text, style="dim")


def _without_draws(plan: Plan) -> list[str]:
    """A robust plan's touchpoints with no draws (``extras['without_draws']``, a list of ids)."""
    ids = plan.extras.get("without_draws")
    return [str(t) for t in ids] if isinstance(ids, list | tuple) else []


def plan_dict(plan: Plan, uncertainty: Uncertainty | None = None) -> dict[str, Any]:
    """Contract 6 for ``optimize``, with ``robust`` and ``uncertainty`` when there are any."""
    d = machine.plan_to_dict(plan)
    ex = dict(plan.extras)
    # an anchored plan's "robust" block is plan_to_dict's own (recorded in the ledger too)
    if ex.get("robust") and ex.get("robust") != "anchored":
        d["robust"] = {
            "objective": "expected KPI over the model's draws",
            "draws": ex.get("draws"),
            "without_draws": _without_draws(plan),
        }
    if uncertainty is not None:
        d["uncertainty"] = jsonable(uncertainty.to_dict())
    return d


def uncertainty_renderable(u: Uncertainty) -> Group:
    """Per line item the spread of the re-optimised spend and of the plan's own KPI."""
    kpi = u.plan.kpi
    t = Table(
        box=box.SIMPLE_HEAD,
        title=f"plan uncertainty over {u.draws} draws of the model "
        f"(re-optimised on each; P10 / P50 / P90)",
        title_justify="left",
    )
    for col in (
        "line item",
        "plan spend",
        "spend P10",
        "P50",
        "P90",
        f"plan's {kpi} P10",
        "P50 ",
        "P90 ",
    ):
        t.add_column(col, justify="left" if col == "line item" else "right")
    for it in u.items:
        s, k = it.spend_spread, it.kpi_spread
        t.add_row(
            it.id,
            money(it.spend, "small"),
            money(s.p10, "small"),
            money(s.p50, "small"),
            money(s.p90, "small"),
            money(k.p10, "small"),
            money(k.p50, "small"),
            money(k.p90, "small"),
        )
    parts: list[Any] = [t]
    o, p = u.optimum_kpi, u.plan_kpi
    parts.append(
        Text(
            f"total {kpi} of this plan across the draws: P10 {money(p.p10, 'small')}, "
            f"P50 {money(p.p50, 'small')}, P90 {money(p.p90, 'small')}"
        )
    )
    parts.append(
        Text(
            f"total {kpi} re-optimised on each draw: P10 {money(o.p10, 'small')}, "
            f"P50 {money(o.p50, 'small')}, P90 {money(o.p90, 'small')}"
            f" ({u.solved} of {u.draws} draws solved)"
        )
    )
    if u.value_of_information is not None:
        parts.extend(value_renderables(u))
    from optimizer.workflow.untested import untested_sentence

    for x in u.untested:
        parts.append(Text(untested_sentence(x, lambda v: money(v, "small"), kpi), style="yellow"))
    for n in u.notes:
        parts.append(Text(n, style="yellow"))
    return Group(*parts)


#: how many touchpoints "where an experiment pays" lists
TOP_EVPPI = 5


def value_renderables(u: Uncertainty, top: int = TOP_EVPPI) -> list[Any]:
    """ "Where an experiment pays": the touchpoints whose curve uncertainty costs the plan the most
    KPI (one-at-a-time EVPPI), the overall EVPI, and a plain reading of the largest."""
    v = u.value_of_information
    if v is None:
        return []
    kpi = u.plan.kpi
    parts: list[Any] = []
    rows = [t for t in v.touchpoints if math.isfinite(t.evppi)][:top]
    if rows:
        t = Table(
            box=box.SIMPLE_HEAD,
            title=f"Where an experiment pays (EVPPI: the {kpi} at "
            f"stake in each curve; top {len(rows)} of {len(v.touchpoints)})",
            title_justify="left",
        )
        for col in ("touchpoint", "stage", f"{kpi} at stake", f"of plan's {kpi}", "of EVPI"):
            t.add_column(col, justify="left" if col in ("touchpoint", "stage") else "right")
        for x in rows:
            t.add_row(
                x.id,
                x.stage,
                money(x.evppi, "small"),
                share(x.evppi_share_of_kpi),
                share(x.share_of_evpi),
            )
        parts.append(t)
    parts.append(
        Text(
            f"knowing every curve exactly (EVPI) would be worth {money(v.evpi, 'small')} {kpi} "
            f"on average ({share(_ratio(v.evpi, v.expected_kpi))} of the plan's {kpi}) "
            "over the best plan made without that knowledge (the plan for the expected "
            f"{kpi} over the draws); the values per touchpoint learn one curve at a time "
            "and need not add up to it (the uncertainties interact)"
        )
    )
    gap = v.plan_regret - v.evpi
    if math.isfinite(gap) and gap > 1e-6 * max(abs(v.expected_kpi), 1.0):
        parts.append(
            Text(
                f"this plan falls short of the draws' optima by {money(v.plan_regret, 'small')} "
                f"{kpi} on average: {money(gap, 'small')} of it is what planning for the "
                f"expected {kpi} (--robust mean) would gain without any experiment"
            )
        )
    best = rows[0] if rows else None
    if best is None:
        parts.append(
            Text(
                "no re-optimisation with one touchpoint's curve drawn gave a plan: the "
                "value of information per touchpoint is unknown",
                style="yellow",
            )
        )
    elif money(best.evppi, "small") in ("0", "0.00") or best.evppi <= 0:
        parts.append(
            Text(
                f"no single touchpoint's curve uncertainty costs the plan any {kpi}: "
                "a lift test would not change it",
                style="bold",
            )
        )
    else:
        parts.append(
            Text(
                f"Knowing {best.id}'s curve exactly would be worth {money(best.evppi, 'small')} "
                f"{kpi} on average ({share(best.evppi_share_of_kpi)} of "
                f"the plan's {kpi}): the largest stake of any one curve, on the "
                "model's own account of its uncertainty. It says what is at stake, not "
                "where to test first: on simulated worlds, lift tests placed by it did "
                "no better than the same number spread over every touchpoint "
                "(docs/planning-cycle.md).",
                style="bold",
            )
        )
    return parts


def _ratio(a: float, b: float) -> float | None:
    return a / b if math.isfinite(a) and math.isfinite(b) and b > 0 else None


# ------------------------------------------------------------------------------------------------
# the ledger
# ------------------------------------------------------------------------------------------------
def _first(run: Run, key: str) -> Any:
    return run.plans[0].get(key) if run.plans else None


def history_renderable(runs: Sequence[Run], path: str) -> Table | Text:
    if not runs:
        return Text(f"no runs recorded yet in {path}", style="dim")
    t = Table(box=box.SIMPLE_HEAD, title=f"runs in {path} (newest first)", title_justify="left")
    for col in ("run", "when", "command", "scenario", "plans", "status", "spend", "KPI", "version"):
        t.add_column(col, justify="right" if col in ("plans", "spend", "KPI") else "left")
    for r in runs:
        names = ", ".join(dict.fromkeys(r.scenarios))
        if len(names) > 40:
            names = names[:39] + "…"
        statuses = sorted(
            {anchored_status(plan_from_dict(p)) or str(p.get("status")) for p in r.plans}
        )
        single = len(r.plans) == 1
        t.add_row(
            r.id,
            _when(r.created_at),
            r.label,
            names,
            str(len(r.plans)),
            ",".join(statuses),
            money(_first(r, "total_spend"), "small") if single else "",
            money(_first(r, "total_kpi"), "small") if single else "",
            r.version,
        )
    return t


def history_json(runs: Sequence[Run]) -> str:
    return machine.to_json([r.to_dict(plans=False) for r in runs])


def run_json(run: Run) -> str:
    return machine.to_json(run.to_dict())


def run_renderable(run: Run) -> Group:
    head = Table(box=None, show_header=False, title=f"run {run.id}", title_justify="left")
    head.add_column(style="bold")
    head.add_column()
    head.add_row("when", f"{_when(run.created_at)} ({run.created_at})")
    head.add_row("command", run.label)
    head.add_row("scenarios", ", ".join(run.scenarios))
    head.add_row("KPI", str(run.kpi))
    head.add_row("budgetopt", run.version)
    head.add_row(
        "solver",
        f"{run.solver} "
        + ", ".join(
            f"{k}={v}" for k, v in sorted(run.options.items()) if k not in ("scenarios", "solver")
        ),
    )
    inputs = Table(box=box.SIMPLE_HEAD, title="input files", title_justify="left")
    for col in ("role", "file", "sha256"):
        inputs.add_column(col)
    for f in run.inputs:
        inputs.add_row(f.role, f.path, f.sha256[:16] + "…")
    parts: list[Any] = [head, inputs]
    if run.command == "sweep" and len(run.plans) > 1:
        t = Table(box=box.SIMPLE_HEAD, title="frontier", title_justify="left")
        for col in ("budget", "status", "spend", "KPI"):
            t.add_column(col, justify="left" if col == "status" else "right")
        for p in run.plans:
            t.add_row(
                money(p.get("budget"), "small"),
                str(p.get("status")),
                money(p.get("total_spend"), "small"),
                money(p.get("total_kpi"), "small"),
            )
        parts.append(t)
    else:
        parts.extend(plan_renderable(plan_from_dict(p)) for p in run.plans)
    return Group(*parts)


def diff_comparison(a: dict[str, Any], b: dict[str, Any], label_a: str, label_b: str) -> Comparison:
    """Two recorded plans as a comparison (``a`` the reference), named after their runs."""
    pa = plan_from_dict({**a, "scenario": label_a})
    pb = plan_from_dict({**b, "scenario": label_b})
    return Comparison((pa, pb))


def _diff_frame(comp: Comparison) -> pd.DataFrame:
    a, b = comp.plans
    df = comp.line_item_deltas().reset_index()
    return df.rename(
        columns={
            f"spend: {a.scenario}": "spend_a",
            f"kpi: {a.scenario}": "kpi_a",
            f"spend: {b.scenario}": "spend_b",
            f"kpi: {b.scenario}": "kpi_b",
            f"Δ spend: {b.scenario}": "delta_spend",
            f"Δ kpi: {b.scenario}": "delta_kpi",
        }
    )


def diff_renderable(comp: Comparison) -> Group:
    a, b = comp.plans
    t = Table(
        box=box.SIMPLE_HEAD,
        title=f"per line item: {b.scenario} against {a.scenario}",
        title_justify="left",
    )
    for col in ("line item", "stage", "spend A", "spend B", "Δ spend", "KPI A", "KPI B", "Δ KPI"):
        t.add_column(col, justify="left" if col in ("line item", "stage") else "right")
    # whole units that foot to the totals shown, the changes taken from them (render.footing)
    cols = {"spend_a": a.total_spend, "spend_b": b.total_spend}
    cols |= {"kpi_a": a.total_kpi, "kpi_b": b.total_kpi}
    # (an amount under 100 too: the total row is the totals as shown, in whole units)
    for _, r in footed_frame(_diff_frame(comp), list(cols), cols).iterrows():
        t.add_row(
            str(r["line_item"]),
            str(r["stage"]),
            money(r["spend_a"]),
            money(r["spend_b"]),
            delta_shown(r["spend_b"], r["spend_a"]),
            money(r["kpi_a"]),
            money(r["kpi_b"]),
            delta_shown(r["kpi_b"], r["kpi_a"]),
        )
    sa, sb = shown(a), shown(b)
    t.add_row(
        "total",
        "",
        money(sa.total_spend),
        money(sb.total_spend),
        delta_shown(sb.total_spend, sa.total_spend),
        money(sa.total_kpi),
        money(sb.total_kpi),
        delta_shown(sb.total_kpi, sa.total_kpi),
        style="bold",
    )
    # the comparison's tables (by stage, owner, market…), its line items' giving way to ``t``
    parts = [
        t if str(getattr(p, "title", "") or "").startswith("spend by line item") else p
        for p in comparison_renderable(comp).renderables
    ]
    return Group(*parts)


def diff_dict(comp: Comparison, run_a: Run, run_b: Run) -> dict[str, Any]:
    a, b = comp.plans
    df = _diff_frame(comp)
    return {
        "a": {"run": run_a.id, "scenario": run_a.plans and a.scenario},
        "b": {"run": run_b.id, "scenario": run_b.plans and b.scenario},
        "reference": a.scenario,
        "scenarios": [machine.plan_to_dict(a), machine.plan_to_dict(b)],
        "totals": {
            "delta_spend": round(b.total_spend - a.total_spend, 2),
            "delta_kpi": b.total_kpi - a.total_kpi,
        },
        "line_items": [
            {k: (finite(v) if not isinstance(v, str) else v) for k, v in row.items()}
            for row in df.to_dict(orient="records")
        ],
    }


def diff_csv(comp: Comparison) -> str:
    return csv_text(_diff_frame(comp))


def rerun_text(r: Any, new_id: str | None) -> str:
    """What ``rerun`` says: ``r`` is an ``optimizer.app.rerun.Rerun`` (typed loosely here: the
    application layer sits under this one)."""
    src = "the recorded copies of its input files" if r.from_snapshot else "its input files"
    lines = [f"re-ran {r.run.command} run {r.run.id} from {src}"]
    if new_id:
        lines[0] += f" (recorded as run {new_id})"
    if r.identical:
        lines.append(f"identical: all {len(r.plans)} plan(s) are bit for bit the same as recorded")
    else:
        lines.append("different: " + "; ".join(r.differences))
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------------
# budgetary control
# ------------------------------------------------------------------------------------------------
_STATUS_STYLE = {
    "over": "red",
    "under": "yellow",
    "on plan": "green",
    "unplanned": "red",
    "not started": "yellow",
}


def _track_row(t: Table, x: TrackLine, show_kpi: bool, style: str | None = None) -> None:
    cells: list[RenderableType] = [
        x.id,
        x.stage,
        money(x.planned, "small"),
        money(x.planned_to_date, "small"),
        money(x.actual, "small"),
        delta(x.variance),
        share(x.variance_pct, signed=True),
        Text(x.status, style=_STATUS_STYLE.get(x.status, "")),
        money(x.projected_spend, "small"),
    ]
    if show_kpi:
        cells += [
            money(x.planned_kpi, "small"),
            money(x.projected_kpi, "small"),
            delta(
                None
                if x.projected_kpi is None or x.planned_kpi is None
                else x.projected_kpi - x.planned_kpi
            ),
        ]
    t.add_row(*cells, style=style)


_TRACK_MONEY = ("planned", "planned_to_date", "actual", "projected_spend")
_TRACK_KPI = ("planned_kpi", "projected_kpi")


def _shown_track(
    lines: Sequence[TrackLine], members: Sequence[Sequence[TrackLine]] | None = None
) -> list[TrackLine]:
    """``lines`` with their amounts as the table shows them: each column in whole units footing
    to its total as shown, a row of ``members`` (a stage's or owner's line items as shown) their
    sum wherever a rounding that foots allows it; the variance the difference of the amounts
    shown. The cents summed 12,308 + 14,449 + 18,263 + 12,308 + 11,014 + 23,967 = 92,309 beside
    a total of 92,308, and the markets to 92,307."""
    cols: dict[str, list[Any]] = {}
    for f in _TRACK_MONEY + _TRACK_KPI:
        vals = [getattr(x, f) for x in lines]
        if any(v is None for v in vals):
            continue
        prefer = {i: float(sum(getattr(m, f) for m in ms)) for i, ms in enumerate(members or [])}
        try:
            cols[f] = footed_preferring([float(v) for v in vals], prefer)
        except ValueError:  # no rounding foots (not expected): the amounts as they are
            continue
    out = []
    for i, x in enumerate(lines):
        amounts: dict[str, Any] = {f: float(v[i]) for f, v in cols.items()}
        y = dataclasses.replace(x, **amounts)
        out.append(dataclasses.replace(y, variance=y.actual - y.planned_to_date))
    return out


def tracking_renderable(tr: Tracking) -> Group:
    first, last = tr.week_dates
    when = f" (weeks of {first} to {last})" if tr.dated and first is not None and last else ""
    t = Table(
        box=box.SIMPLE_HEAD,
        title=f"{tr.scenario}: week {tr.weeks_elapsed} of "
        f"{tr.horizon_weeks}{when}, actual spend against the plan to date",
        title_justify="left",
    )
    cols = [
        "line item",
        "stage",
        "plan",
        "plan to date",
        "actual",
        "variance",
        "%",
        "status",
        "at run-rate",
    ]
    if tr.has_model:
        cols += [f"plan {tr.kpi}", f"run-rate {tr.kpi}", f"Δ {tr.kpi}"]
    for c in cols:
        t.add_column(c, justify="left" if c in ("line item", "stage", "status") else "right")
    lines = _shown_track(tr.lines)
    total = _shown_track([tr.total])[0]
    for x in lines:
        _track_row(t, x, tr.has_model)
    _track_row(t, total, tr.has_model, "bold")
    st = Table(box=box.SIMPLE_HEAD, title="by stage", title_justify="left")
    for c in cols:
        st.add_column(
            c.replace("line item", "stage") if c != "stage" else "",
            justify="left" if c in ("line item", "stage", "status") else "right",
        )
    staged = [[y for y in lines if y.stage == x.id] for x in tr.stages]
    for x in _shown_track(tr.stages, staged):
        _track_row(st, TrackLine(**{**x.to_dict(), "stage": ""}), tr.has_model)
    parts: list[Any] = [t, st]
    for title, group in (("by market", tr.markets), ("by owner", tr.owners)):
        if not group:
            continue
        show = tr.has_model and group is tr.owners  # a market's KPI is not split out here
        gt = Table(box=box.SIMPLE_HEAD, title=title, title_justify="left")
        for c in cols if show else cols[:9]:
            gt.add_column(
                c.replace("line item", title[3:]) if c != "stage" else "",
                justify="left" if c in ("line item", "stage", "status") else "right",
            )
        owned = [[y for y in lines if y.owner == x.id] for x in group] if show else None
        for x in _shown_track(group, owned):
            _track_row(gt, x, show)
        parts.append(gt)
    tot = tr.total
    if tr.has_model and tot.planned_kpi is not None and tot.projected_kpi is not None:
        parts.append(
            Text(
                f"at the current run-rate the cycle spends {money(tot.projected_spend, 'small')} "
                f"({share((tot.projected_spend - tot.planned) / tot.planned if tot.planned else None, signed=True)} "
                f"against the plan) and buys {money(tot.projected_kpi, 'small')} {tr.kpi} "
                f"({delta(tot.projected_kpi - tot.planned_kpi)} against the plan's "
                f"{money(tot.planned_kpi, 'small')})"
            )
        )
    if tr.rules:
        broken = tr.broken
        if broken:
            rt = Table(
                box=box.SIMPLE_HEAD,
                title="rules the run-rate would break",
                title_justify="left",
            )
            for c in ("rule", "at run-rate", "by"):
                rt.add_column(c, justify="left" if c == "rule" else "right")
            for r in broken:
                if r.unit == "share":
                    at, by = share(r.projected), f"{r.by * 100:+.1f} pts"
                elif r.unit == "ratio":
                    at, by = ratio(r.projected, 2), f"{r.by:+.2f}"
                else:
                    at, by = money(r.projected, "small"), delta(r.by)
                rt.add_row(r.label, at, by, style="red")
            parts.append(rt)
        else:
            parts.append(
                Text(
                    f"at the current run-rate all {len(tr.rules)} rules of the scenario hold",
                    style="green",
                )
            )
    for n in tr.notes:
        parts.append(Text(n, style="dim"))
    return Group(*parts)


def tracking_csv(tr: Tracking) -> str:
    rows = [{"level": "line_item", **x.to_dict()} for x in tr.lines]
    rows += [{"level": "stage", **x.to_dict()} for x in tr.stages]
    rows += [{"level": "market", **x.to_dict()} for x in tr.markets]
    rows += [{"level": "owner", **x.to_dict()} for x in tr.owners]
    rows.append({"level": "total", **tr.total.to_dict()})
    return csv_text(rows)


def tracking_json(tr: Tracking) -> str:
    return machine.to_json(jsonable(tr.to_dict()))


def replan_dict(r: Replan) -> dict[str, Any]:
    """Contract 6 for the remaining weeks' plan, with a ``replan`` block (spend to date, the
    full cycle per line item against the original plan, warnings)."""
    d = machine.plan_to_dict(r.plan)
    d["replan"] = jsonable(r.to_dict())
    return d


def replan_json(r: Replan) -> str:
    return machine.to_json(replan_dict(r))


def replan_csv(r: Replan) -> str:
    return csv_text(r.full_cycle())


def replan_renderable(r: Replan, warnings: bool = True) -> Group:
    """The re-plan as tables; its warnings too unless ``warnings`` is False (the table printed
    on stdout, below the same warnings on stderr: they were printed twice)."""
    head = Text.assemble(
        ("re-plan after ", ""),
        (f"week {r.weeks_elapsed} of {r.horizon_weeks}", "bold"),
        f" (from the week of {r.rest_start})" if r.rest_start is not None else "",
        f": {money(r.spent_total, 'small')} spent so far",
        f", {money(r.remaining_budget, 'small')} left for the remaining {r.remaining_weeks} weeks"
        if r.remaining_budget is not None
        else "",
    )
    parts: list[Any] = [head]
    for w in r.warnings if warnings else ():
        parts.append(Text(f"warning: {w}", style="yellow"))
    parts.append(plan_renderable(r.plan))
    if r.plan.ok:
        t = Table(
            box=box.SIMPLE_HEAD,
            title="the whole cycle: spent + re-planned against the original plan",
            title_justify="left",
        )
        for col in (
            "line item",
            "stage",
            "spent",
            "re-planned",
            "cycle total",
            "original plan",
            "change",
        ):
            t.add_column(col, justify="left" if col in ("line item", "stage") else "right")
        rows = r.full_cycle()
        for x in rows:
            t.add_row(
                x["id"],
                x["stage"],
                money(x["spent"], "small"),
                money(x["remaining"], "small"),
                money(x["total"], "small"),
                money(x["original"], "small"),
                delta(x["change"]),
            )
        tot_orig = r.original.total_spend if r.original.ok else None
        tot = round(sum(x["total"] for x in rows), 2)
        t.add_row(
            "total",
            "",
            money(r.spent_total, "small"),
            money(r.plan.total_spend, "small"),
            money(tot, "small"),
            money(tot_orig, "small"),
            delta(None if tot_orig is None else tot - tot_orig),
            style="bold",
        )
        parts.append(t)
        kpi = r.plan.kpi
        full = r.kpi_to_date + r.plan.total_kpi
        line = (
            f"{kpi}: {money(r.kpi_to_date, 'small')} bought so far + {money(r.plan.total_kpi, 'small')} "
            f"planned = {money(full, 'small')} for the cycle"
        )
        if r.original.ok:
            line += (
                f" ({delta(full - r.original.total_kpi)} against the original plan's "
                f"{money(r.original.total_kpi, 'small')})"
            )
        parts.append(Text(line))
    return Group(*parts)
