"""Task types as loss objects: output width, element-wise loss and inverse link.

Each task of a network is one :class:`TaskLoss`: it says how many raw outputs
(columns of the network's output) the task needs, the loss of a labelled cell
given those outputs, whether its target is standardised, and how raw outputs
become predictions. :class:`TaskLossCriterion` evaluates the losses of every
task of a batch at once, one vectorised call per *kind* of task (never a
Python loop over tasks), as sklearn's ``_loss`` module lets its estimators
pick a loss by name and never branch on the task type again.
"""

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

__all__ = [
    "LOSSES",
    "REGRESSION_LOSSES",
    "Binary",
    "Multiclass",
    "Quantile",
    "Regression",
    "TaskLoss",
    "TaskLossCriterion",
    "output_columns",
]

# torch's losses for networks whose tasks all have one regression loss (with
# reduction="none" they are element-wise on any shape: the fastest criterion)
LOSSES = {
    "squared_error": nn.MSELoss,
    "huber": nn.HuberLoss,
    "absolute_error": nn.L1Loss,
}
# element-wise regression losses on standardised targets
REGRESSION_LOSSES = {
    "squared_error": lambda raw, y: (raw - y).pow(2),
    "huber": lambda raw, y: F.huber_loss(raw, y, reduction="none", delta=1.0),
    "absolute_error": lambda raw, y: (raw - y).abs(),
}


def _public(loss):
    """Return a loss object's settings, without its caches."""
    return {k: v for k, v in vars(loss).items() if not k.startswith("_")}


class TaskLoss:
    """One task type. Subclasses set ``n_outputs`` and define the methods.

    ``elementwise(raw, y)`` takes the raw outputs of ``G`` tasks of this type,
    ``(n, G, n_outputs)``, and their targets ``(n, G)`` (standardised values,
    or class codes as floats; 0 where unlabelled) and returns ``(n, G)``.
    """

    n_outputs = 1
    standardize = True  # whether the target is centred and scaled for training
    is_classifier = False
    scale = 1.0  # the task's loss is divided by it (see TaskLossCriterion)

    def key(self):
        """Tasks with equal keys share one vectorised loss call."""
        return (type(self).__name__, self.n_outputs)

    def elementwise(self, raw, y):
        raise NotImplementedError

    def __eq__(self, other):
        return type(other) is type(self) and _public(other) == _public(self)

    def __hash__(self):
        return hash(self.key())

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in _public(self).items())
        return f"{type(self).__name__}({args})"


class Regression(TaskLoss):
    """A regression task with one of :data:`REGRESSION_LOSSES`."""

    def __init__(self, loss="squared_error"):
        self.loss = loss

    def key(self):
        return ("Regression", self.loss)

    def elementwise(self, raw, y):
        return REGRESSION_LOSSES[self.loss](raw[..., 0], y)


class Quantile(TaskLoss):
    """A regression task with the pinball loss at several quantiles.

    The loss of a cell is the mean over ``quantiles`` of
    ``max(q * (y - f_q), (q - 1) * (y - f_q))``; each quantile has its own
    output.
    """

    def __init__(self, quantiles):
        self.quantiles = tuple(float(q) for q in quantiles)
        self.n_outputs = len(self.quantiles)
        self._levels = {}

    def key(self):
        return ("Quantile", self.quantiles)

    def __getstate__(self):
        return {**vars(self), "_levels": {}}  # the cache stays on its device

    def elementwise(self, raw, y):
        q = self._levels.get((raw.dtype, raw.device))
        if q is None:  # made once per dtype and device, not every batch
            q = torch.tensor(self.quantiles, dtype=raw.dtype, device=raw.device)
            self._levels[(raw.dtype, raw.device)] = q
        diff = y.unsqueeze(-1) - raw
        return torch.maximum(q * diff, (q - 1) * diff).mean(dim=-1)


class Binary(TaskLoss):
    """A two-class task: one logit, the binary cross-entropy (class codes 0/1)."""

    standardize = False
    is_classifier = True

    def __init__(self, scale=1.0):
        self.scale = float(scale)

    def elementwise(self, raw, y):
        return F.binary_cross_entropy_with_logits(raw[..., 0], y, reduction="none")

    @staticmethod
    def proba(raw):
        """``(n, 1)`` float64 logits -> ``(n, 2)`` class probabilities."""
        p = 1.0 / (1.0 + np.exp(-raw[:, 0]))
        return np.column_stack((1.0 - p, p))

    @staticmethod
    def log_proba(raw):
        """Log of :meth:`proba`, computed without underflow."""
        z = raw[:, 0]
        return np.column_stack((-np.logaddexp(0.0, z), -np.logaddexp(0.0, -z)))


