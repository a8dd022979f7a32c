"""Inputs sklearn accepts: strided arrays, devices, column names, source params."""

import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from _helpers import weights_hash
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import GridSearchCV

from sklearn_mtl import MultiTaskRegressor, TransferEstimator
from sklearn_mtl.datasets import make_multitask_regression


@pytest.fixture(scope="module")
def data():
    return make_multitask_regression(
        n_samples=120, n_features=4, n_tasks=2, missing_rate=0.2, random_state=0
    )


def small(**params):
    return MultiTaskRegressor(
        **{"hidden_layer_sizes": (8,), "max_epochs": 3, "random_state": 0, **params}
    )


@pytest.mark.parametrize(
    "view",
    [lambda a: a[::-1], lambda a: np.flip(a), lambda a: a[::-2]],
    ids=["reversed", "flip", "every_other_reversed"],
)
def test_negative_strides_work_like_a_copy(data, view):
    X, Y = data
    model = small().fit(view(X), view(Y))
    reference = small().fit(view(X).copy(), view(Y).copy())
    np.testing.assert_array_equal(
        model.predict(view(X)), reference.predict(view(X).copy())
    )
    model.partial_fit(view(X), view(Y))
    assert np.isfinite(model.score(view(X), view(Y)))


def test_dataframe_column_selection_in_another_order(data):
    X, Y = data
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    reordered = frame[["d", "c", "b", "a"]]  # a view with negative strides
    model = small().fit(reordered, Y)
    expected = small().fit(reordered.to_numpy().copy(), Y).predict(X[:, ::-1].copy())
    np.testing.assert_array_equal(model.predict(reordered), expected)


def test_torch_device_object_is_accepted(data):
    X, Y = data
    model = small(device=torch.device("cpu")).fit(X, Y)
    assert model.net_.device == "cpu"


@pytest.mark.skipif(
    torch.backends.mps.is_available(), reason="this machine has an MPS device"
)
def test_missing_mps_device_is_a_clear_error(data):
    X, Y = data
    with pytest.raises(ValueError, match="mps.*is_available"):
        small(device="mps").fit(X, Y)


@pytest.fixture(scope="module")
def named_source(data):
    X, Y = data
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    return small().fit(frame, Y), frame


@pytest.mark.parametrize(
    "columns, message",
    [
        (["b", "a", "c", "d"], "another order"),
        (["a", "b", "c", "e"], r"missing \['d'\], unexpected \['e'\]"),
    ],
)
def test_transfer_rejects_columns_that_are_not_the_sources(
    data, named_source, columns, message
):
    source, frame = named_source
    _, Y = data
    target = frame.set_axis(columns, axis=1)
    with pytest.raises(ValueError, match=message):
        TransferEstimator(source=source, strategy="fine_tune", max_epochs=2).fit(
            target, Y
        )


def test_transfer_accepts_the_sources_columns_silently(data, named_source):
    source, frame = named_source
    _, Y = data
    rows = ~np.isnan(Y[:, 0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        TransferEstimator(source=source, random_state=0).fit(frame[rows], Y[rows, 0])


def test_transfer_warns_when_names_cannot_be_checked(data, named_source):
    source, frame = named_source
    X, Y = data
    with pytest.warns(UserWarning, match="X has no feature names"):
        TransferEstimator(source=source, strategy="fine_tune", max_epochs=2).fit(X, Y)
    unnamed = small().fit(X, Y)
    with pytest.warns(UserWarning, match="the source has no feature names"):
        TransferEstimator(source=unnamed, strategy="fine_tune", max_epochs=2).fit(
            frame, Y
        )


def test_input_adapter_maps_any_columns(data, named_source):
    source, frame = named_source
    _, Y = data
    target = frame.set_axis(["w", "x", "y", "z"], axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        TransferEstimator(
            source=source, strategy="fine_tune", input_adapter=True, max_epochs=2
        ).fit(target, Y)


def test_source_params_are_not_exposed_or_settable(data):
    X, Y = data
    source = small().fit(X, Y)
    before = (source.get_params(), weights_hash(source.net_.module_))
    model = TransferEstimator(source=source)
    assert not any(key.startswith("source__") for key in model.get_params(deep=True))
    with pytest.raises(ValueError, match="source__alpha.*never refits"):
        model.set_params(source__alpha=1e-4)
    search = GridSearchCV(model, {"source__alpha": [1e-2, 1e-4]}, cv=2)
    with pytest.raises(ValueError, match="source__alpha"):
        search.fit(X, Y)
    assert (source.get_params(), weights_hash(source.net_.module_)) == before


def test_search_over_sources_works(data):
    X, Y = data
    rows = ~np.isnan(Y[:, 0])
    sources = [FrozenEstimator(small(random_state=s).fit(X, Y)) for s in (0, 1)]
    search = GridSearchCV(
        TransferEstimator(strategy="fine_tune", max_epochs=2),
        {"source": sources},
        cv=2,
    ).fit(X[rows], Y[rows, 0])
    assert search.best_params_["source"] in sources
