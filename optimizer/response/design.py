"""Design of the fit: constants, the grid of transform candidates, the prior on them, the
baseline matrix, and the identifiability checks of the history."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from optimizer.data import History, KpiSpec
from optimizer.errors import ModelError
from optimizer.fileio import did_you_mean

#: Seasonality period in weeks (365.25 / 7).
PERIOD_WEEKS = 52.18
DECAY_GRID: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
#: Half saturation (hill) or scale (exponential) relative to the mean adstocked spend.
RELATIVE_GRID: tuple[float, ...] = (0.3, 0.45, 0.7, 1.0, 1.5, 2.2, 3.0, 5.0, 10.0)
HILL_SHAPES: tuple[float, ...] = (0.5, 0.75, 1.0)
S_CURVE_SHAPES: tuple[float, ...] = (1.5, 2.0, 3.0)
#: Centre and spread of the weak prior on curve shapes (``shape_prior``): a curve half way to
#: saturation at the mean adstocked spend (relative scale 1, spread a factor of 3 either way),
#: decay 0.3 +- 0.3, hill shape 1 +- 0.5. Measured on 30 random worlds (docs/response-models-measured.md):
#: without it the search often picks near-linear curves (relative scale 5-10) whose extrapolation
#: sends a plan's money far beyond anything observed.
PRIOR_RELATIVE_SCALE = 1.0
PRIOR_LOG_RELATIVE_SD = math.log(3.0)
PRIOR_DECAY = 0.3
PRIOR_DECAY_SD = 0.3
PRIOR_SHAPE_SD = 0.5
#: Spend variation below this coefficient of variation cannot be told from the intercept.
MIN_SPEND_CV = 0.01
#: Spend of two touchpoints correlated beyond this cannot be told apart.
MAX_SPEND_CORRELATION = 0.98
#: Ridge of a touchpoint measured by lift tests, relative to the others' (in the square root of
#: the penalty): the tests, not the shrinkage, set its effect size.
TESTED_RIDGE = 1e-3
#: Nuisance decay for a lock-step group's joint (linear) effect.
GROUP_DECAY = 0.3
RECENT_WEEKS = 13
#: Candidate-weeks per search step (grid size x training weeks summed over folds) below which
#: candidates are scored in-process even when ``n_jobs`` asks for workers. Measured here: a step
#: of 324 candidates x ~800 fold-weeks takes ~30 ms, while starting joblib's process workers takes
#: 1-8 s, so workers pay only for steps of a few hundred milliseconds.
_PARALLEL_MIN_WORK = 4_000_000
#: Touchpoints x weeks^2 x grid size of one KPI's fit below which ``fit_all_kpis`` fits the KPIs
#: one after another even when ``n_jobs`` asks for workers (15 x 156^2 x 324 = 1.2e8 takes ~1.5 s).
_PARALLEL_MIN_FIT = 1_000_000_000


@dataclass(frozen=True)
class CurveShape:
    """Curve shape of one touchpoint: adstock decay, family and its relative parameter."""

    decay: float
    family: str
    rel: float  # half_saturation / scale / (1 / lam) as a multiple of the mean adstocked spend
    shape: float = 1.0  # hill only

    def params(self, mean_adstock: float) -> dict[str, float]:
        """Unit-free curve parameters (without beta) for a touchpoint's mean adstocked spend."""
        k = self.rel * mean_adstock
        if self.family == "hill":
            return {"half_saturation": k, "shape": self.shape}
        if self.family == "exponential":
            return {"scale": k}
        return {"lam": 1.0 / k}

    def describe(self) -> dict[str, Any]:
        d: dict[str, Any] = {"family": self.family, "decay": self.decay, "relative_scale": self.rel}
        if self.family == "hill":
            d["shape"] = self.shape
        return d


def _grid(families: Sequence[str], allow_s_curves: bool) -> list[CurveShape]:
    shapes = HILL_SHAPES + (S_CURVE_SHAPES if allow_s_curves else ())
    out: list[CurveShape] = []
    for d in DECAY_GRID:
        for fam in families:
            for rel in RELATIVE_GRID:
                if fam == "hill":
                    out.extend(CurveShape(d, fam, rel, s) for s in shapes)
                else:
                    out.append(CurveShape(d, fam, rel))
    return out


def _default_index(grid: list[CurveShape]) -> int:
    """Start of the search: decay 0.3, relative scale 1, the first family, shape 1."""
    for i, c in enumerate(grid):
        if c.decay == 0.3 and c.rel == 1.0 and c.shape == 1.0:
            return i
    return 0


def _prior_penalty(
    grid: Sequence[CurveShape], shift: Sequence[float] | np.ndarray = (0.0, 0.0, 0.0)
) -> np.ndarray:
    """Minus twice the log prior of each candidate (up to a constant), in units of one
    standard deviation squared: ``z(log relative scale)^2 + z(decay)^2 + z(hill shape)^2``;
    ``shift`` moves the prior's centre by that many standard deviations of each."""
    return np.array(
        [
            (math.log(c.rel / PRIOR_RELATIVE_SCALE) / PRIOR_LOG_RELATIVE_SD - shift[0]) ** 2
            + ((c.decay - PRIOR_DECAY) / PRIOR_DECAY_SD - shift[1]) ** 2
            + ((c.shape - 1.0) / PRIOR_SHAPE_SD - shift[2]) ** 2
            for c in grid
        ]
    )


