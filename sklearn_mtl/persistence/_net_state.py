"""A fitted net's training state: what predicting and training on need.

Saved: the state dicts of the net's modules (and criteria) and optimisers,
which parameters are frozen, the state of the task weighting and the task
affinity recorder, the generator that shuffles the training rows, and the
history. Callback state is not: skorch resets it at the start of every
``partial_fit`` call.
"""

import math
from itertools import chain

import numpy as np
import torch
from sklearn.base import BaseEstimator
from skorch.history import History
from torch import nn

from ._allowlist import OPTIMIZER_STATE_KEYS
from ._decoding import ModuleState, OptimizerState, expect
from ._errors import ModelFileError

__all__ = ["capture_net_state", "check_attribute_name", "restore_net_state"]

# largest weight magnitude a saved network may hold (trained networks stay
# many orders of magnitude below; float32 predictions stay finite)
MAX_ABS_WEIGHT = 1e15
# objects of the net, other than modules and optimisers, that learn state
STATEFUL_PARTS = ("task_weighting", "affinity_")


def _hyperparameters(obj):
    return set(obj.get_params(deep=False)) if isinstance(obj, BaseEstimator) else set()


def _learnt_state(obj):
    params = _hyperparameters(obj)
    return {k: v for k, v in vars(obj).items() if k not in params}


def capture_net_state(net, encoder):
    """Return the JSON-native state of a fitted net; its tensors go to ``encoder``."""
    modules = [*net._modules, *net._criteria]
    parts = {
        name: part
        for name in STATEFUL_PARTS
        if (part := getattr(net, name, None)) is not None
    }
    generator = net.shuffle_generator
    return {
        "device": str(net.device),
        "batch_size": int(net.batch_size),
        "modules": {
            name: encoder.encode_state(getattr(net, f"{name}_"), f"net.{name}")
            for name in modules
        },
        "frozen": {
            name: [
                param_name
                for param_name, param in getattr(net, f"{name}_").named_parameters()
                if not param.requires_grad
            ]
            for name in net._modules
        },
        "optimizers": {
            name: encoder.encode_state(getattr(net, f"{name}_"), f"net.{name}")
            for name in net._optimizers
        },
        "parts": {
            name: encoder.encode_state(_learnt_state(part), f"net.{name}")
            for name, part in parts.items()
        },
        "shuffle_generator": None
        if generator is None
        else encoder.encode(generator.get_state(), "net.shuffle_generator"),
        "history": encoder.encode(list(net.history), "history"),
    }


def restore_net_state(net, saved, decoder):
    """Load ``saved`` (from :func:`capture_net_state`) into an initialised net."""
    saved = expect(saved, dict, "net")
    for group, names in (
        ("modules", [*net._modules, *net._criteria]),
        ("optimizers", net._optimizers),
    ):
        entries = _same_names(saved.get(group), names, group)
        for name in names:
            state = decoder.decode(entries[name])
            restore = restore_module if group == "modules" else restore_optimizer
            restore(getattr(net, f"{name}_"), state, f"net.{name}")
    for name, frozen in expect(saved.get("frozen", {}), dict, "frozen").items():
        if name not in net._modules:
            raise ModelFileError(f"Frozen parameters of an unknown module {name!r}.")
        params = dict(getattr(net, f"{name}_").named_parameters())
        unknown = set(expect(frozen, list, "frozen")) - set(params)
        if unknown:
            raise ModelFileError(f"Unknown frozen parameters {sorted(unknown)[:5]}.")
        for param_name, param in params.items():
            param.requires_grad_(param_name not in frozen)
    present = [name for name in STATEFUL_PARTS if getattr(net, name, None) is not None]
    parts = _same_names(saved.get("parts"), present, "parts")
    for name in present:
        # NaN marks what a part has not observed yet (a task's first loss)
        part, state = getattr(net, name), decoder.decode_with(parts[name], "nan")
        restore_attributes(part, state, f"net.{name}", net.device)
    if saved.get("shuffle_generator") is not None:
        state = decoder.decode(saved["shuffle_generator"])
        if not (torch.is_tensor(state) and state.dtype == torch.uint8):
            raise ModelFileError("The shuffling generator state is not bytes.")
        try:
            net.shuffle_generator.set_state(state)
        except RuntimeError as exc:
            raise ModelFileError(f"Invalid shuffling generator state: {exc}") from exc
    history = decoder.decode_with(saved.get("history"), "allow")
    history = expect(history, list, "history")
    if not all(isinstance(row, dict) for row in history):
        raise ModelFileError("The history must be a list of dicts, one per epoch.")
    net.history = History(history)


def _same_names(entries, names, group):
    entries = expect(entries, dict, group)
    if set(entries) != set(names):
        raise ModelFileError(
            f"The file holds the net {group} {sorted(entries)}, but the model its "
            f"hyperparameters build has {sorted(names)}."
        )
    return entries


