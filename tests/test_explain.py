"""explain(): every claim of the review pack checked, by re-solving or by finite differences.

World (``tests/factories.py``, ``REVIEW_*``): seven line items over 13 weeks and a budget of
1,300,000. Truth by construction: tv is capped by its maximum (300,000), social and video by the
'digital' group cap (350,000), email is held up by its lock (250,000), search and events sit at
the hurdle, print is not funded (first-dollar return 0.15, far below the hurdle of about 1.0).
With ``min_if_funded`` events may only be funded at 300,000 or more, which is not worth it.

Tolerances: claims priced by re-solving are reproduced by an independent re-solve within 1%
(plus one unit of KPI for changes near zero); marginal ROIs match central differences of the
curve to 1e-6 relative; the budget's shadow price matches the central difference of the plan's
KPI over ±0.5% of the budget within 2%.
"""

from __future__ import annotations

import json
import math

import openpyxl
import pytest
from click.testing import CliRunner

from optimizer.allocate import allocate
from optimizer.cli import cli
from optimizer.errors import DataError, InfeasibleError
from optimizer.explain import (
    CAPPED,
    EXPLAIN_TOLERANCE,
    HELD_UP,
    INTERIOR,
    NOT_WORTH_MINIMUM,
    UNFUNDED,
    explain,
    fmt_amount,
    fmt_ratio,
    read_last_cycle,
)
from optimizer.render.report_json import explanation_to_dict
from optimizer.render.report_md import explanation_markdown
from optimizer.render.report_xlsx import explanation_xlsx, write_xlsx
from optimizer.response.model import model_from_dict
from optimizer.scenario import GroupRule, TouchpointRule, scenario_from_dict
from tests.factories import (
    REVIEW_LAST_CYCLE,
    TINY_MODEL,
    explained_review,
    write_review_world,
    write_tiny_world,
)

B = 1_300_000.0


@pytest.fixture(scope="module")
def world():
    return explained_review()


def resolve(sc, model):
    return allocate(sc, model, tolerance=EXPLAIN_TOLERANCE, diagnose=False)


def with_rule(sc, tid, rule):
    tps = dict(sc.touchpoints)
    tps[tid] = rule
    return sc.model_copy(update={"touchpoints": tps})


def reproduces(claim, actual, rel=0.01, floor=1.0):
    assert claim is not None
    assert abs(actual - claim) <= rel * abs(claim) + floor, (claim, actual)


# ------------------------------------------------------------------------------------------------
# roles and reasons
# ------------------------------------------------------------------------------------------------
def test_every_line_item_has_the_role_the_world_was_built_for(world):
    _, _, _, e = world
    roles = {it.id: it.role for it in e.items}
    assert roles == {
        "tv": CAPPED,
        "print": UNFUNDED,
        "search": INTERIOR,
        "social": CAPPED,
        "video": CAPPED,
        "events": INTERIOR,
        "email": HELD_UP,
    }


def test_unfunded_line_item_names_the_hurdle_and_its_first_dollar_return(world):
    _, _, _, e = world
    pr = e.item("print")
    assert pr.spend == 0 and pr.first_dollar_roi < e.hurdle
    assert "hurdle" in pr.reason
    assert fmt_ratio(e.hurdle) in pr.reason  # the return it would need
    assert fmt_ratio(pr.first_dollar_roi) in pr.reason  # the return it has
    assert pr.hurdle == pytest.approx(e.hurdle)


def test_capped_line_items_name_their_cap(world):
    _, _, _, e = world
    tv = e.item("tv")
    assert tv.rules == ("tp_max__tv",)
    assert "the tv maximum (300,000)" in tv.reason and tv.reason.startswith("Capped")
    assert tv.marginal_roi > tv.hurdle
    for tid in ("social", "video"):
        it = e.item(tid)
        assert it.rules == ("group_max__digital",)
        assert "the 'digital' group cap (350,000)" in it.reason


def test_held_up_line_item_names_its_lock(world):
    _, _, _, e = world
    em = e.item("email")
    assert em.rules == ("tp_lock__email",)
    assert "Held up by the email lock (250,000)" in em.reason
    assert em.marginal_roi < em.hurdle


