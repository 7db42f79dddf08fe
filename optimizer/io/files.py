"""Files: atomic writes, YAML and CSV read with located errors (the bottom of every contract).

A writer never leaves a half-written file (``atomic_write_*``), nor a folder mixing two runs'
sets of files (``folder_as_a_set``); a reader names the file, and the line or row, of whatever it
cannot read (``load_yaml``, ``read_csv_strings``).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from optimizer.errors import BudgetOptError, DataError

if TYPE_CHECKING:
    import pandas as pd

#: the largest input file read (a model, scenario, journey or history): 1 GB
MAX_FILE_BYTES = 1 << 30


def read_input_text(path: str | Path, error: type[BudgetOptError], what: str = "file") -> str:
    """The text of an input file, or ``error`` naming it: missing, a folder, not a regular file
    (``/dev/zero``, a FIFO), a symlink loop, unreadable, or larger than ``MAX_FILE_BYTES``."""
    import stat

    path = Path(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise error(f"the {what} does not exist", path=path) from None
    except OSError as e:  # a symlink loop, a path through a file, no permission
        raise error(f"the {what} cannot be read: {e.strerror or e}", path=path) from None
    if stat.S_ISDIR(st.st_mode):
        article = "an" if what[:1] in "aeiou" else "a"
        raise error(f"expected {article} {what}, got a folder", path=path)
    if not stat.S_ISREG(st.st_mode):
        raise error(f"expected a regular {what}, got a device, FIFO or socket", path=path)
    if st.st_size > MAX_FILE_BYTES:
        raise error(
            f"the {what} is {st.st_size:,} bytes; at most {MAX_FILE_BYTES:,} are read", path=path
        )
    try:
        return path.read_bytes().decode("utf-8", errors="replace")
    except OSError as e:
        raise error(f"the {what} cannot be read: {e.strerror or e}", path=path) from None


def _write_through(path: Path, data: bytes) -> bool:
    """``-`` is stdout; an existing FIFO or device is written to, never replaced by a regular
    file. True when written here; False for a path the atomic rename should write."""
    import stat
    import sys

    if str(path) == "-":
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return True
    try:
        st = path.stat()  # follows a symlink: what it points to decides
    except FileNotFoundError:
        return False
    if stat.S_ISDIR(st.st_mode):
        raise BudgetOptError("expected a file to write, got a folder", path=path)
    if stat.S_ISREG(st.st_mode):
        return False
    with open(path, "wb") as fh:  # a FIFO, a terminal, /dev/null: write into it
        fh.write(data)
    return True


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` via a temporary file in the same folder and a rename.

    A reader never sees a half-written file, and a failure leaves any previous file untouched.
    ``-`` writes to stdout; a FIFO or device is written through (never replaced by a regular
    file); a symlink keeps pointing where it did (its target is replaced). Every failure is a
    ``BudgetOptError`` naming the path (a missing or read-only folder, a symlink loop, ...).
    """
    try:
        return _atomic_write_bytes(Path(path), data)
    except BudgetOptError:
        raise
    except OSError as e:
        raise BudgetOptError(f"cannot write: {e.strerror or e}", path=path) from None


def _atomic_write_bytes(path: Path, data: bytes) -> Path:
    if _write_through(path, data):
        return path
    if path.is_symlink():
        path = path.resolve()  # replace the file it points to; the link stays a link
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


