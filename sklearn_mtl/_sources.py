"""What a transfer source can be, and how its trunk (and head) are found."""

import warnings
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.utils.validation import check_is_fitted
from skorch import NeuralNet
from torch import nn

from ._base import BaseNetwork
from .modules import TaskHeadsModule

__all__ = ["Source", "check_feature_names", "linear_adapter", "resolve_source"]


@dataclass
class Source:
    """The parts of a pretrained source that a transfer uses.

    Attributes
    ----------
    trunk : torch.nn.Module
        The caller's trunk; only ever deep-copied, never trained.
    head : torch.nn.Linear or None
        The source's linear heads, when it has them (a prior for the new head).
    target_mean, target_scale : ndarray or None
        The source's target standardisation, with ``head``.
    n_features : int or None
        Input width the trunk expects, when it can be read off the trunk.
    feature_names : ndarray of str or None
        The column names an estimator source was fitted on, if it had any.
    is_estimator : bool
        Whether the source is one of this package's estimators (which record
        feature names when fitted on a DataFrame).
    input_shape : tuple of int or None
        The shape of one sample the source estimator was fitted on.
    """

    trunk: nn.Module
    head: nn.Linear | None = None
    target_mean: np.ndarray | None = None
    target_scale: np.ndarray | None = None
    n_features: int | None = None
    feature_names: np.ndarray | None = None
    is_estimator: bool = False
    input_shape: tuple | None = None


def _input_width(trunk):
    """``in_features`` when the trunk's first layer with weights is Linear, else None.

    A trunk that starts with a convolution or an embedding reads inputs of
    another shape; a forward pass on the target's ``X`` checks those.
    """
    for layer in trunk.modules():
        if any(True for _ in layer.parameters(recurse=False)):
            return layer.in_features if isinstance(layer, nn.Linear) else None
    return None


def _trunk_of(module, owner):
    """Return ``module.trunk``, or an ``nn.Sequential`` minus its last Linear."""
    if isinstance(getattr(module, "trunk", None), nn.Module):
        return module.trunk
    if isinstance(module, nn.Sequential) and isinstance(module[-1], nn.Linear):
        return module[:-1]
    raise TypeError(
        f"Cannot find the trunk of the {owner}'s module {type(module).__name__}: "
        "give a module with a `.trunk` attribute, an nn.Sequential ending in "
        "nn.Linear (the head), or pass the trunk module itself as source."
    )


def resolve_source(source):
    """Return the :class:`Source` for a ``TransferEstimator(source=...)`` value.

    Parameters
    ----------
    source : fitted estimator of this package, FrozenEstimator of one, \
            fitted skorch NeuralNet, or torch.nn.Module
        The pretrained model. A plain module is taken as the trunk itself
        (or its ``.trunk`` when it has one).

    Returns
    -------
    source : Source
        Its trunk and, for this package's estimators, its linear head.

    Raises
    ------
    NotFittedError
        For an unfitted estimator or an uninitialised skorch net.
    TypeError
        For any other type.
    """
    if isinstance(source, FrozenEstimator):
        source = source.estimator
    if isinstance(source, BaseNetwork):
        name = type(source).__name__
        check_is_fitted(
            source,
            msg=f"The source {name} is not fitted yet: fit it on the source data "
            "before passing it as source (or use source=None to train from scratch).",
        )
        module = source.net_.module_
        heads = module.heads
        # a regressor's linear heads are a prior for a new regression head;
        # a classifier's logits are not
        linear = (
            isinstance(heads, TaskHeadsModule)
            and heads.output is not None
            and getattr(source, "_classes", None) is None
        )
        return Source(
            trunk=module.trunk,
            head=heads.output if linear else None,
            target_mean=source._target_mean,
            target_scale=source._target_scale,
            # the width a linear adapter maps to: only for a trunk of flat rows
            n_features=source.n_features_in_
            if len(getattr(source, "_input_shape", (None,))) == 1
            else None,
            feature_names=getattr(source, "feature_names_in_", None),
            is_estimator=True,
            input_shape=getattr(source, "_input_shape", None),
        )
    if isinstance(source, NeuralNet):
        if not getattr(source, "initialized_", False):
            raise NotFittedError(
                "The source skorch net is not initialized: fit it before passing it "
                "as source."
            )
        trunk = _trunk_of(source.module_, "skorch net")
        return Source(trunk=trunk, n_features=_input_width(trunk))
    if isinstance(source, nn.Module):
        trunk = (
            source.trunk
            if isinstance(getattr(source, "trunk", None), nn.Module)
            else source
        )
        return Source(trunk=trunk, n_features=_input_width(trunk))
    raise TypeError(
        "source must be a fitted estimator of sklearn_mtl (or a "
        "FrozenEstimator of one), a fitted skorch NeuralNet, a torch.nn.Module trunk, "
        f"or None; got {type(source).__name__}."
    )


def check_feature_names(source, feature_names, input_adapter):
    """Compare the target's column names with those the source was fitted on.

    A renamed or reordered column would silently feed the trunk the wrong
    feature: that is an error. Where only one side has names, nothing can be
    checked, which a warning says. With ``input_adapter=True`` the columns
    need not match.

    Parameters
    ----------
    source : Source or None
        The resolved source.
    feature_names : ndarray of str or None
        The target's ``feature_names_in_``.
    input_adapter : bool
        Whether a learnt map sits in front of the trunk.
    """
    if source is None or input_adapter or not source.is_estimator:
        return
    theirs = source.feature_names
    if feature_names is None and theirs is None:
        return
    if feature_names is None or theirs is None:
        which = "the source" if feature_names is not None else "X"
        warnings.warn(
            f"{which} has no feature names, so TransferEstimator cannot check "
            "that X's columns are the source's, in the same order. Give both "
            "DataFrames (or both arrays) to have them checked.",
            UserWarning,
            stacklevel=7,  # the caller of fit
        )
        return
    if len(feature_names) == len(theirs) and np.array_equal(feature_names, theirs):
        return
    missing = [c for c in theirs if c not in set(feature_names)][:5]
    extra = [c for c in feature_names if c not in set(theirs)][:5]
    detail = (
        f"missing {missing}, unexpected {extra}"
        if missing or extra
        else "the same names in another order"
    )
    raise ValueError(
        f"X's columns do not match the feature names the source was fitted "
        f"on ({detail}). The trunk reads features by position: select and "
        "order X's columns as the source's (X[source.feature_names_in_]), "
        "or set input_adapter=True to learn a map from these columns."
    )


def linear_adapter(example, expected):
    """Return a linear map from X's columns to the width a trunk reads.

    Initialised to the identity when the widths match.

    Parameters
    ----------
    example : ndarray of shape (n, n_features)
        A few rows of the target's ``X``.
    expected : int or None
        The trunk's input width, when it is known.

    Returns
    -------
    adapter : torch.nn.Linear
        ``n_features -> expected``.
    """
    if example.ndim != 2:
        raise ValueError(
            "input_adapter=True learns a linear map from the columns of a 2-D "
            f"X; this X has samples of shape {example.shape[1:]}. Shape X the "
            "way the source trunk reads it instead."
        )
    if expected is None:
        raise ValueError(
            "input_adapter=True needs the input width of the source trunk, which "
            "can be read only when its first layer with weights is nn.Linear "
            "(or the source is a fitted estimator of this package). Give X the "
            "shape the trunk reads, or put your own adapter in front of it."
        )
    n_features = example.shape[1]
    adapter = nn.Linear(n_features, expected)
    if n_features == expected:
        with torch.no_grad():
            adapter.weight.copy_(torch.eye(n_features))
            adapter.bias.zero_()
    return adapter