def test_interior_line_items_sit_at_the_hurdle(world):
    _, _, _, e = world
    for tid in ("search", "events"):
        it = e.item(tid)
        assert it.marginal_roi == pytest.approx(e.hurdle, rel=5e-3)
        assert "fell to the hurdle" in it.reason


# ------------------------------------------------------------------------------------------------
# numbers against the curves
# ------------------------------------------------------------------------------------------------
def test_marginal_rois_match_central_differences_of_the_curve(world):
    _, model, _, e = world
    for it in e.items:
        tp = model.touchpoints[it.id]

        def F(s, tp=tp):
            return float(tp.horizon_kpi(s, 13))

        if it.spend > 0:
            h = 1e-4 * it.spend
            fd = (F(it.spend + h) - F(it.spend - h)) / (2 * h)
            assert it.marginal_roi == pytest.approx(fd, rel=1e-6), it.id
            assert it.kpi == pytest.approx(F(it.spend), rel=1e-12)
            assert it.roi == pytest.approx(it.kpi / it.spend, rel=1e-12)
    pr = e.item("print")
    h = 1e-2
    fd = (
        float(model.touchpoints["print"].horizon_kpi(2 * h, 13))
        - float(model.touchpoints["print"].horizon_kpi(0.0, 13))
    ) / (2 * h)
    assert pr.first_dollar_roi == pytest.approx(fd, rel=1e-6)


def test_the_budget_shadow_price_is_the_kpi_of_the_next_dollar(world):
    sc, model, _, e = world
    d = 0.005 * B
    up = resolve(sc.with_budget(B + d), model).total_kpi
    down = resolve(sc.with_budget(B - d), model).total_kpi
    assert e.hurdle == pytest.approx((up - down) / (2 * d), rel=0.02)


def test_naive_numbers_are_the_curve_alone(world):
    _, model, _, e = world
    for it in e.items:
        tp = model.touchpoints[it.id]
        for mv in (it.next, it.last):
            if mv is None:
                continue
            naive = float(tp.horizon_kpi(mv.target, 13) - tp.horizon_kpi(it.spend, 13))
            assert mv.naive_kpi == pytest.approx(naive, rel=1e-9, abs=1e-6)
            assert mv.naive_net == pytest.approx(
                naive - it.hurdle * (mv.target - it.spend), rel=1e-9, abs=1e-6
            )


# ------------------------------------------------------------------------------------------------
# claims priced by re-solving
# ------------------------------------------------------------------------------------------------
def test_next_and_last_increments_reproduce_by_re_solving(world):
    sc, model, plan, e = world
    base = resolve(sc, model)
    for it in e.items:
        expected_up = 0.10 * it.spend if it.spend > 0 else 0.01 * B
        assert it.next is not None and it.next.amount == pytest.approx(expected_up, abs=0.01)
        moves = [it.next] + ([it.last] if it.last is not None else [])
        for mv in moves:
            p = resolve(with_rule(sc, it.id, TouchpointRule(lock=mv.target)), model)
            reproduces(mv.total_kpi, p.total_kpi - base.total_kpi)
            reproduces(mv.own_kpi, p.item(it.id).kpi - base.item(it.id).kpi)
    # at the optimum, forcing a line item at the hurdle either way can only lose
    for tid in ("search", "events"):
        assert e.item(tid).next.total_kpi < 0 and e.item(tid).last.total_kpi < 0
    # cutting what a lock holds in gains; a cap set aside gains only where the line item still
    # earns more than the hurdle over the whole increment
    assert e.item("email").last.total_kpi > 0
    assert "setting aside the email lock" in e.item("email").last.sentence