@contextlib.contextmanager
def folder_as_a_set(
    target: str | Path, carry: Callable[[str], bool] = lambda name: True
) -> Iterator[Path]:
    """Write a set of files as a set: yields an empty folder beside ``target`` to write them into;
    when the block ends without an error that folder becomes ``target`` in one rename, so a
    reader — or a run killed at any point — sees the complete old set or the complete new one,
    never a mix. An error (or a kill) leaves ``target`` as it was and the staging folder removed
    (a kill -9 leaves it, hidden: ``.NAME.*.tmp``).

    Entries of an existing ``target`` that are not in the new set and for which ``carry(name)``
    holds (files that are not the old set's own, e.g. a user's notes) are carried into the new
    folder (hard-linked, or copied) before the swap. The swap is Linux's atomic exchange of the
    two folders (``renameat2(RENAME_EXCHANGE)``) where the file system has it; elsewhere the old
    folder is renamed aside, the new one renamed in, and the old one removed.
    """
    shown = Path(target)  # as the user wrote it, for messages
    check_set_folder(shown)
    target = shown.resolve()  # "sub/.." or "." named by what they are: a folder and its parent
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staged = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    except OSError as e:
        raise BudgetOptError(f"cannot write: {e.strerror or e}", path=shown) from None
    aside: Path | None = None
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(staged, 0o777 & ~umask)
        yield staged
        if target.exists():
            for old in target.iterdir():
                if (staged / old.name).exists() or not carry(old.name):
                    continue
                if old.is_dir() and not old.is_symlink():
                    shutil.copytree(old, staged / old.name, symlinks=True, copy_function=_link)
                else:
                    _link(str(old), str(staged / old.name))
            if _exchange(staged, target):
                shutil.rmtree(staged, ignore_errors=True)  # the old set, now here
                return
            aside = Path(
                tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent)
            )
            os.rename(target, aside / "set")
            os.rename(staged, target)
            shutil.rmtree(aside, ignore_errors=True)
        else:
            os.rename(staged, target)
    except OSError as e:
        _undo(staged, aside, target)
        raise BudgetOptError(f"cannot write: {e.strerror or e}", path=shown) from None
    except BaseException:
        _undo(staged, aside, target)
        raise


def check_can_write(target: str | Path, *, folder: bool, field: str | None = None) -> None:
    """Say now, before a long job, that ``target`` (a file to write, or with ``folder`` a folder
    to write into) cannot be written: a file where a folder is wanted or the other way round, or
    a nearest existing folder above it that is not a folder or cannot be written. Makes nothing."""
    shown = Path(target)
    if shown.exists() or shown.is_symlink():
        if folder and not shown.is_dir():
            raise BudgetOptError(
                "expected a folder here, but this is a file", path=shown, field=field
            )
        if not folder and shown.is_dir():
            raise BudgetOptError(
                "expected a file here, but this is a folder", path=shown, field=field
            )
        return
    above = shown.absolute().parent
    while not above.exists() and above != above.parent:
        above = above.parent
    if not above.is_dir():
        raise BudgetOptError(
            f"cannot write: {above} is a file, not a folder", path=shown, field=field
        )
    if not os.access(above, os.W_OK | os.X_OK):
        raise BudgetOptError(f"cannot write: {above} is not writable", path=shown, field=field)


def check_set_folder(target: str | Path) -> None:
    """The checks ``folder_as_a_set`` makes before writing into ``target`` (so that a job can make
    them before its work): a folder, or nothing yet, and neither the current folder nor one
    above it (the swap would move the folder the process, and the user's shell, are in)."""
    shown = Path(target)
    if shown.exists() and not shown.is_dir():
        raise BudgetOptError("expected a folder here, but this is a file", path=shown)
    resolved, here = shown.resolve(), Path.cwd().resolve()
    if resolved == here or resolved in here.parents:
        raise BudgetOptError(
            "this is the current folder"
            + ("" if resolved == here else " or one above it")
            + ", which the set of files would replace as a whole: name a folder of its own "
            "(e.g. models/)",
            path=shown,
        )


def _undo(staged: Path, aside: Path | None, target: Path) -> None:
    """After a failed swap: the staged folder removed, and the old set back where it was."""
    shutil.rmtree(staged, ignore_errors=True)
    if aside is not None:
        with contextlib.suppress(OSError):
            if (aside / "set").exists() and not target.exists():
                os.rename(aside / "set", target)
        with contextlib.suppress(OSError):
            os.rmdir(aside)


def _link(src: str, dst: str) -> str:
    """A hard link where the file system allows it, else a copy."""
    try:
        os.link(src, dst, follow_symlinks=False)
    except OSError:
        shutil.copy2(src, dst, follow_symlinks=False)
    return dst


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux ``renameat2`` with ``RENAME_EXCHANGE``); False where
    that is not available (another OS, an old C library, a file system without it)."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    renameat2.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
    ]
    return renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0


