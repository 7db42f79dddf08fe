"""Settings and data sets of ``fit_recovery.py``: the simulated worlds of both regimes and
PyMC-Marketing's public data sets, each with its truth, read through the user's path.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from _high_worlds import _spend as high_spend
from _high_worlds import flighted_world, high_world

from optimizer.data import History, journey_from_dict, read_history, read_journey
from optimizer.response import curves as C
from optimizer.response.model import (
    Adstock,
    ResponseModel,
    Saturation,
    TouchpointResponse,
    read_model,
)
from optimizer.simulate import (
    SimulatedWorld,
    TouchpointTruth,
    WorldSpec,
    random_world,
    sample_company,
    seasonal_shape,
    simulate,
    write_world,
)
from optimizer.simulate import _spend as low_spend

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
    #: "main" | "robustness" (random_world(8) seeds 20-39) | "low15" | "high" | "flighted"
    group: str = "main"
    #: "low" | "high" information | "flighted" (simulated worlds); None: public data
    regime: str | None = None
    touchpoints: int | None = None  # the --touchpoints setting the world was made for
    #: ``--midstream``: the weekly spend simulated before the history (not in it), one column per
    #: touchpoint; None: the history starts from zero carry-over
    pre_spend: pd.DataFrame | None = None
    #: the whole KPI's weekly run rate plans are valued against (``Regret.kpi_total``); None: the
    #: history's mean KPI (a mid-stream case keeps its zero-start world's, so both value alike)
    kpi_weekly: float | None = None


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


# ================================================================================================
# mid-stream histories (``--midstream WEEKS``)
# ================================================================================================
#: seeds the spend simulated before a mid-stream history (with the world's name and the weeks)
MIDSTREAM_SEED = 52_2026


def _pre_rngs(name: str, weeks: int, n: int) -> list[np.random.Generator]:
    return np.random.default_rng([MIDSTREAM_SEED, zlib.crc32(name.encode()), weeks]).spawn(n)


def with_carry_in(
    history: pd.DataFrame,
    contributions: pd.DataFrame,
    kpi: str,
    touchpoints: Sequence[TouchpointTruth],
    pre: Mapping[str, np.ndarray],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A simulated history and its true contributions as if the spend ``pre`` had run before its
    first week: each touchpoint's contribution is the simulator's own transform of the spend
    before and in the history, of which the history's weeks are kept (the earlier weeks are
    dropped); the KPI gains the difference to the zero start (same baseline, controls and noise;
    whole cents). Spend, dates and everything else are unchanged, so the truth is too."""
    h, c = history.copy(), contributions.copy()
    added = np.zeros(len(h))
    for tp in touchpoints:
        x = h[tp.id].to_numpy(dtype=float)
        w = len(pre[tp.id])
        full = tp.contribution(np.r_[np.asarray(pre[tp.id], dtype=float), x])[w:]
        added += full - tp.contribution(x)
        c[tp.id] = full
    old = h[kpi].to_numpy(dtype=float)
    h[kpi] = np.round(old + added, 2)
    if "noise" in c:  # the rounding of the KPI is part of the noise (optimizer.simulate)
        c["noise"] = c["noise"] + (h[kpi].to_numpy(dtype=float) - old - added)
    return h, c


def _midstream_low(
    world: SimulatedWorld, name: str, weeks: int
) -> tuple[SimulatedWorld, dict[str, np.ndarray]]:
    """``world`` with ``weeks`` weeks of spend before its history, drawn by the simulator's own
    spend process (each touchpoint's mean, variation, flighting and seasonal spend, the weeks'
    own seasons) from streams of their own."""
    spec = world.spec
    dates = pd.date_range(
        end=pd.Timestamp(spec.start) - pd.Timedelta(weeks=1), periods=weeks, freq="7D"
    )
    season = seasonal_shape(dates, spec.season_peak_day)
    rngs = _pre_rngs(name, weeks, len(spec.touchpoints))
    pre = {
        tp.id: low_spend(tp, rng, season, spec.spend_drift)
        for tp, rng in zip(spec.touchpoints, rngs, strict=True)
    }
    h, c = with_carry_in(world.history, world.contributions, spec.kpi, spec.touchpoints, pre)
    return replace(world, history=h, contributions=c), pre


