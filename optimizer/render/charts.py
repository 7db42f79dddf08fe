"""Charts with matplotlib (Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from optimizer.fileio import atomic_write_bytes  # noqa: E402
from optimizer.response.model import ResponseModel, TouchpointResponse  # noqa: E402


def _save(fig: plt.Figure, path: Path) -> Path:
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return atomic_write_bytes(path, buf.getvalue())


def curve_figure(tp: TouchpointResponse, kpi: str, point: float | None = None) -> plt.Figure:
    """Weekly KPI against steady weekly spend, with the bootstrap band and the spend seen."""
    sr = dict(tp.spend_range or {})
    top = max(sr.get("max", 0.0) * 1.5, (point or 0.0) * 1.3, 1.0)
    x = np.linspace(0.0, top, 300)
    fig, ax = plt.subplots(figsize=(6, 3.6))
    draws = tp.draw_responses()
    if draws:
        ys = np.array([d.weekly_kpi(x) for d in draws])
        lo, hi = np.percentile(ys, [10, 90], axis=0)
        ax.fill_between(x, lo, hi, color="tab:blue", alpha=0.18, label="P10–P90 over bootstrap draws")
    ax.plot(x, tp.weekly_kpi(x), color="tab:blue", lw=2, label="response curve")
    if sr.get("max"):
        ax.axvspan(sr.get("min", 0.0), sr["max"], color="grey", alpha=0.12, label="weekly spend seen")
    if sr.get("recent"):
        ax.axvline(sr["recent"], color="grey", ls="--", lw=1, label="recent spend")
    if point is not None:
        ax.plot([point], [float(tp.weekly_kpi(point))], "o", color="tab:red", label="plan")
    ax.set_xlabel("steady weekly spend")
    ax.set_ylabel(f"weekly {kpi}")
    ax.set_title(f"{tp.id} ({tp.stage})")
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(alpha=0.3)
    return fig


def plot_response_curves(model: ResponseModel, out_dir: Path,
                         points: dict[str, float] | None = None) -> list[Path]:
    out_dir = Path(out_dir)
    written = []
    for tid, tp in model.touchpoints.items():
        fig = curve_figure(tp, model.kpi, None if points is None else points.get(tid))
        written.append(_save(fig, out_dir / f"curve_{tid}.png"))
    return written


def frontier_figure(frontier) -> plt.Figure:
    pts = [p for p in frontier.points() if p["total_kpi"] is not None]
    b = np.array([p["budget"] for p in pts], float)
    k = np.array([p["total_kpi"] for p in pts], float)
    m = np.array([p["marginal_roi"] if p["marginal_roi"] is not None else np.nan for p in pts], float)
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(b, k, "o-", color="tab:blue", label="KPI")
    ax.set_xlabel("total budget")
    ax.set_ylabel("KPI")
    ax2 = ax.twinx()
    ax2.plot(b, m, "s--", color="tab:orange", label="marginal ROI")
    ax2.set_ylabel("marginal ROI")
    knee = frontier.knee()
    if knee is not None:
        ax.axvline(frontier.plans[knee].budget, color="grey", ls=":", label="diminishing returns")
    ax.set_title(f"budget frontier: {frontier.scenario}")
    ax.grid(alpha=0.3)
    fig.legend(loc="center right", bbox_to_anchor=(0.86, 0.5), fontsize=8)
    return fig


def save_frontier_plot(frontier, path: Path) -> Path:
    return _save(frontier_figure(frontier), Path(path))
