"""save/load: JSON config + safetensors weights, safe to load, resumable training."""

import io
import json
import pickle
import zipfile

import numpy as np
import pytest
import safetensors.torch
import torch
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator

import sklearn_mtl
from sklearn_mtl import (
    ModelFileError,
    MultiTaskRegressor,
    TransferEstimator,
    load,
    save,
    weighting,
)
from sklearn_mtl.datasets import make_multitask_regression
from sklearn_mtl.weighting import TaskWeighting

KW = dict(hidden_layer_sizes=(8,), max_epochs=3, random_state=0, device="cpu")
WEIGHTING_CLASSES = [
    cls
    for name in weighting.__all__
    if isinstance(cls := getattr(weighting, name), type)
    and issubclass(cls, TaskWeighting)
]
STRATEGIES = ["linear_probe", "fine_tune", "lp_ft", "gradual_unfreezing", "l2_sp"]


@pytest.fixture(scope="module")
def data():
    return make_multitask_regression(
        n_samples=80, n_features=5, n_tasks=3, missing_rate=0.3, random_state=0
    )


@pytest.fixture(scope="module")
def target(data):
    """Rows labelled for task 0, as a small single-task target."""
    X, Y = data
    rows = ~np.isnan(Y[:, 0])
    return X[rows][:40], Y[rows, 0][:40]


@pytest.fixture(scope="module")
def source(data):
    """A fitted source that tests must not refit."""
    return MultiTaskRegressor(**KW).fit(*data)


