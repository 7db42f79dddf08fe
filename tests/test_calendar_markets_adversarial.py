"""Adversarial checks of plans on a calendar (contract 7) and over markets (contract 8), through the
CLI as a subprocess, on a hand-written world whose optimum an independent exp-cone solve (cvxpy +
Clarabel) matched to 2e-9: two markets (north, south), three touchpoints on exponential curves with
geometric adstock (one normalised), tv a national buy split 3:1 by population, 13 weeks by month
from 2027-01-04 with last December's carry-over and the weeks after the horizon."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

CURVES = {
    "north": {
        "tv": (90000.0, 60000.0, 0.6, False),
        "search": (70000.0, 25000.0, 0.2, False),
        "social": (40000.0, 15000.0, 0.4, True),
    },
    "south": {
        "tv": (50000.0, 40000.0, 0.5, False),
        "search": (60000.0, 20000.0, 0.3, False),
        "social": (30000.0, 10000.0, 0.4, True),
    },
}
STAGE = {"tv": "awareness", "search": "consideration", "social": "consideration"}
OWNER = {"tv": "Brand", "search": "Perf", "social": "Perf"}

SCENARIO = {
    "name": "two markets by month",
    "model": "markets.json",
    "start": "2027-01-04",
    "horizon_weeks": 13,
    "phasing": "month",
    "carryover": {"before": "before.csv", "after": True},
    "budget": 2000000,
    "national": {"tv": "population"},
    "touchpoints": {"tv": {"max": 700000}},
    "markets": {
        "south": {"min": 500000, "touchpoints": {"search": {"max": 200000}}},
        "north": {"max_share": 0.7},
    },
    "periods": {"2027-02": {"max": 500000}},
    "owners": {"Perf": {"max": 1000000}},
}

BEFORE = """date,market,touchpoint,spend
2026-12-21,north,search,60000
2026-12-28,north,search,40000
2026-12-28,national,tv,80000
2026-12-28,south,tv,15000
2026-12-28,south,social,9000
"""


def cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "optimizer", *args], capture_output=True, text=True, cwd=cwd
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    return write_world(tmp_path_factory.mktemp("calmk"))


def write_world(path: Path) -> Path:
    """The world's models (north.json, south.json, the index markets.json), last December's
    spend by market (before.csv) and the scenario (s.yaml), written into ``path``."""
    for market, tps in CURVES.items():
        model: dict = {"kpi": "revenue", "period": "week", "touchpoints": {}}
        for tp, (beta, scale, decay, normalize) in tps.items():
            adstock: dict = {"family": "geometric", "decay": decay}
            if normalize:
                adstock["normalize"] = True
            model["touchpoints"][tp] = {
                "stage": STAGE[tp],
                "owner": OWNER[tp],
                "curve": {"family": "exponential", "beta": beta, "scale": scale},
                "adstock": adstock,
            }
        (path / f"{market}.json").write_text(json.dumps(model))
    index = {
        "kpi": "revenue",
        "touchpoints": list(STAGE),
        "markets": {
            m: {"model": f"{m}.json", "models": {"revenue": f"{m}.json"}, "weeks": 104, "keys": k}
            for m, k in (("north", {"population": 3.0}), ("south", {"population": 1.0}))
        },
    }
    (path / "markets.json").write_text(json.dumps(index))
    (path / "before.csv").write_text(BEFORE)
    (path / "s.yaml").write_text(yaml.safe_dump(SCENARIO, sort_keys=False))
    return path


def market_spend(plan: dict) -> dict[str, float]:
    """Each market's spend recomputed from the line items (a national buy by its split)."""
    out: dict[str, float] = {}
    for li in plan["line_items"]:
        shares = li.get("split") or {li["market"]: 1.0}
        for m, w in shares.items():
            out[m] = out.get(m, 0.0) + w * li["spend"]
    return out


