"""predict's fast path: the cheap checks and conversions give what the slow ones do."""

import warnings

import numpy as np
import pytest
import torch

from sklearn_mtl import MultiTaskRegressor
from sklearn_mtl._base import PREDICT_CHUNK_ROWS, PREDICT_DTYPES
from sklearn_mtl._checks import TORCH_SUM_VALUES, sum_is_finite
from sklearn_mtl._inference import _DirectForward, inference_forward, inference_module
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
    # exact below TORCH_SUM_VALUES values; from there a sum, which overflows
    assert sum_is_finite(Z) == (Z.size < TORCH_SUM_VALUES)


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


@pytest.mark.parametrize("predict_dtype", ["float64", "float32"])
def test_a_large_array_is_checked_as_its_rows_are_converted(
    fitted, predict_dtype, monkeypatch
):
    model, X = fitted
    model = MultiTaskRegressor(**model.get_params()).set_params(
        predict_dtype=predict_dtype
    )
    model.fit(X, np.random.RandomState(1).randn(len(X), 3))
    rows = 2 * PREDICT_CHUNK_ROWS * 8 // PREDICT_DTYPES[predict_dtype].itemsize + 5
    big = np.tile(X, (rows // len(X) + 1, 1))  # three chunks
    expected = model.predict(big)
    summed = []  # X is not summed before the pass: its converted rows are
    spy = lambda array: summed.append(array.shape) or sum_is_finite(array)  # noqa: E731
    monkeypatch.setattr("sklearn_mtl._checks.sum_is_finite", spy)
    np.testing.assert_array_equal(model.predict(big), expected)
    assert big.shape not in summed
    for row in (0, PREDICT_CHUNK_ROWS + 1, -1):  # in each chunk
        for bad, error in ((np.nan, "NaN"), (np.inf, "infinity"), (-np.inf, "inf")):
            Z = big.copy()
            Z[row, 2] = bad
            with pytest.raises(ValueError, match=error):
                model.predict(Z)
    # finite values whose sum overflows (in float32, values out of its
    # range): X is valid, so the pass runs again without the check; float64
    # predicts them, float32's network gives the error that belongs to it
    Z = big.copy()
    Z[-2:] = np.finfo(np.float64).max / 8
    if predict_dtype == "float32":
        with pytest.raises(ValueError, match="non-finite predictions"):
            model.predict(Z)
    else:
        pred = model.predict(Z)
        np.testing.assert_array_equal(pred[:-2], expected[:-2])
        assert np.isfinite(pred).all()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("chunk_rows", [1000, 16])
def test_affine_is_numpys_product_and_sum_on_the_float64_output(dtype, chunk_rows):
    torch.manual_seed(0)
    module = torch.nn.Linear(5, 3).to(dtype)
    rng = np.random.RandomState(0)
    X = rng.randn(101, 5)
    scale, shift = rng.rand(3) * 1e3, rng.randn(3) * 1e6
    affine = torch.from_numpy(scale), torch.from_numpy(shift)
    raw = eval_in_chunks(module, X, "cpu", dtype, chunk_rows=chunk_rows)
    out = eval_in_chunks(module, X, "cpu", dtype, chunk_rows, affine)
    assert out.dtype == np.float64 and out.flags.c_contiguous
    np.testing.assert_array_equal(out, raw * scale + shift)


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


@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic", "gelu", "identity"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_direct_forward_gives_the_modules_output(activation, dtype):
    X, Y = make_multitask_regression(n_samples=60, n_features=4, n_tasks=3)
    model = MultiTaskRegressor(
        hidden_layer_sizes=(8, 8), activation=activation, dropout=0.2, max_epochs=2
    ).fit(X, Y)
    forward = inference_forward(model.net_.module_, dtype)
    assert isinstance(forward, _DirectForward)  # the default network is flattened
    # 3 linear layers and 2 activations (nn.Identity is none), no dropout
    assert len(forward.calls) == 3 + 2 * (activation != "identity")
    x = torch.as_tensor(X, dtype=dtype)
    with torch.inference_mode():
        np.testing.assert_array_equal(forward(x), forward.module(x))


def test_networks_it_cannot_flatten_run_through_the_module():
    X, Y = make_multitask_regression(n_samples=60, n_features=4, n_tasks=2)
    for params in (
        {"head_layer_sizes": (4,)},  # per-task head layers
        {"sharing": "soft"},
        {"loss": "quantile", "quantiles": [0.1, 0.5, 0.9]},  # outputs read tasks
    ):
        model = MultiTaskRegressor(hidden_layer_sizes=(4,), max_epochs=1, **params)
        module = model.fit(X, Y).net_.module_
        assert inference_forward(module, torch.float64) is inference_module(
            module, torch.float64
        )


def test_hooks_and_3d_inputs_take_the_module(fitted):
    model, X = fitted
    module = MultiTaskRegressor(**model.get_params()).fit(X, X[:, :3]).net_.module_
    seen = []
    module.trunk[0].register_forward_hook(lambda *args: seen.append("own"))
    forward = inference_forward(module, torch.float32)
    assert not isinstance(forward, _DirectForward)  # the copy keeps the hook
    with torch.inference_mode():
        forward(torch.zeros(2, 4))
    assert seen == ["own"]

    module = MultiTaskRegressor(**model.get_params()).fit(X, X[:, :3]).net_.module_
    forward = inference_forward(module, torch.float32)
    assert isinstance(forward, _DirectForward)
    handle = torch.nn.modules.module.register_module_forward_hook(
        lambda *args: seen.append("global")
    )
    try:
        with torch.inference_mode():
            forward(torch.zeros(2, 4))
    finally:
        handle.remove()
    assert seen.count("global") >= 1  # registered after the copy: still called
    calls = []
    forward.fallback = lambda x: calls.append(x.shape) or x  # a 3-D batch
    forward(torch.zeros(2, 5, 4))
    assert calls == [(2, 5, 4)]


@pytest.mark.parametrize("predict_dtype", ["float64", "float32"])
def test_predict_folds_target_units_into_the_heads(fitted, predict_dtype):
    model, X = fitted
    Y = np.random.RandomState(1).randn(len(X), 3) * [1e3, 1.0, 1e-3] + [1e6, 0, -5]
    model = MultiTaskRegressor(**model.get_params())
    model.set_params(predict_dtype=predict_dtype).fit(X, Y)
    dtype = getattr(torch, predict_dtype)
    forward = inference_forward(model.net_.module_, dtype)
    scale, shift = model._target_scale, model._target_mean

    def assert_close(actual, expected, factor=1):
        # in the network's units: a mean of 1e6 rounded to float32 (steps of
        # 0.0625, 6e-5 of this scale) would show at either tolerance
        tol = 1e-12 if dtype == torch.float64 else 1e-6
        np.testing.assert_allclose(
            (actual - shift) / scale, factor * (expected - shift) / scale, tol, tol
        )

    folded = forward.in_target_units(scale, shift)
    assert isinstance(folded, _DirectForward)
    assert forward.in_target_units(scale, shift) is folded  # made once
    x = torch.as_tensor(X, dtype=dtype)
    with torch.inference_mode():
        expected = forward(x).double().numpy() * scale + shift
        assert folded(x).dtype == torch.float64
        assert_close(folded(x).numpy(), expected)
        # a 3-D batch or a global hook takes the copy, then the same units
        np.testing.assert_array_equal(folded.fallback(x).numpy(), expected)
    prediction = model.predict(X)
    assert_close(prediction, expected)
    prediction[:] = 0  # the output is the caller's own array
    assert_close(model.predict(X), expected)
    # new arrays (a refit's, a copied source's) are folded anew
    other = forward.in_target_units(scale * 2, shift)
    assert other is not folded
    with torch.inference_mode():
        assert_close(other(x).numpy(), expected, factor=2)


def test_only_a_forward_that_records_no_graph_runs_outside_inference_mode(fitted):
    seen = []

    class Probe(torch.nn.Module):
        def forward(self, x):
            seen.append(torch.is_inference_mode_enabled())
            return x

    X = np.ones((3, 2))
    eval_in_chunks(Probe(), X, "cpu")
    probe = Probe()
    probe.records_no_graph = True
    eval_in_chunks(probe, X, "cpu")
    assert seen == [True, False]
    # the default network's forward says so, and with gradients on it
    # records no graph, folded into target units or not
    model, X = fitted
    for dtype in (torch.float32, torch.float64):
        forward = inference_forward(model.net_.module_, dtype)
        in_units = forward.in_target_units(model._target_scale, model._target_mean)
        for call in (forward, in_units):
            assert call.records_no_graph
            with torch.enable_grad():
                out = call(torch.tensor(X[:5], dtype=dtype))
            assert out.grad_fn is None and not out.requires_grad