def test_constraint_claims_reproduce_by_re_solving(world):
    sc, model, _, e = world
    base = resolve(sc, model).total_kpi
    budget = e.constraint("budget")
    assert budget.step == 10_000 and budget.binding
    reproduces(budget.resolved, resolve(sc.with_budget(B + 10_000), model).total_kpi - base)
    assert f"would add about {fmt_amount(budget.resolved)} revenue" in budget.sentence

    tv = e.constraint("tp_max__tv")
    reproduces(
        tv.resolved,
        resolve(with_rule(sc, "tv", TouchpointRule(max=310_000)), model).total_kpi - base,
    )
    assert tv.sentence.startswith("Raising the tv maximum (300,000) by 10,000 would add about")

    lock = e.constraint("tp_lock__email")
    reproduces(
        lock.resolved,
        resolve(with_rule(sc, "email", TouchpointRule(lock=240_000)), model).total_kpi - base,
    )
    assert f"costs about {fmt_amount(lock.resolved)} revenue per 10,000 locked" in lock.sentence

    grp = e.constraint("group_max__digital")
    groups = {"digital": GroupRule(members=("social", "video"), max=360_000)}
    reproduces(
        grp.resolved, resolve(sc.model_copy(update={"groups": groups}), model).total_kpi - base
    )
    # the shadow price is the first-order estimate of the same thing
    for c in (budget, tv, lock, grp):
        assert c.estimate == pytest.approx(abs(c.shadow_price) * c.step)
    share = e.constraint("stage_min_share__awareness")
    assert not share.binding and "not binding" in share.sentence


def test_role_ranges_hold_where_they_say(world):
    sc, model, _, e = world
    tv = e.item("tv").role_range
    assert tv.low_edge is not None and tv.low_edge < tv.low <= B and tv.high_edge is None
    at_low = resolve(sc.with_budget(tv.low), model).item("tv")
    assert at_low.spend == pytest.approx(300_000, abs=0.01) and "max" in at_low.binding
    below = resolve(sc.with_budget(tv.low_edge), model)
    assert below.item("tv").marginal_roi == pytest.approx(below.budget_shadow_price, rel=5e-3)
    pr = e.item("print").role_range
    assert pr.high_edge is not None and pr.high_edge > B
    assert resolve(sc.with_budget(pr.high), model).item("print").spend == 0
    assert resolve(sc.with_budget(pr.high_edge), model).item("print").spend > 0
    assert "up to at least 2,600,000" in e.item("search").role_range.sentence


# ------------------------------------------------------------------------------------------------
# the ladder
# ------------------------------------------------------------------------------------------------
def test_ladder_increments_sum_to_each_line_item_and_the_plan(world):
    _, _, plan, e = world
    lad = e.ladder
    above = lad.steps[: lad.cutoff]
    for it in e.items:
        mine = [s for s in above if s.item == it.id]
        assert sum(s.amount for s in mine) == pytest.approx(it.spend, abs=0.01)
        assert sum(s.kpi_gain for s in mine) == pytest.approx(it.kpi, rel=1e-9, abs=1e-9)
        if it.spend > 0:
            assert len(mine) >= 10
        # nothing of a line item's plan spend lies below the line or among the blocked
        for s in (*lad.steps[lad.cutoff :], *lad.blocked):
            if s.item == it.id:
                assert s.spend_from >= it.spend - 0.01
    assert sum(s.amount for s in above) == pytest.approx(plan.total_spend, abs=0.01)
    assert sum(s.kpi_gain for s in above) == pytest.approx(plan.total_kpi, rel=1e-9)


def test_the_cut_off_line_sits_where_the_budget_runs_out(world):
    _, _, plan, e = world
    lad = e.ladder
    assert lad.consistent
    assert plan.total_spend == pytest.approx(B, abs=0.01)
    assert lad.steps[lad.cutoff - 1].cumulative_spend == pytest.approx(B, abs=0.01)
    assert lad.steps[lad.cutoff].cumulative_spend > B + 1
    assert all(s.status in ("committed", "funded") for s in lad.steps[: lad.cutoff])
    assert all(s.status == "unfunded" for s in lad.steps[lad.cutoff :])
    # committed first (the email lock), then by return; the line separates returns
    statuses = [s.status for s in lad.steps]
    assert statuses.index("funded") == statuses.count("committed")
    assert {s.item for s in lad.steps if s.status == "committed"} == {"email"}
    discretionary = [s.rank_return for s in lad.steps[: lad.cutoff] if s.status == "funded"]
    assert min(discretionary) >= max(s.rank_return for s in lad.steps[lad.cutoff :])
    assert min(discretionary) >= e.hurdle * (1 - 5e-3)
    # what a rule keeps out would clear the hurdle
    assert {s.item for s in lad.blocked} == {"social", "video"}
    for s in lad.blocked:
        assert s.return_ > e.hurdle and "'digital' group cap" in s.reason
    assert [s.rank for s in lad.above(2)] == [lad.cutoff - 1, lad.cutoff]
    assert [s.rank for s in lad.below(2)] == [lad.cutoff + 1, lad.cutoff + 2]


