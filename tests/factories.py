"""Tiny worlds and files for tests (and docs): small, deterministic, hand-checkable."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

TINY_TOUCHPOINTS = [
    {"id": "tv", "stage": "awareness"},
    {"id": "search", "stage": "consideration"},
    {"id": "email", "stage": "post_purchase"},
]

TINY_MODEL = {
    "kpi": "revenue",
    "period": "week",
    "touchpoints": {
        "tv": {"stage": "awareness",
               "curve": {"family": "hill", "beta": 120000.0, "half_saturation": 40000.0, "shape": 0.8},
               "adstock": {"family": "geometric", "decay": 0.45}},
        "search": {"stage": "consideration",
                   "curve": {"family": "exponential", "beta": 80000.0, "scale": 20000.0}},
        "email": {"stage": "post_purchase",
                  "curve": {"family": "logistic", "beta": 30000.0, "lam": 0.0002}},
    },
}


def tiny_history(weeks: int = 60, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2024-01-01", periods=weeks, freq="7D")
    df = pd.DataFrame({"date": dates.strftime("%Y-%m-%d")})
    for t, scale in (("tv", 30000), ("search", 15000), ("email", 4000)):
        df[t] = np.round(rng.lognormal(np.log(scale), 0.4, weeks), 2)
    df["revenue"] = np.round(500000 + 2 * df["tv"] + 3 * df["search"] + 5 * df["email"]
                             + rng.normal(0, 5000, weeks), 2)
    return df


def write_tiny_world(root: Path, *, weeks: int = 60) -> dict[str, Path]:
    """journey.yaml, history.csv, model.json and scenarios/base.yaml under ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    journey = root / "journey.yaml"
    journey.write_text(yaml.safe_dump({"kpi": "revenue", "touchpoints": TINY_TOUCHPOINTS}, sort_keys=False))
    history = root / "history.csv"
    tiny_history(weeks).to_csv(history, index=False)
    model = root / "model.json"
    model.write_text(json.dumps(TINY_MODEL, indent=2))
    scen = root / "scenarios"
    scen.mkdir(exist_ok=True)
    base = scen / "base.yaml"
    base.write_text(yaml.safe_dump({"name": "base", "model": "../model.json", "horizon_weeks": 13,
                                    "budget": 1300000, "touchpoints": {"tv": {"max": 600000}},
                                    "stages": {"awareness": {"min_share": 0.1}}}, sort_keys=False))
    return {"journey": journey, "history": history, "model": model, "scenario": base, "root": root}
