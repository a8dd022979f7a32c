"""partial_fit and warm starts: settings apply, chunks lack tasks, scaling adapts."""

import numpy as np
import pytest
import torch

from sklearn_mtl import MultiTaskRegressor, TransferEstimator
from sklearn_mtl._scaling import TargetMoments, rescale_task_outputs, scale_from
from sklearn_mtl.datasets import make_multitask_regression


def small(**params):
    return MultiTaskRegressor(
        **{"hidden_layer_sizes": (16,), "max_epochs": 5, "random_state": 0, **params}
    )


@pytest.fixture(scope="module")
def data():
    return make_multitask_regression(
        n_samples=240, n_features=5, n_tasks=3, missing_rate=0.3, random_state=0
    )


def stopper(model):
    return dict(model.net_.callbacks_)["stopper"]


# skorch's test_set_lr_at_runtime_sets_lr, through the estimator
@pytest.mark.parametrize("how", ["partial_fit", "warm_start"])
def test_set_lr_at_runtime_sets_lr(data, how):
    X, Y = data
    model = small().fit(X, Y)
    model.set_params(lr=0.0123)
    if how == "partial_fit":
        model.partial_fit(X, Y)
    else:
        model.set_params(warm_start=True).fit(X, Y)
    assert model.net_.optimizer_.param_groups[0]["lr"] == 0.0123
    assert model.net_.lr == 0.0123


def test_changed_training_settings_apply_on_the_next_call(data):
    X, Y = data
    model = small().fit(X, Y)
    model.set_params(
        alpha=0.5, sharing_alpha=0.0, batch_size=17, tol=0.3, n_iter_no_change=7
    )
    model.partial_fit(X, Y)
    assert model.net_.penalty.alpha == 0.5
    assert model.net_.batch_size == 17
    assert stopper(model).threshold == 0.3
    assert stopper(model).patience == 7


def test_optimizer_moments_carry_over_when_only_lr_changes(data):
    X, Y = data
    model = small().fit(X, Y)
    steps = model.net_.optimizer_.state_dict()["state"][0]["step"].item()
    model.set_params(lr=0.01).partial_fit(X, Y)
    after = model.net_.optimizer_.state_dict()["state"][0]["step"].item()
    assert after > steps  # Adam's step count went on, not from zero


@pytest.mark.parametrize(
    "change",
    [
        {"hidden_layer_sizes": (8,)},
        {"activation": "tanh"},
        {"head_layer_sizes": (4,)},
        {"sharing": "soft"},
    ],
)
def test_architecture_change_on_warm_start_is_an_error(data, change):
    X, Y = data
    model = small().fit(X, Y)
    model.set_params(warm_start=True, **change)
    with pytest.raises(ValueError, match=f"{next(iter(change))}=.*warm_start=False"):
        model.fit(X, Y)
    with pytest.raises(ValueError, match="architecture"):
        model.partial_fit(X, Y)


def test_architecture_change_without_warm_start_refits(data):
    X, Y = data
    model = small().fit(X, Y)
    model.set_params(hidden_layer_sizes=(8,)).fit(X, Y)
    assert model.net_.module_.trunk[0].out_features == 8


def test_partial_fit_accepts_chunks_that_lack_a_task(data):
    X, Y = data
    model = small()
    first = Y[:80].copy()
    first[:, 0] = np.nan
    keep = ~np.isnan(first).all(axis=1)
    model.partial_fit(X[:80][keep], first[keep])
    assert model._target_scale[0] == 1.0 and model._target_mean[0] == 0.0
    model.partial_fit(X[80:], Y[80:])
    labelled = ~np.isnan(Y[80:, 0])
    np.testing.assert_allclose(
        model._target_mean[0], Y[80:, 0][labelled].mean(), rtol=1e-12
    )
    assert model.n_iter_ == 2


def test_fit_still_rejects_a_task_without_labels(data):
    X, Y = data
    Y = Y.copy()
    Y[:, 1] = np.nan
    keep = ~np.isnan(Y).all(axis=1)
    with pytest.raises(ValueError, match="NaN in every row of task"):
        small().fit(X[keep], Y[keep])


