"""Response-curve math as pure numpy functions.

Conventions (model file contract, docs/file-formats.md):

* adstock carries spend over into later weeks; ``geometric_adstock`` is ``a_t = x_t + decay * a_{t-1}``
  (truncated at ``max_lag`` weeks when given), optionally normalised so the weights sum to one;
* saturation maps adstocked spend ``a`` to the KPI contribution of a week:
  ``hill``: ``beta * a^shape / (a^shape + half_saturation^shape)``;
  ``exponential``: ``beta * (1 - exp(-a / scale))``;
  ``logistic``: ``beta * (1 - exp(-lam a)) / (1 + exp(-lam a))``;
* the *steady-state* weekly response to a steady weekly spend ``x`` is ``curve(steady_factor * x)``
  where ``steady_factor`` is the sum of the adstock weights.

Every function accepts scalars or arrays and returns float arrays (or floats for scalar input).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

ArrayLike = Any


def _as_float(x: ArrayLike) -> np.ndarray:
    return np.asarray(x, dtype=float)


# --------------------------------------------------------------------------------------------
# adstock
# --------------------------------------------------------------------------------------------
def geometric_weights(
    decay: float, max_lag: int | None = None, normalize: bool = False
) -> np.ndarray:
    """Weights ``decay**k`` for lags ``k = 0 .. max_lag - 1`` (``max_lag`` None means until < 1e-9)."""
    if not 0.0 <= decay < 1.0:
        raise ValueError(f"The 'decay' parameter must be in [0, 1). Got {decay!r} instead.")
    if max_lag is None:
        max_lag = 1 if decay == 0 else int(np.ceil(np.log(1e-9) / np.log(decay))) + 1
        max_lag = max(1, min(max_lag, 520))
    w = decay ** np.arange(max_lag, dtype=float)
    if normalize:
        w = w / w.sum()
    return w


def geometric_adstock(
    x: ArrayLike, decay: float, max_lag: int | None = None, normalize: bool = False
) -> np.ndarray:
    """Carry-over of spend ``x`` (time along axis 0): ``sum_k w_k x_{t-k}``.

    With ``max_lag=None`` and ``normalize=False`` this is exactly the recursion
    ``a_t = x_t + decay * a_{t-1}`` with ``a_{-1} = 0``.
    """
    x = _as_float(x)
    if max_lag is None and not normalize:
        out = np.empty_like(x)
        carry = np.zeros(x.shape[1:]) if x.ndim > 1 else 0.0
        for t in range(x.shape[0]):
            carry = x[t] + decay * carry
            out[t] = carry
        return out
    w = geometric_weights(decay, max_lag, normalize)
    out = np.zeros_like(x)
    for k, wk in enumerate(w):
        if k >= x.shape[0]:
            break
        if k == 0:
            out += wk * x
        else:
            out[k:] += wk * x[:-k]
    return out


def geometric_steady_factor(
    decay: float, max_lag: int | None = None, normalize: bool = False
) -> float:
    """Steady-state adstock per unit of steady weekly spend: the sum of the weights."""
    if normalize:
        return 1.0
    if max_lag is None:
        return 1.0 / (1.0 - decay)
    return float(geometric_weights(decay, max_lag, False).sum())


# --------------------------------------------------------------------------------------------
# saturation: value, first and second derivative in the adstocked spend a >= 0
# --------------------------------------------------------------------------------------------
def hill(a: ArrayLike, beta: float, half_saturation: float, shape: float) -> np.ndarray:
    a = np.maximum(_as_float(a), 0.0)
    r = (a / half_saturation) ** shape
    return beta * r / (1.0 + r)


def hill_derivative(a: ArrayLike, beta: float, half_saturation: float, shape: float) -> np.ndarray:
    a = np.maximum(_as_float(a), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = (a / half_saturation) ** shape
        d = beta * shape * r / (a * (1.0 + r) ** 2)
    # limit at a = 0: infinite for shape < 1, beta/K for shape == 1, zero for shape > 1
    shape_ = np.asarray(shape, dtype=float)
    at0 = np.where(
        shape_ < 1, np.inf, np.where(shape_ == 1, np.asarray(beta) / half_saturation, 0.0)
    )
    return np.where(a > 0, d, at0)


def hill_second_derivative(
    a: ArrayLike, beta: float, half_saturation: float, shape: float
) -> np.ndarray:
    a = np.maximum(_as_float(a), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = (a / half_saturation) ** shape
        d2 = beta * shape * r * ((shape - 1.0) - (shape + 1.0) * r) / (a**2 * (1.0 + r) ** 3)
    shape_ = np.asarray(shape, dtype=float)
    at0 = np.where(shape_ <= 1, -np.inf, np.where(shape_ < 2, np.inf, 0.0))
    return np.where(a > 0, d2, at0)


def exponential(a: ArrayLike, beta: float, scale: float) -> np.ndarray:
    a = np.maximum(_as_float(a), 0.0)
    return beta * -np.expm1(-a / scale)


def exponential_derivative(a: ArrayLike, beta: float, scale: float) -> np.ndarray:
    a = np.maximum(_as_float(a), 0.0)
    return beta / scale * np.exp(-a / scale)


def exponential_second_derivative(a: ArrayLike, beta: float, scale: float) -> np.ndarray:
    a = np.maximum(_as_float(a), 0.0)
    return -beta / scale**2 * np.exp(-a / scale)


def logistic(a: ArrayLike, beta: float, lam: float) -> np.ndarray:
    """PyMC-Marketing's logistic saturation, ``beta * tanh(lam * a / 2)``."""
    a = np.maximum(_as_float(a), 0.0)
    return beta * np.tanh(lam * a / 2.0)


