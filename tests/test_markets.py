"""Several markets in one plan (contract 8): touchpoint × market allocation.

The truth each test checks: an independent optimum of the same definition (each line item on its
market's exponential-saturation curve, national rules on sums over markets, market rules on sums
over touchpoints), solved exactly by cvxpy + Clarabel on the exponential cone; the plan's value
must be within 0.01% of it. Shadow prices are checked by re-solving with the rule moved.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from optimizer.allocate import allocate
from optimizer.response.markets import MarketModel
from optimizer.response.model import read_model
from optimizer.scenario import scenario_from_dict

cp = pytest.importorskip("cvxpy")

H = 13
STAGES = ["awareness", "consideration", "decision", "purchase", "loyalty", "advocacy"]
OWNERS = ["Brand", "Performance", "Performance", "E-commerce", "CRM", "CRM"]


def make_world(tmp: Path, n_markets: int = 4, n_tp: int = 6, seed: int = 3) -> dict:
    """Market models (exponential curves, some with geometric adstock) and their index."""
    rng = np.random.default_rng(seed)
    markets = [f"m{j}" for j in range(n_markets)]
    tps = [f"t{i}" for i in range(n_tp)]
    size = rng.uniform(0.5, 2.0, n_markets)  # market size scales beta and scale
    truth = {}
    index = {"kpi": "revenue", "touchpoints": tps, "markets": {}}
    for j, m in enumerate(markets):
        tpd = {}
        truth[m] = {}
        for i, t in enumerate(tps):
            beta = float(rng.uniform(20_000, 80_000) * size[j])
            scale = float(rng.uniform(5_000, 30_000) * size[j])
            decay = float(rng.choice([0.0, 0.3, 0.5]))
            d = {
                "stage": STAGES[i % len(STAGES)],
                "owner": OWNERS[i % len(OWNERS)],
                "curve": {"family": "exponential", "beta": beta, "scale": scale},
            }
            if decay:
                d["adstock"] = {"family": "geometric", "decay": decay}
            tpd[t] = d
            truth[m][t] = (beta, scale, 1.0 / (1.0 - decay))
        (tmp / f"{m}.json").write_text(json.dumps({"kpi": "revenue", "touchpoints": tpd}))
        index["markets"][m] = {
            "model": f"{m}.json",
            "weeks": 156,
            "keys": {"population": float(size[j] * 1e6)},
        }
    (tmp / "markets.json").write_text(json.dumps(index))
    return {"markets": markets, "tps": tps, "truth": truth, "size": size}


def reference(world: dict, budget: float, tp_max=None, market_min=None, national=None):
    """The exact optimum by cvxpy + Clarabel: max Σ F_mt(x_mt) subject to the same rules."""
    markets, tps, truth = world["markets"], world["tps"], world["truth"]
    tp_max, market_min, national = tp_max or {}, market_min or {}, national or {}
    x = {(m, t): cp.Variable(nonneg=True) for m in markets for t in tps if t not in national}
    X = {t: cp.Variable(nonneg=True) for t in national}

    def F(m, t, s):
        beta, scale, k = truth[m][t]
        return H * beta * (1 - cp.exp(-k * s / (H * scale)))

    def spend(m, t):
        return x[(m, t)] if t not in national else national[t][m] * X[t]

    obj = sum(F(m, t, x[(m, t)]) for (m, t) in x) + sum(
        F(m, t, national[t][m] * X[t]) for t in X for m in markets
    )
    total = sum(x.values()) + sum(X.values())
    cons = {"budget": total <= budget}
    for t, cap in tp_max.items():
        cons[f"tp_max__{t}"] = (X[t] if t in X else sum(x[(m, t)] for m in markets)) <= cap
    for m, floor in market_min.items():
        cons[f"market_min__{m}"] = sum(spend(m, t) for t in tps) >= floor
    prob = cp.Problem(cp.Maximize(obj), list(cons.values()))
    prob.solve(solver=cp.CLARABEL)
    assert prob.status == "optimal"
    return (
        prob.value,
        {k: float(v.value) for k, v in x.items()},
        {k: float(c.dual_value) for k, c in cons.items()},
    )


def scenario(path: Path, **rules) -> object:
    data = {"name": "national", "model": str(path / "markets.json"), "horizon_weeks": H, **rules}
    return scenario_from_dict(data, source=str(path / "s.yaml"))


@pytest.fixture
def world(tmp_path):
    return make_world(tmp_path), tmp_path


def _binding_setup(world: dict) -> tuple[float, dict, dict]:
    """Rules that bind: national caps below the free optimum's totals, market floors above."""
    budget = 900_000.0
    _, x0, _ = reference(world, budget)
    tp_tot = {t: sum(x0[(m, t)] for m in world["markets"]) for t in world["tps"]}
    big = sorted(tp_tot, key=tp_tot.get)[-2:]
    tp_max = {t: round(0.6 * tp_tot[t], -2) for t in big}
    _, x1, _ = reference(world, budget, tp_max)  # the floors are set against the capped plan
    mk_tot = {m: sum(x1[(m, t)] for t in world["tps"]) for m in world["markets"]}
    small = sorted(mk_tot, key=mk_tot.get)[:2]
    market_min = {m: round(1.3 * mk_tot[m], -2) for m in small}
    return budget, tp_max, market_min


