"""National buys on a phased plan over markets (contracts 7 and 8 composed).

A national buy is one decision per period; its spend reaches each market by the split key and is
carried there with that market's own adstock decay, so its KPI is the sum over markets of each
market's curve applied to that market's adstock. The truth each test checks: the optimum of that
definition written out here independently (period spend spread evenly over the period's weeks,
geometric adstock per market, exponential saturation per week) and solved exactly by cvxpy +
Clarabel on the exponential cone, under the same rules (the budget, a national floor on the national
buy, a market floor that counts the national buy's share, a period cap and a cap scoped to one
market). The plan — through the CLI as users run it, and by the LP over pieces — must be within
0.01% of it, and its certified bound must not be below it.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import numpy as np
import pytest
import yaml

from optimizer.allocate.phased import phased_plan, phased_problem, solve_phased
from optimizer.response.model import read_model
from optimizer.scenario.schema import load_scenario
from tests.test_markets import make_world

cp = pytest.importorskip("cvxpy")

WEEKS = [4, 4, 5]  # 2027-01, 2027-02, 2027-03 from Monday 2027-01-04 over 13 weeks
PERIODS = ["2027-01", "2027-02", "2027-03"]
BUDGET = 300_000.0
T0_MIN = 40_000.0  # the national buy's national floor: binds
M0_MIN = 150_000.0  # market m0's floor (the national buy counts its share): binds
FEB_MAX = 60_000.0  # February's total: binds
M1_T2_MAX = 40_000.0  # t2 in market m1: binds


def _scenario(path, **over) -> dict:
    data = {
        "name": "national buy by month",
        "model": "markets.json",
        "start": "2027-01-04",
        "horizon_weeks": 13,
        "phasing": "month",
        "budget": BUDGET,
        "national": {"t0": "population"},
        "touchpoints": {"t0": {"min": T0_MIN}},
        "markets": {
            "m0": {"min": M0_MIN},
            "m1": {"touchpoints": {"t2": {"max": M1_T2_MAX}}},
        },
        "periods": {"2027-02": {"max": FEB_MAX}},
        **over,
    }
    (path / "s.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return data


def _run(args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "optimizer", *args], capture_output=True, text=True, cwd=cwd
    )


def _split(path, markets) -> dict[str, float]:
    index = json.loads((path / "markets.json").read_text())
    pop = {m: index["markets"][m]["keys"]["population"] for m in markets}
    total = sum(pop.values())
    return {m: pop[m] / total for m in markets}


def reference(
    world: dict, split: dict[str, float], a0: dict[tuple[str, str], float] | None = None
) -> tuple[float, dict[str, np.ndarray]]:
    """max Σ_m Σ_t Σ_weeks β_mt (1 - exp(-a_mt,w / s_mt)), a_mt,w = w-th week's spend into
    market m (a national buy: its share) + d_mt a_mt,w-1 from a0[(m, t)] (default 0), under the
    scenario's rules."""
    a0 = a0 or {}
    markets, tps, truth = world["markets"], world["tps"], world["truth"]
    n_weeks = sum(WEEKS)
    # weekly spend = M @ period spend; adstock = L @ weekly spend
    M = np.zeros((n_weeks, len(WEEKS)))
    w = 0
    for p, k in enumerate(WEEKS):
        M[w : w + k, p] = 1.0 / k
        w += k
    lag = np.arange(n_weeks)[:, None] - np.arange(n_weeks)[None, :]
    X = {"t0": cp.Variable(len(WEEKS), nonneg=True)}  # the national buy: one decision a period
    X.update({f"{t}@{m}": cp.Variable(len(WEEKS), nonneg=True) for t in tps[1:] for m in markets})

    def into(m: str, t: str):
        return split[m] * X["t0"] if t == "t0" else X[f"{t}@{m}"]

    kpi = 0
    for m in markets:
        for t in tps:
            beta, scale, k = truth[m][t]
            d = 1.0 - 1.0 / k  # make_world: k = 1 / (1 - decay)
            L = np.where(lag >= 0, d ** np.maximum(lag, 0), 0.0)
            carried = a0.get((m, t), 0.0) * d ** np.arange(1, n_weeks + 1)
            a = (L @ M) @ into(m, t) + carried
            kpi = kpi + cp.sum(beta * (1 - cp.exp(-a / scale)))
    spend = sum(cp.sum(v) for v in X.values())
    cons = [
        spend <= BUDGET,
        cp.sum(X["t0"]) >= T0_MIN,
        sum(cp.sum(into("m0", t)) for t in tps) >= M0_MIN,
        sum(v[1] for v in X.values()) <= FEB_MAX,
        cp.sum(X["t2@m1"]) <= M1_T2_MAX,
    ]
    prob = cp.Problem(cp.Maximize(kpi), cons)
    prob.solve(solver=cp.CLARABEL)
    assert prob.status == "optimal"
    return float(prob.value), {k: np.asarray(v.value) for k, v in X.items()}


