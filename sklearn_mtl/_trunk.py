"""The user's own trunk: ``trunk=`` with skorch-style ``trunk__<name>`` arguments.

``trunk`` is ``None`` (the estimator's MLP), a ``torch.nn.Module`` subclass
built in ``fit`` with the ``trunk__*`` arguments, or a module instance,
deep-copied in ``fit`` so that the caller's object is never trained or moved.
The trunk maps a batch of ``X`` to ``(batch, n_out)`` features; ``n_out`` is
found by one forward pass.
"""

import copy
import difflib

import numpy as np
import torch
from torch import nn

__all__ = [
    "PREFIX",
    "RESERVED_CALLBACKS",
    "TrunkParamsMixin",
    "build_trunk",
    "check_callbacks",
    "output_width",
    "split_trunk_params",
]

PREFIX = "trunk__"
# callbacks the estimators add themselves: a user callback may not take a name
RESERVED_CALLBACKS = (
    "stopper",
    "freeze_source",
    "print_log",
    "epoch_timer",
    "train_loss",
    "valid_loss",
)


def split_trunk_params(owner, kwargs, known):
    """Return the ``trunk__*`` entries of ``kwargs``; anything else is a TypeError.

    ``known`` are the owner's other parameter names, for a "did you mean".
    """
    unknown = [key for key in kwargs if not key.startswith(PREFIX)]
    if unknown:
        key = unknown[0]
        close = difflib.get_close_matches(key, known, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise TypeError(
            f"{owner}.__init__() got an unexpected keyword argument {key!r}.{hint} "
            f"Only arguments of the trunk may be added, as {PREFIX}<name>."
        )
    return dict(kwargs)


def build_trunk(trunk, params):
    """Return a new trunk module from ``trunk=`` and its ``trunk__*`` arguments."""
    if isinstance(trunk, type) and issubclass(trunk, nn.Module):
        try:
            return trunk(**params)
        except TypeError as exc:
            raise TypeError(
                f"Could not build the trunk {trunk.__name__} with the arguments "
                f"{sorted(f'{PREFIX}{k}' for k in params)}: {exc}"
            ) from exc
    if isinstance(trunk, nn.Module):
        if params:
            raise ValueError(
                f"{sorted(f'{PREFIX}{k}' for k in params)} apply to a trunk class, "
                f"but trunk is an instance of {type(trunk).__name__}: pass the class "
                "to have it built with them, or drop them."
            )
        return copy.deepcopy(trunk)
    raise TypeError(
        "trunk must be None, a torch.nn.Module subclass or a torch.nn.Module "
        f"instance; got {trunk!r}."
    )


def output_width(trunk, example, owner="trunk"):
    """Width of ``trunk``'s features, from one forward pass on ``example``.

    Parameters
    ----------
    trunk : torch.nn.Module
        The trunk; its train/eval mode is restored afterwards.
    example : ndarray of shape (n, ...)
        A few rows of ``X`` (or zeros shaped like them).
    owner : str, default="trunk"
        How error messages name the module.

    Returns
    -------
    width : int
        ``n_out`` of the ``(n, n_out)`` features.
    """
    param = next(trunk.parameters(), None)
    device = param.device if param is not None else "cpu"
    dtype = param.dtype if param is not None and param.is_floating_point() else None
    batch = torch.as_tensor(
        np.ascontiguousarray(example), dtype=dtype or torch.float32, device=device
    )
    was_training = trunk.training
    trunk.eval()
    try:
        with torch.no_grad():
            out = trunk(batch)
    except Exception as exc:
        raise ValueError(
            f"The {owner} ({type(trunk).__name__}) failed on a batch of X of shape "
            f"{tuple(batch.shape)}: {type(exc).__name__}: {exc}. Check that X has "
            "the shape (n_samples, ...) the trunk's forward expects."
        ) from exc
    finally:
        trunk.train(was_training)
    if not isinstance(out, torch.Tensor) or out.dim() != 2:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out)
        raise ValueError(
            f"The {owner} ({type(trunk).__name__}) must map a batch of X of shape "
            f"{tuple(batch.shape)} to features of shape (batch, n_out); it "
            f"returned {shape}. Flatten its output (e.g. end it with nn.Flatten())."
        )
    return int(out.shape[1])


def check_callbacks(callbacks):
    """Return ``callbacks=`` as deep-copied ``(name, callback)`` pairs.

    Each entry is a skorch callback (named by its class, as skorch does) or a
    ``(name, callback)`` pair. The estimators' own callbacks keep their names.
    """
    if callbacks is None:
        return []
    pairs = []
    for entry in callbacks:
        if isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[0], str):
            name, callback = entry
        else:
            name, callback = type(entry).__name__, entry
        if not hasattr(callback, "initialize"):
            raise TypeError(
                f"callbacks must hold skorch callbacks or (name, callback) pairs; "
                f"got {entry!r}."
            )
        if name in RESERVED_CALLBACKS or name.startswith("unfreeze_"):
            raise ValueError(
                f"The callback name {name!r} is the estimator's own: give yours "
                "another name with a (name, callback) pair. The estimator's "
                f"callbacks are {', '.join(RESERVED_CALLBACKS)} and unfreeze_*; "
                "use its parameters (early_stopping, verbose, strategy) to change "
                "them."
            )
        pairs.append((name, copy.deepcopy(callback)))
    names = [name for name, _ in pairs]
    if len(set(names)) != len(names):
        raise ValueError(
            f"Two callbacks share a name in {names}: name them with (name, callback) "
            "pairs."
        )
    return pairs


class TrunkParamsMixin:
    """``trunk=`` and its ``trunk__<name>`` arguments, skorch's way.

    The arguments live as attributes named ``trunk__<name>``; ``get_params``
    lists them beside the ``__init__`` parameters, so ``set_params``,
    ``clone`` and searches treat them like any other hyperparameter.
    """

    def _set_trunk_params(self, trunk_params):
        known = [name for name in self._get_param_names()]
        for key, value in split_trunk_params(
            type(self).__name__, trunk_params, known
        ).items():
            setattr(self, key, value)

    def _trunk_params(self):
        """Return the ``trunk__*`` arguments, without the prefix."""
        return {
            key[len(PREFIX) :]: value
            for key, value in vars(self).items()
            if key.startswith(PREFIX)
        }

    def get_params(self, deep=True):
        """Get the hyperparameters, ``trunk__<name>`` arguments included.

        Parameters
        ----------
        deep : bool, default=True
            Also return the parameters of contained estimators.

        Returns
        -------
        params : dict
            Parameter names mapped to their values.
        """
        params = super().get_params(deep=deep)
        params.update({k: v for k, v in vars(self).items() if k.startswith(PREFIX)})
        return params

    def set_params(self, **params):
        """Set hyperparameters; ``trunk__<name>`` adds or changes a trunk argument.

        Parameters
        ----------
        **params : dict
            Estimator parameters.

        Returns
        -------
        self : estimator instance
            The estimator.
        """
        for key in [k for k in params if k.startswith(PREFIX)]:
            setattr(self, key, params.pop(key))
        return super().set_params(**params) if params else self

    def _custom_trunk(self):
        return getattr(self, "trunk", None) is not None

    def _example_input(self, example):
        """Return rows to run the trunk on: ``example``, or zeros of the fit's shape."""
        if example is not None:
            return example[:2]
        return np.zeros((2, *self._input_shape))

    def _user_trunk(self, example):
        """Build the custom trunk; return it with its output width."""
        trunk = build_trunk(self.trunk, self._trunk_params())
        return trunk, output_width(trunk, self._example_input(example))