def test_market_plan_matches_the_exact_optimum_and_its_rules_bind(world):
    w, path = world
    budget, tp_max, market_min = _binding_setup(w)
    ref_value, ref_x, ref_duals = reference(w, budget, tp_max, market_min)
    model = read_model(path / "markets.json")
    assert isinstance(model, MarketModel)
    sc = scenario(
        path,
        budget=budget,
        touchpoints={t: {"max": v} for t, v in tp_max.items()},
        markets={m: {"min": v} for m, v in market_min.items()},
    )
    plan = allocate(sc, model)
    assert plan.status == "optimal" and plan.gap <= 1e-4
    # within 0.01% of the exact optimum (both sides evaluate the same smooth curves)
    assert abs(plan.objective_value - ref_value) <= 1e-4 * ref_value
    assert abs(plan.total_kpi - ref_value) <= 1e-4 * ref_value
    assert len(plan.line_items) == len(w["markets"]) * len(w["tps"])
    # line items are touchpoint × market, each near the reference's spend
    for li in plan.line_items:
        assert li.market in w["markets"]
        assert li.spend == pytest.approx(ref_x[(li.market, li.id)], abs=2e-3 * budget)
    # every national cap and market floor binds, with the reference's shadow price (Clarabel's
    # duals are for Maximize: d value / d rhs, the contract's sign for <=; >= flips)
    for t in tp_max:
        c = plan.constraint(f"tp_max__{t}")
        assert c.binding and c.shadow_price > 0
        assert c.shadow_price == pytest.approx(ref_duals[f"tp_max__{t}"], rel=1e-3)
    for m in market_min:
        c = plan.constraint(f"market_min__{m}")
        assert c.binding and c.shadow_price < 0
        assert c.shadow_price == pytest.approx(-ref_duals[f"market_min__{m}"], rel=1e-3)
    # money reconciles: the markets' totals add up to the plan's
    totals = plan.market_totals()
    assert list(totals) == w["markets"]
    assert sum(t["spend"] for t in totals.values()) == pytest.approx(plan.total_spend, abs=0.02)
    for m, floor in market_min.items():
        assert totals[m]["spend"] >= floor - 0.02


def test_market_floor_shadow_price_is_the_change_of_a_re_solve(world):
    """d objective / d floor, by re-solving with the floor moved by 1% (central difference)."""
    w, path = world
    budget, tp_max, market_min = _binding_setup(w)
    model = read_model(path / "markets.json")
    m0 = next(iter(market_min))

    def solve(delta):
        floors = {**market_min, m0: market_min[m0] + delta}
        sc = scenario(
            path,
            budget=budget,
            touchpoints={t: {"max": v} for t, v in tp_max.items()},
            markets={m: {"min": v} for m, v in floors.items()},
        )
        return allocate(sc, model)

    base = solve(0.0)
    h = 0.01 * market_min[m0]
    fd = (solve(h).objective_value - solve(-h).objective_value) / (2 * h)
    sp = base.constraint(f"market_min__{m0}").shadow_price
    assert sp < 0
    assert sp == pytest.approx(fd, rel=2e-3)


