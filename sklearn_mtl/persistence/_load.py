"""``load``: rebuild an estimator from its file, without unpickling anything."""

import os
import warnings
from contextlib import contextmanager

import torch

from .._base import resolve_device
from ._allowlist import (
    DERIVED_ATTRIBUTES,
    MODEL_CLASSES,
    split_trusted,
    weighting_classes,
)
from ._architecture import check_architecture
from ._archive import CONFIG, MAX_NESTING, ModelArchive
from ._archive import header as format_header
from ._decoding import Decoder, expect
from ._errors import ModelFileError
from ._fitted import check_fitted_values, required_attributes
from ._limits import MAX_MODELS
from ._net_state import check_attribute_name, restore_net_state
from ._pipeline import PIPELINE_CONFIG, load_composite
from ._trunk import PREFIX, materialize_trunk

__all__ = ["Loader", "load", "open_model_file"]

# rows per mini-batch a file may set (skorch slices batches; no allocation)
MAX_BATCH_SIZE = 2**31
# fitted arrays where +inf is a value fit sets (checked by check_fitted_values)
INFINITE_ATTRIBUTES = ("_target_weight", "probe_alphas_")


def load(file, *, device=None, trusted_weightings=(), trusted=()):
    """Load an estimator written by :func:`save`, without unpickling anything.

    The file's JSON config names the estimator class and its task weighting
    from allowlists; the network the saved hyperparameters describe is first
    built on PyTorch's ``meta`` device (no memory) and checked against the
    weights file's header, then built the way ``fit`` builds it, and the
    saved tensors (checked against the network's names, shapes and dtypes,
    and to be finite) are loaded into it. The loaded model predicts exactly
    as the saved one and continues training with ``partial_fit`` or ``fit``
    with ``warm_start=True``. What a crafted file can and cannot do is in
    the user guide's persistence page.

    Parameters
    ----------
    file : str, path-like or binary file object
        A file written by :func:`save`. A file object must be readable and
        seekable.
    device : str or None, default=None
        Where to put the network: ``"auto"``, ``"cpu"``, ``"cuda"`` or
        ``"cuda:N"``; it also becomes the estimator's ``device``
        hyperparameter. None keeps the device the model was saved from when
        this machine has it, else uses the CPU (with a warning), and leaves
        the hyperparameter as saved.
    trusted_weightings : sequence of TaskWeighting subclasses, default=()
        Task-weighting classes from outside :mod:`sklearn_mtl.weighting` that
        the file may name (by ``module.ClassName``); the same as passing them
        in ``trusted``.
    trusted : sequence of type or str, default=()
        Classes whose code you trust, that the file may name:

        - ``torch.nn.Module`` subclasses: custom trunks (``trunk=``), rebuilt
          from the class and the saved ``trunk__*`` arguments;
        - :class:`~sklearn_mtl.weighting.TaskWeighting` subclasses from
          outside :mod:`sklearn_mtl.weighting`;
        - for a file holding a pipeline, types its scikit-learn part may hold
          beyond the classes of scikit-learn and NumPy (classes or names as
          :func:`skops.io.get_untrusted_types` gives them).

        A class is matched by its qualified name (``module.ClassName``); a
        class of a script (``__main__.ClassName``) also by its class name.
        Nothing is imported by name: pass only classes whose code you trust.

    Returns
    -------
    estimator : MultiTaskRegressor, TransferEstimator or a pipeline
        The fitted estimator, or the ``Pipeline``, grid or randomized search
        or ``TransformedTargetRegressor`` holding such estimators that was
        saved.

    Raises
    ------
    ModelFileError
        If the file is not a model written by :func:`save`, is truncated or
        altered, exceeds the limits on size and complexity, names a class
        outside the allowlists or a trunk class not in ``trusted``, or was
        written by a newer version of sklearn-mtl.
    TypeError
        If ``file`` is neither a path nor a binary file object, or
        ``trusted`` is a single class or string instead of a sequence.
    OSError
        If the path cannot be opened.

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
    trusted_weighting_classes, trunks = split_trusted(trusted)
    weightings = weighting_classes([*trusted_weightings, *trusted_weighting_classes])
    with open_model_file(file) as archive:
        loader = Loader(archive, device, target, weightings, trunks)
        if archive.has(PIPELINE_CONFIG):
            return loader.load_composite(trusted)
        return loader.load_root()


@contextmanager
def open_model_file(file):
    """Open ``file`` as a :class:`ModelArchive`; turn any failure into ModelFileError.

    ``file`` must be a path or a binary file object with ``read``, ``seek``
    and ``tell``; anything else raises a TypeError, and a path that cannot be
    opened an OSError.
    """
    if isinstance(file, (str, bytes, os.PathLike)):
        with open(file, "rb") as opened:
            with open_model_file(opened) as archive:
                yield archive
        return
    if not all(callable(getattr(file, m, None)) for m in ("read", "seek", "tell")):
        raise TypeError(
            "file must be a path or a binary file object (with read, seek and "
            f"tell), got {type(file).__name__}."
        )
    try:
        with ModelArchive(file) as archive:
            yield archive
    except ModelFileError:
        raise
    except Exception as exc:  # whatever a crafted file provokes: ModelFileError
        raise ModelFileError(
            f"The file cannot be loaded as a model written by sklearn_mtl.save: "
            f"{type(exc).__name__}: {exc}"
        ) from exc


class Loader:
    """Rebuild the models of an archive, each nested folder at most once.

    Parameters
    ----------
    archive : ModelArchive
        The open file.
    device, target : str or None
        The ``device`` argument of :func:`load`, and the device it resolves to.
    weightings : dict of str to type
        Task-weighting classes a file may name.
    trunks : dict of str to type, default=None
        Trunk classes a file may name (the caller's ``trusted``).
    """

    def __init__(self, archive, device, target, weightings, trunks=None):
        self.archive, self.device, self.target = archive, device, target
        self.weightings, self.trunks = weightings, trunks or {}
        self._folders = set()

    def load_root(self):
        """Return the model at the root of the archive; every member must be read."""
        estimator = self.model("")
        self.check_all_read()
        return estimator

    def load_composite(self, trusted):
        """Return the pipeline of a pipeline file; every member must be read."""
        archive = self.archive
        config = archive.read_pipeline_config(PIPELINE_CONFIG)
        composite = load_composite(
            archive, config, lambda folder: self.model(folder, None), trusted
        )
        self.check_all_read()
        return composite

    def check_all_read(self):
        """Raise if the archive holds members no model referred to."""
        unread = self.archive.unread_members()
        if unread:
            raise ModelFileError(
                f"{self.archive.name} holds members no model refers to: "
                f"{unread[:5]}; the file was altered."
            )

    def model(self, folder, fitted=True):
        """Rebuild the model in ``folder``.

        ``fitted`` True asks for a fitted model; None takes what the file holds
        (a model of a pipeline may be unfitted: a search's template).
        """
        if folder in self._folders:
            raise ModelFileError(
                f"{self.archive.name} refers to the nested model {folder!r} more than "
                "once; sklearn_mtl.save stores each model once."
            )
        if len(self._folders) >= MAX_MODELS:
            raise ModelFileError(
                f"{self.archive.name} holds more than {MAX_MODELS} models."
            )
        self._folders.add(folder)
        archive = self.archive
        config = archive.read_config(folder)
        tensors, header = archive.read_weights(folder)
        name = config.get("class")
        cls = MODEL_CLASSES.get(name) if isinstance(name, str) else None
        if cls is None:
            raise ModelFileError(
                f"{archive.name}: {folder}{CONFIG} names the model class {name!r}; "
                f"load rebuilds only {sorted(MODEL_CLASSES)}."
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
            return self.model(nested)

        decoder = Decoder(
            tensors, self.weightings, load_model=load_source, trunks=self.trunks
        )
        try:
            estimator = self._estimator(cls, config, decoder, header, fitted)
        except ModelFileError as exc:
            if str(exc).startswith(archive.name):
                raise
            raise ModelFileError(f"{archive.name}: {folder}{CONFIG}: {exc}") from exc
        except Exception as exc:  # a config the rebuild trips on: ModelFileError
            raise ModelFileError(
                f"{archive.name}: {folder}{CONFIG} does not describe a {name} this "
                f"version of sklearn-mtl can rebuild: {type(exc).__name__}: {exc}"
            ) from exc
        decoder.check_all_used()
        return estimator

    def _estimator(self, cls, config, decoder, header, fitted):
        params = expect(decoder.decode(config.get("params")), dict, "params")
        decoder.load_model = None  # nested models: only as hyperparameters
        decoder.trunks = {}  # trunk classes: only as hyperparameters
        known = cls().get_params(deep=False)
        unknown = sorted(
            key
            for key in set(params) - set(known)
            if not (key.startswith(PREFIX) and key[len(PREFIX) :].isidentifier())
        )
        if unknown:
            raise ModelFileError(
                f"The file sets hyperparameters {unknown} that {cls.__name__} of "
                "this version of sklearn-mtl does not have; upgrade sklearn-mtl."
            )
        if self.device is not None:
            params["device"] = self.device
        estimator = cls(**params)
        estimator._validate_params()
        if fitted is None:
            fitted = "net" in config
        if not fitted:
            if set(config) - {*format_header(), "class", "params"}:
                raise ModelFileError("An unfitted model holds fitted state.")
            materialize_trunk(estimator)
            return estimator
        attributes = _decode_fitted(decoder, config.get("fitted"))
        missing = [name for name in required_attributes(cls) if name not in attributes]
        if missing:
            raise ModelFileError(f"The file lacks the fitted attributes {missing}.")
        reserved = {*known, *DERIVED_ATTRIBUTES}
        for name, value in attributes.items():
            check_attribute_name(cls, name, reserved, cls.__name__)
            setattr(estimator, name, value)
        check_fitted_values(estimator)
        estimator._check_hyperparameters()

        saved = expect(config.get("net"), dict, "net")
        batch_size = saved.get("batch_size")
        if type(batch_size) is not int or not 1 <= batch_size <= MAX_BATCH_SIZE:
            raise ModelFileError(f"Invalid batch_size {batch_size!r} in the file.")
        net_device = self.target or _available(saved.get("device"))
        check_architecture(estimator, saved, header)
        materialize_trunk(estimator)
        n_features, n_tasks = estimator.n_features_in_, estimator.n_tasks_
        with torch.random.fork_rng(devices=[]):  # initial weights are overwritten
            net = estimator._make_net(n_features, n_tasks, batch_size, net_device, 0)
            net.batch_size = batch_size
            net.initialize()
        restore_net_state(net, saved, decoder)
        estimator.net_ = net
        return estimator


def _decode_fitted(decoder, saved):
    """Decode the fitted attributes; a few may hold +inf.

    A model loaded from a file of an earlier version and trained further
    counts its earlier targets with an infinite ``_target_weight`` (see
    ``_target_moments``), and a linear probe that kept the source's head has
    an infinite ``probe_alphas_``; the check of the fitted values refuses NaN
    and negative values there.
    """
    if isinstance(saved, dict) and not any(key.startswith("__") for key in saved):
        return {
            key: decoder.decode_with(value, "allow")
            if key in INFINITE_ATTRIBUTES
            else decoder.decode(value)
            for key, value in saved.items()
        }
    return expect(decoder.decode(saved), dict, "fitted")


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
        stacklevel=6,  # the caller of load
    )
    return "cpu"
