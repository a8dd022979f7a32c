"""scikit-learn's estimator checks over every public estimator.

Every expected failure is listed below with its measured reason: one for
MultiTaskRegressor at its defaults (float32 training cannot meet the sample
weight check's 1e-7 tolerance), two for TransferEstimator with a real
pretrained source (and the same two for TransferClassifier), and for the
classifiers the special case sklearn makes for its own MLPClassifier: the
sample weight check runs with another configuration (plain SGD), where it
passes.
"""

import inspect

import pytest
from sklearn.base import BaseEstimator
from sklearn.utils.estimator_checks import (
    check_estimator,
    check_sample_weight_equivalence_on_dense_data,
    parametrize_with_checks,
)

import sklearn_mtl
from sklearn_mtl import (
    MixedTaskEstimator,
    MultiTaskClassifier,
    MultiTaskRegressor,
    TransferClassifier,
    TransferEstimator,
)
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
    "MultiTaskClassifier": {
        "check_sample_weight_equivalence_on_dense_data": (
            "as for MLPClassifier, which sklearn checks with solver='lbfgs' only: "
            "with Adam's normalised steps over 200 epochs, the float32 rounding "
            "of weighted and repeated rows grows to 1.4e-3 relative in "
            "predict_proba (measured, torch 2.14 CPU); "
            "test_sample_weight_equivalence_with_sgd runs the same check with "
            "optimizer='sgd', max_epochs=50, where it passes"
        ),
    },
    "MixedTaskEstimator": {
        "check_sample_weight_equivalence_on_dense_data": (
            "the classifier's reason (3.0e-3 relative in predict_proba, torch 2.14 "
            "CPU); test_sample_weight_equivalence_with_sgd runs the same check "
            "with optimizer='sgd', max_epochs=50, where it passes"
        ),
    },
    "TransferClassifier": {
        "check_sample_weight_equivalence_on_dense_data": (
            "the classifier's reason (trained from scratch: 1.3e-7 relative in "
            "predict_proba, torch 2.14 CPU); test_sample_weight_equivalence_with_sgd "
            "runs the same check with optimizer='sgd', max_epochs=50"
        ),
    },
    "TransferClassifier(source=fitted)": {
        "check_estimators_overwrite_params": (
            "as for TransferEstimator(source=fitted): joblib.hash of a fitted "
            "skorch net is not stable between two calls on an untouched object"
        ),
        "check_sample_weight_equivalence_on_dense_data": (
            "the logistic probe picks its strength C by stratified K-fold log-loss "
            "over rows: a row of weight 2 sits in one fold where its two copies "
            "can sit in two, so the two fits can pick different C (measured: "
            "predict_proba 0.30 apart with strategy='linear_probe', 3.4e-7 "
            "relative with strategy='fine_tune')"
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


def classifier_transfer_with_a_real_source():
    """A TransferClassifier over the same kind of fitted regressor source."""
    model = transfer_with_a_real_source()
    return TransferClassifier(
        source=model.source, input_adapter=True, lr=1e-3, max_epochs=200
    )


def checked_estimators():
    return [
        *all_estimators(),
        transfer_with_a_real_source(),
        classifier_transfer_with_a_real_source(),
    ]


def estimator_id(estimator):
    name = type(estimator).__name__
    return f"{name}(source=fitted)" if getattr(estimator, "source", None) else name


def expected_failures(estimator):
    return PER_ESTIMATOR_XFAIL_CHECKS.get(estimator_id(estimator), {})


def test_discovery_finds_the_estimators():
    names = {type(est).__name__ for est in all_estimators()}
    assert names == {
        "MixedTaskEstimator",
        "MultiTaskClassifier",
        "MultiTaskRegressor",
        "TransferClassifier",
        "TransferEstimator",
    }


@pytest.mark.parametrize(
    "cls", [MultiTaskClassifier, MixedTaskEstimator, TransferClassifier]
)
def test_sample_weight_equivalence_with_sgd(cls):
    """sklearn's check in another configuration, as it does for MLPClassifier."""
    estimator = cls(optimizer="sgd", max_epochs=50, random_state=0)
    check_sample_weight_equivalence_on_dense_data(cls.__name__, estimator)


@parametrize_with_checks(checked_estimators(), expected_failed_checks=expected_failures)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


@pytest.mark.parametrize("estimator", all_estimators(), ids=estimator_id)
def test_check_estimator_with_defaults(estimator):
    results = check_estimator(estimator, on_fail=None)
    failed = [r["check_name"] for r in results if r["status"] == "failed"]
    assert sorted(failed) == sorted(expected_failures(estimator))
