import numpy as np
import pytest
import torch
from skorch.callbacks import Callback, LRScheduler
from torch.optim.lr_scheduler import ExponentialLR

from sklearn_mtl import MultiTaskRegressor
from sklearn_mtl._net import MultiTaskNet
from sklearn_mtl._tensors import TensorBatches, TensorData, eval_in_chunks
from sklearn_mtl.datasets import make_multitask_regression


def make_data(n=10, t=2):
    X = torch.arange(n * 3, dtype=torch.float32).reshape(n, 3)
    return TensorData(X, torch.zeros(n, t), torch.ones(n, t))


def test_batches_cover_every_row_once_in_order():
    batches = list(TensorBatches(make_data(), batch_size=4))
    assert [len(xb) for xb, _ in batches] == [4, 4, 2]
    torch.testing.assert_close(torch.cat([xb for xb, _ in batches]), make_data().X)


def test_shuffled_batches_are_a_permutation_and_change_each_epoch():
    iterator = TensorBatches(
        make_data(), 3, shuffle=True, generator=torch.Generator().manual_seed(0)
    )
    first = torch.cat([xb[:, 0] for xb, _ in iterator])
    second = torch.cat([xb[:, 0] for xb, _ in iterator])
    assert sorted(first.tolist()) == sorted(make_data().X[:, 0].tolist())
    assert not torch.equal(first, second)
    assert len(iterator) == 4


def test_masked_loss_equals_the_loss_on_labelled_cells(fitted_model):
    model, X, Y = fitted_model
    net = model.net_
    Z = (Y - model._target_mean) / model._target_scale
    labelled = ~np.isnan(Y)
    pred = net.module_(torch.tensor(X, dtype=torch.float32)).detach()
    loss = net.get_loss(
        pred,
        (
            torch.tensor(np.nan_to_num(Z), dtype=torch.float32),
            torch.tensor(labelled, dtype=torch.float32),
        ),
    )
    expected = np.mean(
        [
            np.mean((pred.numpy()[labelled[:, t], t] - Z[labelled[:, t], t]) ** 2)
            for t in range(Y.shape[1])
        ]
    )
    assert loss.item() == np.float32(expected) or abs(loss.item() - expected) < 1e-5


def test_unit_weight_squared_error_is_one_fused_mean_of_the_same_value():
    # every cell weighing 1, equal task weights, MSE: the objective is one
    # mse_loss; its value, gradient and recorded per-task sums are those of
    # the masked per-task losses
    X, Y = make_multitask_regression(n_samples=64, n_features=4, n_tasks=3)
    model = MultiTaskRegressor(hidden_layer_sizes=(8,), max_epochs=1).fit(X, Y)
    net = model.net_
    data = TensorData(
        *(torch.tensor(a, dtype=torch.float32) for a in (X, Y, np.ones_like(Y)))
    )
    Xb, yb = next(iter(TensorBatches(data, 32)))
    pred = net.module_(Xb)
    assert net._mean_squared_error(pred, yb, None) is not None  # the fused path
    net._batch_task_stats["train"].clear()
    fused = net.get_loss(pred, yb, training=True)
    assert not net._batch_task_stats["train"]  # deferred: summed at the epoch's end
    net._sum_deferred("train")
    ((fused_sums, fused_counts),) = net._batch_task_stats["train"]
    grads = torch.autograd.grad(
        fused, list(net.module_.parameters()), retain_graph=True
    )
    net._batch_task_stats["train"].clear()
    task_losses, present = net.task_losses(pred, yb, training=True)
    masked = net.task_weighting.combine(task_losses, present)
    if net.penalty is not None:  # get_loss adds it while training
        masked = masked + net.penalty(net.module_)
    ((sums, counts),) = net._batch_task_stats["train"]
    expected = torch.autograd.grad(masked, list(net.module_.parameters()))
    torch.testing.assert_close(fused, masked, rtol=1e-6, atol=0)
    torch.testing.assert_close(fused_sums, sums, rtol=1e-6, atol=0)
    torch.testing.assert_close(fused_counts, counts)
    for grad, grad_expected in zip(grads, expected, strict=True):
        torch.testing.assert_close(grad, grad_expected, rtol=1e-5, atol=1e-7)


