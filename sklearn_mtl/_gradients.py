"""Per-task gradients on the shared parameters, for gradient-based weighting."""

import torch

__all__ = ["shared_parameters", "task_jacobian", "add_to_grads"]


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


def add_to_grads(params, flat_gradient):
    """Add a flat gradient vector to the ``.grad`` of ``params``, in order."""
    offset = 0
    for p in params:
        n = p.numel()
        piece = flat_gradient[offset : offset + n].view_as(p)
        p.grad = piece.clone() if p.grad is None else p.grad + piece
        offset += n
