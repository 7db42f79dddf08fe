"""The file contracts' readers (optimizer.io): one rule per shape, whoever reads the file.

The spend-table reader serves a scenario's ``previous:``, ``explain --last-cycle``, actuals and the
long history layout; each bad file below must give the same located message (file, field, row,
value) through every one of them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from optimizer.errors import BudgetOptError, DataError, ScenarioError
from optimizer.explain import read_last_cycle
from optimizer.io.files import atomic_write_text, load_yaml, read_csv_strings
from optimizer.io.spend_tables import read_spend_rows, read_spend_totals
from optimizer.scenario import read_previous
from optimizer.workflow.control import read_actuals


def _write(tmp_path: Path, text: str, name: str = "t.csv") -> Path:
    p = tmp_path / name
    p.write_bytes(text.encode("utf-8"))
    return p


def test_totals_accept_bom_spaces_and_thousands_separators(tmp_path):
    p = _write(tmp_path, '\ufeffid , spend\ntv,"1,250,000.5"\n search ,0\n')
    want = {"tv": 1_250_000.5, "search": 0.0}
    assert read_spend_totals(p) == want
    # the three callers read it alike
    assert read_last_cycle(p) == want
    assert read_previous(p, tmp_path / "s.yaml") == want


@pytest.mark.parametrize(
    "text, needle",
    [
        ("id,spend\ntv,-5\n", "spend must be a non-negative number, got '-5' in row 2"),
        ("id,spend\ntv,12k\n", "got '12k' in row 2"),
        ("id,spend\ntv,\n", "spend is missing in row 2"),
        ("id,spend\ntv,nan\n", "got 'nan' in row 2"),
        ("id,spend\ntv,1\ntv,2\n", "'tv' appears twice (rows 2 and 3)"),
        ("id,spend\n,1\n", "the line item is missing in row 2"),
        ("line,spend\ntv,5\n", "expected a column 'id'"),
        ("", "file is empty"),
    ],
)
def test_bad_totals_are_located_the_same_for_every_caller(tmp_path, text, needle):
    p = _write(tmp_path, text)
    for read, err in (
        (lambda: read_spend_totals(p), DataError),
        (lambda: read_last_cycle(p), DataError),
        (lambda: read_previous(p, tmp_path / "s.yaml"), ScenarioError),
    ):
        with pytest.raises(err) as e:
            read()
        assert needle in str(e.value) and "t.csv" in str(e.value), str(e.value)


def test_unknown_ids_get_a_suggestion(tmp_path):
    p = _write(tmp_path, "id,spend\nserch,5\n")
    with pytest.raises(DataError, match=r"unknown line item 'serch' in row 2 \(did you mean"):
        read_spend_totals(p, ids=["search", "tv"])
    p = _write(tmp_path, "date,touchpoint,spend\n2025-01-06,serch,5\n")
    with pytest.raises(DataError, match=r"unknown touchpoint 'serch' in row 2 \(did you mean"):
        read_spend_rows(p, ids=["search", "tv"])


def test_rows_keep_file_rows_and_amount_rule(tmp_path):
    p = _write(tmp_path, 'date,touchpoint,spend\n2025-01-06,tv,"1,000"\n2025-01-13,tv,5\n')
    df = read_spend_rows(p)
    assert list(df["spend"]) == [1000.0, 5.0] and list(df["row"]) == [2, 3]
    a = read_actuals(p)
    assert a.weeks == 2 and a.total == 1005.0
    with pytest.raises(DataError, match="spend is missing in row 2"):
        read_actuals(_write(tmp_path, "date,touchpoint,spend\n2025-01-06,tv,\n"))


def test_long_history_spend_uses_the_same_rule(tmp_path):
    from optimizer.data import journey_from_dict, read_history

    journey = journey_from_dict(
        {"kpi": "revenue", "touchpoints": [{"id": "tv", "stage": "awareness"}]}
    )
    p = _write(
        tmp_path,
        "date,touchpoint,spend,revenue\n2025-01-06,tv,10,100\n2025-01-13,tv,-1,100\n",
        "h.csv",
    )
    with pytest.raises(DataError, match="non-negative number, got '-1' in row 3"):
        read_history(p, journey)


def test_files_errors_are_located(tmp_path):
    with pytest.raises(DataError, match="the history file does not exist"):
        read_csv_strings(tmp_path / "no.csv", "history")
    with pytest.raises(ScenarioError, match="expected a previous file, got a folder"):
        read_csv_strings(tmp_path, "previous", ScenarioError)
    y = _write(tmp_path, "a: [1, 2\n", "x.yaml")
    with pytest.raises(BudgetOptError, match=r"x.yaml: YAML syntax error at line 2"):
        load_yaml(y)


def test_atomic_write_leaves_the_old_file_on_failure(tmp_path):
    p = atomic_write_text(tmp_path / "a.txt", "old")
    assert oct(os.stat(p).st_mode & 0o777) != "0o600"  # a plain file's permissions, not mkstemp's

    class Boom(str):
        def encode(self, *a, **k):  # noqa: ANN002, ANN003
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write_text(p, Boom("new"))
    assert p.read_text() == "old" and [f.name for f in tmp_path.iterdir()] == ["a.txt"]
