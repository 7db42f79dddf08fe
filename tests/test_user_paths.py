"""Defects a new user hit on the paths users take (an adversarial pass over the CLI, run as a
subprocess): each test states the input, the answer it got before the fix, and checks the answer
a user gets now (exit code, the file, the field and the value in one line, no traceback, nothing
written on failure)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from optimizer.sample import history_path, journey_path, true_model_path

BIN = [sys.executable, "-m", "optimizer"]


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "BUDGETOPT_LEDGER": str(cwd / "ledger.sqlite")}
    return subprocess.run(
        [*BIN, *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=120, env=env
    )


def one_line_error(r: subprocess.CompletedProcess, *needles: str, code: int = 2) -> str:
    assert r.returncode == code, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr
    text = r.stderr.strip()
    assert "\n" not in text, f"more than one line: {text!r}"
    for n in needles:
        assert n in text, f"{n!r} not in {text!r}"
    return text


def scenario(tmp_path: Path, body: str) -> Path:
    p = tmp_path / "s.yaml"
    p.write_text(f"name: s\nmodel: {true_model_path()}\nhorizon_weeks: 13\n{body}")
    return p


# ---- scenario: the budget --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("-5", "the budget must not be negative, got -5"),
        ("lots", "the budget must be an amount of money, got 'lots'"),
        (".nan", "the budget must be finite, got nan"),
    ],
)
def test_a_bad_bare_budget_names_the_field_the_user_wrote(tmp_path, value, words):
    """`budget: -5` said "field 'budget.max'" (the form the bare amount is turned into): the
    user wrote `budget`. The mapping form still names its own key."""
    sc = scenario(tmp_path, f"budget: {value}\n")
    text = one_line_error(run("optimize", sc, "--no-ledger", cwd=tmp_path), str(sc), words)
    assert "field 'budget':" in text and "budget.max" not in text
    sc = scenario(tmp_path, f"budget: {{max: {value}}}\n")
    one_line_error(run("validate", sc, cwd=tmp_path), "field 'budget.max':", words)


def test_amounts_in_exponent_form_are_numbers(tmp_path):
    """`budget: 9.7e6` was refused as "must be an amount of money, got '9.7e6'": PyYAML (YAML
    1.1) reads exponents without a dot and sign as strings. YAML 1.2 and JSON read them as
    numbers; so does budgetopt now. The truth: the same plan as `budget: 9700000`."""

    def plan(budget: str) -> subprocess.CompletedProcess:
        sc = scenario(tmp_path, f"budget: {budget}\n")
        r = run("optimize", sc, "--format", "json", "--no-ledger", cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        return r

    plain, exp = plan("9700000"), plan("9.7e6")
    assert json.loads(exp.stdout)["total_spend"] == 9_700_000.0
    assert exp.stdout == plain.stdout
    # a quoted amount stays text, and is refused as before
    sc = scenario(tmp_path, "budget: '9.7e6'\n")
    one_line_error(run("validate", sc, cwd=tmp_path), "field 'budget':", "got '9.7e6'")


# ---- journey: one part per history column ----------------------------------------------------
@pytest.mark.parametrize(
    ("journey", "field", "words"),
    [
        (
            "kpi: revenue\ncontrols: [revenue]\ntouchpoints:\n  - {id: tv, stage: awareness}\n",
            "controls[0]",
            "column 'revenue' is already the KPI",
        ),
        (
            "kpi: tv\ntouchpoints:\n  - {id: tv, stage: awareness}\n",
            "touchpoints[0].id",
            "column 'tv' is already the KPI",
        ),
        (
            "kpi: revenue\ntouchpoints:\n  - {id: tv, stage: awareness}\n"
            "  - {id: tv2, stage: awareness, spend_column: tv}\n",
            "touchpoints[1].spend_column",
            "column 'tv' is already the spend column of touchpoint 'tv'",
        ),
        (
            "kpi: revenue\ncontrols: [tv]\ntouchpoints:\n  - {id: tv, stage: awareness}\n",
            "controls[0]",
            "column 'tv' is already the spend column of touchpoint 'tv'",
        ),
        (
            "kpi: revenue\nkpis:\n  - {id: leads, value: 40}\n  - {id: leads, column: l2}\n"
            "touchpoints:\n  - {id: tv, stage: awareness}\n",
            "kpis[1].id",
            "KPI 'leads' is listed twice",
        ),
    ],
)
def test_a_column_with_two_parts_in_the_journey_is_refused_before_fitting(
    tmp_path, journey, field, words
):
    """`fit` fitted these and wrote a model (exit 0): the KPI explained by itself as a control,
    the KPI column also a touchpoint's spend, one spend column counted as two touchpoints. Now
    each is refused, naming the field, and no model file is written."""
    j = tmp_path / "journey.yaml"
    j.write_text(journey)
    out = tmp_path / "model.json"
    r = run("fit", "--journey", j, "--history", history_path(), "-o", out, "-q", cwd=tmp_path)
    one_line_error(r, str(j), f"field '{field}'", words)
    assert not out.exists()
    one_line_error(run("validate", j, cwd=tmp_path), f"field '{field}'", words)


def test_the_sample_journey_with_a_valued_main_kpi_is_still_valid(tmp_path):
    """`kpis:` may give the main KPI a value per unit (its own column): not a second part."""
    text = (
        journey_path()
        .read_text()
        .replace("kpi: revenue\n", "kpi: revenue\nkpis:\n  - {id: revenue, value: 1.0}\n")
    )
    j = tmp_path / "journey.yaml"
    j.write_text(text)
    r = run("validate", j, cwd=tmp_path)
    assert r.returncode == 0, r.stderr


# ---- history: a column named twice --------------------------------------------------------------
def test_a_history_column_named_twice_is_an_error(tmp_path):
    """A header with `tv` twice passed `validate` and `fit` (pandas renamed the second `tv.1`,
    silently left out). Now: one line naming the column and both positions."""
    df = pd.read_csv(history_path())
    df.insert(2, "tv_again", df["tv"] * 2)
    text = df.to_csv(index=False).replace("tv_again", "tv", 1)
    h = tmp_path / "history.csv"
    h.write_text(text)
    r = run("validate", h, "--journey", journey_path(), cwd=tmp_path)
    one_line_error(r, str(h), "field 'tv'", "column 'tv' appears twice", "columns 2 and 3")


# ---- words: the draws are not a bootstrap unless they are ---------------------------------------
def test_the_cli_and_the_review_say_draws_not_bootstrap_draws(tmp_path):
    """`optimize --help` and the review pack said "bootstrap draws" although `fit` stores Laplace
    draws around the fit unless lift tests calibrate it (diagnostics.uncertainty.method).
    The truth checked: no "bootstrap" in optimize's help nor in the review pack and the
    uncertainty table of a model with draws; `fit --help` names both kinds."""
    from tests.factories import write_review_world

    w = write_review_world(tmp_path / "w", draws=6)
    help_text = run("optimize", "--help", cwd=tmp_path).stdout
    assert "draws" in help_text and "bootstrap" not in help_text.lower()
    fit_help = " ".join(run("fit", "--help", cwd=tmp_path).stdout.split())
    assert "Laplace draws around the fit" in fit_help
    md = tmp_path / "review.md"
    r = run("explain", w["scenario"], "-o", md, "--sweep-points", "0", "--no-ledger", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    text = md.read_text()
    assert "Over the model's draws the plan's" in text and "draws of the model its" in text
    assert "bootstrap" not in text.lower()
    r = run("optimize", w["scenario"], "--uncertainty", "--no-ledger", "-q", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "plan uncertainty over 6 draws of the model" in r.stdout
    assert "bootstrap" not in (r.stdout + r.stderr).lower()


# ---- calendar (contract 7): dates and period labels as YAML reads them ---------------------------
def test_a_start_shaped_like_a_date_that_is_none_is_a_located_error(tmp_path):
    """`start: 2027-02-30` was an internal error (exit 70: PyYAML's date constructor raised a
    bare ValueError while parsing). Now the field's own check refuses it by name."""
    sc = scenario(tmp_path, "budget: 5000000\nstart: 2027-02-30\nphasing: month\n")
    one_line_error(
        run("optimize", sc, "--no-ledger", cwd=tmp_path),
        str(sc),
        "field 'start': expected an ISO date such as 2027-01-04, got '2027-02-30'",
    )


