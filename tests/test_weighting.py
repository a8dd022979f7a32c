import pickle

import numpy as np
import pytest
import torch
from _helpers import parameters_pickled_raw, run_without_cuda
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

from sklearn_mtl import MultiTaskRegressor
from sklearn_mtl.datasets import make_multitask_regression
from sklearn_mtl.weighting import (
    WEIGHTINGS,
    DWAWeighting,
    EqualWeighting,
    FixedWeighting,
    GradNormWeighting,
    MGDAWeighting,
    PCGradWeighting,
    TaskWeighting,
    UncertaintyWeighting,
    resolve_weighting,
)


def test_equal_weighting_is_the_mean_of_present_and_absent_tasks():
    w = EqualWeighting().initialize(4, "cpu")
    losses = torch.tensor([1.0, 2.0, 0.0, 4.0])
    present = torch.tensor([True, True, False, True])
    # an absent task contributes nothing and its weight is not renormalised away
    assert w.combine(losses, present).item() == pytest.approx(7 / 4)


def test_resolve_weighting_clones_instances():
    original = FixedWeighting([1.0, 2.0])
    resolved = resolve_weighting(original)
    resolved.initialize(2, "cpu")
    assert resolved is not original and not hasattr(original, "weights_")


def test_resolve_weighting_names_and_arrays():
    assert isinstance(resolve_weighting("equal"), EqualWeighting)
    assert isinstance(resolve_weighting([1.0, 2.0]), FixedWeighting)
    with pytest.raises(ValueError, match="Unknown task_weighting 'nope'"):
        resolve_weighting("nope")


@pytest.mark.parametrize(
    "weights, match",
    [
        ([1.0, np.nan], "finite and >= 0"),
        ([1.0, -1.0], "finite and >= 0"),
        ([0.0, 0.0], "all zero"),
    ],
)
def test_fixed_weighting_rejects_bad_weights(weights, match):
    with pytest.raises(ValueError, match=match):
        FixedWeighting(weights).initialize(2, "cpu")


# ---- adaptive strategies: shared data and fits -----------------------------

ADAPTIVE = ["uncertainty", "dwa", "gradnorm", "mgda"]
METHODS = [*ADAPTIVE, "pcgrad"]
SMALL = dict(hidden_layer_sizes=(16,), lr=1e-2, random_state=0)


@pytest.fixture(scope="module")
def masked_data():
    return make_multitask_regression(
        n_samples=150, n_tasks=3, missing_rate=0.3, random_state=0
    )


@pytest.fixture(scope="module")
def fitted_by_method(masked_data):
    """One model per method, fitted once; tests must not refit them."""
    X, Y = masked_data
    return {
        name: MultiTaskRegressor(task_weighting=name, max_epochs=30, **SMALL).fit(X, Y)
        for name in METHODS
    }


@pytest.mark.parametrize("name", METHODS)
def test_each_method_learns_every_task_with_missing_labels(name, fitted_by_method):
    history = fitted_by_method[name].history_
    first = np.asarray(history[0, "train_task_loss"])
    last = np.asarray(history[-1, "train_task_loss"])
    assert np.all(last < 0.5 * first), (first, last)


def test_names_resolve_to_the_classes():
    expected = {
        "uncertainty": UncertaintyWeighting,
        "dwa": DWAWeighting,
        "gradnorm": GradNormWeighting,
        "pcgrad": PCGradWeighting,
        "mgda": MGDAWeighting,
    }
    for name, cls in expected.items():
        assert WEIGHTINGS[name] is cls
        assert type(resolve_weighting(name)) is cls


@pytest.mark.parametrize("name", ADAPTIVE)
def test_adaptive_weights_change_over_epochs(name, fitted_by_method):
    weights = np.asarray(fitted_by_method[name].history_[:, "task_weights"])
    assert weights.shape == (30, 3)
    assert np.all(np.isfinite(weights)) and np.all(weights > 0)
    assert np.ptp(weights, axis=0).max() > 1e-3


