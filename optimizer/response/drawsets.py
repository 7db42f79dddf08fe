"""The MAP fit's sets of Laplace draws: the plans', the intervals' and the bands'.

All are Gaussian steps around the point curves (``mapfit.laplace_draws``), from the same seed, read
in different coordinates. The **plan draws** (model.json ``draws``; ``plan_space``, default the
transforms and the betas) are what ``--robust mean``, ``--robust anchored``, ``optimize
--uncertainty`` and every other plan over the draws use. The **interval draws** (model.json
``interval_draws``; ``interval_space`` and ``interval_scale``) are what the printed marginal-ROI
interval is read from (``marginal_roi_interval_80``, the fit table's column). They are written
only when their coordinates differ from the plan draws'. The interval draws do not pin a curve's
level, so every band of a KPI level (the charts' bands, the review's P10-P90, ``roi_interval_80``,
a lift test's ``model_lift_interval_80``) reads the **band draws** under
``pool_draws="intervals"`` where the fit pools: a third set (``roi_set``, model.json
``band_draws`` since 2026-12-07; before, not written and read for ``roi_interval_80`` only), in
the plan draws' coordinates and spread, each draw at its own pooling weight. Elsewhere (and in a
model.json without ``band_draws``) the bands read the plan draws.

A fit with lift tests (a bootstrap of the MAP: its ``draws`` are the refits) draws the bands' and
the intervals' sets here too (``roi_set`` in each set's coordinates), for its untested
touchpoints; its tested ones take the refits (in the interval draws their marginal response at
the mean spend spread x ``uncertainty_inflate`` in the log, their transforms kept; ``mapboot.py``,
``BAND_SPREAD``).

Each interval draw is taken at its own empirical-Bayes pooling weight, drawn from the weight's
posterior (``pool_draws="intervals"``, the default; ``poolpost.py``); the plan draws stay at the
fit's weight (``pool_draws="all"`` moves them too: measured worse for the robust plan).

Why two: drawn in the betas the draws' marginal ROI at the mean spend is biased low and their
80% intervals hold the truth for 69-74% of touchpoints on the simulated worlds; drawn in each
touchpoint's marginal response at its mean spend they hold it for 83-89%, but the curves those
draws imply far from the mean spend are too optimistic to plan on (docs/response-models.md,
"Two draw sets").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from optimizer.response import curves as C
from optimizer.response import joint as J
from optimizer.response import poolpost as PP
from optimizer.response.mapfit import INTERVAL_CENTRE, MapFit, laplace_draws
from optimizer.response.mapsetup import MapData
from optimizer.response.model import Adstock, Saturation

#: One draw of every searched touchpoint: its transforms and the betas.
RawDraws = list[tuple[list[np.ndarray], np.ndarray]]


@dataclass(frozen=True)
class Coordinates:
    """Where a set of Laplace draws is Gaussian: ``space`` "beta" (the transforms and the
    betas), "marginal" (the transforms and each touchpoint's marginal response at its mean spend)
    or "conditional" (the betas re-solved at each draw's transforms); ``scale`` "log": log-normal
    in the marginal response (whatever ``space``, as ``interval_scale="log"`` always was)."""

    space: str = "beta"
    scale: str = "linear"

    def draw_kw(self) -> dict[str, Any]:
        """``mapfit.laplace_draws``'s keyword arguments for these coordinates."""
        kw: dict[str, Any] = {
            "marginal_space": self.space == "marginal",
            "conditional": self.space == "conditional",
            "fixed_transforms": self.space == "fixed",
        }
        if self.scale == "log":
            kw["log_marginal"] = True
        return kw


def coordinates(
    laplace_space: str, plan_space: str | None, interval_space: str | None, interval_scale: str
) -> tuple[Coordinates, Coordinates | None]:
    """The plan draws' coordinates and the interval draws' (None: the same set serves both).
    ``plan_space`` None follows ``laplace_space``; ``interval_space`` None follows the plan draws."""
    plan = Coordinates(plan_space or laplace_space)
    shown = Coordinates(interval_space or plan.space, interval_scale)
    return plan, (None if shown == plan else shown)


def laplace_set(
    fit: MapFit,
    at_map: MapFit,
    mix: Any,
    data: MapData,
    n_draws: int,
    seed: int,
    coords: Coordinates,
    *,
    inflate: float,
    profiles: Sequence[Any],
    temperature: float,
    omegas: np.ndarray | None = None,
) -> tuple[RawDraws, list[list[str]] | None, dict[str, Any]]:
    """``n_draws`` Laplace draws in ``coords`` around the point curves ``fit`` (``at_map``: the MAP
    before ``posterior_mean_point``, where ``mapfit.INTERVAL_CENTRE`` says so), from the family
    mixture ``mix`` where families are averaged, each at its own pooling weight ``omegas``
    (None: the fit's): the draws, each draw's families (None: the point's) and
    ``laplace_draws``'s summary."""
    from optimizer.response.families import Mixture, mixture_draws

    draw_kw: dict[str, Any] = {**coords.draw_kw(), "inflate": inflate}
    if omegas is not None:
        draw_kw["omegas"] = omegas
    if mix is not None:
        # the point curve's family is centred at the point curve (as without averaging), the
        # others at their MAPs
        imix: Mixture = []
        for k, m in enumerate(mix):
            comp = dict(m)
            pf = fit.families[k]
            comp[pf] = (np.asarray(fit.theta[k]), m[pf][1] if pf in m else 0.0)
            imix.append({f: c for f, c in comp.items() if c[1] > 0} or {pf: comp[pf]})
        return mixture_draws(fit, imix, data, n_draws, seed, **draw_kw)
    raw, lap = laplace_draws(
        at_map if INTERVAL_CENTRE == "map" else fit,
        data,
        n_draws,
        seed,
        **draw_kw,
        profiles=profiles,
        temperature=temperature,
    )
    return raw, None, lap


def both_sets(
    fit: MapFit,
    at_map: MapFit,
    mix: Any,
    data: MapData,
    n_draws: int,
    seed: int,
    coords: tuple[Coordinates, Coordinates | None],
    *,
    inflate: float,
    plan_inflate: float | None,
    n_interval_draws: int | None,
    profiles: Sequence[Any],
    pool_draws: str = "none",
) -> tuple[RawDraws, list[list[str]] | None, dict[str, Any], tuple[Any, ...]]:
    """The plan draws (``n_draws`` in ``coords[0]``, spread x ``plan_inflate``, None:
    ``inflate``) and, where their coordinates or spread differ, the interval draws
    (``n_interval_draws``, None: ``n_draws``, in ``coords[1]`` or else the plan draws'
    coordinates, spread x ``inflate``), from the same seed: the plan draws, their families,
    ``laplace_draws``'s summary and the interval draws as (draws, families, coordinates) (empty:
    none). ``pool_draws`` (``poolpost.POOL_DRAWS``): which sets draw each draw's pooling weight
    from its posterior (``poolpost``; the fit's ``omega_grid``, where it has one); "intervals"
    writes interval draws even in the plan draws' coordinates and spread."""
    plan_c, shown_c = coords
    k_plan = inflate if plan_inflate is None else float(plan_inflate)
    has_post = bool(fit.omega_grid)  # nothing pooled: no posterior, the draws as without
    if shown_c is None and (k_plan != inflate or (pool_draws == "intervals" and has_post)):
        shown_c = plan_c

    def one(n: int, c: Coordinates, k: float, pooled: bool) -> tuple[RawDraws, Any, dict[str, Any]]:
        return _drawn(fit, at_map, mix, data, n, seed, c, k, profiles, pooled)

    raw, fams, lap = one(n_draws, plan_c, k_plan, has_post and pool_draws == "all")
    shown: tuple[Any, ...] = ()
    if shown_c is not None:  # the same seed: the same Gaussian steps, read in other coordinates
        n_s = int(n_interval_draws or n_draws)
        s_raw, s_fams, _ = one(n_s, shown_c, inflate, has_post and pool_draws != "none")
        shown = (s_raw, s_fams, shown_c)
    return raw, fams, lap, shown


def roi_set(
    fit: MapFit,
    at_map: MapFit,
    mix: Any,
    data: MapData,
    n_draws: int,
    seed: int,
    plan_c: Coordinates,
    *,
    plan_inflate: float,
    profiles: Sequence[Any],
    pooled: bool = True,
) -> tuple[RawDraws, list[list[str]] | None]:
    """The bands' draws under ``pool_draws="intervals"``: the plan draws' coordinates and
    spread (which pin a curve's level; the interval draws, Gaussian in the marginal response, do
    not: drawn near saturation their level runs to hundreds of times the truth), from the same
    seed, each at its own pooling weight drawn from the weight's posterior (what
    ``pool_draws="all"`` gives the plans). Written as model.json ``band_draws`` and read for every
    band of a KPI level (``roi_interval_80``, the curve bands, the review's P10-P90); the plans
    keep the fit's weight. ``pooled`` False: every draw at the fit's weight (a fit that pools
    nothing has no posterior; ``mapfit``'s bootstrap bands)."""
    raw, fams, _ = _drawn(
        fit, at_map, mix, data, n_draws, seed, plan_c, plan_inflate, profiles, pooled=pooled
    )
    return raw, fams


def _drawn(
    fit: MapFit,
    at_map: MapFit,
    mix: Any,
    data: MapData,
    n: int,
    seed: int,
    c: Coordinates,
    k: float,
    profiles: Sequence[Any],
    pooled: bool,
) -> tuple[RawDraws, list[list[str]] | None, dict[str, Any]]:
    """``laplace_set`` with spread ``k`` (the decay profiles' temperature from it, as
    ``decay_profile.PROFILE_TEMPERATURE`` says) and, if ``pooled``, each draw's pooling weight
    drawn from the weight's posterior: the one way every draw set of the fit is drawn."""
    from optimizer.response import decay_profile as DP

    t = k**2 if DP.PROFILE_TEMPERATURE == "inflate" else float(DP.PROFILE_TEMPERATURE)
    om = PP.draw_omegas(fit.omega_grid, fit.omega_weights, n, seed) if pooled else None
    return laplace_set(
        fit, at_map, mix, data, n, seed, c, inflate=k, profiles=profiles, temperature=t,
        omegas=om,
    )  # fmt: skip


def as_curves(
    raw: RawDraws,
    draw_fams: Sequence[Sequence[str]] | None,
    fit: MapFit,
    searched: Sequence[int],
    X: np.ndarray,
) -> dict[int, list[tuple[Saturation, Adstock]]]:
    """The draws as each searched touchpoint's curves (``X[:, i]``: its spend, which sets the
    draw's mean adstocked spend, the scale of its half-saturation)."""
    out: dict[int, list[tuple[Saturation, Adstock]]] = {}
    for k, i in enumerate(searched):
        out[i] = []
        for b, (th_b, beta_b) in enumerate(raw):
            db = float(th_b[k][0])
            ma = float(C.geometric_adstock(X[:, i], db).mean()) or 1.0
            fb = draw_fams[b][k] if draw_fams is not None else fit.families[k]
            params = {"beta": float(beta_b[k]), **J.family_params(fb, th_b[k], ma)}
            out[i].append((Saturation(fb, params), Adstock(decay=db)))
    return out


def options(
    laplace_space: str,
    plan_space: str | None,
    interval_space: str | None,
    n_interval_draws: int | None,
) -> dict[str, Any]:
    """What ``fit.options`` records of the draw sets: ``plan_space`` where the plan draws leave
    ``laplace_space``, ``interval_space`` where the interval draws leave the plan draws' space, and
    ``n_interval_draws`` where it is set and there are interval draws."""
    plan = plan_space or laplace_space
    shown = interval_space or plan
    out: dict[str, Any] = {}
    if plan != laplace_space:
        out["plan_space"] = plan
    if shown != plan:
        out["interval_space"] = shown
    if n_interval_draws:
        out["n_interval_draws"] = int(n_interval_draws)
    return out


def diagnostics(shown: tuple[Any, ...]) -> dict[str, Any]:
    """``diagnostics.uncertainty.interval_draws`` (how many, in which coordinates) where the fit
    wrote interval draws (``shown``: their raw draws, families and ``Coordinates``)."""
    if not shown:
        return {}
    raw, _, c = shown
    return {"interval_draws": {"n_draws": len(raw), "space": c.space, "scale": c.scale}}
