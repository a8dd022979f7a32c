"""The classes a model file may name, looked up by name: nothing is imported."""

from .. import weighting
from .._multitask import MultiTaskRegressor
from .._transfer import TransferEstimator
from ..weighting import TaskWeighting

__all__ = [
    "DERIVED_ATTRIBUTES",
    "MODEL_CLASSES",
    "qualified_name",
    "weighting_classes",
    "weighting_name",
]

MODEL_CLASSES = {cls.__name__: cls for cls in (MultiTaskRegressor, TransferEstimator)}
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


def weighting_name(cls):
    """Return the name a file stores for ``cls``: the class name if built in."""
    builtin = weighting_classes()
    return cls.__name__ if builtin.get(cls.__name__) is cls else qualified_name(cls)