def test_pcgrad_records_equal_weights(fitted_by_method):
    weights = np.asarray(fitted_by_method["pcgrad"].history_[:, "task_weights"])
    np.testing.assert_allclose(weights, 1 / 3)


@pytest.mark.parametrize("name", ["dwa", "gradnorm", "mgda"])
def test_normalised_methods_keep_weights_summing_to_one(name, fitted_by_method):
    # for MGDA, per-task means over the batches: here every batch has every task
    weights = np.asarray(fitted_by_method[name].history_[:, "task_weights"])
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-5)


def test_grid_search_over_names_and_instances(masked_data):
    X, Y = masked_data
    grid = {
        "task_weighting": [
            "equal",
            "dwa",
            UncertaintyWeighting(lr=0.05),
            MGDAWeighting(normalization="l2"),
        ]
    }
    search = GridSearchCV(MultiTaskRegressor(max_epochs=5, **SMALL), grid, cv=2)
    search.fit(X, Y)
    scores = search.cv_results_["mean_test_score"]
    assert len(scores) == 4 and np.all(np.isfinite(scores))
    assert not hasattr(grid["task_weighting"][2], "weights_")  # clones were fitted
    assert search.best_estimator_.n_tasks_ == 3


@pytest.mark.parametrize(
    "weighting",
    [
        UncertaintyWeighting(lr=0.05),
        DWAWeighting(temperature=1.0),
        GradNormWeighting(alpha=0.5, lr=0.05),
        PCGradWeighting(),
        MGDAWeighting(normalization="loss+"),
    ],
    ids=lambda w: type(w).__name__,
)
def test_clone_pickle_and_partial_fit_after_unpickling(weighting, masked_data):
    X, Y = masked_data
    model = MultiTaskRegressor(task_weighting=weighting, max_epochs=4, **SMALL)
    assert clone(model).get_params()["task_weighting"].get_params() == (
        weighting.get_params()
    )
    model.fit(X, Y)
    assert not hasattr(weighting, "n_tasks_")
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict(X), model.predict(X))
    # the strategy's state travels: both go on identically
    model.partial_fit(X, Y)
    restored.partial_fit(X, Y)
    np.testing.assert_array_equal(restored.predict(X), model.predict(X))
    np.testing.assert_array_equal(
        restored.history_[:, "task_weights"], model.history_[:, "task_weights"]
    )


def test_fits_with_gradient_methods_are_reproducible(masked_data):
    X, Y = masked_data
    fits = [
        MultiTaskRegressor(task_weighting="pcgrad", max_epochs=3, **SMALL).fit(X, Y)
        for _ in range(2)
    ]
    np.testing.assert_array_equal(fits[0].predict(X), fits[1].predict(X))


# ---- a task on a 1000x larger scale ----------------------------------------


@pytest.fixture(scope="module")
def one_large_task():
    X, Y = make_multitask_regression(
        n_samples=150, n_tasks=2, missing_rate=0.3, random_state=0
    )
    Y[:, 0] *= 1000
    return X, Y


@pytest.mark.parametrize(
    "weighting",
    [UncertaintyWeighting(lr=0.1), GradNormWeighting()],
    ids=lambda w: type(w).__name__,
)
def test_large_scale_task_is_down_weighted(weighting, one_large_task):
    X, Y = one_large_task
    model = MultiTaskRegressor(
        task_weighting=weighting, standardize_targets=False, max_epochs=30, **SMALL
    ).fit(X, Y)
    large, small = model.history_[-1, "task_weights"]
    assert large < 0.1 * small


def test_gradnorm_balances_gradient_norms():
    weighting = GradNormWeighting().initialize(2, "cpu")
    gradients = torch.tensor([[10.0, 0.0], [0.0, 1.0]])
    losses, tasks = torch.ones(2), torch.tensor([0, 1])
    ratios = []
    for _ in range(200):
        weighting.combine_gradients(gradients, losses, tasks)
        weighting.after_backward()
        w = weighting._weights_tensor
        ratios.append(float(w[0] * 10 / w[1]))
    assert ratios[0] > 5  # starts at 10: the weighted norms are far apart
    assert np.all(np.abs(np.asarray(ratios[-50:]) - 1) < 0.25)
    assert float(weighting._weights_tensor.sum()) == pytest.approx(1.0)


