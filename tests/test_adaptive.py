"""The settings MultiTaskRegressor chooses from the training data (alpha="auto",
early_stopping="auto", shrinkage="auto"): each rule does what it says."""

import numpy as np
import pytest
from sklearn.base import clone

from sklearn_mtl import MultiTaskRegressor
from sklearn_mtl._adaptive import (
    FALLBACK_ALPHA,
    HOLDOUT_MIN_ROWS,
    STOPPED_ALPHA,
    shrinkage_factors,
)
from sklearn_mtl.datasets import make_multitask_regression

FIXED = {"alpha": FALLBACK_ALPHA, "early_stopping": False, "shrinkage": False}
SMALL = {"hidden_layer_sizes": (32,), "max_epochs": 60}


def noise(n, n_tasks=2, seed=0):
    """Inputs, and targets that do not depend on them."""
    rng = np.random.RandomState(seed)
    return rng.normal(size=(n, 20)), rng.normal(size=(n, n_tasks))


def test_large_smooth_data_get_little_regularisation():
    X, Y = make_multitask_regression(
        n_samples=2 * HOLDOUT_MIN_ROWS, n_tasks=3, noise=0.0, random_state=0
    )
    model = MultiTaskRegressor(random_state=0, **SMALL).fit(X, Y)
    assert model.alpha_ == STOPPED_ALPHA < FALLBACK_ALPHA
    # a smooth target keeps improving on the held-out rows: no early stop
    assert model.n_iter_ > 0.8 * SMALL["max_epochs"]
    assert "valid_loss" in model.history_[-1]
    assert np.all(model.shrinkage_ > 0.95)  # and the predictions are trusted


def test_large_noisy_data_stop_early_and_stay_at_the_mean():
    X, Y = noise(HOLDOUT_MIN_ROWS + 200)
    X_test, Y_test = noise(2000, seed=1)
    model = MultiTaskRegressor(random_state=0, max_epochs=100).fit(X, Y)
    assert model.n_iter_ < 30  # the held-out loss is best within a few epochs
    assert model.shrinkage_.mean() < 0.75
    fixed = MultiTaskRegressor(random_state=0, max_epochs=100, **FIXED).fit(X, Y)
    assert fixed.n_iter_ == 100
    assert fixed.score(X_test, Y_test) < -0.1  # the fixed settings overfit
    assert model.score(X_test, Y_test) > -0.02  # never far below the mean


def test_small_data_keep_strong_fixed_regularisation():
    X, Y = noise(HOLDOUT_MIN_ROWS // 4)
    model = MultiTaskRegressor(random_state=0, **SMALL).fit(X, Y)
    assert model.alpha_ == FALLBACK_ALPHA
    assert "valid_loss" not in model.history_[-1]
    np.testing.assert_array_equal(model.shrinkage_, 1.0)
    fixed = MultiTaskRegressor(random_state=0, **SMALL, **FIXED).fit(X, Y)
    np.testing.assert_array_equal(model.predict(X), fixed.predict(X))


def zero_inflated(n, seed):
    """Counts of rare events: 90% zeros, the rest heavy-tailed, unrelated to X."""
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, 20))
    Y = np.where(rng.rand(n, 2) < 0.9, 0.0, rng.pareto(2.0, size=(n, 2)) + 1)
    return X, Y


def test_small_zero_inflated_targets_stop_early_and_stay_at_the_mean():
    X, Y = zero_inflated(300, 0)
    X_test, Y_test = zero_inflated(5000, 1)
    model = MultiTaskRegressor(random_state=0, max_epochs=100).fit(X, Y)
    assert model.alpha_ == STOPPED_ALPHA
    assert model.n_iter_ < 30 and "valid_loss" in model.history_[-1]
    fixed = MultiTaskRegressor(random_state=0, max_epochs=100, **FIXED).fit(X, Y)
    assert fixed.score(X_test, Y_test) < -0.1  # the fixed settings overfit
    assert model.score(X_test, Y_test) > -0.02
    # the same number of rows with a continuous target: small data
    dense = MultiTaskRegressor(random_state=0, max_epochs=5).fit(X, noise(300)[1])
    assert dense.alpha_ == FALLBACK_ALPHA


def test_many_sparsely_labelled_tasks_count_as_small_data():
    # 2,000 rows, each labelled for one of 20 tasks: 100 labels per task
    X, Y = noise(2000, n_tasks=20)
    Y[np.arange(2000)[:, None] % 20 != np.arange(20)] = np.nan
    model = MultiTaskRegressor(random_state=0, max_epochs=5).fit(X, Y)
    assert model.alpha_ == FALLBACK_ALPHA
    assert "valid_loss" not in model.history_[-1]


def test_explicit_settings_give_exact_control():
    X, Y = noise(2 * HOLDOUT_MIN_ROWS)
    model = MultiTaskRegressor(
        random_state=0, alpha=1e-3, early_stopping=False, shrinkage=False, **SMALL
    ).fit(X, Y)
    assert model.alpha_ == 1e-3
    assert "valid_loss" not in model.history_[-1]
    np.testing.assert_array_equal(model.shrinkage_, 1.0)


