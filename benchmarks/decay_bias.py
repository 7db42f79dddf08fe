"""Is the MAP fit's adstock decay biased, and which term of its objective makes it so?

Run from the project root (a benchmark: seeded, prints tables; ``nice -n 10`` on a shared
machine)::

    .venv/bin/python benchmarks/decay_bias.py --regime high --touchpoints 15 --worlds 6 \\
        --variant base: --variant flatprior:@joint.PRIOR_DECAY_SD=10 --variant pinhalf: --why

Every variant fits every world (``fit_model``, the benchmark's seed, no draws: the decay is the
MAP's, which the point curves keep) and, per touchpoint, compares the fitted decay with the
truth. Per variant it prints, by bucket of the true decay, the number of touchpoints, the mean and
median of ``fitted - true``, the mean absolute error and the share fitted short by more than 0.15.

A variant is ``name:opt=json,...`` as in ``fit_dev.py`` (``@module.NAME=json`` sets a module
constant of ``optimizer.response``); the names ``pinhalf`` (each half-saturation point known),
``pinfamily`` (each family known), ``nopool`` (no pooling of marginal ROIs), ``pinothers``
(every other touchpoint's family and transforms known, one fit per touchpoint, ``fit_alone``)
and ``truebase`` (the KPI with the true baseline taken out and a constant put back: no trend,
seasonality or price effect left for the fit's baseline to trade with the carry-over) swap in
the truth as ``fit_decompose.py`` does; a name that starts with one of them is that swap (e.g.
``pinhalfflat:@joint.PRIOR_DECAY_SD=10``).

``--why``: for every touchpoint of the first variant fitted short by more than 0.15, the MAP
objective (``sigma^2`` times minus twice the log posterior) at the fitted transforms against the
same touchpoint with its decay held at the truth and its other transforms refitted (the other
touchpoints, every beta, the pooled value and the baseline as in the fit), split into its terms:
data, pooling rows, the decay's prior, the other transforms' prior, the stabiliser. A negative
data term with a positive total means the prior (or the pooling) holds the decay short; a
positive data term means the weeks themselves prefer the short decay.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fit_decompose as FD  # noqa: E402
from _fit_cases import SEED, Case, regime_cases  # noqa: E402
from fit_dev import parse_variant  # noqa: E402

from optimizer.data import History  # noqa: E402
from optimizer.response import estimator as E  # noqa: E402
from optimizer.response import joint as J  # noqa: E402
from optimizer.response import mapfit as MF  # noqa: E402
from optimizer.response.fit import fit_model  # noqa: E402

BUCKETS = (0.0, 0.2, 0.4, 0.6, 0.81)
SHORT = 0.15
SWAPS: dict[str, dict[str, Any]] = {
    "pinhalf": {"pinned": (1,)},
    "pinfamily": {"family": True},
    "nopool": {"pool_scale": 0.0},
}


class _Last:
    """The arguments and result of the last all-weeks ``map_fit`` (the fit the model reports)."""

    args: tuple[Any, ...] = ()
    kw: dict[str, Any] = {}
    fit: Any = None


_BOUNDS = J.bounds


def _recording(inner: Any) -> Any:
    """``inner`` (the ``map_fit`` in place: a swap's, or the fit's own), recording its last
    all-weeks call."""

    def rec(*a: Any, **kw: Any) -> Any:
        out = inner(*a, **kw)
        # map_fit(data, starts, families, rows, sigma, ...)
        if kw.get("warm") is not None or len(a[3]) == a[0].y.size:  # the all-weeks fit
            _Last.args, _Last.kw, _Last.fit = a, kw, out
        return out

    return rec


@contextmanager
def constants(consts: dict[str, Any]) -> Iterator[None]:
    saved = []
    for name, v in consts.items():
        mod, _, attr = name.rpartition(".")
        m = importlib.import_module(f"optimizer.response.{mod}")
        saved.append((m, attr, getattr(m, attr)))
        setattr(m, attr, v)
    try:
        yield
    finally:
        for m, attr, v in saved:
            setattr(m, attr, v)


def without_baseline(case: Case) -> History:
    """The case's history with its baseline movement (trend, seasonality, price effect) taken
    out: the KPI minus the true media contributions is regressed on the fit's own baseline terms
    (trend, 3 Fourier pairs, the same scaled by the level, controls); the residual (the noise,
    nearly) plus its mean plus the true media is the new KPI."""
    from optimizer.response import prepare as P

    h = case.history
    frame, journey = h.frame.copy(), h.journey
    terms = {
        "origin": frame.index[0].date().isoformat(),
        "period_weeks": P.PERIOD_WEEKS,
        "fourier_pairs": 3,
        "controls": list(journey.controls),
        "events": list(journey.events),
        "seasonal_trend": True,
    }
    Z = P._baseline_matrix(frame, terms, None)
    media = sum(case.true_contrib[t].to_numpy(dtype=float) for t in case.truth.touchpoints)
    y = frame[journey.kpi].to_numpy(dtype=float)
    rest = y - media
    coef, *_ = np.linalg.lstsq(Z, rest, rcond=None)
    frame[journey.kpi] = media + float(rest.mean()) + (rest - Z @ coef)
    return replace(h, frame=frame)


def fit_one(
    case: Case, name: str, opts: dict[str, Any], why_out: list[dict[str, float]] | None = None
) -> dict[str, tuple[float, str]]:
    """Per touchpoint id, the fitted decay and family (``why_out``: ``why``'s rows appended, with
    the variant's constants still set, so the objective is the variant's)."""
    consts = {k[1:]: v for k, v in opts.items() if k.startswith("@")}
    kw = {k: v for k, v in opts.items() if not k.startswith("@")}
    history = without_baseline(case) if name.startswith("truebase") else case.history
    swap = next((v for k, v in SWAPS.items() if name.startswith(k)), {})
    with constants(consts), FD.swapped(case, **swap):
        inner = MF.map_fit
        MF.map_fit = _recording(inner)  # type: ignore[assignment]
        try:
            model = fit_model(history, seed=SEED, n_bootstrap=0, **kw)
        finally:
            MF.map_fit = inner  # type: ignore[assignment]
        out = {}
        for tid, tp in model.touchpoints.items():
            d = 0.0 if tp.adstock is None else float(tp.adstock.decay)
            out[tid] = (d, tp.curve.family)
        if why_out is not None:
            why_out.extend(why(case, out))
    return out


def fit_alone(case: Case, opts: dict[str, Any]) -> dict[str, tuple[float, str]]:
    """Variant ``pinothers``: per touchpoint, a fit with every *other* touchpoint's family and
    transforms known (pinned at the truth) and this one's family known, its transforms free from
    the prior's centre: what the joint fit makes of one decay when the others cannot trade with
    it (one fit per touchpoint)."""
    consts = {k[1:]: v for k, v in opts.items() if k.startswith("@")}
    kw = {k: v for k, v in opts.items() if not k.startswith("@")}
    truth = FD.true_transforms(case)
    orig_pins = FD._Pins.pins.__func__  # type: ignore[attr-defined]
    out: dict[str, tuple[float, str]] = {}
    for tid in case.truth.touchpoints:
        key = np.ascontiguousarray(case.history.frame[tid].to_numpy(float)).tobytes()
        fam = truth[key][0]

        def pins(cls: Any, tp: J.Tp, key: bytes = key) -> list[tuple[int, float]]:
            if np.ascontiguousarray(tp.x).tobytes() == key:
                return []
            return list(orig_pins(cls, tp))

        with constants(consts), FD.swapped(case, pinned=(0, 1, 2), family=True):
            FD._Pins.truth = {**truth, key: (fam, MF.default_theta(fam))}  # its start
            FD._Pins.pins = classmethod(pins)  # type: ignore[assignment,method-assign]
            try:
                model = fit_model(case.history, seed=SEED, n_bootstrap=0, **kw)
            finally:
                FD._Pins.pins = classmethod(orig_pins)  # type: ignore[assignment,method-assign]
        tp = model.touchpoints[tid]
        out[tid] = (0.0 if tp.adstock is None else float(tp.adstock.decay), tp.curve.family)
    return out


def terms(p: J.Problem, theta: Sequence[np.ndarray], j: int) -> dict[str, float]:
    """The MAP objective's terms at ``theta`` (in units of sigma^2); ``j``'s prior apart."""
    inner = J.solve_inner(p, theta)
    r = inner.r
    n0 = inner.n_data
    npool = inner.pool_rows.size
    ntest = len(p.test_rows())
    pr, _ = J._prior(p, theta)
    at = sum(tp.k for tp in p.tps[:j])
    s2 = p.sigma**2
    return {
        "data": float(r[:n0] @ r[:n0]) / s2,
        "pool": float(r[n0 : n0 + npool] @ r[n0 : n0 + npool]) / s2,
        "tests": float(r[n0 + npool : n0 + npool + ntest] @ r[n0 + npool : n0 + npool + ntest])
        / s2,
        "stab": float(r[n0 + npool + ntest :] @ r[n0 + npool + ntest :]) / s2,
        "prior decay": float(pr[at] ** 2) / s2,
        "prior other": float(pr @ pr - pr[at] ** 2) / s2,
    }


def why(case: Case, fitted: dict[str, tuple[float, str]]) -> list[dict[str, float]]:
    """For each touchpoint fitted short by more than ``SHORT``: the objective's terms at the
    truth's decay (its other transforms refitted) minus at the MAP."""
    from optimizer.response.decay_profile import _profile_point
    from optimizer.response.mapsetup import problem_at_map

    fit = _Last.fit
    p, _ = problem_at_map(fit, _Last.args[0])
    p.omega = fit.omega
    truth = FD.true_transforms(case)
    ids = {np.ascontiguousarray(case.history.frame[t].to_numpy(float)).tobytes(): t for t in fitted}
    out = []
    for j, tp in enumerate(p.tps):
        key = np.ascontiguousarray(tp.x).tobytes()
        if key not in truth or key not in ids:
            continue
        d_true = float(truth[key][1][0])
        d_fit = float(fit.theta[j][0])
        if d_true - d_fit <= SHORT:
            continue
        base = terms(p, fit.theta, j)
        v, _, _, _ = _profile_point(p, fit.theta, j, d_true, np.asarray(fit.theta[j][1:]))
        th = list(fit.theta)
        th[j] = np.concatenate([[d_true], v])
        # refit the others' transforms too, from there (the touchpoint's decay held)

        def pinned(
            q: J.Problem, i: int, jj: int = j, d: float = d_true
        ) -> tuple[list[float], list[float]]:
            lo, hi = _BOUNDS(q, i)
            if i == jj:
                lo[0], hi[0] = d - 1e-7, d + 1e-7
            return lo, hi

        J.bounds = pinned  # type: ignore[assignment]
        try:
            sol = J.fit(p, th, max_nfev=60)
        finally:
            J.bounds = _BOUNDS  # type: ignore[assignment]
        at_true = terms(p, sol.theta, j)
        row = {k: at_true[k] - base[k] for k in base}
        row["total"] = sum(row.values())
        row["d_true"], row["d_fit"] = d_true, d_fit
        row["spend_share"] = float(tp.x.sum()) / float(sum(t.x.sum() for t in p.tps))
        row["beta>0"] = float(fit.beta[j] > 0)
        print(
            f"  why {case.name} {ids[key]} decay fit {d_fit:.2f} true {d_true:.2f} "
            f"share {row['spend_share']:.0%}: "
            + " ".join(f"{k} {row[k]:+.1f}" for k in (*base, "total")),
            flush=True,
        )
        out.append(row)
    return out


