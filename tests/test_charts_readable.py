"""Charts a CFO reads (issue 17 item 10), checked on the matplotlib figures themselves.

- ``sweep --plot``: money ticks (``10M``, never ``1e7``), the scenario budget, break-even and
  hurdle lines where the economics put them (not where the sweep's range ends);
- ``fit --plots``: money ticks on both axes (the old chart printed ``100000200000…`` run together);
- the review pack's ladder: one colour per journey stage (the old one had 14 line items in tab20,
  7 pairs of near-identical colours), the break-even return drawn when the KPI is money.
"""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib.colors as mcolors
import numpy as np
import pytest

from optimizer.render import charts
from optimizer.response.model import read_model
from optimizer.scenario import load_scenario
from optimizer.workflow.sweep import sweep
from tests.factories import explained_review

ROOT = Path(__file__).resolve().parent.parent
MONEY_TICK = re.compile(r"^−?\d+(\.\d+)?[kM]?$")


def _labels(ax, axis: str) -> list[str]:
    ax.figure.canvas.draw()
    ticks = ax.get_xticklabels() if axis == "x" else ax.get_yticklabels()
    return [t.get_text() for t in ticks if t.get_text()]


@pytest.fixture(scope="module")
def frontier():
    sc = load_scenario(ROOT / "scenarios" / "base.yaml").model_copy(update={"hurdle_rate": 0.15})
    model = read_model(ROOT / "optimizer" / "sample" / "true_model.json")
    return sweep(sc, model, np.linspace(2e6, 16e6, 8))


def test_frontier_has_money_ticks_and_the_budget_break_even_and_hurdle_lines(frontier):
    fig = charts.frontier_figure(frontier)
    ax = fig.axes[0]
    for axis in ("x", "y"):
        labels = _labels(ax, axis)
        assert labels and all(MONEY_TICK.match(t) for t in labels), labels
    assert any(t.endswith("M") for t in _labels(ax, "x"))
    eco = frontier.economics
    assert eco.hurdle.budget is not None and eco.payback.budget is not None
    vertical = sorted(
        float(line.get_xdata()[0])
        for line in ax.get_lines()
        if len(set(map(float, line.get_xdata()))) == 1
    )
    for want in (eco.hurdle.budget, eco.payback.budget, frontier.budget):
        assert min(abs(v - want) for v in vertical) < 1.0, (want, vertical)
    words = " ".join(t.get_text() for t in ax.texts)
    assert "hurdle" in words and "break-even" in words and "scenario budget" in words
    # the marginal-return axis reads as returns: 1.00, 1.15
    right = fig.axes[1]
    assert all(re.match(r"^\d\.\d\d$", t) for t in _labels(right, "y"))
    charts.plt.close(fig)


def test_fit_plot_axes_read_as_money():
    model = read_model(ROOT / "optimizer" / "sample" / "true_model.json")
    tp = model.touchpoints["tv"]
    fig = charts.curve_figure(tp, model.kpi)
    ax = fig.axes[0]
    for axis in ("x", "y"):
        labels = _labels(ax, axis)
        assert all(MONEY_TICK.match(t) and len(t) <= 6 for t in labels), labels
    assert "spend" in ax.get_xlabel() and model.kpi in ax.get_ylabel()
    charts.plt.close(fig)


def test_ladder_is_coloured_by_stage_with_break_even():
    _, _, _, e = explained_review()
    fig = charts.ladder_figure(e.ladder, e.kpi, break_even=1.0)
    ax = fig.axes[0]
    stages = list(dict.fromkeys(s.stage for s in e.ladder.steps))
    colours = {mcolors.to_hex(p.get_facecolor(), keep_alpha=False) for p in ax.patches}
    assert len(colours) <= len(stages) < len(dict.fromkeys(s.item for s in e.ladder.steps))
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[: len(stages)] == [st for st in charts.STAGES if st in stages]
    # the stage colours are far apart: no two closer than 0.25 in RGB (tab20's pairs: ~0.1)
    rgb = [np.array(mcolors.to_rgb(c)) for c in charts.LADDER_STAGE_COLOURS[:7]]
    gaps = [np.linalg.norm(a - b) for i, a in enumerate(rgb) for b in rgb[i + 1 :]]
    assert min(gaps) > 0.25
    flat = [ln for ln in ax.get_lines() if len(set(map(float, ln.get_ydata()))) == 1]
    assert any(abs(float(ln.get_ydata()[0]) - 1.0) < 1e-12 for ln in flat)
    assert any("break-even" in t.get_text() for t in ax.texts)
    charts.plt.close(fig)


