"""Rendering: tables, JSON, CSV (and reports). Result objects never render themselves.

The output formats each command offers are listed here once; the CLI's ``--format`` choices are
these tuples.
"""

from __future__ import annotations

from pathlib import Path

#: optimize, sweep, diff, track, replan
TABLE_FORMATS = ("table", "json", "csv")
#: compare (xlsx needs -o FILE)
COMPARE_FORMATS = (*TABLE_FORMATS, "xlsx")
#: history, history show
LEDGER_FORMATS = ("table", "json")
#: explain: the review pack
REVIEW_FORMATS = ("md", "html", "xlsx", "json")

_REVIEW_SUFFIXES = {".html": "html", ".htm": "html", ".xlsx": "xlsx", ".json": "json"}


def review_format_for(path: Path) -> str:
    """The review pack's format from the file's extension (``md`` for any other)."""
    return _REVIEW_SUFFIXES.get(path.suffix.lower(), "md")
