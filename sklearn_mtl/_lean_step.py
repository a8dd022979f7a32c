"""The training step as a hand-written loop takes it, where nothing needs more.

skorch's ``train_step`` reaches the loss through an accumulator, a closure
given to the optimizer, ``train_step_single``, ``infer`` and ``get_loss``,
and the network through the ``__call__`` of each container; on a 16-unit
network that is 25-34 µs of a 225-270 µs step (``bench_speed.py
--profile``). When the objective is one fused mean squared error
(:meth:`MultiTaskNet._mean_squared_error`), the optimizer one of torch's
that call their closure once, and nothing in the net, its module or its
callbacks listens to a batch, :func:`lean_training_step` gives a step that
runs what those layers run, in the same order, and nothing else: zero the
gradients, forward (through the layers' torch functions where the module is
this package's default network), the per-task sums kept for the history,
``mse_loss`` plus the penalty, backward, the optimizer's step. A batch that
does not qualify (a NaN label, or a sample weight other than 1) takes the
net's step.
"""

import torch
import torch.nn.functional as F
from torch import nn

from ._inference import _calls, _global_hooks, _has_hooks
from ._tensors import TensorBatches, unit_counts_and_present
from .weighting._fixed import EqualWeighting

__all__ = ["lean_training_step"]

# optimizers whose step calls the closure once (LBFGS calls it many times)
_ONE_CALL_OPTIMIZERS = (torch.optim.Adam, torch.optim.AdamW, torch.optim.SGD)
# the net's methods a step passes through; a subclass or an instance that
# replaces one keeps them
_NET_METHODS = (
    "train_step_single",
    "infer",
    "get_loss",
    "_mean_squared_error",
    "_zero_grad_optimizer",
    "_step_optimizer",
)


def lean_training_step(net, iterator):
    """Return ``net``'s training step for this epoch's batches, or None.

    None unless every batch of ``iterator`` can take the fused objective
    through the steps described in the module's docstring. The returned
    step takes a batch and returns ``{"loss": ..., "y_pred": ...}``, as
    skorch's.
    """
    from ._net import MultiTaskNet

    if not (
        type(iterator) is TensorBatches
        and type(net.criterion_) is nn.MSELoss
        and type(net.task_weighting) is EqualWeighting
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
    optimizer, penalty = net.optimizer_, net.penalty
    fallback = net._train_step_without_hooks
    net._set_training(True)

    def step(batch, **fit_params):
        X, y = batch
        if (
            fit_params
            or type(X) is not torch.Tensor
            or unit_counts_and_present(y[1]) is None
        ):
            return fallback(batch, **fit_params)
        Y = y[0]
        optimizer.zero_grad()
        with torch.enable_grad():  # as in the optimizer's closure
            y_pred = forward(X)
            if y_pred.shape != Y.shape:  # the net's own masked loss
                loss = net.get_loss(y_pred, y, X=X, training=True)
            else:
                net._defer_squared_errors(y_pred.detach(), Y, True)
                loss = F.mse_loss(y_pred, Y)
                if penalty is not None:
                    loss = loss + penalty(module)
            loss.backward()
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
