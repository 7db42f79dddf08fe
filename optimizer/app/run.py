"""Runs: what ``optimize``, ``compare``, ``sweep`` and ``replan`` compute, as one typed
specification that the command line builds, the ledger stores and ``rerun`` replays.

A ``RunSpec`` holds everything a run's plans depend on (the scenario files, the model override,
the solver and its tolerance, and per command its own options); ``execute`` computes it. Where a
run is solved (in-process, processes, a Dask cluster) is not part of it: the plans do not depend
on it. ``record`` writes a run's plans and input files to the ledger, which only stores.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from optimizer.allocate import DEFAULT_SOLVER, DEFAULT_TOLERANCE, Plan
from optimizer.allocate.plan_json import plan_to_dict
from optimizer.defaults import COMMANDS, RECORDED, Command
from optimizer.errors import BudgetOptError, InfeasibleError, ScenarioError
from optimizer.progress import Progress
from optimizer.response.model import ResponseModel, read_model
from optimizer.scenario import Scenario, load_scenario
from optimizer.workflow.compare import (
    Comparison,
    extra_models_for,
    load_model_for,
    load_scenarios,
    run_scenarios,
)
from optimizer.workflow.control import Replan, read_actuals, replan
from optimizer.workflow.ledger import InputFile, Ledger, LedgerError, Run, collect_inputs
from optimizer.workflow.robust import DEFAULT_ROBUST, ROBUST_MODES, optimize_scenario
from optimizer.workflow.sweep import DEFAULT_SWEEP_JOBS, Frontier, sweep

if TYPE_CHECKING:
    from optimizer.workflow.executor import Executor
    from optimizer.workflow.robust import Uncertainty

ROBUST_CHOICES = ROBUST_MODES  # optimize --robust
#: what ``execute`` returns, per command: Plan, Comparison, Frontier, Replan
RunResult = Plan | Comparison | Frontier | Replan

#: the options each command records, beside the common ones (as the ledger has always held them)
_OWN_OPTIONS: dict[str, tuple[str, ...]] = {
    "optimize": ("robust", "risk"),
    "compare": ("reference",),
    "sweep": ("budgets", "warm", "jobs"),
    "replan": ("actuals", "weeks_elapsed", "frequency"),
    "explain": (),
}
_COMMON = ("scenarios", "model", "solver", "tolerance", "time_limit")


@dataclass(frozen=True)
class RunSpec:
    """One run of ``command``: what its plans depend on, nothing else."""

    command: Command
    scenarios: tuple[str, ...]
    model: str | None = None  # a model for every scenario instead of the ones they name
    solver: str = DEFAULT_SOLVER
    tolerance: float = DEFAULT_TOLERANCE
    time_limit: float | None = None
    robust: str = DEFAULT_ROBUST  # optimize: none | mean | anchored | auto
    risk: float | None = None  # optimize --robust anchored: its risk (None: the default)
    reference: str | None = None  # compare: the scenario the deltas are taken against
    expand_variants: bool = True  # compare: a file that declares variants stands for them all
    budgets: tuple[float, ...] | None = None  # sweep: None = the scenario's declared sweep
    warm: bool = True  # sweep: each budget warm from the previous one
    jobs: int = DEFAULT_SWEEP_JOBS  # sweep: local processes
    actuals: str | None = None  # replan: spend to date (CSV)
    weeks_elapsed: int | None = None  # replan
    frequency: str | None = None  # replan: the actuals' week | month (None: told from the dates)

    def __post_init__(self) -> None:
        if self.command not in RECORDED:
            raise LedgerError(
                f"cannot run a {self.command!r} run (runs of {', '.join(COMMANDS)} can be re-run)"
            )
        if not self.scenarios:
            raise ScenarioError("a run needs at least one scenario file")

    # --------------------------------------------------------------------------------------------
    def options(self) -> dict[str, Any]:
        """The options as the ledger records them: the common ones and the command's own."""
        d = dataclasses.asdict(self)
        keys = (*_COMMON, *_OWN_OPTIONS[self.command])
        out = {k: d[k] for k in keys}
        out["scenarios"] = list(self.scenarios)
        for k in ("risk", "frequency"):  # recorded only when given (older runs have no key)
            if k in out and out[k] is None:
                del out[k]
        if out.get("budgets") is not None:
            out["budgets"] = list(out["budgets"])
        return out

    @classmethod
    def from_options(cls, command: str, options: Mapping[str, Any]) -> RunSpec:
        """The spec of a recorded run (its ``command`` and ``options``)."""
        known = {f.name for f in dataclasses.fields(cls)} - {"command"}
        fields: dict[str, Any] = {k: v for k, v in options.items() if k in known and v is not None}
        fields["scenarios"] = tuple(str(p) for p in options.get("scenarios") or ())
        if command == "optimize" and not options.get("robust"):  # recorded before --robust auto
            fields["robust"] = "none"  # was the default: the plan on the point curves
        if "budgets" in fields:
            fields["budgets"] = tuple(float(b) for b in fields["budgets"])
        for k, conv in (("tolerance", float), ("jobs", int), ("warm", bool), ("risk", float)):
            if k in fields:
                fields[k] = conv(fields[k])
        return cls(command=command, **fields)  # type: ignore[arg-type]

    def with_paths(self, fn: Callable[[str], str]) -> RunSpec:
        """The same run with every file path mapped through ``fn`` (scenarios, model, actuals)."""
        return dataclasses.replace(
            self,
            scenarios=tuple(fn(p) for p in self.scenarios),
            model=None if self.model is None else fn(self.model),
            actuals=None if self.actuals is None else fn(self.actuals),
        )

    def absolute(self) -> RunSpec:
        """Paths made absolute, so that a recorded run can be re-run from anywhere."""
        return self.with_paths(lambda p: str(Path(p).resolve()))

    @property
    def solve_options(self) -> dict[str, Any]:
        return {"solver": self.solver, "tolerance": self.tolerance, "time_limit": self.time_limit}


