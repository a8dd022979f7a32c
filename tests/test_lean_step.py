"""The lean training step: the net's plain step without skorch's layers."""

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback

import sklearn_mtl._net as net_module
from sklearn_mtl import MultiTaskRegressor
from sklearn_mtl._lean_step import lean_training_step
from sklearn_mtl._net import MultiTaskNet
from sklearn_mtl.datasets import make_multitask_regression

FAST = dict(max_epochs=3, batch_size=32, random_state=0, early_stopping=False)


def data(missing_rate=0.0):
    return make_multitask_regression(
        n_samples=150,
        n_features=5,
        n_tasks=3,
        missing_rate=missing_rate,
        random_state=0,
    )


def count_net_steps(monkeypatch):
    calls = []
    step = MultiTaskNet._train_step_without_hooks

    def spy(self, batch, **fit_params):
        calls.append(len(batch[0]))
        return step(self, batch, **fit_params)

    monkeypatch.setattr(MultiTaskNet, "_train_step_without_hooks", spy)
    return calls


def test_fits_take_the_lean_step_with_or_without_nan_labels(monkeypatch):
    calls = count_net_steps(monkeypatch)
    for missing_rate in (0.0, 0.3):
        X, Y = data(missing_rate)
        MultiTaskRegressor(hidden_layer_sizes=(8,), **FAST).fit(X, Y)
    assert calls == []  # every batch: the lean step, not the net's


class NoOpTrunk(torch.nn.Module):
    """A user's trunk: runs through its own module call."""

    def __init__(self, n_features):
        super().__init__()
        self.layer = torch.nn.Linear(n_features, 6)
        self.out_features = 6

    def forward(self, x):
        return torch.tanh(self.layer(x))


@pytest.mark.parametrize(
    "params",
    [
        dict(hidden_layer_sizes=(8, 4)),
        dict(hidden_layer_sizes=(8,), alpha=1e-2),  # a penalty in the loss
        dict(hidden_layer_sizes=(8,), dropout=0.3),  # dropout: the module's call
        dict(hidden_layer_sizes=(8,), activation="gelu", optimizer="sgd"),
        dict(hidden_layer_sizes=(8,), head_layer_sizes=(4,)),
        dict(trunk=NoOpTrunk(5)),
        dict(hidden_layer_sizes=(8,), early_stopping=True, n_iter_no_change=5),
        dict(hidden_layer_sizes=(8,), task_weighting="uncertainty"),
        dict(hidden_layer_sizes=(8,), task_weighting="dwa", loss="huber"),
    ],
    ids=[
        "mlp",
        "penalty",
        "dropout",
        "gelu-sgd",
        "head-layers",
        "own-trunk",
        "es",
        "uncertainty",
        "dwa-huber",
    ],
)
@pytest.mark.parametrize("missing_rate", [0.0, 0.3])
def test_lean_step_trains_exactly_as_the_nets_step(params, missing_rate, monkeypatch):
    X, Y = data(missing_rate)
    weights = np.ones(len(X))
    weights[::7] = 2.0  # batches with other weights: the masked loss
    settings = {**FAST, **params}
    for sample_weight in (None, weights):
        lean = MultiTaskRegressor(**settings).fit(X, Y, sample_weight=sample_weight)
        with monkeypatch.context() as patch:
            patch.setattr(net_module, "lean_training_step", lambda net, it: None)
            net = MultiTaskRegressor(**settings).fit(X, Y, sample_weight=sample_weight)
        for a, b in zip(
            lean.net_.module_.parameters(), net.net_.module_.parameters(), strict=True
        ):
            torch.testing.assert_close(a, b, rtol=0, atol=0)
        for key in ("train_loss", "train_task_loss"):
            assert lean.history_[:, key] == net.history_[:, key], key
        assert [row["batches"] for row in lean.history_] == [
            row["batches"] for row in net.history_
        ]


class OnBatchEnd(Callback):
    def on_batch_end(self, net, **kwargs):
        pass


@pytest.mark.parametrize(
    "params",
    [
        dict(task_weighting="pcgrad"),  # per-task gradients
        dict(task_weighting="gradnorm"),
        dict(optimizer=torch.optim.Adagrad),  # not known to call its closure once
        dict(task_affinity="lookahead"),
    ],
    ids=["pcgrad", "gradnorm", "adagrad", "affinity"],
)
def test_no_lean_step_where_the_objective_or_optimizer_needs_more(params, monkeypatch):
    steps = []
    monkeypatch.setattr(
        net_module,
        "lean_training_step",
        lambda net, it: steps.append(lean_training_step(net, it)),
    )
    calls = count_net_steps(monkeypatch)
    X, Y = data()
    MultiTaskRegressor(hidden_layer_sizes=(8,), **{**FAST, **params}).fit(X, Y)
    assert steps == [None] * 3 and len(calls) >= 3 * 5


def test_a_per_batch_callback_keeps_skorchs_loop(monkeypatch):
    calls = count_net_steps(monkeypatch)
    X, Y = data()
    model = MultiTaskRegressor(
        hidden_layer_sizes=(8,), callbacks=[("c", OnBatchEnd())], **FAST
    )
    model.fit(X, Y)
    assert model.net_._listens_to_batches() and calls == []  # skorch's train_step
