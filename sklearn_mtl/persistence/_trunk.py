"""A custom trunk in a model file: its class path, arguments and weights.

A trunk class is stored as ``{"__trunk_class__": "module.ClassName"}`` and a
trunk instance as ``{"__trunk_instance__": "module.ClassName"}`` (rebuilt by
calling the class with no arguments); the ``trunk__*`` arguments are stored
as hyperparameters, the trained weights with the rest of the network. On
load the class comes only from the caller's ``trusted`` list: nothing is
imported by name.
"""

import inspect
import math

import torch
from torch import nn

from ._allowlist import lookup_class, qualified_name
from ._errors import ModelFileError

__all__ = [
    "check_trunk_savable",
    "decode_trunk",
    "encode_trunk",
    "materialize_trunk",
]

PREFIX = "trunk__"


def encode_trunk(value, key):
    """Return the JSON form of a trunk class or instance, or None for other values."""
    if isinstance(value, type) and issubclass(value, nn.Module):
        return {"__trunk_class__": qualified_name(value)}
    if isinstance(value, nn.Module):
        cls = type(value)
        try:
            inspect.signature(cls).bind()
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"Cannot save {key}: the trunk is an instance of {cls.__name__}, "
                "which the file stores as its class, rebuilt with no arguments; "
                f"{cls.__name__} cannot be built without arguments ({exc}). Pass "
                f"the class with its arguments instead: trunk={cls.__name__}, "
                "trunk__<name>=value."
            ) from exc
        return {"__trunk_instance__": qualified_name(cls)}
    return None


def decode_trunk(value, trunks):
    """Return the trusted trunk class, or an instance of it on the meta device.

    An instance is built on PyTorch's ``meta`` device (no memory) with no
    arguments; :func:`materialize_trunk` builds it for real once the network
    is checked against the weights.
    """
    instance = "__trunk_instance__" in value
    name = value["__trunk_instance__" if instance else "__trunk_class__"]
    cls = lookup_class(trunks, name)
    if cls is None:
        raise ModelFileError(
            f"The model file names the trunk class {name!r}, which is not trusted. "
            "load never imports a module by name: if you trust this file and "
            "that class, pass it as sklearn_mtl.load(..., trusted=[TheClass])."
        )
    if not instance:
        return cls
    with torch.random.fork_rng(devices=[]), torch.device("meta"):
        try:
            return cls()
        except TypeError as exc:
            raise ModelFileError(
                f"The trunk class {name!r} cannot be built without arguments: {exc}"
            ) from exc


def materialize_trunk(estimator):
    """Replace a trunk instance built on the meta device by a real one."""
    trunk = getattr(estimator, "trunk", None)
    if isinstance(trunk, nn.Module) and any(
        t.is_meta for t in (*trunk.parameters(), *trunk.buffers())
    ):
        with torch.random.fork_rng(devices=[]):
            estimator.trunk = type(trunk)()


def check_trunk_savable(params):
    """Raise a TypeError unless the ``trunk__*`` arguments and callbacks can be saved.

    Parameters
    ----------
    params : dict
        ``get_params(deep=False)`` of the estimator.
    """
    for key, value in params.items():
        if key.startswith(PREFIX) and not _json_native(value):
            raise TypeError(
                f"Cannot save {key}={value!r}: the file stores the trunk's "
                "arguments as JSON, so they must be None, bool, int, finite float, "
                "str, or lists, tuples and str-keyed dicts of those. Give the "
                "trunk plain arguments (build tensors or modules inside it)."
            )
    if params.get("callbacks"):
        raise TypeError(
            "Cannot save a model with callbacks: callbacks are training-time "
            "objects, which a safe file cannot store. Call "
            "model.set_params(callbacks=None) before saving (and set them again "
            "to train the loaded model with them)."
        )


def _json_native(value, depth=0):
    if depth > 16:
        return False
    if value is None or isinstance(value, (bool, int, str)):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, (list, tuple)):
        return all(_json_native(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return all(
            isinstance(k, str) and not k.startswith("__") and _json_native(v, depth + 1)
            for k, v in value.items()
        )
    return False