@pytest.fixture(scope="module")
def model_file(source, tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "model.mtl"
    save(source, path)
    return path


def round_trip(model, **load_kwargs):
    buffer = io.BytesIO()
    save(model, buffer)
    return load(io.BytesIO(buffer.getvalue()), **load_kwargs)


def members(path):
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def write_zip(path, contents):
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in contents.items():
            archive.writestr(name, data)
    return path


def edit_config(src, dst, edit, member="model.json"):
    contents = members(src)
    config = json.loads(contents[member])
    edit(config)
    contents[member] = json.dumps(config).encode()
    return write_zip(dst, contents)


def edit_weights(src, dst, edit, member="weights.safetensors"):
    contents = members(src)
    tensors = safetensors.torch.load(contents[member])
    edit(tensors)
    contents[member] = safetensors.torch.save(tensors)
    return write_zip(dst, contents)


def continue_both(a, b, X, y, how):
    for model in (a, b):
        if how == "partial_fit":
            model.partial_fit(X, y)
        else:
            model.set_params(warm_start=True).fit(X, y)


# ---- round trip ------------------------------------------------------------
def test_round_trip_predicts_bit_identically(data, model_file, source):
    X, Y = data
    loaded = load(model_file)
    assert type(loaded) is MultiTaskRegressor
    np.testing.assert_array_equal(loaded.predict(X), source.predict(X))
    assert loaded.get_params() == source.get_params()
    assert loaded.get_params()["hidden_layer_sizes"] == (8,)  # a tuple again
    assert loaded.n_features_in_ == 5 and loaded.n_tasks_ == 3
    np.testing.assert_array_equal(loaded.task_names_, source.task_names_)
    np.testing.assert_array_equal(loaded._target_mean, source._target_mean)
    np.testing.assert_array_equal(loaded._target_scale, source._target_scale)
    assert list(loaded.history_) == list(source.history_)
    assert loaded.n_iter_ == source.n_iter_ == 3
    assert loaded.score(X, Y) == source.score(X, Y)


def test_dataframes_and_1d_target_round_trip(data):
    pd = pytest.importorskip("pandas")
    X, Y = data
    X = pd.DataFrame(X, columns=[f"f{i}" for i in range(5)])
    y = pd.Series(np.nan_to_num(Y[:, 1]), name="yield")
    model = MultiTaskRegressor(**KW).fit(X, y)
    loaded = round_trip(model)
    pred = loaded.predict(X)
    assert pred.shape == (80,)
    np.testing.assert_array_equal(pred, model.predict(X))
    np.testing.assert_array_equal(loaded.feature_names_in_, model.feature_names_in_)
    assert list(loaded.task_names_) == ["yield"]
    with pytest.raises(ValueError, match="feature names"):
        loaded.predict(X.rename(columns={"f0": "other"}))


def test_save_to_a_path_is_deterministic_and_leaves_no_partial_file(source, tmp_path):
    first, second = tmp_path / "a.mtl", tmp_path / "b.mtl"
    save(source, first)
    save(source, str(second))
    assert first.read_bytes() == second.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.mtl", "b.mtl"]


def test_interrupted_save_keeps_the_previous_file(source, tmp_path, monkeypatch):
    path = tmp_path / "model.mtl"
    save(source, path)
    before = path.read_bytes()

    def fail(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(zipfile.ZipFile, "writestr", fail)
    with pytest.raises(KeyboardInterrupt):
        save(source, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.mtl"]


def test_load_leaves_torch_global_random_state_alone(model_file):
    state = torch.get_rng_state()
    load(model_file)
    assert torch.equal(torch.get_rng_state(), state)


# ---- training goes on ----------------------------------------------------------
@pytest.mark.parametrize("how", ["partial_fit", "warm_start"])
def test_loaded_model_continues_training_exactly_as_the_original(data, how):
    X, Y = data
    model = MultiTaskRegressor(**KW).fit(X, Y)
    loaded = round_trip(model)
    continue_both(model, loaded, X, Y, how)
    expected_epochs = 4 if how == "partial_fit" else 6
    assert loaded.n_iter_ == model.n_iter_ == expected_epochs
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    assert loaded.history_[:, "train_loss"] == model.history_[:, "train_loss"]


def test_optimizer_state_is_restored(data):
    X, Y = data
    model = MultiTaskRegressor(**KW).fit(X, Y)
    loaded = round_trip(model)
    saved, restored = (m.net_.optimizer_.state_dict() for m in (model, loaded))
    assert saved["param_groups"] == restored["param_groups"]
    for index, entry in saved["state"].items():
        for key, value in entry.items():
            assert torch.equal(restored["state"][index][key], value), key


@pytest.mark.parametrize("cls", WEIGHTING_CLASSES, ids=lambda cls: cls.__name__)
def test_every_weighting_of_the_package_round_trips(data, cls):
    X, Y = data
    strategy = cls([2.0, 1.0, 0.5]) if cls is weighting.FixedWeighting else cls()
    model = MultiTaskRegressor(task_weighting=strategy, **KW).fit(X, Y)
    loaded = round_trip(model)
    assert type(loaded.task_weighting) is cls
    assert loaded.task_weighting.get_params() == strategy.get_params()
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    continue_both(model, loaded, X, Y, "partial_fit")
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    assert loaded.history_[:, "task_weights"] == model.history_[:, "task_weights"]


@pytest.mark.parametrize(
    "params",
    [
        dict(task_weighting=[2.0, 1.0, 0.5], optimizer=torch.optim.SGD),
        dict(task_weighting=np.array([1.0, 1.0, 3.0]), optimizer="sgd"),
        dict(head_layer_sizes=[4], early_stopping=True, dropout=0.1, loss="huber"),
    ],
    ids=["list-weights-optimizer-class", "array-weights", "early-stopping"],
)
def test_hyperparameters_that_are_not_json_native(data, params):
    X, Y = data
    model = MultiTaskRegressor(**KW, **params).fit(X, Y)
    loaded = round_trip(model)
    for name, value in params.items():
        np.testing.assert_array_equal(loaded.get_params()[name], value)
        assert type(loaded.get_params()[name]) is type(value)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    continue_both(model, loaded, X, Y, "partial_fit")
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


@pytest.mark.skipif(
    "sharing" not in MultiTaskRegressor().get_params(),
    reason="MultiTaskRegressor has no sharing/task_affinity hyperparameters",
)
@pytest.mark.parametrize(
    "params",
    [
        dict(sharing="soft", sharing_alpha=0.1),
        dict(sharing="mmoe", n_experts=2),
        dict(task_affinity="gradient_cosine"),
    ],
)
def test_sharing_styles_and_task_affinity_round_trip(data, params):
    X, Y = data
    model = MultiTaskRegressor(**KW, **params).fit(X, Y)
    loaded = round_trip(model)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    if "task_affinity" in params:
        np.testing.assert_array_equal(loaded.task_affinity_, model.task_affinity_)
    continue_both(model, loaded, X, Y, "partial_fit")
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


# ---- transfer ------------------------------------------------------------------
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_transfer_round_trips_with_its_source_and_continues(source, target, strategy):
    X, y = target
    model = TransferEstimator(source=source, strategy=strategy, **KW).fit(X, y)
    buffer = io.BytesIO()
    save(model, buffer)
    names = zipfile.ZipFile(buffer).namelist()
    assert "source/model.json" in names and "source/weights.safetensors" in names
    loaded = load(io.BytesIO(buffer.getvalue()))
    assert loaded.strategy_ == model.strategy_ == strategy
    np.testing.assert_array_equal(loaded.probe_alphas_, model.probe_alphas_)
    np.testing.assert_array_equal(loaded.source.predict(X), source.predict(X))
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    continue_both(model, loaded, X, y, "partial_fit")
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_l2_sp_anchor_is_the_source_trunk_after_loading(source, target):
    model = TransferEstimator(source=source, strategy="l2_sp", **KW).fit(*target)
    loaded = round_trip(model)
    saved, restored = model.net_.penalty.reference, loaded.net_.penalty.reference
    assert sorted(saved) == sorted(restored) and saved
    for name, value in saved.items():
        assert torch.equal(restored[name], value), name


def test_frozen_trunk_stays_frozen_after_loading(source, target):
    # a hidden probe head trains by gradient while the trunk stays frozen
    model = TransferEstimator(
        source=source, strategy="linear_probe", head_layer_sizes=(4,), **KW
    ).fit(*target)
    loaded = round_trip(model)
    trunk = {k: v.clone() for k, v in loaded.net_.module_.trunk.state_dict().items()}
    assert not any(p.requires_grad for p in loaded.net_.module_.trunk.parameters())
    loaded.partial_fit(*target)
    for name, value in loaded.net_.module_.trunk.state_dict().items():
        assert torch.equal(value, trunk[name]), name


def test_nested_and_frozen_sources_and_no_source(source, target):
    X, y = target
    first = TransferEstimator(source=FrozenEstimator(source), strategy="lp_ft", **KW)
    first.fit(X, y)
    second = TransferEstimator(source=first, strategy="fine_tune", **KW).fit(X, y)
    scratch = TransferEstimator(source=None, **KW).fit(X, y)
    for model in (second, scratch):
        loaded = round_trip(model)
        np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    loaded = round_trip(second)
    assert isinstance(loaded.source.source, FrozenEstimator)
    np.testing.assert_array_equal(loaded.source.predict(X), first.predict(X))


# ---- what cannot be saved ------------------------------------------------------
def test_sources_that_cannot_be_rebuilt_are_refused(source, target):
    model = TransferEstimator(source=source.net_.module_.trunk, strategy="lp_ft", **KW)
    model.fit(*target)
    with pytest.raises(TypeError, match="source is a Sequential.*Use pickle"):
        save(model, io.BytesIO())
    model.set_params(source=source.net_)
    with pytest.raises(TypeError, match="source is a MultiTaskNet"):
        save(model, io.BytesIO())


def test_values_the_format_cannot_hold_are_refused(source, data):
    X, Y = data
    with pytest.raises(NotFittedError):
        save(MultiTaskRegressor(), io.BytesIO())
    with pytest.raises(TypeError, match="save stores"):
        save(FrozenEstimator(source), io.BytesIO())

    class MyAdam(torch.optim.Adam):
        pass

    model = MultiTaskRegressor(optimizer=MyAdam, **KW).fit(X, Y)
    with pytest.raises(TypeError, match="not a class of torch.optim"):
        save(model, io.BytesIO())
    model.set_params(optimizer="adam", random_state=np.random.RandomState(0))
    with pytest.raises(TypeError, match="random_state is a RandomState"):
        save(model, io.BytesIO())
    # a file whose hyperparameters do not build its network could not be loaded
    model.set_params(random_state=0, hidden_layer_sizes=(16,))
    with pytest.raises(ValueError, match="no longer describe the fitted network"):
        save(model, io.BytesIO())
    model.set_params(hidden_layer_sizes=(8,), lr=-1.0)
    with pytest.raises(ValueError, match="lr"):
        save(model, io.BytesIO())
    model.set_params(lr=1e-3)
    np.testing.assert_array_equal(round_trip(model).predict(X), model.predict(X))


class HalvingWeighting(TaskWeighting):
    """A user-defined strategy: every task weighs ``factor``."""

    def __init__(self, factor=0.5):
        self.factor = factor

    def initialize(self, n_tasks, device):
        super().initialize(n_tasks, device)
        self.weights_ = np.full(n_tasks, self.factor)
        self._weights_tensor = torch.full((n_tasks,), self.factor, device=device)
        return self


def test_custom_weighting_loads_only_when_trusted(data, tmp_path):
    X, Y = data
    model = MultiTaskRegressor(task_weighting=HalvingWeighting(0.25), **KW).fit(X, Y)
    path = tmp_path / "custom.mtl"
    save(model, path)
    stored = json.loads(members(path)["model.json"])["params"]["task_weighting"]
    assert stored["__weighting__"].endswith(".HalvingWeighting")
    with pytest.raises(ModelFileError, match=r"trusted=\[TheClass\]"):
        load(path)
    loaded = load(path, trusted_weightings=[HalvingWeighting])
    assert loaded.task_weighting.factor == 0.25
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    with pytest.raises(TypeError, match="TaskWeighting subclasses"):
        load(path, trusted_weightings=[dict])

    # saved from a script, loaded with the class imported from a module
    def from_script(config):
        config["params"]["task_weighting"]["__weighting__"] = (
            "__main__.HalvingWeighting"
        )

    script = edit_config(path, tmp_path / "script.mtl", from_script)
    with pytest.raises(ModelFileError, match=r"trusted=\[TheClass\]"):
        load(script)
    loaded = load(script, trusted_weightings=[HalvingWeighting])
    assert loaded.task_weighting.factor == 0.25
    # ``trusted`` takes task weightings too
    assert load(script, trusted=[HalvingWeighting]).task_weighting.factor == 0.25


# ---- damaged and malicious files -------------------------------------------
def damaged_copy(kind, path):
    """Bytes of the model file at ``path``, damaged in the way ``kind`` names."""
    valid, contents = path.read_bytes(), members(path)
    if kind == "text":
        return b"just some text"
    if kind == "cut-end":
        return valid[:-200]
    if kind == "truncated":
        return valid[: len(valid) // 2]
    buffer = io.BytesIO()
    if kind == "other-zip":
        contents = {"readme.txt": b"hi"}
    elif kind == "garbage-weights":
        contents["weights.safetensors"] = b"\x00" * 20
    elif kind == "flipped-header":
        weights = bytearray(contents["weights.safetensors"])
        weights[9] ^= 0xFF  # in the JSON header, after its 8-byte length
        contents["weights.safetensors"] = bytes(weights)
    elif kind == "bad-json":
        contents["model.json"] = b"{not json"
    write_zip(buffer, contents)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "kind, match",
    [
        ("text", "not a model file"),
        ("cut-end", "not a model file"),
        ("truncated", "truncated or damaged"),
        ("other-zip", "has no model.json"),
        ("garbage-weights", "not a valid safetensors"),
        ("flipped-header", "not a valid safetensors"),
        ("bad-json", "not valid JSON"),
    ],
)
def test_damaged_files_raise_model_file_error(model_file, tmp_path, kind, match):
    damaged = tmp_path / "damaged.mtl"
    damaged.write_bytes(damaged_copy(kind, model_file))
    with pytest.raises(ModelFileError, match=match):
        load(damaged)


def test_flipped_bytes_inside_the_archive_are_caught(model_file, tmp_path):
    data = bytearray(model_file.read_bytes())
    start = data.find(b"weights.safetensors") + 200  # inside the stored weights
    data[start] ^= 0xFF
    damaged = tmp_path / "flipped.mtl"
    damaged.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="damaged"):
        load(damaged)


def test_tampered_tensors_are_refused(model_file, tmp_path):
    def reshape(tensors):
        name = "net.module.trunk.0.weight"
        tensors[name] = torch.zeros(3, 3)

    def rename(tensors):
        tensors["net.module.trunk.0.renamed"] = tensors.pop("net.module.trunk.0.bias")

    def add(tensors):
        tensors["payload"] = torch.zeros(1)

    def wrong_state(tensors):
        name = "net.optimizer.state.0.exp_avg"
        tensors[name] = torch.zeros(2, 2)

    cases = [
        (reshape, "has shape"),
        (rename, "does not hold"),
        (add, "does not refer"),
        (wrong_state, "state 'exp_avg' of parameter 0"),
    ]
    for edit, match in cases:
        path = edit_weights(model_file, tmp_path / f"{edit.__name__}.mtl", edit)
        with pytest.raises(ModelFileError, match=match):
            load(path)


def test_crafted_configs_are_refused(model_file, tmp_path):
    def set_in(keys, value):
        def edit(config):
            node = config
            for key in keys[:-1]:
                node = node[key]
            node[keys[-1]] = value

        return edit

    cases = [
        (set_in(["class"], "os.system"), "names the model class 'os.system'"),
        (
            set_in(["params", "task_weighting"], {"__weighting__": "builtins.eval"}),
            "task weighting 'builtins.eval'",
        ),
        (
            set_in(["params", "optimizer"], {"__optimizer_class__": "os.system"}),
            "not a class of torch.optim",
        ),
        (set_in(["params", "lr"], {"__reduce__": ["os.system", "ls"]}), "Unknown tag"),
        (set_in(["params", "lr"], -1.0), "lr"),
        (set_in(["params", "lr"], json.loads("[" * 600 + "]" * 600)), "recursion"),
        (set_in(["params", "evil"], 1), "upgrade sklearn-mtl"),
        (set_in(["fitted", "predict"], 1), "attribute 'predict'"),
        (set_in(["fitted", "n_tasks_"], 2), "_target_mean must be an array"),
        (set_in(["format_version"], 99), "newer sklearn-mtl.*Upgrade"),
        (set_in(["format"], "something-else"), "not a model file"),
        (set_in(["net", "history"], {"__tensor__": "nope"}), "does not hold"),
        (set_in(["net", "batch_size"], "all"), "batch_size"),
        (set_in(["net", "device"], "quantum"), "Invalid device"),
    ]
    for i, (edit, match) in enumerate(cases):
        path = edit_config(model_file, tmp_path / f"case{i}.mtl", edit)
        with pytest.raises(ModelFileError, match=match):
            load(path)


def test_nested_folders_are_checked(source, target, tmp_path):
    model = TransferEstimator(source=source, strategy="fine_tune", **KW).fit(*target)
    path = tmp_path / "transfer.mtl"
    save(model, path)

    def escape(config):
        config["params"]["source"] = {"__model__": "../"}

    bad = edit_config(path, tmp_path / "bad.mtl", escape)
    with pytest.raises(ModelFileError, match="nested model folder"):
        load(bad)
    newer = edit_config(
        path,
        tmp_path / "newer.mtl",
        lambda config: config.update(format_version=2),
        member="source/model.json",
    )
    with pytest.raises(ModelFileError, match="newer"):
        load(newer)


def test_compressed_weights_are_refused(model_file, tmp_path):
    path = tmp_path / "deflated.mtl"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members(model_file).items():
            archive.writestr(name, data)
    with pytest.raises(ModelFileError, match="compressed"):
        load(path)


class MarkerPayload:
    """Unpickling this creates the file ``marker``."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_loading_never_unpickles(model_file, source, data, tmp_path, monkeypatch):
    # the payload is live: unpickling it does create its marker
    live = tmp_path / "live"
    pickle.loads(pickle.dumps(MarkerPayload(live))).close()
    assert live.exists()

    marker = tmp_path / "marker"
    payload = pickle.dumps(MarkerPayload(marker))
    torch_payload = io.BytesIO()
    torch.save({"weight": MarkerPayload(marker)}, torch_payload)
    valid = model_file.read_bytes()
    crafted = {
        "pickle": payload,
        "pickle-weights": write_zip(
            tmp_path / "a.mtl", {**members(model_file), "weights.safetensors": payload}
        ).read_bytes(),
        "torch-weights": write_zip(
            tmp_path / "b.mtl",
            {**members(model_file), "weights.safetensors": torch_payload.getvalue()},
        ).read_bytes(),
        "pickle-config": write_zip(
            tmp_path / "c.mtl", {**members(model_file), "model.json": payload}
        ).read_bytes(),
    }
    for name, content in crafted.items():
        with pytest.raises(ModelFileError):
            load(io.BytesIO(content))
        assert not marker.exists(), name

    # a pickle with a valid model appended is a valid zip: it loads, unexecuted
    loaded = load(io.BytesIO(payload + valid))
    assert not marker.exists()
    np.testing.assert_array_equal(loaded.predict(data[0]), source.predict(data[0]))

    def refuse(*args, **kwargs):
        raise AssertionError("load unpickled something")

    for module, name in [
        (pickle, "load"),
        (pickle, "loads"),
        (pickle, "Unpickler"),
        (torch, "load"),
    ]:
        monkeypatch.setattr(module, name, refuse)
    np.testing.assert_array_equal(
        load(model_file).predict(data[0]), source.predict(data[0])
    )


def test_public_names():
    assert sklearn_mtl.save is save and sklearn_mtl.load is load
    assert issubclass(ModelFileError, ValueError)