# ------------------------------------------------------------------------------------------------
# baseline terms
# ------------------------------------------------------------------------------------------------
def _baseline_names(
    fourier_pairs: int,
    controls: Sequence[str],
    events: Sequence[str],
    seasonal_trend: bool = False,
) -> list[str]:
    """Names of the baseline columns; ``seasonal_trend`` adds seasonality scaled by the trend
    (``trend*sin1`` ...: a seasonal swing that grows with the level, multiplicative seasonality
    to first order)."""
    names = ["intercept", "trend"]
    for k in range(1, fourier_pairs + 1):
        names += [f"sin{k}", f"cos{k}"]
    if seasonal_trend:
        for k in range(1, fourier_pairs + 1):
            names += [f"trend*sin{k}", f"trend*cos{k}"]
    names += [f"control:{c}" for c in controls]
    names += [f"event:{e}" for e in events]
    return names


def _baseline_matrix(frame: pd.DataFrame, terms: dict[str, Any], path: str | None) -> np.ndarray:
    """Columns of the baseline for the weeks of ``frame`` (seasonality and trend from the dates)."""
    origin = pd.Timestamp(terms["origin"])
    idx = pd.DatetimeIndex(frame.index)
    days = np.asarray((idx - origin).days, dtype=float)
    weeks = days / 7.0
    cols = [np.ones(len(frame)), days / 365.25]
    period = float(terms["period_weeks"])
    seasonal = []
    for k in range(1, int(terms["fourier_pairs"]) + 1):
        ang = 2.0 * np.pi * k * weeks / period
        seasonal += [np.sin(ang), np.cos(ang)]
    cols += seasonal
    if terms.get("seasonal_trend"):
        cols += [cols[1] * s for s in seasonal]
    for c in (*terms.get("controls", ()), *terms.get("events", ())):
        if c not in frame.columns:
            raise ModelError(
                f"the model's baseline needs column {c!r}, which the history lacks"
                f"{did_you_mean(c, [str(x) for x in frame.columns])}",
                path=path,
                field=c,
            )
        cols.append(frame[c].to_numpy(dtype=float))
    return np.column_stack(cols)


# ------------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------------
def _check_options(**options: float) -> None:
    """Numeric options of ``fit_model``: integers >= 0 or >= 1, penalties >= 0."""
    at_least_one = {"cv_test_weeks", "sweeps", "block_weeks"}
    for name, value in options.items():
        is_int = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
        if name in ("ridge", "baseline_ridge", "shape_prior", "pool_marginal"):
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0
            want = "a number >= 0"
        else:
            low = 1 if name in at_least_one else 0
            ok = is_int and value >= low
            want = f"an int >= {low}"
        if not ok or (isinstance(value, float) and not math.isfinite(value)):
            raise ValueError(
                f"The {name!r} parameter of fit_model must be {want}. Got {value!r} instead."
            )


def _resolve_kpi(history: History, kpi: str | None) -> KpiSpec:
    specs = history.journey.all_kpis
    if kpi is None:
        return specs[0]
    for k in specs:
        if kpi in (k.id, k.column):
            return k
    ids = [k.id for k in specs]
    raise ModelError(
        f"the journey has no KPI {kpi!r}{did_you_mean(kpi, ids)}; KPIs are: {', '.join(ids)}",
        path=history.journey.source,
        field="kpi",
    )


def _components(labels: list[str], edges: list[tuple[int, int]]) -> list[list[int]]:
    parent = list(range(len(labels)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in edges:
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    groups: dict[int, list[int]] = {}
    for i in range(len(labels)):
        groups.setdefault(root(i), []).append(i)
    return [g for g in groups.values() if len(g) > 1]


def _spend_problem(x: np.ndarray, n_train: int, holdout: int) -> str | None:
    """Why a touchpoint's weekly spend ``x`` cannot identify its curve (None when it can)."""
    weeks_on = int((x > 0).sum())
    mean = float(x.mean())
    cv = float(x.std() / mean) if mean > 0 else 0.0
    if weeks_on == 0:
        return "no spend in any week of the history"
    if weeks_on < 3:
        return f"spend in only {weeks_on} week(s) of the history"
    if cv < MIN_SPEND_CV:
        return (
            f"weekly spend barely varies (coefficient of variation {cv:.2%}): its effect "
            "cannot be told apart from the baseline"
        )
    if holdout and float(x[:n_train].std()) == 0.0:
        return f"spend does not vary before the last {holdout} weeks (the holdout)"
    return None


def _fmt(x: float) -> str:
    return f"{x:,.4g}" if abs(x) < 1e4 else f"{x:,.0f}"
