"""A carry-over file (``carryover.before``) that names one of the plan's touchpoints wrongly beside
right ones, through the CLI as a subprocess, on the calendar/markets adversarial world.

c0865f6 refused a file naming *none* of the plan's touchpoints; one misspelt of two (``TV`` beside
``search``) was still planned as if tv had no carry-over: exit 0, no word, and on north.json the
plan's KPI 99,368 below the same file spelt right (2,652,577.97 against 2,751,945.74; reviewer S13
R1, finding 1). Now exit 2 naming the scenario, ``carryover.before``, the file, the touchpoint and
the column (wide) or the row (long), with nothing written. A wide history's other columns (KPI,
controls) and a touchpoint with no column and no near match are still accepted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.test_calendar_markets_adversarial import SCENARIO, cli, write_world


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    return write_world(tmp_path_factory.mktemp("carrynames"))


def optimize(world: Path, model: str, carry: str) -> tuple[int, str, dict | None]:
    scen = {**SCENARIO, "model": model, "carryover": {"before": "carry.csv", "after": True}}
    if model != "markets.json":
        for key in ("national", "markets", "owners"):
            scen.pop(key)
    (world / "c.yaml").write_text(yaml.safe_dump(scen, sort_keys=False))
    (world / "carry.csv").write_text(carry)
    out = world / "c.json"
    out.unlink(missing_ok=True)
    r = cli(["optimize", "c.yaml", "--format", "json", "-o", "c.json", "--no-ledger"], world)
    plan = json.loads(out.read_text()) if out.exists() else None
    return r.returncode, r.stderr, plan


@pytest.mark.parametrize(
    "model, carry, words",
    [
        # wide: tv's column spelt 'TV' beside a right 'search'
        (
            "north.json",
            "date,TV,search\n2026-12-28,300000,5000\n",
            ["no column for the plan's touchpoint 'tv', but a column 'TV'"],
        ),
        # wide, a history with its KPI and a control: 'serach' for search beside a right 'tv'
        (
            "north.json",
            "date,tv,serach,revenue,price_index\n2026-12-28,300000,5000,2500000,1.02\n",
            ["touchpoint 'search', but a column 'serach'"],
        ),
        # long: the row's touchpoint 'TV' beside a right 'search'
        (
            "north.json",
            "date,touchpoint,spend\n2026-12-28,TV,300000\n2026-12-28,search,5000\n",
            ["unknown touchpoint 'TV' in row 2 (did you mean 'tv'?)"],
        ),
        # long: a touchpoint the journey does not have at all
        (
            "north.json",
            "date,touchpoint,spend\n2026-12-28,tv,300000\n2026-12-28,radio,5000\n",
            ["unknown touchpoint 'radio' in row 3", "expected one of: search, social, tv"],
        ),
        # long over markets: the national buy's row spelt 'TV'
        (
            "markets.json",
            "date,market,touchpoint,spend\n2026-12-28,north,search,40000\n"
            "2026-12-28,national,TV,80000\n",
            ["unknown touchpoint 'TV' in row 3 (did you mean 'tv'?)"],
        ),
        # wide over markets
        (
            "markets.json",
            "date,market,Social,search\n2026-12-28,north,9000,40000\n",
            ["touchpoint 'social', but a column 'Social'"],
        ),
    ],
)
def test_a_carryover_file_with_one_touchpoint_misspelt_is_refused_by_name(
    world, model, carry, words
):
    rc, err, plan = optimize(world, model, carry)
    assert rc == 2, err
    assert "Traceback" not in err
    assert "c.yaml: field 'carryover.before': the carry-over file" in err
    assert "carry.csv" in err
    for w in words:
        assert w in err
    assert plan is None  # nothing written


def test_a_wide_history_s_other_columns_and_a_touchpoint_it_lacks_are_still_accepted(world):
    """A wide history has KPI and control columns, and may lack a touchpoint (no carry-over for
    social here, no column close to it). Truth: exit 0, and the plan is the one the same file
    without the other columns gives (KPI equal to the cent), above the plan with a carry-over of zeros
    (tv's 300,000 of last December works into January)."""
    rc, err, plan = optimize(
        world,
        "north.json",
        "date,tv,search,revenue,price_index\n2026-12-28,300000,5000,2500000,1.02\n",
    )
    assert rc == 0, err
    rc_bare, err_bare, bare = optimize(
        world, "north.json", "date,tv,search\n2026-12-28,300000,5000\n"
    )
    assert rc_bare == 0, err_bare
    assert plan is not None and bare is not None
    assert plan["total_kpi"] == pytest.approx(bare["total_kpi"], abs=0.005)
    rc_social, err_social, social = optimize(
        world, "north.json", "date,tv,search,social\n2026-12-28,0,0,0\n"
    )
    assert rc_social == 0, err_social
    assert social is not None
    # the carry-over is counted: the review measured tv's 300,000 at +99,368 of KPI
    assert plan["total_kpi"] > social["total_kpi"] + 90000.0
