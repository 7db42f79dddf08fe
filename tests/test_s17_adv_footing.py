"""Adversarial pass (session 17): the money of ``compare`` and ``track`` tables over markets
reconciles as shown. Through the CLI's terminal tables, on the markets world of
``tests/test_markets_control.py`` (3 markets x 4 touchpoints, t0 a national buy by population,
owners Brand: t0, Performance: t1 and t2, E-commerce: t3)."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from tests import test_markets_control as control

world = control.world  # that module's fixture: the world, planned (--format json) once


def wide(args, cwd: Path) -> str:
    env = {**os.environ, "COLUMNS": "250"}
    r = subprocess.run(
        [sys.executable, "-m", "optimizer", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
    )
    assert r.returncode == 0, r.stderr
    return r.stdout


def table(out: str, title: str) -> dict[str, list[float]]:
    """The rows of the terminal table titled ``title``: first cell -> its amounts."""
    lines = out.splitlines()
    k = next(i for i, s in enumerate(lines) if s.strip() == title)
    k = next(i for i in range(k, len(lines)) if "───" in lines[i])  # the header's rule
    rows: dict[str, list[float]] = {}
    for s in lines[k + 1 :]:
        if not s.strip():
            break
        cells = s.split()
        nums = [c for c in cells[1:] if c.replace(",", "").lstrip("+-").isdigit() or c == "0"]
        rows[cells[0]] = [float(c.replace(",", "")) for c in nums]
    return rows


def test_compare_owner_reads_as_the_sum_of_its_line_items(world):
    """'feb tight' caps February at 30,000: t0@national, Brand's one line item, read 45,604
    and Brand 45,603 (each table rounded on its own). Truth: an owner's spend, and a stage's,
    is the sum of its line items as shown, in every scenario's column."""
    _w, path, plan = world
    (path / "q.yaml").write_text(
        yaml.safe_dump(
            {
                "name": "national Q1",
                "extends": "s.yaml",
                "variants": {"feb tight": {"periods": {"2027-02": {"max": 30000}}}},
            }
        )
    )
    out = wide(["compare", "q.yaml", "--no-ledger"], path)
    items = table(out, "spend by line item (Δ against national Q1)")
    owner = {f"{li['id']}@{li['market'] or 'national'}": li["owner"] for li in plan["line_items"]}
    stage = {f"{li['id']}@{li['market'] or 'national'}": li["stage"] for li in plan["line_items"]}
    for title, member in (("spend by owner", owner), ("spend by stage", stage)):
        groups = table(out, title)
        assert groups, title
        for name, (ref, tight) in groups.items():
            mine = [v for k, v in items.items() if member[k] == name]
            assert ref == sum(v[0] for v in mine), (title, name)
            assert tight == sum(v[1] for v in mine), (title, name)  # v[2] is its Δ


def test_track_tables_foot_as_shown(world):
    """The undated plan of the same world, 4 of 13 weeks spent exactly at its pace: the line
    items' 'plan to date' and 'actual' summed to 92,309 as shown beside the total's 92,308, the
    markets' to 92,307. Truth: every column of the line items, stages, markets and owners
    sums to the total as shown, and each variance is its row's actual - plan to date."""
    _w, path, _plan = world
    data = yaml.safe_load((path / "s.yaml").read_text())
    for k in ("start", "phasing", "periods"):
        data.pop(k)
    (path / "u.yaml").write_text(yaml.safe_dump({**data, "name": "undated"}))
    wide(["optimize", "u.yaml", "--format", "json", "-o", "u.json", "--no-ledger"], path)
    plan = json.loads((path / "u.json").read_text())
    rows = [
        (dt.date(2027, 1, 4) + dt.timedelta(weeks=k), li["market"] or "national", li["id"])
        for li in plan["line_items"]
        for k in range(4)
    ]
    spend = {(li["market"] or "national", li["id"]): li["spend"] / 13 for li in plan["line_items"]}
    text = "date,market,touchpoint,spend\n" + "".join(
        f"{d},{m},{t},{spend[(m, t)]}\n" for d, m, t in rows
    )
    (path / "u_act.csv").write_text(text)
    out = wide(["track", "u.json", "u_act.csv", "--scenario", "u.yaml"], path)
    items = table(out, "undated: week 4 of 13, actual spend against the plan to date")
    total = items.pop("total")
    assert len(items) == len(plan["line_items"])
    for title in (None, "by stage", "by market", "by owner"):
        rows_ = items if title is None else table(out, title)
        for j in range(4):  # plan, plan to date, actual, variance
            assert sum(v[j] for v in rows_.values()) == total[j], (title, j)
        for name, v in rows_.items():
            assert v[3] == v[2] - v[1], (title, name)
