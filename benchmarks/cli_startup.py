"""Start-up cost of the ``budgetopt`` command line, against Python's own start-up in the same run.

    nice -n 10 .venv/bin/python benchmarks/cli_startup.py [--repeat 7] [--src DIR ...]

Each command runs as a user runs it, ``python -m optimizer ...`` in a fresh process (the test
suite runs the CLI that way hundreds of times), from an empty temporary folder, with
``PYTHONPATH`` set to the source tree timed (default: this checkout; ``--src`` one or more
others, e.g. an older commit unpacked with ``git archive``, timed with the same interpreter
and packages, in the same rounds). The commands run in rounds, each round every command of
every tree once in turn, so that a change in the machine's load falls on all of them alike;
the table gives the median over the rounds of each one's wall time and CPU time (user +
system, from ``getrusage`` of the children), and each median CPU time over two baselines
measured in the same rounds: ``python -c pass`` (the interpreter alone) and
``python -c "import numpy, pandas"`` (what any command that reads a CSV file pays).

Commands: ``--help``, ``optimize --help``, ``validate scenarios/base.yaml``, and ``optimize
scenarios/base.yaml --no-ledger -q`` with ``--format json`` and with the default table. Exit 0
whatever the numbers: this is a measurement.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "base.yaml"

BASELINES = {
    "python -c pass": ["-c", "pass"],
    'python -c "import numpy, pandas"': ["-c", "import numpy, pandas"],
}
COMMANDS = {
    "budgetopt --help": ["-m", "optimizer", "--help"],
    "budgetopt optimize --help": ["-m", "optimizer", "optimize", "--help"],
    "budgetopt validate base.yaml": ["-m", "optimizer", "validate", str(SCENARIO)],
    "budgetopt optimize base.yaml --format json": [
        *("-m", "optimizer", "optimize", str(SCENARIO), "--no-ledger", "-q"),
        *("--format", "json"),
    ],
    "budgetopt optimize base.yaml (table)": [
        *("-m", "optimizer", "optimize", str(SCENARIO), "--no-ledger", "-q"),
    ],
}


def run_once(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds (user + system) of one ``python ARGS`` in a fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    r = subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(args)} exited {r.returncode}:\n{r.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=7, help="rounds (default 7)")
    ap.add_argument(
        "--src", type=Path, action="append", help="a source tree timed (default: this one)"
    )
    args = ap.parse_args()
    srcs = [s.resolve() for s in (args.src or [ROOT])]
    #: label -> (python arguments, environment)
    jobs: dict[str, tuple[list[str], dict[str, str]]] = {}
    for src in srcs:
        env = {**os.environ, "PYTHONPATH": str(src), "PYTHONDONTWRITEBYTECODE": "1"}
        for k, a in (COMMANDS if jobs else {**BASELINES, **COMMANDS}).items():
            jobs[f"{k} ({src.name})" if len(srcs) > 1 and k in COMMANDS else k] = (a, env)
    walls: dict[str, list[float]] = {k: [] for k in jobs}
    cpus: dict[str, list[float]] = {k: [] for k in jobs}
    with tempfile.TemporaryDirectory() as tmp:
        for src in srcs:
            where = subprocess.run(
                [sys.executable, "-c", "import optimizer; print(optimizer.__file__)"],
                cwd=tmp,
                env={**os.environ, "PYTHONPATH": str(src)},
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
            print(f"timing the CLI of {where} with {sys.executable}")
        for a, env in jobs.values():  # warm-up: byte code compiled, files in the page cache
            run_once(a, Path(tmp), {**env, "PYTHONDONTWRITEBYTECODE": ""})
        for _ in range(args.repeat):
            for k, (a, env) in jobs.items():
                w, c = run_once(a, Path(tmp), env)
                walls[k].append(w)
                cpus[k].append(c)
    med_w = {k: statistics.median(v) for k, v in walls.items()}
    med_c = {k: statistics.median(v) for k, v in cpus.items()}
    bare, npd = (med_c[k] for k in BASELINES)
    print(f"load average at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"median of {args.repeat} rounds\n")
    print("| command | wall | CPU | CPU / `python -c pass` | CPU / `import numpy, pandas` |")
    print("|---|---:|---:|---:|---:|")
    for k in jobs:
        print(
            f"| `{k}` | {med_w[k]:.2f} s | {med_c[k]:.2f} s | {med_c[k] / bare:.1f}x | "
            f"{med_c[k] / npd:.2f}x |"
        )


if __name__ == "__main__":
    main()
