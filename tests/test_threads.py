"""Many threads at once: predictions equal serial ones, seeded fits reproduce."""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch

from sklearn_mtl import MultiTaskRegressor
from sklearn_mtl.datasets import make_multitask_regression


@pytest.fixture(scope="module")
def data():
    return make_multitask_regression(
        n_samples=300, n_features=6, n_tasks=3, missing_rate=0.2, random_state=0
    )


@pytest.mark.parametrize("predict_dtype", ["float64", "float32"])
@pytest.mark.parametrize("dropout", [0.0, 0.5])
def test_threaded_predict_equals_serial(data, predict_dtype, dropout):
    X, Y = data
    model = MultiTaskRegressor(
        hidden_layer_sizes=(32, 32),
        dropout=dropout,
        predict_dtype=predict_dtype,
        max_epochs=3,
        random_state=0,
    ).fit(X, Y)
    model.net_.module_.train()  # as a training loop may leave it
    serial = model.predict(X)
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: model.predict(X), range(8 * 50)))
    for result in results:
        np.testing.assert_array_equal(result, serial)
    assert model.net_.module_.training  # predict never switched its mode


def test_predict_sees_weights_changed_in_place(data):
    X, Y = data
    model = MultiTaskRegressor(hidden_layer_sizes=(8,), max_epochs=2, random_state=0)
    model.fit(X, Y)
    before = model.predict(X)
    with torch.no_grad():  # an in-place change, as load_state_dict makes
        model.net_.module_.heads.output.bias.add_(1.0)
    assert not np.allclose(model.predict(X), before)


@pytest.mark.parametrize("predict_dtype", ["float64", "float32"])
def test_predict_sees_a_replaced_tensor_or_layer(data, predict_dtype):
    X, Y = data
    model = MultiTaskRegressor(hidden_layer_sizes=(8,), max_epochs=2, random_state=0)
    model.set_params(predict_dtype=predict_dtype).fit(X, Y)
    heads = model.net_.module_.heads
    before = model.predict(X)
    heads.output.bias = torch.nn.Parameter(heads.output.bias.detach() + 1.0)
    shifted = before + model._target_scale
    np.testing.assert_allclose(model.predict(X), shifted, rtol=1e-5)
    heads.output = torch.nn.Linear(8, Y.shape[1])  # a new layer, version 0
    with torch.no_grad():
        heads.output.weight.zero_()
        heads.output.bias.zero_()
    np.testing.assert_allclose(
        model.predict(X), np.broadcast_to(model._target_mean, Y.shape), atol=1e-12
    )


def test_the_frozen_copy_does_not_keep_a_module_alive(data):
    import gc
    import weakref

    X, Y = data
    model = MultiTaskRegressor(hidden_layer_sizes=(8,), max_epochs=1).fit(X, Y)
    model.predict(X)
    module = weakref.ref(model.net_.module_)
    del model
    gc.collect()
    assert module() is None


def test_seeded_fits_with_dropout_reproduce_beside_other_threads(data):
    X, Y = data

    def fit(seed):
        return (
            MultiTaskRegressor(
                hidden_layer_sizes=(32,), dropout=0.3, max_epochs=4, random_state=seed
            )
            .fit(X, Y)
            .predict(X)
        )

    serial = [fit(seed) for seed in range(4)]
    with ThreadPoolExecutor(4) as pool:
        threaded = list(pool.map(fit, [0, 1, 2, 3, 0, 1, 2, 3]))
    for seed, result in enumerate(threaded):
        np.testing.assert_array_equal(result, serial[seed % 4])


def test_seeded_fits_drawing_task_subsets_reproduce_beside_other_threads():
    X, Y = make_multitask_regression(
        n_samples=240, n_features=4, n_tasks=12, random_state=0
    )

    def fit(seed):
        return (
            MultiTaskRegressor(
                hidden_layer_sizes=(8,),
                task_weighting="pcgrad",  # draws 8 of the 12 tasks a step
                max_epochs=2,
                random_state=seed,
            )
            .fit(X, Y)
            .predict(X)
        )

    serial = [fit(seed) for seed in range(2)]
    with ThreadPoolExecutor(4) as pool:
        threaded = list(pool.map(fit, [0, 1, 0, 1]))
    for seed, result in enumerate(threaded):
        np.testing.assert_array_equal(result, serial[seed % 2])
