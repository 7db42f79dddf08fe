"""Files: atomic writes, YAML and CSV read with located errors (the bottom of every contract).

A writer never leaves a half-written file (``atomic_write_*``); a reader names the file, and the
line or row, of whatever it cannot read (``load_yaml``, ``read_csv_strings``).
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from optimizer.errors import BudgetOptError, DataError


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` via a temporary file in the same folder and a rename.

    A reader never sees a half-written file, and a failure leaves any previous file untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    # mkstemp makes the file private (0600); give it the permissions a plain open() would
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.chmod(tmp, 0o666 & ~umask)
    except OSError:
        pass
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def load_yaml(path: str | Path, error: type[BudgetOptError] = DataError) -> Any:
    """Parse a YAML file, turning every failure into ``error`` naming the file and position."""
    path = Path(path)
    if not path.exists():
        raise error("the file does not exist", path=path)
    if path.is_dir():
        raise error("expected a file, got a folder", path=path)
    text = path.read_text(encoding="utf-8", errors="replace")
    if not text.strip():
        raise error("the file is empty", path=path)
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise error(f"YAML syntax error{where}: {problem}", path=path) from None


def read_csv_strings(
    path: str | Path, what: str, error: type[BudgetOptError] = DataError
) -> pd.DataFrame:
    """A CSV file as strings (nothing parsed yet), with clear errors for a missing, empty or
    unreadable ``what`` file (``"history"``, ``"calibration"``), raised as ``error``."""
    path = Path(path)
    if not path.exists():
        raise error(f"the {what} file does not exist", path=path)
    if path.is_dir():
        raise error("expected a CSV file, got a folder", path=path)
    raw = path.read_bytes()
    if not raw.strip():
        raise error(f"the {what} file is empty", path=path)
    try:
        df = pd.read_csv(io.BytesIO(raw), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise error(f"cannot be read as CSV: {str(e).splitlines()[0]}", path=path) from None
    df.columns = [str(c).strip() for c in df.columns]
    return df
