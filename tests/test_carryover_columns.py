"""A wide carry-over file (``carryover.before``) and the plan's touchpoints, through the CLI.

* A touchpoint the file has no column for, and no column close to its name, starts the plan with
  no carry-over (docs/file-formats.md, contract 7: ``a_0`` is zero without a carry-over). That was
  silent; now ``optimize`` and ``compare`` warn on stderr naming the file, ``carryover.before``
  and the touchpoint, and plan as before (exit 0).
* A column that is one touchpoint's name in another case (``Ratio`` for ``ratio``) is that
  touchpoint's, never a misspelling of another: with the plan's ``radio`` listed first and
  difflib finding ``radio``/``ratio`` 0.8 alike (the cutoff), the file was refused as "no column
  for the plan's touchpoint 'radio', but a column 'Ratio'". Exact names (case and separators
  aside) are matched first; the refusal now names ratio.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

TOUCHPOINTS = ("radio", "ratio", "tv")


def world(tmp: Path, carry: str) -> Path:
    """Three touchpoints with carry-over (decay 0.6), a plan by month from 2027-01-04."""
    model = {
        "kpi": "revenue",
        "period": "week",
        "touchpoints": {
            tp: {
                "stage": "awareness",
                "curve": {"family": "exponential", "beta": 3e5 * (k + 1), "scale": 2e4},
                "adstock": {"family": "geometric", "decay": 0.6},
            }
            for k, tp in enumerate(TOUCHPOINTS)
        },
    }
    (tmp / "model.json").write_text(json.dumps(model))
    sc = {
        "name": "by month",
        "model": "model.json",
        "start": "2027-01-04",
        "horizon_weeks": 13,
        "phasing": "month",
        "budget": 600000,
        "carryover": {"before": "carry.csv"},
    }
    (tmp / "s.yaml").write_text(yaml.safe_dump(sc, sort_keys=False))
    (tmp / "carry.csv").write_text(carry)
    return tmp


def optimize(tmp: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "optimizer", "optimize", "s.yaml", "--format", "json",
         "--no-ledger"],
        capture_output=True, text=True, cwd=tmp,
    )  # fmt: skip


def test_a_touchpoint_with_no_column_starts_with_no_carry_over_and_is_named(tmp_path):
    tmp = world(tmp_path, "date,tv,ratio,revenue\n2026-12-28,90000,30000,400000\n")
    r = optimize(tmp)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    line = [ln for ln in r.stderr.splitlines() if "carry-over file" in ln]
    assert len(line) == 1, r.stderr
    assert str(tmp / "carry.csv") in line[0] and "(carryover.before)" in line[0]
    assert "has no column for radio:" in line[0] and "no carry-over" in line[0]
    assert "tv" not in line[0].split("has no column for")[1]
    assert json.loads(r.stdout)["status"] == "optimal"
    # every touchpoint named: nothing said
    tmp = world(tmp_path, "date,tv,ratio,radio\n2026-12-28,90000,30000,1000\n")
    r = optimize(tmp)
    assert r.returncode == 0 and "carry-over file" not in r.stderr, r.stderr


@pytest.mark.parametrize(
    "carry, named",
    [
        ("date,tv,Ratio\n2026-12-28,90000,30000\n", "'ratio', but a column 'Ratio'"),
        ("date,tv,RADIO\n2026-12-28,90000,30000\n", "'radio', but a column 'RADIO'"),
    ],
)
def test_a_column_that_is_a_touchpoints_own_name_is_never_taken_for_another(tmp_path, carry, named):
    r = optimize(world(tmp_path, carry))
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr
    assert f"no column for the plan's touchpoint {named}" in r.stderr, r.stderr
    assert "carryover.before" in r.stderr
