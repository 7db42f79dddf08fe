"""Charts with matplotlib (Agg backend: no display needed)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.artist import Artist  # noqa: E402

from optimizer.explain.types import is_off_hurdle  # noqa: E402
from optimizer.formatting import compact, ratio, with_currency  # noqa: E402
from optimizer.io.files import atomic_write_bytes  # noqa: E402
from optimizer.render.report_common import ladder_chart_words  # noqa: E402
from optimizer.response.model import ResponseModel, TouchpointResponse  # noqa: E402
from optimizer.vocabulary import STAGES  # noqa: E402


def _save(fig: plt.Figure, path: Path) -> Path:
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return atomic_write_bytes(path, buf.getvalue())


def curve_band(tp: TouchpointResponse, x: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The P10 and P90 of the weekly KPI at steady weekly spends ``x`` over the bands' draws
    (model.json ``band_draws``: each draw at its own pooling weight; a model without them, the
    plans' ``draws``; the interval draws do not pin a curve's level): every chart's curve band.
    None without draws."""
    draws = tp.band_responses()
    if not draws:
        return None
    ys = np.array([d.weekly_kpi(x) for d in draws])
    lo, hi = np.percentile(ys, [10, 90], axis=0)
    return lo, hi


def curve_figure(tp: TouchpointResponse, kpi: str, point: float | None = None) -> plt.Figure:
    """Weekly KPI against steady weekly spend (``fit --plots``), with the bootstrap band, the
    spend seen and the recent spend; axes in money (``40k``, ``1.2M``), the marginal return at the
    recent spend in the title."""
    sr = dict(tp.spend_range or {})
    top = max(sr.get("max", 0.0) * 1.5, (point or 0.0) * 1.3, 1.0)
    x = np.linspace(0.0, top, 300)
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    band = curve_band(tp, x)
    if band is not None:
        ax.fill_between(
            x, *band, color="#1f5f8b", alpha=0.15, lw=0, label="P10–P90 over the model's draws"
        )
    if sr.get("max"):
        ax.axvspan(
            sr.get("min", 0.0),
            sr["max"],
            color="#7f8c8d",
            alpha=0.10,
            lw=0,
            label=f"weekly spend seen ({compact(sr.get('min', 0.0))}–{compact(sr['max'])})",
        )
    ax.plot(x, tp.weekly_kpi(x), color="#1f5f8b", lw=2, label="response curve")
    title = f"{tp.id} ({tp.stage}, {tp.curve.family})"
    if sr.get("recent"):
        r = float(sr["recent"])
        ax.axvline(r, color=_INK, ls="--", lw=1, label=f"recent weekly spend {compact(r)}")
        slope = float(tp.weekly_marginal(r))
        if np.isfinite(slope):
            title += f": marginal return {slope:.2f} at recent spend"
    if point is not None:
        ax.plot([point], [float(tp.weekly_kpi(point))], "o", color="#c0504d", label="plan")
    ax.set_xlabel("steady weekly spend (money per week)", fontsize=9, color=_INK)
    ax.set_ylabel(f"weekly {kpi}", fontsize=9, color=_INK)
    ax.set_title(title, fontsize=10, color=_INK, loc="left", fontweight="bold")
    ax.set_xlim(0, top)
    ax.set_ylim(bottom=0)
    _tidy(ax)
    _thousands(ax)
    ax.legend(fontsize=7.5, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, frameon=False)
    return fig


def plot_response_curves(
    model: ResponseModel, out_dir: Path, points: dict[str, float] | None = None
) -> list[Path]:
    import re

    out_dir = Path(out_dir)
    written = []
    used: set[str] = set()
    for tid, tp in model.touchpoints.items():
        fig = curve_figure(tp, model.kpi, None if points is None else points.get(tid))
        # a touchpoint id is data: only letters, digits, '-', '_' and '.' reach the file name, so
        # nothing is written outside out_dir (an id "../x" or "a/b"), and two ids never share a file
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", tid).strip("._") or "touchpoint"
        name, k = f"curve_{stem}.png", 2
        while name in used:
            name, k = f"curve_{stem}_{k}.png", k + 1
        used.add(name)
        written.append(_save(fig, out_dir / name))
    return written