def test_a_market_floor_holds_to_the_cent_where_its_smallest_member_is_capped(world):
    """A south floor of 900,000 (or 950,000) was planned at 899,999.99: rounding to cents put the
    floor a cent short, and the repair gave the cent to south's search (at its own 200,000 cap)
    and took it back from south again, 200 times, leaving the floor broken and search's months
    moved by 1.00 for nothing. Truth: every floor holds to the cent (the rule's slack >= 0 and
    the market's spend, from its line items and its share of the national buy, >= the floor)."""
    floors = [600000, 750000, 850000, 900000, 950000, 1000000]
    scen = {"name": "floors", "extends": "s.yaml", "grid": {"markets.south.min": floors}}
    (world / "floors.yaml").write_text(yaml.safe_dump(scen, sort_keys=False))
    r = cli(
        ["compare", "floors.yaml", "--format", "json", "-o", "floors.json", "--no-ledger"], world
    )
    assert r.returncode == 0, r.stderr
    plans = json.loads((world / "floors.json").read_text())["scenarios"][1:]
    assert len(plans) == len(floors)
    for floor, plan in zip(floors, plans, strict=True):
        assert plan["status"] == "optimal"
        south = next(m for m in plan["markets"] if m["market"] == "south")
        assert south["spend"] >= floor, (floor, plan["markets"])
        assert market_spend(plan)["south"] >= floor - 1e-6, (floor, market_spend(plan))
        for c in plan["constraints"]:
            assert c["slack"] is None or c["slack"] >= -1e-6, (floor, c)
        assert round(sum(li["spend"] for li in plan["line_items"]), 2) == plan["total_spend"]


@pytest.mark.parametrize(
    "model, carry, words",
    [
        # a file that does not exist: the scenario's error, with its field
        ("markets.json", None, ["does not exist", "nothing.csv"]),
        ("north.json", None, ["does not exist", "nothing.csv"]),
        # the touchpoints misspelt (wide and long): no carry-over at all, silently
        ("north.json", "date,TV,Search\n2026-12-28,300000,5000\n", ["names none", "TV, Search"]),
        (
            "markets.json",
            "date,market,touchpoint,spend\n2026-12-28,north,Search,40000\n",
            ["names none", "its touchpoints are Search"],
        ),
        # this year's actuals given as last year's: no week before start, silently nothing
        (
            "north.json",
            "date,tv,search\n2027-01-04,300000,5000\n",
            ["no week before", "2027-01-04"],
        ),
        (
            "markets.json",
            "date,market,touchpoint,spend\n2027-02-01,north,search,40000\n",
            ["no week before", "2027-02-01"],
        ),
    ],
)
def test_a_carryover_file_that_carries_nothing_is_refused_by_name(world, model, carry, words):
    """A carry-over file with the touchpoints misspelt, or with no week before the plan's start,
    planned exactly as with no carry-over at all (same KPI to the last digit, no word said); a
    missing one named only its path. Now each is exit 2 naming the scenario, 'carryover.before'
    and what is wrong, with nothing written."""
    scen = {
        **SCENARIO,
        "model": model,
        "carryover": {"before": "nothing.csv" if carry is None else "carry.csv"},
    }
    if model != "markets.json":
        for key in ("national", "markets", "owners"):
            scen.pop(key)
    (world / "c.yaml").write_text(yaml.safe_dump(scen, sort_keys=False))
    if carry is not None:
        (world / "carry.csv").write_text(carry)
    out = world / "c.json"
    out.unlink(missing_ok=True)
    r = cli(["optimize", "c.yaml", "--format", "json", "-o", "c.json", "--no-ledger"], world)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr
    assert "c.yaml: field 'carryover.before'" in r.stderr
    for w in words:
        assert w in r.stderr
    assert not out.exists()


@pytest.fixture(scope="module")
def planned(world) -> dict:
    r = cli(["optimize", "s.yaml", "--format", "json", "-o", "plan.json", "--no-ledger"], world)
    assert r.returncode == 0, r.stderr
    return json.loads((world / "plan.json").read_text())


def jan_actuals(plan: dict) -> str:
    """The plan's January (its first four weeks) as weekly actuals by market."""
    rows = ["date,market,touchpoint,spend"]
    for li in plan["line_items"]:
        jan = li["periods"][0]
        assert (jan["period"], jan["weeks"]) == ("2027-01", 4)
        for w in ("2027-01-04", "2027-01-11", "2027-01-18", "2027-01-25"):
            rows.append(f"{w},{li['market'] or 'national'},{li['id']},{jan['spend'] / 4:.2f}")
    return "\n".join(rows) + "\n"


def test_track_names_the_option_when_weeks_elapsed_is_past_the_horizon(world, planned):
    """`track --weeks-elapsed 14` on a 13-week plan blamed the actuals file's 'date' field, which
    was fine. Truth: the option is named, with its value, exit 2, nothing written."""
    (world / "jan.csv").write_text(jan_actuals(planned))
    out = world / "t.json"
    out.unlink(missing_ok=True)
    r = cli(
        [
            "track",
            "plan.json",
            "jan.csv",
            "--weeks-elapsed",
            "14",
            "--format",
            "json",
            "-o",
            "t.json",
        ],
        world,
    )
    assert r.returncode == 2
    assert "field '--weeks-elapsed'" in r.stderr and "got 14" in r.stderr, r.stderr
    assert "field 'date'" not in r.stderr and "Traceback" not in r.stderr
    assert not out.exists()