def test_gradnorm_gives_slow_tasks_larger_gradient_norms():
    weighting = GradNormWeighting(alpha=1.5).initialize(2, "cpu")
    unit = torch.eye(2)
    tasks = torch.tensor([0, 1])
    weighting.combine_gradients(unit, torch.ones(2), tasks)  # records L(0) = 1
    weighting.after_backward()
    for _ in range(300):  # task 0 has halved its loss, task 1 has not moved
        weighting.combine_gradients(unit, torch.tensor([0.5, 1.0]), tasks)
        weighting.after_backward()
    w = weighting._weights_tensor
    # target ratio of the weighted norms: (0.5 / 1.0) ** alpha
    assert float(w[0] / w[1]) == pytest.approx(0.5**1.5, abs=0.08)


# ---- conflicting gradients --------------------------------------------------


def pcgrad_by_hand(g1, g2):
    """The two-task PCGrad update, written out."""
    dot = g1 @ g2
    if dot >= 0:
        return g1, g2
    return g1 - dot / (g2 @ g2) * g2, g2 - dot / (g1 @ g1) * g1


def test_pcgrad_projects_conflicting_gradients():
    g1, g2 = torch.tensor([1.0, 1.0, 0.0]), torch.tensor([-2.0, 0.5, 1.0])
    assert g1 @ g2 < 0
    projected1, projected2 = pcgrad_by_hand(g1, g2)
    assert float(projected1 @ g2) == pytest.approx(0.0, abs=1e-6)
    weighting = PCGradWeighting().initialize(2, "cpu")
    combined = weighting.combine_gradients(
        torch.stack([g1, g2]), torch.ones(2), torch.tensor([0, 1])
    )
    torch.testing.assert_close(combined, (projected1 + projected2) / 2)
    assert combined @ g1 >= 0 and combined @ g2 >= 0


def test_pcgrad_without_conflict_is_equal_weighting():
    gradients = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    weighting = PCGradWeighting().initialize(3, "cpu")
    combined = weighting.combine_gradients(
        gradients, torch.ones(2), torch.tensor([0, 2])
    )
    torch.testing.assert_close(combined, gradients.sum(dim=0) / 3)


@given(
    arrays(np.float64, (2, 4), elements=st.floats(-10, 10)),
)
def test_pcgrad_two_task_update_never_opposes_a_task(gradients):
    gradients = torch.as_tensor(gradients)
    combined = (
        PCGradWeighting()
        .initialize(2, "cpu")
        .combine_gradients(gradients, torch.ones(2), torch.tensor([0, 1]))
    )
    scale = float((gradients**2).sum()) + 1.0
    assert torch.all(gradients @ combined >= -1e-9 * scale)


def test_pcgrad_order_comes_from_torch_global_rng():
    gradients = torch.tensor([[1.0, 0.0], [-1.0, 1.0], [-0.5, -1.0]])
    weighting = PCGradWeighting().initialize(3, "cpu")
    tasks = torch.arange(3)
    results = []
    for seed in (0, 0, *range(1, 20)):
        torch.manual_seed(seed)
        results.append(weighting.combine_gradients(gradients, torch.ones(3), tasks))
    torch.testing.assert_close(results[0], results[1])
    assert any(not torch.allclose(results[0], r) for r in results[2:])


def test_mgda_two_task_min_norm_point():
    gradients = torch.tensor([[2.0, 0.0], [-1.0, 1.0]])
    weighting = MGDAWeighting().initialize(2, "cpu")
    combined = weighting.combine_gradients(
        gradients, torch.ones(2), torch.tensor([0, 1])
    )
    # min over g in [0, 1] of |g (2, 0) + (1 - g) (-1, 1)|^2 is at g = 0.4
    torch.testing.assert_close(combined, torch.tensor([0.2, 0.6]))
    assert torch.all(gradients @ combined >= 0)
    weighting.end_epoch(np.zeros(2))
    np.testing.assert_allclose(weighting.weights_, [0.4, 0.6])


