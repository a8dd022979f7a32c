"""Training on the labelled cells only (sparse labels, many tasks)."""

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback

from sklearn_mtl import MultiTaskRegressor, _cells
from sklearn_mtl._cells import CellBatches, CellIndex, LabelledCells
from sklearn_mtl._tensors import TensorBatches, TensorData

N_TASKS = 128


def sparse_data(n=300, n_tasks=N_TASKS, seed=0, labels_per_row=1):
    """Rows labelled for ``labels_per_row`` tasks each (or for 1 or 2 at random)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    coef = rng.normal(size=(5, n_tasks))
    Y = X @ coef + 0.1 * rng.normal(size=(n, n_tasks))
    keep = np.zeros_like(Y, dtype=bool)
    for i in range(n):
        count = labels_per_row if isinstance(labels_per_row, int) else rng.integers(
            1, 3
        )
        keep[i, rng.choice(n_tasks, size=count, replace=False)] = True
    keep[: n_tasks, :] = False
    keep[np.arange(n_tasks), np.arange(n_tasks)] = True  # every task has a label
    return X, np.where(keep, Y, np.nan)


def fit_both(monkeypatch, X, Y, sample_weight=None, **params):
    """Fit on cells and (with the share forced above the limit) on dense heads."""
    params = {
        "hidden_layer_sizes": (16,),
        "max_epochs": 4,
        "batch_size": 32,
        "random_state": 0,
        **params,
    }
    cells = MultiTaskRegressor(**params).fit(X, Y, sample_weight=sample_weight)
    monkeypatch.setattr(_cells, "MAX_DENSITY", -1.0)
    dense = MultiTaskRegressor(**params).fit(X, Y, sample_weight=sample_weight)
    monkeypatch.undo()
    return cells, dense


@pytest.mark.parametrize("labels_per_row", [1, "1 or 2"])
@pytest.mark.parametrize("weighted", [False, True])
def test_training_on_cells_gives_the_dense_model(monkeypatch, labels_per_row, weighted):
    X, Y = sparse_data(labels_per_row=labels_per_row)
    sample_weight = (
        np.random.default_rng(1).uniform(0.5, 2.0, len(X)) if weighted else None
    )
    used = []
    original = CellBatches.__iter__

    def spy(self):
        used.append(True)
        return original(self)

    monkeypatch.setattr(CellBatches, "__iter__", spy)
    cells, dense = fit_both(monkeypatch, X, Y, sample_weight)
    assert used, "the sparse labels did not train on cells"
    assert len(used) == cells.n_iter_
    np.testing.assert_allclose(
        cells.history_[:, "train_loss"], dense.history_[:, "train_loss"], rtol=1e-5
    )
    np.testing.assert_allclose(
        cells.history_[-1, "train_task_loss"],
        dense.history_[-1, "train_task_loss"],
        rtol=1e-4,
        atol=1e-7,
    )
    np.testing.assert_allclose(cells.predict(X), dense.predict(X), atol=1e-5)


def test_cell_index_gathers_each_batch_s_labelled_cells():
    X, Y = sparse_data(n=200, labels_per_row="1 or 2")
    labelled = ~np.isnan(Y)
    weights = np.where(labelled, np.arange(1, 201)[:, None] / 10.0, 0.0)
    data = TensorData(
        torch.tensor(X, dtype=torch.float32),
        torch.tensor(np.nan_to_num(Y), dtype=torch.float32),
        torch.tensor(weights, dtype=torch.float32),
    )
    index = CellIndex(data)
    assert not index.one_per_row
    rows = torch.tensor([7, 0, 119, 85, 85 - 1, 3])
    cells = index.batch(rows)
    expected = [
        (k, t) for k, r in enumerate(rows.tolist()) for t in np.flatnonzero(labelled[r])
    ]
    assert list(zip(cells.rows.tolist(), cells.tasks.tolist(), strict=True)) == expected
    for k, t, target, weight in zip(
        cells.rows, cells.tasks, cells.targets, cells.weights, strict=True
    ):
        r = rows[k]
        assert target == data.Y[r, t] and weight == data.cell_weights[r, t]
    counts = data.cell_weights[rows].sum(dim=0)
    torch.testing.assert_close(cells.counts, counts)


def test_cells_predict_what_the_dense_heads_predict():
    X, Y = sparse_data(n=150)
    model = MultiTaskRegressor(hidden_layer_sizes=(8,), max_epochs=1).fit(X, Y)
    module = model.net_.module_
    x = torch.tensor(X[:10], dtype=torch.float32)
    rows = torch.tensor([0, 0, 3, 9])
    tasks = torch.tensor([5, 127, 0, 42])
    with torch.no_grad():
        torch.testing.assert_close(
            module.forward_cells(x, rows, tasks), module(x)[rows, tasks]
        )
        one_per_row = module(x[:4])[torch.arange(4), tasks]
        cells = module.forward_cells(x[:4], None, tasks)
        torch.testing.assert_close(cells, one_per_row)


def test_batches_draw_the_same_rows_as_the_dense_batches():
    X, Y = sparse_data(n=150)
    data = TensorData(
        torch.tensor(X, dtype=torch.float32),
        torch.tensor(np.nan_to_num(Y), dtype=torch.float32),
        torch.tensor((~np.isnan(Y)).astype(np.float32)),
    )
    dense = TensorBatches(data, 16, True, torch.Generator().manual_seed(3))
    cells = CellBatches(data, 16, torch.Generator().manual_seed(3))
    assert len(dense) == len(cells) == 10
    for (x_dense, _), (x_cells, labelled) in zip(dense, cells, strict=True):
        assert torch.equal(x_dense, x_cells)
        assert isinstance(labelled, LabelledCells)


def test_a_batch_whose_rows_all_weigh_zero_still_trains(monkeypatch):
    X, Y = sparse_data(n=200)
    sample_weight = np.ones(len(X))
    sample_weight[N_TASKS:160] = 0.0  # 80 rows carry no weight: some batches
    cells, dense = fit_both(  # have no cell at all
        monkeypatch, X, Y, sample_weight, batch_size=8, max_epochs=2
    )
    assert np.all(np.isfinite(cells.history_[:, "train_loss"]))
    np.testing.assert_allclose(cells.predict(X), dense.predict(X), atol=1e-5)


class BatchListener(Callback):
    def on_batch_end(self, net, **kwargs):
        pass


@pytest.mark.parametrize(
    "params, dense_reason",
    [
        ({"task_weighting": "pcgrad"}, "gradient-based weighting"),
        ({"callbacks": [BatchListener()]}, "a per-batch callback"),
        ({"head_layer_sizes": (4,)}, "heads with hidden layers"),
        ({"sharing": "soft"}, "soft sharing"),
        ({"loss": "quantile", "quantiles": (0.1, 0.5, 0.9)}, "several outputs"),
    ],
)
def test_dense_heads_where_cells_do_not_apply(monkeypatch, params, dense_reason):
    X, Y = sparse_data(n=150)
    used = []
    monkeypatch.setattr(
        CellBatches, "__iter__", lambda self: used.append(1) or iter(())
    )
    MultiTaskRegressor(hidden_layer_sizes=(8,), max_epochs=1, **params).fit(X, Y)
    assert not used, dense_reason


@pytest.mark.parametrize("n_tasks, labels_per_row", [(N_TASKS, 3), (20, 1)])
def test_dense_heads_when_labels_are_not_sparse_or_tasks_few(
    monkeypatch, n_tasks, labels_per_row
):
    X, Y = sparse_data(n=1000, n_tasks=n_tasks, labels_per_row=labels_per_row)
    used = []
    monkeypatch.setattr(
        CellBatches, "__iter__", lambda self: used.append(1) or iter(())
    )
    MultiTaskRegressor(hidden_layer_sizes=(8,), max_epochs=1).fit(X, Y)
    assert not used
