"""What a transfer source can be, and how its trunk (and head) are found."""

from dataclasses import dataclass

import numpy as np
import torch
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.utils.validation import check_is_fitted
from skorch import NeuralNet
from torch import nn

from ._base import BaseNetworkRegressor
from .modules import TaskHeadsModule

__all__ = ["Source", "resolve_source"]


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
    """

    trunk: nn.Module
    head: nn.Linear | None = None
    target_mean: np.ndarray | None = None
    target_scale: np.ndarray | None = None
    n_features: int | None = None


def _input_width(trunk):
    """``in_features`` of the trunk's first Linear layer, or None."""
    for layer in trunk.modules():
        if isinstance(layer, nn.Linear):
            return layer.in_features
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
    source : fitted MultiTaskRegressor or TransferEstimator, FrozenEstimator of \
            one, fitted skorch NeuralNet, or torch.nn.Module
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
    if isinstance(source, BaseNetworkRegressor):
        name = type(source).__name__
        check_is_fitted(
            source,
            msg=f"The source {name} is not fitted yet: fit it on the source data "
            "before passing it as source (or use source=None to train from scratch).",
        )
        module = source.net_.module_
        heads = module.heads
        linear = isinstance(heads, TaskHeadsModule) and heads.output is not None
        return Source(
            trunk=module.trunk,
            head=heads.output if linear else None,
            target_mean=source._target_mean,
            target_scale=source._target_scale,
            n_features=source.n_features_in_,
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
        "source must be a fitted MultiTaskRegressor or TransferEstimator (or a "
        "FrozenEstimator of one), a fitted skorch NeuralNet, a torch.nn.Module trunk, "
        f"or None; got {type(source).__name__}."
    )


def trunk_width(trunk, n_features):
    """Output width of ``trunk`` for ``n_features`` inputs, by one forward pass."""
    param = next(trunk.parameters(), None)
    device = param.device if param is not None else "cpu"
    dtype = param.dtype if param is not None else torch.float32
    was_training = trunk.training
    trunk.eval()
    try:
        with torch.no_grad():
            out = trunk(torch.zeros(2, n_features, device=device, dtype=dtype))
    finally:
        trunk.train(was_training)
    if out.dim() != 2:
        raise ValueError(
            f"The source trunk must map (n, {n_features}) inputs to (n, d) features; "
            f"it returned shape {tuple(out.shape)}."
        )
    return out.shape[1]