def frontier_figure(frontier) -> plt.Figure:
    """KPI against budget (left axis) and the marginal return (right axis: in money per unit of
    money when the KPI is money, else KPI per unit), money ticks, and, with a money KPI, the
    break-even and hurdle points: the budgets where the marginal return falls to 1 and to
    1 + hurdle_rate, which depend on the scenario's economics, not on the sweep's range."""
    from matplotlib.ticker import FuncFormatter

    eco = frontier.economics
    pts = [p for p in frontier.points() if p["total_kpi"] is not None]
    b = np.array([p["budget"] for p in pts], float)
    k = np.array([p["total_kpi"] for p in pts], float)
    key = "marginal_return" if eco is not None else "marginal_roi"
    m = np.array([p[key] if p.get(key) is not None else np.nan for p in pts], float)
    kpi = frontier.plans[0].kpi if frontier.plans else "KPI"
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.plot(b, k, "o-", color="tab:blue", ms=4, label=kpi)
    ax.set_xlabel(with_currency("total budget", getattr(frontier, "currency", None)))
    ax.set_ylabel(kpi)
    ticks = compact_ticks()
    ax.xaxis.set_major_formatter(ticks)
    ax.yaxis.set_major_formatter(ticks)
    ax2 = ax.twinx()
    ax2.plot(
        b,
        m,
        "s--",
        color="tab:orange",
        ms=3,
        label="marginal return (money per unit)" if eco is not None else "marginal ROI",
    )
    ax2.set_ylabel("marginal return per unit of money" if eco is not None else "marginal ROI")
    # the budgets the scenario's economics and the scenario itself put a line at: drawn where
    # they fall within the sweep's range (or one span of it either side, the axis widened to
    # them); farther out, named at the axis edge with an arrow instead, so that a sweep of 0-300
    # is not squashed against the left edge of an axis stretched to a break-even of 9M
    marks: list[tuple[str, str, float, str, str, float]] = []  # (legend, text, x, colour, ls, lw)
    shade_from = None
    if eco is not None:
        if len(b):
            ax2.axhline(1.0, color="tab:red", lw=0.8, alpha=0.5)
        lines = [("break-even (return 1.00)", eco.payback, "tab:red", "--")]
        if eco.hurdle_rate > 0:
            if len(b):
                ax2.axhline(eco.hurdle.threshold, color="tab:purple", lw=0.8, alpha=0.5)
            lines.append(
                (f"hurdle (return {eco.hurdle.threshold:.2f})", eco.hurdle, "tab:purple", ":")
            )
        for label, c, colour, ls in lines:
            if c.budget is not None:
                marks.append((label, label.split(" (")[0], float(c.budget), colour, ls, 1.2))
        shade_from = eco.hurdle.budget
    plan_budget = getattr(frontier, "budget", None)
    if plan_budget:
        marks.append(("scenario budget", "scenario budget", float(plan_budget), "grey", "-", 1.0))
    swept = [float(p["budget"]) for p in frontier.points()]
    lo, hi = (min(swept), max(swept)) if swept else (0.0, 1.0)
    span = hi - lo if hi > lo else max(abs(hi) * 0.2, 1.0)
    near = [x for *_, x, _c, _l, _w in marks if lo - span <= x <= hi + span]
    left, right = min([lo, *near]), max([hi, *near])
    pad = 0.05 * (right - left if right > left else span)
    ax.set_xlim(left - pad, right + pad)
    if eco is not None and shade_from is not None and len(b) and b.max() > shade_from:
        ax.axvspan(
            max(shade_from, left - pad),  # from the hurdle, or the axis's edge when it is beyond
            b.max(),
            color="tab:red",
            alpha=0.06,
            lw=0,
            label=(
                "budgets past the hurdle: the last dollar returns less than it must"
                if eco.hurdle_rate > 0
                else "budgets past break-even: the last dollar returns less than it costs"
            ),
        )
    beyond: dict[str, list[str]] = {"left": [], "right": []}
    for legend, text, x, colour, ls, lw in marks:
        ax.axvline(x, color=colour, ls=ls, lw=lw, label=f"{legend} at {compact(x)}")
        if left <= x <= right:
            ax.text(
                x,
                1.0,
                f"{text}\n{compact(x)}",
                transform=ax.get_xaxis_transform(),
                color="dimgrey" if colour == "grey" else colour,
                fontsize=8,
                ha="center",
                va="bottom",
            )
        else:
            side = "left" if x < left else "right"
            beyond[side].append(f"{text} {compact(x)}")
    notes = [
        ("← " if side == "left" else "") + ", ".join(words) + (" →" if side == "right" else "")
        for side, words in beyond.items()
        if words
    ]
    if notes:  # a second line of the budget axis's label: clear of every other label
        ax.set_xlabel(f"{ax.get_xlabel()}\n(beyond this range: {'; '.join(notes)})")
    # budgets the sweep found no plan at (infeasible there): a cross on the budget axis each,
    # not left out without a word (a sweep infeasible at every budget drew an empty chart)
    missing: dict[str, list[float]] = {}
    for p in frontier.points():
        if p["total_kpi"] is None:
            missing.setdefault(str(p.get("status") or "no plan"), []).append(float(p["budget"]))
    for status, at in missing.items():
        n = len(at)
        ax.plot(
            at,
            [0.03] * n,
            "x",
            color="tab:red",
            ms=8,
            mew=2,
            transform=ax.get_xaxis_transform(),
            clip_on=False,
            label=f"no plan ({status}) at {n} budget{'s' if n > 1 else ''}",
        )
    if not pts:
        ax.set_yticks([])
        ax2.set_yticks([])
        ax.text(
            0.5,
            0.5,
            f"no plan at any of the {sum(map(len, missing.values()))} budgets swept\n"
            "(the sweep's table and --format json say which rules conflict)",
            transform=ax.transAxes,
            ha="center",
            va="center",
            color="tab:red",
        )
    ax.set_title(f"budget frontier: {frontier.scenario}", pad=28)
    if pts:
        ax2.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:.2f}"))
    ax.grid(alpha=0.3)
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(
        h1 + h2,
        l1 + l2,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.19 if notes else -0.13),
        ncol=3,
        fontsize=8,
    )
    return fig


