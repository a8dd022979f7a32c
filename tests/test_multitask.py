import pickle
import re

import numpy as np
import pytest
import torch
from _helpers import parameters_pickled_raw
from scipy import sparse
from skorch.exceptions import DeviceWarning

from sklearn_mtl import MultiTaskRegressor, TrainingDivergedError
from sklearn_mtl.datasets import make_multitask_regression

FAST = dict(hidden_layer_sizes=(32,), batch_size=32, max_epochs=30, random_state=0)


def test_learns_every_task_with_missing_labels(multitask_data):
    X, Y = multitask_data
    model = MultiTaskRegressor(hidden_layer_sizes=(64,), max_epochs=60, random_state=0)
    model.fit(X, Y)
    first = np.asarray(model.history_[0, "train_task_loss"])
    last = np.asarray(model.history_[-1, "train_task_loss"])
    assert np.all(first > 2 * last)
    assert model.score(X, Y) > 0.8


def test_fitted_attributes(fitted_model):
    model, X, Y = fitted_model
    assert model.n_features_in_ == X.shape[1]
    assert model.n_tasks_ == Y.shape[1]
    assert list(model.task_names_) == ["task_0", "task_1", "task_2"]
    assert model.n_iter_ == len(model.history_) == 40
    assert len(model.history_[-1, "train_task_loss"]) == 3
    assert model.history_[-1, "task_weights"] == pytest.approx([1 / 3] * 3)
    assert not hasattr(model, "feature_names_in_")


def test_predict_returns_float64_of_the_right_shape(fitted_model):
    model, X, _ = fitted_model
    pred = model.predict(X.astype(np.float32))
    assert pred.dtype == np.float64 and pred.shape == (len(X), 3)


def test_1d_y_gives_1d_predictions():
    X, Y = make_multitask_regression(n_samples=80, n_tasks=1, random_state=0)
    pred = MultiTaskRegressor(**FAST).fit(X, Y[:, 0]).predict(X)
    assert pred.shape == (80,)


def test_score_uses_only_labelled_cells(fitted_model):
    model, X, Y = fitted_model
    pred = model.predict(X)
    expected = np.mean(
        [
            1
            - np.sum((Y[m, t] - pred[m, t]) ** 2)
            / np.sum((Y[m, t] - Y[m, t].mean()) ** 2)
            for t in range(3)
            for m in [~np.isnan(Y[:, t])]
        ]
    )
    assert model.score(X, Y) == pytest.approx(expected)


def test_standardize_targets_maps_predictions_back():
    X, Y = make_multitask_regression(n_samples=200, n_tasks=2, random_state=0)
    Y = Y * np.array([1000.0, 0.001]) + np.array([5e4, -3.0])
    model = MultiTaskRegressor(
        hidden_layer_sizes=(32,), batch_size=32, max_epochs=60, random_state=0
    )
    pred = model.fit(X, Y).predict(X)
    assert model.score(X, Y) > 0.8
    assert np.allclose(
        pred.mean(axis=0), Y.mean(axis=0), rtol=0.05, atol=0.05 * Y.std(0)
    )


@pytest.mark.parametrize("loss", ["squared_error", "huber", "absolute_error"])
def test_every_loss_learns(loss, multitask_data):
    X, Y = multitask_data
    model = MultiTaskRegressor(loss=loss, **FAST).fit(X, Y)
    assert model.history_[0, "train_loss"] > 1.5 * model.history_[-1, "train_loss"]


@pytest.mark.parametrize("optimizer", ["adam", "adamw", "sgd", torch.optim.RMSprop])
def test_every_optimizer_learns(optimizer, multitask_data):
    X, Y = multitask_data
    model = MultiTaskRegressor(optimizer=optimizer, **FAST).fit(X, Y)
    assert model.history_[0, "train_loss"] > 1.5 * model.history_[-1, "train_loss"]


