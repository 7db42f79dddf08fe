"""The ledger: every ``optimize``, ``compare``, ``sweep`` and ``replan`` run, in a local SQLite file.

Each run records its id, time, command and options, the scenarios' names, a SHA-256 of every
input file (the scenario files along the ``extends:`` chain, the model, last cycle's spend, the
actuals) with a copy of each file's content (stored once per distinct content), the model's KPI,
the budgetopt version, the solver, and the plans as contract-6 JSON. A run can then be listed
(``history``), shown, compared with another (``diff``) and re-run (``rerun``): from the files
where they are now (warning when a file has changed since), or from the recorded copies.

Where: ``--ledger PATH``, else ``$BUDGETOPT_LEDGER``, else the project's: walking up from the
current folder (as git finds ``.git``), the nearest folder holding a ``.budgetopt`` folder or a
``.git`` (a repository's root), else the current folder: ``<there>/.budgetopt/ledger.sqlite``.
A command run from ``scenarios/`` or ``models/`` of a project then records into the project's
ledger, not into a new one beside it.

Safe for several processes at once: WAL journal, a busy timeout, and every write in its own
``BEGIN IMMEDIATE`` transaction (the write lock is taken up front, so two writers queue instead
of failing half way).

The ledger only stores: what a run is (``optimizer.app.run.RunSpec``), how it is computed
(``optimizer.app.run.execute``) and re-run (``optimizer.app.rerun``) live in the application
layer, which records runs here.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import re
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from optimizer import __version__
from optimizer.allocate.plan_json import plan_from_dict  # noqa: F401 (re-exported)
from optimizer.data import load_yaml
from optimizer.errors import BudgetOptError, ScenarioError
from optimizer.formatting import jsonable

DEFAULT_PATH = Path(".budgetopt") / "ledger.sqlite"
ENV = "BUDGETOPT_LEDGER"
SCHEMA_VERSION = 1
BUSY_TIMEOUT_MS = 30_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    id         TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    command    TEXT NOT NULL,
    scenarios  TEXT NOT NULL,
    inputs     TEXT NOT NULL,
    kpi        TEXT,
    version    TEXT NOT NULL,
    solver     TEXT,
    options    TEXT NOT NULL,
    plans      TEXT NOT NULL,
    extra      TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS blobs (
    sha256  TEXT PRIMARY KEY,
    content BLOB NOT NULL
);
"""


class LedgerError(BudgetOptError):
    """The ledger cannot be opened or read, or a run reference names no run."""


# ------------------------------------------------------------------------------------------------
# records
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class InputFile:
    """One input file of a run: its role, absolute path and content hash."""

    role: str  # scenario | extends | model | previous | actuals
    path: str
    sha256: str

    def to_dict(self) -> dict[str, str]:
        return {"role": self.role, "path": self.path, "sha256": self.sha256}


@dataclass(frozen=True)
class Run:
    """One recorded run."""

    id: str
    created_at: str  # ISO 8601, UTC, milliseconds
    command: str
    scenarios: tuple[str, ...]
    inputs: tuple[InputFile, ...]
    kpi: str | None
    version: str
    solver: str | None
    options: Mapping[str, Any]
    plans: tuple[dict[str, Any], ...]  # contract-6 plans
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self, *, plans: bool = True) -> dict[str, Any]:
        d: dict[str, Any] = {
            "id": self.id,
            "created_at": self.created_at,
            "command": self.command,
            "label": self.label,
            "scenarios": list(self.scenarios),
            "kpi": self.kpi,
            "version": self.version,
            "solver": self.solver,
            "options": dict(self.options),
            "inputs": [f.to_dict() for f in self.inputs],
        }
        if self.extra:
            d["extra"] = dict(self.extra)
        if plans:
            d["plans"] = list(self.plans)
        else:
            d["summary"] = [_summary(p) for p in self.plans]
        return d

    @property
    def label(self) -> str:
        """The command as a planner tells runs apart: ``optimize --robust mean``,
        ``optimize --uncertainty``, ``explain``…"""
        words = [self.command]
        # an optimize run recorded before --robust existed (no "robust" option) planned on the
        # point curves and re-runs as --robust none (app/run.py): it reads so
        robust = self.options.get("robust", "none" if self.command == "optimize" else None)
        # the default (--robust auto) goes without saying; a point-optimum run, recorded when it
        # was the default too, reads "--robust none", as it re-runs
        if robust and robust != "auto":
            words.append(f"--robust {robust}")
        if self.options.get("risk") is not None:
            words.append(f"--risk {self.options['risk']:g}")
        if "uncertainty" in self.extra:
            words.append("--uncertainty")
        return " ".join(words)

    def plan(self, which: str | None = None) -> dict[str, Any]:
        """One of the run's plans: by scenario name, by position (``0``, ``1`` …) or the first."""
        if not self.plans:
            raise LedgerError(f"run {self.id} recorded no plan")
        if which is None or which == "":
            return self.plans[0]
        names = [str(p.get("scenario")) for p in self.plans]
        if which in names:
            return self.plans[names.index(which)]
        n = len(self.plans)
        if which.lstrip("-").isdigit():
            if -n <= int(which) < n:
                return self.plans[int(which)]
            raise LedgerError(
                f"run {self.id} has {n} plan{'s' if n != 1 else ''}: positions 0 to {n - 1} "
                f"(0 is the first; -1 the last), not {which}; or name one: "
                + ", ".join(repr(x) for x in names[:8])
                + ("…" if n > 8 else "")
            )
        from optimizer.formatting import did_you_mean

        raise LedgerError(f"run {self.id} has no plan {which!r}{did_you_mean(which, names)}")