def midstream_case(n_touchpoints: int, seed: int, weeks: int, tmp: Path) -> Case:
    """A high-information world whose history starts mid-stream: ``high_world`` simulated over
    ``weeks`` more weeks (the same generator, carry-over from zero at its first week), of which
    the user's history is the last 156 (so its first weeks carry the earlier spend's adstock,
    which the history does not show)."""
    import _high_worlds as HW
    import yaml
    from _fit_cases import _write_history

    from optimizer.data import read_history, read_journey

    saved = HW.N_WEEKS, HW.START
    HW.N_WEEKS = saved[0] + weeks
    HW.START = (pd.Timestamp(saved[1]) - pd.Timedelta(weeks=weeks)).date().isoformat()
    try:
        w = HW.high_world(n_touchpoints, seed)
    finally:
        HW.N_WEEKS, HW.START = saved
    folder = tmp / f"{w.name}-mid{weeks}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "journey.yaml").write_text(yaml.safe_dump(w.journey, sort_keys=False))
    journey = read_journey(folder / "journey.yaml")
    cut = w.history.iloc[weeks:].reset_index(drop=True)
    history = read_history(_write_history(cut, folder / "history.csv"), journey)
    ids = list(w.truth.touchpoints)
    contrib = w.contributions[ids].iloc[weeks:].set_axis(history.frame.index)
    return Case(
        f"{w.name}-mid{weeks}",
        w.settings,
        history,
        w.truth,
        contrib,
        "simulated",
        group="high",
        regime="high",
        touchpoints=n_touchpoints,
    )


