"""CUDA behaviour; every test here is skipped when no GPU is present (conftest hook)."""

import pickle

import numpy as np
import pytest
import torch
from _helpers import run_without_cuda

from sklearn_mtl import MultiTaskRegressor
from sklearn_mtl.datasets import make_multitask_regression

pytestmark = pytest.mark.cuda

KW = dict(hidden_layer_sizes=(32,), batch_size=32, max_epochs=20, random_state=0)


def labelled_rows(X, Y, task, n):
    """The first ``n`` rows that have a label for ``task``: inputs and that label."""
    rows = np.flatnonzero(~np.isnan(Y[:, task]))[:n]
    return X[rows], Y[rows, task]


@pytest.fixture(scope="module")
def cuda_model():
    X, Y = make_multitask_regression(
        n_samples=300, n_tasks=3, missing_rate=0.3, random_state=0
    )
    return MultiTaskRegressor(device="cuda", **KW).fit(X, Y), X, Y


def test_auto_device_picks_cuda():
    X, Y = make_multitask_regression(n_samples=50, n_tasks=2, random_state=0)
    model = MultiTaskRegressor(device="auto", **KW).fit(X, Y)
    assert model.net_.device == "cuda"
    assert next(model.net_.module_.parameters()).is_cuda


def test_fit_predict_on_cuda_returns_float64_numpy(cuda_model):
    model, X, Y = cuda_model
    pred = model.predict(X)
    assert isinstance(pred, np.ndarray) and pred.dtype == np.float64
    assert pred.shape == Y.shape and model.score(X, Y) > 0.5
    assert model.history_[0, "train_loss"] > 2 * model.history_[-1, "train_loss"]


def test_cuda_and_cpu_fits_agree(cuda_model):
    model, X, Y = cuda_model
    cpu = MultiTaskRegressor(device="cpu", **KW).fit(X, Y)
    assert abs(cpu.score(X, Y) - model.score(X, Y)) < 0.1


def test_cuda_model_unpickles_and_predicts_on_a_cpu_only_machine(cuda_model, tmp_path):
    model, X, _ = cuda_model
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(model))
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "expected.npy", model.predict(X))
    script = f"""
import pickle, warnings, numpy as np
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    model = pickle.loads(open({str(path)!r}, "rb").read())
X = np.load({str(tmp_path / "X.npy")!r})
expected = np.load({str(tmp_path / "expected.npy")!r})
pred = model.predict(X)
np.testing.assert_allclose(pred, expected, rtol=1e-5, atol=1e-6)
model.partial_fit(X, pred)  # and can keep training
print("ok", model.net_.device)
"""
    assert "ok cpu" in run_without_cuda(script).stdout


def test_transfer_on_cuda_keeps_the_source_and_returns_float64(cuda_model):
    from sklearn_mtl import TransferEstimator

    source, X, Y = cuda_model
    before = {k: v.clone() for k, v in source.net_.module_.state_dict().items()}
    for strategy in ("linear_probe", "lp_ft", "gradual_unfreezing", "l2_sp"):
        model = TransferEstimator(
            source=source,
            strategy=strategy,
            device="cuda",
            max_epochs=5,
            lr=1e-3,
            random_state=0,
        )
        pred = model.fit(*labelled_rows(X, Y, 0, 60)).predict(X)
        assert pred.dtype == np.float64 and pred.shape == (len(X),)
        assert next(model.net_.module_.parameters()).is_cuda
    after = source.net_.module_.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_cuda_l2_sp_model_unpickles_on_cpu(cuda_model, tmp_path):
    from sklearn_mtl import TransferEstimator

    source, X, Y = cuda_model
    model = TransferEstimator(
        source=source, strategy="l2_sp", device="cuda", max_epochs=3, random_state=0
    ).fit(*labelled_rows(X, Y, 0, 60))
    path = tmp_path / "l2sp.pkl"
    path.write_bytes(pickle.dumps(model))
    script = (
        "import pickle, warnings\n"
        "warnings.simplefilter('ignore')\n"
        f"model = pickle.loads(open({str(path)!r}, 'rb').read())\n"
        "print('ok', model.net_.device)\n"
    )
    assert "ok cpu" in run_without_cuda(script).stdout


@pytest.mark.parametrize("sharing", ["hard", "soft", "mmoe"])
@pytest.mark.parametrize("affinity", [None, "gradient_cosine", "lookahead"])
def test_sharing_and_affinity_train_on_cuda(sharing, affinity):
    X, Y = make_multitask_regression(
        n_samples=200, n_tasks=3, missing_rate=0.3, random_state=0
    )
    model = MultiTaskRegressor(
        device="cuda", sharing=sharing, task_affinity=affinity, **KW
    ).fit(X, Y)
    assert next(model.net_.module_.parameters()).is_cuda
    assert model.history_[0, "train_loss"] > 1.5 * model.history_[-1, "train_loss"]
    if affinity is not None:
        affinity_ = model.task_affinity_
        assert isinstance(affinity_, np.ndarray) and affinity_.shape == (3, 3)
        assert np.all(np.isfinite(affinity_))


def test_save_on_cuda_and_load_back_onto_cuda(cuda_model, tmp_path):
    from sklearn_mtl import load, save

    model, X, _ = cuda_model
    save(model, tmp_path / "m.mtl")
    loaded = load(tmp_path / "m.mtl")
    assert next(loaded.net_.module_.parameters()).is_cuda
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    on_cpu = load(tmp_path / "m.mtl", device="cpu")
    np.testing.assert_allclose(on_cpu.predict(X), model.predict(X), rtol=1e-4)


def test_transferability_and_scratch_guard_with_a_cuda_source(cuda_model):
    from sklearn_mtl import TransferEstimator
    from sklearn_mtl.transferability import transferability_score

    source, X, Y = cuda_model
    X_target, y_target = labelled_rows(X, Y, 0, 80)
    for method in ("logme", "linear_probe"):
        score = transferability_score(source, X_target, y_target, method=method)
        assert np.all(np.isfinite(score))
    model = TransferEstimator(
        source=source,
        device="cuda",
        compare_with_scratch=True,
        max_epochs=5,
        random_state=0,
    ).fit(X_target, y_target)
    scores = model.guard_scores_
    assert set(scores) == {"transfer", "scratch", "standard_error"}
    assert np.all(np.isfinite(list(scores.values())))
    assert next(model.net_.module_.parameters()).is_cuda
    assert model.predict(X).dtype == np.float64