# zero-or-at-least per period on north's curves alone; the truths are cvxpy + Clarabel optima of
# every choice of funded periods (2^3 and 2^2 exp-cone solves), the best of them
FLIGHTING = [
    (
        {
            "phasing": "month",
            "budget": 1000000,
            "touchpoints": {"social": {"per_period": {"min_if_funded": 100000}}},
        },
        13,
        1813335.0686,  # every month funded at 100,000
    ),
    (
        {
            "phasing": "quarter",
            "budget": 2000000,
            "periods": {"2027-Q1": {"max": 700000}, "2027-02": {"max": 150000}},
            "touchpoints": {
                "social": {"per_period": {"min_if_funded": 150000}},
                "tv": {"periods": {"2027-03": {"min": 100000}}},
            },
        },
        26,
        3329948.3115,  # social dark in Q1, funded in Q2
    ),
]


@pytest.mark.parametrize("rules, weeks, truth", FLIGHTING)
def test_flighting_per_period_is_certified_on_a_valid_bound(world, rules, weeks, truth):
    """Optimal plans with zero-or-at-least per period were reported not certified with gaps of
    3.7% and 0.95% (exit 4): the best plan's round kept its own, looser bound where an earlier
    round had proved 0.25%, and the lifted MILP's pieces were too coarse to close it. HiGHS's
    MILP also returned an 'optimum' of 3.07M (a 'bound' below the 3.33M optimum) on the second
    world's lifted MILP. Truth: the plan's KPI within its gap of the optimum, the bound at or
    above the optimum, the first certified (exit 0, status optimal), the second's gap < 0.1%."""
    scen = {
        "name": "flighting",
        "model": "north.json",
        "start": "2027-01-04",
        "horizon_weeks": weeks,
        **rules,
    }
    (world / "f.yaml").write_text(yaml.safe_dump(scen, sort_keys=False))
    r = cli(["optimize", "f.yaml", "--format", "json", "-o", "f.json", "--no-ledger"], world)
    assert r.returncode in (0, 4), r.stderr
    plan = json.loads((world / "f.json").read_text())
    assert plan["bound"] >= truth * (1 - 1e-9), plan["bound"]
    assert plan["total_kpi"] >= truth * (1 - max(plan["gap"], 1e-9)) - 1e-6
    assert plan["gap"] <= 1e-3
    if weeks == 13:
        assert (r.returncode, plan["status"]) == (0, "optimal"), r.stderr


def six_weeks(world: Path) -> None:
    """six.csv: January and February's first two weeks (tv 30,000 rising by 1,000 a week, search
    25,000 and social 12,000 a week)."""
    rows = ["date,touchpoint,spend"]
    for w, day in enumerate(["04", "11", "18", "25"] + ["01", "08"]):
        month = "01" if w < 4 else "02"
        rows += [f"2027-{month}-{day},tv,{30000 + 1000 * w}", f"2027-{month}-{day},search,25000"]
        rows.append(f"2027-{month}-{day},social,12000")
    (world / "six.csv").write_text("\n".join(rows) + "\n")


def test_a_replan_mid_month_of_flighting_is_certified(world):
    """Flighting per month (tv 0 or >= 150,000, social 0 or >= 100,000), re-planned after six
    weeks (mid-February, with 69,000 of tv and 24,000 of social already spent in February): the
    plan (February topped up to the floors, March funded at them) was optimal to 1.4e-9 but
    reported not certified at 0.0105% (exit 4). Truth: cvxpy + Clarabel over the four choices for
    March, with the actuals' adstock carried in: 1,045,243.0691."""
    scen = {
        "name": "flights",
        "model": "north.json",
        "start": "2027-01-04",
        "horizon_weeks": 13,
        "phasing": "month",
        "budget": 1000000,
        "touchpoints": {
            "social": {"per_period": {"min_if_funded": 100000}},
            "tv": {"per_period": {"min_if_funded": 150000}},
        },
    }
    (world / "fl.yaml").write_text(yaml.safe_dump(scen, sort_keys=False))
    six_weeks(world)
    args = ["replan", "fl.yaml", "--actuals", "six.csv", "--format", "json", "-o", "fl.json"]
    r = cli([*args, "--no-ledger"], world)
    assert r.returncode == 0, r.stderr
    plan = json.loads((world / "fl.json").read_text())
    assert plan["status"] == "optimal" and plan["bound"] >= 1045243.0691 * (1 - 1e-9)
    assert plan["total_kpi"] >= 1045243.0691 * (1 - plan["gap"]) - 1e-6
    tv = next(li for li in plan["line_items"] if li["id"] == "tv")
    assert [p["spend"] for p in tv["periods"]] == [81000.0, 150000.0]


