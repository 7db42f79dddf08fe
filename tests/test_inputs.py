"""Bad input: a one-paragraph message naming the file, the field and the value; non-zero exit; no traceback."""

from __future__ import annotations

import json

import pytest
import yaml
from click.testing import CliRunner

from optimizer.cli import cli
from tests.factories import tiny_history, write_tiny_world


def run(*args):
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert "Traceback" not in (result.output or "")
    assert "Traceback" not in (result.stderr or "")
    return result


def assert_clean_error(result, *needles, code=2):
    assert result.exit_code == code, result.output
    text = result.stderr
    assert "\n" not in text.strip(), f"more than one paragraph: {text!r}"
    for n in needles:
        assert n in text, f"{n!r} not in {text!r}"


@pytest.fixture
def world(tmp_path):
    return write_tiny_world(tmp_path / "w")


def _history_with(world, edit):
    df = tiny_history(60)
    edit(df)
    df.to_csv(world["history"], index=False)
    return run("validate", world["history"], "--journey", world["journey"])


def test_valid_files_pass(world):
    r = run("validate", world["journey"], world["model"], world["scenario"])
    assert r.exit_code == 0, r.stderr
    r = run("validate", world["history"], "--journey", world["journey"])
    assert r.exit_code == 0, r.stderr


def test_negative_spend(world):
    def edit(df):
        df["tv"] = df["tv"].astype(object)
        df.loc[4, "tv"] = -500

    r = _history_with(world, edit)
    assert_clean_error(r, "history.csv", "'tv'", "-500", "row 6")


def test_non_numeric_spend(world):
    def edit(df):
        df["search"] = df["search"].astype(object)
        df.loc[2, "search"] = "12k"

    assert_clean_error(_history_with(world, edit), "history.csv", "'search'", "'12k'")


def test_missing_date(world):
    def edit(df):
        df.loc[3, "date"] = ""

    assert_clean_error(_history_with(world, edit), "history.csv", "'date'", "row 5", "missing")


def test_duplicate_date(world):
    def edit(df):
        df.loc[3, "date"] = df.loc[2, "date"]

    assert_clean_error(_history_with(world, edit), "history.csv", "'date'", "appears twice")


def test_missing_week(world):
    df = tiny_history(60).drop(index=10)
    df.to_csv(world["history"], index=False)
    r = run("validate", world["history"], "--journey", world["journey"])
    assert_clean_error(r, "history.csv", "'date'", "missing week")


def test_missing_kpi_value(world):
    def edit(df):
        df["revenue"] = df["revenue"].astype(object)
        df.loc[7, "revenue"] = ""

    assert_clean_error(_history_with(world, edit), "history.csv", "'revenue'", "missing", "row 9")


def test_too_few_weeks_to_fit(world, tmp_path):
    tiny_history(20).to_csv(world["history"], index=False)
    r = run(
        "fit",
        "--journey",
        world["journey"],
        "--history",
        world["history"],
        "-o",
        tmp_path / "m.json",
    )
    assert_clean_error(r, "history.csv", "'date'", "20 weeks", "at least 52")
    assert not (tmp_path / "m.json").exists()


def test_empty_file(world):
    world["history"].write_text("")
    r = run("validate", world["history"], "--journey", world["journey"])
    assert_clean_error(r, "history.csv", "empty")


def test_journey_spend_column_the_history_lacks(world):
    j = yaml.safe_load(world["journey"].read_text())
    j["touchpoints"].append({"id": "radio", "stage": "awareness"})
    world["journey"].write_text(yaml.safe_dump(j))
    r = run("validate", world["history"], "--journey", world["journey"])
    assert_clean_error(r, "history.csv", "'radio'", "lacks")


def test_unknown_stage_in_journey(world):
    j = yaml.safe_load(world["journey"].read_text())
    j["touchpoints"][0]["stage"] = "awarness"
    world["journey"].write_text(yaml.safe_dump(j))
    assert_clean_error(
        run("validate", world["journey"]),
        "journey.yaml",
        "touchpoints[0].stage",
        "'awarness'",
        "did you mean 'awareness'",
    )