# ------------------------------------------------------------------------------------------------
# curve position, summaries, last cycle
# ------------------------------------------------------------------------------------------------
def test_curve_positions_and_bootstrap_bands(world):
    _, _, _, e = world
    em = e.item("email").position
    assert em.where == "beyond" and em.extrapolation
    assert any(w.startswith("email: Extrapolation") for w in e.warnings)
    assert e.item("tv").position.where == "inside"
    assert e.item("print").position.where == "unfunded"
    for it in e.items:
        if it.spend > 0:
            assert it.position.kpi_p10 <= it.kpi <= it.position.kpi_p90
            assert it.position.n_draws == 8
    assert e.total_kpi_p10 <= e.total_kpi <= e.total_kpi_p90


def test_stage_and_group_summaries_reconcile(world):
    _, _, plan, e = world
    assert round(sum(g.spend for g in e.stages), 2) == plan.total_spend
    assert sum(g.kpi for g in e.stages) == pytest.approx(plan.total_kpi, rel=1e-12)
    (digital,) = e.groups
    assert digital.spend == pytest.approx(350_000, abs=0.01)
    assert digital.binding == ("the 'digital' group cap (350,000)",)


def test_last_cycle_deltas(world, tmp_path):
    sc, model, plan, e = world
    for it in e.items:
        assert it.last_cycle == REVIEW_LAST_CYCLE[it.id]
        assert it.delta == pytest.approx(it.spend - REVIEW_LAST_CYCLE[it.id])
    assert e.last_cycle_total == pytest.approx(sum(REVIEW_LAST_CYCLE.values()))
    with pytest.raises(DataError, match="did you mean 'search'"):
        explain(plan, sc, model, last_cycle={"serch": 1.0}, sweep_points=0)
    w = write_review_world(tmp_path / "w")
    assert read_last_cycle(w["last_cycle"]) == REVIEW_LAST_CYCLE
    bad = tmp_path / "bad.csv"
    bad.write_text("id,spend\ntv,-5\n")
    with pytest.raises(DataError, match="non-negative"):
        read_last_cycle(bad)
    bad.write_text("line,spend\ntv,5\n")
    with pytest.raises(DataError, match="column 'id'"):
        read_last_cycle(bad)
    bad.write_text("id,spend\ntvv,5\n")
    with pytest.raises(DataError, match="did you mean 'tv'"):
        read_last_cycle(bad, ids=list(model.touchpoints))


# ------------------------------------------------------------------------------------------------
# other worlds
# ------------------------------------------------------------------------------------------------
def test_min_if_funded_not_worth_the_minimum():
    sc, model, plan, e = explained_review(min_if_funded=True, sweep_points=0)
    ev = e.item("events")
    assert ev.role == NOT_WORTH_MINIMUM and ev.spend == 0
    assert ev.first_dollar_roi > e.hurdle  # its first dollar would clear the hurdle ...
    assert ev.first_increment_roi < e.hurdle  # ... but not the whole block it must take
    assert "300,000" in ev.reason and "not funded" in ev.reason.lower()
    assert ev.next.amount == pytest.approx(300_000)
    forced = resolve(with_rule(sc, "events", TouchpointRule(lock=300_000)), model)
    reproduces(ev.next.total_kpi, forced.total_kpi - resolve(sc, model).total_kpi)
    assert ev.next.total_kpi < 0
    assert e.ladder.consistent and not e.frontier