def test_the_fused_mean_is_only_for_unit_weights_and_equal_squared_error():
    X, Y = make_multitask_regression(n_samples=64, n_features=4, n_tasks=3)
    net = MultiTaskRegressor(hidden_layer_sizes=(8,), max_epochs=1).fit(X, Y).net_
    weights = np.ones_like(Y)
    weights[0, 1] = 0.0  # one missing label
    data = TensorData(*(torch.tensor(a, dtype=torch.float32) for a in (X, Y, weights)))
    Xb, yb = next(iter(TensorBatches(data, 32)))
    assert net._mean_squared_error(net.module_(Xb), yb, None) is None
    for params in ({"loss": "huber"}, {"task_weighting": "uncertainty"}):
        other = MultiTaskRegressor(hidden_layer_sizes=(8,), max_epochs=1, **params)
        other_net = other.fit(X, Y).net_
        unit = TensorData(
            *(torch.tensor(a, dtype=torch.float32) for a in (X, Y, np.ones_like(Y)))
        )
        Xb, yb = next(iter(TensorBatches(unit, 32)))
        assert other_net._mean_squared_error(other_net.module_(Xb), yb, None) is None


# ---- the epoch loop: skorch's records, fewer per-batch calls ---------------


class BatchCounter(Callback):
    """Counts skorch's per-batch hooks (and so makes the net use skorch's loop)."""

    def initialize(self):
        self.batches = 0
        return self

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        self.batches += training


def fit_small(X, Y, callbacks=None, **params):
    settings = dict(
        hidden_layer_sizes=(8,),
        batch_size=32,
        max_epochs=3,
        n_iter_no_change=10,
        random_state=0,
    )
    settings.update(params)
    return MultiTaskRegressor(callbacks=callbacks, **settings).fit(X, Y)


@pytest.mark.parametrize("missing_rate", [0.0, 0.3])
@pytest.mark.parametrize("early_stopping", [False, True])
def test_loop_without_batch_hooks_records_what_skorchs_loop_records(
    missing_rate, early_stopping
):
    X, Y = make_multitask_regression(
        n_samples=150,
        n_features=4,
        n_tasks=3,
        missing_rate=missing_rate,
        random_state=0,
    )
    fast = fit_small(X, Y, early_stopping=early_stopping)
    hooked = fit_small(
        X, Y, callbacks=[("counter", BatchCounter())], early_stopping=early_stopping
    )
    assert not fast.net_._listens_to_batches()
    assert hooked.net_._listens_to_batches()
    keys = [
        "epoch",
        "train_loss",
        "train_batch_count",
        "train_task_loss",
        "task_weights",
    ]
    if early_stopping:
        keys += ["valid_loss", "valid_batch_count", "valid_task_loss"]
    for row_fast, row_hooked in zip(fast.history_, hooked.history_, strict=True):
        assert [row_fast[k] for k in keys] == [row_hooked[k] for k in keys]
        assert row_fast["batches"] == row_hooked["batches"]
    np.testing.assert_array_equal(fast.predict(X), hooked.predict(X))


def test_history_has_a_complete_row_per_batch():
    X, Y = make_multitask_regression(
        n_samples=150, n_features=4, n_tasks=2, missing_rate=0.2, random_state=0
    )
    model = fit_small(X, Y, max_epochs=2)
    for row in model.history_:
        batches = row["batches"]
        assert len(batches) == row["train_batch_count"] == 5  # ceil(150 / 32)
        assert [b["train_batch_size"] for b in batches] == [32, 32, 32, 32, 22]
        assert all(np.isfinite(b["train_loss"]) for b in batches)
        expected = np.average(
            [b["train_loss"] for b in batches],
            weights=[b["train_batch_size"] for b in batches],
        )
        assert row["train_loss"] == pytest.approx(expected, rel=1e-12)


def test_no_per_batch_hook_is_called_when_no_callback_has_one(monkeypatch):
    X, Y = make_multitask_regression(
        n_samples=100, n_features=4, n_tasks=2, random_state=0
    )
    calls = []
    notify = MultiTaskNet.notify

    def spy(self, method_name, **kwargs):
        calls.append(method_name)
        return notify(self, method_name, **kwargs)

    monkeypatch.setattr(MultiTaskNet, "notify", spy)
    fit_small(X, Y, max_epochs=2)
    assert not {"on_batch_begin", "on_batch_end", "on_grad_computed"} & set(calls)
    assert calls.count("on_epoch_end") == 2


