"""Fault fuzzing of fit, predict and score of both estimators.

Random shapes, dtypes, NaN and infinity patterns, string columns, empty and
one-row inputs and huge values go into ``fit``, ``predict`` and ``score`` of
``MultiTaskRegressor`` and ``TransferEstimator`` (from scratch, and from a
small fitted source). Every case must end in one of two ways:

* success: ``predict`` gives finite float64 values of the right shape, and
  after a successful ``fit`` the training rows predict and score cleanly; or
* a ``ValueError`` / ``TypeError`` raised outside torch and skorch whose
  message names the problem (a pattern per case).

Huge finite values may also end in ``TrainingDivergedError``, never in
silent NaN or infinite predictions.
"""

import os
import re
import traceback
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse
import skorch
import torch
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sklearn_mtl import MultiTaskRegressor, TransferEstimator
from sklearn_mtl.exceptions import TrainingDivergedError

TINY = dict(hidden_layer_sizes=(4,), max_epochs=2, random_state=0)
SOURCE_FEATURES, SOURCE_TASKS = 3, 2
KINDS = ["multitask", "transfer_scratch", "transfer_source"]
LIBRARY_DIRS = tuple(os.path.dirname(m.__file__) + os.sep for m in (torch, skorch))
# a known failure is reproduced, not shrunk: shrinking would refit many times
NO_SHRINK = settings(phases=[Phase.explicit, Phase.reuse, Phase.generate])

NAN = r"NaN"
INFINITY = r"infinity|infinite"
STRING = r"string|convert|numeric|dtype"
UNLABELLED = r"NaN|label"
LARGE_X = r"\bX\b|input|feature|float32|large"
LARGE_Y = r"\by\b|target|float32|large"

finite = st.floats(-1e3, 1e3, allow_nan=False)
words = st.text("abcxyz", min_size=1, max_size=4).map(lambda s: "w" + s)


