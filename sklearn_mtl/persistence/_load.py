"""``load``: rebuild an estimator from its file, without unpickling anything."""

import warnings

import numpy as np
import torch

from .._base import resolve_device
from ._allowlist import DERIVED_ATTRIBUTES, MODEL_CLASSES, weighting_classes
from ._archive import CONFIG, MAX_NESTING, ModelArchive
from ._decoding import Decoder, expect
from ._errors import ModelFileError
from ._net_state import check_attribute_name, restore_net_state

__all__ = ["load"]

REQUIRED_ATTRIBUTES = (
    "n_features_in_",
    "n_tasks_",
    "task_names_",
    "_target_mean",
    "_target_scale",
    "_y_is_1d",
)
# what a malformed config raises while a model is rebuilt from it (RuntimeError
# covers the RecursionError of a deeply nested one)
REBUILD_ERRORS = (KeyError, TypeError, ValueError, RuntimeError, IndexError)


def load(file, *, device=None, trusted_weightings=()):
    """Load an estimator written by :func:`save`, without unpickling anything.

    The file's JSON config names the estimator class and its task weighting
    from allowlists; the estimator is built with the saved hyperparameters,
    its network is built the way ``fit`` builds it, and the saved tensors
    (checked against the network's names, shapes and dtypes) are loaded into
    it. The loaded model predicts exactly as the saved one and continues
    training with ``partial_fit`` or ``fit`` with ``warm_start=True``.

    Parameters
    ----------
    file : str, path-like or binary file object
        A file written by :func:`save`.
    device : str or None, default=None
        Where to put the network: ``"auto"``, ``"cpu"``, ``"cuda"`` or
        ``"cuda:N"``; it also becomes the estimator's ``device``
        hyperparameter. None keeps the device the model was saved from when
        this machine has it, else uses the CPU (with a warning), and leaves
        the hyperparameter as saved.
    trusted_weightings : sequence of TaskWeighting subclasses, default=()
        Task-weighting classes from outside :mod:`sklearn_mtl.weighting` that
        the file may name (by ``module.ClassName``). Pass only classes whose
        code you trust.

    Returns
    -------
    estimator : MultiTaskRegressor or TransferEstimator
        The fitted estimator.

    Raises
    ------
    ModelFileError
        If the file is not a model written by :func:`save`, is truncated or
        altered, names a class outside the allowlists, or was written by a
        newer version of sklearn-mtl.

    See Also
    --------
    save : Write the file.

    Examples
    --------
    >>> import io
    >>> from sklearn_mtl import load
    >>> try:
    ...     load(io.BytesIO(b"not a model"))
    ... except ValueError as exc:
    ...     print(type(exc).__name__)
    ModelFileError
    """
    target = None if device is None else resolve_device(device)
    weightings = weighting_classes(trusted_weightings)
    with ModelArchive(file) as archive:
        return _rebuild(archive, "", device, target, weightings)


def _rebuild(archive, folder, device, target, weightings):
    config = archive.read_config(folder)
    tensors = archive.read_weights(folder)
    name = config.get("class")
    cls = MODEL_CLASSES.get(name) if isinstance(name, str) else None
    if cls is None:
        raise ModelFileError(
            f"{archive.name}: {folder}{CONFIG} names the model class {name!r}; load "
            f"rebuilds only {sorted(MODEL_CLASSES)}."
        )

    def load_source(nested):
        if not (
            isinstance(nested, str)
            and nested.startswith(folder)
            and nested.endswith("/")
            and nested[len(folder) : -1].isidentifier()
            and nested.count("/") <= MAX_NESTING
        ):
            raise ModelFileError(f"Invalid nested model folder {nested!r}.")
        return _rebuild(archive, nested, device, target, weightings)

    decoder = Decoder(tensors, weightings, load_model=load_source)
    try:
        estimator = _rebuild_estimator(cls, config, decoder, device, target)
    except ModelFileError:
        raise
    except REBUILD_ERRORS as exc:
        raise ModelFileError(
            f"{archive.name}: {folder}{CONFIG} does not describe a {name} this "
            f"version of sklearn-mtl can rebuild: {exc}"
        ) from exc
    decoder.check_all_used()
    return estimator


def _rebuild_estimator(cls, config, decoder, device, target):
    params = expect(decoder.decode(config.get("params")), dict, "params")
    known = cls().get_params(deep=False)
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise ModelFileError(
            f"The file sets hyperparameters {unknown} that {cls.__name__} of this "
            "version of sklearn-mtl does not have; upgrade sklearn-mtl."
        )
    if device is not None:
        params["device"] = device
    estimator = cls(**params)
    estimator._validate_params()
    fitted = expect(decoder.decode(config.get("fitted")), dict, "fitted")
    missing = [name for name in REQUIRED_ATTRIBUTES if name not in fitted]
    if missing:
        raise ModelFileError(f"The file lacks the fitted attributes {missing}.")
    reserved = {*known, *DERIVED_ATTRIBUTES}
    for name, value in fitted.items():
        check_attribute_name(cls, name, reserved, cls.__name__)
        setattr(estimator, name, value)
    _check_fitted_values(estimator)
    estimator._check_hyperparameters()

    saved = expect(config.get("net"), dict, "net")
    batch_size = saved.get("batch_size")
    if type(batch_size) is not int or batch_size < 1:
        raise ModelFileError(f"Invalid batch_size {batch_size!r} in the file.")
    net_device = target or _available(saved.get("device"))
    n_features, n_tasks = estimator.n_features_in_, estimator.n_tasks_
    with torch.random.fork_rng(devices=[]):  # initial weights are overwritten
        net = estimator._make_net(n_features, n_tasks, batch_size, net_device, 0)
        net.batch_size = batch_size
        net.initialize()
    restore_net_state(net, saved, decoder)
    estimator.net_ = net
    return estimator


def _check_fitted_values(estimator):
    """Raise unless the required fitted attributes have sane types and shapes."""
    n_features, n_tasks = estimator.n_features_in_, estimator.n_tasks_
    for name, value in (("n_features_in_", n_features), ("n_tasks_", n_tasks)):
        if type(value) is not int or value < 1:
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
    if not isinstance(estimator._y_is_1d, bool):
        raise ModelFileError("_y_is_1d must be a bool in the file.")


def _available(saved_device):
    """Return the saved device when this machine has it, else the CPU (warning)."""
    try:
        device = torch.device(saved_device)
    except (RuntimeError, TypeError, ValueError) as exc:
        raise ModelFileError(f"Invalid device {saved_device!r} in the file.") from exc
    if device.type == "cpu":
        return "cpu"
    present = (
        device.type == "cuda"
        and torch.cuda.is_available()
        and (device.index or 0) < torch.cuda.device_count()
    ) or (device.type == "mps" and torch.backends.mps.is_available())
    if present:
        return str(device)
    warnings.warn(
        f"The model was saved from device {saved_device!r}, which this machine "
        "does not have; it is loaded on the CPU. Pass device='cpu' to load to "
        "make that the estimator's device too.",
        UserWarning,
        stacklevel=5,  # the caller of load
    )
    return "cpu"
