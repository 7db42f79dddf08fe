"""Output people can read (issue 17 item 9): one money format (no cents beside thousands, no
``+0``/``-0``), one share format, rules in words in tables and workbooks, CSVs that Excel opens
cleanly with ``--excel`` (and plain CSV for tools without it).

The truths are the texts and bytes a reader gets, from the commands as a user runs them.
"""

from __future__ import annotations

import csv
import io
import re
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from optimizer.cli import cli
from optimizer.scenario.rules import kind_words

ROOT = Path(__file__).resolve().parent.parent
SCEN = ROOT / "scenarios"

#: an amount with thousands and cents: "8,491.90" (a stray cent in a table or a sentence)
STRAY_CENTS = re.compile(r"\d,\d{3}\.\d{2}\b")
#: a rule's machine name: "tp_max__onboarding_email"
RULE_ID = re.compile(r"\b[a-z_]+__[a-z0-9_]+")


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_tables_have_no_stray_cents_no_signed_zero_and_one_share_format():
    r = run("compare", SCEN / "base.yaml", SCEN / "budget_cut.yaml", SCEN / "fy26_monthly.yaml")
    assert r.exit_code == 0, r.output
    out = r.stdout
    assert not STRAY_CENTS.findall(out), STRAY_CENTS.findall(out)[:5]
    assert not re.search(r"(?<![\w.])[+-]0(?![\d.,])", out)  # never "+0" or "-0"
    p = run("optimize", SCEN / "base.yaml")
    tables = p.stdout.split("certified within")[0]  # (the gap is a tolerance, to 4 decimals)
    shares = re.findall(r"\d+(?:\.\d+)?%", tables)
    assert shares and all(re.fullmatch(r"\d+\.\d%", s) for s in shares), shares
    assert "100.0%" in p.stdout  # the total, in the same format as the rows


def test_held_by_and_binding_rules_are_in_words_in_the_table():
    r = run("optimize", SCEN / "fy26_monthly.yaml", "--wide")
    assert r.exit_code == 0, r.output
    assert not RULE_ID.findall(r.stdout), RULE_ID.findall(r.stdout)
    assert "change limit in 2026-12" in r.stdout  # tv's row, held by the December change limit


def test_rule_kinds_read_as_words():
    assert kind_words("tp_max") == "touchpoint maximum"
    assert kind_words("stage_min_share") == "stage minimum share"
    assert kind_words("tp_period_change_up") == "touchpoint period change (up)"


def test_workbooks_name_rules_in_words(tmp_path):
    cmp = tmp_path / "cmp.xlsx"
    r = run("compare", SCEN / "base.yaml", SCEN / "commitments.yaml", "--format", "xlsx", "-o", cmp)
    assert r.exit_code == 0, r.output
    ws = openpyxl.load_workbook(cmp)["Costly rules"]
    head = [c.value for c in ws[1]]
    assert head[:3] == ["scenario", "rule", "kind"] and head[-1] == "rule id"
    for row in ws.iter_rows(min_row=2, values_only=True):
        words = " ".join(str(v) for v in row[:-1] if v is not None)
        assert not RULE_ID.findall(words), row
    review = tmp_path / "review.xlsx"
    r = run("explain", SCEN / "base.yaml", "-o", review, "--sweep-points", "0")
    assert r.exit_code == 0, r.output
    ws = openpyxl.load_workbook(review)["Constraints"]
    kinds = [row[1] for row in ws.iter_rows(min_row=2, values_only=True) if row[1]]
    assert "touchpoint maximum" in kinds and "tp_max" not in kinds


