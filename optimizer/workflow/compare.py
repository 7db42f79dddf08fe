"""Compare plans side by side, and run the whole job on the sample company."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from optimizer.allocate import AllocationProblem, Plan, make_problem, plan_problem
from optimizer.errors import ScenarioError
from optimizer.formatting import did_you_mean
from optimizer.progress import Progress
from optimizer.response.model import CurveSet, ResponseModel, read_model
from optimizer.scenario import Scenario, load_scenario
from optimizer.scenario.rules import kind_of

if TYPE_CHECKING:
    import pandas as pd

    from optimizer.workflow.executor import Executor

#: how far a binding rule is relaxed to price it in ``constraint_costs``: 10% of its amount
RELAX = 0.10


@dataclass(frozen=True)
class ConstraintCost:
    """What a binding rule costs: the objective gained if it were relaxed by ``RELAX``.

    ``gain = |shadow_price| × relaxed_by`` (first order), where ``relaxed_by`` is 10% of the
    rule's amount: of its right-hand side for a money rule, of ``share × total spend`` for a share
    rule, of ``ratio × the denominator's spend`` for a ratio rule.
    """

    name: str
    label: str
    kind: str
    shadow_price: float
    relaxed_by: float
    gain: float
    unit: str  # the objective's unit: the KPI's name, "net value" or "spend"


@dataclass(frozen=True)
class Comparison:
    """Plans for several scenarios; the first is the reference the deltas are taken against."""

    plans: tuple[Plan, ...]
    reference: int = 0
    costs: tuple[tuple[ConstraintCost, ...], ...] = ()  # per plan, costliest first

    @property
    def reference_plan(self) -> Plan:
        return self.plans[self.reference]

    def summary(self) -> pd.DataFrame:
        """One row per scenario: status, total spend, KPI, ROI, marginal ROI, KPI vs reference."""
        import pandas as pd

        ref = self.reference_plan
        rows = []
        for p in self.plans:
            rows.append(
                {
                    "scenario": p.scenario,
                    "status": p.status,
                    "total_spend": p.total_spend,
                    "total_kpi": p.total_kpi,
                    "roi": p.roi,
                    "marginal_roi": p.budget_shadow_price,
                    "delta_spend": p.total_spend - ref.total_spend if p.ok and ref.ok else None,
                    "delta_kpi": p.total_kpi - ref.total_kpi if p.ok and ref.ok else None,
                }
            )
        return pd.DataFrame(rows)

    def by_stage(self) -> pd.DataFrame:
        """Spend per stage (rows) and scenario (columns)."""
        import pandas as pd

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

    def by_total(self, what: str) -> pd.DataFrame:
        """Spend per market or per owner (``what``: "market" / "owner"; rows) and scenario
        (columns); empty when no plan has any."""
        import pandas as pd

        totals = {
            p.scenario: (p.market_totals() if what == "market" else p.owner_totals())
            for p in self.plans
        }
        names = list(dict.fromkeys(n for t in totals.values() for n in t))
        data = {s: [t.get(n, {}).get("spend", 0.0) for n in names] for s, t in totals.items()}
        return pd.DataFrame(data, index=pd.Index(names, name=what))

    def line_item_labels(self) -> dict[str, dict[str, str]]:
        """Each line item's ``market`` and ``owner`` by its key, for the columns that hold them
        (a column only when some line item has one; a national buy's market is ``""``)."""
        items = {li.key: li for p in self.plans for li in p.line_items}
        out: dict[str, dict[str, str]] = {}
        if any(li.market is not None for li in items.values()):
            out["market"] = {k: li.market or "" for k, li in items.items()}
        if any(li.owner for li in items.values()):
            out["owner"] = {k: li.owner or "" for k, li in items.items()}
        return out

    def by_line_item(self) -> pd.DataFrame:
        """Spend per line item per scenario, with deltas against the reference: the reference's
        line items first, then any other plan's that the reference lacks (a national buy beside
        the same touchpoint bought market by market), so that every plan's column sums to its
        total."""
        import pandas as pd

        ref = self.reference_plan
        ids = list(
            dict.fromkeys(
                [li.key for li in ref.line_items]
                + [li.key for p in self.plans for li in p.line_items]
            )
        )
        stage = {li.key: li.stage for p in self.plans for li in p.line_items}
        out = pd.DataFrame(index=pd.Index(ids, name="line_item"))
        out["stage"] = [stage.get(i, "") for i in ids]
        ref_spend = {li.key: li.spend for li in ref.line_items}
        for k, p in enumerate(self.plans):
            sp = {li.key: li.spend for li in p.line_items}
            out[p.scenario] = [sp.get(i, 0.0) for i in ids]
            if k != self.reference:
                out[f"Δ {p.scenario}"] = [
                    round(sp.get(i, 0.0) - ref_spend.get(i, 0.0), 2) for i in ids
                ]
        return out

    def line_item_deltas(self) -> pd.DataFrame:
        """Spend and KPI per line item for every plan, with deltas against the reference.

        Columns ``stage``, then per plan ``spend: NAME``, ``kpi: NAME`` and, for the others,
        ``Δ spend: NAME``, ``Δ kpi: NAME``.
        """
        import pandas as pd

        ref = self.reference_plan
        ids = list(dict.fromkeys([li.key for p in self.plans for li in p.line_items]))
        stage = {li.key: li.stage for p in self.plans for li in p.line_items}
        out = pd.DataFrame(index=pd.Index(ids, name="line_item"))
        out["stage"] = [stage.get(i, "") for i in ids]
        ref_sp = {li.key: li.spend for li in ref.line_items}
        ref_kpi = {li.key: li.kpi for li in ref.line_items}
        for k, p in enumerate(self.plans):
            sp = {li.key: li.spend for li in p.line_items}
            kp = {li.key: li.kpi for li in p.line_items}
            out[f"spend: {p.scenario}"] = [sp.get(i, 0.0) for i in ids]
            out[f"kpi: {p.scenario}"] = [kp.get(i, 0.0) for i in ids]
            if k != self.reference:
                out[f"Δ spend: {p.scenario}"] = [
                    round(sp.get(i, 0.0) - ref_sp.get(i, 0.0), 2) for i in ids
                ]
                out[f"Δ kpi: {p.scenario}"] = [kp.get(i, 0.0) - ref_kpi.get(i, 0.0) for i in ids]
        return out

    def costs_of(self, k: int) -> tuple[ConstraintCost, ...]:
        """The costliest binding rules of plan ``k`` (empty when not computed)."""
        return self.costs[k] if k < len(self.costs) else ()


def constraint_costs(
    plan: Plan, problem: AllocationProblem, top: int = 3, relax: float = RELAX
) -> tuple[ConstraintCost, ...]:
    """The ``top`` binding rules of ``plan`` that cost the most objective (see ``ConstraintCost``).

    The budget (and a ``min_spend`` KPI target) are left out: their price is the plan's marginal
    ROI. Rules with no shadow price, or not binding, cost nothing.
    """
    if not plan.ok:
        return ()
    spend = {li.key: li.spend for li in plan.line_items}
    x = [spend.get(it.key, 0.0) for it in problem.items]
    return _costs(plan, problem.constraints, x, top, relax)


def phased_constraint_costs(
    plan: Plan, problem: Any, top: int = 3, relax: float = RELAX
) -> tuple[ConstraintCost, ...]:
    """``constraint_costs`` of a plan on a calendar (``problem``: its ``PhasedProblem``): the
    registry's rows over line items touchpoint × period — period caps and floors, per-period
    rules, change limits, totals — each priced by its shadow price × 10% of its amount at the
    plan's period spend."""
    if not plan.ok or not problem.sources:
        return ()
    P = problem.P
    x = [0.0] * (problem.n * P)
    by = {li.key: li for li in plan.line_items}
    for it in problem.base.items:
        li = by.get(it.key)
        if li is not None:
            for p, pa in enumerate(li.periods[:P]):
                x[it.index * P + p] = pa.spend
    return _costs(plan, problem.sources, x, top, relax)


def _costs(
    plan: Plan, constraints: Sequence[Any], x: Sequence[float], top: int, relax: float
) -> tuple[ConstraintCost, ...]:
    unit = {"max_kpi": plan.kpi, "max_net": "net value", "min_spend": "spend"}.get(
        plan.objective, plan.kpi
    )
    out = []
    for con in constraints:
        kind = kind_of(con.kind)
        if not kind.costed:
            continue
        try:
            res = plan.constraint(con.name)
        except KeyError:
            continue
        y = res.shadow_price
        if not res.binding or not y:
            continue
        amount = kind.amount(con, x)
        relaxed = relax * amount
        out.append(
            ConstraintCost(
                con.name,
                con.label,
                con.kind,
                float(y),
                float(relaxed),
                float(abs(y) * relaxed),
                unit,
            )
        )
    out.sort(key=lambda c: (-c.gain, c.name))
    return tuple(out[:top])


def find_reference(names: Sequence[str], reference: str | int | None) -> int:
    """Index of the reference scenario: by name (exact), by position, or the first."""
    if reference is None:
        return 0
    if isinstance(reference, int):
        if not 0 <= reference < len(names):
            raise ScenarioError(f"there is no scenario number {reference}", field="--reference")
        return reference
    if reference in names:
        return list(names).index(reference)
    raise ScenarioError(
        f"no scenario is named {reference!r}{did_you_mean(reference, names)}", field="--reference"
    )


def _named_model(scenario: Scenario, path: str, field: str) -> ResponseModel:
    """``read_model(path)`` for a model the scenario names: a file that does not exist is the
    scenario's error, naming its file, the field and the path (the model's own reader can only
    name the path)."""
    if not os.path.lexists(path):  # a symlink (a loop too) is read_model's to answer
        raise ScenarioError(
            f"the model file it names does not exist: {path}", path=scenario.source, field=field
        )
    return read_model(path)


def load_model_for(
    scenario: Scenario, cache: dict[str, ResponseModel] | None = None
) -> ResponseModel:
    cache = {} if cache is None else cache
    key = scenario.model
    if key not in cache:
        cache[key] = _named_model(scenario, key, "model")
    return cache[key]


def load_scenarios(paths: Sequence[str | Path], *, expand_variants: bool = True) -> list[Scenario]:
    """Load and validate every scenario file (all before any is solved); a file that declares
    variants or a grid stands for itself and each of them, one that declares only a sweep for
    itself and each of its budgets (``workflow.variants``)."""
    from optimizer.workflow.variants import expand, unique_names

    out: list[Scenario] = []
    for p in paths:
        sc = load_scenario(p)
        # a declared sweep is the sweep command's; compared only by a file that declares nothing else
        alone = not (sc.variants or sc.grid)
        out.extend(expand(sc, sweep=alone) if expand_variants else [sc])
    return unique_names(out)


def extra_models_for(
    scenario: Scenario, cache: dict[str, ResponseModel] | None = None
) -> dict[str, ResponseModel]:
    """Other KPIs' models a scenario names under ``models:`` (KPI id → model)."""
    cache = {} if cache is None else cache
    out = {}
    for k, path in scenario.models.items():
        if path not in cache:
            cache[path] = _named_model(scenario, path, f"models.{k}")
        out[k] = cache[path]
    return out


def run_scenarios(
    paths: Sequence[str | Path],
    *,
    solver: str = "highs",
    tolerance: float = 1e-4,
    time_limit: float | None = None,
    model_override: ResponseModel | None = None,
    reference: str | int | None = None,
    expand_variants: bool = True,
    progress: Progress | None = None,
    executor: Executor | None = None,
) -> Comparison:
    """Load, validate and optimise each scenario file; one model read per distinct model path.

    Parameters
    ----------
    reference : the scenario the deltas are taken against, by name or position (default first).
    expand_variants : a file that declares variants stands for itself and each of them.
    progress : called with (scenarios done, scenarios in all, name) as plans are done.
    executor : where the scenarios are solved (default in-process; see ``compare_scenarios``).
    """
    scenarios = load_scenarios(paths, expand_variants=expand_variants)
    if expand_variants:  # a variant's model errors name the variant (validate says the same)
        from optimizer.workflow.variants import check_variants_against_model

        cache: dict[str, ResponseModel] = {}
        for p in paths:
            sc = load_scenario(p)
            if sc.variants or sc.grid:
                model = model_override if model_override is not None else load_model_for(sc, cache)
                check_variants_against_model(sc, model, extra_models_for(sc, cache))
    return compare_scenarios(
        scenarios,
        solver=solver,
        tolerance=tolerance,
        time_limit=time_limit,
        model_override=model_override,
        reference=reference,
        progress=progress,
        executor=executor,
    )


def compare_scenarios(
    scenarios: Sequence[Scenario],
    *,
    solver: str = "highs",
    tolerance: float = 1e-4,
    time_limit: float | None = None,
    model_override: CurveSet | None = None,
    reference: str | int | None = None,
    progress: Progress | None = None,
    executor: Executor | None = None,
) -> Comparison:
    """Optimise each scenario; the comparison, with each plan's costliest binding rules.

    The models are read here, once per file; each scenario is then solved as one task of
    ``executor`` (in-process by default, or local processes, or a Dask cluster: see
    ``optimizer.workflow.executor``). A task is a pure function of its scenario and models, so
    the plans are the same wherever they are solved.
    """
    from optimizer.workflow.executor import using

    ref = find_reference([sc.name for sc in scenarios], reference)
    cache: dict[str, ResponseModel] = {}
    opts = {"solver": solver, "tolerance": tolerance, "time_limit": time_limit}
    tasks = []
    for sc in scenarios:
        model = model_override if model_override is not None else load_model_for(sc, cache)
        tasks.append((sc, model, extra_models_for(sc, cache), opts))
    step = None
    if progress is not None:

        def step(done: int, total: int, k: int) -> None:
            progress(done, total, scenarios[k].name)

    with using(executor) as ex:
        results = ex.map(solve_scenario, tasks, progress=step)
    plans = tuple(p for p, _ in results)
    costs = tuple(c for _, c in results)
    return Comparison(plans, ref, costs)


def solve_scenario(
    task: tuple[Scenario, CurveSet, Mapping[str, CurveSet], Mapping[str, Any]],
) -> tuple[Plan, tuple[ConstraintCost, ...]]:
    """One scenario's plan and its costliest binding rules: one task of a comparison."""
    sc, model, extra, opts = task
    # as allocate does; the problem is kept to price the binding rules
    from optimizer.workflow.economics import with_economics

    if getattr(sc, "is_phased", False):
        # a plan on a calendar (contract 7): planned period by period, its binding rules (period
        # rules included) priced on its rows over touchpoint × period
        from optimizer.allocate.phased import allocate_phased, phased_problem

        phased = phased_problem(sc, model, extra_models=dict(extra))
        plan = allocate_phased(
            sc,
            model,
            extra_models=dict(extra),
            tolerance=opts.get("tolerance") or 1e-4,
            time_limit=opts.get("time_limit"),
            problem=phased,
        )
        costs = phased_constraint_costs(plan, phased)
        return with_economics(sc, model, plan, extra_models=extra, **opts), costs
    problem = make_problem(sc, model, extra_models=dict(extra))
    # as optimize plans it (a min_spend budget at its least spend, the target a budget reaches)
    plan = plan_problem(problem, **opts)
    costs = constraint_costs(plan, problem)
    # break-even and extrapolation, in the task (one more solve, on the worker)
    return with_economics(sc, model, plan, extra_models=extra, **opts), costs