def _summary(p: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "scenario": p.get("scenario"),
        "status": p.get("status"),
        "total_spend": p.get("total_spend"),
        "total_kpi": p.get("total_kpi"),
    }


# ------------------------------------------------------------------------------------------------
# ids, hashes, input files
# ------------------------------------------------------------------------------------------------
_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


def _base36(n: int, width: int) -> str:
    out = ""
    while n:
        n, r = divmod(n, 36)
        out = _ALPHABET[r] + out
    return out.rjust(width, "0")[-width:]


def new_run_id(now_ms: int | None = None) -> str:
    """A short run id that sorts by time: milliseconds since 1970 in base 36 (9 characters, good
    until the year 5188) and 3 random characters, e.g. ``0mhx3k2qbf7a``."""
    ms = int(time.time() * 1000) if now_ms is None else int(now_ms)
    return _base36(ms, 9) + "".join(secrets.choice(_ALPHABET) for _ in range(3))


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def scenario_inputs(path: str | Path) -> list[tuple[str, Path]]:
    """The files a scenario file reads: itself, the files along its ``extends:`` chain, and any
    last-cycle CSV (``previous:``) and carry-over file (``carryover.before``) they name, each
    with its role. The model is not included."""
    out: list[tuple[str, Path]] = []
    seen: set[Path] = set()
    p: Path | None = Path(path).resolve()
    role = "scenario"
    while p is not None and p not in seen and p.exists():
        seen.add(p)
        out.append((role, p))
        try:
            data = load_yaml(p, ScenarioError)
        except BudgetOptError:
            break
        if not isinstance(data, Mapping):
            break
        prevs = [data.get("previous")]
        variants = data.get("variants")
        if isinstance(variants, Mapping):
            prevs += [v.get("previous") for v in variants.values() if isinstance(v, Mapping)]
        for prev in prevs:
            if isinstance(prev, str) and (p.parent / prev).exists():
                out.append(("previous", (p.parent / prev).resolve()))
        carry = data.get("carryover")
        before = carry.get("before") if isinstance(carry, Mapping) else None
        if isinstance(before, str) and (p.parent / before).is_file():
            out.append(("carryover", (p.parent / before).resolve()))
        parent = data.get("extends")
        p = (p.parent / parent).resolve() if isinstance(parent, str) else None
        role = "extends"
    return out


def collect_inputs(
    scenario_paths: Sequence[str | Path],
    model_paths: Sequence[str | Path],
    others: Sequence[tuple[str, str | Path]] = (),
) -> list[tuple[str, Path]]:
    """Every input file of a run, each once, in a stable order."""
    files: list[tuple[str, Path]] = []
    for sp in scenario_paths:
        files.extend(scenario_inputs(sp))
    files.extend(("model", Path(m).resolve()) for m in model_paths)
    files.extend((role, Path(p).resolve()) for role, p in others)
    seen: set[Path] = set()
    out = []
    for role, p in files:
        if p not in seen and p.exists() and p.is_file():
            seen.add(p)
            out.append((role, p))
    return out


