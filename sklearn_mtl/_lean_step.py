"""The training step as a hand-written loop takes it, where nothing needs more.

skorch's ``train_step`` reaches the loss through an accumulator, a closure
given to the optimizer, ``train_step_single``, ``infer`` and ``get_loss``,
and the network through the ``__call__`` of each container; on a 16-unit
network that is 25-34 µs of a 225-270 µs step (``bench_speed.py
--profile``). Where the net's step is its plain branch (a task weighting
that needs no per-task gradients, no task affinity, one process), the
optimizer one of torch's that call their closure once, and nothing in the
net, its module or its callbacks listens to a batch,
:func:`lean_training_step` gives a step that runs what that branch runs, in
the same order, and nothing else: zero the gradients, forward (through the
layers' torch functions where the module is this package's default
network), the net's ``get_loss`` (the fused squared error where the batch
allows it, else the masked per-task losses, plus the penalty), backward,
the weighting's ``after_backward``, the optimizer's step.
"""

import torch
from torch import nn

from ._inference import _calls, _global_hooks, _has_hooks
from ._tensors import TensorBatches

__all__ = ["lean_training_step"]

# optimizers whose step calls the closure once (LBFGS calls it many times)
_ONE_CALL_OPTIMIZERS = (torch.optim.Adam, torch.optim.AdamW, torch.optim.SGD)
# the net's methods the lean step goes around; a subclass or an instance
# that replaces one keeps them (get_loss it calls)
_NET_METHODS = (
    "train_step_single",
    "infer",
    "_zero_grad_optimizer",
    "_step_optimizer",
)


def lean_training_step(net, iterator):
    """Return ``net``'s training step for this epoch's batches, or None.

    None where the net's own step does more than the module's docstring
    lists. The returned step takes a batch and returns ``{"loss": ...,
    "y_pred": ...}``, as skorch's.
    """
    from ._net import MultiTaskNet

    if not (
        type(iterator) is TensorBatches
        and not net.task_weighting.needs_gradients
        and net.data_parallel is None
        and net.affinity_ is None
        and list(net._optimizers) == ["optimizer"]
        and type(net.optimizer_) in _ONE_CALL_OPTIMIZERS
        and all(
            getattr(type(net), name) is getattr(MultiTaskNet, name)
            and name not in vars(net)  # nor replaced on the instance
            for name in _NET_METHODS
        )
    ):
        return None
    module = net.module_
    layers = tuple(module.modules())
    if any(isinstance(layer, nn.Dropout) and layer.p > 0 for layer in layers):
        calls = None  # _calls runs dropout as in eval mode
    elif _global_hooks() or any(map(_has_hooks, layers)):
        calls = None
    else:
        calls = _calls(module)
    forward = module if calls is None else _layers_forward(calls)
    optimizer, weighting = net.optimizer_, net.task_weighting
    fallback = net._train_step_without_hooks
    net._set_training(True)

    def step(batch, **fit_params):
        X, y = batch
        if fit_params or type(X) is not torch.Tensor:
            return fallback(batch, **fit_params)
        optimizer.zero_grad()
        with torch.enable_grad():  # as in the optimizer's closure
            y_pred = forward(X)
            loss = net.get_loss(y_pred, y, X=X, training=True)
            loss.backward()
        weighting.after_backward()
        optimizer.step()
        return {"loss": loss, "y_pred": y_pred}

    return step


def _layers_forward(calls):
    """Return the forward that applies ``calls`` in turn."""

    def forward(x):
        for call in calls:
            x = call(x)
        return x

    return forward
