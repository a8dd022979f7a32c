"""JSON encoding of hyperparameters and training state; tensors go aside.

A value becomes JSON-native data. Tensors and numeric arrays are replaced by
a reference to an entry of the safetensors weights (``{"__tensor__": name}``,
``{"__ndarray__": name}``). The few other types a model holds are tagged
objects:

- ``{"__tuple__": [...]}``, ``{"__float__": "nan"}`` (or ``"inf"``,
  ``"-inf"``), ``{"__strings__": [...]}`` (an array of str);
- ``{"__weighting__": name, "params": {...}}``: a task-weighting strategy,
  named from an allowlist;
- ``{"__optimizer_class__": name}``: a class of :mod:`torch.optim` the
  package builds (Adam, AdamW, SGD);
- ``{"__trunk_class__": name}`` / ``{"__trunk_instance__": name}``: a custom
  trunk class (or an instance, rebuilt with no arguments), by its qualified
  name, loaded only from the classes the caller trusts;
- ``{"__model__": folder}``: a fitted model saved in ``folder`` of the same
  archive, and ``{"__frozen__": ...}``: a
  :class:`~sklearn.frozen.FrozenEstimator` of one;
- ``{"__module_state__": ...}`` / ``{"__optimizer_state__": ...}``: the state
  of a module or optimiser, loaded into the one the rebuilt model creates.
"""

import math

import numpy as np
import torch
from sklearn.frozen import FrozenEstimator
from torch import nn

from ..weighting import TaskWeighting
from ._allowlist import OPTIMIZER_CLASSES, qualified_name, weighting_name
from ._trunk import encode_trunk

__all__ = ["Encoder"]


class Encoder:
    """Turn values into JSON-native data; tensors and arrays collect in ``tensors``.

    Parameters
    ----------
    save_model : callable, default=None
        ``save_model(value, key)`` saves a fitted model nested in the archive
        and returns its folder, or returns None when ``value`` is no model.
    """

    def __init__(self, save_model=None):
        self.tensors = {}
        self._save_model = save_model
        self._state = False

    def encode_state(self, value, key):
        """Encode training state: modules and optimisers become their state."""
        self._state = True
        try:
            return self.encode(value, key)
        finally:
            self._state = False

    def encode(self, value, key):
        """Return the JSON-native form of ``value``; ``key`` names its tensors."""
        if isinstance(value, np.generic):
            value = value.item()
        if value is None or isinstance(value, (bool, int, str)):
            return value
        if isinstance(value, float):
            value = float(value)
            return value if math.isfinite(value) else {"__float__": repr(value)}
        if torch.is_tensor(value):
            return {"__tensor__": self._add(key, value)}
        if isinstance(value, np.ndarray):
            return self._array(value, key)
        if isinstance(value, (tuple, list)):
            items = [self.encode(v, f"{key}.{i}") for i, v in enumerate(value)]
            return {"__tuple__": items} if isinstance(value, tuple) else items
        if isinstance(value, dict):
            return self._mapping(value, key)
        if isinstance(value, TaskWeighting):
            return {
                "__weighting__": weighting_name(type(value)),
                "params": self.encode(value.get_params(deep=False), f"{key}.params"),
            }
        if isinstance(value, type) and issubclass(value, torch.optim.Optimizer):
            if OPTIMIZER_CLASSES.get(value.__name__) is not value:
                raise TypeError(
                    f"Cannot save {key}: the optimizer class {qualified_name(value)} "
                    "is not a class of torch.optim that a saved model may name "
                    f"({sorted(OPTIMIZER_CLASSES)}, those sklearn-mtl builds). Use "
                    "pickle for this model."
                )
            return {"__optimizer_class__": value.__name__}
        if isinstance(value, FrozenEstimator):
            return {"__frozen__": self.encode(value.estimator, key)}
        trunk = encode_trunk(value, key) if key == "params.trunk" else None
        if trunk is not None:
            return trunk
        folder = self._save_model(value, key) if self._save_model else None
        if folder is not None:
            return {"__model__": folder}
        if self._state and isinstance(value, nn.Module):
            return {"__module_state__": self._mapping(dict(value.state_dict()), key)}
        if self._state and isinstance(value, torch.optim.Optimizer):
            return {"__optimizer_state__": self._optimizer(value, key)}
        raise TypeError(
            f"Cannot save {key}: a {type(value).__name__} is not one of the types "
            "sklearn_mtl.save stores (numbers, strings, lists, dicts, arrays, "
            "tensors, task weightings, torch.optim classes, fitted sklearn-mtl "
            "models). Use pickle for this model."
        )

    def _add(self, key, tensor):
        if tensor.layout != torch.strided:
            raise TypeError(f"Cannot save {key}: sparse tensors are not supported.")
        name, n = key, 1
        while name in self.tensors:
            name, n = f"{key}#{n}", n + 1
        # a copy: safetensors refuses tensors that share memory
        self.tensors[name] = tensor.detach().to("cpu", copy=True).contiguous()
        return name

    def _array(self, array, key):
        if array.dtype.kind in "biuf":
            native = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("="))
            return {"__ndarray__": self._add(key, torch.from_numpy(native))}
        if array.dtype.kind in "UO" and all(isinstance(v, str) for v in array.flat):
            return {"__strings__": array.tolist(), "unicode": array.dtype.kind == "U"}
        raise TypeError(
            f"Cannot save {key}: arrays of dtype {array.dtype} are not supported "
            "(numbers, booleans and strings are)."
        )

    def _mapping(self, mapping, key):
        if not all(isinstance(k, str) and not k.startswith("__") for k in mapping):
            return self._items(mapping, key)
        return {k: self.encode(v, f"{key}.{k}") for k, v in mapping.items()}

    def _items(self, mapping, key):
        """Encode a dict whose keys are not all plain strings (class labels)."""
        pairs = []
        for i, (k, v) in enumerate(mapping.items()):
            plain = k.item() if isinstance(k, np.generic) else k
            if not isinstance(plain, (str, bool, int, float)) or (
                isinstance(plain, float) and not math.isfinite(plain)
            ):
                raise TypeError(
                    f"Cannot save {key}: dict keys must be strings, numbers or "
                    f"booleans, got {k!r}."
                )
            pairs.append([plain, self.encode(v, f"{key}.{i}")])
        return {"__items__": pairs}

    def _optimizer(self, optimizer, key):
        state_dict = optimizer.state_dict()
        return {
            "state": [
                [int(index), self.encode(entry, f"{key}.state.{index}")]
                for index, entry in state_dict["state"].items()
            ],
            "param_groups": self.encode(
                state_dict["param_groups"], f"{key}.param_groups"
            ),
        }
