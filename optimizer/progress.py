"""The one progress protocol: ``progress(done, total, label)``.

Long jobs (a comparison's scenarios, a sweep's budgets, the bootstrap refits, the draws of
``--uncertainty``) report as they go by calling a ``Progress`` with the steps done so far, the
steps in all and what is being done (a scenario's name, a stage of the fit; may be empty). The
library never draws anything: the command line turns the calls into one progress bar
(``optimizer.render.progress``). Layer 1: importable by every layer.
"""

from __future__ import annotations

from collections.abc import Callable

#: ``progress(done, total, label)``: ``done`` of ``total`` steps, now at ``label`` ("" for none)
Progress = Callable[[int, int, str], None]