def test_national_buy_is_one_decision_split_by_population(world):
    """TV bought once and delivered by population share: one line item whose response is the sum
    over markets; matches the reference with the same split."""
    w, path = world
    budget = 700_000.0
    pop = {m: float(s) for m, s in zip(w["markets"], w["size"], strict=True)}
    split = {m: pop[m] / sum(pop.values()) for m in w["markets"]}
    ref_value, _, _ = reference(w, budget, national={"t0": split})
    sc = scenario(path, budget=budget, national={"t0": "population"})
    plan = allocate(sc, read_model(path / "markets.json"))
    assert plan.status == "optimal"
    assert abs(plan.objective_value - ref_value) <= 1e-4 * ref_value
    tv = [li for li in plan.line_items if li.id == "t0"]
    assert len(tv) == 1 and tv[0].market is None
    assert tv[0].shares == pytest.approx(split)
    assert sum(tv[0].market_kpi.values()) == pytest.approx(tv[0].kpi, rel=1e-9)
    assert len(plan.line_items) == 1 + (len(w["tps"]) - 1) * len(w["markets"])


def test_market_scoped_rules_and_shares_hold(world):
    w, path = world
    sc = scenario(
        path,
        budget=800_000,
        markets={
            "m0": {"max_share": 0.2, "touchpoints": {"t1": {"max": 10_000}}},
            "m1": {"stages": {"awareness": {"min": 60_000}}, "min_share": 0.3},
        },
        owners={"CRM": {"max": 150_000}},
    )
    plan = allocate(sc, read_model(path / "markets.json"))
    assert plan.status == "optimal" and plan.gap <= 1e-4
    totals = plan.market_totals()
    assert totals["m0"]["spend"] <= 0.2 * plan.total_spend + 0.02
    assert totals["m1"]["spend"] >= 0.3 * plan.total_spend - 0.02
    assert plan.item("t1", "m0").spend <= 10_000 + 0.01
    aw = sum(li.spend for li in plan.line_items if li.market == "m1" and li.stage == "awareness")
    assert aw >= 60_000 - 0.02
    assert plan.owner_totals()["CRM"]["spend"] <= 150_000 + 0.02


def _run(args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "optimizer", *args], capture_output=True, text=True, cwd=cwd
    )


def test_cli_json_has_markets_and_bad_market_is_located(world):
    w, path = world
    good = {
        "name": "by market",
        "model": "markets.json",
        "budget": 600000,
        "horizon_weeks": H,
        "markets": {"m1": {"min": 100000}},
    }
    (path / "good.yaml").write_text(yaml.safe_dump(good))
    r = _run(["optimize", "good.yaml", "--format", "json", "--no-ledger"], path)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert {li["market"] for li in out["line_items"]} == set(w["markets"])
    assert all(li["id"] in w["tps"] for li in out["line_items"])
    assert [m["market"] for m in out["markets"]] == w["markets"]
    # to the cent: a national buy's money is split over its markets in cents that sum to it
    assert round(sum(m["spend"] for m in out["markets"]) * 100) == round(out["total_spend"] * 100)

    bad = {**good, "markets": {"m11": {"min": 100000}}}
    (path / "bad.yaml").write_text(yaml.safe_dump(bad))
    r = _run(["optimize", "bad.yaml", "-o", "plan.json", "--format", "json", "--no-ledger"], path)
    assert r.returncode != 0
    assert "markets.m11" in r.stderr and "did you mean 'm1'" in r.stderr
    assert "Traceback" not in r.stderr
    assert not (path / "plan.json").exists()


def test_market_model_with_other_touchpoints_is_refused(world):
    w, path = world
    m = json.loads((path / "m2.json").read_text())
    m["touchpoints"]["extra"] = m["touchpoints"]["t0"]
    del m["touchpoints"]["t1"]
    (path / "m2.json").write_text(json.dumps(m))
    good = {"name": "x", "model": "markets.json", "budget": 600000}
    (path / "s.yaml").write_text(yaml.safe_dump(good))
    r = _run(["optimize", "s.yaml", "--no-ledger"], path)
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert "markets.json" in r.stderr and "markets.m2.model" in r.stderr
    assert "'t1'" in r.stderr and "'extra'" in r.stderr


def test_owner_rule_naming_an_unknown_owner_is_located(world):
    w, path = world
    (path / "s.yaml").write_text(
        yaml.safe_dump(
            {
                "name": "x",
                "model": "markets.json",
                "budget": 600000,
                "owners": {"Brnad": {"max": 1}},
            }
        )
    )
    r = _run(["optimize", "s.yaml", "--no-ledger"], path)
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert "owners.Brnad" in r.stderr and "did you mean 'Brand'" in r.stderr


