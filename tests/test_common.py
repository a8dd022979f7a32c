"""scikit-learn's estimator checks over every public estimator.

Every expected failure is listed below with its measured reason: one for
MultiTaskRegressor at its defaults (float32 training cannot meet the sample
weight check's 1e-7 tolerance), and two for TransferEstimator with a real
pretrained source.
"""

import inspect

import pytest
from sklearn.base import BaseEstimator
from sklearn.utils.estimator_checks import check_estimator, parametrize_with_checks

import sklearn_mtl
from sklearn_mtl import MultiTaskRegressor, TransferEstimator
from sklearn_mtl.datasets import make_multitask_regression


def all_estimators():
    """Every public estimator class of sklearn_mtl, built with its defaults."""
    return [
        obj()
        for name in sklearn_mtl.__all__
        if inspect.isclass(obj := getattr(sklearn_mtl, name))
        and issubclass(obj, BaseEstimator)
    ]


def transfer_with_a_real_source():
    """A TransferEstimator over a fitted source; the adapter takes any width."""
    X, Y = make_multitask_regression(
        n_samples=200, n_features=5, n_tasks=2, random_state=0
    )
    source = MultiTaskRegressor(hidden_layer_sizes=(16,), max_epochs=10, random_state=0)
    return TransferEstimator(
        source=source.fit(X, Y), input_adapter=True, lr=1e-3, max_epochs=200
    )


PER_ESTIMATOR_XFAIL_CHECKS = {
    "MultiTaskRegressor": {
        "check_sample_weight_equivalence_on_dense_data": (
            "the check asks for predictions equal to rtol 1e-7; training runs in "
            "float32, where a weighted mean over rows and the mean over repeated "
            "rows round differently, and Adam's normalised steps amplify that "
            "over the epochs (measured on torch 2.13 CPU and 2.14, 1 and 2 "
            "threads, identical in all four: 1.0e-5 relative at the default 200 "
            "epochs, 8.3e-7 at 50); tests/test_multitask.py checks the "
            "equivalence to rtol 1e-5 over 50 epochs"
        ),
    },
    "TransferEstimator(source=fitted)": {
        "check_estimators_overwrite_params": (
            "the check compares joblib.hash of the source before and after fit; "
            "joblib.hash of a fitted skorch net is not stable even between two "
            "calls on an untouched object (tests/test_transfer.py checks that fit "
            "leaves the source's weights bit-identical instead)"
        ),
        "check_sample_weight_equivalence_on_dense_data": (
            "the linear probe picks its ridge strength by leave-one-out error; "
            "leaving out a row of weight 2 is not the same as leaving out one of "
            "its two copies, so weights and repetitions can pick different "
            "strengths"
        ),
    },
}


def checked_estimators():
    return [*all_estimators(), transfer_with_a_real_source()]


def estimator_id(estimator):
    name = type(estimator).__name__
    return f"{name}(source=fitted)" if getattr(estimator, "source", None) else name


def expected_failures(estimator):
    return PER_ESTIMATOR_XFAIL_CHECKS.get(estimator_id(estimator), {})


def test_discovery_finds_the_estimators():
    names = {type(est).__name__ for est in all_estimators()}
    assert names == {"MultiTaskRegressor", "TransferEstimator"}


@parametrize_with_checks(checked_estimators(), expected_failed_checks=expected_failures)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


@pytest.mark.parametrize("estimator", all_estimators(), ids=estimator_id)
def test_check_estimator_with_defaults(estimator):
    results = check_estimator(estimator, on_fail=None)
    failed = [r["check_name"] for r in results if r["status"] == "failed"]
    assert sorted(failed) == sorted(expected_failures(estimator))
