"""Tiny worlds and files for tests (and docs): small, deterministic, hand-checkable."""

from __future__ import annotations

import functools
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
        "tv": {
            "stage": "awareness",
            "curve": {"family": "hill", "beta": 120000.0, "half_saturation": 40000.0, "shape": 0.8},
            "adstock": {"family": "geometric", "decay": 0.45},
        },
        "search": {
            "stage": "consideration",
            "curve": {"family": "exponential", "beta": 80000.0, "scale": 20000.0},
        },
        "email": {
            "stage": "post_purchase",
            "curve": {"family": "logistic", "beta": 30000.0, "lam": 0.0002},
        },
    },
}


def tiny_history(weeks: int = 60, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2024-01-01", periods=weeks, freq="7D")
    df = pd.DataFrame({"date": dates.strftime("%Y-%m-%d")})
    for t, scale in (("tv", 30000), ("search", 15000), ("email", 4000)):
        df[t] = np.round(rng.lognormal(np.log(scale), 0.4, weeks), 2)
    df["revenue"] = np.round(
        500000 + 2 * df["tv"] + 3 * df["search"] + 5 * df["email"] + rng.normal(0, 5000, weeks), 2
    )
    return df


def write_tiny_world(root: Path, *, weeks: int = 60) -> dict[str, Path]:
    """journey.yaml, history.csv, model.json and scenarios/base.yaml under ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    journey = root / "journey.yaml"
    journey.write_text(
        yaml.safe_dump({"kpi": "revenue", "touchpoints": TINY_TOUCHPOINTS}, sort_keys=False)
    )
    history = root / "history.csv"
    tiny_history(weeks).to_csv(history, index=False)
    model = root / "model.json"
    model.write_text(json.dumps(TINY_MODEL, indent=2))
    scen = root / "scenarios"
    scen.mkdir(exist_ok=True)
    base = scen / "base.yaml"
    base.write_text(
        yaml.safe_dump(
            {
                "name": "base",
                "model": "../model.json",
                "horizon_weeks": 13,
                "budget": 1300000,
                "touchpoints": {"tv": {"max": 600000}},
                "stages": {"awareness": {"min_share": 0.1}},
            },
            sort_keys=False,
        )
    )
    return {"journey": journey, "history": history, "model": model, "scenario": base, "root": root}


# A world for budget reviews: every reason a line item stops where it stops, in one plan.
# At a budget of 1,300,000 over 13 weeks: tv is capped by its maximum, social and video by the
# 'digital' group cap, email is held up by its lock, search and events sit at the hurdle (search
# beyond the weekly spend ever seen: extrapolation) and print is not funded (its first dollar
# returns 0.15, below the hurdle). It is a pure LP (fast). With ``min_if_funded=True`` events may
# only be funded at 300,000 or more, which is not worth it (a MILP).
REVIEW_MODEL = {
    "kpi": "revenue",
    "period": "week",
    "touchpoints": {
        "tv": {
            "stage": "awareness",
            "curve": {"family": "hill", "beta": 120000.0, "half_saturation": 40000.0, "shape": 0.8},
            "adstock": {"family": "geometric", "decay": 0.45},
            "spend_range": {"min": 10000.0, "max": 45000.0, "mean": 28000.0, "recent": 30000.0},
        },
        "print": {
            "stage": "awareness",
            "curve": {"family": "exponential", "beta": 6000.0, "scale": 40000.0},
            "spend_range": {"min": 0.0, "max": 8000.0, "mean": 3000.0, "recent": 2000.0},
        },
        "search": {
            "stage": "consideration",
            "curve": {"family": "exponential", "beta": 80000.0, "scale": 20000.0},
            "spend_range": {"min": 5000.0, "max": 30000.0, "mean": 15000.0, "recent": 18000.0},
        },
        "social": {
            "stage": "consideration",
            "curve": {"family": "exponential", "beta": 50000.0, "scale": 15000.0},
            "spend_range": {"min": 2000.0, "max": 25000.0, "mean": 10000.0, "recent": 12000.0},
        },
        "video": {
            "stage": "consideration",
            "curve": {"family": "exponential", "beta": 40000.0, "scale": 15000.0},
            "spend_range": {"min": 2000.0, "max": 20000.0, "mean": 9000.0, "recent": 10000.0},
        },
        "events": {
            "stage": "decision",
            "curve": {"family": "exponential", "beta": 12000.0, "scale": 8000.0},
            "spend_range": {"min": 0.0, "max": 30000.0, "mean": 5000.0, "recent": 0.0},
        },
        "email": {
            "stage": "post_purchase",
            "curve": {"family": "logistic", "beta": 30000.0, "lam": 0.0002},
            "spend_range": {"min": 1000.0, "max": 12000.0, "mean": 5000.0, "recent": 6000.0},
        },
    },
}

REVIEW_SCENARIO = {
    "name": "review",
    "model": "../model.json",
    "horizon_weeks": 13,
    "budget": 1300000,
    "touchpoints": {"tv": {"max": 300000}, "email": {"lock": 250000}},
    "stages": {"awareness": {"min_share": 0.1}},
    "groups": {"digital": {"members": ["social", "video"], "max": 350000}},
}

REVIEW_LAST_CYCLE = {
    "tv": 320000.0,
    "print": 40000.0,
    "search": 330000.0,
    "social": 180000.0,
    "video": 120000.0,
    "events": 60000.0,
    "email": 250000.0,
}


def review_model(draws: int = 8) -> dict:
    """``REVIEW_MODEL`` with ``draws`` joint bootstrap draws per touchpoint (betas 0.85x to 1.15x)."""
    m = json.loads(json.dumps(REVIEW_MODEL))
    factors = np.linspace(0.85, 1.15, draws) if draws else []
    for tp in m["touchpoints"].values():
        tp["draws"] = [
            {
                "curve": {**tp["curve"], "beta": tp["curve"]["beta"] * float(f)},
                **({"adstock": tp["adstock"]} if "adstock" in tp else {}),
            }
            for f in factors
        ]
    return m


def review_scenario(min_if_funded: bool = False) -> dict:
    """``REVIEW_SCENARIO``, optionally with events' ``min_if_funded: 300000``."""
    sc = json.loads(json.dumps(REVIEW_SCENARIO))
    if min_if_funded:
        sc["touchpoints"]["events"] = {"min_if_funded": 300000}
    return sc


def write_review_world(
    root: Path, *, draws: int = 8, min_if_funded: bool = False
) -> dict[str, Path]:
    """model.json (with bootstrap draws), scenarios/review.yaml and last_cycle.csv under ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    model = root / "model.json"
    model.write_text(json.dumps(review_model(draws), indent=2))
    scen = root / "scenarios"
    scen.mkdir(exist_ok=True)
    scenario = scen / "review.yaml"
    scenario.write_text(yaml.safe_dump(review_scenario(min_if_funded), sort_keys=False))
    last = root / "last_cycle.csv"
    pd.DataFrame({"id": list(REVIEW_LAST_CYCLE), "spend": list(REVIEW_LAST_CYCLE.values())}).to_csv(
        last, index=False
    )
    return {"model": model, "scenario": scenario, "last_cycle": last, "root": root}


@functools.cache
def explained_review(
    min_if_funded: bool = False, sweep_points: int = 11, refine_steps: int = 1, draws: int = 8
):
    """(scenario, model, plan, explanation) of the review world, explained once per process.

    The explain tolerance is used for the plan too, so that re-solves in tests compare like with
    like.
    """
    from optimizer.allocate import allocate
    from optimizer.explain import EXPLAIN_TOLERANCE, explain
    from optimizer.response.model import model_from_dict
    from optimizer.scenario import scenario_from_dict

    sc = scenario_from_dict(review_scenario(min_if_funded))
    model = model_from_dict(review_model(draws))
    plan = allocate(sc, model, tolerance=EXPLAIN_TOLERANCE)
    e = explain(
        plan,
        sc,
        model,
        last_cycle=REVIEW_LAST_CYCLE,
        sweep_points=sweep_points,
        refine_steps=refine_steps,
    )
    return sc, model, plan, e


# The planning cycle (ledger, variants, plan uncertainty, budgetary control) on the tiny world.
# Its draws move tv and search in opposite directions (draw k of n scales tv's beta by
# 0.7 + 0.6 k / (n - 1) and search's by 1.3 - 0.6 k / (n - 1)), so the plan really moves across
# draws; and tv's half-saturation by 0.5 + 1.5 k / (n - 1), so the average of the draws' curves is
# not the point-estimate curve and the expected-KPI plan differs from the point-estimate plan.
def tiny_model_with_draws(draws: int = 7) -> dict:
    """``TINY_MODEL`` with ``draws`` joint bootstrap draws that disagree about tv against search."""
    m = json.loads(json.dumps(TINY_MODEL))
    for tid, tp in m["touchpoints"].items():
        out = []
        for k in range(draws):
            t = k / max(draws - 1, 1)
            f = {"tv": 0.7 + 0.6 * t, "search": 1.3 - 0.6 * t}.get(tid, 0.95 + 0.1 * t)
            curve = {**tp["curve"], "beta": tp["curve"]["beta"] * f}
            if tid == "tv":
                curve["half_saturation"] = tp["curve"]["half_saturation"] * (0.5 + 1.5 * t)
            out.append({"curve": curve, **({"adstock": tp["adstock"]} if "adstock" in tp else {})})
        tp["draws"] = out
    return m


def write_actuals(
    path: Path,
    weekly: dict[str, float],
    weeks: int,
    start: str = "2025-01-06",
    skip: tuple[tuple[int, str], ...] = (),
) -> Path:
    """An actuals CSV (``date,touchpoint,spend``): ``weekly[tid]`` every week for ``weeks`` weeks,
    except the (week, touchpoint) pairs in ``skip`` (weeks counted from 0)."""
    rows = []
    for w in range(weeks):
        date = (pd.Timestamp(start) + pd.Timedelta(weeks=w)).date().isoformat()
        rows += [(date, tid, v) for tid, v in weekly.items() if (w, tid) not in skip]
    pd.DataFrame(rows, columns=["date", "touchpoint", "spend"]).to_csv(path, index=False)
    return path


def patched_cli(patch: str, *args: str) -> list[str]:
    """The command line that runs ``budgetopt ARGS`` in a new Python whose modules ``patch``
    (Python source, run first) has changed: a failure the CLI cannot be made to meet otherwise
    (a cents repair that finds nothing), on the user's path (the CLI as a subprocess)."""
    import sys

    code = (
        "import runpy, sys\n"
        f"{patch}\n"
        "sys.argv = ['budgetopt', *sys.argv[1:]]\n"
        "runpy.run_module('optimizer', run_name='__main__')\n"
    )
    return [sys.executable, "-c", code, *args]
