"""Custom trunks in model files: class path, ``trunk__*`` arguments, weights.

Loading rebuilds a trunk only from a class the caller passes in ``trusted``;
the network is checked against the weights on the meta device before any
real allocation.
"""

import io
import json
import zipfile

import numpy as np
import pytest
import torch
from _helpers import CodeEmbedding, SmallCNN
from sklearn.model_selection import GridSearchCV
from skorch.callbacks import LRScheduler
from torch import nn

from sklearn_mtl import (
    ModelFileError,
    MultiTaskRegressor,
    TransferEstimator,
    load,
    save,
)

KW = dict(max_epochs=3, random_state=0, device="cpu")
CONFIG = "model.json"


class WideCNN(nn.Module):
    """Another trusted trunk, with other parameter shapes; records its devices."""

    devices = []

    def __init__(self, channels=4):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Conv2d(1, channels * 64, 3, stride=2), nn.ReLU(), nn.Flatten()
        )
        WideCNN.devices.append(self.layers[0].weight.device.type)

    def forward(self, x):
        return self.layers(x)


class PooledCNN(nn.Module):
    """Its output width depends on ``pool``, its parameters do not."""

    def __init__(self, pool=2):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(pool), nn.Flatten())

    def forward(self, x):
        return self.pool(self.conv(x))


class NeedsWidth(nn.Module):
    """A trunk that cannot be built without arguments."""

    def __init__(self, width):
        super().__init__()
        self.linear = nn.Linear(4, width)

    def forward(self, x):
        return self.linear(x)


@pytest.fixture(scope="module")
def images():
    rng = np.random.RandomState(0)
    X = rng.rand(80, 1, 8, 8)
    Y = np.c_[X[:, 0, :4].mean(axis=(1, 2)), X[:, 0, 4:].mean(axis=(1, 2))]
    return X, Y


@pytest.fixture(scope="module")
def coded():
    rng = np.random.RandomState(1)
    X = np.c_[rng.randint(0, 10, 80), rng.rand(80, 3)]
    Y = np.c_[X[:, 0] / 10 + X[:, 1], X[:, 2] - X[:, 3]]
    return X, Y


def saved(model):
    buffer = io.BytesIO()
    save(model, buffer)
    return buffer.getvalue()


