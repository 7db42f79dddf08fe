"""The ledger of a project (issue 17 item 11): found by walking up to the nearest ``.budgetopt``
(or ``BUDGETOPT_LEDGER``), explain runs recorded, robust and uncertainty runs labelled, diff
positions checked with a clear message, and a re-plan diffed against its plan over the same
weeks. Every command runs as a subprocess, from a project's sub-folder, as a planner would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from optimizer.workflow.ledger import ledger_path, project_root
from tests.factories import TINY_MODEL, tiny_model_with_draws, write_actuals


def cli(cwd: Path, *args: str, env_ledger: str | None = None, ok: bool = True):
    env = {k: v for k, v in os.environ.items() if k != "BUDGETOPT_LEDGER"}
    if env_ledger is not None:
        env["BUDGETOPT_LEDGER"] = env_ledger
    out = subprocess.run(
        [sys.executable, "-m", "optimizer", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        check=False,
    )
    if ok:
        assert out.returncode == 0, out.stderr
    return out


@pytest.fixture
def project(tmp_path):
    root = tmp_path / "acme"
    (root / ".budgetopt").mkdir(parents=True)
    (root / "models").mkdir()
    (root / "scenarios").mkdir()
    (root / "models" / "model.json").write_text(json.dumps(tiny_model_with_draws(6)))
    (root / "scenarios" / "base.yaml").write_text(
        yaml.safe_dump(
            {"name": "base", "model": "../models/model.json", "horizon_weeks": 13, "budget": 650000}
        )
    )
    return root


def test_project_root_walks_up_to_the_nearest_budgetopt(tmp_path):
    (tmp_path / "p" / ".budgetopt").mkdir(parents=True)
    deep = tmp_path / "p" / "a" / "b"
    deep.mkdir(parents=True)
    assert project_root(deep) == (tmp_path / "p").resolve()
    # a .budgetopt *file* is not a ledger folder; .git marks a project too
    (tmp_path / "q" / "sub").mkdir(parents=True)
    (tmp_path / "q" / ".git").mkdir()
    (tmp_path / "q" / "sub" / ".budgetopt").write_text("")
    assert project_root(tmp_path / "q" / "sub") == (tmp_path / "q").resolve()
    # a repository bounds the walk: a .budgetopt above it is another project's
    (tmp_path / "r" / "repo" / ".git").mkdir(parents=True)
    (tmp_path / "r" / ".budgetopt").mkdir()
    (tmp_path / "r" / "repo" / "sub").mkdir()
    assert project_root(tmp_path / "r" / "repo" / "sub") == (tmp_path / "r" / "repo").resolve()


def test_env_and_option_win(tmp_path, monkeypatch):
    monkeypatch.setenv("BUDGETOPT_LEDGER", str(tmp_path / "env.sqlite"))
    assert ledger_path(None, tmp_path) == tmp_path / "env.sqlite"
    assert ledger_path(tmp_path / "opt.sqlite", tmp_path) == tmp_path / "opt.sqlite"
    monkeypatch.delenv("BUDGETOPT_LEDGER")
    (tmp_path / ".budgetopt").mkdir()
    assert ledger_path(None, tmp_path / ".") == tmp_path.resolve() / ".budgetopt/ledger.sqlite"


def test_runs_from_a_subfolder_land_in_the_project_ledger(project):
    scen = project / "scenarios"
    cli(scen, "optimize", "base.yaml", "--format", "json")
    cli(project / "models", "optimize", "../scenarios/base.yaml", "--format", "json")
    assert not (scen / ".budgetopt").exists() and not (project / "models" / ".budgetopt").exists()
    listed = json.loads(cli(project, "history", "--format", "json").stdout)
    assert len(listed) == 2
    # BUDGETOPT_LEDGER still wins over the project's
    other = project.parent / "elsewhere.sqlite"
    cli(scen, "optimize", "base.yaml", "--format", "json", env_ledger=str(other))
    assert (
        other.exists() and len(json.loads(cli(project, "history", "--format", "json").stdout)) == 2
    )


def test_explain_is_recorded_and_runs_are_labelled(project):
    scen = project / "scenarios"
    cli(scen, "optimize", "base.yaml", "--format", "json")
    cli(scen, "optimize", "base.yaml", "--robust", "mean", "--format", "json")
    cli(scen, "optimize", "base.yaml", "--uncertainty", "--format", "json")
    review = project / "review.md"
    out = cli(scen, "explain", "base.yaml", "-o", str(review), "--sweep-points", "0")
    assert "recorded run" in out.stderr
    runs = json.loads(cli(project, "history", "--format", "json").stdout)
    labels = [r["label"] for r in runs]  # newest first
    assert labels == ["explain", "optimize --uncertainty", "optimize --robust mean", "optimize"]
    shown = json.loads(cli(project, "history", "show", "last", "--format", "json").stdout)
    assert shown["command"] == "explain"
    assert shown["extra"]["review"]["output"] == str(review.resolve())
    assert shown["plans"][0]["scenario"] == "base"
    table = cli(project, "history").stdout
    assert "optimize --robust mean" in " ".join(table.split())
    # filtered by command, and an explain run is not re-run (said clearly)
    only = json.loads(cli(project, "history", "--command", "explain", "--format", "json").stdout)
    assert [r["command"] for r in only] == ["explain"]
    again = cli(project, "rerun", "last", ok=False)
    assert again.returncode != 0 and "explain" in again.stderr and "Traceback" not in again.stderr
    # the explain run's plan diffs against the optimize run's: the same plan
    d = json.loads(cli(project, "diff", "last~3", "last", "--format", "json").stdout)
    assert d["totals"]["delta_spend"] == pytest.approx(0.0, abs=0.01)


def test_diff_positions_and_out_of_range(project):
    scen = project / "scenarios"
    (scen / "cut.yaml").write_text(
        yaml.safe_dump({"extends": "base.yaml", "name": "cut", "budget": 500000})
    )
    cli(scen, "compare", "base.yaml", "cut.yaml", "--format", "json")
    # positions count from 0, as documented: RUN:1 is the second plan, RUN:-1 the last
    d = json.loads(cli(project, "diff", "last:0", "last:1", "--format", "json").stdout)
    assert (d["a"]["scenario"].split(":")[-1], d["b"]["scenario"].split(":")[-1]) == ("base", "cut")
    d = json.loads(cli(project, "diff", "last:0", "last:-1", "--format", "json").stdout)
    assert d["b"]["scenario"].endswith(":cut")
    bad = cli(project, "diff", "last:0", "last:2", ok=False)
    assert bad.returncode != 0 and "Traceback" not in bad.stderr
    assert "has 2 plans: positions 0 to 1" in bad.stderr and "'cut'" in bad.stderr


def test_diff_of_a_replan_against_its_plan_compares_the_same_weeks(project, tmp_path):
    scen = project / "scenarios"
    plan = json.loads(cli(scen, "optimize", "base.yaml", "--format", "json").stdout)
    weekly = {li["id"]: li["spend"] / 13 for li in plan["line_items"]}
    actuals = write_actuals(tmp_path / "actuals.csv", weekly, 4)
    cli(
        scen,
        "replan",
        "base.yaml",
        "--actuals",
        str(actuals),
        "--weeks-elapsed",
        "4",
        "--format",
        "json",
    )
    out = cli(project, "diff", "last~1", "last", "--format", "json")
    d = json.loads(out.stdout)
    assert "the same weeks" in d["same_weeks"] and "weeks 5 to 13" in d["same_weeks"]
    assert "note: the same weeks" in out.stderr
    # spent exactly as planned: the re-plan of the 9 weeks left is the plan's last 9 weeks (truth:
    # 9/13 of each line item, to the re-plan's certified tolerance), not 13 weeks against 9
    for row in d["line_items"]:
        orig = next(li["spend"] for li in plan["line_items"] if li["id"] == row["line_item"])
        assert row["spend_a"] == pytest.approx(orig * 9 / 13, abs=0.01)
        assert row["spend_b"] == pytest.approx(row["spend_a"], rel=2e-3, abs=50.0)
    assert d["totals"]["delta_spend"] == pytest.approx(0.0, abs=1.0)
    assert TINY_MODEL  # the tiny world's curves


def test_explain_records_the_sweep_it_used(project):
    """Without ``--sweep-points`` the ledger records the number the review used (21 for a plan
    not on a calendar), not the option's ``None`` (which means 21 undated and 0 on a calendar)."""
    scen = project / "scenarios"
    cli(scen, "explain", "base.yaml", "-o", str(project / "r.md"))
    shown = json.loads(cli(project, "history", "show", "last", "--format", "json").stdout)
    assert shown["extra"]["review"]["sweep_points"] == 21
