"""The user's own network: trunk=, trunk__ arguments, callbacks, any-module sources."""

import pickle

import numpy as np
import pytest
from _helpers import CodeEmbedding, SmallCNN, weights_hash
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from skorch.callbacks import Checkpoint, LRScheduler
from torch import nn

from sklearn_mtl import MultiTaskRegressor, TransferEstimator


@pytest.fixture(scope="module")
def images():
    rng = np.random.RandomState(0)
    X = rng.rand(120, 1, 8, 8)
    Y = np.c_[X[:, 0, :4].mean(axis=(1, 2)), X[:, 0, 4:].mean(axis=(1, 2))]
    Y[rng.rand(*Y.shape) < 0.2] = np.nan
    Y[np.isnan(Y).all(axis=1), 0] = 0.5
    return X, Y


def cnn_model(**params):
    return MultiTaskRegressor(
        **{"trunk": SmallCNN, "max_epochs": 4, "random_state": 0, **params}
    )


def test_a_trunk_class_is_built_with_its_arguments(images):
    X, Y = images
    model = cnn_model(trunk__channels=3).fit(X, Y)
    assert model.net_.module_.trunk.layers[0].out_channels == 3
    assert model.net_.module_.heads.output.in_features == 3 * 9
    assert model.predict(X).shape == Y.shape
    assert model.get_params()["trunk__channels"] == 3


def test_trunk_arguments_survive_clone_and_set_params():
    model = cnn_model(trunk__channels=3)
    assert clone(model).get_params()["trunk__channels"] == 3
    model.set_params(trunk__channels=5, trunk__dropout=0.1)
    assert model.get_params()["trunk__dropout"] == 0.1
    assert clone(model).trunk__channels == 5


def test_grid_search_over_a_trunk_argument(images):
    X, Y = images
    search = GridSearchCV(
        cnn_model(max_epochs=2), {"trunk__channels": [2, 3]}, cv=2
    ).fit(X, Y)
    assert search.best_params_["trunk__channels"] in (2, 3)
    channels = search.best_estimator_.net_.module_.trunk.layers[0].out_channels
    assert channels == search.best_params_["trunk__channels"]


def test_a_trunk_instance_is_copied_never_trained(images):
    X, Y = images
    trunk = SmallCNN(2)
    before = weights_hash(trunk)
    model = MultiTaskRegressor(trunk=trunk, max_epochs=3, random_state=0).fit(X, Y)
    assert weights_hash(trunk) == before
    assert model.net_.module_.trunk is not trunk
    assert weights_hash(model.net_.module_.trunk) != before


def test_clone_and_pickle_round_trip(images):
    X, Y = images
    model = cnn_model(trunk__channels=2).fit(X, Y)
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.predict(X), model.predict(X))
    refit = clone(model).fit(X, Y)
    np.testing.assert_array_equal(refit.predict(X), model.predict(X))


def test_integer_codes_for_an_embedding_trunk():
    rng = np.random.RandomState(0)
    codes = rng.randint(0, 10, 300)
    X = np.c_[codes, rng.randn(300, 2)]
    effect = rng.randn(10)
    Y = np.c_[effect[codes] + X[:, 1], effect[codes] - X[:, 2]]
    model = MultiTaskRegressor(
        trunk=CodeEmbedding, trunk__dim=4, max_epochs=150, lr=1e-2, random_state=0
    ).fit(X, Y)
    assert model.score(X, Y) > 0.9


def test_lr_scheduler_callback_changes_the_learning_rate(images):
    X, Y = images
    model = cnn_model(
        max_epochs=4, lr=0.1, callbacks=[LRScheduler("StepLR", step_size=1, gamma=0.5)]
    ).fit(X, Y)
    assert model.net_.optimizer_.param_groups[0]["lr"] == pytest.approx(0.1 / 2**4)
    model.partial_fit(X, Y)  # continues the schedule from the history, as skorch
    assert model.net_.optimizer_.param_groups[0]["lr"] < 0.1 / 2**4


def test_checkpoint_callback_writes_files(images, tmp_path):
    X, Y = images
    checkpoint = Checkpoint(monitor="train_loss_best", dirname=str(tmp_path))
    cnn_model(callbacks=[("checkpoint", checkpoint)]).fit(X, Y)
    assert (tmp_path / "params.pt").exists()


def test_callbacks_may_not_take_the_estimators_names(images):
    X, Y = images
    with pytest.raises(ValueError, match="'stopper' is the estimator's own"):
        cnn_model(callbacks=[("stopper", LRScheduler())]).fit(X, Y)


