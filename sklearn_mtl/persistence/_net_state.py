"""A fitted net's training state: what predicting and training on need.

Saved: the state dicts of the net's modules (and criteria) and optimisers,
which parameters are frozen, the state of the task weighting and the task
affinity recorder, the generator that shuffles the training rows, and the
history. Callback state is not: skorch resets it at the start of every
``partial_fit`` call.
"""

from itertools import chain

import torch
from sklearn.base import BaseEstimator
from skorch.history import History
from torch import nn

from ._decoding import ModuleState, OptimizerState, expect
from ._errors import ModelFileError

__all__ = ["capture_net_state", "check_attribute_name", "restore_net_state"]

# objects of the net, other than modules and optimisers, that learn state
STATEFUL_PARTS = ("task_weighting", "affinity_")
# optimisers whose per-parameter state is not shaped like the parameter
OPTIMIZERS_WITH_FACTORED_STATE = ("Adafactor", "LBFGS")


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
        part, state = getattr(net, name), decoder.decode(parts[name])
        restore_attributes(part, state, f"net.{name}", net.device)
    if saved.get("shuffle_generator") is not None:
        state = decoder.decode(saved["shuffle_generator"])
        if not (torch.is_tensor(state) and state.dtype == torch.uint8):
            raise ModelFileError("The shuffling generator state is not bytes.")
        try:
            net.shuffle_generator.set_state(state)
        except RuntimeError as exc:
            raise ModelFileError(f"Invalid shuffling generator state: {exc}") from exc
    history = expect(decoder.decode(saved.get("history")), list, "history")
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
    nor anything the class defines (methods, properties) are allowed.
    """
    if (
        not isinstance(name, str)
        or not name.isidentifier()
        or name.startswith("__")
        or name in reserved
        or hasattr(cls, name)
    ):
        raise ModelFileError(
            f"The file sets the attribute {name!r} of {where}, which a saved model "
            "may not set."
        )


def restore_attributes(obj, saved, where, device):
    """Set the learnt attributes ``saved`` on ``obj``.

    A tensor the rebuilt object already has is overwritten in place (so an
    optimiser or module that refers to it sees the loaded values); new
    tensors go to ``device``.
    """
    for name, value in expect(saved, dict, where).items():
        check_attribute_name(type(obj), name, _hyperparameters(obj), where)
        current = getattr(obj, name, None)
        setattr(obj, name, _restore_value(current, value, f"{where}.{name}", device))


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
        if tensor.shape != want.shape or tensor.dtype != want.dtype:
            raise ModelFileError(
                f"{where}.{name} has shape {tuple(tensor.shape)} and dtype "
                f"{tensor.dtype}, but the network needs {tuple(want.shape)} and "
                f"{want.dtype}; the file was altered or is damaged."
            )
    module.load_state_dict(saved)


def restore_optimizer(optimizer, saved, where):
    """Load ``saved`` (an :class:`OptimizerState`) into ``optimizer``."""
    if not isinstance(saved, OptimizerState):
        raise ModelFileError(f"{where}: expected the state of an optimizer.")
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
    indices = chain.from_iterable(g["params"] for g in groups)
    current_params = chain.from_iterable(c["params"] for c in current)
    params = dict(zip(indices, current_params, strict=True))
    check_shapes = type(optimizer).__name__ not in OPTIMIZERS_WITH_FACTORED_STATE
    for index, entry in saved.state:
        param = params.get(index)
        if param is None:
            raise ModelFileError(f"{where}: state for unknown parameter {index}.")
        for key, value in entry.items():
            if (
                check_shapes
                and torch.is_tensor(value)
                and value.dim() > 0
                and value.shape != param.shape
            ):
                raise ModelFileError(
                    f"{where}: state {key!r} of parameter {index} has shape "
                    f"{tuple(value.shape)}, the parameter {tuple(param.shape)}."
                )
    optimizer.load_state_dict({"state": dict(saved.state), "param_groups": groups})
