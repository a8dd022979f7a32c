"""The fitted attributes a model file must hold, and their checks."""

import math

import numpy as np

from .._classifier import LabelledTasksMixin
from .._mixed import MixedTaskEstimator
from .._transfer_base import STRATEGIES, TransferMixin
from ._errors import ModelFileError

__all__ = ["check_fitted_values", "required_attributes"]

REQUIRED_ATTRIBUTES = (
    "n_features_in_",
    "n_tasks_",
    "task_names_",
    "_target_mean",
    "_target_scale",
    "_y_is_1d",
)
# what fit sets on a TransferEstimator besides the attributes above
TRANSFER_ATTRIBUTES = ("_strategy", "strategy_", "kept_")
# ... and on a classifier
CLASSIFIER_ATTRIBUTES = ("_classes", "classes_")
# ... and on a mixed-task estimator
MIXED_ATTRIBUTES = ("task_types_", "loss_scales_")
# most classes a file may declare over all tasks (each is an output)
MAX_CLASSES = 2**20
# most features and tasks a file may declare (the arrays of the file bound
# the tasks further; features are checked against the network's weights)
MAX_COUNT = 2**40
# target scaling a file may hold: a prediction ``mean + scale * z`` stays
# finite in float64 for network outputs ``|z|`` up to 1e50
MAX_TARGET_MEAN = 1e300
MAX_TARGET_SCALE = 1e250
# values in one sample of a custom trunk's or a source's input (load runs the
# trunk on two samples of zeros to find its output width)
MAX_SAMPLE_SIZE = 2**24
MAX_SAMPLE_DIMENSIONS = 16


def required_attributes(cls):
    """Return the fitted attributes a file must hold for a ``cls`` model."""
    extra = TRANSFER_ATTRIBUTES if issubclass(cls, TransferMixin) else ()
    if issubclass(cls, LabelledTasksMixin):
        extra = (*extra, *CLASSIFIER_ATTRIBUTES)
    if issubclass(cls, MixedTaskEstimator):
        extra = (*extra, *MIXED_ATTRIBUTES)
    return (*REQUIRED_ATTRIBUTES, *extra)


def check_fitted_values(estimator):
    """Raise unless the fitted attributes have sane types, shapes and values."""
    n_features, n_tasks = estimator.n_features_in_, estimator.n_tasks_
    for name, value in (("n_features_in_", n_features), ("n_tasks_", n_tasks)):
        if type(value) is not int or not 1 <= value <= MAX_COUNT:
            raise ModelFileError(f"{name} must be a positive int, got {value!r}.")
    arrays = {
        "_target_mean": (np.float64, n_tasks),
        "_target_scale": (np.float64, n_tasks),
        "task_names_": (None, n_tasks),
        "feature_names_in_": (None, n_features),
    }
    for name, (dtype, length) in arrays.items():
        value = getattr(estimator, name, None)
        if value is None and name == "feature_names_in_":
            continue
        if (
            not isinstance(value, np.ndarray)
            or value.shape != (length,)
            or (dtype is not None and value.dtype != dtype)
        ):
            raise ModelFileError(
                f"{name} must be an array of shape ({length},) in the file."
            )
    mean, scale = estimator._target_mean, estimator._target_scale
    if not (
        np.all(np.abs(mean) <= MAX_TARGET_MEAN)
        and np.all((scale >= 0) & (scale <= MAX_TARGET_SCALE))
    ):
        raise ModelFileError(
            f"The file's target scaling is out of range: |_target_mean| must be at "
            f"most {MAX_TARGET_MEAN:g}, _target_scale in [0, {MAX_TARGET_SCALE:g}] "
            "(beyond, predictions overflow float64)."
        )
    if not isinstance(estimator._y_is_1d, bool):
        raise ModelFileError("_y_is_1d must be a bool in the file.")
    _check_moments(estimator)
    _check_input_shape(estimator)
    if isinstance(estimator, TransferMixin):
        _check_transfer(estimator)
    if isinstance(estimator, LabelledTasksMixin):
        _check_classes(estimator)