def test_head_layers_give_one_hidden_head_per_task(multitask_data):
    X, Y = multitask_data
    model = MultiTaskRegressor(head_layer_sizes=(8, 4), **FAST).fit(X, Y)
    heads = model.net_.module_.heads
    assert [tuple(w.shape) for w in heads.weights] == [(3, 32, 8), (3, 8, 4), (3, 4, 1)]
    assert model.history_[0, "train_loss"] > 1.5 * model.history_[-1, "train_loss"]


def test_empty_trunk_is_a_linear_model_per_task():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 3))
    Y = X @ np.array([[1.0, -2.0], [0.5, 0.0], [0.0, 3.0]]) + 1.0
    model = MultiTaskRegressor(
        hidden_layer_sizes=(),
        alpha=0,
        sharing_alpha=0,
        lr=0.02,
        batch_size=20,
        max_epochs=100,
        tol=0,
        random_state=0,
    ).fit(X, Y)
    assert model.score(X, Y) > 0.999


def test_fixed_task_weights_are_used_as_given(multitask_data):
    X, Y = multitask_data
    model = MultiTaskRegressor(task_weighting=[2.0, 1.0, 0.0], **FAST).fit(X, Y)
    assert model.history_[-1, "task_weights"] == [2.0, 1.0, 0.0]
    losses = np.asarray(model.history_[-1, "train_task_loss"])
    # the task with weight 0 is not trained: its loss stays far above the others
    assert losses[2] > 3 * losses[0]


def test_task_weight_count_must_match():
    X, Y = make_multitask_regression(n_samples=40, n_tasks=3, random_state=0)
    with pytest.raises(ValueError, match=r"shape \(2,\).*3 task"):
        MultiTaskRegressor(task_weighting=[1.0, 2.0], **FAST).fit(X, Y)


def test_sample_weight_zero_equals_dropping_rows():
    X, Y = make_multitask_regression(n_samples=60, n_tasks=2, random_state=0)
    sw = np.ones(60)
    sw[40:] = 0
    kw = dict(hidden_layer_sizes=(16,), max_epochs=20, random_state=0, batch_size=100)
    a = MultiTaskRegressor(**kw).fit(X, Y, sample_weight=sw).predict(X)
    b = MultiTaskRegressor(**kw).fit(X[:40], Y[:40]).predict(X)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_integer_sample_weight_equals_repeating_rows():
    # sklearn's check, over 50 epochs: after 200, Adam near the L2 equilibrium
    # has amplified float32 rounding differences (see tests/test_common.py)
    rng = np.random.RandomState(42)
    X, y = rng.rand(15, 30), rng.randint(0, 3, size=15).astype(float)
    sw = rng.randint(0, 5, size=15)
    sw[0] = 1  # at least one row
    kw = dict(random_state=0, batch_size=100, max_epochs=50)
    a = MultiTaskRegressor(**kw).fit(X, y, sample_weight=sw).predict(X)
    b = MultiTaskRegressor(**kw).fit(X.repeat(sw, axis=0), y.repeat(sw)).predict(X)
    np.testing.assert_allclose(a, b, rtol=1e-5)


def test_early_stopping_keeps_best_weights_and_records_validation(multitask_data):
    X, Y = multitask_data
    model = MultiTaskRegressor(
        hidden_layer_sizes=(256, 256),
        early_stopping=True,
        n_iter_no_change=3,
        max_epochs=200,
        lr=1e-2,
        random_state=0,
    ).fit(X, Y)
    valid = [row["valid_loss"] for row in model.history_]
    assert model.n_iter_ < 200
    assert len(model.history_[-1, "valid_task_loss"]) == 3
    best = int(np.argmin(valid))
    assert model.n_iter_ == best + 1 + 3


