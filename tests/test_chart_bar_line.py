"""The review's curve charts name the line they draw: a line item's bar where a share rule moves
it off the plan's hurdle ("its bar 0.975"), else the hurdle ("hurdle 0.833"), as the words do.

On the awareness push (35% awareness floor binding) every line item's bar differs from the
hurdle 0.833: 0.975 outside awareness, 0.569 for its members. The charts said "hurdle slope 0.98"
for search (drawing 0.975) and "hurdle slope 0.83" for tv (drawing 0.833, not its bar).

Truth: the explanation's own numbers (``explain --format json``: ``hurdle`` and each item's
``bar``), printed to three decimals as the pack prints them; each chart built while ``explain
--format html`` renders (the CLI command, in process, with the chart-building function watched):
its dashed line's legend label and the slope of the segment drawn (to 1e-9 relative).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from optimizer.cli import cli
from optimizer.render import charts

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> None:
    r = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert r.exit_code == 0, r.output


@pytest.mark.parametrize("scenario", ["awareness_push", "base"])
def test_each_curve_chart_labels_and_draws_its_bar_or_the_hurdle(scenario, tmp_path, monkeypatch):
    sc = str(ROOT / "scenarios" / f"{scenario}.yaml")
    _run("explain", sc, "--format", "json", "-o", str(tmp_path / "e.json"), "--no-ledger")
    e = json.loads((tmp_path / "e.json").read_text())
    seen: dict[str, tuple[str, float]] = {}
    build = charts.review_curve_figure

    def watched(tp, *args, **kw):
        fig = build(tp, *args, **kw)
        (ax,) = fig.axes
        (dashed,) = [ln for ln in ax.get_lines() if ln.get_linestyle() == "--"]
        (x0, x1), (y0, y1) = dashed.get_xdata(), dashed.get_ydata()
        seen[tp.id] = (str(dashed.get_label()), float((y1 - y0) / (x1 - x0)))
        return fig

    monkeypatch.setattr(charts, "review_curve_figure", watched)
    _run("explain", sc, "--format", "html", "-o", str(tmp_path / "e.html"), "--no-ledger")
    assert sorted(seen) == sorted(it["id"] for it in e["items"])
    hurdle = f"{e['hurdle']:.3f}"
    named = set()
    for it in e["items"]:
        label, slope = seen[it["id"]]
        bar = it.get("bar")
        if bar is not None and f"{bar:.3f}" != hurdle:
            want, value = f"its bar {bar:.3f}", bar
        else:
            want, value = f"hurdle {hurdle}", e["hurdle"]
        assert label in (want, f"{want} per unit"), (it["id"], label, want)
        assert slope == pytest.approx(value, rel=1e-9), (it["id"], slope, value)
        named.add(want.split(" ")[0])
    if scenario == "awareness_push":  # the case the reviewers read: every bar off the hurdle
        assert seen["search"][0] == "its bar 0.975" and seen["tv"][0] == "its bar 0.569"
        assert hurdle == "0.833" and named == {"its"}
    else:  # no share rule binds: every line is the hurdle
        assert named == {"hurdle"}
