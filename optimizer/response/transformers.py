"""scikit-learn transformers wrapping the curve math of :mod:`optimizer.response.curves`.

Each transformer applies one step of the media transformation ``beta * sat(adstock(spend))``
column by column, with a unit ``beta`` (the regression coefficient supplies it):

* :class:`GeometricAdstock` -- carry-over ``a_t = x_t + decay * a_{t-1}``; a time convolution,
  so rows must be consecutive weeks in time order;
* :class:`HillSaturation`, :class:`ExponentialSaturation`, :class:`LogisticSaturation` --
  elementwise saturation of (adstocked) spend.

They follow the scikit-learn estimator contract: ``__init__`` only stores its arguments, ``fit``
checks them and sets the learned attributes (trailing underscore), ``transform`` starts with
``check_is_fitted``. Feature names pass through unchanged, so ``set_output(transform="pandas")``
works and they can sit in a ``Pipeline`` or ``ColumnTransformer``.

Example
-------
>>> import numpy as np
>>> from sklearn.pipeline import make_pipeline
>>> pipe = make_pipeline(GeometricAdstock(decay=0.5), HillSaturation(half_saturation=2.0, shape=1.0))
>>> pipe.fit_transform(np.array([[1.0], [0.0], [0.0]])).ravel().round(4).tolist()
[0.3333, 0.2, 0.1111]
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted, check_non_negative, validate_data

from optimizer.response import curves as C

__all__ = [
    "GeometricAdstock",
    "HillSaturation",
    "ExponentialSaturation",
    "LogisticSaturation",
]


def _check_number(
    estimator: BaseEstimator,
    name: str,
    value: Any,
    *,
    low: float,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Validate a real-valued parameter; the message names parameter, expectation and value."""
    lo = "(" if low_open else "["
    hi = ")" if high_open or high is None else "]"
    interval = f"{lo}{low:g}, {'inf' if high is None else format(high, 'g')}{hi}"
    msg = (
        f"The {name!r} parameter of {type(estimator).__name__} must be in {interval}. "
        f"Got {value!r} instead."
    )
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"The {name!r} parameter of {type(estimator).__name__} must be a real number in "
            f"{interval}. Got {value!r} instead."
        )
    v = float(value)
    if (
        not np.isfinite(v)
        or v < low
        or (low_open and v == low)
        or (high is not None and (v > high or (high_open and v == high)))
    ):
        raise ValueError(msg)
    return v


