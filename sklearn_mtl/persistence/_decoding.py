"""Rebuild values from their JSON form (see ``_encoding``) and a weights file.

Decoding builds only the tagged types ``_encoding`` writes. Nothing a file
names is imported: class names are looked up in allowlists, whose classes are
then called with the decoded hyperparameters.
"""

import numpy as np
import torch
from sklearn.frozen import FrozenEstimator

from ._allowlist import OPTIMIZER_CLASSES
from ._errors import ModelFileError
from ._trunk import decode_trunk

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
        ``load_model(folder)`` loads a model nested in the archive; None
        refuses nested models.
    trunks : dict of str to type, default=None
        Trunk classes a file may name, by qualified name (the caller's
        ``trusted``); None allows none.

    Attributes
    ----------
    trunks : dict of str to type
        The trunk classes decoding may name (emptied once the
        hyperparameters are decoded).
    nonfinite : {"reject", "nan", "allow"}
        What non-finite values decoding accepts: none (the default: in
        hyperparameters, fitted attributes, network and optimizer state), NaN
        in tensors and arrays (state whose NaN means "not observed yet",
        checked further by the caller), or any (the training history).
    """

    def __init__(self, tensors, weightings, load_model=None, trunks=None):
        self._tensors = tensors
        self.trunks = trunks or {}
        self._used = set()
        self._weightings = weightings
        self.load_model = load_model
        self.nonfinite = "reject"

    def decode_with(self, value, nonfinite):
        """Decode ``value`` accepting the non-finite values ``nonfinite`` names."""
        before, self.nonfinite = self.nonfinite, nonfinite
        try:
            return self.decode(value)
        finally:
            self.nonfinite = before

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
        if name in self._used:
            raise ModelFileError(
                f"The model config refers to the tensor {name!r} twice; "
                "sklearn_mtl.save refers to each tensor once."
            )
        self._used.add(name)
        tensor = self._tensors[name]
        if tensor.is_floating_point() and self.nonfinite != "allow":
            bad = torch.isinf(tensor) if self.nonfinite == "nan" else ~tensor.isfinite()
            if bad.any():
                raise ModelFileError(
                    f"The tensor {name!r} holds NaN or infinite values; a model "
                    "written by sklearn_mtl.save holds finite ones there."
                )
        return tensor

    def _tuple(self, value):
        return tuple(expect(self.decode(value["__tuple__"]), list, "__tuple__"))

    def _items(self, value):
        pairs = expect(value["__items__"], list, "__items__")
        out = {}
        for pair in pairs:
            if not (
                isinstance(pair, list)
                and len(pair) == 2
                and isinstance(pair[0], (str, bool, int, float))
            ):
                raise ModelFileError("__items__ entries must be [key, value] pairs.")
            if pair[0] in out:
                raise ModelFileError(f"__items__ repeats the key {pair[0]!r}.")
            out[pair[0]] = self.decode(pair[1])
        return out

    def _float(self, value):
        text = value["__float__"]
        if text not in ("nan", "inf", "-inf"):
            raise ModelFileError(f"Invalid __float__ value {text!r}.")
        if self.nonfinite != "allow":
            raise ModelFileError(
                f"The model config holds the value {text} where sklearn_mtl.save "
                "writes finite numbers only."
            )
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
                "sklearn_mtl.load(..., trusted=[TheClass])."
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
        cls = OPTIMIZER_CLASSES.get(name) if isinstance(name, str) else None
        if cls is None:
            raise ModelFileError(
                f"The model file names the optimizer {name!r}, which is not a "
                f"class of torch.optim that sklearn-mtl supports "
                f"({sorted(OPTIMIZER_CLASSES)})."
            )
        return cls

    def _trunk(self, value):
        return decode_trunk(value, self.trunks)

    def _model(self, value):
        if self.load_model is None:
            raise ModelFileError("A nested model is not allowed here.")
        return self.load_model(value["__model__"])

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
        "__items__": _items,
        "__float__": _float,
        "__strings__": _strings,
        "__weighting__": _weighting,
        "__optimizer_class__": _optimizer_class,
        "__trunk_class__": _trunk,
        "__trunk_instance__": _trunk,
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
