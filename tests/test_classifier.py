"""MultiTaskClassifier: labels, masks, probabilities, class weights, sklearn tools."""

import numpy as np
import pandas as pd
import pytest
from _helpers import CodeEmbedding, weights_hash
from sklearn.calibration import CalibratedClassifierCV
from sklearn.metrics import recall_score
from sklearn.model_selection import (
    GridSearchCV,
    KFold,
    cross_val_score,
    cross_validate,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_mtl import MultiTaskClassifier, load, save

FAST = dict(hidden_layer_sizes=(16,), lr=1e-2, max_epochs=30, random_state=0)


def labelled_problem(n=300, seed=0, missing=None):
    """X and an object Y: task 0 strings ``no``/``yes``, task 1 ints 0, 1, 2.

    About 30% of the cells are ``missing`` (None by default), never a whole row.
    Returns X, Y and the mask of the unlabelled cells.
    """
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, 4))
    Y = np.empty((n, 2), dtype=object)
    Y[:, 0] = np.where(X[:, 0] > 0, "yes", "no")
    Y[:, 1] = [int(v) for v in np.digitize(X[:, 1], [-0.5, 0.5])]
    mask = rng.rand(n, 2) < 0.3
    mask[:, 1] &= ~mask[:, 0]  # every row keeps a label
    Y[mask] = missing
    return X, Y, mask


def rare_problem(n=400, seed=0, rate=0.05):
    """A binary 1-D problem whose class ``rare`` holds about ``rate`` of the rows."""
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, 4))
    score = X[:, 0] + 0.5 * X[:, 1] + rng.normal(scale=0.7, size=n)
    y = np.where(score > np.quantile(score, 1 - rate), "rare", "common")
    return X, y


@pytest.fixture(scope="module")
def fitted():
    """A two-task model fitted on labels with None masks; tests must not refit."""
    X, Y, mask = labelled_problem()
    return MultiTaskClassifier(**FAST).fit(X, Y), X, Y, mask


def labelled_score(pred, Y, mask, t):
    keep = ~mask[:, t]
    return np.mean(pred[keep, t] == Y[keep, t])


# ---- labels and masks ----------------------------------------------------------
def test_string_and_int_tasks_with_none_masks(fitted):
    model, X, Y, mask = fitted
    assert model.n_tasks_ == 2
    assert [c.tolist() for c in model.classes_] == [["no", "yes"], [0, 1, 2]]
    pred = model.predict(X)
    assert pred.shape == (len(X), 2) and pred.dtype == object
    for t in range(2):
        assert set(pred[:, t].tolist()) <= set(model.classes_[t].tolist())
        assert labelled_score(pred, Y, mask, t) > 0.85
    assert model.score(X, Y) > 0.85


@pytest.mark.parametrize("marker", [np.nan, pd.NA, float("nan")])
def test_the_missing_marker_does_not_change_the_fit(marker):
    # None, NaN and pd.NA all mean "not labelled": the masked cells carry no
    # value, so the fits are the same computation
    X, Y_none, _ = labelled_problem()
    _, Y_other, _ = labelled_problem(missing=marker)
    a = MultiTaskClassifier(**FAST).fit(X, Y_none)
    b = MultiTaskClassifier(**FAST).fit(X, Y_other)
    for pa, pb in zip(a.predict_proba(X), b.predict_proba(X), strict=True):
        np.testing.assert_array_equal(pa, pb)


def test_masked_cells_mixing_markers_in_one_column_change_nothing():
    X, Y, mask = labelled_problem()
    mixed = Y.copy()
    markers = [None, np.nan, pd.NA]
    for k, (i, j) in enumerate(zip(*np.nonzero(mask), strict=True)):
        mixed[i, j] = markers[k % 3]
    a = MultiTaskClassifier(**FAST).fit(X, Y)
    b = MultiTaskClassifier(**FAST).fit(X, mixed)
    np.testing.assert_array_equal(a.predict(X), b.predict(X))
    for pa, pb in zip(a.predict_proba(X), b.predict_proba(X), strict=True):
        np.testing.assert_array_equal(pa, pb)