def save_frontier_plot(frontier, path: Path) -> Path:
    return _save(frontier_figure(frontier), Path(path))


# ------------------------------------------------------------------------------------------------
# the budget review pack (``budgetopt explain``)
# ------------------------------------------------------------------------------------------------
ROLE_COLOURS = {
    "interior": "#1f5f8b",  # at the hurdle
    "capped": "#c0504d",
    "held_up": "#8064a2",
    "unfunded": "#a6a6a6",
    "not_worth_minimum": "#d9a441",
    "infeasible": "#404040",
}
_INK = "#1f2d3d"
_GRID = "#d9dee4"


def _tidy(ax: plt.Axes) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color("#9aa5b1")
    ax.tick_params(colors=_INK, labelsize=8)
    ax.grid(color=_GRID, lw=0.6)
    ax.set_axisbelow(True)


def compact_ticks() -> Any:
    """A tick formatter of ``compact`` labels with as many decimals as the ticks need to differ:
    a sweep over 1,000,000-1,010,000 was ticked "1M 1M 1M 1.01M 1.01M 1.01M"."""
    from matplotlib.ticker import Formatter

    class CompactTicks(Formatter):
        extra = 0

        def __call__(self, x: float, pos: int | None = None) -> str:
            return compact(x, self.extra)

        def format_ticks(self, values: Any) -> list[str]:
            for extra in range(5):
                labels = [compact(v, extra) for v in values]
                if len(set(labels)) == len(labels):
                    break
            self.extra = extra
            return labels

    return CompactTicks()


def _thousands(ax: plt.Axes, axis: str = "both") -> None:
    if axis in ("x", "both"):
        ax.xaxis.set_major_formatter(compact_ticks())
    if axis in ("y", "both"):
        ax.yaxis.set_major_formatter(compact_ticks())


