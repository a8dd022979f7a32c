"""Hypothesis property tests of MultiTaskRegressor and stack_tasks."""

import pickle

import numpy as np
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.base import clone

from sklearn_mtl import MultiTaskRegressor, stack_tasks

TINY = dict(hidden_layer_sizes=(8,), max_epochs=5, batch_size=16)
finite = st.floats(-10, 10, allow_nan=False, width=64)


@st.composite
def multitask_problems(draw, max_tasks=3, missing=True):
    """Draw (X, Y) with 4..40 rows, 1..5 features, NaN cells, each row labelled."""
    n = draw(st.integers(4, 40))
    d = draw(st.integers(1, 5))
    t = draw(st.integers(1, max_tasks))
    X = draw(arrays(np.float64, (n, d), elements=finite))
    Y = draw(arrays(np.float64, (n, t), elements=finite))
    if missing and t > 1:
        mask = draw(arrays(np.bool_, (n, t)))
        mask[np.arange(n), draw(st.integers(0, t - 1))] = (
            False  # keep one label per row
        )
        mask[0] = False  # and one label per task
        Y[mask] = np.nan
    return X, Y


@given(multitask_problems(), st.integers(0, 2**16))
def test_output_shape_and_dtype(problem, seed):
    X, Y = problem
    pred = MultiTaskRegressor(random_state=seed, **TINY).fit(X, Y).predict(X)
    assert pred.shape == Y.shape and pred.dtype == np.float64
    assert np.all(np.isfinite(pred))


@given(multitask_problems(), st.integers(0, 2**16))
def test_same_random_state_gives_identical_predictions(problem, seed):
    X, Y = problem
    a = MultiTaskRegressor(random_state=seed, dropout=0.1, **TINY).fit(X, Y).predict(X)
    b = MultiTaskRegressor(random_state=seed, dropout=0.1, **TINY).fit(X, Y).predict(X)
    np.testing.assert_array_equal(a, b)


@given(multitask_problems(), st.data())
def test_predicting_a_subset_matches_the_full_predict(problem, data):
    X, Y = problem
    model = MultiTaskRegressor(random_state=0, **TINY).fit(X, Y)
    rows = data.draw(st.lists(st.integers(0, len(X) - 1), min_size=1, max_size=len(X)))
    np.testing.assert_allclose(
        model.predict(X[rows]), model.predict(X)[rows], rtol=1e-12
    )


@given(multitask_problems(), st.integers(0, 2**16))
def test_unlabelled_cells_have_no_influence(problem, seed):
    # With full-batch training the model depends only on the labelled cells:
    # each task's labelled rows alone, stacked with NaN elsewhere (the seed
    # scenario's layout), give the same model as the NaN-masked Y with shared rows.
    X, Y = problem
    per_task = [
        (X[~np.isnan(Y[:, t])], Y[~np.isnan(Y[:, t]), t]) for t in range(Y.shape[1])
    ]
    X_stacked, Y_stacked = stack_tasks(per_task)
    common = dict(
        hidden_layer_sizes=(8,), batch_size=200, max_epochs=5, random_state=seed
    )
    shared = MultiTaskRegressor(**common).fit(X, Y)
    separate = MultiTaskRegressor(**common).fit(X_stacked, Y_stacked)
    spread = np.nanstd(Y, axis=0).max() + 1e-12
    np.testing.assert_allclose(
        shared.predict(X), separate.predict(X), rtol=1e-4, atol=1e-4 * spread
    )


@given(
    multitask_problems(),
    st.floats(0.01, 100),
    st.floats(-1000, 1000),
)
def test_affine_invariance_with_standardized_targets(problem, scale, shift):
    X, Y = problem
    # no near-constant task: the shift rounds its spread away (1 + 1e-229 == 1);
    # the range, not nanstd, whose square underflows to 0 below about 1e-154
    spreads = np.nanmax(Y, axis=0) - np.nanmin(Y, axis=0)
    assume(np.all((spreads == 0) | (spreads > 1e-6)))
    model = MultiTaskRegressor(random_state=0, **TINY)
    base = clone(model).fit(X, Y).predict(X)
    moved = clone(model).fit(X, scale * Y + shift).predict(X)
    # float64 rounding of the shift itself is the floor of the tolerance
    atol = 1e-4 * np.nanstd(Y, axis=0).max() + 1e-12 * (1 + abs(shift)) / scale
    np.testing.assert_allclose((moved - shift) / scale, base, rtol=1e-4, atol=atol)


@given(multitask_problems(max_tasks=1), st.integers(0, 2**16))
def test_single_task_column_equals_1d_fit(problem, seed):
    X, Y = problem
    two_d = MultiTaskRegressor(random_state=seed, **TINY).fit(X, Y)
    one_d = MultiTaskRegressor(random_state=seed, **TINY).fit(X, Y[:, 0])
    assert one_d.predict(X).shape == (len(X),)
    np.testing.assert_array_equal(two_d.predict(X)[:, 0], one_d.predict(X))


@given(
    st.lists(
        st.tuples(st.integers(1, 6), st.integers(1, 2)), min_size=1, max_size=4
    ).flatmap(
        lambda shapes: st.tuples(
            *[
                st.tuples(
                    arrays(np.float64, (n, 3), elements=finite),
                    arrays(np.float64, (n, k), elements=finite),
                )
                for n, k in shapes
            ]
        )
    )
)
def test_stack_tasks_round_trips(tasks):
    X, Y = stack_tasks(list(tasks))
    row, col = 0, 0
    for X_t, y_t in tasks:
        n, k = y_t.shape
        np.testing.assert_array_equal(X[row : row + n], X_t)
        np.testing.assert_array_equal(Y[row : row + n, col : col + k], y_t)
        assert np.isnan(np.delete(Y[row : row + n], np.s_[col : col + k], axis=1)).all()
        row, col = row + n, col + k
    assert (row, col) == Y.shape


@given(multitask_problems(), st.integers(0, 2**16))
def test_clone_and_pickle_round_trip(problem, seed):
    X, Y = problem
    model = MultiTaskRegressor(random_state=seed, alpha=0.01, **TINY)
    assert clone(model).get_params() == model.get_params()
    model.fit(X, Y)
    fresh = clone(model)
    assert not hasattr(fresh, "net_") and fresh.get_params() == model.get_params()
    np.testing.assert_array_equal(
        pickle.loads(pickle.dumps(model)).predict(X), model.predict(X)
    )
