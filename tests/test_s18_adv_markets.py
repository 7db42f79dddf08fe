"""S18 adversarial pass over plans by market (contract 8) and markets on a calendar (7 + 8),
through the CLI as users run them, on tests.test_markets' small world (3 markets x 4
touchpoints, exponential curves, some with adstock)."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import cvxpy as cp
import pytest
import yaml

from tests.test_markets import make_world

H = 13


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("s18markets")
    return tmp, make_world(tmp, n_markets=3, n_tp=4)


def _run(args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "optimizer", *args], capture_output=True, text=True, cwd=cwd
    )


def _write(tmp, name, **over) -> str:
    data = {"name": name, "model": "markets.json", "horizon_weeks": H, "budget": 300_000, **over}
    (tmp / f"{name}.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return f"{name}.yaml"


def _population(w) -> dict[str, float]:
    size = {m: float(s) for m, s in zip(w["markets"], w["size"], strict=True)}
    return {m: s / sum(size.values()) for m, s in size.items()}


def test_a_market_stage_cap_counts_the_national_buys_share_there(world):
    """``markets: {m0: {stages: {awareness: {max: 1000}}}}`` with t0 (the only awareness
    touchpoint) a national buy split by population. Truth: m0's awareness spend is t0's share in
    m0 (every table of the plan's market spend counts it so, as the market's own money rules
    do), so that share is at most 1,000 and the plan is the exact optimum under it (cvxpy +
    Clarabel, relative 1e-6). Before: the row summed m0's own line items only (none in
    awareness), read 'not binding, slack 1,000' and the plan put 6,384 of t0 in m0."""
    tmp, w = world
    f = _write(
        tmp,
        "stagecap",
        national={"t0": "population"},
        markets={"m0": {"stages": {"awareness": {"max": 1000}}}},
    )
    r = _run(["optimize", f, "--format", "json", "--no-ledger"], tmp)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    t0 = next(li for li in out["line_items"] if li["id"] == "t0")
    assert t0["market"] is None
    assert t0["spend"] * t0["split"]["m0"] <= 1000 + 1e-6
    row = next(c for c in out["constraints"] if c["name"] == "stage_max__m0__awareness")
    assert row["binding"] and row["shadow_price"] > 0.1

    # the exact optimum on the same rules
    share = _population(w)
    truth, tps, ms = w["truth"], w["tps"], w["markets"]
    x = {(m, t): cp.Variable(nonneg=True) for m in ms for t in tps if t != "t0"}
    X = cp.Variable(nonneg=True)

    def F(m, t, s):
        beta, scale, k = truth[m][t]
        return H * beta * (1 - cp.exp(-k * s / (H * scale)))

    obj = sum(F(m, t, v) for (m, t), v in x.items()) + sum(F(m, "t0", share[m] * X) for m in ms)
    cons = [sum(x.values()) + X <= 300_000, share["m0"] * X <= 1000]
    best = cp.Problem(cp.Maximize(obj), cons).solve(solver=cp.CLARABEL)
    assert out["status"] == "optimal"
    assert out["total_kpi"] == pytest.approx(best, rel=1e-6)


def test_a_market_group_share_by_month_counts_the_national_buys_share(world):
    """By month over 13 weeks, t0 and t3 national buys (t3 in m0 and m1 only, 2:1), m0's group
    {t0, t3} at least 40% of m0's spend and m0's awareness (t0) at most 1,000. Truth, on the
    plan's cents by period: t0's share in m0 is at most 1,000 and the group's share in m0 (t0's
    and t3's shares) at least 40% of m0's spend as the plan's ``markets`` reports it (to a cent
    of the split). Before: both rows left the national buys out (m0's own line items only):
    t0's share in m0 was 18,800 against the cap of 1,000."""
    tmp, w = world
    f = _write(
        tmp,
        "groupshare",
        start="2027-01-04",
        phasing="month",
        national={"t0": "population", "t3": {"m0": 2, "m1": 1}},
        markets={
            "m0": {
                "stages": {"awareness": {"max": 1000}},
                "groups": {"g": {"members": ["t0", "t3"], "min_share": 0.4}},
            }
        },
    )
    r = _run(["optimize", f, "--format", "json", "--no-ledger"], tmp)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["status"] == "optimal"
    by = {(li["id"], li["market"]): li for li in out["line_items"]}
    t0, t3 = by[("t0", None)], by[("t3", None)]
    in_m0 = {
        "t0": sum(p["spend"] for p in t0["periods"]) * t0["split"]["m0"],
        "t3": sum(p["spend"] for p in t3["periods"]) * t3["split"]["m0"],
    }
    assert in_m0["t0"] <= 1000 + 1e-6
    m0 = next(m["spend"] for m in out["markets"] if m["market"] == "m0")
    own = sum(li["spend"] for (t, m), li in by.items() if m == "m0")
    assert m0 == pytest.approx(own + in_m0["t0"] + in_m0["t3"], abs=0.02)
    assert in_m0["t0"] + in_m0["t3"] >= 0.4 * m0 - 0.02
    names = {c["name"]: c for c in out["constraints"]}
    assert names["group_min_share__m0__g"]["binding"]
    assert names["stage_max__m0__awareness"]["binding"]


def test_compare_lists_every_plans_line_items(world):
    """compare of a plan buying t3 market by market (reference) with one buying it nationally.
    Truth: every line item of either plan is a row (t3@m0..m2 and t3@national), so that each
    plan's column in the CSV sums to its total spend (to the cent) and the table's columns to
    the totals shown. Before: the rows were the reference's line items only, t3@national was
    missing and the second plan's column summed to its total less t3's national spend."""
    tmp, _ = world
    a = _write(tmp, "by_market")
    b = _write(tmp, "national", national={"t3": "population"})
    r = _run(["compare", a, b, "--format", "csv", "--no-ledger"], tmp)
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    keys = [row["line_item"] for row in rows]
    assert "t3@national" in keys and {"t3@m0", "t3@m1", "t3@m2"} <= set(keys)
    r = _run(["compare", a, b, "--format", "json", "--no-ledger"], tmp)
    assert r.returncode == 0, r.stderr
    totals = {s["scenario"]: s["total_spend"] for s in json.loads(r.stdout)["scenarios"]}
    for name in ("by_market", "national"):
        assert sum(float(row[name]) for row in rows) == pytest.approx(totals[name], abs=0.005)
    # the table: the national plan's column foots to its total as shown
    r = _run(["compare", a, b, "--no-ledger", "--wide"], tmp)
    assert r.returncode == 0, r.stderr
    table = r.stdout.split("spend by line item")[1].split("\n\n")[0]
    lines = [ln.split() for ln in table.splitlines() if "@" in ln]
    assert any(ln[0] == "t3@national" for ln in lines)
    col = sum(int(ln[3].replace(",", "")) for ln in lines)
    assert col == round(totals["national"])


def test_a_market_scoped_share_says_it_is_of_the_markets_spend(world):
    """A group's share floor in m0 is a share of m0's spend (docs/file-formats.md), and its label
    says so: 'the 'g' group share floor (40% of the market's spend) in m0'. Before: '(40% of total
    spend) in m0', read as 40% of the national total."""
    tmp, _ = world
    f = _write(
        tmp,
        "label",
        national={"t0": "population"},
        markets={"m0": {"groups": {"g": {"members": ["t0", "t3"], "min_share": 0.4}}}},
    )
    r = _run(["optimize", f, "--format", "json", "--no-ledger"], tmp)
    assert r.returncode == 0, r.stderr
    row = next(
        c for c in json.loads(r.stdout)["constraints"] if c["name"] == "group_min_share__m0__g"
    )
    assert row["label"] == "the 'g' group share floor (40% of the market's spend) in m0"
