"""A new touchpoint with no history: a prior curve, carried as wide uncertainty.

A touchpoint of ``model.json`` may give a ``prior`` instead of a fitted ``curve``::

    "podcasts": {"stage": "consideration",
                 "prior": {"like": "search", "roi_range": [0.5, 2.0]}}

* ``like``: an analogue touchpoint of the same model; the prior takes its curve's shape (family,
  half-saturation or scale, adstock) and rescales its height. Without ``like``, give
  ``half_saturation`` (weekly adstocked spend at half the effect): a Hill curve of shape 1.
* ``roi_range`` ``[low, high]``: the ROI (KPI per unit of spend) the touchpoint may have at the
  reference weekly spend, from the pessimistic to the optimistic case. The point curve is the
  geometric middle ``sqrt(low · high)``.
* ``reference_spend``: the weekly spend that ROI is at; default the analogue's mean weekly spend
  (its ``spend_range.mean``), or ``half_saturation`` without an analogue.
* ``draws``: how many draws span the range; default the model's own draw count, else 20.

The draws are the point curve scaled by factors evenly spread (in log) over the ROI range, in a
fixed shuffled order (the same file gives the same draws, bit for bit): ``optimize --uncertainty``
and ``--robust mean`` then carry the range into the plan, and the value of information prices a
lift test on it. The touchpoint's ``spend_range`` is all zero (no spend ever seen), so every plan
that funds it warns that its curve has no data, and outputs flag it ``untested``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from optimizer.errors import ModelError
from optimizer.io.files import short_repr

PRIOR_KEYS = {"like", "roi_range", "reference_spend", "half_saturation", "draws"}
DEFAULT_DRAWS = 20
#: the fixed order in which the draws' scale factors are dealt (decorrelated from draw index)
_SEED = 17


def _positive(v: Any, path: str | None, field: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
        raise ModelError(f"expected a positive number, got {short_repr(v)}", path=path, field=field)
    return float(v)


def prior_touchpoint(
    tid: str,
    td: Mapping[str, Any],
    built: Mapping[str, Any],
    model_draws: int,
    path: str | None,
) -> Any:
    """The ``TouchpointResponse`` of a touchpoint given by a ``prior`` (see the module docstring);
    ``built`` holds the model's other touchpoints (for ``like``)."""
    from optimizer.response.model import Saturation, TouchpointResponse

    where = f"touchpoints.{tid}.prior"
    spec = td["prior"]
    if not isinstance(spec, Mapping):
        raise ModelError(f"expected a mapping, got {short_repr(spec)}", path=path, field=where)
    unknown = sorted(set(spec) - PRIOR_KEYS)
    if unknown:
        raise ModelError(
            f"unknown key '{unknown[0]}'; a prior takes {', '.join(sorted(PRIOR_KEYS))}",
            path=path,
            field=f"{where}.{unknown[0]}",
        )
    rr = spec.get("roi_range")
    if not isinstance(rr, (list, tuple)) or len(rr) != 2:
        raise ModelError(
            f"expected [low, high], the ROI range at the reference spend, got {short_repr(rr)}",
            path=path,
            field=f"{where}.roi_range",
        )
    low = _positive(rr[0], path, f"{where}.roi_range[0]")
    high = _positive(rr[1], path, f"{where}.roi_range[1]")
    if high < low:
        raise ModelError(
            f"the low end ({low:g}) is above the high end ({high:g})",
            path=path,
            field=f"{where}.roi_range",
        )
    like = spec.get("like")
    adstock = None
    if like is not None:
        analogue = built.get(str(like))
        if analogue is None:
            raise ModelError(
                f"unknown analogue touchpoint {short_repr(like)}: 'like' names a fitted "
                f"touchpoint of this model ({', '.join(sorted(built)) or 'none yet'})",
                path=path,
                field=f"{where}.like",
            )
        base_curve, adstock = analogue.curve, analogue.adstock
        ref = spec.get("reference_spend")
        if ref is None:
            ref = (analogue.spend_range or {}).get("mean")
        if ref is None or ref <= 0:
            raise ModelError(
                f"the analogue '{like}' has no mean weekly spend: give 'reference_spend'",
                path=path,
                field=f"{where}.reference_spend",
            )
    else:
        if "half_saturation" not in spec:
            raise ModelError(
                "give 'like' (an analogue touchpoint) or 'half_saturation' (the weekly spend at "
                "half the effect)",
                path=path,
                field=where,
            )
        k = _positive(spec["half_saturation"], path, f"{where}.half_saturation")
        base_curve = Saturation("hill", {"beta": 1.0, "half_saturation": k, "shape": 1.0})
        ref = spec.get("reference_spend", k)
    ref = _positive(ref, path, f"{where}.reference_spend")
    factor = 1.0 if adstock is None else adstock.steady_factor
    base_roi = float(base_curve(factor * ref)) / ref
    if not base_roi > 0:
        raise ModelError(
            f"the analogue's curve returns nothing at {ref:,.0f} a week", path=path, field=where
        )
    mid = math.sqrt(low * high)
    n = spec.get("draws", model_draws or DEFAULT_DRAWS)
    if isinstance(n, bool) or not isinstance(n, int) or not 2 <= n <= 1000:
        raise ModelError(
            f"expected a whole number of draws from 2 to 1000, got {short_repr(n)}",
            path=path,
            field=f"{where}.draws",
        )

    def scaled(roi: float) -> Saturation:
        params = dict(base_curve.params)
        params["beta"] = float(params["beta"]) * roi / base_roi
        return Saturation(base_curve.family, params)

    q = (np.arange(n) + 0.5) / n
    rois = np.exp(math.log(low) + q * (math.log(high) - math.log(low)))
    rois = rois[np.random.default_rng(_SEED).permutation(n)]
    draws = tuple((scaled(float(r)), adstock) for r in rois)
    from optimizer.response.model import _owner

    return TouchpointResponse(
        id=tid,
        stage=str(td["stage"]),
        curve=scaled(mid),
        adstock=adstock,
        spend_range={"min": 0.0, "max": 0.0, "mean": 0.0, "recent": 0.0},
        draws=draws,
        owner=_owner(td.get("owner"), path, f"touchpoints.{tid}.owner"),
        prior={
            **({"like": str(like)} if like is not None else {}),
            "roi_range": [low, high],
            "reference_spend": ref,
            "draws": n,
            **({"half_saturation": spec["half_saturation"]} if like is None else {}),
        },
    )


def with_priors(model: Any, specs: Any) -> Any:
    """``model`` (a fitted ``ResponseModel``) with the journey's untested touchpoints (``specs``:
    ``TouchpointSpec`` with a ``prior``) added, each made from its prior as ``model.json``'s
    reader makes it (the draws as many as the fitted model's)."""
    import dataclasses

    if not specs:
        return model
    counts = [len(tp.draws) for tp in model.touchpoints.values() if tp.draws]
    fitted = dict(model.touchpoints)
    out = dict(model.touchpoints)
    for t in specs:
        td = {"stage": t.stage, "prior": dict(t.prior), **({"owner": t.owner} if t.owner else {})}
        out[t.id] = prior_touchpoint(t.id, td, fitted, min(counts) if counts else 0, None)
    return dataclasses.replace(model, touchpoints=out)
