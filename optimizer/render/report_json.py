"""The review pack for machines: an ``Explanation`` as plain JSON types."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from optimizer.explain import Explanation
from optimizer.formatting import jsonable
from optimizer.io.files import atomic_write_text

FORMAT = "budgetopt.explanation"
FORMAT_VERSION = 1


def _plain(obj: Any) -> Any:
    """Dataclasses, tuples and numpy values as JSON types; non-finite floats become None."""
    return jsonable(obj, frozenset({"responses"}))


def explanation_to_dict(e: Explanation) -> dict[str, Any]:
    """An explanation as a JSON-ready dict.

    Parameters
    ----------
    e : Explanation

    Returns
    -------
    dict
        Every field of the explanation (the response curves excepted), plus ``format`` /
        ``format_version`` and, under ``ladder``, the ranks just above and below the line.
    """
    d = _plain(e)
    d = {"format": FORMAT, "format_version": FORMAT_VERSION, **d}
    d["ladder"]["above_line"] = [s.rank for s in e.ladder.above(3)]
    d["ladder"]["below_line"] = [s.rank for s in e.ladder.below(3)]
    return d


def explanation_json(e: Explanation) -> str:
    """``explanation_to_dict`` as indented JSON text (no NaN: JSON has none)."""
    return json.dumps(explanation_to_dict(e), indent=2, allow_nan=False, ensure_ascii=False) + "\n"


def write_json(e: Explanation, path: str | Path) -> Path:
    """Write ``explanation_json`` atomically."""
    return atomic_write_text(path, explanation_json(e))
