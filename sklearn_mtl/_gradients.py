"""Per-task gradients on the shared parameters, for gradient-based weighting."""

import torch
from torch import nn

from .modules import (
    BatchedMLP,
    MixtureOfExpertsModule,
    MultiTaskModule,
    SoftSharingModule,
    TaskHeadsModule,
)

__all__ = [
    "shared_parameters",
    "task_jacobian",
    "subset_task_jacobian",
    "rows_are_independent",
    "add_to_grads",
]

# module types whose training-mode forward pass maps each row on its own and
# deterministically (dropout only with p == 0)
_ROWWISE = (
    nn.Linear,
    nn.Identity,
    nn.Sequential,
    nn.ModuleList,
    nn.ModuleDict,
    nn.ParameterList,
    nn.ParameterDict,
    nn.LayerNorm,
    BatchedMLP,
    TaskHeadsModule,
    MultiTaskModule,
    SoftSharingModule,
    MixtureOfExpertsModule,
)
# element-wise activations (torch.nn.modules.activation) less those that mix
# rows for some settings
_NOT_ROWWISE = (nn.MultiheadAttention, nn.Softmax, nn.Softmin, nn.LogSoftmax)


def shared_parameters(module):
    """Return the trainable parameters every task's loss flows through.

    A module may say which they are with a ``shared_parameters()`` method
    (every module in :mod:`sklearn_mtl.modules` does); otherwise they are the
    parameters of its ``trunk``.
    """
    if hasattr(module, "shared_parameters"):
        params = list(module.shared_parameters())
    elif hasattr(module, "trunk"):
        params = list(module.trunk.parameters())
    else:
        raise TypeError(
            f"{type(module).__name__} has neither shared_parameters() nor a .trunk: "
            "gradient-based task weighting and task_affinity need to know which "
            "parameters the tasks share."
        )
    return [p for p in params if p.requires_grad]


def task_jacobian(task_losses, params):
    """Return the ``(k, n_params)`` Jacobian of ``k`` task losses, flattened.

    The graph is kept, so the caller can still back-propagate through it.
    One vectorised backward pass when torch can batch it, else one per task.
    """
    k = task_losses.shape[0]
    eye = torch.eye(k, dtype=task_losses.dtype, device=task_losses.device)
    try:
        grads = torch.autograd.grad(
            task_losses,
            params,
            grad_outputs=eye,
            retain_graph=True,
            is_grads_batched=True,
            allow_unused=True,
        )
    except RuntimeError:  # an operation without a batching rule
        rows = [
            torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
            for loss in task_losses
        ]
        grads = [
            torch.stack(
                [row[i] if row[i] is not None else torch.zeros_like(p) for row in rows]
            )
            for i, p in enumerate(params)
        ]
    flat = [
        (g if g is not None else torch.zeros(k, *p.shape, device=p.device)).reshape(
            k, -1
        )
        for g, p in zip(grads, params, strict=True)
    ]
    return torch.cat(flat, dim=1)


def rows_are_independent(module):
    """Whether ``module``'s training forward pass treats each row alone.

    True when every submodule is a layer known to map rows independently and
    deterministically (linear layers, element-wise activations, layer norm,
    containers, dropout with ``p == 0``, and this package's modules); False
    for anything else, such as batch normalisation, active dropout or a
    module this function does not know.
    """
    for m in module.modules():
        if isinstance(m, nn.modules.dropout._DropoutNd):
            if m.p > 0:
                return False
        elif isinstance(m, _NOT_ROWWISE):
            return False
        elif not (
            isinstance(m, _ROWWISE)
            or type(m).__module__ == "torch.nn.modules.activation"
        ):
            return False
    return True


def subset_task_jacobian(net, X, y, task_losses, tasks, params):
    """Return the Jacobian of the losses of ``tasks``, using only their rows.

    A task's loss depends only on the rows labelled for it. When the module
    treats rows independently (:func:`rows_are_independent`) and those rows
    are under half of the mini-batch, the losses of ``tasks`` are computed
    again from a forward pass over those rows only, and differentiated there:
    the same gradients (up to rounding) for a fraction of the cost. Otherwise
    the Jacobian is taken through the whole batch's graph.

    Parameters
    ----------
    net : MultiTaskNet
        The net being trained (its ``module_`` and ``task_losses``).
    X : torch.Tensor
        The mini-batch's inputs.
    y : tuple of torch.Tensor
        The mini-batch's ``(Y, cell_weights)``.
    task_losses : torch.Tensor of shape (n_tasks,)
        The mini-batch's task losses, with their graph.
    tasks : torch.Tensor of int64
        The tasks whose gradients to compute.
    params : list of torch.nn.Parameter
        The parameters to differentiate with respect to.

    Returns
    -------
    jacobian : torch.Tensor of shape (len(tasks), n_params)
        As :func:`task_jacobian`.
    """
    Y, cell_weights = y
    rows = (cell_weights[:, tasks] != 0).any(dim=1)
    # the module's layers do not change during training: check them once
    cached = getattr(net, "_rowwise_module", None)
    if cached is None or cached[0] is not net.module_:
        cached = (net.module_, rows_are_independent(net.module_))
        net._rowwise_module = cached
    if not torch.is_tensor(X) or not cached[1] or 2 * int(rows.sum()) >= len(rows):
        return task_jacobian(task_losses[tasks], params)
    sub_losses, _ = net.task_losses(net.module_(X[rows]), (Y[rows], cell_weights[rows]))
    return task_jacobian(sub_losses[tasks], params)


def add_to_grads(params, flat_gradient):
    """Add a flat gradient vector to the ``.grad`` of ``params``, in order."""
    offset = 0
    for p in params:
        n = p.numel()
        piece = flat_gradient[offset : offset + n].view_as(p)
        p.grad = piece.clone() if p.grad is None else p.grad + piece
        offset += n
