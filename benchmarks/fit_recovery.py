"""Fit-recovery benchmark: how well ``optimizer.response.fit`` recovers known truth, and what the
errors cost when a plan is made on the fitted curves.

Run from the project root::

    .venv/bin/python benchmarks/fit_recovery.py --regime both --touchpoints 8 15  # every world
    .venv/bin/python benchmarks/fit_recovery.py --regime high --touchpoints 8 --quick  # 3 worlds
    .venv/bin/python benchmarks/fit_recovery.py                 # both regimes, 8 touchpoints
    .venv/bin/python benchmarks/fit_recovery.py --before-after  # and without prior / pooling
    .venv/bin/python benchmarks/fit_recovery.py --quick         # reduced run (~15 s)
    .venv/bin/python benchmarks/fit_recovery.py --noise 0.01 0.02  # and a what-if on the noise
    .venv/bin/python benchmarks/fit_recovery.py --lift-tests 1  # and fits calibrated to lift tests

Two *regimes* of simulated worlds (``--regime low|high|both``, ``--touchpoints 8|15``), each
reported apart (``_regimes.py``: pooled capture of the uplift available over the historical mix,
worst world, worlds below the historical mix by more than 0.5% of the KPI, 80%-interval coverage
of marginal ROI) beside the true-transform reference (least squares on the betas with the true
transforms) and the historical mix:

- *low information*: ``optimizer.simulate.random_world`` (2-8% noise, media 20-40% of the KPI,
  spend CV 0.3-0.7, additive seasonality); with 8 touchpoints, the worlds this benchmark always
  had (listed below); with 15, ``random_world(15)`` seeds 20-39;
- *high information*: ``_high_worlds.high_world`` (3% noise, media about 40% of the KPI,
  log-normal spend with on/off flighting, multiplicative seasonality, a price control; hill,
  exponential and logistic truths, decay up to 0.8), 20 seeds; 156 weeks.

Fit time with uncertainty for 8 and 15 touchpoints x 156 weeks is measured against a yardstick
run in the same process just before and after each fit (``_timing.py``).

Data sets, each with its truth:

1. Simulated worlds (``optimizer.simulate``): the bundled sample company and variations of it, and
   ``random_world`` draws varied in carry-over, saturation, noise, flighted and seasonally
   correlated spend (each world's settings are printed with it). The full run adds twenty more
   default ``random_world`` draws (8 touchpoints, seeds 20-39) so that no conclusion rests on one
   seed.
2. PyMC-Marketing's public simulated data sets (``benchmarks/data/``, Apache-2.0), fitted from the
   columns a real user would have: ``mmm_example`` (``date_week, y, x1, x2, event_1, event_2``:
   trend and seasonality are the fitter's own job) and ``mmm_roas`` (``date, x1, x2, y``; its
   unobserved confounder ``z`` drives both ``x1`` and ``y``, so any regression that cannot see
   ``z`` over-credits ``x1``). Each is turned into a journey (``journey_from_dict``) and a wide
   history CSV read back with ``read_history``, the path a user's files take.

For every data set: recovered against true ROI (contribution / spend over the history),
steady-state ROI and marginal ROI at the mean weekly spend, contribution shares, holdout MAPE,
fit time, and the *decision regret*: a 13-week plan at the historical mean weekly budget optimised
on the fitted curves and on the true curves, both evaluated on the true curves, next to the
historical mix (mean weekly spend shares) at the same budget; *captured* is
``(fitted - historical) / (optimal - historical)``, the share of the achievable uplift the fitted
plan gets. Three plans are scored this way in every world: on the fitted curves, *robust* (the mean KPI over
the model's 20 bootstrap draws, ``budgetopt optimize --robust mean``) and *oracle* (the truth's
shapes with betas refitted by least squares: what the data's noise allows a fitter that knew every
shape). Each world also shows its *uplift*: what the true optimum adds to the historical mix, as a
share of the whole KPI over the 13 weeks (baseline included; the loss columns are shares of the
media-driven KPI, the part a plan changes), and how much of each plan's budget lies above a
touchpoint's highest weekly spend in the history (extrapolation).

The 90% target is read on every simulated world (main and robustness sets: the target as the issue
states it) and, apart and labelled as a subset, on the worlds whose uplift is at least 2% of the KPI
(where the historical mix is not already within a whisker of the optimum). ``--noise 0.01 0.02``
adds a what-if: the robustness worlds again with 1% / 2% noise instead of their own 2-8%, reported
apart. ``--cap-at-observed F`` and ``--change-limit P`` limit the plans made on estimated curves
(at most ``F`` times each touchpoint's highest weekly spend in the history; within +-``P`` of the
historical mix) and report the *ceiling*: the plan on the true curves under the same limits.

Checks of the harness itself: the true model of ``mmm_example`` (``data/.../true_model.json``, the
worked conversion in docs/response-models.md) reproduces the published ground-truth contributions,
the README's ROAS and marginal ROAS, and its optimum (x1 0.4414, x2 0.0296 of the weekly budget
0.4709). Then a 15-touchpoint, 156-week fit with search and 20 bootstrap refits is timed, and a
verdict table compares everything with the targets.

``--lift-tests N`` also refits every simulated world calibrated to ``N`` lift tests per touchpoint
simulated from the TRUE curves (``simulate_lift_tests``: +30% of the mean weekly spend for 4 weeks
at a random start, measured with a standard error of 10% of the true lift) and reports the uplift
captured with calibration next to without and the oracle (default 0: no calibration, the output
as before), for the plan on the calibrated fit and the robust plan on it.
``--targeted-tests`` compares designs of lift tests on every simulated world: one or two per
touchpoint, against tests placed by the value of information (the EVPPI of the uncalibrated fit's
plan, as ``budgetopt optimize --uncertainty`` reports it).

Honesty of the uncertainty: for every touchpoint of the simulated worlds, whether the true marginal
ROI and ROI at the mean weekly spend lie inside the 80% interval of the fit's bootstrap draws
(honest intervals: about 80% of the time). Next to the oracle, a *Bayes oracle*: the truth's shapes,
and the plan that maximises the expected KPI over the betas' least-squares sampling law (50 draws),
the best a planner who knew every shape could do with the history's noise. Captured is also read
*pooled*: all worlds' uplift together, each world scaled by its KPI.

Every world and fit is seeded. The exit code is 0 whatever the verdicts: this is a measurement.
``--fit-option name=value`` passes options to ``fit_model`` (e.g. ``sweeps=1``) to compare variants;
``--before-after`` refits everything with ``shape_prior=0, pool_marginal=0`` (the fitter before
those two options) and prints both. Results and their reading: docs/response-models.md.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _peers  # noqa: E402
from _high_worlds import high_world  # noqa: E402  (the benchmarks folder is not a package)
from _regimes import (  # noqa: E402
    pooled_capture,
    regime_groups,
    regime_json,
    regime_table,
    regime_verdicts,
)
from _timing import Timing, time_fit, timing_table  # noqa: E402

from optimizer.allocate import allocate  # noqa: E402
from optimizer.data import History, LiftTest, journey_from_dict, read_history, read_journey  # noqa: E402
from optimizer.response import curves as C  # noqa: E402
from optimizer.response.fit import fit_model  # noqa: E402
from optimizer.response.model import (  # noqa: E402
    Adstock,
    ResponseModel,
    Saturation,
    TouchpointResponse,
    read_model,
)
from optimizer.scenario import load_scenario, scenario_from_dict  # noqa: E402
from optimizer.simulate import (  # noqa: E402
    SimulatedWorld,
    TouchpointTruth,
    WorldSpec,
    random_world,
    sample_company,
    simulate,
    write_world,
)
from optimizer.workflow.robust import n_draws, plan_uncertainty, robust_plan  # noqa: E402

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
MMM_EXAMPLE = DATA / "pymc_marketing_mmm_example"
MMM_ROAS = DATA / "pymc_marketing_mmm_roas"
HORIZON_WEEKS = 13
SEED = 0
N_BOOTSTRAP = 20
#: ``--lift-tests``: each simulated lift test raises a touchpoint's spend by this share of its
#: mean weekly spend for ``LIFT_WEEKS`` weeks at a random start, and is measured with noise of
#: standard error ``LIFT_SE`` times the true lift; ``LIFT_SEED`` seeds them (with the world's name).
LIFT_SHARE = 0.30
LIFT_WEEKS = 4
LIFT_SE = 0.10
LIFT_SEED = 2026

# targets (docs/response-models.md)
ROAS_TARGET = 0.20  # mmm_example: ROAS within 20% of the truth, both channels
MROAS_TARGET = 0.30  # mmm_example: marginal ROAS within 30%
CAPTURE_TARGET = 0.90  # simulated worlds: share of the achievable uplift captured
#: worlds whose true optimum adds at least this share of the whole KPI to the historical mix are
#: reported apart ("material uplift"); the target itself is read on every world
MATERIAL_UPLIFT = 0.02
#: the simulated worlds the capture target is read on (``--noise`` adds what-if groups apart)
TARGET_GROUPS = ("main", "robustness")
BIG_FIT_TARGET_SECONDS = 10.0  # 15 touchpoints x 156 weeks with uncertainty (issue 13)

# published truth, checked against the true curves
MMM_EXAMPLE_README = {
    "roas": {"x1": 4968.0, "x2": 2275.0},
    "mroas": {"x1": 4186.0, "x2": 2830.0},
    "weekly_budget": 0.4709,
    "optimum": {"x1": 0.4414, "x2": 0.0296},
    "optimum_response": 2212.0,
    "historical_response": 2126.0,
}
MMM_ROAS_README = {
    "roas": {"x1": 93.39, "x2": 171.41},
    "weekly_budget": 1.134,
    "optimum": {"x1": 0.439, "x2": 0.696},
    "optimum_response": 148.3,
    "historical_response": 132.5,
}


# ================================================================================================
# data sets
# ================================================================================================
@dataclass
class Case:
    """A data set with known truth, ready to fit."""

    name: str
    settings: str  # how it was made, in a line
    history: History
    truth: ResponseModel  # true curves (contract 3)
    true_contrib: pd.DataFrame  # true weekly contribution per touchpoint
    kind: str  # "simulated" | "public"
    note: str = ""
    group: str = "main"  # "main" | "robustness" (extra default random worlds) | "high"
    regime: str | None = None  # "low" | "high" information (simulated worlds); None: public data
    touchpoints: int | None = None  # the --touchpoints setting the world was made for


def _recalibrate(
    tp: TouchpointTruth, decay: float | None = None, saturation_factor: float = 1.0
) -> TouchpointTruth:
    """``tp`` with another decay and/or its mean spend further up its curve, keeping its true
    weekly response at the mean spend (so its ROI there) unchanged.

    ``saturation_factor`` multiplies the ratio of the mean adstocked spend to the curve's half-way
    point (half saturation, scale or ``1 / lam``): 2 puts the mean spend twice as far up.
    """
    d_old = tp.decay
    d_new = d_old if decay is None else decay
    a_old = tp.mean_spend / (1.0 - d_old)
    a_new = tp.mean_spend / (1.0 - d_new)
    p = dict(tp.params)
    value = float(C.saturation(tp.family, a_old, p))
    if tp.family == "hill":
        k_old = p["half_saturation"]
    elif tp.family == "exponential":
        k_old = p["scale"]
    else:
        k_old = 1.0 / p["lam"]
    k_new = a_new / (a_old / k_old * saturation_factor)
    if tp.family == "hill":
        q = {"beta": 1.0, "half_saturation": k_new, "shape": p["shape"]}
    elif tp.family == "exponential":
        q = {"beta": 1.0, "scale": k_new}
    else:
        q = {"beta": 1.0, "lam": 1.0 / k_new}
    q["beta"] = value / float(C.saturation(tp.family, a_new, q))
    q = {k: float(f"{v:.6g}") for k, v in q.items()}
    return replace(tp, params=q, decay=round(d_new, 3))


def vary(
    spec: WorldSpec,
    *,
    decays: Sequence[float] | None = None,
    saturation_factor: float = 1.0,
    flighting: float | None = None,
    season_corr: float | None = None,
    spend_cv_factor: float = 1.0,
    **world: Any,
) -> WorldSpec:
    """A variation of a world: touchpoint decays (recalibrated so the response at the mean spend
    is unchanged), saturation, flighting, seasonal spend, spend variation; ``world`` overrides
    ``WorldSpec`` fields (``noise_sd``, ``n_weeks``, ...)."""
    tps = []
    for i, tp in enumerate(spec.touchpoints):
        d = None if decays is None else decays[i % len(decays)]
        t = _recalibrate(tp, d, saturation_factor)
        changes: dict[str, Any] = {"spend_cv": round(tp.spend_cv * spend_cv_factor, 3)}
        if flighting is not None:
            changes["flighting"] = flighting
        if season_corr is not None:
            changes["season_corr"] = season_corr
        tps.append(replace(t, **changes))
    return replace(spec, touchpoints=tuple(tps), **world)


def describe_world(spec: WorldSpec) -> str:
    """The settings of a world in a line."""
    tps = spec.touchpoints
    decays = [t.decay for t in tps]
    fams = {f: sum(t.family == f for t in tps) for f in ("hill", "exponential", "logistic")}
    ratios = []
    for t in tps:
        a = t.mean_spend / (1.0 - t.decay)
        p = t.params
        k = p.get("half_saturation") or p.get("scale") or 1.0 / p["lam"]
        ratios.append(a / k)
    fl = sum(t.flighting > 0 for t in tps)
    sc = [t.season_corr for t in tps if t.season_corr]
    return (
        f"{len(tps)} tp, {spec.n_weeks} wk; decay {min(decays):.2f}-{max(decays):.2f}; "
        f"curves {'/'.join(f'{n} {f[:3]}' for f, n in fams.items() if n)}; "
        f"mean spend at {min(ratios):.1f}-{max(ratios):.1f}x the half-way point; "
        f"noise {spec.noise_sd:.0%}; flighted {fl}/{len(tps)}"
        f"{f' (dark {max(t.flighting for t in tps):.0%})' if fl else ''}; "
        f"seasonal spend {len(sc)}/{len(tps)}{f' (corr {max(sc):.1f})' if sc else ''}; "
        f"spend CV {min(t.spend_cv for t in tps):.2f}-{max(t.spend_cv for t in tps):.2f}"
    )


def world_case(
    name: str, spec: WorldSpec, tmp: Path, group: str = "main", touchpoints: int | None = 8
) -> Case:
    """Simulate a (low-information) world, write its files, and read them back as a user would."""
    world: SimulatedWorld = simulate(spec)
    paths = write_world(world, tmp / name)
    journey = read_journey(paths["journey"])
    history = read_history(paths["history"], journey)
    return Case(
        name,
        describe_world(spec),
        history,
        world.truth,
        world.contributions[spec.ids].set_axis(history.frame.index),
        "simulated",
        group=group,
        regime="low",
        touchpoints=touchpoints,
    )


def high_case(n_touchpoints: int, seed: int, tmp: Path) -> Case:
    """A high-information world (``_high_worlds.high_world``), written as a journey and a
    history CSV and read back as a user would."""
    w = high_world(n_touchpoints, seed)
    folder = tmp / w.name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "journey.yaml").write_text(yaml.safe_dump(w.journey, sort_keys=False))
    journey = read_journey(folder / "journey.yaml")
    history = read_history(_write_history(w.history, folder / "history.csv"), journey)
    ids = list(w.truth.touchpoints)
    return Case(
        w.name,
        w.settings,
        history,
        w.truth,
        w.contributions[ids].set_axis(history.frame.index),
        "simulated",
        group="high",
        regime="high",
        touchpoints=n_touchpoints,
    )


#: ``--regime high``: the seeds of the high-information worlds (quick: the first three)
HIGH_SEEDS = tuple(range(20))
QUICK_WORLDS = 3


def regime_cases(
    regime: str, n_touchpoints: int, quick: bool, tmp: Path, noises: Sequence[float] = ()
) -> list[Case]:
    """The simulated worlds of one regime at one ``--touchpoints`` setting.

    low, 8: today's worlds (the ten varied ones, 5-14 touchpoints, and ``random_world(8)`` seeds
    20-39; quick: three of them); low, 15: ``random_world(15)`` seeds 20-39 (quick: 20-22);
    high: ``high_world(n, seed)`` for ``HIGH_SEEDS`` (quick: the first three).
    """
    if regime == "high":
        seeds = HIGH_SEEDS[:QUICK_WORLDS] if quick else HIGH_SEEDS
        return [high_case(n_touchpoints, s, tmp) for s in seeds]
    if n_touchpoints == 8:
        return simulated_cases(quick, tmp, noises)
    seeds = range(20, 20 + QUICK_WORLDS) if quick else range(20, 40)
    return [
        world_case(
            f"rw{n_touchpoints}-s{s}",
            random_world(n_touchpoints, seed=s),
            tmp,
            group="robustness",
            touchpoints=n_touchpoints,
        )
        for s in seeds
    ]


def simulated_cases(quick: bool, tmp: Path, noises: Sequence[float] = ()) -> list[Case]:
    """The simulated worlds, with their variations (quick: three of them); for each of
    ``noises``, the robustness worlds (seeds 20-39) again with that noise (group ``noise <sd>``:
    a what-if, not part of the target's worlds)."""
    sample = sample_company()
    worlds: list[tuple[str, WorldSpec]] = [
        ("sample", sample),
        ("sample-noisy", vary(sample, noise_sd=0.06)),
        ("sample-always-on", vary(sample, flighting=0.0, spend_cv_factor=0.5)),
        ("rw6-s1", random_world(6, seed=1)),
        ("rw6-s2-slow", vary(random_world(6, seed=2), decays=(0.5, 0.6, 0.7, 0.75, 0.65, 0.55))),
        ("rw8-s3-saturated", vary(random_world(8, seed=3), saturation_factor=2.5)),
        (
            "rw8-s4-seasonal",
            vary(random_world(8, seed=4), season_corr=0.8, seasonality_amplitude=0.25),
        ),
        ("rw10-s5-flighted-104w", vary(random_world(10, seed=5), flighting=0.3, n_weeks=104)),
        ("rw5-s6-quiet", random_world(5, seed=6, noise_sd=0.01)),
        ("rw12-s7-noisy", random_world(12, seed=7, noise_sd=0.08)),
    ]
    if quick:
        worlds = [w for w in worlds if w[0] in ("sample", "rw6-s1", "rw8-s4-seasonal")]
    cases = [world_case(n, s, tmp) for n, s in worlds]
    if not quick:
        cases += [
            world_case(f"rw8-s{s}", random_world(8, seed=s), tmp, group="robustness")
            for s in range(20, 40)
        ]
    for sd in noises:
        cases += [
            world_case(
                f"rw8-s{s}-noise{100 * sd:g}%",
                random_world(8, seed=s, noise_sd=sd),
                tmp,
                group=f"noise {sd:g}",
            )
            for s in range(20, 40)
        ]
    return cases


def _write_history(frame: pd.DataFrame, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, lineterminator="\n")
    return path


def mmm_example_case(tmp: Path) -> Case:
    """PyMC-Marketing's ``mmm_example``: only the columns a user would have."""
    raw = pd.read_csv(MMM_EXAMPLE / "mmm_example.csv")
    wide = pd.DataFrame(
        {
            "date": raw["date_week"],
            "x1": raw["x1"],
            "x2": raw["x2"],
            "y": raw["y"],
            "event_1": raw["event_1"],
            "event_2": raw["event_2"],
        }
    )
    journey = journey_from_dict(
        {
            "kpi": "y",
            "events": ["event_1", "event_2"],
            "touchpoints": [
                {"id": "x1", "stage": "awareness"},
                {"id": "x2", "stage": "consideration"},
            ],
        }
    )
    history = read_history(_write_history(wide, tmp / "mmm_example" / "history.csv"), journey)
    truth = read_model(MMM_EXAMPLE / "true_model.json")
    return Case(
        "mmm_example",
        "PyMC-Marketing mmm_example: 2 channels, 179 wk; logistic, "
        "normalised 8-lag adstock 0.4/0.2; noise sd 250 (5% of y); nonlinear trend",
        history,
        truth,
        _true_contrib(truth, history),
        "public",
    )


def mmm_roas_truth() -> ResponseModel:
    """The true curves of ``mmm_roas`` (ground_truth.py), in the data's own units."""
    spec = {"x1": (0.3, 1.0, 200.0, "awareness"), "x2": (0.5, 2.5, 150.0, "consideration")}
    return ResponseModel(
        "y",
        {
            c: TouchpointResponse(
                c,
                st,
                Saturation("logistic", {"beta": b, "lam": lam}),
                Adstock(decay=d, normalize=True, max_lag=4),
            )
            for c, (d, lam, b, st) in spec.items()
        },
    )


def mmm_roas_case(tmp: Path) -> Case:
    """PyMC-Marketing's ``mmm_roas``: ``date, x1, x2, y`` only (the confounder ``z`` is hidden)."""
    raw = pd.read_csv(MMM_ROAS / "mmm_roas_data.csv")
    wide = raw[["date", "x1", "x2", "y"]]
    journey = journey_from_dict(
        {
            "kpi": "y",
            "touchpoints": [
                {"id": "x1", "stage": "awareness"},
                {"id": "x2", "stage": "consideration"},
            ],
        }
    )
    history = read_history(_write_history(wide, tmp / "mmm_roas" / "history.csv"), journey)
    truth = mmm_roas_truth()
    contrib = _true_contrib(truth, history)
    for c in ("x1", "x2"):  # the harness reproduces the file's own latent effect columns
        err = np.abs(contrib[c].to_numpy() - 100.0 * raw[f"{c}_effect"].to_numpy()).max()
        assert err < 1e-9, (c, err)
    return Case(
        "mmm_roas",
        "PyMC-Marketing mmm_roas: 2 channels, 131 wk; logistic, normalised "
        "4-lag adstock 0.3/0.5; hidden confounder z (corr 0.71 with x1)",
        history,
        truth,
        contrib,
        "public",
        note="z is not observed: a fit from date, x1, x2, y alone is expected to over-credit x1",
    )


def _true_contrib(truth: ResponseModel, history: History) -> pd.DataFrame:
    data = {}
    for tid, tp in truth.touchpoints.items():
        x = history.frame[tid].to_numpy(dtype=float)
        a = x if tp.adstock is None else tp.adstock.transform(x)
        data[tid] = np.asarray(tp.curve(a), dtype=float)
    return pd.DataFrame(data, index=history.frame.index)


# ================================================================================================
# measuring a fit
# ================================================================================================
@dataclass
class TpRow:
    id: str
    spend_share: float
    true_roi: float
    fit_roi: float
    true_ss_roi: float  # steady-state ROI at the mean weekly spend
    fit_ss_roi: float
    true_mroi: float  # steady-state marginal ROI at the mean weekly spend
    fit_mroi: float
    true_share: float  # share of media contribution over the history
    fit_share: float
    roi_interval: tuple[float, float] | None = None
    warnings: int = 0
    mroi_covered: bool | None = None  # the truth inside the draws' 80% interval (None: no draws)
    ss_roi_covered: bool | None = None


@dataclass
class Regret:
    """One plan against the true optimum and the historical mix, all valued on the true curves.

    ``optimal``, ``fitted`` and ``historical`` are the *media-driven* true KPI over the horizon
    (the part a plan changes); ``kpi_total`` is the whole KPI over the horizon at the historical
    run rate (mean weekly KPI x weeks, baseline included), the denominator of ``uplift``.
    """

    budget: float  # total over the horizon
    optimal: float  # true KPI of the plan optimised on the true curves
    fitted: float  # true KPI of the plan optimised on the fitted curves
    historical: float  # true KPI of the historical mix at the same budget
    plan_true: dict[str, float] = field(default_factory=dict)
    plan_fit: dict[str, float] = field(default_factory=dict)
    plan_hist: dict[str, float] = field(default_factory=dict)
    kpi_total: float = float("nan")  # whole KPI over the horizon at the historical run rate
    observed_max: dict[str, float] = field(default_factory=dict)  # highest weekly spend seen

    def beyond_observed(self, spend: dict[str, float]) -> float:
        """Share of the budget a plan puts above each touchpoint's highest weekly spend in the
        history (steady weekly spend over the horizon): how far the plan extrapolates."""
        over = sum(
            max(0.0, s / HORIZON_WEEKS - self.observed_max.get(t, math.inf))
            for t, s in spend.items()
        )
        return HORIZON_WEEKS * over / self.budget if self.budget > 0 else 0.0

    @property
    def uplift(self) -> float:
        """What the true optimum adds to the historical mix, as a share of the whole KPI."""
        return (self.optimal - self.historical) / self.kpi_total

    @property
    def captured(self) -> float:
        up = self.optimal - self.historical
        return (self.fitted - self.historical) / up if up > 0 else float("nan")

    @property
    def loss(self) -> float:
        return (self.optimal - self.fitted) / self.optimal

    @property
    def hist_loss(self) -> float:
        return (self.optimal - self.historical) / self.optimal


@dataclass
class Result:
    case: Case
    rows: list[TpRow]
    mape: float | None
    r2: float
    seconds: float
    regret: Regret
    model: ResponseModel
    oracle: Regret  # plan on the true shapes with least-squares betas (see oracle_model)
    robust: Regret | None = None  # plan on the mean over the fitted model's bootstrap draws
    ceiling: Regret | None = None  # with PLAN_LIMITS: the plan on the true curves under them
    calibrated: Regret | None = None  # --lift-tests: the plan on a fit calibrated to lift tests
    cal_mroi_err: float | None = None  # its spend-weighted |marginal ROI error|
    cal_coverage: list[tuple[bool, bool]] = field(default_factory=list)  # its 80% intervals
    targeted: dict[str, Regret] = field(default_factory=dict)  # --targeted-tests: per design
    test_counts: dict[str, dict[str, int]] = field(default_factory=dict)  # tests per touchpoint
    bayes_oracle: Regret | None = None  # true shapes; the plan on the mean over the betas' law
    calibrated_robust: Regret | None = None  # --lift-tests: robust plan on the calibrated fit
    #: the truth inside the oracle's 80% interval (its betas' least-squares law), per touchpoint
    oracle_mroi_covered: list[bool | None] = field(default_factory=list)

    def _rel(self, attr: str) -> np.ndarray:
        t = np.array([getattr(r, f"true_{attr}") for r in self.rows])
        f = np.array([getattr(r, f"fit_{attr}") for r in self.rows])
        return np.abs(f - t) / np.maximum(np.abs(t), 1e-12)

    def median_err(self, attr: str) -> float:
        return float(np.median(self._rel(attr)))

    def weighted_err(self, attr: str) -> float:
        """Relative error weighted by spend share: what it means for most of the money."""
        w = np.array([r.spend_share for r in self.rows])
        return float(np.sum(w * self._rel(attr)) / w.sum())

    @property
    def share_error(self) -> float:
        """Half the summed absolute error of the contribution shares (0 = right, 1 = disjoint)."""
        return 0.5 * float(sum(abs(r.fit_share - r.true_share) for r in self.rows))


@dataclass(frozen=True)
class PlanLimits:
    """Limits on the plans made on estimated curves (fitted, robust, oracle; never the true
    optimum, against which every plan is measured): ``cap`` keeps each touchpoint's weekly spend
    at most ``cap`` times the highest weekly spend in its history (curves are extrapolated beyond
    it); ``change`` keeps it within +- ``change`` of the historical mix (a trust region)."""

    cap: float | None = None
    change: float | None = None

    def rules(self, case: Case | None, budget: float) -> dict[str, Any]:
        if case is None:
            return {}
        spend = case.history.spend
        out: dict[str, Any] = {}
        if self.cap is not None:
            out["touchpoints"] = {
                t: {"max": round(HORIZON_WEEKS * self.cap * float(spend[t].max()), 2)}
                for t in spend.columns
            }
        if self.change is not None:
            means = spend.mean()
            out["previous"] = {
                t: budget * float(means[t]) / float(means.sum()) for t in spend.columns
            }
            out["change_limit"] = {"pct": self.change}
        return out

    def describe(self) -> str:
        parts = []
        if self.cap is not None:
            parts.append(f"weekly spend at most {self.cap:g}x the highest in the history")
        if self.change is not None:
            parts.append(f"each touchpoint within +-{self.change:.0%} of the historical mix")
        return "; ".join(parts) or "none"


#: set by ``--cap-at-observed`` / ``--change-limit``
PLAN_LIMITS = PlanLimits()


def _scenario(budget: float, name: str, case: Case | None) -> Any:
    return scenario_from_dict(
        {
            "name": name,
            "model": "in-memory",
            "horizon_weeks": HORIZON_WEEKS,
            "budget": float(budget),
            **PLAN_LIMITS.rules(case, budget),
        }
    )


def plan(
    model: ResponseModel, budget: float, name: str, case: Case | None = None
) -> dict[str, float]:
    """Spend per touchpoint over the horizon of the budget-only plan optimised on ``model``
    (with ``case``: under ``PLAN_LIMITS``)."""
    p = allocate(_scenario(budget, name, case), model)
    if not p.ok:
        raise RuntimeError(f"allocation of {name} failed: {p.status} {p.message}")
    return {li.id: float(li.spend) for li in p.line_items}


def true_value(spend: dict[str, float], truth: ResponseModel) -> float:
    """True KPI over the horizon of steady spend ``spend`` (totals), on the true curves."""
    return float(sum(truth.touchpoints[t].horizon_kpi(s, HORIZON_WEEKS) for t, s in spend.items()))


def robust_plan_of(
    model: ResponseModel, budget: float, name: str, case: Case | None = None
) -> dict[str, float]:
    """Spend per touchpoint of the plan that maximises the mean KPI over the model's bootstrap
    draws (``budgetopt optimize --robust mean``; with ``case``: under ``PLAN_LIMITS``)."""
    p = robust_plan(_scenario(budget, name, case), model)
    if not p.ok:
        raise RuntimeError(f"robust allocation of {name} failed: {p.status} {p.message}")
    return {li.id: float(li.spend) for li in p.line_items}


def decision_regret(case: Case, model: ResponseModel, robust: bool = False) -> Regret:
    """The plan on ``model`` (``robust``: on the mean over its bootstrap draws) against the true
    optimum and the historical mix at the historical mean weekly budget."""
    means = case.history.spend.mean()
    budget = HORIZON_WEEKS * float(means.sum())
    p_true = plan(case.truth, budget, f"{case.name} truth")
    p_fit = (
        robust_plan_of(model, budget, f"{case.name} robust", case)
        if robust
        else plan(model, budget, f"{case.name} fitted", case)
    )
    p_hist = {t: budget * float(means[t]) / float(means.sum()) for t in means.index}
    kpi = case.history.frame[case.history.journey.kpi]
    return Regret(
        budget,
        true_value(p_true, case.truth),
        true_value(p_fit, case.truth),
        true_value(p_hist, case.truth),
        p_true,
        p_fit,
        p_hist,
        kpi_total=HORIZON_WEEKS * float(kpi.mean()),
        observed_max={t: float(v) for t, v in case.history.spend.max().items()},
    )


ORACLE_DRAWS = 50  # draws of the oracle's betas for its Bayes plan


def oracle_model(case: Case, draws: int = 0) -> ResponseModel:
    """The truth's curve shapes (adstock, family, half saturation / scale, shape) with betas
    estimated from the history by least squares (betas >= 0; intercept, linear trend, three
    yearly Fourier pairs -- in the high-information regime also times the trend, as its
    seasonality scales with the level -- controls and events free). What a fitter that knew every shape could do
    with this much data and noise: the information limit for the betas."""
    from scipy.optimize import lsq_linear

    frame, journey = case.history.frame, case.history.journey
    weeks = np.arange(len(frame), dtype=float)
    base = [np.ones(len(frame)), weeks / 52.18]
    for k in (1, 2, 3):
        ang = 2.0 * np.pi * k * weeks / 52.18
        base += [np.sin(ang), np.cos(ang)]
        if case.regime == "high":  # its seasonality scales with the level: season x trend
            base += [np.sin(ang) * weeks / 52.18, np.cos(ang) * weeks / 52.18]
    base += [frame[c].to_numpy(dtype=float) for c in (*journey.controls, *journey.events)]
    units = {}
    for tid, tp in case.truth.touchpoints.items():
        params = {**tp.curve.params, "beta": 1.0}
        x = frame[tid].to_numpy(dtype=float)
        a = x if tp.adstock is None else tp.adstock.transform(x)
        units[tid] = C.saturation(tp.curve.family, a, params)
    media = np.column_stack(list(units.values()))
    A = np.column_stack([*base, media])
    scale = np.maximum(np.abs(A).max(axis=0), 1e-12)
    lo = np.r_[np.full(len(base), -np.inf), np.zeros(media.shape[1])]
    y = frame[journey.kpi].to_numpy(dtype=float)
    As = A / scale
    coef_s = lsq_linear(As, y, bounds=(lo, np.inf)).x
    coef = coef_s / scale
    betas = coef[len(base) :]
    # with ``draws``: the betas' sampling distribution (Gaussian, least-squares covariance
    # sigma^2 (A'A)^-1, cut at zero), as draws of each curve: the oracle's posterior under a flat
    # prior, for the plan that maximises the expected KPI over it (the "Bayes oracle")
    beta_draws = np.zeros((0, len(betas)))
    if draws:
        res = y - As @ coef_s
        sigma2 = float(res @ res) / max(len(y) - As.shape[1], 1)
        cov = sigma2 * np.linalg.pinv(As.T @ As)
        rng = np.random.default_rng([SEED, zlib.crc32(case.name.encode())])
        z = rng.multivariate_normal(coef_s, cov, size=draws, method="eigh")
        beta_draws = np.maximum(z[:, len(base) :] / scale[len(base) :], 0.0)
    tps = {}
    for j, (tid, tp) in enumerate(case.truth.touchpoints.items()):
        tps[tid] = replace(
            tp,
            curve=replace(tp.curve, params={**tp.curve.params, "beta": float(betas[j])}),
            draws=tuple(
                (replace(tp.curve, params={**tp.curve.params, "beta": float(b)}), tp.adstock)
                for b in beta_draws[:, j]
            ),
        )
    return ResponseModel(case.truth.kpi, tps)


COVERAGE_LEVEL = 80.0  # central interval of the bootstrap draws checked against the truth


def covered(
    ftp: TouchpointResponse, ttp: TouchpointResponse, x: float
) -> tuple[bool | None, bool | None]:
    """Whether the true marginal ROI and steady-state ROI at weekly spend ``x`` lie inside the
    central ``COVERAGE_LEVEL``% interval of the fitted touchpoint's bootstrap draws (None, None
    without draws). Honest uncertainty covers the truth about that often."""
    draws = ftp.draw_responses()
    if not draws or x <= 0:
        return None, None
    q = [50.0 - COVERAGE_LEVEL / 2, 50.0 + COVERAGE_LEVEL / 2]
    m_lo, m_hi = np.percentile([float(r.weekly_marginal(x)) for r in draws], q)
    r_lo, r_hi = np.percentile([float(r.weekly_kpi(x)) / x for r in draws], q)
    tm, tr = float(ttp.weekly_marginal(x)), float(ttp.weekly_kpi(x)) / x
    return bool(m_lo <= tm <= m_hi), bool(r_lo <= tr <= r_hi)


def coverage_of(flags: Sequence[bool | None]) -> float:
    v = [f for f in flags if f is not None]
    return float(np.mean(v)) if v else float("nan")


def measure(case: Case, fit_options: dict[str, Any]) -> Result:
    opts = {"seed": SEED, "n_bootstrap": N_BOOTSTRAP, **fit_options}
    t0 = time.perf_counter()
    model = fit_model(case.history, **opts)
    seconds = time.perf_counter() - t0
    spend = case.history.spend
    total_spend = float(spend.to_numpy().sum())
    true_c = case.true_contrib
    true_media = float(true_c.to_numpy().sum())
    rows = []
    for tid, ttp in case.truth.touchpoints.items():
        ftp = model.touchpoints[tid]
        x = spend[tid].to_numpy(dtype=float)
        mean = float(x.mean())
        d = ftp.diagnostics
        cov_m, cov_r = covered(ftp, ttp, mean)
        rows.append(
            TpRow(
                id=tid,
                spend_share=float(x.sum()) / total_spend,
                true_roi=float(true_c[tid].sum()) / float(x.sum()),
                fit_roi=float(d.get("roi") or 0.0),
                true_ss_roi=float(ttp.weekly_kpi(mean)) / mean,
                fit_ss_roi=float(ftp.weekly_kpi(mean)) / mean,
                true_mroi=float(ttp.weekly_marginal(mean)),
                fit_mroi=float(ftp.weekly_marginal(mean)),
                true_share=float(true_c[tid].sum()) / true_media,
                fit_share=float(d.get("contribution_share") or 0.0),
                roi_interval=tuple(d["roi_interval_80"]) if d.get("roi_interval_80") else None,
                warnings=len(d.get("warnings") or ()),
                mroi_covered=cov_m,
                ss_roi_covered=cov_r,
            )
        )
    diag = model.diagnostics
    robust = decision_regret(case, model, robust=True) if n_draws(model) else None
    ceiling = (
        decision_regret(case, case.truth)
        if PLAN_LIMITS != PlanLimits() and case.kind == "simulated"
        else None
    )
    oracle = oracle_model(case, ORACLE_DRAWS if case.kind == "simulated" else 0)
    return Result(
        case,
        rows,
        diag.get("mape_holdout"),
        float(diag["r2"]),
        seconds,
        decision_regret(case, model),
        model,
        decision_regret(case, oracle),
        robust,
        ceiling,
        bayes_oracle=decision_regret(case, oracle, robust=True) if n_draws(oracle) else None,
        oracle_mroi_covered=[
            covered(oracle.touchpoints[t], ttp, float(spend[t].mean()))[0]
            for t, ttp in case.truth.touchpoints.items()
        ],
    )


def simulate_lift_tests(case: Case, n_per_tp: int) -> list[LiftTest]:
    """``n_per_tp`` lift tests per touchpoint from the TRUE curves: spend raised by
    ``LIFT_SHARE`` of the touchpoint's mean weekly spend in each of ``LIFT_WEEKS`` weeks starting
    at a random week; the true lift (carry-over to the end of the history included) measured with
    Gaussian noise of sd ``LIFT_SE`` x the true lift. Seeded by ``LIFT_SEED`` and the world's
    name, so every run draws the same tests."""
    rng = np.random.default_rng([LIFT_SEED, zlib.crc32(case.name.encode())])
    frame = case.history.frame
    n = len(frame)
    dates = [d.date().isoformat() for d in pd.DatetimeIndex(frame.index)]
    out: list[LiftTest] = []
    for tid, tp in case.truth.touchpoints.items():
        x = frame[tid].to_numpy(dtype=float)
        for _ in range(n_per_tp):
            first = int(rng.integers(0, n - LIFT_WEEKS + 1))
            last = first + LIFT_WEEKS - 1
            d = np.zeros(n)
            d[first : last + 1] = LIFT_SHARE * float(x.mean())
            a0 = x if tp.adstock is None else tp.adstock.transform(x)
            a1 = x + d if tp.adstock is None else tp.adstock.transform(x + d)
            lift = float(np.sum(tp.curve(a1) - tp.curve(a0)))
            se = LIFT_SE * abs(lift) if lift != 0 else 1.0
            out.append(
                LiftTest(
                    tid,
                    dates[first],
                    dates[last],
                    first,
                    last,
                    float(d.sum()),
                    lift + float(rng.normal(0.0, se)),
                    se,
                )
            )
    return out


def measure_calibrated(case: Case, fit_options: dict[str, Any], res: Result, n_per_tp: int) -> None:
    """Refit ``case`` with ``n_per_tp`` simulated lift tests per touchpoint and record the plan's
    regret and the spend-weighted marginal-ROI error in ``res``."""
    tests = simulate_lift_tests(case, n_per_tp)
    model = fit_model(
        case.history,
        **{"seed": SEED, "n_bootstrap": N_BOOTSTRAP, **fit_options, "calibration": tests},
    )
    res.calibrated = decision_regret(case, model)
    res.calibrated_robust = decision_regret(case, model, robust=True) if n_draws(model) else None
    spend = case.history.spend
    w = errs = 0.0
    for r in res.rows:
        mean = float(spend[r.id].mean())
        fm = float(model.touchpoints[r.id].weekly_marginal(mean))
        errs += r.spend_share * abs(fm - r.true_mroi) / max(abs(r.true_mroi), 1e-12)
        w += r.spend_share
    res.cal_mroi_err = errs / w if w else None
    res.cal_coverage = [
        covered(model.touchpoints[t], ttp, float(spend[t].mean()))
        for t, ttp in case.truth.touchpoints.items()
    ]


def measure_targeted(case: Case, fit_options: dict[str, Any], res: Result) -> None:
    """Where to put lift tests: ``2 x n_touchpoints`` tests placed two on every touchpoint, or
    one on every touchpoint and the rest where the uncalibrated model's value of information
    (one-at-a-time EVPPI of its plan over the bootstrap draws, ``optimize --uncertainty``) is
    largest (each next test to the touchpoint with the largest EVPPI / (tests it has), at most
    3); and ``n_touchpoints`` tests, one each or all by EVPPI. The tests come from one pool of 3
    per touchpoint (``simulate_lift_tests``), the first ``k`` of a touchpoint's used."""
    means = case.history.spend.mean()
    budget = HORIZON_WEEKS * float(means.sum())
    sc = _scenario(budget, f"{case.name} voi", None)
    p = allocate(sc, res.model)
    evppi = {
        t.id: t.evppi for t in plan_uncertainty(sc, res.model, p).value_of_information.touchpoints
    }
    pool = simulate_lift_tests(case, 3)
    tids = list(case.truth.touchpoints)

    def by_value(start: int, extra: int) -> dict[str, int]:
        k = dict.fromkeys(tids, start)
        for _ in range(extra):
            # a touchpoint without a value (nan: its re-optimisations failed) counts as 0; ties
            # go to the last touchpoint id in sort order
            best = max(
                tids,
                key=lambda t: (
                    (v if math.isfinite(v := evppi.get(t, 0.0)) else 0.0) / (1 + k[t])
                    if k[t] < 3
                    else -1.0,
                    t,
                ),
            )
            k[best] += 1
        return k

    designs = {
        "1 each": dict.fromkeys(tids, 1),
        "all by EVPPI": by_value(0, len(tids)),
        "2 each": dict.fromkeys(tids, 2),
        "1 each + rest by EVPPI": by_value(1, len(tids)),
    }
    for name, counts in designs.items():
        seen = dict.fromkeys(tids, 0)
        tests = []
        for t in pool:
            if seen[t.touchpoint] < counts[t.touchpoint]:
                tests.append(t)
                seen[t.touchpoint] += 1
        model = fit_model(
            case.history,
            **{"seed": SEED, "n_bootstrap": N_BOOTSTRAP, **fit_options, "calibration": tests},
        )
        res.targeted[name] = decision_regret(case, model)
        res.test_counts[name] = counts


def targeted_table(results: Sequence[Result], say: Callable[[str], None]) -> None:
    """Uplift captured per design of the lift tests (``measure_targeted``)."""
    sims = [r for r in results if r.targeted]
    if not sims:
        return
    names = list(sims[0].targeted)
    say(f"{'world':<24}" + "".join(f"{n:>24}" for n in names))
    for r in sims:
        say(f"{r.case.name:<24}" + "".join(f"{_pct(r.targeted[n].captured):>24}" for n in names))
    for n in names:
        cap = np.array([r.targeted[n].captured for r in sims])
        say(
            f"{n:<24} >= {CAPTURE_TARGET:.0%} in {int(np.sum(cap >= CAPTURE_TARGET))} of "
            f"{len(sims)}; median {_pct(float(np.nanmedian(cap)))}; min "
            f"{_pct(float(np.nanmin(cap)))}; pooled "
            f"{_pct(pooled_capture(sims, lambda r, n=n: r.targeted[n]))}"
        )


def lift_table(results: Sequence[Result], n_per_tp: int, say: Callable[[str], None]) -> None:
    """Per simulated world: uplift captured without calibration, with it, and the oracle."""
    sims = [r for r in results if r.calibrated is not None]
    if not sims:
        return
    say(
        f"{'world':<24}{'uplift':>8}{'w|mROI err|':>13}{'calibrated':>12}{'captured':>10}"
        f"{'calibrated':>12}{'oracle':>9}"
    )
    for r in sims:
        say(
            f"{r.case.name:<24}{_pct(r.regret.uplift):>8}{_pct(r.weighted_err('mroi')):>13}"
            f"{_pct(r.cal_mroi_err):>12}{_pct(r.regret.captured):>10}"
            f"{_pct(r.calibrated.captured):>12}{_pct(r.oracle.captured):>9}"
        )
    for label, sel in _capture_sets(sims):
        if not sel:
            continue
        parts = []
        for name, get in (
            ("fitted", lambda r: r.regret),
            ("calibrated", lambda r: r.calibrated),
            ("calibrated robust", lambda r: r.calibrated_robust),
            ("oracle", lambda r: r.oracle),
        ):
            cap = np.array([get(r).captured if get(r) is not None else np.nan for r in sel])
            parts.append(
                f"{name} {int(np.sum(cap >= CAPTURE_TARGET))} of {len(sel)} "
                f"(median {_pct(float(np.nanmedian(cap)))}, min "
                f"{_pct(float(np.nanmin(cap)))})"
            )
        say(
            f"{label}, >= {CAPTURE_TARGET:.0%} captured with {n_per_tp} lift test(s) per "
            f"touchpoint: " + "; ".join(parts)
        )
        say(
            f"{label}, pooled (all worlds' uplift together): fitted "
            f"{_pct(pooled_capture(sel, lambda r: r.regret))}, calibrated "
            f"{_pct(pooled_capture(sel, lambda r: r.calibrated))}, calibrated robust "
            f"{_pct(pooled_capture(sel, lambda r: r.calibrated_robust))}, oracle "
            f"{_pct(pooled_capture(sel, lambda r: r.oracle))}"
        )
    flags = [c for r in sims for c in r.cal_coverage]
    say(
        f"calibrated fits: the truth inside the draws' {COVERAGE_LEVEL:.0f}% interval at the mean "
        f"spend: marginal ROI {_pct(coverage_of([f[0] for f in flags]))}, steady-state ROI "
        f"{_pct(coverage_of([f[1] for f in flags]))} of {len(flags)} touchpoints"
    )


# ================================================================================================
# harness checks on the public data's truth
# ================================================================================================
def check_mmm_example_truth(case: Case, say: Callable[[str], None]) -> dict[str, bool]:
    """The converted true model reproduces the published truth; returns check -> passed."""
    raw = pd.read_csv(MMM_EXAMPLE / "ground_truth_components.csv")
    truth, frame = case.truth, case.history.frame
    ok: dict[str, bool] = {}
    err = max(
        float(np.abs(case.true_contrib[c].to_numpy() - raw[f"contrib_{c}"].to_numpy()).max())
        for c in ("x1", "x2")
    )
    ok["contributions match ground_truth_components.csv"] = err < 1e-8
    say(f"  true_model.json vs ground_truth_components.csv: max |contribution error| {err:.1e}")
    for c in ("x1", "x2"):
        roas = float(case.true_contrib[c].sum() / frame[c].sum())
        mean = float(frame[c].mean())
        m = float(truth.touchpoints[c].weekly_marginal(mean))
        pub_r, pub_m = MMM_EXAMPLE_README["roas"][c], MMM_EXAMPLE_README["mroas"][c]
        say(
            f"  {c}: ROAS {roas:,.1f} (README {pub_r:,.0f}), steady-state marginal ROAS at mean "
            f"weekly spend {mean:.4f}: {m:,.1f} (README {pub_m:,.0f})"
        )
        ok[f"{c} ROAS and marginal ROAS match the README"] = (
            abs(roas - pub_r) < 1.0 and abs(m - pub_m) < 1.0
        )
    weekly = float(frame[["x1", "x2"]].mean().sum())
    # what `budgetopt optimize data/pymc_marketing_mmm_example/optimum.yaml` does
    scenario = load_scenario(MMM_EXAMPLE / "optimum.yaml")
    on_file = allocate(scenario, read_model(scenario.model))
    p = {li.id: float(li.spend) for li in on_file.line_items}
    split = {t: s / HORIZON_WEEKS for t, s in p.items()}
    resp = true_value(p, truth) / HORIZON_WEEKS
    hist = {t: HORIZON_WEEKS * float(frame[t].mean()) for t in ("x1", "x2")}
    hresp = true_value(hist, truth) / HORIZON_WEEKS
    pub = MMM_EXAMPLE_README
    say(
        f"  optimum of weekly budget {weekly:.4f} (README {pub['weekly_budget']}) by allocate on "
        f"optimum.yaml (budget {scenario.budget.amount:g} over 13 weeks, model "
        f"true_model.json): x1 {split['x1']:.4f}, x2 {split['x2']:.4f} (README "
        f"{pub['optimum']['x1']} / {pub['optimum']['x2']}); weekly media response {resp:,.1f} vs "
        f"{hresp:,.1f} for the historical mix (README {pub['optimum_response']:,.0f} vs "
        f"{pub['historical_response']:,.0f})"
    )
    # an independent check of the split, without the allocator (and its rounding to the cent)
    from scipy.optimize import minimize_scalar

    t1, t2 = truth.touchpoints["x1"], truth.touchpoints["x2"]
    exact = minimize_scalar(
        lambda s1: -float(t1.weekly_kpi(s1) + t2.weekly_kpi(weekly - s1)),
        bounds=(0.0, weekly),
        method="bounded",
        options={"xatol": 1e-10},
    )
    say(
        f"  the same optimum by bounded scalar minimisation (no allocator): x1 {exact.x:.4f}, "
        f"x2 {weekly - exact.x:.4f}, response {-exact.fun:,.2f}; allocate's plan is rounded to "
        "the cent (0.005 over 13 weeks is 0.0004 a week)"
    )
    ok["exact optimum matches the README"] = (
        abs(exact.x - pub["optimum"]["x1"]) < 5e-5
        and abs(weekly - exact.x - pub["optimum"]["x2"]) < 5e-5
    )
    # plans are rounded to the cent: 0.5 cent over 13 weeks is 0.0004 a week
    ok["allocate reproduces the README optimum"] = (
        abs(weekly - pub["weekly_budget"]) < 5e-5
        and all(abs(split[t] - pub["optimum"][t]) < 5e-4 for t in ("x1", "x2"))
        and abs(resp - pub["optimum_response"]) < 1.0
        and abs(hresp - pub["historical_response"]) < 1.0
    )
    return ok


def check_mmm_roas_truth(case: Case, say: Callable[[str], None]) -> dict[str, bool]:
    frame = case.history.frame
    ok: dict[str, bool] = {}
    for c in ("x1", "x2"):
        roas = float(case.true_contrib[c].sum() / frame[c].sum())
        say(f"  {c}: true ROAS {roas:.2f} (README {MMM_ROAS_README['roas'][c]})")
        ok[f"mmm_roas {c} ROAS matches"] = abs(roas - MMM_ROAS_README["roas"][c]) < 0.01
    weekly = float(frame[["x1", "x2"]].mean().sum())
    p = plan(case.truth, HORIZON_WEEKS * weekly, "mmm_roas true optimum")
    split = {t: s / HORIZON_WEEKS for t, s in p.items()}
    resp = true_value(p, case.truth) / HORIZON_WEEKS
    say(
        f"  optimum of weekly budget {weekly:.3f}: x1 {split['x1']:.3f}, x2 {split['x2']:.3f} "
        f"(README {MMM_ROAS_README['optimum']['x1']} / {MMM_ROAS_README['optimum']['x2']}), "
        f"response {resp:.1f} (README {MMM_ROAS_README['optimum_response']})"
    )
    ok["mmm_roas optimum matches"] = all(
        abs(split[t] - MMM_ROAS_README["optimum"][t]) < 1.5e-3 for t in ("x1", "x2")
    )
    return ok


# ================================================================================================
# printing
# ================================================================================================
def _pct(v: float | None, signed: bool = False) -> str:
    if v is None or not math.isfinite(v):
        return "–"
    return f"{100 * v:+.1f}%" if signed else f"{100 * v:.1f}%"


def _num(v: float) -> str:
    a = abs(v)
    if a >= 1000:
        return f"{v:,.0f}"
    if a >= 10:
        return f"{v:.1f}"
    return f"{v:.3f}"


def print_case(res: Result, say: Callable[[str], None]) -> None:
    c = res.case
    say(f"\n### {c.name}  ({c.settings})")
    if c.note:
        say(f"    note: {c.note}")
    say(f"    fit {res.seconds:.1f} s, R² {res.r2:.3f}, holdout MAPE {_pct(res.mape)}")
    head = (
        f"    {'touchpoint':<20}{'spend':>6} {'ROI true':>9} {'fit':>9} {'err':>7}  "
        f"{'ssROI true':>10} {'fit':>9}  {'mROI true':>9} {'fit':>9} {'err':>7}  "
        f"{'share true':>10} {'fit':>6}  {'ROI 80% (boot)':>17}"
    )
    say(head)
    for r in res.rows:
        e_roi = (r.fit_roi - r.true_roi) / r.true_roi if r.true_roi else float("nan")
        e_m = (r.fit_mroi - r.true_mroi) / r.true_mroi if r.true_mroi else float("nan")
        ci = f"{_num(r.roi_interval[0])}–{_num(r.roi_interval[1])}" if r.roi_interval else "–"
        say(
            f"    {r.id:<20}{_pct(r.spend_share):>6} {_num(r.true_roi):>9} {_num(r.fit_roi):>9} "
            f"{_pct(e_roi, True):>7}  {_num(r.true_ss_roi):>10} {_num(r.fit_ss_roi):>9}  "
            f"{_num(r.true_mroi):>9} {_num(r.fit_mroi):>9} {_pct(e_m, True):>7}  "
            f"{_pct(r.true_share):>10} {_pct(r.fit_share):>6}  {ci:>17}"
        )
    g = res.regret
    say(
        f"    decision ({HORIZON_WEEKS} weeks at the historical mean budget {_num(g.budget)}): "
        f"media-driven true KPI optimal {_num(g.optimal)}, fitted plan {_num(g.fitted)} "
        f"(loses {_pct(g.loss)}), historical mix {_num(g.historical)} (loses {_pct(g.hist_loss)})"
    )
    rob = (
        f"robust plan (mean over the bootstrap draws) {_pct(res.robust.captured)}, "
        if res.robust is not None
        else ""
    )
    say(
        f"    uplift available: the true optimum adds {_pct(g.uplift)} of the whole KPI "
        f"({_num(g.optimal - g.historical)} over {_num(g.kpi_total)}) to the historical mix; "
        f"captured: fitted plan {_pct(g.captured)}, {rob}true shapes with least-squares betas "
        f"(oracle) {_pct(res.oracle.captured)}"
    )
    say(
        f"    share of the budget above a touchpoint's highest weekly spend in the history: "
        f"true optimum {_pct(g.beyond_observed(g.plan_true))}, fitted plan "
        f"{_pct(g.beyond_observed(g.plan_fit))}"
        + (
            f", robust plan {_pct(res.robust.beyond_observed(res.robust.plan_fit))}"
            if res.robust is not None
            else ""
        )
    )
    if len(g.plan_true) <= 4:
        for t in g.plan_true:
            w = HORIZON_WEEKS
            say(
                f"      {t}: weekly spend optimal {g.plan_true[t] / w:.4g}, fitted plan "
                f"{g.plan_fit[t] / w:.4g}, historical {g.plan_hist[t] / w:.4g}"
            )


def summary_table(results: Sequence[Result], say: Callable[[str], None]) -> None:
    say(
        f"\n{'data set':<24}{'tp':>3}{'wk':>5}{'MAPE':>7}{'fit s':>7}"
        f"{'|ROI err|':>11}{'w|ROI|':>8}{'|mROI err|':>11}{'w|mROI|':>9}{'share err':>10}"
        f"{'loss fit':>10}{'loss hist':>10}{'uplift':>8}{'captured':>10}{'robust':>9}"
        f"{'oracle':>9}"
    )
    say(
        f"{'':<24}{'':>3}{'':>5}{'':>7}{'':>7}{'median':>11}{'spend-wt':>8}{'median':>11}"
        f"{'spend-wt':>9}{'':>10}{'':>10}{'':>10}{'% of KPI':>8}{'fitted':>10}{'captured':>9}"
        f"{'captured':>9}"
    )
    for r in results:
        g = r.regret
        say(
            f"{r.case.name:<24}{len(r.rows):>3}{r.case.history.n_weeks:>5}{_pct(r.mape):>7}"
            f"{r.seconds:>7.1f}{_pct(r.median_err('roi')):>11}{_pct(r.weighted_err('roi')):>8}"
            f"{_pct(r.median_err('mroi')):>11}{_pct(r.weighted_err('mroi')):>9}"
            f"{_pct(r.share_error):>10}{_pct(g.loss):>10}{_pct(g.hist_loss):>10}"
            f"{_pct(g.uplift):>8}{_pct(g.captured):>10}"
            f"{_pct(r.robust.captured if r.robust else None):>9}{_pct(r.oracle.captured):>9}"
        )
    say(
        "(loss fit / loss hist: share of the optimum's media-driven KPI lost by the fitted plan / "
        "the historical mix; uplift: what the true optimum adds to the historical mix, as a share "
        "of the whole KPI over the horizon; captured = (plan - historical) / (optimal - "
        "historical); robust: plan on the mean over the 20 bootstrap draws; oracle: true shapes, "
        "least-squares betas)"
    )


def _capture_sets(results: Sequence[Result]) -> list[tuple[str, list[Result]]]:
    """The simulated worlds the capture target is read on: all of them (the target as the issue
    states it), and the subset whose true optimum adds at least ``MATERIAL_UPLIFT`` of the KPI."""
    sims = [r for r in results if r.case.kind == "simulated" and r.case.group in TARGET_GROUPS]
    material = [r for r in sims if r.regret.uplift >= MATERIAL_UPLIFT]
    return [
        (f"all {len(sims)} simulated worlds (the target)", sims),
        (f"subset: {len(material)} with uplift >= {MATERIAL_UPLIFT:.0%} of KPI", material),
    ]


def capture_table(results: Sequence[Result], say: Callable[[str], None]) -> None:
    """Uplift captured against the 90% target, for the fitted, robust and oracle plans, over all
    simulated worlds and over those with a material uplift."""
    say(f"{'worlds':<48}{'plan':<9}{'>= 90%':>8}{'>= 0%':>7}{'median':>9}{'mean':>9}{'min':>9}")
    for label, sel in _capture_sets(results):
        if not sel:
            say(f"{label:<48}(none)")
            continue
        for plan_name, get in (
            ("fitted", lambda r: r.regret),
            ("robust", lambda r: r.robust),
            ("oracle", lambda r: r.oracle),
            ("bayes-or", lambda r: r.bayes_oracle),
            ("ceiling", lambda r: r.ceiling),
        ):
            cap = np.array([get(r).captured if get(r) is not None else np.nan for r in sel])
            if np.all(np.isnan(cap)):
                continue
            say(
                f"{label:<48}{plan_name:<9}"
                f"{f'{int(np.sum(cap >= CAPTURE_TARGET))} of {len(sel)}':>8}"
                f"{int(np.sum(cap >= 0)):>7}{_pct(float(np.nanmedian(cap))):>9}"
                f"{_pct(float(np.nanmean(cap))):>9}{_pct(float(np.nanmin(cap))):>9}"
                f"   pooled {_pct(pooled_capture(sel, get))}"
            )
    extra = sorted({r.case.group for r in results if r.case.group.startswith("noise")})
    for grp in extra:
        sel = [r for r in results if r.case.group == grp]
        for plan_name, get in (
            ("fitted", lambda r: r.regret),
            ("robust", lambda r: r.robust),
            ("oracle", lambda r: r.oracle),
        ):
            cap = np.array([get(r).captured if get(r) is not None else np.nan for r in sel])
            label = f"what-if: seeds 20-39 at {grp}"
            say(
                f"{label:<48}{plan_name:<9}"
                f"{f'{int(np.sum(cap >= CAPTURE_TARGET))} of {len(sel)}':>8}"
                f"{int(np.sum(cap >= 0)):>7}{_pct(float(np.nanmedian(cap))):>9}"
                f"{_pct(float(np.nanmean(cap))):>9}{_pct(float(np.nanmin(cap))):>9}"
            )
    sims = _capture_sets(results)[0][1]
    if sims:
        b_fit = [r.regret.beyond_observed(r.regret.plan_fit) for r in sims]
        b_true = [r.regret.beyond_observed(r.regret.plan_true) for r in sims]
        say(
            f"extrapolation: share of the budget above a touchpoint's highest weekly spend in the "
            f"history, mean (max) over the worlds: fitted plans {_pct(float(np.mean(b_fit)))} "
            f"({_pct(max(b_fit))}), true optima {_pct(float(np.mean(b_true)))} "
            f"({_pct(max(b_true))})"
        )
    if PLAN_LIMITS != PlanLimits():
        say(
            f"(plans limited: {PLAN_LIMITS.describe()}; ceiling: the plan on the true curves "
            "under the same limits, the most a limited plan can capture)"
        )
    say(
        f"(target: every simulated world >= {CAPTURE_TARGET:.0%}; the subset leaves out worlds "
        "whose historical mix is already within a few % of the optimum, where a small absolute "
        "loss is a large share of a small uplift; it is a reading aid, not the target)"
    )


# ================================================================================================
# fit time, 8 and 15 touchpoints x 156 weeks
# ================================================================================================
def time_fits(tmp: Path, fit_options: dict[str, Any], quick: bool) -> list[Timing]:
    """Fit time with uncertainty (``N_BOOTSTRAP`` draws) for 8 and 15 touchpoints x 156 weeks,
    each fit after a yardstick (``_timing``): high-information worlds (seed 99), and (full run)
    ``random_world`` (seed 15) low-information ones; 3 runs each (quick: 1), plus one with
    ``n_jobs=2`` at 15 touchpoints."""
    repeats = 1 if quick else 3
    out = []
    for n_tp in (8, 15):
        worlds = [("high", high_case(n_tp, 99, tmp))]
        if not quick:
            worlds.append(("low", world_case(f"rw{n_tp}-timing", random_world(n_tp, seed=15), tmp)))
        for regime, case in worlds:
            for n_jobs in (1, 2) if n_tp == 15 and regime == "high" else (1,):
                opts = {"seed": SEED, "n_bootstrap": N_BOOTSTRAP, "n_jobs": n_jobs, **fit_options}
                out.append(
                    time_fit(
                        f"{n_tp} tp, {regime} information ({case.name})",
                        lambda c=case, o=opts: fit_model(c.history, **o),
                        repeats if n_jobs == 1 else 1,
                        n_jobs,
                    )
                )
    return out


# ================================================================================================
# PyMC-Marketing side by side
# ================================================================================================
def peers_part(
    results: Sequence[Result], n_worlds: int, tmp: Path, say: Callable[[str], None]
) -> list[_peers.SideBySide]:
    """PyMC-Marketing (its example-notebook model, ``benchmarks/peers/``) on mmm_example and the
    first ``n_worlds`` simulated worlds of each regime group, beside our fits of the same data."""
    say("\n## PyMC-Marketing side by side (same run)")
    why = _peers.available()
    if why:
        say(why)
        return []
    chosen = [r for r in results if r.case.name == "mmm_example"]
    for _, sel in regime_groups(results):
        chosen += sel[:n_worlds]
    rows = []
    for r in chosen:
        say(f"  fitting PyMC-Marketing on {r.case.name} ...")
        try:
            rows.append(
                _peers.side_by_side(
                    r, tmp, lambda c, m, robust: decision_regret(c, m, robust=robust)
                )
            )
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            say(f"  PyMC-Marketing failed on {r.case.name}: {exc}")
    for s in rows:
        if s.name == "mmm_example":
            say("\n**mmm_example, per channel** (truth from reproduce_dgp.py / true_model.json)\n")
            _peers.channel_table(s, say)
    if rows:
        say("")
        _peers.summary_table(rows, lambda regrets: pooled_capture(regrets, lambda g: g), say)
    return rows


# ================================================================================================
# main
# ================================================================================================
def _parse_options(items: Sequence[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for it in items:
        k, _, v = it.partition("=")
        out[k] = json.loads(v)
    return out


#: The fitter as it was before the shape prior and the pooling of marginal ROIs (``--before-after``).
BEFORE_OPTIONS: dict[str, Any] = {"shape_prior": 0.0, "pool_marginal": 0.0}


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="three worlds and the public data sets")
    ap.add_argument("--only", nargs="*", help="data sets to run (by name)")
    ap.add_argument(
        "--fit-option",
        action="append",
        default=[],
        metavar="NAME=JSON",
        help="extra fit_model option, e.g. sweeps=1 (repeatable)",
    )
    ap.add_argument(
        "--before-after",
        action="store_true",
        help="also fit everything with "
        + ", ".join(f"{k}={v}" for k, v in BEFORE_OPTIONS.items())
        + " (the fitter before those options) and compare",
    )
    ap.add_argument(
        "--noise",
        type=float,
        nargs="*",
        default=[],
        metavar="SD",
        help="what-if: also fit the 20 robustness worlds (seeds 20-39) with this noise "
        "(share of the mean KPI, e.g. 0.01 0.02) instead of their own 2-8%%; reported "
        "apart, not part of the target's worlds",
    )
    ap.add_argument(
        "--cap-at-observed",
        type=float,
        metavar="F",
        help="plans on estimated curves (fitted, robust, oracle) keep each "
        "touchpoint's weekly spend at most F times the highest in its history",
    )
    ap.add_argument(
        "--change-limit",
        type=float,
        metavar="P",
        help="plans on estimated curves keep each touchpoint within +-P (a fraction) "
        "of the historical mix",
    )
    ap.add_argument(
        "--targeted-tests",
        action="store_true",
        help="also compare designs of lift tests on every simulated world: one or two "
        "per touchpoint against tests placed by the value of information (EVPPI)",
    )
    ap.add_argument("--json", type=Path, help="also write the summary as JSON here")
    ap.add_argument(
        "--markdown", type=Path, help="also write the markdown tables (and the command) here"
    )
    ap.add_argument(
        "--update-readme",
        metavar="NAME",
        help="write the markdown tables into benchmarks/README.md between the markers "
        "<!-- fit_recovery:NAME:begin --> and <!-- fit_recovery:NAME:end -->",
    )
    ap.add_argument("--no-timing", action="store_true", help="skip the 8 and 15 x 156 fit timing")
    ap.add_argument(
        "--regime",
        choices=("low", "high", "both"),
        default="both",
        help="which simulated worlds: low information (optimizer.simulate.random_world, "
        "today's worlds), high information (_high_worlds.py), or both (default)",
    )
    ap.add_argument(
        "--touchpoints",
        type=int,
        nargs="+",
        choices=(8, 15),
        default=[8],
        help="touchpoints per simulated world: 8 (default; the low regime's varied worlds "
        "keep their own 5-14) or 15, or both (--touchpoints 8 15)",
    )
    ap.add_argument(
        "--peers",
        type=int,
        metavar="N",
        help="PyMC-Marketing side by side (benchmarks/peers/.venv) on mmm_example and the "
        "first N simulated worlds of each regime (default 2; 0 skips; --quick: 0)",
    )
    ap.add_argument(
        "--no-public",
        action="store_true",
        help="skip PyMC-Marketing's public data sets (mmm_example, mmm_roas)",
    )
    ap.add_argument(
        "--lift-tests",
        type=int,
        default=0,
        metavar="N",
        help="also refit every simulated world calibrated to N simulated lift tests "
        f"per touchpoint (+{LIFT_SHARE:.0%} of mean weekly spend for {LIFT_WEEKS} "
        f"weeks, se {LIFT_SE:.0%} of the true lift) and report uplift captured with "
        "calibration next to without and the oracle",
    )
    args = ap.parse_args(argv)
    fit_options = _parse_options(args.fit_option)
    global PLAN_LIMITS
    PLAN_LIMITS = PlanLimits(args.cap_at_observed, args.change_limit)
    say = print
    t_start = time.perf_counter()
    md: list[str] = []  # the markdown tables, for --markdown / --update-readme

    def md_say(line: str) -> None:
        say(line)
        md.append(line)

    load0 = os.getloadavg()
    say(f"# Fit recovery benchmark ({'quick' if args.quick else 'full'} run)")
    say(
        f"date {_dt.date.today().isoformat()}; {platform.platform()}; python "
        f"{platform.python_version()}; {os.cpu_count()} cores; {platform.processor() or '?'}"
    )
    say(
        f"fit_model(seed={SEED}, n_bootstrap={N_BOOTSTRAP}"
        + "".join(f", {k}={v!r}" for k, v in fit_options.items())
        + "); plans: "
        f"{HORIZON_WEEKS} weeks, budget-only, at the historical mean weekly budget; limits on "
        f"plans made on estimated curves: {PLAN_LIMITS.describe()}"
    )
    checks: dict[str, bool] = {}
    before: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="fit_recovery_") as tmpdir:
        tmp = Path(tmpdir)
        regimes = ("low", "high") if args.regime == "both" else (args.regime,)
        cases = [
            c
            for n_tp in args.touchpoints
            for regime in regimes
            for c in regime_cases(
                regime, n_tp, args.quick, tmp, args.noise if (regime, n_tp) == ("low", 8) else ()
            )
        ]
        if not args.no_public:
            cases += [mmm_example_case(tmp), mmm_roas_case(tmp)]
        if args.only:
            cases = [c for c in cases if c.name in args.only]
        for c in cases:
            if c.name == "mmm_example":
                say("\n## Harness check: the true model of mmm_example (true_model.json)")
                checks.update(check_mmm_example_truth(c, say))
            if c.name == "mmm_roas":
                say("\n## Harness check: the true model of mmm_roas")
                checks.update(check_mmm_roas_truth(c, say))
        say("\n## Per data set")
        results = []
        for c in cases:
            res = measure(c, fit_options)
            if args.lift_tests > 0 and c.kind == "simulated":
                measure_calibrated(c, fit_options, res, args.lift_tests)
            if args.targeted_tests and c.kind == "simulated":
                measure_targeted(c, fit_options, res)
            print_case(res, say)
            if res.calibrated is not None:
                say(
                    f"    calibrated to {args.lift_tests} lift test(s) per touchpoint: captured "
                    f"{_pct(res.calibrated.captured)} (without {_pct(res.regret.captured)}, "
                    f"oracle {_pct(res.oracle.captured)}); spend-weighted |mROI error| "
                    f"{_pct(res.cal_mroi_err)} (without {_pct(res.weighted_err('mroi'))})"
                )
            results.append(res)
        if args.before_after:
            before = [measure(c, {**fit_options, **BEFORE_OPTIONS}) for c in cases]
        say(
            "\n## Summary (errors are |fitted - true| / true; captured = (fitted - historical) / "
            "(optimal - historical), on the true curves; oracle = true shapes, least-squares "
            "betas)"
        )
        summary_table(results, say)
        say("\n## Per regime: each plan beside the true-transform reference and the historical mix")
        regime_table(results, md_say)
        n_peer = args.peers if args.peers is not None else (0 if args.quick else 2)
        peers_rows = peers_part(results, n_peer, tmp, md_say) if n_peer > 0 else []
        if any(r.case.group in TARGET_GROUPS for r in results):
            say("\n## Low-information worlds: uplift captured against the 90% target")
            capture_table(results, say)
        if args.lift_tests > 0:
            say(
                f"\n## Calibration: {args.lift_tests} simulated lift test(s) per touchpoint "
                f"(+{LIFT_SHARE:.0%} of mean weekly spend for {LIFT_WEEKS} weeks, se "
                f"{LIFT_SE:.0%} of the true lift)"
            )
            lift_table(results, args.lift_tests, say)
        if args.targeted_tests:
            say(
                "\n## Where to put lift tests: one or two per touchpoint against tests placed by "
                "the value of information (EVPPI of the uncalibrated model's plan)"
            )
            targeted_table(results, say)
        if before:
            say(
                "\n## Before: the same fits with "
                + ", ".join(f"{k}={v}" for k, v in BEFORE_OPTIONS.items())
            )
            summary_table(before, say)
            say("\n## Before -> after, averaged over the simulated worlds")
            compare_table(before, results, say)
        big = None if args.no_timing else time_fits(tmp, fit_options, args.quick)
        big_before = (
            time_fits(tmp, {**fit_options, **BEFORE_OPTIONS}, args.quick)
            if before and not args.no_timing
            else None
        )
        if big:
            say("\n## Fit time, 156 weeks, with uncertainty (same run)\n")
            md_say("\n**Fit time, 156 weeks, with uncertainty** (same run)\n")
            timing_table(big, md_say)
    say("\n## Verdicts")
    verdicts = verdict_rows(results, big, checks) + peer_verdicts(peers_rows)
    old = {v[0]: v[1] for v in verdict_rows(before, big_before, {})} if before else {}
    if old:
        say(f"{'':<62}{'after':>34}  {'before':>34}")
    for name, measured, target, passed in verdicts:
        prev = f"  {old.get(name, ''):>34}" if old else ""
        say(f"{name:<62}{measured:>34}{prev}  {target:<14}{'PASS' if passed else 'MISS'}")
    total = time.perf_counter() - t_start
    say(f"\ntotal run time {total:.0f} s")
    if args.markdown or args.update_readme:
        block = _markdown_block(args, argv, md, verdicts, total, load0)
        if args.markdown:
            args.markdown.write_text(block)
        if args.update_readme:
            _update_readme(args.update_readme, block)
    if args.json:
        data = _as_json(results, big, verdicts)
        data["peers"] = [
            {
                "data_set": p.name,
                "regime": p.regime,
                "channels": [r.__dict__ for r in p.rows],
                "mae": {"pymc_marketing": p.mae("peer"), "budgetopt": p.mae("ours")},
                "coverage_90": {
                    "pymc_marketing": p.coverage("peer"),
                    "budgetopt": p.coverage("ours"),
                },
                "captured": p.captured,
                "fit_seconds": {"pymc_marketing": p.peer.fit_seconds, "budgetopt": p.ours_seconds},
                "versions": p.peer.versions,
                "sampler": p.peer.sampler,
            }
            for p in peers_rows
        ]
        if before:
            data["before"] = _as_json(before, big_before, verdict_rows(before, big_before, {}))
        args.json.write_text(json.dumps(data, indent=2, default=_plain) + "\n")
    return 0


def _markdown_block(
    args: argparse.Namespace,
    argv: Sequence[str] | None,
    md: list[str],
    verdicts: list[tuple[str, str, str, bool]],
    total: float,
    load0: tuple[float, float, float],
) -> str:
    """The run's markdown tables with the command, date, commit and machine load."""
    cmd = " ".join(["benchmarks/fit_recovery.py", *(sys.argv[1:] if argv is None else argv)])
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            cwd=HERE,
            check=False,
        ).stdout.strip()
    except OSError:
        commit = "?"
    load1 = os.getloadavg()
    lines = [
        f"Measured {_dt.datetime.now(_dt.UTC).strftime('%Y-%m-%d %H:%M UTC')} at commit "
        f"`{commit or '?'}` with `.venv/bin/python {cmd}` ({total / 60:.0f} min; Python "
        f"{platform.python_version()}, {os.cpu_count()} cores shared with other jobs: load "
        f"average {load0[0]:.1f} at the start, {load1[0]:.1f} at the end, so wall times are "
        "inflated; read the ratios measured in the same run).",
        *md,
        "",
        "**Verdicts**",
        "",
        "| check | measured | target | |",
        "|---|---|---|---|",
        *(f"| {n} | {m} | {t} | {'PASS' if p else 'MISS'} |" for n, m, t, p in verdicts),
    ]
    return "\n".join(lines).strip() + "\n"


