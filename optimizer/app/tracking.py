"""The plan ``track`` follows: a plan JSON file, or a plan recorded in the ledger."""

from __future__ import annotations

from pathlib import Path

from optimizer.allocate import Plan
from optimizer.allocate.plan_json import plan_from_dict, read_plan
from optimizer.errors import DataError
from optimizer.workflow.ledger import Ledger, is_run_reference, split_run_reference


def plan_to_track(ref: str, ledger_file: str | Path) -> tuple[Plan, str | None]:
    """The plan ``ref`` names, and the model file its run read (None for a plan file).

    ``ref`` is a plan file when a file of that name exists; otherwise it must be written as a
    recorded run is named (``RUN[:SCENARIO]``: an id, a start of one, ``last`` or ``last~N``), and
    anything else is a plan file that does not exist."""
    p = Path(ref)
    if p.exists():
        return _something_to_track(read_plan(p), ref), None
    if not is_run_reference(ref):
        raise DataError(
            "the plan file does not exist (PLAN is a plan JSON file or a recorded run: "
            "RUN[:SCENARIO])",
            path=p,
        )
    run_id, which = split_run_reference(ref)
    with Ledger(ledger_file, create=False) as led:
        r = led.get(run_id)
    model = next((f.path for f in r.inputs if f.role == "model"), None)
    return _something_to_track(plan_from_dict(r.plan(which)), ref), model


def _something_to_track(plan: Plan, ref: str) -> Plan:
    """The plan, when it has line items: an infeasible plan (or a hand-emptied file) has none,
    and its actuals were refused as "unknown touchpoint 'tv'", blaming the actuals."""
    if not plan.line_items:
        raise DataError(
            f"the plan has no line items (status {plan.status}"
            + (f": {plan.message}" if plan.message else "")
            + "): there is nothing to track against",
            path=ref,
            field="line_items",
        )
    return plan


def run_scenario(ref: str, ledger_file: str | Path) -> tuple[Path | None, str | None]:
    """The scenario file an ``optimize`` or ``replan`` run ``ref`` read, when it is unchanged
    since (so that ``track`` can check the run-rate against its rules), else None and why."""
    import hashlib

    if Path(ref).exists() or not is_run_reference(ref):
        return None, None
    run_id, _which = split_run_reference(ref)
    with Ledger(ledger_file, create=False) as led:
        r = led.get(run_id)
    if r.command not in ("optimize", "replan"):
        return None, None
    f = next((f for f in r.inputs if f.role == "scenario"), None)
    if f is None:
        return None, None
    p = Path(f.path)
    if not p.is_file():
        return None, f"the run's scenario {p} is gone: its rules are not checked (--scenario)"
    if hashlib.sha256(p.read_bytes()).hexdigest() != f.sha256:
        return None, (
            f"the run's scenario {p} has changed since the run: its rules are not checked "
            "(give --scenario to check them against the file as it is now)"
        )
    return p, None
