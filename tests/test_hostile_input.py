"""Hostile and malformed input answered with a located, one-line error (issue 14).

Each test states the input an audit found answered wrongly (silently, with a traceback, or by
growing without bound) and checks the answer a user gets from the CLI: the exit code, the file,
line and key in the message, and no traceback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from optimizer.cli import cli
from optimizer.sample import journey_path, true_model_path

BIN = [sys.executable, "-m", "optimizer"]


def run(*args: str, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "BUDGETOPT_LEDGER": str((cwd or Path.cwd()) / "ledger.sqlite")}
    return subprocess.run(
        [*BIN, *args], capture_output=True, text=True, cwd=cwd, timeout=timeout, env=env
    )


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def write(p: Path, text: str) -> Path:
    p.write_text(text, encoding="utf-8")
    return p


def scenario_text(model: Path, extra: str = "") -> str:
    return f"name: s\nmodel: {model}\nhorizon_weeks: 13\nbudget: 1000000\n{extra}"


# ---- item 1: duplicate keys ------------------------------------------------------------------
def test_a_key_given_twice_in_a_scenario_is_rejected_with_its_line(tmp_path):
    sc = write(tmp_path / "s.yaml", scenario_text(true_model_path(), "budget: 2000000\n"))
    r = run("optimize", str(sc), "--no-ledger", cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr
    assert str(sc) in r.stderr and "duplicate key 'budget' at line 5" in r.stderr
    assert "first given at line 4" in r.stderr


def test_a_nested_key_given_twice_is_rejected(tmp_path):
    extra = "touchpoints:\n  tv: {max: 100000}\n  search: {max: 5}\n  tv: {min: 1}\n"
    sc = write(tmp_path / "s.yaml", scenario_text(true_model_path(), extra))
    r = invoke("validate", str(sc))
    assert r.exit_code == 2
    assert "duplicate key 'tv' at line 8" in r.output


def test_a_merge_key_override_is_not_a_duplicate(tmp_path):
    extra = "x_base: &b {max: 100000}\n"
    text = scenario_text(true_model_path()) + "touchpoints:\n  tv:\n    <<: {max: 5}\n    max: 7\n"
    sc = write(tmp_path / "s.yaml", text)
    r = invoke("validate", str(sc))
    assert r.exit_code == 0, r.output
    assert extra  # (an anchor on its own is fine too; the override above is what is tested)


def test_a_kpi_given_twice_in_a_journey_is_rejected(tmp_path):
    text = journey_path().read_text()
    j = write(tmp_path / "journey.yaml", "kpi: orders\n" + text)
    r = invoke("validate", str(j))
    assert r.exit_code == 2
    assert "duplicate key 'kpi'" in r.output and str(j) in r.output


def test_a_touchpoint_given_twice_in_a_model_is_rejected_with_its_line(tmp_path):
    text = true_model_path().read_text()
    i, j = text.index('"online_video"'), text.index('"radio"')
    m = write(tmp_path / "model.json", text[:j] + text[i:j] + text[j:])
    line = text[:j].count("\n") + 1  # the second one starts where radio did
    sc = write(tmp_path / "s.yaml", scenario_text(m))
    r = run("optimize", str(sc), "--no-ledger", cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert f"duplicate key 'online_video' at line {line}" in r.stderr, r.stderr
    assert str(m) in r.stderr


def test_nan_in_a_model_file_is_rejected(tmp_path):
    d = json.loads(true_model_path().read_text())
    text = json.dumps(d).replace('"decay": 0.6', '"decay": NaN', 1)
    m = write(tmp_path / "model.json", text)
    r = invoke("validate", str(m))
    assert r.exit_code == 2 and "NaN" in r.output


# ---- item 13: alias bombs ---------------------------------------------------------------------
def bomb(levels: int = 9) -> str:
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for k in range(1, levels):
        refs = ", ".join([f"*a{k - 1}"] * 10)
        lines.append(f"a{k}: &a{k} [{refs}]")
    return "\n".join(lines) + f"\nname: *a{levels - 1}\nmodel: m.json\nbudget: 1\n"


def test_an_alias_bomb_is_refused_quickly_without_echoing_it(tmp_path):
    sc = write(tmp_path / "bomb.yaml", bomb())
    assert sc.stat().st_size < 1000
    # expanded, it is 10^9 strings: a run that expands it does not end within the timeout
    r = run("validate", str(sc), cwd=tmp_path, timeout=180)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "alias" in r.stderr
    assert len(r.stderr) < 1000


def test_a_modest_alias_is_still_accepted_and_a_long_value_is_not_echoed(tmp_path):
    # 5 levels expand to 100,000 values: under the bound; as a name (a string is expected) the
    # message must not print the expanded list
    sc = write(tmp_path / "s.yaml", bomb(4).replace("model: m.json", f"model: {true_model_path()}"))
    r = invoke("validate", str(sc))
    assert r.exit_code == 2
    assert len(r.output) < 1000, r.output[:2000]


@pytest.mark.parametrize("levels", [6])
def test_the_bound_names_the_line(tmp_path, levels):
    sc = write(tmp_path / "bomb.yaml", bomb(levels))
    r = invoke("validate", str(sc))
    assert r.exit_code == 2 and "expands to more than" in r.output


# ---- item 9: every number finite and within its documented range ------------------------------
@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ("budget: .inf\n", "budget"),
        ("budget: .nan\n", "budget"),
        ("budget: 1.0e+308\n", "budget"),
        ("touchpoints: {tv: {max: 1.0e+13}}\n", "touchpoints.tv.max"),
        ("hurdle_rate: .nan\n", "hurdle_rate"),
        ("previous: {tv: .inf}\n", "previous"),
    ],
)
def test_absurd_numbers_in_a_scenario_are_located_errors(tmp_path, extra, field):
    text = scenario_text(true_model_path()).replace("budget: 1000000\n", "")
    sc = write(tmp_path / "s.yaml", text + extra)
    r = invoke("validate", str(sc))
    assert r.exit_code == 2, r.output
    assert field in r.output and str(sc) in r.output


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("curve", "beta"), 1e308, "curve.beta"),
        (("curve", "shape"), 1e-9, "curve.shape"),
        (("adstock", "decay"), 0.9999999, "adstock.decay"),
        (("adstock", "max_lag"), 1_000_000_000, "adstock.max_lag"),
    ],
)
def test_absurd_numbers_in_a_model_are_located_errors(tmp_path, path, value, field):
    d = json.loads(true_model_path().read_text())
    d["touchpoints"]["tv"][path[0]][path[1]] = value
    m = write(tmp_path / "model.json", json.dumps(d))
    r = invoke("validate", str(m))
    assert r.exit_code == 2, r.output
    assert f"touchpoints.tv.{field}" in r.output


def test_absurd_spend_in_a_history_is_a_located_error(tmp_path):
    from optimizer.sample import history_path

    lines = history_path().read_text().splitlines()
    head = lines[0].split(",")
    cells = lines[5].split(",")
    cells[head.index("tv")] = "1e308"
    lines[5] = ",".join(cells)
    h = write(tmp_path / "history.csv", "\n".join(lines) + "\n")
    r = invoke("validate", str(h), "--journey", str(journey_path()))
    assert r.exit_code == 2
    assert "tv" in r.output and "row 6" in r.output and "at most" in r.output


@pytest.mark.parametrize(
    "args",
    [
        ["optimize", "S", "--tolerance", "nan"],
        ["optimize", "S", "--tolerance", "-1"],
        ["optimize", "S", "--time-limit", "inf"],
        ["sweep", "S", "--budgets", "nan:100:3"],
        ["sweep", "S", "--budgets", "0:1e308:3"],
        ["sweep", "S", "--jobs", "-3"],
        ["fit", "--journey", "J", "--history", "H", "-o", "m.json", "--holdout", "-5"],
        ["fit", "--journey", "J", "--history", "H", "-o", "m.json", "--jobs", "-3"],
    ],
)
def test_absurd_options_are_located_errors(tmp_path, args):
    from optimizer.sample import history_path, scenarios_dir

    sub = {"S": str(scenarios_dir() / "base.yaml"), "J": str(journey_path())}
    sub["H"] = str(history_path())
    args = [sub.get(a, a) for a in args]
    r = invoke(*args, "--no-ledger") if args[0] != "fit" else invoke(*args)
    assert r.exit_code == 2, r.output
    opt = next(a for a in args if a.startswith("--") and a not in ("--journey", "--history"))
    assert opt in r.output
    assert "Traceback" not in r.output


def test_band_must_be_a_fraction_not_negative(tmp_path):
    r = invoke("track", "x.json", "a.csv", "--band", "-1")
    assert r.exit_code == 2 and "--band" in r.output


# ---- item 12: -o never replaces what is not a regular file --------------------------------------
def _scenario() -> str:
    from optimizer.sample import scenarios_dir

    return str(scenarios_dir() / "base.yaml")


def test_output_to_a_fifo_is_written_through(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE, text=True)
    r = run("optimize", _scenario(), "--format", "json", "-o", str(fifo), "--no-ledger", "-q")
    got, _ = reader.communicate(timeout=120)
    assert r.returncode == 0, r.stderr
    assert json.loads(got)["status"] == "optimal"
    assert fifo.is_fifo()  # still a FIFO, not a regular file


def test_output_through_a_symlink_keeps_the_link(tmp_path):
    target = tmp_path / "real.json"
    target.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    r = invoke("optimize", _scenario(), "--format", "json", "-o", str(link), "--no-ledger", "-q")
    assert r.exit_code == 0
    assert link.is_symlink() and json.loads(target.read_text())["status"] == "optimal"


def test_output_dash_is_stdout(tmp_path):
    r = run("optimize", _scenario(), "--format", "json", "-o", "-", "--no-ledger", "-q")
    assert r.returncode == 0 and json.loads(r.stdout)["status"] == "optimal"
    assert not (Path.cwd() / "-").exists()


def test_output_to_dev_null_is_not_replaced(tmp_path):
    r = run("optimize", _scenario(), "--format", "json", "-o", "/dev/null", "--no-ledger", "-q")
    assert r.returncode == 0
    assert Path("/dev/null").is_char_device()


# ---- item 15: the audit's remaining internal errors ----------------------------------------------
def test_a_model_that_is_a_device_is_a_clean_error(tmp_path):
    sc = write(tmp_path / "s.yaml", scenario_text(Path("/dev/zero")))
    r = run("optimize", str(sc), "--no-ledger", cwd=tmp_path, timeout=120)
    assert r.returncode == 2 and "/dev/zero" in r.stderr and "Traceback" not in r.stderr


def test_a_symlink_loop_is_a_clean_error(tmp_path):
    (tmp_path / "a.json").symlink_to(tmp_path / "b.json")
    (tmp_path / "b.json").symlink_to(tmp_path / "a.json")
    sc = write(tmp_path / "s.yaml", scenario_text(tmp_path / "a.json"))
    r = invoke("optimize", str(sc), "--no-ledger")
    assert r.exit_code == 2 and "symbolic links" in r.output


def test_output_into_a_folder_that_cannot_be_made_is_a_clean_error(tmp_path):
    blocker = write(tmp_path / "file", "x")
    r = invoke("optimize", _scenario(), "--format", "json", "-o", str(blocker / "x" / "p.json"))
    assert r.exit_code == 2, r.output
    assert "cannot write" in r.output and "internal error" not in r.output