@dataclass(frozen=True)
class Inputs:
    """What a single-scenario run reads, read once: the scenario, its model, other KPIs' models."""

    scenario: Scenario
    model: ResponseModel
    extra_models: Mapping[str, ResponseModel] = field(default_factory=dict)


def load_inputs(spec: RunSpec) -> Inputs:
    """The scenario (the first of the spec's), the model it names (or the override), and the
    models of other KPIs it names."""
    sc = load_scenario(spec.scenarios[0])
    model = read_model(spec.model) if spec.model else load_model_for(sc)
    return Inputs(sc, model, extra_models_for(sc))


# ------------------------------------------------------------------------------------------------
# computing a run
# ------------------------------------------------------------------------------------------------
def _optimize(
    spec: RunSpec, inputs: Inputs | None, progress: Progress | None, executor: Executor | None
) -> Plan:
    inp = inputs or load_inputs(spec)
    return optimize_scenario(
        inp.scenario,
        inp.model,
        robust=spec.robust or "none",
        risk=spec.risk,
        extra_models=inp.extra_models,
        **spec.solve_options,
    )


def _compare(
    spec: RunSpec, inputs: Inputs | None, progress: Progress | None, executor: Executor | None
) -> Comparison:
    return run_scenarios(
        [Path(p) for p in spec.scenarios],
        model_override=read_model(spec.model) if spec.model else None,
        reference=spec.reference,
        expand_variants=spec.expand_variants,
        progress=progress,
        executor=executor,
        **spec.solve_options,
    )


def _sweep(
    spec: RunSpec, inputs: Inputs | None, progress: Progress | None, executor: Executor | None
) -> Frontier:
    inp = inputs or load_inputs(spec)
    sc = inp.scenario
    budgets = spec.budgets
    if budgets is None:
        if sc.sweep is None:
            raise ScenarioError(
                "give --budgets START:STOP:N, or declare "
                "'sweep: {budgets: START:STOP:N}' in the scenario",
                path=spec.scenarios[0],
                field="sweep",
            )
        budgets = tuple(sc.sweep.amounts)
    return sweep(
        sc,
        inp.model,
        [float(b) for b in budgets],
        warm=spec.warm,
        progress=progress,
        extra_models=dict(inp.extra_models),
        jobs=spec.jobs,
        executor=executor,
        **spec.solve_options,
    )


def _replan(
    spec: RunSpec, inputs: Inputs | None, progress: Progress | None, executor: Executor | None
) -> Replan:
    inp = inputs or load_inputs(spec)
    if spec.actuals is None:
        raise ScenarioError("a re-plan needs the actuals file", field="--actuals")
    from optimizer.response.markets import MarketModel

    sc = inp.scenario  # a dated scenario's weeks tell a one-date file's frequency
    calendar = None if sc.start is None else (sc.start, int(sc.horizon_weeks))
    if isinstance(inp.model, MarketModel):  # actuals by market, as a carryover.before file
        from optimizer.workflow.control import read_market_actuals

        national = [str(t) for t in (inp.scenario.national or {})]
        actuals = read_market_actuals(
            spec.actuals,
            list(inp.model.touchpoints),
            inp.model.names,
            national,
            frequency=spec.frequency,
            calendar=calendar,
        )
    else:
        actuals = read_actuals(
            spec.actuals,
            ids=list(inp.model.touchpoints),
            frequency=spec.frequency,
            calendar=calendar,
        )
    return replan(inp.scenario, inp.model, actuals, spec.weeks_elapsed, **spec.solve_options)


_RUNNERS: dict[str, Callable[..., Any]] = {
    "optimize": _optimize,
    "compare": _compare,
    "sweep": _sweep,
    "replan": _replan,
}