def _update_readme(name: str, block: str) -> None:
    """Replace the text between this name's markers in benchmarks/README.md by ``block``."""
    readme = HERE / "README.md"
    text = readme.read_text()
    begin, end = f"<!-- fit_recovery:{name}:begin -->", f"<!-- fit_recovery:{name}:end -->"
    if begin not in text or end not in text:
        print(f"--update-readme: markers {begin} / {end} not found in {readme}", file=sys.stderr)
        return
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    readme.write_text(f"{head}{begin}\n{block}{end}{tail}")


def compare_table(
    before: Sequence[Result], after: Sequence[Result], say: Callable[[str], None]
) -> None:
    """Mean and median of the headline numbers over the simulated worlds, before and after."""
    say(
        f"{'worlds':<14}{'':<8}{'loss fit':>10}{'captured':>10}{'>=90%':>7}{'>=0%':>6}"
        f"{'|ROI err|':>11}{'|mROI err|':>12}{'share err':>11}{'MAPE':>7}{'fit s':>7}"
    )
    for group in ("main", "robustness"):
        for label, rs in (("before", before), ("after", after)):
            sel = [r for r in rs if r.case.kind == "simulated" and r.case.group == group]
            if not sel:
                continue
            loss = np.array([r.regret.loss for r in sel])
            cap = np.array([r.regret.captured for r in sel])
            say(
                f"{group:<14}{label:<8}{_pct(float(loss.mean())):>10}"
                f"{_pct(float(np.median(cap))):>10}{int(np.sum(cap >= CAPTURE_TARGET)):>7}"
                f"{int(np.sum(cap >= 0)):>6}"
                f"{_pct(float(np.median([r.median_err('roi') for r in sel]))):>11}"
                f"{_pct(float(np.median([r.median_err('mroi') for r in sel]))):>12}"
                f"{_pct(float(np.mean([r.share_error for r in sel]))):>11}"
                f"{_pct(float(np.mean([r.mape or 0.0 for r in sel]))):>7}"
                f"{float(np.mean([r.seconds for r in sel])):>7.1f}"
            )
        sel = [r for r in after if r.case.kind == "simulated" and r.case.group == group]
        if sel:
            hist = np.array([r.regret.hist_loss for r in sel])
            orc = np.array([r.oracle.loss for r in sel])
            ocap = np.array([r.oracle.captured for r in sel])
            say(f"{group:<14}{'hist mix':<8}{_pct(float(hist.mean())):>10}{'0.0%':>10}")
            rob = [r.robust for r in sel if r.robust is not None]
            if rob:
                rl = np.array([g.loss for g in rob])
                rc = np.array([g.captured for g in rob])
                say(
                    f"{group:<14}{'robust':<8}{_pct(float(rl.mean())):>10}"
                    f"{_pct(float(np.median(rc))):>10}{int(np.sum(rc >= CAPTURE_TARGET)):>7}"
                    f"{int(np.sum(rc >= 0)):>6}"
                )
            say(
                f"{group:<14}{'oracle':<8}{_pct(float(orc.mean())):>10}"
                f"{_pct(float(np.median(ocap))):>10}{int(np.sum(ocap >= CAPTURE_TARGET)):>7}"
                f"{int(np.sum(ocap >= 0)):>6}"
            )
    say(
        "(loss fit: mean true KPI lost against the true optimum; captured: median share of the "
        "achievable uplift; >=90% / >=0%: worlds at or above; errors: median over worlds of the "
        "per-world median; share err: mean)"
    )


