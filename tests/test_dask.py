"""Search and cross-validation on a local Dask cluster, and torch's worker threads."""

import os

import joblib
import numpy as np
import pytest
import torch
from sklearn.model_selection import GridSearchCV, KFold, cross_validate

from sklearn_mtl import MultiTaskRegressor
from sklearn_mtl.datasets import make_multitask_regression
from sklearn_mtl.parallel import TorchThreads, limit_torch_threads

distributed = pytest.importorskip(
    "distributed",
    reason="distributed is not installed: pip install 'dask[distributed]'",
)

# torch's thread count in each worker process when nothing limits it here
WORKER_DEFAULT_THREADS = "2"

# The tests that use the cluster are marked slow: its start, the workers'
# first imports of torch and its close take about 25 s on two shared cores.


@pytest.fixture(scope="module")
def client():
    """Two single-threaded worker processes on localhost; torch limited to 1.

    The workers start as on a machine whose environment lets torch use 2
    threads per process (Dask's nanny would otherwise start them with
    ``OMP_NUM_THREADS=1``), so that only the plugin brings them to 1.
    """
    environ = dict(os.environ)
    os.environ.update(
        OMP_NUM_THREADS=WORKER_DEFAULT_THREADS, MKL_NUM_THREADS=WORKER_DEFAULT_THREADS
    )
    try:
        cluster = distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        )
    finally:  # the nanny also writes its variables into this process's environ
        os.environ.clear()
        os.environ.update(environ)
    client = distributed.Client(cluster)
    try:
        limit_torch_threads(client, n_threads=1)  # before any task runs
        yield client
    finally:
        client.close()
        cluster.close()


@pytest.fixture(scope="module")
def data():
    return make_multitask_regression(
        n_samples=90, n_features=4, n_tasks=2, missing_rate=0.2, random_state=0
    )


def small_model():
    return MultiTaskRegressor(hidden_layer_sizes=(8,), max_epochs=4, random_state=0)


def torch_threads_in_a_task(client, worker):
    """torch's thread count inside a task run by ``worker``'s task thread."""
    return client.submit(torch.get_num_threads, workers=[worker], pure=False).result()


@pytest.mark.slow
def test_every_worker_runs_torch_on_the_plugin_thread_count(client):
    workers = sorted(client.scheduler_info()["workers"])
    assert len(workers) == 2
    # without the plugin, torch would run with WORKER_DEFAULT_THREADS threads
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        values = client.run(os.getenv, variable)
        assert values == {w: WORKER_DEFAULT_THREADS for w in workers}
    assert client.run(torch.get_num_threads) == {w: 1 for w in workers}
    assert [torch_threads_in_a_task(client, w) for w in workers] == [1, 1]


@pytest.mark.slow
def test_grid_search_on_dask_matches_n_jobs_1(client, data):
    X, Y = data
    grid = {"alpha": [1e-4, 1e-1], "lr": [1e-3, 1e-2]}
    cv = KFold(3, shuffle=True, random_state=0)
    local = GridSearchCV(small_model(), grid, cv=cv, n_jobs=1).fit(X, Y)
    on_dask = GridSearchCV(small_model(), grid, cv=cv, n_jobs=-1)
    with distributed.get_task_stream(client) as stream:
        with joblib.parallel_config(backend="dask"):
            on_dask.fit(X, Y)

    # the fits ran on both workers of the cluster, not in this process
    assert {task["worker"] for task in stream.data} == set(
        client.scheduler_info()["workers"]
    )
    for key in ("mean_test_score", "split0_test_score", "split2_test_score"):
        np.testing.assert_array_equal(on_dask.cv_results_[key], local.cv_results_[key])
    assert on_dask.best_params_ == local.best_params_
    np.testing.assert_array_equal(on_dask.predict(X), local.predict(X))


@pytest.mark.slow
def test_cross_validate_on_dask_matches_n_jobs_1(client, data):
    X, Y = data
    local = cross_validate(small_model(), X, Y, cv=3, n_jobs=1)
    with distributed.get_task_stream(client) as stream:
        with joblib.parallel_backend("dask"):  # the older name; n_jobs=-1
            on_dask = cross_validate(small_model(), X, Y, cv=3)
    assert len(stream.data) >= 3  # the 3 fits ran on the cluster
    np.testing.assert_array_equal(on_dask["test_score"], local["test_score"])


def test_torch_threads_sets_the_count_and_checks_it():
    before = torch.get_num_threads()
    try:
        TorchThreads(n_threads=2).setup(worker=None)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    with pytest.raises(ValueError, match="n_threads == 0, must be >= 1"):
        TorchThreads(n_threads=0)
    with pytest.raises(TypeError, match="n_threads must be an instance of"):
        TorchThreads(n_threads=1.5)


class RecordingClient:
    """Stands in for a ``distributed.Client``: keeps the plugins registered."""

    def __init__(self):
        self.plugins = []

    def register_plugin(self, plugin, name=None):
        self.plugins.append(plugin)


def test_limit_torch_threads_registers_the_plugin():
    client = RecordingClient()
    limit_torch_threads(client, n_threads=3)
    [plugin] = client.plugins
    assert isinstance(plugin, TorchThreads)
    assert isinstance(plugin, distributed.WorkerPlugin)
    assert plugin.n_threads == 3
    assert plugin.name == TorchThreads.name


def test_limit_torch_threads_checks_its_arguments():
    with pytest.raises(ValueError, match="'n_threads' parameter"):
        limit_torch_threads(RecordingClient(), n_threads=0)
    with pytest.raises(ValueError, match="'client' parameter"):
        limit_torch_threads(object())
