"""Whole pipelines: the scikit-learn parts through skops, the networks as models.

A :class:`~sklearn.pipeline.Pipeline`, a grid or randomized search or a
:class:`~sklearn.compose.TransformedTargetRegressor` holding the package's
estimators is saved as:

- ``pipeline.json``: format header and the folders of the models;
- ``pipeline.skops``: the object dumped by :func:`skops.io.dumps`, every
  package estimator in it replaced by a :class:`ModelSlot`;
- ``models/m0/``, ``models/m1/``, ...: each package estimator, as
  :func:`sklearn_mtl.save` stores one (an unfitted one, such as a search's
  template, as its hyperparameters).

Loading asks skops which types the dump holds (:func:`skops.io.get_untrusted_types`)
and trusts, beyond skops' own defaults, only classes of scikit-learn and
NumPy, :class:`ModelSlot`, and what the caller names in ``trusted``.
"""

import copy
import io
import re
import sys
import zipfile

import numpy as np
from sklearn.compose import TransformedTargetRegressor
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
from sklearn.pipeline import Pipeline

from ._allowlist import MODEL_CLASSES, qualified_name
from ._errors import ModelFileError
from ._limits import MAX_CONFIG_BYTES, MAX_MEMBERS, MAX_MODELS

__all__ = [
    "COMPOSITES",
    "PIPELINE_CONFIG",
    "PIPELINE_FORMAT",
    "PIPELINE_SKOPS",
    "ModelSlot",
    "dump_composite",
    "load_composite",
]

COMPOSITES = (Pipeline, GridSearchCV, RandomizedSearchCV, TransformedTargetRegressor)
PIPELINE_CONFIG = "pipeline.json"
PIPELINE_SKOPS = "pipeline.skops"
PIPELINE_FORMAT = "sklearn-mtl-pipeline"
MODEL_FOLDER = re.compile(r"models/m(0|[1-9][0-9]{0,5})/")
# packages whose classes a dump may hold without the caller trusting them
TRUSTED_PACKAGES = ("sklearn", "numpy")


class ModelSlot:
    """Where a package estimator stood in a dumped pipeline: ``models[index]``.

    Parameters
    ----------
    index : int
        Position of the estimator in ``pipeline.json``'s ``models``.
    """

    def __init__(self, index):
        self.index = index

    def __repr__(self):
        return f"ModelSlot({self.index})"


def _skops_io():
    """Return :mod:`skops.io`, which pipelines files need (an optional dependency)."""
    try:
        import skops.io
    except ImportError as exc:
        raise ImportError(
            "Saving or loading a pipeline needs skops: pip install skops (or "
            "pip install '.[skops]' from a clone of sklearn-mtl)."
        ) from exc
    return skops.io


def _walk(obj, visit, seen=None):
    """Call ``visit(x)`` on every object reachable from ``obj``, each once.

    ``visit`` returns True to stop descending into ``x``. Containers, object
    arrays and the ``__dict__`` of objects are descended into.
    """
    seen = set() if seen is None else seen
    stack = [obj]
    while stack:
        node = stack.pop()
        if id(node) in seen or isinstance(node, (str, bytes, int, float, type)):
            continue
        seen.add(id(node))
        if visit(node):
            continue
        if isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, (list, tuple, set, frozenset)):
            stack.extend(node)
        elif isinstance(node, np.ndarray):
            if node.dtype == object:
                stack.extend(np.ma.getdata(node).ravel().tolist())
        elif hasattr(node, "__dict__"):
            stack.extend(vars(node).values())


def dump_composite(composite, dump_model):
    """Return the members of a pipeline file for ``composite``.

    Parameters
    ----------
    composite : Pipeline, GridSearchCV, RandomizedSearchCV or \
            TransformedTargetRegressor
        The object to save.
    dump_model : callable
        ``dump_model(estimator, folder, members)`` adds a package estimator's
        members under ``folder`` (fitted or not).

    Returns
    -------
    members : dict of str to bytes
    config : dict
        The content of ``pipeline.json`` (without the format header).
    """
    models = []

    def collect(node):
        if type(node) in MODEL_CLASSES.values():
            models.append(node)
            return True
        return False

    _walk(composite, collect)
    if len(models) > MAX_MODELS:
        raise TypeError(f"save stores at most {MAX_MODELS} models in one file.")
    skops_io = _skops_io()
    memo = {id(model): ModelSlot(i) for i, model in enumerate(models)}
    replaced = copy.deepcopy(composite, memo)
    try:
        blob = skops_io.dumps(replaced)
    except Exception as exc:  # skops names what it cannot store
        raise TypeError(
            f"Cannot save this {type(composite).__name__}: skops cannot store a "
            f"part of it ({type(exc).__name__}: {exc}). sklearn_mtl.save stores "
            "scikit-learn objects through skops and sklearn-mtl estimators as "
            "model files; use pickle for other objects."
        ) from exc
    members, folders = {PIPELINE_SKOPS: blob}, []
    for i, model in enumerate(models):
        folder = f"models/m{i}/"
        dump_model(model, folder, members)
        folders.append(folder)
    return members, {"models": folders}


