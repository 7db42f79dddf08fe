"""Outputs built from data are safe (issue 14, items 10 and 11).

Ids, names and notes that start with ``=``, ``+``, ``-`` or ``@`` are written as text in CSV and
XLSX (a spreadsheet never runs them as formulas); a touchpoint id with path characters never
writes outside ``fit --plots DIR``.
"""

from __future__ import annotations

import io
import json

from click.testing import CliRunner

from optimizer.cli import cli
from optimizer.sample import true_model_path

EVIL = '=HYPERLINK("http://x","y")'


def world(tmp_path):
    d = json.loads(true_model_path().read_text())
    d["touchpoints"][EVIL] = d["touchpoints"].pop("tv")
    d["touchpoints"]["@SUM(A1)"] = d["touchpoints"].pop("radio")
    m = tmp_path / "model.json"
    m.write_text(json.dumps(d))
    for name, b in (("a", 9_700_000), ("b", 8_000_000)):
        (tmp_path / f"{name}.yaml").write_text(
            f"name: '+{name}'\nmodel: model.json\nhorizon_weeks: 13\nbudget: {b}\n"
        )
    return tmp_path


def test_csv_writes_formula_like_ids_and_names_as_text(tmp_path):
    root = world(tmp_path)
    r = CliRunner().invoke(
        cli, ["optimize", str(root / "a.yaml"), "--format", "csv", "--no-ledger"]
    )
    assert r.exit_code == 0, r.output
    import pandas as pd

    df = pd.read_csv(io.StringIO(r.stdout), dtype=str)
    cells = [c for c in df.to_numpy().ravel().tolist() if isinstance(c, str)]
    assert "'" + EVIL in cells and "'@SUM(A1)" in cells and "'+a" in cells
    assert not any(c.startswith(("=", "+", "@")) for c in cells)


def test_xlsx_writes_formula_like_ids_as_text(tmp_path):
    from openpyxl import load_workbook

    root = world(tmp_path)
    out = root / "c.xlsx"
    args = [
        "compare",
        str(root / "a.yaml"),
        str(root / "b.yaml"),
        "--format",
        "xlsx",
        "-o",
        str(out),
    ]
    r = CliRunner().invoke(cli, [*args, "--no-ledger"])
    assert r.exit_code == 0, r.output
    wb = load_workbook(out)
    seen = False
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (ws.title, cell.coordinate, cell.value)
                seen |= cell.value == EVIL
    assert seen  # the id is there, as text


def test_curve_plots_stay_inside_their_folder(tmp_path):
    from optimizer.render.charts import plot_response_curves
    from optimizer.response.model import model_from_dict

    d = json.loads(true_model_path().read_text())
    d["touchpoints"] = {
        "../../escape": d["touchpoints"]["tv"],
        "a/b": d["touchpoints"]["radio"],
        "a_b": d["touchpoints"]["search"],
    }
    out = tmp_path / "plots"
    written = plot_response_curves(model_from_dict(d), out)
    assert len(written) == 3 and len({p.name for p in written}) == 3
    assert all(p.parent == out for p in written)
    assert sorted(p.name for p in tmp_path.rglob("*.png")) == sorted(p.name for p in written)


# ---- item 11: a set of files is written as a set ----------------------------------------------
def _market_history(markets: list[str], weeks: int = 60) -> str:
    import datetime as dt

    rows = ["date,market,tv,search,revenue"]
    for m in markets:
        for w in range(weeks):
            d = (dt.date(2024, 1, 1) + dt.timedelta(weeks=w)).isoformat()
            rows.append(f"{d},{m},{1000 + 37 * w % 500},{800 + 53 * w % 300},{50000 + 911 * w}")
    return "\n".join(rows) + "\n"


def _fit_by_market(tmp_path, monkeypatch, markets: list[str], beta: float, fail_after=None):
    """``fit --by-market`` in-process with each market's fit replaced by a fixed model (beta
    tells the runs apart); ``fail_after``: the run is interrupted after that many model files
    are written (a kill, a full disk, Ctrl-C: what matters is that it stops midway)."""
    import optimizer.app.fitting as fitting
    from optimizer.response.model import model_from_dict

    model = {
        "kpi": "revenue",
        "period": "week",
        "touchpoints": {
            "tv": {
                "stage": "awareness",
                "curve": {"family": "exponential", "beta": beta, "scale": 1e4},
            },
            "search": {
                "stage": "consideration",
                "curve": {"family": "exponential", "beta": beta, "scale": 2e4},
            },
        },
    }
    monkeypatch.setattr(
        fitting, "_fit_market", lambda task: {"revenue": model_from_dict(model, "fixed")}
    )
    written = []
    from optimizer.response.model import write_model as real_write

    def write(m, path):
        if fail_after is not None and len(written) >= fail_after:
            raise KeyboardInterrupt  # stops the run here
        written.append(path)
        return real_write(m, path)

    monkeypatch.setattr(fitting, "write_model", write)
    j = tmp_path / "journey.yaml"
    j.write_text(
        "kpi: revenue\ntouchpoints:\n- {id: tv, stage: awareness}\n"
        "- {id: search, stage: consideration}\n",
        encoding="utf-8",
    )
    h = tmp_path / "history.csv"
    h.write_text(_market_history(markets), encoding="utf-8")
    args = ["fit", "--journey", str(j), "--history", str(h), "--by-market", "-q"]
    return CliRunner().invoke(cli, [*args, "-o", str(tmp_path / "models")])


