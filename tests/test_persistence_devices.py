"""save/load across devices, and resuming interrupted or checkpointed training."""

import numpy as np
import pytest
import torch
from _helpers import run_without_cuda
from skorch.callbacks import Callback
from test_persistence import KW, edit_config, round_trip

from sklearn_mtl import MultiTaskRegressor, load, save
from sklearn_mtl.datasets import make_multitask_regression


@pytest.fixture(scope="module")
def data():
    return make_multitask_regression(
        n_samples=80, n_features=5, n_tasks=3, missing_rate=0.3, random_state=0
    )


@pytest.fixture(scope="module")
def source(data):
    """A fitted model that tests must not refit."""
    return MultiTaskRegressor(**KW).fit(*data)


@pytest.fixture(scope="module")
def model_file(source, tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "model.mtl"
    save(source, path)
    return path


# ---- devices -------------------------------------------------------------------
@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_a_cuda_saved_model_loads_on_the_cpu(model_file, source, data, tmp_path):
    def from_cuda(config):
        config["net"]["device"] = "cuda:0"
        config["params"]["device"] = "cuda"

    path = edit_config(model_file, tmp_path / "cuda.mtl", from_cuda)
    with pytest.warns(UserWarning, match="loaded on the CPU"):
        loaded = load(path)
    assert loaded.net_.device == "cpu" and loaded.device == "cuda"
    np.testing.assert_array_equal(loaded.predict(data[0]), source.predict(data[0]))
    loaded.partial_fit(*data)  # trains on, on the CPU
    assert load(path, device="cpu").device == "cpu"


def test_device_argument(model_file):
    loaded = load(model_file, device="auto")
    assert loaded.device == "auto"
    assert loaded.net_.device == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="Unknown device"):
        load(model_file, device="tpu:3")


@pytest.mark.cuda
def test_cuda_trained_model_saved_with_save_loads_without_cuda(data, tmp_path):
    X, Y = data
    model = MultiTaskRegressor(**{**KW, "device": "cuda"}).fit(X, Y)
    path = tmp_path / "cuda.mtl"
    save(model, path)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "expected.npy", model.predict(X))
    script = f"""
import numpy as np, warnings
from sklearn_mtl import load
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    model = load({str(path)!r})
X = np.load({str(tmp_path / "X.npy")!r})
np.testing.assert_allclose(
    model.predict(X), np.load({str(tmp_path / "expected.npy")!r}), rtol=1e-6
)
model.partial_fit(X, model.predict(X))
print("ok", model.net_.device)
"""
    assert "ok cpu" in run_without_cuda(script).stdout


# ---- interrupted training ------------------------------------------------------
class InterruptAt(Callback):
    """Raise KeyboardInterrupt (what Ctrl-C raises) during a given epoch."""

    def __init__(self, epoch, during_batch):
        self.epoch, self.during_batch = epoch, during_batch

    def on_batch_end(self, net, training=False, **kwargs):
        if self.during_batch and training and len(net.history) == self.epoch:
            if len(net.history[-1]["batches"]) == 2:
                raise KeyboardInterrupt

    def on_epoch_end(self, net, **kwargs):
        if not self.during_batch and len(net.history) == self.epoch:
            raise KeyboardInterrupt


@pytest.mark.parametrize("during_batch", [False, True], ids=["epoch-end", "batch"])
def test_interrupted_fit_leaves_a_model_that_resumes(data, monkeypatch, during_batch):
    X, Y = data
    monkeypatch.setattr(
        MultiTaskRegressor,
        "_extra_callbacks",
        lambda self: [("interrupt", InterruptAt(3, during_batch))],
    )
    model = MultiTaskRegressor(**{**KW, "max_epochs": 8, "batch_size": 16})
    model.fit(X, Y)  # skorch stops at the interrupt and returns
    assert model.n_iter_ == 3
    assert np.all(np.isfinite(model.predict(X)))
    before = list(model.history_)[:2]

    loaded = round_trip(model)
    for resumed in (model, loaded):
        resumed.partial_fit(X, Y)
        assert resumed.n_iter_ == 4
        assert list(resumed.history_)[:2] == before
        assert np.isfinite(resumed.history_[-1, "train_loss"])
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_checkpoint_loop_resumes_from_the_last_save(data, tmp_path):
    X, Y = data
    path = tmp_path / "checkpoint.mtl"
    model = MultiTaskRegressor(**{**KW, "max_epochs": 2, "warm_start": True})
    for _ in range(2):
        model.fit(X, Y)
        save(model, path)
    resumed = load(path)
    resumed.fit(X, Y)
    model.fit(X, Y)
    assert resumed.n_iter_ == model.n_iter_ == 6
    np.testing.assert_array_equal(resumed.predict(X), model.predict(X))
