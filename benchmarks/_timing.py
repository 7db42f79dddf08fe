"""Fit time for 8 and 15 touchpoints x 156 weeks with uncertainty, against a yardstick measured in
the same run.

The machine is shared (2 cores, other jobs), so a wall-clock second means little from one run to
the next. Each timed fit sits between two *yardsticks*: a fixed single-threaded numpy/scipy workload
(NNLS solves and SVDs on fixed matrices) timed on the same CPU at the same moment. The ratio fit / yardstick
moves far less with the load than either time, so it is the number to compare across runs and
commits; CPU seconds of this process (``time.process_time``) are printed too.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import nnls
from threadpoolctl import threadpool_limits


def _workload() -> float:
    rng = np.random.default_rng(20_261_206)
    A = np.abs(rng.standard_normal((156, 30)))
    b = A @ np.abs(rng.standard_normal(30)) + rng.standard_normal(156)
    M = rng.standard_normal((120, 120))
    t0 = time.perf_counter()
    for k in range(100):
        nnls(A, b + 0.01 * k)
        np.linalg.svd(M)
    return time.perf_counter() - t0


def yardstick() -> float:
    """Seconds for a fixed single-threaded workload (100 x an NNLS solve of a 156 x 30 system
    and an SVD of a 120 x 120 matrix), the median of three runs after a warm-up."""
    with threadpool_limits(1):
        _workload()
        return float(np.median([_workload() for _ in range(3)]))


@dataclass
class Timing:
    label: str
    n_jobs: int
    wall: list[float]
    cpu: list[float]
    ratio: list[float]  # wall / the mean of the yardsticks measured just before and after

    @staticmethod
    def _span(v: list[float], fmt: str) -> str:
        med = float(np.median(v))
        if len(v) == 1:
            return format(med, fmt)
        return f"{format(med, fmt)} ({format(min(v), fmt)}-{format(max(v), fmt)})"

    def row(self) -> str:
        return (
            f"| {self.label} | {self.n_jobs} | {len(self.wall)} | {self._span(self.wall, '.1f')} s | "
            f"{self._span(self.cpu, '.1f')} s | {self._span(self.ratio, '.1f')}x |"
        )


def time_fit(label: str, fit: Callable[[], Any], repeats: int, n_jobs: int) -> Timing:
    """Time ``fit()`` ``repeats`` times, each between two yardsticks (their mean is the unit)."""
    wall, cpu, ratio = [], [], []
    for _ in range(repeats):
        y0 = yardstick()
        c0, t0 = time.process_time(), time.perf_counter()
        fit()
        w = time.perf_counter() - t0
        cpu.append(time.process_time() - c0)
        wall.append(w)
        ratio.append(w / (0.5 * (y0 + yardstick())))
    return Timing(label, n_jobs, wall, cpu, ratio)


def timing_table(timings: list[Timing], say: Callable[[str], None]) -> None:
    say(
        "| fit (156 weeks, with uncertainty) | n_jobs | runs | wall, median (min-max) | CPU of "
        "this process | wall / yardstick |"
    )
    say("|---|---:|---:|---:|---:|---:|")
    for t in timings:
        say(t.row())
    say(
        "\n(yardstick: a fixed single-threaded NNLS + SVD workload timed just before and after "
        "each fit, on the same shared CPU; the ratio is the load-robust figure. The machine has 2 cores shared with other "
        "jobs: wall times vary with their load)"
    )


def timing_compare_table(
    base: list[Timing], new: list[Timing], base_label: str, say: Callable[[str], None]
) -> None:
    """This fit's time over the baseline's on the same world, both measured in this run."""
    say(
        f"| fit (156 weeks, with uncertainty) | n_jobs | {base_label}: wall (CPU) | this fit: "
        f"wall (CPU) | this / {base_label}, wall (CPU) |"
    )
    say("|---|---:|---:|---:|---:|")
    for b, n in zip(base, new, strict=False):
        if (b.label, b.n_jobs) != (n.label, n.n_jobs):
            continue
        bw, bc = float(np.median(b.wall)), float(np.median(b.cpu))
        nw, nc = float(np.median(n.wall)), float(np.median(n.cpu))
        say(
            f"| {n.label} | {n.n_jobs} | {bw:.1f} s ({bc:.1f} s) | {nw:.1f} s ({nc:.1f} s) | "
            f"{nw / bw:.2f}x ({nc / bc:.2f}x) |"
        )
