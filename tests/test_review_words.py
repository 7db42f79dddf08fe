"""The review's words agree with its tables and say what is true (reviewer S14 R1, doubts 3, 5
and 6, and the wording of Over budgets and of the phased hurdle column). Every check runs the CLI.

* The tables show whole units that foot (``render.footing``); the sentences quoted the plain
  rounded amount, so the awareness push's page headed "affiliates (purchase): 637,039" above
  "At 637,038 the next dollar returns …". Truth: every spend a line item's section quotes is
  the figure its heading and the line-item table show, to the unit; on a calendar likewise the
  justification table, the line items by period, the owners' tables and "Dropping it".
* A change limit between two months binds both: tv's December (FY26 by month, 35% awareness
  floor) was "held up" by the floor alone while returning more than its bar.
* A curve that starts vertical is unfunded because its first cent returns less than its bar,
  not because its first dollar "returns ∞".
* Over budgets says "at its bar" where the pack labels the line item so.
* The phased justification table's hurdle is the periods' hurdles weighted by spend: said so.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
AWARENESS_PUSH = REPO / "scenarios" / "awareness_push.yaml"


def _explain(scenario: Path, out: Path, fmt: str | None = None, *extra: str) -> str:
    cmd = [sys.executable, "-m", "optimizer", "explain", "-q", "--no-ledger", "-o", str(out)]
    r = subprocess.run(
        cmd + (["--format", fmt] if fmt else []) + list(extra) + [str(scenario)],
        capture_output=True,
        text=True,
        cwd=out.parent,
    )
    assert r.returncode == 0, r.stderr
    return "" if out.suffix == ".xlsx" else out.read_text()


def _num(s: str) -> int:
    return int(s.replace(",", ""))


def _table(md: str, title: str) -> list[list[str]]:
    """The rows of the first Markdown table under ``## title``, split into cells."""
    lines = md.split(f"## {title}\n", 1)[1].splitlines()
    start = next(k for k, ln in enumerate(lines) if ln.startswith("|"))
    stop = next((k for k in range(start, len(lines)) if not lines[k].startswith("|")), len(lines))
    return [[c.strip() for c in r.strip("|").split("|")] for r in lines[start + 2 : stop]]


@pytest.fixture(scope="module")
def awareness_push_md(tmp_path_factory) -> str:
    """``budgetopt explain scenarios/awareness_push.yaml -o ap.md --format md``, made once for
    the tests that read it."""
    return _explain(AWARENESS_PUSH, tmp_path_factory.mktemp("ap") / "ap.md", "md")


def test_sentences_quote_each_spend_as_the_tables_show_it(awareness_push_md):
    md = awareness_push_md
    table = {r[0]: _num(r[2]) for r in _table(md, "Line items") if not r[0].startswith("**")}
    assert len(table) == 14
    sections = re.findall(r"^### (\w+) \([\w ]+\): ([\d,]+), [^\n]*\n(.*?)(?=^##)", md, re.M | re.S)
    assert len(sections) == 14
    quoted = 0
    for tid, heading, body in sections:
        assert _num(heading) == table[tid], (tid, heading, table[tid])
        for at in re.findall(r"At ([\d,]+) the next dollar", body):
            quoted += 1
            assert _num(at) == table[tid], (tid, at, table[tid])
    assert quoted >= 8  # every line item at its bar (8) says where it stops


