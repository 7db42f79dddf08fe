"""Scenario-declared variants, grids and sweeps, expanded into the scenarios they stand for.

A scenario file may declare, besides its own plan,

* ``variants: {name: {…overrides…}}`` — named what-ifs, each merged into the scenario as
  ``extends:`` merges (``budget`` replaced, mappings merged key by key);
* ``grid: {dotted.key: [values…]}`` — every combination of the values
  (``touchpoints.tv.max: [300000, 400000]``), each named after its values;
* ``sweep: {budgets: "START:STOP:N"}`` — the budgets ``budgetopt sweep FILE`` walks when no
  ``--budgets`` is given; ``budgetopt compare FILE`` compares them side by side when the file
  declares no variants or grid.

Expansion order: the scenario itself (the reference), the named variants in the order written,
the grid's combinations, then the sweep's budgets. Validation of every variant happens when the
file is loaded (``optimizer.scenario``), so expanding never fails on a valid scenario.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from optimizer.errors import ScenarioError
from optimizer.formatting import money
from optimizer.scenario import Scenario


def declares_variants(scenario: Scenario) -> bool:
    """Does the scenario declare variants, a grid or a sweep?"""
    return bool(scenario.variants or scenario.grid or scenario.sweep is not None)


def count_variants(scenario: Scenario) -> int:
    """How many scenarios ``budgetopt compare FILE`` adds to the scenario itself: its variants
    and grid combinations, or (declared alone) its sweep's budgets."""
    n = len(scenario.variants)
    if scenario.grid:
        n += len(scenario.grid_overrides())
    if not n and scenario.sweep is not None:
        n = len(scenario.sweep.amounts)
    return n


def expand(scenario: Scenario, *, include_self: bool = True, sweep: bool = True) -> list[Scenario]:
    """The scenario and every variant it declares (see the module docstring), uniquely named.

    Parameters
    ----------
    include_self : start with the scenario itself (without its declarations).
    sweep : include one scenario per declared sweep budget.
    """
    out: list[Scenario] = []
    if include_self:
        out.append(scenario.model_copy(update={"variants": {}, "grid": {}, "sweep": None}))
    for name, over in scenario.variants.items():
        out.append(scenario.with_overrides(over, str(over.get("name", name))))
    for name, over in scenario.grid_overrides():
        out.append(scenario.with_overrides(over, f"{scenario.name} [{name}]"))
    if sweep and scenario.sweep is not None and scenario.objective == "max_kpi":
        base = scenario.model_copy(update={"variants": {}, "grid": {}, "sweep": None})
        for b in scenario.sweep.amounts:
            out.append(
                base.with_budget(b).model_copy(
                    update={"name": f"{scenario.name} [budget={money(b, 'any')}]"}
                )
            )
    return unique_names(out)


def unique_names(scenarios: Iterable[Scenario]) -> list[Scenario]:
    """Rename repeated scenario names ``name (2)``, ``name (3)``…: a comparison's columns are
    named after its scenarios."""
    seen: dict[str, int] = {}
    out = []
    for sc in scenarios:
        k = seen.get(sc.name, 0) + 1
        seen[sc.name] = k
        out.append(sc if k == 1 else sc.model_copy(update={"name": f"{sc.name} ({k})"}))
    return out


def check_variants_against_model(
    scenario: Scenario, model: Any, extra_models: Mapping[str, Any] | None = None
) -> None:
    """Check each declared variant and grid combination against the model as the allocator does
    (its touchpoints, stages, markets, rules), before anything is solved: a variant naming a
    touchpoint the model lacks is an error whose field says which variant
    (``variants.a.touchpoints.tvv``), not the scenario's own ``touchpoints.tvv``.

    ``validate`` and ``compare`` both call it, so that a file ``validate`` passes is one
    ``compare`` takes."""
    from optimizer.allocate import prepare_problem

    where = [f"variants.{k}." for k in scenario.variants]
    where += [f"grid ({label}): " for label, _ in scenario.grid_overrides()]
    variants = expand(scenario, include_self=False, sweep=False)
    for prefix, v in zip(where, variants, strict=True):
        try:
            prepare_problem(v, model, extra_models=dict(extra_models or {}))
        except ScenarioError as e:
            text = str(e)
            if e.path and text.startswith(f"{e.path}: "):
                text = text[len(e.path) + 2 :]
            if prefix.startswith("variants."):
                text = text.replace("field '", f"field '{prefix}")
            else:
                text = f"{prefix}{text}"
            raise ScenarioError(text, path=scenario.source) from None