def test_dataframe_with_a_string_and_an_int_column(fitted):
    model, X, Y, mask = fitted
    # a string column with None masks and an int column: masked int cells make
    # pandas store the column as float (NaN), as with any int column with gaps
    frame = pd.DataFrame(
        {"answer": pd.Series(Y[:, 0], dtype=object), "level": Y[:, 1].astype(float)}
    )
    assert frame["answer"].isna().sum() == mask[:, 0].sum()
    from_frame = MultiTaskClassifier(**FAST).fit(X, frame)
    assert list(from_frame.task_names_) == ["answer", "level"]
    assert from_frame.classes_[0].tolist() == ["no", "yes"]
    assert from_frame.classes_[1].tolist() == [0, 1, 2]
    pred = from_frame.predict(X)
    assert pred.shape == (len(X), 2) and pred.dtype == object
    assert set(pred[:, 0].tolist()) <= {"no", "yes"}
    assert set(pred[:, 1].tolist()) <= {0, 1, 2}
    # the same labels as the object array: the same fit
    for pa, pb in zip(from_frame.predict_proba(X), model.predict_proba(X), strict=True):
        np.testing.assert_array_equal(pa, pb)


def test_dataframe_int_column_fully_labelled_keeps_int_classes():
    X, Y, _ = labelled_problem()
    frame = pd.DataFrame(
        {"answer": pd.Series(Y[:, 0], dtype=object), "level": np.digitize(X[:, 1], [0])}
    )
    model = MultiTaskClassifier(**FAST).fit(X, frame)
    assert model.classes_[0].tolist() == ["no", "yes"]
    assert model.classes_[1].dtype.kind == "i" and model.classes_[1].tolist() == [0, 1]
    pred = model.predict(X)
    assert pred.dtype == object and pred.shape == (len(X), 2)
    assert {type(v) for v in pred[:, 0]} <= {str, np.str_}
    assert set(pred[:, 1].tolist()) <= {0, 1}


def test_nullable_int_column_with_pd_na_keeps_int_classes():
    # "Columns keep their own dtype where possible": an Int64 column's labels
    # are integers, so its classes_ and predictions should be integers too
    X, Y, mask = labelled_problem()
    levels = pd.array(
        [None if m else int(v) for v, m in zip(Y[:, 1], mask[:, 1], strict=True)],
        dtype="Int64",
    )
    frame = pd.DataFrame({"answer": pd.Series(Y[:, 0], dtype=object), "level": levels})
    model = MultiTaskClassifier(**FAST).fit(X, frame)
    assert model.classes_[1].tolist() == [0, 1, 2]
    assert model.classes_[1].dtype.kind == "i", model.classes_[1]


def test_string_dtype_column_with_missing_values():
    X, Y, mask = labelled_problem()
    frame = pd.DataFrame(
        {"answer": pd.Series(Y[:, 0], dtype="string"), "level": Y[:, 1].astype(float)}
    )
    assert frame["answer"].isna().sum() == mask[:, 0].sum()
    model = MultiTaskClassifier(**FAST).fit(X, frame)
    assert model.classes_[0].tolist() == ["no", "yes"]
    assert model.classes_[1].tolist() == [0, 1, 2]
    assert set(model.predict(X)[:, 0].tolist()) <= {"no", "yes"}
    assert model.score(X, frame) > 0.85


# ---- probabilities and scores ------------------------------------------------
def test_predict_proba_is_a_list_of_per_task_probabilities(fitted):
    model, X, _, _ = fitted
    proba = model.predict_proba(X)
    assert isinstance(proba, list) and len(proba) == 2
    assert [p.shape for p in proba] == [(len(X), 2), (len(X), 3)]
    pred = model.predict(X)
    for t, p in enumerate(proba):
        assert p.dtype == np.float64 and np.all((p >= 0) & (p <= 1))
        np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-12)
        # predict takes the most probable class
        assert model.classes_[t][p.argmax(axis=1)].tolist() == pred[:, t].tolist()