def test_early_stopping_split_keeps_every_task_in_training():
    X = np.arange(20.0).reshape(10, 2)
    Y = np.full((10, 2), np.nan)
    Y[:, 0] = 1.0
    Y[3, 1] = 2.0  # task 1 has a single label: it must stay in the training split
    model = MultiTaskRegressor(
        early_stopping=True, validation_fraction=0.5, max_epochs=2, random_state=0
    )
    model.fit(X, Y)  # would raise inside training if task 1 had no training row
    assert model.history_[-1, "train_task_loss"][1] >= 0


def test_warm_start_continues_training(multitask_data):
    X, Y = multitask_data
    model = MultiTaskRegressor(warm_start=True, **FAST).fit(X, Y)
    weights = model.net_.module_.heads.output.weight.detach().clone()
    model.set_params(max_epochs=5).fit(X, Y)
    assert model.n_iter_ == 35
    assert not torch.equal(weights, model.net_.module_.heads.output.weight)


def test_fit_without_warm_start_starts_over(multitask_data):
    X, Y = multitask_data
    model = MultiTaskRegressor(**FAST).fit(X, Y)
    assert model.fit(X, Y).n_iter_ == 30


def test_partial_fit_trains_one_epoch_at_a_time(multitask_data):
    X, Y = make_multitask_regression(n_samples=100, n_tasks=3, random_state=0)
    model = MultiTaskRegressor(hidden_layer_sizes=(32,), random_state=0)
    for _ in range(3):
        model.partial_fit(X, Y)
    assert model.n_iter_ == 3
    with pytest.raises(ValueError, match=r"y has 2 task\(s\), but .* fitted on 3"):
        model.partial_fit(X, Y[:, :2])


def test_pandas_gives_feature_and_task_names():
    pd = pytest.importorskip("pandas")
    X, Y = make_multitask_regression(
        n_samples=50, n_features=3, n_tasks=2, random_state=0
    )
    X = pd.DataFrame(X, columns=["a", "b", "c"])
    Y = pd.DataFrame(Y, columns=["height", "weight"])
    model = MultiTaskRegressor(**FAST).fit(X, Y)
    assert list(model.feature_names_in_) == ["a", "b", "c"]
    assert list(model.task_names_) == ["height", "weight"]
    assert model.predict(X).shape == (50, 2)


def test_random_state_leaves_global_torch_rng_untouched(multitask_data):
    X, Y = multitask_data
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    MultiTaskRegressor(dropout=0.2, **FAST).fit(X, Y)
    assert torch.equal(torch.rand(3), expected)


def test_verbose_zero_prints_nothing(multitask_data, capsys):
    X, Y = multitask_data
    MultiTaskRegressor(**FAST).fit(X, Y)
    assert capsys.readouterr().out == ""


def test_verbose_two_prints_a_table_row_per_epoch(multitask_data, capsys):
    X, Y = multitask_data
    MultiTaskRegressor(verbose=2, **{**FAST, "max_epochs": 3}).fit(X, Y)
    out = capsys.readouterr().out
    assert "train_loss" in out and len(re.findall(r"^\s+3\s", out, flags=re.M)) == 1


def test_pickle_round_trip_predicts_identically(fitted_model):
    model, X, _ = fitted_model
    clone = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(clone.predict(X), model.predict(X))


def test_predict_dtype_float32_is_close_to_float64(fitted_model):
    model, X, _ = fitted_model
    fast = pickle.loads(pickle.dumps(model)).set_params(predict_dtype="float32")
    np.testing.assert_allclose(fast.predict(X), model.predict(X), rtol=1e-4, atol=1e-4)


def test_predict_works_in_chunks(fitted_model, monkeypatch):
    import sklearn_mtl._base as base

    model, X, _ = fitted_model
    full = model.predict(X)
    monkeypatch.setattr(base, "PREDICT_CHUNK_ROWS", 7)
    np.testing.assert_allclose(model.predict(X), full, rtol=1e-12)


