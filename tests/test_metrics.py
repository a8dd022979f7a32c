"""Masked metrics and scorers: values, warnings, and sklearn's evaluation tools."""

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import sklearn
from scipy.stats import loguniform, randint
from sklearn import metrics as skmetrics
from sklearn.base import clone
from sklearn.experimental import enable_halving_search_cv  # noqa: F401
from sklearn.inspection import permutation_importance
from sklearn.model_selection import (
    GridSearchCV,
    HalvingGridSearchCV,
    HalvingRandomSearchCV,
    RandomizedSearchCV,
    cross_val_score,
    cross_validate,
    learning_curve,
)

from sklearn_mtl import MultiTaskRegressor, stack_tasks
from sklearn_mtl.metrics import (
    get_scorer,
    get_scorer_names,
    masked_mean_absolute_error,
    masked_mean_squared_error,
    masked_r2_score,
    masked_root_mean_squared_error,
)
from sklearn_mtl.model_selection import MultiTaskKFold

PAIRS = [
    (masked_r2_score, skmetrics.r2_score),
    (masked_mean_squared_error, skmetrics.mean_squared_error),
    (masked_root_mean_squared_error, skmetrics.root_mean_squared_error),
    (masked_mean_absolute_error, skmetrics.mean_absolute_error),
]
SCORERS = {
    "r2": masked_r2_score,
    "neg_mean_squared_error": masked_mean_squared_error,
    "neg_root_mean_squared_error": masked_root_mean_squared_error,
    "neg_mean_absolute_error": masked_mean_absolute_error,
}
TINY = dict(hidden_layer_sizes=(8,), batch_size=16, max_epochs=8, random_state=0)


@pytest.fixture(scope="module")
def stacked():
    """Three tasks of 24, 30 and 36 rows, stacked task after task."""
    rng = np.random.RandomState(0)
    tasks = []
    for n in (24, 30, 36):
        X = rng.normal(size=(n, 4))
        tasks.append((X, X @ rng.normal(size=4) + 0.1 * rng.normal(size=n)))
    return stack_tasks(tasks)


@pytest.fixture(scope="module")
def fitted(stacked):
    X, Y = stacked
    return MultiTaskRegressor(**TINY).fit(X, Y)


def masked_by_hand(metric, Y, P, w=None):
    """The mean over tasks of sklearn's ``metric`` on each task's labelled rows."""
    values = []
    for t in range(Y.shape[1]):
        rows = ~np.isnan(Y[:, t])
        weights = None if w is None else w[rows]
        values.append(metric(Y[rows, t], P[rows, t], sample_weight=weights))
    return np.mean(values)


# ---- the metrics -----------------------------------------------------------
@pytest.mark.parametrize("masked, reference", PAIRS)
@pytest.mark.parametrize("multioutput", ["uniform_average", "raw_values", "weights"])
@pytest.mark.parametrize("weighted", [False, True])
def test_equal_to_sklearn_on_full_labels(masked, reference, multioutput, weighted):
    rng = np.random.RandomState(0)
    Y = rng.normal(size=(40, 3)) * [1.0, 10.0, 0.1]
    P = Y + rng.normal(scale=0.5, size=Y.shape)
    w = rng.uniform(0.1, 3.0, size=40) if weighted else None
    multioutput = [0.2, 0.5, 1.3] if multioutput == "weights" else multioutput
    kwargs = dict(sample_weight=w, multioutput=multioutput)
    np.testing.assert_allclose(
        masked(Y, P, **kwargs), reference(Y, P, **kwargs), rtol=1e-12
    )
    # one task, as a 1-D y
    np.testing.assert_allclose(
        masked(Y[:, 1], P[:, 1], sample_weight=w),
        reference(Y[:, 1], P[:, 1], sample_weight=w),
        rtol=1e-12,
    )


@pytest.mark.parametrize("masked, reference", PAIRS)
def test_each_task_is_scored_on_its_labelled_rows(masked, reference):
    rng = np.random.RandomState(1)
    Y = rng.normal(size=(50, 3))
    P = Y + rng.normal(scale=0.5, size=Y.shape)
    Y[rng.rand(*Y.shape) < 0.4] = np.nan
    P[np.isnan(Y)] = np.nan  # predictions of unlabelled cells are never read
    w = rng.uniform(0.1, 3.0, size=50)
    raw = masked(Y, P, sample_weight=w, multioutput="raw_values")
    for t in range(3):
        rows = ~np.isnan(Y[:, t])
        assert raw[t] == pytest.approx(
            reference(Y[rows, t], P[rows, t], sample_weight=w[rows])
        )
    assert masked(Y, P, sample_weight=w) == pytest.approx(raw.mean())
    assert masked(Y, P, multioutput=[1, 0, 3]) == pytest.approx(
        np.average(masked(Y, P, multioutput="raw_values"), weights=[1, 0, 3])
    )