class GeometricAdstock(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Geometric carry-over of spend: ``a_t = x_t + decay * a_{t-1}``, column by column.

    Rows are consecutive weeks in time order; the transform of a row depends on the rows before
    it, so shuffling or sub-setting rows changes the result (see ``__sklearn_tags__``).

    Parameters
    ----------
    decay : float, default=0.5
        Share of a week's adstock carried into the next week, in ``[0, 1)``.
    normalize : bool, default=False
        Scale the weights ``decay**k`` to sum to one, so a steady spend ``x`` settles at ``x``
        (PyMC-Marketing's and Meridian's convention) instead of ``x / (1 - decay)``.
    max_lag : int or None, default=None
        Truncate the carry-over after this many weeks (``None``: the exact recursion).

    Attributes
    ----------
    decay_ : float
        The validated decay.
    weights_ : ndarray of shape (n_lags,)
        The lag weights applied (``decay**k``, normalised when ``normalize``).
    steady_factor_ : float
        Steady-state adstock per unit of steady weekly spend (the sum of the weights).
    n_features_in_ : int
        Number of columns seen in ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names seen in ``fit``, when ``X`` had string column names.

    Examples
    --------
    >>> GeometricAdstock(decay=0.5).fit_transform([[1.0], [0.0], [0.0]]).ravel().tolist()
    [1.0, 0.5, 0.25]
    """

    def __init__(self, decay: float = 0.5, normalize: bool = False, max_lag: int | None = None):
        self.decay = decay
        self.normalize = normalize
        self.max_lag = max_lag

    def _validate_params(self) -> None:
        self.decay_ = _check_number(self, "decay", self.decay, low=0.0, high=1.0, high_open=True)
        if not isinstance(self.normalize, (bool, np.bool_)):
            raise TypeError(
                f"The 'normalize' parameter of {type(self).__name__} must be True or False. "
                f"Got {self.normalize!r} instead."
            )
        if self.max_lag is not None and (
            isinstance(self.max_lag, bool)
            or not isinstance(self.max_lag, numbers.Integral)
            or self.max_lag < 1
        ):
            raise ValueError(
                f"The 'max_lag' parameter of {type(self).__name__} must be None or an int "
                f">= 1. Got {self.max_lag!r} instead."
            )

    def fit(self, X: Any, y: Any = None) -> GeometricAdstock:
        """Check the parameters and the input; nothing is estimated from ``X``.

        Parameters
        ----------
        X : array-like of shape (n_weeks, n_features)
            Weekly spend, rows in time order.
        y : None
            Ignored.

        Returns
        -------
        self : GeometricAdstock
        """
        self._validate_params()
        validate_data(self, X, dtype=np.float64)
        max_lag = None if self.max_lag is None else int(self.max_lag)
        self.weights_ = C.geometric_weights(self.decay_, max_lag, bool(self.normalize))
        self.steady_factor_ = C.geometric_steady_factor(self.decay_, max_lag, bool(self.normalize))
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Adstocked spend, same shape as ``X``.

        Parameters
        ----------
        X : array-like of shape (n_weeks, n_features)
            Weekly spend, rows in time order (the carry-over before the first row is zero).

        Returns
        -------
        ndarray of shape (n_weeks, n_features)
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        max_lag = None if self.max_lag is None else int(self.max_lag)
        return C.geometric_adstock(X, self.decay_, max_lag, bool(self.normalize))


class _SaturationBase(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Shared machinery: elementwise, unit-beta saturation of non-negative (adstocked) spend."""

    _family: str = ""

    def _params(self) -> dict[str, float]:  # pragma: no cover - overridden
        raise NotImplementedError

    def _validate_params(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def fit(self, X: Any, y: Any = None) -> _SaturationBase:
        """Check the parameters and the input (non-negative); nothing is estimated from ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Non-negative (adstocked) spend.
        y : None
            Ignored.

        Returns
        -------
        self
        """
        self._validate_params()
        X = validate_data(self, X, dtype=np.float64)
        check_non_negative(X, f"{type(self).__name__}.fit")
        return self

    def _checked(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        check_non_negative(X, f"{type(self).__name__}.transform")
        return X

    def transform(self, X: Any) -> np.ndarray:
        """Saturated response with unit ``beta``, same shape as ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Non-negative (adstocked) spend.

        Returns
        -------
        ndarray of shape (n_samples, n_features)
        """
        X = self._checked(X)
        return C.saturation(self._family, X, {"beta": 1.0, **self._params()})

    def derivative(self, X: Any) -> np.ndarray:
        """First derivative of the unit-beta curve at each element of ``X``."""
        X = self._checked(X)
        return C.saturation_derivative(self._family, X, {"beta": 1.0, **self._params()})

    def second_derivative(self, X: Any) -> np.ndarray:
        """Second derivative of the unit-beta curve at each element of ``X``."""
        X = self._checked(X)
        return C.saturation_second_derivative(self._family, X, {"beta": 1.0, **self._params()})

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = True
        return tags


class HillSaturation(_SaturationBase):
    """Hill saturation ``a^shape / (a^shape + half_saturation^shape)`` (unit beta).

    Concave for ``shape <= 1``; an S-curve for ``shape > 1``.

    Parameters
    ----------
    half_saturation : float, default=1.0
        Adstocked spend at which the response is half its ceiling; ``> 0``.
    shape : float, default=1.0
        Steepness; ``> 0``.

    Attributes
    ----------
    half_saturation_ : float
    shape_ : float
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)

    Examples
    --------
    >>> HillSaturation(half_saturation=2.0, shape=1.0).fit_transform([[2.0], [6.0]]).ravel().tolist()
    [0.5, 0.75]
    """

    _family = "hill"

    def __init__(self, half_saturation: float = 1.0, shape: float = 1.0):
        self.half_saturation = half_saturation
        self.shape = shape

    def _validate_params(self) -> None:
        self.half_saturation_ = _check_number(
            self, "half_saturation", self.half_saturation, low=0.0, low_open=True
        )
        self.shape_ = _check_number(self, "shape", self.shape, low=0.0, low_open=True)

    def _params(self) -> dict[str, float]:
        return {"half_saturation": self.half_saturation_, "shape": self.shape_}


class ExponentialSaturation(_SaturationBase):
    """Exponential saturation ``1 - exp(-a / scale)`` (unit beta); always concave.

    Parameters
    ----------
    scale : float, default=1.0
        Adstocked spend at which the response reaches ``1 - 1/e`` (63%) of its ceiling; ``> 0``.

    Attributes
    ----------
    scale_ : float
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
    """

    _family = "exponential"

    def __init__(self, scale: float = 1.0):
        self.scale = scale

    def _validate_params(self) -> None:
        self.scale_ = _check_number(self, "scale", self.scale, low=0.0, low_open=True)

    def _params(self) -> dict[str, float]:
        return {"scale": self.scale_}


class LogisticSaturation(_SaturationBase):
    """PyMC-Marketing's logistic saturation ``(1 - exp(-lam a)) / (1 + exp(-lam a))`` (unit beta).

    Equal to ``tanh(lam * a / 2)``; concave on ``a >= 0`` with slope ``lam / 2`` at zero.

    Parameters
    ----------
    lam : float, default=1.0
        Rate; ``> 0``.

    Attributes
    ----------
    lam_ : float
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
    """

    _family = "logistic"

    def __init__(self, lam: float = 1.0):
        self.lam = lam

    def _validate_params(self) -> None:
        self.lam_ = _check_number(self, "lam", self.lam, low=0.0, low_open=True)

    def _params(self) -> dict[str, float]:
        return {"lam": self.lam_}