def figure_png(fig: plt.Figure, dpi: int = 110) -> bytes:
    """A figure as PNG bytes (deterministic: no software or time stamp), and closed."""
    import io

    buf = io.BytesIO()
    fig.savefig(
        buf,
        format="png",
        dpi=dpi,
        bbox_inches="tight",
        metadata={"Software": None},
        facecolor="white",
    )
    plt.close(fig)
    return buf.getvalue()


def review_curve_figure(
    tp: TouchpointResponse,
    kpi: str,
    weeks: float,
    spend: float,
    hurdle: float,
    role: str,
    last_cycle: float | None = None,
    bar: float | None = None,
) -> plt.Figure:
    """One line item's weekly response curve with the plan point and the slope it answers to.

    That slope is the line item's bar (``bar``: the binding share rules counted), labelled
    "its bar" where it differs from the plan's ``hurdle`` as printed, else the hurdle, labelled
    "hurdle". The short dashed segment through the plan point has that slope: a line item at
    it has a curve tangent to it; a capped one is steeper there, a held-up one flatter. An
    unfunded one shows that line from the origin above its first dollar.
    """
    if is_off_hurdle(hurdle, bar):
        assert bar is not None
        hurdle, named = bar, f"its bar {ratio(bar)}"
    else:
        named = f"hurdle {ratio(hurdle)}"
    sr = dict(tp.spend_range or {})
    point = spend / weeks
    lc = None if last_cycle is None else last_cycle / weeks
    top = max(sr.get("max", 0.0) * 1.4, point * 1.5, (lc or 0.0) * 1.3, 1.0)
    if top <= 1.0:  # nothing seen and nothing planned: show it up to twice its half-saturation
        grid = np.geomspace(1.0, 1e10, 500)
        reached = np.flatnonzero(tp.weekly_kpi(grid) >= 0.5 * tp.saturation_level)
        top = 2.0 * float(grid[reached[0]]) if len(reached) else 1e6
    x = np.linspace(0.0, top, 300)
    colour = ROLE_COLOURS.get(role, _INK)
    fig, ax = plt.subplots(figsize=(4.4, 2.9))
    band = curve_band(tp, x)
    if band is not None:
        ax.fill_between(x, *band, color=colour, alpha=0.14, lw=0, label="P10–P90 (model's draws)")
    if sr.get("max"):
        ax.axvspan(
            sr.get("min", 0.0),
            sr["max"],
            color="#7f8c8d",
            alpha=0.10,
            lw=0,
            label="weekly spend seen",
        )
    ax.plot(x, tp.weekly_kpi(x), color=colour, lw=2, label="response curve")
    y0 = float(tp.weekly_kpi(point))
    if point > 0 and not math.isfinite(hurdle):  # no hurdle (a min_spend target that is slack)
        ax.plot([point], [y0], "o", color=_INK, ms=6, zorder=5, label="plan")
    elif point > 0:
        half = 0.18 * top
        xs = np.array([max(point - half, 0.0), min(point + half, top)])
        ax.plot(
            xs,
            y0 + hurdle * (xs - point),
            color=_INK,
            ls="--",
            lw=1,
            label=named,
        )
        ax.plot([point], [y0], "o", color=_INK, ms=6, zorder=5, label="plan")
    elif math.isfinite(hurdle):
        xs = np.array([0.0, 0.35 * top])
        ax.plot(xs, hurdle * xs, color=_INK, ls="--", lw=1, label=f"{named} per unit")
    if lc is not None and lc > 0:
        ax.plot(
            [lc],
            [float(tp.weekly_kpi(lc))],
            "D",
            mfc="white",
            mec=_INK,
            ms=5,
            zorder=5,
            label="last cycle",
        )
    ax.set_xlabel("steady weekly spend", fontsize=8, color=_INK)
    ax.set_ylabel(f"weekly {kpi}", fontsize=8, color=_INK)
    ax.set_title(f"{tp.id} ({tp.stage})", fontsize=10, color=_INK, loc="left", fontweight="bold")
    ax.set_xlim(0, top)
    ax.set_ylim(bottom=0)
    _tidy(ax)
    _thousands(ax)
    ax.legend(fontsize=6.5, loc="lower right", frameon=False)
    return fig


