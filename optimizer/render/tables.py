"""Terminal tables (rich) for plans and comparisons."""

from __future__ import annotations

from rich import box
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from optimizer.allocate import Plan
from optimizer.formatting import delta, money, ratio
from optimizer.workflow.compare import Comparison


def plan_renderable(plan: Plan) -> Group:
    parts = []
    head = Text.assemble(
        (f"{plan.scenario}", "bold"),
        f"  ·  {plan.objective}  ·  status ",
        (plan.status, "green" if plan.status == "optimal" else "red"),
    )
    parts.append(head)
    if not plan.ok:
        parts.append(Text(plan.message))
        return Group(*parts)
    t = Table(box=box.SIMPLE_HEAD, show_footer=True)
    total = plan.total_spend
    markets = plan.has_markets
    owners = any(li.owner for li in plan.line_items)
    t.add_column("line item", footer="total")
    if markets:
        t.add_column("market")
    t.add_column("stage")
    if owners:
        t.add_column("owner")
    t.add_column("spend", justify="right", footer=money(total, "small"))
    t.add_column("share", justify="right", footer="100%" if total > 0 else "–")
    t.add_column(plan.kpi, justify="right", footer=money(plan.total_kpi, "small"))
    t.add_column("ROI", justify="right", footer=ratio(plan.roi, 2))
    t.add_column("marginal ROI", justify="right")
    t.add_column("held by")
    for li in plan.line_items:
        t.add_row(
            li.id,
            *([li.market or "national"] if markets else []),
            li.stage,
            *([li.owner or ""] if owners else []),
            money(li.spend, "small"),
            f"{li.spend / total:.1%}" if total > 0 else "–",
            money(li.kpi, "small"),
            ratio(li.roi, 2),
            ratio(li.marginal_roi, 3),
            ", ".join(li.binding),
        )
    parts.append(t)
    st = Table(box=box.SIMPLE_HEAD, title="by stage", title_justify="left")
    st.add_column("stage")
    st.add_column("spend", justify="right")
    st.add_column("share", justify="right")
    st.add_column(plan.kpi, justify="right")
    for name, v in plan.stage_totals().items():
        st.add_row(
            name,
            money(v["spend"], "small"),
            f"{v['spend'] / total:.1%}" if total > 0 else "–",
            money(v["kpi"], "small"),
        )
    parts.append(st)
    for title, totals in (("by owner", plan.owner_totals()), ("by market", plan.market_totals())):
        if not totals:
            continue
        ot = Table(box=box.SIMPLE_HEAD, title=title, title_justify="left")
        ot.add_column(title.split()[-1])
        ot.add_column("spend", justify="right")
        ot.add_column("share", justify="right")
        ot.add_column(plan.kpi, justify="right")
        for name, v in totals.items():
            ot.add_row(
                name,
                money(v["spend"], "small"),
                f"{v['spend'] / total:.1%}" if total > 0 else "–",
                money(v["kpi"], "small"),
            )
        parts.append(ot)
    binding = [c for c in plan.constraints if c.binding]
    if binding:
        ct = Table(box=box.SIMPLE_HEAD, title="binding constraints", title_justify="left")
        ct.add_column("constraint")
        ct.add_column("shadow price", justify="right")
        for c in binding:
            ct.add_row(c.label, ratio(c.shadow_price, 4))
        parts.append(ct)
    if plan.gap is not None and plan.status == "optimal":
        gap = "< 0.0001%" if plan.gap < 1e-6 else f"{plan.gap:.4%}"
        parts.append(
            Text(
                f"certified within {gap} of the exact optimum on the model's curves "
                f"({plan.pieces} pieces, {plan.rounds} round(s), {plan.solver})",
                style="dim",
            )
        )
    elif plan.status == "not_certified":
        gap = "unknown" if plan.gap is None else f"{plan.gap:.4%}"
        parts.append(
            Text(
                f"NOT certified: the plan holds every rule, but its gap to the bound on the "
                f"exact optimum is {gap}, above the tolerance "
                f"({plan.pieces} pieces, {plan.rounds} round(s), {plan.solver})",
                style="red",
            )
        )
    return Group(*parts)


def comparison_renderable(comp: Comparison) -> Group:
    parts = []
    s = comp.summary()
    t = Table(box=box.SIMPLE_HEAD, title="scenarios", title_justify="left")
    for col in ("scenario", "status", "spend", "KPI", "ROI", "marginal ROI", "Δ spend", "Δ KPI"):
        t.add_column(col, justify="left" if col in ("scenario", "status") else "right")
    for _, r in s.iterrows():
        t.add_row(
            r["scenario"],
            r["status"],
            money(r["total_spend"], "small"),
            money(r["total_kpi"], "small"),
            ratio(r["roi"], 2),
            ratio(r["marginal_roi"], 3),
            delta(r["delta_spend"]),
            delta(r["delta_kpi"]),
        )
    parts.append(t)
    for what, bs in (
        ("stage", comp.by_stage()),
        ("owner", comp.by_total("owner")),
        ("market", comp.by_total("market")),
    ):
        if not len(bs):
            continue
        st = Table(box=box.SIMPLE_HEAD, title=f"spend by {what}", title_justify="left")
        st.add_column(what)
        for c in bs.columns:
            st.add_column(str(c), justify="right")
        for name, row in bs.iterrows():
            st.add_row(str(name), *[money(v, "small") for v in row])
        parts.append(st)
    li = comp.by_line_item()
    lt = Table(
        box=box.SIMPLE_HEAD,
        title=f"spend by line item (Δ against {comp.reference_plan.scenario})",
        title_justify="left",
    )
    lt.add_column("line item")
    lt.add_column("stage")
    for c in li.columns[1:]:
        lt.add_column(str(c), justify="right")
    for tid, row in li.iterrows():
        cells = [
            delta(v) if str(c).startswith("Δ") else money(v, "small")
            for c, v in row.iloc[1:].items()
        ]
        lt.add_row(str(tid), row["stage"], *cells)
    parts.append(lt)
    for p in comp.plans:
        if not p.ok:
            parts.append(Text(f"{p.scenario}: {p.status}: {p.message}", style="red"))
    return Group(*parts)


def _width(obj) -> int:
    """Wide enough that no column is cut: rich measures the renderable."""
    from rich.measure import Measurement

    probe = Console(width=1000)
    try:
        need = Measurement.get(probe, probe.options, obj).maximum
    except Exception:  # noqa: BLE001 - measuring is best effort
        need = 140
    return max(100, min(int(need) + 2, 400))


def print_renderable(obj, *, file=None, width: int | None = None) -> None:
    console = Console(file=file, width=width or _width(obj), soft_wrap=False)
    console.print(obj)


def render_text(obj, width: int | None = None) -> str:
    import io

    console = Console(width=width or _width(obj), record=True, file=io.StringIO())
    console.print(obj)
    return console.export_text()


def frontier_renderable(frontier) -> Group:
    t = Table(
        box=box.SIMPLE_HEAD, title=f"budget frontier: {frontier.scenario}", title_justify="left"
    )
    for col in ("budget", "status", "spend", "KPI", "ROI", "marginal ROI", ""):
        t.add_column(col, justify="left" if col in ("status", "") else "right")
    knee = frontier.knee()
    for i, p in enumerate(frontier.points()):
        t.add_row(
            money(p["budget"], "small"),
            str(p["status"]),
            money(p["total_spend"], "small"),
            money(p["total_kpi"], "small"),
            ratio(p["roi"], 2),
            ratio(p["marginal_roi"], 3),
            "← diminishing returns" if i == knee else "",
        )
    return Group(t)