def test_float32_chunks_hold_as_many_bytes_as_float64_ones(fitted_model, monkeypatch):
    import sklearn_mtl._base as base
    import sklearn_mtl._tensors as tensors

    model, X, _ = fitted_model
    seen = []
    run = tensors.eval_in_chunks

    def spy(module, X, device, dtype, chunk_rows, *args):
        seen.append((dtype, chunk_rows))
        return run(module, X, device, dtype, chunk_rows, *args)

    monkeypatch.setattr(base, "eval_in_chunks", spy)
    monkeypatch.setattr(base, "PREDICT_CHUNK_ROWS", 7)
    fast = pickle.loads(pickle.dumps(model))
    model.predict(X)
    fast.set_params(predict_dtype="float32").predict(X)
    assert seen == [(torch.float64, 7), (torch.float32, 14)]


# ---- bad input: a clear ValueError naming the problem ---------------------


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.nan, "Input X contains NaN"),
        (np.inf, "Input X contains infinity"),
    ],
)
def test_nonfinite_x_is_rejected(bad, match):
    X, Y = make_multitask_regression(n_samples=20, n_tasks=2, random_state=0)
    X[3, 1] = bad
    with pytest.raises(ValueError, match=match):
        MultiTaskRegressor(**FAST).fit(X, Y)


def test_inf_in_y_is_rejected():
    X, Y = make_multitask_regression(n_samples=20, n_tasks=2, random_state=0)
    Y[2, 0] = np.inf
    with pytest.raises(ValueError, match="Input y contains infinity"):
        MultiTaskRegressor(**FAST).fit(X, Y)


def test_task_without_labels_is_named():
    pd = pytest.importorskip("pandas")
    X, Y = make_multitask_regression(n_samples=20, n_tasks=2, random_state=0)
    Y = pd.DataFrame(Y, columns=["speed", "torque"])
    Y["torque"] = np.nan
    with pytest.raises(ValueError, match="task.*'torque'"):
        MultiTaskRegressor(**FAST).fit(X, Y)


def test_rows_without_any_label_are_rejected():
    X, Y = make_multitask_regression(n_samples=20, n_tasks=2, random_state=0)
    Y[[4, 7]] = np.nan
    with pytest.raises(ValueError, match=r"2 row\(s\) of y have no label.*rows 4, 7"):
        MultiTaskRegressor(**FAST).fit(X, Y)


def test_wrong_feature_count_at_predict(fitted_model):
    model, X, _ = fitted_model
    with pytest.raises(
        ValueError,
        match="X has 5 features, but MultiTaskRegressor is expecting 6 features",
    ):
        model.predict(X[:, :5])


@pytest.mark.parametrize(
    "X, match",
    [
        (np.array([["a", "b"], ["c", "d"]], dtype=object), "could not convert|Unable"),
        (np.ones((4, 2)) + 1j, "Complex data not supported"),
        (sparse.csr_matrix(np.ones((4, 2))), "Sparse data was passed"),
        (np.empty((0, 3)), "0 sample"),
    ],
    ids=["object", "complex", "sparse", "empty"],
)
def test_unusable_x_is_rejected(X, match):
    y = np.arange(X.shape[0], dtype=float)
    with pytest.raises((ValueError, TypeError), match=match):
        MultiTaskRegressor(**FAST).fit(X, y)


@pytest.mark.parametrize("sizes", [(10, 0), (0,), (-3,), (4.5,)])
def test_bad_hidden_layer_sizes(sizes):
    X, Y = make_multitask_regression(n_samples=20, n_tasks=2, random_state=0)
    with pytest.raises(ValueError, match="hidden_layer_sizes must hold positive"):
        MultiTaskRegressor(hidden_layer_sizes=sizes).fit(X, Y)


def test_unknown_device():
    X, Y = make_multitask_regression(n_samples=20, n_tasks=2, random_state=0)
    with pytest.raises(ValueError, match="Unknown device 'gpu0'"):
        MultiTaskRegressor(device="gpu0", **FAST).fit(X, Y)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_gpu_is_a_clear_error():
    X, Y = make_multitask_regression(n_samples=20, n_tasks=2, random_state=0)
    with pytest.raises(ValueError, match=r"device='cuda'.*is_available\(\) is False"):
        MultiTaskRegressor(device="cuda", **FAST).fit(X, Y)