def peer_verdicts(rows: Sequence[_peers.SideBySide]) -> list[tuple[str, str, str, bool]]:
    """Issue 13's mmm_example targets, read beside PyMC-Marketing in the same run."""
    out = []
    for p in rows:
        if p.name != "mmm_example":
            continue
        out.append(
            (
                "mmm_example: ROAS + mROAS MAE, ours (PyMC-Marketing)",
                f"{_pct(p.mae('ours'))} ({_pct(p.mae('peer'))})",
                "<= 10%",
                p.mae("ours") <= 0.10,
            )
        )
        inside = all(
            lo <= true <= hi
            for r in p.rows
            for (_, lo, hi), true in ((r.ours_roas, r.true_roas), (r.ours_mroas, r.true_mroas))
        )
        out.append(
            (
                "mmm_example: truth inside our 90% band, both channels",
                f"{'yes' if inside else 'no'} (PyMC-Marketing {_pct(p.coverage('peer'))})",
                "yes",
                inside,
            )
        )
    return out


def verdict_rows(
    results: Sequence[Result], big: list[Timing] | None, checks: dict[str, bool]
) -> list[tuple[str, str, str, bool]]:
    rows: list[tuple[str, str, str, bool]] = []
    by = {r.case.name: r for r in results}
    ex = by.get("mmm_example")
    if ex is not None:
        for attr, label, target in (
            ("roi", "ROAS (contribution / spend, README 4,968 / 2,275)", ROAS_TARGET),
            ("mroi", "marginal ROAS at mean spend (README 4,186 / 2,830)", MROAS_TARGET),
            ("ss_roi", "steady-state ROAS at mean spend (extra; x2 unseen)", ROAS_TARGET),
        ):
            errs = {
                r.id: (getattr(r, f"fit_{attr}") - getattr(r, f"true_{attr}"))
                / getattr(r, f"true_{attr}")
                for r in ex.rows
            }
            rows.append(
                (
                    f"mmm_example {label}",
                    " ".join(f"{k} {_pct(v, True)}" for k, v in errs.items()),
                    f"within {target:.0%}",
                    all(abs(v) <= target for v in errs.values()),
                )
            )
    sims = [r for r in results if r.case.kind == "simulated"]
    for group in ("main", "robustness"):
        grp = [r for r in sims if r.case.group == group]
        if not grp:
            continue
        cap = np.array([r.regret.captured for r in grp])
        worst = grp[int(np.nanargmin(cap))]
        rows.append(
            (
                f"simulated ({group}, {len(grp)} worlds): uplift captured, every world",
                f"min {_pct(float(np.nanmin(cap)))} ({worst.case.name})",
                f">= {CAPTURE_TARGET:.0%}",
                bool(np.nanmin(cap) >= CAPTURE_TARGET),
            )
        )
        rows.append(
            (
                f"simulated ({group}): uplift captured, median / mean",
                f"{_pct(float(np.nanmedian(cap)))} / {_pct(float(np.nanmean(cap)))}",
                f">= {CAPTURE_TARGET:.0%}",
                bool(np.nanmedian(cap) >= CAPTURE_TARGET),
            )
        )
        n_ok = int(np.sum(cap >= CAPTURE_TARGET))
        rows.append(
            (
                f"simulated ({group}): worlds at >= 90% captured",
                f"{n_ok} of {len(grp)}",
                "all",
                n_ok == len(grp),
            )
        )
    low = [r for r in sims if r.case.group in TARGET_GROUPS]
    if low:
        rows_ = [t for r in low for t in r.rows]
        cm = coverage_of([t.mroi_covered for t in rows_])
        cr = coverage_of([t.ss_roi_covered for t in rows_])
        rows.append(
            (
                f"low-information worlds: truth inside the {COVERAGE_LEVEL:.0f}% interval, mROI / ROI",
                f"{_pct(cm)} / {_pct(cr)} of {len(rows_)}",
                f"~{COVERAGE_LEVEL:.0f}%",
                min(cm, cr) >= COVERAGE_LEVEL / 100 - 0.05,
            )
        )
    for label, sel in _capture_sets(results):
        if sel:
            pooled = [
                pooled_capture(sel, get)
                for get in (
                    lambda r: r.regret,
                    lambda r: r.robust,
                    lambda r: r.oracle,
                    lambda r: r.bayes_oracle,
                )
            ]
            rows.append(
                (
                    f"{label}: pooled captured fit/robust/oracle/Bayes oracle",
                    " / ".join(_pct(v) for v in pooled),
                    f">= {CAPTURE_TARGET:.0%}",
                    pooled[0] >= CAPTURE_TARGET,
                )
            )
    for label, sel in _capture_sets(results):
        if not sel:
            continue
        counts = []
        for get in (
            lambda r: r.regret,
            lambda r: r.robust,
            lambda r: r.oracle,
            lambda r: r.bayes_oracle,
        ):
            caps = [get(r).captured for r in sel if get(r) is not None]
            counts.append(str(sum(c >= CAPTURE_TARGET for c in caps)) if caps else "–")
        rows.append(
            (
                f"{label}: >= 90% fit/robust/oracle/Bayes oracle",
                f"{' / '.join(counts)} of {len(sel)}",
                "all" if label.startswith("all") else "all (subset)",
                counts[0] == str(len(sel)),
            )
        )
    if "sample" in by:
        sample = by["sample"]
        rows.append(
            (
                "sample company: uplift captured (bundled data)",
                _pct(sample.regret.captured),
                f">= {CAPTURE_TARGET:.0%}",
                sample.regret.captured >= CAPTURE_TARGET,
            )
        )
        rows.append(
            (
                "sample company fit time (14 tp, 156 wk, 20 boot.)",
                f"{sample.seconds:.1f} s",
                "<= ~10 s",
                sample.seconds <= 10.0,
            )
        )
    rows += regime_verdicts(results)
    for t in big or ():
        if t.label.startswith("15 tp, high"):
            med = float(np.median(t.wall))
            rows.append(
                (
                    f"fit time {t.label.split(' (')[0]}, n_jobs {t.n_jobs} (shared CPU)",
                    f"{med:.1f} s ({float(np.median(t.ratio)):.0f}x yardstick)",
                    f"<= {BIG_FIT_TARGET_SECONDS:.0f} s",
                    med <= BIG_FIT_TARGET_SECONDS,
                )
            )
    for name, passed in checks.items():
        rows.append((f"harness: {name}", "yes" if passed else "no", "yes", passed))
    return rows


