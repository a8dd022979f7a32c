"""MultiTaskRegressor inside sklearn's meta-estimators, unchanged."""

import numpy as np
import pytest
from sklearn.compose import TransformedTargetRegressor
from sklearn.model_selection import GridSearchCV, KFold, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_mtl import MultiTaskRegressor
from sklearn_mtl.datasets import make_multitask_regression

SMALL = dict(hidden_layer_sizes=(16,), batch_size=16, max_epochs=30, random_state=0)


@pytest.fixture
def data():
    X, Y = make_multitask_regression(
        n_samples=150, n_features=5, n_tasks=2, random_state=0
    )
    return X * 50 + 10, Y


def test_pipeline_with_scaler(data):
    X, Y = data
    pipe = make_pipeline(StandardScaler(), MultiTaskRegressor(**SMALL)).fit(X, Y)
    assert pipe.predict(X).shape == Y.shape
    assert pipe.score(X, Y) > MultiTaskRegressor(**SMALL).fit(X, Y).score(X, Y)


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_grid_search(data, n_jobs):
    X, Y = data
    search = GridSearchCV(
        make_pipeline(StandardScaler(), MultiTaskRegressor(**SMALL)),
        {
            "multitaskregressor__alpha": [0.0, 1e-2],
            "multitaskregressor__lr": [1e-3, 1e-2],
        },
        cv=3,
        n_jobs=n_jobs,
    ).fit(X, Y)
    assert len(search.cv_results_["params"]) == 4
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    assert search.best_estimator_.predict(X).shape == Y.shape


def test_grid_search_results_do_not_depend_on_n_jobs(data):
    X, Y = data
    grid = {"alpha": [0.0, 1e-2]}
    scores = [
        GridSearchCV(MultiTaskRegressor(**SMALL), grid, cv=2, n_jobs=n)
        .fit(X / 50, Y)
        .cv_results_["mean_test_score"]
        for n in (1, 2)
    ]
    np.testing.assert_allclose(scores[0], scores[1], rtol=1e-10)


def test_cross_validate_with_several_scorers(data):
    X, Y = data
    result = cross_validate(
        make_pipeline(StandardScaler(), MultiTaskRegressor(**SMALL)),
        X,
        Y,
        cv=KFold(3, shuffle=True, random_state=0),
        scoring=["r2", "neg_mean_squared_error", "neg_mean_absolute_error"],
    )
    for key in (
        "test_r2",
        "test_neg_mean_squared_error",
        "test_neg_mean_absolute_error",
    ):
        assert result[key].shape == (3,) and np.all(np.isfinite(result[key]))
    assert result["test_r2"].mean() > 0.5


def test_transformed_target_regressor(data):
    X, Y = data
    model = TransformedTargetRegressor(
        regressor=make_pipeline(StandardScaler(), MultiTaskRegressor(**SMALL)),
        func=np.log,
        inverse_func=np.exp,
    )
    Y_pos = np.exp(Y)  # positive targets, learnt on the log scale
    pred = model.fit(X, Y_pos).predict(X)
    assert pred.shape == Y.shape and np.all(pred > 0)
    assert model.score(X, Y_pos) > 0


def test_default_score_is_uniform_r2(data):
    from sklearn.metrics import r2_score

    X, Y = data
    model = MultiTaskRegressor(**SMALL).fit(X / 50, Y)
    assert model.score(X / 50, Y) == pytest.approx(r2_score(Y, model.predict(X / 50)))
