"""Bad input over markets (issue 16, "Must show"), through the CLI as a subprocess.

Each bad input must give one located line on stderr (the file, the field, the value), a non-zero
exit, no traceback, and write nothing: no output file or folder, and a ledger byte for byte as it
was. Market names with path characters, the index's name, dots, Unicode or a length no file
system takes cannot write outside the output folder nor overwrite the index: each market's model
lands in ``models/`` under a file-safe name, and the index keeps the market's own name. Owners
(and markets) appear in every output of a markets plan.

(``tests/test_markets.py`` checks the messages of ``optimize`` alone; here every command that
reads a scenario is run on each bad input, with a ledger and an output file.)
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.test_markets import make_world


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "optimizer", *args], capture_output=True, text=True, cwd=cwd
    )


def _tree(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with the hash of its bytes."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


GOOD = {
    "name": "good",
    "model": "markets.json",
    "budget": 600000,
    "horizon_weeks": 13,
    "owners": {"CRM": {"max": 150000}},
    "markets": {"m1": {"min": 100000}},
}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Four markets' models and their index, a good scenario, and a ledger with one run in it."""
    path = tmp_path_factory.mktemp("markets")
    make_world(path)
    (path / "good.yaml").write_text(yaml.safe_dump(GOOD))
    r = _run(["optimize", "good.yaml", "-q", "--ledger", "ledger.sqlite"], path)
    assert r.returncode == 0, r.stderr
    return path


def _bad_scenarios(path: Path) -> dict[str, tuple[str, list[str]]]:
    """name → (scenario file, what its message must say: file, field, value)."""
    market = {**GOOD, "markets": {"m11": {"min": 100000}}}
    owner = {**GOOD, "owners": {"Crm2": {"max": 1}}}
    scoped = {**GOOD, "markets": {"m1": {"touchpoints": {"t9": {"max": 1}}}}}
    for name, data in (("market", market), ("owner", owner), ("scoped", scoped)):
        (path / f"bad_{name}.yaml").write_text(yaml.safe_dump(data))
    return {
        "market": ("bad_market.yaml", ["bad_market.yaml", "markets.m11", "did you mean 'm1'"]),
        "owner": ("bad_owner.yaml", ["bad_owner.yaml", "owners.Crm2", "'CRM'"]),
        "scoped": ("bad_scoped.yaml", ["bad_scoped.yaml", "markets.m1.touchpoints.t9", "'t9'"]),
    }


COMMANDS = {
    "optimize": ["optimize", "{s}", "--format", "json", "-o", "out/plan.json"],
    "explain": ["explain", "{s}", "-o", "out/pack.xlsx"],
    "compare": ["compare", "good.yaml", "{s}", "--format", "xlsx", "-o", "out/cmp.xlsx"],
    "sweep": ["sweep", "{s}", "--budgets", "300000:600000:3", "-o", "out/sweep.csv"],
}
# every bad input through optimize, the unknown market through every command; the rest of the
# matrix (each a process start, seconds on a loaded machine) in the slow set
CASES = [
    pytest.param(
        bad,
        command,
        marks=() if bad == "market" or command == "optimize" else pytest.mark.slow,
        id=f"{bad}-{command}",
    )
    for bad in ("market", "owner", "scoped")
    for command in COMMANDS
]


@pytest.mark.parametrize(("bad", "command"), CASES)
def test_a_bad_scenario_is_located_and_writes_nothing(world, bad, command):
    """An unknown market ("did you mean"), an unknown owner (the model's owners listed) or a
    touchpoint unknown in a market's scope: every command that reads the scenario stops with
    exit code 2 and one line naming the file, the field and the value; no output is written and
    the ledger is unchanged."""
    scenario, says = _bad_scenarios(world)[bad]
    before = _tree(world)
    args = [a.replace("{s}", scenario) for a in COMMANDS[command]]
    r = _run([*args, "--ledger", "ledger.sqlite"], world)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    for part in says:
        assert part in lines[0], lines[0]
    after = _tree(world)
    assert after == before, set(after) ^ set(before)
    assert not (world / "out").exists()


