"""The scikit-learn transformers of optimizer.response.transformers: sklearn's own estimator
checks, hand-computed values, derivatives against finite differences, and parameter errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from optimizer.response import curves as C
from optimizer.response.transformers import (
    ExponentialSaturation,
    GeometricAdstock,
    HillSaturation,
    LogisticSaturation,
)

ROW_ORDER = (
    "adstock is a time convolution: row t depends on the rows before it, so the output for a "
    "subset or a reordering of the weeks differs from the subset or reordering of the output"
)


def _expected_failed_checks(estimator):
    if isinstance(estimator, GeometricAdstock):
        return {
            "check_methods_subset_invariance": ROW_ORDER,
            "check_methods_sample_order_invariance": ROW_ORDER,
        }
    return {}  # saturation is elementwise: it passes every check


@parametrize_with_checks(
    [
        GeometricAdstock(),
        GeometricAdstock(decay=0.3, normalize=True, max_lag=4),
        HillSaturation(half_saturation=2.0, shape=0.8),
        ExponentialSaturation(scale=3.0),
        LogisticSaturation(lam=0.5),
    ],
    expected_failed_checks=_expected_failed_checks,
    xfail_strict=True,
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


# ------------------------------------------------------------------------------------------------
# hand-computed values
# ------------------------------------------------------------------------------------------------
def test_adstock_impulse_response():
    out = GeometricAdstock(decay=0.5).fit_transform(np.array([[1.0], [0.0], [0.0]]))
    np.testing.assert_allclose(out.ravel(), [1.0, 0.5, 0.25], rtol=0, atol=1e-15)


def test_adstock_recursion_two_columns():
    X = np.array([[2.0, 0.0], [1.0, 4.0], [0.0, 0.0]])
    out = GeometricAdstock(decay=0.25).fit_transform(X)
    # a_t = x_t + 0.25 a_{t-1}
    np.testing.assert_allclose(out, [[2.0, 0.0], [1.5, 4.0], [0.375, 1.0]], atol=1e-15)


def test_adstock_normalized_and_truncated():
    est = GeometricAdstock(decay=0.5, normalize=True, max_lag=3).fit(np.zeros((5, 1)))
    np.testing.assert_allclose(est.weights_, np.array([1.0, 0.5, 0.25]) / 1.75)
    assert est.steady_factor_ == 1.0
    out = est.transform(np.ones((5, 1))).ravel()
    # a steady spend of 1 settles at 1 once all three lags are in
    np.testing.assert_allclose(out, [1 / 1.75, 1.5 / 1.75, 1.0, 1.0, 1.0])


def test_adstock_steady_factor_unnormalized():
    est = GeometricAdstock(decay=0.6).fit(np.zeros((3, 1)))
    assert est.decay_ == 0.6
    assert est.steady_factor_ == pytest.approx(1 / 0.4)
    # a long steady spend reaches x / (1 - decay)
    out = est.transform(np.full((200, 1), 10.0))
    assert out[-1, 0] == pytest.approx(25.0, rel=1e-12)


def test_hill_at_half_saturation_is_half():
    out = HillSaturation(half_saturation=3.0, shape=0.7).fit_transform([[3.0], [0.0]])
    np.testing.assert_allclose(out.ravel(), [0.5, 0.0], atol=1e-15)


def test_hill_shape_one_values():
    out = HillSaturation(half_saturation=2.0, shape=1.0).fit_transform([[2.0], [6.0], [18.0]])
    np.testing.assert_allclose(out.ravel(), [0.5, 0.75, 0.9], rtol=1e-14)


def test_exponential_values():
    out = ExponentialSaturation(scale=2.0).fit_transform([[0.0], [2.0], [np.log(4) * 2.0]])
    np.testing.assert_allclose(out.ravel(), [0.0, 1 - np.exp(-1.0), 0.75], rtol=1e-14)


def test_logistic_values_and_slope_at_zero():
    est = LogisticSaturation(lam=0.8).fit([[0.0]])
    a = np.array([[0.0], [1.0], [5.0]])
    expected = (1 - np.exp(-0.8 * a)) / (1 + np.exp(-0.8 * a))
    np.testing.assert_allclose(est.transform(a), expected, rtol=1e-13)
    # derivative at 0 is beta * lam / 2 (unit beta)
    assert est.derivative([[0.0]])[0, 0] == pytest.approx(0.4, rel=1e-14)


SATURATIONS = [
    HillSaturation(half_saturation=2.0, shape=0.6),
    HillSaturation(half_saturation=2.0, shape=1.0),
    HillSaturation(half_saturation=2.0, shape=2.5),
    ExponentialSaturation(scale=1.5),
    LogisticSaturation(lam=0.7),
]


@pytest.mark.parametrize("est", SATURATIONS, ids=lambda e: repr(e))
def test_derivatives_match_finite_differences(est):
    a = np.linspace(0.2, 8.0, 40).reshape(-1, 1)
    est.fit(a)
    h = 1e-5
    fd1 = (est.transform(a + h) - est.transform(a - h)) / (2 * h)
    np.testing.assert_allclose(est.derivative(a), fd1, rtol=1e-6, atol=1e-9)
    fd2 = (est.derivative(a + h) - est.derivative(a - h)) / (2 * h)
    np.testing.assert_allclose(est.second_derivative(a), fd2, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("est", SATURATIONS, ids=lambda e: repr(e))
def test_saturation_is_increasing_and_bounded_by_one(est):
    a = np.linspace(0.0, 1e3, 500).reshape(-1, 1)
    out = est.fit_transform(a).ravel()
    assert np.all(np.diff(out) >= 0)
    assert out[0] == 0.0 and out[-1] <= 1.0


def test_pipeline_equals_curve_composition():
    x = np.array([5.0, 0.0, 3.0, 8.0, 0.0, 1.0])
    pipe = make_pipeline(
        GeometricAdstock(decay=0.4), HillSaturation(half_saturation=6.0, shape=0.8)
    )
    out = pipe.fit_transform(x.reshape(-1, 1)).ravel()
    expected = C.hill(C.geometric_adstock(x, 0.4), 1.0, 6.0, 0.8)
    np.testing.assert_allclose(out, expected, rtol=1e-14)


def test_set_output_pandas_keeps_names_and_index():
    idx = pd.date_range("2024-01-01", periods=4, freq="7D", name="date")
    df = pd.DataFrame({"tv": [1.0, 0.0, 0.0, 2.0], "search": [0.0, 1.0, 1.0, 1.0]}, index=idx)
    pipe = make_pipeline(GeometricAdstock(decay=0.5), ExponentialSaturation(scale=1.0))
    pipe.set_output(transform="pandas")
    out = pipe.fit_transform(df)
    assert list(out.columns) == ["tv", "search"]
    assert out.index.equals(idx)
    assert list(pipe.get_feature_names_out()) == ["tv", "search"]
    assert out.loc[idx[1], "tv"] == pytest.approx(1 - np.exp(-0.5))


# ------------------------------------------------------------------------------------------------
# the estimator contract: errors name parameter, expectation and value
# ------------------------------------------------------------------------------------------------
def test_decay_error_message():
    with pytest.raises(ValueError) as e:
        GeometricAdstock(decay=1.3).fit([[1.0]])
    assert (
        str(e.value)
        == "The 'decay' parameter of GeometricAdstock must be in [0, 1). Got 1.3 instead."
    )


@pytest.mark.parametrize(
    "est, message",
    [
        (
            GeometricAdstock(decay=-0.1),
            "The 'decay' parameter of GeometricAdstock must be in [0, 1). Got -0.1",
        ),
        (
            GeometricAdstock(decay=1.0),
            "The 'decay' parameter of GeometricAdstock must be in [0, 1). Got 1.0",
        ),
        (
            GeometricAdstock(max_lag=0),
            "The 'max_lag' parameter of GeometricAdstock must be None or an int >= 1. Got 0",
        ),
        (
            HillSaturation(half_saturation=0.0),
            "The 'half_saturation' parameter of HillSaturation must be in (0, inf). Got 0.0",
        ),
        (
            HillSaturation(shape=-1),
            "The 'shape' parameter of HillSaturation must be in (0, inf). Got -1",
        ),
        (
            ExponentialSaturation(scale=float("nan")),
            "The 'scale' parameter of ExponentialSaturation",
        ),
        (
            LogisticSaturation(lam=0),
            "The 'lam' parameter of LogisticSaturation must be in (0, inf). Got 0",
        ),
    ],
)
def test_bad_parameters_raise_on_fit(est, message):
    with pytest.raises(ValueError) as e:
        est.fit([[1.0]])
    assert str(e.value).startswith(message)


def test_non_numeric_parameter_is_a_type_error():
    with pytest.raises(
        TypeError, match="'decay' parameter of GeometricAdstock must be a real number"
    ):
        GeometricAdstock(decay="0.5").fit([[1.0]])


def test_init_only_stores_arguments():
    est = HillSaturation(half_saturation=-5, shape="x")  # no error until fit
    assert est.get_params() == {"half_saturation": -5, "shape": "x"}
    assert not hasattr(est, "half_saturation_")


def test_saturation_rejects_negative_spend():
    est = HillSaturation().fit([[1.0]])
    with pytest.raises(ValueError, match="Negative values in data passed to HillSaturation"):
        est.transform([[-1.0]])


def test_transform_before_fit_raises():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        GeometricAdstock().transform([[1.0]])
    with pytest.raises(NotFittedError):
        LogisticSaturation().derivative([[1.0]])


def test_clone_keeps_params_not_state():
    est = GeometricAdstock(decay=0.2).fit([[1.0], [2.0]])
    c = clone(est)
    assert c.get_params() == est.get_params()
    assert not hasattr(c, "decay_")
