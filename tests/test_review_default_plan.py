"""The review pack says which plan ``optimize``'s default makes. ``explain`` justifies the
optimum on the point curves (``--robust none``); ``optimize``'s default (``--robust auto``) makes
the anchored plan where the fit pooled every touchpoint or the draws expect less than the point
curves promise. Where it does, the pack says so near its top, with the anchored plan's step, KPI
and line items beside the pack's, the same numbers ``optimize`` prints; where the default makes
the pack's own plan, one short line. Through the CLI, as a reviewer and a planner run it."""

from __future__ import annotations

import json

import pytest
from openpyxl import load_workbook

from tests.test_anchored import FULL_POOLING, run, upside_model
from tests.test_robust_auto import plan_json, spends, world


def explain(w: dict, out) -> None:
    r = run("explain", w["scenario"], "-o", out, "-q")
    assert r.returncode == 0, r.stderr


def test_a_pack_whose_plan_is_not_optimizes_default_says_so(tmp_path):
    """The fit pooled every touchpoint (model.json's ``diagnostics.pooling`` as fit writes it):
    optimize's default makes the anchored plan, short of the point optimum the pack justifies.
    The pack's JSON carries that plan under ``optimize_default``: its step, reason and every line
    item's spend equal ``optimize``'s own JSON (to the cent; the reason word for word), the
    pack's spends equal ``--robust none``'s, and the KPI difference is the two plans' KPIs on
    the point curves (1e-6 relative). The Markdown, HTML and workbook say it above the summary.
    (Before: nothing in the pack told the reviewer that optimize would make another plan.)"""
    w = world(tmp_path, {**upside_model(), "diagnostics": FULL_POOLING})
    auto, none = plan_json(w), plan_json(w, "--robust", "none")
    assert auto["robust"]["auto"]["chosen"] == "anchored"  # the premise
    explain(w, tmp_path / "review.json")
    d = json.loads((tmp_path / "review.json").read_text())["optimize_default"]
    assert d["chosen"] == "anchored" and d["same_plan"] is False
    assert d["step"] == auto["robust"]["step"] < 1.0
    assert d["reason"] == auto["robust"]["auto"]["reason"]
    assert d["auto"]["chosen"] == "anchored" and d["auto"]["full_pooling"] is True
    assert {it["id"]: it["spend"] for it in d["items"]} == spends(auto)
    assert {it["id"]: it["point_spend"] for it in d["items"]} == spends(none)
    for it in d["items"]:
        # money in cents, no float noise (reviewer S12 R1: 28704.390000000014)
        assert it["difference"] == round(it["spend"] - it["point_spend"], 2)
    kpi_auto = sum(li["kpi"] for li in auto["line_items"])
    kpi_none = sum(li["kpi"] for li in none["line_items"])
    assert d["total_kpi"] == pytest.approx(kpi_auto, rel=1e-6)
    assert d["kpi_difference"] == pytest.approx(kpi_auto - kpi_none, rel=1e-6)
    assert d["kpi_difference"] < 0  # on the point curves the point optimum earns the most
    step = f"step {d['step']:.2f}"
    assert "optimize's default (--robust auto) makes the anchored plan" in d["sentence"]
    assert step in d["sentence"] and d["reason"] in d["sentence"]

    explain(w, tmp_path / "review.md")
    md = (tmp_path / "review.md").read_text()
    note = md.index("**Not the plan optimize makes by default.**")
    assert note < md.index("## Summary")
    top = md[note : md.index("## Summary")]
    assert step in top
    for tid, spend in spends(auto).items():
        line = next(ln for ln in top.splitlines() if ln.startswith(f"| {tid} |"))
        assert f"{spends(none)[tid]:,.0f}" in line and f"{spend:,.0f}" in line
    # every row foots on the page: the difference shown is that of the two amounts shown
    # (reviewer S12 R1: tv 566,283 -> 594,988 printed +28,704)
    for line in top.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) != 4 or not cells[1][:1].isdigit():
            continue
        a, b = (float(c.replace(",", "")) for c in cells[1:3])
        diff = float(cells[3].replace(",", "").replace("−", "-").replace("+", ""))
        assert diff == b - a, line
    assert f"the anchored plan, {step}" in md  # the summary's row

    explain(w, tmp_path / "review.html")
    html = (tmp_path / "review.html").read_text()
    assert 'id="optimize-default"' in html and "Not the plan optimize makes by default." in html
    assert html.index('id="optimize-default"') < html.index('class="cards"')

    explain(w, tmp_path / "review.xlsx")
    ws = load_workbook(tmp_path / "review.xlsx")["Summary"]
    assert str(ws["A2"].value).startswith("Not the plan optimize makes by default.")
    cells = [c for row in ws.iter_rows(values_only=True) for c in row if c is not None]
    assert spends(auto)["tv"] in cells and spends(none)["tv"] in cells


