"""A call that fails leaves the fitted model exactly as it was; no silent garbage."""

import copy

import numpy as np
import pandas as pd
import pytest
from _helpers import weights_hash

from sklearn_mtl import MultiTaskRegressor, TrainingDivergedError, TransferEstimator
from sklearn_mtl._net import DIVERGENCE_FACTOR
from sklearn_mtl.datasets import make_multitask_regression
from sklearn_mtl.weighting import EqualWeighting


@pytest.fixture(scope="module")
def data():
    return make_multitask_regression(
        n_samples=200, n_features=5, n_tasks=2, missing_rate=0.2, random_state=0
    )


def small(**params):
    return MultiTaskRegressor(
        **{"hidden_layer_sizes": (8,), "max_epochs": 6, "random_state": 0, **params}
    )


def snapshot(model):
    """Everything a failed call must leave as it was."""
    params = model.get_params()
    fitted = {
        k: copy.deepcopy(v)
        for k, v in vars(model).items()
        if k not in ("net_", "_source") and k not in params
    }
    fitted["_source"] = id(vars(model).get("_source"))  # a reference, not a copy
    net = model.net_
    return {
        "attributes": fitted,
        "net": id(net),
        "weights": weights_hash(net.module_),
        "optimizer": repr(net.optimizer_.state_dict()),
        "history": copy.deepcopy(list(net.history)),
    }


def assert_unchanged(model, before):
    after = snapshot(model)
    assert after["net"] == before["net"]
    assert after["weights"] == before["weights"]
    assert after["optimizer"] == before["optimizer"]
    assert after["history"] == before["history"]
    assert set(after["attributes"]) == set(before["attributes"])
    for name, value in before["attributes"].items():
        np.testing.assert_equal(after["attributes"][name], value, err_msg=name)


class RaiseAt(EqualWeighting):
    """Equal weights that raise ``error`` at the ``at``-th batch."""

    def __init__(self, at=2, error="value"):
        self.at = at
        self.error = error

    def combine(self, task_losses, present):
        self.calls_ = getattr(self, "calls_", 0) + 1
        if self.calls_ == self.at:
            raise (
                KeyboardInterrupt
                if self.error == "interrupt"
                else RuntimeError("weighting failed")
            )
        return super().combine(task_losses, present)


@pytest.mark.parametrize(
    "call",
    [
        lambda m, X, Y: m.partial_fit(X[:, :3], Y),  # another feature count
        lambda m, X, Y: m.fit(np.where(X > 1, np.nan, X), Y),  # NaN in X
        lambda m, X, Y: m.fit(X, Y, sample_weight=-np.ones(len(X))),
        lambda m, X, Y: m.partial_fit(X, Y[:, :1]),  # another number of tasks
        lambda m, X, Y: m.set_params(lr=1e6).partial_fit(X, Y),  # diverges
        lambda m, X, Y: m.set_params(task_weighting=RaiseAt(2)).partial_fit(X, Y),
        lambda m, X, Y: m.set_params(warm_start=True, hidden_layer_sizes=(4,)).fit(
            X, Y
        ),
    ],
    ids=[
        "features",
        "nan",
        "weights",
        "tasks",
        "diverges",
        "weighting_raises",
        "architecture",
    ],
)
def test_failed_call_leaves_the_model_as_it_was(data, call):
    X, Y = data
    model = small(batch_size=32).fit(X, Y)
    before = snapshot(model)
    params = model.get_params()
    with pytest.raises((ValueError, RuntimeError)):
        call(model, X, Y)
    model.set_params(**params)
    assert_unchanged(model, before)
    assert model.predict(X).shape == Y.shape


def test_failed_refit_keeps_the_dataframe_names(data):
    X, Y = data
    frame = pd.DataFrame(X, columns=list("abcde"))
    model = small().fit(frame, Y)
    with pytest.raises(ValueError):
        model.fit(np.where(X > 1, np.nan, X), Y)
    np.testing.assert_array_equal(model.feature_names_in_, list("abcde"))
    with pytest.raises(ValueError, match="Feature names must be in the same order"):
        model.predict(frame[list("edcba")])


def test_failed_transfer_refit_keeps_its_choices(data):
    X, Y = data
    source = small().fit(X, Y)
    rows = np.flatnonzero(~np.isnan(Y[:, 0]))[:30]
    model = TransferEstimator(source=source, random_state=0).fit(X[rows], Y[rows, 0])
    before = snapshot(model)
    with pytest.raises(ValueError, match="source trunk expects 5"):
        model.fit(X[rows, :3], Y[rows, 0])
    assert_unchanged(model, before)


