"""One exception hierarchy for everything budgetopt reports to a user.

Every error carries a message meant for a person: it names the file, the field and the value
that are wrong, in one paragraph. The CLI prints ``str(error)`` and exits non-zero; it never shows
a traceback for a ``BudgetOptError``.
"""

from __future__ import annotations

from pathlib import Path

#: exit codes of the CLI (docs/cli.md): 0 success, 2 bad input, 3 infeasible, 4 a plan that holds
#: every rule but is not certified optimal within the tolerance (status ``not_certified``)
EXIT_BAD_INPUT = 2
EXIT_INFEASIBLE = 3
EXIT_NOT_CERTIFIED = 4


class BudgetOptError(Exception):
    """Base class of every error budgetopt raises on purpose."""

    exit_code = 2

    def __init__(self, message: str, *, path: str | Path | None = None, field: str | None = None):
        self.path = str(path) if path is not None else None
        self.field = field
        prefix = ""
        if self.path:
            prefix = f"{self.path}: "
        if field:
            prefix += f"field '{field}': "
        super().__init__(prefix + message)


class DataError(BudgetOptError):
    """A history or journey file is malformed or inconsistent."""


class ScenarioError(BudgetOptError):
    """A scenario file is malformed, or refers to something that does not exist."""


class ModelError(BudgetOptError):
    """A model file is missing, truncated or holds invalid curves; or a fit cannot be done."""


class SolverError(BudgetOptError):
    """The solver failed for a reason other than infeasibility (missing binary, time limit, ...)."""


class InfeasibleError(BudgetOptError):
    """The constraints of a scenario cannot all hold. ``conflicts`` names the ones that clash."""

    exit_code = 3

    def __init__(
        self, message: str, *, conflicts: tuple[str, ...] = (), path: str | Path | None = None
    ):
        self.conflicts = conflicts
        super().__init__(message, path=path)
