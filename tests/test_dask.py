"""Scale-out on Dask: a real scheduler and worker processes on 127.0.0.1 (distributed's
LocalCluster), with the results compared bit for bit against the in-process run.

The local cluster's client is not made the default Dask client (as an existing scheduler's is
not), so a call that relies on one fails here too. The commands against a scheduler and workers
started with ``dask scheduler`` / ``dask worker``, in a fresh process, with bad addresses and lost
workers, are tested in tests/test_scheduler_cli.py."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import socket
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

pytest.importorskip("distributed")
pytest.importorskip("dask.dataframe")
pytest.importorskip("pyarrow")

pytestmark = pytest.mark.slow

from optimizer.cli import cli  # noqa: E402
from optimizer.data import read_history, read_journey, read_market_histories  # noqa: E402
from optimizer.response.fit import fit_model  # noqa: E402
from optimizer.response.model import model_to_json, read_model, with_owners  # noqa: E402
from optimizer.scenario import load_scenario  # noqa: E402
from optimizer.workflow.compare import compare_scenarios, load_scenarios  # noqa: E402
from optimizer.workflow.daily import aggregate_daily  # noqa: E402
from optimizer.workflow.executor import (  # noqa: E402
    ClusterError,
    DaskExecutor,
    InProcess,
    executor_from,
)
from optimizer.workflow.sweep import CHUNK, sweep  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "optimizer" / "sample"
SCENARIOS = ROOT / "scenarios"


def run(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False, env=env)


def bare(plan):
    """A plan without its timings (the only fields that may differ run to run)."""
    return dataclasses.replace(plan, build_seconds=0.0, solve_seconds=0.0)


@pytest.fixture(scope="module")
def cluster():
    """One LocalCluster of 2 single-threaded worker processes, shared by the tests here."""
    with DaskExecutor.local(2) as ex:
        yield ex


@pytest.fixture(scope="module")
def base():
    sc = load_scenario(SCENARIOS / "base.yaml")
    return sc, read_model(sc.model)


@pytest.fixture(scope="module")
def history():
    return read_history(SAMPLE / "history.csv", read_journey(SAMPLE / "journey.yaml"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ------------------------------------------------------------------------------------------------
# the executor itself
# ------------------------------------------------------------------------------------------------
def _worker_settings() -> tuple[str | None, str | None, bool]:
    import os
    import sys

    return (
        os.environ.get("MALLOC_TRIM_THRESHOLD_"),
        os.environ.get("OPENBLAS_NUM_THREADS"),
        "optimizer.response.fit" in sys.modules,
    )


def test_local_workers_keep_malloc_defaults_one_blas_thread_and_take_preloads(cluster):
    """Dask's nannies set MALLOC_TRIM_THRESHOLD_=65536, which made market fits cost 38–45% more
    CPU (docs/scale-out.md); a local cluster's workers start without it, with one
    BLAS thread still, and import what ``preload`` names without being asked again."""
    import time

    cluster.preload("optimizer.response.fit")
    deadline = time.monotonic() + 120
    while True:
        got = set(cluster.client.run(_worker_settings).values())
        if got == {(None, "1", True)} or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert got == {(None, "1", True)}


def test_map_keeps_input_order_and_reports_progress(cluster):
    seen = []
    out = cluster.map(abs, list(range(-20, 0)), progress=lambda d, n, k: seen.append((d, n, k)))
    assert out == [abs(x) for x in range(-20, 0)]
    assert [d for d, _, _ in seen] == list(range(1, 21))
    assert sorted(k for _, _, k in seen) == list(range(20))
    assert cluster.workers == 2


def test_a_task_error_reaches_the_caller(cluster):
    with pytest.raises(ZeroDivisionError):
        cluster.map(lambda x: 1 / x, [1, 0, 2])


def test_without_distributed_the_error_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(ClusterError, match=r"install budgetopt\[dask\]"):
        executor_from(workers=2)


def test_in_process_is_the_default(monkeypatch):
    monkeypatch.delenv("BUDGETOPT_SCHEDULER", raising=False)
    with executor_from() as ex:
        assert isinstance(ex, InProcess)


# ------------------------------------------------------------------------------------------------
# results identical to the in-process run
# ------------------------------------------------------------------------------------------------
def test_sweep_on_two_workers_is_the_in_process_sweep(cluster, base):
    sc, model = base
    grid = list(np.linspace(1_000_000, 19_000_000, 2 * CHUNK + 10))  # 3 stretches
    here = sweep(sc, model, grid)
    points = []
    there = sweep(
        sc, model, grid, executor=cluster, progress=lambda k, n, _label: points.append((k, n))
    )
    assert [bare(p) for p in there.plans] == [bare(p) for p in here.plans]
    for a, b in zip(here.plans, there.plans, strict=True):  # spelled out: spend to the cent
        assert [li.spend for li in a.line_items] == [li.spend for li in b.line_items]
        assert a.total_kpi == b.total_kpi and a.budget_shadow_price == b.budget_shadow_price
    assert points[-1] == (len(grid), len(grid))
    assert [k for k, _ in points] == sorted(k for k, _ in points)
    cold_here = sweep(sc, model, grid[:4], warm=False)
    cold_there = sweep(sc, model, grid[:4], warm=False, executor=cluster)
    assert [bare(p) for p in cold_there.plans] == [bare(p) for p in cold_here.plans]


def test_bootstrap_fit_on_workers_is_the_in_process_fit(cluster, history):
    # the bootstrap of the MAP fit (the draws with lift tests; forced here) runs its refits as
    # tasks of the executor
    here = fit_model(history, seed=5, n_bootstrap=9, uncertainty="bootstrap")
    stages = []
    there = fit_model(
        history,
        seed=5,
        n_bootstrap=9,
        executor=cluster,
        progress=lambda st, d, n: stages.append((st, d, n)),
        uncertainty="bootstrap",
    )
    assert model_to_json(there) == model_to_json(here)
    for tid, tp in here.touchpoints.items():
        # draws may differ in family (bootstrap shape search), so compare them as records
        a = [(s.family, tuple(s.params.items()), ad.decay) for s, ad in tp.draws]
        b = [
            (s.family, tuple(s.params.items()), ad.decay) for s, ad in there.touchpoints[tid].draws
        ]
        assert a == b  # bit for bit: floats compared exactly
    assert ("bootstrap", 9, 9) in stages
    # a draw's randomness comes from its index alone: the first draws do not depend on how many
    fewer = fit_model(history, seed=5, n_bootstrap=4, executor=cluster, uncertainty="bootstrap")
    for tid, tp in fewer.touchpoints.items():
        assert tp.draws == here.touchpoints[tid].draws[:4]


def test_scenario_set_on_workers_is_the_in_process_comparison(cluster):
    scenarios = load_scenarios(sorted(SCENARIOS.glob("*.yaml")))
    here = compare_scenarios(scenarios)
    names = []
    there = compare_scenarios(
        scenarios, executor=cluster, progress=lambda d, n, name: names.append(name)
    )
    assert [bare(p) for p in there.plans] == [bare(p) for p in here.plans]
    assert there.costs == here.costs
    assert sorted(names) == sorted(sc.name for sc in scenarios)


# ------------------------------------------------------------------------------------------------
# per-market fits
# ------------------------------------------------------------------------------------------------
def two_markets(tmp_path: Path) -> Path:
    """The sample history as market 'north', and a smaller 'south' (half the spend, 60% of the
    revenue, with some noise), in one long-ish wide file with a market column."""
    raw = pd.read_csv(SAMPLE / "history.csv")
    north = raw.assign(market="north")
    south = raw.copy()
    rng = np.random.default_rng(1)
    for c in south.columns:
        if c not in ("date", "price_index", "revenue"):
            south[c] = (south[c] * 0.5).round(2)
    south["revenue"] = (south["revenue"] * 0.6 * rng.normal(1, 0.01, len(south))).round(2)
    south["market"] = "south"
    both = pd.concat([south, north], ignore_index=True)  # rows of the markets interleaved freely
    both = both[["date", "market", *[c for c in raw.columns if c != "date"]]]
    path = tmp_path / "weekly.csv"
    both.to_csv(path, index=False)
    return path


def test_fit_by_market_writes_one_model_per_market_equal_to_a_fit_of_that_market(cluster, tmp_path):
    hist = two_markets(tmp_path)
    journey = SAMPLE / "journey.yaml"
    out = tmp_path / "models"
    res = run(
        "fit",
        "--journey",
        str(journey),
        "--history",
        str(hist),
        "--by-market",
        "--no-pool",  # each market's own fit, to compare with a fit of that market alone
        "-o",
        str(out),
        "--bootstrap",
        "4",
        "-q",
        "--scheduler",
        cluster.client.scheduler.address,
    )
    assert res.exit_code == 0, res.output
    index = json.loads((out / "markets.json").read_text())
    assert sorted(index["markets"]) == ["north", "south"]
    histories = read_market_histories(hist, read_journey(journey))
    for market, h in histories.items():
        alone = fit_model(h, seed=0, n_bootstrap=4, holdout_weeks=13)
        # the same model, with each touchpoint's owner carried over from the journey
        owners = {t.id: t.owner for t in read_journey(journey).touchpoints}
        assert (out / f"{market}.json").read_text() == model_to_json(with_owners(alone, owners))
    # the markets differ, so the models do
    assert (out / "north.json").read_text() != (out / "south.json").read_text()
    # a plain fit of a file with several markets says to use --by-market
    plain = run(
        "fit",
        "--journey",
        str(journey),
        "--history",
        str(hist),
        "-o",
        str(tmp_path / "m.json"),
        "-q",
    )
    assert (
        plain.exit_code == 2 and "--by-market" in plain.stderr and "Traceback" not in plain.output
    )


# ------------------------------------------------------------------------------------------------
# large daily histories to weekly
# ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def daily(tmp_path_factory):
    """Daily spend and revenue for two markets, from a Thursday to a Tuesday (partial weeks at
    both ends), written as wide CSV, wide Parquet and long CSV."""
    root = tmp_path_factory.mktemp("daily")
    journey = read_journey(SAMPLE / "journey.yaml")
    rng = np.random.default_rng(7)
    days = pd.date_range("2024-01-04", "2025-02-04", freq="D")
    frames = []
    for m in ("east", "west"):
        f = pd.DataFrame({"date": days.strftime("%Y-%m-%d"), "market": m})
        for t in journey.touchpoints:
            f[t.spend_column] = np.round(
                rng.gamma(2.0, 500.0, len(days)) * (rng.random(len(days)) > 0.2), 2
            )
        f["revenue"] = np.round(rng.normal(50_000, 5_000, len(days)), 2)
        f["price_index"] = np.round(rng.normal(1.0, 0.03, len(days)), 4)
        frames.append(f)
    wide = pd.concat(frames, ignore_index=True).sample(frac=1.0, random_state=3)  # any row order
    wide.to_csv(root / "wide.csv", index=False)
    wide.to_parquet(root / "wide.parquet", row_group_size=200)
    spend_cols = [t.spend_column for t in journey.touchpoints]
    long = wide.melt(
        id_vars=["date", "market", "revenue", "price_index"],
        value_vars=spend_cols,
        var_name="touchpoint",
        value_name="spend",
    )
    long.to_csv(root / "long.csv", index=False)
    return {"root": root, "wide": wide, "journey": journey}


def reference_weekly(wide: pd.DataFrame, journey, by_market: bool) -> pd.DataFrame:
    """Independently, with pandas: ISO weeks (Monday start) via periods, sums and means, whole
    weeks only."""
    d = wide.copy()
    d["week"] = pd.to_datetime(d["date"]).dt.to_period("W-SUN").dt.start_time
    keys = ["market", "week"] if by_market else ["week"]
    spend_cols = [t.spend_column for t in journey.touchpoints]
    agg = d.groupby(keys).agg(
        {**dict.fromkeys(spend_cols, "sum"), "revenue": "sum", "price_index": "mean"}
    )
    ndays = d.groupby(keys)["date"].nunique()
    agg = agg[ndays == 7].reset_index()
    agg["date"] = agg.pop("week").dt.strftime("%Y-%m-%d")
    return agg.sort_values(["market", "date"] if by_market else ["date"]).reset_index(drop=True)


@pytest.mark.parametrize("name", ["wide.csv", "wide.parquet", "long.csv"])
@pytest.mark.parametrize("by_market", [False, True])
def test_daily_history_aggregates_to_the_weekly_one(daily, name, by_market, tmp_path):
    journey = daily["journey"]
    out = tmp_path / "weekly.csv"
    args = [
        "aggregate",
        str(daily["root"] / name),
        "--journey",
        str(SAMPLE / "journey.yaml"),
        "-o",
        str(out),
        "--blocksize",
        "100KB",
    ] + (["--by-market"] if by_market else [])
    res = run(*args)
    assert res.exit_code == 0, res.output
    assert "left out" in res.stderr and "2024-01-01" in res.stderr and "2025-02-03" in res.stderr
    got = pd.read_csv(out)
    ref = reference_weekly(daily["wide"], journey, by_market)
    assert list(got["date"]) == list(ref["date"])
    if by_market:
        assert list(got["market"]) == list(ref["market"])
    for c in [*[t.spend_column for t in journey.touchpoints], "revenue", "price_index"]:
        np.testing.assert_allclose(
            got[c].to_numpy(), ref[c].to_numpy(), rtol=1e-12, atol=1e-9, err_msg=c
        )
    # and it is a history the fit reads as it is
    if by_market:
        hs = read_market_histories(out, journey)
        assert sorted(hs) == ["east", "west"] and all(h.n_weeks == 56 for h in hs.values())
    else:
        assert read_history(out, journey).n_weeks == 56


def test_aggregation_on_the_cluster_and_a_missing_day(cluster, daily, tmp_path):
    journey = daily["journey"]
    here = aggregate_daily(daily["root"] / "wide.parquet", journey, by_market=True)
    there = aggregate_daily(
        daily["root"] / "wide.parquet", journey, by_market=True, scheduler=cluster.client.get
    )
    pd.testing.assert_frame_equal(here.frame, there.frame, check_exact=False, rtol=1e-12)
    holed = daily["wide"]
    holed = holed[~((holed["market"] == "west") & (holed["date"] == "2024-06-12"))]
    holed.to_csv(tmp_path / "holed.csv", index=False)
    res = run(
        "aggregate",
        str(tmp_path / "holed.csv"),
        "--journey",
        str(SAMPLE / "journey.yaml"),
        "-o",
        str(tmp_path / "w.csv"),
        "--by-market",
    )
    assert res.exit_code == 2 and "'west'" in res.stderr and "2024-06-10" in res.stderr
    assert "6 of its 7 days" in res.stderr and not (tmp_path / "w.csv").exists()


# ------------------------------------------------------------------------------------------------
# a worker that dies mid-sweep (last: it restarts one of the shared cluster's workers)
# ------------------------------------------------------------------------------------------------
def test_a_worker_killed_mid_sweep_has_its_tasks_retried(cluster, base):
    sc, model = base
    grid = list(np.linspace(1_000_000, 19_000_000, 6 * CHUNK))  # 6 stretches on 2 workers
    here = sweep(sc, model, grid)
    before = cluster.client.run(os.getpid)
    killed: list[int] = []

    def progress(k: int, n: int, _label: str) -> None:
        if not killed:  # the first stretch is done, the others are queued or running: kill one
            pid = sorted(before.values())[0]
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    there = sweep(sc, model, grid, executor=cluster, progress=progress)
    assert killed
    assert [bare(p) for p in there.plans] == [bare(p) for p in here.plans]
    cluster.client.wait_for_workers(2, timeout=60)
    after = cluster.client.run(os.getpid)
    assert killed[0] not in after.values()  # the nanny started a new worker process


def test_plan_uncertainty_on_the_cluster_equals_in_process(cluster):
    """optimize --uncertainty: one re-optimisation per bootstrap draw, as tasks of the cluster."""
    from optimizer.allocate import allocate
    from optimizer.response.model import model_from_dict
    from optimizer.scenario import scenario_from_dict
    from optimizer.workflow.robust import plan_uncertainty
    from tests.factories import tiny_model_with_draws

    sc = scenario_from_dict(
        {
            "name": "base",
            "model": "m",
            "horizon_weeks": 13,
            "budget": 1_300_000,
            "touchpoints": {"tv": {"max": 900_000}},
        }
    )
    model = model_from_dict(tiny_model_with_draws(7))
    plan = allocate(sc, model)
    seen: list[int] = []
    here = plan_uncertainty(sc, model, plan)
    there = plan_uncertainty(
        sc, model, plan, executor=cluster, progress=lambda d, n, _label: seen.append(d)
    )
    assert there.to_dict() == here.to_dict()  # bit for bit
    # progress counts the 7 joint draws and, for the value of information, 3 touchpoints x 7
    assert there.solved == 7 and seen[-1] == 7 + 3 * 7 + 4  # + the 1 + 3 expected-KPI plans
