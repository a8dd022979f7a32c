"""PyTorch modules: a shared trunk and one head per task.

A :class:`MultiTaskModule` is ``heads(trunk(x))``. The trunk is any module
mapping ``(n, n_features)`` to ``(n, d)``; :func:`make_mlp` builds the default
one. :class:`TaskHeadsModule` holds one head per task and evaluates them all at
once, so ``T`` heads cost one batched matrix product, not ``T`` Python calls.
"""

import math

import torch
from torch import nn

__all__ = ["ACTIVATIONS", "make_mlp", "TaskHeadsModule", "MultiTaskModule"]

ACTIVATIONS = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "logistic": nn.Sigmoid,
    "identity": nn.Identity,
    "gelu": nn.GELU,
}


def make_mlp(n_inputs, layer_sizes, activation="relu", dropout=0.0):
    """Build ``Linear -> activation [-> Dropout]`` for each size in ``layer_sizes``.

    Parameters
    ----------
    n_inputs : int
        Width of the input.
    layer_sizes : sequence of int
        Width of each hidden layer. Empty gives an identity map.
    activation : {"relu", "tanh", "logistic", "identity", "gelu"}, default="relu"
        Non-linearity after each layer.
    dropout : float, default=0.0
        Dropout probability after each activation; 0 adds no dropout layer.

    Returns
    -------
    mlp : torch.nn.Sequential
        The layers; ``mlp.out_features`` is the output width.
    """
    layers, width = [], n_inputs
    for size in layer_sizes:
        layers += [nn.Linear(width, size), ACTIVATIONS[activation]()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        width = size
    mlp = nn.Sequential(*layers)
    mlp.out_features = width
    return mlp


class TaskHeadsModule(nn.Module):
    """One head per task (``d -> hidden -> 1``), evaluated as batched matmuls.

    With no hidden layers, the ``T`` linear heads are the ``T`` rows of a
    single ``nn.Linear(d, T)``: mathematically the same as ``T`` separate
    heads, and as fast as one.

    Parameters
    ----------
    n_inputs : int
        Width of the trunk's output.
    n_tasks : int
        Number of heads.
    layer_sizes : sequence of int, default=()
        Hidden widths inside each head.
    activation : str, default="relu"
        Non-linearity between head layers (a key of ``ACTIVATIONS``).
    dropout : float, default=0.0
        Dropout after each hidden head layer.
    """

    def __init__(
        self, n_inputs, n_tasks, layer_sizes=(), activation="relu", dropout=0.0
    ):
        super().__init__()
        self.n_tasks = n_tasks
        self.output = None
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        if not layer_sizes:
            self.output = nn.Linear(n_inputs, n_tasks)
            return
        widths = [n_inputs, *layer_sizes, 1]
        for fan_in, fan_out in zip(widths[:-1], widths[1:], strict=True):
            bound = 1.0 / math.sqrt(fan_in)
            self.weights.append(
                nn.Parameter(
                    torch.empty(n_tasks, fan_in, fan_out).uniform_(-bound, bound)
                )
            )
            self.biases.append(
                nn.Parameter(torch.empty(n_tasks, 1, fan_out).uniform_(-bound, bound))
            )
        self.activation = ACTIVATIONS[activation]()
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, h):
        """Map ``(n, d)`` trunk features to ``(n, n_tasks)`` predictions."""
        if self.output is not None:
            return self.output(h)
        z = h.unsqueeze(0).expand(self.n_tasks, *h.shape)
        last = len(self.weights) - 1
        for i, (weight, bias) in enumerate(zip(self.weights, self.biases, strict=True)):
            z = torch.baddbmm(bias, z, weight)
            if i < last:
                z = self.dropout(self.activation(z))
        return z.squeeze(-1).transpose(0, 1)


class MultiTaskModule(nn.Module):
    """A shared trunk followed by per-task heads: ``heads(trunk(x))``.

    Parameters
    ----------
    trunk : torch.nn.Module
        Shared layers, ``(n, n_features) -> (n, d)``.
    heads : torch.nn.Module
        ``(n, d) -> (n, n_tasks)``, usually a :class:`TaskHeadsModule`.
    """

    def __init__(self, trunk, heads):
        super().__init__()
        self.trunk = trunk
        self.heads = heads

    def forward(self, x):
        """Predict all tasks for a batch ``x`` of shape ``(n, n_features)``."""
        return self.heads(self.trunk(x))