def test_early_stopping_true_stops_and_shrinks_at_any_size():
    X, Y = noise(200)
    model = MultiTaskRegressor(random_state=0, early_stopping=True, **SMALL).fit(X, Y)
    assert model.alpha_ == STOPPED_ALPHA
    assert "valid_loss" in model.history_[-1]
    assert np.all(model.shrinkage_ < 1.0)


def test_shrinkage_is_folded_into_the_output_layer():
    X, Y = noise(2 * HOLDOUT_MIN_ROWS)
    auto = MultiTaskRegressor(random_state=0, **SMALL).fit(X, Y)
    plain = MultiTaskRegressor(random_state=0, shrinkage=False, **SMALL).fit(X, Y)
    assert auto.alpha_ == plain.alpha_
    deviation = (plain.predict(X) - plain._target_mean) * auto.shrinkage_
    np.testing.assert_allclose(
        auto.predict(X), plain._target_mean + deviation, rtol=1e-5, atol=1e-6
    )


def test_missing_labels_with_auto_settings():
    X, Y = make_multitask_regression(
        n_samples=3 * HOLDOUT_MIN_ROWS, n_tasks=3, missing_rate=0.5, random_state=0
    )
    model = MultiTaskRegressor(random_state=0, **SMALL).fit(X, Y)
    assert "valid_loss" in model.history_[-1]
    assert np.all(np.isfinite(model.predict(X)))
    assert model.score(X, Y) > 0.5


def test_partial_fit_keeps_the_fitted_settings():
    X, Y = noise(2 * HOLDOUT_MIN_ROWS)
    model = MultiTaskRegressor(random_state=0, **SMALL).fit(X, Y)
    alpha, shrinkage = model.alpha_, model.shrinkage_.copy()
    model.partial_fit(X, Y)
    assert model.alpha_ == alpha
    np.testing.assert_array_equal(model.shrinkage_, shrinkage)
    # a first partial_fit holds nothing out: the fixed penalty
    fresh = clone(model).partial_fit(X, Y)
    assert fresh.alpha_ == FALLBACK_ALPHA
    np.testing.assert_array_equal(fresh.shrinkage_, 1.0)


def test_shrinkage_factors():
    rng = np.random.RandomState(0)
    P = rng.normal(size=(500, 3))
    Z = np.column_stack([P[:, 0], 0.5 * P[:, 1], -P[:, 2]])
    W = np.ones_like(Z)
    W[:, 2] = 0  # no held-out label: left alone
    np.testing.assert_allclose(shrinkage_factors(Z, P, W), [1.0, 0.5, 1.0])
    W[:, 2] = 1  # anti-correlated: shrunk to the mean, never flipped
    assert shrinkage_factors(Z, P, W)[2] == 0.0
    # overconfident predictions are pulled in, never pushed out past 1
    assert shrinkage_factors(Z, 2 * P, np.ones_like(Z))[0] == pytest.approx(0.5)
    assert shrinkage_factors(2 * Z, P, np.ones_like(Z))[0] == 1.0


def test_a_failed_auto_fit_leaves_the_model_as_it_was():
    X, Y = make_multitask_regression(n_samples=200, n_tasks=2, random_state=0)
    model = MultiTaskRegressor(random_state=0, **SMALL).fit(X, Y)
    before = model.predict(X)
    with pytest.raises(ValueError, match="alpha"):
        model.set_params(alpha="often").fit(X, Y)
    np.testing.assert_array_equal(model.predict(X), before)
    assert model.alpha_ == FALLBACK_ALPHA


def test_a_saved_model_keeps_what_the_fit_chose(tmp_path):
    from sklearn_mtl import load, save

    X, Y = noise(HOLDOUT_MIN_ROWS + 200)
    model = MultiTaskRegressor(random_state=0, max_epochs=20).fit(X, Y)
    assert np.any(model.shrinkage_ < 1)
    save(model, tmp_path / "model")
    loaded = load(tmp_path / "model")
    assert loaded.alpha_ == model.alpha_
    np.testing.assert_array_equal(loaded.shrinkage_, model.shrinkage_)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


@pytest.mark.parametrize("flag", [np.True_, np.False_])
def test_numpy_bools_mean_what_python_bools_do(flag):
    # a grid built from a numpy array passes np.bool_, not bool
    X, Y = make_multitask_regression(n_samples=100, n_tasks=2, random_state=0)
    model = MultiTaskRegressor(random_state=0, early_stopping=flag, max_epochs=5)
    model.fit(X, Y)
    assert ("valid_loss" in model.history_[-1]) is bool(flag)
    reference = MultiTaskRegressor(
        random_state=0, early_stopping=bool(flag), max_epochs=5
    )
    np.testing.assert_array_equal(model.predict(X), reference.fit(X, Y).predict(X))
