"""Fuzz the CLI with N random cases (valid, extreme and broken files) and count the answers.

    python benchmarks/fuzz.py [N] [--start SEED] [--seeds S1,S2,…] [--subprocess-every K]
                              [--workers W]

Each case is ``tests/fuzzing.make_case(seed)`` for seeds START..START+N-1 (or the seeds listed),
run in-process through click's CliRunner on the CLI's own entry point (``optimizer.cli.cli``), and
every K-th one also as a subprocess (``python -m optimizer``, the way a user runs it; K=100: 1%).
The answer is checked by ``tests/fuzzing.check_answer``: the exit code (0, 2, 3 or 4 only), no
traceback or warning, and on a plan every rule on the rounded plan and the status against the gap.
Each in-process case runs in a forked child of the worker, so a case that crashes the process
(a segfault in a solver library: exit -11) or runs past ``--case-timeout`` seconds (a hang) is
counted as a failure of its seed instead of taking the run down. ``--workers W`` runs the cases
in W processes (each case is independent; the counts do not depend on W). Prints the counts by exit code, by kind of input and by kind of problem, the slowest cases,
and every failing seed (reproduce one with ``--seeds SEED``). Exit 1 when any case fails.
"""

from __future__ import annotations

import argparse
import collections
import multiprocessing
import os
import pickle
import select
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fuzzing import check_answer, make_case  # noqa: E402
from tests.test_fuzz import run_in_process, run_subprocess  # noqa: E402

#: what a problem string of ``check_answer`` is counted as
KINDS = (
    ("exit code", "exit code outside 0/2/3/4"),
    ("Traceback", "traceback"),
    ("internal error", "traceback"),
    ("Warning", "warning in the output"),
    ("overflow", "warning in the output"),
    ("status", "status/gap mismatch"),
    ("exit 0 with", "status/gap mismatch"),
    ("exit 4 with", "status/gap mismatch"),
    ("stdout is not JSON", "unreadable plan"),
    ("subprocess exit", "subprocess and in-process differ"),
    ("crashed", "crash (signal)"),
    ("no answer within", "hang"),
    ("stderr of", "message too long"),
)


def kind_of(problem: str) -> str:
    for needle, kind in KINDS:
        if needle in problem:
            return kind
    return "rule violated on the rounded plan"


def run_forked(args: list[str], timeout: float) -> tuple[int, str, str]:
    """``run_in_process(args)`` in a forked child: its answer, or a crash (exit -SIGNAL) or a hang
    (no answer within ``timeout`` seconds: the child is killed) as an answer of their own."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: answer, then leave without running the parent's clean-up
        try:
            os.close(r)
            data = pickle.dumps(run_in_process(args))
            with os.fdopen(w, "wb") as f:
                f.write(data)
        finally:
            os._exit(0)
    os.close(w)
    chunks = []
    deadline = time.monotonic() + timeout
    with os.fdopen(r, "rb") as f:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([f], [], [], left)[0]:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                return -9, "", f"no answer within {timeout:.0f} s (killed)"
            chunk = os.read(f.fileno(), 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        return -sig, "", f"crashed: signal {sig} ({signal.Signals(sig).name})"
    return pickle.loads(b"".join(chunks))


def run_case(job: tuple[int, bool, str, float]) -> tuple:
    """One case: (seed, kind, command, exit code, problems, stderr tail, seconds)."""
    seed, also_subprocess, tmp, timeout = job
    t0 = time.perf_counter()
    case = make_case(seed)
    root = Path(tmp) / str(seed)
    args = case.write(root)
    try:
        code, out, err = run_forked(args, timeout)
        problems = check_answer(case, code, out, err)
        if also_subprocess:
            pcode, pout, perr = run_subprocess(args, root)
            problems += [f"subprocess: {p}" for p in check_answer(case, pcode, pout, perr)]
            if pcode != code:
                problems.append(f"subprocess exit {pcode} but in-process exit {code}")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return seed, case.kind, case.command[0], code, problems, err[-300:], time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("n", nargs="?", type=int, default=10_000)
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--seeds", help="comma-separated seeds to run instead of START..START+N-1")
    ap.add_argument("--subprocess-every", type=int, default=100)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--case-timeout", type=float, default=600.0)
    a = ap.parse_args()
    seeds = (
        [int(s) for s in a.seeds.split(",") if s.strip()]
        if a.seeds
        else list(range(a.start, a.start + a.n))
    )
    every = a.subprocess_every
    codes: collections.Counter = collections.Counter()
    kinds: collections.Counter = collections.Counter()
    problem_kinds: collections.Counter = collections.Counter()
    n_sub = 0
    failures = []
    times = []
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        jobs = [
            (s, bool(every) and k % every == 0, tmp, a.case_timeout) for k, s in enumerate(seeds)
        ]
        n_sub = sum(j[1] for j in jobs)
        if a.workers > 1:
            pool = multiprocessing.get_context("spawn").Pool(a.workers, maxtasksperchild=500)
            results = pool.imap_unordered(run_case, jobs, chunksize=2)
        else:
            pool = None
            results = map(run_case, jobs)
        try:
            for k, (seed, kind, cmd, code, problems, err, secs) in enumerate(results):
                codes[code] += 1
                kinds[(kind, cmd, code)] += 1
                times.append((secs, seed, cmd, code))
                if problems:
                    failures.append((seed, cmd, code, problems, err))
                    for p in problems:
                        problem_kinds[kind_of(p)] += 1
                    print(f"FAIL seed {seed}: {cmd} exit {code}: {problems}", flush=True)
                if (k + 1) % 500 == 0:
                    print(
                        f"{k + 1} cases, {len(failures)} failing, {time.perf_counter() - t0:.0f} s",
                        flush=True,
                    )
        finally:
            if pool is not None:
                pool.close()
                pool.join()
    wall = time.perf_counter() - t0
    span = f"seeds {seeds[0]}..{seeds[-1]}" if not a.seeds else f"seeds {a.seeds}"
    print(
        f"\n{len(seeds)} cases ({span}; {n_sub} also as a subprocess) in {wall:.0f} s "
        f"with {a.workers} worker(s): {wall / max(1, len(seeds)):.3f} s a case"
    )
    print("by exit code: " + ", ".join(f"{c}: {n}" for c, n in sorted(codes.items())))
    for (kind, cmd, code), n in sorted(kinds.items()):
        print(f"  {kind:8s} {cmd:9s} exit {code}: {n}")
    print(
        "slowest: "
        + ", ".join(f"seed {s} {c} exit {e} {t:.1f} s" for t, s, c, e in sorted(times)[-5:])
    )
    print(
        "problems by kind: " + (", ".join(f"{k}: {n}" for k, n in problem_kinds.items()) or "none")
    )
    print(f"tracebacks: {problem_kinds['traceback']}")
    print(f"crashes: {problem_kinds['crash (signal)']}, hangs: {problem_kinds['hang']}")
    print(f"exit codes outside 0/2/3/4: {problem_kinds['exit code outside 0/2/3/4']}")
    print(
        f"rule violations on the rounded plan: {problem_kinds['rule violated on the rounded plan']}"
    )
    print(f"status/gap mismatches: {problem_kinds['status/gap mismatch']}")
    print(f"failing cases: {len(failures)} of {len(seeds)}")
    for seed, cmd, code, problems, err in failures[:50]:
        print(f"  seed {seed} {cmd} exit {code}: {problems} | {err!r}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
