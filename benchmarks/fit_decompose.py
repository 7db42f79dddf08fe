"""Which component of the MAP fit drives the plans' remaining loss? Swap in the truth one
component at a time and see how much of the gap to the true-transform reference each recovers.

Run from the project root (a benchmark: slow, seeded, prints a table; ``nice -n 10`` on a shared
machine)::

    .venv/bin/python benchmarks/fit_decompose.py --regime high --touchpoints 15
    .venv/bin/python benchmarks/fit_decompose.py --regime low --touchpoints 8 --worlds 5
    .venv/bin/python benchmarks/fit_decompose.py --regime low --touchpoints 8 --only rw8-s3-saturated

Variants (every one is ``fit_model`` with the defaults unless named, the same worlds and seeds as
``fit_recovery.py``; the plan is the 13-week budget-only plan at the historical mean budget on the
point curves, valued on the true curves):

- ``fit``: the default fit;
- ``decay``: each touchpoint's adstock decay known (the MAP's transform pinned at the truth, and
  its prior made a point mass there, so the Laplace draws are conditional on it);
- ``half``: each touchpoint's half-saturation point known (relative to its mean adstocked spend:
  the family-free parameter the fit shares across families), as above;
- ``family``: each touchpoint's true family, its transforms fitted (no family choice);
- ``transforms``: family, decay, half-saturation and hill shape all known: what the fit's betas,
  pooling and posterior-mean point curves make of the true transforms (compare with ``oracle``);
- ``level``: the fitted curves rescaled so each touchpoint's steady-state weekly KPI at its mean
  weekly spend is the truth's (the true effect size at the spend seen, the fitted shape);
- ``seasonal``: the baseline's seasonality form forced to the truth's (scaled by the level in the
  high-information worlds, additive in the low ones);
- ``nopool``: no pooling of marginal ROIs (weight 0); ``pool3``: the evidence's pooling weight
  times 3 (9 times the pooling rows' weight); ``pool0.3``: times 0.3;
- ``map``: the MAP point curves instead of the posterior-mean ones (``point="map"``);
- ``oracle``: the true transforms with least-squares betas; ``bayes``: the same transforms and the
  plan for the expected KPI over the betas' least-squares law (``_fit_measure.oracle_model``).

``--variants`` picks some; ``--fit-option NAME=JSON`` passes an option to every fit (a candidate
default measured against the others in the same run). Output: per world the capture and
``(plan - historical mix) / KPI`` of every variant, then per variant the pooled capture, the
worlds below the historical mix by more than 0.5% of the KPI, and the share of the gap between
``fit`` and ``oracle`` (and ``bayes``) it closes. ``--json FILE`` writes the per-world numbers.
``--bic-check`` only prints, per world, whether the baseline's seasonality x level wins the BIC
with the true media contributions as the media columns.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _fit_cases import SEED, Case, regime_cases  # noqa: E402
from _fit_measure import ORACLE_DRAWS, Regret, decision_regret, oracle_model  # noqa: E402
from _regimes import HARM, pooled_capture  # noqa: E402

from optimizer.response import estimator as E  # noqa: E402
from optimizer.response import joint as J  # noqa: E402
from optimizer.response import mapfit as MF  # noqa: E402
from optimizer.response.design import CurveShape  # noqa: E402
from optimizer.response.fit import fit_model  # noqa: E402
from optimizer.response.model import ResponseModel  # noqa: E402

VARIANTS = (
    "fit",
    "decay",
    "half",
    "family",
    "transforms",
    "level",
    "seasonal",
    "nopool",
    "pool3",
    "pool0.3",
    "map",
    "oracle",
    "bayes",
)
PIN_SD = 1e-4  # prior sd of a transform the variant knows (a point mass, in effect)
PIN_WIDTH = 1e-7  # half width of its bounds


# ------------------------------------------------------------------------------------------------
# the truth in the fit's own parameters
# ------------------------------------------------------------------------------------------------
def true_transforms(case: Case) -> dict[bytes, tuple[str, np.ndarray]]:
    """Per touchpoint (keyed by its spend column's bytes, as the fit sees it): its true family
    and transforms ``(decay, log half point / mean adstocked spend[, log shape])``."""
    out: dict[bytes, tuple[str, np.ndarray]] = {}
    frame = case.history.frame
    for tid, tp in case.truth.touchpoints.items():
        x = frame[tid].to_numpy(dtype=float)
        ad = tp.adstock
        a = x if ad is None else ad.transform(x)
        m = float(a.mean())
        p = tp.curve.params
        fam = tp.curve.family
        if fam == "hill":
            half = p["half_saturation"]
        elif fam == "exponential":
            half = p["scale"] * J.LN2
        else:
            half = J.LN3 / p["lam"]
        th = [0.0 if ad is None else float(ad.decay), math.log(half / m)]
        if fam == "hill":
            th.append(math.log(p["shape"]))
        out[np.ascontiguousarray(x).tobytes()] = (fam, np.array(th))
    return out


class _Pins:
    """Which transforms are known (indices into ``(decay, log half, log shape)``), and whether the
    family is, for the world being fitted."""

    truth: dict[bytes, tuple[str, np.ndarray]] = {}
    pinned: tuple[int, ...] = ()
    family: bool = False
    pool_scale: float | None = None

    @classmethod
    def known(cls, tp: J.Tp) -> tuple[str, np.ndarray] | None:
        return cls.truth.get(np.ascontiguousarray(tp.x).tobytes())

    @classmethod
    def pins(cls, tp: J.Tp) -> list[tuple[int, float]]:
        t = cls.known(tp)
        if t is None:
            return []
        fam, th = t
        return [(q, float(th[q])) for q in cls.pinned if q < tp.k and q < th.size]


_ORIG = {
    "bounds": J.bounds,
    "_prior": J._prior,
    "pooling_weight": J.pooling_weight,
    "map_fit": MF.map_fit,
    "grid_search": E.grid_search,
}


def _bounds(p: J.Problem, j: int) -> tuple[list[float], list[float]]:
    lo, hi = _ORIG["bounds"](p, j)
    for q, v in _Pins.pins(p.tps[j]):
        lo[q], hi[q] = v - PIN_WIDTH, v + PIN_WIDTH
    return lo, hi


def _prior(p: J.Problem, theta: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    vals, ders = _ORIG["_prior"](p, theta)
    c = math.sqrt(p.prior_weight) * p.sigma
    at = 0
    for tp, th in zip(p.tps, theta, strict=True):
        for q, v in _Pins.pins(tp):
            vals[at + q] = c * (float(th[q]) - v) / PIN_SD
            ders[at + q] = c / PIN_SD
        at += tp.k
    return vals, ders


def _pooling_weight(
    p: J.Problem, theta: Sequence[np.ndarray], *a: Any
) -> tuple[float, dict[str, float]]:
    om, eb = _ORIG["pooling_weight"](p, theta, *a)
    if _Pins.pool_scale is not None:
        om *= _Pins.pool_scale
        eb = {**eb, "omega": om}
    return om, eb


def _start_of(fam: str, th: np.ndarray) -> CurveShape:
    """A grid-style start (``CurveShape``) whose ``mapfit.theta_of`` is ``(fam, th)``."""
    half = math.exp(float(th[1]))
    own = {"hill": half, "exponential": half / J.LN2, "logistic": half / J.LN3}[fam]
    shape = math.exp(float(th[2])) if fam == "hill" and th.size > 2 else 1.0
    return CurveShape(float(th[0]), fam, own, shape)


def _map_fit(data: Any, starts: Sequence[CurveShape], *a: Any, **kw: Any) -> Any:
    if _Pins.family and kw.get("warm") is None:
        new = []
        for x, s in zip(data.xs, starts, strict=True):
            t = _Pins.truth.get(np.ascontiguousarray(x).tobytes())
            if t is None:
                new.append(s)
                continue
            fam, th_true = t
            f0, th0 = MF.theta_of(s)
            th = MF.convert(th0, f0, fam)
            if _Pins.pinned:  # start at the truth
                th = th_true.copy()
            new.append(_start_of(fam, th))
        starts = new
        kw["choose_family"] = False
    return _ORIG["map_fit"](data, starts, *a, **kw)


_GRID_MEMO: dict[bytes, Any] = {}


def _grid_search(d: Any, **kw: Any) -> Any:
    """The grid search (the MAP fit's first start), memoised over the variants of a world."""
    key = b"".join(np.ascontiguousarray(v).tobytes() for v in (d.y, d.Z, d.X))
    if key not in _GRID_MEMO:
        _GRID_MEMO[key] = _ORIG["grid_search"](d, **kw)
    return _GRID_MEMO[key]


@contextlib.contextmanager
def swapped(
    case: Case,
    pinned: tuple[int, ...] = (),
    family: bool = False,
    pool_scale: float | None = None,
) -> Iterator[None]:
    _Pins.truth = true_transforms(case)
    _Pins.pinned, _Pins.family, _Pins.pool_scale = pinned, family, pool_scale
    J.bounds = _bounds  # type: ignore[assignment]
    J._prior = _prior  # type: ignore[assignment]
    J.pooling_weight = _pooling_weight  # type: ignore[assignment]
    MF.map_fit = _map_fit  # type: ignore[assignment]
    J._CACHE.clear()
    try:
        yield
    finally:
        J.bounds = _ORIG["bounds"]  # type: ignore[assignment]
        J._prior = _ORIG["_prior"]  # type: ignore[assignment]
        J.pooling_weight = _ORIG["pooling_weight"]  # type: ignore[assignment]
        MF.map_fit = _ORIG["map_fit"]  # type: ignore[assignment]
        _Pins.truth, _Pins.pinned, _Pins.family, _Pins.pool_scale = {}, (), False, None
        J._CACHE.clear()


def at_true_level(model: ResponseModel, case: Case) -> ResponseModel:
    """Each fitted curve (and its draws) rescaled so its steady-state weekly KPI at the mean
    weekly spend is the truth's: the fitted shape with the true effect size where it was seen."""
    spend = case.history.spend
    tps = {}
    for tid, tp in model.touchpoints.items():
        x = float(spend[tid].mean())
        f = float(tp.weekly_kpi(x))
        t = float(case.truth.touchpoints[tid].weekly_kpi(x))
        k = t / f if f > 0 else 1.0
        if f <= 0:  # a flat fitted curve: no shape to rescale; keep it
            tps[tid] = tp
            continue
        curve = replace(tp.curve, params={**tp.curve.params, "beta": tp.curve.beta * k})
        tps[tid] = replace(tp, curve=curve, draws=())
    return replace(model, touchpoints=tps)


def run_variant(case: Case, name: str, options: dict[str, Any]) -> Regret:
    opts: dict[str, Any] = {"seed": SEED, "n_bootstrap": 0, **options}
    if name == "oracle":
        return decision_regret(case, oracle_model(case))
    if name == "bayes":
        return decision_regret(case, oracle_model(case, ORACLE_DRAWS), robust=True)
    if name == "seasonal":
        opts["seasonal_trend"] = case.regime == "high"
    if name == "map":
        opts["point"] = "map"
    swaps: dict[str, dict[str, Any]] = {
        "decay": {"pinned": (0,)},
        "half": {"pinned": (1,)},
        "family": {"family": True},
        "transforms": {"pinned": (0, 1, 2), "family": True},
        "nopool": {"pool_scale": 0.0},
        "pool3": {"pool_scale": 3.0},
        "pool0.3": {"pool_scale": 0.3},
    }
    with swapped(case, **swaps.get(name, {})):
        model = fit_model(case.history, **opts)
    if name == "level":
        model = at_true_level(model, case)
    return decision_regret(case, model)


def seasonal_bic_at_truth(case: Case) -> float:
    """BIC of the additive baseline minus that of seasonality x level, with the TRUE media
    contributions as the media columns (training weeks, as the fit's own choice): positive when
    the data prefer the seasonality scaled by the level even with the media known."""
    from optimizer.response import prepare as P

    frame, journey = case.history.frame, case.history.journey
    terms = {
        "origin": frame.index[0].date().isoformat(),
        "period_weeks": P.PERIOD_WEEKS,
        "fourier_pairs": 3,
        "controls": list(journey.controls),
        "events": list(journey.events),
    }
    Z = P._baseline_matrix(frame, terms, None)
    Zs = P._baseline_matrix(frame, {**terms, "seasonal_trend": True}, None)
    M = np.column_stack([case.true_contrib[t].to_numpy() for t in case.truth.touchpoints])
    y = frame[journey.kpi].to_numpy(dtype=float)
    tr = np.arange(len(y) - 13)
    return P._bic_of(Z[tr], M[tr], y[tr], 0.0, 0.001) - P._bic_of(Zs[tr], M[tr], y[tr], 0.0, 0.001)


def _vs_hist(g: Regret) -> float:
    return (g.fitted - g.historical) / g.kpi_total


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--regime", choices=("low", "high"), default="high")
    ap.add_argument("--touchpoints", type=int, choices=(8, 15), default=8)
    ap.add_argument("--worlds", type=int, default=0, help="the first N worlds only (0: all)")
    ap.add_argument("--only", nargs="*", default=(), help="worlds by name")
    ap.add_argument("--variants", nargs="*", default=VARIANTS, choices=VARIANTS)
    ap.add_argument("--fit-option", action="append", default=[], metavar="NAME=JSON")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument(
        "--bic-check",
        action="store_true",
        help="only print, per world, BIC(additive) - BIC(seasonality x level) at the true media",
    )
    args = ap.parse_args(argv)
    options: dict[str, Any] = {}
    for item in args.fit_option:
        k, v = item.split("=", 1)
        options[k] = json.loads(v)
    E.grid_search = _grid_search  # type: ignore[assignment]
    say: Callable[[str], None] = lambda s: print(s, flush=True)  # noqa: E731
    with tempfile.TemporaryDirectory() as tmp:
        cases = regime_cases(args.regime, args.touchpoints, False, Path(tmp))
        if args.only:
            cases = [c for c in cases if c.name in args.only]
        if args.worlds:
            cases = cases[: args.worlds]
        if args.bic_check:
            diffs = [seasonal_bic_at_truth(c) for c in cases]
            for c, v in zip(cases, diffs, strict=True):
                say(f"{c.name:24s} BIC additive - BIC seasonality x level: {v:+.1f}")
            say(f"seasonality x level preferred in {sum(v > 0 for v in diffs)} of {len(diffs)}")
            return 0
        say(
            f"fit_decompose: {args.regime} information, {args.touchpoints} tp, "
            f"{len(cases)} worlds; options {options or 'defaults'}"
        )
        results: dict[str, dict[str, Regret]] = {}
        per_world: list[dict[str, Any]] = []
        for case in cases:
            t0 = time.perf_counter()
            results[case.name] = {}
            row: dict[str, Any] = {"world": case.name}
            for v in args.variants:
                g = run_variant(case, v, options)
                results[case.name][v] = g
                row[v] = {"captured": g.captured, "vs_hist": _vs_hist(g)}
            per_world.append(row)
            say(
                f"{case.name:24s} ({time.perf_counter() - t0:5.1f} s) "
                + "  ".join(
                    f"{v} {100 * _vs_hist(results[case.name][v]):+.2f}%" for v in args.variants
                )
            )
            _GRID_MEMO.clear()
        say("")
        say("vs_hist: (plan - historical mix) / KPI over 13 weeks; pooled: share of the uplift")
        say(
            "| variant | pooled capture | worlds below hist. by > 0.5% KPI (worst) | "
            "share of the fit→oracle gap closed | of the fit→Bayes-plan gap |"
        )
        say("|---|---:|---:|---:|---:|")
        pooled = {
            v: pooled_capture(cases, lambda c, v=v: results[c.name][v]) for v in args.variants
        }
        for v in args.variants:
            worst = min(_vs_hist(results[c.name][v]) for c in cases)
            below = sum(_vs_hist(results[c.name][v]) < -HARM for c in cases)
            gaps = []
            for ref in ("oracle", "bayes"):
                gap = ""
                if "fit" in pooled and ref in pooled and pooled[ref] != pooled["fit"]:
                    gap = f"{(pooled[v] - pooled['fit']) / (pooled[ref] - pooled['fit']):+.2f}"
                gaps.append(gap)
            say(
                f"| {v} | {100 * pooled[v]:.1f}% | {below} ({100 * worst:+.2f}%) | "
                f"{gaps[0]} | {gaps[1]} |"
            )
        if args.json:
            args.json.write_text(json.dumps({"options": options, "worlds": per_world}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