def test_a_market_model_with_other_touchpoints_is_located_and_writes_nothing(tmp_path):
    """A market whose model lacks one of the journey's touchpoints and has one it lacks: each
    command names the index, the market's field and both touchpoints, and writes nothing."""
    make_world(tmp_path)
    (tmp_path / "good.yaml").write_text(yaml.safe_dump(GOOD))
    assert (
        _run(["optimize", "good.yaml", "-q", "--ledger", "ledger.sqlite"], tmp_path).returncode == 0
    )
    m = json.loads((tmp_path / "m2.json").read_text())
    m["touchpoints"]["extra"] = m["touchpoints"].pop("t1")
    (tmp_path / "m2.json").write_text(json.dumps(m))
    before = _tree(tmp_path)
    for command in COMMANDS.values():
        args = [a.replace("{s}", "good.yaml") for a in command]
        r = _run([*args, "--ledger", "ledger.sqlite"], tmp_path)
        assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
        (line,) = r.stderr.strip().splitlines()
        assert "markets.json" in line and "field 'markets.m2.model'" in line
        assert "lacks 't1'" in line and "'extra'" in line
        assert "the model of market 'm2'" in line  # not "market 'm2''s model"
        assert _tree(tmp_path) == before
    r = _run(["validate", "markets.json"], tmp_path)
    assert r.returncode == 2 and "markets.m2.model" in r.stderr and "Traceback" not in r.stderr


def test_a_touchpoint_owned_by_another_team_in_one_market_is_located(tmp_path):
    """The plan counts each touchpoint under one owner in every market: a market whose model
    gives a touchpoint another owner is an error naming the index, the market and both owners
    (before, the first market's owner was used for all, silently)."""
    make_world(tmp_path)
    (tmp_path / "good.yaml").write_text(yaml.safe_dump(GOOD))
    m = json.loads((tmp_path / "m2.json").read_text())
    m["touchpoints"]["t0"]["owner"] = "CRM"  # Brand's in the other markets
    (tmp_path / "m2.json").write_text(json.dumps(m))
    before = _tree(tmp_path)
    r = _run(["optimize", "good.yaml", "-o", "plan.json", "--ledger", "ledger.sqlite"], tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    (line,) = r.stderr.strip().splitlines()
    assert "markets.json" in line and "field 'markets.m2.model'" in line
    assert "'t0' is owned by 'CRM' in market 'm2' but by 'Brand' in market 'm0'" in line
    assert _tree(tmp_path) == before


@pytest.mark.parametrize("how", ["models", "loop"])
def test_an_index_naming_itself_is_located_not_an_endless_recursion(tmp_path, how):
    """A market's other-KPI model that is the index itself, or a market's model that is another
    index naming this one back: a located error with exit code 2 (before: Python's recursion
    limit, 'internal error: RecursionError', exit code 70)."""
    make_world(tmp_path)
    (tmp_path / "good.yaml").write_text(yaml.safe_dump(GOOD))
    index = json.loads((tmp_path / "markets.json").read_text())
    if how == "models":
        index["markets"]["m1"]["models"] = {"leads": "markets.json"}
        says = ["field 'markets.m1.models.leads'", "the index itself"]
    else:
        other = {"kpi": "revenue", "markets": {"x": {"model": "markets.json"}}}
        (tmp_path / "other.json").write_text(json.dumps(other))
        index["markets"]["m2"]["model"] = "other.json"
        says = ["field 'markets.m2.model'", "names this index again"]
    (tmp_path / "markets.json").write_text(json.dumps(index))
    for args in (["optimize", "good.yaml", "--no-ledger"], ["validate", "markets.json"]):
        r = _run(args, tmp_path)
        assert r.returncode == 2, (r.returncode, r.stderr)
        assert "Traceback" not in r.stderr and "internal error" not in r.stderr
        line = r.stderr.strip().splitlines()[-1]
        assert "markets.json" in line and all(x in line for x in says), line


# ---- fit --by-market: names of markets, and the output folder ------------------------------------
def _history(markets: list[str], weeks: int = 60) -> str:
    """Weekly spend on two touchpoints and a revenue that answers them, per market."""
    import numpy as np

    rng = np.random.default_rng(4)
    rows = ["date,market,tv,search,revenue"]
    for m in markets:
        tv = rng.uniform(5_000, 15_000, weeks)
        se = rng.uniform(2_000, 8_000, weeks)
        rev = 80_000 + 3 * tv + 5 * se + rng.normal(0, 2_000, weeks)
        for w in range(weeks):
            d = str(np.datetime64("2024-01-01") + np.timedelta64(7 * w, "D"))
            rows.append(f"{d},{m},{tv[w]:.2f},{se[w]:.2f},{rev[w]:.2f}")
    return "\n".join(rows) + "\n"


JOURNEY = (
    "kpi: revenue\ntouchpoints:\n- {id: tv, stage: awareness, owner: Brand}\n"
    "- {id: search, stage: consideration, owner: Performance}\n"
)
FIT = ["fit", "--journey", "journey.yaml", "--history", "history.csv", "--by-market"]
FIT += ["--bootstrap", "0", "--no-pool", "--holdout", "0", "-q"]


def _fit_folder(tmp: Path, markets: list[str]) -> Path:
    (tmp / "journey.yaml").write_text(JOURNEY, encoding="utf-8")
    (tmp / "history.csv").write_text(_history(markets), encoding="utf-8")
    return tmp


LONG = "n" * 300


def test_market_names_with_path_characters_stay_in_the_output_folder(tmp_path):
    """Markets named like the index, with slashes, dots, Unicode, a Windows device name and 300
    characters: the fit writes each market's model inside models/ (nothing else anywhere), under
    a file name of its own that keeps letters of any script, the index is the index and lists
    every market by its own name, and a plan reads them all back."""
    names = ["markets", "../x", "a/b", ".", "Zürich", "東京", "con", LONG]
    _fit_folder(tmp_path, names)
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "notes.txt").write_text("mine", encoding="utf-8")
    r = _run([*FIT, "-o", "models"], tmp_path)
    assert r.returncode == 0, r.stderr
    files = sorted(_tree(tmp_path))
    models = sorted(f for f in files if f.startswith("models/"))
    assert sorted(set(files) - set(models)) == ["history.csv", "journey.yaml"]
    index = json.loads((tmp_path / "models" / "markets.json").read_text(encoding="utf-8"))
    assert sorted(index["markets"]) == sorted(names)
    written = {m: e["model"] for m, e in index["markets"].items()}
    assert len(set(written.values())) == len(names)  # one file each
    assert "markets.json" not in written.values() and all("/" not in f for f in written.values())
    assert written["Zürich"] == "Zürich.json" and written["東京"] == "東京.json"
    assert written["markets"] == "market_markets.json" and written["con"] == "market_con.json"
    assert written["."] == "market.json" and written["../x"] == "x.json"
    assert len(written[LONG].encode()) <= 110 and written[LONG].startswith("nnnn")
    assert sorted(models) == sorted(
        ["models/markets.json", "models/notes.txt", *(f"models/{f}" for f in written.values())]
    )
    from optimizer.response.model import read_model

    mm = read_model(tmp_path / "models" / "markets.json")
    assert sorted(mm.names) == sorted(names)


