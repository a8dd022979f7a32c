"""``save``: a fitted estimator as JSON config plus safetensors weights."""

import copy
from numbers import Integral

import torch
from sklearn.frozen import FrozenEstimator
from sklearn.utils.validation import check_is_fitted

from ._allowlist import DERIVED_ATTRIBUTES, MODEL_CLASSES
from ._archive import (
    CONFIG,
    MAX_NESTING,
    WEIGHTS,
    config_bytes,
    header,
    pipeline_header,
    weights_bytes,
    write_archive,
)
from ._encoding import Encoder
from ._net_state import capture_net_state
from ._pipeline import COMPOSITES, PIPELINE_CONFIG, dump_composite
from ._trunk import check_trunk_savable

__all__ = ["save"]


def save(estimator, file):
    """Save a fitted estimator as JSON config and safetensors weights.

    The file is a zip archive holding ``model.json`` (hyperparameters, fitted
    attributes, history) and ``weights.safetensors`` (the network, the
    optimizer state and the task weighting's state), so that :func:`load`
    rebuilds a model that predicts exactly as this one and keeps training
    where it stopped, without unpickling anything. A
    :class:`~sklearn_mtl.TransferEstimator`'s source is saved in the same
    file. A custom ``trunk`` is saved as its class path (``module.ClassName``)
    and its ``trunk__*`` arguments, its weights with the network; loading it
    needs the class in ``load``'s ``trusted``.

    A :class:`~sklearn.pipeline.Pipeline`, a grid or randomized search or a
    :class:`~sklearn.compose.TransformedTargetRegressor` holding such
    estimators is saved whole: its scikit-learn parts with skops, each
    estimator as above (see the user guide's persistence page).

    Parameters
    ----------
    estimator : MultiTaskRegressor, TransferEstimator or a pipeline
        A fitted estimator. Its ``random_state`` must be an int or None, its
        ``callbacks`` None (or empty), its ``trunk__*`` arguments JSON values
        and a ``trunk`` instance of a class buildable without arguments; a
        ``TransferEstimator``'s ``source`` must be None or a fitted
        ``MultiTaskRegressor`` / ``TransferEstimator`` (or a
        :class:`~sklearn.frozen.FrozenEstimator` of one). Or a ``Pipeline``,
        ``GridSearchCV``, ``RandomizedSearchCV`` or
        ``TransformedTargetRegressor`` holding such estimators (fitted or
        not) and objects skops can store.
    file : str, path-like or binary file object
        Where to write. A path is written through a temporary file and then
        renamed, so an interrupted save never leaves half a file there.

    Raises
    ------
    TypeError
        If ``estimator`` is of another class, or holds a value the format
        cannot store (a ``RandomState``, a torch module as source, callbacks,
        a ``trunk__*`` argument that is not a JSON value, an
        optimizer class other than ``torch.optim.Adam``, ``AdamW`` and
        ``SGD``, an object skops cannot store, ...).
    ImportError
        If ``estimator`` is a pipeline and skops is not installed.

    See Also
    --------
    load : Rebuild the estimator from the file.

    Examples
    --------
    >>> import io
    >>> from sklearn_mtl import MultiTaskRegressor, load, save
    >>> from sklearn_mtl.datasets import make_multitask_regression
    >>> X, Y = make_multitask_regression(n_samples=100, n_tasks=2, random_state=0)
    >>> model = MultiTaskRegressor(hidden_layer_sizes=(16,), max_epochs=5,
    ...                            random_state=0).fit(X, Y)
    >>> buffer = io.BytesIO()
    >>> save(model, buffer)
    >>> restored = load(io.BytesIO(buffer.getvalue()))
    >>> bool((restored.predict(X) == model.predict(X)).all())
    True
    """
    members = {}
    if isinstance(estimator, COMPOSITES):
        members, config = dump_composite(estimator, _dump_any)
        members[PIPELINE_CONFIG] = config_bytes({**pipeline_header(), **config})
    else:
        _dump(estimator, "", members)
    write_archive(file, members)


