import io
import pickle
import re

import numpy as np
import pandas as pd
import pytest
from tqdm import tqdm

from sklearn_mtl import MultiTaskRegressor, TransferEstimator
from sklearn_mtl._progress import EpochProgressBar
from sklearn_mtl.datasets import make_multitask_regression

FAST = dict(hidden_layer_sizes=(8,), batch_size=32, max_epochs=4, random_state=0)


@pytest.fixture(scope="module")
def data():
    X, Y = make_multitask_regression(
        n_samples=80, n_features=4, n_tasks=2, random_state=0
    )
    return X, Y


def task_values(model, row=-1):
    losses = model.history_[row, "train_task_loss"]
    return [f"task_{t}={loss:.3g}" for t, loss in enumerate(losses)]


@pytest.mark.parametrize("early_stopping", [False, True])
def test_verbose_zero_prints_nothing(data, capfd, early_stopping):
    X, Y = data
    MultiTaskRegressor(early_stopping=early_stopping, **FAST).fit(X, Y)
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_verbose_one_shows_a_bar_with_per_task_losses(data, capfd):
    X, Y = data
    model = MultiTaskRegressor(verbose=1, **FAST).fit(X, Y)
    out, err = capfd.readouterr()
    assert out == ""
    assert "4/4" in err and "epoch" in err
    final = err.rstrip().splitlines()[-1]
    train_loss = f"train_loss={model.history_[-1, 'train_loss']:.3g}"
    assert train_loss in final and "valid_loss" not in final
    for text in task_values(model):
        assert text in final
    assert model.net_.callbacks_[-1][1].bar_ is None  # closed


def test_verbose_one_bar_ends_at_the_early_stop(data, capfd):
    X, Y = data
    model = MultiTaskRegressor(
        verbose=1, early_stopping=True, n_iter_no_change=1, tol=10.0, **FAST
    ).fit(X, Y)
    out, err = capfd.readouterr()
    assert model.n_iter_ == 2  # the 2nd epoch cannot improve by tol=10
    assert out == ""
    assert "Stopping since valid_loss has not improved" in err
    # the stopper ends the last epoch before the bar's on_epoch_end: it is
    # still shown, with its validation loss, and the bar is closed
    final = err.rstrip().splitlines()[-1]
    assert re.search(r"\b2/4\b", final)
    assert f"valid_loss={model.history_[-1, 'valid_loss']:.3g}" in final
    for text in task_values(model):
        assert text in final
    assert model.net_.callbacks_[-1][1].bar_ is None


def test_verbose_two_keeps_the_table(data, capfd):
    X, Y = data
    MultiTaskRegressor(verbose=2, **FAST).fit(X, Y)
    out, err = capfd.readouterr()
    assert "train_loss" in out and "dur" in out
    assert "epoch/s" not in err


def test_transfer_estimator_shows_the_bar(data, capfd):
    X, Y = data
    source = MultiTaskRegressor(**FAST).fit(X, Y)
    capfd.readouterr()
    target = TransferEstimator(
        source=source, strategy="fine_tune", max_epochs=3, random_state=0, verbose=1
    ).fit(X, Y[:, 0])
    out, err = capfd.readouterr()
    assert out == "" and "3/3" in err
    assert task_values(target)[0] in err.rstrip().splitlines()[-1]


def test_fitted_with_a_bar_pickles(data, capfd):
    X, Y = data
    model = MultiTaskRegressor(verbose=1, **FAST).fit(pd.DataFrame(X), Y)
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict(X), model.predict(X))


def test_an_open_bar_is_not_pickled():
    callback = EpochProgressBar().initialize()
    callback.bar_ = tqdm(total=3, file=io.StringIO())
    restored = pickle.loads(pickle.dumps(callback))
    assert restored.bar_ is None
    callback.bar_.close()


def test_postfix_names_tasks_and_abbreviates_many():
    row = {"train_loss": 0.123456, "train_task_loss": [0.5, 1.25, 2.0]}
    callback = EpochProgressBar(task_names=["a", "b", "c"], max_tasks_shown=2)
    assert callback.postfix(row) == "train_loss=0.123, a=0.5, b=1.25, ... (+1 tasks)"
    assert EpochProgressBar().postfix(row).endswith("task_1=1.25, task_2=2")
    row["valid_loss"] = float("nan")
    assert "valid_loss=nan" in EpochProgressBar().postfix(row)


def test_the_bar_names_tasks_after_the_dataframe_columns(data, capfd):
    X, Y = data
    frame = pd.DataFrame(Y, columns=["motor", "total"])
    model = MultiTaskRegressor(verbose=1, **FAST).fit(X, frame)
    _, err = capfd.readouterr()
    last = model.history_[-1, "train_task_loss"]
    assert f"motor={last[0]:.3g}" in err and f"total={last[1]:.3g}" in err
