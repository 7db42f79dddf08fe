"""A simulated world whose media effect varies by week of the year (issue 15, step 5): the
simulator's world with each week's media contribution multiplied by a yearly season, shared by all
touchpoints or one per touchpoint. Used by ``tests/test_seasonal_effect.py`` and
``benchmarks/seasonal_fit.py``."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.simulate import random_world, simulate, write_world


def season(amplitude: float, phase: float = 1.0) -> np.ndarray:
    """52 multipliers by ISO week, averaging 1: ``1 + amplitude · cos(2π(w−1)/52 − phase)``
    (phase 1.0 peaks in week 9, early March)."""
    m = 1.0 + amplitude * np.cos(2 * np.pi * (np.arange(1, 53) - 1) / 52 - phase)
    return m / m.mean()


def seasonal_world(
    root: Path,
    amplitude: float,
    seed: int = 2,
    *,
    n_touchpoints: int = 4,
    per_touchpoint: bool = False,
    n_weeks: int = 208,
    noise_sd: float = 0.02,
) -> tuple[dict[str, Path], dict[str, np.ndarray]]:
    """Write a world whose media contributions are multiplied by the season of their week: spend
    that varies (CV 0.8, dark spells a quarter of the weeks), media about half the KPI, noise
    ``noise_sd`` of the mean KPI. ``per_touchpoint``: each touchpoint's season peaks elsewhere
    (phases spread over the year); else one season for all. Returns the files and each
    touchpoint's true multipliers (flat at amplitude 0)."""
    spec = random_world(n_touchpoints, seed=seed, n_weeks=n_weeks, noise_sd=noise_sd)
    spec = dataclasses.replace(
        spec,
        baseline=spec.baseline * 0.5,
        touchpoints=tuple(
            dataclasses.replace(t, spend_cv=0.8, flighting=0.25, season_corr=0.0)
            for t in spec.touchpoints
        ),
    )
    w = simulate(spec)
    woy = np.minimum(pd.to_datetime(w.history["date"]).dt.isocalendar().week.to_numpy(int), 52)
    ids = [t.id for t in spec.touchpoints]
    truth = {
        tid: season(amplitude, 1.0 + (2 * np.pi * k / len(ids) if per_touchpoint else 0.0))
        for k, tid in enumerate(ids)
    }
    media = w.contributions[ids].to_numpy()
    mult = np.column_stack([truth[tid][woy - 1] for tid in ids])
    w.history[spec.kpi] = np.round(
        w.history[spec.kpi].to_numpy() + (media * (mult - 1.0)).sum(axis=1), 2
    )
    return write_world(w, root), truth
