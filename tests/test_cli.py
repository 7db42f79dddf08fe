"""The CLI end to end on a tiny world: formats, reconciliation, help and docs for every command."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from optimizer.cli import cli
from tests.factories import write_tiny_world

DOCS = Path(__file__).resolve().parent.parent / "docs"


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture
def world(tmp_path):
    return write_tiny_world(tmp_path / "w")


def test_every_command_has_help_with_an_example_and_is_documented():
    cli_doc = (DOCS / "cli.md").read_text()
    for name, _cmd in cli.commands.items():
        r = run(name, "--help")
        assert r.exit_code == 0
        assert "Example:" in r.output, name
        assert f"budgetopt {name}" in cli_doc, f"docs/cli.md does not document '{name}'"


def test_version():
    r = run("--version")
    assert r.exit_code == 0 and "budgetopt" in r.output


def test_optimize_json_follows_contract_6(world):
    r = run("optimize", world["scenario"], "--format", "json")
    assert r.exit_code == 0, r.stderr
    plan = json.loads(r.stdout)  # stdout holds the JSON alone
    for key in (
        "scenario",
        "status",
        "objective",
        "total_spend",
        "total_kpi",
        "line_items",
        "constraints",
    ):
        assert key in plan
    assert plan["status"] == "optimal"
    items = plan["line_items"]
    for li in items:
        for key in ("id", "stage", "spend", "kpi", "roi", "marginal_roi", "binding"):
            assert key in li
    # line items sum to the total, to the cent; stages reconcile with the total
    assert round(sum(li["spend"] for li in items), 2) == plan["total_spend"]
    assert round(sum(s["spend"] for s in plan["stages"]), 2) == plan["total_spend"]
    assert sum(li["kpi"] for li in items) == pytest.approx(plan["total_kpi"], rel=1e-12)
    # the plan respects every constraint of the scenario (budget 1.3M, tv max 600k, awareness >= 10%)
    assert plan["total_spend"] <= 1_300_000
    tv = next(li for li in items if li["id"] == "tv")
    assert tv["spend"] <= 600_000
    assert tv["spend"] >= 0.1 * plan["total_spend"] - 0.01
    budget = next(c for c in plan["constraints"] if c["name"] == "budget")
    assert budget["binding"] and budget["shadow_price"] > 0


def test_optimize_csv_and_output_file(world, tmp_path):
    out = tmp_path / "plan.csv"
    r = run("optimize", world["scenario"], "--format", "csv", "-o", out)
    assert r.exit_code == 0
    assert r.stdout == ""
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [row["id"] for row in rows] == ["tv", "search", "email"]
    assert not list(tmp_path.glob(".plan.csv.*"))  # no temporary left behind


def test_optimize_table(world):
    r = run("optimize", world["scenario"])
    assert r.exit_code == 0
    assert "tv" in r.stdout and "total" in r.stdout and "certified within" in r.stdout


def test_compare_side_by_side(world):
    import yaml

    cut = world["root"] / "scenarios" / "cut.yaml"
    cut.write_text(yaml.safe_dump({"name": "cut", "extends": "base.yaml", "budget": 1_105_000}))
    r = run("compare", world["scenario"], cut, "--format", "json")
    assert r.exit_code == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["reference"] == "base"
    assert [s["scenario"] for s in data["scenarios"]] == ["base", "cut"]
    assert data["scenarios"][1]["total_spend"] == pytest.approx(1_105_000, abs=0.01)
    assert data["scenarios"][1]["total_kpi"] < data["scenarios"][0]["total_kpi"]
    r = run("compare", world["scenario"], cut)
    assert r.exit_code == 0
    assert "Δ cut" in r.stdout and "spend by stage" in r.stdout
    r = run("compare", world["scenario"], cut, "--format", "csv")
    assert r.stdout.splitlines()[0].startswith("line_item,stage,base,cut")


def test_sweep_json_points(world, tmp_path):
    png = tmp_path / "f.png"
    r = run(
        "sweep", world["scenario"], "--budgets", "0:2000000:5", "--format", "json", "--plot", png
    )
    assert r.exit_code == 0, r.stderr
    data = json.loads(r.stdout)
    assert [p["budget"] for p in data["points"]] == [0, 500000, 1000000, 1500000, 2000000]
    kpis = [p["total_kpi"] for p in data["points"]]
    assert kpis == sorted(kpis)
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_validate_folder(world):
    r = run("validate", world["root"])
    assert r.exit_code == 0, r.stderr
    assert "ok:" in r.stderr


@pytest.mark.parametrize("args", [["explain", "s.yaml"], ["aggregate", "d.csv", "--journey", "j"]])
def test_a_required_output_left_out_is_a_usage_error(args):
    """``-o`` is required by explain and aggregate: left out, click says so (exit 2), not an
    internal error (click 8.3 counts an explicit ``default=None`` as given)."""
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 2, r.output
    assert "Missing option '-o'" in r.output and "internal error" not in r.output


def test_output_named_for_a_document_format_no_command_writes_is_refused(tmp_path):
    """``explain -o review.docx`` wrote Markdown into a file named .docx, exit 0 (reviewer R2):
    now exit 2 before anything runs, the message naming the file and the formats the command
    writes, and no file; the same for optimize -o plan.pdf."""
    import subprocess
    import sys

    from tests.factories import write_tiny_world

    w = write_tiny_world(tmp_path)
    for cmd, name, fmts, suggested in (
        ("explain", "review.docx", "md, html", "review.md"),  # was review.json
        ("optimize", "p.pdf", "json", "p.json"),
    ):
        out = tmp_path / name
        r = subprocess.run(
            [sys.executable, "-m", "optimizer", cmd, str(w["scenario"]), "-o", str(out),
             "--no-ledger"],
            capture_output=True, text=True,
        )  # fmt: skip
        assert r.returncode == 2, r.stderr
        assert f"-o {out}" in r.stderr and "does not write" in r.stderr and fmts in r.stderr
        assert f"e.g. {suggested}" in r.stderr, r.stderr  # the command's own first format
        assert "Traceback" not in r.stderr and not out.exists()