def test_predict_log_proba_is_the_log_of_predict_proba(fitted):
    model, X, _, _ = fitted
    log_proba = model.predict_log_proba(X)
    assert isinstance(log_proba, list) and len(log_proba) == 2
    for lp, p in zip(log_proba, model.predict_proba(X), strict=True):
        assert lp.shape == p.shape and np.all(lp <= 0)
        np.testing.assert_allclose(lp, np.log(p), rtol=1e-10, atol=1e-12)


def test_1d_binary_y_gives_arrays_and_a_1d_decision_function():
    X, y = rare_problem(n=200, rate=0.5)
    model = MultiTaskClassifier(**FAST).fit(X, y)
    assert model.classes_.tolist() == ["common", "rare"]
    proba = model.predict_proba(X)
    assert isinstance(proba, np.ndarray) and proba.shape == (len(X), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    pred = model.predict(X)
    assert pred.shape == (len(X),) and set(pred.tolist()) <= {"common", "rare"}
    assert model.predict_log_proba(X).shape == (len(X), 2)
    scores = model.decision_function(X)
    assert scores.shape == (len(X),)
    # the score is the logit of classes_[1]: same ranking as its probability
    order = np.argsort(scores, kind="stable")
    assert np.all(np.diff(proba[order, 1]) >= 0)
    assert np.all(np.diff(scores[order]) >= 0)
    np.testing.assert_array_equal(pred, model.classes_[(scores > 0).astype(int)])
    assert model.score(X, y) > 0.85


def test_1d_multiclass_decision_function_has_a_column_per_class(fitted):
    _, X, Y, mask = fitted
    keep = ~mask[:, 1]
    y = Y[keep, 1].astype(int)
    model = MultiTaskClassifier(**FAST).fit(X[keep], y)
    assert model.classes_.tolist() == [0, 1, 2]
    scores = model.decision_function(X)
    proba = model.predict_proba(X)
    assert scores.shape == proba.shape == (len(X), 3)
    np.testing.assert_array_equal(scores.argmax(axis=1), proba.argmax(axis=1))
    np.testing.assert_array_equal(model.predict(X), scores.argmax(axis=1))
    assert model.predict(X).dtype.kind == "i"


def test_decision_function_exists_only_for_single_task_models(fitted):
    model, X, Y, _ = fitted
    assert hasattr(MultiTaskClassifier(), "decision_function")  # before fit
    assert not hasattr(model, "decision_function")
    with pytest.raises(AttributeError, match="decision_function"):
        model.decision_function(X)
    one = MultiTaskClassifier(**FAST).fit(X, np.where(X[:, 0] > 0, "yes", "no"))
    assert hasattr(one, "decision_function")
    assert one.decision_function(X).shape == (len(X),)


def test_score_ignores_unlabelled_cells(fitted):
    model, X, Y, mask = fitted
    pred = model.predict(X)
    expected = np.mean([labelled_score(pred, Y, mask, t) for t in range(2)])
    assert model.score(X, Y) == pytest.approx(expected)


# ---- classes seen in a fold ----------------------------------------------------
def fold_problem():
    """Task 1 has class ``rare`` only in the first 20 rows (the first 3-fold)."""
    X, Y, _ = labelled_problem(n=150, seed=3)
    Y[:, 1] = np.where(Y[:, 1] == 0, "low", "high").astype(object)
    Y[:20, 1] = "rare"
    return X, Y


def test_a_fold_without_a_class_fits_the_classes_it_sees():
    X, Y = fold_problem()
    train, test = next(KFold(3).split(X))
    model = MultiTaskClassifier(**FAST).fit(X[train], Y[train])
    assert model.classes_[0].tolist() == ["no", "yes"]
    assert model.classes_[1].tolist() == ["high", "low"]  # no "rare"
    pred = model.predict(X[test])
    assert pred.shape == (len(test), 2)
    assert set(pred[:, 1].tolist()) <= {"high", "low"}
    assert [p.shape[1] for p in model.predict_proba(X[test])] == [2, 2]
    with pytest.raises(ValueError, match=r"'rare'.*task_1"):
        model.score(X[test], Y[test])
    # the rows without the unseen label score
    known = Y[test, 1] != "rare"
    assert 0 <= model.score(X[test][known], Y[test][known]) <= 1


def test_cross_validation_reports_the_label_a_fold_never_saw():
    X, Y = fold_problem()
    with pytest.raises(ValueError, match="'rare'"):
        cross_validate(
            MultiTaskClassifier(**FAST), X, Y, cv=KFold(3), error_score="raise"
        )


def test_a_label_never_seen_in_training_is_a_clear_error_at_score(fitted):
    model, X, Y, _ = fitted
    unseen = Y.copy()
    unseen[5, 0] = "maybe"
    with pytest.raises(ValueError, match=r"'maybe'.*'task_0'.*not fitted on"):
        model.score(X, unseen)
    unseen = Y.copy()
    unseen[7, 1] = 7
    with pytest.raises(ValueError, match=r"\[7\].*'task_1'"):
        model.score(X, unseen)


# ---- class weights ----------------------------------------------------------
def rare_recall(model, X, y):
    return recall_score(y, model.predict(X), pos_label="rare")


@pytest.mark.parametrize("class_weight", ["balanced", {"rare": 19.0}, [{"rare": 19.0}]])
def test_class_weight_raises_the_recall_of_a_rare_class(class_weight):
    X, y = rare_problem(n=400, seed=0, rate=0.05)
    X_test, y_test = rare_problem(n=2000, seed=1, rate=0.05)
    plain = MultiTaskClassifier(**FAST).fit(X, y)
    weighted = MultiTaskClassifier(class_weight=class_weight, **FAST).fit(X, y)
    assert (
        rare_recall(weighted, X_test, y_test) > rare_recall(plain, X_test, y_test) + 0.4
    )


def test_a_list_of_class_weights_applies_per_task():
    X, y = rare_problem(n=400, seed=0, rate=0.05)
    X_test, y_test = rare_problem(n=2000, seed=1, rate=0.05)
    Y = np.column_stack([y, y]).astype(object)
    for weights, boosted in ((["balanced", None], 0), ([None, {"rare": 19.0}], 1)):
        model = MultiTaskClassifier(class_weight=weights, **FAST).fit(X, Y)
        pred = model.predict(X_test)
        recall = [recall_score(y_test, pred[:, t], pos_label="rare") for t in (0, 1)]
        assert recall[boosted] > recall[1 - boosted] + 0.4, recall


def test_class_weight_errors(fitted):
    _, X, Y, _ = fitted
    y = np.where(X[:, 0] > 0, "yes", "no")
    with pytest.raises(ValueError, match=r"\['maybe'\].*not among its classes"):
        MultiTaskClassifier(class_weight={"maybe": 2.0}, **FAST).fit(X, y)
    with pytest.raises(ValueError, match=r"task_1.*\[7\] that are not"):
        MultiTaskClassifier(class_weight=[None, {7: 2.0}], **FAST).fit(X, Y)
    with pytest.raises(
        ValueError, match="class_weight has 1 entries but y has 2 tasks"
    ):
        MultiTaskClassifier(class_weight=[{"yes": 2.0}], **FAST).fit(X, Y)
    with pytest.raises(
        ValueError, match="class_weight has 3 entries but y has 2 tasks"
    ):
        MultiTaskClassifier(class_weight=[None, None, None], **FAST).fit(X, Y)
    with pytest.raises(ValueError, match="one dict but y has 2 tasks"):
        MultiTaskClassifier(class_weight={"yes": 2.0}, **FAST).fit(X, Y)
    with pytest.raises(ValueError, match="finite and non-negative"):
        MultiTaskClassifier(class_weight={"yes": -1.0}, **FAST).fit(X, y)
    with pytest.raises(ValueError, match="entries must be None, 'balanced' or a dict"):
        MultiTaskClassifier(class_weight=["heavy", None], **FAST).fit(X, Y)


# ---- partial_fit ---------------------------------------------------------------
def three_class_problem(n=300, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, 4))
    y = np.array(["a", "b", "c"])[np.digitize(X[:, 0], [-0.5, 0.5])]
    return X, y