def check_attribute_name(cls, name, reserved, where):
    """Raise unless a file may set attribute ``name`` on an instance of ``cls``.

    Only plain identifiers that are neither in ``reserved`` (hyperparameters)
    nor anything the class defines (methods, properties; a class-level
    default such as ``_cache = None`` may be overridden) are allowed.
    """
    if (
        not isinstance(name, str)
        or not name.isidentifier()
        or name.startswith("__")
        or name in reserved
        or not _plain_class_value(getattr(cls, name, None))
    ):
        raise ModelFileError(
            f"The file sets the attribute {name!r} of {where}, which a saved model "
            "may not set."
        )


def _plain_class_value(value):
    """Whether a class attribute is a default value, not a method or property."""
    return value is None or type(value) in (bool, int, float, str)


def restore_attributes(obj, saved, where, device):
    """Set the learnt attributes ``saved`` on ``obj``.

    A tensor the rebuilt object already has is overwritten in place (so an
    optimiser or module that refers to it sees the loaded values); new
    tensors go to ``device``.
    """
    for name, value in expect(saved, dict, where).items():
        check_attribute_name(type(obj), name, _hyperparameters(obj), where)
        current = getattr(obj, name, None)
        _check_nan(current, value, f"{where}.{name}")
        setattr(obj, name, _restore_value(current, value, f"{where}.{name}", device))


def _has_nan(value):
    if torch.is_tensor(value):
        return value.is_floating_point() and bool(value.isnan().any())
    if isinstance(value, np.ndarray):
        return value.dtype.kind == "f" and bool(np.isnan(value).any())
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, (list, tuple)):
        return any(_has_nan(v) for v in value)
    if isinstance(value, dict):
        return any(_has_nan(v) for v in value.values())
    return False


def _check_nan(current, value, where):
    """Allow NaN in ``value`` only where the freshly built object starts with NaN."""
    if _has_nan(value) and not _has_nan(current):
        raise ModelFileError(
            f"{where} holds NaN values; the model the file describes starts with "
            "finite ones there and training keeps them finite."
        )


def _restore_value(current, value, where, device):
    if isinstance(value, OptimizerState):
        if not isinstance(current, torch.optim.Optimizer):
            raise ModelFileError(f"{where}: the rebuilt model has no optimizer here.")
        restore_optimizer(current, value, where)
        return current
    if isinstance(value, ModuleState):
        if not isinstance(current, nn.Module):
            raise ModelFileError(f"{where}: the rebuilt model has no module here.")
        restore_module(current, value, where)
        return current
    if torch.is_tensor(value) and torch.is_tensor(current):
        if value.shape != current.shape or value.dtype != current.dtype:
            raise ModelFileError(
                f"{where} has shape {tuple(value.shape)} and dtype {value.dtype}; "
                f"the rebuilt model's has {tuple(current.shape)} and {current.dtype}."
            )
        with torch.no_grad():
            current.copy_(value)  # in place: whatever refers to it sees the state
        return current
    return _to_device(value, device)


def _to_device(value, device):
    if torch.is_tensor(value):
        return value.to(device)
    if isinstance(value, (list, tuple)):
        return type(value)(_to_device(v, device) for v in value)
    if isinstance(value, dict):
        return {k: _to_device(v, device) for k, v in value.items()}
    return value


def restore_module(module, saved, where):
    """Load ``saved`` (a :class:`ModuleState`) into ``module``, checking it first."""
    if not isinstance(saved, ModuleState):
        raise ModelFileError(f"{where}: expected the state of a module.")
    expected = module.state_dict()
    missing, extra = set(expected) - set(saved), set(saved) - set(expected)
    if missing or extra:
        raise ModelFileError(
            f"{where}: the saved tensors do not match the network the "
            f"hyperparameters build (missing {sorted(missing)[:5]}, unexpected "
            f"{sorted(extra)[:5]})."
        )
    for name, tensor in saved.items():
        if not torch.is_tensor(tensor):
            raise ModelFileError(f"{where}.{name} is not a tensor.")
        want = expected[name]
        if (
            tensor.is_floating_point()
            and tensor.numel()
            and (tensor.abs().max() > MAX_ABS_WEIGHT)
        ):
            raise ModelFileError(
                f"{where}.{name} holds values beyond {MAX_ABS_WEIGHT:g} in "
                "magnitude; training does not produce such weights. The file was "
                "altered or is damaged."
            )
        if tensor.shape != want.shape or tensor.dtype != want.dtype:
            raise ModelFileError(
                f"{where}.{name} has shape {tuple(tensor.shape)} and dtype "
                f"{tensor.dtype}, but the network needs {tuple(want.shape)} and "
                f"{want.dtype}; the file was altered or is damaged."
            )
    module.load_state_dict(saved)


