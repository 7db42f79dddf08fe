"""Fuzz the CLI with N random cases (valid, extreme and broken files) and count the answers.

    python benchmarks/fuzz.py [N] [--start SEED] [--subprocess-every K]

Each case is ``tests/fuzzing.make_case(seed)`` for seeds START..START+N-1, run in-process through
click's CliRunner (and every K-th one also as a subprocess, the way a user runs it); the answer is
checked by ``tests/fuzzing.check_answer``. Prints the counts by exit code and by kind of input,
and every failing seed with its problems (reproduce one with ``--start SEED 1``). Exit 1 when any
case fails.
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fuzzing import check_answer, make_case  # noqa: E402
from tests.test_fuzz import run_in_process, run_subprocess  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("n", nargs="?", type=int, default=10_000)
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--subprocess-every", type=int, default=100)
    a = ap.parse_args()
    codes: collections.Counter = collections.Counter()
    kinds: collections.Counter = collections.Counter()
    failures = []
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(a.n):
            seed = a.start + k
            case = make_case(seed)
            root = Path(tmp) / str(seed)
            args = case.write(root)
            code, out, err = run_in_process(args)
            problems = check_answer(case, code, out, err)
            if a.subprocess_every and k % a.subprocess_every == 0:
                pcode, pout, perr = run_subprocess(args, root)
                problems += [f"subprocess: {p}" for p in check_answer(case, pcode, pout, perr)]
                if pcode != code:
                    problems.append(f"subprocess exit {pcode} but in-process exit {code}")
            codes[code] += 1
            kinds[(case.kind, case.command[0], code)] += 1
            if problems:
                failures.append((seed, case.command, code, problems, err[-300:]))
                print(f"FAIL seed {seed}: {case.command} exit {code}: {problems}", flush=True)
            if (k + 1) % 500 == 0:
                print(
                    f"{k + 1} cases, {len(failures)} failing, {time.perf_counter() - t0:.0f} s",
                    flush=True,
                )
            for f in root.iterdir():
                f.unlink()
            root.rmdir()
    print(
        f"\n{a.n} cases (seeds {a.start}..{a.start + a.n - 1}) in {time.perf_counter() - t0:.0f} s"
    )
    print("by exit code: " + ", ".join(f"{c}: {n}" for c, n in sorted(codes.items())))
    for (kind, cmd, code), n in sorted(kinds.items()):
        print(f"  {kind:8s} {cmd:9s} exit {code}: {n}")
    print(f"failures: {len(failures)}")
    for seed, cmd, code, problems, err in failures[:50]:
        print(f"  seed {seed} {cmd} exit {code}: {problems} | {err!r}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
