"""A solver's bound better than a plan that holds every rule is no bound (reviewer S13 R1).

HiGHS's MILP has returned "optima" and dual bounds below a feasible plan's value (zero-or-at-least
per period, 7f212bf). The phased planner refused such a bound in the round it came from, but the
undated engine used its lifted MILP's bound unchecked, and since 93d7810 carries the tightest bound
of earlier rounds into later ones: a bound a tenth below the plan's own KPI certified it
``optimal`` with a gap of zero (``relative_gap`` clamps a negative gap). Truth checked here: the
bound a plan reports is never below its own KPI (1e-9 relative), whatever a round's MILP says."""

from __future__ import annotations

from optimizer.allocate import engine
from tests.test_adv_core import RULES_SCENARIO, S_MODEL, write_world


def test_a_lifted_bound_below_the_plan_is_not_used(tmp_path, monkeypatch):
    from optimizer.scenario.schema import load_scenario
    from optimizer.workflow.compare import load_model_for

    path = write_world(tmp_path, S_MODEL, RULES_SCENARIO)
    real = engine.lifted_bound
    wrong: list[float] = []

    def below_the_plan_first(problem, bank, pcs, time_limit, tolerance, true_obj, *a, **k):
        found = real(problem, bank, pcs, time_limit, tolerance, true_obj, *a, **k)
        if found is not None and not wrong:
            wrong.append(0.9 * true_obj)  # a tenth below the round's own plan, as HiGHS returned
            return (wrong[0], *found[1:])
        return found

    monkeypatch.setattr(engine, "lifted_bound", below_the_plan_first)
    sc = load_scenario(path)
    plan = engine.allocate(sc, load_model_for(sc), tolerance=1e-9)
    assert wrong, "the premise: the plan needed the lifted bound"
    assert plan.bound >= plan.objective_value * (1 - 1e-9)
    assert plan.bound != wrong[0]
    if plan.status.value == "optimal":  # certified, then on a bound that is one
        assert (plan.bound - plan.objective_value) / plan.objective_value <= 1e-9 + 1e-12