def test_partial_fit_with_declared_classes_accepts_a_class_absent_at_first():
    X, y = three_class_problem()
    first = y != "c"
    model = MultiTaskClassifier(**FAST)
    model.partial_fit(X[first], y[first], classes=["c", "a", "b"])
    assert model.classes_.tolist() == ["a", "b", "c"]
    assert model.predict_proba(X).shape == (len(X), 3)
    for _ in range(25):
        model.partial_fit(X, y)
    assert model.classes_.tolist() == ["a", "b", "c"]
    assert model.score(X, y) > 0.8
    assert "c" in set(model.predict(X).tolist())


def test_partial_fit_declared_classes_per_task():
    X, y = three_class_problem()
    Y = np.empty((len(X), 2), dtype=object)
    Y[:, 0] = y
    Y[:, 1] = [bool(v) for v in X[:, 1] > 0]
    first = y != "c"
    model = MultiTaskClassifier(**FAST).partial_fit(
        X[first], Y[first], classes=[["a", "b", "c"], [False, True]]
    )
    assert [c.tolist() for c in model.classes_] == [["a", "b", "c"], [False, True]]
    model.partial_fit(X, Y)
    assert [p.shape[1] for p in model.predict_proba(X)] == [3, 2]


def test_partial_fit_unseen_class_is_an_error_that_changes_nothing():
    X, y = three_class_problem()
    first = y != "c"
    model = MultiTaskClassifier(**FAST).partial_fit(X[first], y[first])
    assert model.classes_.tolist() == ["a", "b"]
    before = weights_hash(model.net_.module_)
    proba = model.predict_proba(X)
    n_iter, n_history = model.n_iter_, len(model.history_)
    with pytest.raises(ValueError, match=r"\['c'\].*not fitted on"):
        model.partial_fit(X, y)
    assert weights_hash(model.net_.module_) == before
    np.testing.assert_array_equal(model.predict_proba(X), proba)
    assert (model.n_iter_, len(model.history_)) == (n_iter, n_history)
    assert model.classes_.tolist() == ["a", "b"]
    model.partial_fit(X[first], y[first])  # still usable
    assert model.n_iter_ == n_iter + 1


