import numpy as np
import pytest

from sklearn_mtl.datasets import make_multitask_regression


def test_shapes_and_reproducibility():
    X, Y = make_multitask_regression(
        n_samples=40, n_features=5, n_tasks=3, random_state=1
    )
    X2, Y2 = make_multitask_regression(
        n_samples=40, n_features=5, n_tasks=3, random_state=1
    )
    assert X.shape == (40, 5) and Y.shape == (40, 3)
    np.testing.assert_array_equal(Y, Y2)


def test_relatedness_controls_task_correlation():
    def mean_corr(r):
        _, Y = make_multitask_regression(
            n_samples=2000, n_tasks=4, relatedness=r, noise=0.0, random_state=0
        )
        C = np.corrcoef(Y.T)
        return np.abs(C[np.triu_indices(4, 1)]).mean()

    assert mean_corr(1.0) > 0.999
    assert mean_corr(0.0) < 0.5 < mean_corr(0.9)


def test_missing_rate_keeps_every_row_and_task_labelled():
    _, Y = make_multitask_regression(
        n_samples=300, n_tasks=5, missing_rate=0.9, random_state=0
    )
    labelled = ~np.isnan(Y)
    assert labelled.any(axis=1).all() and labelled.any(axis=0).all()
    assert 0.6 < 1 - labelled.mean() < 0.8


def test_noise_is_relative_to_unit_signal():
    _, Y = make_multitask_regression(
        n_samples=5000, n_tasks=2, noise=0.0, random_state=0
    )
    np.testing.assert_allclose(Y.std(axis=0), 1.0)


def test_invalid_parameters_are_rejected():
    with pytest.raises(ValueError, match="relatedness"):
        make_multitask_regression(relatedness=1.5)