#: one colour per journey stage in the ladder, far apart in hue and lightness (Okabe and Ito's
#: colour-blind-safe set): seven stages, seven colours a reader tells apart
LADDER_STAGE_COLOURS = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # green
    "#CC79A7",  # purple
    "#56B4E9",  # sky blue
    "#D55E00",  # vermilion
    "#7F7F7F",  # grey
    "#F0E442",  # yellow
)


def ladder_figure(
    ladder,
    kpi: str,
    max_steps: int | None = None,
    break_even: float | None = None,
    currency: str | None = None,
    runs_out: str = "budget runs out",
) -> plt.Figure:
    """The ladder as a staircase: each increment a bar as wide as its money and as tall as its
    return, in ranked order, coloured by journey stage (one legend entry per stage, not per line
    item), the widest increments named on the bar, with the hurdle, the line where the budget
    runs out and, when the KPI is money (``break_even``: 1 + hurdle_rate), the return below which
    an increment buys less than it costs. ``runs_out``: the line's words where the ranking and
    the plan agree ("target is met" for a min_spend plan, which has no budget)."""
    steps = list(ladder.steps if max_steps is None else ladder.steps[:max_steps])
    seen = list(dict.fromkeys(s.stage for s in ladder.steps))
    stages = [st for st in STAGES if st in seen] + [st for st in seen if st not in STAGES]
    colour = {
        st: LADDER_STAGE_COLOURS[i % len(LADDER_STAGE_COLOURS)] for i, st in enumerate(stages)
    }
    fig, ax = plt.subplots(figsize=(9.5, 3.9))
    left = 0.0
    finite = [s.return_ for s in steps if np.isfinite(s.return_)]
    cap = float(np.percentile(finite, 97)) * 1.25 if finite else 1.0
    if break_even is not None and np.isfinite(break_even):
        cap = max(cap, break_even * 1.3)
    total = sum(s.amount for s in steps)
    xmax = max(total, ladder.line_spend) * 1.01 or 1.0
    for s in steps:
        h = min(s.return_, cap) if np.isfinite(s.return_) else cap
        # solid: in the plan (above the line where the ranking and the plan agree)
        above = s.status in ("funded", "committed")
        ax.bar(
            left,
            h,
            width=s.amount,
            align="edge",
            color=colour[s.stage],
            alpha=0.95 if above else 0.3,
            edgecolor="white",
            lw=0.4,
            hatch="///" if s.status == "committed" else None,
        )
        if s.amount >= 0.035 * xmax and h >= 0.18 * cap:  # room to name it on the bar
            ax.text(
                left + s.amount / 2,
                h * 0.5,
                s.item,
                rotation=90,
                ha="center",
                va="center",
                fontsize=6.5,
                color="white" if above else _INK,
                clip_on=True,
            )
        left += s.amount
    # the line in return order (the plan's total where the ranking and the plan agree)
    line = ladder.above_spend() if ladder.cutoff else ladder.line_spend
    ax.axvline(line, color=_INK, lw=1.6)
    late = line > 0.6 * xmax  # the words go left of a line near the right edge
    ax.text(
        line - 0.006 * xmax if late else line,
        cap * 0.98,
        ladder_chart_words(ladder, runs_out).replace("  ", "")
        if late
        else ladder_chart_words(ladder, runs_out),
        color=_INK,
        fontsize=8,
        va="top",
        ha="right" if late else "left",
        multialignment="right" if late else "left",
        bbox=dict(facecolor="white", edgecolor="none", alpha=0.8, pad=1),
    )
    right = xmax * 1.002
    # the hurdle's and break-even's labels apart where the two lines nearly meet
    near = (
        break_even is not None
        and np.isfinite(break_even)
        and bool(ladder.hurdle)
        and abs(break_even - ladder.hurdle) < 0.06 * cap
    )
    if ladder.hurdle and np.isfinite(ladder.hurdle):
        ax.axhline(ladder.hurdle, color=_INK, ls="--", lw=1)
        below = near and ladder.hurdle <= (break_even or 0.0)
        ax.text(
            right,
            ladder.hurdle,
            f" hurdle {ladder.hurdle:.2f}",
            color=_INK,
            fontsize=8,
            va="top" if below else ("bottom" if near else "center"),
            ha="left",
        )
    if break_even is not None and np.isfinite(break_even):
        ax.axhline(break_even, color="#c0504d", ls="-", lw=1.2)
        ax.text(
            right,
            break_even,
            f" break-even {break_even:.2f}",
            color="#c0504d",
            fontsize=8,
            va=("bottom" if break_even >= ladder.hurdle else "top") if near else "center",
            ha="left",
        )
    handles = [plt.Rectangle((0, 0), 1, 1, color=colour[st]) for st in stages]
    labels = list(stages)
    if any(s.status == "committed" for s in steps):
        handles.append(plt.Rectangle((0, 0), 1, 1, facecolor="white", edgecolor=_INK, hatch="///"))
        labels.append("committed (lock, floor)")
    handles.append(plt.Rectangle((0, 0), 1, 1, color="#7f8c8d", alpha=0.3))
    labels.append("not funded")
    ax.legend(
        handles,
        labels,
        fontsize=7.5,
        ncol=min(len(labels), 5),
        frameon=False,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.2),
        title="journey stage",
        title_fontsize=7.5,
    )
    ax.set_xlim(0, xmax)
    ax.set_ylim(0, cap)
    ax.set_xlabel(
        with_currency("cumulative spend", currency) + ", increments ranked by return",
        fontsize=8,
        color=_INK,
    )
    ax.set_ylabel(f"{kpi} per unit of money", fontsize=8, color=_INK)
    _tidy(ax)
    _thousands(ax, "x")
    return fig