# ------------------------------------------------------------------------------------------------
# a plan on a calendar: FY26 by month with a 35% awareness share floor (the reviewer's fyf.yaml)
# ------------------------------------------------------------------------------------------------
def _fyf(tmp: Path) -> Path:
    sc = yaml.safe_load((REPO / "scenarios" / "fy26_monthly.yaml").read_text())
    sc["model"] = str(REPO / "optimizer" / "sample" / "true_model.json")
    sc["carryover"]["before"] = str(REPO / "optimizer" / "sample" / "history.csv")
    sc["stages"] = {"awareness": {"min_share": 0.35}}
    path = tmp / "fyf.yaml"
    path.write_text(yaml.safe_dump(sc, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def fyf(tmp_path_factory) -> tuple[str, dict]:
    tmp = tmp_path_factory.mktemp("fyf")
    path = _fyf(tmp)
    md = _explain(path, tmp / "fyf.md", "md")
    doc = json.loads(_explain(path, tmp / "fyf.json", "json"))
    return md, doc["explanation"]


def _sections(md: str, title: str) -> dict[str, str]:
    """Each ``### name`` section's text under ``## title``."""
    part = md.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]
    return {
        s.split("\n", 1)[0].strip(): s.split("\n", 1)[1]
        for s in re.split(r"^### ", part, flags=re.M)[1:]
    }


def test_phased_sentences_quote_spend_and_kpi_as_the_tables_show_them(fyf):
    """The justification table footed its spend and KPI nowhere: affiliates read 4,285,180
    revenue there and 4,285,179 in its owner's table (footed). Truth: a line item's spend is one
    number in the line-items-by-period total, the justification table and its "Dropping it"
    sentence; its KPI one number in its owner's table, the justification table and the drop
    sentence's "of its X"."""
    md, exp = fyf
    why = {r[0]: r for r in _table(md, "Why each line item is where it is")}
    by_period = {}
    for block in md.split("## Line items by period\n", 1)[1].split("\n## ", 1)[0].split("\n\n"):
        rows = [ln for ln in block.splitlines() if ln.startswith("| ")]
        if rows and rows[0].endswith("| total |"):
            by_period.update({c[0]: c[-1] for c in (r.strip("|").split("|") for r in rows[1:])})
    by_period = {k.strip(): _num(v.strip()) for k, v in by_period.items()}
    owners = {}
    for sec in _sections(md, "Budget owners").values():
        for block in sec.split("\n\n"):
            if block.startswith("| line item | stage | spend | revenue |"):
                for ln in block.splitlines()[2:]:
                    cells = [c.strip() for c in ln.strip("|").split("|")]
                    owners[cells[0]] = (_num(cells[2]), _num(cells[3]))
    sections = _sections(md, "Why each line item is where it is")
    assert len(why) == len(exp["items"]) == 14
    checked = 0
    for it in exp["items"]:
        tid = it["id"]
        spend, kpi = _num(why[tid][2]), _num(why[tid][3])
        assert spend == by_period[tid] == owners[tid][0], (tid, spend, by_period[tid], owners[tid])
        assert kpi == owners[tid][1], (tid, kpi, owners[tid])
        freed = re.search(r"for the whole horizon frees ([\d,]+)", sections[tid])
        if it["spend"] > 0.005:
            assert freed and _num(freed.group(1)) == spend, (tid, freed, spend)
            checked += 1
        of_its = re.search(r"the other [\d,]+ of its ([\d,]+)", sections[tid])
        if of_its:
            assert _num(of_its.group(1)) == kpi, (tid, of_its.group(1), kpi)
    assert checked == 14


def test_a_change_limit_binds_both_months_it_ties(fyf):
    """tv's December read "held up" by the awareness floor alone though its next dollar there
    (0.584) returns more than its bar (0.546, the floor counted): the tv change limit from
    November caps December, and was named under November only. Truth, from the JSON's own
    numbers (0.5%, the role tolerance): a funded period held up by share rules alone returns its
    bar; a capped one more than its bar; held up by a rule of its own, less than its bar; and the
    change limit is named in both months it ties."""
    md, exp = fyf
    checked = 0
    for it in exp["items"]:
        for p in it["periods"]:
            if p["spend"] <= 0.005 or p["status"] not in ("held up", "capped"):
                continue
            m, bar = p["marginal"], p["bar"]
            tol = 5e-3 * abs(bar)
            shares = [r for r in p["rules"] if r in p["bar_rules"]]
            if p["status"] == "capped":
                assert m > bar + tol, (it["id"], p["period"], m, bar)
            elif len(shares) == len(p["rules"]):
                assert abs(m - bar) <= tol, (it["id"], p["period"], p["rules"], m, bar)
            else:
                assert m < bar - tol, (it["id"], p["period"], m, bar)
            checked += 1
    assert checked > 30
    tv = {p["period"]: p for p in next(i for i in exp["items"] if i["id"] == "tv")["periods"]}
    limit = "the tv change limit (±50% of the weekly rate in 2026-11) in 2026-12"
    assert tv["2026-12"]["status"] == "capped" and tv["2026-12"]["rules"] == [limit]
    assert tv["2026-11"]["status"] == "held up" and limit in tv["2026-11"]["rules"]
    # the sentence compares December with its bar, not the hurdle (0.584 is not above 0.788)
    why = _sections(md, "Why each line item is where it is")["tv"]
    assert f"Capped by {limit}: its next dollar in 2026-12 would return 0.584 revenue, more " in why
    assert "more than its bar there (0.546, with the awareness stage share floor" in why


def test_the_phased_hurdle_column_says_it_is_spend_weighted(fyf, tmp_path):
    """The justification table's "its hurdle" is the periods' hurdles averaged with the spend
    as weights (tv: 0.808, between its months' 0.788 and 0.898), not one hurdle: its header says
    so in the Markdown, the HTML and the workbook; the JSON keeps its fields."""
    from openpyxl import load_workbook

    md, exp = fyf
    head = next(ln for ln in md.splitlines() if ln.startswith("| line item | role | spend |"))
    assert "| hurdle (spend-weighted) |" in head and "its hurdle" not in head
    tv = next(i for i in exp["items"] if i["id"] == "tv")
    per = [p for p in tv["periods"] if p["spend"] > 0.005]
    weighted = sum(p["spend"] * p["hurdle"] for p in per) / sum(p["spend"] for p in per)
    row = next(r for r in _table(md, "Why each line item is where it is") if r[0] == "tv")
    assert row[6] == f"{weighted:.3f}" and len({round(p["hurdle"], 3) for p in per}) > 1
    # the other formats, on a small calendar (13 weeks by month)
    sc = yaml.safe_load((REPO / "scenarios" / "fy26_monthly.yaml").read_text())
    sc.update(model=str(REPO / "optimizer" / "sample" / "true_model.json"), horizon_weeks=13)
    sc.update(budget=9_000_000, periods={}, touchpoints={})
    sc.pop("carryover")
    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump(sc))
    page = _explain(path, tmp_path / "small.html")
    assert "<th class=num>hurdle (spend-weighted)</th>" in page and "its hurdle<" not in page
    _explain(path, tmp_path / "small.xlsx")
    why = load_workbook(tmp_path / "small.xlsx")["Why"]
    cols = [c.value for c in why[1]]
    assert "hurdle (spend-weighted)" in cols and "its hurdle" not in cols
    doc = json.loads(_explain(path, tmp_path / "small.json"))
    assert "hurdle" in doc["explanation"]["items"][0]  # the contract's field, unchanged