def test_at_the_optimum_no_forced_move_gains(tmp_path):
    """Tiny world: every line item at the hurdle, so forcing any of them either way loses."""
    w = write_tiny_world(tmp_path / "t")
    sc = scenario_from_dict(
        {"name": "tiny", "model": str(w["model"]), "horizon_weeks": 13, "budget": B}
    )
    model = model_from_dict(TINY_MODEL)
    plan = allocate(sc, model, tolerance=EXPLAIN_TOLERANCE)
    e = explain(plan, sc, model, sweep_points=5, refine_steps=0, increment=20_000)
    assert all(it.role == INTERIOR for it in e.items)
    for it in e.items:
        assert it.next.amount == pytest.approx(20_000) and it.last.amount == pytest.approx(20_000)
        assert it.next.total_kpi <= 1e-7 * e.total_kpi
        assert it.last.total_kpi <= 1e-7 * e.total_kpi
        assert it.position.where == "unknown" and it.position.kpi_p10 is None
    assert [p.budget for p in e.frontier] == [0.0, 650_000.0, B, 1_950_000.0, 2_600_000.0]
    assert e.frontier[2].total_kpi == pytest.approx(plan.total_kpi, rel=1e-9)


def test_an_infeasible_plan_is_refused():
    sc = scenario_from_dict(
        {
            "name": "tight",
            "model": "m.json",
            "horizon_weeks": 13,
            "budget": 100_000,
            "touchpoints": {"email": {"lock": 200_000}},
        }
    )
    model = model_from_dict(TINY_MODEL)
    plan = allocate(sc, model)
    with pytest.raises(InfeasibleError, match="infeasible"):
        explain(plan, sc, model)


# ------------------------------------------------------------------------------------------------
# renderers: JSON, Markdown, XLSX
# ------------------------------------------------------------------------------------------------
def test_json_view_is_plain_and_complete(world):
    _, _, plan, e = world
    d = explanation_to_dict(e)
    text = json.dumps(d, allow_nan=False)  # no NaN / inf anywhere
    back = json.loads(text)
    assert back["format"] == "budgetopt.explanation"
    assert [it["id"] for it in back["items"]] == [li.id for li in plan.line_items]
    assert back["ladder"]["cutoff"] == e.ladder.cutoff
    assert back["ladder"]["above_line"][-1] == e.ladder.cutoff
    assert "responses" not in back
    tv = next(it for it in back["items"] if it["id"] == "tv")
    assert tv["role"] == "capped" and tv["next"]["total_kpi"] == pytest.approx(
        e.item("tv").next.total_kpi
    )


def test_markdown_pack_has_every_line_item_and_the_line(world):
    _, _, _, e = world
    md = explanation_markdown(e)
    for it in e.items:
        assert f"### {it.id} ({it.stage})" in md
        assert it.reason in md
    assert "— the budget runs out here —" in md
    assert "| **total** |" in md and "**1,300,000**" in md
    assert "Why is tv not higher?" in md


def test_workbook_opens_and_its_totals_reconcile_with_the_plan(world, tmp_path):
    _, _, plan, e = world
    path = write_xlsx(e, tmp_path / "review.xlsx")
    assert explanation_xlsx(e) == path.read_bytes()  # deterministic bytes
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == [
        "Summary",
        "Line items",
        "Why",
        "Ladder",
        "Stages",
        "Constraints",
        "Frontier",
    ]
    ws = wb["Line items"]
    assert ws.freeze_panes == "B2"
    head = [c.value for c in ws[1]]
    spend_col = head.index("spend") + 1
    kpi_col = head.index("KPI") + 1
    rows = list(ws.iter_rows(min_row=2, values_only=True))
    body, total = rows[:-1], rows[-1]
    assert [r[0] for r in body] == [li.id for li in plan.line_items] and total[0] == "Total"
    assert round(sum(r[spend_col - 1] for r in body), 2) == total[spend_col - 1] == plan.total_spend
    assert sum(r[kpi_col - 1] for r in body) == pytest.approx(total[kpi_col - 1], rel=1e-12)
    assert total[kpi_col - 1] == pytest.approx(plan.total_kpi, rel=1e-12)
    assert ws.cell(row=2, column=spend_col).number_format == "#,##0;[Red]-#,##0"
    assert ws.cell(row=len(rows) + 1, column=1).font.bold

    st = wb["Stages"]
    srows = list(st.iter_rows(min_row=2, values_only=True))
    end = next(i for i, r in enumerate(srows) if r[0] == "Total")
    assert round(sum(r[2] for r in srows[:end]), 2) == srows[end][2] == plan.total_spend

    lad = wb["Ladder"]
    lrows = list(lad.iter_rows(min_row=2, values_only=True))
    above = [r for r in lrows if r[-1] == "yes"]
    assert len(above) == e.ladder.cutoff
    assert round(sum(r[6] for r in above), 2) == pytest.approx(plan.total_spend, abs=0.01)
    tot = next(r for r in lrows if r[0] == "Above the line")
    assert tot[6] == pytest.approx(plan.total_spend, abs=0.01)
    assert tot[7] == pytest.approx(plan.total_kpi, rel=1e-9)
    summary = {r[0]: r[1] for r in wb["Summary"].iter_rows(min_row=4, values_only=True) if r[0]}
    assert summary["Total spend"] == plan.total_spend
    assert math.isclose(summary["Modelled revenue"], plan.total_kpi, rel_tol=1e-12)