def load_yaml(path: str | Path, error: type[BudgetOptError] = DataError) -> Any:
    """Parse a YAML file, turning every failure into ``error`` naming the file and position."""
    path = Path(path)
    text = read_input_text(path, error)
    if not text.strip():
        raise error("the file is empty", path=path)
    try:
        return parse_yaml(text)
    except ParseProblem as e:  # a key given twice, an alias bomb
        raise error(str(e), path=path) from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise error(f"YAML syntax error{where}: {problem}", path=path) from None


def read_csv_strings(
    path: str | Path,
    what: str,
    error: type[BudgetOptError] = DataError,
    csv: Any = None,
) -> pd.DataFrame:
    """A CSV file as strings, with clear errors for a missing, empty or unreadable ``what`` file
    (``"history"``, ``"calibration"``), raised as ``error``.

    Excel exports are read as they come (``optimizer.io.dialect``): the separator, decimal and
    thousands marks and day-first dates are detected, or taken from ``csv`` (``CsvSettings``),
    and the cells made canonical (numbers ``1234.5``, ISO dates). What was detected is in
    ``frame.attrs["csv_note"]`` (None for a plain file)."""
    from optimizer.io.dialect import read_table

    path = Path(path)
    raw = read_input_text(path, error, f"{what} file").encode("utf-8")
    if not raw.strip():
        raise error(f"the {what} file is empty", path=path)
    table = read_table(path, raw, what, csv, error)
    df = table.frame
    df.attrs["csv_note"] = table.note
    return df


# ------------------------------------------------------------------------------------------------
# strict parsing: duplicate keys, alias bombs, non-finite JSON numbers
# ------------------------------------------------------------------------------------------------
#: the most values a YAML document may hold once its aliases (``*name``) are expanded: a scenario
#: or journey has hundreds; an alias bomb (a few hundred bytes that expand to billions) is refused
MAX_YAML_VALUES = 100_000


class ParseProblem(ValueError):
    """A problem in a file's syntax, with its line (1-based) when known."""

    def __init__(self, message: str, line: int | None = None):
        self.line = line
        super().__init__(message)


def short_repr(value: Any, limit: int = 60) -> str:
    """``repr`` cut to ``limit`` characters: messages never echo a large (or expanded) input."""
    import reprlib

    r = reprlib.Repr()
    r.maxstring = limit
    r.maxother = limit
    r.maxlist = r.maxtuple = r.maxdict = r.maxset = 4
    r.maxlevel = 2
    text = r.repr(value)
    return text if len(text) <= limit + 10 else text[:limit] + "…"


def _yaml_loader() -> type:
    import yaml

    class StrictLoader(yaml.SafeLoader):
        """SafeLoader that refuses a key given twice in one mapping and a document whose aliases
        expand past ``MAX_YAML_VALUES`` values."""

        def construct_document(self, node):  # noqa: ANN001 - PyYAML's signature
            _check_expansion(node)
            return super().construct_document(node)

        def construct_mapping(self, node, deep=False):  # noqa: ANN001
            if isinstance(node, yaml.MappingNode):
                seen: dict[Any, int] = {}
                for key_node, _ in node.value:
                    if key_node.tag == "tag:yaml.org,2002:merge":
                        continue  # `<<: *base` then an explicit key is an override, not a twin
                    key = self.construct_object(key_node, deep=True)
                    try:
                        hash(key)
                    except TypeError:
                        continue  # PyYAML reports an unhashable key itself
                    line = key_node.start_mark.line + 1
                    if key in seen:
                        raise ParseProblem(
                            f"duplicate key {short_repr(key)} at line {line} (first given at "
                            f"line {seen[key]}): each key may appear once in a mapping",
                            line,
                        )
                    seen[key] = line
            return super().construct_mapping(node, deep=deep)

    def construct_map(loader: StrictLoader, node: yaml.Node) -> Any:
        return loader.construct_yaml_map(node)

    StrictLoader.add_constructor("tag:yaml.org,2002:map", construct_map)

    def construct_timestamp(loader: StrictLoader, node: yaml.ScalarNode) -> Any:
        # a plain scalar shaped like a date that is none (2027-02-30) is left as its text, for the
        # field's own check to refuse by name ("expected an ISO date …"); PyYAML raised a bare
        # ValueError from inside the parser (an internal error, exit 70)
        try:
            return loader.construct_yaml_timestamp(node)
        except ValueError:
            return loader.construct_scalar(node)

    StrictLoader.add_constructor("tag:yaml.org,2002:timestamp", construct_timestamp)
    # YAML 1.2 reads `1e7` and `9.7e6` as numbers; PyYAML (YAML 1.1) wants a dot and a signed
    # exponent (`1.0e+7`) and read them as the strings '1e7', so `budget: 1e7` was refused as
    # "not an amount of money". A plain scalar in exponent form is a float here, as in YAML 1.2
    # (and JSON); a quoted '1e7' stays a string.
    StrictLoader.add_implicit_resolver(
        "tag:yaml.org,2002:float",
        re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
        list("-+0123456789."),
    )
    return StrictLoader


