"""Write the bundled sample company's files.

Usage::

    python -m optimizer.sample.generate [--out DIR]

Simulates :func:`optimizer.simulate.sample_company` and writes ``journey.yaml``, ``history.csv``,
``true_model.json`` and ``true_contributions.csv`` into ``DIR`` (default: this package's folder).
The output is deterministic; ``tests/test_simulate.py`` checks the bundled files match it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from optimizer.sample import sample_dir
from optimizer.simulate import SimulatedWorld, sample_company, simulate, write_world


def generate(out_dir: str | Path | None = None) -> tuple[SimulatedWorld, dict[str, Path]]:
    """Simulate the sample company and write its files.

    Parameters
    ----------
    out_dir : str or Path, optional
        Where to write; the package's ``optimizer/sample/`` folder when omitted.

    Returns
    -------
    (SimulatedWorld, dict of Path)
        The world and the written files by kind.
    """
    world = simulate(sample_company())
    return world, write_world(world, sample_dir() if out_dir is None else Path(out_dir))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m optimizer.sample.generate",
        description="Write the sample company's journey, history and true model.",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="output folder (default: the optimizer/sample package folder)",
    )
    args = parser.parse_args(argv)
    world, paths = generate(args.out)
    spend = world.spend.sum(axis=1).mean()
    print(
        f"{world.spec.name}: {len(world.spec.touchpoints)} touchpoints, {len(world.history)} weeks, "
        f"mean weekly spend {spend:,.0f}, mean weekly {world.spec.kpi} "
        f"{world.history[world.spec.kpi].mean():,.0f}, media share {world.media_share:.1%}",
        file=sys.stderr,
    )
    for p in paths.values():
        print(f"wrote {p}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
