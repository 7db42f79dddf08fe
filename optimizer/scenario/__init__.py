"""Scenario files (contract 4): schema, ``extends:`` inheritance, validation with located errors,
and the rules registry (``optimizer.scenario.rules``: one module per kind of rule).

A scenario is a what-if constraint set. Every money amount is a total over the plan's horizon.
Validation reports every problem at once, each with its location and, for a misspelt key, a
"did you mean …?".
"""

from optimizer.scenario.rules import (
    Budget,
    ChangeLimit,
    GroupRule,
    MarketRule,
    RatioRule,
    ShareRule,
    TouchpointRule,
)
from optimizer.scenario.schema import (
    MAX_GRID,
    NOT_IN_VARIANTS,
    Scenario,
    SweepSpec,
    budget_grid,
    check_against_markets,
    check_against_model,
    load_scenario,
    read_previous,
    scenario_from_dict,
)

__all__ = [
    "MAX_GRID",
    "NOT_IN_VARIANTS",
    "Budget",
    "ChangeLimit",
    "GroupRule",
    "MarketRule",
    "RatioRule",
    "Scenario",
    "ShareRule",
    "SweepSpec",
    "TouchpointRule",
    "budget_grid",
    "check_against_markets",
    "check_against_model",
    "load_scenario",
    "read_previous",
    "scenario_from_dict",
]
