"""save/load of pipelines, searches and target transformers holding the models."""

import io
import json
import pickle
import zipfile

import numpy as np
import pytest
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import TransformedTargetRegressor
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from sklearn_mtl import (
    ModelFileError,
    MultiTaskRegressor,
    TransferEstimator,
    load,
    save,
)
from sklearn_mtl.datasets import make_multitask_regression

skops_io = pytest.importorskip("skops.io")
KW = dict(hidden_layer_sizes=(8,), max_epochs=2, random_state=0, device="cpu")


@pytest.fixture(scope="module")
def data():
    return make_multitask_regression(
        n_samples=60, n_features=4, n_tasks=2, random_state=0
    )


@pytest.fixture(scope="module")
def source(data):
    return MultiTaskRegressor(**KW).fit(*data)


@pytest.fixture(scope="module")
def search(data, source):
    X, Y = data
    pipe = make_pipeline(
        StandardScaler(), TransferEstimator(source=source, strategy="fine_tune", **KW)
    )
    grid = {"transferestimator__lr": [1e-3, 1e-2]}
    return GridSearchCV(pipe, grid, cv=2).fit(X, Y[:, 0])


def dumped(obj):
    buffer = io.BytesIO()
    save(obj, buffer)
    return buffer.getvalue()


def members(data):
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def rezip(contents):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in contents.items():
            stored = name.endswith((".safetensors", ".skops"))
            method = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
            archive.writestr(name, data, compress_type=method)
    return buffer.getvalue()


def test_pipeline_round_trips_and_keeps_training(data):
    X, Y = data
    pipe = make_pipeline(StandardScaler(), MultiTaskRegressor(**KW)).fit(X, Y)
    raw = dumped(pipe)
    assert {"pipeline.json", "pipeline.skops", "models/m0/model.json"} <= set(
        members(raw)
    )
    loaded = load(io.BytesIO(raw))
    assert [name for name, _ in loaded.steps] == [name for name, _ in pipe.steps]
    np.testing.assert_array_equal(loaded.predict(X), pipe.predict(X))
    for model in (pipe, loaded):
        model[-1].partial_fit(model[0].transform(X), Y)
    np.testing.assert_array_equal(loaded.predict(X), pipe.predict(X))


def test_grid_search_round_trips_with_its_template_and_source(data, search):
    X, _ = data
    loaded = load(io.BytesIO(dumped(search)))
    assert type(loaded) is GridSearchCV
    assert loaded.best_params_ == search.best_params_
    np.testing.assert_array_equal(loaded.predict(X), search.predict(X))
    template = loaded.estimator[-1]
    assert type(template) is TransferEstimator and not hasattr(template, "net_")
    assert template.get_params()["strategy"] == "fine_tune"
    np.testing.assert_array_equal(
        template.source.predict(X), search.estimator[-1].source.predict(X)
    )
    np.testing.assert_array_equal(
        loaded.cv_results_["mean_test_score"], search.cv_results_["mean_test_score"]
    )


def test_transformed_target_regressor_round_trips(data):
    X, Y = data
    model = TransformedTargetRegressor(
        regressor=MultiTaskRegressor(**KW), transformer=StandardScaler()
    ).fit(X, Y)
    loaded = load(io.BytesIO(dumped(model)))
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    assert not hasattr(loaded.regressor, "net_")


def test_loading_a_pipeline_never_unpickles(data, search, monkeypatch):
    X, _ = data
    raw = dumped(search)

    def refuse(*args, **kwargs):
        raise AssertionError("load unpickled something")

    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, refuse)
    np.testing.assert_array_equal(load(io.BytesIO(raw)).predict(X), search.predict(X))


class Doubler(TransformerMixin, BaseEstimator):
    """A transformer from outside scikit-learn: loads only when trusted."""

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return 2 * np.asarray(X)


def test_types_outside_sklearn_and_numpy_load_only_when_trusted(data):
    X, Y = data
    pipe = make_pipeline(Doubler(), MultiTaskRegressor(**KW)).fit(X, Y)
    raw = dumped(pipe)
    name = f"{Doubler.__module__}.Doubler"
    with pytest.raises(ModelFileError, match=f"{name}.*trusted="):
        load(io.BytesIO(raw))
    loaded = load(io.BytesIO(raw), trusted=[Doubler])
    np.testing.assert_array_equal(loaded.predict(X), pipe.predict(X))
    np.testing.assert_array_equal(
        load(io.BytesIO(raw), trusted=[name]).predict(X), pipe.predict(X)
    )


def test_functions_are_not_trusted_even_from_numpy(data):
    X, Y = data
    # np.save, as a function a transformer would call, is not trusted
    pipe = make_pipeline(
        FunctionTransformer(np.save), MultiTaskRegressor(**KW).fit(X, Y)
    )
    with pytest.raises(ModelFileError, match="numpy"):
        load(io.BytesIO(dumped(pipe)))


def test_objects_save_does_not_store_are_refused(source):
    with pytest.raises(TypeError, match="save stores"):
        save(FrozenEstimator(source), io.BytesIO())
    with pytest.raises(TypeError, match="save stores"):
        save(StandardScaler(), io.BytesIO())


def test_crafted_pipeline_files_raise_model_file_error(data, source):
    X, Y = data
    raw = dumped(make_pipeline(StandardScaler(), MultiTaskRegressor(**KW)).fit(X, Y))
    contents = members(raw)
    config = json.loads(contents["pipeline.json"])

    def with_config(**changes):
        return rezip({**contents, "pipeline.json": json.dumps({**config, **changes})})

    evil_skops = skops_io.dumps(make_pipeline(FunctionTransformer(eval)))
    bz2_skops = io.BytesIO()
    with zipfile.ZipFile(bz2_skops, "w", compression=zipfile.ZIP_BZIP2) as inner:
        for name, data_ in members(contents["pipeline.skops"]).items():
            inner.writestr(name, data_)
    cases = {
        "missing model": with_config(models=["models/m0/", "models/m1/"]),
        "escaping folder": with_config(models=["../"]),
        "model listed twice": with_config(models=["models/m0/", "models/m0/"]),
        "unused model": with_config(models=[]),
        "pickled part": rezip({**contents, "pipeline.skops": pickle.dumps(X)}),
        "eval in the part": rezip({**contents, "pipeline.skops": evil_skops}),
        "bzip2 inside": rezip({**contents, "pipeline.skops": bz2_skops.getvalue()}),
        "not a pipeline": rezip(
            {**contents, "pipeline.skops": skops_io.dumps(StandardScaler())}
        ),
        "newer format": with_config(format_version=99),
    }
    loaded = [case for case, content in cases.items() if _loads(content)]
    assert loaded == []


def _loads(content):
    try:
        load(io.BytesIO(content))
    except ModelFileError:
        return False
    return True