#: decays of the ``--oracle`` profile
ORACLE_GRID = np.round(np.arange(0.0, 0.901, 0.025), 3)


def oracle_profile(case: Case, n_touchpoints: int, baseline: str) -> list[tuple[float, float]]:
    """(true, best) decay of every touchpoint of a high-information world when everything but
    that touchpoint is known: the KPI minus the true contributions of the others (and, with
    ``baseline="known"``, minus the true baseline: only an intercept is fitted; ``"fitted"``:
    the fit's own baseline terms are fitted, as in ``without_baseline``), the touchpoint's true
    family, its beta, half point and hill shape fitted by least squares at each decay of
    ``ORACLE_GRID``; the best decay is the grid's least squares one. The likelihood alone, with
    no prior, no pooling and no other touchpoint to trade with."""
    from _high_worlds import high_world
    from scipy.optimize import least_squares

    from optimizer.response import prepare as P

    seed = int(case.name.rsplit("-s", 1)[1])
    w = high_world(n_touchpoints, seed)
    frame = case.history.frame
    y = frame[case.history.journey.kpi].to_numpy(dtype=float)
    contrib = {t: case.true_contrib[t].to_numpy(dtype=float) for t in case.truth.touchpoints}
    if baseline == "known":
        Z = np.ones((y.size, 1))
        y = y - w.contributions["baseline"].to_numpy(dtype=float)
    else:
        terms = {
            "origin": frame.index[0].date().isoformat(),
            "period_weeks": P.PERIOD_WEEKS,
            "fourier_pairs": 3,
            "controls": list(case.history.journey.controls),
            "events": list(case.history.journey.events),
            "seasonal_trend": True,
        }
        Z = P._baseline_matrix(frame, terms, None)
    Q = np.linalg.qr(Z)[0]
    truth = FD.true_transforms(case)
    out = []
    for tid in case.truth.touchpoints:
        x = frame[tid].to_numpy(dtype=float)
        fam, th_true = truth[np.ascontiguousarray(x).tobytes()]
        yj = y - sum(v for k, v in contrib.items() if k != tid)
        yr = yj - Q @ (Q.T @ yj)

        def sse(
            v: np.ndarray, d: float, fam: str = fam, x: np.ndarray = x, yr: np.ndarray = yr
        ) -> np.ndarray:
            col = J.columns([J.Tp(x, fam)], [np.concatenate([[d], v])]).M[:, 0]
            c = col - Q @ (Q.T @ col)
            b = max(float(c @ yr) / max(float(c @ c), 1e-300), 0.0)
            return np.asarray(yr - b * c)

        best = (np.inf, 0.0)
        v0 = np.asarray(th_true[1:], dtype=float)
        lo = [J.LOG_REL_BOUNDS[0]] + ([J.LOG_SHAPE_BOUNDS_S[0]] if fam == "hill" else [])
        hi = [J.LOG_REL_BOUNDS[1]] + ([J.LOG_SHAPE_BOUNDS_S[1]] if fam == "hill" else [])
        for d in ORACLE_GRID:
            res = least_squares(sse, np.clip(v0, lo, hi), args=(float(d),), bounds=(lo, hi))
            if 2 * res.cost < best[0]:
                best = (2 * float(res.cost), float(d))
        out.append((float(th_true[0]), best[1]))
    return out