@pytest.fixture(scope="module")
def source():
    """A small fitted MultiTaskRegressor: 3 features, 2 tasks."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(30, SOURCE_FEATURES))
    return MultiTaskRegressor(**TINY).fit(X, rng.normal(size=(30, SOURCE_TASKS)))


def make(kind, source):
    if kind == "multitask":
        return MultiTaskRegressor(**TINY)
    return TransferEstimator(
        source=source if kind == "transfer_source" else None, **TINY
    )


def n_features(kind):
    return st.just(SOURCE_FEATURES) if kind == "transfer_source" else st.integers(1, 4)


# ---- outcome checks -------------------------------------------------------
def assert_clear_error(exc, pattern):
    """The error is raised outside torch/skorch and its message names the case."""
    origin = traceback.extract_tb(exc.__traceback__)[-1].filename
    assert not origin.startswith(LIBRARY_DIRS), (
        f"{type(exc).__name__} raised inside {origin}: {exc}"
    )
    assert re.search(pattern, str(exc)), f"message does not match {pattern!r}: {exc}"


def attempt(call, pattern):
    """Return ``call()``, or None after a ValueError/TypeError matching ``pattern``."""
    try:
        return call()
    except (ValueError, TypeError) as exc:
        assert_clear_error(exc, pattern)
        return None


def must_fail(call, pattern):
    with pytest.raises((ValueError, TypeError)) as info:
        call()
    assert_clear_error(info.value, pattern)


def assert_predicts_cleanly(model, X, y):
    """Finite float64 predictions shaped like ``y``, and a finite score."""
    pred = model.predict(X)
    assert pred.dtype == np.float64 and pred.shape == np.shape(y)
    assert np.all(np.isfinite(pred)), f"non-finite predictions: {pred}"
    score = model.score(X, y)
    assert np.isfinite(score), f"score is {score}"


def fit_or_fail_clearly(model, X, y, pattern):
    """Fit; if it succeeds, the training rows must predict and score cleanly."""
    if attempt(lambda: model.fit(X, y), pattern) is not None:
        assert_predicts_cleanly(model, X, y)


# ---- data -----------------------------------------------------------------
@st.composite
def labelled_targets(draw, n, max_tasks=3):
    """(n, t) float targets, NaN in some cells, every row and task labelled."""
    t = draw(st.integers(1, max_tasks))
    Y = draw(arrays(np.float64, (n, t), elements=finite))
    if t > 1 and draw(st.booleans()):
        mask = draw(arrays(np.bool_, (n, t)))
        mask[np.arange(n), draw(st.integers(0, t - 1))] = False
        mask[0] = False
        Y[mask] = np.nan
    if t == 1 and draw(st.booleans()):
        return Y[:, 0]
    return Y


def cast(values, dtype):
    """``values`` (float64, within +-1e3) as ``dtype``."""
    if dtype == "object":
        return values.astype(object)
    if dtype == "bool":
        return values > 0
    if np.dtype(dtype).kind in "iu":
        return np.abs(np.round(values)).astype(dtype) % 200
    return values.astype(dtype)


NUMERIC_X = ["float64", "float32", "float16", "int64", "int32", "uint8", "bool"]


@st.composite
def numeric_problem(draw, kind):
    n = draw(st.integers(1, 12))
    d = draw(n_features(kind))
    X = draw(arrays(np.float64, (n, d), elements=finite))
    layout = draw(st.sampled_from(["array", "object", "frame"]))
    if layout == "frame":  # one dtype per column
        X = pd.DataFrame(
            {f"f{j}": cast(X[:, j], draw(st.sampled_from(NUMERIC_X))) for j in range(d)}
        )
    else:
        X = cast(
            X, "object" if layout == "object" else draw(st.sampled_from(NUMERIC_X))
        )
    y = draw(labelled_targets(n))
    if not np.isnan(y).any():
        y = cast(y, draw(st.sampled_from(["float64", "float32", "int64", "object"])))
    return X, y


@pytest.fixture(scope="module")
def fitted(source):
    """Per kind, a model fitted on 10 rows and 2 tasks; tests must not refit it."""
    rng = np.random.RandomState(1)
    X, Y = rng.normal(size=(10, SOURCE_FEATURES)), rng.normal(size=(10, 2))
    return {kind: (make(kind, source).fit(X, Y), X, Y) for kind in KINDS}


# ---- fit ------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
@given(data=st.data())
def test_numeric_inputs_of_any_dtype_fit_and_predict(kind, source, data):
    X, y = data.draw(numeric_problem(kind))
    model = make(kind, source).fit(X, y)
    assert_predicts_cleanly(model, X, y)


@pytest.mark.parametrize("kind", KINDS)
@given(data=st.data())
def test_nan_patterns_in_y(kind, source, data):
    # NaN is "not labelled": fine in some cells, an error for a whole row or task
    n = data.draw(st.integers(1, 10))
    t = data.draw(st.integers(1, 3))
    X = data.draw(arrays(np.float64, (n, SOURCE_FEATURES), elements=finite))
    Y_full = data.draw(arrays(np.float64, (n, t), elements=finite))
    Y = np.where(data.draw(arrays(np.bool_, (n, t))), np.nan, Y_full)
    empty = np.isnan(Y).all(axis=0).any() or np.isnan(Y).all(axis=1).any()
    if data.draw(st.booleans()):
        Y = pd.DataFrame(Y, columns=[f"task{k}" for k in range(t)])
    model = make(kind, source)
    if empty:
        must_fail(lambda: model.fit(X, Y), UNLABELLED)
        model.fit(X, Y_full)
        if np.isnan(np.asarray(Y, dtype=float)).all():
            must_fail(lambda: model.score(X, Y), UNLABELLED)
        else:  # a task with no label here is left out of the score, with a warning
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                assert not np.isnan(model.score(X, Y))
    else:
        model.fit(X, Y)
        assert_predicts_cleanly(model, X, Y)


@pytest.mark.parametrize("kind", KINDS)
@given(data=st.data())
def test_nan_in_X_is_an_error(kind, source, fitted, data):
    model, X, Y = fitted[kind]
    cells = data.draw(arrays(np.bool_, X.shape).filter(np.any))
    X_nan = np.where(cells, np.nan, X)
    if data.draw(st.booleans()):  # a pandas nullable column with pd.NA
        column = int(np.flatnonzero(cells.any(axis=0))[0])
        X_nan = pd.DataFrame(X_nan)
        X_nan[column] = pd.array(
            [None if c else 1 for c in cells[:, column]], dtype="Int64"
        )
    stage = data.draw(st.sampled_from(["fit", "predict", "score"]))
    call = {
        "fit": lambda: make(kind, source).fit(X_nan, Y),
        "predict": lambda: model.predict(X_nan),
        "score": lambda: model.score(X_nan, Y),
    }[stage]
    must_fail(call, NAN)


@pytest.mark.parametrize("kind", KINDS)
@given(data=st.data())
def test_infinity_is_an_error(kind, source, fitted, data):
    model, X, Y = fitted[kind]
    where = data.draw(st.sampled_from(["fit X", "fit y", "predict X", "score y"]))
    value = data.draw(st.sampled_from([np.inf, -np.inf]))
    bad = (X if where.endswith("X") else Y).copy()
    bad[data.draw(st.integers(0, len(bad) - 1)), data.draw(st.integers(0, 1))] = value
    call = {
        "fit X": lambda: make(kind, source).fit(bad, Y),
        "fit y": lambda: make(kind, source).fit(X, bad),
        "predict X": lambda: model.predict(bad),
        "score y": lambda: model.score(X, bad),
    }[where]
    must_fail(call, INFINITY)


@pytest.mark.parametrize("kind", KINDS)
@given(data=st.data())
def test_strings_objects_and_complex_values(kind, source, data):
    n = data.draw(st.integers(1, 8))
    X = data.draw(arrays(np.float64, (n, SOURCE_FEATURES), elements=finite))
    y = data.draw(arrays(np.float64, (n,), elements=finite))
    target = data.draw(st.sampled_from(["X", "y"]))
    values = X if target == "X" else y.reshape(-1, 1)
    column = data.draw(st.integers(0, values.shape[1] - 1))
    row = data.draw(st.integers(0, n - 1))
    content = data.draw(st.sampled_from(["word", "number text", "complex"]))
    layout = data.draw(
        st.sampled_from(["object", "numpy str", "frame", "frame string", "category"])
    )
    if content == "complex":
        bad, pattern = values.astype(complex), r"[Cc]omplex"
        bad[row, column] += 1j
    else:
        text = values.astype(str).astype(object)
        if content == "word":
            text[row, column] = data.draw(words)
        bad, pattern = text, STRING
        if layout == "numpy str":
            bad = text.astype(str)
        elif layout != "object":
            bad = pd.DataFrame(text, columns=[f"c{j}" for j in range(text.shape[1])])
            dtype = {"frame": object, "frame string": "string", "category": "category"}
            bad[f"c{column}"] = bad[f"c{column}"].astype(dtype[layout])
    if target == "y":
        bad = bad.iloc[:, 0] if isinstance(bad, pd.DataFrame) else bad[:, 0]
    args = (bad, y) if target == "X" else (X, bad)
    model = make(kind, source)
    if content == "number text":  # numbers written as text parse as numbers
        fit_or_fail_clearly(model, *args, pattern)
    else:
        must_fail(lambda: model.fit(*args), pattern)


DEGENERATE = {
    # name: (X shape, y shape, pattern); None means "must succeed"
    "no rows": ("0d", "0", r"0 sample"),
    "no features": ("nx0", "n", r"0 feature"),
    "no tasks": ("nd", "nx0", r"0 tasks"),
    "one row": ("1d", "1", None),
    "one row, several tasks": ("1d", "1x2", None),
    "fewer y rows": ("nd", "m", r"inconsistent|sample"),
    "1-D X": ("n", "n", r"2D array"),
    "3-D X": ("nd2", "n", r"dim 3"),
    "3-D y": ("nd", "nx2x2", r"1-D or 2-D|dim 3"),
    "sparse X": ("sparse", "n", r"[Ss]parse"),
    "ragged X": ("ragged", "n", r"sequence|inhomogeneous"),
}


def shaped(code, n, d, rng):
    shapes = {
        "0d": (0, d),
        "0": (0,),
        "nx0": (n, 0),
        "nd": (n, d),
        "1d": (1, d),
        "1": (1,),
        "1x2": (1, 2),
        "n": (n,),
        "m": (n - 1,),
        "nd2": (n, d, 2),
        "nx2x2": (n, 2, 2),
    }
    if code == "sparse":
        return scipy.sparse.csr_matrix(rng.normal(size=(n, d)))
    if code == "ragged":
        return [list(rng.normal(size=d))] * (n - 1) + [[1.0]]
    return rng.normal(size=shapes[code])


@pytest.mark.parametrize("kind", KINDS)
@given(
    case=st.sampled_from(sorted(DEGENERATE)),
    n=st.integers(2, 9),
    seed=st.integers(0, 2**16),
)
def test_empty_one_row_and_misshapen_inputs(kind, source, case, n, seed):
    rng = np.random.RandomState(seed)
    x_code, y_code, pattern = DEGENERATE[case]
    X, y = shaped(x_code, n, SOURCE_FEATURES, rng), shaped(y_code, n, None, rng)
    model = make(kind, source)
    if pattern is None:
        model.fit(X, y)
        assert_predicts_cleanly(model, X, y)
    else:
        must_fail(lambda: model.fit(X, y), pattern)


@pytest.mark.parametrize("kind", KINDS)
@given(data=st.data())
def test_feature_count_differs_from_the_source(kind, source, data):
    d = data.draw(st.integers(1, 6).filter(lambda d: d != SOURCE_FEATURES))
    X = data.draw(arrays(np.float64, (5, d), elements=finite))
    y = data.draw(arrays(np.float64, (5,), elements=finite))
    model = make(kind, source)
    if kind == "transfer_source":
        must_fail(lambda: model.fit(X, y), r"features")
    else:
        model.fit(X, y)
        assert_predicts_cleanly(model, X, y)


# ---- predict and score on a fitted model -----------------------------------
BAD_AT_PREDICT = {
    "fewer features": (lambda X, Y: (X[:, :2], Y), r"features"),
    "no rows": (lambda X, Y: (X[:0], Y[:0]), r"0 sample"),
    "word": (lambda X, Y: (np.where(X > 0, "w", X.astype(str)), Y), STRING),
    "complex": (lambda X, Y: (X + 1j, Y), r"[Cc]omplex"),
    "y has fewer tasks": (lambda X, Y: (X, Y[:, 0]), r"task"),
    "y has more tasks": (lambda X, Y: (X, np.hstack([Y, Y])), r"task"),
    "y has fewer rows": (lambda X, Y: (X, Y[1:]), r"inconsistent|sample"),
    "y unlabelled everywhere": (lambda X, Y: (X, Y * np.nan), UNLABELLED),
    "y strings": (lambda X, Y: (X, np.full(Y.shape, "w")), STRING),
}


@pytest.mark.parametrize("kind", KINDS)
@given(case=st.sampled_from(sorted(BAD_AT_PREDICT)), scale=st.floats(0.1, 10))
def test_bad_inputs_at_predict_and_score(kind, fitted, case, scale):
    model, X, Y = fitted[kind]
    make_inputs, pattern = BAD_AT_PREDICT[case]
    X_bad, Y_bad = make_inputs(X * scale, Y * scale)
    must_fail(lambda: model.score(X_bad, Y_bad), pattern)
    if not case.startswith("y "):
        must_fail(lambda: model.predict(X_bad), pattern)


@pytest.mark.parametrize("kind", KINDS)
@given(data=st.data())
def test_dataframe_columns_must_match_fit(kind, source, data):
    n = 8
    X = pd.DataFrame(
        data.draw(arrays(np.float64, (n, SOURCE_FEATURES), elements=finite)),
        columns=["a", "b", "c"],
    )
    y = pd.Series(data.draw(arrays(np.float64, (n,), elements=finite)), name="t")
    model = make(kind, source).fit(X, y)
    assert list(model.task_names_) == ["t"]
    renamed = X.rename(columns={"b": data.draw(words)})
    must_fail(lambda: model.predict(renamed), r"feature names")
    reordered = X[["c", "a", "b"]]
    must_fail(lambda: model.predict(reordered), r"feature names")


@pytest.mark.parametrize("kind", KINDS)
@given(
    k=st.integers(0, 300),
    sign=st.sampled_from([1.0, -1.0]),
    seed=st.integers(0, 2**16),
)
def test_huge_inputs_at_predict(kind, fitted, k, sign, seed):
    model, X, Y = fitted[kind]
    X_huge = X.copy()
    X_huge[np.random.RandomState(seed).rand(*X.shape) < 0.5] = sign * 10.0**k
    pred = attempt(lambda: model.predict(X_huge), r"non-finite|input")
    if pred is not None:
        assert np.all(np.isfinite(pred))
        assert not np.isnan(model.score(X_huge, Y))
    # targets far from the predictions: R^2 is very negative, never NaN
    assert np.isfinite(model.score(X, sign * Y * 10.0**k))


@pytest.mark.parametrize("kind", KINDS)
@given(
    weights=arrays(np.float64, 10, elements=st.floats(0.1, 10)),
    k=st.integers(-300, 300),
    length=st.integers(0, 20),
)
def test_score_sample_weight(kind, fitted, weights, k, length):
    model, X, Y = fitted[kind]
    # R^2 does not change when every weight is multiplied by the same factor
    expected = model.score(X, Y, sample_weight=weights)
    scaled = model.score(X, Y, sample_weight=weights * 10.0**k)
    assert np.isclose(scaled, expected, rtol=1e-9)
    if length != len(X):
        must_fail(
            lambda: model.score(X, Y, sample_weight=np.ones(length)), r"sample_weight"
        )


# ---- huge values at fit ----------------------------------------------------
@st.composite
def huge_problem(draw, kind, x_exponents, y_exponents):
    """Draw data with some cells of X and/or y scaled by ``10**k``."""
    n = draw(st.integers(1, 10))
    X = draw(arrays(np.float64, (n, draw(n_features(kind))), elements=finite))
    Y = draw(arrays(np.float64, (n, draw(st.integers(1, 2))), elements=finite))
    for values, exponents in ((X, x_exponents), (Y, y_exponents)):
        k = None if exponents is None else draw(exponents)
        if k is not None:
            values[draw(arrays(np.bool_, values.shape))] *= 10.0**k
    return X, Y


def fit_huge(model, X, Y, pattern):
    """A huge value may diverge (TrainingDivergedError), never give NaN silently."""
    try:
        fit_or_fail_clearly(model, X, Y, pattern)
    except TrainingDivergedError:
        pass


@pytest.mark.parametrize("kind", KINDS)
@given(data=st.data())
def test_huge_values_within_float32_range(kind, source, data):
    # |values| <= 1e3 * 10**35: even the first layer's sums stay in float32 range
    X, Y = data.draw(
        huge_problem(kind, st.integers(0, 35), st.integers(0, 35) | st.none())
    )
    fit_huge(make(kind, source), X, Y, LARGE_X + "|" + LARGE_Y)


@st.composite
def spread_targets(draw, kind, exponents):
    """A problem plus two rows with targets +1 and -1, all targets times 10**k."""
    X, Y = draw(huge_problem(kind, None, None))
    k = draw(exponents)
    Y = np.vstack([Y, np.ones((1, Y.shape[1])), -np.ones((1, Y.shape[1]))]) * 10.0**k
    return np.vstack([X, X[:1], X[:1]]), Y


@pytest.mark.parametrize("kind", KINDS)
@given(data=st.data())
def test_varied_targets_beyond_float32_range(kind, source, data):
    # each task spans 10**k: standardisation brings it back to float32 range
    X, Y = data.draw(spread_targets(kind, st.integers(39, 150)))
    fit_huge(make(kind, source), X, Y, LARGE_Y)


@pytest.mark.parametrize("kind", KINDS)
@NO_SHRINK
@given(data=st.data())
def test_constant_target_beyond_float32_range(kind, source, data):
    n = data.draw(st.integers(1, 10))
    X = data.draw(arrays(np.float64, (n, SOURCE_FEATURES), elements=finite))
    other = data.draw(arrays(np.float64, (n,), elements=finite))
    constant = data.draw(st.sampled_from([1.0, -1.0])) * 10.0 ** data.draw(
        st.integers(39, 150)
    )
    Y = np.column_stack([np.full(n, constant), other])  # as many tasks as the source
    fit_huge(make(kind, source), X, Y, LARGE_Y)


@pytest.mark.parametrize("kind", KINDS)
@NO_SHRINK
@given(data=st.data())
def test_targets_whose_variance_overflows_float64(kind, source, data):
    X, Y = data.draw(spread_targets(kind, st.integers(155, 300)))
    fit_huge(make(kind, source), X, Y, LARGE_Y)


@pytest.mark.parametrize("kind", KINDS)
@NO_SHRINK
@given(data=st.data())
def test_inputs_near_and_beyond_float32_limit(kind, source, data):
    X, Y = data.draw(huge_problem(kind, None, None))
    k = data.draw(st.integers(38, 300))
    column = data.draw(st.integers(0, X.shape[1] - 1))
    X = np.vstack([X, X[:1], X[:1]])
    Y = np.vstack([Y, Y[:1], Y[:1]])
    X[-2, column], X[-1, column] = 10.0**k, -(10.0**k)
    fit_huge(make(kind, source), X, Y, LARGE_X)