def test_mgda_dominated_gradient_takes_all_the_weight():
    # the segment from (1, 0) to (3, 0) is nearest the origin at (1, 0)
    gradients = torch.tensor([[1.0, 0.0], [3.0, 0.0]])
    combined = (
        MGDAWeighting()
        .initialize(2, "cpu")
        .combine_gradients(gradients, torch.ones(2), torch.tensor([0, 1]))
    )
    torch.testing.assert_close(combined, torch.tensor([1.0, 0.0]))


@pytest.mark.parametrize("normalization", ["none", "l2", "loss", "loss+"])
@given(
    arrays(np.float64, (4, 6), elements=st.floats(-5, 5)),
    arrays(np.float64, 4, elements=st.floats(0.1, 10)),
)
def test_mgda_update_never_opposes_a_task(normalization, gradients, losses):
    gradients, losses = torch.as_tensor(gradients), torch.as_tensor(losses)
    weighting = MGDAWeighting(normalization=normalization).initialize(5, "cpu")
    combined = weighting.combine_gradients(gradients, losses, torch.arange(4))
    scale = float((gradients**2).sum()) + 1.0
    assert torch.all(gradients @ combined >= -1e-9 * scale)


@pytest.mark.parametrize("seed", range(5))
def test_mgda_finds_the_min_norm_point_of_three_gradients(seed):
    rng = np.random.RandomState(seed)
    gradients = torch.as_tensor(rng.normal(size=(3, 5)))
    weighting = MGDAWeighting().initialize(3, "cpu")
    d = weighting.combine_gradients(gradients, torch.ones(3), torch.arange(3))
    # optimality on the simplex: d . g_t >= |d|^2 for every t, with equality
    # where the weight is positive
    products, squared_norm = (gradients @ d).numpy(), float(d @ d)
    weighting.end_epoch(np.ones(3))
    positive = weighting.weights_ > 1e-6
    assert squared_norm > 1e-3  # the hull does not contain the origin here
    assert np.all(products >= squared_norm - 1e-9)
    np.testing.assert_allclose(products[positive], squared_norm, rtol=1e-9)


@pytest.mark.parametrize("size", [1e-8, 1e8])
def test_mgda_weights_do_not_depend_on_the_size_of_the_gradients(size):
    rng = np.random.RandomState(0)
    gradients = torch.as_tensor(rng.normal(size=(3, 5)))
    weights = []
    for factor in (1.0, size):
        weighting = MGDAWeighting().initialize(3, "cpu")
        weighting.combine_gradients(gradients * factor, torch.ones(3), torch.arange(3))
        weighting.end_epoch(np.ones(3))
        weights.append(weighting.weights_)
    np.testing.assert_allclose(weights[1], weights[0], atol=1e-9)


def test_mgda_scale_matches_equal_weighting_for_orthogonal_gradients():
    gradients = torch.eye(2)
    weighting = MGDAWeighting().initialize(4, "cpu")
    combined = weighting.combine_gradients(
        gradients, torch.ones(2), torch.tensor([1, 3])
    )
    torch.testing.assert_close(combined, gradients.sum(dim=0) / 4)


# ---- absent tasks keep their state ------------------------------------------


def test_uncertainty_absent_task_keeps_its_state():
    weighting = UncertaintyWeighting(lr=0.1).initialize(3, "cpu")
    losses = torch.tensor([4.0, 0.0, 0.25], requires_grad=True)
    present = torch.tensor([True, False, True])
    objective = weighting.combine(losses, present)
    assert objective.item() == pytest.approx(0.5 * 4.0 + 0.5 * 0.25)
    weighting.after_backward()
    s = weighting._log_variances
    assert s[1] == 0 and weighting._steps[1] == 0 and weighting._exp_avg[1] == 0
    assert s[0] > 0 > s[2]
    # a validation batch (no gradient) moves nothing
    before = s.clone()
    weighting.combine(torch.tensor([9.0, 9.0, 9.0]), torch.ones(3, dtype=bool))
    weighting.after_backward()
    torch.testing.assert_close(weighting._log_variances, before)


