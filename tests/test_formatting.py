"""The one formatting module: each format's rule, stated as the text it must give.

The truths are the strings a reader sees; the edge cases are the ones the old duplicates got
wrong (``-0``, ``+0``, ``+nan``, ``-0.0%``).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from optimizer.formatting import (
    compact,
    csv_text,
    delta,
    did_you_mean,
    finite,
    jsonable,
    money,
    number,
    ratio,
    share,
    to_json,
)


@pytest.mark.parametrize(
    "v, never, small, any_",
    [
        (1234567.0, "1,234,567", "1,234,567", "1,234,567"),
        (1234567.25, "1,234,567", "1,234,567", "1,234,567.25"),
        (50000.5, "50,000", "50,000", "50,000.50"),  # no cents beside thousands in a table
        (86.4, "86", "86.40", "86.40"),  # a small amount keeps its cents in a table
        (0.04, "0", "0.04", "0.04"),  # a line item of 0.04 is not shown as nothing
        (2.5, "2", "2.50", "2.50"),  # half-even, like format()
        (99.996, "100", "100", "100"),  # within half a cent of a whole unit
        (-0.001, "0", "0", "0"),  # never "-0"
        (-1234.0, "-1,234", "-1,234", "-1,234"),
        (None, "–", "–", "–"),
        (math.nan, "–", "–", "–"),
        (math.inf, "∞", "∞", "∞"),
        (-math.inf, "–", "–", "–"),
    ],
)
def test_money(v, never, small, any_):
    assert money(v) == never
    assert money(v, "small") == small
    assert money(v, "any") == any_


def test_delta_is_signed_in_whole_units_and_zero_when_it_rounds_to_nothing():
    assert delta(1234.4) == "+1,234"
    assert delta(-1234.6) == "-1,235"
    assert delta(-1234.6, minus="−") == "−1,235"
    # the old table format printed "+0" here, and "+nan" for a missing delta
    assert delta(0.3) == "0"
    assert delta(-0.4) == "0"
    assert delta(math.nan) == "–"
    assert delta(None) == "–"


def test_ratio_and_share():
    assert ratio(1.23456) == "1.235"
    assert ratio(1.23456, 2) == "1.23"
    assert ratio(math.inf) == "∞"
    assert ratio(None) == ratio(math.nan) == "–"
    assert share(0.125) == "12.5%"
    assert share(0.125, signed=True) == "+12.5%"
    assert share(-0.125, signed=True) == "-12.5%"
    assert share(-0.0001) == "0.0%"  # never "-0.0%"
    assert share(0.0001, signed=True) == "0.0%"
    assert share(0.98765, 2) == "98.77%"
    assert share(None) == "–"


def test_compact_and_number():
    assert compact(1_250_000) == "1.25M"
    assert compact(2_000_000) == "2M"
    assert compact(40_000) == "40k"
    assert compact(900) == "900"
    assert number(12345.6) == "12,346"
    assert number(1.234567) == "1.235"


def test_did_you_mean():
    assert did_you_mean("serach", ["search", "tv"]) == " (did you mean 'search'?)"
    assert did_you_mean("zzz", ["tv", "search"]) == " (expected one of: search, tv)"
    assert did_you_mean("zzz", ["tv"], list_choices=False) == ""


def test_jsonable_gives_plain_json_types():
    @dataclass(frozen=True)
    class Row:
        a: float
        b: tuple[int, ...]
        hidden: str = "x"

    obj = {
        1: Row(np.float64(1.5), (np.int64(2), 3)),
        "nan": math.nan,
        "arr": np.array([1.0, np.inf]),
        "flag": np.bool_(True),
        "path": Path("a/b.json"),
    }
    out = jsonable(obj, skip=frozenset({"hidden"}))
    assert out == {
        "1": {"a": 1.5, "b": [2, 3]},
        "nan": None,
        "arr": [1.0, None],
        "flag": True,
        "path": "a/b.json",
    }
    # strict JSON: to_json refuses NaN, so jsonable's output must be NaN-free
    assert json.loads(to_json(out)) == out
    assert finite(np.float32(2.5)) == 2.5 and finite(math.inf) is None and finite(None) is None


def test_csv_text():
    df = pd.DataFrame({"id": ["tv"], "spend": [1 / 3]})
    assert csv_text(df) == "id,spend\ntv,0.3333333333\n"


def test_excel_csv_has_a_byte_order_mark_and_crlf_and_keeps_delta():
    from optimizer.formatting import BOM, excel_csv

    plain = csv_text(pd.DataFrame({"id": ["tv"], "Δ spend": [-1.5]}))
    assert not plain.startswith(BOM) and "\r" not in plain  # the contract for tools
    excel = excel_csv(plain)
    assert (
        excel.startswith(BOM) and excel.count("\r\n") == 2 and "\n" not in excel.replace("\r\n", "")
    )
    # Excel decodes a file that starts with the BOM as UTF-8: Δ comes back as Δ
    data = excel.encode("utf-8")
    assert data[:3] == b"\xef\xbb\xbf"
    assert data.decode("utf-8-sig").splitlines()[0] == "id,Δ spend"
    assert excel_csv(excel) == excel  # applying it twice changes nothing


def test_currency_marks_headers_and_workbook_formats():
    from optimizer.formatting import currency_mark, excel_money, with_currency

    assert (
        currency_mark("EUR") == "€" and currency_mark("chf") == "CHF" and currency_mark(None) == ""
    )
    assert with_currency("spend", "EUR") == "spend (€)" and with_currency("spend", None) == "spend"
    assert excel_money("#,##0;[Red]-#,##0", "EUR") == '"€"#,##0;[Red]-"€"#,##0'
    assert excel_money("+#,##0;[Red]-#,##0;0", "GBP") == '+"£"#,##0;[Red]-"£"#,##0;"£"0'
    assert excel_money("#,##0", None) == "#,##0"


def test_an_anchored_step_short_of_an_end_never_prints_as_that_end():
    """An anchored plan's step printed with two decimals: 0.996 read "1.00", as if the plan were
    the optimum on the point curves (helper report, session 12). Two decimals where they say
    the step; more where two would round onto 0 or 1; exact ends stay "0.00" / "1.00"."""
    from types import SimpleNamespace

    from optimizer.formatting import step
    from optimizer.render.tables import anchored_status

    assert [step(x) for x in (0.0, 1.0, 0.5, 0.875, 0.42)] == [
        "0.00",
        "1.00",
        "0.50",
        "0.88",
        "0.42",
    ]
    assert step(0.996) == "0.996" and step(0.9999) == "0.9999" and step(0.004) == "0.004"
    assert step(1 - 1e-9) == ">0.999999" and step(1e-9) == "<0.000001"
    plan = SimpleNamespace(extras={"robust": "anchored", "step": 0.996}, ok=True)
    assert anchored_status(plan) == "anchored, step 0.996"  # was "anchored, step 1.00"