def test_track_lists_only_stated_rules_and_a_share_rule_as_a_share(world):
    """At run-rate `track --scenario` listed rules the scenario does not state (each line item's
    range implied by a cap on a sum: 'the search maximum (1,000,000) in north' from the Perf
    owner cap), and gave a market share cap's row in money ('the north market share cap (55% of
    total spend)' at run-rate 184,500, by +184,500). Truth: the rules listed are the scenario's
    rows; the share cap's 'projected' is north's share of the projected spend (from the report's
    own markets, to 1e-6), against 0.55, and the table shows it in per cent."""
    scen = {"name": "north capped", "extends": "s.yaml", "markets": {"north": {"max_share": 0.55}}}
    (world / "n55.yaml").write_text(yaml.safe_dump(scen, sort_keys=False))
    r = cli(["optimize", "n55.yaml", "--format", "json", "-o", "n55.json", "--no-ledger"], world)
    assert r.returncode == 0, r.stderr
    plan = json.loads((world / "n55.json").read_text())
    lines = jan_actuals(plan).splitlines()
    fast = [lines[0]] + [
        f"{d},{m},{t},{float(v) * (2 if m == 'north' else 1):.2f}"
        for d, m, t, v in (x.split(",") for x in lines[1:])
    ]
    (world / "fast.csv").write_text("\n".join(fast) + "\n")
    args = ["track", "n55.json", "fast.csv", "--scenario", "n55.yaml"]
    r = cli([*args, "--format", "json", "-o", "track.json"], world)
    assert r.returncode == 0, r.stderr
    rep = json.loads((world / "track.json").read_text())
    stated = {c["name"] for c in plan["constraints"]}
    listed = {x["name"] for x in rep["rules_at_run_rate"]}
    assert listed <= stated, listed - stated
    cap = next(x for x in rep["rules_at_run_rate"] if x["name"] == "market_max_share__north")
    north = next(m for m in rep["markets"] if m["id"] == "north")["projected_spend"]
    assert cap["unit"] == "share" and cap["rhs"] == 0.55
    assert cap["projected"] == pytest.approx(north / rep["total"]["projected_spend"], abs=1e-6)
    assert cap["breaks"] and cap["by"] == pytest.approx(cap["projected"] - 0.55, abs=1e-6)
    table = cli([*args, "--wide"], world)
    row = next(x for x in table.stdout.splitlines() if "north market share cap" in x)
    assert f"{cap['projected']:.1%}" in row and "pts" in row, row


def test_break_even_does_not_quote_a_last_dollar_of_nothing_where_the_budget_is_slack(world):
    """Every line item capped at 300,000 under a 3,000,000 budget: the plan spends 900,000, each
    line item's last dollar returning 0.57 to 1.43 more than its price; the break-even line said
    'its last dollar returns 0.00' (the budget's shadow price, 0 where it does not bind). Truth:
    it says the rules hold the plan 2,100,000 below its budget, and quotes no 0.00."""
    scen = {
        "name": "capped",
        "model": "north.json",
        "horizon_weeks": 13,
        "budget": 3000000,
        "touchpoints": {t: {"max": 300000} for t in ("tv", "search", "social")},
    }
    (world / "capped.yaml").write_text(yaml.safe_dump(scen, sort_keys=False))
    r = cli(["optimize", "capped.yaml", "--no-ledger", "--wide"], world)
    assert r.returncode == 0, r.stderr
    text = " ".join(r.stdout.split())
    assert "Break-even" in text
    assert "last dollar returns 0.00" not in text
    assert "its rules hold it 2,100,000 below its budget" in text, text


