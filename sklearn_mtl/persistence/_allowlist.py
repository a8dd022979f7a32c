"""The classes a model file may name, looked up by name: nothing is imported."""

from torch import nn

from .. import weighting
from .._base import OPTIMIZERS
from .._classifier import MultiTaskClassifier
from .._mixed import MixedTaskEstimator
from .._multitask import MultiTaskRegressor
from .._transfer import TransferEstimator
from .._transfer_classifier import TransferClassifier
from ..weighting import TaskWeighting

__all__ = [
    "DERIVED_ATTRIBUTES",
    "MODEL_CLASSES",
    "OPTIMIZER_CLASSES",
    "OPTIMIZER_STATE_KEYS",
    "lookup_class",
    "qualified_name",
    "split_trusted",
    "trunk_classes",
    "weighting_classes",
    "weighting_name",
]

MODEL_CLASSES = {
    cls.__name__: cls
    for cls in (
        MultiTaskRegressor,
        MultiTaskClassifier,
        MixedTaskEstimator,
        TransferEstimator,
        TransferClassifier,
    )
}
# the torch.optim classes the package builds (see ``optimizer``), by name
OPTIMIZER_CLASSES = {cls.__name__: cls for cls, _ in OPTIMIZERS.values()}
# the per-parameter state each of them keeps
OPTIMIZER_STATE_KEYS = {
    "Adam": {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"},
    "AdamW": {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"},
    "SGD": {"momentum_buffer"},
}
# fitted attributes rebuilt from the hyperparameters and the saved state,
# never stored as such
DERIVED_ATTRIBUTES = ("net_", "_source")


def qualified_name(cls):
    """Return ``module.ClassName`` of ``cls``."""
    return f"{cls.__module__}.{cls.__qualname__}"


def weighting_classes(trusted=()):
    """Task-weighting classes a file may name: ``sklearn_mtl.weighting``'s, by name.

    Every :class:`~sklearn_mtl.weighting.TaskWeighting` subclass in
    ``sklearn_mtl.weighting.__all__`` is allowed under its class name. Classes
    in ``trusted`` are added under their qualified name (``module.ClassName``)
    and, unless a built-in class has it, their class name: a class defined in
    a script is saved as ``__main__.ClassName`` and loaded from a module.
    """
    classes = {
        name: cls
        for name in weighting.__all__
        if isinstance(cls := getattr(weighting, name, None), type)
        and issubclass(cls, TaskWeighting)
    }
    for cls in trusted:
        if not (isinstance(cls, type) and issubclass(cls, TaskWeighting)):
            raise TypeError(
                f"trusted_weightings must hold TaskWeighting subclasses, got {cls!r}."
            )
        classes[qualified_name(cls)] = cls
        classes.setdefault(cls.__qualname__, cls)
    return classes


def trunk_classes(trusted=()):
    """Trunk classes a file may name: the ``torch.nn.Module`` subclasses in ``trusted``.

    Each is listed under its qualified name (``module.ClassName``); see
    :func:`lookup_class` for the class-name match of classes of scripts.
    """
    return {
        qualified_name(cls): cls
        for cls in trusted
        if isinstance(cls, type) and issubclass(cls, nn.Module)
    }


def lookup_class(classes, name):
    """Return the class ``name`` refers to in ``classes`` (by qualified name), or None.

    A class defined in a script is saved as ``__main__.ClassName`` and may be
    loaded from a module, or the other way round: such names also match by
    class name (``ClassName``), never a class of another named module.
    """
    if not isinstance(name, str):
        return None
    if name in classes:
        return classes[name]
    module, _, short = name.partition(".")
    for cls in classes.values():
        if cls.__qualname__ == (short if module == "__main__" else None) or (
            cls.__module__ == "__main__" and name.endswith("." + cls.__qualname__)
        ):
            return cls
    return None


def split_trusted(trusted):
    """Split ``load``'s ``trusted`` into task weightings, trunk classes and the rest.

    Returns
    -------
    weightings : list of type
        The :class:`~sklearn_mtl.weighting.TaskWeighting` subclasses.
    trunks : dict of str to type
        The ``torch.nn.Module`` subclasses, by qualified name.
    """
    if isinstance(trusted, (str, type)):
        raise TypeError(
            f"trusted must be a sequence of classes or type names, got {trusted!r}; "
            "pass e.g. trusted=[MyTrunk]."
        )
    trusted = list(trusted)
    weightings = [
        cls
        for cls in trusted
        if isinstance(cls, type) and issubclass(cls, TaskWeighting)
    ]
    return weightings, trunk_classes(trusted)


def weighting_name(cls):
    """Return the name a file stores for ``cls``: the class name if built in."""
    builtin = weighting_classes()
    return cls.__name__ if builtin.get(cls.__name__) is cls else qualified_name(cls)