def stage_spend_figure(stages, kpi: str, currency: str | None = None) -> plt.Figure:
    """Spend by stage (bars), last cycle (hollow markers) and each stage's ROI (labels)."""
    names = [g.name for g in stages]
    spend = np.array([g.spend for g in stages], float)
    fig, ax = plt.subplots(figsize=(9.0, 0.42 * len(names) + 1.1))
    y = np.arange(len(names))[::-1]
    ax.barh(y, spend, color="#1f5f8b", height=0.6, label="plan")
    last = [g.last_cycle for g in stages]
    if any(v is not None for v in last):
        ax.plot(
            [v or 0.0 for v in last],
            y,
            "D",
            mfc="white",
            mec=_INK,
            ms=6,
            ls="none",
            label="last cycle",
        )
    # spend and ROI as a column to the right of the plot, like a table beside the bars
    from matplotlib.transforms import blended_transform_factory

    column = blended_transform_factory(ax.transAxes, ax.transData)
    ax.text(
        1.02,
        len(names) - 0.35,
        "spend · ROI",
        transform=column,
        fontsize=7.5,
        color="#5b6b7b",
        va="bottom",
    )
    for yi, g in zip(y, stages, strict=True):
        roi = "–" if g.roi is None else f"{g.roi:.2f}"
        ax.text(
            1.02,
            yi,
            f"{g.spend:,.0f} · {roi}",
            transform=column,
            va="center",
            fontsize=8,
            color=_INK,
        )
    ax.set_yticks(y, names, fontsize=8)
    ax.set_xlim(
        0,
        max(spend.max() if len(spend) else 1.0, max((v or 0.0) for v in last) if last else 0.0)
        * 1.08
        + 1,
    )
    ax.set_xlabel(with_currency("spend over the horizon", currency), fontsize=8, color=_INK)
    _tidy(ax)
    ax.grid(axis="y", visible=False)
    _thousands(ax, "x")
    ax.legend(fontsize=7, frameon=False, loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=2)
    return fig