def _tight_frontier(tmp_path, budgets):
    """The sample's curves under rules no budget below 250 can meet (tv and search each at least
    100, awareness at most 40% of the spend), swept over ``budgets``."""
    sc = tmp_path / "t.yaml"
    sc.write_text(
        f"name: t\nmodel: {ROOT / 'optimizer' / 'sample' / 'true_model.json'}\n"
        "horizon_weeks: 13\nbudget: 250\ntouchpoints:\n  tv: {min: 100}\n  search: {min: 100}\n"
        "stages:\n  awareness: {max_share: 0.4}\n"
    )
    model = read_model(ROOT / "optimizer" / "sample" / "true_model.json")
    return sweep(load_scenario(sc), model, np.array(budgets, float))


def _crosses(ax):
    return [line for line in ax.get_lines() if line.get_marker() == "x"]


def test_frontier_marks_the_budgets_without_a_plan(tmp_path):
    """`sweep --budgets 0:300:4 --plot f.png` where 0, 100 and 200 are infeasible: the chart drew
    the one plan (at 300) and said nothing of the other three budgets; swept over 0-200 only, it
    drew an empty frame with ticks "0 0 0 -0 -0". Now each budget without a plan is a cross on
    the budget axis (legend: "no plan (infeasible) at 3 budgets"), and a sweep with no plan at
    all says so in the frame, with no KPI ticks."""
    f = _tight_frontier(tmp_path, [0, 100, 200, 300])
    fig = charts.frontier_figure(f)
    ax = fig.axes[0]
    (cross,) = _crosses(ax)
    assert list(map(float, cross.get_xdata())) == [0.0, 100.0, 200.0]
    assert "no plan (infeasible) at 3 budgets" in [t.get_text() for t in ax.get_legend().texts]
    charts.plt.close(fig)
    fig = charts.frontier_figure(_tight_frontier(tmp_path, [0, 100, 200]))
    ax = fig.axes[0]
    assert list(map(float, _crosses(ax)[0].get_xdata())) == [0.0, 100.0, 200.0]
    assert any("no plan at any of the 3 budgets swept" in t.get_text() for t in ax.texts)
    assert not _labels(ax, "y")
    charts.plt.close(fig)


def test_frontier_keeps_the_sweep_readable_when_break_even_is_far_outside_it(tmp_path):
    """The same sweep (0-300) with break-even at 9.02M: the budget axis ran to 9.5M, the four
    budgets swept squashed into its first 0.003%. Now the axis spans the sweep (and the scenario
    budget of 250, inside it) to within 5% padding, and break-even is named in the axis label
    ("beyond this range: break-even 9.02M →") instead of drawn; within the range it is drawn as
    before (the test above)."""
    f = _tight_frontier(tmp_path, [0, 100, 200, 300])
    assert f.economics.payback.budget > 1e6
    fig = charts.frontier_figure(f)
    ax = fig.axes[0]
    lo, hi = ax.get_xlim()
    assert -20 <= lo <= 0 and 300 <= hi <= 320, (lo, hi)
    assert "beyond this range: break-even 9.02M →" in ax.get_xlabel()
    words = " ".join(t.get_text() for t in ax.texts)
    assert "scenario budget\n250" in words and "break-even\n" not in words
    charts.plt.close(fig)


def test_frontier_ticks_differ_on_a_narrow_sweep():
    """A sweep over 1,000,000-1,010,000 (now that far-off lines no longer widen the axis) was
    ticked "1M 1M 1M 1.01M 1.01M 1.01M" and its KPI axis "5.46M 5.46M 5.45M 5.45M": every tick
    label now differs from the others, still in money form (1.004M)."""
    sc = load_scenario(ROOT / "scenarios" / "base.yaml")
    model = read_model(ROOT / "optimizer" / "sample" / "true_model.json")
    fig = charts.frontier_figure(sweep(sc, model, np.array([1.0e6, 1.005e6, 1.01e6])))
    ax = fig.axes[0]
    for axis in ("x", "y"):
        labels = _labels(ax, axis)
        assert len(labels) >= 3 and len(set(labels)) == len(labels), labels
        assert all(MONEY_TICK.match(t) for t in labels), labels
    charts.plt.close(fig)
