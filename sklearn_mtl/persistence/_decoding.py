"""Rebuild values from their JSON form (see ``_encoding``) and a weights file.

Decoding builds only the tagged types ``_encoding`` writes. Nothing a file
names is imported: class names are looked up in allowlists, whose classes are
then called with the decoded hyperparameters.
"""

import numpy as np
import torch
from sklearn.frozen import FrozenEstimator

from ._errors import ModelFileError

__all__ = ["Decoder", "ModuleState", "OptimizerState", "expect"]


class ModuleState(dict):
    """A decoded ``state_dict`` of a module: parameter name -> tensor."""


class OptimizerState:
    """A decoded optimiser state: ``(index, per-parameter dict)`` pairs, groups."""

    def __init__(self, state, param_groups):
        self.state, self.param_groups = state, param_groups


class Decoder:
    """Rebuild values from their JSON form and the tensors of a weights file.

    Parameters
    ----------
    tensors : dict of str to torch.Tensor
        The weights file's tensors (on the CPU).
    weightings : dict of str to type
        Task-weighting classes a file may name (see :func:`weighting_classes`).
    load_model : callable, default=None
        ``load_model(folder)`` loads a model nested in the archive.
    """

    def __init__(self, tensors, weightings, load_model=None):
        self._tensors = tensors
        self._used = set()
        self._weightings = weightings
        self._load_model = load_model

    def decode(self, value):
        """Return the value that ``value`` (decoded JSON) encodes."""
        if isinstance(value, list):
            return [self.decode(v) for v in value]
        if not isinstance(value, dict):
            return value
        tags = [k for k in value if k.startswith("__")]
        if not tags:
            return {k: self.decode(v) for k, v in value.items()}
        handler = self._HANDLERS.get(tags[0])
        if handler is None or len(tags) > 1:
            raise ModelFileError(f"Unknown tag {tags[0]!r} in the model config.")
        return handler(self, value)

    def check_all_used(self):
        """Raise if the weights hold tensors the config never referred to."""
        extra = sorted(set(self._tensors) - self._used)
        if extra:
            raise ModelFileError(
                f"The weights file holds tensors the model config does not refer "
                f"to: {extra[:5]}; the file was altered or its parts do not belong "
                "together."
            )

    def _tensor(self, name):
        if not isinstance(name, str) or name not in self._tensors:
            raise ModelFileError(
                f"The model config refers to the tensor {name!r}, which the weights "
                "file does not hold; the file was altered or is damaged."
            )
        self._used.add(name)
        return self._tensors[name]

    def _tuple(self, value):
        return tuple(expect(self.decode(value["__tuple__"]), list, "__tuple__"))

    def _float(self, value):
        text = value["__float__"]
        if text not in ("nan", "inf", "-inf"):
            raise ModelFileError(f"Invalid __float__ value {text!r}.")
        return float(text)

    def _strings(self, value):
        items = expect(value["__strings__"], list, "__strings__")
        array = np.asarray(items, dtype=str if value.get("unicode") else object)
        if not all(isinstance(v, str) for v in array.flat):
            raise ModelFileError("An array of strings holds a value that is not one.")
        return array

    def _weighting(self, value):
        name = value["__weighting__"]
        cls = None
        if isinstance(name, str):
            cls = self._weightings.get(name) or self._weightings.get(
                name.rsplit(".", 1)[-1]
            )
        if cls is None:
            hint = (
                " If you trust this file and have that class, pass it as "
                "sklearn_mtl.load(..., trusted_weightings=[TheClass])."
                if isinstance(name, str) and "." in name
                else ""
            )
            raise ModelFileError(
                f"The model file names the task weighting {name!r}, which is not "
                "one of the classes of sklearn_mtl.weighting "
                f"({sorted(k for k in self._weightings if '.' not in k)}).{hint}"
            )
        params = expect(self.decode(value.get("params", {})), dict, "params")
        try:
            return cls(**params)
        except TypeError as exc:
            raise ModelFileError(
                f"The hyperparameters saved for {name} do not fit it: {exc}"
            ) from exc

    def _optimizer_class(self, value):
        name = value["__optimizer_class__"]
        cls = getattr(torch.optim, name, None) if isinstance(name, str) else None
        if not (isinstance(cls, type) and issubclass(cls, torch.optim.Optimizer)):
            raise ModelFileError(
                f"The model file names the optimizer {name!r}, which is not a "
                "class of torch.optim."
            )
        return cls

    def _model(self, value):
        if self._load_model is None:
            raise ModelFileError("A nested model is not allowed here.")
        return self._load_model(value["__model__"])

    def _frozen(self, value):
        inner = value["__frozen__"]
        if not (isinstance(inner, dict) and set(inner) == {"__model__"}):
            raise ModelFileError("__frozen__ must wrap a saved model.")
        return FrozenEstimator(self._model(inner))

    def _module_state(self, value):
        state = expect(self.decode(value["__module_state__"]), dict, "module state")
        return ModuleState(state)

    def _optimizer_state(self, value):
        saved = expect(value["__optimizer_state__"], dict, "optimizer state")
        state = []
        for pair in expect(saved.get("state"), list, "optimizer state"):
            if not (isinstance(pair, list) and len(pair) == 2 and type(pair[0]) is int):
                raise ModelFileError("Optimizer state entries must be [index, {...}].")
            state.append((pair[0], expect(self.decode(pair[1]), dict, "state")))
        groups = expect(self.decode(saved.get("param_groups")), list, "param_groups")
        return OptimizerState(state, groups)

    _HANDLERS = {
        "__tensor__": lambda self, v: self._tensor(v["__tensor__"]),
        "__ndarray__": lambda self, v: self._tensor(v["__ndarray__"]).numpy(),
        "__tuple__": _tuple,
        "__float__": _float,
        "__strings__": _strings,
        "__weighting__": _weighting,
        "__optimizer_class__": _optimizer_class,
        "__model__": _model,
        "__frozen__": _frozen,
        "__module_state__": _module_state,
        "__optimizer_state__": _optimizer_state,
    }


def expect(value, kind, what):
    """Return ``value`` if it is a ``kind``, else raise a ModelFileError."""
    if not isinstance(value, kind):
        raise ModelFileError(
            f"Expected a {kind.__name__} for {what} in the model config, got "
            f"{type(value).__name__}."
        )
    return value