def test_hand_computed_values():
    Y = np.array([[1.0, np.nan], [2.0, 5.0], [3.0, 7.0], [np.nan, 9.0]])
    P = np.array([[2.0, 0.0], [2.0, 6.0], [3.0, 7.0], [0.0, 6.0]])
    # task 0: errors 1, 0, 0; task 1: errors 1, 0, 3
    np.testing.assert_allclose(
        masked_mean_absolute_error(Y, P, multioutput="raw_values"), [1 / 3, 4 / 3]
    )
    np.testing.assert_allclose(
        masked_mean_squared_error(Y, P, multioutput="raw_values"), [1 / 3, 10 / 3]
    )
    np.testing.assert_allclose(
        masked_root_mean_squared_error(Y, P, multioutput="raw_values"),
        np.sqrt([1 / 3, 10 / 3]),
    )
    # R^2: task 0 has mean 2, total 2, residual 1; task 1 mean 7, total 8, residual 10
    np.testing.assert_allclose(
        masked_r2_score(Y, P, multioutput="raw_values"), [0.5, -0.25]
    )
    assert masked_r2_score(Y, P) == pytest.approx(0.125)
    # weights [1, 1, 0, 2]: task 0 keeps rows 0-1, task 1 rows 1 and 3 (twice)
    w = [1.0, 1.0, 0.0, 2.0]
    np.testing.assert_allclose(
        masked_mean_absolute_error(Y, P, sample_weight=w, multioutput="raw_values"),
        [1 / 2, (1 + 2 * 3) / 3],
    )
    assert masked_mean_squared_error(Y, P, multioutput=[3.0, 1.0]) == pytest.approx(
        (3 * 1 / 3 + 10 / 3) / 4
    )


def test_constant_task_and_huge_targets():
    Y = np.array([[2.0, 1.0], [2.0, 2.0], [2.0, 3.0]])
    np.testing.assert_array_equal(
        masked_r2_score(Y, Y, multioutput="raw_values"), [1.0, 1.0]
    )
    P = Y + [[0.5, 0.0]]
    np.testing.assert_array_equal(
        masked_r2_score(Y, P, multioutput="raw_values"), [0.0, 1.0]
    )
    huge = np.array([[1e308, np.nan], [-1e308, 1.0], [1e308, 2.0]])
    assert np.isfinite(masked_r2_score(huge, huge / 2))
    assert masked_r2_score(huge, huge) == 1.0


def test_sample_weight_scale_does_not_matter():
    rng = np.random.RandomState(2)
    Y = rng.normal(size=(20, 2))
    Y[:5, 0] = np.nan
    P = Y + rng.normal(size=Y.shape)
    w = rng.uniform(0.1, 10, size=20)
    for metric in SCORERS.values():
        for k in (-300, 300):
            assert metric(Y, P, sample_weight=w * 10.0**k) == pytest.approx(
                metric(Y, P, sample_weight=w), rel=1e-9
            )


@pytest.mark.parametrize("metric", SCORERS.values())
def test_a_task_without_labels_is_left_out_with_a_warning(metric):
    rng = np.random.RandomState(3)
    Y = rng.normal(size=(10, 3))
    P = Y + rng.normal(size=Y.shape)
    Y_left = Y.copy()
    Y_left[:, 1] = np.nan
    with pytest.warns(UserWarning, match=r"1 task\(s\): task 1\. They are left out"):
        raw = metric(Y_left, P, multioutput="raw_values")
    assert np.isnan(raw[1])
    np.testing.assert_allclose(
        raw[[0, 2]], metric(Y[:, [0, 2]], P[:, [0, 2]], multioutput="raw_values")
    )
    with pytest.warns(UserWarning, match="task 1"):
        assert metric(Y_left, P) == pytest.approx(np.mean(raw[[0, 2]]))
    with pytest.warns(UserWarning, match="task 1"):
        weighted = metric(Y_left, P, multioutput=[1.0, 5.0, 3.0])
    assert weighted == pytest.approx(np.average(raw[[0, 2]], weights=[1.0, 3.0]))
    # named by column for a DataFrame; zero weight on every labelled row also
    # leaves a task out
    frame = pd.DataFrame(Y_left, columns=["a", "b", "c"])
    frame.iloc[:, 2] = np.where(np.arange(10) < 3, Y[:, 2], np.nan)
    w = np.where(np.arange(10) < 3, 0.0, 1.0)
    with pytest.warns(UserWarning, match=r"2 task\(s\): 'b', 'c'"):
        assert metric(frame, P, sample_weight=w) == pytest.approx(
            metric(Y[:, 0], P[:, 0], sample_weight=w)
        )