def _check_classes(estimator):
    """Raise unless the classes are one sorted array of unique labels per task.

    A mixed-task estimator's regression tasks have None instead, and its
    loss scales are one positive float per task.
    """
    n_tasks = estimator.n_tasks_
    kinds = getattr(estimator, "task_types_", ["classification"] * n_tasks)
    classes = estimator._classes
    if not (
        isinstance(kinds, list)
        and len(kinds) == n_tasks
        and isinstance(classes, list)
        and len(classes) == n_tasks
        and all(
            (c is None) if kind == "regression" else _sane_classes(c)
            for kind, c in zip(kinds, classes, strict=True)
        )
        and sum(c.size for c in classes if c is not None) <= MAX_CLASSES
    ):
        raise ModelFileError(
            f"_classes must be a list of {n_tasks} sorted arrays of unique labels "
            f"(None for a regression task; at most {MAX_CLASSES} classes in all) "
            "in the file."
        )
    public = estimator.classes_
    expected = classes[0] if estimator._y_is_1d else classes
    if isinstance(estimator, MixedTaskEstimator):
        expected = classes  # a list, whatever the number of tasks
        scales = estimator.loss_scales_
        if not (
            isinstance(scales, np.ndarray)
            and scales.shape == (n_tasks,)
            and scales.dtype == np.float64
            and np.all(np.isfinite(scales) & (scales > 0))
        ):
            raise ModelFileError(
                f"loss_scales_ must be {n_tasks} positive floats in the file."
            )
    if not _same_classes(public, expected):
        raise ModelFileError("classes_ does not match _classes in the file.")


def _sane_classes(c):
    return (
        isinstance(c, np.ndarray)
        and c.ndim == 1
        and c.size >= 1
        and c.dtype.kind in "biufU"
        and (c.dtype.kind != "f" or bool(np.all(np.isfinite(c))))
        and np.array_equal(np.unique(c), c)
    )


def _same_classes(public, expected):
    if isinstance(expected, np.ndarray):
        return isinstance(public, np.ndarray) and np.array_equal(public, expected)
    return (
        isinstance(public, list)
        and len(public) == len(expected)
        and all(
            (a is None and b is None)
            or (a is not None and b is not None and np.array_equal(a, b))
            for a, b in zip(public, expected, strict=True)
        )
    )


def _check_moments(estimator):
    """Raise unless the running target moments are one sane float per task."""
    for name in ("_target_weight", "_target_std"):
        value = getattr(estimator, name, None)
        if value is None:
            continue  # a file of an earlier version
        if not (
            isinstance(value, np.ndarray)
            and value.shape == (estimator.n_tasks_,)
            and value.dtype == np.float64
            and np.all(value >= 0)  # also refuses NaN
            and (name == "_target_weight" or np.all(np.isfinite(value)))
        ):
            raise ModelFileError(
                f"{name} must be an array of {estimator.n_tasks_} non-negative "
                "float64 values in the file."
            )


def _check_input_shape(estimator):
    """Raise unless ``_input_shape`` is the shape of a sample of a sane size."""
    shape = getattr(estimator, "_input_shape", None)
    if shape is None:
        if estimator._custom_trunk():
            raise ModelFileError("A model with a custom trunk needs _input_shape.")
        return  # a file of an earlier version: the MLP reads n_features_in_
    if not (
        isinstance(shape, tuple)
        and 1 <= len(shape) <= MAX_SAMPLE_DIMENSIONS
        and all(type(n) is int and n >= 1 for n in shape)
        and shape[0] == estimator.n_features_in_
    ):
        raise ModelFileError(
            f"_input_shape must be a tuple of positive ints starting with "
            f"n_features_in_={estimator.n_features_in_}, got {shape!r}."
        )
    if estimator._accepts_nd_input() and math.prod(shape) > MAX_SAMPLE_SIZE:
        raise ModelFileError(
            f"_input_shape {shape} describes samples of more than "
            f"{MAX_SAMPLE_SIZE} values."
        )


def _check_transfer(estimator):
    """Raise unless the strategy attributes agree with each other and the source."""
    strategy, kept = estimator._strategy, estimator.kept_
    transfer = kept == "transfer"
    consistent = (
        kept in ("transfer", "scratch")
        and estimator.strategy_ == strategy
        and (strategy in STRATEGIES if transfer else strategy is None)
        and (estimator.source is not None or not transfer)
        and estimator.strategy in ("auto", strategy, *(() if transfer else STRATEGIES))
    )
    if not consistent:
        raise ModelFileError(
            f"The file's strategy attributes (_strategy={strategy!r}, "
            f"strategy_={estimator.strategy_!r}, kept_={kept!r}) do not fit "
            f"each other or the hyperparameters (strategy={estimator.strategy!r}, "
            f"source {'set' if estimator.source is not None else 'None'})."
        )
    alphas = getattr(estimator, "probe_alphas_", None)
    if alphas is not None and not (
        isinstance(alphas, np.ndarray)
        and alphas.shape == (estimator.n_tasks_,)
        and alphas.dtype.kind == "f"
        and np.all(alphas >= 0)  # +inf where the prior head was kept; no NaN
    ):
        raise ModelFileError(
            "probe_alphas_ must be None or one non-negative float per task."
        )
    for name in ("strategy_scores_", "guard_scores_"):
        scores = getattr(estimator, name, None)
        if scores is not None and not (
            isinstance(scores, dict)
            and all(
                isinstance(k, str) and isinstance(v, float) and math.isfinite(v)
                for k, v in scores.items()
            )
        ):
            raise ModelFileError(f"{name} must be None or a dict of finite scores.")
