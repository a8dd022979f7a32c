import numpy as np
import torch

from sklearn_mtl._net import TensorBatches, TensorData


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