def world_case(
    name: str,
    spec: WorldSpec,
    tmp: Path,
    group: str = "main",
    touchpoints: int | None = 8,
    midstream: int = 0,
) -> Case:
    """Simulate a (low-information) world, write its files, and read them back as a user would
    (``midstream``: after that many weeks of spend before the history, ``with_carry_in``)."""
    world: SimulatedWorld = simulate(spec)
    kpi_weekly, pre = None, None
    if midstream:
        kpi_weekly = float(world.history[spec.kpi].mean())
        world, pre = _midstream_low(world, name, midstream)
        name = f"{name}-mid{midstream}"
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
        pre_spend=None if pre is None else pd.DataFrame(pre),
        kpi_weekly=kpi_weekly,
    )


def high_case(
    n_touchpoints: int, seed: int, tmp: Path, midstream: int = 0, regime: str = "high"
) -> Case:
    """A high-information world (``_high_worlds.high_world``; ``regime="flighted"``:
    ``_high_worlds.flighted_world``), written as a journey and a history CSV and read back as a
    user would (``midstream``: after that many weeks of spend before the history, drawn by the
    world's own spend process, ``with_carry_in``)."""
    w = (flighted_world if regime == "flighted" else high_world)(n_touchpoints, seed)
    kpi_weekly, pre = None, None
    if midstream:
        kpi = str(w.journey["kpi"])
        kpi_weekly = float(w.history[kpi].mean())
        rngs = _pre_rngs(w.name, midstream, len(w.touchpoints))
        pre = {
            tp.id: high_spend(
                rng, midstream, tp.mean_spend, tp.spend_cv, tp.flighting, w.flight_weeks
            )
            for tp, rng in zip(w.touchpoints, rngs, strict=True)
        }
        h, c = with_carry_in(w.history, w.contributions, kpi, w.touchpoints, pre)
        w = replace(w, name=f"{w.name}-mid{midstream}", history=h, contributions=c)
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
        group=regime,
        regime=regime,
        touchpoints=n_touchpoints,
        pre_spend=None if pre is None else pd.DataFrame(pre),
        kpi_weekly=kpi_weekly,
    )


#: ``--regime high`` and ``--regime flighted``: the seeds of the worlds (quick: the first three)
HIGH_SEEDS = tuple(range(20))
QUICK_WORLDS = 3


def regime_cases(
    regime: str,
    n_touchpoints: int,
    quick: bool,
    tmp: Path,
    noises: Sequence[float] = (),
    midstream: int = 0,
) -> list[Case]:
    """The simulated worlds of one regime at one ``--touchpoints`` setting.

    low, 8: today's worlds (the ten varied ones, 5-14 touchpoints, and ``random_world(8)`` seeds
    20-39; quick: three of them); low, 15: ``random_world(15)`` seeds 20-39 (quick: 20-22; group
    ``low15``, apart from the 8-touchpoint sets the older tables read);
    high: ``high_world(n, seed)`` for ``HIGH_SEEDS`` (quick: the first three); flighted:
    ``flighted_world(n, seed)`` for the same seeds. ``midstream``: each history after that many
    weeks of spend before it (``with_carry_in``).
    """
    if regime in ("high", "flighted"):
        seeds = HIGH_SEEDS[:QUICK_WORLDS] if quick else HIGH_SEEDS
        return [high_case(n_touchpoints, s, tmp, midstream, regime) for s in seeds]
    if n_touchpoints == 8:
        return simulated_cases(quick, tmp, noises, midstream)
    seeds = range(20, 20 + QUICK_WORLDS) if quick else range(20, 40)
    return [
        world_case(
            f"rw{n_touchpoints}-s{s}",
            random_world(n_touchpoints, seed=s),
            tmp,
            group="low15",
            touchpoints=n_touchpoints,
            midstream=midstream,
        )
        for s in seeds
    ]


def simulated_cases(
    quick: bool, tmp: Path, noises: Sequence[float] = (), midstream: int = 0
) -> list[Case]:
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
    cases = [world_case(n, s, tmp, midstream=midstream) for n, s in worlds]
    if not quick:
        cases += [
            world_case(
                f"rw8-s{s}", random_world(8, seed=s), tmp, group="robustness", midstream=midstream
            )
            for s in range(20, 40)
        ]
    for sd in noises:
        cases += [
            world_case(
                f"rw8-s{s}-noise{100 * sd:g}%",
                random_world(8, seed=s, noise_sd=sd),
                tmp,
                group=f"noise {sd:g}",
                midstream=midstream,
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
