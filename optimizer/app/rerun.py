"""Re-running a recorded run: compute it again from the same specification, from its input files
as they are now (or from the copies the ledger holds), and compare the plans bit for bit."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from optimizer.allocate.plan_json import plan_to_dict
from optimizer.app.run import COMMANDS, RunSpec, execute, plans_of
from optimizer.formatting import money
from optimizer.progress import Progress
from optimizer.workflow.ledger import Ledger, LedgerError, Run, canonical, sha256_file


@dataclass(frozen=True)
class Rerun:
    """A run computed again, and how it compares with what was recorded."""

    run: Run
    spec: RunSpec  # as re-run (paths into the snapshot with ``from_snapshot``)
    plans: tuple[dict[str, Any], ...]  # the new plans, contract 6
    identical: bool  # bit-identical JSON, plan by plan
    changed_inputs: tuple[str, ...]  # messages: files changed or missing since the run
    differences: tuple[str, ...]  # per plan that differs: what moved
    from_snapshot: bool
    result: Any = None


def spec_of(run: Run) -> RunSpec:
    """The specification of a recorded run."""
    if run.command not in COMMANDS:
        raise LedgerError(
            f"run {run.id} is a {run.command!r} run; only {', '.join(COMMANDS)} runs can be re-run"
        )
    return RunSpec.from_options(run.command, run.options)


def changed_inputs(run: Run) -> list[str]:
    """Input files that changed (or disappeared) since the run, in words."""
    out = []
    for f in run.inputs:
        p = Path(f.path)
        if not p.exists():
            out.append(f"{f.path} ({f.role}) no longer exists")
        elif sha256_file(p) != f.sha256:
            out.append(
                f"{f.path} ({f.role}) has changed since the run (sha256 "
                f"{f.sha256[:12]}… then, {sha256_file(p)[:12]}… now)"
            )
    return out


def _snapshot(ledger: Ledger, run: Run, root: Path) -> dict[str, str]:
    """Write the run's recorded input files under ``root``, each at its absolute path mirrored,
    so that relative references between them (``extends:``, ``model:``) still resolve."""
    mapping: dict[str, str] = {}
    for f in run.inputs:
        data = ledger.blob(f.sha256)
        if data is None:
            raise LedgerError(f"the ledger holds no copy of {f.path}", path=ledger.path)
        p = Path(f.path)
        target = root / p.relative_to(p.anchor)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        mapping[f.path] = str(target)
    return mapping


def rerun(
    ledger: Ledger, run: Run, *, snapshot: bool = False, progress: Progress | None = None
) -> Rerun:
    """Compute ``run`` again with the same specification, from its input files as they are now
    (or, with ``snapshot``, from the copies the ledger holds), and compare the plans with the
    recorded ones, bit for bit."""
    spec = spec_of(run)
    changed = [] if snapshot else changed_inputs(run)
    with tempfile.TemporaryDirectory(prefix="budgetopt-rerun-") as tmp:
        if snapshot:
            mapping = _snapshot(ledger, run, Path(tmp))

            def remap(p: str) -> str:
                return mapping.get(str(Path(p).resolve()), mapping.get(p, p))

            spec = spec.with_paths(remap)
        result = execute(spec, progress=progress)
    new = tuple(plan_to_dict(p) for p in plans_of(result))
    diffs = []
    if len(new) != len(run.plans):
        diffs.append(f"{len(run.plans)} plans then, {len(new)} now")
    for old, now in zip(run.plans, new, strict=False):
        if canonical(old) != canonical(now):
            diffs.append(_plan_difference(old, now))
    return Rerun(run, spec, new, not diffs, tuple(changed), tuple(diffs), snapshot, result)


def _plan_difference(old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    name = new.get("scenario", old.get("scenario"))
    spend_old = {li["id"]: li["spend"] for li in old.get("line_items", [])}
    moves = [
        (abs(li["spend"] - spend_old.get(li["id"], 0.0)), li["id"])
        for li in new.get("line_items", [])
    ]
    worst = max(moves, default=(0.0, ""))
    kpi_then, kpi_now = old.get("total_kpi"), new.get("total_kpi")
    parts = [f"'{name}' differs"]
    if old.get("status") != new.get("status"):
        parts.append(f"status {old.get('status')} then, {new.get('status')} now")
    if isinstance(kpi_then, (int, float)) and isinstance(kpi_now, (int, float)):
        parts.append(f"total KPI {money(kpi_then, 'any')} then, {money(kpi_now, 'any')} now")
    if worst[0] > 0:
        parts.append(f"largest spend move {money(worst[0], 'any')} ({worst[1]})")
    return ": ".join(parts[:1]) + (
        ": " + "; ".join(parts[1:]) if len(parts) > 1 else ": same numbers, different details"
    )