def test_fully_labelled_data_does_not_warn():
    Y = np.array([[1.0, np.nan], [np.nan, 2.0], [3.0, 4.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for metric in SCORERS.values():
            metric(Y, Y + 1.0)


@pytest.mark.parametrize("metric", SCORERS.values())
@pytest.mark.parametrize(
    "y_true, y_pred, kwargs, match",
    [
        (
            np.full((3, 2), np.nan),
            np.ones((3, 2)),
            {},
            "no labelled row .* for any task",
        ),
        (np.ones((3, 2)), np.ones((3, 2)), {"sample_weight": [1, -1, 1]}, "Negative"),
        (
            np.ones((3, 2)),
            np.ones((3, 2)),
            {"sample_weight": [1, 1]},
            "sample_weight has 2",
        ),
        (np.ones((3, 2)), np.ones((3, 3)), {}, r"2 task\(s\) .* y_pred has 3"),
        (np.ones((3, 2)), np.ones((2, 2)), {}, "inconsistent numbers of samples"),
        (
            np.ones((3, 2)),
            np.ones((3, 2)),
            {"multioutput": [1.0]},
            "one weight per task",
        ),
        (np.ones((3, 2)), np.ones((3, 2)), {"multioutput": "variance"}, "multioutput"),
        ([[1.0, np.inf]] * 3, np.ones((3, 2)), {}, "infinity"),
        (np.ones((3, 2)), [[1.0, np.nan]] * 3, {}, "y_pred contains NaN where"),
        (np.ones((3, 2, 1)), np.ones((3, 2, 1)), {}, "1-D or 2-D"),
    ],
)
def test_errors(metric, y_true, y_pred, kwargs, match):
    with pytest.raises(ValueError, match=match):
        metric(y_true, y_pred, **kwargs)


def test_zero_multioutput_weights_of_scored_tasks_are_an_error():
    Y = np.array([[1.0, np.nan], [2.0, np.nan]])
    with pytest.warns(UserWarning), pytest.raises(ValueError, match="sum to 0"):
        masked_mean_squared_error(Y, Y, multioutput=[0.0, 1.0])


# ---- scorers ---------------------------------------------------------------
def test_get_scorer_names_and_unknown_names():
    assert get_scorer_names() == sorted(SCORERS)
    with pytest.raises(ValueError, match="'accuracy' is not a scorer.*'r2'"):
        get_scorer("accuracy")
    with pytest.raises(ValueError, match="scoring"):
        get_scorer(None)
    assert get_scorer("r2") is not get_scorer("r2")


@pytest.mark.parametrize("name", sorted(SCORERS))
def test_scorer_values(name, stacked, fitted):
    X, Y = stacked
    scorer = get_scorer(name)
    P = fitted.predict(X)
    sign = 1 if name == "r2" else -1
    assert scorer(fitted, X, Y) == pytest.approx(sign * SCORERS[name](Y, P))
    # sklearn's scorer of the same name on fully labelled targets
    Y_full = np.where(np.isnan(Y), P + 1.0, Y)
    assert scorer(fitted, X, Y_full) == pytest.approx(
        skmetrics.get_scorer(name)(fitted, X, Y_full)
    )
    with pytest.raises(ValueError, match="NaN"):  # what the masked scorers avoid
        skmetrics.get_scorer(name)(fitted, X, Y)


def test_scorer_pickles_and_takes_sample_weight(stacked, fitted):
    X, Y = stacked
    w = np.random.RandomState(5).uniform(0.1, 3.0, size=len(X))
    scorer = pickle.loads(pickle.dumps(get_scorer("neg_mean_absolute_error")))
    expected = -masked_mean_absolute_error(Y, fitted.predict(X), sample_weight=w)
    assert scorer(fitted, X, Y, sample_weight=w) == pytest.approx(expected)
    assert scorer(fitted, X, Y) != pytest.approx(expected)


def test_scorer_on_a_test_set_without_some_task(stacked, fitted):
    X, Y = stacked
    with pytest.warns(UserWarning, match="task 2"):
        score = get_scorer("r2")(fitted, X[:54], Y[:54])
    assert score == pytest.approx(
        masked_r2_score(Y[:54, :2], fitted.predict(X[:54])[:, :2])
    )


def test_cross_validate_with_a_dict_of_scorers(stacked):
    X, Y = stacked
    names = ["r2", "neg_mean_squared_error", "neg_mean_absolute_error"]
    result = cross_validate(
        MultiTaskRegressor(**TINY),
        X,
        Y,
        cv=MultiTaskKFold(3),
        scoring={name: get_scorer(name) for name in names},
        return_estimator=True,
        return_indices=True,
    )
    for fold, (model, test) in enumerate(
        zip(result["estimator"], result["indices"]["test"], strict=True)
    ):
        P = model.predict(X[test])
        for name in names:
            sign = 1 if name == "r2" else -1
            assert result[f"test_{name}"][fold] == pytest.approx(
                sign * SCORERS[name](Y[test], P)
            )


def test_grid_search_with_a_dict_of_scorers(stacked):
    X, Y = stacked
    cv = MultiTaskKFold(3)
    scoring = {
        "r2": get_scorer("r2"),
        "rmse": get_scorer("neg_root_mean_squared_error"),
    }
    search = GridSearchCV(
        MultiTaskRegressor(**TINY),
        {"alpha": [0.0, 0.1]},
        cv=cv,
        scoring=scoring,
        refit="r2",
    ).fit(X, Y)
    results = search.cv_results_
    assert np.all(np.isfinite(results["mean_test_r2"]))
    assert np.all(np.isfinite(results["mean_test_rmse"]))
    # the first candidate, scored by hand
    expected = cross_val_score(
        MultiTaskRegressor(**TINY).set_params(**results["params"][0]),
        X, Y, cv=cv, scoring=get_scorer("neg_root_mean_squared_error"),
    )  # fmt: skip
    assert results["mean_test_rmse"][0] == pytest.approx(expected.mean())
    assert search.best_score_ == pytest.approx(np.max(results["mean_test_r2"]))
    assert search.score(X, Y) == pytest.approx(
        masked_r2_score(Y, search.best_estimator_.predict(X))
    )


def test_randomized_search_with_scipy_distributions(stacked):
    X, Y = stacked
    cv = MultiTaskKFold(3)
    search = RandomizedSearchCV(
        MultiTaskRegressor(**TINY),
        {"alpha": loguniform(1e-4, 1e-1), "max_epochs": randint(3, 8)},
        n_iter=2,
        cv=cv,
        scoring=get_scorer("neg_mean_absolute_error"),
        random_state=0,
        refit=False,
    ).fit(X, Y)
    params = search.cv_results_["params"]
    assert 1e-4 <= params[0]["alpha"] <= 1e-1 and 3 <= params[0]["max_epochs"] < 8
    expected = cross_val_score(
        MultiTaskRegressor(**TINY).set_params(**params[1]),
        X, Y, cv=cv, scoring=get_scorer("neg_mean_absolute_error"),
    )  # fmt: skip
    assert search.cv_results_["mean_test_score"][1] == pytest.approx(expected.mean())
    assert np.all(search.cv_results_["mean_test_score"] < 0)


@pytest.mark.parametrize("search_class", [HalvingGridSearchCV, HalvingRandomSearchCV])
def test_halving_search_over_epochs(stacked, search_class):
    X, Y = stacked
    cv = MultiTaskKFold(3)
    grid = {"alpha": [0.0, 0.01, 0.1]}
    search = search_class(
        MultiTaskRegressor(**TINY),
        grid,
        resource="max_epochs",
        min_resources=2,
        max_resources=6,
        factor=3,
        cv=cv,
        scoring=get_scorer("r2"),
        refit=False,
        random_state=0,
        **({"n_candidates": 3} if search_class is HalvingRandomSearchCV else {}),
    ).fit(X, Y)
    results = search.cv_results_
    assert np.all(np.isfinite(results["mean_test_score"]))
    assert list(results["iter"]) == [0, 0, 0, 1]
    last = results["params"][-1]
    assert last["max_epochs"] == 6
    expected = cross_val_score(
        clone(MultiTaskRegressor(**TINY)).set_params(**last),
        X, Y, cv=cv, scoring=get_scorer("r2"),
    )  # fmt: skip
    assert results["mean_test_score"][-1] == pytest.approx(expected.mean())


def test_learning_curve(stacked):
    X, Y = stacked
    cv = MultiTaskKFold(3)
    sizes, _, test_scores = learning_curve(
        MultiTaskRegressor(**TINY),
        X,
        Y,
        cv=cv,
        scoring=get_scorer("r2"),
        train_sizes=[1.0],
    )
    expected = cross_val_score(
        MultiTaskRegressor(**TINY), X, Y, cv=cv, scoring=get_scorer("r2")
    )
    assert sizes.tolist() == [60]
    np.testing.assert_allclose(test_scores[0], expected)
    # smaller training sets: shuffle, as the first rows label only task 0
    sizes, train_scores, test_scores = learning_curve(
        MultiTaskRegressor(**TINY),
        X,
        Y,
        cv=cv,
        scoring=get_scorer("r2"),
        train_sizes=[0.5, 1.0],
        shuffle=True,
        random_state=0,
    )
    assert sizes.tolist() == [30, 60]
    assert np.all(np.isfinite(train_scores)) and np.all(np.isfinite(test_scores))


def test_incremental_learning_curve(stacked):
    X, Y = stacked
    cv = MultiTaskKFold(3)
    # the first 30 training rows label tasks 0 and 1 only: partial_fit takes
    # them, and their training score leaves task 2 out
    with pytest.warns(UserWarning, match="task 2"):
        sizes, _, test_scores = learning_curve(
            MultiTaskRegressor(**TINY),
            X,
            Y,
            cv=cv,
            scoring=get_scorer("r2"),
            train_sizes=[0.5, 1.0],
            exploit_incremental_learning=True,
            error_score="raise",
        )
    assert sizes.tolist() == [30, 60]
    # the first fold by hand: partial_fit on the first 30 training rows, then
    # on the other 30
    train, test = next(cv.split(X, Y))
    model = MultiTaskRegressor(**TINY)
    model.partial_fit(X[train[:30]], Y[train[:30]])
    assert test_scores[0, 0] == pytest.approx(
        masked_r2_score(Y[test], model.predict(X[test]))
    )
    model.partial_fit(X[train[30:]], Y[train[30:]])
    assert test_scores[1, 0] == pytest.approx(
        masked_r2_score(Y[test], model.predict(X[test]))
    )


def test_permutation_importance(stacked, fitted):
    X, Y = stacked
    kwargs = dict(n_repeats=2, random_state=0)
    result = permutation_importance(
        fitted, X, Y, scoring=get_scorer("neg_mean_squared_error"), **kwargs
    )
    assert result.importances.shape == (4, 2)
    assert np.all(np.isfinite(result.importances))

    # the same permutations, scored by a hand-written masked scorer
    def by_hand(estimator, X, y):
        return -masked_mean_squared_error(y, estimator.predict(X))

    expected = permutation_importance(fitted, X, Y, scoring=by_hand, **kwargs)
    np.testing.assert_allclose(result.importances, expected.importances)
    # and as sklearn's scorer where every cell is labelled
    Y_full = np.where(np.isnan(Y), fitted.predict(X), Y)
    full = permutation_importance(fitted, X, Y_full, scoring=get_scorer("r2"), **kwargs)
    reference = permutation_importance(fitted, X, Y_full, scoring="r2", **kwargs)
    np.testing.assert_allclose(full.importances, reference.importances, atol=1e-12)


def test_sample_weight_is_routed_to_the_scorer(stacked):
    X, Y = stacked
    w = np.random.RandomState(4).uniform(0.1, 3.0, size=len(X))
    with sklearn.config_context(enable_metadata_routing=True):
        scorer = get_scorer("r2").set_score_request(sample_weight=True)
        model = MultiTaskRegressor(**TINY).set_fit_request(sample_weight=False)
        result = cross_validate(
            model,
            X,
            Y,
            cv=MultiTaskKFold(3),
            scoring=scorer,
            params={"sample_weight": w},
            return_estimator=True,
            return_indices=True,
        )
        unrequested = get_scorer("r2")
        with pytest.raises(ValueError, match="sample_weight"):
            cross_validate(
                model, X, Y, cv=MultiTaskKFold(3), scoring=unrequested,
                params={"sample_weight": w},
            )  # fmt: skip
    for fold, (estimator, test) in enumerate(
        zip(result["estimator"], result["indices"]["test"], strict=True)
    ):
        P = estimator.predict(X[test])
        weighted = masked_by_hand(skmetrics.r2_score, Y[test], P, w[test])
        assert result["test_score"][fold] == pytest.approx(weighted)
        assert weighted != pytest.approx(masked_r2_score(Y[test], P))
