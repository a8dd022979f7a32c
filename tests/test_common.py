"""scikit-learn's estimator checks over every public estimator, no expected failures."""

import inspect

import pytest
from sklearn.base import BaseEstimator
from sklearn.utils.estimator_checks import check_estimator, parametrize_with_checks

import sklearn_mtl


def all_estimators():
    """Every public estimator class of sklearn_mtl, built with its defaults."""
    return [
        obj()
        for name in sklearn_mtl.__all__
        if inspect.isclass(obj := getattr(sklearn_mtl, name))
        and issubclass(obj, BaseEstimator)
    ]


def test_discovery_finds_the_estimators():
    names = {type(est).__name__ for est in all_estimators()}
    assert "MultiTaskRegressor" in names


@parametrize_with_checks(all_estimators())
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


@pytest.mark.parametrize("estimator", all_estimators(), ids=lambda e: type(e).__name__)
def test_check_estimator_with_defaults(estimator):
    results = check_estimator(estimator, on_fail=None)
    failed = [r["check_name"] for r in results if r["status"] == "failed"]
    assert failed == []
