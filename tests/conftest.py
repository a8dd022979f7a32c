import os

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, settings

# The fits in this suite are tiny: one intra-op thread is faster than two, and
# much faster when other processes share the cores (threads then wait on each
# other). Worker processes of n_jobs=2 searches get one thread from joblib.
torch.set_num_threads(1)

settings.register_profile(
    "ci",
    deadline=None,
    max_examples=15,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_collection_modifyitems(config, items):
    """Skip every test marked ``cuda`` when no CUDA device is present."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(
        reason="needs a CUDA GPU; torch.cuda.is_available() is False"
    )
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(params=[0, 42])
def global_random_seed(request):
    return request.param


@pytest.fixture
def multitask_data():
    from sklearn_mtl.datasets import make_multitask_regression

    return make_multitask_regression(
        n_samples=300, n_features=6, n_tasks=3, missing_rate=0.3, random_state=0
    )


@pytest.fixture(scope="module")
def fitted_model():
    """A small fitted model that tests must not refit."""
    from sklearn_mtl import MultiTaskRegressor
    from sklearn_mtl.datasets import make_multitask_regression

    X, Y = make_multitask_regression(
        n_samples=300, n_features=6, n_tasks=3, missing_rate=0.3, random_state=1
    )
    model = MultiTaskRegressor(hidden_layer_sizes=(32,), max_epochs=40, random_state=0)
    return model.fit(X, Y), X, Y


@pytest.fixture
def rng():
    return np.random.RandomState(0)


@pytest.fixture(scope="module")
def transfer_problem():
    """Three related tasks: the first two train a source, the third is a target."""
    from sklearn_mtl.datasets import make_multitask_regression

    return make_multitask_regression(
        n_samples=600, n_features=6, n_tasks=3, relatedness=0.9, random_state=0
    )


@pytest.fixture(scope="module")
def transfer_source(transfer_problem):
    """A source fitted on the first 400 rows of tasks 0 and 1; never refit."""
    from sklearn_mtl import MultiTaskRegressor

    X, Y = transfer_problem
    return MultiTaskRegressor(
        hidden_layer_sizes=(32, 16), batch_size=32, max_epochs=30, random_state=0
    ).fit(X[:400], Y[:400, :2])
