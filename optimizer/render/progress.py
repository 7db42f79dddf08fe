"""The one progress bar: ``optimizer.progress.Progress`` calls drawn on stderr with rich.

Shown only when stderr is a terminal and the command is not quiet (then ``progress_bar`` yields
None, and the library reports to no one). ``label`` heads the bar; each call's own label (a
scenario's name) is shown after it. With ``bar_per_label`` every distinct label gets a bar of its
own (the stages of a fit).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from optimizer.progress import Progress


@contextlib.contextmanager
def progress_bar(
    label: str = "",
    *,
    quiet: bool = False,
    at_least: int = 1,
    bar_per_label: bool = False,
    console: Any = None,
) -> Iterator[Progress | None]:
    """A ``Progress`` drawing on stderr, or None (quiet, or stderr is not a terminal); a bar
    appears once a job has ``at_least`` steps."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
    from rich.progress import Progress as RichProgress

    console = console or Console(stderr=True)
    if quiet or not console.is_terminal:
        yield None
        return
    with RichProgress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        tasks: dict[str, Any] = {}

        def update(done: int, total: int, name: str = "") -> None:
            if total < at_least:
                return
            key = name if bar_per_label else ""
            text = f"{label} {name}".strip()
            if key not in tasks:
                tasks[key] = bar.add_task(text, total=total)
            bar.update(tasks[key], completed=done, total=total, description=text)

        yield update
