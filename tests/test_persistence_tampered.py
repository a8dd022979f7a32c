"""Tampered contents of well-formed model files: each raises ModelFileError.

The network a config describes, fitted values, optimizer state and tensors
altered in valid files, loaded in a child process as in
``test_persistence_hostile.py`` (quickly, in bounded memory); then fuzzed
files, which must raise ModelFileError or load into a model predicting
finite values.
"""

import io
import json
import struct
import warnings

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_persistence_hostile import (
    BUILDERS as ARCHIVE_BUILDERS,
)
from test_persistence_hostile import (
    CONFIG,
    KW,
    WEIGHTS,
    build_files,
    check_refused_in_bounded_memory,
    deleter,
    edit_config,
    edit_weights,
    group,
    members,
    setter,
    write_zip,
)

from sklearn_mtl import ModelFileError, MultiTaskRegressor, load
from sklearn_mtl import save as save_model
from sklearn_mtl.datasets import make_multitask_regression

BUILDERS = {}


def hostile(name):
    """Register ``build(files) -> bytes`` as the tampered file ``name``."""

    def register(build):
        BUILDERS[name] = build
        return build

    return register


@pytest.fixture(scope="module")
def files():
    return build_files()


# ---- the network the config describes ---------------------------------------
@hostile("hidden-20000x20000")
def _(files):
    edit = setter(["params", "hidden_layer_sizes"], {"__tuple__": [20000, 20000]})
    return edit_config(files["mtr"], edit)


@hostile("hidden-1e9")
def _(files):
    edit = setter(["params", "hidden_layer_sizes"], {"__tuple__": [10**9]})
    return edit_config(files["mtr"], edit)


@hostile("mmoe-million-experts")
def _(files):
    def edit(config):
        config["params"].update(sharing="mmoe", n_experts=10**6)

    return edit_config(files["mtr"], edit)


@hostile("n-features-1e9")
def _(files):
    return edit_config(files["mtr"], setter(["fitted", "n_features_in_"], 10**9))


@hostile("many-hidden-layers")
def _(files):
    edit = setter(["params", "hidden_layer_sizes"], {"__tuple__": [1] * 20000})
    return edit_config(files["mtr"], edit)


# ---- errors other than ModelFileError, before ----------------------------------
@hostile("transfer-without-strategy")
def _(files):
    return edit_config(files["transfer"], deleter(["fitted", "_strategy"]))


@hostile("transfer-unknown-strategy")
def _(files):
    return edit_config(files["transfer"], setter(["fitted", "_strategy"], "bogus"))


@hostile("transfer-inconsistent-strategy")
def _(files):
    return edit_config(files["transfer"], setter(["fitted", "strategy_"], "l2_sp"))


# ---- well-formed, tampered values -------------------------------------------
def _poison(name, value):
    def edit(tensors):
        tensors[name] = tensors[name].clone()
        tensors[name].view(-1)[0] = value

    return edit


@hostile("nan-weight")
def _(files):
    return edit_weights(files["mtr"], _poison("net.module.trunk.0.weight", np.nan))


@hostile("inf-weight")
def _(files):
    return edit_weights(files["mtr"], _poison("net.module.heads.output.bias", np.inf))


@hostile("nan-target-scale")
def _(files):
    return edit_weights(files["mtr"], _poison("fitted._target_scale", np.nan))


@hostile("inf-target-mean")
def _(files):
    return edit_weights(files["mtr"], _poison("fitted._target_mean", -np.inf))


@hostile("negative-target-scale")
def _(files):
    return edit_weights(files["mtr"], _poison("fitted._target_scale", -1.0))


@hostile("nan-optimizer-state")
def _(files):
    return edit_weights(files["mtr"], _poison("net.optimizer.state.0.exp_avg", np.nan))


@hostile("negative-optimizer-step")
def _(files):
    return edit_weights(files["mtr"], _poison("net.optimizer.state.0.step", -5.0))


@hostile("lr-nan-tag")
def _(files):
    return edit_config(files["mtr"], lambda c: group(c).update(lr={"__float__": "nan"}))


