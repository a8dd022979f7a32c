"""MultiTaskKFold: folds that hold labelled rows of every task."""

import numpy as np
import pytest
from sklearn.model_selection import KFold, cross_val_score, cross_validate

from sklearn_mtl import MultiTaskRegressor, stack_tasks
from sklearn_mtl.metrics import get_scorer, masked_r2_score
from sklearn_mtl.model_selection import MultiTaskKFold

TINY = dict(hidden_layer_sizes=(8,), batch_size=16, max_epochs=8, random_state=0)


def stacked_tasks(sizes, seed=0):
    rng = np.random.RandomState(seed)
    tasks = []
    for n in sizes:
        X = rng.normal(size=(n, 4))
        tasks.append((X, X @ rng.normal(size=4) + 0.1 * rng.normal(size=n)))
    return stack_tasks(tasks)


def labels_per_fold(cv, X, Y):
    """(n_splits, n_tasks) labelled rows of each task in each train and test set."""
    labelled = ~np.isnan(np.reshape(Y, (len(Y), -1)))
    splits = list(cv.split(X, Y))
    train = np.array([labelled[tr].sum(axis=0) for tr, _ in splits])
    test = np.array([labelled[te].sum(axis=0) for _, te in splits])
    return splits, train, test


def assert_partition(splits, n_samples):
    tests = np.concatenate([test for _, test in splits])
    np.testing.assert_array_equal(np.sort(tests), np.arange(n_samples))
    for train, test in splits:
        assert np.intersect1d(train, test).size == 0
        assert train.size + test.size == n_samples


@pytest.mark.parametrize("sizes", [(24, 30, 36), (7, 50, 13, 5)])
@pytest.mark.parametrize("n_splits", [2, 3, 5])
def test_stack_tasks_output_without_shuffling(sizes, n_splits):
    X, Y = stacked_tasks(sizes)
    splits, train, test = labels_per_fold(MultiTaskKFold(n_splits), X, Y)
    assert len(splits) == n_splits
    assert_partition(splits, len(X))
    assert np.all(train > 0) and np.all(test > 0)
    # each task is split as evenly as it can be
    np.testing.assert_array_equal(test.sum(axis=0), sizes)
    assert np.all(test.max(axis=0) - test.min(axis=0) <= 1)
    # plain KFold leaves whole tasks out of some test folds
    _, _, kfold_test = labels_per_fold(KFold(n_splits), X, Y)
    assert np.any(kfold_test == 0)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("shuffle", [False, True])
def test_random_label_patterns(seed, shuffle):
    rng = np.random.RandomState(seed)
    Y = rng.normal(size=(60, 4))
    Y[rng.rand(60, 4) < [0.2, 0.5, 0.8, 0.9]] = np.nan  # task 3 has few labels
    Y[np.isnan(Y).all(axis=1), 0] = 1.0
    n_splits = 4
    assert np.all((~np.isnan(Y)).sum(axis=0) >= n_splits)
    cv = MultiTaskKFold(
        n_splits, shuffle=shuffle, random_state=seed if shuffle else None
    )
    splits, train, test = labels_per_fold(cv, np.zeros((60, 1)), Y)
    assert_partition(splits, 60)
    assert np.all(train > 0) and np.all(test > 0)
    sizes = [test.size for _, test in splits]
    assert max(sizes) - min(sizes) <= 3


def test_rare_patterns_go_where_their_tasks_are_missing():
    # task 1 is labelled on 3 rows only, each with a different pattern
    Y = np.full((30, 3), np.nan)
    Y[:, 0] = 1.0
    Y[[4, 5, 6], 1] = 1.0
    Y[[5], 2] = 1.0
    Y[20:, 2] = 1.0
    splits, train, test = labels_per_fold(MultiTaskKFold(3), np.zeros(30), Y)
    np.testing.assert_array_equal(test[:, 1], [1, 1, 1])
    assert np.all(train > 0) and np.all(test > 0)