def test_over_budgets_names_the_bar_apart_from_the_hurdle(awareness_push_md):
    """The Over budgets sentences said search "stays at the hurdle" where its heading and table
    say "at its bar" (0.975 against the plan's hurdle 0.833, the awareness floor counted).
    Truth: an item labelled at its bar is said to stay at its bar, and a neighbouring role that
    is interior is worded the same way."""
    md = awareness_push_md
    rows = {r[0]: r for r in _table(md, "Line items") if not r[0].startswith("**")}
    over = dict(re.findall(r"\*\*Over budgets:\*\* (\w+) stays ([^\n]*)", md))
    assert len(over) == 14
    at_bar = [k for k, r in rows.items() if r[7] == "at its bar"]
    assert len(at_bar) == 8
    for tid in at_bar:
        assert over[tid].startswith("at its bar "), (tid, over[tid])
    for tid, text in over.items():
        assert "at the hurdle" not in text, (tid, text)
    assert "(below that: at its bar)" in over["onboarding_email"]


def test_an_unfunded_curve_that_starts_vertical_is_judged_by_its_first_cent(tmp_path):
    """radio at 0.15 of its scale on the awareness push (a hill of shape 0.9: vertical at zero)
    read "Not funded: its first dollar returns ∞ revenue; … it would need a first-dollar return
    of at least 0.565", which contradicts itself. Truth: the plan is in cents, and radio's first
    cent returns, on average, its curve's KPI of 0.01 over 13 weeks per 0.01 (0.432, computed
    here from the model), less than its bar (0.565): that is what the sentence says."""
    from optimizer.response.model import read_model

    model = json.loads((REPO / "optimizer" / "sample" / "true_model.json").read_text())
    model["touchpoints"]["radio"]["curve"]["beta"] *= 0.15
    (tmp_path / "weak_radio.json").write_text(json.dumps(model))
    # the awareness push (base's caps, awareness at least 35% of spend) on that model
    sc = {"extends": str(AWARENESS_PUSH), "model": str(tmp_path / "weak_radio.json")}
    (tmp_path / "apu.yaml").write_text(yaml.safe_dump(sc, sort_keys=False))
    doc = json.loads(_explain(tmp_path / "apu.yaml", tmp_path / "apu.json"))
    it = next(i for i in doc["items"] if i["id"] == "radio")
    assert it["role"] == "unfunded" and it["spend"] == 0.0  # the premise
    tp = read_model(tmp_path / "weak_radio.json").touchpoints["radio"]
    cent = float(tp.horizon_kpi(0.01, 13.0)) / 0.01
    assert float(tp.horizon_marginal(0.0, 13.0)) == float("inf")  # vertical at zero
    assert cent < it["bar"] < it["hurdle"]
    reason = it["reason"]
    assert "∞" not in reason, reason
    assert f"its first cent returns only {cent:.3f} revenue per unit of money on average" in reason
    assert f"a first-cent return of at least {it['bar']:.3f}" in reason