def _plain(obj: Any) -> Any:
    """numpy scalars as Python ones, for ``json.dumps``."""
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def _as_json(
    results: Sequence[Result],
    big: list[Timing] | None,
    verdicts: list[tuple[str, str, str, bool]],
) -> dict[str, Any]:
    return {
        "date": _dt.date.today().isoformat(),
        "machine": f"{platform.platform()}, {os.cpu_count()} cores",
        "plan_limits": PLAN_LIMITS.describe(),
        "data_sets": [
            {
                "name": r.case.name,
                "group": r.case.group,
                "settings": r.case.settings,
                "touchpoints": len(r.rows),
                "weeks": r.case.history.n_weeks,
                "mape_holdout": r.mape,
                "r2": r.r2,
                "fit_seconds": round(r.seconds, 2),
                "median_roi_error": r.median_err("roi"),
                "spend_weighted_roi_error": r.weighted_err("roi"),
                "median_mroi_error": r.median_err("mroi"),
                "spend_weighted_mroi_error": r.weighted_err("mroi"),
                "share_error": r.share_error,
                "loss_fitted": r.regret.loss,
                "loss_historical": r.regret.hist_loss,
                "captured": r.regret.captured,
                "uplift_share_of_kpi": r.regret.uplift,
                "captured_robust": r.robust.captured if r.robust else None,
                "loss_robust": r.robust.loss if r.robust else None,
                "captured_oracle": r.oracle.captured,
                "loss_oracle": r.oracle.loss,
                "captured_bayes_oracle": r.bayes_oracle.captured if r.bayes_oracle else None,
                "touchpoints_detail": [r_.__dict__ for r_ in r.rows],
                **(
                    {
                        "captured_calibrated": r.calibrated.captured,
                        "captured_calibrated_robust": (
                            r.calibrated_robust.captured if r.calibrated_robust else None
                        ),
                        "spend_weighted_mroi_error_calibrated": r.cal_mroi_err,
                    }
                    if r.calibrated is not None
                    else {}
                ),
                **(
                    {
                        "captured_by_test_design": {k: v.captured for k, v in r.targeted.items()},
                        "tests_by_design": r.test_counts,
                    }
                    if r.targeted
                    else {}
                ),
            }
            for r in results
        ],
        "regimes": regime_json(results),
        "fit_timing": [t.__dict__ for t in big] if big else None,
        "verdicts": [
            {"name": n, "measured": m, "target": t, "pass": bool(p)} for n, m, t, p in verdicts
        ],
    }


if __name__ == "__main__":
    sys.exit(main())