def test_failed_refit_keeps_the_fitted_model(fitted_model):
    model, X, Y = fitted_model
    trained = pickle.loads(pickle.dumps(model))
    before = trained.predict(X)
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        trained.set_params(hidden_layer_sizes=(0,)).fit(X, Y)
    with pytest.raises(ValueError, match="labelled row"):
        trained.set_params(hidden_layer_sizes=(32,)).fit(X, np.full_like(Y, np.nan))
    np.testing.assert_array_equal(trained.predict(X), before)
    assert trained.n_tasks_ == 3


def test_divergence_stops_with_a_clear_error():
    X, Y = make_multitask_regression(n_samples=100, n_tasks=2, random_state=0)
    model = MultiTaskRegressor(optimizer="sgd", lr=1e6, max_epochs=50, random_state=0)
    with pytest.raises(
        TrainingDivergedError, match="NaN or infinite.*Lower the learning"
    ):
        model.fit(X * 1e3, Y)
    assert not hasattr(model, "net_")


def test_divergence_with_early_stopping_keeps_best_weights():
    X, Y = make_multitask_regression(n_samples=200, n_tasks=2, random_state=0)

    class Explode(torch.optim.SGD):
        """SGD whose step size blows up after a few steps."""

        def step(self, closure=None):
            loss = super().step(closure)
            for group in self.param_groups:
                group["lr"] *= 3.0
            return loss

    model = MultiTaskRegressor(
        optimizer=Explode,
        lr=1e-3,
        early_stopping=True,
        max_epochs=100,
        hidden_layer_sizes=(16,),
        random_state=0,
    ).fit(X, Y)
    assert model.history_[-1, "diverged"] is True
    assert np.all(np.isfinite(model.predict(X)))
    assert model.score(X, Y) > 0


def test_constant_task_is_predicted_as_its_constant():
    X, Y = make_multitask_regression(n_samples=50, n_tasks=2, random_state=0)
    Y[:, 1] = 7.5
    pred = MultiTaskRegressor(**FAST).fit(X, Y).predict(X + 3.0)
    np.testing.assert_array_equal(pred[:, 1], 7.5)


def test_pickle_keeps_no_training_buffers_and_can_resume(fitted_model):
    model, X, Y = fitted_model
    state = model.net_.__getstate__()
    assert "_task_stats" not in state
    resumed = pickle.loads(pickle.dumps(model))
    n_iter = resumed.n_iter_
    X_full, Y_full = make_multitask_regression(
        n_samples=60, n_features=6, n_tasks=3, random_state=3
    )
    resumed.partial_fit(X_full, Y_full)
    assert resumed.n_iter_ == n_iter + 1


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_net_pickled_on_cuda_unpickles_on_the_cpu_and_trains_on(fitted_model):
    # a CPU net that says "cuda" takes skorch's CUDA-to-CPU path when unpickled
    model, X, Y = fitted_model
    model = pickle.loads(pickle.dumps(model))
    model.net_.device = "cuda"
    with pytest.warns(DeviceWarning):
        again = pickle.loads(pickle.dumps(model))
    assert again.net_.device == "cpu"
    again.partial_fit(X[:100], Y[:100])
    assert np.all(np.isfinite(again.predict(X)))


def test_pickle_keeps_weights_inside_the_device_mapped_state(fitted_model):
    # what lets a CUDA-trained model unpickle on a machine without a GPU
    model, X, _ = fitted_model
    assert parameters_pickled_raw(model) == []
    again = pickle.loads(pickle.dumps(model))
    assert again.net_.module is again.net_.module_
    np.testing.assert_array_equal(again.predict(X), model.predict(X))
