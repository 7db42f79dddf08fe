"""The one progress protocol and its one bar: silent when quiet or not on a terminal; one bar, or
one per label (a fit's stages), when drawn."""

from __future__ import annotations

import io

from rich.console import Console

from optimizer.render.progress import progress_bar


def test_quiet_or_not_a_terminal_draws_nothing():
    with progress_bar("x", quiet=True) as bar:
        assert bar is None
    with progress_bar("x", console=Console(file=io.StringIO(), force_terminal=False)) as bar:
        assert bar is None


def test_one_bar_or_one_per_label():
    def tasks(per_label: bool) -> list[str]:
        console = Console(file=io.StringIO(), force_terminal=True)
        with progress_bar("optimising", console=console, bar_per_label=per_label) as bar:
            assert bar is not None
            bar(1, 3, "base")
            bar(2, 3, "cut")
            return _descriptions(bar)

    assert tasks(False) == ["optimising cut"]
    assert tasks(True) == ["optimising base", "optimising cut"]


def _descriptions(bar) -> list[str]:
    # the closure holds the rich Progress: read its tasks' descriptions
    prog = next(c.cell_contents for c in bar.__closure__ if hasattr(c.cell_contents, "tasks"))
    return [t.description for t in prog.tasks]