def test_uncertainty_weights_follow_the_losses():
    weighting = UncertaintyWeighting(lr=0.05).initialize(2, "cpu")
    losses = torch.tensor([4.0, 0.25])
    for _ in range(500):
        weighting.combine(losses.clone().requires_grad_(), torch.ones(2, dtype=bool))
        weighting.after_backward()
    weighting.end_epoch(losses.numpy())
    # the optimum is s_t = log L_t, i.e. weight 1 / (2 L_t)
    np.testing.assert_allclose(weighting.log_variances_, np.log([4.0, 0.25]), atol=0.1)
    np.testing.assert_allclose(weighting.weights_, [1 / 8, 2.0], rtol=0.1)


def test_gradnorm_absent_task_keeps_its_state():
    weighting = GradNormWeighting(lr=0.1).initialize(3, "cpu")
    gradients = torch.tensor([[5.0, 0.0], [0.0, 1.0]])
    tasks = torch.tensor([0, 2])
    weighting.combine_gradients(gradients, torch.tensor([2.0, 3.0]), tasks)
    weighting.after_backward()
    weighting.end_epoch(np.ones(3))
    w = weighting.weights_
    assert w[1] == pytest.approx(1 / 3) and w.sum() == pytest.approx(1.0)
    assert w[0] < 1 / 3 < w[2]
    np.testing.assert_array_equal(weighting.initial_losses_[[0, 2]], [2.0, 3.0])
    assert np.isnan(weighting.initial_losses_[1])
    assert weighting._steps.tolist() == [1, 0, 1]


def test_gradnorm_single_present_task_moves_nothing():
    weighting = GradNormWeighting().initialize(2, "cpu")
    combined = weighting.combine_gradients(
        torch.tensor([[3.0, 4.0]]), torch.ones(1), torch.tensor([1])
    )
    torch.testing.assert_close(combined, torch.tensor([1.5, 2.0]))
    weighting.after_backward()
    torch.testing.assert_close(weighting._weights_tensor, torch.full((2,), 0.5))


def test_mgda_absent_task_keeps_its_recorded_weight():
    weighting = MGDAWeighting().initialize(3, "cpu")
    weighting.combine_gradients(
        torch.tensor([[2.0, 0.0], [-1.0, 1.0]]), torch.ones(2), torch.tensor([0, 2])
    )
    weighting.end_epoch(np.ones(3))
    np.testing.assert_allclose(weighting.weights_, [0.4, 1 / 3, 0.6])


def test_dwa_weights_from_loss_ratios():
    weighting = DWAWeighting(temperature=2.0).initialize(3, "cpu")
    weighting.end_epoch(np.array([1.0, 1.0, 1.0]))
    np.testing.assert_allclose(weighting.weights_, 1 / 3)
    weighting.end_epoch(np.array([0.5, 1.0, 0.0]))  # task 2: no training label
    ratios = np.array([0.5, 1.0, 1.0])
    expected = np.exp(ratios / 2) / np.exp(ratios / 2).sum()
    np.testing.assert_allclose(weighting.weights_, expected)
    losses = torch.tensor([1.0, 1.0, 1.0])
    assert weighting.combine(losses, torch.ones(3, dtype=bool)).item() == (
        pytest.approx(1.0)
    )
    weighting.end_epoch(np.array([0.5, 0.5, 0.2]))  # ratios of the last two epochs
    ratios = np.array([1.0, 0.5, 1.0])
    np.testing.assert_allclose(
        weighting.weights_, np.exp(ratios / 2) / np.exp(ratios / 2).sum()
    )


