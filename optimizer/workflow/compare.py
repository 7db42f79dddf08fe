"""Compare plans side by side, and run the whole job on the sample company."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from optimizer.allocate import Plan, allocate
from optimizer.response.model import ResponseModel, read_model
from optimizer.scenario import Scenario, load_scenario


@dataclass(frozen=True)
class Comparison:
    """Plans for several scenarios; the first is the reference the deltas are taken against."""

    plans: tuple[Plan, ...]
    reference: int = 0

    @property
    def reference_plan(self) -> Plan:
        return self.plans[self.reference]

    def summary(self) -> pd.DataFrame:
        """One row per scenario: status, total spend, KPI, ROI, marginal ROI, KPI vs reference."""
        ref = self.reference_plan
        rows = []
        for p in self.plans:
            rows.append({
                "scenario": p.scenario, "status": p.status, "total_spend": p.total_spend,
                "total_kpi": p.total_kpi, "roi": p.roi, "marginal_roi": p.budget_shadow_price,
                "delta_spend": p.total_spend - ref.total_spend if p.ok and ref.ok else None,
                "delta_kpi": p.total_kpi - ref.total_kpi if p.ok and ref.ok else None,
            })
        return pd.DataFrame(rows)

    def by_stage(self) -> pd.DataFrame:
        """Spend per stage (rows) and scenario (columns)."""
        stages: list[str] = []
        for p in self.plans:
            for st in p.stages:
                if st not in stages:
                    stages.append(st)
        data = {}
        for p in self.plans:
            tot = p.stage_totals()
            data[p.scenario] = [tot.get(st, {}).get("spend", 0.0) for st in stages]
        df = pd.DataFrame(data, index=pd.Index(stages, name="stage"))
        return df.loc[(df != 0).any(axis=1)] if len(df) else df

    def by_line_item(self) -> pd.DataFrame:
        """Spend per line item per scenario, with deltas against the reference."""
        ref = self.reference_plan
        ids = [li.id for li in ref.line_items] or [li.id for p in self.plans for li in p.line_items]
        ids = list(dict.fromkeys(ids))
        stage = {li.id: li.stage for p in self.plans for li in p.line_items}
        out = pd.DataFrame(index=pd.Index(ids, name="line_item"))
        out["stage"] = [stage.get(i, "") for i in ids]
        ref_spend = {li.id: li.spend for li in ref.line_items}
        for k, p in enumerate(self.plans):
            sp = {li.id: li.spend for li in p.line_items}
            out[p.scenario] = [sp.get(i, 0.0) for i in ids]
            if k != self.reference:
                out[f"Δ {p.scenario}"] = [round(sp.get(i, 0.0) - ref_spend.get(i, 0.0), 2)
                                          for i in ids]
        return out


def load_model_for(scenario: Scenario, cache: dict[str, ResponseModel] | None = None) -> ResponseModel:
    cache = {} if cache is None else cache
    key = scenario.model
    if key not in cache:
        cache[key] = read_model(key)
    return cache[key]


def run_scenarios(paths: Sequence[str | Path], *, solver: str = "highs",
                  tolerance: float = 1e-4, time_limit: float | None = None,
                  model_override: ResponseModel | None = None) -> Comparison:
    """Load, validate and optimise each scenario file; one model read per distinct model path."""
    cache: dict[str, ResponseModel] = {}
    scenarios = [load_scenario(p) for p in paths]  # validate all before solving any
    plans = []
    for sc in scenarios:
        model = model_override if model_override is not None else load_model_for(sc, cache)
        plans.append(allocate(sc, model, solver=solver, tolerance=tolerance, time_limit=time_limit))
    return Comparison(tuple(plans))