def test_infeasible_market_rules_are_named(world):
    w, path = world
    sc = scenario(
        path,
        budget=500_000,
        markets={"m0": {"min": 300_000}, "m1": {"min": 300_000}},
    )
    plan = allocate(sc, read_model(path / "markets.json"))
    assert plan.status == "infeasible"
    assert set(plan.conflicts) == {"budget", "market_min__m0", "market_min__m1"}
    assert "m0 market floor" in plan.message and "m1 market floor" in plan.message


def test_market_names_cannot_overwrite_the_index_or_leave_the_folder(tmp_path):
    from optimizer.app.fitting import market_model_paths
    from optimizer.errors import DataError

    paths = market_model_paths(tmp_path, ["markets", "../../etc/passwd", "a/b", ".."])
    files = [p.name for p in paths.values()]
    assert "markets.json" not in [f.lower() for f in files]
    assert all(p.parent == tmp_path for p in paths.values())
    assert len(set(files)) == len(files)
    with pytest.raises(DataError, match="'North' and 'north'"):
        market_model_paths(tmp_path, ["North", "north"])
    with pytest.raises(DataError, match="north.leads.json"):
        market_model_paths(tmp_path, ["north", "north.leads"], ["leads"])


def test_compare_and_diff_keep_markets_apart(world):
    """compare lists line items as touchpoint@market (not summed by touchpoint), with spend by
    market and by owner; diff of two recorded runs reads them back the same way."""
    w, path = world
    base = {"name": "a", "model": "markets.json", "budget": 600000, "horizon_weeks": H}
    (path / "a.yaml").write_text(yaml.safe_dump(base))
    (path / "b.yaml").write_text(
        yaml.safe_dump({**base, "name": "b", "markets": {"m2": {"min": 200000}}})
    )
    ledger = str(path / "ledger.sqlite")
    r = _run(["compare", "a.yaml", "b.yaml", "--format", "csv", "--ledger", ledger], path)
    assert r.returncode == 0, r.stderr
    rows = r.stdout.splitlines()
    assert rows[0].startswith("line_item,stage,a,b")
    keys = [x.split(",")[0] for x in rows[1:]]
    assert keys == [f"{t}@{m}" for t in w["tps"] for m in w["markets"]]
    r = _run(["compare", "a.yaml", "b.yaml", "--ledger", ledger], path)
    assert "spend by market" in r.stdout and "spend by owner" in r.stdout
    for name in ("a", "b"):
        r = _run(["optimize", f"{name}.yaml", "-q", "--ledger", ledger], path)
        assert r.returncode == 0, r.stderr
    runs = json.loads(_run(["history", "--format", "json", "--ledger", ledger], path).stdout)
    ids = [x["id"] for x in runs if x["command"] == "optimize"][:2]
    r = _run(["diff", *ids, "--format", "json", "--ledger", ledger], path)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    text = json.dumps(out)
    assert "t0@m2" in text


def test_a_phased_plan_over_markets_has_market_line_items_with_periods(tmp_path):
    """Contracts 7 and 8 compose: line items touchpoint × market, each with its periods; a market
    floor (a horizon-total rule) holds summed over the periods."""
    phased = pytest.importorskip("optimizer.allocate.phased")
    from optimizer.allocate.problem import make_problem
    from optimizer.calendar import Calendar, parse_date

    w = make_world(tmp_path, n_markets=2, n_tp=3)
    sc = scenario(tmp_path, budget=200_000, markets={"m1": {"min": 120_000}})
    base = make_problem(sc, read_model(tmp_path / "markets.json"))
    cal = Calendar(parse_date("2027-01-04"), 8, "month")
    prob = phased.make_phased_problem(base, [it.curve.response for it in base.items], cal)
    plan = phased.phased_plan(prob, phased.solve_phased(prob))
    assert plan.status == "optimal" and plan.gap <= 1e-4
    assert {(li.id, li.market) for li in plan.line_items} == {
        (t, m) for t in w["tps"] for m in w["markets"]
    }
    assert all(len(li.periods) == 2 for li in plan.line_items)
    totals = plan.market_totals()
    assert totals["m1"]["spend"] >= 120_000 - 0.02
    assert sum(t["spend"] for t in totals.values()) == pytest.approx(plan.total_spend, abs=0.02)