@pytest.mark.parametrize(
    "trunk, message",
    [
        (nn.Conv2d(1, 2, 3), r"returned \(2, 2, 6, 6\).*nn.Flatten"),
        (nn.Linear(64, 4), r"failed on a batch of X of shape \(2, 1, 8, 8\)"),
    ],
    ids=["not_2d", "raises"],
)
def test_bad_trunk_is_a_clear_error_and_the_model_survives(images, trunk, message):
    X, Y = images
    model = cnn_model().fit(X, Y)
    before = model.predict(X)
    with pytest.raises(ValueError, match=message):
        model.set_params(trunk=trunk).fit(X, Y)
    np.testing.assert_array_equal(model.predict(X), before)
    assert isinstance(model.net_.module_.trunk, SmallCNN)


def test_x_of_the_wrong_rank_is_a_clear_error(images):
    X, Y = images
    model = cnn_model().fit(X, Y)
    with pytest.raises(ValueError, match=r"samples of shape \(64,\).*\(1, 8, 8\)"):
        model.predict(X.reshape(len(X), -1))
    with pytest.raises(ValueError, match="Found array with dim 4"):
        MultiTaskRegressor().fit(X, Y)  # the default MLP keeps X 2-D


def test_custom_trunk_needs_hard_sharing(images):
    X, Y = images
    with pytest.raises(ValueError, match="sharing='hard'"):
        cnn_model(sharing="soft").fit(X, Y)


def test_unknown_keyword_is_a_type_error():
    with pytest.raises(TypeError, match="unexpected keyword argument 'alhpa'"):
        MultiTaskRegressor(alhpa=1.0)


@pytest.mark.parametrize(
    "strategy",
    ["linear_probe", "fine_tune", "lp_ft", "gradual_unfreezing", "l2_sp"],
)
def test_every_strategy_transfers_a_trunk_without_linear_layers(images, strategy):
    X, Y = images
    source = SmallCNN(3)
    before = weights_hash(source)
    rows = ~np.isnan(Y[:, 0])
    model = TransferEstimator(
        source=source, strategy=strategy, max_epochs=3, random_state=0
    ).fit(X[rows], Y[rows, 0])
    assert model.predict(X).shape == (len(X),)
    assert weights_hash(source) == before


def test_transfer_from_a_fitted_cnn_estimator(images):
    X, Y = images
    source = cnn_model().fit(X, Y)
    rows = ~np.isnan(Y[:, 1])
    model = TransferEstimator(source=source, random_state=0).fit(X[rows], Y[rows, 1])
    assert np.isfinite(model.score(X[rows], Y[rows, 1]))


def test_transfer_shape_mismatch_shows_the_shapes(images):
    X, Y = images
    mismatch = r"source trunk \(SmallCNN\) failed.*\(2, 64\)"
    with pytest.raises(ValueError, match=mismatch):
        TransferEstimator(source=SmallCNN(), strategy="fine_tune").fit(
            X.reshape(len(X), -1), np.nan_to_num(Y[:, 0])
        )
    with pytest.raises(ValueError, match="input_adapter=True needs the input width"):
        TransferEstimator(
            source=SmallCNN(), strategy="fine_tune", input_adapter=True
        ).fit(X.reshape(len(X), -1), np.nan_to_num(Y[:, 0]))
    with pytest.raises(ValueError, match="input_adapter=True learns a linear map"):
        TransferEstimator(
            source=nn.Sequential(nn.Linear(64, 4)), input_adapter=True
        ).fit(X, np.nan_to_num(Y[:, 0]))


def test_input_adapter_on_a_linear_trunk_of_another_width(images):
    X, Y = images
    flat = X.reshape(len(X), -1)
    rows = ~np.isnan(Y[:, 0])
    source = nn.Sequential(nn.Linear(10, 4), nn.ReLU())
    model = TransferEstimator(
        source=source, strategy="fine_tune", input_adapter=True, max_epochs=2
    ).fit(flat[rows], Y[rows, 0])
    assert model.net_.module_.trunk[0].in_features == 64


def test_transfer_from_scratch_with_a_custom_trunk(images):
    X, Y = images
    rows = ~np.isnan(Y[:, 0])
    model = TransferEstimator(
        trunk=SmallCNN, trunk__channels=2, max_epochs=2, random_state=0
    ).fit(X[rows], Y[rows, 0])
    assert model.net_.module_.trunk.layers[0].out_channels == 2
