"""PyTorch modules: shared layers and one head per task, in three sharing styles.

- Hard sharing, :class:`MultiTaskModule`: ``heads(trunk(x))``. The trunk is
  any module mapping ``(n, n_features)`` to ``(n, d)``; :func:`make_mlp` builds
  the default one.
- Soft sharing, :class:`SoftSharingModule`: every task has its own trunk; the
  estimator's ``sharing_alpha`` penalty pulls the trunks toward their mean.
- Multi-gate mixture of experts, :class:`MixtureOfExpertsModule`: shared expert
  trunks mixed by one softmax gate per task.

:class:`TaskHeadsModule` holds one head per task and :class:`BatchedMLP` a
stack of same-shaped MLPs; both evaluate all copies at once, so ``T`` heads or
trunks cost one batched matrix product, not ``T`` Python calls.

Every module here has ``shared_parameters()`` (what all tasks' losses flow
through: what gradient-based task weighting combines) and
``task_parameters()`` (weight tensors whose first dimension is the task: what
``sharing_alpha`` pulls toward their mean).
"""

import math

import torch
from torch import nn

__all__ = [
    "ACTIVATIONS",
    "SeededDropout",
    "make_mlp",
    "BatchedMLP",
    "TaskHeadsModule",
    "MultiTaskModule",
    "SoftSharingModule",
    "MixtureOfExpertsModule",
]

ACTIVATIONS = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "logistic": nn.Sigmoid,
    "identity": nn.Identity,
    "gelu": nn.GELU,
}


class SeededDropout(nn.Dropout):
    """``nn.Dropout`` that draws its masks from its own generator when it has one.

    torch's dropout draws from the process-wide generator, so two seeded fits
    in two threads would interleave their draws. The estimators give each
    fit's dropout layers a generator of their own (``generator``); without
    one, this is exactly ``nn.Dropout``. The generator is not part of the
    state dict, a copy or a pickle.
    """

    def __init__(self, p=0.5):
        super().__init__(p)
        self.generator = None

    def forward(self, x):
        """Zero each element with probability ``p`` and rescale the rest."""
        if not self.training or self.p == 0 or self.generator is None:
            return super().forward(x)
        keep = torch.empty_like(x).bernoulli_(1 - self.p, generator=self.generator)
        return x * keep / (1 - self.p)

    def __getstate__(self):
        state = self.__dict__.copy()
        state["generator"] = None
        return state


def seed_dropout(module, seed, device):
    """Give every :class:`SeededDropout` of ``module`` one generator from ``seed``."""
    layers = [m for m in module.modules() if isinstance(m, SeededDropout)]
    if layers:
        generator = torch.Generator(device=device).manual_seed(seed)
        for layer in layers:
            layer.generator = generator


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
            layers.append(SeededDropout(dropout))
        width = size
    mlp = nn.Sequential(*layers)
    mlp.out_features = width
    return mlp


def _uniform(shape, fan_in):
    """Draw ``nn.Linear``'s default initialisation; return a tensor."""
    bound = 1.0 / math.sqrt(fan_in)
    return torch.empty(*shape).uniform_(-bound, bound)


