"""Last cycle's spend per line item for the review's comparison: read by the one reader of spend
tables (``optimizer.io.spend_tables``), checked against the plan's line items."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

from optimizer.errors import DataError
from optimizer.formatting import did_you_mean


def read_last_cycle(path: str | Path, ids: Sequence[str] | None = None) -> dict[str, float]:
    """Read last cycle's spend per line item from a CSV with columns ``id,spend``, by the one
    reader of spend tables (``optimizer.io.spend_tables``).

    Parameters
    ----------
    path : str or Path
    ids : sequence of str, optional
        The model's line items; an id not among them is an error (with a "did you mean").

    Raises
    ------
    DataError
        Naming the file, the column or row and the value, for a missing file, missing columns,
        duplicate ids or amounts that are not non-negative numbers.
    """
    from optimizer.io.spend_tables import read_spend_totals

    return read_spend_totals(path, what="last-cycle", ids=ids)


def check_last_cycle(
    last: Mapping[str, float] | None, ids: Sequence[str]
) -> dict[str, float] | None:
    if last is None:
        return None
    out = {}
    for k, v in last.items():
        if k not in ids:
            raise DataError(
                f"unknown line item '{k}' in the last cycle{did_you_mean(k, ids)}", field="id"
            )
        fv = float(v)
        if not math.isfinite(fv) or fv < 0:
            raise DataError(
                f"the last cycle's spend of '{k}' must be a non-negative amount, got {v!r}",
                field="spend",
            )
        out[k] = fv
    return {tid: out.get(tid, 0.0) for tid in ids}