# sklearn's MLP learns after a constant first chunk; the scaling must adapt
def test_constant_first_chunk_does_not_freeze_the_scaling():
    rng = np.random.RandomState(0)
    X = rng.randn(2000, 4)
    y = X @ [1.0, 2.0, 0.0, -1.0] + 0.1 * rng.randn(2000)
    model = MultiTaskRegressor(hidden_layer_sizes=(32,), batch_size=20, random_state=0)
    model.partial_fit(X[:50], np.full(50, 3.0))
    assert model._target_scale[0] == 0.0
    for i in range(100):
        start = 50 + (i * 100) % 1900
        model.partial_fit(X[start : start + 100], y[start : start + 100])
    assert model.score(X, y) > 0.95


def test_moments_merge_like_the_union_of_the_rows():
    rng = np.random.RandomState(0)
    Y = rng.randn(60, 2) * [3.0, 1e-3] + [1e3, -2.0]
    Y[rng.rand(60, 2) < 0.3] = np.nan
    w = rng.rand(60) + 0.1
    merged = TargetMoments.of(Y[:25], w[:25]).merge(TargetMoments.of(Y[25:], w[25:]))
    whole = TargetMoments.of(Y, w)
    for name in ("weight", "mean", "std"):
        np.testing.assert_allclose(
            getattr(merged, name), getattr(whole, name), rtol=1e-10
        )


def test_constant_is_a_relative_rule():
    Y = np.c_[1e-14 * np.arange(5.0), np.full(5, 7.0), 1e6 + 1e-3 * np.arange(5.0)]
    _, scale = scale_from(TargetMoments.of(Y, np.ones(5)))
    assert scale[0] > 0 and scale[1] == 0 and scale[2] > 0


@pytest.mark.parametrize("head_layer_sizes", [(), (4,)])
def test_rescaling_the_output_layer_keeps_the_predictions(data, head_layer_sizes):
    X, Y = data
    model = small(head_layer_sizes=head_layer_sizes).fit(X, Y)
    before = model.predict(X)
    old = (model._target_mean.copy(), model._target_scale.copy())
    new = (old[0] + [1.0, -2.0, 0.5], old[1] * [2.0, 0.5, 3.0])
    rescale_task_outputs(model.net_.module_.heads, old, new)
    model._target_mean, model._target_scale = new
    np.testing.assert_allclose(model.predict(X), before, rtol=1e-5, atol=1e-5)


def test_linear_probe_partial_fit_trains_the_head_only(data):
    X, Y = data
    source = small().fit(X, Y)
    rows = np.flatnonzero(~np.isnan(Y[:, 0]))[:40]
    X, y = X[rows], Y[rows, 0]
    model = TransferEstimator(
        source=source, strategy="linear_probe", random_state=0
    ).fit(X, y)
    assert model.n_iter_ == 0  # the closed-form probe
    trunk = {k: v.clone() for k, v in model.net_.module_.trunk.state_dict().items()}
    before = model.predict(X)
    model.partial_fit(X, y + 1.0)
    assert model.n_iter_ == 1
    assert not np.allclose(model.predict(X), before)
    for name, value in model.net_.module_.trunk.state_dict().items():
        torch.testing.assert_close(value, trunk[name], rtol=0, atol=0)


# sklearn's and skorch's tests expect the best validation epoch's weights back
def test_early_stopping_restores_the_lowest_validation_loss(data):
    X, Y = data
    model = small(
        max_epochs=30, early_stopping=True, tol=0.2, n_iter_no_change=25, lr=1e-2
    ).fit(X, Y)
    losses = model.history_[:, "valid_loss"]
    best = int(np.argmin(losses)) + 1
    assert best > 1  # with tol=0.2 skorch's own rule keeps epoch 1
    assert stopper(model).best_epoch_ == best
    weights = stopper(model).best_model_weights_
    for name, value in model.net_.module_.state_dict().items():
        torch.testing.assert_close(value, weights[name], rtol=0, atol=0)


def test_n_iter_no_change_inf_turns_the_stopping_rule_off(data):
    X, Y = data
    model = small(max_epochs=12, n_iter_no_change=np.inf, tol=10.0).fit(X, Y)
    assert model.n_iter_ == 12