class Multiclass(TaskLoss):
    """A task of ``n_classes`` classes: one logit each, the cross-entropy.

    One class (a task labelled with a single class so far) is allowed: its
    loss is 0 and its probability 1.
    """

    standardize = False
    is_classifier = True

    def __init__(self, n_classes, scale=1.0):
        self.n_outputs = int(n_classes)
        self.scale = float(scale)

    def elementwise(self, raw, y):
        log_p = torch.log_softmax(raw, dim=-1)
        return -log_p.gather(-1, y.long().unsqueeze(-1)).squeeze(-1)

    @staticmethod
    def log_proba(raw):
        """``(n, K)`` float64 logits -> log-probabilities, row-wise stable."""
        shifted = raw - raw.max(axis=1, keepdims=True)
        return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))

    @classmethod
    def proba(cls, raw):
        """``(n, K)`` float64 logits -> class probabilities (rows sum to 1)."""
        return np.exp(cls.log_proba(raw))


def output_columns(task_losses):
    """Return each task's first output column and the total number of outputs."""
    widths = [loss.n_outputs for loss in task_losses]
    starts = np.concatenate(([0], np.cumsum(widths)[:-1])).astype(int)
    return starts, int(sum(widths))


class TaskLossCriterion(nn.Module):
    """Element-wise loss of every task: ``(n, n_outputs)``, ``(n, T)`` -> ``(n, T)``.

    Tasks of one kind (equal :meth:`TaskLoss.key`) are evaluated together:
    their output columns are gathered into an ``(n, G, width)`` block, so the
    cost does not grow with a Python loop over tasks. Task ``t``'s losses are
    divided by its loss object's ``scale`` (1 unless a mixed estimator puts
    its tasks on a common scale).

    Parameters
    ----------
    task_losses : sequence of TaskLoss
        One per task, in task order.
    reduction : {"none"}, default="none"
        Only element-wise output is supported (the net reduces per task).
    """

    def __init__(self, task_losses, reduction="none"):
        super().__init__()
        if reduction != "none":
            raise ValueError("TaskLossCriterion returns element-wise losses only.")
        self.task_losses = tuple(task_losses)
        starts, _ = output_columns(self.task_losses)
        groups = {}
        for t, loss in enumerate(self.task_losses):
            groups.setdefault(loss.key(), (loss, []))[1].append(t)
        self._kinds = []
        order = []
        for i, (loss, tasks) in enumerate(groups.values()):
            columns = [starts[t] + k for t in tasks for k in range(loss.n_outputs)]
            self.register_buffer(
                f"columns_{i}", torch.tensor(columns, dtype=torch.long), False
            )
            self.register_buffer(
                f"tasks_{i}", torch.tensor(tasks, dtype=torch.long), False
            )
            self._kinds.append(loss)
            order.extend(tasks)
        inverse = np.argsort(order)
        self._in_order = bool(np.all(inverse == np.arange(len(order))))
        self.register_buffer("inverse", torch.tensor(inverse, dtype=torch.long), False)
        scales = [loss.scale for loss in self.task_losses]
        self._scaled = any(scale != 1.0 for scale in scales)
        inverse_scales = torch.tensor([1.0 / scale for scale in scales])
        self.register_buffer("inverse_scales", inverse_scales, False)

    def forward(self, y_pred, Y):
        """Return the ``(n, T)`` losses; unlabelled cells hold finite values."""
        n, parts = y_pred.shape[0], []
        for i, loss in enumerate(self._kinds):
            columns, tasks = getattr(self, f"columns_{i}"), getattr(self, f"tasks_{i}")
            raw = y_pred.index_select(1, columns).view(n, len(tasks), loss.n_outputs)
            parts.append(loss.elementwise(raw, Y.index_select(1, tasks)))
        out = parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)
        out = out if self._in_order else out.index_select(1, self.inverse)
        return out * self.inverse_scales.to(out.dtype) if self._scaled else out