def line_item_spend_figure(items, currency: str | None = None) -> plt.Figure:
    """Spend per line item, coloured by why it stops where it stops, with last cycle markers."""
    from optimizer.explain import ROLE_WORDS

    fig, ax = plt.subplots(figsize=(9.0, 0.34 * len(items) + 1.1))
    y = np.arange(len(items))[::-1]
    ax.barh(
        y,
        [it.spend for it in items],
        height=0.62,
        color=[ROLE_COLOURS.get(it.role, _INK) for it in items],
    )
    lc = [it.last_cycle for it in items]
    if any(v is not None for v in lc):
        ax.plot([v or 0.0 for v in lc], y, "D", mfc="white", mec=_INK, ms=5, ls="none")
    ax.set_yticks(y, [it.id for it in items], fontsize=8)
    roles = list(dict.fromkeys(it.role for it in items))
    handles: list[Artist] = [
        plt.Rectangle((0, 0), 1, 1, color=ROLE_COLOURS.get(r, _INK)) for r in roles
    ]
    labels = [ROLE_WORDS.get(r, r) for r in roles]
    if any(v is not None for v in lc):
        handles.append(plt.Line2D([], [], marker="D", mfc="white", mec=_INK, ls="none"))
        labels.append("last cycle")
    ax.legend(handles, labels, fontsize=7, frameon=False, loc="lower right")
    ax.set_xlabel(with_currency("spend over the horizon", currency), fontsize=8, color=_INK)
    _tidy(ax)
    ax.grid(axis="y", visible=False)
    _thousands(ax, "x")
    return fig


def review_frontier_figure(
    points, budget: float | None, kpi: str, break_even=None, currency: str | None = None
) -> plt.Figure:
    """KPI and the marginal return of budget against total budget, this plan's budget marked;
    with a money KPI (``break_even``: ``BreakEven.to_dict()``) the break-even budget too, where
    the marginal return falls to 1 + hurdle_rate."""
    ok = [p for p in points if p.total_kpi is not None]
    b = np.array([p.budget for p in ok], float)
    k = np.array([p.total_kpi for p in ok], float)
    m = np.array(
        [p.marginal if p.marginal is not None and np.isfinite(p.marginal) else np.nan for p in ok],
        float,
    )
    fig, ax = plt.subplots(figsize=(6.2, 3.2))
    ax.plot(b, k, "o-", color="#1f5f8b", ms=3.5, lw=2, label=kpi)
    ax.set_xlabel(with_currency("total budget", currency), fontsize=8, color=_INK)
    ax.set_ylabel(kpi, fontsize=8, color="#1f5f8b")
    ax2 = ax.twinx()
    ax2.plot(b, m, "s--", color="#c0504d", ms=3, lw=1.2, label="marginal return")
    ax2.set_ylabel("marginal return", fontsize=8, color="#c0504d")
    ax2.tick_params(labelsize=8, colors="#c0504d")
    ax2.spines["top"].set_visible(False)
    if budget is not None:
        ax.axvline(budget, color=_INK, ls=":", lw=1.2)
        ax.text(budget, ax.get_ylim()[1], " this plan", fontsize=8, va="top", color=_INK)
    if break_even is not None and break_even.get("budget") is not None:
        value = float(break_even.get("value_per_kpi") or 1.0)
        t = float(break_even["threshold"])
        ax.axvline(break_even["budget"], color="#c0504d", ls="--", lw=1.2)
        ax.text(
            break_even["budget"],
            ax.get_ylim()[0],
            f" break-even ({t:.2f})\n {compact(break_even['budget'])} ",
            fontsize=8,
            va="bottom",
            ha="right",
            color="#c0504d",
        )
        ax2.axhline(t / value, color="#c0504d", lw=0.8, alpha=0.5)
    _tidy(ax)
    _thousands(ax)
    return fig


#: one colour per journey stage, upper funnel dark to advocacy light (cycled past seven)
_STAGE_COLOURS = ("#12355b", "#1f5f8b", "#3a87b5", "#5fa8c8", "#8fc3d6", "#b9d8c2", "#d9c77a")