@pytest.fixture(scope="module")
def national(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("national")
    w = make_world(tmp_path, n_markets=3, n_tp=4)
    # the national buy's decay differs across markets (the test would not see a shared one)
    assert len({w["truth"][m]["t0"][2] for m in w["markets"]}) > 1
    _scenario(tmp_path)
    split = _split(tmp_path, w["markets"])
    return w, tmp_path, split, reference(w, split)


def test_a_national_buy_on_a_phased_plan_matches_the_exact_optimum_through_the_cli(national):
    w, path, split, (ref_value, ref_x) = national
    r = _run(["optimize", "s.yaml", "--format", "json", "--no-ledger"], path)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["status"] == "optimal" and out["gap"] <= 1e-4
    # within 0.01% of the exact optimum of the same definition
    assert out["total_kpi"] == pytest.approx(ref_value, rel=1e-4)
    # the national buy: one line item, no market, its split, each period once
    nat = [li for li in out["line_items"] if li["market"] is None]
    assert [li["id"] for li in nat] == ["t0"]
    t0 = nat[0]
    assert t0["split"] == pytest.approx(split, rel=1e-12)
    assert [p["period"] for p in t0["periods"]] == PERIODS
    assert [p["spend"] for p in t0["periods"]] == pytest.approx(ref_x["t0"], abs=0.005 * T0_MIN)
    # its KPI is the sum over markets; each market's total counts its share of it
    assert sum(t0["kpi_by_market"].values()) == pytest.approx(t0["kpi"], rel=1e-9)
    by_market = {m["market"]: m for m in out["markets"]}
    for m in w["markets"]:
        own = [li for li in out["line_items"] if li["market"] == m]
        spend = sum(li["spend"] for li in own) + split[m] * t0["spend"]
        kpi = sum(li["kpi"] for li in own) + t0["kpi_by_market"][m]
        assert by_market[m]["spend"] == pytest.approx(spend, abs=0.05)
        assert by_market[m]["kpi"] == pytest.approx(kpi, rel=1e-9)
    # every rule holds to the cent and each binds (or the test would not test it)
    rules = {c["name"]: c for c in out["constraints"]}
    for name in ("budget", "tp_min__t0", "market_min__m0", "period_max__2027_02"):
        assert rules[name]["binding"], name
        assert rules[name]["slack"] >= -0.015, name
    scoped = [c for c in out["constraints"] if c["kind"] == "tp_max" and "m1" in c["name"]]
    assert len(scoped) == 1 and scoped[0]["binding"] and scoped[0]["slack"] >= -0.015
    assert sum(p["spend"] for p in t0["periods"]) >= T0_MIN - 0.01
    m0 = by_market["m0"]["spend"]
    assert M0_MIN - 0.02 <= m0 == pytest.approx(M0_MIN, abs=1.0)


def test_the_lp_over_pieces_certifies_the_same_optimum(national):
    """The LP path (what S-curves and zero-or-at-least use) on the same problem: its plan within
    0.01% of the exact optimum, and its certified bound (the Lagrangian bound over the national
    buy's streams) not below it."""
    _w, path, _split_, (ref_value, _x) = national
    problem = phased_problem(load_scenario(path / "s.yaml"), read_model(path / "markets.json"))
    assert problem.ns == problem.n + 2  # t0's one decision feeds three markets' streams
    sol = solve_phased(problem, method="lp")
    assert sol.status == "optimal" and sol.gap <= 1e-4
    assert sol.value == pytest.approx(ref_value, rel=1e-4)
    assert sol.bound >= ref_value * (1 - 1e-7)
    direct = solve_phased(problem)
    assert direct.method == "interior_point"
    assert direct.bound >= ref_value * (1 - 1e-7)
    assert direct.value == pytest.approx(ref_value, rel=1e-5)
    plan = phased_plan(problem, direct)
    assert plan.total_kpi == pytest.approx(ref_value, rel=1e-4)


def test_the_csv_shows_the_national_buy_once_per_period(national):
    w, path, _split_, _ref = national
    r = _run(["optimize", "s.yaml", "--format", "csv", "--no-ledger"], path)
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    nat = [x for x in rows if x["id"] == "t0"]
    assert [x["market"] for x in nat] == ["national"] * 3
    assert [x["period"] for x in nat] == PERIODS
    assert len(rows) == 3 * (1 + 3 * (len(w["tps"]) - 1))
    assert sum(float(x["spend"]) for x in nat) == pytest.approx(T0_MIN, abs=0.02)


# ------------------------------------------------------------------------------------------------
# carryover.before over markets: a spend file with a market column
# ------------------------------------------------------------------------------------------------
#: weekly spend before start: (date, market, touchpoint, spend); "national" rows of the national
#: buy are split by its key
BEFORE = [
    ("2026-12-21", "m0", "t1", 6000.0),
    ("2026-12-28", "m0", "t1", 4000.0),
    ("2026-12-28", "m1", "t3", 9000.0),
    ("2026-12-14", "national", "t0", 30000.0),
    ("2026-12-28", "national", "t0", 20000.0),
    ("2026-12-28", "m2", "t0", 1500.0),  # a national buy's spend recorded in one market
]


def _a0(world: dict, split: dict[str, float]) -> dict[tuple[str, str], float]:
    """Each stream's adstock before the first week, by hand: Σ_k d^(k-1) × the spend k weeks
    before start (start is 2027-01-04)."""
    weeks_before = {"2026-12-28": 1, "2026-12-21": 2, "2026-12-14": 3}
    out: dict[tuple[str, str], float] = {}
    for date, m, t, v in BEFORE:
        k = weeks_before[date]
        for mm in world["markets"] if m == "national" else [m]:
            d = 1.0 - 1.0 / world["truth"][mm][t][2]
            share = split[mm] if m == "national" else 1.0
            out[(mm, t)] = out.get((mm, t), 0.0) + share * v * d ** (k - 1)
    return out


@pytest.mark.parametrize("layout", ["long", "wide"])
def test_carryover_before_by_market_matches_the_exact_optimum(national, layout):
    w, path, split, _ref = national
    if layout == "long":
        text = "date,market,touchpoint,spend\n" + "".join(
            f"{d},{m},{t},{v}\n" for d, m, t, v in BEFORE
        )
    else:  # the history file's wide layout: date, market, one spend column per touchpoint
        keys = sorted({(d, m) for d, m, _t, _v in BEFORE})
        cols = w["tps"]
        cell = {(d, m, t): v for d, m, t, v in BEFORE}
        text = "date,market," + ",".join(cols) + ",revenue\n"
        for d, m in keys:
            text += f"{d},{m}," + ",".join(str(cell.get((d, m, t), 0)) for t in cols) + ",1\n"
    (path / f"before_{layout}.csv").write_text(text)
    _scenario(path, carryover={"before": f"before_{layout}.csv"}, name=f"carry {layout}")
    try:
        r = _run(["optimize", "s.yaml", "--format", "json", "--no-ledger"], path)
    finally:
        _scenario(path)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    value, _x = reference(w, split, _a0(w, split))
    assert out["status"] == "optimal"
    assert out["total_kpi"] == pytest.approx(value, rel=1e-4)
    # and the carry-over counts: without it the optimum is measurably lower
    assert value > _ref[0] * (1 + 1e-3)


@pytest.mark.parametrize(
    ("text", "field", "words"),
    [
        ("date,market,touchpoint,spend\n2026-12-28,m9,t1,5\n", "market", "unknown market 'm9'"),
        ("date,market,touchpoint,spend\n2026-12-28,,t1,5\n", "market", "missing in row 2"),
        (
            "date,market,touchpoint,spend\n2026-12-28,national,t1,5\n",
            "touchpoint",
            "bought per market",
        ),
        ("date,t0,t1\n2026-12-28,1,2\n", "market", "needs a 'market' column"),
        ("date,market,t0,t1\n2026-12-28,m0,1,x\n", "t1", "got 'x' in row 2"),
    ],
)
def test_a_bad_carryover_file_over_markets_is_located_and_writes_nothing(
    tmp_path, text, field, words
):
    make_world(tmp_path, n_markets=3, n_tp=4)
    (tmp_path / "before.csv").write_text(text)
    _scenario(tmp_path, carryover={"before": "before.csv"})
    r = _run(["optimize", "s.yaml", "-o", "plan.json", "--format", "json", "--no-ledger"], tmp_path)
    assert r.returncode != 0
    assert "before.csv" in r.stderr and f"field '{field}'" in r.stderr and words in r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "plan.json").exists()