class BatchedMLP(nn.Module):
    """``n_copies`` MLPs of the same shape, evaluated as batched matmuls.

    Each copy is ``Linear -> activation [-> Dropout]`` per hidden size, with
    PyTorch's default ``nn.Linear`` initialisation.

    Parameters
    ----------
    n_inputs : int
        Width of the input.
    n_copies : int
        Number of independent MLPs.
    layer_sizes : sequence of int
        Hidden widths (at least one).
    activation : str, default="relu"
        Non-linearity (a key of ``ACTIVATIONS``).
    dropout : float, default=0.0
        Dropout after each activation.
    same_init : bool, default=False
        Start every copy from the same random weights (soft sharing starts
        at the tasks' mean, like hard sharing) instead of independent ones
        (experts must differ).

    Examples
    --------
    >>> import torch
    >>> from sklearn_mtl.modules import BatchedMLP
    >>> BatchedMLP(5, n_copies=3, layer_sizes=(8,))(torch.zeros(10, 5)).shape
    torch.Size([3, 10, 8])
    """

    def __init__(
        self,
        n_inputs,
        n_copies,
        layer_sizes,
        activation="relu",
        dropout=0.0,
        same_init=False,
    ):
        super().__init__()
        widths = list(zip([n_inputs, *layer_sizes][:-1], layer_sizes, strict=True))
        drawn, repeats = (1, n_copies) if same_init else (n_copies, 1)
        self.weights = nn.ParameterList(
            nn.Parameter(
                _uniform((drawn, fan_in, fan_out), fan_in).repeat(repeats, 1, 1)
            )
            for fan_in, fan_out in widths
        )
        self.biases = nn.ParameterList(
            nn.Parameter(_uniform((drawn, 1, fan_out), fan_in).repeat(repeats, 1, 1))
            for fan_in, fan_out in widths
        )
        self.n_copies = n_copies
        self.out_features = layer_sizes[-1]
        self.activation = ACTIVATIONS[activation]()
        self.dropout = SeededDropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, x):
        """Map ``(n, d)`` (shared) or ``(n_copies, n, d)`` to ``(n_copies, n, h)``."""
        z = x if x.dim() == 3 else x.unsqueeze(0).expand(self.n_copies, *x.shape)
        for weight, bias in zip(self.weights, self.biases, strict=True):
            z = self.dropout(self.activation(torch.baddbmm(bias, z, weight)))
        return z


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
    output_tasks : sequence of int, default=None
        For a task with several outputs (a class's logit, a quantile), the
        task of each output: with per-task features ``(n_feature_tasks, n, d)``
        output ``j`` reads those of task ``output_tasks[j]``. None: one output
        per task. Each output has its own head layers.
    """

    def __init__(
        self,
        n_inputs,
        n_tasks,
        layer_sizes=(),
        activation="relu",
        dropout=0.0,
        output_tasks=None,
    ):
        super().__init__()
        self.n_tasks = n_tasks
        self.output_tasks = None
        if output_tasks is not None and list(output_tasks) != list(range(n_tasks)):
            self.output_tasks = tuple(int(t) for t in output_tasks)
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
        self.dropout = SeededDropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, h):
        """Map trunk features to ``(n, n_tasks)`` predictions.

        ``h`` is ``(n, d)`` (features shared by every task) or
        ``(n_tasks, n, d)`` (each task's own features).
        """
        if h.dim() == 3 and self.output_tasks is not None:
            h = h[list(self.output_tasks)]  # each output reads its task's features
        if self.output is not None:
            if h.dim() == 3:
                return (
                    torch.einsum("tnd,td->nt", h, self.output.weight) + self.output.bias
                )
            return self.output(h)
        z = h if h.dim() == 3 else h.unsqueeze(0).expand(self.n_tasks, *h.shape)
        last = len(self.weights) - 1
        for i, (weight, bias) in enumerate(zip(self.weights, self.biases, strict=True)):
            z = torch.baddbmm(bias, z, weight)
            if i < last:
                z = self.dropout(self.activation(z))
        return z.squeeze(-1).transpose(0, 1)

    def forward_cells(self, h, rows, tasks):
        """Predict only the cells ``(rows[k], tasks[k])``: ``(n_cells,)``.

        Linear heads on shared features ``h`` (``(n, d)``) only; ``rows`` None
        means cell ``k`` is row ``k``. The same values as
        ``self(h)[rows, tasks]``, at a cost that grows with the cells instead
        of ``n x n_tasks``.
        """
        features = h if rows is None else h.index_select(0, rows)
        weight = self.output.weight.index_select(0, tasks)
        return (features * weight).sum(dim=1) + self.output.bias.index_select(0, tasks)

    def task_parameters(self):
        """Return the weight tensors, each with the task as first dimension."""
        if self.output is not None:
            return [self.output.weight]
        return list(self.weights)


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

    def forward_cells(self, x, rows, tasks):
        """Predict the cells ``(rows[k], tasks[k])`` only (see ``TaskHeadsModule``)."""
        return self.heads.forward_cells(self.trunk(x), rows, tasks)

    def shared_parameters(self):
        """Return the parameters every task's prediction depends on: the trunk's."""
        return list(self.trunk.parameters())

    def task_parameters(self):
        """Return the heads' weight tensors (task first)."""
        return self.heads.task_parameters()


class SoftSharingModule(nn.Module):
    """One trunk per task (soft sharing): ``heads(trunks(x))``.

    Nothing is shared in the forward pass; the estimator's ``sharing_alpha``
    penalty pulls each task's trunk and head weights toward their mean over
    tasks (mean-regularised multi-task learning, Evgeniou & Pontil 2004).

    Parameters
    ----------
    trunks : BatchedMLP
        ``n_tasks`` trunks, ``(n, n_features) -> (n_tasks, n, d)``.
    heads : TaskHeadsModule
        One head per task, applied to its own trunk's features.
    """

    def __init__(self, trunks, heads):
        super().__init__()
        self.trunks = trunks
        self.heads = heads

    def forward(self, x):
        """Predict all tasks for a batch ``x`` of shape ``(n, n_features)``."""
        return self.heads(self.trunks(x))

    def shared_parameters(self):
        """Return the trunks' parameters (each task's gradient touches its own)."""
        return list(self.trunks.parameters())

    def task_parameters(self):
        """Return the trunks' and heads' weight tensors (task first)."""
        return [*self.trunks.weights, *self.heads.task_parameters()]


class MixtureOfExpertsModule(nn.Module):
    """Multi-gate mixture of experts (MMoE, Ma et al. 2018).

    ``n_experts`` shared expert trunks; task ``t`` sees
    ``sum_e softmax(x @ G_t)_e * expert_e(x)`` and feeds it to its own head.

    Parameters
    ----------
    experts : BatchedMLP
        The experts, ``(n, n_features) -> (n_experts, n, d)``.
    n_tasks : int
        Number of gates and heads.
    heads : TaskHeadsModule
        One head per task, applied to that task's mixture.
    """

    def __init__(self, experts, n_tasks, heads):
        super().__init__()
        n_inputs = experts.weights[0].shape[1]
        self.experts = experts
        n_experts = experts.n_copies
        self.gate_weight = nn.Parameter(
            _uniform((n_tasks, n_inputs, n_experts), n_inputs)
        )
        self.gate_bias = nn.Parameter(_uniform((n_tasks, 1, n_experts), n_inputs))
        self.heads = heads

    def forward(self, x):
        """Predict all tasks for a batch ``x`` of shape ``(n, n_features)``."""
        outputs = self.experts(x)  # (n_experts, n, d)
        shared_x = x.unsqueeze(0).expand(self.gate_weight.shape[0], *x.shape)
        gates = torch.softmax(
            torch.baddbmm(self.gate_bias, shared_x, self.gate_weight), dim=-1
        )  # (n_tasks, n, n_experts)
        return self.heads(torch.einsum("tne,end->tnd", gates, outputs))

    def shared_parameters(self):
        """Return the experts' parameters."""
        return list(self.experts.parameters())

    def task_parameters(self):
        """Return the gates' and heads' weight tensors (task first)."""
        return [self.gate_weight, *self.heads.task_parameters()]