# ------------------------------------------------------------------------------------------------
# the database
# ------------------------------------------------------------------------------------------------
#: how a recorded run is named: its id, a start of it (3 characters or more), last or last~N;
#: then, for a run with several plans, ``:SCENARIO`` (a name or a position)
RUN_REFERENCE = re.compile(r"^(last(~\d+)?|[0-9a-z]{3,})(:.+)?$")


def is_run_reference(ref: str) -> bool:
    """Whether ``ref`` is written as a run is named (``RUN_REFERENCE``)."""
    return RUN_REFERENCE.match(ref.strip()) is not None


def split_run_reference(ref: str) -> tuple[str, str | None]:
    """``RUN[:SCENARIO]`` → (run, scenario or None)."""
    run, _, which = ref.partition(":")
    return run, (which or None)


def ledger_path(option: str | Path | None = None, start: str | Path | None = None) -> Path:
    """``--ledger PATH``, else ``$BUDGETOPT_LEDGER``, else the project's ledger found from
    ``start`` (the current folder): see the module docstring."""
    if option:
        return Path(option)
    env = os.environ.get(ENV)
    if env:
        return Path(env)
    return project_root(start) / DEFAULT_PATH


def project_root(start: str | Path | None = None) -> Path:
    """The project of ``start`` (default: the current folder): the nearest folder upwards that
    holds a ``.budgetopt`` folder or a ``.git`` (a repository bounds the walk: a ledger above
    it belongs to another project); ``start`` itself when there is neither."""
    here = Path(start if start is not None else Path.cwd()).resolve()
    for d in (here, *here.parents):
        if (d / DEFAULT_PATH.parent.name).is_dir() or (d / ".git").exists():
            return d
    return here