def test_on_a_calendar_a_vertical_start_is_judged_by_its_first_cent(tmp_path):
    """The same weak radio on FY26 by month with the floor read "Not funded, though its first
    dollar in 2026-06, 2026-07, 2026-09 to 2026-12 would return 1.211 to 28.150 revenue …, more
    than the hurdle there …, and no rule on it binds there": the slope at zero, where little
    carry-over is left. Truth (the phased KPI with a cent more in one month, the rest of the
    plan held, computed here): its first cent there returns about 0.37, below its bar (0.544):
    those months are "not funded", and the sentence quotes the first cent."""
    import numpy as np

    from optimizer.allocate.phased import item_kpi, phased_problem
    from optimizer.response.model import read_model
    from optimizer.scenario import load_scenario

    model = json.loads((REPO / "optimizer" / "sample" / "true_model.json").read_text())
    model["touchpoints"]["radio"]["curve"]["beta"] *= 0.15
    (tmp_path / "weak_radio.json").write_text(json.dumps(model))
    path = _fyf(tmp_path)
    sc = yaml.safe_load(path.read_text())
    sc["model"] = str(tmp_path / "weak_radio.json")
    path.write_text(yaml.safe_dump(sc, sort_keys=False))
    doc = json.loads(_explain(path, tmp_path / "fyu.json"))
    radio = next(i for i in doc["explanation"]["items"] if i["id"] == "radio")
    assert radio["role"] == "unfunded"
    per = {p["period"]: p for p in radio["periods"]}
    dec = per["2026-12"]
    assert dec["marginal"] > 20 * dec["bar"]  # the premise: vertical at zero there
    # the first cent in December, the rest of the plan held
    scen = load_scenario(path)
    problem = phased_problem(scen, read_model(scen.model))
    spends = {li["id"]: [p["spend"] for p in li["periods"]] for li in doc["plan"]["line_items"]}
    X = np.array([spends.get(it.key, [0.0] * problem.P) for it in problem.base.items], float)
    i = next(it.index for it in problem.base.items if it.key == "radio")
    Z = X.copy()
    Z[i, 11] += 0.01
    cent = float(item_kpi(problem, Z)[i] - item_kpi(problem, X)[i]) / 0.01
    assert dec["first_cent"] == pytest.approx(cent, rel=1e-6) and cent < dec["bar"]
    for p in radio["periods"]:  # no unfunded month is said to beat what it needs, by no rule
        assert p["status"] == "not funded", (p["period"], p["status"])
        assert p["first_cent"] is None or p["first_cent"] < p["bar"]
    reason = radio["reason"]
    assert "no rule on it binds" not in reason and "28.150" not in reason, reason
    assert "its first cent there returns only" in reason and f"{cent:.3f}" in reason


def test_a_floor_member_capped_by_its_own_maximum_is_capped(tmp_path):
    """Undated, the same mistake as December's tv: on the awareness push with tv's maximum at
    2,150,000, tv's next dollar (0.610) is below the hurdle (0.812) but above its bar (0.508, the
    floor counted), and the review said "Held up by the awareness stage share floor … below the
    hurdle". Truth, from the JSON's numbers: its maximum binds and its return beats its bar, so
    it is capped by its maximum, and the sentence compares with its bar; its money below the
    hurdle is still committed on the ladder by the floor."""
    path = tmp_path / "apt.yaml"
    path.write_text(
        yaml.safe_dump({"extends": str(AWARENESS_PUSH), "touchpoints": {"tv": {"max": 2_150_000}}})
    )
    doc = json.loads(_explain(path, tmp_path / "apt.json"))
    tv = next(i for i in doc["items"] if i["id"] == "tv")
    m, bar, hurdle = tv["marginal_roi"], tv["bar"], tv["hurdle"]
    assert tv["spend"] == pytest.approx(2_150_000, abs=0.01)  # the premise: at its maximum
    assert bar * 1.005 < m < hurdle * 0.995, (m, bar, hurdle)
    assert tv["role"] == "capped" and tv["rules"] == ["tp_max__tv"], (tv["role"], tv["rules"])
    assert f"above its bar of {bar:.3f}" in tv["reason"], tv["reason"]
    assert f"above the hurdle of {hurdle:.3f}" not in tv["reason"]
    below = [
        s
        for s in doc["ladder"]["steps"]
        if s["item"] == "tv" and s["status"] in ("funded", "committed") and s["return_"] < hurdle
    ]
    assert below and all(s["status"] == "committed" for s in below)