@pytest.mark.parametrize(
    ("names", "says"),
    [
        (
            ["North", "north"],
            ["history.csv", "field 'market'", "'North' and 'north'", "north.json"],
        ),
        ([".", "market"], ["history.csv", "field 'market'", "'.' and 'market'", "market.json"]),
        (["Zürich", "ZÜRICH"], ["history.csv", "field 'market'", "'ZÜRICH' and 'Zürich'"]),
        ([LONG, LONG + "x"], None),  # two long names stay apart: no error
    ],
)
def test_market_names_that_would_share_a_file_are_located_before_fitting(tmp_path, names, says):
    _fit_folder(tmp_path, names)
    before = _tree(tmp_path)
    r = _run([*FIT, "-o", "models"], tmp_path)
    if says is None:
        assert r.returncode == 0, r.stderr
        return
    assert r.returncode == 2 and "Traceback" not in r.stderr
    (line,) = r.stderr.strip().splitlines()
    for part in says:
        assert part in line, line
    assert _tree(tmp_path) == before and not (tmp_path / "models").exists()


def test_a_missing_market_name_is_located(tmp_path):
    _fit_folder(tmp_path, ["north", "south"])
    text = (tmp_path / "history.csv").read_text().replace(",south,", ",,", 1)
    (tmp_path / "history.csv").write_text(text)
    r = _run([*FIT, "-o", "models"], tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    (line,) = r.stderr.strip().splitlines()
    assert "history.csv" in line and "field 'market'" in line and "row 62" in line
    assert not (tmp_path / "models").exists()


@pytest.mark.parametrize("out", [".", "..", "sub/..", "sub/../."])
def test_an_output_folder_holding_the_current_folder_is_refused_before_fitting(tmp_path, out):
    """The set of models replaces its folder as a whole: ``-o .`` (or a folder above the current
    one) would swap the user's working folder away. Before: '.' failed after the whole fit with
    'Device or resource busy' and left a '..*.old' folder behind; '..' and 'sub/..' copied the
    staging folder into itself until the path was too long."""
    work = tmp_path / "work"
    (work / "sub").mkdir(parents=True)
    _fit_folder(work, ["north", "south"])
    before = _tree(tmp_path)
    r = _run([*FIT, "-o", out], work)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    (line,) = r.stderr.strip().splitlines()
    assert line.startswith(f"error: {Path(out)}: this is the current folder"), line
    assert _tree(tmp_path) == before
    assert sorted(p.name for p in work.iterdir()) == ["history.csv", "journey.yaml", "sub"]


# ---- owners (and markets) in every output of a markets plan -------------------------------------
def test_owners_and_markets_in_every_output(world, tmp_path):
    """The table, JSON and CSV of optimize; compare's table, CSV and workbook; the review pack in
    Markdown, HTML, JSON and its workbook: each shows every line item's owner and market and the
    totals by owner and by market, and the totals add up to the plan's."""
    import openpyxl

    w = world
    (w / "b.yaml").write_text(yaml.safe_dump({**GOOD, "name": "b", "budget": 500000}))
    owners = {"Brand", "Performance", "E-commerce", "CRM"}
    markets = {"m0", "m1", "m2", "m3"}

    r = _run(["optimize", "good.yaml", "--no-ledger"], w)
    assert r.returncode == 0, r.stderr
    assert "by owner" in r.stdout and "by market" in r.stdout
    assert all(o in r.stdout for o in owners)

    out = json.loads(_run(["optimize", "good.yaml", "--format", "json", "--no-ledger"], w).stdout)
    assert {li["owner"] for li in out["line_items"]} == owners
    assert {x["owner"] for x in out["owners"]} == owners
    assert sum(x["spend"] for x in out["owners"]) == pytest.approx(out["total_spend"], abs=0.05)

    csv = _run(["optimize", "good.yaml", "--format", "csv", "--no-ledger"], w).stdout.splitlines()
    head = csv[0].split(",")
    assert "owner" in head and "market" in head
    assert {row.split(",")[head.index("owner")] for row in csv[1:]} == owners

    r = _run(["compare", "good.yaml", "b.yaml", "--no-ledger"], w)
    assert "spend by owner" in r.stdout and "spend by market" in r.stdout
    csv = _run(["compare", "good.yaml", "b.yaml", "--format", "csv", "--no-ledger"], w).stdout
    rows = csv.splitlines()
    assert rows[0] == "line_item,stage,good,b,Δ b,market,owner"
    first = rows[1].split(",")
    assert first[0] == f"t0@{first[5]}" and first[6] == "Brand"
    cmp = tmp_path / "cmp.xlsx"
    r = _run(
        ["compare", "good.yaml", "b.yaml", "--format", "xlsx", "-o", str(cmp), "--no-ledger"], w
    )
    assert r.returncode == 0, r.stderr
    wb = openpyxl.load_workbook(cmp)
    head = [c.value for c in wb["Line items"][1]]
    assert head[:4] == ["line item", "stage", "market", "owner"]
    stages = list(wb["Stages"].iter_rows(values_only=True))
    firsts = [row[0] for row in stages]
    assert "Markets" in firsts and "Budget owners" in firsts
    by_owner = {row[0]: row[1] for row in stages[firsts.index("Budget owners") + 2 :] if row[0]}
    assert set(by_owner) == owners
    assert sum(by_owner.values()) == pytest.approx(out["total_spend"], abs=0.05)
    by_market = {
        row[0]: row[1]
        for row in stages[firsts.index("Markets") + 2 : firsts.index("Budget owners")]
        if row[0]
    }
    assert set(by_market) == markets
    assert sum(by_market.values()) == pytest.approx(out["total_spend"], abs=0.05)

    for fmt in ("md", "html", "json", "xlsx"):
        pack = tmp_path / f"pack.{fmt}"
        r = _run(["explain", "good.yaml", "-o", str(pack), "--no-ledger", "-q"], w)
        assert r.returncode == 0, r.stderr
        if fmt == "xlsx":
            wb = openpyxl.load_workbook(pack)
            assert {row[0] for row in wb["Owners"].iter_rows(min_row=2, values_only=True)} == owners
            continue
        text = pack.read_text(encoding="utf-8")
        assert all(o in text for o in owners) and all(m in text for m in markets), fmt
    md = (tmp_path / "pack.md").read_text(encoding="utf-8")
    assert "## Budget owners" in md and all(f"### {o}" in md for o in owners)


@pytest.mark.parametrize(
    ("split", "says"),
    [
        ({"m0": -1, "m1": 2}, "the split of 't0': the weight of market 'm0' must be a number >= 0"),
        ({"m0": 0, "m1": 0}, "the split of 't0': the weights must not all be zero"),
        ("", "the split of 't0': expected a key of the markets index"),
    ],
)
def test_a_bad_national_split_names_its_touchpoint(split, says):
    from optimizer.errors import ScenarioError
    from optimizer.scenario import scenario_from_dict

    data = {**GOOD, "national": {"t0": split}}
    with pytest.raises(ScenarioError) as e:
        scenario_from_dict(data, source="s.yaml")
    assert "s.yaml" in str(e.value) and "field 'national'" in str(e.value)
    assert says in str(e.value)
