"""The ledger: runs recorded by optimize / compare / sweep, listed, shown, diffed and re-run; two
processes writing at once lose no run."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from optimizer.cli import cli
from optimizer.workflow.ledger import (
    Ledger,
    LedgerError,
    canonical,
    ledger_path,
    new_run_id,
    plan_from_dict,
    scenario_inputs,
)
from tests.factories import write_tiny_world


@pytest.fixture
def world(tmp_path):
    w = write_tiny_world(tmp_path / "w")
    cut = w["root"] / "scenarios" / "cut.yaml"
    cut.write_text(yaml.safe_dump({"name": "cut", "extends": "base.yaml", "budget": 1_000_000}))
    w["cut"] = cut
    w["ledger"] = tmp_path / "ledger.sqlite"
    return w


def run(world, *args, ledger=True):
    extra = ["--ledger", world["ledger"]] if ledger else []
    r = CliRunner().invoke(cli, [str(a) for a in (*args, *extra)])
    assert "Traceback" not in (r.output or "") + (r.stderr or "")
    return r


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ------------------------------------------------------------------------------------------------
# the store
# ------------------------------------------------------------------------------------------------
def test_run_ids_are_short_sortable_and_unique():
    ids = [new_run_id(1_700_000_000_000 + k) for k in range(200)]
    assert all(len(i) == 12 and i.isalnum() and i == i.lower() for i in ids)
    assert ids == sorted(ids)
    assert len(set(new_run_id(1_700_000_000_000) for _ in range(200))) > 150  # random suffix


def test_record_get_and_list(tmp_path):
    f = tmp_path / "a.yaml"
    f.write_text("name: a\n")
    with Ledger(tmp_path / "sub" / "l.sqlite") as led:
        a = led.record(
            command="optimize",
            scenarios=["a"],
            plans=[{"scenario": "a", "total_kpi": 1.0}],
            inputs=[("scenario", f)],
            kpi="revenue",
            solver="highs",
            options={"tolerance": 1e-4},
        )
        b = led.record(command="sweep", scenarios=["a", "a"], plans=[{"scenario": "a"}] * 2)
        assert led.count() == 2
        assert [r.id for r in led.runs()] == [b.id, a.id]  # newest first
        assert [r.id for r in led.runs(command="optimize")] == [a.id]
        assert led.get(a.id) == a
        assert led.get("last").id == b.id and led.get("last~1").id == a.id
        assert led.get(a.id[:11]).id == a.id  # a unique start of the id
        got = led.get(a.id)
        assert got.inputs[0].sha256 == sha(f) and got.inputs[0].role == "scenario"
        assert led.blob(sha(f)) == f.read_bytes()
        assert got.kpi == "revenue" and got.options["tolerance"] == 1e-4
        assert got.created_at.endswith("Z")
        with pytest.raises(LedgerError, match="no run 'zzzz'"):
            led.get("zzzz")
        with pytest.raises(LedgerError, match="last~5"):
            led.get("last~5")


def test_ledger_path_option_env_and_default(monkeypatch, tmp_path):
    monkeypatch.delenv("BUDGETOPT_LEDGER", raising=False)
    # the default is the project's ledger (issue 17 item 11): here, a repository's root
    (tmp_path / ".git").mkdir()
    (tmp_path / "scenarios").mkdir()
    monkeypatch.chdir(tmp_path / "scenarios")
    assert ledger_path(None) == tmp_path.resolve() / ".budgetopt" / "ledger.sqlite"
    monkeypatch.setenv("BUDGETOPT_LEDGER", str(tmp_path / "env.sqlite"))
    assert ledger_path(None) == tmp_path / "env.sqlite"
    assert ledger_path(tmp_path / "opt.sqlite") == tmp_path / "opt.sqlite"


def test_wal_mode(tmp_path):
    with Ledger(tmp_path / "l.sqlite") as led:
        assert led.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert led.conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 1000


def _writer(path: str, worker: int, n: int, start) -> None:
    with Ledger(path) as led:
        start.wait(60)  # both processes write at the same time, not one after the other
        for k in range(n):
            led.record(
                command="optimize",
                scenarios=[f"w{worker}-{k}"],
                plans=[{"scenario": f"w{worker}-{k}", "total_kpi": float(k)}],
            )


def test_two_processes_writing_at_once_lose_no_run(tmp_path):
    path = str(tmp_path / "ledger.sqlite")
    Ledger(path).close()
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(2)
    procs = [ctx.Process(target=_writer, args=(path, w, 20, start)) for w in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    with Ledger(path) as led:
        runs = led.runs()
    assert len(runs) == 40
    assert len({r.id for r in runs}) == 40
    assert sorted(r.scenarios[0] for r in runs) == sorted(
        f"w{w}-{k}" for w in range(2) for k in range(20)
    )


def test_scenario_inputs_follow_the_extends_chain(world):
    files = scenario_inputs(world["cut"])
    assert files == [("scenario", world["cut"].resolve()), ("extends", world["scenario"].resolve())]


def test_plan_from_dict_round_trips_the_numbers(world):
    r = run(world, "optimize", world["scenario"], "--format", "json")
    d = json.loads(r.stdout)
    p = plan_from_dict(d)
    assert p.total_spend == d["total_spend"]
    assert p.total_kpi == pytest.approx(d["total_kpi"], rel=1e-12)
    assert p.budget_shadow_price == next(
        c["shadow_price"] for c in d["constraints"] if c["name"] == "budget"
    )


# ------------------------------------------------------------------------------------------------
# recording from the command line
# ------------------------------------------------------------------------------------------------
def test_optimize_compare_sweep_are_recorded_with_their_inputs(world):
    r = run(world, "optimize", world["cut"], "--format", "json")
    assert r.exit_code == 0, r.stderr
    assert "recorded run" in r.stderr
    plan = json.loads(r.stdout)
    assert run(world, "compare", world["scenario"], world["cut"], "--format", "json").exit_code == 0
    assert run(world, "sweep", world["scenario"], "--budgets", "0:2000000:3", "-q").exit_code == 0
    with Ledger(world["ledger"]) as led:
        sw, cmp_, opt = led.runs()
    assert (opt.command, cmp_.command, sw.command) == ("optimize", "compare", "sweep")
    assert opt.plans[0] == plan  # the contract-6 plan, exactly as printed
    roles = {(f.role, Path(f.path).name): f.sha256 for f in opt.inputs}
    assert roles == {
        ("scenario", "cut.yaml"): sha(world["cut"]),
        ("extends", "base.yaml"): sha(world["scenario"]),
        ("model", "model.json"): sha(world["model"]),
    }
    assert opt.kpi == "revenue" and opt.solver == "highs" and opt.version
    assert opt.options["tolerance"] == 1e-4 and opt.options["robust"] == "auto"
    assert Path(opt.options["scenarios"][0]).is_absolute()
    assert cmp_.scenarios == ("base", "cut") and len(cmp_.plans) == 2
    assert [p["budget"] for p in sw.plans] == [0.0, 1_000_000.0, 2_000_000.0]


def test_no_ledger_and_the_environment_variable(world, tmp_path, monkeypatch):
    r = run(world, "optimize", world["scenario"], "--no-ledger", "-q", ledger=False)
    assert r.exit_code == 0 and r.stderr == ""
    env = tmp_path / "from-env.sqlite"
    r = CliRunner(env={"BUDGETOPT_LEDGER": str(env)}).invoke(
        cli, ["optimize", str(world["scenario"])]
    )
    assert r.exit_code == 0
    with Ledger(env) as led:
        assert led.count() == 1
    assert not world["ledger"].exists()


def test_a_ledger_that_cannot_be_written_is_a_warning_not_a_failure(world, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    r = CliRunner().invoke(
        cli, ["optimize", str(world["scenario"]), "--ledger", str(blocker / "ledger.sqlite")]
    )
    assert r.exit_code == 0
    assert "warning: the run was not recorded" in r.stderr
    assert "line item" in r.stdout


def test_history_and_show(world):
    run(world, "optimize", world["scenario"], "-q")
    run(world, "optimize", world["cut"], "-q")
    r = run(world, "history")
    assert r.exit_code == 0, r.stderr
    assert "optimize" in r.stdout and "cut" in r.stdout and "base" in r.stdout
    r = run(world, "history", "--format", "json", "--limit", "1")
    runs = json.loads(r.stdout)
    assert len(runs) == 1 and runs[0]["scenarios"] == ["cut"]
    assert runs[0]["summary"][0]["total_spend"] == pytest.approx(1_000_000, abs=0.01)
    r = run(world, "history", "show", "last", "--format", "json")
    shown = json.loads(r.stdout)
    assert shown["id"] == runs[0]["id"] and shown["plans"][0]["scenario"] == "cut"
    assert {f["role"] for f in shown["inputs"]} == {"scenario", "extends", "model"}
    r = run(world, "history", "show", runs[0]["id"][:10])
    assert r.exit_code == 0 and "input files" in r.stdout and "cut.yaml" in r.stdout


def test_history_errors_are_clean(world, tmp_path):
    r = CliRunner().invoke(cli, ["history", "--ledger", str(tmp_path / "none.sqlite")])
    assert r.exit_code == 2 and "no ledger here yet" in r.stderr
    run(world, "optimize", world["scenario"], "-q")
    r = run(world, "history", "show", "nosuchrun")
    assert r.exit_code == 2 and "no run 'nosuchrun'" in r.stderr


def test_diff_two_runs(world):
    run(world, "optimize", world["scenario"], "-q")
    run(world, "compare", world["scenario"], world["cut"], "-q")
    r = run(world, "diff", "last~1", "last:cut", "--format", "json")
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    a, b = d["scenarios"]
    assert a["total_spend"] == pytest.approx(1_300_000, abs=0.01)
    assert b["total_spend"] == pytest.approx(1_000_000, abs=0.01)
    assert d["totals"]["delta_spend"] == pytest.approx(-300_000, abs=0.01)
    assert sum(li["delta_spend"] for li in d["line_items"]) == pytest.approx(-300_000, abs=0.05)
    assert sum(li["delta_kpi"] for li in d["line_items"]) == pytest.approx(d["totals"]["delta_kpi"])
    for li in d["line_items"]:
        assert li["delta_spend"] == pytest.approx(li["spend_b"] - li["spend_a"], abs=0.01)
    r = run(world, "diff", "last~1", "last:1")
    assert r.exit_code == 0 and "Δ KPI" in r.stdout and "tv" in r.stdout
    r = run(world, "diff", "last~1", "last:cutt")
    assert r.exit_code == 2 and "did you mean 'cut'" in r.stderr


# ------------------------------------------------------------------------------------------------
# re-running
# ------------------------------------------------------------------------------------------------
def test_rerun_gives_a_bit_identical_plan(world):
    r = run(world, "optimize", world["cut"], "--format", "json", "-q")
    assert r.exit_code == 0
    with Ledger(world["ledger"]) as led:
        first = led.get("last")
    r = run(world, "rerun", first.id, "--check")
    assert r.exit_code == 0, r.stderr
    assert "identical" in r.stdout
    with Ledger(world["ledger"]) as led:
        again = led.get("last")
    assert again.id != first.id and again.extra["rerun_of"] == first.id
    # bit-identical: the same JSON text, number for number
    assert canonical(again.plans[0]) == canonical(first.plans[0])
    assert json.dumps(again.plans[0]) == json.dumps(first.plans[0])


def test_rerun_warns_when_an_input_changed_and_snapshot_reproduces(world):
    run(world, "optimize", world["cut"], "-q")
    base = yaml.safe_load(world["scenario"].read_text())
    base["touchpoints"]["tv"]["max"] = 300_000
    world["scenario"].write_text(yaml.safe_dump(base))
    r = run(world, "rerun", "last", "--check", "--no-ledger")
    assert r.exit_code == 1
    assert "base.yaml (extends) has changed since the run" in r.stderr
    assert "different" in r.stdout and "'cut' differs" in r.stdout
    r = run(world, "rerun", "last", "--snapshot", "--check")
    assert r.exit_code == 0, r.stderr
    assert "recorded copies" in r.stdout and "identical" in r.stdout
    with Ledger(world["ledger"]) as led:
        again, first = led.get("last"), led.get("last~1")
    assert again.extra["snapshot"] and again.inputs == first.inputs  # what it was computed from


def test_rerun_of_compare_and_sweep(world):
    run(world, "compare", world["scenario"], world["cut"], "-q")
    r = run(world, "rerun", "last", "--check", "--no-ledger")
    assert r.exit_code == 0 and "all 2 plan(s)" in r.stdout
    run(world, "sweep", world["scenario"], "--budgets", "0:1500000:3", "-q")
    r = run(world, "rerun", "last", "--check", "--no-ledger")
    assert r.exit_code == 0 and "all 3 plan(s)" in r.stdout