@pytest.mark.parametrize("command", ["optimize", "compare"])
def test_excel_csv_opens_cleanly_and_the_plain_csv_is_unchanged(command, tmp_path):
    args = [SCEN / "base.yaml"] + ([SCEN / "budget_cut.yaml"] if command == "compare" else [])
    plain, excel = tmp_path / "plain.csv", tmp_path / "excel.csv"
    for out, more in ((plain, []), (excel, ["--excel"])):
        subprocess.run(
            [sys.executable, "-m", "optimizer", command, *map(str, args), "--format", "csv"]
            + ["-o", str(out), *more],
            check=True,
            capture_output=True,
            env={"BUDGETOPT_LEDGER": str(tmp_path / "l.sqlite"), "PATH": "/usr/bin:/bin"},
        )
    p, e = plain.read_bytes(), excel.read_bytes()
    assert not p.startswith(b"\xef\xbb\xbf") and b"\r" not in p  # tools read it as before
    assert e.startswith(b"\xef\xbb\xbf")  # Excel: UTF-8
    assert e.count(b"\r\n") == p.count(b"\n")  # every line ends in CRLF
    assert e[3:].replace(b"\r\n", b"\n") == p  # the same values, to the byte
    rows = list(csv.reader(io.StringIO(e.decode("utf-8-sig"), newline="")))
    if command == "compare":
        assert any("Δ" in h for h in rows[0])  # "Δ spend" reads as written


# ------------------------------------------------------------------------------------------------
# the journey's currency
# ------------------------------------------------------------------------------------------------
def _eur_world(tmp_path):
    import json

    import yaml

    from tests.factories import write_tiny_world

    w = write_tiny_world(tmp_path / "w")
    j = yaml.safe_load(w["journey"].read_text())
    w["journey"].write_text(yaml.safe_dump({**j, "currency": "eur"}, sort_keys=False))
    m = json.loads(w["model"].read_text())
    w["model"].write_text(json.dumps({**m, "currency": "EUR"}))
    return w


def test_currency_from_the_journey_reaches_the_model_the_plan_and_every_table(tmp_path):
    import json

    w = _eur_world(tmp_path)
    fitted = tmp_path / "fitted.json"
    r = run("fit", "--journey", w["journey"], "--history", w["history"], "-o", fitted, "-q")
    assert r.exit_code == 0, r.output
    assert json.loads(fitted.read_text())["currency"] == "EUR"  # upper-cased, in model.json
    r = run("optimize", w["scenario"], "--format", "json")
    assert json.loads(r.stdout)["currency"] == "EUR"
    table = run("optimize", w["scenario"]).stdout
    assert (
        "spend (€)" in table and "revenue (€)" not in table
    )  # spend is money; the KPI is not marked
    frontier = run("sweep", w["scenario"], "--budgets", "1e6:2e6:2").stdout
    assert "budget (€)" in frontier
    md = tmp_path / "r.md"
    assert run("explain", w["scenario"], "-o", md, "--sweep-points", "0").exit_code == 0
    text = md.read_text()
    assert "| Budget (€) |" in text and "| spend (€) |" in text
    xlsx = tmp_path / "r.xlsx"
    assert run("explain", w["scenario"], "-o", xlsx, "--sweep-points", "0").exit_code == 0
    ws = openpyxl.load_workbook(xlsx)["Line items"]
    head = [c.value for c in ws[1]]
    k = head.index("spend (€)")
    assert ws.cell(row=2, column=k + 1).number_format.startswith('"€"#,##0')
    kpi = head.index("KPI")
    assert "€" not in ws.cell(row=2, column=kpi + 1).number_format
    # without a currency nothing is marked, as before
    plain = write_tiny_world_plain(tmp_path)
    assert "(€)" not in run("optimize", plain).stdout


def write_tiny_world_plain(tmp_path):
    from tests.factories import write_tiny_world

    return write_tiny_world(tmp_path / "plain")["scenario"]


@pytest.mark.parametrize("bad", ["EURO", "€", 12, "E1R"])
def test_a_bad_currency_is_refused_naming_the_field(bad, tmp_path):
    import yaml

    from tests.factories import write_tiny_world

    w = write_tiny_world(tmp_path / "w")
    j = yaml.safe_load(w["journey"].read_text())
    w["journey"].write_text(yaml.safe_dump({**j, "currency": bad}, sort_keys=False))
    r = run("fit", "--journey", w["journey"], "--history", w["history"], "-o", tmp_path / "m.json")
    assert r.exit_code == 2 and "currency" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "m.json").exists()
