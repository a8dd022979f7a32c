"""MultiTaskRegressor(loss="quantile"): pinball loss, predict_quantiles."""

import numpy as np
import pytest

from sklearn_mtl import MultiTaskRegressor, load, save, stack_tasks

QUANTILE = dict(
    loss="quantile", hidden_layer_sizes=(32,), lr=1e-2, max_epochs=20, random_state=0
)
SMALL = dict(loss="quantile", hidden_layer_sizes=(8,), max_epochs=3, random_state=0)


def heteroscedastic(n, seed):
    """Two tasks whose noise grows with the inputs."""
    rng = np.random.RandomState(seed)
    X = rng.uniform(-2, 2, size=(n, 3))
    noise = rng.normal(size=(n, 2))
    Y = np.column_stack(
        [
            np.sin(X[:, 0]) + (0.2 + 0.8 * np.abs(X[:, 0])) * noise[:, 0],
            X[:, 1] + (0.3 + 0.5 * (X[:, 1] > 0)) * noise[:, 1],
        ]
    )
    return X, Y


@pytest.fixture(scope="module")
def quantile_model():
    X, Y = heteroscedastic(3000, seed=0)
    return MultiTaskRegressor(**QUANTILE).fit(X, Y)


def test_held_out_coverage_matches_the_quantiles(quantile_model):
    X_test, Y_test = heteroscedastic(3000, seed=1)
    q = quantile_model.predict_quantiles(X_test)
    assert q.shape == (3000, 2, 3) and q.dtype == np.float64
    for t in range(2):
        # the tails; the median's share wanders more with Adam's last steps
        below = (Y_test[:, t, None] < q[:, t, [0, 2]]).mean(axis=0)
        np.testing.assert_allclose(below, [0.1, 0.9], atol=0.07)
        # the 0.1-0.9 band covers about 80% of the rows
        inside = np.mean((q[:, t, 0] <= Y_test[:, t]) & (Y_test[:, t] <= q[:, t, 2]))
        assert abs(inside - 0.8) < 0.07


def test_the_band_is_wider_where_the_noise_is_larger(quantile_model):
    X_test, _ = heteroscedastic(3000, seed=1)
    q = quantile_model.predict_quantiles(X_test)
    width = q[:, 1, 2] - q[:, 1, 0]
    # task 1's noise is 0.8 for x1 > 0 and 0.3 below: the band is wider there
    positive = X_test[:, 1] > 0.5
    negative = X_test[:, 1] < -0.5
    assert width[positive].mean() > 1.5 * width[negative].mean()


def test_quantiles_never_cross_and_predict_is_the_median(quantile_model):
    X_test, _ = heteroscedastic(500, seed=2)
    q = quantile_model.predict_quantiles(X_test)
    assert np.all(np.diff(q, axis=-1) >= 0)
    np.testing.assert_array_equal(quantile_model.predict(X_test), q[:, :, 1])
    # far outside the training range too, where the raw outputs may cross
    far = 50 * X_test
    q_far = quantile_model.predict_quantiles(far)
    assert np.all(np.diff(q_far, axis=-1) >= 0)
    np.testing.assert_array_equal(quantile_model.predict(far), q_far[:, :, 1])


def test_the_median_column_is_found_wherever_it_is():
    X, Y = heteroscedastic(300, seed=0)
    quantiles = (0.05, 0.25, 0.5, 0.75, 0.95)
    model = MultiTaskRegressor(**{**SMALL, "quantiles": quantiles}).fit(X, Y)
    q = model.predict_quantiles(X)
    assert q.shape == (300, 2, 5)
    np.testing.assert_array_equal(model.predict(X), q[:, :, 2])
    assert np.all(np.diff(q, axis=-1) >= 0)


def test_1d_y_gives_one_row_of_quantiles_per_sample():
    X, Y = heteroscedastic(300, seed=0)
    model = MultiTaskRegressor(**{**SMALL, "quantiles": [0.25, 0.5, 0.75, 0.95]})
    model.fit(X, Y[:, 0])
    q = model.predict_quantiles(X)
    assert q.shape == (300, 4)
    pred = model.predict(X)
    assert pred.shape == (300,)
    np.testing.assert_array_equal(pred, q[:, 1])


def test_quantiles_are_in_target_units():
    X, Y = heteroscedastic(1000, seed=0)
    scaled = 1000.0 * Y + 5e4
    model = MultiTaskRegressor(**QUANTILE).fit(X, scaled)
    q = model.predict_quantiles(X)
    below = (scaled[:, :, None] < q[:, :, [0, 2]]).mean(axis=0)
    np.testing.assert_allclose(below, [[0.1, 0.9]] * 2, atol=0.07)


