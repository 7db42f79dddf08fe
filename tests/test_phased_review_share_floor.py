"""The review of a plan on a calendar with a stage share floor (reviewer S13 R2, finding 2).

The demo's FY26 by month with ``stages: {awareness: {min_share: 0.35}}``: the floor binds (its
shadow price about 0.166). ``explain`` told search, social, affiliates ... (none of them in the
awareness stage) "Capped by the awareness stage share floor": false. A dollar more to a line item
outside the stage must, to keep the floor, come from the others outside it, so its bar is the
month's hurdle plus 0.35 × the floor's price (KKT for a non-member: F' = hurdle + s·|y|), and it
sits at that bar: at the hurdle in the sense of the undated review, the share rule counted. And
radio (awareness, not funded) was measured against the budget's price (0.678) only, where a dollar
moved from the held-up online_video keeps the floor: its bar is online_video's own return there.

Truths checked: every non-member's bar is the month's hurdle + 0.35 × |the floor's shadow price|
(1e-6) and equals its next dollar's return there (0.5%, the role tolerance); radio's bar in a
month is the held-up online_video's return there (1e-6); the sentences quote those numbers."""

from __future__ import annotations

import json
import subprocess
import sys

import yaml

SHARE = 0.35
FLOOR = "the awareness stage share floor (35% of total spend)"


def test_a_stage_share_floor_on_a_phased_plan_caps_no_line_item_outside_it(demo_folder, tmp_path):
    sc = yaml.safe_load((demo_folder / "scenarios" / "fy26_monthly.yaml").read_text())
    sc["model"] = str(demo_folder / "model.json")
    sc["stages"] = {"awareness": {"min_share": SHARE}}
    path = tmp_path / "fy26_awareness_floor.yaml"
    path.write_text(yaml.safe_dump(sc, sort_keys=False))
    out = tmp_path / "review.json"
    r = subprocess.run(
        [sys.executable, "-m", "optimizer", "explain", "-q", "--no-ledger", "-o", str(out),
         str(path)],
        capture_output=True, text=True, cwd=tmp_path,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    doc = json.loads(out.read_text())
    y = next(
        abs(c["shadow_price"])
        for c in doc["plan"]["constraints"]
        if c["name"] == "stage_min_share__awareness"
    )
    assert y > 0.05  # the premise: the floor binds
    items = {it["id"]: it for it in doc["explanation"]["items"]}
    outside = [it for it in items.values() if it["stage"] != "awareness"]
    assert len(outside) == 11
    for it in outside:
        assert f"by {FLOOR}" not in it["reason"], (it["id"], it["reason"])
        for pr in it["periods"]:
            assert FLOOR not in pr["rules"], (it["id"], pr)
            assert abs(pr["bar"] - (pr["hurdle"] + SHARE * y)) <= 1e-6, (it["id"], pr)
            if pr["spend"] > 0 and not any("maximum" in r for r in pr["rules"]):
                assert abs(pr["marginal"] - pr["bar"]) <= 5e-3 * pr["bar"], (it["id"], pr)
    search = items["search"]
    assert search["role"] == "interior", search["reason"]
    bars = sorted(pr["bar"] for pr in search["periods"])
    hurdles = sorted(pr["hurdle"] for pr in search["periods"])
    assert (
        f"its bar there {bars[0]:.3f} to {bars[-1]:.3f}, with {FLOOR} counted" in (search["reason"])
    )
    assert f"not the hurdle itself ({hurdles[0]:.3f} to {hurdles[-1]:.3f}" in search["reason"]
    # radio, unfunded in the stage: the return it needs is the held-up member's, not 0.678
    radio, video = items["radio"], items["online_video"]
    assert radio["role"] == "unfunded" and video["role"] == "held_up"
    for pr, pv in zip(radio["periods"], video["periods"], strict=True):
        assert abs(pr["bar"] - pv["marginal"]) <= 1e-6, (pr, pv)
    jan = radio["periods"][0]
    assert jan["bar"] < jan["hurdle"] - 0.05
    assert (
        f"to win money it would need at least {jan['bar']:.3f}, with {FLOOR}" in (radio["reason"])
    )