def restore_optimizer(optimizer, saved, where):
    """Load ``saved`` (an :class:`OptimizerState`) into ``optimizer``, checked.

    ``optimizer`` is one the package builds (see ``OPTIMIZER_STATE_KEYS``).
    The saved parameter groups must have its groups' keys; their flags must
    equal its flags and their numbers be finite and in range. The saved
    per-parameter state may hold only the entries the optimizer keeps, shaped
    like the parameter (``step``: a scalar), finite.
    """
    if not isinstance(saved, OptimizerState):
        raise ModelFileError(f"{where}: expected the state of an optimizer.")
    allowed = OPTIMIZER_STATE_KEYS.get(type(optimizer).__name__)
    if allowed is None:
        raise ModelFileError(
            f"{where}: the model builds a {type(optimizer).__name__} optimizer, "
            f"whose state load does not restore ({sorted(OPTIMIZER_STATE_KEYS)})."
        )
    current = optimizer.param_groups
    groups = saved.param_groups
    if len(groups) != len(current) or any(
        not isinstance(g, dict)
        or not isinstance(g.get("params"), list)
        or len(g["params"]) != len(c["params"])
        for g, c in zip(groups, current, strict=False)
    ):
        raise ModelFileError(
            f"{where}: the saved parameter groups do not match the optimizer's."
        )
    for group, built in zip(groups, current, strict=True):
        _check_param_group(group, built, where)
    indices = list(chain.from_iterable(g["params"] for g in groups))
    if len(set(indices)) != len(indices) or not all(type(i) is int for i in indices):
        raise ModelFileError(f"{where}: the parameter indices are not distinct ints.")
    current_params = chain.from_iterable(c["params"] for c in current)
    params = dict(zip(indices, current_params, strict=True))
    seen = set()
    for index, entry in saved.state:
        param = params.get(index)
        if param is None or index in seen:
            raise ModelFileError(f"{where}: state for unknown parameter {index}.")
        seen.add(index)
        for key, value in entry.items():
            _check_state_entry(
                key,
                value,
                param,
                allowed,
                f"{where}: state {key!r} of parameter {index}",
            )
    optimizer.load_state_dict({"state": dict(saved.state), "param_groups": groups})


# numbers of a param group, and the largest value each may take
BOUNDED_GROUP_NUMBERS = {"betas": 1.0, "momentum": 1.0, "dampening": 1.0}


# keys a learning-rate scheduler (a callback of the saved model's training)
# adds to a param group: a positive learning rate, kept as saved
SCHEDULER_GROUP_KEYS = {"initial_lr"}


def _check_param_group(group, built, where):
    extra = set(group) - set(built)
    if set(built) - set(group) or extra - SCHEDULER_GROUP_KEYS:
        raise ModelFileError(
            f"{where}: a saved parameter group has the keys {sorted(group)}; the "
            f"optimizer's have {sorted(built)}."
        )
    for key, value in group.items():
        if key in extra:
            if not (type(value) is float and math.isfinite(value) and 0 < value < 1e30):
                raise ModelFileError(
                    f"{where}: the parameter group sets {key}={value!r}, not a "
                    "positive learning rate."
                )
            continue
        want = built[key]
        if key == "params":
            continue
        if want is None or isinstance(want, (bool, str)):
            if type(value) is not type(want) or value != want:
                raise ModelFileError(
                    f"{where}: the parameter group sets {key}={value!r}; the "
                    f"optimizer the model builds has {key}={want!r}."
                )
            continue
        numbers = value if isinstance(value, tuple) else (value,)
        shape_ok = isinstance(value, tuple) == isinstance(want, tuple) and (
            not isinstance(want, tuple) or len(value) == len(want)
        )
        top = BOUNDED_GROUP_NUMBERS.get(key, math.inf)
        if not shape_ok or not all(
            isinstance(v, (int, float))
            and not isinstance(v, bool)
            and math.isfinite(v)
            and 0 <= v <= top
            and (key != "lr" or v > 0)
            for v in numbers
        ):
            raise ModelFileError(
                f"{where}: the parameter group sets {key}={value!r}, out of range."
            )


def _check_state_entry(key, value, param, allowed, where):
    if key not in allowed:
        raise ModelFileError(
            f"{where}: the optimizer keeps no such state (it keeps {sorted(allowed)})."
        )
    if value is None and key == "momentum_buffer":
        return
    if not torch.is_tensor(value) or not value.is_floating_point():
        raise ModelFileError(f"{where} is not a float tensor.")
    if key == "step":
        if value.dim() != 0 or not (value >= 0):
            raise ModelFileError(f"{where} must be a non-negative scalar.")
        return
    if value.shape != param.shape or value.dtype != param.dtype:
        raise ModelFileError(
            f"{where} has shape {tuple(value.shape)} and dtype {value.dtype}, the "
            f"parameter {tuple(param.shape)} and {param.dtype}."
        )
