import numpy as np
import pytest
import torch
from sklearn.model_selection import GridSearchCV
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_mtl import MultiTaskRegressor
from sklearn_mtl.modules import (
    MixtureOfExpertsModule,
    MultiTaskModule,
    SoftSharingModule,
)
from sklearn_mtl.weighting import WEIGHTINGS

MODULES = {
    "hard": MultiTaskModule,
    "soft": SoftSharingModule,
    "mmoe": MixtureOfExpertsModule,
}


def small(**params):
    defaults = dict(
        hidden_layer_sizes=(16,), max_epochs=30, batch_size=32, random_state=0
    )
    return MultiTaskRegressor(**{**defaults, **params})


@pytest.mark.parametrize("sharing", sorted(MODULES))
def test_each_sharing_learns_every_task_with_missing_labels(sharing, multitask_data):
    X, Y = multitask_data
    model = small(sharing=sharing, sharing_alpha=0.01).fit(X, Y)
    assert isinstance(model.net_.module_, MODULES[sharing])
    first = np.asarray(model.history_[0, "train_task_loss"])
    last = np.asarray(model.history_[-1, "train_task_loss"])
    assert np.all(last < 0.5 * first), (first, last)
    pred = model.predict(X)
    assert pred.shape == Y.shape and np.isfinite(pred).all()


@pytest.mark.parametrize("sharing", sorted(MODULES))
@pytest.mark.parametrize("weighting", sorted(WEIGHTINGS))
def test_every_sharing_works_with_every_weighting(sharing, weighting, multitask_data):
    X, Y = multitask_data
    model = small(sharing=sharing, task_weighting=weighting, max_epochs=8).fit(X, Y)
    assert np.isfinite(model.predict(X)).all()
    assert len(model.history_[-1, "task_weights"]) == Y.shape[1]


def test_soft_sharing_without_pull_is_one_model_per_task(multitask_data):
    # each task's trunk and head see only that task's loss: changing another
    # task's labels leaves the task's predictions unchanged
    X, Y = multitask_data
    other = Y.copy()
    other[:, 1] = np.where(np.isnan(other[:, 1]), np.nan, -3.0 * other[:, 1] + 5)
    params = dict(
        sharing="soft", alpha=0.0, sharing_alpha=0.0, standardize_targets=False
    )
    a = small(**params).fit(X, Y).predict(X)
    b = small(**params).fit(X, other).predict(X)
    np.testing.assert_allclose(a[:, 0], b[:, 0], rtol=1e-5, atol=1e-6)
    assert not np.allclose(a[:, 1], b[:, 1])


def _spread(tensor):
    return (tensor - tensor.mean(dim=0, keepdim=True)).norm().item()


@pytest.mark.parametrize("sharing", sorted(MODULES))
def test_sharing_alpha_pulls_task_weights_to_their_mean(sharing, multitask_data):
    X, Y = multitask_data
    free = small(sharing=sharing, lr=0.01, sharing_alpha=0.0).fit(X, Y).net_.module_
    tied = small(sharing=sharing, lr=0.01, sharing_alpha=100.0).fit(X, Y).net_.module_
    for p_free, p_tied in zip(
        free.task_parameters(), tied.task_parameters(), strict=True
    ):
        assert _spread(p_tied) < 0.1 * _spread(p_free)


def test_mmoe_gates_mix_the_experts(multitask_data):
    X, Y = multitask_data
    model = small(sharing="mmoe", n_experts=3).fit(X, Y)
    module = model.net_.module_
    assert module.experts.weights[0].shape[0] == 3
    x = torch.tensor(X[:5], dtype=torch.float32)
    logits = torch.baddbmm(
        module.gate_bias, x.expand(Y.shape[1], *x.shape), module.gate_weight
    )
    gates = torch.softmax(logits, dim=-1)
    torch.testing.assert_close(gates.sum(-1), torch.ones(Y.shape[1], 5))
    assert {id(p) for p in module.shared_parameters()} == {
        id(p) for p in module.experts.parameters()
    }


def test_grid_search_over_sharing(multitask_data):
    X, Y = multitask_data
    grid = {"sharing": ["hard", "soft", "mmoe"]}
    search = GridSearchCV(small(max_epochs=5), grid, cv=2).fit(X, Y)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


def test_sharing_errors(multitask_data):
    X, Y = multitask_data
    with pytest.raises(ValueError, match="sharing='soft' needs at least one hidden"):
        small(sharing="soft", hidden_layer_sizes=()).fit(X, Y)
    with pytest.raises(InvalidParameterError, match="sharing"):
        small(sharing="shared").fit(X, Y)
    with pytest.raises(InvalidParameterError, match="n_experts"):
        small(sharing="mmoe", n_experts=0).fit(X, Y)
    with pytest.raises(InvalidParameterError, match="sharing_alpha"):
        small(sharing_alpha=-1.0).fit(X, Y)