class Ledger:
    """A ledger file. Opening it creates it (and its folder) when it does not exist yet."""

    def __init__(self, path: str | Path, *, create: bool = True) -> None:
        self.path = Path(path)
        if not create and not self.path.exists():
            raise LedgerError(
                "there is no ledger here yet: runs are recorded by optimize, "
                "compare, sweep and replan",
                path=self.path,
            )
        try:
            if create:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self.conn = sqlite3.connect(
                str(self.path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None
            )
            self.conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self._retry(lambda: self.conn.execute("PRAGMA journal_mode = WAL"))
            self.conn.execute("PRAGMA synchronous = NORMAL")
            with self.transaction():
                for stmt in _SCHEMA.split(";"):
                    if stmt.strip():
                        self.conn.execute(stmt)
                if self.conn.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
                    self.conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except sqlite3.DatabaseError as e:
            raise LedgerError(f"cannot open the ledger: {e}", path=self.path) from None

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @staticmethod
    def _retry(fn: Callable[[], Any], attempts: int = 50) -> Any:
        """Run ``fn``, retrying while another process holds a lock SQLite does not wait for
        (switching the journal mode)."""
        for k in range(attempts):
            try:
                return fn()
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) or k == attempts - 1:
                    raise
                time.sleep(0.02 * (k + 1))
        return None  # pragma: no cover

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` … ``COMMIT`` (``ROLLBACK`` on any error)."""
        self._retry(lambda: self.conn.execute("BEGIN IMMEDIATE"))
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    # --- writing ----------------------------------------------------------------------------
    def record(
        self,
        *,
        command: str,
        scenarios: Sequence[str],
        plans: Sequence[Mapping[str, Any]],
        inputs: Sequence[tuple[str, str | Path]] = (),
        kpi: str | None = None,
        solver: str | None = None,
        options: Mapping[str, Any] | None = None,
        extra: Mapping[str, Any] | None = None,
        now: _dt.datetime | None = None,
        recorded: Sequence[InputFile] = (),
    ) -> Run:
        """Record one run (one transaction); returns it with its new id.

        ``inputs`` are (role, path) of files read now; ``recorded`` are input files whose content
        the ledger already holds (a re-run from its snapshot).
        """
        files = list(recorded)
        blobs = []
        for role, p in inputs:
            data = Path(p).read_bytes()
            digest = hashlib.sha256(data).hexdigest()
            files.append(InputFile(role, str(Path(p).resolve()), digest))
            blobs.append((digest, data))
        now = now or _dt.datetime.now(_dt.UTC)
        created = now.astimezone(_dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        row = {
            "created_at": created,
            "command": command,
            "scenarios": json.dumps(list(scenarios)),
            "inputs": json.dumps([f.to_dict() for f in files]),
            "kpi": kpi,
            "version": __version__,
            "solver": solver,
            "options": json.dumps(jsonable(dict(options or {})), sort_keys=True),
            "plans": json.dumps(list(plans), allow_nan=False),
            "extra": json.dumps(jsonable(dict(extra or {})), sort_keys=True),
        }
        ms = int(now.timestamp() * 1000)
        for _ in range(20):
            run_id = new_run_id(ms)
            try:
                with self.transaction() as c:
                    c.executemany(
                        "INSERT OR IGNORE INTO blobs (sha256, content) VALUES (?, ?)", blobs
                    )
                    c.execute(
                        "INSERT INTO runs (id, created_at, command, scenarios, inputs, kpi, "
                        "version, solver, options, plans, extra) VALUES (:id, :created_at, "
                        ":command, :scenarios, :inputs, :kpi, :version, :solver, :options, "
                        ":plans, :extra)",
                        {"id": run_id, **row},
                    )
                break
            except sqlite3.IntegrityError:  # the same id drawn twice in one millisecond
                continue
        else:  # pragma: no cover - 20 collisions of 46,656 suffixes
            raise LedgerError("could not draw a unique run id", path=self.path)
        return self.get(run_id)

    # --- reading ----------------------------------------------------------------------------
    _COLUMNS = (
        "id, created_at, command, scenarios, inputs, kpi, version, solver, options, plans, extra"
    )

    @staticmethod
    def _run(row: Sequence[Any]) -> Run:
        (rid, created, command, scenarios, inputs, kpi, version, solver, options, plans, extra) = (
            row
        )
        return Run(
            rid,
            created,
            command,
            tuple(json.loads(scenarios)),
            tuple(InputFile(**f) for f in json.loads(inputs)),
            kpi,
            version,
            solver,
            json.loads(options),
            tuple(json.loads(plans)),
            json.loads(extra),
        )

    def runs(self, limit: int | None = None, command: str | None = None) -> list[Run]:
        """Runs, newest first."""
        sql = f"SELECT {self._COLUMNS} FROM runs"
        args: list[Any] = []
        if command:
            sql += " WHERE command = ?"
            args.append(command)
        sql += " ORDER BY seq DESC"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(int(limit))
        return [self._run(r) for r in self.conn.execute(sql, args)]

    def count(self) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0])

    def get(self, ref: str) -> Run:
        """A run by id, by a unique prefix of its id, or ``last`` / ``last~N`` (N runs before)."""
        ref = ref.strip()
        if ref == "last" or ref.startswith("last~"):
            back = int(ref[5:] or 0) if ref[5:].isdigit() or ref == "last" else -1
            if back < 0:
                raise LedgerError(f"expected last or last~N, got {ref!r}")
            rows = self.conn.execute(
                f"SELECT {self._COLUMNS} FROM runs ORDER BY seq DESC LIMIT 1 OFFSET ?", (back,)
            ).fetchall()
            if not rows:
                raise LedgerError(
                    f"the ledger has no run {ref!r} (it holds {self.count()} runs)", path=self.path
                )
            return self._run(rows[0])
        rows = self.conn.execute(
            f"SELECT {self._COLUMNS} FROM runs WHERE id = ?", (ref,)
        ).fetchall()
        if not rows and len(ref) >= 3:
            rows = self.conn.execute(
                f"SELECT {self._COLUMNS} FROM runs WHERE id LIKE ? ORDER BY seq LIMIT 6",
                (ref.replace("%", "") + "%",),
            ).fetchall()
        if not rows:
            raise LedgerError(
                f"no run {ref!r} in the ledger (budgetopt history lists them)", path=self.path
            )
        if len(rows) > 1:
            ids = ", ".join(r[0] for r in rows[:5])
            raise LedgerError(
                f"{ref!r} matches several runs ({ids}…): give more of the id", path=self.path
            )
        return self._run(rows[0])

    def blob(self, sha256: str) -> bytes | None:
        row = self.conn.execute("SELECT content FROM blobs WHERE sha256 = ?", (sha256,)).fetchone()
        return None if row is None else bytes(row[0])


def canonical(plan: Mapping[str, Any]) -> str:
    """A plan's JSON in one canonical text, to test two plans for identity."""
    return json.dumps(plan, sort_keys=True, allow_nan=False)