def test_interrupted_refit_raises_and_keeps_the_old_model(data):
    X, Y = data
    model = small(max_epochs=10).fit(X, Y)
    before = snapshot(model)
    model.set_params(task_weighting=RaiseAt(at=5, error="interrupt"))
    with pytest.raises(KeyboardInterrupt):
        model.fit(X, Y)
    model.set_params(task_weighting="equal")
    assert_unchanged(model, before)
    assert model.n_iter_ == 10


def test_interrupted_first_fit_keeps_complete_epochs(data):
    X, Y = data
    model = small(
        max_epochs=10, batch_size=50, task_weighting=RaiseAt(at=11, error="interrupt")
    )
    with pytest.raises(KeyboardInterrupt):
        model.fit(X, Y)
    # 4 batches an epoch: the 11th batch is in epoch 3, which is dropped
    assert model.n_iter_ == 2
    assert len(model.history_) == 2
    assert np.isfinite(model.history_[-1, "train_loss"])
    assert model.predict(X).shape == Y.shape


def test_interrupt_is_not_swallowed_by_the_transfer_guard(data):
    X, Y = data
    source = small().fit(X, Y)
    rows = np.flatnonzero(~np.isnan(Y[:, 0]))[:30]
    model = TransferEstimator(
        source=source, task_weighting=RaiseAt(at=3, error="interrupt")
    )
    with pytest.raises(KeyboardInterrupt):
        model.fit(X[rows], Y[rows, 0])  # the 5-fold guard fits first
    assert not hasattr(model, "net_")


def test_exploding_loss_is_divergence(data):
    X, Y = data
    with pytest.raises(TrainingDivergedError, match="million times"):
        small(lr=1e6).fit(X, Y)
    kept = small(lr=1e6, early_stopping=True).fit(X, Y)  # the best weights seen
    assert kept.history_[-1, "diverged"]
    assert np.all(np.isfinite(kept.predict(X)))


def test_divergence_rule(data):
    X, Y = data
    net = small().fit(X, Y).net_
    reference = net.loss_reference
    assert np.all(np.abs(reference - 1.0) < 0.2)  # standardised: predicting the mean
    limit = DIVERGENCE_FACTOR * np.maximum(reference, 1.0)
    assert not net._diverged(0.99 * limit)
    assert net._diverged(np.where([True, False], 1.01 * limit, 0.0))
    assert net._diverged(np.array([np.nan, 0.0]))


def test_tiny_target_spread_is_learnt(data):
    X, _ = data
    y = 1e-14 * (X @ [1.0, -2.0, 0.5, 0.0, 1.0])
    model = small(hidden_layer_sizes=(), max_epochs=200, lr=1e-2).fit(X, y)
    assert model._target_scale[0] > 0
    assert model.score(X, y) > 0.95


@pytest.mark.parametrize("scale", [1e-46, 1e-30, 1e30, 1e300])
def test_sample_weight_scale_does_not_matter(data, scale):
    X, Y = data
    weights = np.random.RandomState(0).rand(len(X)) + 0.5
    reference = small().fit(X, Y, sample_weight=weights).predict(X)
    scaled = small().fit(X, Y, sample_weight=weights * scale).predict(X)
    np.testing.assert_allclose(scaled, reference, rtol=1e-5, atol=1e-6)


def test_sample_weight_beyond_float32_range_is_an_error(data):
    X, Y = data
    weights = np.ones(len(X))
    weights[0] = 1e-40
    with pytest.raises(ValueError, match="more than float32 training can represent"):
        small().fit(X, Y, sample_weight=weights)


def test_task_whose_labels_all_weigh_zero_is_an_error(data):
    X, Y = data
    weights = np.where(np.isnan(Y[:, 1]), 1.0, 0.0)
    with pytest.raises(ValueError, match=r"0 on every labelled row of task\(s\) \[1\]"):
        small().fit(X, Y, sample_weight=weights)


def test_score_rejects_negative_weights_like_fit(data):
    X, Y = data
    model = small().fit(X, Y)
    with pytest.raises(ValueError, match="[Nn]egative"):
        model.score(X, Y, sample_weight=-np.ones(len(X)))