def test_deterministic_and_shuffled_folds():
    X, Y = stacked_tasks((24, 30, 36))
    folds = [[test.tolist() for _, test in cv.split(X, Y)] for cv in (
        MultiTaskKFold(3),
        MultiTaskKFold(3),
        MultiTaskKFold(3, shuffle=True, random_state=0),
        MultiTaskKFold(3, shuffle=True, random_state=0),
        MultiTaskKFold(3, shuffle=True, random_state=1),
    )]  # fmt: skip
    assert folds[0] == folds[1] and folds[2] == folds[3]
    assert folds[0] != folds[2] and folds[2] != folds[4]
    # unshuffled, each fold has a contiguous run of each task's rows
    assert folds[0][0] == [*range(0, 8), *range(24, 34), *range(54, 66)]


def test_one_task():
    X = np.zeros((10, 2))
    y = np.arange(10.0)
    ours = [test.tolist() for _, test in MultiTaskKFold(3).split(X, y)]
    assert ours == [test.tolist() for _, test in KFold(3).split(X, y)]
    y[::2] = np.nan  # the labelled rows are spread as well as the others
    splits, train, test = labels_per_fold(MultiTaskKFold(2), X, y)
    assert test.ravel().tolist() == [3, 2] or test.ravel().tolist() == [2, 3]
    assert_partition(splits, 10)


def test_get_n_splits_and_repr():
    cv = MultiTaskKFold(4, shuffle=True, random_state=0)
    assert cv.get_n_splits() == 4
    assert repr(cv) == "MultiTaskKFold(n_splits=4, random_state=0, shuffle=True)"
    assert list(cv.split(np.zeros(8), np.ones(8), groups=np.arange(8)))  # ignored


@pytest.mark.parametrize(
    "make, y, error, match",
    [
        (lambda: MultiTaskKFold(3), None, ValueError, "needs y"),
        (lambda: MultiTaskKFold(3), [[1.0, np.nan]] * 2 + [[1.0, 2.0]] * 2, ValueError,
         r"n_splits=3 is greater .* task 1 \(2\)"),
        (lambda: MultiTaskKFold(2), [1.0, np.inf, 2.0, 3.0], ValueError, "infinity"),
        (lambda: MultiTaskKFold(2), np.ones((4, 1, 1)), ValueError, "1-D or 2-D"),
        (lambda: MultiTaskKFold(2), np.ones(5), ValueError, "inconsistent"),
        (lambda: MultiTaskKFold(1), np.ones(4), ValueError, "n_splits=2 or more"),
        (lambda: MultiTaskKFold(2, random_state=0), np.ones(4), ValueError, "shuffle"),
    ],
)  # fmt: skip
def test_errors(make, y, error, match):
    with pytest.raises(error, match=match):
        list(make().split(np.zeros((4, 2)), y))


def test_cross_val_score_on_stacked_tasks():
    X, Y = stacked_tasks((24, 30, 36))
    cv = MultiTaskKFold(3)
    scores = cross_val_score(
        MultiTaskRegressor(**TINY), X, Y, cv=cv, scoring=get_scorer("r2")
    )
    assert scores.shape == (3,) and np.all(np.isfinite(scores))
    result = cross_validate(
        MultiTaskRegressor(**TINY),
        X,
        Y,
        cv=cv,
        scoring=get_scorer("r2"),
        return_estimator=True,
        return_indices=True,
    )
    np.testing.assert_array_equal(result["test_score"], scores)
    for score, model, (train, test), split_test in zip(
        scores,
        result["estimator"],
        zip(result["indices"]["train"], result["indices"]["test"], strict=True),
        (test for _, test in cv.split(X, Y)),
        strict=True,
    ):
        np.testing.assert_array_equal(test, split_test)
        assert score == pytest.approx(masked_r2_score(Y[test], model.predict(X[test])))
        assert np.all((~np.isnan(Y[train])).any(axis=0))