def edit_config(data, edit):
    """The archive ``data`` with its model config changed by ``edit``."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        contents = {info.filename: archive.read(info) for info in archive.infolist()}
    config = json.loads(contents[CONFIG])
    edit(config)
    contents[CONFIG] = json.dumps(config).encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, member in contents.items():
            archive.writestr(name, member)
    return buffer.getvalue()


def trunk_path(cls):
    return f"{cls.__module__}.{cls.__qualname__}"


def check_round_trip(model, X, Y, trusted):
    """The loaded model predicts and continues training exactly as ``model``."""
    loaded = load(io.BytesIO(saved(model)), trusted=trusted)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    assert loaded.get_params().keys() == model.get_params().keys()
    assert loaded._input_shape == model._input_shape
    for fitted in (model, loaded):
        fitted.partial_fit(X, Y)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    return loaded


def test_a_cnn_trunk_class_round_trips_when_trusted(images):
    X, Y = images
    model = MultiTaskRegressor(trunk=SmallCNN, trunk__channels=3, **KW).fit(X, Y)
    data = saved(model)
    config = json.loads(zipfile.ZipFile(io.BytesIO(data)).read(CONFIG))
    assert config["params"]["trunk"] == {"__trunk_class__": trunk_path(SmallCNN)}
    assert config["params"]["trunk__channels"] == 3
    loaded = check_round_trip(model, X, Y, trusted=[SmallCNN])
    assert loaded.trunk is SmallCNN and loaded.get_params()["trunk__channels"] == 3
    assert loaded.net_.module_.trunk.layers[0].out_channels == 3


def test_an_embedding_trunk_round_trips_when_trusted(coded):
    X, Y = coded
    model = MultiTaskRegressor(
        trunk=CodeEmbedding, trunk__dim=2, head_layer_sizes=(4,), **KW
    ).fit(X, Y)
    loaded = check_round_trip(model, X, Y, trusted=[CodeEmbedding])
    assert loaded.net_.module_.trunk.embedding.weight.shape == (10, 2)


def test_a_transfer_estimator_with_a_trunk_round_trips(images):
    X, Y = images
    model = TransferEstimator(trunk=SmallCNN, trunk__channels=2, **KW).fit(X, Y[:, 0])
    check_round_trip(model, X, Y[:, 0], trusted=[SmallCNN])
    source = MultiTaskRegressor(trunk=SmallCNN, **KW).fit(X, Y)
    transfer = TransferEstimator(source=source, **KW).fit(X, Y[:, 0])
    with pytest.raises(ModelFileError, match="SmallCNN"):
        load(io.BytesIO(saved(transfer)))
    check_round_trip(transfer, X, Y[:, 0], trusted=[SmallCNN])


def test_an_untrusted_trunk_class_is_refused_by_name(images):
    X, Y = images
    data = saved(MultiTaskRegressor(trunk=SmallCNN, **KW).fit(X, Y))
    message = rf"{trunk_path(SmallCNN)}.*trusted=\[TheClass\]"
    for trusted in ((), [CodeEmbedding], ["SmallCNN"]):
        with pytest.raises(ModelFileError, match=message):
            load(io.BytesIO(data), trusted=trusted)
    with pytest.raises(TypeError, match="sequence"):
        load(io.BytesIO(data), trusted=SmallCNN)


def test_a_class_of_a_script_matches_by_class_name_only_there(images):
    X, Y = images
    data = saved(MultiTaskRegressor(trunk=SmallCNN, **KW).fit(X, Y))

    def named(name):
        def edit(config):
            config["params"]["trunk"]["__trunk_class__"] = name

        return io.BytesIO(edit_config(data, edit))

    loaded = load(named("__main__.SmallCNN"), trusted=[SmallCNN])
    np.testing.assert_array_equal(
        loaded.predict(X), load(io.BytesIO(data), trusted=[SmallCNN]).predict(X)
    )
    with pytest.raises(ModelFileError, match="other_module.SmallCNN"):
        load(named("other_module.SmallCNN"), trusted=[SmallCNN])


def test_a_tampered_trunk_class_is_refused_before_allocation(images):
    X, Y = images
    data = saved(MultiTaskRegressor(trunk=SmallCNN, **KW).fit(X, Y))

    def swap(config):
        config["params"]["trunk"]["__trunk_class__"] = trunk_path(WideCNN)

    WideCNN.devices.clear()
    with pytest.raises(ModelFileError, match="shape"):
        load(io.BytesIO(edit_config(data, swap)), trusted=[SmallCNN, WideCNN])
    assert WideCNN.devices == ["meta"]  # built on the meta device only

    def widen(config):  # the trusted class, with arguments of other shapes
        config["params"]["trunk__channels"] = 10**6

    with pytest.raises(ModelFileError, match="shape"):
        load(io.BytesIO(edit_config(data, widen)), trusted=[SmallCNN])


def test_a_trunk_whose_width_differs_from_the_heads_is_refused(images):
    X, Y = images
    data = saved(MultiTaskRegressor(trunk=PooledCNN, **KW).fit(X, Y))

    def edit(config):
        config["params"]["trunk__pool"] = 3

    with pytest.raises(ModelFileError, match="shape"):
        load(io.BytesIO(edit_config(data, edit)), trusted=[PooledCNN])


def test_a_tampered_input_shape_is_refused(images):
    X, Y = images
    data = saved(MultiTaskRegressor(trunk=SmallCNN, **KW).fit(X, Y))
    for shape in ([1, 10**5, 10**5], [2, 8, 8], [1, 0, 8], [1.0, 8, 8]):

        def edit(config, shape=shape):
            config["fitted"]["_input_shape"] = {"__tuple__": shape}

        with pytest.raises(ModelFileError, match="_input_shape"):
            load(io.BytesIO(edit_config(data, edit)), trusted=[SmallCNN])

    def drop(config):
        del config["fitted"]["_input_shape"]

    with pytest.raises(ModelFileError, match="_input_shape"):
        load(io.BytesIO(edit_config(data, drop)), trusted=[SmallCNN])


def test_a_trunk_instance_round_trips_as_its_class(images):
    X, Y = images
    model = MultiTaskRegressor(trunk=SmallCNN(), **KW).fit(X, Y)
    config = json.loads(zipfile.ZipFile(io.BytesIO(saved(model))).read(CONFIG))
    assert config["params"]["trunk"] == {"__trunk_instance__": trunk_path(SmallCNN)}
    loaded = check_round_trip(model, X, Y, trusted=[SmallCNN])
    assert isinstance(loaded.trunk, SmallCNN)
    assert not any(p.is_meta for p in loaded.trunk.parameters())
    refit = load(io.BytesIO(saved(model)), trusted=[SmallCNN]).fit(X, Y)
    assert np.all(np.isfinite(refit.predict(X)))


def test_a_trunk_instance_that_needs_arguments_is_refused_at_save():
    X, Y = np.random.RandomState(0).rand(30, 4), np.random.RandomState(1).rand(30, 2)
    model = MultiTaskRegressor(trunk=NeedsWidth(5), **KW).fit(X, Y)
    with pytest.raises(TypeError, match="trunk=NeedsWidth, trunk__<name>=value"):
        save(model, io.BytesIO())
    model = MultiTaskRegressor(trunk=NeedsWidth, trunk__width=5, **KW).fit(X, Y)
    check_round_trip(model, X, Y, trusted=[NeedsWidth])


def test_trunk_arguments_must_be_json_values(images):
    X, Y = images
    model = MultiTaskRegressor(trunk=SmallCNN, trunk__channels=2, **KW).fit(X, Y)
    for value in (np.int64(2), torch.tensor(2), float("nan"), {1: 2}, object()):
        model.set_params(trunk__extra=value)
        with pytest.raises(TypeError, match="trunk__extra.*JSON"):
            save(model, io.BytesIO())


def test_callbacks_are_refused_at_save(images):
    X, Y = images
    scheduler = LRScheduler(policy="StepLR", step_size=1)
    model = MultiTaskRegressor(trunk=SmallCNN, callbacks=[scheduler], **KW).fit(X, Y)
    with pytest.raises(TypeError, match=r"set_params\(callbacks=None\)"):
        save(model, io.BytesIO())
    model.set_params(callbacks=None)  # the fitted net keeps its scheduler
    loaded = load(io.BytesIO(saved(model)), trusted=[SmallCNN])
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    assert loaded.callbacks is None
    loaded.partial_fit(X, Y)


def test_a_search_over_trunk_arguments_round_trips(images):
    pytest.importorskip("skops")
    X, Y = images
    search = GridSearchCV(
        MultiTaskRegressor(trunk=SmallCNN, **KW), {"trunk__channels": [2, 3]}, cv=2
    ).fit(X, Y)
    with pytest.raises(ModelFileError, match="SmallCNN"):
        load(io.BytesIO(saved(search)))
    loaded = load(io.BytesIO(saved(search)), trusted=[SmallCNN])
    assert loaded.estimator.trunk is SmallCNN
    assert loaded.best_params_ == search.best_params_
    np.testing.assert_array_equal(loaded.predict(X), search.predict(X))


def test_the_mlp_keeps_its_new_fitted_attributes(images):
    rng = np.random.RandomState(0)
    X, Y = rng.rand(40, 5), rng.rand(40, 2)
    model = MultiTaskRegressor(hidden_layer_sizes=(8,), **KW).fit(X, Y)
    loaded = check_round_trip(model, X, Y, trusted=())
    assert loaded._input_shape == (5,) and loaded._architecture == model._architecture
    for name in ("_target_weight", "_target_std"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(model, name))
        assert getattr(loaded, name).dtype == np.float64
    # a model first saved by an earlier version counts its old targets as +inf
    model._target_weight = np.full(2, np.inf)
    loaded = load(io.BytesIO(saved(model)))
    np.testing.assert_array_equal(loaded._target_weight, model._target_weight)

    def poison(config):
        config["fitted"]["_target_std"] = [1.0, -1.0]

    with pytest.raises(ModelFileError, match="_target_std"):
        load(io.BytesIO(edit_config(saved(model), poison)))
