"""Writing a benchmark's measured block into benchmarks/README.md between its markers, so the
README's tables come from the scripts' own runs, never by hand (``fit_recovery.py
--update-readme NAME``, ``phased_explain.py --update-readme``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def git_commit() -> str:
    """The short hash of the checked-out commit (read when the run starts), "+dirty" when tracked
    files have uncommitted changes, or "?"."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], capture_output=True, text=True, cwd=HERE, check=False
        ).stdout.strip()

    try:
        out = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except OSError:
        out, dirty = "", ""
    # a run on uncommitted changes says so: the commit alone would not reproduce it
    return (out + "+dirty" if dirty and out else out) or "?"


def update_block(key: str, block: str, readme: Path = HERE / "README.md") -> bool:
    """Replace the text between ``<!-- KEY:begin -->`` and ``<!-- KEY:end -->`` in ``readme`` by
    ``block`` (the rest of the file untouched); False, with a message on stderr and the file
    unchanged, when the markers are not there."""
    text = readme.read_text()
    begin, end = f"<!-- {key}:begin -->", f"<!-- {key}:end -->"
    if begin not in text or end not in text:
        print(f"--update-readme: markers {begin} / {end} not found in {readme}", file=sys.stderr)
        return False
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    readme.write_text(f"{head}{begin}\n{block}{end}{tail}")
    return True