def test_diff_of_a_plan_and_its_mid_month_replan_keeps_the_rest_of_the_month(world, tmp_path):
    """`diff PLAN REPLAN` takes the plan over the re-plan's weeks; re-planned mid-February, it kept
    the plan's periods starting on or after 2027-02-15 (March only) and compared the re-plan's
    583,000 (the rest of February and March) with the plan's March alone (+235,315). Truth: the
    plan over weeks 7-13 is its whole cycle less its spend in weeks 1-6 (January, and two of
    February's four weeks: spend is spread evenly over a period's weeks), to the cent."""
    scen = {
        "name": "monthly",
        "model": "north.json",
        "start": "2027-01-04",
        "horizon_weeks": 13,
        "phasing": "month",
        "budget": 1000000,
        "periods": {"2027-02": {"max": 250000}},
    }
    (world / "dm.yaml").write_text(yaml.safe_dump(scen, sort_keys=False))
    six_weeks(world)
    led = ["--ledger", str(tmp_path / "ledger.sqlite")]
    r = cli(["optimize", "dm.yaml", "--format", "json", "-o", "dm.json", *led], world)
    assert r.returncode == 0, r.stderr
    r = cli(
        ["replan", "dm.yaml", "--actuals", "six.csv", "--format", "json", "-o", "dr.json", *led],
        world,
    )
    assert r.returncode == 0, r.stderr
    r = cli(["diff", "last~1", "last", "--format", "json", "-o", "diff.json", *led], world)
    assert r.returncode == 0, r.stderr
    plan = json.loads((world / "dm.json").read_text())
    jan, feb = plan["periods"][0], plan["periods"][1]
    assert (jan["weeks"], feb["weeks"]) == (4, 4)
    truth = round(plan["total_spend"] - jan["spend"] - feb["spend"] / 2, 2)
    diff = json.loads((world / "diff.json").read_text())
    first = diff["scenarios"][0]
    assert first["total_spend"] == pytest.approx(truth, abs=0.02), (first["total_spend"], truth)
    assert diff["scenarios"][1]["total_spend"] == 583000.0


def test_period_rules_scoped_to_a_market_are_refused_not_dropped(world):
    """`markets.south.periods` and a south touchpoint's `per_period` were taken and ignored: a
    south cap of 5 in February and of 5,000 a month on tv in south were planned at 131,324 and
    50,774 with no word. Truth: exit 2 naming each field, nothing written (they are not
    supported yet)."""
    scen = {
        **SCENARIO,
        "markets": {
            "south": {
                "periods": {"2027-02": {"max": 5}},
                "touchpoints": {"tv": {"per_period": {"max": 5000}}},
            }
        },
    }
    scen.pop("national")
    (world / "mp.yaml").write_text(yaml.safe_dump(scen, sort_keys=False))
    out = world / "mp.json"
    out.unlink(missing_ok=True)
    r = cli(["optimize", "mp.yaml", "--format", "json", "-o", "mp.json", "--no-ledger"], world)
    assert r.returncode == 2, r.stderr
    assert "field 'markets.south.periods'" in r.stderr
    assert "field 'markets.south.touchpoints.tv.per_period'" in r.stderr
    assert "Traceback" not in r.stderr and not out.exists()


@pytest.mark.parametrize("model", ["markets.json", "north.json"])
def test_phased_share_floors_above_100_percent_are_infeasible_by_name(world, model):
    """Share floors summing to 120% admit only an empty plan: undated, that is infeasible with
    both rules named (exit 3); phased, the plan spent nothing and was 'not certified' at a gap
    of 4,590,381,843,561% (exit 4, plan written). Truth: exit 3 naming both floors, no plan."""
    scen = {k: v for k, v in SCENARIO.items() if k not in ("national", "markets", "owners")}
    scen = {**scen, "model": model, "carryover": {"after": True}}
    if model == "markets.json":
        scen["markets"] = {"south": {"min_share": 0.6}, "north": {"min_share": 0.6}}
        words = ["south market share floor", "north market share floor"]
    else:
        scen["stages"] = {"awareness": {"min_share": 0.6}, "consideration": {"min_share": 0.6}}
        words = ["awareness stage share floor", "consideration stage share floor"]
    (world / "sf.yaml").write_text(yaml.safe_dump(scen, sort_keys=False))
    out = world / "sf.json"
    out.unlink(missing_ok=True)
    r = cli(["optimize", "sf.yaml", "--format", "json", "-o", "sf.json", "--no-ledger"], world)
    assert r.returncode == 3, r.stderr
    assert "infeasible" in r.stderr and all(w in r.stderr for w in words), r.stderr
    assert not out.exists()


def test_one_week_of_actuals_is_one_week(world):
    """`replan --weeks-elapsed 0` with one week of actuals said 'the actuals cover 1 weeks'."""
    (world / "one.csv").write_text("date,touchpoint,spend\n2027-01-04,tv,1000\n")
    scen = {k: v for k, v in SCENARIO.items() if k not in ("national", "markets", "owners")}
    (world / "one.yaml").write_text(
        yaml.safe_dump({**scen, "model": "north.json", "carryover": {"after": True}})
    )
    r = cli(
        ["replan", "one.yaml", "--actuals", "one.csv", "--weeks-elapsed", "0", "--no-ledger"], world
    )
    assert r.returncode == 2
    assert "the actuals cover 1 week (2027-01-04 to 2027-01-04)" in r.stderr, r.stderr