# ------------------------------------------------------------------------------------------------
# the command
# ------------------------------------------------------------------------------------------------
def test_cli_explain_writes_the_pack_and_reports_bad_input(tmp_path):
    w = write_tiny_world(tmp_path / "w")
    last = tmp_path / "last.csv"
    last.write_text("id,spend\ntv,500000\nsearch,600000\nemail,200000\n")
    out = tmp_path / "review.json"
    r = CliRunner().invoke(
        cli,
        [
            "explain",
            str(w["scenario"]),
            "-o",
            str(out),
            "--last-cycle",
            str(last),
            "--sweep-points",
            "5",
        ],
    )
    assert r.exit_code == 0, r.output
    d = json.loads(out.read_text())
    assert d["format"] == "budgetopt.explanation"
    assert {it["id"]: it["role"] for it in d["items"]} == {
        "tv": "interior",
        "search": "interior",
        "email": "interior",
    }
    assert d["last_cycle_total"] == pytest.approx(1_300_000)
    assert len(d["frontier"]) == 5
    assert f"wrote {out}" in r.stderr

    bad = tmp_path / "bad.csv"
    bad.write_text("id,spend\ntvv,1000\n")
    r = CliRunner().invoke(
        cli, ["explain", str(w["scenario"]), "-o", str(tmp_path / "x.md"), "--last-cycle", str(bad)]
    )
    assert r.exit_code == 2 and "bad.csv" in r.stderr and "did you mean 'tv'" in r.stderr
    assert "Traceback" not in r.output

    tight = w["scenario"].parent / "tight.yaml"
    tight.write_text(
        "name: tight\nextends: base.yaml\nbudget: 100000\ntouchpoints: {email: {lock: 200000}}\n"
    )
    r = CliRunner().invoke(cli, ["explain", str(tight), "-o", str(tmp_path / "y.md")])
    assert r.exit_code == 3 and "infeasible" in r.stderr and "email lock" in r.stderr
    assert not (tmp_path / "y.md").exists()


def test_a_rule_just_short_of_the_optimum_overshoots_in_words():
    """A lock 100 below where the optimiser would stop, in a 300,000 budget: the line item is
    capped (its next dollar returns about 1% more than the hurdle), but raising the lock by the
    pack's step (1% of the budget) overshoots and loses KPI; the pack says so instead of 'would
    add about -X'. Truth: the hand-solvable world of tests/test_allocate.py."""
    from tests.test_allocate import kkt, model, scenario

    budget = 300_000.0
    x, _ = kkt(["tv", "search", "email"], budget)
    sc = scenario(budget=budget, touchpoints={"email": {"lock": round(x["email"] - 100.0)}})
    plan = allocate(sc, model())
    e = explain(plan, sc, model(), sweep_points=0)
    em = e.item("email")
    assert em.role == CAPPED
    assert "would add about -" not in em.reason
    assert "overshoot and lose about" in em.reason