def market_stage_figure(by_market: dict[str, dict[str, float]], stages, kpi_by_market=None):
    """Spend by market (one stacked bar each, largest first) split by journey stage, with each
    market's total and, when given, its KPI and ROI beside the bar."""
    markets = sorted(by_market, key=lambda m: -sum(by_market[m].values()))
    order = [s for s in stages if any(by_market[m].get(s, 0.0) > 0 for m in markets)]
    order += sorted(
        {s for m in markets for s, v in by_market[m].items() if v > 0 and s not in order}
    )
    fig, ax = plt.subplots(figsize=(9.0, 0.42 * len(markets) + 1.5))
    y = np.arange(len(markets))[::-1]
    left = np.zeros(len(markets))
    for k, st in enumerate(order):
        v = np.array([by_market[m].get(st, 0.0) for m in markets])
        ax.barh(
            y, v, left=left, height=0.62, color=_STAGE_COLOURS[k % len(_STAGE_COLOURS)], label=st
        )
        left += v
    from matplotlib.transforms import blended_transform_factory

    column = blended_transform_factory(ax.transAxes, ax.transData)
    head = "spend · ROI" if kpi_by_market else "spend"
    ax.text(1.02, len(markets) - 0.35, head, transform=column, fontsize=7.5, color="#5b6b7b")
    for yi, m, tot in zip(y, markets, left, strict=True):
        text = f"{tot:,.0f}"
        if kpi_by_market and tot > 0:
            text += f" · {kpi_by_market.get(m, 0.0) / tot:.2f}"
        ax.text(1.02, yi, text, transform=column, va="center", fontsize=8, color=_INK)
    ax.set_yticks(y, markets, fontsize=8)
    ax.set_xlim(0, (left.max() if len(left) else 1.0) * 1.04 + 1)
    ax.set_xlabel("spend over the horizon, by journey stage", fontsize=8, color=_INK)
    _tidy(ax)
    ax.grid(axis="y", visible=False)
    _thousands(ax, "x")
    ax.legend(
        fontsize=7,
        frameon=False,
        loc="lower left",
        bbox_to_anchor=(0.0, 1.0),
        ncol=min(len(order), 7),
    )
    return fig


def period_stage_figure(plan) -> plt.Figure:
    """A phased plan (contract 7): spend by period, stacked by journey stage, with each period's
    KPI per week on a second axis (the KPI after the horizon, with ``after: true``, noted)."""
    periods = list(plan.periods)
    stages = list(plan.stage_totals())
    x = np.arange(len(periods))
    fig, ax = plt.subplots(figsize=(9.0, 3.6))
    bottom = np.zeros(len(periods))
    for k, st in enumerate(stages):
        v = np.array(
            [sum(li.periods[p].spend for li in plan.line_items if li.stage == st) for p in x]
        )
        ax.bar(
            x, v, bottom=bottom, width=0.7, color=_STAGE_COLOURS[k % len(_STAGE_COLOURS)], label=st
        )
        bottom += v
    ax.set_xticks(x, [p.period for p in periods], fontsize=7.5, rotation=0 if len(x) <= 13 else 90)
    ax.set_ylabel(f"spend per {plan.phasing}", fontsize=8, color=_INK)
    _tidy(ax)
    ax.grid(axis="x", visible=False)
    _thousands(ax, "y")
    ax2 = ax.twinx()
    per_week = [p.kpi / p.weeks if p.weeks else 0.0 for p in periods]
    ax2.plot(x, per_week, "o-", color="#c0392b", ms=3.5, lw=1.2, label=f"{plan.kpi} per week")
    ax2.set_ylim(0, max(per_week, default=1.0) * 1.15 + 1)
    ax2.set_ylabel(f"{plan.kpi} per week (carry-over included)", fontsize=8, color="#c0392b")
    ax2.tick_params(axis="y", labelsize=7.5, colors="#c0392b")
    ax2.spines["top"].set_visible(False)
    _thousands(ax2, "y")
    handles, labels = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(
        handles + h2,
        labels + l2,
        fontsize=7,
        frameon=False,
        loc="lower left",
        bbox_to_anchor=(0.0, 1.0),
        ncol=min(len(stages) + 1, 4),
    )
    note = f"from {plan.start}"
    if plan.kpi_after:
        note += f"; {compact(plan.kpi_after)} {plan.kpi} more after the horizon"
    ax.set_xlabel(note, fontsize=7.5, color="#5b6b7b")
    return fig


def save_period_plot(plan, path: Path) -> Path:
    return _save(period_stage_figure(plan), Path(path))