@hostile("lr-zero-in-group")
def _(files):
    return edit_config(files["mtr"], lambda c: group(c).update(lr=0))


@hostile("alpha-nan-tag")
def _(files):
    return edit_config(files["mtr"], setter(["params", "alpha"], {"__float__": "nan"}))


@hostile("sharing-alpha-inf-tag")
def _(files):
    edit = setter(["params", "sharing_alpha"], {"__float__": "inf"})
    return edit_config(files["mtr"], edit)


@hostile("optimizer-lbfgs")
def _(files):
    edit = setter(["params", "optimizer"], {"__optimizer_class__": "LBFGS"})
    return edit_config(files["mtr"], edit)


@hostile("optimizer-adafactor")
def _(files):
    edit = setter(["params", "optimizer"], {"__optimizer_class__": "Adafactor"})
    return edit_config(files["mtr"], edit)


@hostile("group-fused")
def _(files):
    return edit_config(files["mtr"], lambda c: group(c).update(fused=True))


@hostile("group-differentiable")
def _(files):
    return edit_config(files["mtr"], lambda c: group(c).update(differentiable=True))


@hostile("group-extra-key")
def _(files):
    return edit_config(files["mtr"], lambda c: group(c).update(evil=1))


@hostile("group-beta-above-one")
def _(files):
    return edit_config(
        files["mtr"], lambda c: group(c).update(betas={"__tuple__": [0.9, 2.0]})
    )


@hostile("optimizer-state-foreign-key")
def _(files):
    def edit(config):
        state = config["net"]["optimizers"]["optimizer"]["__optimizer_state__"]
        entry = state["state"][0][1]
        entry["momentum_buffer"] = entry.pop("exp_avg")

    return edit_config(files["mtr"], edit)


@hostile("tensor-referred-twice")
def _(files):
    def edit(config):
        state = config["net"]["optimizers"]["optimizer"]["__optimizer_state__"]
        entry = state["state"][0][1]
        entry["exp_avg_sq"] = entry["exp_avg"]

    return edit_config(files["mtr"], edit)


# ---- the tests -----------------------------------------------------------------
def test_tampered_files_are_refused_quickly_in_bounded_memory(files, tmp_path):
    check_refused_in_bounded_memory(BUILDERS, files, tmp_path)


def test_a_tampered_optimizer_cannot_poison_later_training(files):
    X, Y = make_multitask_regression(
        n_samples=60, n_features=4, n_tasks=2, random_state=0
    )
    loaded = load(io.BytesIO(files["mtr"]))
    loaded.partial_fit(X, Y)
    assert np.all(np.isfinite(loaded.predict(X)))
    builders = {**ARCHIVE_BUILDERS, **BUILDERS}
    for name in ("lr-nan-tag", "json-nan-literal", "group-fused", "optimizer-lbfgs"):
        with pytest.raises(ModelFileError):
            load(io.BytesIO(builders[name](files)))


def test_nan_initial_state_of_a_weighting_still_loads(files):
    X, Y = make_multitask_regression(
        n_samples=60, n_features=4, n_tasks=2, random_state=0
    )
    model = MultiTaskRegressor(task_weighting="gradnorm", **KW).fit(X, Y)
    buffer = io.BytesIO()
    save_model(model, buffer)
    loaded = load(io.BytesIO(buffer.getvalue()))
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))

    def poison(tensors):  # NaN where the weighting starts finite
        name = next(k for k in tensors if k.startswith("net.task_weighting._exp_avg"))
        tensors[name] = torch.full_like(tensors[name], float("nan"))

    with pytest.raises(ModelFileError, match="NaN"):
        load(io.BytesIO(edit_weights(buffer.getvalue(), poison)))


# ---- fuzzing -------------------------------------------------------------------
FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats()
    | st.text(max_size=6)
    | st.sampled_from(
        [
            {"__float__": "nan"},
            {"__tuple__": [3, 4]},
            {"__model__": "source/"},
            {"__tensor__": "fitted._target_mean"},
            {"__ndarray__": "net.module.trunk.0.weight"},
            {"__optimizer_class__": "SGD"},
            {"__weighting__": "UncertaintyWeighting"},
            {"__strings__": ["a", "b"]},
        ]
    ),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=5,
)