def test_dwa_first_two_epochs_are_equal(fitted_by_method):
    # row e holds the weights set after epoch e, used in epoch e + 1
    weights = np.asarray(fitted_by_method["dwa"].history_[:, "task_weights"])
    np.testing.assert_allclose(weights[0], 1 / 3)  # used in epoch 2
    assert np.ptp(weights[1]) > 0  # from the ratio of epochs 2 and 1


# ---- bad hyperparameters ----------------------------------------------------


@pytest.mark.parametrize(
    "weighting, match",
    [
        (UncertaintyWeighting(lr=-1.0), "'lr' parameter of UncertaintyWeighting"),
        (UncertaintyWeighting(lr=0), "'lr' parameter of UncertaintyWeighting"),
        (DWAWeighting(temperature=0), "'temperature' parameter of DWAWeighting"),
        (DWAWeighting(temperature="hot"), "'temperature' parameter of DWAWeighting"),
        (GradNormWeighting(alpha=-0.5), "'alpha' parameter of GradNormWeighting"),
        (GradNormWeighting(lr=-1e-3), "'lr' parameter of GradNormWeighting"),
        (MGDAWeighting(normalization="max"), "'normalization' parameter of MGDA"),
        (MGDAWeighting(normalization=None), "'normalization' parameter of MGDA"),
    ],
)
def test_bad_hyperparameters_are_rejected(weighting, match):
    with pytest.raises(ValueError, match=match):
        weighting.initialize(2, "cpu")


def test_bad_hyperparameters_are_rejected_by_fit(masked_data):
    X, Y = masked_data
    model = MultiTaskRegressor(
        task_weighting=DWAWeighting(temperature=-1), max_epochs=1
    )
    with pytest.raises(ValueError, match="'temperature' parameter of DWAWeighting"):
        model.fit(X, Y)


def test_gradient_strategy_without_combine_gradients_is_an_error():
    class Incomplete(TaskWeighting):
        needs_gradients = True

    with pytest.raises(NotImplementedError, match="does not implement combine_grad"):
        Incomplete().initialize(2, "cpu").combine_gradients(
            torch.eye(2), torch.ones(2), torch.arange(2)
        )


# ---- CUDA (skipped without a GPU) -------------------------------------------


@pytest.mark.cuda
def test_strategies_train_on_cuda_and_resume_on_a_cpu_only_machine(
    masked_data, tmp_path
):
    X, Y = masked_data
    models = {
        name: MultiTaskRegressor(
            task_weighting=name, device="cuda", max_epochs=3, **SMALL
        ).fit(X, Y)
        for name in METHODS
    }
    for name, model in models.items():
        state = vars(model.net_.task_weighting).values()
        tensors = [value for value in state if torch.is_tensor(value)]
        assert tensors and all(t.is_cuda for t in tensors), name
    path = tmp_path / "models.pkl"
    path.write_bytes(pickle.dumps(models))
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "Y.npy", Y)
    script = f"""
import pickle, warnings, numpy as np, torch
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    models = pickle.loads(open({str(path)!r}, "rb").read())
X, Y = np.load({str(tmp_path / "X.npy")!r}), np.load({str(tmp_path / "Y.npy")!r})
for name, model in models.items():
    model.partial_fit(X, Y)
    state = vars(model.net_.task_weighting).values()
    assert not any(v.is_cuda for v in state if torch.is_tensor(v)), name
    assert np.all(np.isfinite(model.history_[-1, "task_weights"])), name
print("resumed on", model.net_.device)
"""
    assert "resumed on cpu" in run_without_cuda(script).stdout


# ---- many tasks: a bounded number of task gradients per step -----------------

GRADIENT_METHODS = {
    "pcgrad": PCGradWeighting,
    "gradnorm": GradNormWeighting,
    "mgda": MGDAWeighting,
}