def test_review_pack_over_markets_explains_each_market_line_item_and_each_owner(world):
    """explain keeps touchpoint × market line items apart (each priced by re-solving with that
    market's line item forced), and gives per-market totals, the market × stage split and a
    section per budget owner with their line items and increments."""
    from optimizer.explain import explain
    from optimizer.render.report_md import explanation_markdown

    w, path = world
    sc = scenario(
        path,
        budget=600_000,
        markets={"m0": {"min": 200_000, "touchpoints": {"t2": {"max": 20_000}}}},
        national={"t0": "population"},
        owners={"CRM": {"max": 150_000}},
    )
    model = read_model(path / "markets.json")
    plan = allocate(sc, model)
    e = explain(plan, sc, model, sweep_points=0)
    keys = [it.id for it in e.items]
    assert len(keys) == len(set(keys)) == len(plan.line_items)
    assert "t0@national" in keys and "t2@m0" in keys
    it = next(x for x in e.items if x.id == "t2@m0")
    assert it.market == "m0" and it.spend == pytest.approx(plan.item("t2", "m0").spend)
    # the next increment of t2@m0 lifts only that market's t2 (its scoped cap set aside)
    assert it.next is not None and "the t2 maximum (20,000) in m0" in " ".join(it.next.relaxed)
    assert {g.name for g in e.markets} == set(w["markets"])
    assert round(sum(g.spend for g in e.markets) * 100) == round(plan.total_spend * 100)
    assert sum(sum(v.values()) for v in e.market_stage.values()) == pytest.approx(
        plan.total_spend, abs=1e-6
    )
    crm = next(g for g in e.owners if g.name == "CRM")
    assert crm.binding and "CRM budget cap" in crm.binding[0]
    assert {x.owner for x in e.owner_items("CRM")} == {"CRM"}
    md = explanation_markdown(e)
    assert "## Markets" in md and "## Budget owners" in md and "### CRM" in md
    from optimizer.render.report_html import explanation_html
    from optimizer.render.report_xlsx import explanation_workbook

    assert 'id="markets"' in explanation_html(e) and 'id="owners"' in explanation_html(e)
    ws = explanation_workbook(e)["Owners"]
    owners = [row[0] for row in ws.iter_rows(min_row=2, values_only=True)]
    assert owners.count("CRM") == len(e.owner_items("CRM")) > 0


def test_rules_a_market_cannot_state_are_located(world):
    """A national buy's rule inside one market, and 'zero or at least' on a touchpoint bought in
    several markets, are errors naming the field (not silently re-interpreted)."""
    from optimizer.errors import ScenarioError

    w, path = world
    model = read_model(path / "markets.json")
    sc = scenario(
        path,
        budget=500_000,
        national={"t0": "population"},
        markets={"m1": {"touchpoints": {"t0": {"max": 1000}}}},
    )
    with pytest.raises(ScenarioError, match=r"markets\.m1\.touchpoints\.t0.*national buy"):
        allocate(sc, model)
    sc = scenario(path, budget=500_000, touchpoints={"t1": {"min_if_funded": 5000}})
    with pytest.raises(ScenarioError, match=r"touchpoints\.t1\.min_if_funded.*4 markets"):
        allocate(sc, model)


def test_jobs_not_yet_over_markets_refuse_rather_than_plan_one_market(world):
    """--uncertainty (the draws of one model) would silently plan one market's curves: it is
    refused with a message instead, nothing written."""
    w, path = world
    (path / "s.yaml").write_text(
        yaml.safe_dump({"name": "x", "model": "markets.json", "budget": 600000})
    )
    r = _run(["optimize", "s.yaml", "--uncertainty", "-o", "u.json", "--no-ledger"], path)
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert "markets index" in r.stderr and not (path / "u.json").exists()


def test_validate_checks_market_rules_against_the_index(world):
    w, path = world
    (path / "bad.yaml").write_text(
        yaml.safe_dump(
            {"name": "b", "model": "markets.json", "budget": 1000, "markets": {"m11": {"min": 1}}}
        )
    )
    r = _run(["validate", "markets.json", "bad.yaml"], path)
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert "markets index: 4 markets" in r.stdout + r.stderr
    assert "markets.m11" in r.stderr and "did you mean 'm1'" in r.stderr