def execute(
    spec: RunSpec,
    *,
    inputs: Inputs | None = None,
    progress: Progress | None = None,
    executor: Executor | None = None,
) -> Any:
    """Compute a run: a ``Plan`` (optimize), a ``Comparison`` (compare), a ``Frontier`` (sweep)
    or a ``Replan`` (replan). ``inputs`` are the spec's files already read (single-scenario
    commands), so that a caller which needed them first does not read them twice."""
    return _RUNNERS[spec.command](spec, inputs, progress, executor)


def require_plan(plan: Plan, path: str | Path | None, what: str | None = None) -> None:
    """The located error of a result that is no plan: an infeasible scenario (exit 3, naming the
    rules that conflict), or a solver that stopped without a plan (exit 2). ``what`` names the
    job in the message (default: the scenario)."""
    from optimizer.allocate import Status

    what = what or f"scenario '{plan.scenario}'"
    if plan.status == Status.INFEASIBLE:
        raise InfeasibleError(
            f"{what} is infeasible: {plan.message}", conflicts=plan.conflicts, path=path
        )
    if not plan.ok:
        raise BudgetOptError(
            f"the solver stopped without a plan ({plan.status}): {plan.message}", path=path
        )


def plans_of(result: Any) -> list[Plan]:
    """The plans a result of ``execute`` holds, in order."""
    if isinstance(result, Plan):
        return [result]
    if isinstance(result, (Comparison, Frontier)):
        return list(result.plans)
    if isinstance(result, Replan):
        return [result.plan]
    raise TypeError(f"no plans in {type(result).__name__}")


def models_of(spec: RunSpec) -> list[str]:
    """The model files a run reads (the override, or each scenario's own and its other KPIs')."""
    out: list[str] = []
    try:
        if spec.command == "compare":
            scs = load_scenarios(spec.scenarios)
        else:
            scs = [load_scenario(p) for p in spec.scenarios]
    except BudgetOptError:
        return out
    for sc in scs:
        own = [spec.model] if spec.model else [sc.model]
        for m in (*own, *sc.models.values()):
            if m not in out:
                out.append(m)
    return out


def record(
    ledger: Ledger,
    spec: RunSpec,
    result: Any,
    *,
    extra: Mapping[str, Any] | None = None,
    recorded: Sequence[InputFile] | None = None,
) -> Run:
    """Record what ``execute(spec)`` returned: its plans (contract 6), its options, and its input
    files hashed now (or, with ``recorded``, those already in the ledger)."""
    plans = plans_of(result)
    if recorded is None:
        others = [("actuals", spec.actuals)] if spec.actuals else []
        inputs = collect_inputs(list(spec.scenarios), models_of(spec), others)
    else:
        inputs = []
    return ledger.record(
        command=spec.command,
        scenarios=[p.scenario for p in plans],
        plans=[plan_to_dict(p) for p in plans],
        inputs=inputs,
        kpi=next((p.kpi for p in plans if p.kpi), None),
        solver=spec.solver,
        options=spec.options(),
        extra=extra,
        recorded=recorded or (),
    )


def plan_uncertainty(
    spec: RunSpec,
    inputs: Inputs,
    plan: Plan,
    *,
    value_of_information: bool = True,
    progress: Progress | None = None,
    executor: Executor | None = None,
) -> Uncertainty:
    """``optimize --uncertainty``: the plan re-optimised on each of the model's bootstrap draws,
    and (``value_of_information``) what knowing each curve exactly would be worth."""
    from optimizer.workflow.robust import plan_uncertainty as spread

    return spread(
        inputs.scenario,
        inputs.model,
        plan,
        solver=spec.solver,
        time_limit=spec.time_limit,
        extra_models=inputs.extra_models,
        progress=progress,
        executor=executor,
        value_of_information=value_of_information,
    )


def record_review(
    ledger: Ledger,
    spec: RunSpec,
    plan: Plan,
    review: Mapping[str, Any],
    *,
    last_cycle: str | None = None,
) -> Run:
    """Record an ``explain`` run: the plan its review pack explains (contract 6), its inputs
    (the scenario chain, the model, last cycle's spend) and, in ``extra['review']``, the pack's
    format, file and options. An explain run is listed, shown and diffed like any run; it is not
    re-run (``rerun`` re-runs optimize, compare, sweep and replan)."""
    others = [("previous", last_cycle)] if last_cycle else []
    inputs = collect_inputs(list(spec.scenarios), models_of(spec), others)
    return ledger.record(
        command="explain",
        scenarios=[plan.scenario],
        plans=[plan_to_dict(plan)],
        inputs=inputs,
        kpi=plan.kpi,
        solver=spec.solver,
        options={k: v for k, v in spec.options().items() if k in _COMMON},
        extra={"review": dict(review)},
    )
