"""Fuzzing the CLI with random files — valid, extreme and broken (issue 14, "Must show").

Cases come from ``tests/fuzzing.py`` (one integer seed each; the checks are listed there). The
bulk runs in-process through click's ``CliRunner``; a sample runs the installed CLI as a
subprocess, the way a user runs it. ``benchmarks/fuzz.py`` runs 10,000 of the same cases.
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optimizer.cli import cli
from tests.fuzzing import check_answer, make_case

SETTINGS = dict(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    database=None,
)


def run_in_process(args: list[str]) -> tuple[int, str, str]:
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # a numpy warning is a finding
        r = CliRunner().invoke(cli, args, catch_exceptions=True)
    code = r.exit_code
    err = r.stderr
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        err += f"\nTraceback: {type(r.exception).__name__}: {r.exception}"
    return code, r.stdout, err


def run_subprocess(args: list[str], cwd) -> tuple[int, str, str]:
    env = {**os.environ, "BUDGETOPT_LEDGER": str(cwd / "ledger.sqlite")}
    p = subprocess.run(
        [sys.executable, "-m", "optimizer", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        env=env,
    )
    return p.returncode, p.stdout, p.stderr


@settings(max_examples=60, **SETTINGS)
@given(seed=st.integers(0, 2**31 - 1))
def test_fuzz_in_process(tmp_path_factory, seed):
    case = make_case(seed)
    args = case.write(tmp_path_factory.mktemp(f"fuzz{seed}"))
    code, out, err = run_in_process(args)
    assert not check_answer(case, code, out, err), (seed, case.command, code, err[-2000:])


@settings(max_examples=3, **SETTINGS)
@given(seed=st.integers(0, 2**31 - 1))
def test_fuzz_as_a_subprocess(tmp_path_factory, seed):
    case = make_case(seed)
    root = tmp_path_factory.mktemp(f"fuzzp{seed}")
    args = case.write(root)
    code, out, err = run_subprocess(args, root)
    assert not check_answer(case, code, out, err), (seed, case.command, code, err[-2000:])


#: seeds the fuzzing found wrong once, and the exit code each must now give
FOUND = {
    # a curve worth 1e15 a unit: HiGHS's dual simplex stopped on "excessive dual values" (a
    # solve error, reported as time_limit under --time-limit, exit 2); the scenario's share cap
    # cannot hold with its floors and must be diagnosed infeasible by name (exit 3)
    253: 3,
    # a zero-or-at-least rule whose big-M (the line item's cap) is 1e15 in a break-even run:
    # HiGHS refused rows with a coefficient above 1e15 and the model was solved without them,
    # then reading the missing rows' values crashed (exit 70, "internal error: IndexError").
    # The refusal is now a SolverError; the break-even is then "no break-even", the plan stands
    639: 0,
    # the same with the limit raised to take the rows: HiGHS's MILP crashed the process (a
    # segfault, exit -11), so the limit stays (optimizer/allocate/solve.py)
    1020: 4,  # (its plan: not certified, a gap of 0.05% against the 0.01% asked)
    # a zero-or-at-least touchpoint on a curve worth 1e15 a unit: its binary at 1.5e-8 (within
    # HiGHS's integrality tolerance) let 0.23 through against a minimum of 2,001,290, and the
    # plan was called optimal (exit 0, the rule broken); the noise is now set to 0 and the plan's
    # gap (46%: the bound counts the curve's 1e15) is reported honestly (not_certified, exit 4)
    3058: 4,
    # a budget of 999,999,999,999.99 planned at 1,000,000,000,006.67: the LP's own feasibility
    # tolerance at 1e12 is dollars, and the cent repair could move each line item a cent only
    4514: 0,
    # the checker's own float sum of line items of 1e12 came to 1e-4 over a budget the plan meets
    # to the cent: the total is now added in whole cents
    6556: 0,
}


@pytest.mark.parametrize("seed", sorted(FOUND))
def test_fuzz_findings_stay_fixed(tmp_path, seed):
    case = make_case(seed)
    code, out, err = run_in_process(case.write(tmp_path))
    assert not check_answer(case, code, out, err), (seed, code, err[-2000:])
    assert code == FOUND[seed], (seed, code, err[-2000:])


def test_badly_scaled_objective_is_solved_not_an_error():
    """An LP whose costs reach 2e19 (HiGHS: "Dual simplex ratio test failed due to excessive dual
    values") is solved — here proved infeasible — instead of a solve error; and a feasible one of
    the same scale gets its optimum (x = 1 on the costlier column, by hand)."""
    import numpy as np

    from optimizer.allocate.solve import Status, solve_arrays

    c = np.array([2e19, 2e9])
    A = np.array([[1.0, 1.0]])
    bad = solve_arrays(
        c, A, np.array([-np.inf]), np.array([1.0]), np.array([2.0, 0.0]), np.array([3.0, 1e12])
    )
    assert bad.status == Status.INFEASIBLE
    ok = solve_arrays(
        c, A, np.array([-np.inf]), np.array([1.0]), np.zeros(2), np.array([3.0, 1e12])
    )
    assert ok.status == Status.OPTIMAL
    assert np.allclose(ok.x, [1.0, 0.0])


def test_rows_highs_refuses_are_an_error_never_dropped():
    """A row with a coefficient of 2e15, above HiGHS's large_matrix_value (1e15): HiGHS refuses
    the rows, and the model is not solved without them (it was: max x + y s.t. 2e15 x <= 4e15,
    0 <= x <= 10, 0 <= y <= 1 gave 11 for the optimum 3) but refused with a SolverError."""
    import numpy as np

    from optimizer.allocate.solve import solve_arrays
    from optimizer.errors import SolverError

    with pytest.raises(SolverError, match="refused"):
        solve_arrays(
            np.array([1.0, 1.0]),
            np.array([[2e15, 0.0]]),
            np.array([-np.inf]),
            np.array([4e15]),
            np.zeros(2),
            np.array([10.0, 1.0]),
        )


def test_the_whole_cents_check_holds_at_large_amounts():
    """Fuzz seeds 2086 and 2167 were flagged for 303869177206.21 and 170000000166.67 "not whole
    cents": they are (the checker multiplied by 100 and met float rounding of 0.004). A spend that
    is not whole cents is still flagged."""
    from tests.fuzzing import check_plan

    def problems(spend: float) -> list[str]:
        plan = {
            "status": "optimal",
            "gap": 0.0,
            "line_items": [{"id": "a", "stage": "s", "spend": spend}],
        }
        return check_plan({}, plan, 0, 1e-4)

    assert problems(303869177206.21) == [] and problems(170000000166.67) == []
    assert problems(0.005) and problems(1234.567)