@pytest.mark.parametrize(
    "quantiles",
    [
        (0.1, 0.9),
        (0.0, 0.5, 0.9),
        (0.1, 0.5, 1.0),
        (-0.1, 0.5),
        (0.9, 0.5, 0.1),
        [[0.1, 0.5], [0.6, 0.9]],
    ],
    ids=["no_median", "zero", "one", "negative", "decreasing", "nested"],
)
def test_invalid_quantiles_are_refused(quantiles):
    X, Y = heteroscedastic(50, seed=0)
    model = MultiTaskRegressor(**{**SMALL, "quantiles": quantiles})
    with pytest.raises(ValueError, match="quantiles must be a 1-D list of increasing"):
        model.fit(X, Y)
    assert not hasattr(model, "net_")


def test_repeated_quantiles_are_refused():
    X, Y = heteroscedastic(50, seed=0)
    model = MultiTaskRegressor(**{**SMALL, "quantiles": (0.1, 0.5, 0.5, 0.9)})
    with pytest.raises(ValueError, match="quantiles must be a 1-D list of increasing"):
        model.fit(X, Y)


def test_quantiles_are_ignored_by_other_losses():
    X, Y = heteroscedastic(50, seed=0)
    model = MultiTaskRegressor(
        loss="squared_error",
        quantiles=(0.1, 0.9),
        hidden_layer_sizes=(8,),
        max_epochs=2,
    )
    assert model.fit(X, Y).predict(X).shape == (50, 2)


def test_predict_quantiles_needs_a_quantile_model():
    X, Y = heteroscedastic(50, seed=0)
    model = MultiTaskRegressor(hidden_layer_sizes=(8,), max_epochs=2).fit(X, Y)
    with pytest.raises(AttributeError, match="loss='quantile'"):
        model.predict_quantiles(X)


def test_warm_start_cannot_change_the_quantiles():
    X, Y = heteroscedastic(100, seed=0)
    model = MultiTaskRegressor(**SMALL, warm_start=True).fit(X, Y)
    before = model.predict_quantiles(X)
    model.set_params(quantiles=(0.2, 0.5, 0.8))
    with pytest.raises(ValueError, match="another network architecture"):
        model.fit(X, Y)
    model.set_params(quantiles=(0.1, 0.5, 0.9), loss="squared_error")
    with pytest.raises(ValueError, match="another network architecture"):
        model.fit(X, Y)
    model.set_params(loss="quantile")
    np.testing.assert_array_equal(model.predict_quantiles(X), before)
    model.fit(X, Y)  # the same quantiles continue training
    assert model.n_iter_ == 6 and model.predict_quantiles(X).shape == (100, 2, 3)


def test_missing_labels_are_left_out():
    X, Y = heteroscedastic(3000, seed=0)
    rng = np.random.RandomState(0)
    missing = rng.rand(*Y.shape) < 0.4
    missing[missing.all(axis=1), 0] = False
    Y_missing = np.where(missing, np.nan, Y)
    model = MultiTaskRegressor(**QUANTILE).fit(X, Y_missing)
    X_test, Y_test = heteroscedastic(3000, seed=1)
    q = model.predict_quantiles(X_test)
    assert np.all(np.isfinite(q))
    below = (Y_test[:, :, None] < q[:, :, [0, 2]]).mean(axis=0)
    np.testing.assert_allclose(below, [[0.1, 0.9]] * 2, atol=0.07)


def test_missing_labels_do_not_reach_the_loss():
    # full batch: each task's labelled rows alone, stacked with NaN elsewhere,
    # give the same model as the masked Y whose rows are shared by the tasks
    X, Y = heteroscedastic(200, seed=0)
    Y[::3, 1] = np.nan
    Y[1::3, 0] = np.nan
    per_task = [(X[~np.isnan(Y[:, t])], Y[~np.isnan(Y[:, t]), t]) for t in range(2)]
    common = {**SMALL, "batch_size": 512}
    shared = MultiTaskRegressor(**common).fit(X, Y)
    separate = MultiTaskRegressor(**common).fit(*stack_tasks(per_task))
    np.testing.assert_allclose(
        shared.predict_quantiles(X), separate.predict_quantiles(X), rtol=1e-4, atol=1e-5
    )


def test_save_load_keeps_the_quantiles(tmp_path):
    X, Y = heteroscedastic(300, seed=0)
    Y[::4, 0] = np.nan
    model = MultiTaskRegressor(**{**SMALL, "quantiles": (0.2, 0.5, 0.7)}).fit(X, Y)
    save(model, tmp_path / "quantile.zip")
    loaded = load(tmp_path / "quantile.zip")
    assert loaded.loss == "quantile"
    assert tuple(loaded.quantiles) == (0.2, 0.5, 0.7)
    np.testing.assert_array_equal(
        loaded.predict_quantiles(X), model.predict_quantiles(X)
    )
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