def _dump_any(estimator, folder, members):
    """Dump a package estimator of a pipeline: fitted, or its hyperparameters."""
    if hasattr(estimator, "net_"):
        _dump(estimator, folder, members)
    else:
        _dump(estimator, folder, members, fitted=False)


def _dump(estimator, folder, members, fitted=True):
    if type(estimator) not in MODEL_CLASSES.values():
        raise TypeError(
            f"save stores {sorted(MODEL_CLASSES)} instances, or a "
            f"{', '.join(cls.__name__ for cls in COMPOSITES)} holding them; got "
            f"{type(estimator).__name__}. Use pickle for other objects."
        )
    params = estimator.get_params(deep=False)
    _check_savable(params)
    if not fitted:
        encoder = Encoder(save_model=_source_saver(folder, members))
        config = {
            **header(),
            "class": type(estimator).__name__,
            "params": encoder.encode(params, "params"),
        }
        members[folder + CONFIG] = config_bytes(config)
        members[folder + WEIGHTS] = weights_bytes(encoder.tensors)
        return
    check_is_fitted(estimator)
    _check_rebuildable(estimator)

    encoder = Encoder(save_model=_source_saver(folder, members))
    fitted = {
        name: value
        for name, value in vars(estimator).items()
        if name not in params and name not in DERIVED_ATTRIBUTES
    }
    config = {
        **header(),
        "class": type(estimator).__name__,
        "params": encoder.encode(params, "params"),
        "fitted": encoder.encode(fitted, "fitted"),
        "net": capture_net_state(estimator.net_, encoder),
    }
    members[folder + CONFIG] = config_bytes(config)
    members[folder + WEIGHTS] = weights_bytes(encoder.tensors)


def _source_saver(folder, members):
    """Return the ``save_model`` of an Encoder: sources go to a subfolder."""

    def save_source(value, key):
        if type(value) not in MODEL_CLASSES.values():
            return None
        nested = f"{folder}{key.rsplit('.', 1)[-1]}/"
        if nested.count("/") > MAX_NESTING:
            raise TypeError(f"Sources nest more than {MAX_NESTING} levels deep.")
        _dump(value, nested, members)
        return nested

    return save_source


def _check_savable(params):
    check_trunk_savable(params)
    random_state = params.get("random_state")
    if random_state is not None and not isinstance(random_state, Integral):
        raise TypeError(
            f"Cannot save a model whose random_state is a "
            f"{type(random_state).__name__}: the file stores an int or None. Set "
            "one first, e.g. model.set_params(random_state=0); this changes only "
            "what later fits draw, not the fitted network."
        )
    source = params.get("source")
    if isinstance(source, FrozenEstimator):
        source = source.estimator
    if source is not None and type(source) not in MODEL_CLASSES.values():
        raise TypeError(
            f"Cannot save a TransferEstimator whose source is a "
            f"{type(source).__name__}: load must rebuild the source from data "
            "alone, which works for a fitted MultiTaskRegressor or "
            "TransferEstimator (or a FrozenEstimator of one), not for a torch "
            "module or skorch net (their code is not in the file). Use pickle "
            "for this model."
        )


def _check_rebuildable(estimator):
    """Raise if the hyperparameters no longer build the fitted network.

    ``load`` builds the network from the saved hyperparameters; one changed
    with ``set_params`` after ``fit`` (``hidden_layer_sizes``, say) would give
    a file that cannot be loaded.
    """
    probe = copy.copy(estimator)  # checking sets private state; not on the caller's
    probe._validate_params()
    probe._check_hyperparameters()
    n_features, n_tasks = estimator.n_features_in_, estimator.n_tasks_
    with torch.random.fork_rng(devices=[]):
        module = probe._make_net(n_features, n_tasks, 1, "cpu", 0).module
    built = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    fitted = {k: tuple(v.shape) for k, v in estimator.net_.module_.state_dict().items()}
    if built != fitted:
        raise ValueError(
            "The hyperparameters no longer describe the fitted network (were they "
            "changed with set_params after fit?), so load could not rebuild it. "
            "Set them back, or refit, before saving."
        )