def _check_expansion(root: Any) -> None:
    """Count the values a node tree holds with every alias expanded (memoised per node, so an alias
    bomb is measured without being expanded)."""
    import yaml

    sizes: dict[int, int] = {}
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        if id(node) in sizes:
            continue
        if isinstance(node, yaml.ScalarNode):
            sizes[id(node)] = 1
            continue
        kids = (
            [n for pair in node.value for n in pair]
            if isinstance(node, yaml.MappingNode)
            else list(node.value)
        )
        if done:
            total = 1 + sum(sizes.get(id(k), 0) for k in kids)
            sizes[id(node)] = total
            if total > MAX_YAML_VALUES:
                raise ParseProblem(
                    f"the document expands to more than {MAX_YAML_VALUES:,} values through "
                    "its aliases (*name): refused (an alias bomb?)",
                    node.start_mark.line + 1,
                )
        else:
            stack.append((node, True))
            stack.extend((k, False) for k in kids if id(k) not in sizes)


_LOADER: type | None = None


def parse_yaml(text: str) -> Any:
    """Parse YAML safely and strictly (see ``StrictLoader``); raises ``yaml.YAMLError`` on bad
    syntax and ``ParseProblem`` on a duplicate key or an alias bomb."""
    import yaml

    global _LOADER
    if _LOADER is None:
        _LOADER = _yaml_loader()
    return yaml.load(text, Loader=_LOADER)  # noqa: S506 - a SafeLoader subclass


class _Duplicate(Exception):
    pass