def logistic_derivative(a: ArrayLike, beta: float, lam: float) -> np.ndarray:
    # sech²(u/2) = 4 e^{-u} / (1 + e^{-u})²: no cancellation deep in saturation (1 - tanh² loses
    # every digit there) and no overflow (e^{-u} <= 1 for u = lam·a >= 0)
    a = np.maximum(_as_float(a), 0.0)
    e = np.exp(-lam * a)
    return 2.0 * beta * lam * e / (1.0 + e) ** 2


def logistic_second_derivative(a: ArrayLike, beta: float, lam: float) -> np.ndarray:
    a = np.maximum(_as_float(a), 0.0)
    e = np.exp(-lam * a)
    return 2.0 * beta * lam**2 * e * (e - 1.0) / (1.0 + e) ** 3


_Fn = Callable[..., np.ndarray]
SATURATION: dict[str, tuple[_Fn, _Fn, _Fn, tuple[str, ...]]] = {
    "hill": (hill, hill_derivative, hill_second_derivative, ("beta", "half_saturation", "shape")),
    "exponential": (
        exponential,
        exponential_derivative,
        exponential_second_derivative,
        ("beta", "scale"),
    ),
    "logistic": (logistic, logistic_derivative, logistic_second_derivative, ("beta", "lam")),
}


def saturation(family: str, a: ArrayLike, params: dict[str, float]) -> np.ndarray:
    f = SATURATION[family][0]
    return f(a, **params)


def saturation_derivative(family: str, a: ArrayLike, params: dict[str, float]) -> np.ndarray:
    f = SATURATION[family][1]
    return f(a, **params)


def saturation_second_derivative(family: str, a: ArrayLike, params: dict[str, float]) -> np.ndarray:
    f = SATURATION[family][2]
    return f(a, **params)


def is_concave(family: str, params: dict[str, float]) -> bool:
    """True when the curve is concave on [0, inf): hill with shape <= 1, exponential, logistic."""
    if family == "hill":
        return params["shape"] <= 1.0
    return True


def inflection_point(family: str, params: dict[str, float]) -> float:
    """Adstocked spend where an S-curve turns from convex to concave (0 for concave curves)."""
    if family == "hill" and params["shape"] > 1.0:
        s = params["shape"]
        return float(params["half_saturation"] * ((s - 1.0) / (s + 1.0)) ** (1.0 / s))
    return 0.0