def one_label_per_row(n_samples, n_tasks, seed=0):
    """School-like data: every row is labelled for exactly one task."""
    X, Y = make_multitask_regression(
        n_samples=n_samples, n_tasks=n_tasks, random_state=seed
    )
    task = np.random.default_rng(seed).integers(0, n_tasks, size=n_samples)
    masked = np.full_like(Y, np.nan)
    masked[np.arange(n_samples), task] = Y[np.arange(n_samples), task]
    return X, masked


@pytest.fixture
def jacobian_rows(monkeypatch):
    """Record the number of task gradients each training step computes."""
    import sklearn_mtl._gradients as gradients_module
    import sklearn_mtl._net as net_module

    rows = []
    original = gradients_module.task_jacobian

    def spy(task_losses, params):
        rows.append(task_losses.shape[0])
        return original(task_losses, params)

    monkeypatch.setattr(net_module, "task_jacobian", spy)
    monkeypatch.setattr(gradients_module, "task_jacobian", spy)
    return rows


@pytest.mark.parametrize("name", GRADIENT_METHODS)
def test_many_tasks_train_with_a_bounded_number_of_task_gradients(name, jacobian_rows):
    X, Y = one_label_per_row(2000, 200)
    model = MultiTaskRegressor(
        task_weighting=name,
        hidden_layer_sizes=(32,),
        lr=1e-2,
        max_epochs=6,
        random_state=0,
    ).fit(X, Y)
    losses = model.history_[:, "train_loss"]
    assert losses[-1] < 0.6 * losses[0], losses
    # about 145 of the 200 tasks are present in a batch of 256 rows; only 8
    # gradients are computed per step
    assert len(jacobian_rows) == 6 * 8
    assert max(jacobian_rows) == GRADIENT_METHODS[name]().max_tasks_per_step == 8
    weights = np.asarray(model.history_[-1, "task_weights"])
    assert weights.shape == (200,) and np.all(np.isfinite(weights))
    assert np.all(weights > 0)


@pytest.mark.parametrize("name", GRADIENT_METHODS)
def test_within_the_budget_every_present_task_gradient_is_computed(
    name, jacobian_rows, masked_data
):
    X, Y = masked_data
    model = MultiTaskRegressor(task_weighting=name, max_epochs=2, **SMALL).fit(X, Y)
    assert jacobian_rows and max(jacobian_rows) == 3
    # and without a budget the fit is the same as with the default one
    unbounded = GRADIENT_METHODS[name](max_tasks_per_step=None)
    same = MultiTaskRegressor(task_weighting=unbounded, max_epochs=2, **SMALL)
    np.testing.assert_array_equal(same.fit(X, Y).predict(X), model.predict(X))


@pytest.mark.parametrize("cls", GRADIENT_METHODS.values())
def test_select_tasks_draws_a_sorted_subset_from_the_global_rng(cls):
    weighting = cls(max_tasks_per_step=4).initialize(10, "cpu")
    tasks = torch.tensor([0, 2, 3, 5, 6, 7, 9])
    torch.manual_seed(1)
    first = weighting.select_tasks(tasks)
    assert len(first) == 4 and torch.all(first[1:] > first[:-1])
    assert set(first.tolist()) <= set(tasks.tolist())
    assert set(weighting._left_out.tolist()) == set(tasks.tolist()) - set(
        first.tolist()
    )
    torch.manual_seed(1)
    assert torch.equal(weighting.select_tasks(tasks), first)
    assert weighting.select_tasks(tasks[:4]) is not None
    assert torch.equal(weighting.select_tasks(tasks[:4]), tasks[:4])
    assert weighting._left_out is None