def test_per_batch_callbacks_still_run_every_batch():
    X, Y = make_multitask_regression(
        n_samples=100, n_features=4, n_tasks=2, random_state=0
    )
    gamma = 0.9
    model = fit_small(
        X,
        Y,
        max_epochs=3,
        lr=0.01,
        callbacks=[
            ("counter", BatchCounter()),
            LRScheduler(policy=ExponentialLR, gamma=gamma, step_every="batch"),
        ],
    )
    steps = 3 * 4  # 3 epochs of ceil(100 / 32) batches
    assert dict(model.net_.callbacks_)["counter"].batches == steps
    lr = model.net_.optimizer_.param_groups[0]["lr"]
    assert lr == pytest.approx(0.01 * gamma**steps, rel=1e-9)


def test_recorded_task_losses_equal_a_recomputation():
    # with a learning rate of 1e-12 the weights stay put, so every batch of the
    # epoch sees the final network: the epoch's per-task loss is the weighted
    # mean squared error of the final network over each task's labelled rows
    X, Y = make_multitask_regression(
        n_samples=200, n_features=4, n_tasks=3, missing_rate=0.3, random_state=0
    )
    sample_weight = np.random.default_rng(0).uniform(0.5, 2.0, size=len(X))
    model = MultiTaskRegressor(
        hidden_layer_sizes=(8,),
        batch_size=32,
        max_epochs=1,
        optimizer="sgd",
        lr=1e-12,
        alpha=0.0,
        sharing_alpha=0.0,
        random_state=0,
    ).fit(X, Y, sample_weight=sample_weight)
    Z = (Y - model._target_mean) / model._target_scale
    with torch.no_grad():
        pred = model.net_.module_(torch.tensor(X, dtype=torch.float32)).double()
    labelled = ~np.isnan(Y)
    expected = [
        np.average(
            (pred.numpy()[labelled[:, t], t] - Z[labelled[:, t], t]) ** 2,
            weights=sample_weight[labelled[:, t]],
        )
        for t in range(Y.shape[1])
    ]
    recorded = model.history_[-1, "train_task_loss"]
    np.testing.assert_allclose(recorded, expected, rtol=1e-5)


def test_unit_weights_give_the_same_task_losses_as_explicit_ones(fitted_model):
    model, X, _ = fitted_model
    net = model.net_
    data = TensorData(
        torch.tensor(X[:40], dtype=torch.float32), torch.randn(40, 3), torch.ones(40, 3)
    )
    assert data.unit_weights is not None
    for Xb, (Yb, Wb) in TensorBatches(data, 16, True, torch.Generator().manual_seed(0)):
        assert Wb.shape == (len(Xb), 3) and bool((Wb == 1).all())
        pred = net.module_(Xb)
        unit_losses, unit_present = net.task_losses(pred, (Yb, Wb))
        losses, present = net.task_losses(pred, (Yb, Wb.clone()))
        torch.testing.assert_close(unit_losses, losses, rtol=0, atol=0)
        assert torch.equal(unit_present, present)
    partly = TensorData(
        data.X, data.Y, torch.ones(40, 3).index_fill_(0, torch.tensor([3]), 0)
    )
    assert partly.unit_weights is None


def test_eval_in_chunks_returns_a_fresh_float64_array_for_one_chunk():
    module = torch.nn.Linear(3, 2)
    X = np.random.default_rng(0).normal(size=(10, 3))
    one = eval_in_chunks(module, X, "cpu", chunk_rows=100)
    several = eval_in_chunks(module, X, "cpu", chunk_rows=4)
    assert one.dtype == np.float64 and one.flags.c_contiguous and one.flags.writeable
    np.testing.assert_allclose(one, several, rtol=1e-6)
    one *= 0  # the caller may scale it in place: the module is not touched
    np.testing.assert_allclose(eval_in_chunks(module, X, "cpu"), several, rtol=1e-6)


def test_deferred_squared_errors_give_the_per_batch_sums(monkeypatch):
    # the fused path sums its per-task squared errors over many batches at
    # once; flushed after every batch, the history reads the same
    import sklearn_mtl._net as net_module

    X, Y = make_multitask_regression(n_samples=300, n_features=4, n_tasks=3)
    params = dict(hidden_layer_sizes=(8,), max_epochs=3, batch_size=32, random_state=0)
    params.update(early_stopping=True, n_iter_no_change=10)  # valid_task_loss too
    deferred = MultiTaskRegressor(**params).fit(X, Y).history_
    monkeypatch.setattr(net_module, "DEFERRED_CELLS", 1)  # every batch
    each = MultiTaskRegressor(**params).fit(X, Y).history_
    for key in ("train_task_loss", "valid_task_loss"):
        np.testing.assert_allclose(
            deferred[:, key], each[:, key], rtol=1e-6, err_msg=key
        )
    assert len(deferred[-1, "train_task_loss"]) == 3
