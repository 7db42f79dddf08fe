"""Pooled capture of each plan of a ``bayes_bound.py`` run beside ``optimize``'s default on the
same worlds: the default's capture per world read from a ``prior_paired.py`` log (its "per world
(auto capture)" table, the ``base`` row), weighted by the worlds' uplifts as printed by
``bayes_bound.py`` (capture = sum of gains over the historical mix / sum of uplifts).

    .venv/bin/python benchmarks/pooled_beside.py BAYES_BOUND_LOG PRIOR_PAIRED_LOG
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path


def bound_rows(path: Path) -> dict[str, tuple[float, dict[str, float], bool]]:
    """Each world's uplift (% of the KPI), each plan's gain over the historical mix (%), and
    whether it lies outside ``full``'s prior (or is a stand-in world)."""
    rows = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if " vs hist: " not in line or line.startswith(" "):
            continue
        up = float(line.split("uplift")[1].split("%")[0])
        vs = line.split(" vs hist: ")[1].split("  ESS")[0].split("  ")
        gains = {p: float(v.rstrip("%")) for p, v in (x.split() for x in vs)}
        outside = "(outside full prior)" in line or "(stand-in" in line
        rows[line.split()[0]] = (up, gains, outside)
    return rows


def default_capture(path: Path) -> dict[str, float]:
    """The ``base`` variant's capture per world (%) from a ``prior_paired.py`` log."""
    lines = path.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        if line.startswith("per world (auto capture):"):
            names = line.split(":", 1)[1].split()
            for row in lines[i + 1 :]:
                parts = row.split()
                if parts and parts[0] == "base":
                    return dict(zip(names, (float(v.rstrip("%")) for v in parts[1:]), strict=True))
    raise SystemExit(f"{path}: no 'per world (auto capture)' table with a base row")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("bound_log", type=Path)
    ap.add_argument("paired_log", type=Path)
    args = ap.parse_args(argv)
    rows, base = bound_rows(args.bound_log), default_capture(args.paired_log)
    missing = sorted(set(rows) - set(base))
    if missing:
        raise SystemExit(f"{args.paired_log}: no default capture for {', '.join(missing)}")
    plans = list(next(iter(rows.values()))[1])
    for subset in ("all", "inside full's prior"):
        worlds = [w for w in rows if subset == "all" or not rows[w][2]]
        den = sum(rows[w][0] for w in worlds)
        out = {p: 100.0 * sum(rows[w][1][p] for w in worlds) / den for p in plans}
        out["default (--robust auto)"] = sum(base[w] * rows[w][0] for w in worlds) / den
        cells = "  ".join(f"{p} {v:.1f}%" for p, v in out.items())
        print(f"{subset}: {len(worlds)} worlds  {cells}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