def load_composite(archive, config, load_model, trusted=()):
    """Rebuild the object of a pipeline file.

    Parameters
    ----------
    archive : ModelArchive
        The open file.
    config : dict
        Its parsed ``pipeline.json``.
    load_model : callable
        ``load_model(folder)`` rebuilds the package estimator in ``folder``.
    trusted : sequence of str or type, default=()
        Types the skops part may hold beyond scikit-learn's and NumPy's.

    Returns
    -------
    composite : object
        The saved pipeline, search or target transformer.
    """
    folders = config.get("models")
    if not (
        isinstance(folders, list)
        and len(folders) <= MAX_MODELS
        and all(isinstance(f, str) and MODEL_FOLDER.fullmatch(f) for f in folders)
        and len(set(folders)) == len(folders)
    ):
        raise ModelFileError(f"{archive.name}: {PIPELINE_CONFIG} lists invalid models.")
    skops_io = _skops_io()
    blob = archive.read(PIPELINE_SKOPS, MAX_CONFIG_BYTES)
    _check_skops_archive(blob, archive.name)
    untrusted = skops_io.get_untrusted_types(data=blob)
    allowed = {_name(t) for t in trusted} | {qualified_name(ModelSlot)}
    refused = [t for t in untrusted if t not in allowed and not _library_class(t)]
    if refused:
        raise ModelFileError(
            f"{archive.name}: the pipeline holds types that are neither "
            f"scikit-learn's nor NumPy's: {refused}. If you trust this file, pass "
            "them as sklearn_mtl.load(..., trusted=[...])."
        )
    composite = skops_io.loads(blob, trusted=list(untrusted))
    if not isinstance(composite, COMPOSITES):
        raise ModelFileError(
            f"{archive.name}: {PIPELINE_SKOPS} holds a {type(composite).__name__}, "
            "not one of the objects sklearn_mtl.save stores as a pipeline."
        )
    models = [load_model(folder) for folder in folders]
    slots = []

    def collect(node):
        if isinstance(node, ModelSlot):
            slots.append(node)
            return True
        return type(node) in MODEL_CLASSES.values()

    _walk(composite, collect)
    used = set()
    for slot in slots:
        if type(slot.index) is not int or not 0 <= slot.index < len(models):
            raise ModelFileError(f"{archive.name}: invalid model slot {slot.index!r}.")
        used.add(slot.index)
    if used != set(range(len(models))):
        raise ModelFileError(
            f"{archive.name}: the pipeline does not use every model the file holds."
        )
    memo = {id(slot): models[slot.index] for slot in slots}
    return copy.deepcopy(composite, memo)


def _name(cls_or_name):
    return cls_or_name if isinstance(cls_or_name, str) else qualified_name(cls_or_name)


def _library_class(name):
    """Whether ``name`` is a class of scikit-learn or NumPy (not a function)."""
    module, _, attr = name.rpartition(".")
    if module.split(".")[0] not in TRUSTED_PACKAGES or not attr.isidentifier():
        return False
    # only modules already imported: a name in a file imports nothing
    obj = getattr(sys.modules.get(module), attr, None)
    return isinstance(obj, type)


def _check_skops_archive(blob, name):
    """Raise unless the skops dump holds only stored members, each once.

    skops writes its dump uncompressed; refusing anything else keeps what
    skops reads within the size of the member.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(blob)) as inner:
            infos = inner.infolist()
    except (zipfile.BadZipFile, ValueError, OSError, NotImplementedError) as exc:
        raise ModelFileError(f"{name}: {PIPELINE_SKOPS} is not a skops dump.") from exc
    names = [info.filename for info in infos]
    if (
        len(infos) > 64 * MAX_MEMBERS
        or len(set(names)) != len(names)
        or any(info.compress_type != zipfile.ZIP_STORED for info in infos)
        or sum(info.file_size for info in infos) > len(blob)
    ):
        raise ModelFileError(
            f"{name}: {PIPELINE_SKOPS} holds compressed, repeated or oversized "
            "members; sklearn_mtl.save writes none."
        )
