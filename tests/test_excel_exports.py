"""Data as it arrives (issue 17, items 4 and 5): Excel exports (``;``/tab separators, decimal
commas, thousands separators, a BOM, CRLF, day-first dates, blank cells) and daily or monthly
histories, read by ``optimizer.io`` and fitted by the CLI."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from optimizer.data import read_history, read_journey
from optimizer.errors import DataError
from optimizer.io.dialect import CsvSettings
from optimizer.io.spend_tables import read_spend_rows, read_spend_totals

SAMPLE = Path(__file__).resolve().parents[1] / "optimizer" / "sample"
JOURNEY = SAMPLE / "journey.yaml"
HISTORY = SAMPLE / "history.csv"


def _european(value: str) -> str:
    """``1234567.5`` → ``1.234.567,5`` (the text, not a float round trip)."""
    whole, _, frac = value.partition(".")
    sign = "-" if whole.startswith("-") else ""
    whole = whole.lstrip("-")
    groups = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    return sign + ".".join(groups) + ("," + frac if frac else "")


def _day_first(iso: str) -> str:
    y, m, d = iso.split("-")
    return f"{d}/{m}/{y}"


def european_export(src: Path, dst: Path) -> Path:
    """What Excel (German/French/Italian locale) writes for a CSV: ``;`` separators, decimal
    commas, ``.`` thousands, day-first dates, a UTF-8 BOM and CRLF line ends."""
    rows = list(csv.reader(src.open(encoding="utf-8")))
    lines = [";".join(rows[0])]
    for r in rows[1:]:
        lines.append(";".join([_day_first(r[0]), *(_european(v) for v in r[1:])]))
    dst.write_bytes(b"\xef\xbb\xbf" + ("\r\n".join(lines) + "\r\n").encode("utf-8"))
    return dst


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "optimizer", *args], capture_output=True, text=True, timeout=600
    )


def test_european_export_has_thousands_and_decimal_commas(tmp_path):
    # the fixture itself: the conversion this file tests must actually be exercised
    text = european_export(HISTORY, tmp_path / "h.csv").read_bytes()
    assert text.startswith(b"\xef\xbb\xbf") and b"\r\n" in text
    assert b"276.645,06" in text and b"02/01/2023" in text and b"3.038.063,41" in text


def test_european_export_reads_to_the_same_floats_bit_for_bit(tmp_path):
    journey = read_journey(JOURNEY)
    clean = read_history(HISTORY, journey)
    eu = read_history(european_export(HISTORY, tmp_path / "h.csv"), journey)
    pd.testing.assert_frame_equal(clean.frame, eu.frame, check_exact=True)
    assert clean.meta["notes"] == ()
    assert eu.meta["notes"] == (
        "h.csv: read with ';' separators, decimal commas, '.' thousands separators, "
        "day-first dates",
    )


def test_european_export_fits_to_the_same_model_file(tmp_path):
    """The user's path: `budgetopt fit` on the Excel export writes byte-for-byte the model.json
    the clean file gives, and says on stderr what it detected."""
    eu = european_export(HISTORY, tmp_path / "history.csv")
    a = _cli("fit", "--journey", str(JOURNEY), "--history", str(HISTORY), "-o",
             str(tmp_path / "clean.json"), "--bootstrap", "0", "-q")  # fmt: skip
    b = _cli("fit", "--journey", str(JOURNEY), "--history", str(eu), "-o",
             str(tmp_path / "eu.json"), "--bootstrap", "0")  # fmt: skip
    assert a.returncode == 0, a.stderr
    assert b.returncode == 0, b.stderr
    assert (tmp_path / "clean.json").read_bytes() == (tmp_path / "eu.json").read_bytes()
    # the command line's --decimal overrides the detection: decimal points cannot read
    # "276.645,06", and the message names the cell (nothing is written)
    c = _cli("fit", "--journey", str(JOURNEY), "--history", str(eu), "-o",
             str(tmp_path / "bad.json"), "--bootstrap", "0", "--decimal", ".")  # fmt: skip
    assert c.returncode != 0 and "Traceback" not in c.stderr
    assert "'276.645,06'" in c.stderr and "row 2" in c.stderr
    assert not (tmp_path / "bad.json").exists()
    assert (
        "history.csv: read with ';' separators, decimal commas, '.' thousands separators, "
        "day-first dates" in b.stderr
    )


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _small_journey(tmp_path: Path, csv_block: str = "") -> Path:
    return _write(
        tmp_path / "journey.yaml",
        "kpi: revenue\ntouchpoints:\n- {id: tv, stage: awareness}\n"
        "- {id: search, stage: consideration}\n" + csv_block,
    )


def _weekly(n: int = 4, start: str = "2024-01-01") -> list[pd.Timestamp]:
    return list(pd.date_range(start, periods=n, freq="7D"))


def test_tab_separated_us_export_with_blank_trailing_cells(tmp_path):
    # tab separators, "1,234.50" thousands commas, month-first dates (a day above 12 tells),
    # and the empty trailing column and row Excel leaves
    lines = ["date\ttv\tsearch\trevenue\t"]
    for i, d in enumerate(_weekly(4, "2024-01-01")):
        lines.append(f"{d.month:02d}/{d.day:02d}/{d.year}\t1,234.50\t{i}.5\t12,000.25\t")
    lines.append("\t\t\t\t")
    path = _write(tmp_path / "h.tsv", "\r\n".join(lines) + "\r\n")
    h = read_history(path, read_journey(_small_journey(tmp_path)))
    assert h.frame["tv"].tolist() == [1234.5] * 4
    assert h.frame["revenue"].tolist() == [12000.25] * 4
    assert list(h.frame.index.strftime("%Y-%m-%d")) == [
        "2024-01-01",
        "2024-01-08",
        "2024-01-15",
        "2024-01-22",
    ]
    assert h.meta["notes"] == ("h.tsv: read with tab separators, month-first dates",)


# -------------------------------------------------------------------- ambiguous: name the setting
def test_ambiguous_decimal_names_the_setting_and_the_setting_resolves_it(tmp_path):
    # every number is "d.ddd": 1.234 could be 1234 (thousands) or 1.234 (decimal point)
    rows = "\n".join(f"{d.date()};1.234;2.500;10.000" for d in _weekly())
    path = _write(tmp_path / "h.csv", "date;tv;search;revenue\n" + rows + "\n")
    with pytest.raises(DataError) as e:
        read_history(path, read_journey(_small_journey(tmp_path)))
    msg = str(e.value)
    assert "h.csv" in msg and "'1.234'" in msg and "row 2" in msg
    assert "give 'decimal' under 'csv:' in journey.yaml or as --decimal" in msg
    # given in the journey: thousands (decimal comma) ...
    j = read_journey(_small_journey(tmp_path, "csv: {decimal: ','}\n"))
    assert read_history(path, j).frame["tv"].tolist() == [1234.0] * 4
    # ... or a decimal point, on the command line's behalf
    h = read_history(path, j, csv=CsvSettings(decimal="."))
    assert h.frame["tv"].tolist() == [1.234] * 4


def test_mixed_decimal_marks_name_the_setting(tmp_path):
    rows = [f"{d.date()};1,5;2;10" for d in _weekly()]
    rows[2] = rows[2].replace("1,5", "1.75")
    path = _write(tmp_path / "h.csv", "date;tv;search;revenue\n" + "\n".join(rows) + "\n")
    with pytest.raises(DataError, match=r"both with decimal points \('1.75' in row 4.*'decimal'"):
        read_history(path, read_journey(_small_journey(tmp_path)))


def test_ambiguous_dates_name_date_format_and_the_setting_resolves_it(tmp_path):
    # monthly dates on the 1st: 01/02/2024 is 1 February (day-first) or 2 January (month-first)
    rows = "\n".join(f"01/{m:02d}/2024;1;2;10" for m in range(1, 7))
    path = _write(tmp_path / "h.csv", "date;tv;search;revenue\n" + rows + "\n")
    with pytest.raises(DataError) as e:
        read_history(path, read_journey(_small_journey(tmp_path)))
    msg = str(e.value)
    assert "'01/01/2024' (row 2) is day-first or month-first" in msg
    assert "give 'date_format' under 'csv:' in journey.yaml or as --date-format" in msg
    j = read_journey(_small_journey(tmp_path, "csv: {date_format: '%d/%m/%Y'}\n"))
    h = read_history(path, j)
    assert h.meta["frequency"] == "month"
    # month-first reads the same cells as six consecutive days (2024-01-01 … 2024-01-06)
    with pytest.raises(DataError, match="at least 2 are needed"):
        read_history(path, j, csv=CsvSettings(date_format="month-first"), min_weeks=2)


def test_dates_neither_day_first_nor_month_first(tmp_path):
    path = _write(
        tmp_path / "h.csv", "date;tv;search;revenue\n13/01/2024;1;2;3\n01/20/2024;1;2;3\n"
    )
    with pytest.raises(DataError, match=r"neither all day-first nor all month-first.*date_format"):
        read_history(path, read_journey(_small_journey(tmp_path)))


def test_two_separators_in_the_header_name_the_setting(tmp_path):
    path = _write(tmp_path / "h.csv", "date;tv,search;revenue\n2024-01-01;1,2;3\n")
    with pytest.raises(DataError) as e:
        read_history(path, read_journey(_small_journey(tmp_path)))
    assert "both ',' and ';'" in str(e.value) and "--separator" in str(e.value)


def test_date_not_matching_the_given_format_is_located(tmp_path):
    path = _write(
        tmp_path / "h.csv", "date;tv;search;revenue\n08/01/2024;1;2;3\n2024-01-15;1;2;3\n"
    )
    j = read_journey(_small_journey(tmp_path, "csv: {date_format: '%d/%m/%Y'}\n"))
    with pytest.raises(DataError, match=r"'2024-01-15' in row 3 does not match date_format"):
        read_history(path, j)


def test_bad_csv_settings_in_the_journey_are_located(tmp_path):
    with pytest.raises(DataError, match=r"field 'csv.decimal'.*'\.' or ','"):
        read_journey(_small_journey(tmp_path, "csv: {decimal: 'x'}\n"))
    with pytest.raises(DataError, match=r"unknown setting 'sep'"):
        read_journey(_small_journey(tmp_path, "csv: {sep: ';'}\n"))


def test_cli_fit_ambiguous_file_one_line_and_option_resolves(tmp_path):
    rows = "\n".join(f"{d.date()};1.234;2.500;10.000" for d in _weekly(60))
    path = _write(tmp_path / "h.csv", "date;tv;search;revenue\n" + rows + "\n")
    j = _small_journey(tmp_path)
    r = _cli("fit", "--journey", str(j), "--history", str(path), "-o", str(tmp_path / "m.json"))
    assert r.returncode != 0
    assert "Traceback" not in r.stderr
    assert "--decimal" in r.stderr and "h.csv" in r.stderr
    assert not (tmp_path / "m.json").exists()


# -------------------------------------------------------------------- the id/spend reader
def test_european_actuals_and_previous_plan(tmp_path, capsys):
    actuals = _write(
        tmp_path / "actuals.csv",
        "\ufeffdate;touchpoint;spend\r\n08/01/2024;tv;12.500,00\r\n15/01/2024;search;0,5\r\n",
    )
    rows = read_spend_rows(actuals, what="actuals", ids=["tv", "search"])
    assert rows["spend"].tolist() == [12500.0, 0.5]
    assert [d.isoformat() for d in rows["date"]] == ["2024-01-08", "2024-01-15"]
    assert capsys.readouterr().err == (
        "actuals.csv: read with ';' separators, decimal commas, '.' thousands separators, "
        "day-first dates\n"
    )
    # settings given by the caller (month-first would make 15/01 impossible: located)
    with pytest.raises(DataError, match=r"'15/01/2024' in row 3 is not a month-first date"):
        read_spend_rows(actuals, csv=CsvSettings(date_format="month-first"))
    prev = _write(tmp_path / "prev.csv", "id;spend\ntv;1.250.000\nsearch;80.000,5\n")
    assert read_spend_totals(prev, what="previous-cycle") == {"tv": 1250000.0, "search": 80000.5}
    # a clean comma file keeps its quoted thousands separators
    clean = _write(tmp_path / "clean.csv", 'id,spend\ntv,"1,250,000"\nsearch,80000.5\n')
    assert read_spend_totals(clean) == {"tv": 1250000.0, "search": 80000.5}


def test_ambiguous_actuals_name_the_setting(tmp_path):
    path = _write(tmp_path / "actuals.csv", "date;touchpoint;spend\n2024-01-08;tv;1.500\n")
    with pytest.raises(DataError, match=r"actuals.csv.*'decimal'"):
        read_spend_rows(path, what="actuals")


# -------------------------------------------------------------------- daily and monthly histories
def _weekly_sample() -> pd.DataFrame:
    return pd.read_csv(HISTORY, parse_dates=["date"]).set_index("date")


def test_daily_history_is_summed_into_its_weeks(tmp_path):
    """Each sample week spread evenly over its 7 days (Monday..Sunday) reads back as the
    sample's weeks: spend and revenue summed (to 1e-9 relative: the /7*7 round trip), the control
    averaged (to 1e-15: the same value each day)."""
    weekly = _weekly_sample()
    journey = read_journey(JOURNEY)
    flows = [t.id for t in journey.touchpoints] + [journey.kpi]
    days = []
    for d, row in weekly.iterrows():
        for k in range(7):
            r = row.copy()
            r[flows] = r[flows] / 7
            r.name = d + pd.Timedelta(days=k)
            days.append(r)
    daily = pd.DataFrame(days)
    daily.index.name = "date"
    # a trailing partial week (3 days) must be left out, not fitted as a small week
    extra = daily.iloc[-7:-4].copy()
    extra.index = extra.index + pd.Timedelta(days=7)
    daily = pd.concat([daily, extra])
    path = tmp_path / "daily.csv"
    daily.to_csv(path, date_format="%Y-%m-%d")
    h = read_history(path, journey)
    assert h.meta["frequency"] == "day"
    assert h.meta["notes"] == (
        f"daily.csv: {len(daily)} daily rows summed into 156 weeks (Monday to Sunday); "
        "1 incomplete week(s) at the ends left out",
    )
    assert list(h.frame.index) == list(weekly.index)
    np.testing.assert_allclose(h.frame[flows], weekly[flows], rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(h.frame["price_index"], weekly["price_index"], rtol=1e-15)


def _monthly_sample() -> pd.DataFrame:
    weekly = _weekly_sample()
    m = weekly.groupby(weekly.index.to_period("M")).agg(
        {c: ("mean" if c == "price_index" else "sum") for c in weekly.columns}
    )
    m.index = m.index.to_timestamp()  # dated by the 1st
    m.index.name = "date"
    return m


def test_monthly_history_is_spread_over_its_weeks(tmp_path):
    monthly = _monthly_sample()
    path = tmp_path / "monthly.csv"
    monthly.to_csv(path, date_format="%Y-%m-%d")
    journey = read_journey(JOURNEY)
    h = read_history(path, journey)
    assert h.meta["frequency"] == "month"
    (note,) = h.meta["notes"]
    assert "36 monthly rows spread evenly over their days" in note and "flat" in note
    # every week is whole and a Monday; none before the first month or after the last
    idx = pd.DatetimeIndex(h.frame.index)
    assert (idx.day_of_week == 0).all() and (np.diff(idx) == pd.Timedelta(days=7)).all()
    assert idx[0] >= monthly.index[0] and idx[-1] + pd.Timedelta(days=6) <= pd.Timestamp(
        "2025-12-31"
    )
    # the truth checked: a week inside one month holds 7/days-in-month of that month's spend
    wk = pd.Timestamp("2024-03-04")  # 4..10 March 2024, all in March (31 days)
    assert h.frame.loc[wk, "tv"] == pytest.approx(monthly.loc["2024-03-01", "tv"] * 7 / 31)
    # a week across a month end takes each month's share of its days
    wk = pd.Timestamp("2024-04-29")  # 29, 30 April + 1..5 May
    want = monthly.loc["2024-04-01", "tv"] * 2 / 30 + monthly.loc["2024-05-01", "tv"] * 5 / 31
    assert h.frame.loc[wk, "tv"] == pytest.approx(want)
    assert h.frame.loc[wk, "price_index"] == pytest.approx(
        (
            2 * monthly.loc["2024-04-01", "price_index"]
            + 5 * monthly.loc["2024-05-01", "price_index"]
        )
        / 7
    )


def test_monthly_history_fits_from_the_cli(tmp_path):
    monthly = _monthly_sample()
    path = tmp_path / "monthly.csv"
    monthly.to_csv(path, date_format="%Y-%m-%d")
    r = _cli("fit", "--journey", str(JOURNEY), "--history", str(path), "-o",
             str(tmp_path / "m.json"), "--bootstrap", "0")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "monthly.csv: 36 monthly rows spread evenly over their days" in r.stderr
    assert (tmp_path / "m.json").exists()


def test_a_missing_month_is_located(tmp_path):
    monthly = _monthly_sample().drop(index=pd.Timestamp("2024-05-01"))
    path = tmp_path / "monthly.csv"
    monthly.to_csv(path, date_format="%Y-%m-%d")
    with pytest.raises(DataError, match="between 2024-04-01 and 2024-06-01 there are 61 days"):
        read_history(path, read_journey(JOURNEY))


def test_cli_track_european_actuals_needs_and_takes_decimal(tmp_path):
    """`track` on actuals whose every amount is '60.000' (thousands or decimal?): a located
    error naming --decimal; with `--decimal ,` the totals are those of the clean file."""
    from click.testing import CliRunner

    from optimizer.cli import cli
    from tests.factories import write_actuals, write_tiny_world

    world = write_tiny_world(tmp_path / "w")
    weekly = {"tv": 60_000.0, "search": 35_000.0, "email": 1_000.0}
    clean = write_actuals(tmp_path / "clean.csv", weekly, 4)
    rows = list(csv.reader(clean.open()))
    eu = tmp_path / "actuals.csv"
    eu.write_text(
        "\r\n".join(
            [";".join(rows[0])]
            + [f"{_day_first(d)};{tp};{_european(str(int(float(v))))}" for d, tp, v in rows[1:]]
        )
        + "\r\n",
        encoding="utf-8-sig",
    )
    plan = tmp_path / "plan.json"

    def run(*args):
        return CliRunner().invoke(cli, [str(a) for a in args])

    assert run("optimize", world["scenario"], "--format", "json", "-o", plan, "-q").exit_code == 0
    r = run("track", plan, eu, "--format", "json")
    assert r.exit_code != 0 and "Traceback" not in r.stderr
    assert "actuals.csv" in r.stderr and "--decimal" in r.stderr
    r = run("track", plan, eu, "--format", "json", "--decimal", ",")
    assert r.exit_code == 0, r.stderr
    import json

    assert json.loads(r.stdout)["total"]["actual"] == 384_000


def test_windows_1252_export_is_read_and_said(tmp_path):
    # Excel's "CSV" on Windows: cp1252 text (a column named 'Rückläufer' is not UTF-8)
    path = tmp_path / "prev.csv"
    path.write_bytes("id;spend;Rückläufer\ntv;1.250,5;x\n".encode("cp1252"))
    assert read_spend_totals(path) == {"tv": 1250.5}
