"""predict's fast path: the cheap checks and conversions give what the slow ones do."""

import warnings

import numpy as np
import pytest
import torch

from sklearn_mtl import MultiTaskRegressor
from sklearn_mtl._base_regressor import TORCH_SCALE_VALUES, _scale_in_place
from sklearn_mtl._checks import TORCH_SUM_VALUES, sum_is_finite
from sklearn_mtl._tensors import eval_in_chunks
from sklearn_mtl.datasets import make_multitask_regression

ROWS = TORCH_SUM_VALUES // 4 + 3  # (ROWS, 4) arrays take torch's sum


@pytest.fixture(scope="module")
def fitted():
    X, Y = make_multitask_regression(
        n_samples=200, n_features=4, n_tasks=3, random_state=0
    )
    return MultiTaskRegressor(hidden_layer_sizes=(8,), max_epochs=2).fit(X, Y), X


@pytest.mark.parametrize("rows", [5, ROWS])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sum_is_finite_finds_nan_infinity_and_overflow(rows, dtype):
    X = np.random.RandomState(0).randn(rows, 4).astype(dtype)
    assert sum_is_finite(X)
    for bad in (np.nan, np.inf, -np.inf):
        Z = X.copy()
        Z[rows // 2, 1] = bad
        assert not sum_is_finite(Z)
    Z = np.full_like(X, np.finfo(dtype).max)  # every value finite, the sum not
    assert not sum_is_finite(Z)


@pytest.mark.parametrize("view", ["read-only", "reversed", "strided"])
def test_sum_is_finite_on_arrays_torch_cannot_take(view):
    X = np.random.RandomState(0).randn(2 * ROWS, 4)
    X[4, 2] = np.nan  # in every view
    Z = {"read-only": X, "reversed": X[::-1], "strided": X[::2]}[view]
    if view == "read-only":
        Z.flags.writeable = False
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torch warns on a read-only array
        assert not sum_is_finite(Z)


def test_predict_rejects_nan_in_a_large_array_and_takes_a_read_only_one(fitted):
    model, X = fitted
    big = np.tile(X, (ROWS // len(X) + 1, 1))
    expected = model.predict(big)
    big.flags.writeable = False
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(model.predict(big), expected)
    bad = big.copy()
    bad[-1, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        model.predict(bad)


@pytest.mark.parametrize("rows", [3, TORCH_SCALE_VALUES // 2 + 1])
def test_scale_in_place_is_numpys_product_and_sum(rows):
    rng = np.random.RandomState(0)
    Y = rng.randn(rows, 2)
    scale, shift = rng.rand(2) * 1e3, rng.randn(2) * 1e6
    expected = Y * scale + shift
    _scale_in_place(Y, scale, shift)
    np.testing.assert_array_equal(Y, expected)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_chunks_write_the_one_pass_output(dtype):
    torch.manual_seed(0)
    module = torch.nn.Linear(5, 3).to(dtype)
    X = np.random.RandomState(0).randn(101, 5)
    one = eval_in_chunks(module, X, "cpu", dtype, chunk_rows=1000)
    chunked = eval_in_chunks(module, X, "cpu", dtype, chunk_rows=16)
    assert chunked.dtype == one.dtype == np.float64
    np.testing.assert_allclose(chunked, one, rtol=1e-6 if dtype == torch.float32 else 0)


@pytest.mark.parametrize("predict_dtype", ["float64", "float32"])
def test_non_finite_network_output_and_overflow_have_their_own_errors(
    fitted, predict_dtype
):
    model, X = fitted
    model = MultiTaskRegressor(**model.get_params()).set_params(
        predict_dtype=predict_dtype
    )
    model.fit(X, np.random.RandomState(1).randn(len(X), 3))
    bias = model.net_.module_.heads.output.bias
    with torch.no_grad():
        bias[1] = float("nan")
    with pytest.raises(ValueError, match="non-finite predictions"):
        model.predict(X)
    with torch.no_grad():
        bias[1] = 1e30  # finite in float32 and float64
    model._target_scale = model._target_scale * 1e300
    with pytest.raises(ValueError, match="overflow float64"):
        model.predict(X)


def test_quantile_model_rejects_nan_in_any_quantile():
    X, Y = make_multitask_regression(n_samples=80, n_features=3, n_tasks=2)
    model = MultiTaskRegressor(
        loss="quantile", quantiles=[0.1, 0.5, 0.9], hidden_layer_sizes=(4,)
    ).set_params(max_epochs=1)
    model.fit(X, Y)
    with torch.no_grad():  # the 0.1 quantile of task 0: sorted after the median
        model.net_.module_.heads.output.bias[0] = float("nan")
    with pytest.raises(ValueError, match="non-finite predictions"):
        model.predict(X)