def test_unknown_touchpoint_in_scenario(world):
    sc = yaml.safe_load(world["scenario"].read_text())
    sc["touchpoints"] = {"tvv": {"max": 10}}
    world["scenario"].write_text(yaml.safe_dump(sc))
    assert_clean_error(
        run("optimize", world["scenario"]), "base.yaml", "touchpoints.tvv", "did you mean 'tv'"
    )


def test_unknown_stage_in_scenario(world):
    sc = yaml.safe_load(world["scenario"].read_text())
    sc["stages"] = {"loyality": {"max": 10}}
    world["scenario"].write_text(yaml.safe_dump(sc))
    assert_clean_error(
        run("validate", world["scenario"]), "base.yaml", "stages.loyality", "did you mean 'loyalty'"
    )


def test_unknown_curve_family(world):
    m = json.loads(world["model"].read_text())
    m["touchpoints"]["tv"]["curve"]["family"] = "hil"
    world["model"].write_text(json.dumps(m))
    assert_clean_error(
        run("validate", world["model"]),
        "model.json",
        "touchpoints.tv.curve.family",
        "'hil'",
        "did you mean 'hill'",
    )


def test_misspelt_scenario_key(world):
    sc = yaml.safe_load(world["scenario"].read_text())
    sc["touchpoints"]["tv"] = {"mx": 5}
    sc["horizon_week"] = 13
    world["scenario"].write_text(yaml.safe_dump(sc))
    r = run("optimize", world["scenario"])
    # every problem at once, each located
    assert_clean_error(
        r,
        "base.yaml",
        "2 problems",
        "touchpoints.tv.mx",
        "did you mean 'max'",
        "horizon_week",
        "did you mean 'horizon_weeks'",
    )


def test_min_above_max(world):
    sc = yaml.safe_load(world["scenario"].read_text())
    sc["touchpoints"]["tv"] = {"min": 500, "max": 100}
    world["scenario"].write_text(yaml.safe_dump(sc))
    assert_clean_error(
        run("optimize", world["scenario"]),
        "base.yaml",
        "touchpoints.tv",
        "min (500) is above max (100)",
    )


def test_negative_budget(world):
    sc = yaml.safe_load(world["scenario"].read_text())
    sc["budget"] = -100
    world["scenario"].write_text(yaml.safe_dump(sc))
    assert_clean_error(run("optimize", world["scenario"]), "base.yaml", "budget", "-100")


def test_yaml_syntax_error(world):
    world["scenario"].write_text("name: x\nbudget: [1, 2\n")
    assert_clean_error(run("optimize", world["scenario"]), "base.yaml", "YAML syntax error", "line")


def test_truncated_model(world):
    text = world["model"].read_text()
    world["model"].write_text(text[: len(text) // 2])
    assert_clean_error(run("optimize", world["scenario"]), "model.json", "not valid JSON")


def test_missing_model(world):
    world["model"].unlink()
    assert_clean_error(run("optimize", world["scenario"]), "model.json", "does not exist")


def test_infeasible_names_the_conflict(world):
    sc = yaml.safe_load(world["scenario"].read_text())
    sc.update(
        budget=700000,
        touchpoints={"email": {"lock": 120000}},
        stages={"awareness": {"min": 600000}},
    )
    world["scenario"].write_text(yaml.safe_dump(sc))
    r = run("optimize", world["scenario"])
    assert_clean_error(
        r,
        "infeasible",
        "the awareness stage floor (600,000)",
        "the email lock (120,000)",
        "the budget (700,000)",
        code=3,
    )


@pytest.mark.parametrize("budget", [0, 1e12])
def test_zero_and_huge_budget_work(world, budget):
    sc = yaml.safe_load(world["scenario"].read_text())
    sc["budget"] = budget
    sc.pop("stages")
    world["scenario"].write_text(yaml.safe_dump(sc))
    r = run("optimize", world["scenario"], "--format", "json")
    assert r.exit_code == 0, r.stderr
    plan = json.loads(r.stdout)
    assert plan["status"] == "optimal"
    assert plan["total_spend"] <= budget
