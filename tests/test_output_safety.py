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