def test_a_pack_whose_plan_is_optimizes_default_says_one_short_line(tmp_path):
    """Draws that only see more upside: optimize's default makes the point optimum, the pack's
    own plan. The JSON says so (``same_plan``, optimize's reason, no line items), the Markdown
    has one summary row and no note."""
    w = world(tmp_path, upside_model())
    auto = plan_json(w)
    assert auto["robust"]["auto"]["chosen"] == "none"  # the premise
    explain(w, tmp_path / "review.json")
    d = json.loads((tmp_path / "review.json").read_text())["optimize_default"]
    assert d["chosen"] == "none" and d["same_plan"] is True and d["items"] == []
    assert d["reason"] == auto["robust"]["auto"]["reason"] and d["step"] is None
    explain(w, tmp_path / "review.md")
    md = (tmp_path / "review.md").read_text()
    assert "Not the plan optimize makes by default" not in md
    rows = [ln for ln in md.splitlines() if "optimize's default" in ln]
    assert rows == [
        "| optimize's default (--robust auto) | this plan (the optimum on the point curves) |"
    ]


@pytest.mark.slow
def test_a_fit_that_pools_fully_gets_the_note_end_to_end(tmp_path):
    """A low-information simulated history that ``budgetopt fit`` pools fully
    (``random_world(8, seed=22)``, 20 draws; tests/test_band_draws.py): optimize's default makes
    the anchored plan, and the pack of the same scenario says so with optimize's step and each
    line item's spend to the cent."""
    import subprocess
    import sys

    import pandas as pd

    from optimizer.simulate import random_world, simulate, write_world

    paths = write_world(simulate(random_world(8, seed=22)), tmp_path)
    r = subprocess.run([sys.executable, "-m", "optimizer", "fit", "--journey", paths["journey"],
                        "--history", paths["history"], "-o", tmp_path / "model.json", "--seed",
                        "0", "--bootstrap", "20", "-q"], capture_output=True, text=True)  # fmt: skip
    assert r.returncode == 0, r.stderr
    h = pd.read_csv(paths["history"])
    spend = h[[c for c in h.columns if c.startswith("tp")]].mean().sum()
    sc = tmp_path / "base.yaml"
    sc.write_text(json.dumps({"name": "base", "model": "model.json", "horizon_weeks": 13,
                              "budget": round(float(spend) * 13 * 1.2, -3)}))  # fmt: skip
    w = {"scenario": sc}
    auto = plan_json(w)
    assert auto["robust"]["auto"]["chosen"] == "anchored"  # the premise
    assert auto["robust"]["auto"]["full_pooling"] is True
    explain(w, tmp_path / "review.json")
    d = json.loads((tmp_path / "review.json").read_text())["optimize_default"]
    assert d["chosen"] == "anchored" and d["step"] == auto["robust"]["step"]
    assert {it["id"]: it["spend"] for it in d["items"]} == spends(auto)
