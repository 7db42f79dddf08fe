"""The break-even sentence of a sweep when no budget is found where the marginal return falls to
1 (docs/cli.md, sweep): it says why, the rules' caps or a scenario that cannot be planned at any
budget, rather than always "the rules cap every line item".

Each test runs the CLI as a subprocess, as the user runs it.
"""

from __future__ import annotations

from tests.test_adv_core import run_cli, write_world
from tests.test_s14_numbers import EDGE_MODEL

#: the edge model (five exponential curves, revenue, 13 weeks): at most 13 x the betas' sum,
#: 1,833,000, at any spend
BASE = {"name": "be", "model": "model.json", "horizon_weeks": 13, "objective": "max_kpi"}


def test_floor_no_budget_reaches_is_not_called_capped(tmp_path):
    """A revenue floor of 2,000,000: no budget reaches it (the curves give at most 1,833,000), so
    every point of the sweep is infeasible and so is the break-even's own plan (max_net without
    the budget). It read "the rules cap every line item before the marginal return falls to
    1.00", which no plan showed. Truth: no budget is found, because the scenario without its
    budget is infeasible."""
    path = write_world(tmp_path, EDGE_MODEL, BASE | {"budget": 500_000})
    path.write_text(path.read_text() + "kpi_floors: {revenue: 2000000}\n")
    r = run_cli("sweep", str(path), "--budgets", "400000:600000:3", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    text = " ".join(r.stdout.split())
    assert "Infeasible at 3 budgets" in text, text
    assert "rules cap every line item" not in text, text
    assert (
        "no budget is found where the marginal return falls to 1.00: the scenario without "
        "its budget is infeasible" in text
    ), text


def test_caps_that_stop_every_line_item_are_said_so(tmp_path):
    """Every line item but d capped at 1,000 (13 weeks: under 77 a week), d at 0. A curve's
    marginal return at weekly spend w is beta/scale * exp(-w/scale): at 77 a week a 1.66, b 1.99,
    c 2.98, e 1.32 per dollar, all above 1. Truth: the rules cap every line item before the
    marginal return falls to 1.00 (the sentence kept where it is true)."""
    caps = {tp: {"max": 1000} for tp in EDGE_MODEL["touchpoints"] if tp != "d"}
    caps["d"] = {"max": 0}
    path = write_world(tmp_path, EDGE_MODEL, BASE | {"budget": 4000, "touchpoints": caps})
    r = run_cli("sweep", str(path), "--budgets", "1000:4000:4", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    text = " ".join(r.stdout.split())
    assert "the rules cap every line item before the marginal return falls to 1.00" in text, text


def test_no_crossing_words_for_every_status():
    """Review S17 R1 (doubt on 83a99ef): the reason is built from the plan's status, so a time
    limit read "the scenario without its budget is time limit". Truth: each status in words."""
    from types import SimpleNamespace

    from optimizer.explain.sentences import no_crossing

    def said(status: str) -> str:
        return no_crossing(
            SimpleNamespace(reason=f"the rules without the budget: {status}"), "1.00"
        )

    assert said("infeasible").endswith("the scenario without its budget is infeasible")
    assert said("time_limit").endswith("is not solved within its time limit")
    assert said("error").endswith("is not solved")
    assert said("not_certified").endswith("is not certified")
    assert no_crossing(SimpleNamespace(reason=""), "1.00") == (
        "the rules cap every line item before the marginal return falls to 1.00"
    )