def table(rows: Sequence[tuple[float, float]]) -> list[str]:
    """``rows``: (true, fitted) decays."""
    lines = [
        "| true decay | n | mean fitted - true | median | mean abs error | short by > 0.15 |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for lo, hi in zip(BUCKETS[:-1], BUCKETS[1:], strict=True):
        e = np.array([f - t for t, f in rows if lo <= t < hi])
        if not e.size:
            continue
        lines.append(
            f"| {lo:.1f}-{min(hi, 0.8):.1f} | {e.size} | {e.mean():+.3f} | {np.median(e):+.3f} | "
            f"{np.abs(e).mean():.3f} | {np.mean(e < -SHORT):.0%} |"
        )
    e = np.array([f - t for t, f in rows])
    lines.append(
        f"| all | {e.size} | {e.mean():+.3f} | {np.median(e):+.3f} | {np.abs(e).mean():.3f} | "
        f"{np.mean(e < -SHORT):.0%} |"
    )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--regime", choices=("low", "high"), default="high")
    ap.add_argument("--touchpoints", type=int, default=8)
    ap.add_argument("--worlds", type=int, default=0, help="first N worlds only (0: all)")
    ap.add_argument("--only", nargs="*", default=(), help="worlds by name")
    ap.add_argument("--variant", action="append", default=[], help="name:opt=json,...")
    ap.add_argument(
        "--midstream",
        type=int,
        default=0,
        metavar="WEEKS",
        help="high regime: histories that start WEEKS weeks into the simulated spend",
    )
    ap.add_argument("--why", action="store_true", help="split the objective (first variant)")
    ap.add_argument(
        "--oracle",
        choices=("known", "fitted"),
        default=None,
        help="high regime: the likelihood's best decay of each touchpoint, all else known "
        "(the baseline known, or fitted by the fit's terms); no fits",
    )
    args = ap.parse_args(argv)
    variants = [parse_variant(v) for v in (args.variant or ["base:"])]
    E.grid_search = FD._grid_search  # type: ignore[assignment]  # memoised over the variants
    rows: dict[str, list[tuple[float, float]]] = {v: [] for v, _ in variants}
    whys: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        cases = regime_cases(args.regime, args.touchpoints, False, Path(tmp))
        if args.midstream:
            cases = [
                midstream_case(
                    args.touchpoints, int(c.name.rsplit("-s", 1)[1]), args.midstream, Path(tmp)
                )
                for c in cases
            ]
        if args.only:
            cases = [c for c in cases if c.name in args.only]
        if args.worlds:
            cases = cases[: args.worlds]
        print(f"decay_bias: {args.regime}, {args.touchpoints} tp, {len(cases)} worlds", flush=True)
        if args.oracle:
            allr: list[tuple[float, float]] = []
            for c in cases:
                r = oracle_profile(c, args.touchpoints, args.oracle)
                allr.extend(r)
                print(f"{c.name:22s} bias {np.mean([b - t for t, b in r]):+.3f}", flush=True)
            print(f"\noracle (baseline {args.oracle}): the likelihood's best decay - true")
            print("\n".join(table(allr)))
            return 0
        for c in cases:
            line = [f"{c.name:22s}"]
            for k, (vname, opts) in enumerate(variants):
                if vname.startswith("pinothers"):
                    fitted = fit_alone(c, opts)
                else:
                    fitted = fit_one(c, vname, opts, whys if args.why and k == 0 else None)
                errs = []
                for tid, ttp in c.truth.touchpoints.items():
                    t = 0.0 if ttp.adstock is None else float(ttp.adstock.decay)
                    rows[vname].append((t, fitted[tid][0]))
                    errs.append(fitted[tid][0] - t)
                line.append(f"{vname} bias {np.mean(errs):+.3f}")
            FD._GRID_MEMO.clear()
            print("  ".join(line), flush=True)
    for vname, _ in variants:
        print(
            f"\n{vname}: fitted - true decay, by true decay ({args.regime}, {args.touchpoints} tp)"
        )
        print("\n".join(table(rows[vname])))
    if whys:
        keys = ("data", "pool", "tests", "stab", "prior decay", "prior other", "total")
        print(
            f"\nwhy ({len(whys)} touchpoints fitted short by > {SHORT}): objective at the true "
            "decay minus at the MAP, in units of sigma^2 (negative: the term prefers the truth)"
        )
        print("| term | mean | median | share < 0 |")
        print("|---|---:|---:|---:|")
        for k in keys:
            v = np.array([w[k] for w in whys])
            print(f"| {k} | {v.mean():+.2f} | {np.median(v):+.2f} | {np.mean(v < 0):.0%} |")
        v = np.array([w["total"] for w in whys])
        print(
            f"the truth's decay has a lower objective (a search failure, not the objective) for "
            f"{int(np.sum(v < 0))} of {v.size}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