def test_partial_fit_declared_classes_must_hold_every_label():
    X, y = three_class_problem()
    model = MultiTaskClassifier(**FAST)
    with pytest.raises(ValueError, match=r"\['c'\]"):
        model.partial_fit(X, y, classes=["a", "b"])
    assert not hasattr(model, "net_") and not hasattr(model, "classes_")


@pytest.mark.parametrize(
    "classes",
    [[["a", "b", "c"]], ["a", "b", "c"], [["a", "b", "c"], [False, True], [0, 1]]],
    ids=["one_list", "flat_list", "three_lists"],
)
def test_partial_fit_classes_of_the_wrong_length_for_the_tasks(classes):
    # y has 2 tasks: ``classes`` must be one array per task, and any other
    # length is a clear error about ``classes`` (not an IndexError, nor a
    # class list split into single-class tasks)
    X, y = three_class_problem()
    Y = np.empty((len(X), 2), dtype=object)
    Y[:, 0] = y
    Y[:, 1] = [bool(v) for v in X[:, 1] > 0]
    model = MultiTaskClassifier(**FAST)
    with pytest.raises(ValueError, match=r"classes.*2 tasks|2 tasks.*classes"):
        model.partial_fit(X, Y, classes=classes)
    assert not hasattr(model, "net_")


