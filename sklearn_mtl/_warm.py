"""Continuing training: what may change between calls, and what is carried over.

A warm-start ``fit`` or a ``partial_fit`` builds a new net from the current
hyperparameters and carries the fitted net's learnt state into it: weights
(and which are frozen), optimiser moments, the task weighting's state, the
affinity recorder, the row-shuffling generator and the history. Changed
training settings (``lr``, ``alpha``, ``batch_size``, ``tol``, the
optimiser, ...) therefore apply on the next call, and the fitted net is never
modified in place: a call that fails leaves it as it was.
"""

import copy
from numbers import Integral

import joblib
import numpy as np

__all__ = [
    "architecture_of",
    "carry_training_state",
    "check_same_architecture",
    "record_group_settings",
]


def _plain(value):
    """Return a comparable, JSON-friendly form of a hyperparameter value."""
    if isinstance(value, (str, bool, type(None))):
        return value
    if isinstance(value, Integral):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(v) for v in value]
    return repr(value)


def architecture_of(estimator):
    """Return the hyperparameters that shape the network, as plain values."""
    architecture = {
        name: _plain(getattr(estimator, name, None))
        for name in estimator._architecture_params
    }
    architecture.update(
        {f"trunk__{k}": _plain(v) for k, v in estimator._trunk_params().items()}
    )
    return architecture


def check_same_architecture(estimator, fitted):
    """Raise a ValueError if a parameter that shapes the network has changed.

    Parameters
    ----------
    estimator : BaseNetworkRegressor
        The estimator, with its current hyperparameters.
    fitted : dict or None
        :func:`architecture_of` at the time of the first fit (None for a
        model loaded from a file written before it was recorded).
    """
    if fitted is None:
        return
    current = architecture_of(estimator)
    changed = [
        name
        for name in sorted(set(current) | set(fitted))
        if current.get(name) != fitted.get(name)
    ]
    if changed:
        shown = ", ".join(
            f"{name}={fitted.get(name)!r} -> {current.get(name)!r}" for name in changed
        )
        raise ValueError(
            f"{type(estimator).__name__} was fitted with another network "
            f"architecture ({shown}); warm_start=True and partial_fit continue "
            "training the fitted network and cannot change it. Set the old "
            "values back, or fit anew with warm_start=False."
        )


def group_settings(optimizer):
    """Return the hyperparameters of each parameter group (``params`` left out)."""
    return [
        {k: v for k, v in group.items() if k != "params"}
        for group in optimizer.param_groups
    ]


def record_group_settings(net):
    """Remember the group settings a freshly initialised net got from the estimator."""
    net.group_settings_ = {
        name: group_settings(getattr(net, f"{name}_")) for name in net._optimizers
    }


def _equal(a, b):
    try:
        return bool(a == b)
    except (TypeError, ValueError, RuntimeError):
        return False


def _same_strategy(a, b):
    return type(a) is type(b) and joblib.hash(a.get_params()) == joblib.hash(
        b.get_params()
    )


def carry_training_state(new, old):
    """Copy ``old``'s learnt state into the freshly initialised net ``new``.

    The optimiser's moments are carried when the optimiser class and its
    parameter groups are unchanged (the groups' hyperparameters, such as
    ``lr``, come from the new settings); otherwise the new optimiser starts
    afresh. The task weighting's state is carried when the strategy is
    unchanged. ``old`` is only read.
    """
    new.module_.load_state_dict(old.module_.state_dict())
    # freezing callbacks act at a given epoch, which a continued run is past
    trainable = {n: p.requires_grad for n, p in old.module_.named_parameters()}
    for name, param in new.module_.named_parameters():
        param.requires_grad_(trainable.get(name, param.requires_grad))
    for name in old._optimizers:
        before, after = getattr(old, f"{name}_"), getattr(new, f"{name}_")
        sizes = [len(g["params"]) for g in before.param_groups]
        if type(before) is not type(after) or sizes != [
            len(g["params"]) for g in after.param_groups
        ]:
            continue
        settings = group_settings(after)
        previous = getattr(old, "group_settings_", {}).get(name)
        # torch loads the moments without copying them: copy, or the new
        # optimiser's steps would change the fitted net's
        after.load_state_dict(copy.deepcopy(before.state_dict()))
        for i, (group, values) in enumerate(
            zip(after.param_groups, settings, strict=True)
        ):
            for key, value in values.items():
                # a setting the estimator changed applies; one it did not
                # keeps its current value (which a scheduler may have moved)
                if previous is None or not _equal(previous[i].get(key), value):
                    group[key] = value
    if _same_strategy(old.task_weighting, new.task_weighting):
        new.task_weighting = copy.deepcopy(old.task_weighting)
    if getattr(old, "affinity_", None) is not None and new.affinity_ is not None:
        new.affinity_ = copy.deepcopy(old.affinity_)
    if old.shuffle_generator is not None and new.shuffle_generator is not None:
        new.shuffle_generator.set_state(old.shuffle_generator.get_state())
    new.history = copy.deepcopy(old.history)
