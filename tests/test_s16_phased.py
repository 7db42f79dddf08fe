"""Phased (calendar, contract 7) planning and its review pack: known wrong answers of review S15 R1.

Each test states its truth; the CLI runs as a subprocess where that is the user's path.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from tests.test_adv_core import run_cli, write_world
from tests.test_s14_numbers import EDGE_MODEL, _most_kpi, _num

ROOT = Path(__file__).resolve().parents[1]

#: the edge model by month: 4, 4 and 5 weeks from 2027-01-04, no adstock (the undated truth holds)
MONTHLY = {"name": "msp", "model": "model.json", "start": "2027-01-04", "horizon_weeks": 13}
MONTHLY |= {"phasing": "month", "objective": "min_spend"}


def _curves_kpi(plan: dict) -> float:
    """A phased plan's KPI on the edge model's curves, by hand (a period's spend spread evenly
    over its weeks, no adstock): weeks * beta * (1 - exp(-weekly / scale)) per period."""
    got = 0.0
    for li in plan["line_items"]:
        c = EDGE_MODEL["touchpoints"][li["id"]]["curve"]
        for p in li["periods"]:
            got -= p["weeks"] * c["beta"] * math.expm1(-p["spend"] / p["weeks"] / c["scale"])
    return got


# ------------------------------------------------------------------------------------------------
# D4: the phased min_spend suggestion names a target that is then planned
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("budget", "target"),
    [(634960, 900000), (634000, 900000.37), (634960, 899990.50)],
)
def test_phased_min_spend_suggested_target_is_planned(tmp_path, budget, target):
    """Review S15 R1 D4. By month under 634,960 a target of 900,000 was told "lower ... by 9.50,
    to 899,990.50"; 899,990.50 was then refused again (exit 3, with no figure: the solve meets a
    target on its pieces and in cents, and its least spend for 899,990.50 came out 634,960.02).
    Under 634,000, 900,000.37 was told "to 899,084.19", also refused. Truth (``_most_kpi``, the
    curves' first-order conditions): the budget buys at most 899,990.50008 / 899,084.2. The
    target suggested is at most that (up to a cent) and within 0.5 of it (the solve's precision,
    about 5e-7 of the target); applied, it is planned: exit 0, optimal, within the budget, and
    the plan meets it on the curves by hand."""
    path = write_world(tmp_path, EDGE_MODEL, MONTHLY | {"budget": budget, "kpi_target": target})
    r = run_cli("optimize", str(path), "--no-ledger", cwd=tmp_path)
    assert r.returncode == 3, r.stderr
    m = re.search(r"lower the revenue target \(([\d,.]+)\) by ([\d,.]+), to ([\d,.]+)", r.stderr)
    assert m, r.stderr
    assert _num(m.group(1)) == pytest.approx(target, abs=1e-9)
    to = _num(m.group(3))
    assert _num(m.group(2)) == pytest.approx(target - to, abs=1e-6)
    most = _most_kpi(EDGE_MODEL, budget, 13)
    assert most - 0.5 <= to <= most + 0.01, (to, most)
    path = write_world(tmp_path, EDGE_MODEL, MONTHLY | {"budget": budget, "kpi_target": to})
    r = run_cli("optimize", str(path), "--no-ledger", "--format", "json", cwd=tmp_path)
    assert r.returncode == 0, (to, r.stderr)
    plan = json.loads(r.stdout)
    assert plan["status"] == "optimal" and plan["total_spend"] <= budget
    assert _curves_kpi(plan) >= to - 1e-6


def test_phased_min_spend_run_into_caps_is_told_a_target_it_then_plans(tmp_path):
    """Reviewer S16 R1, D4: a, b, c and e capped at 100,000 each, budget 2,000,000, target
    900,000: only d (a nearly flat curve, 0.003 a dollar there) can take more. The most the
    rules allow is 636,328.9186 (a, b, c, e at 100,000, d at 1,600,000, by hand); the message
    named 636,328.91 unchecked, which was refused (the budget's 0.1% of room did not plan it
    either, and the search gave up), where 636,200 plans. Truth: the target named is at most
    the most, said to be planned, and applied it plans (exit 0, optimal, within the budget,
    met on the curves by hand)."""
    caps = {k: {"max": 100000} for k in "abce"}
    sc = MONTHLY | {"budget": 2000000, "kpi_target": 900000, "touchpoints": caps}
    r = run_cli("optimize", str(write_world(tmp_path, EDGE_MODEL, sc)), "--no-ledger", cwd=tmp_path)
    assert r.returncode == 3, r.stderr
    said = " ".join(r.stderr.split())
    m = re.search(
        r"lower the revenue target \([\d,.]+\) by [\d,.]+, to ([\d,.]+), which is planned", said
    )
    assert m, said
    to = _num(m.group(1))
    assert 600000 <= to <= 636328.92, to
    path = write_world(tmp_path, EDGE_MODEL, sc | {"kpi_target": to})
    r = run_cli("optimize", str(path), "--no-ledger", "--format", "json", cwd=tmp_path)
    assert r.returncode == 0, (to, r.stderr)
    plan = json.loads(r.stdout)
    assert plan["status"] == "optimal" and plan["total_spend"] <= 2000000
    assert _curves_kpi(plan) >= to - 1e-6


# ------------------------------------------------------------------------------------------------
# D2: a phased review quotes one number per line item
# ------------------------------------------------------------------------------------------------
def _page_figures(md: str) -> dict[tuple[str, str], set[float]]:
    """Every figure a review page (Markdown) quotes for a line item's spend or revenue, by
    (line item, "spend" | "revenue"): the tables whose first column is the line item (their
    spend, total and revenue columns), each "Dropping it" sentence (what it frees, what it
    loses on the line item) and the ladder (the top of its last increment in the plan)."""
    seen: dict[tuple[str, str], set[float]] = {}
    head: list[str] | None = None
    for line in md.splitlines():
        if not line.startswith("|"):
            head = None
            continue
        cells = [c.strip().strip("*") for c in line.strip().strip("|").split("|")]
        if head is None:
            head = cells
            continue
        if set("".join(cells)) <= set("-:") or cells[0].lower() == "total":
            continue
        if head[0] == "line item":
            for col, what in (("spend", "spend"), ("total", "spend"), ("revenue", "revenue")):
                if col in head and re.fullmatch(r"[\d,]+", cells[head.index(col)]):
                    seen.setdefault((cells[0], what), set()).add(_num(cells[head.index(col)]))
        elif head[:3] == ["rank", "line item", "increment"]:
            status = cells[head.index("status")]
            if status in ("funded", "committed"):
                top = _num(cells[2].split("–")[1])
                key = (cells[1], "ladder")
                seen[key] = {max(seen.get(key, {0.0}) | {top})}
    for m in re.finditer(
        r"\*\*Dropping it:\*\* .*? frees ([\d,]+)[;]? (?:it|but) loses ([\d,]+) revenue on (\w+)",
        md,
    ):
        seen.setdefault((m.group(3), "spend"), set()).add(_num(m.group(1)))
        seen.setdefault((m.group(3), "revenue"), set()).add(_num(m.group(2)))
    for (key, what), v in list(seen.items()):
        if what == "ladder":  # the ladder's top is the spend, where it is in the plan
            del seen[(key, what)]
            seen.setdefault((key, "spend"), set()).update(v)
    return seen


@pytest.mark.parametrize(
    "extra",
    [{"objective": "min_spend", "kpi_target": 900000.37}, {"budget": 634960}],
    ids=["min_spend", "max_kpi"],
)
def test_phased_review_quotes_one_number_per_line_item(tmp_path, extra):
    """Review S15 R1 D2. By month, min_spend at 900,000.37 (edge model): the page read b at
    195,364 in "Line items by period" (the plan: 195,363.65) and 195,303 in the justification
    table, its "Dropping it" sentence and its ladder (a re-solve at the explain tolerance,
    whose optimum differs within the gap on a flat direction); e 67,417 against 67,477. Truth:
    the plan ``optimize`` writes for the same file (same inputs, same plan). Every figure the
    page quotes for a line item's spend is one number, within a unit (whole units that foot)
    of that plan's; its revenue too, one number on the page."""
    sc = {"name": "ph", "model": "model.json", "start": "2027-01-04", "horizon_weeks": 13}
    path = write_world(tmp_path, EDGE_MODEL, sc | {"phasing": "month"} | extra)
    r = run_cli("optimize", str(path), "--no-ledger", "--format", "json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    plan = {li["id"]: li for li in json.loads(r.stdout)["line_items"]}
    r = run_cli("explain", str(path), "--format", "md", "-o", "p.md", "--no-ledger", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    seen = _page_figures((tmp_path / "p.md").read_text())
    assert {k for k, _ in seen} == set(plan), seen
    for (key, what), values in seen.items():
        assert len(values) == 1, (key, what, values)
        if what == "spend":
            assert abs(values.pop() - plan[key]["spend"]) <= 1.0, (key, plan[key]["spend"])


# ------------------------------------------------------------------------------------------------
# item 3: the phased cents repair for a KPI rule holds the rules that floor a cell too
# ------------------------------------------------------------------------------------------------
#: a min_spend by month whose awareness floor (a, b) binds: c and e count against it
FLOORED = MONTHLY | {"stages": {"awareness": {"min_share": 0.7}}}


@pytest.mark.parametrize("target", [900000.01, 900000.46, 900000.72, 900000.90])
def test_phased_min_spend_in_cents_holds_the_share_floor_and_the_target(tmp_path, target):
    """Rounded to cents a min_spend plan can fall short of its target by a fraction of a unit;
    the repair then added cents to the cell with the best marginal KPI among those whose caps
    had room, and never looked at floors the cell counts against: it put them into c
    (consideration) and broke the 70% awareness floor by 0.005-0.011 (900,000.46: exit 4,
    not_certified, "breaks 'the awareness stage share floor (70% of total spend)' by 0.011").
    Truth, in whole cents from the plan JSON: awareness (a + b) >= 70% of the total spend, and
    the revenue on the curves by hand >= the target (1e-6: float noise)."""
    path = write_world(tmp_path, EDGE_MODEL, FLOORED | {"kpi_target": target})
    r = run_cli("optimize", str(path), "--no-ledger", "--format", "json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    plan = json.loads(r.stdout)
    assert plan["status"] == "optimal", plan.get("message")
    cents = {
        li["id"]: sum(round(p["spend"] * 100) for p in li["periods"]) for li in plan["line_items"]
    }
    total = sum(cents.values())
    assert total == round(plan["total_spend"] * 100)
    assert 10 * (cents["a"] + cents["b"]) >= 7 * total, (cents, total)
    assert _curves_kpi(plan) >= target - 1e-6


def test_phased_kpi_repair_fallback_keeps_floors(tmp_path):
    """The repair by whole cents after the nearest cents (``_repair_kpi``, the fallback where
    the cents MILP finds no rounding): on the floored world at 900,000.46 the nearest cents
    leave the target short; the cents it adds go where every rule has room, so the awareness
    floor still holds (it broke by 0.011 when the repair checked only caps) and the target is
    met (in-process: the fallback is not reached from the CLI on this world)."""
    import numpy as np

    from optimizer.allocate import phased as ph
    from optimizer.allocate.phased_model import kpi_lhs
    from optimizer.allocate.phased_plan import _repair_kpi
    from optimizer.allocate.plan import round_cents
    from optimizer.response.model import read_model
    from optimizer.scenario import load_scenario

    path = write_world(tmp_path, EDGE_MODEL, FLOORED | {"kpi_target": 900000.46})
    problem = ph.phased_problem(load_scenario(path), read_model(tmp_path / "model.json"))
    sol = ph.solve_phased(problem)
    near = round_cents(np.asarray(sol.X).ravel()).reshape(problem.n, problem.P)
    (target,) = problem.kpi_rows
    assert kpi_lhs(target, ph.item_kpi(problem, near)) < target.rhs  # the premise
    out = _repair_kpi(problem, near)
    assert kpi_lhs(target, ph.item_kpi(problem, out)) >= target.rhs
    lhs = problem.row_matrix.lhs(out)
    for r, v in zip(problem.rows, lhs, strict=True):
        assert (v >= r.rhs - 1e-6) if r.sense == ">=" else (v <= r.rhs + 1e-6), r.name


# ------------------------------------------------------------------------------------------------
# item 4: a re-solve of the FY26 review "not certified" (the interior point's plan rejected)
# ------------------------------------------------------------------------------------------------
def _fy26_without_social(tmp_path: Path) -> dict:
    """The sample's FY26 by month (scenarios/fy26_monthly.yaml, its paths made absolute) with a
    35% awareness floor and social at ``max: 0``, written to ``tmp_path / "s.yaml"``."""
    import yaml

    root = ROOT / "scenarios" / "fy26_monthly.yaml"
    sc = yaml.safe_load(root.read_text())
    sc["model"] = str((root.parent / sc["model"]).resolve())
    sc["carryover"]["before"] = str((root.parent / sc["carryover"]["before"]).resolve())
    sc.setdefault("stages", {})["awareness"] = {"min_share": 0.35}
    sc["touchpoints"]["social"] = {"max": 0}
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(sc))
    return sc


def test_fy26_by_month_without_social_is_certified(tmp_path):
    """The sample's FY26 by month with a 35% awareness floor (the reviewer's fyf.yaml) and social
    at ``max: 0``: what the review's "Dropping it" re-solves for social. It exited 4, not
    certified at a gap of 0.1231% after 8 rounds: the interior point had found the optimum
    (certified to 1e-14) but was rejected for breaking tv's December change limit (right-hand
    side 0) by 2.2e-7 of money against about 1.6M of terms, and the LP over pieces, whose plan
    was within 1.2e-8 of it, never closed its bound. Truth: the plan is optimal within the
    tolerance (exit 0, status optimal, its bound within 1e-4 of its value) and holds the
    change limit and the floor to the cent."""
    _fy26_without_social(tmp_path)
    r = run_cli("optimize", "s.yaml", "--no-ledger", "--format", "json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    plan = json.loads(r.stdout)
    assert plan["status"] == "optimal"
    assert plan["bound"] - plan["objective_value"] <= 1e-4 * plan["objective_value"]
    for c in plan["constraints"]:
        assert c["slack"] >= -0.005, c


def test_lp_fallback_is_certified_by_the_interior_points_bound(tmp_path, monkeypatch):
    """The same world where the interior point's plan is rejected (here forced: every plan it
    finds counted as breaking a rule), as any plan of it can be (a breach, a KKT residual):
    its Lagrangian bound holds for any multipliers, so it bounds the exact optimum all the
    same. The LP over pieces, whose own bound stalled at 0.1231% above its plan for 16 rounds,
    is then certified by it. Truth: status optimal, its bound within 1e-4 of its value, and
    the value within 1e-6 of the interior point's certified optimum (68,051,907.41)."""
    from optimizer.allocate import phased as ph
    from optimizer.allocate.solve import Status
    from optimizer.response.model import read_model
    from optimizer.scenario import load_scenario

    sc = _fy26_without_social(tmp_path)
    scenario = load_scenario(tmp_path / "s.yaml")
    problem = ph.phased_problem(scenario, read_model(sc["model"]))
    exact = ph.solve_phased(problem)
    assert exact.method == "interior_point" and exact.status == Status.OPTIMAL  # the premise
    real = ph._violation
    monkeypatch.setattr(
        ph,
        "_violation",
        lambda p, X, relative_to_terms=False: 1.0 if relative_to_terms else real(p, X),
    )
    sol = ph.solve_phased(problem)
    assert sol.method != "interior_point"
    assert sol.status == Status.OPTIMAL, sol.message
    assert sol.bound - sol.value <= 1e-4 * sol.value
    assert abs(sol.value - exact.value) <= 1e-6 * exact.value
