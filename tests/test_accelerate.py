"""The package's network trained by skorch's AccelerateMixin (Hugging Face accelerate).

The same code as the "Data-parallel training" section of the scaling guide,
run in a single CPU process.
"""

import pickle

import numpy as np
import pytest
import torch
from sklearn.preprocessing import StandardScaler
from skorch import NeuralNetRegressor
from skorch.exceptions import DeviceWarning
from skorch.hf import AccelerateMixin

from sklearn_mtl.datasets import make_multitask_regression
from sklearn_mtl.modules import MultiTaskModule, TaskHeadsModule, make_mlp

accelerate = pytest.importorskip(
    "accelerate", reason="accelerate is not installed: pip install accelerate"
)


class AcceleratedNet(AccelerateMixin, NeuralNetRegressor):
    """NeuralNetRegressor trained through Hugging Face accelerate."""


class MaskedMSELoss(torch.nn.Module):
    """Squared error averaged per task over its labelled (non-NaN) cells."""

    def forward(self, y_pred, y_true):
        labelled = ~torch.isnan(y_true)
        errors = torch.where(labelled, y_pred - y_true.nan_to_num(), 0.0) ** 2
        per_task = errors.sum(dim=0) / labelled.sum(dim=0).clamp_min(1)
        return per_task[labelled.any(dim=0)].mean()


@pytest.fixture(scope="module")
def data():
    X, Y = make_multitask_regression(
        n_samples=300, n_features=6, n_tasks=3, missing_rate=0.3, random_state=0
    )
    X = StandardScaler().fit_transform(X).astype(np.float32)
    Y = ((Y - np.nanmean(Y, axis=0)) / np.nanstd(Y, axis=0)).astype(np.float32)
    return X, Y


def test_masked_loss_is_the_mean_of_the_per_task_means():
    y_pred = torch.tensor([[1.0, 0.0], [2.0, 5.0], [0.0, 1.0]])
    y_true = torch.tensor([[0.0, np.nan], [0.0, 1.0], [np.nan, np.nan]])
    # task 0: (1 + 4) / 2 on its 2 labelled rows; task 1: 16 on its 1 row
    expected = ((1.0 + 4.0) / 2 + 16.0) / 2
    assert MaskedMSELoss()(y_pred, y_true).item() == pytest.approx(expected)


def test_accelerated_net_trains_the_multitask_module_on_cpu(data):
    X, Y = data
    with torch.random.fork_rng():
        torch.manual_seed(0)
        trunk = make_mlp(X.shape[1], (32,))
        module = MultiTaskModule(trunk, TaskHeadsModule(trunk.out_features, Y.shape[1]))
        net = AcceleratedNet(
            module,
            criterion=MaskedMSELoss,
            optimizer=torch.optim.Adam,
            lr=1e-2,
            max_epochs=10,
            batch_size=64,
            train_split=None,
            accelerator=accelerate.Accelerator(cpu=True),
            verbose=0,
        )
        net.fit(X, Y)

    losses = net.history[:, "train_loss"]
    assert len(losses) == 10
    assert losses[0] > 2 * losses[-1]
    # unwrapped after training: the plain module, usable and picklable
    assert type(net.module_) is MultiTaskModule
    predictions = net.predict(X)
    assert predictions.shape == Y.shape
    assert np.all(np.isfinite(predictions))
    # unpickled with device=None, skorch places it on the CPU, and says so
    with pytest.warns(DeviceWarning, match="Setting self.device = cpu"):
        restored = pickle.loads(pickle.dumps(net))
    np.testing.assert_array_equal(restored.predict(X), predictions)
