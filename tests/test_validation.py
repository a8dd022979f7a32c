import numpy as np
import pytest

from sklearn_mtl import stack_tasks
from sklearn_mtl._validation import check_multitask_y, masked_r2_score


def test_check_multitask_y_reshapes_1d():
    Y, is_1d, names = check_multitask_y([1.0, 2.0, np.nan, 4.0][:2])
    assert Y.shape == (2, 1) and is_1d and list(names) == ["task_0"]


def test_check_multitask_y_takes_dataframe_names():
    pd = pytest.importorskip("pandas")
    Y, is_1d, names = check_multitask_y(pd.DataFrame({"a": [1.0, np.nan], "b": [2, 3]}))
    assert not is_1d and list(names) == ["a", "b"] and np.isnan(Y[1, 0])


def test_check_multitask_y_takes_series_name():
    pd = pytest.importorskip("pandas")
    _, is_1d, names = check_multitask_y(pd.Series([1.0, 2.0], name="price"))
    assert is_1d and list(names) == ["price"]


def test_check_multitask_y_rejects_3d():
    with pytest.raises(ValueError, match="Found array with dim 3|must be 1-D or 2-D"):
        check_multitask_y(np.zeros((2, 2, 2)))


def test_check_multitask_y_rejects_length_mismatch():
    with pytest.raises(ValueError, match="inconsistent numbers of samples: 3 and 2"):
        check_multitask_y([1.0, 2.0], n_samples=3)


def test_stack_tasks_places_each_task_in_its_column():
    X1, y1 = np.zeros((2, 3)), np.array([1.0, 2.0])
    X2, y2 = np.ones((3, 3)), np.array([[5.0, 6.0]] * 3)
    X, Y = stack_tasks([(X1, y1), (X2, y2)])
    assert X.shape == (5, 3) and Y.shape == (5, 3)
    np.testing.assert_array_equal(Y[:2, 0], y1)
    assert np.isnan(Y[:2, 1:]).all() and np.isnan(Y[2:, 0]).all()
    np.testing.assert_array_equal(Y[2:, 1:], y2)


@pytest.mark.parametrize(
    "tasks, error, match",
    [
        ([], ValueError, "tasks is empty"),
        ("abc", TypeError, "sequence of"),
        ([(np.zeros((2, 3)),)], ValueError, "Task 0 is not an"),
        ([(np.zeros((2, 3)), [1.0])], ValueError, "inconsistent numbers of samples"),
        (
            [(np.zeros((2, 3)), [1.0, 2.0]), (np.zeros((2, 4)), [1.0, 2.0])],
            ValueError,
            "Task 1 has 4 features but task 0 has 3",
        ),
    ],
)
def test_stack_tasks_errors(tasks, error, match):
    with pytest.raises(error, match=match):
        stack_tasks(tasks)


def test_masked_r2_matches_sklearn_on_full_labels(rng):
    from sklearn.metrics import r2_score

    Y = rng.normal(size=(30, 3))
    P = Y + rng.normal(scale=0.5, size=Y.shape)
    assert masked_r2_score(Y, P) == pytest.approx(r2_score(Y, P))


def test_masked_r2_ignores_unlabelled_cells(rng):
    from sklearn.metrics import r2_score

    Y = rng.normal(size=(30, 2))
    P = Y + rng.normal(scale=0.5, size=Y.shape)
    Y_masked = Y.copy()
    Y_masked[:10, 1] = np.nan
    expected = (r2_score(Y[:, 0], P[:, 0]) + r2_score(Y[10:, 1], P[10:, 1])) / 2
    assert masked_r2_score(Y_masked, P) == pytest.approx(expected)