def test_left_out_tasks_follow_their_plain_gradient():
    # one full-batch SGD step: GradNorm's first shared update is sum_t g_t / T
    # whether 4 or all 30 gradients are computed, as for equal weighting
    X, Y = one_label_per_row(300, 30)
    params = dict(
        hidden_layer_sizes=(16,),
        batch_size=300,
        max_epochs=1,
        optimizer="sgd",
        lr=0.1,
        random_state=0,
    )
    predictions = [
        MultiTaskRegressor(task_weighting=weighting, **params).fit(X, Y).predict(X)
        for weighting in (
            "equal",
            GradNormWeighting(max_tasks_per_step=4),
            GradNormWeighting(max_tasks_per_step=None),
        )
    ]
    np.testing.assert_allclose(predictions[1], predictions[0], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(predictions[2], predictions[0], rtol=1e-4, atol=1e-5)


def test_mgda_records_left_out_tasks_relative_to_the_update_scale():
    weighting = MGDAWeighting(max_tasks_per_step=2).initialize(5, "cpu")
    tasks = torch.arange(4)
    selected = weighting.select_tasks(tasks)
    gradients = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    update = weighting.combine_gradients(gradients, torch.ones(2), selected)
    # the two drawn tasks' min-norm point, on the scale 2 / 5
    np.testing.assert_allclose(update.numpy(), [0.2, 0.2])
    weighting.end_epoch(None)
    expected = np.full(5, 0.25)
    expected[4] = 0.2  # never present: keeps 1 / n_tasks
    np.testing.assert_allclose(weighting.weights_, expected)


def test_budget_is_validated():
    with pytest.raises(ValueError, match="'max_tasks_per_step' parameter"):
        PCGradWeighting(max_tasks_per_step=1).initialize(3, "cpu")


def test_affinity_still_sees_every_task_with_a_budget():
    X, Y = one_label_per_row(600, 12)
    model = MultiTaskRegressor(
        task_weighting=PCGradWeighting(max_tasks_per_step=3),
        task_affinity="gradient_cosine",
        hidden_layer_sizes=(16,),
        max_epochs=2,
        random_state=0,
    ).fit(X, Y)
    affinity = model.task_affinity_
    assert affinity.shape == (12, 12) and np.all(np.isfinite(affinity))
    np.testing.assert_allclose(np.diag(affinity), 1.0, rtol=1e-5)


def test_drawn_tasks_gradients_from_their_rows_equal_the_whole_batch():
    from sklearn_mtl._gradients import (
        rows_are_independent,
        shared_parameters,
        subset_task_jacobian,
        task_jacobian,
    )

    X, Y = one_label_per_row(256, 40)
    model = MultiTaskRegressor(hidden_layer_sizes=(16,), max_epochs=1, random_state=0)
    net = model.fit(X, Y).net_
    inputs = torch.tensor(X, dtype=torch.float32)
    targets = (
        torch.tensor(np.nan_to_num(Y), dtype=torch.float32),
        torch.tensor(~np.isnan(Y), dtype=torch.float32),
    )
    losses, present = net.task_losses(net.module_(inputs), targets)
    tasks = present.nonzero().squeeze(1)[:5]
    shared = shared_parameters(net.module_)
    batch_sizes = []
    hook = net.module_.register_forward_hook(
        lambda module, args, out: batch_sizes.append(len(args[0]))
    )
    subset = subset_task_jacobian(net, inputs, targets, losses, tasks, shared)
    hook.remove()
    labelled = int((targets[1][:, tasks] > 0).any(dim=1).sum())
    assert batch_sizes == [labelled] and labelled < 64
    np.testing.assert_allclose(
        subset.numpy(),
        task_jacobian(losses[tasks], shared).detach().numpy(),
        rtol=1e-4,
        atol=1e-6,
    )
    assert rows_are_independent(net.module_)
    assert not rows_are_independent(torch.nn.Sequential(torch.nn.Dropout(0.1)))
    assert not rows_are_independent(torch.nn.BatchNorm1d(3))


def test_task_budget_leaves_nothing_pickled_outside_the_device_map():
    X, Y = make_multitask_regression(
        n_samples=240, n_features=4, n_tasks=12, random_state=0
    )
    model = MultiTaskRegressor(
        hidden_layer_sizes=(8,), task_weighting="pcgrad", max_epochs=2, random_state=0
    ).fit(X, Y)  # 12 tasks: each step draws 8 and takes the row-subset path
    assert parameters_pickled_raw(model) == []
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict(X), model.predict(X))