def _no_twins(items: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in items:
        if k in out:
            raise _Duplicate(k)
        out[k] = v
    return out


def parse_json(text: str) -> Any:
    """``json.loads`` that refuses a key given twice in one object (with its line) and the
    non-standard constants ``NaN``/``Infinity`` (``ParseProblem``; bad syntax stays
    ``json.JSONDecodeError``)."""
    import json

    def constant(name: str) -> Any:
        raise ParseProblem(f"{name} is not a number JSON allows (nor a finite one)")

    try:
        return json.loads(text, object_pairs_hook=_no_twins, parse_constant=constant)
    except _Duplicate as e:
        key = str(e.args[0])
        line = _duplicate_line(text, key)
        where = f" at line {line}" if line else ""
        raise ParseProblem(
            f"duplicate key {short_repr(key)}{where}: each key may appear once in an object", line
        ) from None


def _duplicate_line(text: str, key: str) -> int | None:
    """The line of the second ``key`` in the first object that holds it twice: the text is parsed
    again with the pure-Python scanner, which tells where each object starts."""
    import json
    from json import decoder, scanner

    found: list[int] = []

    def parse_object(s_and_end, strict, scan_once, object_hook, object_pairs_hook, memo=None):  # noqa: ANN001
        s, start = s_and_end

        def hook(items: list[tuple[str, Any]]) -> dict[str, Any]:
            keys = [k for k, _ in items]
            if len(set(keys)) < len(keys) and not found:
                twin = next(k for i, k in enumerate(keys) if k in keys[:i])
                found.append(_second_key_offset(s, start, twin))
                raise _Duplicate(twin)
            return dict(items)

        # JSONObject and the decoder's parse_object/scan_once are the pure-Python scanner's
        # hooks: real and documented in json/decoder.py, but private, so typeshed leaves them out
        return decoder.JSONObject(  # type: ignore[attr-defined]
            (s, start), strict, scan_once, None, hook, memo
        )

    dec = json.JSONDecoder()
    dec.parse_object = parse_object  # type: ignore[attr-defined]
    dec.scan_once = scanner.py_make_scanner(dec)  # type: ignore[attr-defined]
    try:
        dec.decode(text)
    except Exception:  # noqa: BLE001 - only looking for the position
        pass
    if not found or found[0] < 0:
        return None
    return text.count("\n", 0, found[0]) + 1


def _second_key_offset(s: str, start: int, key: str) -> int:
    """Offset of the second occurrence of ``key`` as a key of the object starting at ``start``."""
    depth, i, hits = 1, start, 0
    while i < len(s) and depth > 0:
        c = s[i]
        if c == '"':
            j = i + 1
            while j < len(s) and s[j] != '"':
                j += 2 if s[j] == "\\" else 1
            if depth == 1:
                k = j + 1
                while k < len(s) and s[k] in " \t\r\n":
                    k += 1
                if k < len(s) and s[k] == ":":
                    import json

                    try:
                        name = json.loads(s[i : j + 1])
                    except ValueError:
                        name = None
                    if name == key:
                        hits += 1
                        if hits == 2:
                            return i
            i = j + 1
            continue
        if c in "{[":
            depth += 1
        elif c in "}]":
            depth -= 1
        i += 1
    return -1


def read_by(path: str | Path, seen: set[Path] | None = None) -> list[tuple[Path, str]]:
    """The files a scenario or model file reads, as far as its own text names them, each with
    what it is to the run: the file itself, the scenarios it ``extends``, its ``model`` (and a
    markets index's market models), its other KPIs' ``models`` and its ``carryover.before``
    history. Best effort (a file that cannot be read names nothing more): it only guards
    ``-o FILE`` against overwriting an input (``cli_common.refuse_overwriting_inputs``)."""
    import json

    import yaml

    seen = set() if seen is None else seen
    p = Path(path)
    try:
        key = p.resolve()
    except OSError:
        return []
    if key in seen or not p.is_file():
        return []
    seen.add(key)
    out: list[tuple[Path, str]] = [(p, "an input")]
    try:
        text = p.read_text(encoding="utf-8")
        data = json.loads(text) if p.suffix.lower() == ".json" else yaml.safe_load(text)
    except Exception:  # noqa: BLE001 - an unreadable file names nothing more
        return out
    if not isinstance(data, dict):
        return out
    here = p.parent
    named: list[tuple[Any, str]] = [(data.get("extends"), "the scenario it extends")]
    named.append((data.get("model"), "its model"))
    if isinstance(data.get("models"), dict):
        named += [(v, "a model it names") for v in data["models"].values()]
    if isinstance(data.get("carryover"), dict):
        named.append((data["carryover"].get("before"), "its carry-over history"))
    if isinstance(data.get("markets"), dict) and p.suffix.lower() == ".json":
        for m in data["markets"].values():
            if isinstance(m, dict):
                named.append((m.get("model"), "a market's model"))
                if isinstance(m.get("models"), dict):
                    named += [(v, "a market's model") for v in m["models"].values()]
    for v, what in named:
        if not (isinstance(v, str) and v):
            continue
        if what in ("the scenario it extends", "its model"):  # may name more files
            out += [(f, what if w == "an input" else w) for f, w in read_by(here / v, seen)]
        else:  # a model file or a history: read no further (a model can be large)
            out.append((here / v, what))
    return out