def _snapshot(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_an_interrupted_fit_by_market_leaves_the_previous_set_whole(tmp_path, monkeypatch):
    """Run 1 writes north, south; run 2 (north, east) stops after one model file: the folder
    is exactly run 1's set, byte for byte (before the fix: run 2's north.json beside run 1's
    south.json and index — a folder mixing two runs), with nothing of run 2 left beside it.
    Run 3 (north, east) completes: exactly its set, south.json gone, a file of the user's kept."""
    out = tmp_path / "models"
    r = _fit_by_market(tmp_path, monkeypatch, ["north", "south"], beta=1e5)
    assert r.exit_code == 0, r.output
    assert set(_snapshot(out)) == {"markets.json", "north.json", "south.json"}
    (out / "notes.txt").write_text("the user's own file", encoding="utf-8")
    before = _snapshot(out)

    r = _fit_by_market(tmp_path, monkeypatch, ["north", "east"], beta=2e5, fail_after=1)
    assert r.exit_code != 0
    assert _snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["history.csv", "journey.yaml", "models"]

    r = _fit_by_market(tmp_path, monkeypatch, ["north", "east"], beta=2e5)
    assert r.exit_code == 0, r.output
    after = _snapshot(out)
    assert set(after) == {"markets.json", "north.json", "east.json", "notes.txt"}
    assert after["notes.txt"] == before["notes.txt"]
    assert after["north.json"] != before["north.json"]  # run 3's model (beta 2e5), not run 1's
    index = json.loads(after["markets.json"])
    assert set(index["markets"]) == {"north", "east"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["history.csv", "journey.yaml", "models"]


def test_a_folder_set_is_swapped_in_one_step(tmp_path):
    """folder_as_a_set: an error inside the block leaves the target untouched; on success the
    target holds exactly the new files (and the carried ones)."""
    import pytest

    from optimizer.io.files import folder_as_a_set

    target = tmp_path / "set"
    target.mkdir()
    (target / "a").write_text("old a")
    (target / "keep").write_text("mine")
    with pytest.raises(RuntimeError), folder_as_a_set(target) as staged:
        (staged / "a").write_text("new a")
        raise RuntimeError("midway")
    assert _snapshot(target) == {"a": b"old a", "keep": b"mine"}
    with folder_as_a_set(target, carry=lambda name: name != "a") as staged:
        (staged / "b").write_text("new b")
    assert _snapshot(target) == {"b": b"new b", "keep": b"mine"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["set"]


_KILLED_RUN = """
import sys, time
import optimizer.app.fitting as fitting
from optimizer.response.model import model_from_dict, write_model
from optimizer.cli import cli

model = {"kpi": "revenue", "period": "week", "touchpoints": {
    "tv": {"stage": "awareness", "curve": {"family": "exponential", "beta": 7e5, "scale": 1e4}},
    "search": {"stage": "consideration",
               "curve": {"family": "exponential", "beta": 7e5, "scale": 2e4}}}}
fitting._fit_market = lambda task: {"revenue": model_from_dict(model, "fixed")}
done = []

def slow_write(m, path):
    write_model(m, path)
    done.append(path)
    print("wrote", path, flush=True)
    time.sleep(600)  # killed here, one model file into the new set

fitting.write_model = slow_write
cli(sys.argv[1:])
"""


def test_a_fit_by_market_killed_midway_leaves_the_previous_set_whole(tmp_path, monkeypatch):
    """The user's case, in its own process: ``fit --by-market`` killed with SIGKILL after it
    wrote one model file of the new set. The output folder is still the previous run's set,
    byte for byte."""
    import signal
    import subprocess
    import sys

    out = tmp_path / "models"
    r = _fit_by_market(tmp_path, monkeypatch, ["north", "south"], beta=1e5)
    assert r.exit_code == 0, r.output
    before = _snapshot(out)
    (tmp_path / "history.csv").write_text(_market_history(["north", "east"]), encoding="utf-8")
    args = ["fit", "--journey", str(tmp_path / "journey.yaml"), "--history"]
    args += [str(tmp_path / "history.csv"), "--by-market", "-q", "-o", str(out)]
    p = subprocess.Popen(
        [sys.executable, "-c", _KILLED_RUN, *args], stdout=subprocess.PIPE, text=True
    )
    try:
        line = p.stdout.readline()  # the first model file of the new set is written
        assert line.startswith("wrote"), line
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == -signal.SIGKILL
    assert _snapshot(out) == before