def test_shadow_prices_of_market_and_national_rules_match_a_re_solve(national):
    """The shadow price of the market floor (which counts the national buy's share) and of the
    national buy's own floor: the KPI's change per dollar when the rule moves by ±1,000, re-solved
    (a central difference of a smooth concave optimum: within 2% of the price)."""
    _w, path, _split_, _ref = national
    model = read_model(path / "markets.json")

    def kpi(**over) -> tuple[float, dict[str, float]]:
        data = yaml.safe_load((path / "s.yaml").read_text())
        for k, v in over.items():
            data[k] = v
        (path / "moved.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
        sol = solve_phased(phased_problem(load_scenario(path / "moved.yaml"), model))
        assert sol.status == "optimal"
        return sol.value, sol.duals

    base, duals = kpi()
    h = 1_000.0
    up, _ = kpi(
        markets={"m0": {"min": M0_MIN + h}, "m1": {"touchpoints": {"t2": {"max": M1_T2_MAX}}}}
    )
    down, _ = kpi(
        markets={"m0": {"min": M0_MIN - h}, "m1": {"touchpoints": {"t2": {"max": M1_T2_MAX}}}}
    )
    assert duals["market_min__m0"] < 0  # a binding floor costs KPI
    assert (up - down) / (2 * h) == pytest.approx(duals["market_min__m0"], rel=0.02)
    up, _ = kpi(touchpoints={"t0": {"min": T0_MIN + h}})
    down, _ = kpi(touchpoints={"t0": {"min": T0_MIN - h}})
    assert (up - down) / (2 * h) == pytest.approx(duals["tp_min__t0"], rel=0.02)


# ------------------------------------------------------------------------------------------------
# the review pack, compare, sweep and diff on a phased plan with a national buy
# ------------------------------------------------------------------------------------------------
@pytest.mark.slow  # three explain runs (~40 s): CI runs it, the quick set leaves it out
def test_the_review_pack_shows_markets_and_owners(national):
    w, path, split, _ref = national
    r = _run(["optimize", "s.yaml", "--format", "json", "--no-ledger"], path)
    plan = json.loads(r.stdout)
    by_market = {m["market"]: m for m in plan["markets"]}
    for fmt in ("md", "html", "xlsx"):
        r = _run(["explain", "s.yaml", "-o", f"review.{fmt}", "--no-ledger"], path)
        assert r.returncode == 0, r.stderr
    md = (path / "review.md").read_text()
    # line items named touchpoint@market, the national buy once
    # line items by period, and its owner's section: what it buys, then its spend by period
    plan_part, why = md.split("## Why each line item is where it is")
    assert plan_part.count("| t0@national |") == 3
    # the justifications (since 7c142d3): the national buy has one row in their table and one
    # section of its own, not one per market
    why_table = why.split("### ")[0]
    assert why_table.count("| t0@national |") == 1 and why.count("### t0@national\n") == 1
    for t in w["tps"][1:]:
        for m in w["markets"]:
            assert f"| {t}@{m} |" in md
    # the markets table: each market's spend as the plan's (national buy counted by its split)
    section = md.split("## Markets")[1].split("## Budget owners")[0]
    for m in w["markets"]:
        row = next(x for x in section.splitlines() if x.startswith(f"| {m} |"))
        assert row.split("|")[2].strip() == f"{by_market[m]['spend']:,.0f}"
    # a section per owner, each listing exactly its line items
    owners = {li["owner"] for li in plan["line_items"]}
    for o in owners:
        assert f"### {o}" in md
    brand = md.split("### Brand")[1].split("###")[0]
    assert "t0@national" in brand and "its minimum" in brand
    html = (path / "review.html").read_text()
    assert "<h2>Markets</h2>" in html and "<h2>Budget owners</h2>" in html
    # the period × stage and market × stage charts, and the zero-based ladder's (since 7c142d3)
    assert html.count("data:image/png;base64,") == 3
    assert "the ladder: increments ranked by return" in html
    from openpyxl import load_workbook

    wb = load_workbook(path / "review.xlsx")
    assert {"Markets", "Owners"} <= set(wb.sheetnames)
    rows = list(wb["Owners"].iter_rows(min_row=2, values_only=True))
    assert len(rows) == len(plan["line_items"])
    assert sorted(r[1] for r in rows if r[0] == "Brand") == ["t0@national"]
    spend = {r[0]: r[1] for r in wb["Markets"].iter_rows(min_row=2, values_only=True)}
    assert spend == pytest.approx({m: by_market[m]["spend"] for m in w["markets"]}, abs=0.01)


@pytest.mark.slow  # optimize, compare, sweep and two diffs (~25 s)
def test_compare_sweep_and_diff_on_a_phased_plan_with_a_national_buy(national):
    _w, path, _split_, _ref = national
    data = yaml.safe_load((path / "s.yaml").read_text())
    data.update(name="cut", budget=250_000.0)
    (path / "cut.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    ledger = ["--ledger", "ledger.sqlite"]
    r = _run(["optimize", "s.yaml", "--format", "json", "--no-ledger"], path)
    plan = json.loads(r.stdout)
    r = _run(["compare", "s.yaml", "cut.yaml", "--format", "json", *ledger], path)
    assert r.returncode == 0, r.stderr
    comp = json.loads(r.stdout)
    base, cut = comp["scenarios"]
    assert base["total_kpi"] == pytest.approx(plan["total_kpi"], rel=1e-9)
    assert cut["status"] == "optimal" and cut["total_kpi"] < base["total_kpi"]
    assert [li["market"] for li in cut["line_items"] if li["id"] == "t0"] == [None]
    assert {c["name"] for c in base["costly_constraints"]} >= {"market_min__m0"}
    r = _run(["sweep", "s.yaml", "--budgets", "250000:300000:2", "--format", "json", *ledger], path)
    assert r.returncode == 0, r.stderr
    pts = json.loads(r.stdout)["points"]
    assert [p["status"] for p in pts] == ["optimal", "optimal"]
    assert pts[0]["total_kpi"] == pytest.approx(cut["total_kpi"], rel=1e-6)
    assert pts[1]["total_kpi"] == pytest.approx(plan["total_kpi"], rel=1e-6)
    # the two plans of the recorded comparison, line item by line item
    r = _run(["diff", "last~1:0", "last~1:1", "--format", "json", *ledger], path)
    assert r.returncode == 0, r.stderr
    json.loads(r.stdout)
    r = _run(["diff", "last~1:0", "last~1:1", *ledger], path)
    assert r.returncode == 0 and "t0@national" in r.stdout, r.stderr


def test_extrapolation_of_a_national_buy_is_judged_market_by_market(tmp_path):
    """A national buy's spend in a market is its share: the warning compares that with the
    market's own history (not the national spend with one market's)."""
    make_world(tmp_path, n_markets=3, n_tp=4)
    _scenario(tmp_path)

    def with_max(highest: dict[str, float]) -> list[dict]:
        for m, hi in highest.items():
            f = tmp_path / f"{m}.json"
            d = json.loads(f.read_text())
            d["touchpoints"]["t0"]["spend_range"] = {"min": 0.0, "max": hi, "mean": hi / 2}
            f.write_text(json.dumps(d))
        r = _run(["optimize", "s.yaml", "--format", "json", "--no-ledger"], tmp_path)
        assert r.returncode == 0, r.stderr
        out = json.loads(r.stdout)
        (t0,) = [li for li in out["line_items"] if li["id"] == "t0"]
        busiest = max(p["spend"] / p["weeks"] for p in t0["periods"])
        assert busiest > 5_000.0  # the national rate is beyond every market's 5,000 …
        return [x for x in out.get("extrapolation", []) if x["id"] == "t0"]

    # … but each market's share of it is not
    assert with_max({"m0": 5_000.0, "m1": 5_000.0, "m2": 5_000.0}) == []
    got = with_max({"m2": 1_000.0})
    assert [(x["market"], x["kind"]) for x in got] == [("m2", "beyond")]


def test_a_national_floor_against_a_market_cap_is_diagnosed_by_name(tmp_path):
    """The national buy's floor puts its share in every market (m2's: over half of 40,000), so a
    10,000 cap on m2 cannot hold with it: infeasible (exit 3), both rules named, nothing written."""
    make_world(tmp_path, n_markets=3, n_tp=4)
    assert _split(tmp_path, ["m0", "m1", "m2"])["m2"] * T0_MIN > 10_000
    _scenario(tmp_path, markets={"m2": {"max": 10_000}})
    r = _run(["optimize", "s.yaml", "-o", "plan.json", "--format", "json", "--no-ledger"], tmp_path)
    assert r.returncode == 3, r.stderr
    assert "the t0 minimum (40,000) and the m2 market cap (10,000) cannot both hold" in r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "plan.json").exists()