def json_paths(node, path=()):
    """Every path (keys and indices) into a parsed JSON document."""
    yield path
    if isinstance(node, (dict, list)):
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, value in items:
            yield from json_paths(value, (*path, key))


def flip_bytes(raw, flips):
    data = bytearray(raw)
    for position, mask in flips:
        data[position % len(data)] ^= mask
    return bytes(data)


def edit_json(raw, member_index, path_index, value, delete):
    contents = members(raw)
    configs = sorted(name for name in contents if name.endswith(CONFIG))
    member = configs[member_index % len(configs)]
    config = json.loads(contents[member])
    paths = list(json_paths(config))[1:]
    path = paths[path_index % len(paths)]
    node = config
    for key in path[:-1]:
        node = node[key]
    if delete and isinstance(node, dict):
        del node[path[-1]]
    else:
        node[path[-1]] = value
    contents[member] = json.dumps(config).encode()
    return write_zip(contents.items())


def edit_header(raw, member_index, entry_index, field, value):
    contents = members(raw)
    weights = sorted(name for name in contents if name.endswith(WEIGHTS))
    member = weights[member_index % len(weights)]
    data = contents[member]
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + length])
    names = sorted(k for k in header if k != "__metadata__")
    name = names[entry_index % len(names)]
    if field == "drop":
        del header[name]
    elif field == "rename":
        header[name + "x"] = header.pop(name)
    elif field == "data":  # a byte of the tensor data, the archive's CRC still right
        start = 8 + length + header[name]["data_offsets"][0]
        stop = 8 + length + header[name]["data_offsets"][1]
        body = bytearray(data)
        if stop > start:
            body[start + value[0] % (stop - start)] ^= value[1] or 1
        contents[member] = bytes(body)
        return write_zip(contents.items())
    else:
        header[name][field] = value
    text = json.dumps(header).encode()
    contents[member] = struct.pack("<Q", len(text)) + text + data[8 + length :]
    return write_zip(contents.items())


HEADER_VALUES = {
    "shape": st.lists(st.integers(0, 40), max_size=3),
    "dtype": st.sampled_from(["F32", "F64", "F16", "I64", "U8", "BOOL", "X9"]),
    "data_offsets": st.lists(st.integers(0, 5000), min_size=2, max_size=2),
    "drop": st.none(),
    "rename": st.none(),
    "data": st.tuples(st.integers(0, 2**16), st.integers(0, 255)),
}
EDITS = st.one_of(
    st.builds(
        lambda flips: ("flip", flips),
        st.lists(
            st.tuples(st.integers(0, 2**31), st.integers(1, 255)),
            min_size=1,
            max_size=3,
        ),
    ),
    st.builds(
        lambda m, p, v, d: ("json", (m, p, v, d)),
        st.integers(0, 3),
        st.integers(0, 2**20),
        JSON_VALUES,
        st.booleans(),
    ),
    st.sampled_from(sorted(HEADER_VALUES)).flatmap(
        lambda field: st.builds(
            lambda m, e, v: ("header", (m, e, field, v)),
            st.integers(0, 3),
            st.integers(0, 2**10),
            HEADER_VALUES[field],
        )
    ),
)


@FUZZ
@given(kind=st.sampled_from(["mtr", "transfer"]), edit=EDITS)
def test_fuzzed_files_raise_model_file_error_or_predict_finite_values(kind, edit):
    raw = build_files()[kind]
    X, _ = make_multitask_regression(
        n_samples=20, n_features=4, n_tasks=2, random_state=1
    )
    how, args = edit
    if how == "flip":
        damaged = flip_bytes(raw, args)
    elif how == "json":
        damaged = edit_json(raw, *args)
    else:
        damaged = edit_header(raw, *args)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = load(io.BytesIO(damaged))
    except ModelFileError:
        return
    assert np.all(np.isfinite(model.predict(X)))