def test_an_unquoted_week_label_is_the_weeks_label(tmp_path):
    """Contract 7 labels a week by its Monday (`2027-01-11`); unquoted, YAML reads it as a date and
    the scenario was refused with "field 'periods.datetime.date(2027, 1, 11).[key]': Input should
    be a valid string". The truth: the week's cap holds (its spend is at most 5,000), on the
    top-level periods and a touchpoint's, and the plan equals the one with the labels quoted."""
    plans = []
    for label in ("2027-01-11", "'2027-01-11'"):
        sc = tmp_path / "s.yaml"
        sc.write_text(
            f"name: s\nmodel: {true_model_path()}\nhorizon_weeks: 8\nbudget: 500000\n"
            f"start: 2027-01-04\nphasing: week\nperiods:\n  {label}: {{max: 5000}}\n"
            f"touchpoints:\n  tv: {{periods: {{{label}: {{max: 1000}}}}}}\n"
        )
        r = run("optimize", sc, "--format", "json", "--no-ledger", "-q", cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        plans.append(r.stdout)
    assert plans[0] == plans[1]
    plan = json.loads(plans[0])
    week = {p["period"]: p["spend"] for p in plan["periods"]}
    assert week["2027-01-11"] <= 5000.0
    tv = next(li for li in plan["line_items"] if li["id"] == "tv")
    assert {p["period"]: p["spend"] for p in tv["periods"]}["2027-01-11"] <= 1000.0


def test_malformed_period_labels_say_what_is_wrong(tmp_path):
    """`2027-13`, `2027-02-30` and a Tuesday were all answered "is not in the plan's horizon"."""
    body = (
        "budget: 500000\nstart: 2027-01-04\nphasing: week\n"
        "periods:\n  2027-13: {max: 5}\n  2027-02-30: {max: 5}\n  2027-01-12: {max: 5}\n"
    )
    text = one_line_error(
        run("validate", scenario(tmp_path, body), cwd=tmp_path),
        "field 'periods.2027-13': 2027-13 is not a month (months run 01 to 12)",
        "field 'periods.2027-02-30': 2027-02-30 is not a date",
        "field 'periods.2027-01-12': a week is labelled by its Monday: 2027-01-12 is a Tuesday "
        "(its week's Monday is 2027-01-11)",
    )
    assert "horizon" not in text


# ---- replan: actuals that leave nothing to re-plan from, or nothing to re-plan -------------------
def _monthly(tmp_path: Path) -> Path:
    """A copy of the sample's dated, monthly scenario (52 weeks from 2026-01-05), no carry-over."""
    from optimizer.sample import scenarios_dir

    text = (scenarios_dir() / "fy26_monthly.yaml").read_text()
    text = text.replace("../true_model.json", str(true_model_path()))
    text = text.replace("before: ../history.csv", "before: null")
    sc = tmp_path / "fy26.yaml"
    sc.write_text(text)
    return sc


@pytest.mark.parametrize(
    ("weeks", "words"),
    [
        (
            [-52],
            "the actuals hold no week of the cycle: their last week (2025-01-06) is before its "
            "start (2026-01-05)",
        ),
        (range(52), "the actuals cover the whole cycle (52 weeks, 2026-01-05 to 2027-01-03)"),
    ],
)
def test_replan_on_actuals_outside_the_cycle_names_the_actuals(tmp_path, weeks, words):
    """Actuals all dated before a dated cycle's start were answered "<scenario>: field
    'horizon_weeks': weeks elapsed must be at least 1 … got 0", pointing at a scenario field
    the user never got wrong; actuals over the whole cycle likewise. Now the actuals file and its
    dates are named, and no output is written."""
    import datetime as dt

    start = dt.date(2026, 1, 5)
    rows = [f"{start + dt.timedelta(weeks=w)},tv,1000" for w in weeks]
    actuals = tmp_path / "actuals.csv"
    actuals.write_text("date,touchpoint,spend\n" + "\n".join(rows) + "\n")
    out = tmp_path / "replan.json"
    r = run("replan", _monthly(tmp_path), "--actuals", actuals, "-o", out, "-q", cwd=tmp_path)
    one_line_error(r, str(actuals), "field 'date'", words)
    assert not out.exists()
    if len(rows) == 1:  # the option given out of range is named as the option
        r = run(
            "replan",
            _monthly(tmp_path),
            "--actuals",
            actuals,
            "--weeks-elapsed",
            "0",
            cwd=tmp_path,
        )
        one_line_error(r, "field '--weeks-elapsed'", "got 0")


# ---- sweep: infeasible budgets say why ---------------------------------------------------------
def test_a_sweep_names_the_rules_that_make_its_low_budgets_infeasible(tmp_path):
    """`sweep scenarios/commitments.yaml --budgets 0:10000000:6` printed "infeasible" at 0 and
    2,000,000 with no reason (the locks of 2,000,000 and 450,000 need 2,450,000). The truth:
    the locks named under the table, and in each infeasible point of the JSON."""
    from optimizer.sample import scenarios_dir

    sc = tmp_path / "commitments.yaml"
    for name in ("base.yaml", "commitments.yaml"):
        text = (scenarios_dir() / name).read_text()
        (tmp_path / name).write_text(text.replace("../true_model.json", str(true_model_path())))
    args = ("sweep", sc, "--budgets", "0:4000000:3", "--no-ledger")
    r = run(*args, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    text = " ".join(r.stdout.split())
    assert "Infeasible at 0 and 2,000,000; at 2,000,000:" in text
    assert "the tv lock (2,000,000)" in text and "the loyalty_programme lock (450,000)" in text
    r = run(*args, "--format", "json", cwd=tmp_path)
    points = json.loads(r.stdout)["points"]
    assert [p["status"] for p in points] == ["infeasible", "infeasible", "optimal"]
    assert "the loyalty_programme lock (450,000)" in points[1]["message"]
    assert "message" not in points[2]


# ---- the phased review pack, as a browser lays it out ------------------------------------------
CHROMIUM = Path("/usr/bin/chromium")
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="/usr/bin/chromium is absent (.ci/run installs it)"
)


def _fy26(tmp_path: Path, weekly: bool = False) -> Path:
    """The sample's fy26_monthly.yaml as a user runs it (its carry-over from the sample history);
    ``weekly``: the same year decided week by week (its month-labelled rules left out)."""
    from optimizer.sample import scenarios_dir

    text = (scenarios_dir() / "fy26_monthly.yaml").read_text()
    text = text.replace("../true_model.json", str(true_model_path()))
    text = text.replace("../history.csv", str(history_path()))
    if weekly:
        text = text.replace("phasing: month", "phasing: week")
        text = "\n".join(
            line
            for line in text.splitlines()
            if not line.startswith(("periods:", "  2026-Q3", "  tv:", "  radio:"))
        )
    sc = tmp_path / ("fy26_weekly.yaml" if weekly else "fy26.yaml")
    sc.write_text(text + "\n")
    return sc


@pytest.fixture(scope="module")
def fy26_review(tmp_path_factory: pytest.TempPathFactory):
    """``fy26_review(weekly, suffix)``: the review pack of the sample's year (by month, or by week)
    as ``budgetopt explain S -o review.SUFFIX`` writes it, made once for the tests that read it
    (each explain of the year is several seconds; the tests only read the page)."""
    tmp = tmp_path_factory.mktemp("fy26_review")
    made: dict[tuple[bool, str], Path] = {}

    def review(weekly: bool, suffix: str) -> Path:
        if (weekly, suffix) not in made:
            page = tmp / f"review_{'week' if weekly else 'month'}.{suffix}"
            r = run("explain", _fy26(tmp, weekly), "-o", page, "-q", "--no-ledger", cwd=tmp)
            assert r.returncode == 0, r.stderr
            made[weekly, suffix] = page
        return made[weekly, suffix]

    return review


def _layout(tmp_path: Path, page: Path, width: int, script: str) -> object:
    """Run ``script`` (which sets ``probe``) on ``page`` in headless Chromium at ``width`` px and
    return ``probe`` as JSON: the browser's own layout, not an estimate."""
    import html as html_lib
    import re

    probe = (
        f"<script>let probe=null;{script};"
        "document.body.setAttribute('data-probe',JSON.stringify(probe));</script>"
    )
    shown = tmp_path / f"probe_{width}.html"
    shown.write_text(page.read_text(encoding="utf-8").replace("</body>", probe + "</body>"))
    out = subprocess.run(
        [
            str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}", f"--window-size={width},2000",
            "--dump-dom", shown.resolve().as_uri(),
        ],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    m = re.search(r'data-probe="([^"]*)"', out.stdout)
    assert m, out.stdout[-2000:]
    return json.loads(html_lib.unescape(m.group(1)))


@pytest.mark.slow
@needs_chromium
def test_the_phased_review_owner_tables_keep_rows_a_few_lines_high(tmp_path, fy26_review):
    """`explain fy26_monthly.yaml -o review.html`: in each budget owner's table (a dozen period
    columns, then "held by") the browser squeezed "held by" to one word a line, so tv's row was
    about 150 px high (seen in a 1280-px screenshot). The truth, measured by Chromium's own
    layout at 1280 px: every row of those tables at most 60 px high (12-px type: four lines)."""
    page = fy26_review(False, "html")
    heights = _layout(
        tmp_path,
        page,
        1280,
        "probe=[...document.querySelectorAll('table')]"
        ".filter(t=>t.rows[0]&&t.rows[0].textContent.includes('held by'))"
        ".flatMap(t=>[...t.rows].slice(1).map(r=>r.getBoundingClientRect().height))",
    )
    assert isinstance(heights, list)
    assert len(heights) == 14  # the sample's 14 line items, over the four owners
    assert max(heights) <= 60, heights


@pytest.mark.slow
@needs_chromium
@pytest.mark.parametrize("width", [1024, 1280])
@pytest.mark.parametrize("weekly", [False, True], ids=["month", "week"])
def test_the_phased_review_tables_fit_the_page(tmp_path, fy26_review, width, weekly):
    """Each budget owner's table of a phased review (12 month columns, then spend, KPI, ROI,
    marginal ROI and "held by") was 1,560-1,635 px wide in a 1,100-px page: a planner scrolled
    sideways to see what held a line item (seen in 1280- and 1024-px screenshots), and the line
    items by period (1,104 px) scrolled at 1024 px. The truth, from Chromium's layout at the
    width of a laptop's window: no table is wider than the page's text, so nothing scrolls
    sideways (1 px of rounding allowed), for a year by month and by week (52 columns)."""
    page = fy26_review(weekly, "html")
    got = _layout(
        tmp_path,
        page,
        width,
        "const b=document.body,cs=getComputedStyle(b),"
        "right=b.getBoundingClientRect().right-parseFloat(cs.paddingRight);"
        "probe={page:document.scrollingElement.scrollWidth,window:document.scrollingElement"
        ".clientWidth,right:right,tables:[...document.querySelectorAll('table')]"
        ".map(t=>[t.rows[0].textContent.slice(0,40),t.getBoundingClientRect().right,"
        "t.parentElement.scrollWidth-t.parentElement.clientWidth])}",
    )
    assert isinstance(got, dict)
    assert got["page"] <= got["window"], got["page"]
    too_wide = [t for t in got["tables"] if t[1] > got["right"] + 1 or t[2] > 1]
    assert not too_wide, (got["right"], too_wide)
    assert len(got["tables"]) >= 10


def _tables(page: str) -> list[list[list[str]]]:
    """Every table of an HTML page as rows of cell texts (the standard library's parser)."""
    from html.parser import HTMLParser

    tables: list[list[list[str]]] = []

    class P(HTMLParser):
        cell: list[str] | None = None

        def handle_starttag(self, tag, attrs):
            if tag == "table":
                tables.append([])
            elif tag == "tr":
                tables[-1].append([])
            elif tag in ("td", "th"):
                self.cell = []

        def handle_endtag(self, tag):
            if tag in ("td", "th") and self.cell is not None:
                tables[-1][-1].append("".join(self.cell).strip())
                self.cell = None

        def handle_data(self, data):
            if self.cell is not None:
                self.cell.append(data)

    P().feed(page)
    return tables


def test_the_phased_review_shows_every_period_in_tables_of_a_few_columns(tmp_path, fy26_review):
    """The year by week (52 periods) as a planner reads it in the review page: every table has
    at most 7 period columns (so it fits a 1024-px window: see the browser test above) and at
    most 11 columns in all, yet nothing is lost: each line item's spend in each week is in the
    line items by period and in its owner's section, the same in both and to the dollar as the
    plan's JSON has it (whole units that foot: the cents rounded down or up, docs/cli.md), and
    each owner's table still says what each line item buys and what holds it."""

    def near(cells: list[str], amount: float) -> bool:  # one amount, within a unit of the cents
        return len(set(cells)) == 1 and abs(float(cells[0].replace(",", "")) - amount) < 1

    sc = _fy26(tmp_path, weekly=True)
    r = run("optimize", sc, "--format", "json", "--no-ledger", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    plan = json.loads(r.stdout)
    page = fy26_review(True, "html")
    labels = {p["period"] for p in plan["periods"]}
    assert len(labels) == 52
    seen: dict[tuple[str, str], list[str]] = {}
    held = {}
    for t in _tables(page.read_text(encoding="utf-8")):
        head = t[0]
        assert len(head) <= 11, head
        cols = [j for j, h in enumerate(head) if h in labels]
        assert len(cols) <= 7, head
        if head[-1] == "held by":
            held.update({row[0]: row for row in t[1:]})
        if head[0] != "line item":
            continue
        for row in t[1:]:
            for j in cols:
                seen.setdefault((row[0], head[j]), []).append(row[j])
    for li in plan["line_items"]:
        assert near([held[li["id"]][2]], li["spend"])  # its spend, beside what holds it
        for p in li["periods"]:
            # the line items by period, and its owner's spend by week
            cells = seen[(li["id"], p["period"])]
            assert len(cells) == 2 and near(cells, p["spend"]), (li["id"], p, cells)
    # the Markdown pack the same way (it was one table of 55 columns)
    md = fy26_review(True, "md")
    seen_md: dict[tuple[str, str], list[str]] = {}
    head: list[str] = []
    for line in md.read_text(encoding="utf-8").splitlines():
        if not line.startswith("|"):
            head = []
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        if not head:
            head = cells
            assert len(head) <= 12 and sum(h in labels for h in head) <= 7, head
        elif head[0] == "line item" and not set(cells[0]) <= set("-:"):
            for h, c in zip(head, cells, strict=True):
                if h in labels:
                    seen_md.setdefault((cells[0], h), []).append(c)
    for li in plan["line_items"]:
        for p in li["periods"]:
            cells = seen_md[(li["id"], p["period"])]
            assert len(cells) == 2 and near(cells, p["spend"]), (li["id"], p, cells)


def test_the_fit_table_says_not_identifiable_once():
    """`fit` on a history where tv never spends printed "not identifiable; not identifiable: no
    spend in any week of the history" in tv's notes (the render layer added the flag before the
    fit's own warning, which says it with the reason)."""
    from optimizer.render.diagnostics import diagnostics_renderable
    from optimizer.render.tables import render_text
    from optimizer.response.model import model_from_dict
    from tests.factories import TINY_MODEL

    d = json.loads(json.dumps(TINY_MODEL))
    d["touchpoints"]["tv"]["diagnostics"] = {
        "identifiable": False,
        "warnings": ["not identifiable: no spend in any week of the history"],
    }
    d["touchpoints"]["search"]["diagnostics"] = {"identifiable": False}
    text = render_text(diagnostics_renderable(model_from_dict(d)), width=200)
    tv = next(line for line in text.splitlines() if line.strip().startswith("tv "))
    assert tv.count("not identifiable") == 1 and "no spend in any week" in tv
    search = next(line for line in text.splitlines() if line.strip().startswith("search "))
    assert "not identifiable" in search


# ---- a scenario's model that does not exist names the scenario and its field ----------------------
@pytest.mark.parametrize("command", ["validate", "optimize", "compare", "sweep", "explain"])
def test_a_missing_model_names_the_scenario_and_its_field(tmp_path, command):
    """`model: nope.json` was answered "<folder>/nope.json: the model file does not exist",
    naming neither the scenario that names it nor its field. Now every command that reads it
    names both, and the path it looked at; `--model` still overrides a missing one."""
    sc = tmp_path / "s.yaml"
    sc.write_text("name: s\nmodel: nope.json\nhorizon_weeks: 13\nbudget: 1000000\n")
    args = {
        "validate": ["validate", sc],
        "optimize": ["optimize", sc, "--no-ledger"],
        "compare": ["compare", sc, sc, "--no-ledger"],
        "sweep": ["sweep", sc, "--budgets", "1:2:2", "--no-ledger"],
        "explain": ["explain", sc, "-o", tmp_path / "r.md", "--no-ledger"],
    }[command]
    one_line_error(
        run(*args, cwd=tmp_path),
        f"{sc}: field 'model': the model file it names does not exist: {tmp_path / 'nope.json'}",
    )
    if command == "optimize":
        r = run(*args, "--model", true_model_path(), "-q", cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        other = tmp_path / "k.yaml"
        other.write_text(
            f"name: k\nmodel: {true_model_path()}\nhorizon_weeks: 13\nbudget: 1000000\n"
            "models:\n  leads: leads.json\n"
        )
        one_line_error(
            run("optimize", other, "--no-ledger", cwd=tmp_path),
            f"{other}: field 'models.leads': the model file it names does not exist",
        )


# ---- money: what a plan must spend exactly is a whole number of cents ---------------------------
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("budget: 1000000\ntouchpoints:\n  tv: {lock: 100000.005}\n", "touchpoints.tv.lock"),
        ("budget: {exactly: 1000000.005}\n", "budget.exactly"),
    ],
)
def test_an_amount_spent_exactly_must_be_whole_cents(tmp_path, body, field):
    """A lock of 100,000.005 was planned at 100,000.01 (the lock's own row reported slack
    -0.005: broken by half a cent after rounding), and an exact budget of 1,000,000.005 spent
    1,000,000.00, with exit 0. Every plan is in cents, so the amount is refused by name; whole
    cents with float noise (0.1 + 0.2) are not."""
    sc = scenario(tmp_path, body)
    one_line_error(
        run("optimize", sc, "--no-ledger", "-q", cwd=tmp_path),
        f"field '{field}'",
        "must be a whole number of cents",
        "100000.005" if "lock" in field else "1000000.005",
    )
    for noisy in (".3", ".30000000000000004"):  # 30 cents, written plainly or as 0.1 + 0.2 is
        ok = scenario(tmp_path, body.replace(".005", noisy))
        r = run("optimize", ok, "--no-ledger", "-q", "--format", "json", cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        plan = json.loads(r.stdout)
        spent = {li["id"]: li["spend"] for li in plan["line_items"]}
        assert (spent["tv"] if "lock" in field else plan["total_spend"]) == (
            100000.3 if "lock" in field else 1000000.3
        )


def test_a_sweep_of_an_exact_budget_spends_whole_cents(tmp_path):
    """`sweep` of a scenario with `budget: {exactly: …}` over 0:1000000:7 asks for 166,666.666…;
    the point is the exact budget rounded to the cent, and its plan spends exactly that."""
    sc = scenario(tmp_path, "budget: {exactly: 1000000}\n")
    r = run("sweep", sc, "--budgets", "0:1000000:7", "--format", "json", "--no-ledger", "-q",
            cwd=tmp_path)  # fmt: skip
    assert r.returncode == 0, r.stderr
    points = json.loads(r.stdout)["points"]
    assert [p["budget"] for p in points[:3]] == [0.0, 166666.67, 333333.33]
    assert all(p["total_spend"] == p["budget"] for p in points)


def test_optimize_says_a_cluster_option_is_not_used_without_uncertainty(tmp_path):
    """`optimize s.yaml --scheduler tcp://127.0.0.1:9` (nothing listens there) printed the plan
    with no word that the option did nothing: only --uncertainty's draws run on a cluster."""
    sc = scenario(tmp_path, "budget: 1000000\n")
    r = run("optimize", sc, "--scheduler", "tcp://127.0.0.1:9", "--no-ledger", "-q", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "warning: --workers and --scheduler run the draws of --uncertainty" in " ".join(
        r.stderr.split()
    )
    r = run("optimize", sc, "--no-ledger", "-q", cwd=tmp_path)
    assert r.returncode == 0 and "warning" not in r.stderr


def test_a_lift_test_given_twice_is_refused(tmp_path):
    """`fit --calibration` took a lifts file with one row pasted twice (exit 0): the experiment
    counted twice in the fit. Now: one line naming both rows, and no model written."""
    lifts = tmp_path / "lifts.csv"
    lifts.write_text(
        "touchpoint,start,end,spend_delta,kpi_lift,kpi_lift_se\n"
        "tv,2023-05-29,2023-06-19,48000,62400,5300\n"
        "social,2023-08-14,2023-09-04,36900,27800,3700\n"
        "tv,2023-05-29,2023-06-19,48000.0,62400,5300\n"
    )
    out = tmp_path / "model.json"
    r = run(
        "fit", "--journey", journey_path(), "--history", history_path(), "--calibration", lifts,
        "-o", out, "-q", cwd=tmp_path,
    )  # fmt: skip
    one_line_error(
        r, str(lifts), "field 'touchpoint'", "row 4: the same lift test as row 2 (touchpoint 'tv'"
    )
    assert not out.exists()


def test_aggregate_writes_sums_of_cents_without_binary_noise(tmp_path):
    """`aggregate` wrote weekly sums of daily cents as 158679.27999999997 (pandas' repr of the
    float sum). The truth: each weekly spend is the sum of its seven daily amounts to the cent,
    written with at most two decimals."""
    pytest.importorskip("dask.dataframe")
    import datetime as dt

    j = tmp_path / "journey.yaml"
    j.write_text("kpi: revenue\ntouchpoints:\n  - {id: tv, stage: awareness}\n")
    days = [dt.date(2024, 1, 1) + dt.timedelta(days=k) for k in range(21)]
    amounts = [22668.61, 22668.61, 22668.61, 22668.61, 22668.61, 22668.61, 22668.62] * 3
    daily = tmp_path / "daily.csv"
    daily.write_text(
        "date,tv,revenue\n"
        + "".join(
            f"{d},{a},{1000.1 * (k + 1):.2f}\n"
            for k, (d, a) in enumerate(zip(days, amounts, strict=True))
        )
    )
    out = tmp_path / "weekly.csv"
    r = run("aggregate", daily, "--journey", j, "-o", out, "-q", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    lines = out.read_text().splitlines()
    assert lines[0] == "date,tv,revenue" and len(lines) == 4
    for line in lines[1:]:
        for cell in line.split(",")[1:]:
            assert len(cell.partition(".")[2]) <= 2, line
    assert lines[1].split(",")[1] == "158680.28"  # 6 × 22,668.61 + 22,668.62


def test_demo_into_a_file_or_an_impossible_folder_is_a_clean_error(tmp_path):
    """`demo --out afile` (a file) and `demo --out /proc/nope` were internal errors (exit 70,
    FileExistsError / FileNotFoundError from mkdir). Now one line naming the path, exit 2,
    before any work, and the file is untouched."""
    f = tmp_path / "afile"
    f.write_text("keep\n")
    one_line_error(run("demo", "--out", f, "-q", cwd=tmp_path), str(f), "expected a folder here")
    assert f.read_text() == "keep\n"
    one_line_error(
        run("demo", "--out", "/proc/nope", "-q", cwd=tmp_path),
        "/proc/nope: field '--out': cannot make the folder",
    )


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (
            ["--plots", "afile"],
            "afile: field '--plots': expected a folder here, but this is a file",
        ),
        (["--plots", "/proc/nope/x"], "/proc/nope/x: field '--plots': cannot make the folder"),
        (["-o", "afile/m.json"], "field '-o': cannot write:"),
        (["-o", "."], "field '-o': expected a file here, but this is a folder"),
    ],
)
def test_fit_checks_where_it_writes_before_fitting(tmp_path, args, words):
    """`fit … -o model.json --plots afile` (a file) fitted for the whole run, wrote model.json,
    then failed on the first plot (exit 2 with a model written: half a result). Now the outputs
    are checked before the fit, and nothing is written."""
    (tmp_path / "afile").write_text("keep\n")
    out = ["-o", "model.json"] if args[0] != "-o" else []
    r = run(
        "fit", "--journey", journey_path(), "--history", history_path(), *out, *args, "-q",
        "--bootstrap", "0", cwd=tmp_path,
    )  # fmt: skip
    one_line_error(r, words)
    assert not (tmp_path / "model.json").exists()
    assert (tmp_path / "afile").read_text() == "keep\n"


def test_a_broken_line_item_in_a_plan_file_is_named_in_a_short_line(tmp_path):
    """`track plan.json …` with one line item's spend edited to "x" printed the whole line item
    (its periods: 2,000 characters) in the error. Now the values at fault only."""
    sc = scenario(tmp_path, "budget: 1000000\n")
    plan = tmp_path / "plan.json"
    r = run("optimize", sc, "--format", "json", "-o", plan, "--no-ledger", "-q", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    d = json.loads(plan.read_text())
    d["line_items"][0]["spend"] = "x"
    d["line_items"][0]["notes"] = "n" * 5000
    plan.write_text(json.dumps(d))
    actuals = tmp_path / "actuals.csv"
    actuals.write_text("date,touchpoint,spend\n2027-01-04,tv,1000\n")
    text = one_line_error(
        run("track", plan, actuals, cwd=tmp_path),
        "field 'line_items[0]'",
        f"got id {d['line_items'][0]['id']!r}, spend 'x'",
    )
    assert len(text) < 300, text


def test_a_variant_naming_an_unknown_touchpoint_is_located_and_validate_agrees(tmp_path):
    """A variant `a: {touchpoints: {tvv: {max: 1}}}` passed `validate` (exit 0) while `compare`
    refused it with "field 'touchpoints.tvv'", a field of the scenario's own that was fine. Now
    both say `field 'variants.a.touchpoints.tvv'`, word for word; the variant-free plan of the
    same file still optimizes."""
    sc = scenario(
        tmp_path, "budget: 5000000\nvariants:\n  a: {touchpoints: {tvv: {max: 1}}}\n  b: {}\n"
    )
    words = "field 'variants.a.touchpoints.tvv': unknown touchpoint 'tvv' (did you mean 'tv'?)"
    c = one_line_error(run("compare", sc, "--no-ledger", "-q", cwd=tmp_path), str(sc), words)
    v = one_line_error(run("validate", sc, cwd=tmp_path), str(sc), words)
    assert c == v
    r = run("optimize", sc, "--no-ledger", "-q", cwd=tmp_path)
    assert r.returncode == 0, r.stderr


def test_a_line_item_a_binding_cap_leaves_unfunded_is_not_said_to_be_under_the_hurdle(tmp_path):
    """`explain regions/national.yaml` (the README's markets example) said of loyalty_programme
    at north "Not funded: even its first dollar returns 0.655 revenue, less than the hurdle of
    0.588": false (0.655 > 0.588); the CRM team's cap bound, giving its money to the team's
    other line items. Here: TINY_MODEL, search and email under a 50,000 group cap; email's
    first dollar (3 a unit: beta · lam / 2) beats the budget's hurdle but search's margin under
    the cap is higher, so email gets nothing. The truth checked: the sentence names the cap and
    never calls the first dollar "less than the hurdle"."""
    import yaml

    from tests.factories import TINY_MODEL

    (tmp_path / "model.json").write_text(json.dumps(TINY_MODEL))
    sc = tmp_path / "s.yaml"
    sc.write_text(
        yaml.safe_dump(
            {
                "name": "s",
                "model": "model.json",
                "horizon_weeks": 13,
                "budget": 2_000_000,
                "groups": {"direct": {"members": ["search", "email"], "max": 50_000}},
            }
        )
    )
    plan = json.loads(
        run("optimize", sc, "--format", "json", "--no-ledger", "-q", cwd=tmp_path).stdout
    )
    email = next(li for li in plan["line_items"] if li["id"] == "email")
    budget = next(c for c in plan["constraints"] if c["name"] == "budget")
    assert email["spend"] == 0.0 and email["marginal_roi"] > budget["shadow_price"]
    md = tmp_path / "review.md"
    r = run("explain", sc, "-o", md, "--sweep-points", "0", "--no-ledger", "-q", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    why = next(line for line in md.read_text().splitlines() if "Why is email not funded?" in line)
    assert "less than the hurdle" not in why
    assert "above the plan's hurdle" in why and "the 'direct' group cap (50,000) binds" in why


def test_a_min_spend_review_does_not_speak_of_a_budget_it_has_none_of(tmp_path):
    """`explain` of an `objective: min_spend` scenario (no budget) said "The last dollar in
    returns 1.378 revenue: the budget's shadow price"."""
    sc = scenario(tmp_path, "objective: min_spend\nkpi_target: 15000000\n")
    md = tmp_path / "r.md"
    r = run("explain", sc, "-o", md, "--sweep-points", "0", "--no-ledger", "-q", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    head = md.read_text().split("## Summary")[0]
    assert "budget's shadow price" not in head
    assert "the return at which the target is met at least cost (there is no budget)" in head


# ---- sweep --plot ------------------------------------------------------------------------------
def test_sweep_plot_that_is_not_a_png_is_refused_before_the_sweep(tmp_path):
    """`sweep --plot x.txt` swept, then wrote PNG bytes under the name x.txt. Now: one line
    naming --plot and the file, exit 2, before any solve: nothing written, no run in the ledger.
    A .png name still writes the chart (PNG signature checked)."""
    s = scenario(tmp_path, "budget: 9700000\n")
    r = run("sweep", s, "--budgets", "1000000:2000000:3", "--plot", "x.txt", cwd=tmp_path)
    one_line_error(r, "--plot", "x.txt", ".png")
    assert not (tmp_path / "x.txt").exists()
    assert not (tmp_path / "ledger.sqlite").exists()
    ok = run("sweep", s, "--budgets", "1000000:2000000:3", "--plot", "f.png", cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert (tmp_path / "f.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ---- track: a dated plan's start -------------------------------------------------------------
@pytest.mark.parametrize(
    ("start", "words"),
    [("2027-01-05", "got '2027-01-05' (a Tuesday)"), ("soon", "got 'soon'")],
)
def test_track_refuses_a_plan_whose_start_is_not_a_monday(
    tmp_path, _monthly_plan_file, start, words
):
    """Contract 7: a dated plan's weeks run Monday to Sunday from its `start`. A hand-edited
    plan starting on a Tuesday was tracked as if its weeks began that day; now it is one line
    naming the plan's `start` and the value, exit 2. The plan as written still tracks. (The
    plan: `optimize --format json` of a monthly scenario from 2027-01-04, ``_monthly_plan_file``,
    written once for this module and copied here as written.)"""
    (tmp_path / "plan.json").write_bytes(_monthly_plan_file.read_bytes())
    plan = json.loads((tmp_path / "plan.json").read_text())
    assert plan["start"] == "2027-01-04"
    tid = plan["line_items"][0]["id"]
    (tmp_path / "a.csv").write_text(f"date,touchpoint,spend\n2027-01-04,{tid},1000\n")
    ok = run("track", "plan.json", "a.csv", cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    plan["start"] = start
    (tmp_path / "bad.json").write_text(json.dumps(plan))
    bad = run("track", "bad.json", "a.csv", cwd=tmp_path)
    one_line_error(bad, "bad.json", "'start'", words)


# ---- the infeasibility diagnosis suggests one move when one suffices ---------------------------
@pytest.mark.parametrize(
    ("rules", "fix", "also", "fixed"),
    [
        (  # two floors against a budget of 0: was "raise the budget (0) by 120,000 and lower
            # the search minimum (10,000) by 10,000"
            "touchpoints:\n  tv: {min: 120000}\n  search: {min: 10000}\n",
            "raise the budget (0) by 130,000",
            ["the tv minimum (120,000)"],
            "budget: 130000\n",
        ),
        (  # a lock, two stage floors: was two moves as well
            "touchpoints:\n  onboarding_email: {lock: 5000}\n"
            "stages:\n  awareness: {min: 80000}\n  consideration: {min: 80000}\n",
            "raise the budget (0) by 165,000",
            ["the onboarding_email lock (5,000)", "the awareness stage floor (80,000)"],
            "budget: 165000\n",
        ),
        (  # a KPI floor: was "lower the revenue floor (100,000) by 100,001", past 0
            "kpi_floors: {revenue: 100000}\n",
            "lower the revenue floor (100,000) by 100,000",
            [],
            None,
        ),
    ],
    ids=["two-floors", "a-lock-and-stage-floors", "a-kpi-floor"],
)
def test_a_zero_budget_conflict_gets_one_move_that_resolves_it(tmp_path, rules, fix, also, fixed):
    """`optimize` of a scenario with `budget: 0` and floors: exit 3, one line naming the
    conflicting rules (the budget among them) and exactly one suggested move, the one that makes
    the whole scenario feasible (checked by applying it: the scenario then solves, exit 0); a
    move larger than the named conflict asks names the other rules it satisfies too."""
    sc = scenario(tmp_path, f"budget: 0\n{rules}")
    text = one_line_error(run("optimize", sc, "--no-ledger", cwd=tmp_path), str(sc), code=3)
    assert "the budget (0)" in text.split("cannot")[0], text
    _, _, repair = text.partition("; to resolve it, for example ")
    assert repair.startswith(fix), text
    assert repair.count(" by ") == 1 and " and lower " not in repair, text  # one move
    for rule in also:
        assert rule in repair.split(fix)[1], text
    if not also:
        assert repair == fix, text
    if fixed:
        sc.write_text(sc.read_text().replace("budget: 0\n", fixed))
        r = run("optimize", sc, "--format", "json", "--no-ledger", cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["status"] == "optimal"


# ---- model.json: its free-form sections must be mappings ---------------------------------------
@pytest.mark.parametrize(
    ("where", "value", "field"),
    [
        ("top", {"fit": "yes"}, "fit"),
        ("top", {"diagnostics": [1, 2]}, "diagnostics"),
        ("tv", {"diagnostics": 7}, "touchpoints.tv.diagnostics"),
    ],
)
@pytest.mark.parametrize("command", ["validate", "optimize", "explain"])
def test_a_model_whose_fit_or_diagnostics_is_not_a_mapping_is_located(
    tmp_path, where, value, field, command
):
    """A model.json with `"fit": "yes"` (or `diagnostics` a list, or a touchpoint's a number)
    was "internal error: ValueError: dictionary update sequence element #0 …", exit 70, from
    every command that reads it. Now one line naming the file, the field and the value, exit 2;
    a model with the sections absent (an older or hand-written file) still plans."""
    from tests.factories import TINY_MODEL

    d = json.loads(json.dumps(TINY_MODEL))
    (d if where == "top" else d["touchpoints"][where]).update(value)
    model = tmp_path / "model.json"
    model.write_text(json.dumps(d))
    sc = tmp_path / "s.yaml"
    sc.write_text(f"name: s\nmodel: {model}\nhorizon_weeks: 13\nbudget: 100000\n")
    args = {
        "validate": ["validate", model],
        "optimize": ["optimize", sc, "--no-ledger"],
        "explain": ["explain", sc, "-o", tmp_path / "r.md", "--no-ledger"],
    }[command]
    got = repr(next(iter(value.values())))
    one_line_error(run(*args, cwd=tmp_path), str(model), f"field '{field}'", f"got {got}")
    assert not (tmp_path / "r.md").exists()
    d.pop("fit", None), d.pop("diagnostics", None), d["touchpoints"]["tv"].pop("diagnostics", None)
    model.write_text(json.dumps(d))
    r = run("optimize", sc, "--no-ledger", "--format", "json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr


# ---- track: a hand-edited plan file whose calendar or line items do not hold together ----------
def _edit_first(d: dict, key: str, value: object) -> None:
    d["line_items"][0]["periods"][0][key] = value


@pytest.fixture(scope="module")
def _monthly_plan_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The plan file `optimize --format json` writes for a monthly scenario from 2027-01-04 (13
    weeks, 9.7M), made once for the module: the tests of hand-edited plans copy it."""
    tmp_path = tmp_path_factory.mktemp("monthly_plan_file")
    s = scenario(tmp_path, "budget: 9700000\nstart: 2027-01-04\nphasing: month\n")
    r = run("optimize", s, "--format", "json", "-o", "plan.json", "--no-ledger", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    return tmp_path / "plan.json"


@pytest.fixture(scope="module")
def _monthly_plan(tmp_path_factory: pytest.TempPathFactory, _monthly_plan_file: Path) -> dict:
    """A phased plan as `optimize --format json` writes it, and proof that it tracks as written
    (exit 0): made once for the hand-edited cases below (each edits its own copy)."""
    tmp_path = tmp_path_factory.mktemp("monthly_plan")
    (tmp_path / "plan.json").write_bytes(_monthly_plan_file.read_bytes())
    plan = json.loads((tmp_path / "plan.json").read_text())
    assert len(plan["periods"]) == 3 and len(plan["line_items"]) == 14
    (tmp_path / "a.csv").write_text("date,touchpoint,spend\n2027-01-04,tv,1000\n")
    ok = run("track", "plan.json", "a.csv", cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    return plan


@pytest.mark.parametrize(
    ("edit", "field", "words"),
    [
        (  # was "internal error: ValueError: could not convert string to float: 'x'", exit 70
            lambda d: _edit_first(d, "spend", "x"),
            "line_items[0].periods[0]",
            "spend 'x'",
        ),
        (  # was "internal error: TypeError: string indices must be integers", exit 70
            lambda d: d["line_items"][0].__setitem__("periods", "x"),
            "line_items[0].periods",
            "got 'x'",
        ),
        (  # the rest were tracked, exit 0, on a calendar that did not add up
            lambda d: d["line_items"][0].__setitem__("periods", d["line_items"][0]["periods"][:1]),
            "line_items[0].periods",
            "in each of the plan's 3 periods, got 1 periods",
        ),
        (lambda d: _edit_first(d, "weeks", 0), "line_items[0].periods[0]", "weeks 0"),
        (
            lambda d: _edit_first(d, "spend", d["line_items"][0]["periods"][0]["spend"] + 1000),
            "line_items[0].spend",
            "its periods' spend adds up to",
        ),
        (lambda d: d.__setitem__("horizon_weeks", 10), "periods", "cover 13 weeks"),
        (lambda d: d.__setitem__("phasing", "fortnight"), "phasing", "got 'fortnight'"),
        (lambda d: d["line_items"][0].__setitem__("spend", -5), "line_items[0].spend", "got -5"),
        (
            lambda d: d["line_items"].append(d["line_items"][0]),
            "line_items[14].id",
            "is listed twice (line items 1 and 15)",
        ),
        (  # was blamed on the actuals: "a.csv: field 'touchpoint': unknown touchpoint 'tv'"
            lambda d: d.__setitem__("line_items", []),
            "line_items",
            "the plan has no line items",
        ),
    ],
    ids=[
        "period-spend-text", "periods-text", "periods-short", "period-weeks-0",
        "periods-do-not-add-up", "horizon-vs-periods", "phasing", "negative-spend",
        "line-item-twice", "no-line-items",
    ],
)  # fmt: skip
def test_track_refuses_a_plan_file_that_does_not_hold_together(
    tmp_path, _monthly_plan, edit, field, words
):
    """`track plan.json actuals.csv` of a phased plan that `optimize --format json` wrote, edited
    by hand: one line naming the plan file, the field and the value, exit 2; the plan as
    written still tracks (exit 0, in the fixture)."""
    plan = json.loads(json.dumps(_monthly_plan))  # this case's own copy
    (tmp_path / "a.csv").write_text("date,touchpoint,spend\n2027-01-04,tv,1000\n")
    edit(plan)
    (tmp_path / "bad.json").write_text(json.dumps(plan))
    bad = run("track", "bad.json", "a.csv", cwd=tmp_path)
    one_line_error(bad, "bad.json", f"field '{field}'", words)


# ---- model.json: draws are joint across touchpoints ---------------------------------------------
@pytest.mark.parametrize("key", ["draws", "interval_draws"])
def test_a_model_whose_touchpoints_have_different_numbers_of_draws_is_refused(tmp_path, key):
    """Draw k of every touchpoint belongs together (docs/file-formats.md). A hand-edited model
    with 2 draws for search and 3 for tv was planned by `--robust mean` "over the model's 2
    draws", tv's third dropped without a word. Now one line naming the file, the touchpoint's
    field and both counts, exit 2; with the same number for each it plans (exit 0), and a
    touchpoint with none is still fine (its point curve stands in)."""
    from tests.factories import TINY_MODEL

    d = json.loads(json.dumps(TINY_MODEL))

    def draws(tid: str, n: int) -> list:
        tp = d["touchpoints"][tid]
        return [
            {k: v for k, v in tp.items() if k in ("curve", "adstock")}
            | {"curve": {**tp["curve"], "beta": tp["curve"]["beta"] * (0.9 + 0.1 * i)}}
            for i in range(n)
        ]

    d["touchpoints"]["tv"]["draws"] = draws("tv", 3)
    d["touchpoints"]["search"]["draws"] = draws("search", 3)
    d["touchpoints"]["tv"][key] = draws("tv", 3)
    d["touchpoints"]["search"][key] = draws("search", 2)
    model = tmp_path / "model.json"
    model.write_text(json.dumps(d))
    sc = tmp_path / "s.yaml"
    sc.write_text(f"name: s\nmodel: {model}\nhorizon_weeks: 13\nbudget: 100000\n")
    r = run("optimize", sc, "--robust", "mean", "--no-ledger", cwd=tmp_path)
    one_line_error(
        r, str(model), f"field 'touchpoints.search.{key}'", "2 draws, but tv has 3", "joint draw"
    )
    d["touchpoints"]["search"][key] = draws("search", 3)
    d["touchpoints"]["email"].pop(key, None)  # none for email: fine
    model.write_text(json.dumps(d))
    r = run("optimize", sc, "--robust", "mean", "--no-ledger", "--format", "json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr


# ---- track: the wrong kind of file where the plan or the actuals go -----------------------------
def test_track_names_a_folder_or_a_csv_given_as_its_plan(tmp_path):
    """`track FOLDER actuals.csv` said "the plan file does not exist" of a folder that exists;
    `track plan.json FOLDER` "expected a actuals file"; `track plan.csv …` (the CSV optimize
    also writes) "not valid JSON: Expecting value" without saying what a plan file is. Each is
    one line naming the path, exit 2."""
    (tmp_path / "d").mkdir()
    s = scenario(tmp_path, "budget: 1000000\n")
    r = run("optimize", s, "--format", "json", "-o", "plan.json", "--no-ledger", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    r = run("optimize", s, "--format", "csv", "-o", "plan.csv", "--no-ledger", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    (tmp_path / "a.csv").write_text("date,touchpoint,spend\n2027-01-04,tv,1000\n")
    one_line_error(
        run("track", "d", "a.csv", cwd=tmp_path), "d:", "expected a plan file, got a folder"
    )
    one_line_error(
        run("track", "plan.json", "d", cwd=tmp_path), "d:", "expected an actuals file, got a folder"
    )
    one_line_error(
        run("track", "plan.csv", "a.csv", cwd=tmp_path),
        "plan.csv:",
        "not valid JSON (a plan file is what optimize --format json writes)",
    )