# ---- sklearn tools ---------------------------------------------------------------
def test_calibrated_classifier_cv_on_a_binary_task():
    X, y = rare_problem(n=200, rate=0.5)
    calibrated = CalibratedClassifierCV(MultiTaskClassifier(**FAST), cv=3).fit(X, y)
    assert calibrated.classes_.tolist() == ["common", "rare"]
    proba = calibrated.predict_proba(X)
    assert proba.shape == (len(X), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert np.mean(calibrated.predict(X) == y) > 0.8


def test_cross_val_score_roc_auc():
    X, y = rare_problem(n=200, rate=0.5)
    scores = cross_val_score(MultiTaskClassifier(**FAST), X, y, cv=3, scoring="roc_auc")
    assert scores.shape == (3,) and np.all(np.isfinite(scores))
    assert np.all(scores > 0.8)


def test_grid_search_over_alpha_in_a_pipeline():
    X, y = rare_problem(n=200, rate=0.5)
    X = X * 100 + 5  # the scaler's job
    pipe = make_pipeline(StandardScaler(), MultiTaskClassifier(**FAST))
    search = GridSearchCV(pipe, {"multitaskclassifier__alpha": [1e-3, 10.0]}, cv=2)
    search.fit(X, y)
    means = search.cv_results_["mean_test_score"]
    assert means.shape == (2,) and np.all(np.isfinite(means))
    assert search.best_params_ == {"multitaskclassifier__alpha": 1e-3}
    assert means[0] > means[1] + 0.1
    assert set(search.predict(X).tolist()) <= {"common", "rare"}


@pytest.mark.parametrize("kind", ["strings", "ints", "two_tasks"])
def test_save_load_round_trip(kind, tmp_path, fitted):
    _, X, Y, _ = fitted
    if kind == "strings":
        y = np.where(X[:, 0] > 0, "yes", "no")
    elif kind == "ints":
        y = np.digitize(X[:, 1], [-0.5, 0.5])
    else:
        y = Y
    model = MultiTaskClassifier(**FAST).fit(X, y)
    path = tmp_path / "model.zip"
    save(model, path)
    loaded = load(path)
    assert type(loaded) is MultiTaskClassifier
    a, b = model.predict_proba(X), loaded.predict_proba(X)
    if kind == "two_tasks":
        assert isinstance(b, list) and len(b) == 2
        for ca, cb in zip(model.classes_, loaded.classes_, strict=True):
            np.testing.assert_array_equal(ca, cb)
            assert ca.dtype == cb.dtype
        for pa, pb in zip(a, b, strict=True):
            np.testing.assert_array_equal(pa, pb)
    else:
        np.testing.assert_array_equal(model.classes_, loaded.classes_)
        assert model.classes_.dtype == loaded.classes_.dtype
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(
            model.decision_function(X), loaded.decision_function(X)
        )
    np.testing.assert_array_equal(model.predict(X), loaded.predict(X))
    assert loaded.score(X, y) == model.score(X, y)


def test_custom_trunk_class(tmp_path):
    X, Y, _ = labelled_problem()
    rng = np.random.RandomState(1)
    codes = rng.randint(0, 10, size=len(X))
    X_coded = np.column_stack([codes, X]).astype(float)
    model = MultiTaskClassifier(trunk=CodeEmbedding, trunk__dim=3, **FAST)
    model.fit(X_coded, Y)
    assert isinstance(model.net_.module_.trunk, CodeEmbedding)
    assert model.net_.module_.trunk.embedding.embedding_dim == 3
    assert [p.shape for p in model.predict_proba(X_coded)] == [(len(X), 2), (len(X), 3)]
    assert model.score(X_coded, Y) > 0.6
    save(model, tmp_path / "trunk.zip")
    loaded = load(tmp_path / "trunk.zip", trusted=[CodeEmbedding])
    for pa, pb in zip(
        model.predict_proba(X_coded), loaded.predict_proba(X_coded), strict=True
    ):
        np.testing.assert_array_equal(pa, pb)


# ---- bad labels ----------------------------------------------------------------
def test_continuous_labels_are_refused(fitted):
    _, X, _, _ = fitted
    with pytest.raises(ValueError, match="Unknown label type|continuous"):
        MultiTaskClassifier(**FAST).fit(X, X[:, 0])
    Y = np.column_stack([np.digitize(X[:, 0], [0]), X[:, 1]])
    with pytest.raises(ValueError, match=r"task_1.*(Unknown label type|continuous)"):
        MultiTaskClassifier(**FAST).fit(X, Y)


def test_a_column_mixing_strings_and_ints_is_refused(fitted):
    _, X, Y, _ = fitted
    mixed = Y.copy()
    mixed[0, 0], mixed[1, 0] = "yes", 1
    with pytest.raises(ValueError, match=r"task_0.*mix types \['int', 'str'\]"):
        MultiTaskClassifier(**FAST).fit(X, mixed)


def test_a_row_without_any_label_is_refused(fitted):
    _, X, Y, _ = fitted
    empty = Y.copy()
    empty[3] = None
    with pytest.raises(ValueError, match=r"1 row\(s\) of y have no label.*rows 3\."):
        MultiTaskClassifier(**FAST).fit(X, empty)


def test_a_task_without_any_label_is_refused(fitted):
    _, X, Y, _ = fitted
    Y = np.column_stack([Y, np.full(len(Y), None, dtype=object)])
    with pytest.raises(ValueError, match="'task_2' has no labelled row"):
        MultiTaskClassifier(**FAST).fit(X, Y)


def test_y_with_another_number_of_tasks(fitted):
    model, X, Y, _ = fitted
    before = weights_hash(model.net_.module_)
    three = np.column_stack([Y, Y[:, :1]])
    with pytest.raises(ValueError, match="y has 3 task.*fitted on 2"):
        model.score(X, three)
    with pytest.raises(ValueError, match="y has 1 task.*fitted on 2"):
        model.score(X, Y[:, 0])
    with pytest.raises(ValueError, match="y has 3 task.*fitted on 2"):
        model.partial_fit(X, three)
    with pytest.raises(ValueError, match="y has 1 task.*fitted on 2"):
        model.partial_fit(X, Y[:, 1])
    assert weights_hash(model.net_.module_) == before


def test_score_with_another_number_of_rows_is_a_value_error(fitted):
    model, X, Y, _ = fitted
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        model.score(X[:10], Y)


@pytest.mark.parametrize(
    "kind, class_weight",
    [
        ("strings", {"yes": 3.0}),
        ("ints", {0: 2.0, 2: 3.0}),
        ("two_tasks", [{"yes": 3.0}, {0: 2.0}]),
    ],
)
def test_save_load_keeps_class_weight(kind, class_weight, tmp_path, fitted):
    # sklearn's usual form is a dict keyed by the classes, ints included
    _, X, Y, _ = fitted
    if kind == "strings":
        y = np.where(X[:, 0] > 0, "yes", "no")
    elif kind == "ints":
        y = np.digitize(X[:, 1], [-0.5, 0.5])
    else:
        y = Y
    model = MultiTaskClassifier(class_weight=class_weight, **FAST).fit(X, y)
    save(model, tmp_path / "weighted.zip")
    loaded = load(tmp_path / "weighted.zip")
    assert loaded.get_params()["class_weight"] == class_weight
    a, b = model.predict_proba(X), loaded.predict_proba(X)
    for pa, pb in zip(
        a if isinstance(a, list) else [a],
        b if isinstance(b, list) else [b],
        strict=True,
    ):
        np.testing.assert_array_equal(pa, pb)
