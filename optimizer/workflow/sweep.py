"""The budget frontier: optimise one scenario at many budgets."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optimizer.allocate import Plan, allocate
from optimizer.errors import ScenarioError
from optimizer.response.model import CurveSet
from optimizer.scenario import Scenario


@dataclass(frozen=True)
class Frontier:
    scenario: str
    plans: tuple[Plan, ...]

    @property
    def budgets(self) -> np.ndarray:
        return np.array([p.budget for p in self.plans], dtype=float)

    @staticmethod
    def marginal(p: Plan) -> float | None:
        """KPI per extra unit of budget at this point. At a zero budget the LP's dual is degenerate,
        so it is the best first-dollar return of any line item instead."""
        if not p.ok:
            return None
        if p.total_spend == 0 and p.line_items:
            return max(li.marginal_roi for li in p.line_items)
        return p.budget_shadow_price

    def points(self) -> list[dict[str, float | str | None]]:
        return [{"budget": p.budget, "status": p.status, "total_spend": p.total_spend,
                 "total_kpi": p.total_kpi if p.ok else None,
                 "marginal_roi": self.marginal(p),
                 "roi": p.roi if p.ok else None}
                for p in self.plans]

    def knee(self) -> int | None:
        """Index of the point of diminishing returns: the knee of the frontier, where the KPI
        curve (scaled to [0, 1] on both axes) lies furthest above the chord from its first to its
        last point (the 'kneedle' rule). None with fewer than three feasible points."""
        ok = [(i, p) for i, p in enumerate(self.plans) if p.ok]
        if len(ok) < 3:
            return None
        b = np.array([p.budget for _, p in ok], float)
        k = np.array([p.total_kpi for _, p in ok], float)
        if b[-1] == b[0] or k[-1] == k[0]:
            return None
        d = (k - k[0]) / (k[-1] - k[0]) - (b - b[0]) / (b[-1] - b[0])
        j = int(np.argmax(d))
        return ok[j][0] if d[j] > 0 else None


def parse_budgets(spec: str) -> np.ndarray:
    """``START:STOP:N``: N evenly spaced budgets from START to STOP, both included."""
    parts = spec.split(":")
    try:
        if len(parts) != 3:
            raise ValueError
        start, stop, n = float(parts[0]), float(parts[1]), int(parts[2])
    except ValueError:
        raise ScenarioError(f"expected START:STOP:N (e.g. 500000:2000000:16), got {spec!r}",
                            field="--budgets") from None
    if n < 1 or start < 0 or stop < start:
        raise ScenarioError(f"need 0 <= START <= STOP and N >= 1, got {spec!r}", field="--budgets")
    return np.linspace(start, stop, n)


def sweep(scenario: Scenario, model: CurveSet, budgets: np.ndarray, **kw) -> Frontier:
    if scenario.objective != "max_kpi":
        raise ScenarioError("a budget sweep needs objective max_kpi", path=scenario.source,
                            field="objective")
    plans = tuple(allocate(scenario.with_budget(float(b)), model, **kw) for b in budgets)
    return Frontier(scenario.name, plans)
